"""Control of live journeys at engine level, on the memory, SQLite and PostgreSQL stores: pause
holds instances, timers and sends; resume extends or fires the waits that came due, and applies
the held events in order; drain stops entries; every action is audited."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.control import AuditEntry, ControlError, ControlStore, operator
from journeydsl.runtime.stores.memory import MemoryStateStore
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.scenario import Run, build, compile_journey, ev, local, profile

NUDGES = compile_journey(
    """
journey nudges
uses events "events.yaml"
uses templates "templates.yaml"
timezone "Asia/Ho_Chi_Minh"
outcomes activated, timed_out
entry on card_issued
quiet hours 21:00 to 08:00 for push
send email welcome_activation_guide transactional {
  card_id: trigger.card_id, product: trigger.product
}
wait for card_activated within 2d {
  exit activated
} timeout {
  send push activation_reminder transactional { round: 1 }
  exit timed_out
}
"""
)
T0 = local("2026-01-05 10:00")  # Asia/Ho_Chi_Minh


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    """A fresh store of each kind (PostgreSQL: a database of its own on the test server)."""
    if request.param == "memory":
        yield None
    elif request.param == "sqlite":
        with SQLiteStore(tmp_path / "state.db") as s:
            yield s
    else:
        from journeydsl.runtime.stores.postgres import PostgresStore

        dsn = request.getfixturevalue("pg_dsn")
        with PostgresStore(dsn, buckets=4) as s:
            yield s


def _run(store: Any, customers: tuple[str, ...] = ("c1", "c2")) -> Run:
    profiles = [profile(c, app=True) for c in customers]
    if store is None:
        return build([NUDGES], profiles, start=T0)
    for p in profiles:
        store.add(p)
    return build([NUDGES], [], start=T0, state=store, events=store, profile_store=store)


def _issue(r: Run, customer: str, at: datetime) -> None:
    r.advance(at)
    r.engine.ingest(ev(customer, "card_issued", at, card_id=f"K-{customer}", product="classic"))


def _sends(r: Run, template: str) -> list[tuple[str, datetime]]:
    return [
        (a["customer_id"], a["at"])
        for a in r.actions
        if a["kind"] == "send" and a.get("template") == template
    ]


def _attempts(r: Run) -> list[str]:
    return [m.idempotency_key for c in r.channels.values() for m in c.attempts]


def test_a_pause_holds_the_timers_that_come_due_and_fire_fires_them_at_resume(store: Any) -> None:
    """Paused, a reminder due on day 2 is not sent; resumed on day 3 with `fire`, it is sent
    then, once, and the instance ends as it would have."""
    r = _run(store)
    _issue(r, "c1", T0)
    r.advance(T0 + timedelta(hours=1))
    r.engine.control.pause("nudges", by="ops", reason="wrong template")
    r.advance(T0 + timedelta(days=3))
    assert _sends(r, "activation_reminder") == []
    assert r.engine.control.state("nudges") == "paused"
    resumed = r.engine.control.resume("nudges", timers="fire", by="ops")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    assert resumed.moved == 0
    assert _sends(r, "activation_reminder") == [("c1", T0 + timedelta(days=3))]
    r.advance(T0 + timedelta(days=10))
    assert len(_sends(r, "activation_reminder")) == 1
    assert len(_attempts(r)) == len(set(_attempts(r))) == 2
    assert [i["outcome"] for i in r.state.instances_of("c1")] == ["timed_out"]


def test_extend_moves_the_waits_that_came_due_by_the_pause_length(store: Any) -> None:
    """Paused for 1 day 23 hours, a reminder due on day 2 comes 1d23h later with `extend`; the
    decision log says so."""
    r = _run(store)
    _issue(r, "c1", T0)
    r.advance(T0 + timedelta(hours=1))
    r.engine.control.pause("nudges")
    r.advance(T0 + timedelta(days=2))
    assert r.engine.control.resume("nudges", timers="extend").moved == 1
    r.advance(T0 + timedelta(days=10))
    assert _sends(r, "activation_reminder") == [("c1", T0 + timedelta(days=3, hours=23))]
    [inst] = r.state.instances_of("c1")
    extended: dict[str, Any] = dict(next(e for e in inst["log"] if e["what"] == "extended"))
    assert extended["by"] == "1d 23h"


def test_fire_after_a_pause_longer_than_stale_after_sends_nothing_stale(store: Any) -> None:
    """A reminder fired 3 days late at resume is suppressed as stale (the stale-timer rules)."""
    r = _run(store)
    _issue(r, "c1", T0)
    r.advance(T0 + timedelta(hours=1))
    r.engine.control.pause("nudges")
    r.advance(T0 + timedelta(days=5))
    r.engine.control.resume("nudges", timers="fire")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    assert _sends(r, "activation_reminder") == []
    stale = [a for a in r.actions if a["kind"] == "suppressed"]
    assert stale
    assert stale[0]["reason"].startswith("stale")


def test_a_send_pending_at_the_pause_is_held_then_delivered_exactly_once(store: Any) -> None:
    """A push deferred by quiet hours to 08:00 is not delivered while paused (it stays
    pending), and is delivered once at resume."""
    r = _run(store)
    late = local("2026-01-05 22:00")
    _issue(r, "c1", late)
    r.advance(late + timedelta(days=2, hours=1))  # the reminder waits for 08:00
    r.engine.control.pause("nudges")
    r.advance(local("2026-01-08 12:00"))
    assert _sends(r, "activation_reminder") == []
    assert [e.key for e in r.state.pending_outbox(local("2026-01-08 12:00"))]
    r.engine.control.resume("nudges", timers="fire")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    assert _sends(r, "activation_reminder") == [("c1", local("2026-01-08 12:00"))]
    r.advance(local("2026-01-12 12:00"))
    assert len(_sends(r, "activation_reminder")) == 1
    assert len(_attempts(r)) == len(set(_attempts(r)))


@pytest.mark.parametrize(("activated", "outcome"), [(36, "activated"), (60, "timed_out")])
def test_events_held_during_a_pause_are_applied_in_order_with_the_timers(
    store: Any, activated: int, outcome: str
) -> None:
    """An activation that came during the pause, before the wait's timeout, ends the wait on
    resume (no reminder); one after it comes after the timeout fired, as without a pause."""
    r = _run(store)
    _issue(r, "c1", T0)
    r.advance(T0 + timedelta(hours=1))
    r.engine.control.pause("nudges")
    at = T0 + timedelta(hours=activated)
    r.advance(at)
    r.engine.ingest(ev("c1", "card_activated", at, card_id="K-c1"))
    assert [i["status"] for i in r.state.instances_of("c1")] == ["waiting"]
    r.advance(T0 + timedelta(hours=70))
    r.engine.control.resume("nudges", timers="fire")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    assert [i["outcome"] for i in r.state.instances_of("c1")] == [outcome]
    assert len(_sends(r, "activation_reminder")) == (outcome == "timed_out")


def test_an_entry_event_during_a_pause_enters_the_customer_on_resume(store: Any) -> None:
    """A card issued during the pause enters nobody then; on resume the customer enters as of
    the event's time; `enroll` from code is refused while paused."""
    r = _run(store)
    r.engine.control.pause("nudges")
    at = T0 + timedelta(hours=3)
    _issue(r, "c2", at)
    assert r.state.instances_of("c2") == []
    assert r.engine.enroll("c1", "nudges") is None
    assert r.state.held_counts() == {"nudges": 1}  # type: ignore[attr-defined]
    r.advance(T0 + timedelta(hours=5))
    r.engine.control.resume("nudges", timers="fire")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    [inst] = r.state.instances_of("c2")
    assert datetime.fromisoformat(inst["entered_at"]) == at
    assert _sends(r, "welcome_activation_guide") == [("c2", T0 + timedelta(hours=5))]
    assert r.state.held_counts() == {}  # type: ignore[attr-defined]


