"""What reaches Pushover: the exact form fields a local stand-in receives for
storms, allow-listed logins, Pushover's limits, hostile user names,
emergency messages and the quota reserve; and --test-notification."""

import datetime
import json
import os
import shutil
import tempfile
from collections import Counter

from helpers import (
    FINGERPRINT,
    KEY_LOGIN,
    NO_MEMORY_NOTE,
    NOW,
    TOKEN,
    USER_KEY,
    accepted,
    append,
    cron_run,
    run_main,
    sent_forms,
)
from werkzeug import Response

import authwatch

KNOWN_LOGIN = (
    "Nov 27 11:58:30 web1 sshd[4250]: Accepted password for deploy from 10.1.2.3 port 40000 ssh2"
)
SUDO = (
    "Nov 27 11:59:{:02} web1 sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ;"
    " COMMAND=/usr/bin/systemctl restart nginx"
)


def failure(n):
    return (
        f"Nov 27 11:50:00 web1 sshd[{10000 + n}]: Failed password for invalid user"
        f" admin{n % 40} from 198.51.{n % 200}.{n % 3} port {30000 + n} ssh2"
    )


def first_run(config, log):
    """Run once so that the position is stored at the end of the log."""
    assert cron_run(config, log).status == 0


def test_a_storm_costs_three_requests_and_the_login_comes_first(auth_log, config_file, pushover):
    config = config_file()
    first_run(config, auth_log)
    append(auth_log, *[failure(n) for n in range(2500)], KEY_LOGIN)
    append(auth_log, *[failure(n) for n in range(2500, 5000)], *[SUDO.format(n) for n in range(30)])
    result = cron_run(config, auth_log)
    assert (result.status, result.stderr) == (0, "")
    forms = sent_forms(pushover)
    assert [(form["title"], form["priority"]) for form in forms] == [
        ("web1: SSH login awtest from 203.0.113.9", "1"),
        ("web1: 30 sudo/su uses", "0"),
        ("web1: 5000 failed logins from 600 addresses", "-1"),
    ]
    assert forms[1]["message"] == "sudo: alice as root: /usr/bin/systemctl restart nginx ×30"
    assert forms[2]["message"] == (
        "5000 failed logins from 600 addresses\n"  # one per connection
        "IPs: 198.51.0.0 ×9, 198.51.1.1 ×9, 198.51.2.2 ×9\n"
        "Users: admin0 ×125, admin1 ×125, admin2 ×125"
    )


def test_the_budget_holds_whatever_the_volume(auth_log, config_file, pushover):
    config = config_file("[alerts]\nmax_messages = 2\n")
    first_run(config, auth_log)
    logins = [accepted(f"user{n}", pid=4300 + n) for n in range(4)]
    append(auth_log, *logins, failure(1))
    assert cron_run(config, auth_log).status == 0
    forms = sent_forms(pushover)
    assert [form["title"] for form in forms] == [
        "web1: SSH login user0 from 203.0.113.9",
        "web1: SSH login user1 from 203.0.113.9 … and 3 more",
    ]
    assert forms[1]["priority"] == "1"
    assert forms[1]["message"].startswith(
        "3 logins from 3 users and 1 place: user1, user2, user3\n"
        "▶ web1: SSH login user1 from 203.0.113.9\n"
        "▶ web1: SSH login user2 from 203.0.113.9\n"
        "▶ web1: SSH login user3 from 203.0.113.9\n"
        "▶ web1: 1 failed login from 1 address\n"
        "· SSH login user1 from 203.0.113.9\n"
        "Method: publickey\n"
    )


