"""Operators: comparisons, ``in``, ``and``/``or``/``not``, arithmetic, negation,
``if … then … else`` and list literals."""

from __future__ import annotations

import operator
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from journeydsl import ast as A
from journeydsl.expr import checker
from journeydsl.expr.absent import Absent
from journeydsl.expr.codegen import K, Tmp, coded
from journeydsl.expr.context import EvalContext, EventRecord, Fn
from journeydsl.expr.hints import mismatch_hint, not_bool_hint
from journeydsl.expr.limits import (
    bounded,
    bounded_duration,
    checked_amount,
    checked_int,
    concat,
    duration_arith,
    multiply_ints,
)
from journeydsl.expr.literals import check_enum_literal
from journeydsl.expr.typed import ERR, Scope, Typed, poison, reads_of
from journeydsl.expr.types import (
    BOOL,
    DECIMAL,
    DURATION,
    ERROR,
    INT,
    STRING,
    Type,
    article,
    list_of,
    unify,
)
from journeydsl.money import Money

__all__ = ["COMPARISONS", "check_binary", "check_cond", "check_list", "check_unary"]

#: The comparison operators, by their spelling in the language.
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERED = ("int", "decimal", "money", "duration", "timestamp", "date", "time", "string", "enum")


def _comparable(a: Type, b: Type, op: str, node: A.Binary, scope: Scope) -> bool:
    if a.is_error or b.is_error:
        return True
    if a.is_number and b.is_number:
        return True
    if a.kind == "money" and b.kind == "money":
        if a.currency != b.currency:
            scope.diags.error(
                "JD302",
                f"cannot compare {a.currency} with {b.currency}",
                node.span,
                "amounts are compared in one currency; convert one side first",
            )
            return False
        return True
    if (a.kind == "money" and b.is_number) or (a.is_number and b.kind == "money"):
        cur = a.currency or b.currency
        scope.diags.error(
            "JD303",
            f"cannot compare money ({cur}) with a plain number",
            node.span,
            f"write the amount with its currency, e.g. 1_000_000 {cur}",
        )
        return False
    if a.is_stringy and b.is_stringy:
        return True
    if a == b and (op in ("==", "!=") or a.kind in _ORDERED):
        return True
    scope.diags.error(
        "JD305", f"cannot compare {a} with {b} using '{op}'", node.span, _compare_hint(a, b)
    )
    return False


def _compare_hint(a: Type, b: Type) -> str:
    """The hint of JD305: the side written as text is usually the mistake (``>= "1000000"``)."""
    if a.is_stringy and not b.is_stringy:
        return mismatch_hint(b, a)
    return mismatch_hint(a, b)


def _arith(op: str, a: Type, b: Type) -> Type | None:
    k = (a.kind, b.kind)
    if a.is_number and b.is_number:
        if op == "/":
            return DECIMAL
        if op == "%":
            return INT if k == ("int", "int") else None
        return INT if k == ("int", "int") else DECIMAL
    if op in "+-":
        if k == ("money", "money") and a.currency == b.currency:
            return a
        if k in (("timestamp", "duration"), ("date", "duration")):
            return a
        if op == "+" and k == ("duration", "timestamp"):
            return b
        if k == ("duration", "duration"):
            return DURATION
        if op == "-" and k in (("timestamp", "timestamp"), ("date", "date")):
            return DURATION
        if op == "+" and a.is_stringy and b.is_stringy:
            return STRING
    if op == "*":
        if a.kind == "money" and b.is_number:
            return a
        if a.is_number and b.kind == "money":
            return b
        if a.kind == "duration" and b.kind == "int":
            return DURATION
        if a.kind == "int" and b.kind == "duration":
            return DURATION
    if op == "/":
        if a.kind == "money" and b.is_number:
            return a
        if k == ("money", "money") and a.currency == b.currency:
            return DECIMAL
        if a.kind == "duration" and b.kind == "int":
            return DURATION
    return None


def _div(x: Any, y: Any) -> Any:
    if isinstance(x, Money):
        if isinstance(y, Money):
            return x.amount / y.amount
        return Money(x.amount / Decimal(y), x.currency)
    if isinstance(x, timedelta):
        return x / y
    return Decimal(x) / Decimal(y)


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _div,
    "%": operator.mod,
}


