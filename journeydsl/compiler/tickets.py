"""Lowering of ``ticket``: its priority (a name of :data:`PRIORITY`), its payload, and its
``accepted { … }`` / ``not accepted { … }`` exits, with which the step waits for the queue's
decision (a ticket queue with a daily capacity may not take it)."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.expr.checker import Scope, check_type
from journeydsl.expr.types import Type

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["PRIORITY", "lower_ticket"]

#: The type of a ticket's priority.
PRIORITY = Type("enum", values=A.PRIORITIES)
_PRIORITY_CONSTANTS = {p: (PRIORITY, p) for p in A.PRIORITIES}


def lower_ticket(lw: _Lowerer, s: A.Ticket, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.Ticket` of ``s``; with exits, each block continues to ``nxt``."""
    pscope = replace(scope, event=None, constants=_PRIORITY_CONSTANTS)
    if s.priority is not None:
        pt = check_type(s.priority, pscope, PRIORITY, "a ticket's priority")
        prio = lw.cexpr(s.priority, pt)
    else:
        pt = None
        prio = ir.CExpr('"normal"', PRIORITY, lambda c, e: "normal", True, s.span)
    payload, typed = lw.free_params(s.payload, scope)
    if not s.waits:
        return lw.add(ir.Ticket(nid, s.span, s.queue.name, prio, payload, nxt), pt, *typed)
    accepted = lw.lower_steps(s.accepted or (), nxt, scope)
    not_accepted = lw.lower_steps(s.not_accepted or (), nxt, scope)
    node = ir.Ticket(nid, s.span, s.queue.name, prio, payload, None, True, accepted, not_accepted)
    return lw.add(node, pt, *typed)
