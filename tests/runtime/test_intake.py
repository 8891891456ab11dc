"""What the engine checks as it takes an event: here, that its host clock gives instants."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from journeydsl.runtime.engine import Engine
from journeydsl.runtime.stores.memory import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
)
from tests.runtime.scenario import compile_journey, ev, profile

JOURNEY = """\
journey waits_a_day
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
wait 1d
"""
AT = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


class HostClock:
    """A host's clock that forgot the time zone: ``datetime.now()`` rather than
    ``datetime.now(UTC)``."""

    def now(self) -> datetime:
        """A naive time."""
        return datetime(2026, 1, 5, 10, 0)


def _engine(allowed_lateness: timedelta | None) -> Engine:
    return Engine(
        [compile_journey(JOURNEY)],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([profile("c1")]),
        state=MemoryStateStore(),
        clock=HostClock(),
        allowed_lateness=allowed_lateness,
    )


@pytest.mark.parametrize("allowed_lateness", [timedelta(days=1), None])
def test_a_naive_host_clock_is_a_clear_error_on_ingest(allowed_lateness: timedelta | None) -> None:
    """A Clock whose now() is naive makes ingest raise a ValueError naming the clock, not a
    TypeError from deep inside; nothing is taken or stored."""
    engine = _engine(allowed_lateness)
    event = ev("c1", "card_issued", AT, card_id="k", product="gold")
    with pytest.raises(
        ValueError, match=r"engine's clock \(HostClock\.now\(\)\) gave 2026-01-05T10"
    ):
        engine.ingest(event)
    assert engine.state.instances_of("c1") == []
    assert engine.events.events("c1", "card_issued", None, None) == ()


def _plain_engine() -> Engine:
    """An engine over memory stores with an aware clock, for events given from Python."""
    from journeydsl.testing import SteppableClock

    return Engine(
        [compile_journey(JOURNEY)],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([profile("c1")]),
        state=MemoryStateStore(),
        clock=SteppableClock(AT),
    )


@pytest.mark.parametrize("raw", [None, [1, 2], 5, ("c1", "card_issued")])
def test_an_event_that_is_not_an_object_is_quarantined_not_raised(raw: object) -> None:
    """ingest of a value that is not a mapping (None, a list, a number) quarantines it with
    the reason and keeps it, as the docstring promises, instead of raising a TypeError."""
    engine = _plain_engine()
    result = engine.ingest(raw)  # type: ignore[arg-type]
    assert result.quarantined == "an event is a JSON object"
    state = engine.state
    assert isinstance(state, MemoryStateStore)
    (kept,) = state.quarantined()
    assert kept.event == repr(raw)


def test_an_aware_datetime_at_is_taken_as_the_same_event_as_its_iso_text() -> None:
    """An event whose 'at' is an aware datetime (from Python) is taken, with the id of the same
    event written as JSON: given again as text, it is a duplicate."""
    engine = _plain_engine()
    data = {"card_id": "k", "product": "gold"}
    given = {"customer_id": "c1", "type": "card_issued", "at": AT, "data": data}
    taken = engine.ingest(given)
    assert taken.quarantined is None
    assert taken.entered == ["waits_a_day/c1/1"]
    again = engine.ingest(ev("c1", "card_issued", AT, **data))
    assert again.duplicate
    assert again.event_id == taken.event_id


def test_a_naive_datetime_at_is_quarantined_for_its_missing_offset() -> None:
    """A naive datetime as 'at' is quarantined with the reason that it has no UTC offset, not
    that it is not a string."""
    engine = _plain_engine()
    naive = datetime(2026, 1, 5, 9, 0)
    result = engine.ingest({"customer_id": "c1", "type": "card_issued", "at": naive, "data": {}})
    assert result.quarantined is not None
    assert result.quarantined.startswith("'at' has no UTC offset: '2026-01-05T09:00:00'")


def test_a_journey_that_is_none_is_refused_with_what_to_do() -> None:
    """Engine([None]) (compile_file's journey of a file with errors) raises a TypeError that
    says to check .ok, not an AttributeError from inside."""
    from journeydsl.testing import SteppableClock

    with pytest.raises(TypeError, match=r"journeys\[1\] is NoneType, not a compiled journey"):
        Engine(
            [compile_journey(JOURNEY), None],  # type: ignore[list-item]
            events=MemoryEventStore(),
            profiles=MemoryProfileStore([]),
            state=MemoryStateStore(),
            clock=SteppableClock(AT),
        )


@pytest.mark.parametrize("allowed_lateness", [timedelta(days=1), None])
def test_an_event_record_with_a_naive_time_is_quarantined(
    allowed_lateness: timedelta | None,
) -> None:
    """An EventRecord built by the host with a naive 'at' is quarantined with the reason, not
    met as a TypeError comparing naive and aware times; nothing is entered."""
    from journeydsl.expr.context import EventRecord
    from journeydsl.testing import SteppableClock

    engine = Engine(
        [compile_journey(JOURNEY)],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([profile("c1")]),
        state=MemoryStateStore(),
        clock=SteppableClock(AT),
        allowed_lateness=allowed_lateness,
    )
    naive = datetime(2026, 1, 5, 9, 0)
    record = EventRecord("c1", "card_issued", naive, {"card_id": "k", "product": "gold"})
    result = engine.ingest(record)
    assert (
        result.quarantined
        == "'at' has no UTC offset: '2026-01-05T09:00:00' (give an aware datetime)"
    )
    assert engine.state.instances_of("c1") == []
