"""Every run makes progress: a scheduled run reads at most its budget
([source] max_read, --max-read), sends what it found, stores where it got
to and says that it is catching up; the next run goes on from there.  No
backlog, however large or hostile, makes two runs in a row end at the same
place, and what was written after it arrives in the end."""

import json
import os
import re
from pathlib import Path

import pytest
from helpers import (
    JOURNAL_REMOTE,
    accepted,
    append,
    cron_run,
    run_main,
    sent_forms,
    sshd_entry,
    stored_offset,
    write_journal,
)

import authwatch

ROOT_LOGIN = accepted("root", method="password", pid=9999, time="11:59:59")
ROOT_TITLE = "web1: SSH login root from 203.0.113.9"
# the notice of a run that stopped at its budget, on the first line of its first message
CATCHING_UP = re.compile(
    r"Note: catching up: read (?P<read>[\d.]+ KiB) of (?P<what>.+?)(?: \(to 2026-11-27 [\d:]+\))?;"
    r" (?P<left>[\d.]+ (?:KiB|bytes|entries)|entries) left \(to 2026-11-27 11:59:59\)"
)


def failure(number):
    """Return sshd's line of a failed password, the number-th of a storm."""
    return (
        f"Nov 27 11:{number // 60 % 60:02d}:{number % 60:02d} web1 sshd[{10000 + number}]:"
        f" Failed password for root from 198.51.100.7 port {1024 + number} ssh2"
    )


def runs_until_caught_up(run, position, pushover):
    """Call run() until the position (a function) stops moving; return each
    run's position, the messages it sent and what it said on stderr."""
    done = []
    for _ in range(40):
        before = len(pushover.log)
        result = run()
        assert result.status == 0, result.stderr
        done.append((position(), sent_forms(pushover)[before:], result.stderr))
        if len(done) > 1 and done[-1][0] == done[-2][0]:
            return done[:-1]  # the last run found nothing new
    raise AssertionError("the backlog was never read to its end")


