"""The dormant_reactivation example journey, spec point by spec point (D-1 .. D-7), including the
segment's 09:00 in a time zone other than Asia/Ho_Chi_Minh.

Times are local to the customer, to the minute. The run starts at 06:00 on 2026-03-01, so a
customer who is dormant already enters at X = 2026-03-01 09:00.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.protocols import Profile
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.policies.harness import Harness, harness, policies
from tests.runtime.scenario import Event, Run, ev, example, local, profile, run, txn

DR = "dormant_reactivation"
START = local("2026-03-01 06:00")
X = local("2026-03-01 09:00")
DAY = timedelta(days=1)
SH = "Asia/Shanghai"


def history(
    customer: str,
    *spends: tuple[str, str, int, datetime],
    tz: str = "Asia/Ho_Chi_Minh",
) -> list[Event]:
    """An activated card and the given (merchant, category, amount, at) transactions; by default
    one Tiki purchase five months ago."""
    spends = spends or (("Tiki", "shopping", 2_000_000, local("2025-10-01 12:00", tz)),)
    events = [ev(customer, "card_activated", local("2025-01-10 10:00", tz), card_id="k1")]
    events += [
        txn(customer, at, amount, merchant, category) for merchant, category, amount, at in spends
    ]
    return events


def _minute(at: datetime) -> str:
    return at.astimezone(X.tzinfo).strftime("%Y-%m-%d %H:%M")


def dormant(
    profiles: list[Profile],
    timeline: Sequence[Event] = (),
    past: Sequence[Event] = (),
    days: int = 10,
    start: datetime = START,
    **kw: Any,
) -> Run:
    return run(
        [example(DR)],
        profiles,
        list(timeline),
        start=start,
        horizon=start + days * DAY,
        history=list(past),
        **kw,
    )


def send(when: str, channel: str, template: str, offer: str = "tiki_voucher") -> tuple[Any, ...]:
    return (when, "send", channel, template, {"offer": offer})


def opened(customer: str, at: datetime, journey: str = DR, kind: str = "message_opened") -> Event:
    return ev(
        customer,
        kind,
        at,
        message_id="m1",
        journey=journey,
        node="email_reactivation_offer",
        template="reactivation_offer",
        channel="email",
    )


def registered(customer: str, at: datetime, offer: str = "tiki_voucher") -> Event:
    return ev(customer, "offer_registered", at, offer=offer)


ENTRY_SENDS = [
    send("2026-03-01 09:00", "email", "reactivation_offer"),
    send("2026-03-01 09:00", "zns", "reactivation_offer"),
]
ENTRY_SENDS_APP = [
    *ENTRY_SENDS[:1],
    send("2026-03-01 09:00", "push", "reactivation_offer"),
    *ENTRY_SENDS[1:],
]


# ---------------------------------------------------------------------------------------- D-1


def test_D1_a_dormant_cardholder_enters_at_09_00_local() -> None:
    """D-1: activated, spent once, nothing in 90 days → enters at the next 09:00 local."""
    r = dormant([profile("d1")], past=history("d1"))
    assert r.entered("d1", DR) == ["2026-03-01 09:00"]


@pytest.mark.parametrize(
    ("case", "past"),
    [
        (
            "never activated",
            [txn("d1", local("2025-10-01 12:00"), 2_000_000, "Tiki")],
        ),
        (
            "never spent",
            [ev("d1", "card_activated", local("2025-01-10 10:00"), card_id="k1")],
        ),
        (
            "spent within 90 days",
            history("d1", ("Tiki", "shopping", 2_000_000, local("2026-01-20 12:00"))),
        ),
    ],
)
def test_D1_the_segment_leaves_out_customers_who_do_not_match(case: str, past: list[Event]) -> None:
    """D-1: no card_activated, no transaction ever, or one in the last 90 days → no entry."""
    r = dormant([profile("d1")], past=past)
    assert r.instances("d1") == [], case


def test_D1_enters_on_the_first_09_00_after_90_quiet_days() -> None:
    """D-1: last spend 2025-12-05 12:00 → enters 2026-03-06 09:00, not on 03-05."""
    past = history("d1", ("Tiki", "shopping", 2_000_000, local("2025-12-05 12:00")))
    r = dormant([profile("d1")], past=past)
    assert r.entered("d1", DR) == ["2026-03-06 09:00"]


def test_D1_no_reentry_within_180_days_of_the_previous_entry() -> None:
    """D-1: still dormant after ending at X+6d → the next entry is X+180d, not earlier."""
    r = dormant([profile("d1")], past=history("d1"), days=182)
    assert r.entered("d1", DR) == ["2026-03-01 09:00", "2026-08-28 09:00"]
    assert r.outcomes("d1", DR)[0] == ("ended", "no_engagement")


# ---------------------------------------------------------------------------------------- D-2


def _offer_for(*spends: tuple[str, str, int, datetime]) -> str:
    r = dormant([profile("d1")], past=history("d1", *spends), days=1)
    (first, *_) = r.acts("d1")
    return str(first[4]["offer"])


def test_D2_top_merchant_Tiki_gets_the_tiki_voucher() -> None:
    """D-2: Tiki is the top merchant by amount → tiki_voucher, even if travel is top category."""
    assert (
        _offer_for(
            ("Tiki", "shopping", 3_000_000, local("2025-09-01 12:00")),
            ("VNA", "travel", 2_000_000, local("2025-09-02 12:00")),
            ("Vietjet", "travel", 2_000_000, local("2025-09-03 12:00")),
        )
        == "tiki_voucher"
    )


@pytest.mark.parametrize(
    ("category", "offer"),
    [
        ("travel", "airline_cashback"),
        ("dining", "dining_cashback"),
        ("shopping", "general_cashback"),
        ("groceries", "general_cashback"),
    ],
)
def test_D2_otherwise_the_top_category_picks_the_offer(category: str, offer: str) -> None:
    """D-2: not Tiki → travel → airline_cashback, dining → dining_cashback, else general."""
    spends = (
        ("Merchant A", category, 3_000_000, local("2025-09-01 12:00")),
        ("Tiki", "shopping", 1_000_000, local("2025-09-02 12:00")),
    )
    assert _offer_for(*spends) == offer


def test_D2_only_the_last_365_days_count() -> None:
    """D-2: a large Tiki spend 400 days ago is ignored; recent dining decides."""
    spends = (
        ("Tiki", "shopping", 50_000_000, local("2025-01-25 12:00")),
        ("Pho 24", "dining", 300_000, local("2025-10-01 12:00")),
    )
    assert _offer_for(*spends) == "dining_cashback"


# ---------------------------------------------------------------------------------------- D-3


def test_D3_offer_by_email_and_zns_without_push_for_a_customer_without_the_app() -> None:
    """D-3: reactivation_offer {offer} on email and zns at entry; no push, no suppression."""
    r = dormant([profile("d1", app=False)], past=history("d1"), days=1)
    assert r.acts("d1") == ENTRY_SENDS


def test_D3_push_copy_for_a_customer_with_the_app() -> None:
    """D-3: a customer with the app also gets the offer by push."""
    r = dormant([profile("d1", app=True)], past=history("d1"), days=1)
    assert r.acts("d1") == ENTRY_SENDS_APP


def test_D3_the_push_copy_has_no_fallback() -> None:
    """D-3: an app user without push consent: the push copy is suppressed, not sent elsewhere."""
    r = dormant([profile("d1", app=True, no=["push"])], past=history("d1"), days=1)
    (*sent, suppressed) = r.acts("d1")
    assert sent == ENTRY_SENDS
    assert suppressed[:3] == ("2026-03-01 09:00", "suppressed", "reactivation_offer")
    assert "push" in suppressed[3]
    assert "consent" in suppressed[3]
    assert r.channels["sms"].attempts == []
    assert r.channels["push"].attempts == []


def test_D3_zns_without_consent_goes_to_sms() -> None:
    """D-3 + fallback: no zns consent → the zns copy goes by sms."""
    r = dormant([profile("d1", no=["zns"])], past=history("d1"), days=1)
    assert r.acts("d1") == [ENTRY_SENDS[0], send("2026-03-01 09:00", "sms", "reactivation_offer")]


def test_D3_nothing_reachable_is_suppressed_with_a_reason() -> None:
    """D-3 + fallback: no zns and no sms consent → the zns copy is a suppressed action."""
    r = dormant([profile("d1", no=["zns", "sms"])], past=history("d1"), days=1)
    (email, suppressed) = r.acts("d1")
    assert email == ENTRY_SENDS[0]
    assert suppressed[:3] == ("2026-03-01 09:00", "suppressed", "reactivation_offer")
    assert "zns" in suppressed[3]
    assert "sms" in suppressed[3]


# ---------------------------------------------------------------------------------------- D-4


def test_D4_registration_within_3_days_confirms_and_ends_registered() -> None:
    """D-4: offer_registered for that offer → email offer_confirmation at once, registered."""
    r = dormant([profile("d1")], [registered("d1", local("2026-03-02 14:10"))], history("d1"))
    assert r.acts("d1") == [*ENTRY_SENDS, send("2026-03-02 14:10", "email", "offer_confirmation")]
    assert r.ended("d1") == [("registered", "2026-03-02 14:10")]


def test_D4_registration_for_another_offer_is_ignored() -> None:
    """D-4: offer_registered with a different offer does not count."""
    r = dormant(
        [profile("d1")],
        [registered("d1", local("2026-03-02 14:10"), offer="airline_cashback")],
        history("d1"),
    )
    assert r.ended("d1") == [("no_engagement", "2026-03-07 09:00")]


# ---------------------------------------------------------------------------------------- D-5


def test_D5_engaged_not_registered_gets_a_zns_reminder_then_a_telesales_ticket() -> None:
    """D-5: engaged, unregistered → zns offer_reminder at X+3d, telesales ticket at X+6d."""
    r = dormant([profile("d1")], [opened("d1", local("2026-03-01 19:45"))], history("d1"))
    assert r.acts("d1") == [
        *ENTRY_SENDS,
        send("2026-03-04 09:00", "zns", "offer_reminder"),
        (
            "2026-03-07 09:00",
            "ticket",
            "telesales",
            "normal",
            {
                "offer": "tiki_voucher",
                "reason": "engaged_not_registered",
                "spend_365d": {"amount": "2000000", "currency": "VND"},
            },
        ),
    ]
    assert r.ended("d1") == [("handed_to_telesales", "2026-03-07 09:00")]


def test_D5_a_click_counts_as_engagement() -> None:
    """D-5: message_clicked for this journey is engagement too."""
    r = dormant(
        [profile("d1")],
        [opened("d1", local("2026-03-02 10:00"), kind="message_clicked")],
        history("d1"),
    )
    assert r.acts("d1")[2] == send("2026-03-04 09:00", "zns", "offer_reminder")
    assert r.outcomes("d1") == [("ended", "handed_to_telesales")]


def test_D5_registration_after_the_reminder_confirms() -> None:
    """D-5: registered within the second 3 days → offer_confirmation, registered, no ticket."""
    r = dormant(
        [profile("d1")],
        [opened("d1", local("2026-03-01 19:45")), registered("d1", local("2026-03-05 20:30"))],
        history("d1"),
    )
    assert r.acts("d1") == [
        *ENTRY_SENDS,
        send("2026-03-04 09:00", "zns", "offer_reminder"),
        send("2026-03-05 20:30", "email", "offer_confirmation"),
    ]
    assert r.ended("d1") == [("registered", "2026-03-05 20:30")]


@pytest.mark.parametrize(
    ("spent", "priority"),
    [(49_999_999, "normal"), (50_000_000, "high"), (80_000_000, "high")],
)
def test_D5_ticket_priority_follows_the_365_day_total(spent: int, priority: str) -> None:
    """D-5: priority high when the 365-day transaction total is ≥ 50,000,000 VND, else normal."""
    past = history(
        "d1",
        ("Tiki", "shopping", spent - 1_000_000, local("2025-09-01 12:00")),
        ("Pho 24", "dining", 1_000_000, local("2025-10-01 12:00")),
    )
    r = dormant([profile("d1")], [opened("d1", local("2026-03-02 10:00"))], past)
    tickets = [a for a in r.acts("d1") if a[1] == "ticket"]
    assert [t[3] for t in tickets] == [priority]


def test_D5_engagement_with_another_journey_does_not_count() -> None:
    """D-5/D-6: opening an onboarding message is not engagement with this journey."""
    r = dormant(
        [profile("d1")],
        [opened("d1", local("2026-03-02 10:00"), journey="onboarding_new_cardholder")],
        history("d1"),
    )
    assert r.acts("d1")[2] == send("2026-03-04 09:00", "email", "offer_reminder")
    assert r.ended("d1") == [("no_engagement", "2026-03-07 09:00")]


def test_D5_engagement_before_entry_does_not_count() -> None:
    """D-5/D-6: opening this journey's message before entry is not engagement since entry."""
    past = [*history("d1"), opened("d1", local("2025-11-01 10:00"))]
    r = dormant([profile("d1")], past=past)
    assert r.acts("d1")[2] == send("2026-03-04 09:00", "email", "offer_reminder")


