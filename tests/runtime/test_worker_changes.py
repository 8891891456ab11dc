"""`entry when` journeys under workers: each bucket's first pass and instants to look again,
kept per bucket and read again when a bucket is claimed again, the condition's stored value
fenced on the customer's bucket, and one or two `journeydsl worker` processes entering exactly
the customers one SQLite `journeydsl run` enters."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.compiler import compile_file
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.stores.postgres import LeaseLostError, Ownership, PostgresStore
from journeydsl.testing import RecordingChannel
from tests.runtime.test_run_cli import EXAMPLES, jsonl, profile, tx
from tests.runtime.test_workers import _expire, run_workers, worker_argv

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
BIG = str(EXAMPLES / "big_spender_month.journey")
ONBOARDING = str(EXAMPLES / "onboarding_new_cardholder.journey")
NOW = "2026-06-30T00:00:00+07:00"
LEASE = timedelta(seconds=30)
START = datetime.fromisoformat("2026-03-01T09:00:00+07:00")


@pytest.fixture
def pg_store_8(pg_dsn: str) -> Iterator[PostgresStore]:
    """A store over a new database of 8 buckets (closed at the end)."""
    with PostgresStore(pg_dsn, buckets=8) as store:
        yield store


def _stream(customers: int, seed: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Purchases of 200,000 to 3,000,000 VND over four months: some customers cross 5,000,000
    VND in 30 days, some twice (after falling below in between), some never."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    profiles = []
    for n in range(customers):
        cid = f"c-{n:03d}"
        profiles.append(profile(cid, True, email=True, sms=True))
        for k in range(rng.randrange(2, 10)):
            at = START + timedelta(days=rng.uniform(0, 110), minutes=k)
            amount = rng.randrange(200, 3_000) * 1_000
            events.append(tx(cid, at.isoformat(), amount))
    events.sort(key=lambda e: e["at"])
    return events, profiles


def _sqlite_run(tmp_path: Path, events: Path, profiles: Path) -> list[str]:
    actions = tmp_path / "sqlite.jsonl"
    argv = ["run", BIG, ONBOARDING, "--db", str(tmp_path / "s.sqlite"), "--events", str(events)]
    assert main([*argv, "--profiles", str(profiles), "--actions", str(actions), "--now", NOW]) == 0
    return sorted(actions.read_text().splitlines())


def _worker_argv(dsn: str, events: Path, profiles: Path, actions: Path) -> list[str]:
    return worker_argv(dsn, events, profiles, actions, [BIG, ONBOARDING], NOW)


def test_one_worker_enters_on_change_as_a_sqlite_run_does(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, pg_dsn: str
) -> None:
    """A worker runs an `entry when` journey beside another over 4 buckets and writes the
    SQLite run's actions file: the same crossings enter, the same re-entries after the window
    let old purchases go."""
    raw_events, raw_profiles = _stream(30, 5)
    events = jsonl(tmp_path / "events.jsonl", raw_events)
    profiles = jsonl(tmp_path / "profiles.jsonl", raw_profiles)
    reference = _sqlite_run(tmp_path, events, profiles)
    big = [line for line in reference if '"journey": "big_spender_month"' in line]
    customers = [json.loads(line)["customer_id"] for line in big]
    assert len(customers) > len(set(customers)) > 3  # (crossings, and crossings again)
    capsys.readouterr()
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    actions = tmp_path / "worker.jsonl"
    code = main(_worker_argv(pg_dsn, events, profiles, actions))
    assert code == 0, capsys.readouterr().err
    assert sorted(actions.read_text().splitlines()) == reference


def test_two_worker_processes_enter_on_change_as_one_sqlite_run(
    tmp_path: Path, pg_dsn: str
) -> None:
    """Two `journeydsl worker` processes sharing 4 buckets deliver the SQLite run's actions of
    an `entry when` journey: no entry twice, none missing."""
    raw_events, raw_profiles = _stream(24, 9)
    events = jsonl(tmp_path / "events.jsonl", raw_events)
    profiles = jsonl(tmp_path / "profiles.jsonl", raw_profiles)
    reference = _sqlite_run(tmp_path, events, profiles)
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    actions = tmp_path / "workers.jsonl"
    lines = run_workers(_worker_argv(pg_dsn, events, profiles, actions), 2, actions)
    assert sorted(lines) == reference
    assert any('"journey": "big_spender_month"' in line for line in lines)


class _Clock:
    def __init__(self, now: datetime) -> None:
        self.current = now

    def now(self) -> datetime:
        return self.current


def _engine(store: PostgresStore, clock: _Clock) -> Engine:
    journey = compile_file(BIG).journey
    assert journey is not None
    return Engine([journey], events=store, profiles=store, state=store, clock=clock,
                  channels={"email": RecordingChannel()})  # fmt: skip


def _buy(engine: Engine, customer: str, day: int, amount: int) -> list[str]:
    at = START + timedelta(days=day)
    return engine.ingest(tx(customer, at.isoformat(), amount)).entered


def test_a_bucket_claimed_again_is_read_again(pg_dsn: str, tmp_path: Path) -> None:
    """Worker A enters a customer; B takes the bucket over, sees the purchases leave the window
    and enters the customer again; when A claims the bucket back, it reads the bucket's state
    again (a first pass is due at once) and, from B's stored value, enters on the next crossing
    only: exactly one instance per crossing over the three owners."""
    with PostgresStore(pg_dsn, buckets=1) as a, PostgresStore(pg_dsn) as b:
        a.load_profiles_jsonl(jsonl(tmp_path / "p.jsonl", [profile("c-1", True, email=True)]))
        a.ownership, b.ownership = Ownership("a"), Ownership("b")
        clock = _Clock(START)
        a.claim(a.ownership, LEASE)
        engine_a = _engine(a, clock)
        with a.scoped([0]):
            engine_a.tick(START)  # (the bucket's first pass)
            assert _buy(engine_a, "c-1", 1, 6_000_000) == ["big_spender_month/c-1/1"]
        _expire(a, 0)
        b.claim(b.ownership, LEASE)
        engine_b = _engine(b, clock)
        with b.scoped([0]):
            clock.current = START + timedelta(days=35)
            engine_b.tick(clock.current)  # (first pass: A's look again, then false)
            assert _buy(engine_b, "c-1", 40, 6_000_000) == ["big_spender_month/c-1/2"]
        _expire(b, 0)
        a.claim(a.ownership, LEASE)
        with a.scoped([0]):
            clock.current = START + timedelta(days=45)
            assert engine_a.next_wakeup() == clock.current  # (read again, at once)
            engine_a.tick(clock.current)
            assert _buy(engine_a, "c-1", 46, 1_000_000) == []  # (still over: B's crossing)
            clock.current = START + timedelta(days=80)
            engine_a.tick(clock.current)  # (B's look again: the window let day 40 go)
            assert _buy(engine_a, "c-1", 81, 6_000_000) == ["big_spender_month/c-1/3"]


def test_the_conditions_value_is_fenced_on_the_customers_bucket(pg_dsn: str) -> None:
    """The stored value of an `entry when` condition is the customer's state: a worker that
    lost the customer's bucket cannot write it."""
    with PostgresStore(pg_dsn, buckets=1) as a, PostgresStore(pg_dsn) as b:
        a.ownership, b.ownership = Ownership("a"), Ownership("b")
        a.claim(a.ownership, LEASE)
        _expire(a, 0)
        b.claim(b.ownership, LEASE)
        with pytest.raises(LeaseLostError):
            a.commit([], [], meta={"when:big_spender_month:c-1": "1|"})
        assert b.get_meta("when:big_spender_month:c-1") is None


