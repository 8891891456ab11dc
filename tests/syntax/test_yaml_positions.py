"""Tests for journeydsl.syntax._yaml_positions: spans of expressions inside YAML scalars.

An expression is parsed from a scalar's *value*; these pin that its spans, and its syntax errors,
land on the characters of the source, whatever the scalar's style (plain over several lines,
folded, literal, quoted with escapes), line endings and loader (libyaml or pure Python).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from yaml.nodes import ScalarNode

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic, Span
from journeydsl.syntax import yaml_loader
from journeydsl.syntax._yaml_positions import Source, moved

HEAD = "journey: j\nentry: {event: e}\nsteps:\n"
LOADERS = ["libyaml", "python"]


def load(text: str, loader: str, monkeypatch: pytest.MonkeyPatch) -> ast.Journey:
    """Load ``text`` with the given loader, insisting on no diagnostics."""
    if loader == "python":
        monkeypatch.setattr(yaml_loader, "_FAST_LOADER", None)
    journey, diags = yaml_loader.load_yaml_journey(text, "t.yaml")
    assert diags == []
    assert journey is not None
    return journey


def errors(text: str) -> list[Diagnostic]:
    """The diagnostics of ``text``."""
    return yaml_loader.load_yaml_journey(text, "t.yaml")[1]


def names(node: object) -> Iterator[ast.Name]:
    """Every Name node inside ``node``, in field order."""
    if isinstance(node, ast.Name):
        yield node
    if isinstance(node, tuple):
        for item in node:
            yield from names(item)
    elif dataclasses.is_dataclass(node) and not isinstance(node, type):
        for f in dataclasses.fields(node):
            yield from names(getattr(node, f.name))


def source_of(text: str, span: Span) -> str:
    """The source text a one-line span covers (a byte order mark does not count)."""
    lines = re.split("\r\n|[\n\r\x85\u2028\u2029]", text.removeprefix("\ufeff"))
    assert span.line == span.end_line, span
    return lines[span.line - 1][span.column - 1 : span.end_column - 1]


def typo_span(text: str, loader: str, monkeypatch: pytest.MonkeyPatch) -> Span:
    """The span of the name `typo` in the first step of ``text``."""
    (found,) = [n for n in names(load(text, loader, monkeypatch).steps[0]) if n.name == "typo"]
    return found.span


# --------------------------------------------------------------------------- the styles

# (id, the step, where `typo` is: line, column)
STYLES = [
    ("plain", "  - if: a and typo\n    then: []\n", 4, 15),
    ("plain, two lines", "  - if: a\n      or typo\n    then: []\n", 5, 10),
    ("plain, blank line", "  - if: a\n\n      or typo\n    then: []\n", 6, 10),
    ("flow, two lines", "  - {if: a\n      or typo, then: []}\n", 5, 10),
    ("folded", "  - if: >-\n      a\n      or typo\n    then: []\n", 6, 10),
    ("folded, kept", "  - if: >+\n      a\n      or typo\n\n    then: []\n", 6, 10),
    ("literal", "  - if: |-\n      a\n      or typo\n    then: []\n", 6, 10),
    ("literal, indented more", "  - if: |\n      a\n        or typo\n    then: []\n", 6, 12),
    ("literal, indicator", "  - if: |2 # why\n       a\n        or typo\n    then: []\n", 6, 12),
    ("double quotes", '  - if: "a and typo"\n    then: []\n', 4, 16),
    ("escaped quotes", '  - if: "\\"x\\" == a or typo"\n    then: []\n', 4, 24),
    ("hex escape", '  - if: "\\x61 or typo"\n    then: []\n', 4, 18),
    ("escaped break", '  - if: "a or \\\n      typo"\n    then: []\n', 5, 7),
    ("double quotes, two lines", '  - if: "a\n      or typo"\n    then: []\n', 5, 10),
    ("single quotes", "  - if: 'a or typo'\n    then: []\n", 4, 15),
    ("doubled quotes", "  - if: '''x'' == a or typo'\n    then: []\n", 4, 24),
    ("single quotes, two lines", "  - if: 'a\n      or typo'\n    then: []\n", 5, 10),
]


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize(
    ("step", "line", "column"), [pytest.param(*s[1:], id=s[0]) for s in STYLES]
)
def test_name_span_is_its_source_text(
    step: str, line: int, column: int, loader: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In every scalar style, a name's span starts at its line and column and covers it."""
    text = HEAD + step
    span = typo_span(text, loader, monkeypatch)
    assert (span.line, span.column) == (line, column)
    assert source_of(text, span) == "typo"


