#!/usr/bin/env python3
"""authwatch: push a message to your phone when someone logs in, or tries to.

Run from cron every few minutes.  Each run reads only what is new in the
authentication log (or the systemd journal), drops the noise, understands
what is left (SSH logins, failed attempts, sudo and su, account changes) and
sends a few short messages to Pushover.  Messages wait in an outbox until
Pushover has accepted them, so nothing read is ever lost.

The module reads top to bottom, a section each: errors, exit codes and
what is said on stderr; Pushover's API; configuration; understanding log
lines (pure); knowing the usual logins (pure); building messages (pure);
reading the log and the journal; where an address is; state; delivery; one
run; setting up; and the command line.
"""

from __future__ import annotations

import argparse
import configparser
import contextlib
import datetime
import enum
import errno
import fcntl
import functools
import json
import os
import re
import stat
import sys
import time
import zlib
from collections import Counter, OrderedDict
from typing import NamedTuple

import authwatch_rules

__version__ = "0.1.0"


### Errors, exit codes and what is said on stderr ###########################


class ExitStatus(enum.IntEnum):
    """The exit codes of a run; EXIT_MEANINGS says what each means."""

    OK = 0
    DELIVERY_FAILED = 1
    CONFIG_ERROR = 2
    SOURCE_ERROR = 3
    STATE_ERROR = 4
    QUOTA_WAIT = 5
    INTERNAL_ERROR = 70  # EX_SOFTWARE from sysexits.h
    INTERRUPTED = 130


# what --help and the README say of each exit code
EXIT_MEANINGS = {
    ExitStatus.OK: "all new events delivered, or nothing new (prints nothing but warnings)",
    ExitStatus.DELIVERY_FAILED: "delivery to Pushover failed; the events are sent again next run",
    ExitStatus.CONFIG_ERROR: (
        "usage or configuration error, or Pushover refused the token or user key"
    ),
    ExitStatus.SOURCE_ERROR: "the log or the journal cannot be read",
    ExitStatus.STATE_ERROR: "the state directory or a state file cannot be used",
    ExitStatus.QUOTA_WAIT: (
        "messages wait for Pushover's quota (used up, below the reserve, or today's budget"
        " spent); they go when it allows"
    ),
    ExitStatus.INTERNAL_ERROR: "internal error (a bug: please report it); what was read is safe",
    ExitStatus.INTERRUPTED: (
        "interrupted (Ctrl-C, SIGTERM); what was read is safe: unread, or in the outbox"
    ),
}


class AuthwatchError(Exception):
    """A failure to report in one line and turn into an exit code."""

    exit_status = ExitStatus.CONFIG_ERROR


class ConfigError(AuthwatchError):
    exit_status = ExitStatus.CONFIG_ERROR


class UsageError(ConfigError):
    """The command line is wrong."""


class SourceError(AuthwatchError):
    exit_status = ExitStatus.SOURCE_ERROR


class StateError(AuthwatchError):
    exit_status = ExitStatus.STATE_ERROR


class DeliveryError(AuthwatchError):
    exit_status = ExitStatus.DELIVERY_FAILED


class PushoverRefused(DeliveryError):
    """Pushover refused one message for what it holds (a 4xx): it is dropped."""


class QuotaUsedUp(DeliveryError):
    """Pushover refused a message for want of quota (a 429): nothing goes until its reset."""


class QuotaWait(AuthwatchError):
    """Messages wait in the outbox for Pushover's quota."""

    exit_status = ExitStatus.QUOTA_WAIT


def one_line(error):
    """Given an exception or text, return it as a single line."""
    return " ".join(str(error).split())


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
        """Given what authwatch does (%-style, with args), say it with -v."""
        if self.level >= self.VERBOSE:
            self.say(text % args if args else text)

    def warning(self, text, *args):
        """Given what the admin should know (%-style, with args), say it unless -q."""
        if self.level >= self.NORMAL:
            self.say(text % args if args else text)

    def error(self, text):
        """Given an error's text, say each of its lines as an error."""
        for line in text.splitlines():
            self.say(f"error: {line}")

    def say(self, text):
        """Given a line, write it to the stream, as authwatch's."""
        self.stream.write(f"authwatch: {text}\n")


report = Reporter()  # what authwatch says on stderr


### Pushover's API ##########################################################

DEFAULT_API_URL = "https://api.pushover.net/1/messages.json"
PUSHOVER_KEY = re.compile(r"[A-Za-z0-9]{30}")  # an application token or a user key
# Pushover's limits on a message's fields (https://pushover.net/api)
MAX_TITLE = 250
MAX_MESSAGE = 1024
MAX_URL = 512
MAX_URL_TITLE = 100
MAX_SOUND = 64
MAX_DEVICE = 250
MIN_RETRY = 30  # seconds between the repeats of an emergency message
MAX_EXPIRE = 10800  # seconds an emergency message is repeated at the most


### Configuration ############################################################

DEFAULT_LOG_PATHS = ("/var/log/auth.log", "/var/log/secure")
CONFIG_PATHS = ("~/.config/authwatch/authwatch.ini", "/etc/authwatch/authwatch.ini")
SOURCE_TYPES = ("auto", "file", "journald")

FAILURE_KINDS = ("login_failed", "invalid_user", "probe")
# What [priority] sets: each kind of event that the rules find, and "other"
# (kinds "noise" and "connection" are dropped; "forged" takes its pretence's),
# and login_new, a login that the memory of logins does not know.  Pushover's
# defaults: new logins stand out, usual ones and the rest are normal,
# failures are quiet.
DEFAULT_PRIORITIES = {
    "login_new": 1,
    "login": 0,
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
    "source": ("type", "path", "journal_dir", "max_read"),
    "state": ("dir",),
    "filter": ("ignore", "default_ignore"),
    "alerts": ("max_messages", "failure_threshold", "quota_reserve", "retry", "expire"),
    "priority": tuple(DEFAULT_PRIORITIES),
    "allow": ("networks", "users", "keys", "known_priority"),
    "logins": ("forget_after",),
    "geoip": ("city_db", "asn_db"),
}
INSTALL_MAXMINDDB = "pip install 'authwatch[geoip]', or apt install python3-maxminddb"
# What a scheduled run reads at most ([source] max_read, --max-read), far more
# than a busy server writes in five minutes: a backlog is read in steps.
DEFAULT_MAX_READ = 256 * 1024 * 1024
SIZE = re.compile(r"(?P<number>\d{1,15})(?P<unit>[KMG]?)", re.IGNORECASE)
SIZE_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
MIN_READ = 64 * 1024  # a smaller budget: one line at a time


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


class GeoIP(NamedTuple):
    """The MaxMind DB files that say where an address is (None: not used)."""

    city_db: str | None = None  # GeoLite2-City, GeoLite2-Country, DB-IP's city or country lite
    asn_db: str | None = None  # GeoLite2-ASN, DB-IP's ASN lite


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
    geoip: GeoIP = GeoIP()
    forget_after: int = 400  # days after which a login's origin is forgotten
    max_read: int | None = DEFAULT_MAX_READ  # bytes a scheduled run reads at most; None: all


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


PLAIN_HOST = re.compile(r"(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(?::\d{1,5})?")


def url_parts(url):
    """Given a URL, return (scheme, host) as any HTTP library reads it, or
    (None, None) when it is no plain http(s) URL: user information, a query,
    a fragment, a backslash or white space may be read differently by
    different parsers (the host one checks is not the host one sends the
    token to), and Pushover's API needs none of them.
    """
    from urllib.parse import urlsplit

    if any(char in url for char in "@?#\\") or not url.isprintable() or " " in url:
        return None, None
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 (raises ValueError for a port that is no port)
    except ValueError:
        return None, None
    if parts.scheme.lower() not in ("http", "https") or not PLAIN_HOST.fullmatch(parts.netloc):
        return None, None
    return parts.scheme.lower(), parts.hostname


def is_loopback_host(host):
    """Given a URL's host name, return whether it names this machine's loopback."""
    import ipaddress

    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def read_config_text(path, text=None):
    """Given a config file path (or None) and, when it is not in the file
    (yet), its text, return a ConfigParser holding it.

    Raise ConfigError if the file cannot be read or parsed; the message names
    the line but never quotes it, since it may hold a secret.
    """
    # No [DEFAULT] magic: such a section is reported as unknown like any other.
    parser = configparser.ConfigParser(interpolation=None, default_section="\0")
    if path is None:
        return parser
    try:
        if text is not None:
            parser.read_string(text, source=path)
        else:
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
        """Given where a problem is and what it is, note it."""
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
        """Return a value as written, or the default."""
        return self.parser.get(section, key, fallback=default)

    def choice(self, section, key, choices, default):
        """Return a value that must be one of choices, or the default."""
        value = self.text(section, key, default)
        if value not in choices:
            self.problem(section, key, f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def boolean(self, section, key, default):
        """Return a yes/no value as a bool, or the default."""
        try:
            return self.parser.getboolean(section, key, fallback=default)
        except ValueError:
            self.problem(section, key, "must be yes or no")
            return default

    def lines(self, section, key):
        """Return a value of one item per line, without blank lines."""
        text = self.text(section, key, "")
        return tuple(line.strip() for line in text.splitlines() if line.strip())

    def words(self, section, key):
        """Return a list value: words separated by commas, spaces or lines."""
        return tuple(self.text(section, key, "").replace(",", " ").split())

    def size(self, section, key, default):
        """Return a read budget in bytes (None: no limit; see read_size()), or
        the default."""
        value = self.text(section, key)
        if value is None:
            return default
        try:
            return read_size(value)
        except ValueError as error:
            self.problem(section, key, str(error))
            return default

    def integer(self, section, key, default, minimum, maximum=None):
        """Return a whole number from minimum to maximum (None: no limit), or
        the default."""
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


def read_size(text):
    """Given a read budget as the config and --max-read write it ("256M",
    "64K", "1G", a number of bytes; "0" or "off": no limit), return it in
    bytes, or None for no limit.

    Raise ValueError, saying what it must be, if it is none or too small.
    """
    match = SIZE.fullmatch(text.strip())
    if text.strip().lower() == "off" or (match and int(match["number"]) == 0):
        return None
    size = int(match["number"]) * SIZE_UNITS[match["unit"].lower()] if match else 0
    if size < MIN_READ:
        raise ValueError(f"must be 64K or more (K, M, G: KiB, MiB, GiB), 0 or off, not {text!r}")
    return size


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


def load_config(path, environ, overrides, need_pushover, text=None, where=None):
    """Given a config file path (or None), the environment, the command-line
    overrides (a dict of Config field names), whether Pushover keys are
    needed, for a config not written yet its text, and where the databases
    it names are (a function of their paths: under setup's --root; None:
    where they say), return a validated Config.

    Raise ConfigError listing every problem found, each with its location;
    StateError for a database that setup does not follow (see
    SetupPaths.inside()).
    """
    reader = ConfigReader(read_config_text(path, text), path or "config")
    reader.check_names(CONFIG_KEYS)

    if (
        path is None
        and need_pushover
        and not (environ.get("AUTHWATCH_PUSHOVER_TOKEN") and environ.get("AUTHWATCH_PUSHOVER_USER"))
    ):
        looked = ", ".join(["$AUTHWATCH_CONFIG"] + [expand_home(p, environ) for p in CONFIG_PATHS])
        raise ConfigError(
            f"no config file found (looked for {looked}): copy config.example.ini to one of"
            " them and set [pushover] token and user, or name one with --config"
        )
    token = pushover_key(reader, environ, "token", "AUTHWATCH_PUSHOVER_TOKEN", need_pushover)
    user = pushover_key(reader, environ, "user", "AUTHWATCH_PUSHOVER_USER", need_pushover)
    if text is None and path and reader.text("pushover", "token") and os.stat(path).st_mode & 0o004:
        report.warning("%s holds the Pushover token and every user may read it: chmod o-r it", path)

    api_url = reader.text("pushover", "api_url", DEFAULT_API_URL)
    scheme, host = url_parts(api_url) if api_url != DEFAULT_API_URL else ("https", None)
    if scheme is None:
        reader.problem(
            "pushover",
            "api_url",
            f"not a plain http(s) URL (no user, query, fragment or backslash): {api_url!r}",
        )
    elif scheme != "https" and not is_loopback_host(host):
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
    geoip = read_geoip(reader, where)
    for section, key in (("source", "path"), ("source", "journal_dir"), ("state", "dir")):
        if "\0" in (reader.text(section, key) or ""):
            reader.problem(section, key, "not a path")
    forget_after = reader.integer(
        "logins", "forget_after", Config._field_defaults["forget_after"], 1
    )
    max_read = reader.size("source", "max_read", DEFAULT_MAX_READ)

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
        geoip=geoip,
        forget_after=forget_after,
        max_read=max_read,
    )


def read_message_options(reader):
    """Given a ConfigReader, return the optional Pushover fields it sets, as
    Pushover takes them, noting problems (Pushover's limits) on the reader.
    """
    options = {}
    for key, pattern, limit in (
        ("sound", r"[A-Za-z0-9_-]+", MAX_SOUND),
        ("device", r"[A-Za-z0-9_-]+(?:,[A-Za-z0-9_-]+)*", MAX_DEVICE),
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
    for key in priorities:
        priorities[key] = reader.integer("priority", key, priorities[key], -2, 2)
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
        retry=setting("retry", MIN_RETRY),
        expire=setting("expire", MIN_RETRY, MAX_EXPIRE),
        allow=read_allow(reader),
        known_priority=known_priority,
    )


def read_geoip(reader, where=None):
    """Given a ConfigReader and where the databases it names are (see
    load_config()), return the GeoIP databases it names, noting a database
    that cannot be read, or a missing maxminddb package.  The package is
    only looked for, not imported: a run with nothing new needs none of it.
    """
    paths = {}
    for key in GeoIP._fields:
        path = reader.text("geoip", key) or None
        if path:
            try:
                path = where(path) if where else path
                open_regular(path).close()
            except OSError as error:
                reader.problem("geoip", key, f"cannot read {path}: {error.strerror}")
            except ValueError:  # a NUL in the path
                reader.problem("geoip", key, "not a path")
        paths[key] = path
    if any(paths.values()):
        from importlib.util import find_spec

        try:
            missing = find_spec("maxminddb") is None
        except ValueError:  # set to None in sys.modules: blocked
            missing = True
        if missing:
            reader.problems.append(
                f"{reader.where}: [geoip] needs the maxminddb package: {INSTALL_MAXMINDDB}"
            )
    return GeoIP(**paths)


def read_allow(reader):
    """Given a ConfigReader, return the Allow list it sets, noting problems."""
    networks = []
    for text in reader.words("allow", "networks"):
        import ipaddress  # only when there are networks: a quiet run needs none

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
# message; noise is dropped; the message is then matched against the RULES
# of its program; the lines of one network connection lend each other its
# address.  The rules are written from the daemons' own log calls (the
# source file and versions stand beside each rule, and beside each of its
# samples in tests/samples/).  Every rule is anchored, captures only what
# the daemon itself writes around attacker-controlled text (a user name may
# contain "from 10.0.0.1 port 22"), and runs in time linear in the line.

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
TAG = (  # GDM names itself "gdm-password]", systemd's user manager "(systemd)"
    r"\(?(?P<program>[\w./-]+)[\])]?(?:\((?P<module>pam_\w+)\))?(?:\[(?P<pid>\d{1,10})\])?"
    r": (?P<message>.*)"
)
SYSLOG_LINE = re.compile(
    f"{PRI}{WEEKDAY}(?:(?P<classic>{CLASSIC_STAMP})(?:\\.\\d+)?(?: (?P<year>\\d{{4}}))?"
    f"|(?P<iso>{ISO_STAMP}))"
    f" (?:(?P<host>[^\\s\\[]*[^\\s\\[:]) )?(?:{FACILITY_LEVEL} )?{TAG}"
)
HEADER_PARTS = ("classic", "year", "iso", "host", "program", "module", "pid", "message")
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
# dropbear -E (its stderr in the journal): "[child pid] Nov 26 19:24:53 message"
STDERR_STAMP = re.compile(r"\[(?P<pid>\d{1,10})\] [A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d ")
# rsyslog's $RepeatedMsgReduction: one line for the same message written N times
COUNT = r"(?P<count>[1-9]\d{0,8})"  # how many times: never 0, never more than fits
REPEATED = re.compile(f"message repeated {COUNT} times: \\[ ?(?P<message>.*)\\]")
# sysklogd's and busybox's: the host's previous message, N more times
LAST_REPEATED = re.compile(f"(?:.* )?[Ll]ast message repeated {COUNT} times?")
# syslog-ng's: "Last message 'Failed password for ' repeated 3 times, suppressed by
# syslog-ng on web1" (the start of the message before, under its program's tag)
SUPPRESSED = re.compile(
    f"Last message '.*' repeated {COUNT} times?, suppressed by syslog-ng on \\S+"
)
MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), 1
    )
}
ISO_PARTS = re.compile(r"(?P<seconds>.{19})(?:\.(?P<fraction>\d+))?(?P<zone>Z|[+-]\d\d:?\d\d)?")

# The rules: the forms of line that daemons write, and what each means, are
# data of their own, a package beside this module (authwatch_rules/, one
# module per daemon family); here they are compiled into what a line costs.
RULES = authwatch_rules.RULES
PROGRAMS = authwatch_rules.PROGRAMS
FIELDS = authwatch_rules.FIELDS  # what rules capture, in the order classify() takes them
# the programs some rule names; every other program has the same rules
RULE_PROGRAMS = frozenset(program for each in RULES for program in each.programs or ())
ANY_PROGRAM = "\0"  # the key of any program that no rule names: no name is NUL
# The rules by their roles (see authwatch_rules.grammar.Rule):
CONNECTION_ENDS = frozenset(each.name for each in RULES if each.ends)
ALONE_PROBES = {each.name: each.alone for each in RULES if each.alone}  # rule -> its programs
NAMED_BY_LISTENER = frozenset(each.name for each in RULES if each.about_pid)
LISTENER_RULES = frozenset(each.name for each in RULES if each.listener)
ECHO_RULES = frozenset(each.name for each in RULES if each.echo)
UNCLEAR_RULES = frozenset(each.name for each in RULES if each.unclear)
UID0_RULES = frozenset(each.name for each in RULES if each.uid0)
# The programs by what they are (see authwatch_rules.grammar.Program):
CONNECTION_PROGRAMS = tuple(name for name, each in PROGRAMS.items() if each.connection)
ONE_ATTEMPT_PROGRAMS = tuple(
    name for name, each in PROGRAMS.items() if each.connection or each.attempt
)
SAME_PROCESSES = {name: each.pids_of for name, each in PROGRAMS.items() if each.pids_of}
ECHOING_PROGRAMS = tuple(name for name, each in PROGRAMS.items() if each.echoes)
CONSOLE_PROGRAMS = tuple(name for name, each in PROGRAMS.items() if each.console)
SSHD = authwatch_rules.openssh.SSHD


class Writer(NamedTuple):
    """Who wrote a journal entry whose uid is not root's, as the kernel and
    journald say (see journal_writer())."""

    uid: int  # _UID: the kernel's, from the socket's credentials
    name: str | None  # what journald named (_COMM, or _EXE's path); None: the sender had gone
    path: str | None  # _EXE; None: the sender had exited before journald looked
    setuid: bool  # path is one of its program's binaries, installed setuid root
    # a user could have mounted another program at path (in a namespace of their own)
    mountable: bool
    # uid is sshd's privilege-separation user's; None: cannot be told (a system
    # user of another machine)
    privsep: bool | None


class Record(NamedTuple):
    """One log entry, split into its syslog parts; line is the whole raw line."""

    time: datetime.datetime | None
    host: str | None
    program: str | None
    pid: int | None
    message: str
    line: str
    count: int = 1  # a line that stands for N (rsyslog's "message repeated N times")
    again: bool = False  # it stands for the line before, count times
    writer: Writer | None = None  # a journal entry's, when its uid is not root's


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
    pretends: str | None = None  # a forged line: the kind of event it pretends to be
    # a forged line: the program that wrote it and its uid; an unverified one: its uid
    forger: str | None = None
    # a journal entry of a setuid program whose writer the kernel attested
    # (_UID) but journald could not name (_EXE): reported, never learned
    unverified: bool = False


# fmt: off
JSON_FIELDS = (
    "time", "host", "program", "pid", "kind", "rule", "user", "target", "ip", "port", "method",
    "command", "count", "forger", "unverified", "line",
)
# fmt: on

# What a run keeps beyond the line it is reading is cut to this many
# characters: an Event's line, message and command (Pushover shows 1,024
# characters in all, and each line of a message is cut to MAX_LINE_LENGTH),
# and each name in it: a user, target, address, host, program, terminal,
# method, key (sshd itself writes most user names as %.100s).
KEPT_TEXT = 512
KEPT_NAME = 256
# fmt: off
KEPT_NAMES = (
    "host", "program", "user", "target", "ip", "method", "key_type", "fingerprint", "tty", "forger",
)
# fmt: on
CUT = re.compile(r"…\[\+([\d,]{1,30}) bytes\]")  # what cut_note() writes


def cut_note(count):
    """Given how many bytes of a text were cut, return what says so after its
    head: "…[+61,234 bytes]"."""
    return f"…[+{count:,} bytes]"


def kept_text(text, limit):
    """Given text (or None) and how many characters of it may be kept, return
    it, or its first characters and a note of how many bytes were cut, in all
    (a note of an earlier cut at its end counts too)."""
    if text is None or len(text) <= limit:
        return text
    rest = text[limit:]
    cut = len(rest.encode("utf-8", "replace"))
    earlier = CUT.search(rest, max(len(rest) - 48, 0)) if rest.endswith(" bytes]") else None
    if earlier and earlier.end() == len(rest):
        cut += int(earlier[1].replace(",", "")) - len(earlier[0].encode())
    return text[:limit] + cut_note(cut)


def kept_event(event):
    """Given an Event, return it as a run keeps it: its line, message and
    command cut to KEPT_TEXT characters, each name to KEPT_NAME (see
    kept_text()).  Every field is a piece of the line or the message, but
    the journal's forger."""
    if len(event.line) <= KEPT_NAME >= len(event.message) and event.forger is None:
        return event  # as most are
    return event._replace(
        line=kept_text(event.line, KEPT_TEXT),
        message=kept_text(event.message, KEPT_TEXT),
        command=kept_text(event.command, KEPT_TEXT),
        **{name: kept_text(getattr(event, name), KEPT_NAME) for name in KEPT_NAMES},
    )


def kept_size(value):
    """Given what a run keeps (text, a number, a tuple or list of them, an
    Event), return the bytes it takes, about: its objects' own sizes."""
    if isinstance(value, (tuple, list)):
        return sys.getsizeof(value) + sum(kept_size(item) for item in value)
    return sys.getsizeof(value)


class Room:
    """How many bytes (see kept_size()) one kind of what a run keeps may
    still take, for all hosts together: many hosts do not multiply it."""

    def __init__(self, size):
        self.left = size

    def take(self, size):
        """Given the bytes that what is to be kept takes, return whether there
        is room for it, taking the room if so."""
        if size > self.left:
            return False
        self.left -= size
        return True

    def give(self, size):
        """Given the bytes that what is no longer kept took, give them back."""
        self.left += size


SECONDS = [datetime.timedelta(seconds=second) for second in range(60)]


