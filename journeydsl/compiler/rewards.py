"""Lowering of a reward that draws from a budget (``reward NAME from BUDGET [amount EXPR]
[granted { … }] [exhausted { … }]``) into an :class:`~journeydsl.ir_rewards.Reward`.

Checks, each at the file, line and column of what is wrong:

* JD216: the budget is not declared under ``budgets:`` in the events catalog;
* JD302: the amount is in another currency than the budget;
* JD301: an amount drawn from a quota (a quota's draw is one reward), or no amount drawn from a
  money budget;
* JD105: an amount that is zero or negative, or has more decimal places than the budget's
  currency (a fixed one; a computed one is checked when the step runs, and ends the instance
  with the outcome ``error``);
* JD104: in YAML, ``amount``, ``granted`` or ``exhausted`` without ``from``.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean, uses_hint
from journeydsl.expr.catalog import BudgetSpec
from journeydsl.expr.checker import Scope, Typed, check_type
from journeydsl.expr.types import money
from journeydsl.ir_rewards import Reward
from journeydsl.money import Money, places_beyond

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["draws_from_budget", "lower_reward"]


def _n(value: Decimal) -> str:
    """``500_000_000``: an amount as the DSL writes it."""
    return f"{value:,f}".replace(",", "_")


def draws_from_budget(s: A.Action) -> bool:
    """Whether ``s`` says anything about a budget (``from``, ``amount`` or an exit block)."""
    return not (s.budget is None and s.amount is None and s.granted is None and s.exhausted is None)


def _spec(lw: _Lowerer, s: A.Action) -> BudgetSpec | None:
    if s.budget is None:
        lw.diags.error(
            "JD104",
            "`amount`, `granted` and `exhausted` belong to a reward drawn from a budget",
            s.span,
            "name the budget: `from: fee_waivers`",
        )
        return None
    spec = lw.catalog.budgets.get(s.budget.name)
    if spec is None:
        lw.diags.error(
            "JD216",
            f"undefined budget '{s.budget.name}'",
            s.budget.span,
            (
                did_you_mean(s.budget.name, lw.catalog.budgets)
                or "declare it under 'budgets:' in the events catalog"
            )
            if lw.catalog.has_events
            else uses_hint("events", s.budget.span.file),
        )
    return spec


def _amount(lw: _Lowerer, s: A.Action, spec: BudgetSpec | None, scope: Scope) -> Typed | None:
    """The checked amount (None for a quota's draw, or when the budget is unknown)."""
    if spec is None:
        return None
    if spec.currency is None:
        if s.amount is not None:
            lw.diags.error(
                "JD301",
                f"budget '{spec.name}' is a quota of {_n(spec.total)} rewards: a draw is one "
                "reward, not an amount",
                s.amount.span,
                "remove the amount, or draw from a budget of money",
            )
        return None
    if s.amount is None:
        lw.diags.error(
            "JD301",
            f"budget '{spec.name}' is {_n(spec.total)} {spec.currency}: say what one reward draws",
            s.budget.span if s.budget is not None else s.span,
            f"e.g. `from {spec.name} amount 500_000 {spec.currency}`",
        )
        return None
    t = check_type(s.amount, scope, money(spec.currency), f"the amount drawn from '{spec.name}'")
    if t.const and not t.type.is_error:
        value = t.fn(None, None)  # type: ignore[arg-type]  # constants ignore their context
        if isinstance(value, Money) and value.amount <= 0:
            lw.diags.error(
                "JD105",
                f"a reward draws a positive amount, not {value.amount} {value.currency}",
                s.amount.span,
                f"e.g. `amount 500_000 {spec.currency}`",
            )
        elif isinstance(value, Money) and (beyond := places_beyond(value.amount, spec.currency)):
            used, allowed = beyond
            lw.diags.error(
                "JD105",
                f"a reward draws an amount {spec.currency} can pay: {_n(value.amount)} "
                f"{spec.currency} uses {used} decimal place{'' if used == 1 else 's'} and "
                f"{spec.currency} has {allowed or 'none'} (an amount drawn is never rounded)",
                s.amount.span,
                f"e.g. `amount {_n(value.amount.to_integral_value(ROUND_DOWN))} {spec.currency}`",
            )
    return t


def lower_reward(lw: _Lowerer, s: A.Action, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`Reward` of ``s``: its params, the checked draw and both exits."""
    params, typed = lw.free_params(s.params, scope)
    spec = _spec(lw, s)
    amount = _amount(lw, s, spec, scope)
    granted = lw.lower_steps(s.granted, nxt, scope) if s.granted is not None else nxt
    exhausted = lw.lower_steps(s.exhausted, nxt, scope) if s.exhausted is not None else nxt
    node = Reward(
        nid,
        s.span,
        s.kind,
        s.name.name,
        params,
        granted,
        budget=s.budget.name if s.budget is not None else "",
        amount=lw.cexpr(s.amount, amount) if s.amount is not None and amount else None,
        currency=spec.currency if spec is not None else None,
        total=str(spec.total) if spec is not None else "0",
        starts=spec.starts.isoformat() if spec is not None and spec.starts else "",
        ends=spec.ends.isoformat() if spec is not None and spec.ends else "",
        exhausted=exhausted,
    )
    return lw.add(node, *typed, amount)
