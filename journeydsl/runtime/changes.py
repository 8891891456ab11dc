"""Entries on change (``entry when CONDITION``): a customer enters the moment the condition
becomes true.

The condition is evaluated for a customer on each of their events, when the host reports a
change of their profile (:meth:`journeydsl.runtime.engine.Engine.profile_changed`), and at the
instant time alone may change it (an event leaving a sliding window, as for a `wait for`
condition). Its last value is kept per journey and customer in the store's engine meta
(``when:JOURNEY:CUSTOMER`` → ``1|NEXT|AT`` or ``0|NEXT|AT``, ``NEXT`` the instant to look again,
``AT`` the instant it was evaluated as of), committed with what the evaluation did. A customer
enters on a change from false (or from never evaluated) to true, as the re-entry rule allows;
while it stays true, nothing more happens.

An event that arrives late, dated before the customer's last evaluation, is evaluated as of that
evaluation's instant (the customer's present), as a running instance takes it: evaluated as of
its own time, it would miss a crossing that the events after it complete (the customer would
not enter), or store a past false over a present true (the next event would enter them again).

The first time the engine runs such a journey it evaluates every customer whose value is not
stored yet (those for whom the condition already holds enter then), and it reads the stored
instants to look again, so the timers of time windows survive a restart.

**Workers** (a store that leases buckets of customers: :mod:`journeydsl.runtime.worker`): the
first pass and the instants to look again are kept per bucket, and the engine looks only at the
buckets the store is scoped to. A bucket's first pass runs the first time the engine works on it
under a lease, as of the bucket's clock; a bucket claimed again (its lease epoch moved on: another
worker may have run it meanwhile) is read again from the store. The stored value is the
customer's state, so its write is fenced on the customer's bucket.
"""

from __future__ import annotations

import heapq
import weakref
from collections.abc import Collection, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.evaluation import ConditionError, EvalContext, entry_failed
from journeydsl.runtime.hostcalls import StoreError, iso
from journeydsl.runtime.interpreter import Late
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.records import InstanceRecord

if TYPE_CHECKING:
    from journeydsl.runtime.engine import Engine
    from journeydsl.runtime.entry import Entries

__all__ = ["PROFILES_PER_COMMIT", "ChangeEntries", "look_again", "meta_key"]

#: How many customers' `entry when` conditions :func:`look_again` looks at in one commit.
PROFILES_PER_COMMIT = 500


def meta_key(journey_id: str, customer_id: str) -> str:
    """The engine meta key of a customer's last value of a journey's entry condition."""
    return f"when:{journey_id}:{customer_id}"


class GroupCommits(Protocol):
    """A store that groups commits (``with store.batch(): …``), as the SQLite and PostgreSQL
    stores do."""

    def batch(self) -> AbstractContextManager[Any]:
        """One transaction for everything inside the block."""
        ...


