"""The SQLite store: events, profiles and durable engine state in one file.

One :class:`SQLiteStore` implements :class:`~journeydsl.runtime.protocols.EventStore`,
:class:`~journeydsl.runtime.protocols.ProfileStore` and
:class:`~journeydsl.runtime.protocols.StateStore` over a single connection, so
``Engine(events=store, profiles=store, state=store, ...)`` is the embedded default. Its behaviour
matches :mod:`journeydsl.runtime.stores.memory` (the contract tests run both).

Durability: WAL journal, ``synchronous=FULL`` by default, and every :meth:`SQLiteStore.commit` is
one ``BEGIN IMMEDIATE … COMMIT`` transaction, rolled back on any error.

Times are stored twice: ``*_utc`` columns hold a fixed-width UTC text
(``2026-01-05T03:00:00.000000Z``) that sorts and compares as the instant, the ``*_iso`` columns (or
the JSON record) keep the original offset, which is what the store hands back.

Schema (version :data:`SCHEMA_VERSION`, kept in the ``meta`` table):

* ``events(seq, id UNIQUE, customer_id, type, at_utc, at_iso, data)``; ``seq`` is the arrival
  order (it breaks ties between events at the same instant, and an ``INTEGER PRIMARY KEY``
  survives ``VACUUM``, unlike a bare rowid). Index ``(customer_id, type, at_utc, seq)`` serves
  windows, ``last_time`` and every aggregate.
* ``profiles(seq, customer_id UNIQUE, attributes, consent, timezone, tags, source_hash)``.
* ``instances(seq, id UNIQUE, customer_id, journey, version, status, due_utc, due_iso, record)``,
  indexed by ``(customer_id, seq)`` and, for waiting instances only, ``(due_utc, id)``.
* ``outbox(key PRIMARY KEY, kind, customer_id, payload, not_before_utc, not_before_iso, attempts,
  status)``, indexed by ``(status, not_before_utc, key)``.
* ``processed_events(id PRIMARY KEY)``, ``engine_meta(key PRIMARY KEY, value)``.
* ``contacts(seq, key UNIQUE, customer_id, at_utc, at_iso, channel, category, journey,
  template)``, indexed by ``(customer_id, at_utc)``: the contact history frequency caps count
  (schema version 2).
* ``quarantine(seq, id UNIQUE, event, reason, first_seen, last_seen, count, replay)``: events the
  engine could not take, kept to be corrected and replayed (schema version 3; before it, a
  quarantined event was marked processed and kept nowhere).

There are no foreign keys between these tables on purpose: a customer may have events and
instances without a profile, and outbox entries outlive the state that produced them.

Caches: the engine asks the same things around every step, so the store keeps in memory the
profiles read (:data:`PROFILE_CACHE`), the earliest timer and the earliest pending outbox entry
(``next_wakeup`` asks for both after every host call, and ``tick`` and delivery find nothing due
most of the time). They hold committed state only, or state of the open transaction: this store's
own writes move them once the statements succeed, any rollback drops them, and so does a commit by
another connection (``PRAGMA data_version``, looked at before every cached read, once per write
transaction).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, run_aggregate
from journeydsl.runtime.codec import decode, decode_map, encode
from journeydsl.runtime.profiles import ProfileLine, parse_profile, read_profiles_jsonl
from journeydsl.runtime.protocols import Contact, OutboxEntry, Profile, QuarantinedEvent
from journeydsl.runtime.stores._sqlite_guards import (
    DatabaseInUse,
    StoreThreadError,
    StoreUnavailable,
    WriterLock,
    single_threaded,
    storage_error,
)

__all__ = [
    "SCHEMA_VERSION",
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

#: Version of the on-disk schema. Bump with a migration in :meth:`SQLiteStore._migrate` and a note
#: in docs/changelog.md.
SCHEMA_VERSION = 3


#: Profiles a store keeps in memory between reads (see :meth:`SQLiteStore.get`).
PROFILE_CACHE = 50_000

Synchronous = Literal["OFF", "NORMAL", "FULL", "EXTRA"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    type TEXT NOT NULL,
    at_utc TEXT NOT NULL,
    at_iso TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_window ON events (customer_id, type, at_utc, seq);

CREATE TABLE IF NOT EXISTS profiles (
    seq INTEGER PRIMARY KEY,
    customer_id TEXT NOT NULL UNIQUE,
    attributes TEXT NOT NULL,
    consent TEXT NOT NULL,
    timezone TEXT NOT NULL,
    tags TEXT NOT NULL,
    source_hash TEXT
);

CREATE TABLE IF NOT EXISTS instances (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    journey TEXT NOT NULL,
    version INTEGER NOT NULL,
    status TEXT NOT NULL,
    due_utc TEXT,
    due_iso TEXT,
    record TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS instances_by_customer ON instances (customer_id, seq);
CREATE INDEX IF NOT EXISTS instances_due ON instances (due_utc, id) WHERE status = 'waiting';

CREATE TABLE IF NOT EXISTS outbox (
    key TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    payload TEXT NOT NULL,
    not_before_utc TEXT NOT NULL,
    not_before_iso TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, not_before_utc, key);

CREATE TABLE IF NOT EXISTS processed_events (id TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS engine_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
"""

