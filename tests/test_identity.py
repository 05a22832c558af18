"""Who wrote a journal entry: the kernel's uid (_UID) and, for a uid that is
not root's, the binary that journald found (_EXE), on journal files that
systemd-journal-remote writes from export text with the fields each attack
leaves, then on a real systemd-journald in a machine of the test's own."""

import json
import os
import pwd
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import JOURNAL_REMOTE, NOW, export_entry, run_main, sent_forms, write_journal

import authwatch

pytest.importorskip("systemd.journal", reason="needs systemd-python (scripts/test installs it)")
pytestmark = pytest.mark.skipif(
    not os.access(JOURNAL_REMOTE, os.X_OK), reason="needs Debian's systemd-journal-remote"
)

HERE = Path("/etc/machine-id").read_text().strip()  # entries of this machine
ELSEWHERE = "0123456789abcdef0123456789abcdef"  # a log host's entries of another machine
ROOT_LOGIN = "Accepted password for root from 198.51.100.66 port 4242 ssh2"
COCKPIT_LOGIN = "pam_unix(cockpit:session): session opened for user admin(uid=0) by (uid=0)"
SUDO = "   alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/usr/bin/id"


def entry(n, program, message, machine=HERE, **fields):
    """Return the export text of entry n of web1's journal: program's message
    with the given trusted fields (_UID, _COMM, _EXE, _PID, ...)."""
    return export_entry(
        {
            "__REALTIME_TIMESTAMP": 1795777200000000 + n * 1_000_000,
            "_HOSTNAME": "web1",
            "_MACHINE_ID": machine,
            "SYSLOG_FACILITY": "10",
            "SYSLOG_IDENTIFIER": program,
            "_PID": str(600 + n),
            **fields,
            "MESSAGE": message,
        }
    )


def events(folder, tmp_path):
    """Return the --json events of the whole journal in folder."""
    result = run_main(
        "--journal-dir", str(folder), "--state-dir", str(tmp_path / "state"),
        "--dry-run", "--json", "--from-start",
    )  # fmt: skip
    assert (result.status, result.stderr) == (0, ""), result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


def dry_run(folder, tmp_path):
    """Return what a run would send for the whole journal in folder."""
    result = run_main(
        "--journal-dir", str(folder), "--state-dir", str(tmp_path / "state"),
        "--dry-run", "--from-start",
    )  # fmt: skip
    assert (result.status, result.stderr) == (0, ""), result.stderr
    return result.stdout


@pytest.fixture
def folder(tmp_path):
    return tmp_path / "journal"


@pytest.fixture
def namespaces_forbidden(monkeypatch):
    """Judge as a machine whose users may not make user namespaces of their own
    (kernel.unprivileged_userns_clone = 0), where a setuid binary's path proves
    it: this one lets them (see the test of a program mounted over sudo)."""
    monkeypatch.setattr(authwatch, "users_may_mount", lambda: False)


@pytest.fixture
def copies(tmp_path):
    """Copies of the real sudo, owned by root, in the test's folder: "setuid/sudo"
    with its setuid bit, "plain/sudo" without."""
    if os.geteuid() != 0:
        pytest.skip("needs root to make a setuid-root file")
    for name, mode in (("setuid", 0o4755), ("plain", 0o755)):
        (tmp_path / name).mkdir()
        shutil.copy("/usr/bin/sudo", tmp_path / name / "sudo")
        os.chmod(tmp_path / name / "sudo", mode)
    return tmp_path


def test_an_sshd_run_by_a_user_with_ld_preload_writes_forged_lines(tmp_path, folder):
    # the attack: a user runs the real, non-setuid /usr/sbin/sshd with LD_PRELOAD
    # of a library whose constructor calls syslog(); journald names it sshd
    write_journal(
        folder,
        entry(1, "sshd", ROOT_LOGIN, _UID="1001", _COMM="sshd", _EXE="/usr/sbin/sshd")
        + entry(2, "sshd", ROOT_LOGIN, ELSEWHERE, _UID="1001", _COMM="sshd", _EXE="/usr/sbin/sshd"),
    )
    out = dry_run(folder, tmp_path)
    assert "SSH login root" not in out
    assert "=== web1: 2 forged lines [priority 1]" in out
    assert f"Forged: sshd line written by /usr/sbin/sshd (uid 1001): {ROOT_LOGIN}" in out


