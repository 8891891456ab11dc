"""Hot reload of a worker's journeys: a new version takes the new entries while running
instances finish in theirs, a journey changed without a new version is refused, and SIGHUP makes
`journeydsl worker` compile its files again without a restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from journeydsl import ir
from journeydsl.compiler import compile_file
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.pinning import VersionMissingError
from journeydsl.runtime.stores.postgres import PostgresStore
from journeydsl.runtime.worker import SystemClock, Worker
from journeydsl.testing import RecordingChannel
from tests.catalogs import USES, example_catalogs_in

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[2]
UNTIL = datetime.fromisoformat("2026-03-10T00:00:00+07:00")
LEASE = timedelta(seconds=30)


def _journey(folder: Path, version: int, template: str = "install_digital_app") -> Path:
    """A journey that sends one SMS on card activation, of ``version``."""
    path = example_catalogs_in(folder) / "nudge.journey"
    path.write_text(
        f"journey nudge\nversion {version}\n{USES}entry on card_activated\n"
        f"send sms {template} marketing fallback none\n"
    )
    return path


def _compiled(path: Path) -> ir.Journey:
    result = compile_file(path)
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def _activated(customer: str, at: str) -> bytes:
    event = {"id": f"e-{customer}", "type": "card_activated", "customer_id": customer, "at": at}
    return json.dumps(event | {"data": {"card_id": f"k-{customer}"}}).encode() + b"\n"


def _profiles(store: PostgresStore, folder: Path, *customers: str) -> None:
    """Customers who consent to SMS, in Ho Chi Minh City."""
    path = folder / "profiles.jsonl"
    path.write_text(
        "".join(
            json.dumps({"customer_id": c, "consent": {"sms": True}, "timezone": "Asia/Ho_Chi_Minh"})
            + "\n"
            for c in customers
        )
    )
    store.load_profiles_jsonl(path)


def test_a_reloaded_version_takes_new_entries_and_running_instances_keep_theirs(
    pg_dsn: str, tmp_path: Path
) -> None:
    """Version 2 loaded into a running worker enters the customers who come after it, while an
    instance of version 1 stays in version 1; loading the same files again changes nothing."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    v1 = _compiled(_journey(tmp_path / "a", 1))
    v2 = _compiled(_journey(tmp_path / "b", 2, "first_spend_nudge"))
    with PostgresStore(pg_dsn, buckets=4) as store, FileChannel(tmp_path / "out.jsonl") as sink:
        _profiles(store, tmp_path, "c1", "c2")
        worker = Worker([v1], store=store, channels={"sms": sink}, lease=LEASE, poll=0.01)
        worker.put([_activated("c1", "2026-03-02T09:00:00+07:00")])
        worker.run(exit_when_idle=True, until=datetime.fromisoformat("2026-03-02T12:00:00+07:00"))
        assert worker.reload([v1, v2]) == ["nudge v2"]
        assert worker.reload([v2]) == []  # (already waiting to be loaded)
        worker.put([_activated("c2", "2026-03-03T09:00:00+07:00")])
        worker.run(exit_when_idle=True, until=UNTIL)
        assert [(j.id, j.version) for j in worker.journeys] == [("nudge", 1), ("nudge", 2)]
        versions = {c: [i["version"] for i in store.instances_of(c)] for c in ("c1", "c2")}
        assert versions == {"c1": [1], "c2": [2]}
    sent = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert {(a["customer_id"], a["template"]) for a in sent} == {
        ("c1", "install_digital_app"),
        ("c2", "first_spend_nudge"),
    }


