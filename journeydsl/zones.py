"""Time zones: the market's default zone and the one lookup of a zone by name.

A customer's profile, a behaviour file or a recorded stream may name a zone that does not exist
(a typo, ``Asia`` which is a folder of the zone database, an overlong name); the runtime then
uses the default zone, as DESIGN.md says for profiles. A journey's own ``timezone`` is checked
by the compiler (JD105) and never reaches this fallback; the zones input files name (a behaviour
file's, a ticket queue's in a policy file) are checked with :func:`zone_problem` when the file is
read."""

from __future__ import annotations

from datetime import datetime, timezone, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

__all__ = ["DEFAULT_TIMEZONE", "local_time", "zone", "zone_problem"]

#: The zone of a customer or a journey that names none.
DEFAULT_TIMEZONE = "Asia/Ho_Chi_Minh"


@lru_cache(maxsize=256)
def zone(name: str) -> tzinfo:
    """The zone called ``name``, or the default zone when there is no such zone."""
    try:
        return ZoneInfo(name)
    except Exception:  # not a zone: unknown, a folder, too long, not text the database reads
        return ZoneInfo(DEFAULT_TIMEZONE)


def local_time(t: datetime, name: str) -> datetime:
    """``t`` as the wall time in the zone called ``name``, with the fixed UTC offset in force
    there at that instant (a report's times and days read in the journey's zone, whatever
    offset the input was written in; two such times subtract to the true duration between
    them, across a change of the clocks too)."""
    local = t.astimezone(zone(name))
    offset = local.utcoffset()
    return local if offset is None else local.astimezone(timezone(offset))


def zone_problem(name: str) -> str | None:
    """Why ``name`` is not a zone of the IANA database (``unknown time zone 'Mars/X' (use an
    IANA name)``), or None when it is one. (No did-you-mean: the closest spelling of
    ``Asia/Hanoi`` is ``Asia/Yangon``, a wrong zone that looks right.)"""
    try:
        ZoneInfo(name)
    except Exception:  # not a zone: unknown, a folder ("Asia"), too long, a NUL in it
        shown = name if len(name) <= 64 else name[:60] + "…"
        return f"unknown time zone {shown!r} (use an IANA name)"
    return None
