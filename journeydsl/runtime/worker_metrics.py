"""What a worker counts and measures (:class:`WorkerMetrics`), for ``/metrics`` and for hosts that
run their own exporter.

A :class:`~journeydsl.runtime.worker.Worker` keeps one :class:`WorkerMetrics` (``worker.metrics``):
counters (events, steps, timers, deliveries by channel and result, errors by kind), histograms
(timer lag, delivery time, event lag) and gauges (leases held, backlogs). Everything is kept in
the process, under a lock, so reading it never touches the database:

* the Prometheus endpoint (:mod:`journeydsl.runtime.metrics`) reads :meth:`WorkerMetrics.snapshot`
  when scraped;
* a host with an exporter of its own (OpenTelemetry, StatsD, Datadog …) registers a callback with
  :meth:`WorkerMetrics.listen`: it is called with one :class:`MetricSample` per increment,
  observation or gauge change, on the worker's thread, and must be quick and must not raise
  (an exception is logged and the callback dropped).

Channels are measured by wrapping them (:class:`ObservedChannel`): how long each call to the
gateway took, and its answer (``delivered``, ``failed_transient``, ``failed_permanent``, or
``error`` when it raised).

Names (without the ``journeydsl_worker_`` prefix Prometheus adds) and labels are listed in
:data:`METRICS`; docs/operations.md has the table with alerts.
"""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from journeydsl.runtime.hostcalls import checked_answer, log
from journeydsl.runtime.protocols import Channel, DeliveryResult, Message, is_network_error
from journeydsl.runtime.tracing import Tracing

__all__ = [
    "BUCKETS",
    "METRICS",
    "Histogram",
    "MetricSample",
    "ObservedChannel",
    "WorkerMetrics",
]

#: Histogram bucket bounds, in seconds (Prometheus' ``le``): 1 ms to 1 hour.
BUCKETS: tuple[float, ...] = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    300.0,
    3600.0,
)

#: Every metric a worker keeps: name -> (kind, label names, help text).
METRICS: Mapping[str, tuple[str, tuple[str, ...], str]] = {
    "events": ("counter", (), "Events taken from the inbox and processed"),
    "quarantined": ("counter", (), "Events quarantined"),
    "steps": (
        "counter",
        ("kind",),
        "Engine steps run (kind: event; timer: timers and scheduled entries fired)",
    ),
    "timers_due": ("counter", (), "Timers found due and fired"),
    "timer_lag_seconds": ("histogram", (), "How late timers fired: the clock's now minus due"),
    "event_lag_seconds": (
        "histogram",
        (),
        "Live workers: from an event's time to the commit of its step",
    ),
    "deliveries": ("counter", ("channel", "result"), "Gateway calls by channel and answer"),
    "delivery_seconds": ("histogram", ("channel",), "How long each gateway call took"),
    "errors": (
        "counter",
        ("kind",),
        "Errors by kind: fenced, conflict, channel, instance, version",
    ),
    "leases_held": ("gauge", (), "Bucket leases held now"),
    "inbox_backlog": ("gauge", (), "Events waiting in the held buckets (at the last renewal)"),
    "outbox_backlog": ("gauge", (), "Outbox entries pending in the held buckets (idem)"),
}

Labels = tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class MetricSample:
    """One change, as a :meth:`WorkerMetrics.listen` callback gets it: ``kind`` is ``counter``
    (``value`` is the increment), ``histogram`` (one observation) or ``gauge`` (the new value)."""

    name: str
    kind: str
    value: float
    labels: Mapping[str, str]


@dataclass(slots=True)
class Histogram:
    """Observations counted per bucket bound (not cumulative), their sum and count."""

    counts: list[int] = field(default_factory=lambda: [0] * (len(BUCKETS) + 1))
    total: float = 0.0
    count: int = 0

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(BUCKETS, value)] += 1
        self.total += value
        self.count += 1

    def cumulative(self) -> list[tuple[str, int]]:
        """Prometheus' buckets: ``(le, observations at or below it)``, ``+Inf`` last."""
        out, running = [], 0
        for bound, n in zip((*map(str, BUCKETS), "+Inf"), self.counts, strict=True):
            running += n
            out.append((bound, running))
        return out