def test_every_pushover_option_reaches_pushover_and_emergencies_repeat(
    auth_log, config_file, pushover
):
    config = config_file(
        "[priority]\nlogin_new = 2\n[alerts]\nretry = 30\nexpire = 600\n",
        pushover="sound = siren\ndevice = phone\nurl = https://example.org/ssh\n"
        "url_title = Who is in?\nttl = 3600\n",
    )
    first_run(config, auth_log)
    append(auth_log, KEY_LOGIN, SUDO.format(1))
    assert cron_run(config, auth_log).status == 0
    login, sudo = sent_forms(pushover)
    assert login == {
        "token": TOKEN,
        "user": USER_KEY,
        "title": "web1: SSH login awtest from 203.0.113.9",
        "message": (
            NO_MEMORY_NOTE + "Method: publickey\n"
            f"Key: ED25519 {FINGERPRINT}\n"
            "From: 203.0.113.9 port 52144\n"
            "Time: 2026-11-27 11:58:01 +0000"
        ),
        "priority": "2",
        "timestamp": str(int(NOW.timestamp()) - 119),
        "retry": "30",
        "expire": "600",
        "sound": "siren",
        "device": "phone",
        "url": "https://example.org/ssh",
        "url_title": "Who is in?",
        "ttl": "3600",
    }
    assert "retry" not in sudo and "expire" not in sudo and sudo["priority"] == "0"


def test_an_allow_listed_login_is_quiet_and_an_unknown_one_is_not(auth_log, config_file, pushover):
    config = config_file("[allow]\nnetworks = 10.0.0.0/8\nusers = deploy\n")
    first_run(config, auth_log)
    append(auth_log, KNOWN_LOGIN, KEY_LOGIN)
    assert cron_run(config, auth_log).status == 0
    unknown, known = sent_forms(pushover)
    assert (unknown["title"], unknown["priority"]) == (
        "web1: SSH login awtest from 203.0.113.9",
        "1",
    )
    assert (known["title"], known["message"], known["priority"]) == (
        "web1: 1 known login",
        "Known login: deploy from 10.1.2.3 (password)",
        "-1",
    )

    silent = config_file("[allow]\nnetworks = 10.0.0.0/8\nknown_priority = off\n")
    append(auth_log, KNOWN_LOGIN.replace("4250", "4251"))
    assert cron_run(silent, auth_log).status == 0
    assert len(pushover.log) == 2


def test_hostile_user_names_arrive_as_plain_inert_text(auth_log, config_file, pushover):
    config = config_file()
    first_run(config, auth_log)
    append(
        auth_log,
        "Nov 27 11:58:00 web1 sshd[77]: Invalid user <a href=x>\x1b[2J\u202eroot"
        " from 192.0.2.66 port 4000",
    )
    assert cron_run(config, auth_log).status == 0
    [form] = sent_forms(pushover)
    assert "html" not in form  # plain text: Pushover shows tags as typed
    assert form["message"].endswith("Users: <a href=x>\ufffd[2J\ufffdroot ×1")
    assert not any(ord(c) < 32 and c != "\n" for c in form["message"] + form["title"])


def test_every_request_fits_pushovers_limits(auth_log, config_file, pushover):
    config = config_file()
    first_run(config, auth_log)
    long_host = "h" * 300
    append(
        auth_log,
        *[
            f"Nov 27 11:59:{n % 60:02} {long_host} sudo: alice : TTY=pts/0 ; PWD=/ ; USER=root ;"
            f" COMMAND=/bin/echo {n} {'x' * 300}"
            for n in range(50)
        ],
    )
    assert cron_run(config, auth_log).status == 0
    [form] = sent_forms(pushover)
    assert len(form["title"]) == authwatch.MAX_TITLE and form["title"].endswith("…")
    assert len(form["message"]) <= authwatch.MAX_MESSAGE
    assert form["message"].endswith("more lines")


def quota_answer(remaining, reset):
    headers = {
        "X-Limit-App-Limit": "10000",
        "X-Limit-App-Remaining": str(remaining),
        "X-Limit-App-Reset": str(reset),
    }
    return json.dumps({"status": 1, "request": "q"}), 200, headers


