#!/usr/bin/env python3
"""authwatch: push a message to your phone when someone logs in, or tries to.

Run from cron every few minutes.  Each run reads only what is new in the
authentication log (or the systemd journal), drops the noise, understands
what is left (SSH logins, failed attempts, sudo and su, account changes) and
sends a few short messages to Pushover.  Messages wait in an outbox until
Pushover has accepted them, so nothing read is ever lost.

The module reads top to bottom: errors and exit codes, configuration,
understanding log lines (pure), building messages (pure), reading the log
and the journal, state, delivery, and the command line.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import datetime
import enum
import fcntl
import functools
import json
import os
import re
import sys
import time
import zlib
from collections import Counter, OrderedDict
from typing import NamedTuple

__version__ = "0.1.0"


class Reporter:
    """What authwatch says on stderr, a line each: errors always, warnings
    unless -q, what it does with -v.  (logging would cost a sixth of a quiet
    run's time just to import.)
    """

    QUIET, NORMAL, VERBOSE = range(3)

    def __init__(self):
        self.stream = sys.stderr
        self.level = self.NORMAL

    def info(self, text, *args):
        if self.level >= self.VERBOSE:
            self.say(text % args if args else text)

    def warning(self, text, *args):
        if self.level >= self.NORMAL:
            self.say(text % args if args else text)

    def say(self, text):
        self.stream.write(f"authwatch: {text}\n")


log = Reporter()


### Errors and exit codes ###################################################


class ExitStatus(enum.IntEnum):
    """The exit codes of a run; --help and the README list them."""

    OK = 0
    DELIVERY_FAILED = 1
    CONFIG_ERROR = 2  # also bad command-line usage, as argparse does
    SOURCE_ERROR = 3  # the log is missing or unreadable
    STATE_ERROR = 4  # the state directory or a state file cannot be used
    INTERNAL_ERROR = 70  # a bug: EX_SOFTWARE from sysexits.h
    INTERRUPTED = 130


class AuthwatchError(Exception):
    """A failure to report in one line and turn into an exit code."""

    exit_status = ExitStatus.CONFIG_ERROR


class ConfigError(AuthwatchError):
    exit_status = ExitStatus.CONFIG_ERROR


class SourceError(AuthwatchError):
    exit_status = ExitStatus.SOURCE_ERROR


class StateError(AuthwatchError):
    exit_status = ExitStatus.STATE_ERROR


class DeliveryError(AuthwatchError):
    exit_status = ExitStatus.DELIVERY_FAILED


### Configuration ############################################################

DEFAULT_API_URL = "https://api.pushover.net/1/messages.json"
# Pushover's limits (https://pushover.net/api)
MAX_TITLE = 250
MAX_MESSAGE = 1024
MAX_URL = 512
MAX_URL_TITLE = 100
DEFAULT_LOG_PATHS = ("/var/log/auth.log", "/var/log/secure")
CONFIG_PATHS = ("~/.config/authwatch/authwatch.ini", "/etc/authwatch/authwatch.ini")
SOURCE_TYPES = ("auto", "file", "journald")
PUSHOVER_KEY = re.compile(r"[A-Za-z0-9]{30}")
URL = re.compile(r"(?P<scheme>[A-Za-z][\w+.-]*)://(?:[^@/]*@)?(?P<host>\[[^\]/]*\]|[^:/?#]*)")

# What an event can be: the kinds that RULES give, and "other".
# fmt: off
KINDS = (
    "login", "login_failed", "invalid_user", "probe",
    "sudo", "sudo_failed", "su", "su_failed", "account", "other",
)
# fmt: on
FAILURE_KINDS = ("login_failed", "invalid_user", "probe")
# Pushover's defaults: logins stand out, failures are quiet, the rest normal.
DEFAULT_PRIORITIES = {
    "login": 1,
    "login_failed": -1,
    "invalid_user": -1,
    "probe": -1,
    "sudo": 0,
    "sudo_failed": 0,
    "su": 0,
    "su_failed": 0,
    "account": 0,
    "other": 0,
}
MESSAGE_OPTIONS = ("sound", "device", "url", "url_title", "ttl")

# Every key a config file may hold; anything else is reported as a typo.
CONFIG_KEYS = {
    "pushover": ("token", "user", "api_url") + MESSAGE_OPTIONS,
    "source": ("type", "path", "journal_dir"),
    "state": ("dir",),
    "filter": ("ignore", "default_ignore"),
    "alerts": ("max_messages", "failure_threshold", "quota_reserve", "retry", "expire"),
    "priority": KINDS,
    "allow": ("networks", "users", "keys", "known_priority"),
}


class Allow(NamedTuple):
    """What makes a login known: each list that is not empty must match."""

    networks: tuple = ()  # ipaddress networks
    users: frozenset = frozenset()
    keys: frozenset = frozenset()  # "SHA256:..." fingerprints


NO_ALLOWLIST = Allow()


class Alerts(NamedTuple):
    """How events become messages: priorities, budget, allowlist."""

    priorities: dict  # kind -> Pushover priority
    max_messages: int = 5
    failure_threshold: int = 0  # fewer failures than this are not sent
    quota_reserve: int = 100
    retry: int = 60  # for emergency (priority 2) messages
    expire: int = 3600
    allow: Allow = NO_ALLOWLIST
    known_priority: int | None = -1  # None: known logins are not sent


class Config(NamedTuple):
    token: str | None
    user: str | None
    api_url: str
    message_options: dict  # sound, device, url, url_title, ttl: as Pushover takes them
    source_type: str
    log_path: str | None
    journal_dir: str | None
    state_dir: str
    ignore: tuple  # extra noise patterns, as strings
    default_ignore: bool
    alerts: Alerts


def find_config_file(explicit, environ):
    """Given the --config value (or None) and the environment, return the path
    of the config file to use, or None when there is none.

    Raise ConfigError if a file named explicitly does not exist.
    """
    named = explicit or environ.get("AUTHWATCH_CONFIG")
    if named:
        if not os.path.isfile(named):
            raise ConfigError(f"config file {named} does not exist")
        return named
    for candidate in CONFIG_PATHS:
        path = expand_home(candidate, environ)
        if os.path.isfile(path):
            return path
    return None


def expand_home(path, environ):
    """Given a path that may start with ~ and the environment, return it expanded."""
    if path.startswith("~/") and environ.get("HOME"):
        return os.path.join(environ["HOME"], path[2:])
    return os.path.expanduser(path)


def default_state_dir(environ):
    """Given the environment, return where state lives when the config does not say."""
    if os.geteuid() == 0:
        return "/var/lib/authwatch"
    base = environ.get("XDG_STATE_HOME") or expand_home("~/.local/state", environ)
    return os.path.join(base, "authwatch")


def default_log_path():
    """Return the system's authentication log: auth.log, or secure on RHEL-likes."""
    for path in DEFAULT_LOG_PATHS:
        if os.path.exists(path):
            return path
    return DEFAULT_LOG_PATHS[0]


def is_loopback_host(host):
    """Given a URL's host name, return whether it names this machine's loopback."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_config_text(path):
    """Given a config file path (or None), return a ConfigParser holding it.

    Raise ConfigError if the file cannot be read or parsed; the message names
    the line but never quotes it, since it may hold a secret.
    """
    # No [DEFAULT] magic: such a section is reported as unknown like any other.
    parser = configparser.ConfigParser(interpolation=None, default_section="\0")
    if path is None:
        return parser
    try:
        with open(path, encoding="utf-8") as file:
            parser.read_file(file)
    except OSError as error:
        raise ConfigError(f"{path}: cannot read config: {error.strerror}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}: cannot read config: not UTF-8 text") from None
    except configparser.MissingSectionHeaderError as error:
        raise ConfigError(f"{path}: line {error.lineno}: a key before any [section]") from None
    except configparser.DuplicateSectionError as error:
        raise ConfigError(f"{path}: line {error.lineno}: [{error.section}] again") from None
    except configparser.DuplicateOptionError as error:
        raise ConfigError(
            f"{path}: line {error.lineno}: [{error.section}] {error.option} again"
        ) from None
    except configparser.ParsingError as error:
        lines = ", ".join(str(number) for number, _text in error.errors)
        raise ConfigError(f"{path}: line {lines}: not a key = value line") from None
    return parser


class ConfigReader:
    """A parsed config file, and every problem found while reading it, each
    with its location, so that they can all be reported at once.
    """

    def __init__(self, parser, where):
        self.parser = parser
        self.where = where
        self.problems = []

    def problem(self, section, key, text):
        self.problems.append(f"{self.where}: [{section}] {key}: {text}")

    def check_names(self, known):
        """Given a dict of section to its keys, note every unknown section and key."""
        for section in self.parser.sections():
            if section not in known:
                self.problems.append(f"{self.where}: [{section}]: unknown section")
                continue
            for key in self.parser[section]:
                if key not in known[section]:
                    self.problem(section, key, "unknown key")

    def text(self, section, key, default=None):
        return self.parser.get(section, key, fallback=default)

    def choice(self, section, key, choices, default):
        value = self.text(section, key, default)
        if value not in choices:
            self.problem(section, key, f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def boolean(self, section, key, default):
        try:
            return self.parser.getboolean(section, key, fallback=default)
        except ValueError:
            self.problem(section, key, "must be yes or no")
            return default

    def lines(self, section, key):
        text = self.text(section, key, "")
        return tuple(line.strip() for line in text.splitlines() if line.strip())

    def words(self, section, key):
        """Return a list value: words separated by commas, spaces or lines."""
        return tuple(self.text(section, key, "").replace(",", " ").split())

    def integer(self, section, key, default, minimum, maximum=None):
        value = self.text(section, key)
        if value is None:
            return default
        try:
            number = int(value)
        except ValueError:
            number = None
        if number is None or number < minimum or (maximum is not None and number > maximum):
            upper = f" to {maximum}" if maximum is not None else " or more"
            self.problem(section, key, f"must be a whole number {minimum}{upper}, not {value!r}")
            return default
        return number


def pushover_key(reader, environ, key, env_name, needed):
    """Given a ConfigReader, the environment, a [pushover] key, the variable
    that overrides it and whether it is needed, return its value (or None),
    noting any problem without ever showing the secret.
    """
    value = environ.get(env_name) or None  # set but empty is unset
    where = f"environment variable {env_name}" if value else f"{reader.where}: [pushover] {key}"
    if value is None:
        value = reader.text("pushover", key) or None  # "token =" as in the example
    if value is None:
        if needed:
            reader.problems.append(f"{where}: missing (or set {env_name})")
    elif not PUSHOVER_KEY.fullmatch(value):
        reader.problems.append(
            f"{where}: must be 30 letters and digits (got {len(value)} characters)"
        )
    return value


def load_config(path, environ, overrides, need_pushover):
    """Given a config file path (or None), the environment, the command-line
    overrides (a dict of Config field names) and whether Pushover keys are
    needed, return a validated Config.

    Raise ConfigError listing every problem found, each with its location.
    """
    reader = ConfigReader(read_config_text(path), path or "config")
    reader.check_names(CONFIG_KEYS)

    token = pushover_key(reader, environ, "token", "AUTHWATCH_PUSHOVER_TOKEN", need_pushover)
    user = pushover_key(reader, environ, "user", "AUTHWATCH_PUSHOVER_USER", need_pushover)

    api_url = reader.text("pushover", "api_url", DEFAULT_API_URL)
    url = URL.match(api_url)
    scheme = url["scheme"].lower() if url else None
    if scheme not in ("https", "http") or not url["host"]:
        reader.problem("pushover", "api_url", f"not an http(s) URL: {api_url!r}")
    elif scheme != "https" and not is_loopback_host(url["host"].strip("[]")):
        reader.problem("pushover", "api_url", "must use https (plain http only to loopback)")

    source_type = reader.choice("source", "type", SOURCE_TYPES, "auto")

    default_ignore = reader.boolean("filter", "default_ignore", True)
    ignore = reader.lines("filter", "ignore")
    for pattern in ignore:
        try:
            re.compile(pattern)
        except re.error as error:
            reader.problem("filter", "ignore", f"bad pattern {pattern!r}: {error}")
            break
    else:
        try:
            re.compile(alternation(ignore))
        except re.error as error:
            # each compiles alone, but they are matched as one alternation
            reader.problem(
                "filter",
                "ignore",
                f"patterns cannot be combined ({error}); use scoped flags"
                " such as (?i:...) and no group names",
            )

    message_options = read_message_options(reader)
    alerts = read_alerts(reader)

    if reader.problems:
        raise ConfigError("\n".join(reader.problems))

    return Config(
        token=token,
        user=user,
        api_url=api_url,
        message_options=message_options,
        source_type=overrides.get("source_type") or source_type,
        log_path=overrides.get("log_path") or reader.text("source", "path") or default_log_path(),
        journal_dir=overrides.get("journal_dir") or reader.text("source", "journal_dir"),
        state_dir=overrides.get("state_dir")
        or reader.text("state", "dir")
        or default_state_dir(environ),
        ignore=ignore,
        default_ignore=default_ignore,
        alerts=alerts,
    )


def read_message_options(reader):
    """Given a ConfigReader, return the optional Pushover fields it sets, as
    Pushover takes them, noting problems (Pushover's limits) on the reader.
    """
    options = {}
    for key, pattern, limit in (
        ("sound", r"[A-Za-z0-9_-]+", 64),
        ("device", r"[A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+)*", 250),
        ("url", r"https?://\S+", MAX_URL),
        ("url_title", r".+", MAX_URL_TITLE),
    ):
        value = reader.text("pushover", key)
        if value is None:
            continue
        if not re.fullmatch(pattern, value) or len(value) > limit:
            reader.problem("pushover", key, f"must match {pattern} in at most {limit} characters")
        else:
            options[key] = value
    ttl = reader.integer("pushover", "ttl", None, 1)
    if ttl is not None:
        options["ttl"] = str(ttl)
    return options


def read_alerts(reader):
    """Given a ConfigReader, return the Alerts it sets, noting problems on the reader."""
    priorities = dict(DEFAULT_PRIORITIES)
    for kind in KINDS:
        priorities[kind] = reader.integer("priority", kind, priorities[kind], -2, 2)
    known = reader.text("allow", "known_priority", "-1")
    known_priority = None
    if known != "off":
        known_priority = reader.integer("allow", "known_priority", -1, -2, -1)
    default = Alerts._field_defaults

    def setting(key, minimum, maximum=None):
        return reader.integer("alerts", key, default[key], minimum, maximum)

    return Alerts(
        priorities=priorities,
        max_messages=setting("max_messages", 1, 50),
        failure_threshold=setting("failure_threshold", 0),
        quota_reserve=setting("quota_reserve", 0),
        # Pushover's rules for emergency messages: retry at least 30 s, expire
        # at most 3 hours
        retry=setting("retry", 30),
        expire=setting("expire", 30, 10800),
        allow=read_allow(reader),
        known_priority=known_priority,
    )


def read_allow(reader):
    """Given a ConfigReader, return the Allow list it sets, noting problems."""
    import ipaddress

    networks = []
    for text in reader.words("allow", "networks"):
        try:
            networks.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            reader.problem("allow", "networks", f"not a network: {text!r}")
    keys = []
    for text in reader.words("allow", "keys"):
        key = text if text.startswith("SHA256:") else "SHA256:" + text
        if not re.fullmatch(r"SHA256:[A-Za-z0-9+/]{43}=?", key):
            reader.problem("allow", "keys", f"not a SHA256 key fingerprint: {text!r}")
        keys.append(key.rstrip("="))
    return Allow(tuple(networks), frozenset(reader.words("allow", "users")), frozenset(keys))


### Understanding log lines (pure) ##########################################
#
# A line is split into its syslog header (time, host, program, pid) and its
# message; the message is then matched against RULES.  Every rule is anchored
# and captures only what sshd itself writes around attacker-controlled text
# (a user name may contain "from 10.0.0.1 port 22"), and every rule has a
# sample in tests/samples/.

# Lines dropped before anything else: the magazine article's two and the
# session bookkeeping that logcheck ignores.  [filter] ignore adds to these.
# They are matched against "program[pid]: message" (see noise_text()) and
# anchored at the program, so that no user name can make a line noise.
ANY_TAG = r"^[\w./-]+(?:\[\d+\])?: "
SSHD_TAG = r"^sshd(?:-session)?\[\d+\]: "
# fmt: off
DEFAULT_NOISE = (
    r"^CRON\[",
    # the article's "Connection closed", but for [preauth]: that one may end an
    # attempt that wrote nothing else (a key that did not fit), so it is counted
    SSHD_TAG + r"Connection (?:closed|reset) by (?!.*\[preauth\]$)",
    ANY_TAG + r"pam_unix\((?:crond?|systemd-user):session\): session (?:opened|closed)",
    ANY_TAG + r"pam_unix\([\w-]+:session\): session closed",
    ANY_TAG + r"pam_unix\((?:sshd|sudo|sudo-i|login):session\): session opened",
    ANY_TAG + r"pam_limits\(",
    ANY_TAG + r"pam_env\([\w-]+:session\): deprecated reading of user environment",
    ANY_TAG + r"pam_systemd\(",
    SSHD_TAG + r"(?:Received disconnect from|Disconnected from) ",
    SSHD_TAG + r"pam_unix\(sshd:auth\): check pass; user unknown$",
    SSHD_TAG + r"(?:Server listening on|Received signal \d+; terminating)",
    r"^sudo(?:\[\d+\])?: pam_unix\(sudo:auth\): (?:conversation failed|auth could not identify)",
    r"^systemd-logind\[\d+\]: (?:New session|Removed session|Session \d+ logged out)",
    r"^systemd-logind\[\d+\]: (?:New seat|Watching system buttons)",
)
# fmt: on


# Syslog headers.  Every form that syslog daemons write into files is read:
# the classic one ("Nov 26 19:24:53 host sshd[1]: ", the day padded or not,
# rsyslog's, syslog-ng's, busybox's), RFC 3339 stamps ("2026-11-26T19:24:53
# .801612+01:00", also with a space for the T), a "<PRI>" in front, busybox's
# and OpenWrt's "authpriv.info" after the host, RFC 5424 (rsyslog's and
# OPNsense's remote format), Solaris' "[ID 800047 auth.info]" and the old
# "sshd(pam_unix)[1]:" tag.  The common forms are read in one match.
PRI = r"(?:<\d{1,3}>)?"
WEEKDAY = r"(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) )?"  # OpenWrt's logread
CLASSIC_STAMP = r"[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d"  # no year
ISO_STAMP = r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d)?"
FACILITY_LEVEL = (
    r"(?:auth|authpriv|kern|user|mail|daemon|syslog|lpr|news|uucp|cron|ftp|security"
    r"|local[0-7])\.(?:emerg|alert|crit|err|error|warn|warning|notice|info|debug)"
)
NOT_A_HOST = re.compile(FACILITY_LEVEL)  # OpenWrt writes no host before it
TAG = (
    r"(?P<program>[\w./-]+)(?:\((?P<module>pam_\w+)\))?(?:\[(?P<pid>\d{1,10})\])?"
    r": (?P<message>.*)"
)
SYSLOG_LINE = re.compile(
    f"{PRI}{WEEKDAY}(?:(?P<classic>{CLASSIC_STAMP})(?:\\.\\d+)?(?: (?P<year>\\d{{4}}))?"
    f"|(?P<iso>{ISO_STAMP}))"
    f" (?:(?P<host>[^\\s\\[]*[^\\s\\[:]) )?(?:{FACILITY_LEVEL} )?{TAG}"
)
# <PRI>1 STAMP HOST APP PROCID MSGID [SD...] MSG, "-" for what is not there
RFC5424_LINE = re.compile(
    r"(?:<\d{1,3}>)?1 (?P<iso>\S+) (?P<host>\S+) (?P<program>\S+) (?P<pid>\S+) \S+"
    r' (?:-|(?:\[(?:[^\]\\"]|\\.|"(?:[^"\\]|\\.)*")*\])+)(?: \ufeff?(?P<message>.*))?'
)
# no time stamp: "host program[pid]: " or "program[pid]: "
HOST_AND_TAG = re.compile(f"(?:(?P<host>[^\\s\\[]*[^\\s\\[:]) )?{TAG}")
# a header not understood: the first "program[pid]: " in the line, if any
TAG_INSIDE = re.compile(r"(?:^|\s)(?P<program>[\w./-]+)\[(?P<pid>\d{1,10})\]: (?P<message>.*)")
SOLARIS_ID = re.compile(r"\[ID \d{1,10} [\w.]{1,30}\] ")
# rsyslog's $RepeatedMsgReduction: one line for the same message written N times
REPEATED = re.compile(r"message repeated (?P<count>\d{1,9}) times: \[ ?(?P<message>.*)\]")
# sysklogd's and busybox's: the host's previous message, N more times
LAST_REPEATED = re.compile(r"(?:.* )?[Ll]ast message repeated (?P<count>\d{1,9}) times?")
MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
ISO_PARTS = re.compile(r"(?P<seconds>.{19})(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:?\d\d)?")

IP = r"(?P<ip>[0-9]{1,3}(?:\.[0-9]{1,3}){3}|[0-9A-Fa-f]*:[0-9A-Fa-f:.]+(?:%\w+)?)"
FROM_IP_PORT = IP + r" port (?P<port>\d{1,5})"
SSHD = ("sshd", "sshd-session", "sshd-auth")
CONNECTION_PROGRAMS = SSHD + ("dropbear",)  # one process for each connection
# OpenSSH 9.8's listener names the pid of the connection's sshd-session
SAME_PROCESSES = {"sshd-session": "sshd", "sshd-auth": "sshd"}
# fmt: off
ACCOUNT_PROGRAMS = (
    "useradd", "userdel", "usermod", "groupadd", "groupdel", "groupmod",
    "passwd", "chpasswd", "chage", "gpasswd", "chsh", "chfn", "newusers",
)
# fmt: on
PAM_AUTH_FAILURE = (
    r"pam_unix\((?P<service>[\w-]+):auth\): authentication failure;"
    r" logname=\S* uid=\d+ euid=\d+ tty=\S* ruser=(?P<ruser>\S*) rhost=(?P<ip>\S*)"
    r"(?:\s+user=(?P<user>\S+))?\s*"  # pam_unix ends with a space when there is no user
)
SUDO_FIELDS = (
    r"TTY=(?P<tty>\S+) ; PWD=.*? ; USER=(?P<target>\S+) ;"
    r"(?: GROUP=\S+ ;)?(?: TSID=\S+ ;)?(?: ENV=.*? ;)? COMMAND=(?P<command>.*)"
)


class Rule(NamedTuple):
    name: str
    kind: str
    programs: tuple | None  # the programs whose lines it is for; None: any program
    pattern: str  # matched against the whole message
    fixed: tuple  # (field, value) pairs that the line implies, e.g. the user root


def rule(name, kind, programs, pattern, **fixed):
    """Given a rule's parts, return the Rule."""
    return Rule(name, kind, programs, pattern, tuple(fixed.items()))


# fmt: off
RULES = (
    # sshd (OpenSSH 9.8+ logs as sshd-session)
    rule("ssh_accepted", "login", SSHD,
         r"Accepted (?P<method>[\w/-]+) for (?P<user>.+?) from " + FROM_IP_PORT
         + r" ssh2(?:: (?P<key_type>[\w-]+) (?P<fingerprint>SHA256:[\w+/=]+).*|: .*)?"),
    rule("ssh_failed", "login_failed", SSHD,
         r"Failed (?P<method>[\w/-]+) for (?:invalid user )?(?P<user>.*?) from "
         + FROM_IP_PORT + r" ssh2(?:: .*)?"),
    rule("ssh_invalid_user", "invalid_user", SSHD,
         r"Invalid user (?P<user>.*?) from " + FROM_IP_PORT),
    rule("ssh_pam_failure", "login_failed", SSHD, PAM_AUTH_FAILURE),
    rule("ssh_pam_more_failures", "login_failed", SSHD,
         r"PAM \d+ more authentication failures?; logname=\S* uid=\d+ euid=\d+ tty=\S*"
         r" ruser=\S* rhost=(?P<ip>\S*)(?:\s+user=(?P<user>\S+))?\s*"),
    rule("ssh_max_attempts", "login_failed", SSHD,
         r"error: maximum authentication attempts exceeded for (?:invalid user )?"
         r"(?P<user>.*?) from " + FROM_IP_PORT + r" ssh2(?: \[preauth\])?"),
    rule("ssh_too_many_failures", "login_failed", SSHD,
         r"Disconnecting (?:authenticating|invalid) user (?P<user>.*?) "
         + FROM_IP_PORT + r": Too many authentication failures(?: \[preauth\])?"),
    rule("ssh_too_many_failures_bare", "login_failed", SSHD,
         r"Disconnecting: Too many authentication failures(?: \[preauth\])?"),
    rule("ssh_not_allowed", "login_failed", SSHD,
         r"User (?P<user>.*?) from " + IP + r" not allowed because .*"),
    rule("ssh_root_refused", "login_failed", SSHD,
         r"ROOT LOGIN REFUSED FROM " + FROM_IP_PORT + r"(?: \[preauth\])?", user="root"),
    # the end of a connection before authentication: counted once per connection,
    # so nothing more after a failure already counted, but an attempt with keys
    # that did not fit writes only this
    rule("ssh_closed_authenticating", "login_failed", SSHD,
         r"Connection (?:closed|reset) by authenticating user (?P<user>.*?) "
         + FROM_IP_PORT + r" \[preauth\]"),
    rule("ssh_closed_invalid", "invalid_user", SSHD,
         r"Connection (?:closed|reset) by invalid user (?P<user>.*?) " + FROM_IP_PORT
         + r" \[preauth\]"),
    rule("ssh_closed_preauth", "probe", SSHD,
         r"Connection (?:closed|reset) by " + FROM_IP_PORT + r" \[preauth\]"),
    rule("ssh_probe_kex", "probe", SSHD,
         r"error: kex_exchange_identification: .*"),
    rule("ssh_probe_no_ident", "probe", SSHD,
         r"Did not receive identification string from " + FROM_IP_PORT),
    rule("ssh_probe_negotiate", "probe", SSHD,
         r"Unable to negotiate with " + FROM_IP_PORT + r": .*"),
    rule("ssh_probe_banner", "probe", SSHD,
         r"banner exchange: Connection from " + FROM_IP_PORT + r": .*"),
    # up to OpenSSH 9.7 the connection's process logs it; from 9.8 the
    # listener does, naming the connection's process
    rule("ssh_probe_timeout", "probe", SSHD,
         r"(?:fatal: )?Timeout before authentication for (?:connection from )?" + IP
         + r"(?: port (?P<port>\d{1,5})| to \S+, pid = (?P<connection>\d{1,10}))"
         r"(?: \[preauth\])?"),
    # sudo
    rule("sudo_command", "sudo", ("sudo",),
         r"\s*(?P<user>\S+) : " + SUDO_FIELDS),
    rule("sudo_refused", "sudo_failed", ("sudo",),
         r"\s*(?P<user>\S+) : (?P<problem>[^;]+?) ; " + SUDO_FIELDS),
    rule("sudo_pam_failure", "sudo_failed", ("sudo",), PAM_AUTH_FAILURE),
    # su: util-linux (Debian) logs "(to root) alice on pts/0", RHEL only the PAM session
    rule("su_success", "su", ("su",),
         r"\(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)"),
    rule("su_failed", "su_failed", ("su",),
         r"FAILED SU \(to (?P<target>\S+)\) (?P<user>\S+) on (?P<tty>\S+)"),
    rule("su_pam_session", "su", ("su",),
         r"pam_unix\(su(?:-l)?:session\): session opened for user (?P<target>[^\s(]+)"
         r"(?:\(uid=\d+\))? by (?P<user>[^\s(]*)(?:\(uid=\d+\))?"),
    rule("su_pam_failure", "su_failed", ("su",), PAM_AUTH_FAILURE),
    # console logins: shadow's login (Debian) and util-linux's (RHEL)
    rule("console_root_login", "login", ("login",),
         r"ROOT LOGIN\s+(?:ON|on) '?(?P<tty>[^'\s]+)'?(?: (?:FROM|from) '?(?P<ip>[^'\s]+)'?)?",
         user="root"),
    rule("console_login", "login", ("login",),
         r"LOGIN ON (?P<tty>\S+) BY (?P<user>\S+)(?: FROM (?P<ip>\S+))?"),
    rule("console_login_failed", "login_failed", ("login",),
         r"FAILED LOGIN \(\d+\)(?: on '(?P<tty>[^']*)')?(?: from '(?P<ip>[^']*)')?"
         r" FOR '(?P<user>[^']*)', .*"),
    rule("console_login_failed_util", "login_failed", ("login",),
         r"FAILED LOGIN \d+ FROM (?P<tty>\S+) FOR (?P<user>.*?), .*"),
    rule("console_pam_failure", "login_failed", ("login",), PAM_AUTH_FAILURE),
    # account changes (shadow-utils)
    rule("account_new", "account", ACCOUNT_PROGRAMS,
         r"(?:new user|new group|group added to \S+): name=(?P<user>[^,\s]+).*"),
    rule("account_group_member", "account", ACCOUNT_PROGRAMS,
         r"(?:add|delete) '(?P<user>[^']+)' (?:to|from) (?:shadow )?group '[^']+'"),
    rule("account_gpasswd", "account", ACCOUNT_PROGRAMS,
         r"user (?P<user>\S+) (?:added|removed) by \S+ (?:to|from) group \S+"),
    rule("account_password_by", "account", ACCOUNT_PROGRAMS,
         r"password for '(?P<user>[^']+)' changed by '[^']*'"),
    rule("account_expiry", "account", ACCOUNT_PROGRAMS,
         r"changed password expiry for (?P<user>\S+)"),
    rule("account_named", "account", ACCOUNT_PROGRAMS,
         r".*?\b(?:user|group) '(?P<user>[^']+)'.*"),
    rule("account_password", "account", ACCOUNT_PROGRAMS,
         r"pam_unix\([\w-]+:chauthtok\): password changed for (?P<user>\S+)"),
    rule("account_other", "account", ACCOUNT_PROGRAMS, r".*"),
)
# fmt: on
# The rules after which a connection's process is gone: its pid may serve another.
CONNECTION_ENDS = ()


class Record(NamedTuple):
    """One log entry, split into its syslog parts; line is the whole raw line."""

    time: datetime.datetime | None
    host: str | None
    program: str | None
    pid: int | None
    message: str
    line: str
    count: int = 1  # a line that stands for N (rsyslog's "message repeated N times")


class Event(NamedTuple):
    """What a record means.  JSON_FIELDS are the public ones (--json)."""

    time: datetime.datetime | None
    host: str | None
    program: str | None
    pid: int | None
    kind: str
    line: str
    message: str = ""
    rule: str | None = None  # the name of the rule that matched
    user: str | None = None
    target: str | None = None  # whom sudo, su or doas ran as
    ip: str | None = None
    port: int | None = None
    method: str | None = None
    command: str | None = None
    key_type: str | None = None
    fingerprint: str | None = None
    tty: str | None = None
    # (program, pid) of the process that wrote it, or of the connection it
    # names: one attempt writes several lines, and counts once
    connection: tuple | None = None
    count: int = 1  # how many times the line was written


# fmt: off
JSON_FIELDS = (
    "time", "host", "program", "pid", "kind", "rule", "user", "target", "ip", "port", "method",
    "command", "count", "line",
)
# fmt: on


def classic_time(text, now, named_year=None):
    """Given a classic syslog time stamp ("Nov 26 19:24:53", "Nov 3 04:05:06"),
    the current local time and the year if the line names one, return the
    aware datetime it names: without a year, take the one that puts it not
    more than a day in the future.  Return None if it is no date.
    """
    minute = classic_minute(text[:-3], now, named_year)
    second = int(text[-2:])
    if minute is None or second > 59:
        return None
    return minute + SECONDS[second]


SECONDS = [datetime.timedelta(seconds=second) for second in range(60)]


@functools.lru_cache(maxsize=1024)
def classic_minute(text, now, named_year):
    """Given the minute of a classic time stamp ("Nov 26 19:24"), the current
    local time and the year if the line names one, return the aware datetime
    of the minute's start, or None (see classic_time()).  Cached: a log has
    few distinct minutes.
    """
    month = MONTHS.get(text[:3])
    day, clock = text[4:].split()
    hour, minute = (int(part) for part in clock.split(":"))
    for year in (int(named_year),) if named_year else (now.year, now.year - 1):
        try:
            naive = datetime.datetime(year, month or 0, int(day), hour, minute)
        except ValueError:  # 29 Feb of another year, or garbage
            continue
        stamp = naive.astimezone()
        if stamp <= now + datetime.timedelta(days=1):
            return stamp
    return None


def iso_time(text):
    """Given an RFC 3339 or ISO 8601 time stamp ("T" or a space between date
    and time; no zone means local time), return its aware datetime, or None.
    """
    try:
        stamp = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:  # before Python 3.11: only 3 or 6 digits of fraction, "+hh:mm"
        match = ISO_PARTS.fullmatch(text)
        if not match:
            return None
        fraction = (match["fraction"] or "")[:6].ljust(6, "0")
        zone = match["zone"] or ""
        if zone:
            zone = "+00:00" if zone == "Z" else zone[:3] + ":" + zone[-2:]
        try:
            stamp = datetime.datetime.fromisoformat(f"{match['seconds']}.{fraction}{zone}")
        except ValueError:
            return None
    return stamp if stamp.tzinfo else stamp.astimezone()


def parse_line(line, now):
    """Given one raw log line (no newline) and the current local time, return
    its Record.  Never raise: a line whose header is not understood keeps
    what can be found of it (the first "program[pid]: "), or is all message.
    """
    match = SYSLOG_LINE.match(line)
    if match:  # the common case, in one match
        classic = match["classic"]
        stamp = classic_time(classic, now, match["year"]) if classic else iso_time(match["iso"])
        host, program, pid, message = match.group("host", "program", "pid", "message")
        if host and "." in host and NOT_A_HOST.fullmatch(host):
            host = None
        if match["module"]:  # "sshd(pam_unix)[1]: authentication failure; ..." (Linux-PAM < 0.99)
            message = f"{match['module']}({program}): {message}"
        if message[:1] in "[m":  # Solaris' message ID, rsyslog's "message repeated"
            return record_of(stamp, host, program, pid, message, line)
        return Record(stamp, host, program, int(pid) if pid else None, message, line)
    match = RFC5424_LINE.match(line)
    if match:
        host, program = (
            match[name] if match[name] != "-" else None for name in ("host", "program")
        )
        return record_of(
            iso_time(match["iso"]), host, program, match["pid"], match["message"] or "", line
        )
    return parse_unknown_header(line)


def parse_unknown_header(line):
    """Given a raw line of no known syslog form, return its Record: time and
    host unknown, the program and pid of the first "program[pid]: " in it,
    if any, and a Record with count N for a "last message repeated N times".
    """
    tag = HOST_AND_TAG.match(line)
    if tag:
        return record_of(None, tag["host"], tag["program"], tag["pid"], tag["message"], line)
    tag = TAG_INSIDE.search(line)
    if tag:
        return record_of(None, None, tag["program"], tag["pid"], tag["message"], line)
    repeated = LAST_REPEATED.fullmatch(line)
    count = int(repeated["count"]) if repeated else 1
    return Record(None, None, None, None, line, line, count)


def record_of(time, host, program, pid, message, line):
    """Given the parts of a syslog line (pid as text), return its Record,
    without the Solaris message ID in front of the message, and with rsyslog's
    "message repeated N times: [ ... ]" as the message it repeats, N times.
    """
    count = 1
    if message.startswith("[ID "):
        solaris = SOLARIS_ID.match(message)
        if solaris:
            message = message[solaris.end() :]
    if message.startswith("message repeated "):
        repeated = REPEATED.fullmatch(message)
        if repeated:
            message, count = repeated["message"], int(repeated["count"])
    pid = int(pid) if pid and pid.isdigit() else None
    return Record(time, host, program, pid, message, line, count)


def alternation(patterns):
    """Given regular expressions as strings, return one that matches any of them."""
    return "|".join(f"(?:{pattern})" for pattern in patterns)


def compile_noise(anchored, anywhere=()):
    """Given noise patterns that all begin with ^ (the built-in ones) and
    others (the config's), return a function that tells whether a
    noise_text() is noise: the anchored patterns are tried at the start only,
    in one alternation, the others anywhere.  They are compiled on first use:
    a run with nothing new needs none.
    """

    @functools.cache
    def compiled():
        start = re.compile(alternation(p.removeprefix("^") for p in anchored)).match
        inside = re.compile(alternation(anywhere)).search
        return (start if anchored else None), (inside if anywhere else None)

    def is_noise(text):
        start, inside = compiled()
        return bool((start and start(text)) or (inside and inside(text)))

    return is_noise


@functools.cache
def matcher_for(program):
    """Given a program name (None: not known), return (match, rules): one
    compiled alternation of the patterns of the rules for that program, in
    order, that fully matches a message, and for each rule the rule and its
    (field, group name) pairs.  The winning rule is the first branch that
    matches, found by the name of its group: one match, in C, however many
    rules there are.  Compiled on first use, once per program.
    """
    if program is None:  # account lines say what changed, not who wrote them
        rules = [rule for rule in RULES if rule.kind != "account"]
    else:
        rules = [rule for rule in RULES if rule.programs is None or program in rule.programs]
    branches, named = [], []
    for index, rule in enumerate(rules):
        fields = re.findall(r"\(\?P<(\w+)>", rule.pattern)
        pattern = re.sub(r"\(\?P([<=])(\w+)", rf"(?P\1r{index}_\2", rule.pattern)
        branches.append(f"(?P<r{index}>{pattern})")
        named.append((rule, tuple((field, f"r{index}_{field}") for field in fields)))
    return re.compile("|".join(branches)).fullmatch, tuple(named)


def classify(record):
    """Given a Record that is not noise, return its Event: the first rule for
    its program that matches the whole message (every rule when the program
    is not known), or kind 'other'.
    """
    match, rules = matcher_for(record.program)
    found = match(record.message)
    if not found:
        return Event(
            record.time, record.host, record.program, record.pid, "other", record.line,
            record.message, connection=process_of(record.program, record.pid),
            count=record.count,
        )  # fmt: skip
    rule, groups = rules[int(found.lastgroup[1:])]
    fields = dict(rule.fixed)
    for field, group in groups:
        value = found[group]
        if value:
            fields[field] = value
    get = fields.get
    user, target, ip = get("user"), get("target"), get("ip")
    if get("service") in ("su", "su-l", "sudo", "sudo-i") and get("ruser"):
        user, target = get("ruser"), user  # su's and sudo's PAM: ruser ran it, user= is whom as
    elif not user and "service" in fields:
        user = get("ruser")  # a PAM failure without user= names the caller in ruser=
    port, pid = get("port"), get("connection")
    return Event(
        record.time, record.host, record.program, record.pid, rule.kind, record.line,
        record.message, rule.name, user, target, ip and plain_address(ip),
        int(port) if port else None, get("method"), get("command"), get("key_type"),
        get("fingerprint"), get("tty"), process_of(record.program, int(pid) if pid else record.pid),
        record.count,
    )  # fmt: skip


def process_of(program, pid):
    """Given a program name and a pid (or None), return the key of the
    process: sshd's processes are one program.
    """
    return None if pid is None else (SAME_PROCESSES.get(program, program), pid)


def plain_address(ip):
    """Given an address as a daemon wrote it, return it as people know it:
    an IPv4-mapped IPv6 address as IPv4, without an IPv6 zone index.
    """
    ip = ip.partition("%")[0]
    if ip[:7].lower() == "::ffff:" and "." in ip:
        return ip[7:]
    return ip


def noise_text(record):
    """Given a Record, return the text that noise patterns are matched
    against: "program[pid]: message", as syslog writes it after the host.
    """
    if record.program is None:
        return record.message
    if record.pid is None:
        return f"{record.program}: {record.message}"
    return f"{record.program}[{record.pid}]: {record.message}"


def understand(records, noise):
    """Given Records and the noise test (see compile_noise()), yield the Event
    of every record that is not noise, each connection's address filled in
    (see follow_connections()).
    """
    return follow_connections(classify_all(records, noise))


def classify_all(records, noise):
    """Given Records and the noise test, yield the Event of every record that
    is not noise; "last message repeated N times" repeats the one before.
    """
    previous = None  # the Event of the line before, None if it was noise
    for record in records:
        if record.program is None and record.count > 1:  # "last message repeated N times"
            if previous is not None:
                yield previous._replace(
                    time=record.time or previous.time, line=record.line, count=record.count
                )
        elif noise(noise_text(record)):
            previous = None
        else:
            previous = classify(record)
            yield previous


RECENT_CONNECTIONS = 4096  # connections whose address is remembered; their lines come close
WAITING_LINES = 64  # lines of one connection that may wait for its address


def follow_connections(events):
    """Given Events in the order they were written, yield them with the
    address of their connection filled in where a line has none, and without
    the lines that only tell an address (kind 'connection').

    A line that names the address gives it to the connection's other lines:
    to the later ones at once, and to the earlier failures that wait for it
    (a bare "kex_exchange_identification: Connection closed by remote host"
    is followed by "Connection closed by ADDR port N").  A failure whose
    address never comes is yielded without one, at the latest at the end.
    Memory stays bounded: the oldest connections are forgotten first.
    """
    addresses = OrderedDict()  # connection -> (ip, port)
    waiting = OrderedDict()  # connection -> [failures without an address]
    for event in events:
        if event.connection is None or event.program not in CONNECTION_PROGRAMS:
            yield event
            continue
        key = (event.host, event.connection)
        if event.ip:
            addresses[key] = (event.ip, event.port)
            addresses.move_to_end(key)
            if len(addresses) > RECENT_CONNECTIONS:
                addresses.popitem(last=False)
            for held in waiting.pop(key, ()):
                yield held._replace(ip=event.ip, port=held.port or event.port)
        elif key in addresses:
            ip, port = addresses[key]
            event = event._replace(ip=ip, port=event.port or port)
        elif event.kind in FAILURE_KINDS:
            held = waiting.setdefault(key, [])
            held.append(event)
            if len(held) > WAITING_LINES:
                yield held.pop(0)
            if len(waiting) > RECENT_CONNECTIONS:
                yield from waiting.popitem(last=False)[1]
            continue
        if event.rule in CONNECTION_ENDS:
            addresses.pop(key, None)  # its pid may serve another connection later
        if event.kind != "connection":
            yield event
    for held in waiting.values():
        yield from held


def event_json(event):
    """Given an Event, return its public JSON object as one line."""
    fields = event._asdict()
    public = {name: fields[name] for name in JSON_FIELDS}
    public["time"] = event.time.isoformat() if event.time else None
    return json.dumps(public)


### Building messages (pure) ################################################
#
# Each run sends, per host: a message of its own for every login that is not
# allow-listed; one summary of sudo, su and account changes; one digest of
# failed attempts, known logins and lines not understood.  Then, whatever
# the volume, at most [alerts] max_messages: the least urgent are folded
# into the last one.

# su and sudo log each failure again in their own words, which say more
# ("FAILED SU (to root) mallory on pts/1", "3 incorrect password attempts ;
# ... COMMAND=/bin/sh"): their PAM lines are not counted twice.
ECHO_RULES = ("su_pam_failure", "sudo_pam_failure")
PRIVILEGE_KINDS = ("sudo", "sudo_failed", "su", "su_failed", "account")
TOP_COUNT = 3  # how many source IPs and user names a failure digest names
KEPT_EVENTS = 200  # logins and distinct privilege lines kept per host; more are counted
KEPT_OTHER_LINES = 20
# C0 and C1 controls, zero-width and direction marks, line and paragraph separators
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2066-\u2069]")


class Message(NamedTuple):
    host: str
    title: str
    body: str
    priority: int
    timestamp: int | None
    held: bool = False  # kept back while Pushover's monthly quota is low
    folded: int = 0  # how many other messages were folded into this one
    parts: tuple = ()  # a folded message: the titles of the messages in it (some, if many)


class HostSummary:
    """What one host's events add up to, in bounded memory however many
    there are: the logins, the distinct privilege lines with their counts,
    the first lines not understood, and counts for the failures.

    One failed connection writes several lines (PAM's failure, sshd's
    "Failed password", "maximum authentication attempts exceeded", ...), so
    failures are counted once per connection: per sshd process id.  Recent
    connections are remembered (a bounded number: their lines come close
    together) so that memory stays flat through a storm.
    """

    def __init__(self, host, allow=NO_ALLOWLIST):
        self.host = host
        self.allow = allow
        self.counts = Counter()  # events by kind; failures by connection; "login": unknown ones
        self.logins = []  # the first KEPT_EVENTS unknown login events
        self.known = Counter()  # known_login_line() -> count, in the order first seen
        self.privilege = Counter()  # privilege_line() -> count, in the order first seen
        self.others = []  # the first KEPT_OTHER_LINES other events
        self.failure_ips = Counter()
        self.failure_users = Counter()
        self.connections = OrderedDict()  # Event.connection -> [ip counted, user counted]
        self.latest = {}  # "privilege", "digest" or "known" -> the time of its newest event
        self.last_act = (None,) * 5  # (program, pid, kind, target, user) of the last privilege act

    def add(self, event):
        """Given an Event, count it (as many times as its line was written)."""
        count = event.count
        if event.kind in FAILURE_KINDS:
            self.add_failure(event)
        elif event.rule in ECHO_RULES:
            pass
        elif event.kind in PRIVILEGE_KINDS:
            act = (event.program, event.pid, event.kind, event.target)
            if self.is_echo(act, event):
                return  # su logs "(to root) alice on pts/0" and its PAM session: one act
            self.last_act = act + (event.user,)
            line = privilege_line(event)
            if line in self.privilege or len(self.privilege) < KEPT_EVENTS:
                self.privilege[line] += count
            self.note_time("privilege", event.time)
            self.counts[event.kind] += count
        elif event.kind == "login" and is_known(event, self.allow):
            line = known_login_line(event)
            if line in self.known or len(self.known) < KEPT_EVENTS:
                self.known[line] += count
            self.counts["known_login"] += count
            self.note_time("known", event.time)
        else:
            kept = self.logins if event.kind == "login" else self.others
            if len(kept) < (KEPT_EVENTS if event.kind == "login" else KEPT_OTHER_LINES):
                kept.append(event)
            if event.kind == "other":
                self.note_time("digest", event.time)
            self.counts[event.kind] += count

    def is_echo(self, act, event):
        """Given the act of a su Event and the Event, return whether it is the
        act just counted, told again by PAM (which may not name the user)."""
        if event.kind != "su" or event.pid is None or act != self.last_act[:4]:
            return False
        return event.user in (None, self.last_act[4])

    def add_failure(self, event):
        """Given a failure Event, count its connection once, whatever number
        of lines it writes; a failure of no known connection counts as
        often as its line was written.
        """
        self.note_time("digest", event.time)
        key = event.connection
        counted = self.connections.get(key) if key else None
        if counted is None:
            counted = [False, False]
            self.counts[event.kind] += 1 if key else event.count
            if key:
                self.connections[key] = counted
                if len(self.connections) > RECENT_CONNECTIONS:
                    self.connections.popitem(last=False)
        weight = 1 if key else event.count
        if event.ip and not counted[0]:
            self.failure_ips[event.ip] += weight
            counted[0] = True
        if event.user and not counted[1]:
            self.failure_users[event.user] += weight
            counted[1] = True

    def note_time(self, group, time):
        if time and (group not in self.latest or time > self.latest[group]):
            self.latest[group] = time


def summarise(events, local_host, allow=NO_ALLOWLIST):
    """Given Events, the local host name and the Allow lists, return a dict
    of host name to HostSummary, in the order the hosts first appear; events
    without a host belong to local_host.
    """
    summaries = {}
    for event in events:
        host = event.host or local_host
        if host not in summaries:
            summaries[host] = HostSummary(host, allow)
        summaries[host].add(event)
    return summaries


def clean(text):
    """Given text that may come from an attacker, return it with control and
    direction-changing characters replaced, safe to show on one line.
    """
    return CONTROL_CHARACTERS.sub("\N{REPLACEMENT CHARACTER}", text)


def shorten(text, limit):
    """Given text and a length limit, return text cut to fit, ending in '…' if cut."""
    if len(text) <= limit:
        return text
    return text[: limit - 1] + "…"


def plural(count, word, words=None):
    """Given a count, a singular noun and its plural (default: noun + 's'),
    return e.g. '1 login' or '3 logins'.
    """
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def unix_time(time):
    """Given an aware datetime or None, return its Unix time or None."""
    return int(time.timestamp()) if time else None


def is_known(event, allow):
    """Given a login Event and the Allow lists, return whether the login is
    known: every list that is set (networks, users, keys) matches it.
    """
    if not (allow.networks or allow.users or allow.keys):
        return False
    if allow.networks:
        import ipaddress

        try:
            address = ipaddress.ip_address((event.ip or "").split("%")[0])
        except ValueError:
            return False
        address = getattr(address, "ipv4_mapped", None) or address
        if not any(address in network for network in allow.networks):
            return False
    if allow.users and event.user not in allow.users:
        return False
    return not allow.keys or event.fingerprint in allow.keys


def known_login_line(event):
    """Given a known login Event, return its line in the digest."""
    return f"{clean(event.user or '?')} {login_origin(event)} ({clean(event.method or '?')})"


def login_origin(event):
    """Given a login Event, return where it came from: 'from IP' or 'on TTY'."""
    if event.ip:
        return f"from {event.ip}"
    return f"on {clean(event.tty)}" if event.tty else "on the console"


def login_message(host, event, priority):
    """Given a host name, an unknown login Event and its priority, return the
    Message about it alone.
    """
    what = "SSH login" if event.program in SSHD else "login"
    lines = []
    if event.method:
        lines.append(f"Method: {clean(event.method)}")
    if event.fingerprint:
        lines.append("Key: " + clean(" ".join(filter(None, (event.key_type, event.fingerprint)))))
    if event.ip:
        lines.append(f"From: {event.ip}" + (f" port {event.port}" if event.port else ""))
    if event.time:
        lines.append(f"Time: {event.time.astimezone():%Y-%m-%d %H:%M:%S %z}")
    title = f"{clean(host)}: {what} {clean(event.user or '?')} {login_origin(event)}"
    return Message(
        host,
        shorten(title, MAX_TITLE),
        fit_lines(lines or [clean(event.message)], MAX_MESSAGE),
        priority,
        unix_time(event.time),
    )


def privilege_line(event):
    """Given a sudo, su or account Event, return its line in the summary:
    who ran what, as whom; failures marked.
    """
    if event.kind == "account":
        return f"{event.program}: {clean(event.message)}"
    failed = " FAILED" if event.kind.endswith("_failed") else ""
    target = f" as {clean(event.target)}" if event.target else ""
    command = f": {clean(event.command)}" if event.command else ""
    return f"{event.program}{failed}: {clean(event.user or '?')}{target}{command}"


def privilege_message(summary, priorities):
    """Given a HostSummary with privilege events and the priorities, return
    the Message that sums them up.
    """
    counts = summary.counts
    uses = sum(counts[kind] for kind in PRIVILEGE_KINDS if kind != "account")
    failed = counts["sudo_failed"] + counts["su_failed"]
    parts = []
    if uses:
        parts.append(plural(uses, "sudo/su use") + (f" ({failed} failed)" if failed else ""))
    if counts["account"]:
        parts.append(plural(counts["account"], "account change"))
    lines = [line + (f" ×{n}" if n > 1 else "") for line, n in summary.privilege.items()]
    unlisted = sum(counts[kind] for kind in PRIVILEGE_KINDS) - sum(summary.privilege.values())
    if unlisted > 0:
        lines.append(f"… and {unlisted} more")
    return Message(
        summary.host,
        shorten(f"{clean(summary.host)}: {', '.join(parts)}", MAX_TITLE),
        fit_lines(lines, MAX_MESSAGE),
        max(priorities[kind] for kind in PRIVILEGE_KINDS if counts[kind]),
        unix_time(summary.latest.get("privilege")),
    )


def failure_headline(summary, detail=""):
    """Given a HostSummary with failures and a detail to put in, return e.g.
    "5 failed logins (1 invalid user) from 3 addresses".
    """
    total = sum(summary.counts[kind] for kind in FAILURE_KINDS)
    sources = plural(len(summary.failure_ips), "address", "addresses")
    return f"{plural(total, 'failed login')}{detail} from {sources}"


def failure_lines(summary):
    """Given a HostSummary with failures, return the lines that sum them up."""
    kinds = ", ".join(
        plural(summary.counts[kind], noun)
        for kind, noun in (("invalid_user", "invalid user"), ("probe", "probe"))
        if summary.counts[kind]
    )
    lines = [failure_headline(summary, f" ({kinds})" if kinds else "")]
    for label, counter in (("IPs", summary.failure_ips), ("Users", summary.failure_users)):
        if counter:
            top = ", ".join(f"{clean(name)} ×{n}" for name, n in counter.most_common(TOP_COUNT))
            lines.append(f"{label}: {top}")
    return lines


def digest_message(summary, alerts):
    """Given a HostSummary and the Alerts, return the digest of failures,
    known logins and lines not understood, or None when there is nothing to
    send.
    """
    lines, parts, priorities = [], [], []
    failures = sum(summary.counts[kind] for kind in FAILURE_KINDS)
    if failures and failures >= alerts.failure_threshold:
        lines += failure_lines(summary)
        parts.append(failure_headline(summary))
        priorities += [alerts.priorities[kind] for kind in FAILURE_KINDS if summary.counts[kind]]
    unlisted = summary.counts["login"] - len(summary.logins)
    if unlisted > 0:  # more logins than a run keeps: say so, as a login would
        lines.append(f"… and {plural(unlisted, 'more login')}")
        parts.append(plural(unlisted, "more login"))
        priorities.append(alerts.priorities["login"])
    known = summary.counts["known_login"]
    if known and alerts.known_priority is not None:
        lines += [
            f"Known login: {text}" + (f" ×{n}" if n > 1 else "")
            for text, n in summary.known.items()
        ]
        if known > sum(summary.known.values()):
            lines.append(f"… and {known - sum(summary.known.values())} more known logins")
        parts.append(plural(known, "known login"))
        priorities.append(alerts.known_priority)
    if summary.counts["other"]:
        lines += [f"Other: {noise_text_of(event)}" for event in summary.others]
        if summary.counts["other"] > len(summary.others):
            lines.append(f"… and {summary.counts['other'] - len(summary.others)} more other lines")
        parts.append(plural(summary.counts["other"], "other line"))
        priorities.append(alerts.priorities["other"])
    if not lines:
        return None
    times = [summary.latest.get("digest")]
    if known and alerts.known_priority is not None:
        times.append(summary.latest.get("known"))
    return Message(
        summary.host,
        shorten(f"{clean(summary.host)}: {', '.join(parts)}", MAX_TITLE),
        fit_lines(lines, MAX_MESSAGE),
        max(priorities),
        unix_time(max(filter(None, times), default=None)),
    )


def noise_text_of(event):
    """Given an Event, return its line without time and host, made safe."""
    if event.program:
        return clean(f"{event.program}: {event.message}")
    return clean(event.message)


def host_messages(summary, alerts):
    """Given a HostSummary and the Alerts, return its Messages: one per
    unknown login, one for privilege use, one digest.
    """
    messages = [
        login_message(summary.host, event, alerts.priorities["login"]) for event in summary.logins
    ]
    if summary.privilege:
        messages.append(privilege_message(summary, alerts.priorities))
    digest = digest_message(summary, alerts)
    if digest:
        messages.append(digest)
    return messages


MAX_LINE_LENGTH = 200  # so that one long line cannot crowd out the others


def fit_lines(lines, limit):
    """Given message lines and a length limit, return them joined, each line
    shortened to MAX_LINE_LENGTH, keeping whole lines and saying how many did
    not fit.
    """
    lines = [shorten(line, MAX_LINE_LENGTH) for line in lines]
    kept = []
    for index, line in enumerate(lines):
        rest = len(lines) - index
        tail = f"… and {plural(rest, 'more line')}"
        if len("\n".join(kept + [line])) > limit - len(tail) - 1 and rest > 1:
            return "\n".join(kept + [tail])
        kept.append(line)
    return shorten("\n".join(kept), limit)


MAX_PARTS = 500  # titles a folded message remembers; it counts all


def merge_messages(messages):
    """Given Messages, return one that holds them all, at the highest of
    their priorities: the title of each first (for a login, who and from
    where), then as much of their bodies as fits.  Merging a merged message
    again keeps its titles and counts.
    """
    titles = [title for message in messages for title in (message.parts or (message.title,))]
    details = [
        line for message in messages if not message.parts for line in message.body.splitlines()
    ]
    folded = sum(message.folded + 1 for message in messages) - 1
    stamps = [message.timestamp for message in messages if message.timestamp]
    return Message(
        messages[0].host,
        shorten(f"{titles[0]} … and {folded} more", MAX_TITLE),
        fit_lines([f"▶ {title}" for title in titles] + details, MAX_MESSAGE),
        max(message.priority for message in messages),
        max(stamps, default=None),
        folded=folded,
        parts=tuple(titles[:MAX_PARTS]),
    )


def fold_messages(messages, limit):
    """Given Messages and the most that may be sent, return them most urgent
    first, the ones past the limit folded into the last.
    """
    ordered = sorted(messages, key=lambda message: -message.priority)
    if len(ordered) <= limit:
        return ordered
    return ordered[: limit - 1] + [merge_messages(ordered[limit - 1 :])]


def plan_messages(summaries, notices, local_host, alerts):
    """Given a dict of HostSummary, notices from authwatch itself (such as
    "events may be missing"), the local host name and the Alerts, return the
    Messages to send, most urgent first; the notices lead the first message,
    or make one of their own.
    """
    messages = fold_messages(
        [message for summary in summaries.values() for message in host_messages(summary, alerts)],
        alerts.max_messages,
    )
    notes = [f"Note: {clean(notice)}" for notice in notices]
    if notes and messages:
        first = messages[0]
        body = fit_lines(notes + first.body.splitlines(), MAX_MESSAGE)
        messages[0] = first._replace(body=body)
    elif notes:
        title = shorten(f"{clean(local_host)}: authwatch notice", MAX_TITLE)
        messages = [Message(local_host, title, fit_lines(notes, MAX_MESSAGE), 0, None)]
    return messages


def format_message(message):
    """Given a Message, return how --dry-run shows it."""
    held = " [held: quota low]" if message.held else ""
    return f"=== {message.title} [priority {message.priority}]{held}\n{message.body}\n"


### Reading the log #########################################################


MAX_LINE = 64 * 1024  # a longer line keeps this much; the rest is skipped


def decode_line(raw):
    """Given a line as read (bytes), return it as text: UTF-8 where valid,
    a replacement mark for each bad byte, without its line ending.
    """
    return raw.decode("utf-8", "replace").rstrip("\r\n")


def read_position(path):
    """Given a position file (pygtail's format, inode and offset a line each,
    then authwatch's fingerprint of the file's first line), return (inode,
    offset, fingerprint or None), or None if there is no such file.

    Raise StateError if it exists but cannot be read or understood.
    """
    try:
        with open(path, "rb") as file:
            fields = file.read(4096).split()
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror}") from None
    try:
        inode, offset = int(fields[0]), int(fields[1])
        fingerprint = fields[2].decode("ascii") if len(fields) > 2 else None
    except (ValueError, IndexError, UnicodeDecodeError):
        inode = offset = -1
    if inode < 0 or offset < 0 or len(fields) > 3:
        raise StateError(f"{path} is corrupt")
    return inode, offset, fingerprint


