"""What a run keeps is bounded in bytes, whatever a local user or a remote
sender writes: the lines and fields it keeps are cut, the collections that
wait or count are bounded in entries and in bytes, and a journal field is
cut as soon as it is read.  The floods are real files and journals, and
each run is a real process whose peak RSS is measured (helpers.PEAK_RSS)."""

import os

import pytest
from helpers import (
    JOURNAL_REMOTE,
    NOW,
    accepted,
    append,
    cron_run,
    run_measured,
    sent_forms,
    sshd_entry,
    write_journal,
)
from machine import HOST

import authwatch

PEAK = 64  # MiB: the most a run may take, whatever it reads
ROOT_LOGIN = accepted("root", method="password", pid=4242, time="11:58:01")
ROOT_TITLE = "web1: SSH login root from 203.0.113.9"
LONGEST = 64 * 1024  # a line as long as authwatch reads (MAX_LINE), as rsyslog may write


def flood(path, lines, count):
    """Append count lines of lines(number) to the log at path, then the
    real root login that must still arrive."""
    with open(path, "a") as file:
        for number in range(count):
            file.write(lines(number) + "\n")
    append(path, ROOT_LOGIN)


def login_name_mismatch(number):
    """Return the attack's line: sshd's "Login name ... does not match stored
    username" (auth.c getpwnamallow(), OpenSSH 5.4 to 7.9) for a user name
    that fills the line, from a process of its own: a failure that waits
    for an address that never comes."""
    head = f"Nov 27 11:50:00 web1 sshd[{10000 + number}]: Login name {number:06d}"
    tail = " does not match stored username x"
    return head + "A" * (LONGEST - len(head) - len(tail)) + tail


def long_names(number):
    """Return a failure whose user name (sshd's "Failed password for",
    auth.c auth_log()) or PAM's rhost= (pam_unix's authentication failure)
    fills the line, a new one each time: keys of the failures' counters."""
    name = f"{number:06d}".ljust(LONGEST - 200, "n")
    if number % 2:
        return (
            f"Nov 27 11:50:00 web1 sshd[{10000 + number}]: Failed password for {name}"
            f" from 198.51.100.7 port {1024 + number} ssh2"
        )
    return (
        f"Nov 27 11:50:00 web1 sshd[{10000 + number}]: pam_unix(sshd:auth): authentication"
        f" failure; logname= uid=0 euid=0 tty=ssh ruser= rhost={name}  user=root"
    )


def long_hosts(number):
    """Return a failure from a host of a long name, a new one each time, as a
    log host receives them from its senders."""
    host = f"{number:06d}".ljust(LONGEST - 200, "h")
    return (
        f"Nov 27 11:50:00 {host} sshd[{10000 + number}]: Failed password for root"
        f" from 198.51.100.7 port {1024 + number} ssh2"
    )


def long_programs(number):
    """Return a line of a program of a long name that no rule knows, a new
    one each time, as logger -t writes it."""
    program = f"p{number:06d}".ljust(LONGEST - 200, "p")
    return f"Nov 27 11:50:00 web1 {program}[{10000 + number}]: something"


