"""The actions file of ``journeydsl run``: a JSON Lines file that every effect is delivered to,
once per idempotency key, across restarts and across processes.

A restart finds the keys already in the file and acknowledges those deliveries without writing
them again; a torn last line left by a crash is dropped first. Several processes may append to
the same file: each append holds an exclusive ``flock`` and first reads what the others wrote.
"""

from __future__ import annotations

import contextlib
import copy
import fcntl
import json
import os
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, tzinfo
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from journeydsl.runtime.codec import plain
from journeydsl.runtime.protocols import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    SinkError,
    Ticket,
)

__all__ = ["FileChannel", "step_of_key"]

_OK = DeliveryResult(DeliveryStatus.DELIVERED)


class _ActionFile:
    """The shared state of a :class:`FileChannel`: the open file and the keys already in it.

    Every append holds an exclusive ``flock`` on the file and first reads what other processes
    appended since this one last looked, so a key is never written twice, whoever wrote it
    first. A write that fails (a full disk, an I/O error) is cut back off the file and raised as
    a :class:`~journeydsl.runtime.protocols.SinkError`: the engine leaves the effect pending."""

    def __init__(self, path: Path, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.keys: set[str] = set()
        self.written = 0
        self.deduplicated = 0
        self.dropped_torn_line = False
        self.size = 0  # the bytes of the file read into ``keys`` so far
        try:
            self.fd: int | None = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        except OSError as exc:
            raise SinkError(f"{path}: cannot open the actions file: {_why(exc)}") from exc
        try:
            with self._locked():
                self._catch_up()
        except BaseException:
            self.close()
            raise

    @contextlib.contextmanager
    def _locked(self) -> Iterator[int]:
        fd = self.fd
        if fd is None:
            raise SinkError(f"{self.path} is closed")
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield fd
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _catch_up(self) -> None:
        """Read the keys of the lines appended since the last look (by anyone); drop a torn
        final line, which a crashed writer left and never acknowledged (its outbox entry is
        still pending and will be delivered again). Needs the lock."""
        assert self.fd is not None
        try:
            end = os.fstat(self.fd).st_size
            if end < self.size:  # the file was cut short behind our back: read it all again
                self.keys.clear()
                self.size = 0
            if end == self.size:
                return
            blob = os.pread(self.fd, end - self.size, self.size)
            complete = blob.rfind(b"\n") + 1
            if complete < len(blob):
                os.ftruncate(self.fd, self.size + complete)
                os.fsync(self.fd)
                self.dropped_torn_line = True
        except OSError as exc:
            raise SinkError(f"{self.path}: cannot read the actions file: {_why(exc)}") from exc
        for line in blob[:complete].splitlines():
            try:
                key = json.loads(line).get("key")
            except (ValueError, AttributeError):
                continue  # not ours to judge: a foreign or damaged line is kept, not deduplicated
            if isinstance(key, str):
                self.keys.add(key)
        self.size += complete

    def write(self, record: Mapping[str, Any]) -> bool:
        """Append ``record`` unless its key is in the file; True when written. Raises
        :class:`~journeydsl.runtime.protocols.SinkError` when the file cannot take it."""
        key = str(record["key"])
        if key in self.keys:
            self.deduplicated += 1
            return False
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        with self._locked() as fd:
            self._catch_up()
            if key in self.keys:  # another process wrote it since we last looked
                self.deduplicated += 1
                return False
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view) :]
                if self.fsync:
                    os.fsync(fd)
            except OSError as exc:
                self._cut_back(fd)
                raise SinkError(f"{self.path}: cannot write the actions file: {_why(exc)}") from exc
            self.size += len(data)
        self.keys.add(key)
        self.written += 1
        return True

    def _cut_back(self, fd: int) -> None:
        """Remove the part of a failed write (a torn line) from the file, if it can be done."""
        with contextlib.suppress(OSError):
            os.ftruncate(fd, self.size)

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _why(exc: OSError) -> str:
    return exc.strerror or str(exc)


def step_of_key(key: str) -> dict[str, Any]:
    """``{"journey", "version", "node"}`` of the effect whose idempotency key is ``key``; ``{}``
    for a key of another shape (a host calling a handler itself).

    An :class:`~journeydsl.runtime.protocols.ActionHandler` is handed an action's key, not its
    step. The engine makes the key ``JOURNEY:VERSION:INSTANCE:STEP:VISIT``; journey and step ids
    are names without a colon, and the instance id (its customer id) may hold one, so the step
    is read from the end. The layout cannot change without breaking the deduplication against
    the actions files already written."""
    journey, _, rest = key.partition(":")
    version, _, rest = rest.partition(":")
    instance, node, visit = ["", "", "", *rest.rsplit(":", 2)][-3:]
    if not (journey and version.isdecimal() and instance and node and visit.isdecimal()):
        return {}
    return {"journey": journey, "version": int(version), "node": node}


