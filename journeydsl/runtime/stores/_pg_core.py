"""The connection at the heart of the PostgreSQL store: its transactions (explicit ``BEGIN …
COMMIT``, savepoints inside), the callbacks that run once one commits, and the events and
profiles, the parts that need no more than the connection.

The semantics are the SQLite store's (:mod:`~journeydsl.runtime.stores._sqlite_core`): a
:meth:`PgCore.batch` is one transaction, each engine step inside it part of it; a commit of
several rows is all or nothing; :meth:`PgCore.after_commit` callbacks run once the transaction
has committed, inside one transaction of their own. The store keeps no caches: every read asks
the server, so several processes may read what the others committed.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, run_aggregate
from journeydsl.expr.types import Type
from journeydsl.runtime.codec import decode_map
from journeydsl.runtime.profiles import ProfilesLoaded, read_profiles_jsonl
from journeydsl.runtime.protocols import Profile, keep_settled
from journeydsl.runtime.stores._sqlite_rows import _dump_values, _profile_hash

if TYPE_CHECKING:
    import psycopg

__all__ = ["TIMEZONES_FOR", "PgCore", "PgTransaction", "aware"]

#: How long (seconds) the time zones of the profiles, read once, are kept: another process's
#: new profile in a new zone is seen by segment schedules within that time.
TIMEZONES_FOR = 10.0


def profile_of(customer_id: str, row: Sequence[Any] | None) -> Profile:
    """The profile a ``profiles`` row holds (attributes, consent, timezone, tags); None: the
    default profile of an unknown customer."""
    if row is None:
        return Profile(customer_id, known=False)
    attributes, consent, tz, tags = row
    return Profile(
        customer_id,
        decode_map(json.loads(attributes)),
        json.loads(consent),
        tz,
        frozenset(json.loads(tags)),
    )


def aware(t: datetime) -> datetime:
    """``t``, refused when naive (the store compares instants; a naive time names none)."""
    if t.utcoffset() is None:
        raise ValueError(f"naive datetime {t.isoformat()} (the store needs aware datetimes)")
    return t


class PgCore:
    """The connection, its transactions, the events and the profiles of a PostgreSQL store (one
    thread, one connection, in autocommit mode: transactions are explicit)."""

    _conn: psycopg.Connection[tuple[Any, ...]]

    def __init__(self, label: str, readonly: bool) -> None:
        #: How messages name the database (the DSN without its password).
        self.path = label
        self.readonly = readonly
        self._owner_thread = threading.get_ident()
        self._after: list[Callable[[], None]] = []
        # The distinct time zones of the profiles, by scope, with when they were read (segment
        # journeys ask at every next_wakeup): forgotten when this store writes a profile, and
        # read again after TIMEZONES_FOR seconds (another process may have written one).
        self._timezones: dict[str, tuple[float, frozenset[str]]] = {}

    # ------------------------------------------------------------------ transactions

    def _in_tx(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._conn.info.transaction_status != TransactionStatus.IDLE

    def _failed(self) -> bool:
        from psycopg.pq import TransactionStatus

        return self._conn.info.transaction_status == TransactionStatus.INERROR

    def _transaction(self) -> PgTransaction:
        return PgTransaction(self, self._committed)

    def _committed(self) -> None:
        """Run the callbacks of the transaction that just committed, inside one transaction of
        their own (as the SQLite store does): one that raises stops the rest, and what those
        before it wrote is committed."""
        callbacks, self._after = self._after, []
        if not callbacks:
            return

        def run_all() -> None:
            for callback in callbacks:
                callback()  # (one that raises stops the rest)

        keep_settled(self._transaction, run_all)

    def _transaction_ended(self) -> None:
        """Called when an outer transaction commits or rolls back (fencing forgets its checks)."""

    def _fence(self, customers: Iterable[str], buckets: Iterable[int] = ()) -> None:
        """Check the leases of the buckets of ``customers`` (nothing here: see ``PgBuckets``)."""

    def bucket(self, customer_id: str) -> int:
        """The bucket of ``customer_id`` (0 here: see ``PgBuckets``)."""
        return 0

    def _in_scope(self, column: str = "bucket") -> tuple[str, list[Any]]:
        """An ``AND`` clause keeping rows of the scoped buckets (none here: see ``PgBuckets``)."""
        return "", []

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` once the open transaction has committed; False when none is open
        (:class:`~journeydsl.runtime.protocols.CommitHooks`)."""
        if not self._in_tx():
            return False
        self._after.append(callback)
        return True

    def in_transaction(self) -> bool:
        """Whether a transaction (a :meth:`batch`) is open now."""
        return self._in_tx()

    def batch(self) -> PgTransaction:
        """A group commit, as :meth:`SQLiteStore.batch
        <journeydsl.runtime.stores.sqlite.SQLiteStore.batch>`: one transaction for the block,
        committed when it ends, rolled back as a whole if it raises; an inner one is a
        savepoint."""
        return self._transaction()

    def step(self) -> AbstractContextManager[Any]:
        """One step of the engine's work (:class:`~journeydsl.runtime.protocols.GroupCommit`):
        a transaction of its own, or part of the open one."""
        if self._in_tx():
            return nullcontext()
        return self._transaction()

    # ------------------------------------------------------------------ events

    def append(self, event_id: str, event: EventRecord) -> bool:
        """Store ``event`` once per id; False for a duplicate (a worker's write: fenced)."""
        self._fence((event.customer_id,))
        cur = self._conn.execute(
            "INSERT INTO events (id, customer_id, type, at, at_iso, data) "
            "VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (id) DO NOTHING",
            (
                event_id,
                event.customer_id,
                event.type,
                aware(event.at),
                event.at.isoformat(),
                _dump_values(event.data),
            ),
        )
        return cur.rowcount == 1

    @staticmethod
    def _window(
        customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> tuple[str, list[Any]]:
        sql = "customer_id = %s AND type = %s"
        args: list[Any] = [customer_id, event_type]
        if start is not None:
            sql += " AND at >= %s"
            args.append(aware(start))
        if end is not None:
            sql += " AND at <= %s"
            args.append(aware(end))
        return sql, args

    def events(
        self, customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> Sequence[EventRecord]:
        """Events with ``start <= at <= end`` (as instants), oldest first; arrival order breaks
        ties."""
        where, args = self._window(customer_id, event_type, start, end)
        rows = self._conn.execute(
            f"SELECT at_iso, data FROM events WHERE {where} ORDER BY at, seq", args
        ).fetchall()
        return [
            EventRecord(
                customer_id, event_type, datetime.fromisoformat(at), decode_map(json.loads(d))
            )
            for at, d in rows
        ]

    def aggregate(
        self,
        customer_id: str,
        query: AggregateQuery,
        start: datetime | None,
        end: datetime | None,
        ctx: EvalContext,
    ) -> Any:
        """``query`` over the window: ``count`` and ``has`` (without ``where``) in SQL, every
        other one folded by :func:`~journeydsl.expr.context.run_aggregate` over :meth:`events`
        (exact, and the same answer by construction)."""
        if query.where is None and query.func in ("count", "has"):
            where, args = self._window(customer_id, query.event, start, end)
            if query.func == "count":
                row = self._conn.execute(f"SELECT count(*) FROM events WHERE {where}", args)
                return int(row.fetchone()[0])  # type: ignore[index]
            row = self._conn.execute(f"SELECT EXISTS (SELECT 1 FROM events WHERE {where})", args)
            return bool(row.fetchone()[0])  # type: ignore[index]
        return run_aggregate(query, self.events(customer_id, query.event, start, end), ctx)

    def last_time(self, customer_id: str, event_type: str, before: datetime) -> datetime | None:
        """When the latest ``event_type`` at or before ``before`` happened (its own offset)."""
        row = self._conn.execute(
            "SELECT at_iso FROM events WHERE customer_id = %s AND type = %s AND at <= %s "
            "ORDER BY at DESC, seq DESC LIMIT 1",
            (customer_id, event_type, aware(before)),
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def all(self) -> list[EventRecord]:
        """Every stored event, by time (arrival order breaks ties)."""
        rows = self._conn.execute(
            "SELECT customer_id, type, at_iso, data FROM events ORDER BY at, seq"
        ).fetchall()
        return [
            EventRecord(c, t, datetime.fromisoformat(at), decode_map(json.loads(d)))
            for c, t, at, d in rows
        ]

    # ------------------------------------------------------------------ profiles

    def get(self, customer_id: str) -> Profile:
        """The profile; an unknown customer gets a default one (no consent, default zone)."""
        row = self._conn.execute(
            "SELECT attributes, consent, timezone, tags FROM profiles WHERE customer_id = %s",
            (customer_id,),
        ).fetchone()
        return profile_of(customer_id, row)

    def _put(self, p: Profile, source_hash: str | None = None) -> None:
        self._timezones.clear()
        self._conn.execute(
            "INSERT INTO profiles (customer_id, attributes, consent, timezone, tags, source_hash, "
            "bucket) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (customer_id) DO UPDATE SET "
            "attributes = excluded.attributes, consent = excluded.consent, "
            "timezone = excluded.timezone, tags = excluded.tags, "
            "source_hash = coalesce(excluded.source_hash, profiles.source_hash)",
            (
                p.customer_id,
                _dump_values(p.attributes),
                json.dumps(dict(p.consent), sort_keys=True),
                p.timezone,
                json.dumps(sorted(p.tags), ensure_ascii=False),
                source_hash,
                self.bucket(p.customer_id),
            ),
        )

    def add(self, profile: Profile) -> None:
        """Add or replace a profile."""
        self.add_profiles([profile])

    def add_profiles(self, profiles: Iterable[Profile]) -> int:
        """Add or replace profiles in one transaction; returns how many."""
        n = 0
        with self._transaction():
            for p in profiles:
                self._put(p)
                n += 1
        return n

    def update(self, customer_id: str, attribute: str, value: Any) -> None:
        """Set one attribute (an unknown customer becomes known)."""
        with self._transaction():
            p = self.get(customer_id)
            attributes = {**p.attributes, attribute: value}
            self._put(Profile(customer_id, attributes, p.consent, p.timezone, p.tags))

    def tag(self, customer_id: str, tag: str, remove: bool = False) -> None:
        """Add or remove a tag."""
        with self._transaction():
            p = self.get(customer_id)
            tags = p.tags - {tag} if remove else p.tags | {tag}
            self._put(Profile(customer_id, p.attributes, p.consent, p.timezone, tags))

    def customers(self) -> Iterable[str]:
        """Every known customer (of the scoped buckets), in the order they became known."""
        where, args = self._in_scope()
        rows = self._conn.execute(
            f"SELECT customer_id FROM profiles WHERE TRUE{where} ORDER BY seq", args
        )
        return [c for (c,) in rows]

    def timezones(self) -> set[str]:
        """The distinct time zones of known customers (of the scoped buckets); kept for
        :data:`TIMEZONES_FOR` seconds, or until this store writes a profile."""
        where, args = self._in_scope()
        key = repr(args)
        now = time.monotonic()
        kept = self._timezones.get(key)
        if kept is None or now - kept[0] > TIMEZONES_FOR:
            rows = self._conn.execute(
                f"SELECT DISTINCT timezone FROM profiles WHERE TRUE{where}", args
            )
            kept = (now, frozenset(tz for (tz,) in rows))
            if len(self._timezones) >= 4096:
                self._timezones.clear()
            self._timezones[key] = kept
        return set(kept[1])

    def load_profiles_jsonl(
        self, path: str | Path, attribute_types: Mapping[str, Type] | None = None
    ) -> ProfilesLoaded:
        """Load a profiles JSON Lines file in one transaction, leaving unchanged lines alone
        (as :meth:`SQLiteStore.load_profiles_jsonl
        <journeydsl.runtime.stores.sqlite.SQLiteStore.load_profiles_jsonl>`)."""
        problems: list[str] = []
        customers: list[str] = []
        lines = list(read_profiles_jsonl(path, attribute_types))
        with self._transaction():
            for item in lines:
                if item.profile is None:
                    problems.append(f"{path}:{item.line}: {item.error}")
                    continue
                digest = _profile_hash(item.profile)
                row = self._conn.execute(
                    "SELECT source_hash FROM profiles WHERE customer_id = %s",
                    (item.profile.customer_id,),
                ).fetchone()
                if row is None or row[0] != digest:
                    self._put(item.profile, digest)
                customers.append(item.profile.customer_id)
        return ProfilesLoaded(len(customers), problems, customers)


class PgTransaction:
    """``BEGIN … COMMIT``, or ROLLBACK when the block raises; inside an open transaction, a
    savepoint (the block is still all or nothing; the outer transaction makes it durable)."""

    def __init__(self, core: PgCore, on_commit: Callable[[], None]) -> None:
        self._core = core
        self._nested = False
        self._on_commit = on_commit

    def __enter__(self) -> PgCore:
        conn = self._core._conn
        self._nested = self._core._in_tx()
        conn.execute("SAVEPOINT journeydsl" if self._nested else "BEGIN")
        return self._core

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        conn = self._core._conn
        if not self._nested:
            self._core._transaction_ended()
        if self._nested:
            if exc_type is None:
                conn.execute("RELEASE journeydsl")
                return
            # (a connection that broke cannot roll back: the error that broke it is the one told)
            with contextlib.suppress(Exception):
                conn.execute("ROLLBACK TO journeydsl")
                conn.execute("RELEASE journeydsl")
            return
        if exc_type is None:
            try:
                if self._core._failed():
                    # PostgreSQL would answer COMMIT with a silent ROLLBACK: say so instead.
                    raise RuntimeError(
                        f"{self._core.path}: a statement of this transaction failed (its error "
                        "was caught); the transaction was rolled back"
                    )
                conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            self._on_commit()
            return
        self._rollback()

    def _rollback(self) -> None:
        conn = self._core._conn
        try:
            # (the error being raised says why; a broken connection's ROLLBACK must not hide it)
            with contextlib.suppress(Exception):
                if not conn.closed and self._core._in_tx():
                    conn.execute("ROLLBACK")
        finally:
            self._core._after.clear()  # the work they were to follow was never committed
