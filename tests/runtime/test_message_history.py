"""``sent(…)`` at run time: the engine records every delivered message when a journey reads the
message history, counts it across journeys, keeps it as long as the longest window, and refuses a
state store without a contact history."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl import ir
from journeydsl.expr.types import BOOL
from journeydsl.runtime.history import reads_sent
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import MemoryEventStore, MemoryProfileStore, MemoryStateStore
from tests.runtime.policies.harness import ONE_SMS, compile_journey, harness, local, policies
from tests.runtime.scenario import build, ev, example, profile, txn

#: A push nudge on a transaction, unless a marketing message reached the customer this week.
NUDGE = """
journey nudge
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
  reentry always
if sent(marketing in last 7d) == 0 {
  send push first_spend_nudge marketing fallback none
}
"""


def _daily(store: Any) -> list[str]:
    h = harness(
        [example("app_promo")],
        [profile("a1", app=True)],
        start=local("2026-01-01 00:00"),
        policy=None,
        state=store,
        events=store,
        profile_store=store,
    )
    h.history([ev("a1", "card_activated", local("2025-06-01 10:00"), card_id="k1")])
    h.advance(local("2026-03-20 00:00"))
    return h.times("a1", "push")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_at_most_once_per_60_days_when_entered_daily(kind: str, tmp_path: Path) -> None:
    """examples/app_promo enters every day and pushes only when sent(app_promo in last 60d) is
    0: on 1 January and again 60 days later, on both stores, with no contact policy."""
    store = SQLiteStore(tmp_path / "s.sqlite") if kind == "sqlite" else None
    try:
        assert _daily(store) == ["2026-01-01 10:00", "2026-03-02 10:00"]
    finally:
        if store is not None:
            store.close()


def test_sent_counts_messages_of_other_journeys() -> None:
    """A marketing SMS from one journey holds back the other journey's nudge for 7 days: the
    transaction 3 days after it gets no push, the one 8 days after it does."""
    h = harness(
        [compile_journey(ONE_SMS), compile_journey(NUDGE)],
        [profile("c1", app=True)],
        start=local("2026-01-01 00:00"),
        policy=None,
    )
    h.feed(
        [
            ev("c1", "card_activated", local("2026-01-01 10:00"), card_id="k1"),
            txn("c1", local("2026-01-04 10:00"), 100_000),
            txn("c1", local("2026-01-09 10:00"), 100_000),
        ]
    )
    h.advance(local("2026-01-10 00:00"))
    assert h.times("c1", "sms") == ["2026-01-01 10:00"]
    assert h.times("c1", "push") == ["2026-01-09 10:00"]


def test_the_pruning_horizon_covers_the_longest_sent_window() -> None:
    """The history is kept as long as the longest of the journeys' sent() windows and the
    policies' caps: 60 days for app_promo under a 7-day cap, 30 days for a 30-day cap alone."""
    cap = "frequency_caps:\n  - {name: c, channels: [sms], max: 2, window: %s}\n"
    start = local("2026-01-01 00:00")
    with_sent = build([example("app_promo")], [], start=start, policies=policies(cap % "7d"))
    assert with_sent.engine._delivery._horizon == timedelta(days=60)
    alone = build([example("app_promo")], [], start=start)
    assert alone.engine._delivery._horizon == timedelta(days=60)
    caps_only = build([compile_journey(ONE_SMS)], [], start=start, policies=policies(cap % "30d"))
    assert caps_only.engine._delivery._horizon == timedelta(days=30)
    none = build([compile_journey(ONE_SMS)], [], start=start)
    assert none.engine._delivery._horizon is None


class _NoHistory:
    """A state store without a contact history (everything else delegated)."""

    def __init__(self) -> None:
        self._inner = MemoryStateStore()

    def __getattr__(self, name: str) -> Any:
        if name in ("contacts", "record_delivery", "prune_contacts"):
            raise AttributeError(name)
        return getattr(self._inner, name)