@functools.lru_cache(maxsize=256)
def classic_time(text, now, named_year=None):
    """Given a classic syslog time stamp ("Nov 26 19:24:53", "Nov 3 04:05:06"),
    the current local time and the year if the line names one, return the
    aware datetime it names: without a year, take the one that puts it not
    more than a day in the future.  Return None if it is no date.  (Cached:
    neighbouring lines share it.)
    """
    minute = classic_minute(text[:-3], now, named_year)
    second = int(text[-2:])
    if minute is None or second > 59:
        return None
    return minute + SECONDS[second]


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
        # in the machine's time zone, in which syslog wrote it (TZ, like the
        # clock, is the process's: a test sets it for the whole process)
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
        classic, year, iso, host, program, module, pid, message = match.group(*HEADER_PARTS)
        stamp = classic_time(classic, now, year) if classic else iso_time(iso)
        if host and "." in host and NOT_A_HOST.fullmatch(host):
            host = None
        if module:  # "sshd(pam_unix)[1]: authentication failure; ..." (Linux-PAM < 0.99)
            message = f"{module}({program}): {message}"
        if message[:1] in "[mL":  # Solaris' message ID, "message repeated", "Last message"
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
    if any; "last message repeated N times" stands for the line before.
    """
    tag = HOST_AND_TAG.match(line)
    if tag:
        return record_of(None, tag["host"], tag["program"], tag["pid"], tag["message"], line)
    tag = TAG_INSIDE.search(line)
    if tag:
        return record_of(None, None, tag["program"], tag["pid"], tag["message"], line)
    repeated = LAST_REPEATED.fullmatch(line)
    if repeated:
        return Record(None, None, None, None, line, line, int(repeated["count"]), again=True)
    return Record(None, None, None, None, line, line)


def record_of(stamp, host, program, pid, message, line):
    """Given the parts of a syslog line (pid as text), return its Record,
    without the Solaris message ID or dropbear's own stamp in front of the
    message, with rsyslog's "message repeated N times: [ ... ]" as the
    message it repeats, N times, and syslog-ng's "Last message '...' repeated
    N times" as the line before, N times.
    """
    count = 1
    if message.startswith("Last message '"):
        suppressed = SUPPRESSED.fullmatch(message)
        if suppressed:
            return Record(stamp, host, None, None, message, line, int(suppressed["count"]), True)
    if message.startswith("["):
        prefix = SOLARIS_ID.match(message) or STDERR_STAMP.match(message)
        if prefix:
            message, pid = message[prefix.end() :], prefix.groupdict().get("pid") or pid
    if message.startswith("message repeated "):
        repeated = REPEATED.fullmatch(message)
        if repeated:
            message, count = repeated["message"], int(repeated["count"])
    pid = int(pid) if pid and pid.isdigit() else None
    return Record(stamp, host, program, pid, message, line, count)


def alternation(patterns):
    """Given regular expressions as strings, return one that matches any of them."""
    return "|".join(f"(?:{pattern})" for pattern in patterns)


@functools.cache
def ignored(patterns):
    """Given [filter] ignore patterns (a tuple), return a function that tells
    whether a tagged() line holds any of them, or None when there are none.
    Compiled on first use: a run with nothing new needs none.
    """
    return re.compile(alternation(patterns)).search if patterns else None


def matcher(program, first):
    """Given a line's program (None: not known) and the first character of
    its message, return matcher_for() them: a program that no rule names is
    any such program, and a first character that no rule knows is "", so
    that what is compiled and kept stays bounded whatever a log holds.
    """
    key = program if program is None or program in RULE_PROGRAMS else ANY_PROGRAM
    return matcher_for(key, first if first in rules_for(key)[1] else "")


@functools.cache
def rules_for(program):
    """Given a program name (None: not known; ANY_PROGRAM: one that no rule
    names), return its rules in order and the characters that begin the
    messages that at least one of them knows by its first character.
    """
    if program is None:  # only the rules whose own words say what a line is
        rules = [each for each in RULES if not re.fullmatch(each.pattern, "")]
    else:
        rules = [each for each in RULES if each.programs is None or program in each.programs]
    known = set().union(*(first_characters(each.pattern) or () for each in rules))
    return tuple(rules), frozenset(known)


@functools.cache
def matcher_for(program, first):
    """Given a program name (None: not known) and the first character of a
    message ("" for one that no rule knows by its first character), return
    (match, rules): one compiled alternation of the patterns of the rules
    that may match such a message, in order, that fully matches it, and for
    each rule the rule and the group names of its FIELDS.  The winning rule
    is the first branch that matches, found by the name of the empty group
    that ends it: one match, in C, however many rules there are.  Compiled
    on first use, once per program and first character.
    """
    branches, named = [], []
    for index, candidate in enumerate(
        each
        for each in rules_for(program)[0]
        if first in (first_characters(each.pattern) or (first,))
    ):
        fields = re.findall(r"\(\?P<(\w+)>", candidate.pattern)
        pattern = re.sub(r"\(\?P([<=])(\w+)", rf"(?P\1r{index}_\2", candidate.pattern)
        branches.append(f"(?:{pattern})(?P<r{index}>)")
        groups = tuple(f"r{index}_{field}" if field in fields else "absent" for field in FIELDS)
        named.append((candidate, groups))
    branches.append("(?P<absent>(?!))")  # never matches: the fields a rule does not have
    return re.compile("|".join(branches)).fullmatch, tuple(named)


@functools.cache
def first_characters(pattern):
    """Given a rule's pattern, return the characters that a message it matches
    may begin with (a frozenset), or None when that may be any character.
    Read from Python's own parse of the pattern.
    """
    try:
        from re import _parser as parser  # Python 3.11 and later
    except ImportError:
        import sre_parse as parser
    characters, empty = starts_of(parser.parse(pattern))
    return None if characters is None or empty else frozenset(characters)


def starts_of(items):
    """Given parsed regular expression items, return (the characters they
    may begin with, or None for any; whether they may match nothing).
    """
    characters = set()
    for op, value in items:
        kind = str(op)
        if kind == "LITERAL":
            return characters | {chr(value)}, False
        if kind == "IN":
            found = set()
            for member, argument in value:
                if str(member) == "LITERAL":
                    found.add(chr(argument))
                elif str(member) == "RANGE" and argument[1] - argument[0] < 128:
                    found.update(map(chr, range(argument[0], argument[1] + 1)))
                else:  # a negated set, a category such as \S, a wide range
                    return None, False
            return characters | found, False
        if kind in ("AT", "ASSERT", "ASSERT_NOT"):  # they take no character
            continue
        if kind == "SUBPATTERN" and not value[1] & re.IGNORECASE:
            inner, empty = starts_of(value[-1])
        elif kind == "BRANCH":
            parts = [starts_of(branch) for branch in value[1]]
            inner = None if any(part is None for part, _ in parts) else set()
            inner = inner if inner is None else inner.union(*(part for part, _ in parts))
            empty = any(empty for _, empty in parts)
        elif kind in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"):
            inner, empty = starts_of(value[2])
            empty = empty or value[0] == 0
        else:
            return None, False
        if inner is None:
            return None, False
        characters |= inner
        if not empty:
            return characters, False
    return characters, True


def classify(record):
    """Given a Record, return its Event: the first rule for its program that
    matches the whole message (every rule when the program is not known), or
    kind 'other'; built-in noise is one Event per rule, of kind 'noise'.
    """
    match, rules = matcher(record.program, record.message[:1])
    found = match(record.message)
    if not found:
        return other_event(record)
    matched, groups = rules[int(found.lastgroup[1:])]
    if matched.kind == "noise":
        return noise_event(matched.name)
    values = found.group(*groups)
    if matched.fixed:
        values = tuple(
            dict(matched.fixed).get(field) or value for field, value in zip(FIELDS, values)
        )
    user, target, ip, port, method, command, key_type, fingerprint, tty = values[:9]
    service, ruser, pid, count = values[9:]  # see FIELDS
    user = user or None  # an empty capture is no value
    if service in ("su", "su-l") and ruser:
        user, target = ruser, user  # su's PAM: ruser ran it, user= is whom as
    elif service in ("sudo", "sudo-i"):
        user, target = ruser or user, None  # sudo's PAM asks for the caller's password
    elif not user and service:
        user = ruser or None  # a PAM failure without user= names the caller in ruser=
    connection = None
    if matched.name not in LISTENER_RULES and record.program in ONE_ATTEMPT_PROGRAMS:
        # the pid of the connection the line names, else its own
        connection = process_of(record.program, int(pid) if pid else record.pid)
    return Event(
        time=record.time,
        host=record.host,
        program=record.program,
        pid=record.pid,
        kind=matched.kind,
        line=record.line,
        message=record.message,
        rule=matched.name,
        user=user,
        target=target or None,
        ip=(plain_address(ip) if ":" in ip else ip) if ip else None,
        port=int(port) if port else None,
        method=method or None,
        command=command or None,
        key_type=key_type or None,
        fingerprint=fingerprint or None,
        tty=tty or None,
        connection=connection,
        count=record.count * max(1, int(count)) if count else record.count,
    )


def other_event(record):
    """Given a Record that no rule knows, return its Event of kind 'other'."""
    connection = None
    if record.program in ONE_ATTEMPT_PROGRAMS:
        connection = process_of(record.program, record.pid)
    return Event(
        time=record.time,
        host=record.host,
        program=record.program,
        pid=record.pid,
        kind="other",
        line=record.line,
        message=record.message,
        connection=connection,
        count=record.count,
    )


@functools.cache
def noise_event(rule):
    """Given a noise rule's name, return what classify() says of its lines:
    one Event for all of them, since they are dropped."""
    return Event(None, None, None, None, "noise", "", rule=rule)


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


def tagged(program, pid, message):
    """Given a line's program, pid (None: not shown) and message, return them
    as syslog writes them after the host: "program[pid]: message".  The text
    that [filter] ignore patterns are matched against, and an "Other:" line.
    """
    if program is None:
        return message
    if pid is None:
        return f"{program}: {message}"
    return f"{program}[{pid}]: {message}"


def events_of(records, ignore=(), builtin_noise=True):
    """Given Records, the [filter] ignore patterns and whether the built-in
    noise is dropped, yield the Event of every record that is not noise, each
    connection's address filled in (see follow_connections()).
    """
    return follow_connections(classify_all(records, ignored(tuple(ignore)), builtin_noise))


BLANK = " \t\x00"  # a line of nothing else says nothing: an empty line, a file's hole


def classify_all(records, ignore, builtin_noise):
    """Given Records, the [filter] ignore test (see ignored()) and whether the
    built-in noise is dropped, yield the Event of every record that is not
    noise (built-in noise that is kept is 'other'); "last message repeated N
    times" repeats the one before.
    """
    previous = None  # the Event of the line before, None if it was noise
    for record in records:
        if record.again:  # "last message repeated N times"
            if previous is not None:
                yield previous._replace(
                    time=record.time or previous.time, line=record.line, count=record.count
                )
            continue
        event = classify(record)
        if event.kind == "noise":
            if builtin_noise:
                previous = None
                continue
            event = other_event(record)  # kept: it shows as not understood
        elif record.writer and (event.kind in JUDGED_KINDS or event.kind == "connection"):
            event = judged(event, record.writer)
            if event is None:
                previous = None
                continue
        if (ignore and ignore(tagged(record.program, record.pid, record.message))) or (
            event.kind == "other" and not record.message.strip(BLANK)
        ):
            previous = None
            continue
        previous = event
        yield event


# The kinds of event that a journal entry must prove it was written by whom
# it claims (see judged()); a line of any other kind makes no such event.
JUDGED_KINDS = frozenset(
    ("login", "login_failed", "invalid_user", "probe")
    + ("sudo", "sudo_failed", "su", "su_failed", "account")
)
# The binaries that each program's lines come from, when they are not its name.
TRUSTED_COMMANDS = {
    "sshd": ("sshd", "sshd-session", "sshd-auth"),
    "sshd-session": ("sshd-session", "sshd-auth"),
    "sshd-auth": ("sshd-auth", "sshd-session"),
    "sudo": ("sudo", "sudo-rs"),
    "sudo-rs": ("sudo-rs", "sudo"),
    "dropbear": ("dropbear", "dropbearmulti"),
}
# fmt: off
# Where distributions install the setuid-root programs that write such lines,
# by which another machine's entries are judged (this machine's binaries are
# looked at): sudo (src/Makefile.in: 04755, in /usr/bin on Debian, Ubuntu,
# Fedora, RHEL, Arch, SUSE); sudo-rs (Debian 13, Ubuntu 24.04 and later:
# /usr/bin/sudo-rs, and sudo and su in /usr/lib/cargo/bin); su (util-linux
# login-utils/Makemodule.am and shadow src/Makefile.am: 4755, in /bin until
# /usr was merged); shadow's chfn, chsh, gpasswd, newgrp and passwd
# (src/Makefile.am: suidubins, 4755; chfn and chsh are util-linux's on Fedora);
# OpenDoas' doas; polkit's pkexec and polkit-agent-helper-1
# (meson_post_install.py: 4755; Debian /usr/lib/polkit-1, Fedora /usr/libexec);
# cockpit's cockpit-session (src/session/Makefile-session.am: 4750; Debian
# /usr/lib/cockpit, Fedora and RHEL /usr/libexec).
SETUID_PATHS = frozenset(
    [f"{folder}/{name}" for folder in ("/usr/bin", "/bin") for name in (
        "sudo", "sudo-rs", "su", "doas", "pkexec", "passwd", "chsh", "chfn", "gpasswd", "newgrp",
    )]
    + ["/usr/lib/cargo/bin/sudo", "/usr/lib/cargo/bin/su",
       "/usr/lib/polkit-1/polkit-agent-helper-1", "/usr/libexec/polkit-agent-helper-1",
       "/usr/lib/cockpit/cockpit-session", "/usr/libexec/cockpit-session"]
)
# fmt: on
SETUID_NAMES = frozenset(path.rsplit("/", 1)[1] for path in SETUID_PATHS)


def binaries_of(program):
    """Given a program's name in its lines, return the names of the binaries
    that write them."""
    return TRUSTED_COMMANDS.get(program, (program,))


def judged(event, writer):
    """Given the Event of a journal entry of a kind in JUDGED_KINDS (or of
    kind 'connection') and its Writer, whose uid is not root's, return the
    Event as the writer makes it: as it is when the program's setuid-root
    binary wrote it (the loader ignores LD_PRELOAD for it) and no user could
    have mounted another program at its path, or, for what OpenSSH's
    pre-authentication child writes itself (up to 5.8: not a login), sshd's
    privilege-separation user; marked unverified when that cannot be told
    (a setuid program gone before journald looked, or at a path a user may
    mount over, or another machine's system user for sshd), its forger
    saying why; else of kind 'forged'.  An
    event that is not proven follows no connection.  Return None for a line
    of kind 'connection' that is not proven: it would lend its address to a
    real connection, or count as a probe; sshd's session child writes such
    lines after a login, as the user who logged in.
    """
    child = event.program in SSHD and event.kind != "login" and writer.privsep is not False
    if (writer.setuid and not writer.mountable) or (child and writer.privsep):
        return event
    if event.kind == "connection":
        return None
    if writer.setuid:
        why = f" as {writer.path}, a path that a user may mount another program over"
    elif child:
        why = ", a system user of another machine"
    elif writer.path is None and SETUID_NAMES.intersection(binaries_of(event.program)):
        why = ", gone before journald looked"
    else:
        why = None
    if why:
        return event._replace(unverified=True, forger=f"uid {writer.uid}{why}", connection=None)
    return event._replace(
        kind="forged",
        pretends=event.kind,
        forger=f"{writer.name or 'a program that had exited'} (uid {writer.uid})",
        connection=None,
    )


RECENT_CONNECTIONS = 4096  # processes remembered (addresses, held echoes); their lines come close
# Failures that may wait for their connection's address, of all connections
# together, and the bytes they may take (see kept_size()): past either, the
# oldest go on without it.
WAITING_EVENTS = 4096
WAITING_BYTES = 4 * 1024 * 1024


def is_address(text):
    """Given an address or host name as a line names it, return whether it is
    an IP address (the daemon's own), not a name (which DNS, so its owner,
    chooses)."""
    return ":" in text or text.replace(".", "").isdigit()


def follow_connections(events):
    """Given Events in the order they were written, yield them with the
    address of their connection filled in where a line has none, and without
    the lines that only tell an address (kind 'connection').

    A line that names the address gives it to the connection's other lines:
    to the later ones at once, and to the earlier failures that wait for it
    (a bare "kex_exchange_identification: Connection closed by remote host"
    is followed by "Connection closed by ADDR port N").  A failure whose
    address never comes is yielded without one, at the latest at the end.
    A line of ALONE_PROBES that is all a connection wrote is a probe.
    Memory stays bounded: the oldest connections are forgotten first, and
    what waits is kept_event()s, at most WAITING_EVENTS in WAITING_BYTES.
    """
    addresses = {}  # connection -> (ip, port), the oldest first
    waiting = {}  # connection -> [(failure without an address, its size)], the oldest first
    waiting_count = waiting_bytes = 0
    for event in events:
        if event.connection is None or event.program not in CONNECTION_PROGRAMS:
            yield event
            continue
        host = event.host
        key = (
            host if host is None or len(host) <= KEPT_NAME else kept_text(host, KEPT_NAME),
            event.connection,
        )
        if (
            event.program in ALONE_PROBES.get(event.rule, ())
            and event.port
            and not event.user
            and key not in addresses
            and key not in waiting
        ):
            event = event._replace(kind="probe")
        known = addresses.get(key)
        if (
            known
            and event.ip
            and event.ip != known[0]
            and (event.rule in NAMED_BY_LISTENER or not is_address(event.ip))
        ):
            # what the connection's own lines said is surer than the listener's
            # line (OpenSSH 9.8 names its own address first) or a host name
            event = event._replace(ip=known[0], port=event.port or known[1])
        if event.ip:
            addresses.pop(key, None)  # put back last: the newest
            port = event.port or (known[1] if known and known[0] == event.ip else None)
            ip = event.ip if len(event.ip) <= KEPT_NAME else kept_text(event.ip, KEPT_NAME)
            addresses[key] = (ip, port)
            if len(addresses) > RECENT_CONNECTIONS:
                del addresses[next(iter(addresses))]
            if waiting:
                for failure, size in waiting.pop(key, ()):
                    waiting_count -= 1
                    waiting_bytes -= size
                    yield failure._replace(ip=ip, port=failure.port or port)
        elif key in addresses:
            ip, port = addresses[key]
            event = event._replace(ip=ip, port=event.port or port)
        elif event.kind in FAILURE_KINDS:
            event = kept_event(event)
            size = kept_size(event)
            waiting.setdefault(key, []).append((event, size))
            waiting_count += 1
            waiting_bytes += size
            while waiting_count > WAITING_EVENTS or waiting_bytes > WAITING_BYTES:
                oldest = next(iter(waiting))
                failure, size = waiting[oldest].pop(0)
                if not waiting[oldest]:
                    del waiting[oldest]
                waiting_count -= 1
                waiting_bytes -= size
                yield failure
            continue
        if event.rule in CONNECTION_ENDS:
            addresses.pop(key, None)  # its pid may serve another connection later
        if event.kind != "connection":
            yield event
    for failures in waiting.values():
        for failure, _ in failures:
            yield failure


### Knowing the usual logins (pure) #########################################
#
# authwatch remembers, per host and user, where each logged in from (the
# network, and its AS when an ASN database is configured) and with which key,
# and when.  A login from a network or AS that its user never logged in from,
# or with a key never used, is new; any other is familiar.  The memory is a
# dict: host -> user -> origin -> [first seen, last seen (Unix time), how
# many logins, what the place was called]; an origin is "net:203.0.113.0/24",
# "as:64500", "key:SHA256:...", "host:name" (a name that sshd's UseDNS wrote)
# or "local" (a terminal).

MEMORY_USERS = 1000  # users remembered, of all hosts: the least recently seen go first
MEMORY_ORIGINS = 50  # origins remembered per user: the least recently seen go first
MEMORY_BYTES = 4 * 1024 * 1024  # what they may take (see kept_size()): the least recent go first
# Addresses that say what they are without a lookup (RFC 1918, 6598, 4193;
# loopback; link-local): not Python's is_private, which also takes the
# documentation ranges for private.
SPECIAL_NETWORKS = (
    ("10.0.0.0/8", "private network"),
    ("172.16.0.0/12", "private network"),
    ("192.168.0.0/16", "private network"),
    ("100.64.0.0/10", "carrier-grade NAT"),
    ("fc00::/7", "private network"),
    ("127.0.0.0/8", "loopback"),
    ("::1/128", "loopback"),
    ("169.254.0.0/16", "link-local"),
    ("fe80::/10", "link-local"),
)


class Place(NamedTuple):
    """Where an address is: what the GeoIP databases say of it, or what kind
    of address it is."""

    country: str | None = None  # ISO 3166 code: "DE"
    city: str | None = None
    asn: int | None = None
    as_org: str | None = None
    special: str | None = None  # "private network", "loopback", "link-local"


class Verdict(NamedTuple):
    """What the memory of logins says of one login."""

    new: str | None  # what is new: "origin" or "key"; None: a familiar login
    note: str  # what was known, for the message


@functools.lru_cache(maxsize=1)
def special_networks():
    """Return SPECIAL_NETWORKS parsed, as (network, what it is) pairs."""
    import ipaddress

    return tuple((ipaddress.ip_network(text), name) for text, name in SPECIAL_NETWORKS)


def parsed_address(text):
    """Given an address as a line names it, return it parsed (an IPv4-mapped
    address as IPv4, without a zone), or None when it is no address."""
    import ipaddress

    try:
        address = ipaddress.ip_address(text.partition("%")[0])
    except ValueError:
        return None
    return getattr(address, "ipv4_mapped", None) or address


def special_address(ip):
    """Given an address, return what kind it is if it says so itself
    ("private network", "loopback", "link-local"), else None."""
    address = parsed_address(ip)
    if address is None:
        return None
    for network, name in special_networks():
        if address.version == network.version and address in network:
            return name
    return None


def network_of(ip):
    """Given an address, return its network as people group them: the /24
    of an IPv4 address, the /64 of an IPv6 one; None for no address."""
    import ipaddress

    address = parsed_address(ip)
    if address is None:
        return None
    if address.version == 6:  # an IPv4 client behind a translator: its own network
        if address in ipaddress.ip_network("64:ff9b::/96"):  # NAT64 (RFC 6052)
            address = ipaddress.ip_address(int(address) & 0xFFFFFFFF)
        else:
            address = (address.teredo or (None, None))[1] or address.sixtofour or address
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def place_text(place):
    """Given a Place, return it for people: "Berlin, DE · AS3320 Deutsche
    Telekom AG", "private network"; "" when nothing is known."""
    if place.special:
        return place.special
    where = ", ".join(filter(None, (place.city, place.country)))
    network = f"AS{place.asn} {place.as_org or ''}".strip() if place.asn else ""
    return " · ".join(filter(None, (where, network)))


def place_brief(place):
    """Given a Place, return it in brief, for a list of addresses: "CN AS4134"."""
    if place.special:
        return place.special
    return " ".join(filter(None, (place.country, f"AS{place.asn}" if place.asn else None)))


def login_where(event):
    """Given a login Event, return where it came from for the memory of
    logins: its address (or host name), "console" for a login at the machine
    itself, or None when its line does not say (cockpit, vsftpd, xrdp...)."""
    if event.ip:
        return event.ip
    return "console" if event.program in CONSOLE_PROGRAMS else None


def origins_of(where, fingerprint, place):
    """Given where a login came from (see login_where()), its key's
    fingerprint (or None) and its Place (or None), return its origins: where
    it came from, first, then its AS and its key when known.  A login from
    nowhere that its line says has no origin of where, and so is never
    familiar."""
    origins = []
    if where == "console":
        origins.append("local")
    elif where:
        network = network_of(where)
        origins.append(f"net:{network}" if network else f"host:{where.lower()}")
    if place and place.asn:
        origins.append(f"as:{place.asn}")
    if fingerprint:
        origins.append(f"key:{fingerprint}")
    return tuple(origins)


def judge(known, user, origins, now):
    """Given what the memory holds of a user (origin -> [first, last, count,
    place], or None for a user never seen), the user, a login's origins and
    the login's Unix time, return the Verdict: new when no origin of where it
    came from (network or AS) is known, or its key is not.
    """
    if not known:
        return Verdict("origin", f"first login of {user} that authwatch has seen")
    places = [origin for origin in origins if not origin.startswith("key:")]
    key = next((origin for origin in origins if origin.startswith("key:")), None)
    seen_place = next((origin for origin in places if origin in known), None)
    seen_key = key is None or key in known
    if seen_place and seen_key:
        first, _, count, _ = known[seen_place]
        since = datetime.datetime.fromtimestamp(first, datetime.timezone.utc)
        return Verdict(
            None,
            f"As usual: {user} from {origin_text(seen_place, known[seen_place][3])},"
            f" {plural(count, 'login')} since {since:%Y-%m-%d}",
        )
    notes = []
    usual = max(
        (origin for origin in known if not origin.startswith(("key:", "as:"))),
        key=lambda origin: (known[origin][2], known[origin][1]),
        default=None,
    )
    if usual:
        last = known[usual][1]
        notes.append(
            f"{user} usually from {origin_text(usual, known[usual][3])}, last {ago(now - last)}"
        )
    firsts = [
        words
        for words, seen in (("from this network", seen_place), ("with this key", seen_key))
        if not seen
    ]
    notes.append("first login " + " and ".join(firsts))
    return Verdict("key" if seen_place else "origin", "; ".join(notes))


def login_is_new(memory, host, event, place):
    """Given the memory of logins (None while there is none), the host of a
    login Event, the Event and its Place (or None), return whether the
    memory does not know where it came from, or its key."""
    if memory is None:
        return True
    user = event.user or "?"
    origins = origins_of(login_where(event), event.fingerprint, place)
    return judge(memory.get(host, {}).get(user), user, origins, 0).new is not None


def learned_line(memory, now):
    """Given a memory of logins learned from the history and the current
    local time, return the line that sums it up."""
    users = [known for users in memory.values() for known in users.values()]
    origins = [origin for known in users for origin in known if not origin.startswith("as:")]
    if not users:
        return "learned nothing: no logins in the history that is still there"
    oldest = min(entry[0] for known in users for entry in known.values())
    since = datetime.datetime.fromtimestamp(oldest, now.tzinfo)
    return (
        f"learned {plural(len(users), 'user')} and {plural(len(origins), 'origin')}"
        f" (networks, terminals, keys), since {since:%Y-%m-%d}"
    )


def origin_text(origin, place):
    """Given an origin and what its place was called, return it for people:
    "198.51.100.0/24 (CN · AS4134 Chinanet)", "a terminal"."""
    if origin == "local":
        return "a terminal"
    kind, _, what = origin.partition(":")
    if kind == "as":
        return f"the network of AS{what}"
    return f"{what} ({place})" if place else what


def ago(seconds):
    """Given a number of seconds, return how long ago that is: "3 hours ago"."""
    unit, length = next(
        (unit, length)
        for unit, length in (("day", 86400), ("hour", 3600), ("minute", 60))
        if seconds >= 2 * length or unit == "minute"
    )
    return f"{plural(max(int(seconds // length), 0), unit)} ago"


def remember(memory, host, user, origins, first, last, count, place):
    """Given the memory, a login's host, user and origins, the Unix times of
    its first and last sighting, how many there were and what its place is
    called, note it in the memory."""
    known = memory.setdefault(host, {}).setdefault(user, {})
    for origin in origins:
        entry = known.get(origin)
        if entry is None:
            known[origin] = [first, last, count, place]
        else:
            entry[:] = [
                min(entry[0], first),
                max(entry[1], last),
                entry[2] + count,
                place or entry[3],
            ]


def merge_memories(old, new):
    """Given the memory and one learned from the whole history, return them
    as one: the history's counts win, so that learning twice counts once."""
    merged = {
        host: {
            user: {origin: list(entry) for origin, entry in known.items()}
            for user, known in users.items()
        }
        for host, users in old.items()
    }
    for host, users in new.items():
        for user, known in users.items():
            kept = merged.setdefault(host, {}).setdefault(user, {})
            for origin, (first, last, count, place) in known.items():
                entry = kept.get(origin)
                if entry:
                    first, last, count = (
                        min(first, entry[0]),
                        max(last, entry[1]),
                        max(count, entry[2]),
                    )
                kept[origin] = [first, last, count, place or (entry[3] if entry else "")]
    return merged


def bounded_memory(memory, now, forget_after):
    """Given the memory, the Unix time now and after how many days an origin
    is forgotten, return the memory without what is forgotten: origins not
    seen for forget_after days, and past MEMORY_ORIGINS per user and
    MEMORY_USERS or MEMORY_BYTES in all, the least recently seen."""
    horizon = now - forget_after * 86400
    users = []
    for host, known_users in memory.items():
        for user, known in known_users.items():
            recent = sorted(
                ((origin, entry) for origin, entry in known.items() if entry[1] >= horizon),
                key=lambda item: item[1][1],
                reverse=True,
            )[:MEMORY_ORIGINS]
            if recent:
                users.append((recent[0][1][1], host, user, dict(recent)))
    users.sort(key=lambda item: item[0], reverse=True)
    bounded, size = {}, 0
    for _, host, user, known in users[:MEMORY_USERS]:
        size += kept_size((host, user, *known.items()))
        if size > MEMORY_BYTES:
            break
        bounded.setdefault(host, {})[user] = known
    return bounded


class Knowledge(NamedTuple):
    """What a run knows of its logins and addresses besides the log."""

    verdicts: dict  # (host, login_key()) -> Verdict; empty while there is no memory
    places: dict  # address -> Place; empty without GeoIP databases
    # (host, login_key()) -> the MemoryNote a message that names the login carries;
    # empty when the run learns nothing (see met_a_flood())
    notes: dict = {}


NO_KNOWLEDGE = Knowledge({}, {})


def know(summaries, memory, places, now):
    """Given a dict of HostSummary, the memory of logins (None while there is
    none), a dict of address -> Place and the Unix time now, return the
    Knowledge of the logins: each judged by the memory as it was before
    them, and the MemoryNote of each (not of an unverified one, nor of one
    that has no origin to learn).
    """
    verdicts, notes = {}, {}
    for host, summary in summaries.items():
        for event, count in summary.logins.values():
            key = (event.user or "?", login_where(event), event.fingerprint)
            if memory is not None:
                origins = origins_of(key[1], event.fingerprint, places.get(event.ip))
                stamp = unix_time(event.time) or now
                verdict = judge(memory.get(host, {}).get(key[0]), key[0], origins, stamp)
                verdicts[host, login_key(event)] = verdict
            sighting = summary.sightings.get(key)
            if sighting and not event.unverified:
                seen = sighting[:2] + [count]  # this login's count
                note = MemoryNote((), *sighting_note(host, key, seen, places, now))
                if note.origins:  # a login from nowhere its line says teaches nothing
                    notes[host, login_key(event)] = note
    return Knowledge(verdicts, places, notes)


def sighting_note(host, key, sighting, places, now):
    """Given a host, a sighting's key (user, where, key fingerprint) and its
    [first time, last time, count], the Places and the Unix time now,
    return what remember() takes: (host, user, origins, first, last, count,
    place)."""
    user, where, fingerprint = key
    first, last, count = sighting
    place = places.get(where)
    # a stamp that no clock shows (a forged one) is remembered as now
    first, last = (min(max(unix_time(time) or now, 0), now) for time in (first, last))
    text = place_text(place) if place else ""
    return host, user, origins_of(where, fingerprint, place), first, last, count, text


def noted(memory, summaries, which, places, now):
    """Given the memory of logins, a dict of HostSummary, which of their
    sightings to note ("sightings", or "known_sightings": the allow-listed
    logins), the Places and the Unix time now, return a copy of the memory
    with them noted."""
    remembered = merge_memories(memory or {}, {})
    for host, summary in summaries.items():
        for key, sighting in getattr(summary, which).items():
            remember(remembered, *sighting_note(host, key, sighting, places, now))
    return remembered


def met_a_flood(summaries, max_messages):
    """Given a dict of HostSummary and [alerts] max_messages, return whether
    the run met a flood of logins: more distinct ones than could each be
    named in a message of its own, or more than a summary keeps.  Such a
    run learns none of them: the admin was not told each."""
    logins = sum(len(summary.logins) for summary in summaries.values())
    return logins > max_messages or any(
        summary.counts["login"] > sum(count for _, count in summary.logins.values())
        for summary in summaries.values()
    )


def addresses_to_place(summaries):
    """Given a dict of HostSummary, return the addresses whose Place the
    messages and the memory want: every login's, the top failures'."""
    wanted = set()
    for summary in summaries.values():
        for sightings in (summary.sightings, summary.known_sightings):
            wanted.update(where for _, where, _ in sightings if where and where != "console")
        wanted.update(ip for ip, _ in summary.failure_ips.most_common(TOP_COUNT))
    return wanted


### Building messages (pure) ################################################
#
# Each run sends, per host: a message of its own for every login that is not
# allow-listed; one summary of sudo, su and account changes; one digest of
# failed attempts, known logins and lines not understood.  Then, whatever
# the volume, at most [alerts] max_messages: the least urgent are folded
# into the last one.

# su, sudo, doas and login log each failure again in their own words, which
# say more ("FAILED SU (to root) mallory on pts/1", "3 incorrect password
# attempts ; ... COMMAND=/bin/sh", "FAILED LOGIN (1) on '/dev/tty1' FOR
# 'root'"): their PAM lines (the rules of role echo) are not counted twice.
ECHOED_KINDS = ("su", "su_failed", "login")  # told twice by one process (HostSummary.is_echo())
# A program's own words for a failure, which its PAM failure told first.
TOLD_IN_OWN_WORDS = ("sudo_failed", "su_failed", "login_failed", "invalid_user")
PRIVILEGE_KINDS = ("sudo", "sudo_failed", "su", "su_failed", "account")
# A connection counts once, as the most telling of the kinds its lines say.
TELLING = {"probe": 0, "login_failed": 1, "invalid_user": 2}
TOP_COUNT = 3  # how many source IPs and user names a failure digest names
KEPT_EVENTS = 200  # distinct privilege and known-login lines kept per host; more are counted
# Distinct logins (who, from where) kept per host, each with its count, so that a
# flood of forged ones cannot push a real one out; past this many, logins are counted.
KEPT_LOGINS = 10_000
KEPT_OTHER_LINES = 20
FEW_LINES = 2  # lines of one writer that the digest lists as they are; more are counted
# Vital acts, named on the phone whatever else a run holds (is_vital()): a login as
# root, and sudo, su, doas and pkexec to root.  Root is uid 0, whatever its name: the
# names a run knows without looking, and the rules whose line says uid 0 (PAM 1.4+).
ROOT_USERS = frozenset(("root",))
TO_ROOT_KINDS = ("sudo", "sudo_failed", "su", "su_failed")  # acts with a target
MAX_VITAL_NAME = 48  # a user name or origin in a vital line is cut to this (an IPv6 origin fits)
UNVERIFIED = " (unverified)"  # ends what an unverified event says (see judged())
# vital acts that a summary could not keep with the rest (past a bound or a room)
# kept apart, by act, user, target and origin; past this many, without the
# origin; past as many again, without the user: a flood of forged vital lines
# makes them coarser, never makes one go unnamed
KEPT_VITAL = 256
KEPT_NAMES_COUNTED = 4096  # failures' addresses and user names counted by name: see TopCounter
# What the summaries of a run may keep, in bytes (see Room), of all hosts
# together: the logins and what the memory of logins learns of them; the
# privilege, known-login and other lines; the names that failures are
# counted by; and what is held a moment (recent connections, PAM failures
# that their program may tell again, and those it told).
ROOMS = {
    "logins": 12 * 1024 * 1024,
    "lines": 2 * 1024 * 1024,
    "names": 4 * 1024 * 1024,
    "held": 8 * 1024 * 1024,
}
# what the held room counts for a recent connection: its key and an address
# of KEPT_NAME characters of any kind (kept_size())
CONNECTION_ROOM = 1536
HOSTS = 100  # hosts with a summary of their own: the lines of more count under OTHER_HOSTS
OTHER_HOSTS = "other hosts"
# What clean() replaces, by Unicode category: controls (C0, C1), format
# characters (zero-width ones, direction marks and overrides, the soft hyphen,
# the BOM, tags), line and paragraph separators.
UNSHOWN_CATEGORIES = frozenset(("Cc", "Cf", "Zl", "Zp", "Cn", "Co", "Cs", "Me"))
# ...and what shows as a wide gap: the blank Braille pattern, spaces other
# than the plain one
UNSHOWN = frozenset(
    "\u2800\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
)
# ...and whatever its category, every Default_Ignorable_Code_Point, which a
# renderer shows as nothing (ro\u17b4\u17b5ot as "root"): the ranges of
# Unicode's DerivedCoreProperties.txt, the same from Unicode 14.0 (which
# added U+180F) to 17.0.  Among them the variation selectors (FE00..FE0F,
# E0100..E01EF) and Mongolian's free ones (180B..180D, 180F), Khmer's
# inherent vowels (17B4..17B5), the Hangul fillers, the combining grapheme
# joiner, and the tags (E0000..E0FFF).  Python's unicodedata does not know
# the property, and a category does not make it: 17B4 is a mark, 3164 a letter.
DEFAULT_IGNORABLE = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160),
    (0x17B4, 0x17B5), (0x180B, 0x180F), (0x200B, 0x200F), (0x202A, 0x202E),
    (0x2060, 0x206F), (0x3164, 0x3164), (0xFE00, 0xFE0F), (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0), (0xFFF0, 0xFFF8), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A),
    (0xE0000, 0xE0FFF),
)  # fmt: skip
MARKS = ("Mn", "Mc", "Me")  # combining categories: marks stack on the character before them
MAX_MARKS = 2  # stacked on one character, then replaced: Vietnamese's "ệ" needs two


