"""The worst case per customer in any 24 hours and any 7 days, per channel (``check --stats``).

One instance's worst window comes from :func:`~journeydsl.budget.window_budget` (fixed waits,
deadlines from entry, once-guards, parallel branches). A customer can have several instances in
a window: entries are at least ``P`` apart (``reentry after P``; a segment's calendar) and an
instance sends until at most ``L`` after its entry (:func:`~journeydsl.budget_guards.
latest_offsets`), so at most ``ceil((W + L) / P)`` instances send in a window ``W``. Sends
behind a history check (``if sent(WHAT in last D) == 0``) go out at most ``ceil(W / D)`` times
in ``W`` whatever the instances, which caps the figure when every counted send has one.

Each figure is an upper bound. When the analysis cannot say it is reached, a reason says why
(``loose: …``): a deadline that is not a fixed time after entry taken as instant, parallel
branches whose worst windows are added as if they lined up, or instances that cannot be counted
(re-entry on every event; or entries spaced apart, but a send with no latest time after entry,
so that the instances sending in a window have no bound), in which case the figure is per
instance.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from journeydsl import ir
from journeydsl.budget import TOTAL, window_budget
from journeydsl.budget_guards import history_guards, latest_offsets

__all__ = ["WINDOWS", "WindowFigures", "window_figures"]

#: The windows reported, by label.
WINDOWS: dict[str, timedelta] = {"24h": timedelta(hours=24), "7d": timedelta(days=7)}


@dataclass
class WindowFigures:
    """Per window label, per channel (and ``total``): the most messages; and why a figure may
    be above what a customer can really receive."""

    figures: dict[str, dict[str, int]] = field(default_factory=dict)
    loose: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"24h": {...}, "7d": {...}, "loose": [...]}``."""
        return {**self.figures, "loose": list(self.loose)}


def window_figures(journey: ir.Journey, channels: Iterable[str]) -> WindowFigures:
    """The worst case in each of :data:`WINDOWS` for ``channels`` and ``total``."""
    out = WindowFigures()
    guards = history_guards(journey)
    sends = [n for n in journey.nodes.values() if isinstance(n, ir.Send)]
    spacing, why = _entry_spacing(journey)
    latest, unbounded = _latest_send(journey, sends)
    if spacing is not None and spacing > timedelta(0) and unbounded is not None:
        why = (
            f"instances can overlap, and the send at line {unbounded.span.line} has no latest time "
            "after entry (a wait of no fixed length, or a loop that waits, comes before it)"
        )
    reasons: set[str] = set()
    for label, window in WINDOWS.items():
        row: dict[str, int] = {}
        for channel in [*channels, TOTAL]:
            counts = _counter(channel)
            counted = [s for s in sends if counts(s)]
            if not counted:
                continue
            per_instance, _ = window_budget(journey, counts, window)
            optimistic, _ = window_budget(journey, counts, window, instant_deadlines=False)
            if optimistic < per_instance:
                reasons.add("a deadline that is not a fixed time after entry is taken as instant")
            instances = _instances(window, spacing, latest)
            figure = None if instances is None else per_instance * instances
            if all(s.id in guards for s in counted):  # a cap across every instance
                cap = sum(math.ceil(window / guards[s.id].within) for s in counted)
                figure = cap if figure is None else min(figure, cap)
            if figure is None:
                figure = per_instance
                reasons.add(f"per instance: {why}")
            row[channel] = figure
        out.figures[label] = row
    reasons |= _parallel_reasons(journey)
    out.loose = sorted(reasons)
    return out


def _counter(channel: str) -> Callable[[ir.Send], bool]:
    if channel == TOTAL:
        return lambda s: True
    return lambda s: channel in (s.channel, *s.fallback)


def _entry_spacing(journey: ir.Journey) -> tuple[timedelta | None, str]:
    """The least time between two entries of one customer (zero: one per event; None: once
    only), and in words why it cannot be bounded when it cannot.

    The re-entry rule holds per instance key: with a ``key`` other than the customer, each key
    enters on its own, so only a segment's calendar spaces a customer's entries."""
    entry = journey.entry
    keyed = _keyed(entry)
    if entry.reentry == "once" and not keyed:
        return None, ""
    if entry.reentry == "after" and entry.reentry_after and not keyed:
        return entry.reentry_after, ""
    if entry.kind == "segment":
        schedule = entry.schedule
        if schedule is None or schedule.kind in ("daily", "weekly"):
            return timedelta(days=1), ""
        if schedule.kind == "every":
            return timedelta(days=schedule.every), ""
        return timedelta(days=28), ""  # monthly, anniversary (at least four weeks apart)
    if keyed and entry.key is not None:
        return timedelta(0), (
            f"key {entry.key.source}: re-entry {entry.reentry} per key, and a customer can "
            "have any number of keys at once"
        )
    return timedelta(0), f"re-entry {entry.reentry} on {entry.kind}: one instance per entry"


def _keyed(entry: ir.Entry) -> bool:
    """Whether the entry's instance key can tell apart two instances of one customer (not a
    constant, nor the customer's id)."""
    key = entry.key
    return key is not None and not key.const and key.source != "customer_id"


def _latest_send(
    journey: ir.Journey, sends: list[ir.Send]
) -> tuple[timedelta | None, ir.Send | None]:
    """The latest time after entry a send can happen, or None and the first send (in source
    order) that has no bound."""
    latest = latest_offsets(journey)
    times: list[timedelta] = []
    for send in sorted(sends, key=lambda s: (s.span.line, s.span.column)):
        at = latest.get(send.id)
        if at is None:
            return None, send
        times.append(at)
    return max(times, default=timedelta(0)), None


def _instances(
    window: timedelta, spacing: timedelta | None, latest: timedelta | None
) -> int | None:
    """How many instances of one customer can send within ``window`` (None: no bound)."""
    if spacing is None:
        return 1
    if spacing <= timedelta(0) or latest is None:
        return None
    return math.ceil((window + latest) / spacing)


def _parallel_reasons(journey: ir.Journey) -> set[str]:
    """A parallel block with sends in two branches or more: their worst windows are added."""
    out: set[str] = set()
    for fork in journey.nodes.values():
        if not isinstance(fork, ir.Parallel):
            continue
        sending = 0
        for start in fork.branches:
            seen: set[str] = set()
            stack = [start]
            while stack:
                nid = stack.pop()
                if nid in seen or nid == fork.done or nid not in journey.nodes:
                    continue
                seen.add(nid)
                stack.extend(journey.nodes[nid].successors())
            sending += any(isinstance(journey.nodes[n], ir.Send) for n in seen)
        if sending > 1:
            out.add(f"the branches of '{fork.id}' are added as if their worst windows lined up")
    return out
