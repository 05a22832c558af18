"""The journald source, on real journal files: systemd-journal-remote writes
them from the journal export text in tests/journal/, between runs."""

import json
import os
import sys
from pathlib import Path

import pytest
from helpers import (
    JOURNAL_REMOTE,
    NO_MEMORY_NOTE,
    alice_login_event,
    alice_login_form,
    assert_nobody_may_not_read,
    export_entry,
    form,
    root_only,
    run_main,
    sent_forms,
    users_read_while_written,
    write_journal,
)

import authwatch

EXPORTS = Path(__file__).parent / "journal"
ACCEPTED = (  # the MESSAGE of an entry in web1-after.export
    "Accepted publickey for alice from 192.0.2.10 port 52144 ssh2:"
    " ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"
)

pytest.importorskip("systemd.journal", reason="needs systemd-python (scripts/test installs it)")
pytestmark = pytest.mark.skipif(
    not os.access(JOURNAL_REMOTE, os.X_OK), reason="needs Debian's systemd-journal-remote"
)


def export_file(name):
    return (EXPORTS / name).read_bytes()


def journal_run(state, folder, *extra, config=None):
    args = ["--journal-dir", str(folder), "--state-dir", str(state), *extra]
    return run_main(*(["--config", config] if config else []), *args)


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "journal"


def test_first_run_starts_at_the_tail_and_each_entry_is_sent_once(
    tmp_path, folder, config_file, pushover
):
    config = config_file()
    write_journal(folder, export_file("web1-before.export"))
    first = journal_run(tmp_path / "state", folder, "-v", config=config)
    assert first.status == 0, first.stderr
    assert f"no position stored for journal files in {folder} yet" in first.stderr
    assert sent_forms(pushover) == []

    write_journal(folder, export_file("web1-after.export"))  # appended to the same file
    second = journal_run(tmp_path / "state", folder, config=config)
    assert (second.status, second.stdout, second.stderr) == (0, "", "")
    assert sent_forms(pushover) == [
        alice_login_form("2026-11-27 11:05:00", 1795777500),
        form(
            "web1: 1 sudo/su use",
            "sudo: alice as root: /usr/bin/systemctl restart nginx",
            0,
            1795777530,
        ),
    ]
    position = json.loads((tmp_path / "state" / position_name(folder)).read_text())
    assert position["realtime"] == 1795777530000000
    assert position["cursor"].startswith("s=")

    assert journal_run(tmp_path / "state", folder, config=config).status == 0
    assert len(pushover.log) == 2


def position_name(folder):
    return "journal" + str(folder).replace("/", "_") + ".position"


def test_entries_become_the_same_events_as_log_lines(tmp_path, folder):
    write_journal(folder, export_file("web1-before.export") + export_file("web1-after.export"))
    result = journal_run(tmp_path / "state", folder, "--dry-run", "--json", "--from-start")
    assert result.status == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    # cron's session and logind are noise; nginx is not an authentication entry
    assert [(e["program"], e["kind"]) for e in events] == [
        ("sshd", "login_failed"),
        ("sshd-session", "login"),
        ("sudo", "sudo"),
    ]
    assert events[1] == alice_login_event(
        "2026-11-27T11:05:00+00:00",
        "sshd-session",
        4200,
        "2026-11-27T11:05:00+00:00 web1 sshd-session[4200]: " + ACCEPTED,
    )
    assert events[2]["command"] == "/usr/bin/systemctl restart nginx"
    assert not (tmp_path / "state").exists()


def test_two_hosts_in_one_folder_get_a_message_each(tmp_path, folder, config_file, pushover):
    config = config_file()
    write_journal(folder, b"")  # an empty journal: the first run starts from now
    write_journal(folder, export_file("web1-after.export"))
    write_journal(folder, export_file("db2.export"), name="db2.journal")
    result = journal_run(tmp_path / "state", folder, "--from-start", config=config)
    assert result.status == 0, result.stderr
    by_title = {form["title"]: form["message"] for form in sent_forms(pushover)}
    assert by_title == {
        "web1: SSH login alice from 192.0.2.10": by_title["web1: SSH login alice from 192.0.2.10"],
        "web1: 1 sudo/su use": "sudo: alice as root: /usr/bin/systemctl restart nginx",
        "db2: 1 sudo/su use (1 failed)": "su FAILED: bob as postgres",
        "db2: 1 failed login from 1 address": (
            "1 failed login (1 invalid user) from 1 address\nIPs: 2001:db8::66 ×1\nUsers: oracle ×1"
        ),
    }


