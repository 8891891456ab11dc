"""The onboarding_new_cardholder example journey, spec point by spec point (O-1 .. O-9), plus the
shared delivery rules: quiet hours, fallbacks, consent and time zones.

Times are local to the customer, to the minute. T0 = card issued, Ta = card activated.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from journeydsl.money import Money
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from tests.runtime.scenario import Event, Run, ev, example, local, profile, run, txn, vnd

OB = "onboarding_new_cardholder"
START = local("2026-01-05 00:00")
T0 = local("2026-01-05 10:00")
TA = local("2026-01-11 15:30")  # T0 + 6d 5h30
DAY = timedelta(days=1)


def issued(customer: str, at: datetime, card: str = "k1", product: str = "gold") -> Event:
    return ev(customer, "card_issued", at, card_id=card, product=product)


def activated(customer: str, at: datetime, card: str = "k1") -> Event:
    return ev(customer, "card_activated", at, card_id=card)


def onboarding(
    profiles: list[Profile], timeline: list[Event], start: datetime = START, **kw: Any
) -> Run:
    return run([example(OB)], profiles, timeline, start=start, horizon=start + 60 * DAY, **kw)


def welcome(
    when: str = "2026-01-05 10:00", card: str = "k1", product: str = "gold"
) -> tuple[Any, ...]:
    return (
        when,
        "send",
        "email",
        "welcome_activation_guide",
        {"card_id": card, "product": product},
    )


def reminder(when: str, channel: str, k: int) -> tuple[Any, ...]:
    return (when, "send", channel, "activation_reminder", {"round": k})


def send(when: str, channel: str, template: str, **params: Any) -> tuple[Any, ...]:
    return (when, "send", channel, template, params)


def offer(when: str, channel: str, deadline: str = "2026-02-10") -> tuple[Any, ...]:
    return send(when, channel, "fee_waiver_offer", threshold=vnd(1_000_000), deadline=deadline)


def activation_ticket(when: str = "2026-01-25 10:00", card: str = "k1") -> tuple[Any, ...]:
    return (when, "ticket", "telesales", "normal", {"reason": "activation_call", "card_id": card})


APP_REMINDERS = [
    reminder("2026-01-07 10:00", "push", 1),
    reminder("2026-01-10 10:00", "zns", 2),
    reminder("2026-01-13 10:00", "email", 3),
    reminder("2026-01-16 10:00", "push", 4),
    reminder("2026-01-19 10:00", "zns", 5),
    reminder("2026-01-22 10:00", "email", 6),
]
# After activation at TA (app customer): promotions, then the offer at TA+10d.
PROMOTIONS = send("2026-01-11 15:30", "email", "new_cardholder_promotions")
NUDGE = send("2026-01-18 15:30", "push", "first_spend_nudge")
OFFERS = [offer("2026-01-21 15:30", "email"), offer("2026-01-21 15:30", "zns")]


# ---------------------------------------------------------------------------------------- O-1


def test_O1_card_issued_enters_once_per_customer_ever() -> None:
    """O-1: a second card_issued, during or after the first instance, never re-enters."""
    r = onboarding(
        [profile("c1", app=True)],
        [
            issued("c1", T0),
            issued("c1", T0 + 3 * DAY, card="k2"),
            issued("c1", T0 + 30 * DAY, card="k3"),
        ],
    )
    assert len(r.instances("c1", OB)) == 1
    assert r.acts("c1") == [welcome(), *APP_REMINDERS, activation_ticket()]
    assert r.outcomes("c1") == [("ended", "not_activated")]


# ---------------------------------------------------------------------------------------- O-2


def test_O2_welcome_email_at_entry_with_card_and_product() -> None:
    """O-2: at T0 an email welcome_activation_guide with the trigger's card_id and product."""
    r = onboarding([profile("c1")], [issued("c1", T0, card="k9", product="platinum")])
    assert r.acts("c1")[0] == welcome(card="k9", product="platinum")


# ---------------------------------------------------------------------------------------- O-3


