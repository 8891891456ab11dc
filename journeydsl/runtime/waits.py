"""Waits and goals: what an event or a timer does to an instance that is already running.

An event may reach one of the journey's goals (the instance ends with the goal's outcome), or
end the wait the instance is parked at (the awaited event, or a waited-for condition that now
holds). A timer ends a wait by its timeout, or is the re-check of a waited-for condition: the
instant time alone could make it true, an event leaving a sliding window."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.decisions import note
from journeydsl.runtime.evaluation import EvalContext, happened
from journeydsl.runtime.hostcalls import log
from journeydsl.runtime.interpreter import Interpreter
from journeydsl.runtime.protocols import OutboxEntry, Profile

__all__ = ["Waits"]


class Waits:
    """Moves running instances on events and timers, through the interpreter."""

    def __init__(self, interpreter: Interpreter) -> None:
        self.interpreter = interpreter

    def on_event(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        ev: EventRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> str | None:
        """What ``ev`` did to the running ``inst``: ``"goal"`` (it ended at a goal),
        ``"resumed"`` (its wait ended and it ran on), ``"moved"`` (a condition wait moved its
        re-check) or None (nothing to save)."""
        if self.goal_hit(journey, inst, ev, now, profile):
            return "goal"
        if inst["status"] != "waiting":
            return None
        timer = inst["due"]
        if not self.wakes(journey, inst, ev, now, profile):
            return "moved" if inst["due"] != timer else None
        node = journey.nodes[inst["wait"]["node"]]
        assert isinstance(node, ir.WaitFor)
        note(inst, now, node.id, "woke", event=ev.type)
        inst["wakes"] = inst.get("wakes", 0) + 1
        log.info(
            "wake",
            journey=journey.id,
            version=journey.version,
            customer=ev.customer_id,
            node=node.id,
            event_type=ev.type,
        )
        self.interpreter.run(journey, inst, node.then, now, profile, outbox)
        return "resumed"

    def on_timer(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        when: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> None:
        """The timer of the waiting ``inst``, due at ``when``, fired."""
        node = journey.nodes[inst["wait"]["node"]]
        if isinstance(node, ir.WaitFor) and inst["wait"].get("recheck"):
            self.recheck(journey, inst, node, when, profile, outbox)
            return
        note(inst, when, node.id, "timer")
        log.info(
            "wake",
            journey=journey.id,
            version=journey.version,
            customer=inst["customer_id"],
            node=node.id,
            timer=inst["due"],
        )
        target = node.on_timeout if isinstance(node, ir.WaitFor) else node.next  # type: ignore[attr-defined]
        self.interpreter.run(journey, inst, target, when, profile, outbox)

    def goal_hit(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        ev: EventRecord,
        now: datetime,
        profile: Profile,
    ) -> bool:
        """End ``inst`` when ``ev`` reaches one of its journey's goals; whether it did."""
        ctx: EvalContext | None = None
        for goal in journey.goals:
            if goal.event is not None and goal.event != ev.type:
                continue  # another event's goal: no need to build a context
            if ctx is None:
                ctx = self.interpreter.context(journey, inst, now, profile)
            if not happened(goal.event, goal.where, goal.condition, ctx, ev):
                continue
            note(inst, now, "goal", "goal", outcome=goal.outcome)
            inst["wakes"] = inst.get("wakes", 0) + 1
            self.interpreter.end(inst, journey, goal.outcome, now)
            return True
        return False

    def wakes(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        ev: EventRecord,
        now: datetime,
        profile: Profile,
    ) -> bool:
        """Whether ``ev`` ends the wait of ``inst`` (a waited-for condition that stays false
        may move its re-check)."""
        node = journey.nodes.get(inst["wait"]["node"])
        if not isinstance(node, ir.WaitFor):
            return False
        if node.event is not None and node.event != ev.type:
            return False  # not the awaited event: no need to build a context
        ctx = self.interpreter.context(journey, inst, now, profile)
        if node.event is None and node.condition is not None:
            met, recheck = ctx.watch(node.condition)
            if not met:  # the event may have moved the instant time alone could turn it true
                wait = inst["wait"]
                timeout = wait.get("timeout") if wait.get("recheck") else inst["due"]
                due = datetime.fromisoformat(timeout) if timeout else None
                self.interpreter.wait(inst, node.id, "condition", due, recheck)
            return met
        return happened(node.event, node.where, node.condition, ctx, ev)

    def recheck(
        self,
        journey: ir.Journey,
        inst: dict[str, Any],
        node: ir.WaitFor,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> None:
        """A condition wait's re-check timer fired: go on when the condition now holds, else
        wait again (keeping the original timeout) until the next instant it may change."""
        assert node.condition is not None
        ctx = self.interpreter.context(journey, inst, now, profile)
        met, recheck = ctx.watch(node.condition)
        if met:
            note(inst, now, node.id, "condition", value=True, source=node.condition.source)
            inst["wakes"] = inst.get("wakes", 0) + 1
            self.interpreter.run(journey, inst, node.then, now, profile, outbox)
            return
        timeout = inst["wait"].get("timeout")
        due = datetime.fromisoformat(timeout) if timeout else None
        self.interpreter.wait(inst, node.id, "condition", due, recheck)
