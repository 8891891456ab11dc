"""Decision functions in simulations: the behaviour model's answers (a distribution per field, a
table keyed by profile attributes, error and timeout rates), drawn repeatably per call key."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeydsl import ir
from journeydsl.compiler import compile_file
from journeydsl.runtime.decide import DecisionCall
from journeydsl.runtime.protocols import Profile
from journeydsl.simulate.behaviour import DecisionModel
from journeydsl.simulate.decisions import DecisionFailedError, behaviour_functions

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AT = datetime(2026, 2, 2, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))


@cache
def _journey() -> ir.Journey:
    journey = compile_file(EXAMPLES / "limit_increase.journey").journey
    assert journey is not None
    return journey


def _call(customer: str, key: str) -> DecisionCall:
    return DecisionCall(
        "credit.preapproved_limit",
        {"customer": customer},
        customer,
        "limit_increase",
        key,
        1,
        timedelta(seconds=3),
        AT,
    )


def _function(model: dict[str, Any], profiles: list[Profile], seed: int = 1) -> Any:
    models = {"credit.preapproved_limit": DecisionModel.model_validate(model)}
    return behaviour_functions(models, [_journey()], profiles, seed)["credit.preapproved_limit"]


def _profiles() -> list[Profile]:
    return [
        Profile(f"c-{n}", {"segment": "affluent" if n % 4 == 0 else "mass"}, {}) for n in range(400)
    ]


def test_a_table_keyed_by_a_profile_attribute_answers_each_row() -> None:
    """`by: [segment]` picks the row of the customer's segment; `answer` answers the rest."""
    model = {
        "by": ["segment"],
        "table": {"affluent": {"approved": True, "amount": "80_000_000", "tier": "platinum"}},
        "answer": {"approved": False, "amount": 0, "tier": "standard"},
    }
    fn = _function(model, _profiles())
    rich, plain = fn(_call("c-0", "k0")), fn(_call("c-1", "k1"))
    assert rich == {"approved": True, "amount": Decimal(80_000_000), "tier": "platinum"}
    assert plain == {"approved": False, "amount": 0, "tier": "standard"}


def test_a_distribution_per_field_is_drawn_in_its_proportions_and_repeatably() -> None:
    """A weighted choice per field comes out near its weights; the same key draws the same
    answer (a replay asks the same question), another seed other answers."""
    model = {
        "answer": {"approved": {"choice": {"true": 3, "false": 1}}, "amount": 1, "tier": "gold"}
    }
    fn = _function(model, _profiles())
    answers = [fn(_call(f"c-{n}", f"key-{n}"))["approved"] for n in range(400)]
    assert 250 < Counter(answers)[True] < 350
    assert [fn(_call(f"c-{n}", f"key-{n}"))["approved"] for n in range(400)] == answers
    other = _function(model, _profiles(), seed=2)
    assert [other(_call(f"c-{n}", f"key-{n}"))["approved"] for n in range(400)] != answers


@pytest.mark.parametrize(
    ("errors", "timeouts", "raised"), [(1.0, 0.0, DecisionFailedError), (0.0, 1.0, TimeoutError)]
)
def test_error_and_timeout_rates_fail_the_attempts(
    errors: float, timeouts: float, raised: type[Exception]
) -> None:
    """`errors: 1` fails every attempt as an error, `timeouts: 1` as a timeout."""
    model = {
        "errors": errors,
        "timeouts": timeouts,
        "answer": {"approved": True, "amount": 1, "tier": "gold"},
    }
    fn = _function(model, _profiles())
    with pytest.raises(raised):
        fn(_call("c-1", "k"))


def test_rates_over_one_and_a_table_without_by_are_refused() -> None:
    """A model whose rates add up past 1, or a table with no attributes to key it, is refused."""
    with pytest.raises(ValueError, match="more than 1"):
        DecisionModel.model_validate({"errors": 0.6, "timeouts": 0.6})
    with pytest.raises(ValueError, match="needs 'by:'"):
        DecisionModel.model_validate({"table": {"mass": {"approved": True}}})


def test_a_synthetic_run_ends_instances_by_the_models_answers() -> None:
    """End to end: the example's behaviour file drives the decision: some are offered, some are
    not eligible, and retries recover from the simulated failures."""
    from journeydsl.simulate.behaviour import load_behaviour
    from journeydsl.simulate.driver import Simulation
    from journeydsl.simulate.population_general import population_for

    model = load_behaviour(EXAMPLES / "behaviour" / "limit_increase.yaml").model
    population = population_for(model, 200, 7)
    journeys = [_journey()]
    sim = Simulation(
        journeys,
        population.profiles,
        start=model.start,
        channels=population.channels(),
        decisions=behaviour_functions(model.decisions, journeys, population.profiles, 7),
    )
    population.attach(sim)
    result = sim.run()
    outcomes = Counter(i["outcome"] for i in result.instances_json("limit_increase"))
    assert outcomes["offered"] > 0
    assert outcomes["not_eligible"] > 0
    assert sum(outcomes.values()) == 200
