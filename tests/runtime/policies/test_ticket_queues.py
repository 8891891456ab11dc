"""Ticket queue capacity: each day a queue receives its best-ranked tickets up to capacity, in
rank order; the rest wait for the next day (ranked again with the new ones) or are dropped with
the reason queue_full."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.stores.memory import MemoryStateStore
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.policies.harness import Harness, compile_journey, ev, harness, local, policies
from tests.runtime.policies.harness import profile as make_profile

#: A telesales ticket for every activated card, ranked by the customer's loyalty points.
CALLS = """
journey calls
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
ticket telesales priority normal { points: profile.loyalty_points }
"""

DAY1 = local("2026-01-05 10:00")
RELEASE = local("2026-01-06 08:00")


def _queue(text: str) -> str:
    return f"queues: [{{queue: telesales, capacity: 300, rank: points, {text}}}]"


def _points(n: int, seed: int = 19) -> dict[str, int]:
    """Distinct loyalty points for ``n`` customers, in a shuffled order."""
    values = list(range(1, n + 1))
    random.Random(seed).shuffle(values)
    return {f"c{i:04}": v * 10 for i, v in enumerate(values)}


def _candidates(points: dict[str, int], text: str, state: object = None) -> Harness:
    h = harness(
        [compile_journey(CALLS)],
        [make_profile(c, loyalty_points=p) for c, p in points.items()],
        start=DAY1 - timedelta(hours=1),
        policy=policies(_queue(text)),
        state=state,  # type: ignore[arg-type]
    )
    h.feed([ev(c, "card_activated", DAY1, card_id=f"k-{c}") for c in points])
    return h


def _opened_on(h: Harness, day: datetime) -> list[str]:
    return [t.customer_id for t in h.tickets.opened if t.at == day]


def test_each_day_takes_the_top_300_in_rank_order_and_carries_the_rest() -> None:
    """2,000 candidates, 300/day, next_day: day N opens ranks 300(N-1)+1 … 300N, best first."""
    points = _points(2_000)
    h = _candidates(points, "overflow: next_day")
    assert h.tickets.opened == []  # (nothing opens before the release)
    h.advance(RELEASE + timedelta(days=7))
    best_first = sorted(points, key=lambda c: -points[c])
    for day in range(7):
        opened = _opened_on(h, RELEASE + timedelta(days=day))
        assert opened == best_first[300 * day : 300 * (day + 1)]
    assert len(h.tickets.opened) == 2_000
    assert {t.at for t in h.tickets.opened} == {RELEASE + timedelta(days=d) for d in range(7)}


def test_a_new_ticket_is_ranked_with_those_carried_over() -> None:
    """The day-2 release ranks yesterday's rest with today's: a better new one goes first."""
    points = _points(400)
    h = _candidates(points, "overflow: next_day")
    h.advance(RELEASE + timedelta(hours=2))
    h.profiles.add(make_profile("vip", loyalty_points=1_000_000))  # type: ignore[attr-defined]
    h.feed([ev("vip", "card_activated", RELEASE + timedelta(hours=2), card_id="k-vip")])
    h.advance(RELEASE + timedelta(days=1))
    best_first = sorted(points, key=lambda c: -points[c])
    assert _opened_on(h, RELEASE + timedelta(days=1)) == ["vip", *best_first[300:]]


def test_drop_overflow_drops_the_rest_with_queue_full_in_the_decision_log() -> None:
    """overflow: drop opens the top 300 and drops the other 1,700, each with its reason."""
    points = _points(2_000)
    h = _candidates(points, "overflow: drop")
    h.advance(RELEASE + timedelta(days=3))
    best_first = sorted(points, key=lambda c: -points[c])
    assert [t.customer_id for t in h.tickets.opened] == best_first[:300]
    dropped = [a for a in h.actions if a["kind"] == "suppressed"]
    assert sorted(a["customer_id"] for a in dropped) == sorted(best_first[300:])
    worst = best_first[-1]
    decisions = h.decisions(worst)
    assert [(d["decision"], d["policy"]) for d in decisions] == [("suppressed", "queue:telesales")]
    assert decisions[0]["reason"] == "queue_full: telesales took its 300 best-ranked tickets"


def test_max_age_drops_a_ticket_that_waited_too_long() -> None:
    """next_day, max_age 2d: 300 a day for three releases, then the 100 left (2d 22h old) drop."""
    points = _points(1_000)
    h = _candidates(points, "overflow: next_day, max_age: 2d")
    h.advance(RELEASE + timedelta(days=5))
    assert len(h.tickets.opened) == 900
    reasons = {a["reason"] for a in h.actions if a["kind"] == "suppressed"}
    assert reasons == {
        "queue_full: telesales took its 300 best-ranked tickets; this one waited 2d 22h"
    }


def test_the_queue_resumes_after_a_restart(tmp_path: Path) -> None:
    """Over SQLite, a new engine after day 1's release opens day 2's tickets as ranked."""
    path = tmp_path / "state.db"
    points = _points(700)
    first = _candidates(points, "overflow: next_day", SQLiteStore(path))
    first.advance(RELEASE + timedelta(hours=1))
    assert len(first.tickets.opened) == 300
    first.state.close()  # type: ignore[attr-defined]
    second = harness(
        [compile_journey(CALLS)],
        [],
        start=RELEASE + timedelta(hours=1),
        policy=policies(_queue("overflow: next_day")),
        state=SQLiteStore(path),
        profile_store=first.profiles,
    )
    second.advance(RELEASE + timedelta(days=3))
    best_first = sorted(points, key=lambda c: -points[c])
    assert _opened_on(second, RELEASE + timedelta(days=1)) == best_first[300:600]
    assert _opened_on(second, RELEASE + timedelta(days=2)) == best_first[600:]


def test_without_a_capacity_tickets_open_at_once() -> None:
    """A queue the policies do not name keeps the old behaviour: opened when made."""
    h = _candidates({"c0001": 10}, "overflow: drop")
    h.advance(DAY1 + timedelta(hours=1))
    assert h.tickets.opened == []  # (telesales has a capacity)
    other = harness(
        [compile_journey(CALLS)],
        [make_profile("c0001", loyalty_points=10)],
        start=DAY1 - timedelta(hours=1),
        policy=policies("queues: [{queue: care, capacity: 1}]"),
        state=MemoryStateStore(),
    )
    other.feed([ev("c0001", "card_activated", DAY1, card_id="k")])
    assert [t.at for t in other.tickets.opened] == [DAY1]


def _close(h: Harness, customers: list[str], at: datetime) -> None:
    """The team closes the tickets of ``customers`` at ``at`` (``ticket_closed`` events)."""
    keys = {t.customer_id: t.idempotency_key for t in h.tickets.opened}
    h.feed([ev(c, "ticket_closed", at, ticket_id=keys[c]) for c in customers])


def test_max_open_caps_the_tickets_open_at_once_until_they_are_closed() -> None:
    """300/day with at most 500 open: day 1 opens 300, day 2 the 200 left of the room, day 3
    none; once 250 are closed, day 4 opens the 250 best-ranked of those waiting."""
    points = _points(2_000)
    h = _candidates(points, "overflow: next_day, max_open: 500")
    best_first = sorted(points, key=lambda c: -points[c])
    h.advance(RELEASE + timedelta(days=2))
    assert [len(_opened_on(h, RELEASE + timedelta(days=d))) for d in range(3)] == [300, 200, 0]
    assert [t.customer_id for t in h.tickets.opened] == best_first[:500]
    _close(h, best_first[:250], RELEASE + timedelta(days=2, hours=3))
    h.advance(RELEASE + timedelta(days=3))
    assert _opened_on(h, RELEASE + timedelta(days=3)) == best_first[500:750]
    assert len(h.tickets.opened) == 750  # (each ticket opened once)


def test_max_open_drops_with_its_own_reason_and_a_stray_close_changes_nothing() -> None:
    """overflow: drop with max_open 100 under a capacity of 300: the top 100 open, the rest
    drop saying the open tickets are the limit; closing a ticket no queue has open (or closing
    one twice) frees no room."""
    points = _points(400)
    h = _candidates(points, "overflow: drop, max_open: 100")
    h.advance(RELEASE)
    best_first = sorted(points, key=lambda c: -points[c])
    assert [t.customer_id for t in h.tickets.opened] == best_first[:100]
    reasons = {a["reason"] for a in h.actions if a["kind"] == "suppressed"}
    assert reasons == {"queue_full: telesales has its 100 tickets open (max_open)"}
    key = h.tickets.opened[0].idempotency_key
    closing = [
        ev("c0000", "ticket_closed", RELEASE + timedelta(hours=1), ticket_id="not-a-ticket"),
        ev(best_first[0], "ticket_closed", RELEASE + timedelta(hours=2), ticket_id=key),
        ev(best_first[0], "ticket_closed", RELEASE + timedelta(hours=3), ticket_id=key),
    ]
    h.feed(closing)
    opened = json.loads(h.engine.state.get_meta("queue_open:telesales") or "{}")
    assert len(opened) == 99
    assert key not in opened


def test_open_tickets_survive_a_restart(tmp_path: Path) -> None:
    """Over SQLite, a new engine counts the tickets opened before it: day 2 opens only the room
    max_open leaves."""
    points = _points(700)
    path = tmp_path / "state.db"
    first = _candidates(points, "overflow: next_day, max_open: 400", SQLiteStore(path))
    first.advance(RELEASE)
    assert len(first.tickets.opened) == 300
    first.state.close()  # type: ignore[attr-defined]
    second = harness(
        [compile_journey(CALLS)],
        [],
        start=RELEASE,
        policy=policies(_queue("overflow: next_day, max_open: 400")),
        state=SQLiteStore(path),
        profile_store=first.profiles,
    )
    second.advance(RELEASE + timedelta(days=1))
    best_first = sorted(points, key=lambda c: -points[c])
    assert [t.customer_id for t in second.tickets.opened] == best_first[300:400]


def test_a_close_of_another_customers_ticket_is_quarantined_and_closes_nothing() -> None:
    """A ticket_closed on one customer's stream naming another's open ticket is quarantined."""
    points = _points(4)
    h = _candidates(points, "overflow: next_day, max_open: 2")
    h.advance(RELEASE)
    ticket = h.tickets.opened[0]
    other = next(c for c in points if c != ticket.customer_id)
    key = ticket.idempotency_key
    h.feed([ev(other, "ticket_closed", RELEASE + timedelta(hours=1), ticket_id=key)])
    opened = json.loads(h.engine.state.get_meta("queue_open:telesales") or "{}")
    assert opened[key] == ticket.customer_id
    [(event, reason)] = h.engine.quarantine
    assert event["customer_id"] == other
    assert reason.startswith("not_own_ticket: ")
    h.feed([ev(ticket.customer_id, "ticket_closed", RELEASE + timedelta(hours=2), ticket_id=key)])
    assert key not in json.loads(h.engine.state.get_meta("queue_open:telesales") or "{}")


# --------------------------------------------------------------------------- paused journeys

#: The same ticket from another journey, entered at card issue.
OTHER = CALLS.replace("journey calls", "journey other").replace("card_activated", "card_issued")


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh store of each kind (PostgreSQL: a database of its own, shared by buckets)."""
    if request.param == "memory":
        yield MemoryStateStore()
    elif request.param == "sqlite":
        with SQLiteStore(tmp_path / "state.db") as s:
            yield s
    else:
        from journeydsl.runtime.stores.postgres import PostgresStore

        with PostgresStore(request.getfixturevalue("pg_dsn"), buckets=4) as s:
            yield s


