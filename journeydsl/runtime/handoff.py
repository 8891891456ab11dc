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

import contextlib
import weakref
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from journeydsl import ir
from journeydsl.durations import bounded_duration, parse_duration
from journeydsl.expr.context import EventRecord
from journeydsl.expr.literals import time_value
from journeydsl.expr.types import record
from journeydsl.runtime.codec import encode_map
from journeydsl.runtime.decisions import note
from journeydsl.runtime.events import EARLIEST, LATEST
from journeydsl.runtime.hostcalls import log
from journeydsl.runtime.records import InstanceRecord

if TYPE_CHECKING:
    from journeydsl.runtime.entry import Entries
    from journeydsl.runtime.interpreter import Interpreter, Step

__all__ = ["Handoffs", "enrolled_values", "missing_targets", "run_enter"]


def enrolled_values(journey: ir.Journey, data: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``Engine.enroll``'s ``data`` gives what the journey's entry expects (plain
    numbers become amounts, as a decision's answer does; ISO texts become timestamps, dates and
    times of day, and texts such as ``3d`` durations, as a JSON or YAML file writes them);
    ValueError when one is missing or of another type."""
    from journeydsl.runtime.decide import typed_answer

    inputs = journey.entry.inputs
    try:
        others = {n: t for n, t in inputs if t.kind not in _TEMPORAL}
        typed = dict(typed_answer(data, record(others)))
        for name, t in inputs:
            if t.kind not in _TEMPORAL:
                continue
            if name not in data:
                raise ValueError(f"field '{name}' is missing")
            try:
                typed[name] = _temporal(data[name], t.kind)
            except ValueError as exc:
                raise ValueError(f"field '{name}': {exc}") from None
    except ValueError as exc:
        expects = ", ".join(f"{n}: {t}" for n, t in inputs)
        raise ValueError(f"journey '{journey.id}' expects {{{expects}}}: {exc}") from None
    return {n: typed[n] for n, _ in inputs}


#: The declared types of an entry's values that a file writes as text.
_TEMPORAL = frozenset({"timestamp", "date", "time", "duration"})


def _temporal(raw: Any, kind: str) -> Any:
    """``raw`` (the value itself, or its text) as a value of the temporal ``kind``; ValueError
    saying what to write when it is not one."""
    if kind == "timestamp":
        return _timestamp(raw)
    if kind == "date":
        if isinstance(raw, date) and not isinstance(raw, datetime):
            return raw
        with contextlib.suppress(ValueError):
            if isinstance(raw, str):
                return date.fromisoformat(raw)
        raise ValueError(f"{raw!r} is not a date (write e.g. 2026-01-05)")
    if kind == "time":
        value = raw if isinstance(raw, time) else time_value(raw) if isinstance(raw, str) else None
        if value is None or value.tzinfo is not None or value.second or value.microsecond:
            raise ValueError(f"{raw!r} is not a time of day (write e.g. 09:00)")
        return value
    if isinstance(raw, str):
        return parse_duration(raw, units="wdhms", example="3d, 12h or 1d12h")
    if isinstance(raw, timedelta) and raw >= timedelta(0) and not raw.microseconds:
        return bounded_duration(int(raw.total_seconds()), str(raw))
    raise ValueError(f"{raw!r} is not a duration (write e.g. 3d, 12h or 1d12h)")


def _timestamp(raw: Any) -> datetime:
    """``raw`` as an aware timestamp in the range events are held to."""
    value = None
    if isinstance(raw, datetime):
        value = raw
    elif isinstance(raw, str):
        with contextlib.suppress(ValueError):
            value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    example = "write e.g. 2026-01-05T09:00:00+07:00"
    if value is None:
        raise ValueError(f"{raw!r} is not a timestamp ({example})")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{raw!r} has no UTC offset ({example})")
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # (year 1 or 9999 with an offset)
        inside = False
    if not inside:
        raise ValueError(f"{raw!r} is out of range (from 1900 to 2999)")
    return value


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
        if self._busy(target.id, customer) or target.id == inst["journey"]:
            why = "a cycle: it is being run for this customer in this step"
        elif target.id in self.entries.closed:  # (control of live journeys)
            why = "it is paused or draining"
        else:
            why = "its entry rules refused"
            data = {"from": inst["journey"], "from_instance": inst["id"]}
            trigger = EventRecord(customer, "handoff", now, data)
            new = self.entries.enter(target, customer, now, profile, trigger)
        if new is None:
            note(inst, now, node.id, "handoff", journey=target.id, entered=False, why=why)
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
