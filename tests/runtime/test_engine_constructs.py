"""Every language construct, run by the Engine on a small journey compiled from DSL text
against the example catalogs: what it does, at which local minute, with which outcome."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from journeydsl import ir
from journeydsl.money import Money
from journeydsl.testing import MemoryEventStore, MemoryProfileStore, MemoryStateStore
from tests.runtime.scenario import (
    Event,
    Run,
    build,
    compile_journey,
    ev,
    local,
    profile,
    run,
    txn,
    vnd,
)

START = local("2026-01-05 00:00")
T0 = local("2026-01-05 10:00")
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
SH = "Asia/Shanghai"


def journey(name: str, body: str, version: int = 1, header: str = "") -> ir.Journey:
    """A journey NAME from its header extras and steps, against the example catalogs."""
    text = (
        f"journey {name} version {version}\n"
        'uses events "events.yaml"\n'
        'uses templates "templates.yaml"\n'
        f"{header}\n{body}\n"
    )
    return compile_journey(text, f"{name}.journey")


def issued(customer: str, at: datetime, card: str = "k1", product: str = "gold") -> Event:
    return ev(customer, "card_issued", at, card_id=card, product=product)


def activated(customer: str, at: datetime, card: str = "k1") -> Event:
    return ev(customer, "card_activated", at, card_id=card)


def go(j: ir.Journey | list[ir.Journey], timeline: list[Event], *customers: Any, **kw: Any) -> Run:
    js = j if isinstance(j, list) else [j]
    profiles = [c if not isinstance(c, str) else profile(c) for c in customers] or [profile("c1")]
    kw.setdefault("start", START)
    kw.setdefault("horizon", START + 60 * DAY)
    return run(js, profiles, timeline, **kw)


def send(when: str, channel: str, template: str, **params: Any) -> tuple[Any, ...]:
    return (when, "send", channel, template, params)


def ticket(
    when: str, queue: str, payload: dict[str, Any], priority: str = "normal"
) -> tuple[Any, ...]:
    return (when, "ticket", queue, priority, payload)


PROMO = "new_cardholder_promotions"

# -------------------------------------------------------------------------------------- wait


def test_wait_pauses_for_a_duration() -> None:
    """wait 2d / wait 36h: each send comes that long after the previous step."""
    j = journey(
        "waits",
        f"entry on card_issued\nwait 2d\nsend email {PROMO}\nwait 36h\nsend email {PROMO}",
    )
    r = go(j, [issued("c1", T0)])
    assert r.acts("c1") == [
        send("2026-01-07 10:00", "email", PROMO),
        send("2026-01-08 22:00", "email", PROMO),
    ]
    assert r.outcomes("c1") == [("ended", "completed")]


def test_wait_until_a_timestamp_and_not_at_all_when_it_has_passed() -> None:
    """wait until TIMESTAMP: waits until entered_at + 30h; a time already past does not wait."""
    j = journey(
        "wait_until_ts",
        f"entry on card_issued\nwait until entered_at + 30h\nsend email {PROMO}\n"
        f"wait until trigger.at - 1d\nsend zns install_digital_app",
    )
    r = go(j, [issued("c1", T0)])
    assert r.acts("c1") == [
        send("2026-01-06 16:00", "email", PROMO),
        send("2026-01-06 16:00", "zns", "install_digital_app"),
    ]


@pytest.mark.parametrize(
    ("entered", "tz", "expected"),
    [
        ("2026-01-05 08:00", "Asia/Ho_Chi_Minh", "2026-01-05 09:00"),
        ("2026-01-05 10:00", "Asia/Ho_Chi_Minh", "2026-01-06 09:00"),
        ("2026-01-05 23:30", "Asia/Ho_Chi_Minh", "2026-01-06 09:00"),
        ("2026-01-05 08:30", SH, "2026-01-05 09:00"),
        ("2026-01-05 09:30", SH, "2026-01-06 09:00"),
    ],
)
def test_wait_until_a_time_of_day_is_the_next_local_occurrence(
    entered: str, tz: str, expected: str
) -> None:
    """wait until 09:00: later today if still ahead, else tomorrow, in the customer's zone."""
    j = journey("wait_until_09", "entry on card_issued\nwait until 09:00\nticket morning")
    r = go(j, [issued("c1", local(entered, tz))], profile("c1", tz=tz))
    assert r.acts("c1") == [ticket(expected, "morning", {})]


