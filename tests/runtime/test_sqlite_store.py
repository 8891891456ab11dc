"""SQLiteStore specifics: the file format, durability, rollback, query plans, aggregate
push-down (checked against run_aggregate), and loading profiles.

The behaviour it shares with the in-memory stores is pinned in test_store_contract.py.
"""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, run_aggregate
from journeydsl.money import Money
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.stores import _sqlite_events as sqlite_events
from journeydsl.runtime.stores.sqlite import SCHEMA_VERSION, SQLiteStore

ICT = timezone(timedelta(hours=7))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
#: The queries here have no ``where`` filter, so aggregate() never reads its context.
NO_CTX = cast(EvalContext, None)


def waiting(iid: str, due: datetime | None, customer: str = "c1") -> Any:
    return {
        "id": iid,
        "customer_id": customer,
        "journey": "j",
        "version": 1,
        "status": "waiting",
        "due": due.isoformat() if due else None,
    }


def test_file_is_wal_with_full_sync_and_a_schema_version(tmp_path: Path) -> None:
    """A new file is in WAL mode, synchronous=FULL by default, at the current schema version."""
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as store:
        conn = store._conn
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
        assert store.schema_version() == SCHEMA_VERSION
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {
        "meta",
        "events",
        "profiles",
        "instances",
        "outbox",
        "processed_events",
        "engine_meta",
    } <= tables
    with SQLiteStore(path, synchronous="NORMAL") as store:
        assert store._conn.execute("PRAGMA synchronous").fetchone()[0] == 1
    with pytest.raises(ValueError, match="synchronous"):
        SQLiteStore(path, synchronous="SOMETIMES")  # type: ignore[arg-type]


def test_a_newer_schema_is_refused(tmp_path: Path) -> None:
    """Opening a file written by a newer schema raises instead of misreading it."""
    path = tmp_path / "s.sqlite"
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    with conn:
        conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,)
        )
    conn.close()
    with pytest.raises(RuntimeError, match="newer"):
        SQLiteStore(path)


def test_everything_survives_reopening(tmp_path: Path) -> None:
    """Events, profiles, instances, timers, outbox, markers and meta are on disk after close."""
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as store:
        store.append("e1", EventRecord("c1", "transaction", T0, {"amount": Money.of(5, "VND")}))
        store.add(Profile("c1", {"segment": "mass"}, {"email": True}, "Asia/Bangkok"))
        store.commit(
            [waiting("j/c1/1", T0)],
            [OutboxEntry("k", "send", "c1", {"x": 1}, T0)],
            processed_event="e1",
            meta={"m": "v"},
        )
    with SQLiteStore(path) as store:
        assert store.events("c1", "transaction", None, None)[0].data == {
            "amount": Money.of(5, "VND")
        }
        assert store.get("c1").timezone == "Asia/Bangkok"
        assert store.due(T0) == ["j/c1/1"]
        assert [e.key for e in store.pending_outbox(T0)] == ["k"]
        assert store.processed("e1")
        assert store.get_meta("m") == "v"


