"""The worker campaign at CI size: two `journeydsl worker` processes on one PostgreSQL database,
killed and stopped past their leases, against the SQLite reference."""

from __future__ import annotations

import os

import pytest

from reliability import workers
from tests.pgserver import find_binaries

pytestmark = [pytest.mark.campaign, pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _server() -> None:
    """A PostgreSQL server is needed: JOURNEYDSL_TEST_DSN's, or Debian's binaries to start one
    (skips otherwise, unless JOURNEYDSL_REQUIRE_POSTGRES=1, as the other PostgreSQL tests)."""
    if os.environ.get("JOURNEYDSL_TEST_DSN") or find_binaries() is not None:
        return
    why = "JOURNEYDSL_TEST_DSN is not set and no PostgreSQL binaries are installed"
    if os.environ.get("JOURNEYDSL_REQUIRE_POSTGRES") == "1":
        pytest.fail(f"PostgreSQL tests required, but {why}")
    pytest.skip(f"PostgreSQL tests: {why}")


def _must_be_zero(figures: dict[str, object]) -> dict[str, object]:
    return {k: figures[k] for k in workers.MUST_BE_ZERO}


def test_sigstops_past_the_lease_are_fenced_and_lose_and_duplicate_nothing() -> None:
    """Workers SIGSTOPped for about twice their lease lose their buckets to the other; their
    stale commits are fenced (counted, more than none), and the actions file and the instance
    states are the SQLite run's: no duplicate, none lost, every instance finished."""
    figures = workers.run(size=150, seed=7, workers=2, faults=12, only="stop", buckets=4, gap=1.0)
    assert figures["stops"] >= 6
    assert _must_be_zero(figures) == dict.fromkeys(workers.MUST_BE_ZERO, 0)
    assert figures["fencing_rejections"] > 0
    assert figures["leases_lost"] > 0


def test_sigkills_and_sigstops_lose_and_duplicate_nothing() -> None:
    """Workers SIGKILLed (and replaced) or SIGSTOPped at random still deliver, together,
    exactly the SQLite run's actions, and leave its instance states."""
    figures = workers.run(size=150, seed=11, workers=2, faults=10, buckets=4, gap=1.0)
    assert figures["kills"] + figures["stops"] >= 4
    assert figures["processes"] == 2 + figures["kills"]
    assert _must_be_zero(figures) == dict.fromkeys(workers.MUST_BE_ZERO, 0)
