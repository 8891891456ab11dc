"""The embedding contract: the protocols a bank backend implements to run journeys.

They pass plain values: dataclasses, ``str``, aware ``datetime``, :class:`~decimal.Decimal` and
:class:`~journeydsl.money.Money`. Built-in implementations: in-memory
(:mod:`journeydsl.runtime.stores.memory`, for tests and simulation) and SQLite
(:mod:`journeydsl.runtime.stores.sqlite`, the embedded default).
"""

from __future__ import annotations

import enum
import errno
import socket
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord
from journeydsl.runtime.records import InstanceRecord

_T = TypeVar("_T")

__all__ = [
    "ActionHandler",
    "Channel",
    "Clock",
    "CommitHooks",
    "Contact",
    "ContactHistory",
    "DeliveryResult",
    "DeliveryStatus",
    "EventRecord",
    "EventStore",
    "GroupCommit",
    "LiveRecords",
    "Message",
    "OutboxEntry",
    "Profile",
    "ProfileStore",
    "Quarantine",
    "QuarantinedEvent",
    "SinkError",
    "StateStore",
    "Ticket",
    "TicketSink",
    "is_network_error",
    "keep_settled",
    "live_reads",
]


@dataclass(frozen=True, slots=True)
class Profile:
    """A customer's attributes, channel consent and time zone (the DESIGN.md profile contract).

    An empty ``timezone`` means "the journey's time zone" (its ``timezone`` header, by default
    Asia/Ho_Chi_Minh)."""

    customer_id: str
    attributes: Mapping[str, Any] = field(default_factory=dict)
    consent: Mapping[str, bool] = field(default_factory=dict)
    timezone: str = ""
    tags: frozenset[str] = frozenset()
    #: False for the default profile a store gives a customer it has no profile of (no consent,
    #: so every message is withheld); the engine counts and warns about those customers.
    known: bool = field(default=True, compare=False)


@runtime_checkable
class Clock(Protocol):
    """**Protocol:** the engine's notion of now (always timezone-aware)."""

    def now(self) -> datetime:
        """The current time."""
        ...


