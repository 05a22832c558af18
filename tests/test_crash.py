"""A run killed with SIGKILL at each phase loses nothing: the next run
delivers every message, repeats at most the one whose request was in
flight, and says that a run was killed.  The runs are real processes; a few
lines of Python in front of authwatch.main() kill the process at the chosen
point."""

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

import pytest
from helpers import MAIN, append, cron_run, run_main, sent_forms, stored_offset
from werkzeug import Response

import authwatch

LINES = (
    "Nov 27 01:58:01 web1 sshd[4242]: Accepted password for awtest from 203.0.113.9 port 52 ssh2",
    "Nov 27 01:59:00 web1 sudo:    alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/id",
)
TITLES = ["web1: SSH login awtest from 203.0.113.9", "web1: 1 sudo/su use"]
KILLED = "was killed before it finished, perhaps for memory"

# Runs authwatch.main(), but dies by SIGKILL where CRASH_AT says.
CRASHING_RUN = """
import os, signal, sys
import authwatch

crash_at = os.environ["CRASH_AT"]

def die(*args):
    # kill, systemctl stop and a shutdown send SIGTERM; the OOM killer, SIGKILL
    stop = signal.SIGTERM if crash_at == "stopped while reading" else signal.SIGKILL
    os.kill(os.getpid(), stop)

write_outbox = authwatch.write_outbox
store_positions = authwatch.store_positions_if_changed
outbox_writes = []
if crash_at == "after reading":
    authwatch.write_outbox = die
elif crash_at == "before the position is stored":
    authwatch.store_positions_if_changed = lambda positions: (
        die() if positions else store_positions(positions)
    )
elif crash_at in ("while reading", "stopped while reading"):
    parse_line = authwatch.parse_line
    parsed = []
    def parse_then_die(*args):
        parsed.append(args)
        if len(parsed) == 1000:
            die()
        return parse_line(*args)
    authwatch.parse_line = parse_then_die
elif crash_at == "after the answer":
    def write_then_die(*args):
        outbox_writes.append(args)
        if len(outbox_writes) == 3:  # queued, position stored, then a send recorded
            die()
        write_outbox(*args)
    authwatch.write_outbox = write_then_die
sys.exit(authwatch.main(sys.argv[1:]))
"""


