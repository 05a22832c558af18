"""What the tests share besides fixtures (those are in conftest.py): a fixed
clock, Pushover's keys, sshd's login lines and the forms Pushover should
receive for them, and ways to run authwatch: its main() as cron would, as a
program of its own, as the user nobody, across a rotation."""

import datetime
import io
import json
import os
import subprocess
import sys

import pytest

import authwatch

NOW = datetime.datetime(2026, 11, 27, 12, 0, 0, tzinfo=datetime.timezone.utc)
TOKEN = "a" * 28 + "TK"  # 30 letters and digits, as Pushover's
USER_KEY = "u" * 28 + "UK"
# authwatch as a program of its own: python3 -c MAIN ARGUMENTS...
MAIN = "import sys, authwatch; sys.exit(authwatch.main(sys.argv[1:]))"
FINGERPRINT = "SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"


def accepted(user="awtest", ip="203.0.113.9", method="publickey", pid=4242, time="11:58:01"):
    """Return sshd's log line of a login on web1 on Nov 27, from port 52144;
    a publickey login is with the tests' ED25519 key."""
    key = f": ED25519 {FINGERPRINT}" if method == "publickey" else ""
    return (
        f"Nov 27 {time} web1 sshd[{pid}]: Accepted {method} for {user} from {ip}"
        f" port 52144 ssh2{key}"
    )


LOGIN = accepted(method="password")  # awtest's, from 203.0.113.9
KEY_LOGIN = accepted()
ALICE_LOGIN = accepted("alice", "192.0.2.10")  # alice_login_form() and _event() are of it


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


def cron_run(config, log, *extra, now=NOW):
    """Run main() as cron does, with a config and a log (and extra arguments)."""
    return run_main("--config", config, "--log", str(log), *extra, now=now)


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
        f"Key: ED25519 {FINGERPRINT}\n"
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


def append(path, *lines):
    """Append full lines to a log file, as syslog does."""
    with open(path, "a", encoding="utf-8") as file:
        for line in lines:
            file.write(line + "\n")
        file.flush()
        os.fsync(file.fileno())


def users_read_while_written(tmp_path, source, write, times):
    """Start a dry run (--json, --from-start) of the source that the options
    in source name, as a program of its own; once it is reading, call write(n)
    for n in range(times), for as long as the run lasts. Assert that the run
    succeeds, and return the user of every event it printed."""
    errors = open(tmp_path / "stderr", "w+")  # noqa: SIM115 (read after the run)
    run = subprocess.Popen(
        [sys.executable, "-c", MAIN, "--dry-run", "--json", "--from-start", *source],
        stdout=subprocess.PIPE, stderr=errors, text=True,
    )  # fmt: skip
    first = run.stdout.readline()  # the run has opened its source and is reading it
    for n in range(times):
        if run.poll() is not None:
            break
        write(n)
    stdout = run.stdout.read()
    assert run.wait(timeout=120) == 0, errors.seek(0) or errors.read()
    errors.close()
    return [json.loads(text)["user"] for text in (first + stdout).splitlines()]


def rotate(tmp_path, log, directives):
    """Rotate log once with the real logrotate and the given directives."""
    config = tmp_path / "logrotate.conf"
    config.write_text(f"{log} {{\n  rotate 4\n  missingok\n{directives}\n}}\n")
    subprocess.run(
        ["logrotate", "-f", "-s", str(tmp_path / "logrotate.state"), str(config)],
        check=True,
        capture_output=True,
    )


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


def root_only(path):
    """Make path an empty file that its owner (root) alone may read; return it."""
    path.write_text("")
    os.chmod(path, 0o600)
    return path


def assert_nobody_may_not_read(source, groups, *argv):
    """Run authwatch.py as nobody with argv: it must fail, in one line, to
    read source, and name the groups whose members may."""
    result = run_as_nobody(*argv)
    assert result.returncode == authwatch.ExitStatus.SOURCE_ERROR
    assert result.stderr == (
        f"authwatch: error: cannot read {source}: permission denied"
        f" (run as root, or add the user to group {groups})\n"
    )
