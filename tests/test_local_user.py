"""What a local user can and cannot do about the alarm: each attack of the
review, made the way the attacker made it, as root on a machine of the
test's own (tests/machine.py: private namespaces) with the real rsyslogd or
systemd-journald, the real sudo, sshd and logger, a user of the machine
writing the forged lines; authwatch runs outside beside the Pushover
stand-in, or inside for the machine's own user database."""

import datetime
import os
import subprocess
import sys

import pytest
from helpers import MAIN, run_main, sent_forms
from machine import HOST, missing_tools

import authwatch

pytestmark = pytest.mark.skipif(bool(missing_tools()), reason=missing_tools() or "")

ATTACKER = "mallory"  # a user of the machine, without any privilege


def now():
    """Return the time now: the daemons stamp their lines with the real clock."""
    return datetime.datetime.now().astimezone()


def forge(machine, tag, *messages):
    """Write each message with logger(1) under tag, as the attacker."""
    for message in messages:
        machine.run("logger", "-p", "auth.info", "-t", tag, "--", message, user=ATTACKER)


def root_key_sshd(machine):
    """Start sshd on 127.0.0.1 where root may log in with a key (made in the
    test's folder, authorized there); return (port, key, its fingerprint)."""
    key = machine.folder / "root_key"
    machine.run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key))
    (machine.folder / "authorized_keys").write_bytes((machine.folder / "root_key.pub").read_bytes())
    fingerprint = machine.run("ssh-keygen", "-l", "-f", f"{key}.pub").stdout.split()[1]
    port = machine.sshd(
        "SyslogFacility AUTH\nLogLevel INFO\nUsePAM yes\nPermitRootLogin prohibit-password\n"
        f"AuthorizedKeysFile {machine.folder / 'authorized_keys'}\nStrictModes no\n"
    )
    return port, key, fingerprint


def watched_root_sshd(machine, config):
    """Start rsyslogd, the attacker's account and root_key_sshd(), and run
    authwatch once with config, so that its position is the log's end; return
    (the log, authwatch's arguments, sshd's port, the key, its fingerprint)."""
    log = machine.folder / "auth.log"
    machine.rsyslog(log)
    machine.add_user(ATTACKER)
    port, key, fingerprint = root_key_sshd(machine)
    wait_for_line(machine, log, "kex_exchange_identification")
    run = ["--config", config, "--log", str(log)]
    assert run_main(*run, now=now()).status == 0
    return log, run, port, key, fingerprint


def ssh_with_key(machine, port, key, user="root"):
    """Log in once as user with key, inside the machine; fail unless it worked."""
    machine.run(
        "ssh", "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
        "-o", "BatchMode=yes", "-i", str(key), "-p", str(port), f"{user}@127.0.0.1", "true",
    )  # fmt: skip


def wait_for_line(machine, log, text, count=1):
    """Wait until the log holds text count times."""
    machine.wait_for(
        lambda: log.read_text(errors="replace").count(text) >= count, f"{text!r} in {log}"
    )


def said(forms):
    """Return every title and body line that reached the phone."""
    return [line for form in forms for line in [form["title"], *form["message"].splitlines()]]


def names_root_login(forms):
    """Return whether the phone was told of the SSH login of root from
    127.0.0.1, in a title or a line."""
    return any("SSH login root from 127.0.0.1" in line for line in said(forms))


# 170 characters of user name: nine of them fill Pushover's 1,024
DECOYS = [
    f"pam_unix(cockpit:session): session opened for user admin{n}{'x' * 170}(uid=0) by (uid=0)"
    for n in range(9)
]

SSH_DECOYS = [f"Accepted password for decoy{n} from 198.51.100.{n} port 22 ssh2" for n in range(9)]


