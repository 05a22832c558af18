"""Delivery by Pushover's rules, against a local stand-in: retries and their
pace, what a 4xx or a 429 does, the outbox's bound, one run at a time."""

import contextlib
import datetime
import fcntl
import json
import os
import socket
import threading
import time

import pytest
from helpers import LOGIN, NO_MEMORY_NOTE, NOW, TOKEN, accepted, append, cron_run, sent_forms
from werkzeug import Response

import authwatch


def login(n):
    return accepted(f"user{n}", method="password", pid=5000 + n)


@pytest.fixture
def login_pending(auth_log, config_file):
    """Return a config whose first run has stored the end of auth_log, into
    which a login has been logged since."""
    config = config_file()
    cron_run(config, auth_log)
    append(auth_log, LOGIN)
    return config


def outbox(tmp_path):
    return json.loads((tmp_path / "state" / "outbox.json").read_text())


def test_a_5xx_is_retried_no_sooner_than_5_seconds_later(
    auth_log, login_pending, httpserver, retries
):
    config = login_pending
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_data("busy", status=503)
    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    started = time.monotonic()
    result = cron_run(config, auth_log)
    elapsed = time.monotonic() - started
    assert (result.status, result.stderr) == (0, "")
    assert 5 <= elapsed < 10
    first, second = sent_forms(httpserver)
    assert first == second  # the same message, sent once more


def test_when_pushover_stays_down_the_run_ends_and_the_message_waits(
    tmp_path, auth_log, login_pending, httpserver, retries
):
    config = login_pending
    httpserver.expect_request("/1/messages.json").respond_with_data("down", status=502)
    started = time.monotonic()
    result = cron_run(config, auth_log)
    assert time.monotonic() - started < 90
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert result.stderr == (
        "authwatch: error: Pushover did not accept the message (HTTP 502): BAD GATEWAY\n"
    )
    assert len(httpserver.log) == 3  # the first try and two retries
    [waiting] = outbox(tmp_path)["messages"]
    assert waiting["title"] == "web1: SSH login awtest from 203.0.113.9"


def test_a_message_pushover_refuses_is_dropped_and_told_in_the_next_one(
    tmp_path, auth_log, login_pending, httpserver
):
    config = login_pending
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_json(
        {"message": "cannot be blank", "errors": ["message cannot be blank"], "status": 0},
        status=400,
    )
    result = cron_run(config, auth_log)
    assert result.status == 0
    assert result.stderr == (
        "authwatch: Pushover refused a message (HTTP 400): message cannot be blank;"
        " it was dropped: web1: SSH login awtest from 203.0.113.9\n"
    )
    assert outbox(tmp_path)["messages"] == []

    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    append(auth_log, login(2))
    assert cron_run(config, auth_log).status == 0
    [_, form] = sent_forms(httpserver)
    assert form["message"].startswith(
        "Note: Pushover refused a message (HTTP 400): message cannot be blank;"
        " it was dropped: web1: SSH login awtest from 203.0.113.9\n"
        + NO_MEMORY_NOTE  # the dropped login was not told, so not learned
        + "Method: password"
    )


def test_a_refused_token_keeps_everything_and_is_a_config_error(
    tmp_path, auth_log, login_pending, httpserver
):
    config = login_pending
    httpserver.expect_request("/1/messages.json").respond_with_json(
        {"token": "invalid", "errors": ["application token is invalid"], "status": 0}, status=400
    )
    result = cron_run(config, auth_log, "-v")
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr.endswith(
        "authwatch: error: Pushover refused [pushover] token (HTTP 400):"
        " application token is invalid\n"
    )
    assert TOKEN not in result.stderr + result.stdout
    assert len(outbox(tmp_path)["messages"]) == 1


def test_after_a_429_nothing_is_sent_until_the_reset(tmp_path, auth_log, config_file, httpserver):
    config = config_file()
    reset = int(NOW.timestamp()) + 3600
    cron_run(config, auth_log)
    append(auth_log, LOGIN)
    httpserver.expect_oneshot_request("/1/messages.json").respond_with_json(
        {"errors": ["application has exceeded its monthly limit"], "status": 0},
        status=429,
        headers={
            "X-Limit-App-Limit": "10000",
            "X-Limit-App-Remaining": "0",
            "X-Limit-App-Reset": str(reset),
        },
    )
    spent = cron_run(config, auth_log)
    assert spent.status == authwatch.ExitStatus.QUOTA_WAIT
    assert spent.stderr == (
        "authwatch: error: 1 message waits for Pushover's quota: used up, until 2026-11-27 13:00\n"
    )
    assert outbox(tmp_path)["positions"] == {}  # stored: no later run may wind back to it
    append(auth_log, login(2))
    waiting = cron_run(config, auth_log)  # each run says so while they wait
    assert (waiting.status, waiting.stderr) == (
        authwatch.ExitStatus.QUOTA_WAIT,
        "authwatch: error: 2 messages wait for Pushover's quota: used up, until 2026-11-27 13:00\n",
    )
    assert len(httpserver.log) == 1
    assert len(outbox(tmp_path)["messages"]) == 2

    httpserver.expect_request("/1/messages.json").respond_with_json({"status": 1, "request": "r"})
    after = NOW.replace(hour=13, minute=30)
    assert cron_run(config, auth_log, now=after).status == 0
    [form] = sent_forms(httpserver)[1:]  # what waited goes as one
    assert form["title"] == "web1: SSH login user2 from 203.0.113.9 … and 1 more"
    assert "▶ web1: SSH login awtest from 203.0.113.9" in form["message"].splitlines()


