"""Type-check an expression and compile it to a closure, in one walk.

:func:`check` returns a :class:`Typed`: the expression's type, a closure that evaluates it
(``fn(ctx, event)``), whether it is constant, and the journey variables it reads. Expressions are
checked once at compile time; the runtime only ever calls the closures.

This module is the front door and the dispatch; each kind of expression is checked by the module
of its job: :mod:`~journeydsl.expr.literals`, :mod:`~journeydsl.expr.names` (variables, profile
attributes, event fields), :mod:`~journeydsl.expr.operators`, :mod:`~journeydsl.expr.functions`
and :mod:`~journeydsl.expr.aggregates`.
"""

from __future__ import annotations

from journeydsl import ast as A
from journeydsl.expr import aggregates, functions, literals, names, operators
from journeydsl.expr.absent import AbsentUse, as_condition, settle
from journeydsl.expr.builtins import BUILTINS, FUNCTIONS
from journeydsl.expr.hints import mismatch_hint, not_bool_hint
from journeydsl.expr.limits import bounded
from journeydsl.expr.literals import (
    MAX_DURATION,
    MAX_LITERAL_DIGITS,
    check_enum_literal,
    duration_value,
    time_value,
)
from journeydsl.expr.typed import Scope, Typed, constant, poison
from journeydsl.expr.types import BOOL, ERROR, STRING, Type, article, assignable
from journeydsl.jsonio import nfc

__all__ = [
    "BUILTINS",
    "FUNCTIONS",
    "MAX_DURATION",
    "MAX_LITERAL_DIGITS",
    "AbsentUse",
    "Scope",
    "Typed",
    "check",
    "check_any",
    "check_bool",
    "check_enum_literal",
    "check_type",
    "duration_value",
    "time_value",
]


def check(expr: A.Expr, scope: Scope, *, absent: AbsentUse = "error") -> Typed:
    """Type-check ``expr`` in ``scope``, reporting problems to ``scope.diags``. A value that may
    be an absent profile attribute is settled as ``absent`` says (see
    :mod:`journeydsl.expr.absent`): by default it is needed, so an optional attribute without a
    fallback is JD309, and an absent one stops the evaluation with a clear error."""
    return settle(check_any(expr, scope), expr, scope, absent)


def check_any(expr: A.Expr, scope: Scope) -> Typed:
    """Type-check ``expr`` where an absent profile attribute has a meaning (a comparison, a
    condition, a fallback): its closure may return an :class:`~journeydsl.expr.absent.Absent`
    marker, and ``Typed.absent`` says so."""
    match expr:
        case A.BoolLit(value=v):
            return constant(BOOL, v)
        case A.NumberLit():
            return literals.check_number(expr, scope)
        case A.StringLit(value=v):
            # Composed (NFC), as events and profiles are read: "Hà Nội" typed either way matches.
            return bounded(constant(STRING, nfc(v), len(v)), expr, scope)
        case A.MoneyLit():
            return literals.check_money(expr, scope)
        case A.DurationLit():
            return literals.check_duration(expr, scope)
        case A.TimeLit():
            return literals.check_time(expr, scope)
        case A.DateLit():
            return literals.check_date(expr, scope)
        case A.TimestampLit():
            return literals.check_timestamp(expr, scope)
        case A.Name():
            return names.check_name(expr, scope)
        case A.Attr():
            return names.check_attr(expr, scope)
        case A.Unary():
            return operators.check_unary(expr, scope)
        case A.Binary():
            return operators.check_binary(expr, scope)
        case A.Cond():
            return operators.check_cond(expr, scope)
        case A.ListExpr():
            return operators.check_list(expr, scope)
        case A.Call():
            return functions.check_call(expr, scope)
        case A.Aggregate():
            return aggregates.check_aggregate(expr, scope)
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


def check_bool(expr: A.Expr, scope: Scope) -> Typed:
    """Check a condition: it must be a bool. An absent attribute in it counts as false."""
    typed = check_any(expr, scope)
    if not typed.type.is_error and typed.type != BOOL:
        scope.diags.error(
            "JD304",
            f"a condition must be true or false, this is {article(typed.type)}",
            expr.span,
            not_bool_hint(typed.type),
        )
        return Typed(ERROR, poison, False, typed.reads)
    return as_condition(typed)


def check_type(
    expr: A.Expr,
    scope: Scope,
    want: Type,
    what: str,
    code: str = "JD301",
    absent: AbsentUse = "error",
) -> Typed:
    """Check ``expr`` and require a value assignable to ``want`` (``what`` names the slot;
    ``code`` is the diagnostic for a plain type mismatch; ``absent`` as for :func:`check`)."""
    typed = check(expr, scope, absent=absent)
    if not assignable(typed.type, want):
        if want.kind == "money" and typed.type.is_number:
            scope.diags.error(
                "JD303",
                f"{what} is money ({want.currency}), not a plain number",
                expr.span,
                f"write the amount with its currency, e.g. 1_000_000 {want.currency}",
            )
        elif want.kind == "money" and typed.type.kind == "money":
            scope.diags.error(
                "JD302",
                f"{what} is in {want.currency}, not {typed.type.currency}",
                expr.span,
                mismatch_hint(want, typed.type),
            )
        else:
            scope.diags.error(
                code,
                f"{what} must be {article(want)}, not {article(typed.type)}",
                expr.span,
                mismatch_hint(want, typed.type),
            )
        return Typed(ERROR, poison, False, typed.reads)
    if want.kind == "enum":
        check_enum_literal(want, expr, scope)
    return typed
