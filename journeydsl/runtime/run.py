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

import contextlib
import copy
import fcntl
import hashlib
import json
import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Self, TextIO

import structlog

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.exitcodes import EXIT_ERRORS, EXIT_OK, EXIT_USAGE
from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact
from journeydsl.runtime.codec import plain
from journeydsl.runtime.engine import Engine, IngestResult
from journeydsl.runtime.events import BadEvent, coerce_event, event_id
from journeydsl.runtime.policies.evaluator import describe_window
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    SinkError,
    Ticket,
)
from journeydsl.runtime.stores.sqlite import (
    DatabaseInUse,
    SQLiteStore,
    StoreUnavailable,
    check_database,
    storage_error,
)
from journeydsl.zones import zone

__all__ = [
    "EXIT_ERRORS",
    "EXIT_OK",
    "EXIT_USAGE",
    "FileChannel",
    "RunSummary",
    "check_db_command",
    "run",
    "run_command",
]


_OK = DeliveryResult(DeliveryStatus.DELIVERED)
#: The engine_meta key of the latest time a run's clock reached on a state file (ISO 8601).
RUN_CLOCK = "run_clock"


# --------------------------------------------------------------------------- the file channel


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
    #: Quarantined events replayed at the start (asked for by ``journeydsl quarantine replay``).
    replayed: int = 0
    #: Events in the store's quarantine at the end (this run's and earlier runs').
    in_quarantine: int = 0
    #: Customers with events but no profile (every message to them is withheld: no consent).
    unprofiled: int = 0

    def render(self, actions: Path, db: str | None = None) -> str:
        """One line for humans."""
        return (
            f"journeydsl run: {self.read} events read, {self.processed} processed, "
            f"{self.skipped} skipped as already done, {self.quarantined} quarantined; "
            f"{self.delivered} actions delivered to {actions}"
            + (f" ({self.deduplicated} already there)" if self.deduplicated else "")
            + (f"; {self.replayed} quarantined events replayed" if self.replayed else "")
            + (
                f"; {self.in_quarantine} events in quarantine in all "
                f"(journeydsl quarantine list --db {db})"
                if self.in_quarantine and db
                else ""
            )
            + (
                f"; {self.unprofiled} "
                + ("customer has" if self.unprofiled == 1 else "customers have")
                + " no profile (no consent: every message to them is withheld)"
                if self.unprofiled
                else ""
            )
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


def _compile(
    files: Sequence[Path], err: TextIO, root: str | Path | None
) -> list[ir.Journey] | None:
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import render_text

    journeys: list[ir.Journey] = []
    failed = False
    seen: dict[tuple[str, int], tuple[Path, ir.Journey]] = {}
    for path in files:
        result = compile_file(path, root=root)
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
    only: bool = False,
    new_db: bool = False,
    root: str | Path | None = None,
) -> int:
    """Run ``journey_files`` (their catalogs read from inside ``root``, by default each
    journey's folder) over the event stream ``events`` (a path, or ``-`` for stdin) on the
    state file ``db``, delivering to the JSON Lines file ``actions``, under the contact-policy
    file ``policies`` if given; returns the exit code (0 done, 1 a journey or the policy file
    has errors, or the state file cannot be used, 2 a usage error, or another process is
    writing to the state file).

    A state file that cannot be used (not a database, damaged, of a newer schema, read-only,
    full …), when it is opened or while the run goes on, ends the run with one line naming the
    file and the problem (:func:`~journeydsl.runtime.stores.sqlite.storage_error`); a state file
    that another store holds (one writer per SQLite database) is refused before anything is
    read or written.

    The run's clock follows the stream. With ``max_future``, an event dated more than that
    after ``wall_clock()`` (this machine's clock) is quarantined instead: a mistyped year would
    otherwise move the clock, and fire every customer's timers, years ahead.

    A state file that holds live instances of journeys not in ``journey_files`` is refused
    (their timers would otherwise wait while their events pass by unseen) unless ``only``: then
    the run takes the stream for these journeys alone, and the others' timers, outbox and events
    stay as they are, for a later run that is given their files. A missing state file next to a
    non-empty actions file is refused too (a mistyped ``--db`` would start from nothing and
    send everything again) unless ``new_db`` says a new state file is meant."""
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
    if now is not None and max_future is not None:
        why = _FutureLimit(max_future, wall_clock).refuses(now)
        if why is not None:
            print(f"journeydsl: error: --now is {why}", file=err)
            return EXIT_USAGE
    if not new_db and not Path(db).exists() and _has_lines(Path(actions)):
        print(
            f"journeydsl: error: {db}: no such state file, but {actions} already holds actions "
            "of an earlier run: a run from a new state file would send them again. Give the "
            "state file of that run, or pass --new-db if a new one is meant",
            file=err,
        )
        return EXIT_USAGE
    journeys = _compile([Path(p) for p in journey_files], err, root)
    if journeys is None:
        return EXIT_ERRORS
    policy_set = None
    if policies is not None:
        from journeydsl.runtime.policies import load_policies
        from journeydsl.yamlfile import InputError

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
                only,
            )
    except DatabaseInUse as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return EXIT_USAGE
    except (StoreUnavailable, sqlite3.DatabaseError) as exc:
        problem = storage_error(str(db), exc)
        if problem is None:
            raise  # not the file's fault (a bug): the traceback is what helps
        print(f"journeydsl: error: {problem}", file=err)
        return EXIT_ERRORS
    finally:
        structlog.configure(**old_logging)


