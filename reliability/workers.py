"""Worker campaign: ``journeydsl worker`` processes sharing one PostgreSQL database, SIGKILLed
and SIGSTOPped at random (stops longer than the lease), must together deliver exactly what one
``journeydsl run`` on SQLite delivers.

    python -m reliability.workers --size 10000 --workers 2 --faults 40
    python -m reliability.workers --size 10000 --workers 4 --faults 40 --only stop

The stream (:func:`reliability._common.stream`) has ``size`` customers running both example
journeys. A reference run goes through it on SQLite. Then ``workers`` worker processes start
together on a new database (``buckets`` buckets, leases of ``lease`` seconds), each given the
whole stream (``--events``: every worker puts it in the inbox; an event id is kept once) and
``--exit-when-idle --now UNTIL``. While they work, every 0.5 to 3 s (seeded; ``--gap`` is the
longest wait, the shortest is a sixth of it) one of them is SIGKILLed (and a new one started in
its place) or SIGSTOPped for 1.5 to 2.5 leases and then continued (the stop waits, up to 2 s,
for the worker to be in the middle of a step's transaction: it then pauses mid-step): by then
its buckets have been claimed by another worker, and its commit to them is fenced. The campaign
ends when every worker has exited (0: the database is done).

Figures: ``kills``, ``stops``; ``duplicates`` (action keys written twice), ``lost`` (reference
actions missing), ``unexpected``, ``actions_differing`` (same key, another line),
``unfinished`` (instances not ended, beyond the reference's), ``states_differing`` (instance
records that differ from the reference's; the times of their decision logs compared as
instants: a worker's delivery may note the same instant in UTC where the reference's notes it
in the customer's offset), ``fencing_rejections`` (commits refused because the
lease had moved on: the paused workers' stale writes), ``leases_lost``.

It needs a PostgreSQL server: ``JOURNEYDSL_TEST_DSN``'s, or a throwaway cluster started here
(tests/pgserver.py: Debian's binaries).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from journeydsl.runtime.stores.postgres import PostgresStore
from journeydsl.runtime.stores.sqlite import SQLiteStore
from reliability._common import JOURNEYS, ROOT, START, main_for, read_jsonl, stream, write_jsonl

#: The workers run on to this time after the stream, so every onboarding instance can end.
UNTIL = START + timedelta(days=60)
#: Faults the campaign can inject.
FAULTS = ("kill", "stop")


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A new database: on ``JOURNEYDSL_TEST_DSN``'s server, else on a throwaway cluster."""
    from tests.pgserver import PgServer, start_cluster

    dsn = os.environ.get("JOURNEYDSL_TEST_DSN")
    server = PgServer(dsn) if dsn else start_cluster()
    try:
        db = server.create_database()
        try:
            yield db
        finally:
            server.drop_database(db)
    finally:
        server.stop()


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _journeys(work: Path) -> list[Path]:
    """The example journeys, copied into ``work`` with their catalogs, and an ample fee-waiver
    budget: a budget that runs out is shared first come, first served, so which customers get
    its last waivers depends on the order the workers take the buckets in, where a single run
    has one order. With room for every waiver, the workers must deliver exactly what the single
    run does (the budget's exactness across workers is tested apart, in
    tests/runtime/test_budgets.py)."""
    folder = work / "journeys"
    folder.mkdir(exist_ok=True)
    for journey in JOURNEYS:
        for name in (journey.name, "events.yaml", "templates.yaml"):
            shutil.copyfile(journey.parent / name, folder / name)
    events = folder / "events.yaml"
    text = events.read_text(encoding="utf-8")
    ample = "total: 100_000_000 VND"
    if ample not in text:
        raise RuntimeError("examples/events.yaml: the fee_waivers budget is not where it was")
    events.write_text(text.replace(ample, "total: 1_000_000_000_000 VND"), encoding="utf-8")
    return [folder / j.name for j in JOURNEYS]


def _inputs(work: Path) -> list[str]:
    return [
        *(str(j) for j in _journeys(work)),
        "--events",
        str(work / "events.jsonl"),
        "--profiles",
        str(work / "profiles.jsonl"),
        "--now",
        UNTIL.isoformat(),
    ]


