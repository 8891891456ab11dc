"""A live worker's group commits on PostgreSQL: several events in one transaction, what they
need read once (processed markers, quarantine, profiles, live rows), the same answers as one
transaction per event, and a fenced group rolled back whole with its events left in the inbox."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.compiler import compile_file
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.stores.memory import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
)
from journeydsl.runtime.stores.postgres import Ownership, PostgresStore
from journeydsl.runtime.worker import SystemClock, Worker

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]


class _Sent:
    """A gateway keeping (customer, channel, template) of what it was given."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, str]] = []

    def send(self, message: Message) -> DeliveryResult:
        self.sent.append((message.customer_id, message.channel, message.template))
        return DeliveryResult(DeliveryStatus.DELIVERED)


def _record(customer: str, n: int = 1) -> InstanceRecord:
    return {  # type: ignore[typeddict-item]
        "id": f"i-{customer}-{n}",
        "customer_id": customer,
        "journey": "j",
        "version": 1,
        "status": "ended",
        "outcome": None,
        "node": None,
        "due": None,
        "log": [],
    }


def test_prefetched_reads_answer_what_the_server_holds(pg_dsn: str) -> None:
    """Inside a group, processed(), get(), release() and the live rows answer what the server
    would, and stay in step with the group's own writes (a marker, a profile, instances); an
    appended event is read back before its step commits, and stored with its marker after."""
    with PostgresStore(pg_dsn, buckets=4) as store:
        store.add(Profile("c-1", {"tier": "gold"}, {"email": True}, "Asia/Ho_Chi_Minh"))
        store.commit([_record("c-1")], [], processed_event="e-old")
        seen = datetime(2026, 3, 1, tzinfo=UTC)
        store.quarantine("e-bad", "{}", "bad", seen)
        ids = ["e-old", "e-new", "e-bad", "e-next", "e-last"]
        with store.batch(), store.prefetched(ids, ["c-1", "c-2"]):
            assert store.processed("e-old")
            assert not store.processed("e-new")
            assert store.get("c-1").attributes == {"tier": "gold"}
            assert not store.get("c-2").known
            assert [r["id"] for r in store.live_instances_of("c-1")] == ["i-c-1-1"]
            store.commit([_record("c-1", 2)], [], processed_event="e-new")
            assert store.processed("e-new")
            assert [r["id"] for r in store.live_instances_of("c-1")] == ["i-c-1-1", "i-c-1-2"]
            store.update("c-2", "tier", "silver")
            assert store.get("c-2").attributes == {"tier": "silver"}
            assert not store.release("e-new")  # (never quarantined: no statement)
            assert store.release("e-bad")
            inside = store.live_instances_of("c-1")
            at = datetime(2026, 3, 1, 9, tzinfo=UTC)
            store.append("e-next", EventRecord("c-1", "card_issued", at, {"card_id": "k"}))
            assert not store.processed("e-next")
            assert [e.at for e in store.events("c-1", "card_issued", None, None)] == [at]
            store.append("e-last", EventRecord("c-1", "card_issued", at, {"card_id": "j"}))
            store.commit([], [], processed_event="e-last")
        assert store.live_instances_of("c-1") == inside
        assert len(store.events("c-1", "card_issued", None, None)) == 2
        assert store.processed("e-last")
        assert not store.processed("e-next")
        assert store.quarantined() == []
        assert store.processed("e-new")


def _events(customers: list[str], at: datetime) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for c in customers:
        card = {"card_id": f"k-{c}"}
        out.append(_ev(f"{c}-1", c, "card_issued", at, {**card, "product": "gold"}))
        out.append(_ev(f"{c}-2", c, "card_activated", at + timedelta(seconds=1), card))
        out.append(_ev(f"{c}-3", c, "app_installed", at + timedelta(seconds=2), {}))
    out.sort(key=lambda e: e["at"])
    return out


