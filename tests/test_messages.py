"""Building messages from events (pure, so tested with events made here from
real log lines): what each run sends, how storms are folded, allow-listed
logins, Pushover's limits and attacker text."""

import datetime
import ipaddress
import unicodedata

import pytest
from helpers import NOW, accepted, append, cron_run, sent_forms

import authwatch

ALERTS = authwatch.Alerts(priorities=dict(authwatch.DEFAULT_PRIORITIES))
LOGIN = accepted(time="10:00:00", pid=20)


def events(*lines):
    """Return the Events of raw log lines, noise dropped as in a run."""
    records = [authwatch.parse_line(line, NOW) for line in lines]
    return list(authwatch.events_of(records))


def plan(*lines, notices=(), **alerts):
    alerts = ALERTS._replace(**alerts)
    summaries = authwatch.summarise(events(*lines), "localhost", alerts.allow)
    return authwatch.plan_messages(summaries, notices, "localhost", alerts)


def failure(pid, ip="198.51.100.7", user="root"):
    return f"Nov 27 10:00:05 web1 sshd[{pid}]: Failed password for {user} from {ip} port 5000 ssh2"


def sudo_line(command, second=0, minute=0):
    """Return sudo's line of alice running command as root on web1."""
    return (
        f"Nov 27 10:{minute:02}:{second:02} web1 sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ;"
        f" COMMAND={command}"
    )


def test_a_login_gets_a_message_of_its_own_at_priority_1():
    [message] = plan(LOGIN)
    assert message == authwatch.Message(
        host="web1",
        title="web1: SSH login awtest from 203.0.113.9",
        body=(
            "Method: publickey\n"
            "Key: ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk\n"
            "From: 203.0.113.9 port 52144\n"
            "Time: 2026-11-27 10:00:00 +0000"
        ),
        priority=1,
        timestamp=int(
            datetime.datetime(2026, 11, 27, 10, tzinfo=datetime.timezone.utc).timestamp()
        ),
        logins=(("awtest", "203.0.113.9", 1),),
    )


def test_one_connection_is_one_failed_login_however_many_lines_it_writes():
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd[10]: Invalid user admin from 203.0.113.5 port 4000",
        "Nov 27 10:00:01 web1 sshd[10]: pam_unix(sshd:auth): authentication failure;"
        " logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5",
        "Nov 27 10:00:02 web1 sshd[10]: Failed password for invalid user admin"
        " from 203.0.113.5 port 4000 ssh2",
        "Nov 27 10:00:03 web1 sshd[10]: Failed password for invalid user admin"
        " from 203.0.113.5 port 4000 ssh2",
        failure(11),
        failure(12),
    )
    assert message.title == "web1: 3 failed logins from 2 addresses"
    assert message.body == (
        "3 failed logins (1 invalid user) from 2 addresses\n"
        "IPs: 198.51.100.7 ×2, 203.0.113.5 ×1\n"
        "Users: root ×2, admin ×1"
    )
    assert message.priority == -1
    assert message.timestamp == int(datetime.datetime(2026, 11, 27, 10, 0, 5).timestamp())


def test_a_storm_costs_at_most_max_messages_and_the_login_stands_out():
    storm = [failure(1000 + n, ip=f"198.51.{n % 250}.{n % 7}") for n in range(5000)]
    sudo = [sudo_line("/bin/ls", n, minute=1) for n in range(30)]
    messages = plan(*storm[:2500], LOGIN, *storm[2500:], *sudo)
    assert [(m.title, m.priority) for m in messages] == [
        ("web1: SSH login awtest from 203.0.113.9", 1),
        ("web1: 30 sudo/su uses", 0),
        ("web1: 5000 failed logins from 1750 addresses", -1),
    ]
    assert messages[1].body == "sudo: alice as root: /bin/ls ×30"


def test_what_does_not_fit_the_budget_is_folded_into_the_last_message():
    logins = [accepted(f"user{n}", pid=n, time="10:00:00") for n in range(7)]
    messages = plan(*logins, failure(99), max_messages=3)
    assert len(messages) == 3
    assert [m.title for m in messages[:2]] == [
        "web1: SSH login user0 from 203.0.113.9",
        "web1: SSH login user1 from 203.0.113.9",
    ]
    last = messages[2]
    assert last.title == "web1: SSH login user2 from 203.0.113.9 … and 5 more"
    assert last.priority == 1
    assert "▶ web1: SSH login user6 from 203.0.113.9" in last.body
    assert len(last.body) <= authwatch.MAX_MESSAGE
    assert last.body.splitlines()[-1].startswith("… and ")  # the digest did not fit: said so


def test_allow_listed_logins_are_known_and_quiet():
    allow = authwatch.Allow(
        networks=(ipaddress.ip_network("203.0.113.0/24"),), users=frozenset({"awtest"})
    )
    [message] = plan(LOGIN, allow=allow)
    assert message.title == "web1: 1 known login"
    assert message.body == "Known login: awtest from 203.0.113.9 (publickey)"
    assert message.priority == -1
    assert plan(LOGIN, allow=allow, known_priority=None) == []


def test_every_allow_list_that_is_set_must_match():
    def known(**lists):
        return authwatch.is_known(events(LOGIN)[0], authwatch.Allow(**lists))

    net = (ipaddress.ip_network("203.0.113.0/24"),)
    other_net = (ipaddress.ip_network("10.0.0.0/8"),)
    key = frozenset({"SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"})
    assert known(networks=net) and known(keys=key) and known(users=frozenset({"awtest"}))
    assert known(networks=net, users=frozenset({"awtest"}), keys=key)
    assert not known(networks=other_net, keys=key)  # a stolen key from elsewhere still alerts
    assert not known(networks=net, users=frozenset({"root"}))
    assert not known()


