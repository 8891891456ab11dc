"""The consumer adapter: records of a partitioned log put into the workers' inbox, their offsets
committed only after the database commit; against a fake broker with Kafka's poll, commit and
rebalance semantics (a crash before the offset commit redelivers, and gives no duplicate; a
rebalance revokes partitions and their new owner starts at the committed offset); and against a
real broker when KAFKA_BOOTSTRAP names one."""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.compiler import compile_file
from journeydsl.runtime.consumer import (
    EventConsumer,
    Record,
    consumer_feed,
    next_offsets,
    pump,
)
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from journeydsl.runtime.stores.postgres import PostgresStore
from journeydsl.runtime.worker import Worker

ROOT = Path(__file__).resolve().parents[2]
TOPIC = "card-events"


class CommitFailedError(Exception):
    """What Kafka answers a commit for partitions the consumer no longer owns."""


class FakeBroker:
    """One topic's partitions, a group's committed offsets, and its members' assignments
    (round robin over the members, redone when one joins or leaves)."""

    def __init__(self, partitions: int) -> None:
        self.log: dict[int, list[bytes]] = {p: [] for p in range(partitions)}
        self.committed: dict[int, int] = {}
        self.members: list[FakeConsumer] = []

    def produce(self, partition: int, value: bytes) -> None:
        self.log[partition].append(value)

    def join(self, member: FakeConsumer) -> None:
        self.members.append(member)
        self.rebalance()

    def leave(self, member: FakeConsumer) -> None:
        self.members.remove(member)
        self.rebalance()

    def rebalance(self) -> None:
        """Assign the partitions anew: what a member loses is revoked (its position
        forgotten); what it gains starts at the group's committed offset."""
        for n, member in enumerate(self.members):
            mine = {p for p in self.log if p % len(self.members) == n}
            member.assign(mine, self.committed)


class FakeConsumer:
    """A member of the broker's group (EventConsumer)."""

    def __init__(self, broker: FakeBroker) -> None:
        self.broker = broker
        self.positions: dict[int, int] = {}
        self.revoked: list[int] = []
        broker.join(self)

    def assign(self, partitions: set[int], committed: dict[int, int]) -> None:
        self.revoked += sorted(set(self.positions) - partitions)
        self.positions = {
            p: self.positions.get(p, committed.get(p, 0)) if p in self.positions
            else committed.get(p, 0)
            for p in sorted(partitions)
        }  # fmt: skip

    def poll(self, max_records: int, timeout: float) -> list[Record]:
        out: list[Record] = []
        for p, at in self.positions.items():
            for offset in range(at, len(self.broker.log[p])):
                if len(out) == max_records:
                    return out
                out.append(Record(TOPIC, p, offset, self.broker.log[p][offset]))
                self.positions[p] = offset + 1
        return out

    def commit(self, records: Sequence[Record]) -> None:
        offsets = next_offsets(records)
        if any(p not in self.positions for _, p in offsets):
            raise CommitFailedError("the group rebalanced: those partitions are not yours")
        for (_, p), offset in offsets.items():
            self.broker.committed[p] = max(self.broker.committed.get(p, 0), offset)

    def close(self) -> None:
        self.broker.leave(self)


class _Gateway:
    def __init__(self) -> None:
        self.keys: list[str] = []

    def send(self, message: Message) -> DeliveryResult:
        self.keys.append(message.idempotency_key)
        return DeliveryResult(DeliveryStatus.DELIVERED)


START = datetime.fromisoformat("2026-03-02T10:00:00+07:00")


def _events(customers: int) -> list[bytes]:
    out = []
    for n in range(customers):
        c = f"c-{n}"
        for k, (etype, data) in enumerate(
            [
                ("card_issued", {"card_id": f"k-{c}", "product": "gold"}),
                ("card_activated", {"card_id": f"k-{c}"}),
            ]
        ):
            at = START + timedelta(hours=n, minutes=k)
            event = {"id": f"{c}-{k}", "customer_id": c, "type": etype, "at": at.isoformat()}
            out.append(json.dumps({**event, "data": data}).encode())
    return out


def _worker(store: PostgresStore, gateway: _Gateway) -> Worker:
    journey = compile_file(ROOT / "examples" / "onboarding_new_cardholder.journey").journey
    assert journey is not None
    store.add_profiles(
        Profile(f"c-{n}", {"has_digital_app": True}, {"email": True}) for n in range(8)
    )
    return Worker(
        [journey],
        store=store,
        channels=dict.fromkeys(["email", "sms", "zns", "push"], gateway),
        tickets=gateway,  # type: ignore[arg-type]
        actions={"annual_fee_waiver": gateway},  # type: ignore[dict-item]
    )