def fingerprint_of(file):
    """Given a binary file (plain or gzip), return a fingerprint of its first
    line, which a rotated copy keeps; None while it has no full line.
    """
    file.seek(0)
    first = file.readline(MAX_LINE)
    if not first.endswith(b"\n") and len(first) < MAX_LINE:
        return None
    return f"{zlib.crc32(first):08x}{zlib.adler32(first):08x}"


def read_lines(file, keep_partial):
    """Given a binary file at the place to read from, yield its lines (bytes)
    to the end; a line longer than MAX_LINE yields its first MAX_LINE bytes.
    A last line without its newline is yielded only if keep_partial (the file
    is rotated and done), else the file is left just before it.
    """
    start = file.tell()  # of the line being read: counted, not asked for each line
    while True:
        line = file.readline(MAX_LINE)
        if not line:
            return
        if line.endswith(b"\n"):
            start += len(line)
            yield line
            continue
        if len(line) == MAX_LINE:  # a huge line: skip to its end
            rest = line
            while rest and not rest.endswith(b"\n"):
                rest = file.readline(MAX_LINE)
            if rest.endswith(b"\n") or keep_partial:
                start = file.tell()
                yield line
                continue
        elif keep_partial:
            yield line
            continue
        file.seek(start)  # syslog is still writing it: next run
        return


