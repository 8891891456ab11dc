"""Reward budgets in the PostgreSQL store (the :class:`~journeydsl.runtime.budgets.BudgetLedger`
methods of :class:`~journeydsl.runtime.stores.postgres.PostgresStore`).

Tables (created when budgets are first declared, under a transaction-level advisory lock so that
workers starting together do not race on ``CREATE TABLE``):

* ``budgets(name PRIMARY KEY, currency, total NUMERIC, spent NUMERIC, starts DATE, ends DATE)``;
* ``budget_draws(seq, key PRIMARY KEY, budget, amount NUMERIC, at TIMESTAMPTZ, granted)``.

A draw, in one transaction (a savepoint of the engine step's own, so a step rolled back takes its
draw back): insert the draw's row keyed by its idempotency key (``ON CONFLICT DO NOTHING``: a
key drawn before, or being drawn by another worker, which this insert waits for, returns the
earlier answer), then ``UPDATE budgets SET spent = spent + $amount WHERE name = $budget AND
spent + $amount <= total``. PostgreSQL locks the budget's row for the update and evaluates the
condition again on the row as the concurrent draw left it, so concurrent draws are serialised on
that row and what is granted never passes the total, whatever the number of workers.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from journeydsl.expr.catalog import BudgetSpec
from journeydsl.runtime.budgets import BudgetState, DrawRecord, _check_spec

if TYPE_CHECKING:
    import psycopg

    from journeydsl.runtime.stores._pg_core import PgTransaction

__all__ = ["PgBudgets"]

#: The key of the advisory lock that creates the tables.
_LOCK = 0x6A64_6275  # "jdbu"
_TABLES = (
    'CREATE TABLE IF NOT EXISTS budgets (name TEXT COLLATE "C" PRIMARY KEY, currency TEXT, '
    "total NUMERIC NOT NULL, spent NUMERIC NOT NULL DEFAULT 0, starts DATE, ends DATE)",
    'CREATE TABLE IF NOT EXISTS budget_draws (seq BIGSERIAL, key TEXT COLLATE "C" PRIMARY KEY, '
    "budget TEXT NOT NULL, amount NUMERIC NOT NULL, at TIMESTAMPTZ NOT NULL, "
    "granted BOOLEAN NOT NULL)",
)


class PgBudgets:
    """The ledger methods, over the store's connection and transactions."""

    _conn: psycopg.Connection[tuple[Any, ...]]

    def _transaction(self) -> PgTransaction:
        raise NotImplementedError  # (the store's)

    def _has_budgets(self) -> bool:
        row = self._conn.execute("SELECT to_regclass('budget_draws')").fetchone()
        return row is not None and row[0] is not None

    def declare_budgets(self, specs: Sequence[BudgetSpec]) -> None:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        with self._transaction():
            db = self._conn
            db.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK,))
            for statement in _TABLES:
                db.execute(statement)
            for spec in specs:
                row = db.execute(
                    "SELECT currency FROM budgets WHERE name = %s FOR UPDATE", (spec.name,)
                ).fetchone()
                if row is not None:
                    _check_spec(spec, row[0])
                db.execute(
                    "INSERT INTO budgets (name, currency, total, starts, ends) "
                    "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (name) DO UPDATE SET "
                    "total = EXCLUDED.total, starts = EXCLUDED.starts, ends = EXCLUDED.ends",
                    (spec.name, spec.currency, spec.total, spec.starts, spec.ends),
                )

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger` and the module docstring."""
        with self._transaction():
            db = self._conn
            inserted = db.execute(
                "INSERT INTO budget_draws (key, budget, amount, at, granted) "
                "VALUES (%s, %s, %s, %s, false) ON CONFLICT (key) DO NOTHING RETURNING seq",
                (key, budget, amount, at),
            ).fetchone()
            if inserted is None:  # drawn before: the earlier answer
                row = db.execute(
                    "SELECT granted FROM budget_draws WHERE key = %s", (key,)
                ).fetchone()
                assert row is not None
                return bool(row[0])
            spent = db.execute(
                "UPDATE budgets SET spent = spent + %s WHERE name = %s AND spent + %s <= total "
                "RETURNING spent",
                (amount, budget, amount),
            ).fetchone()
            if spent is None:
                known = db.execute("SELECT 1 FROM budgets WHERE name = %s", (budget,)).fetchone()
                if known is None:
                    raise KeyError(f"no budget '{budget}' in the database")
                return False
            db.execute("UPDATE budget_draws SET granted = true WHERE key = %s", (key,))
            return True

    def budget_states(self) -> list[BudgetState]:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        if not self._has_budgets():
            return []
        rows = self._conn.execute(
            "SELECT b.name, b.currency, b.total, b.spent, "
            "count(d.key) FILTER (WHERE d.granted), count(d.key) FILTER (WHERE NOT d.granted), "
            "b.starts, b.ends FROM budgets b LEFT JOIN budget_draws d ON d.budget = b.name "
            "GROUP BY b.name ORDER BY b.name"
        ).fetchall()
        return [
            BudgetState(r[0], r[1], Decimal(r[2]), Decimal(r[3]), r[4], r[5], r[6], r[7])
            for r in rows
        ]

    def budget_draws(self, budget: str | None = None) -> list[DrawRecord]:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        if not self._has_budgets():
            return []
        rows = self._conn.execute(
            "SELECT key, budget, amount, at, granted FROM budget_draws "
            "WHERE %s::text IS NULL OR budget = %s ORDER BY seq",
            (budget, budget),
        ).fetchall()
        return [DrawRecord(r[0], r[1], Decimal(r[2]), r[3], bool(r[4])) for r in rows]
