"""OpenTelemetry spans around a worker's ingest, steps and deliveries, with the trace id,
instance id, event id and idempotency key in the structlog lines written inside them (checked
with the SDK's in-memory exporter)."""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Iterator, MutableMapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from journeydsl.compiler import compile_file
from journeydsl.runtime.hostcalls import log
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from journeydsl.runtime.tracing import Tracing
from tests.runtime.test_worker_metrics import PROBE

sdk = pytest.importorskip("opentelemetry.sdk.trace")
export = pytest.importorskip("opentelemetry.sdk.trace.export")
memory = pytest.importorskip("opentelemetry.sdk.trace.export.in_memory_span_exporter")

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def exporter() -> Any:
    return memory.InMemorySpanExporter()


@pytest.fixture
def provider(exporter: Any) -> Any:
    provider = sdk.TracerProvider()
    provider.add_span_processor(export.SimpleSpanProcessor(exporter))
    return provider


@pytest.fixture
def lines() -> Iterator[list[MutableMapping[str, Any]]]:
    """The structlog lines written during the test, after the context variables merged."""
    kept: list[MutableMapping[str, Any]] = []

    def keep(_: Any, __: str, event: MutableMapping[str, Any]) -> Any:
        kept.append(dict(event))
        raise structlog.DropEvent

    structlog.configure(
        processors=[structlog.contextvars.merge_contextvars, keep],
        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
    )
    try:
        yield kept
    finally:
        structlog.reset_defaults()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def test_a_span_carries_its_ids_to_the_log_lines_written_in_it(
    provider: Any, exporter: Any, lines: list[MutableMapping[str, Any]]
) -> None:
    """Tracing.span opens journeydsl.<name> with prefixed attributes and the instance; a log
    line inside it has the span's trace id, the instance and the event id; none after it."""
    tracing = Tracing("w-1", provider)
    with tracing.span("ingest", event_id="e-1", bucket=3) as span:
        log.warning("inside")
        trace_id = format(span.get_span_context().trace_id, "032x")
    log.warning("after")
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "journeydsl.ingest"
    assert dict(finished.attributes) == {
        "journeydsl.event_id": "e-1",
        "journeydsl.bucket": 3,
        "journeydsl.instance": "w-1",
    }
    inside, after = lines
    assert (inside["trace_id"], inside["instance"], inside["event_id"]) == (trace_id, "w-1", "e-1")
    assert "trace_id" not in after


def test_without_opentelemetry_the_log_lines_still_get_the_ids(
    lines: list[MutableMapping[str, Any]],
) -> None:
    """Tracing(enabled=False) opens no span, and still binds the instance and ids."""
    with Tracing("w-2", enabled=False).span("delivery", idempotency_key="k-1") as span:
        log.warning("sent")
    assert span is None
    assert lines[0]["instance"] == "w-2"
    assert lines[0]["idempotency_key"] == "k-1"
    assert "trace_id" not in lines[0]


class _Gateway:
    def send(self, message: Message) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.DELIVERED)


@pytest.mark.postgres
def test_a_live_worker_traces_ingest_steps_and_deliveries(
    tmp_path: Path,
    pg_dsn: str,
    provider: Any,
    exporter: Any,
    lines: list[MutableMapping[str, Any]],
) -> None:
    """A live worker given a tracer provider opens an ingest span per event, a step span per
    bucket tick and a delivery span per gateway call (channel, idempotency key, result); the
    engine's warning about a customer without a profile carries the event's trace id."""
    from journeydsl.runtime.stores.postgres import PostgresStore
    from journeydsl.runtime.worker import SystemClock, Worker

    for name in ("events.yaml", "templates.yaml"):
        shutil.copy(ROOT / "examples" / name, tmp_path / name)
    (tmp_path / "probe.journey").write_text(PROBE)  # (an SMS, a 1-second timer, an email)
    journey = compile_file(tmp_path / "probe.journey").journey
    assert journey is not None
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    events = [
        {"id": f"e-{c}", "customer_id": c, "type": "card_issued", "at": at,
         "data": {"card_id": "k", "product": "gold"}}
        for c in ("c-1", "c-unknown")
    ]  # fmt: skip
    gateway = _Gateway()
    with PostgresStore(pg_dsn, buckets=2) as store:
        store.add(Profile("c-1", {"has_digital_app": True}, {"email": True, "sms": True}))
        worker = Worker(
            [journey],
            store=store,
            channels=dict.fromkeys(["email", "sms", "zns", "push"], gateway),
            tickets=gateway,  # type: ignore[arg-type]
            actions={"annual_fee_waiver": gateway},  # type: ignore[dict-item]
            clock=SystemClock(),
            tracer_provider=provider,
        )
        worker.put(json.dumps(e) for e in events)
        worker.run(exit_when_idle=True)
    spans = exporter.get_finished_spans()
    ingest = {s.attributes["journeydsl.event_id"]: s for s in spans if s.name.endswith("ingest")}
    assert sorted(ingest) == ["e-c-1", "e-c-unknown"]
    deliveries = [s for s in spans if s.name == "journeydsl.delivery"]
    assert deliveries
    assert {s.attributes["journeydsl.result"] for s in deliveries} == {"delivered"}
    assert all(s.attributes["journeydsl.idempotency_key"] for s in deliveries)
    assert any(s.name == "journeydsl.step" for s in spans)
    assert {s.attributes["journeydsl.instance"] for s in spans} == {worker.owner.worker}
    (warned,) = [x for x in lines if x["event"] == "no_profile"]
    unknown = ingest["e-c-unknown"].get_span_context().trace_id
    assert warned["trace_id"] == format(unknown, "032x")
    assert warned["event_id"] == "e-c-unknown"
