"""The PostgreSQL store: events, profiles and durable engine state in one PostgreSQL database.

:class:`PostgresStore` implements the same protocols as
:class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` (EventStore, ProfileStore, StateStore,
ContactHistory, Quarantine, GroupCommit, CommitHooks, LiveRecords) with the same semantics, and
the store contract tests run on both. It needs psycopg 3 (``pip install 'journeydsl[postgres]'``);
journeydsl imports it only when a PostgreSQL store is opened.

* **Connection and transactions.** One connection per store, used from the thread that opened it
  (as the SQLite store); it runs in autocommit mode and the store opens transactions itself:
  every :meth:`commit` of several rows, every :meth:`batch` (one transaction for a group of
  engine steps; a nested one is a savepoint). Each session runs in UTC.
* **Schema.** Versioned in the ``meta`` table (:data:`SCHEMA_VERSION`, its own numbering);
  a writable store migrates the database when it opens it (under an advisory lock, so two
  processes starting together migrate once) unless ``migrate=False`` (then the database must
  have this schema: what ``journeydsl run`` does without ``--migrate``); ``journeydsl db migrate
  --db DSN`` migrates alone.
  A database of a newer schema is refused, naming the server and database
  (:class:`~journeydsl.runtime.stores._sqlite_guards.StoreUnavailable`). The tables are in
  :mod:`~journeydsl.runtime.stores._pg_schema`.
* **Values.** Instants are ``timestamptz`` (ordering, windows) beside the original ISO text
  handed back with its offset; records, payloads, event data and profiles are JSON text, so that
  money and decimals come back exact and records read back byte for byte; aggregates other
  than ``count`` and ``has`` are folded in Python by ``run_aggregate``. Any string round-trips:
  the few that hold a NUL character (which PostgreSQL's ``text`` cannot) or U+FFFF are escaped
  (:mod:`~journeydsl.runtime.stores._pg_text`); the others are stored as they are.
* **One writer, or workers.** ``writer_lock=True`` (what ``journeydsl run`` passes) takes a
  session-level advisory lock on the database for as long as the store is open, and a second
  such store is refused with :class:`DatabaseLocked`. Workers (``journeydsl worker``,
  :class:`~journeydsl.runtime.worker.Worker`) share a database instead: each customer is in
  one of a fixed number of buckets, a worker leases buckets, and its store fences every
  commit on those leases (:mod:`~journeydsl.runtime.stores._pg_buckets`).
"""

from __future__ import annotations

from types import TracebackType
from typing import Any, Self

from journeydsl.runtime.stores._pg_buckets import (
    DEFAULT_BUCKETS,
    LeaseLostError,
    Ownership,
    bucket_of,
)
from journeydsl.runtime.stores._pg_budgets import PgBudgets
from journeydsl.runtime.stores._pg_control import PgControl
from journeydsl.runtime.stores._pg_group import PgGroup
from journeydsl.runtime.stores._pg_schema import (
    MIGRATION_LOCK,
    SCHEMA_VERSION,
    describe,
    stored_buckets,
    stored_schema,
    without_password,
)
from journeydsl.runtime.stores._pg_schema import (
    migrate as _migrate,
)
from journeydsl.runtime.stores._pg_text import register as register_text
from journeydsl.runtime.stores._sqlite_guards import (
    DatabaseInUse,
    StoreUnavailable,
    single_threaded,
)

__all__ = [
    "DEFAULT_BUCKETS",
    "SCHEMA_VERSION",
    "DatabaseLocked",
    "LeaseLostError",
    "Ownership",
    "PostgresStore",
    "StoreUnavailable",
    "bucket_of",
    "is_postgres_dsn",
    "migrate_database",
    "pg_error",
]

#: Key of the session-level advisory lock a writer holds (``writer_lock=True``).
WRITER_LOCK = MIGRATION_LOCK + 1


def is_postgres_dsn(db: object) -> bool:
    """Whether ``--db`` names a PostgreSQL database (``postgresql://…`` or ``postgres://…``)."""
    return isinstance(db, str) and db.startswith(("postgresql://", "postgres://"))


class DatabaseLocked(DatabaseInUse):
    """Another writer holds the database's advisory writer lock: a ``journeydsl run`` (which
    holds it alone), or, for a run, workers (which share it). ``holder`` says which:
    ``"run"`` or ``"workers"``."""

    def __init__(self, label: str, holder: str = "run") -> None:
        if holder == "workers":
            problem = (
                "in use by journeydsl workers (they share the database's advisory writer lock); "
                "a `journeydsl run` does not run beside them: stop them first, or give the "
                "events to the workers (journeydsl worker --events FILE)"
            )
        else:
            problem = (
                "in use by another journeydsl writer, a `journeydsl run` (it holds the "
                "database's advisory writer lock); one `journeydsl run` per database, and no "
                "worker beside it"
            )
        StoreUnavailable.__init__(self, label, problem, f"{label} is {problem}")
        self.holder = holder
        self.pid = None
        self.since = None


def pg_error(label: str, exc: BaseException) -> StoreUnavailable | None:
    """A :class:`StoreUnavailable` naming the database for a psycopg error that means it cannot
    be used (connection lost, server gone, permission, disk full …); None for other errors."""
    import psycopg

    if isinstance(exc, StoreUnavailable):
        return exc
    if isinstance(exc, psycopg.OperationalError | psycopg.errors.InsufficientPrivilege):
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return StoreUnavailable(label, f"the PostgreSQL server cannot be used ({first})")
    return None


