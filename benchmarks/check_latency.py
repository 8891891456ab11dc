"""Benchmark (issue 6, yardstick 5): `journeydsl check` wall time, interpreter start-up included.

    python benchmarks/check_latency.py [--runs 15] [--steps 1000] [--smoke]

Each case runs `python -m journeydsl check PATH` in a fresh interpreter, as CI and an editor
integration do, and reports the median and the minimum wall time over ``--runs`` runs (after one
warm-up run that fills the OS file cache and lark's grammar cache):

- ``python``: `python -c pass`, the floor that no command can go under on this machine;
- ``onboarding`` and ``dormant``: the two example journeys, one file each;
- ``examples``: `check --root examples examples/`, every journey in the folder;
- ``generated``: a generated journey of ``--steps`` steps (benchmarks/check_large.py);
- ``onboarding_from_source``: the first example again, with journeydsl compiled from source on
  every run (no bytecode), as in a checkout where ``PYTHONDONTWRITEBYTECODE`` is set.

The package's bytecode is compiled first (``compileall``), as pip does when it installs a wheel;
without it every run also compiles journeydsl's ~60 modules, which the last case shows.
The target (issue 6) is under 0.3 s on the examples; the generated journey's target is 1 s.
Prints one JSON line per case and appends them to benchmarks/results/check_latency.jsonl.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
NAME = "check_latency"


def _check_large() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_large", Path(__file__).resolve().parent / "check_large.py"
    )
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def wall_times(
    cmd: list[str], runs: int, env: dict[str, str] | None = None
) -> tuple[list[float], int, str]:
    """Wall times of ``cmd`` (after one warm-up run), the last exit code and its output."""
    subprocess.run(cmd, capture_output=True, check=False, cwd=ROOT, env=env)
    times: list[float] = []
    code, output = 0, ""
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False, cwd=ROOT, env=env)
        times.append(time.perf_counter() - t0)
        code, output = proc.returncode, (proc.stdout + proc.stderr).decode(errors="replace")
    return times, code, output


def _record(case: str, target: float | None, times: list[float], code: int) -> dict[str, Any]:
    return {
        "benchmark": NAME,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "case": case,
        "exit_code": code,
        "runs": len(times),
        "wall_s_median": round(statistics.median(times), 4),
        "wall_s_min": round(min(times), 4),
        "target_s": target,
        "met": None if target is None else statistics.median(times) < target,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run every case; return the records printed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--smoke", action="store_true", help="CI size: 1 run, 60 steps")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    if args.smoke:
        args.runs, args.steps = 1, 60
    import journeydsl

    package = Path(journeydsl.__file__).resolve().parent
    if not args.smoke:  # (the smoke run in the test suite leaves the source tree alone)
        compileall.compile_dir(package, quiet=1)
    check = [sys.executable, "-m", "journeydsl", "check"]
    onboarding = str(EXAMPLES / "onboarding_new_cardholder.journey")
    records: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        large = _check_large().write_journey(Path(tmp), args.steps, "journey")
        source = Path(tmp) / "src"
        shutil.copytree(package, source / "journeydsl", ignore=shutil.ignore_patterns("*.pyc"))
        no_bytecode = {**os.environ, "PYTHONPATH": str(source), "PYTHONDONTWRITEBYTECODE": "1"}
        cases: list[tuple[str, list[str], float | None, dict[str, str] | None]] = [
            ("python", [sys.executable, "-c", "pass"], None, None),
            ("onboarding", [*check, onboarding], 0.3, None),
            ("dormant", [*check, str(EXAMPLES / "dormant_reactivation.journey")], 0.3, None),
            ("examples", [*check, "--root", str(EXAMPLES), str(EXAMPLES)], 0.3, None),
            (f"generated_{args.steps}_steps", [*check, str(large)], 1.0, None),
            ("onboarding_from_source", [*check, onboarding], 0.3, no_bytecode),
        ]
        for case, cmd, target, env in cases:
            times, code, output = wall_times(cmd, args.runs, env)
            if code != 0:
                sys.stderr.write(output[:2000])
            record = _record(case, target, times, code)
            print(json.dumps(record), flush=True)
            records.append(record)
    if not args.no_save:
        results = ROOT / "benchmarks" / "results"
        results.mkdir(parents=True, exist_ok=True)
        with (results / f"{NAME}.jsonl").open("a", encoding="utf-8") as fh:
            for record in records:
                fh.write(json.dumps(record) + "\n")
    return records


if __name__ == "__main__":
    main()
