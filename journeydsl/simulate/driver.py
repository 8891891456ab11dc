"""The simulation driver: the production :class:`~journeydsl.runtime.engine.Engine`, over the
in-memory stores, on a virtual clock. There is no second interpreter.

A discrete-event loop: a queue of future events (recorded lines, or a synthetic population's
behaviour, which may add to the queue while the run goes on) and the engine's own wake-ups
(timers, scheduled segment entries, deferred deliveries). Whichever is earlier goes first; a
wake-up and an event at the same instant fire the wake-up first, as a host ticking before it
ingests would. Events dated before ``start`` are history: they go straight into the event store
and trigger nothing. The run ends at ``until`` (default ``start + 90 days``).

The result follows the ``journeydsl simulate --format json`` contract of DESIGN.md.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.engine import Engine, RetryPolicy
from journeydsl.runtime.events import event_id
from journeydsl.runtime.protocols import Channel, Profile
from journeydsl.simulate.inputs import DEFAULT_TIMEZONE, LoadedEvent, Problem, default_profile
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)

__all__ = [
    "DEFAULT_DAYS",
    "Producer",
    "Simulation",
    "SimulationResult",
    "SimulationStuckError",
    "local_iso",
]

#: Length of a run without an explicit end.
DEFAULT_DAYS = 90

#: A synthetic event decided when its time comes: None when it no longer applies (e.g. an
#: activation for a card that was activated meanwhile).
Producer = Callable[[], Mapping[str, Any] | None]

_DUPLICATE = (
    "skipped: the same event as an earlier one (same id, or same content when events have no "
    "'id'); give distinct events distinct ids"
)

#: Internal nodes of a repeat loop: not steps a marketer wrote, so not funnel rows.
_INTERNAL = (ir.RepeatCheck, ir.RepeatNext)


class SimulationStuckError(RuntimeError):
    """The engine reported work due at an instant and did none of it when ticked (an engine
    bug: the run would never end)."""


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except Exception:  # the engine falls back the same way
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_iso(t: datetime | str, timezone: str) -> str:
    """``t`` in ISO 8601 with the local offset of ``timezone``."""
    when = datetime.fromisoformat(t) if isinstance(t, str) else t
    return when.astimezone(_zone(timezone)).isoformat()


def _action_names(journeys: Iterable[ir.Journey]) -> list[str]:
    names: list[str] = []
    for j in journeys:
        for node in j.nodes.values():
            if isinstance(node, ir.Action) and node.name not in names:
                names.append(node.name)
    return names


@dataclass
class _Stats:
    ingested: int = 0
    duplicates: int = 0
    history: int = 0
    after_until: int = 0


class Simulation:
    """One run of ``journeys`` over a queue of events, on a virtual clock from ``start`` to
    ``until``.

    ``channels`` replaces the default recording channels (a synthetic population passes its
    behaviour-driven doubles). Customers who appear in events without a profile get
    :func:`~journeydsl.simulate.inputs.default_profile` (``default_consent`` gives them consent
    for every channel) and, with one journey, the journey's time zone. ``progress`` is called
    with the virtual time as the run advances.
    """

    def __init__(
        self,
        journeys: Sequence[ir.Journey],
        profiles: Iterable[Profile] = (),
        *,
        start: datetime,
        until: datetime | None = None,
        channels: Mapping[str, Channel] | None = None,
        default_consent: bool = False,
        retry: RetryPolicy | None = None,
        progress: Callable[[datetime], None] | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulation start needs a UTC offset")
        self.journeys = tuple(journeys)
        self.start = start
        self.until = until if until is not None else start + timedelta(days=DEFAULT_DAYS)
        if self.until.tzinfo is None:
            raise ValueError("the simulation end needs a UTC offset")
        self.default_consent = default_consent
        self.progress = progress
        self.clock = SteppableClock(start)
        self.events = MemoryEventStore()
        self.profiles = MemoryProfileStore(profiles)
        self.state = MemoryStateStore()
        self.channels: dict[str, Channel] = (
            dict(channels) if channels is not None else {c: RecordingChannel(c) for c in CHANNELS}
        )
        self.tickets = RecordingTickets()
        self.handlers = {name: RecordingActions() for name in _action_names(self.journeys)}
        self.actions: list[dict[str, Any]] = []
        self.quarantined: list[Problem] = []
        #: Events skipped because an earlier one had the same id (or, without ids, the same
        #: content): the engine processes an event once.
        self.duplicates: list[Problem] = []
        self.stats = _Stats()
        self.engine = Engine(
            self.journeys,
            events=self.events,
            profiles=self.profiles,
            state=self.state,
            clock=self.clock,
            channels=self.channels,
            tickets=self.tickets,
            actions=dict(self.handlers),
            retry=retry,
            on_action=self.actions.append,
        )
        self._queue: list[tuple[datetime, int, str, Mapping[str, Any] | Producer]] = []
        self._seq = itertools.count()
        self._known: set[str] = set(self.profiles.customers())

    # ------------------------------------------------------------------ inputs

    def _ensure_profile(self, customer_id: str) -> None:
        if customer_id not in self._known:
            self._known.add(customer_id)
            profile = default_profile(customer_id, consent=self.default_consent)
            if len(self.journeys) == 1:  # the journey's time zone is its customers' default
                profile = replace(profile, timezone=self.journeys[0].timezone)
            self.profiles.add(profile)

    def add_history(
        self, raw: Mapping[str, Any], record: EventRecord, where: str = "history"
    ) -> None:
        """Put a past event straight into the event store (it triggers nothing)."""
        self._ensure_profile(record.customer_id)
        if self.events.append(event_id(raw), record):
            self.stats.history += 1
        else:
            self.duplicates.append(Problem(where, _DUPLICATE))

    def add_events(self, events: Iterable[LoadedEvent]) -> None:
        """Recorded events: those before ``start`` become history, the rest are queued."""
        for e in events:
            if e.record.at < self.start:
                self.add_history(e.raw, e.record, e.where)
            else:
                self._ensure_profile(e.record.customer_id)
                self.schedule(e.record.at, e.raw, e.where)

    def schedule(
        self, at: datetime, event: Mapping[str, Any] | Producer, where: str = "generated"
    ) -> None:
        """Queue an event (or a :data:`Producer` of one) for ``at``; ties keep queue order."""
        if at > self.until:
            self.stats.after_until += 1
            return
        heapq.heappush(self._queue, (at, next(self._seq), where, event))

    # ------------------------------------------------------------------ the loop

    def _ingest(self, at: datetime, where: str, item: Mapping[str, Any] | Producer) -> None:
        self.clock.set(at)
        event = item() if callable(item) else item
        if event is None:
            return
        customer = event.get("customer_id")
        if isinstance(customer, str) and customer:
            self._ensure_profile(customer)
        result = self.engine.ingest(event)
        if result.duplicate:
            self.stats.duplicates += 1
            self.duplicates.append(Problem(where, _DUPLICATE))
        elif result.quarantined is not None:
            self.quarantined.append(Problem(where, result.quarantined))
        else:
            self.stats.ingested += 1

    def _tick(self, wake: datetime) -> None:
        self.clock.set(wake)
        self.engine.tick(wake)
        after = self.engine.next_wakeup()
        if after is not None and after <= wake:
            raise SimulationStuckError(
                f"the engine has work due at {wake.isoformat()} but did none of it when ticked"
            )

    def run(self) -> SimulationResult:
        """Run to ``until`` and return what happened."""
        self.clock.set(self.start)
        while True:
            wake = self.engine.next_wakeup()
            if wake is not None and wake < self.start:
                wake = self.start
            due = self._queue[0][0] if self._queue else None
            if wake is not None and wake <= self.until and (due is None or wake <= due):
                self._tick(wake)
                now = wake
            elif due is not None:
                at, _, where, item = heapq.heappop(self._queue)
                self._ingest(max(at, self.start), where, item)
                now = at
            else:
                break
            if self.progress is not None:
                self.progress(now)
        self.clock.set(self.until)
        if self.progress is not None:
            self.progress(self.until)
        return SimulationResult(self)


# --------------------------------------------------------------------------- results


def _action_sort_key(a: Mapping[str, Any]) -> tuple[Any, ...]:
    rest = {k: v for k, v in a.items() if k not in ("at", "customer_id", "node", "kind")}
    return (
        a["at"].timestamp(),
        a["customer_id"],
        a["node"],
        a["kind"],
        json.dumps(rest, sort_keys=True, ensure_ascii=False, default=str),
    )


@dataclass
class SimulationResult:
    """What a run did: actions, instances and the stores, ready for reports."""

    simulation: Simulation
    actions: list[dict[str, Any]] = field(init=False)
    instances: list[dict[str, Any]] = field(init=False)

    def __post_init__(self) -> None:
        sim = self.simulation
        ordered = sorted(sim.actions, key=_action_sort_key)
        self.actions = []
        for a in ordered:
            tz = self.timezone(a["customer_id"])
            out = {
                "at": local_iso(a["at"], tz),
                "customer_id": a["customer_id"],
                "journey": a["journey"],
                "node": a["node"],
                "kind": a["kind"],
            }
            out.update((k, v) for k, v in a.items() if k not in out)
            self.actions.append(out)
        records = sim.state.all_instances()
        records.sort(
            key=lambda r: (
                datetime.fromisoformat(r["entered_at"]).timestamp(),
                r["customer_id"],
                r["id"],
            )
        )
        self.instances = records

    @property
    def start(self) -> datetime:
        """When the run started."""
        return self.simulation.start

    @property
    def until(self) -> datetime:
        """When the run ended."""
        return self.simulation.until

    @property
    def quarantined(self) -> list[Problem]:
        """Events the engine refused."""
        return self.simulation.quarantined

    @property
    def engine(self) -> Engine:
        """The engine (for :meth:`Engine.explain`)."""
        return self.simulation.engine

    def timezone(self, customer_id: str) -> str:
        """The customer's time zone name."""
        return self.simulation.profiles.get(customer_id).timezone

    def customers(self) -> list[str]:
        """Every customer with a profile, an event or an instance, sorted."""
        sim = self.simulation
        found = set(sim.profiles.customers())
        found |= {i["customer_id"] for i in self.instances}
        return sorted(found)

    def events_of(self, customer_id: str) -> list[EventRecord]:
        """The customer's stored events (history included), by time."""
        return [e for e in self.simulation.events.all() if e.customer_id == customer_id]

    def journey(self, journey_id: str | None = None) -> ir.Journey:
        """One of the simulated journeys (the only one when ``journey_id`` is None)."""
        journeys = self.simulation.journeys
        if journey_id is None:
            if len(journeys) != 1:
                raise ValueError("several journeys were simulated; name one")
            return journeys[0]
        for j in journeys:
            if j.id == journey_id:
                return j
        raise KeyError(journey_id)

    # ------------------------------------------------------------------ the JSON contract

    def actions_json(self, journey_id: str) -> list[dict[str, Any]]:
        """The journey's actions in the contract form (without ``journey``: it is the
        document's)."""
        return [
            {k: v for k, v in a.items() if k != "journey"}
            for a in self.actions
            if a["journey"] == journey_id
        ]

    def instances_json(self, journey_id: str) -> list[dict[str, Any]]:
        """The journey's instances in the contract form, times in local offsets."""
        out: list[dict[str, Any]] = []
        for r in self.instances:
            if r["journey"] != journey_id:
                continue
            tz = self.timezone(r["customer_id"])
            out.append(
                {
                    "customer_id": r["customer_id"],
                    "status": r["status"],
                    "outcome": r["outcome"],
                    "entered_at": local_iso(r["entered_at"], tz),
                    "ended_at": local_iso(r["ended_at"], tz) if r["ended_at"] else None,
                }
            )
        return out

    def funnel(self, journey_id: str | None = None) -> dict[str, Any]:
        """Instances that reached each step (graph order) and that ended with each outcome
        (declared order, then others); ``running`` counts instances that have not ended."""
        journey = self.journey(journey_id)
        mine = [r for r in self.instances if r["journey"] == journey.id]
        nodes = {
            nid: sum(1 for r in mine if r["visits"].get(nid, 0) > 0)
            for nid, node in journey.nodes.items()
            if not isinstance(node, _INTERNAL)
        }
        outcomes = dict.fromkeys(journey.outcomes, 0)
        running = 0
        for r in mine:
            if r["status"] != "ended":
                running += 1
            else:
                outcomes[r["outcome"]] = outcomes.get(r["outcome"], 0) + 1
        declared = {k: outcomes[k] for k in journey.outcomes}
        others = {k: v for k, v in sorted(outcomes.items()) if k not in declared}
        return {
            "entered": len(mine),
            "nodes": nodes,
            "outcomes": {**declared, **others},
            "running": running,
        }

    def to_json(self, journey_id: str | None = None) -> dict[str, Any]:
        """The ``journeydsl simulate --format json`` document of one journey."""
        journey = self.journey(journey_id)
        return {
            "journey": journey.id,
            "version": journey.version,
            "actions": self.actions_json(journey.id),
            "instances": self.instances_json(journey.id),
            "funnel": self.funnel(journey.id),
        }


def dumps(document: Mapping[str, Any]) -> str:
    """The JSON text of a result document (stable: same input, same bytes)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
