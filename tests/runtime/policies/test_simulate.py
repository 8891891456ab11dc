"""``journeydsl simulate --policies``: the report counts what each policy deferred, dropped and
rerouted, and the uplift against the global holdout with a 95% interval."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeydsl.simulate.proportions import difference_interval, wilson_interval
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli, dormant_args

POLICIES = str(EXAMPLES / "policies.yaml")


def _synthetic(*extra: str) -> list[str]:
    return [
        "simulate",
        ONBOARDING,
        "--population",
        "200",
        "--behaviour",
        str(BEHAVIOUR / "onboarding.yaml"),
        "--seed",
        "7",
        "--policies",
        POLICIES,
        *extra,
    ]


def test_newcombe_interval_matches_the_published_examples() -> None:
    """Newcombe (1998), method 10: 56/70 vs 48/80, 9/10 vs 3/10 and 5/56 vs 0/29."""
    assert difference_interval(56, 70, 48, 80) == (0.2, 0.052431, 0.333873)
    assert difference_interval(9, 10, 3, 10) == (0.6, 0.170523, 0.809018)
    assert difference_interval(5, 56, 0, 29) == (0.089286, -0.038137, 0.19256)
    assert difference_interval(1, 0, 1, 2) is None
    assert wilson_interval(0, 10)[0] == 0.0


def test_recorded_run_counts_the_do_not_contact_list(cli: Cli) -> None:
    """examples/policies.yaml lists d-006: their three marketing messages are dropped by it."""
    code, out, _ = cli(*dormant_args("--policies", POLICIES, "--format", "json"))
    assert code == 0
    doc = json.loads(out)
    assert doc["policies"]["messages"]["do_not_contact"] == {
        "deferred": 0,
        "dropped": 3,
        "rerouted": 0,
    }
    dropped = [a for a in doc["actions"] if a["kind"] == "suppressed"]
    assert {a["customer_id"] for a in dropped} == {"d-006"}
    assert {a["reason"] for a in dropped} == {"on the do-not-contact list (marketing)"}


def test_without_policies_the_document_has_no_policies_part(cli: Cli) -> None:
    """The JSON contract is unchanged when --policies is not given."""
    _, out, _ = cli(*dormant_args("--format", "json"))
    assert "policies" not in json.loads(out)


def test_synthetic_run_reports_holdout_uplift_with_an_interval(cli: Cli) -> None:
    """Every instance is treated or held out; each outcome's uplift lies inside its interval."""
    code, out, _ = cli(*_synthetic("--format", "json"))
    assert code == 0
    doc = json.loads(out)
    holdout = doc["policies"]["holdout"]
    assert holdout["percent"] == 5.0
    assert holdout["treated"] + holdout["holdout"] == doc["funnel"]["entered"]
    assert holdout["holdout"] > 0
    for row in holdout["outcomes"].values():
        low, high = row["ci95"]
        assert low <= row["uplift"] <= high
    held = [a for a in doc["actions"] if str(a.get("reason", "")).startswith("global holdout")]
    assert len(held) == doc["policies"]["messages"]["holdout"]["dropped"] > 0
    assert "Newcombe" in holdout["method"]


def test_text_report_has_the_policy_and_uplift_tables(cli: Cli) -> None:
    """The text report lists messages per policy and the uplift table."""
    code, out, _ = cli(*_synthetic())
    assert code == 0
    assert "Contact policies: messages" in out
    assert "journey_quiet_hours" in out
    assert "Uplift against the global holdout (5%)" in out
    assert "Newcombe" in out


def test_parts_merge_to_the_same_policy_figures(cli: Cli) -> None:
    """--workers 2 gives the same policy figures as one process."""
    _, one, _ = cli(*_synthetic("--format", "json"))
    _, two, _ = cli(*_synthetic("--format", "json", "--workers", "2"))
    assert json.loads(one)["policies"] == json.loads(two)["policies"]


def test_explain_shows_the_policy_decisions(cli: Cli) -> None:
    """explain --policies prints each delivery decision with its policy's reason."""
    args = dormant_args("--policies", POLICIES, "--customer", "d-006")
    args[0] = "explain"
    code, out, _ = cli(*args)
    assert code == 0
    assert "policies: suppressed: on the do-not-contact list (marketing)" in out


def test_a_broken_policy_file_fails_the_run_with_its_line(cli: Cli, tmp_path: Path) -> None:
    """Mistakes are printed as file:line:col (exit 1); a missing file is a usage error (2)."""
    bad = tmp_path / "p.yaml"
    bad.write_text("holdout: {percent: 120}\n", encoding="utf-8")
    code, _, err = cli(*dormant_args("--policies", str(bad)))
    assert code == 1
    assert f"{bad}:1:20: error: holdout.percent" in err
    code, _, err = cli(*dormant_args("--policies", str(tmp_path / "none.yaml")))
    assert code == 2


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Cli:
    """The CLI, in-process."""
    return Cli(capsys)
