"""`journeydsl preview`: a template rendered for one customer with the params a send gives, in
recorded and synthetic mode; unknown templates, customers and placeholders are errors that say
where."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.cli.preview import render_body

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
ONBOARDING = str(EXAMPLES / "onboarding_new_cardholder.journey")
RECORDED = [
    "--events",
    str(EXAMPLES / "events" / "onboarding.jsonl"),
    "--profiles",
    str(EXAMPLES / "events" / "onboarding_profiles.jsonl"),
]


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_preview_renders_the_sms_text_with_its_label_and_params(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The fee-waiver offer to c-003 shows the [QC] label and the money and date filled in, on
    the channel it was sent on (the ZNS step fell back to SMS)."""
    code, out, err = run(
        capsys, "preview", ONBOARDING, "fee_waiver_offer", "--customer", "c-003", *RECORDED
    )
    assert code == 0, err
    assert "fee_waiver_offer on sms (marketing), step zns_fee_waiver_offer" in out
    assert "params: threshold = 1,000,000 VND, deadline = 2026-02-08" in out
    assert "| [QC] Chi tieu 1,000,000 VND truoc 2026-02-08 de duoc mien phi" in out
    assert "| Spend 1,000,000 VND with your new card before 2026-02-08" in out


def test_preview_renders_a_body_per_channel(capsys: pytest.CaptureFixture[str]) -> None:
    """Each reminder round is rendered with its own round number, from the channel's body."""
    code, out, _ = run(
        capsys, "preview", ONBOARDING, "activation_reminder", "--customer", "c-001", *RECORDED
    )
    assert code == 0
    assert "activate it in two taps (reminder 1)." in out
    assert "(reminder 4)." in out


def test_preview_in_synthetic_mode(capsys: pytest.CaptureFixture[str]) -> None:
    """With a population, the welcome email of a synthetic customer shows their card's id."""
    synthetic = [
        "--population",
        "5",
        "--behaviour",
        str(EXAMPLES / "behaviour" / "onboarding.yaml"),
        "--seed",
        "3",
    ]
    code, out, _ = run(capsys, "simulate", ONBOARDING, *synthetic, "--format", "json")
    assert code == 0
    welcome = next(
        a for a in json.loads(out)["actions"] if a.get("template") == "welcome_activation_guide"
    )
    customer, card = welcome["customer_id"], welcome["params"]["card_id"]
    code, out, err = run(
        capsys,
        "preview",
        ONBOARDING,
        "welcome_activation_guide",
        "--customer",
        customer,
        *synthetic,
    )
    assert code == 0, err
    assert f"card {card} is on its way" in out


def test_an_unknown_template_gets_did_you_mean(capsys: pytest.CaptureFixture[str]) -> None:
    """A template not in the catalog is a usage error with the close name."""
    code, _, err = run(
        capsys, "preview", ONBOARDING, "fee_waiver_ofer", "--customer", "c-003", *RECORDED
    )
    assert code == 2
    assert "no template 'fee_waiver_ofer' in the journey's catalog" in err
    assert "did you mean 'fee_waiver_offer'?" in err


def test_an_unknown_customer_or_a_template_not_sent_is_exit_1(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A customer the simulation never saw, or one who never got the template, is exit 1 with
    the reason (the steps that send it)."""
    code, _, err = run(
        capsys, "preview", ONBOARDING, "fee_waiver_offer", "--customer", "c-01", *RECORDED
    )
    assert code == 1
    assert "did you mean 'c-001'?" in err
    code, _, err = run(
        capsys, "preview", ONBOARDING, "fee_waiver_granted", "--customer", "c-001", *RECORDED
    )
    assert code == 1
    assert "customer 'c-001' got no fee_waiver_granted" in err
    assert "the steps that send it: " in err


def test_an_unknown_placeholder_is_an_error_at_its_column(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A {placeholder} that is no param of its template is JD109 at the placeholder itself,
    from check and from preview."""
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    templates = tmp_path / "examples" / "templates.yaml"
    text = templates.read_text(encoding="utf-8")
    text = text.replace("Your {product} card {card_id}", "Your {prodcut} card {card_id}")
    templates.write_text(text, encoding="utf-8")
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "{prodcut}" in s)
    column = text.splitlines()[line - 1].index("{prodcut}") + 1
    journey = str(tmp_path / "examples" / "onboarding_new_cardholder.journey")
    code, out, _ = run(capsys, "check", journey)
    assert code == 1
    assert f"templates.yaml:{line}:{column}: error[JD109]: placeholder {{prodcut}}" in out
    assert "did you mean 'product'?" in out
    code, _, err = run(
        capsys, "preview", journey, "welcome_activation_guide", "--customer", "c-001", *RECORDED
    )
    assert code == 1
    assert f"templates.yaml:{line}:{column}: error[JD109]" in err


def test_render_body_fills_params_and_keeps_escaped_braces() -> None:
    """Placeholders take their values (money with thousands separators); {{ and }} are braces."""
    body = "{{QC}} {amount} by {day}; {missing}"
    params = {"amount": {"amount": "1500000", "currency": "VND"}, "day": "2026-02-05"}
    assert render_body(body, params) == "{QC} 1,500,000 VND by 2026-02-05; {missing}"


def test_render_body_never_rounds_an_amount() -> None:
    """An amount is written with its currency's places, never rounded: 1.235 KWD (three places)
    stays 1.235, 1234.5 USD is 1,234.50, and 1000000.00 VND is 1,000,000."""
    params = {
        "fee": {"amount": "1.235", "currency": "KWD"},
        "cash": {"amount": "1234.5", "currency": "USD"},
        "goal": {"amount": "1000000.00", "currency": "VND"},
    }
    assert render_body("{fee} / {cash} / {goal}", params) == (
        "1.235 KWD / 1,234.50 USD / 1,000,000 VND"
    )