def test_a_real_root_sudo_whose_fields_are_unclear_is_named_and_no_wall_buries_it(
    machine, config_file, pushover
):
    log = machine.folder / "auth.log"
    machine.rsyslog(log)
    machine.add_user(ATTACKER)
    run = ["--config", config_file(), "--log", str(log)]
    assert run_main(*run, now=now()).status == 0  # the position: the end
    # two " ; USER=" in the line: sudo 1.9.13 quotes the argument, and writes it
    machine.run(
        "sudo", "/bin/sh", "-c", "id", " ; USER=nobody ; COMMAND=/usr/bin/true",
        stdin=subprocess.DEVNULL,
    )  # fmt: skip
    forge(machine, "cockpit-session", *[f"{n} {'padding ' * 25}" for n in range(6)])
    wait_for_line(machine, log, "cockpit-session", 6)

    result = run_main(*run, now=now())
    assert (result.status, result.stderr) == (0, "")
    forms = {form["title"]: form["message"] for form in sent_forms(pushover)}
    assert forms[f"{HOST}: 1 sudo/su use"] == (
        "sudo: root (fields unclear): PWD=/ ; USER=root ;"
        " COMMAND=/bin/sh -c id ' ; USER=nobody ; COMMAND=/usr/bin/true'"
    )
    digest = forms[f"{HOST}: 6 other lines"]
    assert digest.startswith("Other: 6 lines from cockpit-session, e.g. 0 ")
    assert "\n" not in digest  # the flood is one line


def test_a_real_doas_to_root_cannot_pass_for_one_to_another_user(machine, config_file, pushover):
    log = machine.folder / "auth.log"
    machine.rsyslog(log)
    machine.add_user(ATTACKER)
    # the intruder may become root with doas (doas.conf(5))
    machine.shell(f"echo 'permit nopass {ATTACKER} as root' > /etc/doas.conf")
    run = ["--config", config_file("[alerts]\nmax_messages = 1\n"), "--log", str(log)]
    assert run_main(*run, now=now()).status == 0
    forge(machine, "sshd", *SSH_DECOYS[:3])
    # doas.c writes "%s ran command %s as %s from %s": the argument comes before the
    # target, and reads as one
    machine.run("doas", "/bin/sh", "-c", "id -u", "as nobody from /", user=ATTACKER)
    wait_for_line(machine, log, "ran command")

    result = run_main(*run, now=now())
    assert (result.status, result.stderr) == (0, "")
    [folded] = sent_forms(pushover)
    lines = folded["message"].splitlines()
    assert lines[0] == f"doas {ATTACKER} as root?"  # a vital act leads the fold
    assert (
        f"doas: {ATTACKER} (fields unclear): ran command /bin/sh -c id -u as nobody from /"
        " as root from /"
    ) in lines


@pytest.mark.parametrize("daemon", ["rsyslog", "journald"])
def test_nine_forged_logins_of_long_names_cannot_hide_a_real_root_login(
    machine, config_file, pushover, daemon
):
    if daemon == "rsyslog":
        log = machine.folder / "auth.log"
        machine.rsyslog(log)
        source = ["--log", str(log)]
    else:
        source = ["--journal-dir", str(machine.journald())]
    machine.add_user(ATTACKER)
    port, key, _ = root_key_sshd(machine)
    run = ["--config", config_file(), *source]
    if daemon == "rsyslog":  # sshd's readiness probe is history before the test begins
        wait_for_line(machine, log, "kex_exchange_identification")
    else:
        machine.sync_journal()
    assert run_main(*run, now=now()).status == 0  # the position: the end

    # cockpit-session is no program whose writer the journal checks
    forge(machine, "cockpit-session", *DECOYS)
    ssh_with_key(machine, port, key)
    if daemon == "rsyslog":
        wait_for_line(machine, log, "Accepted publickey for root")
    else:
        machine.sync_journal()

    result = run_main(*run, now=now())
    assert result.status == 0, result.stderr
    forms = sent_forms(pushover)
    assert len(forms) <= 5  # within [alerts] max_messages
    assert names_root_login(forms), said(forms)