def test_a_known_login_never_raises_a_message_to_normal_priority():
    allow = authwatch.Allow(users=frozenset({"awtest"}))
    [message] = plan(LOGIN, failure(5), allow=allow)
    assert message.priority == -1
    assert message.title == "web1: 1 failed login from 1 address, 1 known login"


def test_failures_below_the_threshold_are_not_sent():
    assert plan(failure(1), failure(2), failure_threshold=3) == []
    [message] = plan(failure(1), failure(2), failure(3), failure_threshold=3)
    assert message.title == "web1: 3 failed logins from 1 address"


def test_priorities_are_configurable_per_kind():
    priorities = dict(authwatch.DEFAULT_PRIORITIES, sudo_failed=1, probe=0)
    messages = plan(
        "Nov 27 10:00:00 web1 sudo: bob : 3 incorrect password attempts ; TTY=pts/1 ; PWD=/ ;"
        " USER=root ; COMMAND=/bin/sh",
        "Nov 27 10:00:01 web1 sshd[9]: Did not receive identification string from 192.0.2.5 port 1",
        priorities=priorities,
    )
    assert [(m.title, m.priority) for m in messages] == [
        ("web1: 1 sudo/su use (1 failed)", 1),
        ("web1: 1 failed login from 1 address", 0),
    ]
    assert messages[0].body == "sudo FAILED: bob as root: /bin/sh"


def test_each_host_gets_its_own_messages():
    first, second = plan(
        "2026-11-27T10:00:00+00:00 web1 sudo:    bob : TTY=pts/1 ; PWD=/ ; USER=root ;"
        " COMMAND=/bin/id",
        "2026-11-27T10:00:01+00:00 db2 sshd-session[7]: Accepted password for carol"
        " from 2001:db8::7 port 61000 ssh2",
    )
    assert (first.title, first.priority) == ("db2: SSH login carol from 2001:db8::7", 1)
    assert first.body.startswith("Method: password\nFrom: 2001:db8::7 port 61000\n")
    assert (second.title, second.body) == ("web1: 1 sudo/su use", "sudo: bob as root: /bin/id")


def test_a_console_login_says_where():
    [message] = plan("Nov 27 10:00:00 web1 login[733]: ROOT LOGIN  on 'tty1'")
    assert message.title == "web1: login root on tty1"


def test_a_login_on_a_terminal_named_console_is_not_one_on_no_named_terminal():
    on_console, unnamed = plan(
        "Nov 26 08:01:10 web1 login[500]: ROOT LOGIN  on 'console'",
        "Nov 26 08:01:11 web1 login[501]: ROOT LOGIN  on ''",
    )
    assert on_console.title == "web1: login root on console"
    assert unnamed.title == "web1: login root on the console"


def test_an_address_with_a_zone_is_matched_by_the_allowlist_without_it():
    allow = authwatch.Allow(networks=(ipaddress.ip_network("10.0.0.0/8"),))
    line = "Nov 26 08:02:10 web1 login[502]: ROOT LOGIN ON tty1 FROM 10.1.2.3%eth0"
    [message] = plan(line, allow=allow)
    assert (message.title, message.priority) == ("web1: 1 known login", -1)


def test_lines_without_a_host_are_the_local_hosts():
    [message] = plan("su[99]: FAILED SU (to root) mallory on pts/3")
    assert message.title == "localhost: 1 sudo/su use (1 failed)"
    assert message.body == "su FAILED: mallory as root"
    assert message.timestamp is None


def test_attacker_text_is_shown_inert():
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd[10]: Invalid user <b>x\x1b[31m\u202e from 203.0.113.5 port 4000",
    )
    assert message.body.endswith("Users: <b>x\ufffd[31m\ufffd ×1")
    assert "\x1b" not in message.body and "\u202e" not in message.body


def test_lines_not_understood_are_listed_raw_and_shortened():
    long_line = "Nov 27 10:00:01 web1 sshd[11]: something else " + "z" * 500
    [message] = plan("Nov 27 10:00:00 web1 sshd[10]: something sshd never said before", long_line)
    assert message.title == "web1: 2 other lines"
    first, second = message.body.splitlines()
    assert first == "Other: sshd: something sshd never said before"
    assert second.startswith("Other: sshd: something else zzz")
    assert len(second) == authwatch.MAX_LINE_LENGTH and second.endswith("…")


def test_a_long_message_keeps_whole_lines_and_says_what_was_cut():
    commands = [sudo_line(f"/usr/bin/echo {'x' * 40} {n}", n) for n in range(40)]
    [message] = plan(*commands)
    assert len(message.body) <= authwatch.MAX_MESSAGE
    first, *kept, last = message.body.splitlines()
    assert first == "sudo alice as root ×40"  # the vital act, before the detail that is cut
    assert last == f"… and {40 - len(kept)} more lines"
    assert kept == [f"sudo: alice as root: /usr/bin/echo {'x' * 40} {n}" for n in range(len(kept))]


def test_a_long_title_is_cut_to_pushovers_limit():
    [message] = plan(f"Nov 27 10:00:00 {'h' * 300} su[50]: (to root) alice on pts/0")
    assert len(message.title) == authwatch.MAX_TITLE
    assert message.title.endswith("…")


