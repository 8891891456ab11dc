"""Channel throughput limits: a rolling window over every customer's messages on a channel;
messages over the limit wait their turn (never dropped), deterministically, across restarts."""

from __future__ import annotations

import bisect
from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.protocols import Message, StateStore
from journeydsl.runtime.stores.memory import MemoryStateStore
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.policies.harness import Harness, compile_journey, ev, harness, local, policies
from tests.runtime.policies.harness import profile as make_profile

#: A marketing SMS an hour after activation: every customer activated at one instant is due at
#: one instant an hour later.
SMS_AN_HOUR_LATER = """
journey sms_an_hour_later
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
wait 1h
send sms install_digital_app marketing fallback none
"""

SMS_50_PER_SECOND = """
throughput:
  - {name: sms_gateway, channels: sms, max: 50, per: 1s}
"""

START = local("2026-01-05 09:00")


def _over_the_limit(times: list[datetime], limit: int, per: timedelta) -> list[datetime]:
    """The delivery times whose window ``[t, t + per)`` holds more than ``limit`` messages."""
    ordered = sorted(times)
    return [
        t
        for i, t in enumerate(ordered)
        if bisect.bisect_left(ordered, t + per, lo=i) - bisect.bisect_left(ordered, t) > limit
    ]


def _launch(customers: int, state: StateStore, text: str = SMS_50_PER_SECOND) -> Harness:
    ids = [f"c{i:05}" for i in range(customers)]
    h = harness(
        [compile_journey(SMS_AN_HOUR_LATER)],
        [make_profile(c) for c in ids],
        start=START,
        policy=policies(text),
        state=state,
    )
    h.feed([ev(c, "card_activated", START, card_id=f"k-{c}") for c in ids])
    return h


def _sms(h: Harness) -> list[Message]:
    return h.channels["sms"].delivered


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_ten_thousand_due_at_once_never_exceed_the_limit(store: str, tmp_path: Path) -> None:
    """10,000 SMS due at one instant, 50/s: no 1s window holds more than 50, each arrives once."""
    state: StateStore = (
        MemoryStateStore() if store == "memory" else SQLiteStore(tmp_path / "state.db")
    )
    h = _launch(10_000, state)
    h.advance(START + timedelta(hours=2))
    sent = _sms(h)
    assert len(h.channels["sms"].attempts) == 10_000  # (no message was handed over twice)
    assert Counter(m.customer_id for m in sent) == Counter({f"c{i:05}": 1 for i in range(10_000)})
    times = [m.at for m in sent]
    assert _over_the_limit(times, 50, timedelta(seconds=1)) == []
    due = START + timedelta(hours=1)
    # Full speed: 50 at the instant they were due, then 50 every second, in 200 seconds.
    assert Counter(times) == Counter({due + timedelta(seconds=s): 50 for s in range(200)})
    assert not h.suppressed("c09999")


def test_the_queue_is_served_in_due_order_and_every_wait_is_logged() -> None:
    """The first 50 (by due time, then key) go at once; the 51st waits one second, logged."""
    h = _launch(120, MemoryStateStore())
    h.advance(START + timedelta(hours=2))
    due = START + timedelta(hours=1)
    assert [m.at for m in _sms(h)] == sorted(m.at for m in _sms(h))
    waited = [d for d in h.decisions("c00119") if d["decision"] == "deferred"]
    assert len(waited) == 1
    assert waited[0]["policy"] == "throughput:sms_gateway"
    assert waited[0]["reason"] == (
        "sms throughput limit: at most 50 messages per 1s; the message waits its turn"
    )
    assert datetime.fromisoformat(waited[0]["until"]) == due + timedelta(seconds=2)
    assert Counter(m.at for m in _sms(h)) == Counter(
        {due: 50, due + timedelta(seconds=1): 50, due + timedelta(seconds=2): 20}
    )


def test_the_same_run_twice_delivers_the_same_schedule() -> None:
    """Deterministic: two runs deliver each customer's message at the same instant."""
    runs = []
    for _ in range(2):
        h = _launch(300, MemoryStateStore(), "throughput: [{channels: [sms], max: 7, per: 1m}]")
        h.advance(START + timedelta(days=1))
        runs.append(sorted((m.customer_id, m.at) for m in _sms(h)))
    assert runs[0] == runs[1]
    assert len(runs[0]) == 300
    assert _over_the_limit([t for _, t in runs[0]], 7, timedelta(minutes=1)) == []


def test_the_limit_holds_across_a_restart(tmp_path: Path) -> None:
    """A new engine over the same SQLite file counts the window's deliveries from its history."""
    path = tmp_path / "state.db"
    text = "throughput: [{name: sms_hourly, channels: sms, max: 10, per: 1h}]"
    first = _launch(25, SQLiteStore(path), text)
    due = START + timedelta(hours=1)
    first.advance(due)
    assert len(_sms(first)) == 10
    first.state.close()  # type: ignore[attr-defined]
    # Nothing lasts but the store: a new engine, fresh channels, a deferred backlog of 15.
    second = harness(
        [compile_journey(SMS_AN_HOUR_LATER)],
        [],
        start=due,
        policy=policies(text),
        state=SQLiteStore(path),
        profile_store=first.profiles,
    )
    second.channels["sms"].delivered.clear()
    more = ev("c99999", "card_activated", due - timedelta(minutes=30), card_id="k-new")
    second.profiles.add(make_profile("c99999"))  # type: ignore[attr-defined]
    second.engine.ingest(more)
    second.advance(due + timedelta(minutes=30))
    assert _sms(second) == []  # (the new customer's SMS is due at 10:30: the window is full)
    second.advance(due + timedelta(hours=3))
    times = [m.at for m in _sms(first)] + [m.at for m in _sms(second)]
    assert len(times) == 26
    assert _over_the_limit(times, 10, timedelta(hours=1)) == []


