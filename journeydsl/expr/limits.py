"""Limits on the values expressions build, and on the work of one evaluation.

A journey must not be able to hurt the host that runs it. Expressions always terminate, but
without limits ``set s = s + s`` forty times builds a string of tens of gigabytes, and ``set n =
n * n`` forty times an integer of billions of digits. So:

* every value an operator or function **builds** is bounded: a string by
  :data:`MAX_STRING_LENGTH` characters, a whole number by ``|n| < MAX_INT``, an amount of money by
  ``|amount| < MAX_AMOUNT``, a list literal by :data:`MAX_LIST_ITEMS` items. The size is checked
  *before* the value is built (for ``s + t``, ``len(s) + len(t)``; for ``n * m``, the bit
  lengths), and an evaluation that would pass a limit raises :class:`ExpressionLimitError`,
  which names the limit and the expression. (Values read as they are — a trigger field, a
  profile attribute — are not refused; what is built from them is.)
* one evaluation of a root expression (a condition, a param, a ``set`` value) may build at most
  :data:`MAX_EVAL_CHARS` characters of text in all (:func:`metered`), so an expression cannot
  spend its way around the per-value limit by building many large strings, for instance in an
  aggregate's ``where`` evaluated once per event.
* decimals are bounded by Python's decimal context: 28 significant digits, and an overflow error
  rather than a huge value past about 10^999999.

The type checker sees the same limits where it can: constants and the ``set`` statements over
them carry an upper bound (``Typed.bound``), and a bound past a limit is JD308 at compile time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any, Final

from journeydsl import ast as A
from journeydsl.expr.context import EvalContext, EventRecord, Fn
from journeydsl.expr.typed import Scope, Typed, poison
from journeydsl.expr.types import ERROR, Type
from journeydsl.money import Money

__all__ = [
    "MAX_AMOUNT",
    "MAX_DURATION",
    "MAX_EVAL_CHARS",
    "MAX_INT",
    "MAX_LIST_ITEMS",
    "MAX_LITERAL_DIGITS",
    "MAX_STRING_LENGTH",
    "DurationLimitError",
    "ExpressionLimitError",
    "bounded",
    "bounded_duration",
    "builds_text",
    "charge",
    "checked_amount",
    "checked_int",
    "checked_text",
    "concat",
    "count_nodes",
    "describe_excess",
    "duration_arith",
    "metered",
    "multiply_ints",
    "wait_length",
    "wait_too_long",
]

#: The longest string an expression may build, in characters (64 Ki).
MAX_STRING_LENGTH: Final = 65_536
#: The most items a list literal may have.
MAX_LIST_ITEMS: Final = 10_000
#: Whole numbers built by expressions stay strictly between ``-MAX_INT`` and ``MAX_INT`` (2^63).
MAX_INT: Final = 2**63
#: Amounts of money built by expressions stay strictly between ``-MAX_AMOUNT`` and
#: ``MAX_AMOUNT``: at most 30 digits before the point, as in events.
MAX_AMOUNT: Final = 10**30
#: The characters of text one evaluation of one expression may build in all (16 Mi).
MAX_EVAL_CHARS: Final = 16 * 1024 * 1024
#: Number and amount literals may have at most this many digits. Larger ones are surely mistakes,
#: and refusing them keeps int() (which refuses more than 4,300 digits) and Decimal arithmetic
#: on the exact path.
MAX_LITERAL_DIGITS: Final = 30
#: The longest duration a journey may use: waits and windows beyond it are surely mistakes, and
#: bounding them keeps timestamp arithmetic far from datetime's limits.
MAX_DURATION: Final = timedelta(days=3660)

#: Compile-time bounds past this are forgotten (treated as unknown) so that bound arithmetic
#: itself stays cheap; it is far past every limit.
BOUND_CAP: Final = 2**130

_SHOWN = 60  # characters of the expression's source an error message quotes


class ExpressionLimitError(ValueError):
    """An evaluation would build a value past one of the limits of this module: ``limit`` is the
    limit's name (``"MAX_STRING_LENGTH"``), ``source`` the expression's source text.

    ``str(error)``: "`s + s` would build a string of 98,304 characters; the limit is 65,536
    characters (MAX_STRING_LENGTH)"."""

    def __init__(self, built: str, allowed: str, limit: str, node: A.Expr) -> None:
        self.limit = limit
        self.source = _source(node)
        super().__init__(f"`{self.source}` would build {built}; the limit is {allowed} ({limit})")


class DurationLimitError(ValueError):
    """A wait (or a wait's ``within``) whose length, known only at run time, is longer than
    :data:`MAX_DURATION`, or a duration built at run time past what a duration can hold
    (:func:`duration_arith`): ``str(error)`` says so in words, ``days`` is the length in whole
    days (either way)."""

    def __init__(self, message: str, days: int) -> None:
        super().__init__(message)
        self.days = days


def wait_too_long(days: int) -> DurationLimitError:
    """The error of a wait ``days`` long, past :data:`MAX_DURATION`."""
    return DurationLimitError(
        f"wait of {days:,} days is longer than the {MAX_DURATION.days:,} days a wait may last",
        days,
    )


