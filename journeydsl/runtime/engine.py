"""The Engine: interprets compiled journeys per customer instance, over the host's stores.

Host calls: :meth:`Engine.ingest` (an event arrived), :meth:`Engine.tick` (time passed: fire due
timers, scheduled segment entries and deferred deliveries) and :meth:`Engine.enroll`.

Durability: each step of work — one event for one customer, one timer — ends in a single
:meth:`StateStore.commit` holding the instance states, their timers, the new outbox entries and the
processed-event marker. Effects are only ever handed to channels from the outbox, with an
idempotency key built from (journey, version, instance, node, visit). A crash anywhere therefore
re-runs at most the uncommitted step (which recomputes the same keys) or re-delivers an outbox
entry (which the channel deduplicates): no duplicate, nothing lost.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any, TypeVar
from urllib.parse import quote
from zoneinfo import ZoneInfo

import structlog

from journeydsl import ir
from journeydsl.expr.context import AggregateQuery, EventRecord
from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact
from journeydsl.money import Money
from journeydsl.runtime.codec import STATE_FORMAT, decode_map, encode_map, plain
from journeydsl.runtime.events import BadEvent, coerce_event, event_id, parse_event_json
from journeydsl.runtime.intake import SCOPED_MARKERS, event_text, missing_handlers, scoped_marker
from journeydsl.runtime.pii import masked
from journeydsl.runtime.policies.evaluator import Miss, PolicyEngine, Verdict
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import (
    ActionHandler,
    Channel,
    Clock,
    CommitHooks,
    Contact,
    ContactHistory,
    DeliveryResult,
    DeliveryStatus,
    EventStore,
    GroupCommit,
    Message,
    OutboxEntry,
    Profile,
    ProfileStore,
    Quarantine,
    StateStore,
    Ticket,
    TicketSink,
    is_network_error,
)
from journeydsl.zones import DEFAULT_TIMEZONE, zone

__all__ = ["Engine", "IngestResult", "RetryPolicy", "StoreError"]

_structlog = structlog.get_logger("journeydsl")
_LEVELS: dict[type, int] = {}


def _log_level() -> int:
    """The lowest level structlog emits now. A filtering wrapper class (structlog's default,
    and ``make_filtering_bound_logger``) says which; any other wrapper may emit anything."""
    wrapper = structlog.get_config()["wrapper_class"]
    level = _LEVELS.get(wrapper)
    if level is None:
        getter = getattr(wrapper, "get_effective_level", None)
        try:
            level = int(getter(None)) if callable(getter) else logging.NOTSET
        except Exception:  # a wrapper that needs a real instance to answer
            level = logging.NOTSET
        _LEVELS[wrapper] = level
    return level


class _Log:
    """The engine's structlog logger behind a cached level check.

    Filtered-out calls were about a tenth of a simulation's time: structlog's lazy proxy
    assembles a bound logger on every call, even when its level then drops the call. The level
    is read from structlog's configuration at the start of every host call (:func:`_host_call`),
    so a host that reconfigures logging between calls is obeyed. Hot paths also test
    :attr:`level` themselves, which skips building the keyword arguments too."""

    __slots__ = ("level",)

    def __init__(self) -> None:
        self.level = logging.NOTSET

    def refresh(self) -> None:
        """Read the level from structlog's configuration."""
        self.level = _log_level()

    def debug(self, event: str, **kw: Any) -> None:
        """Log at DEBUG."""
        if self.level <= logging.DEBUG:
            _structlog.debug(event, **{k: masked(v) for k, v in kw.items()})

    def info(self, event: str, **kw: Any) -> None:
        """Log at INFO."""
        if self.level <= logging.INFO:
            _structlog.info(event, **{k: masked(v) for k, v in kw.items()})

    def warning(self, event: str, **kw: Any) -> None:
        """Log at WARNING."""
        if self.level <= logging.WARNING:
            _structlog.warning(event, **{k: masked(v) for k, v in kw.items()})

    def error(self, event: str, **kw: Any) -> None:
        """Log at ERROR."""
        if self.level <= logging.ERROR:
            _structlog.error(event, **{k: masked(v) for k, v in kw.items()})


log = _Log()
_DEBUG = logging.DEBUG
_INFO = logging.INFO

#: Steps one instance may take without waiting before it is stopped as runaway (the compiler
#: rejects loops without waits; this guards hand-built IR).
MAX_STEPS = 10_000
#: Entries one instance's decision log keeps (later decisions are not recorded).
LOG_LIMIT = 1000
_TICK = timedelta(microseconds=1)
_END = "completed"
_FOREVER = datetime.max.replace(tzinfo=ZoneInfo("UTC"))
#: How often (in engine time) the contact history is pruned, and the margin kept beyond the
#: longest frequency cap's window.
PRUNE_EVERY = timedelta(days=1)
#: Outbox entries fetched at a time by a delivery round.
_BATCH = 500
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})
_NOBODY: frozenset[str] = frozenset()


def _typed_attributes(attributes: Mapping[str, Any], journey: ir.Journey) -> Mapping[str, Any]:
    """Profile values as the catalog types them: JSON numbers for money become Money, ISO text
    for timestamps and dates becomes datetime / date. Values that do not fit are left alone (the
    expression then fails and the decision log says why)."""
    changed: dict[str, Any] | None = None
    for name, t in journey.attribute_types.items():
        raw = attributes.get(name)
        if raw is None or isinstance(raw, bool):
            continue
        value = raw
        try:
            if t.kind == "money" and isinstance(raw, int | float | str | Decimal):
                value = Money(Decimal(str(raw)), t.currency or "")
            elif t.kind == "timestamp" and isinstance(raw, str):
                value = datetime.fromisoformat(raw)
            elif t.kind == "date" and isinstance(raw, str):
                value = date.fromisoformat(raw)
        except (ValueError, ArithmeticError):
            continue
        if value is not raw:
            changed = dict(attributes) if changed is None else changed
            changed[name] = value
    return attributes if changed is None else changed


_last_iso: tuple[datetime | None, str] = (None, "")


def _iso(t: datetime) -> str:
    """``t.isoformat()``, remembered for the last instant asked: one step of work writes the
    same ``now`` into several log entries and records. (The cache holds the very object, so
    an equal instant with another UTC offset is never given the wrong text.)"""
    global _last_iso
    last = _last_iso
    if last[0] is t:
        return last[1]
    text = t.isoformat()
    _last_iso = (t, text)
    return text


def bucket(*parts: str) -> int:
    """A stable 0-99 bucket (random splits, holdouts): the same inputs give the same bucket on
    every run, machine and Python version."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def _no_channel(channel: str) -> Miss:
    return Miss("channels", f"no {channel} channel configured")


class StoreError(Exception):
    """A store raised while an expression was being evaluated. Unlike an expression's own error
    (division by zero, a currency mismatch), it must not end the instance: the step is abandoned
    uncommitted and the original exception reaches the host, as a crash would."""

    def __init__(self, original: BaseException) -> None:
        super().__init__(repr(original))
        self.original = original


_F = TypeVar("_F", bound=Callable[..., Any])


def _host_call(method: _F) -> _F:
    """Host-facing methods re-raise a store's own exception, not the internal wrapper, and
    read the log level once (see :class:`_Log`)."""

    @functools.wraps(method)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        log.refresh()
        try:
            return method(*args, **kwargs)
        except StoreError as failure:
            raise failure.original from None

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff for transient channel failures."""

    base: timedelta = timedelta(minutes=1)
    cap: timedelta = timedelta(hours=1)
    max_attempts: int = 8

    def delay(self, attempts: int) -> timedelta:
        """The wait before attempt number ``attempts + 1``."""
        delay: timedelta = min(self.base * (2 ** max(attempts - 1, 0)), self.cap)
        return delay


