"""The README shows what authwatch prints: for the bundled sample log, and for
a fold of vital acts (on the tests' clock, in UTC); and every test it names
as the proof of a guarantee is there."""

import ast
import re
from pathlib import Path

from helpers import NOW, run_main

import authwatch

TOP = Path(__file__).parent.parent


def readme_block(after):
    """Return the indented block that follows the README's sentence ending in after."""
    text = (TOP / "README.md").read_text(encoding="utf-8")
    block = []
    for line in text.split(after, 1)[1].split("\n\n", 1)[1].splitlines():
        if line and not line.startswith("    "):
            break
        block.append(line[4:])
    return "\n".join(block).strip()


def test_the_readme_shows_what_the_demo_prints():
    sample = TOP / "sample"
    result = run_main(
        "--dry-run",
        "--from-start",
        "--log",
        str(sample / "auth.log"),
        "--state-dir",
        str(sample / "state"),
    )
    assert result.status == 0
    assert result.stdout.strip() == readme_block("as `scripts/demo` prints them")


def test_the_readme_shows_what_a_fold_of_vital_acts_is():
    lines = [
        f"Nov 27 11:50:{n:02} web1 sshd[{700 + n}]: Accepted password for"
        f" {('deploy', 'backup', 'monitor', 'deploy')[n % 4]} from 198.51.100.{n} port 40000 ssh2"
        for n in range(7)
    ]
    lines.append(
        "Nov 27 11:51:00 web1 sshd[800]: Accepted publickey for root from 203.0.113.66 port 51000"
        " ssh2: ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"
    )
    lines += [f"Nov 27 11:52:{n:02} web1 cockpit-session: {n} {'padding ' * 20}" for n in range(6)]
    lines.append(
        "Nov 27 11:53:00 web1 sudo:     root : PWD=/ ; USER=root ;"
        " COMMAND=/bin/sh -c id ' ; USER=nobody ; COMMAND=/usr/bin/true'"
    )
    alerts = authwatch.Alerts(priorities=dict(authwatch.DEFAULT_PRIORITIES), max_messages=2)
    events = authwatch.events_of(authwatch.parse_line(line, NOW) for line in lines)
    summaries = authwatch.summarise(events, "web1")
    messages = authwatch.plan_messages(summaries, (), "web1", alerts)
    shown = "\n".join(authwatch.format_message(message) for message in messages).strip()
    assert shown == readme_block("with `max_messages = 2`:")


def test_every_test_the_readme_names_is_there():
    text = (TOP / "README.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+\.py)(?:::(test_\w+))?`", text))
    assert len(named) > 20  # the guarantees name their tests
    for file, name in sorted(named):
        tree = ast.parse((TOP / "tests" / file).read_text(encoding="utf-8"))
        tests = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
        assert not name or name in tests, f"the README names {file}::{name}, which is not there"
