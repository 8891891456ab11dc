"""The store contract: the in-memory stores, SQLiteStore and PostgresStore behave identically.

Every test runs against each (``stores`` is parametrized); a test that only one of them fails is a
bug in that store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeydsl.compiler import compile_file
from journeydsl.expr.context import AggregateQuery, EventRecord
from journeydsl.money import Money
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ICT = timezone(timedelta(hours=7))
NYC = timezone(timedelta(hours=-5))
TOKYO = timezone(timedelta(hours=9))
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)


@dataclass
class Stores:
    """The three store roles of one implementation."""

    kind: str
    events: Any
    profiles: Any
    state: Any


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Stores]:
    if request.param == "memory":
        yield Stores("memory", MemoryEventStore(), MemoryProfileStore(), MemoryStateStore())
        return
    if request.param == "postgres":
        from journeydsl.runtime.stores.postgres import PostgresStore

        with PostgresStore(request.getfixturevalue("pg_dsn")) as pg:
            yield Stores("postgres", pg, pg, pg)
        return
    with SQLiteStore(tmp_path / "state.sqlite") as store:
        yield Stores("sqlite", store, store, store)


def ev(customer: str, etype: str, at: datetime, **data: Any) -> EventRecord:
    return EventRecord(customer, etype, at, data)


def tx(
    at: datetime, amount: str, merchant: str = "Tiki", category: str = "shopping"
) -> EventRecord:
    return ev(
        "c1",
        "transaction",
        at,
        amount=Money.of(amount, "VND"),
        merchant=merchant,
        category=category,
        n=int(Decimal(amount)) % 97,
    )


def record(
    iid: str, status: str = "waiting", due: str | None = None, **extra: Any
) -> dict[str, Any]:
    return {
        "id": iid,
        "customer_id": extra.pop("customer_id", "c1"),
        "journey": "j",
        "version": 1,
        "status": status,
        "due": due,
        **extra,
    }


# --------------------------------------------------------------------------- events


def test_append_is_idempotent_on_event_id(stores: Stores) -> None:
    """append() stores an id once and reports a duplicate with False."""
    e = ev("c1", "card_issued", T0, card_id="k1")
    assert stores.events.append("e1", e) is True
    assert stores.events.append("e1", ev("c1", "card_issued", T0, card_id="other")) is False
    assert list(stores.events.events("c1", "card_issued", None, None)) == [e]


def test_window_bounds_are_inclusive_and_compare_instants(stores: Stores) -> None:
    """events() keeps start <= at <= end, comparing instants across offsets, oldest first."""
    times = [
        datetime(2026, 1, 5, 3, 0, tzinfo=UTC),  # 10:00 ICT
        datetime(2026, 1, 5, 6, 0, tzinfo=NYC),  # 18:00 ICT
        datetime(2026, 1, 5, 13, 0, tzinfo=TOKYO),  # 11:00 ICT
        datetime(2026, 1, 5, 9, 0, tzinfo=ICT),
    ]
    for i, t in enumerate(times):
        stores.events.append(f"e{i}", ev("c1", "app_installed", t, i=i))
    got = stores.events.events("c1", "app_installed", None, None)
    assert [e.data["i"] for e in got] == [3, 0, 2, 1]
    assert [e.at.utcoffset() for e in got] == [
        timedelta(hours=7),
        timedelta(0),
        timedelta(hours=9),
        timedelta(hours=-5),
    ]
    # Bounds given in other offsets, equal to the instants of events 0 and 2: both included.
    start = datetime(2026, 1, 4, 22, 0, tzinfo=NYC)
    end = datetime(2026, 1, 5, 4, 0, tzinfo=UTC)
    assert [e.data["i"] for e in stores.events.events("c1", "app_installed", start, end)] == [0, 2]
    tick = timedelta(microseconds=1)
    inner = stores.events.events("c1", "app_installed", start + tick, end - tick)
    assert list(inner) == []
    assert [e.data["i"] for e in stores.events.events("c1", "app_installed", None, start)] == [3, 0]
    assert list(stores.events.events("c1", "app_installed", end, start)) == []
    assert list(stores.events.events("c2", "app_installed", None, None)) == []


def test_events_at_the_same_instant_keep_arrival_order(stores: Stores) -> None:
    """Events at one instant come back in arrival order, each with its own offset."""
    same = [T0, T0.astimezone(UTC), T0.astimezone(NYC)]
    for i, t in enumerate(same):
        stores.events.append(f"e{i}", ev("c1", "message_opened", t, i=i))
    got = stores.events.events("c1", "message_opened", T0, T0)
    assert [e.data["i"] for e in got] == [0, 1, 2]
    assert [e.at.utcoffset() for e in got] == [t.utcoffset() for t in same]


def test_event_data_round_trips_typed_values(stores: Stores) -> None:
    """Money, decimals, timestamps, dates, floats and nested values come back equal."""
    data = {
        "amount": Money.of("1234567890123456789.05", "VND"),
        "rate": Decimal("0.10"),
        "when": datetime(2026, 1, 1, 8, 0, tzinfo=TOKYO),
        "day": date(2026, 2, 1),
        "score": 0.5,
        "tags": ["a", "b"],
        "nested": {"x": 1, "ok": True, "none": None},
    }
    stores.events.append("e1", EventRecord("c1", "custom", T0, data))
    (got,) = stores.events.events("c1", "custom", None, None)
    assert dict(got.data) == data
    assert got.data["rate"].as_tuple() == Decimal("0.10").as_tuple()


def test_last_time_is_the_latest_at_or_before(stores: Stores) -> None:
    """last_time() finds the latest event at or before the bound, with its own offset."""
    assert stores.events.last_time("c1", "card_activated", T0) is None
    a, b = T0, T0 + timedelta(days=2)
    stores.events.append("a", ev("c1", "card_activated", a))
    stores.events.append("b", ev("c1", "card_activated", b.astimezone(NYC)))
    assert stores.events.last_time("c1", "card_activated", a - timedelta(microseconds=1)) is None
    assert stores.events.last_time("c1", "card_activated", a.astimezone(UTC)) == a
    got = stores.events.last_time("c1", "card_activated", b + timedelta(days=9))
    assert got == b
    assert got is not None
    assert got.utcoffset() == timedelta(hours=-5)
    assert stores.events.last_time("c2", "card_activated", b) is None


AGG_CASES: list[tuple[str, AggregateQuery, Any]] = [
    ("count", AggregateQuery("count", "transaction", zero=0), 5),
    ("has", AggregateQuery("has", "transaction", zero=False), True),
    ("has-none", AggregateQuery("has", "card_issued", zero=False), False),
    ("count-none", AggregateQuery("count", "card_issued", zero=0), 0),
    (
        "sum-money",
        AggregateQuery("sum", "transaction", "amount", zero=Money.of(0, "VND")),
        Money.of("9007199254741193.3", "VND"),
    ),
    (
        "min-money",
        AggregateQuery("min", "transaction", "amount"),
        Money.of("0.1", "VND"),
    ),
    (
        "max-money",
        AggregateQuery("max", "transaction", "amount"),
        Money.of("9007199254740993", "VND"),
    ),
    ("last-money", AggregateQuery("last", "transaction", "amount"), Money.of("0.2", "VND")),
    ("sum-int", AggregateQuery("sum", "transaction", "n", zero=0), None),
    ("min-str", AggregateQuery("min", "transaction", "merchant"), "Pho 24"),
    ("max-str", AggregateQuery("max", "transaction", "merchant"), "Vietjet"),
    ("last-str", AggregateQuery("last", "transaction", "category"), "dining"),
    ("sum-absent", AggregateQuery("sum", "transaction", "missing", zero=0), 0),
    ("min-absent", AggregateQuery("min", "transaction", "missing", zero="z"), "z"),
    (
        "top-by-sum",
        AggregateQuery("top", "transaction", "merchant", by="sum", by_field="amount"),
        "Vietjet",
    ),
    ("top-by-count", AggregateQuery("top", "transaction", "merchant", by="count"), "Tiki"),
    (
        "where",
        AggregateQuery(
            "sum",
            "transaction",
            "amount",
            where=lambda ctx, e: e is not None and e.get("merchant") == "Tiki",
            zero=Money.of(0, "VND"),
        ),
        Money.of("100.3", "VND"),
    ),
]


def _agg_events() -> list[EventRecord]:
    return [
        tx(T0, "100", "Tiki", "shopping"),
        tx(T0 + timedelta(hours=1), "0.1", "Tiki", "shopping"),
        tx(T0 + timedelta(hours=2), "9007199254740993", "Vietjet", "travel"),
        tx(T0 + timedelta(hours=3), "100", "Pho 24", "dining"),
        tx(T0 + timedelta(hours=4), "0.2", "Tiki", "dining"),
    ]


@pytest.mark.parametrize(("name", "query", "expected"), AGG_CASES, ids=[c[0] for c in AGG_CASES])
def test_aggregates_give_the_same_values(
    stores: Stores, name: str, query: AggregateQuery, expected: Any
) -> None:
    """aggregate() gives run_aggregate's value; money sums are exact Decimals (no floats)."""
    events = _agg_events()
    for i, e in enumerate(events):
        stores.events.append(f"e{i}", e)
    if name == "sum-int":
        expected = sum(e.data["n"] for e in events)
    got = stores.events.aggregate("c1", query, None, None, None)
    assert got == expected
    assert type(got) is type(expected)
    if isinstance(got, Money):
        assert isinstance(got.amount, Decimal)


