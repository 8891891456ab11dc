"""A switch case whose values the cases before it all take can never run (JD501)."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey cases
uses events "events.yaml"
uses templates "templates.yaml"
entry on transaction
switch trigger.category {{
{cases}
}}
"""


def _found(cases: str) -> list[tuple[str, str]]:
    result = compile_source(JOURNEY.format(cases=cases), "s.journey", base_dir=EXAMPLES)
    return [(d.code, d.message) for d in result.diagnostics]


def test_a_case_taken_whole_by_earlier_cases_is_refused() -> None:
    """Its steps never run: JD501 names the case."""
    cases = (
        '  case "travel" { tag a }\n  case "dining" { tag b }\n  case "dining", "travel" { tag c }'
    )
    assert _found(cases) == [
        ("JD501", "case 3 can never run: the cases before it take all its values")
    ]


@pytest.mark.parametrize(
    "cases",
    [
        '  case "travel" { tag a }\n  case "travel", "dining" { tag b }',
        '  case "travel", "travel" { tag a }',
    ],
)
def test_a_case_with_a_value_of_its_own_is_accepted(cases: str) -> None:
    """A case that still has a value no earlier case takes can run."""
    assert _found(cases) == []
