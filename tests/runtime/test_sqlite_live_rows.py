"""SQLiteStore's caches of what the engine reads around every step: the live instance rows of the
customers used last (an LRU of ``live_cache`` customers), and the due index of timers and pending
outbox entries, all moved by the store's own writes.

Each read is checked against the file (a read-only store with no such cache) or a reference.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.runtime.protocols import Contact, OutboxEntry
from journeydsl.runtime.stores import _sqlite_rows as sqlite_rows
from journeydsl.runtime.stores._due_index import DueIndex
from journeydsl.runtime.stores.sqlite import SQLiteStore

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)


def record(iid: str, customer: str, step: int = 0) -> Any:
    """A waiting record whose log has ``step + 1`` entries."""
    return {
        "id": iid,
        "customer_id": customer,
        "journey": "j",
        "version": 1,
        "status": "waiting",
        "due": (T0 + timedelta(hours=step)).isoformat(),
        "vars": {"step": step},
        "log": [{"at": T0.isoformat(), "what": "enter"}]
        + [{"at": T0.isoformat(), "what": f"step {n}"} for n in range(step)],
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "s.sqlite", live_cache=2) as s:
        yield s


def from_file(store: SQLiteStore, customer: str) -> list[Any]:
    """The customer's live records as the file has them (a read-only store keeps no rows)."""
    with SQLiteStore(store.path, readonly=True, live_cache=0) as reader:
        return reader.live_instances_of(customer)


def selects(store: SQLiteStore, read: Any) -> list[str]:
    """The SELECT statements ``read()`` ran on the store's connection."""
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    try:
        read()
    finally:
        store._conn.set_trace_callback(None)
    return [s for s in statements if s.startswith("SELECT") and "instances" in s]


def test_a_customer_read_once_is_served_from_memory(store: SQLiteStore) -> None:
    """The second read of a customer's live records runs no query, and equals the file's."""
    store.commit([record("j/c1/1", "c1"), record("j/c1/2", "c1")], [])
    first = store.live_instances_of("c1")
    assert selects(store, lambda: store.live_instances_of("c1")) == []
    assert selects(store, lambda: store.live_instance("j/c1/2")) == []
    assert store.live_instances_of("c1") == first == from_file(store, "c1")


def test_writes_move_the_kept_rows(store: SQLiteStore) -> None:
    """A step's commit, a new instance and a delivery's record are what the next read gives."""
    store.commit([record("j/c1/1", "c1")], [])
    live = store.live_instances_of("c1")[0]
    live["log"].append({"at": T0.isoformat(), "what": "step 0"})
    live["vars"] = {"step": 1}
    store.commit([live, record("j/c1/2", "c1")], [])
    entry = OutboxEntry("k1", "send", "c1", {"x": 1}, T0)
    store.commit([], [entry])
    again = store.live_instances_of("c1")[0]
    again["log"].append({"at": T0.isoformat(), "what": "deliver"})
    entry.status = "done"
    contact = Contact("k1", "c1", T0, "sms", "marketing", "j", "t")
    store.record_delivery(entry, contact, again)
    assert [r["id"] for r in store.live_instances_of("c1")] == ["j/c1/1", "j/c1/2"]
    assert store.live_instances_of("c1") == from_file(store, "c1")
    assert store.live_instance("j/c1/1") == from_file(store, "c1")[0]


def test_the_least_recently_used_customer_is_let_go(store: SQLiteStore) -> None:
    """With room for two customers, reading a third lets the least recently used go: it is
    read from the file again, the others are not."""
    for c in ("c1", "c2", "c3"):
        store.commit([record(f"j/{c}/1", c)], [])
    store.live_instances_of("c1")
    store.live_instances_of("c2")
    store.live_instances_of("c1")  # (c2 is now the least recently used)
    store.live_instances_of("c3")
    assert selects(store, lambda: store.live_instances_of("c1")) == []
    assert selects(store, lambda: store.live_instances_of("c2")) != []
    assert len(store._live.by_customer) == 2
    assert store.live_instances_of("c2") == from_file(store, "c2")


def test_a_rolled_back_batch_drops_the_kept_rows(store: SQLiteStore) -> None:
    """What a batch wrote is not served after the batch rolls back."""
    store.commit([record("j/c1/1", "c1")], [])
    before = store.live_instances_of("c1")

    def step_then_crash() -> None:
        with store.batch():
            moved = store.live_instances_of("c1")[0]
            moved["vars"] = {"step": 9}
            store.commit([moved, record("j/c1/2", "c1")], [])
            assert len(store.live_instances_of("c1")) == 2
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        step_then_crash()
    assert store.live_instances_of("c1") == before == from_file(store, "c1")


def test_another_connections_commit_is_seen(store: SQLiteStore) -> None:
    """Rows another connection commits to the file are read again."""
    store.commit([record("j/c1/1", "c1")], [])
    store.live_instances_of("c1")
    other = sqlite3.connect(store.path)
    try:
        with other:
            other.execute(
                sqlite_rows._UPSERT_INSTANCE, sqlite_rows.InstanceWrite(record("j/c1/2", "c1")).row
            )
    finally:
        other.close()
    assert [r["id"] for r in store.live_instances_of("c1")] == ["j/c1/1", "j/c1/2"]


def test_a_negative_cache_size_is_refused(tmp_path: Path) -> None:
    """live_cache below 0 is a clear error."""
    with pytest.raises(ValueError, match="live_cache"):
        SQLiteStore(tmp_path / "s.sqlite", live_cache=-1)