def test_logins_sent_by_a_user_who_exits_at_once_are_forged_and_never_learned(
    tmp_path, folder, config_file, pushover
):
    # the attack: a sender that writes to /dev/log and exits while journald is
    # busy leaves no _COMM or _EXE; the kernel's _UID is there in every entry
    write_journal(
        folder,
        b"".join(
            entry(
                n,
                "sshd",
                f"Accepted password for root from 198.51.100.{n} port 22 ssh2",
                _UID="1001",
            )
            for n in range(20)
        ),  # fmt: skip
    )
    config = config_file()
    run = ["--config", config, "--journal-dir", str(folder)]
    result = run_main(*run, "--from-start")
    assert (result.status, result.stderr) == (0, "")
    [digest] = sent_forms(pushover)
    assert digest["title"] == "web1: 20 forged lines"
    assert digest["message"].startswith(
        "Forged: 20 lines written by a program that had exited (uid 1001), e.g. sshd:"
        " Accepted password for root from 198.51.100.0 port 22 ssh2"
    )
    assert not (tmp_path / "state" / "logins.json").exists()
    learned = run_main(*run, "--learn")
    assert learned.stdout == "learned nothing: no logins in the history that is still there\n"


def test_a_cockpit_session_line_from_logger_is_forged(tmp_path, folder):
    write_journal(
        folder,
        entry(1, "cockpit-session", COCKPIT_LOGIN, _UID="1001", _COMM="logger",
              _EXE="/usr/bin/logger"),
    )  # fmt: skip
    [event] = events(folder, tmp_path)
    assert (event["kind"], event["forger"], event["user"]) == (
        "forged",
        "logger (uid 1001)",
        "admin",
    )


MOUNTABLE = ", a path that a user may mount another program over"


@pytest.mark.parametrize(
    ("machine", "path", "kind", "forger"),
    [
        (HERE, "/usr/bin/sudo", "sudo", None),  # the real sudo, setuid here
        # where distributions install it setuid: another machine's users may have
        # mounted another program there
        (ELSEWHERE, "/usr/bin/sudo", "unverified", "uid 1000 as /usr/bin/sudo" + MOUNTABLE),
        (HERE, "{copies}/setuid/sudo", "sudo", None),  # a setuid-root sudo where none is usual
        # ...which another machine's cannot show
        (ELSEWHERE, "{copies}/setuid/sudo", "forged", "{path} (uid 1000)"),
        # not setuid: LD_PRELOAD works on it
        (HERE, "{copies}/plain/sudo", "forged", "{path} (uid 1000)"),
        (HERE, "/home/u/sudo", "forged", "{path} (uid 1000)"),
        (ELSEWHERE, "/home/u/sudo", "forged", "{path} (uid 1000)"),
        (HERE, "/usr/bin/sudo (deleted)", "forged", "{path} (uid 1000)"),
        (HERE, "/usr/bin/../bin/sudo", "forged", "{path} (uid 1000)"),
        (HERE, "/usr/sbin/sshd", "forged", "{path} (uid 1000)"),  # a binary of another name
    ],
)
def test_a_users_sudo_is_real_when_its_binary_is_setuid_root(
    tmp_path, folder, copies, namespaces_forbidden, machine, path, kind, forger
):
    path = path.format(copies=copies)
    write_journal(folder, entry(1, "sudo", SUDO, machine, _UID="1000", _COMM="sudo", _EXE=path))
    [event] = events(folder, tmp_path)
    unverified = kind == "unverified"
    assert (event["kind"], event["unverified"]) == ("sudo" if unverified else kind, unverified)
    assert event["forger"] == (forger and forger.format(path=path))