def test_a_journey_changed_without_a_new_version_is_refused(pg_dsn: str, tmp_path: Path) -> None:
    """The same version with another graph would change running instances under them: the
    reload is refused, naming the version to give, and nothing is loaded; so is a version that
    needs a channel the worker has no handler for."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    v1 = _compiled(_journey(tmp_path / "a", 1))
    changed = _compiled(_journey(tmp_path / "b", 1, "first_spend_nudge"))
    with PostgresStore(pg_dsn, buckets=4) as store:
        worker = Worker([v1], store=store, channels={"sms": RecordingChannel("sms")}, lease=LEASE)
        with pytest.raises(ValueError, match="give the new one `version 2`"):
            worker.reload([changed])
        email = tmp_path / "b" / "nudge.journey"
        email.write_text(
            f"journey nudge\nversion 2\n{USES}entry on card_activated\n"
            "send email new_cardholder_promotions marketing\n"
        )
        with pytest.raises(ValueError, match="no handler registered for what these journeys use"):
            worker.reload([_compiled(email)])  # (an e-mail, and the worker has no e-mail channel)
        assert worker.reload([v1]) == []
        assert worker.journeys == [v1]


def test_a_worker_not_given_a_version_with_running_instances_is_refused(
    pg_dsn: str, tmp_path: Path
) -> None:
    """Started with version 2 only while version-1 instances wait in the database, a worker is
    refused before it claims a bucket (their events would pass them by, their timers never
    fire), naming the version; given both versions it starts."""
    folders = [tmp_path / "a", tmp_path / "b"]
    versions = []
    for v, folder in enumerate(folders, 1):
        folder.mkdir()
        path = example_catalogs_in(folder) / "nudge.journey"
        path.write_text(
            f"journey nudge\nversion {v}\n{USES}entry on card_activated\n"
            "wait 1d\nsend sms install_digital_app marketing fallback none\n"
        )
        versions.append(_compiled(path))
    v1, v2 = versions
    sms = {"sms": RecordingChannel("sms")}
    with PostgresStore(pg_dsn, buckets=4) as store:
        _profiles(store, tmp_path, "c1")
        worker = Worker([v1], store=store, channels=dict(sms), lease=LEASE, poll=0.01)
        worker.put([_activated("c1", "2026-03-02T09:00:00+07:00")])
        worker.run(exit_when_idle=True, until=datetime.fromisoformat("2026-03-02T12:00:00+07:00"))
        assert store.live_journeys() == {("nudge", 1): 1}
        with pytest.raises(VersionMissingError, match=r"not given: nudge v1 \(1 live\)"):
            Worker([v2], store=store, channels=dict(sms), lease=LEASE)
        assert Worker([v1, v2], store=store, channels=dict(sms), lease=LEASE).journeys == [v1, v2]


def test_sighup_reloads_the_journey_files_of_a_running_worker(pg_dsn: str, tmp_path: Path) -> None:
    """`journeydsl worker` on the system clock: after its file gains version 2, SIGHUP loads it
    (the worker says so and keeps running); a file that no longer compiles is refused, and
    SIGTERM then drains it with exit 0."""
    journey = _journey(tmp_path, 1)
    argv = [sys.executable, "-m", "journeydsl", "worker", str(journey), "--db", pg_dsn]
    argv += ["--actions", str(tmp_path / "out.jsonl"), "--migrate", "--buckets", "4"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(argv, env=env, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    try:
        _wait_for_leases(pg_dsn, proc)  # (running: its signal handlers are in place)
        _journey(tmp_path, 2, "first_spend_nudge")
        proc.send_signal(signal.SIGHUP)
        reloaded = _line(proc)
        assert "reloaded: nudge v2" in reloaded, reloaded
        journey.write_text(journey.read_text() + "send sms no_such_template\n")
        proc.send_signal(signal.SIGHUP)
        refused = _line(proc)
        assert "reload refused" in refused, refused
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()


def _wait_for_leases(dsn: str, proc: subprocess.Popen[str]) -> None:
    """Wait until the worker holds a lease (it runs), or fail if it exited."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else proc.returncode
        try:
            with PostgresStore(dsn, migrate=False) as store:
                if any(owner is not None for _, owner, _, _ in store.leases()):
                    return
        except Exception:  # (the worker has not created the schema yet)
            pass
        time.sleep(0.2)
    raise AssertionError("the worker claimed no lease in 2 minutes")


def _line(proc: subprocess.Popen[str]) -> str:
    """The worker's next stderr line that is about a reload (others are skipped)."""
    assert proc.stderr is not None
    while True:
        line = proc.stderr.readline()
        if not line:
            return ""
        if "reloaded:" in line or "reload refused" in line:
            return line


