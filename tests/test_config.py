"""The configuration and the command line: where the config file is looked
up, what it may hold, how every problem in it is reported at once, and the
exit codes and one-line errors of bad usage.
"""

import configparser
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import FINGERPRINT, MAIN, TOKEN, USER_KEY, run_main, write_geoip

import authwatch
from authwatch import ConfigError, ExitStatus

VALID = f"[pushover]\ntoken = {TOKEN}\nuser = {USER_KEY}\n"
# Read before the autouse fixture below replaces it for each test.
DOCUMENTED_CONFIG_PATHS = authwatch.CONFIG_PATHS
SHORT_TOKEN = "s3cr3t" + "x" * 23  # 29 letters and digits: one short of a key


@pytest.fixture(autouse=True)
def no_real_config(tmp_path, monkeypatch):
    """Keep every test away from the real ~/.config and /etc: HOME is a fresh
    folder, and the system-wide config is looked for under tmp_path."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setattr(
        authwatch,
        "CONFIG_PATHS",
        ("~/.config/authwatch/authwatch.ini", str(tmp_path / "etc/authwatch/authwatch.ini")),
    )


def write(path, text):
    """Write text to path (making its folders), readable by its owner alone;
    return the path as a string."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(0o600)
    return str(path)


def load(path, environ=None, overrides=None, need_pushover=True):
    return authwatch.load_config(path, environ or {}, overrides or {}, need_pushover)


def problems(path, **kwargs):
    """Return the lines of the ConfigError that loading path raises."""
    with pytest.raises(ConfigError) as raised:
        load(path, **kwargs)
    return str(raised.value).splitlines()


@pytest.fixture
def empty_log(tmp_path):
    """An empty log file, so that a --dry-run has something to read."""
    return write(tmp_path / "auth.log", "")


def assert_one_line_error(result):
    assert result.status == ExitStatus.CONFIG_ERROR
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("authwatch: error: ")
    assert "Traceback" not in result.stderr


### Where the config file is looked up #######################################


def test_config_option_comes_before_the_environment_variable(tmp_path):
    option = write(tmp_path / "option.ini", VALID)
    environment = write(tmp_path / "environment.ini", VALID)
    found = authwatch.find_config_file(option, {"AUTHWATCH_CONFIG": environment})
    assert found == option


def test_environment_variable_names_the_config_without_the_option(tmp_path):
    environment = write(tmp_path / "environment.ini", VALID)
    assert authwatch.find_config_file(None, {"AUTHWATCH_CONFIG": environment}) == environment


def test_environment_variable_comes_before_the_home_config(tmp_path):
    write(tmp_path / "home/.config/authwatch/authwatch.ini", VALID)
    environment = write(tmp_path / "environment.ini", VALID)
    assert authwatch.find_config_file(None, {"AUTHWATCH_CONFIG": environment}) == environment


def test_home_config_comes_before_the_system_config(tmp_path):
    home = write(tmp_path / "home/.config/authwatch/authwatch.ini", VALID)
    write(tmp_path / "etc/authwatch/authwatch.ini", VALID)
    assert authwatch.find_config_file(None, {}) == home


def test_system_config_is_used_when_there_is_no_other(tmp_path):
    system = write(tmp_path / "etc/authwatch/authwatch.ini", VALID)
    assert authwatch.find_config_file(None, {}) == system


def test_no_config_file_anywhere_is_not_an_error():
    assert authwatch.find_config_file(None, {}) is None


def test_the_lookup_paths_are_the_documented_ones():
    assert DOCUMENTED_CONFIG_PATHS == (
        "~/.config/authwatch/authwatch.ini",
        "/etc/authwatch/authwatch.ini",
    )


@pytest.mark.parametrize("how", ["option", "environment"])
def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path, how):
    missing = str(tmp_path / "missing.ini")
    write(tmp_path / "home/.config/authwatch/authwatch.ini", VALID)  # not a fallback
    explicit = missing if how == "option" else None
    environ = {"AUTHWATCH_CONFIG": missing} if how == "environment" else {}
    with pytest.raises(ConfigError, match="missing.ini"):
        authwatch.find_config_file(explicit, environ)


def test_main_reports_a_missing_config_file_in_one_line(tmp_path, empty_log):
    missing = str(tmp_path / "missing.ini")
    result = run_main("--config", missing, "--dry-run", "--log", empty_log)
    assert_one_line_error(result)
    assert missing in result.stderr


