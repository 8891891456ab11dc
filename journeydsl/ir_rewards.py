"""The IR of a reward that draws from a budget (``reward NAME from BUDGET …``).

A :class:`Reward` is an :class:`~journeydsl.ir.Action` (the reward handed to the host's handler,
as any reward) with the draw in front of it: the instance draws ``amount`` (or one reward of a
quota) from the budget; when the budget grants it, the reward goes into the outbox and the
instance goes on to ``next`` (the ``granted`` steps, then what follows the step); when it cannot,
no reward is given and the instance goes on to ``exhausted`` (the ``exhausted`` steps, or what
follows the step when it has none).

The node carries its budget's declaration (``total``, ``currency``, window) so that an engine
knows every budget its journeys draw from without the catalog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from journeydsl.expr.catalog import BudgetSpec
from journeydsl.ir import Action, CExpr, Journey

__all__ = ["Reward", "budget_conflicts", "budgets_of", "spec_text"]


@dataclass(frozen=True, slots=True)
class Reward(Action):
    """A reward drawn from the budget ``budget``: ``amount`` of its ``currency`` (None for a
    quota: one reward a draw). ``total`` is the budget's size as text (a decimal), ``starts``
    and ``ends`` its validity window as ISO dates ("" when open)."""

    budget: str
    amount: CExpr | None
    currency: str | None
    total: str
    starts: str
    ends: str
    exhausted: str | None

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """The exhausted exit (the granted one is ``next``)."""
        return [("exhausted", self.exhausted)]

    def exits(self) -> list[tuple[str, str | None]]:
        """Both exits, as graphs draw them."""
        return [("granted", self.next), ("exhausted", self.exhausted)]

    def spec(self) -> BudgetSpec:
        """The declaration of the budget this reward draws from."""
        return BudgetSpec(
            self.budget,
            Decimal(self.total),
            self.currency,
            date.fromisoformat(self.starts) if self.starts else None,
            date.fromisoformat(self.ends) if self.ends else None,
        )


def budgets_of(journeys: object) -> dict[str, BudgetSpec]:
    """Every budget the ``journeys`` (an iterable of :class:`~journeydsl.ir.Journey`) draw
    from, by name (the first declaration of each: :func:`budget_conflicts` says when the
    journeys declare one differently)."""
    out: dict[str, BudgetSpec] = {}
    for j in journeys:  # type: ignore[attr-defined]
        assert isinstance(j, Journey)
        for node in j.nodes.values():
            if isinstance(node, Reward):
                out.setdefault(node.budget, node.spec())
    return out


def spec_text(spec: BudgetSpec) -> str:
    """A budget's declaration in words: ``100_000_000 VND``, ``quota 1000``, with its dates."""
    total = f"{spec.total:,f}".replace(",", "_")
    size = f"{total} {spec.currency}" if spec.currency else f"quota {total}"
    if spec.starts or spec.ends:
        size += f" from {spec.starts or '…'} until {spec.ends or '…'}"
    return size


def budget_conflicts(journeys: object) -> list[str]:
    """One message per budget that the ``journeys`` (an iterable of
    :class:`~journeydsl.ir.Journey`) declare differently (each journey carries the declaration
    of its own events catalog): one engine keeps one ledger entry per name, so it would draw
    from whichever declaration came first."""
    seen: dict[str, tuple[str, BudgetSpec]] = {}
    problems: list[str] = []
    for j in journeys:  # type: ignore[attr-defined]
        assert isinstance(j, Journey)
        for node in j.nodes.values():
            if not isinstance(node, Reward):
                continue
            spec = node.spec()
            first = seen.setdefault(node.budget, (j.id, spec))
            if first[1] != spec and not any(f"'{node.budget}'" in p for p in problems):
                problems.append(
                    f"budget '{node.budget}' is declared as {spec_text(first[1])} for journey "
                    f"'{first[0]}' but as {spec_text(spec)} for journey '{j.id}': the journeys "
                    "of one engine draw from one budget of each name, so give them the same "
                    "events catalog (or the same declaration)"
                )
    return problems
