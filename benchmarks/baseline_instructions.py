"""Instruction counts of the Engine and the hand-written baseline on one recorded stream.

    python benchmarks/baseline_instructions.py record --customers 300 --stream /tmp/stream.pickle
    valgrind --tool=callgrind --toggle-collect=functools_reduce --instr-atstart=no \\
        python benchmarks/baseline_instructions.py replay --side engine --callgrind \\
        --stream /tmp/stream.pickle
    # the same with --side baseline

The stream is recorded once (as ``baseline_onboarding.py`` records it) and pickled, so that the
runs under callgrind only replay it. Every side first replays the stream's first 200 events
through the Engine (compiling the journey and importing what the replay imports on first use),
then replays the whole stream inside ``functools.reduce``: ``--toggle-collect=functools_reduce``
counts the replay's instructions and nothing else. ``Collected / customers`` is the count per
customer. ``--profile`` prints a cProfile of the replay instead: each component's share of the
profile, then the top functions by own time.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import pickle
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import baseline_onboarding as bench

#: Components of the Engine's work, by the file a function is defined in (first match wins).
COMPONENTS = (
    (
        "expressions",
        ("journeydsl/expr/", "runtime/evaluation.py", "journeydsl/compiler/", "money.py"),
    ),
    ("event validation", ("runtime/events.py", "runtime/intake.py")),
    ("decision log", ("runtime/decisions.py",)),
    ("codec and records", ("runtime/codec.py", "runtime/records.py")),
    ("policies", ("runtime/policies/",)),
    ("delivery and outbox", ("runtime/delivery.py", "runtime/sendparams.py")),
    ("stores", ("runtime/stores/",)),
    ("logging", ("structlog", "/logging/")),
    ("host loop and channels", ("benchmarks/", "journeydsl/testing.py")),
    ("interpreter and dispatch", ("journeydsl/runtime/",)),
)


def _component(path: str) -> str | None:
    for name, parts in COMPONENTS:
        if any(p in path for p in parts):
            return name
    return None


def components(stats: object) -> list[tuple[str, float]]:
    """Each component's share of the profile's own time; a function of the standard library
    or a builtin counts for the component of the function that called it."""
    raw = stats.stats  # type: ignore[attr-defined]
    owner: dict[object, str] = {}

    def comp(func: tuple[str, int, str], depth: int = 0) -> str:
        if func in owner:
            return owner[func]
        found = _component(func[0])
        if found is None and depth < 6:
            callers = raw[func][4]
            if callers:
                top = max(callers.items(), key=lambda kv: kv[1][2])[0]
                found = comp(top, depth + 1)
        owner[func] = found or "other"
        return owner[func]

    totals: dict[str, float] = {}
    for func, (_cc, _nc, _tt, _ct, callers) in raw.items():
        if _component(func[0]) is not None or not callers:
            totals[comp(func)] = totals.get(comp(func), 0.0) + _tt
            continue
        for caller, edge in callers.items():  # split a shared helper among its callers
            name = comp(caller)
            totals[name] = totals.get(name, 0.0) + edge[2]
    whole = sum(totals.values()) or 1.0
    return sorted(((k, v / whole) for k, v in totals.items()), key=lambda kv: -kv[1])


def main(argv: list[str] | None = None) -> None:
    """Record or replay."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("what", choices=("record", "replay"))
    parser.add_argument("--customers", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--stream", type=Path, required=True)
    parser.add_argument("--side", choices=("engine", "baseline"), default="engine")
    parser.add_argument("--profile", action="store_true", help="cProfile the replay")
    parser.add_argument(
        "--callgrind",
        action="store_true",
        help="under valgrind --instr-atstart=no: switch instrumentation on for the replay",
    )
    args = parser.parse_args(argv)
    bench.quiet_logs()
    if args.what == "record":
        stream = bench.record_stream(args.customers, args.seed)
        args.stream.write_bytes(pickle.dumps(stream))
        return
    stream = pickle.loads(args.stream.read_bytes())
    # Every side first replays the stream's first 200 events through the Engine: the journey is
    # compiled, and every module the replay imports on first use is imported, outside the count.
    warm = dataclasses.replace(stream, events=stream.events[:200])
    bench.run_engine(warm)
    run = bench.run_engine if args.side == "engine" else bench.run_baseline
    if args.profile:
        import cProfile
        import pstats

        prof = cProfile.Profile()
        prof.enable()
        run(stream)
        prof.disable()
        stats = pstats.Stats(prof)
        for name, share in components(stats):
            print(f"{name:28} {share:6.1%}")
        stats.sort_stats("tottime").print_stats(40)
        return
    if args.callgrind:  # instrument from here on only (valgrind --instr-atstart=no): faster
        subprocess.run(["callgrind_control", "-i", "on", str(os.getpid())], check=True)
    functools.reduce(lambda _, whole: run(whole), [stream], None)  # (counted: see the docstring)


if __name__ == "__main__":
    main()
