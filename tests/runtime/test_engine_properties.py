"""Engine invariants: determinism, exactly-once effects under crashes, retries without duplicates.

A "crash" is an exception raised at the k-th call into a store or a channel, before or after the
call takes effect. "Restart" is a new Engine over the same stores (they are the durable state) and
the same channels (they are the outside world), replaying the event stream from the start.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl import ir
from journeydsl.compiler import compile_file
from journeydsl.runtime.engine import Engine, RetryPolicy
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)
from tests.runtime.crashing import Fuse, Proxy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=TZ)
CHANNELS = ("email", "sms", "zns", "push")


@cache
def journeys() -> tuple[ir.Journey, ...]:
    out = []
    names = ("onboarding_new_cardholder", "dormant_reactivation", "first_response")
    for name in (*names, "big_spender_month", "welcome_paths", "card_lifecycle"):
        result = compile_file(EXAMPLES / f"{name}.journey")
        assert result.journey is not None
        out.append(result.journey)
    return tuple(out)


@cache
def _schemas() -> dict[str, Any]:
    out: dict[str, Any] = {}
    for j in journeys():
        out.update(j.event_types)
    return out


class Crash(Exception):  # noqa: N818 - reads as what it simulates
    """The injected failure (an Exception: a gateway's or a store's error, as the engine sees
    one)."""


@dataclass
class World:
    """The durable stores and the outside world, which survive a crash."""

    profiles: list[Profile]
    script: Callable[[Message], DeliveryResult] | None = None
    only: str | None = None  # run just this journey
    events: MemoryEventStore = field(default_factory=MemoryEventStore)
    state: MemoryStateStore = field(default_factory=MemoryStateStore)
    channels: dict[str, RecordingChannel] = field(default_factory=dict)
    tickets: RecordingTickets = field(default_factory=RecordingTickets)
    actions: RecordingActions = field(default_factory=RecordingActions)

    def __post_init__(self) -> None:
        self.profile_store = MemoryProfileStore(self.profiles)
        self.channels = {c: RecordingChannel(c, self.script) for c in CHANNELS}

    def engine(self, fuse: Fuse, clock: SteppableClock) -> Engine:
        def wrap(x: Any) -> Any:
            return Proxy(x, fuse, Crash)

        return Engine(
            [j for j in journeys() if self.only in (None, j.id)],
            events=wrap(self.events),
            profiles=self.profile_store,
            state=wrap(self.state),
            clock=clock,
            channels={c: wrap(ch) for c, ch in self.channels.items()},
            tickets=wrap(self.tickets),
            actions={"annual_fee_waiver": wrap(self.actions)},
            retry=RetryPolicy(base=timedelta(minutes=5), cap=timedelta(hours=1), max_attempts=4),
        )

    def effects(self) -> Counter[tuple[Any, ...]]:
        """Everything the customers and the bank's teams saw."""
        seen: Counter[tuple[Any, ...]] = Counter()
        for ch in self.channels.values():
            for m in ch.delivered:
                seen[
                    (
                        "send",
                        m.idempotency_key,
                        m.channel,
                        m.template,
                        repr(sorted(m.params.items())),
                    )
                ] += 1
        for t in self.tickets.opened:
            seen[("ticket", t.idempotency_key, t.queue, t.priority)] += 1
        for key, customer, _ in self.actions.calls:
            seen[("action", key, customer)] += 1
        return seen

    def outcomes(self) -> dict[str, tuple[str, str | None]]:
        return {r["id"]: (r["status"], r["outcome"]) for r in self.state.all_instances()}


Event = dict[str, Any]
HORIZON = T0 + timedelta(days=60)


