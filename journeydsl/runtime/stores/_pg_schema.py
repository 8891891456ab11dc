"""The schema of the PostgreSQL store: its tables, the migrations between its versions, and the
label a database is named by in messages (:func:`describe`).

The tables mirror the SQLite store's schema 4 (see :mod:`journeydsl.runtime.stores.sqlite`):
instants are ``timestamptz`` columns (ordering and comparing) beside the original ISO text (what
the store hands back, offset included); records, payloads and event data are JSON kept as
``text``, so that they read back exactly as written (``jsonb`` would reorder keys and fold
numbers); text keys that are ordered (ids, outbox keys) use the ``"C"`` collation, byte order,
as SQLite's comparisons do. The version is kept in the ``meta`` table; :func:`migrate` brings a
database to :data:`SCHEMA_VERSION` under a transaction-scoped advisory lock, so that two
processes starting at once do not migrate twice.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from journeydsl.runtime.stores._pg_control import VERSION_3
from journeydsl.runtime.stores._sqlite_guards import StoreUnavailable

if TYPE_CHECKING:
    import psycopg

__all__ = [
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "check_buckets",
    "describe",
    "migrate",
    "stored_buckets",
    "stored_schema",
    "without_password",
]

#: Version of the PostgreSQL schema (its own numbering; version 1 holds what SQLite's
#: version 4 holds; version 2 adds buckets, leases, the inbox and per-bucket meta; version 3
#: the control of live journeys, :mod:`~journeydsl.runtime.stores._pg_control`). Bump with a
#: step in :data:`MIGRATIONS` and a note in docs/changelog.md.
SCHEMA_VERSION = 3

#: Key of the advisory locks journeydsl takes (``hashtext('journeydsl')`` would do as well; a
#: constant keeps it readable in ``pg_locks``): migrations take it for their transaction.
MIGRATION_LOCK = 0x6A64736C  # "jdsl"

_VERSION_1 = """
CREATE TABLE IF NOT EXISTS events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    customer_id TEXT COLLATE "C" NOT NULL,
    type TEXT COLLATE "C" NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    at_iso TEXT NOT NULL,
    data TEXT NOT NULL,
    processed BOOLEAN NOT NULL DEFAULT FALSE
);
CREATE INDEX IF NOT EXISTS events_window ON events (customer_id, type, at, seq);
CREATE INDEX IF NOT EXISTS events_at ON events (at, seq);

CREATE TABLE IF NOT EXISTS profiles (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    customer_id TEXT COLLATE "C" NOT NULL UNIQUE,
    attributes TEXT NOT NULL,
    consent TEXT NOT NULL,
    timezone TEXT NOT NULL,
    tags TEXT NOT NULL,
    source_hash TEXT
);