def test_a_limit_counts_only_its_channels_and_categories() -> None:
    """An email-only limit leaves SMS alone; a transactional-only one leaves marketing alone."""
    for text in (
        "throughput: [{channels: email, max: 1, per: 1h}]",
        "throughput: [{channels: sms, categories: transactional, max: 1, per: 1h}]",
    ):
        h = _launch(30, MemoryStateStore(), text)
        h.advance(START + timedelta(hours=2))
        assert Counter(m.at for m in _sms(h)) == Counter({START + timedelta(hours=1): 30})


@settings(max_examples=12, deadline=None)
@given(customers=st.integers(0, 80), limit=st.integers(1, 30), seconds=st.sampled_from([1, 60]))
def test_any_burst_respects_the_limit_and_loses_nothing(
    customers: int, limit: int, seconds: int
) -> None:
    """Any burst and limit: no window over the limit, every customer's SMS delivered once."""
    per = timedelta(seconds=seconds)
    text = f"throughput: [{{channels: sms, max: {limit}, per: {seconds}s}}]"
    h = _launch(customers, MemoryStateStore(), text)
    h.advance(START + timedelta(hours=1) + per * (customers // limit + 2))
    sent = _sms(h)
    assert sorted(m.customer_id for m in sent) == [f"c{i:05}" for i in range(customers)]
    assert _over_the_limit([m.at for m in sent], limit, per) == []


# ------------------------------------------------------------ fairness: transactional, priority

#: At one instant an hour after activation: a transactional SMS from one journey, a marketing
#: SMS from a priority journey and one from an ordinary journey.
_FAIR_JOURNEYS = {
    "statements": "send sms activation_reminder transactional { round: 1 } fallback none",
    "vip_offers": "send sms install_digital_app marketing fallback none",
    "newsletter": "send sms first_spend_nudge marketing fallback none",
}


def _fair(order: list[str]) -> Harness:
    """The three journeys in ``order``, 30 customers each at one instant, under 20 SMS a second
    and vip_offers at priority 10; customers of the journeys interleaved by id."""
    journeys = [
        compile_journey(
            f'journey {name}\nuses events "events.yaml"\nuses templates "templates.yaml"\n'
            f'entry on card_activated where trigger.card_id == "{name}"\nwait 1h\n{send}\n'
        )
        for name in order
        for send in [_FAIR_JOURNEYS[name]]
    ]
    customers = [(f"c{i:03}", order[i % 3]) for i in range(90)]
    h = harness(
        journeys,
        [make_profile(c) for c, _ in customers],
        start=START,
        policy=policies(
            "throughput: [{name: sms_gateway, channels: sms, max: 20, per: 1s}]\n"
            "journeys: {vip_offers: {priority: 10}}\n"
        ),
    )
    h.feed([ev(c, "card_activated", START, card_id=j) for c, j in customers])
    h.advance(START + timedelta(hours=2))
    return h


def test_transactional_messages_take_the_first_turns_then_priority() -> None:
    """30 transactional, 30 priority-10 marketing and 30 other marketing SMS due at once, 20 a
    second: the transactional ones go first (20, then 10), then the priority journey's, then the
    rest; within each, by key; the same whatever order the journeys were given in."""
    due = START + timedelta(hours=1)
    schedules = []
    for order in (["newsletter", "vip_offers", "statements"], sorted(_FAIR_JOURNEYS)):
        h = _fair(order)
        seconds = [(int((m.at - due).total_seconds()), m.journey) for m in _sms(h)]
        schedules.append(sorted(seconds))
    assert schedules[0] == schedules[1]
    by_second: dict[int, Counter[str]] = {}
    for second, journey in schedules[0]:
        by_second.setdefault(second, Counter())[journey] += 1
    assert by_second == {
        0: Counter({"statements": 20}),
        1: Counter({"statements": 10, "vip_offers": 10}),
        2: Counter({"vip_offers": 20}),
        3: Counter({"newsletter": 20}),
        4: Counter({"newsletter": 10}),
    }


def test_a_transactional_message_of_a_later_event_is_not_kept_behind_held_marketing() -> None:
    """30 marketing SMS, then 30 transactional ones, each ingested on its own at one instant,
    20 a second: the first 20 marketing go at once (there is room), and of the 40 held, the
    transactional ones take the next turns, as if they had been due together, not the
    marketing held before them."""
    journeys = [
        compile_journey(
            f'journey {name}\nuses events "events.yaml"\nuses templates "templates.yaml"\n'
            f'entry on card_activated where trigger.card_id == "{name}"\n{_FAIR_JOURNEYS[name]}\n'
        )
        for name in ("newsletter", "statements")
    ]
    customers = [(f"n{i:02}", "newsletter") for i in range(30)]
    customers += [(f"s{i:02}", "statements") for i in range(30)]
    h = harness(
        journeys,
        [make_profile(c) for c, _ in customers],
        start=START,
        policy=policies("throughput: [{name: sms_gateway, channels: sms, max: 20, per: 1s}]\n"),
    )
    h.feed([ev(c, "card_activated", START, card_id=j) for c, j in customers])
    h.advance(START + timedelta(minutes=1))
    by_second: dict[int, Counter[str]] = {}
    for m in _sms(h):
        by_second.setdefault(int((m.at - START).total_seconds()), Counter())[m.journey] += 1
    assert by_second == {
        0: Counter({"newsletter": 20}),
        1: Counter({"statements": 20}),
        2: Counter({"statements": 10, "newsletter": 10}),
    }