def crashing_run(crash_at, *argv):
    folder = os.path.dirname(authwatch.__file__)
    return subprocess.Popen(
        [sys.executable, "-c", CRASHING_RUN, *argv],
        env={**os.environ, "CRASH_AT": crash_at, "PYTHONPATH": folder},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def setup(auth_log, config_file):
    config = config_file()
    run = ["--config", config, "--log", str(auth_log)]
    assert run_main(*run).status == 0
    append(auth_log, *LINES)
    return run


@pytest.mark.parametrize(
    "crash_at, repeated",
    [
        ("after reading", []),
        ("before the position is stored", []),
        ("after the answer", [TITLES[0]]),  # accepted, but not yet crossed off
    ],
)
def test_a_killed_run_loses_nothing(setup, pushover, crash_at, repeated):
    killed = crashing_run(crash_at, *setup)
    assert killed.wait(timeout=30) == -signal.SIGKILL
    assert run_main(*setup).status == 0
    forms = sent_forms(pushover)
    assert sorted(titles_of(forms)) == sorted(TITLES + repeated)
    assert [KILLED in form["message"] for form in forms].count(True) == 1
    assert run_main(*setup).status == 0
    assert len(pushover.log) == len(forms)


def titles_of(forms):
    """Return the titles of the messages sent, but the notice of its own that
    says that a run was killed."""
    return [form["title"] for form in forms if not form["title"].endswith(": authwatch notice")]


# 30,000 failures, 2.8 MB: a run dies while it reads them
STORM = [
    f"Nov 27 01:{n // 600:02d}:{n // 10 % 60:02d} web1 sshd[{10000 + n}]: Failed password"
    f" for root from 198.51.100.7 port {1024 + n} ssh2"
    for n in range(30_000)
]


@pytest.fixture
def storm(auth_log, config_file):
    """A config with a budget of 4 MiB, its first run done, then the STORM
    and a login written; return the arguments of a run."""
    config = config_file("[source]\nmax_read = 4M\n")
    run = ["--config", config, "--log", str(auth_log)]
    assert run_main(*run).status == 0
    append(auth_log, *STORM, LINES[0])
    return run


def test_a_run_killed_while_reading_is_told_and_the_next_reads_a_quarter(
    tmp_path, auth_log, storm, pushover
):
    run = storm
    killed = crashing_run("while reading", *run)
    assert killed.wait(timeout=60) == -signal.SIGKILL
    unread = stored_offset(tmp_path / "state", auth_log)

    assert run_main(*run).status == 0
    offset = stored_offset(tmp_path / "state", auth_log)
    assert 1024**2 <= offset - unread < 1024**2 + 100  # a quarter of 4 MiB: 1 MiB
    note, catching_up = sent_forms(pushover)[0]["message"].splitlines()[:2]
    assert re.fullmatch(
        rf"Note: the run of 2026-\d\d-\d\d \d\d:\d\d:\d\d \(pid {killed.pid}\) {KILLED},"
        " and stored no position: this run reads at most 1 MiB",
        note,
    )
    assert catching_up.startswith("Note: catching up: read 1 MiB of log file")

    assert run_main(*run).status == 0  # the budget of 4 MiB again: the rest
    assert stored_offset(tmp_path / "state", auth_log) == os.path.getsize(auth_log)
    last = sent_forms(pushover)[-2:]
    assert TITLES[0] in [form["title"] for form in last]
    assert not any(KILLED in form["message"] or "catching" in form["message"] for form in last)


def test_a_run_stopped_by_sigterm_ends_as_interrupted_and_is_not_told_as_killed(
    tmp_path, auth_log, storm, pushover
):
    # kill, systemctl stop or a shutdown stop a run as Ctrl-C does: what it read
    # is safe, and the next run neither tells of a run killed for memory nor
    # reads less
    run = storm
    stopped = crashing_run("stopped while reading", *run)
    _, stderr = stopped.communicate(timeout=60)
    assert (stopped.returncode, stderr.decode()) == (
        authwatch.ExitStatus.INTERRUPTED,
        f"authwatch: error: {authwatch.EXIT_MEANINGS[authwatch.ExitStatus.INTERRUPTED]}\n",
    )
    assert run_main(*run).status == 0
    assert stored_offset(tmp_path / "state", auth_log) == os.path.getsize(auth_log)
    forms = sent_forms(pushover)
    assert TITLES[0] in titles_of(forms)
    assert not any(KILLED in form["message"] for form in forms)


def test_a_run_killed_while_its_request_is_in_flight_repeats_only_that_one(setup, httpserver):
    arrived, release = threading.Event(), threading.Event()

    def hold(_request):
        arrived.set()
        release.wait(timeout=30)
        return Response('{"status": 1, "request": "held"}', content_type="application/json")

    httpserver.expect_oneshot_request("/1/messages.json").respond_with_handler(hold)
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    killed = crashing_run("nowhere", *setup)
    assert arrived.wait(timeout=30)
    killed.send_signal(signal.SIGKILL)
    assert killed.wait(timeout=30) == -signal.SIGKILL
    release.set()
    time.sleep(0.1)

    assert run_main(*setup).status == 0
    assert titles_of(sent_forms(httpserver)) == [TITLES[0], TITLES[0], TITLES[1]]


needs_unshare = pytest.mark.skipif(
    not (shutil.which("unshare") and os.geteuid() == 0), reason="needs unshare -m, as root"
)
RUN = f"{sys.executable} -c '{MAIN}'"  # authwatch, in a shell script


def on_a_small_state_file_system(state, script):
    """Run the shell script in a mount namespace of its own, with a tmpfs of
    64 KiB over the state directory; return the CompletedProcess."""
    script = f"mount -t tmpfs -o size=64k,mode=0700 tmpfs {state} || exit 99\n{script}"
    return subprocess.run(
        ["unshare", "-m", "--", "sh", "-c", script], capture_output=True, text=True, timeout=120
    )


@needs_unshare
def test_a_full_state_file_system_still_lets_what_was_read_reach_the_phone(
    tmp_path, auth_log, config_file, pushover
):
    # the small state file system fills up before the run that has a login to send
    config = config_file()
    state = tmp_path / "state"
    state.mkdir(mode=0o700)
    done = on_a_small_state_file_system(
        state,
        f"""
        {RUN} --config {config} --log {auth_log} || exit 98
        cp {state}/*.offset {tmp_path}/before
        echo '{LINES[0]}' >> {auth_log}
        dd if=/dev/zero of={state}/fill bs=4k 2>/dev/null
        {RUN} --config {config} --log {auth_log}
        echo "status $?"
        cmp -s {state}/*.offset {tmp_path}/before && echo "position kept"
        """,
    )
    assert f"status {authwatch.ExitStatus.STATE_ERROR}" in done.stdout, done.stderr
    assert "position kept" in done.stdout
    assert "No space left on device" in done.stderr
    assert [form["title"] for form in sent_forms(pushover)] == [TITLES[0]]


@needs_unshare
def test_on_a_full_state_file_system_the_messages_waiting_go_too(
    tmp_path, auth_log, config_file, httpserver
):
    # three messages wait in the outbox (Pushover was down); then the disk fills up
    config = config_file("[alerts]\nmax_messages = 3\n")
    assert cron_run(config, auth_log).status == 0
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_data("down", status=503)
    append(
        auth_log,
        *[LINES[0].replace("awtest", f"user{n}").replace("4242", str(50 + n)) for n in range(3)],
    )
    assert cron_run(config, auth_log).status == 1
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    state = tmp_path / "state"
    shutil.copytree(state, tmp_path / "saved")
    done = on_a_small_state_file_system(
        state,
        f"""
        cp -a {tmp_path}/saved/. {state}/
        dd if=/dev/zero of={state}/fill bs=4k 2>/dev/null
        {RUN} --config {config} --log {auth_log}
        echo "status $?"
        """,
    )
    assert f"status {authwatch.ExitStatus.STATE_ERROR}" in done.stdout, done.stderr
    sent = [form["title"] for form in sent_forms(httpserver)[1:]]
    assert sorted(sent) == [f"web1: SSH login user{n} from 203.0.113.9" for n in range(3)]