def test_aggregate_windows_are_inclusive(stores: Stores) -> None:
    """Aggregates see exactly the events with start <= at <= end, bounds in any offset."""
    for i, e in enumerate(_agg_events()):
        stores.events.append(f"e{i}", e)
    start = (T0 + timedelta(hours=1)).astimezone(NYC)
    end = (T0 + timedelta(hours=3)).astimezone(UTC)
    q_sum = AggregateQuery("sum", "transaction", "amount", zero=Money.of(0, "VND"))
    got = stores.events.aggregate("c1", q_sum, start, end, None)
    assert got == Money.of("9007199254741093.1", "VND")
    q_count = AggregateQuery("count", "transaction", zero=0)
    assert stores.events.aggregate("c1", q_count, start, end, None) == 3
    assert stores.events.aggregate("c1", q_count, end, start, None) == 0
    q_last = AggregateQuery("last", "transaction", "merchant")
    assert stores.events.aggregate("c1", q_last, start, end, None) == "Pho 24"
    q_min = AggregateQuery("min", "transaction", "n")
    assert stores.events.aggregate("c1", q_min, end, end, None) == 100 % 97


def test_aggregate_of_mixed_currencies_raises_like_python(stores: Stores) -> None:
    """A money sum across currencies fails the same way on every store."""
    stores.events.append("a", ev("c1", "transaction", T0, amount=Money.of(1, "VND")))
    stores.events.append("b", ev("c1", "transaction", T0, amount=Money.of(1, "USD")))
    query = AggregateQuery("sum", "transaction", "amount", zero=Money.of(0, "VND"))
    with pytest.raises(ValueError, match="cannot combine"):
        stores.events.aggregate("c1", query, None, None, None)


