"""The channel-fault campaign at CI size, and a channel that raises a network error."""

from __future__ import annotations

from datetime import datetime

import pytest

from journeydsl.runtime.engine import Engine
from journeydsl.runtime.profiles import parse_profile
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    SteppableClock,
)
from reliability import channel_faults
from reliability._common import ICT, ONBOARDING, compiled, profile_line

pytestmark = pytest.mark.campaign


def test_faulty_channels_deliver_at_most_once_and_leave_no_instance_stuck() -> None:
    """With channels failing transiently (30 %), permanently (5 %), timing out and answering
    slowly, every message is delivered exactly once or suppressed with a reason, no instance is
    stuck, and every instance ends as it does with perfect channels."""
    figures = channel_faults.run(size=150, seed=3)
    zero = {k: figures[k] for k in channel_faults.MUST_BE_ZERO}
    assert zero == dict.fromkeys(channel_faults.MUST_BE_ZERO, 0)
    assert figures["messages"] == (
        figures["delivered_exactly_once"] + figures["suppressed"] + figures["still_in_retry_at_end"]
    )
    # The faults were really exercised, and recovered from.
    assert figures["retries"] > 0
    assert figures["timeouts_after_sending"] > 0
    assert figures["repeats_acknowledged"] > 0
    assert figures["fallbacks"] > 0
    assert figures["suppressed_after_failures"] > 0


def test_a_channel_timeout_is_retried_like_a_transient_failure() -> None:
    """A channel raising TimeoutError counts as a transient failure: ingest returns, the message
    waits for a retry with backoff, and another customer's message still goes out."""
    delivered: list[str] = []

    class Gateway:
        def send(self, message: Message) -> DeliveryResult:
            if message.customer_id == "slow":
                raise TimeoutError("gateway did not answer")
            delivered.append(message.customer_id)
            return DeliveryResult(DeliveryStatus.DELIVERED)

    profiles = MemoryProfileStore(
        [parse_profile(profile_line(c, False, {"email": True})) for c in ("slow", "fine")]
    )
    state = MemoryStateStore()
    clock = SteppableClock(datetime(2026, 1, 5, 10, 0, tzinfo=ICT))
    engine = Engine(
        [compiled(ONBOARDING)],
        events=MemoryEventStore(),
        profiles=profiles,
        state=state,
        clock=clock,
        channels={"email": Gateway()},
        unhandled="withhold",  # the other channels are not wired: their sends are withheld
    )
    for cid in ("slow", "fine"):
        data = {"card_id": f"k-{cid}", "product": "gold"}
        engine.ingest(
            {"customer_id": cid, "type": "card_issued", "at": clock.now().isoformat(), "data": data}
        )
    assert delivered == ["fine"]
    (pending,) = state.pending_outbox(datetime(2027, 1, 1, tzinfo=ICT))
    assert pending.attempts == 1
    assert pending.not_before > clock.now()
