"""Hostile-journeys campaign: journeys as inputs, each checked and run in a process of its own
that the campaign measures and kills. A journey must not be able to hurt the host that checks or
runs it: every one must end in a diagnostic or a counted instance failure (or a clean run),
within :data:`WALL_LIMIT` seconds and :data:`RSS_LIMIT_MB` MB.

    python -m reliability.hostile_journeys --size 200 [--kinds growth paths] [--jobs 2] [--keep DIR]

``size`` inputs per kind (:mod:`reliability._journey_inputs`): ``growth`` (variables that double
and square themselves), ``paths`` (catalog paths the journey may not read), ``bombs`` (alias
bombs and deep nesting in catalogs) and ``sizes`` (sources at and past the size limits).

Each input is a folder: the journey, its catalogs, two customers' events and profiles. A child
process (:mod:`reliability._journey_child`) runs ``journeydsl check`` on it and, when that passes,
another runs ``journeydsl run`` for three days of its events (``run`` compiles the journey
again, as a host does). A child reports its own peak RSS (``VmHWM``) as it exits; the campaign
also samples it from ``/proc`` while the child runs, for a child it has to kill after
:data:`KILL_AFTER` seconds. (``os.wait4``'s ``ru_maxrss`` would be at least the campaign's own
peak: see :mod:`reliability._journey_child`.) The child caps its own address space at
:data:`ADDRESS_SPACE` bytes. The oracle, per input:

* each command exits 0 or 1, and nothing printed a traceback;
* exit 1 comes with a diagnostic (``file:line:col: error[JDnnn]``) naming a file inside the
  input's folder, or with a count of failed journey instances; exit 0 is a clean run;
* what the input expects: a value that surely passes a limit never ends in a clean run; a
  refused catalog path is the expected diagnostic (JD113, or JD109 for a missing file); a
  catalog that surely expands past the node limit, or nests past the depth limit, is JD112;
* each command takes under :data:`WALL_LIMIT` s, its interpreter's start-up included, and
  under :data:`RSS_LIMIT_MB` MB of peak RSS;
* the secret marker of the files outside the folders is never printed.

Figures: per kind the inputs, diagnostics, counted failures, clean runs, violations, the slowest
and the largest input; diagnostic codes; why instances failed; each journey at the size limits
with its outcome, time and memory; the violations, each with its input's name, problems and the
end of its output.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from reliability import _journey_inputs as inputs
from reliability._common import ROOT, run_examples
from reliability._journey_child import PEAK
from reliability._journey_inputs import JourneyInput

KINDS: Final = ("growth", "paths", "bombs", "sizes")
#: Seconds one command (``check`` or ``run``) may take on one input, start-up included.
WALL_LIMIT: Final = 5.0
#: The peak resident memory, in MB, one command may use on one input.
RSS_LIMIT_MB: Final = 500
#: A child still running after this many seconds is killed.
KILL_AFTER: Final = 3 * WALL_LIMIT
#: The address space a child may map (a safety net far above :data:`RSS_LIMIT_MB`).
ADDRESS_SPACE: Final = 1536 * 2**20

_DIAGNOSTIC = re.compile(
    r"^(?P<file>[^\n]+?):(?P<line>\d+):(?P<column>\d+): error\[(?P<code>JD\d{3})\]", re.M
)
_FAILED = re.compile(r"\b(\d+) journey instances? failed\b")
_REASON = re.compile(r"^journeydsl: error: instance \S+ failed: (.*)$", re.M)
_LIMIT = re.compile(r"\((MAX_[A-Z_]+)\)$|^(\w+Error)\(")


@dataclass(frozen=True, slots=True)
class Child:
    """What one child process did: the command it ran, its exit code (None when it was killed),
    output, wall time and peak resident memory."""

    command: str
    code: int | None
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


@dataclass(frozen=True, slots=True)
class Result:
    """One input judged: how it ended (``diagnostic``, ``failure``, ``clean`` or ``none``), the
    diagnostic codes it printed, the instances that failed and why (the limit an instance
    passed, or the exception that ended it), and what broke the oracle."""

    item: JourneyInput
    children: tuple[Child, ...]
    outcome: str
    codes: tuple[str, ...]
    failed: int
    reasons: tuple[str, ...]
    problems: tuple[str, ...]

    @property
    def seconds(self) -> float:
        """The longest command's wall time."""
        return max(c.seconds for c in self.children)

    @property
    def peak_mb(self) -> float:
        """The largest command's peak RSS."""
        return max(c.peak_mb for c in self.children)