def test_a_sudo_gone_before_journald_looked_is_reported_unverified(
    tmp_path, folder, config_file, pushover, namespaces_forbidden
):
    write_journal(
        folder,
        entry(1, "sudo", SUDO, _UID="1000")
        + entry(2, "sudo", SUDO.replace("/usr/bin/id", "/usr/bin/true"), _UID="1000",
                _COMM="sudo", _EXE="/usr/bin/sudo"),
    )  # fmt: skip
    unverified, real = events(folder, tmp_path)
    assert (unverified["kind"], unverified["unverified"], unverified["forger"]) == (
        "sudo",
        True,
        "uid 1000, gone before journald looked",
    )
    assert (real["kind"], real["unverified"], real["forger"]) == ("sudo", False, None)
    assert (
        run_main("--config", config_file(), "--journal-dir", str(folder), "--from-start").status
        == 0
    )
    [summary] = sent_forms(pushover)
    assert summary["title"] == "web1: 2 sudo/su uses"
    assert summary["message"] == (
        "sudo: alice as root: /usr/bin/id (unverified)\nsudo: alice as root: /usr/bin/true"
    )


def test_an_unverified_login_is_marked_and_never_learned(tmp_path, folder, config_file, pushover):
    # cockpit-session is setuid root, run by cockpit-ws as a user of its own
    write_journal(folder, entry(1, "cockpit-session", COCKPIT_LOGIN, _UID="990"))
    config = config_file()
    run = ["--config", config, "--journal-dir", str(folder)]
    assert run_main(*run, "--from-start").status == 0
    [login] = sent_forms(pushover)
    assert login["title"] == "web1: login admin on the console (unverified)"
    assert login["message"].startswith(
        "Unverified: written by uid 990, gone before journald looked\n"
    )
    assert not (tmp_path / "state" / "logins.json").exists()
    learned = run_main(*run, "--learn")
    assert learned.stdout == "learned nothing: no logins in the history that is still there\n"
    assert json.loads((tmp_path / "state" / "logins.json").read_text())["hosts"] == {}


def test_an_unverified_known_login_is_marked_in_the_digest(tmp_path, folder, config_file, pushover):
    write_journal(folder, entry(1, "cockpit-session", COCKPIT_LOGIN, _UID="990"))
    config = config_file("[allow]\nusers = admin\n")
    assert run_main("--config", config, "--journal-dir", str(folder), "--from-start").status == 0
    [digest] = sent_forms(pushover)
    assert digest["message"] == "Known login: admin on the console (cockpit) (unverified)"
    assert not (tmp_path / "state" / "logins.json").exists()


def test_an_unverified_act_is_marked_among_the_vital_lines_and_spends_no_reserve(
    tmp_path, folder, config_file, pushover
):
    # a user writes as cockpit-session and as sudo and is gone before journald looks
    # (or has mounted a program of their own over their paths): a login of a user of
    # uid 0, and a sudo of alice to root; and alice logs in for real
    alice = "Accepted password for alice from 192.0.2.10 port 4000 ssh2"
    write_journal(
        folder,
        entry(1, "cockpit-session", COCKPIT_LOGIN, _UID="1002")
        + entry(2, "sudo", SUDO, _UID="1002")
        + entry(3, "sshd", alice, _UID="0", _COMM="sshd", _EXE="/usr/sbin/sshd"),
    )
    run = ["--config", config_file("[alerts]\nmax_messages = 1\n"), "--journal-dir", str(folder)]
    assert run_main(*run, "--from-start").status == 0
    [folded] = sent_forms(pushover)
    assert folded["message"].splitlines()[:2] == [
        "login admin on the console (unverified)",
        "sudo alice as root (unverified)",
    ]
    # past today's budget only vital acts go, on the reserve: not those that are not proven
    reset = int(NOW.replace(hour=0).timestamp()) + 10 * 86400
    quota = {"limit": 10000, "remaining": 1090, "reset": reset, "day": f"{NOW:%F}", "sent": 110}
    (tmp_path / "state" / "pushover.json").write_text(json.dumps(quota))
    write_journal(folder, entry(4, "cockpit-session", COCKPIT_LOGIN, _UID="1002"))
    waits = run_main(*run)
    assert waits.status == authwatch.ExitStatus.QUOTA_WAIT, waits.stderr
    assert "1 message waits for Pushover's quota: today's budget of 110 is spent" in waits.stderr
    write_journal(folder, entry(5, "sshd", ROOT_LOGIN, _UID="0", _COMM="sshd"))
    assert run_main(*run).status == 0  # a real login of root goes, with what waited
    assert sent_forms(pushover)[-1]["title"].startswith("web1: SSH login root from 198.51.100.66")


