"""A worker: one of several processes that share a PostgreSQL database, each running the
journeys for the customers of the buckets it leases (what ``journeydsl worker`` runs).

:class:`Worker` owns an :class:`~journeydsl.runtime.engine.Engine` over a
:class:`~journeydsl.runtime.stores.postgres.PostgresStore` that it gives an
:class:`~journeydsl.runtime.stores._pg_buckets.Ownership`: the store then fences every commit on
the worker's leases. Its loop, one bucket at a time (the store scoped to it):

1. claim and renew leases (every third of the lease), giving back what exceeds its fair share
   when other workers join;
2. take the bucket's events from the inbox (:mod:`~journeydsl.runtime.inbox`) in time order,
   firing the bucket's timers, scheduled segment entries and deliveries due before each;
3. fire what is due up to the target time, and deliver the bucket's outbox to the channels.

**Clocks.** With ``clock=None`` a worker runs in *event time*, as ``journeydsl run`` does on a
recorded stream: each bucket has its own clock (kept in its lease row), moved by its events and
then to the target (``until``, else the latest event stored), so that any number of workers,
owning any buckets at any moment, make the same decisions as one run over the same events. With
a clock (:class:`SystemClock`), it runs live: events are taken as they come, and timers fire at
the clock's now.

**Delivery** of a bucket's outbox is done by the bucket's owner, under its lease: the outcome of
a delivery writes the customer's instance and contact history, which only the owner may write
(and frequency caps count one customer's contacts in one place). A worker that dies mid-delivery
leaves the entry pending; the bucket's next owner delivers it again with the same idempotency
key, and the channel (the actions file) drops the duplicate.

:meth:`Worker.stop` (SIGTERM in the CLI) lets the current step finish, then the worker releases
its leases and :meth:`Worker.run` returns. A commit refused by fencing (:class:`LeaseLostError`: the
worker was paused past its lease and another claimed the bucket) is rolled back, counted, and
the bucket dropped.

``entry when`` journeys run per bucket (:mod:`~journeydsl.runtime.changes`: each bucket's first
pass and instants to look again, read again when the bucket is claimed again). Not yet for
workers: journeys under an entry rate (the rate counts entries across customers in one engine),
and in event time, ticket queues with a daily capacity (a release ranks every bucket's tickets
at once, which needs every bucket at the release); :class:`Worker` refuses them. Channel
throughput limits and (live) ticket queues hold over every worker together
(:class:`~journeydsl.runtime.policies.throughput.SharedThrottle`,
:class:`~journeydsl.runtime.queues.SharedQueues`).
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from journeydsl import ir
from journeydsl.runtime import inbox
from journeydsl.runtime.changes import look_again
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.hostcalls import log
from journeydsl.runtime.intake import missing_handlers
from journeydsl.runtime.pinning import (
    JourneyChangedError,
    VersionMissingError,
    changed_versions,
    graph_digest,
    missing_versions,
    pin_graphs,
)
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import ActionHandler, Channel, Clock, TicketSink
from journeydsl.runtime.stores.postgres import LeaseLostError, Ownership, PostgresStore
from journeydsl.runtime.tracing import Tracing
from journeydsl.runtime.worker_metrics import ObservedChannel, WorkerMetrics

__all__ = ["LeaseLostError", "SystemClock", "Worker", "WorkerHealth"]

#: Events taken from the inbox per query.
_TAKE = 200
#: A live worker's group commits: at most this many events, or this long (seconds), per
#: transaction.
GROUP = 50
GROUP_SECONDS = 0.1
#: Live: the events waiting are taken again after this many bucket ticks of a pass.
_EVENTS_EVERY = 8
#: The first wait after a pass that found nothing to do (seconds); it doubles while nothing
#: comes, up to the worker's ``poll``.
_IDLE_FIRST = 0.01
#: How often (seconds) a live worker ticks every bucket it owns, not only the busy ones, when a
#: journey enters on a schedule: the scheduled segment entries are looked at then.
SWEEP = 30.0
#: The shortest lease: one renewed every third of it, between steps, must outlast a step.
MIN_LEASE = timedelta(seconds=1)


class SystemClock:
    """This machine's clock, in UTC (:class:`~journeydsl.runtime.protocols.Clock`)."""

    def now(self) -> datetime:
        """The current time."""
        return datetime.now(UTC)


