"""Synthetic mode: reproducible populations, behaviour reacting to delivered messages, channel
failures and costs."""

from __future__ import annotations

import json
import random
from decimal import Decimal
from typing import Any

from journeydsl.simulate.behaviour import Dist, load_behaviour, sample_amount
from journeydsl.simulate.population import Population
from journeydsl.simulate.population_general import GeneralPopulation, population_for
from tests.simulate.conftest import BEHAVIOUR, DORMANT, ONBOARDING, Cli, synthetic_simulation

ONBOARDING_MODEL = str(BEHAVIOUR / "onboarding.yaml")
DORMANT_MODEL = str(BEHAVIOUR / "dormant.yaml")


def _synthetic(
    cli: Cli,
    *extra: str,
    journey: str = ONBOARDING,
    model: str = ONBOARDING_MODEL,
    population: int = 40,
) -> tuple[int, str, str]:
    return cli(
        "simulate",
        journey,
        "--population",
        str(population),
        "--behaviour",
        model,
        *extra,
    )


def test_the_same_seed_gives_identical_json_bytes(cli: Cli) -> None:
    """Two runs with seed 7 print byte-identical JSON."""
    first = _synthetic(cli, "--seed", "7", "--format", "json")
    second = _synthetic(cli, "--seed", "7", "--format", "json")
    assert first[0] == 0
    assert first[1] == second[1]


def test_a_different_seed_gives_a_different_run(cli: Cli) -> None:
    """Seeds 7 and 8 give different actions."""
    a = _synthetic(cli, "--seed", "7", "--format", "json")
    b = _synthetic(cli, "--seed", "8", "--format", "json")
    assert json.loads(a[1])["actions"] != json.loads(b[1])["actions"]


def test_a_customers_profile_does_not_depend_on_the_population_size() -> None:
    """Customer c-0001 gets the same profile in a population of 5 and of 50 (per-customer seeds)."""
    model = load_behaviour(ONBOARDING_MODEL).model
    small = population_for(model, 5, seed=3).profiles[0]
    large = population_for(model, 50, seed=3).profiles[0]
    assert small == large
    assert small.customer_id == "c-0001"


def test_synthetic_output_follows_the_json_contract(cli: Cli) -> None:
    """The synthetic JSON has the same top-level keys (the budget forecast last: the journey
    draws its fee waiver from a budget) and entries for every customer."""
    code, out, _ = _synthetic(cli, "--seed", "1", "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert list(doc) == ["journey", "version", "actions", "instances", "funnel", "budgets"]
    assert doc["funnel"]["entered"] == 40
    assert {i["customer_id"] for i in doc["instances"]} == {f"c-{n:04d}" for n in range(1, 41)}


def test_arrivals_are_spread_over_the_first_days(cli: Cli) -> None:
    """card_issued arrivals fall within the behaviour file's 10 days, in local office hours."""
    code, out, _ = _synthetic(cli, "--seed", "2", "--format", "json")
    assert code == 0
    entered = [i["entered_at"] for i in json.loads(out)["instances"]]
    assert min(entered) >= "2026-01-05T08:00"
    assert max(entered) < "2026-01-15"
    assert all("08:00" <= t[11:16] < "18:00" for t in entered)


def _run(
    model_path: str, journey_path: str, size: int, seed: int
) -> tuple[Any, Population | GeneralPopulation]:
    sim, population = synthetic_simulation(journey_path, model_path, size, seed)
    return sim.run(), population


def test_customers_react_to_delivered_messages() -> None:
    """Opens are events the engine sees, they follow a delivered message of the same journey."""
    result, _ = _run(DORMANT_MODEL, DORMANT, 40, 5)
    opened = [
        e
        for c in result.customers()
        for e in result.events_of(c)
        if e.type == "message_opened" and e.at >= result.start
    ]
    assert opened
    sent = {(a["customer_id"], a["node"]) for a in result.actions if a["kind"] == "send"}
    for e in opened:
        assert e.data["journey"] == "dormant_reactivation"
        assert (e.customer_id, e.data["node"]) in sent


def test_channel_failures_are_counted_and_cost_only_deliveries() -> None:
    """Failed attempts are counted per channel; cost is the delivered count times the price."""
    result, population = _run(DORMANT_MODEL, DORMANT, 60, 11)
    stats = population.stats
    assert stats["zns"].permanent > 0
    sent = sum(1 for a in result.actions if a["kind"] == "send" and a["channel"] == "sms")
    assert stats["sms"].delivered == sent
    assert stats["sms"].cost == Decimal(700) * sent


def test_the_dormant_population_enters_by_the_daily_segment() -> None:
    """Dormant synthetic customers (history only) enter at 09:00 local on the first day."""
    result, _ = _run(DORMANT_MODEL, DORMANT, 20, 1)
    entered = {i["entered_at"][11:16] for i in result.instances}
    assert entered == {"09:00"}
    assert len(result.instances) == 20


def test_amounts_are_decimals_rounded_to_1000_vnd() -> None:
    """A log-normal amount is a Decimal that is a whole multiple of 1,000 VND."""
    dist = Dist[Decimal].model_validate({"lognormal": {"median": 123_456, "spread": 1.0}})
    rng = random.Random(0)
    for _ in range(200):
        amount = sample_amount(dist, rng)
        assert isinstance(amount, Decimal)
        assert amount % 1000 == 0
        assert amount >= 1000


def test_text_report_prices_messages_per_channel(cli: Cli) -> None:
    """The synthetic text report has failure and cost columns and a cost per instance."""
    code, out, _ = _synthetic(cli, "--seed", "4")
    assert code == 0
    assert "cost (VND)" in out
    assert "attempts failed, for good" in out
    assert "cost per entered instance" in out


def test_progress_bar_goes_to_stderr_only(cli: Cli) -> None:
    """--progress draws on stderr; the JSON on stdout stays parseable."""
    code, out, _ = _synthetic(cli, "--seed", "4", "--format", "json", "--progress")
    assert code == 0
    json.loads(out)
