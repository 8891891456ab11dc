"""Frequency caps: rolling windows (not calendar days), shared by every journey of an engine,
deferred to the first moment the window has room, or dropped."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from journeydsl.runtime.policies import builtin_profile
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.policies.harness import (
    ONE_TRANSACTIONAL,
    compile_journey,
    ev,
    harness,
    local,
    policies,
    profile,
)
from tests.runtime.scenario import txn

#: A marketing SMS for every transaction.
OFFER_PER_TXN = """
journey offer_per_txn
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
  reentry always
send sms reactivation_offer marketing { offer: "cashback" } fallback none
"""

#: Two marketing SMS an hour apart after activation.
TWO_ON_ACTIVATION = """
journey two_on_activation
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
send sms install_digital_app marketing
wait 1h
send sms first_spend_nudge marketing fallback none
"""

CAP_3_PER_DAY = """
frequency_caps:
  - {name: sms_3_per_24h, channels: [sms], categories: [marketing], max: 3, window: 24h}
"""


def _txns(*times: str) -> list[dict[str, object]]:
    return [txn("c1", local(t), 100_000) for t in times]


def test_the_window_slides_across_midnight() -> None:
    """Three SMS late on day 1: the 4th (00:30) waits for 20:00 on day 2, the 5th for 22:00."""
    h = harness(
        [compile_journey(OFFER_PER_TXN)],
        [profile("c1")],
        start=local("2026-01-05 00:00"),
        policy=policies(CAP_3_PER_DAY),
    )
    h.feed(_txns("2026-01-05 20:00", "2026-01-05 22:00", "2026-01-05 23:30"))
    h.feed(_txns("2026-01-06 00:30", "2026-01-06 01:00"))
    h.advance(local("2026-01-08 00:00"))
    assert h.times("c1") == [
        "2026-01-05 20:00",
        "2026-01-05 22:00",
        "2026-01-05 23:30",
        "2026-01-06 20:00",
        "2026-01-06 22:00",
    ]
    deferred = [d for d in h.decisions("c1") if d["decision"] == "deferred"]
    assert {d["policy"] for d in deferred} == {"frequency_cap:sms_3_per_24h"}
    assert datetime.fromisoformat(deferred[0]["until"]) == local("2026-01-06 20:00")


def test_two_journeys_share_one_cap() -> None:
    """A's two SMS and B's first fill one cap: B's second waits for 24h after A's first."""
    a, b = compile_journey(TWO_ON_ACTIVATION), compile_journey(OFFER_PER_TXN)
    h = harness(
        [a, b], [profile("c1")], start=local("2026-01-05 00:00"), policy=policies(CAP_3_PER_DAY)
    )
    h.feed([ev("c1", "card_activated", local("2026-01-05 10:00"), card_id="k1")])
    h.feed(_txns("2026-01-05 12:00", "2026-01-05 13:00"))
    h.advance(local("2026-01-08 00:00"))
    assert h.times("c1") == [
        "2026-01-05 10:00",
        "2026-01-05 11:00",
        "2026-01-05 12:00",
        "2026-01-06 10:00",
    ]
    journeys = {m.journey for m in h.delivered("c1")}
    assert journeys == {"two_on_activation", "offer_per_txn"}
    b_logs = [i for i in h.engine.explain("c1") if i["journey"] == "offer_per_txn"]
    held = [e for i in b_logs for e in i["log"] if e.get("decision") == "deferred"]
    assert len(held) == 1
    assert held[0]["reason"].startswith("frequency cap: at most 3 marketing messages on sms")


def test_transactional_messages_are_exempt_unless_the_cap_says_so() -> None:
    """A marketing-only cap neither counts nor holds transactional SMS; one naming both does."""
    timeline = [
        ev("c1", "card_activated", local(f"2026-01-05 1{i}:00"), card_id=f"k{i}") for i in range(5)
    ]
    exempt = harness(
        [compile_journey(ONE_TRANSACTIONAL)],
        [profile("c1")],
        start=local("2026-01-05 00:00"),
        policy=policies(CAP_3_PER_DAY),
    )
    exempt.feed(timeline)
    exempt.advance(local("2026-01-07 00:00"))
    assert len(exempt.times("c1")) == 5
    counted = harness(
        [compile_journey(ONE_TRANSACTIONAL)],
        [profile("c1")],
        start=local("2026-01-05 00:00"),
        policy=policies(
            """
frequency_caps:
  - {channels: [sms], categories: [marketing, transactional], max: 3, window: 24h}
"""
        ),
    )
    counted.feed(timeline)
    counted.advance(local("2026-01-05 23:00"))
    assert counted.times("c1") == ["2026-01-05 10:00", "2026-01-05 11:00", "2026-01-05 12:00"]
    assert counted.decisions("c1")[-1]["policy"] == "frequency_cap:frequency_caps[1]"


def test_drop_action_suppresses_the_message_over_the_cap() -> None:
    """With action drop, the 3rd marketing message in a week is suppressed, not deferred."""
    policy = policies(
        """
