"""The printer: ASTs back to DSL and YAML text that reads back to the same AST."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import example as hypothesis_example
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.ast import (
    Aggregate,
    Arm,
    Attr,
    Binary,
    BoolLit,
    By,
    Case,
    Cond,
    DurationLit,
    Entry,
    Exit,
    Expr,
    FallbackChain,
    Ident,
    If,
    Journey,
    ListExpr,
    MoneyLit,
    Name,
    NumberLit,
    Param,
    Reentry,
    Send,
    Split,
    StringLit,
    Switch,
    Tag,
    TimeLit,
    Unary,
    Wait,
    WaitFor,
    Window,
)
from journeydsl.diagnostics import Span
from journeydsl.syntax.parser import parse_expression, parse_journey
from journeydsl.syntax.printer import print_dsl, print_expr, print_yaml
from journeydsl.syntax.yaml_loader import load_yaml_journey
from tests.strategies import exprs, journeys

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
JOURNEY_NAMES = ("onboarding_new_cardholder", "dormant_reactivation")
ORIGIN = Span("<test>", 1, 1, 1, 1)
PROPERTY = settings(max_examples=100, deadline=None)


def parse_expr(text: str) -> Expr:
    """``text`` as an expression, failing the test on any diagnostic."""
    expr, diags = parse_expression(text, ORIGIN)
    assert not diags, (text, diags)
    assert expr is not None
    return expr


def from_dsl(text: str) -> Journey:
    """``text`` as a journey, failing the test on any diagnostic."""
    journey, diags = parse_journey(text, "<dsl>")
    assert not diags, (text, diags)
    assert journey is not None
    return journey


def from_yaml(text: str) -> Journey:
    """``text`` as a YAML journey, failing the test on any diagnostic."""
    journey, diags = load_yaml_journey(text, "<yaml>")
    assert not diags, (text, diags)
    assert journey is not None
    return journey


def example(name: str, suffix: str) -> Journey:
    """An example journey, read in the spelling ``suffix`` names."""
    text = (EXAMPLES / f"{name}{suffix}").read_text(encoding="utf-8")
    return from_dsl(text) if suffix == ".journey" else from_yaml(text)


def journey_with(*steps: object, **fields: object) -> Journey:
    """A minimal journey around ``steps``."""
    base: dict[str, object] = {
        "name": Ident("j"),
        "version": 1,
        "entry": Entry("event", Ident("card_issued")),
        "steps": steps,
    }
    return Journey(**{**base, **fields})  # type: ignore[arg-type]


# --------------------------------------------------------------------------- expressions


#: A window whose duration starts with a parenthesis: hypothesis found that it printed as
#: `count([] by count in last (-false).amount)`, which does not parse back (`in last (` lexes as
#: `in` and a call of `last(…)`).
PAREN_DURATION = Attr(Unary("-", BoolLit(False)), "amount")
PAREN_WINDOW = Window("last", None, PAREN_DURATION)


@PROPERTY
@given(exprs())
@hypothesis_example(Aggregate("count", ListExpr(()), by=By("count", None), window=PAREN_WINDOW))
def test_print_expr_round_trips(expr: Expr) -> None:
    """Printing any expression and parsing it back gives the same expression."""
    assert parse_expr(print_expr(expr)) == expr


@pytest.mark.parametrize(
    "expr",
    [
        Aggregate("count", ListExpr(()), by=By("count", None), window=PAREN_WINDOW),
        Aggregate("count", ListExpr(()), window=PAREN_WINDOW),
        Aggregate("has", Name("t"), where=Name("w"), window=PAREN_WINDOW),
        Aggregate(
            "sum",
            Attr(Name("t"), "amount"),
            window=Window(
                "last", None, Binary("*", Binary("+", Name("a"), Name("b")), DurationLit("1d"))
            ),
            default=NumberLit("0"),
        ),
    ],
    ids=["by_count", "plain", "where", "sum_times"],
)
def test_a_window_duration_that_starts_with_a_parenthesis_round_trips(expr: Expr) -> None:
    """`in last` before a duration that starts with "(" is not read as `in` and a call of
    `last(…)`: the duration goes on the next line, and the text parses back to the same tree,
    also inside a journey in both spellings."""
    text = print_expr(expr)
    assert "in last\n(" in text
    assert "in last (" not in text
    assert parse_expr(text) == expr
    journey = journey_with(If(Binary(">", expr, NumberLit("0")), (Tag(Ident("x")),)))
    dsl = print_dsl(journey)
    assert from_dsl(dsl) == journey
    assert print_dsl(from_dsl(dsl)) == dsl
    assert from_yaml(print_yaml(journey)) == journey


def test_a_window_duration_without_a_parenthesis_stays_on_the_line() -> None:
    """Every other duration follows `in last` after one space, as written by hand."""
    window = Window("last", None, Name("d"))
    expr = Aggregate("count", Name("t"), by=By("count", None), window=window)
    assert print_expr(expr) == "count(t by count in last d)"


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (Binary("==", Binary("==", Name("a"), Name("b")), Name("c")), "(a == b) == c"),
        (Binary("==", Name("a"), Binary("in", Name("b"), Name("c"))), "a == (b in c)"),
        (Binary("-", Name("a"), Binary("-", Name("b"), Name("c"))), "a - (b - c)"),
        (Binary("-", Binary("-", Name("a"), Name("b")), Name("c")), "a - b - c"),
        (Binary("*", Binary("+", Name("a"), Name("b")), Name("c")), "(a + b) * c"),
        (Binary("+", Name("a"), Binary("*", Name("b"), Name("c"))), "a + b * c"),
        (Binary("or", Name("a"), Binary("and", Name("b"), Name("c"))), "a or b and c"),
        (Binary("and", Binary("or", Name("a"), Name("b")), Name("c")), "(a or b) and c"),
        (Unary("not", Binary("==", Name("a"), Name("b"))), "not a == b"),
        (Binary("==", Unary("not", Name("a")), Name("b")), "(not a) == b"),
        (Binary("and", Unary("not", Name("a")), Name("b")), "not a and b"),
        (Unary("not", Binary("and", Name("a"), Name("b"))), "not (a and b)"),
        (Unary("-", Binary("+", Name("a"), Name("b"))), "-(a + b)"),
        (Unary("-", Attr(Name("a"), "b")), "-a.b"),
        (Attr(Unary("-", Name("a")), "b"), "(-a).b"),
        (Attr(Binary("+", Name("a"), Name("b")), "c"), "(a + b).c"),
        (Binary("-", Name("a"), Unary("-", NumberLit("1"))), "a - -1"),
        (Unary("-", Unary("-", Name("a"))), "--a"),
        (Binary("in", Name("a"), Aggregate("last", Attr(Name("t"), "m"))), "a in (last(t.m))"),
        (
            Binary("+", Name("a"), Cond(Name("b"), NumberLit("1"), NumberLit("2"))),
            "a + (if b then 1 else 2)",
        ),
        (
            Cond(Name("a"), Cond(Name("b"), Name("c"), Name("d")), Name("e")),
            "if a then if b then c else d else e",
        ),
        (MoneyLit("1_000_000", "VND"), "1_000_000 VND"),
        (StringLit('say "hi"\\\n\tđ'), r'"say \"hi\"\\\n\tđ"'),
        (ListExpr(()), "[]"),
    ],
)
def test_print_expr_uses_minimal_parentheses(expr: Expr, text: str) -> None:
    """Precedence, associativity and quoting give exactly the expected text."""
    assert print_expr(expr) == text
    assert parse_expr(text) == expr


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        (
            Aggregate(
                "top",
                Attr(Name("t"), "m"),
                by=None,
                where=Cond(Name("a"), Name("b"), Name("c")),
                window=Window("last", None, DurationLit("30d")),
                default=Cond(Name("a"), StringLit("x"), StringLit("y")),
            ),
            'top(t.m where if a then b else c in last 30d else if a then "x" else "y")',
        ),
        (
            Aggregate("has", Name("t"), window=Window("since", Name("entry"), None)),
            "has(t since entry)",
        ),
        (
            Aggregate(
                "count",
                Name("t"),
                window=Window(
                    "since", Binary("+", Name("a"), DurationLit("1d")), DurationLit("3d")
                ),
            ),
            "count(t since (a + 1d) within 3d)",
        ),
        (
            Aggregate(
                "sum", Attr(Name("t"), "amount"), window=Window("since", Attr(Name("a"), "b"), None)
            ),
            "sum(t.amount since a.b)",
        ),
    ],
)
def test_print_expr_aggregate_clauses(expr: Expr, text: str) -> None:
    """Aggregate clauses print in grammar order; only a non-postfix anchor is parenthesized."""
    assert print_expr(expr) == text
    assert parse_expr(text) == expr


# --------------------------------------------------------------------------- journeys


@PROPERTY
@given(journeys())
def test_print_dsl_round_trips(journey: Journey) -> None:
    """Random journeys print as DSL that parses back equal and reprints identically."""
    text = print_dsl(journey)
    parsed = from_dsl(text)
    assert parsed == journey
    assert print_dsl(parsed) == text


@PROPERTY
@given(journeys())
def test_print_yaml_round_trips_directly_and_through_dsl(journey: Journey) -> None:
    """Random journeys print as YAML that loads back equal; YAML → DSL → YAML keeps AST and text."""
    yaml_text = print_yaml(journey)
    loaded = from_yaml(yaml_text)
    assert loaded == journey
    via_dsl = from_dsl(print_dsl(loaded))
    assert via_dsl == journey
    assert print_yaml(via_dsl) == yaml_text


@pytest.mark.parametrize("name", JOURNEY_NAMES)
@pytest.mark.parametrize("suffix", [".journey", ".yaml"])
def test_examples_round_trip_in_both_spellings(name: str, suffix: str) -> None:
    """Each example file, printed as DSL and as YAML, reads back to the same AST."""
    journey = example(name, suffix)
    assert from_dsl(print_dsl(journey)) == journey
    assert from_yaml(print_yaml(journey)) == journey


@pytest.mark.parametrize("name", JOURNEY_NAMES)
def test_examples_yaml_prints_as_the_journey_file(name: str) -> None:
    """The YAML example printed as DSL is the .journey example, but for comments and line breaks."""
    printed = print_dsl(example(name, ".yaml"))
    assert from_dsl(printed) == example(name, ".journey")
    source = (EXAMPLES / f"{name}.journey").read_text(encoding="utf-8")
    assert _words(printed) == _words(source)


def _words(text: str) -> list[str]:
    """The text's words, without comments, blank lines, line breaks and trailing commas."""
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("#")]
    return re.sub(r",\s*}", " }", " ".join(lines)).split()


