"""A message whose params lack a value (an absent profile attribute) or have the wrong type is
suppressed with the reason, never sent with null; an instance that fails (an expression past a
limit) is counted, explained in its decision log, and makes `journeydsl run` exit 1."""

from __future__ import annotations

import io
from datetime import datetime
from pathlib import Path

import pytest

from journeydsl.cli.run import run
from tests.runtime.scenario import compile_journey, ev, local, profile
from tests.runtime.scenario import run as scenario
from tests.runtime.test_run_cli import event, jsonl
from tests.runtime.test_run_cli import profile as profile_line

T0 = local("2026-01-05 09:00")

OFFER = """
journey fee_offer
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
send sms fee_waiver_offer marketing {
  threshold: profile.credit_limit,
  deadline: date(entered_at + 30d),
}
"""

DOUBLING = (
    """
journey doubling
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
set s = trigger.product
"""
    + "set s = s + s\n" * 17
    + """
send email welcome_activation_guide transactional { card_id: s, product: "x" }
"""
)


def test_a_param_from_an_absent_attribute_suppresses_the_message_with_the_reason() -> None:
    """No credit_limit in the profile: the offer is suppressed, naming the param and the
    template, and nothing reaches the SMS channel; with it, the offer goes out."""
    issued = [ev("c1", "card_issued", T0, card_id="k", product="gold")]
    r = scenario([compile_journey(OFFER)], [profile("c1")], issued, start=T0)
    assert r.channels["sms"].delivered == []
    ((_, kind, template, reason),) = r.acts("c1")
    assert (kind, template) == ("suppressed", "fee_waiver_offer")
    assert reason == (
        "invalid params: param 'threshold' of template 'fee_waiver_offer' has no value"
    )
    log = r.engine.explain("c1")[0]["log"]
    assert any(e["what"] == "send" and "invalid" in e for e in log)
    ok = scenario(
        [compile_journey(OFFER)], [profile("c1", credit_limit=50_000_000)], issued, start=T0
    )
    assert [m.template for m in ok.channels["sms"].delivered] == ["fee_waiver_offer"]


def test_an_expression_past_a_limit_fails_the_instance_with_a_readable_reason() -> None:
    """Doubling the trigger's product 17 times passes the string limit: the instance ends with
    outcome error, the log names the limit, and the engine counts the failure."""
    issued = [ev("c1", "card_issued", T0, card_id="k", product="classic")]
    r = scenario([compile_journey(DOUBLING)], [profile("c1")], issued, start=T0)
    assert r.outcomes("c1") == [("ended", "error")]
    (error,) = [e for e in r.engine.explain("c1")[0]["log"] if e["what"] == "error"]
    assert error["error"] == "ExpressionLimitError"
    assert "the limit is 65,536 characters" in error["reason"]
    ((instance, reason),) = r.engine.failed
    assert instance == "doubling/c1/1"
    assert reason == error["reason"]


def test_run_exits_1_and_names_the_failed_instances(tmp_path: Path) -> None:
    """`journeydsl run` counts failed instances in its summary and exits 1, one line each."""
    journey = tmp_path / "doubling.journey"
    journey.write_text(DOUBLING, encoding="utf-8")
    from tests.catalogs import example_catalogs_in

    example_catalogs_in(tmp_path)
    err = io.StringIO()
    code = run(
        [journey],
        db=tmp_path / "state.sqlite",
        events=str(
            jsonl(
                tmp_path / "events.jsonl",
                [
                    event(
                        "c1",
                        "card_issued",
                        "2026-01-05T09:00:00+07:00",
                        card_id="k",
                        product="classic",
                    )
                ],
            )
        ),
        actions=tmp_path / "actions.jsonl",
        profiles=jsonl(tmp_path / "profiles.jsonl", [profile_line("c1", False, email=True)]),
        now=datetime.fromisoformat("2026-01-06T00:00:00+07:00"),
        err=err,
        fsync=False,
    )
    assert code == 1
    text = err.getvalue()
    assert "1 journey instance failed (outcome error; the decision log says why)" in text
    assert "journeydsl: error: instance doubling/c1/1 failed: `s + s` would build" in text


FAR = (
    """
journey far
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
set d = 3000d
"""
    + "set d = d + d\n" * 11
    + """
wait until entered_at + d
send email welcome_activation_guide transactional { card_id: "k", product: "p" }
"""
)


def test_a_time_past_year_9999_fails_the_instance_in_words() -> None:
    """A wait until a time past what a date can hold ends the instance with a reason that says
    so, counted as a failure (not a bare OverflowError)."""
    issued = [ev("c1", "card_issued", T0, card_id="k", product="classic")]
    r = scenario([compile_journey(FAR)], [profile("c1")], issued, start=T0)
    assert r.outcomes("c1") == [("ended", "error")]
    (error,) = [e for e in r.engine.explain("c1")[0]["log"] if e["what"] == "error"]
    assert error["error"] == "OverflowError"
    assert error["reason"].startswith("a date, time or duration out of range (beyond year 9999)")
    assert r.engine.failures == 1


@pytest.mark.parametrize(
    "expression",
    [
        "1_000_000 VND / (trigger.amount - 50_000 VND)",
        "(trigger.amount - trigger.amount) / (trigger.amount - trigger.amount)",
        "7 % 0",
    ],
    ids=["money", "zero-by-zero", "int-modulo"],
)
def test_a_division_by_zero_fails_the_instance_in_words(expression: str) -> None:
    """A division (or `%`) by zero ends the instance with the reason "division by zero", not
    decimal's list of signal classes."""
    text = f"""
journey ratio
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
set n = {expression}
send push first_spend_nudge marketing
"""
    spend = ev(
        "c1", "transaction", T0, amount=50_000, currency="VND", merchant="Tiki", category="other"
    )
    r = scenario([compile_journey(text)], [profile("c1", app=True)], [spend], start=T0)
    assert r.outcomes("c1") == [("ended", "error")]
    (error,) = [e for e in r.engine.explain("c1")[0]["log"] if e["what"] == "error"]
    assert error["reason"] == "division by zero"
    assert r.engine.failures == 1