class Message(NamedTuple):
    host: str
    title: str
    body: str
    priority: int
    timestamp: int | None
    held: bool = False  # kept back for Pushover's monthly quota (see quota_plan())
    folded: int = 0  # how many other messages were folded into this one
    parts: tuple = ()  # a folded message: the titles of the messages in it (some, if many)
    logins: tuple = ()  # the logins it tells of: (user, where from, how many) each
    # the vital acts it tells of: (host, what, user, target, origin, how many) each
    vital: tuple = ()
    notes: tuple = ()  # the MemoryNote of each login it names
    privilege: bool = False  # it tells of sudo, su or account changes


class MemoryNote(NamedTuple):
    """What the memory of logins learns of one login once Pushover has
    accepted a message that names it (see remember())."""

    names: tuple  # the lines of a message that name the login: its title, its vital line
    host: str
    user: str
    origins: tuple  # see origins_of()
    first: int  # Unix times
    last: int
    count: int
    place: str


class TopCounter(Counter):
    """A Counter of names (the addresses or user names of failures), bounded
    in entries and bytes: past 2 × KEPT_NAMES_COUNTED names, only the
    KEPT_NAMES_COUNTED most counted stay (one counted again later starts
    anew), so that a flood of names seen once cannot push out the most
    frequent; a name that its Room has no place for is not counted by name.
    dropped tells whether some name was not kept.
    """

    def __init__(self, room):
        super().__init__()
        self.room = room
        self.dropped = False

    def add(self, name, weight):
        """Given a name and how much it counts, count it if there is room."""
        if name in self:
            self[name] += weight
        elif not self.room.take(kept_size(name)):
            self.dropped = True
        else:
            self[name] = weight
            if len(self) > 2 * KEPT_NAMES_COUNTED:
                for other, _ in self.most_common()[KEPT_NAMES_COUNTED:]:
                    self.remove(other)
                self.dropped = True

    def remove(self, name):
        """Given a name, forget it and its count, giving its room back."""
        if name in self:
            del self[name]
            self.room.give(kept_size(name))


def summary_rooms():
    """Return the Rooms of what one run's summaries keep, by ROOMS."""
    return {kind: Room(size) for kind, size in ROOMS.items()}


class HostSummary:
    """What one host's events add up to, in bounded memory however many
    there are: the logins, the distinct privilege lines with their counts,
    the first lines not understood, and counts for the failures.

    One failed connection writes several lines (PAM's failure, sshd's
    "Failed password", "maximum authentication attempts exceeded", ...), so
    failures are counted once per connection: per sshd process id.  Recent
    connections are remembered (a bounded number: their lines come close
    together) so that memory stays flat through a storm.  What it keeps is
    kept_event()s, bounded in entries and, with the summaries of the other
    hosts, in bytes (rooms, see ROOMS): past either, an event is counted,
    not kept.
    """

    def __init__(self, host, allow=NO_ALLOWLIST, rooms=None, root_users=None):
        self.host = host
        self.allow = allow
        self.rooms = rooms or summary_rooms()
        self.find_root_users = root_users  # returns the host's users of uid 0; None: root
        self.found_root_users = None
        self.counts = Counter()  # events by kind; failures by connection; "login": unknown ones
        # login_key() -> [its first unknown login Event, how many]
        self.logins = {}
        self.last_login = None  # the key of the login counted last
        self.known = Counter()  # known_login_line() -> count, in the order first seen
        # the logins for the memory of logins, those not allow-listed and the known ones:
        # (user, address, key fingerprint) -> [first time, last time, count]
        self.sightings = {}
        self.known_sightings = {}
        # (act_of(), privilege_line()) -> count, in the order first seen
        self.privilege = Counter()
        self.acts = Counter()  # act_of() sudo and su events -> count: who ran as whom
        self.forged = []  # the first KEPT_OTHER_LINES forged events
        # writer_of() other and forged events -> [count, the first FEW_LINES
        # (program, message), shortened]
        self.writers = {}
        self.failure_ips = TopCounter(self.rooms["names"])
        self.failure_users = TopCounter(self.rooms["names"])
        # Event.connection -> [the kind it counts as, the ip counted, user counted]
        self.connections = OrderedDict()
        self.latest = {}  # "privilege", "digest" or "known" -> the time of its newest event
        self.last_act = None  # (program, pid, kind, target, user, rules told): see is_echo()
        self.echoes = {}  # (program, user) -> PAM failures their program may tell again
        # (program, user) whose failure their program told in its own words
        self.told = OrderedDict()
        # vital_entry()[:-1] -> [count, kind]: the vital acts not kept with the
        # rest (see keep_vital())
        self.unkept_vital = {}

    def add(self, event):
        """Given an Event, count it (as many times as its line was written),
        unless it tells again what is counted; hold a PAM failure that its
        program may tell again in its own words (see finish()).  A forged or
        unverified line is counted as it is: what is not proven neither
        holds nor cancels a real one."""
        event = kept_event(event)
        if event.kind == "forged" or event.unverified:
            self.count(event)
            return
        room = self.rooms["held"]
        if event.rule in ECHO_RULES:
            key = (event.program, event.pid, event.user)
            if self.told.pop(key, None):
                room.give(kept_size(key))
                return  # told already, once
            if key not in self.echoes and not room.take(kept_size((key, event))):
                self.count(event)  # no room to hold it
                return
            held = self.echoes.setdefault(key, [event, 0])
            held[1] += event.count
            if len(self.echoes) > RECENT_CONNECTIONS:
                self.count_held(self.release(next(iter(self.echoes))))
            return
        kind = event.kind
        if kind in TOLD_IN_OWN_WORDS and event.program in ECHOING_PROGRAMS:
            key = (event.program, event.pid, event.user)
            if key in self.echoes:
                self.release(key)
            elif room.take(kept_size(key)):
                self.told[key] = True  # its PAM line may come after it
                if len(self.told) > RECENT_CONNECTIONS:
                    room.give(kept_size(self.told.popitem(last=False)[0]))
        if kind in FAILURE_KINDS:
            self.add_failure(event)
        elif (
            kind not in ECHOED_KINDS
            or event.program not in ECHOING_PROGRAMS
            or not self.is_echo(event)
        ):
            self.count(event)

    def finish(self):
        """Count the PAM failures held that no line of their program told
        again: sudo-rs writes no failure of its own, RHEL's su writes its own
        to another log."""
        while self.echoes:
            self.count_held(self.release(next(iter(self.echoes))))

    def release(self, key):
        """Given the key of a held PAM failure, return it (and how many times
        it was written), giving its room back."""
        held = self.echoes.pop(key)
        self.rooms["held"].give(kept_size((key, held[0])))
        return held

    def count_held(self, held):
        """Given a held PAM failure and how many times it was written, count it."""
        event, count = held
        self.count(event._replace(count=count))

    def count(self, event):
        """Given an Event, count it as many times as its line was written."""
        count = event.count
        if event.kind in FAILURE_KINDS:
            self.add_failure(event)
        elif event.kind in PRIVILEGE_KINDS:
            act = act_of(event)
            line = (act, privilege_line(event))
            if line in self.privilege or self.keeps("lines", self.privilege, KEPT_EVENTS, line):
                self.privilege[line] += count
            if event.kind != "account":
                if act in self.acts or self.keeps("lines", self.acts, KEPT_EVENTS, act):
                    self.acts[act] += count
                elif is_vital(act, self.root_users()):
                    self.keep_vital(act, count)
            self.note_time("privilege", event.time)
            self.counts[event.kind] += count
        elif event.kind == "login" and is_known(event, self.allow):
            self.sight(event, self.known_sightings)
            line = known_login_line(event)
            if line in self.known or self.keeps("lines", self.known, KEPT_EVENTS, line):
                self.known[line] += count
            self.counts["known_login"] += count
            self.note_time("known", event.time)
        elif event.kind == "login":
            self.sight(event, self.sightings)
            key = self.last_login = login_key(event)
            if key in self.logins:
                self.logins[key][1] += count
            elif self.keeps("logins", self.logins, KEPT_LOGINS, key, event):
                self.logins[key] = [event, count]
            elif is_vital(event, self.root_users()):
                self.keep_vital(event, count)
            self.counts["login"] += count
        else:  # other lines, and forged ones
            if event.kind == "forged" and self.keeps("lines", self.forged, KEPT_OTHER_LINES, event):
                self.forged.append(event)
            writer = writer_of(event)
            if writer in self.writers or self.keeps("lines", self.writers, KEPT_EVENTS, writer):
                written = self.writers.setdefault(writer, [0, []])
                written[0] += count
                text = (event.program, shorten(event.message, MAX_LINE_LENGTH))
                if len(written[1]) < FEW_LINES and self.rooms["lines"].take(kept_size(text)):
                    written[1].append(text)
            self.note_time("digest", event.time)
            self.counts[event.kind] += count

    def sight(self, event, sightings):
        """Given a login Event and the sightings it belongs to (sightings or
        known_sightings), note it there for the memory of logins (unless it
        is unverified: the memory learns only what is proven); past
        KEPT_LOGINS, the least recently seen is forgotten."""
        if event.unverified:
            return
        key = (event.user or "?", login_where(event), event.fingerprint)
        sighting = sightings.pop(key, None)
        if sighting is None:
            if self.rooms["logins"].take(kept_size(key)):
                sightings[key] = [event.time, event.time, event.count]
            if len(sightings) > KEPT_LOGINS:
                forgotten = next(iter(sightings))
                del sightings[forgotten]
                self.rooms["logins"].give(kept_size(forgotten))
            return
        sightings[key] = sighting  # the most recent last
        if event.time and (sighting[0] is None or event.time < sighting[0]):
            sighting[0] = event.time
        if event.time and (sighting[1] is None or event.time > sighting[1]):
            sighting[1] = event.time
        sighting[2] += event.count

    def is_echo(self, event):
        """Given an su or login Event, return whether it is the act just
        counted, told again in other words: util-linux su writes "(to root)
        alice on pts/0" and its PAM session, shadow's su "Successful su for
        root by alice", "+ pts/0 alice:root" and its PAM session, login its PAM
        session and "LOGIN ON tty1 BY alice", one after the other from one
        process (PAM may not name the user).  The same words again are
        another act.
        """
        act = (event.program, event.pid, event.kind, event.target)
        last = self.last_act
        if last and act == last[:4] and event.user in (None, last[4]) and event.rule not in last[5]:
            self.last_act = last[:5] + (last[5] | {event.rule},)
            told = self.logins.get(self.last_login)
            if (
                event.kind == "login"
                and (event.ip or event.tty)
                and told
                and told[1] == 1
                and told[0][:4] == event[:4]
                and not (told[0].ip or told[0].tty)
                and self.rooms["logins"].take(kept_size(event))  # besides the first telling's
            ):  # login's PAM session came first: keep where the login came from
                del self.logins[self.last_login]
                self.last_login = login_key(event)
                self.logins[self.last_login] = [event, 1]
            return True
        self.last_act = act + (event.user, frozenset((event.rule,)))
        return False

    def add_failure(self, event):
        """Given a failure Event, count its connection once, whatever number
        of lines it writes; a failure of no known connection counts as
        often as its line was written.
        """
        self.note_time("digest", event.time)
        key = event.connection
        counted = self.connections.get(key) if key else None
        if counted is None:
            counted = [event.kind, False, False]
            self.counts[event.kind] += 1 if key else event.count
            if key and self.rooms["held"].take(CONNECTION_ROOM):
                self.connections[key] = counted
                if len(self.connections) > RECENT_CONNECTIONS:
                    self.connections.popitem(last=False)
                    self.rooms["held"].give(CONNECTION_ROOM)
        elif TELLING[event.kind] > TELLING[counted[0]]:
            # a probe's connection that turns out an attempt (a key that did not
            # fit ends with "Received disconnect ... [preauth]" first): count it so
            self.counts[counted[0]] -= 1
            self.counts[event.kind] += 1
            counted[0] = event.kind
        weight = 1 if key else event.count
        if (
            event.ip
            and counted[1]
            and event.ip != counted[1]
            and not is_address(counted[1])
            and is_address(event.ip)
        ):
            # the client's host name (PAM's rhost= with sshd's UseDNS), which its
            # owner chooses: the address that a later line names counts instead
            if self.failure_ips[counted[1]] > 1:
                self.failure_ips[counted[1]] -= 1
            else:
                self.failure_ips.remove(counted[1])
            counted[1] = False
        if event.ip and not counted[1]:
            self.failure_ips.add(event.ip, weight)
            counted[1] = event.ip
        if event.user and not counted[2]:
            self.failure_users.add(event.user, weight)
            counted[2] = True

    def root_users(self):
        """Return the names of the host's users of uid 0, found on first need."""
        if self.found_root_users is None:
            found = self.find_root_users() if self.find_root_users else frozenset()
            self.found_root_users = ROOT_USERS | found
        return self.found_root_users

    def keep_vital(self, event, count):
        """Given a vital login or act (an Event) that was not kept with the
        rest, and how many times it was seen, count it apart, by act, user,
        target and origin; past KEPT_VITAL of them without its origin, and
        past as many again without its user too, so that whatever floods a
        summary, every vital act is named, however coarsely."""
        entry = vital_entry(self.host, event, count)[:-1]
        coarser = (entry, entry[:4] + (None,), entry[:2] + ("?", entry[3], None))
        for level, key in enumerate(coarser):
            if key in self.unkept_vital or len(self.unkept_vital) < KEPT_VITAL * (level + 1):
                break
        self.unkept_vital.setdefault(key, [0, event.kind])[0] += count

    def keeps(self, room, kept, limit, *what):
        """Given a kind of room (see ROOMS), a collection, how many entries it
        may hold and what is to be kept in it, return whether it may be (then
        its room is taken)."""
        return len(kept) < limit and self.rooms[room].take(kept_size(what))

    def note_time(self, group, stamp):
        """Given a group of events ("digest", "known", "privilege") and the
        time of one, keep the latest time of each group."""
        if stamp and (group not in self.latest or stamp > self.latest[group]):
            self.latest[group] = stamp


def login_key(event):
    """Given a login Event, return what makes it another login than others:
    who, from where, how, with which key, and whether it is unverified."""
    return (
        event.program,
        event.user,
        login_place(event),
        event.method,
        event.fingerprint,
        event.unverified,
    )


def summarise(events, local_host, allow=NO_ALLOWLIST, local_root_users=None):
    """Given Events, the local host name, the Allow lists and a function
    that returns the names of this machine's users of uid 0 (None: root
    alone), asked on first need for the lines of local_host (by its name or,
    as syslog daemons write it, without its domain), return a dict of host
    name to HostSummary,
    in the order the hosts first appear; events without a host belong to
    local_host, those of hosts past the first HOSTS to OTHER_HOSTS.
    """
    summaries = {}
    rooms = summary_rooms()  # for all of them together
    for event in events:
        host = event.host or local_host
        if len(host) > KEPT_NAME:
            host = kept_text(host, KEPT_NAME)
        if host not in summaries and len(summaries) >= HOSTS:
            host = OTHER_HOSTS
        if host not in summaries:
            # syslog daemons write this host's name without its domain
            local = host in (local_host, local_host.partition(".")[0])
            summaries[host] = HostSummary(host, allow, rooms, local_root_users if local else None)
        summaries[host].add(event)
    for summary in summaries.values():
        summary.finish()
    return summaries


def clean(text):
    """Given text that may come from an attacker, return it with control,
    format (zero-width, direction-changing), separator and default-ignorable
    characters, and every combining mark past MAX_MARKS stacked on one
    character, replaced: safe to show on one line, nothing in it hidden or
    piled up over the text around it.  Every title and line of a message
    passes through it (see title_text() and fit_lines()).
    """
    if text.isascii() and text.isprintable():
        return text
    import unicodedata

    hidden = unshown()
    cleaned, marks = [], 0
    for char in text:
        category = unicodedata.category(char)
        marks = marks + 1 if category in MARKS else 0
        if char in hidden or category in UNSHOWN_CATEGORIES or marks > MAX_MARKS:
            char = "\N{REPLACEMENT CHARACTER}"
        cleaned.append(char)
    return "".join(cleaned)


@functools.cache
def unshown():
    """Return the characters that clean() replaces whatever their category:
    UNSHOWN and the DEFAULT_IGNORABLE ranges.  Made on first use: a run
    with nothing to send needs none."""
    return UNSHOWN | frozenset(
        chr(code) for first, last in DEFAULT_IGNORABLE for code in range(first, last + 1)
    )


def title_text(text):
    """Given a message's title, return it cleaned and cut to Pushover's limit."""
    return shorten(clean(text), MAX_TITLE)


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


def times(count):
    """Given how many times a line stands for, return what follows it: " ×3",
    or nothing for once."""
    return f" ×{count}" if count > 1 else ""


def and_more(count, noun=None):
    """Given how many were left out and what (a singular noun, or None),
    return e.g. "… and 2 more logins" or "… and 2 more"."""
    return f"… and {plural(count, 'more ' + noun) if noun else f'{count} more'}"


def size_text(size):
    """Given a number of bytes, return it for people: "512 bytes", "64 KiB",
    "1.2 GiB"."""
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f}".removesuffix(".0") + f" {unit}"
    return plural(size, "byte")


def login_place(event):
    """Given a login Event, return where it came from, as one word: its
    address or its terminal; None when its line does not say."""
    return event.ip or event.tty


def unix_time(moment):
    """Given an aware datetime or None, return its Unix time or None."""
    return int(moment.timestamp()) if moment else None


def is_known(event, allow):
    """Given a login Event and the Allow lists, return whether the login is
    known: every list that is set (networks, users, keys) matches it.
    """
    if not (allow.networks or allow.users or allow.keys):
        return False
    if allow.networks:
        address = parsed_address(event.ip or "")
        if address is None or not any(address in network for network in allow.networks):
            return False
    if allow.users and event.user not in allow.users:
        return False
    return not allow.keys or event.fingerprint in allow.keys


def known_login_line(event):
    """Given a known login Event, return its line in the digest."""
    return (
        f"{event.user or '?'} {login_origin(event)} ({event.method or '?'}){unverified_mark(event)}"
    )


def login_origin(event):
    """Given a login Event, return where it came from: 'from IP' or 'on TTY'."""
    if event.ip:
        return f"from {event.ip}"
    return f"on {event.tty}" if event.tty else "on the console"


def login_what(event):
    """Given a login Event, return what it was: "SSH login" or "login"."""
    return "SSH login" if event.program in CONNECTION_PROGRAMS else "login"