def test_O3_six_reminders_rotate_push_zns_email_while_not_activated() -> None:
    """O-3: rounds 1..6 at T0+2d,+5d,+8d,+11d,+14d,+17d on push, zns, email, push, zns, email."""
    r = onboarding([profile("c1", app=True)], [issued("c1", T0)])
    reminders = [a for a in r.acts("c1") if a[3:4] == ("activation_reminder",)]
    assert reminders == APP_REMINDERS


def test_O3_push_reminders_go_to_zns_for_a_customer_without_the_app() -> None:
    """O-3 + fallback: rounds 1 and 4 (push) reach a customer without the app on zns."""
    r = onboarding([profile("c1", app=False)], [issued("c1", T0)])
    reminders = [a for a in r.acts("c1") if a[3:4] == ("activation_reminder",)]
    assert reminders == [
        reminder("2026-01-07 10:00", "zns", 1),
        reminder("2026-01-10 10:00", "zns", 2),
        reminder("2026-01-13 10:00", "email", 3),
        reminder("2026-01-16 10:00", "zns", 4),
        reminder("2026-01-19 10:00", "zns", 5),
        reminder("2026-01-22 10:00", "email", 6),
    ]


def test_O3_an_earlier_cards_activation_does_not_stop_the_reminders() -> None:
    """O-3: 'not activated' means since entry; an old card activated a year ago does not count."""
    history = [activated("c1", T0 - 365 * DAY, card="k0")]
    r = onboarding([profile("c1", app=True)], [issued("c1", T0)], history=history)
    assert r.acts("c1") == [welcome(), *APP_REMINDERS, activation_ticket()]


def test_O3_activation_stops_the_reminders_at_once() -> None:
    """O-3: after card_activated (between rounds 2 and 3) no further reminder is sent."""
    r = onboarding([profile("c1", app=True)], [issued("c1", T0), activated("c1", TA)])
    reminders = [a for a in r.acts("c1") if a[3:4] == ("activation_reminder",)]
    assert reminders == APP_REMINDERS[:2]


# ---------------------------------------------------------------------------------------- O-4


def test_O4_telesales_ticket_at_T0_plus_20d_and_outcome_not_activated() -> None:
    """O-4: never activated → ticket telesales/normal {reason, card_id} at T0+20d, not_activated."""
    r = onboarding([profile("c1", app=True)], [issued("c1", T0)])
    assert r.acts("c1") == [welcome(), *APP_REMINDERS, activation_ticket()]
    assert r.ended("c1") == [("not_activated", "2026-01-25 10:00")]
    assert [(t.queue, t.priority, dict(t.payload)) for t in r.tickets.opened] == [
        ("telesales", "normal", {"reason": "activation_call", "card_id": "k1"})
    ]


def test_O4_activation_after_the_last_reminder_but_before_T0_plus_20d_opens_no_ticket() -> None:
    """O-4/O-5: activated at T0+18d → no ticket, promotions at Ta, the instance goes on."""
    ta = local("2026-01-23 11:00")
    r = onboarding([profile("c1", app=True)], [issued("c1", T0), activated("c1", ta)])
    acts = r.acts("c1")
    assert acts[:8] == [
        welcome(),
        *APP_REMINDERS,
        send("2026-01-23 11:00", "email", "new_cardholder_promotions"),
    ]
    assert not [a for a in acts if a[1] == "ticket"]
    assert r.outcomes("c1") == [("ended", "spend_goal_missed")]


# ---------------------------------------------------------------------------------------- O-5


def test_O5_activation_sends_promotions_and_no_app_invitation_to_an_app_user() -> None:
    """O-5: at Ta email new_cardholder_promotions; a customer with the app gets no install zns."""
    r = onboarding(
        [profile("c1", app=True)],
        [issued("c1", T0), activated("c1", TA), txn("c1", TA + 2 * DAY, 1_200_000)],
    )
    assert r.acts("c1") == [welcome(), *APP_REMINDERS[:2], PROMOTIONS]


def test_O5_activation_without_the_app_adds_a_zns_install_invitation() -> None:
    """O-5: a customer without the app also gets zns install_digital_app at Ta."""
    r = onboarding(
        [profile("c1", app=False)],
        [issued("c1", T0), activated("c1", TA), txn("c1", TA + 2 * DAY, 1_200_000)],
    )
    assert r.acts("c1") == [
        welcome(),
        reminder("2026-01-07 10:00", "zns", 1),
        reminder("2026-01-10 10:00", "zns", 2),
        PROMOTIONS,
        send("2026-01-11 15:30", "zns", "install_digital_app"),
    ]


