"""The Kafka :class:`~journeydsl.runtime.consumer.EventConsumer`, on confluent-kafka (the ``kafka``
extra: ``pip install 'journeydsl[kafka]'``; imported only when a :class:`KafkaConsumer` is made).

The consumer joins ``group`` with automatic commits off (``enable.auto.commit=false``): offsets
are committed by :func:`~journeydsl.runtime.consumer.pump` once the batch is in the database,
synchronously. A new group starts at the earliest offset (``auto.offset.reset=earliest``) unless
``config`` says otherwise; ``config`` takes any librdkafka setting (security, timeouts …).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from journeydsl.runtime.consumer import Record, next_offsets

__all__ = ["KafkaConsumer", "KafkaConsumerError"]


class KafkaConsumerError(RuntimeError):
    """confluent-kafka is not installed, or the consumer reported an error."""


def _client() -> Any:
    try:
        return importlib.import_module("confluent_kafka")
    except ImportError as exc:
        raise KafkaConsumerError(
            "the Kafka consumer needs confluent-kafka: pip install 'journeydsl[kafka]'"
        ) from exc


class KafkaConsumer:
    """Records of ``topics`` for the consumer group ``group`` of the brokers ``bootstrap``."""

    def __init__(
        self,
        bootstrap: str,
        topics: Sequence[str],
        group: str,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        kafka = _client()
        self._kafka = kafka
        settings = {
            "bootstrap.servers": bootstrap,
            "group.id": group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
            **dict(config or {}),
        }
        self._consumer = kafka.Consumer(settings)
        self._consumer.subscribe(list(topics))

    def poll(self, max_records: int, timeout: float) -> list[Record]:
        """Up to ``max_records`` records (partition ends are not records; any other error
        raises :class:`KafkaConsumerError`)."""
        out: list[Record] = []
        for message in self._consumer.consume(num_messages=max_records, timeout=timeout):
            error = message.error()
            if error is not None:
                if error.code() == self._kafka.KafkaError._PARTITION_EOF:
                    continue
                raise KafkaConsumerError(f"Kafka: {error}")
            out.append(
                Record(message.topic(), message.partition(), message.offset(), message.value())
            )
        return out

    def commit(self, records: Sequence[Record]) -> None:
        """Commit the offsets after ``records``, synchronously."""
        offsets = [
            self._kafka.TopicPartition(topic, partition, offset)
            for (topic, partition), offset in sorted(next_offsets(records).items())
        ]
        if offsets:
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        """Leave the group."""
        self._consumer.close()