class FileChannel:
    """A JSON Lines file that every effect is delivered to: one object per line,
    ``{"key", "at", "customer_id", "kind", ...}``.

    One instance serves as the :class:`~journeydsl.runtime.protocols.Channel` for every channel
    name (sends carry ``channel``, ``template``, ``params``), as the
    :class:`~journeydsl.runtime.protocols.TicketSink` (``queue``, ``priority``, ``payload``), and,
    through :meth:`named`, as the :class:`~journeydsl.runtime.protocols.ActionHandler` of any
    action (``name``, ``params``); every kind then carries ``journey``, ``version`` and ``node``.

    It deduplicates on the idempotency key, including across restarts: the keys already in the
    file are read when it opens. A torn final line left by a crash is dropped first. ``at`` is
    written in the customer's local offset when ``timezone_of`` is given: the zone it returns
    for the customer, or, when it returns None (their profile names no zone), the zone of the
    effect's journey in ``journey_zones``, as the journey itself reads their clock. ``fsync``
    makes each line durable before the engine is told it was delivered.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = True,
        timezone_of: Callable[[str], tzinfo | None] | None = None,
        journey_zones: Mapping[str, tzinfo] | None = None,
    ) -> None:
        self._file = _ActionFile(Path(path), fsync)
        self._timezone_of = timezone_of
        self._journey_zones = journey_zones or {}
        self.action_name: str | None = None
        self.action_kind = "action"

    @property
    def path(self) -> Path:
        """The actions file."""
        return self._file.path

    @property
    def written(self) -> int:
        """Records appended by this process."""
        return self._file.written

    @property
    def deduplicated(self) -> int:
        """Deliveries acknowledged without writing, because the key was in the file already."""
        return self._file.deduplicated

    @property
    def dropped_torn_line(self) -> bool:
        """Whether opening found (and dropped) an incomplete final line."""
        return self._file.dropped_torn_line

    def named(self, name: str, kind: str = "action") -> FileChannel:
        """This channel as the handler of the action ``name`` (``kind`` is action or reward);
        it shares the file and the key set."""
        view = copy.copy(self)
        view.action_name, view.action_kind = name, kind
        return view

    def close(self) -> None:
        """Close the file (every view shares it)."""
        self._file.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _at(self, customer_id: str, journey: str, at: datetime) -> str:
        if self._timezone_of is not None:
            tz = self._timezone_of(customer_id) or self._journey_zones.get(journey)
            if tz is not None:
                at = at.astimezone(tz)
        return at.isoformat()

    def send(self, message: Message) -> DeliveryResult:
        """Write one message (Channel protocol)."""
        self._file.write(
            {
                "key": message.idempotency_key,
                "at": self._at(message.customer_id, message.journey, message.at),
                "customer_id": message.customer_id,
                "kind": "send",
                "channel": message.channel,
                "template": message.template,
                "params": plain(message.params),
                "category": message.category,
                "journey": message.journey,
                "version": message.version,
                "node": message.node,
                **({"label": message.label} if message.label else {}),
            }
        )
        return _OK

    def open(self, ticket: Ticket) -> DeliveryResult:
        """Write one ticket (TicketSink protocol)."""
        self._file.write(
            {
                "key": ticket.idempotency_key,
                "at": self._at(ticket.customer_id, ticket.journey, ticket.at),
                "customer_id": ticket.customer_id,
                "kind": "ticket",
                "queue": ticket.queue,
                "priority": ticket.priority,
                "payload": plain(ticket.payload),
                "journey": ticket.journey,
                "version": ticket.version,
                "node": ticket.node,
            }
        )
        return _OK

    def __call__(
        self, idempotency_key: str, customer_id: str, params: Mapping[str, Any], at: datetime
    ) -> DeliveryResult:
        """Write one action or reward (ActionHandler protocol), with the journey, version and
        step its key names (:func:`step_of_key`)."""
        step = step_of_key(idempotency_key)
        self._file.write(
            {
                "key": idempotency_key,
                "at": self._at(customer_id, str(step.get("journey", "")), at),
                "customer_id": customer_id,
                "kind": self.action_kind,
                "name": self.action_name,
                "params": plain(params),
                **step,
            }
        )
        return _OK