def test_O5_an_app_installed_since_entry_counts_as_having_the_app() -> None:
    """O-5: app_installed after T0 → no install invitation, and push reminders go on push."""
    r = onboarding(
        [profile("c1", app=False)],
        [
            issued("c1", T0),
            ev("c1", "app_installed", T0 + DAY),
            activated("c1", TA),
            txn("c1", TA + 2 * DAY, 1_200_000),
        ],
    )
    assert r.acts("c1") == [welcome(), *APP_REMINDERS[:2], PROMOTIONS]


# ---------------------------------------------------------------------------------------- O-6


def test_O6_first_spend_nudge_by_push_at_Ta_plus_7d_without_a_transaction() -> None:
    """O-6: no transaction since Ta → push first_spend_nudge at Ta+7d."""
    r = onboarding([profile("c1", app=True)], [issued("c1", T0), activated("c1", TA)])
    assert NUDGE in r.acts("c1")


def test_O6_no_nudge_after_a_transaction_since_Ta() -> None:
    """O-6: one transaction between Ta and Ta+7d → no first_spend_nudge."""
    r = onboarding(
        [profile("c1", app=True)],
        [issued("c1", T0), activated("c1", TA), txn("c1", TA + DAY, 200_000)],
    )
    assert [a for a in r.acts("c1") if a[3] == "first_spend_nudge"] == []


def test_O6_nudge_reaches_a_customer_without_the_app_on_zns() -> None:
    """O-6 + fallback: the push nudge goes to zns for a customer without the app."""
    r = onboarding([profile("c1", app=False)], [issued("c1", T0), activated("c1", TA)])
    assert [a for a in r.acts("c1") if a[3] == "first_spend_nudge"] == [
        send("2026-01-18 15:30", "zns", "first_spend_nudge")
    ]


# ---------------------------------------------------------------------------------------- O-7


def test_O7_fee_waiver_offer_by_email_and_zns_at_Ta_plus_10d_below_threshold() -> None:
    """O-7: below 1M VND at Ta+10d → fee_waiver_offer on email and zns, threshold + deadline."""
    r = onboarding(
        [profile("c1", app=True)],
        [issued("c1", T0), activated("c1", TA), txn("c1", TA + 2 * DAY, 300_000)],
    )
    assert r.acts("c1") == [welcome(), *APP_REMINDERS[:2], PROMOTIONS, *OFFERS]


def test_O7_goal_already_met_at_Ta_plus_10d_ends_spend_goal_met_without_reward() -> None:
    """O-7: ≥ 1,000,000 VND since Ta by Ta+10d → spend_goal_met at Ta+10d, no offer, no reward."""
    r = onboarding(
        [profile("c1", app=True)],
        [
            issued("c1", T0),
            activated("c1", TA),
            txn("c1", TA + 2 * DAY, 400_000),
            txn("c1", TA + 3 * DAY, 600_000),
        ],
    )
    assert r.acts("c1") == [welcome(), *APP_REMINDERS[:2], PROMOTIONS]
    assert r.ended("c1") == [("spend_goal_met", "2026-01-21 15:30")]
    assert r.handlers["annual_fee_waiver"].calls == []


def test_O7_spend_before_activation_does_not_count() -> None:
    """O-6/O-7: spending before Ta is not 'since Ta': nudge and offer still go out."""
    r = onboarding(
        [profile("c1", app=True)],
        [issued("c1", T0), txn("c1", T0 + DAY, 1_500_000), activated("c1", TA)],
    )
    assert r.acts("c1")[3:] == [PROMOTIONS, NUDGE, *OFFERS]


def test_O7_deadline_is_the_local_date_of_Ta_plus_30d() -> None:
    """O-7: Ta at 06:00 local (23:00 UTC the day before) → deadline is the local date."""
    ta = local("2026-01-11 06:00")
    r = onboarding([profile("c1", app=True)], [issued("c1", T0), activated("c1", ta)])
    offers = [a for a in r.acts("c1") if a[3] == "fee_waiver_offer"]
    assert offers == [offer("2026-01-21 06:00", "email"), offer("2026-01-21 08:00", "zns")]


