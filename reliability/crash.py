"""Crash campaign: ``journeydsl run`` killed with SIGKILL at seeded random points, restarted each
time, must end exactly where an uninterrupted run ends.

    python -m reliability.crash --size 1000 --kills 100

The stream (:func:`reliability._common.stream`) has ``size`` customers running both example
journeys. A reference run goes through it uninterrupted. Then the same command runs on a fresh
state file and is killed ``kills`` times, restarting after each kill, and finally runs to the
end. The kill points are drawn with the seed: a site (see :mod:`reliability._killpoints`: as an
event is ingested, after a commit and before delivery, after an action is written and before it
is acknowledged, halfway through writing one, inside an SQLite transaction) and a moment of the
stream (a time taken from the reference run's events or actions), plus some kills after a random
delay from the parent, which land during start-up and replay.

Figures: ``kills`` (SIGKILLs survived), ``duplicates`` (action keys written twice), ``lost``
(reference actions missing), ``unexpected`` (actions the reference does not have),
``actions_differing`` (same key, different line), ``states_differing`` (instance records that
differ from the reference's), ``outbox_differing``; ``redeliveries_absorbed`` counts actions
handed over again after a restart and dropped by the channel's deduplication, and
``torn_lines_left`` / ``torn_lines_dropped`` the torn last lines kills left and restarts repaired.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from journeydsl.runtime.stores.sqlite import SQLiteStore
from reliability._common import (
    JOURNEYS,
    ROOT,
    START,
    main_for,
    read_jsonl,
    stream,
    write_jsonl,
)
from reliability._killpoints import FORGETFUL, REDELIVERED, TORN_DROPPED

#: (site, weight): where the kills land.
SITE_WEIGHTS = (
    ("ingest", 15),
    ("commit", 20),
    ("write", 25),
    ("torn", 10),
    ("txn", 20),
    ("delay", 10),
)
#: The run goes on to this time after the stream, so every onboarding instance can end.
UNTIL = START + timedelta(days=60)


def _command(work: Path, db: Path, actions: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "reliability._killpoints",
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


def _env(kill: dict[str, Any] | None, forgetful: bool) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    env.pop("RELIABILITY_KILL", None)
    env.pop(FORGETFUL, None)
    if forgetful:
        env[FORGETFUL] = "1"
    if kill is not None:
        env["RELIABILITY_KILL"] = json.dumps(kill)
    return env


def _run_once(
    cmd: list[str],
    log: Path,
    kill: dict[str, Any] | None,
    delay: float | None = None,
    forgetful: bool = False,
) -> int:
    """One process; returns its exit code (-9 when it died by SIGKILL)."""
    with log.open("w", encoding="utf-8") as err:
        env = _env(kill, forgetful)
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env)
        if delay is not None:
            deadline = time.monotonic() + delay
            while proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.005)
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
        try:
            return proc.wait(timeout=900)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise RuntimeError(f"the run hung; see {log}") from None


def _times(rows: Sequence[dict[str, Any]]) -> list[str]:
    return sorted((r["at"] for r in rows), key=datetime.fromisoformat)


def _plan(
    rng: random.Random,
    kills: int,
    event_times: list[str],
    action_times: list[str],
    only: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """The kill points, in stream order (delay kills are placed at random among them)."""
    chosen = [(s, w) for s, w in SITE_WEIGHTS if only is None or s in only]
    sites = [s for s, _ in chosen]
    weights = [w for _, w in chosen]
    timed: list[dict[str, Any]] = []
    delayed: list[dict[str, Any]] = []
    usable = action_times[: max(1, len(action_times) - 5)]
    for _ in range(kills):
        site = rng.choices(sites, weights)[0]
        if site == "delay":
            delayed.append({"site": "delay", "fraction": rng.uniform(0.1, 1.5)})
            continue
        after = rng.choice(event_times if site == "ingest" else usable)
        skip = rng.randrange(30) if site == "txn" else rng.randrange(3)
        timed.append({"site": site, "after": after, "skip": skip})
    timed.sort(key=lambda k: datetime.fromisoformat(k["after"]))
    for k in delayed:
        timed.insert(rng.randrange(len(timed) + 1), k)
    return timed


def _ends_torn(path: Path) -> bool:
    """Whether the file ends in the middle of a line (a write torn by the kill)."""
    try:
        with path.open("rb") as f:
            f.seek(0, os.SEEK_END)
            if f.tell() == 0:
                return False
            f.seek(-1, os.SEEK_END)
            return f.read(1) != b"\n"
    except FileNotFoundError:
        return False


def _instances(db: Path) -> dict[str, Any]:
    with SQLiteStore(db) as store:
        return {r["id"]: r for r in store.all_instances()}


def _outbox(db: Path) -> dict[str, Any]:
    with SQLiteStore(db) as store:
        return {e.key: (e.kind, e.status, e.attempts, e.payload) for e in store.outbox()}


def run(
    size: int,
    seed: int,
    kills: int = 100,
    workdir: str | None = None,
    sites: Sequence[str] | None = None,
    forgetful: bool = False,
) -> dict[str, Any]:
    """Run the campaign for ``size`` customers and ``kills`` kills (at the given ``sites``, by
    default all); returns the figures. ``forgetful`` is the negative control: the actions file
    forgets its keys on restart, so redeliveries become duplicates."""
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="jd-crash-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        return _campaign(work, size, seed, kills, sites, forgetful)
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _campaign(
    work: Path,
    size: int,
    seed: int,
    kills: int,
    sites: Sequence[str] | None,
    forgetful: bool,
) -> dict[str, Any]:
    events, profiles = stream(size, seed)
    write_jsonl(work / "events.jsonl", events)
    write_jsonl(work / "profiles.jsonl", profiles)

    reference = work / "reference.jsonl"
    code = _run_once(_command(work, work / "reference.sqlite", reference), work / "ref.log", None)
    if code != 0:
        raise RuntimeError(f"the reference run failed ({code}): {(work / 'ref.log').read_text()}")
    expected = read_jsonl(reference)
    started = time.monotonic()
    empty = work / "empty"
    empty.mkdir(exist_ok=True)
    write_jsonl(empty / "events.jsonl", [])
    write_jsonl(empty / "profiles.jsonl", profiles)
    _run_once(_command(empty, empty / "s.sqlite", empty / "a.jsonl"), empty / "log", None)
    startup = time.monotonic() - started

    rng = random.Random(seed)
    plan = _plan(rng, kills, _times(events), _times(expected), sites)
    db, actions = work / "crash.sqlite", work / "actions.jsonl"
    cmd = _command(work, db, actions)
    survived: Counter[str] = Counter()
    not_reached = torn = 0
    logs: list[Path] = []
    for i, point in enumerate(plan):
        log = work / f"run-{i:03d}.log"
        logs.append(log)
        if point["site"] == "delay":
            code = _run_once(cmd, log, None, startup * point["fraction"], forgetful)
        else:
            code = _run_once(cmd, log, point, None, forgetful)
        if code == -signal.SIGKILL:
            survived[point["site"]] += 1
            torn += _ends_torn(actions)
        elif code == 0:
            not_reached += 1  # the run got to its end before this point came
        else:
            raise RuntimeError(f"run {i} failed with {code}: {log.read_text()}")
    final = work / "final.log"
    logs.append(final)
    code = _run_once(cmd, final, None, None, forgetful)
    if code != 0:
        raise RuntimeError(f"the final run failed ({code}): {final.read_text()}")

    got_lines = actions.read_text(encoding="utf-8").splitlines()
    got = [json.loads(line) for line in got_lines]
    want_lines = reference.read_text(encoding="utf-8").splitlines()
    keys = Counter(a["key"] for a in got)
    by_key_got = {a["key"]: line for a, line in zip(got, got_lines, strict=True)}
    by_key_want = {a["key"]: line for a, line in zip(expected, want_lines, strict=True)}
    ref_states, states = _instances(work / "reference.sqlite"), _instances(db)
    ref_outbox, outbox = _outbox(work / "reference.sqlite"), _outbox(db)
    logs_text = [p.read_text(encoding="utf-8", errors="replace") for p in logs if p.exists()]
    return {
        "customers": size,
        "events": len(events),
        "actions": len(expected),
        "kills_planned": kills,
        "kills": sum(survived.values()),
        "kills_by_site": dict(sorted(survived.items())),
        "points_not_reached": not_reached,
        "restarts": len(plan) + 1,
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "lost": len(by_key_want.keys() - by_key_got.keys()),
        "unexpected": len(by_key_got.keys() - by_key_want.keys()),
        "actions_differing": sum(
            1 for k in by_key_want.keys() & by_key_got.keys() if by_key_want[k] != by_key_got[k]
        ),
        "instances": len(ref_states),
        "states_differing": sum(
            1 for k in ref_states.keys() | states.keys() if ref_states.get(k) != states.get(k)
        ),
        "outbox_differing": sum(
            1 for k in ref_outbox.keys() | outbox.keys() if ref_outbox.get(k) != outbox.get(k)
        ),
        "redeliveries_absorbed": sum(text.count(REDELIVERED) for text in logs_text),
        "torn_lines_left": torn,
        "torn_lines_dropped": sum(text.count(TORN_DROPPED) for text in logs_text),
        "startup_seconds": round(startup, 2),
    }


#: The figures that must be zero.
MUST_BE_ZERO = (
    "duplicates",
    "lost",
    "unexpected",
    "actions_differing",
    "states_differing",
    "outbox_differing",
)


def _extra(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--kills", type=int, default=100, help="how many SIGKILLs")
    parser.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    parser.add_argument(
        "--sites",
        nargs="+",
        choices=[s for s, _ in SITE_WEIGHTS],
        help="kill only at these sites (default: all)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when a must-be-zero figure is not zero."""
    figures = main_for("crash", run, argv, default_size=1000, extra=_extra)
    return 1 if any(figures[k] for k in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
