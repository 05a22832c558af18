#!/usr/bin/env python3
"""Measure authwatch and its baselines on the same generated data, in one run,
and print a table (medians of several runs):

- backlog: `authwatch --dry-run --from-start` and a real run against a
  Pushover stand-in on 127.0.0.1, on 100k and 1M lines; lines/s; the ratio
  to `grep -vcE` with a noise alternation on the same file; peak RSS
  (/usr/bin/time -v);
- the journal: entries/s on journal files written by systemd-journal-remote,
  next to `journalctl -o cat | grep -vcE`;
- the no-op run (nothing new) next to `python -c pass`.

    scripts/bench [--quick]  # installs authwatch into .venv-bench, as a user would
"""

import argparse
import http.server
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON = sys.executable
# The command cron runs: the console script installed beside this Python.
AUTHWATCH = [os.path.join(os.path.dirname(PYTHON), "authwatch")]
GREP_NOISE = "CRON|Connection closed|Received disconnect|Disconnected from|check pass"
JOURNAL_REMOTE = "/usr/lib/systemd/systemd-journal-remote"


class StandIn(http.server.BaseHTTPRequestHandler):
    """Pushover on 127.0.0.1: accepts every message."""

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = json.dumps({"status": 1, "request": "bench"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def seconds(command, runs, **kwargs):
    """Run command `runs` times; return the median wall time in seconds."""
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        # a pipe, not /dev/null: GNU grep stops at the first match when its output is /dev/null
        subprocess.run(command, check=True, stdout=subprocess.PIPE, **kwargs)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def peak_rss_mib(command):
    """Run command under /usr/bin/time -v; return its peak RSS in MiB."""
    done = subprocess.run(
        ["/usr/bin/time", "-v", *command],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)[1]) / 1024


def generate(path, lines, fmt="classic"):
    with open(path, "w") as out:
        subprocess.run(
            [PYTHON, os.path.join(HERE, "generate.py"), "--lines", str(lines), "--format", fmt],
            check=True,
            stdout=out,
        )


def main():
    parser = argparse.ArgumentParser(description="authwatch benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer runs")
    options = parser.parse_args()
    sizes = [20_000, 100_000] if options.quick else [100_000, 1_000_000]
    runs = 1 if options.quick else 3
    journal_entries = 50_000 if options.quick else 300_000
    work = tempfile.mkdtemp(prefix="authwatch-bench-")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = os.path.join(work, "authwatch.ini")
    with open(config, "w") as file:
        file.write(
            "[pushover]\ntoken = "
            + "a" * 30
            + "\nuser = "
            + "u" * 30
            + f"\napi_url = http://127.0.0.1:{server.server_address[1]}/1/messages.json\n"
        )
    rows = []
    try:
        for size in sizes:
            log = os.path.join(work, f"auth-{size}.log")
            generate(log, size)
            grep = seconds(["grep", "-vcE", GREP_NOISE, log], runs)
            dry = seconds([*AUTHWATCH, "--dry-run", "--from-start", "--log", log], runs)
            state = os.path.join(work, "state")

            real_run = [
                *AUTHWATCH,
                "--config",
                config,
                "--state-dir",
                state,
                "--from-start",
                "--log",
                log,
            ]
            real_times = []
            for _ in range(runs):
                shutil.rmtree(state, ignore_errors=True)  # so that every run sends
                real_times.append(seconds(real_run, 1))
            real = statistics.median(real_times)
            rss = peak_rss_mib([*AUTHWATCH, "--dry-run", "--from-start", "--log", log])
            rows.append(
                (
                    f"backlog {size:,} lines, dry run",
                    dry,
                    f"{size / dry:,.0f} lines/s",
                    f"{dry / grep:.1f}× grep ({grep:.3f} s)",
                    f"{rss:.1f} MiB",
                )
            )
            rows.append(
                (
                    f"backlog {size:,} lines, real run",
                    real,
                    f"{size / real:,.0f} lines/s",
                    f"{real / grep:.1f}× grep",
                    "",
                )
            )

        # the no-op run: the position is stored and nothing is new
        log = os.path.join(work, "quiet.log")
        generate(log, 1000)
        state = os.path.join(work, "quiet-state")
        noop = [*AUTHWATCH, "--config", config, "--state-dir", state, "--log", log]
        subprocess.run(noop, check=True)
        bare = seconds([PYTHON, "-c", "pass"], 20)
        quiet = seconds(noop, 20)
        ratio = f"{quiet / bare:.1f}× python -c pass ({bare * 1000:.0f} ms)"
        rows.append(("no-op run (nothing new)", quiet, "", ratio, f"{peak_rss_mib(noop):.1f} MiB"))

        if os.access(JOURNAL_REMOTE, os.X_OK):
            folder = os.path.join(work, "journal")
            os.mkdir(folder)
            export = os.path.join(work, "bench.export")
            generate(export, journal_entries, "journal")
            with open(export, "rb") as data:
                subprocess.run(
                    [JOURNAL_REMOTE, "-o", os.path.join(folder, "bench.journal"), "-"],
                    stdin=data,
                    check=True,
                    stderr=subprocess.DEVNULL,
                )
            shell = f"journalctl -D {folder} -o cat | grep -vcE '{GREP_NOISE}'"
            baseline = seconds(["sh", "-c", shell], runs)
            journal = seconds(
                [*AUTHWATCH, "--dry-run", "--from-start", "--journal-dir", folder], runs
            )
            rows.append(
                (
                    f"journal {journal_entries:,} entries, dry run",
                    journal,
                    f"{journal_entries / journal:,.0f} entries/s",
                    f"{journal / baseline:.1f}× journalctl|grep ({baseline:.2f} s)",
                    "",
                )
            )
    finally:
        server.shutdown()
        shutil.rmtree(work)

    print(f"| {'what':<38} | {'median':>9} | {'speed':>19} | {'ratio':<36} | {'peak RSS':>9} |")
    print(f"| {'-' * 38} | {'-' * 9}: | {'-' * 19}: | {'-' * 36} | {'-' * 9}: |")
    for what, took, speed, ratio, rss in rows:
        print(f"| {what:<38} | {took:>8.3f}s | {speed:>19} | {ratio:<36} | {rss:>9} |")


if __name__ == "__main__":
    main()
