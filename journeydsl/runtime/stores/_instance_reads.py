"""The instance reads the SQLite and PostgreSQL stores share: whole records (the stored JSON with
the decision log read back from its table) and live ones (the JSON with the log's tail,
:class:`~journeydsl.runtime.protocols.LiveRecords`). The two stores' SQL differs only in the
parameter marker (``?`` or ``%s``)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.stores._sqlite_rows import _load_instance, _load_live

__all__ = ["InstanceReads"]


class InstanceReads:
    """:meth:`instance`, :meth:`instances_of`, :meth:`all_instances` and the live reads, over
    the ``instances`` and ``decisions`` tables of a store's connection."""

    #: The store's connection (``execute`` gives an iterable cursor with ``fetchone``).
    _conn: Any
    #: The connection's parameter marker.
    MARK: ClassVar[str] = "?"

    def _sql(self, text: str) -> str:
        return text if self.MARK == "?" else text.replace("?", self.MARK)

    def instance(self, instance_id: str) -> InstanceRecord | None:
        """One instance record, with its whole decision log."""
        row = self._conn.execute(
            self._sql("SELECT record FROM instances WHERE id = ?"), (instance_id,)
        ).fetchone()
        if row is None:
            return None
        log: list[Any] = []
        for (chunk,) in self._conn.execute(
            self._sql("SELECT entries FROM decisions WHERE instance = ? ORDER BY n"),
            (instance_id,),
        ):
            log.extend(json.loads(chunk))
        return _load_instance(row[0], log)

    def instances_of(self, customer_id: str) -> list[InstanceRecord]:
        """A customer's records, oldest first."""
        rows = self._conn.execute(
            self._sql("SELECT id, record FROM instances WHERE customer_id = ? ORDER BY seq"),
            (customer_id,),
        ).fetchall()
        logs = self._logs(
            "SELECT d.instance, d.entries FROM decisions d JOIN instances i ON i.id = d.instance "
            "WHERE i.customer_id = ? ORDER BY d.instance, d.n",
            (customer_id,),
        )
        return [_load_instance(r, logs.get(iid, [])) for iid, r in rows]

    def all_instances(self) -> list[InstanceRecord]:
        """Every record, oldest first."""
        rows = self._conn.execute("SELECT id, record FROM instances ORDER BY seq").fetchall()
        logs = self._logs("SELECT instance, entries FROM decisions ORDER BY instance, n", ())
        return [_load_instance(r, logs.get(iid, [])) for iid, r in rows]

    def _logs(self, query: str, args: tuple[Any, ...]) -> dict[str, list[Any]]:
        logs: dict[str, list[Any]] = {}
        for iid, chunk in self._conn.execute(self._sql(query), args):
            logs.setdefault(iid, []).extend(json.loads(chunk))
        return logs

    def live_instance(self, instance_id: str) -> InstanceRecord | None:
        """One live record (:class:`~journeydsl.runtime.protocols.LiveRecords`)."""
        row = self._conn.execute(
            self._sql("SELECT record, log_len, tail FROM instances WHERE id = ?"), (instance_id,)
        ).fetchone()
        return _load_live(*row) if row else None

    def live_instances_of(self, customer_id: str) -> list[InstanceRecord]:
        """A customer's live records, oldest first."""
        return [_load_live(rec, n, tail) for _, rec, n, tail in self._live_rows_of(customer_id)]

    def _live_rows_of(self, customer_id: str) -> list[tuple[str, str, int, str]]:
        """A customer's live rows, oldest first: ``(id, record, log_len, tail)``."""
        return self._live_rows_in(self._conn, customer_id)

    def _live_rows_in(self, db: Any, customer_id: str) -> list[tuple[str, str, int, str]]:
        """:meth:`_live_rows_of`, read through ``db``."""
        rows: list[tuple[str, str, int, str]] = db.execute(
            self._sql(
                "SELECT id, record, log_len, tail FROM instances WHERE customer_id = ? ORDER BY seq"
            ),
            (customer_id,),
        ).fetchall()
        return rows
