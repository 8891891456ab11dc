"""`--trace` (one customer's timeline) and `journeydsl explain` (the decision log)."""

from __future__ import annotations

from pathlib import Path

from tests.simulate.conftest import (
    BEHAVIOUR,
    EVENTS,
    ONBOARDING,
    Cli,
    dormant_args,
    onboarding_args,
)


def _explain(cli: Cli, customer: str, *extra: str) -> str:
    code, out, err = cli(
        "explain",
        ONBOARDING,
        "--events",
        str(EVENTS / "onboarding.jsonl"),
        "--profiles",
        str(EVENTS / "onboarding_profiles.jsonl"),
        "--customer",
        customer,
        *extra,
    )
    assert code == 0, err
    return out


def test_trace_interleaves_history_events_and_actions_in_local_time(cli: Cli) -> None:
    """The timeline lists history, the entry, the offer chosen, sends, the customer's own events
    and the exit."""
    code, out, _ = cli(*dormant_args("--trace", "d-002"))
    assert code == 0
    trace = out[out.index("timeline of d-002") :].splitlines()
    assert trace == [
        "timeline of d-002 (Asia/Ho_Chi_Minh)",
        "2023-11-20 10:00 +07:00  history  card_activated {card_id: k-102}",
        "2025-06-01 08:00 +07:00  history  transaction {amount: 21,000,000 VND, currency: VND, "
        "merchant: Vietnam Airlines, category: travel}",
        "2025-07-15 09:00 +07:00  history  transaction {amount: 18,000,000 VND, currency: VND, "
        "merchant: Vietjet Air, category: travel}",
        "2025-09-03 07:45 +07:00  history  transaction {amount: 14,000,000 VND, currency: VND, "
        "merchant: Agoda, category: travel}",
        "2026-01-05 09:00 +07:00  enter    dormant_reactivation v1",
        "2026-01-05 09:00 +07:00  offer    reactivation: airline_cashback",
        "2026-01-05 09:00 +07:00  action   send email reactivation_offer {offer: airline_cashback}",
        "2026-01-05 09:00 +07:00  action   send zns reactivation_offer {offer: airline_cashback}",
        "2026-01-05 12:20 +07:00  event    message_opened {message_id: m-2001, journey: "
        "dormant_reactivation, node: zns_reactivation_offer, template: reactivation_offer, "
        "channel: zns}",
        "2026-01-08 09:00 +07:00  action   send zns offer_reminder {offer: airline_cashback}",
        "2026-01-11 09:00 +07:00  action   ticket telesales priority high {offer: "
        "airline_cashback, reason: engaged_not_registered, spend_365d: 53,000,000 VND}",
        "2026-01-11 09:00 +07:00  exit     dormant_reactivation: handed_to_telesales",
    ]


def test_trace_goes_to_stderr_when_json_is_on_stdout(cli: Cli) -> None:
    """With --format json the timeline is written to stderr, so stdout stays one JSON object."""
    code, out, err = cli(*onboarding_args("--format", "json", "--trace", "c-005"))
    assert code == 0
    assert out.lstrip().startswith("{")
    assert "timeline of" not in out
    assert "timeline of c-005 (Asia/Shanghai)" in err
    assert "2026-01-07 10:00 +08:00  event    card_issued" in err


def test_trace_of_a_synthetic_customer(cli: Cli) -> None:
    """A synthetic customer's timeline shows their generated events and the journey's actions."""
    code, out, _ = cli(
        "simulate",
        ONBOARDING,
        "--population",
        "10",
        "--behaviour",
        str(BEHAVIOUR / "onboarding.yaml"),
        "--seed",
        "3",
        "--trace",
        "c-0001",
    )
    assert code == 0
    trace = out[out.index("timeline of c-0001") :]
    assert "event    card_issued" in trace
    assert "action   suppressed welcome_activation_guide: no email consent" in trace
    assert "action   send zns activation_reminder {round: 1}" in trace
    assert "event    message_opened" in trace


def test_explain_shows_conditions_with_values_waits_and_deliveries(cli: Cli) -> None:
    """The log has branch values (with the value a comparison compared), waits and what woke
    them, fallback deliveries, the reward; steps are named by label or kind, never by a
    generated id."""
    out = _explain(cli, "c-003")
    assert out.splitlines()[0] == (
        "onboarding_new_cardholder/c-003/1 (onboarding_new_cardholder v1): ended, "
        "outcome spend_goal_met"
    )
    for line in [
        "2026-01-05 14:00 +07:00  wait for                         wait for card_activated "
        "until 2026-01-07 14:00 +07:00",
        "2026-01-07 14:00 +07:00  send                             delivered: send sms "
        "activation_reminder {round: 1}",
        "2026-01-09 20:15 +07:00  wait for                         woke on card_activated",
        "2026-01-09 20:15 +07:00  if                               if not has(card_activated "
        "since entry) → no",
        "2026-01-19 20:15 +07:00  if                               if sum(transaction.amount "
        "since activated_at) = 0 VND >= 1_000_000 VND → no",
        "2026-01-30 19:00 +07:00  wait for                         woke on transaction: "
        "sum(transaction.amount since activated_at) >= 1_000_000 VND is now true",
        "2026-01-30 19:00 +07:00  reward                           granted: reward "
        "annual_fee_waiver",
        "2026-01-30 19:00 +07:00  -                                ended: spend_goal_met",
    ]:
        assert "  " + line in out
    assert "if_4" not in out
    assert "  welcome  " in out  # a label stays


def test_explain_shows_suppressions_with_their_reasons(cli: Cli) -> None:
    """Without profiles, each withheld message is listed with why it was withheld."""
    code, out, _ = cli(
        "explain",
        ONBOARDING,
        "--events",
        str(EVENTS / "onboarding.jsonl"),
        "--customer",
        "c-001",
    )
    assert code == 0
    assert (
        "  2026-01-07 10:00 +07:00  send                             suppressed "
        "activation_reminder: no push consent; no zns consent; no sms consent"
    ) in out
    assert "ticket telesales priority normal (queued)" in out


def test_explain_a_customer_who_never_entered(cli: Cli, tmp_path: Path) -> None:
    """A customer with a profile but without instances gets one line saying so."""
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text(
        (EVENTS / "onboarding_profiles.jsonl").read_text(encoding="utf-8")
        + '{"customer_id": "c-999", "attributes": {}, "consent": {}}\n',
        encoding="utf-8",
    )
    code, out, err = cli(
        "explain",
        ONBOARDING,
        "--events",
        str(EVENTS / "onboarding.jsonl"),
        "--profiles",
        str(profiles),
        "--customer",
        "c-999",
    )
    assert code == 0, err
    assert out == "c-999: no journey instance (the customer never entered)\n"


def test_explain_a_customer_the_simulation_never_saw(cli: Cli) -> None:
    """An id in no event, profile or population is an error (exit 1), not an empty log."""
    code, out, err = cli(
        "explain",
        ONBOARDING,
        "--events",
        str(EVENTS / "onboarding.jsonl"),
        "--customer",
        "nobody",
    )
    assert code == 1
    assert out == ""
    assert "no customer 'nobody' in this simulation" in err


def test_explain_writes_a_drawn_amount_as_the_reports_do(cli: Cli) -> None:
    """A granted draw is written 500,000 VND, as the reward's params beside it, not 500_000."""
    out = _explain(cli, "c-003")
    assert "reward                           drew 500,000 VND from fee_waivers → granted" in out
    assert "{amount: 500,000 VND}" in out
    assert "500_000" not in out
