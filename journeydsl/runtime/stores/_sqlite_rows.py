"""How the SQLite store writes values into its rows and reads them back: the sortable UTC text of
an instant, JSON for event data, profiles and records, and the rows of the instance and outbox
tables with the statements that write them.

The names keep their leading underscore: they are the store's own codecs, shared by the modules
that make up :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore`, not an API.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast

from journeydsl.runtime.codec import encode
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.records import InstanceRecord

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


def _load_instance(text: str) -> InstanceRecord:
    """An instance record from its stored JSON."""
    return cast(InstanceRecord, json.loads(text))


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    key, kind, customer, payload, not_before, attempts, status = row
    return OutboxEntry(
        key, kind, customer, _load(payload), datetime.fromisoformat(not_before), attempts, status
    )