def open_log(path):
    """Given a log or rotated log path, return it opened for binary reading
    (gzip-decompressing a .gz file).
    """
    if path.endswith(".gz"):
        import gzip

        return gzip.open(path, "rb")
    return open(path, "rb")


def rotated_candidates(path):
    """Given the log path, yield the files its old content may have been
    rotated to: pygtail's guess first (it knows logrotate's, dateext's and
    savelog's names), then every sibling named after it, newest first.
    """
    from pygtail import Pygtail

    guess = Pygtail(path, offset_file=os.devnull)._check_rotated_filename_candidates()
    if guess:
        yield guess
    folder, name = os.path.split(path)
    siblings = []
    for entry in os.listdir(folder or "."):
        if entry.startswith((name + ".", name + "-")) and entry != os.path.basename(guess or ""):
            with contextlib.suppress(OSError):  # a dangling link, or gone meanwhile
                siblings.append((os.stat(os.path.join(folder, entry)).st_mtime, entry))
    for _, entry in sorted(siblings, reverse=True):
        yield os.path.join(folder, entry)


def find_rotated(path, inode, fingerprint):
    """Given the log path and the inode and fingerprint of the file last read,
    return (the path it was rotated to, whether it is the newest rotated file)
    or (None, False) when it is nowhere to be found.
    """
    for index, candidate in enumerate(rotated_candidates(path)):
        try:
            if os.stat(candidate).st_ino == inode:
                return candidate, index == 0
            if fingerprint is not None:
                with open_log(candidate) as file:
                    if fingerprint_of(file) == fingerprint:
                        return candidate, index == 0
        except (OSError, EOFError):  # gzip's BadGzipFile is an OSError
            continue  # unreadable or not ours: not the one
    return None, False