def _reference(work: Path) -> Path:
    actions = work / "reference.jsonl"
    cmd = [sys.executable, "-m", "journeydsl", "run", *_inputs(work)]
    cmd += ["--db", str(work / "reference.sqlite"), "--actions", str(actions)]
    done = subprocess.run(cmd, env=_env(), capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the reference run failed ({done.returncode}): {done.stderr}")
    return actions


class _Pool:
    """The worker processes, each with its log."""

    def __init__(self, work: Path, dsn: str, lease: int) -> None:
        self.dsn = dsn
        self.cmd = [sys.executable, "-m", "journeydsl", "worker", *_inputs(work)]
        self.cmd += ["--actions", str(work / "actions.jsonl")]
        self.cmd += ["--exit-when-idle", "--lease", f"{lease}s"]
        self.work = work
        self.running: list[subprocess.Popen[bytes]] = []
        self.logs: list[Path] = []
        #: The application name each worker's connection carries (for pg_stat_activity).
        self.names: dict[int, str] = {}

    def start(self) -> None:
        name = f"jd-campaign-worker-{len(self.logs)}"
        log = self.work / f"worker-{len(self.logs):03d}.log"
        self.logs.append(log)
        dsn = self.dsn + ("&" if "?" in self.dsn else "?") + f"application_name={name}"
        with log.open("wb") as err:
            proc = subprocess.Popen(
                [*self.cmd, "--db", dsn], stdout=subprocess.DEVNULL, stderr=err, env=_env()
            )
        self.running.append(proc)
        self.names[proc.pid] = name

    def wait_in_transaction(self, proc: subprocess.Popen[bytes], within: float) -> None:
        """Wait (at most ``within`` seconds) until ``proc`` is between two statements of an
        open transaction, having just read a customer's events (evaluating a step, before its
        commit, and holding no file lock): a SIGSTOP then lands mid-step, as a GC pause would,
        and its commit after the pause is what fencing must refuse."""
        import psycopg

        deadline = time.monotonic() + within
        with psycopg.connect(self.dsn, autocommit=True) as conn:
            while time.monotonic() < deadline and proc.poll() is None:
                row = conn.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s "
                    "AND state = 'idle in transaction' AND query LIKE 'SELECT %%FROM events%%'",
                    (self.names[proc.pid],),
                ).fetchone()
                if row and row[0]:
                    return
                time.sleep(0.001)

    def reap(self) -> None:
        """Forget the workers that exited; one that failed stops the campaign."""
        for proc in list(self.running):
            code = proc.poll()
            if code is None:
                continue
            self.running.remove(proc)
            if code not in (0, -signal.SIGKILL):
                raise RuntimeError(f"a worker failed ({code}); see the logs in {self.work}")

    def text(self) -> str:
        return "".join(p.read_text(encoding="utf-8", errors="replace") for p in self.logs)


def _chaos(
    pool: _Pool,
    rng: random.Random,
    faults: int,
    kinds: Sequence[str],
    times: tuple[float, float, float],
) -> Counter[str]:
    """Inject ``faults`` faults at seeded moments while the workers run; then let them end
    (within ``timeout`` seconds: ``times`` is ``(lease, gap, timeout)``)."""
    lease, gap, timeout = times
    done: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    while pool.running or not done:
        pool.reap()
        if not pool.running:
            break
        if time.monotonic() > deadline:
            for proc in pool.running:
                proc.kill()
            raise RuntimeError(f"the workers did not finish; see the logs in {pool.work}")
        if sum(done.values()) >= faults:
            time.sleep(0.2)
            continue
        time.sleep(rng.uniform(gap / 6, gap))
        pool.reap()
        if not pool.running:
            break
        victim = rng.choice(pool.running)
        kind = rng.choice(list(kinds))
        if kind == "kill":
            victim.send_signal(signal.SIGKILL)
            victim.wait()
            pool.running.remove(victim)
            pool.start()
        else:
            pool.wait_in_transaction(victim, 2.0)
            victim.send_signal(signal.SIGSTOP)
            time.sleep(lease * rng.uniform(1.5, 2.5))
            victim.send_signal(signal.SIGCONT)
        done[kind] += 1
    return done


