"""Tests for the DSL parser: AST mapping, spans, diagnostics and robustness."""

from __future__ import annotations

import time
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic, Span
from journeydsl.syntax._grammar import lark_parser
from journeydsl.syntax.limits import MAX_TOKENS, count_tokens
from journeydsl.syntax.parser import parse_expression, parse_journey

EXAMPLES = sorted((Path(__file__).parents[2] / "examples").glob("*.journey"))
HEAD = "journey j\nentry on card_issued\n"
ORIGIN = Span("f.yaml", 1, 1, 1, 1)


def journey(body: str) -> ast.Journey:
    """Parse HEAD + body, insisting on no diagnostics."""
    j, diags = parse_journey(HEAD + body, "t.journey")
    assert diags == []
    assert j is not None
    return j


def expr(text: str) -> ast.Expr:
    """Parse an expression, insisting on no diagnostics."""
    e, diags = parse_expression(text, ORIGIN)
    assert diags == []
    assert e is not None
    return e


def errors(text: str) -> list[tuple[str, int, int, str, str | None]]:
    """The diagnostics of a journey as (code, line, column, message, hint)."""
    _, diags = parse_journey(text, "t.journey")
    return [(d.code, d.span.line, d.span.column, d.message, d.hint) for d in diags]


# --------------------------------------------------------------------------- examples


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_parse_cleanly(path: Path) -> None:
    """Every shipped example parses with no diagnostics."""
    j, diags = parse_journey(path.read_text("utf-8"), str(path))
    assert diags == []
    assert j is not None
    assert j.name.name == path.stem
    assert j.steps


def test_example_header() -> None:
    """The onboarding header maps to title, catalogs, outcomes, entry, quiet hours, fallback."""
    path = next(p for p in EXAMPLES if p.stem == "onboarding_new_cardholder")
    j, _ = parse_journey(path.read_text("utf-8"), "o.journey")
    assert j is not None
    assert j.version == 1
    assert j.title == "New cardholder onboarding"
    assert j.events_catalog == ast.StringLit("events.yaml")
    assert j.templates_catalog == ast.StringLit("templates.yaml")
    assert j.timezone == ast.StringLit("Asia/Ho_Chi_Minh")
    assert [o.name for o in j.outcomes] == ["not_activated", "spend_goal_met", "spend_goal_missed"]
    assert j.entry == ast.Entry(
        "event", event=ast.Ident("card_issued"), reentry=ast.Reentry("once")
    )
    assert j.quiet_hours == (
        ast.QuietHours(
            (ast.Ident("sms"), ast.Ident("zns"), ast.Ident("push")),
            ast.TimeLit("21:00"),
            ast.TimeLit("08:00"),
        ),
    )
    assert j.fallback == (
        ast.FallbackChain((ast.Ident("push"), ast.Ident("zns"), ast.Ident("sms"))),
    )


def test_segment_entry_and_goal() -> None:
    """A segment entry keeps its condition, time and reentry; a goal its outcome and target."""
    path = next(p for p in EXAMPLES if p.stem == "dormant_reactivation")
    j, _ = parse_journey(path.read_text("utf-8"), "d.journey")
    assert j is not None
    assert j.entry.kind == "segment"
    assert j.entry.at == ast.TimeLit("09:00")
    assert j.entry.reentry == ast.Reentry("after", ast.DurationLit("180d"))
    assert isinstance(j.entry.condition, ast.Binary)
    assert j.entry.condition.op == "and"
    assert j.goals == (ast.Goal(ast.Ident("reactivated"), ast.Name("transaction")),)


# --------------------------------------------------------------------------- steps


def test_send_fallback_forms() -> None:
    """`fallback none` is (), a chain is its channels, no fallback is None."""
    j = journey(
        "send push a marketing { x: 1 } fallback none\n"
        "send push b fallback zns -> sms\n"
        "send email c\n"
    )
    none, chain, plain = j.steps
    assert isinstance(none, ast.Send)
    assert none.fallback == ()
    assert none.category == ast.Ident("marketing")
    assert none.params == (ast.Param(ast.Ident("x"), ast.NumberLit("1")),)
    assert chain == ast.Send(
        ast.Ident("b"), ast.Ident("push"), fallback=(ast.Ident("zns"), ast.Ident("sms"))
    )
    assert plain == ast.Send(ast.Ident("c"), ast.Ident("email"))


