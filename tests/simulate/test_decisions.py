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


# --------------------------------------------------------------------------- the file's checks

#: The example's credit decision engine, to be spoilt one mistake at a time.
BEHAVIOUR = (EXAMPLES / "behaviour" / "limit_increase.yaml").read_text(encoding="utf-8")


def _found(tmp_path: Path, old: str, new: str, text: str = BEHAVIOUR) -> list[str]:
    """What the decisions check says of the example behaviour file with ``old`` made ``new``."""
    from journeydsl.simulate.behaviour import load_behaviour
    from journeydsl.simulate.decisions_check import check_decisions

    assert old in text
    path = tmp_path / "b.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    found = check_decisions(load_behaviour(path), [_journey()])
    return [str(f).replace(f"{path}:", "b.yaml:") for f in found]


def test_the_example_behaviour_file_is_clean(tmp_path: Path) -> None:
    """The shipped limit_increase behaviour file gets no error and no warning."""
    assert _found(tmp_path, "", "") == []


def test_a_misspelt_function_is_an_error_and_the_called_one_is_unanswered(tmp_path: Path) -> None:
    """A function no journey calls is an error at its name; the function the journey does call
    is reported unanswered."""
    found = _found(tmp_path, "  credit.preapproved_limit:", "  credit.preaproved_limit:")
    assert found == [
        "b.yaml:26:1: warning: limit_increase.ask_limit calls decision function "
        "'credit.preapproved_limit', which this file does not answer: every call fails as an "
        "error (describe it under 'decisions: credit.preapproved_limit:')",
        "b.yaml:27:3: error: no journey of this run calls decision function "
        "'credit.preaproved_limit' (they call credit.preapproved_limit): its answers would never "
        "be used — did you mean 'credit.preapproved_limit'?",
    ]


def test_by_an_attribute_the_profiles_do_not_draw_is_an_error(tmp_path: Path) -> None:
    """`by: [segmnt]` names no attribute the file draws: an error at the name, with the close
    one."""
    found = _found(tmp_path, "by: [segment]", "by: [segmnt]")
    assert found == [
        "b.yaml:30:10: error: no customer of this file has an attribute 'segmnt' (its profiles "
        "draw credit_limit, segment): no row of the table would ever match — did you mean "
        "'segment'?"
    ]


def test_a_row_for_a_value_no_customer_has_is_an_error(tmp_path: Path) -> None:
    """A row `massive:` where the file draws mass and affluent is an error at the row; the
    customers left without a row (mass) are a warning, since nothing answers them."""
    found = _found(tmp_path, "      mass:\n", "      massive:\n")
    assert found == [
        "b.yaml:31:5: warning: customers with segment 'mass' match no row, and "
        "'credit.preapproved_limit' has no 'answer:' for the rest: their calls fail as errors",
        "b.yaml:36:7: error: no customer has segment 'massive' (this file draws 'affluent', "
        "'mass'): the row would never answer — did you mean 'mass'?",
    ]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            "tier: platinum",
            "tier: diamond",
            "b.yaml:35:15: error: field 'tier' of the answer of credit.preapproved_limit is one "
            "of standard, gold, platinum; 'diamond' is not",
        ),
        (
            "{choice: {standard: 0.7, gold: 0.3}}",
            "{choice: {standard: 0.7, glod: 0.3}}",
            "b.yaml:39:40: error: field 'tier' of the answer of credit.preapproved_limit is one "
            "of standard, gold, platinum; 'glod' is not — did you mean 'gold'?",
        ),
        (
            '{choice: {"true": 0.8, "false": 0.2}}',
            '{choice: {"yes": 0.8, "false": 0.2}}',
            "b.yaml:33:29: error: field 'approved' of the answer of credit.preapproved_limit is "
            'true or false (as a choice key "true" or "false"); \'yes\' is not',
        ),
        (
            '"80_000_000": 0.5',
            '"80_000_000.5": 0.5',
            "b.yaml:34:27: error: field 'amount' of the answer of credit.preapproved_limit is an "
            "amount in VND, which has no decimal places; '80_000_000.5' has more",
        ),
        (
            '"80_000_000": 0.5',
            '"abc": 0.5',
            "b.yaml:34:27: error: field 'amount' of the answer of credit.preapproved_limit is an "
            "amount in VND (e.g. \"20_000_000\"); 'abc' is not",
        ),
        (
            "        tier: platinum\n",
            "",
            "b.yaml:32:7: error: the answer of credit.preapproved_limit lacks the field 'tier': "
            "the engine refuses an answer without every field of the record",
        ),
        (
            "        tier: platinum\n",
            "        tier: platinum\n        tire: gold\n",
            "b.yaml:36:9: error: the answer of credit.preapproved_limit has no field 'tire' (it "
            "has approved, amount, tier) — did you mean 'tier'?",
        ),
    ],
    ids=["enum", "enum-choice", "bool", "places", "amount", "missing-field", "unknown-field"],
)
def test_an_answer_the_declared_type_refuses_is_an_error_at_the_value(
    tmp_path: Path, old: str, new: str, expected: str
) -> None:
    """Each value an answer may draw is checked against the function's declared answer type,
    at the value (a choice's key) that does not fit."""
    assert _found(tmp_path, old, new) == [expected]


