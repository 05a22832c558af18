"""Understanding log lines: parse_line(), classify(), the noise patterns and
events_of(), checked against the sample lines in samples/*.samples, through
the functions and through --dry-run --json."""

import datetime
import json
import random
import re
from pathlib import Path

import pytest
from helpers import NOW, run_main

import authwatch

SAMPLES_DIR = Path(__file__).parent / "samples"
SAMPLE_FILES = sorted(SAMPLES_DIR.glob("*.samples"))
EXPECT = "=> "
UTC = datetime.timezone.utc
RULE_NAMES = {rule.name for rule in authwatch.RULES}
KIND_OF_RULE = {rule.name: rule.kind for rule in authwatch.RULES}


def read_samples(path):
    """Given a samples file, return (samples, problems): samples as (line
    number, raw line, expectation) where the expectation is "noise" or a
    dict, and problems as sentences about lines that break the format.
    """
    samples, problems = [], []
    pending = None  # (line number, raw line) still waiting for its expectation
    # split on "\n" only: a sample's trailing spaces are part of it
    for number, text in enumerate(path.read_text(encoding="utf-8").split("\n"), 1):
        if not text.strip() or text.startswith("#"):
            if pending:
                problems.append(f"line {pending[0]}: no expectation follows")
                pending = None
            continue
        if not text.startswith(EXPECT):
            if pending:
                problems.append(f"line {pending[0]}: no expectation follows")
            pending = (number, text)
            continue
        if pending is None:
            problems.append(f"line {number}: expectation without a sample line")
            continue
        expected = text[len(EXPECT) :]
        if expected != "noise":
            try:
                expected = json.loads(expected)
            except ValueError as error:
                problems.append(f"line {number}: not JSON: {error}")
                pending = None
                continue
        samples.append((pending[0], pending[1], expected))
        pending = None
    if pending:
        problems.append(f"line {pending[0]}: no expectation follows")
    return samples, problems


READ = {path.name: read_samples(path) for path in SAMPLE_FILES}
SAMPLES = [(name, *sample) for name, (samples, _) in READ.items() for sample in samples]


def event_fields(line, now=NOW):
    """Given a raw line, return its Event alone as a dict, the time as ISO text."""
    return as_json(authwatch.classify(authwatch.parse_line(line, now)))


def as_json(event):
    fields = event._asdict()
    fields["time"] = fields["time"].isoformat() if fields["time"] else None
    return fields


def understood(name):
    """Given a samples file's name, return {raw line: Event fields} for the
    lines of the file read top to bottom by events_of(), as a run reads
    them (noise dropped, connections followed).
    """
    records = [authwatch.parse_line(line, NOW) for _, line, _ in READ[name][0]]
    return {event.line: as_json(event) for event in authwatch.events_of(records)}


UNDERSTOOD = {name: understood(name) for name in READ}


def dry_run_json(name, tmp_path):
    """Given a samples file's name, return {raw line: JSON object} of what
    `authwatch --dry-run --json --from-start` prints for its lines."""
    log = tmp_path / name
    log.write_text("".join(line + "\n" for _, line, _ in READ[name][0]), encoding="utf-8")
    result = run_main("--dry-run", "--json", "--from-start", "--log", str(log))
    assert (result.status, result.stderr) == (0, "")
    objects = [json.loads(text) for text in result.stdout.splitlines()]
    return {event["line"]: event for event in objects}


### The samples files #########################################################


def test_samples_files_are_well_formed():
    assert {name: problems for name, (_, problems) in READ.items() if problems} == {}
    assert len(SAMPLES) >= 80  # the files were read, not skipped
    for name, number, line, expected in SAMPLES:
        where = f"{name} line {number}"
        assert [sample[2] for sample in SAMPLES if sample[0] == name].count(line) == 1, where
        if expected == "noise":
            continue
        assert isinstance(expected, dict), where
        assert {"kind", "rule"} <= expected.keys(), where
        assert expected.keys() <= set(authwatch.Event._fields), where
        assert expected["rule"] is None or expected["rule"] in RULE_NAMES, where
        kinds = {KIND_OF_RULE.get(expected["rule"], "other")}
        if expected["rule"] in authwatch.ALONE_PROBES:
            kinds.add("probe")  # all that its connection wrote
        assert expected["kind"] in kinds, where
        assert expected["kind"] != "connection", f"{where}: a connection line expects noise"


def test_every_rule_has_a_sample():
    named = {expected["rule"] for *_, expected in SAMPLES if expected != "noise"}
    named |= {
        authwatch.classify(authwatch.parse_line(line, NOW)).rule
        for *_, line, expected in SAMPLES
        if expected == "noise"
    }
    assert sorted(RULE_NAMES - named) == []


