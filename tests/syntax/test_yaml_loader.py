"""Tests for journeydsl.syntax.yaml_loader: the YAML form of a journey."""

from __future__ import annotations

import string
import time
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic
from journeydsl.syntax import yaml_loader
from journeydsl.syntax.limits import MAX_TOKENS
from journeydsl.syntax.parser import parse_journey
from journeydsl.syntax.shapes import ENTRY_SHAPES, JOURNEY, STEP_SHAPES
from journeydsl.syntax.yaml_loader import load_yaml_journey

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["onboarding_new_cardholder", "dormant_reactivation"]
HEAD = "journey: j\nentry: {event: card_issued}\nsteps:\n"


def load(text: str) -> tuple[ast.Journey | None, list[Diagnostic]]:
    return load_yaml_journey(text, "t.yaml")


def ok(text: str) -> ast.Journey:
    journey, diags = load(text)
    assert diags == [], diags
    assert journey is not None
    return journey


def one(text: str) -> Diagnostic:
    journey, diags = load(text)
    assert journey is None
    assert len(diags) == 1, diags
    return diags[0]


# --------------------------------------------------------------------------- the examples


@pytest.mark.parametrize("name", NAMES)
def test_example_loads_without_diagnostics(name: str) -> None:
    """Both example YAML files load cleanly."""
    journey, diags = load_yaml_journey((EXAMPLES / f"{name}.yaml").read_text(), f"{name}.yaml")
    assert diags == []
    assert journey is not None
    assert journey.name.name == name


@pytest.mark.parametrize("name", NAMES)
def test_example_equals_the_dsl_ast(name: str) -> None:
    """The YAML and DSL spellings of each example give equal ASTs (spans aside)."""
    from_yaml, ydiags = load_yaml_journey((EXAMPLES / f"{name}.yaml").read_text(), "x.yaml")
    from_dsl, ddiags = parse_journey((EXAMPLES / f"{name}.journey").read_text(), "x.journey")
    assert ydiags == []
    assert ddiags == []
    assert from_yaml == from_dsl


def test_example_header_and_nesting() -> None:
    """The dormant example's header, entry, offer choice and nested blocks come out as the AST
    expects."""
    j = ok((EXAMPLES / "dormant_reactivation.yaml").read_text())
    assert j.version == 1
    assert j.title == "Dormant cardholder reactivation"
    assert j.events_catalog == ast.StringLit("events.yaml")
    assert j.timezone == ast.StringLit("Asia/Ho_Chi_Minh")
    assert j.entry.kind == "segment"
    assert j.entry.at == ast.TimeLit("09:00")
    assert j.entry.reentry == ast.Reentry("after", ast.DurationLit("180d"))
    assert j.quiet_hours[0].start == ast.TimeLit("21:00")
    assert [c.name for c in j.quiet_hours[0].channels] == ["sms", "zns", "push"]
    assert j.fallback == (
        ast.FallbackChain((ast.Ident("push"), ast.Ident("zns"), ast.Ident("sms"))),
    )
    assert j.goals == (ast.Goal(ast.Ident("reactivated"), ast.Name("transaction")),)
    first, second = j.steps[:2]
    assert isinstance(first, ast.ChooseOffer)
    assert (first.var.name, first.catalogue.name, first.none) == ("chosen", "reactivation", None)
    assert isinstance(second, ast.Set)
    engaged = next(s for s in j.steps if isinstance(s, ast.If) and s.otherwise)
    assert isinstance(engaged.then[-1], ast.Ticket)
    assert isinstance(engaged.otherwise[-1], ast.Exit)


def test_example_spans_are_one_based() -> None:
    """Spans from YAML marks are 1-based and point at the value's text."""
    j = ok((EXAMPLES / "onboarding_new_cardholder.yaml").read_text())
    welcome = j.steps[0]
    assert isinstance(welcome, ast.Send)
    assert welcome.id is not None
    assert (welcome.id.span.line, welcome.id.span.column) == (24, 9)
    assert (welcome.template.span.line, welcome.template.span.column) == (25, 11)
    assert (welcome.template.span.end_line, welcome.template.span.end_column) == (25, 35)
    assert (welcome.span.line, welcome.span.column) == (24, 5)


