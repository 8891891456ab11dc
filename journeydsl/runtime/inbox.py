"""The inbox of a PostgreSQL database shared by workers: events waiting to be taken, each kept
under its event id in the bucket of its customer (table ``inbox``: id, bucket, at, body).

Producers insert into it with ``INSERT … ON CONFLICT (id) DO NOTHING`` (the same event twice is
kept once), from SQL (``journeydsl_bucket(customer_id)`` gives the bucket) or from Python
(:func:`put`, what ``journeydsl worker --events`` does with a JSON Lines file or stdin). The
worker that owns a bucket takes its events in time order, and deletes each once the engine has
taken it (or skipped it as already processed): a worker that dies in between leaves it for the
next owner, whose engine skips it by its processed marker.

A line that is not an event (not JSON, not an object) is kept too, under ``line:`` and a hash
of its text, in the bucket of its customer id when it has one (else of ""), with no time: its
owner's engine quarantines it, once. Put again once it was quarantined (several workers reading
one file, a producer sending it twice), a line the quarantine keeps as it is, under its id, is
removed from the inbox when it is taken, not quarantined (nor counted) a second time, as an
event already processed is skipped; a corrected event under the same id is taken.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact
from journeydsl.runtime.events import BadEvent, coerce_event, event_id, parse_event_json
from journeydsl.runtime.intake import event_json, kept_text

if TYPE_CHECKING:
    from journeydsl.runtime.stores.postgres import PostgresStore

__all__ = [
    "STREAM_START",
    "InboxRow",
    "all_done",
    "customer_in",
    "customer_of",
    "inbox_row",
    "put",
    "take",
]

#: The ``meta`` key of the time of the earliest event ever put in the inbox (ISO 8601): where
#: an event-time worker starts the clock of a bucket that has none yet.
STREAM_START = "stream_start"


@dataclass(frozen=True, slots=True)
class InboxRow:
    """One event waiting: its id, bucket, time (None for one that is not valid) and text."""

    id: str
    bucket: int
    at: datetime | None
    body: str


def _time(raw: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Type]]) -> datetime | None:
    """The event's time, when it is valid for these schemas (else None: to be quarantined)."""
    try:
        return coerce_event(raw, schemas).at
    except BadEvent:
        return None


def inbox_row(
    line: str | bytes, store: PostgresStore, schemas: Mapping[str, Mapping[str, Type]]
) -> InboxRow | None:
    """The inbox row of one JSON Lines line (None for a blank one)."""
    blob = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else bytes(line)
    blob = blob.rstrip(b"\r\n")
    if not blob.strip():
        return None
    text = blob.decode("utf-8", errors="replace")
    try:
        raw = loads_exact(blob)
    except (ValueError, RecursionError):
        raw = None
    if not isinstance(raw, dict):
        key = "line:" + hashlib.sha256(blob).hexdigest()[:32]
        return InboxRow(key, store.bucket(""), None, text)
    customer = raw.get("customer_id")
    bucket = store.bucket(customer if isinstance(customer, str) else "")
    return InboxRow(event_id(raw), bucket, _time(raw, schemas), text)


def put(
    store: PostgresStore, lines: Iterable[str | bytes], schemas: Mapping[str, Mapping[str, Type]]
) -> int:
    """Insert the events of ``lines`` into the inbox in one transaction (an id already there, or
    already taken and still in the inbox, is kept once); how many lines were events or
    quarantine candidates. Also lowers :data:`STREAM_START` to the earliest time put."""
    rows = [row for line in lines if (row := inbox_row(line, store, schemas)) is not None]
    if not rows:
        return 0
    first = min((r.at for r in rows if r.at is not None), default=None)
    conn = store._conn
    with store._transaction():
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO inbox (id, bucket, at, body) VALUES (%s, %s, %s, %s) "
                "ON CONFLICT (id) DO NOTHING",
                [(r.id, r.bucket, r.at, r.body) for r in rows],
            )
        if first is not None:
            found = conn.execute(
                "SELECT value FROM meta WHERE key = %s FOR UPDATE", (STREAM_START,)
            ).fetchone()
            if found is None or first < datetime.fromisoformat(str(found[0])):
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    (STREAM_START, first.isoformat()),
                )
    return len(rows)


