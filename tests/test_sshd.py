"""End to end, as root, on a machine of the test's own (tests/machine.py:
private namespaces): a real sshd on 127.0.0.1, a real rsyslogd writing auth
and authpriv to a log in the test's folder, real logins made with the
OpenSSH client (sshpass for passwords, a generated key), sudo and su, then
authwatch, and what reaches the Pushover stand-in."""

import json
import re
import subprocess
import time

import pytest
from helpers import NO_MEMORY_NOTE, run_main, sent_forms
from machine import missing_tools

USER = "awtest"  # the machine's own: its /etc is a private copy
PASSWORD = "correct-horse-battery-staple-42"

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=missing_tools() or "")


@pytest.fixture
def sshd_machine(machine, request):
    """The test's machine with rsyslogd writing auth.log, sshd on 127.0.0.1
    at LogLevel INFO (or the level a test names by indirect parametrization),
    and a user with a password and a key."""
    log_level = getattr(request, "param", "INFO")
    log = machine.folder / "auth.log"
    machine.rsyslog(log)
    machine.add_user(USER, PASSWORD)
    key = machine.folder / "key"
    machine.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    (machine.folder / "authorized_keys").write_bytes((machine.folder / "key.pub").read_bytes())
    fingerprint = machine.run("ssh-keygen", "-l", "-f", f"{key}.pub").stdout.split()[1]
    port = machine.sshd(
        f"SyslogFacility AUTH\nLogLevel {log_level}\nUsePAM yes\n"
        "PasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
        f"AuthorizedKeysFile {machine.folder / 'authorized_keys'}\nStrictModes no\n"
        "PermitRootLogin no\n"
    )
    # sshd's readiness probe is logged too: let it be history before the test begins
    wait_for(lambda: "kex_exchange_identification" in log.read_text(), "the probe's line")
    return {"box": machine, "log": log, "port": port, "key": key, "fingerprint": fingerprint}


def wait_for(condition, what, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def ssh(machine, user, *, password=None, key=None):
    """Log in once with the OpenSSH client, inside the machine; return its exit code."""
    options = [
        "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "ConnectTimeout=10", "-o", "NumberOfPasswordPrompts=1", "-p", str(machine["port"]),
    ]  # fmt: skip
    if key:
        command = ["ssh", *options, "-o", "BatchMode=yes", "-o", "PasswordAuthentication=no",
                   "-i", str(key)]  # fmt: skip
    else:
        command = ["sshpass", "-p", password, "ssh", *options, "-o", "PubkeyAuthentication=no",
                   "-o", "PreferredAuthentications=password"]  # fmt: skip
    done = machine["box"].run(*command, f"{user}@127.0.0.1", "true", check=False, timeout=30)
    return done.returncode


def test_real_logins_reach_the_phone(sshd_machine, config_file, pushover):
    machine = sshd_machine
    config = config_file()
    run = ["--config", config, "--log", str(machine["log"])]
    assert run_main(*run).status == 0  # starts at the end of the log

    assert ssh(machine, USER, password="wrong password") != 0
    assert ssh(machine, "nosuchuser", password="guess") != 0
    assert ssh(machine, USER, password=PASSWORD) == 0
    assert ssh(machine, USER, key=machine["key"]) == 0
    log = machine["log"]
    wait_for(lambda: "Accepted publickey" in log.read_text(errors="replace"), "the log lines")

    result = run_main(*run)
    assert (result.status, result.stderr) == (0, "")
    host = re.search(r" (\S+) sshd", log.read_text(errors="replace"))[1]
    logins = [form for form in sent_forms(pushover) if " SSH login " in form["title"]]
    assert [form["title"] for form in logins] == [f"{host}: SSH login {USER} from 127.0.0.1"] * 2
    assert [form["priority"] for form in logins] == ["1", "1"]
    messages = [form["message"] for form in logins]
    assert messages[0].startswith(NO_MEMORY_NOTE + "Method: password\nFrom: 127.0.0.1 port ")
    assert messages[1].startswith(f"Method: publickey\nKey: ED25519 {machine['fingerprint']}\n")
    [digest] = [form for form in sent_forms(pushover) if "failed login" in form["title"]]
    assert digest["title"] == f"{host}: 2 failed logins from 1 address", log.read_text()
    assert digest["message"].startswith(
        "2 failed logins (1 invalid user) from 1 address\nIPs: 127.0.0.1 ×2\nUsers: "
    )
    assert f"{USER} ×1" in digest["message"] and "nosuchuser ×1" in digest["message"]
    assert "Other:" not in digest["message"], digest["message"]


@pytest.mark.parametrize("sshd_machine", ["VERBOSE"], indirect=True)
def test_verbose_sshd_sudo_and_su_leave_no_line_not_understood(sshd_machine):
    machine = sshd_machine
    box, port, log = machine["box"], machine["port"], machine["log"]
    start = log.stat().st_size
    assert ssh(machine, USER, password="wrong password") != 0
    assert ssh(machine, USER, password=PASSWORD) == 0
    assert ssh(machine, USER, key=machine["key"]) == 0
    # a probe: connects and says nothing
    box.run("python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}))")
    # sudo and su with no terminal, as from cron or a script
    box.run("sudo", "-u", "nobody", "true", stdin=subprocess.DEVNULL)
    box.run("su", "-s", "/bin/sh", "-c", "true", "nobody")
    wait_for(lambda: "su:" in log.read_text(errors="replace")[start:], "the su lines")
    wait_for(lambda: log.read_text(errors="replace").count("Connection closed") >= 1, "the probe")
    time.sleep(1)  # the last lines of the sessions

    tail = log.parent / "tail.log"
    tail.write_bytes(log.read_bytes()[start:])
    result = run_main("--dry-run", "--json", "--from-start", "--log", str(tail))
    assert (result.status, result.stderr) == (0, ""), result.stderr
    events = [json.loads(line) for line in result.stdout.splitlines()]
    text = tail.read_text(errors="replace")
    assert [event["line"] for event in events if event["kind"] == "other"] == [], text
    kinds = [(event["kind"], event["user"], event["target"]) for event in events]
    assert kinds.count(("login", USER, None)) == 2, text
    assert ("sudo", "root", "nobody") in kinds, text
    assert kinds.count(("su", "root", "nobody")) + kinds.count(("su", None, "nobody")) >= 1, text
    failures = [event for event in events if event["kind"] in ("login_failed", "probe")]
    assert {event["ip"] for event in failures} == {"127.0.0.1"}, text
    assert any(event["kind"] == "probe" for event in failures), text