def test_below_the_quota_reserve_only_what_the_reserve_is_for_goes_and_the_rest_waits_loudly(
    tmp_path, auth_log, config_file, httpserver
):
    config = config_file()
    reset = int(NOW.timestamp()) + 3600
    httpserver.expect_request("/1/messages.json").respond_with_data(
        *quota_answer(50, reset)[:2], headers=quota_answer(50, reset)[2]
    )
    first_run(config, auth_log)
    append(auth_log, KEY_LOGIN)
    assert cron_run(config, auth_log).status == 0  # learns: 50 left, the reserve is 100
    stored = json.loads((tmp_path / "state" / "pushover.json").read_text())
    assert stored == {
        "limit": 10000, "remaining": 50, "reset": reset, "day": "2026-11-27", "sent": 1
    }  # fmt: skip

    append(auth_log, failure(1))
    waits = (
        "authwatch: error: 1 message waits for Pushover's quota: 50 left, below"
        " [alerts] quota_reserve (100), until 2026-11-27 13:00\n"
    )
    for _ in range(2):  # every run says so while it waits, and cron mails it
        result = cron_run(config, auth_log)
        assert (result.status, result.stderr) == (authwatch.ExitStatus.QUOTA_WAIT, waits)
    assert len(httpserver.log) == 1
    dry = cron_run(config, auth_log, "--dry-run")
    assert dry.stdout.count("[held: quota low]") == 1

    # sudo to root may use the reserve: it goes, and what waited goes with it, as one
    append(auth_log, SUDO.format(2))
    assert cron_run(config, auth_log).status == 0
    [form] = sent_forms(httpserver)[1:]
    assert form["title"] == "web1: 1 sudo/su use … and 1 more"
    assert form["message"].startswith(
        "sudo alice as root\n▶ web1: 1 sudo/su use\n▶ web1: 1 failed login from 1 address\n"
    )
    outbox = json.loads((tmp_path / "state" / "outbox.json").read_text())
    assert outbox == {"messages": [], "notices": [], "positions": {}}

    after_reset = NOW + datetime.timedelta(hours=2)
    append(auth_log, failure(2))
    assert cron_run(config, auth_log, now=after_reset).status == 0
    assert sent_forms(httpserver)[-1]["title"] == "web1: 1 failed login from 1 address"


def test_the_test_notification_prints_pushovers_answer(tmp_path, config_file, httpserver):
    httpserver.expect_request("/1/messages.json").respond_with_data(
        *quota_answer(9876, 1800000000)[:2], headers=quota_answer(9876, 1800000000)[2]
    )
    result = run_main("--config", config_file(), "--test-notification")
    assert result.status == 0
    host = os.uname().nodename
    assert result.stdout == (
        'Pushover accepted the test message: {"status": 1, "request": "q"}\n'
        "9876 of 10000 messages left this month\n"
    )
    [form] = sent_forms(httpserver)
    assert (form["title"], form["message"]) == (
        f"{host}: authwatch test",
        f"authwatch on {host} can reach you.",
    )
    stored = json.loads((tmp_path / "state" / "pushover.json").read_text())
    assert stored == {
        "limit": 10000, "remaining": 9876, "reset": 1800000000, "day": "2026-11-27", "sent": 1
    }  # fmt: skip


def test_a_damaged_quota_file_is_ignored_and_said_once(tmp_path, auth_log, config_file, pushover):
    config = config_file()
    first_run(config, auth_log)
    quota = tmp_path / "state" / "pushover.json"
    quota.write_text('{"remaining": null, "reset": 99999999999}')
    dry = cron_run(config, auth_log, "--dry-run")
    assert dry.stderr == f"authwatch: {quota} is damaged: a real run moves it aside\n"
    append(auth_log, KEY_LOGIN)
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert result.stderr == (
        f"authwatch: {quota} was damaged and moved to {quota}.damaged:"
        " Pushover's quota is known again from its next answer\n"
    )
    assert len(pushover.log) == 1
    # a cache: cron mails it once, not every five minutes until a message goes
    quiet = cron_run(config, auth_log)
    assert (quiet.status, quiet.stderr) == (0, "")


