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
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, TextIO

from journeydsl.ast import CHANNELS
from journeydsl.simulate.driver import RunResult
from journeydsl.simulate.formats import minute, percent, vnd
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


def compare_document(base: Side, other: Side) -> dict[str, Any]:
    """The ``--compare`` JSON document (see the module docstring)."""
    used: set[str] = set()
    for side in (base, other):
        tally = side.result.tally()
        used |= {c for c, n in tally.sent.items() if n} | {
            c for c, n in tally.suppressed.items() if n
        }
        used |= {c for c, f in (side.failures or {}).items() if any(f)}
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
    return {"base": a, "other": b, "diff": diff}


# --------------------------------------------------------------------------- text


def _signed(n: int | Decimal) -> str:
    return f"{n:+,}" if n else "0"


def _pp(delta: float | None) -> str:
    return "-" if delta is None else f"{100 * delta:+.1f} pp"


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
    from rich.console import Console
    from rich.table import Table

    tty = out.isatty()
    console = Console(
        file=out,
        width=None if tty else 120,
        force_terminal=tty,
        no_color=not tty,
        highlight=False,
        emoji=False,
    )
    a, b, d = doc["base"], doc["other"], doc["diff"]
    console.print("[bold]compare[/bold]" + (f" — {title}" if title else ""), soft_wrap=True)
    for label, side in (("base", a), ("other", b)):
        console.print(
            f"  {label:<6} {side['journey']} v{side['version']}  {side['file']}", soft_wrap=True
        )
    if start is not None and until is not None:
        days = (until - start).total_seconds() / 86400
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
            f"{_signed(delta['count'])} ({_pp(delta['rate'])})",
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
    console.print(table)
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
                _pp(row["difference"]),
                f"{_pp(ci[0])} to {_pp(ci[1])}" if ci else "-",
            )
        console.print(rows)
        console.print(f"({holdout['method']})\n", soft_wrap=True)