@pytest.mark.parametrize("loader", LOADERS)
@pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["", "bom"])
def test_windows_line_endings(loader: str, bom: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """CRLF line endings and a byte order mark move nothing: columns count characters."""
    text = bom + (HEAD + "  - if: >-\n      a\n\n      or typo\n    then: []\n").replace(
        "\n", "\r\n"
    )
    span = typo_span(text, loader, monkeypatch)
    assert (span.line, span.column, span.end_column) == (7, 10, 14)


@pytest.mark.parametrize("loader", LOADERS)
def test_expression_spans_cover_their_source(loader: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Inner nodes and the whole expression of a folded scalar span the source lines they use."""
    text = HEAD + '  - if: >-\n      has(x where x.m == "T")\n      or typo\n    then: []\n'
    step = load(text, loader, monkeypatch).steps[0]
    assert isinstance(step, ast.If)
    assert step.cond.span == Span("t.yaml", 5, 7, 6, 14)
    assert isinstance(step.cond, ast.Binary)
    assert step.cond.left.span == Span("t.yaml", 5, 7, 5, 30)
    assert step.cond.right.span == Span("t.yaml", 6, 10, 6, 14)


def test_comma_separated_values_on_later_lines() -> None:
    """Each value of a folded `case:` list is placed on its own source line."""
    text = HEAD + (
        "  - switch: x\n    cases:\n      - case: >-\n          1,\n          typo\n"
        "        steps: []\n"
    )
    journey, diags = yaml_loader.load_yaml_journey(text, "t.yaml")
    assert diags == []
    assert journey is not None
    switch = journey.steps[0]
    assert isinstance(switch, ast.Switch)
    first, second = switch.cases[0].values
    assert (first.span.line, first.span.column) == (7, 11)
    assert (second.span.line, second.span.column, second.span.end_column) == (8, 11, 15)


def test_reentry_duration_on_a_later_line() -> None:
    """The duration of `reentry: after` continued on the next line is placed there."""
    text = "journey: j\nentry:\n  event: e\n  reentry: after\n    3d\nsteps: []\n"
    journey, diags = yaml_loader.load_yaml_journey(text, "t.yaml")
    assert diags == []
    assert journey is not None
    assert journey.entry.reentry.after is not None
    assert journey.entry.reentry.after.span == Span("t.yaml", 5, 5, 5, 7)


# --------------------------------------------------------------------------- syntax errors


@pytest.mark.parametrize(
    ("step", "line", "column"),
    [
        pytest.param("  - if: >-\n      a\n      ) b\n    then: []\n", 6, 7, id="folded"),
        pytest.param("  - if: |\n      a\n        ) b\n    then: []\n", 6, 9, id="literal"),
        pytest.param("  - if: a\n      or ) b\n    then: []\n", 5, 10, id="plain"),
        pytest.param('  - if: "\\"x\\" ) b"\n    then: []\n', 4, 16, id="escapes"),
        pytest.param("  - if: '''x'' ) b'\n    then: []\n", 4, 16, id="doubled quotes"),
    ],
)
def test_syntax_error_points_at_the_source(step: str, line: int, column: int) -> None:
    """An expression syntax error (JD111) is reported at the offending character's source."""
    (d,) = errors(HEAD + step)
    assert (d.code, d.span.line, d.span.column, d.span.end_column) == (
        "JD111",
        line,
        column,
        column + 1,
    )
    assert "unexpected ')'" in d.message


def test_end_of_expression_error_is_after_the_last_character() -> None:
    """An expression cut short at the end of a folded scalar is reported just after its end."""
    (d,) = errors(HEAD + "  - if: >-\n      a and\n      b +\n    then: []\n")
    assert (d.code, d.span.line, d.span.column) == ("JD111", 6, 10)


# --------------------------------------------------------------------------- the map


def _scalar(text: str) -> ScalarNode:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
    finally:
        loader.dispose()
    assert isinstance(node, ScalarNode)
    return node


def test_value_that_is_its_source_needs_no_map() -> None:
    """A scalar on one line without escapes is placed by a plain origin, with no remapping."""
    text = "'a or b'\n"
    place = Source(text, "t.yaml").expression_place(_scalar(text), 5, "b")
    assert place.remap is None
    assert place.origin == Span("t.yaml", 1, 7, 1, 8)


def test_value_the_source_does_not_spell_falls_back() -> None:
    """A value that its source does not spell (never from a loader) gets the plain origin."""
    text = ">-\n  a\n  b\n"
    node = _scalar(text)
    node.value = "x y"
    source = Source(text, "t.yaml")
    assert source.value_points(node) is None
    assert source.expression_place(node, 0, node.value).remap is None


def test_moved_rebuilds_every_span() -> None:
    """`moved` moves each span of a nested expression and keeps the nodes equal."""
    expr = ast.Binary(
        "or", ast.Name("a", Span("", 1, 1, 1, 2)), ast.Name("b", Span("", 1, 6, 1, 7))
    )
    out = moved(expr, lambda s: Span("f", s.line + 1, s.column, s.end_line + 1, s.end_column))
    assert out == expr
    assert out.left.span == Span("f", 2, 1, 2, 2)
    assert out.right.span == Span("f", 2, 6, 2, 7)


# --------------------------------------------------------------------------- any spelling

_ATOMS = ["alpha", "b_2", "trigger.card_id", '"a b"', "'c d'", '"é\\"x"', 'n == "v w"']


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    parts=st.lists(st.sampled_from(_ATOMS), min_size=1, max_size=8),
    ops=st.lists(st.sampled_from([" and ", " or "]), min_size=8, max_size=8),
    style=st.sampled_from([None, '"', "'", "|", ">"]),
    width=st.integers(8, 60),
    unicode=st.booleans(),
    crlf=st.booleans(),
)
def test_emitted_scalars_place_every_name(
    parts: list[str], ops: list[str], style: str | None, width: int, unicode: bool, crlf: bool
) -> None:
    """However PyYAML writes an expression (style, line width, escapes), each name's span starts
    at its first character and ends after its last."""
    expr = "first" + "".join(op + part for op, part in zip(ops, parts, strict=False))
    doc = {"journey": "j", "entry": {"event": "e"}, "steps": [{"if": expr, "then": []}]}
    text = yaml.safe_dump(doc, default_style=style, width=width, allow_unicode=unicode)
    if crlf:
        text = text.replace("\n", "\r\n")
    journey, diags = yaml_loader.load_yaml_journey(text, "t.yaml")
    assert diags == []
    assert journey is not None
    lines = re.split("\r\n|[\n\r\x85\u2028\u2029]", text)
    found = list(names(journey.steps[0]))
    assert found
    for name in found:
        s = name.span
        assert lines[s.line - 1][s.column - 1] == name.name[0], (name, text)
        assert lines[s.end_line - 1][s.end_column - 2] == name.name[-1], (name, text)
