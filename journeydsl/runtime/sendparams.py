"""Whether a send's params can go out: each has a value, of the type the journey was checked
with.

A param can still lack a value at run time: a profile attribute the customer's profile lacks,
read without a fallback, gives null (see :mod:`journeydsl.expr.absent`), and a profile may hold
text where the catalog says money. Such a message must be suppressed with a reason, not sent
with null or garbage. :func:`suppression_reason` gives that reason (None when the message may
go); the engine's delivery calls it with the send node and its evaluated (or decoded) params.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from journeydsl import ir
from journeydsl.expr.types import Type, article
from journeydsl.money import Money

__all__ = ["suppression_reason", "type_problem"]


def suppression_reason(node: ir.Send, params: Mapping[str, Any]) -> str | None:
    """Why the message of ``node`` with ``params`` must not be sent, or None: the first param
    (in the order the send gives them) that is null or not of its type."""
    for name, expr in node.params:
        problem = type_problem(params.get(name), expr.type)
        if problem is not None:
            return f"param '{name}' of template '{node.template}' {problem}"
    return None


def type_problem(value: Any, t: Type) -> str | None:
    """What is wrong with ``value`` as a value of type ``t`` ("has no value", "is a str, not
    money (VND)"), or None when nothing is."""
    if value is None:
        return "has no value"
    if t.is_error or _fits(value, t):
        return None
    return f"is {article(type(value).__name__)}, not {article(t)}"


def _fits(value: Any, t: Type) -> bool:
    match t.kind:
        case "bool":
            return isinstance(value, bool)
        case "int":
            return isinstance(value, int) and not isinstance(value, bool)
        case "decimal":
            return isinstance(value, int | Decimal) and not isinstance(value, bool)
        case "money":
            return isinstance(value, Money) and value.currency == t.currency
        case "string":
            return isinstance(value, str)
        case "enum":
            return isinstance(value, str) and (t.values is None or value in t.values)
        case "timestamp":
            return isinstance(value, datetime) and value.tzinfo is not None
        case "date":
            return isinstance(value, date) and not isinstance(value, datetime)
        case "time":
            return isinstance(value, time)
        case "duration":
            return isinstance(value, timedelta)
        case "list":
            return isinstance(value, list)
    return True