class WorkerMetrics:
    """A worker's counters, histograms and gauges (thread-safe), and the callbacks of
    :meth:`listen`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[tuple[str, Labels], float] = {}
        self.histograms: dict[tuple[str, Labels], Histogram] = {}
        self.gauges: dict[tuple[str, Labels], float] = {}
        self._listeners: list[Callable[[MetricSample], None]] = []

    def listen(self, callback: Callable[[MetricSample], None]) -> None:
        """Call ``callback`` with every change from now on (a host's own exporter)."""
        self._listeners.append(callback)

    def inc(self, name: str, value: float = 1.0, **labels: str) -> None:
        """Add ``value`` to a counter."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.counters[key] = self.counters.get(key, 0.0) + value
        self._tell(name, "counter", value, labels)

    def observe(self, name: str, value: float, **labels: str) -> None:
        """Count one observation (seconds) in a histogram."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            self.histograms.setdefault(key, Histogram()).observe(value)
        self._tell(name, "histogram", value, labels)

    def set(self, name: str, value: float, **labels: str) -> None:
        """Set a gauge."""
        key = (name, tuple(sorted(labels.items())))
        with self._lock:
            changed = self.gauges.get(key) != value
            self.gauges[key] = value
        if changed:
            self._tell(name, "gauge", value, labels)

    def counter(self, name: str, **labels: str) -> float:
        """A counter's value (0 before its first increment)."""
        with self._lock:
            return self.counters.get((name, tuple(sorted(labels.items()))), 0.0)

    def snapshot(
        self,
    ) -> tuple[
        dict[tuple[str, Labels], float],
        dict[tuple[str, Labels], Histogram],
        dict[tuple[str, Labels], float],
    ]:
        """Copies of the counters, histograms and gauges, taken at once."""
        with self._lock:
            histograms = {
                k: Histogram(list(h.counts), h.total, h.count) for k, h in self.histograms.items()
            }
            return dict(self.counters), histograms, dict(self.gauges)

    def _tell(self, name: str, kind: str, value: float, labels: Mapping[str, str]) -> None:
        if not self._listeners:
            return
        sample = MetricSample(name, kind, value, labels)
        for callback in list(self._listeners):
            try:
                callback(sample)
            except Exception as exc:  # (a host's exporter must not stop the worker)
                log.error("metric_callback_failed", error=repr(exc))
                self._listeners.remove(callback)


class ObservedChannel:
    """A :class:`~journeydsl.runtime.protocols.Channel` measured: each call's time and answer go
    to ``metrics`` (``deliveries`` by channel and result, ``delivery_seconds``); the answer,
    or the exception, is the wrapped channel's."""

    def __init__(
        self, name: str, channel: Channel, metrics: WorkerMetrics, tracing: Tracing | None = None
    ) -> None:
        self.name = name
        self.channel = channel
        self.metrics = metrics
        self.tracing = tracing

    def send(self, message: Message) -> DeliveryResult:
        if self.tracing is None:
            return self._send(message, None)
        key = message.idempotency_key
        with self.tracing.span("delivery", channel=self.name, idempotency_key=key) as span:
            return self._send(message, span)

    def _send(self, message: Message, span: Any) -> DeliveryResult:
        started = time.perf_counter()
        try:
            result = checked_answer(self.channel.send, self.channel.send(message))
        except BaseException as exc:
            self._done(started, "failed_transient" if is_network_error(exc) else "error", span)
            if not is_network_error(exc):
                self.metrics.inc("errors", kind="channel")
            raise
        self._done(started, result.status.value, span)
        return result

    def _done(self, started: float, result: str, span: Any) -> None:
        self.metrics.observe("delivery_seconds", time.perf_counter() - started, channel=self.name)
        self.metrics.inc("deliveries", channel=self.name, result=result)
        if span is not None:
            span.set_attribute("journeydsl.result", result)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.channel, name)