def test_the_end_of_a_session_written_as_the_user_is_not_judged(tmp_path, folder):
    # after a login, sshd's session child runs as the user: its last lines
    # (packet.c, sshpkt_vfatal(): OpenSSH 9.2) carry the user's uid, and
    # often no _EXE (it exits right after them)
    alice = {"_UID": "1000", "_COMM": "sshd", "_PID": "4300"}
    write_journal(
        folder,
        entry(1, "sshd", "Accepted password for alice from 192.0.2.10 port 52144 ssh2",
              _UID="0", _COMM="sshd", _EXE="/usr/sbin/sshd", _PID="4299")
        + entry(2, "sshd",
                "Received disconnect from 192.0.2.10 port 52144:11: disconnected by user", **alice)
        + entry(3, "sshd", "Disconnected from user alice 192.0.2.10 port 52144", **alice)
        + entry(4, "sshd", "Connection closed by user alice 192.0.2.10 port 52144", **alice,
                _EXE="/usr/sbin/sshd"),
    )  # fmt: skip
    assert [(e["kind"], e["user"]) for e in events(folder, tmp_path)] == [("login", "alice")]


def test_a_connection_line_from_a_user_neither_counts_as_a_probe_nor_lends_its_address(
    tmp_path, folder
):
    # a real probe (uid 0) whose address comes after its first line, and lines
    # that a user forges with the same pid (a log host's export may hold any)
    real = {"_UID": "0", "_COMM": "sshd", "_EXE": "/usr/sbin/sshd", "_PID": "900"}
    forger = {"_UID": "1001", "_PID": "900"}
    write_journal(
        folder,
        entry(1, "sshd", "error: kex_exchange_identification: Connection closed by remote host",
              **real)
        + entry(2, "sshd", "Failed password for root from 6.6.6.6 port 1 ssh2", **forger,
                _COMM="logger", _EXE="/usr/bin/logger")
        + entry(3, "sshd", "Connection closed by 6.6.6.7 port 1", **forger)
        + entry(4, "sshd", "Connection closed by 203.0.113.5 port 4000", **real)
        + entry(5, "sshd", "Connection closed by 6.6.6.8 port 2", _UID="1001", _PID="901"),
    )  # fmt: skip
    found = [(e["kind"], e["ip"]) for e in events(folder, tmp_path)]
    assert found == [("forged", "6.6.6.6"), ("probe", "203.0.113.5")]


@pytest.mark.parametrize("forged_first", [False, True], ids=["between", "first"])
def test_a_forged_pam_failure_neither_cancels_nor_joins_a_real_one(
    tmp_path, folder, namespaces_forbidden, forged_first
):
    # util-linux su as a user (setuid: _UID is the user's): its PAM failure,
    # then its own words, from one process; a forged PAM line with its pid
    su = {"_UID": "1002", "_COMM": "su", "_EXE": "/usr/bin/su", "_PID": "700"}
    pam = (
        "pam_unix(su:auth): authentication failure; logname=mallory uid=1002 euid=0"
        " tty=/dev/pts/1 ruser=mallory rhost=  user=root"
    )
    forged = entry(2, "su", pam, _UID="1001", _COMM="logger", _EXE="/usr/bin/logger", _PID="700")
    real = [entry(1, "su", pam, **su), entry(3, "su", "FAILED SU (to root) mallory on pts/1", **su)]
    write_journal(folder, b"".join([forged, *real] if forged_first else [real[0], forged, real[1]]))
    out = dry_run(folder, tmp_path)
    assert "=== web1: 1 sudo/su use (1 failed) [priority 0]\nsu FAILED: mallory as root\n" in out
    assert "Forged: su line written by logger (uid 1001): pam_unix(su:auth)" in out


