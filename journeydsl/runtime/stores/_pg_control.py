"""The control state of live journeys in the PostgreSQL store (schema version 3; see
:mod:`journeydsl.runtime.control`): ``journey_control``, ``control_audit`` and ``held_events``
as in the SQLite store, the held events in their customer's bucket, so that a worker applies,
on resume, those of the buckets it leases (under its lease, in its fenced step)."""

from __future__ import annotations

import json
from datetime import datetime

from journeydsl.runtime.control import AuditEntry, ControlState, HeldEvent
from journeydsl.runtime.stores._pg_buckets import PgBuckets
from journeydsl.runtime.stores._pg_core import aware

__all__ = ["VERSION_3", "PgControl"]

#: What schema version 3 adds.
VERSION_3 = """
CREATE TABLE IF NOT EXISTS journey_control (
    journey TEXT COLLATE "C" PRIMARY KEY,
    state TEXT NOT NULL,
    since TIMESTAMPTZ NOT NULL,
    since_iso TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS control_audit (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at TIMESTAMPTZ NOT NULL,
    journey TEXT COLLATE "C" NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS held_events (
    seq BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    journey TEXT COLLATE "C" NOT NULL,
    event_id TEXT COLLATE "C" NOT NULL,
    bucket INTEGER NOT NULL,
    customer_id TEXT COLLATE "C" NOT NULL,
    event TEXT NOT NULL,
    UNIQUE (journey, event_id)
);
CREATE INDEX IF NOT EXISTS held_events_by_journey ON held_events (journey, bucket, seq)
"""


class PgControl(PgBuckets):
    """:class:`~journeydsl.runtime.control.ControlStore` for the PostgreSQL store."""

    def control_states(self) -> dict[str, ControlState]:
        """Every journey's recorded control state."""
        rows = self._conn.execute(
            "SELECT journey, state, since_iso, actor, reason, detail FROM journey_control"
        ).fetchall()
        return {
            j: ControlState(j, state, datetime.fromisoformat(since), actor, reason, json.loads(d))
            for j, state, since, actor, reason, d in rows
        }

    def set_control(self, state: ControlState, entry: AuditEntry, was: ControlState | None) -> bool:
        """Record ``state`` and its audit ``entry`` in one transaction, if the journey's state
        is still ``was`` (None: it has none); a concurrent change waits for this one, then
        finds it changed."""
        row = (
            state.state,
            state.since,
            state.since.isoformat(),
            state.by,
            state.reason,
            json.dumps(dict(state.detail), sort_keys=True),
        )
        with self._transaction():
            if was is None:
                cur = self._conn.execute(
                    "INSERT INTO journey_control (state, since, since_iso, actor, reason, detail, "
                    "journey) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (journey) "
                    "DO NOTHING",
                    (*row, state.journey),
                )
            else:
                cur = self._conn.execute(
                    "UPDATE journey_control SET state = %s, since = %s, since_iso = %s, "
                    "actor = %s, reason = %s, detail = %s WHERE journey = %s AND state = %s "
                    "AND since_iso = %s",
                    (*row, state.journey, was.state, was.since.isoformat()),
                )
            if cur.rowcount != 1:
                return False
            self._conn.execute(
                "INSERT INTO control_audit (at, journey, action, actor, reason, detail) "
                "VALUES (%s, %s, %s, %s, %s, %s)",
                (
                    entry.at,
                    entry.journey,
                    entry.action,
                    entry.by,
                    entry.reason,
                    json.dumps(dict(entry.detail), ensure_ascii=False, sort_keys=True),
                ),
            )
        return True

    def control_audit(self, journey: str | None = None) -> list[AuditEntry]:
        """The audit entries (of ``journey``), oldest first."""
        where, args = ("WHERE journey = %s", [journey]) if journey is not None else ("", [])
        rows = self._conn.execute(
            "SELECT seq, at, journey, action, actor, reason, detail FROM control_audit "
            f"{where} ORDER BY seq",
            args,
        ).fetchall()
        return [
            AuditEntry(aware(at), j, action, actor, reason, json.loads(d), seq)
            for seq, at, j, action, actor, reason, d in rows
        ]

    def hold_event(self, journey: str, event_id: str, customer_id: str, event: str) -> None:
        """Keep an event for a paused journey (once); part of the open transaction."""
        self._conn.execute(
            "INSERT INTO held_events (journey, event_id, bucket, customer_id, event) "
            "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (journey, event_id) DO NOTHING",
            (journey, event_id, self.bucket(customer_id), customer_id, event),
        )

    def held_events(self, journey: str, limit: int) -> list[HeldEvent]:
        """The first ``limit`` events ``journey`` holds (in the buckets in scope), in order."""
        scope, args = self._in_scope()
        rows = self._conn.execute(
            "SELECT event_id, customer_id, event FROM held_events WHERE journey = %s"
            f"{scope} ORDER BY seq LIMIT %s",
            [journey, *args, limit],
        ).fetchall()
        return [HeldEvent(journey, eid, customer, event) for eid, customer, event in rows]

    def release_held(self, journey: str, event_id: str) -> None:
        """Forget a held event (it was applied)."""
        self._conn.execute(
            "DELETE FROM held_events WHERE journey = %s AND event_id = %s", (journey, event_id)
        )

    def held_counts(self) -> dict[str, int]:
        """How many events each journey holds (in every bucket)."""
        rows = self._conn.execute(
            "SELECT journey, COUNT(*) FROM held_events GROUP BY journey"
        ).fetchall()
        return {j: int(n) for j, n in rows}

    def control_timers(self, journey: str, start: datetime, end: datetime) -> list[str]:
        """The waiting instances of ``journey`` (in scope) whose timer is due in
        ``[start, end]``."""
        scope, args = self._in_scope()
        rows = self._conn.execute(
            "SELECT id FROM instances WHERE status = 'waiting' AND journey = %s "
            f"AND due >= %s AND due <= %s{scope} ORDER BY id",
            [journey, start, end, *args],
        ).fetchall()
        return [str(iid) for (iid,) in rows]

    def journey_counts(self) -> dict[str, tuple[int, int]]:
        """Per journey: (running, ended) instances."""
        rows = self._conn.execute(
            "SELECT journey, COUNT(*) FILTER (WHERE status != 'ended'), "
            "COUNT(*) FILTER (WHERE status = 'ended') FROM instances GROUP BY journey"
        ).fetchall()
        return {j: (int(running), int(ended)) for j, running, ended in rows}