def _ev(eid: str, c: str, etype: str, at: datetime, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": eid, "customer_id": c, "type": etype, "at": at.isoformat(), "data": data}


def test_group_commits_give_the_answers_of_one_transaction_per_event(pg_dsn: str) -> None:
    """A live worker taking three events per customer in group commits ends every customer
    where an engine taking them one by one (in-memory stores) does, with the same messages."""
    journey = compile_file(ROOT / "examples" / "onboarding_new_cardholder.journey").journey
    assert journey is not None
    customers = [f"c-{n}" for n in range(12)]
    profiles = [Profile(c, {"has_digital_app": False}, {"email": True}) for c in customers]
    events = _events(customers, datetime.now(UTC) - timedelta(minutes=5))
    with PostgresStore(pg_dsn, buckets=2) as store:
        store.add_profiles(profiles)
        gateway = _Sent()
        worker = Worker(
            [journey],
            store=store,
            channels=dict.fromkeys(["email", "sms", "zns", "push"], gateway),
            tickets=gateway,  # type: ignore[arg-type]
            actions={"annual_fee_waiver": gateway},  # type: ignore[dict-item]
            clock=SystemClock(),
        )
        worker.put(json.dumps(e) for e in events)
        worker.run(exit_when_idle=True)
        states = {c: [(i["journey"], i["status"], i["node"]) for i in store.instances_of(c)]
                  for c in customers}  # fmt: skip
    reference = _Sent()
    state = MemoryStateStore()
    engine = Engine(
        [journey],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore(profiles),
        state=state,
        clock=SystemClock(),
        channels=dict.fromkeys(["email", "sms", "zns", "push"], reference),
        tickets=reference,  # type: ignore[arg-type]
        actions={"annual_fee_waiver": reference},  # type: ignore[dict-item]
    )
    for e in events:
        engine.ingest(e)
    expected = {c: [(i["journey"], i["status"], i["node"]) for i in state.instances_of(c)]
                for c in customers}  # fmt: skip
    assert worker.health().events == len(events)
    assert states == expected
    assert sorted(gateway.sent) == sorted(reference.sent)
    assert len({c for c, _, _ in gateway.sent}) == len(customers)


def test_a_fenced_group_is_rolled_back_whole_and_its_events_wait(pg_dsn: str) -> None:
    """A live worker whose bucket was claimed by another while it was paused has its group
    commit fenced: none of the group's events is stored, they all stay in the inbox for the
    new owner, and the rejection is counted (errors of kind fenced)."""
    journey = compile_file(ROOT / "examples" / "onboarding_new_cardholder.journey").journey
    assert journey is not None
    with PostgresStore(pg_dsn, buckets=2) as store:
        customers = [c for n in range(40) if store.bucket(c := f"c-{n}") == 1][:3]
        gateway = _Sent()
        worker = Worker(
            [journey],
            store=store,
            channels=dict.fromkeys(["email", "sms", "zns", "push"], gateway),
            tickets=gateway,  # type: ignore[arg-type]
            actions={"annual_fee_waiver": gateway},  # type: ignore[dict-item]
            clock=SystemClock(),
        )
        worker.renew(force=True)
        assert sorted(worker.owner.epochs) == [0, 1]
        worker.put(json.dumps(e) for e in _events(customers, datetime.now(UTC)))
        store._conn.execute(
            "UPDATE leases SET expires_at = clock_timestamp() - interval '1 second' "
            "WHERE bucket = 1"
        )
        store._conn.execute("DELETE FROM workers WHERE id = %s", (worker.owner.worker,))
        with PostgresStore(pg_dsn) as other:
            assert 1 in other.claim(Ownership("other"), timedelta(seconds=30))[0]
        worker._renewed = float("inf")  # (paused: it does not know yet)
        assert worker._guarded([0, 1], worker._live_events) == 1
        left = store._conn.execute("SELECT count(*) FROM inbox WHERE bucket = 1").fetchone()
        stored = store._conn.execute("SELECT count(*) FROM events").fetchone()
    assert left == (9,)
    assert stored == (0,)
    assert gateway.sent == []
    assert worker.metrics.counter("errors", kind="fenced") == 1
    assert 1 not in worker.owner.epochs
