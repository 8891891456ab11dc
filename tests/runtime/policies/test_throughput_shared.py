"""Channel throughput limits shared by several engines over one PostgreSQL database: each
delivery round locks the limits and counts every engine's deliveries, on either side of its
instant, so the limit holds over all of them together and nothing is lost or doubled."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.policies.model import Throughput
from journeydsl.runtime.policies.throughput import first_room
from journeydsl.runtime.stores.postgres import PostgresStore
from tests.runtime.policies.harness import Harness, compile_journey, ev, harness, policies
from tests.runtime.policies.harness import profile as make_profile
from tests.runtime.policies.test_throughput import (
    SMS_AN_HOUR_LATER,
    START,
    _over_the_limit,
    _sms,
)
from tests.runtime.policies.test_ticket_queues import CALLS, DAY1, RELEASE

ROOT = Path(__file__).resolve().parents[3]
SMS_10_PER_SECOND = "throughput: [{name: sms_gateway, channels: sms, max: 10, per: 1s}]"
DUE = START + timedelta(hours=1)
BASE = datetime(2026, 1, 1, tzinfo=UTC)


def _brute_first_room(times: list[int], at: int, m: int, per: int) -> int:
    """The first whole second t >= at such that no window [s, s + per) holding t holds m of
    ``times`` already (the definition, tried second by second)."""
    t = at
    while any(sum(s <= x < s + per for x in times) >= m for s in range(t - per + 1, t + 1)):
        t += 1
    return t


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(0, 60), max_size=25),
    st.integers(0, 60),
    st.integers(1, 5),
    st.integers(1, 12),
)
def test_first_room_is_the_first_instant_no_window_is_full(
    times: list[int], at: int, m: int, per: int
) -> None:
    """first_room agrees with the definition of a rolling window, for deliveries on both sides
    of the instant asked about."""
    rule = Throughput(name="x", channels=("sms",), max=m, per=timedelta(seconds=per))
    instants = sorted(BASE + timedelta(seconds=x) for x in times)
    got = first_room(instants, BASE + timedelta(seconds=at), rule)
    assert got == BASE + timedelta(seconds=_brute_first_room(times, at, m, per))


def _two_engines(dsn: str, customers: int) -> list[tuple[PostgresStore, Harness, int]]:
    """Two engines over one database of 2 buckets, each with its own connection and the
    customers of one bucket, their cards activated at START."""
    engines = []
    for bucket in (0, 1):
        store = PostgresStore(dsn, buckets=2)
        ids = [c for i in range(customers) if store.bucket(c := f"c{i:05}") == bucket]
        with store.scoped({bucket}):
            h = harness(
                [compile_journey(SMS_AN_HOUR_LATER)],
                [make_profile(c) for c in ids],
                start=START,
                policy=policies(SMS_10_PER_SECOND),
                state=store,
            )
            h.feed([ev(c, "card_activated", START, card_id=f"k-{c}") for c in ids])
        engines.append((store, h, bucket))
    return engines


def _check(sent: list[datetime], customers: Counter[str], total: int) -> None:
    assert customers == Counter({f"c{i:05}": 1 for i in range(total)})
    assert _over_the_limit(sent, 10, timedelta(seconds=1)) == []


@pytest.mark.postgres
def test_two_engines_taking_turns_share_one_limit(pg_dsn: str) -> None:
    """Two engines delivering in turns, second by second, fill each window with 10 SMS
    between them, not 10 each, and deliver every customer's SMS once."""
    engines = _two_engines(pg_dsn, 200)
    for second in range(40):
        for store, h, bucket in engines:
            with store.scoped({bucket}):
                h.advance(DUE + timedelta(seconds=second))
    sent = [m for _, h, _ in engines for m in _sms(h)]
    _check([m.at for m in sent], Counter(m.customer_id for m in sent), 200)
    # Full speed, together: 10 a second for 20 seconds.
    assert max(m.at for m in sent) == DUE + timedelta(seconds=19)
    for store, _, _ in engines:
        store.close()