def run(
    size: int,
    seed: int,
    workers: int = 2,
    faults: int = 10,
    only: str | None = None,
    lease: int = 2,
    buckets: int = 16,
    workdir: str | None = None,
    gap: float = 3.0,
    timeout: float = 1800.0,
) -> dict[str, Any]:
    """Run the campaign; returns the figures (see the module docstring)."""
    work = Path(workdir) if workdir else Path(tempfile.mkdtemp(prefix="jd-workers-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        with database() as dsn:
            times = (lease, gap, timeout)
            return _campaign(work, dsn, size, seed, workers, faults, only, buckets, times)
    finally:
        if workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _campaign(
    work: Path,
    dsn: str,
    size: int,
    seed: int,
    workers: int,
    faults: int,
    only: str | None,
    buckets: int,
    times: tuple[float, float, float],
) -> dict[str, Any]:
    lease = int(times[0])
    events, profiles = stream(size, seed)
    write_jsonl(work / "events.jsonl", events)
    write_jsonl(work / "profiles.jsonl", profiles)
    reference = _reference(work)
    with PostgresStore(dsn, buckets=buckets):
        pass  # (the database, created with its bucket count)
    started = time.monotonic()
    pool = _Pool(work, dsn, lease)
    for _ in range(workers):
        pool.start()
    done = _chaos(pool, random.Random(seed), faults, [only] if only else FAULTS, times)
    seconds = time.monotonic() - started
    got_lines = (work / "actions.jsonl").read_text(encoding="utf-8").splitlines()
    got = [json.loads(line) for line in got_lines if line.strip()]
    expected = read_jsonl(reference)
    want_lines = reference.read_text(encoding="utf-8").splitlines()
    keys = Counter(a["key"] for a in got)
    by_key_got = {a["key"]: json.dumps(a, sort_keys=True) for a in got}
    by_key_want = {a["key"]: json.dumps(a, sort_keys=True) for a in expected}
    with SQLiteStore(work / "reference.sqlite") as ref:
        ref_states = {r["id"]: _instants(r) for r in ref.all_instances()}
    with PostgresStore(dsn) as store:
        states = {r["id"]: _instants(r) for r in store.all_instances()}
        fenced = store.fencing_rejections()
    log = pool.text()
    return {
        "customers": size,
        "events": len(events),
        "actions": len(want_lines),
        "workers": workers,
        "buckets": buckets,
        "lease_seconds": lease,
        "kills": done["kill"],
        "stops": done["stop"],
        "processes": len(pool.logs),
        "duplicates": sum(n - 1 for n in keys.values() if n > 1),
        "lost": len(by_key_want.keys() - by_key_got.keys()),
        "unexpected": len(by_key_got.keys() - by_key_want.keys()),
        "actions_differing": sum(
            1 for k in by_key_want.keys() & by_key_got.keys() if by_key_want[k] != by_key_got[k]
        ),
        "instances": len(ref_states),
        "unfinished": sum(1 for r in states.values() if r["status"] != "ended")
        - sum(1 for r in ref_states.values() if r["status"] != "ended"),
        "states_differing": sum(
            1 for k in ref_states.keys() | states.keys() if ref_states.get(k) != states.get(k)
        ),
        "fencing_rejections": fenced,
        "leases_lost": sum(int(n) for n in re.findall(r"(\d+) lost, ", log)),
        "workers_seconds": round(seconds, 1),
    }


def _instants(record: Any) -> dict[str, Any]:
    """``record`` with the time of each decision-log entry as the instant it names (UTC)."""
    log = [
        {**e, "at": datetime.fromisoformat(e["at"]).astimezone(UTC).isoformat()}
        if isinstance(e.get("at"), str)
        else e
        for e in record.get("log") or []
    ]
    return {**record, "log": log}


#: The figures that must be zero.
MUST_BE_ZERO = (
    "duplicates",
    "lost",
    "unexpected",
    "actions_differing",
    "unfinished",
    "states_differing",
)


def _extra(parser: Any) -> None:
    parser.add_argument("--workers", type=int, default=2, help="how many worker processes")
    parser.add_argument("--faults", type=int, default=10, help="how many kills and stops")
    parser.add_argument("--only", choices=FAULTS, help="inject only this kind of fault")
    parser.add_argument("--lease", type=int, default=2, help="the lease, in whole seconds")
    parser.add_argument("--buckets", type=int, default=16, help="the database's bucket count")
    parser.add_argument(
        "--gap", type=float, default=3.0, help="at most this many seconds between faults"
    )
    parser.add_argument("--workdir", help="keep the files here (default: a temporary folder)")
    parser.add_argument(
        "--timeout",
        type=float,
        default=1800.0,
        help="give up (and fail) when the workers have not finished after this many seconds "
        "(default 1800; 10,000 customers take longer on two cores)",
    )


def main(argv: Sequence[str] | None = None) -> int:
    """The command line; exit 1 when a must-be-zero figure is not zero."""
    figures = main_for("workers", run, argv, default_size=10000, extra=_extra)
    return 1 if any(figures[k] for k in MUST_BE_ZERO) else 0


if __name__ == "__main__":
    sys.exit(main())
