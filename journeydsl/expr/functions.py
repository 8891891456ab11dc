"""Function calls: ``date()``, ``hour()``, ``weekday()``, ``lower()``, ``upper()``, ``days()``."""

from __future__ import annotations

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr import checker
from journeydsl.expr.builtins import AGGREGATE_NAMES, FUNCTIONS
from journeydsl.expr.typed import Scope, Typed, poison, reads_of
from journeydsl.expr.types import ERROR, article, assignable

__all__ = ["check_call"]


def check_call(node: A.Call, scope: Scope) -> Typed:
    """``f(args)``."""
    spec = FUNCTIONS.get(node.func)
    args = [checker.check(a, scope) for a in node.args]
    reads = reads_of(*args)
    if spec is None:
        scope.diags.error(
            "JD209",
            f"unknown function '{node.func}'",
            node.span,
            did_you_mean(node.func, [*FUNCTIONS, *AGGREGATE_NAMES]),
        )
        return Typed(ERROR, poison, False, reads)
    params, result, impl = spec
    if len(args) != len(params):
        scope.diags.error(
            "JD301",
            f"{node.func}() takes {len(params)} argument(s), got {len(args)}",
            node.span,
        )
        return Typed(ERROR, poison, False, reads)
    for arg_node, arg, want in zip(node.args, args, params, strict=True):
        if not assignable(arg.type, want):
            scope.diags.error(
                "JD301",
                f"{node.func}() expects {article(want)}, got {article(arg.type)}",
                arg_node.span,
            )
    fns = [a.fn for a in args]
    return Typed(
        result,
        lambda c, e: impl(c, *[f(c, e) for f in fns]),
        False,  # date()/hour() depend on the customer's time zone: never folded
        reads,
    )