def test_a_flood_that_makes_journald_delete_a_root_login_rings_as_loud_as_it_would(
    machine, config_file, pushover
):
    # journald deletes its oldest files past RuntimeMaxUse (10% of /run by default;
    # SystemMaxUse on disk): small here, so that a test's flood reaches it
    machine.shell(
        "mkdir -p /etc/systemd && printf '[Journal]\\nRuntimeMaxUse=2M\\n"
        "RuntimeMaxFileSize=512K\\n' > /etc/systemd/journald.conf"
    )
    folder = machine.journald()
    machine.add_user(ATTACKER)
    port, key, _ = root_key_sshd(machine)
    machine.sync_journal()
    run = ["--config", config_file(), "--journal-dir", str(folder)]
    assert run_main(*run, now=now(), host=HOST).status == 0  # the position: the end
    ssh_with_key(machine, port, key)
    machine.sync_journal()
    # 8 MB that do not compress, at the user facility, which authwatch does not read
    flood = "\n".join(os.urandom(3000).hex() for _ in range(1400)) + "\n"
    machine.run("logger", "-p", "user.info", "-t", "noise", user=ATTACKER, input=flood)
    machine.sync_journal()

    result = run_main(*run, now=now(), host=HOST)
    assert result.status == 0
    [notice] = sent_forms(pushover)
    assert not names_root_login([notice])  # gone: nothing can tell it again
    assert notice["title"] == f"{HOST}: authwatch notice"
    assert "the journal entry read last is gone (vacuumed or rotated away)" in notice["message"]
    assert notice["priority"] == "1"  # what is gone may have been a login of root


def test_forged_repeat_counts_cannot_make_the_outbox_unreadable_and_hide_a_root_login(
    machine, config_file, pushover, tmp_path
):
    log, run, port, key, _ = watched_root_sshd(machine, config_file())
    # rsyslog's "message repeated N times: [ ... ]", N up to 999,999,999 each: a
    # login seen three billion times
    repeated = "message repeated 999999999 times: [ Accepted password for root from 127.0.0.1"
    forge(machine, "sshd", *[f"{repeated} port {n} ssh2]" for n in range(3)])
    ssh_with_key(machine, port, key)
    wait_for_line(machine, log, "Accepted publickey for root")

    result = run_main(*run, now=now())
    assert (result.status, result.stderr) == (0, "")
    assert names_root_login(sent_forms(pushover))
    assert not (tmp_path / "state" / "outbox.json.damaged").exists()


def test_sixty_forged_logins_of_three_users_cannot_hide_a_real_root_login(
    tmp_path, config_file, pushover
):
    log = tmp_path / "auth.log"
    log.write_text("")
    run = ["--config", config_file(), "--log", str(log)]
    assert run_main(*run).status == 0
    # as logger -t sshd writes them: sixty logins, from addresses of the user's choice
    lines = [
        f"Nov 27 11:50:{n:02} web1 sshd[{7000 + n}]: Accepted password for"
        f" {('deploy', 'backup', 'monitor')[n % 3]} from 198.51.{n}.7 port 40000 ssh2"
        for n in range(60)
    ]
    lines.append(
        "Nov 27 11:51:00 web1 sshd[7100]: Accepted publickey for root from 203.0.113.66"
        " port 51000 ssh2: ED25519 SHA256:Vb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"
    )
    log.write_text("\n".join(lines) + "\n")
    assert run_main(*run).status == 0
    forms = sent_forms(pushover)
    assert len(forms) == 5
    assert [form["title"] for form in forms][0] == "web1: SSH login root from 203.0.113.66"
    # the fold's headline names the users, the rarest first
    assert forms[-1]["message"].splitlines()[0].startswith("57 logins from 3 users and ")


