"""Consent, reachability and the fallback chain push → zns → sms, with each decision logged."""

from __future__ import annotations

import dataclasses
from typing import Any

from journeydsl import ir
from journeydsl.runtime.policies import Policies
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from tests.runtime.policies.harness import (
    Harness,
    compile_journey,
    ev,
    harness,
    local,
    policies,
    profile,
)

NUDGE = """
journey nudge
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
fallback push -> zns -> sms
send push first_spend_nudge marketing
"""

ALL = {"email": True, "sms": True, "zns": True, "push": True}


def _run(*profiles: Profile, policy: Policies | None = None, **scripts: object) -> Harness:
    at = local("2026-01-05 10:00")
    h = harness(
        [compile_journey(NUDGE)],
        profiles,
        start=at,
        policy=policy or Policies(),
        scripts=scripts,
    )
    h.feed([ev(p.customer_id, "card_activated", at, card_id="k") for p in profiles])
    h.advance(local("2026-01-06 00:00"))
    return h


def _landed(h: Harness, customer: str) -> list[str]:
    return [m.channel for m in h.delivered(customer)]


def test_mixed_consent_walks_the_chain_to_the_first_usable_channel() -> None:
    """Push when allowed and reachable; zns without push consent or app; sms without either."""
    h = _run(
        profile("c1", app=True),
        profile("c2", app=True, no=["push"]),
        profile("c3", app=False),
        profile("c4", app=True, no=["push", "zns"]),
        profile("c5", app=True, consent={"push": False}),
    )
    assert _landed(h, "c1") == ["push"]
    assert _landed(h, "c2") == ["zns"]
    assert _landed(h, "c3") == ["zns"]
    assert _landed(h, "c4") == ["sms"]
    assert _landed(h, "c5") == []
    assert h.suppressed("c5") == ["no push consent; no zns consent; no sms consent"]


def test_every_step_of_the_chain_is_in_the_decision_log() -> None:
    """c4: fell back to zns (no push consent), to sms (no zns consent), allowed on sms."""
    h = _run(profile("c4", app=True, no=["push", "zns"]))
    steps = [
        (d["decision"], d["channel"], d.get("from"), d.get("policy"), d.get("reason"))
        for d in h.decisions("c4")
    ]
    assert steps == [
        ("fallback", "zns", "push", "consent", "no push consent"),
        ("fallback", "sms", "zns", "consent", "no zns consent"),
        ("allowed", "sms", None, None, None),
    ]


def test_consent_per_category_overrides_the_channel() -> None:
    """consent["sms.marketing"] = false withholds marketing on sms although consent["sms"] holds."""
    p = profile("c1", consent={"sms": True, "sms.marketing": False})
    h = _run(p)
    assert _landed(h, "c1") == []
    assert h.suppressed("c1") == ["no push consent; no zns consent; no sms consent (sms.marketing)"]


def test_a_consent_value_that_is_not_true_is_no_consent() -> None:
    """A host's profile store that hands over "false", "no" or 1 for a channel gives no
    consent on it (fails closed), with and without a policy file, and the reason names it."""
    odd: Any = {"push": "false", "zns": 1, "sms": "no"}  # (not the declared Mapping[str, bool])
    at = local("2026-01-05 10:00")
    for policy in (Policies(), None):
        p = dataclasses.replace(profile("c1", app=True, phone="0912345678"), consent=odd)
        h = harness([compile_journey(NUDGE)], [p], start=at, policy=policy)
        h.feed([ev("c1", "card_activated", at, card_id="k")])
        h.advance(local("2026-01-06 00:00"))
        assert _landed(h, "c1") == []
        assert h.suppressed("c1") == [
            "no push consent (push is 'false', not true); no zns consent (zns is 1, not true); "
            "no sms consent (sms is 'no', not true)"
        ]


def test_reachability_attributes_for_zns_and_sms() -> None:
    """zalo_reachable: false skips zns; an empty phone skips sms; absent attributes are fine."""
    h = _run(
        profile("c1", no=["push"], zalo_reachable=False),
        profile("c2", no=["push"], zalo_reachable=False, phone=""),
        profile("c3", no=["push"], phone="0912345678"),
    )
    assert _landed(h, "c1") == ["sms"]
    assert _landed(h, "c2") == []
    assert h.suppressed("c2") == [
        "no push consent; no Zalo account for zns; no phone number for sms"
    ]
    assert _landed(h, "c3") == ["zns"]


def test_an_app_installed_since_entry_makes_push_reachable() -> None:
    """push reachability: has_digital_app, or the reach rule's event (app_installed) since entry."""
    text = NUDGE.replace("send push", "wait 1d\nsend push")
    at = local("2026-01-05 10:00")
    h = harness([compile_journey(text)], [profile("c1", app=False)], start=at, policy=Policies())
    h.feed(
        [
            ev("c1", "card_activated", at, card_id="k"),
            ev("c1", "app_installed", local("2026-01-05 18:00")),
        ]
    )
    h.advance(local("2026-01-07 00:00"))
    assert _landed(h, "c1") == ["push"]


