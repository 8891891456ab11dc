"""The on-disk schema of the SQLite store: its tables, the migrations between its versions, and
the check of a state file (:func:`check_database`).

The tables are described in :mod:`journeydsl.runtime.stores.sqlite`; the version a file has is
kept in its ``meta`` table.
"""

from __future__ import annotations

import json
import os
import sqlite3
import urllib.parse
from pathlib import Path

from journeydsl.runtime.stores._sqlite_control import SCHEMA_5
from journeydsl.runtime.stores._sqlite_guards import StoreUnavailable, storage_error
from journeydsl.runtime.stores._sqlite_rows import InstanceWrite

__all__ = [
    "SCHEMA_VERSION",
    "check_database",
    "migrate",
    "readonly_uri",
    "refuse_foreign",
    "require_current",
    "stored_schema",
]

#: Version of the on-disk schema. Bump with a migration in :func:`migrate` and a note in
#: docs/changelog.md.
SCHEMA_VERSION = 5

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

# Version 4: decision logs in a table of their own, appended to by each step (a step no longer
# rewrites the history); an instance row keeps its log's length and tail (see InstanceWrite);
# a stored event's processed marker is a column of its row (processed_events keeps the others).
_COLUMNS_4 = {
    "instances": {"log_len": "INTEGER NOT NULL DEFAULT 0", "tail": "TEXT NOT NULL DEFAULT '[]'"},
    "events": {"processed": "INTEGER NOT NULL DEFAULT 0"},
}
_SCHEMA_4 = """
CREATE TABLE IF NOT EXISTS decisions (
    instance TEXT NOT NULL,
    n INTEGER NOT NULL,
    entries TEXT NOT NULL,
    PRIMARY KEY (instance, n)
) WITHOUT ROWID
"""


def _logs_apart(db: sqlite3.Connection) -> None:
    """Move the decision log of every instance record of a version-3 file into the
    ``decisions`` table (one chunk each), as :class:`InstanceWrite` writes them."""
    rows = db.execute("SELECT id, record FROM instances").fetchall()
    for iid, text in rows:
        record = json.loads(text)
        if record.get("log") is None:
            continue  # (written by this version already)
        write = InstanceWrite(record)
        db.execute(
            "UPDATE instances SET record = ?, log_len = ?, tail = ? WHERE id = ?",
            (write.row[7], write.row[8], write.row[9], iid),
        )
        if write.chunk is not None:
            db.execute(
                "INSERT INTO decisions (instance, n, entries) VALUES (?, ?, ?)",
                (iid, *write.chunk),
            )


def refuse_foreign(db: sqlite3.Connection, path: str) -> None:
    """:class:`StoreUnavailable` when the file holds tables but neither a ``meta`` table nor
    journeydsl's own ``events`` and ``instances``: another program's database, refused before
    anything touches it (a mistyped ``--db`` must not write into a bank's own database)."""
    tables = {
        name
        for (name,) in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    }
    if not tables or "meta" in tables or {"events", "instances"} <= tables:
        return
    shown = ", ".join(sorted(tables)[:5]) + (", …" if len(tables) > 5 else "")
    raise StoreUnavailable(
        path,
        f"not a journeydsl state file: it holds other tables ({shown}) and no meta table; "
        "give a new file or a journeydsl state file",
    )


def migrate(db: sqlite3.Connection, path: str) -> None:
    """Bring the file open on ``db`` (inside a write transaction) to :data:`SCHEMA_VERSION`:
    create what a new file lacks, add what each later version brought, record the version."""
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    found = stored_schema(path, db)
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
    if found < 4:
        for table, columns in _COLUMNS_4.items():
            have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
            for column, kind in columns.items():
                if column not in have:
                    db.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
        db.execute(_SCHEMA_4)
        _logs_apart(db)
        # The markers of stored events move onto their rows.
        db.execute("UPDATE events SET processed = 1 WHERE id IN (SELECT id FROM processed_events)")
        db.execute("DELETE FROM processed_events WHERE id IN (SELECT id FROM events)")
    if found < 5:  # control of live journeys: states, audit, held events
        for statement in SCHEMA_5.split(";"):
            if statement.strip():
                db.execute(statement)
    db.execute(
        "INSERT INTO meta (key, value) VALUES ('schema_version', ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (str(SCHEMA_VERSION),),
    )


def require_current(path: str, db: sqlite3.Connection) -> None:
    """A read-only store neither creates nor migrates: the file must have this schema."""
    try:
        found = stored_schema(path, db)
    except sqlite3.OperationalError as exc:
        if "no such table" not in str(exc):
            raise
        found = 0
    if found < SCHEMA_VERSION:
        raise StoreUnavailable(
            path,
            f"schema version {found} is older than this journeydsl's ({SCHEMA_VERSION}); "
            "open it once with a writable SQLiteStore (or `journeydsl run`) to migrate it",
        )


def readonly_uri(path: str) -> str:
    """The URI that opens ``path`` read-only (``?`` and ``#`` in a name are escaped)."""
    return f"file:{urllib.parse.quote(os.path.abspath(path))}?mode=ro"


def stored_schema(path: str, db: sqlite3.Connection) -> int:
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
        conn = sqlite3.connect(readonly_uri(path), uri=True, isolation_level=None)
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
            found_version = stored_schema(path, conn)
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
