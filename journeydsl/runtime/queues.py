"""Ticket queue capacity (``queues:`` in the policy file): each day, a queue receives its
best-ranked tickets up to its capacity, in rank order.

A ticket for a queue with a capacity is not opened when it is made: it waits in the outbox for
the queue's next release (``at``, local time). At the release every waiting ticket of the queue
is ranked (``rank``: a payload field, higher first; then priority, age and key); the first
``capacity`` are accepted and opened in rank order, the others wait for the next release, ranked
again with the new ones (``overflow: next_day``, dropped once they waited ``max_age``), or are
dropped (``overflow: drop``), with the reason ``queue_full`` in the instance's decision log and
the host's ``on_action``. Everything the queue decides is in the outbox entries themselves
(``queued``, ``accepted``, the next release as their due time), so a restart resumes it.

**Shared by workers.** Over a store several engines share (PostgreSQL workers, each holding some
buckets: :class:`SharedQueues`), a release ranks every bucket's waiting tickets at once. The first
engine to reach a release takes the queue's lock (held until its delivery round commits), ranks
them all and notes the decision for that release (engine meta ``queue_release:QUEUE@RELEASE``);
each engine then applies it to its own buckets' tickets when it reaches them. A release waits
while tickets of an earlier release are not yet applied (a bucket whose owner has not caught up),
so no ticket is ranked twice. The open tickets of ``max_open`` are updated under the same lock.

A queue with ``max_open`` also caps the tickets open at once: a release accepts no more than
``max_open`` minus those still open, and a ticket stays open until a ``ticket_closed`` event
of its own customer names it (``ticket_id``: the ticket's idempotency key; one naming another
customer's open ticket is quarantined, see :meth:`Intake.refusal`). The open tickets are engine
meta (``queue_open:QUEUE``), written with the release's decision and with the closing event's
step.

**Paused journeys.** A paused journey's tickets take part in no release: the engine does not see
them, and a shared release leaves them out of its candidates (and does not wait for them). The
decision notes the journeys it left out (``paused``), so that once resumed, their tickets due for
it are not taken for ones it turned away: they wait for the next release. A ticket's wait
(``max_age``) does not count the time its journey was paused (the pauses of the store's control
audit).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol, cast, runtime_checkable

from journeydsl.money import Money
from journeydsl.runtime.codec import decode_map
from journeydsl.runtime.decisions import extend, withheld
from journeydsl.runtime.hostcalls import OnAction, iso, log, record
from journeydsl.runtime.interpreter import describe_lateness
from journeydsl.runtime.policies.model import TicketQueue
from journeydsl.runtime.protocols import ContactHistory, OutboxEntry, StateStore
from journeydsl.runtime.records import DecisionEntry, InstanceRecord
from journeydsl.runtime.ticket_exits import decide
from journeydsl.zones import zone

__all__ = ["CLOSED_EVENT", "PRIORITY_ORDER", "SharedQueues", "TicketQueues"]

#: Ticket priorities, most urgent first.
PRIORITY_ORDER: Mapping[str, int] = {"urgent": 0, "high": 1, "normal": 2, "low": 3}
#: The event that closes an open ticket (its ``ticket_id``: the ticket's idempotency key).
CLOSED_EVENT = "ticket_closed"
#: The engine meta of a queue's open tickets (with ``max_open``).
_OPEN = "queue_open:"
#: The most tickets a release ranks at once.
_RELEASE_LIMIT = 1_000_000


@runtime_checkable
class SharedQueues(Protocol):
    """**Optional protocol:** a state store several engines share (the PostgreSQL store), whose
    ticket queues rank every engine's tickets together."""

    def lock_queue(self, queue: str) -> None:
        """Lock ``queue`` until the open transaction ends."""
        ...

    def queue_candidates(self, queue: str, release: datetime) -> list[OutboxEntry]:
        """Every engine's pending tickets of ``queue`` due by ``release``."""
        ...


def next_release(rule: TicketQueue, now: datetime) -> datetime:
    """The queue's first release strictly after ``now``."""
    tz = zone(rule.timezone)
    local = now.astimezone(tz)
    release = datetime.combine(local.date(), rule.at, tz)
    while release <= now:
        release = datetime.combine(release.date() + timedelta(days=1), rule.at, tz)
    return release


def last_release(rule: TicketQueue, now: datetime) -> datetime:
    """The queue's last release at or before ``now`` (the release a run at ``now`` makes)."""
    release = next_release(rule, now - timedelta(days=2))
    while (following := next_release(rule, release)) <= now:
        release = following
    return release


