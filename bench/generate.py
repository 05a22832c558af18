#!/usr/bin/env python3
"""Write a realistic authentication log of internet-facing servers: mostly
brute-force sshd noise and probes, cron sessions every minute, now and then
a sudo command and a real login.  Deterministic for a seed.

    bench/generate.py --lines 1000000 --seed 1 --format classic > auth.log
    bench/generate.py --lines 100000 --format journal | \\
        /usr/lib/systemd/systemd-journal-remote -o DIR/bench.journal -
    bench/generate.py --lines 300000 --hosts 20 --format journal --per-host DIR
        # DIR/web1.export ... DIR/web20.export, one for each host

Formats: classic (Nov 26 19:24:53), rfc3339 (Debian 12's rsyslog) and
journal (journal export format, for systemd-journal-remote).

--flood BYTES writes a hostile local user's flood instead: lines (or
MESSAGE fields) of BYTES of sshd's "Login name ... does not match stored
username x", each from a pid of its own, then one root login.

    bench/generate.py --lines 4096 --flood 65536 > flood.log
    bench/generate.py --lines 30 --flood 5000000 --format journal | ...

Time stamps advance 0 to 2 s a line (1 s on average, whatever the number of
hosts), so that about three lines in four start a new second, as in the log
of a server that writes a line every second or so; lines of a connection
that share a second share it by chance only.  --hosts N writes the lines of
N hosts (web1 ... webN), interleaved at random, each host with its own pids
(and, in the journal form, its own _HOSTNAME, _MACHINE_ID and _BOOT_ID);
all are attacked from the same pool of addresses.
"""

import argparse
import contextlib
import datetime
import os
import random
import sys

USERS = ["root", "admin", "test", "ubuntu", "oracle", "postgres", "user", "git", "pi", "ftp"]
# Far enough in the past that a million lines (about 12 days) end before a
# classic stamp's year is guessed as the year before (see --start).
START = datetime.datetime(2026, 11, 1, 0, 0, 0, tzinfo=datetime.timezone.utc)
STEP = 2_000_000  # the most a time stamp advances from one line to the next, in µs


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


def attackers(rng):
    """Return the pool of 5000 attacking addresses that all hosts see."""
    return [
        f"{rng.randint(1, 223)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}.{rng.randint(1, 254)}"
        for _ in range(5000)
    ]


def events(rng, addresses):
    """Yield (program, pid, facility, message) forever, in the mix of a busy
    server attacked from addresses.
    """
    pid = rng.randint(1000, 30000)
    logind = rng.randint(300, 999)
    while True:
        pid += rng.randint(1, 4)  # other processes start too
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
            yield ("systemd-logind", logind, 4, f"New session {pid} of user deploy.")
            bye = f"Received disconnect from {address} port {port}:11: disconnected by user"
            yield ("sshd", pid, 4, bye)
            yield ("sshd", pid, 4, f"Disconnected from user deploy {address} port {port}")
            yield ("sshd", pid, 10, SSHD_CLOSED)


class Host:
    """One server: its name, ids and stream of events."""

    def __init__(self, name, rng, addresses):
        self.name = name
        self.machine_id = f"{rng.getrandbits(128):032x}"
        self.boot_id = f"{rng.getrandbits(128):032x}"
        self.events = events(rng, addresses)


def export_entry(stamp, host, program, pid, facility, message):
    fields = [
        f"__REALTIME_TIMESTAMP={int(stamp.timestamp() * 1_000_000)}",
        f"_BOOT_ID={host.boot_id}",
        f"_MACHINE_ID={host.machine_id}",
        f"_HOSTNAME={host.name}",
        f"SYSLOG_IDENTIFIER={program}",
        f"SYSLOG_FACILITY={facility}",
        f"_COMM={program.lower()}",
        f"MESSAGE={message}",
    ]
    if pid is not None:
        fields.append(f"_PID={pid}")
    return "\n".join(fields) + "\n\n"


def host_names(options):
    """Return the names of the hosts: --host alone, or web1 ... webN."""
    if options.hosts == 1:
        return [options.host]
    return [f"web{number}" for number in range(1, options.hosts + 1)]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines (entries) in all")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--format", choices=("classic", "rfc3339", "journal"), default="classic")
    parser.add_argument("--hosts", type=int, default=1, help="lines from N hosts, web1 ... webN")
    parser.add_argument("--host", default="web1", help="the host's name when there is one")
    parser.add_argument(
        "--start",
        type=datetime.datetime.fromisoformat,
        default=START,
        help=f"time of the first line (default {START.isoformat()}; no zone: UTC)",
    )
    parser.add_argument(
        "--flood",
        type=int,
        metavar="BYTES",
        help="write a local user's flood of lines of BYTES, then a root login (see above)",
    )
    parser.add_argument(
        "--per-host",
        metavar="DIR",
        help="write each host's lines to DIR/HOST.log (HOST.export for journal), not stdout",
    )
    options = parser.parse_args()
    if options.hosts < 1:
        parser.error("--hosts must be at least 1")
    rng = random.Random(options.seed)
    addresses = attackers(rng)
    hosts = [
        Host(name, random.Random(rng.getrandbits(64)), addresses) for name in host_names(options)
    ]
    if options.flood:
        write_flood(options, hosts[0], sys.stdout)
        return
    with contextlib.ExitStack() as stack:
        if options.per_host:
            os.makedirs(options.per_host, exist_ok=True)
            suffix = ".export" if options.format == "journal" else ".log"
            outs = {
                host.name: stack.enter_context(
                    open(os.path.join(options.per_host, host.name + suffix), "w")
                )
                for host in hosts
            }
        else:
            outs = dict.fromkeys((host.name for host in hosts), sys.stdout)
        write(options, hosts, rng, outs)


def write_flood(options, host, out):
    """Write options.lines lines of the flood of options.flood bytes each,
    a second apart, then a root login, to out."""
    stamp = (
        options.start
        if options.start.tzinfo
        else options.start.replace(tzinfo=datetime.timezone.utc)
    )
    tail = " does not match stored username x"
    for number in range(options.lines + 1):
        stamp += datetime.timedelta(seconds=1)
        if number < options.lines:
            pid, facility = 10000 + number, 10
            head = f"Login name {number:06d}"
            message = head.ljust(options.flood - len(tail) - 60, "A") + tail
        else:
            pid, facility = 4242, 4
            message = "Accepted password for root from 203.0.113.9 port 52144 ssh2"
        if options.format == "journal":
            out.write(export_entry(stamp, host, "sshd", pid, facility, message))
        else:
            when = f"{stamp:%b} {stamp.day:2} {stamp:%H:%M:%S}"
            out.write(f"{when} {host.name} sshd[{pid}]: {message}\n")


def write(options, hosts, rng, outs):
    """Write options.lines lines of hosts, at random, each to outs[its name]."""
    stamp = options.start
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=datetime.timezone.utc)
    for _ in range(options.lines):
        host = hosts[rng.randrange(len(hosts))] if len(hosts) > 1 else hosts[0]
        program, pid, facility, message = next(host.events)
        stamp += datetime.timedelta(microseconds=rng.randint(0, STEP))
        out = outs[host.name]
        if options.format == "journal":
            out.write(export_entry(stamp, host, program, pid, facility, message))
            continue
        if options.format == "classic":
            when = f"{stamp:%b} {stamp.day:2} {stamp:%H:%M:%S}"
        else:
            when = stamp.isoformat(timespec="microseconds")
        tag = f"{program}[{pid}]" if pid is not None else program
        out.write(f"{when} {host.name} {tag}: {message}\n")


if __name__ == "__main__":
    main()
