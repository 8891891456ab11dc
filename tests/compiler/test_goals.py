"""A goal's steps run at the instant the goal is reached: besides wait steps, a decision that
may retry and a ticket with exits (both wait in place) are refused in them."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey goal_waits
uses events "events.yaml"
uses templates "templates.yaml"
outcomes churned, kept
entry on card_approved
goal churned when cancel_request then {{
  {steps}
}}
wait 30d
exit kept
"""


@pytest.mark.parametrize(
    ("steps", "why"),
    [
        (
            "decide ok = kyc.is_current(customer: customer_id) retry 3 every 1h",
            "a `decide` that may retry waits between its attempts",
        ),
        (
            "ticket retention accepted { tag kept } not accepted { tag full }",
            "a ticket with `accepted` / `not accepted` exits waits for its queue's decision",
        ),
    ],
)
def test_a_goal_step_that_waits_in_place_is_refused(steps: str, why: str) -> None:
    """JD105 at the step, saying why it waits."""
    result = compile_source(JOURNEY.format(steps=steps), "g.journey", base_dir=EXAMPLES)
    ((code, message),) = [(d.code, d.message) for d in result.diagnostics]
    assert code == "JD105"
    assert message.startswith("a goal's steps run at the instant the goal is reached")
    assert why in message


def test_a_goal_step_may_ask_a_decision_once() -> None:
    """`retry 0` asks at the instant: accepted."""
    steps = "decide ok = kyc.is_current(customer: customer_id) retry 0"
    result = compile_source(JOURNEY.format(steps=steps), "g.journey", base_dir=EXAMPLES)
    assert [d.code for d in result.diagnostics] == []