def test_the_journeys_time_zone_is_the_default_for_a_customer_without_a_profile() -> None:
    """timezone header: with no profile, `wait until 10:00` is 10:00 in the journey's zone."""
    j = journey(
        "beijing_morning",
        "entry on card_issued\nwait until 10:00\nticket morning",
        header='timezone "Asia/Shanghai"',
    )
    r = run([j], [], [issued("nobody", local("2026-01-05 12:00", SH))], start=START)
    (a,) = r.actions
    assert a["at"] == local("2026-01-06 10:00", SH)


# ------------------------------------------------------------------------------ wait for


ACTIVATION_WATCH = journey(
    "activation_watch",
    """entry on card_issued
wait for card_activated where card_activated.card_id == trigger.card_id within 7d {
  ticket happened { card_id: trigger.card_id }
  exit activated
} timeout {
  ticket timed_out { card_id: trigger.card_id }
  exit not_activated
}""",
    header="outcomes activated, not_activated",
)


def test_wait_for_an_event_with_where_takes_the_happened_exit() -> None:
    """wait for EVENT where … within 7d: only the matching card wakes it, at that minute."""
    r = go(
        ACTIVATION_WATCH,
        [
            issued("c1", T0),
            activated("c1", T0 + DAY, card="other"),
            activated("c1", local("2026-01-08 16:45")),
        ],
    )
    assert r.acts("c1") == [ticket("2026-01-08 16:45", "happened", {"card_id": "k1"})]
    assert r.ended("c1") == [("activated", "2026-01-08 16:45")]


def test_wait_for_an_event_within_times_out() -> None:
    """wait for EVENT within 7d: no matching event → the timeout block at T0+7d."""
    r = go(ACTIVATION_WATCH, [issued("c1", T0), activated("c1", T0 + DAY, card="other")])
    assert r.acts("c1") == [ticket("2026-01-12 10:00", "timed_out", {"card_id": "k1"})]
    assert r.ended("c1") == [("not_activated", "2026-01-12 10:00")]


def test_wait_for_an_event_until_a_timestamp_times_out_then() -> None:
    """wait for EVENT until TIMESTAMP: times out at entered_at + 3d; both exits continue."""
    j = journey(
        "until_watch",
        "entry on card_issued\n"
        "wait for card_activated until entered_at + 3d timeout { ticket timed_out }\n"
        "ticket after",
    )
    r = go(j, [issued("c1", T0), issued("c2", T0), activated("c2", T0 + HOUR)], "c1", "c2")
    assert r.acts("c1") == [
        ticket("2026-01-08 10:00", "after", {}),
        ticket("2026-01-08 10:00", "timed_out", {}),
    ]
    assert r.acts("c2") == [ticket("2026-01-05 11:00", "after", {})]


SPEND_WATCH = journey(
    "spend_watch",
    """entry on card_activated
wait for sum(transaction.amount since entry) >= 1_000_000 VND within 5d {
  exit spend_goal_met
} timeout {
  exit spend_goal_missed
}""",
    header="outcomes spend_goal_met, spend_goal_missed",
)


def test_wait_for_a_condition_wakes_on_the_event_that_makes_it_true() -> None:
    """wait for CONDITION within 5d: woken by the transaction that brings the sum to 1M VND."""
    r = go(
        SPEND_WATCH,
        [
            activated("c1", T0),
            txn("c1", T0 + DAY, 600_000),
            txn("c1", local("2026-01-08 12:34"), 400_000),
        ],
    )
    assert r.ended("c1") == [("spend_goal_met", "2026-01-08 12:34")]