def _has_lines(path: Path) -> bool:
    """Whether ``path`` exists and holds anything but white space."""
    try:
        with path.open("rb") as f:
            return any(chunk.strip() for chunk in iter(lambda: f.read(65536), b""))
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        return False


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
    only: bool = False,
) -> int:
    summary = RunSummary()
    others = _others(journeys, store)
    if others and not only:
        print(
            f"journeydsl: error: {store.path} has instances of journeys this run was not "
            f"given: {others}; give their files too, or pass --only to run just these and "
            "leave the others as they are",
            file=err,
        )
        return EXIT_USAGE
    reached = store.get_meta(RUN_CLOCK)
    if now is not None and reached is not None and now < datetime.fromisoformat(reached):
        print(
            f"journeydsl: error: --now {now.isoformat()} is before {reached}, the time "
            f"{store.path} already reached: a run cannot go back in time (its actions would be "
            "dated before ones already delivered); to replay from an earlier time, start a new "
            "state file",
            file=err,
        )
        return EXIT_USAGE
    if profiles is not None:
        summary.profiles, problems = store.load_profiles_jsonl(profiles)
        summary.profile_problems = len(problems)
        for problem in problems:
            print(f"{problem} (profile skipped)", file=err)
    runner = _Runner(journeys, store, actions, err, summary, policy_set, limit, only)
    try:
        return runner(events, stdin, now, fsync)
    except SinkError as exc:
        print(
            f"journeydsl: error: {exc}; the run stopped, and what was not delivered stays "
            f"pending in {store.path}: fix the file (free the space), then run the same "
            "command again to deliver it, exactly once",
            file=err,
        )
        print(summary.render(actions), file=err)
        return EXIT_ERRORS


def _others(journeys: Sequence[ir.Journey], store: SQLiteStore) -> str:
    """The journeys (and versions) with live instances in ``store`` that ``journeys`` lack,
    for a message; "" when there are none."""
    given = {(j.id, j.version) for j in journeys}
    live = store.live_journeys()
    missing = sorted(k for k in live if k not in given)
    return ", ".join(f"{j} v{v} ({live[(j, v)]} live)" for j, v in missing)