@runtime_checkable
class EventStore(Protocol):
    """**Protocol:** a customer's events, appended once and queried by window.

    ``append`` must be idempotent on ``event_id`` (return False for a duplicate).
    ``aggregate`` may push the query down (e.g. to SQL) when ``query.where`` is None; otherwise it
    can call :func:`journeydsl.expr.context.run_aggregate` on :meth:`events`.
    """

    def append(self, event_id: str, event: EventRecord) -> bool:
        """Store ``event``; False if ``event_id`` was stored before."""
        ...

    def events(
        self, customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> Sequence[EventRecord]:
        """The customer's events of one type with ``start <= at <= end``, oldest first."""
        ...

    def aggregate(
        self,
        customer_id: str,
        query: AggregateQuery,
        start: datetime | None,
        end: datetime | None,
        ctx: EvalContext,
    ) -> Any:
        """The value of ``query`` over the customer's events in the window."""
        ...

    def last_time(self, customer_id: str, event_type: str, before: datetime) -> datetime | None:
        """When the customer's latest ``event_type`` at or before ``before`` happened."""
        ...


@runtime_checkable
class ProfileStore(Protocol):
    """**Protocol:** customer profiles (attributes, consent, time zone)."""

    def get(self, customer_id: str) -> Profile:
        """The profile; an unknown customer gets an empty default profile with
        ``known=False``."""
        ...

    def update(self, customer_id: str, attribute: str, value: Any) -> None:
        """Set one attribute (journeys' `update` steps)."""
        ...

    def tag(self, customer_id: str, tag: str, remove: bool = False) -> None:
        """Add or remove a tag (journeys' `tag` / `untag` steps)."""
        ...

    def customers(self) -> Iterable[str]:
        """Every known customer id (scheduled segment entries evaluate over these)."""
        ...


class DeliveryStatus(enum.StrEnum):
    """What a channel says about one delivery attempt."""

    DELIVERED = "delivered"
    FAILED_TRANSIENT = "failed_transient"
    FAILED_PERMANENT = "failed_permanent"


@dataclass(frozen=True, slots=True)
class DeliveryResult:
    """A channel's answer; ``detail`` is shown in decision logs."""

    status: DeliveryStatus
    detail: str = ""


class SinkError(Exception):
    """A host sink could not record an effect (the actions file, a database, a queue): not an
    answer about the customer's message, so never a reason to retry on another channel or to
    suppress. Raised from a :class:`Channel`, :class:`TicketSink` or :class:`ActionHandler`, it
    stops the work: the effect stays pending in the outbox and the exception reaches the host."""


#: ``errno`` values of an :class:`OSError` that come from the network (the gateway did not answer
#: or dropped the connection), as opposed to the host's own disk or files.
_NETWORK_ERRNOS = frozenset(
    getattr(errno, name)
    for name in (
        "ECONNABORTED",
        "ECONNREFUSED",
        "ECONNRESET",
        "EHOSTDOWN",
        "EHOSTUNREACH",
        "ENETDOWN",
        "ENETRESET",
        "ENETUNREACH",
        "EPIPE",
        "ETIMEDOUT",
    )
    if hasattr(errno, name)
)


def is_network_error(exc: BaseException) -> bool:
    """Whether ``exc``, raised by a channel, is a network failure talking to its gateway (a
    transient delivery failure): ``TimeoutError``, ``ConnectionError``, a name-resolution error,
    or an ``OSError`` with a network ``errno``. A full disk or an unwritable file is not."""
    if isinstance(exc, TimeoutError | ConnectionError | socket.gaierror | socket.herror):
        return True
    return isinstance(exc, OSError) and exc.errno in _NETWORK_ERRNOS


@dataclass(frozen=True, slots=True)
class Message:
    """A rendered send, handed to a :class:`Channel` with its idempotency key."""

    idempotency_key: str
    customer_id: str
    channel: str
    template: str
    category: str
    params: Mapping[str, Any]
    journey: str
    version: int
    node: str
    at: datetime
    #: A label the channel must show first in the rendered text (e.g. ``[QC]``, Decree
    #: 91/2020/ND-CP's mark for marketing messages), set by the contact policies; "" for none.
    #: A channel whose template text already starts with it must not add it twice.
    label: str = ""
    #: The send's tags (``send … tags [lapsed, promo]``), for the channel's own reporting.
    tags: tuple[str, ...] = ()


@runtime_checkable
class Channel(Protocol):
    """**Protocol:** a message gateway (email, SMS brandname, Zalo ZNS, push …).

    It must deduplicate on ``message.idempotency_key``: the engine delivers at least once, so a
    retried key must not reach the customer twice.

    What its answer means: only the channel's own answer about the customer's message may lead
    to a retry, a fallback or a suppression. A returned :class:`DeliveryResult` is that answer,
    and so is a *network* error it raises while talking to the gateway (``TimeoutError``,
    ``ConnectionError`` and the other socket errors of :func:`is_network_error`), which counts as
    ``FAILED_TRANSIENT``. Anything else it raises, a :class:`SinkError` or any other exception
    (a full disk, a database that refused the write), is the host's own fault: the engine stops
    the work, leaves the effect pending in the outbox and lets the exception reach the host; the
    next call delivers the effect again, and the idempotency key keeps it to one.
    """

    def send(self, message: Message) -> DeliveryResult:
        """Deliver (or refuse) one message."""
        ...


@dataclass(frozen=True, slots=True)
class Ticket:
    """A ticket for a human team (telesales, customer care)."""

    idempotency_key: str
    customer_id: str
    queue: str
    priority: str
    payload: Mapping[str, Any]
    journey: str
    version: int
    node: str
    at: datetime
    #: How late the timer that opened it fired, when later than the journey's ``stale after``
    #: (a catch-up after downtime); None when on time. The ticket still opens.
    late: timedelta | None = None


@runtime_checkable
class TicketSink(Protocol):
    """**Protocol:** the bank's ticket system; deduplicates on ``ticket.idempotency_key``.
    Its exceptions mean what a :class:`Channel`'s do."""

    def open(self, ticket: Ticket) -> DeliveryResult:
        """Open the ticket."""
        ...


@runtime_checkable
class ActionHandler(Protocol):
    """**Protocol:** a reward or custom action registered under its name (e.g.
    ``annual_fee_waiver``); deduplicates on ``idempotency_key``. Its exceptions mean what a
    :class:`Channel`'s do."""

    def __call__(
        self, idempotency_key: str, customer_id: str, params: Mapping[str, Any], at: datetime
    ) -> DeliveryResult:
        """Carry out the action."""
        ...


@dataclass(slots=True)
class OutboxEntry:
    """An effect waiting to be handed to its channel, ticket sink or action handler."""

    key: str
    kind: str  # send | ticket | action | update | tag
    customer_id: str
    #: Its kind's record: :class:`~journeydsl.runtime.records.SendPayload`, ``TicketPayload``
    #: or ``ActionPayload`` (a host's store keeps it as JSON and gives it back unchanged).
    payload: dict[str, Any]
    not_before: datetime
    attempts: int = 0
    status: str = "pending"  # pending | done | suppressed | failed


@runtime_checkable
class StateStore(Protocol):
    """**Protocol:** durable instance state, timers and the outbox.

    Every engine step ends in one :meth:`commit` that writes instance states, timers, outbox
    entries and the processed-event marker atomically: a crash leaves either all or none.
    """

    def commit(
        self,
        instances: Sequence[InstanceRecord],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Atomically persist instance records (with their timer), new outbox entries, and
        mark ``processed_event`` as done."""
        ...

    def instance(self, instance_id: str) -> InstanceRecord | None:
        """One instance record."""
        ...

    def instances_of(self, customer_id: str) -> list[InstanceRecord]:
        """A customer's instance records, active and ended."""
        ...

    def due(self, now: datetime, limit: int = 1000) -> list[str]:
        """Ids of waiting instances whose timer is due at ``now``, earliest first."""
        ...

    def next_due(self) -> datetime | None:
        """The earliest pending timer, if any. (A store that serves engines built with
        ``only=True`` also takes ``journeys=``, a set of ``(journey, version)``, here, in
        :meth:`due` and in :meth:`pending_outbox`, and answers for those journeys only.)"""
        ...

    def processed(self, event_id: str) -> bool:
        """Whether ``event_id`` was fully processed already."""
        ...

    def pending_outbox(self, now: datetime, limit: int = 1000) -> list[OutboxEntry]:
        """Outbox entries due for delivery at ``now``."""
        ...

    def update_outbox(self, entry: OutboxEntry) -> None:
        """Record a delivery attempt's outcome (status, attempts, next attempt time)."""
        ...

    def get_meta(self, key: str) -> str | None:
        """Engine bookkeeping (e.g. the last scheduled-segment evaluation)."""
        ...


@dataclass(frozen=True, slots=True)
class Contact:
    """One message that reached a customer: what frequency caps count, across all journeys.

    ``key`` is the delivered outbox entry's idempotency key, so recording a contact twice (a
    crash between the channel's answer and the commit) keeps one."""

    key: str
    customer_id: str
    at: datetime
    channel: str
    category: str
    journey: str
    template: str
    #: The message's tags (``send … tags [lapsed]``), which tag-scoped caps count.
    tags: tuple[str, ...] = ()


@runtime_checkable
class ContactHistory(Protocol):
    """**Protocol:** the durable contact history a :class:`StateStore` keeps for contact
    policies (``Engine(policies=...)``); both built-in stores implement it.

    :meth:`record_delivery` is :meth:`StateStore.update_outbox` plus the contact and the
    instance's decision log, in one transaction: a crash leaves either all or none, so a cap
    never forgets a message that was delivered and recorded as done.

    A store may also offer ``prune_contacts(before: datetime) -> int`` (both built-in stores
    do): the engine then deletes, once a day, the contacts older than every frequency cap's
    window, so the history stays as long as the caps need and no longer.
    """

    def contacts(self, customer_id: str, since: datetime) -> list[Contact]:
        """The customer's contacts at or after ``since``, oldest first."""
        ...

    def record_delivery(
        self,
        entry: OutboxEntry,
        contact: Contact | None = None,
        instance: InstanceRecord | None = None,
    ) -> None:
        """Store a delivery attempt's outcome (as :meth:`StateStore.update_outbox`), the contact
        it made (ignored when its key is recorded already) and the instance record (its decision
        log grew), atomically."""
        ...


@runtime_checkable
class GroupCommit(Protocol):
    """**Optional protocol:** a :class:`StateStore` that can make several commits one
    transaction (the SQLite store's :meth:`~journeydsl.runtime.stores.sqlite.SQLiteStore.step`).

    The engine then writes one step of work (an event's append, the instances it moved and the
    processed marker; or every timer due at a tick) as one transaction: one sync to disk instead
    of one per write. Effects still leave only after it: deliveries run once the block ended.
    ``step()`` must roll back the whole block when it raises; inside a transaction the host
    opened (a batch of many events), it may simply join it.
    """

    def step(self) -> AbstractContextManager[Any]:
        """A context manager: everything committed inside is one transaction."""
        ...


@runtime_checkable
class LiveRecords(Protocol):
    """**Optional protocol:** a :class:`StateStore` that keeps decision logs apart from the
    records (the SQLite store keeps them in an append-only table). The engine reads the records
    it moves through these methods: each gives *live* records, whose ``log`` holds only the end
    of the decision log, from the last entry of a step on (what the engine reads of it: when
    the instance last moved), with ``log_from`` and ``log_stored`` saying where that end sits
    (see :class:`~journeydsl.runtime.records.InstanceRecord`). :meth:`StateStore.commit` and
    ``record_delivery`` then append the entries after ``log_stored`` to the stored log instead
    of writing it anew: a step writes what it decided, not the history. Records without those
    keys (a new instance, or one read with :meth:`StateStore.instance`) are written whole."""

    def live_instance(self, instance_id: str) -> InstanceRecord | None:
        """One live record."""
        ...

    def live_instances_of(self, customer_id: str) -> list[InstanceRecord]:
        """A customer's live records, oldest first."""
        ...


def live_reads(
    state: StateStore,
) -> tuple[Callable[[str], InstanceRecord | None], Callable[[str], list[InstanceRecord]]]:
    """The reads the engine moves instances with: a :class:`LiveRecords` store's live ones,
    else :meth:`StateStore.instance` and :meth:`StateStore.instances_of`."""
    if isinstance(state, LiveRecords):
        return state.live_instance, state.live_instances_of
    return state.instance, state.instances_of


def keep_settled(group: Callable[[], AbstractContextManager[Any]], work: Callable[[], _T]) -> _T:
    """``work()`` inside ``group()`` (a transaction), keeping what it settled when it fails:
    an exception from ``work`` (a sink's fault) does not roll the transaction back; what was
    written before it is committed, then the exception propagates. When the commit fails too,
    the first fault is raised: it says why."""
    failure: Exception | None = None
    result: _T | None = None
    try:
        with group():
            try:
                result = work()
            except Exception as exc:
                failure = exc
    except Exception:
        if failure is None:
            raise
        raise failure from None
    if failure is not None:
        raise failure
    return cast(_T, result)


@runtime_checkable
class CommitHooks(Protocol):
    """**Optional protocol:** a :class:`StateStore` whose host may hold a transaction open across
    many engine calls (the SQLite store's
    :meth:`~journeydsl.runtime.stores.sqlite.SQLiteStore.batch`). A store that can do that must
    offer this, so the engine can hold its deliveries back until the transaction is durable: no
    effect leaves before the state change that recorded it is committed."""

    def after_commit(self, callback: Callable[[], None]) -> bool:
        """Run ``callback`` once the transaction open now has committed durably, and drop it if
        that transaction rolls back; return False, without calling it, when no transaction is
        open (the caller then runs it itself)."""
        ...

    def in_transaction(self) -> bool:
        """Whether a transaction is open now: deliveries wait for its commit, so the outbox is
        no work for :meth:`~journeydsl.runtime.engine.Engine.tick` until then (a host loop of
        ``while engine.next_wakeup() <= t: engine.tick(...)`` inside a batch must end)."""
        ...


@dataclass(frozen=True, slots=True)
class QuarantinedEvent:
    """An event the engine could not take, kept so it can be corrected and replayed.

    ``event`` is the event as it came (its JSON text, or the raw line when it was not JSON);
    ``count`` is how often it came; ``replay`` is set when an operator asked for it to be
    retried by the next run (``journeydsl quarantine replay`` without journeys)."""

    event_id: str
    event: str
    reason: str
    first_seen: datetime
    last_seen: datetime
    count: int = 1
    replay: bool = False


@runtime_checkable
class Quarantine(Protocol):
    """**Optional protocol:** a :class:`StateStore` that keeps quarantined events (both built-in
    stores do). A quarantined event is not marked processed: the same id arriving later with a
    valid payload is processed, and :meth:`release` then removes it from the quarantine."""

    def quarantine(self, event_id: str, event: str, reason: str, seen: datetime) -> None:
        """Keep ``event`` under ``event_id`` with the ``reason``; a second time, update the
        reason and the last sighting and count it."""
        ...

    def quarantined(self, event_id: str | None = None) -> list[QuarantinedEvent]:
        """The quarantined events (or the one with ``event_id``), first seen first."""
        ...

    def release(self, event_id: str) -> bool:
        """Remove ``event_id`` from the quarantine (it was processed); False if it was not there."""
        ...

    def request_replay(self, event_id: str | None = None) -> int:
        """Mark every quarantined event (or ``event_id``) to be retried by the next run; returns
        how many were marked."""
        ...
