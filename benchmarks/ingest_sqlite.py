"""Benchmark (issue 6, yardstick 4): live ingest on the SQLite store, with durable commits.

    python benchmarks/ingest_sqlite.py [--customers 100000] [--batch 250] [--smoke]

The Engine runs the onboarding journey over one :class:`SQLiteStore` file (WAL,
``synchronous=FULL``: a commit returns only once it is on disk) and ingests a recorded stream of
ten events per customer (1,000,000 for 100,000 customers): card issued, activated, app installed,
transactions and message opens, spread over two months. The stream is generated deterministically
(``--seed``) and cached under benchmarks/results/. As ``journeydsl run`` does, the host moves the
clock to each event's time, fires what is due before it (timers, deliveries), then ingests it.

Commits are grouped (:meth:`SQLiteStore.batch`, a group commit: one sync to disk per batch; a
crash rolls the whole batch back and the replay redoes it): a batch closes after ``--batch-ms``
milliseconds or ``--batch`` events, whichever comes first, as a service that acknowledges its
input every few milliseconds would. ``--batch 1`` commits every event on its own, as
``journeydsl run`` does.

Reported: events/s sustained over the whole stream, and the latency from ingest to outbox of
each event: from the moment the host takes the event until its state and outbox entries are
durably committed (the end of its batch), p50 and p99. Targets (issue 6): at least 5,000
events/s and p99 under 50 ms.

Prints one JSON line and appends it to benchmarks/results/ingest_sqlite.jsonl.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
JOURNEY = ROOT / "examples" / "onboarding_new_cardholder.journey"
RESULTS = ROOT / "benchmarks" / "results"
NAME = "ingest_sqlite"
EVENTS_PER_CUSTOMER = 10
STREAM_FORMAT = 1  # bump when the generator changes, so cached streams are not reused
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
START = datetime(2026, 1, 5, tzinfo=TZ)
_MERCHANTS = [
    ("Shopee", "shopping", 350_000),
    ("Highlands Coffee", "dining", 120_000),
    ("Co.opmart", "groceries", 600_000),
    ("Petrolimex", "fuel", 300_000),
    ("Vietnam Airlines", "travel", 3_500_000),
    ("EVN", "utilities", 800_000),
]


# --------------------------------------------------------------------------- the stream


def _customer_events(seed: int, number: int) -> list[tuple[datetime, dict[str, Any]]]:
    """Ten events of one customer: issued; activated (three in four customers); maybe the
    app; then transactions once activated, message opens otherwise."""
    cid = f"c-{number:07d}"
    rng = random.Random(f"{seed}:{cid}")
    out: list[tuple[datetime, dict[str, Any]]] = []

    def add(at: datetime, etype: str, data: dict[str, Any]) -> None:
        ev = {
            "id": f"{cid}:{len(out) + 1}",
            "customer_id": cid,
            "type": etype,
            "at": at.isoformat(),
            "data": data,
        }
        out.append((at, ev))

    card = f"k-{cid}"
    issued = START + timedelta(days=rng.randrange(10), seconds=rng.randrange(8 * 3600, 18 * 3600))
    add(issued, "card_issued", {"card_id": card, "product": rng.choice(["classic", "gold"])})
    activated = None
    if rng.random() < 0.75:
        activated = issued + timedelta(minutes=rng.randrange(30, 14 * 24 * 60))
        add(activated, "card_activated", {"card_id": card})
    if rng.random() < 0.3:
        add(issued + timedelta(minutes=rng.randrange(10, 20 * 24 * 60)), "app_installed", {})
    while len(out) < EVENTS_PER_CUSTOMER:
        if activated is not None:
            name, category, median = rng.choice(_MERCHANTS)
            amount = int(median * rng.lognormvariate(0, 0.6)) // 1000 * 1000
            at = activated + timedelta(minutes=rng.randrange(5, 40 * 24 * 60))
            data = {"amount": amount, "currency": "VND", "merchant": name, "category": category}
            add(at, "transaction", data)
        else:
            at = issued + timedelta(minutes=rng.randrange(5, 20 * 24 * 60))
            data = {
                "message_id": f"m-{cid}-{len(out)}",
                "journey": "onboarding_new_cardholder",
                "node": "welcome",
                "template": "welcome_activation_guide",
                "channel": "email",
            }
            add(at, "message_opened", data)
    return out


def profile_of(seed: int, number: int) -> dict[str, Any]:
    """A customer's profile (the DESIGN.md contract form)."""
    cid = f"c-{number:07d}"
    rng = random.Random(f"{seed}:{cid}:profile")
    consent = {c: rng.random() < p for c, p in (("email", 0.9), ("sms", 0.97), ("zns", 0.8))}
    app = rng.random() < 0.5
    consent["push"] = app and rng.random() < 0.8
    return {
        "customer_id": cid,
        "attributes": {"has_digital_app": app, "segment": "mass"},
        "consent": consent,
        "timezone": "Asia/Ho_Chi_Minh",
    }