# --------------------------------------------------------------------------- layout


def test_print_dsl_layout() -> None:
    """Labels, `else if`, `fallback none`, inline and one-per-line params print canonically."""
    long_params = tuple(Param(Ident(f"param_{i}"), StringLit("x" * 12)) for i in range(4))
    journey = journey_with(
        Send(Ident("t"), Ident("push"), Ident("marketing"), (), (), Ident("hello")),
        If(
            Name("a"),
            (Wait(DurationLit("1d")),),
            (If(Name("b"), (Tag(Ident("vip")),), (Exit(Ident("done")),)),),
        ),
        Send(Ident("t"), Ident("email"), None, long_params, (Ident("zns"), Ident("sms"))),
        outcomes=(Ident("done"),),
    )
    steps = print_dsl(journey).split("\n\n")[-1]
    assert steps == (
        "hello: send push t marketing fallback none\n"
        "if a {\n"
        "  wait 1d\n"
        "} else if b {\n"
        "  tag vip\n"
        "} else {\n"
        "  exit done\n"
        "}\n"
        "send email t {\n"
        '  param_0: "xxxxxxxxxxxx",\n'
        '  param_1: "xxxxxxxxxxxx",\n'
        '  param_2: "xxxxxxxxxxxx",\n'
        '  param_3: "xxxxxxxxxxxx",\n'
        "} fallback zns -> sms\n"
    )
    assert from_dsl(print_dsl(journey)) == journey


