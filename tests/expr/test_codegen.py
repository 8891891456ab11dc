"""Expressions compiled to Python code (journeydsl.expr.codegen) against their closures.

The closures the checker builds are the reference evaluator; the generated function of an
expression must return exactly what its closure returns (same type, same value) or raise the
same error. A hypothesis property pins it over generated well-typed expressions and contexts;
the other tests pin the fallback (a sub-expression without code is called through its closure),
the switch back to closures and the hygiene of the generated source.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.compiler import compile_source
from journeydsl.diagnostics import Diagnostics
from journeydsl.expr import checker, codegen
from journeydsl.expr.catalog import Catalog, EventSpec
from journeydsl.expr.context import (
    AggregateQuery,
    EventRecord,
    SentQuery,
    run_aggregate,
)
from journeydsl.expr.typed import Scope, Typed
from journeydsl.expr.types import BOOL, DECIMAL, INT, STRING, TIMESTAMP, Type, money
from journeydsl.money import Money

VND = money("VND")
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
NOW = datetime(2026, 3, 1, 12, 0, tzinfo=TZ)
CATALOG = Catalog(
    events={
        "purchase": EventSpec("purchase", {"amount": VND, "shop": STRING}),
        "login": EventSpec("login", {}),
    },
    attributes={"age": INT, "limit": VND, "segment": STRING, "vip": BOOL},
    optional={"limit"},
    defaults={"segment": "mass"},
    has_events=True,
)
VARIABLES: dict[str, Type] = {
    "n": INT,
    "m": INT,
    "amt": VND,
    "s": STRING,
    "flag": BOOL,
    "t": TIMESTAMP,
    "ratio": DECIMAL,
}


@dataclass
class Ctx:
    """An evaluation context with the customer's events in a list."""

    now: datetime = NOW
    entered_at: datetime = NOW - timedelta(days=10)
    events: list[EventRecord] = field(default_factory=list)
    customer_id: str = "c-1"
    journey_id: str = "j"
    journey_version: int = 1
    tz: tzinfo = TZ
    variables: Mapping[str, Any] = field(default_factory=dict)
    profile: Mapping[str, Any] = field(default_factory=dict)
    trigger: Mapping[str, Any] = field(default_factory=dict)

    def aggregate(self, query: AggregateQuery, start: datetime | None, end: datetime | None) -> Any:
        """``query`` over the events with ``start <= at <= end``."""
        rows = [
            e
            for e in self.events
            if (start is None or start <= e.at) and (end is None or e.at <= end)
        ]
        return run_aggregate(query, rows, self)

    def last_time(self, event_type: str) -> datetime | None:
        """When the latest ``event_type`` happened."""
        return max((e.at for e in self.events if e.type == event_type), default=None)

    def sent(self, query: SentQuery, start: datetime) -> int:
        """Nothing was sent."""
        return 0


# --------------------------------------------------------------------------- expressions

