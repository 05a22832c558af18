"""authwatch setup, under --root against the Pushover stand-in: the config
written with the keys, the schedule with the real path, the test message,
the first run and the learning; a second run changes nothing; --remove and
--purge undo it; a refused token writes nothing; a schedule that root runs
is refused when another user can change what it runs.  As root (the files
of a system schedule must be root's), with authwatch in a venv in a folder
that root alone may change (pytest's own folders are under /tmp)."""

import grp
import os
import pwd
import shutil
import stat
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import MAIN, TOKEN, USER_KEY, accepted, run_main, sent_forms, write_geoip

import authwatch
import authwatch_rules

THIS_INSTALLATION = authwatch.this_installation  # as the module has it, before any fixture
OTHER_TOKEN = "b" * 28 + "TK"
NOBODY = pwd.getpwnam("nobody").pw_uid
NOBODYS_GROUP = grp.getgrgid(pwd.getpwnam("nobody").pw_gid)
# what setup says when root's schedule would run what another user can change
ANOTHERS = (
    "root's schedule would run what another user can change; install authwatch where root alone"
    " can change it: the Debian package, pipx as root with PIPX_HOME=/opt/pipx"
    " PIPX_BIN_DIR=/usr/local/bin, or a venv under /opt"
)


@pytest.fixture
def safe_place():
    """A new folder that root alone may change, as every folder above it."""
    if os.geteuid() != 0:
        pytest.skip("needs root: the files of a system schedule must be root's")
    top = Path(tempfile.mkdtemp(prefix="authwatch-test-", dir="/run"))
    try:
        assert authwatch.changeable_by_others(str(top), "/") is None
        yield top
    finally:
        shutil.rmtree(top)


def install(monkeypatch, folder):
    """Make a venv in folder as pip installs authwatch into one (its python a
    link to this one, the console script naming it, the module in
    site-packages), and setup run as its authwatch; return the command."""
    python, site = folder / "bin" / "python3", folder / "lib" / "python3" / "site-packages"
    site.mkdir(parents=True)
    python.parent.mkdir()
    python.symlink_to(os.path.realpath(sys.executable))
    script = folder / "bin" / "authwatch"
    script.write_text(f"#!{python}\nimport sys\nfrom authwatch import main\nsys.exit(main())\n")
    script.chmod(0o755)
    copy_installed(site)
    command = [str(script)]
    rules = site / "authwatch_rules"
    installation = [str(site / "authwatch.py"), str(rules), *map(str, rules.glob("*.py"))]
    installation += [str(python), str(folder), str(site)]
    monkeypatch.setattr(authwatch, "this_command", lambda: command)
    monkeypatch.setattr(authwatch, "this_installation", lambda: installation)
    return command


def copy_installed(site):
    """Copy authwatch (the module and its rules) into site, as pip installs it."""
    shutil.copy(authwatch.__file__, site)
    rules = os.path.dirname(authwatch_rules.__file__)
    shutil.copytree(rules, site / "authwatch_rules", ignore=shutil.ignore_patterns("__pycache__"))


@pytest.fixture(autouse=True)
def installed(safe_place, monkeypatch):
    """authwatch in a venv under an opt folder that root alone may change (it
    is group-writable, but the group is root's), setup run as its command;
    return the venv."""
    opt = safe_place / "opt"
    opt.mkdir()
    opt.chmod(0o775)
    install(monkeypatch, opt / "authwatch")
    return opt / "authwatch"


def home_of_another(place):
    """Return a home folder in place that the user nobody owns, as a user's own."""
    home = place / "home" / "alice"
    home.mkdir(parents=True)
    os.chown(home, NOBODY, -1)
    return home


@pytest.fixture
def root(tmp_path):
    """A machine's tree with an auth.log that holds one login."""
    top = tmp_path / "root"
    (top / "var" / "log").mkdir(parents=True)
    (top / "var" / "log" / "auth.log").write_text(accepted("alice", "198.51.100.7") + "\n")
    return top


KEYS = {"AUTHWATCH_PUSHOVER_TOKEN": TOKEN, "AUTHWATCH_PUSHOVER_USER": USER_KEY}


def setup(root, server, *extra, environ=KEYS):
    """Run setup under root, sending to server, with extra arguments and the
    keys in the environment (on the command line every user sees them)."""
    api_url = server.url_for("/1/messages.json")
    return run_main(
        "setup",
        "--root",
        str(root),
        "--api-url",
        api_url,
        "--yes",
        *extra,
        environ=environ,
        host="web1",
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


def write_config(root, text):
    """Write a config of root's own (mode 0600) with text; return its path."""
    config = root / "etc" / "authwatch" / "authwatch.ini"
    config.parent.mkdir(parents=True)
    config.write_text(text)
    config.chmod(0o600)
    return config


def command():
    """The command the schedule runs when setup runs from the tests."""
    return " ".join(authwatch.this_command())


def test_setup_writes_the_config_and_cron_runs_once_and_learns(root, pushover):
    result = setup(root, pushover)
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
    again = setup(root, pushover)
    assert (again.status, again.stderr) == (0, "")
    assert again.stdout == "source: /var/log/auth.log\nnothing changed: authwatch is set up\n"
    assert files(root) == before
    assert len(sent_forms(pushover)) == 1


def test_setup_with_a_timer_writes_units_that_systemd_accepts(root, pushover):
    result = setup(root, pushover, "--schedule", "timer")
    assert result.status == 0, result.stderr
    units = root / "etc" / "systemd" / "system"
    service = (units / "authwatch.service").read_text()
    assert f"\nExecStart={authwatch.unit_command(command().split())}\n" in service
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
    setup(root, pushover, "--schedule", "timer")
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
    result = setup(root, httpserver)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: Pushover refused [pushover] token (HTTP 400):"
        " application token is invalid\n"
    )
    assert files(root) == before


