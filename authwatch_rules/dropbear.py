"""dropbear (0.44 .. 2026.94): logins, failed attempts, invalid users and
probes.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/dropbear.samples,
say what each must give.
"""

from authwatch_rules.grammar import Program, noise, rule
from authwatch_rules.pam import PAM_AUTH_FAILURE

# fmt: off
DROPBEAR = ("dropbear",)

# "192.0.2.1:52144", "2001:db8::1:52144" (<= 2026.93), "[2001:db8::1]:52144"
# (>= 2026.94), "fe80::1%br-lan:22", "::ffff:192.0.2.1:22".  Greedy, so an
# unbracketed IPv6 address gives up only its last ":N" to the port.
DB_IP = r"(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]*(?:%[\w.-]+)?)"
DB_ADDR = r"\[?" + DB_IP + r"\]?:(?P<port>\d{1,5})"
# the user of "(user '%s', %u fails)": a passwd name, never client text
DB_FAILS = r"\(user '(?P<user>[^']*)', \d+ fails\)"
# signkey.c sign_key_fingerprint(): "md5 hh:..", "sha1 hh:..", "sha1!! hh:..", "SHA256:..."
DB_FINGERPRINT = r"(?P<fingerprint>(?:md5|sha1(?:!!)?) [0-9a-f:]+|SHA256:[\w+/=]+)"
# exit messages that carried " from %s" up to 2019.78 (svr-auth.c)
DB_OLD_FROM = (
    r"(?:Max auth tries reached - user '[^']*'|[Cc]lient trying multiple usernames"
    r"|Attempted username with a null byte) from " + DB_ADDR
)

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    # svr-main.c: the listener starting (0.44-2026.94)
    noise("noise_dropbear_listener", DROPBEAR,
          r"(?:Running in background|Not backgrounding|Not forking)$"),
    # svr_dropbear_exit() in the listener, stopped by SIGTERM: "premature exit: %s"
    # (0.44-0.52), "Premature exit: %s" (0.53-2013.60), "Early exit: %s" (2013.62-)
    noise("noise_dropbear_terminated", DROPBEAR,
          r"(?:[Pp]remature|Early) exit: Terminated by signal$"),
    # svr-chansession.c, after auth: "user %s executing login shell" (0.49-0.52),
    # "User %s executing login shell" / "User %s executing '%s'" (0.53-2026.94)
    noise("noise_dropbear_executing", DROPBEAR,
          r"[Uu]ser [^\s']+ executing (?:login shell$|')"),
    # svr-authpubkeyoptions.c, authorized_keys options of the key that matched
    noise("noise_dropbear_key_options", DROPBEAR,
          r"(?:(?:Port forwarding|Agent forwarding|X11 forwarding|Pty allocation)"
          r" disabled\.|Restrict option set)$"),
    noise("noise_dropbear_forced_command", DROPBEAR,
          r"(?:Forced command|Command forced to) '"),
    # svr-kex.c with -R: a host key made on the first connection that needs it
    # (2013.62-2026.94): "Generated hostkey %s, fingerprint is %s"
    noise("noise_dropbear_hostkey_generated", DROPBEAR,
          r"Generated hostkey \S+, fingerprint is "),

    # --- connection lifecycle (kind "connection": gives the pid its address) ---
    # svr-main.c main_noinetd()/main_inetd(), in the forked child:
    #   "Child connection from %s" (0.44-0.52, getaddrstring(addr, 1) = "%s:%s"),
    #   "Child connection from %s:%s" (0.53-2026.94), "... from [%s]:%s" for IPv6 (2026.94)
    rule("dropbear_child_connection", "connection", DROPBEAR,
         r"Child connection from " + DB_ADDR),
    # svr-session.c svr_dropbear_exit() after auth: "exit after auth (%s): %s" (0.44-0.52),
    # "Exit (%s): %s" (0.53-2019.78), "Exit (%s)%s: %s" with " from <%s>" (2020.79-2026.94)
    rule("dropbear_exit_after_auth", "connection", DROPBEAR,
         r"(?:Exit|exit after auth) \([^)]*\)(?: from <" + DB_ADDR + r">)?: .*", ends=True),
    # partial success with -t (multiauthmethod), 2022.83-2026.94: the login is
    # reported by the second method's "... auth succeeded" line, or fails later
    rule("dropbear_partial_success", "connection", DROPBEAR,
         r"(?:(?:PAM password|Password) auth succeeded for '.*'|Pubkey auth succeeded for '.*'"
         r" with [\w@.-]+ key SHA256:[\w+/=]+) from " + DB_ADDR + r", extra auth required"),

    # --- logins ---
    # svr-authpasswd.c svr_auth_password(): "password auth succeeded for '%s' from %s"
    # (0.44-0.52), "Password auth succeeded for '%s' from %s" (0.53-2026.94);
    # svr-authpam.c svr_auth_pam(): "PAM password auth succeeded for '%s' from %s" (0.44-2026.94);
    # 0.43 and older: no " from %s"
    rule("dropbear_password_accepted", "login", DROPBEAR,
         r"(?:PAM password|[Pp]assword) auth succeeded for '(?P<user>.*)'"
         r"(?: from " + DB_ADDR + r")?",
         method="password"),
    # svr-authpubkey.c svr_auth_pubkey(): "pubkey auth succeeded for '%s' with key %s from %s"
    # (0.44-0.52), "Pubkey auth succeeded for '%s' with key %s from %s" (0.53-2020.81),
    # "Pubkey auth succeeded for '%s' with %s key %s from %s" (2022.82-2026.94).
    # The key (signkey.c sign_key_fingerprint()): "md5 hh:..:hh" (MD5 HMAC built, the default
    # to 2017.75), "sha1 hh:.." (0.44-2013.60) / "sha1!! hh:.." (2013.62-2020.81; default
    # 2018.76-2020.81), "SHA256:<43 base64>" (2022.82-)
    rule("dropbear_pubkey_accepted", "login", DROPBEAR,
         r"[Pp]ubkey auth succeeded for '(?P<user>.*)' with (?:(?P<key_type>[\w@.-]+) )?key"
         r" " + DB_FINGERPRINT + r"(?: from " + DB_ADDR + r")?",
         method="publickey"),
    # svr-auth.c recv_msg_userauth_request(), 'none' with -B (and OpenWrt's
    # 600-allow-blank-root-password.patch for root): "Auth succeeded with blank password
    # for '%s' from %s" (2013.56-2026.94)
    rule("dropbear_blank_password_accepted", "login", DROPBEAR,
         r"Auth succeeded with blank password for '(?P<user>.*)' from " + DB_ADDR,
         method="none"),

    # --- failed authentication ---
    # svr-authpam.c (2019.77-2026.94): a nonexistent user's PAM attempt
    rule("dropbear_pam_bad_password_invalid", "invalid_user", DROPBEAR,
         r"Bad PAM password attempt for '<invalid username>' from " + DB_ADDR, method="password"),
    # svr-authpasswd.c: "bad password attempt for '%s' from %s" (0.44-0.52), "Bad password
    # attempt ..." (0.53-2026.94), "Too-long password attempt ..." (2019.77-2026.94);
    # svr-authpam.c: "bad PAM password attempt ..." (0.44-0.52), "Bad PAM password attempt
    # for '%s' from %s" (0.53-2026.94); 0.43: no " from %s"
    rule("dropbear_bad_password", "login_failed", DROPBEAR,
         r"(?:[Bb]ad(?: PAM)?|Too-long) password attempt for '(?P<user>.*)'"
         r"(?: from " + DB_ADDR + r")?",
         method="password"),
    # svr-authpubkey.c: "pubkey auth bad signature for '%s' with key %s from %s" (0.44-0.52),
    # "Pubkey auth bad signature ..." (0.53-2026.94)
    rule("dropbear_pubkey_bad_signature", "login_failed", DROPBEAR,
         r"[Pp]ubkey auth bad signature for '(?P<user>.*)' with key"
         r" " + DB_FINGERPRINT + r"(?: from " + DB_ADDR + r")?",
         method="publickey"),
    # svr-authpubkey.c: "pubkey auth attempt with unknown algo for '%s' from %s" (0.44-0.52),
    # "Pubkey auth attempt with unknown algo ..." (0.53-2019.78)
    rule("dropbear_pubkey_unknown_algo", "login_failed", DROPBEAR,
         r"[Pp]ubkey auth attempt with unknown algo for '(?P<user>.*)'(?: from " + DB_ADDR + r")?",
         method="publickey"),
    # svr-authpam.c: pam_authenticate()/pam_acct_mgmt() failing is always followed by
    # "Bad PAM password attempt" (0.44-2026.94; "\n" at the end up to 2013.58)
    rule("dropbear_pam_call_failed", "login_failed", DROPBEAR,
         r"pam_(?:authenticate|acct_mgmt)\(\) failed, rc=\d+, .*", method="password"),
    # pam_unix in the dropbear process: pam_start("sshd", ...), PAM_TTY "ssh", PAM_RHOST
    # svr_ses.remotehost from 2018.76 (empty before)
    rule("dropbear_pam_failure", "login_failed", DROPBEAR, PAM_AUTH_FAILURE),
    # svr-auth.c checkusername(): "user '%s' has invalid shell, rejected" (0.44-0.52),
    # "User '%s' has invalid shell, rejected" (0.53-2026.94); svr-auth.c (<= 0.53.1) and
    # svr-authpasswd.c: "[Uu]ser '%s' has blank password, rejected" (0.44-2026.94);
    # svr-authpasswd.c: "User account '%s' is locked" (2013.59-2026.94)
    rule("dropbear_user_rejected", "login_failed", DROPBEAR,
         r"[Uu]ser '(?P<user>[^']*)' has (?:invalid shell|blank password), rejected"),
    rule("dropbear_account_locked", "login_failed", DROPBEAR,
         r"User account '(?P<user>[^']*)' is locked"),
    # svr-auth.c checkusername() with -w: "root login rejected" (0.44-2026.94)
    rule("dropbear_root_rejected", "login_failed", DROPBEAR,
         r"root login rejected", user="root"),
    # svr-auth.c checkusername() when not running as root: "Login attempt with wrong user
    # %s from %s" (2013.58-2019.78, 2025.87-2026.94), without " from %s" (2020.79-2024.86)
    rule("dropbear_wrong_user", "login_failed", DROPBEAR,
         r"Login attempt with wrong user (?P<user>.*?)(?: from " + DB_ADDR + r")?"),
    # svr-auth.c checkusername() with -G: "Logins are restricted to the group %s but user
    # '%s' is not a member" (2018.76-2026.94)
    rule("dropbear_group_restricted", "login_failed", DROPBEAR,
         r"Logins are restricted to the group \S+ but user '(?P<user>.*)' is not a member"),
    # svr-auth.c checkusername(), a log line up to 2017.75: "client trying multiple usernames
    # from %s" (0.44-0.52), "Client trying multiple usernames from %s" (0.53-2017.75);
    # 0.43: no " from %s"
    rule("dropbear_multiple_usernames", "login_failed", DROPBEAR,
         r"[Cc]lient trying multiple usernames(?: from " + DB_ADDR + r")?"),

    # --- invalid users ---
    # svr-auth.c checkusername(): "login attempt for nonexistent user from %s" (0.44-0.52),
    # "Login attempt for nonexistent user from %s" (0.53-2019.78, 2024.86-2026.94),
    # "Login attempt for nonexistent user" (2020.79-2024.85; also <= 0.43).  The name the
    # client sent is never logged.
    rule("dropbear_nonexistent_user", "invalid_user", DROPBEAR,
         r"[Ll]ogin attempt for nonexistent user(?: from " + DB_ADDR + r")?"),
    # svr-auth.c send_msg_userauth_failure(): dropbear_exit("Max auth tries reached - user
    # '%s' from %s") with userstr "is invalid" (0.44-2019.78), without " from %s"
    # (2020.79-2026.94, where svr_dropbear_exit() puts " from <%s>" first)
    rule("dropbear_max_tries_invalid", "invalid_user", DROPBEAR,
         r"Exit before auth from <" + DB_ADDR + r">: Max auth tries reached - user 'is invalid'",
         ends=True),
    rule("dropbear_max_tries_invalid_old", "invalid_user", DROPBEAR,
         r"[Ee]xit before auth: Max auth tries reached - user 'is invalid' from " + DB_ADDR,
         ends=True),

    # --- the end of a connection that never authenticated ---
    # svr-session.c svr_dropbear_exit() with a user: "exit before auth (user '%s', %d fails):
    # %s" (0.44-0.52), "Exit before auth (user '%s', %d fails): %s" (0.53-2016.72, %u from
    # 2016.73), "Exit before auth from <%s>: (user '%s', %u fails): %s" (2020.79-2026.94)
    rule("dropbear_exit_before_auth_user", "login_failed", DROPBEAR,
         r"Exit before auth from <" + DB_ADDR + r">: " + DB_FAILS + r": .*", ends=True),
    rule("dropbear_exit_before_auth_user_old", "login_failed", DROPBEAR,
         r"[Ee]xit before auth " + DB_FAILS + r": (?:" + DB_OLD_FROM + r"|.*)", ends=True),
    # ... and without one: "exit before auth: %s" (0.44-0.52), "Exit before auth: %s"
    # (0.53-2019.78), "Exit before auth from <%s>: %s" (2020.79-2026.94) -- scanners,
    # banner grabbers, kex failures ("No matching algo %s", "Incompatible remote version
    # '%s'"), "Timeout before auth", "Exited normally" (the client closed), ...
    rule("dropbear_exit_before_auth", "probe", DROPBEAR,
         r"Exit before auth from <" + DB_ADDR + r">: .*", ends=True),
    rule("dropbear_exit_before_auth_old", "probe", DROPBEAR,
         r"[Ee]xit before auth: (?:" + DB_OLD_FROM + r"|.*)", ends=True),
    # before session init, getpeername() failed: the client is already gone
    # (dbutil.c/netio.c get_socket_address() "Failed socket address: %s", 0.53-2026.94;
    # "Premature exit: %s" 0.53-2013.60, "Early exit: %s" 2013.62-2026.94)
    rule("dropbear_early_exit_socket", "probe", DROPBEAR,
         r"(?:Premature|Early) exit: Failed socket address: .*", ends=True),
)

PROGRAMS = {
    "dropbear": Program(connection=True, binaries=("dropbearmulti",)),  # one process a connection
}
# fmt: on
