"""Workers sharing a PostgreSQL database: customers in a fixed number of buckets, leases claimed
with SKIP LOCKED up to a fair share and given back when others join, every commit fenced on the
worker's lease epoch, the inbox, draining on SIGTERM, and several `journeydsl worker`
processes delivering exactly what one SQLite `journeydsl run` delivers."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.cli import main
from journeydsl.cli.run import _action_handlers
from journeydsl.compiler import compile_file
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.records import InstanceRecord
from journeydsl.runtime.stores.postgres import (
    LeaseLostError,
    Ownership,
    PostgresStore,
    StoreUnavailable,
    bucket_of,
)
from journeydsl.runtime.worker import SystemClock, Worker, WorkerHealth
from tests.runtime.test_run_cli import EVENTS, JOURNEYS, PROFILES, jsonl

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
NOW = "2026-02-20T00:00:00+07:00"
LEASE = timedelta(seconds=30)


def _reap(proc: subprocess.Popen[str]) -> None:
    """Kill a worker process still running and close its pipes."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=60)
    for pipe in (proc.stdin, proc.stderr):
        if pipe is not None:
            pipe.close()


def _customer_in(store: PostgresStore, bucket: int) -> str:
    """A customer id of ``bucket``."""
    return next(c for n in range(10_000) if store.bucket(c := f"c-{n}") == bucket)


def _expire(store: PostgresStore, bucket: int) -> None:
    store._conn.execute(
        "UPDATE leases SET expires_at = clock_timestamp() - interval '1 second' WHERE bucket = %s",
        (bucket,),
    )


def _record(customer: str) -> InstanceRecord:
    return {  # type: ignore[typeddict-item]
        "id": f"i-{customer}",
        "customer_id": customer,
        "journey": "j",
        "version": 1,
        "status": "ended",
        "outcome": None,
        "node": None,
        "due": None,
        "log": [],
    }


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.text(st.characters(blacklist_characters="\x00\uffff", blacklist_categories=["Cs"])))
def test_the_sql_bucket_function_agrees_with_python(pg_store_8: PostgresStore, text: str) -> None:
    """journeydsl_bucket(text) in SQL (what producers insert into the inbox with) gives the
    bucket bucket_of gives in Python, for any customer id."""
    row = pg_store_8._conn.execute("SELECT journeydsl_bucket(%s)", (text,)).fetchone()
    assert row is not None
    assert row[0] == bucket_of(text, 8) == pg_store_8.bucket(text)


@pytest.fixture
def pg_store_8(pg_dsn: str) -> Iterator[PostgresStore]:
    """A store over a new database of 8 buckets (closed at the end)."""
    with PostgresStore(pg_dsn, buckets=8) as store:
        yield store


def test_the_bucket_count_is_fixed_when_the_database_is_created(pg_dsn: str) -> None:
    """A database created with 8 buckets keeps 8 (one lease row each); asking for another
    count later is refused, naming the database."""
    with PostgresStore(pg_dsn, buckets=8) as store:
        assert store.buckets == 8
        assert [b for b, *_ in store.leases()] == list(range(8))
    with PostgresStore(pg_dsn) as again:
        assert again.buckets == 8
    with pytest.raises(StoreUnavailable, match="it has 8 buckets, fixed when it was created"):
        PostgresStore(pg_dsn, buckets=16)


def test_workers_share_the_buckets_fairly_and_rebalance(pg_store_8: PostgresStore) -> None:
    """Alone, a worker claims every bucket; when a second joins, the first gives back what
    exceeds its fair share on its next renewal and the second claims it (each claim bumps the
    bucket's epoch); when one releases, the other takes everything."""
    store = pg_store_8
    a, b = Ownership("a"), Ownership("b")
    gained, lost = store.claim(a, LEASE)
    assert len(gained) == 8
    assert not lost
    assert store.claim(b, LEASE) == (set(), set())  # a holds them all, unexpired
    store.claim(a, LEASE)  # two live workers: a keeps 4
    assert len(a.epochs) == 4
    gained, _ = store.claim(b, LEASE)
    assert len(gained) == 4
    assert set(a.epochs).isdisjoint(b.epochs)
    assert all(e == 2 for e in b.epochs.values())  # claimed by a, then by b
    store.release_leases(b)
    assert not b.epochs
    store.heartbeat("a", LEASE)
    store.claim(a, LEASE)
    assert len(a.epochs) == 8


