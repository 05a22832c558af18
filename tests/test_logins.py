"""The memory of logins and where an address is: new and familiar logins,
--learn over rotated, gzip and journal files, GeoIP from small .mmdb files
the tests write, the memory's bounds and damage."""

import gzip
import json
import os
import subprocess
import sys

import pytest
from helpers import (
    FINGERPRINT,
    JOURNAL_REMOTE,
    MAIN,
    NO_MEMORY_NOTE,
    NOW,
    accepted,
    append,
    cron_run,
    export_entry,
    rotate,
    run_main,
    sent_forms,
    write_geoip,
    write_journal,
)

import authwatch

OTHER_KEY = "SHA256:Xb7vT1vUq0aI0XUNdVl0jQm1P3kLc0PqvB3qgfY1kBk"


def failure(ip, pid, time="11:59:00"):
    return f"Nov 27 {time} web1 sshd[{pid}]: Failed password for root from {ip} port 5000 ssh2"


@pytest.fixture
def geoip(tmp_path):
    """Return config text that names the tests' GeoIP databases."""
    city, systems = write_geoip(tmp_path)
    return f"[geoip]\ncity_db = {city}\nasn_db = {systems}\n"


@pytest.fixture
def learned(tmp_path, auth_log):
    """An auth.log whose past (one rotated file, one gzipped) holds alice's
    logins from 198.51.100.0/24 and bob's key login from 192.0.2.0/24."""
    old = tmp_path / "auth.log.2.gz"
    with gzip.open(old, "wt") as file:
        file.write(accepted("bob", "192.0.2.5", pid=99, time="09:00:00").replace("27", "19") + "\n")
    os.utime(old, (NOW.timestamp() - 8 * 86400,) * 2)
    rotated = tmp_path / "auth.log.1"
    rotated.write_text(
        accepted("alice", "198.51.100.7", "password", 100, "10:00:00").replace("27", "20")
        + "\n"
        + accepted("alice", "198.51.100.8", "password", 101, "10:00:00").replace("27", "21")
        + "\n"
    )
    os.utime(rotated, (NOW.timestamp() - 6 * 86400,) * 2)
    return auth_log


def memory(tmp_path):
    return json.loads((tmp_path / "state" / "logins.json").read_text())


def test_learn_reads_the_rotated_and_gzipped_past_oldest_first_and_sends_nothing(
    tmp_path, learned, config_file, pushover
):
    config = config_file()
    result = cron_run(config, learned, "--learn")
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == (
        "learned 2 users and 3 origins (networks, terminals, keys), since 2026-11-19\n"
    )
    assert memory(tmp_path) == {
        "version": 1,
        "hosts": {
            "web1": {
                "alice": {"net:198.51.100.0/24": [1795168800, 1795255200, 2, ""]},
                "bob": {
                    "net:192.0.2.0/24": [1795078800, 1795078800, 1, ""],
                    f"key:{FINGERPRINT}": [1795078800, 1795078800, 1, ""],
                },
            }
        },
    }
    assert sorted(os.listdir(tmp_path / "state")) == ["lock", "logins.json"]  # no position
    assert sent_forms(pushover) == []
    again = cron_run(config, learned, "--learn")  # learning twice counts once
    assert again.stdout == result.stdout
    assert memory(tmp_path)["hosts"]["web1"]["alice"]["net:198.51.100.0/24"][2] == 2


def test_learn_reads_what_logrotate_left(tmp_path, auth_log, config_file):
    append(auth_log, accepted("alice", "198.51.100.7", time="08:00:00"))
    rotate(tmp_path, auth_log, "  compress\n  nodelaycompress")
    append(auth_log, accepted("alice", "198.51.100.9", time="09:00:00"))
    rotate(tmp_path, auth_log, "  compress\n  nodelaycompress")
    append(auth_log, failure("198.51.100.9", 1))
    assert {path.name for path in tmp_path.glob("auth.log*")} == {
        "auth.log",
        "auth.log.1.gz",
        "auth.log.2.gz",
    }
    result = cron_run(config_file(), auth_log, "--learn")
    assert result.stdout.startswith("learned 1 user and 2 origins")
    known = memory(tmp_path)["hosts"]["web1"]["alice"]
    assert known["net:198.51.100.0/24"][2] == 2


