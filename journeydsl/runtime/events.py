"""Reading events: the JSON contract → typed :class:`EventRecord`, validated against the catalog.

A bad event is never allowed to crash the engine or poison an instance: :func:`coerce_event`
raises :class:`BadEvent` with a reason instead, and the engine quarantines it. Beyond the catalog's
types, it refuses what would break a store or an expression later: text that is not valid Unicode
(a lone surrogate such as ``"\\ud800"``), non-finite numbers (``NaN``, ``Infinity``), amounts of
more than :data:`MAX_AMOUNT_DIGITS` digits before or after the point, times outside
:data:`EARLIEST` … :data:`LATEST`, ids longer than :data:`MAX_ID_LENGTH` and ``data`` nested
deeper than :data:`MAX_DATA_DEPTH`. A fraction in a field the catalog does not type is kept as an
exact :class:`~decimal.Decimal`.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import Type
from journeydsl.money import Money

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_AMOUNT_DIGITS",
    "MAX_DATA_DEPTH",
    "MAX_ID_LENGTH",
    "BadEvent",
    "coerce_event",
    "event_id",
]

#: Events and timestamp fields must fall in this range: far enough from datetime's limits that
#: every duration a journey may add (at most ten years) stays representable.
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(3000, 1, 1, tzinfo=UTC)
#: The most digits an amount or decimal may have before the point, and after it.
MAX_AMOUNT_DIGITS = 30
#: The longest ``customer_id`` and ``type`` accepted (they become parts of idempotency keys).
MAX_ID_LENGTH = 256
#: How deeply ``data`` may nest (the contract's events are flat).
MAX_DATA_DEPTH = 16


class BadEvent(ValueError):  # noqa: N818 - the domain term; "BadEventError" reads worse
    """An event that does not match the contract or the catalog."""


def _parse_time(raw: Any, what: str) -> datetime:
    if not isinstance(raw, str):
        raise BadEvent(f"{what} must be an ISO 8601 timestamp string")
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadEvent(f"{what} is not an ISO 8601 timestamp: {raw!r}") from exc
    if value.tzinfo is None:
        raise BadEvent(f"{what} has no UTC offset: {raw!r} (write e.g. +07:00)")
    if 1901 <= value.year <= 2998:  # inside whatever the offset (compared without utcoffset)
        return value
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # year 1 or 9999 with an offset: beyond datetime's range in UTC
        inside = False
    if not inside:
        raise BadEvent(f"{what} is out of range: {raw!r} (events must be from 1900 to 2999)")
    return value


def _finite(name: str, value: Decimal) -> Decimal:
    if not value.is_finite():
        raise BadEvent(f"field '{name}' is not a finite number: {value}")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)  # a finite Decimal's exponent is an int
    if value.adjusted() >= MAX_AMOUNT_DIGITS or -exponent > MAX_AMOUNT_DIGITS:
        raise BadEvent(
            f"field '{name}' has more than {MAX_AMOUNT_DIGITS} digits before or after the point"
        )
    return value


def _checked_text(value: str, what: str) -> str:
    if value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadEvent(f"{what} is not valid Unicode text (it holds a lone surrogate)") from None
    return value


def _check_data(data: Mapping[str, Any]) -> None:
    """Refuse ``data`` that a store or an expression could not handle: invalid text, non-finite
    numbers, nesting deeper than :data:`MAX_DATA_DEPTH`. Iterative, so depth cannot hurt."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _checked_text(value, "a value in 'data'")
        elif isinstance(value, float) and not math.isfinite(value):
            raise BadEvent(f"'data' holds a number that is not finite ({value})")
        elif isinstance(value, Mapping | list):
            if depth > MAX_DATA_DEPTH:
                raise BadEvent(f"'data' nests more than {MAX_DATA_DEPTH} levels deep")
            if isinstance(value, Mapping):
                for k, v in value.items():
                    _checked_text(str(k), "a key in 'data'")
                    stack.append((v, depth + 1))
            else:
                stack.extend((v, depth + 1) for v in value)


_PLAIN = frozenset({str, int, bool, type(None)})
#: Whole amounts below this need no digit count (see :func:`_finite`).
_AMOUNT_LIMIT = 10**MAX_AMOUNT_DIGITS
_TEXT = frozenset({str})


def _plain(data: dict[Any, Any]) -> bool:
    """Whether ``data`` is flat, with text keys and only text, integers, booleans and nulls
    (no fraction for :func:`_exact` to turn exact), all valid Unicode: what
    :func:`_check_data` would accept, decided without a Python-level loop."""
    if not (_PLAIN.issuperset(map(type, data.values())) and _TEXT.issuperset(map(type, data))):
        return False
    texts = [v for v in data.values() if type(v) is str]
    texts.extend(data)
    try:
        "".join(texts).encode("utf-8")
    except UnicodeEncodeError:
        return False  # the slow path says which key or value
    return True


