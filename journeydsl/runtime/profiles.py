"""The profile contract of DESIGN.md: one customer's profile as a JSON object, and a JSON Lines
file of them, read exactly (numbers as :class:`~decimal.Decimal`, never through a float).

``{"customer_id", "attributes"?, "consent"?, "timezone"?, "tags"?}``: consent maps channel names
to booleans (a channel not listed has no consent); an empty time zone means the journey's."""

from __future__ import annotations

import json
import zoneinfo
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from journeydsl.jsonio import loads_exact
from journeydsl.runtime.protocols import Profile

__all__ = ["ProfileLine", "parse_profile", "read_profiles_jsonl"]


@dataclass(frozen=True, slots=True)
class ProfileLine:
    """One line of a profiles JSON Lines file: the profile, or why the line was refused."""

    line: int
    profile: Profile | None
    error: str | None = None


def parse_profile(raw: Any) -> Profile:
    """A :class:`Profile` from its JSON contract form; raises ``ValueError`` with a reason.

    ``{"customer_id", "attributes"?, "consent"?, "timezone"?, "tags"?}``: consent maps channel
    names to booleans (a channel not listed has no consent); the time zone defaults to
    Asia/Ho_Chi_Minh and must be an IANA name.
    """
    if not isinstance(raw, Mapping):
        raise ValueError("a profile is a JSON object")
    customer = raw.get("customer_id")
    if not isinstance(customer, str) or not customer:
        raise ValueError("'customer_id' must be a non-empty string")
    attributes = raw.get("attributes") or {}
    if not isinstance(attributes, Mapping):
        raise ValueError("'attributes' must be an object")
    consent = raw.get("consent") or {}
    if not isinstance(consent, Mapping) or not all(isinstance(v, bool) for v in consent.values()):
        raise ValueError("'consent' must map channel names to true or false")
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
    return Profile(customer, dict(attributes), dict(consent), tz, frozenset(tags))


def read_profiles_jsonl(path: str | Path) -> Iterator[ProfileLine]:
    """The profiles of a JSON Lines file (blank lines skipped), one :class:`ProfileLine` each."""
    with open(path, "rb") as f:
        for number, blob in enumerate(f, 1):
            if not blob.strip():
                continue
            try:
                raw = loads_exact(blob.decode("utf-8"))
                # A lone surrogate (\ud800) decodes from JSON but is not text anyone can store.
                json.dumps(raw, ensure_ascii=False, default=str).encode("utf-8")
                yield ProfileLine(number, parse_profile(raw))
            except UnicodeError:
                yield ProfileLine(number, None, "the line is not valid UTF-8 text")
            except RecursionError:
                yield ProfileLine(number, None, "the line is nested too deeply")
            except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                yield ProfileLine(number, None, str(exc))