def test_a_vanished_entry_falls_back_to_its_time_and_says_so(
    tmp_path, folder, config_file, pushover
):
    config = config_file()
    write_journal(folder, export_file("web1-before.export"), name="old.journal")
    assert journal_run(tmp_path / "state", folder, config=config).status == 0
    (folder / "old.journal").unlink()  # vacuumed
    write_journal(folder, export_file("web1-after.export"), name="new.journal")

    result = journal_run(tmp_path / "state", folder, config=config)
    assert result.status == 0
    assert "may be missing" in result.stderr
    first, second = sent_forms(pushover)
    assert first["message"].startswith(
        "Note: the journal entry read last is gone (vacuumed or rotated away):"
        " entries since 2026-11-27 11:01:00 may be missing\n"
        + NO_MEMORY_NOTE
        + "Method: publickey\n"
    )
    assert second["title"] == "web1: 1 sudo/su use"
    assert journal_run(tmp_path / "state", folder, config=config).stderr == ""
    assert len(pushover.log) == 2


def test_a_cursor_of_the_right_form_that_systemd_refuses_counts_as_gone(
    tmp_path, folder, config_file, pushover
):
    write_journal(folder, export_file("web1-after.export"))
    state = tmp_path / "state"
    assert journal_run(state, folder, config=config_file()).status == 0  # stores a position
    [path] = list(state.glob("journal*.position"))
    position = json.loads(path.read_text())
    path.write_text(json.dumps({**position, "cursor": "s=1;i=1;b=1;m=1;t=1;x=1"}))
    result = journal_run(state, folder, "--dry-run")
    assert result.status == 0, result.stderr
    assert "the journal entry read last is gone" in result.stderr


def test_field_values_that_are_not_utf8_are_replaced(tmp_path, folder):
    write_journal(
        folder,
        export_entry(
            {
                "__REALTIME_TIMESTAMP": "1795777200000000",
                "_HOSTNAME": b"web\xff1",
                "SYSLOG_IDENTIFIER": "sshd",
                "SYSLOG_FACILITY": "4",
                "_PID": "31",
                "MESSAGE": b"Invalid user \xc3\x28admin from 203.0.113.9 port 4000",
            }
        ),
    )
    result = journal_run(tmp_path / "state", folder, "--dry-run", "--json", "--from-start")
    assert result.status == 0, result.stderr
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (event["host"], event["kind"], event["user"], event["ip"]) == (
        "web\ufffd1",
        "invalid_user",
        "\ufffd(admin",
        "203.0.113.9",
    )


def test_a_failed_delivery_keeps_the_cursor(tmp_path, folder, config_file, httpserver):
    config = config_file()
    write_journal(folder, export_file("web1-before.export"))
    journal_run(tmp_path / "state", folder, config=config)
    write_journal(folder, export_file("web1-after.export"))
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_data("", status=502)
    assert journal_run(tmp_path / "state", folder, config=config).status == 1
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    assert journal_run(tmp_path / "state", folder, config=config).status == 0
    failed, *sent = sent_forms(httpserver)
    assert failed == sent[0]
    assert [form["title"] for form in sent] == [
        "web1: SSH login alice from 192.0.2.10",
        "web1: 1 sudo/su use",
    ]


def test_auto_reads_the_log_file_when_there_is_one_else_the_journal(
    tmp_path, folder, config_file, monkeypatch
):
    write_journal(folder, export_file("web1-after.export"))
    log = tmp_path / "auth.log"  # stands for the system's /var/log/auth.log
    monkeypatch.setattr(authwatch, "DEFAULT_LOG_PATHS", (str(log),))
    config = config_file(f"[source]\njournal_dir = {folder}\n")
    journal = run_main("--config", config, "--dry-run", "--from-start", "-v")
    assert journal.status == 0, journal.stderr
    assert f"reading journal files in {folder} (source type auto)" in journal.stderr
    assert "=== web1: SSH login alice from 192.0.2.10 [priority 1]" in journal.stdout

    log.write_text("Nov 27 11:00:00 web9 su[1]: (to root) bob on pts/0\n")
    file = run_main("--config", config, "--dry-run", "--from-start", "-v")
    assert f"reading log file {log} (source type auto)" in file.stderr
    assert "=== web9: 1 sudo/su use [priority 0]" in file.stdout


