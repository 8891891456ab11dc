"""Function calls: ``date()``, ``hour()``, ``weekday()``, ``lower()``, ``upper()``, ``days()``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr import checker
from journeydsl.expr.absent import Absent, is_absent
from journeydsl.expr.builtins import AGGREGATE_NAMES, FUNCTIONS
from journeydsl.expr.codegen import K, Tmp, coded
from journeydsl.expr.context import EvalContext, EventRecord, Fn
from journeydsl.expr.hints import mismatch_hint
from journeydsl.expr.limits import bounded, charge, checked_text
from journeydsl.expr.literals import check_enum_literal
from journeydsl.expr.typed import Scope, Typed, poison, reads_of
from journeydsl.expr.types import ERROR, STRING, article, assignable

__all__ = ["check_call"]


def check_call(node: A.Call, scope: Scope) -> Typed:
    """``f(args)``."""
    if node.func == "default":
        return _default(node, scope)
    spec = FUNCTIONS.get(node.func)
    args = [checker.check(a, scope) for a in node.args]
    reads = reads_of(*args)
    if spec is None:
        scope.diags.error(
            "JD209",
            f"unknown function '{node.func}'",
            node.span,
            did_you_mean(node.func, [*FUNCTIONS, "default", *AGGREGATE_NAMES]),
        )
        return Typed(ERROR, poison, False, reads)
    params, result, impl = spec
    if len(args) != len(params):
        scope.diags.error(
            "JD301",
            f"{node.func}() takes {len(params)} argument(s), got {len(args)}",
            node.span,
            f"call it as {node.func}({', '.join(str(p) for p in params)})",
        )
        return Typed(ERROR, poison, False, reads)
    for arg_node, arg, want in zip(node.args, args, params, strict=True):
        if not assignable(arg.type, want):
            scope.diags.error(
                "JD301",
                f"{node.func}() expects {article(want)}, got {article(arg.type)}",
                arg_node.span,
                mismatch_hint(want, arg.type),
            )
    fns = [a.fn for a in args]
    if node.func in ("lower", "upper"):
        return _text_call(impl, fns[0], args[0], node, scope)
    typed = Typed(
        result,
        lambda c, e: impl(c, *[f(c, e) for f in fns]),
        False,  # date()/hour() depend on the customer's time zone: never folded
        reads,
        _RESULT_BOUNDS.get(node.func),
    )
    template = "{0}(c" + "".join(f", {{{n + 1}}}" for n in range(len(args))) + ")"
    return coded(typed, template, K(impl), *args)


#: Bounds of functions' results that do not depend on their arguments.
_RESULT_BOUNDS = {"hour": 23, "weekday": 7}
#: Case mapping can lengthen a string up to three times ("ΐ".upper() is three characters).
_CASE_GROWTH = 3


def _text_call(
    impl: Callable[..., Any], arg_fn: Fn, arg: Typed, node: A.Call, scope: Scope
) -> Typed:
    """``lower(s)`` or ``upper(s)``, whose result's length is checked (and its argument's
    first: case mapping never shortens a string)."""

    def run(c: EvalContext, e: EventRecord | None) -> Any:
        text = checked_text(arg_fn(c, e), node)
        out = checked_text(impl(c, text), node)
        charge(len(out), node)
        return out

    bound = None if arg.bound is None else arg.bound * _CASE_GROWTH
    return bounded(Typed(STRING, run, False, arg.reads, bound), node, scope)


def _default(node: A.Call, scope: Scope) -> Typed:
    """``default(value, fallback)``: the fallback when the value is an absent profile attribute
    (or a missing field), else the value. Its type is the value's."""
    if len(node.args) != 2:
        scope.diags.error(
            "JD301",
            f"default() takes 2 arguments, a value and its fallback, got {len(node.args)}",
            node.span,
            "e.g. default(profile.credit_limit, 0 VND)",
        )
        args = [checker.check_any(a, scope) for a in node.args]
        return Typed(ERROR, poison, False, reads_of(*args))
    value = checker.check_any(node.args[0], scope)
    fallback = checker.check_any(node.args[1], scope)
    t, ft = value.type, fallback.type
    if assignable(ft, t):
        check_enum_literal(t, node.args[1], scope)
    elif t.kind == "money" and ft.is_number:
        scope.diags.error(
            "JD303",
            f"the fallback is money ({t.currency}), not a plain number",
            node.args[1].span,
            f"write the amount with its currency, e.g. 0 {t.currency}",
        )
    else:
        scope.diags.error(
            "JD301",
            f"the fallback must be {article(t)}, like the value, not {article(ft)}",
            node.args[1].span,
            mismatch_hint(t, ft),
        )
    vf, ff = value.fn, fallback.fn

    def run(c: EvalContext, e: EventRecord | None) -> Any:
        v = vf(c, e)
        return ff(c, e) if is_absent(v) else v

    vb, fb = value.bound, fallback.bound
    typed = Typed(
        ft if t.is_error else t,
        run,
        value.const and fallback.const,
        reads_of(value, fallback),
        None if vb is None or fb is None else max(vb, fb),
        fallback.absent,
        fallback.optional,
    )
    template = "{1} if ({0} := {2}) is None or type({0}) is {3} else {0}"
    return coded(typed, template, Tmp(), fallback, value, K(Absent))
