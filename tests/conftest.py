"""Shared fixtures: a fixed clock and time zone, a Pushover stand-in on
127.0.0.1, and a way to run authwatch's main() as cron would."""

import datetime
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import authwatch

NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)
TOKEN = "a" * 28 + "TK"  # 30 letters and digits, as Pushover's
USER_KEY = "u" * 28 + "UK"


def pytest_sessionfinish(session, exitstatus):
    """Where scripts/test installed everything (as root), a skipped test means
    a missing install step: fail the run rather than pass without it."""
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    skipped = reporter.stats.get("skipped", []) if reporter else []
    if os.environ.get("AUTHWATCH_TESTS_STRICT") and skipped and exitstatus == 0:
        reporter.write_line(f"\nerror: {len(skipped)} tests skipped under AUTHWATCH_TESTS_STRICT:")
        for report in skipped:
            reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
            reporter.write_line(f"  {report.nodeid}: {reason}")
        session.exitstatus = 1


RETRIES = authwatch.RETRIES  # as shipped; tests of retrying put it back


@pytest.fixture(autouse=True)
def no_retries(monkeypatch):
    """A failed request is retried after 5 and 10 s: only the tests of
    retrying wait for that (they set authwatch.RETRIES = RETRIES again)."""
    monkeypatch.setattr(authwatch, "RETRIES", 0)


@pytest.fixture(autouse=True)
def utc(monkeypatch):
    """Classic syslog times are local time: make local time UTC."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture(scope="session")
def httpserver_listen_address():
    return ("127.0.0.1", 0)


class Result:
    def __init__(self, status, stdout, stderr):
        self.status = status
        self.stdout = stdout
        self.stderr = stderr


def run_main(*argv, environ=None, now=NOW):
    """Run authwatch.main() with argv; return its Result (exit status and output)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    status = authwatch.main(
        list(argv),
        stdout=stdout,
        stderr=stderr,
        environ={} if environ is None else environ,
        clock=lambda: now,
    )
    return Result(status, stdout.getvalue(), stderr.getvalue())


@pytest.fixture
def pushover(httpserver):
    """A Pushover stand-in that accepts every message; .log lists the requests."""
    httpserver.expect_request("/1/messages.json", method="POST").respond_with_json(
        {"status": 1, "request": "e460545a-8e5c-4d2c-8c1c-1f2bd9c0e0f4"}
    )
    return httpserver


def form(title, message, priority, timestamp):
    """Return the form fields that Pushover should receive for a message."""
    return {
        "token": TOKEN,
        "user": USER_KEY,
        "title": title,
        "message": message,
        "priority": str(priority),
        "timestamp": str(timestamp),
    }


def alice_login_form(when, timestamp):
    """Return the form of the message about alice's key login, which the
    tests' logs and journals hold, logged at `when` ("2026-11-27 11:05:00")."""
    return form(
        "web1: SSH login alice from 192.0.2.10",
        "Method: publickey\n"
        "Key: ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk\n"
        f"From: 192.0.2.10 port 52144\nTime: {when} +0000",
        1,
        timestamp,
    )


def alice_login_event(time, program, pid, line):
    """Return the --json object of alice's key login from 192.0.2.10, as the
    tests' logs and journals hold it, logged at `time` by `program[pid]`."""
    return {
        "time": time,
        "host": "web1",
        "program": program,
        "pid": pid,
        "kind": "login",
        "rule": "ssh_accepted",
        "user": "alice",
        "target": None,
        "ip": "192.0.2.10",
        "port": 52144,
        "method": "publickey",
        "command": None,
        "count": 1,
        "forger": None,
        "line": line,
    }


def sent_forms(server):
    """Return the form fields of every request the stand-in received, in order."""
    return [dict(request.form) for request, _response in server.log]


@pytest.fixture
def config_file(tmp_path, httpserver):
    """Write a config that points at the stand-in, readable by its owner
    alone; return its path."""

    def write(extra="", api_url=None, pushover=""):
        path = tmp_path / "authwatch.ini"
        path.write_text(
            "[pushover]\n"
            f"token = {TOKEN}\n"
            f"user = {USER_KEY}\n"
            f"api_url = {api_url or httpserver.url_for('/1/messages.json')}\n"
            + pushover
            + f"[state]\ndir = {tmp_path / 'state'}\n"
            + extra
        )
        path.chmod(0o600)  # it holds the token
        return str(path)

    return write


@pytest.fixture
def empty_auth_log(tmp_path):
    """An empty auth.log in the test's folder, as syslog leaves one."""
    path = tmp_path / "auth.log"
    path.write_text("")
    return path


def append(path, *lines):
    """Append full lines to a log file, as syslog does."""
    with open(path, "a", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def run_as_nobody(*argv):
    """Run authwatch.py as the user nobody (needs root); return the CompletedProcess."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run as another user")
    return subprocess.run(
        [
            "setpriv",
            "--reuid=nobody",
            "--regid=nogroup",
            "--clear-groups",
            sys.executable,
            authwatch.__file__,
            *argv,
        ],
        capture_output=True,
        text=True,
        env={"PATH": os.environ["PATH"], "HOME": "/"},
    )


@pytest.fixture
def public_tmp():
    """A folder that every user may enter (pytest's own are root's alone)."""
    top = tempfile.mkdtemp(prefix="authwatch-")
    os.chmod(top, 0o755)
    yield Path(top)
    shutil.rmtree(top)
