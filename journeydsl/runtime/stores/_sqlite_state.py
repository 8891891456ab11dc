"""The engine state of the SQLite store (:class:`~journeydsl.runtime.protocols.StateStore`):
instance records and their timers, the outbox, processed-event markers and engine meta, with the
quarantine and the contact history; the waiting instances' timers, the pending outbox entries
and the live rows of the customers used last are kept in memory, moved by this store's own
writes."""

from __future__ import annotations

import itertools
import sqlite3
from collections.abc import Collection, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, cast

from journeydsl.runtime.protocols import Contact, OutboxEntry, QuarantinedEvent
from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.stores._due_index import DueIndex
from journeydsl.runtime.stores._instance_reads import InstanceReads
from journeydsl.runtime.stores._sqlite_core import BatchRolledBack, StoreCore
from journeydsl.runtime.stores._sqlite_rows import (
    _UPSERT_INSTANCE,
    _UPSERT_OUTBOX,
    InstanceWrite,
    _contacts,
    _entry,
    _load_live,
    _outbox_row,
    _utc,
)

__all__ = ["StatePart"]


def _plain(row: tuple[Any, ...]) -> bool:
    """Whether every value of ``row`` is text or an integer (what a contact row holds)."""
    return all(type(v) is str or type(v) is int for v in row)


def _instance_plain(row: tuple[Any, ...]) -> bool:
    """Whether an instance row (see InstanceWrite) can be held: the values taken from the
    record as they are (id, customer, journey, version, status) are text and an integer; the
    others the row computed (times, JSON texts, the log's length)."""
    return (
        type(row[0]) is str
        and type(row[1]) is str
        and type(row[2]) is str
        and type(row[3]) is int
        and type(row[4]) is str
    )


def _outbox_plain(row: tuple[Any, ...]) -> bool:
    """Whether an outbox row (see _outbox_row) can be held: its key, kind, customer, attempts
    and status, taken from the entry as they are, are text and an integer."""
    return (
        type(row[0]) is str
        and type(row[1]) is str
        and type(row[2]) is str
        and type(row[6]) is int
        and type(row[7]) is str
    )


def _live_columns(row: tuple[Any, ...]) -> tuple[str, int, str]:
    """The live row (record, log length, tail) of an instance row held (see InstanceWrite)."""
    return row[7], row[8], row[9]