# --------------------------------------------------------------------------- the forms


def test_scalars_are_raw_text_not_yaml_11() -> None:
    """`on`, unquoted 09:00 and 1_000 keep their text instead of YAML 1.1 coercion."""
    j = ok(
        "journey: j\ntitle: on\nentry: {segment: x, daily_at: 09:00}\nsteps:\n"
        "  - set: n\n    value: 1_000\n"
    )
    assert j.title == "on"
    assert j.entry.at == ast.TimeLit("09:00")
    assert j.steps == (ast.Set(ast.Ident("n"), ast.NumberLit("1_000")),)


def test_every_step_kind_loads() -> None:
    """Each step kind's YAML form builds its AST node."""
    j = ok(
        HEAD
        + """\
  - send: t
    channel: push
    fallback: none
  - send: t
    channel: push
    fallback: [zns, sms]
  - wait: 3d
  - wait_until: "09:00"
  - wait_for: x > 1
    within: 1h
  - split:
      - {weight: 45%, steps: [tag: a]}
      - {weight: 45, steps: []}
    holdout: 10%
  - split:
      - {weight: 90%, steps: []}
    holdout: {weight: 10%, steps: [tag: control]}
  - ticket: care
  - update: preferred_channel
    value: '"zns"'
  - tag: a
  - untag: b
  - reward: r
    params: {amount: 1}
  - action: act
  - exit: done
"""
    )
    s = j.steps
    assert s[0] == ast.Send(ast.Ident("t"), ast.Ident("push"), fallback=())
    assert s[1] == ast.Send(
        ast.Ident("t"), ast.Ident("push"), fallback=(ast.Ident("zns"), ast.Ident("sms"))
    )
    assert s[2] == ast.Wait(ast.DurationLit("3d"))
    assert s[3] == ast.WaitUntil(ast.TimeLit("09:00"))
    assert s[4] == ast.WaitFor(
        ast.Binary(">", ast.Name("x"), ast.NumberLit("1")),
        timeout=ast.Timeout("within", ast.DurationLit("1h")),
    )
    assert s[5] == ast.Split(
        (ast.Arm(Decimal(45), (ast.Tag(ast.Ident("a")),)), ast.Arm(Decimal(45))),
        holdout=ast.Arm(Decimal(10)),
    )
    assert s[6] == ast.Split(
        (ast.Arm(Decimal(90)),), holdout=ast.Arm(Decimal(10), (ast.Tag(ast.Ident("control")),))
    )
    assert s[7] == ast.Ticket(ast.Ident("care"))
    assert s[8] == ast.Update(ast.Ident("preferred_channel"), ast.StringLit("zns"))
    assert s[9:11] == (ast.Tag(ast.Ident("a")), ast.Tag(ast.Ident("b"), remove=True))
    assert s[11] == ast.Action(
        "reward", ast.Ident("r"), (ast.Param(ast.Ident("amount"), ast.NumberLit("1")),)
    )
    assert s[12] == ast.Action("action", ast.Ident("act"))
    assert s[13] == ast.Exit(ast.Ident("done"))


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        ("manual", ast.Entry("manual")),
        ("{manual: true, reentry: always}", ast.Entry("manual", reentry=ast.Reentry("always"))),
        (
            "{event: e, where: x, key: trigger.card_id}",
            ast.Entry(
                "event",
                event=ast.Ident("e"),
                where=ast.Name("x"),
                key=ast.Attr(ast.Name("trigger"), "card_id"),
            ),
        ),
    ],
)
def test_entry_forms(entry: str, expected: ast.Entry) -> None:
    """The scalar `manual`, `manual: true` and event entries with where/key all load."""
    assert ok(f"journey: j\nentry: {entry}\nsteps: []\n").entry == expected