@dataclass(slots=True)
class IngestResult:
    """What one :meth:`Engine.ingest` did."""

    event_id: str
    duplicate: bool = False
    quarantined: str | None = None
    entered: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


class _Ctx:
    """The evaluation context of one instance at one moment."""

    __slots__ = (
        "customer_id",
        "entered_at",
        "events",
        "journey_id",
        "journey_version",
        "now",
        "profile",
        "trigger",
        "tz",
        "variables",
        "windows",
    )

    events: EventStore
    now: datetime
    entered_at: datetime
    customer_id: str
    journey_id: str
    journey_version: int
    tz: tzinfo
    variables: Mapping[str, Any]
    profile: Mapping[str, Any]
    trigger: Mapping[str, Any]

    def __init__(
        self,
        events: EventStore,
        now: datetime,
        inst: dict[str, Any],
        journey: ir.Journey,
        profile: Profile,
        variables: dict[str, Any],
        trigger: Mapping[str, Any],
    ) -> None:
        self.events = events
        self.now = now
        self.entered_at = datetime.fromisoformat(inst["entered_at"])
        self.customer_id = inst["customer_id"]
        self.journey_id = journey.id
        self.journey_version = journey.version
        self.tz = zone(profile.timezone or journey.timezone)
        self.variables = variables
        self.profile = _typed_attributes(profile.attributes, journey)
        self.trigger = trigger
        #: While a waited-for condition is evaluated: the sliding windows it read.
        self.windows: list[tuple[AggregateQuery, datetime, datetime]] | None = None

    def aggregate(self, query: AggregateQuery, start: datetime | None, end: datetime | None) -> Any:
        if query.sliding and self.windows is not None and start is not None and end is not None:
            self.windows.append((query, start, end))
        try:
            return self.events.aggregate(self.customer_id, query, start, end, self)
        except Exception as exc:
            raise StoreError(exc) from exc

    def last_time(self, event_type: str) -> datetime | None:
        try:
            return self.events.last_time(self.customer_id, event_type, self.now)
        except Exception as exc:
            raise StoreError(exc) from exc

    def watch(self, condition: ir.CExpr) -> tuple[bool, datetime | None]:
        """Evaluate a waited-for ``condition``, and when it is false, the earliest instant at
        which time alone could make it true: an event leaving one of its sliding windows."""
        self.windows = []
        try:
            value = bool(condition.fn(self, None))
            windows = self.windows
        finally:
            self.windows = None
        if value:
            return True, None
        soonest: datetime | None = None
        for query, start, end in windows:
            try:
                found = self.events.events(self.customer_id, query.event, start, end)
            except Exception as exc:
                raise StoreError(exc) from exc
            for e in found:  # oldest first: the first match is the first to leave
                if query.where is None or query.where(self, e):
                    leaves = e.at + (end - start) + _TICK
                    if leaves > self.now and (soonest is None or leaves < soonest):
                        soonest = leaves
                    break
        return False, soonest