def test_without_systemd_python_a_journal_run_says_how_to_install_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "systemd", None)  # import systemd now fails
    result = journal_run(tmp_path / "state", tmp_path, "--dry-run")
    assert result.status == authwatch.ExitStatus.SOURCE_ERROR
    assert result.stderr == (
        "authwatch: error: reading the journal needs systemd-python:"
        " pip install 'authwatch[journald]' (with libsystemd-dev and pkg-config),"
        " or apt install python3-systemd\n"
    )


def test_entries_that_arrive_late_are_still_sent_once(tmp_path, folder, config_file, pushover):
    config = config_file()
    write_journal(folder, export_file("web1-before.export"))
    journal_run(tmp_path / "state", folder, config=config)
    write_journal(folder, export_file("web1-after.export"))
    journal_run(tmp_path / "state", folder, config=config)
    assert len(pushover.log) == 2
    # db2's log host delivers entries older than web1's newest one
    write_journal(folder, export_file("db2.export"), name="db2.journal")
    assert journal_run(tmp_path / "state", folder, config=config).status == 0
    assert [form["title"] for form in sent_forms(pushover)[2:]] == [
        "db2: 1 sudo/su use (1 failed)",
        "db2: 1 failed login from 1 address",
    ]
    assert journal_run(tmp_path / "state", folder, config=config).status == 0
    assert len(pushover.log) == 4


def test_the_gap_note_is_sent_once(tmp_path, folder, config_file, pushover):
    config = config_file()
    write_journal(folder, export_file("web1-before.export"), name="old.journal")
    journal_run(tmp_path / "state", folder, config=config)
    (folder / "old.journal").unlink()
    write_journal(folder, b"", name="new.journal")
    first = journal_run(tmp_path / "state", folder, config=config)
    assert "may be missing" in first.stderr
    [notice] = sent_forms(pushover)
    assert notice["title"].endswith(": authwatch notice")
    again = journal_run(tmp_path / "state", folder, config=config)
    assert (again.status, again.stderr) == (0, "")
    assert len(pushover.log) == 1


def test_a_corrupt_journal_position_rereads_from_its_last_change(
    tmp_path, folder, config_file, pushover
):
    config = config_file()
    write_journal(folder, export_file("web1-before.export"))
    journal_run(tmp_path / "state", folder, config=config)
    write_journal(folder, export_file("web1-after.export"))
    position = tmp_path / "state" / position_name(folder)
    position.write_text("{not json")
    # the entries are from 2026-11-27 11:05; the file changed "now", after them:
    changed = 1795777500 + 300  # written 5 minutes after the login at 11:05
    os.utime(position, (changed, changed))
    result = journal_run(tmp_path / "state", folder, config=config)
    assert result.status == 0
    assert f"{position} is corrupt: the position was reset" in result.stderr
    # from 5 minutes before the last change: the login and the sudo again, not
    # the failed login of 11:00
    login, sudo = sent_forms(pushover)
    assert login["message"].startswith(f"Note: {position} is corrupt")
    assert sudo["title"] == "web1: 1 sudo/su use"


@pytest.fixture
def unreadable_journal(public_tmp):
    """Journal files that root alone may read, in a folder every user may enter."""
    folder = public_tmp / "journal"
    write_journal(folder, export_file("web1-before.export"))
    os.chmod(folder / "remote.journal", 0o600)
    os.chmod(folder, 0o755)
    return folder


def test_journal_files_nobody_may_read_are_a_clear_error(unreadable_journal):
    folder = unreadable_journal
    assert_nobody_may_not_read(
        f"the journal files in {folder}",
        "systemd-journal or adm",
        "--journal-dir",
        str(folder),
        "--dry-run",
    )


def test_auto_with_a_log_it_may_not_read_says_why_and_reads_no_journal(
    public_tmp, unreadable_journal
):
    log = root_only(public_tmp / "auth.log")
    config = public_tmp / "a.ini"
    config.write_text(f"[source]\npath = {log}\njournal_dir = {unreadable_journal}\n")
    os.chmod(config, 0o644)
    assert_nobody_may_not_read(log, "adm", "--config", str(config), "--dry-run")


def test_auto_with_a_log_named_wrongly_is_an_error(tmp_path, config_file):
    config = config_file(f"[source]\npath = {tmp_path / 'auht.log'}\n")
    result = run_main("--config", config, "--dry-run")
    assert result.status == authwatch.ExitStatus.SOURCE_ERROR
    assert (
        result.stderr
        == f"authwatch: error: cannot read {tmp_path / 'auht.log'}: No such file or directory\n"
    )