_INT_LEAVES = st.one_of(
    st.integers(0, 10**6).map(lambda n: A.NumberLit(str(n))),
    st.sampled_from([A.Name("n"), A.Name("m"), A.Name("journey_version")]),
    st.just(A.Attr(A.Name("profile"), "age")),
    st.just(A.Aggregate("count", A.Name("purchase"))),
)
_MONEY_LEAVES = st.one_of(
    st.integers(0, 10**7).map(lambda n: A.MoneyLit(str(n), "VND")),
    st.just(A.Name("amt")),
    st.just(A.Call("default", (A.Attr(A.Name("profile"), "limit"), A.MoneyLit("5", "VND")))),
    st.just(A.Attr(A.Name("trigger"), "amount")),
    st.just(
        A.Aggregate(
            "sum",
            A.Attr(A.Name("purchase"), "amount"),
            window=A.Window("since", A.Name("entry"), None),
        )
    ),
    st.just(
        A.Aggregate(
            "sum",
            A.Attr(A.Name("purchase"), "amount"),
            window=A.Window("last", None, A.DurationLit("7d")),
        )
    ),
    st.just(
        A.Aggregate(
            "max",
            A.Attr(A.Name("purchase"), "amount"),
            window=A.Window("since", A.Name("t"), A.DurationLit("2d")),
            default=A.Name("amt"),
        )
    ),
)
_STRING_LEAVES = st.one_of(
    st.text(max_size=6).map(A.StringLit),
    st.sampled_from(
        [
            A.Name("s"),
            A.Name("customer_id"),
            A.Attr(A.Name("profile"), "segment"),
            A.Attr(A.Name("trigger"), "shop"),
        ]
    ),
)
_BOOL_LEAVES = st.one_of(
    st.booleans().map(A.BoolLit),
    st.sampled_from(
        [
            A.Name("flag"),
            A.Attr(A.Name("profile"), "vip"),
            A.Aggregate("has", A.Name("login"), window=A.Window("since", A.Name("login"), None)),
            A.Aggregate("has", A.Name("purchase"), window=A.Window("since", A.Name("t"), None)),
            A.Aggregate("has", A.Name("login"), window=A.Window("last", None, A.DurationLit("3d"))),
            A.Aggregate(
                "has",
                A.Name("purchase"),
                window=A.Window("since", A.Name("entry"), A.DurationLit("5d")),
            ),
            # (upper() has no code: its closure is called, the fallback)
            A.Binary("==", A.Call("upper", (A.Name("s"),)), A.StringLit("AB")),
        ]
    ),
)
# Comparisons with attributes a profile may lack (absent: equal to nothing).
_CMP = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
_BOOL_LEAVES = _BOOL_LEAVES | st.one_of(
    st.builds(A.Binary, _CMP, st.just(A.Attr(A.Name("profile"), "limit")), _MONEY_LEAVES),
    st.builds(A.Binary, _CMP, _INT_LEAVES, st.just(A.Attr(A.Name("profile"), "age"))),
    st.builds(A.Binary, _CMP, st.just(A.Attr(A.Name("profile"), "vip")), _BOOL_LEAVES),
)
_TIME_LEAVES = st.sampled_from([A.Name("now"), A.Name("entered_at"), A.Name("t")])


@functools.cache
def _of(kind: str, depth: int) -> st.SearchStrategy[A.Expr]:
    leaves: st.SearchStrategy[A.Expr] = {
        "int": _INT_LEAVES,
        "money": _MONEY_LEAVES,
        "string": _STRING_LEAVES,
        "bool": _BOOL_LEAVES,
        "time": _TIME_LEAVES,
        "decimal": st.just(A.Name("ratio")),
    }[kind]
    if depth <= 0:
        return leaves

    def sub(k: str) -> st.SearchStrategy[A.Expr]:
        return _of(k, depth - 1)

    options: list[st.SearchStrategy[A.Expr]] = [leaves]
    if kind == "int":
        options += [
            st.builds(A.Binary, st.sampled_from(["+", "-", "*", "%"]), sub("int"), sub("int")),
            st.builds(A.Unary, st.just("-"), sub("int")),
            st.builds(A.Cond, sub("bool"), sub("int"), sub("int")),
            st.builds(lambda e: A.Call("hour", (e,)), sub("time")),
        ]
    elif kind == "decimal":
        options += [
            st.builds(A.Binary, st.just("/"), sub("int"), sub("int")),
            st.builds(A.Binary, st.sampled_from(["+", "*", "-"]), sub("decimal"), sub("int")),
            st.builds(A.Binary, st.just("/"), sub("money"), sub("money")),
        ]
    elif kind == "money":
        options += [
            st.builds(A.Binary, st.sampled_from(["+", "-"]), sub("money"), sub("money")),
            st.builds(A.Binary, st.sampled_from(["*", "/"]), sub("money"), sub("int")),
            st.builds(A.Unary, st.just("-"), sub("money")),
        ]
    elif kind == "string":
        options += [
            st.builds(A.Binary, st.just("+"), sub("string"), sub("string")),
            st.builds(lambda e: A.Call("upper", (e,)), sub("string")),
        ]
    elif kind == "time":
        options += [
            st.builds(A.Binary, st.just("+"), sub("time"), st.just(A.DurationLit("2d"))),
        ]
    else:
        cmp = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
        options += [
            st.builds(A.Binary, st.sampled_from(["and", "or"]), sub("bool"), sub("bool")),
            st.builds(A.Unary, st.just("not"), sub("bool")),
            st.builds(A.Binary, cmp, sub("int"), sub("int")),
            st.builds(A.Binary, cmp, sub("money"), sub("money")),
            st.builds(A.Binary, cmp, sub("time"), sub("time")),
            st.builds(A.Binary, cmp, st.just(A.Attr(A.Name("profile"), "limit")), sub("money")),
            st.builds(A.Binary, st.sampled_from(["==", "!="]), sub("string"), sub("string")),
            st.builds(
                A.Binary,
                st.just("in"),
                sub("string"),
                st.lists(sub("string"), max_size=3).map(lambda xs: A.ListExpr(tuple(xs))),
            ),
            st.builds(A.Cond, sub("bool"), sub("bool"), sub("bool")),
        ]
    return st.one_of(*options)


