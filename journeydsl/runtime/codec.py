"""JSON encoding of runtime values, for instance state, the outbox and action records.

Money, timestamps, dates and durations round-trip exactly (no floats): ``{"$money": ["1000000",
"VND"]}``, ``{"$ts": "2026-01-05T10:00:00+07:00"}`` …. The state format is versioned
(:data:`STATE_FORMAT`); a loader refuses a record from a newer format instead of misreading it.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from journeydsl.money import Money

__all__ = ["STATE_FORMAT", "decode", "decode_map", "encode", "encode_map", "plain"]

#: Version of the persisted instance record. Bump with a migration note in docs/changelog.md.
STATE_FORMAT = 1


#: Values that every form below leaves as they are (checked by exact type: a hot path).
_PLAIN = frozenset({str, int, bool, type(None)})


def encode(value: Any) -> Any:
    """A JSON-safe form of a runtime value."""
    if type(value) in _PLAIN or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Money):
        return {"$money": [format(value.amount, "f"), value.currency]}
    if isinstance(value, Decimal):
        return {"$dec": format(value, "f")}
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime in journey state")
        return {"$ts": value.isoformat()}
    if isinstance(value, date):
        return {"$date": value.isoformat()}
    if isinstance(value, time):
        return {"$time": value.strftime("%H:%M")}
    if isinstance(value, timedelta):
        return {"$dur": int(value.total_seconds())}
    if isinstance(value, list | tuple):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    raise TypeError(f"cannot store a {type(value).__name__} in journey state")


def decode(value: Any) -> Any:
    """The runtime value of an :func:`encode`-d one."""
    if type(value) in _PLAIN:
        return value
    if isinstance(value, list):
        return [decode(v) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((tag, raw),) = value.items()
        if tag == "$money":
            return Money(Decimal(raw[0]), raw[1])
        if tag == "$dec":
            return Decimal(raw)
        if tag == "$ts":
            return datetime.fromisoformat(raw)
        if tag == "$date":
            return date.fromisoformat(raw)
        if tag == "$time":
            return time.fromisoformat(raw)
        if tag == "$dur":
            return timedelta(seconds=raw)
    return {k: decode(v) for k, v in value.items()}


def encode_map(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`encode` over a mapping."""
    return {k: v if type(v) in _PLAIN else encode(v) for k, v in values.items()}


def decode_map(values: Mapping[str, Any]) -> dict[str, Any]:
    """:func:`decode` over a mapping."""
    return {k: v if type(v) in _PLAIN else decode(v) for k, v in values.items()}


def plain(value: Any) -> Any:
    """A human-facing JSON form (reports, action files): money as ``{"amount", "currency"}``,
    times in ISO 8601, durations in seconds."""
    if type(value) in _PLAIN:
        return value
    if type(value) is dict:
        return {
            str(k): v if type(v) in _PLAIN else plain(v)
            for k, v in value.items()  # the usual case, without the isinstance chain
        }
    if isinstance(value, Money):
        return value.to_json()
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, timedelta):
        return int(value.total_seconds())
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    return value
