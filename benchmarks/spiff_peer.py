"""Benchmark: journeydsl against SpiffWorkflow 3.x (BPMN) on the activation-reminder journey.

    python benchmarks/spiff_peer.py [--customers 5000] [--runs 3] [--synchronous FULL|NORMAL]
                                    [--smoke] [--no-save]

The subset of onboarding_new_cardholder that both run (benchmarks/spiff/activation_reminder.bpmn
and benchmarks/spiff/activation_reminder.journey): card issued -> welcome e-mail -> every 3 days,
while the card is not activated, a reminder (at most 3) -> 3 days after the last one, a telesales
ticket if it is still not activated.

The population: ``--customers`` cards issued over one virtual day; a seeded random fraction of the
customers activate their card at a random minute within 15 days, which covers every path (no
reminder, 1, 2 or 3 reminders, the ticket). Both engines run the same event stream on a virtual
clock, in the same process:

* **journeydsl**: the :class:`~journeydsl.Engine` ingests each event and is ticked at each of its
  wake-ups (``next_wakeup``) before the next event, as ``journeydsl simulate`` drives it.
* **SpiffWorkflow**: one ``BpmnWorkflow`` per customer. SpiffWorkflow's timers read
  ``datetime.now(timezone.utc)`` in ``SpiffWorkflow.bpmn.specs.event_definitions.timer``; that
  module's ``datetime`` is replaced by a subclass whose ``now`` reads the virtual clock. The host
  keeps a heap of the due times the workflows report (``waiting_events()``) and, at each, calls
  ``refresh_timers()`` and ``do_engine_steps()`` (``run_all()`` does not go past a timer). The
  gateway "activated?" calls a host function that looks the customer's activation up.

Before any figure is reported, the actions of both engines (welcome, reminder rounds, ticket) are
compared per customer with each other and with the expected ones computed from the population;
any difference raises :class:`EquivalenceError`.

Two measurements, each printed as one JSON line and appended to
benchmarks/results/spiff_peer.jsonl:

* ``memory``: SpiffWorkflow with its workflows in memory, journeydsl with the in-memory stores
  (live records: ``MemoryStateStore(isolated=False)``, as ``journeydsl simulate`` runs).
* ``persisted``: after each step batch (an event, a timer) SpiffWorkflow's JSON serializer writes
  the workflow to SQLite in one transaction (with the event, for an event); journeydsl runs on its
  SQLite store. Both databases use WAL and the same ``PRAGMA synchronous`` (``FULL``, the
  SQLiteStore default, makes every commit an fsync).

Timings cover the event loop only: parsing the BPMN, compiling the journey, creating the stores and
loading profiles are set-up. The target (the performance issue, second edition) is journeydsl at
least 20x faster per instance in memory and 10x persisted.
"""

from __future__ import annotations

import argparse
import contextlib
import heapq
import importlib.metadata
import itertools
import json
import logging
import os
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from journeydsl.testing import SteppableClock

ROOT = Path(__file__).resolve().parent.parent
HERE = Path(__file__).resolve().parent / "spiff"
BPMN = HERE / "activation_reminder.bpmn"
JOURNEY = HERE / "activation_reminder.journey"
RESULTS = ROOT / "benchmarks" / "results"

#: How many times faster per instance journeydsl must be, by mode (the performance issue, second
#: edition: 20x in memory, 10x persisted with the same durability setting on both sides).
TARGET_RATIO = {"memory": 20, "persisted": 10}
SMOKE_CUSTOMERS = 40
VN = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 1, 5, 9, 0, tzinfo=VN)
#: The reminder period and cap, as written in both the BPMN and the journey.
PERIOD = timedelta(days=3)
CAP = 3


class EquivalenceError(AssertionError):
    """SpiffWorkflow, journeydsl and the expected actions disagree for some customer."""


# --------------------------------------------------------------------------- the population


@dataclass(frozen=True, slots=True)
class Customer:
    """One synthetic cardholder: when the card was issued, and when (if ever) it was activated."""

    customer_id: str
    card_id: str
    issued: datetime
    activated: datetime | None


#: What one customer received: (welcome e-mails, reminder rounds in order, telesales tickets).
Actions = tuple[int, tuple[int, ...], int]