def test_a_login_from_a_new_network_rings_with_what_was_known_and_a_usual_one_is_quiet(
    tmp_path, learned, config_file, pushover, geoip
):
    config = config_file(geoip)
    assert cron_run(config, learned, "--learn").status == 0
    cron_run(config, learned)  # the position: the end
    append(
        learned,
        accepted("alice", "203.0.113.9", "password", 200),
        accepted("alice", "198.51.100.77", "password", 201, "11:58:30"),
    )
    assert cron_run(config, learned).status == 0
    new, usual = sent_forms(pushover)
    assert new["title"] == (
        "web1: NEW origin: SSH login alice from 203.0.113.9 (Berlin, DE · AS64500 Example Net)"
    )
    assert new["priority"] == "1"
    assert new["message"] == (
        "alice usually from 198.51.100.0/24 (CN · AS4134 Chinanet), last 6 days ago;"
        " first login from this network\n"
        "Method: password\n"
        "From: 203.0.113.9 port 52144 (Berlin, DE · AS64500 Example Net)\n"
        "Time: 2026-11-27 11:58:01 +0000"
    )
    assert usual["title"] == "web1: SSH login alice from 198.51.100.77 (CN · AS4134 Chinanet)"
    assert usual["priority"] == "0"
    assert usual["message"].startswith(
        "As usual: alice from 198.51.100.0/24 (CN · AS4134 Chinanet), 2 logins since 2026-11-20\n"
    )
    # the memory has learned: the new network is usual from now on
    append(learned, accepted("alice", "203.0.113.10", "password", 202, "11:59:00"))
    assert cron_run(config, learned).status == 0
    assert sent_forms(pushover)[-1]["priority"] == "0"


def test_a_new_key_from_a_usual_network_is_new(tmp_path, learned, config_file, pushover):
    config = config_file()
    cron_run(config, learned, "--learn")
    cron_run(config, learned)
    append(learned, accepted("bob", "192.0.2.99", pid=300).replace(FINGERPRINT, OTHER_KEY))
    assert cron_run(config, learned).status == 0
    [message] = sent_forms(pushover)
    assert message["title"] == "web1: NEW key: SSH login bob from 192.0.2.99"
    assert message["priority"] == "1"
    assert message["message"].startswith(
        "bob usually from 192.0.2.0/24, last 8 days ago; first login with this key\n"
    )


def test_with_an_asn_database_another_network_of_a_usual_as_is_familiar(
    tmp_path, learned, config_file, pushover, geoip
):
    config = config_file(geoip)
    cron_run(config, learned, "--learn")  # bob: 192.0.2.0/24, AS64500
    cron_run(config, learned)
    append(learned, accepted("bob", "203.0.113.200", pid=301))  # another /24 of AS64500
    assert cron_run(config, learned).status == 0
    [message] = sent_forms(pushover)
    assert message["priority"] == "0"
    assert message["message"].startswith("As usual: bob from the network of AS64500, 1 login since")


def test_a_user_never_seen_is_new(tmp_path, learned, config_file, pushover):
    config = config_file()
    cron_run(config, learned, "--learn")
    cron_run(config, learned)
    append(learned, accepted("carol", "10.1.2.3", "password", 400))
    cron_run(config, learned)
    [message] = sent_forms(pushover)
    assert message["title"] == "web1: NEW origin: SSH login carol from 10.1.2.3"
    assert message["message"].startswith("first login of carol that authwatch has seen\n")


