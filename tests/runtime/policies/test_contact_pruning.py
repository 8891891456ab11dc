"""The contact history is kept as long as the frequency caps need it: the engine prunes, once a
day, what no cap's window can reach, on both stores, and the caps decide exactly as before."""

from __future__ import annotations

import random
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.delivery import PRUNE_EVERY
from journeydsl.runtime.policies.evaluator import PolicyEngine
from journeydsl.runtime.protocols import Contact, OutboxEntry
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import MemoryStateStore
from tests.runtime.policies.harness import compile_journey, harness, local, policies, profile
from tests.runtime.policies.test_caps import OFFER_PER_TXN
from tests.runtime.scenario import txn

CAP_2_PER_WEEK = """
frequency_caps:
  - {name: sms_2_per_7d, channels: [sms], categories: [marketing], max: 2, window: 7d}
"""


def _contact(n: int, days: int) -> tuple[OutboxEntry, Contact]:
    at = local("2026-01-01 10:00") + timedelta(days=days)
    entry = OutboxEntry(f"k{n}", "send", "c1", {}, at, status="done")
    return entry, Contact(f"k{n}", "c1", at, "sms", "marketing", "j", "t")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_prune_contacts_deletes_only_what_is_older(kind: str, tmp_path: Path) -> None:
    """prune_contacts(before) deletes the contacts made before ``before`` and says how many;
    later ones, and later contacts of the same key space, are kept."""
    store = MemoryStateStore() if kind == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    for n, days in enumerate((0, 1, 5, 9)):
        store.record_delivery(*_contact(n, days))
    assert store.prune_contacts(local("2026-01-06 10:00")) == 2
    kept = store.contacts("c1", local("2000-01-01 00:00"))
    assert [c.key for c in kept] == ["k2", "k3"]
    assert store.prune_contacts(local("2026-01-06 10:00")) == 0


def test_the_horizon_is_the_longest_window_of_any_cap() -> None:
    """history_horizon covers the top-level caps and every journey's override; without caps
    there is none (and nothing is pruned)."""
    text = (
        CAP_2_PER_WEEK
        + """
journeys:
  offer_per_txn:
    frequency_caps:
      - {name: monthly, channels: [sms], categories: [marketing], max: 5, window: 30d}
"""
    )
    assert PolicyEngine(policies(text)).history_horizon() == timedelta(days=30)
    assert PolicyEngine(policies(CAP_2_PER_WEEK)).history_horizon() == timedelta(days=7)
    assert PolicyEngine(policies("quiet_hours: []\n")).history_horizon() is None


def _run(times: list[str], prune: bool, tmp: Path | None) -> tuple[list[str], list[str], int]:
    store = SQLiteStore(tmp / "s.sqlite") if tmp is not None else None
    h = harness(
        [compile_journey(OFFER_PER_TXN)],
        [profile("c1")],
        start=local("2026-01-01 00:00"),
        policy=policies(CAP_2_PER_WEEK),
        state=store,
        events=store,
        profile_store=store,
    )
    if not prune:
        h.engine._delivery.prune_contacts = None
    h.feed(txn("c1", local(t), 100_000) for t in times)
    h.advance(local("2026-03-15 00:00"))
    left = len(h.state.contacts("c1", local("2000-01-01 00:00")))  # type: ignore[attr-defined]
    found = (h.times("c1"), h.suppressed("c1"), left)
    if store is not None:
        store.close()
    return found


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), count=st.integers(1, 30))
def test_pruning_never_changes_what_the_caps_decide(seed: int, count: int) -> None:
    """Any stream of offers over ten weeks under a 2-per-7-days cap: the same messages at the
    same minutes with and without pruning, and the pruned history keeps only what the last
    8 days (the window and a day's margin) can reach."""
    rng = random.Random(seed)
    start = local("2026-01-01 09:00")
    times = sorted(
        (start + timedelta(minutes=rng.randrange(70 * 24 * 60))).strftime("%Y-%m-%d %H:%M")
        for _ in range(count)
    )
    pruned = _run(times, prune=True, tmp=None)
    kept = _run(times, prune=False, tmp=None)
    assert pruned[:2] == kept[:2]
    assert pruned[2] <= kept[2]


def test_a_long_run_on_sqlite_keeps_a_bounded_history(tmp_path: Path) -> None:
    """Two offers a week for ten weeks on SQLite: every one is delivered as without pruning,
    and at the end the contacts table holds only the last 7 days and a day."""
    start = local("2026-01-01 09:00")
    times = [(start + timedelta(days=d)).strftime("%Y-%m-%d %H:%M") for d in range(0, 70, 3)]
    with_pruning = _run(times, prune=True, tmp=tmp_path)
    (tmp_path / "b").mkdir()
    without = _run(times, prune=False, tmp=tmp_path / "b")
    assert with_pruning[:2] == without[:2]
    delivered = [local(t) for t in without[0]]
    assert without[2] == len(delivered)  # without pruning: one contact per message, forever
    # With it: at most what the window and a day's margin reach back from the last prune,
    # which ran at most a day before the last delivery's tick.
    reach = timedelta(days=7) + 2 * PRUNE_EVERY
    assert with_pruning[2] <= sum(1 for t in delivered if delivered[-1] - t <= reach)
    assert with_pruning[2] < without[2]
