"""The system's own bookkeeping of sessions: cron, runuser, systemd-logind,
polkitd.  Noise only: the login or command is told by the program it runs.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/system.samples,
say what each must give.
"""

from authwatch_rules.grammar import noise

# fmt: off
RULES = (
    # the magazine article's cron sessions, and the PAM bookkeeping of every session
    noise("noise_cron", ("CRON",),
          r""),
    # systemd-logind's sessions: the login itself is told by the program it runs
    noise("noise_logind_sessions", ("systemd-logind",),
          r"(?:New session|Removed session|Session \w+ logged out)"),
    noise("noise_logind_seats", ("systemd-logind",),
          r"(?:New seat|Watching system buttons|System is (?:powering down|rebooting|halting))"),
    # polkitd (authpriv on RHEL) about itself: polkitbackendinteractiveauthority.c
    # "Registered Authentication Agent for %s (...)", "Unregistered Authentication
    # Agent for %s (...)", polkitbackendjsauthority.c "Loading rules from directory
    # %s", "Finished loading, compiling and executing %d rules", polkitd main.c
    # "Acquired the name %s on the system bus", "Started polkitd version %s"
    noise("noise_polkitd", ("polkitd",),
          r"(?:Registered Authentication Agent for |Unregistered Authentication Agent for "
          r"|Loading rules from directory |Finished loading, compiling and executing \d+ rules"
          r"|Acquired the name \S+ on the system bus|Started polkitd version )"),
    # runuser (root running a command as another user) is never reported
    noise("noise_runuser", ("runuser",),
          r""),
)
# fmt: on