class Engine:
    """Runs compiled journeys for every customer, durably, over the host's implementations."""

    def __init__(
        self,
        journeys: Sequence[ir.Journey],
        *,
        events: EventStore,
        profiles: ProfileStore,
        state: StateStore,
        clock: Clock,
        channels: Mapping[str, Channel] | None = None,
        tickets: TicketSink | None = None,
        actions: Mapping[str, ActionHandler] | None = None,
        retry: RetryPolicy | None = None,
        on_action: Callable[[dict[str, Any]], None] | None = None,
        on_quarantine: Callable[[Mapping[str, Any], str], None] | None = None,
        policies: Policies | PolicyEngine | None = None,
        only: bool = False,
        unhandled: str = "refuse",
    ) -> None:
        """Build an engine over the host's stores and handlers.

        Every channel a journey's sends name (first choice or fallback), every action and
        reward, and tickets (a ticket sink) must have a handler: otherwise ``ValueError`` lists
        what is missing. ``unhandled="withhold"`` declares the other choice instead: a send
        falls back past a channel without a gateway, and a ticket or action without a handler
        is withheld with that reason; :meth:`explain` lists what is unhandled.

        ``only=True`` runs these journeys as a part of those the state store holds: the
        instances, timers and outbox entries of the others are left as they are, and an event
        is marked processed for these journeys only, so the others take it when they run (see
        docs/embedding.md, "Running some of the journeys")."""
        missing = missing_handlers(
            journeys, set(channels or {}), tickets is not None, set(actions or {})
        )
        if unhandled not in ("refuse", "withhold"):
            raise ValueError(f"unhandled must be 'refuse' or 'withhold', not {unhandled!r}")
        #: What the journeys use that has no handler (empty unless ``unhandled="withhold"``).
        self.unhandled: list[str] = missing if unhandled == "withhold" else []
        if missing and unhandled == "refuse":
            raise ValueError(
                "no handler registered for what these journeys use: "
                + "; ".join(missing)
                + " (pass them in channels=, tickets= and actions=)"
            )
        self.versions: dict[tuple[str, int], ir.Journey] = {}
        self.latest: dict[str, ir.Journey] = {}
        for j in journeys:
            self.versions[(j.id, j.version)] = j
            if j.id not in self.latest or j.version > self.latest[j.id].version:
                self.latest[j.id] = j
        self.schemas: dict[str, Mapping[str, Type]] = {}
        for j in journeys:
            for name, fields in j.event_types.items():
                self.schemas.setdefault(name, fields)
        self.events = events
        self.profiles = profiles
        self.state = state
        self.clock = clock
        self.channels = dict(channels or {})
        self.tickets = tickets
        self.actions = dict(actions or {})
        self.retry = retry or RetryPolicy()
        self.on_action = on_action
        self.on_quarantine = on_quarantine
        self.quarantine: list[tuple[Mapping[str, Any], str]] = []
        # One transaction per step of work where the store can group commits (GroupCommit).
        self._group: Callable[[], contextlib.AbstractContextManager[Any]] = (
            state.step if isinstance(state, GroupCommit) else contextlib.nullcontext
        )
        # Inside a transaction the host holds open (a batch), deliveries wait for its commit.
        self._after_commit: Callable[[Callable[[], None]], bool] | None = (
            state.after_commit if isinstance(state, CommitHooks) else None
        )
        self._in_transaction: Callable[[], bool] | None = (
            state.in_transaction if isinstance(state, CommitHooks) else None
        )
        self._init_policies(policies)
        self._quarantine: Quarantine | None = state if isinstance(state, Quarantine) else None
        #: Customers that had an event but no profile (every message to them is withheld).
        self.unprofiled: set[str] = set()
        # A run of some of the store's journeys: markers, timers and deliveries are scoped.
        self.only = only
        self._scope: frozenset[tuple[str, int]] | None = frozenset(self.versions) if only else None
        if only and state.get_meta(SCOPED_MARKERS) != "1":
            state.commit([], [], meta={SCOPED_MARKERS: "1"})
        # Whether the store ever ran some journeys only (then look for per-journey markers);
        # None until the first event asks.
        self._scoped: bool | None = True if only else None
        # The store's timers and outbox as this engine sees them: all, or its journeys' only
        # (an argument only stores that can run some journeys are asked for).
        self._scoped_to: dict[str, frozenset[tuple[str, int]]] = (
            {"journeys": self._scope} if self._scope is not None else {}
        )

    # ------------------------------------------------------------------ host API

    @_host_call
    def ingest(
        self, raw: Mapping[str, Any] | EventRecord | str | bytes, event_key: str | None = None
    ) -> IngestResult:
        """Take one event (the JSON contract, its JSON text, read with exact numbers, or an
        :class:`EventRecord`) at the clock's now.

        A bad event is quarantined and reported, never raised: kept in the state store when it
        keeps a quarantine (:class:`~journeydsl.runtime.protocols.Quarantine`), and not marked
        processed, so the same id with a valid payload is taken later. An event already
        processed (same id) is skipped, so replaying a stream after a crash is safe.
        """
        if isinstance(raw, str | bytes):  # JSON text: numbers read exactly, bad text quarantined
            raw = parse_event_json(raw)
        if isinstance(raw, EventRecord):
            as_json = {
                "customer_id": raw.customer_id,
                "type": raw.type,
                "at": raw.at.isoformat(),
                "data": plain(raw.data),
            }
        else:
            as_json = dict(raw)
        eid = event_key or event_id(as_json)
        result = IngestResult(eid)
        if self.state.processed(eid):
            result.duplicate = True
            return result
        if self._scoped is None:
            self._scoped = self.state.get_meta(SCOPED_MARKERS) == "1"
        done = self._done_for(eid) if self._scoped else _NOBODY
        if done and done.issuperset(self.latest):
            result.duplicate = True
            return result
        try:
            ev = raw if isinstance(raw, EventRecord) else coerce_event(raw, self.schemas)
        except BadEvent as exc:
            self._quarantined(eid, as_json, str(exc), result)
            return result
        with self._group():  # the event, the instances it moved and its marker: one commit
            now = self._take(ev, eid, result, done)
            if self._quarantine is not None:
                self._quarantine.release(eid)
        self._hand_out(now)
        return result

    def _quarantined(
        self, eid: str, as_json: Mapping[str, Any], reason: str, result: IngestResult
    ) -> None:
        """Report a bad event, and keep it where the store keeps a quarantine (not marked
        processed: a corrected event with the same id is taken)."""
        result.quarantined = reason
        self.quarantine.append((as_json, reason))
        log.warning("quarantine", reason=reason, event_type=as_json.get("type"))
        if self.on_quarantine is not None:
            self.on_quarantine(as_json, reason)
        if self._quarantine is not None:
            self._quarantine.quarantine(eid, event_text(as_json), reason, datetime.now(UTC))

    def _done_for(self, eid: str) -> frozenset[str]:
        """The journeys (of this engine) that took ``eid`` in a run of only some journeys."""
        return frozenset(j for j in self.latest if self.state.processed(scoped_marker(eid, j)))

    @_host_call
    def replay_quarantined(self, event_id: str | None = None) -> list[IngestResult]:
        """Ingest the quarantined events (or the one with ``event_id``) again, after the
        catalog or the data was fixed: those now valid are processed and leave the quarantine;
        the others stay, counted once more. Each is taken at the clock's now (its own time if
        later), as a late event."""
        if self._quarantine is None:
            raise TypeError("the state store keeps no quarantine (see Quarantine)")
        results = []
        for found in self._quarantine.quarantined(event_id):
            try:
                raw = loads_exact(found.event)
            except (ValueError, RecursionError):
                raw = None
            if not isinstance(raw, dict):
                result = IngestResult(found.event_id)
                self._quarantined(found.event_id, {"raw": found.event}, found.reason, result)
                results.append(result)
                continue
            results.append(self.ingest(raw, found.event_id))
        return results

    def _take(
        self, ev: EventRecord, eid: str, result: IngestResult, done: frozenset[str] = frozenset()
    ) -> datetime:
        """Store the event, move the instances it concerns (of the journeys that did not take
        it yet: ``done`` took it), commit; returns the step's now."""
        self.events.append(eid, ev)
        now = max(self.clock.now(), ev.at)
        records: list[dict[str, Any]] = []
        outbox: list[OutboxEntry] = []
        profile = self.profiles.get(ev.customer_id)
        if not profile.known and ev.customer_id not in self.unprofiled:
            self.unprofiled.add(ev.customer_id)
            log.warning("no_profile", customer=ev.customer_id, event_type=ev.type)
        # Running instances first: goals, then waits that this event (or its effect on a
        # condition) satisfies.
        for inst in self.state.instances_of(ev.customer_id):
            if inst["status"] == "ended" or inst["journey"] in done:
                continue
            journey = self.versions.get((inst["journey"], inst["version"]))
            if journey is None:
                continue
            if self._goal_hit(journey, inst, ev, now, profile):
                records.append(inst)
                continue
            if inst["status"] != "waiting":
                continue
            timer = inst["due"]
            if not self._wakes(journey, inst, ev, now, profile):
                if inst["due"] != timer:  # a condition wait moved its re-check
                    records.append(inst)
                continue
            node = journey.nodes[inst["wait"]["node"]]
            assert isinstance(node, ir.WaitFor)
            self._log(inst, now, node.id, "woke", event=ev.type)
            inst["wakes"] = inst.get("wakes", 0) + 1
            log.info(
                "wake",
                journey=journey.id,
                version=journey.version,
                customer=ev.customer_id,
                node=node.id,
                event_type=ev.type,
            )
            self._run(journey, inst, node.then, now, profile, outbox)
            records.append(inst)
            result.resumed.append(inst["id"])
        # New entries.
        for journey in self.latest.values():
            entry = journey.entry
            if entry.kind != "event" or entry.event != ev.type or journey.id in done:
                continue
            new = self._enter(journey, ev.customer_id, now, profile, ev)
            if new is not None:
                self._run(journey, new, journey.start, now, profile, outbox)
                records.append(new)
                result.entered.append(new["id"])
        if not self.only:
            self.state.commit(records, outbox, processed_event=eid)
            return now
        # A run of some journeys marks the event for each of them (in the step's transaction).
        markers = [scoped_marker(eid, j) for j in sorted(self.latest)]
        self.state.commit(records, outbox, processed_event=markers[0])
        for marker in markers[1:]:
            self.state.commit([], [], processed_event=marker)
        return now

    @_host_call
    def enroll(
        self, customer_id: str, journey_id: str, data: Mapping[str, Any] | None = None
    ) -> str | None:
        """Enter ``customer_id`` into a journey from code; None when re-entry rules refuse."""
        journey = self.latest[journey_id]
        now = self.clock.now()
        profile = self.profiles.get(customer_id)
        trigger = EventRecord(customer_id, "enroll", now, dict(data or {}))
        inst = self._enter(journey, customer_id, now, profile, trigger)
        if inst is None:
            return None
        outbox: list[OutboxEntry] = []
        self._run(journey, inst, journey.start, now, profile, outbox)
        self.state.commit([inst], outbox)
        self._hand_out(now)
        return str(inst["id"])

    @_host_call
    def tick(self, now: datetime | None = None) -> int:
        """Advance to ``now``: fire due timers and scheduled entries, deliver due messages.
        Returns how many instances moved."""
        now = now or self.clock.now()
        with self._group():  # every timer due now: one commit, before anything is delivered
            moved = self._fire(now) + self._segments(now)
            self._prune(now)
        self._hand_out(now)
        return moved

    def _fire(self, now: datetime) -> int:
        """Move every instance whose timer is due at ``now``; returns how many moved."""
        moved = 0
        while True:
            due = self.state.due(now, 500, **self._scoped_to)
            if not due:
                break
            for iid in due:
                inst = self.state.instance(iid)
                if inst is None or inst["status"] != "waiting" or inst.get("due") is None:
                    continue
                when = datetime.fromisoformat(inst["due"])
                found = self.versions.get((inst["journey"], inst["version"]))
                if found is None:
                    # The engine was not given this version: leave the instance waiting (it is
                    # durable) and look again in an hour, without holding up anyone else.
                    log.error(
                        "unknown_version",
                        journey=inst["journey"],
                        version=inst["version"],
                        customer=inst["customer_id"],
                    )
                    self._log(
                        inst,
                        now,
                        inst["wait"]["node"],
                        "error",
                        reason=f"version {inst['version']} is not loaded; retry in 1h",
                    )
                    inst["due"] = _iso(now + timedelta(hours=1))
                    self.state.commit([inst], [])
                    continue
                journey = found
                profile = self.profiles.get(inst["customer_id"])
                outbox: list[OutboxEntry] = []
                node = journey.nodes[inst["wait"]["node"]]
                if isinstance(node, ir.WaitFor) and inst["wait"].get("recheck"):
                    self._recheck(journey, inst, node, when, profile, outbox)
                    self.state.commit([inst], outbox)
                    moved += 1
                    continue
                self._log(inst, when, node.id, "timer")
                log.info(
                    "wake",
                    journey=journey.id,
                    version=journey.version,
                    customer=inst["customer_id"],
                    node=node.id,
                    timer=inst["due"],
                )
                target = node.on_timeout if isinstance(node, ir.WaitFor) else node.next  # type: ignore[attr-defined]
                self._run(journey, inst, target, when, profile, outbox)
                self.state.commit([inst], outbox)
                moved += 1
        return moved

    def next_wakeup(self) -> datetime | None:
        """The earliest time :meth:`tick` has work: a timer, a scheduled entry or a delivery.

        Inside a host's transaction (a batch) deliveries wait for its commit, so the outbox is
        not counted then: a loop that ticks while this is due ends inside a batch too."""
        scope = self._scoped_to
        times = [t for t in (self.state.next_due(**scope), self._next_segment_time()) if t]
        if self._in_transaction is None or not self._in_transaction():
            pending = self.state.pending_outbox(_FOREVER, 1, **scope)
            if pending:
                times.append(pending[0].not_before)
        return min(times) if times else None

    # ------------------------------------------------------------------ entry

    def _key(
        self,
        journey: ir.Journey,
        customer_id: str,
        ctx_inst: dict[str, Any],
        ev: EventRecord,
        profile: Profile,
        now: datetime,
    ) -> str:
        if journey.entry.key is None:
            return customer_id
        ctx = _Ctx(self.events, now, ctx_inst, journey, profile, {}, {**ev.data, "at": ev.at})
        return str(journey.entry.key.fn(ctx, ev))

    def _enter(
        self,
        journey: ir.Journey,
        customer_id: str,
        now: datetime,
        profile: Profile,
        trigger: EventRecord,
    ) -> dict[str, Any] | None:
        probe = {"entered_at": _iso(now), "customer_id": customer_id}
        tdata = {**trigger.data, "at": trigger.at}
        entry = journey.entry
        if entry.where is not None:
            ctx = _Ctx(self.events, now, probe, journey, profile, {}, tdata)
            if not entry.where.fn(ctx, trigger):
                return None
        key = self._key(journey, customer_id, probe, trigger, profile, now)
        previous = [
            i
            for i in self.state.instances_of(customer_id)
            if i["journey"] == journey.id and i["key"] == key
        ]
        if any(i["status"] != "ended" for i in previous):
            return None  # one running instance per key, whatever the re-entry rule
        if previous:
            if entry.reentry == "once":
                return None
            if entry.reentry == "after" and entry.reentry_after is not None:
                last = max(datetime.fromisoformat(i["entered_at"]) for i in previous)
                if now < last + entry.reentry_after:
                    return None
        # Instances are a customer's: a key of the journey's own scopes them within the customer
        # (the id ends in "#key", which an id of the default key, ending in its number, never
        # does), so two customers never share an instance or an effect key.
        n = len(previous) + 1
        iid = (
            f"{journey.id}/{key}/{n}"
            if journey.entry.key is None
            else f"{journey.id}/{customer_id}/{n}#{quote(key, safe='')}"
        )
        inst: dict[str, Any] = {
            "format": STATE_FORMAT,
            "id": iid,
            "journey": journey.id,
            "version": journey.version,
            "customer_id": customer_id,
            "key": key,
            "status": "active",
            "node": journey.start,
            "wait": None,
            "due": None,
            "entered_at": _iso(now),
            "ended_at": None,
            "outcome": None,
            "holdout": False,
            "vars": {},
            "trigger": encode_map(tdata),
            "visits": {},
            "log": [],
        }
        log.info("enter", journey=journey.id, version=journey.version, customer=customer_id)
        self._log(inst, now, journey.start or "", "enter", trigger=trigger.type)
        return inst

    # ------------------------------------------------------------------ segments

    def _segment_journeys(self) -> list[ir.Journey]:
        return [j for j in self.latest.values() if j.entry.kind == "segment" and j.entry.at]

    def _next_segment_time(self) -> datetime | None:
        best: datetime | None = None
        for journey in self._segment_journeys():
            for zone_name in self._zones(journey):
                t = self._segment_due(journey, zone_name)
                if best is None or t < best:
                    best = t
        return best

    def _zones(self, journey: ir.Journey) -> set[str]:
        """The time zones the journey's customers live in (a profile without one is in the
        journey's)."""
        zones = getattr(self.profiles, "timezones", None)
        if callable(zones):
            found = set(zones())
        else:
            found = {self.profiles.get(c).timezone for c in self.profiles.customers()}
        return {z or journey.timezone for z in found}

    def _segment_due(self, journey: ir.Journey, zone_name: str) -> datetime:
        """The next scheduled evaluation of ``journey``'s segment in one time zone."""
        tz = zone(zone_name)
        at = journey.entry.at or time(9, 0)
        last = self.state.get_meta(f"segment:{journey.id}:{zone_name}")
        if last is None:
            return _next_local(self.clock.now(), at, tz)
        start = datetime.fromisoformat(last).date() + timedelta(days=1)
        return datetime.combine(start, at, tz)

    def _segments(self, now: datetime) -> int:
        moved = 0
        for journey in self._segment_journeys():
            assert journey.entry.condition is not None
            for zone_name in sorted(self._zones(journey)):
                while (when := self._segment_due(journey, zone_name)) <= now:
                    moved += self._evaluate_segment(journey, zone_name, when)
        return moved

    def _evaluate_segment(self, journey: ir.Journey, zone_name: str, when: datetime) -> int:
        cond = journey.entry.condition
        assert cond is not None
        entered = 0
        records: list[dict[str, Any]] = []
        outbox: list[OutboxEntry] = []
        for customer in sorted(self.profiles.customers()):
            profile = self.profiles.get(customer)
            if (profile.timezone or journey.timezone) != zone_name:
                continue
            probe = {"entered_at": _iso(when), "customer_id": customer}
            ctx = _Ctx(self.events, when, probe, journey, profile, {}, {})
            if not cond.fn(ctx, None):
                continue
            trigger = EventRecord(customer, "segment", when, {})
            inst = self._enter(journey, customer, when, profile, trigger)
            if inst is not None:
                self._run(journey, inst, journey.start, when, profile, outbox)
                records.append(inst)
                entered += 1
        meta = {f"segment:{journey.id}:{zone_name}": when.isoformat()}
        self.state.commit(records, outbox, meta=meta)
        return entered

    # ------------------------------------------------------------------ goals and waits

    def _ctx(
        self, journey: ir.Journey, inst: dict[str, Any], now: datetime, profile: Profile
    ) -> _Ctx:
        return _Ctx(
            self.events,
            now,
            inst,
            journey,
            profile,
            decode_map(inst["vars"]),
            decode_map(inst["trigger"]),
        )

    def _goal_hit(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        ev: EventRecord,
        now: datetime,
        profile: Profile,
    ) -> bool:
        ctx: _Ctx | None = None
        for goal in journey.goals:
            if goal.event is not None and goal.event != ev.type:
                continue  # another event's goal: no need to build a context
            if ctx is None:
                ctx = self._ctx(journey, inst, now, profile)
            if not _happened(goal.event, goal.where, goal.condition, ctx, ev):
                continue
            self._log(inst, now, "goal", "goal", outcome=goal.outcome)
            inst["wakes"] = inst.get("wakes", 0) + 1
            self._end(inst, journey, goal.outcome, now)
            return True
        return False

    def _wakes(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        ev: EventRecord,
        now: datetime,
        profile: Profile,
    ) -> bool:
        node = journey.nodes.get(inst["wait"]["node"])
        if not isinstance(node, ir.WaitFor):
            return False
        if node.event is not None and node.event != ev.type:
            return False  # not the awaited event: no need to build a context
        ctx = self._ctx(journey, inst, now, profile)
        if node.event is None and node.condition is not None:
            met, recheck = ctx.watch(node.condition)
            if not met:  # the event may have moved the instant time alone could turn it true
                wait = inst["wait"]
                timeout = wait.get("timeout") if wait.get("recheck") else inst["due"]
                due = datetime.fromisoformat(timeout) if timeout else None
                self._wait(inst, node.id, "condition", due, recheck)
            return met
        return _happened(node.event, node.where, node.condition, ctx, ev)

    # ------------------------------------------------------------------ interpreter

    def _log(self, inst: dict[str, Any], at: datetime, node: str, what: str, **detail: Any) -> None:
        entries = inst["log"]
        if len(entries) < LOG_LIMIT:
            entry = {"at": _iso(at), "node": node, "what": what}
            for k, v in detail.items():
                entry[k] = v if type(v) in _JSON_SCALARS else plain(v)
            entries.append(entry)

    def _end(self, inst: dict[str, Any], journey: ir.Journey, outcome: str, now: datetime) -> None:
        inst.update(
            status="ended", outcome=outcome, ended_at=_iso(now), node=None, wait=None, due=None
        )
        if log.level <= _INFO:
            log.info(
                "exit",
                journey=journey.id,
                version=journey.version,
                customer=inst["customer_id"],
                outcome=outcome,
            )

    def _effect_key(self, journey: ir.Journey, inst: dict[str, Any], node: ir.Node) -> str:
        visit = inst["visits"].get(node.id, 0)
        return f"{journey.id}:{journey.version}:{inst['id']}:{node.id}:{visit}"

    def _run(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node_id: str | None,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> None:
        """Interpret from ``node_id`` until the instance waits or ends."""
        variables = decode_map(inst["vars"])
        ctx = _Ctx(self.events, now, inst, journey, profile, variables, decode_map(inst["trigger"]))
        inst.update(status="active", wait=None, due=None)
        nodes = journey.nodes
        visits = inst["visits"]
        debug = log.level <= _DEBUG
        steps = 0
        try:
            while node_id is not None:
                steps += 1
                if steps > MAX_STEPS:
                    self._log(inst, now, node_id, "error", reason="too many steps without a wait")
                    self._end(inst, journey, "error", now)
                    return
                node = nodes[node_id]
                if debug:
                    log.debug(
                        "step",
                        journey=journey.id,
                        version=journey.version,
                        customer=inst["customer_id"],
                        node=node.id,
                    )
                inst["node"] = node.id
                step = _STEPS.get(type(node)) or _stepper(type(node))
                node_id = step(self, journey, inst, node, ctx, variables, outbox)
                visits[node.id] = visits.get(node.id, 0) + 1
                if inst["status"] != "active":
                    return
            self._end(inst, journey, _END, now)
        except StoreError as failure:
            raise failure.original from None
        except Exception as exc:  # a failing expression must not stop the engine
            self._log(inst, now, inst.get("node") or "", "error", reason=repr(exc))
            log.error("error", journey=journey.id, customer=inst["customer_id"], error=repr(exc))
            self._end(inst, journey, "error", now)
        finally:
            inst["vars"] = encode_map(variables)

    # One method per kind of node, found through _STEPS (a dict lookup on the node's class, not
    # a chain of isinstance tests). Each interprets one node and returns the next node's id, or
    # None when the instance now waits or has ended.

    def _step_send(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Send,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        now = ctx.now
        params = {k: e.fn(ctx, None) for k, e in node.params}
        fields = {
            "template": node.template,
            "category": node.category,
            "chain": [node.channel, *node.fallback],
            "index": 0,
            "params": encode_map(params),
        }
        extra = {
            "holdout": inst["holdout"],
            "entered_at": inst["entered_at"],
            "wakes": inst.get("wakes", 0),
        }
        self._effect(journey, inst, node, "send", now, outbox, fields, extra)
        self._log(inst, now, node.id, "send", channel=node.channel, template=node.template)
        return node.next

    def _effect(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Node,
        kind: str,
        now: datetime,
        outbox: list[OutboxEntry],
        fields: dict[str, Any],
        extra: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Put one effect in the outbox under its idempotency key; returns its payload."""
        payload = {
            "instance": inst["id"],
            "journey": journey.id,
            "version": journey.version,
            "node": node.id,
            **fields,
            "created": _iso(now),
            **(extra or {}),
        }
        key = self._effect_key(journey, inst, node)
        outbox.append(OutboxEntry(key, kind, inst["customer_id"], payload, now))
        return payload

    def _step_ticket(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Ticket,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        now = ctx.now
        fields = {
            "queue": node.queue,
            "priority": node.priority.fn(ctx, None),
            "payload": encode_map({k: e.fn(ctx, None) for k, e in node.payload}),
        }
        payload = self._effect(journey, inst, node, "ticket", now, outbox, fields)
        self._log(inst, now, node.id, "ticket", queue=node.queue, priority=payload["priority"])
        return node.next

    def _step_action(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Action,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        now = ctx.now
        fields = {
            "action": node.action,
            "name": node.name,
            "params": encode_map({k: e.fn(ctx, None) for k, e in node.params}),
        }
        self._effect(journey, inst, node, "action", now, outbox, fields)
        self._log(inst, now, node.id, node.action, name=node.name)
        return node.next

    def _step_update(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Update,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        value = node.value.fn(ctx, None)
        try:
            self.profiles.update(inst["customer_id"], node.attribute, value)
        except Exception as exc:
            raise StoreError(exc) from exc
        self._record(ctx.now, inst, node.id, "update", attribute=node.attribute, value=plain(value))
        return node.next

    def _step_tag(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Tag,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        try:
            self.profiles.tag(inst["customer_id"], node.tag, node.remove)
        except Exception as exc:
            raise StoreError(exc) from exc
        self._record(ctx.now, inst, node.id, "update", tag=node.tag, remove=node.remove)
        return node.next

    def _step_set(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Set,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        variables[node.var] = node.value.fn(ctx, None)
        return node.next

    def _step_wait(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Wait,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        now = ctx.now
        value = node.value.fn(ctx, None)
        if node.mode == "duration":
            due = now + value
        elif node.mode == "until":
            due = value
        else:
            due = _next_local(now, value, ctx.tz)
        if due <= now:
            self._log(inst, now, node.id, "wait", due=due, passed=True)
            return node.next
        self._wait(inst, node.id, "timer", due)
        self._log(inst, now, node.id, "wait", due=due)
        return None

    def _step_wait_for(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.WaitFor,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        now = ctx.now
        recheck: datetime | None = None
        if node.condition is not None:
            met, recheck = ctx.watch(node.condition)
            if met:
                source = node.condition.source
                self._log(inst, now, node.id, "condition", value=True, source=source)
                return node.then
        due: datetime | None = None
        if node.timeout is not None:
            t = node.timeout.fn(ctx, None)
            due = now + t if node.timeout_mode == "within" else t
            if due is not None and due <= now:
                self._log(inst, now, node.id, "timeout", passed=True)
                return node.on_timeout
        self._wait(inst, node.id, "event" if node.event else "condition", due, recheck)
        self._log(inst, now, node.id, "wait_for", event=node.event, due=due)
        return None

    def _step_branch(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Branch,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        value = bool(node.cond.fn(ctx, None))
        self._log(inst, ctx.now, node.id, "if", source=node.cond.source, value=value)
        return node.then if value else node.otherwise

    def _step_switch(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Switch,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        subject = node.subject.fn(ctx, None)
        for values, target in node.cases:
            if any(v.fn(ctx, None) == subject for v in values):
                self._log(inst, ctx.now, node.id, "switch", value=subject)
                return target
        self._log(inst, ctx.now, node.id, "switch", value=subject, case="else")
        return node.otherwise

    def _step_split(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Split,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        b = bucket(journey.id, node.id, inst["customer_id"])
        upto = 0
        for weight, target in node.arms:
            upto += weight
            if b < upto:
                self._log(inst, ctx.now, node.id, "split", bucket=b)
                return target
        inst["holdout"] = True
        self._log(inst, ctx.now, node.id, "split", bucket=b, holdout=True)
        return node.holdout[1] if node.holdout else None

    def _step_repeat_start(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.RepeatStart,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        variables[node.counter] = 1
        return node.next

    def _step_repeat_check(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.RepeatCheck,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        n = variables.get(node.counter, 1)
        if n > node.max:
            self._log(inst, ctx.now, node.id, "repeat_done", rounds=node.max)
            return node.exit
        if node.until is not None and node.until.fn(ctx, None):
            self._log(inst, ctx.now, node.id, "until", source=node.until.source, value=True)
            return node.exit
        return node.body

    def _step_repeat_next(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.RepeatNext,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        variables[node.counter] = variables.get(node.counter, 1) + 1
        return node.next

    def _step_exit(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.Exit,
        ctx: _Ctx,
        variables: dict[str, Any],
        outbox: list[OutboxEntry],
    ) -> str | None:
        self._end(inst, journey, node.outcome, ctx.now)
        return None

    def _wait(
        self,
        inst: dict[str, Any],
        node_id: str,
        kind: str,
        due: datetime | None,
        recheck: datetime | None = None,
    ) -> None:
        """Park the instance at ``node_id`` until ``due`` (its timeout, or None), or until
        ``recheck`` when that comes first: the instant a waited-for condition may turn true."""
        if log.level <= _DEBUG:
            log.debug(
                "wait",
                journey=inst["journey"],
                version=inst["version"],
                customer=inst["customer_id"],
                node=node_id,
                until=_iso(due) if due else None,
            )
        wait: dict[str, Any] = {"node": node_id, "kind": kind}
        timer = due
        if recheck is not None and (due is None or recheck < due):
            wait.update(recheck=True, timeout=_iso(due) if due else None)
            timer = recheck
        inst.update(status="waiting", wait=wait, due=_iso(timer) if timer else None)

    def _recheck(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.WaitFor,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> None:
        """A condition wait's re-check timer fired: go on when the condition now holds, else
        wait again (keeping the original timeout) until the next instant it may change."""
        assert node.condition is not None
        ctx = self._ctx(journey, inst, now, profile)
        met, recheck = ctx.watch(node.condition)
        if met:
            self._log(inst, now, node.id, "condition", value=True, source=node.condition.source)
            inst["wakes"] = inst.get("wakes", 0) + 1
            self._run(journey, inst, node.then, now, profile, outbox)
            return
        timeout = inst["wait"].get("timeout")
        due = datetime.fromisoformat(timeout) if timeout else None
        self._wait(inst, node.id, "condition", due, recheck)

    # ------------------------------------------------------------------ delivery

    def _record(
        self, at: datetime, inst: dict[str, Any], node: str, kind: str, **fields: Any
    ) -> None:
        if self.on_action is not None:
            self.on_action(
                {
                    "at": at,
                    "customer_id": inst["customer_id"],
                    "journey": inst["journey"],
                    "node": node,
                    "kind": kind,
                    **fields,
                }
            )

    @_host_call
    def deliver(self, now: datetime | None = None) -> int:
        """Hand due outbox entries to channels, the ticket sink and action handlers (inside a
        transaction the host holds open, once it has committed; then 0 is returned)."""
        return self._hand_out(now or self.clock.now())

    def _hand_out(self, now: datetime) -> int:
        """Deliver what is due at ``now`` once the state that made it is durable: at once, or,
        while the host holds a transaction open (a batch), when it commits."""
        if self._after_commit is not None and self._after_commit(
            functools.partial(self._deliver_committed, now)
        ):
            return 0
        return self._deliver(now)

    @_host_call
    def _deliver_committed(self, now: datetime) -> None:
        """The deliveries of a step, run by the store once the host's transaction committed."""
        self._deliver(now)

    def _deliver(self, now: datetime) -> int:
        done = 0
        while True:
            batch = self.state.pending_outbox(now, _BATCH, **self._scoped_to)
            if not batch:
                return done
            progressed = False
            later = True  # every entry of the batch is settled, or waits for a later time
            for entry in batch:
                before = (
                    entry.status,
                    entry.not_before,
                    entry.attempts,
                    entry.payload.get("index"),
                )
                self._deliver_one(entry, now)
                self._save_delivery(entry)
                after = (entry.status, entry.not_before, entry.attempts, entry.payload.get("index"))
                progressed = progressed or before != after
                done += entry.status != "pending"
                later = later and (entry.status != "pending" or entry.not_before > now)
            if not progressed or (later and len(batch) < _BATCH):
                return done  # (a short batch that all moved on leaves nothing due now)

    def _deliver_one(self, entry: OutboxEntry, now: datetime) -> None:
        p = entry.payload
        if entry.kind == "send":
            self._deliver_send(entry, now)
            return
        if entry.kind == "ticket":
            ticket = Ticket(
                entry.key,
                entry.customer_id,
                p["queue"],
                p["priority"],
                decode_map(p["payload"]),
                p["journey"],
                p["version"],
                p["node"],
                now,
            )
            result = (
                _hand_over(self.tickets.open, ticket)
                if self.tickets
                else DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "no ticket sink configured")
            )
            fields = {
                "queue": p["queue"],
                "priority": p["priority"],
                "payload": plain(decode_map(p["payload"])),
            }
        else:
            handler = self.actions.get(p["name"])
            if handler is None:
                result = DeliveryResult(
                    DeliveryStatus.FAILED_PERMANENT, f"no handler registered for '{p['name']}'"
                )
            else:
                params = decode_map(p["params"])
                result = _hand_over(handler, entry.key, entry.customer_id, params, now)
            fields = {"name": p["name"], "params": plain(decode_map(p["params"]))}
        kind = (
            "ticket"
            if entry.kind == "ticket"
            else ("reward" if p.get("action") == "reward" else "action")
        )
        if (
            result.status is DeliveryStatus.FAILED_TRANSIENT
            and entry.attempts + 1 < self.retry.max_attempts
        ):
            entry.attempts += 1
            entry.not_before = now + self.retry.delay(entry.attempts)
            return
        entry.status = "done" if result.status is DeliveryStatus.DELIVERED else "failed"
        fake = {"customer_id": entry.customer_id, "journey": p["journey"]}
        if entry.status == "done":
            self._record(now, fake, p["node"], kind, **fields)
        else:
            self._record(
                now, fake, p["node"], "suppressed", reason=f"{kind} failed: {result.detail}"
            )

    # ------------------------------------------------------------------ contact policies

    def _init_policies(self, policies: Policies | PolicyEngine | None) -> None:
        """``policies`` (a loaded policy file, or a :class:`PolicyEngine`) are evaluated for
        every delivery attempt. Without them the engine keeps its built-in behaviour (consent per
        channel, push only with the app, the journeys' own quiet hours) and writes nothing new
        to the store; with them every decision goes into the instance's decision log and every
        delivered message into the store's contact history, which frequency caps count and which
        therefore needs a :class:`ContactHistory` state store (both built-in stores are)."""
        engine = policies if isinstance(policies, PolicyEngine) else PolicyEngine(policies)
        self.policy = engine
        self._history: ContactHistory | None = None
        if engine.configured:
            if not isinstance(self.state, ContactHistory):
                raise TypeError(
                    "contact policies need a state store with a contact history "
                    "(contacts() and record_delivery(), see ContactHistory); the built-in "
                    "memory and SQLite stores have one"
                )
            self._history = self.state
        # Contacts older than every cap's window (and a day) are pruned once a day, where the
        # store can (ContactHistory's optional prune_contacts).
        self._horizon = engine.history_horizon()
        self._prune_contacts: Callable[[datetime], int] | None = getattr(
            self._history, "prune_contacts", None
        )
        self._pruned_at: datetime | None = None
        # What a delivery attempt adds to its outbox update: the contact it made and the
        # instance whose decision log grew, written in one transaction by _save_delivery.
        self._unsaved: dict[str, tuple[Contact | None, dict[str, Any] | None]] = {}

    def _prune(self, now: datetime) -> None:
        """Delete the contacts no frequency cap can count any more (at most once a day)."""
        if self._prune_contacts is None or self._horizon is None:
            return
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        before = now - self._horizon - PRUNE_EVERY
        pruned = self._prune_contacts(before)
        if pruned and log.level <= _INFO:
            log.info("contacts_pruned", contacts=pruned, before=_iso(before))

    def _save_delivery(self, entry: OutboxEntry) -> None:
        pending = self._unsaved.pop(entry.key, None)
        if pending is None or self._history is None:
            self.state.update_outbox(entry)
            return
        contact, inst = pending
        self._history.record_delivery(entry, contact, inst)

    def _deliver_send(self, entry: OutboxEntry, now: datetime) -> None:
        """One delivery attempt of a message, under the contact policies: withheld altogether
        (holdout, do-not-contact list), or tried along its fallback chain, where each channel
        may lack consent or be unreachable (fall back), be in quiet hours or over a frequency
        cap (defer or drop), deliver, or fail (retry, or fall back)."""
        p = entry.payload
        journey = self.versions.get((p["journey"], p["version"]))
        profile = self.profiles.get(entry.customer_id)
        chain: list[str] = p["chain"]
        reasons: list[str] = p.setdefault("reasons", [])
        category: str = p["category"]
        fake = {"customer_id": entry.customer_id, "journey": p["journey"]}
        params = decode_map(p["params"])
        policy = self.policy
        durable = self._history is not None
        held = bool(p.get("deferred")) and now >= entry.not_before
        inst = self.state.instance(p["instance"]) if durable or held else None
        decisions: list[dict[str, Any]] = []
        contact: Contact | None = None
        self._unsaved.pop(entry.key, None)
        failed = False

        def decide(decision: str, **fields: Any) -> None:
            if durable:
                detail = {k: v for k, v in fields.items() if v is not None}
                decisions.append(
                    {
                        "at": _iso(now),
                        "node": p["node"],
                        "what": "deliver",
                        "decision": decision,
                        **detail,
                        "message": entry.key,
                    }
                )

        def suppress(reason: str, where: str, by: str) -> None:
            entry.status = "suppressed"
            log.info(
                "suppress",
                journey=p["journey"],
                customer=entry.customer_id,
                template=p["template"],
                reason=reason,
            )
            self._record(
                now,
                fake,
                p["node"],
                "suppressed",
                channel=where,
                template=p["template"],
                params=plain(params),
                reason=reason,
            )
            decide("suppressed", channel=where, policy=by, reason=reason)

        try:
            if held and inst is not None and inst.get("wakes", 0) > p.get("wakes", 0):
                # Held by quiet hours or a cap while an event changed the customer's path (the
                # awaited event came, or a goal was reached): the message no longer fits.
                what = "a frequency cap" if "frequency_cap" in p.get("held_by", "") else None
                suppress(
                    "superseded: the customer's journey moved on while "
                    f"{what or 'quiet hours'} held it",
                    chain[min(p["index"], len(chain) - 1)],
                    "superseded",
                )
                return
            withheld = policy.withhold(p["journey"], entry.customer_id, category, profile)
            if withheld is not None:
                suppress(withheld.reason, chain[min(p["index"], len(chain) - 1)], withheld.policy)
                return
            tz_name = profile.timezone or (journey.timezone if journey else DEFAULT_TIMEZONE)
            local_zone = zone(tz_name)
            entered = datetime.fromisoformat(p.get("entered_at") or p["created"])
            last_policy = "no_channel"

            def since_entry(event: str) -> bool:
                happened = self.events.last_time(entry.customer_id, event, now)
                return happened is not None and happened >= entered

            def history(since: datetime) -> list[Contact]:
                return self._history.contacts(entry.customer_id, since) if self._history else []

            while p["index"] < len(chain):
                channel = chain[p["index"]]
                miss = policy.unreachable(p["journey"], channel, category, profile, since_entry)
                if miss is None and channel not in self.channels:
                    miss = _no_channel(channel)
                if miss is not None:
                    reasons.append(miss.reason)
                    last_policy = miss.policy
                    self._next_channel(entry, channel, miss.policy, miss.reason, decide)
                    continue
                local = now.astimezone(local_zone)
                verdict = policy.hold(
                    journey, p["journey"], channel, category, profile, local, history
                )
                if verdict is not None:
                    self._hold(entry, channel, verdict, suppress, decide)
                    return
                label = policy.label(p["journey"], channel, category)
                message = Message(
                    f"{entry.key}:{channel}",
                    entry.customer_id,
                    channel,
                    p["template"],
                    category,
                    params,
                    p["journey"],
                    p["version"],
                    p["node"],
                    now,
                    label,
                )
                result = _hand_over(self.channels[channel].send, message)
                if result.status is DeliveryStatus.DELIVERED:
                    entry.status = "done"
                    if log.level <= _INFO:  # (plain and masked parameters are not free)
                        log.info(
                            "send",
                            journey=p["journey"],
                            customer=entry.customer_id,
                            channel=channel,
                            template=p["template"],
                            params=plain(params),  # masked by the logger
                        )
                    self._record(
                        now,
                        fake,
                        p["node"],
                        "send",
                        channel=channel,
                        template=p["template"],
                        params=plain(params),
                        **({"label": label} if label else {}),
                    )
                    if durable:
                        contact = Contact(
                            entry.key,
                            entry.customer_id,
                            now,
                            channel,
                            category,
                            p["journey"],
                            p["template"],
                        )
                    decide("allowed", channel=channel, label=label or None)
                    return
                if (
                    result.status is DeliveryStatus.FAILED_TRANSIENT
                    and entry.attempts + 1 < self.retry.max_attempts
                ):
                    entry.attempts += 1
                    entry.not_before = now + self.retry.delay(entry.attempts)
                    return
                why = f"{channel} failed: {result.detail or result.status.value}"
                reasons.append(why)
                last_policy = "delivery_failure"
                self._next_channel(entry, channel, "delivery_failure", why, decide)
            suppress("; ".join(reasons) or "no channel", chain[0], last_policy)
        except BaseException:
            failed = True
            raise
        finally:
            # Only a finished attempt is saved (with its decisions): after an exception the
            # outbox entry is not updated either, and the next attempt decides again.
            if not failed and durable and (decisions or contact is not None):
                if inst is not None:
                    room = max(LOG_LIMIT - len(inst["log"]), 0)
                    inst["log"].extend(decisions[:room])
                self._unsaved[entry.key] = (contact, inst if decisions else None)

    @staticmethod
    def _next_channel(
        entry: OutboxEntry,
        channel: str,
        by: str,
        reason: str,
        decide: Callable[..., None],
    ) -> None:
        """Fall back from ``channel`` to the next of the chain (logged when there is one)."""
        p = entry.payload
        p["index"] += 1
        entry.attempts = 0
        if p["index"] < len(p["chain"]):
            decide(
                "fallback",
                channel=p["chain"][p["index"]],
                **{"from": channel},
                policy=by,
                reason=reason,
            )

    @staticmethod
    def _hold(
        entry: OutboxEntry,
        channel: str,
        verdict: Verdict,
        suppress: Callable[[str, str, str], None],
        decide: Callable[..., None],
    ) -> None:
        """Defer the message on ``channel`` until the verdict's time, or drop it."""
        p = entry.payload
        if verdict.decision == "suppressed" or verdict.until is None:
            suppress(verdict.reason, channel, verdict.policy)
            return
        entry.not_before = verdict.until
        if not p.get("deferred"):
            p["deferred"] = _iso(verdict.until)
        p["held_by"] = verdict.policy
        decide(
            "deferred",
            channel=channel,
            until=_iso(verdict.until),
            policy=verdict.policy,
            reason=verdict.reason,
            also=list(verdict.also) or None,
        )

    # ------------------------------------------------------------------ introspection

    def explain(self, customer_id: str) -> list[dict[str, Any]]:
        """The decision log of every instance of ``customer_id``."""
        return [
            {
                "instance": i["id"],
                "journey": i["journey"],
                "version": i["version"],
                "status": i["status"],
                "outcome": i["outcome"],
                "log": i["log"],
                **({"unhandled": list(self.unhandled)} if self.unhandled else {}),
            }
            for i in self.state.instances_of(customer_id)
        ]


#: How each kind of node is interpreted (see Engine._run).
_STEPS: dict[type, Callable[..., str | None]] = {
    ir.Send: Engine._step_send,
    ir.Ticket: Engine._step_ticket,
    ir.Action: Engine._step_action,
    ir.Update: Engine._step_update,
    ir.Tag: Engine._step_tag,
    ir.Set: Engine._step_set,
    ir.Wait: Engine._step_wait,
    ir.WaitFor: Engine._step_wait_for,
    ir.Branch: Engine._step_branch,
    ir.Switch: Engine._step_switch,
    ir.Split: Engine._step_split,
    ir.RepeatStart: Engine._step_repeat_start,
    ir.RepeatCheck: Engine._step_repeat_check,
    ir.RepeatNext: Engine._step_repeat_next,
    ir.Exit: Engine._step_exit,
}


def _stepper(kind: type) -> Callable[..., str | None]:
    """The step of a node class missing from :data:`_STEPS`: a subclass of a known kind."""
    for known, step in list(_STEPS.items()):
        if issubclass(kind, known):
            _STEPS[kind] = step
            return step
    raise TypeError(f"unknown node {kind.__name__}")


def _hand_over(call: Callable[..., DeliveryResult], *args: Any) -> DeliveryResult:
    """Call a channel, the ticket sink or an action handler. A network error it raises (a
    gateway timeout, a dropped connection: :func:`is_network_error`) is a transient failure,
    retried with backoff like one it reports. Any other exception, a :class:`SinkError` or a
    full disk's OSError, is the host's own fault: it propagates, and the outbox entry stays
    pending for the next call."""
    try:
        return call(*args)
    except OSError as exc:
        if not is_network_error(exc):
            raise
        return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, f"{type(exc).__name__}: {exc}")


def _happened(
    event: str | None,
    where: ir.CExpr | None,
    condition: ir.CExpr | None,
    ctx: _Ctx,
    ev: EventRecord,
) -> bool:
    """Whether ``ev`` is the awaited event (and passes its ``where``), or, for a condition
    (of a goal or a `wait for`), whether the condition now holds."""
    if event is not None:
        return event == ev.type and (where is None or bool(where.fn(ctx, ev)))
    return condition is not None and bool(condition.fn(ctx, None))


def _next_local(now: datetime, at: time, tz: tzinfo) -> datetime:
    local = now.astimezone(tz)
    candidate = datetime.combine(local.date(), at, tz)
    if candidate < local:
        candidate = datetime.combine(local.date() + timedelta(days=1), at, tz)
    return candidate
