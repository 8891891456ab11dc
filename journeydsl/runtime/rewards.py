"""The step of a reward drawn from a budget (:class:`~journeydsl.ir_rewards.Reward`).

The instance draws from the budget's ledger (:mod:`journeydsl.runtime.budgets`) under the
step's idempotency key, ``journey:version:instance:step:visit`` (the key of the reward's own
outbox entry): granted, the reward goes into the outbox and the instance takes the ``granted``
exit; refused (not enough left, or outside the budget's ``from``/``until`` dates in the journey's
time zone), no reward is given and it takes the ``exhausted`` exit. The decision log says which
(``explain``: "drew 500,000 VND from fee_waivers" / "fee_waivers exhausted").

The reward of a money budget carries the amount drawn in its params (``amount``, in the budget's
currency), so the handler gives what the budget paid for. An amount with more decimal places than
its currency has (a computed ``trigger.amount * 0.05`` of VND) is never rounded: the instance
ends with the outcome ``error``, the reason in its decision log, and nothing is drawn.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from journeydsl import ir
from journeydsl.expr.catalog import BudgetSpec
from journeydsl.ir_rewards import Reward, budget_conflicts, budgets_of
from journeydsl.money import Money, places_beyond
from journeydsl.runtime.budgets import BudgetLedger, amount_text
from journeydsl.runtime.decisions import note
from journeydsl.runtime.hostcalls import StoreError

if TYPE_CHECKING:
    from journeydsl.runtime.interpreter import Interpreter, Step

__all__ = ["Budgets", "budget_ledger", "draw_key", "ledger_conflicts", "run_reward"]


class Budgets:
    """The ledger the journeys' rewards draw from, with the budgets they declare: declared in
    it once, at the first draw (so that building an engine writes nothing to its store)."""

    __slots__ = ("declared", "ledger", "specs")

    def __init__(self, ledger: BudgetLedger, specs: dict[str, BudgetSpec]) -> None:
        self.ledger = ledger
        self.specs = specs
        self.declared = False

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """Declare the budgets (the first time), then draw."""
        if not self.declared:
            self.ledger.declare_budgets(list(self.specs.values()))
            self.declared = True
        return self.ledger.draw(budget, amount, key, at)


def budget_ledger(
    journeys: Sequence[ir.Journey], budgets: BudgetLedger | None, state: object
) -> Budgets | None:
    """The ledger the journeys' rewards draw from: ``budgets``, else the state store when it
    keeps budgets. ValueError when they draw from budgets and there is none."""
    specs = budgets_of(journeys)
    ledger = budgets if budgets is not None else state
    if not specs:
        return None
    if not isinstance(ledger, BudgetLedger):
        raise ValueError(
            "these journeys draw rewards from budgets ("
            + ", ".join(sorted(specs))
            + ") but the state store keeps none: pass a ledger in budgets="
        )
    problems = budget_conflicts(journeys)  # (the journeys alone: building reads no store)
    if problems:
        raise ValueError("; ".join(problems))
    return Budgets(ledger, specs)


def ledger_conflicts(journeys: Sequence[ir.Journey], ledger: BudgetLedger) -> list[str]:
    """Why ``journeys`` cannot draw from ``ledger``, one message each (empty: they can): a
    budget they declare differently from one another, or in another unit (money or a quota,
    or another currency) than the ledger keeps it. Read-only: ``journeydsl run`` asks it
    before it starts (an engine refuses such a ledger at its first draw, ``ValueError``)."""
    problems = budget_conflicts(journeys)
    specs = budgets_of(journeys)
    for kept in ledger.budget_states():
        spec = specs.get(kept.name)
        if spec is not None and spec.currency != kept.currency:
            problems.append(
                f"budget '{kept.name}' is kept in {kept.currency or 'a quota'} by the ledger "
                f"(spent {amount_text(kept.spent, kept.currency)}), but the journeys declare "
                f"it in {spec.currency or 'a quota'}: a budget keeps its unit (give the new "
                "one another name)"
            )
    return problems


def draw_key(journey: ir.Journey, inst_id: str, node_id: str, visit: int) -> str:
    """The idempotency key of a draw (the reward's outbox key)."""
    return f"{journey.id}:{journey.version}:{inst_id}:{node_id}:{visit}"


def _outside(node: Reward, step: Step) -> str | None:
    """Why the budget cannot be drawn from today (its window), or None."""
    if not node.starts and not node.ends:
        return None
    today = step.ctx.now.astimezone(ZoneInfo(step.journey.timezone)).date().isoformat()
    if node.starts and today < node.starts:
        return f"{node.budget} opens on {node.starts}"
    if node.ends and today > node.ends:
        return f"{node.budget} closed on {node.ends}"
    return None


def run_reward(interp: Interpreter, node: Reward, step: Step) -> str | None:
    """Draw, then give the reward and take ``granted``, or take ``exhausted``."""
    inst, now = step.inst, step.ctx.now
    if node.amount is None:
        amount = Decimal(1)
    else:
        value = node.amount.fn(step.ctx, None)
        amount = value.amount if isinstance(value, Money) else Decimal(str(value))
        if amount <= 0:
            reason = f"reward '{node.name}' would draw {value} from {node.budget}: not positive"
            interp.fail(inst, step.journey, reason, now)
            return None
        if node.currency and (beyond := places_beyond(amount, node.currency)) is not None:
            used, allowed = beyond
            reason = (
                f"reward '{node.name}' would draw {amount_text(amount, node.currency)} from "
                f"{node.budget}: it has {used} decimal place{'' if used == 1 else 's'} and "
                f"{node.currency} has {allowed or 'none'} (an amount drawn is never rounded)"
            )
            interp.fail(inst, step.journey, reason, now)
            return None
    why = _outside(node, step)
    granted = False
    if why is None:
        ledger = interp.budgets
        if ledger is None:
            raise StoreError(RuntimeError(f"no ledger keeps the budget '{node.budget}'"))
        key = draw_key(step.journey, inst["id"], node.id, inst["visits"].get(node.id, 0))
        try:
            granted = ledger.draw(node.budget, amount, key, now)
        except Exception as exc:  # the ledger failed (or refused the budgets): not committed
            raise StoreError(exc) from exc
        why = None if granted else f"{node.budget} exhausted"
    drawn = amount_text(amount, node.currency) + ("" if node.currency else " reward")
    if granted:
        detail = {"amount": drawn, "drawn": str(amount)}
        note(inst, now, node.id, "budget", name=node.budget, granted=True, **detail)
        # the reward itself, as any reward; a money budget's carries the amount drawn
        drawn_money = Money(amount, node.currency) if node.currency else None
        return interp._action(node, step, drawn_money)
    note(inst, now, node.id, "budget", name=node.budget, granted=False, reason=why or "")
    return node.exhausted


def rewards_in(journeys: Iterable[ir.Journey]) -> list[Reward]:
    """Every reward drawn from a budget in ``journeys``."""
    return [n for j in journeys for n in j.nodes.values() if isinstance(n, Reward)]
