"""A virtual clock and virtual gateways: a clock that moves only when told, and a channel, a
ticket sink and an action handler that record what they are handed, deduplicate on the
idempotency key and answer as scripted. The simulator runs journeys on them; hosts get them
from :mod:`journeydsl.testing` to test their own integrations."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from journeydsl.runtime.protocols import (
    DeliveryResult,
    DeliveryStatus,
    Message,
    Ticket,
)

__all__ = [
    "RecordingActions",
    "RecordingChannel",
    "RecordingTickets",
    "SteppableClock",
]

_OK = DeliveryResult(DeliveryStatus.DELIVERED)


@dataclass
class SteppableClock:
    """A clock that only moves when told to."""

    current: datetime

    def __post_init__(self) -> None:
        if self.current.utcoffset() is None:
            raise ValueError("SteppableClock needs an aware datetime")

    def now(self) -> datetime:
        """The current virtual time."""
        return self.current

    def set(self, when: datetime) -> None:
        """Jump to ``when`` (never backwards); a naive ``when`` is refused, as at creation."""
        if when.utcoffset() is None:
            raise ValueError(
                f"SteppableClock needs an aware datetime, not {when.isoformat()} (give its UTC "
                "offset, e.g. tzinfo=ZoneInfo('Asia/Ho_Chi_Minh'))"
            )
        if when > self.current:
            self.current = when

    def advance(self, by: timedelta) -> None:
        """Move forward by ``by``."""
        self.current += by


@dataclass
class RecordingChannel:
    """A channel that records what it delivers and deduplicates on the idempotency key, as a
    real gateway must. ``script`` may decide a result per message (to inject failures)."""

    name: str = "channel"
    script: Callable[[Message], DeliveryResult] | None = None
    delivered: list[Message] = field(default_factory=list)
    attempts: list[Message] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)

    def send(self, message: Message) -> DeliveryResult:
        """Deliver once per key; later attempts with a delivered key are acknowledged silently."""
        self.attempts.append(message)
        if message.idempotency_key in self._keys:
            return _OK
        result = self.script(message) if self.script else _OK
        if result.status is DeliveryStatus.DELIVERED:
            self._keys.add(message.idempotency_key)
            self.delivered.append(message)
        return result


@dataclass
class RecordingTickets:
    """A ticket sink that records tickets, once per key."""

    opened: list[Ticket] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)

    def open(self, ticket: Ticket) -> DeliveryResult:
        """Record the ticket once."""
        if ticket.idempotency_key not in self._keys:
            self._keys.add(ticket.idempotency_key)
            self.opened.append(ticket)
        return _OK


@dataclass
class RecordingActions:
    """An action handler that records calls, once per key."""

    calls: list[tuple[str, str, Mapping[str, Any]]] = field(default_factory=list)
    _keys: set[str] = field(default_factory=set)

    def __call__(
        self, idempotency_key: str, customer_id: str, params: Mapping[str, Any], at: datetime
    ) -> DeliveryResult:
        """Record the call once."""
        if idempotency_key not in self._keys:
            self._keys.add(idempotency_key)
            self.calls.append((idempotency_key, customer_id, dict(params)))
        return _OK