def _produce(broker: FakeBroker, events: list[bytes]) -> None:
    for value in events:
        customer = json.loads(value)["customer_id"]
        broker.produce(int(customer.split("-")[1]) % len(broker.log), value)


def test_the_fake_consumer_is_an_event_consumer_and_offsets_follow_the_last_record() -> None:
    """The fake meets the protocol; next_offsets commits after the highest offset of each
    partition."""
    broker = FakeBroker(2)
    assert isinstance(FakeConsumer(broker), EventConsumer)
    records = [Record(TOPIC, 0, 4, b""), Record(TOPIC, 0, 2, b""), Record(TOPIC, 1, 0, b"")]
    assert next_offsets(records) == {(TOPIC, 0): 5, (TOPIC, 1): 1}


def test_pump_commits_offsets_only_after_the_database_commit() -> None:
    """A put that fails commits no offset: the same records come again to the next poll of
    the partition's owner."""
    broker = FakeBroker(2)
    _produce(broker, _events(3))
    consumer = FakeConsumer(broker)

    def failing(lines: list[bytes]) -> int:
        raise OSError("the database is down")

    with pytest.raises(OSError, match="down"):
        pump(consumer, failing)
    assert broker.committed == {}
    consumer.close()
    again = FakeConsumer(broker)
    got: list[bytes] = []

    def put(lines: list[bytes]) -> int:
        got.extend(lines)
        return len(lines)

    assert pump(again, put) == 6
    assert sorted(got) == sorted(_events(3))
    assert broker.committed == {0: 4, 1: 2}  # (c-0 and c-2 on partition 0, c-1 on 1)


@pytest.mark.postgres
def test_a_crash_before_the_offset_commit_redelivers_without_duplicates(pg_dsn: str) -> None:
    """A consumer that put a batch (and its worker took the events) but died before committing
    the offsets has the batch redelivered to the partition's next owner: every event is taken
    once, each message sent once."""
    broker = FakeBroker(2)
    events = _events(6)
    _produce(broker, events)
    gateway = _Gateway()
    with PostgresStore(pg_dsn, buckets=4) as store:
        worker = _worker(store, gateway)
        crashing = FakeConsumer(broker)
        worker.put(r.value for r in crashing.poll(500, 0.1))  # (the database commit…)
        worker.run(exit_when_idle=True)
        crashing.close()  # (…and the process died before the offset commit)
        assert broker.committed == {}
        successor = FakeConsumer(broker)
        assert pump(successor, worker.put) == len(events)  # redelivered, put again
        worker.run(exit_when_idle=True)
        left = store._conn.execute("SELECT count(*) FROM inbox").fetchone()
    assert worker.health().events == len(events)
    assert worker.health().quarantined == 0
    assert left == (0,)
    assert len(gateway.keys) == len(set(gateway.keys)) > 0
    assert broker.committed == {0: 6, 1: 6}


@pytest.mark.postgres
def test_a_rebalance_revokes_partitions_and_loses_nothing(pg_dsn: str) -> None:
    """A consumer whose partition is revoked between its poll and its commit has the commit
    refused; the partition's new owner starts at the committed offset, so the batch comes again:
    every event is taken once, and the revoked consumer polls only what it still owns."""
    broker = FakeBroker(2)
    events = _events(8)
    _produce(broker, events[:8])
    gateway = _Gateway()
    with PostgresStore(pg_dsn, buckets=4) as store:
        worker = _worker(store, gateway)
        first = FakeConsumer(broker)
        assert pump(first, worker.put) == 8  # committed
        _produce(broker, events[8:])
        batch = first.poll(500, 0.1)
        second = FakeConsumer(broker)  # joins: partition 1 moves to it
        assert first.revoked == [1]
        worker.put([r.value for r in batch])
        with pytest.raises(CommitFailedError):
            first.commit(batch)
        assert pump(second, worker.put) == sum(1 for r in batch if r.partition == 1)
        assert {r.partition for r in first.poll(500, 0.1)} <= {0}
        first.commit([r for r in batch if r.partition == 0])
        worker.run(exit_when_idle=True)
    assert worker.health().events == len(events)
    assert len(gateway.keys) == len(set(gateway.keys))
    assert broker.committed == {0: 8, 1: 8}