def population(customers: int, seed: int, activation_rate: float) -> list[Customer]:
    """Cards issued over one day from :data:`START`; ``activation_rate`` of them activated at a
    random minute (plus 30 s, so never at the same instant as a timer) within 15 days."""
    rng = random.Random(seed)
    out = []
    for i in range(customers):
        issued = START + timedelta(seconds=i * 86_400 // max(customers, 1))
        activated = None
        if rng.random() < activation_rate:
            activated = issued + timedelta(minutes=rng.randrange(1, 15 * 24 * 60), seconds=30)
        out.append(Customer(f"c-{i:07d}", f"k-{i:07d}", issued, activated))
    return out


def expected(customer: Customer) -> Actions:
    """The actions the journey defines for ``customer``: a reminder at each period's end while not
    activated, up to the cap, and a ticket one period after the last reminder."""

    def active_by(periods: int) -> bool:
        due = customer.issued + PERIOD * periods
        return customer.activated is not None and customer.activated <= due

    rounds = tuple(k for k in range(1, CAP + 1) if not active_by(k))
    return 1, rounds, int(not active_by(CAP + 1))


def event_stream(people: Sequence[Customer]) -> list[tuple[datetime, dict[str, Any]]]:
    """The events of the population (the DESIGN.md JSON contract, with ids), by time."""
    stream: list[tuple[datetime, int, dict[str, Any]]] = []
    for seq, c in enumerate(people):
        issued = {
            "id": f"{c.customer_id}:card_issued",
            "customer_id": c.customer_id,
            "type": "card_issued",
            "at": c.issued.isoformat(),
            "data": {"card_id": c.card_id, "product": "gold"},
        }
        stream.append((c.issued, seq, issued))
        if c.activated is not None:
            activated = {
                "id": f"{c.customer_id}:card_activated",
                "customer_id": c.customer_id,
                "type": "card_activated",
                "at": c.activated.isoformat(),
                "data": {"card_id": c.card_id},
            }
            stream.append((c.activated, len(people) + seq, activated))
    stream.sort(key=lambda item: (item[0], item[1]))
    return [(at, event) for at, _, event in stream]


# --------------------------------------------------------------------------- SpiffWorkflow


@contextlib.contextmanager
def spiff_virtual_time(clock: SteppableClock) -> Iterator[None]:
    """Make SpiffWorkflow's timers read ``clock``.

    Its timer module does ``from datetime import datetime`` and calls
    ``datetime.now(timezone.utc)`` both to compute a timer's due time and to decide whether it
    has fired, so that module's ``datetime`` is swapped for a subclass with a virtual ``now``."""
    from SpiffWorkflow.bpmn.specs.event_definitions import timer

    class VirtualDatetime(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> VirtualDatetime:  # type: ignore[override]
            t = clock.now()
            return t.astimezone(tz) if tz is not None else t  # type: ignore[return-value]

    original = timer.datetime
    timer.datetime = VirtualDatetime
    try:
        yield
    finally:
        timer.datetime = original


def load_spec() -> Any:
    """The BPMN process, parsed (and schema-validated) once."""
    from SpiffWorkflow.bpmn.parser import BpmnParser, BpmnValidator

    parser = BpmnParser(validator=BpmnValidator())
    parser.add_bpmn_file(str(BPMN))
    return parser.get_spec("activation_reminder")


class SpiffStore:
    """SpiffWorkflow's persistence in the benchmark: the workflow JSON (its own serializer) and
    the events, in SQLite with the pragmas of journeydsl's SQLiteStore, one transaction per step
    batch."""

    def __init__(self, path: Path, synchronous: str) -> None:
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer

        self.serializer = BpmnWorkflowSerializer()
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute(f"PRAGMA synchronous={synchronous}")
        self.conn.execute(
            "CREATE TABLE workflows (customer_id TEXT PRIMARY KEY, state TEXT NOT NULL)"
        )
        self.conn.execute(
            "CREATE TABLE events (id TEXT PRIMARY KEY, customer_id TEXT NOT NULL, "
            "type TEXT NOT NULL, at TEXT NOT NULL, data TEXT NOT NULL)"
        )

    def save(self, customer_id: str, workflow: Any, event: dict[str, Any] | None = None) -> None:
        """Write the workflow (and the event that moved it, if any) in one transaction."""
        state = self.serializer.serialize_json(workflow)
        self.conn.execute("BEGIN IMMEDIATE")
        if event is not None:
            self._insert_event(event)
        self.conn.execute(
            "INSERT INTO workflows VALUES (?, ?) ON CONFLICT (customer_id) "
            "DO UPDATE SET state = excluded.state",
            (customer_id, state),
        )
        self.conn.execute("COMMIT")

    def save_event(self, event: dict[str, Any]) -> None:
        """Write an event that moved no workflow (an activation)."""
        self.conn.execute("BEGIN IMMEDIATE")
        self._insert_event(event)
        self.conn.execute("COMMIT")

    def _insert_event(self, event: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT OR IGNORE INTO events VALUES (?, ?, ?, ?, ?)",
            (
                event["id"],
                event["customer_id"],
                event["type"],
                event["at"],
                json.dumps(event["data"]),
            ),
        )

    def load(self, customer_id: str, script_engine: Any) -> Any:
        """A stored workflow, deserialized."""
        row = self.conn.execute(
            "SELECT state FROM workflows WHERE customer_id = ?", (customer_id,)
        ).fetchone()
        workflow = self.serializer.deserialize_json(row[0])
        workflow.script_engine = script_engine
        return workflow

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()


class SpiffHost:
    """What a bank backend embedding SpiffWorkflow would write for this journey: a workflow per
    customer, a heap of pending timers, and the activation lookup behind the gateway."""

    def __init__(self, spec: Any, clock: SteppableClock, store: SpiffStore | None = None) -> None:
        from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

        self.spec = spec
        self.clock = clock
        self.store = store
        self.workflows: dict[str, Any] = {}
        self.activated_at: dict[str, datetime] = {}
        self.timers: list[tuple[datetime, int, str]] = []
        self._seq = itertools.count()
        self.script_engine = PythonScriptEngine(
            environment=TaskDataEnvironment({"card_activated": self.card_activated})
        )

    def card_activated(self, customer_id: str) -> bool:
        """The gateway's condition: was the card activated by now?"""
        at = self.activated_at.get(customer_id)
        return at is not None and at <= self.clock.now()

    def ingest(self, event: dict[str, Any]) -> None:
        """Start a workflow for a card_issued event; record a card_activated event."""
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.util.task import TaskState

        customer = event["customer_id"]
        if event["type"] == "card_activated":
            self.activated_at[customer] = datetime.fromisoformat(event["at"])
            if self.store is not None:
                self.store.save_event(event)
            return
        workflow = BpmnWorkflow(self.spec, script_engine=self.script_engine)
        (start,) = workflow.get_tasks(state=TaskState.READY)
        start.data.update(customer_id=customer, card_id=event["data"]["card_id"])
        workflow.do_engine_steps()
        self.workflows[customer] = workflow
        if self.store is not None:
            self.store.save(customer, workflow, event)
        self._schedule(customer, workflow)

    def _schedule(self, customer: str, workflow: Any) -> None:
        for pending in workflow.waiting_events():
            if pending.event_type == "DurationTimerEventDefinition":
                due = datetime.fromisoformat(pending.value)
                heapq.heappush(self.timers, (due, next(self._seq), customer))

    def fire(self, before: datetime | None = None) -> None:
        """Fire the timers due before ``before`` (all of them when None), earliest first."""
        while self.timers and (before is None or self.timers[0][0] < before):
            due, _, customer = heapq.heappop(self.timers)
            # A timer fires once strictly past its due time (SpiffWorkflow compares with `<`).
            self.clock.set(due + timedelta(microseconds=1))
            workflow = self.workflows[customer]
            workflow.refresh_timers()
            workflow.do_engine_steps()
            if self.store is not None:
                self.store.save(customer, workflow)
            self._schedule(customer, workflow)

    def actions(self, customer: str, workflow: Any | None = None) -> Actions:
        """What the workflow's script tasks recorded."""
        workflow = workflow or self.workflows[customer]
        if not workflow.completed:
            raise EquivalenceError(f"SpiffWorkflow: the workflow of {customer} did not complete")
        return summarize_spiff(workflow.last_task.data["actions"])


def summarize_spiff(records: Sequence[Sequence[Any]]) -> Actions:
    """(welcomes, reminder rounds, tickets) from the BPMN scripts' action records."""
    welcome = sum(1 for r in records if r[0] == "send" and r[2] == "welcome_activation_guide")
    rounds = tuple(r[3] for r in records if r[0] == "send" and r[2] == "activation_reminder")
    tickets = sum(1 for r in records if r[0] == "ticket")
    return welcome, rounds, tickets


def run_spiff(
    spec: Any, stream: Sequence[tuple[datetime, dict[str, Any]]], store: SpiffStore | None
) -> tuple[float, SpiffHost]:
    """Run the stream through SpiffWorkflow; (seconds, host)."""
    clock = SteppableClock(START)
    host = SpiffHost(spec, clock, store)
    with spiff_virtual_time(clock):
        t0 = time.perf_counter()
        for at, event in stream:
            host.fire(before=at)
            clock.set(at)
            host.ingest(event)
        host.fire()
        elapsed = time.perf_counter() - t0
    return elapsed, host


# --------------------------------------------------------------------------- journeydsl


@contextlib.contextmanager
def quiet_engine_logs() -> Iterator[None]:
    """The engine logs each enter/send/exit at INFO; keep warnings only (as tests do), and put
    the host's configuration back afterwards."""
    import structlog

    old = structlog.get_config()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    try:
        yield
    finally:
        structlog.configure(**old)


def run_journeydsl(
    journey: Any,
    people: Sequence[Customer],
    stream: Sequence[tuple[datetime, dict[str, Any]]],
    sqlite_path: Path | None,
    synchronous: str,
) -> tuple[float, dict[str, Actions]]:
    """Run the stream through the Engine (memory stores, or the SQLite store); (seconds,
    actions per customer)."""
    from journeydsl import Engine, Profile
    from journeydsl.runtime.stores.sqlite import SQLiteStore
    from journeydsl.testing import (
        MemoryEventStore,
        MemoryProfileStore,
        MemoryStateStore,
        RecordingChannel,
        RecordingTickets,
    )

    profiles = [
        Profile(c.customer_id, {"has_digital_app": True}, {"email": True}, "Asia/Ho_Chi_Minh")
        for c in people
    ]
    clock = SteppableClock(START)
    email, tickets = RecordingChannel("email"), RecordingTickets()
    stores: dict[str, Any]
    sqlite_store = None
    if sqlite_path is None:
        stores = {
            "events": MemoryEventStore(),
            "profiles": MemoryProfileStore(profiles),
            # Live records, as `journeydsl simulate` runs (SpiffWorkflow, in memory, also
            # works on its live workflow objects).
            "state": MemoryStateStore(isolated=False),
        }
    else:
        sqlite_store = SQLiteStore(sqlite_path, synchronous=synchronous)  # type: ignore[arg-type]
        sqlite_store.add_profiles(profiles)
        stores = {"events": sqlite_store, "profiles": sqlite_store, "state": sqlite_store}
    engine = Engine([journey], clock=clock, channels={"email": email}, tickets=tickets, **stores)

    def tick_until(limit: datetime | None) -> None:
        while (wake := engine.next_wakeup()) is not None and (limit is None or wake <= limit):
            clock.set(wake)
            engine.tick(wake)
            after = engine.next_wakeup()
            if after is not None and after <= wake:
                raise RuntimeError(f"journeydsl: work due at {wake} was not done when ticked")

    try:
        t0 = time.perf_counter()
        for at, event in stream:
            tick_until(at)
            clock.set(at)
            engine.ingest(event)
        tick_until(None)
        elapsed = time.perf_counter() - t0
    finally:
        if sqlite_store is not None:
            sqlite_store.close()
    welcomes: Counter[str] = Counter()
    rounds: dict[str, list[int]] = {c.customer_id: [] for c in people}
    for m in email.delivered:
        if m.template == "welcome_activation_guide":
            welcomes[m.customer_id] += 1
        else:
            rounds[m.customer_id].append(int(m.params["round"]))
    ticket_count = Counter(t.customer_id for t in tickets.opened)
    actions = {
        c.customer_id: (
            welcomes[c.customer_id],
            tuple(rounds[c.customer_id]),
            ticket_count[c.customer_id],
        )
        for c in people
    }
    return elapsed, actions


def compile_journey() -> Any:
    """The journey, compiled once (refuses to run on diagnostics)."""
    from journeydsl import compile_file

    compiled = compile_file(JOURNEY, root=ROOT)  # it uses the example catalogs
    if not compiled.ok or compiled.journey is None:
        raise SystemExit(f"{JOURNEY} does not compile: {compiled.diagnostics}")
    return compiled.journey


# --------------------------------------------------------------------------- the comparison


def check_equivalence(
    people: Sequence[Customer],
    spiff: Callable[[str], Actions],
    ours: dict[str, Actions],
    what: str,
) -> dict[str, int]:
    """Compare both engines with the expected actions for every customer; raise on any
    difference. Returns the action totals."""
    wrong = []
    for c in people:
        want, got_spiff, got_ours = expected(c), spiff(c.customer_id), ours[c.customer_id]
        if not want == got_spiff == got_ours:
            wrong.append(
                f"  {c.customer_id} (issued {c.issued.isoformat()}, activated "
                f"{c.activated.isoformat() if c.activated else 'never'}): expected {want}, "
                f"SpiffWorkflow {got_spiff}, journeydsl {got_ours}"
            )
    if wrong:
        more = f"\n  ... and {len(wrong) - 10} more" if len(wrong) > 10 else ""
        raise EquivalenceError(
            f"{what}: SpiffWorkflow and journeydsl disagree for {len(wrong)} of {len(people)} "
            "customers (welcomes, reminder rounds, tickets):\n" + "\n".join(wrong[:10]) + more
        )
    totals = [expected(c) for c in people]
    return {
        "welcome": sum(t[0] for t in totals),
        "reminders": sum(len(t[1]) for t in totals),
        "tickets": sum(t[2] for t in totals),
    }


def measure(
    mode: str,
    people: Sequence[Customer],
    stream: Sequence[tuple[datetime, dict[str, Any]]],
    runs: int,
    synchronous: str,
) -> dict[str, Any]:
    """Run both engines ``runs`` times (alternating) in one mode and compare them."""
    spec, journey = load_spec(), compile_journey()
    spiff_s: list[float] = []
    ours_s: list[float] = []
    totals: dict[str, int] = {}
    for _ in range(runs):
        with tempfile.TemporaryDirectory(prefix="spiff_peer_") as tmp:
            store = (
                None if mode == "memory" else SpiffStore(Path(tmp) / "spiff.sqlite", synchronous)
            )
            try:
                seconds, host = run_spiff(spec, stream, store)
                if store is not None:
                    verify_stored(store, host, people)
            finally:
                if store is not None:
                    store.close()
            spiff_s.append(seconds)
            db = None if mode == "memory" else Path(tmp) / "journeydsl.sqlite"
            seconds, ours = run_journeydsl(journey, people, stream, db, synchronous)
            ours_s.append(seconds)
        totals = check_equivalence(people, host.actions, ours, mode)
    n = len(people)
    spiff_us, ours_us = statistics.median(spiff_s) / n * 1e6, statistics.median(ours_s) / n * 1e6
    ratio = spiff_us / ours_us
    return {
        "benchmark": "spiff_peer",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": mode,
        "synchronous": synchronous if mode == "persisted" else None,
        "customers": n,
        "events": len(stream),
        "runs": runs,
        "equivalent": True,
        "actions": totals,
        "spiff_us_per_instance": round(spiff_us, 1),
        "spiff_us_per_instance_min": round(min(spiff_s) / n * 1e6, 1),
        "journeydsl_us_per_instance": round(ours_us, 1),
        "journeydsl_us_per_instance_min": round(min(ours_s) / n * 1e6, 1),
        "ratio": round(ratio, 2),
        "target_ratio": TARGET_RATIO[mode],
        "target_met": ratio >= TARGET_RATIO[mode],
        "spiffworkflow": importlib.metadata.version("SpiffWorkflow"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}, {os.cpu_count()} cores",
    }


def verify_stored(store: SpiffStore, host: SpiffHost, people: Sequence[Customer]) -> None:
    """The persisted workflows are real: a sample deserializes to the same actions."""
    step = max(len(people) // 50, 1)
    for c in people[::step]:
        restored = store.load(c.customer_id, host.script_engine)
        if host.actions(c.customer_id, restored) != host.actions(c.customer_id):
            raise EquivalenceError(f"the stored SpiffWorkflow state of {c.customer_id} differs")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark and return the result records."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=1, help="runs per engine and mode (median)")
    parser.add_argument("--seed", type=int, default=6)
    parser.add_argument("--activation-rate", type=float, default=0.6)
    parser.add_argument(
        "--synchronous",
        choices=("FULL", "NORMAL"),
        default="FULL",
        help="PRAGMA synchronous of both SQLite databases in the persisted mode",
    )
    parser.add_argument("--mode", choices=("memory", "persisted", "both"), default="both")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_CUSTOMERS} customers, 1 run")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    try:
        import SpiffWorkflow  # noqa: F401
    except ImportError:
        raise SystemExit("spiff_peer needs SpiffWorkflow 3.x: pip install -e '.[bench]'") from None
    customers, runs = (SMOKE_CUSTOMERS, 1) if args.smoke else (args.customers, args.runs)
    people = population(customers, args.seed, args.activation_rate)
    stream = event_stream(people)
    modes = ("memory", "persisted") if args.mode == "both" else (args.mode,)
    records = []
    with quiet_engine_logs():
        for mode in modes:
            record = measure(mode, people, stream, runs, args.synchronous)
            record.update(seed=args.seed, activation_rate=args.activation_rate, smoke=args.smoke)
            print(json.dumps(record), flush=True)
            if not args.no_save:
                RESULTS.mkdir(parents=True, exist_ok=True)
                with (RESULTS / "spiff_peer.jsonl").open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
            records.append(record)
    return records


if __name__ == "__main__":
    sys.exit(0 if main() else 1)
