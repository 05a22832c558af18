"""End to end on this machine, as root: a real sshd on 127.0.0.1, a real
rsyslogd writing auth and authpriv to a log of the test's own, real logins
made with the OpenSSH client (sshpass for passwords, a generated key), then
authwatch, and what reaches the Pushover stand-in."""

import contextlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import time

import pytest
from helpers import NO_MEMORY_NOTE, run_main, sent_forms

# a name no one else would pick: the test adds it, and removes it afterwards
USER = f"awtest{secrets.token_hex(4)}"
PASSWORD = "correct-horse-battery-staple-42"
TOOLS = ("/usr/sbin/sshd", "/usr/sbin/rsyslogd", "sshpass", "ssh", "ssh-keygen", "logger", "sudo")


def skip_reason():
    if os.geteuid() != 0:
        return "needs root: it starts sshd and rsyslogd and adds a user"
    missing = [tool for tool in TOOLS if not shutil.which(tool)]
    if missing:
        return (
            f"needs {', '.join(missing)} (openssh-server, openssh-client, sshpass, rsyslog, sudo)"
        )
    if os.path.exists("/dev/log"):
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            probe.connect("/dev/log")
            return "something else (journald or a syslog daemon) owns /dev/log"
        except OSError:
            os.unlink("/dev/log")  # a socket nobody listens on: left behind
        finally:
            probe.close()
    try:
        pwd.getpwnam(USER)
        return f"a user {USER} exists already"
    except KeyError:
        return None


pytestmark = pytest.mark.skipif(bool(skip_reason()), reason=skip_reason() or "")


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(condition, what, seconds=15):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def port_open(port):
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
        return True
    return False


@pytest.fixture
def machine(public_tmp, request):
    """sshd and rsyslogd of the test's own, and a user with a password and a
    key; everything is stopped and removed afterwards, by PID.  (sshd reads
    the authorized keys as the user: the folder must be open to all.)  sshd
    logs at LogLevel INFO, or at the level a test names by indirect
    parametrization."""
    log_level = getattr(request, "param", "INFO")
    started = []
    folder = public_tmp / "machine"
    folder.mkdir()
    os.chmod(folder, 0o755)
    log = folder / "auth.log"
    home = folder / "home"
    home.mkdir()
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", USER], check=True)
    try:
        subprocess.run(["chpasswd"], input=f"{USER}:{PASSWORD}\n", text=True, check=True)
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "host")], check=True
        )
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(folder / "key")], check=True
        )
        shutil.copy(folder / "key.pub", folder / "authorized_keys")
        fingerprint = subprocess.run(
            ["ssh-keygen", "-l", "-f", str(folder / "key.pub")],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()[1]

        (folder / "rsyslog.conf").write_text(
            f'module(load="imuxsock")\n$WorkDirectory {folder}\nauth,authpriv.* {log}\n'
        )
        rsyslog = subprocess.Popen(
            [
                "/usr/sbin/rsyslogd",
                "-n",
                "-f",
                str(folder / "rsyslog.conf"),
                "-i",
                str(folder / "rsyslog.pid"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(rsyslog)
        wait_for(lambda: os.path.exists("/dev/log"), "rsyslogd's /dev/log")
        subprocess.run(["logger", "-p", "auth.info", "-t", "setup", "the test begins"], check=True)
        wait_for(lambda: log.exists() and log.stat().st_size > 0, "rsyslogd to write")

        port = free_port()
        os.makedirs("/run/sshd", exist_ok=True)
        (folder / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {folder / 'host'}\n"
            f"PidFile {folder / 'sshd.pid'}\nSyslogFacility AUTH\nLogLevel {log_level}\n"
            "UsePAM yes\nPasswordAuthentication yes\nKbdInteractiveAuthentication no\n"
            f"AuthorizedKeysFile {folder / 'authorized_keys'}\nStrictModes no\n"
            "PermitRootLogin no\n"
        )
        sshd = subprocess.Popen(
            ["/usr/sbin/sshd", "-D", "-f", str(folder / "sshd_config")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started.append(sshd)
        wait_for(lambda: port_open(port), "sshd to listen")
        # that probe is logged too: let it be history before the test begins
        wait_for(lambda: "kex_exchange_identification" in log.read_text(), "the probe's line")
        yield {"log": log, "port": port, "key": folder / "key", "fingerprint": fingerprint}
    finally:
        for process in reversed(started):
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        subprocess.run(["userdel", USER], check=False, capture_output=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink("/dev/log")


def ssh(port, user, *, password=None, key=None):
    """Log in once with the OpenSSH client; return its exit code."""
    options = [
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "ConnectTimeout=10",
        "-o",
        "NumberOfPasswordPrompts=1",
        "-p",
        str(port),
    ]
    if key:
        command = [
            "ssh",
            *options,
            "-o",
            "BatchMode=yes",
            "-o",
            "PasswordAuthentication=no",
            "-i",
            str(key),
        ]
    else:
        command = [
            "sshpass",
            "-p",
            password,
            "ssh",
            *options,
            "-o",
            "PubkeyAuthentication=no",
            "-o",
            "PreferredAuthentications=password",
        ]
    return subprocess.run(
        [*command, f"{user}@127.0.0.1", "true"], capture_output=True, timeout=30
    ).returncode


def test_real_logins_reach_the_phone(machine, config_file, pushover):
    config = config_file()
    run = ["--config", config, "--log", str(machine["log"])]
    assert run_main(*run).status == 0  # starts at the end of the log

    assert ssh(machine["port"], USER, password="wrong password") != 0
    assert ssh(machine["port"], "nosuchuser", password="guess") != 0
    assert ssh(machine["port"], USER, password=PASSWORD) == 0
    assert ssh(machine["port"], USER, key=machine["key"]) == 0
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


@pytest.mark.parametrize("machine", ["VERBOSE"], indirect=True)
def test_verbose_sshd_sudo_and_su_leave_no_line_not_understood(machine):
    port, log = machine["port"], machine["log"]
    start = log.stat().st_size
    assert ssh(port, USER, password="wrong password") != 0
    assert ssh(port, USER, password=PASSWORD) == 0
    assert ssh(port, USER, key=machine["key"]) == 0
    with socket.create_connection(("127.0.0.1", port)):
        pass  # a probe: connects and says nothing
    # sudo and su with no terminal, as from cron or a script
    subprocess.run(["sudo", "-u", "nobody", "true"], check=True, stdin=subprocess.DEVNULL)
    subprocess.run(["su", "-s", "/bin/sh", "-c", "true", "nobody"], check=True)
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