def test_a_function_that_answers_nothing_is_an_error_unless_every_call_fails(
    tmp_path: Path,
) -> None:
    """Neither `answer:` nor a table, with calls that do not all fail, is an error; `errors: 1`
    alone is a function that always fails, and fine."""
    head = BEHAVIOUR[: BEHAVIOUR.index("    by: [segment]")]
    assert _found(tmp_path, "", "", head) == [
        "b.yaml:27:3: error: 'credit.preapproved_limit' gives no answer (neither 'answer:' nor "
        "'by:' with a 'table:'), yet not every call fails: give the answer, or 'errors: 1' for "
        "a function that always fails"
    ]
    assert _found(tmp_path, "errors: 0.02\n    timeouts: 0.01", "errors: 1", head) == []


def test_simulate_refuses_a_file_whose_decisions_are_wrong(tmp_path: Path, cli: Any) -> None:
    """`journeydsl simulate` prints the error at its line and exits 1 before simulating."""
    path = tmp_path / "b.yaml"
    path.write_text(BEHAVIOUR.replace("tier: platinum", "tier: diamond"), encoding="utf-8")
    journey = str(EXAMPLES / "limit_increase.journey")
    code, out, err = cli("simulate", journey, "--population", "20", "--behaviour", str(path))
    assert code == 1
    assert out == ""
    assert f"{path}:35:15: error: field 'tier'" in err


def test_simulate_warns_of_a_called_function_the_file_does_not_answer(cli: Any) -> None:
    """A behaviour file without `decisions:` runs a journey that calls one, with a warning
    saying every call fails."""
    journey = str(EXAMPLES / "limit_increase.journey")
    behaviour = str(EXAMPLES / "behaviour" / "onboarding.yaml")
    code, out, err = cli("simulate", journey, "--population", "5", "--behaviour", behaviour)
    assert code == 0
    assert "no_answer" in out
    assert (
        "warning: limit_increase.ask_limit calls decision function 'credit.preapproved_limit', "
        "which this file does not answer: every call fails as an error" in err
    )


def test_decisions_for_journeys_that_call_none_are_only_a_warning(tmp_path: Path) -> None:
    """A file shared with a journey that has no `decide` step warns that 'decisions:' is not
    used, and is not refused."""
    from journeydsl.simulate.behaviour import load_behaviour
    from journeydsl.simulate.decisions_check import check_decisions

    onboarding = compile_file(EXAMPLES / "onboarding_new_cardholder.journey").journey
    assert onboarding is not None
    found = check_decisions(
        load_behaviour(EXAMPLES / "behaviour" / "limit_increase.yaml"), [onboarding]
    )
    assert [(f.line, f.column, f.severity) for f in found] == [(26, 1, "warning")]
    assert "no journey of this run calls a decision function" in found[0].message
