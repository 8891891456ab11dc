"""Reading events: the JSON contract → typed :class:`EventRecord`, validated against the catalog.

A bad event is never allowed to crash the engine or poison an instance: :func:`coerce_event`
returns a reason instead, and the engine quarantines it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import Type
from journeydsl.money import Money

__all__ = ["BadEvent", "coerce_event", "event_id"]


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
    return value


def _field(name: str, t: Type, raw: Any, data: Mapping[str, Any]) -> Any:
    if raw is None:
        return None
    kind = t.kind
    if kind == "money":
        if isinstance(raw, bool) or not isinstance(raw, int | str | Decimal | float):
            raise BadEvent(f"field '{name}' must be an amount")
        currency = data.get("currency", t.currency)
        if currency != t.currency:
            raise BadEvent(
                f"field '{name}' is declared in {t.currency} but the event is in {currency}"
            )
        try:
            # JSON numbers arrive as float or int; str() keeps the written digits exactly.
            return Money(Decimal(str(raw)), t.currency or "")
        except InvalidOperation as exc:
            raise BadEvent(f"field '{name}' is not an amount: {raw!r}") from exc
    if kind == "int":
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise BadEvent(f"field '{name}' must be an integer")
        return raw
    if kind == "decimal":
        try:
            return Decimal(str(raw))
        except InvalidOperation as exc:
            raise BadEvent(f"field '{name}' is not a number: {raw!r}") from exc
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
        try:
            return date.fromisoformat(str(raw))
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
    at = _parse_time(raw.get("at"), "'at'")
    data = raw.get("data", {})
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise BadEvent("'data' must be an object")
    schema = schemas.get(etype)
    typed: dict[str, Any] = dict(data)
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
    return hashlib.sha256(blob.encode()).hexdigest()[:32]