# Version 2: the contact history of contact policies (frequency caps across journeys).
_SCHEMA_2 = """
CREATE TABLE IF NOT EXISTS contacts (
    seq INTEGER PRIMARY KEY,
    key TEXT NOT NULL UNIQUE,
    customer_id TEXT NOT NULL,
    at_utc TEXT NOT NULL,
    at_iso TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    journey TEXT NOT NULL,
    template TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_by_customer ON contacts (customer_id, at_utc)
"""

# Version 3: quarantined events, kept to be corrected and replayed (no longer marked processed).
_SCHEMA_3 = """
CREATE TABLE IF NOT EXISTS quarantine (
    seq INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    event TEXT NOT NULL,
    reason TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count INTEGER NOT NULL,
    replay INTEGER NOT NULL DEFAULT 0
)
"""

_MIN_UTC = "0001-01-01T00:00:00.000000Z"
_MAX_UTC = "9999-12-31T23:59:59.999999Z"


#: The UTC text of the last few datetimes asked, by identity (one engine step writes and compares
#: the same instants several times: its ``now``, the far future of ``next_wakeup`` …). The entry
#: holds the datetime itself, so an id is never reused while it is remembered.
_utc_seen: dict[int, tuple[datetime, str]] = {}
#: The UTC text of ISO texts (the ``due`` of records), which the engine writes over and over.
_utc_of_text: dict[str, str] = {}


def _utc(t: datetime) -> str:
    """The fixed-width, sortable UTC text of an aware datetime (what ``astimezone(UTC)`` then
    ``isoformat`` give, clamped to the ends of time; computed without building the UTC one)."""
    seen = _utc_seen.get(id(t))
    if seen is not None and seen[0] is t:
        return seen[1]
    offset = t.utcoffset()
    if offset is None:
        raise ValueError(f"naive datetime {t.isoformat()} (the store needs aware datetimes)")
    try:
        text = (t.replace(tzinfo=None) - offset).isoformat(timespec="microseconds") + "Z"
    except OverflowError:  # datetime.min/max with an offset: clamp to the ends of time
        return _MIN_UTC if t.year == 1 else _MAX_UTC
    if len(_utc_seen) >= 8:
        _utc_seen.clear()
    _utc_seen[id(t)] = (t, text)
    return text


def _utc_text(iso: str) -> str:
    """:func:`_utc` of an ISO text (the same text always names the same instant)."""
    text = _utc_of_text.get(iso)
    if text is None:
        text = _utc(datetime.fromisoformat(iso))
        if len(_utc_of_text) >= 4096:
            _utc_of_text.clear()
        _utc_of_text[iso] = text
    return text


def _store_value(value: Any) -> Any:
    """:func:`~journeydsl.runtime.codec.encode`, but floats (which raw, uncatalogued event data and
    profiles may hold) are kept as JSON numbers, as the in-memory store keeps them."""
    if isinstance(value, float):
        return value
    if isinstance(value, list | tuple):
        return [_store_value(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): _store_value(v) for k, v in value.items()}
    return encode(value)


def _dump_values(values: Mapping[str, Any], *, sort_keys: bool = False) -> str:
    return json.dumps(
        {str(k): _store_value(v) for k, v in values.items()},
        ensure_ascii=False,
        sort_keys=sort_keys,
    )


#: ``json.dumps(value, ensure_ascii=False)``, without building an encoder for every call.
_encode = json.JSONEncoder(ensure_ascii=False).encode


def _dump(record: Mapping[str, Any]) -> str:
    # The same conversion the in-memory store copies records through (json.dumps defaults).
    text: str = _encode(record)
    return text


def _json_path(field: str) -> str | None:
    """A JSON path for a top-level key, or None when the name needs escaping we do not trust."""
    if not field or any(c in field for c in '"\\') or not field.isprintable():
        return None
    return f'$."{field}"'


# --------------------------------------------------------------------------- profiles


