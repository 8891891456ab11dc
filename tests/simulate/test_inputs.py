"""The simulator's input readers: times given without an offset (``--start``, ``--until``, a
test file's or an enrolment file's local times) are read in the journey's zone by the calendar
rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from journeydsl.simulate.inputs import parse_time, read_enrolments, read_events


def test_a_local_time_the_clock_skips_is_read_later_by_the_gap() -> None:
    """02:30 on New York's spring-forward night is 03:30 EDT, written with the offset then in
    force (it was 02:30-05:00, a local time that does not exist, in the report's header); a
    repeated time is its first occurrence; a time with an offset is kept as given."""
    gap = parse_time("2026-03-08T02:30", "America/New_York")
    assert gap.isoformat() == "2026-03-08T03:30:00-04:00"
    assert gap == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)
    fold = parse_time("2026-11-01 01:30", "America/New_York")
    assert fold.isoformat() == "2026-11-01T01:30:00-04:00"
    assert parse_time("2026-03-08").isoformat() == "2026-03-08T00:00:00+07:00"
    given = parse_time("2026-03-08T02:30:00-05:00", "America/New_York")
    assert given.isoformat() == "2026-03-08T02:30:00-05:00"


def test_a_byte_order_mark_opening_an_events_or_enrolment_file_is_not_part_of_a_line(
    tmp_path: Path,
) -> None:
    """The first line of an events or enrolments file saved with a UTF-8 byte-order mark is
    read, not refused as "not valid JSON"."""
    events = tmp_path / "events.jsonl"
    line = '{"customer_id": "c-1", "type": "app_installed", "at": "2026-01-05T10:00:00+07:00"}\n'
    events.write_bytes(b"\xef\xbb\xbf" + line.encode("utf-8"))
    loaded, problems = read_events(events, {"app_installed": {}})
    assert (len(loaded), problems) == (1, [])
    enrol = tmp_path / "enrol.jsonl"
    enrol.write_bytes(b"\xef\xbb\xbf" + b'{"customer_id": "c-1", "at": "2026-01-05T10:00"}\n')
    entered, refused = read_enrolments(enrol, "Asia/Ho_Chi_Minh")
    assert ([e.customer_id for e in entered], refused) == (["c-1"], [])