def test_sshds_privilege_separation_user_may_write_what_its_child_writes(tmp_path, folder):
    # up to OpenSSH 5.8 the pre-authentication child logged itself, as the
    # privilege-separation user (auth2.c); auth_log() ran in the monitor (uid 0)
    probe = "Bad protocol version identification 'GET /' from 192.0.2.7 port 5000"
    here = str(pwd.getpwnam("sshd").pw_uid)
    child = {"_COMM": "sshd", "_EXE": "/usr/sbin/sshd"}
    write_journal(
        folder,
        entry(1, "sshd", probe, _UID=here, **child)  # this machine's sshd user
        + entry(2, "sshd", probe, ELSEWHERE, _UID="104", **child)  # another's system user
        + entry(3, "sshd", probe, ELSEWHERE, _UID="1001", **child)  # ...not a system user
        + entry(4, "sshd", ROOT_LOGIN, ELSEWHERE, _UID="104", **child)  # never the child's
        + entry(5, "sshd", probe, _UID="1001", **child),
    )  # fmt: skip
    assert [(e["kind"], e["unverified"]) for e in events(folder, tmp_path)] == [
        ("probe", False),
        ("probe", True),
        ("forged", False),
        ("forged", False),
        ("forged", False),
    ]


def test_a_uid_is_read_as_a_number(tmp_path, folder):
    write_journal(folder, entry(1, "sshd", ROOT_LOGIN, _UID="00"))  # as an export may hold it
    [event] = events(folder, tmp_path)
    assert (event["kind"], event["user"]) == ("login", "root")


def test_an_exe_path_with_a_nul_is_no_binary(tmp_path, folder):
    write_journal(
        folder, entry(1, "sudo", SUDO, _UID="1000", _COMM="sudo", _EXE=b"/usr/bin/sudo\x00x")
    )
    [event] = events(folder, tmp_path)
    assert event["kind"] == "forged"


### On a real systemd-journald ##############################################
#
# What each program's entries carry, as journald 252 records them on Debian
# 12 (sshd 9.2, sudo 1.9.13, util-linux su 2.38): the README's table.

PRELOAD = r"""
#include <syslog.h>
#include <unistd.h>

__attribute__((constructor)) static void forge(void)
{
    char c;

    openlog("sshd", LOG_PID, LOG_AUTHPRIV);
    syslog(LOG_INFO, "Accepted password for root from 198.51.100.66 port 4242 ssh2");
    (void)read(0, &c, 1); /* alive until journald has looked at it */
}
"""
SEND_AND_EXIT = (
    "import socket; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto("
    "b'<86>sshd[1]: Accepted password for root from 198.51.100.67 port 1 ssh2', '/dev/log')"
)
PASSWORD = "correct-horse-battery-staple-42"


@pytest.fixture
def journald(machine):
    """The test's machine with its own systemd-journald, alice (who may sudo
    without a password) and mallory; yields (machine, its journal folder)."""
    folder = machine.journald()
    machine.add_user("alice", PASSWORD)
    machine.add_user("mallory", PASSWORD)
    machine.shell("echo 'alice ALL=(ALL) NOPASSWD: ALL' > /etc/sudoers.d/alice")
    return machine, folder


