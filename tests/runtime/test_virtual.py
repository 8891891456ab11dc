"""The virtual clock of tests and simulations: it takes aware times only."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from journeydsl.testing import SteppableClock


def test_setting_the_clock_to_a_naive_time_is_a_clear_error() -> None:
    """SteppableClock.set with a naive datetime raises the ValueError its constructor raises,
    not a TypeError comparing naive and aware times; the clock stays where it was."""
    clock = SteppableClock(datetime(2026, 1, 5, 9, 0, tzinfo=UTC))
    with pytest.raises(ValueError, match=r"needs an aware datetime, not 2026-01-06T09:00:00 \("):
        clock.set(datetime(2026, 1, 6, 9, 0))
    assert clock.now() == datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