def test_an_existing_config_keeps_its_settings_and_its_keys_without_force(root, pushover):
    config = write_config(
        root, f"# mine\n[pushover]\n#token =\nuser = {USER_KEY}\n\n[alerts]\nmax_messages = 3\n"
    )
    result = setup(root, pushover)
    assert result.status == 0, result.stderr
    text = config.read_text()
    assert text.startswith(
        f"# mine\n[pushover]\napi_url = {pushover.url_for('/1/messages.json')}\n"
    )
    assert f"token = {TOKEN}\nuser = {USER_KEY}\n" in text
    assert "[alerts]\nmax_messages = 3\n" in text
    other = {**KEYS, "AUTHWATCH_PUSHOVER_TOKEN": OTHER_TOKEN}
    refused = setup(root, pushover, environ=other)
    assert refused.status == authwatch.ExitStatus.CONFIG_ERROR
    assert refused.stderr == (
        "authwatch: error: the config holds another Pushover token: --force replaces it\n"
    )
    assert config.read_text() == text
    forced = setup(root, pushover, "--force", environ=other)
    assert forced.status == 0
    assert f"token = {OTHER_TOKEN}\n" in config.read_text()


def test_setup_without_keys_asks_for_them_or_says_how_to_give_them(root, pushover):
    result = setup(root, pushover, environ={})
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: give the Pushover keys: AUTHWATCH_PUSHOVER_TOKEN (or --token-file)"
        " and AUTHWATCH_PUSHOVER_USER, or --token and --user\n"
    )
    by_environment = setup(root, pushover)
    assert (by_environment.status, by_environment.stderr) == (0, "")


def test_keys_on_the_command_line_are_taken_with_a_warning_that_every_user_sees_them(
    root, pushover
):
    result = setup(root, pushover, "--token", TOKEN, "--user", USER_KEY, environ={})
    assert result.status == 0
    assert result.stderr == (
        "authwatch: every user may read --token and --user in the list of processes: give the"
        " keys at the prompt, in AUTHWATCH_PUSHOVER_TOKEN and AUTHWATCH_PUSHOVER_USER, or the"
        " token with --token-file\n"
    )
    assert sent_forms(pushover)[0]["token"] == TOKEN


def test_the_token_file_gives_the_token_in_its_first_line(root, pushover, tmp_path):
    token = tmp_path / "token"
    token.write_text(f"  {TOKEN}  \nsecond line\n")
    token.chmod(0o400)
    user = {"AUTHWATCH_PUSHOVER_USER": USER_KEY}
    result = setup(root, pushover, "--token-file", str(token), environ=user)
    assert (result.status, result.stderr) == (0, "")
    assert sent_forms(pushover)[0]["token"] == TOKEN
    config = root / "etc" / "authwatch" / "authwatch.ini"
    assert authwatch.load_config(str(config), {}, {}, True).token == TOKEN
    both = setup(root, pushover, "--token-file", str(token), "--token", TOKEN, environ=user)
    assert both.status == authwatch.ExitStatus.CONFIG_ERROR
    token.write_text("\n" + TOKEN)
    empty = setup(root, pushover, "--token-file", str(token), environ=user)
    assert (
        empty.stderr == f"authwatch: error: --token-file {token}: its first line holds no token\n"
    )


def test_a_token_file_that_others_may_read_or_that_is_anothers_is_refused(root, pushover, tmp_path):
    token = tmp_path / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o644)
    user = {"AUTHWATCH_PUSHOVER_USER": USER_KEY}
    before = files(root)
    readable = setup(root, pushover, "--token-file", str(token), environ=user)
    assert readable.status == authwatch.ExitStatus.STATE_ERROR
    assert readable.stderr == (
        f"authwatch: error: {token} may be read or written by other users: refusing its token"
        " (chmod 600 it; and if others have read it, make a new token)\n"
    )
    token.chmod(0o600)
    os.chown(token, NOBODY, -1)
    anothers = setup(root, pushover, "--token-file", str(token), environ=user)
    assert anothers.status == authwatch.ExitStatus.STATE_ERROR
    assert anothers.stderr == (
        f"authwatch: error: {token} belongs to uid {NOBODY}, not to this user (uid 0):"
        " refusing its token\n"
    )
    assert files(root) == before
    assert sent_forms(pushover) == []