def _connect(dsn: str, label: str, connect_timeout: float) -> Any:
    try:
        import psycopg
    except ImportError as exc:
        raise StoreUnavailable(
            label,
            "the PostgreSQL store needs psycopg 3: pip install 'journeydsl[postgres]'",
        ) from exc
    try:
        conn = psycopg.connect(dsn, autocommit=True, connect_timeout=max(1, round(connect_timeout)))
    except psycopg.Error as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        first = without_password(first, dsn)  # (libpq quotes a DSN it cannot read)
        raise StoreUnavailable(
            label, f"cannot connect to the PostgreSQL server ({first})"
        ) from None
    conn.execute("SET TIME ZONE 'UTC'")
    register_text(conn)
    return conn


@single_threaded
class PostgresStore(PgGroup, PgControl, PgBudgets):  # (+ reward budgets, _pg_budgets.py)
    """Events, profiles and engine state in one PostgreSQL database (see the module docstring).

    ``dsn`` is a libpq connection string or URI (``postgresql://user@host:5432/db``).
    ``readonly=True`` neither creates nor migrates (the database must have this schema) and
    runs read-only transactions. ``buckets``: the bucket count of a database this store creates
    (:data:`DEFAULT_BUCKETS` when None); a database that has one keeps it, and refuses another.
    Close the store (or use it as a context manager) when done."""

    def __init__(
        self,
        dsn: str,
        *,
        readonly: bool = False,
        migrate: bool = True,
        writer_lock: bool = False,
        connect_timeout: float = 10.0,
        buckets: int | None = None,
    ) -> None:
        label = describe(dsn)
        super().__init__(label, readonly)
        self._fenced_ok = set()
        self.dsn = dsn
        #: Whether the database had no journeydsl schema when this store opened it.
        self.fresh = False
        self._conn = _connect(dsn, label, connect_timeout)
        try:
            if readonly:
                self._conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
            if writer_lock and not readonly:
                row = self._conn.execute(
                    "SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK,)
                ).fetchone()
                if not row or not row[0]:
                    raise DatabaseLocked(label, _lock_holder(self._conn))
            if readonly or not migrate:
                found = stored_schema(label, self._conn)
                if found < SCHEMA_VERSION:
                    raise StoreUnavailable(
                        label,
                        f"schema version {found} is older than this journeydsl's "
                        f"({SCHEMA_VERSION}); migrate it first: journeydsl db migrate --db DSN"
                        + ("" if readonly else " (or pass --migrate)"),
                    )
            else:
                with self._transaction():
                    found, _ = _migrate(label, self._conn, buckets)
                self.fresh = found == 0
            self.buckets = stored_buckets(label, self._conn) or DEFAULT_BUCKETS
        except BaseException as exc:
            self._conn.close()
            problem = pg_error(label, exc)
            if problem is not None and problem is not exc:
                raise problem from exc
            raise

    def close(self) -> None:
        """Let go of the advisory locks (the writer lock, a worker's share of it) and close the
        connection; idempotent. The locks are released by a statement, not left to the server
        noticing the closed connection, which it does a moment later: a store opened right
        after this one closed (the next run, a worker) must not find them still held."""
        try:
            if not self._conn.closed and not self._conn.broken:
                self._conn.execute("SELECT pg_advisory_unlock_all()")
        except Exception:  # (closing anyway: the server then releases them itself)
            pass
        finally:
            self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def schema_version(self) -> int:
        """The schema version of the open database."""
        return stored_schema(self.path, self._conn)

    def share_writer_lock(self) -> None:
        """Take the database's advisory writer lock in shared mode, for as long as the store is
        open (what a :class:`~journeydsl.runtime.worker.Worker` does): workers share the
        database among themselves, never with a ``journeydsl run``, which holds the lock alone.
        Raises :class:`DatabaseLocked` while a run holds it."""
        row = self._conn.execute(
            "SELECT pg_try_advisory_lock_shared(%s)", (WRITER_LOCK,)
        ).fetchone()
        if not row or not row[0]:
            raise DatabaseLocked(self.path, "run")


def _lock_holder(conn: Any) -> str:
    """Who holds the writer lock a store could not take: ``"workers"`` when it is held in
    shared mode, else ``"run"``."""
    row = conn.execute(
        "SELECT bool_or(mode = 'ShareLock') FROM pg_locks WHERE locktype = 'advisory' "
        "AND granted AND ((classid::bigint << 32) | objid::bigint) = %s AND objsubid = 1",
        (WRITER_LOCK,),
    ).fetchone()
    return "workers" if row and row[0] else "run"


def migrate_database(
    dsn: str, *, connect_timeout: float = 10.0, buckets: int | None = None
) -> tuple[int, int]:
    """Bring the database of ``dsn`` to :data:`SCHEMA_VERSION` (``journeydsl db migrate``);
    returns ``(found, now)``: the versions before and after (equal: nothing to do). A database
    that gets buckets here gets ``buckets`` of them (:data:`DEFAULT_BUCKETS` when None)."""
    label = describe(dsn)
    conn = _connect(dsn, label, connect_timeout)
    try:
        with conn.transaction():
            found, now = _migrate(label, conn, buckets)
        return found, now
    except Exception as exc:
        problem = pg_error(label, exc)
        if problem is not None and problem is not exc:
            raise problem from exc
        raise
    finally:
        conn.close()
