"""Event time: the journeys decide as of an event's own time, however late it arrives (within
the allowed lateness): entry, trigger.at, since-entry windows and timers count from it. An event
dated further back than the allowed lateness is quarantined too_late, and can be replayed."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tests.runtime.scenario import Run, build, ev, example, local, profile

ISSUED = local("2026-01-05 09:00")
ACTIVATED = local("2026-01-06 09:00")
OTHER = local("2026-01-05 20:00")  # another customer's event, which moved the clock


def _engine(**kw: Any) -> Run:
    return build(
        [example("onboarding_new_cardholder")], [profile("a"), profile("b")], start=ISSUED, **kw
    )


def _issued(cid: str, at: Any) -> dict[str, Any]:
    return ev(cid, "card_issued", at, card_id="K-" + cid, product="classic")


def _in_order() -> Run:
    r = _engine()
    r.feed(
        [
            _issued("b", ISSUED),
            ev("b", "card_activated", ACTIVATED),
            ev("a", "app_installed", OTHER),
        ]
    )
    r.advance(ISSUED + timedelta(days=40))
    return r


def test_a_late_entry_event_enters_at_its_own_time() -> None:
    """b's card_issued arrives after a's later event: b enters at 01-05 09:00 (not at the clock),
    trigger.at equals entered_at, and its activation at 01-06 ends the reminders as in order."""
    r = _engine()
    r.feed([ev("a", "app_installed", OTHER)])
    r.engine.ingest(_issued("b", ISSUED))
    r.engine.ingest(ev("b", "card_activated", ACTIVATED))
    r.advance(ISSUED + timedelta(days=40))
    (inst,) = r.instances("b")
    assert inst["entered_at"] == ISSUED.isoformat()
    assert r.entered("b") == ["2026-01-05 09:00"]
    in_order = _in_order()
    # the same actions (the welcome goes out when the late event arrives, not before)
    assert [a[1:] for a in r.acts("b")] == [a[1:] for a in in_order.acts("b")]
    assert r.acts("b")[0][0] == "2026-01-05 20:00"
    assert r.outcomes("b") == in_order.outcomes("b")
    assert not [a for a in r.acts("b") if a[3:4] == ("activation_reminder",)]


def test_an_event_older_than_the_allowed_lateness_is_quarantined_too_late() -> None:
    """An event dated 2 days before the clock (allowed lateness 1 day) is quarantined with
    reason too_late, touches no instance, and replay takes it at its own time."""
    r = _engine()
    r.clock.set(ISSUED + timedelta(days=2, hours=1))
    result = r.engine.ingest(_issued("b", ISSUED))
    assert result.quarantined is not None
    assert result.quarantined.startswith("too_late: dated 2d 1h before the engine's clock")
    assert r.instances("b") == []
    (again,) = r.engine.replay_quarantined()
    assert again.quarantined is None
    assert again.entered
    assert r.entered("b") == ["2026-01-05 09:00"]


def test_the_allowed_lateness_is_the_hosts_to_set() -> None:
    """Engine(allowed_lateness=None) takes an event of any age (at its own time)."""
    r = _engine(allowed_lateness=None)
    r.clock.set(ISSUED + timedelta(days=9))
    assert r.engine.ingest(_issued("b", ISSUED)).entered
    assert r.entered("b") == ["2026-01-05 09:00"]


def test_a_late_event_does_not_move_an_instance_back_in_time() -> None:
    """An event dated before the instance's own last step is taken as of that step: the
    instance's log never goes backwards."""
    r = _engine()
    r.feed([_issued("b", ISSUED)])
    r.advance(ISSUED + timedelta(days=2, hours=1))  # the first reminder went out at day 2
    r.engine.ingest(ev("b", "card_activated", ISSUED + timedelta(days=1)))
    times = [e["at"] for e in r.engine.explain("b")[0]["log"] if e["what"] != "deliver"]
    assert times == sorted(times, key=lambda t: local(t[:16].replace("T", " ")))