class Source:
    """What the log file and the journal have in common: the file that
    keeps the position, and notices for the next message.  records() reads,
    positions() tells where it got to, save() stores that.
    """

    def __init__(self, position_path, from_start):
        self.position_path = position_path
        self.from_start = from_start
        self.position = None  # set by records()
        self.notices = []

    def notice(self, text):
        """Given what the admin must know (events may be missing or repeated),
        keep it for the next message and say it on stderr.
        """
        self.notices.append(text)
        log.warning("%s", text)

    def save(self):
        """Store the position that records() reached, unless it is the stored one."""
        store_positions_if_changed(self.positions())


class FileSource(Source):
    """The full lines added to a log file since the stored position, also
    across rotation: by renaming (logrotate's create, dateext), by copying
    (copytruncate) and with compression, delayed or not.  The file last read
    is recognised by its inode or, once copied or compressed, by a
    fingerprint of its first line.
    """

    def __init__(self, path, position_path, from_start):
        super().__init__(position_path, from_start)
        self.path = path  # the position: (inode, offset, fingerprint)

    def describe(self):
        return f"log file {self.path}"

    def records(self, now):
        """Given the current local time, yield a Record for every new line.

        Raise SourceError if the log cannot be read.
        """
        stored = None if self.from_start else self.stored_position()
        with open_readable(self.path) as current:
            inode = os.fstat(current.fileno()).st_ino
            fingerprint = fingerprint_of(current)
            if stored is None and not self.from_start:
                log.info(
                    "no position stored for %s yet: starting at its end"
                    " (--from-start reads it all)",
                    self.path,
                )
                current.seek(0, os.SEEK_END)
                self.position = (inode, end_of_last_full_line(current), fingerprint)
                return
            offset = 0
            if stored is not None:
                offset = yield from self.rotated_records(stored, inode, fingerprint, now)
            current.seek(offset)
            for line in read_lines(current, keep_partial=False):
                yield parse_line(decode_line(line), now)
            self.position = (inode, current.tell(), fingerprint)

    def stored_position(self):
        """Return the stored position, or one at the start of the log (with a
        notice) when the position file is corrupt: lines may come twice, but
        none is lost.
        """
        try:
            return read_position(self.position_path)
        except StateError as error:
            self.notice(f"{error}: the position was reset; {self.path} is read from its start")
            return (None, 0, None)

    def rotated_records(self, stored, inode, fingerprint, now):
        """Given the stored position and the current file's inode and
        fingerprint, yield the Records of the unread tail of the file last
        read if it was rotated; return where to read the current file from.
        """
        stored_inode, offset, stored_fingerprint = stored
        if stored_inode is None:
            return 0
        same = inode == stored_inode and os.stat(self.path).st_size >= offset
        if same and stored_fingerprint in (None, fingerprint):
            return offset
        old, newest = find_rotated(self.path, stored_inode, stored_fingerprint)
        if old is None:
            self.notice(
                f"{self.path} was rotated to a place authwatch does not know:"
                " lines written before the rotation may be missing"
            )
        elif not newest:
            self.notice(
                f"{self.path} was rotated more than once since the last run:"
                f" lines in the files between {old} and it may be missing"
            )
        if old is not None:
            log.info("reading the rest of %s, rotated from %s", old, self.path)
            with open_log(old) as file:
                file.seek(offset)
                for line in read_lines(file, keep_partial=True):
                    yield parse_line(decode_line(line), now)
        return 0

    def positions(self):
        """Return the position records() reached, as {position file: its text}."""
        inode, offset, fingerprint = self.position
        return {self.position_path: f"{inode}\n{offset}\n{fingerprint or ''}\n"}