# --------------------------------------------------------------------------- one input


def materialize(item: JourneyInput, folder: Path, outside: Path, marker: str) -> None:
    """Write ``item``'s folder: files, folders, symbolic links, FIFOs and sparse files, with
    ``{outside}`` and ``{marker}`` filled in."""

    def fill(text: str) -> str:
        return text.replace("{outside}", str(outside)).replace("{marker}", marker)

    folder.mkdir(parents=True)
    for name in item.folders:
        (folder / name).mkdir(parents=True, exist_ok=True)
    for name, text in item.files.items():
        (folder / name).write_text(fill(text), encoding="utf-8")
    for name, target in item.links.items():
        os.symlink(fill(target), folder / name)
    for name in item.fifos:
        os.mkfifo(folder / name)
    for name, size in item.sparse.items():
        with (folder / name).open("wb") as f:
            f.truncate(size)


def prepare_outside(work: Path, marker: str) -> None:
    """The campaign's folder around the inputs: the secret files and a FIFO."""
    for name, text in inputs.SECRETS.items():
        (work / name).write_text(text.replace("{marker}", marker), encoding="utf-8")
    os.mkfifo(work / "fifo.yaml")


def spawn(command: str, folder: Path, journey: str, kill_after: float = KILL_AFTER) -> Child:
    """Run ``command`` (check or run) on ``folder/journey`` in a child process: its outcome, wall
    time and peak RSS."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    out, err = folder.parent / f"{folder.name}.out", folder.parent / f"{folder.name}.err"
    write = os.O_WRONLY | os.O_CREAT | os.O_TRUNC
    argv = [sys.executable, "-m", "reliability._journey_child", command]
    argv += [str(ADDRESS_SPACE), str(folder), journey]
    started = time.monotonic()
    pid = os.posix_spawn(
        sys.executable,
        argv,
        env,
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (os.POSIX_SPAWN_OPEN, 1, str(out), write, 0o600),
            (os.POSIX_SPAWN_OPEN, 2, str(err), write, 0o600),
        ],
    )
    killed, sampled = False, 0
    while not (done := os.waitpid(pid, os.WNOHANG))[0]:
        sampled = max(sampled, _sample_peak(pid))
        if time.monotonic() - started > kill_after:
            os.kill(pid, 9)
            done = os.waitpid(pid, 0)
            killed = True
            break
        time.sleep(0.005)
    seconds = time.monotonic() - started
    stdout, stderr = (p.read_text(encoding="utf-8", errors="replace") for p in (out, err))
    out.unlink()
    err.unlink()
    before, found, reported = stderr.rpartition(f"{PEAK} ")
    if found:  # it was not killed: its own report, and what it printed before
        stderr, sampled = before, max(sampled, int(reported))
    code = None if killed else os.waitstatus_to_exitcode(done[1])
    return Child(command, code, stdout, stderr, seconds, sampled / 1024)


def _sample_peak(pid: int) -> int:
    """The peak RSS in kB of the child ``pid`` so far, once it runs the child's program (before
    its ``execve`` it shares the campaign's memory); 0 when it cannot be read."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            if b"reliability._journey_child" not in cmdline.read():
                return 0
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            return next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")), 0)
    except OSError:
        return 0


