"""OpenSSH's sshd (4.0 .. 10.5; sshd-session and sshd-auth from 9.8 and 10.3):
logins, failed attempts, invalid users and probes.

Every rule is written from the daemon's own log calls, the source file,
function and versions cited above it; its sample lines, in tests/samples/openssh-*.samples,
say what each must give.
"""

from authwatch_rules.grammar import FROM_IP_PORT, IP, Program, noise, rule
from authwatch_rules.pam import PAM_AUTH_FAILURE, PAM_MORE_FAILURES

# fmt: off
SSHD = ("sshd", "sshd-session", "sshd-auth")
# " [preauth]" (5.9+), or what syslog's %.500s left of it
PREAUTH = r"(?: \[preauth\]| \[(?:p[a-z]{0,6})?)?"
PREAUTH_REQ = r"(?: \[preauth\]| \[(?:p[a-z]{0,6})?)"
ADDR = r"(?:" + IP + r"|UNKNOWN)"  # ssh_remote_ipaddr() is "UNKNOWN" when the peer left
ADDR_PORT = ADDR + r" port (?P<port>\d{1,5})"
ADDR_NC = ADDR.replace("(?P<ip>", "(?:")  # the same, not taken
OPT_PORT = r"(?: port (?P<port>\d{1,5}))?"

# auth.c auth_log(): method[/submethod]; ssh1's auth1.c "without authentication"
METHOD = r"(?P<method>[\w-]+(?:/[\w-]+)?|without authentication)"
# Only publickey, hostbased, gssapi-with-mic and ssh1's rsa/rhosts-rsa record info
# after "sshN: "; a line of those methods with two "sshN: " has no unique reading
# (a fake "... port 1 ssh2: " in the user or in a key ID): KEY_GUARD leaves it
# to *_unparsed.  Then the greedy user gives the last address whose rest is a
# valid end: with other methods (password, none, keyboard-interactive, or any
# name the client sent) that is the address at the very end of the line.
NO_SSHN = r"[^s]*(?:s(?!sh[12]: )[^s]*)*"  # text without "ssh1: "/"ssh2: " (an unrolled loop)
KEY_GUARD = (r"(?!(?:publickey|hostbased|gssapi-with-mic|rsa|rhosts-rsa) "
             + NO_SSHN + r"ssh[12]: " + NO_SSHN + r"ssh[12]: )")
AUTH_USER = r"(?P<user>.*)"
# sshkey_fingerprint(): "SHA256:<base64>" (6.8+), "MD5:<hex>" (FingerprintHash md5,
# 6.8+), bare MD5 hex "12:34:...:ef" (key_fingerprint() 4.x-6.7)
FP = r"(?:SHA256|SHA384|SHA512|SHA1|MD5):[A-Za-z0-9+/=:]+|[0-9a-f]{2}(?::[0-9a-f]{2}){15}"
# what follows "sshN: ": key type and fingerprint first when there is a key
# ("RSA SHA256:..", "RSA-CERT SHA256:.. ID x (serial 1) CA RSA SHA256:..",
# "RSA-CERT ID x (serial 1) CA RSA SHA256:.." 6.8-7.8, ".., client user \"u\",
# client host \"h\""), or GSSAPI's display name, or ssh1's "ruser u"; never
# " port <digit>"
AUTH_INFO = (r"(?:(?P<key_type>[A-Z][A-Z0-9-]*)(?: (?P<fingerprint>" + FP + r"))?(?=[ ,]|$))?"
             r"[^ ]*(?: (?!port \d)[^ ]*)*")  # no " port <digit>" (an unrolled loop)
# auth_log()'s end: " ssh2" / " ssh1" (ssh1 6.3-7.3) then ": info" (6.3+); 4.x-6.2:
# " ssh2", nothing (ssh1) or " ruser %.100s" (ssh1 rhosts-rsa)
AUTH_END = r"(?: ssh[12](?:: " + AUTH_INFO + r")?| ruser \S+)?" + PREAUTH
AUTH_FOR = r" for (?:(?:invalid|illegal) user )?" + AUTH_USER + r" from " + FROM_IP_PORT + AUTH_END

# packet.c sshpkt_fmt_connection_id() (7.5+): "%.200s%s%s port %d" with the log
# preamble "user X" after authentication.  Greedy: the address the daemon wrote
# is the last one.
POSTAUTH_USER = r"(?:user .* )?"
# 9.8+ listener: child->id "connection from %s to %s" (9.8: local address first!)
# or "connection from %s" (not TCP), then child_status (10.0+) / " (early)" (9.8-9.9)
CHILD_ID = r"connection from " + IP + r"(?: to [^\s,]+)?"
CHILD_STATUS = r"(?: \((?:early|sending config|sending keys)\))?"
# sshpkt_fatal()'s tag: a function name, "banner exchange", "server_loop2:
# ssh_packet_write_poll", "send DEBUG" ... always the daemon's own words
FUNCTION_TAG = r"[\w .:/-]{1,80}?"