def test_drain_stops_entries_and_lets_running_instances_finish(store: Any) -> None:
    """Draining, a new card enters nobody while the running instance gets its reminder and
    ends; `resume` opens the journey again."""
    r = _run(store)
    _issue(r, "c1", T0)
    r.engine.control.drain("nudges", reason="v2 replaces it")
    _issue(r, "c2", T0 + timedelta(hours=2))
    r.advance(T0 + timedelta(days=3))
    assert r.state.instances_of("c2") == []
    assert [i["outcome"] for i in r.state.instances_of("c1")] == ["timed_out"]
    assert [c for c, _ in _sends(r, "activation_reminder")] == ["c1"]
    assert r.engine.control.state("nudges") == "draining"
    r.engine.control.resume("nudges")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    _issue(r, "c2", T0 + timedelta(days=4))
    assert len(r.state.instances_of("c2")) == 1


def test_every_action_is_audited_with_who_when_what_and_why(store: Any) -> None:
    """Pause, resume and drain each leave an audit row: the OS user by default, the clock's
    time in UTC, the action, the reason and what it did."""
    r = _run(store)
    r.advance(T0 + timedelta(hours=1))
    r.engine.control.pause("nudges", reason="complaint")
    r.advance(T0 + timedelta(hours=3))
    r.engine.control.resume("nudges", timers="extend", by="lan")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    r.engine.control.drain("nudges", by="minh")
    rows = r.engine.control.audit()
    assert [(e.action, e.by, e.reason) for e in rows] == [
        ("pause", operator(), "complaint"),
        ("resume", "lan", None),
        ("drain", "minh", None),
    ]
    assert rows[0].at == (T0 + timedelta(hours=1)).astimezone(UTC)
    assert rows[0].at.tzinfo is not None
    assert rows[1].detail["timers"] == "extend"
    assert rows[1].detail["paused_for"] == "2h"
    assert [e.seq for e in rows] == [1, 2, 3] or store is not None


