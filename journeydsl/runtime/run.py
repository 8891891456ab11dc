"""``journeydsl run``: the durable runtime over a recorded or piped event stream.

The journeys run on a :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` file and deliver every
effect to a JSON Lines :class:`FileChannel`. For each event of the stream the clock moves to the
event's time, everything due until then fires (timers, scheduled segment entries, deferred
deliveries, each at its own time), and then the event is ingested.

Restarting the same command after a crash resumes where it stopped: events already processed are
skipped by id (the engine's processed markers), outbox entries that were not acknowledged are
delivered again, and the file channel drops the ones it had already written. The actions file ends
up exactly as an uninterrupted run would have left it (line order aside).

Profiles: a customer without a profile has consent for no channel, so every message to them is
suppressed; a profiles file (``--profiles``, the DESIGN.md profile contract) is normally given.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TextIO
from zoneinfo import ZoneInfo

import structlog

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.expr.types import Type
from journeydsl.runtime.codec import plain
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.events import BadEvent, coerce_event
from journeydsl.runtime.policies.evaluator import describe_window
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Ticket,
)
from journeydsl.runtime.stores.sqlite import DEFAULT_TIMEZONE, SQLiteStore

__all__ = [
    "EXIT_ERRORS",
    "EXIT_OK",
    "EXIT_USAGE",
    "FileChannel",
    "RunSummary",
    "run",
    "run_command",
]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2

_OK = DeliveryResult(DeliveryStatus.DELIVERED)


@lru_cache(maxsize=256)
def _zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except Exception:  # a bad profile time zone falls back to the default, as in the engine
        return ZoneInfo(DEFAULT_TIMEZONE)


# --------------------------------------------------------------------------- the file channel


class _ActionFile:
    """The shared state of a :class:`FileChannel`: the open file and the keys already in it."""

    def __init__(self, path: Path, fsync: bool) -> None:
        self.path = path
        self.fsync = fsync
        self.keys: set[str] = set()
        self.written = 0
        self.deduplicated = 0
        self.dropped_torn_line = False
        self._recover()
        self.fd: int | None = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def _recover(self) -> None:
        try:
            blob = self.path.read_bytes()
        except FileNotFoundError:
            return
        end = blob.rfind(b"\n") + 1
        if end < len(blob):
            # A crash tore the last write: that record was never acknowledged to the engine (its
            # outbox entry is still pending and will be delivered again), so drop the fragment and
            # go on appending from the last complete line.
            with open(self.path, "r+b") as f:
                f.truncate(end)
                f.flush()
                os.fsync(f.fileno())
            self.dropped_torn_line = True
        for line in blob[:end].splitlines():
            try:
                key = json.loads(line).get("key")
            except (ValueError, AttributeError):
                continue  # not ours to judge: a foreign or damaged line is kept, not deduplicated
            if isinstance(key, str):
                self.keys.add(key)

    def write(self, record: Mapping[str, Any]) -> bool:
        """Append ``record`` unless its key is in the file; True when written."""
        key = str(record["key"])
        if key in self.keys:
            self.deduplicated += 1
            return False
        if self.fd is None:
            raise ValueError(f"{self.path} is closed")
        data = (json.dumps(record, ensure_ascii=False) + "\n").encode()
        view = memoryview(data)
        while view:
            view = view[os.write(self.fd, view) :]
        if self.fsync:
            os.fsync(self.fd)
        self.keys.add(key)
        self.written += 1
        return True

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


class FileChannel:
    """A JSON Lines file that every effect is delivered to: one object per line,
    ``{"key", "at", "customer_id", "kind", ...}``.

    One instance serves as the :class:`~journeydsl.runtime.protocols.Channel` for every channel
    name (sends carry ``channel``, ``template``, ``params``), as the
    :class:`~journeydsl.runtime.protocols.TicketSink` (``queue``, ``priority``, ``payload``), and,
    through :meth:`named`, as the :class:`~journeydsl.runtime.protocols.ActionHandler` of any
    action (``name``, ``params``).

    It deduplicates on the idempotency key, including across restarts: the keys already in the
    file are read when it opens. A torn final line left by a crash is dropped first. ``at`` is
    written in the customer's local offset when ``timezone_of`` is given. ``fsync`` makes each
    line durable before the engine is told it was delivered.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        fsync: bool = True,
        timezone_of: Callable[[str], tzinfo] | None = None,
    ) -> None:
        self._file = _ActionFile(Path(path), fsync)
        self._timezone_of = timezone_of
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

    def _at(self, customer_id: str, at: datetime) -> str:
        if self._timezone_of is not None:
            at = at.astimezone(self._timezone_of(customer_id))
        return at.isoformat()

    def send(self, message: Message) -> DeliveryResult:
        """Write one message (Channel protocol)."""
        self._file.write(
            {
                "key": message.idempotency_key,
                "at": self._at(message.customer_id, message.at),
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
                "at": self._at(ticket.customer_id, ticket.at),
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
        """Write one action or reward (ActionHandler protocol)."""
        self._file.write(
            {
                "key": idempotency_key,
                "at": self._at(customer_id, at),
                "customer_id": customer_id,
                "kind": self.action_kind,
                "name": self.action_name,
                "params": plain(params),
            }
        )
        return _OK


# --------------------------------------------------------------------------- the run


@dataclass(slots=True)
class RunSummary:
    """What one run did (printed to stderr at the end)."""

    read: int = 0
    processed: int = 0
    skipped: int = 0
    quarantined: int = 0
    delivered: int = 0
    deduplicated: int = 0
    profiles: int = 0
    profile_problems: int = 0

    def render(self, actions: Path) -> str:
        """One line for humans."""
        return (
            f"journeydsl run: {self.read} events read, {self.processed} processed, "
            f"{self.skipped} skipped as already done, {self.quarantined} quarantined; "
            f"{self.delivered} actions delivered to {actions}"
            + (f" ({self.deduplicated} already there)" if self.deduplicated else "")
        )


class _Clock:
    """The run's clock: moved forward by the stream, never backwards."""

    def __init__(self) -> None:
        self.current: datetime | None = None

    def now(self) -> datetime:
        if self.current is None:  # pragma: no cover - the run sets it before the engine asks
            raise RuntimeError("the clock has not started")
        return self.current

    def set(self, when: datetime) -> None:
        if self.current is None or when > self.current:
            self.current = when


def _parse_time(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None and value.utcoffset() is not None else None


def _lines(source: str, stdin: IO[bytes] | None) -> Iterator[tuple[int, bytes]]:
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        yield from enumerate(stream, 1)
        return
    with open(source, "rb") as f:
        yield from enumerate(f, 1)


def _compile(files: Sequence[Path], err: TextIO) -> list[ir.Journey] | None:
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import render_text

    journeys: list[ir.Journey] = []
    failed = False
    seen: dict[tuple[str, int], tuple[Path, ir.Journey]] = {}
    for path in files:
        result = compile_file(path)
        if not result.ok or result.journey is None:
            print(render_text(result.diagnostics, result.sources), file=err)
            failed = True
            continue
        j = result.journey
        other = seen.get((j.id, j.version))
        if other is not None:
            if other[1].to_json() != j.to_json():
                print(
                    f"{path}: error: journey {j.id} version {j.version} is also defined, "
                    f"differently, in {other[0]}; give one of them a new version",
                    file=err,
                )
                failed = True
            continue  # the same journey in its other spelling
        seen[(j.id, j.version)] = (path, j)
        journeys.append(j)
    return None if failed else journeys


def _action_handlers(journeys: Sequence[ir.Journey], sink: FileChannel) -> dict[str, FileChannel]:
    handlers: dict[str, FileChannel] = {}
    for journey in journeys:
        for node in journey.nodes.values():
            if isinstance(node, ir.Action) and node.name not in handlers:
                handlers[node.name] = sink.named(node.name, node.action)
    return handlers


def run(
    journey_files: Sequence[str | Path],
    *,
    db: str | Path,
    events: str,
    actions: str | Path,
    profiles: str | Path | None = None,
    now: datetime | None = None,
    err: TextIO | None = None,
    stdin: IO[bytes] | None = None,
    fsync: bool = True,
    policies: str | Path | None = None,
    max_future: timedelta | None = None,
    wall_clock: Callable[[], datetime] | None = None,
) -> int:
    """Run ``journey_files`` over the event stream ``events`` (a path, or ``-`` for stdin) on the
    state file ``db``, delivering to the JSON Lines file ``actions``, under the contact-policy
    file ``policies`` if given; returns the exit code (0 done, 1 a journey or the policy file
    has errors, 2 a usage error).

    The run's clock follows the stream. With ``max_future``, an event dated more than that
    after ``wall_clock()`` (this machine's clock) is quarantined instead: a mistyped year would
    otherwise move the clock, and fire every customer's timers, years ahead."""
    err = err if err is not None else sys.stderr
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        print("journeydsl: error: --now needs a UTC offset, e.g. +07:00", file=err)
        return EXIT_USAGE
    for path in [*journey_files, *([profiles] if profiles else [])]:
        if not Path(path).is_file():
            print(f"journeydsl: error: {path}: no such file", file=err)
            return EXIT_USAGE
    if events != "-" and not Path(events).is_file():
        print(f"journeydsl: error: {events}: no such file", file=err)
        return EXIT_USAGE
    for path in (db, actions):
        if not Path(path).resolve().parent.is_dir():
            print(f"journeydsl: error: {path}: no such folder to write into", file=err)
            return EXIT_USAGE
    journeys = _compile([Path(p) for p in journey_files], err)
    if journeys is None:
        return EXIT_ERRORS
    policy_set = None
    if policies is not None:
        from journeydsl.runtime.policies import load_policies
        from journeydsl.simulate.yamlfile import InputError

        if not Path(policies).is_file():
            print(f"journeydsl: error: {policies}: no such policy file", file=err)
            return EXIT_USAGE
        try:
            policy_set = load_policies(policies)
        except InputError as exc:
            print(str(exc), file=err)
            return EXIT_ERRORS
    old_logging = structlog.get_config()
    # The engine logs every send at info level; a command-line run reports through its actions
    # file and summary, so only errors (failing expressions) go to stderr.
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(file=err),
    )
    try:
        with SQLiteStore(db) as store:
            limit = _FutureLimit(max_future, wall_clock) if max_future is not None else None
            return _run(
                journeys,
                store,
                events,
                Path(actions),
                profiles,
                now,
                err,
                stdin,
                fsync,
                policy_set,
                limit,
            )
    finally:
        structlog.configure(**old_logging)


def _run(
    journeys: list[ir.Journey],
    store: SQLiteStore,
    events: str,
    actions: Path,
    profiles: str | Path | None,
    now: datetime | None,
    err: TextIO,
    stdin: IO[bytes] | None,
    fsync: bool,
    policy_set: Policies | None = None,
    limit: _FutureLimit | None = None,
) -> int:
    summary = RunSummary()
    if profiles is not None:
        summary.profiles, problems = store.load_profiles_jsonl(profiles)
        summary.profile_problems = len(problems)
        for problem in problems:
            print(f"{problem} (profile skipped)", file=err)

    def timezone_of(customer_id: str) -> tzinfo:
        return _zone(store.get(customer_id).timezone)

    clock = _Clock()
    with FileChannel(actions, fsync=fsync, timezone_of=timezone_of) as sink:
        engine = Engine(
            journeys,
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            channels=dict.fromkeys(CHANNELS, sink),
            tickets=sink,
            actions=_action_handlers(journeys, sink),
            policies=policy_set,
        )

        def advance(t: datetime) -> None:
            """Fire everything due up to ``t``, each at its own time, then move the clock."""
            while (wake := engine.next_wakeup()) is not None and wake <= t:
                clock.set(wake)
                engine.tick(wake)
                after = engine.next_wakeup()
                if after is not None and after <= wake:
                    break  # nothing more can happen at this instant (e.g. a stuck delivery)
            clock.set(t)

        name = "<stdin>" if events == "-" else events
        for number, blob in _lines(events, stdin):
            if not blob.strip():
                continue
            summary.read += 1
            where = f"{name}:{number}"
            try:
                raw = json.loads(blob.decode("utf-8"))
            except UnicodeDecodeError:
                _quarantine(summary, where, "the line is not UTF-8 text", err)
                continue
            except ValueError as exc:
                _quarantine(summary, where, f"not valid JSON ({exc})", err)
                continue
            except RecursionError:  # the JSON decoder recurses once per nesting level
                _quarantine(summary, where, "the JSON nests too deeply", err)
                continue
            if not isinstance(raw, dict):
                _quarantine(summary, where, "an event is a JSON object", err)
                continue
            # Only a valid event moves the clock: a bad one (say, dated 9999) must not fire every
            # timer of every customer. The engine quarantines it without reading the clock.
            at = _parse_time(raw.get("at")) if _valid(raw, engine.schemas) else None
            if at is not None and limit is not None and (why := limit.refuses(at)):
                _quarantine(summary, where, why, err)
                continue
            if at is not None:
                if clock.current is None:
                    clock.set(at)  # the run starts at its first event
                advance(at)
            result = engine.ingest(raw)
            if result.duplicate:
                summary.skipped += 1
            elif result.quarantined is not None:
                _quarantine(summary, where, result.quarantined, err)
            else:
                summary.processed += 1
        if now is not None:
            if clock.current is None:
                clock.set(now)
            advance(now)
        summary.delivered, summary.deduplicated = sink.written, sink.deduplicated
        if sink.dropped_torn_line:
            print(f"{actions}: dropped an incomplete last line left by a crash", file=err)
    print(summary.render(actions), file=err)
    return EXIT_OK


class _FutureLimit:
    """``--max-future``: how far after this machine's clock an event may be dated."""

    def __init__(self, ahead: timedelta, wall_clock: Callable[[], datetime] | None) -> None:
        self.ahead = ahead
        self.wall_clock = wall_clock or (lambda: datetime.now(UTC))

    def refuses(self, at: datetime) -> str | None:
        """Why an event dated ``at`` is refused, or None."""
        now = self.wall_clock()
        if at <= now + self.ahead:
            return None
        ahead = describe_window(self.ahead)
        return (
            f"dated {at.isoformat()}, more than {ahead} after this machine's clock "
            f"({now.astimezone(UTC).isoformat(timespec='seconds')}; --max-future)"
        )


def _valid(raw: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Type]]) -> bool:
    try:
        coerce_event(raw, schemas)
    except BadEvent:
        return False
    return True