def test_wait_for_a_condition_times_out_within() -> None:
    """wait for CONDITION within 5d: still false → timeout exit at T0+5d."""
    r = go(SPEND_WATCH, [activated("c1", T0), txn("c1", T0 + DAY, 999_999)])
    assert r.ended("c1") == [("spend_goal_missed", "2026-01-10 10:00")]


def test_wait_for_a_condition_already_true_does_not_wait() -> None:
    """wait for CONDITION: true when reached → the happened exit at once."""
    j = journey(
        "already",
        "entry on card_activated\n"
        "wait for has(transaction in last 30d) until entered_at + 2d { exit yes } "
        "timeout { exit no }",
        header="outcomes yes, no",
    )
    r = go(j, [activated("c1", T0)], history=[txn("c1", T0 - DAY, 10_000)])
    assert r.ended("c1") == [("yes", "2026-01-05 10:00")]


# --------------------------------------------------------------------------- if / switch


def test_if_else_if_else_picks_one_branch() -> None:
    """if / else if / else: platinum → ticket, app → push, otherwise sms."""
    j = journey(
        "first_contact",
        """entry on card_issued
if trigger.product == "platinum" {
  ticket relationship_manager priority high { card_id: trigger.card_id }
} else if profile.has_digital_app {
  send push activation_reminder { round: 1 }
} else {
  send sms activation_reminder { round: 1 }
}""",
    )
    r = go(
        j,
        [
            issued("p", T0, product="platinum"),
            issued("a", T0),
            issued("n", T0),
        ],
        profile("p", app=True),
        profile("a", app=True),
        profile("n", app=False),
    )
    assert r.acts("p") == [
        ticket("2026-01-05 10:00", "relationship_manager", {"card_id": "k1"}, "high")
    ]
    assert r.acts("a") == [send("2026-01-05 10:00", "push", "activation_reminder", round=1)]
    assert r.acts("n") == [send("2026-01-05 10:00", "sms", "activation_reminder", round=1)]


def test_switch_runs_the_first_matching_case_or_else() -> None:
    """switch: travel → tag traveller; dining/entertainment → lifestyle; else big_spender."""
    j = journey(
        "big_spend",
        """entry on transaction where transaction.amount >= 2_000_000 VND
switch trigger.category {
  case "travel" { tag traveller }
  case "dining", "entertainment" { tag lifestyle }
  else { tag big_spender }
}""",
    )
    cats = {"t": "travel", "d": "dining", "e": "entertainment", "f": "fuel"}
    r = go(
        j,
        [txn(c, T0, 3_000_000, category=cat) for c, cat in cats.items()]
        + [txn("small", T0, 100_000, category="travel")],
        *cats,
        "small",
    )
    tags = {c: r.profiles.get(c).tags for c in [*cats, "small"]}
    assert tags == {
        "t": {"traveller"},
        "d": {"lifestyle"},
        "e": {"lifestyle"},
        "f": {"big_spender"},
        "small": frozenset(),
    }


# ---------------------------------------------------------------------------------- split


def split_journey(version: int = 1) -> ir.Journey:
    extra = "wait 1h\n" if version == 2 else ""
    return journey(
        "split_test",
        f"""entry manual
{extra}channel_test: split {{
  20% {{ tag arm_a }}
  50% {{ tag arm_b }}
  holdout 30% {{ tag control }}
}}""",
        version=version,
    )


def _arms(j: ir.Journey, n: int) -> dict[str, str]:
    r = build([j], [], start=START)
    for i in range(n):
        r.engine.enroll(f"c{i:04d}", "split_test")
    r.advance(START + DAY)
    return {f"c{i:04d}": "".join(sorted(r.profiles.get(f"c{i:04d}").tags)) for i in range(n)}


def test_split_is_deterministic_per_customer_across_runs_and_versions() -> None:
    """split: the same customer lands in the same arm on every run and in v1 and v2."""
    first, again, v2 = (
        _arms(split_journey(), 200),
        _arms(split_journey(), 200),
        _arms(split_journey(2), 200),
    )
    assert first == again
    assert first == v2
    assert set(first.values()) == {"arm_a", "arm_b", "control"}


