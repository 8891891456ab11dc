"""What the engine checks before it takes work: its handlers, an event's text, and whose
journeys an event was processed for.

* :func:`missing_handlers`: every channel, ticket queue and action a journey can use must have a
  handler when the engine is built; a journey that would fall back, or suppress, for want of one
  is refused at start, not discovered one customer at a time.
* :func:`event_json`: an event as the JSON contract has it, whatever form the host gave;
  :func:`event_text`: the text a quarantined event is kept as, with its numbers exact.
* :meth:`Intake.refusal`: an event too late to take, or a ``ticket_closed`` naming another
  customer's open ticket, is quarantined with its reason.
* :func:`scoped_marker`: the processed marker of an event for one journey. A run of only some
  of the journeys in a store (``Engine(only=True)``, ``journeydsl run --only``) marks each event
  processed for each of its journeys, not for all, so the others still take it later.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.jsonio import valid_unicode
from journeydsl.money import Money
from journeydsl.runtime.codec import plain
from journeydsl.runtime.events import UnreadableEvent
from journeydsl.runtime.hostcalls import duration_setting, log
from journeydsl.runtime.interpreter import describe_lateness
from journeydsl.runtime.protocols import Clock, Quarantine, QuarantinedEvent, StateStore
from journeydsl.runtime.queues import CLOSED_EVENT

if TYPE_CHECKING:
    from journeydsl.runtime.queues import TicketQueues

__all__ = [
    "SCOPED_MARKERS",
    "IngestResult",
    "Intake",
    "event_json",
    "event_text",
    "kept_text",
    "missing_handlers",
    "printable",
    "scoped_marker",
    "unknown_journey",
]

#: The engine meta key set once a store has seen a run of only some of its journeys: from then
#: on every engine over it also looks for per-journey processed markers.
SCOPED_MARKERS = "scoped_markers"


@dataclass(slots=True)
class IngestResult:
    """What one :meth:`Engine.ingest` did."""

    event_id: str
    duplicate: bool = False
    quarantined: str | None = None
    entered: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)


def event_json(raw: Mapping[str, Any] | EventRecord) -> dict[str, Any]:
    """The event as the JSON contract has it (what its id is computed from and what a
    quarantine keeps); text that was not an event stays an :class:`UnreadableEvent`."""
    if type(raw) is UnreadableEvent:
        return raw
    if isinstance(raw, EventRecord):
        return {
            "customer_id": raw.customer_id,
            "type": raw.type,
            "at": raw.at.isoformat(),
            "data": plain(raw.data),
        }
    if not isinstance(raw, Mapping):  # None, a list, a number: quarantined, never raised
        shown = repr(raw)
        return UnreadableEvent(
            shown if len(shown) <= 1000 else shown[:999] + "…",
            "an event is a JSON object",
        )
    event = dict(raw)
    if isinstance(at := event.get("at"), datetime):
        # A host's datetime is written as the contract's text (so its id is that of the same
        # event given as JSON); a naive one is then refused for its missing offset.
        event["at"] = at.isoformat()
    return event


def unknown_journey(journey_id: object, known: Collection[str]) -> ValueError:
    """The error of a journey id the engine does not run (``enroll``), naming those it runs
    and the closest one."""
    from journeydsl.diagnostics import did_you_mean

    close = did_you_mean(str(journey_id), known)
    hint = f"; {close}" if close else ""
    return ValueError(
        f"no journey {journey_id!r} in this engine (it runs {', '.join(sorted(known))}){hint}"
    )


def scoped_marker(event_id: str, journey_id: str) -> str:
    """The processed marker of ``event_id`` for ``journey_id`` alone."""
    return f"{event_id}\x1f{journey_id}"


def missing_handlers(
    journeys: Sequence[ir.Journey],
    channels: Collection[str],
    tickets: bool,
    actions: Collection[str],
) -> list[str]:
    """What the journeys use that nothing handles, one line each: a channel (as the first
    choice of a send or as a fallback), tickets without a ticket sink, an action or reward
    without a handler."""
    missing: dict[str, list[str]] = {}
    for n, journey in enumerate(journeys):
        if not isinstance(journey, ir.Journey):
            raise TypeError(
                f"journeys[{n}] is {type(journey).__name__}, not a compiled journey: give "
                "compile_file(...).journey, after checking .ok (it is None when the journey "
                "has errors; .diagnostics says which)"
            )
        for node in journey.nodes.values():
            wanted: list[str] = []
            if isinstance(node, ir.Send):
                wanted = [
                    f"channel '{c}'" for c in (node.channel, *node.fallback) if c not in channels
                ]
            elif isinstance(node, ir.Ticket) and not tickets:
                wanted = [f"a ticket sink (queue '{node.queue}')"]
            elif isinstance(node, ir.Action) and node.name not in actions:
                wanted = [f"{node.action} handler '{node.name}'"]
            for what in wanted:
                missing.setdefault(what, []).append(f"{journey.id} v{journey.version} {node.id}")
    return [
        f"{what}, used by {', '.join(users[:3])}"
        + (f" and {len(users) - 3} more" if len(users) > 3 else "")
        for what, users in missing.items()
    ]


def kept_text(as_json: Mapping[str, Any]) -> str:
    """The text a quarantine keeps of an event (:func:`event_json`'s form): its JSON, or text
    that was not an event as it came, to be read the same way again."""
    return str(as_json["raw"]) if type(as_json) is UnreadableEvent else event_text(as_json)


def event_text(event: Mapping[str, Any]) -> str:
    """An event as JSON text, numbers exact (a ``Decimal`` is written with its digits, never
    through a float); anything JSON has no form for is written as its text."""
    numbers: dict[str, str] = {}

    def exact(value: Any) -> Any:
        if isinstance(value, bool | int | str) or value is None:
            return value
        if isinstance(value, Decimal) and value.is_finite():
            marker = f"\x00{len(numbers)}\x00"
            numbers[marker] = format(value, "f")
            return marker
        if isinstance(value, Money):
            return {"amount": exact(value.amount), "currency": value.currency}
        if isinstance(value, datetime | date | time):
            return value.isoformat()
        if isinstance(value, timedelta):
            return str(value)
        if isinstance(value, Mapping):
            return {str(k): exact(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [exact(v) for v in value]
        return str(value)

    plain = exact(event)
    text = json.dumps(plain, ensure_ascii=False, sort_keys=False)
    if not valid_unicode(text):  # a lone surrogate: written as its JSON escape, read back the same
        text = json.dumps(plain, ensure_ascii=True, sort_keys=False)
    for marker, digits in numbers.items():
        text = text.replace(json.dumps(marker), digits, 1)
    return text


def printable(text: str) -> str:
    """``text`` with any lone surrogate written as its escape (``\\ud800``): what a store can
    keep and a log can print of an id that is not valid Unicode."""
    if valid_unicode(text):
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


class Intake:
    """What the engine checks before it takes an event (was it taken already, by all of its
    journeys or by some; is it too late) and where it keeps one it refuses."""

    def __init__(
        self,
        state: StateStore,
        clock: Clock,
        journeys: Collection[str],
        *,
        only: bool,
        allowed_lateness: timedelta | None,
        on_quarantine: Callable[[Mapping[str, Any], str], None] | None,
    ) -> None:
        if not callable(getattr(clock, "now", None)):
            raise TypeError(
                f"clock is {type(clock).__name__} {clock!r:.60}, which has no now() method: give "
                "a Clock, an object whose now() returns an aware datetime (journeydsl.SystemClock"
                "(), or journeydsl.testing.SteppableClock in tests)"
            )
        self.state = state
        self.clock = clock
        self.journeys = journeys
        self.allowed_lateness = duration_setting("allowed_lateness", allowed_lateness)
        self.on_quarantine = on_quarantine
        #: Every event refused since the engine started, with the reason.
        self.refused: list[tuple[Mapping[str, Any], str]] = []
        self.kept: Quarantine | None = state if isinstance(state, Quarantine) else None
        # Whether the store ever ran some journeys only (then look for per-journey markers);
        # None until the first event asks.
        self._scoped: bool | None = True if only else None

    def done_for(self, eid: str) -> frozenset[str]:
        """The journeys (of this engine) that took ``eid`` in a run of only some journeys."""
        if self._scoped is None:
            self._scoped = self.state.get_meta(SCOPED_MARKERS) == "1"
        if not self._scoped:
            return frozenset()
        processed = self.state.processed
        return frozenset(j for j in self.journeys if processed(scoped_marker(eid, j)))

    def unkeepable(self, eid: str, as_json: Mapping[str, Any]) -> IngestResult | None:
        """The result of an event whose id is not valid Unicode (see
        :func:`~journeydsl.jsonio.valid_unicode`), which no store can keep nor look up, once
        quarantined under the id with the surrogate escaped (its own ``id`` is checked too: a
        replay finds it in the text); None for any other."""
        given = as_json.get("id")
        if valid_unicode(eid) and not (type(given) is str and not valid_unicode(given)):
            return None
        result = IngestResult(printable(eid))
        why = "'id' is not valid Unicode text (it holds a lone surrogate)"
        self.quarantine(result.event_id, as_json, why, result)
        return result

    def taken(self, eid: str) -> bool:
        """Whether ``eid`` was taken already, by every journey or (in runs of some journeys)
        by one of them (never, for an id no store can keep: see
        :func:`~journeydsl.jsonio.valid_unicode`)."""
        if not valid_unicode(eid):
            return False
        return self.state.processed(eid) or bool(self.done_for(eid))

    def now(self) -> datetime:
        """The engine's clock's now; a :class:`ValueError` naming the clock when it is naive (no
        UTC offset: ``datetime.now()``), which no instant the engine keeps compares with."""
        now = self.clock.now()
        if not isinstance(now, datetime) or now.utcoffset() is None:
            shown = now.isoformat() if isinstance(now, datetime) else repr(now)
            raise ValueError(
                f"the engine's clock ({type(self.clock).__name__}.now()) gave {shown}, a time "
                "without a UTC offset; a Clock must return an aware datetime, e.g. "
                "datetime.now(UTC)"
            )
        return now

    def too_late(self, at: datetime) -> str | None:
        """Why an event dated ``at`` is too late to take, if it is."""
        limit = self.allowed_lateness
        if limit is None or (late := self.now() - at) <= limit:
            return None
        return (
            f"too_late: dated {describe_lateness(late)} before the engine's clock "
            f"(allowed lateness {describe_lateness(limit)})"
        )

    def refusal(self, ev: EventRecord, late_ok: bool, queues: TicketQueues | None) -> str | None:
        """Why the event cannot be taken, if it cannot: it is too late (unless ``late_ok``), or
        it is a ``ticket_closed`` naming a ticket open for another customer (an event closes
        only its own customer's tickets). An :class:`EventRecord` the host built with a naive
        ``at`` (one read from the JSON contract always has an offset) is refused too."""
        if ev.at.utcoffset() is None:
            return f"'at' has no UTC offset: {ev.at.isoformat()!r} (give an aware datetime)"
        if not late_ok and (why := self.too_late(ev.at)) is not None:
            return why
        if ev.type != CLOSED_EVENT or queues is None:
            return None
        ticket_id = ev.data.get("ticket_id")
        owner = queues.owner(ticket_id)
        if owner is None or owner == ev.customer_id:
            return None
        return (
            f"not_own_ticket: 'ticket_id' {ticket_id!r} names a ticket open for another "
            f"customer, not {ev.customer_id!r}"
        )

    def quarantine(
        self, eid: str, as_json: Mapping[str, Any], reason: str, result: IngestResult
    ) -> None:
        """Report a refused event, and keep it where the store keeps a quarantine (not marked
        processed: a corrected event with the same id is taken)."""
        result.quarantined = reason
        self.refused.append((as_json, reason))
        log.warning("quarantine", reason=reason, event_type=as_json.get("type"))
        if self.on_quarantine is not None:
            self.on_quarantine(as_json, reason)
        if self.kept is not None:
            self.kept.quarantine(eid, kept_text(as_json), reason, datetime.now(UTC))

    def unreadable_again(self, found: QuarantinedEvent, result: IngestResult) -> None:
        """A kept event replayed whose text is still not an event: it stays as it came, with
        its reason, counted once more."""
        as_json = UnreadableEvent(found.event, found.reason)
        self.quarantine(found.event_id, as_json, found.reason, result)
