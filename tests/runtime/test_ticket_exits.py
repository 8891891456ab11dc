"""A ticket step with ``accepted { … }`` / ``not accepted { … }`` exits: the instance waits for
its queue's decision and runs the matching block, exactly once, whatever crashes on the way."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl import compile_source, ir
from journeydsl.runtime.engine import Engine, RetryPolicy
from journeydsl.runtime.policies import load_policies
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Profile, Ticket
from journeydsl.testing import SteppableClock
from tests.runtime.crashing import Fuse, Proxy
from tests.runtime.test_engine_properties import (
    T0,
    Crash,
    Event,
    World,
    _crash_points,
    _ev,
    drive,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

#: A call for every activated card, ranked by loyalty points; an SMS when the queue is full.
CALLS = """
journey calls
uses events "events.yaml"
uses templates "templates.yaml"
outcomes called, not_called
entry on card_activated
ticket telesales { points: profile.loyalty_points } accepted {
  exit called
} not accepted {
  send sms activation_reminder transactional { round: 1 } fallback none
  exit not_called
}
"""
ONE_A_DAY = "queues: [{queue: telesales, capacity: 1, rank: points, overflow: drop}]"


def _journey(text: str = CALLS) -> ir.Journey:
    journey = compile_source(text, file="calls.journey", base_dir=EXAMPLES).journey
    assert journey is not None
    return journey


def _profiles(n: int = 3) -> list[Profile]:
    return [
        Profile(f"c{i}", {"loyalty_points": 100 * i, "phone": "0912345678"}, {"sms": True})
        for i in range(1, n + 1)
    ]


@dataclass
class _QueueWorld(World):
    """The durable stores and the outside world, for the calls journey under a policy."""

    policy: str | None = ONE_A_DAY

    def engine(self, fuse: Fuse, clock: SteppableClock) -> Engine:
        def wrap(x: Any) -> Any:
            return Proxy(x, fuse, Crash)

        return Engine(
            [_journey()],
            events=wrap(self.events),
            profiles=self.profile_store,
            state=wrap(self.state),
            clock=clock,
            channels={c: wrap(ch) for c, ch in self.channels.items()},
            tickets=wrap(self.tickets),
            retry=RetryPolicy(base=timedelta(minutes=5), cap=timedelta(hours=1), max_attempts=4),
            policies=load_policies("q.yaml", self.policy) if self.policy else None,
        )


def _activations(n: int = 3) -> list[Event]:
    return [_ev(f"c{i}", "card_activated", 0.1 * i, card_id=f"k{i}") for i in range(1, n + 1)]


def _run(policy: str | None = ONE_A_DAY, fuse: Fuse | None = None) -> _QueueWorld:
    world = _QueueWorld(_profiles(), policy=policy)
    drive(world, _activations(), fuse or Fuse())
    return world


def test_the_best_ranked_ticket_is_accepted_and_the_others_take_the_other_exit() -> None:
    """Capacity 1, overflow drop: c3 (most points) is called; c1 and c2 get the SMS of the
    "not accepted" exit and end not_called."""
    world = _run()
    assert [t.customer_id for t in world.tickets.opened] == ["c3"]
    assert sorted(m.customer_id for m in world.channels["sms"].delivered) == ["c1", "c2"]
    outcomes = {r["customer_id"]: r["outcome"] for r in world.state.all_instances()}
    assert outcomes == {"c1": "not_called", "c2": "not_called", "c3": "called"}


def test_without_a_capacity_every_ticket_is_accepted_at_its_own_instant() -> None:
    """A queue the policies do not name opens the ticket when it is made: the instance takes
    the "accepted" exit at that instant (not at a later release)."""
    world = _run(policy=None)
    assert len(world.tickets.opened) == 3
    for record in world.state.all_instances():
        assert (record["outcome"], record["ended_at"]) == ("called", record["entered_at"])


def test_a_ticket_the_sink_refuses_takes_the_not_accepted_exit() -> None:
    """A permanent failure of the ticket sink is "not accepted" too, with the sink's reason."""
    world = _QueueWorld(_profiles(1), policy=None)

    def refuse(ticket: Ticket) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "queue closed")

    world.tickets.open = refuse  # type: ignore[method-assign]
    drive(world, _activations(1), Fuse())
    (record,) = world.state.all_instances()
    assert record["outcome"] == "not_called"
    (exit_,) = [dict(e) for e in record["log"] if e["what"] == "ticket_exit"]
    assert (exit_["exit"], exit_["reason"]) == ("not_accepted", "ticket failed: queue closed")


def test_a_ticket_without_exits_does_not_wait() -> None:
    """No exits: the outbox payload has no `exits` mark and the instance ends when the ticket
    is made, as before."""
    plain = CALLS.split("ticket telesales")[0] + "ticket telesales { points: 1 }\nexit called\n"
    journey = _journey(plain)
    (node,) = [n for n in journey.nodes.values() if isinstance(n, ir.Ticket)]
    assert not node.waits
    assert node.next == "exit_called"


@pytest.mark.parametrize("after", [False, True], ids=["before", "after"])
def test_a_crash_at_every_call_changes_nothing(after: bool) -> None:
    """Exactly-once through the queue's decision: a crash before (or after) the k-th call into
    a store or a sink, for every k, then a restart, gives the effects and outcomes of an
    uninterrupted run: each ticket opened once, each exit's SMS sent once."""
    reference = _run()
    counter = Fuse()
    drive(_QueueWorld(_profiles()), _activations(), counter)
    assert counter.calls > 20
    for k in _crash_points(counter.calls, 400):
        world = _run(fuse=Fuse(at=k, after=after))
        assert world.effects() == reference.effects(), f"crash at call {k}"
        assert world.outcomes() == reference.outcomes(), f"crash at call {k}"


def test_the_release_day_is_the_one_after_the_activations() -> None:
    """(The runs above decide at the first 08:00 after the activations, the next morning.)"""
    world = _run()
    (opened,) = world.tickets.opened
    assert opened.at.date() == (T0 + timedelta(days=1)).date()
    assert opened.at.hour == 8
