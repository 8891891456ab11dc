"""Reward budgets at run time: the ledger a ``reward … from BUDGET`` step draws from.

A :class:`BudgetLedger` keeps, per budget, its ``total`` (from the catalog), what was ``spent``
and every draw, keyed by the draw's idempotency key (``journey:version:instance:step:visit``).
A draw is one atomic operation of the ledger:

* a key seen before returns the earlier answer (a crash, a replay or a second worker that runs
  the step again never draws twice, and never changes the answer);
* otherwise the amount is granted when ``spent + amount <= total`` (a draw that exactly reaches
  the total is granted, one that would pass it is refused), and ``spent`` grows by it;
* the answer, granted or refused, is recorded under the key.

The ledgers: :class:`MemoryBudgets` (the memory store, the simulator, ``journeydsl test``), the
SQLite store and :class:`~journeydsl.runtime.stores.sqlite_budgets.SQLiteBudgets` (a budgets file
that several processes share; each draw is one ``BEGIN IMMEDIATE`` transaction), and the
PostgreSQL store (one conditional ``UPDATE … WHERE spent + amount <= total`` and an insert keyed
by the draw's key, in one transaction): exact across workers, never oversubscribed.

Inside an engine step the stores draw in the step's own transaction (a savepoint), so a step that
is rolled back takes its draw back with it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol, runtime_checkable

from journeydsl.expr.catalog import BudgetSpec
from journeydsl.money import money_text

__all__ = [
    "BudgetLedger",
    "BudgetState",
    "DrawRecord",
    "MemoryBudgets",
    "budget_json",
    "budget_text",
]


@dataclass(frozen=True, slots=True)
class BudgetState:
    """A budget as its ledger holds it now. ``currency`` None: a quota of ``total`` rewards."""

    name: str
    currency: str | None
    total: Decimal
    spent: Decimal
    granted: int
    refused: int
    starts: date | None = None
    ends: date | None = None

    @property
    def remaining(self) -> Decimal:
        """What is left to draw (never negative)."""
        return max(self.total - self.spent, Decimal(0))


@dataclass(frozen=True, slots=True)
class DrawRecord:
    """One draw: its idempotency key, budget, amount, instant and answer."""

    key: str
    budget: str
    amount: Decimal
    at: datetime
    granted: bool


@runtime_checkable
class BudgetLedger(Protocol):
    """**Protocol:** where reward budgets are kept (see the module docstring)."""

    def declare_budgets(self, specs: Sequence[BudgetSpec]) -> None:
        """Create the budgets ``specs`` name (nothing spent), or set the total and window of
        those that exist (what was spent stays)."""
        ...

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """Draw ``amount`` from ``budget`` under ``key``, atomically: True when granted (the
        earlier answer when ``key`` was drawn before). KeyError for an undeclared budget."""
        ...

    def budget_states(self) -> list[BudgetState]:
        """Every budget, by name."""
        ...

    def budget_draws(self, budget: str | None = None) -> list[DrawRecord]:
        """The draws (of ``budget``, or all), in the order they were made."""
        ...


def _check_spec(spec: BudgetSpec, currency: str | None) -> None:
    if currency != spec.currency:
        was = currency or "a quota"
        raise ValueError(
            f"budget '{spec.name}' is kept in {was}, but the journeys declare it in "
            f"{spec.currency or 'a quota'}: a budget keeps its unit"
        )


class MemoryBudgets:
    """A :class:`BudgetLedger` in memory (thread safe: one lock around each draw)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._budgets: dict[str, tuple[BudgetSpec, Decimal]] = {}
        self._draws: dict[str, DrawRecord] = {}

    def declare_budgets(self, specs: Sequence[BudgetSpec]) -> None:
        """See :meth:`BudgetLedger.declare_budgets`."""
        with self._lock:
            for spec in specs:
                kept = self._budgets.get(spec.name)
                if kept is not None:
                    _check_spec(spec, kept[0].currency)
                self._budgets[spec.name] = (spec, kept[1] if kept is not None else Decimal(0))

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """See :meth:`BudgetLedger.draw`."""
        with self._lock:
            earlier = self._draws.get(key)
            if earlier is not None:
                return earlier.granted
            spec, spent = self._budgets[budget]
            granted = spent + amount <= spec.total
            if granted:
                self._budgets[budget] = (spec, spent + amount)
            self._draws[key] = DrawRecord(key, budget, amount, at, granted)
            return granted

    def budget_states(self) -> list[BudgetState]:
        """See :meth:`BudgetLedger.budget_states`."""
        with self._lock:
            counts: dict[str, list[int]] = {name: [0, 0] for name in self._budgets}
            for d in self._draws.values():
                counts[d.budget][0 if d.granted else 1] += 1
            return [
                BudgetState(
                    name,
                    spec.currency,
                    spec.total,
                    spent,
                    counts[name][0],
                    counts[name][1],
                    spec.starts,
                    spec.ends,
                )
                for name, (spec, spent) in sorted(self._budgets.items())
            ]

    def budget_draws(self, budget: str | None = None) -> list[DrawRecord]:
        """See :meth:`BudgetLedger.budget_draws`."""
        with self._lock:
            return [d for d in self._draws.values() if budget is None or d.budget == budget]

    def set_budget_remaining(self, budget: str, remaining: Decimal) -> None:
        """Leave ``remaining`` of ``budget`` to draw (``journeydsl test`` cases, tests)."""
        with self._lock:
            spec, _ = self._budgets[budget]
            self._budgets[budget] = (spec, max(spec.total - remaining, Decimal(0)))


# ---------------------------------------------------------------- reading a ledger


def amount_text(value: Decimal, currency: str | None) -> str:
    """``500_000_000 VND``, or ``12`` rewards of a quota: the DSL's way of writing amounts, as
    the reasons and decision-log entries the runtime stores say them. What a report shows a
    person is :func:`~journeydsl.money.money_text`'s ``500,000,000 VND``."""
    text = f"{value:,f}".replace(",", "_")
    return f"{text} {currency}" if currency else text


def budget_json(state: BudgetState) -> dict[str, Any]:
    """A budget as JSON (amounts as decimal text)."""
    return {
        "name": state.name,
        "kind": "money" if state.currency else "quota",
        "currency": state.currency,
        "total": str(state.total),
        "spent": str(state.spent),
        "remaining": str(state.remaining),
        "granted": state.granted,
        "refused": state.refused,
        "from": state.starts.isoformat() if state.starts else None,
        "until": state.ends.isoformat() if state.ends else None,
    }


def budget_text(states: Iterable[BudgetState]) -> list[str]:
    """One line a budget: total, spent, remaining (``100,000,000 VND``), draws granted and
    refused."""
    lines = []
    for s in states:
        window = ""
        if s.starts or s.ends:
            window = f", from {s.starts or '…'} until {s.ends or '…'}"
        unit = "" if s.currency else " rewards"
        lines.append(
            f"{s.name}: total {money_text(s.total, s.currency)}{unit}, "
            f"spent {money_text(s.spent, s.currency)}, "
            f"remaining {money_text(s.remaining, s.currency)}; "
            f"{s.granted} granted, {s.refused} refused{window}"
        )
    return lines
