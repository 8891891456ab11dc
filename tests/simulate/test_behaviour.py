"""The behaviour-model file: validated with pydantic, every mistake reported at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.simulate.behaviour import check_behaviour, load_behaviour
from journeydsl.simulate.behaviour_general import GeneralBehaviour
from journeydsl.yamlfile import InputError
from tests.simulate.conftest import BEHAVIOUR, ONBOARDING, Cli

MINIMAL = """\
spend:
  merchants:
    - {merchant: Shopee, category: shopping, amount: 300_000}
"""


def _errors(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_behaviour(path)
    return [str(e).replace(f"{path}:", "b.yaml:") for e in caught.value.errors]


@pytest.mark.parametrize("name", ["onboarding.yaml", "dormant.yaml"])
def test_the_shipped_behaviour_files_are_valid(name: str) -> None:
    """examples/behaviour/*.yaml load without a mistake, in the general form."""
    loaded = load_behaviour(BEHAVIOUR / name)
    assert isinstance(loaded.model, GeneralBehaviour)
    assert loaded.model.events["transaction"].variants


def test_a_misspelt_field_names_its_line_with_a_suggestion(tmp_path: Path) -> None:
    """An unknown key is reported at the key, with did-you-mean."""
    rule = "responses:\n  - template: welcome_activation_guide\n    opne: {probability: 0.3}\n"
    text = MINIMAL + rule
    assert _errors(text, tmp_path) == [
        "b.yaml:6:5: error: unknown field 'opne' in 'responses[0]' — did you mean 'open'?"
    ]


def test_an_out_of_range_probability_names_its_line(tmp_path: Path) -> None:
    """A probability above 1 is reported at the value, with the path and what was found."""
    text = MINIMAL + "daily:\n  activation: 1.5\n"
    assert _errors(text, tmp_path) == [
        "b.yaml:5:15: error: daily.activation: Input should be less than or equal to 1, found 1.5"
    ]


def test_every_mistake_is_reported_in_file_order(tmp_path: Path) -> None:
    """Several mistakes: a bad duration, an unknown time zone and a missing field, all listed."""
    text = """\
profiles:
  timezones: {Asia/Hanoi: 1}
spend:
  merchants:
    - {merchant: Shopee, category: shopping}
responses:
  - template: x
    open: {probability: 0.2, delay: two hours}
"""
    assert _errors(text, tmp_path) == [
        "b.yaml:2:15: error: profiles.timezones.Asia/Hanoi: unknown time zone 'Asia/Hanoi' "
        "(use an IANA name)",
        "b.yaml:5:7: error: missing field 'amount' in 'spend.merchants[0]'",
        "b.yaml:8:37: error: responses[0].open.delay: 'two hours' is not a duration; "
        "write e.g. 2h, 30m, 3d or 1d12h",
    ]


def test_a_yaml_syntax_error_names_its_line(tmp_path: Path) -> None:
    """Broken YAML is reported at the parser's position."""
    errors = _errors(MINIMAL + "daily: {spend: 0.1\n", tmp_path)
    assert len(errors) == 1
    assert errors[0].startswith("b.yaml:5:")
    assert "invalid YAML" in errors[0]


def test_a_distribution_needs_exactly_one_form(tmp_path: Path) -> None:
    """A distribution with two forms says which it found."""
    text = MINIMAL.replace("amount: 300_000", "amount: {fixed: 1000, uniform: {min: 1, max: 2}}")
    (error,) = _errors(text, tmp_path)
    assert error.startswith("b.yaml:3:")
    assert "give exactly one of 'fixed', 'lognormal' or 'uniform' (found fixed, uniform)" in error


def test_a_rule_for_a_template_the_journey_never_sends_is_flagged() -> None:
    """Checked against the journey, an unknown template is reported at its line with a hint."""
    from journeydsl.compiler import compile_file

    loaded = load_behaviour(
        "b.yaml", MINIMAL + "responses:\n  - template: welcome_activaton_guide\n"
    )
    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    found = check_behaviour(loaded, {"welcome_activation_guide": {"email"}}, None, frozenset())
    assert [str(f) for f in found] == [
        "b.yaml:5:15: warning: the journey never sends template 'welcome_activaton_guide' — did "
        "you mean 'welcome_activation_guide'?"
    ]


def test_the_cli_reports_a_bad_behaviour_file_and_exits_1(cli: Cli, tmp_path: Path) -> None:
    """`simulate --behaviour` with a mistake prints file:line:col and exits 1, no traceback."""
    path = tmp_path / "bad.yaml"
    path.write_text(MINIMAL + "channels:\n  smss: {cost: 700}\n", encoding="utf-8")
    code, out, err = cli(
        "simulate", ONBOARDING, "--population", "5", "--behaviour", str(path), "--seed", "1"
    )
    assert code == 1
    assert out == ""
    assert f"{path}:5:3: error: channels.smss: Input should be 'email', 'sms', 'zns', " in err
    assert "Traceback" not in err


def test_the_cli_warns_about_rules_that_never_apply(cli: Cli, tmp_path: Path) -> None:
    """A response rule for a template the journey never sends is a warning; the run goes on."""
    path = tmp_path / "b.yaml"
    path.write_text(MINIMAL + "responses:\n  - template: nope\n", encoding="utf-8")
    code, _, err = cli(
        "simulate", ONBOARDING, "--population", "3", "--behaviour", str(path), "--format", "json"
    )
    assert code == 0
    assert f"{path}:5:15: warning: the journey never sends template 'nope'" in err


def test_history_before_1900_and_a_rare_daily_rate_run_in_the_earlier_form(
    cli: Cli, tmp_path: Path
) -> None:
    """In the earlier form too, past events drawn before 1900 are left out (BadEvent stopped
    the run) and a daily rate of 1e-12 never fires (OverflowError)."""
    path = tmp_path / "b.yaml"
    path.write_text(
        "start: 1901-01-01T00:00:00+07:00\n"
        "history:\n"
        "  card_activated: {uniform: {min: 1d, max: 3000d}}\n"
        "  transactions: {count: 3, ago: {uniform: {min: 1d, max: 3000d}}}\n"
        "daily: {spend: 1.0e-12, activation: 1.0e-17}\n" + MINIMAL,
        encoding="utf-8",
    )
    code, out, err = cli(
        "simulate", ONBOARDING, "--population", "20", "--behaviour", str(path), "--days", "30"
    )
    assert (code, err) == (0, "")
    assert "synthetic: 20 customers" in out