def end_of_last_full_line(file):
    """Given a binary file at its end, return the offset just after its last newline."""
    offset = file.tell()
    while offset > 0:
        block = min(offset, 65536)
        file.seek(offset - block)
        newline = file.read(block).rfind(b"\n")
        if newline >= 0:
            return offset - block + newline + 1
        offset -= block
    return 0


def open_readable(path):
    """Given a log path, return it opened for binary reading; raise
    SourceError saying why it cannot be, with a hint where one helps.
    """
    try:
        return open(path, "rb")
    except PermissionError:
        raise SourceError(
            f"cannot read {path}: permission denied (run as root, or add the user to group adm)"
        ) from None
    except OSError as error:
        raise SourceError(f"cannot read {path}: {error.strerror}") from None


# Which journal entries matter: the auth and authpriv facilities, or a program
# the rules know.  Not _SYSTEMD_UNIT: sshd-session and sudo in a login
# session run under other units.
AUTH_FACILITIES = ("4", "10")
JOURNAL_IDENTIFIERS = SSHD + ("sudo", "su", "login") + ACCOUNT_PROGRAMS
INSTALL_SYSTEMD_PYTHON = (
    "reading the journal needs systemd-python: pip install 'authwatch[journald]'"
    " (with libsystemd-dev and pkg-config), or apt install python3-systemd"
)