def look_again(engine: Engine, store: GroupCommits, customers: Sequence[str]) -> Iterator[int]:
    """Look at the `entry when` conditions of ``customers`` again, their profiles having been
    given again (a profiles file loaded): :meth:`~journeydsl.runtime.engine.Engine.profile_changed`
    for each, :data:`PROFILES_PER_COMMIT` customers to a commit (one sync for many); yields how
    many it looked at after each commit. A customer whose condition turned true enters; looking
    again at one whose profile did not change changes nothing, so a look again repeated after a
    crash neither loses nor repeats an entry (what ``journeydsl run --profiles`` does at its
    start, and each worker for the customers of its buckets)."""
    for i in range(0, len(customers), PROFILES_PER_COMMIT):
        chunk = customers[i : i + PROFILES_PER_COMMIT]
        with store.batch():
            for customer in chunk:
                engine.profile_changed(customer)
        yield len(chunk)


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
        self.clock = entries.clock
        # The instants to look again, by partition (a worker's bucket; None: the store is not
        # partitioned), and the one kept for each (journey, customer).
        self._heaps: dict[int | None, list[tuple[datetime, str, str]]] = {}
        self._due: dict[tuple[str, str], datetime] = {}
        # Partitions whose first pass ran, with the lease epoch it ran under.
        self._passed: dict[int, int] = {}
        # The first pass (every customer) is due when the engine is first asked for its work
        # (as of the clock's now then: a stream's clock starts at its first event); a worker's
        # runs per bucket, when the engine first works on it.
        self._first_due = bool(self.journeys) and _owner(self.state) is None
        self._first: datetime | None = None
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
        late: Late | None = None,
    ) -> dict[str, str]:
        condition = journey.entry.condition
        assert condition is not None
        key = meta_key(journey.id, customer_id)
        stored = self.state.get_meta(key)
        was, _, last = _parse(stored)
        if last is not None and last > at:  # a late event: as of the customer's present
            at = last
        probe = {"entered_at": iso(at), "customer_id": customer_id}
        ctx = EvalContext(
            self.events, at, probe, journey, profile, {}, {}, self.interpreter.history
        )
        try:
            holds, soonest = ctx.watch(condition)
            if holds:  # the instant time alone could make it false again
                _, soonest = ctx.watch(self._negated[journey.id])
        except StoreError as failure:
            raise failure.original from None
        except ConditionError as failure:  # a failing expression must not stop the engine
            entry_failed(journey.id, customer_id, "entry when", failure.original)
            holds, soonest = False, None
        if holds and not was:
            trigger = EventRecord(customer_id, cause, at, {})
            inst = self.entries.enter(journey, customer_id, at, profile, trigger)
            if inst is not None:
                self.interpreter.run(journey, inst, journey.start, at, profile, outbox, late)
                records.append(inst)
        self._schedule(journey.id, customer_id, soonest)
        value = f"{'1' if holds else '0'}|{iso(soonest) if soonest else ''}|{iso(at)}"
        return {} if value == stored else {key: value}

    def _schedule(self, journey_id: str, customer_id: str, at: datetime | None) -> None:
        if at is None:
            self._due.pop((journey_id, customer_id), None)
            return
        self._due[(journey_id, customer_id)] = at
        heap = self._heaps.setdefault(self._partition(customer_id), [])
        heapq.heappush(heap, (at, journey_id, customer_id))

    # ------------------------------------------------------------------ partitions (workers)

    def _partition(self, customer_id: str) -> int | None:
        """The bucket of ``customer_id`` under a worker's leases (None: not partitioned)."""
        state: Any = self.state  # (a worker's store: PostgresStore.bucket)
        return None if _owner(state) is None else int(state.bucket(customer_id))

    def _in_scope(self) -> list[int | None]:
        """The partitions the engine looks at now: under a worker's leases, the buckets the
        store is scoped to and leased (a bucket claimed again since its first pass here is
        forgotten, to be read again); else the one partition."""
        owner = _owner(self.state)
        if owner is None:
            return [None]
        scope = getattr(self.state, "scope", None) or ()
        held: list[int | None] = []
        for bucket in sorted(scope):
            epoch = owner.epochs.get(bucket)
            if epoch is None:
                continue
            if self._passed.get(bucket, epoch) != epoch:
                self._forget(bucket)
            held.append(bucket)
        return held

    def _forget(self, bucket: int) -> None:
        """Drop what is kept of ``bucket`` (its first pass runs again)."""
        self._passed.pop(bucket, None)
        for _, journey_id, customer_id in self._heaps.pop(bucket, []):
            self._due.pop((journey_id, customer_id), None)

    def _unpassed(self, partitions: list[int | None]) -> list[int]:
        """The buckets among ``partitions`` whose first pass has not run under their lease."""
        if not self.journeys:
            return []
        return [b for b in partitions if b is not None and b not in self._passed]

    def due_buckets(self, now: datetime) -> set[int]:
        """A worker's buckets held with work for :meth:`fire` at ``now``: a first pass not run,
        or an instant to look again that came (what a live worker ticks, beside its timers)."""
        owner = _owner(self.state)
        if owner is None or not self.journeys:
            return set()
        due = {b for b in owner.epochs if self._passed.get(b) != owner.epochs[b]}
        for bucket, heap in self._heaps.items():
            if bucket is not None and heap and heap[0][0] <= now and bucket in owner.epochs:
                due.add(bucket)
        return due

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
        if not self.journeys:
            return None  # (the engine asks after every step: nothing to look at)
        if self._first_due:
            if self._first is None:
                self._first = self.clock.now()
            return self._first
        partitions = self._in_scope()
        if self._unpassed(partitions):
            return self.clock.now()  # (a bucket's first pass: as of its clock)
        heap = self._earliest(partitions)
        return heap[0][0] if heap else None

    def _earliest(self, partitions: list[int | None]) -> list[tuple[datetime, str, str]] | None:
        """The heap of ``partitions`` with the earliest look again (superseded ones dropped)."""
        best: list[tuple[datetime, str, str]] | None = None
        for partition in partitions:
            heap = self._heaps.get(partition)
            if not heap:
                continue
            while heap and self._due.get(heap[0][1:]) != heap[0][0]:
                heapq.heappop(heap)  # (superseded by a later evaluation)
            if heap and (best is None or heap[0] < best[0]):
                best = heap
        return best

    def fire(self, now: datetime) -> int:
        """The first pass when it is due, then every look again due at ``now``, each at its own
        instant; how many customers entered."""
        if not self.journeys:
            return 0
        if self._first_due:
            entered = self._first_pass(now)
        else:
            partitions = self._in_scope()
            unpassed = self._unpassed(partitions)
            entered = self._first_pass(now, unpassed) if unpassed else 0
        while (when := self.next_time()) is not None and when <= now:
            heap = self._earliest(self._in_scope())
            assert heap is not None
            _, journey_id, customer_id = heapq.heappop(heap)
            del self._due[(journey_id, customer_id)]
            records: list[InstanceRecord] = []
            outbox: list[OutboxEntry] = []
            profile = self.profiles.get(customer_id)
            journey = self.journeys[journey_id]
            # A look again made late (the host did not tick) is a stale timer, as a segment's
            # evaluation is: its entry happens, but sends nothing to the customer.
            limit = journey.stale_after or self.entries.stale_after
            late = Late(now - when, limit) if limit and now - when > limit else None
            meta = self._one(journey, customer_id, when, profile, "change", records, outbox, late)
            if records or meta:
                self.state.commit(records + self.entries.handoffs.take(), outbox, meta=meta)
            entered += len(records)
        return entered

    def _first_pass(self, now: datetime, buckets: Collection[int] = ()) -> int:
        """Evaluate the customers never evaluated, and take the stored looks again (of a
        worker's ``buckets`` only, when given: each as of ``now``)."""
        if buckets:
            owner = _owner(self.state)
            assert owner is not None
            at = now
            self._passed.update((b, owner.epochs[b]) for b in buckets)
        else:
            at = self._first or now
            self._first_due, self._first = False, None
        records: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        meta: dict[str, str] = {}
        customers = sorted(self.profiles.customers())
        if buckets:
            customers = [c for c in customers if self._partition(c) in buckets]
        for customer in customers:
            for journey in self.journeys.values():
                stored = self.state.get_meta(meta_key(journey.id, customer))
                if stored is None:
                    profile = self.profiles.get(customer)
                    meta.update(
                        self._one(journey, customer, at, profile, "change", records, outbox)
                    )
                    continue
                looks = _parse(stored)[1]
                if looks is not None:
                    self._schedule(journey.id, customer, looks)
        if records or meta:
            self.state.commit(records + self.entries.handoffs.take(), outbox, meta=meta)
        return len(records)


def _parse(stored: str | None) -> tuple[bool, datetime | None, datetime | None]:
    """A stored ``VALUE|NEXT|AT`` (``AT`` missing in values stored before it was kept): the
    condition's last value, the instant to look again and the instant it was evaluated as of."""
    if stored is None:
        return False, None, None
    value, _, rest = stored.partition("|")
    looks, _, at = rest.partition("|")
    return (
        value == "1",
        datetime.fromisoformat(looks) if looks else None,
        datetime.fromisoformat(at) if at else None,
    )


def _owner(state: Any) -> Any:
    """The leases of a worker's store (an ``Ownership``), or None: the store is one engine's."""
    return getattr(state, "ownership", None)


def _negated(condition: ir.CExpr | None) -> ir.CExpr:
    """``not condition``: watched while the condition holds, for the instant it may stop."""
    assert condition is not None
    fn = condition.fn
    return ir.CExpr(f"not ({condition.source})", condition.type, lambda ctx, ev: not fn(ctx, ev))
