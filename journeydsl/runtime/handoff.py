"""Hand-offs at run time: an ``enter JOURNEY with { … }`` step enters the customer into another
journey, in the same commit as the step that hands off.

The interpreter cannot commit: the engine commits each step of work once (an event, a timer, an
entry), with every instance it moved. So the new instance is kept here, in :attr:`Handoffs.
pending`, and every place that commits a step adds :meth:`Handoffs.take` to its records: the
hand-off and the instance it created are one transaction, and a crash before it loses both (the
step runs again, to the same hand-off and the same instance id), never one of them.

The target's entry rules apply as to any entry (:meth:`Entries.enter`: re-entry, one running
instance per key); a customer they refuse takes the step's ``not entered`` exit, or goes on
after the step, with the refusal in the decision log. In one step of work a journey is entered
by hand-off at most once per customer, and never while an instance of it is being run in that
step (a cycle of hand-offs stops there).
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.expr.types import record
from journeydsl.runtime.codec import encode_map
from journeydsl.runtime.decisions import note
from journeydsl.runtime.hostcalls import log
from journeydsl.runtime.records import InstanceRecord

if TYPE_CHECKING:
    from journeydsl.runtime.entry import Entries
    from journeydsl.runtime.interpreter import Interpreter, Step

__all__ = ["Handoffs", "enrolled_values", "missing_targets", "run_enter"]


def enrolled_values(journey: ir.Journey, data: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``Engine.enroll``'s ``data`` gives what the journey's entry expects (plain
    numbers become amounts, as a decision's answer does); ValueError when one is missing or of
    another type."""
    from journeydsl.runtime.decide import typed_answer

    try:
        typed = typed_answer(data, record(dict(journey.entry.inputs)))
    except ValueError as exc:
        expects = ", ".join(f"{n}: {t}" for n, t in journey.entry.inputs)
        raise ValueError(f"journey '{journey.id}' expects {{{expects}}}: {exc}") from None
    return dict(typed)


def missing_targets(journeys: Iterable[ir.Journey], loaded: Iterable[str]) -> list[str]:
    """``"a hands off to b"`` for each hand-off to a journey that is not ``loaded``."""
    known = set(loaded)
    return sorted(
        {
            f"{j.id} hands off to {n.journey}"
            for j in journeys
            for n in j.nodes.values()
            if isinstance(n, ir.Enter) and n.journey not in known
        }
    )


class Handoffs:
    """The instances the hand-offs of the current step of work created, until it commits."""

    def __init__(self, entries: Entries) -> None:
        # (a weak reference: the interpreter keeps this object, and the entries the interpreter;
        # no cycle, so a finished simulation is freed at once, without the cycle collector)
        self.entries: Entries = weakref.proxy(entries)
        #: New instances, to be committed with the step that created them.
        self.pending: list[InstanceRecord] = []
        #: The instances being run in this step of work, outermost first.
        self._running: list[InstanceRecord] = []
        missing = missing_targets(entries.latest.values(), entries.latest)
        if missing:
            raise ValueError(
                f"a journey hands off to a journey this engine does not run: {'; '.join(missing)}"
                " (pass the target journeys too)"
            )

    def take(self) -> list[InstanceRecord]:
        """The instances created since the last commit (and forget them): the caller commits
        them with its records."""
        out, self.pending = self.pending, []
        return out

    def _busy(self, journey: str, customer: str) -> bool:
        """Whether this step of work already entered ``customer`` into ``journey``, or runs an
        instance of it for them."""
        return any(
            i["journey"] == journey and i["customer_id"] == customer
            for i in (*self.pending, *self._running)
        )

    def enter(self, node: ir.Enter, step: Step) -> str | None:
        """Run the hand-off ``node``; the next node (``refused`` when the customer did not
        enter)."""
        inst, now = step.inst, step.ctx.now
        customer = inst["customer_id"]
        target = self.entries.latest.get(node.journey)
        if target is None:  # (an older version's target that is no longer run)
            reason = f"journey '{node.journey}' is not run by this engine"
            self.entries.interpreter.fail(inst, step.journey, reason, now)
            return None
        values = {name: value.fn(step.ctx, None) for name, value in node.args}
        profile = self.entries.profiles.get(customer)
        new = None
        if not self._busy(target.id, customer) and target.id != inst["journey"]:
            data = {"from": inst["journey"], "from_instance": inst["id"]}
            trigger = EventRecord(customer, "handoff", now, data)
            new = self.entries.enter(target, customer, now, profile, trigger)
        if new is None:
            note(inst, now, node.id, "handoff", journey=target.id, entered=False)
            log.info(
                "handoff_refused", journey=inst["journey"], target=target.id, customer=customer
            )
            return node.refused
        new["vars"] = encode_map(values)
        self._running.append(inst)
        try:
            interpreter = self.entries.interpreter
            interpreter.run(target, new, target.start, now, profile, step.outbox, step.late)
        finally:
            self._running.pop()
        self.pending.append(new)
        note(inst, now, node.id, "handoff", journey=target.id, entered=True, instance=new["id"])
        return node.next


def run_enter(interp: Interpreter, node: ir.Enter, step: Step) -> str | None:
    """The ``enter`` step (see :class:`Handoffs`)."""
    if interp.handoffs is None:  # (an interpreter run without the engine's entries)
        interp.fail(step.inst, step.journey, "hand-offs need the engine", step.ctx.now)
        return None
    return interp.handoffs.enter(node, step)
