"""Control of live journeys on a shared PostgreSQL database: workers hold a paused journey's
events and timers, and apply them in their buckets after a resume made by another process; an
engine sees a pause made through another connection at its next read of the control state."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.cli.run import _action_handlers
from journeydsl.compiler import compile_file
from journeydsl.runtime import control
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.stores.postgres import PostgresStore
from journeydsl.runtime.worker import Worker
from tests.runtime.scenario import build, ev, local, profile
from tests.runtime.test_control import NUDGES
from tests.runtime.test_run_cli import EXAMPLES

pytestmark = pytest.mark.postgres

JOURNEY = "onboarding_new_cardholder"


def _issued(customer: str, at: str) -> str:
    data = {"card_id": f"k-{customer}", "product": "gold"}
    return json.dumps({"customer_id": customer, "type": "card_issued", "at": at, "data": data})


def _work(dsn: str, actions: Path, lines: list[str], until: str) -> list[dict[str, Any]]:
    """One event-time worker over ``dsn`` until the database is idle at ``until``."""
    result = compile_file(EXAMPLES / f"{JOURNEY}.journey")
    assert result.journey is not None
    journeys = [result.journey]
    with PostgresStore(dsn) as store, FileChannel(actions) as sink:
        worker = Worker(
            journeys,
            store=store,
            channels=dict.fromkeys(("email", "sms", "zns", "push"), sink),
            tickets=sink,
            actions=_action_handlers(journeys, sink),
            lease=timedelta(seconds=30),
            poll=0.01,
        )
        worker.put(lines)
        worker.run(exit_when_idle=True, until=datetime.fromisoformat(until))
    return [json.loads(line) for line in actions.read_text(encoding="utf-8").splitlines()]


def test_workers_hold_a_paused_journey_and_apply_what_it_held_after_resume(
    pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paused by `journeydsl pause` at 09:00, a worker sends nothing of the journey to 18:00
    (a card issued at 10:00 is held, a reminder due at 11:00 waits); after `journeydsl resume
    --timers fire`, the next worker sends both, once."""
    with PostgresStore(pg_dsn, buckets=4) as store:
        for customer in ("c-2", "c-4"):
            store.add(profile(customer, app=False))
    actions = tmp_path / "a.jsonl"
    first = [_issued("c-2", "2026-01-05T11:00:00+07:00")]
    sent = _work(pg_dsn, actions, first, "2026-01-06T00:00:00+07:00")
    assert [a["template"] for a in sent] == ["welcome_activation_guide"]
    at = ["--now", "2026-01-07T09:00:00+07:00"]
    assert main(["pause", JOURNEY, "--db", pg_dsn, "--by", "ops", *at]) == 0
    late = [_issued("c-4", "2026-01-07T10:00:00+07:00")]
    assert len(_work(pg_dsn, actions, late, "2026-01-07T18:00:00+07:00")) == 1
    with PostgresStore(pg_dsn) as store:
        assert store.held_counts() == {JOURNEY: 1}
    at = ["--now", "2026-01-07T18:00:00+07:00"]
    assert main(["resume", JOURNEY, "--db", pg_dsn, "--timers", "fire", *at]) == 0
    sent = _work(pg_dsn, actions, [], "2026-01-07T18:00:00+07:00")
    assert sorted((a["customer_id"], a["template"]) for a in sent[1:]) == [
        ("c-2", "activation_reminder"),
        ("c-4", "welcome_activation_guide"),
    ]
    assert len({a["key"] for a in sent}) == len(sent) == 3
    with PostgresStore(pg_dsn) as store:
        assert store.held_counts() == {}
    capsys.readouterr()
    assert main(["audit", "--db", pg_dsn, "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["action"], r["detail"].get("held")) for r in rows] == [
        ("pause", None),
        ("resume", 1),
    ]


def test_an_engine_sees_a_pause_made_through_another_connection(pg_dsn: str) -> None:
    """An engine reading the control state at every step (refresh_every=0) holds the events of
    a journey another process paused, and takes them once it resumed it."""
    with PostgresStore(pg_dsn, buckets=4) as store, PostgresStore(pg_dsn) as other:
        store.add(profile("c1"))
        r = build([NUDGES], [], start=local("2026-01-05 10:00"), state=store, events=store,
                  profile_store=store)  # fmt: skip
        r.engine.control.refresh_every = 0.0
        control.pause(other, "nudges", by="ops", now=local("2026-01-05 09:00"))
        issued = ev("c1", "card_issued", local("2026-01-05 10:00"), card_id="K", product="x")
        r.engine.ingest(issued)
        assert store.instances_of("c1") == []
        assert r.engine.control.state("nudges") == "paused"
        control.resume(other, "nudges", timers="fire", now=local("2026-01-05 11:00"))
        r.clock.set(local("2026-01-05 11:00"))
        r.engine.tick()
        assert [i["status"] for i in store.instances_of("c1")] == ["waiting"]