def test_auto_with_no_log_and_no_journal_files_is_an_error(tmp_path, config_file, monkeypatch):
    monkeypatch.setattr(authwatch, "DEFAULT_LOG_PATHS", (str(tmp_path / "auth.log"),))
    empty = tmp_path / "journal"
    empty.mkdir()
    config = config_file(f"[source]\njournal_dir = {empty}\n")
    result = run_main("--config", config, "--dry-run")
    assert result.status == authwatch.ExitStatus.SOURCE_ERROR
    assert result.stderr.startswith(f"authwatch: error: no journal files in {empty}")


def test_the_programs_the_rules_know_are_read_whatever_their_facility(tmp_path, folder):
    # dropbear under procd/systemd with -E: its stderr (facility daemon) with its own stamp
    # (dbutil.c: "[%d] %s %s"), doas (facility auth, but not in every build) and a program
    # no rule knows, on the daemon facility: only the first two are read
    entries = [
        {"SYSLOG_IDENTIFIER": "dropbear", "SYSLOG_FACILITY": "3", "_PID": "900",
         "MESSAGE": "[901] Nov 26 19:00:00 Bad password attempt for 'root' from 192.0.2.9:4000"},
        {"SYSLOG_IDENTIFIER": "doas", "SYSLOG_FACILITY": "1",
         "MESSAGE": "alice ran command /bin/true as root from /home/alice"},
        {"SYSLOG_IDENTIFIER": "nginx", "SYSLOG_FACILITY": "3", "_PID": "902",
         "MESSAGE": "Failed password for root from 192.0.2.10 port 1 ssh2"},
    ]  # fmt: skip
    export = b"".join(
        export_entry(
            {"__REALTIME_TIMESTAMP": 1795777200000000 + index, "_HOSTNAME": "web1", **entry}
        )
        for index, entry in enumerate(entries)
    )
    write_journal(folder, export)
    result = journal_run(tmp_path / "state", folder, "--dry-run", "--json", "--from-start")
    assert result.status == 0, result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(e["program"], e["pid"], e["kind"], e["user"], e["ip"]) for e in events] == [
        ("dropbear", 901, "login_failed", "root", "192.0.2.9"),
        ("doas", None, "sudo", "alice", None),
    ]


def test_a_line_that_claims_a_program_that_did_not_write_it_is_reported_as_forged(tmp_path, folder):
    # as a real sshd, sudo and su on Debian 12 write them: sudo's and su's entries
    # carry the invoking user's _UID; sshd's are root's, whose _COMM is missing
    # when the process ended before journald looked (see test_identity.py); of
    # another machine (no _MACHINE_ID), whose users may have mounted another
    # program over /usr/bin/sudo: unverified
    entries = [
        {"SYSLOG_IDENTIFIER": "sshd", "_COMM": "logger", "_EXE": "/usr/bin/logger",
         "_UID": "1000", "_PID": "700",
         "MESSAGE": "Accepted password for root from 6.6.6.6 port 22 ssh2"},
        {"SYSLOG_IDENTIFIER": "sshd", "_PID": "701", "_UID": "0",
         "MESSAGE": "Accepted password for alice from 192.0.2.10 port 4000 ssh2"},
        {"SYSLOG_IDENTIFIER": "sshd-session", "_COMM": "sshd-session", "_PID": "702",
         "_EXE": "/usr/lib/openssh/sshd-session", "_UID": "0",
         "MESSAGE": "Accepted password for bob from 192.0.2.11 port 4001 ssh2"},
        {"SYSLOG_IDENTIFIER": "sudo", "_COMM": "sudo", "_EXE": "/usr/bin/sudo", "_UID": "1000",
         "_PID": "703",
         "MESSAGE": "   alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/id"},
        {"SYSLOG_IDENTIFIER": "sudo", "_COMM": "python3", "_EXE": "/usr/bin/python3.11",
         "_UID": "1001", "_PID": "704",
         "MESSAGE": "   mallory : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/usr/bin/true"},
    ]  # fmt: skip
    export = b"".join(
        export_entry(
            {
                "__REALTIME_TIMESTAMP": 1795777200000000 + n,
                "_HOSTNAME": "web1",
                "SYSLOG_FACILITY": "10",
                **entry,
            }
        )  # fmt: skip
        for n, entry in enumerate(entries)
    )
    write_journal(folder, export)
    result = journal_run(tmp_path / "state", folder, "--dry-run", "--from-start")
    assert result.status == 0, result.stderr
    out = result.stdout
    assert "=== web1: SSH login alice from 192.0.2.10 [priority 1]" in out
    assert "=== web1: SSH login bob from 192.0.2.11 [priority 1]" in out
    assert "SSH login root" not in out and "as root: /usr/bin/true" not in out
    assert "=== web1: 2 forged lines [priority 1]" in out
    assert (
        "Forged: sshd line written by logger (uid 1000): Accepted password for root from 6.6.6.6"
        in out
    )
    assert "Forged: sudo line written by python3 (uid 1001):    mallory : TTY=pts/1" in out
    assert "sudo: alice as root: /usr/bin/id (unverified)" in out
    as_json = journal_run(tmp_path / "state", folder, "--dry-run", "--json", "--from-start")
    forged = [event for event in map(json.loads, as_json.stdout.splitlines()) if event["forger"]]
    assert [(event["kind"], event["forger"], event["command"]) for event in forged] == [
        ("forged", "logger (uid 1000)", None),
        (
            "sudo",
            "uid 1000 as /usr/bin/sudo, a path that a user may mount another program over",
            "/usr/bin/id",
        ),
        ("forged", "python3 (uid 1001)", "/usr/bin/true"),
    ]


