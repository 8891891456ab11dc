"""What a compiled expression sees when the engine evaluates it for one instance at one
moment: the customer's events (through the host's event store), the profile typed as the catalog
says, the journey's variables and trigger, and the customer's time zone."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from journeydsl import ir
from journeydsl.expr.context import AggregateQuery, EventRecord, SentQuery
from journeydsl.money import Money
from journeydsl.runtime.hostcalls import StoreError, log
from journeydsl.runtime.protocols import ContactHistory, EventStore, Profile
from journeydsl.zones import zone

__all__ = [
    "ConditionError",
    "EvalContext",
    "entry_failed",
    "entry_holds",
    "evaluated",
    "happened",
    "typed_attributes",
]

_TICK = timedelta(microseconds=1)


def typed_attributes(attributes: Mapping[str, Any], journey: ir.Journey) -> Mapping[str, Any]:
    """Profile values as the catalog types them: JSON numbers for money become Money, ISO text
    for timestamps and dates becomes datetime / date. Values that do not fit are left alone (the
    expression then fails and the decision log says why)."""
    changed: dict[str, Any] | None = None
    for name, t in journey.attribute_types.items():
        raw = attributes.get(name)
        if raw is None or isinstance(raw, bool):
            continue
        value = raw
        try:
            if t.kind == "money" and isinstance(raw, int | float | str | Decimal):
                value = Money(Decimal(str(raw)), t.currency or "")
            elif t.kind == "timestamp" and isinstance(raw, str):
                value = datetime.fromisoformat(raw)
            elif t.kind == "date" and isinstance(raw, str):
                value = date.fromisoformat(raw)
        except (ValueError, ArithmeticError):
            continue
        if value is not raw:
            changed = dict(attributes) if changed is None else changed
            changed[name] = value
    return attributes if changed is None else changed


class EvalContext:
    """The evaluation context of one instance at one moment."""

    __slots__ = (
        "customer_id",
        "entered_at",
        "events",
        "history",
        "journey_id",
        "journey_version",
        "leaves",
        "now",
        "profile",
        "trigger",
        "tz",
        "variables",
        "windows",
    )

    events: EventStore
    now: datetime
    entered_at: datetime
    customer_id: str
    journey_id: str
    journey_version: int
    tz: tzinfo
    variables: Mapping[str, Any]
    profile: Mapping[str, Any]
    trigger: Mapping[str, Any]

    def __init__(
        self,
        events: EventStore,
        now: datetime,
        inst: Mapping[str, Any],
        journey: ir.Journey,
        profile: Profile,
        variables: dict[str, Any],
        trigger: Mapping[str, Any],
        history: ContactHistory | None = None,
    ) -> None:
        self.events = events
        #: The contact history ``sent(…)`` reads (None when no journey of the engine uses it).
        self.history = history
        self.now = now
        self.entered_at = datetime.fromisoformat(inst["entered_at"])
        self.customer_id = inst["customer_id"]
        self.journey_id = journey.id
        self.journey_version = journey.version
        self.tz = zone(profile.timezone or journey.timezone)
        self.variables = variables
        self.profile = typed_attributes(profile.attributes, journey)
        self.trigger = trigger
        #: While a waited-for condition is evaluated: the sliding windows it read.
        self.windows: list[tuple[AggregateQuery, datetime, datetime]] | None = None
        #: While a waited-for condition is evaluated: when the messages sent(…) counted leave
        #: their windows.
        self.leaves: list[datetime] = []

    def aggregate(self, query: AggregateQuery, start: datetime | None, end: datetime | None) -> Any:
        """The customer's aggregate over ``query``'s events between ``start`` and ``end``."""
        if query.sliding and self.windows is not None and start is not None and end is not None:
            self.windows.append((query, start, end))
        try:
            return self.events.aggregate(self.customer_id, query, start, end, self)
        except Exception as exc:
            raise StoreError(exc) from exc

    def last_time(self, event_type: str) -> datetime | None:
        """When the customer's last ``event_type`` event happened, up to now."""
        try:
            return self.events.last_time(self.customer_id, event_type, self.now)
        except Exception as exc:
            raise StoreError(exc) from exc

    def sent(self, query: SentQuery, start: datetime) -> int:
        """How many of the customer's contacts since ``start`` match ``query``."""
        if self.history is None:  # (the engine records contacts for journeys that use sent())
            raise StoreError(RuntimeError("sent(): the engine keeps no contact history"))
        try:
            found = self.history.contacts(self.customer_id, start)
        except Exception as exc:
            raise StoreError(exc) from exc
        counted = [c for c in found if query.matches(c.channel, c.category, c.template)]
        if self.windows is not None and counted:  # (watched: the count drops as they leave)
            self.leaves.append(min(c.at for c in counted) + query.window)
        return len(counted)

    def watch(self, condition: ir.CExpr) -> tuple[bool, datetime | None]:
        """Evaluate a waited-for ``condition``, and when it is false, the earliest instant at
        which time alone could make it true: an event leaving one of its sliding windows."""
        self.windows, self.leaves = [], []
        try:
            value = bool(evaluated(condition, self, None))
            windows = self.windows
        finally:
            self.windows = None
        if value:
            return True, None
        soonest: datetime | None = min((t for t in self.leaves if t > self.now), default=None)
        for query, start, end in windows:
            try:
                found = self.events.events(self.customer_id, query.event, start, end)
            except Exception as exc:
                raise StoreError(exc) from exc
            for e in found:  # oldest first: the first match is the first to leave
                if query.where is None or query.where(self, e):
                    leaves = e.at + (end - start) + _TICK
                    if leaves > self.now and (soonest is None or leaves < soonest):
                        soonest = leaves
                    break
        return False, soonest


