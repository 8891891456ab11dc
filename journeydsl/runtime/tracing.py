"""OpenTelemetry spans around a worker's ingest, steps and deliveries (the ``otel`` extra:
``pip install 'journeydsl[otel]'``, opentelemetry-api and -sdk), and the same ids in its
structlog lines.

A :class:`~journeydsl.runtime.worker.Worker` makes a :class:`Tracing`: with OpenTelemetry
installed, spans from the tracer provider given (else the global one, which the host configures
with its exporter):

* ``journeydsl.ingest``: one event taken (attributes ``journeydsl.event_id``,
  ``journeydsl.instance`` (the worker's id), ``journeydsl.bucket``);
* ``journeydsl.step``: a tick of a bucket (timers and scheduled entries fired:
  ``journeydsl.moved``);
* ``journeydsl.delivery``: one call to a channel's gateway (``journeydsl.channel``,
  ``journeydsl.idempotency_key``, ``journeydsl.result``).

While a span is open, the structlog lines the engine writes carry ``trace_id``, ``instance``
and the span's ids (``event_id``, ``idempotency_key``), through structlog's context variables
(``structlog.contextvars.merge_contextvars``, first in structlog's default processors: keep it
in yours). Without OpenTelemetry, the log lines still get those ids, with no ``trace_id``.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Iterator
from typing import Any

import structlog

__all__ = ["Tracing"]


def _otel() -> Any:
    """The opentelemetry.trace module, or None when it is not installed."""
    try:
        return importlib.import_module("opentelemetry.trace")
    except ImportError:
        return None


class Tracing:
    """Spans for one worker (``instance``: its id); ``provider``: an OpenTelemetry tracer
    provider (None: the global one); ``enabled=False`` opens no span."""

    def __init__(self, instance: str, provider: Any = None, enabled: bool = True) -> None:
        self.instance = instance
        trace = _otel() if enabled else None
        self._tracer: Any = None
        if trace is not None:
            source = provider if provider is not None else trace.get_tracer_provider()
            self._tracer = source.get_tracer("journeydsl")

    @contextlib.contextmanager
    def span(self, name: str, **attributes: Any) -> Iterator[Any]:
        """A span named ``journeydsl.<name>`` with ``attributes`` (prefixed ``journeydsl.``),
        and the same ids bound for the structlog lines written inside it. Yields the span (None
        without OpenTelemetry) to set more attributes on."""
        ids = {k: v for k, v in attributes.items() if k in ("event_id", "idempotency_key")}
        if self._tracer is None:
            with structlog.contextvars.bound_contextvars(instance=self.instance, **ids):
                yield None
            return
        attrs = {f"journeydsl.{k}": v for k, v in attributes.items() if v is not None}
        attrs["journeydsl.instance"] = self.instance
        with self._tracer.start_as_current_span(f"journeydsl.{name}", attributes=attrs) as span:
            trace_id = format(span.get_span_context().trace_id, "032x")
            with structlog.contextvars.bound_contextvars(
                trace_id=trace_id, instance=self.instance, **ids
            ):
                yield span
