"""An engine fed from an event stream: JSON Lines, from a file or a pipe, on a clock that follows
the stream (what ``journeydsl run`` does with its ``--events``).

Events are taken in time order: each is held until the stream is the allowed lateness past it
(:class:`~journeydsl.runtime.reorder.Reorder`), and one dated further back than that is
quarantined ``too_late``. For each event taken the clock moves to its time, everything due until
then fires (timers, scheduled segment entries, deferred deliveries, each at its own time), and
then the event is ingested. Only a valid event moves the clock: a line that is not JSON, or an
event dated far ahead (:class:`FutureLimit`), is kept in the store's quarantine instead, and
reported.

Restarting on the same store resumes where a run stopped: events already processed are skipped
by id (the engine's processed markers), and the store remembers the latest time the clock
reached (:data:`RUN_CLOCK`), from which the next run's clock goes on: runs split anywhere fire
every timer at its own time, as one long run does.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import IO, TYPE_CHECKING, Any

from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact, numbered_lines
from journeydsl.runtime.changes import look_again
from journeydsl.runtime.engine import Engine, IngestResult
from journeydsl.runtime.events import BadEvent, coerce_event, event_id
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.policies.evaluator import describe_window
from journeydsl.runtime.reorder import Reorder, TooLateError
from journeydsl.runtime.stores.sqlite import SQLiteStore

if TYPE_CHECKING:
    from journeydsl.runtime.stores.postgres import PostgresStore

__all__ = [
    "RUN_CLOCK",
    "FutureLimit",
    "RunSummary",
    "StreamClock",
    "StreamRunner",
    "parse_time",
    "stream_lines",
]

#: The engine_meta key of the latest time a run's clock reached on a state file (ISO 8601).
RUN_CLOCK = "run_clock"
#: Ticks at one instant after the first, for work the first one's deliveries made due then.
_SAME_INSTANT_TICKS = 20


@dataclass(slots=True)
class RunSummary:
    """What one run did (the counts a stream runner keeps, and those its host adds)."""

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
    #: Instances that failed in this run (outcome ``error``).
    failed: int = 0


class StreamClock:
    """The run's clock: moved forward by the stream, never backwards."""

    def __init__(self) -> None:
        self.current: datetime | None = None

    def now(self) -> datetime:
        """The latest time the stream reached."""
        if self.current is None:  # pragma: no cover - the run sets it before the engine asks
            raise RuntimeError("the clock has not started")
        return self.current

    def set(self, when: datetime) -> None:
        """Move to ``when``, unless the clock is already past it."""
        if self.current is None or when > self.current:
            self.current = when


def parse_time(raw: Any) -> datetime | None:
    """An ISO 8601 time with a UTC offset (``Z`` allowed); None for anything else."""
    if not isinstance(raw, str):
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        return None
    return value if value.tzinfo is not None and value.utcoffset() is not None else None


def stream_lines(source: str, stdin: IO[bytes] | None) -> Iterator[tuple[int, bytes]]:
    """The lines of the file ``source`` (``-``: of ``stdin``, by default this process's), with
    their numbers from 1, as bytes (a byte-order mark at the start dropped): the decoding is the
    runner's to judge."""
    if source == "-":
        stream = stdin if stdin is not None else sys.stdin.buffer
        yield from numbered_lines(stream)
        return
    with open(source, "rb") as f:
        yield from numbered_lines(f)


class FutureLimit:
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


