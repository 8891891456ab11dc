"""Literals: numbers, amounts of money, durations and times of day, read and bounded."""

from __future__ import annotations

from datetime import time, timedelta
from decimal import ROUND_CEILING, Decimal, InvalidOperation

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.limits import MAX_DURATION, MAX_LITERAL_DIGITS, bounded
from journeydsl.expr.typed import ERR, Scope, Typed, const_fn
from journeydsl.expr.types import DECIMAL, DURATION, INT, TIME, Type, money
from journeydsl.money import Money

__all__ = [
    "MAX_DURATION",
    "MAX_LITERAL_DIGITS",
    "UNITS",
    "check_duration",
    "check_enum_literal",
    "check_money",
    "check_number",
    "check_time",
    "duration_value",
    "magnitude",
    "time_value",
]

#: Seconds in each duration unit.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_value(text: str) -> timedelta | None:
    """``"2d"`` → two days; None for an unknown unit or a length beyond :data:`MAX_DURATION`."""
    i = 0
    while i < len(text) and text[i].isdigit():
        i += 1
    unit = text[i:]
    if i == 0 or unit not in UNITS or i > 12:
        return None
    seconds = int(text[:i]) * UNITS[unit]
    if seconds > MAX_DURATION.total_seconds():
        return None
    return timedelta(seconds=seconds)


def time_value(text: str) -> time | None:
    """``"09:00"`` → 09:00; None when out of range or malformed."""
    hh, _, mm = text.partition(":")
    if not (hh.isdigit() and mm.isdigit()):
        return None
    h, m = int(hh), int(mm)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)


def magnitude(d: Decimal) -> int:
    """The smallest whole number at least ``|d|``: a literal's bound (see ``Typed.bound``)."""
    return int(abs(d).to_integral_value(rounding=ROUND_CEILING))


def _too_long(text: str, node: A.NumberLit | A.MoneyLit, scope: Scope) -> bool:
    digits = sum(c.isdigit() for c in text)
    if digits <= MAX_LITERAL_DIGITS:
        return False
    scope.diags.error(
        "JD105",
        f"the number {text[:12]}… has {digits:,} digits; at most {MAX_LITERAL_DIGITS} are allowed",
        node.span,
    )
    return True


def check_number(node: A.NumberLit, scope: Scope) -> Typed:
    """An ``int`` or ``decimal`` literal."""
    text = node.text.replace("_", "")
    if _too_long(text, node, scope):
        return ERR
    if "." in text:
        d = Decimal(text)
        return Typed(DECIMAL, const_fn(d), True, bound=magnitude(d))
    n = int(text)
    return bounded(Typed(INT, const_fn(n), True, bound=abs(n)), node, scope)


def check_money(node: A.MoneyLit, scope: Scope) -> Typed:
    """An amount of money: ``1_000_000 VND``."""
    if _too_long(node.amount, node, scope):
        return ERR
    try:
        amount = Decimal(node.amount.replace("_", ""))
    except InvalidOperation:
        scope.diags.error(
            "JD301",
            f"'{node.amount}' is not an amount",
            node.span,
            f"write digits, a decimal point if needed and _ between groups, "
            f"e.g. 1_000_000 {node.currency}",
        )
        return ERR
    value = Money(amount, node.currency)
    return bounded(
        Typed(money(node.currency), const_fn(value), True, bound=magnitude(amount)), node, scope
    )


def check_duration(node: A.DurationLit, scope: Scope) -> Typed:
    """A duration: ``30d``, ``12h``."""
    value = duration_value(node.text)
    if value is None:
        unit = node.text.lstrip("0123456789.")
        if unit in UNITS:
            scope.diags.error(
                "JD107",
                f"'{node.text}' is longer than a journey can wait (at most {MAX_DURATION.days}d)",
                node.span,
            )
        else:
            scope.diags.error(
                "JD107",
                f"unknown duration unit '{unit}' in '{node.text}'",
                node.span,
                "use s, m, h, d or w (e.g. 30d, 12h)",
            )
        return ERR
    return Typed(DURATION, const_fn(value), True)


def check_time(node: A.TimeLit, scope: Scope) -> Typed:
    """A time of day: ``09:00``."""
    value = time_value(node.text)
    if value is None:
        scope.diags.error(
            "JD108",
            f"'{node.text}' is not a time of day",
            node.span,
            "write HH:MM with hours 00-23 and minutes 00-59",
        )
        return ERR
    return Typed(TIME, const_fn(value), True)


def check_enum_literal(enum_t: Type, lit: A.Expr, scope: Scope) -> None:
    """Report a string literal (or an if-then-else of them) that is not a value of ``enum_t``."""
    if isinstance(lit, A.Cond):
        check_enum_literal(enum_t, lit.then, scope)
        check_enum_literal(enum_t, lit.otherwise, scope)
        return
    if enum_t.kind != "enum" or not isinstance(lit, A.StringLit) or enum_t.values is None:
        return
    if lit.value not in enum_t.values:
        scope.diags.error(
            "JD306",
            f"'{lit.value}' is not one of the values of this enum",
            lit.span,
            did_you_mean(lit.value, enum_t.values)
            or f"expected one of: {', '.join(enum_t.values)}",
        )