CREATE TABLE IF NOT EXISTS instances (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    customer_id TEXT COLLATE "C" NOT NULL,
    journey TEXT COLLATE "C" NOT NULL,
    version BIGINT NOT NULL,
    status TEXT NOT NULL,
    due TIMESTAMPTZ,
    due_iso TEXT,
    record TEXT NOT NULL,
    log_len BIGINT NOT NULL DEFAULT 0,
    tail TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX IF NOT EXISTS instances_by_customer ON instances (customer_id, seq);
CREATE INDEX IF NOT EXISTS instances_due ON instances (due, id) WHERE status = 'waiting';

CREATE TABLE IF NOT EXISTS decisions (
    instance TEXT COLLATE "C" NOT NULL,
    n BIGINT NOT NULL,
    entries TEXT NOT NULL,
    PRIMARY KEY (instance, n)
);

CREATE TABLE IF NOT EXISTS outbox (
    key TEXT COLLATE "C" PRIMARY KEY,
    kind TEXT NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL,
    payload TEXT NOT NULL,
    not_before TIMESTAMPTZ NOT NULL,
    not_before_iso TEXT NOT NULL,
    attempts BIGINT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (status, not_before, key);

CREATE TABLE IF NOT EXISTS processed_events (id TEXT COLLATE "C" PRIMARY KEY);
CREATE TABLE IF NOT EXISTS engine_meta (key TEXT COLLATE "C" PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS contacts (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key TEXT COLLATE "C" NOT NULL UNIQUE,
    customer_id TEXT COLLATE "C" NOT NULL,
    at TIMESTAMPTZ NOT NULL,
    at_iso TEXT NOT NULL,
    channel TEXT NOT NULL,
    category TEXT NOT NULL,
    journey TEXT NOT NULL,
    template TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS contacts_by_customer ON contacts (customer_id, at);

CREATE TABLE IF NOT EXISTS quarantine (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id TEXT COLLATE "C" NOT NULL UNIQUE,
    event TEXT NOT NULL,
    reason TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    last_seen TEXT NOT NULL,
    count BIGINT NOT NULL,
    replay INTEGER NOT NULL DEFAULT 0
)
"""

# Version 2: partitioned ownership (see :mod:`~journeydsl.runtime.stores._pg_buckets`). The
# bucket columns of existing rows are filled by :func:`_fill_buckets` before the indexes.
_VERSION_2 = """
ALTER TABLE instances ADD COLUMN IF NOT EXISTS bucket INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN IF NOT EXISTS bucket INTEGER NOT NULL DEFAULT 0;
ALTER TABLE profiles ADD COLUMN IF NOT EXISTS bucket INTEGER NOT NULL DEFAULT 0;
CREATE TABLE IF NOT EXISTS leases (
    bucket INTEGER PRIMARY KEY,
    owner TEXT,
    epoch BIGINT NOT NULL DEFAULT 0,
    expires_at TIMESTAMPTZ,
    clock TEXT,
    clock_at TIMESTAMPTZ
);
CREATE TABLE IF NOT EXISTS workers (
    id TEXT PRIMARY KEY,
    started_at TIMESTAMPTZ NOT NULL,
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE TABLE IF NOT EXISTS inbox (
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    id TEXT COLLATE "C" PRIMARY KEY,
    bucket INTEGER NOT NULL,
    at TIMESTAMPTZ,
    body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS inbox_by_bucket ON inbox (bucket, at, seq);
CREATE TABLE IF NOT EXISTS bucket_meta (
    bucket INTEGER NOT NULL,
    key TEXT COLLATE "C" NOT NULL,
    value TEXT NOT NULL,
    PRIMARY KEY (bucket, key)
)
"""
_VERSION_2_INDEXES = """
CREATE INDEX IF NOT EXISTS instances_bucket_due ON instances (bucket, due, id)
    WHERE status = 'waiting';
CREATE INDEX IF NOT EXISTS outbox_bucket_due ON outbox (bucket, not_before, key)
    WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS profiles_by_bucket ON profiles (bucket, seq)
"""

#: The statements of each version, in order: ``MIGRATIONS[v - 1]`` takes a database from version
#: ``v - 1`` to ``v``.
MIGRATIONS: tuple[str, ...] = (_VERSION_1, _VERSION_2, VERSION_3)


def describe(dsn: str) -> str:
    """How messages name the database of ``dsn``: ``postgresql://user@host:port/dbname``,
    without the password."""
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except Exception:
        return "postgresql database (a DSN that cannot be read)"
    user = f"{parts['user']}@" if parts.get("user") else ""
    host = str(parts.get("host") or "localhost")
    port = f":{parts['port']}" if parts.get("port") else ""
    return f"postgresql://{user}{host}{port}/{parts.get('dbname') or parts.get('user') or ''}"


#: A URI's ``user:password@`` (up to the last ``@`` before the path), a ``password=`` of its
#: query, and a ``password=`` of a key/value connection string.
_URI_PASSWORD = re.compile(r"(\w+://)([^:/?#@\s\"']*):([^/?#\s\"']*)@")
_PARAM_PASSWORD = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^&\s\"']+)", re.IGNORECASE)


def without_password(text: str, dsn: str) -> str:
    """``text`` (a libpq message, which quotes a DSN it cannot read) without the password of
    ``dsn``, or any other it shows: in a URI's user part, a ``password=`` parameter, or as it
    is written in ``dsn``."""
    text = _PARAM_PASSWORD.sub(r"\1…", _URI_PASSWORD.sub(r"\1\2@", text))
    for secret in _passwords(dsn):
        text = text.replace(secret, "…")
    return text


def _passwords(dsn: str) -> list[str]:
    """The passwords ``dsn`` spells out (however it is malformed), longest first."""
    found = [m.group(3) for m in _URI_PASSWORD.finditer(dsn)]
    found += [m.group(2).strip("'") for m in _PARAM_PASSWORD.finditer(dsn)]
    return sorted({f for f in found if len(f) >= 3}, key=len, reverse=True)


def stored_schema(label: str, conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """The schema version the database's ``meta`` table holds (0: none, or no table yet);
    raises :class:`StoreUnavailable` for a version this journeydsl cannot read."""
    exists = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return 0
    row = conn.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    value = row[0] if row else "0"
    try:
        found = int(str(value))
    except ValueError:
        raise StoreUnavailable(
            label, f"its schema version {value!r} is not a number: the meta table is damaged"
        ) from None
    if found > SCHEMA_VERSION:
        raise StoreUnavailable(
            label,
            f"schema version {found} is newer than this journeydsl understands "
            f"({SCHEMA_VERSION}); upgrade journeydsl",
        )
    return found


def stored_buckets(label: str, conn: psycopg.Connection[tuple[object, ...]]) -> int | None:
    """The bucket count the database was created with (None before schema version 2)."""
    exists = conn.execute("SELECT to_regclass('meta') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return None
    row = conn.execute("SELECT value FROM meta WHERE key = 'buckets'").fetchone()
    if row is None:
        return None
    try:
        return int(str(row[0]))
    except ValueError:
        raise StoreUnavailable(
            label, f"its bucket count {row[0]!r} is not a number: the meta table is damaged"
        ) from None


def check_buckets(label: str, buckets: int | None) -> None:
    """Refuse a bucket count that is not a whole number from 1 to 65536."""
    if buckets is not None and not 1 <= buckets <= 65536:
        raise StoreUnavailable(label, f"a bucket count is from 1 to 65536, not {buckets}")


def _fill_buckets(conn: psycopg.Connection[tuple[object, ...]], buckets: int) -> None:
    """Schema version 2: the bucket of every existing row, the leases, the SQL function."""
    from journeydsl.runtime.stores._pg_buckets import bucket_function, bucket_of

    conn.execute(
        "INSERT INTO meta (key, value) VALUES ('buckets', %s) ON CONFLICT (key) DO NOTHING",
        (str(buckets),),
    )
    conn.execute(bucket_function(buckets))
    conn.execute(
        "INSERT INTO leases (bucket) SELECT generate_series(0, %s - 1) ON CONFLICT DO NOTHING",
        (buckets,),
    )
    for table in ("instances", "outbox", "profiles"):
        customers = [str(c) for (c,) in conn.execute(f"SELECT DISTINCT customer_id FROM {table}")]
        with conn.cursor() as cur:
            cur.executemany(
                f"UPDATE {table} SET bucket = %s WHERE customer_id = %s",
                [(bucket_of(c, buckets), c) for c in customers],
            )


def migrate(
    label: str, conn: psycopg.Connection[tuple[object, ...]], buckets: int | None = None
) -> tuple[int, int]:
    """Bring the database open on ``conn`` (inside a transaction) to :data:`SCHEMA_VERSION`,
    one step per version; returns ``(found, now)``, the versions before and after. A database
    that reaches version 2 here gets ``buckets`` buckets (default
    :data:`~journeydsl.runtime.stores._pg_buckets.DEFAULT_BUCKETS`); one that has a count
    already refuses another."""
    from journeydsl.runtime.stores._pg_buckets import DEFAULT_BUCKETS

    check_buckets(label, buckets)
    conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
    conn.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    found = stored_schema(label, conn)
    had = stored_buckets(label, conn)
    if had is not None and buckets is not None and had != buckets:
        raise StoreUnavailable(
            label,
            f"it has {had} buckets, fixed when it was created; it cannot have {buckets}",
        )
    for version in range(found + 1, SCHEMA_VERSION + 1):
        for statement in MIGRATIONS[version - 1].split(";"):
            if statement.strip():
                conn.execute(statement)
        if version == 2:
            _fill_buckets(conn, buckets or DEFAULT_BUCKETS)
            for statement in _VERSION_2_INDEXES.split(";"):
                if statement.strip():
                    conn.execute(statement)
    if found != SCHEMA_VERSION:
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('schema_version', %s) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(SCHEMA_VERSION),),
        )
    return found, SCHEMA_VERSION
