"""Arbitration between journeys: a frequency cap with an ``arbitration`` slot holds the messages
it counts to the end of their slot, and there the highest journey priority goes first; the other
is dropped or deferred by the cap, with the reason (who went first) in the decision log."""

from __future__ import annotations

from typing import Any

import pytest

from journeydsl.simulate.policy_figures import PolicyTally
from journeydsl.yamlfile import InputError
from tests.runtime.policies.harness import ONE_SMS, compile_journey, ev, harness, local, policies
from tests.runtime.policies.harness import profile as make_profile
from tests.runtime.scenario import txn

#: A marketing SMS on every transaction.
NUDGE_SMS = """
journey nudge
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
  reentry always
send sms first_spend_nudge marketing fallback none
"""

ONE_A_DAY = """
frequency_caps:
  - name: one_marketing_a_day
    categories: [marketing]
    max: 1
    window: 24h
    arbitration: 5m
    action: %s
journeys:
  nudge: {priority: %d}
  one_sms: {priority: 10}
"""


def _run(nudge_priority: int, nudge_first: bool, action: str = "drop") -> tuple[list[str], Any]:
    h = harness(
        [compile_journey(ONE_SMS), compile_journey(NUDGE_SMS)],
        [make_profile("c1")],
        start=local("2026-01-05 00:00"),
        policy=policies(ONE_A_DAY % (action, nudge_priority)),
    )
    at = local("2026-01-05 10:00")
    activated = ev("c1", "card_activated", at, card_id="k1")
    spent = txn("c1", at, 100_000)
    h.advance(at)
    for e in [spent, activated] if nudge_first else [activated, spent]:
        h.engine.ingest(e)
    h.advance(local("2026-01-07 00:00"))
    sent = [f"{m.at.astimezone(at.tzinfo):%m-%d %H:%M} {m.journey}" for m in h.delivered("c1")]
    return sent, h


@pytest.mark.parametrize("nudge_first", [True, False])
def test_the_higher_priority_goes_whatever_the_order_of_arrival(nudge_first: bool) -> None:
    """Two journeys want the customer at the same instant under a one-a-day cap: the one with
    the higher priority is delivered at the end of the 5-minute slot and the other is dropped,
    whichever event was ingested first; swapping the priorities swaps the winner."""
    sent, h = _run(20, nudge_first)
    assert sent == ["01-05 10:05 nudge"]
    dropped = [d for d in h.decisions("c1") if d["decision"] == "suppressed"]
    assert [d["policy"] for d in dropped] == ["arbitration:one_marketing_a_day"]
    assert "went first: nudge (priority 20); this journey has priority 10" in dropped[0]["reason"]
    held = [d for d in h.decisions("c1") if d["decision"] == "held"]
    assert len(held) == 2
    assert {d["until"] for d in held} == {"2026-01-05T03:05:00+00:00"}
    assert _run(5, nudge_first)[0] == ["01-05 10:05 one_sms"]


def test_a_deferring_cap_sends_the_other_when_the_window_has_room() -> None:
    """With action defer, the lower priority waits until the day has room again: 24 hours
    after the winner."""
    sent, _ = _run(20, True, action="defer")
    assert sent == ["01-05 10:05 nudge", "01-06 10:05 one_sms"]


def test_an_arbitration_slot_must_divide_a_day() -> None:
    """A slot that does not divide a day (7m) is refused at load, at its line."""
    text = "frequency_caps:\n  - {max: 1, window: 24h, arbitration: 7m}\n"
    with pytest.raises(InputError, match=r"divides a day"):
        policies(text)


def test_simulate_figures_count_what_arbitration_dropped() -> None:
    """The per-policy figures (simulate --policies) show the losing journey's message as
    dropped by arbitration:NAME, and the winner's as delivered with no policy against it."""
    _, h = _run(20, False)
    records = list(h.state.instances_of("c1"))

    def tally(journey: str) -> PolicyTally:
        mine = [r for r in records if r["journey"] == journey]
        return PolicyTally.of(mine, h.engine.policy, journey)

    loser = tally("one_sms")
    assert loser.messages() == {
        "arbitration:one_marketing_a_day": {"deferred": 0, "dropped": 1, "rerouted": 0}
    }
    winner = tally("nudge")
    assert (winner.messages(), winner.allowed) == ({}, 1)