def test_print_yaml_layout() -> None:
    """YAML steps are flat mappings, id first then the kind key; lists indent under their key."""
    journey = journey_with(
        Send(
            Ident("t"),
            Ident("push"),
            Ident("marketing"),
            (Param(Ident("offer"), StringLit("x")),),
            (),
            Ident("hello"),
        ),
        If(Name("a"), (Wait(DurationLit("1d")),), (Exit(Ident("done")),)),
        Switch(Name("round"), (Case((NumberLit("1"), NumberLit("4")), (Tag(Ident("vip")),)),)),
        Split((Arm(Decimal(90), ()),), Arm(Decimal(10), ())),
        outcomes=(Ident("done"),),
        fallback=(FallbackChain((Ident("push"), Ident("sms"))),),
    )
    text = print_yaml(journey)
    assert text.startswith("journey: j\nversion: 1\noutcomes:\n  - done\n\nentry:\n")
    assert "\n\nfallback:\n  - push\n  - sms\n\nsteps:\n" in text
    assert text.split("steps:\n", 1)[1] == (
        "  - id: hello\n"
        "    send: t\n"
        "    channel: push\n"
        "    category: marketing\n"
        "    params:\n"
        "      offer: '\"x\"'\n"
        "    fallback: none\n"
        "  - if: a\n"
        "    then:\n"
        "      - wait: 1d\n"
        "    else:\n"
        "      - exit: done\n"
        "  - switch: round\n"
        "    cases:\n"
        "      - case: 1, 4\n"
        "        steps:\n"
        "          - tag: vip\n"
        "  - split:\n"
        "      - weight: 90%\n"
        "        steps: []\n"
        "    holdout:\n"
        "      weight: 10%\n"
    )
    assert from_yaml(text) == journey


