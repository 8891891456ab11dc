"""Durations written in input files (contact policies, behaviour models): ``24h``, ``7d``,
``1w``, ``1d12h``, read and bounded.

A duration is a sum of whole numbers, each with its unit: ``w`` (week), ``d`` (day), ``h``
(hour), ``m`` (minute), ``s`` (second). One longer than :data:`MAX_FILE_DURATION` is refused with
a :class:`ValueError` that says the limit, which the file readers report at the value's line
and column: such a length is surely a mistake, and bounding it keeps the time arithmetic built on
it (a cap's window before now, a reaction's delay after a message) inside what
:class:`~datetime.datetime` holds. A 20-digit number of days was an ``OverflowError``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Final

__all__ = ["MAX_FILE_DURATION", "UNITS", "bounded_duration", "parse_duration"]

#: The longest duration an input file may give: ten years, as for a journey's own waits and
#: windows (``journeydsl.expr.limits.MAX_DURATION``).
MAX_FILE_DURATION: Final = timedelta(days=3660)

#: Seconds in each unit.
UNITS: Final[Mapping[str, int]] = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}

_PART = re.compile(r"(\d+)([a-z])")


def bounded_duration(seconds: int, written: str) -> timedelta:
    """``seconds`` as a timedelta; a :class:`ValueError` naming ``written`` (what the file says,
    as the message shows it) and the limit when it is longer than :data:`MAX_FILE_DURATION`."""
    if seconds > MAX_FILE_DURATION.total_seconds():
        shown = written if len(written) <= 40 else written[:36] + "…"
        raise ValueError(
            f"{shown} is longer than {MAX_FILE_DURATION.days}d, the longest duration allowed"
        )
    return timedelta(seconds=seconds)


def parse_duration(raw: str, *, units: str = "wdhms", example: str) -> timedelta:
    """The duration ``raw`` writes (spaces ignored), with the ``units`` given; a
    :class:`ValueError` saying what to write instead (``example``, e.g. ``"24h, 7d or 1w"``)
    when it is not one, or saying the limit when it is longer than :data:`MAX_FILE_DURATION`."""
    text = raw.replace(" ", "")
    parts = _PART.findall(text)
    written = "".join(n + u for n, u in parts)
    if not text or written != text or any(u not in units for _, u in parts):
        raise ValueError(f"{raw!r} is not a duration; write e.g. {example}")
    if any(len(n.lstrip("0")) > 18 for n, _ in parts):  # (far past the limit, whatever the unit)
        return bounded_duration(int(MAX_FILE_DURATION.total_seconds()) + 1, repr(raw))
    return bounded_duration(sum(int(n) * UNITS[u] for n, u in parts), repr(raw))