class StreamRunner:
    """The engine over the store and the actions file, fed one stream.

    Every event that cannot be taken, whether the runner refuses it (not JSON, too far in the
    future) or the engine does (the catalog), is kept in the store's quarantine, counted in
    ``summary``, and told to ``quarantined(where, reason)`` (``where`` is ``file:line``). The
    engine must run on ``clock``; ``sink`` is the file its effects are delivered to (its counts
    are copied into ``summary`` after every step, so they stand when a delivery fails)."""

    def __init__(
        self,
        engine: Engine,
        store: SQLiteStore | PostgresStore,
        sink: FileChannel,
        clock: StreamClock,
        summary: RunSummary,
        limit: FutureLimit | None,
        quarantined: Callable[[str, str], None],
        lateness: timedelta = timedelta(0),
        hold: bool = True,
        profiled: Iterable[str] = (),
    ) -> None:
        self.engine = engine
        self.store = store
        self.sink = sink
        self.clock = clock
        self.summary = summary
        self.limit = limit
        self.quarantined = quarantined
        stored = store.get_meta(RUN_CLOCK)
        #: The time an earlier run on this store reached.
        self.reached = reached = datetime.fromisoformat(stored) if stored else None
        #: The customers of the profiles file this run was given: their `entry when` conditions
        #: are looked at again when the run starts (the file may have changed their profiles).
        #: A first run needs none of it: the engine's first pass looks at every customer.
        self.profiled = list(profiled) if reached is not None else []
        # Events wait here until no earlier one can come; an earlier run's clock is where the
        # stream stood.
        # (A live feed, ``hold=False``, is taken as it comes: late events at their own time.)
        self.held: Reorder[tuple[str, Mapping[str, Any], datetime, str]] = Reorder(
            lateness, reached, hold=hold
        )

    def __call__(self, events: str, stdin: IO[bytes] | None, now: datetime | None) -> None:
        """Replay what an operator asked to, take every line of ``events`` (a path, or ``-``),
        then run on until ``now`` if given, and record the time the clock reached."""
        store = self.store
        self._replay_requested()
        name = "<stdin>" if events == "-" else events
        for number, blob in stream_lines(events, stdin):
            if blob.strip():
                self._take(f"{name}:{number}", blob)
        for held in self.held.drain():  # the stream ended: nothing earlier can come
            self._ingest(*held)
        if now is not None:
            self._start(now)
            self._advance(now)
        if self.profiled and self.reached is not None:
            self._start(self.reached)  # (nothing else started the run: its profiles still count)
        self._count()
        if self.clock.current is not None:
            reached = store.get_meta(RUN_CLOCK)
            if reached is None or self.clock.current > datetime.fromisoformat(reached):
                store.commit([], [], meta={RUN_CLOCK: self.clock.current.isoformat()})

    def _start(self, first: datetime) -> None:
        """Start the clock, unless it runs, at ``first`` (the first event's time, or --now), or
        at the time an earlier run reached when that is earlier: a run goes on from where the
        last one stopped, so what fell due in between fires at its own time, as in one long run,
        not all at once at the first event, late and stale. (An earlier event the stream gives
        again walks the clock from its own time: the journeys an ``--only`` run left behind
        catch up with it.)"""
        if self.clock.current is None:
            reached = self.reached
            self.clock.set(first if reached is None or first < reached else reached)
        if self.profiled:
            # The profiles given are in force from the run's start: a customer whose changed
            # profile makes an `entry when` condition true enters then (Engine.profile_changed;
            # looking again at an unchanged one changes nothing, so a rerun after a crash
            # neither loses nor repeats an entry).
            customers, self.profiled = self.profiled, []
            for _ in look_again(self.engine, self.store, customers):
                self._count()

    def _count(self) -> None:
        self.summary.delivered = self.sink.written
        self.summary.deduplicated = self.sink.deduplicated

    def _advance(self, t: datetime) -> None:
        """Fire everything due up to ``t``, each at its own time, then move the clock. A timer
        due before the time the clock already reached (an instance a replayed late event
        started) fires at that time, late, as the stale rule judges it: never at its own,
        which would date its actions before ones already delivered."""
        engine, clock = self.engine, self.clock
        engine.control.check(engine, t)  # (a journey resumed since: the events it held, first)
        while (wake := engine.next_wakeup()) is not None and wake <= t:
            clock.set(wake)
            wake = clock.now()
            engine.tick(wake)
            self._count()
            # A tick's deliveries may make work due at the same instant (a ticket queue decided:
            # its instances go on at the next tick); a few more ticks, then give up the instant.
            for _ in range(_SAME_INSTANT_TICKS):
                after = engine.next_wakeup()
                if after is None or after > wake:
                    break
                engine.tick(wake)
                self._count()
            else:
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
        at = parse_time(raw.get("at")) if _valid(raw, self.engine.schemas) else None
        if at is None:  # for the engine to quarantine
            self._ingest(where, raw, None, None)
            return
        eid = event_id(raw)  # (once: the engine is handed it)
        if self.limit is not None and (why := self.limit.refuses(at)):
            self._refuse(where, blob, why, eid)
            return
        if self.engine.taken(eid):  # for the engine to skip
            self._ingest(where, raw, at, eid)
            return
        try:
            released = self.held.push(at, (where, raw, at, eid))
        except TooLateError as late:
            self._refuse(where, blob, str(late), eid)
            return
        for held in released:
            self._ingest(*held)

    def _ingest(
        self, where: str, raw: Mapping[str, Any], at: datetime | None, eid: str | None
    ) -> None:
        """Hand one event (its id ``eid`` when known) to the engine; a valid one (dated ``at``)
        moves the clock there."""
        if at is not None:
            self._start(at)
            self._advance(at)
        result = self.engine.ingest(raw, eid)
        self._count()
        self._report(where, result)

    def _report(self, where: str, result: IngestResult) -> None:
        if result.duplicate:
            self.summary.skipped += 1
        elif result.quarantined is not None:
            self.summary.quarantined += 1
            self.quarantined(where, result.quarantined)
        else:
            self.summary.processed += 1

    def _refuse(self, where: str, blob: bytes, reason: str, eid: str | None = None) -> None:
        """Quarantine a line the runner itself refuses (under the event's id, or the line's)."""
        text = blob.decode("utf-8", errors="replace").rstrip("\r\n")
        key = eid or "line:" + hashlib.sha256(blob.rstrip(b"\r\n")).hexdigest()[:32]
        self.store.quarantine(key, text, reason, datetime.now(UTC))
        self.summary.quarantined += 1
        self.quarantined(where, reason)

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


def _valid(raw: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Type]]) -> bool:
    try:
        coerce_event(raw, schemas)
    except BadEvent:
        return False
    return True
