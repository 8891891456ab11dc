"""Calendars: weekday names, schedules of dates, anniversaries and send windows in a local zone.

The ground floor of the time rules every layer shares (the compiler names the days, the runtime
computes the instants). The rules, as docs/language.md teaches them:

* A local time the clock skips (the spring daylight-saving gap) is read with the offset in force
  before the change, so it happens as much later as the gap is long: 02:30 on the night Berlin
  moves from 02:00 to 03:00 is 03:30 CEST. A local time the clock shows twice (autumn) is the
  first of the two.
* ``monthly on 29``, ``30`` or ``31`` falls on the last day of a shorter month.
* A monthly anniversary of the 29th-31st falls on the last day of a shorter month; a yearly one
  of 29 February falls on 28 February in years without one. The original date itself is not an
  anniversary.

Every instant is an aware datetime; arithmetic on days is on local dates, never on instants.
"""

from __future__ import annotations

import calendar as _cal
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

__all__ = [
    "ALL_DAYS",
    "DAY_NAMES",
    "Schedule",
    "describe_days",
    "is_anniversary",
    "local_instant",
    "month_day",
    "next_at",
    "weekdays",
    "window_opens",
]

_SHORT = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_LONG = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")

#: Every day name a journey may write, with the ISO weekdays (Monday = 1) it stands for.
DAY_NAMES: dict[str, frozenset[int]] = {
    **{n: frozenset({i + 1}) for i, n in enumerate(_SHORT)},
    **{n: frozenset({i + 1}) for i, n in enumerate(_LONG)},
    "weekday": frozenset(range(1, 6)),
    "weekend": frozenset({6, 7}),
    "day": frozenset(range(1, 8)),
}
#: Monday to Sunday.
ALL_DAYS: frozenset[int] = frozenset(range(1, 8))

_DAY = timedelta(days=1)
_TICK = timedelta(microseconds=1)


def weekdays(names: Iterable[str]) -> frozenset[int]:
    """The ISO weekdays that day names stand for (``weekday`` is Monday to Friday); raises
    KeyError on a name that is not a day."""
    out: frozenset[int] = frozenset()
    for name in names:
        out |= DAY_NAMES[name.lower()]
    return out


def describe_days(days: Iterable[int]) -> str:
    """ISO weekdays in words: ``weekday``, ``weekend``, ``mon-thu``, ``mon, wed``."""
    ds = sorted(set(days))
    for name in ("day", "weekday", "weekend"):
        if ds == sorted(DAY_NAMES[name]):
            return name
    if len(ds) > 2 and ds == list(range(ds[0], ds[-1] + 1)):
        return f"{_SHORT[ds[0] - 1]}-{_SHORT[ds[-1] - 1]}"
    return ", ".join(_SHORT[d - 1] for d in ds)


def month_day(year: int, month: int, day: int) -> date:
    """Day ``day`` of a month, or its last day when the month is shorter (``-1`` is the last
    day)."""
    last = _cal.monthrange(year, month)[1]
    return date(year, month, last if day < 0 or day > last else day)


def local_instant(d: date, at: time, tz: tzinfo) -> datetime:
    """The instant the clock in ``tz`` shows ``at`` on ``d``: a skipped time is read with the
    offset before the change (02:30 in a 02:00→03:00 gap is 03:30), a repeated one is the first;
    the result shows the offset actually in force."""
    return datetime.combine(d, at, tz).astimezone(UTC).astimezone(tz)


def next_at(now: datetime, at: time, tz: tzinfo, days: frozenset[int] = ALL_DAYS) -> datetime:
    """The first instant strictly after ``now`` at local ``at`` on one of ``days``: reached
    exactly at that time, the next one, so a loop of such waits always moves forward."""
    start = now.astimezone(tz).date()
    for i in range(9):
        d = start + i * _DAY
        if d.isoweekday() in days and (t := local_instant(d, at, tz)) > now:
            return t
    raise ValueError("no day to wait for")


def is_anniversary(original: date, d: date, period: str) -> bool:
    """Whether ``d`` is a ``monthly`` or ``yearly`` anniversary of ``original`` (see the module
    docstring for the 29th-31st and 29 February)."""
    if d <= original or (period == "yearly" and d.month != original.month):
        return False
    return d == month_day(d.year, d.month, original.day)


@dataclass(frozen=True, slots=True)
class Schedule:
    """The days a segment is evaluated on: ``daily``, ``weekly`` on ``days``, ``monthly`` on
    ``day`` (-1 for the last), ``every`` N days counted from ``start``, or ``anniversary`` (every
    day, each customer entering on the anniversary of a date of theirs), between ``start`` and
    ``end`` (both included)."""

    kind: str
    days: frozenset[int] = ALL_DAYS
    day: int = 1
    every: int = 1
    period: str | None = None
    start: date | None = None
    end: date | None = None

    def matches(self, d: date) -> bool:
        """Whether the schedule runs on local date ``d``."""
        if (self.start is not None and d < self.start) or (self.end is not None and d > self.end):
            return False
        if self.kind == "weekly":
            return d.isoweekday() in self.days
        if self.kind == "monthly":
            return d == month_day(d.year, d.month, self.day)
        if self.kind == "every":
            return self.start is not None and (d - self.start).days % self.every == 0
        return True

    def first(self, d: date) -> date | None:
        """The first date on or after ``d`` the schedule runs on; None when it has ended."""
        if self.start is not None and d < self.start:
            d = self.start
        if self.kind == "every" and self.start is not None:
            d += ((-(d - self.start).days) % self.every) * _DAY
        elif self.kind in ("weekly", "monthly"):
            for _ in range(62):  # a month's last day is at most 31 days away
                if self.matches(d):
                    break
                d += _DAY
        if self.end is not None and d > self.end:
            return None
        return d

    def to_json(self) -> dict[str, Any]:
        """A plain-JSON view, for `journeydsl graph`."""
        out: dict[str, Any] = {"kind": self.kind}
        if self.kind == "weekly":
            out["days"] = sorted(self.days)
        if self.kind == "monthly":
            out["day"] = "last" if self.day < 0 else self.day
        if self.kind == "every":
            out["every_days"] = self.every
        if self.period is not None:
            out["period"] = self.period
        for name, value in (("from", self.start), ("until", self.end)):
            if value is not None:
                out[name] = value.isoformat()
        return out


