"""Events from a log (Kafka and the like) into the workers' inbox, with the log's offsets committed
only after the database commit.

:class:`EventConsumer` is the small protocol a log client meets: :meth:`~EventConsumer.poll`
a batch of :class:`Record` s from the partitions it is assigned, :meth:`~EventConsumer.commit`
the offsets after them, :meth:`~EventConsumer.close`. :class:`~journeydsl.runtime.kafka.
KafkaConsumer` implements it with confluent-kafka (the ``kafka`` extra).

:func:`pump` moves one batch: poll, put the records into the inbox in **one database
transaction** (:meth:`Worker.put <journeydsl.runtime.worker.Worker.put>`; an event id already
there is kept once), and only then commit the offsets. So:

* a process that dies after the database commit and before the offset commit has its records
  redelivered (to itself or to the partition's next owner): the inbox keeps each event id once,
  and an event already taken is skipped by its processed marker: no duplicate;
* a process that dies before the database commit committed no offset: the records are
  redelivered, none is lost;
* a rebalance happens inside ``poll`` (the client's callbacks run there), between two batches:
  every record polled before it was put and committed, so a revoked partition leaves nothing
  half-done; its new owner starts from the committed offset.

Every worker may consume: the inbox, not the consumer, decides which worker takes an event
(the owner of its customer's bucket), so partitions need not match buckets.
:func:`consumer_feed` plugs a consumer into :meth:`Worker.run
<journeydsl.runtime.worker.Worker.run>`'s ``feed``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

__all__ = ["EventConsumer", "Record", "consumer_feed", "next_offsets", "pump"]


@dataclass(frozen=True, slots=True)
class Record:
    """One record of the log: where it is, and its value (one JSON event)."""

    topic: str
    partition: int
    offset: int
    value: bytes


@runtime_checkable
class EventConsumer(Protocol):
    """**Protocol:** a consumer of a partitioned log, committing its offsets by hand."""

    def poll(self, max_records: int, timeout: float) -> list[Record]:
        """Up to ``max_records`` records of the partitions assigned now (waiting at most
        ``timeout`` seconds for the first); may run the client's rebalance callbacks."""
        ...

    def commit(self, records: Sequence[Record]) -> None:
        """Commit, for each partition of ``records``, the offset after its last one
        (synchronously: when it returns, the group's position is stored)."""
        ...

    def close(self) -> None:
        """Leave the group (its partitions go to the others) and release the client."""
        ...


def next_offsets(records: Iterable[Record]) -> dict[tuple[str, int], int]:
    """For each (topic, partition) of ``records``, the offset to commit: after the highest."""
    out: dict[tuple[str, int], int] = {}
    for r in records:
        key = (r.topic, r.partition)
        out[key] = max(out.get(key, 0), r.offset + 1)
    return out


def pump(
    consumer: EventConsumer,
    put: Callable[[list[bytes]], int],
    max_records: int = 500,
    timeout: float = 0.1,
) -> int:
    """Poll one batch, put it into the inbox (one database transaction), then commit its
    offsets; how many records. An error of ``put`` commits nothing (the batch comes again)."""
    records = consumer.poll(max_records, timeout)
    if not records:
        return 0
    put([r.value for r in records])
    consumer.commit(records)
    return len(records)


def consumer_feed(
    consumer: EventConsumer,
    put: Callable[[list[bytes]], int],
    max_records: int = 500,
    timeout: float = 0.05,
) -> Callable[[], list[bytes]]:
    """A ``feed`` for :meth:`Worker.run <journeydsl.runtime.worker.Worker.run>`: each pass
    pumps one batch (``put`` is the worker's own) and hands the worker nothing more to put."""

    def feed() -> list[bytes]:
        pump(consumer, put, max_records, timeout)
        return []

    return feed