def test_an_expired_lease_is_claimed_by_another_worker(pg_store_8: PostgresStore) -> None:
    """A lease left to expire (its worker paused or dead) is claimed by a live worker at the
    next epoch; the paused worker learns on renewal that it lost it."""
    store = pg_store_8
    a, b = Ownership("a"), Ownership("b")
    store.claim(a, LEASE)
    _expire(store, 3)
    store._conn.execute("DELETE FROM workers WHERE id = 'a'")  # (a is not live any more)
    gained, _ = store.claim(b, LEASE)
    assert 3 in gained
    assert b.epochs[3] == a.epochs[3] + 1
    _, lost = store.claim(a, LEASE)
    assert 3 in lost
    assert 3 not in a.epochs


def test_a_commit_after_the_lease_was_lost_is_fenced_and_rolled_back(
    pg_store_8: PostgresStore, pg_dsn: str
) -> None:
    """A worker whose bucket another worker claimed (it was paused past its lease) cannot
    commit to it: its commit raises LeaseLostError naming the bucket, writes nothing, and is
    counted; nor can it write the bucket's segment schedule; its commits to the buckets it
    still holds go through."""
    paused = pg_store_8
    a = Ownership("a")
    paused.claim(a, timedelta(seconds=30))
    paused.ownership = a
    lost_customer = _customer_in(paused, 5)
    kept_customer = _customer_in(paused, 6)
    _expire(paused, 5)
    with PostgresStore(pg_dsn) as other:
        b = Ownership("b")
        other._conn.execute("DELETE FROM workers WHERE id = 'a'")
        assert 5 in other.claim(b, LEASE)[0]
    with pytest.raises(LeaseLostError, match="bucket 5 was lost"):
        paused.commit([_record(lost_customer)], [], processed_event="e-1")
    with paused.scoped([5]), pytest.raises(LeaseLostError):  # a bucket's segment schedule
        paused.commit([], [], meta={"segment:j:Asia/Ho_Chi_Minh": "2026-03-01T09:00:00+07:00"})
    with paused.scoped([5]):
        assert paused.get_meta("segment:j:Asia/Ho_Chi_Minh") is None
    paused.count_fenced()
    assert a.fenced == 2
    assert 5 not in a.epochs
    assert paused.fencing_rejections() == 1
    assert not paused.processed("e-1")
    assert paused.instances_of(lost_customer) == []
    paused.commit([_record(kept_customer)], [])
    assert [i["id"] for i in paused.instances_of(kept_customer)] == [f"i-{kept_customer}"]


def test_a_quarantine_write_after_the_lease_was_lost_is_fenced(
    pg_store_8: PostgresStore, pg_dsn: str
) -> None:
    """A worker whose bucket another claimed cannot quarantine an event of it (the stale and
    the new owner would count it twice): LeaseLostError, nothing kept; scoped to a bucket it
    still holds, or for a customer of one, the write goes through."""
    paused = pg_store_8
    a = Ownership("a")
    paused.claim(a, timedelta(seconds=30))
    paused.ownership = a
    lost_customer = _customer_in(paused, 5)
    _expire(paused, 5)
    with PostgresStore(pg_dsn) as other:
        other._conn.execute("DELETE FROM workers WHERE id = 'a'")
        assert 5 in other.claim(Ownership("b"), LEASE)[0]
    seen = datetime(2026, 3, 1, tzinfo=UTC)
    bad = json.dumps({"customer_id": lost_customer, "type": "nope"})
    with paused.scoped([5]), pytest.raises(LeaseLostError, match="bucket 5 was lost"):
        paused.quarantine("e-bad", bad, "unknown event type", seen)
    with pytest.raises(LeaseLostError):  # (unscoped: the bucket of the event's customer)
        paused.quarantine("e-bad", bad, "unknown event type", seen)
    assert paused.quarantined() == []
    assert a.fenced == 2
    kept = json.dumps({"customer_id": _customer_in(paused, 6), "type": "nope"})
    paused.quarantine("e-kept", kept, "unknown event type", seen)
    with paused.scoped([6]):
        paused.quarantine("line:1", "not json", "not JSON", seen)
    assert [q.event_id for q in paused.quarantined()] == ["e-kept", "line:1"]


def test_a_store_without_leases_is_not_fenced(pg_store_8: PostgresStore) -> None:
    """`journeydsl run`'s store (no ownership) writes any bucket: fencing is the workers'."""
    pg_store_8.commit([_record("c-1")], [])
    assert pg_store_8.instances_of("c-1")


def _journeys() -> list:  # type: ignore[type-arg]
    journeys = []
    for path in JOURNEYS:
        result = compile_file(path)
        assert result.journey is not None
        journeys.append(result.journey)
    return journeys


