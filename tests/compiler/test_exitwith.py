"""`exit with` given a declared outcome as a bare name (`exit with done`): the outcome was meant,
so the error says to quote it, instead of calling it an undefined variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DSL = """journey chosen
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done, other
entry on card_approved
exit with {value}
"""


@pytest.mark.parametrize(
    ("value", "column", "name", "unused"),
    [
        ("done", 11, "done", ["other"]),
        ('if trigger.credit_limit > 1 VND then "done" else other', 60, "other", []),
    ],
)
def test_a_bare_outcome_name_is_reported_as_an_outcome_to_quote(
    value: str, column: int, name: str, unused: list[str]
) -> None:
    """One JD105 at the bare name, saying to write it as a string; no JD204 (undefined
    variable), and no JD506 for the outcomes the step names."""
    result = compile_source(DSL.format(value=value), "chosen.journey", base_dir=EXAMPLES)
    errors = [
        (d.code, d.span.line, d.span.column, d.message)
        for d in result.diagnostics
        if d.severity == "error"
    ]
    message = (
        f"'{name}' is an outcome, but `exit with` takes an expression: write the outcome as a "
        f'string, "{name}"'
    )
    assert errors == [("JD105", 6, column, message)]
    warned = [d.message.split("'")[1] for d in result.diagnostics if d.code == "JD506"]
    assert warned == unused


def test_a_variable_named_like_an_outcome_is_still_a_variable() -> None:
    """A variable that shares an outcome's name is read as the variable (its values must then
    be listable, JD105 as before)."""
    source = DSL.format(value="done").replace("exit with", 'set done = "done"\nexit with')
    result = compile_source(source, "chosen.journey", base_dir=EXAMPLES)
    assert [d.message.split(":")[0] for d in result.diagnostics if d.code == "JD105"] == [
        "cannot tell which outcomes `done` can give"
    ]
