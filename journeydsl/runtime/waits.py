"""Waits and goals: what an event or a timer does to an instance that is already running.

An event may reach one of the journey's goals (the instance ends with the goal's outcome), or
end the wait the instance is parked at (the awaited event, or a waited-for condition that now
holds). A timer ends a wait by its timeout, or is the re-check of a waited-for condition: the
instant time alone could make it true, an event leaving a sliding window. A message delivered
to the customer re-checks their waits on a condition that reads ``sent(…)``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.runtime import parallel
from journeydsl.runtime.codec import encode_map
from journeydsl.runtime.decisions import last_step, note
from journeydsl.runtime.evaluation import EvalContext, happened
from journeydsl.runtime.history import waits_on_sent
from journeydsl.runtime.hostcalls import iso, log
from journeydsl.runtime.interpreter import (
    Interpreter,
    Late,
    describe_lateness,
    first_condition,
)
from journeydsl.runtime.pinning import VersionMissingError
from journeydsl.runtime.protocols import (
    Contact,
    OutboxEntry,
    Profile,
    ProfileStore,
    StateStore,
    live_reads,
)
from journeydsl.runtime.records import InstanceRecord, wait_of
from journeydsl.runtime.ticket_exits import take_exit

__all__ = ["BRANCH", "TIME", "Waits", "moved_at"]

#: What made a waited-for condition true after its wait began, in the decision log's
#: ``"condition"`` (and ``"first"``) entry: ``by`` time alone (its re-check timer), by another
#: branch of its parallel block that moved, or by a message delivered (``template``,
#: ``channel``). An entry without ``by`` was true when the wait began.
TIME: Mapping[str, str] = {"by": "time"}
BRANCH: Mapping[str, str] = {"by": "branch"}


def moved_at(inst: InstanceRecord, at: datetime) -> datetime:
    """``at``, or the instant of ``inst``'s own last step when that is later: a late event is
    taken as of its own time by the instances it finds waiting since before it, and as of their
    present by the others (it cannot undo what they did)."""
    last = last_step(inst)
    return last if last > at else at


class Waits:
    """Moves running instances on events and timers, through the interpreter."""

    def __init__(
        self,
        interpreter: Interpreter,
        state: StateStore,
        profiles: ProfileStore,
        versions: Mapping[tuple[str, int], ir.Journey],
        scoped_to: Mapping[str, frozenset[tuple[str, int]]],
        stale_after: timedelta | None,
    ) -> None:
        self.interpreter = interpreter
        self.state = state
        self._instance, self._instances_of = live_reads(state)
        self.profiles = profiles
        self.versions = versions
        self._journeys = frozenset(j for j, _ in versions)
        self.scoped_to = scoped_to
        self.stale_after = stale_after
        #: Whether a journey waits on a condition that reads sent(…) (see :meth:`delivered`).
        self._on_sent = any(
            waits_on_sent(node) for j in versions.values() for node in j.nodes.values()
        )

    def running(
        self, customer_id: str, done: frozenset[str]
    ) -> list[tuple[InstanceRecord, ir.Journey]]:
        """The instances of ``customer_id`` an event may move, with their graphs: those not
        ended, of a journey that did not take the event yet (not in ``done``). An instance of a
        journey run here, but of a version not loaded, is :class:`VersionMissingError`: taking
        the event would pass it by for good (a worker not reloaded yet, after another one
        loaded a new version), so the event is not taken; instances of other journeys are not
        this engine's."""
        out: list[tuple[InstanceRecord, ir.Journey]] = []
        for inst in self._instances_of(customer_id):
            if inst["status"] == "ended" or inst["journey"] in done:
                continue
            journey = self.versions.get((inst["journey"], inst["version"]))
            if journey is not None:
                out.append((inst, journey))
            elif (jid := inst["journey"]) in self._journeys:
                loaded = ", ".join(f"v{v}" for j, v in sorted(self.versions) if j == jid)
                raise VersionMissingError(
                    f"customer {customer_id!r} has an instance of journey '{jid}' version "
                    f"{inst['version']}, which is not loaded here ({loaded} is): load that "
                    "version (a worker: reload it) before taking this customer's events"
                )
        return out

    def fire(self, now: datetime) -> int:
        """Move every instance whose timer is due at ``now``, each at its timer's own time (a
        stale one with :class:`Late`); returns how many moved."""
        moved = 0
        while True:
            due = self.state.due(now, 500, **self.scoped_to)
            if not due:
                break
            for iid in due:
                inst = self._instance(iid)
                if inst is None or inst["status"] != "waiting" or inst.get("due") is None:
                    continue
                moved += self._fire_one(inst, now)
        return moved

    def _fire_one(self, inst: InstanceRecord, now: datetime) -> int:
        """Fire the due timer of ``inst``; 1 when it moved, 0 when its version is not loaded."""
        due = inst["due"]
        assert due is not None  # (fire() takes waiting instances with a timer only)
        when = datetime.fromisoformat(due)
        journey = self.versions.get((inst["journey"], inst["version"]))
        if journey is None:
            # The engine was not given this version: leave the instance waiting (it is
            # durable) and look again in an hour, without holding up anyone else.
            log.error(
                "unknown_version",
                journey=inst["journey"],
                version=inst["version"],
                customer=inst["customer_id"],
            )
            why = f"version {inst['version']} is not loaded; retry in 1h"
            note(inst, now, wait_of(inst)["node"], "error", reason=why)
            inst["due"] = iso(now + timedelta(hours=1))
            self.state.commit([inst], [])
            return 0
        outbox: list[OutboxEntry] = []
        limit = journey.stale_after or self.stale_after
        late = Late(now - when, limit) if limit is not None and now - when > limit else None
        profile = self.profiles.get(inst["customer_id"])
        with self.interpreter.failing(inst, journey, when):
            self.on_timer(journey, inst, when, profile, outbox, late)
        self.state.commit([inst, *self.interpreter.spawned()], outbox)  # (with its hand-offs)
        return 1

    def delivered(self, contact: Contact) -> bool:
        """A message reached the customer (``contact``, just recorded in the contact history):
        their instances waiting on a condition that reads ``sent(…)`` check it again, as an
        event makes the waits on events do, each as of the delivery (never before its own last
        step), in one commit. Whether one moved (it may have put entries in the outbox)."""
        if not self._on_sent:
            return False  # (no journey waits on sent(…): no instance to read)
        scope = self.scoped_to.get("journeys")  # (paused journeys and runs of some: theirs only)
        cause = {"by": "delivery", "template": contact.template, "channel": contact.channel}
        moved: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        for inst in self._instances_of(contact.customer_id):
            key = (inst["journey"], inst["version"])
            journey = self.versions.get(key)
            if inst["status"] != "waiting" or journey is None or not journey.history_window:
                continue
            node = journey.nodes.get(wait_of(inst)["node"])
            block = node if isinstance(node, ir.Parallel) else None
            if (scope is not None and key not in scope) or not (
                parallel.waits_on(journey, inst, waits_on_sent) if block else waits_on_sent(node)
            ):
                continue
            before = _progress(inst)
            when = moved_at(inst, contact.at)
            profile = self.profiles.get(contact.customer_id)
            with self.interpreter.failing(inst, journey, when):
                if block is not None:
                    parallel.on_delivery(self, journey, inst, block, when, profile, outbox, cause)
                else:
                    self.rechecked(journey, inst, when, profile, outbox, None, cause)
            if _progress(inst) != before:
                moved.append(inst)
        if moved:
            self.state.commit([*moved, *self.interpreter.spawned()], outbox)
        return bool(moved)

    def on_event(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        ev: EventRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> str | None:
        """What ``ev`` did to the running ``inst``: ``"goal"`` (it ended at a goal),
        ``"resumed"`` (its wait ended and it ran on), ``"moved"`` (a condition wait moved its
        re-check) or None (nothing to save)."""
        if self.goal_hit(journey, inst, ev, now, profile, outbox):
            return "goal"
        if inst["status"] != "waiting":
            return None
        if isinstance(block := journey.nodes.get(wait_of(inst)["node"]), ir.Parallel):
            return parallel.on_event(self, journey, inst, block, ev, now, profile, outbox)
        return self.wait_event(journey, inst, ev, now, profile, outbox)

    def wait_event(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        ev: EventRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> str | None:
        """What ``ev`` did to the wait ``inst`` is parked at (a branch's, inside a parallel
        block), as :meth:`on_event` says, goals aside."""
        first = journey.nodes.get(wait_of(inst)["node"])
        if isinstance(first, ir.WaitFirst):
            return self.first_on_event(journey, inst, first, ev, now, profile, outbox)
        timer = inst["due"]
        if not self.wakes(journey, inst, ev, now, profile):
            return "moved" if inst["due"] != timer else None
        node = journey.nodes[wait_of(inst)["node"]]
        assert isinstance(node, ir.WaitFor)
        note(inst, now, node.id, "woke", event=ev.type)
        if node.bind is not None:  # `wait for EVENT as NAME`: keep the event for NAME.FIELD
            prefix = f"{node.bind}."  # an earlier wake's fields go: this event may lack some
            fields = {**ev.data, "at": ev.at}
            kept = {k: v for k, v in inst["vars"].items() if not k.startswith(prefix)}
            inst["vars"] = kept | encode_map({prefix + k: v for k, v in fields.items()})
        return self._resume(journey, inst, node.id, ev, now, profile, outbox, node.then)

    def _resume(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        node_id: str,
        ev: EventRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
        target: str | None,
    ) -> str:
        """``ev`` ended the wait of ``inst`` at ``node_id``: count the wake, run on from
        ``target``."""
        inst["wakes"] = inst.get("wakes", 0) + 1
        log.info(
            "wake",
            journey=journey.id,
            version=journey.version,
            customer=ev.customer_id,
            node=node_id,
            event_type=ev.type,
        )
        self.interpreter.run(journey, inst, target, now, profile, outbox)
        return "resumed"

    def on_timer(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        when: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
        late: Late | None = None,
    ) -> None:
        """The timer of the waiting ``inst``, due at ``when``, fired (``late``: too late to
        send to the customer)."""
        node = journey.nodes[wait_of(inst)["node"]]
        if isinstance(node, ir.Parallel):
            parallel.on_timer(self, journey, inst, node, when, profile, outbox, late)
            return
        if isinstance(node, ir.WaitFor) and wait_of(inst).get("recheck"):
            self.recheck(journey, inst, node, when, profile, outbox, late)
            return
        if isinstance(node, ir.WaitFirst) and wait_of(inst).get("recheck"):
            self.first_recheck(journey, inst, node, when, profile, outbox, late)
            return
        if isinstance(node, ir.Ticket):  # ticket exits: the queue decided
            take_exit(self.interpreter, journey, inst, node, when, profile, outbox, late)
            return
        if late is None:
            note(inst, when, node.id, "timer")
        else:
            note(inst, when, node.id, "timer", late=describe_lateness(late.by), stale=True)
        log.info(
            "wake",
            journey=journey.id,
            version=journey.version,
            customer=inst["customer_id"],
            node=node.id,
            timer=inst["due"],
        )
        waits_for = isinstance(node, ir.WaitFor | ir.WaitFirst)
        target = node.on_timeout if waits_for else node.next  # type: ignore[attr-defined]
        self.interpreter.run(journey, inst, target, when, profile, outbox, late)

    def goal_hit(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        ev: EventRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> bool:
        """End ``inst`` when ``ev`` reaches one of its journey's goals (after running the goal's
        steps, which end at an exit with its outcome); whether it did."""
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
            if goal.start is not None:  # goal … then { … }: the steps, in this same commit
                self.interpreter.run(journey, inst, goal.start, now, profile, outbox)
            else:
                self.interpreter.end(inst, journey, goal.outcome, now)
            return True
        return False

    def wakes(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        ev: EventRecord,
        now: datetime,
        profile: Profile,
    ) -> bool:
        """Whether ``ev`` ends the wait of ``inst`` (a waited-for condition that stays false
        may move its re-check)."""
        node = journey.nodes.get(wait_of(inst)["node"])
        if not isinstance(node, ir.WaitFor):
            return False
        if node.event is not None and node.event != ev.type:
            return False  # not the awaited event: no need to build a context
        ctx = self.interpreter.context(journey, inst, now, profile)
        if node.event is None and node.condition is not None:
            met, recheck = ctx.watch(node.condition)
            if not met:  # the event may have moved the instant time alone could turn it true
                wait = wait_of(inst)
                timeout = wait.get("timeout") if wait.get("recheck") else inst["due"]
                due = datetime.fromisoformat(timeout) if timeout else None
                self.interpreter.wait(inst, node.id, "condition", due, recheck)
            return met
        return happened(node.event, node.where, node.condition, ctx, ev)

    def recheck(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        node: ir.WaitFor,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
        late: Late | None = None,
        cause: Mapping[str, str] = TIME,
    ) -> bool:
        """A condition wait's re-check timer fired (or, in a parallel block, another branch
        moved; or a message reached the customer): go on when the condition now holds, else
        wait again (keeping the original timeout) until the next instant it may change; whether
        it went on. ``cause`` says in the decision log what made it true (:data:`TIME`)."""
        assert node.condition is not None
        ctx = self.interpreter.context(journey, inst, now, profile)
        met, recheck = ctx.watch(node.condition)
        if met:
            source = node.condition.source
            note(inst, now, node.id, "condition", value=True, source=source, **cause)
            _woke(inst, cause)
            self.interpreter.run(journey, inst, node.then, now, profile, outbox, late)
            return True
        self.interpreter.wait(inst, node.id, "condition", _timeout(inst), recheck)
        return False

    def rechecked(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
        late: Late | None = None,
        cause: Mapping[str, str] = BRANCH,
    ) -> bool:
        """In a parallel block, another branch moved (it may have set a variable), or a message
        reached the customer: re-check the condition wait ``inst`` is loaded at, as its
        re-check timer would; whether it went on. A wait for an event is left as it is."""
        node = journey.nodes[wait_of(inst)["node"]]
        if isinstance(node, ir.WaitFor) and node.event is None and node.condition is not None:
            return self.recheck(journey, inst, node, now, profile, outbox, late, cause)
        if isinstance(node, ir.WaitFirst) and any(b.condition is not None for b in node.branches):
            return self.first_recheck(journey, inst, node, now, profile, outbox, late, cause)
        return False

    # ------------------------------------------------------------------ wait first

    def first_on_event(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        node: ir.WaitFirst,
        ev: EventRecord,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
    ) -> str | None:
        """``ev`` reached a ``wait first``: the first branch (in written order) that it matches
        or that now holds wins; else the conditions' re-check may move."""
        if not any(b.condition is not None or b.event == ev.type for b in node.branches):
            return None  # nothing this event can change: no need to build a context
        ctx = self.interpreter.context(journey, inst, now, profile)
        n, recheck = _first_match(node, ctx, ev)
        if n is None:
            if not any(b.condition is not None for b in node.branches):
                return None
            timer = inst["due"]
            self.interpreter.wait(inst, node.id, "first", _timeout(inst), recheck)
            return "moved" if inst["due"] != timer else None
        branch = node.branches[n]
        note(inst, now, node.id, "first", branch=n + 1, won=branch.label, event=ev.type)
        return self._resume(journey, inst, node.id, ev, now, profile, outbox, branch.next)

    def first_recheck(
        self,
        journey: ir.Journey,
        inst: InstanceRecord,
        node: ir.WaitFirst,
        now: datetime,
        profile: Profile,
        outbox: list[OutboxEntry],
        late: Late | None = None,
        cause: Mapping[str, str] = TIME,
    ) -> bool:
        """The re-check timer of a ``wait first`` fired (or, in a parallel block, another
        branch moved; or a message reached the customer): the first condition branch that now
        holds wins, else wait again (keeping the timeout) until the next instant one may;
        whether one won."""
        ctx = self.interpreter.context(journey, inst, now, profile)
        won, recheck = first_condition(node, ctx)
        if won is None:
            self.interpreter.wait(inst, node.id, "first", _timeout(inst), recheck)
            return False
        branch = node.branches[won]
        label = branch.label
        note(inst, now, node.id, "first", branch=won + 1, won=label, value=True, **cause)
        _woke(inst, cause)
        self.interpreter.run(journey, inst, branch.next, now, profile, outbox, late)
        return True


def _first_match(
    node: ir.WaitFirst, ctx: EvalContext, ev: EventRecord
) -> tuple[int | None, datetime | None]:
    """The first branch (in written order) that ``ev`` matches or whose condition now holds;
    else None and the soonest instant time alone could make a condition true."""
    recheck: datetime | None = None
    for n, branch in enumerate(node.branches):
        if branch.event is not None:
            if happened(branch.event, branch.where, None, ctx, ev):
                return n, None
            continue
        assert branch.condition is not None
        met, at = ctx.watch(branch.condition)
        if met:
            return n, None
        if at is not None and (recheck is None or at < recheck):
            recheck = at
    return None, recheck


def _woke(inst: InstanceRecord, cause: Mapping[str, str]) -> None:
    """Count the wake of ``inst`` (a message it holds is then superseded: delivery.py), unless
    a delivery made its condition true: a delivery is not an event, and the messages the
    instance holds (made with the one delivered, say) still fit the customer's path."""
    if cause.get("by") != "delivery":
        inst["wakes"] = inst.get("wakes", 0) + 1


def _progress(inst: InstanceRecord) -> tuple[object, ...]:
    """What a re-check that went on, ended or moved the timer of ``inst`` changes."""
    return inst["status"], inst["due"], inst.get("wakes", 0), len(inst["log"])


def _timeout(inst: InstanceRecord) -> datetime | None:
    """The timeout of the wait ``inst`` is parked at (its timer, unless that is a re-check)."""
    wait = wait_of(inst)
    timeout = wait.get("timeout") if wait.get("recheck") else inst["due"]
    return datetime.fromisoformat(timeout) if timeout else None
