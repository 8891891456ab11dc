"""The report's tables as CSV files (``simulate --csv DIR``), for a spreadsheet.

One file per table, UTF-8 with a header row, comma-separated, numbers without thousands
separators, rates as decimals (0.125), money as whole-or-decimal dong strings (the JSON
contract's Decimal text). A run writes ``funnel.csv``, ``outcomes.csv``, ``messages.csv``,
``suppression_reasons.csv``, ``tickets.csv`` and ``rewards.csv``; a ``--compare`` run writes
``compare_outcomes.csv``, ``compare_paired.csv`` and ``compare_messages.csv``. Several journeys
run together write each journey's tables in a folder named after the journey's id, and
``journeys.csv``, the table of all journeys together.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from journeydsl.simulate.driver import RunResult
from journeydsl.simulate.report import summary

__all__ = ["write_compare_csv", "write_run_csv", "write_several_csv"]

_STEP_COLUMNS = ("name", "entered", "passed", "exited", "waiting")


def _write(folder: Path, name: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Path:
    path = folder / name
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(["" if v is None else v for v in row] for row in rows)
    return path


def write_run_csv(
    result: RunResult,
    folder: Path,
    *,
    costs: Mapping[str, Decimal] | None = None,
    failures: Mapping[str, tuple[int, int]] | None = None,
    journey_id: str | None = None,
) -> list[Path]:
    """Write one run's tables into ``folder`` (created if need be); the files written. Of a
    run of several journeys, those of ``journey_id``."""
    folder.mkdir(parents=True, exist_ok=True)
    journey = result.journey(journey_id)
    funnel = result.funnel(journey.id)
    entered = funnel["entered"]
    figures = summary(result, journey.id, costs, failures)
    share = (lambda n: round(n / entered, 6)) if entered else (lambda n: None)
    written = [
        _write(
            folder,
            "funnel.csv",
            ["step", "name", "entered", "passed", "exited", "waiting", "share_of_entered"],
            (
                [nid, *(s[k] for k in _STEP_COLUMNS), share(s["entered"])]
                for nid, s in funnel["steps"].items()
            ),
        ),
        _write(
            folder,
            "outcomes.csv",
            ["outcome", "instances", "share_of_entered"],
            [
                *([name, n, share(n)] for name, n in funnel["outcomes"].items()),
                ["(running)", funnel["running"], share(funnel["running"])],
            ],
        ),
    ]
    columns = ["channel", "sent", "suppressed", "undelivered"]
    if failures is not None:
        columns += ["failed_transient", "failed_permanent"]
    if costs is not None:
        columns.append("cost_vnd")
    written.append(
        _write(
            folder,
            "messages.csv",
            columns,
            ([row[c] for c in columns] for row in figures["channels"]),
        )
    )
    written.append(
        _write(
            folder,
            "suppression_reasons.csv",
            ["reason", "messages"],
            figures["suppression_reasons"].items(),
        )
    )
    written.append(
        _write(
            folder,
            "tickets.csv",
            ["queue", "priority", "tickets"],
            ([t["queue"], t["priority"], t["count"]] for t in figures["tickets"]),
        )
    )
    written.append(
        _write(
            folder,
            "rewards.csv",
            ["kind", "name", "count"],
            ([r["kind"], r["name"], r["count"]] for r in figures["rewards"]),
        )
    )
    return written


def write_compare_csv(doc: Mapping[str, Any], folder: Path) -> list[Path]:
    """Write a ``--compare`` document's tables into ``folder``; the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    a, b, d = doc["base"], doc["other"], doc["diff"]
    zero = {"count": 0, "rate": 0.0}
    written = [
        _write(
            folder,
            "compare_outcomes.csv",
            [
                "outcome",
                "base",
                "base_rate",
                "other",
                "other_rate",
                "difference",
                "rate_difference",
            ],
            (
                [
                    name,
                    a["outcomes"].get(name, zero)["count"],
                    a["outcomes"].get(name, zero)["rate"],
                    b["outcomes"].get(name, zero)["count"],
                    b["outcomes"].get(name, zero)["rate"],
                    delta["count"],
                    delta["rate"],
                ]
                for name, delta in d["outcomes"].items()
            ),
        )
    ]
    paired = doc.get("paired")
    if paired is not None:
        written.append(
            _write(
                folder,
                "compare_paired.csv",
                [
                    "outcome",
                    "goal",
                    "customers",
                    "base_rate",
                    "other_rate",
                    "difference",
                    "ci95_low",
                    "ci95_high",
                    "significant",
                ],
                (
                    [
                        name,
                        row["goal"],
                        paired["customers"],
                        row["base"]["rate"],
                        row["other"]["rate"],
                        row["difference"],
                        *(row["ci95"] or [None, None]),
                        row["significant"],
                    ]
                    for name, row in paired["outcomes"].items()
                ),
            )
        )

    def cost(side: Mapping[str, Any]) -> str | None:
        return side["cost"]["amount"] if side.get("cost") else None

    written.append(
        _write(
            folder,
            "compare_messages.csv",
            [
                "channel",
                "base_sent",
                "other_sent",
                "sent_difference",
                "base_cost_vnd",
                "other_cost_vnd",
                "cost_difference_vnd",
            ],
            (
                [
                    c,
                    a["messages"][c]["sent"],
                    b["messages"][c]["sent"],
                    delta["sent"],
                    cost(a["messages"][c]),
                    cost(b["messages"][c]),
                    cost(delta),
                ]
                for c, delta in d["messages"].items()
            ),
        )
    )
    return written


def write_several_csv(
    result: RunResult, folder: Path, *, costs: Mapping[str, Decimal] | None = None
) -> list[Path]:
    """Write the tables of several journeys run together into ``folder``: each journey's, as
    :func:`write_run_csv` writes them, in ``folder/JOURNEY_ID/``, and ``journeys.csv``, the
    table of all journeys together (a row per journey, then ``total``); the files written.
    (Failed delivery attempts are counted for all journeys together, so a journey's
    ``messages.csv`` has no columns for them.)"""
    from journeydsl.simulate.multi import together

    written: list[Path] = []
    for journey in result.journeys:
        written += write_run_csv(result, folder / journey.id, costs=costs, journey_id=journey.id)
    rows = together(result, costs)
    columns = [c for c in _TOGETHER_COLUMNS if c in rows[0]]
    written.append(
        _write(
            folder,
            "journeys.csv",
            columns,
            [[format(r[c], "f") if c == "cost_vnd" else r[c] for c in columns] for r in rows],
        ),
    )
    return written


_TOGETHER_COLUMNS = (
    "journey",
    "instances",
    "customers",
    "reentries",
    "sent",
    "suppressed",
    "cost_vnd",
)
