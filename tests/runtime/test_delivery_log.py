"""What a delivery gives up for good is noted in its instance's decision log, with or without
contact policies, so that a live run's state says what a simulation's actions say
(`journeydsl explain --db`)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.ast import CHANNELS
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Profile
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)
from tests.runtime.scenario import Event, Run, ev, example, local, profile, run, txn

START = local("2026-01-05 09:00")


def _timeline(cid: str) -> list[Event]:
    """A customer who activates the next day, spends 400,000 VND on the 12th day and 700,000
    more on the 20th: the onboarding journey grants the fee waiver then."""
    return [
        ev(cid, "card_issued", START, card_id="k", product="gold"),
        ev(cid, "card_activated", local("2026-01-06 10:00"), card_id="k"),
        txn(cid, local("2026-01-17 12:00"), 400_000),
        txn(cid, local("2026-01-25 19:00"), 700_000),
    ]


def _onboarding(customer: Profile, store: SQLiteStore | None = None) -> Run:
    onboarding = [example("onboarding_new_cardholder")]
    return run(onboarding, [customer], _timeline(customer.customer_id), start=START, store=store)


def _refuse(
    idempotency_key: str, customer_id: str, params: Mapping[str, Any], at: datetime
) -> DeliveryResult:
    """An action handler whose system refuses every action."""
    return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "the card system said no")


def _given_up(r: Run, customer_id: str) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in e.items() if k != "at"}
        for inst in r.engine.explain(customer_id)
        for e in inst["log"]
        if e["what"] == "suppressed"
    ]


@pytest.mark.parametrize("on", ["memory", "sqlite"])
def test_a_message_suppressed_without_policies_is_in_the_decision_log(
    tmp_path: Path, on: str
) -> None:
    """Without contact policies, each message no channel may carry (no consent) is noted as
    `suppressed`, with its template, channel and the reason its action gives, in the same
    write as its outbox entry (it is there after the store is opened again)."""
    email_only = profile("t-3", consent={"email": True, "sms": False, "zns": False, "push": False})
    if on == "sqlite":
        with SQLiteStore(tmp_path / "s.sqlite") as store:
            r = _onboarding(email_only, store)
        with SQLiteStore(tmp_path / "s.sqlite") as store:
            logs = [e for i in store.instances_of("t-3") for e in i["log"]]
        noted = [{k: v for k, v in e.items() if k != "at"} for e in logs]
        noted = [e for e in noted if e["what"] == "suppressed"]
    else:
        r = _onboarding(email_only)
        noted = _given_up(r, "t-3")
    suppressed = [a for a in r.actions if a["kind"] == "suppressed"]
    assert len(suppressed) == 3  # the app message, the first-spend nudge, the fee-waiver offer
    assert [(e["node"], e["template"], e["channel"], e["reason"]) for e in noted] == [
        (a["node"], a["template"], a["channel"], a["reason"]) for a in suppressed
    ]
    assert noted[0] == {
        "node": "zns_install_digital_app",
        "what": "suppressed",
        "template": "install_digital_app",
        "channel": "zns",
        "reason": "no zns consent; no sms consent",
        "message": "onboarding_new_cardholder:1:onboarding_new_cardholder/t-3/1:"
        "zns_install_digital_app:0",
    }


def test_a_reward_its_handler_refused_is_in_the_decision_log() -> None:
    """A reward its handler refuses is noted as `suppressed` with the reason the host's
    on_action is given; the instance's steps go on as before."""
    customer = profile("c-1", app=True)
    channels = {c: RecordingChannel(c) for c in CHANNELS}
    clock, tickets = SteppableClock(START), RecordingTickets()
    stores = (MemoryEventStore(), MemoryProfileStore([customer]), MemoryStateStore())
    actions: list[dict[str, Any]] = []
    engine = Engine(
        [example("onboarding_new_cardholder")],
        events=stores[0],
        profiles=stores[1],
        state=stores[2],
        clock=clock,
        channels=channels,
        tickets=tickets,
        actions={"annual_fee_waiver": _refuse},
        on_action=actions.append,
    )
    r = Run(engine, clock, *stores, channels, tickets, {}, actions)
    r.feed(_timeline("c-1"))
    r.advance(START + timedelta(days=60))
    reason = "reward failed: the card system said no"
    assert [a["reason"] for a in actions if a["kind"] == "suppressed"] == [reason]
    noted = _given_up(r, "c-1")
    assert [(e["node"], e["reason"]) for e in noted] == [("reward_annual_fee_waiver", reason)]
    assert "template" not in noted[0]
    assert r.outcomes("c-1") == [("ended", "spend_goal_met")]