def test_a_token_file_that_is_a_pipe_is_read_and_one_without_a_writer_hangs_nothing(
    root, pushover, tmp_path
):
    # echo TOKEN | authwatch setup --token-file /dev/stdin; or <(pass show pushover)
    readable, writable = os.pipe()
    os.write(writable, f"{TOKEN}\n".encode())
    os.close(writable)
    try:
        assert authwatch.read_token_file(f"/dev/fd/{readable}") == TOKEN
    finally:
        os.close(readable)
    # a named pipe that no one writes to: setup must not wait for ever on it
    fifo = tmp_path / "token"
    os.mkfifo(fifo, 0o600)
    environ = {**os.environ, "PYTHONPATH": os.path.dirname(authwatch.__file__)}
    environ["AUTHWATCH_PUSHOVER_USER"] = USER_KEY
    arguments = [sys.executable, "-c", MAIN, "setup", "--root", str(root), "--yes"]
    arguments += ["--token-file", str(fifo)]
    before = files(root)

    def set_up():  # in a process of its own, so that a hang ends in 30 s
        return subprocess.run(arguments, env=environ, capture_output=True, text=True, timeout=30)

    empty = set_up()
    assert (empty.returncode, empty.stderr) == (
        authwatch.ExitStatus.CONFIG_ERROR,
        f"authwatch: error: --token-file {fifo}: its first line holds no token\n",
    )
    os.chown(fifo, NOBODY, -1)  # another's, whose writer would come when it likes
    anothers = set_up()
    assert anothers.returncode == authwatch.ExitStatus.STATE_ERROR
    assert f"belongs to uid {NOBODY}, not to this user" in anothers.stderr
    assert files(root) == before
    assert sent_forms(pushover) == []


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
        ],
        env={**os.environ, **KEYS},
        capture_output=True,
        text=True,
    )
    assert run.returncode == authwatch.ExitStatus.SOURCE_ERROR
    assert run.stderr == (
        "authwatch: error: this machine keeps its logins in the journal:"
        f" {authwatch.INSTALL_SYSTEMD_PYTHON}\n"
    )
    assert os.listdir(tmp_path) == []


def test_switching_the_schedule_takes_the_other_away(root, pushover):
    setup(root, pushover, "--schedule", "cron")
    timer = setup(root, pushover, "--schedule", "timer")
    assert f"removed {root}/etc/cron.d/authwatch\n" in timer.stdout
    assert not (root / "etc" / "cron.d" / "authwatch").exists()
    cron = setup(root, pushover, "--schedule", "cron")
    assert f"removed {root}/etc/systemd/system/authwatch.timer\n" in cron.stdout
    assert not (
        root / "etc" / "systemd" / "system" / "timers.target.wants" / "authwatch.timer"
    ).exists()
    assert (root / "etc" / "cron.d" / "authwatch").exists()


def test_keys_a_hand_written_config_holds_are_tested_before_the_schedule_goes_in(root, pushover):
    config = root / "etc" / "authwatch" / "authwatch.ini"
    config.parent.mkdir(parents=True)
    url = pushover.url_for("/1/messages.json")
    config.write_text(f"[pushover]\ntoken={TOKEN}\nuser={USER_KEY}\napi_url={url}\n")
    config.chmod(0o600)
    result = setup(root, pushover)
    assert result.status == 0, result.stderr
    assert len(sent_forms(pushover)) == 1


@pytest.mark.parametrize("written", ["TOKEN = {}", "token: {}", "  token={}", "; token = {}"])
def test_keys_written_any_way_configparser_reads_them_are_replaced_not_doubled(
    root, pushover, written
):
    config = write_config(root, f"[pushover] ; the keys\n{written.format(TOKEN)}\n")
    result = setup(root, pushover)
    assert result.status == 0, result.stderr
    assert config.read_text().lower().count("token") == 1


def test_commands_with_spaces_and_percents_stay_one_argument(tmp_path):
    program = tmp_path / "my dir%h" / "authwatch"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    assert authwatch.unit_command([str(program)]) == f'"{tmp_path}/my dir%%h/authwatch"'
    assert authwatch.cron_command([str(program)]) == f"'{tmp_path}/my dir\\%h/authwatch'"
    if shutil.which("systemd-analyze"):
        unit = tmp_path / "authwatch.service"
        unit.write_text(
            authwatch.SYSTEM_UNIT.format(
                mark=authwatch.SETUP_MARK,
                command=authwatch.unit_command([str(program)]),
                config="/etc/authwatch/authwatch.ini",
            )
        )
        verify = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stderr


def test_links_in_the_root_that_lead_out_of_it_are_refused(tmp_path, pushover):
    root = tmp_path / "image"
    outside = tmp_path / "host"
    (outside / "etc").mkdir(parents=True)
    (outside / "lib" / "authwatch").mkdir(parents=True)
    (outside / "lib" / "authwatch" / "keep").write_text("")
    (root / "var" / "log").mkdir(parents=True)
    (root / "var" / "log" / "auth.log").write_text("")
    (root / "etc").symlink_to(outside / "etc")
    (root / "var" / "lib").symlink_to(outside / "lib")
    result = setup(root, pushover)
    assert result.status == authwatch.ExitStatus.STATE_ERROR
    assert result.stderr == (
        f"authwatch: error: {root}/etc is a symbolic link, which setup does not follow under"
        " --root\n"
    )
    assert sent_forms(pushover) == []
    purged = setup(root, pushover, "--purge")
    assert purged.status == authwatch.ExitStatus.STATE_ERROR
    assert os.listdir(outside / "etc") == []
    assert (outside / "lib" / "authwatch" / "keep").exists()
    (root / "etc").unlink()
    write_config(root, "[state]\ndir = /../host/lib/authwatch\n")
    climbing = setup(root, pushover)
    assert climbing.status == authwatch.ExitStatus.STATE_ERROR
    assert climbing.stderr == (
        f"authwatch: error: {outside}/lib/authwatch leads out of {root}: refusing it\n"
    )