def test_a_permanent_failure_falls_back_and_is_logged() -> None:
    """zns fails permanently (not a Zalo user): sms carries it; the log names the failure."""

    def not_zalo(message: Message) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "not a Zalo user")

    h = _run(profile("c1", no=["push"]), zns=not_zalo)
    assert _landed(h, "c1") == ["sms"]
    fallback = [d for d in h.decisions("c1") if d["decision"] == "fallback"]
    assert fallback[-1]["policy"] == "delivery_failure"
    assert fallback[-1]["reason"] == "zns failed: not a Zalo user"


def test_custom_reachability_and_consent_keys() -> None:
    """A policy may name its own attribute for sms and read consent from marketing_{channel}."""
    policy = policies(
        """
consent:
  keys: ["{category}_{channel}", "{channel}"]
reachability:
  sms: {attribute: mobile, missing: unreachable, reason: no mobile number}
"""
    )
    h = _run(
        profile("c1", consent={"sms": True, "marketing_sms": False}, mobile="0912"),
        profile("c2", consent={"sms": True}),
        profile("c3", consent={"sms": True}, mobile="0913"),
        policy=policy,
    )
    assert h.suppressed("c1") == ["no push consent; no zns consent; no sms consent (marketing_sms)"]
    assert h.suppressed("c2") == ["no push consent; no zns consent; no mobile number"]
    assert _landed(h, "c3") == ["sms"]


def test_without_a_policy_file_only_channel_consent_and_the_app_count() -> None:
    """Engine(policies=None) keeps its old behaviour: category keys and phone are not read."""
    at = local("2026-01-05 10:00")
    odd = profile("c1", consent={"sms": True, "sms.marketing": False}, phone="")
    h = harness([compile_journey(NUDGE)], [odd], start=at, policy=None)
    h.feed([ev("c1", "card_activated", at, card_id="k")])
    assert _landed(h, "c1") == ["sms"]
    assert h.decisions("c1") == []  # and nothing new is written to the store


def _with_chain(journey: ir.Journey, chain: tuple[str, ...]) -> ir.Journey:
    """``journey`` with its one send's fallback chain replaced, as a journey compiled before
    JD106 refused repeats (or built by hand) may have it."""
    nodes = {
        nid: dataclasses.replace(n, fallback=chain) if isinstance(n, ir.Send) else n
        for nid, n in journey.nodes.items()
    }
    return dataclasses.replace(journey, nodes=nodes)


def test_a_repeated_channel_in_a_compiled_chain_is_tried_once() -> None:
    """A send whose compiled chain repeats channels (push -> zns -> push -> zns -> sms) queues
    the message with each channel once, and walks push, zns, sms."""
    quiet = "quiet hours 21:00 to 08:00 for push, zns, sms\nfallback push"
    journey = _with_chain(
        compile_journey(NUDGE.replace("fallback push", quiet)), ("zns", "push", "zns", "sms")
    )
    at = local("2026-01-05 22:00")
    h = harness(
        [journey], [profile("c4", app=True, no=["push", "zns"])], start=at, policy=Policies()
    )
    h.feed([ev("c4", "card_activated", at, card_id="k")])
    (queued,) = h.state.pending_outbox(local("2026-01-07 00:00"))
    assert queued.payload["chain"] == ["push", "zns", "sms"]
    h.advance(local("2026-01-06 12:00"))
    assert _landed(h, "c4") == ["sms"]
    steps = [(d["decision"], d["channel"]) for d in h.decisions("c4")]
    assert steps[:2] == [("fallback", "zns"), ("fallback", "sms")]
    assert ("fallback", "push") not in steps


def test_a_queued_message_whose_chain_repeats_a_channel_skips_the_repeat() -> None:
    """A message queued with a repeating chain (push, zns, push, sms: made before JD106) and
    held by quiet hours falls back from zns straight to sms once push and zns fail."""

    def fails(message: Message) -> DeliveryResult:
        return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, "unreachable")

    text = NUDGE.replace("fallback push", "quiet hours 21:00 to 08:00 for push\nfallback push")
    at = local("2026-01-05 22:00")
    h = harness(
        [compile_journey(text)],
        [profile("c1", app=True)],
        start=at,
        policy=Policies(),
        scripts={"push": fails, "zns": fails},
    )
    h.feed([ev("c1", "card_activated", at, card_id="k")])
    (queued,) = h.state.pending_outbox(local("2026-01-07 00:00"))
    assert queued.payload["chain"] == ["push", "zns", "sms"]
    queued.payload["chain"] = ["push", "zns", "push", "sms"]
    h.state.update_outbox(queued)
    h.advance(local("2026-01-06 12:00"))
    assert _landed(h, "c1") == ["sms"]
    assert [
        (d["decision"], d["channel"]) for d in h.decisions("c1") if d["decision"] == "fallback"
    ] == [
        ("fallback", "zns"),
        ("fallback", "sms"),
    ]
