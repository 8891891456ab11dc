"""Reward budgets in simulations: the demand on each budget, and its forecast.

A simulation grants every draw (:class:`DemandBudgets`): the customers are simulated
independently of one another (what makes ``--workers`` and ``--part`` exact), so a reward
granted to one customer cannot depend on the others'. What the run measures is the **demand**:
per budget and day, the draws the journeys made and their amount (counted in the tallies, which
add up across parts). The **forecast** plays that demand against the budget's total: what it
pays each day, the day it runs out (the first day it refuses a draw or has nothing left), what
is left at the end of the run, and the shortfall (the demand the budget cannot pay: on a live
run, those draws take the ``exhausted`` exit). A draw is paid whole or not at all, as the
ledger pays it: a budget of 1,000,000 VND pays two draws of 400,000 and refuses the third, and
200,000 is left.

JSON (``simulate --format json``, under ``budgets``, one entry a budget the journey draws from)::

    {"fee_waivers": {"kind": "money", "currency": "VND", "total": "500000000",
      "draws": 812, "demand": "406000000", "spent": "406000000", "remaining": "94000000",
      "shortfall": "0", "runs_out": null,
      "days": [{"day": "2026-01-16", "draws": 3, "demand": "1500000", "spent": "1500000",
                "remaining": "498500000"}, ...]}}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from html import escape
from typing import TYPE_CHECKING, Any

from journeydsl import ir
from journeydsl.expr.catalog import BudgetSpec
from journeydsl.ir_rewards import Reward, budgets_of
from journeydsl.money import decimal_places, money_text, places_beyond
from journeydsl.runtime.budgets import MemoryBudgets, amount_text
from journeydsl.simulate.tally import MILLION

if TYPE_CHECKING:
    from journeydsl.simulate.driver import RunResult

__all__ = [
    "DemandBudgets",
    "budget_lines",
    "budgets_compare",
    "budgets_section",
    "compare_lines",
    "forecast",
    "preset_ledger",
    "preset_mistakes",
    "reward_steps",
]


def preset_ledger(journeys: Iterable[ir.Journey], presets: Mapping[str, Any]) -> MemoryBudgets:
    """The exact ledger of a ``journeydsl test`` case: every budget the journeys draw from, with
    what ``presets`` leaves of some (``{fee_waivers: {remaining: 500_000 VND}}``, a quota's as a
    number). ValueError naming the budget when a preset does not fit it (the first of
    :func:`preset_mistakes`)."""
    ledger = MemoryBudgets()
    specs = budgets_of(journeys)
    ledger.declare_budgets(list(specs.values()))
    if mistakes := preset_mistakes(journeys, presets):
        raise ValueError(mistakes[0][1])
    for name, preset in presets.items():
        value = _remaining(preset, specs[name])
        assert value is not None
        ledger.set_budget_remaining(name, value)
    return ledger


def _remaining(preset: Any, spec: BudgetSpec) -> Decimal | None:
    """What ``preset`` (``{remaining: 500_000 VND}``) leaves of the budget ``spec``, when it is
    written as the budget's unit says (an amount in its currency, a number of rewards)."""
    text = str(preset.get("remaining", "") if isinstance(preset, Mapping) else "")
    parts = text.replace("_", "").split()
    unit = parts[1] if len(parts) == 2 else None
    try:
        value = Decimal(parts[0]) if parts and len(parts) <= 2 else None
    except ArithmeticError:
        value = None
    if value is None or not value.is_finite() or value < 0 or unit != spec.currency:
        return None
    return value