def test_else_if_nests_as_a_single_if() -> None:
    """`else if` becomes an If alone in the outer If's otherwise."""
    j = journey("if a { exit x } else if b { exit y } else { exit z }")
    (outer,) = j.steps
    assert outer == ast.If(
        ast.Name("a"),
        (ast.Exit(ast.Ident("x")),),
        (ast.If(ast.Name("b"), (ast.Exit(ast.Ident("y")),), (ast.Exit(ast.Ident("z")),)),),
    )


def test_labels_become_step_ids() -> None:
    """`label: step` sets the step's id, with the label's own span."""
    j = journey("first: wait 3d\nwait until 09:00")
    labelled, plain = j.steps
    assert labelled == ast.Wait(ast.DurationLit("3d"), id=ast.Ident("first"))
    assert labelled.id is not None
    assert (labelled.id.span.line, labelled.id.span.column, labelled.id.span.end_column) == (
        3,
        1,
        6,
    )
    assert plain == ast.WaitUntil(ast.TimeLit("09:00"))


def test_wait_for_with_timeout_blocks() -> None:
    """`wait for` maps target, where, timeout, then and on_timeout."""
    j = journey("wait for paid where paid.amount > 0 within 3d { exit a } timeout { exit b }")
    assert j.steps == (
        ast.WaitFor(
            ast.Name("paid"),
            where=ast.Binary(">", ast.Attr(ast.Name("paid"), "amount"), ast.NumberLit("0")),
            timeout=ast.Timeout("within", ast.DurationLit("3d")),
            then=(ast.Exit(ast.Ident("a")),),
            on_timeout=(ast.Exit(ast.Ident("b")),),
        ),
    )


def test_split_switch_repeat_and_simple_steps() -> None:
    """split, switch, repeat and the one-line steps map to their nodes."""
    j = journey(
        "split { 45% { tag a } 45% { untag a } holdout 10% }\n"
        "switch x { case 1, 2 { reward r { n: 1 } } else { action act } }\n"
        "repeat as i max 3 until done { set v = i }\n"
        "ticket telesales priority high { why: 'x' }\n"
        "update segment = 'gold'\n"
    )
    split, switch, repeat, ticket, update = j.steps
    assert split == ast.Split(
        (
            ast.Arm(Decimal(45), (ast.Tag(ast.Ident("a")),)),
            ast.Arm(Decimal(45), (ast.Tag(ast.Ident("a"), True),)),
        ),
        ast.Arm(Decimal(10)),
    )
    assert switch == ast.Switch(
        ast.Name("x"),
        (
            ast.Case(
                (ast.NumberLit("1"), ast.NumberLit("2")),
                (
                    ast.Action(
                        "reward", ast.Ident("r"), (ast.Param(ast.Ident("n"), ast.NumberLit("1")),)
                    ),
                ),
            ),
        ),
        (ast.Action("action", ast.Ident("act")),),
    )
    assert repeat == ast.Repeat(
        3, (ast.Set(ast.Ident("v"), ast.Name("i")),), ast.Ident("i"), ast.Name("done")
    )
    assert ticket == ast.Ticket(
        ast.Ident("telesales"),
        ast.Name("high"),
        (ast.Param(ast.Ident("why"), ast.StringLit("x")),),
    )
    assert update == ast.Update(ast.Ident("segment"), ast.StringLit("gold"))


def test_version_defaults_to_one_and_can_be_given() -> None:
    """A journey without `version` is version 1; `version 7` is 7."""
    assert journey("exit x").version == 1
    j, _ = parse_journey("journey j version 7 entry manual exit x", "t")
    assert j is not None
    assert j.version == 7
    assert j.entry == ast.Entry("manual")


# --------------------------------------------------------------------------- expressions


