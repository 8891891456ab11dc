"""An asyncio facade over a :class:`~journeydsl.runtime.worker.Worker`, for services built on an
event loop (FastAPI, aiohttp, a plain ``asyncio`` server): ``await worker.ingest(event)``.

:class:`AsyncWorker` runs the worker, its engine and its store on a thread of its own (the
store is single-threaded: it is opened there, by the factory you give) and never blocks the
event loop: every call is handed to that thread, and its answer comes back to the loop.

``await ingest(event)`` puts the event into the database's inbox (committed: from then on it is
taken exactly once, by whichever worker owns its customer's bucket) and, by default, returns
once its step is committed: an :class:`IngestReceipt` saying ``processed`` (its instances and
outbox entries are in the database; its messages are delivered by the worker after that) or
``quarantined`` (with the reason). When this worker owns the bucket, that is within its next
pass, at once; otherwise when the owner has taken it. ``wait=False`` returns as soon as the
event is in the inbox (``accepted``).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

from journeydsl.runtime import inbox
from journeydsl.runtime.intake import event_text
from journeydsl.runtime.worker import Worker, WorkerHealth

__all__ = ["AsyncWorker", "IngestReceipt"]


@dataclass(frozen=True, slots=True)
class IngestReceipt:
    """What became of one event: ``accepted`` (in the inbox), ``processed`` (its step
    committed) or ``quarantined`` (with ``reason``)."""

    event_id: str
    state: str
    reason: str | None = None


@dataclass(slots=True)
class _Request:
    line: str
    wait: bool
    loop: asyncio.AbstractEventLoop
    future: asyncio.Future[IngestReceipt]


def _resolve(future: asyncio.Future[IngestReceipt], value: IngestReceipt | BaseException) -> None:
    if future.done():
        return
    if isinstance(value, BaseException):
        future.set_exception(value)
    else:
        future.set_result(value)


class AsyncWorker:
    """A :class:`Worker` on a thread of its own, driven from an event loop.

    ``open_worker`` is called on that thread to build the worker (open its
    :class:`~journeydsl.runtime.stores.postgres.PostgresStore` there); the store is closed when
    the worker stops. Use it as ``async with AsyncWorker(open_worker) as worker:``, or call
    :meth:`start` and :meth:`stop`."""

    def __init__(self, open_worker: Callable[[], Worker]) -> None:
        self._open = open_worker
        self._requests: queue.SimpleQueue[_Request] = queue.SimpleQueue()
        self._waiting: dict[str, list[_Request]] = {}
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._closed = False
        self.worker: Worker | None = None

    async def start(self) -> None:
        """Start the worker's thread; returns once the worker is built (its error, if not)."""
        loop = asyncio.get_running_loop()
        started: asyncio.Future[None] = loop.create_future()

        def ready(error: BaseException | None) -> None:
            if not started.done():
                if error is None:
                    started.set_result(None)
                else:
                    started.set_exception(error)

        self._thread = threading.Thread(
            target=self._main, args=(loop, ready), name="journeydsl-worker", daemon=True
        )
        self._thread.start()
        await started

    async def stop(self) -> None:
        """Drain the worker (its current step finishes, its leases are released), wait for its
        thread to end, and raise what stopped it, if something did."""
        if self.worker is not None:
            self.worker.stop()
        if self._thread is not None:
            await asyncio.to_thread(self._thread.join)
        if self._error is not None:
            raise self._error

    async def __aenter__(self) -> AsyncWorker:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    def health(self) -> WorkerHealth:
        """The worker's :meth:`~journeydsl.runtime.worker.Worker.health` (read without waiting
        for its thread)."""
        if self.worker is None:
            raise RuntimeError("the worker has not started")
        return self.worker.health()

    async def ingest(
        self, event: Mapping[str, Any] | str | bytes, *, wait: bool = True
    ) -> IngestReceipt:
        """Put ``event`` (the JSON contract, or its JSON text) into the inbox and, with
        ``wait``, return once its step is committed (see the module docstring)."""
        if self.worker is None or self._closed:
            raise RuntimeError("the worker is not running")
        if isinstance(event, bytes):
            line = event.decode("utf-8", errors="replace")
        elif isinstance(event, str):
            line = event
        else:
            line = event_text(event)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[IngestReceipt] = loop.create_future()
        self._requests.put(_Request(line, wait, loop, future))
        self.worker.wake()
        return await future

    # ------------------------------------------------------------------ the worker's thread

    def _main(
        self, loop: asyncio.AbstractEventLoop, ready: Callable[[BaseException | None], None]
    ) -> None:
        try:
            self.worker = self._open()
        except BaseException as exc:
            loop.call_soon_threadsafe(ready, exc)
            return
        loop.call_soon_threadsafe(ready, None)
        try:
            self.worker.run(feed=self._feed)
        except BaseException as exc:
            self._error = exc
        finally:
            self._closed = True
            failure = RuntimeError("the worker stopped before the event's step was committed")
            pending = [r for rs in self._waiting.values() for r in rs]
            while not self._requests.empty():
                pending.append(self._requests.get_nowait())
            for r in pending:
                r.loop.call_soon_threadsafe(_resolve, r.future, failure)
            self.worker.store.close()

    def _feed(self) -> list[bytes]:
        """Each pass of the worker: put what was asked into the inbox (one transaction), then
        answer the requests whose events are now processed or quarantined."""
        worker = self.worker
        assert worker is not None
        asked: list[_Request] = []
        while not self._requests.empty():
            asked.append(self._requests.get_nowait())
        if asked:
            self._put(worker, asked)
        if self._waiting:
            self._settle(worker)
        return []

    def _put(self, worker: Worker, asked: list[_Request]) -> None:
        schemas = worker.engine.schemas
        try:
            rows = [inbox.inbox_row(r.line, worker.store, schemas) for r in asked]
            worker.put(r.line for r in asked)
        except Exception as exc:
            for r in asked:
                r.loop.call_soon_threadsafe(_resolve, r.future, exc)
            return
        for r, row in zip(asked, rows, strict=True):
            if row is None:
                problem = ValueError("an empty event (a blank line)")
                r.loop.call_soon_threadsafe(_resolve, r.future, problem)
            elif not r.wait:
                r.loop.call_soon_threadsafe(_resolve, r.future, IngestReceipt(row.id, "accepted"))
            else:
                self._waiting.setdefault(row.id, []).append(r)

    def _settle(self, worker: Worker) -> None:
        ids = sorted(self._waiting)
        found: dict[str, IngestReceipt] = {}
        for eid, state, reason in worker.store._conn.execute(
            # (a quarantine row of an earlier attempt counts once the inbox no longer holds it)
            "SELECT id, 'quarantined', reason FROM quarantine q WHERE id = ANY(%s) "
            "AND NOT EXISTS (SELECT 1 FROM inbox i WHERE i.id = q.id) "
            "UNION ALL SELECT id, 'processed', NULL FROM events WHERE id = ANY(%s) AND processed "
            "UNION ALL SELECT id, 'processed', NULL FROM processed_events WHERE id = ANY(%s)",
            (ids, ids, ids),
        ):
            if found.get(eid, IngestReceipt(eid, "")).state != "processed":
                found[eid] = IngestReceipt(eid, state, reason)
        for eid, receipt in found.items():
            for r in self._waiting.pop(eid, []):
                r.loop.call_soon_threadsafe(_resolve, r.future, receipt)
