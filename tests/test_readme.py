"""The README shows what the bundled sample log makes: it must say what a run
prints (on the tests' clock, in UTC)."""

from pathlib import Path

from helpers import run_main

TOP = Path(__file__).parent.parent


def readme_demo():
    """Return the indented block that follows the README's demo sentence."""
    text = (TOP / "README.md").read_text(encoding="utf-8")
    after = text.split("as `scripts/demo` prints them", 1)[1].split("\n\n", 1)[1]
    block = []
    for line in after.splitlines():
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
    assert result.stdout.strip() == readme_demo()
