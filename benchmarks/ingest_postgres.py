"""Benchmark (issue 14): live ingest by 1, 2 and 4 ``journeydsl worker`` processes sharing one
PostgreSQL database, against the SQLite figure of benchmarks/ingest_sqlite.py in the same run.

    python benchmarks/ingest_postgres.py [--customers 2000] [--workers 1,2,4] [--dsn DSN]
                                         [--rate 0.5] [--seconds 10] [--smoke] [--no-save]

The stream is ingest_sqlite's (ten events per customer of the onboarding journey: issued,
activated, app, transactions, opens; the same generator and seed), run live: each event's time is
rewritten to the wall clock when it is inserted, and the workers run on the system clock
(``--clock system``), as a bank's service would. For each worker count, on a new database:

1. the profiles are loaded, ``N`` workers are started (``journeydsl worker`` processes, with
   ``--metrics-port``) and the benchmark waits until they hold every bucket between them;
2. **throughput**: the whole stream is inserted into the ``inbox`` table at once (what
   producers do, ``INSERT … ON CONFLICT DO NOTHING``), and the time until every event is
   committed by a worker (its row in ``events``) gives events/s;
3. **latency**: then new transactions are inserted at ``--rate`` times that throughput, in
   small batches every 10 ms, for ``--seconds``; a poller sees each event's row appear in
   ``events`` (every 2 ms) and the latency is from the producer's insert to then (p50, p99):
   from the inbox to the committed step, its instances and outbox entries;
4. the workers are stopped with SIGTERM (they drain), and their ``/metrics`` read before.

The actions files are written under /dev/shm when it exists (a tmpfs: the file sink's fsync
is free), so that the figures are the engine's and the database's, as ingest_sqlite's counting
channel makes them. The server's ``fsync`` and ``synchronous_commit`` settings are recorded: a
throwaway cluster started here runs with ``fsync=off`` (as the tests' does), unlike the SQLite
figure's synchronous commits on disk: say so when comparing.

It needs a server: ``--dsn`` (a superuser DSN; a database is created and dropped per run), else
``JOURNEYDSL_TEST_DSN``, else a throwaway cluster started here (tests/pgserver.py).

Prints a table and one JSON line per worker count, and appends them to
benchmarks/results/ingest_postgres.jsonl.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "benchmarks" / "results"
NAME = "ingest_postgres"
JOURNEY = ROOT / "examples" / "onboarding_new_cardholder.journey"


def _sqlite_bench() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "ingest_sqlite", ROOT / "benchmarks" / "ingest_sqlite.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["ingest_sqlite"] = module
    spec.loader.exec_module(module)
    return module


@contextlib.contextmanager
def _server(dsn: str | None) -> Iterator[Any]:
    from tests.pgserver import PgServer, start_cluster

    dsn = dsn or os.environ.get("JOURNEYDSL_TEST_DSN")
    server = PgServer(dsn) if dsn else start_cluster()
    try:
        yield server
    finally:
        server.stop()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


class Workers:
    """``count`` ``journeydsl worker`` processes on ``dsn``, live, with metrics."""

    def __init__(self, dsn: str, count: int, actions: Path, lease: str) -> None:
        self.procs: list[subprocess.Popen[str]] = []
        self.ports: list[int] = []
        for n in range(count):
            argv = [sys.executable, "-m", "journeydsl", "worker", str(JOURNEY), "--db", dsn]
            argv += ["--actions", str(actions.with_name(f"{actions.stem}-{n}.jsonl"))]
            argv += ["--clock", "system", "--lease", lease, "--metrics-port", "0"]
            proc = subprocess.Popen(argv, env=_env(), stderr=subprocess.PIPE, text=True)
            assert proc.stderr is not None
            line = proc.stderr.readline()
            found = re.search(r"metrics on http://127\.0\.0\.1:(\d+)/metrics", line)
            if not found:
                raise RuntimeError(f"worker {n} did not start: {line}{proc.stderr.read()}")
            self.ports.append(int(found.group(1)))
            self.procs.append(proc)

    def metrics(self) -> list[dict[str, float]]:
        """Each worker's /metrics (unlabelled samples and labelled ones, by their text)."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families

        out = []
        for port in self.ports:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as page:
                text = page.read().decode()
            got: dict[str, float] = {}
            for family in text_string_to_metric_families(text):
                for s in family.samples:
                    labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                    got[s.name + (f"{{{labels}}}" if labels else "")] = s.value
            out.append(got)
        return out

    def stop(self) -> list[int]:
        """SIGTERM each (they drain), and their exit codes."""
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                proc.communicate(timeout=120)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            codes.append(proc.returncode)
        return codes


