"""The SQLite store: events, profiles and durable engine state in one file.

One :class:`SQLiteStore` implements :class:`~journeydsl.runtime.protocols.EventStore`,
:class:`~journeydsl.runtime.protocols.ProfileStore` and
:class:`~journeydsl.runtime.protocols.StateStore` over a single connection, so
``Engine(events=store, profiles=store, state=store, ...)`` is the embedded default. Its behaviour
matches :mod:`journeydsl.runtime.stores.memory` (the contract tests run both).

Durability: WAL journal, ``synchronous=FULL`` by default, and every :meth:`SQLiteStore.commit` is
one ``BEGIN IMMEDIATE … COMMIT`` transaction, rolled back on any error. One kind of transaction
goes without a sync of its own: what runs once a host's batch committed (its deliveries' outcomes,
see :meth:`~journeydsl.runtime.stores._sqlite_core.StoreCore._committed`), which the next commit's
sync makes durable; a power loss before it hands those messages over again, with the same
idempotency keys.

Times are stored twice: ``*_utc`` columns hold a fixed-width UTC text
(``2026-01-05T03:00:00.000000Z``) that sorts and compares as the instant, the ``*_iso`` columns (or
the JSON record) keep the original offset, which is what the store hands back.

Schema (version :data:`SCHEMA_VERSION`, kept in the ``meta`` table):

* ``events(seq, id UNIQUE, customer_id, type, at_utc, at_iso, data, processed)``; ``seq`` is
  the arrival order (it breaks ties between events at the same instant, and an
  ``INTEGER PRIMARY KEY`` survives ``VACUUM``, unlike a bare rowid). Index
  ``(customer_id, type, at_utc, seq)`` serves windows, ``last_time`` and every aggregate.
* ``profiles(seq, customer_id UNIQUE, attributes, consent, timezone, tags, source_hash)``.
* ``instances(seq, id UNIQUE, customer_id, journey, version, status, due_utc, due_iso, record,
  log_len, tail)``, indexed by ``(customer_id, seq)`` and, for waiting instances only,
  ``(due_utc, id)``. ``record`` is the record's JSON with ``"log": null``: the decision log is
  kept in ``decisions(instance, n, entries)``, one row per step that appended to it (``n`` is the
  number of its first entry), and the row keeps the log's length and its tail, what a live
  record holds (:class:`~journeydsl.runtime.protocols.LiveRecords`; schema version 4).
* ``outbox(key PRIMARY KEY, kind, customer_id, payload, not_before_utc, not_before_iso, attempts,
  status)``, indexed by ``(status, not_before_utc, key)``.
* ``processed_events(id PRIMARY KEY)``: the processed markers of events this store does not
  hold and of runs of some journeys (a stored event's marker is its row's ``processed``
  column, from schema version 4); ``engine_meta(key PRIMARY KEY, value)``.
* ``contacts(seq, key UNIQUE, customer_id, at_utc, at_iso, channel, category, journey,
  template)``, indexed by ``(customer_id, at_utc)``: the contact history frequency caps count
  (schema version 2).
* ``quarantine(seq, id UNIQUE, event, reason, first_seen, last_seen, count, replay)``: events the
  engine could not take, kept to be corrected and replayed (schema version 3; before it, a
  quarantined event was marked processed and kept nowhere).
* ``journey_control(journey PRIMARY KEY, state, since_iso, actor, reason, detail)``,
  ``control_audit(seq, at_iso, journey, action, actor, reason, detail)`` and
  ``held_events(seq, journey, event_id, customer_id, event, UNIQUE (journey, event_id))``: the
  control of live journeys (schema version 5, :mod:`journeydsl.runtime.control`).

There are no foreign keys between these tables on purpose: a customer may have events and
instances without a profile, and outbox entries outlive the state that produced them.

Caches: the engine asks the same things around every step, so the store keeps in memory the
profiles read (:data:`PROFILE_CACHE`), the live instance rows of the customers used last (an LRU
of ``live_cache`` customers, :class:`~journeydsl.runtime.stores._sqlite_core.LiveRows`: the
engine reads a customer's instances before each of their steps), and the waiting instances'
timers and the pending outbox entries (:class:`~journeydsl.runtime.stores._due_index.DueIndex`:
``next_wakeup`` asks for the earliest of both after every host call, and ``tick`` and delivery
for what is due). They hold committed state only, or state of the open transaction: this store's
own writes move them once the statements succeed, any rollback drops them, and so does a commit by
another connection (``PRAGMA data_version``, looked at before every cached read, once per write
transaction).

The store is assembled from one part per job: the schema and its migrations
(:mod:`~journeydsl.runtime.stores._sqlite_schema`), the row codecs
(:mod:`~journeydsl.runtime.stores._sqlite_rows`), the connection with its transactions and caches
(:mod:`~journeydsl.runtime.stores._sqlite_core`), the events
(:mod:`~journeydsl.runtime.stores._sqlite_events`), the profiles
(:mod:`~journeydsl.runtime.stores._sqlite_profiles`), the engine state
(:mod:`~journeydsl.runtime.stores._sqlite_state`), and what keeps the store to its contract
(:mod:`~journeydsl.runtime.stores._sqlite_guards`).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import TracebackType
from typing import Literal, Self

from journeydsl.runtime.profiles import ProfileLine, parse_profile, read_profiles_jsonl
from journeydsl.runtime.stores._sqlite_control import ControlPart
from journeydsl.runtime.stores._sqlite_core import BatchRolledBack
from journeydsl.runtime.stores._sqlite_events import EventsPart
from journeydsl.runtime.stores._sqlite_guards import (
    DatabaseInUse,
    StoreThreadError,
    StoreUnavailable,
    WriterLock,
    single_threaded,
    storage_error,
)
from journeydsl.runtime.stores._sqlite_profiles import PROFILE_CACHE, ProfilesPart
from journeydsl.runtime.stores._sqlite_schema import (
    SCHEMA_VERSION,
    check_database,
    migrate,
    readonly_uri,
    refuse_foreign,
    require_current,
)
from journeydsl.runtime.stores._sqlite_state import StatePart
from journeydsl.runtime.stores.sqlite_budgets import SQLiteBudgetsPart

__all__ = [
    "PROFILE_CACHE",
    "SCHEMA_VERSION",
    "BatchRolledBack",
    "DatabaseInUse",
    "ProfileLine",
    "SQLiteStore",
    "StoreThreadError",
    "StoreUnavailable",
    "check_database",
    "parse_profile",
    "read_profiles_jsonl",
    "storage_error",
]

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]


@single_threaded
class SQLiteStore(EventsPart, ProfilesPart, StatePart, ControlPart, SQLiteBudgetsPart):
    """Events, profiles and engine state in one SQLite file (see the module docstring).

    ``synchronous`` is SQLite's ``PRAGMA synchronous``: ``FULL`` (the default) makes every commit
    durable across power loss; ``NORMAL`` is durable across process crashes only. Close the store
    (or use it as a context manager) when done.

    One writer per file, one thread per store (docs/embedding.md, "Threads and processes"): a
    store holds the file's writer lock (``<path>.lock``) while it is open, so a second one on
    the same file, in this process or another, raises :class:`DatabaseInUse`; and a store used
    from another thread than the one that opened it raises :class:`StoreThreadError`.
    ``readonly=True`` opens the file for reading only, without the lock (any number of readers,
    beside the writer), and neither creates nor migrates it. A file that cannot be used (not a
    database, damaged, newer schema, cannot be written …) raises :class:`StoreUnavailable`
    naming the file and the problem.

    ``live_cache`` is how many customers' live instance rows the store keeps in memory (the
    least recently used are let go and read again when asked; ``0`` keeps none): about 2 kB a
    customer. ``cache_mb`` is SQLite's page cache of the writer's connection (``PRAGMA
    cache_size``; SQLite's own default is 2 MB): the pages of the indexes that every event
    touches, for a file past a few hundred megabytes.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        timeout: float = 30.0,
        readonly: bool = False,
        live_cache: int = 50_000,
        cache_mb: int = 64,
    ) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        if cache_mb < 0:
            raise ValueError(f"cache_mb must be 0 or more megabytes, not {cache_mb}")
        if str(path) == "":
            raise ValueError(
                "the SQLite store needs a database file, not an empty path (SQLite would open "
                "a temporary database that is lost when the store closes; ':memory:' says so "
                "on purpose)"
            )
        if readonly and str(path) == ":memory:":
            raise ValueError("a read-only store needs a database file, not an empty memory one")
        super().__init__(str(path), readonly, live_cache)
        # The writer lock comes first: a store refused the file must not touch it (not even to
        # switch it to WAL), and a run refused the file must not touch its actions file.
        self._lock = None if readonly else WriterLock.take(self.path)
        try:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE … COMMIT) where they
            # matter.
            if readonly:
                self._db = sqlite3.connect(
                    readonly_uri(self.path), timeout=timeout, isolation_level=None, uri=True
                )
            else:
                self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            try:
                if readonly:
                    self._check_readable()
                else:
                    refuse_foreign(self._conn, self.path)
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute(f"PRAGMA synchronous={synchronous}")
                    self.synchronous = synchronous
                    self._conn.execute(f"PRAGMA cache_size=-{cache_mb * 1024}")
                    self._conn.execute("PRAGMA foreign_keys=ON")
                    self._migrate()
            except BaseException:
                self._db.close()
                raise
        except sqlite3.Error as exc:
            self._release()
            problem = storage_error(self.path, exc) or StoreUnavailable(
                self.path, f"cannot be opened as a journeydsl database ({exc})"
            )
            raise problem from exc
        except BaseException:
            self._release()
            raise

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        """Close the connection and let go of the writer lock (idempotent)."""
        try:
            self._writes.end()  # (an open transaction is rolled back with the connection)
            self._db.close()
        finally:
            self._release()

    def _release(self) -> None:
        lock, self._lock = self._lock, None
        if lock is not None:
            lock.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ------------------------------------------------------------------ schema

    def _migrate(self) -> None:
        with self._transaction() as db:
            migrate(db, self.path)

    def _check_readable(self) -> None:
        """A read-only store neither creates nor migrates: the file must have this schema."""
        require_current(self.path, self._conn)

    def schema_version(self) -> int:
        """The schema version of the open file."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])
