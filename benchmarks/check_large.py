"""Benchmark: `journeydsl check` on a generated 1,000-step journey, interpreter start-up included.

    python benchmarks/check_large.py [--steps 1000] [--runs 7] [--spelling journey|yaml]

Prints one JSON line and appends it to benchmarks/results/check_large.jsonl. The target (issue
"Journey language") is under 1 second for 1,000 steps, wall time, start-up included.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"

#: (block, number of steps in it, nested ones included)
_BLOCKS: list[tuple[str, int]] = [
    ("send email new_cardholder_promotions marketing", 1),
    ("wait 1d", 1),
    ("if count(transaction in last 30d) == 0 {{ send zns install_digital_app marketing }}", 2),
    ("set spent_{i} = sum(transaction.amount since entry)", 1),
    (
        "if spent_{i} >= 1_000_000 VND {{ send email fee_waiver_granted transactional }} "
        "else {{ tag low_spender_{i} }}",
        3,
    ),
    (
        "wait for card_activated within 3d {{ send push first_spend_nudge marketing }} "
        "timeout {{ send email activation_reminder transactional {{ round: 1 }} }}",
        3,
    ),
    (
        "repeat as r{i} max 3 until has(transaction since entry) "
        "{{ wait 2d send zns activation_reminder transactional {{ round: r{i} }} }}",
        3,
    ),
    ('ticket telesales priority normal {{ reason: "review_{i}" }}', 1),
]


def generate(steps: int) -> str:
    """A valid journey with ``steps`` steps (nested ones included), using the example catalogs."""
    lines = [
        "journey large_generated version 1",
        'uses events "events.yaml"',
        'uses templates "templates.yaml"',
        "outcomes done",
        "entry on card_issued",
        "quiet hours 21:00 to 08:00 for sms, zns, push",
        "fallback push -> zns -> sms",
    ]
    count = i = 0
    while count < steps - 1:  # the final exit is one more step
        block, n = _BLOCKS[i % len(_BLOCKS)]
        if count + n > steps - 1:
            block, n = "wait 1h", 1
        # One index per round of blocks, so `set spent_N` and the `if spent_N` after it agree.
        lines.append(block.format(i=i // len(_BLOCKS)))
        count += n
        i += 1
    lines.append("exit done")
    return "\n".join(lines) + "\n"


def write_journey(folder: Path, steps: int, spelling: str) -> Path:
    """Write the generated journey (and copies of the catalogs) into ``folder``."""
    for name in ("events.yaml", "templates.yaml"):
        (folder / name).write_text((EXAMPLES / name).read_text(encoding="utf-8"), encoding="utf-8")
    dsl = folder / "large.journey"
    dsl.write_text(generate(steps), encoding="utf-8")
    if spelling == "journey":
        return dsl
    from journeydsl.compiler import parse_source
    from journeydsl.syntax.printer import print_yaml

    tree, _ = parse_source(dsl.read_text(encoding="utf-8"), str(dsl))
    assert tree is not None
    out = folder / "large.yaml"
    out.write_text(print_yaml(tree), encoding="utf-8")
    return out


def time_check(path: Path, runs: int) -> tuple[list[float], int]:
    """Wall times of `journeydsl check PATH` in a fresh interpreter, and the last exit code."""
    cmd = [sys.executable, "-m", "journeydsl", "check", str(path)]
    subprocess.run(cmd, capture_output=True, check=False)  # warm the OS file cache
    times, code = [], 0
    for _ in range(runs):
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, check=False)
        times.append(time.perf_counter() - t0)
        code = proc.returncode
        if code != 0:
            sys.stderr.write((proc.stdout.decode() + proc.stderr.decode())[:2000])
    return times, code


def main(argv: list[str] | None = None) -> dict[str, object]:
    """Run the benchmark and return the result record."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--spelling", choices=("journey", "yaml"), default="journey")
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_journey(Path(tmp), args.steps, args.spelling)
        from journeydsl.compiler import compile_file
        from journeydsl.compiler.lower import _walk

        result = compile_file(path)
        nodes = len(result.journey.nodes) if result.journey else 0
        steps = len(list(_walk(result.ast.steps))) if result.ast else 0
        times, code = time_check(path, args.runs)
    record: dict[str, object] = {
        "benchmark": "check_large",
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "spelling": args.spelling,
        "steps": steps,
        "ir_nodes": nodes,
        "exit_code": code,
        "runs": args.runs,
        "wall_s_median": round(statistics.median(times), 4),
        "wall_s_min": round(min(times), 4),
        "target_s": 1.0,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }
    print(json.dumps(record))
    if not args.no_save:
        results = ROOT / "benchmarks" / "results"
        results.mkdir(parents=True, exist_ok=True)
        with (results / "check_large.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")
    return record


if __name__ == "__main__":
    main()