class _BucketClock:
    """An event-time worker's clock: the current bucket's, moved by its events, never back."""

    def __init__(self) -> None:
        self.current: datetime | None = None

    def now(self) -> datetime:
        if self.current is None:  # pragma: no cover - set before the engine asks
            raise RuntimeError("the bucket's clock has not started")
        return self.current

    def set(self, when: datetime) -> None:
        if self.current is None or when > self.current:
            self.current = when


@dataclass(frozen=True, slots=True)
class WorkerHealth:
    """What :meth:`Worker.health` tells: is it working, what does it hold, what has it done."""

    worker: str
    #: ``starting``, ``running``, ``draining`` (asked to stop) or ``stopped``.
    state: str
    #: Whether it is running and renewed its leases within the lease time.
    ok: bool
    #: Buckets it leases now, of the database's count.
    buckets: int
    total_buckets: int
    events: int
    quarantined: int
    moved: int
    #: Commits refused by fencing, and leases lost on renewal.
    fenced: int
    lost: int
    last_renewal: datetime | None
    #: Why some buckets' events wait (a version running in the database that is not loaded
    #: here: :meth:`Worker.reload` takes them up again); empty when none does.
    waiting: tuple[str, ...] = ()


class Worker:
    """Runs ``journeys`` for the buckets it leases in ``store``'s database (see the module
    docstring). ``channels``, ``tickets``, ``actions`` and ``policies`` are the engine's;
    ``lease``: how long a lease lasts unrenewed; ``clock``: None for event time, else live;
    ``poll``: the longest wait between passes that find nothing to do (the first is 10 ms,
    doubling while nothing comes)."""

    def __init__(
        self,
        journeys: Sequence[ir.Journey],
        *,
        store: PostgresStore,
        channels: Mapping[str, Channel] | None = None,
        tickets: TicketSink | None = None,
        actions: Mapping[str, ActionHandler] | None = None,
        policies: Policies | None = None,
        clock: Clock | None = None,
        lease: timedelta = timedelta(seconds=10),
        worker_id: str | None = None,
        poll: float = 0.5,
        tracer_provider: Any = None,
    ) -> None:
        if not isinstance(store, PostgresStore):  # (buckets, leases and fencing are its own)
            raise TypeError(
                f"a Worker shares a PostgreSQL database with other workers: give it a "
                f"PostgresStore, not {type(store).__name__} (over one process's store, build an "
                "Engine: docs/embedding.md)"
            )
        _refuse(journeys, policies, clock)
        if lease < MIN_LEASE:
            raise ValueError(
                f"a lease of {lease.total_seconds():g}s is too short: a lease is renewed every "
                f"third of it, between steps, so it lasts at least {MIN_LEASE.total_seconds():g}s"
            )
        self.store = store
        self.lease = lease
        self.poll = poll
        self.owner = Ownership(worker_id or f"w-{uuid.uuid4().hex[:12]}")
        store.ownership = self.owner
        #: What the worker counts and measures (``/metrics``; :meth:`WorkerMetrics.listen`).
        self.metrics = WorkerMetrics()
        store.on_due = self._timers_due
        #: OpenTelemetry spans (the otel extra; ``tracer_provider``: None for the global one).
        self.tracing = Tracing(self.owner.worker, tracer_provider)
        channels = {
            n: ObservedChannel(n, c, self.metrics, self.tracing)
            for n, c in (channels or {}).items()
        }
        self._failures = 0
        self.event_time = clock is None
        #: Whether some journey enters on a schedule (live: full sweeps are needed for them).
        self._segments = any(j.entry.kind == "segment" and j.entry.at for j in journeys)
        self._bucket_clock = _BucketClock()
        self.clock: Clock = clock if clock is not None else self._bucket_clock
        #: What each engine of the worker is built with (a reload builds a new one).
        self._engine_args: dict[str, Any] = {
            "events": store,
            "profiles": store,
            "state": store,
            "clock": self.clock,
            "channels": channels,
            "tickets": tickets,
            "actions": actions,
            "policies": policies,
            "allowed_lateness": None if self.event_time else timedelta(hours=24),
        }
        #: The journeys run, every version loaded (a reload adds versions, never drops one).
        self.journeys: list[ir.Journey] = list(journeys)
        self.engine = Engine(self.journeys, **self._engine_args)
        store.share_writer_lock()  # (workers share the database, never with a `run`)
        # Each version's graph is pinned in the database, as `journeydsl run` pins it (under the
        # lock: never beside a run): a journey changed without a new version while its
        # instances run is refused (JourneyChangedError) before this worker claims a bucket.
        pin_graphs(store, self.journeys)
        if missing := missing_versions(store, self.journeys):  # (they would never move again)
            raise VersionMissingError(
                f"the database has instances of versions this worker was not given: {missing}; "
                "give their files too (a version stays loaded until its instances end or move: "
                "journeydsl migrate)"
            )
        #: Hot reload: journeys to load at the start of the next pass (:meth:`reload`).
        self._reload: list[ir.Journey] | None = None
        self._reload_lock = threading.Lock()
        #: Buckets whose events wait for a reload, and why (see :meth:`_unloaded`).
        self._waiting: dict[int, str] = {}
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._state = "starting"
        self._renewed: float | None = None
        self._replays_seen: float | None = -1.0  # (the renewal replays were last looked for at)
        self._profiles_seen: float | None = -1.0  # (idem, profiles given again)
        self._swept: float | None = None
        #: Events waiting and outbox entries pending in the buckets held (at the last renewal).
        self.backlog = (0, 0)
        self._renewed_at: datetime | None = None
        self.events = 0
        self.quarantined = 0
        self.moved = 0

    # ------------------------------------------------------------------ host calls

    def put(self, lines: Iterable[str | bytes]) -> int:
        """Insert JSON Lines events into the inbox (any worker takes its buckets' share)."""
        return inbox.put(self.store, lines, self.engine.schemas)

    def profiles_given(self, customers: Iterable[str]) -> int:
        """The profiles of ``customers`` were given again (a profiles file loaded into the
        store): the owner of each one's bucket looks at their `entry when` conditions again,
        under its lease, at its next lease renewal (as ``journeydsl run --profiles`` does at its
        start: a customer whose changed profile makes a condition true enters, as of the
        bucket's clock); how many were noted in the database (none when no journey enters on a
        change)."""
        if not any(j.entry.kind == "when" for j in self.journeys):
            return 0
        return self.store.note_profiles(customers)

    def reload(
        self,
        journeys: Sequence[ir.Journey],
        *,
        actions: Mapping[str, ActionHandler] | None = None,
    ) -> list[str]:
        """Load ``journeys`` without a restart (thread-safe; applied between two steps, at the
        start of the worker's next pass); returns what changes (``id vN``, new or updated).

        A journey with a new version runs new entries from then on, while its instances keep
        the version they started in (the earlier versions stay loaded); a new journey starts
        taking entries. A journey changed without a new version is refused (``ValueError``,
        nothing loaded): its running instances would change under them; whether this worker
        loaded it or not, the version's graph pinned in the database is held to while instances
        of it run there, as at start (:class:`JourneyChangedError`). So are the journeys a
        worker refuses at start. ``actions``: the action handlers from then on (new journeys may
        call new ones), else the ones given at start."""
        _refuse(journeys, self._engine_args["policies"], None if self.event_time else self.clock)
        args = self._engine_args
        handlers = actions if actions is not None else args["actions"]
        missing = missing_handlers(
            journeys, set(args["channels"] or {}), args["tickets"] is not None, set(handlers or {})
        )
        if missing:
            raise ValueError(
                f"no handler registered for what these journeys use: {'; '.join(missing)}"
            )
        loaded = {(j.id, j.version): j for j in self.journeys}
        with self._reload_lock:
            for j in self._reload or ():
                loaded[(j.id, j.version)] = j
            changes: list[str] = []
            for j in journeys:
                before = loaded.get((j.id, j.version))
                if before is None:
                    loaded[(j.id, j.version)] = j
                    changes.append(f"{j.id} v{j.version}")
                elif _graph(before) == _graph(j):
                    continue
                elif graph_digest(before) == graph_digest(j):  # (budgets' sizes, dates only)
                    loaded[(j.id, j.version)] = j
                    changes.append(f"{j.id} v{j.version} (budgets)")
                else:
                    raise ValueError(
                        f"journey '{j.id}' version {j.version} changed, but its version did not: "
                        f"its running instances would change under them; give the new one "
                        f"`version {max(v for i, v in loaded if i == j.id) + 1}`"
                    )
            if changes:
                self._pinned(journeys)
                self._reload = list(loaded.values())
                if actions is not None:
                    self._engine_args["actions"] = actions
                self._wake.set()
        return changes

    def _pinned(self, journeys: Sequence[ir.Journey]) -> None:
        """Refuse (:class:`JourneyChangedError`) a journey of ``journeys`` whose graph is not
        the one pinned in the database for its version while instances of it run there, which
        workers that run other journeys may have started (read on a connection of its own:
        :meth:`reload` may be called from any thread)."""
        with PostgresStore(self.store.dsn, readonly=True) as database:
            problems, _ = changed_versions(database, {(j.id, j.version): j for j in journeys})
        if problems:
            raise JourneyChangedError("; ".join(problems))

    def _reloaded(self) -> None:
        """Apply a pending :meth:`reload`: its graphs pinned in the database, then a new engine
        over every version loaded (a graph changed meanwhile under a pinned version keeps the
        engine as it was)."""
        with self._reload_lock:
            journeys, self._reload = self._reload, None
        if journeys is None:
            return
        try:
            pin_graphs(self.store, journeys)
        except JourneyChangedError as exc:
            log.error("reload_refused", worker=self.owner.worker, error=str(exc))
            return
        self.engine = Engine(journeys, **self._engine_args)
        self.journeys = journeys
        self._waiting.clear()  # (their events are taken again, by the versions now loaded)
        self._segments = any(j.entry.kind == "segment" and j.entry.at for j in journeys)
        log.info(
            "journeys_reloaded",
            worker=self.owner.worker,
            journeys=sorted(f"{j.id} v{j.version}" for j in journeys),
        )

    def stop(self) -> None:
        """Ask the worker to finish its current step, release its leases and return from
        :meth:`run` (safe from a signal handler or another thread)."""
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """End the wait between two passes now (new work was put: thread-safe)."""
        self._wake.set()

    def health(self) -> WorkerHealth:
        """Its state, leases and counts."""
        fresh = (
            self._renewed is not None
            and time.monotonic() - self._renewed < self.lease.total_seconds()
        )
        return WorkerHealth(
            worker=self.owner.worker,
            state="draining" if self._state == "running" and self._stop.is_set() else self._state,
            ok=self._state == "running" and not self._stop.is_set() and fresh,
            buckets=len(self.owner.epochs),
            total_buckets=self.store.buckets,
            events=self.events,
            quarantined=self.quarantined,
            moved=self.moved,
            fenced=self.owner.fenced,
            lost=self.owner.lost,
            last_renewal=self._renewed_at,
            waiting=tuple(sorted(set(self._waiting.values()))),
        )

    def run(
        self,
        *,
        exit_when_idle: bool = False,
        until: datetime | None = None,
        feed: Any = None,
    ) -> None:
        """Work until :meth:`stop`, or, with ``exit_when_idle``, until every bucket of the
        database is done (no event waiting, and each bucket's work reached ``until``, else the
        latest event: event time; the clock's now: live); then release the leases. ``feed``,
        when given, is called before each pass for lines to :meth:`put` (a live stdin).
        ``until`` is for event time only (a live worker's target is its clock's now)."""
        if until is not None and not self.event_time:
            raise ValueError("until is for a worker in event time (clock=None)")
        self._state = "running"
        idle = 0.0
        try:
            while not self._stop.is_set():
                if feed is not None:
                    lines = feed()
                    if lines:
                        self.put(lines)
                self.renew(force=not self.owner.epochs)
                self._reloaded()
                self._replays()
                self._profiles_again()
                target = self._target(until)
                worked = self._pass(target)
                if exit_when_idle and self._waiting:  # (they would wait for ever)
                    raise VersionMissingError(min(self._waiting.values()))
                if self._stop.is_set():
                    break
                # (the target again: this pass may have stored the latest event, which, without
                # `until`, is where every bucket's work goes)
                if exit_when_idle and inbox.all_done(
                    self.store, self._target(until), self.event_time
                ):
                    break
                # (idle: look again soon, then less and less often, up to every `poll` seconds)
                idle = 0.0 if worked else min(self.poll, max(_IDLE_FIRST, 2 * idle))
                if idle:
                    self._wake.wait(idle)
                    self._wake.clear()
        finally:
            self._state = "draining"
            with contextlib.suppress(Exception):
                self.store.release_leases(self.owner)
            self._state = "stopped"

    def _pass(self, target: datetime | None) -> int:
        """One pass over the buckets held; how much moved. Event time: each bucket in turn,
        its events and what falls due between them. Live: the events of every bucket held, in
        group commits, then a tick of the buckets with a timer or a delivery due (of every one
        at each full sweep, for scheduled segment entries, at least every :data:`SWEEP`
        seconds, when a journey has them), taking the events waiting again every few ticks."""
        owned = sorted(self.owner.epochs)
        if self.event_time or target is None:
            return sum(self._bucket(b, target) for b in owned)
        worked = self._guarded(owned, self._live_events)
        now = time.monotonic()
        if self._segments and (self._swept is None or now - self._swept >= SWEEP):
            self._swept = now
            ticks = owned
        else:
            ticks = self.store.timer_buckets(owned, target)
            changes = self.engine.entry_buckets_due(target) - set(ticks)
            ticks = sorted({*ticks, *(b for b in changes if b in self.owner.epochs)})
        for n, bucket in enumerate(ticks, 1):
            worked += self._bucket(bucket, target)
            if n % _EVENTS_EVERY == 0:  # (events do not wait for a long sweep to end)
                worked += self._guarded(sorted(self.owner.epochs), self._live_events)
        return worked

    # ------------------------------------------------------------------ leases

    def renew(self, force: bool = False) -> None:
        """Renew, rebalance and claim leases when a third of the lease has passed (or now)."""
        now = time.monotonic()
        if (
            not force
            and self._renewed is not None
            and now - self._renewed < self.lease.total_seconds() / 3
        ):
            return
        import psycopg

        try:
            gained, lost = self.store.claim(self.owner, self.lease)
        except psycopg.errors.TransactionRollback as exc:  # (a deadlock with another claimer)
            log.warning("renewal_retry", worker=self.owner.worker, error=str(exc))
            self.metrics.inc("errors", kind="conflict")
            return
        self._renewed = now
        self._renewed_at = datetime.now(UTC)
        self.backlog = self.store.backlog(self.owner.epochs)
        self.metrics.set("leases_held", len(self.owner.epochs))
        self.metrics.set("inbox_backlog", self.backlog[0])
        self.metrics.set("outbox_backlog", self.backlog[1])
        if gained or lost:
            log.info(
                "leases",
                worker=self.owner.worker,
                gained=len(gained),
                lost=len(lost),
                held=len(self.owner.epochs),
            )

    # ------------------------------------------------------------------ replays

    def _replays(self) -> None:
        """Take again the quarantined events an operator marked for replay (``journeydsl
        quarantine replay`` without journeys) whose customers are in the buckets held, each
        under its bucket's lease, as ``journeydsl run`` does at its start: those now valid are
        processed and leave the quarantine, the others stay, counted once more. Looked for
        once per lease renewal."""
        if self._replays_seen == self._renewed:
            return
        self._replays_seen = self._renewed
        marked = self.store._conn.execute(
            "SELECT id, event FROM quarantine WHERE replay = 1 ORDER BY first_seen, id"
        ).fetchall()
        for eid, text in marked:
            bucket = self.store.bucket(inbox.customer_in(str(text)))
            if bucket in self.owner.epochs and not self._stop.is_set():
                self._guarded([bucket], lambda b=bucket, e=str(eid): self._replay(b, e))

    def _replay(self, bucket: int, event_id: str) -> int:
        """Replay one marked event of ``bucket`` (event time: on the bucket's clock)."""
        if self.event_time:
            clock = self._bucket_clock
            clock.current = (
                self.store.bucket_clocks_of(bucket)
                or inbox.stream_start(self.store)
                or self.store.latest_event_time()
                or datetime.now(UTC)
            )
        for result in self.engine.replay_quarantined(event_id):
            self._counted(result)
        return 1

    def _profiles_again(self) -> None:
        """Look at the `entry when` conditions of the customers of the buckets held whose
        profiles were given again (:meth:`profiles_given`, by any worker), each bucket under its
        lease; looked for once per lease renewal."""
        if self._profiles_seen == self._renewed:
            return
        self._profiles_seen = self._renewed
        if not any(j.entry.kind == "when" for j in self.journeys):
            return
        for bucket, noted in self.store.noted_profiles(self.owner.epochs).items():
            if bucket in self.owner.epochs and not self._stop.is_set():
                self._guarded([bucket], lambda b=bucket, n=noted: self._look_again(b, n))

    def _look_again(self, bucket: int, noted: list[tuple[str, str]]) -> int:
        """Look at the conditions of ``noted`` customers of ``bucket`` again (event time: at
        the bucket's clock; a bucket with none yet waits for its first pass, which looks at
        every customer)."""
        if self.event_time:
            at = self.store.bucket_clocks_of(bucket) or inbox.stream_start(self.store)
            if at is None:
                return 0
            self._bucket_clock.current = at
        for _ in look_again(self.engine, self.store, [customer for customer, _ in noted]):
            pass
        self.store.profiles_looked_at(bucket, noted)
        return len(noted)

    # ------------------------------------------------------------------ one bucket

    def _target(self, until: datetime | None) -> datetime | None:
        """Where each bucket's work goes this pass."""
        if not self.event_time:
            return self.clock.now()
        if until is not None:
            return until
        return self.store.latest_event_time()

    def _bucket(self, bucket: int, target: datetime | None) -> int:
        """Take the bucket's events, fire what is due until ``target``; how much moved. A lease
        lost on the way drops the bucket."""
        if bucket not in self.owner.epochs or self._stop.is_set() or bucket in self._waiting:
            return 0
        return self._guarded([bucket], lambda: self._work(bucket, target))

    def _guarded(self, buckets: list[int], work: Any) -> int:
        """``work()`` with the store scoped to ``buckets``: a lease found lost drops its
        buckets (the commit was rolled back), a lock conflict waits for the next pass."""
        if not buckets or self._stop.is_set():
            return 0
        import psycopg

        try:
            with self.store.scoped(buckets):
                return int(work())
        except LeaseLostError as lost:
            self.store.count_fenced()
            self.metrics.inc("errors", kind="fenced")
            log.warning("fenced", worker=self.owner.worker, buckets=lost.buckets)
            for b in {*lost.buckets, *(buckets if len(buckets) == 1 else ())}:
                self.owner.epochs.pop(b, None)
            return 1
        except psycopg.errors.TransactionRollback as exc:  # a deadlock with a claimer
            self.metrics.inc("errors", kind="conflict")
            log.warning("retry", worker=self.owner.worker, buckets=buckets, error=str(exc))
            return 1
        finally:
            self._count_failures()

    def _work(self, bucket: int, target: datetime | None) -> int:
        store, engine, clock = self.store, self.engine, self._bucket_clock
        if self.event_time:
            clock.current = store.bucket_clocks_of(bucket) or inbox.stream_start(store)
        worked = 0
        while self.event_time and not self._stop.is_set():  # (live: _live_events takes them)
            rows = inbox.take(store, bucket, _TAKE)
            for row in rows:
                if self._stop.is_set() or bucket not in self.owner.epochs:
                    break
                self.renew()
                if self.event_time and row.at is not None:
                    if clock.current is None:
                        clock.set(row.at)
                    self._advance(row.at)
                    if self._stop.is_set() or bucket not in self.owner.epochs:
                        break  # (the event waits for the bucket's next turn, or owner)
                try:
                    with self.tracing.span("ingest", event_id=row.id, bucket=bucket):
                        result = engine.ingest(row.body, row.id)
                except VersionMissingError as exc:  # (its step was rolled back)
                    return worked + self._unloaded(bucket, exc)
                inbox.taken(store, row.id)
                worked += 1
                self._ingested(row, result)
            if len(rows) < _TAKE:
                break
        if self._stop.is_set() or bucket not in self.owner.epochs:
            return worked
        if target is not None:
            if self.event_time:
                if clock.current is None:
                    clock.set(target)
                worked += self._advance(target)
                if self._stop.is_set() or bucket not in self.owner.epochs:
                    return worked
                store.set_bucket_clock(bucket, clock.now())
            else:
                with self.tracing.span("step", bucket=bucket) as span:
                    moved = engine.tick(target)
                    if span is not None:
                        span.set_attribute("journeydsl.moved", moved)
                self.moved += moved
                worked += moved
                if moved:
                    self.metrics.inc("steps", moved, kind="timer")
        return worked

    def _live_events(self) -> int:
        """Live: take the waiting events of every bucket held (in time order, at most
        :data:`_TAKE` a pass) in group commits of at most :data:`GROUP` events or
        :data:`GROUP_SECONDS`: each group's events, instances, outbox entries and inbox rows
        commit in one transaction (fenced once, on every bucket it writes), and its deliveries
        follow the commit. A group that fails (fenced, say) is rolled back whole: its events
        stay in the inbox."""
        store, engine, done = self.store, self.engine, 0
        rows = inbox.take_from(store, sorted(self.owner.epochs), _TAKE)
        while rows and not self._stop.is_set():
            self.renew()  # (between groups: a renewal is never part of one)
            held = self.owner.epochs.keys()
            rows = [r for r in rows if r.bucket in held and r.bucket not in self._waiting]
            # (a bucket given back or lost on renewal leaves the scope: its outbox too)
            store.scope = frozenset(b for b in store.scope or () if b in held)
            taken: list[tuple[inbox.InboxRow, Any]] = []
            group = rows[:GROUP]
            started = time.monotonic()
            try:
                with (
                    store.batch(),
                    store.prefetched([r.id for r in group], map(inbox.customer_of, group)),
                ):
                    for row in group:
                        with self.tracing.span("ingest", event_id=row.id, bucket=row.bucket):
                            taken.append((row, engine.ingest(row.body, row.id)))
                        if len(taken) >= GROUP or time.monotonic() - started >= GROUP_SECONDS:
                            break
                    inbox.taken(store, *(row.id for row, _ in taken))
            except VersionMissingError as exc:  # (the group was rolled back: again, without it)
                self._unloaded(group[len(taken)].bucket, exc)
                continue
            for row, result in taken:
                self._ingested(row, result)
            done += len(taken)
            rows = rows[len(taken) :]
        return done

    def _unloaded(self, bucket: int, exc: VersionMissingError) -> int:
        """An event of ``bucket`` concerns a version running in the database but not loaded
        here (another worker was reloaded first): the bucket's events wait, untaken, in the
        inbox until :meth:`reload` loads it (said once, in the log, the ``errors`` metric and
        :meth:`health`); its other work and the other buckets go on. 1: something changed."""
        if bucket not in self._waiting:
            self._waiting[bucket] = str(exc)
            self.metrics.inc("errors", kind="version")
            log.error("version_not_loaded", worker=self.owner.worker, bucket=bucket, error=str(exc))
        return 1

    def _advance(self, t: datetime) -> int:
        """Event time: fire everything of the bucket due up to ``t``, each at its own time."""
        engine, clock = self.engine, self._bucket_clock
        engine.control.check(
            engine, t
        )  # (a journey resumed since: the bucket's held events, first)
        moved = 0
        wake = engine.next_wakeup()
        while wake is not None and wake <= t:
            self.renew()
            if self._stop.is_set() or not self._owned():
                return moved  # (the bucket's clock stays where its work stopped)
            clock.set(wake)
            with self.tracing.span("step", at=wake.isoformat()):
                fired = engine.tick(wake)
            if fired:
                self.metrics.inc("steps", fired, kind="timer")
            moved += fired + 1
            after = engine.next_wakeup()
            if after is not None and after <= wake:
                break  # nothing more can happen at this instant (e.g. a stuck delivery)
            wake = after
        clock.set(t)
        self.moved += moved
        return moved

    # ------------------------------------------------------------------ metrics

    def _counted(self, result: Any) -> bool:
        """Count an event the engine was given (taken, quarantined, or a duplicate); True when
        it was taken."""
        if result.quarantined is not None:
            self.quarantined += 1
            self.metrics.inc("quarantined")
            return False
        if result.duplicate:
            return False
        self.events += 1
        self.metrics.inc("events")
        self.metrics.inc("steps", kind="event")
        return True

    def _ingested(self, row: inbox.InboxRow, result: Any) -> None:
        """Count an event taken (live: how long after its time its step committed)."""
        if self._counted(result) and not self.event_time and row.at is not None:
            lag = (datetime.now(UTC) - row.at).total_seconds()
            self.metrics.observe("event_lag_seconds", max(lag, 0.0))

    def _timers_due(self, now: datetime, dues: list[datetime]) -> None:
        """The store found these timers due at ``now``: count them, and how late they are."""
        self.metrics.inc("timers_due", len(dues))
        for due in dues:
            self.metrics.observe("timer_lag_seconds", max((now - due).total_seconds(), 0.0))

    def _count_failures(self) -> None:
        """Instances that failed (outcome ``error``) since the last look: errors of kind
        ``instance``."""
        failures = self.engine.failures
        if failures > self._failures:
            self.metrics.inc("errors", failures - self._failures, kind="instance")
            self._failures = failures

    def _owned(self) -> bool:
        """Whether the bucket the store is scoped to is still leased."""
        scope = self.store.scope
        return scope is not None and scope <= self.owner.epochs.keys()