def _paused_calls(store: Any, queue: str, points: dict[str, int], until: datetime) -> Harness:
    """`calls` (customers c…) and `other` (customers o…) ticket the same queue, of capacity 2,
    at DAY1 10:00; calls is paused from 12:00 to ``until``, then resumed."""
    shared = not isinstance(store, MemoryStateStore)
    h = harness(
        [compile_journey(CALLS), compile_journey(OTHER)],
        [make_profile(c, loyalty_points=p) for c, p in points.items()],
        start=DAY1 - timedelta(hours=1),
        policy=policies(f"queues: [{{queue: telesales, capacity: 2, rank: points, {queue}}}]"),
        state=store,
        events=store if shared else None,
        profile_store=store if shared else None,
    )
    h.feed(
        [
            ev(c, "card_activated", DAY1, card_id=f"k-{c}")
            if c.startswith("c")
            else ev(c, "card_issued", DAY1, card_id=f"k-{c}", product="gold")
            for c in points
        ]
    )
    _advance(h, DAY1 + timedelta(hours=2))
    h.engine.control.pause("calls", by="ops")
    _advance(h, until)
    h.engine.control.resume("calls", timers="fire", by="ops")
    h.engine.tick()  # (the resume, at its time)
    _advance(h, RELEASE + timedelta(days=6))
    return h


