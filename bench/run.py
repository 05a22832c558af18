#!/usr/bin/env python3
"""Measure authwatch, the code before the speed work (the baseline) and the
usual tools on the same generated data, in one run, and print a table
(medians of several runs) and how the figures stand against the targets:

- backlog: `authwatch --dry-run --from-start` and a real run against a
  Pushover stand-in on 127.0.0.1, on 100k and 1M lines of one host's
  classic auth.log whose time stamp changes about every second; lines/s;
  the ratio to `grep -vcE` with a noise alternation on the same file; peak
  RSS (/usr/bin/time -v);
- the journal: entries/s on journal files written by systemd-journal-remote,
  next to `journalctl -D DIR -o cat | grep -vcE` on the same files: one
  host's 300k entries in one file, and a log host's directory of 20 files,
  one for each of 20 hosts (15k entries each, 300k in all);
- the baseline: `git show REV:authwatch.py` (--baseline, default 8995890,
  the code before the speed work) on the largest backlog and on both
  journal cases, next to the current code; both are run the same way,
  `python -c "...import authwatch; sys.exit(authwatch.main(sys.argv[1:]))"`,
  and their runs alternate;
- the no-op run (nothing new) next to `python -c pass`, medians of 20;
- a hostile local user's flood (bench/generate.py --flood): lines as long as
  authwatch reads (64 KiB) of sshd's "Login name ... does not match stored
  username", and a journal of 5 MB MESSAGE fields of it; peak RSS against
  the target of 64 MiB;
- progress: a backlog larger than the read budget (--max-read 1M), read by
  real runs until they catch up; each must end further than the last.

The other rows run the installed console script, as cron does.

    scripts/bench [--quick] [--baseline REV]  # installs authwatch into .venv-bench
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
REPOSITORY = os.path.dirname(HERE)
PYTHON = sys.executable
# The command cron runs: the console script installed beside this Python.
AUTHWATCH = [os.path.join(os.path.dirname(PYTHON), "authwatch")]
# The other way to run a module: the same for the current code and the baseline.
RUN_MODULE = (
    "import sys; sys.path.insert(0, {folder!r}); import authwatch; "
    "sys.exit(authwatch.main(sys.argv[1:]))"
)
GREP_NOISE = "CRON|Connection closed|Received disconnect|Disconnected from|check pass"
JOURNAL_REMOTE = "/usr/lib/systemd/systemd-journal-remote"
BASELINE = "8995890"
JOURNAL_HOSTS = 20

# The targets, for the full sizes (1M lines, 300k journal entries).
BACKLOG_TIMES_BASELINE = 2.5  # at least, in lines/s
BACKLOG_TIMES_GREP = 40  # at most, in time
PEAK_RSS_MIB = 30  # under
RSS_FLAT = 1.10  # largest backlog's peak over the smallest's: at most
JOURNAL_PER_SECOND = 220_000  # at least
QUIET_TIMES_PYTHON = 3  # at most, medians of 20
FLOOD_PEAK_MIB = 64  # at most, whatever is written
PROGRESS_BUDGET = "1M"  # --max-read of the progress case


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


class Bench:
    """The work folder, the number of runs and what was measured."""

    def __init__(self, work, runs):
        self.work = work
        self.runs = runs
        self.rows = []  # (what, seconds, speed, ratio, peak RSS)
        self.found = {}  # figures for the targets

    def path(self, name):
        return os.path.join(self.work, name)

    def seconds(self, command, runs=None):
        """Run command `runs` times (default self.runs); return the median wall time."""
        times = []
        for _ in range(runs or self.runs):
            times.append(self.once(command))
        return statistics.median(times)

    def once(self, command):
        """Run command once, in the work folder; return its wall time in seconds."""
        started = time.perf_counter()
        # a pipe, not /dev/null: GNU grep stops at the first match when its output is /dev/null
        subprocess.run(command, check=True, stdout=subprocess.PIPE, cwd=self.work)
        return time.perf_counter() - started

    def alternating(self, commands):
        """Run commands in turn, self.runs rounds; return the median wall time of each."""
        times = [[] for _ in commands]
        for _ in range(self.runs):
            for took, command in zip(times, commands):
                took.append(self.once(command))
        return [statistics.median(took) for took in times]

    def peak_rss_mib(self, command):
        """Run command under /usr/bin/time -v; return its peak RSS in MiB."""
        done = subprocess.run(
            ["/usr/bin/time", "-v", *command],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd=self.work,
        )
        found = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
        return int(found[1]) / 1024

    def row(self, what, took, speed="", ratio="", rss=""):
        self.rows.append((what, f"{took:.3f}s", speed, ratio, rss))

    def generate(self, name, lines, fmt="classic", hosts=1, per_host=False):
        """Write generated data to the work folder: the file `name`, or with
        per_host the folder `name` of a HOST.log or HOST.export for each host.
        Return its path.
        """
        path = self.path(name)
        command = [PYTHON, os.path.join(HERE, "generate.py"), "--lines", str(lines)]
        command += ["--format", fmt, "--hosts", str(hosts)]
        if per_host:
            subprocess.run([*command, "--per-host", path], check=True)
        else:
            with open(path, "w") as out:
                subprocess.run(command, check=True, stdout=out)
        return path

    def flood(self, name, lines, size, fmt="classic"):
        """Write a local user's flood of lines (journal entries) of size bytes
        to the work folder (a log file, or a folder of journal files); return
        its path."""
        path = self.path(name)
        command = [PYTHON, os.path.join(HERE, "generate.py"), "--lines", str(lines)]
        command += ["--flood", str(size), "--format", fmt]
        if fmt != "journal":
            with open(path, "w") as out:
                subprocess.run(command, check=True, stdout=out)
            return path
        os.mkdir(path)
        export = subprocess.run(command, check=True, stdout=subprocess.PIPE).stdout
        subprocess.run(
            [JOURNAL_REMOTE, "-o", os.path.join(path, "flood.journal"), "-"],
            input=export,
            check=True,
            stderr=subprocess.DEVNULL,
        )
        return path

    def journal_folder(self, name, entries, hosts):
        """Write a folder of journal files, one a host, by systemd-journal-remote
        from generated entries; return its path.
        """
        folder = self.path(name)
        os.mkdir(folder)
        exports = self.generate(name + "-export", entries, "journal", hosts, per_host=True)
        for export in sorted(os.listdir(exports)):
            host = export.removesuffix(".export")
            with open(os.path.join(exports, export), "rb") as data:
                subprocess.run(
                    [JOURNAL_REMOTE, "-o", os.path.join(folder, host + ".journal"), "-"],
                    stdin=data,
                    check=True,
                    stderr=subprocess.DEVNULL,
                )
        return folder


def stored_offset(state, log):
    """Return the offset in log that its position file in state holds (as
    authwatch names and writes it)."""
    name = os.path.abspath(log).strip("/").replace("/", "_") + ".offset"
    with open(os.path.join(state, name)) as file:
        return int(file.read().split()[1])


def baseline_folder(rev, work):
    """Write `git show REV:authwatch.py`, byte-compiled, to a folder in work;
    return the folder, or None (and say why) when git cannot.
    """
    done = subprocess.run(
        ["git", "-C", REPOSITORY, "show", f"{rev}:authwatch.py"],
        capture_output=True,
        text=True,
    )
    if done.returncode:
        print(f"no baseline: git show {rev}:authwatch.py: {done.stderr.strip()}", file=sys.stderr)
        return None
    folder = os.path.join(work, "baseline")
    os.mkdir(folder)
    with open(os.path.join(folder, "authwatch.py"), "w") as file:
        file.write(done.stdout)
    # as pip does for the installed module, so that neither compiles in the first run
    subprocess.run([PYTHON, "-m", "compileall", "-q", folder], check=True)
    return folder


def installed_folder(work):
    """Return the folder that the installed authwatch module is in."""
    done = subprocess.run(
        [PYTHON, "-c", "import authwatch; print(authwatch.__file__)"],
        check=True,
        capture_output=True,
        text=True,
        cwd=work,
    )
    folder = os.path.dirname(done.stdout.strip())
    if os.path.samefile(folder, REPOSITORY):
        print("note: authwatch is imported from the working tree, not installed", file=sys.stderr)
    return folder


def module(folder):
    """Return the command that runs authwatch from folder by python -c."""
    return [PYTHON, "-c", RUN_MODULE.format(folder=folder)]


def main():
    parser = argparse.ArgumentParser(description="authwatch benchmark")
    parser.add_argument("--quick", action="store_true", help="smaller data, fewer runs")
    parser.add_argument(
        "--baseline",
        metavar="REV",
        default=BASELINE,
        help=f"git revision of authwatch.py to compare with (default {BASELINE}; '' for none)",
    )
    options = parser.parse_args()
    sizes = [20_000, 100_000] if options.quick else [100_000, 1_000_000]
    journal_entries = 50_000 if options.quick else 300_000
    work = tempfile.mkdtemp(prefix="authwatch-bench-")
    bench = Bench(work, 1 if options.quick else 3)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    config = bench.path("authwatch.ini")
    with open(os.open(config, os.O_WRONLY | os.O_CREAT, 0o600), "w") as file:
        file.write(
            "[pushover]\ntoken = "
            + "a" * 30
            + "\nuser = "
            + "u" * 30
            + f"\napi_url = http://127.0.0.1:{server.server_address[1]}/1/messages.json\n"
        )
    # dry runs read no config or state of this machine's
    empty = bench.path("empty-state")
    os.mkdir(empty)
    dry = ["--config", config, "--state-dir", empty, "--dry-run", "--from-start"]
    try:
        current = installed_folder(work)
        old = baseline_folder(options.baseline, work) if options.baseline else None
        versus = f"baseline {options.baseline}" if old else ""

        def against_baseline(what, unit, count, arguments):
            """Time the current code and the baseline, both by python -c; add
            their rows; return the current's speed over the baseline's.
            """
            if not old:
                return None
            now, then = bench.alternating(
                [[*module(current), *arguments], [*module(old), *arguments]]
            )
            ratio = then / now
            speed = f"{count / now:,.0f} {unit}/s"
            bench.row(f"{what}, python -c", now, speed, f"{ratio:.2f}× {versus}")
            bench.row(f"  {versus}, python -c", then, f"{count / then:,.0f} {unit}/s")
            return ratio, count / now, count / then

        peaks = []
        for size in sizes:
            log = bench.generate(f"auth-{size}.log", size)
            grep = bench.seconds(["grep", "-vcE", GREP_NOISE, log])
            took = bench.seconds([*AUTHWATCH, *dry, "--log", log])
            state = bench.path("state")
            real_run = [*AUTHWATCH, "--config", config, "--state-dir", state, "--from-start"]
            real_times = []
            for _ in range(bench.runs):
                shutil.rmtree(state, ignore_errors=True)  # so that every run sends
                real_times.append(bench.seconds([*real_run, "--log", log], 1))
            real = statistics.median(real_times)
            rss = bench.peak_rss_mib([*AUTHWATCH, *dry, "--log", log])
            peaks.append(rss)
            what = f"backlog {size:,} lines"
            bench.row(
                f"{what}, dry run",
                took,
                f"{size / took:,.0f} lines/s",
                f"{took / grep:.1f}× grep ({grep:.3f} s)",
                f"{rss:.1f} MiB",
            )
            bench.row(
                f"{what}, real run", real, f"{size / real:,.0f} lines/s", f"{real / grep:.1f}× grep"
            )
            if size == sizes[-1]:
                bench.found["backlog"] = (size, took / grep, rss, rss / peaks[0])
                bench.found["backlog baseline"] = against_baseline(
                    f"{what}, dry run", "lines", size, [*dry, "--log", log]
                )

        # the no-op run: the position is stored and nothing is new
        log = bench.generate("quiet.log", 1000)
        state = bench.path("quiet-state")
        noop = [*AUTHWATCH, "--config", config, "--state-dir", state, "--log", log]
        subprocess.run(noop, check=True, cwd=work)
        bare = bench.seconds([PYTHON, "-c", "pass"], 20)
        quiet = bench.seconds(noop, 20)
        ratio = f"{quiet / bare:.1f}× python -c pass ({bare * 1000:.0f} ms)"
        bench.row(
            "no-op run (nothing new)", quiet, "", ratio, f"{bench.peak_rss_mib(noop):.1f} MiB"
        )
        bench.found["quiet"] = (quiet, bare)

        # a local user's flood of the longest lines: what a run keeps is bounded
        count = 1024 if options.quick else 4096
        flood = bench.flood(f"flood-{count}.log", count, 64 * 1024)
        took = bench.seconds([*AUTHWATCH, *dry, "--log", flood], 1)
        rss = bench.peak_rss_mib([*AUTHWATCH, *dry, "--log", flood])
        mib = os.path.getsize(flood) / 2**20
        met = f"{'met' if rss <= FLOOD_PEAK_MIB else 'NOT MET'}: ≤ {FLOOD_PEAK_MIB} MiB"
        bench.row(
            f"flood of {count:,} lines of 64 KiB, dry run", took, f"{mib / took:,.0f} MiB/s", met,
            f"{rss:.1f} MiB",
        )  # fmt: skip
        bench.found["flood"] = (f"{count:,} lines of 64 KiB", rss)

        # every run makes progress: a backlog larger than the budget, in steps
        size = sizes[0]
        backlog = bench.generate(f"progress-{size}.backlog", size)
        log, state = bench.path("progress.log"), bench.path("progress-state")
        open(log, "w").close()
        steps = [*AUTHWATCH, "--config", config, "--state-dir", state, "--log", log, "-q"]
        steps += ["--max-read", PROGRESS_BUDGET]  # -q: each says it is catching up
        subprocess.run(steps, check=True, cwd=work)  # the position: the log's end
        shutil.copyfile(backlog, log)  # the same file, grown
        offsets, times = [], []
        while not offsets or offsets[-1] < os.path.getsize(log):
            times.append(bench.once(steps))
            offsets.append(stored_offset(state, log))
            if len(offsets) > 1 and offsets[-1] <= offsets[-2]:
                break  # no further: the guarantee is broken
        further = all(after > before for before, after in zip(offsets, offsets[1:]))
        done = further and offsets[-1] == os.path.getsize(log)
        bench.row(
            f"backlog {size:,} lines, --max-read {PROGRESS_BUDGET}, real runs",
            statistics.median(times),
            f"{len(offsets)} runs",
            f"each further than the last: {'yes' if further else 'NO'}",
        )
        bench.found["progress"] = (size, len(offsets), done)

        if os.access(JOURNAL_REMOTE, os.X_OK):
            each = journal_entries // JOURNAL_HOSTS
            cases = [
                ("journal", f"journal {journal_entries:,} entries, 1 host", journal_entries, 1),
                (
                    "journal 20 hosts",
                    f"journal {JOURNAL_HOSTS} hosts × {each:,} entries",
                    each * JOURNAL_HOSTS,
                    JOURNAL_HOSTS,
                ),
            ]
            entries = 10 if options.quick else 30
            flood = bench.flood("journal-flood", entries, 5_000_000, "journal")
            arguments = [*dry, "--journal-dir", flood]
            took = bench.seconds([*AUTHWATCH, *arguments], 1)
            rss = bench.peak_rss_mib([*AUTHWATCH, *arguments])
            met = f"{'met' if rss <= FLOOD_PEAK_MIB else 'NOT MET'}: ≤ {FLOOD_PEAK_MIB} MiB"
            what = f"journal flood of {entries} entries of 5 MB, dry run"
            bench.row(what, took, f"{entries * 5 / took:,.0f} MB/s", met, f"{rss:.1f} MiB")
            bench.found["journal flood"] = (f"{entries} journal entries of 5 MB", rss)
            for key, what, entries, hosts in cases:
                folder = bench.journal_folder(key.replace(" ", "-"), entries, hosts)
                shell = f"journalctl -D {folder} -o cat | grep -vcE '{GREP_NOISE}'"
                reference = bench.seconds(["sh", "-c", shell])
                arguments = [*dry, "--journal-dir", folder]
                took = bench.seconds([*AUTHWATCH, *arguments])
                rss = bench.peak_rss_mib([*AUTHWATCH, *arguments])
                bench.row(
                    f"{what}, dry run",
                    took,
                    f"{entries / took:,.0f} entries/s",
                    f"{took / reference:.1f}× journalctl|grep ({reference:.2f} s)",
                    f"{rss:.1f} MiB",
                )
                bench.found[key] = (entries, entries / took, took / reference)
                bench.found[key + " baseline"] = against_baseline(
                    f"{what}, dry run", "entries", entries, arguments
                )
        else:
            print(f"no journal cases: {JOURNAL_REMOTE} is missing", file=sys.stderr)
    finally:
        server.shutdown()
        shutil.rmtree(work)

    print_table(bench.rows)
    print()
    print(
        "Rows without python -c run the installed console script (as cron does)"
        + (
            f"; python -c rows run the installed module and {versus} the same way, in alternation"
            if versus
            else ""
        )
        + (f". Medians of {bench.runs} runs" if bench.runs > 1 else ". One run each")
        + ", medians of 20 for the no-op run."
    )
    print()
    print_targets(bench.found, options, sizes, journal_entries)


def print_table(rows):
    heads = ("what", "median", "speed", "ratio", "peak RSS")
    right = (False, True, True, False, True)
    widths = [max(len(head), *(len(row[i]) for row in rows)) for i, head in enumerate(heads)]

    def line(cells):
        texts = [
            cell.rjust(width) if flush else cell.ljust(width)
            for cell, width, flush in zip(cells, widths, right)
        ]
        return "| " + " | ".join(texts) + " |"

    print(line(heads))
    print(
        "| "
        + " | ".join(
            "-" * (width - 1) + ":" if flush else "-" * width for width, flush in zip(widths, right)
        )
        + " |"
    )
    for row in rows:
        print(line(row))


def print_targets(found, options, sizes, journal_entries):
    """Print each target, what was measured and whether it is met."""
    targets = []  # (target, measured, met: True, False or None for not measured)
    rev = options.baseline
    if "backlog" in found:
        size, times_grep, rss, flat = found["backlog"]
        compared = found.get("backlog baseline")
        targets.append(
            (
                f"backlog: ≥ {BACKLOG_TIMES_BASELINE}× the lines/s of {rev or 'the baseline'}",
                f"{compared[0]:.2f}× ({compared[1]:,.0f} against {compared[2]:,.0f} lines/s)"
                if compared
                else "not measured",
                compared[0] >= BACKLOG_TIMES_BASELINE if compared else None,
            )
        )
        targets.append(
            (
                f"backlog: ≤ {BACKLOG_TIMES_GREP}× the time of grep -vcE",
                f"{times_grep:.1f}×",
                times_grep <= BACKLOG_TIMES_GREP,
            )
        )
        targets.append(
            (f"backlog: peak RSS < {PEAK_RSS_MIB} MiB", f"{rss:.1f} MiB", rss < PEAK_RSS_MIB)
        )
        targets.append(
            (
                f"backlog: peak RSS flat from {sizes[0]:,} to {size:,} lines (≤ {RSS_FLAT:.2f}×)",
                f"{flat:.2f}×",
                flat <= RSS_FLAT,
            )
        )
    for key, name in (("journal", "journal, 1 host"), ("journal 20 hosts", "journal, 20 hosts")):
        if key not in found:
            targets.append((f"{name}: ≥ {JOURNAL_PER_SECOND:,} entries/s", "not measured", None))
            continue
        entries, speed, times_reference = found[key]
        compared = found.get(key + " baseline")
        measured = f"{speed:,.0f} entries/s, {times_reference:.1f}× journalctl|grep"
        if compared:
            measured += f", {compared[0]:.2f}× {rev}"
        targets.append(
            (f"{name}: ≥ {JOURNAL_PER_SECOND:,} entries/s", measured, speed >= JOURNAL_PER_SECOND)
        )
    for key in ("flood", "journal flood"):
        if key in found:
            what, rss = found[key]
            target = f"flood ({what}): peak RSS ≤ {FLOOD_PEAK_MIB} MiB"
            targets.append((target, f"{rss:.1f} MiB", rss <= FLOOD_PEAK_MIB))
    if "progress" in found:
        size, runs, done = found["progress"]
        target = (
            f"backlog past the budget ({size:,} lines, --max-read {PROGRESS_BUDGET}):"
            " each run ends further, the last at the end"
        )
        targets.append((target, f"{runs} runs", done))
    quiet, bare = found["quiet"]
    targets.append(
        (
            f"no-op run: ≤ {QUIET_TIMES_PYTHON}× python -c pass (medians of 20)",
            f"{quiet / bare:.1f}× ({quiet * 1000:.0f} against {bare * 1000:.0f} ms)",
            quiet / bare <= QUIET_TIMES_PYTHON,
        )
    )
    if options.quick:
        scope = (
            f"--quick: {sizes[-1]:,} lines and {journal_entries:,} entries, "
            "not the targets' 1,000,000 and 300,000: only indicative"
        )
    else:
        scope = f"backlog {sizes[-1]:,} lines, journal {journal_entries:,} entries"
    print(f"targets ({scope}):")
    width = max(len(target) for target, _, _ in targets)
    for target, measured, met in targets:
        verdict = "met" if met else "not measured" if met is None else "NOT MET"
        print(f"  {verdict:<12} {target:<{width}}  {measured}")


if __name__ == "__main__":
    main()
