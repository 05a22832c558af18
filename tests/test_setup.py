"""authwatch setup, under --root against the Pushover stand-in: the config
written with the keys, the schedule with the real path, the test message,
the first run and the learning; a second run changes nothing; --remove and
--purge undo it; a refused token writes nothing."""

import os
import shutil
import stat
import subprocess
import sys

import pytest
from helpers import TOKEN, USER_KEY, accepted, run_main, sent_forms

import authwatch

OTHER_TOKEN = "b" * 28 + "TK"


@pytest.fixture
def root(tmp_path):
    """A machine's tree with an auth.log that holds one login."""
    top = tmp_path / "root"
    (top / "var" / "log").mkdir(parents=True)
    (top / "var" / "log" / "auth.log").write_text(accepted("alice", "198.51.100.7") + "\n")
    return top


def setup(root, server, *extra):
    api_url = server.url_for("/1/messages.json")
    return run_main(
        "setup", "--root", str(root), "--api-url", api_url, "--yes", *extra, host="web1"
    )


def files(root):
    """Return {path under root: (mode, text)} of every file in the tree."""
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            path = os.path.join(folder, name)
            if os.path.islink(path):
                found[os.path.relpath(path, root)] = ("link", os.readlink(path))
            else:
                with open(path, "rb") as file:
                    found[os.path.relpath(path, root)] = (
                        stat.S_IMODE(os.stat(path).st_mode),
                        file.read(),
                    )
    return found


def command():
    """The command the schedule runs when setup runs from the tests."""
    return f"{sys.executable} {os.path.abspath(authwatch.__file__)}"


def test_setup_writes_the_config_and_cron_runs_once_and_learns(root, pushover):
    result = setup(root, pushover, "--token", TOKEN, "--user", USER_KEY)
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == (
        "Pushover accepted the test message (request e460545a-8e5c-4d2c-8c1c-1f2bd9c0e0f4)\n"
        "source: /var/log/auth.log\n"
        f"config: wrote {root}/etc/authwatch/authwatch.ini (mode 0600)\n"
        f"schedule: wrote {root}/etc/cron.d/authwatch\n"
        "first run: done, from the end of the log on\n"
        "learned 1 user and 2 origins (networks, terminals, keys), since 2026-11-27\n"
        "undo: authwatch setup --remove (with --purge, the config and state too)\n"
    )
    [message] = sent_forms(pushover)
    assert message["title"] == "web1: authwatch test"
    config = root / "etc" / "authwatch" / "authwatch.ini"
    assert stat.S_IMODE(config.stat().st_mode) == 0o600
    loaded = authwatch.load_config(str(config), {}, {}, True)
    assert (loaded.token, loaded.user, loaded.api_url) == (
        TOKEN,
        USER_KEY,
        pushover.url_for("/1/messages.json"),
    )
    assert "[alerts]" in config.read_text()  # the example, with every comment
    cron = (root / "etc" / "cron.d" / "authwatch").read_text()
    assert cron == f"*/5 * * * * root {command()} {authwatch.SETUP_MARK}\n"
    state = root / "var" / "lib" / "authwatch"
    assert (state / "var_log_auth.log.offset").exists()  # named as the system names it
    assert "alice" in (state / "logins.json").read_text()

    before = files(root)
    again = setup(root, pushover, "--token", TOKEN, "--user", USER_KEY)
    assert (again.status, again.stderr) == (0, "")
    assert again.stdout == "source: /var/log/auth.log\nnothing changed: authwatch is set up\n"
    assert files(root) == before
    assert len(sent_forms(pushover)) == 1


def test_setup_with_a_timer_writes_units_that_systemd_accepts(root, pushover):
    result = setup(root, pushover, "--token", TOKEN, "--user", USER_KEY, "--schedule", "timer")
    assert result.status == 0, result.stderr
    units = root / "etc" / "systemd" / "system"
    service = (units / "authwatch.service").read_text()
    assert f"\nExecStart={command()}\n" in service
    assert "\nLoadCredential=authwatch.ini:/etc/authwatch/authwatch.ini\n" in service
    wants = units / "timers.target.wants" / "authwatch.timer"
    assert os.readlink(wants) == "../authwatch.timer"
    if shutil.which("systemd-analyze"):
        verify = subprocess.run(
            [
                "systemd-analyze",
                "verify",
                str(units / "authwatch.service"),
                str(units / "authwatch.timer"),
            ],
            capture_output=True,
            text=True,
        )
        assert verify.returncode == 0, verify.stderr
    assert setup(root, pushover).stdout.endswith("nothing changed: authwatch is set up\n")