def _advance(h: Harness, until: datetime) -> None:
    """``h.advance``, failing where the engine wakes again and again at one time (a queue
    whose release waits for tickets that never come)."""
    for _ in range(100):
        wake = h.engine.next_wakeup()
        if wake is None or wake > until:
            h.clock.set(until)
            return
        h.clock.set(wake)
        h.engine.tick(wake)
    raise AssertionError(f"the engine is stuck at {h.engine.next_wakeup()}")


def _opened(h: Harness) -> list[tuple[str, str]]:
    return [(t.customer_id, t.at.strftime("%m-%d %H:%M")) for t in h.tickets.opened]


def test_a_paused_journeys_tickets_wait_for_the_release_after_the_resume(store: Any) -> None:
    """While calls is paused over two releases, other's tickets are released as usual (calls'
    better-ranked ones take no room and hold nothing up); resumed, calls' tickets are not
    turned away by the release that left them out: they take the next one."""
    points = {"c1": 500, "c2": 400, "o1": 40, "o2": 30, "o3": 20, "o4": 10}
    h = _paused_calls(store, "overflow: next_day", points, RELEASE + timedelta(days=1, hours=4))
    assert _opened(h) == [
        ("o1", "01-06 08:00"),
        ("o2", "01-06 08:00"),
        ("o3", "01-07 08:00"),
        ("o4", "01-07 08:00"),
        ("c1", "01-08 08:00"),
        ("c2", "01-08 08:00"),
    ]
    assert [a for a in h.actions if a["kind"] == "suppressed"] == []


