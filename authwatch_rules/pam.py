"""Linux-PAM (0.75 .. 1.7.2) and SSSD (1.2 .. 2.13): what the PAM modules of any
program write, and the sessions of the services a person logs in through.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/pam.samples,
say what each must give.
"""

from authwatch_rules.grammar import Program, any_of, noise, rule

# fmt: off
# shadow < 4.1.3 opened its quotes with a backtick: "delete user `bob'"
Q = r"[`']"
# a PAM service name as pam_syslog() writes it: "pam_unix(SERVICE:CHOICE): ".
# Linux-PAM < 0.99 logged under the tag "SERVICE(pam_unix)[pid]:", which
# authwatch's header parser turns into program SERVICE and the message
# "pam_unix(SERVICE): ...": so the ":CHOICE" is optional everywhere.
PAM_SERVICE = r"[\w.@-]+"


def pam_prefix(module, choice=r"\w+", service=PAM_SERVICE):
    """The prefix pam_syslog() writes: 'module(service:choice): ' (Linux-PAM
    >= 0.99.1; libpam/pam_syslog.c pam_vsyslog() "%s(%s:%s):"), the choice
    optional for the rewritten Linux-PAM < 0.99 tag."""
    return rf"{module}\({service}(?::{choice})?\): "


# pam_unix support.c _unix_verify_password() (0.75 .. 1.7.2, same words all along):
#   "authentication failure; logname=%s uid=%d euid=%d tty=%s ruser=%s rhost=%s %s%s"
#   with " user=" and the user only when the user is known: so two spaces
#   before user=, or a trailing space.  ruser= is the application's: vsftpd
#   puts the typed user name there, so the address is taken after the LAST
#   " rhost=" (user= itself is a known account name, no spaces).
UNIX_FIELDS = (
    r"logname=\S* uid=\d+ euid=\d+ tty=(?P<tty>\S*) ruser=(?P<ruser>.*) rhost=(?P<ip>\S*)"
    r"(?:\s+user=(?P<user>\S+))?\s*"
)
# pam_sss.c send_and_receive() (SSSD 1.2 .. 2.13): "authentication %s; logname=%s
#   uid=%lu euid=%d tty=%s ruser=%s rhost=%s user=%s": one space, user= always
#   there (maybe empty) and it is the typed name: the address is taken after the
#   FIRST " rhost=" (ruser= is empty for sshd, login, gdm).
SSS_FIELDS = (
    r"logname=\S* uid=\d+ euid=\d+ tty=(?P<tty>\S*) ruser=(?P<ruser>.*?) rhost=(?P<ip>\S*)"
    r" user=(?P<user>.*)"
)
PAM_AUTH_FAILURE = (
    r"pam_unix\((?P<service>" + PAM_SERVICE + r")(?::(?:auth|chauthtok))?\):"
    r" authentication failure; "
    + UNIX_FIELDS
)
PAM_SSS_FAILURE = (
    r"pam_sss\((?P<service>" + PAM_SERVICE + r")(?::(?:auth|chauthtok))?\):"
    r" authentication failure; "
    + SSS_FIELDS
)
# pam_unix support.c _cleanup_failures(), at pam_end() when no module is
# running, hence libpam's "PAM" prefix (0.99 .. 1.7.2); Linux-PAM < 0.99 wrote
# it under the module's tag ("pam_unix(sshd): 2 more ...").
PAM_MORE_FAILURES = (
    r"(?:PAM|pam_unix\(" + PAM_SERVICE + r"(?::auth)?\):)"
    r" (?P<count>\d{1,9}) more authentication failures?; "
    + UNIX_FIELDS
)
# The failure lines of all the other modules, without fields: for the echo
# rules of the programs that log each failure in their own words.
PAM_OTHER_FAILURES = (
    r"(?:"
    + pam_prefix("pam_unix") + r"(?:check pass; user (?:unknown|\(.*\) unknown)"
    r"|account .* has expired \((?:account expired|failed to change password)\))"
    r"|" + pam_prefix("pam_sss")
    + r"(?:received for user|Access denied for user|Authentication failed"
    r" for user) .*: \d+ \([^()]*\)"
    r"|" + pam_prefix("pam_faillock") + r"(?:Consecutive login failures for user .* account"
    r" temporarily locked|User unknown(?:: .*)?)"
    r"|" + pam_prefix("pam_tally2?") + r"user .* \(\d+\) (?:tally \d+, deny \d+|has time limit"
    r" \[\d+s left\] since last failure\.)"
    r"|" + pam_prefix("pam_succeed_if") + r'requirement "[^"]*" not met by user ".*"'
    r"|" + pam_prefix("pam_access") + r"access denied for user `.*' from `[^`']*'"
    r"|" + pam_prefix("pam_securetty") + r"access denied: tty '.*' is not secure !"
    r"|" + pam_prefix("pam_listfile") + r"Refused user .* for service " + PAM_SERVICE
    + r"|" + pam_prefix("pam_wheel") + r"Access denied to '.*' for '.*'"
    r")"
)
# A "from" that is an address or a host name (a dot or two colons in it), not
# a tty ("tty1", "pts/0", ":0", "cron"): pam_access's from, login's FROM.
REMOTE_HOST = (
    r"(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:%\w+)?"
    r"|[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+)"
)