def test_remove_takes_the_schedule_away_and_purge_the_config_and_state(root, pushover):
    setup(root, pushover, "--token", TOKEN, "--user", USER_KEY, "--schedule", "timer")
    (root / "etc" / "cron.d").mkdir()
    (root / "etc" / "cron.d" / "authwatch").write_text("*/5 * * * * root my-own-job\n")
    removed = setup(root, pushover, "--remove")
    assert removed.status == 0
    assert removed.stdout.splitlines() == [
        f"removed {root}/etc/systemd/system/timers.target.wants/authwatch.timer",
        f"removed {root}/etc/systemd/system/authwatch.service",
        f"removed {root}/etc/systemd/system/authwatch.timer",
    ]
    assert (root / "etc" / "cron.d" / "authwatch").exists()  # not setup's: kept
    assert (root / "etc" / "authwatch" / "authwatch.ini").exists()
    purged = setup(root, pushover, "--purge")
    assert purged.stdout.splitlines() == [
        f"removed {root}/etc/authwatch/authwatch.ini",
        f"removed {root}/var/lib/authwatch",
    ]
    assert setup(root, pushover, "--purge").stdout == "nothing to remove\n"


def test_a_refused_token_writes_nothing(root, httpserver):
    httpserver.expect_request("/1/messages.json").respond_with_json(
        {"status": 0, "token": "invalid", "errors": ["application token is invalid"]}, status=400
    )
    before = files(root)
    result = setup(root, httpserver, "--token", TOKEN, "--user", USER_KEY)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: Pushover refused [pushover] token (HTTP 400):"
        " application token is invalid\n"
    )
    assert files(root) == before


def test_an_existing_config_keeps_its_settings_and_its_keys_without_force(root, pushover):
    config = root / "etc" / "authwatch" / "authwatch.ini"
    config.parent.mkdir(parents=True)
    config.write_text(
        f"# mine\n[pushover]\n#token =\nuser = {USER_KEY}\n\n[alerts]\nmax_messages = 3\n"
    )
    config.chmod(0o600)
    result = setup(root, pushover, "--token", TOKEN)
    assert result.status == 0, result.stderr
    text = config.read_text()
    assert text.startswith(
        f"# mine\n[pushover]\napi_url = {pushover.url_for('/1/messages.json')}\n"
    )
    assert f"token = {TOKEN}\nuser = {USER_KEY}\n" in text
    assert "[alerts]\nmax_messages = 3\n" in text
    refused = setup(root, pushover, "--token", OTHER_TOKEN)
    assert refused.status == authwatch.ExitStatus.CONFIG_ERROR
    assert refused.stderr == (
        "authwatch: error: the config holds another Pushover token: --force replaces it\n"
    )
    assert config.read_text() == text
    forced = setup(root, pushover, "--token", OTHER_TOKEN, "--force")
    assert forced.status == 0
    assert f"token = {OTHER_TOKEN}\n" in config.read_text()


def test_setup_without_keys_asks_for_them_or_says_how_to_give_them(root, pushover):
    result = setup(root, pushover)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: give the Pushover keys: --token and --user, or"
        " AUTHWATCH_PUSHOVER_TOKEN and AUTHWATCH_PUSHOVER_USER\n"
    )
    environ = {"AUTHWATCH_PUSHOVER_TOKEN": TOKEN, "AUTHWATCH_PUSHOVER_USER": USER_KEY}
    api_url = pushover.url_for("/1/messages.json")
    by_environment = run_main(
        "setup", "--root", str(root), "--api-url", api_url, "--yes", environ=environ
    )
    assert by_environment.status == 0, by_environment.stderr


def test_setup_where_the_journal_is_needed_says_what_to_install(tmp_path, pushover):
    here = os.path.dirname(authwatch.__file__)
    isolated = (
        f"import sys; sys.path[:] = [{here!r}] + [p for p in sys.path if 'packages' not in p]; "
    )
    run = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            isolated + "import authwatch; sys.exit(authwatch.main(sys.argv[1:]))",
            "setup",
            "--root",
            str(tmp_path),
            "--yes",
            "--token",
            TOKEN,
            "--user",
            USER_KEY,
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == authwatch.ExitStatus.SOURCE_ERROR
    assert run.stderr == (
        "authwatch: error: this machine keeps its logins in the journal:"
        f" {authwatch.INSTALL_SYSTEMD_PYTHON}\n"
    )
    assert os.listdir(tmp_path) == []
