"""Checks of a reward drawn from a budget (journeydsl/compiler/rewards.py)."""

from __future__ import annotations

from pathlib import Path

from journeydsl.compiler import compile_source

BUDGETS = Path(__file__).resolve().parents[1] / "fixtures" / "budgets"


def test_a_fixed_amount_finer_than_the_budgets_currency_is_jd105_at_the_amount() -> None:
    """`amount 500_000.5 VND` is refused where it is written (VND has no decimal places)."""
    source = """
journey waivers
uses events "events.yaml"
entry on card_activated
reward fee_waiver from waivers amount 500_000.5 VND
"""
    result = compile_source(source, str(BUDGETS / "waivers.journey"))
    assert result.journey is None
    [diag] = result.diagnostics
    assert (diag.code, diag.span.line, diag.span.column) == ("JD105", 5, 39)
    assert diag.message == (
        "a reward draws an amount VND can pay: 500_000.5 VND uses 1 decimal place and VND has "
        "none (an amount drawn is never rounded)"
    )