@pytest.mark.parametrize(
    "link, target",
    [
        ("var/lib/authwatch", "host/authwatch"),  # the state dir's last part, out of the root
        ("var/lib", "root/srv"),  # a middle part, to a folder of the image itself
        ("var/log/auth.log", "host/auth.log"),  # what the first run and --learn read
        ("var/log/auth.log.1", "host/auth.log.1"),  # what --learn reads
        ("etc/cron.d/authwatch", "host/authwatch.cron"),  # what setup writes
        ("etc/authwatch", "host/authwatch"),  # the config's folder
    ],
)
def test_a_link_in_any_part_of_a_path_under_the_root_is_refused_before_anything_is_done(
    root, pushover, link, target
):
    host = root.parent / "host"
    (host / "authwatch").mkdir(parents=True)
    (host / "auth.log").write_text(accepted("mallory", "203.0.113.66") + "\n")
    (host / "auth.log.1").write_text(accepted("mallory", "203.0.113.66") + "\n")
    (host / "authwatch.cron").write_text(f"{authwatch.SETUP_MARK}\n")
    (root / "srv").mkdir()
    if link == "var/log/auth.log":
        (root / link).unlink()
    (root / link).parent.mkdir(parents=True, exist_ok=True)
    (root / link).symlink_to(root.parent / target)
    before, host_before = files(root), files(host)
    options = ("--schedule", "cron", "--force")
    result = setup(root, pushover, *options)
    assert result.status == authwatch.ExitStatus.STATE_ERROR
    assert result.stderr == (
        f"authwatch: error: {root / link} is a symbolic link, which setup does not follow"
        " under --root\n"
    )
    assert (files(root), files(host)) == (before, host_before)
    assert sent_forms(pushover) == []
    purged = setup(root, pushover, "--purge")
    if link.startswith("var/log/"):  # not among what --purge removes
        assert (purged.status, purged.stdout) == (0, "nothing to remove\n")
    else:
        assert purged.status == authwatch.ExitStatus.STATE_ERROR
    assert (files(root), files(host)) == (before, host_before)


def test_a_merged_usr_image_enables_the_packages_timer_in_usr_lib(root, pushover, monkeypatch):
    # Debian 12 and later: /lib is a link to usr/lib; the package's units are in /usr/lib
    units = root / "usr" / "lib" / "systemd" / "system"
    units.mkdir(parents=True)
    (root / "lib").symlink_to("usr/lib")
    (root / "usr" / "lib" / "systemd" / "systemd").write_text("")  # the image's init
    (units / "authwatch.timer").write_text(authwatch.TIMER_UNIT.format(mark=authwatch.PACKAGE_MARK))
    monkeypatch.setattr(authwatch, "this_command", lambda: ["/usr/bin/authwatch"])
    result = setup(root, pushover)
    assert result.status == 0, result.stderr
    wants = root / "etc" / "systemd" / "system" / "timers.target.wants" / "authwatch.timer"
    assert os.readlink(wants) == "/usr/lib/systemd/system/authwatch.timer"
    assert setup(root, pushover).stdout.endswith("nothing changed: authwatch is set up\n")
    assert setup(root, pushover, "--remove").stdout == f"removed {wants}\n"


def test_what_setup_did_not_write_is_neither_replaced_nor_removed(root, pushover):
    units = root / "etc" / "systemd" / "system"
    (units / "timers.target.wants").mkdir(parents=True)
    (units / "timers.target.wants" / "authwatch.timer").symlink_to("/lib/systemd/system/x.timer")
    (root / "etc" / "cron.d").mkdir()
    (root / "etc" / "cron.d" / "authwatch").write_text("*/5 * * * * root my-own-job\n")
    options = ("--schedule", "cron")
    refused = setup(root, pushover, *options)
    assert refused.status == authwatch.ExitStatus.STATE_ERROR
    assert refused.stderr == (
        f"authwatch: error: {root}/etc/cron.d/authwatch is not authwatch setup's:"
        " --force replaces it\n"
    )
    assert setup(root, pushover, *options, "--force").status == 0
    assert setup(root, pushover, "--remove").stdout == f"removed {root}/etc/cron.d/authwatch\n"
    assert (units / "timers.target.wants" / "authwatch.timer").is_symlink()


