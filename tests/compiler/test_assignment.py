"""JD208 for what goals read: a goal is reached at any wait, so the variables its condition and
its steps (`goal … then { … }`) read must be set before every step the instance can wait at."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

GOAL_STEPS = """journey goal_steps
uses events "events.yaml"
uses templates "templates.yaml"
outcomes cancelled, kept
entry on card_approved
goal cancelled when cancel_request then {{
  send email retention_offer {{ offer: offer }}
}}
{before}
wait 5d
set offer = "fee_waiver"
wait 30d
exit kept
"""


def _jd208(source: str) -> list[tuple[int, int, str, str | None]]:
    result = compile_source(source, "goal_steps.journey", base_dir=EXAMPLES)
    return [
        (d.span.line, d.span.column, d.message, d.hint)
        for d in result.diagnostics
        if d.code == "JD208"
    ]


def test_a_goal_step_reading_a_variable_set_after_the_first_wait_is_refused() -> None:
    """The goal can be reached during the first wait, before `offer` is set: JD208 at the read,
    where the journey used to be accepted and then fail with KeyError when the goal fired."""
    ((line, column, message, hint),) = _jd208(GOAL_STEPS.format(before=""))
    assert (line, column, message) == (7, 39, "variable 'offer' may be read before it is set")
    assert hint is not None
    assert "a goal's steps run when the goal is reached, at any wait" in hint


@pytest.mark.parametrize(
    "before",
    ['set offer = "welcome"', 'if trigger.credit_limit > 0 VND { set offer = "a" } else '
     '{ set offer = "b" }'],
)  # fmt: skip
def test_a_goal_step_reading_a_variable_set_before_every_wait_is_accepted(before: str) -> None:
    """A variable set on every path before the first wait (so at every wait) may be read by a
    goal's steps."""
    assert _jd208(GOAL_STEPS.format(before=before)) == []