# --------------------------------------------------------------------------- profiles


def test_profiles_default_update_tag_and_listing(stores: Stores) -> None:
    """Unknown customers get a default profile; update/tag persist; customers() lists them."""
    p = stores.profiles
    assert p.get("nobody") == Profile("nobody")
    p.add(Profile("c1", {"segment": "mass"}, {"email": True}, "Asia/Bangkok", frozenset({"vip"})))
    p.add(Profile("c2", {}, {}, "Asia/Ho_Chi_Minh"))
    p.update("c1", "credit_limit", Money.of("50_000_000", "VND"))
    p.tag("c1", "new")
    p.tag("c1", "vip", remove=True)
    p.update("c3", "segment", "affluent")  # an unknown customer becomes known
    got = p.get("c1")
    assert got.attributes == {"segment": "mass", "credit_limit": Money.of("50000000", "VND")}
    assert got.consent == {"email": True}
    assert got.timezone == "Asia/Bangkok"
    assert got.tags == frozenset({"new"})
    assert list(p.customers()) == ["c1", "c2", "c3"]
    # c3 has no time zone of its own (""): it lives in the time zone of each journey it is in.
    assert p.timezones() == {"Asia/Bangkok", "Asia/Ho_Chi_Minh", ""}
    p.add(Profile("c1", {}, {"sms": True}))  # replaced, keeps its place
    assert p.get("c1") == Profile("c1", {}, {"sms": True})
    assert list(p.customers()) == ["c1", "c2", "c3"]
    # The zones follow the profiles written (a store that keeps them forgets them on a write).
    assert p.timezones() == {"Asia/Ho_Chi_Minh", ""}
    p.add(Profile("c4", {}, {}, "Asia/Shanghai"))
    assert p.timezones() == {"Asia/Ho_Chi_Minh", "", "Asia/Shanghai"}