def test_split_arms_follow_their_weights() -> None:
    """split 20/50/holdout 30: over 1,000 customers each arm is near its weight."""
    counts = Counter(_arms(split_journey(), 1000).values())
    assert 130 <= counts["arm_a"] <= 270
    assert 420 <= counts["arm_b"] <= 580
    assert 220 <= counts["control"] <= 380


def test_holdout_is_marked_and_gets_the_holdout_steps_only() -> None:
    """holdout: control customers are marked holdout and get only the holdout block's steps."""
    j = split_journey()
    r = build([j], [], start=START)
    for i in range(60):
        r.engine.enroll(f"c{i:04d}", "split_test")
    held = [f"c{i:04d}" for i in range(60) if r.profiles.get(f"c{i:04d}").tags == {"control"}]
    others = [f"c{i:04d}" for i in range(60) if f"c{i:04d}" not in held]
    assert held
    assert others
    for c in held:
        (inst,) = r.instances(c)
        assert inst["holdout"] is True
        (split,) = [e for e in inst["log"] if e["what"] == "split"]
        assert split["holdout"] is True
    for c in others:
        (inst,) = r.instances(c)
        assert inst["holdout"] is False
        assert r.profiles.get(c).tags.isdisjoint({"control"})


# --------------------------------------------------------------------------------- repeat


REPEAT = journey(
    "repeat_test",
    """entry on card_issued
reminders: repeat as round max 3 until has(card_activated since entry) or profile.has_digital_app {
  wait 1d * round
  send email activation_reminder { round: round }
}
ticket done""",
)


def test_repeat_counts_rounds_and_stops_at_the_cap() -> None:
    """repeat as round max 3: rounds 1, 2, 3 (waits of 1d, 2d, 3d) and no fourth."""
    r = go(REPEAT, [issued("c1", T0)])
    assert r.acts("c1") == [
        send("2026-01-06 10:00", "email", "activation_reminder", round=1),
        send("2026-01-08 10:00", "email", "activation_reminder", round=2),
        send("2026-01-11 10:00", "email", "activation_reminder", round=3),
        ticket("2026-01-11 10:00", "done", {}),
    ]


def test_repeat_until_is_checked_before_every_round() -> None:
    """repeat until: activated during round 2's wait → round 2 completes, no round 3."""
    r = go(REPEAT, [issued("c1", T0), activated("c1", T0 + 2 * DAY)])
    assert r.acts("c1") == [
        send("2026-01-06 10:00", "email", "activation_reminder", round=1),
        send("2026-01-08 10:00", "email", "activation_reminder", round=2),
        ticket("2026-01-08 10:00", "done", {}),
    ]


def test_repeat_until_true_from_the_start_runs_no_round() -> None:
    """repeat until: already true before round 1 → zero rounds."""
    r = go(REPEAT, [issued("c1", T0)], profile("c1", app=True))
    assert r.acts("c1") == [ticket("2026-01-05 10:00", "done", {})]


# ------------------------------------------------------------------ ticket, update, tag


def test_ticket_with_queue_priority_expression_and_payload() -> None:
    """ticket: queue, priority from an expression, payload; handed to the ticket sink once."""
    j = journey(
        "activation_call",
        """entry on card_issued
ticket telesales
  priority if profile.credit_limit >= 100_000_000 VND then urgent else normal
  { reason: "activation_call", card_id: trigger.card_id }""",
    )
    big = profile("big", credit_limit=Money(Decimal(150_000_000), "VND"))
    small = profile("small", credit_limit=Money(Decimal(20_000_000), "VND"))
    r = go(j, [issued("big", T0), issued("small", T0, card="k2")], big, small)
    payload = {"reason": "activation_call", "card_id": "k1"}
    assert r.acts("big") == [ticket("2026-01-05 10:00", "telesales", payload, "urgent")]
    assert r.acts("small")[0][3] == "normal"
    assert [(t.customer_id, t.queue, t.priority) for t in r.tickets.opened] == [
        ("big", "telesales", "urgent"),
        ("small", "telesales", "normal"),
    ]