# ------------------------------------------------------------- D-5 with a telesales capacity

#: The telesales team takes one ticket a day, the best by 365-day spend; the rest are dropped.
ONE_CALL = "queues: [{queue: telesales, capacity: 1, rank: spend_365d, overflow: drop}]"
RELEASE = "2026-03-08 08:00"  # (the first 08:00 after the tickets made at X+6d)


def _two_engaged(policy: str = ONE_CALL, state: Any = None) -> Harness:
    """d-big (30,000,000 VND a year) and d-small (2,000,000) both engage and do not register."""
    past = [
        *history("d-big", ("Agoda", "travel", 30_000_000, local("2025-10-01 12:00"))),
        *history("d-small"),
    ]
    h = harness(
        [example(DR)],
        [profile("d-big"), profile("d-small")],
        start=START,
        policy=policies(policy),
        state=state,
    )
    h.history(past)
    h.feed(
        [opened("d-big", local("2026-03-01 19:45")), opened("d-small", local("2026-03-01 20:00"))]
    )
    return h


def test_D5_the_ticket_waits_for_the_queues_release() -> None:
    """With a capacity, the ticket made at X+6d opens at the next 08:00; the instance waits
    for that decision and then ends handed_to_telesales."""
    h = _two_engaged()
    h.advance(local("2026-03-07 12:00"))
    assert h.tickets.opened == []
    assert h.outcomes("d-big") == [("waiting", None)]
    h.advance(X + 10 * DAY)
    assert [(t.customer_id, _minute(t.at)) for t in h.tickets.opened] == [("d-big", RELEASE)]
    assert h.ended("d-big") == [("handed_to_telesales", RELEASE)]