def test_a_backlog_larger_than_the_budget_is_read_in_runs_that_each_get_further(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0  # the position: the log's end
    storm = [failure(number) for number in range(3000)]
    storm[1500:1500] = [f"Nov 27 11:30:00 web1 sshd[777]: {'x' * 200 * 1024}"]  # past a budget
    append(auth_log, *storm, ROOT_LOGIN)
    done = runs_until_caught_up(
        lambda: cron_run(config, auth_log, "--max-read", "64K"),
        lambda: stored_offset(tmp_path / "state", auth_log),
        pushover,
    )

    offsets = [position for position, _, _ in done]
    assert offsets == sorted(set(offsets)) and offsets[-1] == os.path.getsize(auth_log)
    assert len(done) > 4
    for position, messages, _ in done[:-1]:
        note = CATCHING_UP.match(messages[0]["message"])
        assert note, messages[0]["message"]
        assert note["what"] == f"log file {auth_log}"
        left = float(note["left"].split()[0]) * (1024 if "KiB" in note["left"] else 1)
        assert abs(left - (os.path.getsize(auth_log) - position)) <= 1024
    last = done[-1][1]
    assert ROOT_TITLE in [form["title"] for form in last]
    assert not any("catching up" in form["message"] for form in last)


def test_runs_by_hand_read_everything_unless_told(tmp_path, auth_log, config_file):
    config = config_file("[source]\nmax_read = 64K\n")
    assert cron_run(config, auth_log).status == 0
    append(auth_log, *[failure(number) for number in range(3000)], ROOT_LOGIN)
    everything = cron_run(config, auth_log, "--dry-run")
    assert ROOT_TITLE in everything.stdout and "catching up" not in everything.stdout
    told = cron_run(config, auth_log, "--dry-run", "--max-read", "64K")
    assert ROOT_TITLE not in told.stdout
    assert "Note: catching up: read 64" in told.stdout


def test_a_line_longer_than_the_budget_is_still_read(tmp_path, auth_log, config_file, pushover):
    config = config_file("[source]\nmax_read = 64K\n")
    assert cron_run(config, auth_log).status == 0
    append(auth_log, f"Nov 27 11:30:00 web1 sshd[777]: {'x' * 300 * 1024}", ROOT_LOGIN)
    first = cron_run(config, auth_log)
    assert first.status == 0
    [digest] = sent_forms(pushover)
    assert digest["message"].startswith(f"Note: catching up: read 300 KiB of log file {auth_log};")
    assert cron_run(config, auth_log).status == 0
    assert sent_forms(pushover)[-1]["title"] == ROOT_TITLE


def test_a_rotation_in_the_backlog_is_read_across(tmp_path, auth_log, config_file, pushover):
    config = config_file("[source]\nmax_read = 64K\n")
    assert cron_run(config, auth_log).status == 0
    append(auth_log, *[failure(number) for number in range(2000)])
    os.rename(auth_log, f"{auth_log}.1")  # logrotate's create, between two runs
    append(auth_log, *[failure(number) for number in range(2000, 2500)], ROOT_LOGIN)
    offset_file = authwatch.file_position_path(str(tmp_path / "state"), str(auth_log))

    def position():
        inode, offset = Path(offset_file).read_text().split()[:2]
        return int(inode) == os.stat(auth_log).st_ino, int(offset)

    done = runs_until_caught_up(lambda: cron_run(config, auth_log), position, pushover)

    # the rotated file first, then the log: each run further than the one before
    positions = [position for position, _, _ in done]
    assert positions == sorted(set(positions))
    assert positions[0][0] is False and positions[-1] == (True, os.path.getsize(auth_log))
    log = authwatch.size_text(os.path.getsize(auth_log))
    assert f"); the rest of auth.log.1 and {log} of the log left\n" in done[0][2]
    failed = sum(
        int(re.match(r"web1: (\d+) failed logins?", form["title"])[1])
        for _, messages, _ in done
        for form in messages
        if "failed login" in form["title"]
    )
    assert failed == 2500  # none twice, none lost
    assert ROOT_TITLE in [form["title"] for form in done[-1][1]]


@pytest.mark.skipif(not os.access(JOURNAL_REMOTE, os.X_OK), reason="needs systemd-journal-remote")
def test_the_journal_is_read_in_runs_that_each_get_further(tmp_path, config_file, pushover):
    pytest.importorskip("systemd.journal", reason="needs systemd-python")
    folder, state = tmp_path / "journal", tmp_path / "state"
    start = 1795777200_000000  # 2026-11-27 11:00:00

    def entry(at, pid, message):
        return sshd_entry(start + at, pid, message, "sshd-session")

    write_journal(folder, entry(0, 1, "Server listening on 0.0.0.0 port 22."))
    journal = ["--config", config_file(), "--journal-dir", str(folder), "--state-dir", str(state)]
    assert run_main(*journal).status == 0  # the position: the journal's end
    user = "u" * 900  # a thousand bytes an entry
    storm = b"".join(
        entry(number * 1_000_000, 10000 + number, f"Invalid user {user} from 198.51.100.7 port 22")
        for number in range(1, 300)
    )
    login = "Accepted password for root from 203.0.113.9 port 52144 ssh2"
    write_journal(folder, storm + entry(3599_000000, 9999, login))

    position_file = Path(authwatch.journal_position_path(str(state), str(folder)))

    def handled():
        seen = json.loads(position_file.read_text())["seen"]
        return max(number for number, _ in seen.values())

    done = runs_until_caught_up(lambda: run_main(*journal, "--max-read", "64K"), handled, pushover)

    numbers = [number for number, _, _ in done]
    assert numbers == sorted(set(numbers))
    assert len(done) > 4
    for _, messages, _ in done[:-1]:
        note = CATCHING_UP.match(messages[0]["message"])
        assert note and note["what"] == f"journal files in {folder}", messages[0]["message"]
    assert ROOT_TITLE in [form["title"] for form in done[-1][1]]
