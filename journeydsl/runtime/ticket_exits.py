"""Ticket exits: a ``ticket`` step with ``accepted { … }`` / ``not accepted { … }`` waits for
its queue's decision.

The step parks its instance at the ticket (a wait of kind ``ticket`` holding the ticket's
outbox key). When the delivery settles the ticket, :func:`decide` writes the decision into
that wait and sets the instance's timer to the same instant, in the same write as the outbox
update: opened by the ticket sink is ``accepted``; dropped by its queue (``queue_full``) or
refused by the sink is ``not_accepted``. The timer then runs the matching exit
(:func:`take_exit`), so a crash between the two leaves a durable decision that the next tick
takes. A decision for an instance no longer waiting at that ticket (a goal ended it) is ignored.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from journeydsl import ir
from journeydsl.runtime.decisions import note
from journeydsl.runtime.hostcalls import iso
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.records import InstanceRecord, wait_of

if TYPE_CHECKING:
    from journeydsl.runtime.interpreter import Interpreter, Late

__all__ = ["ACCEPTED", "NOT_ACCEPTED", "decide", "take_exit"]

ACCEPTED = "accepted"
NOT_ACCEPTED = "not_accepted"


def decide(
    inst: InstanceRecord | None,
    entry: OutboxEntry,
    now: datetime,
    accepted: bool,
    reason: str | None = None,
) -> bool:
    """Note the queue's decision on ``entry`` (a ticket) in ``inst``, when it waits for it, and
    set its timer to ``now``; whether it did (the instance must then be saved with the entry)."""
    if inst is None or inst["status"] != "waiting":
        return False
    wait = inst["wait"]
    if wait is None or wait.get("ticket") != entry.key or "decision" in wait:
        return False
    wait["decision"] = ACCEPTED if accepted else NOT_ACCEPTED
    if reason and not accepted:
        wait["reason"] = reason
    inst["due"] = iso(now)
    return True


def take_exit(
    interpreter: Interpreter,
    journey: ir.Journey,
    inst: InstanceRecord,
    node: ir.Ticket,
    when: datetime,
    profile: Profile,
    outbox: list[OutboxEntry],
    late: Late | None = None,
) -> None:
    """The timer of an instance waiting at the ticket ``node`` fired: run the exit its queue
    decided (without a decision yet, wait on)."""
    wait = wait_of(inst)
    decision = wait.get("decision")
    if decision is None:  # (a timer set by something else: keep waiting for the queue)
        inst["due"] = None
        return
    reason = {"reason": wait["reason"]} if "reason" in wait else {}
    note(inst, when, node.id, "ticket_exit", queue=node.queue, exit=decision, **reason)
    inst["wakes"] = inst.get("wakes", 0) + 1
    target = node.accepted if decision == ACCEPTED else node.not_accepted
    interpreter.run(journey, inst, target, when, profile, outbox, late)