class _FailingConnection:
    """A connection that raises on the first statement touching ``table``."""

    def __init__(self, conn: sqlite3.Connection, table: str) -> None:
        self._conn = conn
        self._table = table

    def execute(self, sql: str, *args: Any) -> Any:
        if self._table in sql:
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self._conn.execute(sql, *args)

    def executemany(self, sql: str, rows: Any) -> Any:
        if self._table in sql:
            raise sqlite3.OperationalError("disk I/O error (injected)")
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@pytest.mark.parametrize("table", ["decisions", "outbox", "processed_events", "engine_meta"])
def test_a_commit_failing_midway_is_rolled_back(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: str
) -> None:
    """A failure after some rows of a commit were written rolls all of them back."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        real = store._conn
        monkeypatch.setattr(store, "_db", _FailingConnection(real, table))
        with pytest.raises(sqlite3.OperationalError, match="injected"):
            store.commit(
                [waiting("j/c1/1", T0)],
                [OutboxEntry("k", "send", "c1", {}, T0)],
                processed_event="e1",
                meta={"m": "v"},
            )
        monkeypatch.setattr(store, "_db", real)
        assert not real.in_transaction
        assert store.instance("j/c1/1") is None
        assert store.due(T0) == []
        assert store.pending_outbox(T0) == []
        assert not store.processed("e1")
        assert store.get_meta("m") is None
        store.commit([waiting("j/c1/1", T0)], [])  # the store is usable afterwards
        assert store.due(T0) == ["j/c1/1"]


def _plan(store: SQLiteStore, sql: str, args: list[Any]) -> str:
    return " ".join(row[-1] for row in store._conn.execute("EXPLAIN QUERY PLAN " + sql, args))


def test_queries_use_their_indexes(tmp_path: Path) -> None:
    """Windows, aggregates, timers and the outbox are served by indexes, not table scans."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        where, args = store._window("c1", "transaction", T0, T0)
        for sql in (
            f"SELECT count(*) FROM events WHERE {where}",
            f"SELECT at_iso, data FROM events WHERE {where} ORDER BY at_utc, seq",
            f"SELECT sum(json_extract(data, '$.n')) FROM events WHERE {where}",
        ):
            assert "USING" in _plan(store, sql, args)
            assert "events_window" in _plan(store, sql, args)
        due = _plan(
            store,
            "SELECT id FROM instances WHERE status = 'waiting' AND due_utc <= ? "
            "ORDER BY due_utc, id LIMIT ?",
            ["x", 1],
        )
        assert "instances_due" in due
        assert "TEMP B-TREE" not in due
        outbox = _plan(
            store,
            "SELECT key FROM outbox WHERE status = 'pending' AND not_before_utc <= ? "
            "ORDER BY not_before_utc, key LIMIT ?",
            ["x", 1],
        )
        assert "outbox_due" in outbox
        assert "TEMP B-TREE" not in outbox


def test_integer_and_count_aggregates_run_in_sql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """count, has, and sum/min/max/last over integers never fall back to Python."""

    def no_python(*args: Any) -> Any:
        raise AssertionError("fell back to run_aggregate")

    with SQLiteStore(tmp_path / "s.sqlite") as store:
        for i, n in enumerate([5, -3, 12]):
            store.append(f"e{i}", EventRecord("c1", "points", T0 + timedelta(hours=i), {"n": n}))
        monkeypatch.setattr(sqlite_events, "run_aggregate", no_python)
        agg = store.aggregate
        assert agg("c1", AggregateQuery("count", "points"), None, None, NO_CTX) == 3
        assert agg("c1", AggregateQuery("has", "points"), None, None, NO_CTX) is True
        assert agg("c1", AggregateQuery("sum", "points", "n"), None, None, NO_CTX) == 14
        assert agg("c1", AggregateQuery("min", "points", "n"), None, None, NO_CTX) == -3
        assert agg("c1", AggregateQuery("max", "points", "n"), None, None, NO_CTX) == 12
        assert agg("c1", AggregateQuery("last", "points", "n"), None, None, NO_CTX) == 12
        assert agg("c1", AggregateQuery("sum", "none", "n", zero=0), None, None, NO_CTX) == 0


def test_money_sums_are_exact_beyond_float_precision(tmp_path: Path) -> None:
    """A money sum is exact where a float sum would round (2**53 + 1, and tenths)."""
    amounts = ["9007199254740993", "0.1", "0.2", "0.3"]
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        for i, a in enumerate(amounts):
            data = {"amount": Money.of(a, "VND")}
            store.append(f"e{i}", EventRecord("c1", "transaction", T0, data))
        query = AggregateQuery("sum", "transaction", "amount", zero=Money.of(0, "VND"))
        got = store.aggregate("c1", query, None, None, NO_CTX)
    assert got == Money(Decimal("9007199254740993.6"), "VND")
    assert got.amount.as_tuple() == Decimal("9007199254740993.6").as_tuple()