def _no_arith(op: str, lt: Type, rt: Type, node: A.Binary, scope: Scope) -> Typed:
    """Report operands that ``op`` does not take."""
    mixes_money = (lt.kind == "money") != (rt.kind == "money")
    if mixes_money and (lt.is_number or rt.is_number) and op in "+-":
        cur = lt.currency or rt.currency
        scope.diags.error(
            "JD303",
            f"cannot {'add' if op == '+' else 'subtract'} a plain number "
            f"{'to' if op == '+' else 'from'} money ({cur})",
            node.span,
            f"write the amount with its currency, e.g. 50_000 {cur}",
        )
        return ERR
    if lt.kind == "money" and rt.kind == "money":
        if lt.currency == rt.currency:
            scope.diags.error(
                "JD301",
                f"cannot apply '{op}' to two amounts of money",
                node.span,
                "multiply or divide money by a plain number, e.g. amount * 2",
            )
        else:
            scope.diags.error(
                "JD302",
                f"cannot combine {lt.currency} with {rt.currency} using '{op}'",
                node.span,
                "amounts are combined in one currency; convert one side first",
            )
        return ERR
    scope.diags.error(
        "JD301",
        f"cannot apply '{op}' to {lt} and {rt}",
        node.span,
        "'+' and '-' take numbers, money in one currency, durations, and a timestamp or date "
        "with a duration; '*' and '/' scale money or a duration by a number",
    )
    return ERR


def check_binary(node: A.Binary, scope: Scope) -> Typed:
    """A binary operator."""
    op = node.op
    # An absent attribute has a meaning in a condition, a comparison and on the left of `in`
    # (false); arithmetic needs values.
    if op in COMPARISONS or op in ("and", "or"):
        left, right = checker.check_any(node.left, scope), checker.check_any(node.right, scope)
    elif op == "in":
        left, right = checker.check_any(node.left, scope), checker.check(node.right, scope)
    else:
        left, right = checker.check(node.left, scope), checker.check(node.right, scope)
    reads = reads_of(left, right)
    const = left.const and right.const
    lt, rt = left.type, right.type
    lf, rf = left.fn, right.fn
    if op in ("and", "or"):
        for side, t in ((node.left, lt), (node.right, rt)):
            if not t.is_error and t != BOOL:
                scope.diags.error(
                    "JD304",
                    f"'{op}' needs bool operands, this is {article(t)}",
                    side.span,
                    not_bool_hint(t),
                )
        if op == "and":
            both = Typed(BOOL, lambda c, e: bool(lf(c, e)) and bool(rf(c, e)), const, reads)
            return coded(both, "bool({0}) and bool({1})", left, right)
        either = Typed(BOOL, lambda c, e: bool(lf(c, e)) or bool(rf(c, e)), const, reads)
        return coded(either, "bool({0}) or bool({1})", left, right)
    if op in COMPARISONS:
        if not _comparable(lt, rt, op, node, scope):
            return Typed(ERROR, poison, False, reads)
        check_enum_literal(lt, node.right, scope)
        check_enum_literal(rt, node.left, scope)
        cmp = COMPARISONS[op]
        if left.missing or right.missing or left.absent or right.absent:
            # (an absent attribute, or a field the event did not carry: equal to nothing)
            typed = Typed(BOOL, _compare_missing(cmp, op == "!=", lf, rf), const, reads)
            a, b = Tmp(), Tmp()
            template = (
                "{2} if (type({3} := {0}) in {5}) | (type({4} := {1}) in {5}) else {3} OP {4}"
            )
            return coded(
                typed, template.replace("OP", op), left, right, K(op == "!="), a, b, K(_MISSING)
            )
        typed = Typed(BOOL, lambda c, e: cmp(lf(c, e), rf(c, e)), const, reads)
        return coded(typed, "{0} OP {1}".replace("OP", op), left, right)
    if op == "in":
        if rt.is_error or lt.is_error:
            return Typed(BOOL, poison, False, reads)
        if rt.kind != "list" or rt.item is None:
            scope.diags.error(
                "JD301",
                f"'in' needs a list on its right, not {rt}",
                node.right.span,
                'write the values in brackets, e.g. profile.segment in ["gold", "platinum"]',
            )
            return Typed(ERROR, poison, False, reads)
        if not (unify(lt, rt.item) or rt.item.is_error):
            scope.diags.error(
                "JD305",
                f"cannot look for {article(lt)} in a list of {rt.item}",
                node.span,
                mismatch_hint(rt.item, lt),
            )
        if isinstance(node.right, A.ListExpr):
            for item in node.right.items:
                check_enum_literal(lt, item, scope)
        return coded(
            Typed(BOOL, lambda c, e: lf(c, e) in rf(c, e), const, reads), "{0} in {1}", left, right
        )
    if lt.is_error or rt.is_error:
        return Typed(ERROR, poison, False, reads)
    result = _arith(op, lt, rt)
    if result is None:
        return _no_arith(op, lt, rt, node, scope)
    fn = _compile_arith(op, result, rt, lf, rf, node)
    typed = Typed(result, fn, const, reads, _bound(op, result, left.bound, right.bound))
    if result == DURATION:
        return bounded_duration(_arith_code(typed, op, rt, left, right, node), node, scope)
    return bounded(_arith_code(typed, op, rt, left, right, node), node, scope)


