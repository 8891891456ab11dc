"""Calendars on the engine: segment schedules and anniversaries in each customer's zone, across
daylight-saving changes, month ends and leap days; `wait until next DAYS HH:MM`; send windows of
the journey and of the policies; timestamp literals on the customer's clock."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from tests.runtime.policies.harness import harness, policies
from tests.runtime.scenario import (
    compile_journey,
    ev,
    example,
    local,
    profile,
    run,
    txn,
)

BERLIN, NEW_YORK, HCM = "Europe/Berlin", "America/New_York", "Asia/Ho_Chi_Minh"


def _segment(schedule: str, tz: str = HCM, condition: str = "has(card_activated)") -> str:
    return f"""
journey scheduled
uses events "events.yaml"
uses templates "templates.yaml"
timezone "{tz}"
entry segment {condition}
  {schedule}
  reentry always
send zns first_spend_nudge
"""


def _activated(customer: str, tz: str = HCM) -> list[dict[str, object]]:
    return [ev(customer, "card_activated", local("2025-06-01 10:00", tz), card_id="k1")]


def _entered(schedule: str, start: str, end: str, tz: str = HCM) -> list[str]:
    r = run(
        [compile_journey(_segment(schedule, tz))],
        [profile("c1", tz=tz)],
        history=_activated("c1", tz),
        start=local(start, tz),
        horizon=local(end, tz),
    )
    return r.entered("c1")


def test_weekly_digest_stays_at_08_00_berlin_across_the_spring_change() -> None:
    """The weekly example enters at 08:00 local on Mondays and Thursdays: 07:00 UTC in winter,
    06:00 UTC after the clocks go forward on 29 March 2026."""
    r = run(
        [example("weekly_spend_digest")],
        [profile("b1", tz=BERLIN)],
        [txn("b1", local("2026-03-21 12:00", BERLIN), 300_000)],
        start=local("2026-03-20 00:00", BERLIN),
        horizon=local("2026-04-03 00:00", BERLIN),
    )
    assert r.entered("b1") == ["2026-03-23 08:00", "2026-03-26 08:00"]
    r2 = run(
        [example("weekly_spend_digest")],
        [profile("b1", tz=BERLIN)],
        [txn("b1", local("2026-03-27 12:00", BERLIN), 300_000)],
        start=local("2026-03-27 00:00", BERLIN),
        horizon=local("2026-04-01 00:00", BERLIN),
    )
    (inst,) = r2.instances("b1")
    assert datetime.fromisoformat(inst["entered_at"]).astimezone(UTC) == datetime(
        2026, 3, 30, 6, 0, tzinfo=UTC
    )


def test_monthly_on_31_runs_on_each_months_last_day_when_shorter() -> None:
    """`monthly on 31` enters on 31 January, 28 February, 31 March and 30 April."""
    assert _entered("monthly on 31 at 09:00", "2026-01-01 00:00", "2026-05-05 00:00") == [
        "2026-01-31 09:00",
        "2026-02-28 09:00",
        "2026-03-31 09:00",
        "2026-04-30 09:00",
    ]


def test_monthly_on_last_day_finds_29_february_in_a_leap_year() -> None:
    """`monthly on last day` enters on 29 February 2028."""
    assert _entered("monthly on last day at 09:00", "2028-02-01 00:00", "2028-03-05 00:00") == [
        "2028-02-29 09:00"
    ]


def test_every_n_days_counts_from_its_first_day_and_ends_on_its_last() -> None:
    """`every 12 days from 2026-01-05 until 2026-02-20` enters on Jan 5, 17, 29 and Feb 10."""
    got = _entered(
        "every 12 days at 09:00 from 2026-01-05 until 2026-02-20",
        "2026-01-01 00:00",
        "2026-04-01 00:00",
    )
    assert got == ["2026-01-05 09:00", "2026-01-17 09:00", "2026-01-29 09:00", "2026-02-10 09:00"]


def test_a_schedule_after_its_end_wakes_nobody() -> None:
    """Once a schedule's last day has passed, the engine has no segment wake-up for it."""
    j = compile_journey(_segment("daily at 09:00 until 2026-01-02"))
    r = run([j], [profile("c1")], history=_activated("c1"), start=local("2026-01-01 00:00"))
    assert r.entered("c1") == ["2026-01-01 09:00", "2026-01-02 09:00"]
    assert r.engine.next_wakeup() is None


def test_a_time_in_the_spring_gap_runs_as_much_later_as_the_gap() -> None:
    """`daily at 02:30` in Berlin runs at 03:30 CEST on 29 March 2026 (the clock skips 02:30),
    and at 02:30 the days before and after."""
    got = _entered("daily at 02:30", "2026-03-28 00:00", "2026-03-30 12:00", BERLIN)
    assert got == ["2026-03-28 02:30", "2026-03-29 03:30", "2026-03-30 02:30"]