def test_without_a_memory_every_login_is_new_and_that_is_said_once(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    cron_run(config, auth_log)
    append(auth_log, accepted("alice", pid=500))
    result = cron_run(config, auth_log, "-v")
    assert f"authwatch: {authwatch.NO_MEMORY}\n" in result.stderr
    [first] = sent_forms(pushover)
    assert (first["title"], first["priority"]) == ("web1: SSH login alice from 203.0.113.9", "1")
    assert first["message"].startswith(NO_MEMORY_NOTE)
    append(auth_log, accepted("alice", pid=501, time="11:59:00"))
    assert authwatch.NO_MEMORY not in cron_run(config, auth_log, "-v").stderr
    second = sent_forms(pushover)[-1]
    assert second["priority"] == "0"  # the first one was remembered
    assert "Note:" not in second["message"]


def test_allow_listed_logins_go_to_the_digest_and_are_remembered_all_the_same(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file("[allow]\nusers = deploy\n")
    cron_run(config, auth_log)
    append(auth_log, accepted("deploy", pid=600))
    cron_run(config, auth_log)
    assert sent_forms(pushover)[-1]["title"] == "web1: 1 known login"
    assert "net:203.0.113.0/24" in memory(tmp_path)["hosts"]["web1"]["deploy"]


def test_failures_show_where_their_top_addresses_are(tmp_path, auth_log, config_file, geoip):
    config = config_file(geoip)
    cron_run(config, auth_log)
    append(
        auth_log,
        failure("198.51.100.7", 1),
        failure("198.51.100.7", 2),
        failure("10.9.9.9", 3),
        failure("192.0.2.1", 4),
        failure("2001:db8::5", 5),
    )
    dry = cron_run(config, auth_log, "--dry-run")
    assert (
        "IPs: 198.51.100.7 ×2 CN AS4134, 10.9.9.9 ×1 private network, 192.0.2.1 ×1 AS64500\n"
        in dry.stdout
    )


@pytest.mark.parametrize(
    "ip, said",
    [
        ("127.0.0.1", "loopback"),
        ("::1", "loopback"),
        ("fe80::1%eth0", "link-local"),
        ("169.254.3.4", "link-local"),
        ("172.20.1.1", "private network"),
        ("fd00::7", "private network"),
        ("100.64.1.1", "carrier-grade NAT"),
    ],
)
def test_addresses_that_say_what_they_are_need_no_lookup(
    tmp_path, auth_log, config_file, geoip, ip, said
):
    config = config_file(geoip)
    cron_run(config, auth_log)
    append(auth_log, accepted("alice", ip, pid=700))
    dry = cron_run(config, auth_log, "--dry-run")
    shown = ip.partition("%")[0]
    assert f"=== web1: SSH login alice from {shown} ({said}) [priority 1]\n" in dry.stdout


def test_json_tells_country_as_and_whether_a_login_is_new(tmp_path, learned, config_file, geoip):
    config = config_file(geoip)
    cron_run(config, learned, "--learn")
    cron_run(config, learned)
    append(
        learned,
        accepted("alice", "203.0.113.9", "password", 800),
        accepted("alice", "198.51.100.70", "password", 801),
        failure("2001:db8::5", 802),
    )
    dry = cron_run(config, learned, "--dry-run", "--json")
    events = [json.loads(line) for line in dry.stdout.splitlines()]
    picked = [
        (event["ip"], event["country"], event["asn"], event["as_org"], event["new_origin"])
        for event in events
    ]
    assert picked == [
        ("203.0.113.9", "DE", 64500, "Example Net", True),
        ("198.51.100.70", "CN", 4134, "Chinanet", False),
        ("2001:db8::5", "NL", 64501, "Example Six", None),
    ]


def test_origins_not_seen_for_forget_after_days_are_forgotten(
    tmp_path, learned, config_file, pushover
):
    config = config_file("[logins]\nforget_after = 7\n")
    cron_run(config, learned, "--learn")  # bob's login, 8 days old, is forgotten at once
    assert set(memory(tmp_path)["hosts"]["web1"]) == {"alice"}
    cron_run(config, learned)
    append(learned, accepted("bob", "192.0.2.5", pid=900))
    cron_run(config, learned)
    assert sent_forms(pushover)[-1]["title"] == "web1: NEW origin: SSH login bob from 192.0.2.5"


def test_the_memory_keeps_the_most_recent_users_and_origins(monkeypatch):
    monkeypatch.setattr(authwatch, "MEMORY_USERS", 3)
    monkeypatch.setattr(authwatch, "MEMORY_ORIGINS", 2)
    now = 1_800_000_000
    memory = {}
    for n in range(5):  # user0 .. user4, each later than the one before
        for origin in range(3):
            authwatch.remember(
                memory,
                "web1",
                f"user{n}",
                (f"net:10.{origin}.0.0/24",),
                now - 100 + n,
                now - 50 + n * 10 + origin,
                1,
                "",
            )
    bounded = authwatch.bounded_memory(memory, now, 400)
    assert sorted(bounded["web1"]) == ["user2", "user3", "user4"]
    assert sorted(bounded["web1"]["user4"]) == ["net:10.1.0.0/24", "net:10.2.0.0/24"]


DAMAGED = {
    "not JSON": "{",
    "another version": '{"version": 2, "hosts": {}}',
    "a list": "[]",
    "a time as text": '{"version": 1, "hosts": {"web1": {"alice": {"local": ["1", 2, 3, ""]}}}}',
    "too few fields": '{"version": 1, "hosts": {"web1": {"alice": {"local": [1, 2]}}}}',
    "a version of true": '{"version": true, "hosts": {}}',
    "a time past any clock": '{"version": 1, "hosts": {"web1": {"alice": {"local":'
    ' [100000000000000000000, 1795773600, 1, ""]}}}}',
    "a time before 1970": '{"version": 1, "hosts": {"web1": {"alice": {"local":'
    ' [-99999999999999, 1795773600, 1, ""]}}}}',
    "no logins": '{"version": 1, "hosts": {"web1": {"alice": {"local": [1, 2, 0, ""]}}}}',
    "an origin of no kind": '{"version": 1, "hosts": {"web1": {"alice":'
    ' {"garbage": [1, 2, 3, ""]}}}}',
    "larger than authwatch writes": '{"version": 1, "hosts": {"web1": {"alice": {"local":'
    f' [1, 2, 3, "{"p" * 16 * 1024 * 1024}"]}}}}}}}}',
}


@pytest.mark.parametrize("text", DAMAGED.values(), ids=DAMAGED.keys())
def test_a_damaged_memory_is_moved_aside_and_said(tmp_path, auth_log, config_file, pushover, text):
    config = config_file()
    cron_run(config, auth_log)
    path = tmp_path / "state" / "logins.json"
    path.write_text(text)
    append(auth_log, accepted("alice", pid=1000))
    dry = cron_run(config, auth_log, "--dry-run")
    assert dry.status == 0 and path.read_text() == text  # a dry run moves nothing
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert f"{path} was damaged and moved to {path}.damaged" in result.stderr
    [message] = sent_forms(pushover)
    damage, no_memory, *_ = message["message"].splitlines()  # a long path is shortened
    assert damage.startswith(f"Note: {path} was damaged and moved to")
    assert no_memory + "\n" == NO_MEMORY_NOTE
    assert (tmp_path / "state" / "logins.json.damaged").read_text() == text
    assert memory(tmp_path)["hosts"]["web1"]["alice"]


def test_a_run_with_nothing_new_neither_imports_maxminddb_nor_reads_the_memory(
    tmp_path, auth_log, config_file, geoip
):
    config = config_file(geoip)
    cron_run(config, auth_log)
    path = tmp_path / "state" / "logins.json"
    path.write_text("{")  # read, it would be moved aside
    probe = (
        "import sys, authwatch; status = authwatch.main(sys.argv[1:]);"
        " print('maxminddb' in sys.modules); sys.exit(status)"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe, "--config", config, "--log", str(auth_log)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.path.dirname(authwatch.__file__)},
    )
    assert (run.returncode, run.stdout, run.stderr) == (0, "False\n", "")
    assert path.read_text() == "{"


def test_a_geoip_database_that_is_missing_is_a_config_error(tmp_path, auth_log, config_file):
    config = config_file(f"[geoip]\ncity_db = {tmp_path}/nowhere.mmdb\n")
    result = cron_run(config, auth_log)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        f"authwatch: error: {config}: [geoip] city_db: cannot read {tmp_path}/nowhere.mmdb:"
        " No such file or directory\n"
    )