def test_overflow_drop_does_not_drop_the_tickets_a_paused_journey_held() -> None:
    """overflow: drop: the release made while calls was paused does not drop calls' tickets
    once it is resumed (it never ranked them); the next release opens them."""
    points = {"c1": 500, "c2": 400, "o1": 40, "o2": 30}
    h = _paused_calls(MemoryStateStore(), "overflow: drop", points, RELEASE + timedelta(hours=4))
    assert _opened(h) == [
        ("o1", "01-06 08:00"),
        ("o2", "01-06 08:00"),
        ("c1", "01-07 08:00"),
        ("c2", "01-07 08:00"),
    ]
    assert [a for a in h.actions if a["kind"] == "suppressed"] == []


def test_max_age_does_not_count_the_time_a_journey_was_paused(store: Any) -> None:
    """max_age 2d, queued on day 1 at 10:00, paused from 12:00 for two days: resumed on day 3,
    the tickets have waited 2h; the release then takes two and carries the rest over (not
    dropped), and day 4's carries the last (22h old: 2d 22h by the clock) to day 5."""
    points = {"c1": 50, "c2": 40, "c3": 30, "c4": 20, "c5": 10}
    until = RELEASE + timedelta(days=1, hours=4)
    h = _paused_calls(store, "overflow: next_day, max_age: 2d", points, until)
    assert _opened(h) == [
        ("c1", "01-07 12:00"),
        ("c2", "01-07 12:00"),
        ("c3", "01-08 08:00"),
        ("c4", "01-08 08:00"),
        ("c5", "01-09 08:00"),
    ]
    assert [a for a in h.actions if a["kind"] == "suppressed"] == []