# --------------------------------------------------------------------------- state


def test_commit_writes_records_and_returns_copies(stores: Stores) -> None:
    """instance()/instances_of() give the committed records, oldest first, as copies."""
    s = stores.state
    s.commit([record("j/c1/1", "active"), record("j/c2/1", "active", customer_id="c2")], [])
    s.commit([record("j/c1/2", "ended")], [])
    s.commit([record("j/c1/1", "ended", outcome="done")], [])  # update keeps the order
    assert [r["id"] for r in s.instances_of("c1")] == ["j/c1/1", "j/c1/2"]
    assert s.instance("j/c1/1") == record("j/c1/1", "ended", outcome="done")
    assert s.instance("missing") is None
    got = s.instance("j/c1/1")
    assert got is not None
    got["status"] = "mutated"
    assert s.instance("j/c1/1")["status"] == "ended"
    assert s.instances_of("nobody") == []


def test_failed_commit_leaves_nothing(stores: Stores) -> None:
    """A commit with a value that cannot be stored raises and writes none of its parts."""
    s = stores.state
    bad = OutboxEntry("k2", "send", "c1", {"params": {"x": object()}}, T0)
    good = OutboxEntry("k1", "send", "c1", {"template": "t"}, T0)
    with pytest.raises(TypeError):
        s.commit(
            [record("j/c1/1", due=T0.isoformat())],
            [good, bad],
            processed_event="e1",
            meta={"segment:x": "1"},
        )
    assert s.instance("j/c1/1") is None
    assert s.instances_of("c1") == []
    assert s.due(T0 + timedelta(days=1)) == []
    assert s.next_due() is None
    assert s.pending_outbox(T0 + timedelta(days=1)) == []
    assert s.processed("e1") is False
    assert s.get_meta("segment:x") is None