def judge(item: JourneyInput, children: Sequence[Child], folder: Path, marker: str) -> Result:
    """``item``'s outcome (the last command's), and what in it breaks the campaign's oracle."""
    problems: list[str] = []
    for child in children:
        problems += _process_problems(child, marker)
    last = children[-1]
    text = "".join(c.stdout + c.stderr for c in children)
    diagnostics = list(_DIAGNOSTIC.finditer(text))
    real = folder.resolve()
    strays = {d["file"] for d in diagnostics if not Path(d["file"]).resolve().is_relative_to(real)}
    if strays:
        problems.append(f"a diagnostic names a file outside its folder: {sorted(strays)[0]}")
    codes = tuple(sorted({d["code"] for d in diagnostics}))
    failed = sum(int(m[1]) for m in _FAILED.finditer(last.stderr))
    reasons = tuple(_reason(r) for r in _REASON.findall(last.stderr))
    if last.code == 0:
        outcome = "clean"
    elif last.code == 1 and codes:
        outcome = "diagnostic"
    elif last.code == 1 and failed:
        outcome = "failure"
    else:
        outcome = "none"
        if last.code == 1:
            problems.append("exit 1 without a diagnostic or a count of failed instances")
    if item.expect == "not_clean" and outcome == "clean":
        problems.append("a value that surely passes a limit ended in a clean run")
    if item.expect == "codes" and not set(codes) & item.codes:
        problems.append(f"expected {'/'.join(sorted(item.codes))}, got {list(codes) or outcome}")
    return Result(item, tuple(children), outcome, codes, failed, reasons, tuple(problems))


def _reason(text: str) -> str:
    """Why an instance failed, in a word: the limit's name, or the exception's."""
    match = _LIMIT.search(text)
    return (match[1] or match[2]) if match else text[:60]


def _process_problems(child: Child, marker: str) -> list[str]:
    """What in one command's process breaks the oracle, whatever the journey."""
    problems = []
    text = child.stdout + child.stderr
    if child.code is None:
        problems.append(f"{child.command} killed after {child.seconds:.0f} s")
    elif child.code not in (0, 1):
        problems.append(f"{child.command} exited {child.code}")
    if "Traceback (most recent call last)" in text:
        problems.append(f"{child.command} printed a traceback")
    if child.seconds > WALL_LIMIT:
        problems.append(f"{child.command} took {child.seconds:.1f} s")
    if child.peak_mb > RSS_LIMIT_MB:
        problems.append(f"{child.command} peaked at {child.peak_mb:.0f} MB")
    if marker in text:
        problems.append(f"{child.command} printed the secret of a file outside the folder")
    return problems


def try_input(
    item: JourneyInput, folder: Path, outside: Path, marker: str, keep: Path | None
) -> Result:
    """Materialize ``item`` in ``folder``, run the child on it, judge it, and remove the folder
    (or move it to ``keep`` when it broke the oracle)."""
    materialize(item, folder, outside, marker)
    children = [spawn("check", folder, item.journey)]
    if children[0].code == 0:
        children.append(spawn("run", folder, item.journey))
    result = judge(item, children, folder, marker)
    if result.problems and keep is not None:
        keep.mkdir(parents=True, exist_ok=True)
        shutil.move(str(folder), str(keep / folder.name))
    else:
        shutil.rmtree(folder, ignore_errors=True)
    return result


# --------------------------------------------------------------------------- the campaign


def draw_inputs(kind: str, size: int, seed: int) -> list[JourneyInput]:
    """``size`` inputs of ``kind``: drawn with hypothesis (growth, bombs), or taken from the
    fixed cases in an order shuffled by ``seed`` (paths, sizes: each at most once, so a size
    past their number takes them all)."""
    if kind in ("growth", "bombs"):
        drawn: list[JourneyInput] = []
        strategy = inputs.growth() if kind == "growth" else inputs.bombs()
        run_examples(strategy, size, seed, drawn.append)
        return drawn
    cases = inputs.path_inputs() if kind == "paths" else inputs.size_inputs()
    random.Random(seed).shuffle(cases)
    return cases[:size]