def test_main_reads_the_config_named_by_the_environment(tmp_path):
    config = write(tmp_path / "environment.ini", "[source]\ntype = bogus\n")
    result = run_main("--dry-run", environ={"AUTHWATCH_CONFIG": config})
    assert_one_line_error(result)
    assert config in result.stderr
    assert "[source] type" in result.stderr


def test_main_reads_the_home_config(tmp_path):
    config = write(tmp_path / "home/.config/authwatch/authwatch.ini", "[source]\ntype = bogus\n")
    result = run_main("--dry-run")
    assert_one_line_error(result)
    assert config in result.stderr


def test_dry_run_needs_no_config_file(empty_log):
    result = run_main("--dry-run", "--log", empty_log)
    assert (result.status, result.stdout, result.stderr) == (ExitStatus.OK, "", "")


def test_a_real_run_without_a_config_says_none_was_found_and_where_it_looked(tmp_path, empty_log):
    result = run_main("--log", empty_log, environ={"HOME": str(tmp_path)})
    assert result.status == ExitStatus.CONFIG_ERROR
    [line] = result.stderr.splitlines()
    assert line.startswith("authwatch: error: no config file found (looked for $AUTHWATCH_CONFIG, ")
    paths = [
        authwatch.expand_home(path, {"HOME": str(tmp_path)}) for path in authwatch.CONFIG_PATHS
    ]
    assert f"$AUTHWATCH_CONFIG, {', '.join(paths)})" in line
    assert "--config" in line


def test_without_a_config_file_the_keys_may_come_from_the_environment(empty_log):
    environ = {"AUTHWATCH_PUSHOVER_TOKEN": TOKEN}
    result = run_main("--log", empty_log, environ=environ)
    assert result.status == ExitStatus.CONFIG_ERROR
    assert "no config file found" in result.stderr
    environ["AUTHWATCH_PUSHOVER_USER"] = USER_KEY
    result = run_main("--log", empty_log, "--state-dir", str(Path(empty_log).parent / "s"),
                      environ=environ)  # fmt: skip
    assert "no config file" not in result.stderr


### What the file may hold ###################################################


def test_defaults_when_the_file_holds_only_the_keys(tmp_path, monkeypatch):
    monkeypatch.setattr(authwatch.os, "geteuid", lambda: 1000)
    config = load(write(tmp_path / "a.ini", VALID), {"XDG_STATE_HOME": str(tmp_path / "xdg")})
    assert config.token == TOKEN
    assert config.user == USER_KEY
    assert config.api_url == "https://api.pushover.net/1/messages.json"
    assert config.source_type == "auto"
    assert config.log_path in ("/var/log/auth.log", "/var/log/secure")
    assert config.journal_dir is None
    assert config.state_dir == str(tmp_path / "xdg" / "authwatch")
    assert config.ignore == ()
    assert config.default_ignore is True
    assert config.max_read == 256 * 1024 * 1024


def test_every_key_is_read(tmp_path):
    path = write(
        tmp_path / "a.ini",
        VALID + "api_url = https://pushover.example.org/1/messages.json\n"
        "sound = siren\ndevice = phone,tablet\nurl = https://grafana.example.org/d/ssh\n"
        "url_title = Dashboard\nttl = 86400\n"
        "[source]\ntype = file\npath = /srv/log/auth.log\njournal_dir = /srv/journal\n"
        "max_read = 1g\n"
        "[state]\ndir = /srv/state\n"
        "[filter]\nignore =\n    sshd\\[\\d+\\]: Connection from\n    sudo: +nagios :\n"
        "default_ignore = no\n"
        "[alerts]\nmax_messages = 3\nfailure_threshold = 10\nquota_reserve = 500\n"
        "retry = 30\nexpire = 10800\n"
        "[priority]\nlogin = 2\nsudo_failed = 1\nother = -2\n"
        "[allow]\nnetworks = 10.0.0.0/8, 2001:db8::/32\n  192.0.2.7\nusers = deploy backup\n"
        f"keys = {FINGERPRINT}\nknown_priority = -2\n",
    )
    config = load(path)
    priorities = dict(authwatch.DEFAULT_PRIORITIES, login=2, sudo_failed=1, other=-2)
    assert config == authwatch.Config(
        token=TOKEN,
        user=USER_KEY,
        api_url="https://pushover.example.org/1/messages.json",
        message_options={
            "sound": "siren",
            "device": "phone,tablet",
            "url": "https://grafana.example.org/d/ssh",
            "url_title": "Dashboard",
            "ttl": "86400",
        },
        source_type="file",
        log_path="/srv/log/auth.log",
        journal_dir="/srv/journal",
        state_dir="/srv/state",
        ignore=(r"sshd\[\d+\]: Connection from", "sudo: +nagios :"),
        default_ignore=False,
        max_read=1024**3,
        alerts=authwatch.Alerts(
            priorities=priorities,
            max_messages=3,
            failure_threshold=10,
            quota_reserve=500,
            retry=30,
            expire=10800,
            allow=authwatch.Allow(
                networks=(
                    ipaddress.ip_network("10.0.0.0/8"),
                    ipaddress.ip_network("2001:db8::/32"),
                    ipaddress.ip_network("192.0.2.7/32"),
                ),
                users=frozenset({"deploy", "backup"}),
                keys=frozenset({FINGERPRINT}),
            ),
            known_priority=-2,
        ),
    )


