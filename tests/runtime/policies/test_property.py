"""A property of vn_decree_91 over random event streams with two journeys in one engine: no
customer ever receives a marketing SMS outside 07:00-22:00 local, nor more than 3 marketing SMS
in any 24 hours, and every one carries [QC]."""

from __future__ import annotations

from datetime import time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.runtime.policies import builtin_profile
from tests.runtime.policies.harness import compile_journey, ev, harness, local, profile
from tests.runtime.scenario import txn

NUDGES = compile_journey(
    """
journey nudges
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
  reentry always
fallback push -> zns -> sms
send push first_spend_nudge marketing
wait 2h
send sms install_digital_app marketing
send sms activation_reminder transactional { round: 1 } fallback none
"""
)
OFFERS = compile_journey(
    """
journey offers
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
  reentry always
fallback zns -> sms
send zns reactivation_offer marketing { offer: "cashback" }
wait 30m
send sms offer_reminder marketing { offer: "cashback" } fallback none
"""
)
VN91 = builtin_profile("vn_decree_91")
ZONES = ("Asia/Ho_Chi_Minh", "Asia/Shanghai", "Europe/London")
CUSTOMERS = ("c1", "c2", "c3")
START = local("2026-03-26 00:00")  # the run crosses London's change to summer time

customers = st.tuples(
    *(
        st.tuples(st.sampled_from(ZONES), st.booleans(), st.booleans())  # zone, zns, push
        for _ in CUSTOMERS
    )
)
events = st.lists(
    st.tuples(
        st.sampled_from(CUSTOMERS),
        st.sampled_from(("card_activated", "transaction")),
        st.integers(0, 5 * 24 * 60),
    ),
    max_size=30,
)


@settings(max_examples=40, deadline=None)
@given(customers, events)
def test_no_marketing_sms_outside_07_22_local_nor_more_than_3_in_24h(
    people: tuple[tuple[str, bool, bool], ...], stream: list[tuple[str, str, int]]
) -> None:
    """Marketing SMS: 07:00 <= local time < 22:00, [QC], and never four within 24 hours."""
    profiles = [
        profile(c, tz=tz, app=push, consent={"sms": True, "zns": zns, "push": push})
        for c, (tz, zns, push) in zip(CUSTOMERS, people, strict=True)
    ]
    h = harness([NUDGES, OFFERS], profiles, start=START, policy=VN91)
    timeline = []
    for n, (c, kind, minute) in enumerate(stream):
        at = START + timedelta(minutes=minute)
        if kind == "transaction":
            timeline.append(txn(c, at, 100_000 + n))
        else:
            timeline.append(ev(c, "card_activated", at, card_id=f"k{n}"))
    h.feed(timeline)
    h.advance(START + timedelta(days=10))
    for c, (tz, _, _) in zip(CUSTOMERS, people, strict=True):
        marketing = [m for m in h.delivered(c, "sms") if m.category == "marketing"]
        for m in marketing:
            assert time(7, 0) <= m.at.astimezone(ZoneInfo(tz)).time() < time(22, 0), m
            assert m.label == "[QC]"
        sent = sorted(m.at for m in marketing)
        for first, fourth in zip(sent, sent[3:], strict=False):
            assert fourth - first >= timedelta(hours=24)
    pending = h.engine.next_wakeup()
    assert pending is None or pending > START + timedelta(days=10)
