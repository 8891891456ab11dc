"""Engine behaviour found wrong while simulating, pinned as strict xfails until the engine is
fixed (journeydsl/runtime is not ours to change). Each test is a minimal reproduction."""

from __future__ import annotations

from datetime import datetime

import pytest

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


@pytest.mark.xfail(
    strict=True,
    reason="engine bug: a `wait for CONDITION` is re-evaluated only when an event arrives, so a "
    "condition that becomes true as time passes (a sliding window such as `in last 7d`) never "
    "wakes the wait, and the timeout branch runs instead",
)
def test_a_condition_that_becomes_true_with_time_wakes_its_wait() -> None:
    """A week of silence after one transaction ends the wait went_quiet, not at the timeout."""
    result = compile_source(QUIET_WEEK, "quiet_week.journey", base_dir=EXAMPLES)
    assert result.journey is not None
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    sim = Simulation([result.journey], [Profile("c-1")], start=start)
    sim.schedule(
        datetime.fromisoformat("2026-01-05T10:00:00+07:00"),
        {
            "customer_id": "c-1",
            "type": "transaction",
            "at": "2026-01-05T10:00:00+07:00",
            "data": {"amount": 100000, "currency": "VND", "merchant": "M", "category": "dining"},
        },
    )
    (instance,) = sim.run().instances_json("quiet_week")
    assert instance["outcome"] == "went_quiet"
    assert instance["ended_at"] == "2026-01-12T10:00:00+07:00"