def _live_worker(journeys: list[Any], store: PostgresStore, sink: FileChannel) -> Worker:
    """A worker of ``journeys`` on the system clock over ``store``, writing to ``sink``, with
    the tests' short lease and poll."""
    return Worker(
        journeys,
        store=store,
        **_sinks(journeys, sink),
        clock=SystemClock(),
        lease=LEASE,
        poll=0.01,
    )


def _issued_at(customer_id: str, event_id: str, at: str) -> dict[str, Any]:
    """A card_issued event of ``customer_id`` at ``at``."""
    return {
        "id": event_id,
        "customer_id": customer_id,
        "type": "card_issued",
        "at": at,
        "data": {"card_id": "k1", "product": "gold"},
    }


def _until_it_holds_buckets(store: PostgresStore, proc: subprocess.Popen[str]) -> None:
    """Wait until the worker process ``proc`` holds a bucket of ``store`` (it is running)."""
    deadline = time.monotonic() + 120
    while not any(owner for _, owner, _, _ in store.leases()):
        assert time.monotonic() < deadline
        assert proc.poll() is None
        time.sleep(0.1)


def _sinks(journeys: list[Any], sink: FileChannel) -> dict[str, Any]:
    """The channels, ticket sink and action handlers of ``journeys``, all writing to ``sink``
    (as `journeydsl worker` wires them)."""
    return {
        "channels": dict.fromkeys(("email", "sms", "zns", "push"), sink),
        "tickets": sink,
        "actions": _action_handlers(journeys, sink),
    }


def test_a_worker_refuses_journeys_it_cannot_share(
    pg_store_8: PostgresStore, tmp_path: Path
) -> None:
    """An entry rate counts entries across customers in one engine: a worker refuses a journey
    under one at start, naming it, rather than run it differently."""
    from journeydsl.runtime.policies.loader import load_policies

    rates = tmp_path / "policies.yaml"
    rates.write_text("entry_rates:\n  - journey: dormant_reactivation\n    max: 10\n    per: 1d\n")
    with pytest.raises(ValueError, match=r"workers do not run .*dormant_reactivation \(entry"):
        Worker(_journeys(), store=pg_store_8, policies=load_policies(rates))


def test_a_worker_runs_journeys_the_rules_it_cannot_share_do_not_name(
    pg_store_8: PostgresStore, tmp_path: Path
) -> None:
    """A bank's one policy file has an entry rate for another journey and a queue no journey
    of the worker tickets to: a worker in event time runs onboarding under it all the same."""
    from journeydsl.runtime.policies.loader import load_policies

    shared = tmp_path / "policies.yaml"
    shared.write_text(
        "entry_rates: [{journey: dormant_reactivation, max: 10, per: 1d}]\n"
        "queues: [{queue: relationship_manager, capacity: 40}]\n"
    )
    telesales = tmp_path / "telesales.yaml"
    telesales.write_text("queues: [{queue: telesales, capacity: 40}]\n")
    onboarding = [j for j in _journeys() if j.id == "onboarding_new_cardholder"]
    with FileChannel(tmp_path / "a.jsonl") as sink:
        channels = dict.fromkeys(("email", "sms", "zns", "push"), sink)
        actions = _action_handlers(onboarding, sink)
        worker = Worker(
            onboarding,
            store=pg_store_8,
            channels=channels,
            tickets=sink,
            actions=actions,
            policies=load_policies(shared),
        )
        assert worker.health().state != "running"
        with pytest.raises(ValueError, match=r"ticket queue telesales \(a daily capacity"):
            Worker(
                onboarding,
                store=pg_store_8,
                channels=channels,
                tickets=sink,
                actions=actions,
                policies=load_policies(telesales),
            )


def test_a_stopped_worker_releases_its_leases_and_reports_health(
    pg_store_8: PostgresStore, tmp_path: Path
) -> None:
    """Worker.run returns once stop() is called (here from the feed, as a signal handler
    would between steps), releasing every lease; health() reports its state and counts."""
    store = pg_store_8
    journeys = _journeys()
    with FileChannel(tmp_path / "a.jsonl") as sink:
        worker = _live_worker(journeys, store, sink)
        seen: list[WorkerHealth] = []

        def feed() -> list[bytes]:
            seen.append(worker.health())
            if len(seen) == 2:
                worker.stop()
            return []

        worker.run(feed=feed)
    assert seen[1].state == "running"
    assert seen[1].ok
    assert seen[1].buckets == 8
    assert worker.health().state == "stopped"
    assert not worker.health().ok
    assert all(owner is None for _, owner, _, _ in store.leases())