@pytest.mark.postgres
def test_a_worker_fed_by_a_consumer_takes_every_event(pg_dsn: str) -> None:
    """consumer_feed pumps a batch each pass of Worker.run: every record ends taken."""
    broker = FakeBroker(3)
    events = _events(5)
    _produce(broker, events)
    gateway = _Gateway()
    with PostgresStore(pg_dsn, buckets=4) as store:
        worker = _worker(store, gateway)
        consumer = FakeConsumer(broker)
        passes = 0
        feed = consumer_feed(consumer, worker.put)

        def counted() -> list[bytes]:
            nonlocal passes
            passes += 1
            return feed()

        worker.run(exit_when_idle=True, feed=counted)
    assert passes >= 1
    assert worker.health().events == len(events)
    assert sum(broker.committed.values()) == len(events)


@pytest.mark.skipif(not os.environ.get("KAFKA_BOOTSTRAP"), reason="KAFKA_BOOTSTRAP is not set")
@pytest.mark.postgres
def test_a_real_broker_feeds_the_inbox(pg_dsn: str) -> None:
    """Against the broker KAFKA_BOOTSTRAP names: produced events are consumed by
    KafkaConsumer, put into the inbox, taken by a worker, their offsets committed."""
    kafka: Any = pytest.importorskip("confluent_kafka")
    from journeydsl.runtime.kafka import KafkaConsumer

    bootstrap = os.environ["KAFKA_BOOTSTRAP"]
    topic = f"journeydsl-test-{uuid.uuid4().hex[:8]}"
    producer = kafka.Producer({"bootstrap.servers": bootstrap})
    events = _events(3)
    for value in events:
        producer.produce(topic, value)
    producer.flush(30)
    consumer = KafkaConsumer(bootstrap, [topic], f"g-{topic}")
    gateway = _Gateway()
    with PostgresStore(pg_dsn, buckets=4) as store:
        worker = _worker(store, gateway)
        taken = 0
        for _ in range(100):
            taken += pump(consumer, worker.put, timeout=1.0)
            if taken >= len(events):
                break
        consumer.close()
        worker.run(exit_when_idle=True)
    assert taken == len(events)
    assert worker.health().events == len(events)


class _Message:
    def __init__(self, offset: int, error: Any = None) -> None:
        self._offset = offset
        self._error = error

    def error(self) -> Any:
        return self._error

    def topic(self) -> str:
        return TOPIC

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def value(self) -> bytes:
        return b"{}"


class _Code:
    def __init__(self, code: int) -> None:
        self._code = code

    def code(self) -> int:
        return self._code

    def __str__(self) -> str:
        return f"broker error {self._code}"


def _fake_confluent_kafka(monkeypatch: pytest.MonkeyPatch, consumer: type) -> None:
    """Install a `confluent_kafka` module whose Consumer is ``consumer`` (a broker's offsets as
    tuples, partition ends as error code -191)."""
    import sys
    import types

    fake = types.ModuleType("confluent_kafka")
    fake.Consumer = consumer  # type: ignore[attr-defined]
    fake.TopicPartition = lambda t, p, o: (t, p, o)  # type: ignore[attr-defined]
    fake.KafkaError = types.SimpleNamespace(_PARTITION_EOF=-191)  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "confluent_kafka", fake)


def test_the_kafka_consumer_speaks_confluent_kafka(monkeypatch: pytest.MonkeyPatch) -> None:
    """KafkaConsumer subscribes with automatic commits off, skips partition ends, raises on
    other errors, and commits the offsets after the last records synchronously; without
    confluent-kafka it says which extra to install."""
    import sys

    from journeydsl.runtime.kafka import KafkaConsumer, KafkaConsumerError

    calls: list[tuple[str, Any]] = []

    class Consumer:
        def __init__(self, settings: dict[str, Any]) -> None:
            calls.append(("settings", settings))
            self.batches = [[_Message(7), _Message(8, _Code(-191))], [_Message(9, _Code(5))]]

        def subscribe(self, topics: list[str]) -> None:
            calls.append(("subscribe", topics))

        def consume(self, num_messages: int, timeout: float) -> list[_Message]:
            return self.batches.pop(0)

        def commit(self, offsets: list[Any], asynchronous: bool) -> None:
            calls.append(("commit", (offsets, asynchronous)))

        def close(self) -> None:
            calls.append(("close", None))

    _fake_confluent_kafka(monkeypatch, Consumer)
    consumer = KafkaConsumer("k:9092", [TOPIC], "journeys")
    assert isinstance(consumer, EventConsumer)
    records = consumer.poll(10, 0.1)
    assert records == [Record(TOPIC, 0, 7, b"{}")]
    consumer.commit(records)
    with pytest.raises(KafkaConsumerError, match="broker error 5"):
        consumer.poll(10, 0.1)
    consumer.close()
    settings = calls[0][1]
    assert settings["enable.auto.commit"] is False
    assert settings["group.id"] == "journeys"
    assert ("subscribe", [TOPIC]) in calls
    assert ("commit", ([(TOPIC, 0, 8)], False)) in calls
    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    with pytest.raises(KafkaConsumerError, match=r"journeydsl\[kafka\]"):
        KafkaConsumer("k:9092", [TOPIC], "journeys")


