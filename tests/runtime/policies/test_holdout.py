"""The global holdout: a stable share of customers, the same on every run, for every journey and
version, who receive no marketing while their instances run on."""

from __future__ import annotations

from journeydsl.runtime.policies import PolicyEngine, holdout_bucket
from tests.runtime.policies.harness import compile_journey, ev, harness, local, policies, profile

HOLDOUT_10 = "holdout: {percent: 10, salt: bank-2026}\n"

WELCOME = """
journey welcome version VERSION
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
send email welcome_activation_guide transactional { card_id: trigger.card_id, product: "gold" }
send email new_cardholder_promotions marketing
wait for card_activated within 10d { exit done }
"""

CUSTOMERS = [f"c-{i:03d}" for i in range(1, 301)]


def _held_out(version: int, text: str = WELCOME, policy_text: str = HOLDOUT_10) -> set[str]:
    """The customers whose promotion was withheld by the holdout, in a fresh engine."""
    journey = compile_journey(text.replace("VERSION", str(version)))
    at = local("2026-01-05 10:00")
    h = harness([journey], [profile(c) for c in CUSTOMERS], start=at, policy=policies(policy_text))
    h.feed([ev(c, "card_issued", at, card_id=f"k-{c}", product="gold") for c in CUSTOMERS])
    h.advance(local("2026-01-20 00:00"))
    return {
        a["customer_id"]
        for a in h.actions
        if a["kind"] == "suppressed" and str(a["reason"]).startswith("global holdout")
    }


def test_the_bucket_is_a_pinned_hash_of_salt_and_customer() -> None:
    """holdout_bucket is sha256-based and fixed: these values must never change."""
    assert [holdout_bucket("bank-2026", f"c-{i:03d}") for i in range(1, 6)] == [
        4875,
        7913,
        6782,
        6600,
        4212,
    ]


def test_the_same_customers_are_held_out_on_every_run_and_version() -> None:
    """Two runs of version 1 and a run of version 2 withhold marketing from the same customers."""
    first, again, v2 = _held_out(1), _held_out(1), _held_out(2)
    assert first == again == v2
    assert 15 <= len(first) <= 45  # about 10% of 300


def test_membership_does_not_depend_on_the_journey() -> None:
    """Another journey (another id) holds out exactly the same customers."""
    other = WELCOME.replace("journey welcome", "journey welcome_again")
    assert _held_out(1, other) == _held_out(1)


def test_a_new_salt_draws_a_new_group() -> None:
    """Changing the salt (a new holdout period) changes who is held out."""
    assert _held_out(1, policy_text="holdout: {percent: 10, salt: bank-2027}\n") != _held_out(1)


def test_holdout_customers_get_transactional_messages_and_their_instances_run() -> None:
    """A held-out customer gets transactional messages, no marketing, and reaches an outcome."""
    engine = PolicyEngine(policies(HOLDOUT_10))
    member = next(c for c in CUSTOMERS if engine.in_holdout(c))
    journey = compile_journey(WELCOME.replace("VERSION", "1"))
    at = local("2026-01-05 10:00")
    h = harness([journey], [profile(member)], start=at, policy=policies(HOLDOUT_10))
    h.feed(
        [
            ev(member, "card_issued", at, card_id="k", product="gold"),
            ev(member, "card_activated", local("2026-01-06 10:00"), card_id="k"),
        ]
    )
    h.advance(local("2026-01-20 00:00"))
    assert [m.template for m in h.delivered(member)] == ["welcome_activation_guide"]
    assert h.suppressed(member) == ["global holdout: no marketing messages (control group, 10%)"]
    (inst,) = h.engine.explain(member)
    assert (inst["status"], inst["outcome"]) == ("ended", "done")
    suppressed = [d for d in h.decisions(member) if d["decision"] == "suppressed"]
    assert suppressed[0]["policy"] == "holdout"


def test_share_and_per_journey_exemption() -> None:
    """About percent% of many customers are held out; a journey override of 0% exempts it."""
    engine = PolicyEngine(
        policies(HOLDOUT_10 + "journeys:\n  service_news:\n    holdout: {percent: 0}\n")
    )
    many = [f"x-{i}" for i in range(20_000)]
    share = sum(engine.in_holdout(c) for c in many) / len(many)
    assert 0.09 < share < 0.11
    assert not any(engine.in_holdout(c, "service_news") for c in many[:2000])
    nested = PolicyEngine(policies("holdout: {percent: 20, salt: bank-2026}\n"))
    assert all(nested.in_holdout(c) for c in many if engine.in_holdout(c))
