"""login, util-linux's (RHEL 7+, Debian 13+, Arch, Fedora) and shadow's (Debian
12 and before, Ubuntu, Slackware, Alpine): logins at a terminal.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/login.samples,
say what each must give.
"""

from authwatch_rules.grammar import Program, noise, rule
from authwatch_rules.pam import (
    PAM_AUTH_FAILURE,
    PAM_MORE_FAILURES,
    PAM_OTHER_FAILURES,
    PAM_SSS_FAILURE,
    REMOTE_HOST,
    Q,
)

# fmt: off
LOGIN = ("login",)

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    # util-linux login: "DIALUP AT %s BY %s" comes just before "LOGIN ON ttyS0 BY ..."
    noise("noise_login_dialup", LOGIN,
          r"DIALUP AT "),


    ### login: util-linux (RHEL >= 7, Debian >= 13, Arch, Fedora) ###
    # login-utils/login.c (2.20 .. 2.42), openlog("login", LOG_ODELAY, LOG_AUTHPRIV):
    #   no pid in a classic syslog file (rsyslog's imjournal adds it on RHEL).
    #   log_syslog(): "ROOT LOGIN ON %s FROM %s", "ROOT LOGIN ON %s",
    #   "LOGIN ON %s BY %s FROM %s", "LOGIN ON %s BY %s" (tty name, pw_name, -h host)
    rule("console_root_login", "login", LOGIN,
         r"ROOT LOGIN ON (?P<tty>\S+)(?: FROM (?P<ip>\S+))?", user="root"),
    rule("console_login", "login", LOGIN,
         r"LOGIN ON (?P<tty>\S+) BY (?P<user>\S+)(?: FROM (?P<ip>\S+))?"),
    # loginpam_auth(): hostname = -h host, else the tty name, else "<unknown>";
    #   user "(unknown)" for PAM_USER_UNKNOWN without LOG_UNKFAIL_ENAB.
    #   "FAILED LOGIN %u FROM %s FOR %s, %s"  (%d up to 2.21; also shadow 4.0.4 .. 4.0.15,
    #   where FROM is the -h host, "" on a console)
    #   "TOO MANY LOGIN TRIES (%u) FROM %s FOR %s, %s", "FAILED LOGIN SESSION FROM %s FOR %s, %s"
    #   pam_strerror() has no ", ": the user is what comes before the last ", ".
    rule("console_login_unknown_util", "invalid_user", LOGIN,
         r"(?:FAILED LOGIN \d+|TOO MANY LOGIN TRIES \(\d+\)|FAILED LOGIN SESSION)"
         r" FROM (?:" + REMOTE_HOST + r"|(?P<tty>\S*)) FOR \(unknown\), [^,]*"),
    rule("console_login_failed_util", "login_failed", LOGIN,
         r"(?:FAILED LOGIN \d+|TOO MANY LOGIN TRIES \(\d+\)|FAILED LOGIN SESSION)"
         r" FROM (?:" + REMOTE_HOST + r"|(?P<tty>\S*)) FOR (?P<user>.*), [^,]*"),
    # DIALUP AT %s BY %s: only before LOGIN ON ttyS* by the same function: NOISE

    ### login: shadow (Debian <= 12, Ubuntu, Slackware, Alpine's shadow-login) ###
    # src/login.c: fromhost = " on '%.100s' from '%.200s'" or " on '%.100s'"
    #   (4.0.16 .. 4.20; "`%.100s'" in 4.0.3): hence two spaces after ROOT LOGIN.
    #   "ROOT LOGIN %s" (4.0 .. 4.20), "'%s' logged in %s" (LOG_OK_LOGINS; "`%s'" < 4.1.3)
    rule("console_root_login_shadow", "login", LOGIN,
         r"ROOT LOGIN  on " + Q + r"(?P<tty>[^']*)'(?: from " + Q + r"(?P<ip>[^']*)')?",
         user="root"),
    rule("console_login_shadow", "login", LOGIN,
         Q + r"(?P<user>.*)' logged in  on " + Q + r"(?P<tty>[^']*)'(?: from " + Q
         + r"(?P<ip>[^']*)')?"),
    # "FAILED LOGIN (%u)%s FOR '%s', %s" and "TOO MANY LOGIN TRIES (%u)%s FOR '%s'"
    #   (4.0.16 .. 4.20, "(%d)" and "`%s'" up to 4.1.2); the user is 'UNKNOWN' when
    #   it does not exist and LOG_UNKFAIL_ENAB is off (Debian's default).
    rule("console_login_unknown", "invalid_user", LOGIN,
         r"(?:FAILED LOGIN|TOO MANY LOGIN TRIES) \(\d+\) on " + Q + r"(?P<tty>[^']*)'"
         r"(?: from " + Q + r"(?P<ip>[^']*)')? FOR " + Q + r"UNKNOWN'(?:, [^,]*)?"),
    rule("console_login_failed", "login_failed", LOGIN,
         r"FAILED LOGIN \(\d+\) on " + Q + r"(?P<tty>[^']*)'(?: from " + Q
         + r"(?P<ip>[^']*)')? FOR " + Q + r"(?P<user>.*)', [^,]*"),
    rule("console_too_many_tries", "login_failed", LOGIN,
         r"TOO MANY LOGIN TRIES \(\d+\) on " + Q + r"(?P<tty>[^']*)'(?: from " + Q
         + r"(?P<ip>[^']*)')? FOR " + Q + r"(?P<user>.*)'"),
    # shadow built without PAM (Slackware, Alpine): src/login.c 4.0 .. 4.20
    #   "ILLEGAL ROOT LOGIN %s", "LOGIN '%s' REFUSED %s", "invalid password for '%s' %s",
    #   "exceeded failure limit for '%s' %s", "REPEATED login failures%s",
    #   "invalid login time for '%s'%s"  (fromhost as above; "`%s'" < 4.1.3)
    rule("console_root_refused", "login_failed", LOGIN,
         r"ILLEGAL ROOT LOGIN  on " + Q + r"(?P<tty>[^']*)'(?: from " + Q + r"(?P<ip>[^']*)')?",
         user="root"),
    rule("console_refused", "login_failed", LOGIN,
         r"(?:LOGIN|invalid password for|exceeded failure limit for|invalid login time for) "
         + Q + r"(?P<user>.*)'(?: REFUSED)?  ?on " + Q + r"(?P<tty>[^']*)'(?: from " + Q
         + r"(?P<ip>[^']*)')?"),
    rule("console_repeated_failures", "login_failed", LOGIN,
         r"REPEATED login failures on " + Q + r"(?P<tty>[^']*)'(?: from " + Q
         + r"(?P<ip>[^']*)')?"),
    # login's own PAM failures: echoes of "FAILED LOGIN ..." that login writes for
    # every failed attempt (both logins); util-linux's login writes no pid, so
    # they could not be folded by process (ECHO_RULES_ADDED).
    rule("login_pam_failure", "login_failed", LOGIN, PAM_AUTH_FAILURE, echo=True),
    rule("login_pam_failure", "login_failed", LOGIN, PAM_SSS_FAILURE, echo=True),
    rule("login_pam_failure", "login_failed", LOGIN, PAM_MORE_FAILURES, echo=True),
    rule("login_pam_failure", "login_failed", LOGIN, PAM_OTHER_FAILURES, echo=True),
)

PROGRAMS = {
    # one process for each attempt, telling its PAM failures again; a login
    # that names no address is at the machine itself
    "login": Program(attempt=True, echoes=True, console=True),
}
# fmt: on
