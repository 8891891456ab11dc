"""The engine state of the PostgreSQL store (:class:`~journeydsl.runtime.protocols.StateStore`):
instance records with their decision logs (:class:`~journeydsl.runtime.protocols.LiveRecords`,
written by :class:`~journeydsl.runtime.stores._sqlite_rows.InstanceWrite` exactly as the SQLite
store writes them), timers, the outbox, processed markers and engine meta, the quarantine and the
contact history."""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from contextlib import nullcontext
from datetime import datetime
from typing import Any, cast

from journeydsl.runtime.protocols import Contact, OutboxEntry, QuarantinedEvent
from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.stores._instance_reads import InstanceReads
from journeydsl.runtime.stores._pg_buckets import PgBuckets
from journeydsl.runtime.stores._pg_core import aware
from journeydsl.runtime.stores._sqlite_rows import (
    InstanceWrite,
    _contacts,
    _dump,
    _entry,
)

__all__ = ["PgStatePart"]

_UPSERT_INSTANCE = (
    "INSERT INTO instances (id, customer_id, journey, version, status, due, due_iso, record, "
    "log_len, tail, bucket) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (id) DO UPDATE "
    "SET customer_id = excluded.customer_id, journey = excluded.journey, "
    "version = excluded.version, status = excluded.status, due = excluded.due, "
    "due_iso = excluded.due_iso, record = excluded.record, log_len = excluded.log_len, "
    "tail = excluded.tail"
)
_OUTBOX_COLUMNS = (
    "key, kind, customer_id, payload, not_before, not_before_iso, attempts, status, bucket"
)
_UPSERT_OUTBOX = (
    f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (key) DO UPDATE SET kind = excluded.kind, customer_id = excluded.customer_id, "
    "payload = excluded.payload, not_before = excluded.not_before, "
    "not_before_iso = excluded.not_before_iso, attempts = excluded.attempts, "
    "status = excluded.status, bucket = excluded.bucket"
)
#: The engine meta of an `entry when` condition's last value (``when:JOURNEY:CUSTOMER``, see
#: journeydsl.runtime.changes): the customer's state, fenced on the customer's bucket.
_WHEN = "when:"
_ENTRY = "key, kind, customer_id, payload, not_before_iso, attempts, status"


def _instance_row(w: InstanceWrite, bucket: int) -> tuple[Any, ...]:
    """The SQLite row of ``w`` with the due time as an instant (``timestamptz``), and its
    customer's bucket."""
    row = w.row
    due = datetime.fromisoformat(row[6]) if row[6] else None
    return (*row[:5], due, *row[6:], bucket)


def _outbox_row(e: OutboxEntry, bucket: int) -> tuple[Any, ...]:
    return (
        e.key,
        e.kind,
        e.customer_id,
        _dump(e.payload),
        aware(e.not_before),
        e.not_before.isoformat(),
        e.attempts,
        e.status,
        bucket,
    )


def _customer_of(event: str) -> str:
    """The customer id of a quarantined event's JSON text ("" when it names none)."""
    try:
        found = json.loads(event).get("customer_id")
    except (ValueError, AttributeError, RecursionError):
        return ""
    return found if isinstance(found, str) else ""