def test_a_store_without_contact_history_is_refused_by_name() -> None:
    """A journey reading sent() over a store that keeps no contact history fails at start,
    naming the journey and what the store lacks."""
    with pytest.raises(TypeError, match=r"journey 'app_promo' reads the message history"):
        build(
            [example("app_promo")],
            [],
            start=local("2026-01-01 00:00"),
            state=_NoHistory(),
            events=MemoryEventStore(),
            profile_store=MemoryProfileStore([]),
        )


def test_the_compiler_records_the_longest_sent_window() -> None:
    """A journey's history_window is the longest of its sent() windows, wherever they are
    (a condition, a send parameter); None without sent(); not part of the graph's identity."""
    two = compile_journey(
        NUDGE.replace("journey nudge", "journey two_windows").replace(
            "if sent(marketing in last 7d) == 0 {",
            "if sent(marketing in last 7d) == 0 or sent(push in last 45d) < 3 {",
        )
    )
    assert two.history_window == timedelta(days=45)
    assert compile_journey(NUDGE).history_window == timedelta(days=7)
    assert compile_journey(ONE_SMS).history_window is None
    assert "history_window" not in str(two.to_json())


#: A push once the activation SMS of the other journey is 2 days old.
AFTER_THE_SMS = """
journey after_the_sms
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
wait for sent(install_digital_app in last 2d) == 0 within 10d {
  send push first_spend_nudge marketing fallback none
}
"""


def test_a_wait_on_sent_wakes_when_the_message_leaves_the_window() -> None:
    """`wait for sent(… in last 2d) == 0` wakes when the counted message turns 2 days old,
    by time alone: the SMS of 1 January 10:00 lets the push go on 3 January 10:00."""
    h = harness(
        [compile_journey(ONE_SMS), compile_journey(AFTER_THE_SMS)],
        [profile("c1", app=True)],
        start=local("2026-01-01 00:00"),
        policy=None,
    )
    h.feed(
        [
            ev("c1", "card_activated", local("2026-01-01 10:00"), card_id="k1"),
            txn("c1", local("2026-01-02 10:00"), 100_000),
        ]
    )
    h.advance(local("2026-01-20 00:00"))
    assert h.times("c1", "push") == ["2026-01-03 10:00"]


#: An SMS that quiet hours hold overnight, and a push once it has reached the customer.
AFTER_THE_HELD_SMS = """
journey after_the_held_sms
uses events "events.yaml"
uses templates "templates.yaml"
quiet hours 21:00 to 08:00 for sms
entry on card_activated
send sms install_digital_app marketing fallback none
wait for sent(install_digital_app in last 1d) >= 1 within 3d {
  send push first_spend_nudge marketing fallback none
}
"""


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_wait_on_sent_wakes_when_a_held_message_is_delivered(kind: str, tmp_path: Path) -> None:
    """`wait for sent(…) >= 1` after an SMS that quiet hours hold from 22:00: the held SMS is
    not counted, so the wait does not go on at 22:00; it goes on when the SMS is delivered at
    08:00 (not at its timeout 3 days later), on both stores, and the log says by what."""
    store = SQLiteStore(tmp_path / "s.sqlite") if kind == "sqlite" else None
    try:
        h = harness(
            [compile_journey(AFTER_THE_HELD_SMS)],
            [profile("c1", app=True)],
            start=local("2026-01-01 00:00"),
            policy=None,
            state=store,
            events=store,
            profile_store=store,
        )
        h.feed([ev("c1", "card_activated", local("2026-01-01 22:00"), card_id="k1")])
        h.advance(local("2026-01-06 00:00"))
        assert h.times("c1", "sms") == ["2026-01-02 08:00"]
        assert h.times("c1", "push") == ["2026-01-02 08:00"]
        ((status, outcome),) = h.outcomes("c1")
        assert (status, outcome) == ("ended", "completed")
        (woke,) = [e for e in h.engine.explain("c1")[0]["log"] if e["what"] == "condition"]
        assert woke["at"] == local("2026-01-02 08:00").isoformat()
        assert (woke.get("by"), woke.get("template"), woke.get("channel")) == (
            "delivery",
            "install_digital_app",
            "sms",
        )
    finally:
        if store is not None:
            store.close()


