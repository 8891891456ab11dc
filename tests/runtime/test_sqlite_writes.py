"""The SQLite store's held writes (journeydsl/runtime/stores/_sqlite_writes.py): inside a
transaction, the rows a step writes are held in memory and written together when the transaction
needs them. Whatever is held, every read answers, and the file ends, exactly as if each write
had gone to the file at once."""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord
from journeydsl.runtime.protocols import Contact, OutboxEntry
from journeydsl.runtime.stores.sqlite import BatchRolledBack, SQLiteStore
from tests.runtime.test_sqlite_live_rows import record

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
LATER = T0 + timedelta(days=400)
NO_CTX = cast(EvalContext, None)  # (count and sum over integers need none)
CUSTOMERS = ("c1", "c2", "c3")
TYPES = ("t1", "t2")


def entry(key: str, customer: str, status: str = "pending") -> OutboxEntry:
    return OutboxEntry(key, "send", customer, {"journey": "j", "version": 1}, T0, 0, status)


def apply(store: SQLiteStore, op: tuple[Any, ...], n: int, seen: dict[str, int]) -> Any:
    """Run one operation; returns what it answered (the same for both stores)."""
    kind, customer, number = op
    if kind == "event":
        ev = EventRecord(customer, TYPES[number % 2], T0 + timedelta(minutes=n), {"v": number})
        return store.append(f"e{number}", ev)
    if kind == "processed":
        return store.processed(f"e{number}")
    if kind == "new":
        seen[customer] = seen.get(customer, 0) + 1
        iid = f"j/{customer}/{seen[customer]}"
        store.commit([record(iid, customer, n)], [entry(f"k{n}", customer)], f"e{number}")
        return iid
    if kind == "step" and seen.get(customer):
        live = store.live_instances_of(customer)[-1]
        live["log"].append({"at": T0.isoformat(), "what": f"step {n}"})
        live["vars"]["step"] = n
        store.commit([live], [entry(f"k{number}", customer)], meta={"m": str(n)})
        return live["id"]
    if kind == "rewrite" and seen.get(customer):
        whole = store.instances_of(customer)[0]
        whole["log"] = [*whole["log"], {"at": T0.isoformat(), "what": f"again {n}"}]
        store.commit([whole], [])
        return whole["id"]
    if kind == "renew" and seen.get(customer):
        iid = f"j/{customer}/{seen[customer]}"  # (its whole log written anew, unread)
        store.commit([record(iid, customer, n)], [])
        return iid
    if kind == "look":
        return full_reads(store)
    if kind == "deliver" and seen.get(customer):
        live = store.live_instances_of(customer)[0]
        live["log"].append({"at": T0.isoformat(), "what": "deliver"})
        contact = Contact(f"k{number}", customer, T0, "email", "marketing", "j", "tpl")
        store.record_delivery(entry(f"k{number}", customer, "done"), contact, live)
        return live["id"]
    if kind == "update":
        store.update_outbox(entry(f"k{number}", customer, "failed"))
    return None


def reads(store: SQLiteStore) -> Any:
    """What the engine reads around every step (served without writing what is held, unless
    the read could see it), over every customer, event type and event."""
    out: list[Any] = [store.processed(f"e{number}") for number in range(7)]
    for c in CUSTOMERS:
        out.append(store.live_instances_of(c))
        for t in TYPES:
            out.append(store.aggregate(c, AggregateQuery("count", t), None, None, NO_CTX))
            out.append(store.aggregate(c, AggregateQuery("sum", t, "v"), None, None, NO_CTX))
            out.append(store.last_time(c, t, LATER))
    return out


def full_reads(store: SQLiteStore) -> Any:
    """Reads that write what is held first: whole records, the outbox, timers, meta, contacts."""
    out: list[Any] = [
        [(e.key, e.customer_id, e.status) for e in store.pending_outbox(LATER)],
        store.due(LATER),
        store.get_meta("m"),
    ]
    for c in CUSTOMERS:
        out.append(store.instances_of(c))
        out.append([c.key for c in store.contacts(c, T0 - timedelta(days=1))])
    return out