@pytest.mark.parametrize(
    "lines, count",
    [(login_name_mismatch, 2048), (long_names, 3072), (long_hosts, 3072), (long_programs, 2048)],
    ids=["login name mismatch", "user names", "hosts", "programs"],
)
def test_a_flood_of_the_longest_lines_keeps_a_run_small_and_the_login_after_it_arrives(
    tmp_path, auth_log, config_file, pushover, lines, count
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0  # the position: the log's end
    flood(auth_log, lines, count)
    result, peak = run_measured(tmp_path, "--config", config, "--log", str(auth_log))
    assert result.status == 0, result.stderr
    assert peak <= PEAK
    # past the first hundred hosts, the lines of the others count together
    host = authwatch.OTHER_HOSTS if lines is long_hosts else "web1"
    assert ROOT_TITLE.replace("web1", host) in [form["title"] for form in sent_forms(pushover)]


needs_journal = pytest.mark.skipif(
    not os.access(JOURNAL_REMOTE, os.X_OK), reason="needs systemd-journal-remote"
)


def journal_flood(folder, size, count):
    """Write a journal of count entries of the attack's line with a MESSAGE
    of size bytes (which journal-remote compresses, as journald does), then
    the real root login."""
    start = int(NOW.timestamp() - 600) * 1_000_000
    write_journal(folder, sshd_entry(start, 1, "Server listening on 0.0.0.0 port 22."))
    name = "A" * (size - 50)
    for number in range(1, count + 1):
        mismatch = f"Login name {name} does not match stored username x"
        write_journal(folder, sshd_entry(start + number, 10000 + number, mismatch))
    login = "Accepted password for root from 203.0.113.9 port 52144 ssh2"
    write_journal(folder, sshd_entry(start + count + 1, 4242, login))


@needs_journal
@pytest.mark.parametrize(
    "size, count, allowance",
    # One field larger than what authwatch keeps passes through memory whole,
    # twice: libsystemd decompresses it into a buffer of its own (which it
    # keeps for the rest of the run), and systemd-python returns a copy.
    [(5_000_000, 30, 0), (50_000_000, 3, 2 * 50_000_000 / 1024**2)],
    ids=["5 MB fields", "50 MB fields"],
)
def test_a_journal_of_huge_fields_keeps_a_run_small_and_the_login_after_it_arrives(
    tmp_path, config_file, pushover, size, count, allowance
):
    pytest.importorskip("systemd.journal", reason="needs systemd-python")
    folder, state = tmp_path / "journal", tmp_path / "state"
    journal = ["--config", config_file(), "--journal-dir", str(folder), "--state-dir", str(state)]
    journal_flood(folder, size, count)
    result, peak = run_measured(tmp_path, *journal, "--from-start")
    assert result.status == 0, result.stderr
    assert peak <= PEAK + allowance
    assert ROOT_TITLE in [form["title"] for form in sent_forms(pushover)]


### What is kept, and how much of it ########################################


def events(lines):
    return authwatch.events_of(authwatch.parse_line(line, NOW) for line in lines)


def test_a_kept_text_keeps_its_head_and_says_how_much_was_cut():
    assert authwatch.kept_text("short", 10) == "short"
    assert authwatch.kept_text("x" * 10 + "é" * 1000, 10) == "x" * 10 + "…[+2,000 bytes]"
    # a line cut when it was read says so; cut again, it says all that was cut
    read = authwatch.text_of(b"y" * 100_000, 100_000)
    assert read == "y" * authwatch.MAX_LINE + "…[+34,464 bytes]"
    assert authwatch.kept_text(read, 100) == "y" * 100 + "…[+99,900 bytes]"


def test_a_kept_event_is_cut_field_by_field():
    line = login_name_mismatch(1)
    event = authwatch.classify(authwatch.parse_line(line, NOW))
    kept = authwatch.kept_event(event)
    assert len(event.user) > 60_000
    assert kept.user == event.user[:256] + f"…[+{len(event.user) - 256:,} bytes]"
    assert kept.line == line[:512] + f"…[+{len(line) - 512:,} bytes]"
    assert kept.message == event.message[:512] + f"…[+{len(event.message) - 512:,} bytes]"
    assert kept._replace(user=None, line="", message="") == event._replace(
        user=None, line="", message=""
    )


@pytest.mark.parametrize(
    "bound, value",
    [("WAITING_BYTES", 100_000), ("WAITING_EVENTS", 50)],
    ids=["in bytes", "in entries"],
)
def test_failures_waiting_for_their_address_are_bounded_in_all_connections(
    monkeypatch, bound, value
):
    monkeypatch.setattr(authwatch, bound, value)
    read = []

    def records():  # each failure waits for its connection's address, which never comes
        for number in range(1000):
            read.append(number)
            yield authwatch.parse_line(login_name_mismatch(number), NOW)

    waited = []  # how many others waited when each came out
    for event in authwatch.events_of(records()):
        assert event.pid == 10000 + len(waited)  # in order, the oldest first
        assert len(event.line) < authwatch.KEPT_TEXT + 30  # kept: cut
        waited.append(len(read) - len(waited) - 1)
    kept = authwatch.kept_event(next(authwatch.events_of(records())))
    most = value if bound == "WAITING_EVENTS" else value // authwatch.kept_size(kept)
    assert len(waited) == 1000 and 10 < max(waited[:-most]) <= most


def test_a_counter_keeps_the_most_frequent_names_through_a_flood_of_one_off_ones(monkeypatch):
    monkeypatch.setattr(authwatch, "KEPT_NAMES_COUNTED", 100)
    summary = authwatch.HostSummary("web1")
    for number in range(5000):
        summary.failure_ips.add(f"198.51.100.{number % 3}", 1)  # the attackers
        summary.failure_ips.add(f"203.0.113.{number}", 1)  # each once
    assert len(summary.failure_ips) <= 200
    top = summary.failure_ips.most_common(3)
    assert sorted(ip for ip, _ in top) == ["198.51.100.0", "198.51.100.1", "198.51.100.2"]
    assert [count for _, count in top] == [5000 // 3 + 1] * 2 + [5000 // 3]
    headline = authwatch.failure_headline(summary)
    assert headline.endswith(f" from more than {len(summary.failure_ips)} addresses")


def test_hosts_past_the_first_hundred_count_together():
    lines = [
        f"Nov 27 11:50:00 host{number} sshd[{number}]: Failed password for root"
        f" from 198.51.100.7 port 22 ssh2"
        for number in range(150)
    ]
    summaries = authwatch.summarise(events(lines), "web1")
    assert len(summaries) == authwatch.HOSTS + 1
    others = summaries[authwatch.OTHER_HOSTS]
    assert authwatch.failure_count(others) == 50  # none dropped


def test_the_summaries_of_all_hosts_share_their_room(monkeypatch):
    monkeypatch.setitem(authwatch.ROOMS, "logins", 200_000)
    lines = [
        accepted(f"user{number:04d}{'x' * 200}", pid=number).replace("web1", f"host{number % 50}")
        for number in range(2000)
    ]
    summaries = authwatch.summarise(events(lines), "web1")
    kept = sum(len(summary.logins) for summary in summaries.values())
    counted = sum(summary.counts["login"] for summary in summaries.values())
    assert counted == 2000 and 50 < kept < 400  # past the room, logins are counted
    alerts = authwatch.Alerts(dict(authwatch.DEFAULT_PRIORITIES))
    digest = authwatch.digest_message(summaries["host49"], alerts, {})
    assert "more logins" in digest.body and digest.priority == 1


def test_the_memory_of_logins_is_bounded_in_bytes():
    origins = [f"host:{number:02d}".ljust(256, "h") for number in range(50)]
    memory = {
        "web1": {
            f"{user:04d}".ljust(256, "u"): {origin: [user, user, 1, "p" * 60] for origin in origins}
            for user in range(1000)
        }
    }
    bounded = authwatch.bounded_memory(memory, 1000, 400)["web1"]
    size = sum(authwatch.kept_size((user, *known.items())) for user, known in bounded.items())
    assert size <= authwatch.MEMORY_BYTES
    assert sorted(bounded) == sorted(memory["web1"])[-len(bounded) :]  # the most recent
    assert len(bounded) > 50


def test_names_in_a_memory_written_before_are_cut_as_a_run_keeps_them():
    user, origin = "u" * 70_000, "host:" + "h" * 70_000
    stored = {"version": 1, "hosts": {"web1": {user: {origin: [1, 2, 3, "p" * 70_000]}}}}
    [(kept, known)] = authwatch.checked_memory(stored)["web1"].items()
    assert kept == authwatch.kept_text(user, authwatch.KEPT_NAME)
    assert list(known.items()) == [
        (
            authwatch.kept_text(origin, authwatch.KEPT_TEXT),
            [1, 2, 3, authwatch.kept_text("p" * 70_000, authwatch.KEPT_NAME)],
        )
    ]


# A local user's flood of the attack, through a real rsyslogd: datagrams of
# sshd's "Login name ... does not match stored username" (facility authpriv,
# 10 * 8 + info), each from a pid of its own, as fast as /dev/log takes them.
FLOOD_SENDER = """
import socket, sys
count, size = int(sys.argv[1]), int(sys.argv[2])
log = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
log.connect("/dev/log")
for number in range(count):
    name = f"{number:06d}".ljust(size, "A")
    line = f"<86>sshd[{10000 + number}]: Login name {name} does not match stored username x"
    log.send(line.encode())
"""


def test_a_users_flood_through_rsyslog_keeps_a_run_small_and_the_login_after_it_arrives(
    machine, tmp_path, config_file, pushover
):
    log = machine.folder / "auth.log"
    machine.rsyslog(log)
    config = config_file()
    assert cron_run(config, log).status == 0  # the position: the log's end
    machine.add_user("mallory")
    flood = ["/usr/bin/python3", "-c", FLOOD_SENDER, "10000", "7800"]
    machine.run(*flood, user="mallory", timeout=300)
    # a root login after the flood, as sshd writes it (logger standing for it)
    login = "Accepted password for root from 203.0.113.9 port 52144 ssh2"
    machine.run("logger", "-p", "authpriv.info", "-t", "sshd", "--id=4242", login)
    machine.wait_for(lambda: login in log.read_text(errors="replace"), "rsyslogd to write", 120)
    assert log.read_text(errors="replace").count("does not match stored username") == 10000

    result, peak = run_measured(tmp_path, "--config", config, "--log", str(log))
    assert result.status == 0, result.stderr
    assert peak <= PEAK
    titles = [form["title"] for form in sent_forms(pushover)]
    assert f"{HOST}: SSH login root from 203.0.113.9" in titles
    assert f"{HOST}: 10000 failed logins from 0 addresses" in titles


def test_recent_connections_of_all_hosts_share_their_room(monkeypatch):
    monkeypatch.setitem(authwatch.ROOMS, "held", 100 * authwatch.CONNECTION_ROOM)
    lines = [
        f"Nov 27 11:50:00 host{number % 10} sshd[{number}]: Failed password for root"
        f" from 198.51.100.7 port {1024 + number} ssh2"
        for number in range(1000)
    ]
    summaries = authwatch.summarise(events(lines), "web1")
    assert sum(len(summary.connections) for summary in summaries.values()) == 100
    assert sum(authwatch.failure_count(summary) for summary in summaries.values()) == 1000