def preset_mistakes(
    journeys: Iterable[ir.Journey], presets: Mapping[str, Any]
) -> list[tuple[tuple[str, ...], str]]:
    """Every mistake in ``presets`` (a test file's or a case's ``budgets:``), each with where it
    is under ``budgets`` (the budget's name, then ``remaining``) and what is wrong: a budget
    the journeys do not draw from, a ``remaining`` not in the budget's unit, negative, with more
    decimal places than its currency has (a quota's: not whole), or above the budget's total."""
    specs = budgets_of(journeys)
    mistakes: list[tuple[tuple[str, ...], str]] = []
    for name, preset in presets.items():
        spec = specs.get(name)
        if spec is None:
            known = ", ".join(sorted(specs)) or "none"
            mistakes.append(
                ((name,), f"budget '{name}': the journeys draw from no such budget ({known})")
            )
            continue
        where = (
            (name, "remaining")
            if isinstance(preset, Mapping) and "remaining" in preset
            else (name,)
        )
        text = str(preset.get("remaining", "") if isinstance(preset, Mapping) else "")
        value = _remaining(preset, spec)
        if value is None:
            want = f"an amount in {spec.currency}" if spec.currency else "a number of rewards"
            mistakes.append(
                (
                    where,
                    f"budget '{name}': 'remaining' must be {want} (e.g. "
                    f"{'0 ' + spec.currency if spec.currency else '0'}), not {text or 'nothing'!r}",
                )
            )
        elif spec.currency and (beyond := places_beyond(value, spec.currency)) is not None:
            used, allowed = beyond
            mistakes.append(
                (
                    where,
                    f"budget '{name}': 'remaining' {text} has {used} decimal "
                    f"place{'' if used == 1 else 's'} and "
                    f"{spec.currency} has {allowed or 'none'}",
                )
            )
        elif not spec.currency and decimal_places(value):
            mistakes.append(
                (
                    where,
                    f"budget '{name}': 'remaining' must be a whole number of rewards, not {text}",
                )
            )
        elif value > spec.total:
            total = amount_text(spec.total, spec.currency)
            mistakes.append(
                (
                    where,
                    f"budget '{name}': 'remaining' {text} is more than the budget's total, {total}",
                )
            )
    return mistakes


class DemandBudgets(MemoryBudgets):
    """The ledger of a simulation: every draw is granted (see the module docstring)."""

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """Record the draw and grant it."""
        super().draw(budget, Decimal(0), key, at)
        return True


def reward_steps(journey: ir.Journey) -> frozenset[str]:
    """The ids of the journey's rewards drawn from a budget."""
    return frozenset(nid for nid, n in journey.nodes.items() if isinstance(n, Reward))


def _number(d: Decimal) -> str:
    return format(d.normalize() if d == d.to_integral() else d, "f")