def test_huge_integers_and_floats_fall_back_exactly(tmp_path: Path) -> None:
    """Integers beyond 64 bits, floats and NaN in raw event data aggregate as in Python."""
    values: list[Any] = [2**70, 1, 2**70 + 1]
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        for i, v in enumerate(values):
            store.append(f"i{i}", EventRecord("c1", "big", T0, {"n": v}))
        store.append("f0", EventRecord("c1", "flt", T0, {"x": 0.5}))
        store.append("f1", EventRecord("c1", "flt", T0, {"x": float("nan")}))
        agg = store.aggregate
        assert agg("c1", AggregateQuery("sum", "big", "n"), None, None, NO_CTX) == 2**71 + 2
        assert agg("c1", AggregateQuery("max", "big", "n"), None, None, NO_CTX) == 2**70 + 1
        assert agg("c1", AggregateQuery("min", "big", "n"), None, None, NO_CTX) == 1
        assert agg("c1", AggregateQuery("count", "flt"), None, None, NO_CTX) == 2
        last = agg("c1", AggregateQuery("last", "flt", "x"), None, None, NO_CTX)
        assert last != last  # NaN, as the in-memory store keeps it


_values = st.one_of(
    st.none(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from(["Tiki", "tiki", "Ápp", "", "z", "Zalo"]),
    st.decimals(min_value=-(10**20), max_value=10**20, places=2, allow_nan=False).map(
        lambda d: Money(d, "VND")
    ),
)
_kinds = st.sampled_from(["int", "str", "money", "mixed"])


@st.composite
def _event_rows(draw: st.DrawFn) -> list[tuple[int, Any, int]]:
    kind = draw(_kinds)
    strategy = {
        "int": st.one_of(st.none(), st.integers(min_value=-(2**65), max_value=2**65)),
        "str": st.one_of(st.none(), st.sampled_from(["Tiki", "tiki", "Ápp", "", "z", "Zalo"])),
        "money": st.one_of(
            st.none(),
            st.decimals(min_value=-(10**20), max_value=10**20, places=2, allow_nan=False).map(
                lambda d: Money(d, "VND")
            ),
        ),
        "mixed": _values,
    }[kind]
    return draw(
        st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=20),  # hour
                strategy,
                st.sampled_from([-5, 0, 7, 9]),  # offset of the stored time
            ),
            max_size=12,
        )
    )


@settings(max_examples=150, deadline=None)
@given(
    rows=_event_rows(),
    func=st.sampled_from(["count", "has", "sum", "min", "max", "last"]),
    window=st.tuples(
        st.one_of(st.none(), st.integers(min_value=-1, max_value=21)),
        st.one_of(st.none(), st.integers(min_value=-1, max_value=21)),
    ),
)
def test_pushdown_agrees_with_run_aggregate(
    rows: list[tuple[int, Any, int]], func: str, window: tuple[int | None, int | None]
) -> None:
    """For any data and window, aggregate() equals run_aggregate over the window's events
    (or both raise the same error)."""
    query = AggregateQuery(func, "e", None if func in ("count", "has") else "v", zero="ZERO")
    base = datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    start, end = (base + timedelta(hours=h) if h is not None else None for h in window)
    with SQLiteStore(":memory:") as store:
        stored: list[EventRecord] = []
        for i, (hour, value, offset) in enumerate(rows):
            at = (base + timedelta(hours=hour)).astimezone(timezone(timedelta(hours=offset)))
            data = {} if value is None and i % 2 else {"v": value}
            record = EventRecord("c1", "e", at, data)
            store.append(f"e{i}", record)
            stored.append(record)
        stored.sort(key=lambda e: e.at)  # stable: arrival order breaks ties
        in_window = [
            e for e in stored if (start is None or start <= e.at) and (end is None or e.at <= end)
        ]
        try:
            expected: Any = run_aggregate(query, in_window, NO_CTX)
        except Exception as exc:  # e.g. int + str: the store must fail the same way
            with pytest.raises(type(exc)):
                store.aggregate("c1", query, start, end, NO_CTX)
            return
        got = store.aggregate("c1", query, start, end, NO_CTX)
    assert got == expected
    assert type(got) is type(expected)


