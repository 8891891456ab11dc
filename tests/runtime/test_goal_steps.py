"""Goals that run steps (`goal NAME when … then { … }`): reaching the goal runs its steps at that
instant, in the same commit as the instance's end, then the instance ends with the goal's
outcome; the steps cannot wait; the budget counts the worst goal's sends."""

from __future__ import annotations

from journeydsl.budget import message_budget
from journeydsl.compiler import compile_source
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, example, local, profile, run

ACTIVATED = local("2026-03-02 09:00")
HORIZON = local("2026-04-15 00:00")


def test_the_goal_runs_its_steps_then_ends_with_its_outcome() -> None:
    """A cancel request on day 9 opens the retention ticket at that instant; no digest follows."""
    r = run(
        [example("spend_tiers")],
        [profile("c1", app=True)],
        [
            ev("c1", "card_activated", ACTIVATED, card_id="k1"),
            ev("c1", "cancel_request", local("2026-03-11 16:00"), card_id="k1", reason="other"),
        ],
        start=ACTIVATED,
        horizon=HORIZON,
    )
    acts = [a[:3] for a in r.acts("c1")]
    assert acts == [
        ("2026-03-09 09:00", "send", "email"),
        ("2026-03-11 16:00", "ticket", "retention"),
    ]
    assert r.ended("c1") == [("cancelled", "2026-03-11 16:00")]


SENDS = """
journey churn
uses events "events.yaml"
uses templates "templates.yaml"
outcomes cancelled, kept
entry on card_activated
goal cancelled when cancel_request then {
  send email retention_offer { offer: "fee_waiver" }
  send zns retention_offer { offer: "fee_waiver" }
}
wait 30d
send push wallet_binding_reminder
exit kept
"""


def test_the_budget_adds_the_worst_goal_to_the_worst_path() -> None:
    """The reminder and the goal's two offers can all reach one customer: 3 in total."""
    budget = message_budget(compile_journey(SENDS))
    assert budget["total"] == 3
    assert budget["push"] == 1


def _codes(text: str) -> list[tuple[str, int, int]]:
    result = compile_source(text, str(EXAMPLES / "inline.journey"))
    return [(d.code, d.span.line, d.span.column) for d in result.diagnostics]


def test_a_goal_step_cannot_wait_or_break() -> None:
    """A wait in a goal's steps is JD105 (they run at once); so is a `break` (no repeat)."""
    codes = _codes(
        """
journey churn
uses events "events.yaml"
uses templates "templates.yaml"
outcomes cancelled
entry on card_activated
goal cancelled when cancel_request then {
  wait 1d
  break
}
wait 30d
exit cancelled
"""
    )
    assert ("JD105", 8, 3) in codes
    assert ("JD105", 9, 3) in codes


def test_a_block_without_then_says_where_the_steps_go() -> None:
    """`goal … when EVENT { … }` is a syntax error whose hint shows the `then`."""
    result = compile_source(
        SENDS.replace("when cancel_request then {", "when cancel_request {"),
        str(EXAMPLES / "inline.journey"),
    )
    [d] = result.diagnostics
    assert (d.code, d.span.line, d.span.column) == ("JD101", 7, 36)
    assert "then {" in (d.hint or "")