def test_fallback_list_of_chains() -> None:
    """A journey fallback may be a list of chains."""
    j = ok("journey: j\nentry: manual\nfallback: [[push, sms], [zns, sms]]\nsteps: []\n")
    assert [[c.name for c in chain.channels] for chain in j.fallback] == [
        ["push", "sms"],
        ["zns", "sms"],
    ]


def test_merge_keys_apply() -> None:
    """YAML merge keys copy a mapping's keys, and explicit keys win."""
    j = ok(HEAD + "  - &s {send: t, channel: email}\n  - {<<: *s, channel: sms}\n")
    assert j.steps[1] == ast.Send(ast.Ident("t"), ast.Ident("sms"))


def test_case_values_split_at_top_level_commas() -> None:
    """`case: 1, f(2, 3)` gives two values; commas inside brackets do not split."""
    j = ok(HEAD + "  - switch: x\n    cases:\n      - case: 1, f(2, 3)\n        steps: []\n")
    switch = j.steps[0]
    assert isinstance(switch, ast.Switch)
    assert switch.cases[0].values == (
        ast.NumberLit("1"),
        ast.Call("f", (ast.NumberLit("2"), ast.NumberLit("3"))),
    )


# --------------------------------------------------------------------------- errors

ERRORS = [
    # (id, text, code, line, column, message part, hint part)
    ("unknown key", HEAD + "  - send: w\n    chanel: email\n", "JD103", 5, 5,
     "unknown key 'chanel' in send step", "did you mean 'channel'?"),
    ("unknown kind", HEAD + "  - sned: w\n    channel: email\n", "JD102", 4, 5,
     "unknown step kind 'sned'", "did you mean 'send'?"),
    ("no kind", HEAD + "  - channel: email\n", "JD102", 4, 5,
     "this step has no kind", "'channel' belongs to a send step"),
    ("two kinds", HEAD + "  - send: w\n    channel: email\n    exit: done\n", "JD105", 6, 5,
     "both 'send' and 'exit'", "its own list item"),
    ("missing key", HEAD + "  - send: w\n", "JD104", 4, 5,
     "send step is missing required key 'channel'", "`channel: email`"),
    ("bad name", HEAD + "  - exit: not-done\n", "JD105", 4, 11,
     "expected a name for 'exit'", None),
    ("list for scalar", HEAD + "  - exit: [a, b]\n", "JD105", 4, 11,
     "expected a name for 'exit', found a list", None),
    ("non-int max", HEAD + "  - repeat: six\n    steps: []\n", "JD105", 4, 13,
     "expected a whole number for 'repeat'", None),
    ("bad category", HEAD + "  - send: w\n    channel: email\n    category: marketting\n",
     "JD105", 6, 15, "category must be one of marketing, transactional",
     "did you mean 'marketing'?"),
    ("bad weight", HEAD + "  - split:\n      - {weight: half, steps: []}\n", "JD105", 5, 18,
     "percentage like 45%", None),
    ("bad reentry", "journey: j\nentry: {event: e, reentry: twice}\nsteps: []\n", "JD105", 2,
     28, "reentry must be once, always or after DURATION", None),
    ("within and until", HEAD + "  - wait_for: x\n    within: 3d\n    until: now\n", "JD105",
     6, 5, "only one of 'within' or 'until'", None),
    ("duplicate key", HEAD + "  - exit: a\n    exit: b\n", "JD106", 5, 5,
     "duplicate key 'exit'", "line 4"),
    ("bad time", "journey: j\nentry: {segment: x, daily_at: 9am}\nsteps: []\n", "JD108", 2,
     31, "time of day", None),
    ("segment without time", "journey: j\nentry: {segment: x}\nsteps: []\n", "JD104", 2, 9,
     "segment entry needs one of 'daily_at' or 'schedule'", 'daily_at: "09:00"'),
    ("entry without kind", "journey: j\nentry: {where: x}\nsteps: []\n", "JD104", 2, 9,
     "the entry needs one of 'event', 'segment', 'manual'", None),
    ("key of another entry kind", "journey: j\nentry: {event: e, daily_at: '09:00'}\nsteps: []\n",
     "JD103", 2, 19, "unknown key 'daily_at' in event entry", "belongs to: segment entry"),
    ("step as scalar", HEAD + "  - exit done\n", "JD105", 4, 5,
     "expected a step (a mapping)", "write `exit: done`"),
    ("misspelt step as scalar", HEAD + "  - sned email\n", "JD105", 4, 5,
     "expected a step (a mapping)", "did you mean 'send'?"),
    ("misspelt break", HEAD + "  - repeat: 2\n    steps:\n      - wait: 1d\n      - brake\n",
     "JD105", 7, 9, "expected a step (a mapping), found 'brake'", "did you mean 'break'?"),
    ("break as mapping", HEAD + "  - repeat: 2\n    steps:\n      - wait: 1d\n"
     "      - continue: true\n", "JD102", 7, 9, "`continue` is not a mapping",
     "`- continue`"),
    ("on of a handler", HEAD + "  - during: [wait: 1d]\n    handlers:\n"
     "      - on: cancel_request\n", "JD103", 6, 9, "unknown key 'on' in during handler",
     "the DSL's `on EVENT` is `event: EVENT` in YAML"),
    ("steps as mapping", HEAD.replace("steps:\n", "steps: {exit: x}\n"), "JD105", 3, 8,
     "expected a list of steps for 'steps'", "start each step with '- '"),
    ("empty cases", HEAD + "  - switch: x\n    cases: []\n", "JD105", 5, 12,
     "found an empty list", None),
    ("short chain", "journey: j\nentry: manual\nfallback: [push]\nsteps: []\n", "JD105", 3, 11,
     "at least two channels", None),
    ("yaml syntax", "journey: j\nentry\n  event: x\nsteps: []\n", "JD100", 3, 8,
     "could not find expected ':'", None),
    ("tab", "journey: j\n\tentry: x\n", "JD100", 2, 1, "cannot start any token", "not tabs"),
    ("undefined alias", "journey: *nope\n", "JD100", 1, 10, "found undefined alias", None),
    ("empty file", "# nothing here\n", "JD104", 1, 1, "holds no journey", "journey: my_journey"),
    ("scalar document", "hello\n", "JD105", 1, 1, "must be a mapping", None),
    ("bad character", "journey: j\x00\n", "JD100", 1, 11, "unacceptable character #x0000", None),
    ("expression, plain", HEAD + "  - if: a ) b\n", "JD111", 4, 11, "unexpected ')'", None),
    ("expression, quoted", HEAD + "  - if: 'a ) b'\n", "JD111", 4, 12, "unexpected ')'", None),
    ("expression, block", HEAD + "  - if: >-\n      a ) b\n", "JD111", 5, 9, "unexpected ')'",
     None),
    ("expression, case", HEAD + "  - switch: x\n    cases:\n      - case: 1, a ) b\n"
     "        steps: []\n", "JD111", 6, 20, "unexpected ')'", None),
    ("expression, reentry", "journey: j\nentry: {event: e, reentry: after 1d )}\nsteps: []\n",
     "JD111", 2, 37, "unexpected ')'", None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("text", "code", "line", "column", "message", "hint"),
    [pytest.param(*e[1:], id=e[0]) for e in ERRORS],
)
def test_error(
    text: str, code: str, line: int, column: int, message: str, hint: str | None
) -> None:
    """Each kind of mistake gives one diagnostic with its code, position, message and hint."""
    d = one(text)
    assert (d.code, d.span.line, d.span.column) == (code, line, column), d
    assert message in d.message
    if hint is not None:
        assert d.hint is not None
        assert hint in d.hint


@pytest.mark.parametrize("text", [pytest.param(e[1], id=e[0]) for e in ERRORS])
def test_both_composers_report_alike(text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """The pure-Python composer gives the same diagnostics as the libyaml fast path."""
    fast = load(text)
    monkeypatch.setattr(yaml_loader, "_FAST_LOADER", None)
    assert load(text) == fast


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "python"])
def test_empty_value_reads_as_nothing(fast: bool, monkeypatch: pytest.MonkeyPatch) -> None:
    """An empty plain value is "nothing" in messages, with either composer (libyaml marks a
    plain scalar's style as '' where PyYAML gives None)."""
    if not fast:
        monkeypatch.setattr(yaml_loader, "_FAST_LOADER", None)
    d = one(HEAD + "  - exit:\n")
    assert d.code == "JD105"
    assert d.message.endswith("found nothing")