def test_geoip_without_maxminddb_is_a_config_error_that_says_how_to_install_it(
    tmp_path, auth_log, config_file, geoip
):
    config = config_file(geoip)
    # a Python that has the module but none of the installed packages
    here = os.path.dirname(authwatch.__file__)
    isolated = (
        f"import sys; sys.path[:] = [{here!r}] + [p for p in sys.path if 'packages' not in p]; "
    )
    run = subprocess.run(
        [sys.executable, "-I", "-c", isolated + MAIN, "--config", config, "--log", str(auth_log)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == authwatch.ExitStatus.CONFIG_ERROR
    assert run.stderr == (
        f"authwatch: error: {config}: [geoip] needs the maxminddb package:"
        f" {authwatch.INSTALL_MAXMINDDB}\n"
    )


def test_a_damaged_geoip_database_leaves_places_out_and_the_login_goes(
    tmp_path, auth_log, config_file, pushover
):
    broken = tmp_path / "broken.mmdb"
    broken.write_bytes(b"not a database" * 100)
    config = config_file(f"[geoip]\ncity_db = {broken}\n")
    cron_run(config, auth_log)
    append(auth_log, accepted("alice", pid=1100))
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert f"authwatch: cannot read the GeoIP database {broken}, places left out:" in result.stderr
    assert sent_forms(pushover)[0]["title"] == "web1: SSH login alice from 203.0.113.9"


@pytest.mark.skipif(not os.access(JOURNAL_REMOTE, os.X_OK), reason="needs systemd-journal-remote")
def test_learn_reads_the_whole_journal(tmp_path, config_file):
    pytest.importorskip("systemd.journal", reason="needs systemd-python (scripts/test installs it)")
    folder = tmp_path / "journal"
    entries = [
        ("alice", "198.51.100.7", 1795082400000000),
        ("alice", "198.51.100.8", 1795168800000000),
        ("bob", "2001:db8::9", 1795255200000000),
    ]
    write_journal(
        folder,
        b"".join(
            export_entry(
                {
                    "__REALTIME_TIMESTAMP": stamp,
                    "_HOSTNAME": "web1",
                    "SYSLOG_FACILITY": "10",
                    "SYSLOG_IDENTIFIER": "sshd",
                    "_PID": str(4000 + n),
                    "MESSAGE": f"Accepted password for {user} from {ip} port 5000 ssh2",
                }
            )
            for n, (user, ip, stamp) in enumerate(entries)
        ),
    )
    state = tmp_path / "state"
    config = config_file()
    result = run_main(
        "--config", config, "--journal-dir", str(folder), "--state-dir", str(state), "--learn"
    )
    assert (result.status, result.stderr) == (0, "")
    assert result.stdout == (
        "learned 2 users and 2 origins (networks, terminals, keys), since 2026-11-19\n"
    )
    hosts = memory(tmp_path)["hosts"]
    assert hosts["web1"]["alice"]["net:198.51.100.0/24"][:3] == [1795082400, 1795168800, 2]
    assert list(hosts["web1"]["bob"]) == ["net:2001:db8::/64"]
    assert not list(state.glob("journal*.position"))


@pytest.mark.parametrize("other", [["--dry-run"], ["--max-read", "1M"]])
def test_learn_goes_alone(tmp_path, auth_log, config_file, other):
    result = cron_run(config_file(), auth_log, "--learn", *other)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: --learn goes alone: it reads everything and sends nothing\n"
    )


def test_learn_leaves_what_no_run_has_judged_yet(tmp_path, learned, config_file, pushover):
    config = config_file()
    cron_run(config, learned)  # the position: the end of auth.log
    append(learned, accepted("alice", "198.18.7.7", "password", 1200))
    rotate(tmp_path, learned, "  create\n  delaycompress\n  compress")
    append(learned, accepted("alice", "198.18.8.8", "password", 1201, "11:59:00"))
    assert cron_run(config, learned, "--learn").status == 0
    assert set(memory(tmp_path)["hosts"]["web1"]["alice"]) == {"net:198.51.100.0/24"}
    assert cron_run(config, learned).status == 0
    titles = [form["title"] for form in sent_forms(pushover)]
    assert titles == [
        "web1: NEW origin: SSH login alice from 198.18.7.7",
        "web1: NEW origin: SSH login alice from 198.18.8.8",
    ]


@pytest.mark.skipif(not os.access(JOURNAL_REMOTE, os.X_OK), reason="needs systemd-journal-remote")
def test_learn_leaves_the_journal_entries_no_run_has_handled(tmp_path, config_file):
    pytest.importorskip("systemd.journal", reason="needs systemd-python (scripts/test installs it)")
    folder = tmp_path / "journal"

    def login(n, ip):
        return export_entry(
            {
                "__REALTIME_TIMESTAMP": 1795777200000000 + n * 1_000_000,
                "_HOSTNAME": "web1",
                "SYSLOG_FACILITY": "10",
                "SYSLOG_IDENTIFIER": "sshd",
                "_PID": str(5000 + n),
                "MESSAGE": f"Accepted password for alice from {ip} port 5000 ssh2",
            }
        )

    write_journal(folder, login(0, "198.51.100.7"))
    where = ["--journal-dir", str(folder), "--state-dir", str(tmp_path / "state")]
    config = config_file()
    assert run_main("--config", config, *where, "--dry-run").status == 0
    assert run_main("--config", config, *where).status == 0  # stores the position
    write_journal(folder, login(1, "198.18.7.7"))  # not handled yet
    assert run_main("--config", config, *where, "--learn").status == 0
    assert set(memory(tmp_path)["hosts"]["web1"]["alice"]) == {"net:198.51.100.0/24"}


def test_a_login_whose_line_names_no_place_is_never_familiar(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    cron_run(config, auth_log)
    opened = "pam_unix({}:session): session opened for user alice(uid=1000) by (uid=0)"
    append(
        auth_log,
        f"Nov 27 11:58:00 web1 login[77]: {opened.format('login')}",
        f"Nov 27 11:58:01 web1 cockpit-session[78]: {opened.format('cockpit')}",
    )
    cron_run(config, auth_log)
    append(
        auth_log,
        f"Nov 27 11:59:00 web1 login[79]: {opened.format('login')}",
        f"Nov 27 11:59:01 web1 cockpit-session[80]: {opened.format('cockpit')}",
    )
    cron_run(config, auth_log)
    last_two = {(form["title"], form["priority"]) for form in sent_forms(pushover)[-2:]}
    assert last_two == {
        ("web1: login alice on the console", "0"),  # login, at the machine
        ("web1: NEW origin: login alice on the console", "1"),  # cockpit, from anywhere
    }


def test_clients_behind_translators_are_grouped_by_their_own_networks():
    assert authwatch.network_of("64:ff9b::c000:201") == "192.0.2.0/24"  # NAT64
    assert authwatch.network_of("64:ff9b::606:606") == "6.6.6.0/24"
    assert authwatch.network_of("2001:0:4136:e378:8000:63bf:3fff:fdd2") == "192.0.2.0/24"  # Teredo
    assert authwatch.network_of("2002:c000:0204::1") == "192.0.2.0/24"  # 6to4
    assert authwatch.network_of("2001:db8:1:2::3") == "2001:db8:1:2::/64"
    assert authwatch.network_of("::ffff:198.51.100.9") == "198.51.100.0/24"


ODD_RECORDS = {
    "a city as text": {"city": "Berlin", "country": {"iso_code": "DE"}},
    "names as text": {"city": {"names": "x"}},
    "a list": {"city": [1, 2], "country": ["DE"]},
    "a number for a code": {"country": {"iso_code": 276}},
}


@pytest.mark.parametrize("record", ODD_RECORDS.values(), ids=ODD_RECORDS.keys())
def test_a_geoip_record_of_another_shape_leaves_the_place_out(
    tmp_path, auth_log, config_file, pushover, record
):
    from mmdb_writer import MMDBWriter
    from netaddr import IPSet

    writer = MMDBWriter(ip_version=6, database_type="GeoLite2-City", ipv4_compatible=True)
    writer.insert_network(IPSet(["203.0.113.0/24"]), record)
    writer.to_db_file(str(tmp_path / "odd.mmdb"))
    config = config_file(f"[geoip]\ncity_db = {tmp_path / 'odd.mmdb'}\n")
    cron_run(config, auth_log)
    append(auth_log, accepted("alice", pid=1300))
    result = cron_run(config, auth_log)
    assert (result.status, result.stderr) == (0, "")
    [message] = sent_forms(pushover)
    assert message["title"].startswith("web1: SSH login alice from 203.0.113.9")
    json_run = cron_run(config, auth_log, "--dry-run", "--json", "--from-start")
    assert json_run.status == 0


def test_a_memory_that_cannot_be_set_aside_does_not_stop_the_alarm(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    cron_run(config, auth_log)
    (tmp_path / "state" / "logins.json").write_text("{")
    (tmp_path / "state" / "logins.json.damaged").mkdir()
    (tmp_path / "state" / "logins.json.damaged" / "x").write_text("")
    append(auth_log, accepted("alice", pid=1400))
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert "every login counts as new" in result.stderr
    assert sent_forms(pushover)[0]["priority"] == "1"


def test_a_damaged_gzip_file_is_left_out_of_learning_and_of_rotation(
    tmp_path, learned, config_file, pushover
):
    broken = tmp_path / "auth.log.3.gz"
    broken.write_bytes(
        gzip.compress(b"Nov 10 10:00:00 web1 sshd[1]: x\n" * 1000)[:60] + b"\xff" * 200
    )
    os.utime(broken, (NOW.timestamp() - 20 * 86400,) * 2)
    (tmp_path / "auth.log.bak").write_text(accepted("mallory", "6.6.6.6") + "\n")
    config = config_file()
    result = cron_run(config, learned, "--learn")
    assert result.status == 0
    assert f"cannot read {broken}, left out:" in result.stderr
    assert set(memory(tmp_path)["hosts"]["web1"]) == {"alice", "bob"}  # not auth.log.bak's
    cron_run(config, learned)  # the position
    append(learned, accepted("alice", "198.51.100.7", "password", 1500))
    os.rename(learned, tmp_path / "auth.log.0")
    with gzip.open(tmp_path / "auth.log.0.gz", "wb") as file:
        file.write(b"")  # an empty newer gzip beside a damaged one
    (tmp_path / "auth.log.1.gz").write_bytes(b"\x1f\x8b\x08\x00" + b"\xff" * 100)
    learned.write_text("")
    result = cron_run(config, learned)
    assert result.status == 0, result.stderr
    assert [form["title"] for form in sent_forms(pushover)] == [
        "web1: SSH login alice from 198.51.100.7"
    ]


def test_without_a_memory_a_known_login_alone_makes_no_note(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file("[allow]\nusers = deploy\nknown_priority = off\n")
    cron_run(config, auth_log)
    append(auth_log, accepted("deploy", pid=1600))
    assert cron_run(config, auth_log).status == 0
    assert sent_forms(pushover) == []


def test_a_login_stamped_past_any_clock_is_remembered_as_now_not_as_damage(
    tmp_path, auth_log, config_file, pushover
):
    config = config_file()
    cron_run(config, auth_log)
    append(auth_log, "2300-01-01T00:00:00+00:00 web1 sshd[1700]: Accepted password for alice"
           " from 198.51.100.7 port 5000 ssh2")  # fmt: skip
    assert cron_run(config, auth_log).status == 0
    [(first, last, count, _)] = memory(tmp_path)["hosts"]["web1"]["alice"].values()
    assert first == last == int(NOW.timestamp()) and count == 1
    append(auth_log, accepted("alice", "198.51.100.8", "password", 1701))
    result = cron_run(config, auth_log)
    assert (result.status, result.stderr) == (0, "")
    assert sent_forms(pushover)[-1]["priority"] == "0"  # remembered, not moved aside


def test_judging_leaves_the_memory_it_was_given_as_it_was():
    memory = {"web1": {"alice": {"net:198.51.100.0/24": [1, 2, 3, ""]}}}
    lines = [accepted("alice", "198.51.100.9", "password", 1800)]
    summaries = authwatch.summarise(
        authwatch.events_of(authwatch.parse_line(line, NOW) for line in lines), "web1"
    )
    authwatch.know(summaries, memory, {}, int(NOW.timestamp()))
    remembered = authwatch.noted(memory, summaries, "sightings", {}, int(NOW.timestamp()))
    assert memory == {"web1": {"alice": {"net:198.51.100.0/24": [1, 2, 3, ""]}}}
    assert remembered["web1"]["alice"]["net:198.51.100.0/24"][2] == 4


def test_a_login_is_learned_once_a_message_that_names_it_is_delivered(
    tmp_path, auth_log, config_file, httpserver
):
    config = config_file()
    cron_run(config, auth_log)
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_data("down", status=503)
    append(auth_log, accepted("alice", pid=1900))
    assert cron_run(config, auth_log).status == authwatch.ExitStatus.DELIVERY_FAILED
    assert not (tmp_path / "state" / "logins.json").exists()  # not told yet: not learned
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    assert cron_run(config, auth_log).status == 0
    assert list(memory(tmp_path)["hosts"]["web1"]["alice"]) == [
        "net:203.0.113.0/24",
        f"key:{FINGERPRINT}",
    ]


def test_an_unverified_login_teaches_nothing():
    [event] = authwatch.events_of([authwatch.parse_line(accepted("alice"), NOW)])
    summaries = authwatch.summarise([event._replace(unverified=True)], "web1")
    assert authwatch.know(summaries, {}, {}, int(NOW.timestamp())).notes == {}
    summaries = authwatch.summarise([event], "web1")
    [note] = authwatch.know(summaries, {}, {}, int(NOW.timestamp())).notes.values()
    assert (note.user, note.origins) == ("alice", ("net:203.0.113.0/24", f"key:{FINGERPRINT}"))