def test_a_single_huge_line_is_cut_too():
    [message] = plan(sudo_line("/bin/echo " + "A" * 5000))
    assert len(message.body) == authwatch.MAX_LINE_LENGTH
    assert message.body.endswith("…")


def test_one_long_line_does_not_crowd_out_the_others():
    [message] = plan(sudo_line("/bin/echo " + "A" * 1500), sudo_line("/bin/ls", 1))
    first, second = message.body.splitlines()
    assert len(first) == authwatch.MAX_LINE_LENGTH
    assert second == "sudo: alice as root: /bin/ls"


def test_folding_again_keeps_every_title_and_count():
    logins = [accepted(f"user{n}", pid=n, time="10:00:00") for n in range(9)]
    [first] = plan(*logins[:3], max_messages=1)
    [second] = plan(*logins[3:6], max_messages=1)
    third = authwatch.fold_messages([first, second] + plan(*logins[6:], max_messages=9), 1)
    [merged] = third
    assert merged.folded == 8
    assert merged.title == "web1: SSH login user0 from 203.0.113.9 … and 8 more"
    assert merged.parts == tuple(f"web1: SSH login user{n} from 203.0.113.9" for n in range(9))
    body = merged.body.splitlines()
    assert body[0] == (
        "9 logins from 9 users and 1 place:"
        " user0, user1, user2, user3, user4, user5, user6, user7, user8"
    )
    assert body[1:10] == [f"▶ {title}" for title in merged.parts]


def test_failure_memory_is_bounded_in_a_storm():
    summary = authwatch.HostSummary("web1")
    [template] = events(failure(1))
    for pid in range(20000):
        summary.add(template._replace(pid=pid, connection=pid))
    assert summary.counts["login_failed"] == 20000
    assert summary.failure_ips == {"198.51.100.7": 20000}
    assert len(summary.connections) == authwatch.RECENT_CONNECTIONS


def test_more_logins_than_a_run_keeps_are_counted_not_dropped(monkeypatch):
    monkeypatch.setattr(authwatch, "KEPT_LOGINS", 200)
    logins = [accepted(f"user{n}", pid=n, time="10:00:00") for n in range(205)]
    [summary] = authwatch.summarise(events(*logins), "localhost").values()
    messages = authwatch.host_messages(summary, ALERTS)
    assert len(messages) == 200 + 1
    assert messages[-1].title == "web1: 5 more logins"
    assert (messages[-1].body, messages[-1].priority) == ("… and 5 more logins", 1)
    [folded] = plan(*logins, max_messages=1)
    assert folded.title == f"web1: SSH login user0 from 203.0.113.9 … and {len(messages) - 1} more"


def test_a_flood_of_one_login_cannot_push_out_another():
    # any local user can write the forged ones with logger -t sshd
    forged = [
        f"Nov 27 10:00:00 web1 sshd[{5000 + n}]: Accepted password for deploy from 10.0.0.1"
        " port 22 ssh2"
        for n in range(30)
    ]
    real = (
        "Nov 27 10:00:30 web1 sshd[6000]: Accepted publickey for root from 203.0.113.66 port 4000"
        " ssh2: ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"
    )
    titles = [message.title for message in plan(*forged, real, max_messages=2)]
    assert titles == [
        "web1: SSH login root from 203.0.113.66",
        "web1: SSH login deploy from 10.0.0.1 ×30",
    ]


def test_notices_lead_the_first_message_or_make_their_own():
    first, *_ = plan(LOGIN, failure(3), notices=["entries may be missing"])
    assert first.body.startswith("Note: entries may be missing\nMethod: publickey")
    [alone] = plan(notices=["entries may be missing"])
    assert alone == authwatch.Message(
        "localhost", "localhost: authwatch notice", "Note: entries may be missing", 0, None
    )


def test_different_acts_of_one_process_are_all_kept():
    [message] = plan(
        "Nov 27 10:00:00 web1 usermod[900]: change user 'bob' password",
        "Nov 27 10:00:00 web1 usermod[900]: add 'bob' to group 'sudo'",
    )
    assert message.body == "usermod: change user 'bob' password\nusermod: add 'bob' to group 'sudo'"


def test_a_stranger_among_hundreds_of_known_logins_still_rings():
    allow = authwatch.Allow(users=frozenset({"deploy"}))
    known = [accepted("deploy", pid=n, time="10:00:00") for n in range(250)]
    messages = plan(*known, LOGIN, allow=allow)
    assert [(m.title, m.priority) for m in messages] == [
        ("web1: SSH login awtest from 203.0.113.9", 1),
        ("web1: 250 known logins", -1),
    ]
    assert messages[1].body == "Known login: deploy from 203.0.113.9 (publickey) ×250"


def test_a_connection_that_only_closes_before_authentication_is_counted_once():
    [message] = plan(
        failure(31),
        "Nov 27 10:00:06 web1 sshd[31]: Connection closed by authenticating user root"
        " 198.51.100.7 port 5000 [preauth]",
        "Nov 27 10:00:07 web1 sshd[32]: Connection closed by authenticating user root"
        " 198.51.100.8 port 5001 [preauth]",  # keys only: nothing else is logged
    )
    assert message.title == "web1: 2 failed logins from 2 addresses"


### connections: one attempt each, with its address ##########################


def test_a_bare_connection_probe_is_counted_with_its_address():
    # OpenSSH 8.3-9.4: the kex line names no address; the same process's next one does
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd[40]: error: kex_exchange_identification:"
        " Connection closed by remote host",
        "Nov 27 10:00:00 web1 sshd[40]: Connection closed by 192.0.2.40 port 40000",
        "Nov 27 10:00:01 web1 sshd[41]: Connection closed by 192.0.2.41 port 40001 [preauth]",
    )
    assert message.title == "web1: 2 failed logins from 2 addresses"
    assert "IPs: 192.0.2.40 ×1, 192.0.2.41 ×1" in message.body


