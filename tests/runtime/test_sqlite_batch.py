"""SQLiteStore group commits (``batch``) and its profile cache.

A batch makes every commit inside it one transaction, durable when the batch ends; profiles read
are cached, and the cache never serves a profile that another connection, or a rolled-back write,
has changed.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from journeydsl.compiler import compile_file
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import RecordingChannel, SteppableClock

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def waiting(iid: str, customer: str = "c1") -> Any:
    return {
        "id": iid,
        "customer_id": customer,
        "journey": "j",
        "version": 1,
        "status": "waiting",
        "due": (T0 + timedelta(days=1)).isoformat(),
    }


def _crash_in_batch(store: SQLiteStore, work: Callable[[], object]) -> None:
    with store.batch():
        work()
        raise RuntimeError("crash")


def _other_connection_sees(path: Path, sql: str) -> Any:
    with sqlite3.connect(path) as other:
        return other.execute(sql).fetchone()[0]


def test_a_batch_is_one_transaction_visible_to_others_when_it_ends(tmp_path: Path) -> None:
    """Commits inside a batch are invisible to another connection until the batch ends, then
    all of them are there."""
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as store:
        with store.batch():
            store.commit([waiting("a")], [], processed_event="e1")
            store.commit([waiting("b")], [OutboxEntry("k", "send", "c1", {}, T0)])
            assert store.instance("a") is not None  # the batch reads its own writes
            assert _other_connection_sees(path, "SELECT count(*) FROM instances") == 0
        assert _other_connection_sees(path, "SELECT count(*) FROM instances") == 2
        assert store.processed("e1")
        assert [e.key for e in store.pending_outbox(T0)] == ["k"]


def test_a_batch_that_raises_leaves_nothing(tmp_path: Path) -> None:
    """An exception out of the batch rolls back every commit made inside it."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(RuntimeError, match="crash"):
            _crash_in_batch(store, lambda: store.commit([waiting("a")], [], processed_event="e1"))
        assert store.instance("a") is None
        assert not store.processed("e1")


def test_a_failed_commit_inside_a_batch_undoes_only_itself(tmp_path: Path) -> None:
    """A commit that fails inside a batch is rolled back to its savepoint: the commits before
    it, and after it, are kept when the batch ends."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        with store.batch():
            store.commit([waiting("a")], [])
            broken: Any = {**waiting("c"), "customer_id": None}
            with pytest.raises(sqlite3.IntegrityError):
                # the record's customer is NULL: the database refuses it
                store.commit([waiting("b"), broken], [])
            store.commit([waiting("d")], [])
        assert [store.instance(i) is not None for i in "abcd"] == [True, False, False, True]


def test_the_engine_runs_inside_a_batch(tmp_path: Path) -> None:
    """An engine over a store ingests events inside one batch exactly as outside one."""
    journey = compile_file(EXAMPLES / "onboarding_new_cardholder.journey").journey
    assert journey is not None
    event = {
        "id": "e1",
        "customer_id": "c1",
        "type": "card_issued",
        "at": T0.isoformat(),
        "data": {"card_id": "k1", "product": "gold"},
    }
    sent = []
    for name, batched in (("plain", False), ("batched", True)):
        with SQLiteStore(tmp_path / f"{name}.sqlite") as store:
            store.add(Profile("c1", {}, {"email": True}, "Asia/Ho_Chi_Minh"))
            email = RecordingChannel("email")
            engine = Engine(
                [journey],
                events=store,
                profiles=store,
                state=store,
                clock=SteppableClock(T0),
                channels={"email": email},
                unhandled="withhold",  # only the welcome email matters here
            )
            if batched:
                with store.batch():
                    engine.ingest(event)
            else:
                engine.ingest(event)
            (instance,) = store.instances_of("c1")
            sent.append(([m.template for m in email.delivered], instance["status"]))
    assert sent[0] == sent[1] == (["welcome_activation_guide"], "waiting")


def _another_connection_writes(path: Path, sql: str, *args: Any) -> None:
    """A commit by another program (a second SQLiteStore on the file would be refused: one
    writer per database), e.g. an operator's ``sqlite3`` session."""
    other = sqlite3.connect(path)
    try:
        with other:
            other.execute(sql, args)
    finally:
        other.close()


def test_a_profile_changed_by_another_connection_is_read_again(tmp_path: Path) -> None:
    """The profile cache is dropped when another connection commits to the file."""
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as store:
        store.add(Profile("c1", {"segment": "mass"}, {"email": True}))
        assert store.get("c1").attributes == {"segment": "mass"}
        _another_connection_writes(
            path,
            "UPDATE profiles SET attributes = ? WHERE customer_id = 'c1'",
            '{"segment": "affluent"}',
        )
        assert store.get("c1").attributes == {"segment": "affluent"}
        assert store.get("c2") == Profile("c2")  # unknown, then known
        _another_connection_writes(
            path,
            "INSERT INTO profiles (customer_id, attributes, consent, timezone, tags) "
            "VALUES ('c2', '{}', ?, '', '[]')",
            '{"sms": true}',
        )
        assert store.get("c2").consent == {"sms": True}


def test_a_rolled_back_profile_write_is_not_served_from_the_cache(tmp_path: Path) -> None:
    """A profile read inside a batch that then rolls back is read again afterwards, as it was
    before the batch."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        store.add(Profile("c1", {"segment": "mass"}))
        seen: list[Profile] = []

        def update_and_read() -> None:
            store.update("c1", "segment", "affluent")
            seen.append(store.get("c1"))

        with pytest.raises(RuntimeError, match="crash"):
            _crash_in_batch(store, update_and_read)
        assert seen[0].attributes == {"segment": "affluent"}
        assert store.get("c1").attributes == {"segment": "mass"}
        store.tag("c1", "vip")
        assert store.get("c1").tags == frozenset({"vip"})