def test_misspelt_required_key_is_not_also_missing() -> None:
    """`chanel` is reported as unknown (did you mean 'channel'), not again as missing."""
    d = one(HEAD + "  - send: w\n    chanel: email\n")
    assert d.code == "JD103"


def test_two_documents() -> None:
    """A second YAML document is an error at its start."""
    _, diags = load(HEAD + "  - exit: done\n---\njourney: k\n")
    assert [(d.code, d.span.line, d.span.column) for d in diags] == [("JD105", 6, 1)]
    assert "second one" in diags[0].message


def test_collects_every_problem_sorted() -> None:
    """Problems in separate steps are all reported, in file order."""
    _, diags = load(
        HEAD + "  - sned: w\n  - send: w\n    channel: email\n    category: x\n  - exit: 1a\n"
    )
    assert [(d.code, d.span.line) for d in diags] == [
        ("JD102", 4),
        ("JD105", 7),
        ("JD105", 8),
    ]


def test_missing_header_keys() -> None:
    """A mapping without journey/entry/steps reports each as missing."""
    _, diags = load("title: x\n")
    assert sorted(d.message for d in diags) == [
        f"journey is missing required key '{k}'" for k in ("entry", "journey", "steps")
    ]


# --------------------------------------------------------------------------- limits


def _bomb(levels: int) -> str:
    lines = ["journey: j", "entry: manual", "steps:", "  - if: x"]
    lines.append("    then: &a0 [" + ", ".join(["{tag: x}"] * 10) + "]")
    for i in range(1, levels):
        lines.append("  - if: x")
        lines.append(f"    then: &a{i} [" + ", ".join([f"{{if: x, then: *a{i - 1}}}"] * 10) + "]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_rejected_fast() -> None:
    """A billion-laughs document (10^9 steps through aliases) is refused in well under a second."""
    start = time.perf_counter()
    journey, diags = load(_bomb(9))
    assert time.perf_counter() - start < 1.0
    assert journey is None
    assert [d.code for d in diags] == ["JD112"]
    assert "alias bomb" in diags[0].message


def test_small_alias_reuse_is_fine() -> None:
    """Aliases that expand to a modest tree load normally."""
    j = ok(_bomb(2))
    assert len(j.steps) == 2


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("journey: j\nentry: manual\nsteps: &s\n  - if: x\n    then: *s\n", id="cycle"),
        pytest.param("journey: j\nsteps: " + "[" * 5000, id="brackets"),
        pytest.param("journey: j\nsteps:\n" + "- " * 3000 + "x\n", id="block"),
        pytest.param(
            "journey: j\nentry: manual\nsteps: " + "[{if: x, then: " * 150 + "[]" + "}]" * 150,
            id="steps",
        ),
    ],
)
def test_too_deep_rejected_fast(text: str) -> None:
    """Recursive aliases and deep nesting give JD112 quickly instead of raising."""
    start = time.perf_counter()
    journey, diags = load(text)
    assert time.perf_counter() - start < 1.0
    assert journey is None
    assert [d.code for d in diags] == ["JD112"]


