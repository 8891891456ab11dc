"""The connection at the heart of the SQLite store: its transactions, the callbacks that run once
one commits, and the caches those transactions keep valid (see "Caches" in
:mod:`journeydsl.runtime.stores.sqlite`).

:class:`StoreCore` is the base the store's parts (events, profiles, state) are written against;
:class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` opens the connection.
"""

from __future__ import annotations

import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Any

from journeydsl.runtime.protocols import Profile, keep_settled
from journeydsl.runtime.stores._due_index import DueIndex
from journeydsl.runtime.stores._sqlite_rows import _UPSERT_INSTANCE, _UPSERT_OUTBOX
from journeydsl.runtime.stores._sqlite_writes import WriteBatch

__all__ = ["BatchRolledBack", "StoreCore", "Transaction"]


class BatchRolledBack(sqlite3.OperationalError):
    """The open transaction (a host's :meth:`~journeydsl.runtime.stores.sqlite.SQLiteStore.batch`)
    was rolled back whole when the rows it held could not be written: until its block ends,
    every step and commit is refused with this (they would otherwise commit on their own,
    without the steps before them), and so is the block's end. Nothing of the batch was
    committed: ingest its events again in a new one."""

    def __init__(self, cause: BaseException) -> None:
        super().__init__(
            f"the batch was rolled back when its rows could not be written ({cause}); nothing "
            "of it was committed: end the batch and take its events again"
        )
        self.cause = cause