# ---------------------------------------------------------------------------------------- O-8


def test_O8_reward_and_granted_email_as_soon_as_the_total_reaches_the_threshold() -> None:
    """O-8: reaching exactly 1M VND after the offer → reward + fee_waiver_granted at once."""
    reached = local("2026-01-26 14:20")
    r = onboarding(
        [profile("c1", app=True)],
        [
            issued("c1", T0),
            activated("c1", TA),
            txn("c1", TA + 2 * DAY, 400_000),
            txn("c1", reached, 600_000),
        ],
    )
    assert r.acts("c1") == [
        welcome(),
        *APP_REMINDERS[:2],
        PROMOTIONS,
        *OFFERS,
        ("2026-01-26 14:20", "reward", "annual_fee_waiver", {"amount": vnd(500_000)}),
        send("2026-01-26 14:20", "email", "fee_waiver_granted"),
    ]
    assert r.ended("c1") == [("spend_goal_met", "2026-01-26 14:20")]
    calls = r.handlers["annual_fee_waiver"].calls
    assert [(customer, params) for _, customer, params in calls] == [
        ("c1", {"amount": Money(Decimal(500_000), "VND")})
    ]


def test_O8_spending_after_the_deadline_earns_nothing() -> None:
    """O-8/O-9: the total reaches 1,000,000 VND only after Ta+30d → no reward."""
    r = onboarding(
        [profile("c1", app=True)],
        [issued("c1", T0), activated("c1", TA), txn("c1", TA + 31 * DAY, 2_000_000)],
    )
    assert r.handlers["annual_fee_waiver"].calls == []
    assert r.ended("c1") == [("spend_goal_missed", "2026-02-10 15:30")]


# ---------------------------------------------------------------------------------------- O-9


def test_O9_spend_goal_missed_at_Ta_plus_30d() -> None:
    """O-9: 999,999 VND by Ta+30d → the whole activated story ends spend_goal_missed."""
    r = onboarding(
        [profile("c1", app=True)],
        [
            issued("c1", T0),
            activated("c1", TA),
            txn("c1", TA + 12 * DAY, 500_000),
            txn("c1", TA + 20 * DAY, 499_999),
        ],
    )
    assert r.acts("c1") == [welcome(), *APP_REMINDERS[:2], PROMOTIONS, NUDGE, *OFFERS]
    assert r.ended("c1") == [("spend_goal_missed", "2026-02-10 15:30")]


def test_explain_reports_status_outcome_and_decisions() -> None:
    """explain(): one instance with its status, outcome and a decision log ending in the exit."""
    r = onboarding([profile("c1", app=True)], [issued("c1", T0)])
    (inst,) = r.engine.explain("c1")
    assert (inst["journey"], inst["version"], inst["status"], inst["outcome"]) == (
        OB,
        1,
        "ended",
        "not_activated",
    )
    whats = [e["what"] for e in inst["log"]]
    assert whats[0] == "enter"
    assert "ticket" in whats


# ------------------------------------------------------------------------- shared: quiet hours


def test_quiet_hours_defer_push_and_zns_to_08_00_and_timers_stay_anchored() -> None:
    """Quiet hours: T0 22:00 → push/zns at 08:00, email/ticket at 22:00, timers anchored to T0."""
    t0 = local("2026-01-05 22:00")
    r = onboarding([profile("c1", app=True)], [issued("c1", t0)])
    assert r.acts("c1") == [
        welcome("2026-01-05 22:00"),
        reminder("2026-01-08 08:00", "push", 1),
        reminder("2026-01-11 08:00", "zns", 2),
        reminder("2026-01-13 22:00", "email", 3),
        reminder("2026-01-17 08:00", "push", 4),
        reminder("2026-01-20 08:00", "zns", 5),
        reminder("2026-01-22 22:00", "email", 6),
        activation_ticket("2026-01-25 22:00"),
    ]


