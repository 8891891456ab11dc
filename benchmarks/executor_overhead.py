"""Benchmark: the per-task overhead of Dask distributed and Ray, the two engines considered for
``simulate --executor`` (docs/performance.md, "Dask or Ray: the per-task overhead").

    python benchmarks/executor_overhead.py [--engine dask ray] [--no-save]

On a local cluster of 2 worker processes (one thread each): after 50 warm-up tasks, a no-op
function submitted 200 and 1,000 times at once (ms per task), then 100 times one after the other
(ms per round trip), and the time to start the cluster. Needs ``pip install distributed`` (the
``distributed`` extra) and ``pip install ray``; an engine that is not installed is reported as
such. One JSON line per engine, appended to benchmarks/results/executor_overhead.jsonl.
"""

from __future__ import annotations

import argparse
import importlib
import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results" / "executor_overhead.jsonl"


def _noop(x: int) -> int:
    return x


def _measure(
    start: Callable[[], None], many: Callable[[int], None], one: Callable[[int], None]
) -> dict[str, float]:
    w = time.perf_counter()
    start()
    out = {"start_s": round(time.perf_counter() - w, 3)}
    many(50)
    for n in (200, 1000):
        w = time.perf_counter()
        many(n)
        out[f"ms_per_task_{n}_at_once"] = round((time.perf_counter() - w) / n * 1000, 3)
    w = time.perf_counter()
    for i in range(100):
        one(i)
    out["ms_per_round_trip"] = round((time.perf_counter() - w) / 100 * 1000, 3)
    return out


def _dask() -> dict[str, Any]:
    distributed = importlib.import_module("distributed")
    held: dict[str, Any] = {}

    def start() -> None:
        held["cluster"] = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
        held["client"] = distributed.Client(held["cluster"])

    def many(n: int) -> None:
        held["client"].gather(held["client"].map(_noop, range(n), pure=False))

    def one(i: int) -> None:
        held["client"].submit(_noop, i, pure=False).result()

    try:
        return {"version": distributed.__version__, **_measure(start, many, one)}
    finally:
        if "client" in held:
            held["client"].close()
            held["cluster"].close()


def _ray() -> dict[str, Any]:
    ray = importlib.import_module("ray")
    remote = ray.remote(_noop)

    def start() -> None:
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)

    def many(n: int) -> None:
        ray.get([remote.remote(i) for i in range(n)])

    def one(i: int) -> None:
        ray.get(remote.remote(i))

    try:
        return {"version": ray.__version__, **_measure(start, many, one)}
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Measure each engine asked for; returns the records printed."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engine", nargs="+", choices=("dask", "ray"), default=["dask", "ray"])
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)
    records = []
    for engine in args.engine:
        record: dict[str, Any] = {"benchmark": "executor_overhead", "engine": engine}
        record["at"] = datetime.now(UTC).isoformat(timespec="seconds")
        try:
            record.update(_dask() if engine == "dask" else _ray())
        except ImportError as exc:
            record["error"] = f"not installed: {exc}"
        print(json.dumps(record))
        records.append(record)
        if not args.no_save:
            RESULTS.parent.mkdir(exist_ok=True)
            with RESULTS.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
    return records


if __name__ == "__main__":
    main()
