"""Waits on conditions that time alone turns true: sliding windows (`in last 7d`) are re-checked at
the instant an event leaves them, not only when an event arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeydsl.compiler import compile_source
from journeydsl.runtime.protocols import Profile
from journeydsl.simulate.driver import Simulation, SimulationResult
from journeydsl.simulate.report import render_explain
from tests.simulate.conftest import EXAMPLES

QUIET_WEEK = """\
journey quiet_week version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes went_quiet, kept_spending
entry on transaction
wait for not has(transaction in last 7d) within 30d {
  exit went_quiet
} timeout {
  exit kept_spending
}
"""


def _run(*spends: str) -> dict[str, Any]:
    (instance,) = _simulate(QUIET_WEEK, *spends).instances_json("quiet_week")
    return instance


def _simulate(source: str, *spends: str) -> SimulationResult:
    """``source`` simulated for c-1, who spends at each of ``spends``."""
    result = compile_source(source, "quiet_week.journey", base_dir=EXAMPLES)
    assert result.journey is not None
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    consent = {"sms": True, "push": True}
    sim = Simulation(
        [result.journey], [Profile("c-1", {"has_digital_app": True}, consent)], start=start
    )
    for at in spends:
        sim.schedule(
            datetime.fromisoformat(at),
            {
                "customer_id": "c-1",
                "type": "transaction",
                "at": at,
                "data": {"amount": 100000, "currency": "VND", "merchant": "M", "category": "fuel"},
            },
        )
    return sim.run()


def test_a_condition_that_becomes_true_with_time_wakes_its_wait() -> None:
    """A week of silence after one transaction ends the wait went_quiet exactly 7 days later."""
    instance = _run("2026-01-05T10:00:00+07:00")
    assert instance["outcome"] == "went_quiet"
    assert instance["ended_at"] == "2026-01-12T10:00:00+07:00"


def test_a_later_event_moves_the_recheck() -> None:
    """A second transaction inside the week pushes the wake to 7 days after that one."""
    instance = _run("2026-01-05T10:00:00+07:00", "2026-01-09T08:30:00+07:00")
    assert instance["outcome"] == "went_quiet"
    assert instance["ended_at"] == "2026-01-16T08:30:00+07:00"


def test_a_condition_that_never_holds_times_out() -> None:
    """Spending every 5 days keeps the window busy, so the 30-day timeout decides."""
    spends = [f"2026-01-{d:02d}T10:00:00+07:00" for d in (5, 10, 15, 20, 25, 30)]
    spends += ["2026-02-04T10:00:00+07:00"]
    instance = _run(*spends)
    assert instance["outcome"] == "kept_spending"
    assert instance["ended_at"] == "2026-02-04T10:00:00+07:00"


def test_explain_says_when_a_waited_for_condition_became_true() -> None:
    """A condition that turned true later, at its re-check, is explained as having become true
    then, by time; one true when the wait began says so: neither is "already true"."""
    text = render_explain(_simulate(QUIET_WEEK, "2026-01-05T10:00:00+07:00"), "c-1")
    assert (
        "condition not has(transaction in last 7d) became true at 2026-01-12 10:00 +07:00 as "
        "time passed: go on"
    ) in text
    assert "already" not in text


def test_explain_of_a_condition_true_when_its_wait_began() -> None:
    """A waited-for condition already true when the wait is reached goes on at once, and the
    listing says it was true when the wait began."""
    source = QUIET_WEEK.replace(
        "wait for not has(transaction in last 7d)", "wait for has(transaction in last 7d)"
    )
    text = render_explain(_simulate(source, "2026-01-05T10:00:00+07:00"), "c-1")
    assert "condition has(transaction in last 7d) is true when the wait begins: go on" in text, text


#: A push once an SMS that quiet hours hold overnight has reached the customer.
AFTER_THE_HELD_SMS = """\
journey after_the_held_sms version 1
uses events "events.yaml"
uses templates "templates.yaml"
quiet hours 21:00 to 08:00 for sms
entry on transaction
send sms install_digital_app marketing fallback none
wait for sent(install_digital_app in last 1d) >= 1 within 3d {
  send push first_spend_nudge marketing fallback none
}
"""


def test_explain_names_the_delivery_that_made_a_condition_true() -> None:
    """A wait on sent(…) that the held SMS's delivery at 08:00 made true is explained as
    having become true then, by that delivery."""
    text = render_explain(_simulate(AFTER_THE_HELD_SMS, "2026-01-05T22:00:00+07:00"), "c-1")
    assert (
        "condition sent(install_digital_app in last 1d) >= 1 became true at 2026-01-06 08:00 "
        "+07:00 by the delivery of install_digital_app on sms: go on"
    ) in text, text


#: A parallel block whose first branch waits on a variable the second sets on a transaction.
BRANCHES = """\
journey branches version 1
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
set spent = false
parallel all {
  branch {
    wait for spent within 10d
  }
  branch {
    wait for transaction within 10d {
      set spent = true
    }
  }
}
"""


def test_explain_names_the_event_another_branch_moved_on() -> None:
    """A branch's condition made true by another branch that moved on a transaction is
    explained as having become true then, by that event."""
    result = compile_source(BRANCHES, "branches.journey", base_dir=EXAMPLES)
    assert result.journey is not None
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    sim = Simulation([result.journey], [Profile("c-1")], start=start)
    for at, kind, data in [
        ("2026-01-05T10:00:00+07:00", "card_activated", {"card_id": "k1"}),
        (
            "2026-01-07T10:00:00+07:00",
            "transaction",
            {"amount": 100000, "currency": "VND", "merchant": "M", "category": "fuel"},
        ),
    ]:
        sim.schedule(
            datetime.fromisoformat(at), {"customer_id": "c-1", "type": kind, "at": at, "data": data}
        )
    text = render_explain(sim.run(), "c-1")
    assert (
        "[branch 1] condition spent became true at 2026-01-07 10:00 +07:00 by transaction, after "
        "another branch of the block moved on it: go on"
    ) in text, text
