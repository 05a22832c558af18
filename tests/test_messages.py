"""Building messages from events: pure, so tested with events made here."""

import datetime

from conftest import NOW

import authwatch


def events(*lines):
    """Return the Events of raw log lines, noise dropped as in a run."""
    noise = authwatch.compile_noise(authwatch.DEFAULT_NOISE)
    records = [authwatch.parse_line(line, NOW) for line in lines]
    return list(authwatch.understand(records, noise))


def messages(*lines):
    summaries = authwatch.summarise(events(*lines), "localhost")
    return authwatch.build_messages(summaries, [], "localhost")


def test_one_connection_is_one_failed_login_however_many_lines_it_writes():
    [message] = messages(
        "Nov 27 10:00:00 web1 sshd[10]: Invalid user admin from 203.0.113.5 port 4000",
        "Nov 27 10:00:01 web1 sshd[10]: pam_unix(sshd:auth): authentication failure;"
        " logname= uid=0 euid=0 tty=ssh ruser= rhost=203.0.113.5",
        "Nov 27 10:00:02 web1 sshd[10]: Failed password for invalid user admin"
        " from 203.0.113.5 port 4000 ssh2",
        "Nov 27 10:00:03 web1 sshd[10]: Failed password for invalid user admin"
        " from 203.0.113.5 port 4000 ssh2",
        "Nov 27 10:00:04 web1 sshd[11]: Failed password for root from 198.51.100.7 port 5000 ssh2",
        "Nov 27 10:00:05 web1 sshd[12]: Failed password for root from 198.51.100.7 port 5001 ssh2",
    )
    assert message.title == "web1: 3 failed logins"
    assert message.body == (
        "3 failed logins (1 invalid user) from 2 addresses\n"
        "IPs: 198.51.100.7 ×2, 203.0.113.5 ×1\n"
        "Users: root ×2, admin ×1"
    )
    assert message.priority == -1
    assert message.timestamp == int(datetime.datetime(2026, 11, 27, 10, 0, 5).timestamp())


def test_each_host_gets_its_own_message_and_a_login_is_priority_1():
    first, second = messages(
        "2026-11-27T10:00:00+00:00 web1 sudo:    bob : TTY=pts/1 ; PWD=/ ; USER=root ;"
        " COMMAND=/bin/id",
        "2026-11-27T10:00:01+00:00 db2 sshd-session[7]: Accepted password for carol"
        " from 2001:db8::7 port 61000 ssh2",
    )
    assert (first.title, first.priority) == ("web1: 1 sudo/su use", 0)
    assert first.body == "sudo: bob as root: /bin/id"
    assert (second.title, second.priority) == ("db2: 1 SSH login", 1)
    assert second.body == "Login carol from 2001:db8::7 port 61000 (password)"


def test_lines_without_a_host_are_the_local_hosts():
    [message] = messages("su[99]: FAILED SU (to root) mallory on pts/3")
    assert message.title == "localhost: 1 sudo/su use"
    assert message.body == "su FAILED: mallory as root"
    assert message.timestamp is None


def test_su_that_logs_twice_is_reported_once():
    [message] = messages(
        "Nov 27 10:00:00 web1 su[50]: (to root) alice on pts/0",
        "Nov 27 10:00:00 web1 su[50]: pam_unix(su:session): session opened for user root(uid=0)"
        " by alice(uid=1000)",
        "Nov 27 10:05:00 web1 su[51]: (to root) alice on pts/0",
    )
    assert message.body == "su: alice as root\nsu: alice as root"


def test_attacker_text_is_shown_inert():
    [message] = messages(
        "Nov 27 10:00:00 web1 sshd[10]: Invalid user <b>x\x1b[31m\u202e from 203.0.113.5 port 4000",
    )
    assert message.body.endswith("Users: <b>x\ufffd[31m\ufffd ×1")
    assert "\x1b" not in message.body and "\u202e" not in message.body


def test_lines_not_understood_are_still_reported():
    [message] = messages("Nov 27 10:00:00 web1 sshd[10]: something sshd never said before")
    assert message.title == "web1: 1 other line"
    assert message.body == "Other: sshd: something sshd never said before"


def test_a_long_message_keeps_whole_lines_and_says_what_was_cut():
    commands = [
        f"Nov 27 10:00:{n:02} web1 sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ;"
        f" COMMAND=/usr/bin/echo {'x' * 40} {n}"
        for n in range(40)
    ]
    [message] = messages(*commands)
    assert len(message.body) <= authwatch.MAX_MESSAGE
    kept = message.body.splitlines()
    assert kept[-1] == f"… and {40 - (len(kept) - 1)} more lines"
    assert kept[:-1] == [
        f"sudo: alice as root: /usr/bin/echo {'x' * 40} {n}" for n in range(len(kept) - 1)
    ]


def test_a_long_title_is_cut_to_pushovers_limit():
    summary = authwatch.HostSummary("h" * 300)
    summary.add(events("Nov 27 10:00:00 web1 su[50]: (to root) alice on pts/0")[0])
    [message] = authwatch.build_messages({"h": summary}, [], "localhost")
    assert len(message.title) == authwatch.MAX_TITLE
    assert message.title.endswith("…")


def test_a_single_huge_line_is_cut_too():
    [message] = messages("Nov 27 10:00:00 web1 sshd[10]: " + "A" * 5000)
    assert len(message.body) == authwatch.MAX_MESSAGE
    assert message.body.endswith("…")


def test_failure_memory_is_bounded_in_a_storm():
    summary = authwatch.HostSummary("web1")
    template = events(
        "Nov 27 10:00:00 web1 sshd[1]: Failed password for root from 198.51.100.7 port 5000 ssh2"
    )[0]
    for pid in range(20000):
        summary.add(template._replace(pid=pid, connection=pid))
    assert sum(summary.failures.values()) == 20000
    assert summary.failure_ips == {"198.51.100.7": 20000}
    assert len(summary.connections) == authwatch.HostSummary.RECENT_CONNECTIONS


def test_notices_lead_the_first_message_or_make_their_own():
    summaries = authwatch.summarise(
        events("Nov 27 10:00:00 web1 su[50]: (to root) alice on pts/0"), "localhost"
    )
    first, *_ = authwatch.build_messages(summaries, ["entries may be missing"], "localhost")
    assert first.body == "Note: entries may be missing\nsu: alice as root"
    [alone] = authwatch.build_messages({}, ["entries may be missing"], "mybox")
    assert alone == authwatch.Message(
        "mybox", "mybox: authwatch notice", "Note: entries may be missing", 0, None
    )