def test_a_key_that_did_not_fit_is_a_failed_login_not_a_probe():
    # OpenSSH 7.5+: the client's disconnect comes before sshd's own last word
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd[42]: Received disconnect from 192.0.2.42 port 40002:11:"
        " Bye Bye [preauth]",
        "Nov 27 10:00:00 web1 sshd[42]: Disconnected from authenticating user root"
        " 192.0.2.42 port 40002 [preauth]",
    )
    assert message.body.splitlines()[:3] == [
        "1 failed login from 1 address",
        "IPs: 192.0.2.42 ×1",
        "Users: root ×1",
    ]


def test_an_invalid_user_stays_one_whatever_its_connection_says_after():
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd[43]: Invalid user admin from 192.0.2.43 port 40003",
        "Nov 27 10:00:01 web1 sshd[43]: Failed password for invalid user admin"
        " from 192.0.2.43 port 40003 ssh2",
        "Nov 27 10:00:02 web1 sshd[43]: Connection closed by invalid user admin"
        " 192.0.2.43 port 40003 [preauth]",
    )
    assert message.body.splitlines()[0] == "1 failed login (1 invalid user) from 1 address"


def test_a_repeated_message_counts_as_often_as_it_was_written():
    [summary] = plan(
        "Nov 27 10:00:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ;"
        " COMMAND=/usr/bin/id",
        "Nov 27 10:00:01 web1 last message repeated 4 times",
        "Nov 27 10:00:02 web1 sshd[44]: message repeated 3 times: [ Failed password for root"
        " from 192.0.2.44 port 40004 ssh2]",
    )[:1]
    assert summary.title == "web1: 5 sudo/su uses"
    assert summary.body == "sudo: alice as root: /usr/bin/id ×5"


# su and sudo lines that make one message: its title and body
ACTS = {
    "su that logs twice is reported once": (
        [
            "Nov 27 10:00:00 web1 su[50]: (to root) alice on pts/0",
            (
                "Nov 27 10:00:00 web1 su[50]: pam_unix(su:session): session opened for user"
                " root(uid=0) by alice(uid=1000)"
            ),
            "Nov 27 10:05:00 web1 su[51]: (to root) alice on pts/0",
            (
                "Nov 27 10:06:00 web1 useradd[52]: new user: name=deploy, UID=1001, GID=1001,"
                " home=/home/deploy, shell=/bin/bash, from=/dev/pts/1"
            ),
        ],
        "web1: 2 sudo/su uses, 1 account change",
        (
            "su: alice as root ×2\n"
            "useradd: new user: name=deploy, UID=1001, GID=1001, home=/home/deploy,"
            " shell=/bin/bash, from=/dev/pts/1"
        ),
    ),
    "a failed su or sudo counts once and names who tried": (
        [
            (
                "Nov 27 10:00:00 web1 su[70]: pam_unix(su:auth): authentication failure;"
                " logname=mallory uid=1001 euid=0 tty=/dev/pts/3 ruser=mallory rhost=  user=root"
            ),
            "Nov 27 10:00:02 web1 su[70]: FAILED SU (to root) mallory on pts/3",
            (
                "Nov 27 10:01:00 web1 sudo: pam_unix(sudo:auth): authentication failure;"
                " logname=eve uid=1002 euid=0 tty=/dev/pts/4 ruser=eve rhost=  user=eve"
            ),
            (
                "Nov 27 10:01:05 web1 sudo:      eve : 3 incorrect password attempts ; TTY=pts/4 ;"
                " PWD=/home/eve ; USER=root ; COMMAND=/bin/sh"
            ),
        ],
        "web1: 2 sudo/su uses (2 failed)",
        "su FAILED: mallory as root\nsudo FAILED: eve as root: /bin/sh",
    ),
    # util-linux su-common.c: "(to nobody) root on none", then its PAM session
    "su by root without a terminal is one act": (
        [
            "Nov 27 10:00:00 web1 su[45]: (to nobody) root on none",
            (
                "Nov 27 10:00:00 web1 su[45]: pam_unix(su:session): session opened for user"
                " nobody(uid=65534) by (uid=0)"
            ),
        ],
        "web1: 1 sudo/su use",
        "su: root as nobody",
    ),
    # shadow su.c: "Successful su for %s by %s", sulog "+ %s %s:%s", the PAM session
    "shadow su's three lines are one act": (
        [
            "Nov 27 10:00:00 deb9 su[700]: Successful su for root by alice",
            "Nov 27 10:00:00 deb9 su[700]: + /dev/pts/0 alice:root",
            (
                "Nov 27 10:00:00 deb9 su[700]: pam_unix(su:session): session opened for user root"
                " by alice(uid=1000)"
            ),
            "Nov 27 10:01:00 deb9 su[701]: FAILED su for root by mallory",
            "Nov 27 10:01:00 deb9 su[701]: - /dev/pts/1 mallory:root",
            (
                "Nov 27 10:01:00 deb9 su[701]: pam_unix(su:auth): authentication failure;"
                " logname=mallory uid=1001 euid=0 tty=/dev/pts/1 ruser=mallory rhost=  user=root"
            ),
        ],
        "deb9: 2 sudo/su uses (1 failed)",
        "su: alice as root\nsu FAILED: mallory as root",
    ),
}