def worker_argv(
    dsn: str,
    events: Path,
    profiles: Path,
    actions: Path,
    journeys: list[str] = JOURNEYS,
    now: str = NOW,
) -> list[str]:
    """`journeydsl worker JOURNEYS …` over an events file, to exit when idle at ``now``."""
    return [
        "worker",
        *journeys,
        "--db",
        dsn,
        "--events",
        str(events),
        "--profiles",
        str(profiles),
        "--actions",
        str(actions),
        "--exit-when-idle",
        "--now",
        now,
    ]


def _sqlite_reference(tmp_path: Path, events: Path, profiles: Path) -> list[str]:
    actions = tmp_path / "sqlite.jsonl"
    argv = ["run", *JOURNEYS, "--db", str(tmp_path / "s.sqlite"), "--events", str(events)]
    assert main([*argv, "--profiles", str(profiles), "--actions", str(actions), "--now", NOW]) == 0
    return sorted(actions.read_text().splitlines())


def test_one_worker_delivers_what_a_sqlite_run_delivers(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`journeydsl worker --exit-when-idle` over a stream (bad lines included) gives the
    actions file of a SQLite `journeydsl run` of the same stream, and quarantines the same."""
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    reference = _sqlite_reference(tmp_path, events, profiles)
    capsys.readouterr()
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    actions = tmp_path / "worker.jsonl"
    code = main(worker_argv(pg_dsn, events, profiles, actions))
    err = capsys.readouterr().err
    assert code == 0, err
    assert sorted(actions.read_text().splitlines()) == reference
    assert "3 quarantined" in err
    assert "0 commits fenced" in err
    with PostgresStore(pg_dsn) as store:
        assert len(store.quarantined()) == 3
        assert store._conn.execute("SELECT count(*) FROM inbox").fetchone() == (0,)


def test_the_journeys_may_be_given_as_an_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`journeydsl worker --db DSN --journeys J1 J2 …` is the positional form spelled as an
    option: the same actions file; with no journey at all, exit 2 saying what to give."""
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    reference = _sqlite_reference(tmp_path, events, profiles)
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    actions = tmp_path / "worker.jsonl"
    argv = worker_argv(pg_dsn, events, profiles, actions, journeys=[])
    assert main([*argv, "--journeys", *JOURNEYS]) == 0
    assert sorted(actions.read_text().splitlines()) == reference
    capsys.readouterr()
    assert main(argv) == 2
    assert "give the journeys to run" in capsys.readouterr().err


def test_two_worker_processes_deliver_what_one_sqlite_run_delivers(
    tmp_path: Path, pg_dsn: str
) -> None:
    """Two `journeydsl worker` processes over one database and one input, started together,
    share the buckets and together write the actions file of one SQLite run: no line twice,
    none missing."""
    from reliability._common import stream, write_jsonl

    raw_events, raw_profiles = stream(24, 11)
    events = write_jsonl(tmp_path / "events.jsonl", raw_events)
    profiles = write_jsonl(tmp_path / "profiles.jsonl", raw_profiles)
    reference = _sqlite_reference(tmp_path, events, profiles)
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    actions = tmp_path / "workers.jsonl"
    lines = run_workers(worker_argv(pg_dsn, events, profiles, actions), 2, actions)
    assert sorted(lines) == reference
    assert len(reference) > 20


def run_workers(argv: list[str], n: int, actions: Path) -> list[str]:
    """Start ``n`` `journeydsl worker` processes with ``argv`` together, wait for them to exit
    0, and return the lines of their shared actions file (asserting none is there twice)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "journeydsl", *argv]
    procs = [
        subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True) for _ in range(n)
    ]
    outs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * n, outs
    lines = actions.read_text().splitlines()
    assert len(lines) == len(set(lines))
    return lines


def test_sigterm_drains_a_worker_which_exits_0_and_releases_its_leases(
    tmp_path: Path, pg_dsn: str
) -> None:
    """A live worker (no --exit-when-idle) runs until SIGTERM; then it finishes its step,
    gives its leases back and exits 0."""
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "journeydsl", "worker", *JOURNEYS, "--db", pg_dsn]
    proc = subprocess.Popen(
        [*argv, "--actions", str(tmp_path / "a.jsonl")], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        with PostgresStore(pg_dsn) as store:
            _until_it_holds_buckets(store, proc)
            proc.send_signal(signal.SIGTERM)
            err = proc.communicate(timeout=60)[1]
            assert proc.returncode == 0, err
            assert all(owner is None for _, owner, _, _ in store.leases())
            assert "4 bucket leases claimed" in err
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_needs_a_postgresql_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`journeydsl worker --db state.sqlite` is a usage error that says why."""
    argv = ["worker", *JOURNEYS, "--db", str(tmp_path / "s.sqlite"), "--actions", "a.jsonl"]
    assert main(argv) == 2
    assert "--db must name a PostgreSQL database" in capsys.readouterr().err


def test_a_live_worker_takes_events_as_they_come(pg_store_8: PostgresStore, tmp_path: Path) -> None:
    """On the system clock, a worker takes an event put in the inbox a minute ago, at once (the
    welcome email leaves), and with exit_when_idle returns once nothing is due by now."""
    store = pg_store_8
    profile = PROFILES[0]
    jsonl(tmp_path / "p.jsonl", [profile])
    store.load_profiles_jsonl(tmp_path / "p.jsonl")
    at = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    issued = _issued_at(profile["customer_id"], "live-1", at)
    journeys = _journeys()
    with FileChannel(tmp_path / "a.jsonl") as sink:
        worker = _live_worker(journeys, store, sink)
        assert worker.put([json.dumps(issued), "not json"]) == 2
        worker.run(exit_when_idle=True)
    sent = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert [a["template"] for a in sent] == ["welcome_activation_guide"]
    assert worker.health().events == 1
    assert worker.health().quarantined == 1


def test_a_running_worker_serves_its_metrics_and_health(tmp_path: Path, pg_dsn: str) -> None:
    """`journeydsl worker --metrics-port 0` serves Prometheus metrics (events, fencing, leases,
    backlogs …), /healthz and /readyz while it runs; a scrape sees the leases it holds."""
    import urllib.request

    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "journeydsl", "worker", *JOURNEYS, "--db", pg_dsn]
    argv += ["--actions", str(tmp_path / "a.jsonl"), "--metrics-port", "0"]
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        match = re.search(r"metrics on (http://127\.0\.0\.1:\d+)/metrics", line)
        assert match, line
        base = match.group(1)
        deadline = time.monotonic() + 120
        while True:
            with urllib.request.urlopen(f"{base}/metrics", timeout=10) as page:
                metrics = page.read().decode()
            if "journeydsl_worker_leases_held 4.0" in metrics:
                break
            assert time.monotonic() < deadline, metrics
            time.sleep(0.1)
        for name in (
            "journeydsl_worker_events_total",
            "journeydsl_worker_quarantined_total",
            "journeydsl_worker_moved_total",
            "journeydsl_worker_fencing_rejections_total",
            "journeydsl_worker_leases_lost_total",
            "journeydsl_worker_inbox_backlog",
            "journeydsl_worker_outbox_backlog",
            "journeydsl_worker_buckets 4.0",
            "journeydsl_worker_up 1.0",
        ):
            assert name in metrics
        with urllib.request.urlopen(f"{base}/healthz", timeout=10) as page:
            assert page.status == 200
        with urllib.request.urlopen(f"{base}/readyz", timeout=10) as page:
            assert page.read() == b"running\n"
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=60)
        assert proc.returncode == 0
    finally:
        if proc.poll() is None:
            proc.kill()