def tables(path: Path) -> Any:
    """The file's rows, table by table."""
    with sqlite3.connect(path) as db:
        return {
            t: db.execute(f"SELECT * FROM {t} ORDER BY 1, 2").fetchall()
            for t in ("events", "instances", "decisions", "outbox", "contacts", "engine_meta")
        }


OPS = st.lists(
    st.tuples(
        st.sampled_from(
            [
                *("event", "event", "processed", "new", "step", "step", "rewrite", "renew"),
                *("deliver", "update", "look", "end"),
            ]
        ),
        st.sampled_from(CUSTOMERS),
        st.integers(min_value=0, max_value=6),
    ),
    max_size=40,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(ops=OPS, room=st.sampled_from([0, 1, 100]))
@example(ops=[("new", "c1", 0), ("step", "c1", 1), ("renew", "c1", 0)], room=100)
@example(
    ops=[
        ("look", "c1", 0),
        ("new", "c1", 0),
        ("update", "c1", 3),
        ("step", "c1", 3),
        ("look", "c1", 0),
    ],
    room=0,
)
@example(
    ops=[
        ("look", "c1", 0),
        ("new", "c1", 0),
        ("new", "c2", 0),
        ("step", "c1", 3),
        ("step", "c2", 3),
        ("look", "c1", 0),
    ],
    room=0,
)
def test_held_writes_read_and_land_as_writes_at_once(
    tmp_path: Path, ops: list[Any], room: int
) -> None:
    """Ops inside batches (writes held) answer every read as ops outside any batch (each
    written at once), whatever the live rows kept, and leave the same rows in the file."""
    with tempfile.TemporaryDirectory(dir=tmp_path) as fresh:  # (one for each example)
        held_path, direct_path = Path(fresh) / "held.sqlite", Path(fresh) / "direct.sqlite"
        run_both(held_path, direct_path, ops, room)
        assert tables(held_path) == tables(direct_path)


def run_both(held_path: Path, direct_path: Path, ops: list[Any], room: int) -> None:
    """``ops`` on two stores, inside batches on the first, comparing every answer."""
    with SQLiteStore(held_path, live_cache=room) as held, SQLiteStore(direct_path) as direct:
        seen_h: dict[str, int] = {}
        seen_d: dict[str, int] = {}
        batch = held.batch()
        batch.__enter__()
        for n, op in enumerate(ops):
            if op[0] == "end":
                batch.__exit__(None, None, None)
                batch = held.batch()
                batch.__enter__()
                continue
            assert apply(held, op, n, seen_h) == apply(direct, op, n, seen_d)
            assert reads(held) == reads(direct)
        batch.__exit__(None, None, None)


def test_a_step_in_a_batch_writes_nothing_until_the_batch_needs_it(tmp_path: Path) -> None:
    """A commit inside a batch issues no statement; the batch's end writes it, one statement a
    table, and the file then has it."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        statements: list[str] = []
        store._db.set_trace_callback(statements.append)
        with store.batch():
            store.append("e1", EventRecord("c1", "t1", T0, {}))
            store.commit([record("j/c1/1", "c1", 0)], [entry("k1", "c1")], "e1")
            assert [s for s in statements if not s.startswith(("BEGIN", "SELECT"))] == []
        store._db.set_trace_callback(None)
        assert store.processed("e1")
        assert store.instance("j/c1/1") is not None
        assert [e.key for e in store.pending_outbox(T0)] == ["k1"]
    # the event was written once, already marked: no UPDATE of its row
    assert not any(s.startswith("UPDATE events") for s in statements)


def step_then(store: SQLiteStore, error: Exception | None, db: Any = None) -> None:
    """A batch holding one event's step; then it raises ``error``, or with the connection
    swapped for ``db`` reads what needs the held rows written."""
    with store.batch():
        store.append("e1", EventRecord("c1", "t1", T0, {}))
        store.commit([record("j/c1/1", "c1", 0)], [entry("k1", "c1")], "e1")
        assert store._writes.size  # (held)
        if error is not None:
            raise error
        store._db = db
        store.instance("j/c1/1")


def new_then_raise(store: SQLiteStore, customer: str) -> None:
    """A nested transaction that writes a new instance, then raises."""
    with store.batch():
        store.commit([record(f"j/{customer}/1", customer, 0)], [])
        raise RuntimeError("inner")


def test_held_writes_go_with_a_rolled_back_batch(tmp_path: Path) -> None:
    """A batch that raises leaves none of the writes it held (nor its event)."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(RuntimeError, match="crash"):
            step_then(store, RuntimeError("crash"))
        assert not store.processed("e1")
        assert store.instance("j/c1/1") is None
        assert store.pending_outbox(LATER) == []
        assert store.live_instances_of("c1") == []
        assert store.append("e1", EventRecord("c1", "t1", T0, {}))  # not there: taken again


def test_a_savepoint_rolled_back_keeps_what_was_held_before_it(tmp_path: Path) -> None:
    """Writes held before a nested transaction stay when it rolls back; its own go."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        with store.batch():
            store.commit([record("j/c1/1", "c1", 0)], [])
            with pytest.raises(RuntimeError, match="inner"):
                new_then_raise(store, "c2")
            store.commit([record("j/c3/1", "c3", 0)], [])
        assert [store.instance(f"j/{c}/1") is not None for c in CUSTOMERS] == [True, False, True]


class _Refusing:
    """A connection whose bulk writes (those to the table ``only``, when given) fail as a full
    disk would."""

    def __init__(self, db: sqlite3.Connection, only: str = "") -> None:
        self.db = db
        self.only = only

    def executemany(self, sql: str, rows: Any) -> Any:
        if self.only in sql:
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self.db.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.db, name)


def test_a_failure_writing_held_rows_ends_the_batch_loudly(tmp_path: Path) -> None:
    """When the held rows cannot be written (here the disk refuses), the batch fails and
    leaves nothing: none of the steps it held is taken as done."""

    with SQLiteStore(tmp_path / "s.sqlite") as store:
        real = store._db
        with pytest.raises(sqlite3.Error, match="injected"):
            step_then(store, None, _Refusing(real, "decisions"))
        store._db = real
        assert not real.in_transaction
        assert store.instance("j/c1/1") is None
        assert store.pending_outbox(LATER) == []
        assert not store.processed("e1")


def _goes_on_after_a_failed_write(store: SQLiteStore) -> None:
    """A host's batch: one step held, its rows fail to be written, and the host goes on with
    a step and a commit in the same block, then ends it."""
    real = store._db
    with store.batch():
        store.append("e1", EventRecord("c1", "t1", T0, {}))
        store.commit([record("j/c1/1", "c1", 0)], [entry("k1", "c1")], "e1")
        assert store._writes.size  # (held)
        store._db = _Refusing(real)  # type: ignore[assignment]
        with pytest.raises(sqlite3.OperationalError, match="injected"):
            _ = store._conn  # (a read that needs the held rows written)
        store._db = real
        with pytest.raises(BatchRolledBack), store.step():
            pass
        with pytest.raises(BatchRolledBack):
            store.commit([record("j/c2/1", "c2", 0)], [], "e2")


def test_a_batch_rolled_back_by_a_failed_write_refuses_the_rest_of_its_block(
    tmp_path: Path,
) -> None:
    """Once the held rows failed to be written, a step or commit the host goes on with in the
    same block is refused with BatchRolledBack (it used to commit on its own, without the steps
    before it), and so is the block's end (it used to say "no transaction is active"); nothing
    of the block is committed, and the next batch works."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(BatchRolledBack, match=r"rolled back when its rows .*\(injected\)"):
            _goes_on_after_a_failed_write(store)
        assert store.instance("j/c1/1") is None
        assert store.instance("j/c2/1") is None
        assert not store.processed("e1")
        assert not store.processed("e2")
        with store.batch():
            store.commit([record("j/c2/1", "c2", 0)], [], "e2")
        assert store.processed("e2")
        assert store.instance("j/c2/1") is not None
