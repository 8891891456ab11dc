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

__all__ = ["Reward", "budgets_of"]


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
    from, by name."""
    out: dict[str, BudgetSpec] = {}
    for j in journeys:  # type: ignore[attr-defined]
        assert isinstance(j, Journey)
        for node in j.nodes.values():
            if isinstance(node, Reward):
                out.setdefault(node.budget, node.spec())
    return out
