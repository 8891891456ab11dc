"""Message history for expressions: ``sent(…)`` reads the contact history the state store keeps
(:class:`~journeydsl.runtime.protocols.ContactHistory`), the same one frequency caps count.

A journey that uses ``sent(…)`` makes the engine record every delivered message in that
history, contact policies or not, and keep it as long as the longest ``sent`` window of any
journey or frequency cap of any policy (:func:`history_window`)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from journeydsl import ir
from journeydsl.runtime.protocols import ContactHistory, StateStore

__all__ = ["contact_history", "history_window"]


def history_window(journeys: Iterable[ir.Journey]) -> timedelta | None:
    """The longest ``sent(…)`` window of ``journeys`` (None when none uses ``sent``)."""
    return max((j.history_window for j in journeys if j.history_window), default=None)


def contact_history(state: StateStore, journeys: Iterable[ir.Journey]) -> ContactHistory | None:
    """The store's contact history when one of ``journeys`` reads it (``sent(…)``), else None;
    a :class:`TypeError` naming the journey when the store keeps none."""
    users = sorted({j.id for j in journeys if j.history_window})
    if not users:
        return None
    if not isinstance(state, ContactHistory):
        raise TypeError(
            f"journey '{users[0]}' reads the message history (sent(…)), which needs a state "
            "store with a contact history (contacts() and record_delivery(), see "
            "ContactHistory); the built-in memory, SQLite and PostgreSQL stores have one"
        )
    return state
