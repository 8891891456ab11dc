"""What-if: ``--compare OTHER_JOURNEY`` runs both journeys on the same customers and reports them
side by side, with a confidence interval for a holdout."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeydsl.simulate.compare import pp
from journeydsl.simulate.paired import PairTally, paired_interval
from journeydsl.simulate.proportions import difference_interval
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli, onboarding_args

MODEL = str(BEHAVIOUR / "onboarding.yaml")
EVERY_2D = str(EXAMPLES / "variants" / "onboarding_remind_every_2d.journey")
HOLDOUT = str(EXAMPLES / "variants" / "onboarding_reminder_holdout.journey")


def _compare(cli: Cli, other: str, *extra: str, population: str = "80") -> tuple[int, str, str]:
    return cli(
        "simulate",
        ONBOARDING,
        "--population",
        population,
        "--behaviour",
        MODEL,
        "--seed",
        "7",
        "--compare",
        other,
        "--root",
        str(EXAMPLES),  # the variants use the catalogs one folder up
        *extra,
    )


def _doc(cli: Cli, other: str, *extra: str, population: str = "80") -> dict[str, Any]:
    code, out, _ = _compare(cli, other, "--format", "json", *extra, population=population)
    assert code == 0
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_the_base_side_is_the_base_journeys_own_run(cli: Cli) -> None:
    """The base column has exactly the entries, outcomes and messages of the base journey run
    alone with the same population and seed."""
    doc = _doc(cli, EVERY_2D)
    assert list(doc) == ["base", "other", "diff", "paired", "findings", "budgets"]
    alone_args = ("--population", "80", "--behaviour", MODEL, "--seed", "7", "--format", "json")
    code, out, _ = cli("simulate", ONBOARDING, *alone_args)
    assert code == 0
    alone = json.loads(out)
    base = doc["base"]
    assert base["entered"] == alone["funnel"]["entered"] == 80
    assert {k: v["count"] for k, v in base["outcomes"].items()} == alone["funnel"]["outcomes"]
    sent = sum(1 for a in alone["actions"] if a["kind"] == "send")
    assert base["sent"] == sent
    assert (base["version"], doc["other"]["version"]) == (1, 5)


def test_the_diff_is_other_minus_base(cli: Cli) -> None:
    """Every count in diff is other minus base; rates differ by the same; money stays text."""
    doc = _doc(cli, EVERY_2D)
    base, other, diff = doc["base"], doc["other"], doc["diff"]
    assert diff["entered"] == other["entered"] - base["entered"]
    assert diff["sent"] == other["sent"] - base["sent"]
    for name, d in diff["outcomes"].items():
        assert d["count"] == other["outcomes"][name]["count"] - base["outcomes"][name]["count"]
        expected = other["outcomes"][name]["rate"] - base["outcomes"][name]["rate"]
        assert math.isclose(d["rate"], expected, abs_tol=1e-6)
    for channel, d in diff["messages"].items():
        assert d["sent"] == other["messages"][channel]["sent"] - base["messages"][channel]["sent"]
    assert isinstance(base["cost"]["amount"], str)
    assert int(diff["cost"]["amount"]) == int(other["cost"]["amount"]) - int(base["cost"]["amount"])
    # Reminders every 2 days instead of 3 send more of them to the same customers.
    assert diff["sent"] > 0


def test_two_workers_compare_the_same_as_one(cli: Cli) -> None:
    """--compare with --workers 2 prints the same JSON as with one worker."""
    one = _compare(cli, EVERY_2D, "--format", "json")
    two = _compare(cli, EVERY_2D, "--format", "json", "--workers", "2")
    assert one[0] == two[0] == 0
    assert two[1] == one[1]


def test_a_holdout_reports_treated_vs_control_with_an_interval(cli: Cli) -> None:
    """The holdout variant reports per outcome the treated and holdout rates, their difference
    and a 95% interval around it; the base journey (no split) has none."""
    doc = _doc(cli, HOLDOUT, population="200")
    assert doc["base"]["holdout"] is None
    holdout = doc["other"]["holdout"]
    assert holdout["treated"] + holdout["holdout"] == doc["other"]["entered"] == 200
    assert 0 < holdout["holdout"] < holdout["treated"]
    assert "Newcombe" in holdout["method"]
    for row in holdout["outcomes"].values():
        low, high = row["ci95"]
        assert low <= row["difference"] <= high
        rate = row["treated"]["count"] / holdout["treated"]
        assert math.isclose(row["treated"]["rate"], rate, abs_tol=1e-6)


def test_the_text_report_puts_both_journeys_side_by_side(cli: Cli) -> None:
    """The text comparison names both files and has base, other and diff columns, and a holdout
    table with a 95% CI column."""
    code, out, _ = _compare(cli, HOLDOUT, population="120")
    assert code == 0
    assert HOLDOUT in out
    assert ONBOARDING in out
    header = next(line for line in out.splitlines() if "base" in line and "diff" in line)
    assert header.split() == ["base", "other", "diff"]
    assert "95% CI" in out
    assert "outcome spend_goal_met" in out


def test_recorded_events_can_be_compared(cli: Cli) -> None:
    """--compare works on recorded events: both journeys see the same five customers."""
    code, out, _ = cli(
        *onboarding_args("--compare", EVERY_2D, "--root", str(EXAMPLES), "--format", "json")
    )
    assert code == 0
    doc = json.loads(out)
    assert doc["base"]["entered"] == doc["other"]["entered"] == 5
    assert doc["base"]["cost"] is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (("--trace", "c-0001"), "--trace does not go with --compare"),
    ],
)
def test_compare_refuses_options_it_cannot_honour(
    cli: Cli, extra: tuple[str, ...], message: str
) -> None:
    """--compare with --trace is a usage error (exit 2)."""
    code, _, err = _compare(cli, EVERY_2D, *extra)
    assert code == 2
    assert message in err


def test_a_missing_other_journey_is_a_usage_error(cli: Cli) -> None:
    """--compare with a file that does not exist exits 2 and names it."""
    code, _, err = _compare(cli, "no/such.journey")
    assert code == 2
    assert "no/such.journey: no such file" in err


def test_the_holdout_interval_is_newcombes_as_for_the_policy_uplift() -> None:
    """--compare and the policy uplift give one interval (Newcombe's), which, unlike the normal
    approximation, does not collapse to a point when a rate is 0 and stays inside [-1, 1]."""
    # Newcombe (1998), table II: 56/70 - 48/80 is 0.2 with 95% interval 0.0524 to 0.3339.
    assert difference_interval(56, 70, 48, 80) == (0.2, 0.052431, 0.333873)
    # Wald would give 0 ± 0 here, and an upper end above 1 for a difference of 1.
    assert difference_interval(0, 12, 0, 3) == (0.0, -0.561497, 0.242494)
    assert difference_interval(10, 10, 0, 10) == (1.0, 0.607509, 1.0)
    assert difference_interval(3, 10, 0, 0) is None


def test_the_paired_interval_matches_a_hand_computation() -> None:
    """Ten customers, one reaches the outcome under the base journey only, four under the other
    only, two under both: the difference is 0.3 and its interval is the normal interval on the
    mean of the per-customer differences, computed here by hand."""
    base = {"c1": {"won"}, "c2": {"won"}, "c3": {"won"}}
    other = {"c2": {"won"}, "c3": {"won"}, "c4": {"won"}, "c5": {"won"}, "c6": {"won"}}
    other["c7"] = {"won"}
    pairs = PairTally.of(10, base, other)
    assert (pairs.both["won"], pairs.base_only["won"], pairs.other_only["won"]) == (2, 1, 4)
    # d per customer: c1 -1, c4..c7 +1, the rest 0; mean 0.3, sample variance
    # (1 * 1.3² + 4 * 0.7² + 5 * 0.3²) / 9 = (1.69 + 1.96 + 0.45) / 9 = 4.1 / 9.
    half = 1.959963984540054 * math.sqrt(4.1 / 9 / 10)
    assert math.isclose(half, 0.41833, abs_tol=1e-6)
    assert paired_interval(10, 1, 4) == (0.3, round(0.3 - half, 6), round(0.3 + half, 6))
    row = pairs.rows(["won"], frozenset({"won"}))["won"]
    assert row["base"] == {"customers": 3, "rate": 0.3}
    assert row["other"] == {"customers": 6, "rate": 0.6}
    assert row["ci95"] == [-0.11833, 0.71833]
    assert (row["goal"], row["significant"]) == (True, False)
    # Nobody changed: no variance, a point interval at 0; nobody at all: no interval.
    assert paired_interval(50, 0, 0) == (0.0, 0.0, 0.0)
    assert paired_interval(0, 0, 0) is None


def test_pair_tallies_of_parts_add_up_to_the_whole() -> None:
    """Counting the pairs of two halves of the customers and merging them gives the counts of
    all of them at once."""
    base = {f"c{i}": {"a"} for i in range(0, 10, 2)}
    other = {f"c{i}": {"a", "b"} for i in range(0, 10, 3)}
    whole = PairTally.of(10, base, other)
    halves = [
        PairTally.of(
            5,
            {k: v for k, v in base.items() if int(k[1:]) % 2 == part},
            {k: v for k, v in other.items() if int(k[1:]) % 2 == part},
        )
        for part in (0, 1)
    ]
    assert halves[0].merge(halves[1]) == whole


def test_compare_reports_paired_rates_per_outcome_and_says_what_changed(cli: Cli) -> None:
    """Withholding the reminders from a holdout lowers the share of customers who meet the spend
    goal: the paired section counts every customer once, its rates agree with its discordant
    counts, and the findings say the significant changes and the cost per channel in words."""
    doc = _doc(cli, HOLDOUT, population="400")
    paired = doc["paired"]
    assert paired["customers"] == 400
    assert "paired" in paired["method"]
    for row in paired["outcomes"].values():
        d = (row["other"]["customers"] - row["base"]["customers"]) / 400
        assert math.isclose(row["difference"], d, abs_tol=1e-6)
        assert row["difference"] == round((row["other_only"] - row["base_only"]) / 400, 6)
        low, high = row["ci95"]
        assert low <= row["difference"] <= high
        assert row["significant"] == (low > 0 or high < 0)
    significant = [n for n, r in paired["outcomes"].items() if r["significant"]]
    assert significant
    for name in significant:
        assert any(f"'{name}'" in line and "95% CI" in line for line in doc["findings"])
    assert any(line.startswith("sms cost falls by") for line in doc["findings"])
    for channel, delta in doc["diff"]["messages"].items():
        base_cost = int(doc["base"]["messages"][channel]["cost"]["amount"])
        other_cost = int(doc["other"]["messages"][channel]["cost"]["amount"])
        assert int(delta["cost"]["amount"]) == other_cost - base_cost


def test_the_text_comparison_has_cost_per_channel_and_the_paired_table(cli: Cli) -> None:
    """The text report has a cost row per channel, the paired table with its method, and a
    'What changed' list."""
    code, out, _ = _compare(cli, HOLDOUT, population="400")
    assert code == 0
    assert "sms cost (VND)" in out
    assert "Customers reaching each outcome, paired (400 customers)" in out
    assert "What changed" in out
    assert "significant" in out
    assert "-0.0 pp" not in out


def test_compare_as_html_shows_the_findings_paired_rows_and_costs(cli: Cli, tmp_path: Any) -> None:
    """--compare --format html writes one page with the findings, a paired row per outcome and
    the cost difference of the JSON document; the page embeds the document."""
    page = tmp_path / "compare.html"
    code, out, _ = _compare(cli, HOLDOUT, "--format", "html", "-o", str(page), population="200")
    assert (code, out) == (0, "")
    text = page.read_text(encoding="utf-8")
    doc = _doc(cli, HOLDOUT, population="200")
    for name in doc["paired"]["outcomes"]:
        assert f'data-testid="paired-row" data-outcome="{name}"' in text
    for line in doc["findings"]:
        assert line.replace("'", "&#x27;") in text
    diff = int(doc["diff"]["cost"]["amount"])
    assert f'data-testid="cost-diff">{diff:+,}<' in text
    assert '"paired":' in text


@pytest.mark.parametrize(
    ("delta", "shown"),
    [
        (-0.0001, "-0.01 pp"),
        (-0.00049, "-0.05 pp"),
        (-0.0000001, "-<0.01 pp"),
        (0.0, "0.0 pp"),
        (-0.0, "0.0 pp"),
        (0.031, "+3.1 pp"),
        (None, "-"),
    ],
)
def test_a_difference_in_points_never_shows_a_negative_zero(
    delta: float | None, shown: str
) -> None:
    """A change smaller than 0.05 pp gets a second decimal rather than reading as -0.0 pp."""
    assert pp(delta) == shown


def test_a_paired_interval_of_few_customers_stays_within_100_points() -> None:
    """3 of 5 customers reach it under the base only: the interval is cut at -100 pp."""
    found = paired_interval(5, 3, 0)
    assert found is not None
    assert found[0] == -0.6
    assert found[1] == -1.0
    assert found[0] < found[2] < 0


@given(st.integers(min_value=1, max_value=200), st.data())
def test_every_paired_interval_holds_its_mean_within_minus_and_plus_one(
    n: int, data: st.DataObject
) -> None:
    """Whatever the counts, -1 <= low <= mean <= high <= 1."""
    base_only = data.draw(st.integers(min_value=0, max_value=n))
    other_only = data.draw(st.integers(min_value=0, max_value=n - base_only))
    found = paired_interval(n, base_only, other_only)
    assert found is not None
    mean, low, high = found
    assert -1.0 <= low <= mean <= high <= 1.0