@pytest.mark.parametrize(
    "flood, vital, named",
    [
        (  # more distinct logins than a summary keeps, then a login as root
            lambda n: (
                f"sshd[{n}]: Accepted password for u{n} from 10.{n >> 8 & 255}.{n & 255}.7"
                " port 40000 ssh2"
            ),
            "sshd[99999]: Accepted password for root from 203.0.113.66 port 51000 ssh2",
            "SSH login root from 203.0.113.66",
        ),
        (  # more distinct sudo acts than a summary keeps, then a sudo to root
            lambda n: f"sudo:    u{n} : TTY=pts/0 ; PWD=/ ; USER=nobody ; COMMAND=/bin/true",
            "sudo:    bob : TTY=pts/1 ; PWD=/ ; USER=root ; COMMAND=/bin/sh",
            "sudo bob as root",
        ),
    ],
    ids=["logins", "sudo"],
)
def test_a_flood_past_what_a_run_keeps_cannot_hide_a_vital_act(
    tmp_path, config_file, pushover, flood, vital, named
):
    log = tmp_path / "auth.log"
    log.write_text("")
    run = ["--config", config_file(), "--log", str(log)]
    assert run_main(*run).status == 0
    lines = [f"Nov 27 11:50:00 web1 {flood(n)}" for n in range(authwatch.KEPT_LOGINS + 1)]
    log.write_text("\n".join([*lines, f"Nov 27 11:51:00 web1 {vital}"]) + "\n")
    assert run_main(*run).status == 0
    assert any(named in form["message"] for form in sent_forms(pushover)), sent_forms(pushover)


def test_forged_logins_teach_the_memory_nothing_a_real_root_login_is_not_as_usual(
    machine, config_file, pushover, tmp_path
):
    log, run, port, key, fingerprint = watched_root_sshd(machine, config_file())

    # the attacker's own key, from where the attacker will log in: if the memory
    # learned it, the real login would ring "As usual", at priority 0
    root = f"Accepted publickey for root from 127.0.0.1 port 4000 ssh2: ED25519 {fingerprint}"
    forge(machine, "sshd", *SSH_DECOYS, root)
    wait_for_line(machine, log, "Accepted publickey for root")
    result = run_main(*run, "-v", now=now())
    assert result.status == 0
    memory = tmp_path / "state" / "logins.json"
    assert not memory.exists() or f"key:{fingerprint}" not in memory.read_text()
    assert "none of this run's logins is remembered" in result.stderr

    before = len(sent_forms(pushover))
    ssh_with_key(machine, port, key)
    wait_for_line(machine, log, "Accepted publickey for root", 2)
    assert run_main(*run, now=now()).status == 0
    [real] = sent_forms(pushover)[before:]
    assert real["title"] == f"{HOST}: SSH login root from 127.0.0.1"
    assert real["priority"] == "1"
    assert "As usual" not in real["message"]


# rsyslog writes the host's name without its domain ($PreserveFQDN off), a machine
# may be named with it (RHEL's hostnamectl, cloud images)
@pytest.mark.parametrize("name", [HOST, f"{HOST}.example.org"])
def test_a_user_of_uid_0_by_another_name_is_root(machine, name):
    # the machine's own user database: authwatch runs inside, as a dry run
    machine.run("hostname", name)
    log = machine.folder / "auth.log"
    machine.rsyslog(log)
    machine.add_user(ATTACKER)
    machine.run("useradd", "-o", "-u", "0", "-g", "0", "-M", "-s", "/bin/sh", "toor")
    port, key, _ = root_key_sshd(machine)
    wait_for_line(machine, log, "kex_exchange_identification")
    tail = log.stat().st_size
    forge(machine, "sshd", *SSH_DECOYS)
    ssh_with_key(machine, port, key, user="toor")
    wait_for_line(machine, log, "Accepted publickey for toor")
    part = machine.folder / "part.log"
    part.write_bytes(log.read_bytes()[tail:])
    done = machine.run(
        sys.executable, "-c", MAIN, "--dry-run", "--from-start", "--log", str(part),
        "--state-dir", str(machine.folder / "state"),
        env={**os.environ, "PYTHONPATH": os.path.dirname(authwatch.__file__)},
    )  # fmt: skip
    # this machine's user of uid 0: a vital login, before the decoys of the same priority
    assert done.stdout.startswith(f"=== {HOST}: SSH login toor from 127.0.0.1 [priority 1]\n")
