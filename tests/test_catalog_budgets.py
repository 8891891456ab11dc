"""Reading `budgets:` of an events catalog (journeydsl/catalog_budgets.py): each mistake is one
JD109 at its place, saying what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_file

JOURNEY = """\
journey j
uses events "events.yaml"
entry on card_activated
reward gift from ok
"""


def _errors(tmp_path: Path, budget: str) -> list[str]:
    """The errors of a journey whose catalog declares ``ok`` and the budget ``bad: {budget}``."""
    catalog = "events:\n  card_activated: {card_id: string}\nbudgets:\n  ok: {quota: 5}\n"
    (tmp_path / "events.yaml").write_text(f"{catalog}  bad: {budget}\n", encoding="utf-8")
    (tmp_path / "j.journey").write_text(JOURNEY, encoding="utf-8")
    result = compile_file(tmp_path / "j.journey")
    return [
        f"{Path(d.span.file).name}:{d.span.line}:{d.span.column} {d.code} {d.message}"
        for d in result.diagnostics
        if d.severity.value == "error"
    ]


@pytest.mark.parametrize("quota", ["²", "٣", "2.5", "0"])
def test_a_quota_that_is_not_a_positive_whole_number_is_jd109(tmp_path: Path, quota: str) -> None:
    """A quota written with a superscript or a non-ASCII digit, a fraction or zero is JD109 at
    the value (`²` was a ValueError traceback from `check`)."""
    assert _errors(tmp_path, f"{{quota: {quota}}}") == [
        "events.yaml:5:16 JD109 a budget's 'quota' is a positive whole number of rewards"
    ]


def test_a_total_finer_than_its_currency_says_its_places_and_the_currencys(
    tmp_path: Path,
) -> None:
    """`total: 500_000.5 VND` names the places it has and those VND has, as the other amount
    checks say it; a total in non-ASCII digits is not an amount."""
    assert _errors(tmp_path, "{total: 500_000.5 VND}") == [
        "events.yaml:5:16 JD109 a budget's 'total' 500_000.5 VND has 1 decimal place and VND "
        "has none"
    ]
    assert _errors(tmp_path, "{total: ٣ VND}") == [
        "events.yaml:5:16 JD109 a budget's 'total' is a positive amount with its currency"
    ]
    assert _errors(tmp_path, "{total: 100.125 BHD}") == []