class StatePart(StoreCore, InstanceReads):
    """The :class:`~journeydsl.runtime.protocols.StateStore`,
    :class:`~journeydsl.runtime.protocols.Quarantine` and contact-history part of
    :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` (every table but ``events`` and
    ``profiles``)."""

    def commit(
        self,
        instances: Sequence[InstanceRecord],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Write instance records (and their timers), new outbox entries (ignored when the key
        exists), the processed-event marker and meta in one transaction: all or nothing."""
        if self._broken is not None:  # (it would commit on its own, without the batch)
            raise BatchRolledBack(self._broken)
        # Serialise first: a value that cannot be stored fails before anything is written.
        writes = [InstanceWrite(r) for r in instances]
        out_rows = [_outbox_row(e) for e in outbox]
        meta_rows = [(str(k), str(v)) for k, v in (meta or {}).items()]
        if self._db.in_transaction and self._holdable(writes, out_rows, processed_event):
            # Held with the transaction's other writes (all of them in memory now: nothing can
            # fail half-way), written when it needs them.
            held = self._writes
            for w in writes:
                held.instance(w.row, w.rewrite, w.chunk)
            for row in out_rows:
                held.outbox(row, replace=False)
            if processed_event is not None and not held.mark(processed_event):
                self._mark(self._conn, processed_event)
            if meta_rows:
                held.set_meta(meta_rows)
            self._instances_written(writes)
            for row in out_rows:
                self._outbox_written(row)
            return
        # Empty parts issue no statement. A commit of one row (most commits of a stream only
        # mark an event) is one statement, atomic and durable by itself: it needs no
        # transaction of its own.
        rows = 3 * len(writes) + len(out_rows) + (processed_event is not None) + len(meta_rows)
        added = 0
        with self._transaction() if rows > 1 else nullcontext(self._conn) as db:
            self._write_instances(db, writes)
            if out_rows:
                added = db.executemany(
                    "INSERT OR IGNORE INTO outbox (key, kind, customer_id, payload, "
                    "not_before_utc, not_before_iso, attempts, status) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    out_rows,
                ).rowcount
            if processed_event is not None:
                self._mark(db, processed_event)
            if meta_rows:
                db.executemany(
                    "INSERT INTO engine_meta (key, value) VALUES (?, ?) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    meta_rows,
                )
        # Written (committed, or part of the open batch, whose rollback drops the caches).
        self._instances_written(writes)
        if added != len(out_rows):
            self._pending = None  # some keys existed: those rows were not written
        for row in out_rows:
            self._outbox_written(row)

    @staticmethod
    def _holdable(
        writes: Sequence[InstanceWrite], out_rows: Sequence[tuple[Any, ...]], marker: object
    ) -> bool:
        """Whether the rows can be held (see WriteBatch): every value is text, an integer or a
        NULL the table allows, so that writing them later cannot fail on a value. Rows with
        other values are written at once, in a savepoint of their own (SQLite converts or
        refuses those values, and a refusal undoes that commit only)."""
        for w in writes:
            if not _instance_plain(w.row):
                return False
        for row in out_rows:
            if not _outbox_plain(row):
                return False
        return marker is None or type(marker) is str

    @staticmethod
    def _write_instances(db: sqlite3.Connection, writes: Sequence[InstanceWrite]) -> None:
        """The rows of ``writes`` and their decision logs: the new entries of a live record
        appended, the whole log of any other record written anew."""
        if not writes:
            return
        db.executemany(_UPSERT_INSTANCE, [w.row for w in writes])
        anew = [(w.row[0],) for w in writes if w.rewrite]
        if anew:
            db.executemany("DELETE FROM decisions WHERE instance = ?", anew)
        chunks = [(w.row[0], *w.chunk) for w in writes if w.chunk is not None]
        if chunks:
            db.executemany("INSERT INTO decisions (instance, n, entries) VALUES (?, ?, ?)", chunks)

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
        return [iid for _, iid, _ in self._timer_index().due(at, max(limit, 0))]

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
        first = self._timer_index().first()
        return datetime.fromisoformat(first[2]) if first else None

    def _timer_index(self) -> DueIndex[str]:
        """The waiting instances' timers (``due_iso`` by id, due at ``due_utc``): the engine
        asks after every step (``next_wakeup``, ``tick``), so they are kept, loaded on first use
        and moved by this store's own writes."""
        self._fresh()
        if self._timers is None:
            rows = self._conn.execute(
                "SELECT id, due_utc, due_iso FROM instances "
                "WHERE status = 'waiting' AND due_utc IS NOT NULL"
            )
            self._timers = DueIndex(rows)
        return self._timers

    def _instances_written(self, writes: Sequence[InstanceWrite]) -> None:
        """Keep the live records written in step with their stored logs, and the kept live rows
        and timers in step with the instance rows written."""
        for w in writes:
            if not w.rewrite:
                cast(dict[str, Any], w.record)["log_stored"] = w.total
            iid, customer, _, _, _, due_utc, due_iso, record, log_len, tail = w.row
            self._live.written(iid, customer, (record, log_len, tail))
            timers = self._timers
            if timers is None:
                continue
            if type(iid) is not str:
                self._timers = None  # (SQLite stores such an id as text: let it say)
            elif due_utc is None:
                timers.discard(iid)
            else:
                timers.put(iid, due_utc, due_iso)

    def live_instance(self, instance_id: str) -> InstanceRecord | None:
        """One live record (:class:`~journeydsl.runtime.protocols.LiveRecords`): from the live
        rows kept when its customer's are."""
        self._fresh()
        row = self._live.of_instance(instance_id)
        return _load_live(*row) if row is not None else super().live_instance(instance_id)

    def live_instances_of(self, customer_id: str) -> list[InstanceRecord]:
        """A customer's live records, oldest first (kept for the next step of the customer's)."""
        self._fresh()
        rows = self._live.of_customer(customer_id)
        if rows is None:
            found = self._live_rows_of(customer_id)
            self._live.keep(customer_id, found)
            rows = [(rec, n, tail) for _, rec, n, tail in found]
        return [_load_live(*row) for row in rows]

    def _live_rows_of(self, customer_id: str) -> list[tuple[str, str, int, str]]:
        """A customer's live rows, oldest first: the file's, with the instance rows held in the
        open transaction over them (a new instance is its customer's newest row)."""
        held = self._writes.instances
        rows = self._live_rows_in(self._db, customer_id)
        if not held:
            return rows
        if any(iid in held and held[iid][1] != customer_id for iid, *_ in rows):
            return super()._live_rows_of(customer_id)  # (it moved: let the file say, once written)
        over = {iid: held[iid] for iid in self._writes.customers.get(customer_id, ())}
        merged = [
            (iid, *_live_columns(over.pop(iid))) if iid in over else (iid, rec, n, tail)
            for iid, rec, n, tail in rows
        ]
        merged.extend((iid, *_live_columns(row)) for iid, row in over.items())
        return merged

    def _mark(self, db: sqlite3.Connection, marker: str) -> None:
        """Mark an event processed: on its own row, where this store keeps it (its page was
        just written by the append), else (a run of some journeys' per-journey marker, an
        event kept elsewhere) in ``processed_events``."""
        if db.execute("UPDATE events SET processed = 1 WHERE id = ?", (marker,)).rowcount:
            return
        db.execute("INSERT OR IGNORE INTO processed_events (id) VALUES (?)", (marker,))
        self._has_markers = True

    def processed(self, event_id: str) -> bool:
        """Whether the event was processed."""
        if type(event_id) is str and self._writes.processed(event_id):
            return True
        # (A row held unmarked is not in the file: the file's row, if any, is the event's.)
        row = self._db.execute("SELECT processed FROM events WHERE id = ?", (event_id,)).fetchone()
        if row is not None and row[0]:
            return True
        if row is None and self._db.in_transaction and type(event_id) is str:
            self._absent_event = event_id  # (append need not ask again)
        self._fresh()
        # (processed_events is written at once, never held)
        if self._has_markers is None:
            found = self._db.execute("SELECT EXISTS (SELECT 1 FROM processed_events)")
            self._has_markers = bool(found.fetchone()[0])
        if not self._has_markers:
            return False
        row = self._db.execute(
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
        pending = self._pending_index()
        if limit == 1:  # (the engine's usual question: is anything due?)
            first = pending.first()
            return [_entry(first[2])] if first is not None and first[0] <= at else []
        return [_entry(row) for _, _, row in pending.due(at, max(limit, 0))]

    def _pending_index(self) -> DueIndex[tuple[Any, ...]]:
        """The pending outbox entries (their rows by key, due at ``not_before_utc``): the engine
        asks after every step, so they are kept, loaded on first use and moved by this store's
        own writes."""
        if self._writes.outbox_new or self._writes.reload_outbox:
            # (An entry inserted may have had its key stored already, in which case the stored
            # one stays: the held rows are written, which tells, before the index answers.)
            self._flush()
        self._fresh()
        if self._pending is None:
            rows = self._conn.execute(
                "SELECT key, not_before_utc, key, kind, customer_id, payload, not_before_iso, "
                "attempts, status FROM outbox WHERE status = 'pending'"
            )
            self._pending = DueIndex((r[0], r[1], r[2:]) for r in rows)
        return self._pending

    def _outbox_written(self, row: tuple[Any, ...]) -> None:
        """Keep the pending entries in step with an outbox row written."""
        pending = self._pending
        if pending is None:
            return
        key, kind, customer, payload, at, iso, attempts, status = row
        if not (
            type(key) is str
            and type(kind) is str
            and type(customer) is str
            and type(attempts) is int
            and type(status) is str
        ):
            self._pending = None  # (SQLite converts these: let it say what it kept)
            return
        if status == "pending":
            pending.put(key, at, (key, kind, customer, payload, iso, attempts, status))
        else:
            pending.discard(key)

    def update_outbox(self, entry: OutboxEntry) -> None:
        """Store a delivery attempt's outcome (the whole entry replaces the stored one)."""
        row = _outbox_row(entry)
        if self._db.in_transaction and _outbox_plain(row):
            self._writes.outbox(row, replace=True)
        else:
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
    # (The quarantine is written at once, never held: its statements need nothing written.)

    def quarantine(self, event_id: str, event: str, reason: str, seen: datetime) -> None:
        """Keep a quarantined event (:class:`~journeydsl.runtime.protocols.Quarantine`): once
        per id, counted and with the latest reason when it comes again."""
        self._db.execute(
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
            self._db.execute(query + " WHERE id = ?", (event_id,))
            if event_id is not None
            else self._db.execute(query + " ORDER BY seq")
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
            row = self._db.execute("SELECT EXISTS (SELECT 1 FROM quarantine)").fetchone()
            self._has_quarantine = bool(row[0])
        if not self._has_quarantine:
            return False
        cur = self._db.execute("DELETE FROM quarantine WHERE id = ?", (event_id,))
        if cur.rowcount:
            self._has_quarantine = None  # it may be empty now
        return cur.rowcount > 0

    def request_replay(self, event_id: str | None = None) -> int:
        """Mark quarantined events (or one) for the next run; returns how many."""
        if event_id is None:
            return self._db.execute("UPDATE quarantine SET replay = 1").rowcount
        return self._db.execute(
            "UPDATE quarantine SET replay = 1 WHERE id = ?", (event_id,)
        ).rowcount

    # ================================================================== ContactHistory

    def prune_contacts(self, before: datetime) -> int:
        """Delete the contacts made before ``before`` (as instants); returns how many."""
        with self._transaction() as db:
            return db.execute("DELETE FROM contacts WHERE at_utc < ?", (_utc(before),)).rowcount

    def channel_contacts(
        self, channels: Sequence[str], categories: Sequence[str], since: datetime
    ) -> list[datetime]:
        """When the contacts on ``channels`` of ``categories`` at or after ``since`` were made
        (over every customer: what channel throughput limits count), oldest first."""
        marks = ", ".join("?" * len(channels)), ", ".join("?" * len(categories))
        rows = self._conn.execute(
            f"SELECT at_iso FROM contacts WHERE at_utc >= ? AND channel IN ({marks[0]}) "
            f"AND category IN ({marks[1]}) ORDER BY at_utc, seq",
            (_utc(since), *channels, *categories),
        ).fetchall()
        return [datetime.fromisoformat(at) for (at,) in rows]

    def contacts(self, customer_id: str, since: datetime) -> list[Contact]:
        """The customer's contacts at or after ``since`` (as instants), oldest first."""
        # (a message's tags ride in its outbox payload, which outlives its contact)
        rows = self._conn.execute(
            "SELECT c.key, c.at_iso, c.channel, c.category, c.journey, c.template, "
            "json_extract(o.payload, '$.tags') FROM contacts c LEFT JOIN outbox o ON o.key = c.key "
            "WHERE c.customer_id = ? AND c.at_utc >= ? ORDER BY c.at_utc, c.seq",
            (customer_id, _utc(since)),
        ).fetchall()
        return _contacts(customer_id, rows)

    def record_delivery(
        self,
        entry: OutboxEntry,
        contact: Contact | None = None,
        instance: InstanceRecord | None = None,
    ) -> None:
        """The outbox update, the contact (once per key) and the instance record in one
        transaction."""
        writes = [InstanceWrite(instance)] if instance is not None else []
        row = _outbox_row(entry)
        contact_row = (
            (
                contact.key,
                contact.customer_id,
                _utc(contact.at),
                contact.at.isoformat(),
                contact.channel,
                contact.category,
                contact.journey,
                contact.template,
            )
            if contact is not None
            else None
        )
        if (
            self._db.in_transaction
            and self._holdable(writes, [row], None)
            and (contact_row is None or _plain(contact_row))
        ):
            held = self._writes
            for w in writes:
                held.instance(w.row, w.rewrite, w.chunk)
            held.outbox(row, replace=True)
            if contact_row is not None:
                held.contact(contact_row)
        else:
            with self._transaction() as db:
                self._write_instances(db, writes)
                db.execute(_UPSERT_OUTBOX, row)
                if contact_row is not None:
                    db.execute(
                        "INSERT OR IGNORE INTO contacts (key, customer_id, at_utc, at_iso, "
                        "channel, category, journey, template) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                        contact_row,
                    )
        self._instances_written(writes)
        self._outbox_written(row)
