"""`break` and `continue` in a `repeat`: a break leaves the innermost repeat at once and the
path goes on after it; a continue skips the rest of the round; the budget counts a round that a
break ends only up to the break."""

from __future__ import annotations

from journeydsl.budget import message_budget
from tests.runtime.scenario import compile_journey, ev, example, local, profile, run

ISSUED = local("2026-03-02 09:00")
HORIZON = local("2026-03-25 00:00")


def _issued() -> dict[str, object]:
    return ev("c1", "card_issued", ISSUED, card_id="k1", product="gold")


def test_a_break_leaves_the_repeat_and_the_path_goes_on_after_it() -> None:
    """An activation on day 4 breaks out after one nudge: no second nudge, outcome activated."""
    r = run(
        [example("activation_nudges")],
        [profile("c1", app=True)],
        [_issued(), ev("c1", "card_activated", local("2026-03-06 10:00"), card_id="k1")],
        start=ISSUED,
        horizon=HORIZON,
    )
    assert [a[:4] for a in r.acts("c1")] == [
        ("2026-03-05 09:00", "send", "push", "activation_reminder")
    ]
    assert r.ended("c1") == [("activated", "2026-03-06 10:00")]


NESTED = """
journey nested
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
repeat as outer max 2 {
  wait 1d
  repeat as inner max 3 {
    wait 1h
    if inner == 2 {
      break
    }
    send push activation_reminder transactional { round: outer * 10 + inner }
  }
  if outer == 1 {
    continue
  }
  send zns activation_reminder transactional { round: outer }
}
exit done
"""


def test_break_and_continue_act_on_the_innermost_repeat_only() -> None:
    """The inner break ends the inner repeat at its second round, not the outer one; the outer
    continue skips its round-1 zns."""
    r = run(
        [compile_journey(NESTED)],
        [profile("c1", app=True)],
        [_issued()],
        start=ISSUED,
        horizon=HORIZON,
    )
    sent = [(a[0], a[2], a[4]["round"]) for a in r.acts("c1")]
    assert sent == [
        ("2026-03-03 10:00", "push", 11),
        ("2026-03-04 12:00", "push", 21),
        ("2026-03-04 13:00", "zns", 2),
    ]
    assert r.ended("c1") == [("done", "2026-03-04 13:00")]


AFTER = """
journey after
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
repeat as round max 5 {
  wait 1d
  if round == 2 {
    break
  }
}
send push activation_reminder transactional { round: 0 }
exit done
"""


def test_the_budget_does_not_multiply_what_follows_a_break() -> None:
    """The send after a repeat that a break can end counts once, not once per round."""
    assert message_budget(compile_journey(AFTER)) == {"push": 1, "total": 1}
