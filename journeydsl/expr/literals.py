"""Literals: numbers, amounts of money, durations and times of day, read and bounded."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import ROUND_CEILING, Decimal, InvalidOperation
from typing import Any, Final
from zoneinfo import ZoneInfo

from journeydsl import ast as A
from journeydsl.calendars import local_instant
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.codegen import K, coded
from journeydsl.expr.limits import MAX_DURATION, MAX_LITERAL_DIGITS, bounded
from journeydsl.expr.typed import ERR, Scope, Typed, constant
from journeydsl.expr.types import DATE, DECIMAL, DURATION, INT, TIME, TIMESTAMP, Type, money
from journeydsl.jsonio import nfc
from journeydsl.money import Money

__all__ = [
    "MAX_DURATION",
    "MAX_LITERAL_DIGITS",
    "UNITS",
    "check_date",
    "check_duration",
    "check_enum_literal",
    "check_money",
    "check_number",
    "check_time",
    "check_timestamp",
    "date_value",
    "duration_value",
    "magnitude",
    "time_value",
]

#: Seconds in each duration unit.
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def duration_value(text: str) -> timedelta | None:
    """``"2d"`` → two days; None for an unknown unit or a length beyond :data:`MAX_DURATION`."""
    i = 0
    while i < len(text) and "0" <= text[i] <= "9":
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
    if not (hh.isascii() and hh.isdigit() and mm.isascii() and mm.isdigit()):
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
        return constant(DECIMAL, d, magnitude(d))
    n = int(text)
    return bounded(constant(INT, n, abs(n)), node, scope)


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
    return bounded(constant(money(node.currency), value, magnitude(amount)), node, scope)


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
    return constant(DURATION, value)


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
    return constant(TIME, value)


_TIMESTAMP_RE = re.compile(
    r"(\d{4}-\d{2}-\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2}|\[([^\]]*)\])?"
)


#: The years a date or timestamp literal may name: those events may be dated in (1900 to 2999).
#: Further out, an instant's UTC time, or the next day of a schedule, can leave the years a
#: datetime holds (9999-12-31T23:59 in New York is in the year 10000 in UTC, 0001-01-01T00:00 in
#: Ho Chi Minh City in the year 0), and every customer's instance would end with an error.
FIRST_YEAR: Final = 1900
LAST_YEAR: Final = 2999


def date_value(text: str) -> date | str:
    """``"2026-01-15"`` → that date; for a date the calendar does not have, or one outside
    :data:`FIRST_YEAR` … :data:`LAST_YEAR`, why not."""
    y, m, d = (int(p) for p in text.split("-"))
    if not 1 <= m <= 12:
        return f"there is no month {m}"
    if not FIRST_YEAR <= y <= LAST_YEAR:
        return (
            f"the year {y} is out of range (dates run from {FIRST_YEAR} to {LAST_YEAR}, "
            "as events do)"
        )
    last = calendar.monthrange(y, m)[1]
    if not 1 <= d <= last:
        return f"{calendar.month_name[m]} {y} has {last} days"
    return date(y, m, d)


def check_date(node: A.DateLit, scope: Scope) -> Typed:
    """A calendar date: ``2026-01-15``."""
    value = date_value(node.text)
    if isinstance(value, str):
        scope.diags.error(
            "JD117", f"'{node.text}' is not a date: {value}", node.span, "write YYYY-MM-DD"
        )
        return ERR
    return constant(DATE, value)


def _timestamp_error(node: A.TimestampLit, scope: Scope, why: str, hint: str) -> Typed:
    scope.diags.error("JD117", f"'{node.text}' is not a timestamp: {why}", node.span, hint)
    return ERR


def check_timestamp(node: A.TimestampLit, scope: Scope) -> Typed:
    """A point in time: ``2026-01-15T09:00`` in the customer's zone (the journey's for a
    customer without one), or with an offset (``+07:00``, ``Z``) or a zone (``[Europe/Berlin]``).
    A local time the zone skips or repeats is read as ``wait until`` reads it."""
    m = _TIMESTAMP_RE.fullmatch(node.text)
    assert m is not None, node.text  # the grammar's token
    day = date_value(m[1])
    if isinstance(day, str):
        return _timestamp_error(node, scope, day, "write YYYY-MM-DDTHH:MM")
    h, mi, sec = int(m[2]), int(m[3]), int(m[4] or 0)
    if h > 23 or mi > 59 or sec > 59:
        return _timestamp_error(
            node, scope, "the time of day is out of range", "hours 00-23, minutes 00-59"
        )
    clock = time(h, mi, sec)
    suffix, zone_name = m[5], m[6]
    if suffix is None:
        local = Typed(TIMESTAMP, lambda ctx, ev: local_instant(day, clock, ctx.tz), False)
        return coded(local, "{0}({1}, {2}, c.tz)", K(local_instant), K(day), K(clock))
    if zone_name is not None:
        try:
            tz: Any = ZoneInfo(zone_name)
        except Exception:
            return _timestamp_error(
                node, scope, f"unknown time zone '{zone_name}'", "e.g. [Asia/Ho_Chi_Minh]"
            )
        return constant(TIMESTAMP, local_instant(day, clock, tz))
    if suffix == "Z":
        tz = UTC
    else:
        oh, om = int(suffix[1:3]), int(suffix[4:6])
        if oh > 23 or om > 59:
            return _timestamp_error(node, scope, "the offset is out of range", "e.g. +07:00")
        sign = -1 if suffix[0] == "-" else 1
        tz = timezone(sign * timedelta(hours=oh, minutes=om))
    return constant(TIMESTAMP, datetime.combine(day, clock, tz))


def check_enum_literal(enum_t: Type, lit: A.Expr, scope: Scope) -> None:
    """Report a string literal (or an if-then-else of them) that is not a value of ``enum_t``."""
    if isinstance(lit, A.Cond):
        check_enum_literal(enum_t, lit.then, scope)
        check_enum_literal(enum_t, lit.otherwise, scope)
        return
    if enum_t.kind != "enum" or not isinstance(lit, A.StringLit) or enum_t.values is None:
        return
    if nfc(lit.value) not in enum_t.values:
        scope.diags.error(
            "JD306",
            f"'{lit.value}' is not one of the values of this enum",
            lit.span,
            did_you_mean(lit.value, enum_t.values)
            or f"expected one of: {', '.join(enum_t.values)}",
        )
