"""`entry when` (journeydsl.runtime.changes) fed events as they come: a late event, dated
before the customer's last evaluation, is evaluated as of that evaluation, so it neither misses
the crossing the events after it complete nor enters the customer a second time."""

from __future__ import annotations

from datetime import datetime, timedelta

from tests.runtime.scenario import Event, Run, build, compile_journey, local, profile, txn
from tests.runtime.test_entry_on_change import BIG_MONTH

T0 = local("2026-03-06 10:00")


def installed(customer_id: str, at: datetime) -> Event:
    """An `app_installed` event (a type the condition does not read)."""
    return {"customer_id": customer_id, "type": "app_installed", "at": at.isoformat(), "data": {}}


def as_they_come(arrivals: list[Event]) -> Run:
    """The journey fed ``arrivals`` in that order, as a live feed takes them: the clock at the
    latest time seen, each event at its own time."""
    r = build([compile_journey(BIG_MONTH)], [profile("c1")], start=T0 - timedelta(days=1))
    for event in arrivals:
        at = datetime.fromisoformat(event["at"])
        if at > r.clock.now():
            r.advance(at)
        r.engine.ingest(event)
    r.advance(T0 + timedelta(days=1))
    return r


def test_a_late_event_that_completes_a_crossing_enters_at_the_present() -> None:
    """3M at 10:00, then 3M dated a day earlier: entered at 10:00 with one e-mail, as in order."""
    r = as_they_come([txn("c1", T0, 3_000_000), txn("c1", T0 - timedelta(days=1), 3_000_000)])
    assert r.entered("c1") == ["2026-03-06 10:00"]
    assert [a[3] for a in r.acts("c1")] == ["fee_waiver_granted"]


def test_a_late_event_does_not_turn_a_present_true_false() -> None:
    """Crossing at 11:00, an event dated 10:30 arriving after it, one more at 12:00: one entry,
    one e-mail (the late event evaluated as of 10:30 stored false, and 12:00 entered again)."""
    r = as_they_come(
        [
            txn("c1", T0, 3_000_000),
            txn("c1", T0 + timedelta(hours=1), 3_000_000),
            installed("c1", T0 + timedelta(minutes=30)),
            installed("c1", T0 + timedelta(hours=2)),
        ]
    )
    assert r.entered("c1") == ["2026-03-06 11:00"]
    assert [a[3] for a in r.acts("c1")] == ["fee_waiver_granted"]


GONE_QUIET = """
journey gone_quiet
uses events "events.yaml"
uses templates "templates.yaml"
entry when has(transaction in last 60d) and not has(transaction in last 7d)
  reentry always
send email reactivation_offer marketing { offer: "come_back" }
ticket telesales priority normal { reason: "quiet" }
"""


def test_an_entry_looked_at_days_late_is_a_stale_timer() -> None:
    """No tick from day 1 to day 30: the customer enters as of day 8, the offer is withheld
    as a timer 22 days late, and the ticket is opened marked 22 days late, as for segments."""
    start = local("2026-03-01 10:00")
    r = build([compile_journey(GONE_QUIET)], [profile("c1")], start=start)
    r.feed([txn("c1", start + timedelta(days=1), 100_000)])
    r.clock.set(start + timedelta(days=30))
    r.engine.tick()
    assert r.entered("c1") == ["2026-03-09 10:00"]
    assert r.acts("c1", kinds=["suppressed"]) == [
        (
            "2026-03-31 10:00",
            "suppressed",
            "reactivation_offer",
            "stale: the timer fired 22d after its time (stale after 1d)",
        )
    ]
    assert [t.late for t in r.tickets.opened] == [timedelta(days=22)]
