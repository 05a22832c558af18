"""Hostile and broken log lines: the run goes on, the lines after them are
delivered, and nothing is read twice."""

import pytest
from helpers import LOGIN, TOKEN, USER_KEY, cron_run, sent_forms

BAD_LINES = {
    "invalid utf-8": b"Nov 27 11:57:00 web1 sshd[1]: Invalid user \xff\xfe\xc3("
    b" from 192.0.2.1 port 1\n",
    "nul bytes": b"Nov 27 11:57:00 web1 sshd[1]: Invalid user a\x00b from 192.0.2.1 port 1\n",
    "a line of megabytes": b"Nov 27 11:57:00 web1 sshd[1]: " + b"A" * 3_000_000 + b"\n",
    "terminal escapes": b"Nov 27 11:57:00 web1 sshd[1]: Invalid user \x1b]0;owned\x07\x1b[2J"
    b" from 192.0.2.1 port 1\n",
    "html": b"Nov 27 11:57:00 web1 sshd[1]: Invalid user <script>alert(1)</script>"
    b" from 192.0.2.1 port 1\n",
    "no syslog header": b"\x00\x01\x02 garbage \xff\n",
    # any local user can write it with logger(1); Python refuses int() of 4300+ digits
    "a count of naught": b"Nov 27 11:57:00 web1 sudo: message repeated 0 times: [ mallory :"
    b" TTY=pts/0 ; PWD=/ ; USER=root ; COMMAND=/bin/true]\n",
    "a count of thousands of digits": b"Nov 27 11:57:00 web1 sshd[1]: PAM "
    + b"1" * 5000
    + b" more authentication failures; logname= uid=0 euid=0 tty=ssh ruser= rhost=192.0.2.2"
    b"  user=root\n",
}


@pytest.mark.parametrize("bad", BAD_LINES.values(), ids=BAD_LINES.keys())
def test_a_bad_line_is_reported_inertly_and_the_next_lines_still_arrive(
    auth_log, config_file, pushover, bad
):
    config = config_file()
    assert cron_run(config, auth_log).status == 0
    with open(auth_log, "ab") as file:
        file.write(bad + LOGIN.encode() + b"\n")
    result = cron_run(config, auth_log)
    assert (result.status, result.stderr) == (0, "")
    forms = sent_forms(pushover)
    assert forms[0]["title"] == "web1: SSH login awtest from 203.0.113.9"
    [digest] = forms[1:]
    text = digest["title"] + digest["message"]
    assert not any(ord(c) < 32 and c != "\n" for c in text)
    assert "\x7f" not in text and len(digest["message"]) <= 1024
    assert TOKEN not in text and USER_KEY not in text

    assert cron_run(config, auth_log).status == 0  # nothing is read twice
    assert len(pushover.log) == 2