#: What a value that is not there may be: an absent attribute's marker, or None (a field the
#: event did not carry).
_MISSING = frozenset({Absent, type(None)})


def _compare_missing(cmp: Callable[[Any, Any], bool], unequal: bool, lf: Fn, rf: Fn) -> Fn:
    """A comparison where a side may be an absent attribute or a field the event did not carry
    (None), which equals nothing and orders with nothing: ``!=`` is then true and every other
    comparison false."""

    def run(c: EvalContext, e: EventRecord | None) -> bool:
        a, b = lf(c, e), rf(c, e)
        if type(a) in _MISSING or type(b) in _MISSING:
            return unequal
        return cmp(a, b)

    return run


def _compile_arith(op: str, result: Type, rt: Type, lf: Fn, rf: Fn, node: A.Binary) -> Fn:
    """The closure of an arithmetic operator. What can grow past a limit (text, whole numbers,
    money) is checked, before it is built when building it could be costly."""
    if result.is_stringy:
        return lambda c, e: concat(lf(c, e), rf(c, e), node)
    fn = _ARITH[op]
    if result.kind == "int" and op == "*":
        return lambda c, e: multiply_ints(lf(c, e), rf(c, e), node)
    if result.kind == "int" and op in "+-":
        return lambda c, e: checked_int(fn(lf(c, e), rf(c, e)), node)
    if result.kind == "money":
        return lambda c, e: checked_amount(fn(lf(c, e), rf(c, e)), node)
    if _builds_duration(op, result, rt):
        return lambda c, e: duration_arith(op, lf(c, e), rf(c, e), node)
    if result == DECIMAL and op != "/":
        return lambda c, e: fn(Decimal(lf(c, e)), Decimal(rf(c, e)))
    if op == "/" and rt.is_number:

        def safe_div(c: EvalContext, e: EventRecord | None) -> Any:
            return _div(lf(c, e), rf(c, e))

        return safe_div
    return lambda c, e: fn(lf(c, e), rf(c, e))


def _builds_duration(op: str, result: Type, rt: Type) -> bool:
    """Whether ``op`` builds a duration from durations and whole numbers (which can pass what
    a duration holds: :func:`duration_arith`), not from two times."""
    return result == DURATION and op in "+-*" and rt.kind in ("duration", "int")