def _pay(
    asked: Decimal, remaining: Decimal, sizes: list[tuple[Decimal, int]] | None
) -> tuple[Decimal, bool]:
    """What a budget with ``remaining`` left pays of a day's draws, and whether it refuses one.
    A draw is granted whole or refused, as the ledger does: with the amounts of the day's draws
    (``sizes``: amount and count), they are played smallest first (the order within a day is
    not kept), each granted while it fits; without them, the day's demand ``asked`` is paid up
    to what is left."""
    if sizes is None:
        paid = min(asked, remaining)
        return paid, paid < asked
    paid, short = Decimal(0), False
    for amount, count in sorted(sizes):
        fits = min(count, int((remaining - paid) // amount)) if amount > 0 else count
        paid += amount * fits
        short = short or fits < count
    return paid, short


def forecast(result: RunResult, journey_id: str | None = None) -> dict[str, Any]:
    """The forecast of every budget the journey draws from (empty when it draws from none)."""
    journey = result.journey(journey_id)
    specs: dict[str, Reward] = {}
    for node in journey.nodes.values():
        if isinstance(node, Reward):
            specs.setdefault(node.budget, node)
    if not specs:
        return {}
    tally = result.tally(journey.id)
    sizes: dict[tuple[str, str], list[tuple[Decimal, int]]] = {}
    for (budget, day, millionths), count in tally.budget_amounts.items():
        sizes.setdefault((budget, day), []).append((Decimal(millionths) / MILLION, count))
    out: dict[str, Any] = {}
    for name, node in sorted(specs.items()):
        total = Decimal(node.total)
        remaining, draws, demand = total, 0, Decimal(0)
        runs_out: str | None = None
        days = []
        for day in sorted(d for b, d in tally.budget_draws if b == name):
            n = tally.budget_draws[(name, day)]
            asked = Decimal(tally.budget_spend[(name, day)]) / MILLION
            paid, short = _pay(asked, remaining, sizes.get((name, day)))
            remaining -= paid
            draws, demand = draws + n, demand + asked
            if runs_out is None and (short or remaining <= 0):
                runs_out = day
            days.append(
                {
                    "day": day,
                    "draws": n,
                    "demand": _number(asked),
                    "spent": _number(paid),
                    "remaining": _number(remaining),
                }
            )
        out[name] = {
            "kind": "money" if node.currency else "quota",
            "currency": node.currency,
            "total": _number(total),
            "draws": draws,
            "demand": _number(demand),
            "spent": _number(total - remaining),
            "remaining": _number(remaining),
            "shortfall": _number(demand - (total - remaining)),
            "runs_out": runs_out,
            "days": days,
        }
    return out


def _amount(text: str, budget: Mapping[str, Any]) -> str:
    unit = budget["currency"]
    return money_text(Decimal(text), unit) + ("" if unit else " rewards")


def budget_lines(budgets: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The forecast in words, one line a budget (the text report's)."""
    lines = []
    for name, b in budgets.items():
        when = f"runs out on {b['runs_out']}" if b["runs_out"] else "lasts the whole run"
        short = Decimal(b["shortfall"])
        beyond = f"; {_amount(b['shortfall'], b)} of demand beyond it" if short else ""
        lines.append(
            f"{name}: {_amount(b['total'], b)}; {b['draws']} "
            f"{'draw asks' if b['draws'] == 1 else 'draws ask'} "
            f"{_amount(b['demand'], b)}; {when}, {_amount(b['remaining'], b)} left{beyond}"
        )
    return lines


def budgets_compare(
    base: Mapping[str, Mapping[str, Any]], other: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Per budget of either side: both forecasts' figures and ``other`` minus ``base``."""
    out: dict[str, Any] = {}
    for name in sorted(set(base) | set(other)):
        a, b = base.get(name), other.get(name)
        row: dict[str, Any] = {"base": _brief(a), "other": _brief(b)}
        if a is not None and b is not None:
            row["diff"] = {
                key: _number(Decimal(b[key]) - Decimal(a[key]))
                for key in ("total", "demand", "spent", "remaining", "shortfall")
            }
            row["diff"]["draws"] = b["draws"] - a["draws"]
        out[name] = row
    return out


def _brief(b: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if b is None:
        return None
    return {k: v for k, v in b.items() if k != "days"}


def compare_lines(rows: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The budgets of a comparison in words."""
    lines = []
    for name, row in rows.items():
        for side in ("base", "other"):
            b = row[side]
            if b is None:
                lines.append(f"{name} ({side}): not drawn from")
                continue
            when = f"runs out {b['runs_out']}" if b["runs_out"] else "lasts the run"
            lines.append(
                f"{name} ({side}): {_amount(b['total'], b)}, demand {_amount(b['demand'], b)}, "
                f"{when}, {_amount(b['remaining'], b)} left"
            )
        if "diff" in row:
            d, unit = row["diff"], row["base"]
            lines.append(
                f"{name} (other - base): total {_signed(d['total'], unit)}, "
                f"remaining {_signed(d['remaining'], unit)}, "
                f"shortfall {_signed(d['shortfall'], unit)}"
            )
    return lines


def _signed(text: str, budget: Mapping[str, Any]) -> str:
    value = Decimal(text)
    return ("+" if value > 0 else "") + _amount(text, budget) if value else "0"


# --------------------------------------------------------------------------- HTML


def _burn_down(b: Mapping[str, Any], start: date, until: date) -> list[int]:
    """What remains at the end of each day from ``start`` to ``until`` (whole units)."""
    by_day = {d["day"]: Decimal(d["remaining"]) for d in b["days"]}
    left = Decimal(b["total"])
    values = []
    day = start
    while day <= until:
        left = by_day.get(day.isoformat(), left)
        values.append(int(left))
        day += timedelta(days=1)
    return values


def budgets_section(
    budgets: Mapping[str, Mapping[str, Any]], start: datetime, until: datetime
) -> str:
    """The HTML report's budgets section: per budget, its forecast and a burn-down chart (an
    inline SVG: what remains at the end of each day of the run)."""
    if not budgets:
        return ""
    from journeydsl.simulate.svg import Series, line_chart

    parts = [
        '<section id="budgets" data-testid="budgets">',
        "<h2>Reward budgets: burn-down</h2>",
        '<p class="sub">What each budget would pay each day for the rewards the journey draws '
        "(every draw is granted in a simulation: this is the demand), and what remains.</p>",
    ]
    for name, b in budgets.items():
        values = _burn_down(b, start.date(), until.date())
        when = f"runs out on {b['runs_out']}" if b["runs_out"] else "lasts the whole run"
        parts += [
            f'<h3 data-testid="budget" data-budget="{escape(name)}" '
            f'data-runs-out="{escape(b["runs_out"] or "")}">{escape(name)} '
            f'<span class="muted">({escape(_amount(b["total"], b))}; {escape(when)})</span></h3>',
            f'<div class="budget-chart" data-testid="burn-down" data-budget="{escape(name)}">',
            line_chart(
                [Series(f"{name}: remaining", "#2563eb", values)],
                days=max(len(values) - 1, 1),
                x_title="day of the run (remaining at the end of the day)",
                height=240,
            ),
            "</div>",
        ]
    parts.append("</section>")
    return "\n".join(parts)