frequency_caps:
  - {name: weekly, max: 2, window: 7d, action: drop}
"""
    )
    h = harness(
        [compile_journey(OFFER_PER_TXN)], [profile("c1")], start=local("2026-01-05"), policy=policy
    )
    h.feed(_txns("2026-01-05 10:00", "2026-01-07 10:00", "2026-01-11 10:00", "2026-01-12 10:01"))
    h.advance(local("2026-01-20 00:00"))
    assert h.times("c1") == ["2026-01-05 10:00", "2026-01-07 10:00", "2026-01-12 10:01"]
    assert h.suppressed("c1") == [
        "frequency cap: at most 2 marketing messages on any channel in 7d (weekly)"
    ]


def test_a_cap_counts_only_its_channels() -> None:
    """An SMS cap ignores emails: three emails then an SMS, the SMS goes at once."""
    text = """
journey mixed
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
send email new_cardholder_promotions marketing
send email new_cardholder_promotions marketing
send email new_cardholder_promotions marketing
send sms install_digital_app marketing
"""
    h = harness(
        [compile_journey(text)],
        [profile("c1")],
        start=local("2026-01-05"),
        policy=policies(CAP_3_PER_DAY.replace("max: 3", "max: 1")),
    )
    h.feed([ev("c1", "card_activated", local("2026-01-05 10:00"), card_id="k1")])
    h.advance(local("2026-01-06 00:00"))
    assert h.times("c1", "email") == ["2026-01-05 10:00"] * 3
    assert h.times("c1", "sms") == ["2026-01-05 10:00"]


def test_vn_decree_91_cap_is_lifted_by_the_customers_agreement() -> None:
    """vn_decree_91: consent key marketing_frequency_agreed lets a 4th SMS through at once."""
    agreed = profile("c2", consent={"sms": True, "marketing_frequency_agreed": True})
    h = harness(
        [compile_journey(OFFER_PER_TXN)],
        [profile("c1"), agreed],
        start=local("2026-01-05"),
        policy=builtin_profile("vn_decree_91"),
    )
    times = ["2026-01-05 10:00", "2026-01-05 11:00", "2026-01-05 12:00", "2026-01-05 13:00"]
    h.feed([txn(c, local(t), 100_000) for c in ("c1", "c2") for t in times])
    h.advance(local("2026-01-07 00:00"))
    assert h.times("c1")[-1] == "2026-01-06 10:00"
    assert h.times("c2") == times


def test_a_journey_override_tightens_the_cap_for_that_journey_only() -> None:
    """A journey override replaces the cap by name: max 1 for that journey, max 3 for others."""
    policy = policies(
        CAP_3_PER_DAY
        + """
journeys:
  offer_per_txn:
    frequency_caps:
      - {name: sms_3_per_24h, channels: [sms], max: 1, window: 24h}
"""
    )
    a, b = compile_journey(TWO_ON_ACTIVATION), compile_journey(OFFER_PER_TXN)
    h = harness([a, b], [profile("c1")], start=local("2026-01-05"), policy=policy)
    h.feed(_txns("2026-01-05 08:00"))
    h.feed([ev("c1", "card_activated", local("2026-01-05 10:00"), card_id="k1")])
    h.feed(_txns("2026-01-05 12:00"))
    h.advance(local("2026-01-07 00:00"))
    assert h.times("c1") == [
        "2026-01-05 08:00",
        "2026-01-05 10:00",
        "2026-01-05 11:00",
        "2026-01-06 11:00",
    ]
    assert [m.journey for m in h.delivered("c1")] == [
        "offer_per_txn",
        "two_on_activation",
        "two_on_activation",
        "offer_per_txn",
    ]


def test_a_window_is_24_hours_of_real_time_across_daylight_saving() -> None:
    """London, clocks go forward: a window is 24 real hours, so the 4th SMS waits to 18:01 BST."""
    # At 17:30 BST the 1st SMS (17:01 GMT the day before) is 23.5 real hours old: it counts.
    london = "Europe/London"
    h = harness(
        [compile_journey(OFFER_PER_TXN)],
        [profile("c1", tz=london)],
        start=local("2026-03-28 00:00", london),
        policy=policies(CAP_3_PER_DAY),
    )
    times = ["2026-03-28 17:01", "2026-03-28 18:00", "2026-03-28 19:00", "2026-03-29 17:30"]
    h.feed([txn("c1", local(t, london), 100_000) for t in times])
    h.advance(local("2026-03-31 00:00", london))
    assert h.times("c1")[-1] == "2026-03-29 18:01"


CAP_OFFERS_ONLY = """
frequency_caps:
  - name: offers_one_per_day
    journeys: [offer_per_txn]
    channels: [sms]
    categories: [marketing]
    max: 1
    window: 24h