def test_defaults_of_the_alerts():
    assert authwatch.load_config(None, {}, {}, need_pushover=False).alerts == authwatch.Alerts(
        priorities={
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
        },
        max_messages=5,
        failure_threshold=0,
        quota_reserve=100,
        retry=60,
        expire=3600,
        allow=authwatch.Allow(),
        known_priority=-1,
    )


def test_known_logins_can_be_left_unsent():
    path_text = "[allow]\nusers = deploy\nknown_priority = off\n"
    assert load_text(path_text).alerts.known_priority is None


def load_text(text):
    """Load a config file holding text; Pushover keys are not needed."""
    with tempfile.TemporaryDirectory() as folder:
        return load(write(Path(folder) / "a.ini", text), need_pushover=False)


@pytest.mark.parametrize(
    "text, problem",
    [
        ("[priority]\nlogin = 3\n", "[priority] login: must be a whole number -2 to 2, not '3'"),
        ("[priority]\nsudo = high\n", "[priority] sudo: must be a whole number -2 to 2"),
        ("[priority]\nlogins = 1\n", "[priority] logins: unknown key"),
        ("[alerts]\nretry = 29\n", "[alerts] retry: must be a whole number 30 or more"),
        ("[alerts]\nexpire = 10801\n", "[alerts] expire: must be a whole number 30 to 10800"),
        ("[alerts]\nmax_messages = 0\n", "[alerts] max_messages: must be a whole number 1 to 50"),
        (
            "[allow]\nknown_priority = 0\n",
            "[allow] known_priority: must be a whole number -2 to -1",
        ),
        ("[allow]\nnetworks = 10.0.0.0/33\n", "[allow] networks: not a network: '10.0.0.0/33'"),
        ("[allow]\nkeys = MD5:aa:bb\n", "[allow] keys: not a SHA256 key fingerprint"),
        ("[pushover]\nurl = ftp://x\n", "[pushover] url: must match"),
        (
            "[pushover]\nurl_title = " + "t" * 101 + "\n",
            "[pushover] url_title: must match .+ in at most 100",
        ),
        ("[pushover]\nsound = <b>\n", "[pushover] sound: must match"),
        ("[pushover]\nttl = -5\n", "[pushover] ttl: must be a whole number 1 or more"),
        ("[source]\nmax_read = 64000\n", "[source] max_read: must be 64K or more (K, M, G"),
        ("[source]\nmax_read = 256MB\n", "[source] max_read: must be 64K or more"),
        ("[source]\nmax_read = -1\n", "[source] max_read: must be 64K or more"),
        ("[source]\nmax_read = no\n", "[source] max_read: must be 64K or more"),
    ],
)
def test_bad_alert_settings_are_reported(text, problem):
    with pytest.raises(ConfigError) as raised:
        load_text(text)
    [line] = str(raised.value).splitlines()
    assert problem in line


def api_url_config(tmp_path, api_url):
    """Write a config of the keys and api_url; return its path."""
    return write(tmp_path / "a.ini", VALID + f"api_url = {api_url}\n")


@pytest.mark.parametrize(
    "api_url",
    [
        "https://api.pushover.net/1/messages.json",
        "https://example.com/1/messages.json",
        "http://127.0.0.1:8080/1/messages.json",
        "http://127.0.0.1/1/messages.json",
        "http://127.1.2.3:8080/1/messages.json",
        "http://[::1]:8080/1/messages.json",
        "http://localhost:8080/1/messages.json",
    ],
)
def test_api_url_https_or_plain_http_to_loopback_is_accepted(tmp_path, api_url):
    assert load(api_url_config(tmp_path, api_url)).api_url == api_url


