"""SQLiteStore's fast paths: the UTC text of instants, and the earliest timer and pending outbox
entry kept in memory.

Each is checked against what a store without them answers: a store opened afresh on the same file
(its caches are empty), or the reference implementation kept here.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.runtime.protocols import OutboxEntry
from journeydsl.runtime.stores import _sqlite_rows as sqlite_rows
from journeydsl.runtime.stores.sqlite import SQLiteStore

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
FOREVER = datetime.max.replace(tzinfo=UTC)
ZONES = [
    UTC,
    ICT,
    timezone(timedelta(hours=-3, minutes=-30)),
    timezone(timedelta(hours=5, minutes=30, seconds=17)),
    timezone(timedelta(hours=-11, seconds=-1, microseconds=-250)),
    ZoneInfo("America/New_York"),
    ZoneInfo("Europe/London"),
    ZoneInfo("Australia/Lord_Howe"),
    ZoneInfo("Asia/Ho_Chi_Minh"),
]


def _reference_utc(t: datetime) -> str:
    """The UTC text as the store first computed it (astimezone, then isoformat)."""
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError("naive")
    try:
        u = t.astimezone(UTC)
    except OverflowError:
        return "0001-01-01T00:00:00.000000Z" if t.year == 1 else "9999-12-31T23:59:59.999999Z"
    return u.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


@settings(max_examples=500)
@given(
    st.datetimes(min_value=datetime.min, max_value=datetime.max),
    st.sampled_from(ZONES),
    st.sampled_from([0, 1]),
)
def test_utc_text_matches_astimezone(naive: datetime, zone: Any, fold: int) -> None:
    """The UTC text is the one astimezone(UTC) gives, for every zone, offset and fold."""
    t = naive.replace(tzinfo=zone, fold=fold)
    assert sqlite_rows._utc(t) == _reference_utc(t)
    assert sqlite_rows._utc(t) == _reference_utc(t)  # (and again, from the cache)
    if zone is not UTC and datetime.min.year < t.year < datetime.max.year:
        assert sqlite_rows._utc_text(t.isoformat()) == _reference_utc(
            datetime.fromisoformat(t.isoformat())
        )


def test_utc_text_refuses_naive_datetimes() -> None:
    """A naive datetime is refused, as before."""
    with pytest.raises(ValueError, match="naive"):
        sqlite_rows._utc(datetime(2026, 1, 5))


def record(
    iid: str,
    customer: str = "c1",
    status: str = "waiting",
    due: datetime | None = T0,
    log: list[Any] | None = None,
) -> Any:
    return {
        "id": iid,
        "customer_id": customer,
        "journey": "j",
        "version": 1,
        "status": status,
        "due": due.isoformat() if due is not None else None,
        "vars": {"n": 1},
        "log": log if log is not None else [{"at": T0.isoformat(), "what": "enter"}],
    }


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SQLiteStore]:
    with SQLiteStore(tmp_path / "s.sqlite") as s:
        yield s


def commit_elsewhere(
    store: SQLiteStore, records: list[dict[str, Any]], outbox: list[OutboxEntry]
) -> None:
    """What ``commit`` writes, committed by another connection to the file (another program:
    a second SQLiteStore would be refused), with the store's own statements."""
    other = sqlite3.connect(store.path)
    try:
        with other:
            other.executemany(
                sqlite_rows._UPSERT_INSTANCE, [sqlite_rows.InstanceWrite(r).row for r in records]
            )
            other.executemany(
                "INSERT OR IGNORE INTO outbox (key, kind, customer_id, payload, not_before_utc, "
                "not_before_iso, attempts, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [sqlite_rows._outbox_row(e) for e in outbox],
            )
    finally:
        other.close()


def test_a_rolled_back_batch_drops_the_caches(store: SQLiteStore) -> None:
    """What a batch wrote and read is not served after the batch rolls back."""
    store.commit([record("j/c1/1", due=T0 + timedelta(hours=2))], [])
    assert store.next_due() == T0 + timedelta(hours=2)
    assert store.pending_outbox(FOREVER, limit=1) == []

    def move_then_crash() -> None:
        with store.batch():
            moved = store.instances_of("c1")[0]
            moved["due"] = T0.isoformat()
            moved["log"].append({"what": "moved"})
            store.commit([moved], [OutboxEntry("k1", "send", "c1", {"x": 1}, T0)])
            assert store.next_due() == T0
            assert len(store.instances_of("c1")[0]["log"]) == 2
            assert [e.key for e in store.pending_outbox(T0, limit=1)] == ["k1"]
            raise RuntimeError("crash")

    with pytest.raises(RuntimeError, match="crash"):
        move_then_crash()
    assert store.next_due() == T0 + timedelta(hours=2)
    assert store.due(T0) == []
    assert len(store.instances_of("c1")[0]["log"]) == 1
    assert store.pending_outbox(FOREVER, limit=1) == []


def test_a_commit_failing_midway_drops_the_caches(store: SQLiteStore) -> None:
    """A commit that fails after writing its instance row leaves no trace in the caches."""
    store.commit([record("j/c1/1", due=T0 + timedelta(hours=1))], [])
    assert store.next_due() == T0 + timedelta(hours=1)
    bad = record("j/c1/1", due=T0)
    broken: Any = {**record("j/c2/1"), "journey": None}
    with pytest.raises(sqlite3.IntegrityError):
        store.commit([bad, broken], [])
    assert store.next_due() == T0 + timedelta(hours=1)
    assert store.instance("j/c1/1") == record("j/c1/1", due=T0 + timedelta(hours=1))


