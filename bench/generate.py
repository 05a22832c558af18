#!/usr/bin/env python3
"""Write a realistic authentication log of an internet-facing server: mostly
brute-force sshd noise and probes, cron sessions every minute, now and then
a sudo command and a real login.  Deterministic for a seed.

    bench/generate.py --lines 1000000 --seed 1 --format classic > auth.log
    bench/generate.py --lines 100000 --format journal | \\
        /usr/lib/systemd/systemd-journal-remote -o DIR/bench.journal -

Formats: classic (Nov 26 19:24:53), rfc3339 (Debian 12's rsyslog) and
journal (journal export format, for systemd-journal-remote).
"""

import argparse
import datetime
import random
import sys

USERS = ["root", "admin", "test", "ubuntu", "oracle", "postgres", "user", "git", "pi", "ftp"]
START = datetime.datetime(2026, 11, 26, 0, 0, 0, tzinfo=datetime.timezone.utc)


PAM_FAILURE = (
    "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost="
)
KEY = "ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"
CRON_OPENED = "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)"
CRON_CLOSED = "pam_unix(cron:session): session closed for user root"
SUDO_OPENED = "pam_unix(sudo:session): session opened for user root(uid=0) by alice(uid=1000)"
SUDO_CLOSED = "pam_unix(sudo:session): session closed for user root"
SSHD_OPENED = "pam_unix(sshd:session): session opened for user deploy(uid=1001) by (uid=0)"
SSHD_CLOSED = "pam_unix(sshd:session): session closed for user deploy"
KEX = "error: kex_exchange_identification: Connection closed by remote host"
COMMANDS = ["/usr/bin/apt update", "/bin/systemctl restart nginx", "/usr/bin/id"]


def connection(rng, pid, address):
    """Return the lines of one brute-force connection, as (program, pid, facility, message)."""
    port = rng.randint(1024, 65535)
    user = rng.choice(USERS)
    if user == "root" or rng.random() < 0.3:
        lines = [f"{PAM_FAILURE}{address}  user={user}"]
        failed, who = f"for {user}", f"authenticating user {user}"
    else:
        lines = [
            f"Invalid user {user} from {address} port {port}",
            "pam_unix(sshd:auth): check pass; user unknown",
            f"{PAM_FAILURE}{address}",
        ]
        failed, who = f"for invalid user {user}", f"invalid user {user}"
    lines += [f"Failed password {failed} from {address} port {port} ssh2"] * rng.randint(1, 3)
    lines += [
        f"Received disconnect from {address} port {port}:11: Bye Bye [preauth]",
        f"Disconnected from {who} {address} port {port} [preauth]",
    ]
    return [("sshd", pid, 4, line) for line in lines]


def events(rng):
    """Yield (program, pid, facility, message) forever, in the mix of a busy server."""
    pid = 10000
    addresses = [
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        for _ in range(5000)
    ]
    while True:
        pid += 1
        roll = rng.random()
        if roll < 0.70:
            yield from connection(rng, pid, rng.choice(addresses))
        elif roll < 0.80:
            address, port = rng.choice(addresses), rng.randint(1024, 65535)
            yield ("sshd", pid, 4, KEX)
            yield ("sshd", pid, 4, f"Connection closed by {address} port {port}")
        elif roll < 0.97:
            yield ("CRON", pid, 10, CRON_OPENED)
            yield ("CRON", pid, 10, CRON_CLOSED)
        elif roll < 0.99:
            command = rng.choice(COMMANDS)
            sudo = f"   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND={command}"
            yield ("sudo", None, 10, sudo)
            yield ("sudo", None, 10, SUDO_OPENED)
            yield ("sudo", None, 10, SUDO_CLOSED)
        else:
            address, port = f"192.0.2.{rng.randint(1, 50)}", rng.randint(1024, 65535)
            accepted = f"Accepted publickey for deploy from {address} port {port} ssh2: {KEY}"
            yield ("sshd", pid, 4, accepted)
            yield ("sshd", pid, 10, SSHD_OPENED)
            yield ("systemd-logind", 512, 4, f"New session {pid} of user deploy.")
            bye = f"Received disconnect from {address} port {port}:11: disconnected by user"
            yield ("sshd", pid, 4, bye)
            yield ("sshd", pid, 4, f"Disconnected from user deploy {address} port {port}")
            yield ("sshd", pid, 10, SSHD_CLOSED)


def export_entry(stamp, host, program, pid, facility, message):
    fields = [
        f"__REALTIME_TIMESTAMP={int(stamp.timestamp() * 1_000_000)}",
        f"_HOSTNAME={host}",
        f"SYSLOG_IDENTIFIER={program}",
        f"SYSLOG_FACILITY={facility}",
        f"_COMM={program.lower()}",
        f"MESSAGE={message}",
    ]
    if pid is not None:
        fields.append(f"_PID={pid}")
    return "\n".join(fields) + "\n\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("classic", "rfc3339", "journal"), default="classic")
    parser.add_argument("--host", default="web1")
    options = parser.parse_args()
    rng = random.Random(options.seed)
    stamp = START
    out = sys.stdout
    for count, (program, pid, facility, message) in enumerate(events(rng)):
        if count == options.lines:
            break
        stamp += datetime.timedelta(microseconds=rng.randint(0, 400_000))
        if options.format == "journal":
            out.write(export_entry(stamp, options.host, program, pid, facility, message))
            continue
        if options.format == "classic":
            when = f"{stamp:%b} {stamp.day:2} {stamp:%H:%M:%S}"
        else:
            when = stamp.isoformat(timespec="microseconds")
        tag = f"{program}[{pid}]" if pid is not None else program
        out.write(f"{when} {options.host} {tag}: {message}\n")


if __name__ == "__main__":
    main()