def test_literals() -> None:
    """Numbers, money, durations, times, strings and booleans keep their written form."""
    assert expr("1_000_000") == ast.NumberLit("1_000_000")
    assert expr("0.5") == ast.NumberLit("0.5")
    assert expr("1_000_000 VND") == ast.MoneyLit("1_000_000", "VND")
    assert expr("2w") == ast.DurationLit("2w")
    assert expr("09:30") == ast.TimeLit("09:30")
    assert expr(r"'it\'s' ") == ast.StringLit("it's")
    assert expr(r'"a\tb\\c\n"') == ast.StringLit("a\tb\\c\n")
    assert expr("true") == ast.BoolLit(True)
    assert expr("false") == ast.BoolLit(False)


def test_operators_and_precedence() -> None:
    """Arithmetic binds tighter than comparison, which binds tighter than not, and, or."""
    assert expr("not a == 1 + 2 * 3 or b and c") == ast.Binary(
        "or",
        ast.Unary(
            "not",
            ast.Binary(
                "==",
                ast.Name("a"),
                ast.Binary(
                    "+", ast.NumberLit("1"), ast.Binary("*", ast.NumberLit("2"), ast.NumberLit("3"))
                ),
            ),
        ),
        ast.Binary("and", ast.Name("b"), ast.Name("c")),
    )
    assert expr("-x in [1, 2]") == ast.Binary(
        "in", ast.Unary("-", ast.Name("x")), ast.ListExpr((ast.NumberLit("1"), ast.NumberLit("2")))
    )
    assert expr("if a then date(b) else c.d") == ast.Cond(
        ast.Name("a"), ast.Call("date", (ast.Name("b"),)), ast.Attr(ast.Name("c"), "d")
    )


def test_aggregate_windows_and_top_by() -> None:
    """`since` windows take an anchor (entry → Name) and optional within; `in last` a duration."""
    assert expr("has(opened since entry within 3d)") == ast.Aggregate(
        "has",
        ast.Name("opened"),
        window=ast.Window("since", ast.Name("entry"), ast.DurationLit("3d")),
    )
    assert expr("count(tx where tx.ok in last 30d)") == ast.Aggregate(
        "count",
        ast.Name("tx"),
        where=ast.Attr(ast.Name("tx"), "ok"),
        window=ast.Window("last", None, ast.DurationLit("30d")),
    )
    assert expr("top(tx.merchant by sum(tx.amount) else 'none')") == ast.Aggregate(
        "top",
        ast.Attr(ast.Name("tx"), "merchant"),
        by=ast.By("sum", ast.Attr(ast.Name("tx"), "amount")),
        default=ast.StringLit("none"),
    )
    assert expr("top(tx.city by count)").by == ast.By("count", None)  # type: ignore[union-attr]


# --------------------------------------------------------------------------- spans


def test_spans_of_steps_and_expressions() -> None:
    """Steps, idents and expression nodes carry 1-based line/column spans, end exclusive."""
    j = journey("  send email welcome\nset x = a + 10")
    send, set_ = j.steps
    assert isinstance(send, ast.Send)
    assert isinstance(set_, ast.Set)
    assert send.span == Span("t.journey", 3, 3, 3, 21)
    assert send.template.span == Span("t.journey", 3, 14, 3, 21)
    assert set_.value.span == Span("t.journey", 4, 9, 4, 15)
    assert isinstance(set_.value, ast.Binary)
    assert set_.value.right.span == Span("t.journey", 4, 13, 4, 15)
    assert j.name.span == Span("t.journey", 1, 9, 1, 10)


def test_parse_expression_places_spans_at_origin() -> None:
    """Spans on the first line move by the origin's column; later lines by its line only."""
    e, diags = parse_expression("a and\n  b", Span("f.yaml", 10, 5, 10, 5))
    assert diags == []
    assert isinstance(e, ast.Binary)
    assert e.left.span == Span("f.yaml", 10, 5, 10, 6)
    assert e.right.span == Span("f.yaml", 11, 3, 11, 4)
    assert e.span == Span("f.yaml", 10, 5, 11, 4)


def test_same_expression_at_two_origins() -> None:
    """Parsing one text at two origins gives each its own spans (trees are cached, spans not)."""
    first, _ = parse_expression("x.y", Span("a.yaml", 1, 1, 1, 1))
    second, _ = parse_expression("x.y", Span("b.yaml", 7, 3, 7, 3))
    assert first is not None
    assert second is not None
    assert first.span == Span("a.yaml", 1, 1, 1, 4)
    assert second.span == Span("b.yaml", 7, 3, 7, 6)