def login_message(
    host, event, count, priorities, verdict=None, place=None, root_users=ROOT_USERS, note=None
):
    """Given a host name, an unknown login Event, how many times that user
    logged in from there, the priorities, what the memory of logins says of
    it (None: there is no memory yet, so it is new), where its address is
    (a Place, or None), the names of the host's users of uid 0 and the
    login's MemoryNote (None: the run learns nothing of it), return the
    Message about it.
    """
    where = f" ({place_text(place)})" if place and place_text(place) else ""
    lines = [verdict.note] if verdict else []
    if event.unverified:
        lines.insert(0, f"Unverified: written by {event.forger}")
    if event.method:
        lines.append(f"Method: {event.method}")
    if event.fingerprint:
        lines.append("Key: " + " ".join(filter(None, (event.key_type, event.fingerprint))))
    if event.ip:
        lines.append(f"From: {event.ip}" + (f" port {event.port}" if event.port else "") + where)
    if event.time:
        lines.append(f"Time: {event.time.astimezone():%Y-%m-%d %H:%M:%S %z}")
    news = f"NEW {verdict.new}: " if verdict and verdict.new else ""
    title = title_text(
        f"{host}: {news}{login_what(event)} {event.user or '?'} {login_origin(event)}{where}"
        f"{times(count)}{unverified_mark(event)}"
    )
    vital = (vital_entry(host, event, count),) if is_vital(event, root_users) else ()
    names = (f"▶ {title}",) + tuple(vital_text((*entry[:-1], 1), host) for entry in vital)
    return Message(
        host,
        title,
        fit_lines(lines or [event.message], MAX_MESSAGE),
        priorities["login" if verdict and not verdict.new else "login_new"],
        unix_time(event.time),
        logins=((event.user or "?", login_place(event) or "console", count),),
        vital=vital,
        notes=(note._replace(names=names),) if note else (),
    )


def is_vital(event, root_users=ROOT_USERS):
    """Given a login, sudo, su, doas or pkexec Event (or an act_of() one)
    and the names of its host's users of uid 0, return whether it is vital:
    a login as root (by its name, as a user of uid 0, or by a line that says
    uid 0), or an act to root, to a user of uid 0, or to a target its line
    does not name (sudo's and su's default is root).  A vital act is named
    on the phone whatever else a run holds.
    """
    if event.kind == "login":
        return event.user in root_users or event.rule in UID0_RULES
    return event.kind in TO_ROOT_KINDS and (event.target is None or event.target in root_users)


def act_of(event):
    """Given a sudo, su or account Event, return its act: an Event of who did
    what as whom, and whether that is unverified, and nothing else, which its
    repeats share."""
    return Event(
        None,
        None,
        event.program,
        None,
        event.kind,
        "",
        user=event.user,
        target=event.target,
        unverified=event.unverified,
    )


def writer_of(event):
    """Given an other or forged Event, return who wrote it, as the digest
    groups such lines: (kind, its program, or for a forged line the program
    and uid that the journal saw write it)."""
    return event.kind, event.forger if event.kind == "forged" else event.program


def vital_entry(host, event, count):
    """Given a host, a vital login or act (an Event) and how many times it
    was seen, return its Message.vital entry: (host, what, user, target,
    origin, count), names cut to MAX_VITAL_NAME; an act whose line names no
    target is as "root?"; what ends " (unverified)" for an unverified one."""
    user = shorten(event.user or "?", MAX_VITAL_NAME)
    if event.kind == "login":
        origin = shorten(login_origin(event), MAX_VITAL_NAME)
        return (host, login_what(event) + unverified_mark(event), user, None, origin, count)
    failed = " FAILED" if event.kind.endswith("_failed") else ""
    target = shorten(event.target, MAX_VITAL_NAME) if event.target else "root?"
    return (host, f"{event.program}{failed}{unverified_mark(event)}", user, target, None, count)


def vital_text(entry, host):
    """Given a Message.vital entry and the host of the message it is in,
    return its line: "SSH login root from 203.0.113.9 ×2", "sudo alice as
    root", "su mallory as root FAILED (unverified)"; with its host if it is
    another's."""
    where, what, user, target, origin, count = entry
    act = what.removesuffix(UNVERIFIED)
    failed = act.endswith(" FAILED")
    words = (
        act.removesuffix(" FAILED"),
        user,
        f"as {target}" if target else None,
        origin,
        "FAILED" if failed else None,
        UNVERIFIED.strip() if act != what else None,
    )
    text = " ".join(filter(None, words)) + times(count)
    return text if where == host else f"{where}: {text}"


def merged_vital(entries):
    """Given Message.vital entries, return them with the same host, act,
    user, target and origin as one, their counts added, in the order first
    seen."""
    counts = Counter()
    for *act, count in entries:
        counts[tuple(act)] += count
    return tuple((*act, count) for act, count in counts.items())


def grouped_vital(entries, level):
    """Given Message.vital entries and how far to group them (0: not at all;
    1: per host, what, user and target, with the number of origins; 2: per
    host, what and target, with the number of users too; 3: per what and
    target, with the number of hosts too, which a log host's senders choose),
    return them grouped, the users named the rarest first."""
    if level == 0:
        return entries
    groups = {}
    for host, what, user, target, origin, count in entries:
        key = (None if level == 3 else host, what, target, None if level >= 2 else user)
        hosts, users, origins = groups.setdefault(key, (Counter(), Counter(), Counter()))
        hosts[host] += count
        users[user] += count
        origins[origin] += count
    grouped = []
    for (_, what, target, _), (hosts, users, origins) in groups.items():
        rarest = [shorten(user, 16) for user, _ in sorted(users.items(), key=lambda item: item[1])]
        user = rarest[0] if len(users) == 1 else f"{len(users)} users ({listed(rarest, 60)})"
        origin = next(iter(origins)) if len(origins) == 1 else f"from {len(origins)} places"
        host = next(iter(hosts)) if len(hosts) == 1 else plural(len(hosts), "host")
        grouped.append((host, what, user, target, origin, sum(users.values())))
    return tuple(grouped)


VITAL_ROOM = MAX_MESSAGE - 40  # what vital lines may take of a message; the rest says what is cut


def vital_lines(entries, host):
    """Given Message.vital entries and the host of the message they are in,
    return the lines that name them, the rarest first, as a message shows
    them (cleaned, cut): one per act, user, target and origin, or grouped
    further (grouped_vital()) until they fit in VITAL_ROOM."""
    for level in (0, 1, 2, 3):
        grouped = sorted(grouped_vital(entries, level), key=lambda entry: entry[-1])
        lines = [shorten(clean(vital_text(entry, host)), MAX_LINE_LENGTH) for entry in grouped]
        if len("\n".join(lines)) <= VITAL_ROOM:
            break
    return lines


def listed(names, limit):
    """Given names and a length limit, return them joined by commas, as many
    as fit, then "…" for the rest."""
    text = ""
    for name in names:
        more = f"{text}, {name}" if text else name
        if len(more) > limit:
            return f"{text}, …" if text else "…"
        text = more
    return text


def uncounted(line):
    """Given a message line, return it without its count (" ×3")."""
    head, mark, count = line.rpartition(" ×")
    return head if mark and count.isdigit() else line


def kept_notes(notes, body):
    """Given the MemoryNotes of a folded message and its body, return the
    notes of the logins that the body still names, by title or vital line:
    a login cut from the body was not told, and is not learned."""
    lines = {uncounted(line) for line in body.splitlines()}
    return tuple(
        note
        for note in notes
        if any(
            uncounted(shorten(clean(text), MAX_LINE_LENGTH)) in lines
            for name in note.names
            for text in (name, f"{note.host}: {name}")
        )
    )


def privilege_line(event):
    """Given a sudo, su or account Event (or an act_of() one), return its
    line in the summary: who ran what, as whom; failures marked; a sudo or
    doas line whose fields have no sure reading as it was written after its
    user's name.
    """
    if event.kind == "account":
        return f"{event.program}: {event.message}{unverified_mark(event)}"
    failed = " FAILED" if event.kind.endswith("_failed") else ""
    if event.rule in UNCLEAR_RULES:
        written = event.message.lstrip().partition(" ")[2].lstrip(" :")
        return (
            f"{event.program}{failed}: {event.user} (fields unclear): {written}"
            + unverified_mark(event)
        )
    target = f" as {event.target}" if event.target else ""
    command = f": {event.command}" if event.command else ""
    return f"{event.program}{failed}: {event.user or '?'}{target}{command}{unverified_mark(event)}"


def unverified_mark(event):
    """Given an Event, return what ends its line or title: " (unverified)"
    for an unverified one (see judged()), else nothing."""
    return UNVERIFIED if event.unverified else ""


MAX_LINE_LENGTH = 200  # so that one long line cannot crowd out the others


def privilege_message(summary, priorities, root_users=ROOT_USERS):
    """Given a HostSummary with privilege events, the priorities and the
    names of the host's users of uid 0, return the Message that sums them
    up: the lines to root first.  When they do not all fit, it begins with
    the vital acts, then who ran as whom otherwise: what is cut is detail.
    """
    counts = summary.counts
    uses = sum(counts[kind] for kind in PRIVILEGE_KINDS if kind != "account")
    failed = counts["sudo_failed"] + counts["su_failed"]
    parts = []
    if uses:
        parts.append(plural(uses, "sudo/su use") + (f" ({failed} failed)" if failed else ""))
    if counts["account"]:
        parts.append(plural(counts["account"], "account change"))
    ordered = sorted(
        summary.privilege.items(), key=lambda item: not is_vital(item[0][0], root_users)
    )
    lines = [line + times(n) for (_, line), n in ordered]
    unlisted = sum(counts[kind] for kind in PRIVILEGE_KINDS) - sum(summary.privilege.values())
    if unlisted > 0:
        lines.append(and_more(unlisted))
    vital = tuple(
        vital_entry(summary.host, act, n)
        for act, n in summary.acts.items()
        if is_vital(act, root_users)
    )
    shown = sum(min(len(line), MAX_LINE_LENGTH) + 1 for line in lines)
    if shown > MAX_MESSAGE:
        others = sorted(  # the rarest first
            ((act, n) for act, n in summary.acts.items() if not is_vital(act, root_users)),
            key=lambda item: item[1],
        )
        said = [shorten(privilege_line(act), 60) + times(n) for act, n in others]
        who = [f"Who: {', '.join(said[at : at + 3])}" for at in range(0, len(said), 3)]
        lines[:0] = vital_lines(vital, summary.host) + who
    return Message(
        summary.host,
        title_text(f"{summary.host}: {', '.join(parts)}"),
        fit_lines(lines, MAX_MESSAGE),
        max(priorities[kind] for kind in PRIVILEGE_KINDS if counts[kind]),
        unix_time(summary.latest.get("privilege")),
        vital=vital,
        privilege=True,
    )


def failure_headline(summary, detail=""):
    """Given a HostSummary with failures and a detail to put in, return e.g.
    "5 failed logins (1 invalid user) from 3 addresses".
    """
    sources = plural(len(summary.failure_ips), "address", "addresses")
    if summary.failure_ips.dropped:
        sources = f"more than {sources}"
    return f"{plural(failure_count(summary), 'failed login')}{detail} from {sources}"


def failure_count(summary):
    """Given a HostSummary, return how many failed attempts it holds."""
    return sum(summary.counts[kind] for kind in FAILURE_KINDS)


def failure_lines(summary, places):
    """Given a HostSummary with failures and a dict of address -> Place,
    return the lines that sum them up."""
    kinds = ", ".join(
        plural(summary.counts[kind], noun)
        for kind, noun in (("invalid_user", "invalid user"), ("probe", "probe"))
        if summary.counts[kind]
    )
    lines = [failure_headline(summary, f" ({kinds})" if kinds else "")]
    for label, counter in (("IPs", summary.failure_ips), ("Users", summary.failure_users)):
        if counter:
            top = ", ".join(
                " ".join(filter(None, (f"{name} ×{n}", place_brief(places.get(name, Place())))))
                for name, n in counter.most_common(TOP_COUNT)
            )
            lines.append(f"{label}: {top}")
    return lines


def digest_message(summary, alerts, places):
    """Given a HostSummary and the Alerts, return the digest of failures,
    known logins and lines not understood, or None when there is nothing to
    send.
    """
    lines, parts, priorities = [], [], []
    vital = tuple((*key, count) for key, (count, _) in summary.unkept_vital.items())
    if vital:  # first: what the summary could not keep with the rest is named here
        lines += vital_lines(vital, summary.host)
        priorities += [
            alerts.priorities["login_new" if kind == "login" else kind]
            for _, kind in summary.unkept_vital.values()
        ]
        acts = sum(n for n, kind in summary.unkept_vital.values() if kind != "login")
        if acts:  # the privilege summary could not list them
            parts.append(plural(acts, "more sudo/su use") + " to root")
    failures = failure_count(summary)
    if failures and failures >= alerts.failure_threshold:
        lines += failure_lines(summary, places)
        parts.append(failure_headline(summary))
        priorities += [alerts.priorities[kind] for kind in FAILURE_KINDS if summary.counts[kind]]
    unlisted = summary.counts["login"] - sum(count for _, count in summary.logins.values())
    if unlisted > 0:  # more logins than a run keeps: say so, as a login would
        lines.append(and_more(unlisted, "login"))
        parts.append(plural(unlisted, "more login"))
        priorities.append(alerts.priorities["login_new"])  # not judged: as if new
    known = summary.counts["known_login"]
    if known and alerts.known_priority is not None:
        lines += [f"Known login: {text}{times(n)}" for text, n in summary.known.items()]
        if known > sum(summary.known.values()):
            lines.append(and_more(known - sum(summary.known.values()), "known login"))
        parts.append(plural(known, "known login"))
        priorities.append(alerts.known_priority)
    if summary.counts["forged"]:
        lines += writer_lines(summary, "forged")
        parts.append(plural(summary.counts["forged"], "forged line"))
        priorities += [
            alerts.priorities.get(
                "login_new" if event.pretends == "login" else event.pretends,
                alerts.priorities["other"],
            )
            for event in summary.forged
        ]
    if summary.counts["other"]:
        lines += writer_lines(summary, "other")
        parts.append(plural(summary.counts["other"], "other line"))
        priorities.append(alerts.priorities["other"])
    if not lines:
        return None
    stamps = [summary.latest.get("digest")]
    if known and alerts.known_priority is not None:
        stamps.append(summary.latest.get("known"))
    return Message(
        summary.host,
        title_text(f"{summary.host}: {', '.join(parts)}"),
        fit_lines(lines, MAX_MESSAGE),
        max(priorities),
        unix_time(max(filter(None, stamps), default=None)),
        vital=vital,
    )


def said(writer, program, message):
    """Given who wrote an other or forged line (writer_of()), its program
    and message, return what the digest says of it alone."""
    kind, by = writer
    if kind == "forged":
        return f"{program} line written by {by}: {message}"
    return tagged(program, None, message)


def writer_lines(summary, kind):
    """Given a HostSummary and a kind of lines it holds ("other" or
    "forged"), return the digest's lines for them: per writer (writer_of()),
    the rarest first, a few lines as they were written, more in one line that
    counts them, so that a flood from one program is one line.
    """
    label = "Forged" if kind == "forged" else "Other"
    lines, listed_lines = [], 0
    for writer, (n, texts) in sorted(summary.writers.items(), key=lambda item: item[1][0]):
        if writer[0] != kind:
            continue
        if n <= FEW_LINES and len(texts) == n:
            lines += [f"{label}: {said(writer, *text)}" for text in texts]
        elif kind == "forged":  # the program it pretends to be, and what it says
            example = tagged(texts[0][0], None, texts[0][1])
            lines.append(f"{label}: {n} lines written by {writer[1]}, e.g. {example}")
        else:
            lines.append(f"{label}: {n} lines from {writer[1] or '?'}, e.g. {texts[0][1]}")
        listed_lines += n
    if summary.counts[kind] > listed_lines:
        lines.append(and_more(summary.counts[kind] - listed_lines, f"{kind} line"))
    return lines


def host_messages(summary, alerts, knowledge=NO_KNOWLEDGE):
    """Given a HostSummary, the Alerts and the Knowledge, return its
    Messages: one per unknown login, one for privilege use, one digest.
    """
    root_users = summary.root_users()
    # the rarest first, by who and from where: a flood of one user's logins
    # (with keys of every kind) is what gets folded, not another's
    places = Counter()
    for event, count in summary.logins.values():
        places[event.user, login_place(event)] += count
    messages = [
        login_message(
            summary.host,
            event,
            count,
            alerts.priorities,
            knowledge.verdicts.get((summary.host, login_key(event))),
            knowledge.places.get(event.ip),
            root_users,
            knowledge.notes.get((summary.host, login_key(event))),
        )
        for event, count in sorted(
            summary.logins.values(),
            key=lambda held: (places[held[0].user, login_place(held[0])], held[1]),
        )
    ]
    if summary.privilege:
        messages.append(privilege_message(summary, alerts.priorities, root_users))
    digest = digest_message(summary, alerts, knowledge.places)
    if digest:
        messages.append(digest)
    return messages


def fit_lines(lines, limit):
    """Given message lines and a length limit, return them joined, each line
    shortened to MAX_LINE_LENGTH, keeping whole lines and saying how many did
    not fit.
    """
    kept = []
    for index, line in enumerate(lines):
        line = shorten(clean(line), MAX_LINE_LENGTH)  # only what is kept is cleaned
        rest = len(lines) - index
        tail = and_more(rest, "line")
        if len("\n".join(kept + [line])) > limit - len(tail) - 1 and rest > 1:
            return "\n".join(kept + [tail])
        kept.append(line)
    return shorten("\n".join(kept), limit)


MAX_PARTS = 500  # titles a folded message remembers; it counts all


def merge_messages(messages):
    """Given Messages, return one that holds them all, at the highest of
    their priorities: first the vital acts of all of them (vital_lines()),
    then how many logins from how many users and places, if any, naming
    the users the rarest first; the title of each (for a login: who and from
    where); then as much of their bodies as fits, each under its title.
    Merging a merged message again keeps its titles, vital acts and counts.
    It keeps the MemoryNotes of the logins that its body still names.
    """
    host = messages[0].host
    titles = [title for message in messages for title in (message.parts or (message.title,))]
    logins = tuple(login for message in messages for login in message.logins)
    vital = merged_vital(entry for message in messages for entry in message.vital)
    for level in (1, 2, 3):  # what an outbox keeps stays bounded
        if len(vital) > MAX_PARTS:
            vital = grouped_vital(vital, level)
    headline = []
    if len(logins) > 1:
        users = Counter()
        for user, _, count in logins:
            users[user] += count
        origins = {origin for _, origin, _ in logins}
        rarest = [shorten(user, 20) for user, _ in sorted(users.items(), key=lambda item: item[1])]
        users_and_places = f"{plural(len(users), 'user')} and {plural(len(origins), 'place')}"
        count = plural(sum(users.values()), "login")
        headline = [f"{count} from {users_and_places}: {listed(rarest, 120)}"]
    details = [  # each message's lines under its title, without the host
        line
        for message in messages
        if not message.parts
        for line in [f"· {message.title.removeprefix(f'{message.host}: ')}"]
        + message.body.splitlines()
    ]
    folded = sum(message.folded + 1 for message in messages) - 1
    stamps = [message.timestamp for message in messages if message.timestamp]
    body = fit_lines(
        vital_lines(vital, host) + headline + [f"▶ {title}" for title in titles] + details,
        MAX_MESSAGE,
    )
    return Message(
        host,
        title_text(f"{titles[0]} {and_more(folded)}"),
        body,
        max(message.priority for message in messages),
        max(stamps, default=None),
        folded=folded,
        parts=tuple(titles[:MAX_PARTS]),
        logins=logins[:MAX_PARTS],
        vital=vital,
        notes=kept_notes([note for message in messages for note in message.notes], body),
        privilege=any(message.privilege for message in messages),
    )


def tells_proven_vital(message):
    """Given a Message, return whether it tells of a vital act that is not
    unverified: such messages come first, and alone may spend the quota's
    reserve past today's budget (see quota_plan()), so that acts that a
    user may have written cannot spend it."""
    return any(not what.endswith(UNVERIFIED) for _, what, *_ in message.vital)


def fold_messages(messages, limit):
    """Given Messages and the most that may be sent, return them most urgent
    first (of one priority, those with vital acts first, proven ones before
    unverified ones), the ones past the limit folded into the last.
    """
    ordered = sorted(
        messages,
        key=lambda message: (
            -message.priority,
            not tells_proven_vital(message),
            not message.vital,
        ),
    )
    if len(ordered) <= limit:
        return ordered
    return ordered[: limit - 1] + [merge_messages(ordered[limit - 1 :])]


def plan_messages(summaries, notices, local_host, alerts, knowledge=NO_KNOWLEDGE, lost=False):
    """Given a dict of HostSummary, notices from authwatch itself (such as
    "events may be missing"), the local host name, the Alerts, the
    Knowledge of logins and addresses and whether a notice says that lines
    may be missing, return the Messages to send, most urgent first; the
    notices lead the first message (after the vital lines it begins with,
    if any), or make one of their own.  When lines may be missing, that
    message rings at least as a new login does: a login of root may be
    among them (a flood can make journald delete what no run read yet).
    """
    messages = fold_messages(
        [
            message
            for summary in summaries.values()
            for message in host_messages(summary, alerts, knowledge)
        ],
        alerts.max_messages,
    )
    notes = [f"Note: {notice}" for notice in notices]
    if notes and messages:
        first = messages[0]
        lines = first.body.splitlines()
        head = vital_lines(first.vital, first.host)
        at = len(head) if head and lines[: len(head)] == head else 0
        body = fit_lines(lines[:at] + notes + lines[at:], MAX_MESSAGE)
        told = kept_notes(first.notes, body) if first.folded else first.notes
        messages[0] = first._replace(body=body, notes=told)
    elif notes:
        title = title_text(f"{local_host}: authwatch notice")
        messages = [Message(local_host, title, fit_lines(notes, MAX_MESSAGE), 0, None)]
    if lost:
        loud = max(messages[0].priority, alerts.priorities["login_new"])
        messages[0] = messages[0]._replace(priority=loud)
    return messages


def test_message(host):
    """Given this host's name, return the Message that --test-notification sends."""
    return Message(
        host, title_text(f"{host}: authwatch test"), f"authwatch on {host} can reach you.", 0, None
    )


def event_json(event, place=None, new_origin=None):
    """Given an Event, where its address is (a Place, or None) and, for a
    login, whether it is new to the memory of logins, return its public JSON
    object as one line."""
    fields = event._asdict()
    public = {name: fields[name] for name in JSON_FIELDS}
    public["time"] = event.time.isoformat() if event.time else None
    public.update(
        country=place.country if place else None,
        asn=place.asn if place else None,
        as_org=place.as_org if place else None,
        new_origin=new_origin,
        line=public.pop("line"),  # last, as ever
    )
    return json.dumps(public)


def format_message(message, held=None):
    """Given a Message and why it waits for the quota (None: it goes),
    return how --dry-run shows it."""
    held = f" [held: {held}]" if held else ""
    return f"=== {message.title} [priority {message.priority}]{held}\n{message.body}\n"


### Reading the log #########################################################


MAX_LINE = 64 * 1024  # a longer line keeps this much; the rest is skipped


def text_of(data, length):
    """Given the bytes of a line or a journal field (its first MAX_LINE bytes
    at least) and how long it is, return it as text: UTF-8 where valid, a
    replacement mark for each bad byte; past MAX_LINE bytes, its first
    MAX_LINE and a note of how many were cut."""
    text = data[:MAX_LINE].decode("utf-8", "replace")
    return text if length <= MAX_LINE else text + cut_note(length - MAX_LINE)


def fingerprint_of(file):
    """Given a binary file (plain or gzip), return a fingerprint of its first
    line, which a rotated copy keeps; None while it has no full line.
    """
    file.seek(0)
    first = file.readline(MAX_LINE)
    if not first.endswith(b"\n") and len(first) < MAX_LINE:
        return None
    return f"{zlib.crc32(first):08x}{zlib.adler32(first):08x}"


# Read in pieces, each split into lines: a piece of the shortest lines is a
# list of as many objects, so a piece is not larger than this.
READ_SIZE = 256 * 1024
NO_LIMIT = sys.maxsize  # an offset that no file reaches


def read_records(file, now, keep_partial, end=None, limit=None):
    """Given a binary file at the place to read from, the current local time,
    whether to keep a last line without its newline, the offset to stop at
    (None: the end) and how many bytes may be read (None: no limit), yield
    the Record of each line (see text_of(), without the line ending).  Once
    limit bytes are read, stop before the next full line and return True
    (a line is read whole, however long: each call reads one at least);
    else return False.  A last line without its newline is read only if
    keep_partial (the file is rotated and done), else the file is left just
    before it (syslog is still writing it, or it goes past the end asked
    for); otherwise just after what was read.
    """
    start = file.tell()  # of the line being read: counted, not asked for each line
    stop = NO_LIMIT if limit is None else start + limit
    left = None if end is None else end - start  # a log that grows while it is read
    pending, pending_length = b"", 0  # the line being read: its first bytes, its length
    while left is None or left > 0:
        chunk = file.read(READ_SIZE if left is None else min(READ_SIZE, left))
        if left is not None:
            left -= len(chunk)
        if not chunk:
            break
        pieces = chunk.split(b"\n")
        for piece in pieces[:-1]:  # each ends a line
            if start >= stop:
                file.seek(start)
                return True
            length = pending_length + len(piece)
            line = pending + piece if pending_length else piece
            yield parse_line(text_of(line, length).rstrip("\r"), now)
            start += length + 1
            pending, pending_length = b"", 0
        if len(pending) < MAX_LINE:
            pending = (pending + pieces[-1])[:MAX_LINE]
        pending_length += len(pieces[-1])
    if pending_length and keep_partial:
        if start >= stop:
            file.seek(start)
            return True
        yield parse_line(text_of(pending, pending_length).rstrip("\r"), now)
        start += pending_length
    file.seek(start)  # a line syslog is still writing waits for the next run
    return False


def open_log(path):
    """Given a log or rotated log path, return it opened for binary reading
    (gzip-decompressing a .gz file).
    """
    if path.endswith(".gz"):
        import gzip

        return gzip.GzipFile(fileobj=open_regular(path), mode="rb")
    return open_regular(path)


def open_regular(path):
    """Given a path, return it opened for binary reading if it is a regular
    file; raise OSError if it is not (a FIFO would block the run for ever, a
    device such as /dev/zero never end) or cannot be opened.
    """
    descriptor = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    if not stat.S_ISREG(os.fstat(descriptor).st_mode):
        os.close(descriptor)
        raise OSError(errno.EINVAL, "not a regular file")
    return os.fdopen(descriptor, "rb")