JOURNAL_LOOKBACK = 3600 * 1_000_000  # µs: how late an entry may arrive and still be read


class JournalSource(Source):
    """The authentication entries added to the systemd journal since the last
    run: the local journal, or the journal files in a folder (as a central log
    host's systemd-journal-remote writes them, for many hosts).

    The journal is read in time order, but a log host receives entries late:
    so each run looks back an hour before the newest entry handled, and an
    entry is new when its sequence number (from its cursor) is past the last
    one handled of its sequence.  Only the fields needed are read, with the
    reader's low-level calls: a whole entry converts some 25 fields.  If the
    entry read last is gone (vacuumed or rotated away), a notice says that
    entries may be missing.
    """

    def __init__(self, journal_dir, position_path, from_start, instead_of=None):
        super().__init__(position_path, from_start)  # the position: see journal_position()
        self.journal_dir = journal_dir
        self.instead_of = instead_of  # the log file that auto found unreadable

    def describe(self):
        if self.journal_dir:
            return f"journal files in {self.journal_dir}"
        return "the systemd journal"

    def records(self, now):
        """Given the current local time, yield a Record for every new entry.

        Raise SourceError if the journal cannot be read.
        """
        try:
            reader = open_journal(self.journal_dir)
        except SourceError as error:
            if self.instead_of:
                raise SourceError(f"cannot read {self.instead_of}, and {error}") from None
            raise
        stored = None if self.from_start else self.stored_position(now)
        if self.from_start:
            reader.seek_head()
            cursor, newest, seen = None, 0, {}
        elif stored is None:
            log.info(
                "no position stored for %s yet: starting at its end (--from-start reads it all)",
                self.describe(),
            )
            reader.seek_tail()
            newest = reader._get_realtime() if reader._previous() else now_microseconds(now)
            reader.seek_realtime(max(newest - JOURNAL_LOOKBACK, 0))
            cursor, seen = None, {}
            while reader._next():  # what is there now counts as handled
                cursor = reader._get_cursor()
                note_entry(reader, seen, cursor)
            self.position = journal_position(cursor, newest, seen)
            return
        else:
            cursor, newest, seen = stored["cursor"], stored["realtime"], stored["seen"]
            if cursor and not entry_exists(reader, cursor):
                since = datetime.datetime.fromtimestamp(newest / 1_000_000).astimezone()
                self.notice(
                    "the journal entry read last is gone (vacuumed or rotated away):"
                    f" entries since {since:%Y-%m-%d %H:%M:%S} may be missing"
                )
                cursor = None  # said once
            reader.seek_realtime(max(stored.get("start", newest - JOURNAL_LOOKBACK), 0))
        while reader._next():
            entry_cursor = reader._get_cursor()
            sequence, number = sequence_of(entry_cursor)
            if number <= seen.get(sequence, (-1, 0))[0]:
                continue  # handled by an earlier run
            realtime = note_entry(reader, seen, entry_cursor)
            cursor, newest = entry_cursor, max(newest, realtime)
            yield journal_record(reader, realtime)
        self.position = journal_position(cursor, newest, seen)

    def stored_position(self, now):
        """Return the stored position (None if there is none), or, when the
        position file is corrupt, one that starts 5 minutes before its last
        change: entries may come twice, but none is lost.
        """
        try:
            return read_journal_position(self.position_path)
        except StateError as error:
            try:
                changed = os.stat(self.position_path).st_mtime
            except OSError:
                changed = now.timestamp()
            self.notice(f"{error}: the position was reset to the time of its last change")
            since = int((changed - 300) * 1_000_000)
            return {"cursor": None, "realtime": since, "seen": {}, "start": since}

    def positions(self):
        """Return the position records() reached, as {position file: its text}."""
        if self.position is None:
            return {}
        return {self.position_path: json.dumps(self.position) + "\n"}


def now_microseconds(now):
    """Given an aware datetime, return it in µs since the epoch, as the journal counts."""
    return int(now.timestamp() * 1_000_000)


def sequence_of(cursor):
    """Given a journal cursor ("s=<sequence id>;i=<number, hex>;..."), return
    (its sequence id, its number in it).
    """
    sequence, number, _ = cursor.split(";", 2)
    return sequence[2:], int(number[2:], 16)


def note_entry(reader, seen, cursor):
    """Given a Reader on an entry, the dict of sequence -> (last number
    handled, its time) and the entry's cursor, note the entry as handled;
    return its time in µs.
    """
    realtime = reader._get_realtime()
    sequence, number = sequence_of(cursor)
    if number > seen.get(sequence, (-1, 0))[0]:
        seen[sequence] = (number, realtime)
    return realtime


def journal_position(cursor, newest, seen):
    """Given the cursor of the entry handled last, the newest time handled
    and the handled sequences, return the position to store; sequences with
    nothing in the look-back window are dropped.
    """
    start = newest - JOURNAL_LOOKBACK
    recent = {sequence: list(last) for sequence, last in seen.items() if last[1] >= start}
    return {"cursor": cursor, "realtime": newest, "seen": recent}


def entry_exists(reader, cursor):
    """Given a Reader and a cursor, return whether that entry is still there."""
    reader.seek_cursor(cursor)
    # seek_cursor() never fails: it moves to the nearest entry, so check.
    return reader._next() and reader.test_cursor(cursor)


def journal_denied(where):
    """Given where the journal files are, return the error for having no
    permission to read them, with the hint that helps."""
    return (
        f"cannot read the journal files in {where}: permission denied"
        " (run as root, or add the user to group systemd-journal or adm)"
    )


