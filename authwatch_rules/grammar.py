"""What a rule is, what a program is, and the pieces of lines that several
daemons share.

A Rule is one form of line that a daemon writes: the programs whose lines it
is for, a regular expression that the whole message must match, the kind of
event it makes, and its roles, which tell the engine (authwatch.py) what else
the line means beside its kind.  A Program is what authwatch knows of a
program that writes such lines.  Every pattern is anchored, captures only
what the daemon itself writes around attacker-controlled text (a user name
may contain "from 10.0.0.1 port 22"), and runs in time linear in the line.
"""

from __future__ import annotations

import re
from typing import NamedTuple

# What rules capture (named groups), as the engine reads them.
# fmt: off
FIELDS = (
    "user", "target", "ip", "port", "method", "command", "key_type", "fingerprint", "tty",
    "service", "ruser", "connection", "count",
)
# fmt: on


class Rule(NamedTuple):
    """One form of line a daemon writes, and what it means."""

    name: str  # what its samples in tests/samples/ name it by
    kind: str  # login, login_failed, invalid_user, probe, sudo(_failed), su(_failed),
    #            account; connection (only tells a connection's address); noise
    programs: tuple | None  # the programs whose lines it is for; None: any program
    pattern: str  # a regular expression that the whole message must match
    fixed: tuple = ()  # (field, value) pairs that the line implies, e.g. the user root
    # Its roles:
    ends: bool = False  # the connection's process is gone after it: its pid may serve another
    alone: tuple = ()  # the programs of which it is a probe when it is all its connection wrote
    about_pid: bool = False  # the listener writes it about a connection's process ("pid = N")
    listener: bool = False  # the listener writes it about other connections than its own
    echo: bool = False  # a PAM failure that its program tells again in its own words
    unclear: bool = False  # its fields have no sure reading: shown as they were written
    uid0: bool = False  # it says that the user is uid 0


ROLES = Rule._fields[Rule._fields.index("fixed") + 1 :]


def rule(name, kind, programs, pattern, **fields_and_roles):
    """Given a rule's name, kind, programs and pattern, and keywords that are
    its roles (see Rule) or FIELDS that its lines imply (user="root"), return
    the Rule.  Raise TypeError for a keyword that is neither."""
    roles = {key: value for key, value in fields_and_roles.items() if key in ROLES}
    fixed = tuple((key, value) for key, value in fields_and_roles.items() if key not in ROLES)
    unknown = [key for key, _ in fixed if key not in FIELDS]
    if unknown:
        raise TypeError(f"rule {name}: {', '.join(unknown)} is no field or role")
    return Rule(name, kind, programs, pattern, fixed, **roles)


def noise(name, programs, pattern):
    """Given a noise rule's name, the programs whose lines it is for (None:
    any) and a pattern of the start of a harmless message, return its Rule."""
    return Rule(name, "noise", programs, f"(?:{pattern})(?s:.*)")


class Program(NamedTuple):
    """What authwatch knows of a program that writes authentication lines."""

    connection: bool = False  # one process for each network connection: sshd, dropbear
    attempt: bool = False  # one process for each attempt: its lines are one attempt
    pids_of: str | None = None  # the program whose process ids its lines name
    echoes: bool = False  # it tells the failures that its PAM told in its own words
    binaries: tuple = ()  # the binaries that write its lines, besides one of its name
    console: bool = False  # a login of it that names no address is at the machine itself
    setuid: tuple = ()  # where distributions install it setuid root


def any_of(names):
    """Given names, return a pattern that matches any one of them as written."""
    return "(?:" + "|".join(re.escape(name) for name in names) + ")"


# An address as a daemon writes it: IPv4, or IPv6 with a zone ("fe80::1%eth0")
IP = r"(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+(?:%[\w.-]+)?)"
FROM_IP_PORT = IP + r" port (?P<port>\d{1,5})"
