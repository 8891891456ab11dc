"""Timers that fire late (the host did not tick, say for days of downtime) send nothing stale to
the customer: each message of a timer that fires more than ``stale after`` (default 24h) after its
time is suppressed with reason ``stale``, tickets and actions still happen marked late, and the
journey goes on, so it ends as an on-time run does."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.engine import STALE_AFTER
from tests.runtime.scenario import (
    EXAMPLES,
    Run,
    build,
    compile_journey,
    ev,
    example,
    local,
    profile,
    txn,
)

T0 = local("2026-01-05 10:00")
REMINDER = "activation_reminder"


def _issued(**kw: Any) -> Run:
    """The onboarding example with one new cardholder (never activated) entered at T0."""
    r = build(
        [kw.pop("journey", None) or example("onboarding_new_cardholder")],
        [profile("c1")],
        start=T0,
        **kw,
    )
    r.engine.ingest(ev("c1", "card_issued", T0, card_id="K1", product="classic"))
    return r


def _catch_up(r: Run, at: datetime) -> None:
    """One tick at ``at``, after no tick since the last one."""
    r.clock.set(at)
    r.engine.tick(at)


def _reminders(r: Run, kind: str) -> list[dict[str, Any]]:
    return [a for a in r.actions if a["kind"] == kind and a.get("template") == REMINDER]


def _on_time(horizon: datetime, **kw: Any) -> Run:
    r = _issued(**kw)
    r.advance(horizon)
    return r


def _without_quiet_hours() -> Any:
    """The onboarding example without its quiet hours (so no message waits for the morning)."""
    text = (EXAMPLES / "onboarding_new_cardholder.journey").read_text(encoding="utf-8")
    return compile_journey(text.replace("quiet hours 21:00 to 08:00 for sms, zns, push", ""))


def test_a_message_held_by_quiet_hours_and_then_not_delivered_for_days_is_stale() -> None:
    """A reminder deferred to 08:00 by quiet hours, with no tick until two days later, is
    suppressed as stale at the catch-up, naming when it was due."""
    r = _issued()
    _catch_up(r, T0 + timedelta(days=2, hours=11))  # 21:00, round 1 waits for 08:00
    assert _reminders(r, "send") == []
    _catch_up(r, T0 + timedelta(days=4, hours=11))
    stale = _reminders(r, "suppressed")
    assert [a["params"]["round"] for a in stale] == [1]
    assert "not delivered for 1d 13h (stale after 1d)" in stale[0]["reason"]


def test_thirty_days_without_a_tick_then_one_tick_sends_no_reminder() -> None:
    """Six reminder rounds slept through: none is sent at the catch-up, each is suppressed as
    stale with how late it was, the telesales ticket still opens (marked late), and the
    instance ends as an on-time run's does."""
    r = _issued()
    _catch_up(r, T0 + timedelta(days=30))
    assert _reminders(r, "send") == []
    stale = _reminders(r, "suppressed")
    assert sorted(a["params"]["round"] for a in stale) == [1, 2, 3, 4, 5, 6]
    assert all(a["reason"].startswith("stale: the timer fired ") for a in stale)
    assert "(stale after 1d)" in stale[0]["reason"]
    tickets = [a for a in r.actions if a["kind"] == "ticket"]
    assert len(tickets) == 1
    assert tickets[0]["late"] == "10d"
    assert r.tickets.opened[0].late == timedelta(days=10)
    on_time = _on_time(T0 + timedelta(days=30))
    assert len(_reminders(on_time, "send")) == 6
    assert r.outcomes("c1") == on_time.outcomes("c1") == [("ended", "not_activated")]


def test_a_catch_up_inside_the_last_round_sends_that_round_only() -> None:
    """Down from day 1 to 6 hours after the sixth round was due: rounds 1-5 are stale, the sixth
    is sent at the catch-up instant, and the customer gets one message then, not six."""
    r = _issued()
    _catch_up(r, T0 + timedelta(days=17, hours=6))
    sent = _reminders(r, "send")
    assert [a["params"]["round"] for a in sent] == [6]
    assert sorted(a["params"]["round"] for a in _reminders(r, "suppressed")) == [1, 2, 3, 4, 5]


def test_the_decision_log_says_the_timer_was_stale() -> None:
    """explain shows each stale timer (how late) and each send it withheld."""
    r = _issued()
    _catch_up(r, T0 + timedelta(days=30))
    log = r.engine.explain("c1")[0]["log"]
    timers = [e for e in log if e["what"] == "timer" and e.get("stale")]
    assert timers
    assert timers[0]["late"] == "28d"
    sends = [e for e in log if e["what"] == "send" and e.get("template") == REMINDER]
    assert len(sends) == 6
    assert all("stale" in e for e in sends)


JOURNEY = """
journey patient version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
stale after 40d
wait 2d
send sms activation_reminder transactional { round: 1 }
exit done
"""


