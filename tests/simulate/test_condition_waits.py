"""Waits on conditions that time alone turns true: sliding windows (`in last 7d`) are re-checked at
the instant an event leaves them, not only when an event arrives."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeydsl.compiler import compile_source
from journeydsl.runtime.protocols import Profile
from journeydsl.simulate.driver import Simulation
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
    result = compile_source(QUIET_WEEK, "quiet_week.journey", base_dir=EXAMPLES)
    assert result.journey is not None
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    sim = Simulation([result.journey], [Profile("c-1")], start=start)
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
    (instance,) = sim.run().instances_json("quiet_week")
    return instance


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
