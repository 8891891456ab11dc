"""Failing-sinks campaign: the actions file of ``journeydsl run`` fails (a full disk, an I/O
error) at seeded random points; every run stops cleanly, and rerunning the same command after
the fault is cleared delivers every effect exactly once.

    python -m reliability.sinks --size 50 [--customers 300] [--mode inject|tmpfs]

The stream (:func:`reliability._common.stream`) has ``customers`` customers running both example
journeys. A reference run goes through it on a healthy disk. Then each of ``size`` trials starts
from a fresh database and actions file and runs the same command one to ``max_faults`` times
with a fault armed, then once more with the fault cleared. Each fault lands after a random number
of bytes of what is still to be written (so most runs do hit it), and is one of:

* ``ENOSPC`` or ``EIO`` on a write, before it or part-way through it (a short write, then the
  error), the way a disk that fills up or breaks in the middle of a line fails;
* ``EIO`` on the ``fsync`` after a write (the line may be there, but not durably);
* for ``EIO``, half the time a sticky one: truncating the file fails too, so the torn or
  unacknowledged line stays behind for the next run to deal with.

In the default mode, ``inject``, the child process (:mod:`reliability._faulty_fs`) wraps
``os.write``, ``os.fsync`` and ``os.ftruncate`` for the actions file's descriptors only; the SQLite
database is never touched (a failing state store is another failure class). In ``tmpfs`` mode
(root, where ``mount`` works) the actions file lives on a tiny tmpfs of its own whose size is set
to the current file size plus the fault's budget, and the fault is a real ``ENOSPC``; clearing it
remounts the tmpfs larger.

Every run must either complete (exit 0, and only when the fault never tripped) or stop with exit
code 1, exactly one ``journeydsl: error:`` line on stderr and no traceback. After the last run
the actions file must hold the reference's lines, each exactly once.

Figures: ``runs``, ``faults_injected``, ``faults_not_reached`` (armed, but the run ended before
writing that far), ``stops`` (non-zero exits), ``partial_writes``, ``sticky_faults`` (truncating
failed too), and the must-be-zero ones: ``exit0_with_fault`` (a run that hit the fault and still
said it succeeded: the old behaviour, which retried, fell back and suppressed messages as if the
customer's channel had failed), ``bad_stops`` (a stop without a fault, with another exit code, or
without exactly one error line), ``tracebacks``, ``final_failures`` (the run after the fault was
cleared did not succeed), ``duplicates`` (a key written twice), ``lost`` (a reference key
missing), ``unexpected`` (a key the reference does not have), ``differing_lines`` (same key,
another JSON object), ``damaged_lines`` (a line that is not a JSON object with a key: a torn
write left in the middle of the file), ``states_differing`` and ``outbox_differing`` (the
database's instance records and outbox entries against the reference's).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from journeydsl.runtime.stores.sqlite import SQLiteStore
from reliability._common import JOURNEYS, ROOT, START, main_for, stream, write_jsonl
from reliability._faulty_fs import FAULT, INJECTED, OBSERVED

MODES = ("inject", "tmpfs")
#: (kind, weight): the faults of ``inject`` mode.
KIND_WEIGHTS = (
    ("ENOSPC", 30),
    ("ENOSPC-partial", 25),
    ("EIO", 10),
    ("EIO-partial", 15),
    ("EIO-fsync", 20),
)
#: The run goes on to this time after the stream, so every onboarding instance can end.
UNTIL = START + timedelta(days=60)
PAGE = 4096
ERROR_LINE = "journeydsl: error:"


@dataclass
class Tally:
    """The campaign's figures, summed over the trials."""

    runs: int = 0
    faults_injected: int = 0
    faults_not_reached: int = 0
    stops: int = 0
    partial_writes: int = 0
    sticky_faults: int = 0
    faults_by_kind: Counter[str] = field(default_factory=Counter)
    exit0_with_fault: int = 0
    bad_stops: int = 0
    tracebacks: int = 0
    final_failures: int = 0
    duplicates: int = 0
    lost: int = 0
    unexpected: int = 0
    differing_lines: int = 0
    damaged_lines: int = 0
    states_differing: int = 0
    outbox_differing: int = 0
    examples: list[str] = field(default_factory=list)

    def note(self, what: str) -> None:
        """Keep the first few problems, to show with the figures."""
        if len(self.examples) < 5:
            self.examples.append(what)

    def faulted_run(self, code: int, stderr: str, kind: str, sticky: bool = False) -> None:
        """Count a run that had a fault armed: it completes only if the fault never tripped,
        and otherwise stops with exit 1 and one error line."""
        self.runs += 1
        hit = INJECTED in stderr or OBSERVED in stderr
        self.faults_injected += hit
        self.faults_by_kind[kind] += hit
        self.sticky_faults += hit and sticky
        self.partial_writes += "partial write" in stderr
        self.tracebacks += "Traceback" in stderr
        if "Traceback" in stderr:
            self.note(f"a traceback: {stderr[-600:]}")
        if code == 0:
            if hit:
                self.exit0_with_fault += 1
                self.note(f"exit 0 with the fault ({kind}): {stderr[-400:]}")
            else:
                self.faults_not_reached += 1
            return
        self.stops += 1
        errors = sum(line.startswith(ERROR_LINE) for line in stderr.splitlines())
        if code != 1 or errors != 1 or not hit:
            self.bad_stops += 1
            self.note(f"a bad stop (exit {code}, {errors} error lines): {stderr[-600:]}")

    def final_run(self, code: int, stderr: str) -> None:
        """Count the run after the fault was cleared, which must succeed."""
        self.runs += 1
        self.tracebacks += "Traceback" in stderr
        if code != 0:
            self.final_failures += 1
            self.note(f"the final run failed ({code}): {stderr[-600:]}")