def test_a_config_folder_every_user_may_write_is_refused(root, pushover):
    folder = root / "etc" / "authwatch"
    folder.mkdir(parents=True)
    folder.chmod(0o777)
    result = setup(root, pushover)
    assert result.status == authwatch.ExitStatus.STATE_ERROR
    assert result.stderr == (
        f"authwatch: error: {folder} may be written by other users: refusing it (chmod go-w)\n"
    )
    assert os.listdir(folder) == []


def test_the_state_dir_the_config_names_is_the_one_set_up(root, pushover):
    write_config(root, "[state]\ndir = /srv/authwatch\n")
    assert setup(root, pushover).status == 0
    assert (root / "srv" / "authwatch" / "var_log_auth.log.offset").exists()
    assert not (root / "var" / "lib" / "authwatch").exists()
    assert setup(root, pushover, "--purge").stdout.endswith(f"removed {root}/srv/authwatch\n")


def test_an_image_whose_journal_has_no_files_yet_is_set_up_all_the_same(tmp_path, pushover):
    pytest.importorskip("systemd.journal", reason="needs systemd-python (scripts/test installs it)")
    root = tmp_path / "image"
    (root / "var" / "log" / "journal").mkdir(parents=True)
    result = setup(root, pushover)
    assert result.status == 0, result.stderr
    assert "source: the systemd journal\n" in result.stdout
    assert (
        "first run: left to the first scheduled one (no journal files here yet)\n" in result.stdout
    )


def test_the_geoip_databases_an_images_config_names_are_the_images(root, pushover):
    # built on a machine that has none: setup --root finds them in the image, and
    # learns the image's logins with them, never reading the host's files
    geoip = root / "var" / "lib" / "GeoIP"
    geoip.mkdir(parents=True)
    city, asn = write_geoip(geoip)
    write_config(
        root, f"[geoip]\ncity_db = /{city.relative_to(root)}\nasn_db = /{asn.relative_to(root)}\n"
    )
    result = setup(root, pushover)
    assert (result.status, result.stderr) == (0, "")
    memory = (root / "var" / "lib" / "authwatch" / "logins.json").read_text()
    assert '"as:4134"' in memory  # alice from 198.51.100.7, Chinanet's in the image's database
    asn.unlink()
    asn.symlink_to(city)  # in the image itself, but a link all the same
    linked = setup(root, pushover, "--force")
    assert (linked.status, linked.stderr) == (
        authwatch.ExitStatus.STATE_ERROR,
        f"authwatch: error: {asn} is a symbolic link, which setup does not follow under --root\n",
    )


def test_setup_refuses_what_it_cannot_read_or_write_as_one_line(root, pushover):
    config = root / "etc" / "authwatch" / "authwatch.ini"
    config.parent.mkdir(parents=True)
    config.write_bytes(b"[pushover]\ntoken = \xff\n")
    not_utf8 = setup(root, pushover)
    assert not_utf8.status == authwatch.ExitStatus.CONFIG_ERROR
    assert not_utf8.stderr.startswith(f"authwatch: error: cannot read {config}: ")
    config.unlink()
    injected = setup(root, pushover, "--api-url", "x\nttl = 60")
    assert injected.status == authwatch.ExitStatus.CONFIG_ERROR
    assert injected.stderr == "authwatch: error: [pushover] api_url: a value of one line, please\n"
    assert not config.exists()


def test_purge_removes_a_state_dir_only_when_it_holds_authwatchs_files_alone(root, pushover):
    config = root / "etc" / "authwatch" / "authwatch.ini"
    config.parent.mkdir(parents=True)
    config.write_text("[state]\ndir = /var\n")
    config.chmod(0o600)
    setup(root, pushover)
    purged = setup(root, pushover, "--purge")
    assert purged.status == 0
    assert f"kept {root}/var: it holds " in purged.stdout
    assert (root / "var" / "log" / "auth.log").exists()


def test_remove_works_when_the_config_cannot_be_read(root, pushover):
    setup(root, pushover)
    config = root / "etc" / "authwatch" / "authwatch.ini"
    config.write_bytes(b"garbage line \xff\n")
    removed = setup(root, pushover, "--remove")
    assert removed.status == 0, removed.stderr
    assert not (root / "etc" / "cron.d" / "authwatch").exists()


def test_a_refusal_comes_before_anything_is_written_or_sent(
    root, pushover, safe_place, monkeypatch
):
    setup(root, pushover, "--schedule", "timer")
    (root / "etc" / "cron.d").mkdir()
    (root / "etc" / "cron.d" / "authwatch").write_text("*/5 * * * * root my-own-job\n")
    before, sent = files(root), len(sent_forms(pushover))
    refused = setup(root, pushover, "--schedule", "cron")
    assert refused.status == authwatch.ExitStatus.STATE_ERROR
    assert files(root) == before  # the timer still runs it
    fresh = root.parent / "fresh"
    shutil.copytree(root / "var" / "log", fresh / "var" / "log")
    (fresh / "etc" / "cron.d").mkdir(parents=True)
    (fresh / "etc" / "cron.d" / "authwatch").write_text("*/5 * * * * root my-own-job\n")
    before = files(fresh)
    options = ("--schedule", "cron")
    assert setup(fresh, pushover, *options).status == authwatch.ExitStatus.STATE_ERROR
    assert files(fresh) == before
    assert len(sent_forms(pushover)) == sent
    before = files(root)
    install(monkeypatch, home_of_another(safe_place) / "venv")  # the same, as alice's
    moved = setup(root, pushover, "--force")
    assert moved.status == authwatch.ExitStatus.STATE_ERROR
    assert files(root) == before  # the timer still runs root's
    assert len(sent_forms(pushover)) == sent


