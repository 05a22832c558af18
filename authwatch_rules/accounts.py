"""shadow-utils' account tools (4.0 .. 4.20): users and groups made, changed
and removed, passwords set.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/accounts.samples,
say what each must give.
"""

from authwatch_rules.grammar import Program, noise, rule
from authwatch_rules.pam import Q

# fmt: off
# shadow-utils' tools; chgpasswd writes only failures, but they are account matters too
ACCOUNT_PROGRAMS = (
    "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod",
    "passwd", "chpasswd", "chage", "gpasswd", "chsh", "chfn", "newusers", "chgpasswd",
)

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    # shadow-utils writing one change once per file: the line for the whole
    # change always follows ("new group:", "group 'x' removed", the gpasswd
    # line without " in /etc/group"), or the same change in /etc/group precedes
    noise("noise_groupadd_per_file", ("groupadd",),
          r"group added to \S+: name="),
    noise("noise_groupdel_per_file", ("groupdel",),
          r"group '[^']*' removed from \S+$"),
    noise("noise_gpasswd_per_file", ("gpasswd",),
          r".* in \S*/g(?:roup|shadow)$"),
    noise("noise_shadow_group_per_file", ("useradd", "usermod", "userdel"),
          r"(?:(?:add|delete) [`'][^']*' (?:to|from) "
          r"|removed |change [`'][^']*' to [`'][^']*' in )shadow group "),


    ### shadow-utils account tools (LOG_PID, LOG_AUTHPRIV) ###
    # useradd.c: "new user: name=%s, UID=%u, GID=%u, home=%s, shell=%s" (4.1 .. 4.7),
    #   ", from=%s" added in 4.8 (ttyname or "none"); "new group: name=%s, GID=%u"
    #   (useradd's user group, groupadd 4.0 .. 4.20)
    rule("account_new_user", "account", ACCOUNT_PROGRAMS,
         r"new user: name=(?P<user>[^,]*), UID=.*"),
    rule("account_new_group", "account", ACCOUNT_PROGRAMS,
         r"new group: name=(?P<user>[^,]*), GID=\d+"),
    # userdel.c: "delete user '%s'\n" (the newline dropped by the syslog daemon),
    #   "removed group '%s' owned by '%s'\n"; "`%s'" up to 4.1.2
    rule("account_delete_user", "account", ACCOUNT_PROGRAMS,
         r"delete user " + Q + r"(?P<user>[^']*)'\s*"),
    rule("account_group_of_user_removed", "account", ACCOUNT_PROGRAMS,
         r"removed group " + Q + r"[^']*' owned by " + Q + r"(?P<user>[^']*)'\s*"),
    # useradd.c/usermod.c/userdel.c: "add '%s' to group '%s'", "delete '%s' from group '%s'"
    rule("account_group_member", "account", ACCOUNT_PROGRAMS,
         r"(?:add|delete) " + Q + r"(?P<user>[^']*)' (?:to|from) group " + Q + r"[^']*'\s*"),
    # usermod.c (4.0 .. 4.20): "change user name '%s' to '%s'", "change '%s' to '%s' in
    #   group '%s'", "change admin '%s' to '%s' in shadow group '%s'", "lock user '%s'
    #   password", "unlock user '%s' password", "change user '%s' password",
    #   "change user '%s' {UID,GID,home,shell,inactive,expiration} from '%s' to '%s'"
    rule("account_user_renamed", "account", ACCOUNT_PROGRAMS,
         r"change user name " + Q + r"(?P<user>[^']*)' to " + Q + r"[^']*'"),
    rule("account_member_renamed", "account", ACCOUNT_PROGRAMS,
         r"change (?:admin )?" + Q + r"(?P<user>[^']*)' to " + Q + r"[^']*' in (?:shadow )?group "
         + Q + r"[^']*'"),
    rule("account_lock", "account", ACCOUNT_PROGRAMS,
         r"(?:lock|unlock) user " + Q + r"(?P<user>[^']*)' password"),
    rule("account_user_changed", "account", ACCOUNT_PROGRAMS,
         r"change user " + Q + r"(?P<user>[^']*)' .*"),
    # passwd.c: "password for '%s' changed by '%s'" (-l, -u, -d, -e, -n, -x, ... with
    #   PAM; every change without PAM), "password locked for '%s'" (no PAM)
    rule("account_password_by", "account", ACCOUNT_PROGRAMS,
         r"password for " + Q + r"(?P<user>[^']*)' changed by " + Q + r"[^']*'"),
    rule("account_password_locked", "account", ACCOUNT_PROGRAMS,
         r"password locked for " + Q + r"(?P<user>[^']*)'"),
    # passwd.c/lib/pwdcheck.c without PAM: "incorrect password for %s" / "`%s'": a failed
    #   authentication of a local user
    rule("account_incorrect_password", "login_failed", ACCOUNT_PROGRAMS,
         r"incorrect password for `?(?P<user>[^`'\s]+)'?"),
    # chage.c: "changed password expiry for %s"
    rule("account_expiry", "account", ACCOUNT_PROGRAMS,
         r"changed password expiry for (?P<user>.*)"),
    # gpasswd.c 4.1.3 .. 4.20: "user %s added by %s to group %s%s", "user %s removed by
    #   %s from group %s%s" (suffix "" then " in /etc/group": the second is NOISE)
    rule("account_gpasswd_member", "account", ACCOUNT_PROGRAMS,
         r"user (?P<user>\S+) (?:added|removed) by \S+ (?:to|from) group \S+"),
    #   4.0 .. 4.1.2: "add member %s to group %s by %s", "remove member %s from group %s by %s"
    rule("account_gpasswd_member_old", "account", ACCOUNT_PROGRAMS,
         r"(?:add|remove) member (?P<user>\S+) (?:to|from) group \S+ by \S+"),
    #   group-wide (user = the group, as for "new group"): "password of group %s changed
    #   by %s%s", "... removed by %s%s", "access to group %s restricted by %s%s",
    #   "administrators of group %s set by %s to %s%s", "members of group %s set by %s to %s%s"
    rule("account_gpasswd_group", "account", ACCOUNT_PROGRAMS,
         r"(?:password of|access to|administrators of|members of) group (?P<user>\S+)"
         r" (?:changed|removed|restricted|set) by \S+(?: to .*)?"),
    #   4.0 .. 4.1.2: "change the password for group %s by %s", "remove password from group
    #   %s by %s", "restrict access to group %s by %s", "set {administrators,members} of %s to %s"
    rule("account_gpasswd_group_old", "account", ACCOUNT_PROGRAMS,
         r"(?:change the password for|remove password from|restrict access to) group"
         r" (?P<user>\S+) by \S+"),
    rule("account_gpasswd_set_old", "account", ACCOUNT_PROGRAMS,
         r"set (?:administrators|members) of (?P<user>\S+) to .*"),
    # chsh.c "changed user '%s' shell to '%s'", chfn.c "changed user '%s' information"
    rule("account_shell", "account", ACCOUNT_PROGRAMS,
         r"changed user " + Q + r"(?P<user>[^']*)' shell to " + Q + r".*'"),
    rule("account_info", "account", ACCOUNT_PROGRAMS,
         r"changed user " + Q + r"(?P<user>[^']*)' information"),
    # groupdel.c 4.1.3 .. 4.20: "group '%s' removed\n" (after "... removed from %s": NOISE);
    #   4.0 .. 4.1.2: "remove group `%s'\n"
    rule("account_group_deleted", "account", ACCOUNT_PROGRAMS,
         r"group '(?P<user>[^']*)' removed\s*"),
    rule("account_group_deleted_old", "account", ACCOUNT_PROGRAMS,
         r"remove group " + Q + r"(?P<user>[^']*)'\s*"),
    # groupmod.c 4.1.3 .. 4.20: "group changed in %s (%s)", the action "group %s/%lu,
    #   new name: %s" (/etc/group, /etc/passwd) or "group %s, new name: ..." (gshadow);
    #   4.0 .. 4.1.2: "change group `%s' to `%s'", "change GID for `%s' to %u"
    rule("account_group_changed", "account", ACCOUNT_PROGRAMS,
         r"group changed in \S+ \(group (?P<user>[^/,)\s]*)(?:[/,\s][^)]*)?\)"),
    rule("account_group_changed_old", "account", ACCOUNT_PROGRAMS,
         r"change (?:group|GID for) " + Q + r"(?P<user>[^']*)' to .*"),
    # useradd.c: "failed adding user '%s', data deleted" (4.1 .. 4.12), ", exit code: %d" (4.13 ..)
    rule("account_add_failed", "account", ACCOUNT_PROGRAMS,
         r"failed adding user " + Q + r"(?P<user>[^']*)', .*"),
    rule("account_password_helper", "account", ACCOUNT_PROGRAMS + ("unix_update",),
         r"password changed for (?P<user>\S+)"),

    # everything else an account tool writes is an account matter (its PAM
    # failures above are failures: "passwd" asking for the current password)
    rule("account_other", "account", ACCOUNT_PROGRAMS, r".*"),
)

PROGRAMS = {
    # setuid root (shadow's src/Makefile.am: suidubins, 4755; chfn and chsh are
    # util-linux's on Fedora)
    name: Program(setuid=(f"/usr/bin/{name}", f"/bin/{name}"))
    for name in ("passwd", "chsh", "chfn", "gpasswd", "newgrp")
}
# fmt: on
