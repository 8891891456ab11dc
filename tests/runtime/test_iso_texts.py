"""The ISO text of a time (journeydsl.runtime.hostcalls.iso), remembered for the last few
objects asked: always what ``isoformat`` gives, whatever was asked before it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime import hostcalls
from journeydsl.zones import zone

_ZONES = st.sampled_from(
    [
        UTC,
        timezone(timedelta(hours=7)),
        timezone(timedelta(hours=7)),  # (an equal zone, another object)
        timezone(timedelta(hours=-5, minutes=-30)),
        zone("Asia/Ho_Chi_Minh"),
        zone("Europe/Berlin"),  # (ambiguous and missing hours: folds matter)
        zone("America/New_York"),
    ]
)
_TIMES = st.builds(
    lambda naive, tz, fold: naive.replace(tzinfo=tz, fold=fold),
    st.datetimes(datetime(2025, 1, 1), datetime(2027, 12, 31)),
    _ZONES,
    st.integers(0, 1),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_TIMES, min_size=1, max_size=30))
def test_iso_is_isoformat_whatever_was_asked_before(times: list[datetime]) -> None:
    """Over random sequences of times (equal instants in other zones, both folds of an
    ambiguous hour, equal zones that are other objects, repeats), iso(t) is t.isoformat()."""
    for t in times + times[::-1]:
        assert hostcalls.iso(t) == t.isoformat()
        # the same wall time in the other fold, and the same instant elsewhere
        other = t.replace(fold=1 - t.fold)
        assert hostcalls.iso(other) == other.isoformat()
        moved = t.astimezone(UTC)
        assert hostcalls.iso(moved) == moved.isoformat()


def test_an_ambiguous_hour_keeps_both_texts() -> None:
    """01:30 on the night Berlin's clocks go back is two instants, +02:00 then +01:00."""
    berlin = zone("Europe/Berlin")
    first = datetime(2026, 10, 25, 2, 30, tzinfo=berlin)
    second = first.replace(fold=1)
    assert hostcalls.iso(first) == "2026-10-25T02:30:00+02:00"
    assert hostcalls.iso(second) == "2026-10-25T02:30:00+01:00"
    assert hostcalls.iso(datetime(2026, 10, 25, 2, 30, tzinfo=berlin)) == first.isoformat()


def test_the_remembered_texts_are_bounded() -> None:
    """However many times are asked, at most _ISO_KEPT texts are kept."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for minute in range(hostcalls._ISO_KEPT + 10):
        t = start + timedelta(minutes=minute)
        assert hostcalls.iso(t) == t.isoformat()
    assert len(hostcalls._recent_iso) <= hostcalls._ISO_KEPT