def test_due_orders_by_time_and_keeps_timers_until_they_move(stores: Stores) -> None:
    """due() lists waiting instances due at now, earliest first; timers survive until moved."""
    s = stores.state
    t = [T0 + timedelta(hours=h) for h in range(4)]
    s.commit(
        [
            record("b", due=t[1].isoformat()),
            record("a", due=t[1].isoformat()),
            record("c", due=t[0].isoformat()),
            record("d", due=t[3].isoformat()),
            record("e", status="active", due=t[0].isoformat()),  # not waiting: no timer
            record("f", due=None),  # waiting for an event only
        ],
        [],
    )
    assert s.due(t[0] - timedelta(microseconds=1)) == []
    assert s.due(t[1]) == ["c", "a", "b"]
    assert s.due(t[1]) == ["c", "a", "b"]  # nothing is lost by asking (a crash before commit)
    assert s.due(t[1], limit=2) == ["c", "a"]
    assert s.due(t[1], limit=0) == []
    assert s.next_due() == t[0]
    s.commit([record("c", status="active")], [])  # moved on
    s.commit([record("a", due=t[2].isoformat())], [])  # re-armed later
    assert s.due(t[1]) == ["b"]
    assert s.due(t[3]) == ["b", "a", "d"]
    s.commit([record("b", status="ended"), record("a", status="ended")], [])
    assert s.next_due() == t[3]
    s.commit([record("d", status="ended")], [])
    assert s.next_due() is None
    assert s.due(t[3] + timedelta(days=1)) == []


def test_due_compares_instants_across_offsets(stores: Stores) -> None:
    """A timer written with another UTC offset is due at its instant, and ordered by it."""
    s = stores.state
    early = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)  # 03:00Z
    late = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 09:00Z, but sorts first as text
    s.commit([record("early", due=early.isoformat()), record("late", due=late.isoformat())], [])
    assert s.next_due() == early
    assert s.due(datetime(2026, 1, 5, 5, 0, tzinfo=UTC)) == ["early"]
    assert s.due(late) == ["early", "late"]


def test_pending_outbox_orders_by_time_then_key_and_updates(stores: Stores) -> None:
    """pending_outbox() lists due pending entries by time then key; update_outbox() changes them."""
    s = stores.state
    entries = [
        OutboxEntry("b", "send", "c1", {"n": 1}, T0),
        OutboxEntry("a", "send", "c1", {"n": 2}, T0.astimezone(UTC)),
        OutboxEntry("c", "ticket", "c2", {"n": 3}, T0 - timedelta(hours=1)),
        OutboxEntry("d", "action", "c1", {"n": 4}, T0 + timedelta(days=1)),
    ]
    s.commit([], entries)
    # Insert-or-ignore: committing a known key again changes nothing.
    s.commit([], [OutboxEntry("a", "send", "c9", {"n": 99}, T0 - timedelta(days=9))])
    due = s.pending_outbox(T0)
    assert [e.key for e in due] == ["c", "a", "b"]
    assert due[1] == entries[1]
    assert due[1].not_before.utcoffset() == timedelta(0)
    assert [e.key for e in s.pending_outbox(T0, limit=1)] == ["c"]
    first = due[0]
    first.status, first.attempts = "done", 1
    s.update_outbox(first)
    retry = due[1]
    retry.attempts, retry.not_before = 1, T0 + timedelta(minutes=1)
    retry.payload["index"] = 1
    s.update_outbox(retry)
    assert [e.key for e in s.pending_outbox(T0)] == ["b"]
    later = s.pending_outbox(T0 + timedelta(days=1))
    assert [e.key for e in later] == ["b", "a", "d"]
    assert later[1].attempts == 1
    assert later[1].payload == {"n": 2, "index": 1}
    for e in later:
        e.status = "suppressed" if e.key == "d" else "done"
        s.update_outbox(e)
    assert s.pending_outbox(T0 + timedelta(days=9)) == []


def test_pending_outbox_lists_an_entry_once(stores: Stores) -> None:
    """An entry updated without changing its time is still listed once."""
    s = stores.state
    s.commit([], [OutboxEntry("k", "send", "c1", {}, T0)])
    (entry,) = s.pending_outbox(T0)
    entry.attempts = 1
    s.update_outbox(entry)
    assert [e.key for e in s.pending_outbox(T0)] == ["k"]


