"""A small harness for contact-policy tests: journeys compiled against the example catalogs, an
engine with policies over the in-memory (or SQLite) stores, recording channels, and helpers that
read what reached whom, in the customer's local time."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeydsl import ir
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.policies import Policies, load_policies
from journeydsl.runtime.protocols import EventStore, Message, Profile, ProfileStore, StateStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    SteppableClock,
)
from tests.runtime.scenario import CHANNELS, Event, compile_journey, ev, local, profile

__all__ = [
    "CHANNELS",
    "Event",
    "Harness",
    "compile_journey",
    "ev",
    "harness",
    "local",
    "policies",
    "profile",
]


def policies(text: str, tmp: Path | None = None, name: str = "policies.yaml") -> Policies:
    """A policy file from YAML text (written to ``tmp`` when given, so relative paths work)."""
    if tmp is None:
        return load_policies(name, text)
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return load_policies(path)


@dataclass
class Harness:
    """An engine with policies, its clock, stores, channels and recorded actions."""

    engine: Engine
    clock: SteppableClock
    events: EventStore
    profiles: ProfileStore
    state: StateStore
    channels: dict[str, RecordingChannel]
    actions: list[dict[str, Any]] = field(default_factory=list)

    def advance(self, until: datetime) -> None:
        """Fire everything due up to ``until``, each at its own time."""
        while (w := self.engine.next_wakeup()) is not None and w <= until:
            self.clock.set(w)
            self.engine.tick(w)
        self.clock.set(until)

    def feed(self, timeline: Iterable[Event]) -> None:
        """Ingest events in time order, advancing to each first."""
        for e in sorted(timeline, key=lambda e: datetime.fromisoformat(e["at"])):
            at = datetime.fromisoformat(e["at"])
            self.advance(at)
            self.engine.ingest(e)

    def delivered(self, customer_id: str, channel: str | None = None) -> list[Message]:
        """Messages that reached the customer (on ``channel``), by time."""
        out = [
            m
            for name, c in self.channels.items()
            if channel in (None, name)
            for m in c.delivered
            if m.customer_id == customer_id
        ]
        return sorted(out, key=lambda m: m.at)

    def times(self, customer_id: str, channel: str | None = None) -> list[str]:
        """Local delivery times to the minute (``"2026-01-05 22:00"``), by time."""
        tz = ZoneInfo(self.profiles.get(customer_id).timezone or "Asia/Ho_Chi_Minh")
        return [
            m.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
            for m in self.delivered(customer_id, channel)
        ]

    def decisions(self, customer_id: str) -> list[dict[str, Any]]:
        """The delivery decisions in the customer's decision logs, by time."""
        out = [
            e
            for inst in self.engine.explain(customer_id)
            for e in inst["log"]
            if e["what"] == "deliver"
        ]
        return sorted(out, key=lambda e: datetime.fromisoformat(e["at"]))

    def suppressed(self, customer_id: str) -> list[str]:
        """The reasons of the customer's suppressed messages, by time."""
        return [
            str(a["reason"])
            for a in sorted(self.actions, key=lambda a: a["at"])
            if a["customer_id"] == customer_id and a["kind"] == "suppressed"
        ]


def harness(
    journeys: Sequence[ir.Journey],
    profiles: Iterable[Profile],
    *,
    start: datetime,
    policy: Policies | None,
    state: StateStore | None = None,
    events: EventStore | None = None,
    profile_store: ProfileStore | None = None,
    scripts: Mapping[str, Any] | None = None,
) -> Harness:
    """An engine at ``start`` with ``policy``, over fresh (or given) stores."""
    channels = {c: RecordingChannel(c, (scripts or {}).get(c)) for c in CHANNELS}
    clock = SteppableClock(start)
    ev_store: EventStore = events if events is not None else MemoryEventStore()
    p_store: ProfileStore = profile_store if profile_store is not None else MemoryProfileStore()
    for p in profiles:
        p_store.add(p)  # type: ignore[attr-defined]
    st_store: StateStore = state if state is not None else MemoryStateStore()
    actions: list[dict[str, Any]] = []
    engine = Engine(
        list(journeys),
        events=ev_store,
        profiles=p_store,
        state=st_store,
        clock=clock,
        channels=channels,
        on_action=actions.append,
        policies=policy,
    )
    return Harness(engine, clock, ev_store, p_store, st_store, channels, actions)


#: One marketing SMS on card activation, nothing else.
ONE_SMS = """
journey one_sms
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
  reentry always
send sms install_digital_app marketing
"""

#: A transactional SMS on card activation.
ONE_TRANSACTIONAL = """
journey one_transactional
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
  reentry always
send sms activation_reminder transactional { round: 1 } fallback none
"""

DAY = timedelta(days=1)