def test_update_sets_profile_attributes() -> None:
    """update: the ProfileStore gets the new attribute values, and an update action is recorded."""
    j = journey(
        "mark_digital",
        "entry on app_installed\n  reentry always\nupdate has_digital_app = true\n"
        'update segment = "digital"',
    )
    r = go(j, [ev("c1", "app_installed", T0)], profile("c1", segment="mass"))
    attrs = r.profiles.get("c1").attributes
    assert attrs["has_digital_app"] is True
    assert attrs["segment"] == "digital"
    updates = [a for a in r.actions if a["kind"] == "update"]
    assert [(a["attribute"], a["value"]) for a in updates] == [
        ("has_digital_app", True),
        ("segment", "digital"),
    ]


def test_tag_and_untag_change_profile_tags() -> None:
    """tag / untag: tags are added to and removed from the profile."""
    j = journey("activation_tags", "entry on card_activated\nuntag not_activated\ntag activated")
    store = MemoryProfileStore([profile("c1")])
    store.tag("c1", "not_activated")
    store.tag("c1", "vip")
    r = build([j], [], start=START, profile_store=store)
    r.feed([activated("c1", T0)])
    assert r.profiles.get("c1").tags == {"activated", "vip"}


# --------------------------------------------------------------------------- reward, action


def test_reward_and_custom_action_call_their_handler_once_with_params() -> None:
    """reward / action: the named host handler is called once with the evaluated params."""
    j = journey(
        "offer_cashback",
        """entry on offer_registered
  reentry always
reward cashback { offer: trigger.offer, amount: 200_000 VND }
action notify_crm { customer: customer_id, offer: trigger.offer }""",
    )
    event = ev("c1", "offer_registered", T0, offer="tiki_voucher")
    r = build([j], [profile("c1")], start=START, handlers=("cashback", "notify_crm"))
    r.feed([event])
    assert r.engine.ingest(event).duplicate
    r.advance(T0 + DAY)
    assert [(c, p) for _, c, p in r.handlers["cashback"].calls] == [
        ("c1", {"offer": "tiki_voucher", "amount": Money(Decimal(200_000), "VND")})
    ]
    assert [(c, p) for _, c, p in r.handlers["notify_crm"].calls] == [
        ("c1", {"customer": "c1", "offer": "tiki_voucher"})
    ]
    assert r.acts("c1") == [
        (
            "2026-01-05 10:00",
            "action",
            "notify_crm",
            {"customer": "c1", "offer": "tiki_voucher"},
        ),
        (
            "2026-01-05 10:00",
            "reward",
            "cashback",
            {"offer": "tiki_voucher", "amount": vnd(200_000)},
        ),
    ]


# ------------------------------------------------------------------------------- set, exit


def test_set_stores_a_variable_read_by_later_steps() -> None:
    """set: a variable (from an aggregate and from now) is readable by later steps."""
    j = journey(
        "set_test",
        """entry on card_activated
set spends = count(transaction in last 30d)
set activated_at = now
wait 2d
ticket review { spends: spends, activated_at: activated_at, day: date(activated_at + 30d) }""",
    )
    past = [txn("c1", T0 - DAY, 1), txn("c1", T0 - 2 * DAY, 1)]
    r = go(j, [activated("c1", T0), txn("c1", T0 + DAY, 1)], history=past)
    assert r.acts("c1") == [
        ticket(
            "2026-01-07 10:00",
            "review",
            {"spends": 2, "activated_at": T0.isoformat(), "day": "2026-02-04"},
        )
    ]


def test_exit_ends_with_its_outcome_and_skips_the_rest() -> None:
    """exit: the instance ends with the named outcome; later steps do not run."""
    j = journey(
        "exit_test",
        """entry on card_issued
if trigger.product == "platinum" {
  exit vip
}
ticket standard
exit done""",
        header="outcomes vip, done",
    )
    r = go(j, [issued("p", T0, product="platinum"), issued("g", T0)], "p", "g")
    assert r.ended("p") == [("vip", "2026-01-05 10:00")]
    assert r.acts("p") == []
    assert r.ended("g") == [("done", "2026-01-05 10:00")]
    assert r.acts("g") == [ticket("2026-01-05 10:00", "standard", {})]