def test_a_reload_is_held_to_the_graphs_running_in_the_database(
    pg_dsn: str, tmp_path: Path
) -> None:
    """A reload is refused a graph changed under a version the database runs; it pins its own."""
    from journeydsl.runtime.pinning import JourneyChangedError

    def waiting(folder: Path, version: int, wait: str) -> ir.Journey:
        path = example_catalogs_in(folder) / "waiting.journey"
        path.write_text(
            f"journey waiting\nversion {version}\n{USES}entry on card_activated\n"
            f"wait {wait}\nsend sms install_digital_app marketing fallback none\n"
        )
        return _compiled(path)

    for name in ("a", "b", "c", "d"):
        (tmp_path / name).mkdir()
    v1, edited = waiting(tmp_path / "a", 1, "2d"), waiting(tmp_path / "b", 1, "3d")
    v2 = waiting(tmp_path / "c", 2, "3d")
    nudge = _compiled(_journey(tmp_path / "d", 1))
    channels = {"sms": RecordingChannel("sms")}
    with PostgresStore(pg_dsn, buckets=4) as a, PostgresStore(pg_dsn) as b:
        _profiles(a, tmp_path, "c1")
        first = Worker([nudge, v1], store=a, channels=channels, lease=LEASE, poll=0.01)
        first.put([_activated("c1", "2026-03-02T09:00:00+07:00")])
        first.run(exit_when_idle=True, until=datetime.fromisoformat("2026-03-02T12:00:00+07:00"))
        assert [i["status"] for i in a.instances_of("c1") if i["journey"] == "waiting"] == [
            "waiting"
        ]
        second = Worker([nudge], store=b, channels=channels, lease=LEASE, poll=0.01)
        with pytest.raises(JourneyChangedError, match="its 1 running instance"):
            second.reload([nudge, edited])
        assert second.reload([nudge, v1]) == ["waiting v1"]
        assert second.reload([v2]) == ["waiting v2"]
        second.run(exit_when_idle=True, until=datetime.fromisoformat("2026-03-02T12:00:00+07:00"))
        assert [(j.id, j.version) for j in second.journeys] == [
            ("nudge", 1),
            ("waiting", 1),
            ("waiting", 2),
        ]
        assert b.get_meta("graph:waiting:2") is not None


def _waiting(folder: Path, version: int) -> ir.Journey:
    """A journey that waits for the card's activation after its issue, then sends one SMS."""
    folder.mkdir()
    path = example_catalogs_in(folder) / "nudge.journey"
    path.write_text(
        f"journey nudge\nversion {version}\n{USES}entry on card_issued\n"
        "wait for card_activated within 3d\n"
        "send sms install_digital_app marketing fallback none\n"
    )
    return _compiled(path)