def happened(
    event: str | None,
    where: ir.CExpr | None,
    condition: ir.CExpr | None,
    ctx: EvalContext,
    ev: EventRecord,
) -> bool:
    """Whether ``ev`` is the awaited event (and passes its ``where``), or, for a condition
    (of a goal or a `wait for`), whether the condition now holds."""
    if event is not None:
        return event == ev.type and (where is None or bool(evaluated(where, ctx, ev)))
    return condition is not None and bool(evaluated(condition, ctx, None))


class ConditionError(Exception):
    """A wait's or a goal's condition raised as it was evaluated (an expression's own error:
    arithmetic on a field the event did not carry, a currency mismatch …), never a store's
    (see :class:`~journeydsl.runtime.hostcalls.StoreError`): the instance ends with the outcome
    ``error`` (``Interpreter.failing``), the host goes on. ``original`` is what it raised."""

    def __init__(self, original: Exception) -> None:
        super().__init__(repr(original))
        self.original = original


def evaluated(condition: ir.CExpr, ctx: EvalContext, ev: EventRecord | None) -> Any:
    """``condition``'s value; what it raises comes out as :class:`ConditionError`, but a
    store's failure (:class:`~journeydsl.runtime.hostcalls.StoreError`) as it is."""
    try:
        return condition.fn(ctx, ev)
    except StoreError:
        raise
    except Exception as exc:  # an expression's own error
        raise ConditionError(exc) from exc


def entry_holds(condition: ir.CExpr, ctx: EvalContext, ev: EventRecord | None, what: str) -> bool:
    """Whether an entry's condition (``what``: its ``where``, its ``entry when`` condition, a
    segment's condition or its anniversary date) holds for ``ctx``'s customer. An expression
    that raises (arithmetic on a field the event did not carry, a currency mismatch …) refuses
    the entry, with a warning naming the journey, the customer and the error, instead of
    reaching the host: no instance exists yet to end with the outcome ``error``. A store's
    failure still reaches the host (see :class:`~journeydsl.runtime.hostcalls.StoreError`)."""
    try:
        return bool(evaluated(condition, ctx, ev))
    except StoreError as failure:
        raise failure.original from None
    except ConditionError as failure:  # a failing expression must not stop the engine
        entry_failed(ctx.journey_id, ctx.customer_id, what, failure.original)
        return False


def entry_failed(journey: str, customer: str, what: str, exc: BaseException) -> None:
    """The warning of an entry refused because its condition (``what``) raised ``exc``."""
    error = str(exc) or repr(exc)
    log.warning(
        "entry_condition_failed", journey=journey, customer=customer, condition=what, error=error
    )