# ---------------------------------------------------------------------------------- goals


GOALS = journey(
    "first_month_spend",
    """entry on card_activated
goal spend_goal_met when sum(transaction.amount since entry) >= 1_000_000 VND
goal opted_out when ticket_closed where ticket_closed.outcome == "opt_out"
send email fee_waiver_offer { threshold: 1_000_000 VND, deadline: date(entered_at + 30d) }
wait 30d
ticket campaign_over
exit campaign_over""",
    header="outcomes spend_goal_met, opted_out, campaign_over",
)


def test_an_event_goal_with_where_ends_the_instance_while_it_waits() -> None:
    """goal … when EVENT where …: only the matching ticket_closed ends it, at once."""
    r = go(
        GOALS,
        [
            activated("c1", T0),
            ev("c1", "ticket_closed", T0 + DAY, ticket_id="t1", outcome="resolved"),
            ev("c1", "ticket_closed", local("2026-01-09 17:05"), ticket_id="t2", outcome="opt_out"),
        ],
    )
    assert r.ended("c1") == [("opted_out", "2026-01-09 17:05")]
    assert [a[1] for a in r.acts("c1")] == ["send"]


def test_a_condition_goal_ends_the_instance_on_the_event_that_meets_it() -> None:
    """goal … when CONDITION: checked on every event; met by the second transaction."""
    r = go(
        GOALS,
        [
            activated("c1", T0),
            txn("c1", T0 + DAY, 500_000),
            txn("c1", local("2026-01-12 09:15"), 500_000),
        ],
    )
    assert r.ended("c1") == [("spend_goal_met", "2026-01-12 09:15")]
    assert not [a for a in r.acts("c1") if a[1] == "ticket"]


def test_without_a_goal_the_journey_runs_to_its_end() -> None:
    """goals: none met → the steps run to the exit."""
    r = go(GOALS, [activated("c1", T0), txn("c1", T0 + DAY, 500_000)])
    assert r.ended("c1") == [("campaign_over", "2026-02-04 10:00")]


# ------------------------------------------------------------------------------- re-entry


def _reentry(rule: str) -> ir.Journey:
    return journey(
        f"reentry_{rule.replace(' ', '_')}",
        f"entry on offer_registered\n  reentry {rule}\nwait 1d\nticket callback",
    )


def _offers(*days: int) -> list[Event]:
    return [ev("c1", "offer_registered", T0 + d * DAY, offer=f"o{d}") for d in days]


def test_reentry_once_enters_a_customer_once_ever() -> None:
    """reentry once: later triggers after the instance ended start nothing."""
    r = go(_reentry("once"), _offers(0, 5, 40))
    assert r.entered("c1") == ["2026-01-05 10:00"]


def test_reentry_always_enters_again_each_time_after_the_previous_ended() -> None:
    """reentry always: every trigger (once the previous instance ended) starts a new one."""
    r = go(_reentry("always"), _offers(0, 5, 6))
    assert r.entered("c1") == ["2026-01-05 10:00", "2026-01-10 10:00", "2026-01-11 10:00"]
    assert len(r.tickets.opened) == 3


def test_reentry_after_waits_that_long_since_the_previous_entry() -> None:
    """reentry after 30d: refused 10 days later, accepted 30 days after the first entry."""
    r = go(_reentry("after 30d"), _offers(0, 10, 30))
    assert r.entered("c1") == ["2026-01-05 10:00", "2026-02-04 10:00"]