@pytest.mark.parametrize("lines, title, body", ACTS.values(), ids=ACTS.keys())
def test_su_and_sudo_acts_make_one_message(lines, title, body):
    [message] = plan(*lines)
    assert (message.title, message.body) == (title, body)


@pytest.mark.parametrize(
    "program, line, title",
    [
        # shadow login.c: the PAM session, then "ROOT LOGIN  on 'tty1'"
        ("login[46]", "ROOT LOGIN  on 'tty1'", "web1: login root on tty1"),
        # util-linux login -h: the PAM session first, then "ROOT LOGIN ON %s FROM %s";
        # the login keeps where it came from
        ("login", "ROOT LOGIN ON pts/3 FROM 203.0.113.66", "web1: login root from 203.0.113.66"),
    ],
    ids=["on a console", "on a remote console"],
)
def test_a_console_login_and_its_pam_session_are_one_login(program, line, title):
    messages = plan(
        f"Nov 27 10:00:00 web1 {program}: pam_unix(login:session): session opened for user"
        " root(uid=0) by LOGIN(uid=0)",
        f"Nov 27 10:00:00 web1 {program}: {line}",
    )
    assert [message.title for message in messages] == [title]


def test_a_forged_login_of_the_same_process_cannot_fold_a_real_one():
    # any local user can write the first line with logger(1), the pid read from ps
    messages = plan(
        "Nov 27 10:00:00 gw dropbear[9001]: Password auth succeeded for 'root' from 10.0.0.5:40000",
        "Nov 27 10:00:01 gw dropbear[9001]: Pubkey auth succeeded for 'root' with ssh-ed25519 key"
        " SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk from 203.0.113.66:41000",
    )
    assert "gw: SSH login root from 203.0.113.66" in [message.title for message in messages]


def test_held_pam_failures_are_counted_in_bounded_memory():
    pam = (
        "Nov 27 10:00:00 web1 sudo: pam_unix(sudo:auth): authentication failure;"
        " logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice"
    )
    summary = authwatch.HostSummary("web1")
    for event in events(*[pam] * 1000):
        summary.add(event)
    assert len(summary.echoes) == 1
    summary.finish()
    assert {line: n for (_, line), n in summary.privilege.items()} == {"sudo FAILED: alice": 1000}


def test_a_long_lived_daemon_s_pam_failures_count_one_each():
    # dovecot's auth process writes every attempt under one pid
    failures = [
        f"Nov 27 10:00:0{n} mail1 auth[40688]: pam_unix(dovecot:auth): authentication failure;"
        f" logname= uid=0 euid=0 tty=dovecot ruser=u{n} rhost=192.0.2.{n}  user=u{n}"
        for n in range(3)
    ]
    [message] = plan(*failures)
    assert message.title == "mail1: 3 failed logins from 3 addresses"


def test_sudo_s_pam_failure_is_counted_when_sudo_says_nothing_of_its_own():
    # sudo-rs writes no failure of its own: pam_unix's line is the only trace
    pam = (
        "Nov 27 10:00:00 web1 sudo: pam_unix(sudo:auth): authentication failure;"
        " logname=alice uid=1000 euid=0 tty=/dev/pts/0 ruser=alice rhost=  user=alice"
    )
    [message] = plan(pam)
    assert (message.title, message.body) == ("web1: 1 sudo/su use (1 failed)", "sudo FAILED: alice")
    # sudo 1.x tells it again in its own words: one failure, said in sudo's words
    own = (
        "Nov 27 10:00:05 web1 sudo:    alice : 3 incorrect password attempts ; TTY=pts/0 ;"
        " PWD=/home/alice ; USER=root ; COMMAND=/bin/sh"
    )
    [message] = plan(pam, own)
    assert (message.title, message.body) == (
        "web1: 1 sudo/su use (1 failed)",
        "sudo FAILED: alice as root: /bin/sh",
    )


def test_the_same_words_again_are_another_act_even_without_a_pid():
    # RHEL's su writes only its PAM session, and no pid; sshd lines without one
    messages = plan(
        *[
            f"Nov 27 1{n}:00:00 rhel8 su: pam_unix(su-l:session): session opened for user root"
            " by alice(uid=1000)"
            for n in range(3)
        ],
        "Nov 27 10:00:00 h sshd: Accepted password for bob from 192.0.2.1 port 40001 ssh2",
        "Nov 27 10:05:00 h sshd: Accepted password for bob from 198.51.100.66 port 40002 ssh2",
    )
    titles = [message.title for message in messages]
    assert "h: SSH login bob from 198.51.100.66" in titles
    assert "h: SSH login bob from 192.0.2.1" in titles
    [su] = [message for message in messages if message.host == "rhel8"]
    assert (su.title, su.body) == ("rhel8: 3 sudo/su uses", "su: alice as root ×3")


def test_old_openssh_s_pre_auth_child_does_not_count_an_attempt_twice():
    # OpenSSH up to 5.8: the pre-auth child logs under a pid of its own
    [message] = plan(
        "Nov 27 10:00:01 c6 sshd[12345]: Invalid user admin from 192.0.2.1",
        "Nov 27 10:00:01 c6 sshd[12346]: input_userauth_request: invalid user admin",
        "Nov 27 10:00:03 c6 sshd[12345]: Failed password for invalid user admin from 192.0.2.1"
        " port 5555 ssh2",
        "Nov 27 10:00:03 c6 sshd[12346]: Received disconnect from 192.0.2.1: 11: Bye Bye",
        "Nov 27 10:00:07 c6 sshd[12350]: Failed password for root from 192.0.2.2 port 5556 ssh2",
        "Nov 27 10:00:11 c6 sshd[12351]: Disconnecting: Too many authentication failures for root",
    )
    assert message.title == "c6: 2 failed logins from 2 addresses"


