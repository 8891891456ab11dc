"""A small scenario harness for engine tests: profiles, a timeline of events, a horizon.

``run(journeys, profiles, timeline, start=..., horizon=...)`` builds an :class:`Engine` over the
in-memory stores and recording sinks, loads ``history`` (events dated before ``start``, which fill
the event store but trigger nothing), feeds the timeline in time order (firing every timer,
scheduled entry and deferred delivery due before each event, at its own time), runs to the horizon
and returns a :class:`Run`. ``Run.acts(customer)`` gives the customer's actions as compact tuples
with times to the minute in the customer's time zone, ready for exact comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeydsl import ir
from journeydsl.compiler import compile_file, compile_source
from journeydsl.runtime.engine import ALLOWED_LATENESS, STALE_AFTER, Engine, RetryPolicy
from journeydsl.runtime.events import coerce_event, event_id
from journeydsl.runtime.policies import Policies
from journeydsl.runtime.protocols import (
    DeliveryResult,
    EventStore,
    Message,
    Profile,
    ProfileStore,
    StateStore,
)
from journeydsl.runtime.records import InstanceRecord
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
HCM = "Asia/Ho_Chi_Minh"
CHANNELS = ("email", "sms", "zns", "push", "inapp")
Event = dict[str, Any]
Script = Callable[[Message], DeliveryResult]


@cache
def example(name: str) -> ir.Journey:
    """A compiled example journey (``examples/NAME.journey``)."""
    result = compile_file(EXAMPLES / f"{name}.journey")
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def compile_journey(text: str, file: str = "inline.journey") -> ir.Journey:
    """Compile DSL text against the example catalogs; fails the test on any error."""
    result = compile_source(text, file, base_dir=EXAMPLES)
    errors = [f"{d.code}: {d.message}" for d in result.diagnostics if d.severity == "error"]
    assert result.journey is not None, errors
    return result.journey


def local(text: str, tz: str = HCM) -> datetime:
    """``"2026-01-05 10:00"`` as an aware datetime in ``tz``."""
    return datetime.fromisoformat(text).replace(tzinfo=ZoneInfo(tz))


def profile(
    customer_id: str,
    *,
    app: bool = False,
    tz: str = HCM,
    consent: Mapping[str, bool] | None = None,
    no: Iterable[str] = (),
    **attributes: Any,
) -> Profile:
    """A profile; consent defaults to every channel, minus those in ``no``."""
    given = dict(consent) if consent is not None else dict.fromkeys(CHANNELS, True)
    for channel in no:
        given[channel] = False
    return Profile(customer_id, {"has_digital_app": app, **attributes}, given, tz)


def ev(customer_id: str, type_: str, at: datetime, **data: Any) -> Event:
    """An event in the DESIGN.md JSON contract."""
    return {"customer_id": customer_id, "type": type_, "at": at.isoformat(), "data": data}


def txn(
    customer_id: str,
    at: datetime,
    amount: int,
    merchant: str = "Shopee",
    category: str = "shopping",
) -> Event:
    """A VND card transaction."""
    return ev(
        customer_id,
        "transaction",
        at,
        amount=amount,
        currency="VND",
        merchant=merchant,
        category=category,
    )


def vnd(amount: int) -> dict[str, str]:
    """Money as action params carry it."""
    return {"amount": str(amount), "currency": "VND"}


@dataclass
class Run:
    """An engine, its clock, stores and sinks, and everything it did."""

    engine: Engine
    clock: SteppableClock
    events: EventStore
    profiles: ProfileStore
    state: StateStore
    channels: dict[str, RecordingChannel]
    tickets: RecordingTickets
    handlers: dict[str, RecordingActions]
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

    def history(self, events: Iterable[Event]) -> None:
        """Put past events straight into the event store (they trigger nothing)."""
        schemas: dict[str, Any] = {}
        for j in self.engine.versions.values():
            schemas.update(j.event_types)
        for e in events:
            self.events.append(event_id(e), coerce_event(e, schemas))

    def sorted_actions(self) -> list[dict[str, Any]]:
        """Every action, by time (stable)."""
        return sorted(self.actions, key=lambda a: a["at"])

    def acts(
        self, customer_id: str, journey: str | None = None, kinds: Sequence[str] | None = None
    ) -> list[tuple[Any, ...]]:
        """The customer's actions, by time, as compact tuples in their local time:
        send ``(t, "send", channel, template, params)``; ticket ``(t, "ticket", queue, priority,
        payload)``; reward/action ``(t, kind, name, params)``; suppressed ``(t, "suppressed",
        template, reason)``; update ``(t, "update", fields)``."""
        tz = ZoneInfo(self.profiles.get(customer_id).timezone)
        out: list[tuple[datetime, str, tuple[Any, ...]]] = []
        for a in self.actions:
            if a["customer_id"] != customer_id:
                continue
            if journey is not None and a["journey"] != journey:
                continue
            if kinds is not None and a["kind"] not in kinds:
                continue
            c = compact(a, tz)
            out.append((a["at"], repr(c), c))
        # Actions due at the same instant have no specified order: sort them by content.
        return [c for _, _, c in sorted(out, key=lambda x: (x[0], x[1]))]

    def outcomes(self, customer_id: str, journey: str | None = None) -> list[tuple[str, Any]]:
        """``(status, outcome)`` of each of the customer's instances, oldest first."""
        return [
            (i["status"], i["outcome"])
            for i in self.state.instances_of(customer_id)
            if journey is None or i["journey"] == journey
        ]

    def ended(self, customer_id: str, journey: str | None = None) -> list[tuple[Any, str]]:
        """``(outcome, local end time to the minute)`` of each ended instance, oldest first."""
        tz = ZoneInfo(self.profiles.get(customer_id).timezone)
        return [
            (i["outcome"], _minute(datetime.fromisoformat(ended), tz))
            for i in self.instances(customer_id, journey)
            if i["status"] == "ended" and (ended := i["ended_at"]) is not None
        ]

    def entered(self, customer_id: str, journey: str | None = None) -> list[str]:
        """Local entry times (to the minute) of the customer's instances, oldest first."""
        tz = ZoneInfo(self.profiles.get(customer_id).timezone)
        return [
            _minute(datetime.fromisoformat(i["entered_at"]), tz)
            for i in self.instances(customer_id, journey)
        ]

    def instances(self, customer_id: str, journey: str | None = None) -> list[InstanceRecord]:
        """The customer's instance records."""
        return [
            i
            for i in self.state.instances_of(customer_id)
            if journey is None or i["journey"] == journey
        ]