def test_parse_expression_places_errors_at_origin() -> None:
    """Expression syntax errors are JD111 at their real file position."""
    _, diags = parse_expression("a +\n  + )", Span("f.yaml", 4, 9, 4, 9))
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("JD111", 5, 3)]
    _, diags = parse_expression("x == 1 @", Span("f.yaml", 2, 7, 2, 7))
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("JD111", 2, 14)]


# --------------------------------------------------------------------------- diagnostics


def test_unexpected_token_names_what_was_expected() -> None:
    """JD101 points at the offending token and says, in words, what should have come."""
    assert errors(HEAD + "send email {") == [
        ("JD101", 3, 12, "unexpected '{' — expected a template name after 'send email'", None)
    ]
    assert errors(HEAD + "exit") == [
        ("JD101", 3, 5, "unexpected end of file — expected an outcome after 'exit'", None)
    ]
    ((code, line, column, message, hint),) = errors(HEAD + "if a { exit b")
    assert (code, line, column) == ("JD101", 3, 14)
    assert (
        message
        == "unexpected end of file — the block of 'if' opened at line 3, column 6 is not closed"
    )
    assert hint == "add the missing `}` to close the `{` of line 3"


def test_unclosed_block_names_the_innermost_open_brace() -> None:
    """At the end of the file, the unclosed block reported is the innermost one, by its line."""
    text = HEAD + "if a {\n  switch b {\n    case 1 { exit c }\n  }\n  split {\n"
    ((code, _, _, message, _),) = errors(text)
    assert code == "JD101"
    assert "the block of 'split' opened at line 7, column 9 is not closed" in message


def test_unknown_step_suggests_the_keyword() -> None:
    """A misspelt step is JD102 at the word, with a did-you-mean over the step keywords."""
    assert errors(HEAD + "\n  sned email x") == [
        ("JD102", 4, 3, "unknown step 'sned'", "did you mean 'send'?")
    ]


def test_unknown_step_after_a_label_suggests_the_keyword() -> None:
    """A misspelt step after a label is JD102 with the same did-you-mean as without the label."""
    assert errors(HEAD + "welcome: sned email x") == [
        ("JD102", 3, 10, "unknown step 'sned'", "did you mean 'send'?")
    ]
    assert errors(HEAD + "if a {\n  w: exi done\n}") == [
        ("JD102", 4, 6, "unknown step 'exi'", "did you mean 'exit'?")
    ]


def test_unknown_word_after_a_label_lists_the_steps() -> None:
    """A word after a label that is close to no step is JD102 with the list of step keywords."""
    ((code, line, column, message, hint),) = errors(HEAD + "welcome: frobnicate x")
    assert (code, line, column, message) == ("JD102", 3, 10, "unknown step 'frobnicate'")
    assert hint is not None
    assert hint.startswith("steps start with send, wait, if")


def test_keyword_after_a_label_is_a_syntax_error() -> None:
    """A keyword that starts no step after a label stays JD101: it is misplaced, not misspelt."""
    assert errors(HEAD + "welcome: else") == [
        ("JD101", 3, 10, "unexpected 'else' — expected a step after ':'", None)
    ]


def test_unknown_header_suggests_the_keyword() -> None:
    """A misspelt header keyword is JD102 with a did-you-mean over the header keywords."""
    assert errors("journey j\noutcome a, b\nentry on x") == [
        ("JD102", 2, 1, "unknown header 'outcome'", "did you mean 'outcomes'?")
    ]
    assert errors("journey j\nentri on x") == [
        ("JD102", 2, 1, "unknown header 'entri'", "did you mean 'entry'?")
    ]


def test_misspelt_keyword_inside_a_step() -> None:
    """A misspelt keyword after a step is suggested from what could follow there."""
    ((code, line, column, _, hint),) = errors(HEAD + "wait for x withn 3d")
    assert (code, line, column, hint) == ("JD101", 3, 12, "did you mean 'within'?")