def venv_in_a_home(place, monkeypatch, root):
    home = home_of_another(place)
    install(monkeypatch, home / "venv")
    return f"{home} is uid {NOBODY}'s: {ANOTHERS}"


def venv_in_a_folder_a_group_may_write(place, monkeypatch, root):
    folder = place / "srv"
    folder.mkdir()
    os.chown(folder, 0, NOBODYS_GROUP.gr_gid)
    folder.chmod(0o775)
    install(monkeypatch, folder / "authwatch")
    return f"{folder} may be written by the members of group {NOBODYS_GROUP.gr_name}: {ANOTHERS}"


def venv_in_a_folder_every_user_may_write(place, monkeypatch, root):
    folder = place / "tmp"
    folder.mkdir()
    folder.chmod(0o1777)  # sticky, as /tmp: another user cannot remove it, but can make the venv
    install(monkeypatch, folder / "venv")
    return f"{folder} may be written by every user: {ANOTHERS}"


def venv_in_a_folder_an_acl_lets_another_write(place, monkeypatch, root):
    # setfacl -m u:nobody:rwx: root's folder, its mode 775 with the group root's
    folder = place / "srv"
    folder.mkdir()
    folder.chmod(0o755)
    user_obj, user, group_obj, mask, other = 0x01, 0x02, 0x04, 0x10, 0x20  # acl_tag_t
    entries = [
        (user_obj, 7, -1),
        (user, 7, NOBODY),
        (group_obj, 5, -1),
        (mask, 7, -1),
        (other, 5, -1),
    ]
    acl = struct.pack("<I", 2) + b"".join(  # linux/posix_acl_xattr.h, version 2
        struct.pack("<HHI", tag, permissions, whom & 0xFFFFFFFF)
        for tag, permissions, whom in entries
    )
    os.setxattr(folder, "system.posix_acl_access", acl)
    assert (folder.stat().st_mode & 0o777, folder.stat().st_gid) == (0o775, 0)
    install(monkeypatch, folder / "authwatch")
    return f"{folder} may be written by uid {NOBODY}, whom its ACL names: {ANOTHERS}"


def link_from_a_safe_place_to_a_home(place, monkeypatch, root):
    home = home_of_another(place)
    script = home / "authwatch"
    shutil.copy(authwatch.this_command()[0], script)  # the safe venv's, a copy of alice's
    link = place / "usr" / "local" / "bin" / "authwatch"
    link.parent.mkdir(parents=True)
    link.symlink_to(script)
    monkeypatch.setattr(authwatch, "this_command", lambda: [str(link)])
    return f"{home} is uid {NOBODY}'s: {ANOTHERS}"


def link_on_the_way_in_a_folder_a_group_may_write(place, monkeypatch, root):
    # the command and where it leads in the end are root's alone; a link it
    # passes on the way lies in a folder that any member of the group may change
    folder = place / "srv"
    folder.mkdir()
    os.chown(folder, 0, NOBODYS_GROUP.gr_gid)
    folder.chmod(0o775)
    (folder / "authwatch").symlink_to(authwatch.this_command()[0])
    link = place / "usr" / "local" / "bin" / "authwatch"
    link.parent.mkdir(parents=True)
    link.symlink_to(folder / "authwatch")
    monkeypatch.setattr(authwatch, "this_command", lambda: [str(link)])
    return f"{folder} may be written by the members of group {NOBODYS_GROUP.gr_name}: {ANOTHERS}"


def interpreter_in_a_home(place, monkeypatch, root):
    home = home_of_another(place)
    (home / "bin").mkdir()
    (home / "bin" / "python3").symlink_to(os.path.realpath(sys.executable))
    [script] = authwatch.this_command()
    text = Path(script).read_text()
    Path(script).write_text(f"#!{home}/bin/python3\n" + text.split("\n", 1)[1])
    return f"{home} is uid {NOBODY}'s: {ANOTHERS}"


def python_found_on_a_path_a_group_may_write(place, monkeypatch, root):
    # "#!/usr/bin/env python3": env is root's, but the python3 it runs is the
    # first on the schedule's PATH, where any member of the group may put one
    folder = place / "usr" / "local" / "bin"
    folder.mkdir(parents=True)
    os.chown(folder, 0, NOBODYS_GROUP.gr_gid)
    folder.chmod(0o2775)
    monkeypatch.setattr(authwatch, "SCHEDULE_PATH", (str(folder), "/usr/bin", "/bin"))
    [script] = authwatch.this_command()
    text = Path(script).read_text()
    Path(script).write_text("#!/usr/bin/env python3\n" + text.split("\n", 1)[1])
    return f"{folder} may be written by the members of group {NOBODYS_GROUP.gr_name}: {ANOTHERS}"