def test_control_errors_name_the_problem(store: Any) -> None:
    """An unknown journey, a second pause, a resume without a timer policy, a drain of a
    paused journey and a resume of an active one are refused, saying why."""
    r = _run(store)
    with pytest.raises(ControlError, match="unknown journey 'nudge'; this engine runs: nudges"):
        r.engine.control.pause("nudge")
    r.engine.control.pause("nudges", by="ops")
    with pytest.raises(ControlError, match=r"already paused .*by ops"):
        r.engine.control.pause("nudges")
    with pytest.raises(ControlError, match="needs a timer policy: extend"):
        r.engine.control.resume("nudges")
    with pytest.raises(ControlError, match="resume it first"):
        r.engine.control.drain("nudges")
    r.engine.control.resume("nudges", timers="fire")
    r.engine.tick()  # (the engine applies what the journey held at its next step)
    with pytest.raises(ControlError, match="not paused nor draining"):
        r.engine.control.resume("nudges", timers="fire")
    assert len(r.engine.control.audit()) == 2


def test_an_action_dated_before_the_journeys_last_one_is_refused(store: Any) -> None:
    """`journeydsl resume --now` before the pause it ends (or a pause or drain dated before the
    journey's last action) is refused, saying so, and changes nothing; a later one is taken."""
    from journeydsl.runtime import control

    r = _run(store)
    control.pause(r.state, "nudges", by="ops", now=T0 + timedelta(hours=2))
    for timers, at in (("extend", T0 + timedelta(hours=1)), ("fire", T0)):
        with pytest.raises(ControlError, match="is before journey 'nudges' became paused"):
            control.resume(r.state, "nudges", timers=timers, now=at)
    assert [e.action for e in control.audit(r.state)] == ["pause"]  # (nothing changed)
    control.resume(r.state, "nudges", timers="extend", now=T0 + timedelta(hours=3))
    with pytest.raises(ControlError, match="control actions go forward in time"):
        control.drain(r.state, "nudges", now=T0 + timedelta(hours=2, minutes=59))
    assert [e.action for e in control.audit(r.state)] == ["pause", "resume"]