def test_processed_markers_and_meta(stores: Stores) -> None:
    """processed() and get_meta() reflect what commits recorded."""
    s = stores.state
    assert s.processed("e1") is False
    assert s.get_meta("k") is None
    s.commit([], [], processed_event="e1", meta={"k": "1"})
    s.commit([], [], meta={"k": "2", "other": "x"})
    assert s.processed("e1") is True
    assert s.processed("e2") is False
    assert s.get_meta("k") == "2"
    assert s.get_meta("other") == "x"


def test_any_string_round_trips(stores: Stores) -> None:
    """Ids, customer ids, quarantined lines and outbox keys holding NUL or U+FFFF (PostgreSQL's
    text cannot hold NUL) are stored and read back as given, and found by them."""
    odd = "a\x00b\uffff0\uffff1\\0"
    event = ev(odd, odd, T0, note=odd)
    assert stores.events.append(odd, event) is True
    assert stores.events.append(odd, event) is False
    assert list(stores.events.events(odd, odd, None, None)) == [event]
    s = stores.state
    entry = OutboxEntry(odd, "send", odd, {"journey": "j", "version": 1, "x": odd}, T0)
    s.commit([record(odd, due=T0.isoformat(), customer_id=odd)], [entry], processed_event=odd)
    assert s.processed(odd) is True
    assert s.processed("a") is False
    assert [r["id"] for r in s.instances_of(odd)] == [odd]
    assert s.due(T0) == [odd]
    assert s.pending_outbox(T0) == [entry]
    s.quarantine(odd, odd, odd, T0)
    (kept,) = s.quarantined(odd)
    assert (kept.event_id, kept.event, kept.reason) == (odd, odd, odd)
    stores.profiles.tag(odd, odd)
    assert stores.profiles.get(odd).tags == {odd}
    assert list(stores.profiles.customers()) == [odd]


# --------------------------------------------------------------------------- the engine on each


SCRIPT: list[tuple[int, dict[str, Any]]] = [
    # (day offset, event) — amounts and times in local time, the contract JSON form.
    (0, {"customer_id": "a", "type": "card_issued", "data": {"card_id": "ka", "product": "gold"}}),
    (0, {"customer_id": "b", "type": "card_issued", "data": {"card_id": "kb", "product": "gold"}}),
    (0, {"customer_id": "c", "type": "card_issued", "data": {"card_id": "kc", "product": "plat"}}),
    (0, {"customer_id": "d", "type": "card_issued", "data": {"card_id": "kd", "product": "plat"}}),
    (1, {"customer_id": "a", "type": "card_activated", "data": {"card_id": "ka"}}),
    (2, {"customer_id": "a", "type": "transaction", "data": {"amount": 1_500_000}}),
    (6, {"customer_id": "c", "type": "card_activated", "data": {"card_id": "kc"}}),
    (7, {"customer_id": "c", "type": "app_installed", "data": {}}),
    (9, {"customer_id": "c", "type": "transaction", "data": {"amount": 400_000}}),
    (20, {"customer_id": "c", "type": "transaction", "data": {"amount": "600000.00"}}),
    (3, {"customer_id": "d", "type": "card_activated", "data": {"card_id": "kd"}}),
]