def _shared(uses: int, items: int) -> str:
    """A journey whose ``uses`` steps all use one anchored expression of ``2 * items + 2``
    tokens."""
    first = f"  - {{set: v0, value: &e '1 in [{', '.join(['1'] * items)}]'}}\n"
    return HEAD + first + "".join(f"  - {{set: v{i}, value: *e}}\n" for i in range(1, uses))


def test_an_expression_counts_against_the_token_budget_at_every_use() -> None:
    """An expression shared through an alias is checked at every step that uses it, so each use
    counts: 100 uses of a 1,202-token expression are JD112 at the expression (an alias has no
    place of its own once the document is composed), and a few uses load. (4,000 such uses took
    two minutes and 1.6 GB to check.)"""
    assert ok(_shared(3, 600)).steps
    started = time.perf_counter()
    journey, diags = load(_shared(100, 600))
    assert time.perf_counter() - started < 3.0
    assert journey is None
    assert [(d.code, d.span.line) for d in diags] == [("JD112", 4)]
    assert f"more than {MAX_TOKENS:,} tokens" in diags[0].message


def test_many_distinct_expressions_share_one_token_budget() -> None:
    """The token budget is the journey's, not each expression's: 60 expressions of 1,202 tokens
    (each well under the limit) are JD112 together."""
    steps = "".join(
        f"  - {{set: v{i}, value: '{i} in [{', '.join(['1'] * 600)}]'}}\n" for i in range(60)
    )
    journey, diags = load(HEAD + steps)
    assert journey is None
    assert [d.code for d in diags] == ["JD112"]