def journal(folder, **match):
    """Return the entries of the journal in folder that match (journalctl -o json)."""
    done = subprocess.run(
        ["journalctl", "-D", str(folder), "-o", "json", *(f"{k}={v}" for k, v in match.items())],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return [json.loads(line) for line in done.stdout.splitlines()]


def wait_for_entry(machine, folder, **match):
    """Wait until journald has written an entry that matches; return it."""
    found = []
    machine.wait_for(lambda: found.extend(journal(folder, **match)) or found, f"entry {match}")
    return found[-1]


def writer_of(entry):
    """Return what journald recorded of an entry's writer: _UID, _COMM, _EXE."""
    return entry["_UID"], entry.get("_COMM"), entry.get("_EXE")


def assert_mallorys_forged_login(machine, folder, tmp_path, entry, command, path):
    """Assert that the entry, a root login that mallory forged, carries her uid
    and the command and path given, and that authwatch reports it forged."""
    uid = str(machine.ids("mallory")[0])
    assert writer_of(entry) == (uid, command, path)
    out = dry_run(folder, tmp_path)
    assert "SSH login root" not in out
    by = path or "a program that had exited"
    assert f"Forged: sshd line written by {by} (uid {uid}): Accepted password for root" in out


def test_a_real_sshd_run_by_a_user_with_ld_preload_is_reported_forged(journald, tmp_path):
    machine, folder = journald
    library = machine.folder / "forge.so"
    source = machine.folder / "forge.c"
    source.write_text(PRELOAD)
    subprocess.run(["gcc", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    sshd = machine.start(
        "env", f"LD_PRELOAD={library}", "/usr/sbin/sshd", "-V", user="mallory",
        stdin=subprocess.PIPE,
    )  # fmt: skip
    forged = wait_for_entry(machine, folder, SYSLOG_IDENTIFIER="sshd")
    sshd.stdin.close()
    assert sshd.wait(timeout=30) == 0
    assert_mallorys_forged_login(machine, folder, tmp_path, forged, "sshd", "/usr/sbin/sshd")


def test_a_line_sent_to_dev_log_by_a_sender_gone_before_journald_looked_is_forged(
    journald, tmp_path
):
    machine, folder = journald
    with machine.pause_journald():
        machine.run("/usr/bin/python3", "-c", SEND_AND_EXIT, user="mallory")
    machine.sync_journal()
    forged = wait_for_entry(machine, folder, SYSLOG_IDENTIFIER="sshd")
    assert_mallorys_forged_login(machine, folder, tmp_path, forged, None, None)


def test_a_users_real_sudo_is_real_and_one_gone_before_journald_looked_unverified(
    journald, tmp_path, namespaces_forbidden
):
    machine, folder = journald
    machine.run("sudo", "-n", "/usr/bin/true", user="alice", stdin=subprocess.DEVNULL)
    real = wait_for_entry(machine, folder, SYSLOG_IDENTIFIER="sudo")
    with machine.pause_journald():
        machine.run("sudo", "-n", "/usr/bin/id", user="alice", stdin=subprocess.DEVNULL)
    machine.sync_journal()
    machine.wait_for(lambda: len(journal(folder, SYSLOG_IDENTIFIER="sudo")) >= 4, "the sudo")
    uid = str(machine.ids("alice")[0])
    assert writer_of(real) == (uid, "sudo", "/usr/bin/sudo")
    gone = [e for e in journal(folder, SYSLOG_IDENTIFIER="sudo") if "/usr/bin/id" in e["MESSAGE"]]
    assert [writer_of(entry) for entry in gone] == [(uid, None, None)]
    out = dry_run(folder, tmp_path)
    assert "sudo: alice as root: /usr/bin/true\n" in out
    assert "sudo: alice as root: /usr/bin/id (unverified)\n" in out
    assert "Forged" not in out


def test_a_users_real_failed_su_is_real(journald, tmp_path, namespaces_forbidden):
    machine, folder = journald
    # with no terminal, su reads the password from its input
    failed = machine.run("su", "-c", "true", "root", user="mallory", input="wrong\n", check=False)
    assert failed.returncode == 1, failed.stderr
    own = wait_for_entry(machine, folder, SYSLOG_IDENTIFIER="su", SYSLOG_FACILITY="4")
    assert own["MESSAGE"] == "FAILED SU (to root) mallory on none"
    assert writer_of(own) == (str(machine.ids("mallory")[0]), "su", "/usr/bin/su")
    out = dry_run(folder, tmp_path)
    assert "1 sudo/su use (1 failed)" in out and "\nsu FAILED: mallory as root\n" in out
    assert "Forged" not in out and "unverified" not in out


# what mallory runs in a user namespace of her own (unshare -Urm, which Linux lets any
# user make unless told not to): Python, mounted over /usr/bin/sudo there, so that
# journald, which reads /proc/PID/exe, names it /usr/bin/sudo
MOUNTED_SUDO = (
    "import syslog; syslog.openlog('sudo', 0, syslog.LOG_AUTHPRIV);"
    " syslog.syslog('pam_unix(login:session): session opened for user root(uid=0)"
    " by LOGIN(uid=0)');"
    " syslog.syslog('   alice : TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/sh');"
    " import time; time.sleep(1)"  # alive until journald has looked at it
)


def test_a_program_mounted_over_a_setuid_binary_in_a_users_namespace_is_unverified(
    journald, tmp_path
):
    machine, folder = journald
    mount = f"mount --bind {os.path.realpath('/usr/bin/python3')} /usr/bin/sudo"
    made = machine.run(
        "unshare", "-Urm", "sh", "-c", f'{mount} && exec /usr/bin/sudo -c "{MOUNTED_SUDO}"',
        user="mallory", check=False,
    )  # fmt: skip
    if made.returncode:
        pytest.skip(f"users may not make namespaces here: {made.stderr.strip()}")
    machine.sync_journal()
    machine.wait_for(lambda: len(journal(folder, SYSLOG_IDENTIFIER="sudo")) >= 2, "the lines")
    uid = str(machine.ids("mallory")[0])
    assert {writer_of(entry) for entry in journal(folder, SYSLOG_IDENTIFIER="sudo")} == {
        (uid, "sudo", "/usr/bin/sudo")
    }
    out = dry_run(folder, tmp_path)
    # what it claims is told, marked: it may be the real sudo's, or not
    assert "=== testhost: login root on the console (unverified) [priority 1]\n" in out
    assert (
        f"Unverified: written by uid {uid} as /usr/bin/sudo, a path that a user may mount"
        " another program over\n"
    ) in out
    assert "sudo: alice as root: /bin/sh (unverified)\n" in out


def test_a_real_ssh_login_is_real_and_its_sessions_end_is_not_judged(journald, tmp_path):
    machine, folder = journald
    port = machine.sshd(
        "SyslogFacility AUTH\nUsePAM yes\nPasswordAuthentication yes\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin no\n"
    )
    ssh = machine.run(
        "sshpass", "-p", PASSWORD, "ssh", "-o", "StrictHostKeyChecking=no",
        "-o", "UserKnownHostsFile=/dev/null", "-o", "PubkeyAuthentication=no",
        "-p", str(port), "alice@127.0.0.1", "true", check=False,
    )  # fmt: skip
    assert ssh.returncode == 0, ssh.stderr
    uid = str(machine.ids("alice")[0])
    # sshd's session child runs as alice: it writes the end of the session
    session = wait_for_entry(machine, folder, SYSLOG_IDENTIFIER="sshd", _UID=uid)
    assert session["MESSAGE"].startswith(("Received disconnect", "Disconnected from user alice"))
    [accepted] = [
        e for e in journal(folder, SYSLOG_IDENTIFIER="sshd") if "Accepted" in e["MESSAGE"]
    ]
    assert writer_of(accepted) == ("0", "sshd", "/usr/sbin/sshd")
    out = dry_run(folder, tmp_path)
    assert "=== testhost: SSH login alice from 127.0.0.1 [priority 1]" in out
    assert "Forged" not in out and "unverified" not in out and "Other:" not in out, out
