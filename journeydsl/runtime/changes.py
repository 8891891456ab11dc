"""Entries on change (``entry when CONDITION``): a customer enters the moment the condition
becomes true.

The condition is evaluated for a customer on each of their events, when the host reports a
change of their profile (:meth:`journeydsl.runtime.engine.Engine.profile_changed`), and at the
instant time alone may change it (an event leaving a sliding window, as for a `wait for`
condition). Its last value is kept per journey and customer in the store's engine meta
(``when:JOURNEY:CUSTOMER`` → ``1|NEXT`` or ``0|NEXT``, ``NEXT`` the instant to look again),
committed with what the evaluation did. A customer enters on a change from false (or from never
evaluated) to true, as the re-entry rule allows; while it stays true, nothing more happens.

The first time the engine runs such a journey it evaluates every customer whose value is not
stored yet (those for whom the condition already holds enter then), and it reads the stored
instants to look again, so the timers of time windows survive a restart.
"""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Collection
from datetime import datetime
from typing import TYPE_CHECKING

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.evaluation import EvalContext
from journeydsl.runtime.hostcalls import iso
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.records import InstanceRecord

if TYPE_CHECKING:
    from journeydsl.runtime.entry import Entries

__all__ = ["ChangeEntries", "meta_key"]


def meta_key(journey_id: str, customer_id: str) -> str:
    """The engine meta key of a customer's last value of a journey's entry condition."""
    return f"when:{journey_id}:{customer_id}"


class ChangeEntries:
    """Evaluates the conditions of the ``entry when`` journeys and enters customers on a change
    to true; keeps the instants to look again."""

    def __init__(self, entries: Entries) -> None:
        self.journeys = {j.id: j for j in entries.latest.values() if j.entry.kind == "when"}
        # (a weak reference: the entries own this, and a cycle would outlive them until the
        # cyclic collector runs)
        self.entries: Entries = weakref.proxy(entries)
        self.interpreter = entries.interpreter
        self.state = entries.state
        self.profiles = entries.profiles
        self.events = entries.events
        self._heap: list[tuple[datetime, str, str]] = []
        self._due: dict[tuple[str, str], datetime] = {}
        # The first pass (every customer) is due when the engine starts.
        self._first: datetime | None = entries.clock.now() if self.journeys else None
        self._negated = {
            jid: _negated(j.entry.condition)
            for jid, j in self.journeys.items()
            if j.entry.condition is not None
        }

    # ------------------------------------------------------------------ evaluation

    def evaluate(
        self,
        customer_id: str,
        at: datetime,
        profile: Profile,
        cause: str,
        records: list[InstanceRecord],
        outbox: list[OutboxEntry],
        done: Collection[str] = (),
    ) -> dict[str, str]:
        """Evaluate every ``entry when`` condition for ``customer_id`` at ``at`` (``cause``:
        the event type, ``profile_changed`` or ``change``; ``done``: journeys that took the
        event already); new instances go to ``records``, their effects to ``outbox``; returns
        the engine meta to commit with them."""
        meta: dict[str, str] = {}
        for journey in self.journeys.values():
            if journey.id in done:
                continue
            meta.update(self._one(journey, customer_id, at, profile, cause, records, outbox))
        return meta

    def _one(
        self,
        journey: ir.Journey,
        customer_id: str,
        at: datetime,
        profile: Profile,
        cause: str,
        records: list[InstanceRecord],
        outbox: list[OutboxEntry],
    ) -> dict[str, str]:
        condition = journey.entry.condition
        assert condition is not None
        key = meta_key(journey.id, customer_id)
        stored = self.state.get_meta(key)
        was = stored is not None and stored.startswith("1")
        probe = {"entered_at": iso(at), "customer_id": customer_id}
        ctx = EvalContext(
            self.events, at, probe, journey, profile, {}, {}, self.interpreter.history
        )
        holds, soonest = ctx.watch(condition)
        if holds:  # the instant time alone could make it false again
            _, soonest = ctx.watch(self._negated[journey.id])
        if holds and not was:
            trigger = EventRecord(customer_id, cause, at, {})
            inst = self.entries.enter(journey, customer_id, at, profile, trigger)
            if inst is not None:
                self.interpreter.run(journey, inst, journey.start, at, profile, outbox)
                records.append(inst)
        self._schedule(journey.id, customer_id, soonest)
        value = f"{'1' if holds else '0'}|{iso(soonest) if soonest else ''}"
        return {} if value == stored else {key: value}

    def _schedule(self, journey_id: str, customer_id: str, at: datetime | None) -> None:
        if at is None:
            self._due.pop((journey_id, customer_id), None)
            return
        self._due[(journey_id, customer_id)] = at
        heapq.heappush(self._heap, (at, journey_id, customer_id))

    def profile_changed(self, customer_id: str, now: datetime) -> list[str]:
        """The host changed the customer's profile: evaluate and commit; the new instances."""
        records: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        profile = self.profiles.get(customer_id)
        meta = self.evaluate(customer_id, now, profile, "profile_changed", records, outbox)
        if records or meta:
            self.state.commit(records + self.entries.handoffs.take(), outbox, meta=meta)
        return [str(i["id"]) for i in records]

    # ------------------------------------------------------------------ timers

    def next_time(self) -> datetime | None:
        """The earliest instant :meth:`fire` has work: the first pass, or a look again."""
        if self._first is not None:
            return self._first
        while self._heap and self._due.get(self._heap[0][1:]) != self._heap[0][0]:
            heapq.heappop(self._heap)  # (superseded by a later evaluation)
        return self._heap[0][0] if self._heap else None

    def fire(self, now: datetime) -> int:
        """The first pass when it is due, then every look again due at ``now``, each at its own
        instant; how many customers entered."""
        entered = self._first_pass(now) if self._first is not None else 0
        while (when := self.next_time()) is not None and when <= now:
            _, journey_id, customer_id = heapq.heappop(self._heap)
            del self._due[(journey_id, customer_id)]
            records: list[InstanceRecord] = []
            outbox: list[OutboxEntry] = []
            profile = self.profiles.get(customer_id)
            journey = self.journeys[journey_id]
            meta = self._one(journey, customer_id, when, profile, "change", records, outbox)
            if records or meta:
                self.state.commit(records + self.entries.handoffs.take(), outbox, meta=meta)
            entered += len(records)
        return entered

    def _first_pass(self, now: datetime) -> int:
        """Evaluate the customers never evaluated, and take the stored looks again."""
        assert self._first is not None
        at, self._first = self._first, None
        records: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        meta: dict[str, str] = {}
        for customer in sorted(self.profiles.customers()):
            for journey in self.journeys.values():
                stored = self.state.get_meta(meta_key(journey.id, customer))
                if stored is None:
                    profile = self.profiles.get(customer)
                    meta.update(
                        self._one(journey, customer, at, profile, "change", records, outbox)
                    )
                    continue
                looks = stored.partition("|")[2]
                if looks:
                    self._schedule(journey.id, customer, datetime.fromisoformat(looks))
        if records or meta:
            self.state.commit(records + self.entries.handoffs.take(), outbox, meta=meta)
        return len(records)


def _negated(condition: ir.CExpr | None) -> ir.CExpr:
    """``not condition``: watched while the condition holds, for the instant it may stop."""
    assert condition is not None
    fn = condition.fn
    return ir.CExpr(f"not ({condition.source})", condition.type, lambda ctx, ev: not fn(ctx, ev))