def test_D5_a_full_telesales_queue_sends_an_sms_and_ends_telesales_full() -> None:
    """The ticket the queue does not take (queue_full) runs the "not accepted" exit: an SMS
    offer_reminder at the release, then telesales_full; the decision log says why, and has
    the dropped ticket."""
    h = _two_engaged()
    h.advance(X + 10 * DAY)
    assert h.acts("d-small")[-2:] == [
        send(RELEASE, "sms", "offer_reminder"),
        (RELEASE, "suppressed", None, "queue_full: telesales took its 1 best-ranked tickets"),
    ]
    assert h.ended("d-small") == [("telesales_full", RELEASE)]
    log = [e for i in h.engine.explain("d-small") for e in i["log"]]
    (exit_,) = [e for e in log if e["what"] == "ticket_exit"]
    assert exit_["exit"] == "not_accepted"
    assert exit_["reason"] == "queue_full: telesales took its 1 best-ranked tickets"
    (dropped,) = [e for e in log if e["what"] == "suppressed"]  # (what explain --db lists)
    assert (dropped["queue"], dropped["reason"]) == ("telesales", exit_["reason"])


def test_D5_without_a_capacity_the_ticket_is_accepted_at_once() -> None:
    """Queues the policies do not name take every ticket: handed_to_telesales at X+6d, as the
    journey always did."""
    h = _two_engaged(policy="holdout: {percent: 0}")
    h.advance(X + 10 * DAY)
    assert h.ended("d-small") == [("handed_to_telesales", "2026-03-07 09:00")]
    assert len(h.tickets.opened) == 2


