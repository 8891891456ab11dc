"""Printing expressions (and the small header values built from them) with the fewest
parentheses the grammar needs: the expression half of :mod:`journeydsl.syntax.printer`."""

from __future__ import annotations

import re

from journeydsl.ast import (
    Aggregate,
    Attr,
    Binary,
    BoolLit,
    Call,
    Cond,
    DateLit,
    DurationLit,
    Expr,
    ListExpr,
    MoneyLit,
    Name,
    NumberLit,
    Reentry,
    StringLit,
    TimeLit,
    TimestampLit,
    Unary,
    Window,
)

__all__ = ["BINARY_PREC", "expr_text", "print_expr", "quote", "reentry_text"]

# --------------------------------------------------------------------------- expressions

# Binding strength, loosest first; mirrors the ``?expr`` … ``?atom`` ladder of grammar.lark.
_COND, _OR, _AND, _NOT, _COMPARE, _SUM, _PRODUCT, _NEG, _POSTFIX, _ATOM = range(10)

_COMPARE_OPS = frozenset({"==", "!=", "<", "<=", ">", ">=", "in"})
BINARY_PREC: dict[str, int] = {
    "or": _OR,
    "and": _AND,
    **dict.fromkeys(_COMPARE_OPS, _COMPARE),
    "+": _SUM,
    "-": _SUM,
    "*": _PRODUCT,
    "/": _PRODUCT,
    "%": _PRODUCT,
}
_LAST_RE = re.compile(r"last\b")
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\t": "\\t"}


def print_expr(expr: Expr) -> str:
    """``expr`` as DSL source, parenthesized only where the grammar needs it."""
    return expr_text(expr, _COND)


def quote(value: str) -> str:
    return '"' + "".join(_ESCAPES.get(ch, ch) for ch in value) + '"'


def _prec(expr: Expr) -> int:
    match expr:
        case Cond():
            return _COND
        case Binary(op=op):
            try:
                return BINARY_PREC[op]
            except KeyError:
                raise ValueError(f"unknown binary operator {op!r}") from None
        case Unary(op="not"):
            return _NOT
        case Unary():
            return _NEG
        case Attr():
            return _POSTFIX
        case _:
            return _ATOM


def expr_text(expr: Expr, min_prec: int) -> str:
    """``expr`` in a position that binds at least as tightly as ``min_prec``."""
    text = _bare(expr)
    return f"({text})" if _prec(expr) < min_prec else text


def _bare(expr: Expr) -> str:
    match expr:
        case BoolLit(value=value):
            return "true" if value else "false"
        case NumberLit(text=text) | DurationLit(text=text) | TimeLit(text=text):
            return text
        case DateLit(text=text) | TimestampLit(text=text):
            return text
        case StringLit(value=value):
            return quote(value)
        case MoneyLit(amount=amount, currency=currency):
            return f"{amount} {currency}"
        case Name(name=name):
            return name
        case Attr(obj=obj, name=name):
            return f"{expr_text(obj, _POSTFIX)}.{name}"
        case Unary(op="not", operand=operand):
            return f"not {expr_text(operand, _NOT)}"
        case Unary(operand=operand):
            return f"-{expr_text(operand, _NEG)}"
        case Binary(op=op, left=left, right=right):
            prec = _prec(expr)
            # Comparisons are non-associative; the others are left-associative.
            left_min = prec + 1 if prec == _COMPARE else prec
            right_text = expr_text(right, prec + 1)
            if op == "in" and _LAST_RE.match(right_text):
                # `a in last(...)` would lex as the window keyword `in last`.
                right_text = f"({right_text})"
            return f"{expr_text(left, left_min)} {op} {right_text}"
        case Cond(test=test, then=then, otherwise=otherwise):
            return f"if {print_expr(test)} then {print_expr(then)} else {print_expr(otherwise)}"
        case ListExpr(items=items):
            return "[" + ", ".join(map(print_expr, items)) + "]"
        case Call(func=func, args=args):
            return f"{func}(" + ", ".join(map(print_expr, args)) + ")"
        case Aggregate():
            return _aggregate(expr)
    raise TypeError(f"not an expression: {expr!r}")


def _aggregate(agg: Aggregate) -> str:
    parts = [print_expr(agg.target)]
    if agg.by is not None:
        if agg.by.func == "count":
            parts.append("by count")
        else:
            assert agg.by.field is not None, "by sum(...) needs a field"
            parts.append(f"by sum({print_expr(agg.by.field)})")
    if agg.where is not None:
        parts.append(f"where {print_expr(agg.where)}")
    if agg.window is not None:
        parts.append(_window(agg.window))
    if agg.default is not None:
        parts.append(f"else {print_expr(agg.default)}")
    return f"{agg.func}(" + " ".join(parts) + ")"


def _window(window: Window) -> str:
    if window.kind == "last":
        assert window.duration is not None, "'in last' needs a duration"
        duration = print_expr(window.duration)
        # The lexer reads `in last (` on one line as `in` and a call of the aggregate `last(…)`
        # (IN_LAST in grammar.lark), so `count(x in last (a + b) * 1d)` would be
        # `count((x in last(a + b)) * 1d)`. No parentheses help a duration that starts with
        # one (the first must stay, and more only add another in front), so it goes on the next
        # line, where `in last` is the window keyword again.
        gap = "\n" if duration.startswith("(") else " "
        return f"in last{gap}{duration}"
    assert window.anchor is not None, "'since' needs an anchor"
    # The grammar's anchor is a postfix expression; `entry` is a keyword there.
    text = f"since {expr_text(window.anchor, _POSTFIX)}"
    if window.duration is not None:
        text += f" within {print_expr(window.duration)}"
    return text


def reentry_text(reentry: Reentry) -> str:
    if reentry.kind == "after":
        assert reentry.after is not None, "'reentry after' needs a duration"
        return f"after {print_expr(reentry.after)}"
    return reentry.kind