@pytest.mark.parametrize(
    "name, line, expected",
    [
        pytest.param(name, line, expected, id=f"{name}:{number}")
        for name, number, line, expected in SAMPLES
    ],
)
def test_sample(name, line, expected):
    events = UNDERSTOOD[name]
    if expected == "noise":
        assert line not in events, "should be noise"
        return
    assert line in events, "should not be noise"
    assert {field: events[line][field] for field in expected} == expected


@pytest.mark.parametrize("name", sorted(READ))
def test_dry_run_json_says_what_the_samples_expect(name, tmp_path):
    events = dry_run_json(name, tmp_path)
    for number, line, expected in READ[name][0]:
        where = f"{name} line {number}"
        if expected == "noise":
            assert line not in events, where
            continue
        public = {
            field: value for field, value in expected.items() if field in authwatch.JSON_FIELDS
        }
        assert {field: events[line][field] for field in public} == public, where


### parse_line ################################################################


def test_a_late_december_line_read_in_early_january_is_last_year():
    now = datetime.datetime(2027, 1, 2, 0, 30, tzinfo=UTC)
    record = authwatch.parse_line("Dec 31 23:59:59 web1 sshd[1]: Server listening", now)
    assert record.time == datetime.datetime(2026, 12, 31, 23, 59, 59, tzinfo=UTC)


def test_a_line_a_few_hours_ahead_of_now_is_this_year():
    record = authwatch.parse_line("Nov 27 15:30:00 web1 sshd[1]: Server listening", NOW)
    assert record.time == datetime.datetime(2026, 11, 27, 15, 30, tzinfo=UTC)


def test_a_single_digit_day_is_padded_with_a_space():
    record = authwatch.parse_line("Nov  3 04:05:06 web1 sshd[1]: Server listening", NOW)
    assert record.time == datetime.datetime(2026, 11, 3, 4, 5, 6, tzinfo=UTC)
    assert (record.host, record.program, record.pid) == ("web1", "sshd", 1)


def test_an_rfc3339_time_in_utc_may_end_in_z():
    record = authwatch.parse_line("2026-11-26T19:24:53Z web1 sshd[123]: Server listening", NOW)
    assert record.time == datetime.datetime(2026, 11, 26, 19, 24, 53, tzinfo=UTC)
    assert record.time.utcoffset() == datetime.timedelta(0)
    assert (record.host, record.program, record.pid) == ("web1", "sshd", 123)
    assert record.message == "Server listening"


def test_a_line_without_timestamp_has_no_time_and_no_host():
    line = "sshd[123]: Invalid user admin from 203.0.113.5 port 4000"
    record = authwatch.parse_line(line, NOW)
    assert record == authwatch.Record(
        None, None, "sshd", 123, "Invalid user admin from 203.0.113.5 port 4000", line
    )


def test_a_line_with_a_host_but_no_timestamp():
    record = authwatch.parse_line("web1 sudo:    alice : TTY=pts/0 ; COMMAND=/bin/id", NOW)
    assert (record.time, record.host, record.program, record.pid) == (None, "web1", "sudo", None)
    assert record.message == "   alice : TTY=pts/0 ; COMMAND=/bin/id"


def random_text(seed, length):
    """Return text decoded from random bytes, as read_records() reads a line."""
    chooser = random.Random(seed)
    return bytes(chooser.randrange(256) for _ in range(length)).decode("utf-8", "replace")


GARBAGE = [
    "",
    " ",
    "\x00",
    ":",
    "[]: ",
    "sshd[",
    "sshd[]: x",
    "Nov",
    "Nov 26 19:24:53",
    "Nov 26 19:24:53 ",
    "Nov 99 99:99:99 web1 sshd[1]: x",
    "Feb 29 12:00:00 web1 sshd[1]: x",
    "Feb 30 12:00:00 web1 sshd[1]: x",
    "Nov 00 12:00:00 web1 sshd[1]: x",
    "Xyz 26 19:24:53 web1 sshd[1]: x",
    "2026-13-45T99:99:99+00:00 web1 sshd[1]: x",
    "2026-11-26T19:24:53+25:00 web1 sshd[1]: x",
    "0000-01-01T00:00:00Z web1 sshd[1]: x",
    bytes(range(256)).decode("latin-1"),
    random_text(1, 200),
    random_text(2, 5000),
    "A" * 100_000,
    "Nov 26 19:24:53 web1 sshd[1]: Failed password for " + "x from 1.2.3.4 " * 10_000,
    "Nov 26 19:24:53 web1 sshd[1]: Invalid user " + "from 10.0.0.1 port 22 " * 10_000,
    # any local user can write such lines with logger(1)
    "Nov 26 19:24:53 web1 sshd[" + "9" * 5000 + "]: Server listening",
    "Nov 26 19:24:53 web1 sshd[1]: Invalid user x from 192.0.2.1 port " + "9" * 5000,
]