@pytest.mark.parametrize(
    ("join", "hint"),
    [("alll", "did you mean 'all'?"), ("frist", "did you mean 'first'?"), ("any", None)],
)
def test_a_misspelt_parallel_join_names_the_choices(join: str, hint: str | None) -> None:
    """A parallel block's join that is not `all` or `first` is reported whole, naming both
    words (not the grammar's name for them), with a did-you-mean when one is close."""
    text = HEAD + f"parallel {join} {{ branch {{ wait 1d }} branch {{ wait 2d }} }}"
    message = f"unexpected '{join}' — expected 'all' or 'first' after 'parallel'"
    assert errors(text) == [("JD101", 3, 10, message, hint)]


def test_a_goal_naming_its_event_is_told_where_as_belongs() -> None:
    """`goal … when EVENT as NAME` is a syntax error whose hint says where `as` is taken,
    instead of calling `as` a reserved word chosen as a name."""
    ((code, line, column, _, hint),) = errors(
        HEAD + "goal done when cancel_request as req then { tag churn }\nwait 1d\n"
    )
    assert (code, line, column) == ("JD101", 3, 31)
    assert hint == (
        "a goal does not name its event: `as` is for `wait for EVENT as NAME` and a during "
        "block's `on EVENT as NAME`"
    )


def test_keyword_out_of_place() -> None:
    """A header keyword after the first step says headers come first, not "unknown step"."""
    assert errors(HEAD + "exit a\nentry on x") == [
        (
            "JD101",
            4,
            1,
            "unexpected 'entry' — expected a step",
            "header lines (title, uses, entry, ...) come before the first step",
        )
    ]


def test_expression_trailing_garbage() -> None:
    """An expression followed by more input reports the extra token as JD111."""
    _, diags = parse_expression("a b", ORIGIN)
    assert [(d.code, d.span.column, d.message) for d in diags] == [
        ("JD111", 3, "unexpected 'b' — expected end of expression")
    ]


def test_unexpected_character() -> None:
    """A character no token matches is JD101 at its position, with a hint for `&&`."""
    assert errors(HEAD + "if a && b { }") == [
        ("JD101", 3, 6, "unexpected character '&'", "write `and` instead of `&&`")
    ]


def test_bad_duration_and_time_are_left_to_the_checker() -> None:
    """The parser keeps `3x` and `24:00` as literals without diagnostics; the checker reports
    them (JD107, JD108) exactly once, so both spellings get the same message."""
    j, diags = parse_journey(HEAD + "wait 3x\nwait until 24:00", "t")
    assert j is not None
    assert j.steps[0] == ast.Wait(ast.DurationLit("3x"))
    assert diags == []


def test_split_weights_take_at_most_two_decimals() -> None:
    """A split weight like 12.5% or 33.33% parses; 12.345% is JD105 (once, at the weight)."""
    assert errors(HEAD + "split { 12.5% { } 87.5% { } }") == []
    codes = errors(HEAD + "split { 12.345% { } 87.655% { } }")
    assert [(c[0], c[1], c[2]) for c in codes] == [("JD105", 3, 9), ("JD105", 3, 21)]
    assert "at most two decimals" in codes[0][3]


def test_missing_entry_and_duplicate_headers() -> None:
    """No entry is JD104 at the journey name; a repeated header is JD106 at the second."""
    assert [(c[0], c[1], c[2]) for c in errors("journey j\nexit x")] == [("JD104", 1, 9)]
    assert [(c[0], c[1], c[2]) for c in errors(HEAD + "title 'a'\ntitle 'b'\nexit x")] == [
        ("JD106", 4, 1)
    ]


def test_too_deep_is_jd112() -> None:
    """Absurd nesting ends in JD112 instead of a RecursionError."""
    _, diags = parse_expression("-" * 5000 + "1", ORIGIN)
    assert [d.code for d in diags] == ["JD112"]
    j, diags = parse_journey(HEAD + "if a {" * 200 + "}" * 200, "t")
    assert j is None
    assert [d.code for d in diags] == ["JD112"]


