"""Parallel blocks at run time: the branches of one instance, each with its own wait.

An instance inside a ``parallel`` block keeps one record, as every instance does: the block's
branches live in its ``par`` key (:class:`~journeydsl.runtime.records.ParallelRecord`), each with
the wait and timer it is parked at, and the instance itself waits at the fork node with the
soonest of their timers. An event or a timer is handed to the branches in written order: each
in turn is loaded into the instance's own ``wait``/``due``/``node`` and moved by the ordinary
wait handling (:class:`~journeydsl.runtime.waits.Waits`), then saved back. So every wait kind,
re-check, stale timer and idempotency key works per branch unchanged, a branch's effects are
keyed by its own nodes (exactly once), and the whole block is committed with the instance in one
step: a crash loses nothing and repeats nothing.

The join: ``all`` goes on when every branch has reached it, ``first`` when one has; the others
are then cancelled (state ``cancelled``, ``cancelled`` in the decision log, their timers gone).
At one instant the branches move in written order, so with ``first`` the branch written first
wins. An ``exit`` (or a goal) ends the whole instance, and with it every branch.

Branches share the instance's variables, so a branch that moved (ran steps) may have made
another branch's waited-for condition true: after the branches moved, the ones waiting on a
condition are checked again, in written order, until none goes on (at most one pass per branch:
two branches that wake each other for ever stop there, until the next event or timer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING

from journeydsl import ir
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.decisions import note
from journeydsl.runtime.history import waits_on_sent
from journeydsl.runtime.hostcalls import iso
from journeydsl.runtime.protocols import OutboxEntry, Profile
from journeydsl.runtime.records import BranchRecord, InstanceRecord, ParallelRecord

if TYPE_CHECKING:
    from journeydsl.runtime.interpreter import Interpreter, Late, Step
    from journeydsl.runtime.waits import Waits

__all__ = ["JOINED", "fork", "join", "on_delivery", "on_event", "on_timer", "waits_on"]

#: The status a branch leaves the instance in when it reaches the join (never stored).
JOINED = "joined"


def fork(interp: Interpreter, node: ir.Parallel, step: Step) -> str | None:
    """Start the branches of ``node`` in written order, each until it waits or joins."""
    inst, now = step.inst, step.ctx.now
    if "par" in inst:  # (the checker refuses nested blocks: JD804)
        raise ValueError(f"parallel block {node.id} inside another parallel block")
    par: ParallelRecord = {"fork": node.id, "current": None, "branches": []}
    inst["par"] = par
    note(inst, now, node.id, "parallel", join=node.join, branches=len(node.branches))
    for n, start in enumerate(node.branches):
        slot: BranchRecord = {"state": "waiting", "node": None, "wait": None, "due": None}
        par["branches"].append(slot)
        if node.join == "first" and _won(par):
            slot["state"] = "cancelled"  # (the first branch already ended: this one never starts)
            note(inst, now, node.id, "cancelled", branch=n + 1)
            continue
        par["current"] = n
        inst["status"], inst["wait"], inst["due"] = "active", None, None
        interp.walk(step, start)
        if inst["status"] == "ended":
            return None  # an exit in the branch ended the instance, and every branch with it
        _save(inst, par, n)
    if _rechecked(step.journey, inst, node, lambda: interp.recheck(step)):
        return None
    return _settle(inst, node, now)


def join(interp: Interpreter, node: ir.Join, step: Step) -> str | None:
    """A branch reached the join (it is done), or the block is over and the instance goes on."""
    inst, now = step.inst, step.ctx.now
    par = inst.get("par")
    if par is not None and par["current"] is not None:
        note(inst, now, node.id, "branch_done", branch=par["current"] + 1)
        inst["status"] = JOINED
        return None
    note(inst, now, node.id, "join", join=node.join)
    return node.next


def on_event(
    waits: Waits,
    journey: ir.Journey,
    inst: InstanceRecord,
    node: ir.Parallel,
    ev: EventRecord,
    now: datetime,
    profile: Profile,
    outbox: list[OutboxEntry],
) -> str | None:
    """``ev`` reached an instance waiting inside ``node``: offer it to each waiting branch in
    written order; what it did (``"resumed"``, ``"moved"`` or None, as for any wait)."""
    par = inst["par"]
    result: str | None = None
    for n, slot in enumerate(par["branches"]):
        if slot["state"] != "waiting" or (node.join == "first" and _won(par)):
            continue
        _load(inst, par, n)
        moved = waits.wait_event(journey, inst, ev, now, profile, outbox)
        if inst["status"] == "ended":
            return "resumed"
        _save(inst, par, n)
        if moved is not None and result != "resumed":
            result = moved
    if result == "resumed":

        def recheck() -> bool:
            cause = {"by": "branch", "event": ev.type}  # (another branch moved on ``ev``)
            return waits.rechecked(journey, inst, now, profile, outbox, None, cause)

        if _rechecked(journey, inst, node, recheck):
            return "resumed"
    return _go_on(waits.interpreter, journey, inst, node, now, profile, outbox, result)


def on_timer(
    waits: Waits,
    journey: ir.Journey,
    inst: InstanceRecord,
    node: ir.Parallel,
    when: datetime,
    profile: Profile,
    outbox: list[OutboxEntry],
    late: Late | None,
) -> None:
    """The instance's timer (the soonest of its branches') fired at ``when``: fire every branch
    due by then, in written order."""
    par = inst["par"]
    steps = _steps(inst)
    for n, slot in enumerate(par["branches"]):
        due = slot["due"]
        if slot["state"] != "waiting" or due is None or datetime.fromisoformat(due) > when:
            continue
        if node.join == "first" and _won(par):
            break
        _load(inst, par, n)
        waits.on_timer(journey, inst, datetime.fromisoformat(due), profile, outbox, late)
        if inst["status"] == "ended":
            return
        _save(inst, par, n)
    if _steps(inst) != steps:  # a branch ran steps: the others' conditions may hold now

        def recheck() -> bool:
            return waits.rechecked(journey, inst, when, profile, outbox, late)

        if _rechecked(journey, inst, node, recheck):
            return
    _go_on(waits.interpreter, journey, inst, node, when, profile, outbox, "moved", late)


def on_delivery(
    waits: Waits,
    journey: ir.Journey,
    inst: InstanceRecord,
    node: ir.Parallel,
    now: datetime,
    profile: Profile,
    outbox: list[OutboxEntry],
    cause: Mapping[str, str],
) -> None:
    """A message reached the customer of an instance waiting inside ``node``: its branches
    waiting on a condition that reads ``sent(…)`` check it again, in written order (and, when
    one went on, the other condition branches, as after any branch moved)."""

    def recheck() -> bool:
        return waits.rechecked(journey, inst, now, profile, outbox, None, cause)

    def others() -> bool:
        return waits.rechecked(journey, inst, now, profile, outbox)

    steps = _steps(inst)
    if _rechecked(journey, inst, node, recheck, waits_on_sent):
        return
    if _steps(inst) != steps and _rechecked(journey, inst, node, others):
        return
    _go_on(waits.interpreter, journey, inst, node, now, profile, outbox, "moved")


def waits_on(
    journey: ir.Journey, inst: InstanceRecord, wanted: Callable[[ir.Node | None], bool]
) -> bool:
    """Whether a branch of the parallel block ``inst`` waits at a node ``wanted`` picks."""
    par = inst.get("par")
    return par is not None and any(
        slot["state"] == "waiting" and _on_condition(journey, slot, wanted)
        for slot in par["branches"]
    )


def _go_on(
    interp: Interpreter,
    journey: ir.Journey,
    inst: InstanceRecord,
    node: ir.Parallel,
    now: datetime,
    profile: Profile,
    outbox: list[OutboxEntry],
    result: str | None,
    late: Late | None = None,
) -> str | None:
    """After the branches moved: wait on, or, when the join is complete, run on after it."""
    target = _settle(inst, node, now)
    if target is not None:
        interp.run(journey, inst, target, now, profile, outbox, late)
        return "resumed"
    return result


def _rechecked(
    journey: ir.Journey,
    inst: InstanceRecord,
    node: ir.Parallel,
    recheck: Callable[[], bool],
    wanted: Callable[[ir.Node | None], bool] | None = None,
) -> bool:
    """Branches moved: check again, in written order, the branches waiting on a condition (or
    at a node ``wanted`` picks; ``recheck`` does it for the branch loaded into the instance,
    and says whether it went on), pass after pass while one goes on (at most one pass per
    branch). True when the instance ended (an exit in a branch)."""
    par = inst["par"]
    for _ in par["branches"]:
        went_on = False
        for n, slot in enumerate(par["branches"]):
            if node.join == "first" and _won(par):
                return False
            if slot["state"] != "waiting" or not _on_condition(journey, slot, wanted):
                continue
            _load(inst, par, n)
            went_on = recheck() or went_on
            if inst["status"] == "ended":
                return True
            _save(inst, par, n)
        if not went_on:
            break
    return False


def _on_condition(
    journey: ir.Journey,
    slot: BranchRecord,
    wanted: Callable[[ir.Node | None], bool] | None = None,
) -> bool:
    """Whether the branch in ``slot`` waits on a condition (which a variable may turn true),
    or, with ``wanted``, at a node it picks."""
    wait = slot["wait"]
    node = journey.nodes.get(wait["node"]) if wait is not None else None
    if wanted is not None:
        return wanted(node)
    if isinstance(node, ir.WaitFor):
        return node.event is None and node.condition is not None
    if isinstance(node, ir.WaitFirst):
        return any(b.condition is not None for b in node.branches)
    return False


def _steps(inst: InstanceRecord) -> int:
    """How many steps ``inst`` has run (a branch that ran steps changes it)."""
    return sum(inst["visits"].values())


def _won(par: ParallelRecord) -> bool:
    return any(b["state"] == "done" for b in par["branches"])


def _load(inst: InstanceRecord, par: ParallelRecord, n: int) -> None:
    """Make branch ``n``'s wait the instance's own, for the ordinary wait handling."""
    slot = par["branches"][n]
    par["current"] = n
    inst["status"], inst["node"] = "waiting", slot["node"]
    inst["wait"], inst["due"] = slot["wait"], slot["due"]


def _save(inst: InstanceRecord, par: ParallelRecord, n: int) -> None:
    """Keep where branch ``n`` now is: waiting again (at its wait), or done."""
    if inst["status"] == "waiting":
        slot: BranchRecord = {
            "state": "waiting",
            "node": inst["node"],
            "wait": inst["wait"],
            "due": inst["due"],
        }
    else:
        slot = {"state": "done", "node": None, "wait": None, "due": None}
    # A new list, never a change in place: a store may share what is deeper than the record's
    # own keys with the record it holds (the in-memory store does), until the commit.
    par["branches"] = [*par["branches"][:n], slot, *par["branches"][n + 1 :]]


def _settle(inst: InstanceRecord, node: ir.Parallel, now: datetime) -> str | None:
    """The join's id when the join is complete (the branches still waiting are cancelled and
    the block is left); else None, and the instance waits at the fork for its soonest branch."""
    par = inst["par"]
    par["current"] = None
    states = [b["state"] for b in par["branches"]]
    complete = "done" in states if node.join == "first" else "waiting" not in states
    if complete:
        for n, slot in enumerate(par["branches"]):
            if slot["state"] == "waiting":
                note(inst, now, node.id, "cancelled", branch=n + 1, at_step=slot["node"])
        del inst["par"]
        inst["status"], inst["wait"], inst["due"] = "active", None, None
        return node.done
    dues = [datetime.fromisoformat(b["due"]) for b in par["branches"] if b["due"] is not None]
    inst["status"], inst["node"] = "waiting", node.id
    inst["wait"] = {"node": node.id, "kind": "parallel"}
    inst["due"] = iso(min(dues)) if dues else None
    return None
