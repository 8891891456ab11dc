"""Entry throttling: a segment launch lets at most N customers in per slot; the rest enter at
the following slots, in a deterministic order, and a restart resumes the backlog."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.stores.memory import MemoryStateStore
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.yamlfile import InputError
from tests.runtime.policies.harness import Harness, compile_journey, harness, local, policies
from tests.runtime.policies.harness import profile as make_profile

#: Every customer with an activated card, daily at 09:00, once.
LAUNCH = """
journey card_launch
uses events "events.yaml"
uses templates "templates.yaml"
entry segment has(card_activated)
  daily at 09:00
send sms install_digital_app marketing fallback none
"""

RATE = "entry_rates: [{journey: card_launch, max: 100, per: 1h}]"
START = local("2026-01-05 08:00")
NINE = local("2026-01-05 09:00")


def _launch(customers: int, text: str = RATE, state: MemoryStateStore | None = None) -> Harness:
    ids = [f"c{i:04}" for i in range(customers)]
    h = harness(
        [compile_journey(LAUNCH)],
        [make_profile(c) for c in ids],
        start=START,
        policy=policies(text),
        state=state,
    )
    h.history(
        [
            {"customer_id": c, "type": "card_activated", "at": "2026-01-01T10:00:00+07:00"}
            | {"data": {"card_id": f"k-{c}"}}
            for c in ids
        ]
    )
    return h


def _entries(h: Harness, customers: int) -> dict[str, datetime]:
    return {
        f"c{i:04}": datetime.fromisoformat(inst["entered_at"])
        for i in range(customers)
        for inst in h.instances(f"c{i:04}")
    }


def test_a_launch_of_250_enters_100_an_hour_in_customer_order() -> None:
    """250 selected at 09:00, 100/h: 100 enter at 09:00, 100 at 10:00, 50 at 11:00, by id."""
    h = _launch(250)
    h.advance(local("2026-01-05 12:00"))
    entered = _entries(h, 250)
    assert len(entered) == 250
    hour = timedelta(hours=1)
    assert Counter(entered.values()) == Counter({NINE: 100, NINE + hour: 100, NINE + 2 * hour: 50})
    order = sorted(entered, key=lambda c: (entered[c], c))
    assert order == [f"c{i:04}" for i in range(250)]
    # Their messages follow their entries (nothing else holds them).
    assert Counter(m.at for m in h.channels["sms"].delivered) == Counter(entered.values())


def test_a_daily_segment_queues_new_customers_behind_the_waiting_ones() -> None:
    """A backlog larger than a day's room is still served first the next day, nobody twice."""
    h = _launch(30, "entry_rates: [{journey: card_launch, max: 10, per: 12h}]")
    h.advance(local("2026-01-07 08:00"))
    entered = _entries(h, 30)
    assert Counter(entered.values()) == Counter(
        {NINE: 10, local("2026-01-05 21:00"): 10, local("2026-01-06 09:00"): 10}
    )
    assert sum(len(h.instances(f"c{i:04}")) for i in range(30)) == 30


def test_a_pause_holds_the_backlog_until_the_resume() -> None:
    """Paused at 09:30 with 150 of 250 waiting, resumed at 12:30: nobody of the backlog is
    refused (and lost) at the slots of the pause; they enter at the resume, slot by slot, and
    every one of the 250 is in."""
    h = _launch(250)
    h.advance(local("2026-01-05 09:30"))
    h.engine.control.pause("card_launch", by="ops")
    h.clock.set(local("2026-01-05 11:00"))
    h.engine.tick(local("2026-01-05 11:00"))  # (a host ticking on: nothing of it may enter)
    h.advance(local("2026-01-05 12:30"))
    assert len(_entries(h, 250)) == 100  # (only the 09:00 slot's, before the pause)
    h.engine.control.resume("card_launch", timers="fire", by="ops")
    h.engine.tick(local("2026-01-05 12:30"))
    h.advance(local("2026-01-05 15:00"))
    entered = _entries(h, 250)
    assert len(entered) == 250
    hour = timedelta(hours=1)
    assert Counter(entered.values()) == Counter({NINE: 100, NINE + hour: 100, NINE + 2 * hour: 50})


def test_the_backlog_survives_a_restart(tmp_path: Path) -> None:
    """The backlog is engine meta: a new engine over the same SQLite file lets the rest in."""
    path = tmp_path / "state.db"
    first = _launch(250, state=SQLiteStore(path))  # type: ignore[arg-type]
    first.advance(NINE + timedelta(minutes=30))
    assert len(_entries(first, 250)) == 100
    first.state.close()  # type: ignore[attr-defined]
    second = harness(
        [compile_journey(LAUNCH)],
        [],
        start=NINE + timedelta(minutes=30),
        policy=policies(RATE),
        state=SQLiteStore(path),
        profile_store=first.profiles,
    )
    second.events = first.events
    second.advance(local("2026-01-05 12:00"))
    entered = _entries(second, 250)
    assert Counter(entered.values()) == Counter(
        {NINE: 100, NINE + timedelta(hours=1): 100, NINE + timedelta(hours=2): 50}
    )


@settings(max_examples=15, deadline=None)
@given(customers=st.integers(0, 60), room=st.integers(1, 25))
def test_entries_never_exceed_the_rate_and_nobody_is_lost(customers: int, room: int) -> None:
    """Any launch: each slot holds at most ``max`` entries, everybody enters, the same each run."""
    text = f"entry_rates: [{{journey: card_launch, max: {room}, per: 1h}}]"
    runs = []
    for _ in range(2):
        h = _launch(customers, text)
        h.advance(NINE + timedelta(hours=customers // room + 1))
        runs.append(_entries(h, customers))
    assert runs[0] == runs[1]
    assert len(runs[0]) == customers
    assert all(n <= room for n in Counter(runs[0].values()).values())


def test_two_rates_for_one_journey_are_refused() -> None:
    """A journey has one entry rate: a second is an error at the list's line."""
    text = "entry_rates:\n  - {journey: a, max: 1, per: 1h}\n  - {journey: a, max: 2, per: 1d}\n"
    with pytest.raises(InputError, match=r"policies\.yaml:2:3: error: entry_rates: two"):
        policies(text)