@pytest.mark.postgres
def test_two_engines_on_two_threads_share_one_limit(pg_dsn: str) -> None:
    """Two engines running at once on their own threads and clocks (one may run ahead of the
    other) never exceed the limit in any window between them, and lose nothing."""
    results: list[tuple[list[datetime], list[str]]] = []
    failures: list[BaseException] = []

    def work(bucket: int) -> None:
        store = PostgresStore(pg_dsn, buckets=2)
        try:
            ids = [c for i in range(300) if store.bucket(c := f"c{i:05}") == bucket]
            with store.scoped({bucket}):
                h = harness(
                    [compile_journey(SMS_AN_HOUR_LATER)],
                    [make_profile(c) for c in ids],
                    start=START,
                    policy=policies(SMS_10_PER_SECOND),
                    state=store,
                )
                h.feed([ev(c, "card_activated", START, card_id=f"k-{c}") for c in ids])
                h.advance(DUE + timedelta(minutes=5))
            sent = _sms(h)
            results.append(([m.at for m in sent], [m.customer_id for m in sent]))
        except BaseException as exc:  # (reported by the main thread)
            failures.append(exc)
        finally:
            store.close()

    PostgresStore(pg_dsn, buckets=2).close()  # (the schema, created once)
    threads = [threading.Thread(target=work, args=(b,)) for b in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    assert not failures, failures
    times = [t for ts, _ in results for t in ts]
    _check(times, Counter(c for _, cs in results for c in cs), 300)


@pytest.mark.postgres
def test_two_worker_processes_share_one_limit(tmp_path: Path, pg_dsn: str) -> None:
    """Two `journeydsl worker --policies` processes over one database deliver every SMS once,
    and the actions file never holds more than the limit in any window."""
    for catalog in ("events.yaml", "templates.yaml"):
        shutil.copy(ROOT / "examples" / catalog, tmp_path / catalog)
    (tmp_path / "sms.journey").write_text(SMS_AN_HOUR_LATER)
    (tmp_path / "policies.yaml").write_text(SMS_10_PER_SECOND + "\n")
    ids = [f"c{i:05}" for i in range(120)]
    at = START.isoformat()
    events = tmp_path / "events.jsonl"
    events.write_text(
        "".join(
            json.dumps(
                {"id": f"e-{c}", "type": "card_activated", "customer_id": c, "at": at}
                | {"data": {"card_id": f"k-{c}"}}
            )
            + "\n"
            for c in ids
        )
    )
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text(
        "".join(
            json.dumps({"customer_id": c, "consent": {"sms": True}, "timezone": "Asia/Ho_Chi_Minh"})
            + "\n"
            for c in ids
        )
    )
    subprocess.run(
        [sys.executable, "-m", "journeydsl", "db", "migrate", "--db", pg_dsn, "--buckets", "8"],
        check=True,
        capture_output=True,
    )
    actions = tmp_path / "actions.jsonl"
    argv = [
        *(sys.executable, "-m", "journeydsl", "worker", str(tmp_path / "sms.journey")),
        *("--db", pg_dsn, "--events", str(events), "--profiles", str(profiles)),
        *("--policies", str(tmp_path / "policies.yaml"), "--actions", str(actions)),
        *("--exit-when-idle", "--now", (DUE + timedelta(minutes=5)).isoformat()),
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    procs = [subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=600)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    sms = [json.loads(line) for line in actions.read_text().splitlines()]
    assert sms, outs
    sms = [a for a in sms if a.get("channel") == "sms"]
    times = [datetime.fromisoformat(a["at"]) for a in sms]
    _check(times, Counter(a["customer_id"] for a in sms), 120)


@pytest.mark.postgres
def test_a_worker_refuses_a_ticket_queue_capacity_it_cannot_share(pg_dsn: str) -> None:
    """A daily ticket-queue capacity ranks every customer's tickets at once: a worker, which
    holds only some buckets, refuses a journey that makes tickets for it at start, naming the
    queue, rather than over-accept."""
    from journeydsl.runtime.worker import Worker

    calls = compile_journey(
        'journey calls\nuses events "events.yaml"\nuses templates "templates.yaml"\n'
        "entry on card_activated\nticket telesales\n"
    )
    text = "queues: [{queue: telesales, capacity: 300}]"
    with (
        PostgresStore(pg_dsn, buckets=2) as store,
        pytest.raises(ValueError, match="ticket queue telesales"),
    ):
        Worker([calls], store=store, policies=policies(text))


# --------------------------------------------------------------------------- ticket queues

CALLS_30 = "queues: [{queue: telesales, capacity: 30, rank: points, overflow: next_day}]"


def _queued_engines(dsn: str, points: dict[str, int]) -> list[tuple[PostgresStore, Harness, int]]:
    """Two engines over one database of 2 buckets, each with the customers of one bucket, a
    telesales ticket made for each (ranked by points) on 5 January."""
    engines = []
    for bucket in (0, 1):
        store = PostgresStore(dsn, buckets=2)
        ids = [c for c in points if store.bucket(c) == bucket]
        with store.scoped({bucket}):
            h = harness(
                [compile_journey(CALLS)],
                [make_profile(c, loyalty_points=points[c]) for c in ids],
                start=DAY1 - timedelta(hours=1),
                policy=policies(CALLS_30),
                state=store,
            )
            h.feed([ev(c, "card_activated", DAY1, card_id=f"k-{c}") for c in ids])
        engines.append((store, h, bucket))
    return engines


def _advance(h: Harness, until: datetime) -> None:
    """Fire what is due up to ``until``, as a worker does: an instant whose work cannot move on
    (a release waiting for another engine) is left for a later turn."""
    while (wake := h.engine.next_wakeup()) is not None and wake <= until:
        h.clock.set(wake)
        h.engine.tick(wake)
        after = h.engine.next_wakeup()
        if after is not None and after <= wake:
            break
    h.clock.set(until)


def _opened_by_day(engines: list[tuple[PostgresStore, Harness, int]]) -> dict[str, list[str]]:
    days: dict[str, list[str]] = {}
    for _, h, _ in engines:
        for t in h.tickets.opened:
            days.setdefault(t.at.date().isoformat(), []).append(t.customer_id)
    return {d: sorted(cs) for d, cs in sorted(days.items())}


@pytest.mark.postgres
def test_two_engines_share_a_queues_daily_capacity_in_rank_order(pg_dsn: str) -> None:
    """Two engines, each with half of 100 candidates: each day's release takes the 30 best of
    all of them, not 30 of each, the days after take the next 30, and every ticket opens once."""
    points = {f"c{i:03}": (i * 37) % 100 * 10 + 5 for i in range(100)}
    engines = _queued_engines(pg_dsn, points)
    for day in range(4):
        for store, h, bucket in engines:
            with store.scoped({bucket}):
                _advance(h, RELEASE + timedelta(days=day, hours=1))
    best_first = sorted(points, key=lambda c: -points[c])
    opened = _opened_by_day(engines)
    assert list(opened.values()) == [sorted(best_first[30 * d : 30 * (d + 1)]) for d in range(4)]
    for store, _, _ in engines:
        store.close()


@pytest.mark.postgres
def test_a_release_waits_for_an_engine_behind_with_an_earlier_release(pg_dsn: str) -> None:
    """One engine runs three days ahead while the other has not applied the first release: the
    later releases wait for it, and once it catches up the days are those of one engine."""
    points = {f"c{i:03}": (i * 53) % 80 * 10 + 5 for i in range(80)}
    engines = _queued_engines(pg_dsn, points)
    (store_a, a, bucket_a), (store_b, b, bucket_b) = engines
    with store_a.scoped({bucket_a}):
        _advance(a, RELEASE + timedelta(hours=1))  # (day 1's release is decided by a)
        _advance(a, RELEASE + timedelta(days=2, hours=1))  # (b has not applied it: no more)
    assert {t.at.date() for t in a.tickets.opened} == {RELEASE.date()}
    for day in range(3):
        for store, h, bucket in ((store_b, b, bucket_b), (store_a, a, bucket_a)):
            with store.scoped({bucket}):
                _advance(h, RELEASE + timedelta(days=day, hours=1))
    best_first = sorted(points, key=lambda c: -points[c])
    opened = _opened_by_day(engines)
    assert list(opened.values()) == [sorted(best_first[n : n + 30]) for n in (0, 30, 60)]
    for store, _, _ in engines:
        store.close()
