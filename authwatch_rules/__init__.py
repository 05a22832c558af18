"""authwatch's rules: the forms of line that daemons write about logins,
failed attempts, sudo, su and accounts, and what each means.

One module per daemon family, each beside its sample lines in tests/samples/
(openssh.py and openssh-*.samples, sudo.py and sudo.samples, ...): a rule is
data, a Rule (see grammar.py) with its source citation above it, and the
samples are its specification.  The engine, authwatch.py, compiles this
table; nothing here does anything but build it.

Adding a rule is one line in its family's RULES, with the citation of the
daemon's source it is written from, and its sample lines in the family's
samples file; a new program of an existing family is one entry in PROGRAMS.
"""

from authwatch_rules import accounts, dropbear, login, openssh, pam, su, sudo, system
from authwatch_rules.grammar import FIELDS, ROLES, Program, Rule

# The families, in the order their rules are tried: the first rule whose
# pattern matches the whole message wins, so the specific come before the
# general, any program's PAM after the programs' own lines, and the account
# tools' catch-all last.  Noise is tried before everything else.
FAMILIES = (system, openssh, dropbear, sudo, su, login, pam, accounts)
RULES = tuple(
    sorted(
        (each for family in FAMILIES for each in family.RULES),
        key=lambda each: each.kind != "noise",
    )
)
# What authwatch knows of each program that writes authentication lines
PROGRAMS = {
    name: program
    for family in FAMILIES
    for name, program in getattr(family, "PROGRAMS", {}).items()
}

__all__ = ["FAMILIES", "FIELDS", "PROGRAMS", "ROLES", "RULES", "Program", "Rule"]
