"""``simulate --csv DIR``: the report's tables as CSV files that agree with the JSON report."""

from __future__ import annotations

import csv
import json
from decimal import Decimal
from pathlib import Path

from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli

SYNTHETIC = (
    "simulate",
    ONBOARDING,
    "--population",
    "120",
    "--behaviour",
    str(BEHAVIOUR / "onboarding.yaml"),
    "--seed",
    "7",
)


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_a_run_writes_its_tables_as_csv(cli: Cli, tmp_path: Path) -> None:
    """--csv writes one file per table; the funnel has a named row per step in graph order with
    the JSON report's counts, and the message costs add up to the text report's total."""
    folder = tmp_path / "tables"
    code, out, _ = cli(*SYNTHETIC, "--csv", str(folder))
    assert code == 0
    assert "Funnel" in out  # the text report is still printed
    names = sorted(p.name for p in folder.iterdir())
    assert names == [
        "funnel.csv",
        "messages.csv",
        "outcomes.csv",
        "rewards.csv",
        "suppression_reasons.csv",
        "tickets.csv",
    ]
    code, text, _ = cli(*SYNTHETIC, "--format", "json")
    steps = json.loads(text)["funnel"]["steps"]
    funnel = _rows(folder / "funnel.csv")
    assert [r["step"] for r in funnel] == list(steps)
    for row in funnel:
        step = steps[row["step"]]
        assert row["name"] == step["name"]
        assert [int(row[k]) for k in ("entered", "passed", "exited", "waiting")] == [
            step[k] for k in ("entered", "passed", "exited", "waiting")
        ]
    messages = _rows(folder / "messages.csv")
    total = sum(Decimal(r["cost_vnd"]) for r in messages)
    assert f"{int(total):,}" in out
    assert {"sent", "suppressed", "undelivered", "failed_permanent"} <= set(messages[0])


def test_a_comparison_writes_its_tables_as_csv(cli: Cli, tmp_path: Path) -> None:
    """--compare with --csv writes the outcomes, paired and messages tables of the JSON
    document."""
    other = str(EXAMPLES / "variants" / "onboarding_reminder_holdout.journey")
    args = (*SYNTHETIC, "--compare", other, "--root", str(EXAMPLES))
    folder = tmp_path / "compare"
    code, text, _ = cli(*args, "--format", "json", "--csv", str(folder))
    assert code == 0
    doc = json.loads(text)
    paired = _rows(folder / "compare_paired.csv")
    assert [r["outcome"] for r in paired] == list(doc["paired"]["outcomes"])
    for row in paired:
        expected = doc["paired"]["outcomes"][row["outcome"]]
        assert float(row["ci95_low"]) == expected["ci95"][0]
        assert row["significant"] == str(expected["significant"])
    messages = _rows(folder / "compare_messages.csv")
    for row in messages:
        assert (
            row["cost_difference_vnd"] == doc["diff"]["messages"][row["channel"]]["cost"]["amount"]
        )
    assert (folder / "compare_outcomes.csv").is_file()