def test_the_outbox_stays_bounded_and_keeps_the_counts(tmp_path, auth_log, config_file):
    config = config_file(
        "[alerts]\nmax_messages = 3\n", api_url="http://127.0.0.1:9/1/messages.json"
    )
    cron_run(config, auth_log)
    for n in range(12):  # Pushover unreachable for an hour: a login every run
        append(auth_log, login(n))
        assert cron_run(config, auth_log).status == authwatch.ExitStatus.DELIVERY_FAILED
    messages = outbox(tmp_path)["messages"]
    assert len(messages) == 3
    # nothing was delivered, so nothing learned: each login is the first one seen
    assert messages[-1]["title"] == "web1: SSH login user2 from 203.0.113.9 … and 9 more"
    assert messages[-1]["folded"] == 9
    assert messages[-1]["parts"] == [
        f"web1: SSH login user{n} from 203.0.113.9" for n in range(2, 12)
    ]


def test_redirects_are_not_followed(auth_log, login_pending, httpserver):
    config = login_pending
    httpserver.expect_request("/1/messages.json").respond_with_data(
        "", status=307, headers={"Location": httpserver.url_for("/elsewhere")}
    )
    result = cron_run(config, auth_log)
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert [request.path for request, _ in httpserver.log] == ["/1/messages.json"]


def test_an_answer_that_is_not_pushovers_is_a_failed_delivery(auth_log, login_pending, httpserver):
    config = login_pending
    httpserver.expect_request("/1/messages.json").respond_with_data("[1]", status=200)
    result = cron_run(config, auth_log)
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert result.stderr.startswith("authwatch: error: Pushover did not accept the message")


def test_a_second_run_while_one_works_leaves_quietly(tmp_path, auth_log, login_pending, pushover):
    config = login_pending
    with authwatch.run_lock(str(tmp_path / "state"), NOW) as locked:
        assert locked
        second = cron_run(config, auth_log)
        assert (second.status, second.stdout, second.stderr) == (0, "", "")
        said = cron_run(config, auth_log, "-v")
        assert "another authwatch run holds" in said.stderr
    assert sent_forms(pushover) == []
    assert cron_run(config, auth_log).status == 0
    assert len(sent_forms(pushover)) == 1


def test_a_long_retry_after_does_not_hold_the_run(
    tmp_path, auth_log, login_pending, httpserver, retries
):
    config = login_pending
    httpserver.expect_request("/1/messages.json").respond_with_data(
        "later", status=503, headers={"Retry-After": "3600"}
    )
    started = time.monotonic()
    result = cron_run(config, auth_log)
    assert time.monotonic() - started < 30  # waits of 10 s, not an hour
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert len(httpserver.log) == 3
    assert len(outbox(tmp_path)["messages"]) == 1


def test_a_429_is_not_retried_even_with_retry_after(auth_log, login_pending, httpserver, retries):
    config = login_pending
    httpserver.expect_request("/1/messages.json").respond_with_json(
        {"errors": ["over quota"], "status": 0}, status=429, headers={"Retry-After": "6"}
    )
    assert cron_run(config, auth_log).status == authwatch.ExitStatus.QUOTA_WAIT
    assert len(httpserver.log) == 1


def test_a_refused_setting_keeps_everything_and_names_it(
    tmp_path, auth_log, config_file, httpserver
):
    config = config_file(pushover="device = phnoe\n")
    cron_run(config, auth_log)
    append(auth_log, LOGIN)
    httpserver.expect_request("/1/messages.json").respond_with_json(
        {"device": "invalid", "errors": ["device name is not valid for user"], "status": 0},
        status=400,
    )
    result = cron_run(config, auth_log)
    assert result.status == authwatch.ExitStatus.CONFIG_ERROR
    assert result.stderr == (
        "authwatch: error: Pushover refused [pushover] device (HTTP 400):"
        " device name is not valid for user\n"
    )
    assert len(outbox(tmp_path)["messages"]) == 1


def test_a_dry_run_leaves_a_damaged_outbox_where_it_is(tmp_path, auth_log, config_file, pushover):
    config = config_file()
    cron_run(config, auth_log)
    (tmp_path / "state" / "outbox.json").write_text('{"messages": [{"what": 1}]}')
    dry = cron_run(config, auth_log, "--dry-run")
    assert dry.status == 0
    assert dry.stderr == (
        f"authwatch: {tmp_path / 'state' / 'outbox.json'} is damaged: a real run moves it aside\n"
    )
    assert (tmp_path / "state" / "outbox.json").exists()
    append(auth_log, LOGIN)
    real = cron_run(config, auth_log)
    assert real.status == 0 and "moved to" in real.stderr
    [form] = sent_forms(pushover)
    assert form["message"].startswith("Note: ")