def rotated_candidates(path, rotated_only=False):
    """Given the log path, yield the files its old content may have been
    rotated to: every sibling named after it, or with rotated_only only those
    named as rotation names them (logrotate's "auth.log.1" and
    "auth.log.2.gz", dateext's "secure-20261126", savelog's "auth.log.0"),
    the most recently written first.
    """
    folder, name = os.path.split(path)
    rotated = re.compile(re.escape(name) + r"(?:\.\d{1,4}|-\d{8}(?:\d{2})?)(?:\.gz)?")
    siblings = []
    for entry in os.listdir(folder or "."):
        if rotated.fullmatch(entry) if rotated_only else entry.startswith((name + ".", name + "-")):
            with contextlib.suppress(OSError):  # a dangling link, or gone meanwhile
                siblings.append((os.stat(os.path.join(folder, entry)).st_mtime, entry))
    for _, entry in sorted(siblings, reverse=True):
        yield os.path.join(folder, entry)


# what reading a rotated log may raise: a damaged gzip file raises any of them
UNREADABLE = (OSError, EOFError, zlib.error)


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
        except UNREADABLE:
            continue  # unreadable or not ours: not the one
    return None, False


class Source:
    """Where new records come from: the log file or the journal.  A source is
    used once, in this order:

    1. records(now) yields the Record of everything new, or of as much as
       its budget allows (then a notice says that it is catching up), and
       notice()s what the admin must know (lines that may be missing or
       repeated);
    2. once it has been read to its end, notices() returns those notices
       and positions() where it got to, as {position file: its text};
    3. save() stores that position.

    For --learn, history(now) instead yields the Record of everything that
    is still there up to the stored position, oldest first; nothing is
    stored.

    Asking for notices() or positions() before records() has been read to its
    end, or reading twice, is a bug: it raises RuntimeError rather than
    store a position that was never reached.
    """

    def __init__(self, position_path, from_start):
        self.position_path = position_path
        self.from_start = from_start
        self.started = False  # records() was asked for
        self.position = None  # where read() ended; None until it has
        self.collected = []  # the notices
        self.lost = False  # one of them says that lines may be missing
        self.budget = None  # how many bytes read() may read (see read_budget()); None: all
        self.spent = 0  # how many it has read

    def describe(self):
        """Return what is read, for people ("log file /var/log/auth.log")."""
        raise NotImplementedError

    def read(self, now):
        """Given the current local time, yield a Record for everything new;
        return the position reached.  Raise SourceError if it cannot be read.
        """
        raise NotImplementedError

    def position_text(self, position):
        """Given the position reached, return the text of the position file."""
        raise NotImplementedError

    def history(self, now):
        """Given the current local time, yield the Record of everything that
        is still there, oldest first.  Raise SourceError if it cannot be read.
        """
        raise NotImplementedError

    def records(self, now):
        """Given the current local time, yield a Record for everything new.

        Raise SourceError if the source cannot be read.
        """
        if self.started:
            raise RuntimeError(f"{self.describe()} was read twice")
        self.started = True
        self.position = yield from self.read(now)

    def notice(self, text, lost=False):
        """Given what the admin must know (events may be missing or repeated)
        and whether it says that lines may be missing, keep it for the next
        message and say it on stderr.
        """
        self.collected.append(text)
        self.lost = self.lost or lost
        report.warning("%s", text)

    def notices(self):
        """Return the notices of the reading, once it is done."""
        self.check_read()
        return self.collected

    def positions(self):
        """Return the position records() reached, as {position file: its text}."""
        self.check_read()
        return {self.position_path: self.position_text(self.position)}

    def save(self):
        """Store the position that records() reached, unless it is the stored one."""
        store_positions_if_changed(self.positions())

    def check_read(self):
        """Raise RuntimeError unless records() has been read to its end."""
        if self.position is None:
            raise RuntimeError(f"{self.describe()} was not read to its end")

    def left(self):
        """Return how many bytes read() may still read (None: no limit)."""
        return None if self.budget is None else self.budget - self.spent

    def catching_up(self, read_to, left, left_to):
        """Given the time of the last line or entry read (or None), what is
        left unread (for people) and the time of the last one there (or None),
        notice that the budget ran out before the end: the next run goes on."""
        self.notice(
            f"catching up: read {size_text(self.spent)} of {self.describe()}{up_to(read_to)};"
            f" {left} left{up_to(left_to)}"
        )


class FileSource(Source):
    """The full lines added to a log file since the stored position, also
    across rotation: by renaming (logrotate's create, dateext), by copying
    (copytruncate) and with compression, delayed or not.  The file last read
    is recognised by its inode or, once copied or compressed, by a
    fingerprint of its first line.
    """

    def __init__(self, path, position_path, from_start):
        super().__init__(position_path, from_start)
        self.path = path  # its position: (inode, offset, fingerprint of the first line)

    def describe(self):
        return f"log file {self.path}"

    def read(self, now):
        stored = None if self.from_start else self.stored_position()
        with open_readable(self.path) as current:
            status = os.fstat(current.fileno())
            inode, end = status.st_ino, status.st_size  # lines written later: the next run's
            fingerprint = fingerprint_of(current)
            if stored is None and not self.from_start:
                report.info(
                    "no position stored for %s yet: starting at its end"
                    " (--from-start reads it all)",
                    self.path,
                )
                current.seek(0, os.SEEK_END)
                return (inode, end_of_last_full_line(current), fingerprint)
            offset, old = self.where_to_go_on(stored, inode, fingerprint)
            if old is not None:
                reached = yield from self.rotated_records(old, stored, now)
                if reached is not None:  # the budget ran out in the rotated file
                    left = f"the rest of {os.path.basename(old)} and {size_text(end)} of the log"
                    self.catching_up(time_before(old, reached[1], now), left, None)
                    return reached
                offset = 0
            current.seek(offset)
            behind = yield from read_records(current, now, False, end, self.left())
            self.spent += current.tell() - offset
            position = (inode, current.tell(), fingerprint)
            if behind:
                current.seek(end)
                self.catching_up(
                    time_before(self.path, position[1], now),
                    size_text(end - position[1]),
                    time_before(self.path, end_of_last_full_line(current), now),
                )
            return position

    def history(self, now):
        # only what a run has read: a line past the stored position has
        # not been judged yet, and learning it would make it familiar
        stored = None if self.from_start else self.stored_position()
        with open_readable(self.path):  # the log itself must be there
            pass
        for path in [*reversed(list(rotated_candidates(self.path, rotated_only=True))), self.path]:
            try:
                with open_log(path) as file:
                    end = None
                    if stored and os.fstat(file.fileno()).st_ino == stored[0]:
                        end = stored[1]
                    yield from read_records(file, now, end is None, end)
            except UNREADABLE as error:
                report.warning("cannot read %s, left out: %s", path, one_line(error))
                continue
            if end is not None:
                return  # the files after it are not read yet

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

    def where_to_go_on(self, stored, inode, fingerprint):
        """Given the stored position (or None) and the current file's inode
        and fingerprint, return (where to read the current file from, the
        file that the one last read was rotated to, or None): the rotated
        file's unread tail comes first.  Notice a rotation that may have
        lost lines.
        """
        if stored is None or stored[0] is None:
            return 0, None
        stored_inode, offset, stored_fingerprint = stored
        same = inode == stored_inode and os.stat(self.path).st_size >= offset
        if same and stored_fingerprint in (None, fingerprint):
            return offset, None
        old, newest = find_rotated(self.path, stored_inode, stored_fingerprint)
        if old is None:
            self.notice(
                f"{self.path} was rotated to a place authwatch does not know:"
                " lines written before the rotation may be missing",
                lost=True,
            )
        elif not newest:
            self.notice(
                f"{self.path} was rotated more than once since the last run:"
                f" lines in the files between {old} and it may be missing",
                lost=True,
            )
        return 0, old

    def rotated_records(self, old, stored, now):
        """Given the file that the one last read was rotated to, the stored
        position and the current local time, yield the Records of its unread
        tail, as far as the budget allows; return None when it is read to
        its end, else the position reached in it.
        """
        report.info("reading the rest of %s, rotated from %s", old, self.path)
        _, offset, fingerprint = stored
        try:
            with open_log(old) as file:
                file.seek(offset)
                behind = yield from read_records(file, now, True, limit=self.left())
                self.spent += file.tell() - offset
                if behind:
                    return (os.fstat(file.fileno()).st_ino, file.tell(), fingerprint)
        except UNREADABLE as error:
            self.notice(
                f"cannot read the rest of {old} ({one_line(error)}):"
                " lines written before the rotation may be missing",
                lost=True,
            )
        return None

    def position_text(self, position):
        return file_position_text(position)


def time_before(path, offset, now):
    """Given a log or rotated log path, an offset just after a full line in
    it and the current local time, return the time of that line, or None
    when it has none or cannot be read."""
    try:
        with open_log(path) as file:
            file.seek(max(offset - MAX_LINE, 0))
            block = file.read(min(offset, MAX_LINE))
    except UNREADABLE:
        return None
    line = block[:-1].rpartition(b"\n")[2]
    return parse_line(text_of(line, len(line)).rstrip("\r"), now).time


def up_to(moment):
    """Given the time of the last of some lines (or None), return " (to
    2026-11-27 12:04:59)", or nothing."""
    return f" (to {moment.astimezone():%Y-%m-%d %H:%M:%S})" if moment else ""


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
        return open_regular(path)
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
JOURNAL_IDENTIFIERS = sorted(
    {program for each in RULES if each.kind != "noise" for program in each.programs or ()}
)
INSTALL_SYSTEMD_PYTHON = (
    "reading the journal needs systemd-python: pip install 'authwatch[journald]'"
    " (with libsystemd-dev and pkg-config), or apt install python3-systemd"
)

# sshd's privilege-separation user: OpenSSH's configure.ac (SSH_PRIVSEP_USER),
# kept by Debian and Fedora.  Another machine's is not known: any of its
# system users (below 1000, shadow's and systemd's SYS_UID_MAX) may be it.
PRIVSEP_USERS = ("sshd",)
SYSTEM_UIDS = 1000
JOURNAL_LOOKBACK = 3600 * 1_000_000  # µs: how late an entry may arrive and still be read
JOURNAL_ENTRY_COST = 256  # what the budget counts for an entry, besides its fields read


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
        self.instead_of = instead_of  # the log file that auto found not there

    def describe(self):
        if self.journal_dir:
            return f"journal files in {self.journal_dir}"
        return "the systemd journal"

    def read(self, now, until=None):
        """Given the current local time (and, for history(), a stored
        position: then only the entries it says were handled), yield the new
        entries' Records; return the position reached."""
        try:
            reader = open_journal(self.journal_dir)
        except SourceError as error:
            if self.instead_of:
                raise SourceError(f"{error} (and there is no {self.instead_of})") from None
            raise
        stored = None if self.from_start else self.stored_position(now)
        # the newest entry now: entries of its sequence written later are the next run's
        reader.seek_tail()
        tail = reader._previous()
        last = sequence_of(reader._get_cursor()) if tail else (None, -1)
        newest_there = reader._get_realtime() if tail else None
        if self.from_start:
            reader.seek_head()
            cursor, newest, seen = None, 0, {}
        elif stored is None:
            report.info(
                "no position stored for %s yet: starting at its end (--from-start reads it all)",
                self.describe(),
            )
            reader.seek_tail()
            newest = reader._get_realtime() if reader._previous() else microseconds(now)
            reader.seek_realtime(max(newest - JOURNAL_LOOKBACK, 0))
            cursor, seen = None, {}
            while reader._next():  # what is there now counts as handled
                cursor = reader._get_cursor()
                note_entry(reader, seen, cursor)
            return journal_position(cursor, newest, seen)
        else:
            cursor, newest, seen = stored["cursor"], stored["realtime"], stored["seen"]
            if cursor and not entry_exists(reader, cursor):
                since = journal_time(newest).astimezone()
                self.notice(
                    "the journal entry read last is gone (vacuumed or rotated away):"
                    f" entries since {since:%Y-%m-%d %H:%M:%S} may be missing",
                    lost=True,
                )
                cursor = None  # said once
            reader.seek_realtime(max(stored.get("start", newest - JOURNAL_LOOKBACK), 0))
        budget, entries, realtime = self.left(), 0, None
        while reader._next():
            entry_cursor = reader._get_cursor()
            sequence, number = sequence_of(entry_cursor)
            if sequence == last[0] and number > last[1]:
                break  # written while this run reads: a flood is not chased
            if number <= seen.get(sequence, (-1, 0))[0]:
                continue  # handled by an earlier run
            if until and not handled(until, sequence, number, reader._get_realtime()):
                continue
            self.spent = reader.read_bytes + entries * JOURNAL_ENTRY_COST
            if budget is not None and self.spent >= budget:
                self.catching_up(journal_time(realtime), "entries", journal_time(newest_there))
                break
            realtime = note_entry(reader, seen, entry_cursor)
            cursor, newest = entry_cursor, max(newest, realtime)
            entries += 1
            yield journal_record(reader, realtime)
        return journal_position(cursor, newest, seen)

    def history(self, now):
        # only what a run has handled: an entry past the stored position has
        # not been judged yet, and learning it would make it familiar
        stored = None if self.from_start else self.stored_position(now)
        self.from_start = True
        yield from self.read(now, stored)

    def stored_position(self, now):
        """Given the current local time, return the stored position (None if
        there is none), or, when the position file is corrupt, one that
        starts 5 minutes before its last change: entries may come twice, but
        none is lost.
        """
        try:
            return read_journal_position(self.position_path, now)
        except StateError as error:
            try:
                changed = microseconds_of_file(self.position_path)
            except OSError:
                changed = microseconds(now)
            self.notice(f"{error}: the position was reset to the time of its last change")
            since = changed - 300 * 1_000_000
            return {"cursor": None, "realtime": since, "seen": {}, "start": since}

    def position_text(self, position):
        return journal_position_text(position)


def microseconds(moment):
    """Given an aware datetime, return it in µs since the epoch, as the journal counts."""
    return int(moment.timestamp() * 1_000_000)


def handled(position, sequence, number, realtime):
    """Given a stored journal position and an entry's sequence, number in it
    and time, return whether a run has handled the entry."""
    if realtime < position["realtime"] - JOURNAL_LOOKBACK:
        return True  # before the window that the position keeps by number
    return number <= position["seen"].get(sequence, (-1, 0))[0]


def microseconds_of_file(path):
    """Given a path, return the time of its last change in µs since the
    epoch; raise OSError if it cannot be found."""
    return os.stat(path).st_mtime_ns // 1000


def journal_time(realtime):
    """Given a time in µs since the epoch, as the journal counts, return it
    as an aware datetime (UTC)."""
    return datetime.datetime.fromtimestamp(realtime / 1_000_000, datetime.timezone.utc)


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
    try:
        reader.seek_cursor(cursor)
        # seek_cursor() moves to the nearest entry, so check
        return reader._next() and reader.test_cursor(cursor)
    except (ValueError, OSError):  # a cursor of the right form that systemd refuses
        return False


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

    Raise SourceError if systemd-python is missing or the journal cannot be
    opened.
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
    if not files:
        raise SourceError(f"no journal files in {' or '.join(folders)}")
    if not any(os.access(path, os.R_OK) for path in files if "/user-" not in path):
        # a user may read its own user-UID.journal, which holds no authentication
        raise SourceError(journal_denied(" or ".join(folders)))
    try:
        reader = journal.Reader(path=journal_dir) if journal_dir else journal.Reader()
    except OSError as error:
        raise SourceError(f"cannot open the journal: {error.strerror}") from None
    reader.data_threshold = MAX_LINE  # where libsystemd heeds it, it cuts fields itself
    reader.read_bytes = 0  # of the fields read by journal_field()
    for facility in AUTH_FACILITIES:
        reader.add_match(SYSLOG_FACILITY=facility)
    reader.add_disjunction()
    for identifier in JOURNAL_IDENTIFIERS:
        reader.add_match(SYSLOG_IDENTIFIER=identifier)
    return reader


def journal_field(reader, name):
    """Given a Reader on an entry (see open_journal()), return one field as
    text (None if absent), cut to MAX_LINE bytes as soon as it is read (see
    text_of()): one field at a time passes through memory whole (neither
    libsystemd, which decompresses it whole, nor systemd-python, which
    returns it whole, heeds the data threshold everywhere).  The run's
    budget counts the bytes read.
    """
    try:
        data = reader._get(name)
    except KeyError:
        return None
    reader.read_bytes += len(data)
    return text_of(data, len(data))


def journal_record(reader, realtime):
    """Given a Reader on an entry and its time in µs, return its Record, with
    the line rebuilt as rsyslog would write it (for noise patterns and --json)
    and, when its _UID is not root's, its Writer (see judged()).
    """
    stamp = journal_time(realtime)
    host = journal_field(reader, "_HOSTNAME")
    program = journal_field(reader, "SYSLOG_IDENTIFIER") or journal_field(reader, "_COMM")
    pid = journal_field(reader, "_PID") or journal_field(reader, "SYSLOG_PID")
    message = journal_field(reader, "MESSAGE") or ""
    tag = f"{program}[{pid}]" if pid and pid.isdigit() else program
    line = f"{stamp.isoformat()} {host or '-'} {tag}: {message}"
    record = record_of(stamp, host, program, pid, message, line)
    uid = journal_field(reader, "_UID")  # the kernel's: root's, or judged (see judged())
    if uid and uid.isdigit() and int(uid):
        return record._replace(writer=journal_writer(reader, program, int(uid)))
    return record


def journal_writer(reader, program, uid):
    """Given a Reader on an entry whose _UID is not root's, the entry's
    program and that uid, return its Writer.  _COMM and _EXE are what
    journald read in /proc after the entry came: missing when the sender had
    exited.  The binary is looked at where the entry is this machine's;
    another machine's (a log host's) is judged by the usual paths.
    """
    command = journal_field(reader, "_COMM")
    path = journal_field(reader, "_EXE")
    machine = journal_field(reader, "_MACHINE_ID")
    here = machine is not None and machine == this_machine_id()
    names = binaries_of(program)
    its_own = path is None or path.rsplit("/", 1)[-1] in names
    setuid = bool(path) and its_own and is_setuid_binary(path, here)
    # another machine's: any system user may be its sshd's, if its binary is sshd's
    maybe = None if uid < SYSTEM_UIDS and its_own else False
    privsep = uid in privsep_uids() if here else maybe
    # a binary of the program's own name is told by where it is: /usr/sbin/sshd
    name = path if path and (not command or command in names) else command
    return Writer(uid, name, path, setuid, not here or users_may_mount(), privsep)


def is_setuid_binary(path, here):
    """Given an _EXE path and whether it is this machine's, return whether it
    is a regular file owned by root with the setuid bit (on another machine:
    a usual path of one, SETUID_PATHS)."""
    if "(deleted)" in path or ".." in path:
        return False
    if not here:
        return path in SETUID_PATHS
    try:
        status = os.stat(path)
    except (OSError, ValueError):  # ValueError: a NUL in the path
        return False
    return (
        stat.S_ISREG(status.st_mode) and status.st_uid == 0 and bool(status.st_mode & stat.S_ISUID)
    )


# What forbids a user to make a user namespace and mount in it: a 0 in the first
# two (Debian's patch up to 10; Linux), a 1 in the third (AppArmor, Ubuntu 23.10+:
# the namespace gets no capabilities).
USER_NAMESPACE_SWITCHES = (
    ("/proc/sys/kernel/unprivileged_userns_clone", "0"),
    ("/proc/sys/user/max_user_namespaces", "0"),
    ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1"),
)


@functools.cache
def users_may_mount():
    """Return whether a user of this machine may make a user namespace of
    their own and mount in it (unshare -Urm), as Linux lets them unless told
    not to: there, any binary may be mounted over a setuid one's path, and
    journald, which reads /proc/PID/exe, names it by that path."""
    for path, forbids in USER_NAMESPACE_SWITCHES:
        with contextlib.suppress(OSError), open(path, encoding="ascii", errors="replace") as file:
            if file.read(32).strip() == forbids:
                return False
    return True


@functools.cache
def this_machine_id():
    """Return this machine's ID (/etc/machine-id), None where it has none."""
    try:
        with open("/etc/machine-id", encoding="ascii", errors="replace") as file:
            return file.read(64).strip() or None
    except OSError:
        return None


@functools.cache
def privsep_uids():
    """Return the uids of this machine's users named in PRIVSEP_USERS."""
    import pwd

    uids = set()
    for name in PRIVSEP_USERS:
        with contextlib.suppress(KeyError):
            uids.add(pwd.getpwnam(name).pw_uid)
    return frozenset(uids)


def open_source(config, from_start):
    """Given the Config and whether to read from the start, return the source
    to read: the log file, or the journal when the type is journald, or auto
    and the log file is not there to read.
    """
    path = os.path.abspath(config.log_path)
    use_journal = config.source_type == "journald"
    if config.source_type == "auto":
        # the journal only where no log was named and the system's are not there:
        # a log that is named wrongly, or that this user may not read, is an error
        use_journal = config.log_path in DEFAULT_LOG_PATHS and not os.path.lexists(path)
        report.info(
            "source type auto: %s",
            f"{path} is not there, reading the journal" if use_journal else f"reading {path}",
        )
    if use_journal:
        folder = os.path.abspath(config.journal_dir) if config.journal_dir else None
        instead_of = path if config.source_type == "auto" else None
        position_path = journal_position_path(config.state_dir, folder)
        return JournalSource(folder, position_path, from_start, instead_of)
    return FileSource(path, file_position_path(config.state_dir, path), from_start)


### Where an address is ####################################################


def locator(geoip):
    """Given the GeoIP databases, return a function that, given an address,
    returns its Place, or None when no database is configured or the
    address is none (a host name).  A database is opened on first use; one
    that cannot be read is said once, and left out: a place is a help, the
    login is the alarm.
    """
    if not (geoip.city_db or geoip.asn_db):
        return lambda ip: None
    readers = {}

    @functools.lru_cache(maxsize=4096)
    def place_of(ip):
        special = special_address(ip)
        if special:
            return Place(special=special)
        if not is_address(ip):
            return None
        city = lookup(readers, geoip.city_db, ip)
        system = lookup(readers, geoip.asn_db, ip)
        asn = system.get("autonomous_system_number")
        return Place(
            country=text_at(city, "country", "iso_code")
            or text_at(city, "registered_country", "iso_code"),
            city=text_at(city, "city", "names", "en"),
            asn=asn if type(asn) is int and asn > 0 else None,
            as_org=text_at(system, "autonomous_system_organization"),
        )

    # a text longer than any address (with its zone) is none: not kept in the cache
    return lambda ip: place_of(ip) if len(ip) <= 64 else None


MAX_PLACE_NAME = 60  # a name a database holds, shortened: it goes into titles


def text_at(record, *keys):
    """Given what a GeoIP database holds of an address and the keys of a
    name in it, return the name if it is text there, shortened, else None:
    a database of another layout leaves a place out, never the alarm."""
    for key in keys:
        record = record.get(key) if isinstance(record, dict) else None
    return shorten(record, MAX_PLACE_NAME) if isinstance(record, str) and record else None


def lookup(readers, path, ip):
    """Given the open databases (path -> reader, None for one that cannot be
    read), a database path (or None) and an address, return what the
    database holds of the address: a dict, empty if nothing."""
    if not path:
        return {}
    if path not in readers:
        readers[path] = open_mmdb(path)
    try:
        record = readers[path].get(ip) if readers[path] else None
    except (ValueError, RuntimeError):  # no address; a damaged record
        return {}
    return record if isinstance(record, dict) else {}


def open_mmdb(path):
    """Given a MaxMind DB path, return its reader, or None (with a warning)
    if it cannot be read."""
    try:
        import maxminddb

        return maxminddb.open_database(path)
    except (ImportError, OSError, ValueError, RuntimeError) as error:
        report.warning(
            "cannot read the GeoIP database %s, places left out: %s", path, one_line(error)
        )
        return None


### State ###################################################################


def write_atomically(path, text, mode=0o600):
    """Given a path, its new text and its mode, replace the file so that a
    crash leaves either the old or the new text: temp file, fsync, rename,
    fsync the folder.

    Raise StateError if it cannot be written.
    """
    import tempfile

    folder = os.path.dirname(path) or "."
    try:
        handle, temp_path = tempfile.mkstemp(dir=folder, prefix=".tmp-")
        try:
            os.fchmod(handle, mode)
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
        status = os.lstat(path)
        if stat.S_ISLNK(status.st_mode) and status.st_uid == 0:
            # root's link, as systemd's StateDirectory= makes for a DynamicUser
            status = os.stat(path)
        check_owned(path, status)
    except OSError as error:
        raise StateError(f"cannot create state directory {path}: {error.strerror}") from None
    if not os.access(path, os.W_OK | os.X_OK):  # also false on a read-only file system
        raise StateError(f"cannot write in state directory {path}")


def check_owned(path, status):
    """Given a state directory or file and its stat, raise StateError unless
    it is this user's alone: one that another user owns or may write could
    make a run as root write where that user chooses.
    """
    if status.st_uid != os.geteuid():
        raise StateError(
            f"{path} belongs to uid {status.st_uid}, not to this user (uid {os.geteuid()}):"
            " refusing it (remove it, or set [state] dir)"
        )
    if status.st_mode & 0o022:
        raise StateError(f"{path} may be written by other users: refusing it (chmod go-w it)")


def file_position_path(state_dir, log_path):
    """Given the state directory and a log's absolute path, return the path
    of the file that keeps the position read to in it."""
    return os.path.join(state_dir, log_path.strip("/").replace("/", "_") + ".offset")


def file_position_text(position):
    """Given a position in a log file (inode, offset, fingerprint or None),
    return the text of its position file (see read_position())."""
    inode, offset, fingerprint = position
    return f"{inode}\n{offset}\n{fingerprint or ''}\n"


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
    if not (0 <= inode < 2**64 and 0 <= offset < 2**63) or len(fields) > 3:
        raise StateError(f"{path} is corrupt")
    return inode, offset, fingerprint


def journal_position_path(state_dir, journal_dir):
    """Given the state directory and a folder of journal files (absolute;
    None for the local journal), return the path of the file that keeps the
    position read to in it."""
    name = "journal" + journal_dir.replace("/", "_") if journal_dir else "journal"
    return os.path.join(state_dir, name + ".position")


def journal_position_text(position):
    """Given a position in the journal (see journal_position()), return the
    text of its position file."""
    return json.dumps(position) + "\n"


# a journal cursor as sd_journal_get_cursor() writes it
CURSOR = re.compile(
    r"s=[0-9a-f]{1,64};i=[0-9a-f]{1,16};b=[0-9a-f]{1,64};m=[0-9a-f]{1,16};t=[0-9a-f]{1,16}"
    r";x=[0-9a-f]{1,16}"
)