def test_a_host_name_from_reverse_dns_gives_way_to_the_address():
    # with UseDNS yes, PAM's rhost= is the client's name, which its owner chooses
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd[60]: pam_unix(sshd:auth): authentication failure; logname="
        " uid=0 euid=0 tty=ssh ruser= rhost=10.0.0.1.evil.example  user=root",
        "Nov 27 10:00:02 web1 sshd[60]: Failed password for root from 203.0.113.60 port 4000 ssh2",
    )
    assert "IPs: 203.0.113.60 ×1" in message.body
    assert "evil" not in message.body


def test_openssh_9_8_s_listener_names_its_own_address_first():
    # sshd.c 9.8 child_reap(): "connection from %s to %s" with the local address first
    [message] = plan(
        "Nov 27 10:00:00 web1 sshd-session[31200]: Connection from 203.0.113.70 port 5000"
        ' on 198.51.100.1 port 22 rdomain ""',
        "Nov 27 10:02:00 web1 sshd[800]: Timeout before authentication for connection from"
        " 198.51.100.1 to 203.0.113.70, pid = 31200",
    )
    assert "IPs: 203.0.113.70 ×1" in message.body


UNSHOWN = ["\u061c", "\ufeff", "\u2060", "\u2064", "\u180e", "\u00ad", "\U000e0041", "\u202e"]


@pytest.mark.parametrize("char", [*UNSHOWN, "\x07", "\x1b", "\u2028"], ids=ascii)
def test_no_field_can_hide_or_turn_text(char):
    # util-linux login: "LOGIN ON %s BY %s FROM %s", the host as the client gave it
    messages = plan(
        f"Nov 27 10:00:00 web1 login[50]: LOGIN ON pts/0 BY root FROM {char}1.0.0.01",
        f"Nov 27 10:00:01 web1 sshd[51]: Invalid user a{char}b from 192.0.2.5 port 4000",
        f"Nov 27 10:00:02 web1 sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/x{char}",
    )
    text = "".join(message.title + message.body for message in messages)
    assert char not in text
    assert text.count("\N{REPLACEMENT CHARACTER}") >= 3


def test_a_working_directory_cannot_lie_about_whom_sudo_ran_as():
    # cd "/tmp/a ; USER=nobody ; ENV="; sudo -u root /bin/sh -c true
    [message] = plan(
        "Nov 27 10:00:00 web1 sudo:  mallory : TTY=pts/1 ; PWD=/tmp/a ; USER=nobody ; ENV= ;"
        " USER=root ; COMMAND=/bin/sh -c true"
    )
    assert "as nobody" not in message.body
    assert (message.title, message.body) == (
        "web1: 1 sudo/su use",
        (
            "sudo: mallory (fields unclear): TTY=pts/1 ; PWD=/tmp/a ; USER=nobody ; ENV= ;"
            " USER=root ; COMMAND=/bin/sh -c true"
        ),
    )
    # no target is sure, and sudo's default is root: a vital act
    assert message.vital == (("web1", "sudo", "mallory", "root?", None, 1),)


def test_a_folded_message_says_which_details_belong_to_which_login():
    logins = [
        f"Nov 27 10:00:0{n} web1 sshd[{70 + n}]: Accepted password for user{n}"
        f" from 192.0.2.{n} port 4000 ssh2"
        for n in range(3)
    ]
    [folded] = plan(*logins, max_messages=1)
    body = folded.body.splitlines()
    for n in range(3):
        at = body.index(f"· SSH login user{n} from 192.0.2.{n}")
        assert body[at + 1 : at + 3] == ["Method: password", f"From: 192.0.2.{n} port 4000"]


def test_long_forged_sudo_lines_cannot_push_a_real_one_out_of_the_summary():
    forged = [
        f"Nov 27 10:00:0{n} web1 sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ;"
        f" COMMAND=/bin/echo {str(n) * 300}"
        for n in range(6)
    ]
    real = (
        "Nov 27 10:00:09 web1 sudo:  mallory : TTY=pts/1 ; PWD=/home/mallory ; USER=root ;"
        " COMMAND=/bin/bash"
    )
    [message] = plan(*forged, real)
    assert len(message.body) <= authwatch.MAX_MESSAGE
    assert message.body.splitlines()[:2] == ["sudo mallory as root", "sudo alice as root ×6"]


def test_logins_with_keys_of_every_kind_are_still_one_user_s_flood():
    forged = [
        f"Nov 27 10:00:00 web1 sshd[{5000 + n}]: Accepted publickey for deploy from 10.0.0.1"
        f" port 22 ssh2: ED25519 SHA256:fake{n:03d}"
        for n in range(60)
    ]
    real = (
        "Nov 27 10:00:30 web1 sshd[6000]: Accepted password for root from 203.0.113.66"
        " port 4000 ssh2"
    )
    messages = plan(*forged, real)
    assert messages[0].title == "web1: SSH login root from 203.0.113.66"


def test_long_forged_user_names_cannot_push_a_real_sudo_user_out_of_who():
    forged = [
        f"Nov 27 10:00:0{n} web1 sudo: user{n}{'y' * 40} : TTY=pts/0 ; PWD=/home ; USER=root ;"
        f" COMMAND=/bin/true {'z' * 150}"
        for n in range(8)
    ]
    real = "Nov 27 10:00:09 web1 sudo: mallory : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/bash"
    [message] = plan(*forged, real)
    assert "sudo mallory as root" in message.body.splitlines()


