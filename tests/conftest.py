"""Shared fixtures: local time in UTC, no waits between retries, a Pushover
stand-in on 127.0.0.1 and a config that points at it; plain helpers are in
helpers.py."""

import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest
from helpers import TOKEN, USER_KEY
from machine import Machine, missing_tools

import authwatch


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


RETRIES = authwatch.RETRIES  # as shipped, read before no_retries sets it to 0


@pytest.fixture(autouse=True)
def no_retries(monkeypatch):
    """A failed request is retried after 5 and 10 s: only the tests of
    retrying wait for that (they ask for the retries fixture)."""
    monkeypatch.setattr(authwatch, "RETRIES", 0)


@pytest.fixture
def retries(no_retries, monkeypatch):
    """Retry failed requests as shipped."""
    monkeypatch.setattr(authwatch, "RETRIES", RETRIES)


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


@pytest.fixture
def pushover(httpserver):
    """A Pushover stand-in that accepts every message; .log lists the requests."""
    httpserver.expect_request("/1/messages.json", method="POST").respond_with_json(
        {"status": 1, "request": "e460545a-8e5c-4d2c-8c1c-1f2bd9c0e0f4"}
    )
    return httpserver


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
def auth_log(tmp_path):
    """An empty auth.log in the test's folder, as syslog leaves one."""
    path = tmp_path / "auth.log"
    path.write_text("")
    return path


@pytest.fixture
def public_tmp():
    """A folder that every user may enter (pytest's own are root's alone)."""
    top = tempfile.mkdtemp(prefix="authwatch-")
    os.chmod(top, 0o755)
    yield Path(top)
    shutil.rmtree(top)


@pytest.fixture
def machine(public_tmp):
    """A machine of the test's own in private namespaces (see machine.py),
    ended with the test; skips where none can be made (not root)."""
    if missing_tools():
        pytest.skip(missing_tools())
    box = Machine(public_tmp / "machine")
    yield box
    box.stop()