def read_journal_position(path, now):
    """Given the journal position file and the current local time, return
    the position it holds (with
    "cursor", "realtime" and "seen"), or None if there is no such file.

    Raise StateError if it exists but cannot be read or understood.
    """
    try:
        with open(path, encoding="utf-8") as file:
            position = json.load(file)
        cursor, realtime = position.get("cursor"), position["realtime"]
        seen = {
            str(sequence): (int(number), int(handled_at))
            for sequence, (number, handled_at) in position.get("seen", {}).items()
        }
        if type(realtime) is not int or not 0 <= realtime < microseconds(
            now + datetime.timedelta(days=1)
        ):
            raise ValueError  # a time more than a day ahead would read nothing for ever
        if not (cursor is None or (isinstance(cursor, str) and CURSOR.fullmatch(cursor))):
            raise ValueError
    except FileNotFoundError:
        return None
    except OSError as error:
        raise StateError(f"cannot read {path}: {error.strerror}") from None
    except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError):
        raise StateError(f"{path} is corrupt") from None
    return {"cursor": cursor, "realtime": realtime, "seen": seen}


LOGINS = "logins.json"  # the memory of logins
OUTBOX = "outbox.json"  # messages built but not yet accepted by Pushover
QUOTA = "pushover.json"  # what Pushover last said of the monthly quota


def read_json_state(path, default, limit):
    """Given a JSON state file, what to return when it does not exist and
    the most bytes it may hold (authwatch writes less), return its contents.

    Raise StateError if it cannot be read, is larger or is not JSON.
    """
    try:
        with open(path, encoding="utf-8") as file:
            status = os.fstat(file.fileno())
            check_owned(path, status)
            if status.st_size > limit:
                raise ValueError(f"larger than {size_text(limit)}")
            return json.load(file)
    except FileNotFoundError:
        return default
    except (OSError, ValueError, RecursionError) as error:  # RecursionError: nesting
        raise StateError(f"cannot read {path}: {one_line(error)[:200]}") from None


def read_memory(state_dir, move_damaged=True):
    """Given the state directory, return (the memory of logins, or None when
    there is none yet, notices).  A damaged memory is moved aside, with a
    notice, and counts as none (or, with move_damaged False, as for a dry
    run, only left out).

    Raise StateError if a damaged memory cannot be moved aside.
    """
    path = os.path.join(state_dir, LOGINS)
    try:
        stored = read_json_state(path, None, 4 * MEMORY_BYTES)
        return (None if stored is None else checked_memory(stored)), []
    except (StateError, TypeError, ValueError, AttributeError, KeyError):
        notice = set_aside(path, "what it knew of logins is forgotten", move_damaged)
        return None, [notice] if notice else []


LAST_TIME = 2**33  # Unix time in the year 2242: a later time in the memory is damage
# see origins_of(); a pattern, compiled (by re) on first use: a quiet run needs none
ORIGIN = r"local|(?:net|as|key|host):\S.*"


def checked_memory(stored):
    """Given the memory of logins as logins.json holds it, return it; raise
    ValueError or TypeError if it is not what authwatch writes."""
    if type(stored["version"]) is not int or stored["version"] != 1:
        raise ValueError
    memory = {}
    for host, users in stored["hosts"].items():
        for user, known in users.items():
            # names as a run keeps them (an older version kept them whole)
            host, user = (kept_text(str(name), KEPT_NAME) for name in (host, user))
            kept = memory.setdefault(host, {}).setdefault(user, {})
            for origin, (first, last, count, place) in known.items():
                if not (type(first) is type(last) is type(count) is int and isinstance(place, str)):
                    raise TypeError
                if not (
                    0 <= first <= last < LAST_TIME and count > 0 and re.fullmatch(ORIGIN, origin)
                ):
                    raise ValueError
                place = kept_text(place, KEPT_NAME)
                kept[kept_text(origin, KEPT_TEXT)] = [first, last, count, place]
    return memory


def write_memory(state_dir, memory):
    """Given the state directory and the memory of logins, store it."""
    text = json.dumps({"version": 1, "hosts": memory}, ensure_ascii=False, separators=(",", ":"))
    write_atomically(os.path.join(state_dir, LOGINS), text + "\n")


def set_aside(path, loss, move_damaged):
    """Given a damaged state file, what its loss means and whether to move
    it aside, move it to path.damaged and return the notice that says so
    (or, not moving it, warn and return None).

    Raise StateError if it cannot be moved.
    """
    if not move_damaged:
        report.warning("%s is damaged: a real run moves it aside", path)
        return None
    aside = f"{path}.damaged"
    try:
        os.replace(path, aside)
    except OSError as error:
        raise StateError(f"cannot move the damaged {path} aside: {error.strerror}") from None
    notice = f"{path} was damaged and moved to {aside}: {loss}"
    report.warning("%s", notice)
    return notice


# what the outbox holds at most: [alerts] max_messages (50 at most), each within
# Pushover's limits and the titles and logins of MAX_PARTS messages folded in
OUTBOX_BYTES = 64 * 1024 * 1024


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
        stored = read_json_state(path, {}, OUTBOX_BYTES)
        return Outbox(
            [stored_message(fields) for fields in stored.get("messages", [])],
            [str(notice) for notice in stored.get("notices", [])],
            {str(key): str(text) for key, text in stored.get("positions", {}).items()},
        )
    except (StateError, TypeError, AttributeError, ValueError):
        notice = set_aside(path, "messages in it may be lost", move_damaged)
        return Outbox([], [notice] if notice else [], {})


def stored_message(fields):
    """Given a Message's fields as the outbox holds them, return the Message;
    raise TypeError or ValueError if they are not what authwatch writes.
    """
    message = Message(**fields)
    texts = (message.host, message.title, message.body, *message.parts)
    numbers = (message.priority, message.folded, message.timestamp or 0)
    if not all(type(text) is str for text in texts) or type(message.held) is not bool:
        raise TypeError("not a message")
    if not all(type(number) is int for number in numbers) or type(message.parts) is not list:
        raise TypeError("not a message")
    if type(message.privilege) is not bool:
        raise TypeError("not a message")
    if not -2 <= message.priority <= 2 or not 0 <= message.folded < 2**31:
        raise ValueError("not a message")
    if (
        max(len(message.parts), len(message.logins), len(message.vital), len(message.notes))
        > MAX_PARTS
        or max(map(len, (message.title, *message.parts))) > MAX_TITLE
        or len(message.body) > MAX_MESSAGE
    ):
        raise ValueError("larger than authwatch writes")
    logins = tuple(
        (kept_text(str(user), KEPT_NAME), kept_text(str(origin), KEPT_NAME), int(count))
        for user, origin, count in message.logins
    )
    return message._replace(
        parts=tuple(message.parts),
        logins=logins,
        vital=tuple(stored_vital(*entry) for entry in message.vital),
        notes=tuple(stored_note(*note) for note in message.notes),
    )


def stored_vital(host, what, user, target, origin, count):
    """Given the fields of a Message.vital entry as the outbox holds them,
    return the entry; raise TypeError or ValueError if they are not what
    authwatch writes (a count is any that lines add up to: "message
    repeated 999999999 times" thrice is more than 2**31)."""
    texts = (host, what, user, target or "", origin or "")
    if not all(type(text) is str for text in texts) or type(count) is not int:
        raise TypeError("not a vital act")
    if count <= 0 or any(len(text) > MAX_LINE for text in texts):
        raise ValueError("not a vital act")
    return (host, what, user, target, origin, count)


def stored_note(names, host, user, origins, first, last, count, place):
    """Given the fields of a MemoryNote as the outbox holds them, return the
    MemoryNote; raise TypeError or ValueError if they are not what authwatch
    writes (what the memory of logins would take: see checked_memory(); a
    count, as there, any above 0)."""
    if type(names) is not list or type(origins) is not list:
        raise TypeError("not a note")
    texts = (*names, host, user, *origins, place)
    if not all(type(text) is str for text in texts) or not type(first) is type(last) is int:
        raise TypeError("not a note")
    if type(count) is not int or len(names) > 2 or not 0 < len(origins) <= 3:
        raise ValueError("not a note")
    if not 0 <= first <= last < LAST_TIME or count <= 0:
        raise ValueError("not a note")
    if any(len(text) > MAX_LINE for text in texts):
        raise ValueError("not a note")
    if not all(re.fullmatch(ORIGIN, origin) for origin in origins):
        raise ValueError("not a note")
    return MemoryNote(tuple(names), host, user, tuple(origins), first, last, count, place)


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


def before_reset(quota, now):
    """Given the stored quota and the current local time, return whether
    the quota's reset is yet to come (Pushover counts in Unix time)."""
    return now.timestamp() < quota.get("reset", 0)


QUOTA_RESET_HORIZON = 32 * 86400  # Pushover's quota resets monthly: a later reset is damage


def read_quota(state_dir, now, move_damaged=True):
    """Given the state directory, the current local time and whether a
    damaged quota is moved aside, return the stored quota; {} if there is
    none or it is damaged (it is only a cache of Pushover's headers): a
    damaged one is moved aside, so that it is said once (or, with
    move_damaged False, as for a dry run, only left out).
    """
    path = os.path.join(state_dir, QUOTA)
    try:
        quota = read_json_state(path, {}, 64 * 1024)
    except StateError:
        quota = None
    keys = ("limit", "remaining", "reset")
    if (
        isinstance(quota, dict)
        and all(type(quota.get(key)) is int for key in keys)
        and quota["reset"] < now.timestamp() + QUOTA_RESET_HORIZON  # else silent for ever
        and (quota.keys() == set(keys) or checked_day(quota))
    ):
        return quota
    if quota != {}:
        try:
            set_aside(path, "Pushover's quota is known again from its next answer", move_damaged)
        except StateError as error:  # a cache: the run goes on without it
            report.warning("%s: ignored", error)
    return {}


def checked_day(quota):
    """Given a stored quota that holds a day's count, return whether it is
    what authwatch writes: the day ("2026-11-27") and how many messages
    Pushover accepted that day."""
    return (
        quota.keys() == {"limit", "remaining", "reset", "day", "sent"}
        and isinstance(quota["day"], str)
        and re.fullmatch(r"\d{4}-\d\d-\d\d", quota["day"]) is not None
        and type(quota["sent"]) is int
        and 0 <= quota["sent"] < 2**31
    )


STALE_LOCK = 600  # seconds after which a run holding the lock is said to be stuck
RUN_RECORD = 64 * 1024  # the most of the lock file that is read: see note_run()


class RunLock(NamedTuple):
    """The lock of the state directory, held by this run."""

    path: str
    handle: int  # its file descriptor
    found: bytes  # what the lock file held when this run took the lock
    # the record of a run that held the lock but did not finish (see
    # note_run()); {} when the record is damaged; None when there is none
    unfinished: dict | None


@contextlib.contextmanager
def run_lock(state_dir, now):
    """Given the state directory and the current local time, hold its lock
    for one run; yield its RunLock (False: another run is working).  The
    lock file's time is when its run began.  The record that a run writes
    there (note_run()) is removed when the run ends in any way that Python
    sees: one found by the next run is of a run that was killed.
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
            age = now.timestamp() - os.fstat(handle).st_mtime
            if age > STALE_LOCK:
                report.warning(
                    "a run has held %s for %d minutes: is it stuck? (its pid: fuser %s)",
                    path,
                    age // 60,
                    path,
                )
            yield False
            return
        os.utime(handle, (now.timestamp(), now.timestamp()))  # a stuck run shows by its age
        found = os.pread(handle, RUN_RECORD, 0)
        try:
            yield RunLock(path, handle, found, run_record(found) if found else None)
        finally:
            if os.pread(handle, RUN_RECORD, 0) != found:  # this run's own record
                os.ftruncate(handle, 0)
    finally:
        os.close(handle)  # also releases the lock


@contextlib.contextmanager
def stopped_as_interrupted():
    """Make SIGTERM (kill, systemctl stop, a shutdown) stop the code run
    inside as Ctrl-C does, by KeyboardInterrupt: a run so stopped ends in
    order and clears its record (see run_lock()), which the next run would
    take for one killed, perhaps for memory.  (Only the main thread may set
    a handler: in another, SIGTERM does as before.)"""
    import signal

    try:
        previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    except ValueError:
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def note_run(lock, record):
    """Given the RunLock and what this run does (a dict: its pid, when it
    began, the position it reads from and its budget), write it in the lock
    file, for the next run to find if this one is killed."""
    text = json.dumps(record).encode()
    try:
        os.pwrite(lock.handle, text, 0)
        os.ftruncate(lock.handle, len(text))
    except OSError:  # a full file system: the run goes on without it
        with contextlib.suppress(OSError):
            os.ftruncate(lock.handle, 0)  # the record found is said once


def run_record(text):
    """Given what a lock file holds (bytes), return the record of the run
    that wrote it (see note_run()), or {} if it is damaged."""
    try:
        record = json.loads(text)
        budget, position = record["budget"], record["position"]
        if not (
            type(record["pid"]) is int
            and type(record["began"]) is int
            and 0 <= record["began"] < LAST_TIME
            and (budget is None or (type(budget) is int and budget > 0))
            and (position is None or type(position) is str)
        ):
            raise ValueError
    except (ValueError, TypeError, KeyError, RecursionError):
        return {}
    return record


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
# ...and the timeouts bound each read, not a server that answers a byte at a time
MESSAGE_TIME = 60  # seconds one message may take, all tries and waits included


@contextlib.contextmanager
def deadline(seconds):
    """Given seconds, raise DeliveryError in the code run inside once they have
    passed (a timer signal: in the main thread only, as a run is).
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(signum, frame):
        raise DeliveryError(f"Pushover did not answer within {seconds} s: the message waits")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def new_http_session():
    """Return a requests Session that retries as Pushover asks (requests is
    imported only when there is something to send).
    """
    import requests
    from urllib3.util.retry import Retry

    class PushoverRetry(Retry):
        def get_backoff_time(self):  # urllib3 1.26 takes no backoff_max: bounded here
            return min(max(FIRST_RETRY_DELAY, super().get_backoff_time()), LONGEST_RETRY_DELAY)

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


def send_message(session, config, message, on_quota, now):
    """Given an HTTP session, the Config, a Message, a function to call with
    the quota each answer tells of (None: none) and the current local time,
    POST the message to Pushover; return Pushover's answer (a dict) when it
    accepted it.

    Raise ConfigError if Pushover refused the token or user key, PushoverRefused
    if it refused this message, DeliveryError if it could not be reached, its
    quota is spent (429) or it failed.
    """
    import requests

    try:
        with deadline(MESSAGE_TIME):
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
        quota.setdefault("reset", int(now.timestamp()) + 3600)
    if quota and on_quota:
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
        raise QuotaUsedUp(f"Pushover's monthly quota is used up (HTTP 429): {reasons}")
    if 400 <= status < 500:
        wrong = [key for key in ("token", "user", *MESSAGE_OPTIONS) if key in answer]
        if wrong:  # a setting, not this message: every message would be refused
            raise ConfigError(
                f"Pushover refused [pushover] {' and '.join(wrong)} (HTTP {status}): {reasons}"
            )
        raise PushoverRefused(f"Pushover refused a message (HTTP {status}): {reasons}")
    raise DeliveryError(f"Pushover did not accept the message (HTTP {status}): {reasons}")


def send_in_time(messages, config, session_factory, on_quota, now):
    """Given Messages (read one at a time, as they are sent), the Config, a
    way to get an HTTP session, a function to call with the quota each
    answer tells of (None: none) and the current local time, send them in
    order while DELIVERY_TIME lasts; yield each message Pushover took, with None when it
    accepted it or the PushoverRefused error when it refused it.

    Raise ConfigError or DeliveryError as send_message() does.
    """
    session = session_factory()
    started = time.monotonic()
    for message in messages:
        if time.monotonic() - started > DELIVERY_TIME:
            return
        try:
            send_message(session, config, message, on_quota, now)
        except PushoverRefused as error:
            yield message, error
        else:
            yield message, None


def send_unstored(messages, config, session_factory, now):
    """Given Messages that could not be stored, the Config, a way to get an
    HTTP session and the current local time, send them as far as Pushover
    takes them, the held ones too (holding needs the outbox), and say on
    stderr what could not be sent.
    """
    unsent = list(messages)
    try:
        # no quota is kept: nothing can be stored now
        for message, refusal in send_in_time(messages, config, session_factory, None, now):
            unsent.remove(message)
            if refusal:
                report.warning("not sent, and not stored: %s (%s)", message.title, refusal)
    except AuthwatchError as error:
        report.warning("Pushover did not take the rest: %s", one_line(error))
    for message in unsent:
        report.warning("not sent, and not stored: %s", message.title)


def release_held(messages):
    """Given Messages, return them with those held for the quota released,
    as one message if there were several.
    """
    held = [message for message in messages if message.held]
    if not held:
        return messages
    released = merge_messages(held) if len(held) > 1 else held[0]
    return [message for message in messages if not message.held] + [released._replace(held=False)]


# Pushover's quota is planned over its month, so that no flood of lines, forged or
# not, spends it before the reset: each day may spend its share of what is left above
# [alerts] quota_reserve; past it, a run sends at most one message, and only for vital
# acts, which may spend a day's share of the reserve; below the reserve, that share
# serves vital acts, new logins and privilege use.  What waits goes merged, later.
WAIT_REASONS = ("quota used up", "quota low", "today's budget spent")  # the most binding first


def sent_today(quota, now):
    """Given the stored quota and the current local time, return how many
    messages Pushover accepted today."""
    return quota.get("sent", 0) if quota.get("day") == f"{now:%F}" else 0


def count_sent(quota, now):
    """Given the stored quota (changed in place; {} while unknown: nothing to
    count against) and the current local time, count one more message that
    Pushover accepted today."""
    if quota:
        quota.update(day=f"{now:%F}", sent=sent_today(quota, now) + 1)