def run(
    size: int,
    seed: int,
    kinds: Sequence[str] | None = None,
    jobs: int = 1,
    keep: str | None = None,
) -> dict[str, Any]:
    """``size`` inputs per kind (``kinds``: all by default), ``jobs`` children at a time;
    returns the figures. ``keep``: a folder to move the inputs that break the oracle to."""
    chosen = list(kinds or KINDS)
    unknown = set(chosen) - set(KINDS)
    if unknown:
        raise ValueError(f"unknown kinds {sorted(unknown)}; choose from {', '.join(KINDS)}")
    items = [item for kind in chosen for item in draw_inputs(kind, size, seed)]
    marker = f"JDSECRET{uuid.uuid4().hex}"
    work = Path(tempfile.mkdtemp(prefix="jd-hostile-journeys-"))
    kept = Path(keep) if keep else None
    try:
        prepare_outside(work, marker)
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(
                pool.map(
                    lambda n: try_input(items[n], work / "in" / f"{n:05d}", work, marker, kept),
                    range(len(items)),
                )
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return figures(results, chosen)


def figures(results: Sequence[Result], kinds: Iterable[str]) -> dict[str, Any]:
    """The campaign's figures from the judged inputs."""
    by_kind: dict[str, Any] = {}
    for kind in kinds:
        mine = [r for r in results if r.item.kind == kind]
        outcomes = Counter(r.outcome for r in mine)
        by_kind[kind] = {
            "inputs": len(mine),
            "diagnostics": outcomes["diagnostic"],
            "failures": outcomes["failure"],
            "clean": outcomes["clean"],
            "violations": sum(1 for r in mine if r.problems),
            "max_seconds": round(max((r.seconds for r in mine), default=0.0), 2),
            "max_mb": round(max((r.peak_mb for r in mine), default=0.0), 1),
            "codes": dict(sorted(Counter(c for r in mine for c in r.codes).items())),
        }
    codes: Counter[str] = Counter(c for r in results for c in r.codes)
    reasons: Counter[str] = Counter(why for r in results for why in r.reasons)
    slowest = max(results, key=lambda r: r.seconds, default=None)
    largest = max(results, key=lambda r: r.peak_mb, default=None)
    return {
        "inputs": len(results),
        "violations": sum(1 for r in results if r.problems),
        "diagnostics": sum(1 for r in results if r.outcome == "diagnostic"),
        "failures": sum(1 for r in results if r.outcome == "failure"),
        "instances_failed": sum(r.failed for r in results),
        "clean": sum(1 for r in results if r.outcome == "clean"),
        "runs": sum(len(r.children) - 1 for r in results),
        "max_seconds": round(max((r.seconds for r in results), default=0.0), 2),
        "max_mb": round(max((r.peak_mb for r in results), default=0.0), 1),
        "slowest": _name(slowest),
        "largest": _name(largest),
        "by_kind": by_kind,
        "codes": dict(sorted(codes.items())),
        "failure_reasons": dict(reasons.most_common()),
        "violation_samples": [_sample(r) for r in results if r.problems][:20],
        "sizes": [_size(r) for r in results if r.item.kind == "sizes"],
        "limits": {"seconds": WALL_LIMIT, "mb": RSS_LIMIT_MB},
    }


def _name(result: Result | None) -> str:
    return "" if result is None else f"{result.item.kind}: {result.item.name}"


def _size(result: Result) -> list[Any]:
    """A journey at the size limits: name, outcome, codes, longest command's seconds and MB."""
    return [
        result.item.name,
        result.outcome,
        list(result.codes),
        round(result.seconds, 2),
        round(result.peak_mb, 1),
    ]


def _sample(result: Result) -> dict[str, Any]:
    last = result.children[-1]
    return {
        "kind": result.item.kind,
        "name": result.item.name,
        "problems": list(result.problems),
        "commands": {
            c.command: [c.code, round(c.seconds, 2), round(c.peak_mb, 1)] for c in result.children
        },
        "output": (last.stdout + last.stderr)[-600:],
    }


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kinds", nargs="+", choices=KINDS, help="default: all")
    parser.add_argument("--jobs", type=int, default=1, help="children at a time (default 1)")
    parser.add_argument("--keep", metavar="DIR", help="move inputs that break the oracle here")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when any input broke the oracle."""
    from reliability._common import main_for

    result = main_for("hostile_journeys", run, argv, default_size=200, extra=_extra)
    return 1 if result["violations"] else 0


if __name__ == "__main__":
    sys.exit(main())