def test_labelled_else_if_keeps_its_braces() -> None:
    """An else holding one labelled If prints as `else { label: if … }` so the label survives."""
    inner = If(Name("b"), (Tag(Ident("vip")),), id=Ident("inner"))
    journey = journey_with(If(Name("a"), (Tag(Ident("x")),), (inner,)))
    text = print_dsl(journey)
    assert "} else {\n  inner: if b {" in text
    assert from_dsl(text) == journey
    assert from_yaml(print_yaml(journey)) == journey


def test_constructs_outside_the_random_journeys_round_trip() -> None:
    """Holdouts, empty blocks, several fallback chains and a manual entry survive both spellings."""
    journey = journey_with(
        Split(
            (Arm(Decimal(45), (Tag(Ident("a")),)), Arm(Decimal(45), ())),
            Arm(Decimal(10), ()),
            Ident("ab"),
        ),
        Split((Arm(Decimal(90), ()),), Arm(Decimal(10), (Tag(Ident("control")),))),
        If(Name("c")),
        WaitFor(Name("e"), on_timeout=(Tag(Ident("t")),)),
        WaitFor(Name("e")),
        Switch(Name("s"), (Case((NumberLit("1"), StringLit("a, b")), ()),)),
        entry=Entry("manual", key=Name("customer_id"), reentry=Reentry("always")),
        fallback=(
            FallbackChain((Ident("push"), Ident("sms"))),
            FallbackChain((Ident("zns"), Ident("sms"))),
        ),
    )
    assert from_dsl(print_dsl(journey)) == journey
    assert from_yaml(print_yaml(journey)) == journey


def test_segment_entry_round_trips() -> None:
    """A segment entry prints `daily at` and `reentry` on their own lines and reads back."""
    journey = journey_with(
        Tag(Ident("x")),
        entry=Entry(
            "segment",
            condition=Name("c"),
            at=TimeLit("09:00"),
            reentry=Reentry("after", DurationLit("180d")),
        ),
    )
    text = print_dsl(journey)
    assert "entry segment c\n  daily at 09:00\n  reentry after 180d\n" in text
    assert from_dsl(text) == journey
    assert from_yaml(print_yaml(journey)) == journey


@given(st.text(max_size=20))
@settings(max_examples=50, deadline=None)
def test_titles_survive_both_spellings(title: str) -> None:
    """Any title text, quotes and newlines included, survives DSL and YAML."""
    journey = journey_with(Tag(Ident("x")), title=title)
    assert from_dsl(print_dsl(journey)).title == title
    assert from_yaml(print_yaml(journey)).title == title
