"""The control state of live journeys in the SQLite store (schema version 5; see
:mod:`journeydsl.runtime.control`): ``journey_control`` (each journey's state), ``control_audit``
(every action: who, when, what, why) and ``held_events`` (the events paused journeys hold)."""

from __future__ import annotations

import json
from datetime import datetime

from journeydsl.runtime.control import AuditEntry, ControlState, HeldEvent
from journeydsl.runtime.stores._sqlite_core import StoreCore
from journeydsl.runtime.stores._sqlite_rows import _utc

__all__ = ["SCHEMA_5", "ControlPart"]

#: The tables schema version 5 adds.
SCHEMA_5 = """
CREATE TABLE IF NOT EXISTS journey_control (
    journey TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    since_iso TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL DEFAULT '{}'
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS control_audit (
    seq INTEGER PRIMARY KEY,
    at_iso TEXT NOT NULL,
    journey TEXT NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    reason TEXT,
    detail TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS held_events (
    seq INTEGER PRIMARY KEY,
    journey TEXT NOT NULL,
    event_id TEXT NOT NULL,
    customer_id TEXT NOT NULL,
    event TEXT NOT NULL,
    UNIQUE (journey, event_id)
)
"""


class ControlPart(StoreCore):
    """:class:`~journeydsl.runtime.control.ControlStore` for the SQLite store."""

    def control_states(self) -> dict[str, ControlState]:
        """Every journey's recorded control state."""
        rows = self._conn.execute(
            "SELECT journey, state, since_iso, actor, reason, detail FROM journey_control"
        )
        return {
            j: ControlState(j, state, datetime.fromisoformat(since), actor, reason, json.loads(d))
            for j, state, since, actor, reason, d in rows
        }

    def set_control(self, state: ControlState, entry: AuditEntry, was: ControlState | None) -> bool:
        """Record ``state`` and its audit ``entry`` in one transaction, if the journey's state
        is still ``was`` (None: it has none)."""
        row = (
            state.state,
            state.since.isoformat(),
            state.by,
            state.reason,
            json.dumps(dict(state.detail), sort_keys=True),
        )
        with self._transaction() as db:
            if was is None:
                changed = db.execute(
                    "INSERT INTO journey_control (state, since_iso, actor, reason, detail, "
                    "journey) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (journey) DO NOTHING",
                    (*row, state.journey),
                ).rowcount
            else:
                changed = db.execute(
                    "UPDATE journey_control SET state = ?, since_iso = ?, actor = ?, reason = ?, "
                    "detail = ? WHERE journey = ? AND state = ? AND since_iso = ?",
                    (*row, state.journey, was.state, was.since.isoformat()),
                ).rowcount
            if changed != 1:
                return False
            db.execute(
                "INSERT INTO control_audit (at_iso, journey, action, actor, reason, detail) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    entry.at.isoformat(),
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
        where, args = ("WHERE journey = ?", (journey,)) if journey is not None else ("", ())
        rows = self._conn.execute(
            "SELECT seq, at_iso, journey, action, actor, reason, detail FROM control_audit "
            f"{where} ORDER BY seq",
            args,
        )
        return [
            AuditEntry(datetime.fromisoformat(at), j, action, actor, reason, json.loads(d), seq)
            for seq, at, j, action, actor, reason, d in rows
        ]

    def hold_event(self, journey: str, event_id: str, customer_id: str, event: str) -> None:
        """Keep an event for a paused journey (once); part of the open transaction."""
        self._conn.execute(
            "INSERT INTO held_events (journey, event_id, customer_id, event) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (journey, event_id) DO NOTHING",
            (journey, event_id, customer_id, event),
        )

    def held_events(self, journey: str, limit: int) -> list[HeldEvent]:
        """The first ``limit`` events ``journey`` holds, in the order they came."""
        rows = self._conn.execute(
            "SELECT event_id, customer_id, event FROM held_events WHERE journey = ? "
            "ORDER BY seq LIMIT ?",
            (journey, limit),
        )
        return [HeldEvent(journey, eid, customer, event) for eid, customer, event in rows]

    def release_held(self, journey: str, event_id: str) -> None:
        """Forget a held event (it was applied)."""
        self._conn.execute(
            "DELETE FROM held_events WHERE journey = ? AND event_id = ?", (journey, event_id)
        )

    def held_counts(self) -> dict[str, int]:
        """How many events each journey holds."""
        rows = self._conn.execute("SELECT journey, COUNT(*) FROM held_events GROUP BY journey")
        return dict(rows)

    def control_timers(self, journey: str, start: datetime, end: datetime) -> list[str]:
        """The waiting instances of ``journey`` whose timer is due in ``[start, end]``."""
        rows = self._conn.execute(
            "SELECT id FROM instances WHERE status = 'waiting' AND journey = ? "
            "AND due_utc >= ? AND due_utc <= ? ORDER BY id",
            (journey, _utc(start), _utc(end)),
        )
        return [iid for (iid,) in rows]

    def journey_counts(self) -> dict[str, tuple[int, int]]:
        """Per journey: (running, ended) instances."""
        rows = self._conn.execute(
            "SELECT journey, SUM(status != 'ended'), SUM(status = 'ended') FROM instances "
            "GROUP BY journey"
        )
        return {j: (int(running), int(ended)) for j, running, ended in rows}
