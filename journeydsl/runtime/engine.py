"""The Engine: the host's front door to the runtime. It runs compiled journeys per customer
instance, over the host's stores.

Host calls: :meth:`Engine.ingest` (an event arrived), :meth:`Engine.tick` (time passed: fire due
timers, scheduled segment entries and deferred deliveries) and :meth:`Engine.enroll`.

Durability: each step of work — one event for one customer, one timer — ends in a single
:meth:`StateStore.commit` holding the instance states, their timers, the new outbox entries and the
processed-event marker. Effects are only ever handed to channels from the outbox, with an
idempotency key built from (journey, version, instance, node, visit). A crash anywhere therefore
re-runs at most the uncommitted step (which recomputes the same keys) or re-delivers an outbox
entry (which the channel deduplicates): no duplicate, nothing lost. Parts with one job each
do the work: interpreter, waits, entry, delivery, control (pause/drain).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from journeydsl import ir
from journeydsl._compiled import mypyc_attr
from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact
from journeydsl.runtime.budgets import BudgetLedger
from journeydsl.runtime.control import Control
from journeydsl.runtime.decisions import explain
from journeydsl.runtime.delivery import PRUNE_EVERY, Delivery, RetryPolicy
from journeydsl.runtime.entry import Entries
from journeydsl.runtime.events import BadEvent, coerce_event, event_id, parse_event_json
from journeydsl.runtime.hostcalls import OnAction, StoreError, host_call, log
from journeydsl.runtime.intake import (
    SCOPED_MARKERS,
    IngestResult,
    Intake,
    event_json,
    missing_handlers,
    scoped_marker,
    unknown_journey,
)
from journeydsl.runtime.interpreter import Interpreter
from journeydsl.runtime.policies.evaluator import PolicyEngine
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import (
    ActionHandler,
    Channel,
    Clock,
    CommitHooks,
    EventStore,
    GroupCommit,
    OutboxEntry,
    ProfileStore,
    StateStore,
    TicketSink,
    live_reads,
)
from journeydsl.runtime.queues import CLOSED_EVENT
from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.waits import Waits, moved_at

__all__ = [
    "ALLOWED_LATENESS",
    "PRUNE_EVERY",
    "STALE_AFTER",
    "Engine",
    "IngestResult",
    "RetryPolicy",
    "StoreError",
]

#: How late a timer may fire and still send to the customer, unless the journey says otherwise
#: (``stale after``) or the host does (``Engine(stale_after=...)``).
STALE_AFTER = timedelta(hours=24)
#: How long before the engine's clock an event may be dated and still be taken, by default.
ALLOWED_LATENESS = timedelta(hours=24)
_FOREVER = datetime.max.replace(tzinfo=UTC)


@mypyc_attr(allow_interpreted_subclasses=True)
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
        on_action: OnAction | None = None,
        on_quarantine: Callable[[Mapping[str, Any], str], None] | None = None,
        policies: Policies | PolicyEngine | None = None,
        only: bool = False,
        unhandled: str = "refuse",
        stale_after: timedelta | None = STALE_AFTER,
        allowed_lateness: timedelta | None = ALLOWED_LATENESS,
        decisions: Mapping[str, Callable[..., Any]] | None = None,
        budgets: BudgetLedger | None = None,
    ) -> None:
        """Build an engine over the host's stores and handlers.

        Every channel a journey's sends name (first choice or fallback), every action, reward and
        decision function (``decisions=``, runtime/decide.py), and tickets (a ticket sink) must
        have a handler, else ``ValueError`` lists what is missing. ``unhandled="withhold"``: a send
        falls back past a channel without a gateway, a ticket or action without a handler is
        withheld with that reason, a decision fails; :meth:`explain` lists what is unhandled.

        ``only=True`` runs these journeys as a part of those the state store holds: the
        instances, timers and outbox entries of the others are left as they are, and an event
        is marked processed for these journeys only, so the others take it when they run (see
        docs/embedding.md, "Running some of the journeys").

        ``stale_after``: a timer that fires later than this after its time (the host did not
        tick, say during downtime) sends nothing to the customer: its messages are suppressed
        as ``stale``, its tickets and actions still happen, marked late, and the journey goes
        on. A journey's own ``stale after`` wins; None turns the rule off.

        ``allowed_lateness``: how long before the clock an event may be dated and still be
        taken (at its own time); an older one is quarantined ``too_late``, and
        :meth:`replay_quarantined` takes it when an operator decides to. None takes any."""
        missing = missing_handlers(
            journeys, set(channels or {}), tickets is not None, set(actions or {})
        )
        if unhandled not in ("refuse", "withhold"):
            raise ValueError(f"unhandled must be 'refuse' or 'withhold', not {unhandled!r}")
        #: What the journeys use that has no handler (empty unless ``unhandled="withhold"``).
        self.unhandled: list[str] = missing if unhandled == "withhold" else []
        if missing and unhandled == "refuse":
            raise ValueError(
                f"no handler registered for what these journeys use: {'; '.join(missing)} "
                "(pass them in channels=, tickets= and actions=)"
            )
        self.versions: dict[tuple[str, int], ir.Journey] = {}
        self.latest: dict[str, ir.Journey] = {}
        self.schemas: dict[str, Mapping[str, Type]] = {}
        for j in journeys:
            self.versions[(j.id, j.version)] = j
            if j.id not in self.latest or j.version > self.latest[j.id].version:
                self.latest[j.id] = j
            for name, fields in j.event_types.items():
                self.schemas.setdefault(name, fields)
        self.events, self.profiles, self.state, self.clock = events, profiles, state, clock
        self._intake = Intake(
            state,
            clock,
            self.latest,
            only=only,
            allowed_lateness=allowed_lateness,
            on_quarantine=on_quarantine,
        )
        #: Every event quarantined since the engine started, with the reason.
        self.quarantine = self._intake.refused
        self._instances_of = live_reads(state)[1]  # (live records, where the store keeps them)
        # One transaction per step of work where the store can group commits (GroupCommit).
        self._group: Callable[[], contextlib.AbstractContextManager[Any]] = (
            state.step if isinstance(state, GroupCommit) else contextlib.nullcontext
        )
        self._in_transaction = state.in_transaction if isinstance(state, CommitHooks) else None
        #: Customers that had an event but no profile (every message to them is withheld).
        self.unprofiled: set[str] = set()
        # A run of some of the store's journeys: markers, timers and deliveries are scoped.
        self.only = only
        scope = frozenset(self.versions) if only else None
        if only and state.get_meta(SCOPED_MARKERS) != "1":
            state.commit([], [], meta={SCOPED_MARKERS: "1"})
        # The store's timers and outbox as this engine sees them: all, or its journeys' only.
        self._scoped_to: dict[str, frozenset[tuple[str, int]]] = (
            {"journeys": scope} if scope is not None else {}
        )
        self._interpreter = Interpreter(events, profiles, on_action, state, self.versions.values())
        self._interpreter.register_decisions(journeys, decisions, unhandled, self.unhandled)
        self._interpreter.register_budgets(journeys, budgets, state)  # reward budgets
        self._waits = Waits(
            self._interpreter, state, profiles, self.versions, self._scoped_to, stale_after
        )
        self._entries = Entries(self.latest, self._interpreter, state, profiles, clock, stale_after)
        self._delivery = Delivery(
            versions=self.versions,
            events=events,
            profiles=profiles,
            state=state,
            channels=dict(channels or {}),
            tickets=tickets,
            actions=dict(actions or {}),
            retry=retry or RetryPolicy(),
            on_action=on_action,
            policies=policies,
            scoped_to=self._scoped_to,
            stale_after=stale_after,
            on_contact=self._waits.delivered,  # (waits on sent(…) check again)
        )
        self._entries.rates = {r.journey: r for r in self._delivery.policy.policies.entry_rates}
        self.control = Control(self)  # pause, resume, drain (runtime/control.py)

    @property
    def failed(self) -> list[tuple[str, str]]:
        """Instances that failed (outcome ``error``) since the engine started (the first 100)."""
        return self._interpreter.failed

    @property
    def failures(self) -> int:
        """How many instances failed since the engine started."""
        return self._interpreter.failures

    @property
    def policy(self) -> PolicyEngine:
        """The contact policies every delivery attempt is decided by."""
        return self._delivery.policy

    @host_call
    def ingest(
        self, raw: Mapping[str, Any] | EventRecord | str | bytes, event_key: str | None = None
    ) -> IngestResult:
        """Take one event (the JSON contract, its JSON text, read with exact numbers, or an
        :class:`EventRecord`, taken as already typed: the events catalog checks the other two
        only) at the clock's now.

        A bad event is quarantined and reported, never raised: kept in the state store when it
        keeps a quarantine (:class:`~journeydsl.runtime.protocols.Quarantine`), and not marked
        processed, so the same id with a valid payload is taken later. An event already
        processed (same id) is skipped, so replaying a stream after a crash is safe.

        The journeys decide as of the event's own time (``at``): an instance enters then, and
        its waits and windows count from then, however late the event arrives. An event dated
        more than ``allowed_lateness`` before the clock is quarantined ``too_late``.
        """
        return self._ingest(raw, event_key, late_ok=False)

    def _ingest(
        self,
        raw: Mapping[str, Any] | EventRecord | str | bytes,
        event_key: str | None,
        late_ok: bool,
    ) -> IngestResult:
        if isinstance(raw, str | bytes):  # JSON text: numbers read exactly, bad text quarantined
            raw = parse_event_json(raw)
        as_json = event_json(raw)
        eid = event_key or event_id(as_json)
        if (refused := self._intake.unkeepable(eid, as_json)) is not None:
            return refused  # (an id no store can keep: quarantined)
        result = IngestResult(eid)
        if self.state.processed(eid):
            result.duplicate = True
            return result
        intake = self._intake
        done = intake.done_for(eid)
        if done and done.issuperset(self.latest):
            result.duplicate = True
            return result
        try:
            ev = raw if isinstance(raw, EventRecord) else coerce_event(raw, self.schemas)
        except BadEvent as exc:
            intake.quarantine(eid, as_json, str(exc), result)
            return result
        if (why := intake.refusal(ev, late_ok, self._delivery.queues)) is not None:
            intake.quarantine(eid, as_json, why, result)
            return result
        with self._group():  # the event, the instances it moved and its marker: one commit
            now = self._take(ev, eid, result, self.control.admit(self, eid, ev, done))
            if intake.kept is not None:
                intake.kept.release(eid)
        self._delivery.hand_out(now)
        return result

    def taken(self, event_id: str) -> bool:
        """Whether ``event_id`` was taken already (in runs of some journeys: by one of them)."""
        return self._intake.taken(event_id)

    @host_call
    def replay_quarantined(self, event_id: str | None = None) -> list[IngestResult]:
        """Ingest the quarantined events (or the one with ``event_id``) again, after the
        catalog or the data was fixed: those now valid are processed and leave the quarantine;
        the others stay, counted once more. Each is taken as of its own time, whatever the
        allowed lateness; a message it makes that is stale by then is suppressed as stale."""
        kept = self._intake.kept
        if kept is None:
            raise TypeError("the state store keeps no quarantine (see Quarantine)")
        results = []
        for found in kept.quarantined(event_id):
            try:
                raw = loads_exact(found.event)
            except (ValueError, RecursionError):
                raw = None
            if not isinstance(raw, dict):
                result = IngestResult(found.event_id)
                self._intake.unreadable_again(found, result)
                results.append(result)
                continue
            results.append(self._ingest(raw, found.event_id, late_ok=True))
        return results

    def _take(
        self, ev: EventRecord, eid: str, result: IngestResult, done: frozenset[str] = frozenset()
    ) -> datetime:
        """Store the event, move the instances it concerns (of the journeys that did not take
        it yet: ``done`` took it), commit; returns the step's now."""
        now = max(self._intake.now(), ev.at)  # when its effects are delivered
        running = self._waits.running(ev.customer_id, done)  # (before anything is written)
        self.events.append(eid, ev)
        at = ev.at  # when it happened: the instant the journeys decide as of
        records: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        profile = self.profiles.get(ev.customer_id)
        if not profile.known and ev.customer_id not in self.unprofiled:
            self.unprofiled.add(ev.customer_id)
            log.warning("no_profile", customer=ev.customer_id, event_type=ev.type)
        # Running instances first: goals, then waits this event (or its effect) satisfies.
        for inst, journey in running:
            when = moved_at(inst, at)  # (never before its last step: a late event undoes nothing)
            moved: str | None = "failed"  # (stays if its conditions raised: it ended, to save)
            with self._interpreter.failing(inst, journey, when):
                moved = self._waits.on_event(journey, inst, ev, when, profile, outbox)
            if moved is not None:
                records.append(inst)
            if moved == "resumed":
                result.resumed.append(inst["id"])
        # New entries: on this event's type, and on a change it made (`entry when`).
        entered, meta = self._entries.on_event(ev, at, profile, done, records, outbox)
        result.entered.extend(entered)
        if ev.type == CLOSED_EVENT and (queues := self._delivery.queues) is not None:
            meta = {**meta, **queues.closed(ev.data.get("ticket_id"), ev.customer_id)}
        if not self.only:
            self.state.commit(records, outbox, processed_event=eid, meta=meta)
            return now
        # A run of some journeys marks the event for each of them (in the step's transaction).
        markers = [scoped_marker(eid, j) for j in sorted(self.latest)]
        self.state.commit(records, outbox, processed_event=markers[0], meta=meta)
        for marker in markers[1:]:
            self.state.commit([], [], processed_event=marker)
        return now

    @host_call
    def enroll(
        self, customer_id: str, journey_id: str, data: Mapping[str, Any] | None = None
    ) -> str | None:
        """Enter ``customer_id`` into a journey from code; None when re-entry rules refuse."""
        if (journey := self.latest.get(journey_id)) is None:
            raise unknown_journey(journey_id, self.latest)
        now = self._intake.now()
        profile = self.profiles.get(customer_id)
        trigger = EventRecord(customer_id, "enroll", now, dict(data or {}))
        inst = self._entries.enter(journey, customer_id, now, profile, trigger)
        if inst is None:
            return None
        outbox: list[OutboxEntry] = []
        self._interpreter.run(journey, inst, journey.start, now, profile, outbox)
        self.state.commit([inst, *self._entries.handoffs.take()], outbox)  # (with hand-offs)
        self._delivery.hand_out(now)
        return str(inst["id"])

    @host_call
    def profile_changed(self, customer_id: str) -> list[str]:
        """The host changed the customer's profile: enter them where an `entry when` turned true."""
        entered = self._entries.changes.profile_changed(customer_id, self._intake.now())
        self._delivery.hand_out(self.clock.now())
        return entered

    def entry_buckets_due(self, now: datetime) -> set[int]:
        """A worker's buckets with `entry when` work at ``now`` (a first pass, a look again)."""
        return self._entries.changes.due_buckets(now)

    @host_call
    def tick(self, now: datetime | None = None) -> int:
        """Fire due timers and scheduled entries, deliver due messages; how many moved."""
        now = self.control.check(self, now or self.clock.now())
        with self._group():  # every timer due now: one commit, before anything is delivered
            moved = self._waits.fire(now) + self._entries.segments(now)
            self._delivery.prune(now)
        self._delivery.hand_out(now)
        return moved

    def next_wakeup(self) -> datetime | None:
        """The earliest time :meth:`tick` has work: a timer, a scheduled entry or a delivery
        (inside a host's transaction the outbox waits for its commit, so it is not counted)."""
        scope = self._scoped_to
        times = [t for t in (self.state.next_due(**scope), self._entries.next_segment_time()) if t]
        if self._in_transaction is None or not self._in_transaction():
            pending = self.state.pending_outbox(_FOREVER, 1, **scope)
            if pending:
                times.append(pending[0].not_before)
        return min(times) if times else None

    @host_call
    def deliver(self, now: datetime | None = None) -> int:
        """Hand due outbox entries over (inside a host's transaction: once it commits, 0)."""
        return self._delivery.hand_out(now or self.clock.now())

    def explain(self, customer_id: str) -> list[dict[str, Any]]:
        """The decision log of every instance of ``customer_id``."""
        return explain(self.state.instances_of(customer_id), self.unhandled)