RULES = (
    # --- noise: lines known to be harmless, dropped before anything else
    # sshd.c: the listener starting, reloading and stopping
    noise("noise_sshd_listener", SSHD,
          r"(?:Server listening on|Received signal \d+; terminating"
          r"|Received SIGHUP; restarting\.$)"),
    # Up to 5.8 the pre-auth child logged under its own pid, without " [preauth]":
    # auth2.c input_userauth_request() "input_userauth_request: invalid user %s"
    # (4.0-7.4, after the monitor's auth.c getpwnamallow() "Invalid user %.100s
    # from %.100s", which counts it), packet.c packet_disconnect() "Disconnecting:
    # Too many authentication failures for %.100s" (after the monitor's "Failed ...")
    noise("noise_sshd_child_echo", SSHD,
          r"(?:input_userauth_request: (?:invalid|illegal) user |Disconnecting: Too many"
          r" authentication failures(?!.* \[preauth\]$))"),
    # auth-shadow.c: error("Could not get shadow information for %.100s") -- for an
    # invalid user sshd checks its fake passwd entry "NOUSER" (without PAM)
    noise("noise_sshd_no_shadow_nouser", SSHD,
          r"error: Could not get shadow information for NOUSER$"),
    # VERBOSE lines of a key that fits (before "Accepted publickey"):
    # auth2-pubkey.c "Found matching %s key: %s" (4.0-6.2), "Found matching %s CA: %s"
    # and "%s certificate %s allowed by trusted %s key %s" (5.4), "Accepted
    # certificate ID \"%s\" [(serial %llu) ]signed by %s CA %s via %s" (5.5+),
    # auth2-pubkey(file).c "Accepted key %s %s found at %s", "Accepted certificate ID
    # \"%s\" (serial %llu) signed by CA %s %s found at %s" (7.7+); auth2-hostbased.c
    # "Accepted %s public key %s from %s@%s", "Accepted certificate ID \"%s\" signed
    # by %s CA %s from %s@%s" (5.6+).  ("Accepted" + a method name is a login: no
    # method is called "key", "certificate" or a key type.)
    noise("noise_sshd_key_found", SSHD,
          r"(?:Found matching [A-Z][A-Z0-9-]* (?:key|CA): "
          r"|[A-Z][A-Z0-9-]* certificate \S+ allowed by trusted "
          r"|Accepted key [A-Z][A-Z0-9-]* \S+ found at |Accepted certificate ID \""
          r"|Accepted [A-Z][A-Z0-9-]* public key \S+ from )"),
    # auth.c auth_root_allowed(): "Root login accepted for forced command." (the
    # login itself is its "Accepted" line)
    noise("noise_sshd_root_forced_command", SSHD,
          r"Root login accepted for forced command\.$"),
    # auth-shadow.c auth_shadow_pwexpired(): "User %.100s password has expired
    # (password aged|root forced)": the login goes on to a forced password change
    noise("noise_sshd_password_expired", SSHD,
          r"User \S+ password has expired \((?:password aged|root forced)\)$"),
    # a key the server does not take (the attempt's end is counted by its own line):
    # auth2-pubkey.c "userauth_pubkey: key type %s not in PubkeyAcceptedKeyTypes"
    # (6.8-8.4), "... PubkeyAcceptedAlgorithms" (8.5+), "userauth_pubkey: signature
    # algorithm %s not in PubkeyAcceptedAlgorithms" (9.0+), "unsupported public key
    # algorithm: %s", "certificate signature algorithm %s: %s"; the same from
    # userauth_hostbased; "Refusing RSA key because client uses unsafe signature
    # scheme" / "... peer uses unsafe signature format" (6.5-9.2); "refusing
    # previously-used %s key" (6.8+, AuthenticationMethods with the same key twice)
    noise("noise_sshd_key_type_refused", SSHD,
          r"(?:userauth_pubkey|userauth_hostbased): (?:key type \S+ not in "
          r"|signature algorithm \S+ not in |unsupported public key algorithm: "
          r"|certificate signature algorithm )"),
    noise("noise_sshd_key_refused_quietly", SSHD,
          r"(?:Refusing RSA key because (?:client|peer) uses unsafe signature "
          r"|refusing previously-used \S+ key)"),
    # session.c / sshd.c after authentication (VERBOSE): "Close session: user %s from
    # %.200s port %d id %d" 7.2+; "Transferred: sent %llu, received %llu bytes" 5.1+;
    # "User child is on pid %ld" 5.1+; "Changed root directory to \"%s\"" 4.9+;
    # logit("subsystem request for %.100s") 4.0-5.5, "... by user %s" 5.6-6.4,
    # "... by user %s failed, subsystem not found" 6.5+
    noise("noise_sshd_session_bookkeeping", SSHD,
          r"(?:Close session: user |Transferred: sent \d+, received \d+ bytes$"
          r"|User child is on pid \d+$|Changed root directory to \"|subsystem request for )"),
    # sshd.c listener, MaxStartups (8.4+): error("beginning MaxStartups throttling"),
    # error("in MaxStartups throttling for %s, %u connections dropped"),
    # logit("exited MaxStartups throttling after %s, %u connections dropped")
    noise("noise_sshd_maxstartups", SSHD,
          r"(?:error: )?(?:beginning MaxStartups throttling$|in MaxStartups throttling"
          r" for |exited MaxStartups throttling after )"),
    # srclimit.c srclimit_penalise() 9.8+ (verbose_f/do_log2_f/logit_f, so
    # "srclimit_penalise: "): the listener's bookkeeping of penalties already counted;
    # show_info() / srclimit_penalty_info() status dumps: "%d active startups",
    # "child %d: fd=%d pid=%ld %s%s", "%zu active %s penalties", "client %s %s (%s)"
    noise("noise_sshd_penalties", SSHD,
          r"(?:srclimit_penalise: |\d+ active startups$|child \d+: fd=-?\d+ pid=-?\d+ "
          r"|\d+ active ipv[46] penalties$|client \S+ penalty: )"),
    # canohost.c 4.0-4.3: "reverse mapping checking getaddrinfo for %.700s failed -
    # POSSIBLE BREAKIN ATTEMPT!" (BREAK-IN 4.3): no address to give
    noise("noise_sshd_reverse_mapping_old", SSHD,
          r"reverse mapping checking getaddrinfo for \S+ failed - POSSIBLE BREAK-?IN"
          r" ATTEMPT!$"),

    # --- authentication
    # ----------------------------------------------------------- auth_log()
    # auth.c auth_log(): "%s %s for %s%.100s from %.200s port %d%s" (4.0-6.1; the
    # last %s " ssh2", "" for ssh1, " ruser %.100s" ssh1 rhosts-rsa), "%s %s%s%s for
    # %s%.100s from %.200s port %d%s" (6.2, submethod), "... port %d %s%s%s" with
    # "ssh2"/"ssh1" and ": " info (6.3-7.3), "... port %d ssh2%s%s" (7.4-10.5).
    # Info: auth2-pubkey.c pubkey_auth_info() 6.3-7.5 "%s %s" / "%s ID %s (serial
    # %llu) CA %s %s"; auth.c format_method_key() 7.6+ (cert fingerprint 7.9+:
    # "%s %s ID %s (serial %llu) CA %s %s"), + ", %s" method info that the monitor
    # records (hostbased "client user \"%.100s\", client host \"%.100s\""; GSSAPI's
    # display name alone).  INFO level for Accepted, for invalid users, for
    # passwords and from MaxAuthTries/2 failures on; VERBOSE otherwise.
    rule("ssh_accepted", "login", SSHD, r"Accepted " + KEY_GUARD + METHOD + AUTH_FOR),
    rule("ssh_failed", "login_failed", SSHD, r"Failed " + KEY_GUARD + METHOD + AUTH_FOR),
    # 6.2+: one method of AuthenticationMethods passed; "Postponed": the key query
    # (PK_OK) or a keyboard-interactive round, from the pre-auth child ([preauth]).
    # Steps of a login, not a login: kind connection (they give the address only)
    rule("ssh_partial", "connection", SSHD, r"Partial " + KEY_GUARD + METHOD + AUTH_FOR),
    rule("ssh_postponed", "connection", SSHD, r"Postponed " + KEY_GUARD + METHOD + AUTH_FOR),
    # no unique reading (a key method's line with a user name or key ID holding
    # "ssh2: " or " port 1"): the kind without user and address
    # (not the VERBOSE "Accepted key ...", "Accepted certificate ID ...", "Accepted
    # RSA public key ..." lines of a key that fits: NOISE has them)
    rule("ssh_accepted_unparsed", "login", SSHD,
         r"Accepted (?!(?:key|certificate) |[A-Z][A-Z0-9-]* public key )"
         r"(?:(?P<method>[\w-]+(?:/[\w-]+)?) for )?(?s:.*)"),
    rule("ssh_failed_unparsed", "login_failed", SSHD,
         r"Failed (?!to )(?:(?P<method>[\w-]+(?:/[\w-]+)?) for )?(?s:.*)"),
    rule("ssh_auth_step_unparsed", "connection", SSHD, r"(?:Partial|Postponed) (?s:.*)"),

    # ------------------------------------------------------- invalid users
    # auth.c getpwnamallow(): "Invalid user %.100s from %.100s" (4.0-7.2),
    # "... from %.100s port %d" (7.3+); OpenSSH 3.x "Illegal user %.100s from %.100s"
    rule("ssh_invalid_user", "invalid_user", SSHD,
         r"(?:Invalid|Illegal) user (?P<user>.*) from " + IP + OPT_PORT + PREAUTH),
    # auth.c getpwnamallow(): "Login name %.100s does not match stored username
    # %.100s" (5.4-7.9): treated as an unknown user
    rule("ssh_login_name_mismatch", "invalid_user", SSHD,
         r"Login name (?P<user>.*) does not match stored username (?s:.*)"),

    # ------------------------------------------------------------------ PAM
    # auth-pam.c sshpam_query() (keyboard-interactive/PAM, 4.0-10.5):
    # error("PAM: %s for %s%.100s from %.100s", pam_strerror(), "illegal user ",
    # user, host) -- host: the client's name with UseDNS yes
    rule("ssh_pam_kbdint_failure", "login_failed", SSHD,
         r"(?:error: )?PAM: (?:Have exhausted maximum number of retries for service"
         r"|[^ ]+(?: (?!for )[^ ]*)*) for (?:illegal user )?(?P<user>.*) from (?P<ip>\S+)"
         + PREAUTH),
    # Linux-PAM pam_unix support.c _unix_verify_password(): "authentication failure;
    # logname=%s uid=%d euid=%d tty=%s ruser=%s rhost=%s %s%s" (unchanged)
    rule("ssh_pam_failure", "login_failed", SSHD, PAM_AUTH_FAILURE),
    # pam_unix support.c _cleanup_failures() at pam_end(): "%d more authentication
    # failure%s; logname=... rhost=%s %s%s", prefixed "PAM" (pam_syslog() with no
    # module) or "pam_unix(sshd:auth):"
    rule("ssh_pam_more_failures", "login_failed", SSHD, PAM_MORE_FAILURES),
    # auth2.c userauth_finish(): fatal("Access denied for user %s by PAM account
    # configuration") 4.0-10.5 (pre-auth child), auth1.c error(...) 4.0-7.3;
    # fatal("Access denied for user %s.") (UNICOS) 4.0-7.6
    rule("ssh_pam_account_denied", "login_failed", SSHD,
         r"(?:fatal|error): Access denied for user (?P<user>.*?)"
         r"(?: by PAM account configuration|\.)" + PREAUTH, ends=True),

    # ------------------------------------------------------ limits, refusals
    # auth.c auth_maxtries_exceeded(): error("maximum authentication attempts
    # exceeded for %s%.100s from %.200s port %d %s") 6.8-7.3 (ssh2/ssh1), "... port
    # %d ssh2" 7.4+; from the pre-auth child
    rule("ssh_max_attempts", "login_failed", SSHD,
         r"error: maximum authentication attempts exceeded for (?:invalid user )?"
         r"(?P<user>.*) from " + FROM_IP_PORT + r" ssh[12]" + PREAUTH),
    # then packet.c ssh_packet_disconnect(): logit("Disconnecting %s: %.100s") with
    # the auth2.c preamble "authenticating user %s"/"invalid user %s" (7.5+; the
    # monitor's copy lacks the space: "authenticatinguser")
    rule("ssh_too_many_failures", "login_failed", SSHD,
         r"Disconnecting (?:authenticating ?|invalid )user (?P<user>.*) " + FROM_IP_PORT
         + r": Too many authentication failures" + PREAUTH, ends=True),
    # packet.c packet_disconnect(): logit("Disconnecting: %.100s") of
    # "Too many authentication failures for %.100s" (auth.h AUTH_FAIL_MSG, 4.0-6.6),
    # "... for %s%.100s from %.200s port %d %s" (6.7), "... failures" (6.8-7.4).
    # The address is never taken: before 6.7 it would be the user's text
    rule("ssh_too_many_failures_bare", "login_failed", SSHD,
         r"Disconnecting: Too many authentication failures(?: for (?:invalid user )?"
         r"(?P<user>.*?)(?: from " + ADDR_NC + r" port \d{1,5} ssh[12])?)?" + PREAUTH_REQ,
         ends=True),
    # auth2.c input_userauth_request(): packet_disconnect("Change of username or
    # service not allowed: (%s,%s) -> (%s,%s)") -- a client that switches user names
    # inside one connection; "Disconnecting: " 4.0-7.4, remote_id 7.5+ (the text is
    # cut at 100 characters, too short to hold a fake address and this text again)
    rule("ssh_change_of_username", "login_failed", SSHD,
         r"Disconnecting (?:authenticating ?|invalid )user (?P<user>.*) " + FROM_IP_PORT
         + r": Change of username or service not allowed: (?s:.*)", ends=True),
    rule("ssh_change_of_username_old", "login_failed", SSHD,
         r"Disconnecting: Change of username or service not allowed: \((?P<user>[^,]*),.*",
         ends=True),
    # auth.c allowed_user() (4.0-10.5): "User %.100s from %.100s not allowed because
    # <reason>" -- the account's name and, with UseDNS yes, the client's host name
    rule("ssh_not_allowed", "login_failed", SSHD,
         r"User (?P<user>.*?) from (?P<ip>\S+) not allowed because (?:not listed in AllowUsers"
         r"|listed in DenyUsers|not in any group|a group is listed in DenyGroups"
         r"|none of user's groups are listed in AllowGroups)" + PREAUTH),
    # auth.c allowed_user(): "User %.100s not allowed because account is locked",
    # "... because shell %.100s does not exist", "... is not executable" (4.0-10.5);
    # session.c do_nologin(): "User %.100s not allowed because %s exists" (after
    # "Accepted": the login is refused by /etc/nologin)
    rule("ssh_not_allowed_local", "login_failed", SSHD,
         r"User (?P<user>.*?) not allowed because (?:account is locked"
         r"|shell \S+ (?:does not exist|is not executable)|\S+ exists)" + PREAUTH),
    # auth.c auth_root_allowed(): "ROOT LOGIN REFUSED FROM %.200s" (4.0-7.2),
    # "... FROM %.200s port %d" (7.3+)
    rule("ssh_root_refused", "login_failed", SSHD,
         r"ROOT LOGIN REFUSED FROM " + IP + OPT_PORT + PREAUTH, user="root"),
    # monitor.c mm_answer_pwnamallow(): "administratively prohibited connection for
    # %s%s from %.128s port %d" (RefuseConnection, 9.9+)
    rule("ssh_refuse_connection", "login_failed", SSHD,
         r"administratively prohibited connection for (?:invalid user )?(?P<user>.*) from "
         + FROM_IP_PORT + PREAUTH),
    # auth-shadow.c auth_shadow_acctexpired(): "Account %.100s has expired" (4.0+,
    # without PAM)
    rule("ssh_account_expired", "login_failed", SSHD,
         r"Account (?P<user>.*) has expired" + PREAUTH),

    # ----------------------------------------------- key and file refusals
    # StrictModes: auth_openfile()/secure_filename()/safe_path_fd():
    # "Authentication refused: %s" with "bad ownership or modes for file %s",
    # "... for directory %s", "%s is not a regular file", "realpath %s failed: %s",
    # "cannot stat file %s: %s" (4.0-10.5); auth.c check_key_in_hostfiles():
    # "Authentication refused for %.100s: bad owner or modes for %.200s" (4.0+);
    # auth-rhosts.c: "Rhosts authentication refused for %.100s: ..." (4.0+).
    # The attempt's key or file is refused: a refused authentication
    rule("ssh_auth_refused", "login_failed", SSHD,
         r"(?:Rhosts a|A)uthentication refused(?: for (?P<user>[^:]*))?: (?s:.*)"),
    # auth.c auth_openkeyfile(): "User %s authorized keys %s is not a regular file"
    # (5.1-5.5), auth_openfile(): "User %s %s %s is not a regular file" (5.6-9.0),
    # auth2-pubkeyfile.c: "User '%s' %s '%s' is not a regular file", "Could not open
    # user '%s' %s '%s': %s" (9.1+); auth-rhosts.c: "User %s hosts file %s is not a
    # regular file" (5.1+)
    rule("ssh_key_file_refused", "login_failed", SSHD,
         r"(?:Could not open user|User) '?(?P<user>[^'\s]*)'? (?:authorized keys"
         r"|authorized principals|hosts file) .*"),
    # auth.c auth_key_is_revoked(): error("Authentication key %s %s revoked by file
    # %s") 6.8+, "WARNING: authentication attempt with a revoked %s key %s " and
    # "Revoked keys file is unreadable: refusing public key authentication"
    # (5.4-6.7), "Error checking authentication key %s %s in revoked keys file %s:
    # %s" (6.8-8.4); check_key_in_hostfiles(): "WARNING: revoked key for %s attempted
    # authentication" (5.7+, %s the client host of hostbased)
    rule("ssh_key_revoked", "login_failed", SSHD,
         r"error: (?:Authentication key (?P<key_type>\S+) (?P<fingerprint>\S+) revoked by file .*"
         r"|WARNING: authentication attempt with a revoked \S+ key .*"
         r"|WARNING: revoked key for .* attempted authentication"
         r"|Revoked keys file is unreadable: refusing public key authentication"
         r"|(?:auth_key_is_revoked: )?Error checking authentication key .*)" + PREAUTH),
    # auth-options.c auth_parse_options(): "Authentication tried for %.100s with
    # correct key but not from a permitted host (host=%.200s, ip=%.200s)." (4.0-7.6),
    # auth.c/auth2-pubkeyfile.c auth_authorise_keyopts(): "%s: ... (host=%.200s,
    # ip=%.200s, required=%.200s)." (7.7+); certificates: "... with valid certificate
    # but not from a permitted host (ip=%.200s)." (5.4-7.6), "%s: ... with valid
    # certificate but not from a permitted source address (%.200s)." (7.7+)
    rule("ssh_key_from_refused", "login_failed", SSHD,
         r"(?:\S+: )?Authentication tried for (?P<user>\S+) with (?:correct key but not from a"
         r" permitted host \(host=[^,]*, |valid certificate but not from a permitted"
         r" (?:host \(|source address \())(?:ip=)?" + IP + r"(?:, required=[^()]*)?\)\."
         + PREAUTH),
    # auth2-pubkey.c user_cert_trusted_ca() / check_authkey_line() (7.7-9.0),
    # auth2-pubkeyfile.c auth_check_authkey_line() (9.1+), auth2-hostbased.c:
    # error("%s", reason) 5.4-10.0, error("%s at %s", reason, file:line) 10.1+ --
    # reasons of sshkey.c sshkey_cert_check_authority() ("Certificate invalid: expired",
    # "... not yet valid", "... name is not a listed principal", "Certificate lacks
    # principal list", ...) and auth2-pubkey*.c ("Certificate does not contain an
    # authorized principal", "Refused by key options" after a from= refusal (7.7+),
    # "Refused by certificate options", "invalid key option string", ...);
    # error("Refusing certificate ID \"%s\" serial=%llu signed by %s CA %s[ via %s]: %s")
    # 10.1+.  The offered key or certificate is refused.
    rule("ssh_key_refused", "login_failed", SSHD,
         r"error: (?:Refusing certificate ID .*|Certificate invalid: .*"
         r"|(?:Certificate (?:lacks principal list|does not contain an authorized principal"
         r"|contains unsupported critical options|signed with disallowed algorithm)"
         r"|Invalid certificate options|Refused by (?:certificate (?:principals )?|key )options"
         r"|invalid key option string|Key is not a certificate)(?: at \S+)?)" + PREAUTH),
    # auth2-pubkey.c userauth_pubkey() / monitor.c mm_answer_keyverify() (8.2+):
    # error("public key %s signature for %s%s from %.128s port %d rejected: user
    # presence (authenticator touch) requirement not met "), "... user verification
    # requirement not met " (8.4+) -- FIDO keys; note the trailing space
    rule("ssh_sk_rejected", "login_failed", SSHD,
         r"error: public key (?P<key_type>\S+) (?P<fingerprint>\S+) signature for"
         r" (?:invalid user )?(?P<user>.*) from " + FROM_IP_PORT + r" rejected: user"
         r" (?:presence \(authenticator touch\)|verification) requirement not met ?"
         + PREAUTH),

    # ----------------------------------------- the end of an attempt (7.5+)
    # packet.c sshpkt_fatal()/sshpkt_vfatal() with the auth2.c preamble
    # ("authenticating user %s" / "invalid user %s", 7.5+; "authenticatinguser"
    # from the monitor): logdie("Connection closed by %s"), "Connection reset by
    # %s", "Connection %s %s timed out" ("from"), and the default
    # "%s%sConnection %s %s" + ": " ssh_err() (7.5-7.9 in the format, 8.0+
    # logdie_r()'s suffix).  Always [preauth].  A key that did not fit writes only this.
    rule("ssh_closed_authenticating", "login_failed", SSHD,
         r"(?:Connection (?:closed|reset) by |(?:[^:\n]{1,200}: ){0,3}Connection from )"
         r"authenticating ?user (?P<user>.*) " + ADDR_PORT + r"(?: timed out|: [^:\[\]]*)?"
         + PREAUTH_REQ, ends=True),
    rule("ssh_closed_invalid", "invalid_user", SSHD,
         r"(?:Connection (?:closed|reset) by |(?:[^:\n]{1,200}: ){0,3}Connection from )"
         r"invalid user (?P<user>.*) " + ADDR_PORT + r"(?: timed out|: [^:\[\]]*)?"
         + PREAUTH_REQ, ends=True),
    # ... logdie("Disconnected from %s") after "Received disconnect" (7.5+)
    rule("ssh_disconnected_authenticating", "login_failed", SSHD,
         r"Disconnected from authenticating ?user (?P<user>.*) " + ADDR_PORT + PREAUTH_REQ,
         ends=True),
    rule("ssh_disconnected_invalid", "invalid_user", SSHD,
         r"Disconnected from invalid user (?P<user>.*) " + ADDR_PORT + PREAUTH_REQ, ends=True),
    # packet.c: "Received disconnect from %s: %u: %.400s" (4.0-7.1; logit up to 6.1,
    # do_log2() 6.2+: "error: " unless reason 11), "Received disconnect from %s port
    # %d:%u: %.400s" (7.2+).  The client ends the attempt saying its authentication
    # failed: reason 14 SSH2_DISCONNECT_NO_MORE_AUTH_METHODS_AVAILABLE (PuTTY "No
    # supported authentication methods available"), or JSch's "Auth fail".  (Other
    # reasons: the probe and connection rules below.)
    rule("ssh_received_disconnect_auth_failed", "login_failed", SSHD,
         r"(?:error: )?Received disconnect from " + ADDR + OPT_PORT
         + r": ?(?:14: .*|\d+: (?:com\.jcraft\.jsch\.JSchException: )?Auth fail\b.*)"),

    # ... any other reason with [preauth] (5.9+): the client left before
    # authenticating (scanners' "11: Bye Bye"): a probe
    rule("ssh_received_disconnect_preauth", "probe", SSHD,
         r"(?:error: )?Received disconnect from " + ADDR + OPT_PORT + r": ?\d+: .*"
         + PREAUTH_REQ, ends=True),

    # --- connections and probes
    # ---------------------------------------------------------------- banner
    # sshd.c sshd_exchange_identification(): logit("Did not receive identification
    # string from %s") 4.0-7.2, "... from %s port %d" 7.3-7.9 (per-connection process)
    rule("ssh_probe_no_ident", "probe", SSHD,
         r"Did not receive identification string from " + ADDR + OPT_PORT, ends=True),
    # sshd.c: "Bad protocol version identification '%.100s' from %s" 4.0-6.4,
    # "... from %s port %d" 6.5-7.9.  The quoted banner is the client's: greedy .*
    rule("ssh_probe_bad_version", "probe", SSHD,
         r"Bad protocol version identification '.*' from " + ADDR + OPT_PORT, ends=True),
    # sshd.c: "Protocol major versions differ for %s: %.200s vs. %.200s" 4.0-7.2,
    # "... for %s port %d: ..." 7.3-7.9
    rule("ssh_probe_major_differ", "probe", SSHD,
         r"Protocol major versions differ for " + ADDR + OPT_PORT + r": .*", ends=True),
    # sshd.c (4.0-7.9) / kex.c kex_exchange_identification() (8.0+): compat.c
    # "Probe-*" and "*SSH_Version_Mapper*": "probed|scanned from %s with %s.  Don't
    # panic." 4.0-7.2, "... from %s port %d with %s.  Don't panic." 7.3+
    rule("ssh_probe_scanner", "probe", SSHD,
         r"(?:probed|scanned) from " + ADDR + OPT_PORT + r" with .*\.  Don't panic\."
         + PREAUTH),
    # sshd.c: "Could not write ident string to %s" 4.0-7.2, "... to %s port %d" 7.3-7.9
    rule("ssh_probe_ident_write", "probe", SSHD,
         r"Could not write ident string to " + ADDR + OPT_PORT, ends=True),
    # kex.c kex_exchange_identification() 8.0+: error("%s: ...", __func__) 8.0-8.4,
    # error_f() 8.5+; 9.5+ verbose_f() (no "error: ") for "Connection closed by remote
    # host", "banner line contains invalid characters", "banner line too long",
    # "client sent invalid protocol identifier \"%.256s\""; "read: %.100s" stays
    # error; 10.3+ in sshd-auth: " [preauth]".  No address: follow_connections()
    # fills it from "Connection closed by ADDR port N" (8.3+) of the same pid.
    rule("ssh_probe_kex", "probe", SSHD,
         r"(?:error: )?kex_exchange_identification: .*"),
    # kex.c 8.0+: error("Bad remote protocol version identification: '%.100s'")
    # kex.c send_error() 8.0+: error_f("write: %.100s") when the client is gone
    # before it is told its banner is wrong: part of a probe (no address)
    rule("ssh_probe_send_error", "probe", SSHD,
         r"(?:error: )?send_error: write: .*" + PREAUTH),
    rule("ssh_probe_bad_remote_version", "probe", SSHD,
         r"(?:error: )?Bad remote protocol version identification: '.*'"),
    # kex.c 8.0+: error("Protocol major versions differ: %d vs. %d")
    rule("ssh_probe_major_mismatch", "probe", SSHD,
         r"(?:error: )?Protocol major versions differ: \d+ vs\. \d+" + PREAUTH),
    # sshd.c (8.3-9.7) / sshd-session.c (9.8-10.2) / sshd-auth.c (10.3+):
    # sshpkt_fatal(ssh, r, "banner exchange") -> packet.c sshpkt_vfatal() default:
    # "%s%sConnection %s %s: %s" (logdie_r 8.5+); " [preauth]" 10.3+
    rule("ssh_probe_banner", "probe", SSHD,
         r"banner exchange: Connection from " + ADDR_PORT + r": .*", ends=True),

    # ------------------------------------------- packet.c: end of a connection
    # packet.c: "Connection closed by %.200s" (4.0-7.1: packet_read_seqnr(),
    # sshpkt_fatal() 6.8+), "... by %.200s port %d" 7.2-7.4, "by %s" remote_id 7.5+;
    # "Connection reset by ..." 6.9+.  " [preauth]" (5.9+): the pre-auth child
    # ended: the attempt never authenticated (user preambles: existing rules)
    rule("ssh_closed_preauth", "probe", SSHD,
         r"Connection (?:closed|reset) by " + ADDR + OPT_PORT + PREAUTH_REQ, ends=True),
    # packet.c sshpkt_fatal() SSH_ERR_DISCONNECTED: "Disconnected from %.200s" (6.8-7.1,
    # dispatch.c in 6.8), "... port %d" 7.2-7.4, "Disconnected from %s" remote_id 7.5+
    rule("ssh_disconnected_preauth", "probe", SSHD,
         r"Disconnected from " + ADDR + OPT_PORT + PREAUTH_REQ, ends=True),
    # packet.c sshpkt_fatal() KEX failures: fatal("Unable to negotiate with %.200s:
    # %s. Their offer: %s") 7.0-7.1, "... with %.200s port %d: ..." 7.2, logdie 7.3+
    # (no "fatal: "), remote_id 7.5+.  Always [preauth] (KEX runs in the child).
    rule("ssh_probe_negotiate", "probe", SSHD,
         r"(?:fatal: )?Unable to negotiate with " + ADDR + OPT_PORT + r": .*", ends=True),
    # kex.c 4.0-6.7 choose_enc()/choose_mac()/choose_comp()/choose_kex()/
    # choose_hostkeyalg(): fatal("no matching cipher found: client %s server %s"),
    # "no matching mac found: ...", "no matching comp found: ...", "no kex alg"
    # (4.0-4.6), "Unable to negotiate a key exchange method" (4.7-6.7), "no hostkey alg"
    rule("ssh_probe_kex_nomatch", "probe", SSHD,
         r"fatal: (?:no matching (?:cipher|mac|comp) found: client .* server .*"
         r"|Unable to negotiate a key exchange method|no kex alg|no hostkey alg"
         r"|bad kex alg .*|unsupported kex alg .*|bad hostkey alg .*)" + PREAUTH, ends=True),
    # packet.c sshpkt_fatal() default: fatal("%s%sConnection to %.200s: %s") 6.8-7.1,
    # fatal("%s%sConnection %s %.200s port %d: %s") 7.2, logdie(...) 7.3+,
    # remote_id with preamble 7.5+; tags: ssh_dispatch_run_fatal, dispatch_protocol_error,
    # packet_write_wait (opacket.c 6.8-7.x), ssh_packet_disconnect, ...
    # The forms with the preamble "authenticating user X" / "invalid user X" are
    # openssh-auth's ssh_closed_authenticating / ssh_closed_invalid.
    rule("ssh_probe_packet_fatal", "probe", SSHD,
         r"(?:fatal: )?" + FUNCTION_TAG + r": Connection (?:from|to) " + ADDR + OPT_PORT + r": .*"
         + PREAUTH_REQ, ends=True),
    # packet.c ssh_packet_disconnect(): logit("Disconnecting: %.100s") 4.0-7.4,
    # logit("Disconnecting %s: %.100s", remote_id, ...) 7.5+ (bare address: before
    # the user preamble; "bad service request %s", "strict KEX violation: ..." 9.6+,
    # "multiple KEXINIT received from peer" 10.4+, "Packet corrupt" 6.2-6.7,
    # "Bad packet length %u." 4.0-6.7 ...).  "Too many authentication failures":
    # and "Change of username or service not allowed": the authentication rules above
    rule("ssh_probe_disconnecting", "probe", SSHD,
         r"Disconnecting(?::| " + ADDR + OPT_PORT + r":)"
         r" (?!Too many authentication failures|Change of username or service not allowed)"
         r".*" + PREAUTH_REQ, ends=True),
    # 4.0-5.8 (no [preauth] yet): the packet_disconnect() reasons only a client
    # that speaks garbage or attacks triggers (packet.c, deattack.c, auth2.c)
    rule("ssh_probe_disconnecting_old", "probe", SSHD,
         r"Disconnecting: (?:Bad packet length \d+\.?|Corrupted MAC on input\."
         r"|Corrupted check bytes on input\.|Corrupted padlen \d+ on input\."
         r"|crc32 compensation attack: network attack detected|Packet corrupt"
         r"|Protocol error: expected packet type \d+, got \d+|bad service request .*"
         r"|Invalid ssh2 packet type: \d+|protocol error: rcvd type \d+"
         r"|IP Spoofing check bytes do not match\."
         r"|Your ssh version is too old and is no longer supported\.  Please install a"
         r" newer version\.)", ends=True),
    # packet.c ssh_packet_read_poll2() 5.2+: logit("Bad packet length %u."),
    # logit("Corrupted MAC on input."), logit("padding error: need %d block %d mod %d")
    # (fatal up to 5.1); no address
    rule("ssh_probe_bad_packet", "probe", SSHD,
         r"(?:fatal: )?(?:Bad packet length \d+\.|Corrupted MAC on input\."
         r"|padding error: need \d+ block \d+ mod \d+)" + PREAUTH),
    # packet.c packet_stop_discard() 5.2+: "Finished discarding for %.200s",
    # "... for %.200s port %d" 7.2+
    rule("ssh_probe_discard", "probe", SSHD,
         r"Finished discarding for " + ADDR + OPT_PORT + PREAUTH, ends=True),
    # kex.c kex_protocol_error(): error("Hm, kex protocol error: type %d seq %u")
    # 4.0-7.1, error("kex protocol error: type %d seq %u") 7.2-9.5
    rule("ssh_probe_kex_protocol", "probe", SSHD,
         r"error: (?:Hm, )?kex protocol error: type \d+ seq \d+" + PREAUTH),
    # dispatch.c dispatch_protocol_error(): logit("dispatch_protocol_error: type %d
    # seq %u") 4.0-10.0; only the pre-auth child's ones are probes
    rule("ssh_probe_dispatch_protocol", "probe", SSHD,
         r"dispatch_protocol_error: type \d+ seq \d+" + PREAUTH_REQ),
    # packet.c 4.0-6.7: fatal("Read from socket failed: %.100s"), fatal("Write
    # failed: %.100s"); with [preauth] (5.9-6.7) the pre-auth child died
    rule("ssh_probe_socket_fatal", "probe", SSHD,
         r"fatal: (?:Read from socket failed|Write failed): .*" + PREAUTH_REQ, ends=True),
    # canohost.c check_ip_options(): logit/fatal("Connection from %.100s with IP
    # options:%.800s") 4.0-7.2; sshd.c/sshd-session.c "Connection from %.100s port
    # %d with IP opts: %.800s" 7.3+ (source-routed packets)
    rule("ssh_probe_ip_options", "probe", SSHD,
         r"(?:fatal: )?Connection from " + ADDR + OPT_PORT + r" with IP (?:options|opts):.*",
         ends=True),
    # login grace time: sshd.c grace_alarm_handler(): fatal("Timeout before
    # authentication for %s") 4.0-4.3, sigdie(...) 4.4-7.2, "... for %s port %d"
    # 7.3-9.7 ("fatal: " from the monitor, no [preauth]); 9.8+ the listener's
    # child_reap(): logit("Timeout before authentication for %s, pid = %ld%s") with
    # child->id "connection from %s to %s" (9.8: local address first, 9.9+: peer
    # first) and " (early)" (9.8-9.9) / child_status (10.0+)
    rule("ssh_probe_timeout", "probe", SSHD,
         r"(?:fatal: )?Timeout before authentication for (?:connection from )?" + ADDR
         + r"(?: port (?P<port>\d{1,5})|(?: to [^\s,]+)?, pid = (?P<connection>\d{1,10})"
         + CHILD_STATUS + r")?" + PREAUTH, ends=True, about_pid=True),
    # sshd.c child_reap() 9.8+: logit("Session process %ld unpriv child crash for
    # %s%s"); do_log2(ERROR for crash signals, "session process %ld for %s killed by
    # signal %d%s"); error("session process %ld for %s terminated abnormally,
    # status=0x%x%s").  A crashed pre-auth process: PerSourcePenalties "crash"
    rule("ssh_probe_child_crash", "probe", SSHD,
         r"Session process (?P<connection>\d{1,10}) unpriv child crash for " + CHILD_ID
         + CHILD_STATUS, ends=True, about_pid=True),
    rule("ssh_probe_child_signal", "probe", SSHD,
         r"(?:error: )?session process (?P<connection>\d{1,10}) for " + CHILD_ID
         + r" (?:killed by signal \d+|terminated abnormally, status=0x[0-9a-f]+)"
         + CHILD_STATUS, ends=True, about_pid=True),
    # sshd.c listener: verbose("drop connection #%d from [%s]:%d on [%s]:%d past
    # MaxStartups") 7.4-8.3, do_log2(INFO first/periodic else VERBOSE, same) 8.4-9.7,
    # "drop connection #%d from [%s]:%d on [%s]:%d %s" with "past Maxstartups" or a
    # PerSourcePenalties reason ("penalty: failed authentication", ...,
    # "too many penalised addresses") 9.8-9.9, "Maxstartups" / reason 10.0+
    # (rate-limited).  Each line is one refused connection.
    rule("ssh_probe_drop", "probe", SSHD,
         r"drop connection #\d+ from \[" + IP + r"\]:(?P<port>\d{1,5}) on \[[^\]]*\]:\d{1,5}"
         r" (?:past MaxStartups|past Maxstartups|Maxstartups|PerSourcePenalties"
         r"|penalty: [\w ]+|too many penalised addresses)", listener=True),
    # sshd.c drop_connection() 10.0+: logit("%s logging rate-limited: additional %u
    # connections dropped") with "Maxstartups" / "PerSourcePenalties"
    rule("ssh_probe_drop_count", "probe", SSHD,
         r"(?:Maxstartups|PerSourcePenalties) logging rate-limited: additional"
         r" (?P<count>\d{1,9}) connections dropped", listener=True),
    # tcp_wrappers refuse() via sshd.c's LIBWRAP hosts_access() check (upstream
    # 4.0-6.6, kept by some distributions): syslog(deny_severity, "refused connect
    # from %s (%s)", eval_client(), eval_hostaddr()) with the IPv6 patch (Debian,
    # FreeBSD), "refused connect from %s" in Venema's original (host or address)
    rule("ssh_probe_tcpwrap", "probe", ("sshd",),
         r"refused connect from \S+ \(" + IP + r"\)", ends=True),
    rule("ssh_probe_tcpwrap_plain", "probe", ("sshd",),
         r"refused connect from (?:[^\s@()]+@)?(?P<ip>[^\s@()]+)", ends=True),
    # ------------------------------------------------------ connection lines
    # (kind connection: they lend the address to the connection's other lines;
    # after the [preauth] rules above, which take the lines of an attempt)
    # They stand here, after the rules of an attempt's end, so that no line of
    # a normal session is left not understood.  packet.c "Received disconnect
    # ..." without [preauth]:
    # after a session ("11: disconnected by user"), or any before 5.9
    rule("ssh_connection_received_disconnect", "connection", SSHD,
         r"(?:error: )?Received disconnect from " + ADDR + OPT_PORT + r": ?\d+: (?s:.*)",
         ends=True),
    # packet.c sshpkt_fatal() "Disconnected from %s" with the "user %s" preamble
    # after authentication (7.5+), "Disconnected from %.200s[ port %d]" 6.9-7.4
    rule("ssh_connection_disconnected", "connection", SSHD,
         r"Disconnected from (?:user (?P<user>.*) )?" + ADDR + OPT_PORT, ends=True),
    # serverloop.c "Connection closed by %.100s[ port %d]" (after a session),
    # packet.c's (4.0-6.7 any, 6.8+ with the "user %s" preamble)
    rule("ssh_connection_closed", "connection", SSHD,
         r"Connection (?:closed|reset) by (?:user (?P<user>.*) )?" + ADDR + OPT_PORT,
         ends=True, alone=("sshd",)),
    # ------------------------------------------------------------ connection
    # (kind "connection": gives its pid the address, then is not reported)
    # sshd.c main(): verbose("Connection from %.500s port %d") 4.0-6.4, "Connection
    # from %s port %d on %s port %d" 6.5-7.6, + " rdomain \"%s\"" 7.7+ (sshd-session 9.8+)
    # session.c do_exec() (VERBOSE): "Starting session: %s%s%s for %s from %.200s
    # port %d" 6.5-7.1, "... id %d" 7.2+: the first line of the post-auth child,
    # whose own pid writes the connection's end
    rule("ssh_connection_session", "connection", SSHD,
         r"Starting session: .* from " + ADDR_PORT + r"(?: id \d+)?"),
    rule("ssh_connection_from", "connection", SSHD,
         r"Connection from " + ADDR_PORT + r"(?: on \S+ port \d{1,5}(?: rdomain \".*\")?)?"),
    # the end of a connection without [preauth]: banner exchange (8.3-10.2, at INFO
    # after a kex_exchange_identification line, or alone 9.5-10.2), serverloop.c
    # after auth (verbose "Connection closed by %.100s" 4.0-7.2, "... port %d" 7.3+,
    # logit 9.8+), packet.c sshpkt_fatal() with the "user X" preamble (7.5+), and
    # the pre-auth child's before 5.9
    # sshpkt_fatal() default without [preauth]: after auth (7.5+ "user X" preamble)
    rule("ssh_connection_packet_fatal", "connection", SSHD,
         r"(?:fatal: )?" + FUNCTION_TAG + r": Connection (?:from|to) " + POSTAUTH_USER + ADDR
         + OPT_PORT
         + r": .*", ends=True),
    # serverloop.c process_input(): verbose("Read error from remote host %.100s:
    # %.100s") 4.0-7.2, "... %.100s port %d: %.100s" 7.3-8.4, "%s port %d: %s" 8.5+,
    # logit 9.8+
    rule("ssh_connection_read_error", "connection", SSHD,
         r"Read error from remote host " + ADDR + OPT_PORT + r": .*", ends=True),
    # serverloop.c client_alive_check(): logit("Timeout, client not responding.")
    # 4.5-7.6, "Timeout, client not responding from %s" remote_id 7.7+
    rule("ssh_connection_client_timeout", "connection", SSHD,
         r"Timeout, client not responding(?:\.| from " + POSTAUTH_USER + ADDR_PORT + r")",
         ends=True),
    # packet.c SSH_ERR_CONN_TIMEOUT (after auth: ClientAlive packet timeout):
    # logit("Connection to %.200s timed out while waiting to read|write") 5.1-6.8,
    # "Connection to %.200s timed out" 6.9-7.1, "Connection %s %.200s port %d timed
    # out" 7.2-7.4, "Connection %s %s timed out" remote_id 7.5+
    rule("ssh_connection_timed_out", "connection", SSHD,
         r"Connection (?:from|to) " + POSTAUTH_USER + ADDR + OPT_PORT
         + r" timed out(?: while waiting to (?:read|write))?", ends=True),
    # sshd.c main(): verbose("Closing connection to %.100s") 4.0-5.0, "... %.500s
    # port %d" 5.1+: the monitor's last line
    rule("ssh_connection_closing", "connection", SSHD,
         r"Closing connection to " + ADDR + OPT_PORT, ends=True),
    # packet.c 4.0-6.7 fatal("Read from socket failed: %.100s") / fatal("Write
    # failed: %.100s") without [preauth]: after auth (5.9-6.7), unknown before 5.9;
    # no address, but it ends the process
    rule("ssh_connection_socket_fatal", "connection", SSHD,
         r"fatal: (?:Read from socket failed|Write failed): .*", ends=True),
    # canohost.c get_remote_hostname() (4.0-7.2), auth.c remote_hostname() (7.3-9.7),
    # packet.c (9.8+), with UseDNS yes:
    # "reverse mapping checking getaddrinfo for %.700s [%s] failed - POSSIBLE
    # BREAK-IN ATTEMPT!" 4.4-7.2, "... [%s] failed." 7.3+;
    # "Address %.100s maps to %.600s, but this does not map back to the address -
    # POSSIBLE BREAKIN ATTEMPT!" 4.0-4.2, "BREAK-IN" 4.3-7.2, "... address." 7.3+;
    # "Nasty PTR record \"%s\" is set up for %s, ignoring" 4.0+.
    # DNS set-up of the client's network, not an attack: the address only.
    rule("ssh_connection_reverse_mapping", "connection", SSHD,
         r"reverse mapping checking getaddrinfo for .* \[" + IP + r"\] failed"
         r"(?: - POSSIBLE BREAK-IN ATTEMPT!|\.)" + PREAUTH),
    rule("ssh_connection_maps_back", "connection", SSHD,
         r"Address " + IP + r" maps to .*, but this does not map back to the address"
         r"(?: - POSSIBLE BREAK-?IN ATTEMPT!|\.)" + PREAUTH),
    rule("ssh_connection_nasty_ptr", "connection", SSHD,
         r"Nasty PTR record \".*\" is set up for " + IP + r", ignoring" + PREAUTH),
    # any other fatal() of the pre-auth child (5.9-7.2 sshpkt/buffer errors on
    # garbage input: "fatal: ssh_dispatch_run_fatal: no matching cipher found"
    # (6.8), "fatal: buffer_get_string_ret: bad string length ..."): keep LAST
    # among the sshd rules
    rule("ssh_probe_preauth_fatal", "probe", SSHD,
         r"fatal: .*" + PREAUTH_REQ, ends=True),
)

PROGRAMS = {
    # one process for each connection; OpenSSH 9.8's listener names the pid of
    # the connection's sshd-session, which writes what sshd-auth (10.3+) says
    "sshd": Program(connection=True, binaries=("sshd-session", "sshd-auth")),
    "sshd-session": Program(connection=True, pids_of="sshd", binaries=("sshd-auth",)),
    "sshd-auth": Program(connection=True, pids_of="sshd", binaries=("sshd-session",)),
}
# fmt: on
