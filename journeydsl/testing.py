"""Test doubles that ship with the library, so hosts can test their own integrations:
a recording (deduplicating, scriptable) channel, a steppable clock, recording ticket and action
sinks (from :mod:`journeydsl.runtime.virtual`, which the simulator runs on too), and the
in-memory stores."""

from __future__ import annotations

from journeydsl.runtime.stores.memory import MemoryEventStore, MemoryProfileStore, MemoryStateStore
from journeydsl.runtime.virtual import (
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)

__all__ = [
    "MemoryEventStore",
    "MemoryProfileStore",
    "MemoryStateStore",
    "RecordingActions",
    "RecordingChannel",
    "RecordingTickets",
    "SteppableClock",
]