def test_a_live_worker_runs_each_buckets_first_pass(
    pg_store_8: PostgresStore, tmp_path: Path
) -> None:
    """On the system clock, a worker ticks the buckets whose `entry when` first pass has not
    run (they have no timer due): the customers for whom the condition already holds enter."""
    from journeydsl.compiler import compile_source
    from journeydsl.runtime.file_channel import FileChannel
    from journeydsl.runtime.worker import SystemClock, Worker

    source = (
        'journey app_users\nuses events "events.yaml"\nuses templates "templates.yaml"\n'
        "entry when profile.has_digital_app\nsend email fee_waiver_granted\n"
    )
    journey = compile_source(source, "app_users.journey", base_dir=EXAMPLES).journey
    assert journey is not None
    people = [profile(f"c-{n}", n % 3 == 0, email=True) for n in range(12)]
    pg_store_8.load_profiles_jsonl(jsonl(tmp_path / "p.jsonl", people))
    with FileChannel(tmp_path / "a.jsonl") as sink:
        worker = Worker([journey], store=pg_store_8, channels={"email": sink},
                        clock=SystemClock(), lease=LEASE, poll=0.01)  # fmt: skip
        worker.run(exit_when_idle=True)
    sent = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert sorted(a["customer_id"] for a in sent) == ["c-0", "c-3", "c-6", "c-9"]


def test_workers_given_changed_profiles_enter_where_an_entry_when_turned_true(
    tmp_path: Path, pg_dsn: str
) -> None:
    """`worker --profiles` re-evaluates `entry when` for the file's customers as `run` does."""
    from tests.catalogs import example_catalogs_in
    from tests.runtime.test_run_cli import event, read_actions
    from tests.runtime.test_stream import GOLD_WELCOME

    journey = example_catalogs_in(tmp_path) / "gold_welcome.journey"
    journey.write_text(GOLD_WELCOME, encoding="utf-8")
    actions = tmp_path / "actions.jsonl"
    assert main(["db", "migrate", "--db", pg_dsn, "--buckets", "4"]) == 0
    first = [event("c-1", "app_installed", "2026-03-01T10:00:00+07:00")]

    def work(segment: str, events: list[dict[str, object]]) -> list[str]:
        row = profile("c-1", False, email=True)
        row["attributes"]["segment"] = segment
        given = [
            *("--profiles", str(jsonl(tmp_path / f"{segment}.jsonl", [row]))),
            *("--events", str(jsonl(tmp_path / "events.jsonl", events))),
        ]
        argv = ["worker", str(journey), "--db", pg_dsn, "--actions", str(actions)]
        assert main([*argv, *given, "--exit-when-idle"]) == 0
        return [str(a["at"]) for a in read_actions(actions)] if actions.exists() else []

    assert work("mass", first) == []
    assert work("gold", []) == ["2026-03-01T10:00:00+07:00"]
    assert work("gold", []) == ["2026-03-01T10:00:00+07:00"]
    assert work("mass", [event("c-1", "app_installed", "2026-03-05T10:00:00+07:00")]) == [
        "2026-03-01T10:00:00+07:00"
    ]
    assert work("gold", []) == ["2026-03-01T10:00:00+07:00", "2026-03-05T10:00:00+07:00"]
    with PostgresStore(pg_dsn) as store:
        assert store.noted_profiles(range(4)) == {}