_HELD_SMS = """
journey HEADER
uses events "events.yaml"
uses templates "templates.yaml"
quiet hours 21:00 to 08:00 for sms
entry on card_activated
send sms install_digital_app marketing fallback none
"""
#: `wait first` with a branch on sent(…).
FIRST_ON_SENT = (
    _HELD_SMS.replace("HEADER", "first_on_sent")
    + """
wait first within 3d {
  on transaction {
    set spent = true
  }
  when sent(install_digital_app in last 1d) >= 1 {
    send push first_spend_nudge marketing fallback none
  }
}
"""
)
#: A parallel block with a branch on sent(…).
PARALLEL_ON_SENT = (
    _HELD_SMS.replace("HEADER", "parallel_on_sent")
    + """
parallel all {
  branch {
    wait for transaction within 3d
  }
  branch {
    wait for sent(install_digital_app in last 1d) >= 1 within 3d {
      send push first_spend_nudge marketing fallback none
    }
  }
}
"""
)


@pytest.mark.parametrize("source", [FIRST_ON_SENT, PARALLEL_ON_SENT])
def test_a_delivery_wakes_a_wait_first_and_a_parallel_branch_on_sent(source: str) -> None:
    """A `wait first` branch on sent(…) and a parallel block's branch on sent(…) go on when
    the held SMS is delivered at 08:00, not at their timeouts."""
    h = harness(
        [compile_journey(source)],
        [profile("c1", app=True)],
        start=local("2026-01-01 00:00"),
        policy=None,
    )
    h.feed([ev("c1", "card_activated", local("2026-01-01 22:00"), card_id="k1")])
    h.advance(local("2026-01-06 00:00"))
    assert h.times("c1", "push") == ["2026-01-02 08:00"]


def test_reads_sent_looks_past_string_literals() -> None:
    """A condition reads the message history when it calls sent(…), not when a string in it
    holds the text."""
    sent = compile_journey(AFTER_THE_HELD_SMS).nodes["wait_for_condition"]
    assert isinstance(sent, ir.WaitFor)
    assert reads_sent(sent.condition)
    text = ir.CExpr('profile.segment == "sent(x in last 1d)"', BOOL, lambda c, e: False)
    assert not reads_sent(text)
    assert not reads_sent(None)


#: Two SMS that quiet hours hold overnight, and a push once one of them has been delivered
#: (the one the store hands over first, so that the other is still held when the wait wakes).
AFTER_TWO_HELD_SMS = AFTER_THE_HELD_SMS.replace(
    "send sms install_digital_app marketing fallback none\n",
    "send sms install_digital_app marketing fallback none\n"
    "send sms first_spend_nudge marketing fallback none\n",
).replace("sent(install_digital_app in last 1d)", "sent(first_spend_nudge in last 1d)")


def test_a_delivery_that_wakes_a_wait_supersedes_no_held_message() -> None:
    """The delivery that makes `wait for sent(…)` true is not an event: the other SMS held
    with it still leaves at 08:00, and the push follows."""
    h = harness(
        [compile_journey(AFTER_TWO_HELD_SMS)],
        [profile("c1", app=True)],
        start=local("2026-01-01 00:00"),
        policy=None,
    )
    h.feed([ev("c1", "card_activated", local("2026-01-01 22:00"), card_id="k1")])
    h.advance(local("2026-01-06 00:00"))
    assert h.times("c1", "sms") == ["2026-01-02 08:00", "2026-01-02 08:00"]
    assert h.times("c1", "push") == ["2026-01-02 08:00"]
    assert h.suppressed("c1") == []