def _minute(t: datetime, tz: ZoneInfo) -> str:
    return t.astimezone(tz).strftime("%Y-%m-%d %H:%M")


def compact(a: Mapping[str, Any], tz: ZoneInfo) -> tuple[Any, ...]:
    """One action as a tuple (see :meth:`Run.acts`)."""
    t = a["at"]
    if isinstance(t, str):
        t = datetime.fromisoformat(t)
    when = _minute(t, tz)
    kind = a["kind"]
    if kind == "send":
        return (when, kind, a["channel"], a["template"], a.get("params", {}))
    if kind == "ticket":
        return (when, kind, a["queue"], a["priority"], a["payload"])
    if kind in ("reward", "action"):
        return (when, kind, a["name"], a["params"])
    if kind == "suppressed":
        return (when, kind, a.get("template"), a.get("reason"))
    rest = {k: v for k, v in a.items() if k not in ("at", "customer_id", "journey", "node", "kind")}
    return (when, kind, rest)


def build(
    journeys: Sequence[ir.Journey],
    profiles: Iterable[Profile],
    *,
    start: datetime,
    scripts: Mapping[str, Script] | None = None,
    handlers: Iterable[str] = ("annual_fee_waiver",),
    state: StateStore | None = None,
    events: EventStore | None = None,
    profile_store: ProfileStore | None = None,
    retry: RetryPolicy | None = None,
    policies: Policies | None = None,
    stale_after: timedelta | None = STALE_AFTER,
    allowed_lateness: timedelta | None = ALLOWED_LATENESS,
) -> Run:
    """An engine at ``start`` (under contact ``policies`` when given) over fresh (or given)
    stores."""
    scripts = scripts or {}
    channels = {c: RecordingChannel(c, scripts.get(c)) for c in CHANNELS}
    recorders = {name: RecordingActions() for name in handlers}
    actions: list[dict[str, Any]] = []
    clock = SteppableClock(start)
    ev_store: EventStore = events if events is not None else MemoryEventStore()
    p_store: ProfileStore = (
        profile_store if profile_store is not None else MemoryProfileStore(profiles)
    )
    st_store: StateStore = state if state is not None else MemoryStateStore()
    tickets = RecordingTickets()
    engine = Engine(
        list(journeys),
        events=ev_store,
        profiles=p_store,
        state=st_store,
        clock=clock,
        channels=channels,
        tickets=tickets,
        actions=dict(recorders),
        retry=retry,
        on_action=actions.append,
        policies=policies,
        stale_after=stale_after,
        allowed_lateness=allowed_lateness,
    )
    return Run(engine, clock, ev_store, p_store, st_store, channels, tickets, recorders, actions)


def run(
    journeys: Sequence[ir.Journey],
    profiles: Iterable[Profile],
    timeline: Iterable[Event] = (),
    *,
    start: datetime,
    horizon: datetime | None = None,
    history: Iterable[Event] = (),
    scripts: Mapping[str, Script] | None = None,
    handlers: Iterable[str] = ("annual_fee_waiver",),
    store: Any = None,
) -> Run:
    """Build, load history, feed the timeline, run to ``horizon`` (default ``start + 60d``).
    ``store`` replaces the in-memory stores with one object serving as all three."""
    if store is not None:  # one object for all three stores, e.g. a SQLiteStore
        for p in profiles:
            store.add(p)
        r = build(
            journeys,
            (),
            start=start,
            scripts=scripts,
            handlers=handlers,
            state=store,
            events=store,
            profile_store=store,
        )
    else:
        r = build(journeys, profiles, start=start, scripts=scripts, handlers=handlers)
    r.history(history)
    r.feed(timeline)
    r.advance(horizon or start + timedelta(days=60))
    return r