@pytest.mark.parametrize(
    "char", ["\u3164", "\u115f", "\u2800", "\u3000", "\ue000", "\u0378", "\u20dd"], ids=ascii
)
def test_what_shows_as_nothing_or_a_gap_is_replaced(char):
    [message] = plan(
        f"Nov 27 10:00:00 web1 sshd[80]: Invalid user a{char}b from 192.0.2.5 port 4000"
    )
    assert char not in message.body


def test_clean_replaces_every_default_ignorable_code_point_and_no_other():
    regex = pytest.importorskip("regex", reason="needs regex (scripts/test installs it)")
    # one call, each code point after a space (so that no mark stacks on another)
    text = "".join(f" {chr(code)}" for code in range(0x110000))
    ignorable = set(regex.findall(r"\p{Default_Ignorable_Code_Point}", text))
    replaced = {
        char for char, shown in zip(text[1::2], authwatch.clean(text)[1::2]) if char != shown
    }
    by_category = {
        char
        for char in text[1::2]
        if unicodedata.category(char) in authwatch.UNSHOWN_CATEGORIES or char in authwatch.UNSHOWN
    }
    assert replaced == ignorable | by_category
    selectors = [*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), 0x180B, 0x180C, 0x180D, 0x180F]
    assert {chr(code) for code in selectors} <= replaced
    assert len(ignorable) > 4000  # the property was found, not an empty set


