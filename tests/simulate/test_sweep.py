"""``simulate --param NAME=VALUE`` and ``--sweep NAME=V1,V2,…`` on a journey with a parameter:
the override does what editing the journey would, and a sweep reports every value side by side
against the first with paired intervals."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli

PARAMETRIZED = str(EXAMPLES / "variants" / "onboarding_reminder_interval.journey")
EVERY_2D = str(EXAMPLES / "variants" / "onboarding_remind_every_2d.journey")
MODEL = ("--population", "150", "--behaviour", str(BEHAVIOUR / "onboarding.yaml"), "--seed", "7")


def _outcomes(cli: Cli, journey: str, *extra: str) -> dict[str, Any]:
    code, out, err = cli(
        "simulate", journey, *MODEL, "--root", str(EXAMPLES), "--format", "json", *extra
    )
    assert code == 0, err
    doc = json.loads(out)
    return {"outcomes": doc["funnel"]["outcomes"], "sends": len(doc["actions"])}


def test_a_param_override_does_what_editing_the_journey_does(cli: Cli) -> None:
    """With its declared 3d the parametrized journey does what the original does; with --param
    reminder_interval=2d, what the variant written with 2d does."""
    assert _outcomes(cli, PARAMETRIZED) == _outcomes(cli, ONBOARDING)
    two = _outcomes(cli, PARAMETRIZED, "--param", "reminder_interval=2d")
    assert two == _outcomes(cli, EVERY_2D)
    assert two != _outcomes(cli, ONBOARDING)


def _sweep(cli: Cli, *extra: str) -> tuple[int, str, str]:
    return cli(
        "simulate",
        PARAMETRIZED,
        *MODEL,
        "--root",
        str(EXAMPLES),
        "--sweep",
        "reminder_interval=2d,3d,5d",
        *extra,
    )


def test_a_sweep_reports_each_value_against_the_first(cli: Cli) -> None:
    """The JSON document has one variant per value (each what --param gives alone) and, for the
    second and third values, the paired comparison with the first."""
    code, out, err = _sweep(cli, "--format", "json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["parameter"] == "reminder_interval"
    assert doc["values"] == ["2d", "3d", "5d"]
    assert [v["value"] for v in doc["variants"]] == ["2d", "3d", "5d"]
    for variant in doc["variants"]:
        alone = _outcomes(cli, PARAMETRIZED, "--param", f"reminder_interval={variant['value']}")
        assert {k: v["count"] for k, v in variant["outcomes"].items()} == alone["outcomes"]
    assert [a["value"] for a in doc["against_first"]] == ["3d", "5d"]
    for against in doc["against_first"]:
        assert against["paired"]["customers"] == 150
        assert against["findings"]
    # Fewer, later reminders cost less.
    costs = [int(v["cost"]["amount"]) for v in doc["variants"]]
    assert costs[0] > costs[1] > costs[2]


def test_a_sweep_as_text_html_and_csv(cli: Cli, tmp_path: Path) -> None:
    """The text report has a column per value and the findings per value; --format html writes
    a page with a row per figure; --csv writes sweep.csv with a row per value and figure."""
    code, out, _ = _sweep(cli)
    assert code == 0
    header = next(
        line for line in out.splitlines() if "reminder_interval=2d" in line and "5d" in line
    )
    assert header.split() == [
        "reminder_interval=2d",
        "reminder_interval=3d",
        "reminder_interval=5d",
    ]
    assert "reminder_interval=5d against reminder_interval=2d" in out
    assert "customers reaching not_activated" in out
    page = tmp_path / "sweep.html"
    code, _, _ = _sweep(cli, "--format", "html", "-o", str(page), "--csv", str(tmp_path))
    assert code == 0
    text = page.read_text(encoding="utf-8")
    assert text.count('data-testid="sweep-row"') >= 10
    with (tmp_path / "sweep.csv").open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert {r["value"] for r in rows} == {"2d", "3d", "5d"}
    entered = [r for r in rows if r["figure"] == "instances entered"]
    assert [r["number"] for r in entered] == ["150", "150", "150"]


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--sweep", "reminder_interval=2d"), "give two or more values"),
        (("--sweep", "reminder_interval=2d,2d"), "a value is given twice"),
        (("--sweep", "reminder_interval"), "expected NAME=VALUE"),
        (("--param", "reminder_interval"), "expected NAME=VALUE"),
        (("--sweep", "reminder_interval=2d,3d", "--compare", ONBOARDING), "--sweep does not go"),
    ],
)
def test_sweep_and_param_usage_errors(cli: Cli, extra: tuple[str, ...], message: str) -> None:
    """A malformed --sweep or --param, or --sweep with --compare, is a usage error (exit 2)."""
    code, _, err = cli("simulate", PARAMETRIZED, *MODEL, "--root", str(EXAMPLES), *extra)
    assert code == 2
    assert message in err


def test_a_value_of_the_wrong_type_names_the_param(cli: Cli) -> None:
    """--param reminder_interval=2 (a number for a duration) fails to compile (exit 1) with a
    message that names the param and the expected type; an unknown name suggests the right
    one."""
    code, _, err = cli(
        "simulate", PARAMETRIZED, *MODEL, "--root", str(EXAMPLES), "--param", "reminder_interval=2"
    )
    assert code == 1
    assert "<reminder_interval=2>:1:1: error[JD301]: param 'reminder_interval' is a duration" in err
    code, _, err = cli(
        "simulate",
        PARAMETRIZED,
        *MODEL,
        "--root",
        str(EXAMPLES),
        "--sweep",
        "reminder_intervl=2d,3d",
    )
    assert code == 1
    assert "did you mean 'reminder_interval'?" in err
