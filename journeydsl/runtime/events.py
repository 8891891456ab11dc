"""Reading events: the JSON contract → typed :class:`EventRecord`, validated against the catalog.

A bad event is never allowed to crash the engine or poison an instance: :func:`coerce_event`
raises :class:`BadEvent` with a reason instead, and the engine quarantines it: an event of a type
the catalogs of the engine's journeys do not declare, a field of the wrong type, an enum value not
declared. Beyond the catalog's types, it refuses what would break a store or an expression later:
text that is not valid Unicode (a lone surrogate such as ``"\\ud800"``), non-finite numbers
(``NaN``, ``Infinity``), amounts of more than :data:`MAX_AMOUNT_DIGITS` digits before or after
the point, times outside :data:`EARLIEST` … :data:`LATEST`, ids longer than
:data:`MAX_ID_LENGTH` and ``data`` nested deeper than :data:`MAX_DATA_DEPTH`. A fraction in a
field the catalog does not type is kept as an exact :class:`~decimal.Decimal`.

Numbers and money. Event text is read with :func:`~journeydsl.jsonio.loads_exact` (by
:func:`parse_event_json` here, and by ``journeydsl run`` and ``simulate``): a JSON number with a
fraction is a Decimal with its digits as written, never a float. An amount may not use more
decimal places than its currency has (ISO 4217, :data:`~journeydsl.money.MINOR_UNITS`):
``1000000.5`` VND is refused, ``1000000.00`` VND is one million (trailing zeros are not
precision), and a currency not in the table takes any number of places. A float handed over
through the Python API is read as its shortest ``repr`` (``0.1`` is ``Decimal("0.1")``), the
digits a JSON writer would print for it; pass a Decimal or a string to say more.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import Type
from journeydsl.jsonio import (
    MAX_NUMBER_DIGITS,
    digits_written_out,
    loads_exact,
    nfc,
    valid_unicode,
)
from journeydsl.money import Money, places_beyond

__all__ = [
    "EARLIEST",
    "LATEST",
    "MAX_AMOUNT_DIGITS",
    "MAX_DATA_DEPTH",
    "MAX_ID_LENGTH",
    "BadEvent",
    "UnreadableEvent",
    "coerce_event",
    "event_id",
    "parse_event_json",
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
    if isinstance(raw, datetime):  # from the Python API: an aware datetime is taken as it is
        if raw.utcoffset() is None:
            raise BadEvent(
                f"{what} has no UTC offset: {raw.isoformat()!r} (give an aware datetime, "
                "e.g. datetime(…, tzinfo=ZoneInfo('Asia/Ho_Chi_Minh')))"
            )
        value = raw
    elif not isinstance(raw, str):
        raise BadEvent(f"{what} must be an ISO 8601 timestamp string")
    else:
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
        shown = raw if isinstance(raw, str) else value.isoformat()
        raise BadEvent(f"{what} is out of range: {shown!r} (events must be from 1900 to 2999)")
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
    if not valid_unicode(value):
        raise BadEvent(f"{what} is not valid Unicode text (it holds a lone surrogate)")
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
        elif isinstance(value, Decimal) and (
            not value.is_finite() or digits_written_out(value) > MAX_NUMBER_DIGITS
        ):
            # Only from the Python API: loads_exact refuses both. A store writes decimals out.
            raise BadEvent(
                f"'data' holds a number that is not finite or has more than "
                f"{MAX_NUMBER_DIGITS} digits ({value:.6})"
            )
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
    return valid_unicode("".join(texts))  # (if not, the slow path says which key or value)


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


def _places_fit(etype: str, name: str, amount: Decimal, currency: str) -> Decimal:
    """``amount`` when it uses no more decimal places than ``currency`` has (trailing zeros do
    not count); else :class:`BadEvent`. Rounding would change what the customer spent."""
    beyond = places_beyond(amount, currency)
    if beyond is not None:
        places, allowed = beyond
        unit = "place" if places == 1 else "places"
        raise BadEvent(
            f"{etype}.{name}: {amount:f} has {places} decimal {unit}; {currency} allows {allowed}"
        )
    return amount


def _field(etype: str, name: str, t: Type, raw: Any, data: Mapping[str, Any]) -> Any:
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
            # JSON numbers arrive as Decimal or int (loads_exact); str() keeps their digits, and
            # turns a float from the Python API into its shortest repr.
            amount = raw if type(raw) is Decimal else Decimal(str(raw))
        except InvalidOperation as exc:
            raise BadEvent(f"field '{name}' is not an amount: {raw!r}") from exc
        amount = _places_fit(etype, name, _finite(name, amount), t.currency or "")
        return Money(amount, t.currency or "")
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
        raw = nfc(raw)
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
    if type(raw) is UnreadableEvent:
        raise BadEvent(raw.reason)
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
    if schema is None and schemas:
        raise BadEvent(_unknown_type(etype, schemas))
    for name, value in typed.items():  # (the catalog's strings are composed in _field)
        if type(value) is str and not value.isascii():
            typed[name] = nfc(value)  # "Phở" composed or not: the same text to a condition
    if schema is not None:
        for name, t in schema.items():
            typed[name] = _field(etype, name, t, data.get(name), data)
    return EventRecord(customer, etype, at, typed)


def _unknown_type(etype: str, schemas: Mapping[str, Any]) -> str:
    """Why an event of a type the catalog does not declare is refused, with the close name."""
    hint = did_you_mean(etype, schemas)
    return f"unknown event type '{etype}': the events catalog does not declare it" + (
        f" ({hint})" if hint else ""
    )


class UnreadableEvent(dict[str, Any]):
    """What :func:`parse_event_json` returns for text that is not a JSON object:
    ``{"raw": the text}``, which :func:`coerce_event` refuses with :attr:`reason`, so that the
    engine quarantines it as it does any bad event (and never raises)."""

    __slots__ = ("reason",)

    def __init__(self, text: str, reason: str) -> None:
        super().__init__(raw=text)
        #: Why the text is not an event, e.g. ``not valid JSON (Expecting value: …)``.
        self.reason = reason


def parse_event_json(text: str | bytes) -> dict[str, Any]:
    """An event from its JSON text (one line of the contract), with every number exact:
    fractions become :class:`~decimal.Decimal`, never floats (see
    :func:`~journeydsl.jsonio.loads_exact`). Never raises: text that is not UTF-8, not JSON, or
    not a JSON object comes back as an :class:`UnreadableEvent` that :func:`coerce_event`
    refuses with the reason."""
    if not isinstance(text, str):
        blob = bytes(text)
        try:
            text = blob.decode("utf-8")
        except UnicodeDecodeError:
            return UnreadableEvent(blob.decode("utf-8", "replace"), "the text is not UTF-8")
    try:
        raw = loads_exact(text)
    except RecursionError:  # the JSON decoder recurses once per nesting level
        return UnreadableEvent(text, "the JSON nests too deeply")
    except ValueError as exc:
        return UnreadableEvent(text, f"not valid JSON ({exc})")
    if not isinstance(raw, dict):
        return UnreadableEvent(text, "an event is a JSON object")
    return raw


def _id_form(value: Any) -> Any:
    """How :func:`event_id` writes a value JSON has no form for. A decimal that a float holds
    exactly is written as that float, as when JSON numbers were read as floats: the ids of such
    events are unchanged, whether the number came from JSON or from a host's Decimal. A decimal
    that a float would round (``999999.99999999999999``) is written as its text, so that it no
    longer shares an id with the rounded number."""
    if isinstance(value, Decimal) and value.is_finite():
        as_float = float(value)
        if Decimal(repr(as_float)) == value:
            return as_float
    return str(value)


def event_id(raw: Mapping[str, Any]) -> str:
    """A stable id: the event's own ``id`` if it has one, else a hash of its content."""
    given = raw.get("id") if isinstance(raw, Mapping) else None
    if isinstance(given, str) and given:
        return given
    blob = json.dumps(raw, sort_keys=True, default=_id_form, ensure_ascii=False)
    # surrogatepass: an event holding a lone surrogate still gets an id (and is then quarantined).
    return hashlib.sha256(blob.encode("utf-8", "surrogatepass")).hexdigest()[:32]
