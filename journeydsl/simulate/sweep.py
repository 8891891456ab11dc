"""``simulate --sweep NAME=V1,V2,…``: one journey simulated once per value of a parameter, on the
same customers and seed, reported side by side.

The document is ``{"parameter": NAME, "values": [...], "variants": [...], "against_first":
[...]}``. ``variants`` holds per value what one side of ``--compare`` holds (instances per
outcome, messages and cost per channel…) with its ``value``; ``against_first`` holds, for
every value after the first, the comparison with the first: ``diff``, ``paired`` (per outcome
the paired 95 % interval of the difference in the share of customers who reach it, see
:mod:`~journeydsl.simulate.paired`) and ``findings`` in words.
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from journeydsl.simulate.compare import Side, compare_document, pp
from journeydsl.simulate.formats import percent, text_console, vnd

__all__ = ["render_sweep", "sweep_document", "write_sweep_csv"]


def sweep_document(parameter: str, sides: Sequence[tuple[str, Side]]) -> dict[str, Any]:
    """The ``--sweep`` JSON document (see the module docstring) of ``sides``, one per value in
    the order given; the other sides' results carry their pairs with the first."""
    (first_value, first), *rest = sides
    against = []
    variants: list[dict[str, Any]] = []
    for value, side in rest:
        doc = compare_document(first, side, getattr(side.result, "pairs", None))
        if not variants:
            variants.append({"value": first_value, **doc["base"]})
        variants.append({"value": value, **doc["other"]})
        against.append(
            {
                "value": value,
                "diff": doc["diff"],
                "paired": doc.get("paired"),
                "findings": doc["findings"],
            }
        )
    return {
        "parameter": parameter,
        "values": [v for v, _ in sides],
        "variants": variants,
        "against_first": against,
    }


def _channels(doc: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(c for v in doc["variants"] for c in v["messages"]))


def _outcomes(doc: Mapping[str, Any]) -> list[str]:
    return list(dict.fromkeys(o for v in doc["variants"] for o in v["outcomes"]))


def rows(doc: Mapping[str, Any]) -> list[list[str]]:
    """The side-by-side table: a heading row (the values), then one row per figure."""
    variants, name = doc["variants"], doc["parameter"]
    out = [["", *(f"{name}={v['value']}" for v in variants)]]
    out.append(["instances entered", *(f"{v['entered']:,}" for v in variants)])
    for o in _outcomes(doc):
        cells = []
        for v in variants:
            row = v["outcomes"].get(o)
            cells.append(f"{row['count']:,} ({percent(row['rate'])})" if row else "-")
        out.append([f"outcome {o}", *cells])
    for o in _outcomes(doc):
        paired = [a["paired"] for a in doc["against_first"]]
        if not all(p is not None and o in p["outcomes"] for p in paired):
            continue
        first = percent(paired[0]["outcomes"][o]["base"]["rate"]) if paired else "-"
        cells = [first]
        for p in paired:
            row = p["outcomes"][o]
            low, high = row["ci95"] or (None, None)
            mark = " *" if row["significant"] else ""
            cells.append(
                f"{percent(row['other']['rate'])} ({pp(row['difference'])}, "
                f"{pp(low)} to {pp(high)}){mark}"
            )
        out.append([f"customers reaching {o}", *cells])
    for c in _channels(doc):
        out.append(
            [f"{c} sent", *(f"{v['messages'].get(c, {}).get('sent', 0):,}" for v in variants)]
        )
        if all("cost" in v["messages"].get(c, {}) for v in variants):
            out.append(
                [
                    f"{c} cost (VND)",
                    *(vnd(Decimal(v["messages"][c]["cost"]["amount"])) for v in variants),
                ]
            )
    out.append(["messages sent", *(f"{v['sent']:,}" for v in variants)])
    if all(v["cost"] is not None for v in variants):
        out.append(["cost (VND)", *(vnd(Decimal(v["cost"]["amount"])) for v in variants)])
    return out


def render_sweep(doc: Mapping[str, Any], out: TextIO, *, title: str = "") -> None:
    """The sweep as text: the side-by-side table, then per value what changed against the
    first value, in words."""
    from rich import box
    from rich.table import Table
    from rich.text import Text

    console = text_console(out, 160)
    console.print(
        Text.assemble(
            ("sweep", "bold"),
            f" {doc['parameter']} = {', '.join(doc['values'])}" + (f" — {title}" if title else ""),
        ),
        soft_wrap=True,
    )
    table_rows = rows(doc)
    table = Table(
        box=box.SIMPLE,
        title=f"Side by side (customers: share, then the difference with "
        f"{doc['parameter']}={doc['values'][0]} and its paired 95% CI; * significant)",
        title_justify="left",
    )
    for i, heading in enumerate(table_rows[0]):
        table.add_column(heading, justify="left" if i == 0 else "right")
    for row in table_rows[1:]:
        table.add_row(*row)
    console.print(table)
    for against in doc["against_first"]:
        console.print(
            Text(
                f"{doc['parameter']}={against['value']} against "
                f"{doc['parameter']}={doc['values'][0]}",
                style="bold",
            ),
            soft_wrap=True,
        )
        for line in against["findings"]:
            console.print(f"  • {line}", soft_wrap=True, markup=False)
    if doc["against_first"] and doc["against_first"][0]["paired"] is not None:
        console.print(
            f"({doc['against_first'][0]['paired']['method']})", soft_wrap=True, markup=False
        )


def write_sweep_csv(doc: Mapping[str, Any], folder: Path) -> list[Path]:
    """Write the variants' figures as ``sweep.csv`` into ``folder``, one row per value and
    figure (numbers without separators, rates as decimals, money as decimal dong); the files
    written."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.csv"
    out: list[list[Any]] = [["parameter", "value", "figure", "number"]]
    name = doc["parameter"]
    for v in doc["variants"]:
        figures: list[tuple[str, Any]] = [("instances entered", v["entered"])]
        for o, row in v["outcomes"].items():
            figures += [
                (f"outcome {o} instances", row["count"]),
                (f"outcome {o} rate", row["rate"]),
            ]
        for c, row in v["messages"].items():
            figures.append((f"{c} sent", row["sent"]))
            if "cost" in row:
                figures.append((f"{c} cost_vnd", row["cost"]["amount"]))
        figures.append(("messages sent", v["sent"]))
        if v["cost"] is not None:
            figures.append(("cost_vnd", v["cost"]["amount"]))
        out += [[name, v["value"], figure, number] for figure, number in figures]
    for against in doc["against_first"]:
        for o, row in (against["paired"] or {}).get("outcomes", {}).items():
            low, high = row["ci95"] or ("", "")
            out += [
                [name, against["value"], f"customers reaching {o}: difference", row["difference"]],
                [name, against["value"], f"customers reaching {o}: ci95_low", low],
                [name, against["value"], f"customers reaching {o}: ci95_high", high],
            ]
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(out)
    return [path]