def test_a_reminder_deferred_overnight_is_not_sent_after_activation() -> None:
    """O-5 + quiet hours: a reminder deferred to 08:00 is not sent after a 07:00 activation; it
    is recorded as suppressed (superseded), so reports can count it."""
    r = onboarding(
        [profile("c1", app=True)],
        [issued("c1", local("2026-01-05 22:00")), activated("c1", local("2026-01-08 07:00"))],
    )
    acts = r.acts("c1")
    assert acts[:2] == [
        welcome("2026-01-05 22:00"),
        send("2026-01-08 07:00", "email", "new_cardholder_promotions"),
    ]
    assert acts[2][:3] == ("2026-01-08 08:00", "suppressed", "activation_reminder")
    assert "superseded" in acts[2][3]
    assert acts[3] == send("2026-01-15 08:00", "push", "first_spend_nudge")
    assert not [a for a in acts if a[1] == "send" and a[3] == "activation_reminder"]


@pytest.mark.parametrize(
    ("issued_at", "first_reminder"),
    [
        ("20:59", "2026-01-07 20:59"),
        ("21:00", "2026-01-08 08:00"),
        ("23:59", "2026-01-08 08:00"),
        ("00:00", "2026-01-07 08:00"),
        ("07:59", "2026-01-07 08:00"),
        ("08:00", "2026-01-07 08:00"),
    ],
)
def test_quiet_hours_boundaries_21_00_to_08_00(issued_at: str, first_reminder: str) -> None:
    """Quiet hours are [21:00, 08:00): a push due at 21:00 or 07:59 waits for 08:00."""
    t0 = local(f"2026-01-05 {issued_at}")
    r = onboarding([profile("c1", app=True)], [issued("c1", t0)])
    assert r.acts("c1")[1] == reminder(first_reminder, "push", 1)


def test_quiet_hours_defer_only_the_zns_copy_of_the_offer() -> None:
    """Quiet hours: Ta 21:30 → nudge at 08:00; offer email at 21:30, zns copy at 08:00."""
    ta = local("2026-01-11 21:30")
    r = onboarding([profile("c1", app=True)], [issued("c1", T0), activated("c1", ta)])
    assert r.acts("c1")[3:] == [
        send("2026-01-11 21:30", "email", "new_cardholder_promotions"),
        send("2026-01-19 08:00", "push", "first_spend_nudge"),
        offer("2026-01-21 21:30", "email"),
        offer("2026-01-22 08:00", "zns"),
    ]
    assert r.ended("c1") == [("spend_goal_missed", "2026-02-10 21:30")]


def test_quiet_hours_and_timers_in_the_customers_own_time_zone() -> None:
    """Time zone: a Shanghai customer's quiet hours, timers and deadline are on Shanghai time."""
    sh = "Asia/Shanghai"
    t0 = local("2026-01-05 22:00", sh)
    ta = local("2026-01-12 00:30", sh)  # 2026-01-11 23:30 in Ho Chi Minh City
    r = onboarding(
        [profile("c1", app=True, tz=sh)],
        [issued("c1", t0), activated("c1", ta)],
        start=local("2026-01-05 00:00", sh),
    )
    assert r.acts("c1") == [
        welcome("2026-01-05 22:00"),
        reminder("2026-01-08 08:00", "push", 1),
        reminder("2026-01-11 08:00", "zns", 2),
        send("2026-01-12 00:30", "email", "new_cardholder_promotions"),
        send("2026-01-19 08:00", "push", "first_spend_nudge"),
        offer("2026-01-22 00:30", "email", deadline="2026-02-11"),
        offer("2026-01-22 08:00", "zns", deadline="2026-02-11"),
    ]


# ----------------------------------------------------------------------- shared: fallbacks


def test_push_and_zns_go_to_sms_without_the_app_and_without_zns_consent() -> None:
    """Fallback: no app and no zns consent → push and zns messages all go to sms."""
    r = onboarding(
        [profile("c1", app=False, no=["zns"])],
        [issued("c1", T0), activated("c1", local("2026-01-14 09:00"))],
    )
    assert r.acts("c1")[:6] == [
        welcome(),
        reminder("2026-01-07 10:00", "sms", 1),
        reminder("2026-01-10 10:00", "sms", 2),
        reminder("2026-01-13 10:00", "email", 3),
        send("2026-01-14 09:00", "email", "new_cardholder_promotions"),
        send("2026-01-14 09:00", "sms", "install_digital_app"),
    ]
    assert r.channels["zns"].attempts == []
    assert r.channels["push"].attempts == []