def _command(work: Path, db: Path, actions: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "reliability._faulty_fs",
        "run",
        *(str(j) for j in JOURNEYS),
        "--db",
        str(db),
        "--events",
        str(work / "events.jsonl"),
        "--profiles",
        str(work / "profiles.jsonl"),
        "--actions",
        str(actions),
        "--now",
        UNTIL.isoformat(),
    ]


def _run_once(cmd: list[str], fault: dict[str, Any] | None) -> tuple[int, str]:
    """One process; its exit code and stderr."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop(FAULT, None)
    if fault is not None:
        env[FAULT] = json.dumps(fault)
    proc = subprocess.run(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, timeout=900, check=False
    )
    return proc.returncode, proc.stderr.decode("utf-8", errors="replace")


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except FileNotFoundError:
        return 0


def _inject(rng: random.Random, kind: str, actions: Path, after: int) -> dict[str, Any]:
    """The fault spec for :mod:`reliability._faulty_fs`."""
    name, _, how = kind.partition("-")
    return {
        "path": str(actions),
        "after": after,
        "errno": name,
        "on": "fsync" if how == "fsync" else "write",
        "partial": how == "partial",
        "sticky": name == "EIO" and rng.random() < 0.5,
    }


# --------------------------------------------------------------------------- tmpfs mode


def _mount(where: Path, size: int, *, remount: bool = False) -> None:
    pages = max(1, math.ceil(size / PAGE))
    options = f"{'remount,' if remount else ''}size={pages * PAGE}"
    subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(where)],
        check=True,
        capture_output=True,
    )


def _umount(where: Path) -> None:
    subprocess.run(["umount", str(where)], check=False, capture_output=True)


def tmpfs_available(work: Path) -> str | None:
    """Why a tmpfs cannot be mounted under ``work``, or None when it can."""
    probe = work / "probe"
    probe.mkdir(exist_ok=True)
    try:
        _mount(probe, PAGE)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        return f"mount -t tmpfs failed: {detail.decode(errors='replace').strip() or exc}"
    _umount(probe)
    return None


# --------------------------------------------------------------------------- comparison


def _actions(path: Path) -> tuple[list[dict[str, Any]], int]:
    """The action objects of the file, and how many lines are not one (damaged)."""
    got: list[dict[str, Any]] = []
    damaged = 0
    for line in path.read_bytes().splitlines():
        try:
            obj = json.loads(line)
        except ValueError:
            damaged += 1
            continue
        if isinstance(obj, dict) and isinstance(obj.get("key"), str):
            got.append(obj)
        else:
            damaged += 1
    return got, damaged


def _instances(db: Path) -> dict[str, Any]:
    with SQLiteStore(db) as store:
        return {r["id"]: r for r in store.all_instances()}


def _outbox(db: Path) -> dict[str, Any]:
    with SQLiteStore(db) as store:
        return {e.key: (e.kind, e.status, e.attempts, e.payload) for e in store.outbox()}


def _differing(want: dict[str, Any], got: dict[str, Any]) -> int:
    return sum(1 for k in want.keys() | got.keys() if want.get(k) != got.get(k))


def _compare(
    tally: Tally, reference: dict[str, Any], actions: Path, db: Path, ref_db: Path
) -> None:
    got, damaged = _actions(actions)
    keys = Counter(a["key"] for a in got)
    by_key = {a["key"]: a for a in got}
    tally.damaged_lines += damaged
    tally.duplicates += sum(n - 1 for n in keys.values() if n > 1)
    tally.lost += len(reference.keys() - by_key.keys())
    tally.unexpected += len(by_key.keys() - reference.keys())
    tally.differing_lines += sum(
        1 for k in reference.keys() & by_key.keys() if reference[k] != by_key[k]
    )
    tally.states_differing += _differing(_instances(ref_db), _instances(db))
    tally.outbox_differing += _differing(_outbox(ref_db), _outbox(db))


# --------------------------------------------------------------------------- the campaign


def run(
    size: int,
    seed: int,
    customers: int = 300,
    mode: str = "inject",
    max_faults: int = 3,
    workdir: str | None = None,
) -> dict[str, Any]:
    """Run ``size`` trials over a stream of ``customers`` customers, each with one to
    ``max_faults`` faults of ``mode`` before the fault is cleared; returns the figures."""
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    # The faults are synthetic (or a tmpfs of their own), so the work files go to memory when
    # the machine has a tmpfs there: fsync on a real disk would only make the campaign slower.
    shm = Path("/dev/shm")
    base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="jd-sinks-", dir=base))
    work.mkdir(parents=True, exist_ok=True)
    try:
        if mode == "tmpfs" and (why := tmpfs_available(work)) is not None:
            raise RuntimeError(f"tmpfs mode needs root and a working mount here: {why}")
        return _campaign(work, size, seed, customers, mode, max_faults)
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _campaign(
    work: Path, size: int, seed: int, customers: int, mode: str, max_faults: int
) -> dict[str, Any]:
    events, profiles = stream(customers, seed)
    write_jsonl(work / "events.jsonl", events)
    write_jsonl(work / "profiles.jsonl", profiles)
    ref_db, ref_actions = work / "reference.sqlite", work / "reference.jsonl"
    code, stderr = _run_once(_command(work, ref_db, ref_actions), None)
    if code != 0:
        raise RuntimeError(f"the reference run failed ({code}): {stderr}")
    lines, damaged = _actions(ref_actions)
    reference = {a["key"]: a for a in lines}
    if damaged or len(reference) != len(lines):
        raise RuntimeError(f"the reference run wrote a bad actions file: {ref_actions}")
    total = _size(ref_actions)

    rng = random.Random(seed)
    tally = Tally()
    kinds = [k for k, _ in KIND_WEIGHTS]
    weights = [w for _, w in KIND_WEIGHTS]
    for trial in range(size):
        folder = work / f"trial-{trial:03d}"
        folder.mkdir()
        db = folder / "state.sqlite"
        mnt = folder / "mnt"
        actions = (mnt if mode == "tmpfs" else folder) / "actions.jsonl"
        cmd = _command(work, db, actions)
        mounted = False
        try:
            for _ in range(rng.randint(1, max_faults)):
                # The fault lands somewhere in what is still to be written.
                budget = rng.randrange(max(1, total - _size(actions)))
                if mode == "tmpfs":
                    mnt.mkdir(exist_ok=True)
                    _mount(mnt, _size(actions) + budget, remount=mounted)
                    mounted, kind = True, "ENOSPC-tmpfs"
                    fault: dict[str, Any] = {"path": str(actions), "after": None}
                else:
                    kind = rng.choices(kinds, weights)[0]
                    fault = _inject(rng, kind, actions, budget)
                code, stderr = _run_once(cmd, fault)
                tally.faulted_run(code, stderr, kind, bool(fault.get("sticky")))
            if mounted:
                _mount(mnt, 4 * total + 64 * PAGE, remount=True)
                code, stderr = _run_once(cmd, {"path": str(actions), "after": None})
            else:
                code, stderr = _run_once(cmd, None)
            tally.final_run(code, stderr)
            _compare(tally, reference, actions, db, ref_db)
            if mounted:  # keep it for --workdir once the tmpfs is gone
                shutil.copyfile(actions, folder / "actions.jsonl")
        finally:
            if mounted:
                _umount(mnt)
    figures = asdict(tally)
    return {
        "customers": customers,
        "events": len(events),
        "actions": len(reference),
        "actions_bytes": total,
        "mode": mode,
        "trials": size,
        **figures,
        "faults_by_kind": dict(sorted(tally.faults_by_kind.items())),
    }


#: The figures that must be zero.
MUST_BE_ZERO = (
    "exit0_with_fault",
    "bad_stops",
    "tracebacks",
    "final_failures",
    "duplicates",
    "lost",
    "unexpected",
    "differing_lines",
    "damaged_lines",
    "states_differing",
    "outbox_differing",
)


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--customers", type=int, default=300, help="customers in the stream")
    parser.add_argument(
        "--mode",
        choices=MODES,
        default="inject",
        help="inject: wrap the child's writes; tmpfs: a real full tmpfs (root, mount)",
    )
    parser.add_argument(
        "--max-faults", type=int, default=3, help="faulty runs per trial before the fault clears"
    )
    parser.add_argument("--workdir", help="keep the files here (default: a temporary folder)")


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when a must-be-zero figure is not zero."""
    figures = main_for("sinks", run, argv, default_size=50, extra=_extra)
    return 1 if any(figures[k] for k in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