def test_a_time_shown_twice_in_autumn_runs_once_at_the_first() -> None:
    """`daily at 01:30` in New York runs once on 1 November 2026, at the first 01:30 (EDT)."""
    r = run(
        [compile_journey(_segment("daily at 01:30", NEW_YORK))],
        [profile("c1", tz=NEW_YORK)],
        history=_activated("c1", NEW_YORK),
        start=local("2026-11-01 00:00", NEW_YORK),
        horizon=local("2026-11-01 12:00", NEW_YORK),
    )
    (inst,) = r.instances("c1")
    assert datetime.fromisoformat(inst["entered_at"]).astimezone(UTC) == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_a_segment_runs_at_09_00_on_each_customers_own_clock() -> None:
    """A journey in Ho Chi Minh City enters a New York customer at 09:00 New York time, before
    and after New York's spring change (8 March 2026)."""
    j = compile_journey(_segment("weekly on fri at 09:00"))
    r = run(
        [j],
        [profile("ny", tz=NEW_YORK), profile("vn", tz=HCM)],
        history=_activated("ny", NEW_YORK) + _activated("vn"),
        start=local("2026-03-01 00:00", HCM),
        horizon=local("2026-03-15 00:00", HCM),
    )
    assert r.entered("ny") == ["2026-03-06 09:00", "2026-03-13 09:00"]
    assert r.entered("vn") == ["2026-03-06 09:00", "2026-03-13 09:00"]
    ny = [datetime.fromisoformat(i["entered_at"]).astimezone(UTC).hour for i in r.instances("ny")]
    assert ny == [14, 13]


@pytest.mark.parametrize(
    ("birthday", "start", "end", "expected"),
    [
        ("2000-02-29", "2027-02-01 00:00", "2027-03-05 00:00", ["2027-02-28 09:00"]),
        ("2000-02-29", "2028-02-01 00:00", "2028-03-05 00:00", ["2028-02-29 09:00"]),
        ("1990-03-08", "2026-03-01 00:00", "2026-03-15 00:00", ["2026-03-08 09:00"]),
    ],
)
def test_birthdays_on_the_customers_clock_with_the_leap_day_rule(
    birthday: str, start: str, end: str, expected: list[str]
) -> None:
    """The birthday example greets at 09:00 New York time (on the DST day too); 29 February is
    greeted on 28 February in years without one."""
    r = run(
        [example("birthday_greeting")],
        [profile("c1", tz=NEW_YORK, app=True, birthday=birthday)],
        history=_activated("c1", NEW_YORK),
        start=local(start, NEW_YORK),
        horizon=local(end, NEW_YORK),
    )
    assert r.entered("c1") == expected
    assert [a[1:4] for a in r.acts("c1")] == [("send", "push", "happy_birthday")] * len(expected)


def test_monthly_card_anniversary_checks_the_fee_waiver_condition() -> None:
    """The annual-fee example: opened on the 31st, reminded on 28 February, waived on 31 March
    after 1,200,000 VND spent, reminded again on 30 April."""
    r = run(
        [example("annual_fee_reminder")],
        [profile("c1", card_opened_on="2025-01-31")],
        [txn("c1", local("2026-03-15 12:00"), 1_200_000)],
        history=_activated("c1"),
        start=local("2026-02-01 00:00"),
        horizon=local("2026-05-02 00:00"),
    )
    assert r.entered("c1") == ["2026-02-28 09:00", "2026-03-31 09:00", "2026-04-30 09:00"]
    assert [o for _, o in r.outcomes("c1")] == ["fee_due", "fee_waived", "fee_due"]


WAIT_NEXT = """
journey follow_up
uses events "events.yaml"
uses templates "templates.yaml"
timezone "America/New_York"
entry on card_issued
wait until next weekday 09:00
send sms activation_reminder transactional { round: 1 }
"""


@pytest.mark.parametrize(
    ("issued", "sent"),
    [
        ("2026-03-06 18:00", "2026-03-09 09:00"),  # Friday evening -> Monday, after the change
        ("2026-03-09 09:00", "2026-03-10 09:00"),  # exactly at 09:00 -> the next weekday's
        ("2026-03-10 08:59", "2026-03-10 09:00"),
        ("2026-03-07 10:00", "2026-03-09 09:00"),  # Saturday -> Monday
    ],
)
def test_wait_until_next_weekday_moves_forward_on_the_local_clock(issued: str, sent: str) -> None:
    """`wait until next weekday 09:00` in New York skips the weekend, waits a day when reached at
    09:00, and stays at 09:00 local across the DST change of Sunday 8 March 2026."""
    r = run(
        [compile_journey(WAIT_NEXT)],
        [profile("c1", tz=NEW_YORK)],
        [ev("c1", "card_issued", local(issued, NEW_YORK), card_id="k1", product="gold")],
        start=local(issued, NEW_YORK),
    )
    assert [a[0] for a in r.acts("c1")] == [sent]