class PgStatePart(PgBuckets, InstanceReads):
    """Every table but ``events`` and ``profiles``."""

    MARK = "%s"
    # -- worker metrics: told ``(now, due times)`` of the timers due() hands out (timer lag)
    on_due: Callable[[datetime, list[datetime]], None] | None = None

    def commit(
        self,
        instances: Sequence[InstanceRecord],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Write instance records (and their timers), new outbox entries (ignored when the key
        exists), the processed-event marker and meta in one transaction: all or nothing."""
        writes = [InstanceWrite(r) for r in instances]
        out_rows = [_outbox_row(e, self.bucket(e.customer_id)) for e in outbox]
        meta_rows = [(str(k), str(v)) for k, v in (meta or {}).items()]
        rows = 3 * len(writes) + len(out_rows) + (processed_event is not None) + len(meta_rows)
        fenced = self.ownership is not None
        with self._transaction() if rows > 1 or fenced else nullcontext():
            # (a worker's commit: its leases first, in this transaction; a segment schedule
            # kept per bucket is the bucket's state too)
            self._fence(
                [
                    *(str(r["customer_id"]) for r in instances),
                    *(e.customer_id for e in outbox),
                    *(k.split(":", 2)[2] for k, _ in meta_rows if k.startswith(_WHEN)),
                ],
                [b for k, _ in meta_rows if (b := self._meta_bucket(k)) is not None],
            )
            self._write_instances(writes)
            if out_rows:
                with self._conn.cursor() as cur:
                    cur.executemany(
                        f"INSERT INTO outbox ({_OUTBOX_COLUMNS}) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (key) DO NOTHING",
                        out_rows,
                    )
            if processed_event is not None:
                self._mark(processed_event)
            if meta_rows:
                self._put_meta(meta_rows)
        self._instances_written(writes)

    def _put_meta(self, rows: Sequence[tuple[str, str]]) -> None:
        """Engine meta; a per-bucket key (a segment's schedule) goes to the scoped bucket's."""
        shared = [(k, v) for k, v in rows if self._meta_bucket(k) is None]
        own = [(b, k, v) for k, v in rows if (b := self._meta_bucket(k)) is not None]
        with self._conn.cursor() as cur:
            if shared:
                cur.executemany(
                    "INSERT INTO engine_meta (key, value) VALUES (%s, %s) "
                    "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                    shared,
                )
            if own:
                cur.executemany(
                    "INSERT INTO bucket_meta (bucket, key, value) VALUES (%s, %s, %s) "
                    "ON CONFLICT (bucket, key) DO UPDATE SET value = excluded.value",
                    own,
                )

    def _write_instances(self, writes: Sequence[InstanceWrite]) -> None:
        """The rows of ``writes`` and their decision logs: the new entries of a live record
        appended, the whole log of any other record written anew."""
        if not writes:
            return
        with self._conn.cursor() as cur:
            cur.executemany(
                _UPSERT_INSTANCE,
                [_instance_row(w, self.bucket(str(w.row[1]))) for w in writes],
            )
            anew = [(w.row[0],) for w in writes if w.rewrite]
            if anew:
                cur.executemany("DELETE FROM decisions WHERE instance = %s", anew)
            chunks = [(w.row[0], *w.chunk) for w in writes if w.chunk is not None]
            if chunks:
                cur.executemany(
                    "INSERT INTO decisions (instance, n, entries) VALUES (%s, %s, %s)", chunks
                )

    @staticmethod
    def _instances_written(writes: Sequence[InstanceWrite]) -> None:
        """Keep the live records written in step with their stored logs."""
        for w in writes:
            if not w.rewrite:
                cast(dict[str, Any], w.record)["log_stored"] = w.total

    def due(
        self,
        now: datetime,
        limit: int = 1000,
        *,
        journeys: Collection[tuple[str, int]] | None = None,
    ) -> list[str]:
        """Waiting instances whose timer is at or before ``now``, earliest first (ties by id);
        of ``journeys``' instances only, when given."""
        scope, args = self._in_scope()
        if journeys is not None:
            rows = self._conn.execute(
                "SELECT id, journey, version, due FROM instances WHERE status = 'waiting' "
                f"AND due <= %s{scope} ORDER BY due, id",
                (aware(now), *args),
            )
            found = list(
                itertools.islice(
                    ((iid, d) for iid, j, v, d in rows if (j, v) in journeys), max(limit, 0)
                )
            )
        else:
            found = self._conn.execute(
                f"SELECT id, due FROM instances WHERE status = 'waiting' AND due <= %s{scope} "
                "ORDER BY due, id LIMIT %s",
                (aware(now), *args, max(limit, 0)),
            ).fetchall()
        if self.on_due is not None and found:
            self.on_due(now, [d for _, d in found])
        return [iid for iid, _ in found]

    def next_due(self, *, journeys: Collection[tuple[str, int]] | None = None) -> datetime | None:
        """The earliest pending timer (of ``journeys``' instances only, when given)."""
        scope, args = self._in_scope()
        if journeys is None:
            row = self._conn.execute(
                "SELECT due_iso FROM instances WHERE status = 'waiting' AND due IS NOT NULL"
                f"{scope} ORDER BY due, id LIMIT 1",
                args,
            ).fetchone()
            return datetime.fromisoformat(row[0]) if row else None
        rows = self._conn.execute(
            "SELECT due_iso, journey, version FROM instances WHERE status = 'waiting' "
            f"AND due IS NOT NULL{scope} ORDER BY due, id",
            args,
        )
        for due_iso, j, v in rows:
            if (j, v) in journeys:
                return datetime.fromisoformat(due_iso)
        return None

    def _mark(self, marker: str) -> None:
        """Mark an event processed: on its own row where this store keeps it, else in
        ``processed_events``."""
        cur = self._conn.execute("UPDATE events SET processed = TRUE WHERE id = %s", (marker,))
        if not cur.rowcount:
            self._conn.execute(
                "INSERT INTO processed_events (id) VALUES (%s) ON CONFLICT DO NOTHING", (marker,)
            )

    def processed(self, event_id: str) -> bool:
        """Whether the event was processed."""
        row = self._conn.execute(
            "SELECT EXISTS (SELECT 1 FROM events WHERE id = %s AND processed) "
            "OR EXISTS (SELECT 1 FROM processed_events WHERE id = %s)",
            (event_id, event_id),
        ).fetchone()
        return bool(row and row[0])

    def pending_outbox(
        self,
        now: datetime,
        limit: int = 1000,
        *,
        journeys: Collection[tuple[str, int]] | None = None,
    ) -> list[OutboxEntry]:
        """Pending entries due at ``now``, by due time (as instants) then key; of ``journeys``
        only (``(id, version)`` pairs of the payload), when given."""
        scope, args = self._in_scope()
        if journeys is not None:
            entries = (
                _entry(row)
                for row in self._conn.execute(
                    f"SELECT {_ENTRY} FROM outbox WHERE status = 'pending' AND not_before <= %s"
                    f"{scope} ORDER BY not_before, key",
                    (aware(now), *args),
                )
            )
            mine = (e for e in entries if (e.payload["journey"], e.payload["version"]) in journeys)
            return list(itertools.islice(mine, max(limit, 0)))
        rows = self._conn.execute(
            f"SELECT {_ENTRY} FROM outbox WHERE status = 'pending' AND not_before <= %s{scope} "
            "ORDER BY not_before, key LIMIT %s",
            (aware(now), *args, max(limit, 0)),
        ).fetchall()
        return [_entry(row) for row in rows]

    def update_outbox(self, entry: OutboxEntry) -> None:
        """Store a delivery attempt's outcome (the whole entry replaces the stored one)."""
        with self._transaction() if self.ownership is not None else nullcontext():
            self._fence((entry.customer_id,))
            self._conn.execute(_UPSERT_OUTBOX, _outbox_row(entry, self.bucket(entry.customer_id)))

    def outbox(self) -> list[OutboxEntry]:
        """Every outbox entry, by due time then key."""
        rows = self._conn.execute(
            f"SELECT {_ENTRY} FROM outbox ORDER BY not_before, key"
        ).fetchall()
        return [_entry(row) for row in rows]

    def get_meta(self, key: str) -> str | None:
        """Engine bookkeeping (a per-bucket key: the scoped bucket's)."""
        bucket = self._meta_bucket(key)
        if bucket is not None:
            row = self._conn.execute(
                "SELECT value FROM bucket_meta WHERE bucket = %s AND key = %s", (bucket, key)
            ).fetchone()
            return str(row[0]) if row else None
        row = self._conn.execute("SELECT value FROM engine_meta WHERE key = %s", (key,)).fetchone()
        return str(row[0]) if row else None

    def live_journeys(self) -> dict[tuple[str, int], int]:
        """How many instances that have not ended each (journey, version) has."""
        rows = self._conn.execute(
            "SELECT journey, version, COUNT(*) FROM instances WHERE status != 'ended' "
            "GROUP BY journey, version"
        )
        return {(journey, int(version)): int(count) for journey, version, count in rows}

    def latest_event_time(self) -> datetime | None:
        """The time of the latest event stored (as an instant), with its own offset."""
        row = self._conn.execute(
            "SELECT at_iso FROM events ORDER BY at DESC, seq DESC LIMIT 1"
        ).fetchone()
        return datetime.fromisoformat(row[0]) if row else None

    # ================================================================== Quarantine

    def quarantine(self, event_id: str, event: str, reason: str, seen: datetime) -> None:
        """Keep a quarantined event: once per id, counted and with the latest reason when it
        comes again. A worker's write is fenced like its commits, on the lease of the bucket
        it is scoped to (else of the event's customer, "" for a line without one)."""
        fenced = self.ownership is not None
        with self._transaction() if fenced else nullcontext():
            # -- fenced quarantine: a stale owner must not count an event a second time
            if fenced:
                self._fence((), self.scope or (self.bucket(_customer_of(event)),))
            self._conn.execute(
                "INSERT INTO quarantine (id, event, reason, first_seen, last_seen, count) "
                "VALUES (%s, %s, %s, %s, %s, 1) ON CONFLICT (id) DO UPDATE SET "
                "event = excluded.event, reason = excluded.reason, "
                "last_seen = excluded.last_seen, count = quarantine.count + 1, replay = 0",
                (event_id, event, reason, seen.isoformat(), seen.isoformat()),
            )

    def quarantined(self, event_id: str | None = None) -> list[QuarantinedEvent]:
        """The quarantined events (or the one with ``event_id``), first seen first."""
        query = "SELECT id, event, reason, first_seen, last_seen, count, replay FROM quarantine"
        rows = (
            self._conn.execute(query + " WHERE id = %s", (event_id,))
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
                int(count),
                bool(replay),
            )
            for eid, event, reason, first, last, count, replay in rows
        ]

    def release(self, event_id: str) -> bool:
        """Remove a processed event from the quarantine."""
        cur = self._conn.execute("DELETE FROM quarantine WHERE id = %s", (event_id,))
        return cur.rowcount > 0

    def request_replay(self, event_id: str | None = None) -> int:
        """Mark quarantined events (or one) for the next run; returns how many."""
        if event_id is None:
            return self._conn.execute("UPDATE quarantine SET replay = 1").rowcount
        return self._conn.execute(
            "UPDATE quarantine SET replay = 1 WHERE id = %s", (event_id,)
        ).rowcount

    # ================================================================== ContactHistory

    def prune_contacts(self, before: datetime) -> int:
        """Delete the contacts made before ``before`` (as instants); returns how many."""
        with self._transaction():
            cur = self._conn.execute("DELETE FROM contacts WHERE at < %s", (aware(before),))
            return cur.rowcount

    # ---- ticket queues shared by workers (SharedQueues: the queue's release ranks every bucket's)

    def lock_queue(self, queue: str) -> None:
        """Lock the ticket queue ``queue`` until the open transaction ends (its release and its
        open tickets are decided by one engine at a time)."""
        if not self._in_tx():
            raise RuntimeError("ticket queues are locked inside a delivery transaction")
        self._conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"journeydsl.queue:{queue}",)
        )

    def queue_candidates(self, queue: str, release: datetime) -> list[OutboxEntry]:
        """Every bucket's pending tickets of ``queue`` due by ``release`` (what its release ranks),
        by due time then key."""
        rows = self._conn.execute(
            f"SELECT {_ENTRY} FROM outbox WHERE status = 'pending' AND kind = 'ticket' "
            "AND not_before <= %s AND payload::json ->> 'queue' = %s ORDER BY not_before, key",
            (aware(release), queue),
        ).fetchall()
        return [_entry(row) for row in rows]

    def lock_throughput(self, names: Sequence[str]) -> None:
        """Lock the throughput limits ``names`` until the open transaction ends: the engines
        sharing this database then count each other's deliveries (``SharedContacts``)."""
        if not self._in_tx():
            raise RuntimeError("throughput limits are locked inside a delivery transaction")
        for name in sorted(names):  # (one order for every engine: no deadlock)
            self._conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                (f"journeydsl.throughput:{name}",),
            )

    def channel_contacts(
        self, channels: Sequence[str], categories: Sequence[str], since: datetime
    ) -> list[datetime]:
        """When the contacts on ``channels`` of ``categories`` at or after ``since`` were made
        (over every customer: what channel throughput limits count), oldest first."""
        rows = self._conn.execute(
            "SELECT at_iso FROM contacts WHERE at >= %s AND channel = ANY(%s) "
            "AND category = ANY(%s) ORDER BY at, seq",
            (aware(since), list(channels), list(categories)),
        ).fetchall()
        return [datetime.fromisoformat(at) for (at,) in rows]

    def contacts(self, customer_id: str, since: datetime) -> list[Contact]:
        """The customer's contacts at or after ``since`` (as instants), oldest first."""
        # (a message's tags ride in its outbox payload, which outlives its contact; the json
        # type, unlike jsonb, takes any escaped character the payload text may hold)
        rows = self._conn.execute(
            "SELECT c.key, c.at_iso, c.channel, c.category, c.journey, c.template, "
            "(o.payload::json -> 'tags')::text FROM contacts c LEFT JOIN outbox o ON o.key = c.key "
            "WHERE c.customer_id = %s AND c.at >= %s ORDER BY c.at, c.seq",
            (customer_id, aware(since)),
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
        row = _outbox_row(entry, self.bucket(entry.customer_id))
        with self._transaction():
            self._fence((entry.customer_id,))
            self._write_instances(writes)
            self._conn.execute(_UPSERT_OUTBOX, row)
            if contact is not None:
                self._conn.execute(
                    "INSERT INTO contacts (key, customer_id, at, at_iso, channel, category, "
                    "journey, template) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
                    "ON CONFLICT (key) DO NOTHING",
                    (
                        contact.key,
                        contact.customer_id,
                        aware(contact.at),
                        contact.at.isoformat(),
                        contact.channel,
                        contact.category,
                        contact.journey,
                        contact.template,
                    ),
                )
        self._instances_written(writes)