class StoreCore:
    """The connection, its transactions and the caches of a SQLite store (one thread, one
    connection; the store's parts read and write through :attr:`_conn`)."""

    #: The store's connection, in autocommit mode (opened by the store). Read it through
    #: :attr:`_conn`, which writes the open transaction's held rows first; the store's hot paths
    #: use it directly where the held rows cannot change what they read.
    _db: sqlite3.Connection

    def __init__(self, path: str, readonly: bool, live_cache: int = 50_000) -> None:
        self.path = path
        #: Whether the store was opened with ``readonly=True``.
        self.readonly = readonly
        #: SQLite's ``synchronous`` of the store's commits (set by the store as it opens).
        self.synchronous = "FULL"
        # The thread that may use the store (see single_threaded).
        self._owner_thread = threading.get_ident()
        # What the engine asks on every step, kept in memory (see "Caches" in the module
        # docstring): each is committed state, updated by this store's own writes and dropped
        # when a transaction rolls back or another connection commits (_fresh).
        self._profile_cache: dict[str, Profile] = {}
        # The distinct time zones of the profiles (what segment journeys evaluate in, asked
        # at every next_wakeup), when known; any profile write forgets them.
        self._timezones: frozenset[str] | None = None
        # The waiting instances' timers (id → due_utc, with due_iso) and the pending outbox
        # entries (key → not_before_utc, with the row the store reads back), when loaded.
        self._timers: DueIndex[str] | None = None
        self._pending: DueIndex[tuple[Any, ...]] | None = None
        # The live rows of the instances of the customers used last (see LiveRows), at most
        # ``live_cache`` customers: what the engine reads before every step of a customer.
        self._live = LiveRows(live_cache)
        self._data_version = -1
        self._version_checked = False  # in the open write transaction (see _fresh)
        # What runs once the open transaction commits (after_commit): the engine's deliveries.
        self._after: list[Callable[[], None]] = []
        # Whether the quarantine has rows; None: not known (release asks once).
        self._has_quarantine: bool | None = None
        # Whether processed_events has rows (markers of events not in the events table); None:
        # not known (processed() asks once).
        self._has_markers: bool | None = None
        # The rows the open transaction wrote and the file does not hold yet (see WriteBatch).
        self._writes = WriteBatch()
        # An event id that processed() found in no row of the open transaction: append() need
        # not ask the file again.
        self._absent_event: str | None = None
        # The transactions open now (a batch and its savepoints), and, once a failure writing
        # the held rows rolled the batch back, that failure (see BatchRolledBack).
        self._open = 0
        self._broken: BaseException | None = None

    @property
    def _conn(self) -> sqlite3.Connection:
        """The connection, with every row the open transaction holds written: what any
        statement sees is what the writes one by one would have left."""
        if self._writes.size:
            self._flush()
        return self._db

    def _flush(self, events_of: tuple[str, str] | None = None) -> None:
        """Write the rows held (see :class:`WriteBatch`); with ``events_of`` (a customer and an
        event type), only the events held, and only when one of them is of those (a read of
        other events needs nothing written). A failure ends the whole transaction: the writes
        it held were already taken as done by the steps that made them, so the transaction must
        not commit without them (its end then fails too, loudly)."""
        writes = self._writes
        if events_of is not None and events_of not in writes.event_keys:
            return
        self._absent_event = None  # (it may be written now)
        try:
            if events_of is not None:
                writes.flush_events(self._db)
            elif writes.flush(self._db, _UPSERT_INSTANCE, _UPSERT_OUTBOX):
                self._pending = None  # some entries existed: those rows were not written
        except BaseException as exc:
            try:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
            finally:
                self._rolled_back()
                if self._open:
                    self._broken = exc
            raise

    def _transaction(self) -> Transaction:
        return Transaction(
            self._db, self._rolled_back, self._began, self._committed, self._before_commit, self
        )

    def _before_commit(self) -> None:
        if self._writes.size:
            self._flush()

    def _rolled_back(self) -> None:
        self._forget()
        self._absent_event = None
        # (A savepoint wrote what was held before it began: what is held now came after it.)
        self._writes.end()
        if not self._db.in_transaction:
            self._after.clear()  # the work they were to follow was never committed

    def _committed(self) -> None:
        """Run the callbacks of the transaction that just committed, inside one transaction of
        their own: what they write (deliveries marking their entries settled) shares one sync
        to disk. One that raises stops the rest; what those before it wrote is committed.

        That transaction is committed without a sync of its own (``synchronous=NORMAL`` in WAL
        mode: durable when the process dies, and made durable against a power loss by the next
        commit's sync, which covers the whole log before it). What a power loss can take back is
        the outcome of a message already handed over: the entry is handed over again with the
        same idempotency key, as after a crash between the channel's answer and the commit."""
        self._writes.end()
        callbacks, self._after = self._after, []
        if not callbacks:
            return

        def run_all() -> None:
            for callback in callbacks:
                callback()  # (one that raises stops the rest)

        relax = self.synchronous in ("FULL", "EXTRA")
        if relax:
            self._conn.execute("PRAGMA synchronous=NORMAL")
        try:
            keep_settled(self._transaction, run_all)
        finally:
            if relax:
                self._conn.execute(f"PRAGMA synchronous={self.synchronous}")

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` once the transaction open now (a :meth:`batch`) has committed, in
        the order registered (:class:`~journeydsl.runtime.protocols.CommitHooks`); False, without
        calling it, when no transaction is open. A rollback drops the callbacks."""
        if not self._db.in_transaction:
            return False
        self._after.append(callback)
        return True

    def in_transaction(self) -> bool:
        """Whether a transaction (a :meth:`batch`) is open now
        (:class:`~journeydsl.runtime.protocols.CommitHooks`)."""
        return self._db.in_transaction

    def _began(self) -> None:
        self._version_checked = False
        self._absent_event = None
        self._writes.end()

    def _forget(self) -> None:
        """Drop every cache: what they hold may not be committed state any more."""
        self._profile_cache.clear()
        self._timezones = None
        self._live.clear()
        self._timers = None
        self._pending = None
        self._has_quarantine = None
        self._has_markers = None

    def _fresh(self) -> None:
        """Drop the caches if another connection committed to the file since the last look
        (``PRAGMA data_version``; inside a write transaction nobody else can commit, so once
        per transaction is enough)."""
        in_transaction = self._db.in_transaction
        if in_transaction and self._version_checked:
            return
        (version,) = self._db.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:
            self._forget()
            self._data_version = version
        self._version_checked = in_transaction

    def batch(self) -> Transaction:
        """A group commit: ``with store.batch(): ...`` puts every write of the block (each
        engine commit becomes a savepoint, still all or nothing) into one transaction, made
        durable, with one sync to disk, when the block ends, and rolled back as a whole if it
        raises. A host ingesting a stream commits, say, every few hundred events: throughput
        grows with the batch, and an event counts as processed (acknowledge it upstream) once
        its batch has ended. After a crash the host replays the batch; processed markers and
        idempotency keys make that safe. Batches nest (an inner one is a savepoint)."""
        return self._transaction()

    def step(self) -> AbstractContextManager[Any]:
        """One step of the engine's work (:class:`~journeydsl.runtime.protocols.GroupCommit`):
        a transaction of its own, or, inside an open one (a host's :meth:`batch`), simply part
        of it, without a savepoint: the commits inside stay all or nothing on their own, and an
        event appended by a step that then failed is harmless (appends are idempotent, and the
        event is not marked processed)."""
        if self._db.in_transaction:
            return nullcontext()
        return self._transaction()


class Transaction:
    """``BEGIN IMMEDIATE … COMMIT``, or ROLLBACK when the block raises. Inside a transaction
    already open (a :meth:`SQLiteStore.batch`), a savepoint: the block is still all or nothing,
    and the outer transaction makes it durable."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        on_rollback: Callable[[], None] | None = None,
        on_begin: Callable[[], None] | None = None,
        on_commit: Callable[[], None] | None = None,
        before_commit: Callable[[], None] | None = None,
        core: StoreCore | None = None,
    ) -> None:
        self._conn = conn
        self._core = core
        self._nested = False
        self._on_rollback = on_rollback
        self._on_begin = on_begin
        self._on_commit = on_commit
        self._before_commit = before_commit

    def __enter__(self) -> sqlite3.Connection:
        core = self._core
        if core is not None:
            if core._broken is not None:
                raise BatchRolledBack(core._broken)
            core._open += 1
        try:
            return self._begin()
        except BaseException:
            if core is not None:
                core._open -= 1
            raise

    def _begin(self) -> sqlite3.Connection:
        self._nested = self._conn.in_transaction
        if self._nested and self._before_commit is not None:
            self._before_commit()  # (what was written before the savepoint stays if it rolls back)
        self._conn.execute("SAVEPOINT journeydsl" if self._nested else "BEGIN IMMEDIATE")
        if not self._nested and self._on_begin is not None:
            self._on_begin()
        return self._conn

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        core = self._core
        if core is None:
            return self._end(exc_type)
        core._open -= 1
        broken = core._broken
        if broken is not None:  # (the batch is rolled back already: nothing to end)
            if not core._open:
                core._broken = None
            if exc_type is None:
                raise BatchRolledBack(broken)
            return None
        return self._end(exc_type)

    def _end(self, exc_type: type[BaseException] | None) -> None:
        if self._nested:
            if exc_type is None:
                self._conn.execute("RELEASE journeydsl")
                return
            self._forget()
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK TO journeydsl")
                self._conn.execute("RELEASE journeydsl")
            return
        if exc_type is None:
            try:
                if self._before_commit is not None:
                    self._before_commit()
                self._conn.execute("COMMIT")
            except BaseException:
                self._rollback()
                raise
            if self._on_commit is not None:
                self._on_commit()
            return
        self._rollback()

    def _forget(self) -> None:
        if self._on_rollback is not None:
            self._on_rollback()  # what was read inside may never have been committed

    def _rollback(self) -> None:
        try:
            # SQLite rolls back by itself on some errors (e.g. SQLITE_FULL): only end an open one.
            if self._conn.in_transaction:
                self._conn.execute("ROLLBACK")
        finally:
            self._forget()


#: A live row: an instance's stored record (JSON, without its log), its log's length and the
#: log's tail (JSON), as :func:`~journeydsl.runtime.stores._sqlite_rows._load_live` reads them.
LiveRow = tuple[str, int, str]


class LiveRows:
    """The live rows of the instances of the customers used last, by customer, most recently
    used last, each customer's in the order of their rows (oldest first); at most ``limit``
    customers (the least recently used are let go, and read again from the file when asked).

    A customer is kept whole or not at all, so that the instances of a customer kept are all of
    them. Rows are kept as the stored text (each read parses its own copy, which the engine may
    change as it likes). The store moves them with its own writes, after the statements
    succeeded; it drops them all when a transaction rolls back or another connection commits."""

    __slots__ = ("by_customer", "customer_of", "limit")

    def __init__(self, limit: int) -> None:
        if limit < 0:
            raise ValueError(f"live_cache must be 0 or more customers, not {limit}")
        self.limit = limit
        self.by_customer: OrderedDict[str, dict[str, LiveRow]] = OrderedDict()
        self.customer_of: dict[str, str] = {}

    def clear(self) -> None:
        """Forget every row."""
        self.by_customer.clear()
        self.customer_of.clear()

    def of_customer(self, customer_id: str) -> list[LiveRow] | None:
        """The customer's rows, oldest first, or None when they are not kept."""
        rows = self.by_customer.get(customer_id)
        if rows is None:
            return None
        self.by_customer.move_to_end(customer_id)
        return list(rows.values())

    def of_instance(self, instance_id: str) -> LiveRow | None:
        """One instance's row, or None when it is not kept."""
        customer = self.customer_of.get(instance_id)
        return None if customer is None else self.by_customer[customer][instance_id]

    def keep(self, customer_id: str, rows: list[tuple[str, str, int, str]]) -> None:
        """Keep a customer's rows as read from the file: ``(id, record, log_len, tail)``,
        oldest first (every row of the customer)."""
        if self.limit == 0 or any(type(iid) is not str for iid, *_ in rows):
            return
        self._drop(customer_id)
        self.by_customer[customer_id] = {iid: (rec, n, tail) for iid, rec, n, tail in rows}
        for iid, *_ in rows:
            self.customer_of[iid] = customer_id
        while len(self.by_customer) > self.limit:
            self._drop(next(iter(self.by_customer)))

    def written(self, instance_id: object, customer_id: object, row: LiveRow) -> None:
        """An instance row was written (inserted or replaced): keep it where its customer is
        kept (a new instance is its customer's newest row)."""
        if type(instance_id) is not str or type(customer_id) is not str:
            self.clear()  # (SQLite keeps such values as text: let the file say)
            return
        before = self.customer_of.get(instance_id)
        if before is not None and before != customer_id:
            self._drop(before)  # (the instance moved to another customer)
        rows = self.by_customer.get(customer_id)
        if rows is not None:
            rows[instance_id] = row
            self.customer_of[instance_id] = customer_id

    def _drop(self, customer_id: str) -> None:
        for iid in self.by_customer.pop(customer_id, {}):
            self.customer_of.pop(iid, None)
