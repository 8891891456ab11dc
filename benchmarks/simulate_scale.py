"""Benchmark: `journeydsl simulate` of the onboarding example at scale, per population size and
number of worker processes.

    python benchmarks/simulate_scale.py [--customers 10000 100000 1000000] [--workers 1 2]
                                        [--days 90] [--seed 1] [--chunk N] [--smoke] [--no-save]

Simulates examples/onboarding_new_cardholder.journey with examples/behaviour/onboarding.yaml over
90 days, counting the report's figures (what `journeydsl simulate --format text` needs; the JSON
report would also keep every action). Each measurement runs in a fresh interpreter, so that its
peak memory is its own. It prints one JSON line per measurement and appends it to
benchmarks/results/simulate_scale.jsonl:

* ``wall_s``: compiling the journey, splitting the population, simulating and merging (the
  interpreter's start-up is ``process_s - wall_s``); ``customers_per_s`` is ``customers / wall_s``;
* ``peak_rss_mib``: the largest sum of the resident memory of the measuring process and its
  workers, sampled every 0.1 s from /proc; ``max_rss_self_mib`` / ``max_rss_worker_mib`` are
  the kernel's peaks (``getrusage``) of the measuring process and of its largest worker.

The target (the performance issue, second edition) is 1,000,000 customers over 90 days in at
most 180 s with 2 workers, and peak memory under 1 GiB. ``--smoke`` runs a few hundred customers
(for the test suite, which never asserts timings).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
JOURNEY = ROOT / "examples" / "onboarding_new_cardholder.journey"
BEHAVIOUR = ROOT / "examples" / "behaviour" / "onboarding.yaml"
RESULTS = ROOT / "benchmarks" / "results" / "simulate_scale.jsonl"
DEFAULT_SIZES = (10_000, 100_000, 1_000_000)
SMOKE_SIZE = 300
TARGET = {"customers": 1_000_000, "days": 90, "workers": 2, "wall_s": 180.0, "peak_rss_mib": 1024}


# --------------------------------------------------------------------------- memory


def _rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _descendants(pid: int) -> list[int]:
    """The process and every process below it (from /proc/*/stat parent ids)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as f:
                stat = f.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    found, todo = [pid], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


class _Sampler(threading.Thread):
    """The peak of the summed RSS of this process and its descendants."""

    def __init__(self, every: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.every = every
        self.peak_kib = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            total = sum(_rss_kib(p) for p in _descendants(os.getpid()))
            self.peak_kib = max(self.peak_kib, total)
            self._done.wait(self.every)

    def stop(self) -> None:
        self._done.set()
        self.join()


# --------------------------------------------------------------------------- one measurement


def measure(
    customers: int, workers: int, days: int, seed: int, chunk: int | None
) -> dict[str, Any]:
    """Simulate ``customers`` over ``days`` with ``workers`` processes, in this process."""
    sampler = _Sampler()
    sampler.start()
    started = time.perf_counter()
    import logging
    from datetime import timedelta

    import structlog

    from journeydsl.compiler import compile_file
    from journeydsl.simulate.behaviour import load_behaviour
    from journeydsl.simulate.parallel import DEFAULT_CHUNK, Context, Plan, run_plan

    # As `journeydsl simulate` does: the engine's step logs would otherwise go to stdout.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    journey = compile_file(JOURNEY).journey
    assert journey is not None
    model = load_behaviour(BEHAVIOUR).model
    plan = Plan(
        (str(JOURNEY),),
        model.start,
        model.start + timedelta(days=days),
        behaviour=str(BEHAVIOUR),
        population=customers,
        seed=seed,
        detail=False,
        chunk=chunk or DEFAULT_CHUNK,
    )
    context = Context((journey,), model) if workers == 1 else None
    [result] = run_plan(plan, workers=workers, context=context)
    wall = time.perf_counter() - started
    sampler.stop()
    tally = result.tally()
    kib = 1024
    return {
        "wall_s": round(wall, 3),
        "customers_per_s": round(customers / wall, 1),
        "peak_rss_mib": round(sampler.peak_kib / kib, 1),
        "max_rss_self_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib, 1),
        "max_rss_worker_mib": round(
            resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib, 1
        ),
        "chunk": plan.chunk,
        "entered": tally.entered,
        "outcomes": dict(sorted(tally.outcomes.items())),
        "messages_sent": sum(tally.sent.values()),
    }


def _run_one(customers: int, workers: int, args: argparse.Namespace) -> dict[str, Any]:
    """One measurement in a fresh interpreter."""
    cmd = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--measure",
        str(customers),
        str(workers),
        "--days",
        str(args.days),
        "--seed",
        str(args.seed),
    ]
    if args.chunk:
        cmd += ["--chunk", str(args.chunk)]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=ROOT)
    process_s = time.perf_counter() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"measurement failed: {' '.join(cmd)} (exit {proc.returncode})")
    measured: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    load1, _, _ = os.getloadavg()
    meets = None
    if (
        customers >= TARGET["customers"]
        and args.days >= TARGET["days"]
        and workers <= TARGET["workers"]
    ):
        meets = (
            measured["wall_s"] <= TARGET["wall_s"]
            and measured["peak_rss_mib"] < TARGET["peak_rss_mib"]
        )
    return {
        "benchmark": "simulate_scale",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": customers,
        "workers": workers,
        "days": args.days,
        "seed": args.seed,
        **measured,
        "process_s": round(process_s, 3),
        "target": TARGET,
        "meets_target": meets,
        "load_before": round(load1, 2),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the measurements and return their records."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--customers", type=int, nargs="+", default=list(DEFAULT_SIZES))
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--chunk", type=int, help="customers per part (default: the driver's)")
    parser.add_argument("--smoke", action="store_true", help=f"{SMOKE_SIZE} customers only")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    parser.add_argument("--measure", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.measure:
        customers, workers = args.measure
        print(json.dumps(measure(customers, workers, args.days, args.seed, args.chunk)))
        return []
    sizes = [SMOKE_SIZE] if args.smoke else args.customers
    records = []
    for customers in sizes:
        for workers in args.workers:
            record = _run_one(customers, workers, args)
            print(json.dumps(record), flush=True)
            records.append(record)
            if not args.no_save:
                RESULTS.parent.mkdir(parents=True, exist_ok=True)
                with RESULTS.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(record) + "\n")
    return records


if __name__ == "__main__":
    main()