# --------------------------------------------------------------------------- never raises

KEYS = sorted(
    {k for shape in STEP_SHAPES.values() for k in shape.key_names}
    | {k for shape in ENTRY_SHAPES.values() for k in shape.key_names}
    | set(JOURNEY.key_names)
    | {"<<", "sned", "weight", "case", "from", "to", "outcome", "when"}
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-5, 200)
    | st.text(string.printable, max_size=12)
    | st.sampled_from(["3d", "x == 1", "45%", "09:00", "none", "manual", "once", "after 3d",
                      "a, b", "has(e since entry)", "(", "'", "[1, 2]"])
)  # fmt: skip
STRUCTURES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=5), inner, max_size=4)
    ),
    max_leaves=10,
)
STEPS = st.lists(
    st.dictionaries(st.sampled_from(KEYS), STRUCTURES, min_size=1, max_size=3), max_size=3
)
DOCUMENTS = STRUCTURES | st.fixed_dictionaries(
    {"journey": st.just("j"), "entry": STRUCTURES, "steps": STEPS}
)


def _check_result(text: str) -> None:
    journey, diags = load(text)
    assert (journey is None) == any(d.severity == "error" for d in diags)
    assert all(d.span.line >= 1 and d.span.column >= 1 for d in diags)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=200))
def test_random_text_never_raises(text: str) -> None:
    """Arbitrary text gives diagnostics, never an exception."""
    _check_result(text)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(DOCUMENTS)
def test_random_structures_never_raise(doc: object) -> None:
    """YAML-ish structures built from real and fake keys never make the loader raise."""
    _check_result(yaml.safe_dump(doc, allow_unicode=True))


_EXAMPLE_TEXTS = [(EXAMPLES / f"{n}.yaml").read_text() for n in NAMES]


@settings(max_examples=50, deadline=None)
@given(st.sampled_from(_EXAMPLE_TEXTS), st.floats(0, 1))
def test_truncated_examples_never_raise(text: str, fraction: float) -> None:
    """Every prefix of an example loads or reports, without raising."""
    _check_result(text[: int(len(text) * fraction)])


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("as: x", "`as` names the event that ends a wait; this waits for a condition"),
        (
            'where: card_bound.wallet == "momo"',
            "`where` filters an event; this waits for a condition",
        ),
    ],
)
def test_a_condition_handler_keeps_as_and_where_to_refuse_them(extra: str, message: str) -> None:
    """`as:` or `where:` on a `when:` handler is refused as on a condition `wait_for` (JD105),
    where they used to be dropped without a word (and lost by `fmt`)."""
    from journeydsl.compiler import compile_source

    text = (
        "journey: j\nuses: {events: events.yaml}\nentry: {event: card_approved}\nsteps:\n"
        "  - during: [wait: 1d]\n    handlers:\n"
        f"      - when: has(card_bound since entry)\n        {extra}\n"
    )
    result = compile_source(text, "j.yaml", base_dir=EXAMPLES)
    assert [(d.code, d.span.line, d.message) for d in result.diagnostics] == [("JD105", 8, message)]