def test_a_repeat_of_wait_until_next_moves_a_weekday_per_round() -> None:
    """A repeat whose only wait is `wait until next weekday 09:00` passes JD502 and sends once
    per weekday: Friday, Monday, Tuesday."""
    j = compile_journey("""
journey daily_nudges
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
repeat max 3 {
  wait until next weekday 09:00
  send zns first_spend_nudge
}
""")
    r = run(
        [j],
        [profile("c1")],
        [ev("c1", "card_issued", local("2026-03-05 09:00"), card_id="k1", product="gold")],
        start=local("2026-03-05 09:00"),
    )
    assert [a[0] for a in r.acts("c1")] == [
        "2026-03-06 09:00",
        "2026-03-09 09:00",
        "2026-03-10 09:00",
    ]


ONE_SMS = """
journey window_sms
uses events "events.yaml"
uses templates "templates.yaml"
timezone "Europe/Berlin"
entry on card_activated
  reentry always
{window}
send sms install_digital_app marketing
"""


@pytest.mark.parametrize(
    ("due", "delivered"),
    [
        ("2026-03-27 17:29", "2026-03-27 17:29"),  # Friday, inside
        ("2026-03-27 17:30", "2026-03-30 08:00"),  # Friday at the close -> Monday, summer time
        ("2026-03-28 10:00", "2026-03-30 08:00"),  # Saturday
        ("2026-03-30 07:59", "2026-03-30 08:00"),
    ],
)
def test_a_journey_send_window_holds_sms_until_the_next_opening(due: str, delivered: str) -> None:
    """`send window weekday 08:00 to 17:30 for sms` defers a message due outside to the next
    weekday 08:00 on the customer's clock, across the change to summer time."""
    j = compile_journey(ONE_SMS.format(window="send window weekday 08:00 to 17:30 for sms"))
    empty = policies("description: no rules of its own\n")  # the decisions are logged
    h = harness([j], [profile("c1", tz=BERLIN)], start=local(due, BERLIN), policy=empty)
    h.feed([ev("c1", "card_activated", local(due, BERLIN), card_id="k1")])
    h.advance(local("2026-04-30 00:00", BERLIN))
    assert h.times("c1", "sms") == [delivered]
    if due != delivered:
        (held, *_) = h.decisions("c1")
        assert held["policy"] == "journey_send_window"


POLICY_WINDOWS = """
send_windows:
  - name: sms_business_hours
    channels: [sms]
    days: weekday
    from: "08:00"
    to: "17:30"
  - name: no_push_at_weekends
    channels: [push]
    days: weekday
    from: "00:00"
    to: "00:00"
    action: drop
"""


def test_policy_send_windows_defer_or_drop_by_rule() -> None:
    """A policy window defers a Saturday SMS to Monday 08:00 and drops a Saturday push; a
    transactional SMS (not in the rule's categories) goes at once."""
    policy = policies(POLICY_WINDOWS)
    sms = compile_journey(ONE_SMS.format(window=""))
    push = compile_journey(
        ONE_SMS.format(window="")
        .replace("window_sms", "window_push")
        .replace("send sms install_digital_app", "send push first_spend_nudge")
    )
    saturday = local("2026-03-28 10:00", BERLIN)
    h = harness([sms, push], [profile("c1", tz=BERLIN, app=True)], start=saturday, policy=policy)
    h.feed([ev("c1", "card_activated", saturday, card_id="k1")])
    h.advance(local("2026-04-30 00:00", BERLIN))
    assert h.times("c1", "sms") == ["2026-03-30 08:00"]
    assert h.times("c1", "push") == []
    assert any(
        "send_windows:no_push_at_weekends" in r or "send window" in r for r in h.suppressed("c1")
    )
    assert any(d["policy"] == "send_windows:sms_business_hours" for d in h.decisions("c1"))


def test_a_floating_timestamp_literal_is_read_on_each_customers_clock() -> None:
    """`wait until 2026-03-02T09:00` waits for 09:00 where each customer lives; with an offset
    it is one instant for everybody."""
    text = """
journey launch
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
wait until {at}
send zns first_spend_nudge
"""
    start = local("2026-03-01 00:00", HCM)
    people = [profile("ny", tz=NEW_YORK), profile("vn", tz=HCM)]
    issued = [ev(c, "card_issued", start, card_id="k1", product="gold") for c in ("ny", "vn")]
    floating = run(
        [compile_journey(text.format(at="2026-03-02T09:00"))], people, issued, start=start
    )
    assert [a[0] for a in floating.acts("ny")] == ["2026-03-02 09:00"]
    assert [a[0] for a in floating.acts("vn")] == ["2026-03-02 09:00"]
    fixed = run(
        [compile_journey(text.format(at="2026-03-02T09:00+07:00"))], people, issued, start=start
    )
    assert [a[0] for a in fixed.acts("vn")] == ["2026-03-02 09:00"]
    assert [a[0] for a in fixed.acts("ny")] == ["2026-03-01 21:00"]
