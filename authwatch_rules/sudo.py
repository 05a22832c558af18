"""sudo (1.8, 1.9), sudo-rs, OpenDoas and pkexec: who ran what, as whom, and
what was refused.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/sudo.samples,
say what each must give.
"""

from authwatch_rules.grammar import Program, noise, rule
from authwatch_rules.pam import (
    PAM_AUTH_FAILURE,
    PAM_MORE_FAILURES,
    PAM_OTHER_FAILURES,
    PAM_SSS_FAILURE,
)

# fmt: off
# sudo (C, openlog("sudo")) and sudo-rs (no openlog: the program's name, "sudo" when
# installed as sudo, "sudo-rs" side by side).  Neither sets LOG_PID: "sudo:" in files,
# "sudo[pid]:" where rsyslog's imjournal reads the journal (RHEL, Fedora).
SUDO_PROGRAMS = ("sudo", "sudo-rs")

# "%8s : %s": the invoking user, right-aligned in eight columns (sudo); "{} : " (sudo-rs).
# A line with " ; USER=" twice has no sure reading (the directory or the command
# may hold it, and either may come first): only the sudo_unclear rules take it.
SUDO_WHO = r"(?!.* ; USER=.* ; USER=) *(?P<user>[^\s\[(]\S*) : "
SUDO_WHO_UNCLEAR = r"(?=.* ; USER=.* ; USER=) *(?P<user>[^\s\[(]\S*) : "
# HOST= (1.9.4+, Defaults log_host), TTY= (absent from 1.9.4 without a terminal; 1.8 and
# 1.9.0-1.9.3 write TTY=unknown; sudo-rs writes "TTY=/dev/pts/0 ;" or, without one, an
# empty string, hence " :  PWD="), CHROOT= (1.9.3+), then PWD=
SUDO_HEAD = (
    r"(?:HOST=\S+ ; )?(?:TTY=(?:unknown|(?P<tty>\S+)) ; | )?(?:CHROOT=[^;]* ; )?PWD="
)


def sudo_command_after(end):
    """Given the pattern that ends a sudo command ("" for none), return a
    lookahead that captures the command: after the first COMMAND= after the
    first " ; USER=" (see above), read in a lookahead so that it may overlap
    the target's fields.
    """
    return (
        r"(?=(?:(?! ; USER=).)* ; USER=(?:(?!COMMAND=).)*COMMAND=(?P<command>"
        + (r".*?)" + end if end else r".*)") + r"\Z)"
    )


# the target: the last " ; USER=" that the remaining fields follow.  ENV= ends with " ; "
# except in sudo 1.9.13-1.9.13p3 ("ENV=A=1COMMAND=...", fixed by 12648b4e0 in 1.9.14).
SUDO_FIELDS = (
    r".* ; USER=(?P<target>\S+) ; (?:GROUP=[^;]* ; )?(?:TSID=[^;]* ; )?"
    r"(?:ENV=(?:(?! ; USER=).)*?(?: ; )?)?COMMAND=.*"
)
# a problem sudo writes before the fields: never a field, nor a continuation
SUDO_PROBLEM_START = r"(?! ?(?:REMOTE_HOST|TTY|CHROOT|PWD|USER)=| ?\(command continued\) )"