def test_another_connections_commit_is_seen(store: SQLiteStore) -> None:
    """Records, timers and outbox entries another connection commits are read again."""
    store.commit([record("j/c1/1", due=T0 + timedelta(hours=1))], [])
    assert store.instances_of("c1")[0]["status"] == "waiting"
    assert store.next_due() == T0 + timedelta(hours=1)
    assert store.pending_outbox(FOREVER, limit=1) == []
    commit_elsewhere(
        store,
        [record("j/c1/1", status="ended", due=None), record("j/c1/2", due=T0)],
        [OutboxEntry("k1", "send", "c1", {"x": 1}, T0)],
    )
    assert [r["status"] for r in store.instances_of("c1")] == ["ended", "waiting"]
    assert store.instance("j/c1/1") == record("j/c1/1", status="ended", due=None)
    assert store.next_due() == T0
    assert store.due(T0) == ["j/c1/2"]
    assert [e.key for e in store.pending_outbox(T0)] == ["k1"]


def test_an_outbox_key_that_exists_is_not_taken_for_a_new_entry(store: SQLiteStore) -> None:
    """A commit whose outbox key exists (ignored) does not move the earliest pending entry."""
    store.commit([], [OutboxEntry("k1", "send", "c1", {"x": 1}, T0 + timedelta(hours=1))])
    assert store.pending_outbox(FOREVER, limit=1)[0].not_before == T0 + timedelta(hours=1)
    store.commit([], [OutboxEntry("k1", "send", "c1", {"x": 2}, T0)])
    assert store.pending_outbox(T0) == []
    first = store.pending_outbox(FOREVER, limit=1)[0]
    assert (first.payload, first.not_before) == ({"x": 1}, T0 + timedelta(hours=1))


def test_the_earliest_timer_and_entry_need_no_query_until_a_write(store: SQLiteStore) -> None:
    """Asked again with nothing written in between, next_due and the first outbox entry are
    answered from memory; a write that moves them is reflected at once."""
    store.commit([record("j/c1/1", due=T0 + timedelta(hours=1))], [])
    store.commit([], [OutboxEntry("k1", "send", "c1", {}, T0 + timedelta(hours=2))])
    store.next_due(), store.pending_outbox(FOREVER, limit=1)
    statements: list[str] = []
    store._conn.set_trace_callback(statements.append)
    assert store.next_due() == T0 + timedelta(hours=1)
    assert store.due(T0) == []
    assert [e.key for e in store.pending_outbox(FOREVER, limit=1)] == ["k1"]
    assert store.pending_outbox(T0) == []
    assert not [s for s in statements if s.startswith("SELECT")]
    store.commit([record("j/c1/2", due=T0)], [OutboxEntry("k0", "send", "c1", {}, T0)])
    assert store.next_due() == T0
    assert [e.key for e in store.pending_outbox(FOREVER, limit=1)] == ["k0"]
    assert not [s for s in statements if s.startswith("SELECT")]
    store._conn.set_trace_callback(None)


_TIMES = [T0 + timedelta(minutes=m) for m in (0, 30, 60)] + [
    datetime(2026, 1, 5, 4, 0, tzinfo=UTC),  # the same instant as T0 + 60 min, another offset
]
_op = st.one_of(
    st.tuples(
        st.just("instance"),
        st.sampled_from(["a", "b", "c"]),
        st.sampled_from(["c1", "c2"]),
        st.sampled_from(["waiting", "active", "ended"]),
        st.sampled_from([None, *_TIMES]),
        st.integers(0, 2),
    ),
    st.tuples(
        st.just("outbox"),
        st.sampled_from(["k1", "k2", "k3"]),
        st.sampled_from(_TIMES),
        st.sampled_from(["pending", "done"]),
        st.booleans(),
    ),
)


def _apply(store: SQLiteStore, op: tuple[Any, ...]) -> None:
    if op[0] == "instance":
        _, iid, customer, status, due, grow = op
        old = store.instance(iid)
        log = old["log"] if old is not None else []
        log.extend({"what": "step"} for _ in range(grow))
        store.commit([record(iid, customer, status, due, log)], [])
        return
    _, key, at, status, update = op
    entry = OutboxEntry(key, "send", "c1", {"key": key}, at, status=status)
    if update:
        store.update_outbox(entry)
    else:
        store.commit([], [entry])


def _answers(store: SQLiteStore) -> dict[str, Any]:
    return {
        "next_due": store.next_due(),
        "due": [store.due(t) for t in _TIMES],
        "first": store.pending_outbox(FOREVER, limit=1),
        "pending": [store.pending_outbox(t, limit=n) for t in _TIMES for n in (1, 2, 10)],
        "records": [store.instances_of(c) for c in ("c1", "c2")],
        "instances": [store.instance(i) for i in ("a", "b", "c")],
    }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.tuples(st.lists(_op, max_size=4), st.booleans()), max_size=6))
def test_cached_answers_match_a_fresh_store(
    tmp_path_factory: pytest.TempPathFactory, batches: list[tuple[list[Any], bool]]
) -> None:
    """After any sequence of writes, batches and rolled-back batches, the store answers what a
    store opened afresh on the file answers."""
    path = tmp_path_factory.mktemp("cache") / "s.sqlite"
    with SQLiteStore(path) as store:
        for ops, rolled_back in batches:
            try:
                with store.batch():
                    for op in ops:
                        _apply(store, op)
                        _answers(store)  # (fill the caches inside the batch)
                    if rolled_back:
                        raise RuntimeError("crash")
            except RuntimeError:
                pass
            with SQLiteStore(path, readonly=True) as other:
                assert _answers(store) == _answers(other)
            for op in ops[:1]:
                _apply(store, op)  # and outside a batch
            with SQLiteStore(path, readonly=True) as other:
                assert _answers(store) == _answers(other)