def _run_onboarding(events: Any, profiles: Any, state: Any) -> list[tuple[Any, ...]]:
    result = compile_file(EXAMPLES / "onboarding_new_cardholder.journey")
    assert result.journey is not None
    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    for cid, app in (("a", False), ("b", True), ("c", False), ("d", True)):
        consent = {"email": True, "sms": True, "zns": cid != "d", "push": app}
        profiles.add(Profile(cid, {"has_digital_app": app}, consent, "Asia/Ho_Chi_Minh"))
    start = datetime(2026, 1, 5, 9, 30, tzinfo=tz)
    clock = SteppableClock(start)
    actions: list[dict[str, Any]] = []
    channels = {name: RecordingChannel(name) for name in ("email", "sms", "zns", "push")}
    engine = Engine(
        [result.journey],
        events=events,
        profiles=profiles,
        state=state,
        clock=clock,
        channels=channels,
        tickets=RecordingTickets(),
        actions={"annual_fee_waiver": RecordingActions()},
        on_action=actions.append,
    )

    def advance(t: datetime) -> None:
        while (w := engine.next_wakeup()) is not None and w <= t:
            clock.set(w)
            engine.tick(w)
        clock.set(t)

    script = sorted(SCRIPT, key=lambda item: item[0])
    for n, (day, raw) in enumerate(script):
        at = start + timedelta(days=day, minutes=n)
        data = dict(raw["data"])
        if raw["type"] == "transaction":
            data.update(currency="VND", merchant="Tiki", category="shopping")
        advance(at)
        engine.ingest({**raw, "at": at.isoformat(), "data": data})
    advance(start + timedelta(days=60))
    return [
        (a["at"].isoformat(), a["customer_id"], a["node"], a["kind"], a.get("channel"))
        for a in actions
    ] + [(m.idempotency_key, m.at.isoformat()) for c in channels.values() for m in c.delivered]


def test_onboarding_gives_the_same_actions_on_sqlite_and_memory(tmp_path: Path) -> None:
    """The onboarding example run by the Engine produces the same actions on both stores."""
    memory = _run_onboarding(MemoryEventStore(), MemoryProfileStore(), MemoryStateStore())
    with SQLiteStore(tmp_path / "state.sqlite") as store:
        sqlite = _run_onboarding(store, store, store)
    assert sqlite == memory
    kinds = {a[3] for a in memory if len(a) == 5}
    assert {"send", "ticket", "reward"} <= kinds


@pytest.mark.postgres
def test_onboarding_gives_the_same_actions_on_postgres_and_memory(pg_dsn: str) -> None:
    """The onboarding example run by the Engine produces the same actions on PostgreSQL as in
    memory."""
    from journeydsl.runtime.stores.postgres import PostgresStore

    memory = _run_onboarding(MemoryEventStore(), MemoryProfileStore(), MemoryStateStore())
    with PostgresStore(pg_dsn) as store:
        assert _run_onboarding(store, store, store) == memory


def test_engine_fires_timers_on_time_when_offsets_differ(stores: Stores) -> None:
    """A host driving the Engine by next_wakeup() delivers each timer's message at its due time,
    even when events arrive with different UTC offsets."""
    result = compile_file(EXAMPLES / "onboarding_new_cardholder.journey")
    assert result.journey is not None
    for cid in ("a", "b"):
        stores.profiles.add(Profile(cid, {}, {"email": True, "sms": True}, "Asia/Ho_Chi_Minh"))
    issued_a = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)  # 03:00Z
    issued_b = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # 16:00 ICT
    clock = SteppableClock(issued_a)
    actions: list[dict[str, Any]] = []
    engine = Engine(
        [result.journey],
        events=stores.events,
        profiles=stores.profiles,
        state=stores.state,
        clock=clock,
        channels={name: RecordingChannel(name) for name in ("email", "sms")},
        unhandled="withhold",  # push, zns, tickets and the reward are not what this pins
        on_action=actions.append,
    )
    for cid, at in (("a", issued_a), ("b", issued_b)):
        clock.set(at)
        data = {"card_id": f"k{cid}", "product": "gold"}
        engine.ingest(
            {"customer_id": cid, "type": "card_issued", "at": at.isoformat(), "data": data}
        )
    until = issued_a + timedelta(days=3)
    while (w := engine.next_wakeup()) is not None and w <= until:
        clock.set(w)
        engine.tick(w)
    reminders = {a["customer_id"]: a["at"] for a in actions if a["node"].endswith("reminder")}
    assert reminders == {"a": issued_a + timedelta(days=2), "b": issued_b + timedelta(days=2)}
