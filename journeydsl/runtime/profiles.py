"""The profile contract of DESIGN.md: one customer's profile as a JSON object, and a JSON Lines
file of them, read exactly (numbers as :class:`~decimal.Decimal`, never through a float).

``{"customer_id", "attributes"?, "consent"?, "timezone"?, "tags"?}``: consent maps channel names
to booleans (a channel not listed has no consent); an empty time zone means the journey's."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, NamedTuple

from journeydsl.ast import CHANNELS
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact, nfc, numbered_lines
from journeydsl.money import places_beyond
from journeydsl.runtime.protocols import Profile

__all__ = [
    "ProfileLine",
    "ProfilesLoaded",
    "attribute_problem",
    "attribute_types",
    "parse_profile",
    "read_profiles_jsonl",
]


@dataclass(frozen=True, slots=True)
class ProfileLine:
    """One line of a profiles JSON Lines file: the profile, or why the line was refused."""

    line: int
    profile: Profile | None
    error: str | None = None


class ProfilesLoaded(NamedTuple):
    """What a store's ``load_profiles_jsonl`` did: how many profiles it loaded, the lines it
    skipped (``file:line: reason``), and the customers of the profiles loaded, in file order."""

    loaded: int
    problems: list[str]
    customers: list[str]


def parse_profile(raw: Any, attribute_types: Mapping[str, Type] | None = None) -> Profile:
    """A :class:`Profile` from its JSON contract form; raises ``ValueError`` with a reason.

    ``{"customer_id", "attributes"?, "consent"?, "timezone"?, "tags"?}``: consent maps channel
    names to booleans (a channel not listed has no consent); the time zone defaults to
    Asia/Ho_Chi_Minh and must be an IANA name. With ``attribute_types`` (the catalogs'
    attributes), each attribute they declare must have their type (:func:`attribute_problem`).
    """
    if not isinstance(raw, Mapping):
        raise ValueError("a profile is a JSON object")
    customer = raw.get("customer_id")
    if not isinstance(customer, str) or not customer:
        raise ValueError("'customer_id' must be a non-empty string")
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ValueError("'attributes' must be an object")
    # Composed text (NFC), as events and literals: "Hà Nội" matches however it was typed.
    attributes = {k: nfc(v) if type(v) is str else v for k, v in attributes.items()}
    for name, t in (attribute_types or {}).items():
        problem = attribute_problem(name, attributes.get(name), t)
        if problem is not None:
            raise ValueError(problem)
    consent = raw.get("consent") or {}
    if not isinstance(consent, Mapping) or not all(isinstance(v, bool) for v in consent.values()):
        raise ValueError("'consent' must map channel names to true or false")
    for channel in consent:  # (a misspelt channel would silently mean no consent on the real one)
        if channel not in CHANNELS:
            hint = did_you_mean(str(channel), CHANNELS)
            raise ValueError(
                f"'consent' names no channel {channel!r} (the channels: {', '.join(CHANNELS)})"
                + (f" — {hint}" if hint else "")
            )
    tz = raw.get("timezone") or ""  # empty: the journey's time zone
    if not isinstance(tz, str):
        raise ValueError("'timezone' must be a string such as Asia/Ho_Chi_Minh")
    try:
        if tz:
            zoneinfo.ZoneInfo(tz)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError) as exc:  # "Asia" is a folder
        raise ValueError(f"unknown time zone {tz!r} (use an IANA name)") from exc
    tags = raw.get("tags") or []
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ValueError("'tags' must be a list of strings")
    return Profile(customer, attributes, dict(consent), tz, frozenset(map(nfc, tags)))


def attribute_types(journeys: Iterable[Any]) -> dict[str, Type]:
    """The profile attributes the catalogs of ``journeys`` (compiled journeys) declare, with
    their types (the first journey's declaration of a name wins)."""
    found: dict[str, Type] = {}
    for journey in journeys:
        for name, t in journey.attribute_types.items():
            found.setdefault(name, t)
    return found


def attribute_problem(name: str, value: Any, t: Type) -> str | None:
    """Why ``value`` cannot be the profile attribute ``name`` of type ``t`` as the catalog
    declares it, or None when it can (null, or absent, always can: the attribute is then absent).
    A text ``"false"`` is no bool, a text is no amount unless it is a number, an amount may not
    use more decimal places than its currency has: such a value would make a journey decide on
    something the bank did not mean."""
    if value is None:
        return None
    kind = t.kind
    shown = json.dumps(value, ensure_ascii=False, default=str)
    if len(shown) > 60:
        shown = shown[:57] + "…"
    if kind == "bool" and not isinstance(value, bool):
        return f"attribute '{name}' must be true or false, not {shown}"
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        return f"attribute '{name}' must be a whole number, not {shown}"
    if kind in ("string", "enum") and not isinstance(value, str):
        return f"attribute '{name}' must be a string, not {shown}"
    if kind == "enum" and t.values is not None and value not in t.values:
        return f"attribute '{name}' is {shown}, not one of {', '.join(t.values)}"
    if kind in ("money", "decimal"):
        what = f"an amount in {t.currency}" if kind == "money" else "a number"
        if isinstance(value, bool) or not isinstance(value, int | str | Decimal | float):
            return f"attribute '{name}' must be {what}, not {shown}"
        try:
            amount = Decimal(str(value))
        except InvalidOperation:
            return f"attribute '{name}' must be {what}, not {shown}"
        if not amount.is_finite():
            return f"attribute '{name}' must be {what}, not {shown}"
        beyond = places_beyond(amount, t.currency or "") if kind == "money" else None
        if beyond is not None:
            return (
                f"attribute '{name}': {amount:f} has more decimal places than {t.currency} "
                f"allows ({beyond[1]})"
            )
    if kind == "timestamp" and getattr(_iso(datetime, value), "tzinfo", None) is None:
        return (
            f"attribute '{name}' must be a time with its UTC offset, such as "
            f"2026-01-05T09:00:00+07:00, not {shown}"
        )
    if kind == "date" and _iso(date, value) is None:
        return f"attribute '{name}' must be a date such as 2026-01-05, not {shown}"
    return None


def _iso(kind: type[date], value: Any) -> date | None:
    """``value`` read as ISO text of ``kind`` (``date`` or ``datetime``), or None."""
    try:
        return kind.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None


def read_profiles_jsonl(
    path: str | Path, attribute_types: Mapping[str, Type] | None = None
) -> Iterator[ProfileLine]:
    """The profiles of a JSON Lines file (blank lines skipped), one :class:`ProfileLine` each
    (with ``attribute_types``, a line whose declared attributes have the wrong type is refused:
    see :func:`parse_profile`)."""
    with open(path, "rb") as f:
        for number, blob in numbered_lines(f):
            if not blob.strip():
                continue
            try:
                raw = loads_exact(blob.decode("utf-8"))
                # A lone surrogate (\ud800) decodes from JSON but is not text anyone can store.
                json.dumps(raw, ensure_ascii=False, default=str).encode("utf-8")
                yield ProfileLine(number, parse_profile(raw, attribute_types))
            except UnicodeError:
                yield ProfileLine(number, None, "the line is not valid UTF-8 text")
            except RecursionError:
                yield ProfileLine(number, None, "the line is nested too deeply")
            except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                yield ProfileLine(number, None, str(exc))