def test_journeydsl_worker_consumes_from_kafka(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`journeydsl worker --kafka B --topic T --group G --kafka-config K=V` joins the group with
    automatic commits off, puts each batch into the inbox before committing its offsets, and
    delivers what a SQLite run of the same events delivers; it leaves the group at the end."""

    from journeydsl.cli import main
    from tests.runtime.test_run_cli import EVENTS, JOURNEYS, PROFILES, jsonl

    lines = [(e if isinstance(e, str) else json.dumps(e)).encode() for e in EVENTS]
    calls: list[tuple[str, Any]] = []

    class Message(_Message):
        def __init__(self, offset: int) -> None:
            super().__init__(offset)

        def value(self) -> bytes:
            return lines[self._offset]

    class Consumer:
        def __init__(self, settings: dict[str, Any]) -> None:
            calls.append(("settings", settings))
            self.offset = 0

        def subscribe(self, topics: list[str]) -> None:
            calls.append(("subscribe", topics))

        def consume(self, num_messages: int, timeout: float) -> list[Message]:
            batch = [Message(n) for n in range(self.offset, min(len(lines), self.offset + 4))]
            self.offset += len(batch)
            return batch

        def commit(self, offsets: list[Any], asynchronous: bool) -> None:
            calls.append(("commit", offsets))

        def close(self) -> None:
            calls.append(("close", None))

    _fake_confluent_kafka(monkeypatch, Consumer)
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    reference = tmp_path / "sqlite.jsonl"
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    now = ["--now", "2026-02-20T00:00:00+07:00"]
    argv = ["run", *JOURNEYS, "--db", str(tmp_path / "s.sqlite"), "--events", str(events)]
    assert main([*argv, "--profiles", str(profiles), "--actions", str(reference), *now]) == 0
    actions = tmp_path / "kafka.jsonl"
    argv = ["worker", *JOURNEYS, "--db", pg_dsn, "--migrate", "--buckets", "4"]
    argv += ["--kafka", "k1:9092,k2:9092", "--topic", TOPIC, "--group", "bank-journeys"]
    argv += ["--kafka-config", "security.protocol=SSL", "--profiles", str(profiles)]
    assert main([*argv, "--actions", str(actions), "--exit-when-idle", *now]) == 0
    assert sorted(actions.read_text().splitlines()) == sorted(reference.read_text().splitlines())
    settings = calls[0][1]
    assert settings["bootstrap.servers"] == "k1:9092,k2:9092"
    assert settings["group.id"] == "bank-journeys"
    assert settings["security.protocol"] == "SSL"
    assert settings["enable.auto.commit"] is False
    assert ("subscribe", [TOPIC]) in calls
    commits = [offsets for kind, offsets in calls if kind == "commit"]
    assert commits[-1] == [(TOPIC, 0, len(lines))]
    assert calls[-1] == ("close", None)
    assert "3 quarantined" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--kafka", "k:9092", "--events", "e.jsonl"], "two sources of events"),
        (["--topic", "t"], "go with --kafka"),
        (["--kafka", "k:9092", "--kafka-config", "oops"], "'oops' is not KEY=VALUE"),
    ],
)
def test_kafka_options_that_do_not_fit_are_usage_errors(
    capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    """Two sources of events, Kafka settings without --kafka, a setting without `=`: exit 2,
    saying what is wrong, before the database is touched."""
    from journeydsl.cli import main
    from tests.runtime.test_run_cli import JOURNEYS

    argv = ["worker", *JOURNEYS, "--db", "postgresql://nobody@127.0.0.1:1/none"]
    assert main([*argv, "--actions", "a.jsonl", *extra]) == 2
    assert says in capsys.readouterr().err


def test_a_worker_without_the_kafka_extra_says_which_to_install(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], pg_dsn: str, tmp_path: Path
) -> None:
    """`journeydsl worker --kafka` without confluent-kafka: exit 1 naming the extra, no
    traceback."""
    import sys

    from journeydsl.cli import main
    from tests.runtime.test_run_cli import JOURNEYS

    monkeypatch.setitem(sys.modules, "confluent_kafka", None)
    argv = ["worker", *JOURNEYS, "--db", pg_dsn, "--migrate", "--kafka", "k:9092"]
    assert main([*argv, "--actions", str(tmp_path / "a.jsonl")]) == 1
    err = capsys.readouterr().err
    assert "journeydsl[kafka]" in err
    assert "Traceback" not in err
