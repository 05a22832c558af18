"""The Source contract: records() read to its end, then notices and
positions(); asked out of order, a source fails loudly rather than store a
position it never reached."""

import pytest
from helpers import LOGIN, NOW

import authwatch

LINE = LOGIN + "\n"


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