def test_push_without_push_consent_goes_to_zns_even_with_the_app() -> None:
    """Fallback: an app user who refused push gets the push reminders on zns."""
    r = onboarding([profile("c1", app=True, no=["push"])], [issued("c1", T0)])
    assert r.acts("c1")[1] == reminder("2026-01-07 10:00", "zns", 1)
    assert r.channels["push"].attempts == []


def test_zns_failing_permanently_falls_back_to_sms() -> None:
    """Fallback: a permanent zns failure (not a Zalo user) sends the reminder on sms."""

    def not_on_zalo(message: Message) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "not a Zalo user")

    r = onboarding([profile("c1", app=False)], [issued("c1", T0)], scripts={"zns": not_on_zalo})
    assert r.acts("c1")[1:3] == [
        reminder("2026-01-07 10:00", "sms", 1),
        reminder("2026-01-10 10:00", "sms", 2),
    ]


def test_zns_failing_transiently_is_retried_on_zns_not_rerouted() -> None:
    """Fallback: a transient zns failure is retried on zns (no sms copy)."""
    failures = iter([True])

    def flaky(message: Message) -> DeliveryResult:
        if next(failures, False):
            return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, "timeout")
        return DeliveryResult(DeliveryStatus.DELIVERED)

    r = onboarding([profile("c1", app=False)], [issued("c1", T0)], scripts={"zns": flaky})
    first = r.acts("c1")[1]
    assert first[2:] == ("zns", "activation_reminder", {"round": 1})
    assert first[0].startswith("2026-01-07 10:")
    assert r.channels["sms"].delivered == []


def test_no_usable_channel_left_is_a_suppressed_action_with_a_reason() -> None:
    """Fallback: only email consent → push/zns reminders suppressed with a reason naming each."""
    r = onboarding([profile("c1", app=True, no=["push", "zns", "sms"])], [issued("c1", T0)])
    acts = r.acts("c1")
    assert acts[1][:3] == ("2026-01-07 10:00", "suppressed", "activation_reminder")
    assert acts[2][:3] == ("2026-01-10 10:00", "suppressed", "activation_reminder")
    assert acts[3] == reminder("2026-01-13 10:00", "email", 3)
    for reason, tried in ((acts[1][3], ("push", "zns", "sms")), (acts[2][3], ("zns", "sms"))):
        assert all(channel in reason for channel in tried), reason
    for channel in ("push", "zns", "sms"):
        assert r.channels[channel].attempts == []


def test_a_channel_without_consent_is_never_used() -> None:
    """Consent: over a whole run, channels without consent receive no attempt at all."""
    r = onboarding(
        [profile("c1", app=True, no=["push", "sms"])],
        [issued("c1", T0), activated("c1", TA)],
    )
    assert r.channels["push"].attempts == []
    assert r.channels["sms"].attempts == []
    assert {m.channel for ch in r.channels.values() for m in ch.delivered} == {"email", "zns"}


def test_no_email_consent_suppresses_the_welcome_email() -> None:
    """Consent: email has no fallback, so without email consent the welcome is suppressed."""
    r = onboarding([profile("c1", app=True, no=["email"])], [issued("c1", T0)])
    first = r.acts("c1")[0]
    assert first[:3] == ("2026-01-05 10:00", "suppressed", "welcome_activation_guide")
    assert "email" in first[3]
    assert "consent" in first[3]
    assert r.channels["email"].attempts == []


def test_an_app_installed_before_entry_does_not_make_push_reachable() -> None:
    """Has the app = has_digital_app or app_installed since entry: an older install → zns."""
    history = [ev("c1", "app_installed", T0 - 200 * DAY)]
    r = onboarding([profile("c1", app=False)], [issued("c1", T0)], history=history)
    assert r.acts("c1")[1] == reminder("2026-01-07 10:00", "zns", 1)
