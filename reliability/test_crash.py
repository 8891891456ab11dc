"""The crash campaign at CI size, and its negative control."""

from __future__ import annotations

import random

import pytest

from reliability import crash
from reliability._common import stream

pytestmark = pytest.mark.campaign


def test_sigkill_at_seeded_points_loses_and_duplicates_nothing() -> None:
    """`journeydsl run` killed at ten seeded points of every kind and restarted each time ends
    with the uninterrupted run's actions, instance states and outbox: nothing lost or doubled."""
    figures = crash.run(size=40, seed=7, kills=10)
    assert figures["kills"] >= 8
    assert {k: figures[k] for k in crash.MUST_BE_ZERO} == dict.fromkeys(crash.MUST_BE_ZERO, 0)
    assert figures["torn_lines_left"] == figures["torn_lines_dropped"]


def test_a_forgetful_channel_is_caught_as_duplicates() -> None:
    """The campaign can fail: when the actions file forgets its keys on restart, the kills
    between a write and its acknowledgement show up as duplicates."""
    figures = crash.run(size=20, seed=11, kills=4, sites=("write",), forgetful=True)
    assert figures["kills"] >= 3
    assert figures["duplicates"] >= 1


def test_the_kill_plan_is_a_function_of_the_seed() -> None:
    """The same seed draws the same kill points, in stream order."""
    events, _ = stream(10, 1)
    times = sorted(e["at"] for e in events)
    first = crash._plan(random.Random(5), 20, times, times)
    assert first == crash._plan(random.Random(5), 20, times, times)
    timed = [p["after"] for p in first if "after" in p]
    assert timed == sorted(timed)