def drive(world: World, events: list[Event], fuse: Fuse) -> None:
    """Run the stream to the horizon, restarting after every crash (the fuse blows once).
    Events before T0 are history: they are in the store before the run and trigger nothing."""
    from journeydsl.runtime.events import coerce_event, event_id

    live = []
    for ev in events:
        if datetime.fromisoformat(ev["at"]) < T0:
            world.events.append(event_id(ev), coerce_event(ev, _schemas()))
        else:
            live.append(ev)
    events = live
    while True:
        clock = SteppableClock(T0)
        engine = world.engine(fuse, clock)
        try:
            for ev in events:
                at = datetime.fromisoformat(ev["at"])
                _advance(engine, clock, at)
                clock.set(at)
                engine.ingest(ev)
            _advance(engine, clock, HORIZON)
            return
        except Crash:
            fuse.at = None  # one crash per run; the restart completes


def _advance(engine: Engine, clock: SteppableClock, until: datetime) -> None:
    while (w := engine.next_wakeup()) is not None and w <= until:
        clock.set(w)
        engine.tick(w)


def _ev(customer: str, kind: str, day: float, **data: Any) -> Event:
    at = T0 + timedelta(days=day)
    return {"customer_id": customer, "type": kind, "at": at.isoformat(), "data": data}


def _profile(customer: str, app: bool, zns: bool) -> Profile:
    consent = {"email": True, "sms": True, "zns": zns, "push": True}
    return Profile(customer, {"has_digital_app": app}, consent)


@st.composite
def streams(draw: st.DrawFn) -> tuple[list[Profile], list[Event]]:
    """A few customers with onboarding, activation, spending and engagement events."""
    n = draw(st.integers(1, 3))
    profiles, events = [], []
    for i in range(n):
        c = f"c{i}"
        profiles.append(_profile(c, draw(st.booleans()), draw(st.booleans())))
        history = draw(st.booleans())
        if history:  # a dormant cardholder: activated and spent long ago
            events.append(_ev(c, "card_activated", -300, card_id=f"old{i}"))
            events.append(
                _ev(
                    c,
                    "transaction",
                    -200,
                    amount=900_000,
                    currency="VND",
                    merchant="Tiki",
                    category="shopping",
                )
            )
        issued = draw(st.floats(0, 5))
        events.append(_ev(c, "card_issued", issued, card_id=f"k{i}", product="gold"))
        if draw(st.booleans()):
            act = issued + draw(st.floats(0.5, 25))
            events.append(_ev(c, "card_activated", act, card_id=f"k{i}"))
            for _ in range(draw(st.integers(0, 3))):
                events.append(
                    _ev(
                        c,
                        "transaction",
                        act + draw(st.floats(0.1, 35)),
                        amount=draw(st.sampled_from([200_000, 500_000, 1_200_000])),
                        currency="VND",
                        merchant="Shopee",
                        category="shopping",
                    )
                )
        if draw(st.booleans()):
            events.append(_ev(c, "offer_registered", draw(st.floats(1, 40)), offer="tiki_voucher"))
    events.sort(key=lambda e: (e["at"], e["customer_id"], e["type"]))
    return profiles, events


def _reference(
    profiles: list[Profile], events: list[Event], script: Any = None, only: str | None = None
) -> World:
    world = World(profiles, script, only)
    drive(world, events, Fuse())
    return world


_SETTINGS = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(streams())
def test_same_events_give_the_same_effects(stream: tuple[list[Profile], list[Event]]) -> None:
    """Determinism: two runs of the same stream deliver identical effects and outcomes."""
    profiles, events = stream
    a, b = _reference(profiles, events), _reference(profiles, events)
    assert a.effects() == b.effects()
    assert a.outcomes() == b.outcomes()


def _crash_points(total: int, limit: int) -> Iterator[int]:
    if total <= limit:
        yield from range(1, total + 1)
        return
    step = total / limit
    yield from sorted({1, total, *(int(1 + i * step) for i in range(limit))})


def _check_crashes(
    profiles: list[Profile], events: list[Event], limit: int, only: str | None = None
) -> int:
    ref = _reference(profiles, events, only=only)
    counter = Fuse()
    drive(World(profiles, only=only), events, counter)
    for after in (False, True):
        for k in _crash_points(counter.calls, limit):
            world = World(profiles, only=only)
            drive(world, events, Fuse(at=k, after=after))
            assert world.effects() == ref.effects(), (
                f"crash {'after' if after else 'before'} call {k}"
            )
            assert world.outcomes() == ref.outcomes(), (
                f"crash {'after' if after else 'before'} call {k}"
            )
    return counter.calls


