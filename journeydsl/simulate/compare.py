"""What-if: two journeys run on the same customers (``journeydsl simulate --compare OTHER``).

Both journeys see the same population and seed (or the same recorded events), each in a
simulation of its own. Synthetic customers draw their profile and everyday life from their own
random streams, so the two runs differ only where the journeys make them differ: a reminder that
gets a card activated sooner, a message that costs more.

The document is ``{"base": …, "other": …, "diff": …}``: per journey the instances entered and
still running, the instances per outcome (count and rate), messages per channel (with failures
and cost in synthetic mode), the total cost, tickets per queue and priority, and for a journey
with a random split that has a holdout, the outcome rates of the treated and holdout instances
with a 95 % confidence interval for their difference. ``diff`` is other minus base. Money is
``{"amount": "…", "currency": "VND"}`` (Decimal, never a float); rates are plain floats.

``paired`` (when the run counted pairs) has, per outcome, the share of customers who reached it
under each journey with the paired 95 % interval of the difference
(:mod:`~journeydsl.simulate.paired`), and ``findings`` says in words each change a marketer can
act on: an outcome whose interval excludes 0, a channel whose cost changed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from journeydsl.ast import CHANNELS
from journeydsl.simulate.budgets import budgets_compare, compare_lines, forecast
from journeydsl.simulate.compare_capacity import capacity_diff, capacity_findings, capacity_rows
from journeydsl.simulate.driver import RunResult
from journeydsl.simulate.formats import minute, percent, points, run_days, text_console, vnd
from journeydsl.simulate.paired import PAIRED_METHOD, PairTally
from journeydsl.simulate.proportions import METHOD, outcome_rows, rate
from journeydsl.simulate.tally import Tally

__all__ = ["Side", "compare_document", "render_compare"]


@dataclass
class Side:
    """One journey's run, as the comparison needs it: the result, the journey file, the price
    per delivered message per channel (synthetic mode) and failed attempts per channel."""

    result: RunResult
    path: str
    costs: Mapping[str, Decimal] | None = None
    failures: Mapping[str, tuple[int, int]] | None = None


def _money(amount: Decimal) -> dict[str, str]:
    return {"amount": format(amount, "f"), "currency": "VND"}


def _holdout(tally: Tally, outcomes: list[str]) -> dict[str, Any]:
    rows = outcome_rows(
        outcomes, tally.treated, tally.treated_outcomes, tally.control, tally.control_outcomes
    )
    return {"treated": tally.treated, "holdout": tally.control, "method": METHOD, "outcomes": rows}


def _side(side: Side, channels: list[str]) -> dict[str, Any]:
    result = side.result
    journey = result.journey()
    tally = result.tally(journey.id)
    funnel = result.funnel(journey.id)
    entered = tally.entered
    messages: dict[str, Any] = {}
    total = Decimal(0)
    for c in channels:
        row: dict[str, Any] = {
            "sent": tally.sent.get(c, 0),
            "suppressed": tally.suppressed.get(c, 0),
            "undelivered": tally.undelivered.get(c, 0),
        }
        if side.failures is not None:
            row["failed_transient"], row["failed_permanent"] = side.failures.get(c, (0, 0))
        if side.costs is not None:
            cost = side.costs.get(c, Decimal(0)) * row["sent"]
            total += cost
            row["cost"] = _money(cost)
        messages[c] = row
    doc: dict[str, Any] = {
        "journey": journey.id,
        "version": journey.version,
        "file": side.path,
        "entered": entered,
        "running": tally.running,
        "outcomes": {
            name: {"count": n, "rate": rate(n, entered)} for name, n in funnel["outcomes"].items()
        },
        "messages": messages,
        "sent": sum(r["sent"] for r in messages.values()),
        "cost": _money(total) if side.costs is not None else None,
        "tickets": {
            f"{q}/{p}": n for (q, p), n in sorted(tally.tickets.items(), key=lambda kv: kv[0])
        },
        "holdout": None,
    }
    if tally.treated or tally.control:
        doc["holdout"] = _holdout(tally, list(funnel["outcomes"]))
    return doc


def _delta(a: float | None, b: float | None) -> float | None:
    return round(b - a, 6) if a is not None and b is not None else None


def _paired(base: Side, other: Side, pairs: PairTally, outcomes: list[str]) -> dict[str, Any]:
    goals = {g.outcome for side in (base, other) for g in side.result.journey().goals}
    return {
        "customers": pairs.customers,
        "method": PAIRED_METHOD,
        "outcomes": pairs.rows(outcomes, frozenset(goals)),
    }


def _findings(doc: Mapping[str, Any]) -> list[str]:
    """One plain sentence per change worth acting on (see the module docstring)."""
    lines: list[str] = []
    paired = doc.get("paired")
    if paired is not None:
        quiet = []
        for name, row in paired["outcomes"].items():
            what = f"goal '{name}'" if row["goal"] else f"outcome '{name}'"
            if not row["significant"]:
                quiet.append(name)
                continue
            low, high = row["ci95"]
            lines.append(
                f"{what} {'rises' if row['difference'] > 0 else 'falls'} from "
                f"{percent(row['base']['rate'])} to {percent(row['other']['rate'])} of customers "
                f"({pp(row['difference'])}, 95% CI {pp(low)} to {pp(high)})"
            )
        if quiet:
            lines.append(
                "no significant change in "
                + ", ".join(f"'{n}'" for n in quiet)
                + " (the 95% interval includes 0)"
            )
    a, b = doc["base"]["messages"], doc["other"]["messages"]
    for channel, delta in doc["diff"]["messages"].items():
        cost = delta.get("cost")
        if cost is not None and Decimal(cost["amount"]):
            before, change = Decimal(a[channel]["cost"]["amount"]), Decimal(cost["amount"])
            share = f" ({change * 100 / before:+.1f}%)" if before else ""
            lines.append(
                f"{channel} cost {'rises' if change > 0 else 'falls'} by {vnd(abs(change))} VND"
                f"{share}: {a[channel]['sent']:,} → {b[channel]['sent']:,} messages sent"
            )
        elif cost is None and delta["sent"]:
            lines.append(
                f"{channel} messages sent {'rise' if delta['sent'] > 0 else 'fall'} from "
                f"{a[channel]['sent']:,} to {b[channel]['sent']:,}"
            )
    return lines


def compare_document(base: Side, other: Side, pairs: PairTally | None = None) -> dict[str, Any]:
    """The ``--compare`` JSON document (see the module docstring); ``pairs`` are the paired
    outcomes of the same customers under both journeys."""
    used: set[str] = set()
    for side in (base, other):
        tally = side.result.tally()
        used |= {c for c, n in tally.sent.items() if n} | {
            c for c, n in tally.suppressed.items() if n
        }
        used |= {c for c, n in tally.undelivered.items() if n}
        used |= {c for c, f in (side.failures or {}).items() if any(f)}
    used.discard("-")  # (tickets a queue dropped: no channel; the capacity figures have them)
    channels = [c for c in CHANNELS if c in used] + sorted(used - set(CHANNELS))
    a, b = _side(base, channels), _side(other, channels)
    outcomes = list(dict.fromkeys([*a["outcomes"], *b["outcomes"]]))
    zero = {"count": 0, "rate": 0.0}
    diff: dict[str, Any] = {
        "entered": b["entered"] - a["entered"],
        "running": b["running"] - a["running"],
        "outcomes": {
            name: {
                "count": b["outcomes"].get(name, zero)["count"]
                - a["outcomes"].get(name, zero)["count"],
                "rate": _delta(
                    a["outcomes"].get(name, zero)["rate"], b["outcomes"].get(name, zero)["rate"]
                ),
            }
            for name in outcomes
        },
        "messages": {
            c: {
                k: (
                    _money(Decimal(b["messages"][c][k]["amount"]) - Decimal(v["amount"]))
                    if k == "cost"
                    else b["messages"][c][k] - v
                )
                for k, v in a["messages"][c].items()
            }
            for c in channels
        },
        "sent": b["sent"] - a["sent"],
        "cost": (
            _money(Decimal(b["cost"]["amount"]) - Decimal(a["cost"]["amount"]))
            if a["cost"] is not None and b["cost"] is not None
            else None
        ),
        "tickets": {
            k: b["tickets"].get(k, 0) - a["tickets"].get(k, 0)
            for k in sorted(set(a["tickets"]) | set(b["tickets"]))
        },
    }
    doc: dict[str, Any] = {"base": a, "other": b, "diff": diff}
    if pairs is not None:
        doc["paired"] = _paired(base, other, pairs, outcomes)
    limits = (base.result.capacity(), other.result.capacity())
    if any(limits):
        doc["capacity"] = capacity_diff(*limits)
    doc["findings"] = _findings(doc) + capacity_findings(doc.get("capacity", {}))
    budgets = budgets_compare(forecast(base.result), forecast(other.result))  # reward budgets
    if budgets:
        doc["budgets"] = budgets
    return doc


# --------------------------------------------------------------------------- text


def _signed(n: int | Decimal) -> str:
    return f"{n:+,}" if n else "0"


def pp(delta: float | None) -> str:
    """A difference of rates in signed percentage points: one decimal, two when that would
    round a change to zero, and never a negative zero."""
    return "-" if delta is None else f"{points(delta)} pp"


def _vnd(money: Mapping[str, str] | None) -> str:
    return "-" if money is None else vnd(Decimal(money["amount"]))


def render_compare(
    doc: Mapping[str, Any],
    out: TextIO,
    *,
    title: str = "",
    start: datetime | None = None,
    until: datetime | None = None,
) -> None:
    """The comparison as text: one table, base and other side by side with the difference,
    then each holdout's treated vs holdout outcome rates."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = text_console(out, 120)
    a, b, d = doc["base"], doc["other"], doc["diff"]
    console.print(
        Text.assemble(("compare", "bold"), f" — {title}" if title else ""), soft_wrap=True
    )
    for label, side in (("base", a), ("other", b)):
        console.print(
            f"  {label:<6} {side['journey']} v{side['version']}  {side['file']}", soft_wrap=True
        )
    if start is not None and until is not None:
        days = run_days(start, until)
        console.print(
            f"{minute(start.isoformat())} → {minute(until.isoformat())} ({days:g} days)",
            soft_wrap=True,
        )
    table = Table(box=box.SIMPLE, title="Side by side (other - base)", title_justify="left")
    table.add_column("")
    table.add_column("base", justify="right")
    table.add_column("other", justify="right")
    table.add_column("diff", justify="right")
    table.add_row(
        "instances entered", f"{a['entered']:,}", f"{b['entered']:,}", _signed(d["entered"])
    )
    table.add_row("still running", f"{a['running']:,}", f"{b['running']:,}", _signed(d["running"]))
    table.add_section()
    for name, delta in d["outcomes"].items():
        left, right = a["outcomes"].get(name), b["outcomes"].get(name)
        table.add_row(
            f"outcome {name}",
            f"{left['count']:,} ({percent(left['rate'])})" if left else "-",
            f"{right['count']:,} ({percent(right['rate'])})" if right else "-",
            f"{_signed(delta['count'])} ({pp(delta['rate'])})",
        )
    table.add_section()
    for c, delta in d["messages"].items():
        left, right = a["messages"][c], b["messages"][c]
        table.add_row(
            f"{c} sent", f"{left['sent']:,}", f"{right['sent']:,}", _signed(delta["sent"])
        )
        if left["suppressed"] or right["suppressed"]:
            table.add_row(
                f"{c} suppressed",
                f"{left['suppressed']:,}",
                f"{right['suppressed']:,}",
                _signed(delta["suppressed"]),
            )
        if left["undelivered"] or right["undelivered"]:
            table.add_row(
                f"{c} undelivered",
                f"{left['undelivered']:,}",
                f"{right['undelivered']:,}",
                _signed(delta["undelivered"]),
            )
        if "cost" in delta:
            table.add_row(
                f"{c} cost (VND)",
                _vnd(left["cost"]),
                _vnd(right["cost"]),
                _signed(int(Decimal(delta["cost"]["amount"]))),
            )
    table.add_row("messages sent", f"{a['sent']:,}", f"{b['sent']:,}", _signed(d["sent"]))
    if d["cost"] is not None:
        table.add_row(
            "cost (VND)",
            _vnd(a["cost"]),
            _vnd(b["cost"]),
            _signed(int(Decimal(d["cost"]["amount"]))),
        )
    if d["tickets"]:
        table.add_section()
        for key, delta in d["tickets"].items():
            table.add_row(
                f"tickets {key}",
                f"{a['tickets'].get(key, 0):,}",
                f"{b['tickets'].get(key, 0):,}",
                _signed(delta),
            )
    if doc.get("capacity"):
        table.add_section()
        for row in capacity_rows(doc["capacity"]):
            table.add_row(*row)
    console.print(table)
    if "budgets" in doc:  # reward budgets: both forecasts
        console.print(
            Text.assemble(("Reward budgets", "bold"), " (the demand of the rewards drawn)")
        )
        for line in compare_lines(doc["budgets"]):
            console.print(f"  {line}", soft_wrap=True, markup=False)
    if "paired" in doc:
        _render_paired(console, doc["paired"])
    if doc["findings"]:
        console.print(Text("What changed", style="bold"), soft_wrap=True)
        for line in doc["findings"]:
            console.print(f"  • {line}", soft_wrap=True, markup=False)
        console.print()
    for label, side in (("base", a), ("other", b)):
        holdout = side["holdout"]
        if holdout is None:
            continue
        rows = Table(
            box=box.SIMPLE,
            title=(
                f"Holdout, {label} ({side['journey']}): {holdout['treated']:,} treated, "
                f"{holdout['holdout']:,} in the holdout"
            ),
            title_justify="left",
        )
        rows.add_column("outcome")
        rows.add_column("treated", justify="right")
        rows.add_column("holdout", justify="right")
        rows.add_column("difference", justify="right")
        rows.add_column("95% CI", justify="right")
        for name, row in holdout["outcomes"].items():
            ci = row["ci95"]
            rows.add_row(
                name,
                percent(row["treated"]["rate"]),
                percent(row["holdout"]["rate"]),
                pp(row["difference"]),
                f"{pp(ci[0])} to {pp(ci[1])}" if ci else "-",
            )
        console.print(rows)
        console.print(f"({holdout['method']})\n", soft_wrap=True)


def _render_paired(console: Any, paired: Mapping[str, Any]) -> None:
    from rich import box
    from rich.table import Table

    table = Table(
        box=box.SIMPLE,
        title=f"Customers reaching each outcome, paired ({paired['customers']:,} customers)",
        title_justify="left",
    )
    table.add_column("outcome")
    table.add_column("base", justify="right")
    table.add_column("other", justify="right")
    table.add_column("difference", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("", justify="left")
    for name, row in paired["outcomes"].items():
        ci = row["ci95"]
        table.add_row(
            f"{name} (goal)" if row["goal"] else name,
            percent(row["base"]["rate"]),
            percent(row["other"]["rate"]),
            pp(row["difference"]),
            f"{pp(ci[0])} to {pp(ci[1])}" if ci else "-",
            "significant" if row["significant"] else "",
        )
    console.print(table)
    console.print(f"({paired['method']})\n", soft_wrap=True, markup=False)