def test_a_journey_past_the_token_limit_is_refused_before_it_is_parsed() -> None:
    """A list literal of 300,000 items (900 kB: checking it took 17 s and 280 MB) is JD112 at
    the first token past MAX_TOKENS, and lark never sees it."""
    text = HEAD + f"set b = 1 in [{', '.join(['1'] * 300_000)}]\n"
    started = time.perf_counter()
    j, diags = parse_journey(text, "t.journey")
    assert time.perf_counter() - started < 1.0
    assert j is None
    assert [(d.code, d.span.line) for d in diags] == [("JD112", 3)]
    assert f"more than {MAX_TOKENS:,} tokens" in diags[0].message
    before = text[: len(HEAD) + diags[0].span.column - 1]
    assert count_tokens(before, MAX_TOKENS) == (MAX_TOKENS, None)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_the_token_budget_counts_what_lark_reads(path: Path) -> None:
    """The budget's count of an example journey is lark's, plus at most a tenth (comments, which
    lark skips, count as one token each)."""
    text = path.read_text(encoding="utf-8")
    lark_tokens = sum(1 for _ in lark_parser().parse_interactive(text, start="start").iter_parse())
    counted, past = count_tokens(text, MAX_TOKENS)
    assert past is None
    assert lark_tokens <= counted <= lark_tokens * 1.1


def test_a_long_string_literal_is_read_in_constant_memory() -> None:
    """A string literal of 900,000 characters parses with a few megabytes (lark's STRING
    pattern `"(\\.|[^"\\])*"` kept about 150 bytes of matcher state per character: 300 MB)."""
    text = HEAD + f'set s = "{"x" * 900_000}"\nexit x\n'
    tracemalloc.start()
    try:
        j, diags = parse_journey(text, "t.journey")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert diags == []
    assert j is not None
    assert peak < 30_000_000


# --------------------------------------------------------------------------- robustness


def _check(result: tuple[object, list[Diagnostic]]) -> None:
    node, diags = result
    assert node is not None or any(d.severity == "error" for d in diags)
    assert all(d.message != "syntax error" for d in diags)  # the fallback message was not needed


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text())
def test_random_text_never_raises(text: str) -> None:
    """Any text yields a result or an error diagnostic, never an exception."""
    _check(parse_journey(text, "t"))
    _check(parse_expression(text, ORIGIN))


_SOURCES = [p.read_text("utf-8") for p in EXAMPLES]


@settings(max_examples=100, deadline=None)
@given(st.data())
def test_truncated_examples_never_raise(data: st.DataObject) -> None:
    """Any prefix of an example, with a random piece cut out, parses or reports errors."""
    source = data.draw(st.sampled_from(_SOURCES))
    end = data.draw(st.integers(0, len(source)))
    cut = data.draw(st.integers(0, end))
    width = data.draw(st.integers(0, 8))
    text = source[:cut] + source[cut + width : end]
    _check(parse_journey(text, "t"))


# --------------------------------------------------------------------------- calendars


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("x - 2026-01-15", ast.Binary("-", ast.Name("x"), ast.DateLit("2026-01-15"))),
        ("2026-01-15T09:00", ast.TimestampLit("2026-01-15T09:00")),
        ("2026-01-15T09:00:30Z", ast.TimestampLit("2026-01-15T09:00:30Z")),
        ("2026-01-15T09:00-05:00", ast.TimestampLit("2026-01-15T09:00-05:00")),
        ("2026-01-15T09:00[Europe/Berlin]", ast.TimestampLit("2026-01-15T09:00[Europe/Berlin]")),
        ("2026 - 1 - 15", None),
    ],
)
def test_dates_and_timestamps_are_single_literals(text: str, expected: ast.Expr | None) -> None:
    """`2026-01-15` is a date (not a subtraction), a timestamp keeps its offset or zone; spaced
    digits are still arithmetic."""
    expr, diags = parse_expression(text, ORIGIN)
    assert diags == []
    if expected is None:
        assert isinstance(expr, ast.Binary)
    else:
        assert expr == expected