def _profile_hash(p: Profile) -> str:
    blob = json.dumps(
        [
            p.customer_id,
            _dump_values(p.attributes, sort_keys=True),
            dict(p.consent),
            p.timezone,
            sorted(p.tags),
        ],
        sort_keys=True,
        ensure_ascii=False,
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def _readonly_uri(path: str) -> str:
    """The URI that opens ``path`` read-only (``?`` and ``#`` in a name are escaped)."""
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"


def _stored_schema(path: str, db: sqlite3.Connection) -> int:
    """The schema version the file's ``meta`` table holds (0: none yet); raises
    :class:`StoreUnavailable` for a version this journeydsl cannot read."""
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    try:
        found = int(row[0]) if row else 0
    except (TypeError, ValueError):
        raise StoreUnavailable(
            path, f"its schema version {row[0]!r} is not a number: the meta table is damaged"
        ) from None
    if found > SCHEMA_VERSION:
        raise StoreUnavailable(
            path,
            f"schema version {found} is newer than this journeydsl understands "
            f"({SCHEMA_VERSION}); upgrade journeydsl",
        )
    return found


def check_database(path: str | Path, *, limit: int = 20) -> list[str]:
    """The problems of the state file at ``path``, at most ``limit`` of them; empty: it is
    sound. Runs SQLite's ``PRAGMA integrity_check`` (every page, index and constraint) and
    reads the schema version, on a read-only connection that takes no lock, so a store may be
    writing to the file meanwhile (the check sees the last committed state)."""
    path = str(path)
    try:
        conn = sqlite3.connect(_readonly_uri(path), uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        found = storage_error(path, exc)
        return [found.problem if found is not None else str(exc)]
    try:
        rows = [
            line
            for (found,) in conn.execute(f"PRAGMA integrity_check({limit + 1})")
            for line in str(found).splitlines()
            if line != "*** in database main ***"  # (a heading: there is only one database)
        ]
        if rows != ["ok"]:
            more = ["... and more (the check stops there)"] if len(rows) > limit else []
            return [*rows[:limit], *more]
        try:
            found_version = _stored_schema(path, conn)
        except sqlite3.OperationalError:  # no meta table
            return ["not a journeydsl state file (it has no meta table)"]
        if found_version == 0:
            return ["not a journeydsl state file (it has no schema version)"]
        return []
    except StoreUnavailable as exc:
        return [exc.problem]
    except sqlite3.Error as exc:
        if str(exc.sqlite_errorname).startswith("SQLITE_CORRUPT"):
            return [
                f"the database is damaged ({exc}), too badly for the check to list where; "
                "restore it from a backup"
            ]
        unusable = storage_error(path, exc)
        return [unusable.problem if unusable is not None else str(exc)]
    finally:
        conn.close()


# --------------------------------------------------------------------------- the store


@single_threaded
class SQLiteStore:
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
    """

    def __init__(
        self,
        path: str | Path,
        *,
        synchronous: Synchronous = "FULL",
        timeout: float = 30.0,
        readonly: bool = False,
    ) -> None:
        if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
            raise ValueError(f"synchronous must be OFF, NORMAL, FULL or EXTRA, not {synchronous!r}")
        self.path = str(path)
        if readonly and self.path in ("", ":memory:"):
            raise ValueError("a read-only store needs a database file, not an empty memory one")
        #: Whether the store was opened with ``readonly=True``.
        self.readonly = readonly
        # The thread that may use the store (see single_threaded).
        self._owner_thread = threading.get_ident()
        # What the engine asks on every step, kept in memory (see "Caches" in the module
        # docstring): each is committed state, updated by this store's own writes and dropped
        # when a transaction rolls back or another connection commits (_fresh).
        self._profile_cache: dict[str, Profile] = {}
        # The earliest timer, (due_utc, id, due_iso), or None: there is none; valid while
        # _timer_known (likewise the earliest pending outbox entry, (not_before_utc, row)).
        self._timer: tuple[str, str, str] | None = None
        self._timer_known = False
        self._next_out: tuple[str, tuple[Any, ...]] | None = None
        self._next_out_known = False
        self._data_version = -1
        self._version_checked = False  # in the open write transaction (see _fresh)
        # What runs once the open transaction commits (after_commit): the engine's deliveries.
        self._after: list[Callable[[], None]] = []
        # Whether the quarantine has rows; None: not known (release asks once).
        self._has_quarantine: bool | None = None
        # The writer lock comes first: a store refused the file must not touch it (not even to
        # switch it to WAL), and a run refused the file must not touch its actions file.
        self._lock = None if readonly else WriterLock.take(self.path)
        try:
            # Autocommit mode: transactions are explicit (BEGIN IMMEDIATE … COMMIT) where they
            # matter.
            if readonly:
                self._conn = sqlite3.connect(
                    _readonly_uri(self.path), timeout=timeout, isolation_level=None, uri=True
                )
            else:
                self._conn = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
            try:
                if readonly:
                    self._check_readable()
                else:
                    self._conn.execute("PRAGMA journal_mode=WAL")
                    self._conn.execute(f"PRAGMA synchronous={synchronous}")
                    self._conn.execute("PRAGMA foreign_keys=ON")
                    self._migrate()
            except BaseException:
                self._conn.close()
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
            self._conn.close()
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

    def _transaction(self) -> _Transaction:
        return _Transaction(self._conn, self._rolled_back, self._began, self._committed)

    def _rolled_back(self) -> None:
        self._forget()
        if not self._conn.in_transaction:
            self._after.clear()  # the work they were to follow was never committed

    def _committed(self) -> None:
        callbacks, self._after = self._after, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` once the transaction open now (a :meth:`batch`) has committed, in
        the order registered (:class:`~journeydsl.runtime.protocols.CommitHooks`); False, without
        calling it, when no transaction is open. A rollback drops the callbacks."""
        if not self._conn.in_transaction:
            return False
        self._after.append(callback)
        return True

    def in_transaction(self) -> bool:
        """Whether a transaction (a :meth:`batch`) is open now
        (:class:`~journeydsl.runtime.protocols.CommitHooks`)."""
        return self._conn.in_transaction

    def _began(self) -> None:
        self._version_checked = False

    def _forget(self) -> None:
        """Drop every cache: what they hold may not be committed state any more."""
        self._profile_cache.clear()
        self._timer_known = False
        self._next_out_known = False
        self._has_quarantine = None

    def _fresh(self) -> None:
        """Drop the caches if another connection committed to the file since the last look
        (``PRAGMA data_version``; inside a write transaction nobody else can commit, so once
        per transaction is enough)."""
        in_transaction = self._conn.in_transaction
        if in_transaction and self._version_checked:
            return
        (version,) = self._conn.execute("PRAGMA data_version").fetchone()
        if version != self._data_version:
            self._forget()
            self._data_version = version
        self._version_checked = in_transaction

    def batch(self) -> _Transaction:
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
        if self._conn.in_transaction:
            return nullcontext()
        return self._transaction()

    def _migrate(self) -> None:
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            found = _stored_schema(self.path, db)
            if found < 1:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
            if found < 2:
                for statement in _SCHEMA_2.split(";"):
                    if statement.strip():
                        db.execute(statement)
            if found < 3:
                db.execute(_SCHEMA_3)
            db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )

    def _check_readable(self) -> None:
        """A read-only store neither creates nor migrates: the file must have this schema."""
        try:
            found = _stored_schema(self.path, self._conn)
        except sqlite3.OperationalError as exc:
            if "no such table" not in str(exc):
                raise
            found = 0
        if found < SCHEMA_VERSION:
            raise StoreUnavailable(
                self.path,
                f"schema version {found} is older than this journeydsl's ({SCHEMA_VERSION}); "
                "open it once with a writable SQLiteStore (or `journeydsl run`) to migrate it",
            )

    def schema_version(self) -> int:
        """The schema version of the open file."""
        row = self._conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    # ================================================================== EventStore

    def append(self, event_id: str, event: EventRecord) -> bool:
        """Store ``event`` once per id; False for a duplicate."""
        cur = self._conn.execute(
            "INSERT OR IGNORE INTO events (id, customer_id, type, at_utc, at_iso, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (
                event_id,
                event.customer_id,
                event.type,
                _utc(event.at),
                event.at.isoformat(),
                _dump_values(event.data),
            ),
        )
        return cur.rowcount == 1

    @staticmethod
    def _window(
        customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> tuple[str, list[Any]]:
        sql = "customer_id = ? AND type = ?"
        args: list[Any] = [customer_id, event_type]
        if start is not None:
            sql += " AND at_utc >= ?"
            args.append(_utc(start))
        if end is not None:
            sql += " AND at_utc <= ?"
            args.append(_utc(end))
        return sql, args

    def events(
        self, customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> Sequence[EventRecord]:
        """Events with ``start <= at <= end`` (compared as instants), oldest first; arrival order
        breaks ties."""
        where, args = self._window(customer_id, event_type, start, end)
        rows = self._conn.execute(
            f"SELECT at_iso, data FROM events WHERE {where} ORDER BY at_utc, seq", args
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
        """``query`` over the window, pushed down to SQL where the result is provably the same.

        In SQL: ``count`` and ``has``; ``sum``/``min``/``max`` over integer fields; ``min``/``max``
        over string fields; ``last`` (the row is found in SQL). Money, decimals, timestamps and
        mixed values are folded in Python over the window's field values (never via SQL floats),
        so sums are exact. A ``where`` filter, ``top``, and the ``at`` pseudo-field go through
        :func:`~journeydsl.expr.context.run_aggregate` over :meth:`events`.
        """
        func, field = query.func, query.field
        if query.where is not None or func not in ("count", "has", "sum", "min", "max", "last"):
            return run_aggregate(query, self.events(customer_id, query.event, start, end), ctx)
        where, args = self._window(customer_id, query.event, start, end)
        if func == "count":
            row = self._conn.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()
            return int(row[0])
        if func == "has":
            row = self._conn.execute(
                f"SELECT EXISTS (SELECT 1 FROM events WHERE {where})", args
            ).fetchone()
            return bool(row[0])
        path = _json_path(field or "")
        if path is None or field == "at":
            return run_aggregate(query, self.events(customer_id, query.event, start, end), ctx)
        try:
            return self._field_aggregate(query, field or "", path, where, args, ctx)
        except sqlite3.OperationalError:
            # Malformed JSON for SQLite (a NaN in raw event data): Python handles it.
            return run_aggregate(query, self.events(customer_id, query.event, start, end), ctx)

    def _field_aggregate(
        self,
        query: AggregateQuery,
        field: str,
        path: str,
        where: str,
        args: list[Any],
        ctx: EvalContext,
    ) -> Any:
        func = query.func
        kinds = {
            kind
            for (kind,) in self._conn.execute(
                f"SELECT DISTINCT json_type(data, ?) FROM events WHERE {where}", [path, *args]
            )
        }
        kinds -= {None, "null"}
        if not kinds:
            return query.zero
        present = f"{where} AND json_type(data, ?) <> 'null'"
        if func == "last":
            row = self._conn.execute(
                f"SELECT data FROM events WHERE {present} ORDER BY at_utc DESC, seq DESC LIMIT 1",
                [*args, path],
            ).fetchone()
            return decode(json.loads(row[0])[field])
        sql_func = {"sum": "sum", "min": "min", "max": "max"}[func]
        if kinds == {"integer"} or (kinds == {"text"} and func != "sum"):
            try:
                row = self._conn.execute(
                    f"SELECT {sql_func}(json_extract(data, ?)) FROM events WHERE {present}",
                    [path, *args, path],
                ).fetchone()
            except sqlite3.OperationalError:
                row = None  # integer overflow in sum(): Python ints do not overflow
            # Integers beyond 64 bits come back from SQLite as floats: fold those in Python.
            if row is not None and isinstance(row[0], int | str) and not isinstance(row[0], bool):
                return row[0]
        # Exact fold in Python over the window's values, with run_aggregate's own semantics.
        rows = self._conn.execute(
            f"SELECT at_iso, data FROM events WHERE {present} ORDER BY at_utc, seq",
            [*args, path],
        ).fetchall()
        records = [
            EventRecord(
                "", query.event, datetime.fromisoformat(at), {field: decode(json.loads(d)[field])}
            )
            for at, d in rows
        ]
        return run_aggregate(query, records, ctx)

    def last_time(self, customer_id: str, event_type: str, before: datetime) -> datetime | None:
        """When the latest ``event_type`` at or before ``before`` happened (its own offset)."""
        row = self._conn.execute(
            "SELECT at_iso FROM events WHERE customer_id = ? AND type = ? AND at_utc <= ? "
            "ORDER BY at_utc DESC, seq DESC LIMIT 1",
            (customer_id, event_type, _utc(before)),
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    def all(self) -> list[EventRecord]:
        """Every stored event, by time (arrival order breaks ties)."""
        rows = self._conn.execute(
            "SELECT customer_id, type, at_iso, data FROM events ORDER BY at_utc, seq"
        ).fetchall()
        return [
            EventRecord(c, t, datetime.fromisoformat(at), decode_map(json.loads(d)))
            for c, t, at, d in rows
        ]

    # ================================================================== ProfileStore

    def get(self, customer_id: str) -> Profile:
        """The profile; an unknown customer gets a default one (no consent, default zone).

        The engine reads a profile for every event and every delivery, so profiles read are
        kept (up to :data:`PROFILE_CACHE` of them) until this store writes them, a transaction
        rolls back, or another connection commits to the file (``PRAGMA data_version``)."""
        self._fresh()
        cache = self._profile_cache
        found = cache.get(customer_id)
        if found is not None:
            return found
        row = self._conn.execute(
            "SELECT attributes, consent, timezone, tags FROM profiles WHERE customer_id = ?",
            (customer_id,),
        ).fetchone()
        if row is None:
            profile = Profile(customer_id, known=False)
        else:
            attributes, consent, tz, tags = row
            profile = Profile(
                customer_id,
                decode_map(json.loads(attributes)),
                json.loads(consent),
                tz,
                frozenset(json.loads(tags)),
            )
        if len(cache) >= PROFILE_CACHE:
            del cache[next(iter(cache))]  # the oldest
        cache[customer_id] = profile
        return profile

    def _put(self, db: sqlite3.Connection, p: Profile, source_hash: str | None = None) -> None:
        self._profile_cache.pop(p.customer_id, None)
        db.execute(
            "INSERT INTO profiles (customer_id, attributes, consent, timezone, tags, source_hash) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (customer_id) DO UPDATE SET "
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
            ),
        )

    def add(self, profile: Profile) -> None:
        """Add or replace a profile."""
        self.add_profiles([profile])

    def add_profiles(self, profiles: Iterable[Profile]) -> int:
        """Add or replace profiles in one transaction; returns how many."""
        n = 0
        with self._transaction() as db:
            for p in profiles:
                self._put(db, p)
                n += 1
        return n

    def update(self, customer_id: str, attribute: str, value: Any) -> None:
        """Set one attribute (an unknown customer becomes known, as in memory)."""
        with self._transaction():
            p = self.get(customer_id)
            attributes = {**p.attributes, attribute: value}
            self._put(self._conn, Profile(customer_id, attributes, p.consent, p.timezone, p.tags))

    def tag(self, customer_id: str, tag: str, remove: bool = False) -> None:
        """Add or remove a tag."""
        with self._transaction():
            p = self.get(customer_id)
            tags = p.tags - {tag} if remove else p.tags | {tag}
            self._put(self._conn, Profile(customer_id, p.attributes, p.consent, p.timezone, tags))

    def customers(self) -> Iterable[str]:
        """Every known customer, in the order they became known."""
        return [c for (c,) in self._conn.execute("SELECT customer_id FROM profiles ORDER BY seq")]

    def timezones(self) -> set[str]:
        """The distinct time zones of known customers."""
        return {tz for (tz,) in self._conn.execute("SELECT DISTINCT timezone FROM profiles")}

    def load_profiles_jsonl(self, path: str | Path) -> tuple[int, list[str]]:
        """Load a profiles JSON Lines file (the DESIGN.md profile contract) in one transaction.

        Returns ``(loaded, problems)``; each problem is ``file:line: reason`` and its line is
        skipped. A profile whose line is unchanged since it was last loaded is left alone, so
        re-running a load (e.g. when a run resumes) keeps the attributes and tags journeys have
        set since; a changed line replaces the profile.
        """
        problems: list[str] = []
        loaded = 0
        lines = list(read_profiles_jsonl(path))
        with self._transaction() as db:
            for item in lines:
                if item.profile is None:
                    problems.append(f"{path}:{item.line}: {item.error}")
                    continue
                digest = _profile_hash(item.profile)
                row = db.execute(
                    "SELECT source_hash FROM profiles WHERE customer_id = ?",
                    (item.profile.customer_id,),
                ).fetchone()
                if row is None or row[0] != digest:
                    self._put(db, item.profile, digest)
                loaded += 1
        return loaded, problems

    # ================================================================== StateStore

    def commit(
        self,
        instances: Sequence[dict[str, Any]],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Write instance records (and their timers), new outbox entries (ignored when the key
        exists), the processed-event marker and meta in one transaction: all or nothing."""
        # Serialise first: a value that cannot be stored fails before anything is written.
        inst_rows = [_instance_row(r) for r in instances]
        out_rows = [_outbox_row(e) for e in outbox]
        meta_rows = [(str(k), str(v)) for k, v in (meta or {}).items()]
        # Empty parts issue no statement. A commit of one row (most commits of a stream only
        # mark an event) is one statement, atomic and durable by itself: it needs no
        # transaction of its own, which spares a batch two statements per event.
        rows = len(inst_rows) + len(out_rows) + (processed_event is not None) + len(meta_rows)
        added = 0
        with self._transaction() if rows > 1 else nullcontext(self._conn) as db:
            if inst_rows:
                db.executemany(_UPSERT_INSTANCE, inst_rows)
            if out_rows:
                added = db.executemany(
                    "INSERT OR IGNORE INTO outbox (key, kind, customer_id, payload, "
                    "not_before_utc, not_before_iso, attempts, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    out_rows,
                ).rowcount
            if processed_event is not None:
                db.execute(
                    "INSERT OR IGNORE INTO processed_events (id) VALUES (?)", (processed_event,)
                )
            if meta_rows:
                db.executemany(
                    "INSERT INTO engine_meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    meta_rows,
                )
        # Written (committed, or part of the open batch, whose rollback drops the caches).
        self._instances_written(inst_rows)
        if added != len(out_rows):
            self._next_out_known = False  # some keys existed: those rows were not written
        for row in out_rows:
            self._outbox_written(row)

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        """One instance record."""
        row = self._conn.execute(
            "SELECT record FROM instances WHERE id = ?", (instance_id,)
        ).fetchone()
        return _load(row[0]) if row else None

    def instances_of(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's records, oldest first."""
        return [
            _load(r)
            for (r,) in self._conn.execute(
                "SELECT record FROM instances WHERE customer_id = ? ORDER BY seq", (customer_id,)
            )
        ]

    def all_instances(self) -> list[dict[str, Any]]:
        """Every record, oldest first."""
        return [
            _load(r) for (r,) in self._conn.execute("SELECT record FROM instances ORDER BY seq")
        ]

    def due(
        self,
        now: datetime,
        limit: int = 1000,
        *,
        journeys: Collection[tuple[str, int]] | None = None,
    ) -> list[str]:
        """Waiting instances whose timer is at or before ``now``, earliest first (ties by id);
        of ``journeys``' instances only (``(id, version)`` pairs), when given.

        Timers are rows, not a queue: they stay until their instance moves on, so a crash
        between ``due`` and ``commit`` loses none."""
        at = _utc(now)
        if journeys is not None:
            rows = self._conn.execute(
                "SELECT id, journey, version FROM instances WHERE status = 'waiting' "
                "AND due_utc <= ? ORDER BY due_utc, id",
                (at,),
            )
            return list(
                itertools.islice((iid for iid, j, v in rows if (j, v) in journeys), max(limit, 0))
            )
        first = self._first_timer()
        if first is None or first[0] > at:
            return []  # (the earliest timer is known: no query)
        return [
            iid
            for (iid,) in self._conn.execute(
                "SELECT id FROM instances WHERE status = 'waiting' AND due_utc <= ? "
                "ORDER BY due_utc, id LIMIT ?",
                (at, max(limit, 0)),
            )
        ]

    def next_due(self, *, journeys: Collection[tuple[str, int]] | None = None) -> datetime | None:
        """The earliest pending timer (of ``journeys``' instances only, when given)."""
        if journeys is not None:
            rows = self._conn.execute(
                "SELECT due_iso, journey, version FROM instances WHERE status = 'waiting' "
                "AND due_utc IS NOT NULL ORDER BY due_utc, id"
            )
            for due_iso, j, v in rows:
                if (j, v) in journeys:
                    return datetime.fromisoformat(due_iso)
            return None
        first = self._first_timer()
        return datetime.fromisoformat(first[2]) if first else None

    def _first_timer(self) -> tuple[str, str, str] | None:
        """The earliest timer, ``(due_utc, id, due_iso)``: the engine asks after every step
        (``next_wakeup``), so it is kept, and moved by this store's own writes."""
        self._fresh()
        if not self._timer_known:
            row = self._conn.execute(
                "SELECT due_utc, id, due_iso FROM instances "
                "WHERE status = 'waiting' AND due_utc IS NOT NULL ORDER BY due_utc, id LIMIT 1"
            ).fetchone()
            self._timer = (row[0], row[1], row[2]) if row else None
            self._timer_known = True
        return self._timer

    def _instances_written(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Keep the earliest timer in step with instance rows written."""
        for row in rows:
            if not self._timer_known:
                return
            iid, due_utc = row[0], row[5]
            if type(iid) is not str:
                self._timer_known = False  # (SQLite stores such an id as text: let it say)
                return
            first = self._timer
            timer = (due_utc, iid, row[6]) if due_utc is not None else None
            if first is not None and iid == first[1]:
                if timer is None or due_utc > first[0]:
                    self._timer_known = False  # the earliest timer moved later or went
                else:
                    self._timer = timer
            elif timer is not None and (first is None or (due_utc, iid) < first[:2]):
                self._timer = timer

    def processed(self, event_id: str) -> bool:
        """Whether the event was processed."""
        row = self._conn.execute(
            "SELECT 1 FROM processed_events WHERE id = ?", (event_id,)
        ).fetchone()
        return row is not None

    def pending_outbox(
        self,
        now: datetime,
        limit: int = 1000,
        *,
        journeys: Collection[tuple[str, int]] | None = None,
    ) -> list[OutboxEntry]:
        """Pending entries due at ``now``, by due time (as instants) then key; of ``journeys``
        only (``(id, version)`` pairs of the payload), when given.

        The earliest pending entry is kept (the engine asks for it after every step), so most
        calls need no query: nothing is due, or only the first entry is wanted."""
        at = _utc(now)
        if journeys is not None:
            entries = (
                _entry(row)
                for row in self._conn.execute(
                    "SELECT key, kind, customer_id, payload, not_before_iso, attempts, status "
                    "FROM outbox WHERE status = 'pending' AND not_before_utc <= ? "
                    "ORDER BY not_before_utc, key",
                    (at,),
                )
            )
            mine = (e for e in entries if (e.payload["journey"], e.payload["version"]) in journeys)
            return list(itertools.islice(mine, max(limit, 0)))
        self._fresh()
        if not self._next_out_known:
            row = self._conn.execute(
                "SELECT not_before_utc, key, kind, customer_id, payload, not_before_iso, "
                "attempts, status FROM outbox WHERE status = 'pending' "
                "ORDER BY not_before_utc, key LIMIT 1"
            ).fetchone()
            self._next_out = (row[0], row[1:]) if row else None
            self._next_out_known = True
        first = self._next_out
        if first is None or first[0] > at or limit <= 0:
            return []
        if limit == 1:
            return [_entry(first[1])]
        rows = self._conn.execute(
            "SELECT key, kind, customer_id, payload, not_before_iso, attempts, status FROM outbox "
            "WHERE status = 'pending' AND not_before_utc <= ? ORDER BY not_before_utc, key LIMIT ?",
            (at, limit),
        ).fetchall()
        return [_entry(row) for row in rows]

    def _outbox_written(self, row: tuple[Any, ...]) -> None:
        """Keep the earliest pending entry in step with an outbox row written."""
        if not self._next_out_known:
            return
        key, kind, customer, payload, at, iso, attempts, status = row
        if not (
            type(key) is str
            and type(kind) is str
            and type(customer) is str
            and type(attempts) is int
            and type(status) is str
        ):
            self._next_out_known = False  # (SQLite converts these: let it say what it kept)
            return
        first = self._next_out
        pending = status == "pending"
        if first is not None and key == first[1][0]:
            if pending and at <= first[0]:
                self._next_out = (at, (key, kind, customer, payload, iso, attempts, status))
            else:
                self._next_out_known = False  # the earliest entry moved later or went
        elif pending and (first is None or (at, key) < (first[0], first[1][0])):
            self._next_out = (at, (key, kind, customer, payload, iso, attempts, status))

    def update_outbox(self, entry: OutboxEntry) -> None:
        """Store a delivery attempt's outcome (the whole entry replaces the stored one)."""
        row = _outbox_row(entry)
        self._conn.execute(_UPSERT_OUTBOX, row)
        self._outbox_written(row)

    def outbox(self) -> list[OutboxEntry]:
        """Every outbox entry, by due time then key."""
        rows = self._conn.execute(
            "SELECT key, kind, customer_id, payload, not_before_iso, attempts, status FROM outbox "
            "ORDER BY not_before_utc, key"
        ).fetchall()
        return [_entry(row) for row in rows]

    def get_meta(self, key: str) -> str | None:
        """Engine bookkeeping."""
        row = self._conn.execute("SELECT value FROM engine_meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def live_journeys(self) -> dict[tuple[str, int], int]:
        """How many instances that have not ended each (journey, version) has."""
        rows = self._conn.execute(
            "SELECT journey, version, COUNT(*) FROM instances WHERE status != 'ended' "
            "GROUP BY journey, version"
        )
        return {(journey, version): count for journey, version, count in rows}

    def latest_event_time(self) -> datetime | None:
        """The time of the latest event stored (as an instant), with its own offset."""
        row = self._conn.execute(
            "SELECT at_iso FROM events ORDER BY at_utc DESC, seq DESC LIMIT 1"
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    # ================================================================== Quarantine

    def quarantine(self, event_id: str, event: str, reason: str, seen: datetime) -> None:
        """Keep a quarantined event (:class:`~journeydsl.runtime.protocols.Quarantine`): once
        per id, counted and with the latest reason when it comes again."""
        self._conn.execute(
            "INSERT INTO quarantine (id, event, reason, first_seen, last_seen, count) "
            "VALUES (?, ?, ?, ?, ?, 1) ON CONFLICT (id) DO UPDATE SET event = excluded.event, "
            "reason = excluded.reason, last_seen = excluded.last_seen, count = count + 1, "
            "replay = 0",
            (event_id, event, reason, seen.isoformat(), seen.isoformat()),
        )
        self._has_quarantine = True

    def quarantined(self, event_id: str | None = None) -> list[QuarantinedEvent]:
        """The quarantined events (or the one with ``event_id``), first seen first."""
        query = "SELECT id, event, reason, first_seen, last_seen, count, replay FROM quarantine"
        rows = (
            self._conn.execute(query + " WHERE id = ?", (event_id,))
            if event_id is not None
            else self._conn.execute(query + " ORDER BY seq")
        ).fetchall()
        return [
            QuarantinedEvent(
                eid,
                event,
                reason,
                datetime.fromisoformat(first),
                datetime.fromisoformat(last),
                count,
                bool(replay),
            )
            for eid, event, reason, first, last, count, replay in rows
        ]

    def release(self, event_id: str) -> bool:
        """Remove a processed event from the quarantine (no statement while it is empty)."""
        self._fresh()
        if self._has_quarantine is None:
            row = self._conn.execute("SELECT EXISTS (SELECT 1 FROM quarantine)").fetchone()
            self._has_quarantine = bool(row[0])
        if not self._has_quarantine:
            return False
        cur = self._conn.execute("DELETE FROM quarantine WHERE id = ?", (event_id,))
        if cur.rowcount:
            self._has_quarantine = None  # it may be empty now
        return cur.rowcount > 0

    def request_replay(self, event_id: str | None = None) -> int:
        """Mark quarantined events (or one) for the next run; returns how many."""
        if event_id is None:
            return self._conn.execute("UPDATE quarantine SET replay = 1").rowcount
        return self._conn.execute(
            "UPDATE quarantine SET replay = 1 WHERE id = ?", (event_id,)
        ).rowcount

    # ================================================================== ContactHistory

    def prune_contacts(self, before: datetime) -> int:
        """Delete the contacts made before ``before`` (as instants); returns how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM contacts WHERE at_utc < ?", (_utc(before),)).rowcount

    def contacts(self, customer_id: str, since: datetime) -> list[Contact]:
        """The customer's contacts at or after ``since`` (as instants), oldest first."""
        rows = self._conn.execute(
            "SELECT key, at_iso, channel, category, journey, template FROM contacts "
            "WHERE customer_id = ? AND at_utc >= ? ORDER BY at_utc, seq",
            (customer_id, _utc(since)),
        ).fetchall()
        return [
            Contact(key, customer_id, datetime.fromisoformat(at), channel, category, journey, tpl)
            for key, at, channel, category, journey, tpl in rows
        ]

    def record_delivery(
        self,
        entry: OutboxEntry,
        contact: Contact | None = None,
        instance: dict[str, Any] | None = None,
    ) -> None:
        """The outbox update, the contact (once per key) and the instance record in one
        transaction."""
        inst_rows = [_instance_row(instance)] if instance is not None else []
        row = _outbox_row(entry)
        with self._transaction() as db:
            if inst_rows:
                db.executemany(_UPSERT_INSTANCE, inst_rows)
            db.execute(_UPSERT_OUTBOX, row)
            if contact is not None:
                db.execute(
                    "INSERT OR IGNORE INTO contacts (key, customer_id, at_utc, at_iso, channel, "
                    "category, journey, template) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        contact.key,
                        contact.customer_id,
                        _utc(contact.at),
                        contact.at.isoformat(),
                        contact.channel,
                        contact.category,
                        contact.journey,
                        contact.template,
                    ),
                )
        self._instances_written(inst_rows)
        self._outbox_written(row)


#: Insert or replace one outbox entry (see :func:`_outbox_row`).
_UPSERT_OUTBOX = (
    "INSERT INTO outbox (key, kind, customer_id, payload, not_before_utc, not_before_iso, "
    "attempts, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (key) DO UPDATE SET "
    "kind = excluded.kind, customer_id = excluded.customer_id, "
    "payload = excluded.payload, not_before_utc = excluded.not_before_utc, "
    "not_before_iso = excluded.not_before_iso, attempts = excluded.attempts, "
    "status = excluded.status"
)


def _outbox_row(e: OutboxEntry) -> tuple[Any, ...]:
    """An outbox entry as the row the outbox statements write."""
    return (
        e.key,
        e.kind,
        e.customer_id,
        _dump(e.payload),
        _utc(e.not_before),
        e.not_before.isoformat(),
        e.attempts,
        e.status,
    )


#: Insert or replace one instance record with its indexed columns (see :func:`_instance_row`).
_UPSERT_INSTANCE = (
    "INSERT INTO instances (id, customer_id, journey, version, status, due_utc, "
    "due_iso, record) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
    "SET customer_id = excluded.customer_id, journey = excluded.journey, "
    "version = excluded.version, status = excluded.status, "
    "due_utc = excluded.due_utc, due_iso = excluded.due_iso, "
    "record = excluded.record"
)


def _instance_row(r: Mapping[str, Any]) -> tuple[Any, ...]:
    """An instance record as the row :data:`_UPSERT_INSTANCE` writes: a timer only while it
    waits, serialised first so a value that cannot be stored fails before anything is written."""
    due = r.get("due") if r["status"] == "waiting" else None
    return (
        r["id"],
        r["customer_id"],
        r["journey"],
        r["version"],
        r["status"],
        _utc_text(due) if due else None,
        due or None,
        _dump(r),
    )


def _load(text: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(text)
    return record


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    key, kind, customer, payload, not_before, attempts, status = row
    return OutboxEntry(
        key, kind, customer, _load(payload), datetime.fromisoformat(not_before), attempts, status
    )


class _Transaction:
    """``BEGIN IMMEDIATE … COMMIT``, or ROLLBACK when the block raises. Inside a transaction
    already open (a :meth:`SQLiteStore.batch`), a savepoint: the block is still all or nothing,
    and the outer transaction makes it durable."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        on_rollback: Callable[[], None] | None = None,
        on_begin: Callable[[], None] | None = None,
        on_commit: Callable[[], None] | None = None,
    ) -> None:
        self._conn = conn
        self._nested = False
        self._on_rollback = on_rollback
        self._on_begin = on_begin
        self._on_commit = on_commit

    def __enter__(self) -> sqlite3.Connection:
        self._nested = self._conn.in_transaction
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