def _wait_for_leases(conn: Any, buckets: int, workers: int, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        row = conn.execute(
            "SELECT count(*), count(DISTINCT owner) FROM leases "
            "WHERE owner IS NOT NULL AND expires_at > clock_timestamp()"
        ).fetchone()
        if row[0] == buckets and row[1] == workers:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the workers hold {row[0]} of {buckets} buckets ({row[1]} owners)")
        time.sleep(0.1)


def _rows(events: list[dict[str, Any]], buckets: int) -> list[tuple[Any, ...]]:
    """Inbox rows, each event's time set to now (in order: the stream's order is kept)."""
    from journeydsl.runtime.stores.postgres import bucket_of

    now = datetime.now(UTC)
    rows = []
    for ev in events:
        ev = {**ev, "at": now.isoformat()}
        rows.append((ev["id"], bucket_of(ev["customer_id"], buckets), now, json.dumps(ev)))
    return rows


def _insert(conn: Any, rows: list[tuple[Any, ...]]) -> None:
    with conn.transaction(), conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO inbox (id, bucket, at, body) VALUES (%s, %s, %s, %s) "
            "ON CONFLICT (id) DO NOTHING",
            rows,
        )


def _count(conn: Any) -> int:
    row = conn.execute(
        "SELECT (SELECT count(*) FROM events) + (SELECT count(*) FROM quarantine)"
    ).fetchone()
    return int(row[0])


def _throughput(conn: Any, events: list[dict[str, Any]], buckets: int) -> dict[str, Any]:
    rows = _rows(events, buckets)
    before = _count(conn)
    started = time.perf_counter()
    _insert(conn, rows)
    inserted = time.perf_counter()
    while _count(conn) < before + len(rows):
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    return {
        "events": len(rows),
        "insert_s": round(inserted - started, 2),
        "seconds": round(elapsed, 2),
        "events_per_s": round(len(rows) / elapsed),
    }


def _transactions(customers: int, n: int, seed: int) -> Iterator[dict[str, Any]]:
    rng = random.Random(seed)
    for k in range(n):
        cid = f"c-{rng.randrange(1, customers + 1):07d}"
        yield {
            "id": f"lat-{k}",
            "customer_id": cid,
            "type": "transaction",
            "at": "",
            "data": {
                "amount": rng.randrange(50, 2000) * 1000,
                "currency": "VND",
                "merchant": "Shopee",
                "category": "shopping",
            },
        }


def _latency(
    dsn: str, customers: int, buckets: int, rate: float, seconds: float, seed: int
) -> dict[str, Any]:
    """Insert transactions at ``rate`` events/s for ``seconds``; when each shows in ``events``."""
    import psycopg

    sent: dict[str, float] = {}
    seen: dict[str, float] = {}
    total = max(1, int(rate * seconds))
    done = threading.Event()

    def poll() -> None:
        # (by id, not by a rising seq: two workers' transactions commit out of seq order)
        with psycopg.connect(dsn, autocommit=True) as conn:
            while not (done.is_set() and len(seen) >= len(sent)):
                waiting = [k for k in list(sent) if k not in seen]
                found = conn.execute(
                    "SELECT id FROM events WHERE id = ANY(%s)", (waiting,)
                ).fetchall()
                now = time.perf_counter()
                for (eid,) in found:
                    seen.setdefault(eid, now)
                if done.is_set() and time.perf_counter() - deadline[0] > 60:
                    return  # (a minute after the last insert: give up on the rest)
                time.sleep(0.002)

    deadline = [0.0]
    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    events = list(_transactions(customers, total, seed))
    tick = 0.01
    per_tick = max(1, round(rate * tick))
    with psycopg.connect(dsn, autocommit=True) as conn:
        start = time.perf_counter()
        for i in range(0, total, per_tick):
            target = start + (i / per_tick) * tick
            pause = target - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            chunk = events[i : i + per_tick]
            at = time.perf_counter()
            _insert(conn, _rows(chunk, buckets))
            for ev in chunk:
                sent[ev["id"]] = at
        deadline[0] = time.perf_counter()
        done.set()
    poller.join()
    lat = sorted(seen[k] - sent[k] for k in sent if k in seen)
    if not lat:
        return {"latency_events": 0}
    return {
        "latency_rate": round(rate),
        "latency_events": len(lat),
        "latency_lost": len(sent) - len(lat),
        "latency_ms_p50": round(statistics.median(lat) * 1000, 1),
        "latency_ms_p99": round(lat[min(len(lat) - 1, int(len(lat) * 0.99))] * 1000, 1),
        "latency_ms_max": round(lat[-1] * 1000, 1),
    }


