"""The catalog's `decisions:`: each mistake is JD109 at its own line; a good section declares
the functions with their params and answer types."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.catalog import Catalog, load_events
from journeydsl.diagnostics import Diagnostics, Span
from journeydsl.expr.types import BOOL, STRING, money, record

ORIGIN = Span("j.journey", 1, 1, 1, 2)


def _load(tmp_path: Path, text: str) -> tuple[Catalog, list[tuple[int, str, str]]]:
    path = tmp_path / "events.yaml"
    path.write_text("events: {}\n" + text, encoding="utf-8")
    catalog, diags = Catalog(), Diagnostics()
    load_events(path, catalog, diags, ORIGIN, {})
    return catalog, [(d.span.line, d.code, d.message) for d in diags.items]


def test_a_good_section_declares_params_and_answers(tmp_path: Path) -> None:
    """A record answer and a single-value answer, each with its typed params."""
    catalog, problems = _load(
        tmp_path,
        "decisions:\n"
        "  credit.preapproved_limit:\n"
        "    label: Limit\n"
        "    params: {customer: string}\n"
        "    answer:\n"
        "      type: record\n"
        "      fields: {approved: bool, amount: {type: money, currency: VND}}\n"
        "  kyc.is_current:\n"
        "    answer: bool\n",
    )
    assert problems == []
    limit = catalog.decisions["credit.preapproved_limit"]
    assert limit.params == {"customer": STRING}
    assert limit.answer == record({"approved": BOOL, "amount": money("VND")})
    assert catalog.decisions["kyc.is_current"].answer == BOOL


@pytest.mark.parametrize(
    ("text", "line", "words"),
    [
        ("decisions:\n  bad name:\n    answer: bool\n", 3, "not a valid decision function name"),
        ("decisions:\n  f:\n    params: {a: string}\n", 3, "needs 'answer:'"),
        ("decisions:\n  f:\n    answer: bool\n    timeout: 5s\n", 5, "unknown key 'timeout'"),
        ("decisions:\n  f:\n    answer: timestamp\n", 4, "an answer is one of"),
        (
            "decisions:\n  f:\n    answer: {type: record, fields: {at: date}}\n",
            4,
            "field 'at' of the answer of 'f' is date",
        ),
        ("decisions:\n  f:\n    answer: {type: record}\n", 4, "needs 'fields:'"),
        ("decisions: [f]\n", 2, "'decisions' is a mapping"),
    ],
)
def test_each_mistake_is_reported_at_its_line(
    tmp_path: Path, text: str, line: int, words: str
) -> None:
    """A malformed decision is JD109 at its line, saying what is wrong."""
    catalog, problems = _load(tmp_path, text)
    assert [(n, code) for n, code, _ in problems] == [(line, "JD109")]
    assert words in problems[0][2]
    # (an unknown key is reported, and the function still declared: no cascade in journeys)
    assert ("f" in catalog.decisions) == ("unknown key" in words)