def _exact(value: Any) -> Any:
    """A field the catalog does not type, with its JSON fractions as exact decimals: a float
    could not be kept in an instance's state (an entry event's data becomes its trigger), and
    journeydsl keeps no floats. ``data`` is already bounded in depth by :func:`_check_data`."""
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, list):
        return [_exact(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _exact(v) for k, v in value.items()}
    return value


def _field(name: str, t: Type, raw: Any, data: Mapping[str, Any]) -> Any:
    if raw is None:
        return None
    kind = t.kind
    if kind == "money":
        if (
            type(raw) is int
            and -_AMOUNT_LIMIT < raw < _AMOUNT_LIMIT
            and data.get("currency", t.currency) == t.currency  # else the message below
        ):
            return Money(Decimal(raw), t.currency or "")
        if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
            raise BadEvent(f"field '{name}' must be an amount")
        currency = data.get("currency", t.currency)
        if currency != t.currency:
            raise BadEvent(
                f"field '{name}' is declared in {t.currency} but the event is in {currency}"
            )
        try:
            # JSON numbers arrive as float or int; str() keeps the written digits exactly.
            amount = Decimal(str(raw))
        except InvalidOperation as exc:
            raise BadEvent(f"field '{name}' is not an amount: {raw!r}") from exc
        return Money(_finite(name, amount), t.currency or "")
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadEvent(f"field '{name}' must be an integer")
        return raw
    if kind == "decimal":
        if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
            raise BadEvent(f"field '{name}' must be a number")
        try:
            number = Decimal(str(raw))
        except InvalidOperation as exc:
            raise BadEvent(f"field '{name}' is not a number: {raw!r}") from exc
        return _finite(name, number)
    if kind == "bool":
        if not isinstance(raw, bool):
            raise BadEvent(f"field '{name}' must be true or false")
        return raw
    if kind in ("string", "enum"):
        if not isinstance(raw, str):
            raise BadEvent(f"field '{name}' must be a string")
        if kind == "enum" and t.values is not None and raw not in t.values:
            raise BadEvent(f"field '{name}' is {raw!r}, not one of {', '.join(t.values)}")
        return raw
    if kind == "timestamp":
        return _parse_time(raw, f"field '{name}'")
    if kind == "date":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        if not isinstance(raw, str):
            raise BadEvent(f"field '{name}' must be a date string such as 2026-01-05")
        try:
            return date.fromisoformat(raw)
        except ValueError as exc:
            raise BadEvent(f"field '{name}' is not a date: {raw!r}") from exc
    return raw


def coerce_event(raw: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Type]]) -> EventRecord:
    """A typed event from its JSON form; raises :class:`BadEvent` with a reason."""
    if not isinstance(raw, Mapping):
        raise BadEvent("an event is a JSON object")
    customer = raw.get("customer_id")
    if not isinstance(customer, str) or not customer:
        raise BadEvent("'customer_id' must be a non-empty string")
    etype = raw.get("type")
    if not isinstance(etype, str) or not etype:
        raise BadEvent("'type' must be a non-empty string")
    for what, text in (("'customer_id'", customer), ("'type'", etype)):
        _checked_text(text, what)
        if len(text) > MAX_ID_LENGTH:
            raise BadEvent(f"{what} is longer than {MAX_ID_LENGTH} characters")
    at = _parse_time(raw.get("at"), "'at'")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise BadEvent("'data' must be an object")
    typed: dict[str, Any]
    if type(data) is dict and _plain(data):
        typed = data.copy()  # the common case: flat, no fractions, valid text (checked in C)
    else:
        _check_data(data)
        typed = {k: _exact(v) for k, v in data.items()}
    schema = schemas.get(etype)
    if schema is not None:
        for name, t in schema.items():
            typed[name] = _field(name, t, data.get(name), data)
    return EventRecord(customer, etype, at, typed)


def event_id(raw: Mapping[str, Any]) -> str:
    """A stable id: the event's own ``id`` if it has one, else a hash of its content."""
    given = raw.get("id") if isinstance(raw, Mapping) else None
    if isinstance(given, str) and given:
        return given
    blob = json.dumps(raw, sort_keys=True, default=str, ensure_ascii=False)
    # surrogatepass: an event holding a lone surrogate still gets an id (and is then quarantined).
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]
