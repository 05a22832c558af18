"""The state directory and its files are trusted input: another user's, or
one that others may write, is refused; whatever a state file holds is moved
aside or ignored with a notice, never a crash, and names no file to write but
authwatch's own."""

import json
import os
import shutil

import pytest
from helpers import LOGIN, TOKEN, USER_KEY, append, cron_run, run_as_nobody, sent_forms

from authwatch import ExitStatus


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to give a folder to another user")
def test_a_state_directory_of_another_user_is_refused(tmp_path, auth_log, config_file):
    config = config_file()
    state = tmp_path / "state"
    state.mkdir()
    os.chown(state, 65534, 65534)  # nobody's: it could have put anything there
    result = cron_run(config, auth_log)
    assert result.status == ExitStatus.STATE_ERROR
    [line] = result.stderr.splitlines()
    assert f"{state} belongs to uid 65534, not to this user" in line


def test_a_state_directory_others_may_write_is_refused(tmp_path, auth_log, config_file):
    config = config_file()
    state = tmp_path / "state"
    state.mkdir()
    state.chmod(0o777)
    result = cron_run(config, auth_log)
    assert result.status == ExitStatus.STATE_ERROR
    assert f"{state} may be written by other users" in result.stderr


def test_the_outbox_names_no_file_to_write_but_the_source_s_own(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0
    elsewhere = tmp_path / "cron.d-x"  # stands for /etc/cron.d/x
    outbox = tmp_path / "state" / "outbox.json"
    outbox.write_text(json.dumps({"messages": [], "positions": {str(elsewhere): "* * * * * x\n"}}))
    outbox.chmod(0o600)
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert not elsewhere.exists()
    assert "not this source's: ignored" in result.stderr


HOSTILE_OUTBOXES = {
    "a priority of the wrong type": {
        "messages": [{"host": "h", "title": "t", "body": "b", "priority": "1", "timestamp": None}]
    },
    "a priority out of range": {
        "messages": [{"host": "h", "title": "t", "body": "b", "priority": 9, "timestamp": None}]
    },
    "parts that are no list": {
        "messages": [
            {"host": "h", "title": "t", "body": "b", "priority": 0, "timestamp": 1, "parts": 5}
        ]
    },
    "a memory note of a time past any clock": {
        "messages": [
            {
                "host": "h", "title": "t", "body": "b", "priority": 0, "timestamp": 1,
                "notes": [[["▶ t"], "h", "alice", ["net:192.0.2.0/24"], 1, 2**40, 1, ""]],
            }
        ]
    },
    "a memory note of an origin of no kind": {
        "messages": [
            {
                "host": "h", "title": "t", "body": "b", "priority": 0, "timestamp": 1,
                "notes": [[["▶ t"], "h", "alice", ["/etc/cron.d/x"], 1, 2, 1, ""]],
            }
        ]
    },
    "a vital act counted in text": {
        "messages": [
            {
                "host": "h", "title": "t", "body": "b", "priority": 0, "timestamp": 1,
                "vital": [["h", "sudo", "alice", "root", None, "1"]],
            }
        ]
    },
    "deep nesting": None,
    "more titles than a message folds": {
        "messages": [
            {
                "host": "h",
                "title": "t",
                "body": "b",
                "priority": 0,
                "timestamp": 1,
                "parts": ["t"] * 501,
            }
        ]
    },
    "a title longer than Pushover's": {
        "messages": [
            {
                "host": "h",
                "title": "t" * 251,
                "body": "b",
                "priority": 0,
                "timestamp": 1,
                "parts": [],
            }
        ]
    },
    "larger than authwatch writes": {"messages": [], "notices": ["n" * 64 * 1024 * 1024]},
}  # fmt: skip


@pytest.mark.parametrize("content", HOSTILE_OUTBOXES.values(), ids=HOSTILE_OUTBOXES.keys())
def test_a_hostile_outbox_is_moved_aside_and_what_is_new_is_sent(
    tmp_path, auth_log, config_file, pushover, content
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0
    outbox = tmp_path / "state" / "outbox.json"
    text = json.dumps(content) if content else "[" * 100_000 + "]" * 100_000
    outbox.write_text(text)
    outbox.chmod(0o600)
    append(auth_log, LOGIN)
    result = cron_run(config, auth_log)
    assert result.status == 0, result.stderr
    assert "was damaged and moved to" in result.stderr
    titles = [form["title"] for form in sent_forms(pushover)]
    assert titles == ["web1: SSH login awtest from 203.0.113.9"]
    assert (tmp_path / "state" / "outbox.json.damaged").exists()


def test_a_position_beyond_any_file_is_corrupt_and_the_log_is_read_again(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    append(auth_log, LOGIN)
    assert cron_run(config, auth_log).status == 0
    [position] = [path for path in (tmp_path / "state").iterdir() if path.suffix == ".offset"]
    inode = position.read_text().split()[0]
    position.write_text(f"{inode}\n100000000000000000000\n")
    result = cron_run(config, auth_log)
    assert result.status == 0, result.stderr
    assert "corrupt" in result.stderr


def test_a_quota_reset_far_in_the_future_is_damage_not_a_reason_to_be_silent(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0
    quota = tmp_path / "state" / "pushover.json"
    quota.write_text(json.dumps({"limit": 10000, "remaining": 0, "reset": 4_000_000_000}))
    quota.chmod(0o600)
    append(auth_log, LOGIN)
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert f"{quota} was damaged and moved to {quota}.damaged" in result.stderr
    assert [form["title"] for form in sent_forms(pushover)] == [
        "web1: SSH login awtest from 203.0.113.9"
    ]


def test_a_state_directory_behind_roots_link_is_its_targets_as_systemd_makes_it(public_tmp):
    # StateDirectory= with DynamicUser=: /var/lib/authwatch -> private/authwatch
    private = public_tmp / "private" / "authwatch"
    private.mkdir(parents=True, mode=0o700)
    shutil.chown(private, "nobody", "nogroup")
    link = public_tmp / "authwatch"
    link.symlink_to(private)
    log = public_tmp / "auth.log"
    log.write_text("")
    log.chmod(0o644)
    config = public_tmp / "authwatch.ini"
    config.write_text(
        f"[pushover]\ntoken = {TOKEN}\nuser = {USER_KEY}\napi_url = http://127.0.0.1:9/1/m\n"
    )
    config.chmod(0o600)
    shutil.chown(config, "nobody", "nogroup")
    result = run_as_nobody("--config", str(config), "--log", str(log), "--state-dir", str(link))
    assert (result.returncode, result.stderr) == (0, "")
    assert [path.suffix for path in private.iterdir() if path.name != "lock"] == [".offset"]


def test_what_a_message_tells_and_will_teach_survives_the_outbox(tmp_path):
    from authwatch import MemoryNote, Message, Outbox, read_outbox, write_outbox

    note = MemoryNote(("▶ h: t",), "h", "alice", ("net:192.0.2.0/24",), 1, 2, 1, "")
    vital = (("h", "sudo", "alice", "root", None, 2),)
    message = Message("h", "h: t", "b", 0, 1, vital=vital, notes=(note,), privilege=True)
    write_outbox(str(tmp_path), Outbox([message], [], {}))
    assert read_outbox(str(tmp_path)).messages == [message]