NOT_HTTPS_OR_LOOPBACK_HTTP = [
    "http://example.com/1/messages.json",
    "http://192.0.2.1/1/messages.json",
    "http://0.0.0.0/1/messages.json",
    "ftp://example.com/1/messages.json",
    "ftp://127.0.0.1/1/messages.json",
    "https:///1/messages.json",
    "api.pushover.net/1/messages.json",
]
# URLs that one parser reads as loopback and another as 192.0.2.2: the token
# must not go to the one that checking did not see
MISREAD_URLS = [
    "http://192.0.2.2:47999#@127.0.0.1/x",
    "http://192.0.2.2:47999?@127.0.0.1/x",
    "http://192.0.2.2:47999\\@127.0.0.1/x",
    "http://127.0.0.1@192.0.2.2:47999/x",
    "http://127.0.0.1:80 @192.0.2.2/x",
    "https://api.pushover.net:99999/1/messages.json",
]
NO_PLAIN_HOST = ["http://[::1]evil/x", "http://[::1]:80x/x", "https://a_b.example/x"]
REFUSED_URLS = [(url, "") for url in NOT_HTTPS_OR_LOOPBACK_HTTP] + [
    (url, "not a plain http(s) URL") for url in MISREAD_URLS + NO_PLAIN_HOST
]


@pytest.mark.parametrize("api_url, why", REFUSED_URLS, ids=[url for url, _ in REFUSED_URLS])
def test_an_api_url_other_than_https_or_loopback_http_is_refused(tmp_path, api_url, why):
    path = api_url_config(tmp_path, api_url)
    [problem] = problems(path)
    assert problem.startswith(f"{path}: [pushover] api_url: {why}")


