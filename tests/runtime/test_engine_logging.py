"""The engine's structured logs obey structlog's configured level, read at every host call:
filtered levels cost nothing, and a host that reconfigures logging is obeyed at once."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import structlog
from structlog.testing import LogCapture

from journeydsl.compiler import compile_file
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import Profile
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    SteppableClock,
)

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def capture() -> Iterator[LogCapture]:
    old = structlog.get_config()
    cap = LogCapture()
    try:
        yield cap
    finally:
        structlog.configure(**old)


def _configure(cap: LogCapture, level: int) -> None:
    structlog.configure(
        processors=[cap], wrapper_class=structlog.make_filtering_bound_logger(level)
    )


def _engine() -> Engine:
    journey = compile_file(EXAMPLES / "onboarding_new_cardholder.journey").journey
    assert journey is not None
    return Engine(
        [journey],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore(
            [Profile(f"c{n}", {}, {"email": True}, "Asia/Ho_Chi_Minh") for n in range(1, 4)]
        ),
        state=MemoryStateStore(),
        clock=SteppableClock(T0),
        channels={"email": RecordingChannel("email")},
        unhandled="withhold",  # only the welcome email matters here
    )


def _issued(n: int) -> dict[str, Any]:
    return {
        "id": f"e{n}",
        "customer_id": f"c{n}",
        "type": "card_issued",
        "at": T0.isoformat(),
        "data": {"card_id": f"k{n}", "product": "gold"},
    }


def test_info_and_debug_events_are_logged_when_configured(capture: LogCapture) -> None:
    """At DEBUG the engine logs the entry, each step and wait, and the send, with the journey,
    the customer and the node."""
    _configure(capture, logging.DEBUG)
    _engine().ingest(_issued(1))
    events = [(e["event"], e["log_level"]) for e in capture.entries]
    assert ("enter", "info") in events
    assert ("step", "debug") in events
    assert ("wait", "debug") in events
    assert ("send", "info") in events
    step = next(e for e in capture.entries if e["event"] == "step")
    assert step["customer"] == "c1"
    assert step["node"] == "welcome"


def test_levels_below_the_configured_one_are_not_logged(capture: LogCapture) -> None:
    """At INFO no debug line is produced; at WARNING nothing of a normal run is."""
    _configure(capture, logging.INFO)
    engine = _engine()
    engine.ingest(_issued(1))
    assert capture.entries
    assert all(e["log_level"] != "debug" for e in capture.entries)
    capture.entries.clear()
    _configure(capture, logging.WARNING)
    engine.ingest(_issued(2))
    assert capture.entries == []


def test_a_reconfiguration_between_host_calls_is_obeyed(capture: LogCapture) -> None:
    """The engine reads the level at every host call: raising it to DEBUG after a quiet call
    makes the next call log its steps."""
    _configure(capture, logging.ERROR)
    engine = _engine()
    engine.ingest(_issued(1))
    assert capture.entries == []
    _configure(capture, logging.DEBUG)
    engine.ingest(_issued(2))
    assert any(e["event"] == "step" and e["customer"] == "c2" for e in capture.entries)


def test_an_event_of_a_customer_without_a_profile_is_warned_about_once(
    capture: LogCapture,
) -> None:
    """A customer with events but no profile (so no consent: every message withheld) is logged
    as a warning, once, and counted in Engine.unprofiled."""
    _configure(capture, logging.WARNING)
    engine = _engine()
    engine.ingest(_issued(9))
    engine.ingest(
        {**_issued(9), "id": "again", "type": "card_activated", "data": {"card_id": "k9"}}
    )
    warnings = [e for e in capture.entries if e["event"] == "no_profile"]
    assert [(w["customer"], w["log_level"]) for w in warnings] == [("c9", "warning")]
    assert engine.unprofiled == {"c9"}