def test_entry_key_gives_one_instance_per_key() -> None:
    """key trigger.card_id: two cards run side by side; the same card again is refused."""
    j = journey(
        "per_card",
        "entry on card_issued\n  key trigger.card_id\n  reentry once\n"
        "wait 2d\nticket follow_up { card_id: trigger.card_id }",
    )
    r = go(
        j,
        [
            issued("c1", T0, card="k1"),
            issued("c1", T0 + HOUR, card="k2"),
            issued("c1", T0 + 9 * DAY),
        ],
    )
    assert [i["key"] for i in r.instances("c1")] == ["k1", "k2"]
    assert r.acts("c1") == [
        ticket("2026-01-07 10:00", "follow_up", {"card_id": "k1"}),
        ticket("2026-01-07 11:00", "follow_up", {"card_id": "k2"}),
    ]


def test_entry_where_filters_the_triggering_events() -> None:
    """entry on EVENT where …: only platinum cards enter."""
    j = journey(
        "platinum_welcome",
        'entry on card_issued where trigger.product == "platinum"\nticket welcome',
    )
    r = go(j, [issued("p", T0, product="platinum"), issued("g", T0)], "p", "g")
    assert len(r.instances("p")) == 1
    assert r.instances("g") == []


# -------------------------------------------------------------------------------- enrol


def test_manual_entry_via_enroll_respects_reentry() -> None:
    """entry manual: Engine.enroll enters, a second enrol inside 30d is refused (None)."""
    j = journey(
        "telesales_callback",
        'entry manual\n  reentry after 30d\nticket telesales priority high { reason: "crm_list" }',
    )
    r = build([j], [profile("c1")], start=T0)
    first = r.engine.enroll("c1", "telesales_callback")
    r.advance(T0 + 10 * DAY)
    refused = r.engine.enroll("c1", "telesales_callback")
    r.advance(T0 + 30 * DAY)
    again = r.engine.enroll("c1", "telesales_callback")
    assert first is not None
    assert refused is None
    assert again is not None
    assert again != first
    assert r.acts("c1") == [
        ticket("2026-01-05 10:00", "telesales", {"reason": "crm_list"}, "high"),
        ticket("2026-02-04 10:00", "telesales", {"reason": "crm_list"}, "high"),
    ]


def test_enroll_into_a_journey_the_engine_does_not_run_names_the_closest() -> None:
    """Engine.enroll with a misspelt journey id is a ValueError naming the journeys run and the
    closest one, where it was a bare KeyError."""
    j = journey("telesales_callback", "entry manual\nticket telesales")
    r = build([j], [profile("c1")], start=T0)
    with pytest.raises(ValueError, match="no journey 'telesales_calback' in this engine") as e:
        r.engine.enroll("c1", "telesales_calback")
    assert "did you mean 'telesales_callback'?" in str(e.value)


def test_an_event_does_not_enter_a_manual_journey() -> None:
    """entry manual: no event enters it."""
    j = journey("manual_only", "entry manual\nticket x")
    r = go(j, [issued("c1", T0)])
    assert r.instances("c1") == []


# ----------------------------------------------------------------- several journeys, bad events


def test_several_journeys_run_side_by_side_in_one_engine() -> None:
    """Several journeys: one event enters both that listen to it, each runs on its own."""
    welcome = journey(
        "welcome",
        "entry on card_issued\nsend email welcome_activation_guide "
        "{ card_id: trigger.card_id, product: trigger.product }",
    )
    watch = ACTIVATION_WATCH
    promo = journey("promo", f"entry on card_activated\nwait 1d\nsend email {PROMO}")
    r = go(
        [welcome, watch, promo],
        [issued("c1", T0), activated("c1", T0 + 2 * DAY)],
    )
    assert sorted((i["journey"], i["status"], i["outcome"]) for i in r.instances("c1")) == [
        ("activation_watch", "ended", "activated"),
        ("promo", "ended", "completed"),
        ("welcome", "ended", "completed"),
    ]
    assert r.acts("c1") == [
        send("2026-01-05 10:00", "email", "welcome_activation_guide", card_id="k1", product="gold"),
        ticket("2026-01-07 10:00", "happened", {"card_id": "k1"}),
        send("2026-01-08 10:00", "email", PROMO),
    ]


