"""What a compiled expression reads at run time: the evaluation context and event records.

The runtime implements :class:`EvalContext`; the simulator and the tests use the same one.
Aggregates go through :meth:`EvalContext.aggregate` so a SQL-backed event store can push them down.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any, Protocol

from journeydsl.money import Money

__all__ = ["AggregateQuery", "EvalContext", "EventRecord", "Fn", "SentQuery", "run_aggregate"]


@dataclass(frozen=True, slots=True)
class EventRecord:
    """One event of one customer, with its data already typed against the catalog
    (money as :class:`Money`, timestamps as aware datetimes)."""

    customer_id: str
    type: str
    at: datetime
    data: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    def get(self, name: str) -> Any:
        """A field's value; ``at`` is the event time."""
        if name == "at":
            return self.at
        return self.data.get(name)


class EvalContext(Protocol):
    """**Protocol:** everything an expression may read while it is evaluated."""

    now: datetime
    entered_at: datetime
    customer_id: str
    journey_id: str
    journey_version: int
    tz: tzinfo
    variables: Mapping[str, Any]
    profile: Mapping[str, Any]
    trigger: Mapping[str, Any]

    def aggregate(self, query: AggregateQuery, start: datetime | None, end: datetime | None) -> Any:
        """The value of ``query`` over the customer's events with ``start <= at <= end``."""
        ...

    def last_time(self, event_type: str) -> datetime | None:
        """When the customer's most recent ``event_type`` happened (at or before now)."""
        ...

    def sent(self, query: SentQuery, start: datetime) -> int:
        """How many messages matching ``query`` reached the customer at or after ``start``,
        across every journey (``sent(…)``, read from the contact history)."""
        ...


#: A compiled expression: evaluated against a context and, inside an aggregate's ``where``,
#: the event being filtered.
Fn = Callable[[EvalContext, EventRecord | None], Any]


@dataclass(frozen=True, slots=True)
class AggregateQuery:
    """A compiled aggregate, as an event store sees it.

    ``func`` is count, has, sum, min, max, last or top; ``field`` the field aggregated (None for
    count/has); ``by``/``by_field`` rank ``top``; ``where`` filters events (None when there is no
    filter, so a store may push the whole query down); ``zero`` is the result on no events.
    ``sliding`` marks a window anchored to now (``in last 7d``), whose value changes as time
    passes and events fall out of it; the engine re-checks waits on such conditions.
    """

    func: str
    event: str
    field: str | None = None
    by: str | None = None
    by_field: str | None = None
    where: Fn | None = dataclasses.field(default=None, compare=False)
    zero: Any = None
    source: str = ""
    sliding: bool = False


# ---------------------------------------------------------------- message history: sent(…)


@dataclass(frozen=True, slots=True)
class SentQuery:
    """A compiled ``sent(…)``: which delivered messages it counts.

    ``kind`` is ``template``, ``channel``, ``category`` or ``any`` (every message); ``name`` the
    template, channel or category (empty for ``any``); ``window`` how far back it looks."""

    kind: str
    name: str
    window: timedelta

    def matches(self, channel: str, category: str, template: str) -> bool:
        """Whether a message delivered on ``channel`` (of ``category``, from ``template``)
        counts."""
        if self.kind == "template":
            return template == self.name
        if self.kind == "channel":
            return channel == self.name
        if self.kind == "category":
            return category == self.name
        return True


def run_aggregate(query: AggregateQuery, events: Iterable[EventRecord], ctx: EvalContext) -> Any:
    """Evaluate ``query`` over ``events`` (already limited to the type and the window), in
    time order. Stores that cannot push a query down call this."""
    where = query.where
    rows = [e for e in events if e.type == query.event and (where is None or where(ctx, e))]
    func = query.func
    if func == "count":
        return len(rows)
    if func == "has":
        return bool(rows)
    if not rows:
        return query.zero
    name = query.field or ""
    values = [e.get(name) for e in rows]
    values = [v for v in values if v is not None]
    if not values:
        return query.zero
    if func == "sum":
        total = values[0]
        for v in values[1:]:
            total = total + v
        return total
    if func == "min":
        return min(values)
    if func == "max":
        return max(values)
    if func == "last":
        return values[-1]
    # top: the value of `field` ranked by count or by the sum of `by_field`; ties go to the
    # value seen first, so the result is deterministic.
    scores: dict[Any, Any] = {}
    for e in rows:
        key = e.get(name)
        if key is None:
            continue
        if query.by == "sum":
            add = e.get(query.by_field or "")
            if add is None:
                continue
            scores[key] = scores[key] + add if key in scores else add
        else:
            scores[key] = scores.get(key, 0) + 1
    if not scores:
        return query.zero
    best_key, best = next(iter(scores.items()))
    for key, score in scores.items():
        if _gt(score, best):
            best_key, best = key, score
    return best_key


def _gt(a: Any, b: Any) -> bool:
    if isinstance(a, Money) and isinstance(b, Money):
        return a.amount > b.amount
    return bool(Decimal(a) > Decimal(b))