def open_journal(journal_dir):
    """Given a folder of journal files (or None for the local journal), return
    a systemd Reader that matches the authentication entries.

    Raise SourceError if systemd-python is missing or the journal cannot be opened.
    """
    try:
        from systemd import journal
    except ImportError:
        raise SourceError(INSTALL_SYSTEMD_PYTHON) from None
    if journal_dir:
        try:
            os.listdir(journal_dir)
        except PermissionError:
            raise SourceError(journal_denied(journal_dir)) from None
        except OSError as error:
            raise SourceError(
                f"cannot read journal files in {journal_dir}: {error.strerror}"
            ) from None
    folders = [journal_dir] if journal_dir else ["/var/log/journal", "/run/log/journal"]
    files = [
        os.path.join(folder, name)
        for top in folders
        for folder, _, names in os.walk(top)
        for name in names
        if name.endswith(".journal")
    ]
    if files and not any(os.access(path, os.R_OK) for path in files):
        raise SourceError(journal_denied(" or ".join(folders)))
    try:
        reader = journal.Reader(path=journal_dir) if journal_dir else journal.Reader()
    except OSError as error:
        raise SourceError(f"cannot open the journal: {error.strerror}") from None
    for facility in AUTH_FACILITIES:
        reader.add_match(SYSLOG_FACILITY=facility)
    reader.add_disjunction()
    for identifier in JOURNAL_IDENTIFIERS:
        reader.add_match(SYSLOG_IDENTIFIER=identifier)
    return reader


def journal_field(reader, name):
    """Given a Reader on an entry, return one field as text (None if absent);
    invalid UTF-8 is decoded with a replacement mark.
    """
    try:
        return reader._get(name).decode("utf-8", "replace")
    except KeyError:
        return None


def journal_record(reader, realtime):
    """Given a Reader on an entry and its time in µs, return its Record, with
    the line rebuilt as rsyslog would write it (for noise patterns and --json).
    """
    stamp = datetime.datetime.fromtimestamp(realtime / 1_000_000, datetime.timezone.utc)
    host = journal_field(reader, "_HOSTNAME")
    program = journal_field(reader, "SYSLOG_IDENTIFIER") or journal_field(reader, "_COMM")
    pid = journal_field(reader, "_PID") or journal_field(reader, "SYSLOG_PID")
    message = journal_field(reader, "MESSAGE") or ""
    pid = int(pid) if pid and pid.isdigit() else None
    tag = f"{program}[{pid}]" if pid else program
    line = f"{stamp.isoformat()} {host or '-'} {tag}: {message}"
    return Record(stamp, host, program, pid, message, line)


def read_journal_position(path):
    """Given the journal position file, return the position it holds (with
    "cursor", "realtime" and "seen"), or None if there is no such file.

    Raise StateError if it exists but cannot be read or understood.
    """
    try:
        with open(path, encoding="utf-8") as file:
            position = json.load(file)
        cursor, realtime = position.get("cursor"), position["realtime"]
        seen = {
            str(sequence): (int(number), int(time))
            for sequence, (number, time) in position.get("seen", {}).items()
        }
        if not isinstance(realtime, int) or not isinstance(cursor, (str, type(None))):
            raise ValueError
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, TypeError, KeyError, AttributeError):
        raise StateError(f"{path} is corrupt") from None
    return {"cursor": cursor, "realtime": realtime, "seen": seen}


def log_is_readable(path):
    """Given a path, return whether it is a file this process can read."""
    return os.path.isfile(path) and os.access(path, os.R_OK)


def open_source(config, from_start):
    """Given the Config and whether to read from the start, return the source
    to read: the log file, or the journal when the type is journald, or auto
    and the log file is not there to read.
    """
    path = os.path.abspath(config.log_path)
    use_journal = config.source_type == "journald" or (
        config.source_type == "auto" and not log_is_readable(path)
    )
    if use_journal:
        if config.journal_dir:
            folder = os.path.abspath(config.journal_dir)
            name = "journal" + folder.replace("/", "_") + ".position"
        else:
            folder, name = None, "journal.position"
        instead_of = path if config.source_type == "auto" else None
        return JournalSource(folder, os.path.join(config.state_dir, name), from_start, instead_of)
    name = path.strip("/").replace("/", "_") + ".offset"
    return FileSource(path, os.path.join(config.state_dir, name), from_start)


### State ###################################################################


def write_atomically(path, text):
    """Given a path and its new text, replace the file so that a crash leaves
    either the old or the new text: temp file, fsync, rename, fsync the folder.

    Raise StateError if it cannot be written.
    """
    import tempfile

    folder = os.path.dirname(path) or "."
    try:
        handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as file:
                file.write(text)
                file.flush()
                os.fsync(file.fileno())
            os.replace(temp_path, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temp_path)
            raise
        directory = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    except OSError as error:
        raise StateError(f"cannot write {path}: {error.strerror}") from None


def prepare_state_dir(path):
    """Given the state directory, create it if needed and check that state
    can be written there; raise StateError if not.
    """
    try:
        os.makedirs(path, mode=0o700, exist_ok=True)
    except OSError as error:
        raise StateError(f"cannot create state directory {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):  # also false on a read-only file system
        raise StateError(f"cannot write in state directory {path}")


OUTBOX = "outbox.json"  # messages built but not yet accepted by Pushover
QUOTA = "pushover.json"  # what Pushover last said of the monthly quota


def read_json_state(path, default):
    """Given a JSON state file and what to return when it does not exist,
    return its contents.

    Raise StateError if it cannot be read or is not JSON.
    """
    try:
        with open(path, encoding="utf-8") as file:
            return json.load(file)
    except FileNotFoundError:
        return default
    except (OSError, ValueError) as error:
        raise StateError(f"cannot read {path}: {one_line(error)}") from None


class Outbox(NamedTuple):
    """What waits in the state directory for Pushover: the Messages, notices
    for the next message (a message Pushover refused), and the positions the
    messages were read up to, until they are stored in the position files.
    """

    messages: list
    notices: list
    positions: dict  # position file path -> its text


def read_outbox(state_dir, move_damaged=True):
    """Given the state directory, return its Outbox (empty if there is none).
    A damaged outbox is moved aside, with a notice: its messages cannot be
    trusted (or, with move_damaged False, as for a dry run, only left out).

    Raise StateError if a damaged outbox cannot be moved aside.
    """
    path = os.path.join(state_dir, OUTBOX)
    try:
        stored = read_json_state(path, {})
        return Outbox(
            [Message(**fields) for fields in stored.get("messages", [])],
            [str(notice) for notice in stored.get("notices", [])],
            {str(key): str(text) for key, text in stored.get("positions", {}).items()},
        )
    except (StateError, TypeError, AttributeError):
        if not move_damaged:
            log.warning("%s is damaged: a real run moves it aside", path)
            return Outbox([], [], {})
        aside = f"{path}.damaged"
        try:
            os.replace(path, aside)
        except OSError as error:
            raise StateError(f"cannot move the damaged {path} aside: {error.strerror}") from None
        notice = f"{path} was damaged and moved to {aside}: messages in it may be lost"
        log.warning("%s", notice)
        return Outbox([], [notice], {})


def write_outbox(state_dir, outbox):
    """Given the state directory and an Outbox, store it, atomically; raise
    StateError if it cannot be written.
    """
    text = json.dumps(
        {
            "messages": [message._asdict() for message in outbox.messages],
            "notices": outbox.notices,
            "positions": outbox.positions,
        },
        indent=1,
    )
    write_atomically(os.path.join(state_dir, OUTBOX), text + "\n")


def store_positions_if_changed(positions):
    """Given {position file: text}, write each file whose text differs (a
    run with nothing new writes nothing); raise StateError if one cannot be.
    """
    for path, text in positions.items():
        try:
            with open(path, encoding="utf-8", errors="replace") as file:
                if file.read() == text:
                    continue
        except OSError:
            pass
        write_atomically(path, text)


def quota_is_low(quota, reserve, now):
    """Given the stored quota ({} when unknown), the reserve and the Unix
    time now, return whether messages below priority 1 must wait.
    """
    return quota.get("remaining", reserve) < reserve and now < quota.get("reset", 0)


def quota_is_spent(quota, now):
    """Given the stored quota and the Unix time now, return whether Pushover
    refused for want of quota (429) and its reset has not come yet.
    """
    return quota.get("remaining", 1) <= 0 and now < quota.get("reset", 0)


def read_quota(state_dir):
    """Given the state directory, return the stored quota; {} if there is
    none or it is damaged (it is only a cache of Pushover's headers).
    """
    path = os.path.join(state_dir, QUOTA)
    try:
        quota = read_json_state(path, {})
    except StateError as error:
        log.warning("%s: ignored", error)
        return {}
    keys = ("limit", "remaining", "reset")
    if isinstance(quota, dict) and all(isinstance(quota.get(key), int) for key in keys):
        return quota
    if quota:
        log.warning("%s is damaged: ignored", path)
    return {}


@contextlib.contextmanager
def run_lock(state_dir):
    """Given the state directory, hold its lock for one run; yield whether
    this run got it (False: another run is working).
    """
    path = os.path.join(state_dir, "lock")
    try:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as error:
        raise StateError(f"cannot open {path}: {error.strerror}") from None
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        yield True
    finally:
        os.close(handle)  # also releases the lock


### Delivery ################################################################
#
# Pushover's rules (pushover.net/api, "Being friendly to our API"): retry a
# 5xx, a timeout or a lost connection no sooner than 5 s later, with backoff;
# never retry a 4xx as it is; after a 429 send nothing until the quota's reset.

# A run must end within 90 s even when Pushover is down or slow: one message
# takes at most 3 tries of (5 + 10) s and waits of 5 and 10 s, 60 s in all;
# no message is begun after DELIVERY_TIME.
REQUEST_TIMEOUT = (5, 10)  # seconds to connect, seconds to answer
RETRIES = 2  # after the first try
FIRST_RETRY_DELAY = 5  # seconds
LONGEST_RETRY_DELAY = 10  # seconds, also for Retry-After
DELIVERY_TIME = 20  # seconds a run may spend sending before the rest waits for the next


class PushoverRefused(AuthwatchError):
    """Pushover refused one message for what it holds (a 4xx): it is dropped."""

    exit_status = ExitStatus.DELIVERY_FAILED


class QuotaSpent(DeliveryError):
    """Pushover's monthly quota is used up (429)."""


def new_http_session():
    """Return a requests Session that retries as Pushover asks (requests is
    imported only when there is something to send).
    """
    import requests
    from urllib3.util.retry import Retry

    class PushoverRetry(Retry):
        def get_backoff_time(self):
            return max(FIRST_RETRY_DELAY, super().get_backoff_time())

        def get_retry_after(self, response):
            # honoured, but a run ends in time: no sooner than 5 s, no later than 10 s
            after = super().get_retry_after(response)
            return (
                None if after is None else min(max(FIRST_RETRY_DELAY, after), LONGEST_RETRY_DELAY)
            )

        def is_retry(self, method, status_code, has_retry_after=False):
            if 400 <= status_code < 500:
                return False  # urllib3 retries a 413 or 429 with Retry-After; never a 4xx
            return super().is_retry(method, status_code, has_retry_after)

    retry = PushoverRetry(
        total=RETRIES,
        status_forcelist=(500, 502, 503, 504),
        allowed_methods=None,  # POST too: a duplicate beats a lost login
        backoff_factor=FIRST_RETRY_DELAY,
        backoff_max=LONGEST_RETRY_DELAY,
        raise_on_status=False,
    )
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(max_retries=retry)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


def pushover_fields(config, message):
    """Given the Config and a Message, return the form fields to POST."""
    fields = {
        "token": config.token,
        "user": config.user,
        "title": message.title,
        "message": message.body,
        "priority": str(message.priority),
        **config.message_options,
    }
    if message.timestamp is not None:
        fields["timestamp"] = str(message.timestamp)
    if message.priority == 2:  # emergency: repeated until acknowledged
        fields.update(retry=str(config.alerts.retry), expire=str(config.alerts.expire))
    return fields


def quota_of(response):
    """Given Pushover's answer, return the quota it tells of, or {} if none."""
    try:
        return {
            "limit": int(response.headers["X-Limit-App-Limit"]),
            "remaining": int(response.headers["X-Limit-App-Remaining"]),
            "reset": int(response.headers["X-Limit-App-Reset"]),
        }
    except (KeyError, ValueError):
        return {}


def describe_request_error(error):
    """Given a requests exception, return a short reason such as 'Connection refused'."""
    import requests

    if isinstance(error, requests.Timeout):
        return "no answer in time"
    # requests wraps urllib3's error, which names the socket's: "[Errno 111] Connection refused"
    cause = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    if cause:
        return cause.group(1).strip()
    return type(error).__name__


def send_message(session, config, message, on_quota):
    """Given an HTTP session, the Config, a Message and a function to call
    with the quota each answer tells of, POST the message to Pushover; return
    Pushover's answer (a dict) when it accepted it.

    Raise ConfigError if Pushover refused the token or user key, PushoverRefused
    if it refused this message, QuotaSpent on a 429, DeliveryError if it could
    not be reached or failed.
    """
    import requests

    try:
        response = session.post(
            config.api_url,
            data=pushover_fields(config, message),
            timeout=REQUEST_TIMEOUT,
            allow_redirects=False,  # the token goes to api_url and nowhere else
        )
    except requests.RequestException as error:
        raise DeliveryError(
            f"cannot reach Pushover at {config.api_url}: {describe_request_error(error)}"
        ) from None
    quota = quota_of(response)
    if response.status_code == 429:
        quota = {**quota, "remaining": 0}
        quota.setdefault("reset", int(time.time()) + 3600)
    if quota:
        on_quota(quota)
    try:
        answer = response.json()
    except ValueError:
        answer = None
    if not isinstance(answer, dict):
        answer = {}
    if response.status_code == 200 and answer.get("status") == 1:
        return answer
    reasons = "; ".join(str(reason) for reason in answer.get("errors", ()) if reason)
    reasons = one_line(reasons or response.reason or "no reason given")
    status = response.status_code
    if status == 429:
        raise QuotaSpent(f"Pushover's monthly quota is used up (HTTP 429): {reasons}")
    if 400 <= status < 500:
        wrong = [key for key in ("token", "user", *MESSAGE_OPTIONS) if key in answer]
        if wrong:  # a setting, not this message: every message would be refused
            raise ConfigError(
                f"Pushover refused [pushover] {' and '.join(wrong)} (HTTP {status}): {reasons}"
            )
        raise PushoverRefused(f"Pushover refused a message (HTTP {status}): {reasons}")
    raise DeliveryError(f"Pushover did not accept the message (HTTP {status}): {reasons}")


def release_held(messages):
    """Given Messages, return them with those held for the quota released,
    as one message if there were several.
    """
    held = [message for message in messages if message.held]
    if not held:
        return messages
    released = merge_messages(held) if len(held) > 1 else held[0]
    return [message for message in messages if not message.held] + [released._replace(held=False)]


def store_quota(state_dir, quota):
    """Given the state directory and the quota Pushover told of, store it."""
    write_atomically(os.path.join(state_dir, QUOTA), json.dumps(quota) + "\n")


def deliver(state_dir, session_factory, config, now):
    """Given the state directory, a way to get an HTTP session, the Config
    and the Unix time now, send the messages in the outbox, removing each
    as soon as Pushover accepted it.  While the quota is below the reserve,
    only messages of priority 1 and more go; the others are held, and sent
    as one message once the quota is reset.  A message that Pushover refuses
    is dropped, with a notice for the next message.

    Raise DeliveryError when the rest must wait for the next run, ConfigError
    when Pushover refused a setting, StateError when the outbox or quota
    cannot be written; what is not sent stays in the outbox.
    """
    outbox = read_outbox(state_dir)
    quota = read_quota(state_dir)
    pending, notices = list(outbox.messages), list(outbox.notices)
    if not pending:
        return
    if quota_is_spent(quota, now):
        log.info("Pushover's quota is used up until %s: %d wait", quota["reset"], len(pending))
        return

    def note_quota(answer):
        quota.clear()
        quota.update(answer)
        store_quota(state_dir, quota)

    def store():
        write_outbox(state_dir, Outbox(pending, notices, {}))

    if not quota_is_low(quota, config.alerts.quota_reserve, now):
        released = release_held(pending)
        if released != pending:
            pending = released
            store()
    session = session_factory()
    started = time.monotonic()
    for message in list(pending):
        if message.priority < 1 and quota_is_low(quota, config.alerts.quota_reserve, now):
            log.info("quota low: holding %s", message.title)
            pending[pending.index(message)] = message._replace(held=True)
            continue
        if time.monotonic() - started > DELIVERY_TIME:
            raise DeliveryError(
                f"Pushover is slow: {plural(len(pending), 'message')} wait for the next run"
            )
        try:
            send_message(session, config, message, note_quota)
            log.info("sent: %s", message.title)
        except PushoverRefused as error:
            log.warning("%s; it was dropped: %s", error, message.title)
            notices.append(f"{error}; it was dropped: {message.title}")
        pending.remove(message)
        store()
    store()


### Command line ############################################################

EPILOG = """\
exit codes:
  0  all new events delivered, or nothing new (prints nothing but warnings)
  1  delivery to Pushover failed; the events are sent again next run
  2  usage or configuration error, or Pushover refused the token or user key
  3  the log or the journal cannot be read
  4  the state directory or a state file cannot be used
  70 internal error (a bug: please report it); what was read is safe
  130 interrupted; what was read is safe: unread, or in the outbox
"""


class UsageError(ConfigError):
    """The command line is wrong."""


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see --help)")


