"""Benchmark: what spreading a simulation costs, and a projection for more cores.

    python benchmarks/simulate_spread.py [--customers 20000] [--chunk 1000] [--days 90]
                                         [--seed 1] [--no-dask] [--smoke] [--no-save]

Simulates examples/onboarding_new_cardholder.journey with examples/behaviour/onboarding.yaml
(the scale benchmark's run, text report) and measures, in one JSON line appended to
benchmarks/results/simulate_spread.jsonl:

* ``part``: each part of ``--chunk`` customers run alone in this process (the unit that
  ``--workers``, ``--part`` and ``--executor dask`` hand out): wall and CPU seconds, median,
  min and max, and per customer;
* ``part_file``: the size of a part file of one part (text report: counts only), the time to
  write it, and the time to read and merge all the parts' files into the report;
* ``job_start_s``: a fresh ``journeydsl simulate --part 1/1`` of one customer (interpreter
  start-up, imports, compiling the journey): the fixed cost of each scheduler job;
* ``workers``: the whole run with 1 and 2 worker processes, and the efficiency
  ``wall(1) / (2 · wall(2))``;
* ``dask``: the whole run on a local Dask cluster of 2 worker processes, and the cost of a
  no-op task (skipped with ``--no-dask`` or without the ``distributed`` package);
* ``projection_1m_16_cores_s``: 1,000,000 customers on 16 cores from the measured per-part
  cost: ``job_start + parts · part_cost / (16 · efficiency) + merge`` (the merge scaled from
  the measured one), with the part's median wall time and its median CPU time, each with the
  measured 2-worker efficiency and with 1.

Wall times on a shared machine are noisy: the figures are one run's. ``--smoke`` runs a few
hundred customers (for the test suite, which never asserts timings).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import json
import logging
import math
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from journeydsl.compiler import compile_file  # noqa: E402
from journeydsl.simulate.behaviour import load_behaviour  # noqa: E402
from journeydsl.simulate.parallel import (  # noqa: E402
    Context,
    Merger,
    Plan,
    _run_part,
    plan_tasks,
    run_plan,
)
from journeydsl.simulate.parts import (  # noqa: E402
    RUN_KEYS,
    merge_parts,
    parse_part,
    part_document,
)

JOURNEY = ROOT / "examples" / "onboarding_new_cardholder.journey"
BEHAVIOUR = ROOT / "examples" / "behaviour" / "onboarding.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "simulate_spread.jsonl"
SMOKE_SIZE = 300
PROJECTED = {"customers": 1_000_000, "cores": 16}
#: The ``run`` object of the part files written here (what the merge reads of it).
_RUN: dict[str, Any] = {**dict.fromkeys(RUN_KEYS), "journeys": []}


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": round(statistics.median(values), 4),
        "min": round(min(values), 4),
        "max": round(max(values), 4),
    }


def _load_avg() -> float:
    with contextlib.suppress(OSError):
        return float(Path("/proc/loadavg").read_text().split()[0])
    return -1.0


def _parts(plan: Plan, context: Context) -> dict[str, Any]:
    """Each task run alone, timed; then its part file written, and all of them merged."""
    walls, cpus, docs = [], [], []
    tasks = plan_tasks(plan, context, 1)
    for task in tasks:
        w, c = time.perf_counter(), time.process_time()
        done = _run_part(context, plan, task)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
        merger = Merger()
        merger.add(done[0])
        w = time.perf_counter()
        text = json.dumps(part_document(_RUN, (len(docs) + 1, len(tasks)), [merger]))
        docs.append((text, time.perf_counter() - w))
    w = time.perf_counter()
    files = [parse_part(f"part-{i}.json", text) for i, (text, _) in enumerate(docs, 1)]
    merge_parts(files)[0].result(context.journeys[0], plan)
    merge_s = time.perf_counter() - w
    size = statistics.median(t.size for t in tasks)
    return {
        "part": {
            "parts": len(tasks),
            "customers_per_part": size,
            "wall_s": _stats(walls),
            "cpu_s": _stats(cpus),
            "wall_us_per_customer": round(statistics.median(walls) / size * 1e6),
        },
        "part_file": {
            "bytes": _stats([float(len(text)) for text, _ in docs]),
            "write_s": _stats([s for _, s in docs]),
            "merge_all_s": round(merge_s, 4),
        },
    }


def _job_start(days: int, runs: int) -> float:
    with tempfile.TemporaryDirectory() as folder:
        cmd = [sys.executable, "-m", "journeydsl", "simulate", str(JOURNEY), "--population", "1"]
        cmd += ["--behaviour", str(BEHAVIOUR), "--days", str(days), "-q"]
        cmd += ["--part", "1/1", "-o", str(Path(folder) / "p.json")]
        times = []
        for _ in range(runs):
            w = time.perf_counter()
            subprocess.run(cmd, check=True, cwd=ROOT)
            times.append(time.perf_counter() - w)
    return round(statistics.median(times), 3)


def _whole(plan: Plan, context: Context, workers: int, executor: Any = None) -> float:
    w = time.perf_counter()
    run_plan(plan, workers=workers, context=context if workers == 1 else None, executor=executor)
    return round(time.perf_counter() - w, 3)


def _dask(plan: Plan, context: Context) -> dict[str, Any] | None:
    try:
        distributed = importlib.import_module("distributed")
    except ImportError:
        return None
    from journeydsl.simulate.executors import dask_executor

    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    try:
        with distributed.Client(cluster, set_as_default=False) as client:
            client.gather(client.map(abs, range(-20, 0), pure=False))  # warm up
            w = time.perf_counter()
            client.gather(client.map(abs, range(-500, 0), pure=False))
            noop_ms = (time.perf_counter() - w) / 500 * 1000
        wall = _whole(plan, context, 1, dask_executor(cluster.scheduler_address))
    finally:
        cluster.close()
    return {"workers": 2, "wall_s": wall, "noop_task_ms": round(noop_ms, 3)}


def _projection(record: dict[str, Any]) -> dict[str, float]:
    """1,000,000 customers on 16 cores, from one part's median cost: its wall time (as this
    machine ran it, load included) and its CPU time (what a core of its own would take)."""
    part = record["part"]
    parts = math.ceil(PROJECTED["customers"] / part["customers_per_part"])
    merge = record["part_file"]["merge_all_s"] * parts / part["parts"]
    efficiency = record["workers"]["efficiency"]
    out = {}
    for cost in ("wall", "cpu"):
        seconds = part[f"{cost}_s"]["median"]
        for name, e in (("measured_efficiency", efficiency), ("efficiency_1", 1.0)):
            total = record["job_start_s"] + parts * seconds / (PROJECTED["cores"] * e) + merge
            out[f"{cost}_{name}"] = round(total, 1)
    return out


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """Run the benchmark; returns the record it printed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--chunk", type=int, default=1000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--no-dask", action="store_true", help="skip the Dask measurement")
    parser.add_argument("--smoke", action="store_true", help="a few hundred customers")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    customers, chunk = (SMOKE_SIZE, 100) if args.smoke else (args.customers, args.chunk)
    journey = compile_file(JOURNEY).journey
    assert journey is not None
    model = load_behaviour(str(BEHAVIOUR)).model
    start = model.start or datetime(2026, 1, 5, tzinfo=UTC)
    plan = Plan(
        (str(JOURNEY),),
        start,
        start + timedelta(days=args.days),
        behaviour=str(BEHAVIOUR),
        population=customers,
        seed=args.seed,
        detail=False,
        chunk=chunk,
    )
    context = Context((journey,), model)
    record: dict[str, Any] = {
        "benchmark": "simulate_spread",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "load_before": _load_avg(),
        "customers": customers,
        "chunk": chunk,
        "days": args.days,
    }
    record.update(_parts(plan, context))
    record["job_start_s"] = _job_start(args.days, 1 if args.smoke else 3)
    one, two = _whole(plan, context, 1), _whole(plan, context, 2)
    record["workers"] = {"1": one, "2": two, "efficiency": round(one / (2 * two), 3)}
    record["dask"] = None if args.no_dask else _dask(plan, context)
    record["projection_1m_16_cores_s"] = _projection(record)
    record["load_after"] = _load_avg()
    print(json.dumps(record))
    if not args.no_save:
        RESULTS.parent.mkdir(exist_ok=True)
        with RESULTS.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