def module_in_a_home(place, monkeypatch, root):
    # an editable install: the venv is root's, the module it imports alice's
    home = home_of_another(place)
    installation = [str(home / "src" / "authwatch.py"), *authwatch.this_installation()[1:]]
    monkeypatch.setattr(authwatch, "this_installation", lambda: installation)
    return f"{home} is uid {NOBODY}'s: {ANOTHERS}"


def rules_of_another(place, monkeypatch, root):
    # one module of the rules that the installed authwatch imports is alice's
    [module] = [piece for piece in authwatch.this_installation() if piece.endswith("/sudo.py")]
    os.chown(module, NOBODY, -1)
    return f"{module} is uid {NOBODY}'s: {ANOTHERS}"


def config_of_another(place, monkeypatch, root):
    config = write_config(root, "[pushover]\n")
    os.chown(config, NOBODY, -1)
    return (
        f"{config} is uid {NOBODY}'s: root's schedule would read a config that another user can"
        " change: make it root's alone (chown root:root, chmod go-w)"
    )


@pytest.mark.parametrize("schedule", ["cron", "timer"])
@pytest.mark.parametrize(
    "make",
    [
        venv_in_a_home,
        venv_in_a_folder_a_group_may_write,
        venv_in_a_folder_every_user_may_write,
        venv_in_a_folder_an_acl_lets_another_write,
        link_from_a_safe_place_to_a_home,
        link_on_the_way_in_a_folder_a_group_may_write,
        interpreter_in_a_home,
        python_found_on_a_path_a_group_may_write,
        module_in_a_home,
        rules_of_another,
        config_of_another,
    ],
    ids=lambda make: make.__name__,
)
def test_a_schedule_that_root_runs_refuses_what_another_user_can_change(
    root, pushover, safe_place, monkeypatch, make, schedule
):
    why = make(safe_place, monkeypatch, root)
    before = files(root)
    result = setup(root, pushover, "--schedule", schedule)
    assert (result.status, result.stderr) == (
        authwatch.ExitStatus.STATE_ERROR,
        f"authwatch: error: {why}\n",
    )
    assert files(root) == before
    assert sent_forms(pushover) == []


def test_a_folder_python_imports_from_that_another_user_may_change_is_refused(
    root, pushover, safe_place
):
    # a real venv of root's; a .pth in its site-packages, as an editable install of
    # another project leaves one, puts a folder of alice's on its path: root's runs
    # would import from it what is not found before it (maxminddb, systemd)
    venv = safe_place / "opt" / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    [site] = (venv / "lib").glob("python3*/site-packages")
    copy_installed(site)
    home = home_of_another(safe_place)
    (home / "src").mkdir()
    (site / "__editable__.other-1.0.pth").write_text(f"{home / 'src'}\n")
    script = venv / "bin" / "authwatch"
    script.write_text(
        f"#!{venv}/bin/python\nimport sys\nfrom authwatch import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    before = files(root)
    api_url = pushover.url_for("/1/messages.json")
    result = subprocess.run(
        [str(script), "setup", "--root", str(root), "--api-url", api_url, "--yes"],
        env={"PATH": os.environ["PATH"], **KEYS},
        capture_output=True,
        text=True,
        cwd=home / "src",  # started there, as alice's folder is on the path all the same
    )
    assert (result.returncode, result.stderr) == (
        authwatch.ExitStatus.STATE_ERROR,
        f"authwatch: error: {home} is uid {NOBODY}'s: {ANOTHERS}\n",
    )
    assert files(root) == before
    assert sent_forms(pushover) == []


def test_the_timer_refuses_a_state_dir_of_its_own(root, pushover):
    write_config(root, "[state]\ndir = /srv/authwatch\n")
    before = files(root)
    result = setup(root, pushover, "--schedule", "timer")
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert "the timer's runs keep their state where systemd gives it" in result.stderr
    assert files(root) == before


def test_remove_takes_setups_service_when_the_timer_is_anothers(root, pushover):
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "authwatch.service").write_text(f"{authwatch.SETUP_MARK}: an old one\n")
    (units / "authwatch.timer").write_text("[Timer]\nOnCalendar=hourly\n")
    removed = setup(root, pushover, "--remove")
    assert removed.stdout == f"removed {units}/authwatch.service\n"
    assert (units / "authwatch.timer").exists()


def test_a_commented_key_before_the_real_one_is_left_alone(root, pushover):
    config = write_config(
        root, f"[pushover]\n# token = from the app page\ntoken = {TOKEN}\nuser = {USER_KEY}\n"
    )
    result = setup(root, pushover)
    assert result.status == 0, result.stderr
    assert "# token = from the app page\n" in config.read_text()


def test_a_link_among_the_units_that_leads_out_of_the_root_is_refused(root, pushover, tmp_path):
    outside = tmp_path / "host-wants"
    outside.mkdir()
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "timers.target.wants").symlink_to(outside)
    options = ("--schedule", "timer")
    assert setup(root, pushover, *options).status == authwatch.ExitStatus.STATE_ERROR
    assert os.listdir(outside) == []