def build_parser():
    """Return the command-line parser."""
    parser = ArgumentParser(
        prog="authwatch",
        description="Send new SSH logins, failed attempts and sudo/su use"
        " from the authentication log to Pushover.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", metavar="PATH", help="config file (INI)")
    where = parser.add_mutually_exclusive_group()
    where.add_argument("--log", metavar="PATH", help="read this log file")
    where.add_argument("--journal-dir", metavar="DIR", help="read journal files in DIR")
    parser.add_argument(
        "--state-dir", metavar="DIR", help="where positions, the outbox and the quota are kept"
    )
    parser.add_argument("--from-start", action="store_true", help="read the log from its beginning")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be sent; send nothing, store nothing",
    )
    parser.add_argument(
        "--json", action="store_true", help="with --dry-run: print events as JSON lines"
    )
    parser.add_argument(
        "--test-notification",
        action="store_true",
        help="send one message to check the Pushover settings, print Pushover's answer",
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="say what happens")
    loudness.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.add_argument("--version", action="version", version=f"authwatch {__version__}")
    return parser


def one_line(error):
    """Given an exception or text, return it as a single line."""
    return " ".join(str(error).split())


def command_line_overrides(options):
    """Given parsed options, return the Config fields they override."""
    overrides = {"state_dir": options.state_dir}
    if options.log:
        overrides.update(source_type="file", log_path=options.log)
    if options.journal_dir:
        overrides.update(source_type="journald", journal_dir=options.journal_dir)
    return overrides


def send_test_notification(config, stdout, session_factory):
    """Given the Config, an output stream and a way to get an HTTP session,
    send one message that says this host can reach its admin and print
    Pushover's answer; return ExitStatus.OK.

    Raise ConfigError if Pushover refused a setting, DeliveryError if it did
    not accept the message for another reason.
    """
    host = os.uname().nodename
    message = Message(
        host, f"{host}: authwatch test", f"authwatch on {host} can reach you.", 0, None
    )
    quota = {}
    answer = send_message(session_factory(), config, message, quota.update)
    stdout.write(f"Pushover accepted the test message: {json.dumps(answer)}\n")
    if quota:
        stdout.write(f"{quota['remaining']} of {quota['limit']} messages left this month\n")
        try:  # kept for the quota reserve, as from every answer
            prepare_state_dir(config.state_dir)
            store_quota(config.state_dir, quota)
        except StateError as error:
            log.warning("%s", error)
    return ExitStatus.OK


def run(options, config, stdout, now, session_factory):
    """Given parsed options, the Config, an output stream, the current local
    time and a way to get an HTTP session, do one run; return its ExitStatus.

    Raise AuthwatchError on any failure; what was read stays safe: either
    unread, or in the outbox.
    """
    source = open_source(config, options.from_start)
    log.info("reading %s (source type %s)", source.describe(), config.source_type)
    if options.dry_run:
        return dry_run(options, config, source, stdout, now)
    prepare_state_dir(config.state_dir)
    with run_lock(config.state_dir) as locked:
        if not locked:
            log.info("another authwatch run holds %s: leaving the work to it", config.state_dir)
            return ExitStatus.OK
        outbox = read_outbox(config.state_dir)
        # finish a run that stopped between storing its messages and its position
        store_positions_if_changed(outbox.positions)
        messages = new_messages(config, source, now, outbox.notices)
        if messages or outbox.notices:
            # The events are safe in the outbox before the position moves on...
            queued = fold_messages(outbox.messages + messages, config.alerts.max_messages)
            write_outbox(config.state_dir, Outbox(queued, [], source.positions()))
            source.save()
            # ...and once it has, the outbox must not carry it into a later run.
            write_outbox(config.state_dir, Outbox(queued, [], {}))
        else:
            log.info("nothing new to send")
            source.save()
        deliver(config.state_dir, session_factory, config, int(now.timestamp()))
    return ExitStatus.OK


def config_noise(config):
    """Given the Config, return its noise test: the built-in noise (unless
    default_ignore is off) and [filter] ignore."""
    return compile_noise(DEFAULT_NOISE if config.default_ignore else (), config.ignore)


def new_messages(config, source, now, notices):
    """Given the Config, the source, the current local time and notices kept
    from an earlier run, read what is new and return the Messages it makes.
    """
    events = understand(source.records(now), config_noise(config))
    local_host = os.uname().nodename
    summaries = summarise(events, local_host, config.alerts.allow)
    return plan_messages(summaries, source.notices + notices, local_host, config.alerts)


def dry_run(options, config, source, stdout, now):
    """Given parsed options, the Config, the source, an output stream and the
    current local time, print what a run would send (or, with --json, each
    event); store nothing.  Return ExitStatus.OK.
    """
    if options.json:
        for event in understand(source.records(now), config_noise(config)):
            stdout.write(event_json(event) + "\n")
        return ExitStatus.OK
    state_dir = config.state_dir
    outbox = read_outbox(state_dir, move_damaged=False)
    messages = new_messages(config, source, now, outbox.notices)
    low = quota_is_low(read_quota(state_dir), config.alerts.quota_reserve, int(now.timestamp()))
    queued = fold_messages(outbox.messages + messages, config.alerts.max_messages)
    for message in queued if low else release_held(queued):  # as deliver() will
        held = message.held or (low and message.priority < 1)
        stdout.write(format_message(message._replace(held=held)) + "\n")
    log.info("dry run: nothing sent or stored")
    return ExitStatus.OK


def main(argv=None, *, stdout=None, stderr=None, environ=None, clock=None, session_factory=None):
    """Given command-line arguments (default sys.argv[1:]) and, for tests, the
    streams, environment, a clock returning the current local time and an
    HTTP session factory, run authwatch; return the exit code.
    """
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environ = os.environ if environ is None else environ
    clock = clock or (lambda: datetime.datetime.now().astimezone())
    log.stream, log.level = stderr, Reporter.NORMAL
    try:
        try:
            with contextlib.redirect_stdout(stdout):
                options = build_parser().parse_args(argv)
        except SystemExit as exit:  # --help and --version
            return exit.code
        log.level = (
            Reporter.VERBOSE if options.verbose else Reporter.QUIET if options.quiet else log.level
        )
        if options.json and not options.dry_run:
            raise UsageError("--json goes with --dry-run (see --help)")
        if options.test_notification and options.dry_run:
            raise UsageError("--test-notification sends: it does not go with --dry-run")
        config_path = find_config_file(options.config, environ)
        log.info("config: %s", config_path or "none")
        config = load_config(
            config_path,
            environ,
            command_line_overrides(options),
            need_pushover=not options.dry_run,
        )
        session_factory = session_factory or new_http_session
        if options.test_notification:
            return send_test_notification(config, stdout, session_factory)
        return run(options, config, stdout, clock(), session_factory)
    except AuthwatchError as error:
        for line in str(error).splitlines():
            stderr.write(f"authwatch: error: {line}\n")
        return error.exit_status
    except KeyboardInterrupt:
        stderr.write(
            "authwatch: error: interrupted; what was read is safe: unread, or in the outbox\n"
        )
        return ExitStatus.INTERRUPTED
    except Exception as error:  # noqa: BLE001 (a bug: one line for cron's mail; -v: details)
        if log.level >= Reporter.VERBOSE:
            import traceback

            traceback.print_exc(file=stderr)
        stderr.write(
            f"authwatch: error: internal error, what was read is safe: {type(error).__name__}:"
            f" {one_line(error)} (run with -v for details)\n"
        )
        return ExitStatus.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