def _rank_value(rule: TicketQueue, entry: OutboxEntry) -> Decimal | None:
    if rule.rank is None:
        return None
    value = decode_map(entry.payload["payload"]).get(rule.rank)
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        return Decimal(str(value))
    return None


def rank_key(rule: TicketQueue, entry: OutboxEntry) -> tuple[Any, ...]:
    """Where a ticket stands in its queue: by ``rank`` (higher first, none last), priority,
    age, key."""
    p = entry.payload
    value = _rank_value(rule, entry)
    return (
        value is None,
        -(value or Decimal(0)),
        PRIORITY_ORDER.get(str(p["priority"]), 2),
        datetime.fromisoformat(p["queued"]),
        entry.key,
    )


class TicketQueues:
    """The queues with a capacity, for one engine's deliveries."""

    def __init__(
        self,
        rules: Sequence[TicketQueue],
        state: StateStore,
        scoped_to: Mapping[str, Any],
        on_action: OnAction | None,
        instance: Callable[[str], InstanceRecord | None],
        versions: Collection[tuple[str, int]] = (),
    ) -> None:
        self.rules = {r.queue: r for r in rules}
        self.state = state
        #: The engine's journey versions (those out of ``scoped_to`` are paused).
        self.versions = frozenset(versions)
        self.history = state if isinstance(state, ContactHistory) else None
        self.scoped_to = scoped_to
        self.on_action = on_action
        self.instance = instance
        self.shared = state if isinstance(state, SharedQueues) else None
        #: The tickets a release at ``_at`` settled: the batch's older copies are left alone.
        self.settled: set[str] = set()
        self._at: datetime | None = None
        #: The pauses of each journey, read from the store's audit (for one release).
        self._pauses: dict[str, list[tuple[datetime, datetime | None]]] = {}

    def skips(self, key: str, now: datetime) -> bool:
        """Whether a release at ``now`` settled the entry ``key`` already (a delivery round's
        copy of it is out of date)."""
        if self._at != now:
            self._at, self.settled = now, set()
        return key in self.settled

    def take(
        self,
        entry: OutboxEntry,
        now: datetime,
        open_ticket: Callable[[OutboxEntry, datetime], None],
    ) -> bool:
        """Whether the queue takes care of ``entry`` (a ticket): it waits for the next release,
        or a release ranked it (and its queue's other tickets) now. False: open it as usual."""
        p = entry.payload
        rule = self.rules.get(p["queue"])
        if rule is None or "accepted" in p:
            return False
        if "queued" not in p:
            p["queued"] = iso(now)
            entry.not_before = next_release(rule, now)
            return True
        self.release(rule, now, open_ticket)
        return True

    def release(
        self,
        rule: TicketQueue,
        now: datetime,
        open_ticket: Callable[[OutboxEntry, datetime], None],
    ) -> None:
        """Rank every waiting ticket of the queue; accept the best, move or drop the rest.

        The decision is written first (engine meta, one write), then applied entry by entry: a
        release interrupted half-way (a crash) is finished as it was decided, never ranked
        again among the tickets it left, which would accept more than the capacity.

        The tickets of a paused journey take part in no release (the engine does not see them,
        and over a shared store they are left out of the candidates); the decision notes the
        journeys it left out, so that once resumed their tickets, due again, are not taken for
        ones it ranked and turned away: they wait for the next release (:meth:`_missed`)."""
        self._pauses = {}
        due = [
            e
            for e in self.state.pending_outbox(now, _RELEASE_LIMIT, **self.scoped_to)
            if e.kind == "ticket"
            and e.payload.get("queue") == rule.queue
            and "queued" in e.payload
            and "accepted" not in e.payload
            and e.key not in self.settled
        ]
        if self.shared is not None and due:
            # (over a shared store, one release at a time: the earliest these tickets wait for)
            slot = min(e.not_before for e in due)
            due = [e for e in due if e.not_before <= slot]
        ranked = sorted(due, key=lambda e: rank_key(rule, e))
        decided = (
            self._decided(rule, now, ranked) if self.shared is None else self._shared(rule, due)
        )
        if decided is None:
            return  # (not decided yet: the tickets wait, and are tried again)
        places, left_out = decided
        accepted = sorted((e for e in ranked if e.key in places), key=lambda e: places[e.key])
        rest = [e for e in ranked if e.key not in places]
        missed = [e for e in rest if e.payload["journey"] in left_out]
        if missed:
            rest = [e for e in rest if e.payload["journey"] not in left_out]
            for entry in missed:
                self._missed(rule, entry, now)
        for entry in accepted:
            entry.payload["accepted"] = iso(now)
            entry.payload["rank"] = places[entry.key]
            self.state.update_outbox(entry)
        by_open = rule.max_open is not None and len(places) < rule.capacity
        for entry in rest:
            self._overflow(rule, entry, now, by_open)
        self.settled.update(e.key for e in ranked)
        if ranked:
            log.info(
                "queue_release",
                queue=rule.queue,
                accepted=len(accepted),
                rest=len(rest),
                **({"missed": len(missed)} if missed else {}),
            )
        for entry in accepted:
            open_ticket(entry, now)

    def paused(self) -> frozenset[str]:
        """The journeys this engine holds back (paused: out of the engine's scope)."""
        scope = self.scoped_to.get("journeys")
        if scope is None:
            return frozenset()
        return frozenset(j for j, v in self.versions if (j, v) not in scope)

    def _decided(
        self, rule: TicketQueue, now: datetime, ranked: list[OutboxEntry]
    ) -> tuple[dict[str, int], frozenset[str]]:
        """The tickets this release accepts, with their places, and the journeys it left out
        (paused): as decided already for this release (an interrupted one, or one made while
        a journey was paused), else the first ``capacity`` of ``ranked``, noted first."""
        key = f"queue_release:{rule.queue}"
        slot = iso(last_release(rule, now))
        noted = self.state.get_meta(key)
        if noted is not None:
            plan = json.loads(noted)
            if plan.get("slot") == slot:
                return _plan(plan)
        return self._note(rule, key, slot, ranked, self.paused())

    def _note(
        self,
        rule: TicketQueue,
        key: str,
        slot: str,
        ranked: list[OutboxEntry],
        left_out: frozenset[str],
    ) -> tuple[dict[str, int], frozenset[str]]:
        """Accept the first of ``ranked`` the capacity (and ``max_open``) has room for, and note
        the decision (meta ``key``) with the open tickets it adds and the (paused) journeys
        whose tickets it left out; their places, and those journeys."""
        room = rule.capacity
        opened = self.open_tickets(rule.queue) if rule.max_open is not None else None
        if opened is not None and rule.max_open is not None:
            room = max(0, min(room, rule.max_open - len(opened)))
        places = {e.key: n for n, e in enumerate(ranked[:room], 1)}
        if ranked:
            plan: dict[str, Any] = {"slot": slot, "accepted": places}
            if left_out:
                plan["paused"] = sorted(left_out)
            meta = {key: json.dumps(plan, sort_keys=True)}
            if opened is not None:
                opened.update((e.key, e.customer_id) for e in ranked[:room])
                meta[_OPEN + rule.queue] = json.dumps(opened, sort_keys=True)
            self.state.commit([], [], meta=meta)
        return places, left_out

    def _shared(
        self, rule: TicketQueue, due: list[OutboxEntry]
    ) -> tuple[dict[str, int], frozenset[str]] | None:
        """The places of every engine's tickets at the release ``due`` wait for (over a shared
        store), and the (paused) journeys it left out: as decided already, else decided now
        under the queue's lock, over every engine's tickets but those of the journeys paused;
        None while tickets of an earlier release wait to be applied."""
        assert self.shared is not None
        if not due:
            return {}, frozenset()
        slot = min(e.not_before for e in due).astimezone(UTC)
        key = f"queue_release:{rule.queue}@{iso(slot)}"
        for locked in (False, True):
            noted = self.state.get_meta(key)
            if noted is not None:
                return _plan(json.loads(noted))
            if not locked:
                self.shared.lock_queue(rule.queue)  # (then look again: another may have decided)
        paused = self.paused()
        candidates = [
            e
            for e in self.shared.queue_candidates(rule.queue, slot)
            if "queued" in e.payload
            and "accepted" not in e.payload
            and e.payload.get("journey") not in paused
        ]
        if any(e.not_before < slot for e in candidates):
            return None
        ranked = sorted(candidates, key=lambda e: rank_key(rule, e))
        return self._note(rule, key, iso(slot), ranked, paused)

    def open_tickets(self, queue: str) -> dict[str, str]:
        """The queue's open tickets (``max_open``): their keys, with their customers."""
        noted = self.state.get_meta(_OPEN + queue)
        return dict(json.loads(noted)) if noted else {}

    def owner(self, ticket_id: object) -> str | None:
        """The customer whose open ticket ``ticket_id`` is (None when no queue with
        ``max_open`` has it open)."""
        if not isinstance(ticket_id, str):
            return None
        for rule in self.rules.values():
            opened = self.open_tickets(rule.queue) if rule.max_open is not None else {}
            if (customer := opened.get(ticket_id)) is not None:
                return customer
        return None

    def closed(self, ticket_id: object, customer_id: str) -> dict[str, str]:
        """The engine meta to commit with a ``ticket_closed`` event of ``customer_id`` naming
        ``ticket_id``: the open tickets of its queue without it (nothing when no queue with
        ``max_open`` has it open for that customer: an event closes only its customer's
        tickets)."""
        for rule in self.rules.values():
            if rule.max_open is None or not isinstance(ticket_id, str):
                continue
            if self.shared is not None:
                self.shared.lock_queue(rule.queue)  # (engines update the open tickets in turn)
            opened = self.open_tickets(rule.queue)
            if opened.get(ticket_id) == customer_id:
                del opened[ticket_id]
                log.info("ticket_closed", queue=rule.queue, ticket=ticket_id, open=len(opened))
                return {_OPEN + rule.queue: json.dumps(opened, sort_keys=True)}
        return {}

    def _missed(self, rule: TicketQueue, entry: OutboxEntry, now: datetime) -> None:
        """A ticket whose journey was paused at the release it was due for (the release left it
        out): to the next release, neither turned away nor dropped for it."""
        entry.not_before = next_release(rule, now)
        self.state.update_outbox(entry)

    def waited(self, entry: OutboxEntry, now: datetime) -> timedelta:
        """How long the ticket has waited in its queue by ``now``, its journey's pauses not
        counted (``max_age`` is this)."""
        queued = datetime.fromisoformat(entry.payload["queued"])
        journey = str(entry.payload["journey"])
        if journey not in self._pauses:
            self._pauses[journey] = _pauses(self.state, journey)
        paused = timedelta(0)
        for start, end in self._pauses[journey]:
            overlap = min(now, end or now) - max(queued, start)
            if overlap > timedelta(0):
                paused += overlap
        return now - queued - paused

    def _overflow(
        self, rule: TicketQueue, entry: OutboxEntry, now: datetime, by_open: bool
    ) -> None:
        """A ticket over the day's capacity (``by_open``: over the open tickets' cap): to the
        next release, or dropped."""
        waited = self.waited(entry, now) if rule.overflow == "next_day" else timedelta(0)
        if rule.overflow == "next_day" and (rule.max_age is None or waited < rule.max_age):
            entry.not_before = next_release(rule, now)
            self.state.update_outbox(entry)
            return
        reason = f"queue_full: {rule.queue} took its {rule.capacity} best-ranked tickets"
        if by_open:
            reason = f"queue_full: {rule.queue} has its {rule.max_open} tickets open (max_open)"
        if rule.overflow == "next_day":
            reason += f"; this one waited {describe_lateness(waited)}"
        self.drop(entry, now, reason)

    def drop(self, entry: OutboxEntry, now: datetime, reason: str) -> None:
        """Drop the ticket for ``reason``: the host's ``on_action`` and the decision log say so."""
        p = entry.payload
        entry.status = "suppressed"
        record(
            self.on_action,
            now,
            entry.customer_id,
            p["journey"],
            p["node"],
            "suppressed",
            queue=p["queue"],
            reason=reason,
        )
        inst = self.instance(p["instance"])
        decide(inst, entry, now, False, reason)  # (ticket exits: it waits for this)
        if inst is None:
            self.state.update_outbox(entry)
            return
        noted = [withheld(now, p["node"], entry.key, reason, queue=p["queue"])]
        if self.history is None:
            extend(inst, noted)
            self.state.commit([inst], [])
            self.state.update_outbox(entry)
            return
        decision = {
            "at": iso(now),
            "node": p["node"],
            "what": "deliver",
            "decision": "suppressed",
            "policy": f"queue:{p['queue']}",
            "reason": reason,
            "message": entry.key,
        }
        extend(inst, [cast(DecisionEntry, decision), *noted])
        self.history.record_delivery(entry, None, inst)


def _plan(plan: Mapping[str, Any]) -> tuple[dict[str, int], frozenset[str]]:
    """A noted release: the places of the tickets it accepts, and the journeys it left out."""
    places = {k: int(v) for k, v in plan["accepted"].items()}
    return places, frozenset(plan.get("paused", ()))


def _pauses(state: object, journey: str) -> list[tuple[datetime, datetime | None]]:
    """The pauses of ``journey`` in the store's control audit (``control_audit``, see
    :class:`~journeydsl.runtime.control.ControlStore`): from each pause to its resume (None:
    paused still); none in a store that keeps no control state."""
    audit = getattr(state, "control_audit", None)
    if not callable(audit):
        return []
    windows: list[tuple[datetime, datetime | None]] = []
    start: datetime | None = None
    for entry in audit(journey):
        if entry.action == "pause" and start is None:
            start = entry.at
        elif entry.action == "resume" and start is not None:
            windows.append((start, entry.at))
            start = None
    if start is not None:
        windows.append((start, None))
    return windows