def test_a_server_that_drips_its_answer_cannot_hold_a_run(
    monkeypatch, tmp_path, auth_log, config_file
):
    # each byte comes within the read timeout; only a deadline for the whole
    # message bounds it
    monkeypatch.setattr(authwatch, "MESSAGE_TIME", 3)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip():
        listener.settimeout(10)
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" * 10:
                if stop.wait(0.5):
                    return
                with contextlib.suppress(OSError):
                    connection.send(bytes([byte]))

    server = threading.Thread(target=drip, daemon=True)
    server.start()
    config = config_file(api_url=f"http://127.0.0.1:{listener.getsockname()[1]}/1/messages.json")
    cron_run(config, auth_log)
    append(auth_log, LOGIN)
    started = time.monotonic()
    result = cron_run(config, auth_log)
    stop.set()
    assert time.monotonic() - started < 10
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert "did not answer within 3 s" in result.stderr
    assert [message["title"] for message in outbox(tmp_path)["messages"]] == [
        "web1: SSH login awtest from 203.0.113.9"
    ]
    server.join(timeout=10)
    listener.close()


def test_a_run_that_holds_the_lock_for_long_is_said_to_be_stuck(tmp_path, auth_log, login_pending):
    lock = tmp_path / "state" / "lock"
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        os.utime(lock, (NOW.timestamp() - 700, NOW.timestamp() - 700))
        result = cron_run(login_pending, auth_log)
    assert result.status == 0
    [line] = result.stderr.splitlines()
    assert f"a run has held {lock} for 11 minutes" in line
    os.utime(lock, (NOW.timestamp() - 60, NOW.timestamp() - 60))
    with open(lock, "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        assert cron_run(login_pending, auth_log).stderr == ""


def test_what_a_slow_pushover_leaves_when_the_delivery_time_is_spent_goes_next_run(
    monkeypatch, tmp_path, auth_log, config_file, httpserver
):
    config = config_file()
    cron_run(config, auth_log)
    append(auth_log, login(1), login(2))

    def slow(request):
        time.sleep(0.3)
        return Response(json.dumps({"status": 1, "request": "r"}), content_type="application/json")

    httpserver.expect_request("/1/messages.json").respond_with_handler(slow)
    monkeypatch.setattr(authwatch, "DELIVERY_TIME", 0.2)
    result = cron_run(config, auth_log)
    assert result.status == authwatch.ExitStatus.DELIVERY_FAILED
    assert result.stderr == (
        "authwatch: error: Pushover is slow: the next run sends the 1 message left\n"
    )
    assert len(sent_forms(httpserver)) == 1
    assert [message["title"] for message in outbox(tmp_path)["messages"]] == [
        "web1: SSH login user2 from 203.0.113.9"
    ]
    monkeypatch.setattr(authwatch, "DELIVERY_TIME", 20)
    assert cron_run(config, auth_log).status == 0
    assert [form["title"] for form in sent_forms(httpserver)] == [
        "web1: SSH login user1 from 203.0.113.9",
        "web1: SSH login user2 from 203.0.113.9",
    ]


def test_past_the_day_s_budget_a_run_sends_one_message_and_only_for_vital_acts():
    # 1,200 were left this morning, above a reserve of 100, the reset 10 days away:
    # today's budget is 110, the reserve's share of today 10
    reset = int(NOW.replace(hour=0).timestamp()) + 10 * 86400
    quota = {"limit": 10000, "remaining": 1090, "reset": reset, "day": "2026-11-27", "sent": 110}
    assert authwatch.day_allowance(quota, 100, NOW) == (110, 10)
    messages = [authwatch.Message("web1", f"web1: SSH login u{n}", "b", 1, None) for n in range(3)]
    [waits] = authwatch.quota_plan(messages, quota, 100, NOW)
    assert (waits.held, waits.folded) == (True, 2)  # new logins, but none of root: tomorrow
    vital = (("web1", "SSH login", "root", None, "from 203.0.113.66", 1),)
    root = messages[0]._replace(title="web1: SSH login root", vital=vital)
    [goes] = authwatch.quota_plan([*messages, root], quota, 100, NOW)
    assert (goes.held, goes.folded, goes.title) == (False, 3, "web1: SSH login root … and 3 more")
    spent = {**quota, "remaining": 1080, "sent": 120}  # the reserve's share spent too
    [waits] = authwatch.quota_plan([root], spent, 100, NOW)
    assert waits.held
    tomorrow = NOW + datetime.timedelta(days=1)
    assert [message.held for message in authwatch.quota_plan(messages, quota, 100, tomorrow)] == [
        False
    ] * 3
