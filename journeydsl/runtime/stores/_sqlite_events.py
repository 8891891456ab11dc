"""The events of the SQLite store (:class:`~journeydsl.runtime.protocols.EventStore`): appending
once per id, windows by instant, and aggregates pushed down to SQL where the result is provably
the one :func:`~journeydsl.expr.context.run_aggregate` gives."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, run_aggregate
from journeydsl.runtime.codec import decode, decode_map
from journeydsl.runtime.stores._sqlite_core import StoreCore
from journeydsl.runtime.stores._sqlite_rows import _dump_values, _json_path, _utc

__all__ = ["EventsPart"]


class EventsPart(StoreCore):
    """The :class:`~journeydsl.runtime.protocols.EventStore` part of
    :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` (the ``events`` table)."""

    def append(self, event_id: str, event: EventRecord) -> bool:
        """Store ``event`` once per id; False for a duplicate. Inside a transaction the row is
        held until the transaction needs it (see WriteBatch)."""
        row = [
            event_id,
            event.customer_id,
            event.type,
            _utc(event.at),
            event.at.isoformat(),
            _dump_values(event.data),
            0,
        ]
        writes = self._writes
        absent, self._absent_event = self._absent_event == event_id, None
        if (
            not self._db.in_transaction
            or type(event_id) is not str
            or type(event.customer_id) is not str
            or type(event.type) is not str
        ):
            cur = self._conn.execute(
                "INSERT OR IGNORE INTO events (id, customer_id, type, at_utc, at_iso, data) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                row[:6],
            )
            return cur.rowcount == 1
        if event_id in writes.events:
            return False
        if not absent:
            found = self._db.execute("SELECT 1 FROM events WHERE id = ?", (event_id,))
            if found.fetchone() is not None:
                return False
        writes.event(row)
        return True

    def _events_db(self, customer_id: str, event_type: str) -> sqlite3.Connection:
        """The connection for a read of ``customer_id``'s ``event_type`` events (the events held
        that it could see written first; nothing else it reads is held)."""
        self._flush((customer_id, event_type))
        return self._db

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
        rows = (
            self._events_db(customer_id, event_type)
            .execute(f"SELECT at_iso, data FROM events WHERE {where} ORDER BY at_utc, seq", args)
            .fetchall()
        )
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
        db = self._events_db(customer_id, query.event)
        if func == "count":
            row = db.execute(f"SELECT count(*) FROM events WHERE {where}", args).fetchone()
            return int(row[0])
        if func == "has":
            row = db.execute(f"SELECT EXISTS (SELECT 1 FROM events WHERE {where})", args).fetchone()
            return bool(row[0])
        path = _json_path(field or "")
        if path is None or field == "at":
            return run_aggregate(query, self.events(customer_id, query.event, start, end), ctx)
        try:
            return self._field_aggregate(query, field or "", path, where, args, ctx, db)
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
        db: sqlite3.Connection,
    ) -> Any:
        func = query.func
        kinds = {
            kind
            for (kind,) in db.execute(
                f"SELECT DISTINCT json_type(data, ?) FROM events WHERE {where}", [path, *args]
            )
        }
        kinds -= {None, "null"}
        if not kinds:
            return query.zero
        present = f"{where} AND json_type(data, ?) <> 'null'"
        if func == "last":
            row = db.execute(
                f"SELECT data FROM events WHERE {present} ORDER BY at_utc DESC, seq DESC LIMIT 1",
                [*args, path],
            ).fetchone()
            return decode(json.loads(row[0])[field])
        sql_func = {"sum": "sum", "min": "min", "max": "max"}[func]
        if kinds == {"integer"} or (kinds == {"text"} and func != "sum"):
            try:
                row = db.execute(
                    f"SELECT {sql_func}(json_extract(data, ?)) FROM events WHERE {present}",
                    [path, *args, path],
                ).fetchone()
            except sqlite3.OperationalError:
                row = None  # integer overflow in sum(): Python ints do not overflow
            # Integers beyond 64 bits come back from SQLite as floats: fold those in Python.
            if row is not None and isinstance(row[0], int | str) and not isinstance(row[0], bool):
                return row[0]
        # Exact fold in Python over the window's values, with run_aggregate's own semantics.
        rows = db.execute(
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
        row = (
            self._events_db(customer_id, event_type)
            .execute(
                "SELECT at_iso FROM events WHERE customer_id = ? AND type = ? AND at_utc <= ? "
                "ORDER BY at_utc DESC, seq DESC LIMIT 1",
                (customer_id, event_type, _utc(before)),
            )
            .fetchone()
        )
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
