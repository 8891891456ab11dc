"""Recorded inputs: events and profiles as JSON Lines (the DESIGN.md contracts).

A bad event line is quarantined with its ``file:line`` and reason, never raised: the run goes on
without it. A customer without a profile line gets :func:`default_profile`: no consent for any
channel unless the caller asks for consent on every channel (``--default-consent``).

Numbers are read exactly (:func:`~journeydsl.jsonio.loads_exact`): a fraction is a Decimal, never
a float, so the simulator sees the amounts ``journeydsl run`` sees.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import Type
from journeydsl.jsonio import loads_exact, numbered_lines
from journeydsl.money import Money
from journeydsl.runtime.events import BadEvent, coerce_event
from journeydsl.runtime.protocols import Profile
from journeydsl.zones import DEFAULT_TIMEZONE, zone

__all__ = [
    "DEFAULT_TIMEZONE",
    "LoadedEnrolment",
    "LoadedEvent",
    "Problem",
    "default_profile",
    "parse_time",
    "read_enrolments",
    "read_events",
    "read_profiles",
    "schemas_of",
    "typed_profile",
]


@dataclass(frozen=True, slots=True)
class Problem:
    """A line that was left out, and why; ``at`` is the event's time when the simulation left
    it out (reports of runs merged from several processes are ordered by it)."""

    where: str
    reason: str
    at: datetime | None = field(default=None, compare=False)

    def __str__(self) -> str:
        return f"{self.where}: {self.reason}"


@dataclass(frozen=True, slots=True)
class LoadedEvent:
    """One valid event line: the JSON form (what the engine ingests), its typed record and
    where it came from."""

    raw: Mapping[str, Any]
    record: EventRecord
    where: str


def schemas_of(journeys: Iterable[ir.Journey]) -> dict[str, Mapping[str, Type]]:
    """The event schemas the engine validates events against."""
    schemas: dict[str, Mapping[str, Type]] = {}
    for j in journeys:
        for name, fields in j.event_types.items():
            schemas.setdefault(name, fields)
    return schemas


@dataclass(frozen=True, slots=True)
class LoadedEnrolment:
    """One line of an enrolment file: who enters which journey from code, when, with what."""

    at: datetime
    customer_id: str
    data: Mapping[str, Any]
    where: str


def _json_objects(path: str | Path, what: str) -> Iterator[tuple[str, dict[str, Any] | Problem]]:
    """Each non-blank line of the JSON Lines file ``path`` as ``(where, object)``, or as
    ``(where, Problem)`` when it is not a JSON object (``what`` names what a line should be)."""
    with open(path, "rb") as f:
        for number, blob in numbered_lines(f):
            if not blob.strip():
                continue
            where = f"{path}:{number}"
            try:
                raw = loads_exact(blob.decode("utf-8"))
            except UnicodeDecodeError:
                yield where, Problem(where, "the line is not UTF-8 text")
                continue
            except RecursionError:
                yield where, Problem(where, "the line is nested too deeply")
                continue
            except ValueError as exc:
                yield where, Problem(where, f"not valid JSON ({exc})")
                continue
            if not isinstance(raw, dict):
                yield where, Problem(where, f"{what} is a JSON object")
                continue
            yield where, raw


def read_enrolments(
    path: str | Path, timezone: str, journey: ir.Journey | None = None
) -> tuple[list[LoadedEnrolment], list[Problem]]:
    """The enrolments of a JSON Lines file (``{"customer_id", "at", "data"?}`` per line, ``at``
    with an offset or a local time in ``timezone``), and the lines refused, with the reason
    (with ``journey``, also a line whose ``data`` lacks what its entry expects, or has it of
    another type, as ``Engine.enroll`` would refuse it)."""
    from journeydsl.runtime.handoff import enrolled_values

    found: list[LoadedEnrolment] = []
    problems: list[Problem] = []
    for where, raw in _json_objects(path, "an enrolment"):
        if isinstance(raw, Problem):
            problems.append(raw)
            continue
        customer, data = raw.get("customer_id"), raw.get("data", {})
        if not isinstance(customer, str) or not customer or not isinstance(data, dict):
            problems.append(Problem(where, 'expected {"customer_id": "…", "at": "…", "data": {…}}'))
            continue
        try:
            at = parse_time(str(raw.get("at", "")), timezone)
        except ValueError as exc:
            problems.append(Problem(where, str(exc)))
            continue
        if journey is not None:
            try:
                enrolled_values(journey, data)
            except ValueError as exc:
                problems.append(Problem(where, str(exc)))
                continue
        found.append(LoadedEnrolment(at, customer, data, where))
    return found, problems


def read_events(
    path: str | Path, schemas: Mapping[str, Mapping[str, Type]]
) -> tuple[list[LoadedEvent], list[Problem]]:
    """The events of a JSON Lines file (blank lines skipped), validated as the engine would,
    and the quarantined lines."""
    events: list[LoadedEvent] = []
    problems: list[Problem] = []
    for where, raw in _json_objects(path, "an event"):
        if isinstance(raw, Problem):
            problems.append(raw)
            continue
        try:
            record = coerce_event(raw, schemas)
        except BadEvent as exc:
            problems.append(Problem(where, str(exc)))
            continue
        events.append(LoadedEvent(raw, record, where))
    return events, problems


def typed_profile(profile: Profile, attribute_types: Mapping[str, Type]) -> Profile:
    """``profile`` with catalog-typed attribute values (an amount becomes :class:`Money`)."""
    attrs = dict(profile.attributes)
    changed = False
    for name, value in profile.attributes.items():
        t = attribute_types.get(name)
        if t is not None and t.kind == "money" and isinstance(value, int | str | Decimal):
            try:
                attrs[name] = Money.of(str(value), t.currency or "VND")
            except (ArithmeticError, ValueError):
                continue
            changed = True
    if not changed:
        return profile
    return Profile(profile.customer_id, attrs, profile.consent, profile.timezone, profile.tags)


def read_profiles(
    path: str | Path, attribute_types: Mapping[str, Type] | None = None
) -> tuple[list[Profile], list[Problem]]:
    """The profiles of a JSON Lines file and the lines that were left out."""
    from journeydsl.runtime.profiles import read_profiles_jsonl

    profiles: list[Profile] = []
    problems: list[Problem] = []
    for item in read_profiles_jsonl(path, attribute_types):
        if item.profile is None:
            problems.append(Problem(f"{path}:{item.line}", item.error or "invalid profile"))
        else:
            profiles.append(typed_profile(item.profile, attribute_types or {}))
    return profiles, problems


def default_profile(customer_id: str, *, consent: bool = False) -> Profile:
    """The profile of a customer without a profile line: no attributes, the default time zone,
    and consent for no channel (for every channel with ``consent=True``)."""
    return Profile(customer_id, {}, dict.fromkeys(CHANNELS, consent), DEFAULT_TIMEZONE)


def parse_time(text: str, default_tz: str = DEFAULT_TIMEZONE) -> datetime:
    """An ISO 8601 time for ``--start`` / ``--until``; a time without an offset, or a bare date
    (midnight), is read in ``default_tz`` by the calendar rules (a time the clock skips, 02:30
    on a spring-forward night, is 03:30 with the offset then in force). Raises ``ValueError``
    with a usable message."""
    raw = text.strip().replace("Z", "+00:00")
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(
            f"'{text}' is not an ISO 8601 time (e.g. 2026-01-05 or 2026-01-05T09:00:00+07:00)"
        ) from None
    if value.tzinfo is None:
        tz = zone(default_tz)
        value = value.replace(tzinfo=tz)
        with contextlib.suppress(OverflowError):  # (year 1 or 9999: for the range checks)
            value = value.astimezone(UTC).astimezone(tz)
    return value
