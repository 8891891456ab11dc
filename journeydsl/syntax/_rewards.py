"""Both spellings of a reward that draws from a budget, kept together so its syntax lives in one
place (the plain ``reward NAME { params }`` stays where every step is):

    reward annual_fee_waiver from fee_waivers amount 500_000 VND granted {
      send email fee_waiver_granted transactional
    } exhausted {
      send email fee_waiver_closed transactional
    }

YAML: ``- reward: annual_fee_waiver`` with ``from: fee_waivers``, ``amount: 500_000 VND``,
``granted: [...]`` and ``exhausted: [...]``. A quota budget takes no ``amount`` (a draw is one
reward).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from lark import Token, Tree

from journeydsl import ast
from journeydsl.syntax._print_expr import print_expr

if TYPE_CHECKING:
    from journeydsl.syntax._dsl_builder import Builder
    from journeydsl.syntax._yaml_builders import Fields

__all__ = [
    "budget_fields",
    "budget_tail",
    "reward_blocks",
    "reward_budget_yaml",
    "reward_from_fields",
    "without_blocks",
]


def _sub(t: Tree[Token], name: str) -> Tree[Token] | None:
    for c in t.children:
        if isinstance(c, Tree) and c.data == name:
            return c
    return None


def budget_fields(b: Builder, t: Tree[Token]) -> dict[str, Any]:
    """The budget part of a ``reward`` parse tree, as :class:`ast.Action` keywords (none when
    the reward draws from no budget)."""
    rb = _sub(t, "reward_budget")
    if rb is None:
        return {}
    amount, granted = _sub(rb, "reward_amount"), _sub(rb, "reward_granted")
    exhausted = _sub(rb, "reward_exhausted")
    return {
        "budget": b.ident(rb.children[0]),
        "amount": None if amount is None else b.expr(amount.children[0]),
        "granted": None if granted is None else b.block(_sub(granted, "block")),
        "exhausted": None if exhausted is None else b.block(_sub(exhausted, "block")),
    }


def reward_from_fields(f: Fields) -> ast.Step:
    """The :class:`ast.Action` of a YAML ``reward:`` step (with its budget, when it has one)."""
    return ast.Action(
        "reward",
        f["reward"],
        params=f.get("params", ()),
        id=f.get("id"),
        span=f.span,
        budget=f.get("from"),
        amount=f.get("amount"),
        granted=f.get("granted"),
        exhausted=f.get("exhausted"),
    )


def budget_tail(step: ast.Action) -> str:
    """`` from BUDGET [amount EXPR]`` (empty for a reward without a budget)."""
    if step.budget is None:
        return ""
    tail = f" from {step.budget.name}"
    if step.amount is not None:
        tail += f" amount {print_expr(step.amount)}"
    return tail


def reward_blocks(step: ast.Action) -> list[tuple[str, ast.Steps | None]]:
    """The ``granted { … }`` and ``exhausted { … }`` blocks, in order (None: absent)."""
    return [("granted", step.granted), ("exhausted", step.exhausted)]


def without_blocks(step: ast.Action) -> ast.Action:
    """``step`` without its exit blocks (the line they follow)."""
    return replace(step, granted=None, exhausted=None)


def reward_budget_yaml(
    step: ast.Action, put: Callable[[str, Any], None], steps: Callable[[ast.Steps], Any]
) -> None:
    """The budget keys of a YAML ``reward:`` step."""
    if step.budget is None:
        return
    put("from", step.budget.name)
    if step.amount is not None:
        put("amount", print_expr(step.amount))
    if step.granted is not None:
        put("granted", steps(step.granted))
    if step.exhausted is not None:
        put("exhausted", steps(step.exhausted))