def test_naive_datetimes_are_refused(tmp_path: Path) -> None:
    """A naive datetime is an error, never silently read as local or UTC time."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        with pytest.raises(ValueError, match="naive"):
            store.append("e", EventRecord("c1", "x", datetime(2026, 1, 5)))
        with pytest.raises(ValueError, match="naive"):
            store.due(datetime(2026, 1, 5))


def test_far_times_are_clamped_not_overflowing(tmp_path: Path) -> None:
    """datetime.max / min with an offset still work as window bounds."""
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        store.append("e", EventRecord("c1", "x", T0))
        lo = datetime.min.replace(tzinfo=ICT)
        hi = datetime.max.replace(tzinfo=timezone(timedelta(hours=-5)))
        assert len(store.events("c1", "x", lo, hi)) == 1
        assert store.pending_outbox(datetime.max.replace(tzinfo=UTC)) == []


def test_load_profiles_reports_bad_lines_and_keeps_journey_updates(tmp_path: Path) -> None:
    """load_profiles_jsonl() skips bad lines with file:line reasons and names the customers it
    loaded; reloading an unchanged line keeps the attributes journeys set since; a changed line
    replaces the profile."""
    good: dict[str, Any] = {
        "customer_id": "c1",
        "attributes": {"segment": "mass", "score": 0.5},
        "consent": {"email": True, "sms": False},
        "timezone": "Asia/Ho_Chi_Minh",
    }
    lines = [
        json.dumps(good),
        "",
        "{not json",
        json.dumps({"customer_id": "c2", "timezone": "Mars/Olympus"}),
        json.dumps({"customer_id": "c3", "consent": {"email": "yes"}}),
        json.dumps({"customer_id": "c4", "tags": ["vip"]}),
        json.dumps(["c5"]),
    ]
    path = tmp_path / "profiles.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        loaded, problems, customers = store.load_profiles_jsonl(path)
        assert (loaded, customers) == (2, ["c1", "c4"])
        assert [p.split(": ", 1)[0] for p in problems] == [f"{path}:{n}" for n in (3, 4, 5, 7)]
        assert "Mars/Olympus" in problems[1]
        assert store.get("c1") == Profile(
            "c1",
            {"segment": "mass", "score": 0.5},
            {"email": True, "sms": False},
            "Asia/Ho_Chi_Minh",
        )
        assert store.get("c4").tags == frozenset({"vip"})
        assert list(store.customers()) == ["c1", "c4"]
        store.update("c1", "segment", "affluent")
        store.load_profiles_jsonl(path)
        assert store.get("c1").attributes["segment"] == "affluent"
        path.write_text(json.dumps({**good, "consent": {"email": False}}) + "\n", encoding="utf-8")
        store.load_profiles_jsonl(path)
        assert store.get("c1") == Profile(
            "c1", good["attributes"], {"email": False}, "Asia/Ho_Chi_Minh"
        )


def test_the_zones_kept_follow_another_connections_profiles(tmp_path: Path) -> None:
    """The time zones the store keeps (segment journeys ask at every step) are read again once
    another connection has committed a profile to the file."""
    path = tmp_path / "s.sqlite"
    with SQLiteStore(path) as store:
        store.add(Profile("c1", {}, {}, "Asia/Ho_Chi_Minh"))
        assert store.timezones() == {"Asia/Ho_Chi_Minh"}
        other = sqlite3.connect(path)
        with other:
            other.execute(
                "INSERT INTO profiles (customer_id, attributes, consent, timezone, tags) "
                "VALUES ('c2', '{}', '{}', 'Asia/Shanghai', '[]')"
            )
        other.close()
        assert store.timezones() == {"Asia/Ho_Chi_Minh", "Asia/Shanghai"}


def test_an_empty_path_is_refused_not_opened_as_a_temporary_database(tmp_path: Path) -> None:
    """`SQLiteStore("")` (an unset variable) is a ValueError: SQLite would open a temporary
    database, lost with everything in it when the store closes; ':memory:' stays allowed."""
    with pytest.raises(ValueError, match="not an empty path"):
        SQLiteStore("")
    with SQLiteStore(":memory:") as store:
        assert not store.processed("e1")