def wait_length(length: timedelta) -> timedelta:
    """``length``, the length of a wait computed at run time, or :class:`DurationLimitError`
    when it is longer than :data:`MAX_DURATION` either way (a due time so far off would be
    past what a date holds, or surely a mistake)."""
    if -MAX_DURATION <= length <= MAX_DURATION:
        return length
    raise wait_too_long(abs(length) // timedelta(days=1))


_MICROSECOND = timedelta(microseconds=1)
_DAY_MICROSECONDS = 86_400_000_000


def duration_arith(op: str, a: Any, b: Any, node: A.Expr) -> Any:
    """``a OP b`` where the result is a duration (``d * n``, ``n * d``, ``d + d``, ``d - d``),
    or :class:`DurationLimitError` with its length in days when it is past what a duration
    holds (about 2.7 million years: ``1d * n`` with ``n`` near 10^10), rather than Python's
    overflow. A wait that gets such a length ends as a wait past :data:`MAX_DURATION` does."""
    try:
        if op == "*":
            return a * b
        return a + b if op == "+" else a - b
    except OverflowError:
        if op == "*":
            d, n = (a, b) if isinstance(a, timedelta) else (b, a)
            micros = (d // _MICROSECOND) * n
        else:
            micros = a // _MICROSECOND + (b if op == "+" else -b) // _MICROSECOND
        days = abs(micros) // _DAY_MICROSECONDS
        raise DurationLimitError(
            f"`{_source(node)}` would build a duration of {days:,} days, longer than any "
            f"duration can be (a journey waits at most {MAX_DURATION.days:,} days)",
            days,
        ) from None


def _source(node: A.Expr) -> str:
    # Printed only when an error is raised: the hot path never formats anything.
    from journeydsl.syntax.printer import print_expr

    text = print_expr(node)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


# --------------------------------------------------------------------------- values


def concat(a: str, b: str, node: A.Expr) -> str:
    """``a + b``, refused before it is built when it would pass :data:`MAX_STRING_LENGTH`."""
    n = len(a) + len(b)
    if n > MAX_STRING_LENGTH:
        raise _too_long(n, node)
    charge(n, node)
    return a + b


def checked_text(text: str, node: A.Expr) -> str:
    """``text``, or :class:`ExpressionLimitError` past :data:`MAX_STRING_LENGTH` (``upper()``
    checks its argument first: case mapping never shortens a string)."""
    if len(text) <= MAX_STRING_LENGTH:
        return text
    raise _too_long(len(text), node)


def _too_long(n: int, node: A.Expr) -> ExpressionLimitError:
    return ExpressionLimitError(
        f"a string of {n:,} characters",
        f"{MAX_STRING_LENGTH:,} characters",
        "MAX_STRING_LENGTH",
        node,
    )


def checked_int(n: int, node: A.Expr) -> int:
    """``n``, or :class:`ExpressionLimitError` when ``|n| >= MAX_INT``."""
    if -MAX_INT < n < MAX_INT:
        return n
    raise _too_big(n.bit_length(), node)


def _too_big(bits: int, node: A.Expr, at_least: str = "") -> ExpressionLimitError:
    return ExpressionLimitError(
        f"a whole number of {at_least}{bits} bits", "63 bits and a sign (2^63)", "MAX_INT", node
    )


def multiply_ints(a: int, b: int, node: A.Expr) -> int:
    """``a * b``, refused from the bit lengths alone when the product is surely too large (so a
    huge operand is never multiplied), then checked exactly."""
    bits = a.bit_length() + b.bit_length()
    if bits > 64:  # |a*b| >= 2^(bits-2) >= 2^63
        raise _too_big(bits - 1, node, "at least ")
    return checked_int(a * b, node)


def checked_amount(m: Money, node: A.Expr) -> Money:
    """``m``, or :class:`ExpressionLimitError` when ``|amount| >= MAX_AMOUNT``. (Decimal
    arithmetic rounds to 28 digits, so building the amount first costs nothing.)"""
    if m.amount.copy_abs() < MAX_AMOUNT:  # abs() would round to the context's 28 digits
        return m
    raise ExpressionLimitError(
        f"an amount of {m.amount.adjusted() + 1} digits before the point",
        "30 digits (10^30)",
        "MAX_AMOUNT",
        node,
    )


# --------------------------------------------------------------------------- the budget


class _Meter(threading.local):
    """The text one evaluation (in this thread) may still build."""

    active = False
    left = 0


_METER = _Meter()


def charge(n: int, node: A.Expr) -> None:
    """Spend ``n`` characters of the current evaluation's budget (nothing outside one)."""
    meter = _METER
    if not meter.active:
        return
    meter.left -= n
    if meter.left < 0:
        raise ExpressionLimitError(
            f"more than {MAX_EVAL_CHARS:,} characters of text in one evaluation",
            f"{MAX_EVAL_CHARS:,} characters",
            "MAX_EVAL_CHARS",
            node,
        )


def metered(fn: Fn) -> Fn:
    """``fn`` evaluated under a fresh budget of :data:`MAX_EVAL_CHARS` characters. Only root
    expressions are metered (an inner one shares its root's budget)."""

    def run(ctx: EvalContext, ev: EventRecord | None) -> object:
        meter = _METER
        if meter.active:
            return fn(ctx, ev)
        meter.active = True
        meter.left = MAX_EVAL_CHARS
        try:
            return fn(ctx, ev)
        finally:
            meter.active = False

    return run


def _children(expr: A.Expr) -> Iterator[A.Expr]:
    match expr:
        case A.Attr():
            yield expr.obj
        case A.Unary():
            yield expr.operand
        case A.Binary():
            yield from (expr.left, expr.right)
        case A.Cond():
            yield from (expr.test, expr.then, expr.otherwise)
        case A.ListExpr():
            yield from expr.items
        case A.Call():
            yield from expr.args
        case A.Aggregate():
            yield expr.target
            if expr.by is not None and expr.by.field is not None:
                yield expr.by.field
            window = expr.window
            parts = [expr.where, expr.default]
            if window is not None:
                parts += [window.anchor, window.duration]
            yield from (p for p in parts if p is not None)


def count_nodes(expr: A.Expr) -> int:
    """The nodes of ``expr``'s tree: what checking it costs."""
    n = 0
    stack = [expr]
    while stack:
        n += 1
        stack.extend(_children(stack.pop()))
    return n


def builds_text(expr: A.Expr) -> bool:
    """Whether ``expr`` may build text (a ``+`` or ``upper()``/``lower()`` somewhere in it), so
    that its evaluation needs a budget (:func:`metered`)."""
    stack = [expr]
    while stack:
        node = stack.pop()
        if (isinstance(node, A.Binary) and node.op == "+") or (
            isinstance(node, A.Call) and node.func in ("upper", "lower")
        ):
            return True
        stack.extend(_children(node))
    return False


# --------------------------------------------------------------------------- compile time


def bounded(typed: Typed, node: A.Expr, scope: Scope) -> Typed:
    """``typed``, after reporting JD308 when its bound passes a limit. The bound is then
    forgotten, so that one excess gives one diagnostic, not one at every later step."""
    bound = typed.bound
    if bound is None:
        return typed
    excess = describe_excess(typed.type, bound)
    if excess is None:
        return typed if bound <= BOUND_CAP else replace(typed, bound=None)
    what, limit = excess
    scope.diags.error(
        "JD308",
        f"{what}: {limit}",
        node.span,
        "at run time this evaluation would fail and end the customer's instance with an error; "
        "a `set` that grows a variable from itself (s = s + s, n = n * n) multiplies its size "
        "every time",
    )
    return replace(typed, bound=None)


def bounded_duration(typed: Typed, node: A.Expr, scope: Scope) -> Typed:
    """``typed``, a duration built by arithmetic, after reporting JD107 when it is constant and
    longer than :data:`MAX_DURATION` (or longer than any duration can be): a wait of that length
    would end every instance with an error. It is then an error value, so that the excess is
    reported once."""
    if not typed.const or typed.type.kind != "duration":
        return typed
    try:
        value = typed.fn(None, None)  # type: ignore[arg-type]  # constants ignore context
    except (ArithmeticError, ValueError):  # past what a timedelta holds
        length = "longer than any duration can be"
    else:
        if not isinstance(value, timedelta) or -MAX_DURATION <= value <= MAX_DURATION:
            return typed
        length = f"{abs(value) // timedelta(days=1):,} days long"
    scope.diags.error(
        "JD107",
        f"this duration is {length}; a journey waits at most {MAX_DURATION.days}d",
        node.span,
        "a wait, a window or a `reentry after` this long is surely a mistake; at run time the "
        "wait would end the customer's instance with an error",
    )
    return Typed(ERROR, poison, False, typed.reads)


def describe_excess(t: Type, bound: int) -> tuple[str, str] | None:
    """When a value of type ``t`` that may reach ``bound`` passes a limit: what it is, and the
    limit, for JD308 (None when it stays within the limits, or ``t`` has none)."""
    if t.is_stringy and bound > MAX_STRING_LENGTH:
        return (
            f"this string can be {_amount(bound)} characters long",
            f"strings are limited to {MAX_STRING_LENGTH:,} characters",
        )
    if t.kind == "int" and bound >= MAX_INT:
        return (
            f"this whole number can reach {_amount(bound)}",
            "whole numbers must stay below 2^63 (about 9.2 * 10^18)",
        )
    if t.kind == "money" and bound >= MAX_AMOUNT:
        return (
            f"this amount can reach {_amount(bound)} {t.currency}",
            "amounts must stay below 10^30",
        )
    if t.kind == "list" and bound > MAX_LIST_ITEMS:
        return (f"this list has {bound:,} items", f"lists hold at most {MAX_LIST_ITEMS:,}")
    return None


def _amount(n: int) -> str:
    if n < 10**7:
        return f"{n:,}"
    return f"about 10^{len(str(n)) - 1}"
