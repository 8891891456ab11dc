"""The event-time reorder buffer: whatever order the events arrive in within the allowed
lateness, they come out in time order (ties in arrival order), and an event dated before the
watermark is refused as too late without disturbing what is held."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeydsl.runtime.reorder import Reorder, TooLateError

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DAY = timedelta(days=1)


def _feed(buffer: Reorder[int], times: list[datetime]) -> list[int]:
    out: list[int] = []
    for i, at in enumerate(times):
        out.extend(buffer.push(at, i))
    out.extend(buffer.drain())
    return out


@given(st.lists(st.integers(0, 10_000), min_size=0, max_size=40), st.randoms())
def test_any_arrival_order_within_the_lateness_comes_out_in_time_order(
    minutes: list[int], rnd: object
) -> None:
    """Events shuffled by at most the allowed lateness come out sorted by time (ties by arrival),
    and none is refused."""
    times = sorted(T0 + timedelta(minutes=m) for m in minutes)
    lateness = timedelta(minutes=10_000)  # every shuffle of this stream is within it
    shuffled = list(range(len(times)))
    rnd.shuffle(shuffled)  # type: ignore[attr-defined]
    arrived = [times[i] for i in shuffled]
    out = _feed(Reorder(lateness), arrived)
    assert [arrived[i] for i in out] == times
    assert sorted(out) == list(range(len(times)))


def test_release_waits_for_the_watermark() -> None:
    """An event is held until the stream is the allowed lateness past it."""
    buffer: Reorder[str] = Reorder(DAY)
    assert list(buffer.push(T0, "a")) == []
    assert list(buffer.push(T0 + DAY - timedelta(seconds=1), "b")) == []  # a may still be preceded
    assert list(buffer.push(T0 + DAY, "c")) == ["a"]  # nothing before a can come any more
    assert list(buffer.drain()) == ["b", "c"]


def test_an_event_before_the_watermark_is_too_late_and_held_events_stay() -> None:
    """Refusing a too-late event names how late it is and keeps the held events."""
    buffer: Reorder[str] = Reorder(DAY)
    list(buffer.push(T0 + 3 * DAY, "x"))
    with pytest.raises(TooLateError, match=r"too_late: dated 2d 1h before the latest event "):
        list(buffer.push(T0 + timedelta(hours=23), "late"))
    assert list(buffer.drain()) == ["x"]


def test_the_watermark_resumes_from_an_earlier_run() -> None:
    """A buffer started at the time a previous run reached refuses what that run has passed."""
    buffer: Reorder[str] = Reorder(DAY, latest=T0 + 5 * DAY)
    with pytest.raises(TooLateError):
        buffer.push(T0, "old")
    assert list(buffer.push(T0 + 4 * DAY + timedelta(hours=1), "ok")) == []
    assert list(buffer.drain()) == ["ok"]


def test_zero_lateness_passes_events_straight_through_in_order() -> None:
    """With no allowed lateness an event is released as it comes."""
    buffer: Reorder[str] = Reorder(timedelta(0))
    assert list(buffer.push(T0, "a")) == ["a"]
    assert list(buffer.push(T0 + DAY, "b")) == ["b"]
    with pytest.raises(TooLateError):
        buffer.push(T0, "a again, late")


def test_without_holding_items_pass_at_once_and_too_late_ones_are_still_refused() -> None:
    """hold=False (a live feed): every item comes out as it goes in, late ones too, and one
    before the watermark is refused."""
    buffer: Reorder[str] = Reorder(DAY, hold=False)
    assert list(buffer.push(T0 + DAY, "b")) == ["b"]
    assert list(buffer.push(T0 + timedelta(hours=1), "a, late but in time")) == [
        "a, late but in time"
    ]
    with pytest.raises(TooLateError):
        buffer.push(T0 - timedelta(hours=1), "too late")
    assert list(buffer.drain()) == []