def test_D7_a_spend_while_the_ticket_waits_ends_reactivated() -> None:
    """D-7 holds while the ticket waits for the queue: a transaction ends the instance
    reactivated, and the queue's later decision changes nothing."""
    h = _two_engaged()
    h.feed([txn("d-small", local("2026-03-07 20:00"), 500_000, "Tiki", "shopping")])
    h.advance(X + 10 * DAY)
    assert h.ended("d-small") == [("reactivated", "2026-03-07 20:00")]
    assert [a for a in h.acts("d-small") if a[0] >= RELEASE] == [
        (RELEASE, "suppressed", None, "queue_full: telesales took its 1 best-ranked tickets")
    ]


def test_D5_the_decision_survives_a_restart_before_the_exit_runs(tmp_path: Path) -> None:
    """Over SQLite: the release decides and the engine stops before the tick that runs the
    exits; a new engine over the same file runs them, once."""
    path = tmp_path / "state.db"
    first = _two_engaged(state=SQLiteStore(path))
    first.advance(local("2026-03-08 07:00"))
    release = local(RELEASE)
    first.clock.set(release)
    first.engine.tick(release)  # (the release: decisions written, exits not run yet)
    assert first.outcomes("d-small") == [("waiting", None)]
    first.state.close()  # type: ignore[attr-defined]
    second = harness(
        [example(DR)],
        [profile("d-big"), profile("d-small")],
        start=release,
        policy=policies(ONE_CALL),
        state=SQLiteStore(path),
    )
    second.advance(X + 10 * DAY)
    assert second.outcomes("d-small") == [("ended", "telesales_full")]
    assert second.outcomes("d-big") == [("ended", "handed_to_telesales")]
    assert [m.customer_id for m in second.channels["sms"].delivered] == ["d-small"]
    assert [t.customer_id for t in first.tickets.opened + second.tickets.opened] == ["d-big"]


