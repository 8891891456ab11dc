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