def run_workers(
    server: Any, workers: int, customers: int, buckets: int, args: argparse.Namespace
) -> dict[str, Any]:
    """One measurement with ``workers`` processes on a new database."""
    import psycopg

    from journeydsl.runtime.stores.postgres import PostgresStore

    bench = _sqlite_bench()
    events = list(bench.read_stream(bench.stream_file(customers, args.seed)))
    shm = Path("/dev/shm")
    dsn = server.create_database()
    try:
        with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
            profiles = Path(tmp) / "profiles.jsonl"
            profiles.write_text(
                "".join(
                    json.dumps(bench.profile_of(args.seed, n)) + "\n"
                    for n in range(1, customers + 1)
                )
            )
            with PostgresStore(dsn, buckets=buckets) as store:
                store.load_profiles_jsonl(profiles)
            with psycopg.connect(dsn, autocommit=True) as conn:
                settings = {
                    k: conn.execute(f"SHOW {k}").fetchone()[0]  # type: ignore[index]
                    for k in ("fsync", "synchronous_commit", "server_version")
                }
                procs = Workers(dsn, workers, Path(tmp) / "actions.jsonl", args.lease)
                try:
                    _wait_for_leases(conn, buckets, workers)
                    measured = _throughput(conn, events, buckets)
                    rate = args.rate * measured["events_per_s"]
                    latency = _latency(dsn, customers, buckets, rate, args.seconds, args.seed)
                    metrics = procs.metrics()
                finally:
                    codes = procs.stop()
    finally:
        server.drop_database(dsn)
    return {
        "workers": workers,
        "customers": customers,
        "buckets": buckets,
        **measured,
        **latency,
        "fenced": sum(m.get("journeydsl_worker_fencing_rejections_total", 0) for m in metrics),
        "exit_codes": codes,
        "server": settings,
    }


def _sqlite_figure(customers: int, seed: int) -> dict[str, Any]:
    """benchmarks/ingest_sqlite.py on the same stream, in this run (its own process)."""
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "ingest_sqlite.py"), "--customers",
         str(customers), "--seed", str(seed), "--no-save"],
        env=_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    record = json.loads(done.stdout.strip().splitlines()[-1])
    return {
        k: record[k]
        for k in ("events", "events_per_s", "latency_ms_p50", "latency_ms_p99")
        if k in record
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark; return the records printed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--workers", default="1,2,4", help="worker counts, comma-separated")
    parser.add_argument("--buckets", type=int, default=64)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--dsn", help="a superuser DSN (else JOURNEYDSL_TEST_DSN, else a cluster)")
    parser.add_argument(
        "--rate", type=float, default=0.5, help="latency load: this times the throughput"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="latency phase length")
    parser.add_argument("--lease", default="10s")
    parser.add_argument("--smoke", action="store_true", help="CI size: 40 customers, 1 worker")
    parser.add_argument("--no-sqlite", action="store_true", help="skip the SQLite figure")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers, args.workers, args.seconds, args.buckets = 40, "1", 1.0, 8
    counts = [int(n) for n in args.workers.split(",")]
    records: list[dict[str, Any]] = []
    common = {
        "benchmark": NAME,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
    }
    sqlite = {} if args.no_sqlite else _sqlite_figure(args.customers, args.seed)
    with _server(args.dsn) as server:
        for n in counts:
            record = {**common, **run_workers(server, n, args.customers, args.buckets, args)}
            if sqlite:
                record["sqlite"] = sqlite
            print(json.dumps(record), flush=True)
            records.append(record)
    _table(records, sqlite)
    if not args.no_save:
        RESULTS.mkdir(parents=True, exist_ok=True)
        with (RESULTS / f"{NAME}.jsonl").open("a", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record) + "\n")
    return records


def _table(records: list[dict[str, Any]], sqlite: dict[str, Any]) -> None:
    lines = [f"{'store':<22}{'events/s':>10}{'p50 ms':>9}{'p99 ms':>9}{'at rate/s':>11}"]
    if sqlite:
        lines.append(
            f"{'SQLite (1 process)':<22}{sqlite['events_per_s']:>10,}"
            f"{sqlite.get('latency_ms_p50', '-'):>9}{sqlite.get('latency_ms_p99', '-'):>9}"
            f"{'-':>11}"
        )
    for r in records:
        label = f"PostgreSQL, {r['workers']} worker(s)"
        lines.append(
            f"{label:<22}{r['events_per_s']:>10,}"
            f"{r.get('latency_ms_p50', '-'):>9}{r.get('latency_ms_p99', '-'):>9}"
            f"{r.get('latency_rate', '-'):>11}"
        )
    print("\n".join(lines), file=sys.stderr)


if __name__ == "__main__":
    main()