# ---------------------------------------------------------------------------------------- D-6


def test_D6_not_engaged_gets_an_email_reminder_then_ends_no_engagement() -> None:
    """D-6: no engagement → email offer_reminder at X+3d, no_engagement at X+6d, no ticket."""
    r = dormant([profile("d1", app=True)], past=history("d1"))
    assert r.acts("d1") == [*ENTRY_SENDS_APP, send("2026-03-04 09:00", "email", "offer_reminder")]
    assert r.ended("d1") == [("no_engagement", "2026-03-07 09:00")]


def test_D6_registration_after_the_email_reminder_confirms() -> None:
    """D-6: registered in the second 3 days → offer_confirmation and registered."""
    r = dormant([profile("d1")], [registered("d1", local("2026-03-06 23:15"))], history("d1"))
    assert r.acts("d1") == [
        *ENTRY_SENDS,
        send("2026-03-04 09:00", "email", "offer_reminder"),
        send("2026-03-06 23:15", "email", "offer_confirmation"),
    ]
    assert r.ended("d1") == [("registered", "2026-03-06 23:15")]


# ---------------------------------------------------------------------------------------- D-7


def test_D7_a_transaction_after_entry_ends_the_instance_reactivated_at_once() -> None:
    """D-7: a transaction at X+2d 13:00 → reactivated at that minute, nothing more is sent."""
    r = dormant([profile("d1")], [txn("d1", local("2026-03-03 13:00"), 150_000)], history("d1"))
    assert r.acts("d1") == ENTRY_SENDS
    assert r.ended("d1") == [("reactivated", "2026-03-03 13:00")]