def test_a_crash_at_every_call_of_an_onboarding_run_changes_nothing() -> None:
    """Exactly-once: for EVERY k, a crash before or after the k-th store/channel call, then a
    restart, delivers exactly the effects of an uninterrupted run (no duplicate, none lost)."""
    profiles = [_profile("c1", app=False, zns=True), _profile("c2", app=True, zns=False)]
    events = sorted(
        [
            _ev("c1", "card_issued", 0, card_id="k1", product="gold"),
            _ev("c1", "card_activated", 6, card_id="k1"),
            _ev(
                "c1",
                "transaction",
                8,
                amount=400_000,
                currency="VND",
                merchant="Tiki",
                category="shopping",
            ),
            _ev(
                "c1",
                "transaction",
                20,
                amount=700_000,
                currency="VND",
                merchant="Tiki",
                category="shopping",
            ),
            _ev("c2", "card_issued", 0.4, card_id="k2", product="classic"),
        ],
        key=lambda e: e["at"],
    )
    calls = _check_crashes(profiles, events, limit=10_000, only="onboarding_new_cardholder")
    assert calls > 50  # the run really exercises the stores and channels


def test_a_crash_at_every_call_of_a_first_of_wait_changes_nothing() -> None:
    """Exactly-once through `wait first`: for every k, a crash before or after the k-th call
    and a restart give the effects of an uninterrupted run, whichever branch won (an event, a
    condition, the timeout)."""
    profiles = [
        _profile("c1", app=True, zns=True),
        _profile("c2", app=False, zns=True),
        _profile("c3", app=False, zns=True),
    ]
    shopping = {"currency": "VND", "merchant": "Tiki", "category": "shopping"}
    events = sorted(
        [
            _ev("c1", "card_issued", 0, card_id="k1", product="gold"),
            _ev("c1", "card_activated", 2, card_id="k1"),
            _ev("c2", "card_issued", 0.2, card_id="k2", product="gold"),
            _ev("c2", "transaction", 1, amount=600_000, **shopping),
            _ev("c2", "transaction", 3, amount=500_000, **shopping),
            _ev("c3", "card_issued", 0.3, card_id="k3", product="gold"),
        ],
        key=lambda e: e["at"],
    )
    calls = _check_crashes(profiles, events, limit=10_000, only="first_response")
    assert calls > 20  # the run really exercises the stores and channels


def test_a_crash_at_every_call_of_a_parallel_block_changes_nothing() -> None:
    """Exactly-once through `parallel all`: for every k, a crash before or after the k-th call
    and a restart give the effects of an uninterrupted run, with branches waiting side by side,
    ending by an event or a timeout, in every order (one customer per outcome)."""
    profiles = [_profile(c, app=True, zns=True) for c in ("c1", "c2", "c3", "c4")]
    dining = {"currency": "VND", "merchant": "Highlands", "category": "dining"}
    events = sorted(
        [
            _ev("c1", "card_issued", 0, card_id="k1", product="gold"),
            _ev("c1", "card_activated", 2, card_id="k1"),
            _ev("c1", "transaction", 3, amount=200_000, **dining),
            _ev("c2", "card_issued", 0.1, card_id="k2", product="gold"),
            _ev("c2", "card_activated", 0.5, card_id="k2"),
            _ev("c3", "card_issued", 0.2, card_id="k3", product="gold"),
            _ev("c3", "transaction", 2, amount=200_000, **dining),
            _ev("c4", "card_issued", 0.3, card_id="k4", product="gold"),
        ],
        key=lambda e: e["at"],
    )
    calls = _check_crashes(profiles, events, limit=10_000, only="welcome_paths")
    assert calls > 20  # the run really exercises the stores and channels
    outcomes = sorted(
        str(o) for _, o in _reference(profiles, events, only="welcome_paths").outcomes().values()
    )
    assert outcomes == ["activated_and_spent", "activated_only", "neither", "spent_only"]