def exprs() -> st.SearchStrategy[tuple[str, A.Expr]]:
    """A kind of value and a well-typed expression of it, up to three levels deep."""
    kinds = ["int", "decimal", "money", "string", "bool", "time"]
    absent = st.one_of(
        st.builds(A.Binary, _CMP, st.just(A.Attr(A.Name("profile"), "limit")), _of("money", 1)),
        st.builds(A.Binary, _CMP, _of("int", 1), st.just(A.Attr(A.Name("profile"), "age"))),
    )
    return st.one_of(
        *(st.tuples(st.just(k), _of(k, 3)) for k in kinds),
        st.tuples(st.just("bool"), _of("bool", 1) | absent),
    )


_MAYBE = st.none() | st.just("absent")


@st.composite
def contexts(draw: st.DrawFn) -> Ctx:
    """A customer: variables, a profile that may lack attributes, a trigger and events."""
    ints = st.integers(-(10**9), 10**9)
    amounts = st.integers(-(10**6), 10**8).map(lambda n: Money(Decimal(n), "VND"))
    when = st.integers(-30 * 24, 30 * 24).map(lambda h: NOW + timedelta(hours=h))
    variables: dict[str, Any] = {
        "n": draw(ints | st.sampled_from([0, 2**62, -(2**62)])),
        "m": draw(ints | st.just(0)),
        "amt": draw(amounts),
        "s": draw(st.text(max_size=8)),
        "flag": draw(st.booleans()),
        "t": (t := draw(when)),
        "ratio": draw(st.decimals(-1000, 1000, places=3)),
    }
    profile: dict[str, Any] = {}
    for name, values in (
        ("age", st.integers(0, 120)),
        ("limit", amounts),
        ("segment", st.sampled_from(["mass", "gold", ""])),
        ("vip", st.booleans()),
    ):
        if draw(st.booleans()):
            profile[name] = draw(values)
    events = [
        EventRecord("c-1", kind, at, {"amount": amount, "shop": "x"})
        for kind, at, amount in draw(
            st.lists(st.tuples(st.sampled_from(["purchase", "login"]), when, amounts), max_size=4)
        )
    ]
    # Events near the edges of the windows: after `t`, and in the last days before now.
    near = st.integers(0, 10 * 24).map(lambda h: timedelta(hours=h))
    for base, sign in ((t, 1), (NOW, -1)):
        for at in draw(st.lists(near, max_size=2)):
            events.append(
                EventRecord("c-1", "purchase", base + sign * at, {"amount": draw(amounts)})
            )
    trigger = {"amount": draw(amounts), "shop": draw(st.text(max_size=3))}
    tz = draw(st.sampled_from([TZ, UTC, ZoneInfo("America/New_York")]))
    return Ctx(tz=tz, variables=variables, profile=profile, trigger=trigger, events=events)


def _check(kind: str, expr: A.Expr) -> tuple[Typed, Diagnostics]:
    diags = Diagnostics()
    scope = Scope(CATALOG, diags, VARIABLES, trigger=CATALOG.events["purchase"])
    typed = checker.check_bool(expr, scope) if kind == "bool" else checker.check(expr, scope)
    return typed, diags


def _outcome(fn: Any, ctx: Ctx) -> tuple[str, Any]:
    try:
        value = fn(ctx, None)
    except Exception as exc:
        return "raised", type(exc)
    return "value", (type(value), repr(value), value)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs(), contexts())
def test_the_generated_function_returns_what_the_closure_returns(
    case: tuple[str, A.Expr], ctx: Ctx
) -> None:
    """For well-typed expressions of every kind and random customers (absent attributes, huge
    numbers, other time zones), the generated function gives the closure's value or error."""
    kind, expr = case
    typed, diags = _check(kind, expr)
    assume(not diags.has_errors)
    code = codegen.fragment(typed)
    assume(code is not None)  # (upper() has none: its closure is the function)
    assert code is not None
    generated = codegen.build(code)
    assert _outcome(generated, ctx) == _outcome(typed.fn, ctx)


# --------------------------------------------------------------------------- the fallback