@pytest.mark.parametrize("live", [False, True])
def test_a_worker_not_reloaded_yet_leaves_a_new_versions_events_waiting(
    pg_dsn: str, tmp_path: Path, live: bool
) -> None:
    """A worker of version 1 only, while another worker, reloaded first, entered a customer in
    version 2: that customer's event is not taken (it used to be marked taken and pass the
    instance by for good); it waits in the inbox, the worker says why (health, errors of kind
    version; in event time with --exit-when-idle, VersionMissingError), and once reloaded the
    worker takes it and the instance moves, sending once."""
    v1, v2 = _waiting(tmp_path / "a", 1), _waiting(tmp_path / "b", 2)
    issued: dict[str, object] = {"id": "i-c1", "type": "card_issued", "customer_id": "c1"}
    issued |= {"data": {"card_id": "k-c1", "product": "gold"}}
    activated: dict[str, object] = {"id": "a-c1", "type": "card_activated", "customer_id": "c1"}
    activated |= {"data": {"card_id": "k-c1"}}
    first, later = datetime.now(UTC) - timedelta(hours=2), datetime.now(UTC) - timedelta(hours=1)
    if not live:
        first = datetime.fromisoformat("2026-03-02T09:00:00+07:00")
        later = first + timedelta(hours=1)
    sms = RecordingChannel("sms")
    clock = SystemClock() if live else None
    with PostgresStore(pg_dsn, buckets=4) as old, PostgresStore(pg_dsn) as new:
        _profiles(old, tmp_path, "c1")
        behind = Worker([v1], store=old, channels={"sms": sms}, clock=clock, lease=LEASE)
        ahead = Worker([v1, v2], store=new, channels={"sms": sms}, clock=clock, lease=LEASE)
        ahead.put([json.dumps(issued | {"at": first.isoformat()})])
        if live:
            ahead.renew(force=True)
            ahead._guarded(sorted(ahead.owner.epochs), ahead._live_events)
            new.release_leases(ahead.owner)
        else:
            ahead.run(exit_when_idle=True, until=first + timedelta(minutes=1))
        [inst] = new.instances_of("c1")
        assert (inst["version"], inst["status"]) == (2, "waiting")
        behind.put([json.dumps(activated | {"at": later.isoformat()})])
        if live:
            behind.renew(force=True)
            behind._guarded(sorted(behind.owner.epochs), behind._live_events)
        else:
            with pytest.raises(VersionMissingError, match="'nudge' version 2, which is not"):
                behind.run(exit_when_idle=True, until=later + timedelta(minutes=1))
        assert old._conn.execute("SELECT count(*) FROM inbox").fetchone() == (1,)
        assert not old.processed("a-c1")
        assert behind.metrics.counter("errors", kind="version") == 1
        assert any("version 2, which is not loaded" in w for w in behind.health().waiting)
        assert behind.reload([v1, v2]) == ["nudge v2"]
        if live:
            behind._reloaded()
            behind._guarded(sorted(behind.owner.epochs), behind._live_events)
        else:
            behind.run(exit_when_idle=True, until=later + timedelta(minutes=1))
        assert old._conn.execute("SELECT count(*) FROM inbox").fetchone() == (0,)
        assert behind.health().waiting == ()
        [inst] = old.instances_of("c1")
        assert (inst["version"], inst["status"]) == (2, "ended")
    assert [(m.customer_id, m.template) for m in sms.attempts] == [("c1", "install_digital_app")]


def test_a_reload_takes_a_raised_budget_under_the_same_version(pg_dsn: str, tmp_path: Path) -> None:
    """A budget raised in the events catalog is no change of the journey's graph: a reload of
    the same version takes it (said as `w v1 (budgets)`) where it was refused as a journey
    changed without a new version; a change of the amount drawn is still refused."""
    from journeydsl.testing import RecordingActions

    journey_file = tmp_path / "w.journey"
    journey_file.write_text(
        'journey w\nuses events "events.yaml"\nentry on card_activated\nwait 3d\n'
        "reward gift from gifts amount 400_000 VND\n"
    )

    def with_budget(total: str) -> ir.Journey:
        (tmp_path / "events.yaml").write_text(
            "events:\n  card_activated: {card_id: string}\n"
            f"budgets:\n  gifts: {{total: {total}}}\n"
        )
        return _compiled(journey_file)

    small = with_budget("1_000_000 VND")
    with PostgresStore(pg_dsn, buckets=4) as store:
        worker = Worker([small], store=store, actions={"gift": RecordingActions()}, lease=LEASE)
        assert worker.reload([with_budget("2_000_000 VND")]) == ["w v1 (budgets)"]
        worker._reloaded()
        [loaded] = worker.journeys
        assert loaded.to_json() == with_budget("2_000_000 VND").to_json()
        journey_file.write_text(journey_file.read_text().replace("400_000", "500_000"))
        with pytest.raises(ValueError, match="changed, but its version did not"):
            worker.reload([with_budget("2_000_000 VND")])


def test_a_worker_over_a_store_that_is_not_postgresql_is_refused(tmp_path: Path) -> None:
    """A Worker given a SQLite or in-memory store is a TypeError that says to give it a
    PostgresStore (or build an Engine), where it was an AttributeError on a PostgreSQL-only
    method."""
    from journeydsl.runtime.stores.sqlite import SQLiteStore
    from journeydsl.testing import MemoryStateStore

    journey = _compiled(_journey(tmp_path, 1))
    with SQLiteStore(tmp_path / "s.db") as sqlite:
        for store in (sqlite, MemoryStateStore()):
            with pytest.raises(TypeError, match="give it a PostgresStore, not"):
                Worker([journey], store=store, channels={"sms": RecordingChannel("sms")})  # type: ignore[arg-type]