def test_a_crash_at_every_call_of_a_during_block_changes_nothing() -> None:
    """Exactly-once through `during … on cancel_request`: a crash before or after any call and
    a restart give the effects of an uninterrupted run, with a handler that interrupts the body
    after its push (a ticket, once), a body that ends first (bound), and one still waiting."""
    profiles = [_profile(c, app=True, zns=True) for c in ("c1", "c2", "c3")]
    approved = {"application_id": "a", "credit_limit": 30_000_000}
    events = sorted(
        [
            _ev("c1", "card_approved", 0, card_id="k1", **approved),
            _ev("c1", "cancel_request", 40, card_id="k1", reason="annual_fee"),
            _ev("c2", "card_approved", 0.1, card_id="k2", **approved),
            _ev("c2", "card_bound", 35, card_id="k2", wallet="momo"),
            _ev("c3", "card_approved", 0.2, card_id="k3", **approved),
        ],
        key=lambda e: e["at"],
    )
    calls = _check_crashes(profiles, events, limit=10_000, only="card_lifecycle")
    assert calls > 20
    ref = _reference(profiles, events, only="card_lifecycle")
    assert sorted(str(o) for _, o in ref.outcomes().values()) == ["None", "bound", "churn_ticket"]
    assert [t.queue for t in ref.tickets.opened] == ["churn"]


def test_a_crash_at_every_call_of_an_entry_on_change_changes_nothing() -> None:
    """Exactly-once through `entry when`: a crash before or after any call and a restart enter
    the customer at the same crossings (by an event, and again after the window emptied) as an
    uninterrupted run, with the same messages."""
    profiles = [_profile("c1", app=True, zns=True), _profile("c2", app=False, zns=True)]
    shopping = {"currency": "VND", "merchant": "Tiki", "category": "shopping"}
    events = sorted(
        [
            _ev("c1", "transaction", 1, amount=3_000_000, **shopping),
            _ev("c1", "transaction", 4, amount=3_000_000, **shopping),
            _ev("c1", "transaction", 50, amount=6_000_000, **shopping),
            _ev("c2", "transaction", 2, amount=1_000_000, **shopping),
        ],
        key=lambda e: e["at"],
    )
    ref = _reference(profiles, events, only="big_spender_month")
    assert len(ref.effects()) == 2  # the two crossings of c1
    calls = _check_crashes(profiles, events, limit=10_000, only="big_spender_month")
    assert calls > 10


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(streams())
def test_crashes_on_random_streams_change_nothing(
    stream: tuple[list[Profile], list[Event]],
) -> None:
    """Exactly-once on random streams of both journeys, crashing at spread-out calls."""
    profiles, events = stream
    _check_crashes(profiles, events, limit=30)


@_SETTINGS
@given(streams(), st.integers(0, 2**32 - 1))
def test_transient_failures_are_retried_without_duplicates(
    stream: tuple[list[Profile], list[Event]], seed: int
) -> None:
    """Channels failing transiently (at random, per attempt) never cause a duplicate delivery,
    and every message is either delivered once or, after the retry cap, falls back or is
    suppressed with a reason."""
    import random

    rng = random.Random(seed)

    def flaky(message: Message) -> DeliveryResult:
        if rng.random() < 0.4:
            return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, "gateway timeout")
        return DeliveryResult(DeliveryStatus.DELIVERED)

    profiles, events = stream
    world = _reference(profiles, events, flaky)
    keys = Counter(
        m.idempotency_key.rsplit(":", 1)[0] for ch in world.channels.values() for m in ch.delivered
    )
    assert all(n == 1 for n in keys.values()), keys
    pending = [e for e in world.state.outbox() if e.status == "pending"]
    assert all(e.not_before > HORIZON - timedelta(days=1) for e in pending)


def test_retry_policy_backs_off_exponentially_with_a_cap() -> None:
    """Delays double from the base and stop growing at the cap."""
    policy = RetryPolicy(base=timedelta(minutes=1), cap=timedelta(minutes=10))
    assert [policy.delay(n).total_seconds() / 60 for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]


pytestmark = pytest.mark.filterwarnings("error")