# The PAM services a person logs in through: their pam_unix "session opened"
# is a login (shadow's login writes nothing else for an ordinary user unless
# LOG_OK_LOGINS; gdm, lightdm, sddm, cockpit, xrdp, vsftpd write no line of
# their own in the auth log).  Greeters (gdm-launch-environment,
# lightdm-greeter, sddm-greeter), sshd (its "Accepted" line says more), sudo,
# su (their own rules), cron, atd, systemd-user, polkit-1 (pkexec writes its
# own line) and mail (dovecot: a login per mail client poll) are noise.
LOGIN_SERVICES = (
    "login", "remote",  # util-linux login -h uses "remote"
    "gdm", "gdm-password", "gdm-autologin", "gdm-fingerprint", "gdm-smartcard",
    "kdm", "xdm", "wdm", "lxdm", "slim", "mdm", "greetd",
    "lightdm", "lightdm-autologin", "sddm", "sddm-autologin",
    "cockpit", "xrdp-sesman", "tigervnc",
    "vsftpd", "proftpd", "pure-ftpd", "ftp",
)
NOISE_SESSION_SERVICES = (
    "sshd", "sudo", "sudo-i", "cron", "crond", "atd", "systemd-user", "polkit-1",
    "gdm-launch-environment", "lightdm-greeter", "sddm-greeter", "dovecot",
)



