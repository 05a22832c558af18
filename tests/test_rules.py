"""The rules as a table (authwatch_rules/): each family's rules beside their
samples, each role given to rules that can have it, each program fact about
a program that writes lines; whatever the engine derives from them names
rules and programs that exist."""

import re

import pytest
from test_parsing import NOW, READ

import authwatch
import authwatch_rules
from authwatch_rules.grammar import ROLES, Rule

# the samples files of the engine's own: headers, and a whole log of several daemons
ENGINE_SAMPLES = {"headers.samples", "auth.log.samples"}
FAMILY_NAMES = {family.__name__.rsplit(".", 1)[1] for family in authwatch_rules.FAMILIES}


def family_files(name):
    """Given a family's module name, return the names of its samples files."""
    stem = name.replace("_", "-")
    return {file for file in READ if file == f"{stem}.samples" or file.startswith(f"{stem}-")}


def named_in(files):
    """Given samples files' names, return the names of the rules their lines
    expect, or (for a line expected to be noise) that drop them."""
    named = set()
    for file in files:
        for _, line, expected in READ[file][0]:
            if expected == "noise":
                named.add(authwatch.classify(authwatch.parse_line(line, NOW)).rule)
            else:
                named.add(expected["rule"])
    return named


@pytest.mark.parametrize("family", authwatch_rules.FAMILIES, ids=lambda family: family.__name__)
def test_every_rule_of_a_family_has_a_sample_beside_it(family):
    name = family.__name__.rsplit(".", 1)[1]
    files = family_files(name)
    assert files, f"{name} has no samples file"
    missing = {rule.name for rule in family.RULES} - named_in(files)
    assert sorted(missing) == [], f"rules of {name} without a sample in {sorted(files)}"


def test_every_samples_file_is_a_familys_or_the_engines():
    families = set().union(*(family_files(name) for name in FAMILY_NAMES))
    assert set(READ) - families == ENGINE_SAMPLES


def test_the_table_holds_every_familys_rules_noise_first():
    rules = [rule for family in authwatch_rules.FAMILIES for rule in family.RULES]
    assert sorted(authwatch_rules.RULES) == sorted(rules)
    kinds = [rule.kind == "noise" for rule in authwatch_rules.RULES]
    assert kinds == sorted(kinds, reverse=True)  # every noise rule before the first other


KINDS = {
    "login", "login_failed", "invalid_user", "probe", "sudo", "sudo_failed", "su", "su_failed",
    "account", "connection", "noise",
}  # fmt: skip


@pytest.mark.parametrize("rule", authwatch_rules.RULES, ids=lambda rule: rule.name)
def test_a_rule_is_well_formed_and_its_roles_fit_it(rule):
    assert isinstance(rule, Rule)
    assert re.fullmatch(r"[a-z][a-z0-9_]*", rule.name)
    assert rule.kind in KINDS
    re.compile(rule.pattern)
    programs = rule.programs or ()
    facts = authwatch_rules.PROGRAMS
    if rule.ends or rule.alone or rule.about_pid or rule.listener:
        # what a connection's process writes, or the listener about one
        assert programs and all(facts[program].connection for program in programs)
    assert set(rule.alone) <= set(programs)
    if rule.alone:
        assert rule.kind == "connection"  # it becomes a probe only when alone
    if rule.echo:  # told again by its program in its own words
        assert rule.kind.endswith("_failed") and any(facts[p].echoes for p in programs)
    if rule.unclear:
        assert rule.kind in ("sudo", "sudo_failed")
    if rule.uid0:
        assert rule.kind == "login"


def test_roles_and_fields_are_what_the_engine_reads():
    assert set(ROLES) == {"ends", "alone", "about_pid", "listener", "echo", "unclear", "uid0"}
    assert authwatch.FIELDS == authwatch_rules.FIELDS
    with pytest.raises(TypeError):
        authwatch_rules.grammar.rule("x", "login", None, "", end=True)  # a misspelt role


def test_every_program_fact_names_a_program_and_every_set_the_engine_derives_a_rule():
    programs = authwatch_rules.PROGRAMS
    for name, program in programs.items():
        assert program.pids_of is None or program.pids_of in programs, name
        assert all(path.startswith("/") for path in program.setuid), name
    names = {rule.name for rule in authwatch_rules.RULES}
    derived = (
        authwatch.CONNECTION_ENDS | set(authwatch.ALONE_PROBES) | authwatch.NAMED_BY_LISTENER
        | authwatch.LISTENER_RULES | authwatch.ECHO_RULES | authwatch.UNCLEAR_RULES
        | authwatch.UID0_RULES
    )  # fmt: skip
    assert derived <= names
    assert all(derived_set for derived_set in (authwatch.CONNECTION_ENDS, authwatch.ECHO_RULES))
    ruled = {program for rule in authwatch_rules.RULES for program in rule.programs or ()}
    assert set(authwatch.CONNECTION_PROGRAMS) <= ruled
    assert set(authwatch.ONE_ATTEMPT_PROGRAMS) <= ruled
