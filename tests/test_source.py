"""The Source contract: records() read to its end, then notices and
positions(); asked out of order, a source fails loudly rather than store a
position it never reached."""

import datetime

import pytest

import authwatch

NOW = datetime.datetime(2026, 11, 27, 12, 0, tzinfo=datetime.timezone.utc)
LINE = "Nov 27 11:59:00 web1 sshd[4242]: Accepted password for alice from 203.0.113.9 port 5 ssh2\n"


@pytest.fixture
def source(tmp_path):
    log = tmp_path / "auth.log"
    log.write_text(LINE)
    return authwatch.FileSource(str(log), str(tmp_path / "auth.log.offset"), from_start=True)


def test_positions_and_notices_come_only_once_records_are_read_to_the_end(source):
    records = source.records(NOW)
    with pytest.raises(RuntimeError, match="not read to its end"):
        source.positions()
    next(records)
    with pytest.raises(RuntimeError, match="not read to its end"):
        source.notices()
    assert list(records) == []
    assert source.notices() == []
    [(path, text)] = source.positions().items()
    assert path == source.position_path
    assert text.split("\n")[1] == str(len(LINE))


def test_a_source_is_read_once(source):
    list(source.records(NOW))
    with pytest.raises(RuntimeError, match="read twice"):
        list(source.records(NOW))