def window_opens(days: frozenset[int], start: time, end: time, local: datetime) -> datetime | None:
    """None when ``local`` is inside a send window (it opens at ``start`` on one of ``days`` and
    closes at ``end``, the next day when ``end`` is not after ``start``); otherwise the first
    instant after ``local`` at which a window is open, within eight days.

    Inside is by the clock on the wall, or between the instants the window opens and closes
    (compared as instants, so the repeated autumn hour is not mistaken for the first one): an
    opening the clock skips (02:30 on a spring-forward night) is at 03:30, and the window is
    open then, not a week later; a window the clock skips whole (02:00 to 03:00 that night) moves
    with its opening and keeps its length (03:00 to 04:00); the clock jumping into a window (to
    03:00 inside 02:30 to 03:30, or back to 01:00 inside 00:30 to 01:30 in autumn) opens it then.
    """
    tz = local.tzinfo
    assert tz is not None
    local = local.astimezone(UTC).astimezone(tz)  # (a time the clock skips, as an instant)
    if _inside(days, start, end, local):
        return None
    # Instants compare by their UTC values here: two datetimes of one zone compare by the wall
    # clock, which mistakes the repeated autumn hour for the first one.
    d, now = local.date(), local.astimezone(UTC)
    found: datetime | None = None
    for i in range(-1, 9):
        day = d + i * _DAY
        candidates: list[datetime] = []
        if day.isoweekday() in days:
            # Where the window opens, and the second reading of a start the clock shows twice.
            again = datetime.combine(day, start, tz).replace(fold=1)
            candidates += [_window(day, start, end, tz)[0], again]
        if (change := _offset_change(day, tz)) is not None:
            candidates.append(change)  # (the clock jumps, perhaps into a window)
        for c in (c.astimezone(UTC) for c in candidates):
            if (
                c > now
                and (found is None or c < found)
                and _inside(days, start, end, c.astimezone(tz))
            ):
                found = c
        if found is not None and found <= local_instant(day + _DAY, time(0), tz).astimezone(UTC):
            break  # (the next days' candidates are later still)
    if found is None:
        raise ValueError("no day the window opens on")
    return found.astimezone(tz)


def _window(day: date, start: time, end: time, tz: tzinfo) -> tuple[datetime, datetime]:
    """The instants the window of ``day`` opens and closes. A window the clock skips whole (it
    closes before it opens, and the clock never shows its times) keeps its length from its
    opening; one the clock skips in part is open where the clock shows its times."""
    closes_on = day + _DAY if end <= start else day
    opens = local_instant(day, start, tz)
    closes = local_instant(closes_on, end, tz)
    if closes.astimezone(UTC) <= opens.astimezone(UTC):
        last = (closes.astimezone(UTC) - _TICK).astimezone(tz).time()
        if not start <= last < end:
            closes = opens + (datetime.combine(closes_on, end) - datetime.combine(day, start))
    return opens, closes


def _inside(days: frozenset[int], start: time, end: time, local: datetime) -> bool:
    """Whether ``local`` (in its zone, normalised) is inside a window: by the wall clock, or
    between the instants one opens and closes (aware datetimes of different zones compare as
    instants, so both sides are in UTC)."""
    t, d, tz = local.time(), local.date(), local.tzinfo
    assert tz is not None
    if d.isoweekday() in days and (start <= t < end if start < end else t >= start):
        return True
    if end <= start and (d - _DAY).isoweekday() in days and t < end:
        return True
    at = local.astimezone(UTC)
    for day in (d - _DAY, d):
        if day.isoweekday() in days:
            opens, closes = _window(day, start, end, tz)
            if opens.astimezone(UTC) <= at < closes.astimezone(UTC):
                return True
    return False


def _offset_change(day: date, tz: tzinfo) -> datetime | None:
    """The instant the UTC offset of ``tz`` changes on local date ``day`` (the clock jumps
    there), if it does; the first such change, to the second."""
    lo = local_instant(day, time(0), tz).astimezone(UTC)
    hi = local_instant(day + _DAY, time(0), tz).astimezone(UTC)
    before = lo.astimezone(tz).utcoffset()
    if hi.astimezone(tz).utcoffset() == before:
        return None
    while hi - lo > timedelta(seconds=1):  # offset(lo) is the first one, offset(hi) is not
        mid = lo + (hi - lo) // 2
        mid = mid.replace(microsecond=0)
        if mid <= lo:
            break
        if mid.astimezone(tz).utcoffset() == before:
            lo = mid
        else:
            hi = mid
    return hi.astimezone(tz)