def test_D7_a_transaction_in_the_second_wait_prevents_the_ticket() -> None:
    """D-7: engaged, then spends at X+4d → reactivated, no telesales ticket."""
    r = dormant(
        [profile("d1")],
        [opened("d1", local("2026-03-01 19:45")), txn("d1", local("2026-03-05 08:00"), 90_000)],
        history("d1"),
    )
    assert r.acts("d1") == [*ENTRY_SENDS, send("2026-03-04 09:00", "zns", "offer_reminder")]
    assert r.ended("d1") == [("reactivated", "2026-03-05 08:00")]
    assert r.tickets.opened == []


# ------------------------------------------------------------------------------ time zones


def test_segment_runs_at_09_00_in_each_customers_time_zone() -> None:
    """D-1 time zone: Shanghai and Ho Chi Minh City customers each enter at 09:00 local."""
    r = dormant(
        [profile("vn"), profile("cn", tz=SH)],
        past=[*history("vn"), *history("cn", tz=SH)],
        days=1,
        start=local("2026-03-01 00:00", SH),
    )
    assert r.entered("vn") == ["2026-03-01 09:00"]
    assert r.entered("cn") == ["2026-03-01 09:00"]
    (cn,) = r.instances("cn")
    assert datetime.fromisoformat(cn["entered_at"]) == local("2026-03-01 08:00")
    assert r.acts("cn") == ENTRY_SENDS
    assert r.acts("vn") == ENTRY_SENDS


def test_a_shanghai_customer_runs_the_whole_journey_on_shanghai_time() -> None:
    """D-4..D-6 time zone: alone, a Shanghai customer's timers fire at 09:00 Shanghai time."""
    r = dormant(
        [profile("cn", tz=SH)],
        past=history("cn", tz=SH),
        start=local("2026-03-01 00:00", SH),
    )
    assert r.acts("cn") == [*ENTRY_SENDS, send("2026-03-04 09:00", "email", "offer_reminder")]
    assert r.ended("cn") == [("no_engagement", "2026-03-07 09:00")]


def test_mixed_time_zones_keep_each_customers_timers_on_time() -> None:
    """D-4..D-6 time zone: next to a Vietnamese customer, Shanghai timers are not an hour late."""
    r = dormant(
        [profile("vn"), profile("cn", tz=SH)],
        past=[*history("vn"), *history("cn", tz=SH)],
        start=local("2026-03-01 00:00", SH),
    )
    assert r.acts("cn") == [*ENTRY_SENDS, send("2026-03-04 09:00", "email", "offer_reminder")]
    assert r.acts("vn") == [*ENTRY_SENDS, send("2026-03-04 09:00", "email", "offer_reminder")]
    assert r.ended("cn") == [("no_engagement", "2026-03-07 09:00")]


def test_mixed_time_zones_keep_timers_on_time_on_the_sqlite_store(tmp_path: Path) -> None:
    """D-4..D-6 time zone: the same mixed-zone run keeps timers on time on the SQLite store."""
    with SQLiteStore(tmp_path / "state.db") as store:
        r = dormant(
            [profile("vn"), profile("cn", tz=SH)],
            past=[*history("vn"), *history("cn", tz=SH)],
            start=local("2026-03-01 00:00", SH),
            store=store,
        )
        reminder = send("2026-03-04 09:00", "email", "offer_reminder")
        assert r.acts("cn") == [*ENTRY_SENDS, reminder]
        assert r.acts("vn") == [*ENTRY_SENDS, reminder]
        assert r.ended("cn") == [("no_engagement", "2026-03-07 09:00")]
