"""su, util-linux's (Debian 10+, Ubuntu 20.04+, RHEL 7+, Arch) and shadow's
(Debian 9 and before, Slackware, Alpine): who became whom, and the failures.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/su.samples,
say what each must give.
"""

from authwatch_rules.grammar import Program, noise, rule
from authwatch_rules.pam import (
    PAM_AUTH_FAILURE,
    PAM_MORE_FAILURES,
    PAM_OTHER_FAILURES,
    PAM_SSS_FAILURE,
    SESSION_USER,
)

# fmt: off
SU = ("su",)

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    # shadow's su: its words for a failure that "FAILED su for" repeats
    # (su.c: "pam_authenticate: %s", "pam_acct_mgmt: %s", "pam_chauthtok: %s",
    # "No passwd entry for user '%s'", then su_failure())
    noise("noise_su_pam_echo", SU,
          r"(?:pam_authenticate|pam_acct_mgmt|pam_chauthtok): "),
    noise("noise_su_no_passwd_entry", SU,
          r"No passwd entry for user '"),

    ### su: util-linux (Debian >= 10, Ubuntu >= 20.04, RHEL >= 7, Arch, ...) ###
    # login-utils/su.c log_su() (2.22) and su-common.c log_syslog() (2.23 .. 2.42):
    #   "%s(to %s) %s on %s" with "FAILED SU " for a failure.  facility auth (not
    #   authpriv: on RHEL it goes to /var/log/messages, not /var/log/secure);
    #   tag "su" without pid up to 2.37, "su[pid]" from 2.38 (LOG_PID).
    #   old user "" when getlogin() and getpwuid() fail; tty "none" without one
    #   ("/dev/pts/0" in 2.22, "(null)" in 2.23's inverted test).
    rule("su_failed", "su_failed", SU,
         r"FAILED SU \(to (?P<target>[^\s)]+)\) (?P<user>\S*) on (?P<tty>\S+)"),
    rule("su_success", "su", SU,
         r"\(to (?P<target>[^\s)]+)\) (?P<user>\S*) on (?P<tty>\S+)"),
    ### su: shadow (Debian <= 9, Ubuntu <= 18.04, Slackware, Alpine's shadow-su) ###
    # libmisc/sulog.c, lib/sulog.c sulog() (4.0.14 .. 4.20, always written):
    #   "Successful su for %s by %s" / "FAILED su for %s by %s" (target, caller).
    #   The failed target may be a name that does not exist ("No passwd entry"):
    #   anything; the caller is a passwd name: the last " by ".
    rule("su_shadow_failed", "su_failed", SU,
         r"FAILED su for (?P<target>.*) by (?P<user>\S+)"),
    rule("su_shadow_success", "su", SU,
         r"Successful su for (?P<target>.*) by (?P<user>\S+)"),
    # src/su.c (SYSLOG_SU_ENAB, Debian's default yes) 4.0.10 .. 4.20:
    #   success "+ %s %s:%s", failure su_failure() "- %s %s:%s": tty, caller, target;
    #   tty "pts/0" up to 4.1.4, ttyname(0) "/dev/pts/0" from 4.1.5, "???" without
    #   one; caller/target "???" when empty.  (4.0.3 .. 4.0.9 wrote "%s-%s".)
    rule("su_shadow_sulog_failed", "su_failed", SU,
         r"- (?P<tty>\S+) (?P<user>[^\s:]+):(?P<target>.+)"),
    rule("su_shadow_sulog", "su", SU,
         r"\+ (?P<tty>\S+) (?P<user>[^\s:]+):(?P<target>.+)"),
    # su's PAM session (both su's; on RHEL the only su line in /var/log/secure).
    # "by (uid=0)": no login name (su run by root from a script or a unit):
    # the caller is root, so that the pair "(to nobody) root on none" + this
    # line of the same pid folds into one act (HostSummary.last_act).
    rule("su_pam_session", "su", SU,
         r"pam_unix\((?:su|su-l)(?::session)?\): " + SESSION_USER.format("target")
         + r"(?P<user>[^\s(]+)\(uid=\d+\)"),
    rule("su_pam_session_uid0", "su", SU,
         r"pam_unix\((?:su|su-l)(?::session)?\): " + SESSION_USER.format("target")
         + r"\(uid=0\)", user="root"),
    rule("su_pam_session_nologin", "su", SU,
         r"pam_unix\((?:su|su-l)(?::session)?\): " + SESSION_USER.format("target")
         + r"\(uid=\d+\)"),
    # su's PAM failures: echoes of "FAILED SU"/"FAILED su" (ECHO_RULES).
    # service su/su-l and ruser= (the caller) make classify() swap: user = caller,
    # target = user=.
    rule("su_pam_failure", "su_failed", SU, PAM_AUTH_FAILURE, echo=True),
    rule("su_pam_failure", "su_failed", SU, PAM_SSS_FAILURE, echo=True),
    rule("su_pam_failure", "su_failed", SU, PAM_MORE_FAILURES, echo=True),
    rule("su_pam_failure", "su_failed", SU, PAM_OTHER_FAILURES, echo=True),
)

PROGRAMS = {
    # one process for each attempt, telling its PAM failures again; setuid root
    # (util-linux login-utils/Makemodule.am and shadow src/Makefile.am: 4755,
    # in /bin until /usr was merged; sudo-rs's in /usr/lib/cargo/bin)
    "su": Program(attempt=True, echoes=True,
                  setuid=("/usr/bin/su", "/bin/su", "/usr/lib/cargo/bin/su")),
}
# fmt: on
