"""The live-upgrade campaign at CI size, and its oracle."""

from __future__ import annotations

from datetime import datetime

import pytest

from journeydsl.runtime.migrate import waiting_steps
from journeydsl.runtime.protocols import Message
from reliability import upgrade
from reliability._common import ICT, ONBOARDING, compiled

pytestmark = pytest.mark.campaign


def test_deploying_v2_with_instances_in_flight_loses_and_doubles_nothing() -> None:
    """With instances in flight at every waiting step, deploying version 2 loses no instance and
    sends no message twice, under both policies: finishing on version 1 changes nothing for
    in-flight instances while new entrants get version 2, and migrating moves every waiting
    instance, whose later steps all run on version 2."""
    figures = upgrade.run(size=250, seed=5)
    in_flight = figures["in_flight_at_deploy"]
    assert in_flight >= 225
    assert figures["lost_or_double_messaged"] == 0
    finish, moved = figures["finish_on_v1"], figures["migrate"]
    assert finish["differing_from_control"] == 0
    assert finish["in_flight_finished_on_v1"] == in_flight
    assert finish["new_entrants"] == finish["new_entrants_on_v2"] > 0
    assert moved["migrated"] == in_flight
    assert set(moved["migrated_by_step"]) == set(waiting_steps(compiled(ONBOARDING)))
    assert moved["v1_steps_after_migration"] == 0
    assert sum(moved["outcomes"].values()) == in_flight


def _message(key: str, template: str, params: dict[str, object]) -> Message:
    at = datetime(2026, 1, 5, tzinfo=ICT)
    return Message(key, "c1", "email", template, "marketing", params, "j", 1, "n", at)


def test_the_double_message_oracle_sees_a_repeat_under_a_new_key() -> None:
    """The campaign can fail: a message sent twice for one instance is caught whether the key
    repeats or a restarted instance sends the same template and params under a new key."""
    a = _message("j:1:j/c1/1:welcome:0:email", "welcome", {"card_id": "k"})
    again = _message("j:2:j/c1/1:welcome:0:email", "welcome", {"card_id": "k"})
    other = _message("j:1:j/c1/1:remind:0:email", "remind", {"round": 1})
    assert upgrade._double_messaged([a, other]) == set()
    assert upgrade._double_messaged([a, again]) == {"j/c1/1"}
    assert upgrade._double_messaged([a, a]) == {"j/c1/1"}
