"""Reports of several journeys run together (``journeydsl simulate J1 J2 …``): one engine, shared
contact policies and contact history, so frequency caps and arbitration count every journey's
messages. Each journey is reported by the single-journey reports; this module adds the document
that holds them and the figures of all journeys together.

The JSON document (docs/simulate.md, "Several journeys at once")::

    {"journeys": [{"journey", "version", "funnel", "outcomes", "entries", "policies"?}, …],
     "actions": [{"at", "customer_id", "journey", "node", "kind", …}, …],
     "instances": [{"customer_id", "journey", "status", "outcome", "entered_at", "ended_at"}, …],
     "total": {"entered", "customers", "sent", "suppressed", "cost_vnd"?}}

Actions are sorted by time; actions at the same instant keep the order they happened in (DESIGN.md),
whichever journey they come from.

``entries`` counts a journey's instances, the customers they belong to and the re-entries (the
instances beyond each customer's first): a daily segment journey with ``reentry always`` enters
the same customers again and again.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TextIO

from journeydsl.ast import CHANNELS
from journeydsl.simulate.driver import (
    RunResult,
    SimulationResult,
    contract_action,
    instant,
    local_iso,
)

__all__ = ["actions_in_order", "entries", "multi_document", "render_multi_text", "together"]


def actions_in_order(result: RunResult) -> list[dict[str, Any]]:
    """Every journey's actions by time, those at the same instant in the order they happened
    (a run in one process knows it; otherwise the single-journey order)."""
    if not isinstance(result, SimulationResult):
        return list(result.actions)
    happened = sorted(result.simulation.actions, key=lambda a: instant(a["at"]))
    return [contract_action(a, result.timezone(a["customer_id"])) for a in happened]


def entries(result: RunResult, journey_id: str) -> dict[str, int]:
    """The journey's instances, the customers who entered, and the re-entries."""
    instances = [r["customer_id"] for r in result.instances if r["journey"] == journey_id]
    customers = len(set(instances))
    return {
        "instances": len(instances),
        "customers": customers,
        "reentries": len(instances) - customers,
    }


def _instances(result: RunResult) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for r in result.instances:
        tz = result.timezone(r["customer_id"])
        out.append(
            {
                "customer_id": r["customer_id"],
                "journey": r["journey"],
                "status": r["status"],
                "outcome": r["outcome"],
                "entered_at": local_iso(r["entered_at"], tz),
                "ended_at": local_iso(r["ended_at"], tz) if r["ended_at"] else None,
            }
        )
    return out


def _total(result: RunResult, costs: Mapping[str, Decimal] | None) -> dict[str, Any]:
    sent: Counter[str] = Counter()
    suppressed = 0
    for j in result.journeys:
        tally = result.tally(j.id)
        sent.update(tally.sent)
        suppressed += sum(tally.suppressed.values())
    total: dict[str, Any] = {
        "entered": sum(result.tally(j.id).entered for j in result.journeys),
        "customers": len({r["customer_id"] for r in result.instances}),
        "sent": {c: sent[c] for c in [*CHANNELS, *sorted(set(sent) - set(CHANNELS))] if sent[c]},
        "suppressed": suppressed,
    }
    if costs is not None:
        cost = sum((costs.get(c, Decimal(0)) * n for c, n in sent.items()), Decimal(0))
        total["cost_vnd"] = format(cost, "f")
    return total


def together(result: RunResult, costs: Mapping[str, Decimal] | None = None) -> list[dict[str, Any]]:
    """The table of all journeys together, as the text report and ``--csv`` give it: a row per
    journey (``journey``, ``instances``, ``customers``, ``reentries``, ``sent``, ``suppressed``
    and, with ``costs``, ``cost_vnd`` as a Decimal), then the ``total`` row (its ``instances``
    are every journey's, its ``customers`` those who entered any, ``reentries`` None)."""
    rows: list[dict[str, Any]] = []
    for j in result.journeys:
        tally = result.tally(j.id)
        row: dict[str, Any] = {"journey": j.id, **entries(result, j.id)}
        row["sent"] = sum(tally.sent.values())
        row["suppressed"] = sum(tally.suppressed.values())
        if costs is not None:
            row["cost_vnd"] = sum(
                (costs.get(c, Decimal(0)) * n for c, n in tally.sent.items()), Decimal(0)
            )
        rows.append(row)
    total = _total(result, costs)
    last: dict[str, Any] = {
        "journey": "total",
        "instances": total["entered"],
        "customers": total["customers"],
        "reentries": None,
        "sent": sum(total["sent"].values()),
        "suppressed": total["suppressed"],
    }
    if costs is not None:
        last["cost_vnd"] = Decimal(total["cost_vnd"])
    return [*rows, last]


def multi_document(result: RunResult, costs: Mapping[str, Decimal] | None = None) -> dict[str, Any]:
    """The JSON document of the module docstring: each journey's part of the single-journey
    document (without its actions and instances), then every action and instance with its
    journey, then the figures of all journeys together."""
    journeys = []
    for j in result.journeys:
        single = result.to_json(j.id)
        part: dict[str, Any] = {
            "journey": single["journey"],
            "version": single["version"],
            "funnel": single["funnel"],
            "outcomes": single["funnel"]["outcomes"],
            "entries": entries(result, j.id),
        }
        if "policies" in single:
            part["policies"] = single["policies"]
        journeys.append(part)
    return {
        "journeys": journeys,
        "actions": actions_in_order(result),
        "instances": _instances(result),
        "total": _total(result, costs),
    }


def render_multi_text(
    result: RunResult,
    out: TextIO,
    *,
    title: str = "",
    costs: Mapping[str, Decimal] | None = None,
    failures: Mapping[str, tuple[int, int]] | None = None,
) -> None:
    """Each journey's text report, then a table of all journeys together: instances,
    customers, re-entries, messages and their cost."""
    from rich import box
    from rich.table import Table

    from journeydsl.simulate.formats import text_console
    from journeydsl.simulate.report import render_text

    for j in result.journeys:
        render_text(result, out, journey_id=j.id, title=title, costs=costs)
        out.write("\n")
    console = text_console(out, 120, highlight=True)
    table = Table(
        title="All journeys together (one engine: caps and arbitration count every journey)",
        box=box.SIMPLE,
        title_justify="left",
    )
    for name in ("journey", "instances", "customers", "re-entries", "sent", "suppressed"):
        table.add_column(name, justify="left" if name == "journey" else "right", no_wrap=True)
    if costs is not None:
        table.add_column("cost (VND)", justify="right", no_wrap=True)
    *rows, total = together(result, costs)
    columns = ["journey", "instances", "customers", "reentries", "sent", "suppressed"]
    columns += ["cost_vnd"] if costs is not None else []

    def cell(value: Any) -> str:
        if value is None or isinstance(value, str):
            return value or ""
        return f"{value:,f}" if isinstance(value, Decimal) else f"{value:,}"

    for row in rows:
        table.add_row(*(cell(row[c]) for c in columns))
    table.add_row(*(cell(total[c]) for c in columns), style="bold")
    console.print(table)
    failed = {c: f for c, f in (failures or {}).items() if any(f)}
    if failed:
        shown = ", ".join(f"{c} {t:,} transient, {p:,} permanent" for c, (t, p) in failed.items())
        console.print(f"failed attempts, all journeys: {shown}", soft_wrap=True)