def test_a_worker_reads_its_events_from_stdin(tmp_path: Path, pg_dsn: str) -> None:
    """`journeydsl worker --events - --exit-when-idle` puts what stdin carries into the inbox
    and delivers the SQLite run's actions file."""
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    reference = _sqlite_reference(tmp_path, events, profiles)
    actions = tmp_path / "stdin.jsonl"
    argv = worker_argv(pg_dsn, Path("-"), profiles, actions)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-m", "journeydsl", *argv, "--migrate", "--buckets", "4"],
        input=events.read_bytes(),
        env=env,
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()
    assert sorted(actions.read_text().splitlines()) == reference


def test_a_batch_worker_without_now_runs_on_to_the_latest_event(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`journeydsl worker --exit-when-idle` without --now fires everything due until the latest
    event taken, as a SQLite `journeydsl run` without --now does (not only what fell between a
    bucket's own events)."""
    from tests.runtime.test_run_cli import event

    rows = [
        event("c-002", "card_issued", "2026-01-05T04:00:00Z", card_id="k2", product="gold"),
        event("c-001", "card_issued", "2026-01-20T10:00:00+07:00", card_id="k1", product="gold"),
    ]
    events = jsonl(tmp_path / "events.jsonl", rows)
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    reference = tmp_path / "sqlite.jsonl"
    argv = ["run", JOURNEYS[0], "--db", str(tmp_path / "s.sqlite"), "--events", str(events)]
    assert main([*argv, "--profiles", str(profiles), "--actions", str(reference)]) == 0
    expected = sorted(reference.read_text().splitlines())
    assert any('"activation_reminder"' in line for line in expected)
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    actions = tmp_path / "worker.jsonl"
    argv = worker_argv(pg_dsn, events, profiles, actions, journeys=[JOURNEYS[0]])
    assert main(argv[: argv.index("--now")]) == 0, capsys.readouterr().err
    assert sorted(actions.read_text().splitlines()) == expected


def test_a_metrics_port_in_use_is_one_line_and_claims_nothing(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`journeydsl worker --metrics-port PORT` on a port another process listens on exits 2
    with one line naming the port (no traceback), before it claims any bucket."""
    import socket

    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    capsys.readouterr()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        argv = ["worker", *JOURNEYS, "--db", pg_dsn, "--actions", str(tmp_path / "a.jsonl")]
        assert main([*argv, "--metrics-port", str(port)]) == 2
    err = capsys.readouterr().err
    assert f"--metrics-port {port}: cannot serve on 127.0.0.1:{port}" in err
    assert "Traceback" not in err
    with PostgresStore(pg_dsn) as store:
        assert all(owner is None for _, owner, _, _ in store.leases())


@pytest.mark.parametrize("port", ["-1", "65536", "99999"])
def test_a_metrics_port_out_of_range_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, port: str
) -> None:
    """`--metrics-port` outside 0..65535 is refused (exit 2) with one line, before the
    database is opened."""
    argv = ["worker", *JOURNEYS, "--db", "postgresql://nobody@127.0.0.1:1/none"]
    assert main([*argv, "--actions", str(tmp_path / "a.jsonl"), "--metrics-port", port]) == 2
    err = capsys.readouterr().err
    assert f"--metrics-port {port} is not a TCP port" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("lease", ["0s", "0d"])
def test_a_lease_too_short_to_renew_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_store_8: PostgresStore, lease: str
) -> None:
    """`journeydsl worker --lease 0s` (a lease that expires as it is claimed, so the workers
    would take each other's buckets at every step) is a usage error saying the shortest, and
    a Worker refuses such a lease; neither claims a bucket."""
    journey = compile_file(JOURNEYS[0]).journey
    assert journey is not None
    with pytest.raises(ValueError, match="at least 1s"):
        Worker([journey], store=pg_store_8, lease=timedelta(0))
    argv = ["worker", *JOURNEYS, "--db", pg_store_8.dsn, "--actions", str(tmp_path / "a.jsonl")]
    assert main([*argv, "--lease", lease, "--exit-when-idle"]) == 2
    assert f"--lease {lease} is too short" in capsys.readouterr().err
    assert all(owner is None for _, owner, _, _ in pg_store_8.leases())


def test_a_run_and_workers_never_share_a_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """While a Worker is open on a database, `journeydsl run` on it is refused (exit 2, naming
    the workers) before it writes anything; while a run holds it, a Worker is refused
    (DatabaseLocked) and `journeydsl worker` exits 2 naming the run. Workers share it among
    themselves."""
    from journeydsl.runtime.stores.postgres import DatabaseLocked

    journeys = _journeys()
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    run = ["run", *JOURNEYS, "--db", pg_dsn, "--events", str(events)]
    run += ["--actions", str(tmp_path / "run.jsonl")]
    sink = FileChannel(tmp_path / "a.jsonl")
    handlers = _sinks(journeys, sink)
    with sink, PostgresStore(pg_dsn, buckets=4) as one, PostgresStore(pg_dsn) as two:
        Worker(journeys, store=one, **handlers)
        Worker(journeys, store=two, **handlers)
        capsys.readouterr()
        assert main(run) == 2
        assert "is in use by journeydsl workers" in capsys.readouterr().err
        assert not (tmp_path / "run.jsonl").exists()
    with PostgresStore(pg_dsn, writer_lock=True), PostgresStore(pg_dsn) as other:
        with pytest.raises(DatabaseLocked, match="a `journeydsl run`"):
            Worker(journeys, store=other, **handlers)
        worker = ["worker", *JOURNEYS, "--db", pg_dsn, "--actions", str(tmp_path / "w.jsonl")]
        assert main([*worker, "--exit-when-idle"]) == 2
        assert "in use by another journeydsl writer, a `journeydsl run`" in capsys.readouterr().err
    assert main(run) == 0


def test_workers_replay_the_quarantined_events_an_operator_marks(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """`journeydsl quarantine replay --db DSN` (no journeys) marks the quarantined events, and
    the workers of the database take them again, each under its bucket's lease: a live worker's
    event quarantined too late (two days old) is processed on replay and leaves the quarantine;
    a line that is still no event stays, counted once more."""
    profile: dict[str, Any] = PROFILES[0]
    at = (datetime.now(UTC) - timedelta(days=2)).isoformat()
    issued = _issued_at(profile["customer_id"], "late-1", at)
    journeys = _journeys()

    def run_worker(store: PostgresStore, lines: list[str]) -> WorkerHealth:
        with FileChannel(tmp_path / "a.jsonl") as sink:
            worker = _live_worker(journeys, store, sink)
            worker.put(lines)
            worker.run(exit_when_idle=True)
        return worker.health()

    with PostgresStore(pg_dsn, buckets=4) as store:
        store.load_profiles_jsonl(jsonl(tmp_path / "p.jsonl", [profile]))
        first = run_worker(store, [json.dumps(issued), "not json"])
        assert (first.events, first.quarantined) == (0, 2)
        assert "too_late" in store.quarantined("late-1")[0].reason
    assert not (tmp_path / "a.jsonl").read_text()
    assert main(["quarantine", "replay", "--db", pg_dsn]) == 0
    assert "2 quarantined events marked" in capsys.readouterr().out
    with PostgresStore(pg_dsn) as store:
        again = run_worker(store, [])
        assert (again.events, again.quarantined) == (1, 1)
        left = store.quarantined()
        assert [(q.event, q.count, q.replay) for q in left] == [("not json", 2, False)]
        entered = store.instances_of(profile["customer_id"])
        assert [r["journey"] for r in entered] == ["onboarding_new_cardholder"]


def test_sigterm_drains_a_worker_reading_stdin_which_exits_0(tmp_path: Path, pg_dsn: str) -> None:
    """A live `journeydsl worker --events -` whose stdin stays open (a producer that sends
    nothing yet) drains on SIGTERM and exits 0: the thread blocked reading stdin does not abort
    the interpreter at exit."""
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "journeydsl", "worker", *JOURNEYS, "--db", pg_dsn]
    argv += ["--actions", str(tmp_path / "a.jsonl"), "--events", "-"]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with PostgresStore(pg_dsn) as store:
            _until_it_holds_buckets(store, proc)
            proc.send_signal(signal.SIGTERM)
            assert proc.stderr is not None
            err = proc.stderr.read()
            proc.wait(timeout=60)
            assert proc.returncode == 0, err
            assert "Fatal Python error" not in err
            assert all(owner is None for _, owner, _, _ in store.leases())
    finally:
        _reap(proc)


def test_now_is_refused_for_a_live_worker(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_store_8: PostgresStore
) -> None:
    """`journeydsl worker --now T` on the system clock (the default without --exit-when-idle,
    or --clock system) is a usage error, not silently ignored; Worker.run(until=…) on a live
    worker raises ValueError. Neither claims a bucket."""
    argv = ["worker", *JOURNEYS, "--db", pg_store_8.dsn, "--actions", str(tmp_path / "a.jsonl")]
    for extra in ([], ["--exit-when-idle", "--clock", "system"]):
        assert main([*argv, *extra, "--now", NOW]) == 2
        assert "--now is for event time" in capsys.readouterr().err
    journeys = _journeys()
    with FileChannel(tmp_path / "b.jsonl") as sink:
        worker = Worker(
            journeys,
            store=pg_store_8,
            **_sinks(journeys, sink),
            clock=SystemClock(),
        )
        with pytest.raises(ValueError, match="until is for a worker in event time"):
            worker.run(exit_when_idle=True, until=datetime.fromisoformat(NOW))
    assert all(owner is None for _, owner, _, _ in pg_store_8.leases())


def test_a_worker_refuses_stdout_as_its_actions_file(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`journeydsl worker --actions -` is a usage error (exit 2, one line) and writes no file
    named `-`: the actions file is read back to deduplicate."""
    monkeypatch.chdir(tmp_path)
    argv = ["worker", *JOURNEYS, "--db", "postgresql://nobody@127.0.0.1:1/none", "--actions", "-"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--actions must name a file, not - (stdout)" in err
    assert not (tmp_path / "-").exists()


def test_a_worker_refuses_a_journey_changed_without_a_new_version(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """A journey file edited without a new version while its instances run in the database is
    refused as `journeydsl run` refuses it: `journeydsl worker` exits 2 with one line naming the
    database and the journey, a Worker raises JourneyChangedError, and no lease is claimed; the
    unchanged file is taken."""
    from journeydsl.runtime.pinning import JourneyChangedError
    from journeydsl.testing import RecordingChannel
    from tests.runtime.test_pinning import PATHS, _issued

    for name in ("events.yaml", "templates.yaml"):
        (tmp_path / name).write_text((ROOT / "examples" / name).read_text("utf-8"), "utf-8")
    journey = tmp_path / "paths.journey"
    journey.write_text(PATHS.format(wait="wait 1d", version=""), encoding="utf-8")
    events = jsonl(tmp_path / "events.jsonl", [_issued()])
    actions = str(tmp_path / "actions.jsonl")
    run = ["run", str(journey), "--db", pg_dsn, "--migrate", "--events", str(events)]
    assert main([*run, "--actions", actions, "--now", "2026-01-05T12:00:00+07:00"]) == 0
    journey.write_text(PATHS.format(wait="nudge: wait 2d", version=""), encoding="utf-8")
    capsys.readouterr()
    worker = ["worker", str(journey), "--db", pg_dsn, "--actions", actions, "--exit-when-idle"]
    assert main(worker) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("journeydsl: error: postgresql://")
    assert ": journey 'paths' version 1 is not the graph its 1 running instance" in err
    changed = compile_file(journey).journey
    assert changed is not None
    channels = {"zns": RecordingChannel("zns")}
    with PostgresStore(pg_dsn) as store:
        with pytest.raises(JourneyChangedError, match="`version 2`"):
            Worker([changed], store=store, channels=channels)
        assert all(owner is None for _, owner, _, _ in store.leases())
        journey.write_text(PATHS.format(wait="wait 1d", version=""), encoding="utf-8")
        unchanged = compile_file(journey).journey
        assert unchanged is not None
        Worker([unchanged], store=store, channels=channels)


def test_sigterm_while_a_worker_starts_exits_0_having_claimed_nothing(
    tmp_path: Path, pg_dsn: str
) -> None:
    """SIGTERM while a worker starts (reading stdin) exits 0 having claimed nothing."""
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    argv = [sys.executable, "-m", "journeydsl", "worker", *JOURNEYS, "--db", pg_dsn]
    argv += ["--actions", str(tmp_path / "a.jsonl"), "--events", "-", "--exit-when-idle"]
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        with PostgresStore(pg_dsn) as store:
            deadline = time.monotonic() + 120
            while store.get_meta("graph:onboarding_new_cardholder:1") is None:  # (Worker built)
                assert time.monotonic() < deadline
                assert proc.poll() is None
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            assert proc.stderr is not None
            err = proc.stderr.read()
            proc.wait(timeout=60)
            assert proc.returncode == 0, err
            assert "Traceback" not in err
            assert err.strip().splitlines()[-1] == (
                "journeydsl worker: stopped while starting: no bucket was claimed; the events "
                "put so far wait in the inbox"
            )
            assert all(owner is None for _, owner, _, _ in store.leases())
    finally:
        _reap(proc)
    events = jsonl(tmp_path / "events.jsonl", EVENTS)
    run = ["run", *JOURNEYS, "--db", pg_dsn, "--events", str(events)]
    assert main([*run, "--actions", str(tmp_path / "run.jsonl")]) == 0


def test_workers_reading_one_file_quarantine_and_count_a_bad_line_once(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """Workers given one events file quarantine and count each bad line once in all."""
    bad = {"id": "e-bad", "customer_id": "c-001", "type": "nope", "at": NOW, "data": {}}
    events = jsonl(tmp_path / "events.jsonl", [*EVENTS, bad])
    profiles = jsonl(tmp_path / "profiles.jsonl", PROFILES)
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    counts = []
    for _ in range(2):
        capsys.readouterr()
        assert main(worker_argv(pg_dsn, events, profiles, tmp_path / "a.jsonl")) == 0
        found = re.search(r"(\d+) quarantined", capsys.readouterr().err)
        assert found is not None
        counts.append(int(found[1]))
    assert counts == [4, 0]
    with PostgresStore(pg_dsn) as store:
        assert [q.count for q in store.quarantined()] == [1, 1, 1, 1]
        assert store._conn.execute("SELECT count(*) FROM inbox").fetchone() == (0,)
    capsys.readouterr()
    fixed = jsonl(tmp_path / "fixed.jsonl", [{**bad, "type": "app_installed"}])
    assert main(worker_argv(pg_dsn, fixed, profiles, tmp_path / "a.jsonl")) == 0
    assert "1 events taken, 0 quarantined" in capsys.readouterr().err
    with PostgresStore(pg_dsn) as store:
        assert store.quarantined("e-bad") == []