def stream_file(customers: int, seed: int) -> Path:
    """The recorded stream (JSON Lines, by time), generated once and cached."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"ingest_stream_v{STREAM_FORMAT}_{customers}_{seed}.jsonl"
    if path.exists():
        return path
    events: list[tuple[datetime, int, dict[str, Any]]] = []
    for n in range(1, customers + 1):
        for at, ev in _customer_events(seed, n):
            events.append((at, n, ev))
    events.sort(key=lambda item: (item[0], item[1]))
    partial = path.with_suffix(".tmp")
    with partial.open("w", encoding="utf-8") as fh:
        for _, _, ev in events:
            fh.write(json.dumps(ev) + "\n")
    partial.replace(path)
    return path


def read_stream(path: Path) -> Iterator[dict[str, Any]]:
    """The events of a stream file, in order."""
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


# --------------------------------------------------------------------------- the run


class CountingChannel:
    """A gateway double that deduplicates on the idempotency key and keeps only counts (a
    million messages' bodies would measure the benchmark's memory, not the engine)."""

    def __init__(self) -> None:
        from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus

        self.keys: set[str] = set()
        self.ok = DeliveryResult(DeliveryStatus.DELIVERED)

    def send(self, message: Any) -> Any:
        """Channel protocol."""
        self.keys.add(message.idempotency_key)
        return self.ok

    def open(self, ticket: Any) -> Any:
        """TicketSink protocol."""
        self.keys.add(ticket.idempotency_key)
        return self.ok

    def __call__(self, key: str, customer_id: str, params: Any, at: datetime) -> Any:
        """ActionHandler protocol."""
        self.keys.add(key)
        return self.ok


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def run(
    customers: int,
    seed: int,
    batch: int,
    db: Path,
    progress: bool = False,
    batch_ms: float = 20.0,
    count: bool = False,
) -> dict[str, Any]:
    """Ingest the stream into a fresh store at ``db``; return the measurements (with ``count``,
    also the SQL statements, commits and pages written to the WAL per event)."""
    import structlog

    from journeydsl.compiler import compile_file
    from journeydsl.runtime.engine import Engine
    from journeydsl.runtime.stores.sqlite import SQLiteStore, parse_profile

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    journey = compile_file(JOURNEY).journey
    assert journey is not None
    path = stream_file(customers, seed)
    total = customers * EVENTS_PER_CUSTOMER
    store = SQLiteStore(db, synchronous="FULL")
    try:
        store.add_profiles(parse_profile(profile_of(seed, n)) for n in range(1, customers + 1))
        clock = _Clock(START)
        sink = CountingChannel()
        engine = Engine(
            [journey],
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            channels=dict.fromkeys(("email", "sms", "zns", "push"), sink),
            tickets=sink,
            actions={"annual_fee_waiver": sink},
        )
        statements: list[str] = []
        if count:  # (the WAL keeps every page written: its frames count them)
            store._conn.execute("PRAGMA wal_autocheckpoint=0")
            store._conn.set_trace_callback(statements.append)
        latencies: list[float] = []
        waiting: list[float] = []  # arrival times of the events of the open batch
        done = 0
        cpu_start = time.process_time()
        t_start = time.perf_counter()
        events = read_stream(path)
        batches = 0
        report = max(total // 20, 1)
        while True:
            with store.batch():
                opened = time.perf_counter()
                for raw in events:
                    arrived = time.perf_counter()
                    at = datetime.fromisoformat(raw["at"])
                    while (wake := engine.next_wakeup()) is not None and wake <= at:
                        clock.current = wake
                        engine.tick(wake)
                    clock.current = max(clock.current, at)
                    engine.ingest(raw)
                    waiting.append(arrived)
                    if len(waiting) >= batch or (arrived - opened) * 1000 >= batch_ms:
                        break
            if not waiting:
                break
            committed = time.perf_counter()
            latencies.extend(committed - t for t in waiting)
            done += len(waiting)
            batches += 1
            if progress and (done - len(waiting)) // report != done // report:
                rate = done / (committed - t_start)
                print(f"  {done:,}/{total:,} events, {rate:,.0f}/s", file=sys.stderr, flush=True)
            waiting.clear()
        elapsed = time.perf_counter() - t_start
        cpu = time.process_time() - cpu_start
        # (A count in SQL: the store's public reads would parse 100,000 records to count them.)
        store._conn.set_trace_callback(None)
        instances = store._conn.execute("SELECT count(*) FROM instances").fetchone()[0]
        counted = _counts(store, statements, done) if count else {}
    finally:
        store.close()
    latencies.sort()
    return {
        "events": done,
        "seconds": round(elapsed, 2),
        "events_per_s": round(done / elapsed),
        # (CPU time of this process, user and system: what a loaded machine changes least)
        "cpu_us_per_event": round(cpu / max(done, 1) * 1e6),
        "batches": batches,
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 2),
        "latency_ms_p99": round(latencies[int(len(latencies) * 0.99)] * 1000, 2),
        "latency_ms_max": round(latencies[-1] * 1000, 2),
        "instances": instances,
        "effects_delivered": len(sink.keys),
        "db_mb": round(db.stat().st_size / 2**20, 1),
        **counted,
    }


def run_memory(customers: int, seed: int) -> dict[str, Any]:
    """The same stream and host loop over the in-memory stores: what the engine alone costs
    per event (CPU time), with nothing written to disk."""
    import structlog

    from journeydsl.compiler import compile_file
    from journeydsl.runtime.engine import Engine
    from journeydsl.runtime.stores.sqlite import parse_profile
    from journeydsl.testing import MemoryEventStore, MemoryProfileStore, MemoryStateStore

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    journey = compile_file(JOURNEY).journey
    assert journey is not None
    events = list(read_stream(stream_file(customers, seed)))
    profiles = [parse_profile(profile_of(seed, n)) for n in range(1, customers + 1)]
    clock = _Clock(START)
    sink = CountingChannel()
    engine = Engine(
        [journey],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore(profiles),
        state=MemoryStateStore(),
        clock=clock,
        channels=dict.fromkeys(("email", "sms", "zns", "push"), sink),
        tickets=sink,
        actions={"annual_fee_waiver": sink},
    )
    cpu = time.process_time()
    for raw in events:
        at = datetime.fromisoformat(raw["at"])
        while (wake := engine.next_wakeup()) is not None and wake <= at:
            clock.current = wake
            engine.tick(wake)
        clock.current = max(clock.current, at)
        engine.ingest(raw)
    cpu = time.process_time() - cpu
    return {
        "events": len(events),
        "engine_cpu_us_per_event": round(cpu / len(events) * 1e6),
        "effects_delivered": len(sink.keys),
    }


def _counts(store: Any, statements: list[str], events: int) -> dict[str, Any]:
    """Statements, commits and WAL pages per event. The WAL was never checkpointed: each of
    its frames is one page a transaction wrote, and a transaction's last frame (a commit frame,
    a sync to disk) carries the database's size in its header."""
    page = store._conn.execute("PRAGMA page_size").fetchone()[0]
    frames = commits = 0
    with open(store.path + "-wal", "rb") as wal:
        wal.seek(32)  # (the WAL header)
        while len(header := wal.read(24)) == 24:
            frames += 1
            commits += int.from_bytes(header[4:8], "big") != 0
            wal.seek(page, 1)
    return {
        "statements_per_event": round(len(statements) / events, 2),
        "commits_per_event": round(commits / events, 3),
        "wal_pages_per_event": round(frames / events, 2),
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; return the record printed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--batch", type=int, default=1000, help="most events per transaction")
    parser.add_argument(
        "--batch-ms", type=float, default=20.0, help="most milliseconds per transaction"
    )
    parser.add_argument("--smoke", action="store_true", help="CI size: 200 customers")
    parser.add_argument("--progress", action="store_true")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    parser.add_argument(
        "--memory",
        action="store_true",
        help="run the engine over the in-memory stores instead: its own CPU time per event",
    )
    parser.add_argument(
        "--count",
        action="store_true",
        help="also count SQL statements, commits and WAL pages per event (slower: not timed)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers = 200
    if args.memory:
        record = {"benchmark": f"{NAME}_memory", "customers": args.customers, "seed": args.seed}
        print(json.dumps({**record, **run_memory(args.customers, args.seed)}), flush=True)
        return record
    with tempfile.TemporaryDirectory(dir=RESULTS if RESULTS.exists() else None) as tmp:
        db = Path(tmp) / "bench.sqlite"
        measured = run(
            args.customers,
            args.seed,
            max(args.batch, 1),
            db,
            args.progress,
            args.batch_ms,
            args.count,
        )
    record: dict[str, Any] = {
        "benchmark": NAME,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": args.customers,
        "seed": args.seed,
        "batch": args.batch,
        "batch_ms": args.batch_ms,
        "synchronous": "FULL",
        **measured,
        "target_events_per_s": 5000,
        "target_latency_ms_p99": 50,
        "smoke": args.smoke,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }
    print(json.dumps(record), flush=True)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with (RESULTS / f"{NAME}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