def fair_share(buckets: int, workers: int) -> int:
    """How many buckets each of ``workers`` live workers claims at most."""
    return math.ceil(buckets / max(1, workers))


def _refuse(journeys: Sequence[ir.Journey], policies: Policies | None, clock: Clock | None) -> None:
    """Refuse the journeys a worker cannot run yet (``ValueError`` naming them): those of
    ``journeys`` under an entry rate, and, in event time, the queues with a daily capacity they
    make tickets for. The policy file's rules for other journeys and queues (a bank's one file
    for every journey) do not concern this worker."""
    refused: list[str] = []
    if policies is not None:
        ids = {j.id for j in journeys}
        refused += [f"{r.journey} (entry rate)" for r in policies.entry_rates if r.journey in ids]
        if clock is None:  # (event time: each bucket on its own clock)
            queues = {
                n.queue for j in journeys for n in j.nodes.values() if isinstance(n, ir.Ticket)
            }
            refused += [
                f"ticket queue {q.queue} (a daily capacity, in event time: run the workers "
                "on the system clock)"
                for q in policies.queues
                if q.queue in queues
            ]
    if refused:
        raise ValueError(
            "workers do not run these journeys yet (each keeps state across customers in "
            f"one engine): {', '.join(refused)}; run them with journeydsl run"
        )


def _graph(journey: ir.Journey) -> str:
    """A journey's graph as canonical JSON (what a reload compares)."""
    return json.dumps(journey.to_json(), sort_keys=True)
