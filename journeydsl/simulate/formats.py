"""How the simulation reports (text, trace and explain, compare, policy figures, the HTML report
and its SVG, scenario-test diffs) write their values: one spelling of each everywhere."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.money import money_text

if TYPE_CHECKING:
    from rich.console import Console

__all__ = ["compact", "minute", "percent", "percent_of", "points", "text_console", "vnd"]


def percent(rate: float | None) -> str:
    """A rate (0.125) as a percentage with one decimal ("12.5%"); "-" when there is none."""
    return "-" if rate is None else f"{100 * rate:.1f}%"


def percent_of(n: int, total: int) -> str:
    """``n`` of ``total`` as a percentage ("12.5%"); "-" when the total is 0."""
    return percent(n / total) if total else "-"


def points(diff: float | None) -> str:
    """A difference of two rates (0.031) in signed percentage points with one decimal
    ("+3.1"), two when one would round a change to zero ("-0.04"), "0.0" for none at all and
    never a negative zero; "-" when there is no difference to give."""
    if diff is None:
        return "-"
    shown = 100 * diff
    if shown == 0:
        return "0.0"
    for places in (1, 2):
        if round(shown, places) != 0:
            return f"{round(shown, places) + 0.0:+.{places}f}"
    return f"{'+' if shown > 0 else '-'}<0.01"


def vnd(amount: Decimal) -> str:
    """An amount of dong as whole dong with thousands separators ("1,250,000"): the fraction
    is dropped, not rounded."""
    return f"{int(amount):,}"


def minute(t: str) -> str:
    """An ISO 8601 time to the minute, with its offset: ``2026-01-05T10:00:00+07:00`` →
    ``2026-01-05 10:00 +07:00``."""
    when = datetime.fromisoformat(t)
    offset = when.strftime("%z")
    return when.strftime("%Y-%m-%d %H:%M") + (f" {offset[:3]}:{offset[3:]}" if offset else "")


def run_days(start: datetime, until: datetime) -> float:
    """The days of a run from ``start`` to ``until``, each written in the journey's zone, on
    that zone's wall clock: 60 from 1 March to 30 April in Berlin, although the clocks went
    forward an hour between them."""
    return (until.replace(tzinfo=None) - start.replace(tzinfo=None)) / timedelta(days=1)


def compact(value: Any) -> str:
    """Params and payloads on one line, money as ``1,000,000 VND``."""
    if isinstance(value, Mapping):
        if set(value) == {"amount", "currency"}:
            return money_text(Decimal(str(value["amount"])), str(value["currency"]))
        return "{" + ", ".join(f"{k}: {compact(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(compact(v) for v in value) + "]"
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def text_console(out: TextIO, width: int, *, highlight: bool = False) -> Console:
    """The rich console a text report prints to: colours on a terminal only, ``width``
    columns when not a terminal, and no markup or emoji codes: step names, titles, reasons and
    data are the journeys' and the data's text, printed as written (a ``[/bold]`` in a
    condition's string is not a style)."""
    from rich.console import Console

    tty = out.isatty()
    return Console(
        file=out,
        width=None if tty else width,
        force_terminal=tty,
        no_color=not tty,
        highlight=highlight,
        emoji=False,
        markup=False,
    )