def test_a_run_reads_to_the_entry_that_was_newest_when_it_began(tmp_path, folder):
    # systemd-journal-remote appends to the same file while the run reads it
    def entries(user, count, first):
        return b"".join(
            export_entry(
                {
                    "__REALTIME_TIMESTAMP": 1795777200000000 + first + n,
                    "_HOSTNAME": "web1",
                    "SYSLOG_IDENTIFIER": "sshd",
                    "SYSLOG_FACILITY": "4",
                    "_PID": str(1000 + n),
                    "MESSAGE": f"Failed password for {user} from 192.0.2.1 port 1 ssh2",
                }
            )  # fmt: skip
            for n in range(count)
        )

    write_journal(folder, entries("early", 20_000, 0))
    users = users_read_while_written(
        tmp_path,
        ["--journal-dir", str(folder), "--state-dir", str(tmp_path / "state")],
        lambda batch: write_journal(folder, entries("late", 5_000, 100_000 + batch * 5_000)),
        20,
    )
    assert set(users) == {"early"}


@pytest.mark.parametrize(
    "fields",
    [
        {"SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_EXE": "/tmp/sshd"},
        {"SYSLOG_IDENTIFIER": "sshd", "_COMM": "sshd", "_EXE": "/usr/../tmp/sshd"},
        {"SYSLOG_IDENTIFIER": "sshd-auth", "_COMM": "logger", "_EXE": "/usr/bin/logger"},
    ],
    ids=["a copy in /tmp", "a path that climbs out", "an sshd-auth by logger"],
)
def test_a_program_of_the_right_name_in_the_wrong_place_is_a_forger(tmp_path, folder, fields):
    entry = {
        "__REALTIME_TIMESTAMP": 1795777200000000, "_HOSTNAME": "web1", "SYSLOG_FACILITY": "4",
        "_PID": "800", "_UID": "1000",
        "MESSAGE": "Accepted password for root from 6.6.6.6 port 22 ssh2", **fields,
    }  # fmt: skip
    write_journal(folder, export_entry(entry))
    result = journal_run(tmp_path / "state", folder, "--dry-run", "--from-start")
    assert "SSH login root" not in result.stdout
    assert "=== web1: 1 forged line [priority 1]" in result.stdout


DAMAGED_POSITIONS = {
    "a number too large for a float": '{"cursor": null, "realtime": 1, "seen": {"a": [1e400, 1]}}',
    "deep nesting": "[" * 100_000 + "]" * 100_000,
    "no cursor": '{"cursor": "x", "realtime": 1}',
    "a time far ahead": '{"cursor": null, "realtime": 9223372036854775807}',
}


@pytest.mark.parametrize("text", DAMAGED_POSITIONS.values(), ids=DAMAGED_POSITIONS.keys())
def test_a_damaged_journal_position_is_reset_with_a_notice(
    tmp_path, folder, config_file, pushover, text
):
    write_journal(folder, export_file("web1-after.export"))
    state = tmp_path / "state"
    assert journal_run(state, folder, config=config_file()).status == 0  # stores a position
    [position] = list(state.glob("journal*.position"))
    position.write_text(text)
    result = journal_run(state, folder, "--dry-run")
    assert result.status == 0, result.stderr
    assert "corrupt" in result.stderr