DOAS = ("doas",)
# what follows the command of doas: the target and the directory (see doas_command)
DOAS_AS = r" as \S+ from (?:/|\(failed\)\Z)"
DOAS_TWICE = r"(?:.*?" + DOAS_AS + r"){2}"
PKEXEC = ("pkexec",)
# pkexec.c log_message(): "%s: %s [USER=%s] [TTY=%s] [CWD=%s] [COMMAND=%s]"; the line
# must end in "]" (checked first, so that the CWD's candidates cost nothing more)
PKEXEC_FIELDS = (
    r" \[USER=(?P<target>[^\]\s]+)\] \[TTY=(?:unknown|(?P<tty>[^\]\s]+))\]"
    r"(?=.*\]\Z) \[CWD=.*\] \[COMMAND=(?P<command>.*)\]"
)

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    # do_syslog(): the rest of a line cut at syslog_maxlen, "%8s : (command continued) %s";
    # the first part was reported.  Not when the rest still holds " ; USER=" or
    # "COMMAND=" (a cut before the target or the command, as a long directory makes):
    # then it stays a line not understood, so that target and command are seen.
    noise("noise_sudo_command_continued", SUDO_PROGRAMS,
          r" *[^\s\[(]\S* : \(command continued\) (?!.*(?: ; USER=|COMMAND=))"),
    # sudo-rs syslog.rs: the rest of a message longer than 960 bytes, "[...] " first
    # (v0.2.0 cuts after a blank and appends "[...]"; v0.2.1+ appends " [...]")
    noise("noise_sudo_rs_continued", SUDO_PROGRAMS,
          r"\[\.\.\.\] (?!.*(?: ; USER=|COMMAND=))"),
    # pam_unix_sess.c: "session opened for user %s(uid=%s) by %s(uid=%lu)" (1.4.0+,
    # before "session opened for user %s by %s(uid=%lu)") for doas and pkexec (polkit-1;
    # pkexec opens the session before its first openlog(): no pid unless the journal's)
    noise("noise_doas_session", DOAS,
          r"pam_unix\(doas:session\): session opened for user "),

    # --- sudo, sudo-rs ----------------------------------------------------------------
    # eventlog.c new_logline() EVLOG_EXIT (1.9.8+, Defaults log_exit_status):
    # "... COMMAND=cmd[ ; SIGNAL=%s] ; EXIT=%s".  A second line for one command: the
    # command without its exit, so that both lines read the same.
    rule("sudo_exit", "sudo", SUDO_PROGRAMS,
         SUDO_WHO + SUDO_HEAD + sudo_command_after(r"(?: ; SIGNAL=\w+)? ; EXIT=-?\d+")
         + SUDO_FIELDS),
    # logging.c/eventlog.c new_logline() via log_allowed()/eventlog_accept() (1.8.0-HEAD),
    # and sudo-rs pipeline.rs log_command_execution(): "{} : {} PWD={} ; USER={} ;
    # COMMAND={} {}" (0.2.0-HEAD; a space after the command even without arguments)
    rule("sudo_command", "sudo", SUDO_PROGRAMS,
         SUDO_WHO + SUDO_HEAD + sudo_command_after(r" ?") + SUDO_FIELDS),
    # do_syslog(): a line longer than syslog_maxlen (980) is cut at its last space that
    # fits; when the cut falls before COMMAND= (a long directory: a directory without
    # spaces is cut right after "TTY=pts/0 ;") this first part names only the user.  Its
    # "(command continued)" rest then holds COMMAND=: not noise, no rule (other).
    rule("sudo_command_cut", "sudo", SUDO_PROGRAMS,
         SUDO_WHO + r"(?= ?(?:REMOTE_HOST|TTY|CHROOT|PWD)=)(?:HOST=\S+ ; )?"
         r"(?:TTY=(?:unknown|(?P<tty>[^\s;]+)) ;)?.*"),
    # set_runaspw()/set_runasgr(): "unknown user: %s" (1.8.0-1.9.4 raw, no fields;
    # 1.9.5-1.9.8 with fields), "unknown user %s" (1.9.9+, with fields; USER= is then the
    # name given to -u, and COMMAND= is not yet known)
    rule("sudo_unknown_user", "sudo_failed", SUDO_PROGRAMS,
         SUDO_WHO + r"unknown (?:user:? (?P<target>[^;]*?)|group:? [^;]*?)(?: ; .*)?"),
    # log_denial() "user NOT in sudoers" | "user NOT authorized on host" | "command not
    # allowed" | "setid command rejected in intercept mode" (1.9.15+); log_auth_failure()
    # "%u incorrect password attempt(s)" | "a password is required"; log_warningx()
    # "account validation failure, is your account locked?", "PAM account management
    # error: %s", "no tty", "user not allowed to change directory to %s", ...; with
    # SLOG_USE_ERRNO "message : strerror ; "
    rule("sudo_refused", "sudo_failed", SUDO_PROGRAMS,
         SUDO_WHO + SUDO_PROBLEM_START
         + r"(?:\d+ incorrect password attempts?|(?P<problem>[^;]+?)) ; "
         + SUDO_HEAD + sudo_command_after("") + SUDO_FIELDS),
    # the same problems when the fields are cut or odd (a first part cut by do_syslog()
    # before USER=, a GROUP= or TSID= holding ";", ...): the user and the terminal
    rule("sudo_refused_other", "sudo_failed", SUDO_PROGRAMS,
         SUDO_WHO + SUDO_PROBLEM_START
         + r"(?P<problem>[^;]+?) ; (?:HOST=\S+ ; )?(?:TTY=(?:unknown|(?P<tty>\S+)) ; )?.*"),
    # A line with " ; USER=" twice: new_logline() (logging.c 1.8.0-1.9.3, eventlog.c
    # 1.9.4+) writes PWD= as it is (a directory may be named "/tmp/a ; USER=nobody ;
    # COMMAND=/bin/true"), and so an argument (1.9.13+, 334daf92b, wraps one that holds
    # a blank in single quotes, which still holds " ; USER="): neither the target nor
    # the command is sure.  The user is: do_syslog() writes the invoking user's login
    # name before " : ".  A use when a field comes first, a refusal when a problem does
    # (new_logline() writes the reason before the fields); shown as written.
    rule("sudo_unclear", "sudo", SUDO_PROGRAMS,
         SUDO_WHO_UNCLEAR + r"(?= ?(?:HOST|REMOTE_HOST|TTY|CHROOT|PWD)=)(?s:.*)", unclear=True),
    rule("sudo_unclear_refused", "sudo_failed", SUDO_PROGRAMS,
         SUDO_WHO_UNCLEAR + SUDO_PROBLEM_START + r"[^;]+? ; (?s:.*)", unclear=True),

    # --- OpenDoas (no openlog: ident "doas", no pid) ------------------------------------
    # doas.c: "%s ran command %s as %s from %s" (v0.1-HEAD): user, argv joined by spaces
    # (as typed, LINE_MAX), target's pw_name, getcwd() or "(failed)".  Command and
    # directory are free text, before and after the target: a line with " as X from /"
    # once has a sure reading; twice (an argument "as nobody from /" before the target,
    # or a directory "/tmp/x as nobody from /y" after it), no sure target or command: a
    # use by its user (the first word), shown as written (OpenDoas 6.8.2 writes "mallory
    # ran command /bin/sh -c id as nobody from / as root from /" for a root shell).
    rule("doas_command", "sudo", DOAS,
         r"(?P<user>\S+) ran command (?!" + DOAS_TWICE + r")"
         r"(?=(?P<command>.*)" + DOAS_AS + r").*? as (?P<target>\S+) from (?:/.*|\(failed\))"),
    rule("doas_unclear", "sudo", DOAS,
         r"(?P<user>\S+) ran command (?=" + DOAS_TWICE + r")(?s:.*)", unclear=True),
    # doas.c: "failed command for %s: %s" (v0.1-v6.6.1), "command not permitted for %s:
    # %s" (v6.8-HEAD, 7441dfc)
    rule("doas_not_permitted", "sudo_failed", DOAS,
         r"(?:failed command|command not permitted) for (?P<user>[^\s:]+): (?P<command>.*)"),
    # pam.c pamauth() / shadow.c shadowauth(): "failed auth for %s"; "tty required for %s"
    # (shadow authentication without a terminal)
    rule("doas_failed_auth", "sudo_failed", DOAS,
         r"(?:failed auth|tty required) for (?P<user>\S+)"),
    # pam_unix with PAM service "doas": user= and ruser= are both the invoking user
    rule("doas_pam_failure", "sudo_failed", DOAS, PAM_AUTH_FAILURE, echo=True),

    # --- pkexec (openlog("pkexec", LOG_PID, LOG_AUTHPRIV)) ---------------------------------
    # pkexec.c log_message(LOG_NOTICE, "Executing command") (0.96-127)
    rule("pkexec_command", "sudo", PKEXEC,
         r"(?P<user>[^\s:]+): Executing command" + PKEXEC_FIELDS),
    # "Error executing command as another user: Not authorized" (0.96-), "...: Request
    # dismissed" (0.101-); "The value for the SHELL variable was not found [in ]the
    # /etc/shells file", "The value for environment variable %s contains su(sc|sp)i..."
    # ("in" and "suspicious" from 121)
    rule("pkexec_refused", "sudo_failed", PKEXEC,
         r"(?P<user>[^\s:]+): (?:Error executing command as another user: "
         r"(?:Not authorized|Request dismissed)"
         r"|The value for the SHELL variable was not found (?:in )?the /etc/shells file"
         r"|The value for environment variable \S+ contains (?:suspicious|suscipious) content)"
         + PKEXEC_FIELDS),

    # sudo's PAM failures: echoes of sudo's own "N incorrect password attempts"

    rule("sudo_pam_failure", "sudo_failed", SUDO_PROGRAMS, PAM_AUTH_FAILURE, echo=True),
    rule("sudo_pam_failure", "sudo_failed", SUDO_PROGRAMS, PAM_SSS_FAILURE, echo=True),
    rule("sudo_pam_failure", "sudo_failed", SUDO_PROGRAMS, PAM_MORE_FAILURES, echo=True),
    rule("sudo_pam_failure", "sudo_failed", SUDO_PROGRAMS, PAM_OTHER_FAILURES, echo=True),
)

PROGRAMS = {
    # one process for each attempt; sudo and doas tell their PAM failures
    # again in their own words (sudo-rs never does).  Setuid root where
    # distributions install them: sudo's src/Makefile.in (04755; /usr/bin on
    # Debian, Ubuntu, Fedora, RHEL, Arch, SUSE); sudo-rs (Debian 13, Ubuntu
    # 24.04 and later: /usr/bin/sudo-rs, and sudo and su in
    # /usr/lib/cargo/bin); OpenDoas' doas; polkit's pkexec
    # (meson_post_install.py: 4755)
    "sudo": Program(attempt=True, echoes=True, binaries=("sudo-rs",),
                    setuid=("/usr/bin/sudo", "/bin/sudo")),
    "sudo-rs": Program(attempt=True, binaries=("sudo",),
                       setuid=("/usr/bin/sudo-rs", "/bin/sudo-rs", "/usr/lib/cargo/bin/sudo")),
    "doas": Program(attempt=True, echoes=True, setuid=("/usr/bin/doas", "/bin/doas")),
    "pkexec": Program(attempt=True, setuid=("/usr/bin/pkexec", "/bin/pkexec")),
}
# fmt: on
