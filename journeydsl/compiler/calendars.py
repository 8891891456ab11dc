"""Lowering the calendar parts of a journey: day names, a segment's schedule (with the date of
an anniversary), and the journey's send windows. The time rules themselves live in
:mod:`journeydsl.calendars`; this module checks what a journey wrote against them (JD117)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.calendars import DAY_NAMES, Schedule, weekdays
from journeydsl.diagnostics import Diagnostics, did_you_mean
from journeydsl.expr.checker import Scope, Typed, check, time_value
from journeydsl.expr.literals import date_value
from journeydsl.expr.types import DATE, TIMESTAMP, article

__all__ = ["day_set", "lower_schedule", "lower_send_windows"]

#: The longest ``every N days`` (ten years): longer is surely a mistake.
MAX_EVERY_DAYS = 3660

CExprOf = Callable[[A.Expr, Typed], ir.CExpr]


def day_set(names: tuple[A.Ident, ...], diags: Diagnostics) -> frozenset[int] | None:
    """The ISO weekdays ``names`` stand for; None (reported, JD117) when one is not a day."""
    ok = True
    for n in names:
        if n.name.lower() not in DAY_NAMES:
            ok = False
            diags.error(
                "JD117",
                f"'{n.name}' is not a day",
                n.span,
                did_you_mean(n.name.lower(), DAY_NAMES)
                or "write mon, tue, wed, thu, fri, sat, sun (or full names), weekday or weekend",
            )
    return weekdays(n.name for n in names) if ok and names else None


def _date(lit: A.DateLit | None, diags: Diagnostics) -> date | None:
    if lit is None:
        return None
    value = date_value(lit.text)
    if isinstance(value, str):
        diags.error("JD117", f"'{lit.text}' is not a date: {value}", lit.span, "write YYYY-MM-DD")
        return None
    return value


def lower_schedule(
    s: A.Schedule, scope: Scope, cexpr: CExprOf
) -> tuple[Schedule | None, ir.CExpr | None]:
    """A segment's calendar, and for an anniversary the customer's date it counts from."""
    diags = scope.diags
    start, end = _date(s.start, diags), _date(s.end, diags)
    if start is not None and end is not None and end < start:
        assert s.end is not None
        diags.error("JD117", f"the schedule ends ({end}) before it starts ({start})", s.end.span)
    sched = Schedule(s.kind, start=start, end=end)
    of: ir.CExpr | None = None
    if s.kind == "weekly":
        days = day_set(s.days, diags)
        sched = Schedule("weekly", days or frozenset(), start=start, end=end)
    elif s.kind == "monthly":
        day = -1 if s.day == "last" else int(s.day or "1")
        if not 1 <= day <= 31 and day != -1:
            diags.error(
                "JD117",
                f"a month has no day {s.day}",
                s.span,
                "write a day from 1 to 31 (29-31 fall on the last day of shorter months), "
                "or `last day`",
            )
        sched = Schedule("monthly", day=day, start=start, end=end)
    elif s.kind == "every":
        n = s.every  # None: too long a number, which the parser reported (JD105)
        if n is not None and not 1 <= n <= MAX_EVERY_DAYS:
            diags.error("JD117", f"`every {n} days` needs 1 to {MAX_EVERY_DAYS} days", s.span)
        if start is None:
            every = "N" if n is None else str(n)
            diags.error(
                "JD117",
                f"`every {every} days` needs a first day to count from",
                s.span,
                f"add e.g. `from 2026-01-05`: the segment runs that day and every {every} days "
                "after",
            )
        sched = Schedule("every", every=max(n or 1, 1), start=start, end=end)
    elif s.kind == "anniversary" and s.of is not None:
        t = check(s.of, scope, absent="allowed")  # no date: no anniversary
        if not t.type.is_error and t.type not in (DATE, TIMESTAMP):
            diags.error(
                "JD301",
                f"an anniversary is of a date or a timestamp, not {article(t.type)}",
                s.of.span,
                "e.g. `yearly on anniversary of profile.birthday`",
            )
        of = cexpr(s.of, t)
        sched = Schedule("anniversary", period=s.period, start=start, end=end)
    return sched, of


def lower_send_windows(
    windows: tuple[A.SendWindow, ...], channel_ok: Callable[[A.Ident], bool], diags: Diagnostics
) -> tuple[ir.SendWindow, ...]:
    """The journey's send windows; a window with a wrong part is left out (reported)."""
    out = []
    for w in windows:
        chans = tuple(c.name for c in w.channels if channel_ok(c))
        days = day_set(w.days, diags)
        start, end = time_value(w.start.text), time_value(w.end.text)
        for lit, value in ((w.start, start), (w.end, end)):
            if value is None:
                diags.error(
                    "JD108",
                    f"'{lit.text}' is not a time of day",
                    lit.span,
                    "write HH:MM with hours 00-23 and minutes 00-59",
                )
        if days is not None and start is not None and end is not None:
            out.append(ir.SendWindow(chans, tuple(sorted(days)), start, end))
    return tuple(out)
