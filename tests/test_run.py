"""Whole runs of authwatch as cron makes them: real log files, real rotation
with logrotate, and a real HTTP server on 127.0.0.1 standing in for Pushover.
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
from helpers import (
    ALICE_LOGIN,
    MAIN,
    NO_MEMORY_NOTE,
    NOW,
    alice_login_event,
    alice_login_form,
    append,
    assert_nobody_may_not_read,
    cron_run,
    form,
    root_only,
    rotate,
    run_main,
    sent_forms,
    users_read_while_written,
)

import authwatch

FAILURE = (
    "Nov 27 11:57:00 web1 sshd[4240]: Failed password for root from 198.51.100.7 port 40022 ssh2"
)
NOISE = "Nov 27 11:57:01 web1 CRON[4241]: pam_unix(cron:session): session opened for user root"
SUDO = (
    "Nov 27 11:59:30 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ;"
    " COMMAND=/usr/bin/systemctl restart nginx"
)


@pytest.fixture
def installed_log(tmp_path):
    """An auth.log that already holds old lines, as on an installed machine."""
    path = tmp_path / "log" / "auth.log"
    path.parent.mkdir()
    append(
        path, "Nov 20 10:00:00 web1 sshd[1]: Failed password for root from 203.0.113.1 port 1 ssh2"
    )
    return path


def test_first_run_starts_at_the_end_and_later_runs_send_only_new_lines(
    installed_log, config_file, pushover
):
    config = config_file()
    first = cron_run(config, installed_log, "-v")
    assert first.status == 0
    assert "starting at its end" in first.stderr
    assert sent_forms(pushover) == []

    append(installed_log, FAILURE, NOISE, ALICE_LOGIN)
    second = cron_run(config, installed_log)
    assert (second.status, second.stdout, second.stderr) == (0, "", "")
    assert sent_forms(pushover) == [
        alice_login_form("2026-11-27 11:58:01", int(NOW.timestamp()) - 119),
        form(
            "web1: 1 failed login from 1 address",
            "1 failed login from 1 address\nIPs: 198.51.100.7 ×1\nUsers: root ×1",
            -1,
            int(NOW.timestamp()) - 180,
        ),
    ]

    third = cron_run(config, installed_log)
    assert (third.status, third.stdout, third.stderr) == (0, "", "")
    assert len(pushover.log) == 2


def test_only_noise_sends_nothing_and_moves_on(installed_log, config_file, pushover):
    config = config_file()
    cron_run(config, installed_log)
    append(installed_log, NOISE, NOISE)
    assert cron_run(config, installed_log).status == 0
    append(installed_log, SUDO)
    assert cron_run(config, installed_log).status == 0
    [form] = sent_forms(pushover)
    assert form["message"] == "sudo: alice as root: /usr/bin/systemctl restart nginx"
    assert form["priority"] == "0"


def test_failed_delivery_keeps_the_lines_for_the_next_run(installed_log, config_file, httpserver):
    config = config_file()
    cron_run(config, installed_log)
    append(installed_log, ALICE_LOGIN)

    httpserver.expect_oneshot_request("/1/messages.json").respond_with_data("down", status=503)
    failed = cron_run(config, installed_log)
    assert failed.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert failed.stderr.count("\n") == 1
    assert "HTTP 503" in failed.stderr and "Traceback" not in failed.stderr

    httpserver.expect_oneshot_request("/1/messages.json").respond_with_json(
        {"token": "invalid", "errors": ["application token is invalid"], "status": 0}, status=400
    )
    refused = cron_run(config, installed_log)
    assert refused.status == authwatch.ExitStatus.CONFIG_ERROR
    assert refused.stderr == (
        "authwatch: error: Pushover refused [pushover] token (HTTP 400):"
        " application token is invalid\n"
    )

    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "y"})
    assert cron_run(config, installed_log).status == 0
    forms = sent_forms(httpserver)
    assert len(forms) == 3
    assert forms[0] == forms[1] == forms[2]
    assert forms[2]["title"] == "web1: SSH login alice from 192.0.2.10"
    assert cron_run(config, installed_log).status == 0
    assert len(httpserver.log) == 3


def test_unreachable_pushover_is_one_line_and_keeps_the_lines(installed_log, config_file, pushover):
    config = config_file(api_url="http://127.0.0.1:9/1/messages.json")  # nothing listens
    cron_run(config, installed_log)
    append(installed_log, ALICE_LOGIN)
    result = cron_run(config, installed_log)
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert result.stderr == (
        "authwatch: error: cannot reach Pushover at http://127.0.0.1:9/1/messages.json:"
        " Connection refused\n"
    )
    assert cron_run(config_file(), installed_log).status == 0
    [form] = sent_forms(pushover)
    assert form["title"] == "web1: SSH login alice from 192.0.2.10"


def test_a_half_written_line_waits_for_the_next_run(installed_log, config_file, pushover):
    config = config_file()
    cron_run(config, installed_log)
    with open(installed_log, "a") as file:
        file.write(ALICE_LOGIN[:60])
    assert cron_run(config, installed_log).status == 0
    assert sent_forms(pushover) == []
    with open(installed_log, "a") as file:
        file.write(ALICE_LOGIN[60:] + "\n")
    assert cron_run(config, installed_log).status == 0
    [form] = sent_forms(pushover)
    assert form["title"] == "web1: SSH login alice from 192.0.2.10"


@pytest.mark.skipif(not shutil.which("logrotate"), reason="needs the logrotate binary")
def test_rename_rotation_between_runs_loses_and_repeats_nothing(
    tmp_path, installed_log, config_file, pushover
):
    config = config_file()
    cron_run(config, installed_log)
    append(installed_log, FAILURE)  # unread when the log is rotated
    rotate(tmp_path, installed_log, "  create\n  compress\n  delaycompress")
    assert os.path.exists(f"{installed_log}.1")
    append(installed_log, ALICE_LOGIN)

    assert cron_run(config, installed_log).status == 0
    assert [form["title"] for form in sent_forms(pushover)] == [
        "web1: SSH login alice from 192.0.2.10",
        "web1: 1 failed login from 1 address",
    ]
    assert cron_run(config, installed_log).status == 0
    assert len(pushover.log) == 2


def test_dry_run_prints_the_message_and_stores_nothing(
    tmp_path, installed_log, config_file, pushover
):
    config = config_file()
    cron_run(config, installed_log)
    position_files = sorted(os.listdir(tmp_path / "state"))
    before = {name: (tmp_path / "state" / name).read_bytes() for name in position_files}
    append(installed_log, ALICE_LOGIN, SUDO)

    dry = cron_run(config, installed_log, "--dry-run")
    assert dry.status == 0
    assert dry.stdout == (
        "=== web1: SSH login alice from 192.0.2.10 [priority 1]\n"
        + NO_MEMORY_NOTE
        + "Method: publickey\n"
        "Key: ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk\n"
        "From: 192.0.2.10 port 52144\n"
        "Time: 2026-11-27 11:58:01 +0000\n\n"
        "=== web1: 1 sudo/su use [priority 0]\n"
        "sudo: alice as root: /usr/bin/systemctl restart nginx\n\n"
    )
    assert sent_forms(pushover) == []
    after = {name: (tmp_path / "state" / name).read_bytes() for name in position_files}
    assert after == before
    assert sorted(os.listdir(tmp_path / "state")) == position_files  # no memory of logins

    assert cron_run(config, installed_log).status == 0
    assert [form["title"] for form in sent_forms(pushover)] == [
        "web1: SSH login alice from 192.0.2.10",
        "web1: 1 sudo/su use",
    ]


def test_dry_run_needs_no_config_and_no_state(tmp_path, installed_log):
    append(installed_log, ALICE_LOGIN)
    result = run_main(
        "--dry-run",
        "--from-start",
        "--log",
        str(installed_log),
        "--state-dir",
        str(tmp_path / "none"),
    )
    assert result.status == 0
    assert "=== web1: SSH login alice from 192.0.2.10 [priority 1]" in result.stdout
    assert "=== web1: 1 failed login from 1 address [priority -1]" in result.stdout
    assert not (tmp_path / "none").exists()


def test_dry_run_json_prints_one_object_per_event_and_no_noise(installed_log):
    append(installed_log, NOISE, ALICE_LOGIN)
    result = run_main("--dry-run", "--json", "--from-start", "--log", str(installed_log))
    assert result.status == 0
    events = [json.loads(line) for line in result.stdout.splitlines()]
    assert [event["kind"] for event in events] == ["login_failed", "login"]
    assert events[1] == alice_login_event("2026-11-27T11:58:01+00:00", "sshd", 4242, ALICE_LOGIN)


def test_from_start_reads_what_a_first_run_would_skip(installed_log, config_file, pushover):
    result = cron_run(config_file(), installed_log, "--from-start")
    assert result.status == 0
    [form] = sent_forms(pushover)
    assert form["title"] == "web1: 1 failed login from 1 address"
    assert form["priority"] == "-1"


def test_a_missing_log_is_one_line_and_exit_3(tmp_path, config_file):
    result = cron_run(config_file(), tmp_path / "nope.log")
    assert result.status == authwatch.ExitStatus.SOURCE_ERROR == 3
    assert result.stderr == (
        f"authwatch: error: cannot read {tmp_path / 'nope.log'}: No such file or directory\n"
    )


def test_an_unusable_state_dir_is_one_line_and_exit_4(tmp_path, installed_log, config_file):
    blocker = tmp_path / "file"
    blocker.write_text("")
    result = cron_run(config_file(), installed_log, "--state-dir", str(blocker))
    assert result.status == authwatch.ExitStatus.STATE_ERROR == 4
    assert result.stderr.startswith(f"authwatch: error: cannot create state directory {blocker}")
    assert result.stderr.count("\n") == 1


@pytest.mark.parametrize("damage", ["garbage", "", "12 -5\n", "1\n2\n3\n4\n", "\xff\xfe"])
def test_a_corrupt_position_file_is_named_and_the_log_read_again(
    tmp_path, installed_log, config_file, pushover, damage
):
    config = config_file()
    cron_run(config, installed_log)
    append(installed_log, ALICE_LOGIN)
    [position] = [path for path in (tmp_path / "state").iterdir() if path.suffix == ".offset"]
    position.write_bytes(damage.encode("latin-1"))
    result = cron_run(config, installed_log)
    assert result.status == 0
    assert result.stderr == (
        f"authwatch: {position} is corrupt: the position was reset; {installed_log} is read from"
        " its start\n"
    )
    login, failure = sent_forms(pushover)  # the old line again, and nothing lost
    note, no_memory, method, *_ = login["message"].splitlines()
    assert note.startswith(f"Note: {position} is corrupt: the position was reset")
    assert no_memory + "\n" == NO_MEMORY_NOTE
    assert method == "Method: publickey"
    assert failure["title"] == "web1: 1 failed login from 1 address"
    assert cron_run(config, installed_log).stderr == ""
    assert len(pushover.log) == 2


def test_the_script_runs_as_a_program_without_tracebacks(tmp_path):
    script = os.path.join(os.path.dirname(authwatch.__file__), "authwatch.py")
    missing = subprocess.run(
        [sys.executable, script, "--dry-run", "--log", str(tmp_path / "missing")],
        capture_output=True,
        text=True,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert missing.returncode == 3
    assert missing.stderr.startswith("authwatch: error: cannot read")
    assert "Traceback" not in missing.stderr

    usage = subprocess.run([sys.executable, script, "--json"], capture_output=True, text=True)
    assert usage.returncode == 2
    assert usage.stderr == "authwatch: error: --json goes with --dry-run (see --help)\n"


def test_a_log_nobody_may_read_is_one_line_with_a_hint(public_tmp):
    log = root_only(public_tmp / "auth.log")
    assert_nobody_may_not_read(log, "adm", "--log", str(log), "--dry-run")


@pytest.mark.parametrize("kind", ["fifo", "link to /dev/zero", "folder"])
def test_a_log_that_is_no_regular_file_is_refused_at_once(tmp_path, kind):
    # a FIFO would hold the run (and its lock) for ever, /dev/zero never ends
    log = tmp_path / "auth.log"
    if kind == "fifo":
        os.mkfifo(log)
    elif kind == "folder":
        log.mkdir()
    else:
        log.symlink_to("/dev/zero")
    done = subprocess.run(
        [sys.executable, "-c", MAIN, "--dry-run", "--from-start", "--log", str(log)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == authwatch.ExitStatus.SOURCE_ERROR
    [line] = done.stderr.splitlines()
    assert line.startswith(f"authwatch: error: cannot read {log}: ")


def test_a_run_reads_to_the_end_the_log_had_when_it_began(tmp_path):
    # a flood (or a busy log host) writing faster than a run reads must not
    # hold the run, and its lock, for ever: what comes later is the next run's
    log = tmp_path / "auth.log"
    line = "Nov 27 11:00:00 web1 sshd[{}]: Failed password for {} from 192.0.2.1 port 1 ssh2\n"
    log.write_text("".join(line.format(1000 + n, "early") for n in range(20_000)))
    late = line.format(9, "late") * 1000

    def write_late(_):
        with open(log, "a") as writer:
            writer.write(late)

    # bounded: until the run ends, or 200 MB
    users = users_read_while_written(tmp_path, ["--log", str(log)], write_late, 2500)
    assert users == ["early"] * 20_000