@pytest.mark.parametrize("line", GARBAGE, ids=range(len(GARBAGE)))
def test_garbage_never_raises(line):
    record = authwatch.parse_line(line, NOW)
    assert record.line == line
    event = authwatch.classify(record)
    assert event.kind in set(authwatch.DEFAULT_PRIORITIES) - {"login_new"}


### events_of #################################################################


def test_events_of_drops_noise_and_classifies_the_rest_in_order():
    lines = [
        "Nov 26 19:17:01 web1 CRON[1]: pam_unix(cron:session): session closed for user root",
        "Nov 26 19:20:12 web1 sshd[2]: Invalid user admin from 203.0.113.45 port 51234",
        "Nov 26 19:20:15 web1 sshd[2]: Connection closed by 203.0.113.45 port 51234",
        (
            "Nov 26 19:25:10 web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ;"
            " COMMAND=/usr/bin/id"
        ),
        "this is not a syslog line",
    ]
    records = [authwatch.parse_line(line, NOW) for line in lines]
    events = list(authwatch.events_of(records))
    assert [(event.kind, event.rule, event.line) for event in events] == [
        ("invalid_user", "ssh_invalid_user", lines[1]),
        ("sudo", "sudo_command", lines[3]),
        ("other", None, lines[4]),
    ]


def test_events_of_without_noise_keeps_every_line():
    records = [authwatch.parse_line(line, NOW) for *_, line, _ in SAMPLES]
    events = list(authwatch.events_of(records, builtin_noise=False))
    # a failure without an address may wait for a later line of its connection;
    # a connection's lone end may be a probe (ALONE_PROBES)
    kept = [
        event.line
        for event in events
        if event.kind != "probe" or event.rule != "ssh_connection_closed"
    ]
    assert sorted(kept) == sorted(
        record.line for record in records if authwatch.classify(record).kind != "connection"
    )
    assert {event.kind for event in events} <= set(authwatch.DEFAULT_PRIORITIES) - {"login_new"}


def test_a_header_whose_date_is_no_date_still_names_host_and_program():
    record = authwatch.parse_line("Feb 30 10:00:00 web1 sshd[12]: Accepted password for a", NOW)
    assert (record.time, record.host, record.program, record.pid) == (None, "web1", "sshd", 12)


def test_rfc3339_fractions_and_zones_of_any_form():
    for stamp, expected in [
        ("2026-11-26T19:24:53.1234+0000", "2026-11-26T19:24:53.123400+00:00"),
        ("2026-11-26T19:24:53.123456789+01:00", "2026-11-26T19:24:53.123456+01:00"),
        ("2026-11-26T19:24:53Z", "2026-11-26T19:24:53+00:00"),
    ]:
        record = authwatch.parse_line(f"{stamp} web1 sshd[1]: x", NOW)
        assert record.time.isoformat() == expected
        assert (record.host, record.program) == ("web1", "sshd")


def test_every_number_a_rule_takes_is_bounded():
    # classify() makes numbers of them: an unbounded run of digits would be
    # refused by int() (over 4300 digits), or be no port at all
    numbers = re.compile(r"\(\?P<(port|count|connection)>([^()]*)\)")
    for rule in authwatch.RULES:
        for name, body in numbers.findall(rule.pattern):
            assert re.fullmatch(r"\\d\{1,(\d+)\}", body), (rule.name, name, body)
            assert int(re.fullmatch(r"\\d\{1,(\d+)\}", body)[1]) <= 10, (rule.name, name)


@pytest.mark.parametrize("line", ["", "   ", "\x00\x00\x00", "web1 sshd[1]: ", "sshd[2]:  \x00"])
def test_a_line_that_says_nothing_is_no_event(line):
    assert list(authwatch.events_of([authwatch.parse_line(line, NOW)])) == []


def test_program_names_no_rule_knows_share_one_compiled_matcher():
    # a local user may log under any name (logger -t): each must not compile its own
    lines = [f"Nov 27 10:00:00 web1 prog{n}[1]: Failed password for x from 192.0.2.{n % 250}"
             " port 22 ssh2" for n in range(300)]  # fmt: skip
    compiled = authwatch.matcher_for.cache_info().currsize
    programs = authwatch.rules_for.cache_info().currsize
    events = list(authwatch.events_of(authwatch.parse_line(line, NOW) for line in lines))
    assert len(events) == 300
    assert authwatch.matcher_for.cache_info().currsize <= compiled + 2
    assert authwatch.rules_for.cache_info().currsize <= programs + 1
