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
from journeydsl.runtime.decisions import DELIVERY_ENTRIES
from journeydsl.runtime.protocols import Contact, OutboxEntry, Profile
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
    "due_iso, record, log_len, tail) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
    "ON CONFLICT (id) DO UPDATE "
    "SET customer_id = excluded.customer_id, journey = excluded.journey, "
    "version = excluded.version, status = excluded.status, "
    "due_utc = excluded.due_utc, due_iso = excluded.due_iso, "
    "record = excluded.record, log_len = excluded.log_len, tail = excluded.tail"
)


class InstanceWrite:
    """What writing one instance record takes: its row (the record without its decision log,
    which keeps a ``null`` in its place so that the keys read back in their order; the log's
    length; its tail), and the log entries to append, or the whole log to write anew.

    The *tail* is the log from its last entry of a step on (a delivery's entries come after
    it): what a live record holds (:class:`~journeydsl.runtime.protocols.LiveRecords`).
    Everything is serialised here, so a value that cannot be stored fails before anything is
    written."""

    __slots__ = ("chunk", "record", "rewrite", "row", "total")

    record: Mapping[str, Any]
    #: The row :data:`_UPSERT_INSTANCE` writes.
    row: tuple[Any, ...]
    #: Whether the whole log is written anew (the record is not a live one).
    rewrite: bool
    #: The length of the whole log once written.
    total: int
    chunk: tuple[int, str] | None

    def __init__(self, r: Mapping[str, Any]) -> None:
        self.record = r
        log: list[Any] = r.get("log") or []
        stored = r.get("log_stored")
        if stored is not None:
            start = r["log_from"]
            new = log[stored - start :]
            self.rewrite = False
        else:
            start, stored, new = 0, 0, log
            self.rewrite = True
        self.total = start + len(log)
        #: (first entry's number, JSON array) of the entries to write, or None.
        self.chunk = (stored, _encode(new)) if new else None
        tail = _tail_start(log)
        if self.chunk is not None and tail == len(log) - len(new):
            tail_text = self.chunk[1]  # (the tail is the new entries: encoded once)
        else:
            tail_text = _encode(log[tail:])
        core = dict(r)
        if "log" in core:
            core["log"] = None
        core.pop("log_from", None)
        core.pop("log_stored", None)
        due = r.get("due") if r["status"] == "waiting" else None
        self.row = (
            r["id"],
            r["customer_id"],
            r["journey"],
            r["version"],
            r["status"],
            _utc_text(due) if due else None,
            due or None,
            _encode(core),
            self.total,
            tail_text,
        )


def _tail_start(log: list[Any]) -> int:
    """Where the tail of a log starts: its last entry that is not a delivery's (a delivery
    attempt's decision, or an effect it gave up: :data:`DELIVERY_ENTRIES`)."""
    for i in range(len(log) - 1, -1, -1):
        if log[i].get("what") not in DELIVERY_ENTRIES:
            return i
    return 0


def _load(text: str) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(text)
    return record


def _load_instance(text: str, log: list[Any]) -> InstanceRecord:
    """An instance record from its stored JSON and its decision log."""
    record: dict[str, Any] = json.loads(text)
    if "log" in record:
        record["log"] = log
    return cast(InstanceRecord, record)


def _load_live(text: str, log_len: int, tail: str) -> InstanceRecord:
    """A live record: the stored JSON with the log's tail (see :class:`InstanceWrite`)."""
    record: dict[str, Any] = json.loads(text)
    entries: list[Any] = json.loads(tail)
    record["log"] = entries
    record["log_from"] = log_len - len(entries)
    record["log_stored"] = log_len
    return cast(InstanceRecord, record)


def _entry(row: tuple[Any, ...]) -> OutboxEntry:
    key, kind, customer, payload, not_before, attempts, status = row
    return OutboxEntry(
        key, kind, customer, _load(payload), datetime.fromisoformat(not_before), attempts, status
    )


def _contacts(customer_id: str, rows: list[tuple[Any, ...]]) -> list[Contact]:
    """Contacts from rows of ``key, at_iso, channel, category, journey, template, tags`` (the
    tags as JSON text, or None), as both SQL stores read them."""
    return [
        Contact(
            key,
            customer_id,
            datetime.fromisoformat(at),
            channel,
            category,
            journey,
            tpl,
            tuple(json.loads(tags)) if tags else (),
        )
        for key, at, channel, category, journey, tpl, tags in rows
    ]