def test_a_segment_schedule_and_its_bounds_parse_to_one_node() -> None:
    """`weekly on mon, thu at 08:00 from … until …` is a weekly schedule with its days and dates;
    a plain `daily at` is no schedule at all (both spellings write it `daily at`)."""
    j, diags = parse_journey(
        "journey j\nentry segment true\n  weekly on mon, thu at 08:00 from 2026-03-02"
        " until 2026-04-30\nexit x\n",
        "t.journey",
    )
    assert diags == []
    assert j is not None
    s = j.entry.schedule
    assert s is not None
    assert (s.kind, [d.name for d in s.days]) == ("weekly", ["mon", "thu"])
    assert (s.start, s.end) == (ast.DateLit("2026-03-02"), ast.DateLit("2026-04-30"))
    assert j.entry.at == ast.TimeLit("08:00")
    plain, _ = parse_journey("journey j\nentry segment true daily at 09:00\nexit x\n", "t")
    assert plain is not None
    assert plain.entry.schedule is None


def test_wait_until_next_and_send_window_keep_their_days() -> None:
    """`wait until next mon, fri 09:00` and `send window weekend 10:00 to 16:00 for sms`."""
    j, diags = parse_journey(
        "journey j\nentry on card_issued\nsend window weekend 10:00 to 16:00 for sms\n"
        "wait until next mon, fri 09:00\nexit x\n",
        "t.journey",
    )
    assert diags == []
    assert j is not None
    (window,) = j.send_windows
    assert [d.name for d in window.days] == ["weekend"]
    assert [c.name for c in window.channels] == ["sms"]
    step = j.steps[0]
    assert isinstance(step, ast.WaitUntil)
    assert [d.name for d in step.next] == ["mon", "fri"]


def test_a_byte_order_mark_opening_a_dsl_file_is_not_part_of_the_journey() -> None:
    """A `.journey` saved as "UTF-8 with BOM" parses as without it (not JD101 "unexpected
    character U+FEFF"), and columns on its first line are the editor's, which shows no mark."""
    example = next(p for p in EXAMPLES if p.name == "onboarding_new_cardholder.journey")
    text = example.read_text(encoding="utf-8")
    plain, found = parse_journey(text, "j.journey")
    marked, marked_found = parse_journey("\ufeff" + text, "j.journey")
    assert (marked_found, found) == ([], [])
    assert marked == plain
    _, bad = parse_journey("\ufeffjourney x versio 1\nentry on card_issued\n", "j.journey")
    assert [(d.code, d.span.line, d.span.column) for d in bad] == [("JD102", 1, 11)]


def test_nesting_too_deep_is_reported_where_it_happens() -> None:
    """A condition of 3,000 `or`s or blocks nested 160 deep on line 4 is JD112 on line 4, at
    the expression or block one level too deep, not at the top of the file (1:1)."""
    head = "journey j\noutcomes done\nentry on e\n"
    chain = "if " + " or ".join(["has(e)"] * 3000) + " { exit done }\n"
    _, diags = parse_journey(head + chain + "exit done\n", "j.journey")
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("JD112", 4, 4)]
    blocks = "if has(e) { " * 160 + "exit done" + " }" * 160 + "\n"
    _, diags = parse_journey(head + blocks, "j.journey")
    assert [(d.code, d.span.line) for d in diags] == [("JD112", 4)]
    assert diags[0].span.column > 1


@pytest.mark.parametrize(
    ("line", "column", "hint"),
    [
        (
            "chào_mừng: exit done",
            3,
            "names (labels, variables, outcomes) use the letters a-z, A-Z, digits and '_' only: "
            "write 'chao_mung'",
        ),
        (
            "set 时间 = now",
            5,
            "names (labels, variables, outcomes) use the letters a-z, A-Z, digits and '_' only; "
            'other text goes in a string literal, "时间"',
        ),
        (
            "title \u201cOnboarding\u201d",
            7,
            'write straight quotes "…" (a word processor curls them)',
        ),
        (
            "outcomes done\uff0c other",
            14,
            "'\uff0c' is full-width (a Chinese input method): write ','",
        ),
    ],
)
def test_letters_and_punctuation_from_other_keyboards_get_a_hint(
    line: str, column: int, hint: str
) -> None:
    """A Vietnamese or Chinese name, curly quotes pasted from a word processor and full-width
    punctuation are JD101 at the character with what to write instead (the name without its
    accents, straight quotes, the ASCII character)."""
    found = errors(f"journey j\nentry on e\n{line}\nexit done\n")
    assert [(c[0], c[1], c[2], c[4]) for c in found][:1] == [("JD101", 3, column, hint)]
