"""The capacity part of a comparison (``simulate --compare-policies OTHER``, or ``--compare``
under ``--policies``): for each capacity limit of either side (a channel throughput limit, a
ticket queue with a daily capacity), what it could take a day, what it took over the run, what
it deferred or dropped and the backlog it left, base and other side by side with the difference.

A limit one side does not have is ``None`` on that side: a queue without a capacity on one side
opens every ticket at once there. The figures are sums over the days of
:mod:`~journeydsl.simulate.capacity`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["capacity_diff", "capacity_findings", "capacity_rows"]

#: The figures of one limit on one side, in the order the reports show them.
FIGURES = ("capacity", "taken", "deferred", "dropped", "backlog")


def _side(limit: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """One limit's figures over the run (None: the side has no such limit, or it was idle)."""
    if limit is None:
        return None
    days = limit["days"]
    queue = limit["kind"] == "queue"
    return {
        "kind": limit["kind"],
        "capacity": limit["capacity"],
        "days": len(days),
        "taken": sum(d["taken"] for d in days),
        "deferred": None if queue else sum(d["deferred"] for d in days),
        "dropped": sum(d["dropped"] for d in days) if queue else None,
        "backlog": days[-1]["backlog"] if queue and days else None,
    }


def capacity_diff(
    base: Mapping[str, Mapping[str, Any]], other: Mapping[str, Mapping[str, Any]]
) -> dict[str, dict[str, Any]]:
    """Per limit of either side (``throughput:NAME``, ``queue:QUEUE``): ``base``, ``other``
    and ``diff`` (other minus base, for the figures both sides have)."""
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(set(base) | set(other)):
        a, b = _side(base.get(name)), _side(other.get(name))
        diff: dict[str, int | None] = {}
        for key in FIGURES:
            left, right = (a or {}).get(key), (b or {}).get(key)
            diff[key] = right - left if left is not None and right is not None else None
        out[name] = {"base": a, "other": b, "diff": diff}
    return out


def capacity_rows(capacity: Mapping[str, Mapping[str, Any]]) -> list[tuple[str, str, str, str]]:
    """The text report's rows: (label, base, other, diff) per limit and figure."""

    def cell(value: int | None) -> str:
        return "-" if value is None else f"{value:,}"

    def signed(value: int | None) -> str:
        return "" if value is None else (f"{value:+,}" if value else "0")

    rows: list[tuple[str, str, str, str]] = []
    for name, entry in capacity.items():
        a, b, d = entry["base"] or {}, entry["other"] or {}, entry["diff"]
        for key in FIGURES:
            if a.get(key) is None and b.get(key) is None:
                continue
            label = f"{name} {'a day' if key == 'capacity' else key}"
            rows.append((label, cell(a.get(key)), cell(b.get(key)), signed(d[key])))
    return rows


def capacity_findings(capacity: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """One sentence per limit whose use changed: what it took, and what it dropped."""
    lines: list[str] = []
    for name, entry in capacity.items():
        a, b, d = entry["base"], entry["other"], entry["diff"]
        if a is None or b is None:
            lines.append(f"{name} limits only the {'base' if b is None else 'other'} side")
            continue
        if d["taken"]:
            change = "more" if d["taken"] > 0 else "fewer"
            line = (
                f"{name} took {abs(d['taken']):,} {change} ({a['taken']:,} → {b['taken']:,}, "
                f"at most {a['capacity']:,} → {b['capacity']:,} a day)"
            )
            if d["dropped"]:
                line += f"; dropped {a['dropped']:,} → {b['dropped']:,}"
            lines.append(line)
    return lines