def test_a_sub_expression_without_code_is_called_through_its_closure() -> None:
    """An operand whose kind has no code (upper() here) is called as its closure inside the
    generated function, and a closure replaced after its code was made is not trusted: its new
    closure is called."""
    typed, diags = _check(
        "bool",
        A.Binary(
            "and",
            A.Binary("==", A.Call("upper", (A.Name("s"),)), A.StringLit("AB")),
            A.Name("flag"),
        ),
    )
    assert not diags.has_errors
    code = codegen.fragment(typed)
    assert code is not None
    called = [v for _, v in code.consts if callable(v)]
    assert len(called) == 1
    assert "(c, e)" in code.text
    ctx = Ctx(variables={"flag": True, "s": "ab"})
    assert codegen.build(code)(ctx, None) is True
    # A Typed whose closure changed without new code: its code is ignored.
    flag, _ = _check("bool", A.Name("flag"))
    changed = replace(flag, fn=lambda c, e: "changed")
    assert codegen.fragment(changed) is None
    parent = codegen.coded(replace(flag, fn=lambda c, e: None), "not {0}", changed)
    assert parent.code is not None
    assert codegen.build(parent.code)(ctx, None) is False  # not "changed"


def test_a_kind_of_expression_unknown_to_the_generator_keeps_its_closure() -> None:
    """A Typed made without code (a form the generator does not know) is evaluated by its
    closure: ``function`` hands the closure back."""
    unknown = Typed(INT, lambda c, e: 41)
    assert codegen.fragment(unknown) is None
    assert codegen.function(unknown) is unknown.fn


JOURNEY = """\
journey j version 1
uses events "events.yaml"
outcomes done
entry on card_issued
set score = 2 * 3 - 1
if score > 4 and not has(card_activated since entry) {
  exit done
}
"""


def _conditions(text: str) -> list[Any]:
    from pathlib import Path

    root = Path(__file__).resolve().parents[2] / "examples"
    result = compile_source(text, str(root / "j.journey"))
    assert result.journey is not None, result.diagnostics
    return [n for n in result.journey.nodes.values() if isinstance(n, ir.Branch | ir.Set)]


def test_the_switch_selects_the_closures(monkeypatch: pytest.MonkeyPatch) -> None:
    """With JOURNEYDSL_EXPRESSIONS=closures a journey's expressions keep their closures; by
    default they are generated functions, compiled on the first call and then called direct."""
    monkeypatch.setenv(codegen.ENV, "closures")
    for node in _conditions(JOURNEY):
        expr = getattr(node, "cond", None) or node.value
        assert "codegen" not in expr.fn.__module__
    monkeypatch.delenv(codegen.ENV)
    nodes = _conditions(JOURNEY)
    setter = next(n for n in nodes if hasattr(n, "value"))
    first = setter.value.fn
    assert first.__module__ == "journeydsl.expr.codegen"
    assert setter.value.fn(Ctx(), None) == 5
    assert setter.value.fn is not first  # replaced by the compiled function
    assert setter.value.fn.__code__.co_filename == "<journeydsl expression>"


def test_user_text_never_reaches_the_source() -> None:
    """Strings, odd names and catalog values go into the namespace as constants; the source
    holds only placeholders, identifiers and the generator's own operators."""
    evil = "'); import os; os.system('x') #"
    typed, diags = _check("bool", A.Binary("==", A.StringLit(evil), A.Name("s")))
    assert not diags.has_errors
    assert typed.code is not None
    assert evil not in typed.code.text
    assert "os" not in typed.code.text
    assert codegen.build(typed.code)(Ctx(variables={"s": evil}), None) is True
    assert codegen.name_text("_k1") == codegen.K("_k1")  # (the placeholders' own prefix)
    assert codegen.name_text("ngày") == codegen.K("ngày")
    assert codegen.name_text("score") == "'score'"


TEXT_JOURNEY = """\
journey j version 1
uses events "events.yaml"
outcomes done
entry on card_issued
set later = entered_at + 2d
set label = "card " + trigger.card_id
"""


def test_only_expressions_that_build_text_are_metered() -> None:
    """A root with a `+` of text keeps its text budget (the generated function runs metered);
    a `+` of a timestamp and a duration builds no text and is called directly."""
    nodes = {n.var: n.value for n in _conditions(TEXT_JOURNEY) if isinstance(n, ir.Set)}
    ctx = Ctx(trigger={"card_id": "k-1"})
    assert nodes["later"].fn(ctx, None) == ctx.entered_at + timedelta(days=2)
    assert nodes["later"].fn.__code__.co_filename == "<journeydsl expression>"
    assert nodes["label"].fn(ctx, None) == "card k-1"
    assert nodes["label"].fn.__code__.co_filename.endswith("limits.py")  # metered(generated)
