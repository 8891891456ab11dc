"""Message history for expressions: ``sent(…)`` reads the contact history the state store keeps
(:class:`~journeydsl.runtime.protocols.ContactHistory`), the same one frequency caps count.

A journey that uses ``sent(…)`` makes the engine record every delivered message in that
history, contact policies or not, and keep it as long as the longest ``sent`` window of any
journey or frequency cap of any policy (:func:`history_window`). A delivery is not an event,
but it changes what ``sent(…)`` counts: the customer's waits on a condition that reads it
(:func:`waits_on_sent`) are checked again when a message reaches them
(:meth:`~journeydsl.runtime.waits.Waits.delivered`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import timedelta

from journeydsl import ir
from journeydsl.runtime.protocols import ContactHistory, StateStore

__all__ = ["contact_history", "history_window", "reads_sent", "waits_on_sent"]

#: A string literal of an expression's canonical source (double quotes, backslash escapes).
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_SENT = re.compile(r"\bsent\(")


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


def reads_sent(condition: ir.CExpr | None) -> bool:
    """Whether ``condition`` reads the message history (``sent(…)``), from its canonical
    source, string literals aside."""
    if condition is None or "sent(" not in condition.source:
        return False
    return _SENT.search(_STRING.sub('""', condition.source)) is not None


def waits_on_sent(node: ir.Node | None) -> bool:
    """Whether ``node`` is a wait on a condition that reads ``sent(…)`` (a ``wait for`` on a
    condition, or a ``wait first`` with such a branch): a delivery may turn it true."""
    if isinstance(node, ir.WaitFor):
        return node.event is None and reads_sent(node.condition)
    if isinstance(node, ir.WaitFirst):
        return any(reads_sent(b.condition) for b in node.branches)
    return False
