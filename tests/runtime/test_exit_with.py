"""`exit with EXPR`: the instance ends with the outcome the expression gives when the step runs,
one of the declared outcomes (the compiler lists them as the graph's `choices`)."""

from __future__ import annotations

import pytest

from tests.runtime.scenario import ev, example, local, profile, run, txn

ACTIVATED = local("2026-03-02 09:00")
HORIZON = local("2026-04-15 00:00")


@pytest.mark.parametrize(
    ("spend", "outcome", "ended"),
    [
        (16_000_000, "tier2", "2026-03-16 09:00"),
        (6_000_000, "tier1", "2026-03-30 09:00"),
        (0, "none", "2026-03-30 09:00"),
    ],
)
def test_the_outcome_is_the_value_of_the_expression(spend: int, outcome: str, ended: str) -> None:
    """A spend on day 10 ends in the tier the expression picks: tier2 breaks out at the week-2
    check, the others end after four weeks."""
    timeline = [ev("c1", "card_activated", ACTIVATED, card_id="k1")]
    if spend:
        timeline.append(txn("c1", local("2026-03-12 12:00"), spend, "Nguyen Kim", "shopping"))
    r = run(
        [example("spend_tiers")],
        [profile("c1", app=True)],
        timeline,
        start=ACTIVATED,
        horizon=HORIZON,
    )
    assert r.ended("c1") == [(outcome, ended)]


def test_the_graph_lists_the_choices_in_written_order() -> None:
    """The exit node's JSON keeps the expression as its outcome and lists its outcomes."""
    node = example("spend_tiers").nodes["exit"].to_json()
    assert node["choices"] == ["tier2", "tier1", "none"]
    assert node["outcome"].startswith("if spent >= 15_000_000 VND then")