def day_allowance(quota, reserve, now):
    """Given a known quota, the reserve and the current local time, return
    (today's budget, the reserve's share of today): what was left above the
    reserve when the day began, and what was left of the reserve, each
    divided by the days to the reset (today included)."""
    start = quota["remaining"] + sent_today(quota, now)
    midnight = int(now.replace(hour=0, minute=0, second=0, microsecond=0).timestamp())
    days = max(1, -(-(quota["reset"] - midnight) // 86400))
    return max(0, start - reserve) // days, -(-max(0, min(reserve, start)) // days)


def may_use_reserve(message):
    """Given a Message, return whether it may spend the quota's reserve: it
    tells of vital acts, new logins (priority 1 and more) or privilege use."""
    return bool(message.vital) or message.priority >= 1 or message.privilege


def quota_plan(messages, quota, reserve, now):
    """Given the Messages to send, the stored quota ({} when unknown), the
    reserve and the current local time, return them as deliver() treats
    them, each that waits marked held, as if Pushover accepted each that
    goes: what waited before is judged again, merged into one; a quota used
    up (429) holds all until its reset; below the reserve, what may not use
    it (may_use_reserve()) waits for the reset; within today's budget the
    rest goes; past it, the rest is ONE message that goes only if it tells
    of vital acts (below the reserve: if it may use it) while the reserve's
    share of today lasts (and not for unverified ones alone), else it waits
    for the next day.
    """
    messages = release_held(messages)
    if not quota or not before_reset(quota, now):
        return messages
    if quota["remaining"] <= 0:
        return [message._replace(held=True) for message in messages]
    low = quota["remaining"] < reserve
    budget, share = day_allowance(quota, reserve, now)
    sent = sent_today(quota, now)
    planned = []
    for at, message in enumerate(messages):
        if low and not may_use_reserve(message):
            planned.append(message._replace(held=True))
        elif sent < budget:
            planned.append(message)
            sent += 1
        else:  # fold harder
            [merged] = fold_messages(messages[at:], 1)  # the most urgent first
            urgent = may_use_reserve(merged) if low else tells_proven_vital(merged)
            goes = urgent and sent < budget + share
            return planned + [merged._replace(held=not goes)]
    return planned


def why_held(message, quota, reserve):
    """Given a Message that quota_plan() held, the stored quota and the
    reserve, return why it waits (see WAIT_REASONS)."""
    if quota["remaining"] <= 0:
        return "quota used up"
    if quota["remaining"] < reserve and not may_use_reserve(message):
        return "quota low"
    return "today's budget spent"


def quota_wait(held, quota, reserve, now):
    """Given the Messages that wait, the stored quota, the reserve and the
    current local time, return the line that says how many wait, why and
    until when."""
    count = sum(message.folded + 1 for message in held)
    reasons = {why_held(message, quota, reserve) for message in held}
    why = next(reason for reason in WAIT_REASONS if reason in reasons)
    until = datetime.datetime.fromtimestamp(quota["reset"], now.tzinfo)
    if why == "quota used up":
        detail = "used up"
    elif why == "quota low":
        detail = f"{quota['remaining']} left, below [alerts] quota_reserve ({reserve})"
    else:
        budget, share = day_allowance(quota, reserve, now)
        vital_go = sent_today(quota, now) < budget + share
        detail = f"today's budget of {budget} is spent" + (
            "; vital acts still go" if vital_go else ", and the reserve's share for vital acts"
        )
        midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
        until = min(until, midnight + datetime.timedelta(days=1))
    waits = "waits" if count == 1 else "wait"
    return (
        f"{plural(count, 'message')} {waits} for Pushover's quota: {detail}, until {until:%F %H:%M}"
    )


def remember_delivered(state_dir, notes, forget_after, now):
    """Given the state directory, the MemoryNotes of the messages Pushover
    accepted, after how many days an origin is forgotten and the current
    local time, note them in the memory of logins, written once.  A memory
    that cannot be read or written is a warning: the alarm has gone."""
    try:
        memory, _ = read_memory(state_dir)
        memory = memory or {}
        for note in notes:
            remember(memory, *note[1:])
        write_memory(state_dir, bounded_memory(memory, int(now.timestamp()), forget_after))
    except StateError as error:
        report.warning("%s: the logins just sent are not remembered", error)


def store_quota(state_dir, quota):
    """Given the state directory and the quota Pushover told of, store it."""
    write_atomically(os.path.join(state_dir, QUOTA), json.dumps(quota) + "\n")


def deliver(state_dir, session_factory, config, now):
    """Given the state directory, a way to get an HTTP session, the Config
    and the current local time, send the messages in the outbox as the
    quota allows (quota_plan(), asked again before each message: an answer
    may change the quota), removing each as soon as Pushover accepted it and
    noting in the memory of logins the logins it named.  A message that
    Pushover refuses is dropped, with a notice for the next message.

    Raise DeliveryError when the rest must wait for the next run, QuotaWait
    when messages wait for the quota, ConfigError when Pushover refused a
    setting, StateError when the outbox cannot be written; what is not sent
    stays in the outbox.
    """
    outbox = read_outbox(state_dir)
    quota = read_quota(state_dir, now)
    reserve = config.alerts.quota_reserve
    pending, notices = list(outbox.messages), list(outbox.notices)
    if not pending:
        return

    def store():
        write_outbox(state_dir, Outbox(pending, notices, {}))

    def planned():  # what waited before may be merged into what goes
        nonlocal pending
        while True:
            pending = quota_plan(pending, quota, reserve, now)
            going = [message for message in pending if not message.held]
            if not going:
                return
            yield going[0]

    told = []  # the MemoryNotes of the messages Pushover accepted
    known = dict(quota)
    try:
        for message, refusal in send_in_time(planned(), config, session_factory, quota.update, now):
            if refusal:
                report.warning("%s; it was dropped: %s", refusal, message.title)
                notices.append(f"{refusal}; it was dropped: {message.title}")
            else:
                report.info("sent: %s", message.title)
                told += message.notes
                count_sent(quota, now)
            pending.remove(message)
            try:
                store()
            except StateError:  # a full file system: the rest goes all the same
                send_unstored(pending, config, session_factory, now)
                raise
    except QuotaUsedUp:  # the answer's quota (none left) holds the rest until its reset
        pending = quota_plan(pending, quota, reserve, now)
    finally:
        if quota != known:
            with contextlib.suppress(StateError):  # a cache: a full disk must not stop the run
                store_quota(state_dir, quota)
        if told:
            remember_delivered(state_dir, told, config.forget_after, now)
    store()
    if not all(message.held for message in pending):
        raise DeliveryError(
            f"Pushover is slow: the next run sends the {plural(len(pending), 'message')} left"
        )
    if pending:
        raise QuotaWait(quota_wait(pending, quota, reserve, now))


### One run #################################################################


class Runtime(NamedTuple):
    """What a run takes from outside, given once by main() (and by tests)."""

    stdout: object  # where --dry-run and --test-notification print
    now: datetime.datetime  # the current local time, aware
    host: str  # this machine's name: lines without one are its own
    session_factory: object  # returns a requests Session for Pushover


def send_test_notification(config, runtime):
    """Given the Config and the Runtime, send one message that says this
    host can reach its admin and print Pushover's answer; return
    ExitStatus.OK.

    Raise ConfigError if Pushover refused a setting, DeliveryError if it did
    not accept the message for another reason.
    """
    stdout, message = runtime.stdout, test_message(runtime.host)
    quota = {}
    answer = send_message(runtime.session_factory(), config, message, quota.update, runtime.now)
    stdout.write(f"Pushover accepted the test message: {json.dumps(answer)}\n")
    if quota:
        stdout.write(f"{quota['remaining']} of {quota['limit']} messages left this month\n")
        try:  # kept for the quota's plan, as from every answer, and counted
            prepare_state_dir(config.state_dir)
            stored = {**read_quota(config.state_dir, runtime.now), **quota}
            count_sent(stored, runtime.now)
            store_quota(config.state_dir, stored)
        except StateError as error:
            report.warning("%s", error)
    return ExitStatus.OK


def run(options, config, runtime, source=None):
    """Given parsed options, the Config, the Runtime and the source (None:
    the one the Config names), do one run; return its ExitStatus.

    Raise AuthwatchError on any failure; what was read stays safe: either
    unread, or in the outbox.
    """
    source = source or open_source(config, options.from_start)
    source.budget = read_budget(options, config)
    report.info("reading %s (source type %s)", source.describe(), config.source_type)
    if options.dry_run:
        return dry_run(options, config, source, runtime)
    prepare_state_dir(config.state_dir)
    with stopped_as_interrupted(), run_lock(config.state_dir, runtime.now) as locked:
        if not locked:
            report.info("another authwatch run holds %s: leaving the work to it", config.state_dir)
            return ExitStatus.OK
        begin_run(locked, options, config, source, runtime.now)
        outbox = read_outbox(config.state_dir)
        # finish a run that stopped between storing its messages and its position
        store_positions_if_changed(own_positions(outbox.positions, source))
        anything_new, queued, memory = queue(config, source, runtime, outbox)
        if anything_new:
            # The events are safe in the outbox before the position moves on...
            try:
                write_outbox(config.state_dir, Outbox(queued, [], source.positions()))
            except StateError:
                # a full file system must not silence the alarm: send what was
                # read all the same; the position stays, so the next run reads
                # it again (a message may come twice, none is lost)
                send_unstored(queued, config, runtime.session_factory, runtime.now)
                raise
            source.save()
            # ...and once it has, the outbox must not carry it into a later run.
            write_outbox(config.state_dir, Outbox(queued, [], {}))
            if memory is not None:
                try:
                    write_memory(config.state_dir, memory)
                except StateError as error:  # the alarm goes all the same
                    report.warning("%s: this run's logins are not remembered", error)
        else:
            report.info("nothing new to send")
            source.save()
        deliver(config.state_dir, runtime.session_factory, config, runtime.now)
    return ExitStatus.OK


KILLED_FLOOR = 1024 * 1024  # the smallest budget after a run that was killed


def read_budget(options, config, unfinished=None):
    """Given parsed options, the Config and the record of a run that did not
    finish (see run_lock(); None: none), return how many bytes this run may
    read (None: no limit): --max-read; else everything for a run by hand
    (--from-start, --dry-run); else [source] max_read, and after a run that
    did not finish a quarter of its budget (of the default for one without
    a limit), but not less than KILLED_FLOOR: if something keeps killing
    runs, each still gets further than the last.
    """
    if options.max_read is not None:
        return options.max_read or None
    if options.from_start or options.dry_run:
        return None
    if unfinished is None:
        return config.max_read
    smaller = max((unfinished.get("budget") or DEFAULT_MAX_READ) // 4, KILLED_FLOOR)
    return smaller if config.max_read is None else min(smaller, config.max_read)


def begin_run(lock, options, config, source, now):
    """Given the RunLock, parsed options, the Config, the source and the
    current local time, note what this run does in the lock file; after a
    run that did not finish, notice it, and read with a smaller budget
    (see read_budget())."""
    position = stored_text(source.position_path)
    if lock.unfinished is not None:
        source.budget = read_budget(options, config, lock.unfinished)
        source.notice(unfinished_text(lock, position, source.budget, now))
    record = {"pid": os.getpid(), "began": int(now.timestamp()), "position": position}
    note_run(lock, {**record, "budget": source.budget})


def unfinished_text(lock, position, budget, now):
    """Given the RunLock (which found a run that did not finish), the stored
    position, this run's budget and the current local time, return the
    notice that says so."""
    unfinished = lock.unfinished
    if unfinished:
        began = datetime.datetime.fromtimestamp(unfinished["began"], now.tzinfo)
        text = (
            f"the run of {began:%Y-%m-%d %H:%M:%S} (pid {unfinished['pid']}) was killed"
            " before it finished, perhaps for memory"
        )
        if unfinished["position"] == position:
            text += ", and stored no position"
    else:
        text = f"a run was killed before it finished (its record in {lock.path} is damaged)"
    return text + (f": this run reads at most {size_text(budget)}" if budget else "")


def stored_text(path):
    """Given a position file, return its text (the start of it), or None if
    it cannot be read."""
    try:
        with open(path, encoding="utf-8", errors="replace") as file:
            return file.read(RUN_RECORD // 2)
    except OSError:
        return None


def own_positions(positions, source):
    """Given positions from the outbox and the source, return those of the
    source's own position file: the outbox names no other file to write.
    """
    own = {path: text for path, text in positions.items() if path == source.position_path}
    if len(own) < len(positions):
        report.warning("the outbox names position files that are not this source's: ignored")
    return own


def read_events(config, source, now):
    """Given the Config, the source and the current local time, yield the
    Events of what is new, the noise dropped as the Config says."""
    return events_of(source.records(now), config.ignore, config.default_ignore)


class Queue(NamedTuple):
    """What one run has to send, and to remember."""

    anything_new: bool  # whether what was read makes a message (a kept notice makes one)
    messages: list  # the outbox's, then the new ones, folded to [alerts] max_messages
    memory: dict | None  # the memory with this run's allow-listed logins noted; None: unchanged


def queue(config, source, runtime, outbox, move_damaged=True):
    """Given the Config, the source, the Runtime, the Outbox and whether a
    damaged memory of logins is moved aside, read what is new; return its
    Queue.
    """
    events = read_events(config, source, runtime.now)
    summaries = summarise(events, runtime.host, config.alerts.allow, users_of_uid_0)
    knowledge, memory, memory_notices = learn_from(config, summaries, runtime.now, move_damaged)
    if knowledge.notes and met_a_flood(summaries, config.alerts.max_messages):
        report.info(
            "more logins than [alerts] max_messages, or than a run keeps: a flood;"
            " none of this run's logins is remembered"
        )
        knowledge = knowledge._replace(notes={})
    notices = source.notices() + outbox.notices + memory_notices
    messages = plan_messages(
        summaries, notices, runtime.host, config.alerts, knowledge, source.lost
    )
    folded = fold_messages(outbox.messages + messages, config.alerts.max_messages)
    return Queue(bool(messages), folded, memory)


def places_of(geoip, summaries):
    """Given the GeoIP databases and a dict of HostSummary, return the Place
    of each address that the messages and the memory want (see
    addresses_to_place()); none without databases."""
    if geoip == GeoIP():
        return {}
    place_of = locator(geoip)
    places = {ip: place_of(ip) for ip in addresses_to_place(summaries)}
    return {ip: place for ip, place in places.items() if place}


NO_MEMORY = (
    "authwatch has no memory of logins yet: every login is new until it has"
    " learned (authwatch --learn reads the logs that are still there)"
)


def learn_from(config, summaries, now, move_damaged):
    """Given the Config, a dict of HostSummary, the current local time and
    whether a damaged memory of logins is moved aside, return (the
    Knowledge of the logins and addresses, the memory of logins with the
    allow-listed logins noted or None when there were none, notices).  The
    other logins are learned when a message that names them is delivered
    (see remember_delivered()).  With nothing to place or judge, no
    database and no memory is read.
    """
    places = places_of(config.geoip, summaries)
    if not any(summary.sightings or summary.known_sightings for summary in summaries.values()):
        return Knowledge({}, places), None, []
    unix_now = int(now.timestamp())
    try:
        memory, notices = read_memory(config.state_dir, move_damaged)
    except StateError as error:  # the alarm goes all the same, every login new
        report.warning("%s: every login counts as new, and none is remembered", error)
        knowledge = know(summaries, None, places, unix_now)
        return knowledge, None, [f"{error}: every login counts as new"]
    if memory is None and any(summary.logins for summary in summaries.values()):
        report.info("%s", NO_MEMORY)
        notices.append(NO_MEMORY)
    memory = bounded_memory(memory, unix_now, config.forget_after) if memory else memory
    knowledge = know(summaries, memory, places, unix_now)
    if not any(summary.known_sightings for summary in summaries.values()):
        return knowledge, None, notices
    remembered = noted(memory, summaries, "known_sightings", places, unix_now)
    return knowledge, bounded_memory(remembered, unix_now, config.forget_after), notices


def users_of_uid_0():
    """Return the names of this machine's users of uid 0, from its user
    database (summarise() asks when this host's lines hold a login or a
    sudo or su; another host's lines are judged by the name root alone)."""
    import pwd

    try:
        return frozenset(entry.pw_name for entry in pwd.getpwall() if entry.pw_uid == 0)
    except OSError as error:  # a user database that cannot be read
        report.warning("cannot read the users of uid 0: %s; root alone counts", error)
        return frozenset()


def learn(config, runtime, source=None):
    """Given the Config, the Runtime and the source (None: the one the
    Config names), read the history that is still there (the log and its
    rotated files, or the whole journal), up to the stored position, into
    the memory of logins, and print one line that sums it up; send nothing
    and store no position.  Return ExitStatus.OK.

    Raise SourceError if the source cannot be read, StateError if another
    run holds the lock or the memory cannot be written.
    """
    source = source or open_source(config, from_start=False)  # to the stored position
    report.info("learning from %s and what is still there of its past", source.describe())
    events = events_of(source.history(runtime.now), config.ignore, config.default_ignore)
    summaries = summarise(events, runtime.host)
    places = places_of(config.geoip, summaries)
    now = int(runtime.now.timestamp())
    learned = noted({}, summaries, "sightings", places, now)
    prepare_state_dir(config.state_dir)
    with run_lock(config.state_dir, runtime.now) as locked:
        if not locked:
            raise StateError(f"another authwatch run holds {config.state_dir}: try again")
        memory, _ = read_memory(config.state_dir)
        merged = bounded_memory(merge_memories(memory or {}, learned), now, config.forget_after)
        write_memory(config.state_dir, merged)
    learned = bounded_memory(learned, now, config.forget_after)
    runtime.stdout.write(learned_line(learned, runtime.now) + "\n")
    return ExitStatus.OK


def dry_run(options, config, source, runtime):
    """Given parsed options, the Config, the source and the Runtime, print
    what a run would send (or, with --json, each event); store nothing.
    Return ExitStatus.OK.
    """
    state_dir = config.state_dir
    if options.json:
        place_of = locator(config.geoip)
        memory = notices = None  # read at the first login
        for event in read_events(config, source, runtime.now):
            place = place_of(event.ip) if event.ip else None
            new_origin = None
            if event.kind == "login":
                if notices is None:
                    memory, notices = read_memory(state_dir, move_damaged=False)
                    if memory:  # as a run judges by it: what is forgotten is forgotten
                        now = int(runtime.now.timestamp())
                        memory = bounded_memory(memory, now, config.forget_after)
                host = event.host or runtime.host
                new_origin = login_is_new(memory, host, event, place)
            runtime.stdout.write(event_json(event, place, new_origin) + "\n")
        return ExitStatus.OK
    outbox = read_outbox(state_dir, move_damaged=False)
    queued = queue(config, source, runtime, outbox, move_damaged=False).messages
    quota = read_quota(state_dir, runtime.now, move_damaged=False)
    reserve = config.alerts.quota_reserve
    for message in quota_plan(queued, quota, reserve, runtime.now):
        why = why_held(message, quota, reserve) if message.held else None
        runtime.stdout.write(format_message(message, why) + "\n")
    report.info("dry run: nothing sent or stored")
    return ExitStatus.OK


### Setting up: authwatch setup #############################################
#
# From zero to protected in one command: the Pushover keys checked with a
# test message, the config written, the source chosen, the schedule
# installed, the first run and the learning done; a line for each step, and
# nothing touched that is already as it should be.

SETUP_MARK = "# written by authwatch setup"  # --remove removes what holds it, and nothing else
PACKAGE_MARK = "# installed by the authwatch package"  # the Debian package's units
# The Debian package's timer, enabled by setup, not copied: in /lib, which
# an image with a merged /usr makes a link to usr/lib; under --root setup
# follows no link, so it looks in /usr/lib as well, where the timer then is
PACKAGED_TIMERS = ("/lib/systemd/system/authwatch.timer", "/usr/lib/systemd/system/authwatch.timer")
PACKAGED_COMMAND = ["/usr/bin/authwatch"]
SYSTEM_UNIT = """\
{mark}: checks for new logins, started by authwatch.timer
[Unit]
Description=Push new logins and login attempts to Pushover
After=network-online.target
Wants=network-online.target

[Service]
Type=oneshot
ExecStart={command}
# A user of its own is enough: the journal is readable by the groups
# systemd-journal and adm, auth.log by adm.
DynamicUser=yes
SupplementaryGroups=systemd-journal adm
# State in /var/lib/authwatch, kept across runs.
StateDirectory=authwatch
Environment=XDG_STATE_HOME=/var/lib
# The config holds secrets and stays root's (mode 0600): systemd hands the
# service a private copy.
LoadCredential=authwatch.ini:{config}
Environment=AUTHWATCH_CONFIG=%d/authwatch.ini
ProtectSystem=strict
ProtectHome=yes
PrivateTmp=yes
NoNewPrivileges=yes
"""
USER_UNIT = """\
{mark}: checks for new logins, started by authwatch.timer
[Unit]
Description=Push new logins and login attempts to Pushover

[Service]
Type=oneshot
ExecStart={command}
"""
TIMER_UNIT = """\
{mark}: starts authwatch.service every five minutes
[Unit]
Description=Check for new logins every five minutes

[Timer]
OnCalendar=*:0/5
Persistent=true

[Install]
WantedBy=timers.target
"""
CRON_LINE = "*/5 * * * * {user}{command} {mark}\n"
EXAMPLE_CONFIGS = (  # where config.example.ini is: beside the module, or installed
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "config.example.ini"),
    os.path.join(sys.prefix, "share", "doc", "authwatch", "config.example.ini"),
    "/usr/share/doc/authwatch/config.example.ini",
)


class SetupPaths(NamedTuple):
    """Where setup writes: the system's files (as root, or under --root) or
    one user's; each path as the system sees it, without the root."""

    root: str  # "/" or --root
    system: bool
    config: str
    state_dir: str
    units: str  # the folder of systemd units
    cron: str | None  # the cron file; None: the user's crontab

    def inside(self, path, own_link=False):
        """Given a path as the system sees it, return it under the root.

        Raise StateError if, under --root, it leads out of the root, or a
        part of it below the root is a symbolic link, the last part too
        (unless own_link: the timer's link, which setup reads and makes
        itself): an image's link must not make setup write, remove or read
        on this host, or anywhere but where the path says.
        """
        if self.root == "/":
            return os.path.join(self.root, path.lstrip("/"))
        inside = os.path.normpath(os.path.join(self.root, path.lstrip("/")))
        if os.path.commonpath([self.root, inside]) != self.root:
            raise StateError(f"{inside} leads out of {self.root}: refusing it")
        names = os.path.relpath(inside, self.root).split(os.sep)
        part = self.root
        for name in names[:-1] if own_link else names:
            part = os.path.join(part, name)
            refuse_link(part)
        return inside

    def sees(self, path, test):
        """Given a path as the system sees it and a test of a path (such as
        os.path.isdir), return whether the path under the root passes it
        with no link in it: where setup only looks (for an image's init or
        the package's timer), a link is no reason to refuse."""
        try:
            return test(self.inside(path))
        except StateError:
            return False


def setup_paths(options, environ):
    """Given the setup options and the environment, return the SetupPaths:
    the system's with --root or as root, else the user's."""
    root = os.path.abspath(options.root) if options.root else "/"
    if options.root or os.geteuid() == 0:
        return SetupPaths(
            root,
            True,
            CONFIG_PATHS[-1],
            "/var/lib/authwatch",
            "/etc/systemd/system",
            "/etc/cron.d/authwatch",
        )
    return SetupPaths(
        root,
        False,
        expand_home(CONFIG_PATHS[0], environ),
        default_state_dir(environ),
        expand_home("~/.config/systemd/user", environ),
        None,
    )


def this_command():
    """Return the command that runs this authwatch, as the schedule will (a
    list of arguments): the installed script, else this Python with this
    module."""
    script = os.path.abspath(sys.argv[0])
    if os.path.basename(script) == "authwatch" and os.access(script, os.X_OK):
        return [script]
    return [sys.executable, os.path.abspath(__file__)]


def this_installation():
    """Return the files and folders that this authwatch runs from besides its
    command: this module and its rules, the interpreter, its prefix (a venv) and every
    folder it imports from: its site-packages folders, there or not yet, and
    the rest of its path (the standard library, what .pth files and
    PYTHONPATH add), but the current folder that -m and -c put first: the
    schedule's runs put their script's there, the command's folder."""
    import site

    here = sys.path[:1] in ([""], [os.getcwd()])
    rules = os.path.dirname(os.path.abspath(authwatch_rules.__file__))
    return [
        os.path.abspath(__file__),
        rules,
        *sorted(os.path.join(rules, name) for name in os.listdir(rules) if name.endswith(".py")),
        sys.executable,
        sys.prefix,
        *site.getsitepackages(),
        *sys.path[1 if here else 0 :],
    ]


# how to install authwatch for a system schedule, when another user could change it
ROOT_ALONE = (
    "install authwatch where root alone can change it: the Debian package, pipx as root with"
    " PIPX_HOME=/opt/pipx PIPX_BIN_DIR=/usr/local/bin, or a venv under /opt"
)


def refuse_changeable(command, installation, config, root):
    """Given a system schedule's command (a list of arguments), the files
    and folders of the authwatch it runs (see this_installation()), its
    config under the root, and the root, raise StateError if a user other
    than root may change any of them, the interpreters that the #! lines of
    the command's files name, or a folder above them, as written or as
    links lead (see changeable_by_others()): root would run what that user
    wrote, and the timer's runs have the token and the log's groups.  The
    config's folders count from the root: an image's are not the host's.
    """
    pieces = [os.path.normpath(argument) for argument in command if argument.startswith("/")]
    pieces += [interpreter for piece in pieces for interpreter in interpreters(piece)]
    pieces += [piece for piece in installation if os.path.isabs(piece)]  # sys.executable may be ''
    for piece in dict.fromkeys(pieces):
        why = changeable_by_others(piece, "/")
        if why:
            raise StateError(
                f"{why}: root's schedule would run what another user can change; {ROOT_ALONE}"
            )
    why = changeable_by_others(config, root)
    if why:
        raise StateError(
            f"{why}: root's schedule would read a config that another user can change:"
            " make it root's alone (chown root:root, chmod go-w)"
        )


# Where "#!/usr/bin/env python3" finds python3 when the schedule runs it:
# systemd's PATH for services (systemd-path search-binaries-default; Debian
# 12's systemd 252 keeps /sbin and /bin), which holds cron's (/usr/bin:/bin,
# crontab(5)).
SCHEDULE_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")


def interpreters(path):
    """Given a file, return the interpreters that run it: the one its #!
    line names, and in turn the one that names, as the kernel follows them
    (a few deep); for env, the program it names in each folder of the
    schedule's PATH, which env may run whichever folder holds it first."""
    found = []
    for _ in range(4):
        try:
            with open(path, "rb") as file:
                line = file.readline(256)  # the kernel reads no more of it
        except OSError:
            break
        words = line[2:].split() if line.startswith(b"#!") else ()
        if not words or not words[0].startswith(b"/"):
            break
        path = os.path.normpath(os.fsdecode(words[0]))
        found.append(path)
        if os.path.basename(path) == "env":  # after env's options and VAR=value: the program
            named = [word for word in words[1:] if not word.startswith(b"-") and b"=" not in word]
            if not named:
                break
            places = [os.path.join(folder, os.fsdecode(named[0])) for folder in SCHEDULE_PATH]
            found += places  # a program named by its path is itself in each
            path = next((place for place in places if os.path.isfile(place)), None)
            if path is None:
                break
    return found


def changeable_by_others(path, top):
    """Given a path and the folder above it to look from (/, or the root),
    return why a user other than root may change what it names, or None:
    the first of top and of what following the path passes (see
    path_walk()) that root does not own, or that others, a group other than
    root's, or a user or group its ACL names, may write.  A link is
    replaced through its folder, which is looked at before it, and what it
    leads to is looked at in turn; what is not there yet, setup makes, as
    root.
    """
    for part in [top, *path_walk(path, top)]:
        try:
            status = os.lstat(part)
        except (FileNotFoundError, NotADirectoryError):
            return None
        if stat.S_ISLNK(status.st_mode):
            continue
        if status.st_uid != 0:
            return f"{part} is uid {status.st_uid}'s"
        if status.st_mode & stat.S_IWOTH:
            return f"{part} may be written by every user"
        if status.st_mode & stat.S_IWGRP and status.st_gid != 0:
            return f"{part} may be written by the members of group {group_name(status.st_gid)}"
        named = acl_writers(part) if status.st_mode & stat.S_IWGRP else []  # then the mask's
        if named:
            return f"{part} may be written by {named[0]}, whom its ACL names"
    return None


def group_name(gid):
    """Given a group id, return its name, or the id when it has none."""
    import grp

    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return gid


# the tags of a POSIX ACL's entries that name a user or a group, and of its
# mask, which limits them (linux/posix_acl_xattr.h)
ACL_USER, ACL_GROUP, ACL_MASK = 0x02, 0x08, 0x10


def acl_writers(path):
    """Given a path, return whom its POSIX ACL names and lets write, but
    root ("uid 1000", "group staff"); none when it has no ACL."""
    import struct

    try:
        acl = os.getxattr(path, "system.posix_acl_access", follow_symlinks=False)
    except OSError:  # no ACL, or a file system without them
        return []
    entries = [struct.unpack_from("<HHI", acl, at) for at in range(4, len(acl) - 7, 8)]
    mask = next((permissions for tag, permissions, _ in entries if tag == ACL_MASK), 7)
    return [
        f"uid {whom}" if tag == ACL_USER else f"group {group_name(whom)}"
        for tag, permissions, whom in entries
        if tag in (ACL_USER, ACL_GROUP) and permissions & mask & 2 and whom != 0
    ]


MAX_LINKS = 40  # links followed in one path, as Linux does (ELOOP)


def path_walk(path, top):
    """Given a path and the folder to follow it from (/, or the root),
    return every path that following it passes below top, in order, as the
    kernel follows it: each folder, each link and, in turn, each part of
    where it leads ("/" of a link's target is top; a ".." goes up from where
    the walk is, not from the link).
    """
    names = os.path.relpath(path, top).split(os.sep)[::-1]
    walked, folder, links = [], top, 0
    while names:
        name = names.pop()
        if name in ("", "."):
            continue
        if name == "..":
            folder = folder if folder == top else os.path.dirname(folder)
            continue
        part = os.path.join(folder, name)
        walked.append(part)
        if os.path.islink(part) and links < MAX_LINKS:
            links += 1
            target = os.readlink(part)
            folder = top if target.startswith("/") else folder
            names += target.split("/")[::-1]
        else:
            folder = part
    return walked


def unit_command(arguments):
    """Given a command's arguments, return them as a unit's ExecStart= reads
    them: quoted where they hold a space or what systemd reads, "%" doubled
    (systemd's specifiers), and in the arguments after the program
    backslashes, quotes and "$" escaped.  Raise StateError for a line break,
    or a program whose name systemd refuses.
    """
    refuse_line_breaks(arguments)
    program, *rest = arguments
    if any(char in program for char in "\"'\\"):
        raise StateError(f"systemd runs no program whose name holds quotes or '\\': {program}")
    quoted = [f'"{program}"' if " " in program or "\t" in program else program]
    for argument in rest:
        escaped = argument.replace("\\", "\\\\").replace('"', '\\"').replace("$", "$$")
        plain = escaped == argument and not any(char in argument for char in " \t;'")
        quoted.append(argument if plain and argument else f'"{escaped}"')
    return " ".join(quoted).replace("%", "%%")


def refuse_line_breaks(arguments):
    """Given a command's arguments, raise StateError if one breaks a line:
    no unit or crontab can hold it."""
    for argument in arguments:
        if "\n" in argument or "\r" in argument:
            raise StateError(f"cannot schedule a command with a line break: {argument!r}")


def cron_command(arguments):
    """Given a command's arguments, return them as a crontab line's command:
    shell-quoted, "%" escaped (cron's newline)."""
    import shlex

    refuse_line_breaks(arguments)
    return " ".join(shlex.quote(argument) for argument in arguments).replace("%", "\\%")


def example_config():
    """Return the text of config.example.ini, or of a minimal config when it
    is not installed."""
    for path in EXAMPLE_CONFIGS:
        with contextlib.suppress(OSError), open(path, encoding="utf-8") as file:
            return file.read()
    return "[pushover]\ntoken =\nuser =\n"


PUSHOVER_SECTION = r"\s*\[pushover\]\s*(?:[;#].*)?"  # compiled (by re) in setup only


def config_with(text, settings):
    """Given a config's text and {key: value} for [pushover], return the text
    with each key set there (a commented or empty key, written as
    configparser reads it, replaced; else added after the section's header),
    every other line kept.  Raise ConfigError for a value of several lines.
    """
    lines = text.splitlines()
    header = next((n for n, line in enumerate(lines) if re.fullmatch(PUSHOVER_SECTION, line)), None)
    if header is None:
        lines[:0], header = ["[pushover]", ""], 0
    end = next(
        (n for n in range(header + 1, len(lines)) if lines[n].lstrip().startswith("[")),
        len(lines),
    )
    for key, value in settings.items():
        if "\n" in value or "\r" in value:
            raise ConfigError(f"[pushover] {key}: a value of one line, please")
        pattern = re.compile(rf"([#;]?)\s*{key}\s*[=:].*", re.IGNORECASE)
        found = [(n, pattern.fullmatch(lines[n])) for n in range(header + 1, end)]
        found = [(bool(match[1]), n) for n, match in found if match]
        at = min(found)[1] if found else None  # the key itself before a comment of it
        if at is None:
            lines.insert(header + 1, f"{key} = {value}")
            end += 1
        else:
            lines[at] = f"{key} = {value}"
    return "\n".join(lines) + "\n"


def setup_keys(options, environ, stored, stdin, stdout):
    """Given the setup options, the environment, the config stored (a
    ConfigParser) and the streams, return (token, user): from the options
    (the token also from --token-file), the environment or the stored
    config, else asked for at a terminal.  Keys on the command line, which
    every user can read, are taken with a warning.

    Raise UsageError if they cannot be had, ConfigError if they are no keys,
    or differ from the stored ones without --force, StateError if the token
    file is another's or others may read it.
    """
    shown = [
        name
        for name, value in (("--token", options.token), ("--user", options.pushover_user))
        if value
    ]
    if shown:
        report.warning(
            "every user may read %s in the list of processes: give the keys at the prompt,"
            " in AUTHWATCH_PUSHOVER_TOKEN and AUTHWATCH_PUSHOVER_USER, or the token with"
            " --token-file",
            " and ".join(shown),
        )
    token = read_token_file(options.token_file) if options.token_file else options.token
    given = {
        "token": token or environ.get("AUTHWATCH_PUSHOVER_TOKEN"),
        "user": options.pushover_user or environ.get("AUTHWATCH_PUSHOVER_USER"),
    }
    keys = {}
    for key, value in given.items():
        old = stored.get("pushover", key, fallback="") or None
        if value and old and value != old and not options.force:
            raise ConfigError(f"the config holds another Pushover {key}: --force replaces it")
        if not value and not old and not options.yes and stdin.isatty():
            import getpass  # a key is a secret: not shown as it is typed

            what = "application token" if key == "token" else "user key"
            try:
                value = getpass.getpass(f"Pushover {what}: ", stream=stdout).strip()
            except EOFError:
                value = None
        keys[key] = value or old
        if not keys[key]:
            raise UsageError(
                "give the Pushover keys: AUTHWATCH_PUSHOVER_TOKEN (or --token-file) and"
                " AUTHWATCH_PUSHOVER_USER, or --token and --user"
            )
        if not PUSHOVER_KEY.fullmatch(keys[key]):
            raise ConfigError(f"the Pushover {key} must be 30 letters and digits")
    return keys["token"], keys["user"]


def read_token_file(path):
    """Given the path of a file that holds the Pushover token, return its
    first line, stripped.

    Raise ConfigError if it cannot be read or its first line is empty,
    StateError if it is not this user's or others may read or write it:
    the token in it is no secret then (chmod 600).
    """
    try:
        # a named pipe is opened without waiting for a writer (with none, it
        # reads as empty), and looked at before anything is read from it
        with open(os.open(path, os.O_RDONLY | os.O_NONBLOCK), "rb") as file:
            status = os.fstat(file.fileno())
            if status.st_uid != os.geteuid():
                raise StateError(
                    f"{path} belongs to uid {status.st_uid}, not to this user"
                    f" (uid {os.geteuid()}): refusing its token"
                )
            if status.st_mode & 0o066:
                raise StateError(
                    f"{path} may be read or written by other users: refusing its token"
                    " (chmod 600 it; and if others have read it, make a new token)"
                )
            os.set_blocking(file.fileno(), True)
            token = file.readline(1024).decode("utf-8", "replace").strip()
    except OSError as error:
        raise ConfigError(f"cannot read --token-file {path}: {error.strerror}") from None
    if not token:
        raise ConfigError(f"--token-file {path}: its first line holds no token")
    return token


def write_if_changed(path, text, mode, force=True):
    """Given a path, its text, its mode and whether a file there that setup
    did not write may be replaced, write it (atomically, creating its
    folder) unless it holds that already; return whether it changed.

    Raise StateError if it cannot be written, or is another's without force.
    """
    with contextlib.suppress(OSError), open(path, encoding="utf-8", errors="replace") as file:
        if file.read() == text and stat.S_IMODE(os.stat(path).st_mode) == mode:
            return False
    if not force and os.path.lexists(path):
        refuse_another_s(path)
    folder = os.path.dirname(path)
    try:
        os.makedirs(folder, mode=0o755, exist_ok=True)
        refuse_open_folder(folder)
    except OSError as error:
        raise StateError(f"cannot create {folder}: {error.strerror}") from None
    write_atomically(path, text, mode)
    return True


def system_command(*command, text=None):
    """Given a command (systemctl, crontab) and the text for its input (or
    None), run it; return its output.  Raise StateError saying what failed."""
    import subprocess

    try:
        done = subprocess.run(command, input=text, capture_output=True, text=True, check=False)
    except OSError as error:
        raise StateError(f"cannot run {command[0]}: {error.strerror}") from None
    if done.returncode:
        raise StateError(f"{' '.join(command)} failed: {one_line(done.stderr) or done.returncode}")
    return done.stdout


def chosen_schedule(options, paths, environ, command):
    """Given the setup options and paths, the environment and the command,
    return what --schedule says, else the schedule setup installed before,
    else "timer" where systemd is the init (for a user: with a session of
    theirs) and the command outside the homes that the unit hides, else
    "cron"."""
    if options.schedule:
        return options.schedule
    if schedule_installed("timer", paths):
        return "timer"
    if paths.cron and written_by_setup(paths.inside(paths.cron)):
        return "cron"
    systemd = paths.sees("/run/systemd/system", os.path.isdir) or (
        paths.root != "/" and any(paths.sees(init, os.path.exists) for init in SYSTEMD_INITS)
    )
    if paths.system and in_homes(command):
        return "cron"  # the unit's ProtectHome= would hide it
    return "timer" if systemd and (paths.system or environ.get("XDG_RUNTIME_DIR")) else "cron"


SYSTEMD_INITS = ("/lib/systemd/systemd", "/usr/lib/systemd/systemd")  # an image's init


def in_homes(command):
    """Given a command (a list of arguments), return whether a file of it
    lies under /root or /home, which the system unit hides."""
    return any(
        os.path.realpath(argument).startswith(("/root/", "/home/"))
        for argument in command
        if argument.startswith("/")
    )


def timer_paths(paths):
    """Given the SetupPaths, return (the service, the timer, the timer's
    link in timers.target.wants), under the root."""
    units = paths.units
    return (
        paths.inside(os.path.join(units, "authwatch.service")),
        paths.inside(os.path.join(units, "authwatch.timer")),
        paths.inside(os.path.join(units, "timers.target.wants", "authwatch.timer"), own_link=True),
    )


def packaged_timer(paths, command):
    """Given the SetupPaths and the command, return where the Debian
    package's timer is to run it, as the system sees it (then setup enables
    it rather than writing units of its own, which would shadow the
    package's updates), or None."""
    if not paths.system or command != PACKAGED_COMMAND:
        return None
    package_s = functools.partial(holds_mark, mark=PACKAGE_MARK)
    return next((timer for timer in PACKAGED_TIMERS if paths.sees(timer, package_s)), None)


def install_schedule(kind, paths, command, force):
    """Given the kind of schedule, the SetupPaths, the command to run (a list
    of arguments) and whether files that are not setup's may be replaced,
    install it and take away the other kind, which would run authwatch a
    second time; return the lines that say what changed (none: it was)."""
    said = []
    service, timer, wants = timer_paths(paths)
    if kind == "timer":
        target = packaged_timer(paths, command)
        if target:
            said += remove_setup_units(paths)
        else:
            target = "../authwatch.timer"
            template = SYSTEM_UNIT if paths.system else USER_UNIT
            units = {
                service: template.format(
                    mark=SETUP_MARK, command=unit_command(command), config=paths.config
                ),
                timer: TIMER_UNIT.format(mark=SETUP_MARK),
            }
            for path, text in units.items():
                if write_if_changed(path, text, 0o644, force):
                    said.append(f"schedule: wrote {path}")
        if paths.root != "/":  # as systemctl --root enable does
            link = os.readlink(wants) if os.path.islink(wants) else None
            if link in ENABLED_BY_SETUP and link != target:
                os.unlink(wants)
            if not os.path.lexists(wants):
                os.makedirs(os.path.dirname(wants), mode=0o755, exist_ok=True)
                os.symlink(target, wants)
                said.append(f"schedule: enabled authwatch.timer ({wants} -> {target})")
        elif said or not os.path.lexists(wants):
            scope = () if paths.system else ("--user",)
            system_command("systemctl", *scope, "daemon-reload")
            system_command("systemctl", *scope, "enable", "--now", "authwatch.timer")
            said.append("schedule: enabled and started authwatch.timer")
        said += remove_cron(paths)
        return said
    if paths.cron:
        line = CRON_LINE.format(user="root ", command=cron_command(command), mark=SETUP_MARK)
        path = paths.inside(paths.cron)
        if write_if_changed(path, line, 0o644, force):
            said.append(f"schedule: wrote {path}")
    else:
        crontab = user_crontab()
        line = CRON_LINE.format(user="", command=cron_command(command), mark=SETUP_MARK)
        if line not in crontab:
            kept = "".join(entry for entry in crontab if SETUP_MARK not in entry)
            system_command("crontab", "-", text=kept + line)
            said.append("schedule: added a line to your crontab")
    return said + remove_timer(paths)  # once cron runs it: never twice, never not at all


def user_crontab():
    """Return the lines of the user's crontab (none if there is none).

    Raise StateError if there is no crontab command."""
    import subprocess

    try:
        done = subprocess.run(["crontab", "-l"], capture_output=True, text=True, check=False)
    except OSError as error:
        raise StateError(f"cannot run crontab: {error.strerror}") from None
    if done.returncode and "no crontab" not in done.stderr:  # not to be written over blind
        raise StateError(f"crontab -l failed: {one_line(done.stderr) or done.returncode}")
    return done.stdout.splitlines(keepends=True) if done.returncode == 0 else []


ENABLED_BY_SETUP = ("../authwatch.timer", *PACKAGED_TIMERS)  # where setup's links lead


def schedule_installed(kind, paths):
    """Given a kind of schedule and the SetupPaths, return whether setup has
    installed it."""
    if kind == "timer":
        _, timer, wants = timer_paths(paths)
        return written_by_setup(timer) or (
            os.path.islink(wants) and os.readlink(wants) in PACKAGED_TIMERS
        )
    if paths.cron:
        return written_by_setup(paths.inside(paths.cron))
    return any(SETUP_MARK in line for line in user_crontab())


def remove_timer(paths):
    """Given the SetupPaths, disable and remove the timer and service that
    setup wrote; return what was removed."""
    said = []
    service, timer, wants = timer_paths(paths)
    enabled = os.path.islink(wants) and os.readlink(wants) in ENABLED_BY_SETUP
    if paths.root == "/" and (written_by_setup(timer) or enabled):
        scope = () if paths.system else ("--user",)
        try:
            system_command("systemctl", *scope, "disable", "--now", "authwatch.timer")
        except StateError as error:  # no systemd here (a container): the files go all the same
            said.append(f"not disabled: {error}")
    if os.path.islink(wants) and os.readlink(wants) in ENABLED_BY_SETUP:
        os.unlink(wants)
        said.append(f"removed {wants}")
    return said + remove_setup_units(paths)


def remove_setup_units(paths):
    """Given the SetupPaths, remove the units that setup wrote; return what
    was removed."""
    said = []
    for path in timer_paths(paths)[:2]:
        if written_by_setup(path):
            os.unlink(path)
            said.append(f"removed {path}")
    return said


def remove_cron(paths):
    """Given the SetupPaths, remove the cron file or crontab line that setup
    wrote; return what was removed."""
    if paths.cron:
        path = paths.inside(paths.cron)
        if written_by_setup(path):
            os.unlink(path)
            return [f"removed {path}"]
        return []
    crontab = user_crontab()
    if not any(SETUP_MARK in line for line in crontab):
        return []
    kept = "".join(entry for entry in crontab if SETUP_MARK not in entry)
    system_command("crontab", "-", text=kept)
    return ["removed the line from your crontab"]


def setup_targets(paths, state_dir):
    """Given the SetupPaths and the state directory (as the system sees it),
    return what setup may write or remove, under the root: (the config, the
    state directory, the service, the timer, the timer's link, the cron
    file or None for the user's crontab).  Raise StateError for a link
    among them under --root (see SetupPaths.inside()): all are asked for
    here, before anything is written or removed."""
    return (
        paths.inside(paths.config),
        paths.inside(state_dir),
        *timer_paths(paths),
        paths.inside(paths.cron) if paths.cron else None,
    )


def remove_setup(paths, purge, state_dir):
    """Given the SetupPaths, whether to purge and the state directory (as
    the system sees it), remove what setup wrote (the config and the state
    too with purge, never what a link leads to); return what was removed."""
    config, state, *_ = setup_targets(paths, state_dir)
    said = remove_timer(paths) + remove_cron(paths)
    if purge:
        import shutil

        for path in (config, state):
            try:
                if os.path.islink(path) or os.path.isfile(path):
                    os.unlink(path)
                elif os.path.isdir(path):
                    others = [
                        name for name in os.listdir(path) if not re.fullmatch(STATE_FILE, name)
                    ]
                    if others:
                        said.append(f"kept {path}: it holds {others[0]}, which is not authwatch's")
                        continue
                    shutil.rmtree(path)
                else:
                    continue
            except OSError as error:
                raise StateError(f"cannot remove {path}: {error.strerror}") from None
            said.append(f"removed {path}")
    return said


# the files a state directory holds: what --purge may remove with it
STATE_FILE = (  # a pattern, compiled (by re) in setup only
    r"lock|outbox\.json|pushover\.json|logins\.json|[\w.-]+\.(?:offset|position)"
    r"|[\w.-]+\.damaged|\.tmp-\w+"
)


def written_by_setup(path):
    """Given a path, return whether it is a file that setup wrote."""
    return holds_mark(path, SETUP_MARK)


def holds_mark(path, mark):
    """Given a path and a mark, return whether it is a file that holds it."""
    try:
        with open(path, encoding="utf-8") as file:
            return mark in file.read(4096)
    except (OSError, UnicodeDecodeError):
        return False


def setup(options, environ, stdin, runtime):
    """Given the setup options, the environment, the input stream and the
    Runtime, do setup_steps(); raise StateError for a file that the checks
    before could not foresee (a folder where a file goes, no permission)."""
    try:
        return setup_steps(options, environ, stdin, runtime)
    except OSError as error:
        raise StateError(f"{error.filename or 'setup'}: {error.strerror or error}") from None


def setup_steps(options, environ, stdin, runtime):
    """Given the setup options, the environment, the input stream and the
    Runtime, set authwatch up (or, with --remove, undo it) and say each step
    in a line; return ExitStatus.OK.

    Raise ConfigError if Pushover refuses the keys (nothing is written
    then), DeliveryError if it cannot be reached, SourceError if the source
    cannot be read, StateError if a file cannot be written; each before
    anything is written, where it can be known before.
    """
    say = runtime.stdout.write
    paths = setup_paths(options, environ)
    config_path = paths.inside(paths.config)
    if options.remove or options.purge:  # also when the config cannot be read
        try:
            state_dir = read_setup_config(config_path)[1].get("state", "dir", fallback="")
        except ConfigError:
            state_dir = ""
        removed = remove_setup(paths, options.purge, state_dir or paths.state_dir)
        for line in removed or ["nothing to remove"]:
            say(line + "\n")
        return ExitStatus.OK
    old_text, stored = read_setup_config(config_path)
    state_dir = stored.get("state", "dir", fallback="") or paths.state_dir
    token, user = setup_keys(options, environ, stored, stdin, runtime.stdout)
    settings = {"token": token, "user": user}
    if options.api_url:
        settings["api_url"] = options.api_url
    text = config_with(old_text or example_config(), settings)
    state = paths.inside(state_dir)
    config = load_config(config_path, {}, {"state_dir": state}, True, text, paths.inside)
    named_log = stored.get("source", "path", fallback=None)
    new_source, described = setup_source(config, paths, state, named_log)
    command = this_command()
    kind = chosen_schedule(options, paths, environ, command)
    check_writable(paths, kind, command, state_dir, options.force)
    if paths.system:  # root runs it
        refuse_changeable(command, this_installation(), config_path, paths.root)
    installed = schedule_installed(kind, paths)
    if text != old_text or options.force or not installed:  # keys Pushover has not taken here
        answer = send_message(
            runtime.session_factory(), config, test_message(runtime.host), None, runtime.now
        )
        say(f"Pushover accepted the test message (request {answer.get('request', '?')})\n")
    say(f"source: {described}\n")
    prepare_state_dir(state)
    changed = write_if_changed(config_path, text, 0o600)
    if changed:
        say(f"config: wrote {config_path} (mode 0600)\n")
    if kind == "timer" and paths.system and in_homes(command):
        say(f"note: the timer's unit hides /root and /home (ProtectHome=): {command[0]}")
        say(" must be installed elsewhere for it, or use --schedule cron\n")
    for line in install_schedule(kind, paths, command, options.force):
        say(line + "\n")
        changed = True
    # the first run marks the end of the log; then the past is learned
    if new_source is None:
        say("first run: left to the first scheduled one (no journal files here yet)\n")
    else:
        if not os.path.exists(new_source().position_path):
            first = argparse.Namespace(dry_run=False, from_start=False, max_read=None)
            run(first, config, runtime, new_source())
            say("first run: done, from the end of the log on\n")
            changed = True
        if not os.path.exists(os.path.join(state, LOGINS)):
            learn(config, runtime, new_source())
            changed = True
    if changed:
        say("undo: authwatch setup --remove (with --purge, the config and state too)\n")
    else:
        say("nothing changed: authwatch is set up\n")
    return ExitStatus.OK


def check_writable(paths, kind, command, state_dir, force):
    """Given the SetupPaths, the kind of schedule, its command, the state
    directory (as the system sees it) and whether files that are not
    setup's may be replaced, raise StateError (or ConfigError) now for what
    would stop setup half-way: nothing is written before."""
    unit_command(command)  # a command no schedule can hold
    config, _, service, timer, wants, cron = setup_targets(paths, state_dir)
    targets = [config]
    if kind == "timer":
        targets += [] if packaged_timer(paths, command) else [service, timer]
        wanted_by = os.path.dirname(wants)
        if os.path.lexists(wanted_by) and not os.path.isdir(wanted_by):
            raise StateError(f"{wanted_by} is no folder: refusing to enable the timer there")
        if paths.system and state_dir != "/var/lib/authwatch":
            raise ConfigError(
                f"[state] dir = {state_dir}: the timer's runs keep their state where systemd"
                " gives it, /var/lib/authwatch; remove [state] dir, or use --schedule cron"
            )
    elif cron:
        targets.append(cron)
    for path in targets:
        if not force and path != targets[0] and os.path.lexists(path):
            refuse_another_s(path)
        folder = os.path.dirname(path)
        while not os.path.isdir(folder):
            folder = os.path.dirname(folder)
        refuse_open_folder(folder)


def refuse_link(path):
    """Given a path under --root, raise StateError if it is a symbolic link:
    setup follows, replaces and removes none there."""
    if os.path.islink(path):
        raise StateError(f"{path} is a symbolic link, which setup does not follow under --root")


def refuse_another_s(path):
    """Given a path setup would write, raise StateError if a file there is
    not setup's."""
    if not written_by_setup(path):
        raise StateError(f"{path} is not authwatch setup's: --force replaces it")


def refuse_open_folder(folder):
    """Given a folder setup would write in, raise StateError if other users
    may write in it: they could swap what setup writes."""
    if os.stat(folder).st_mode & 0o022:
        raise StateError(f"{folder} may be written by other users: refusing it (chmod go-w)")


def read_setup_config(path):
    """Given the config's path under the root, return (its text, or None
    when there is none; a ConfigParser of it).

    Raise ConfigError if it cannot be read or parsed."""
    try:
        with open(path, encoding="utf-8") as file:
            text = file.read()
    except FileNotFoundError:
        text = None
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read {path}: {one_line(error)}") from None
    return text, read_config_text(path, text or "")


def setup_source(config, paths, state_dir, named_log):
    """Given the Config, the SetupPaths, the state directory (under the
    root) and the log the config names (or None), return (a function that
    returns a new source to read, as a run will find it under the root, its
    position named as the system names it, or None when an image's journal
    has no files yet; what it is, for people).

    Raise SourceError if there is none, or the journal is needed and
    systemd-python is missing.
    """
    logs = [named_log] if named_log else list(DEFAULT_LOG_PATHS)  # as open_source() takes it
    log = next((path for path in logs if os.path.isfile(paths.inside(path))), None)
    if log and paths.root != "/":  # the rotated files that --learn reads: the image's own
        for path in rotated_candidates(paths.inside(log)):
            refuse_link(path)
    journal = config.source_type == "auto" and not log and not named_log
    if config.source_type == "journald" or journal:
        from importlib.util import find_spec

        if find_spec("systemd") is None:
            raise SourceError(
                f"this machine keeps its logins in the journal: {INSTALL_SYSTEMD_PYTHON}"
            )
        if paths.root == "/":
            position = journal_position_path(state_dir, None)
            return lambda: JournalSource(None, position, False), "the systemd journal"
        folder = paths.inside("/var/log/journal")
        position = journal_position_path(state_dir, None)
        found = False
        for top, folders, names in os.walk(folder):
            for name in folders + names:  # the image's own journal files, none of the host's
                refuse_link(os.path.join(top, name))
            found = found or any(name.endswith(".journal") for name in names)
        new_source = (lambda: JournalSource(folder, position, False)) if found else None
        return new_source, "the systemd journal"
    if log is None:
        raise SourceError(f"no {' or '.join(logs)} to read")
    position = file_position_path(state_dir, log)
    return lambda: FileSource(paths.inside(log), position, False), log


### Command line ############################################################

SETUP_EPILOG = """\
exit codes:
  0  set up, or nothing to change; removed, or nothing to remove
  1  Pushover could not be reached; nothing was written
  2  usage or configuration error, or Pushover refused the keys; nothing was written
  3  no log and no journal to read, or the journal needs systemd-python
  4  a file or folder cannot be written, or is another's (--force), or another user may
     change what root's schedule runs or reads; a token file that others may read; a link
     under --root, or a path out of it
"""
EPILOG = "exit codes:\n" + "".join(
    f"  {status:<2d} {meaning}\n" for status, meaning in EXIT_MEANINGS.items()
)


class ArgumentParser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(f"{message} (see --help)")


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """argparse's, as wide as the terminal as shutil would find it, without
    importing shutil (and bz2 and lzma): every run builds a formatter."""

    def __init__(self, prog):
        try:
            columns = int(os.environ["COLUMNS"])
        except (KeyError, ValueError):
            try:
                columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
            except (AttributeError, ValueError, OSError):
                columns = 80
        super().__init__(prog, width=columns - 2)


def build_parser():
    """Return the command-line parser."""
    parser = ArgumentParser(
        prog="authwatch",
        description="Send new SSH logins, failed attempts and sudo/su use"
        " from the authentication log to Pushover.  To set it all up (keys, config,"
        " schedule): authwatch setup (see authwatch setup --help).",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
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
        "--max-read",
        metavar="SIZE",
        type=max_read_option,
        help="read at most SIZE (64K, 256M, 1G; off: all) of what is new, and go on from there"
        " next run (default: [source] max_read, 256M, or all with --from-start and --dry-run)",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="print what would be sent; send nothing, store nothing",
    )
    parser.add_argument(
        "--json", action="store_true", help="with --dry-run: print events as JSON lines"
    )
    parser.add_argument(
        "--learn",
        action="store_true",
        help="read the whole log and its rotated files (or the whole journal) into the memory"
        " of logins; send nothing",
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
    parser.set_defaults(command="run")
    return parser


def max_read_option(text):
    """Given --max-read's value, return it in bytes, 0 for no limit (see read_size())."""
    try:
        return read_size(text) or 0
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def build_setup_parser():
    """Return the parser of authwatch setup's command line."""
    parser = ArgumentParser(
        prog="authwatch setup",
        description="Set authwatch up: check the Pushover keys with a test message, write the"
        " config, install the schedule (a systemd timer, or cron), do the first run and learn"
        " the usual logins.  Run again, it changes only what is not as it should be.",
        epilog=SETUP_EPILOG,
        formatter_class=HelpFormatter,
    )
    token = parser.add_mutually_exclusive_group()
    token.add_argument(
        "--token",
        help="the Pushover application token (every user sees it in ps: better the prompt,"
        " AUTHWATCH_PUSHOVER_TOKEN or --token-file)",
    )
    token.add_argument(
        "--token-file",
        metavar="FILE",
        help="read the token from the first line of FILE (yours alone: mode 0600 or 0400)",
    )
    parser.add_argument(
        "--user",
        dest="pushover_user",
        metavar="KEY",
        help="the Pushover user key (every user sees it in ps: better the prompt or"
        " AUTHWATCH_PUSHOVER_USER)",
    )
    parser.add_argument("-y", "--yes", action="store_true", help="ask nothing")
    parser.add_argument("--force", action="store_true", help="replace keys the config holds")
    parser.add_argument("--schedule", choices=("cron", "timer"), help="default: timer with systemd")
    parser.add_argument("--root", metavar="DIR", help="do all of it under DIR instead of /")
    parser.add_argument("--api-url", metavar="URL", help="where messages go (a Pushover gateway)")
    parser.add_argument("--remove", action="store_true", help="remove the schedule")
    parser.add_argument(
        "--purge", action="store_true", help="remove the schedule, the config and the state"
    )
    loudness = parser.add_mutually_exclusive_group()
    loudness.add_argument("-v", "--verbose", action="store_true", help="say what happens")
    loudness.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    parser.set_defaults(command="setup")
    return parser


def command_line_overrides(options):
    """Given parsed options, return the Config fields they override."""
    overrides = {"state_dir": options.state_dir}
    if options.log:
        overrides.update(source_type="file", log_path=options.log)
    if options.journal_dir:
        overrides.update(source_type="journald", journal_dir=options.journal_dir)
    return overrides


def main(
    argv=None,
    *,
    stdout=None,
    stderr=None,
    environ=None,
    clock=None,
    host=None,
    session_factory=None,
    stdin=None,
):
    """Given command-line arguments (default sys.argv[1:]) and, for tests, the
    streams, environment, a clock returning the current local time, this
    machine's name, an HTTP session factory and the input stream (for
    setup's questions), run authwatch; return the exit code.
    """
    argv = sys.argv[1:] if argv is None else list(argv)
    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    stderr = stderr or sys.stderr
    environ = os.environ if environ is None else environ
    clock = clock or (lambda: datetime.datetime.now().astimezone())
    report.stream, report.level = stderr, Reporter.NORMAL
    try:
        try:
            with contextlib.redirect_stdout(stdout):
                if argv[:1] == ["setup"]:
                    options = build_setup_parser().parse_args(argv[1:])
                else:
                    options = build_parser().parse_args(argv)
        except SystemExit as stop:  # --help and --version
            return stop.code
        report.level = (
            Reporter.VERBOSE
            if options.verbose
            else Reporter.QUIET
            if options.quiet
            else report.level
        )
        runtime = Runtime(
            stdout, clock(), host or os.uname().nodename, session_factory or new_http_session
        )
        if options.command == "setup":
            return setup(options, environ, stdin, runtime)
        if options.json and not options.dry_run:
            raise UsageError("--json goes with --dry-run (see --help)")
        if options.test_notification and options.dry_run:
            raise UsageError("--test-notification sends: it does not go with --dry-run")
        if options.learn and (
            options.dry_run
            or options.test_notification
            or options.from_start
            or options.max_read is not None
        ):
            raise UsageError("--learn goes alone: it reads everything and sends nothing")
        config_path = find_config_file(options.config, environ)
        report.info("config: %s", config_path or "none")
        config = load_config(
            config_path,
            environ,
            command_line_overrides(options),
            need_pushover=not (options.dry_run or options.learn),
        )
        if options.test_notification:
            return send_test_notification(config, runtime)
        if options.learn:
            return learn(config, runtime)
        return run(options, config, runtime)
    except AuthwatchError as error:
        report.error(str(error))
        return error.exit_status
    except BrokenPipeError:  # --dry-run's reader has read enough (| head)
        if stdout is sys.stdout:  # and Python must not complain of it at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return ExitStatus.OK
    except KeyboardInterrupt:
        report.error(EXIT_MEANINGS[ExitStatus.INTERRUPTED])
        return ExitStatus.INTERRUPTED
    except Exception as error:  # noqa: BLE001 (a bug: one line for cron's mail; -v: details)
        if report.level >= Reporter.VERBOSE:
            import traceback

            traceback.print_exc(file=stderr)
        report.error(
            f"internal error, what was read is safe: {type(error).__name__}:"
            f" {one_line(error)} (run with -v for details)"
        )
        return ExitStatus.INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())