class _Runner:
    """One ``journeydsl run``: the engine over the store and the actions file, fed the stream.

    Every event that cannot be taken, whether the run refuses it (not JSON, too far in the
    future) or the engine does (the catalog), is kept in the store's quarantine, counted, and
    reported on stderr with its line."""

    def __init__(
        self,
        journeys: list[ir.Journey],
        store: SQLiteStore,
        actions: Path,
        err: TextIO,
        summary: RunSummary,
        policies: Policies | None,
        limit: _FutureLimit | None,
        only: bool,
    ) -> None:
        self.journeys = journeys
        self.store = store
        self.actions = actions
        self.err = err
        self.summary = summary
        self.policies = policies
        self.limit = limit
        self.only = only
        self.clock = _Clock()

    def timezone_of(self, customer_id: str) -> tzinfo:
        """The customer's time zone, for the actions file's local times."""
        return zone(self.store.get(customer_id).timezone)

    def __call__(
        self, events: str, stdin: IO[bytes] | None, now: datetime | None, fsync: bool
    ) -> int:
        summary = self.summary
        with FileChannel(self.actions, fsync=fsync, timezone_of=self.timezone_of) as sink:
            self.sink = sink
            store = self.store
            self.engine = Engine(
                self.journeys,
                events=store,
                profiles=store,
                state=store,
                clock=self.clock,
                channels=dict.fromkeys(CHANNELS, sink),
                tickets=sink,
                actions=_action_handlers(self.journeys, sink),
                policies=self.policies,
                only=self.only,
            )
            self._replay_requested()
            name = "<stdin>" if events == "-" else events
            for number, blob in _lines(events, stdin):
                if blob.strip():
                    self._take(f"{name}:{number}", blob)
            if now is not None:
                if self.clock.current is None:
                    self.clock.set(now)
                self._advance(now)
            self._count()
            if self.clock.current is not None:
                reached = store.get_meta(RUN_CLOCK)
                if reached is None or self.clock.current > datetime.fromisoformat(reached):
                    store.commit([], [], meta={RUN_CLOCK: self.clock.current.isoformat()})
            if sink.dropped_torn_line:
                print(
                    f"{self.actions}: dropped an incomplete last line left by a crash",
                    file=self.err,
                )
        summary.in_quarantine = len(store.quarantined())
        summary.unprofiled = len(self.engine.unprofiled)
        print(summary.render(self.actions, store.path), file=self.err)
        return EXIT_OK

    def _count(self) -> None:
        self.summary.delivered = self.sink.written
        self.summary.deduplicated = self.sink.deduplicated

    def _advance(self, t: datetime) -> None:
        """Fire everything due up to ``t``, each at its own time, then move the clock."""
        engine, clock = self.engine, self.clock
        while (wake := engine.next_wakeup()) is not None and wake <= t:
            clock.set(wake)
            engine.tick(wake)
            self._count()
            after = engine.next_wakeup()
            if after is not None and after <= wake:
                break  # nothing more can happen at this instant (e.g. a stuck delivery)
        clock.set(t)

    def _take(self, where: str, blob: bytes) -> None:
        """One line of the stream."""
        self.summary.read += 1
        try:
            raw = loads_exact(blob)
        except UnicodeDecodeError:
            self._refuse(where, blob, "the line is not UTF-8 text")
            return
        except ValueError as exc:
            self._refuse(where, blob, f"not valid JSON ({exc})")
            return
        except RecursionError:  # the JSON decoder recurses once per nesting level
            self._refuse(where, blob, "the JSON nests too deeply")
            return
        if not isinstance(raw, dict):
            self._refuse(where, blob, "an event is a JSON object")
            return
        # Only a valid event moves the clock: a bad one (say, dated 9999) must not fire every
        # timer of every customer. The engine quarantines it without reading the clock.
        at = _parse_time(raw.get("at")) if _valid(raw, self.engine.schemas) else None
        if at is not None and self.limit is not None and (why := self.limit.refuses(at)):
            self._refuse(where, blob, why, event_id(raw))
            return
        if at is not None:
            if self.clock.current is None:
                self.clock.set(at)  # the run starts at its first event
            self._advance(at)
        result = self.engine.ingest(raw)
        self._count()
        self._report(where, result)

    def _report(self, where: str, result: IngestResult) -> None:
        if result.duplicate:
            self.summary.skipped += 1
        elif result.quarantined is not None:
            self.summary.quarantined += 1
            print(f"{where}: quarantined: {result.quarantined}", file=self.err)
        else:
            self.summary.processed += 1

    def _refuse(self, where: str, blob: bytes, reason: str, eid: str | None = None) -> None:
        """Quarantine a line the run itself refuses (under the event's id, or the line's)."""
        text = blob.decode("utf-8", errors="replace").rstrip("\r\n")
        key = eid or "line:" + hashlib.sha256(blob.rstrip(b"\r\n")).hexdigest()[:32]
        self.store.quarantine(key, text, reason, datetime.now(UTC))
        self.summary.quarantined += 1
        print(f"{where}: quarantined: {reason}", file=self.err)

    def _replay_requested(self) -> None:
        """Retry the quarantined events an operator asked to replay (``journeydsl quarantine
        replay`` without journeys), at the time the store last reached."""
        wanted = [q.event_id for q in self.store.quarantined() if q.replay]
        if not wanted:
            return
        latest = self.store.latest_event_time()
        if latest is not None:
            self.clock.set(latest)
        for eid in wanted:
            for result in self.engine.replay_quarantined(eid):
                self._report(f"quarantine:{eid}", result)
                self.summary.replayed += 1
        self._count()


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


def run_command(
    journey_files: Sequence[Path], args: Any, err: TextIO, out: TextIO | None = None
) -> int:
    """``journeydsl run`` from parsed command-line arguments (``args.db``, ``args.events``,
    ``args.actions``, ``args.profiles``, ``args.now``; ``args.check_db`` checks the state file
    instead, see :func:`check_db_command`)."""
    if getattr(args, "check_db", False):
        return check_db_command(args.db, out if out is not None else sys.stdout, err)
    missing = [
        name
        for name, given in (
            ("JOURNEY", journey_files),
            ("--events", args.events),
            ("--actions", args.actions),
        )
        if not given
    ]
    if missing:
        print(
            "journeydsl: error: the following arguments are required: "
            f"{', '.join(missing)} (unless --check-db)",
            file=err,
        )
        return EXIT_USAGE
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
        only=bool(getattr(args, "only", False)),
        new_db=bool(getattr(args, "new_db", False)),
        root=getattr(args, "root", None),
    )


def check_db_command(db: str | Path, out: TextIO, err: TextIO) -> int:
    """``journeydsl run --check-db``: SQLite's ``PRAGMA integrity_check`` and the schema version
    of the state file ``db``, read-only (a run may be writing to it meanwhile), without running
    anything. Prints ``<db>: ok`` (exit 0) or one line per problem (exit 1); a missing file is a
    usage error (exit 2)."""
    if not Path(db).is_file():
        print(f"journeydsl: error: {db}: no such file", file=err)
        return EXIT_USAGE
    problems = check_database(db)
    for problem in problems or ["ok"]:
        print(f"{db}: {problem}", file=out)
    return EXIT_ERRORS if problems else EXIT_OK
