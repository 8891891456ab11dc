"""A worker's Prometheus metrics and health endpoints (``journeydsl worker --metrics-port``).

:func:`serve` starts a small HTTP server on its own thread: ``/metrics`` in the Prometheus text
format (prometheus-client, the ``metrics`` extra), ``/healthz`` (200 while the worker is
starting, running or draining) and ``/readyz`` (200 while it runs and its leases are fresh, 503
otherwise). The figures are read from :meth:`Worker.health
<journeydsl.runtime.worker.Worker.health>` when scraped (plain counters the worker's thread
keeps), so a scrape never touches the worker's database connection.

Metrics (all prefixed ``journeydsl_worker_``): ``events_total`` (events taken),
``quarantined_total``, ``moved_total`` (timers, scheduled entries and deliveries fired),
``fencing_rejections_total``, ``leases_lost_total``, ``leases_claimed_total``,
``leases_held``, ``buckets``, ``inbox_backlog`` and ``outbox_backlog`` (of the buckets held, as
of the last lease renewal), ``up`` (1 while running), and ``last_renewal_timestamp_seconds``;
then what the worker measures (:data:`~journeydsl.runtime.worker_metrics.METRICS`): ``steps_total``
by kind, ``timers_due_total``, the histograms ``timer_lag_seconds``, ``event_lag_seconds`` and
``delivery_seconds`` (by channel), ``deliveries_total`` by channel and result, and
``errors_total`` by kind.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

from journeydsl.runtime.worker_metrics import METRICS, Histogram

if TYPE_CHECKING:
    from journeydsl.runtime.worker import Worker

__all__ = ["MetricsServer", "serve"]


def _collector(worker: Worker) -> Any:
    from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

    class Collector:
        def collect(self) -> Iterator[Any]:
            h = worker.health()
            p = "journeydsl_worker_"
            counters: tuple[tuple[str, str, float], ...] = (
                ("events", "Events taken from the inbox", h.events),
                ("quarantined", "Events quarantined", h.quarantined),
                ("moved", "Timers, scheduled entries and deliveries fired", h.moved),
                ("fencing_rejections", "Commits refused by fencing", h.fenced),
                ("leases_lost", "Bucket leases lost (expired, claimed by another)", h.lost),
                ("leases_claimed", "Bucket leases claimed", worker.owner.claimed),
            )
            for name, doc, value in counters:
                yield CounterMetricFamily(p + name, doc, value=value)
            gauges: tuple[tuple[str, str, float], ...] = (
                ("leases_held", "Bucket leases held now", h.buckets),
                ("buckets", "Buckets of the database", h.total_buckets),
                ("inbox_backlog", "Events waiting in the held buckets", worker.backlog[0]),
                ("outbox_backlog", "Outbox entries pending in the held buckets", worker.backlog[1]),
                ("up", "1 while the worker runs", int(h.state == "running")),
                (
                    "last_renewal_timestamp_seconds",
                    "When the leases were last renewed",
                    h.last_renewal.timestamp() if h.last_renewal else 0,
                ),
            )
            for name, doc, value in gauges:
                yield GaugeMetricFamily(p + name, doc, value=value)
            yield from _measured(worker)

    return Collector()


#: What :func:`_measured` leaves to the figures of ``health()`` (the same counts).
_FROM_HEALTH = frozenset({"events", "quarantined"})


def _measured(worker: Worker) -> Iterator[Any]:
    """The counters and histograms of ``worker.metrics``
    (:mod:`~journeydsl.runtime.worker_metrics`), each family present even before its first
    sample."""
    from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily

    counters, histograms, _ = worker.metrics.snapshot()
    p = "journeydsl_worker_"
    for name, (kind, labels, doc) in METRICS.items():
        if name in _FROM_HEALTH or kind == "gauge":
            continue
        if kind == "counter":
            family: Any = CounterMetricFamily(p + name, doc, labels=labels)
            for (found, pairs), value in sorted(counters.items()):
                if found == name:
                    family.add_metric([v for _, v in pairs], value)
            if not labels and not any(found == name for found, _ in counters):
                family.add_metric([], 0.0)
        else:
            family = HistogramMetricFamily(p + name, doc, labels=labels)
            series = sorted((pairs, h) for (found, pairs), h in histograms.items() if found == name)
            if not series and not labels:
                series = [((), Histogram())]
            for pairs, h in series:
                family.add_metric([v for _, v in pairs], h.cumulative(), sum_value=h.total)
        yield family


class MetricsServer:
    """The HTTP server of :func:`serve`: its port, and :meth:`close`."""

    def __init__(self, server: ThreadingHTTPServer) -> None:
        self._server = server
        self.port = int(server.server_address[1])
        threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()

    def close(self) -> None:
        """Stop serving."""
        self._server.shutdown()
        self._server.server_close()


def serve(worker: Worker, port: int = 0, host: str = "127.0.0.1") -> MetricsServer:
    """Serve ``/metrics``, ``/healthz`` and ``/readyz`` for ``worker`` on ``host:port`` (0: a
    free port; :attr:`MetricsServer.port` says which). Needs prometheus-client."""
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

    registry = CollectorRegistry(auto_describe=False)
    registry.register(_collector(worker))

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            path = self.path.split("?")[0]
            if path == "/metrics":
                self._send(200, generate_latest(registry), CONTENT_TYPE_LATEST)
            elif path in ("/healthz", "/readyz"):
                h = worker.health()
                good = h.state != "stopped" if path == "/healthz" else h.ok
                body = f"{h.state}{'' if good else ' (not ready)'}\n".encode()
                self._send(200 if good else 503, body, "text/plain; charset=utf-8")
            else:
                self._send(404, b"not found\n", "text/plain; charset=utf-8")

        def _send(self, code: int, body: bytes, kind: str) -> None:
            self.send_response(code)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass  # (scrapes are not worth a line each)

    return MetricsServer(ThreadingHTTPServer((host, port), Handler))