BAD_EVENTS = {
    "no customer_id": {"type": "card_issued", "at": T0.isoformat(), "data": {"card_id": "k"}},
    "naive timestamp": {
        "customer_id": "c1",
        "type": "card_issued",
        "at": "2026-01-05T10:00:00",
        "data": {"card_id": "k", "product": "gold"},
    },
    "wrong enum value": {
        "customer_id": "c1",
        "type": "transaction",
        "at": T0.isoformat(),
        "data": {"amount": 2_000_000, "currency": "VND", "merchant": "X", "category": "travelling"},
    },
    "wrong currency": {
        "customer_id": "c1",
        "type": "transaction",
        "at": T0.isoformat(),
        "data": {"amount": 2_000_000, "currency": "USD", "merchant": "X", "category": "travel"},
    },
}


def test_bad_events_are_quarantined_and_the_engine_keeps_running() -> None:
    """Bad events are quarantined with a reason, count for nothing; the engine keeps going."""
    r = build([SPEND_WATCH, ACTIVATION_WATCH], [profile("c1")], start=START)
    r.feed([activated("c1", T0 - HOUR)])
    results = {}
    for name, bad in BAD_EVENTS.items():
        r.advance(T0)
        results[name] = r.engine.ingest(bad)
    assert all(res.quarantined for res in results.values()), results
    assert [reason for _, reason in r.engine.quarantine] == [
        res.quarantined for res in results.values()
    ]
    assert [i["journey"] for i in r.instances("c1")] == ["spend_watch"]
    r.feed([txn("c1", T0 + HOUR, 1_000_000, category="travel")])
    assert r.ended("c1") == [("spend_goal_met", "2026-01-05 11:00")]


# ------------------------------------------------------------------------------ versioning


def _versioned(version: int) -> ir.Journey:
    second = "ticket v1_step" if version == 1 else "ticket v2_step"
    return journey(
        "versioned",
        f"entry on card_issued\nticket first\nwait 5d\n{second}",
        version=version,
    )


def test_an_instance_finishes_on_its_version_while_new_entrants_take_the_new_one() -> None:
    """Versioning: a v1 instance finishes on v1 in a new Engine with v2; new entrants get v2."""
    events, state, profiles = MemoryEventStore(), MemoryStateStore(), MemoryProfileStore()
    for c in ("old", "new"):
        profiles.add(profile(c))
    before = build(
        [_versioned(1)], [], start=START, events=events, state=state, profile_store=profiles
    )
    before.feed([issued("old", T0)])
    after = build(
        [_versioned(1), _versioned(2)],
        [],
        start=T0 + DAY,
        events=events,
        state=state,
        profile_store=profiles,
    )
    after.feed([issued("new", T0 + 2 * DAY)])
    after.advance(T0 + 20 * DAY)
    assert [(i["version"], i["status"]) for i in after.instances("old")] == [(1, "ended")]
    assert [(i["version"], i["status"]) for i in after.instances("new")] == [(2, "ended")]
    assert after.acts("old") == [ticket("2026-01-10 10:00", "v1_step", {})]
    assert after.acts("new") == [
        ticket("2026-01-07 10:00", "first", {}),
        ticket("2026-01-12 10:00", "v2_step", {}),
    ]


def test_an_instance_of_an_unloaded_version_does_not_block_other_customers() -> None:
    """Versioning: a waiting instance of an unloaded version does not block others' timers."""
    events, state, profiles = MemoryEventStore(), MemoryStateStore(), MemoryProfileStore()
    for c in ("old", "new"):
        profiles.add(profile(c))
    before = build(
        [_versioned(1)], [], start=START, events=events, state=state, profile_store=profiles
    )
    before.feed([issued("old", T0)])
    after = build(
        [_versioned(2)], [], start=T0 + DAY, events=events, state=state, profile_store=profiles
    )
    after.feed([issued("new", T0 + 2 * DAY)])
    after.advance(T0 + 20 * DAY)
    assert after.acts("new") == [
        ticket("2026-01-07 10:00", "first", {}),
        ticket("2026-01-12 10:00", "v2_step", {}),
    ]