def test_a_journey_stale_after_wins_over_the_engine_default() -> None:
    """`stale after 40d` in the journey: a message 28 days late is still sent."""
    r = _issued(journey=compile_journey(JOURNEY))
    _catch_up(r, T0 + timedelta(days=30))
    assert [a["params"]["round"] for a in _reminders(r, "send")] == [1]


def test_the_rule_can_be_turned_off_by_the_host() -> None:
    """Engine(stale_after=None): a late timer sends as it always did."""
    r = _issued(stale_after=None)
    _catch_up(r, T0 + timedelta(days=30))
    assert len(_reminders(r, "send")) == 6


def test_the_journey_stale_after_is_checked() -> None:
    """`stale after` must be a fixed, positive duration (JD105, at the value)."""
    from journeydsl.compiler import compile_source

    bad = JOURNEY.replace("stale after 40d", "stale after 0d")
    result = compile_source(bad, "bad.journey", base_dir=EXAMPLES)
    codes = [(d.code, d.span.line) for d in result.diagnostics]
    assert ("JD105", 7) in codes


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 40 * 24), min_size=0, max_size=6))
def test_any_tick_schedule_sends_no_reminder_later_than_stale_after(hours: list[int]) -> None:
    """Ticks at any instants (gaps of any length) over 40 days: every round happens, sent or
    suppressed as stale; none is sent more than STALE_AFTER after its time (its on-time run's
    instant); the customer gets at most one reminder per tick; the outcome is the on-time
    run's."""
    journey = _without_quiet_hours()
    on_time = _on_time(T0 + timedelta(days=41), journey=journey)
    due = {a["params"]["round"]: a["at"] for a in _reminders(on_time, "send")}
    r = _issued(journey=journey)
    for h in sorted(set(hours)):
        _catch_up(r, T0 + timedelta(hours=h))
    _catch_up(r, T0 + timedelta(days=41))
    sent, stale = _reminders(r, "send"), _reminders(r, "suppressed")
    assert sorted(a["params"]["round"] for a in sent + stale) == sorted(due)
    for a in sent:
        assert a["at"] - due[a["params"]["round"]] <= STALE_AFTER
    per_tick = [a["at"] for a in sent]
    assert len(per_tick) == len(set(per_tick))
    assert r.outcomes("c1") == on_time.outcomes("c1")


def test_explain_words_stale_timers_and_late_tickets() -> None:
    """explain's decision lines say a timer was stale (and how late), a send was withheld, and
    a ticket was late."""
    from journeydsl.simulate.report import _describe_log

    r = _issued()
    _catch_up(r, T0 + timedelta(days=30))
    lines = [_describe_log(e, "Asia/Ho_Chi_Minh") for e in r.engine.explain("c1")[0]["log"]]
    assert "timer fired 28d late: stale, sends nothing to the customer" in lines
    assert "send push activation_reminder: withheld, stale" in lines
    assert "ticket telesales priority normal (queued, 10d late)" in lines


def _dormant(stale_after: Any = STALE_AFTER) -> Run:
    """The daily 09:00 segment journey from 2025-09-30 08:00: d1 is dormant from the start, d2
    only from 2025-10-02 (its last spend is 90 days old that morning)."""
    start = local("2025-09-30 08:00")
    r = build(
        [example("dormant_reactivation")],
        [profile("d1"), profile("d2")],
        start=start,
        stale_after=stale_after,
    )
    r.history(
        [
            ev("d1", "card_activated", local("2025-05-20 10:00"), card_id="k1"),
            txn("d1", local("2025-06-02 12:00"), 5_000_000),
            ev("d2", "card_activated", local("2025-05-20 10:00"), card_id="k2"),
            txn("d2", local("2025-07-03 12:00"), 5_000_000),
        ]
    )
    r.advance(local("2025-09-30 09:30"))  # the first evaluation, on time: d1 enters
    return r


def test_a_segment_evaluated_days_late_enters_but_sends_nothing_stale() -> None:
    """No tick from day 1 09:30 to day 5: the missed evaluations still run, each at its 09:00,
    and d2 enters at day 3's, but its offers are suppressed as stale; on time, they go out."""
    r = _dormant()
    _catch_up(r, local("2025-10-04 12:00"))
    assert r.entered("d2") == ["2025-10-02 09:00"]
    d2 = [a for a in r.actions if a["customer_id"] == "d2"]
    assert [a for a in d2 if a["kind"] == "send"] == []
    stale = [a for a in d2 if a["kind"] == "suppressed"]
    assert stale
    assert all(a["reason"].startswith("stale: the timer fired 2d 3h after") for a in stale)
    on_time = _dormant()
    on_time.advance(local("2025-10-04 12:00"))
    assert on_time.entered("d2") == ["2025-10-02 09:00"]
    sent = [a for a in on_time.actions if a["customer_id"] == "d2" and a["kind"] == "send"]
    assert {a["template"] for a in sent} == {"reactivation_offer"}