def test_the_stores_keep_control_state() -> None:
    """The memory and SQLite stores implement the control protocol."""
    assert isinstance(MemoryStateStore(), ControlStore)
    with SQLiteStore(":memory:") as s:
        assert isinstance(s, ControlStore)


def _messages(r: Run) -> set[tuple[str, str, str]]:
    return {
        (m.customer_id, m.template, m.idempotency_key)
        for c in r.channels.values()
        for m in c.delivered
    }


def _scenario(pause: tuple[int, int] | None, activations: list[int]) -> Run:
    """Three cards issued hours apart, some activated; paused from hour a to hour b."""
    r = _run(None, ("c1", "c2", "c3"))
    events = [(h * 7, "card_issued", f"c{h + 1}") for h in range(3)]
    events += [(h, "card_activated", f"c{i % 3 + 1}") for i, h in enumerate(activations)]
    marks = [(pause[0], "pause", ""), (pause[1], "resume", "")] if pause else []
    for hour, what, customer in sorted(events + marks):
        at = T0 + timedelta(hours=hour)
        r.advance(at)
        if what == "pause":
            r.engine.control.pause("nudges")
        elif what == "resume":
            r.engine.control.resume("nudges", timers="fire")
            r.engine.tick()
        else:
            r.engine.ingest(ev(customer, what, at, card_id=f"K-{customer}", product="x"))
    r.advance(T0 + timedelta(days=6))
    return r


@settings(max_examples=40, deadline=None)
@given(
    start=st.integers(0, 80),
    length=st.integers(1, 12),
    activations=st.lists(st.integers(0, 90), max_size=4),
)
def test_pause_then_resume_with_fire_delivers_the_messages_of_no_pause(
    start: int, length: int, activations: list[int]
) -> None:
    """Paused at any hour for up to 12 hours (less than stale after), then resumed with `fire`:
    exactly the messages of the run without a pause are delivered, none twice."""
    plain = _scenario(None, activations)
    paused = _scenario((start, start + length), activations)
    assert _messages(paused) == _messages(plain)
    keys = _attempts(paused)
    assert len(keys) == len(set(keys))


def test_a_change_made_meanwhile_by_another_operator_is_refused(store: Any) -> None:
    """A store records a control state only over the one the action read: a change made
    meanwhile (here: a pause read before another operator's resume) is refused, unaudited."""
    r = _run(store)
    r.engine.control.pause("nudges")
    kept: Any = r.state
    found = kept.control_states()["nudges"]
    entry = AuditEntry(T0.astimezone(UTC), "nudges", "drain", "ops")
    draining = dataclasses.replace(found, state="draining")
    assert not kept.set_control(draining, entry, None)
    assert not kept.set_control(draining, entry, dataclasses.replace(found, state="active"))
    assert kept.set_control(draining, entry, found)
    assert [e.action for e in kept.control_audit()] == ["pause", "drain"]
    assert kept.control_states()["nudges"].state == "draining"


def test_a_tick_at_a_time_without_an_offset_is_a_clear_error() -> None:
    """`engine.tick(datetime.now())`, a time without a UTC offset, is a ValueError that says
    so (it was a TypeError from deep inside, comparing naive and aware times), and nothing
    moves."""
    r = _run(None)
    _issue(r, "c1", T0)
    naive = (T0 + timedelta(days=30)).replace(tzinfo=None)
    with pytest.raises(ValueError, match=r"needs an aware time .* not 2026-02-04T10:00:00"):
        r.engine.tick(naive)
    assert r.engine.tick(T0 + timedelta(days=30)) > 0