# pam_unix_sess.c pam_sm_open_session():
#   Linux-PAM 0.75 .. 1.3.1: "session opened for user %s by %s(uid=%d)" (%lu from 0.99.8)
#   Linux-PAM 1.4.0 .. 1.7.2: "session opened for user %s(uid=%s) by %s(uid=%lu)"
#   the first uid is "getpwnam error" when the lookup fails; the by-name is
#   getlogin()'s, "" without a login session (cron, su from a script).
SESSION_USER = r"session opened for user (?P<{}>[^\s(]+)(?:\(uid=[^()]*\))? by "

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    noise("noise_pam_limits", None,
          r"pam_limits\("),
    noise("noise_pam_env_deprecated", None,
          r"pam_env\([\w-]+:session\): deprecated reading of user environment"),
    noise("noise_pam_systemd", None,
          r"pam_systemd\("),
    # gnome-keyring's pam/gkr-pam-module.c in a desktop login: "gkr-pam: unlocked login
    # keyring", "gkr-pam: gnome-keyring-daemon started properly[ and unlocked keyring]"
    noise("noise_gkr_pam", None,
          r"gkr-pam: (?:unlocked login keyring|gnome-keyring-daemon started properly)"),
    # pam_unix passverify.c / support.c: "check pass; user unknown" (an unknown user;
    # "Invalid user" and "authentication failure" say it)
    noise("noise_pam_unknown_user_told", ("sshd", "sshd-session", "sshd-auth", "dropbear"),
          r"pam_unix\([\w-]+(?::auth)?\): check pass; user unknown$"),
    # sessions that are no login, or told better elsewhere (see LOGIN_SERVICES);
    # "(?::session)?" for Linux-PAM < 0.99's rewritten tag
    noise("noise_pam_session_no_login", None,
          r"pam_unix\(" + any_of(NOISE_SESSION_SERVICES)
          + r"(?::session)?\): session opened for user "),
    noise("noise_pam_session_closed", None,
          r"pam_unix\(" + PAM_SERVICE + r"(?::session)?\): session closed for user "),
    # unix_chkpwd (the helper of a program that is not root: screen lockers) repeats
    # the failure its caller's pam_unix logs (unix_chkpwd.c, passverify.c 0.99 .. 1.7.2)
    noise("noise_unix_chkpwd_echo", ("unix_chkpwd",),
          r"(?:password check failed for user \(|check pass; user unknown$)"),
    # SSSD's success line (pam_sss.c "authentication success; ..."): the program's
    # own line or its session says it
    noise("noise_pam_sss_success", None,
          r"pam_sss\(" + PAM_SERVICE + r":auth\): authentication success; "),
    # pam_succeed_if's "was met" (gdm-launch-environment's greeter, every time)
    noise("noise_pam_succeed_if_met", None,
          r"pam_succeed_if\(" + PAM_SERVICE
          + r":\w+\): requirement \"[^\"]*\" was met by user \""),
    # no password typed (^C, a client gone): pam_unix_auth.c; support.c converse()
    noise("noise_pam_no_password_typed", None,
          r"pam_unix\(" + PAM_SERVICE
          + r"(?::auth)?\): (?:auth could not identify password for \[|"
          r"conversation failed$)"),
    # support.c _cleanup_failures(), after "N more authentication failures"
    noise("noise_pam_max_retries", None,
          r"PAM service\(" + PAM_SERVICE + r"\) ignoring max retries; "),


    # a password changed: pam_unix passverify.c unix_update_passwd()/unix_update_shadow()
    #   "password changed for %s" (0.75 .. 1.7.2; in the application, or in the
    #   unix_update helper under SELinux), NIS pam_unix_passwd.c "password%s changed for
    #   %s on %s" (" not" when it failed)
    rule("pam_password_changed", "account", None,
         pam_prefix("pam_unix", "chauthtok")
         + r"password(?: not)? changed for (?P<user>\S+)(?: on \S+)?"),
    # authentication failures
    rule("pam_auth_failure", "login_failed", None, PAM_AUTH_FAILURE),
    rule("pam_sss_auth_failure", "login_failed", None, PAM_SSS_FAILURE),
    rule("pam_more_failures", "login_failed", None, PAM_MORE_FAILURES),
    # "check pass; user unknown" (support.c, helper passverify.c), "check pass; user (%s)
    #   unknown" with the audit option: the name may be a password typed as a name
    rule("pam_user_unknown", "invalid_user", None,
         pam_prefix("pam_unix", "auth") + r"check pass; user (?:unknown|\((?P<user>.*)\) unknown)"),
    # pam_unix_auth.c/pam_unix_passwd.c: "bad username [%s]" (a name starting with - or +)
    rule("pam_bad_username", "invalid_user", None,
         pam_prefix("pam_unix") + r"bad username \[(?P<user>.*)\]"),
    # pam_unix_acct.c: "account %s has expired (account expired)", "... (failed to change
    #   password)" (0.75 .. 1.7.2)
    rule("pam_account_expired", "login_failed", None,
         pam_prefix("pam_unix", "account") + r"account (?P<user>.*) has expired"
         r" \((?:account expired|failed to change password)\)"),
    # pam_sss.c: "received for user %s: %d (%s)" after an authentication failure;
    #   10 is PAM_USER_UNKNOWN; "Access denied for user %s: %d (%s)" (account);
    #   "Authentication failed for user %s: %d (%s)" (password change, old one wrong)
    rule("pam_sss_user_unknown", "invalid_user", None,
         pam_prefix("pam_sss", "auth") + r"received for user (?P<user>.*): 10"
         r" \(User not known to the underlying authentication module\)"),
    rule("pam_sss_failure", "login_failed", None,
         pam_prefix("pam_sss")
         + r"(?:received for user|Access denied for user|Authentication failed"
         r" for user) (?P<user>.*): \d+ \([^()]*\)"),
    # pam_faillock.c (Linux-PAM 1.4.0 .. 1.7.2; RHEL 6/7 backports): "Consecutive login
    #   failures for user %s account temporarily locked"; "User unknown" ("User unknown: %s"
    #   with audit) in preauth/authfail
    rule("pam_faillock_locked", "login_failed", None,
         pam_prefix("pam_faillock", "auth") + r"Consecutive login failures for user (?P<user>.*)"
         r" account temporarily locked"),
    rule("pam_faillock_user_unknown", "invalid_user", None,
         pam_prefix("pam_faillock", "auth") + r"User unknown(?:: (?P<user>.*))?"),
    # pam_tally2.c (1.1.0 .. 1.4.0) and pam_tally.c (0.75 .. 1.4.0): "user %s (%lu) tally
    #   %hu, deny %hu", "user %s (%lu) has time limit [%lds left] since last failure."
    #   Linux-PAM < 0.99 tagged pam_tally's own lines "pam_tally[pid]:"
    rule("pam_tally_denied", "login_failed", None,
         r"(?:pam_tally2?\(" + PAM_SERVICE + r"(?::\w+)?\): )?user (?P<user>.*) \(\d+\)"
         r" (?:tally \d+, deny \d+|has time limit \[\d+s left\] since last failure\.)"),
    # pam_succeed_if.c (0.99 .. 1.7.2): 'requirement "%s %s %s" not met by user "%s"'
    #   ("was met" is NOISE)
    rule("pam_succeed_if_not_met", "login_failed", None,
         pam_prefix("pam_succeed_if") + r'requirement "[^"]*" not met by user "(?P<user>.*)"'),
    # pam_access.c (0.75 .. 1.7.2): "access denied for user `%s' from `%s'", from the
    #   rhost, else the tty without /dev/, else the service; 0.7x tag "pam_access[pid]:"
    rule("pam_access_denied", "login_failed", None,
         r"(?:" + pam_prefix("pam_access") + r")?access denied for user `(?P<user>.*)' from `(?:"
         + REMOTE_HOST + r"|(?P<tty>[^`']*))'"),
    # pam_securetty.c (0.75 .. 1.7.2): "access denied: tty '%s' is not secure !" (root,
    #   or a user that does not exist); 0.7x tag "PAM-securetty[pid]:"
    rule("pam_securetty_denied", "login_failed", None,
         r"(?:" + pam_prefix("pam_securetty")
         + r")?access denied: tty '(?P<tty>.*)' is not secure !"),
    # pam_listfile.c: "Refused user %s for service %s" (0.99 .. 1.7.2; 0.7x: prefix
    #   "PAM-listfile: " under the application's tag)
    rule("pam_listfile_refused", "login_failed", None,
         r"(?:" + pam_prefix("pam_listfile")
         + r"|PAM-listfile: )Refused user (?P<user>.*) for service "
         + PAM_SERVICE),
    # logins: a session opened through a service a person logs in through; PAM 1.4.0+
    # writes the user's uid, and uid 0 is root whatever the name
    rule("pam_session_login_uid0", "login", None,
         r"pam_unix\((?P<method>" + any_of(LOGIN_SERVICES) + r")(?::session)?\): "
         r"session opened for user (?P<user>[^\s(]+)\(uid=0\) by [^\s(]*\(uid=\d+\)", uid0=True),
    rule("pam_session_login", "login", None,
         r"pam_unix\((?P<method>" + any_of(LOGIN_SERVICES) + r")(?::session)?\): "
         + SESSION_USER.format("user") + r"[^\s(]*\(uid=\d+\)"),
)

PROGRAMS = {
    **{  # their logins that name no address are at the machine itself
        name: Program(console=True)
        for name in ("gdm-password", "gdm-autologin", "gdm-fingerprint", "lightdm")
    },
    # setuid root: cockpit's src/session/Makefile-session.am (4750; Debian
    # /usr/lib/cockpit, Fedora and RHEL /usr/libexec); polkit's
    # meson_post_install.py (4755; Debian /usr/lib/polkit-1, Fedora /usr/libexec)
    "cockpit-session": Program(
        setuid=("/usr/lib/cockpit/cockpit-session", "/usr/libexec/cockpit-session")
    ),
    "polkit-agent-helper-1": Program(
        setuid=("/usr/lib/polkit-1/polkit-agent-helper-1", "/usr/libexec/polkit-agent-helper-1")
    ),
}
# fmt: on