def take(store: PostgresStore, bucket: int, limit: int) -> list[InboxRow]:
    """The next events of ``bucket``, invalid ones first, then by time and arrival.

    Two queries, each an ordered walk of the ``(bucket, at, seq)`` index: one ``ORDER BY at
    NULLS FIRST`` could not use it (the index keeps nulls last) and would sort the bucket's
    whole backlog at every take."""
    conn = store._conn
    rows = conn.execute(
        "SELECT id, at, body FROM inbox WHERE bucket = %s AND at IS NULL ORDER BY seq LIMIT %s",
        (bucket, limit),
    ).fetchall()
    if len(rows) < limit:
        rows += conn.execute(
            "SELECT id, at, body FROM inbox WHERE bucket = %s AND at IS NOT NULL "
            "ORDER BY at, seq LIMIT %s",
            (bucket, limit - len(rows)),
        ).fetchall()
    return _not_kept(store, [InboxRow(str(i), bucket, at, str(body)) for i, at, body in rows])


def take_from(store: PostgresStore, buckets: list[int], limit: int) -> list[InboxRow]:
    """The next events of any of ``buckets``, invalid ones first, then by time and arrival."""
    rows = store._conn.execute(
        "SELECT id, bucket, at, body FROM inbox WHERE bucket = ANY(%s) "
        "ORDER BY at NULLS FIRST, seq LIMIT %s",
        (buckets, limit),
    ).fetchall()
    return _not_kept(store, [InboxRow(str(i), int(b), at, str(body)) for i, b, at, body in rows])


def _not_kept(store: PostgresStore, rows: list[InboxRow]) -> list[InboxRow]:
    """``rows`` without those the quarantine keeps already as they are (the same id and text:
    quarantined once, counted once), which are removed from the inbox."""
    if not rows:
        return rows
    kept = dict(
        store._conn.execute(
            "SELECT id, event FROM quarantine WHERE id = ANY(%s)", ([r.id for r in rows],)
        ).fetchall()
    )
    again = {
        r.id
        for r in rows
        if r.id in kept and kept[r.id] == kept_text(event_json(parse_event_json(r.body)))
    }
    if not again:
        return rows
    taken(store, *again)
    return [r for r in rows if r.id not in again]


def taken(store: PostgresStore, *event_ids: str) -> None:
    """Remove events the engine has taken (or skipped) from the inbox."""
    if len(event_ids) == 1:
        store._conn.execute("DELETE FROM inbox WHERE id = %s", event_ids)
    elif event_ids:
        store._conn.execute("DELETE FROM inbox WHERE id = ANY(%s)", (list(event_ids),))


def stream_start(store: PostgresStore) -> datetime | None:
    """:data:`STREAM_START`, or None before any event was put."""
    row = store._conn.execute("SELECT value FROM meta WHERE key = %s", (STREAM_START,)).fetchone()
    return datetime.fromisoformat(str(row[0])) if row else None


def all_done(store: PostgresStore, target: datetime | None, event_time: bool) -> bool:
    """Whether the whole database of ``store`` is done for ``target``: no event waits in the
    inbox and (event time) every bucket's clock reached it, (live) no timer is due by it."""
    conn = store._conn
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM inbox)").fetchone()
    if row and row[0]:
        return False
    # Control of live journeys: events held by a journey no longer paused are work left.
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM held_events h WHERE NOT EXISTS (SELECT 1 FROM "
        "journey_control c WHERE c.journey = h.journey AND c.state = 'paused'))"
    ).fetchone()
    if row and row[0]:
        return False
    # Quarantined events an operator marked for replay are work left too.
    row = conn.execute("SELECT EXISTS (SELECT 1 FROM quarantine WHERE replay = 1)").fetchone()
    if row and row[0]:
        return False
    if target is None:
        return True
    if event_time:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM leases WHERE clock_at IS NULL OR clock_at < %s)",
            (target,),
        ).fetchone()
    else:
        row = conn.execute(
            "SELECT EXISTS (SELECT 1 FROM instances WHERE status = 'waiting' AND due <= %s "
            "AND journey NOT IN (SELECT journey FROM journey_control WHERE state = 'paused'))",
            (target,),
        ).fetchone()
    return not (row and row[0])


def customer_of(row: InboxRow) -> str:
    """The customer id of an inbox row's event ("" when it names none)."""
    return customer_in(row.body)


def customer_in(text: str) -> str:
    """The customer id of an event's JSON text ("" when it names none)."""
    try:
        found = json.loads(text).get("customer_id")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return found if isinstance(found, str) else ""