def crash_in_a_batch(s: SQLiteStore, c: str, n: int) -> None:
    """A batch that writes a new instance of ``c``, reads it, then raises."""
    with s.batch():
        s.commit([record(f"j/{c}/x{n}", c)], [])
        s.live_instances_of(c)
        raise RuntimeError("crash")


OPS = st.lists(
    st.tuples(
        st.sampled_from(["new", "step", "read", "one", "deliver", "crash"]),
        st.sampled_from(["c1", "c2", "c3", "c4"]),
    ),
    max_size=30,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, room=st.integers(min_value=0, max_value=3))
def test_kept_rows_always_read_as_the_file(tmp_path: Path, ops: list[Any], room: int) -> None:
    """Whatever the writes, reads, rollbacks and the room, every live read equals the file's."""
    path = tmp_path / f"p{room}-{abs(hash(str(ops)))}.sqlite"
    with SQLiteStore(path, live_cache=room) as s:
        counts: dict[str, int] = {}
        for n, (op, c) in enumerate(ops):
            have = counts.get(c, 0)
            if op == "new" or (have == 0 and op in ("step", "deliver")):
                counts[c] = have + 1
                s.commit([record(f"j/{c}/{have + 1}", c)], [])
            elif op == "step":
                live = s.live_instances_of(c)[-1]
                live["log"].append({"at": T0.isoformat(), "what": f"op {n}"})
                s.commit([live], [])
            elif op == "deliver":
                live = s.live_instances_of(c)[0]
                live["log"].append({"at": T0.isoformat(), "what": "deliver"})
                entry = OutboxEntry(f"k{n}", "send", c, {}, T0, status="done")
                s.record_delivery(entry, None, live)
            elif op == "crash":
                with pytest.raises(RuntimeError, match="crash"):
                    crash_in_a_batch(s, c, n)
            elif op == "one" and have:
                assert s.live_instance(f"j/{c}/1") == from_file(s, c)[0]
            assert s.live_instances_of(c) == from_file(s, c)
        assert len(s._live.by_customer) <= room


INDEX_OPS = st.lists(
    st.tuples(
        st.sampled_from(["put", "discard", "due", "first"]),
        st.sampled_from(["a", "b", "c", "d", "e"]),
        st.sampled_from(["1", "2", "3", "4"]),
        st.integers(min_value=0, max_value=4),
    ),
    max_size=60,
)


@settings(max_examples=300)
@given(ops=INDEX_OPS)
def test_the_due_index_answers_as_sorting_everything(ops: list[Any]) -> None:
    """The in-memory index of timers and pending entries gives what sorting every live item by
    (due, key) gives, whatever the puts, moves and discards (stale heap entries never show)."""
    index: DueIndex[str] = DueIndex()
    reference: dict[str, tuple[str, str]] = {}
    for op, key, due, limit in ops:
        if op == "put":
            index.put(key, due, f"row {key}{due}")
            reference[key] = (due, f"row {key}{due}")
        elif op == "discard":
            index.discard(key)
            reference.pop(key, None)
        everything = sorted((d, k, row) for k, (d, row) in reference.items())
        if op == "due":
            assert index.due(due, limit) == [i for i in everything if i[0] <= due][:limit]
        assert index.first() == (everything[0] if everything else None)
        assert len(index) == len(reference)


def test_the_page_cache_is_the_size_asked(tmp_path: Path) -> None:
    """``cache_mb`` sets the writer's page cache (SQLite's default, 2 MB, is small for a file of
    a million events); a negative size is refused."""
    with SQLiteStore(tmp_path / "s.sqlite", cache_mb=16) as s:
        assert s._conn.execute("PRAGMA cache_size").fetchone()[0] == -16 * 1024
    with pytest.raises(ValueError, match="cache_mb"):
        SQLiteStore(tmp_path / "t.sqlite", cache_mb=-1)


@pytest.mark.parametrize("synchronous", ["FULL", "NORMAL"])
def test_what_runs_after_a_batch_commits_shares_the_next_sync(
    tmp_path: Path, synchronous: Any
) -> None:
    """The callbacks of a committed batch (its deliveries) commit without a sync of their own
    (the next commit's sync covers them), and the store's setting is back at once after."""
    with SQLiteStore(tmp_path / "s.sqlite", synchronous=synchronous) as s:
        statements: list[str] = []
        s._conn.set_trace_callback(statements.append)
        with s.batch():
            s.commit([record("j/c1/1", "c1")], [OutboxEntry("k1", "send", "c1", {}, T0)])
            s.after_commit(lambda: s.update_outbox(OutboxEntry("k1", "send", "c1", {}, T0)))
        pragmas = [x for x in statements if x.startswith(("PRAGMA synchronous", "BEGIN", "COMMIT"))]
        level = s._conn.execute("PRAGMA synchronous").fetchone()[0]
    if synchronous == "FULL":
        assert pragmas == [
            "BEGIN IMMEDIATE",
            "COMMIT",
            "PRAGMA synchronous=NORMAL",
            "BEGIN IMMEDIATE",
            "COMMIT",
            "PRAGMA synchronous=FULL",
        ]
        assert level == 2  # FULL
    else:
        assert pragmas == ["BEGIN IMMEDIATE", "COMMIT", "BEGIN IMMEDIATE", "COMMIT"]
        assert level == 1  # NORMAL
