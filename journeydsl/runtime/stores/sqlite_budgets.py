"""Reward budgets in SQLite: the ledger part of the SQLite store, and :class:`SQLiteBudgets`, a
budgets file several processes (or engines on other stores) share.

Tables (created when budgets are first declared; a file without them has no budgets):

* ``budgets(name PRIMARY KEY, currency, total, spent, starts, ends)``: amounts as decimal text
  (never a float); ``currency`` NULL for a quota;
* ``budget_draws(seq, key UNIQUE, budget, amount, at_iso, granted)``: every draw, keyed by its
  idempotency key.

A draw is one ``BEGIN IMMEDIATE`` transaction (a savepoint inside the store's open one): SQLite
lets one writer in at a time, so reading ``spent``, comparing and writing it back cannot
interleave with another connection's draw, and what is granted never passes the total.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from typing import Self

from journeydsl.expr.catalog import BudgetSpec
from journeydsl.runtime.budgets import BudgetState, DrawRecord, _check_spec
from journeydsl.runtime.stores._sqlite_core import Transaction

__all__ = ["SQLiteBudgets", "SQLiteBudgetsPart"]

_TABLES = (
    "CREATE TABLE IF NOT EXISTS budgets (name TEXT PRIMARY KEY, currency TEXT, "
    "total TEXT NOT NULL, spent TEXT NOT NULL, starts TEXT, ends TEXT)",
    "CREATE TABLE IF NOT EXISTS budget_draws (seq INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, "
    "budget TEXT NOT NULL, amount TEXT NOT NULL, at_iso TEXT NOT NULL, granted INTEGER NOT NULL)",
)


def _day(text: str | None) -> date | None:
    return date.fromisoformat(text) if text else None


class SQLiteBudgetsPart:
    """The :class:`~journeydsl.runtime.budgets.BudgetLedger` methods over ``_conn``."""

    #: The connection (opened by the store).
    _db: sqlite3.Connection

    @property
    def _conn(self) -> sqlite3.Connection:
        return self._db

    def _transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        raise NotImplementedError  # (each store has its own)

    def _has_budgets(self) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'budget_draws'"
        ).fetchone()
        return row is not None

    def declare_budgets(self, specs: Sequence[BudgetSpec]) -> None:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        with self._transaction() as db:
            for statement in _TABLES:
                db.execute(statement)
            for spec in specs:
                row = db.execute(
                    "SELECT currency FROM budgets WHERE name = ?", (spec.name,)
                ).fetchone()
                window = (
                    spec.starts.isoformat() if spec.starts else None,
                    spec.ends.isoformat() if spec.ends else None,
                )
                if row is None:
                    db.execute(
                        "INSERT INTO budgets VALUES (?, ?, ?, '0', ?, ?)",
                        (spec.name, spec.currency, str(spec.total), *window),
                    )
                    continue
                _check_spec(spec, row[0])
                db.execute(
                    "UPDATE budgets SET total = ?, starts = ?, ends = ? WHERE name = ?",
                    (str(spec.total), *window, spec.name),
                )

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`: one write transaction."""
        with self._transaction() as db:
            row = db.execute("SELECT granted FROM budget_draws WHERE key = ?", (key,)).fetchone()
            if row is not None:
                return bool(row[0])
            kept = db.execute(
                "SELECT total, spent FROM budgets WHERE name = ?", (budget,)
            ).fetchone()
            if kept is None:
                raise KeyError(f"no budget '{budget}' in {getattr(self, 'path', 'the store')}")
            total, spent = Decimal(kept[0]), Decimal(kept[1])
            granted = spent + amount <= total
            if granted:
                db.execute(
                    "UPDATE budgets SET spent = ? WHERE name = ?", (str(spent + amount), budget)
                )
            db.execute(
                "INSERT INTO budget_draws (key, budget, amount, at_iso, granted) "
                "VALUES (?, ?, ?, ?, ?)",
                (key, budget, str(amount), at.isoformat(), int(granted)),
            )
            return granted

    def budget_states(self) -> list[BudgetState]:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        if not self._has_budgets():
            return []
        rows = self._conn.execute(
            "SELECT b.name, b.currency, b.total, b.spent, b.starts, b.ends, "
            "(SELECT count(*) FROM budget_draws d WHERE d.budget = b.name AND d.granted), "
            "(SELECT count(*) FROM budget_draws d WHERE d.budget = b.name AND NOT d.granted) "
            "FROM budgets b ORDER BY b.name"
        ).fetchall()
        return [
            BudgetState(
                r[0], r[1], Decimal(r[2]), Decimal(r[3]), r[6], r[7], _day(r[4]), _day(r[5])
            )
            for r in rows
        ]

    def budget_draws(self, budget: str | None = None) -> list[DrawRecord]:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        if not self._has_budgets():
            return []
        rows = self._conn.execute(
            "SELECT key, budget, amount, at_iso, granted FROM budget_draws "
            "WHERE ? IS NULL OR budget = ? ORDER BY seq",
            (budget, budget),
        ).fetchall()
        return [
            DrawRecord(r[0], r[1], Decimal(r[2]), datetime.fromisoformat(r[3]), bool(r[4]))
            for r in rows
        ]


class SQLiteBudgets(SQLiteBudgetsPart):
    """A budgets file of its own, shared by several processes or engines (each opens its own
    ``SQLiteBudgets`` on the same path): ``Engine(..., budgets=SQLiteBudgets("budgets.db"))``.
    A connection of one thread; ``timeout`` is how long a draw waits for another writer;
    ``readonly=True`` reads the budgets of any file that has them (a store's too)."""

    def __init__(self, path: str | Path, *, timeout: float = 30.0, readonly: bool = False) -> None:
        self.path = str(path)
        if readonly:
            uri = Path(self.path).resolve().as_uri() + "?mode=ro"
            self._db = sqlite3.connect(uri, timeout=timeout, isolation_level=None, uri=True)
            return
        self._db = sqlite3.connect(self.path, timeout=timeout, isolation_level=None)
        # Two engines opening a new file at once both switch it to WAL; the switch does not wait
        # on the busy timeout (SQLite answers "database is locked" at once), so it waits here.
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        self._conn.execute("PRAGMA synchronous=FULL")

    def _transaction(self) -> Transaction:
        return Transaction(self._conn)

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._conn.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