def _arith_code(
    typed: Typed, op: str, rt: Type, left: Typed, right: Typed, node: A.Binary
) -> Typed:
    """``typed`` (made by :func:`_compile_arith`) with the code of the same computation."""
    result = typed.type
    if result.is_stringy:
        return coded(typed, "{2}({0}, {1}, {3})", left, right, K(concat), K(node), meters=True)
    if result.kind == "int" and op == "*":
        return coded(typed, "{2}({0}, {1}, {3})", left, right, K(multiply_ints), K(node))
    plain = "{0} OP {1}".replace("OP", op) if op in "+-*%" else None
    if result.kind == "int" and op in "+-":
        return coded(typed, "{2}(" + f"{plain}" + ", {3})", left, right, K(checked_int), K(node))
    if result.kind == "money":
        if plain is None:  # (money / number)
            return coded(
                typed, "{2}({3}({0}, {1}), {4})", left, right, K(checked_amount), K(_div), K(node)
            )
        return coded(typed, "{2}(" + f"{plain}" + ", {3})", left, right, K(checked_amount), K(node))
    if _builds_duration(op, result, rt):
        return coded(
            typed, "{2}({3}, {0}, {1}, {4})", left, right, K(duration_arith), K(op), K(node)
        )
    if result == DECIMAL and op != "/" and plain is not None:
        return coded(typed, "{2}({0}) OP {2}({1})".replace("OP", op), left, right, K(Decimal))
    if (op == "/" and rt.is_number) or plain is None:
        return coded(typed, "{2}({0}, {1})", left, right, K(_div))
    return coded(typed, plain, left, right)


def _bound(op: str, result: Type, a: int | None, b: int | None) -> int | None:
    """An upper bound of the result's size from the operands' (see ``Typed.bound``)."""
    if a is None or b is None:
        return None
    if result.is_stringy:
        return a + b
    if result.kind not in ("int", "decimal", "money"):
        return None
    if op in "+-":
        return a + b
    if op == "*":
        return a * b
    if op == "%":
        return b
    return None  # a quotient can be as large as the divisor is small


def check_unary(node: A.Unary, scope: Scope) -> Typed:
    """``not x`` or ``-x``."""
    inner = (checker.check_any if node.op == "not" else checker.check)(node.operand, scope)
    f = inner.fn
    t = inner.type
    if node.op == "not":
        if not t.is_error and t != BOOL:
            scope.diags.error(
                "JD304",
                f"'not' needs a bool, this is {article(t)}",
                node.operand.span,
                not_bool_hint(t),
            )
        return coded(
            Typed(BOOL, lambda c, e: not f(c, e), inner.const, inner.reads), "not {0}", inner
        )
    if not t.is_error and not (t.is_number or t.kind in ("money", "duration")):
        scope.diags.error(
            "JD301",
            f"cannot negate {article(t)}",
            node.span,
            "only numbers, money and durations have a minus; a condition is negated with `not`",
        )
        return ERR
    return coded(
        Typed(t, lambda c, e: -f(c, e), inner.const, inner.reads, inner.bound), "-{0}", inner
    )


def check_cond(node: A.Cond, scope: Scope) -> Typed:
    """``if C then A else B``."""
    test = checker.check_bool(node.test, scope)
    a = checker.check_any(node.then, scope)
    b = checker.check_any(node.otherwise, scope)
    t = unify(a.type, b.type)
    if t is None:
        scope.diags.error(
            "JD301",
            f"the branches of this if have different types: {a.type} and {b.type}",
            node.span,
            mismatch_hint(a.type, b.type),
        )
        t = ERROR
    tf, af, bf = test.fn, a.fn, b.fn
    typed = Typed(
        t,
        lambda c, e: af(c, e) if tf(c, e) else bf(c, e),
        test.const and a.const and b.const,
        reads_of(test, a, b),
        None if a.bound is None or b.bound is None else max(a.bound, b.bound),
        a.absent or b.absent,
        (a.absent is not None and a.optional) or (b.absent is not None and b.optional),
    )
    return coded(typed, "{1} if {0} else {2}", test, a, b)


def check_list(node: A.ListExpr, scope: Scope) -> Typed:
    """``[a, b, …]``: items of one type."""
    items = [checker.check(i, scope) for i in node.items]
    item_t: Type = ERROR
    for i, typed in zip(node.items, items, strict=True):
        u = unify(item_t, typed.type)
        if u is None:
            scope.diags.error(
                "JD301",
                f"list items must have one type: {item_t} and {typed.type}",
                i.span,
                mismatch_hint(item_t, typed.type),
            )
        else:
            item_t = u
    fns = [i.fn for i in items]
    typed = Typed(
        list_of(item_t),
        lambda c, e: [f(c, e) for f in fns],
        all(i.const for i in items),
        reads_of(*items),
        len(items),
    )
    template = "[" + ", ".join(f"{{{n}}}" for n in range(len(items))) + "]"
    return bounded(coded(typed, template, *items), node, scope)
