"""The built-in names and functions of the expression language, as tables: their types and their
implementations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from journeydsl.expr.context import EvalContext, Fn
from journeydsl.expr.types import DATE, DURATION, INT, STRING, TIMESTAMP, Type

__all__ = ["AGGREGATE_NAMES", "BUILTINS", "BUILTIN_FNS", "FUNCTIONS"]

#: Names every expression can read.
BUILTINS: dict[str, Type] = {
    "now": TIMESTAMP,
    "entered_at": TIMESTAMP,
    "customer_id": STRING,
    "journey_id": STRING,
    "journey_version": INT,
}

BUILTIN_FNS: dict[str, Fn] = {
    "now": lambda ctx, ev: ctx.now,
    "entered_at": lambda ctx, ev: ctx.entered_at,
    "customer_id": lambda ctx, ev: ctx.customer_id,
    "journey_id": lambda ctx, ev: ctx.journey_id,
    "journey_version": lambda ctx, ev: ctx.journey_version,
}


def _local_date(ctx: EvalContext, ts: datetime) -> Any:
    return ts.astimezone(ctx.tz).date()


#: Plain functions: name → (argument types, result type, implementation taking ctx first).
FUNCTIONS: dict[str, tuple[tuple[Type, ...], Type, Callable[..., Any]]] = {
    "date": ((TIMESTAMP,), DATE, _local_date),
    "hour": ((TIMESTAMP,), INT, lambda ctx, ts: ts.astimezone(ctx.tz).hour),
    "weekday": ((TIMESTAMP,), INT, lambda ctx, ts: ts.astimezone(ctx.tz).isoweekday()),
    "lower": ((STRING,), STRING, lambda ctx, s: s.lower()),
    "upper": ((STRING,), STRING, lambda ctx, s: s.upper()),
    "days": ((INT,), DURATION, lambda ctx, n: timedelta(days=n)),
}
#: The aggregates, which look like calls (for did-you-mean hints).
AGGREGATE_NAMES = ("count", "has", "sum", "min", "max", "last", "top")
