"""Date and timestamp literals (journeydsl.expr.literals): the years they may name are those
events may be dated in, so no literal leaves a customer's instance an out-of-range error."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey far
uses events "events.yaml"
uses templates "templates.yaml"
timezone "{zone}"
{entry}
{steps}
"""
ON_EVENT = "entry on card_issued"


def _jd117(zone: str, entry: str, steps: str) -> list[str]:
    text = JOURNEY.format(zone=zone, entry=entry, steps=steps)
    result = compile_source(text, "far.journey", base_dir=EXAMPLES)
    return [d.message for d in result.diagnostics if d.code == "JD117"]


@pytest.mark.parametrize(
    ("zone", "entry", "steps", "message"),
    [
        (
            "America/New_York",
            ON_EVENT,
            "wait until 9999-12-31T23:59",
            "'9999-12-31T23:59' is not a timestamp: the year 9999 is out of range",
        ),
        (
            "Asia/Ho_Chi_Minh",
            ON_EVENT,
            "if now > 0001-01-01T03:00 { wait 1d }",
            "'0001-01-01T03:00' is not a timestamp: the year 1 is out of range",
        ),
        (
            "America/New_York",
            "entry segment has(card_issued)\n  daily at 23:00 from 9999-12-31\n  reentry always",
            "wait 1d",
            "'9999-12-31' is not a date: the year 9999 is out of range",
        ),
        (
            "Asia/Shanghai",
            ON_EVENT,
            "if date(now) < 1899-12-31 { wait 1d }",
            "'1899-12-31' is not a date: the year 1899 is out of range",
        ),
    ],
)
def test_a_literal_outside_the_years_of_events_is_refused(
    zone: str, entry: str, steps: str, message: str
) -> None:
    """A date or timestamp before 1900 or after 2999 is JD117 at check time, saying the range
    (these passed `check` and ended every instance with an error, or crashed `simulate`)."""
    assert _jd117(zone, entry, steps) == [f"{message} (dates run from 1900 to 2999, as events do)"]


def test_the_first_and_last_years_of_events_are_accepted() -> None:
    """1900-01-01 and 2999-12-31T23:59 in New York are literals like any other."""
    steps = "if date(now) > 1900-01-01 { wait until 2999-12-31T23:59 }"
    assert _jd117("America/New_York", ON_EVENT, steps) == []


@pytest.mark.parametrize("text", ["\u00b2d", "1\u00b2h", "\u0663d"])
def test_a_duration_with_digits_that_are_not_ascii_is_no_duration(text: str) -> None:
    """`²d` or `٣d` (digits Python's isdigit takes but int() refuses, or reads as another
    script's) is no duration, where `²d` raised ValueError from int()."""
    from journeydsl.expr.literals import duration_value

    assert duration_value(text) is None


@pytest.mark.parametrize("text", ["\u00b9\u00b2:00", "09:\u00b3\u00b0"])
def test_a_time_of_day_with_digits_that_are_not_ascii_is_no_time(text: str) -> None:
    """`¹²:00` is no time of day, where it raised ValueError from int()."""
    from journeydsl.expr.literals import time_value

    assert time_value(text) is None