def test_a_failed_test_notification_says_why(config_file, httpserver):
    httpserver.expect_request("/1/messages.json").respond_with_json(
        {"user": "invalid", "errors": ["user identifier is invalid"], "status": 0}, status=400
    )
    result = run_main("--config", config_file(), "--test-notification")
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: Pushover refused [pushover] user (HTTP 400):"
        " user identifier is invalid\n"
    )


def test_each_answer_changes_the_plan_of_the_rest_of_the_run(
    tmp_path, auth_log, config_file, httpserver
):
    config = config_file()
    reset = int(NOW.timestamp()) + 3600
    low = quota_answer(50, reset)
    httpserver.expect_request("/1/messages.json").respond_with_data(*low[:2], headers=low[2])
    first_run(config, auth_log)
    append(auth_log, KEY_LOGIN, failure(1), SUDO.format(2))
    assert cron_run(config, auth_log).status == 0
    # the first answer says 50 are left, below the reserve of 100 and past today's
    # budget: the rest goes as one message, for it tells of sudo to root
    assert [form["title"] for form in sent_forms(httpserver)] == [
        "web1: SSH login awtest from 203.0.113.9",
        "web1: 1 sudo/su use … and 1 more",
    ]
    outbox = json.loads((tmp_path / "state" / "outbox.json").read_text())
    assert outbox == {"messages": [], "notices": [], "positions": {}}


def test_a_month_of_forged_logins_every_five_minutes_cannot_spend_the_quota(
    monkeypatch, tmp_path, config_file, httpserver
):
    # the stand-in counts what it accepts against Pushover's 10,000 a month
    reset = datetime.datetime(2026, 12, 1, tzinfo=datetime.timezone.utc)
    accepted = []

    def answer(request):
        left = 10000 - len(accepted)
        headers = quota_answer(max(left - 1, 0), int(reset.timestamp()))[2]
        if left <= 0:
            return Response('{"status": 0}', 429, headers, content_type="application/json")
        accepted.append(f"{request.form['title']}\n{request.form['message']}")
        return Response('{"status": 1}', 200, headers, content_type="application/json")

    httpserver.expect_request("/1/messages.json").respond_with_handler(answer)
    monkeypatch.setattr(authwatch, "MAX_PARTS", 30)  # titles kept in a fold: less to store
    # 8,640 runs: the state on a tmpfs, where fsync costs nothing, if there is one
    state = tempfile.mkdtemp(dir="/dev/shm" if os.access("/dev/shm", os.W_OK) else tmp_path)
    config = config_file()
    log = tmp_path / "auth.log"
    log.write_text("")
    run = ["--config", config, "--log", str(log), "--state-dir", state]
    now = datetime.datetime(2026, 11, 1, 0, 0, 30, tzinfo=datetime.timezone.utc)
    statuses = Counter()
    try:
        assert run_main(*run, now=now).status == 0
        for n in range(30 * 288 - 1):  # every 5 minutes, 6 new logins that a user forged
            now += datetime.timedelta(minutes=5)
            stamp = f"{now:%b %d %H:%M:%S}"
            append(log, *[
                f"{stamp} web1 sshd[{n}]: Accepted password for u{n}x{k}"
                f" from 198.51.{k}.{n % 250} port 22 ssh2"
                for k in range(6)
            ])  # fmt: skip
            if now.day == 30 and f"{now:%H:%M}" == "23:50":  # and a real one, of root
                append(log, f"{stamp} web1 sshd[9]: Accepted password for root from"
                       " 203.0.113.66 port 22 ssh2")  # fmt: skip
                before = len(accepted)
            result = run_main(*run, now=now)
            statuses[result.status] += 1
            assert result.stderr.count("\n") == (result.status != 0), result.stderr
    finally:
        shutil.rmtree(state, ignore_errors=True)
    assert 9000 < len(accepted) < 10000  # the month's quota was used, never used up
    # the root login at the month's end went at once, past the day's budget
    assert any("SSH login root from 203.0.113.66" in message for message in accepted[before:])
    # past the budget, what waited was said in every run (one line, exit 5)
    assert set(statuses) == {authwatch.ExitStatus.OK, authwatch.ExitStatus.QUOTA_WAIT}
