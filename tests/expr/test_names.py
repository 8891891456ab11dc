"""JD212 for an event's field read outside an aggregate: the hint offers an aggregate that fits
the field's type (a sum of an amount, the last of a text or a time), one that compiles."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey hints
uses events "events.yaml"
entry on card_issued
set v = {value}
"""


def _compile(value: str) -> list[tuple[str, str | None]]:
    result = compile_source(JOURNEY.format(value=value), "h.journey", base_dir=EXAMPLES)
    return [(d.code, d.hint) for d in result.diagnostics]


@pytest.mark.parametrize(
    ("field", "aggregate"),
    [
        ("transaction.amount", "sum(transaction.amount in last 30d)"),
        ("transaction.merchant", "last(transaction.merchant in last 30d)"),
        ("cancel_request.reason", "last(cancel_request.reason in last 30d)"),
        ("transaction.at", "last(transaction.at in last 30d else entered_at)"),
    ],
)
def test_the_hint_is_an_aggregate_of_the_fields_type(field: str, aggregate: str) -> None:
    """The hint's aggregate suits the field (no sum of a text) and compiles as written."""
    ((code, hint),) = _compile(field)
    assert code == "JD212"
    assert hint is not None
    assert hint.startswith(f"e.g. {aggregate}")
    assert _compile(aggregate) == []


def _hints(text: str, name: str) -> list[tuple[str, str | None]]:
    result = compile_source(text, name, base_dir=EXAMPLES)
    return [(d.code, d.hint) for d in result.diagnostics if d.code == "JD204"]


def test_a_bare_enum_value_is_told_to_be_quoted_not_a_close_builtin() -> None:
    """`case entertainment` in YAML (quotes lost) names the quoting, where the hint used to be
    "did you mean 'entered_at'?"; the DSL's `== travel` says to write "travel"."""
    yaml_text = (
        "journey: q\nuses: {events: events.yaml}\nentry: {event: transaction}\nsteps:\n"
        "  - switch: trigger.category\n    cases:\n      - case: entertainment\n"
        "        steps: [tag: fun]\n"
    )
    assert _hints(yaml_text, "q.yaml") == [
        (
            "JD204",
            "'entertainment' is a value of an enum of the catalog, so text: a string keeps its "
            "quotes in YAML, '\"entertainment\"' (single quotes around)",
        )
    ]
    dsl_text = (
        'journey q\nuses events "events.yaml"\nentry on transaction\n'
        "if trigger.category == travel { tag t }\n"
    )
    assert _hints(dsl_text, "q.journey") == [
        ("JD204", "'travel' is a value of an enum of the catalog, so text: write \"travel\"")
    ]


def test_a_bare_word_in_yaml_is_told_about_quotes_unless_a_name_is_close() -> None:
    """In YAML a word that is no variable and close to none reads as lost quotes; one close to a
    built-in name still gets the did-you-mean."""
    text = (
        "journey: q\nuses: {events: events.yaml}\nentry: {event: transaction}\nsteps:\n"
        "  - set: a\n    value: gold_card\n  - set: b\n    value: entered_a\n"
    )
    hints = [hint for _, hint in _hints(text, "q.yaml")]
    assert hints == [
        "if 'gold_card' is meant as text, it is a string: a string keeps its quotes in YAML, "
        "'\"gold_card\"' (single quotes around)",
        "did you mean 'entered_at'?",
    ]