def test_any_path_stays_one_argument_for_systemd_or_is_refused(tmp_path):
    program = tmp_path / "d$HOME y" / "authwatch"
    program.parent.mkdir()
    program.write_text("#!/bin/sh\n")
    program.chmod(0o755)
    command = [str(program), '/a "quoted" \\ $HOME %h']
    assert authwatch.unit_command(command) == (
        f'"{tmp_path}/d$HOME y/authwatch" "/a \\"quoted\\" \\\\ $$HOME %%h"'
    )
    if shutil.which("systemd-analyze"):
        unit = tmp_path / "authwatch.service"
        unit.write_text(f"[Service]\nType=oneshot\nExecStart={authwatch.unit_command(command)}\n")
        verify = subprocess.run(
            ["systemd-analyze", "verify", str(unit)], capture_output=True, text=True
        )
        assert verify.returncode == 0, verify.stderr
    for refused in ([str(program) + "\nExecStartPre=/bin/true"], ['/opt/q"uote/authwatch']):
        with pytest.raises(authwatch.StateError):
            authwatch.unit_command(refused)


@pytest.fixture
def packaged(root, monkeypatch):
    """The Debian package's units in the root, and setup run as its /usr/bin/authwatch."""
    units = root / "lib" / "systemd" / "system"
    units.mkdir(parents=True)
    for name, template in (("service", "SYSTEM_UNIT"), ("timer", "TIMER_UNIT")):
        (units / f"authwatch.{name}").write_text(
            getattr(authwatch, template).format(
                mark=authwatch.PACKAGE_MARK,
                command="/usr/bin/authwatch",
                config="/etc/authwatch/authwatch.ini",
            )
        )
    monkeypatch.setattr(authwatch, "this_command", lambda: ["/usr/bin/authwatch"])
    return units


def test_with_the_package_setup_enables_its_timer_rather_than_copying_it(root, pushover, packaged):
    options = ("--schedule", "timer")
    result = setup(root, pushover, *options)
    assert result.status == 0, result.stderr
    system = root / "etc" / "systemd" / "system"
    wants = system / "timers.target.wants" / "authwatch.timer"
    assert f"schedule: enabled authwatch.timer ({wants} -> {authwatch.PACKAGED_TIMERS[0]})\n" in (
        result.stdout
    )
    assert os.readlink(wants) == authwatch.PACKAGED_TIMERS[0]
    assert sorted(os.listdir(system)) == ["timers.target.wants"]  # no copies to shadow it
    assert setup(root, pushover).stdout.endswith("nothing changed: authwatch is set up\n")
    assert setup(root, pushover, "--remove").stdout == f"removed {wants}\n"
    assert sorted(os.listdir(packaged)) == ["authwatch.service", "authwatch.timer"]


def test_the_package_replaces_the_units_setup_copied_before_it(
    root, pushover, packaged, monkeypatch, installed
):
    monkeypatch.setattr(authwatch, "this_command", lambda: [str(installed / "bin" / "authwatch")])
    options = ("--schedule", "timer")
    assert setup(root, pushover, *options).status == 0
    monkeypatch.setattr(authwatch, "this_command", lambda: ["/usr/bin/authwatch"])
    result = setup(root, pushover)
    system = root / "etc" / "systemd" / "system"
    assert f"removed {system}/authwatch.service\n" in result.stdout
    assert (
        os.readlink(system / "timers.target.wants" / "authwatch.timer")
        == authwatch.PACKAGED_TIMERS[0]
    )


def test_setup_prepares_the_log_the_config_names_or_says_it_is_not_there(root, pushover):
    write_config(root, "[source]\npath = /var/log/custom.log\n")
    before = files(root)
    missing = setup(root, pushover)
    assert missing.status == authwatch.ExitStatus.SOURCE_ERROR
    assert missing.stderr == "authwatch: error: no /var/log/custom.log to read\n"
    assert files(root) == before
    (root / "var" / "log" / "custom.log").write_text("")
    assert setup(root, pushover).status == 0
    assert (root / "var" / "lib" / "authwatch" / "var_log_custom.log.offset").exists()


def test_a_file_where_the_timer_is_enabled_is_refused_before_anything_is_written(root, pushover):
    units = root / "etc" / "systemd" / "system"
    units.mkdir(parents=True)
    (units / "timers.target.wants").write_text("")
    before = files(root)
    options = ("--schedule", "timer")
    result = setup(root, pushover, *options)
    assert result.status == authwatch.ExitStatus.STATE_ERROR
    assert result.stderr == (
        f"authwatch: error: {units}/timers.target.wants is no folder:"
        " refusing to enable the timer there\n"
    )
    assert files(root) == before


def test_a_path_with_a_nul_in_the_config_is_a_config_error(root, pushover):
    write_config(root, "[state]\ndir = /srv/a\0b\n[geoip]\ncity_db = /x\0y\n")
    result = setup(root, pushover)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert "[state] dir: not a path" in result.stderr
    assert "[geoip] city_db: not a path" in result.stderr


def test_what_authwatch_runs_from_holds_its_rules():
    rules = os.path.dirname(os.path.abspath(authwatch_rules.__file__))
    pieces = THIS_INSTALLATION()  # not the installed fixture's stand-in
    assert rules in pieces
    assert os.path.join(rules, "openssh.py") in pieces