"""


def test_a_cap_scoped_to_journeys_counts_and_holds_only_theirs() -> None:
    """`journeys: [offer_per_txn]`: the second offer of the day waits a day; the other
    journey's two SMS go out at once and do not count against the offers."""
    h = harness(
        [compile_journey(OFFER_PER_TXN), compile_journey(TWO_ON_ACTIVATION)],
        [profile("c1")],
        start=local("2026-01-05 00:00"),
        policy=policies(CAP_OFFERS_ONLY),
    )
    h.feed([ev("c1", "card_activated", local("2026-01-05 09:00"), card_id="k")])
    h.feed(_txns("2026-01-05 12:00", "2026-01-05 13:00"))
    h.advance(local("2026-01-08 00:00"))
    assert h.times("c1") == [
        "2026-01-05 09:00",
        "2026-01-05 10:00",
        "2026-01-05 12:00",
        "2026-01-06 12:00",
    ]
    deferred = [d for d in h.decisions("c1") if d["decision"] == "deferred"]
    assert len(deferred) == 1
    assert "of offer_per_txn" in deferred[0]["reason"]


#: A tagged e-mail on activation, then an untagged SMS an hour later.
LAPSED_ON_ACTIVATION = """
journey lapsed_on_activation
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
send email reactivation_offer marketing tags [lapsed, promo] { offer: "welcome_back" }
wait 1h
send sms install_digital_app marketing fallback none
"""

#: A tagged SMS on every transaction.
LAPSED_PER_TXN = """
journey lapsed_per_txn
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
  reentry always
send sms reactivation_offer marketing tags [lapsed] { offer: "cashback" } fallback none
"""

CAP_LAPSED = """
frequency_caps:
  - {name: lapsed_two_per_week, tags: [lapsed], max: 2, window: 7d}
"""


@pytest.mark.parametrize(
    "kind", ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_a_cap_scoped_to_a_tag_counts_the_tagged_steps_of_every_journey(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """`tags: [lapsed]`, 2 a week: one journey's tagged e-mail and the other's tagged SMS fill
    it; the third tagged message waits a week after the first; the untagged SMS neither counts
    nor waits (with the in-memory store, and with SQLite and PostgreSQL, which read the tags
    back)."""
    store: Any = None
    if kind == "sqlite":
        store = SQLiteStore(tmp_path / "s.sqlite")
    elif kind == "postgres":
        from journeydsl.runtime.stores.postgres import PostgresStore

        store = PostgresStore(request.getfixturevalue("pg_dsn"))
    h = harness(
        [compile_journey(LAPSED_ON_ACTIVATION), compile_journey(LAPSED_PER_TXN)],
        [profile("c1")],
        start=local("2026-01-05 00:00"),
        policy=policies(CAP_LAPSED),
        state=store,
        events=store,
        profile_store=store,
    )
    h.feed([ev("c1", "card_activated", local("2026-01-05 10:00"), card_id="k")])
    h.feed(_txns("2026-01-05 12:00", "2026-01-06 12:00"))
    h.advance(local("2026-01-14 00:00"))
    assert [(m.channel, m.template, m.tags) for m in h.delivered("c1")] == [
        ("email", "reactivation_offer", ("lapsed", "promo")),
        ("sms", "install_digital_app", ()),
        ("sms", "reactivation_offer", ("lapsed",)),
        ("sms", "reactivation_offer", ("lapsed",)),
    ]
    assert h.times("c1") == [
        "2026-01-05 10:00",
        "2026-01-05 11:00",
        "2026-01-05 12:00",
        "2026-01-12 10:00",
    ]
    deferred = [d for d in h.decisions("c1") if d["decision"] == "deferred"]
    assert len(deferred) == 1
    assert "tagged lapsed" in deferred[0]["reason"]
    if store is not None:
        store.close()


def test_the_policy_check_counts_only_the_tagged_sends_of_a_journey() -> None:
    """JD602 under a tag cap of 1 a week: two tagged sends an hour apart exceed it; the same
    journey under a cap of another tag does not."""
    from journeydsl.diagnostics import Diagnostics
    from journeydsl.runtime.policies.checks import check_caps

    journey = compile_journey(LAPSED_ON_ACTIVATION.replace("fallback none", "tags [lapsed]"))
    for tag, warned in (("lapsed", True), ("vip", False)):
        cap = f"frequency_caps:\n  - {{tags: [{tag}], max: 1, window: 7d}}\n"
        diags = Diagnostics()
        check_caps(journey, None, policies(cap), diags)
        assert [d.code for d in diags.sorted()] == (["JD602"] if warned else [])