@pytest.mark.parametrize(
    "user, shown",
    [
        ("ro\u17b4\u17b5ot", "ro\ufffd\ufffdot"),  # Khmer's inherent vowels show as nothing
        ("root\ufe0f", "root\ufffd"),  # a variation selector
        ("ro\U000e0100ot", "ro\ufffdot"),
        ("ro\u180fot", "ro\ufffdot"),  # Mongolian's fourth free variation selector
        ("ro\u3164ot", "ro\ufffdot"),  # the Hangul filler, a letter that shows as a gap
        # Zalgo: marks stacked over the line above; two stay (Vietnamese needs them)
        ("ro\u0300\u0301\u0302\u0303\u0304ot", "ro\u0300\u0301\ufffd\ufffd\ufffdot"),
        ("vi\u1ec7t", "vi\u1ec7t"),
        ("vie\u0323\u0302t", "vie\u0323\u0302t"),
    ],
    ids=ascii,
)
def test_a_user_name_cannot_pass_for_another_in_a_title_or_a_body(
    auth_log, config_file, pushover, user, shown
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0  # the position at the end of the log
    append(
        auth_log,
        f"Nov 27 11:58:00 web1 sshd[77]: Accepted password for {user} from 192.0.2.66 port 4000"
        " ssh2",
        f"Nov 27 11:58:10 web1 sshd[78]: Invalid user {user} from 192.0.2.67 port 4000",
        f"Nov 27 11:58:20 web1 sudo: {user} : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
    )
    result = cron_run(config, auth_log)
    assert (result.status, result.stderr) == (0, "")
    login, privileges, failures = sent_forms(pushover)
    assert login["title"] == f"web1: SSH login {shown} from 192.0.2.66"
    assert privileges["message"] == f"sudo: {shown} as root: /bin/sh"
    assert failures["message"].endswith(f"Users: {shown} ×1")


### vital acts: logins as root and sudo, su, doas, pkexec to root ###########

VITAL = {
    "a login of root": (LOGIN.replace("awtest", "root"), True),
    "a login of a user of uid 0": (LOGIN.replace("awtest", "toor"), True),
    "a login whose PAM line says uid 0": (
        (
            "Nov 27 10:00:00 web1 cockpit-session[9]: pam_unix(cockpit:session): session opened"
            " for user admin(uid=0) by (uid=0)"
        ),
        True,
    ),
    "another login": (LOGIN, False),
    "sudo to root": (sudo_line("/bin/id"), True),
    "sudo to another user": (sudo_line("/bin/id").replace("USER=root", "USER=www-data"), False),
    "sudo to a user of uid 0": (sudo_line("/bin/id").replace("USER=root", "USER=toor"), True),
    "sudo whose target is not sure": (
        (
            "Nov 27 10:00:00 web1 sudo:  mallory : TTY=pts/1 ; PWD=/tmp/x ; USER=nobody ;"
            " COMMAND=/bin/true ; USER=root ; COMMAND=/usr/bin/id"
        ),
        True,
    ),
    "a failed sudo that names no target": (
        (
            "Nov 27 10:00:00 web1 sudo: pam_unix(sudo:auth): authentication failure;"
            " logname=eve uid=1002 euid=0 tty=/dev/pts/4 ruser=eve rhost=  user=eve"
        ),
        True,
    ),
    "su to root, failed": ("Nov 27 10:00:00 web1 su[5]: FAILED SU (to root) eve on pts/3", True),
    "su to another user": ("Nov 27 10:00:00 web1 su[5]: (to nobody) root on none", False),
    "doas to root": (
        "Nov 27 10:00:00 web1 doas: alice ran command /bin/sh as root from /home/alice",
        True,
    ),
    "pkexec to root": (
        (
            "Nov 27 10:00:00 web1 pkexec[7]: alice: Executing command [USER=root] [TTY=unknown]"
            " [CWD=/home/alice] [COMMAND=/usr/bin/id]"
        ),
        True,
    ),
    "an account change": (
        (
            "Nov 27 10:00:00 web1 useradd[8]: new user: name=root2, UID=0, GID=0, home=/root,"
            " shell=/bin/sh, from=/dev/pts/0"
        ),
        False,
    ),
}


@pytest.mark.parametrize("line, vital", VITAL.values(), ids=VITAL.keys())
def test_what_is_vital(line, vital):
    [event] = events(line)
    assert authwatch.is_vital(event, frozenset(("root", "toor"))) == vital


def test_vital_lines_come_first_in_a_fold_and_are_grouped_rather_than_cut():
    # forty forged logins of uid 0 with names of 170 characters, then root's
    forged = [
        f"Nov 27 10:00:{n % 60:02} web1 cockpit-session[{100 + n}]: pam_unix(cockpit:session):"
        f" session opened for user admin{n}{'x' * 170}(uid=0) by (uid=0)"
        for n in range(40)
    ]
    root = accepted("root", "203.0.113.66", time="10:01:00", pid=99)
    [folded] = plan(*forged, root, *forged[:5], max_messages=1)
    assert len(folded.body) <= authwatch.MAX_MESSAGE
    first, second, third = folded.body.splitlines()[:3]
    assert first == "SSH login root from 203.0.113.66"
    assert second.startswith("login 40 users (admin5xxxxxxxxx…, admin6xxxxxxxxx…, ")
    assert second.endswith(") on the console ×45")
    assert third.startswith("46 logins from 41 users and 2 places: admin5xxxxxxxxxxxxx…, ")


def test_vital_acts_of_many_hosts_are_grouped_across_hosts_and_the_outbox_reads_them_back(
    tmp_path, config_file, pushover
):
    # a log host's file: its senders choose the host and write every kind of vital act
    acts = [
        "sshd[9]: Accepted password for root from 10.0.0.9 port 22 ssh2",
        "login[8]: ROOT LOGIN  on '/dev/tty1'",
        "su[7]: (to root) bob on pts/1",
        "su[6]: FAILED SU (to root) bob on pts/1",
        "doas: bob ran command /bin/sh as root from /",
        "doas: failed auth for bob",
        "pkexec[5]: bob: Executing command [USER=root] [TTY=unknown] [CWD=/] [COMMAND=/bin/sh]",
    ] + [
        f"{program}: bob : {problem}TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh"
        for program in ("sudo", "sudo-rs")
        for problem in ("", "3 incorrect password attempts ; ")
    ]
    lines = [f"Nov 27 11:50:00 h{host} {act}" for host in range(50) for act in acts]
    log = tmp_path / "auth.log"
    log.write_text("")
    config = config_file()
    assert cron_run(config, log).status == 0
    append(log, *lines, accepted("root", "203.0.113.66", time="11:51:00"))
    result = cron_run(config, log)
    assert (result.status, result.stderr) == (0, "")
    forms = sent_forms(pushover)
    assert len(forms) == 5
    vital = forms[-1]["message"].splitlines()
    # web1's among them: named, coarsely, rather than cut
    assert "49 hosts: SSH login root from 2 places ×49" in vital
    assert len(forms[-1]["message"]) <= authwatch.MAX_MESSAGE


def test_a_sudo_summary_that_does_not_fit_begins_with_who_ran_as_root():
    lines = [sudo_line(f"/bin/echo {'x' * 150} {n}", n) for n in range(10)]
    lines += [
        "Nov 27 10:01:00 web1 sudo:      bob : TTY=pts/1 ; PWD=/ ; USER=www-data ; COMMAND=/bin/id",
        "Nov 27 10:01:01 web1 su[5]: FAILED SU (to root) eve on pts/3",
    ]
    [message] = plan(*lines)
    assert message.body.splitlines()[:3] == [
        "su eve as root FAILED",
        "sudo alice as root ×10",
        "Who: sudo: bob as www-data",
    ]
    assert message.body.splitlines()[3].startswith("sudo: alice as root: /bin/echo xxx")


def test_a_flood_of_lines_not_understood_is_one_line_per_program_the_rarest_first():
    flood = [f"Nov 27 10:00:00 web1 cockpit-session: {'padding ' * 25} {n}" for n in range(30)]
    lone = "Nov 27 10:00:01 web1 sshd[5]: something sshd has not said before"
    [message] = plan(*flood, lone)
    assert message.title == "web1: 31 other lines"
    assert message.body.splitlines() == [
        "Other: sshd: something sshd has not said before",
        f"Other: 30 lines from cockpit-session, e.g. {'padding ' * 25} 0"[:199] + "…",
    ]


def test_a_login_cut_from_a_fold_is_not_learned_and_one_it_names_is():
    alice = authwatch.summarise(events(accepted("alice", pid=1)), "web1")
    knowledge = authwatch.know(alice, {}, {}, int(NOW.timestamp()))
    [told] = authwatch.plan_messages(alice, (), "web1", ALERTS, knowledge)
    assert told.notes[0].user == "alice"  # delivered alone, it teaches
    many = authwatch.Message(  # the titles of 60 messages that waited before
        "web1",
        "t",
        "b",
        1,
        None,
        folded=59,
        parts=tuple(f"web1: t{n} {'x' * 60}" for n in range(60)),
    )
    [cut] = authwatch.fold_messages([many, told], 1)
    assert "SSH login alice" not in cut.body
    assert cut.notes == ()
    short = many._replace(folded=1, parts=("web1: t0", "web1: t1"))
    [named] = authwatch.fold_messages([short, told], 1)
    assert named.notes == told.notes
