"""What the tests share besides fixtures (those are in conftest.py): a fixed
clock, Pushover's keys, sshd's login lines and the forms Pushover should
receive for them, and ways to run authwatch: its main() as cron would, as a
program of its own, as the user nobody, across a rotation; journal files
as systemd-journal-remote writes them, and GeoIP databases."""

import datetime
import io
import json
import os
import re
import struct
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


def run_main(*argv, environ=None, now=NOW, host=None):
    """Run authwatch.main() with argv; return its Result (exit status and output)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    status = authwatch.main(
        list(argv),
        stdout=stdout,
        stderr=stderr,
        environ={} if environ is None else environ,
        clock=lambda: now,
        host=host,
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


# what the first login message says while there is no memory of logins
NO_MEMORY_NOTE = f"Note: {authwatch.NO_MEMORY}\n"


def alice_login_form(when, timestamp):
    """Return the form of the message about alice's key login, which the
    tests' logs and journals hold, logged at `when` ("2026-11-27 11:05:00"),
    as the first login that authwatch sees."""
    return form(
        "web1: SSH login alice from 192.0.2.10",
        NO_MEMORY_NOTE + "Method: publickey\n"
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
        "unverified": False,
        "country": None,
        "asn": None,
        "as_org": None,
        "new_origin": True,
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


def stored_offset(state_dir, log):
    """Return the offset in log that the position file in state_dir holds."""
    path = authwatch.file_position_path(str(state_dir), str(log))
    with open(path) as file:
        return int(file.read().split()[1])


# Runs the command in its arguments but the first, and writes its exit status
# and peak RSS in KiB to the file that the first names: a small process of its
# own starts it, since an exec() counts the RSS of the process it replaces.
PEAK_RSS = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_measured(tmp_path, *argv):
    """Run authwatch with argv as a program of its own; return its Result
    and its peak RSS in MiB."""
    measured = tmp_path / "peak-rss"
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(measured), sys.executable, "-c", MAIN, *argv],
        capture_output=True,
        text=True,
        timeout=600,
    )
    status, peak = measured.read_text().split()
    return Result(int(status), done.stdout, done.stderr), int(peak) / 1024


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


JOURNAL_REMOTE = "/usr/lib/systemd/systemd-journal-remote"


def write_journal(folder, export, name="remote.journal"):
    """Append the entries of journal export text (bytes) to folder/name, as a
    log host's systemd-journal-remote does; fail unless it wrote them all."""
    folder.mkdir(exist_ok=True)
    done = subprocess.run(
        [JOURNAL_REMOTE, "-o", str(folder / name), "-"],
        input=export,
        capture_output=True,
        check=True,
    )
    # it exits 0 even when it rejects entries: count what it wrote
    written = re.search(rb"Finishing after writing (\d+) entries", done.stderr)
    assert written and int(written[1]) == export.count(b"\n\n"), done.stderr


def export_entry(fields):
    """Return one entry in journal export format; a bytes value that is not
    valid UTF-8 is written in the format's binary form (length-prefixed)."""
    out = b""
    for key, value in fields.items():
        if isinstance(value, bytes):
            out += key.encode() + b"\n" + struct.pack("<Q", len(value)) + value + b"\n"
        else:
            out += f"{key}={value}\n".encode()
    return out + b"\n"


def sshd_entry(realtime, pid, message, program="sshd"):
    """Return a journal entry (export format) of sshd's on web1, at realtime
    (µs since the epoch), as journald records it."""
    return export_entry(
        {
            "__REALTIME_TIMESTAMP": realtime,
            "_BOOT_ID": "1" * 32,
            "_MACHINE_ID": "2" * 32,
            "_HOSTNAME": "web1",
            "SYSLOG_IDENTIFIER": program,
            "SYSLOG_FACILITY": "4",
            "_PID": str(pid),
            "_COMM": program,
            "MESSAGE": message,
        }
    )


# The tests' own GeoIP databases: a few documentation networks, placed as if
# they were real ones (MaxMind's GeoLite2 layout, which DB-IP's lite
# databases share).
# fmt: off
CITIES = {
    "203.0.113.0/24": {"city": {"names": {"en": "Berlin"}}, "country": {"iso_code": "DE"}},
    "198.51.100.0/24": {"country": {"iso_code": "CN"}},
    "2001:db8::/32": {"city": {"names": {"en": "Amsterdam"}}, "country": {"iso_code": "NL"}},
}
SYSTEMS = {
    "203.0.113.0/25": (64500, "Example Net"),
    "203.0.113.128/25": (64500, "Example Net"),
    "198.51.100.0/24": (4134, "Chinanet"),
    "192.0.2.0/24": (64500, "Example Net"),
    "2001:db8::/32": (64501, "Example Six"),
}
# fmt: on


def write_geoip(folder):
    """Write the tests' city and ASN databases into folder; return their paths."""
    from mmdb_writer import MmdbU32, MMDBWriter
    from netaddr import IPSet

    city = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    for network, record in CITIES.items():
        city.insert_network(IPSet([network]), record)
    systems = MMDBWriter(ip_version=6, database_type="GeoLite2-ASN", ipv4_compatible=True)
    for network, (number, name) in SYSTEMS.items():
        systems.insert_network(
            IPSet([network]),
            {"autonomous_system_number": MmdbU32(number), "autonomous_system_organization": name},
        )
    paths = folder / "city.mmdb", folder / "asn.mmdb"
    city.to_db_file(str(paths[0]))
    systems.to_db_file(str(paths[1]))
    return paths
