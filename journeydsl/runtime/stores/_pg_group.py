"""A worker's group commits on the PostgreSQL store: what a group's events need, read at once.

A live :class:`~journeydsl.runtime.worker.Worker` takes a bucket's events in groups, one
transaction each (:meth:`~journeydsl.runtime.stores._pg_core.PgCore.batch`). Inside that
transaction, :meth:`PgGroup.prefetched` reads in four statements what the engine would
otherwise ask once per event, each a round trip to the server:

* which of the group's event ids are processed already, and which are quarantined (the
  engine's duplicate check, and the quarantine release after a taken event, which then costs
  nothing for an event that was never quarantined);
* the profiles of the group's customers;
* the live instance rows of the group's customers (kept in step with what the group's steps
  write, so the next event of a customer reads what was written).

The steps of a group share its transaction without savepoints: one that fails rolls the whole
group back (its events stay in the inbox, for the next pass).

An event a step appends is written when the step commits, with its processed marker, in one
statement (a read of the events before that, an aggregate say, writes it first): the same rows,
one round trip fewer. And the deliveries each event's step asks for once the transaction commits
(:meth:`~journeydsl.runtime.stores._pg_core.PgCore.after_commit`, the engine's
``deliver(now)``) are asked once for the group, at the latest ``now`` of its steps: delivering
what is due then delivers what was due at each earlier one, without a query per event.

What the block's writes change is kept in step (a marker, a quarantine, a profile or instance
write), and everything is forgotten when the block ends: nothing outlives the transaction.
Reading these once at the start of the group is safe because only the lease holder of the
bucket writes its customers' state, and its commit is fenced: were the lease lost in between,
the group would be rolled back whole.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord
from journeydsl.runtime.protocols import Profile
from journeydsl.runtime.stores._pg_core import PgCore, PgTransaction, aware, profile_of
from journeydsl.runtime.stores._pg_state import PgStatePart
from journeydsl.runtime.stores._sqlite_rows import InstanceWrite, _dump_values

__all__ = ["PgGroup"]


@dataclass(slots=True)
class _Known:
    """What the open group knows: its event ids, and what was read for them."""

    ids: frozenset[str]
    processed: set[str] = field(default_factory=set)
    quarantined: set[str] = field(default_factory=set)
    #: Profile rows by customer (None: no profile).
    profiles: dict[str, tuple[Any, ...] | None] = field(default_factory=dict)
    #: Live instance rows by customer.
    live: dict[str, list[tuple[str, str, int, str]]] = field(default_factory=dict)
    #: Events appended but not written yet (by id: the INSERT's arguments).
    pending: dict[str, tuple[Any, ...]] = field(default_factory=dict)


class PgGroup(PgStatePart):
    """:meth:`prefetched`, and the reads and writes that use and update what it read."""

    _group: _Known | None = None

    @contextlib.contextmanager
    def prefetched(self, event_ids: Iterable[str], customers: Iterable[str]) -> Iterator[None]:
        """Inside an open transaction, read for these events and customers what the engine
        asks for each, and answer from it until the block ends."""
        ids = sorted(set(event_ids))
        who = sorted(set(customers))
        known = _Known(frozenset(ids))
        conn = self._conn
        known.processed.update(
            i
            for (i,) in conn.execute(
                "SELECT id FROM events WHERE id = ANY(%s) AND processed "
                "UNION SELECT id FROM processed_events WHERE id = ANY(%s)",
                (ids, ids),
            )
        )
        known.quarantined.update(
            i for (i,) in conn.execute("SELECT id FROM quarantine WHERE id = ANY(%s)", (ids,))
        )
        known.profiles = dict.fromkeys(who)
        for cid, *row in conn.execute(
            "SELECT customer_id, attributes, consent, timezone, tags FROM profiles "
            "WHERE customer_id = ANY(%s)",
            (who,),
        ):
            known.profiles[cid] = tuple(row)
        known.live = {c: [] for c in who}
        for cid, *live in conn.execute(
            "SELECT customer_id, id, record, log_len, tail FROM instances "
            "WHERE customer_id = ANY(%s) ORDER BY seq",
            (who,),
        ):
            known.live[cid].append((live[0], live[1], live[2], live[3]))
        self._group = known
        try:
            yield
            self._flush()
        finally:
            self._group = None

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """As the store's, but in a group a callback of the same function as the one before
        (the engine's deliveries at another ``now``) is kept once, with the later arguments."""
        if not super().after_commit(callback):
            return False
        after = self._after
        if (
            self._group is not None
            and len(after) >= 2
            and isinstance(callback, functools.partial)
            and isinstance(after[-2], functools.partial)
            and after[-2].func == callback.func
            and not callback.keywords
            and not after[-2].keywords
        ):
            del after[-2 if after[-2].args <= callback.args else -1]
        return True

    def timer_buckets(self, buckets: Iterable[int], now: datetime) -> list[int]:
        """Those of ``buckets`` with a timer or a pending delivery due at ``now`` (what a live
        worker ticks between its full sweeps)."""
        wanted = sorted(buckets)
        rows = self._conn.execute(
            "SELECT bucket FROM instances WHERE status = 'waiting' AND due <= %s "
            "AND bucket = ANY(%s) UNION "
            "SELECT bucket FROM outbox WHERE status = 'pending' AND not_before <= %s "
            "AND bucket = ANY(%s)",
            (now, wanted, now, wanted),
        ).fetchall()
        return sorted(int(b) for (b,) in rows)

    # ------------------------------------------------------------------ events
    # An event appended in a group is written with its processed marker, in one statement,
    # when its step commits; a read of the events before that writes it first.

    def append(self, event_id: str, event: EventRecord) -> bool:
        known = self._group
        if known is None or event_id not in known.ids or event_id in known.pending:
            return super().append(event_id, event)
        self._fence((event.customer_id,))
        known.pending[event_id] = (
            event_id,
            event.customer_id,
            event.type,
            aware(event.at),
            event.at.isoformat(),
            _dump_values(event.data),
        )
        return True

    def _flush(self) -> None:
        """Write the events appended and not written yet (unmarked)."""
        known = self._group
        if known is None or not known.pending:
            return
        rows = list(known.pending.values())
        known.pending.clear()
        with self._conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO events (id, customer_id, type, at, at_iso, data) "
                "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
                rows,
            )

    def events(
        self, customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> Sequence[EventRecord]:
        self._flush()
        return super().events(customer_id, event_type, start, end)

    def aggregate(
        self,
        customer_id: str,
        query: AggregateQuery,
        start: datetime | None,
        end: datetime | None,
        ctx: EvalContext,
    ) -> Any:
        self._flush()
        return super().aggregate(customer_id, query, start, end, ctx)

    def last_time(self, customer_id: str, event_type: str, before: datetime) -> datetime | None:
        self._flush()
        return super().last_time(customer_id, event_type, before)

    def all(self) -> list[EventRecord]:
        self._flush()
        return super().all()

    def latest_event_time(self) -> datetime | None:
        self._flush()
        return super().latest_event_time()

    def processed(self, event_id: str) -> bool:
        known = self._group
        if known is not None and event_id in known.ids:
            return event_id in known.processed
        return super().processed(event_id)

    def _mark(self, marker: str) -> None:
        known = self._group
        row = known.pending.pop(marker, None) if known is not None else None
        if row is None:
            super()._mark(marker)
        else:
            self._conn.execute(
                "INSERT INTO events (id, customer_id, type, at, at_iso, data, processed) "
                "VALUES (%s, %s, %s, %s, %s, %s, TRUE) "
                "ON CONFLICT (id) DO UPDATE SET processed = TRUE",
                row,
            )
        if known is not None:
            known.processed.add(marker)

    def quarantine(self, event_id: str, event: str, reason: str, seen: datetime) -> None:
        super().quarantine(event_id, event, reason, seen)
        if self._group is not None:
            self._group.quarantined.add(event_id)

    def release(self, event_id: str) -> bool:
        known = self._group
        if known is not None and event_id in known.ids and event_id not in known.quarantined:
            return False
        if known is not None:
            known.quarantined.discard(event_id)
        return super().release(event_id)

    # ------------------------------------------------------------------ profiles

    def get(self, customer_id: str) -> Profile:
        known = self._group
        if known is None or customer_id not in known.profiles:
            return super().get(customer_id)
        return profile_of(customer_id, known.profiles[customer_id])

    def _put(self, p: Profile, source_hash: str | None = None) -> None:
        super()._put(p, source_hash)
        if self._group is not None:
            self._group.profiles.pop(p.customer_id, None)

    # ------------------------------------------------------------------ instances

    def _live_rows_of(self, customer_id: str) -> list[tuple[str, str, int, str]]:
        known = self._group
        if known is not None and customer_id in known.live:
            return list(known.live[customer_id])
        return super()._live_rows_of(customer_id)

    def _write_instances(self, writes: Sequence[InstanceWrite]) -> None:
        super()._write_instances(writes)
        known = self._group
        if known is None:
            return
        for w in writes:  # (the live row as the server now holds it: id, record, log_len, tail)
            rows = known.live.get(str(w.row[1]))
            if rows is None:
                continue
            row = (str(w.row[0]), str(w.row[7]), int(w.row[8]), str(w.row[9]))
            at = next((i for i, r in enumerate(rows) if r[0] == row[0]), None)
            if at is None:
                rows.append(row)
            else:
                rows[at] = row

    # ------------------------------------------------------------------ transactions

    def _transaction(self) -> PgTransaction:
        """In a group, a step's transaction is the group's (no savepoint: a step that fails
        rolls the whole group back)."""
        if self._group is not None:
            return _Joined(self, self._committed)
        return super()._transaction()


class _Joined(PgTransaction):
    """A block that joins the open transaction as it is."""

    def __enter__(self) -> PgCore:
        return self._core

    def __exit__(self, *exc: object) -> None:
        return None