def _quarantine(summary: RunSummary, where: str, reason: str, err: TextIO) -> None:
    summary.quarantined += 1
    print(f"{where}: quarantined: {reason}", file=err)


def run_command(journey_files: Sequence[Path], args: Any, err: TextIO) -> int:
    """``journeydsl run`` from parsed command-line arguments (``args.db``, ``args.events``,
    ``args.actions``, ``args.profiles``, ``args.now``)."""
    now: datetime | None = None
    if args.now:
        now = _parse_time(args.now)
        if now is None:
            print(
                f"journeydsl: error: --now {args.now!r} is not an ISO 8601 time with an offset "
                "(e.g. 2026-03-01T00:00:00+07:00)",
                file=err,
            )
            return EXIT_USAGE
    max_future: timedelta | None = None
    if getattr(args, "max_future", None):
        from journeydsl.expr.checker import duration_value

        max_future = duration_value(args.max_future)
        if max_future is None:
            print(
                f"journeydsl: error: --max-future {args.max_future!r} is not a duration "
                "(a number and s, m, h, d or w, e.g. 1d)",
                file=err,
            )
            return EXIT_USAGE
    return run(
        journey_files,
        db=args.db,
        events=args.events,
        actions=args.actions,
        profiles=args.profiles,
        now=now,
        err=err,
        policies=getattr(args, "policies", None),
        max_future=max_future,
    )