@pytest.mark.skipif(
    not (shutil.which("unshare") and os.geteuid() == 0), reason="needs unshare -n, as root"
)
@pytest.mark.parametrize("api_url", MISREAD_URLS[:3])
def test_a_refused_api_url_is_never_reached(tmp_path, api_url):
    # in a network namespace of its own (loopback only): were the check to fail,
    # nothing could leave this machine
    path = api_url_config(tmp_path, api_url)
    done = subprocess.run(
        ["unshare", "-n", "--", sys.executable, "-c", MAIN, "--config", str(path),
         "--test-notification", "--state-dir", str(tmp_path / "state")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == ExitStatus.CONFIG_ERROR, done.stderr
    assert "api_url: not a plain http(s) URL" in done.stderr
    assert done.stdout == ""


@pytest.mark.parametrize(
    "host, loopback",
    [
        ("127.0.0.1", True),
        ("127.255.0.9", True),
        ("::1", True),
        ("localhost", True),
        ("example.com", False),
        ("192.0.2.1", False),
        ("0.0.0.0", False),
        ("::", False),
        ("127.0.0.1.example.com", False),
    ],
)
def test_is_loopback_host(host, loopback):
    assert authwatch.is_loopback_host(host) is loopback


@pytest.mark.parametrize("source_type", ["auto", "file", "journald"])
def test_source_types(tmp_path, source_type):
    path = write(tmp_path / "a.ini", VALID + f"[source]\ntype = {source_type}\n")
    assert load(path).source_type == source_type


def test_unknown_source_type_is_refused(tmp_path):
    path = write(tmp_path / "a.ini", VALID + "[source]\ntype = syslog\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}: [source] type: ")
    assert "syslog" in problem


@pytest.mark.parametrize("value, expected", [("yes", True), ("no", False)])
def test_default_ignore(tmp_path, value, expected):
    path = write(tmp_path / "a.ini", VALID + f"[filter]\ndefault_ignore = {value}\n")
    assert load(path).default_ignore is expected


def test_default_ignore_must_be_yes_or_no(tmp_path):
    path = write(tmp_path / "a.ini", VALID + "[filter]\ndefault_ignore = sometimes\n")
    assert problems(path) == [f"{path}: [filter] default_ignore: must be yes or no"]


def test_ignore_is_one_pattern_per_line_and_blank_lines_are_skipped(tmp_path):
    path = write(tmp_path / "a.ini", VALID + "[filter]\nignore = first\n    \n    second\n")
    assert load(path).ignore == ("first", "second")


def test_ignore_patterns_are_added_to_the_default_noise(tmp_path, empty_log):
    config = write(tmp_path / "a.ini", "[filter]\nignore = sudo: +nagios :\n")
    with open(empty_log, "a") as log:
        log.write(
            "Nov 27 11:57:01 web1 CRON[4241]: pam_unix(cron:session): session opened"
            " for user root\n"
            "Nov 27 11:59:30 web1 sudo:   nagios : TTY=unknown ; PWD=/ ; USER=root ;"
            " COMMAND=/usr/lib/nagios/check\n"
        )
    result = run_main("--config", config, "--dry-run", "--json", "--log", empty_log, "--from-start")
    assert (result.status, result.stdout, result.stderr) == (ExitStatus.OK, "", "")


def test_without_the_default_noise_its_lines_are_other_lines(tmp_path, empty_log):
    config = write(tmp_path / "a.ini", "[filter]\ndefault_ignore = no\nignore = ^sudo: +nagios :\n")
    cron = "Nov 27 11:57:01 web1 CRON[4241]: pam_unix(cron:session): session opened for user root"
    with open(empty_log, "a") as log:
        log.write(
            f"{cron}\nNov 27 11:59:30 web1 sudo:   nagios : TTY=unknown ; PWD=/ ; USER=root ;"
            " COMMAND=/usr/lib/nagios/check\n"
        )
    result = run_main("--config", config, "--dry-run", "--json", "--log", empty_log, "--from-start")
    assert result.status == ExitStatus.OK
    [event] = [json.loads(line) for line in result.stdout.splitlines()]
    assert (event["kind"], event["rule"], event["line"]) == ("other", None, cron)


def test_a_bad_ignore_pattern_is_refused(tmp_path):
    path = write(tmp_path / "a.ini", VALID + "[filter]\nignore =\n    fine\n    broken(\n")
    [problem] = problems(path)
    assert problem.startswith(f"{path}: [filter] ignore: ")
    assert "broken(" in problem


def test_unknown_section_and_key_are_reported(tmp_path):
    path = write(tmp_path / "a.ini", VALID + "tokn = x\n[sources]\ntype = file\n")
    assert sorted(problems(path)) == sorted(
        [
            f"{path}: [pushover] tokn: unknown key",
            f"{path}: [sources]: unknown section",
        ]
    )


### Environment and command line #############################################


def test_environment_overrides_token_and_user_in_the_file(tmp_path):
    other_token, other_user = "T" * 30, "U" * 30
    path = write(tmp_path / "a.ini", VALID)
    environ = {"AUTHWATCH_PUSHOVER_TOKEN": other_token, "AUTHWATCH_PUSHOVER_USER": other_user}
    config = load(path, environ)
    assert (config.token, config.user) == (other_token, other_user)


def test_environment_alone_provides_token_and_user(tmp_path):
    path = write(tmp_path / "a.ini", "[source]\ntype = file\n")
    environ = {"AUTHWATCH_PUSHOVER_TOKEN": TOKEN, "AUTHWATCH_PUSHOVER_USER": USER_KEY}
    config = load(path, environ)
    assert (config.token, config.user) == (TOKEN, USER_KEY)


def test_a_bad_token_from_the_environment_is_refused_without_showing_it(tmp_path):
    path = write(tmp_path / "a.ini", VALID)
    lines = problems(path, environ={"AUTHWATCH_PUSHOVER_TOKEN": SHORT_TOKEN})
    expected = (
        "environment variable AUTHWATCH_PUSHOVER_TOKEN: must be 30 letters and digits"
        " (got 29 characters)"
    )
    assert lines == [expected]


def test_command_line_overrides_the_file(tmp_path):
    path = write(
        tmp_path / "a.ini",
        VALID + "[source]\ntype = journald\npath = /file/log\n[state]\ndir = /file/state\n",
    )
    options = authwatch.build_parser().parse_args(["--log", "/cli/log", "--state-dir", "/cli/st"])
    config = load(path, overrides=authwatch.command_line_overrides(options))
    assert (config.source_type, config.log_path, config.state_dir) == (
        "file",
        "/cli/log",
        "/cli/st",
    )


def test_journal_dir_option_selects_the_journal(tmp_path):
    path = write(tmp_path / "a.ini", VALID + "[source]\ntype = file\n")
    options = authwatch.build_parser().parse_args(["--journal-dir", "/cli/journal"])
    config = load(path, overrides=authwatch.command_line_overrides(options))
    assert (config.source_type, config.journal_dir) == ("journald", "/cli/journal")


### Missing and malformed keys ###############################################


def test_missing_token_and_user_are_errors_for_a_real_run(tmp_path):
    path = write(tmp_path / "a.ini", "[pushover]\n")
    lines = problems(path)
    assert len(lines) == 2
    assert lines[0].startswith(f"{path}: [pushover] token: missing")
    assert lines[1].startswith(f"{path}: [pushover] user: missing")


def test_missing_token_and_user_are_fine_for_a_dry_run(tmp_path):
    config = load(write(tmp_path / "a.ini", "[pushover]\n"), need_pushover=False)
    assert (config.token, config.user) == (None, None)


@pytest.mark.parametrize(
    "key, value",
    [
        ("token", SHORT_TOKEN),
        ("token", "a" * 31),
        ("token", "a" * 29 + "-"),
        ("user", SHORT_TOKEN),
        ("user", "u" * 29 + "_"),
    ],
)
def test_keys_must_be_30_letters_and_digits_and_are_never_shown(tmp_path, key, value):
    text = VALID.replace(TOKEN if key == "token" else USER_KEY, value)
    path = write(tmp_path / "a.ini", text)
    [problem] = problems(path, need_pushover=False)
    assert problem.startswith(f"{path}: [pushover] {key}: ")
    assert value not in problem


def test_main_never_shows_a_bad_token(tmp_path, empty_log):
    config = write(tmp_path / "a.ini", VALID.replace(TOKEN, SHORT_TOKEN))
    result = run_main("--config", config, "--log", empty_log, "-v")
    assert result.status == ExitStatus.CONFIG_ERROR
    assert SHORT_TOKEN not in result.stderr
    assert SHORT_TOKEN not in result.stdout
    assert f"{config}: [pushover] token" in result.stderr


### Every problem at once ####################################################

ALL_WRONG = (
    f"[pushover]\ntoken = {SHORT_TOKEN}\nuser = not-a-user-key\n"
    "api_url = http://example.com/1/messages.json\n"
    "[source]\ntype = syslog\n"
    "[filter]\nignore = broken(\nignroe = typo\n"
    "[extra]\nkey = value\n"
)
ALL_WRONG_LOCATIONS = [
    "[pushover] token:",
    "[pushover] user:",
    "[pushover] api_url:",
    "[source] type:",
    "[filter] ignore:",
    "[filter] ignroe:",
    "[extra]:",
]


def test_load_config_reports_every_problem_together(tmp_path):
    path = write(tmp_path / "a.ini", ALL_WRONG)
    lines = problems(path)
    assert len(lines) == len(ALL_WRONG_LOCATIONS)
    for location in ALL_WRONG_LOCATIONS:
        assert [line for line in lines if line.startswith(f"{path}: {location}")], location


def test_main_reports_every_problem_one_line_each(tmp_path):
    config = write(tmp_path / "a.ini", ALL_WRONG)
    result = run_main("--config", config)
    assert result.status == ExitStatus.CONFIG_ERROR == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == len(ALL_WRONG_LOCATIONS)
    for location in ALL_WRONG_LOCATIONS:
        prefix = f"authwatch: error: {config}: {location}"
        assert [line for line in lines if line.startswith(prefix)], location
    assert "Traceback" not in result.stderr
    assert SHORT_TOKEN not in result.stderr


def test_config_is_checked_before_the_log_is_read(tmp_path):
    config = write(tmp_path / "a.ini", "[filter]\ndefault_ignore = maybe\n")
    result = run_main("--config", config, "--dry-run", "--log", str(tmp_path / "no-such.log"))
    assert_one_line_error(result)
    assert "[filter] default_ignore" in result.stderr


### A file that is not INI ###################################################


@pytest.mark.parametrize(
    "text",
    [
        "just some text\n",
        "[pushover]\ntoken\n",
        "[pushover\ntoken = x\n",
        "[pushover]\nuser = a\n[pushover]\n",
        "[pushover]\nuser = a\nuser = b\n",
    ],
)
def test_a_file_that_is_not_ini_is_one_error_naming_the_file(tmp_path, text):
    path = write(tmp_path / "a.ini", text)
    with pytest.raises(ConfigError) as raised:
        authwatch.read_config_text(path)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")


def test_main_reports_a_file_that_is_not_ini_in_one_line(tmp_path, empty_log):
    config = write(tmp_path / "a.ini", "this is not\nan ini file\n")
    result = run_main("--config", config, "--dry-run", "--log", empty_log)
    assert_one_line_error(result)
    assert config in result.stderr


def test_a_file_that_is_not_utf8_is_one_error(tmp_path, empty_log):
    path = tmp_path / "a.ini"
    path.write_bytes(b"[pushover]\nuser = \xff\xfe\n")
    result = run_main("--config", str(path), "--dry-run", "--log", empty_log)
    assert_one_line_error(result)
    assert str(path) in result.stderr


def test_read_config_text_without_a_file_is_empty():
    parser = authwatch.read_config_text(None)
    assert isinstance(parser, configparser.ConfigParser)
    assert parser.sections() == []


### Default state directory ##################################################


def test_default_state_dir_for_root(monkeypatch, tmp_path):
    monkeypatch.setattr(authwatch.os, "geteuid", lambda: 0)
    environ = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert authwatch.default_state_dir(environ) == "/var/lib/authwatch"


def test_default_state_dir_for_a_user_follows_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setattr(authwatch.os, "geteuid", lambda: 1000)
    environ = {"XDG_STATE_HOME": str(tmp_path / "xdg")}
    assert authwatch.default_state_dir(environ) == str(tmp_path / "xdg" / "authwatch")


def test_default_state_dir_for_a_user_without_xdg_state_home(monkeypatch, tmp_path):
    monkeypatch.setattr(authwatch.os, "geteuid", lambda: 1000)
    expected = str(tmp_path / "home" / ".local" / "state" / "authwatch")
    assert authwatch.default_state_dir({}) == expected


### Command-line usage #######################################################


def test_json_without_dry_run_is_a_usage_error(empty_log):
    result = run_main("--json", "--log", empty_log)
    assert_one_line_error(result)
    assert "--json" in result.stderr


def test_log_and_journal_dir_together_are_a_usage_error(tmp_path, empty_log):
    result = run_main("--dry-run", "--log", empty_log, "--journal-dir", str(tmp_path))
    assert_one_line_error(result)
    assert "--journal-dir" in result.stderr


def test_verbose_and_quiet_together_are_a_usage_error(empty_log):
    result = run_main("--dry-run", "--log", empty_log, "-v", "-q")
    assert_one_line_error(result)


def test_a_bad_max_read_is_a_usage_error(empty_log):
    result = run_main("--dry-run", "--log", empty_log, "--max-read", "1000")
    assert_one_line_error(result)
    assert "--max-read: must be 64K or more" in result.stderr


@pytest.mark.parametrize(
    "value, budget", [("64K", 64 * 1024), ("3m", 3 * 1024**2), ("1G", 1024**3), ("off", 0)]
)
def test_max_read_takes_a_size_or_off(value, budget):
    assert authwatch.build_parser().parse_args(["--max-read", value]).max_read == budget


def test_an_unknown_option_is_a_usage_error():
    result = run_main("--frobnicate")
    assert_one_line_error(result)
    assert "--frobnicate" in result.stderr


def test_version_prints_the_version_and_exits_0(capsys):
    result = run_main("--version")
    # argparse writes --version to sys.stdout, not to main()'s stdout
    printed = result.stdout + capsys.readouterr().out
    assert result.status == 0
    assert printed.strip() == f"authwatch {authwatch.__version__}"


def test_help_lists_the_exit_codes(capsys):
    result = run_main("--help")
    printed = result.stdout + capsys.readouterr().out
    assert result.status == 0
    assert "exit codes:" in printed
    listed = re.findall(r"^  (\d+) ", printed.split("exit codes:")[1], re.MULTILINE)
    assert sorted(int(code) for code in listed) == sorted(int(status) for status in ExitStatus)
    assert "usage or configuration error" in printed


### Found wanting once: each states the contract ###########################


def test_a_file_without_a_section_header_never_shows_the_token(tmp_path, empty_log):
    config = write(tmp_path / "a.ini", f"token = {TOKEN}\nuser = {USER_KEY}\n")
    result = run_main("--config", config, "--dry-run", "--log", empty_log)
    assert_one_line_error(result)
    assert TOKEN not in result.stderr


@pytest.mark.parametrize(
    "ignore",
    ["(?i)nagios", "\n    (?P<who>alice)\n    (?P<who>bob)"],
    ids=["inline-flag", "same-group-name-twice"],
)
def test_an_ignore_pattern_that_passes_validation_never_crashes_the_run(
    tmp_path, empty_log, ignore
):
    config = write(tmp_path / "a.ini", f"[filter]\nignore = {ignore}\n")
    result = run_main("--config", config, "--dry-run", "--log", empty_log)
    assert result.status == ExitStatus.CONFIG_ERROR
    assert result.stderr.startswith(
        f"authwatch: error: {config}: [filter] ignore: patterns cannot be combined"
    )


def test_an_unknown_key_in_the_default_section_is_reported(tmp_path):
    path = write(tmp_path / "a.ini", "[DEFAULT]\ntokn = x\n")
    assert problems(path, need_pushover=False) == [f"{path}: [DEFAULT]: unknown section"]


def test_every_error_line_names_the_file_even_for_multi_line_values(tmp_path):
    config = write(tmp_path / "a.ini", "[source]\ntype = bogus\n    more\n")
    result = run_main("--config", config, "--dry-run")
    assert result.status == ExitStatus.CONFIG_ERROR
    lines = result.stderr.splitlines()
    assert all(line.startswith(f"authwatch: error: {config}: ") for line in lines), lines


@pytest.mark.parametrize("option", ["--log", "--journal-dir"])
def test_a_bad_source_type_is_reported_even_when_an_option_overrides_it(
    tmp_path, empty_log, option
):
    config = write(tmp_path / "a.ini", "[source]\ntype = syslog\n")
    where = empty_log if option == "--log" else str(tmp_path)
    result = run_main("--config", config, "--dry-run", option, where)
    assert_one_line_error(result)
    assert f"{config}: [source] type" in result.stderr


def test_the_example_config_names_every_key_and_all_of_them_load(tmp_path):
    """config.example.ini shows every key, commented: uncommented, it loads."""
    example = authwatch_dir() / "config.example.ini"
    lines = []
    for line in example.read_text().splitlines():
        if re.match(r"#\w+ =", line) or line.startswith("#    "):
            line = line[1:]
        lines.append(line)
    text = "\n".join(lines).replace("token =\n", f"token = {TOKEN}\n")
    text = text.replace("user =\n", f"user = {USER_KEY}\n")
    text = text.replace("journal_dir =\n", f"journal_dir = {tmp_path}\n")
    city, systems = write_geoip(tmp_path)
    text = text.replace("/var/lib/GeoIP/GeoLite2-City.mmdb", str(city))
    text = text.replace("/var/lib/GeoIP/GeoLite2-ASN.mmdb", str(systems))
    config = load(write(tmp_path / "all.ini", text))
    shown = {(section, key) for section, keys in parse_sections(text).items() for key in keys}
    documented = {(section, key) for section, keys in authwatch.CONFIG_KEYS.items() for key in keys}
    assert shown == documented
    assert config.alerts.allow.users == frozenset({"deploy"})


def authwatch_dir():
    return Path(authwatch.__file__).parent


def parse_sections(text):
    parser = configparser.ConfigParser(interpolation=None)
    parser.read_string(text)
    return {section: list(parser[section]) for section in parser.sections()}


def test_empty_keys_as_in_the_example_are_missing_and_fine_for_a_dry_run(tmp_path, empty_log):
    config = write(tmp_path / "a.ini", "[pushover]\ntoken =\nuser =\n")
    assert run_main("--config", config, "--dry-run", "--log", empty_log).status == 0
    environ = {"AUTHWATCH_PUSHOVER_TOKEN": ""}  # set but empty: the file's token counts
    assert load(write(tmp_path / "b.ini", VALID), environ).token == TOKEN


def test_a_test_notification_is_no_dry_run():
    result = run_main("--dry-run", "--test-notification")
    assert result.status == ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: --test-notification sends: it does not go with --dry-run\n"
    )


def test_a_config_with_the_token_that_others_may_read_is_warned_of(tmp_path, empty_log):
    path = write(tmp_path / "a.ini", VALID)
    os.chmod(path, 0o644)
    args = ("--config", path, "--dry-run", "--log", empty_log)
    result = run_main(*args)
    assert result.status == ExitStatus.OK
    [line] = result.stderr.splitlines()
    assert line.startswith("authwatch: ") and "every user may read it" in line
    os.chmod(path, 0o640)
    assert run_main(*args).stderr == ""
