"""Rotation between two runs, by the real logrotate, in every scheme that
distributions use: lines written just before the rotation (still unread)
and just after it are each sent once."""

import os
import shutil

import pytest
from helpers import append, cron_run, rotate, sent_forms

pytestmark = pytest.mark.skipif(not shutil.which("logrotate"), reason="needs logrotate")


def line(n, user):
    return f"Nov 27 11:5{n}:00 web1 su[{700 + n}]: (to root) {user} on pts/{n}"


def users_sent(server):
    """Return who the sent su summaries name, in order, one per su line."""
    names = []
    for form in sent_forms(server):
        for text in form["message"].splitlines():
            if text.startswith("su: "):
                user, _, count = text[4:].partition(" as root")
                names += [user] * int(count.strip(" ×") or 1)
    return names


@pytest.fixture
def log(tmp_path):
    path = tmp_path / "log" / "auth.log"
    path.parent.mkdir()
    append(path, line(0, "old"))
    return path


@pytest.fixture
def run(log, config_file):
    """Return a function that runs authwatch on log as cron does."""
    config = config_file()
    return lambda: cron_run(config, log)


SCHEMES = {
    "debian: create, compress, delaycompress": "  create\n  compress\n  delaycompress",
    "create, compress without delaycompress": "  create\n  compress",
    "rhel: dateext, create": "  dateext\n  create",
    "dateext, create, compress": "  dateext\n  create\n  compress",
    "copytruncate": "  copytruncate",
    "copytruncate, compress": "  copytruncate\n  compress",
    "copytruncate, compress, delaycompress": "  copytruncate\n  compress\n  delaycompress",
}


@pytest.mark.parametrize("directives", SCHEMES.values(), ids=SCHEMES.keys())
def test_nothing_is_lost_or_repeated(tmp_path, log, run, pushover, directives):
    assert run().status == 0  # starts at the end: "old" is history
    append(log, line(1, "before1"), line(2, "before2"))  # unread when rotated
    rotate(tmp_path, log, directives)
    append(log, line(3, "after"))

    result = run()
    assert (result.status, result.stderr) == (0, "")
    assert users_sent(pushover) == ["before1", "before2", "after"]
    assert run().status == 0
    assert users_sent(pushover) == ["before1", "before2", "after"]


def test_copytruncate_when_the_new_file_grew_past_the_old_position(tmp_path, log, run, pushover):
    run()
    append(log, line(1, "before"))
    rotate(tmp_path, log, "  copytruncate")
    append(log, *[line(2, f"after{n}") for n in range(5)])  # longer than the old file
    assert os.path.getsize(log) > len(line(0, "old")) + len(line(1, "before")) + 2
    assert run().status == 0
    assert users_sent(pushover) == ["before"] + [f"after{n}" for n in range(5)]


def test_two_rotations_between_runs_read_the_oldest_tail_and_say_what_may_be_missing(
    tmp_path, log, run, pushover
):
    run()
    append(log, line(1, "first"))
    rotate(tmp_path, log, "  create")
    append(log, line(2, "middle"))
    rotate(tmp_path, log, "  create")
    append(log, line(3, "last"))
    result = run()
    assert result.status == 0
    assert "rotated more than once" in result.stderr
    assert users_sent(pushover) == ["first", "last"]  # the documented limit: "middle" is missed
    assert "Note: " in sent_forms(pushover)[0]["message"]


def test_a_log_truncated_in_place_is_read_from_its_start_not_from_last_weeks_file(
    tmp_path, log, run, pushover
):
    append(log, line(1, "lastweek"))
    rotate(tmp_path, log, "  create")  # auth.log.1 holds last week
    run()
    append(log, line(2, "seen"), line(3, "seen"))
    run()
    log.write_text("")  # truncated in place
    append(log, line(4, "new"))
    result = run()
    assert result.status == 0
    assert users_sent(pushover) == ["seen", "seen", "new"]
    assert "rotated to a place authwatch does not know" in result.stderr


def test_a_dangling_link_beside_the_log_does_not_stop_the_search(tmp_path, log, run, pushover):
    (log.parent / "auth.log.pre-upgrade").symlink_to(tmp_path / "gone")
    run()
    append(log, line(1, "before"))
    os.rename(log, log.parent / "auth.log.0")  # savelog's name
    append(log, line(2, "after"))
    assert run().status == 0
    assert users_sent(pushover) == ["before", "after"]
