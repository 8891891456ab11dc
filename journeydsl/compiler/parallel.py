"""Lowering of ``parallel``: a fork node, each branch lowered to end at the join node, and the
checks that need the block as written: a variable written by two branches (JD801; under
``first``, only by sets a wait follows, since a set that ends its branch wins), a branch of
``parallel first`` that can never run (JD802), a join that can never complete (JD803), and a
parallel block inside another one (JD804)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.expr.checker import Scope

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["lower_parallel"]

#: The steps that can make a branch wait (and so let the branches written after it start).
_WAITING = (A.Wait, A.WaitUntil, A.WaitFor, A.WaitFirst)
#: The steps that set a journey variable: `set`, and a decision's answer or a chosen offer.
_SETTERS = (A.Set, A.Decide, A.ChooseOffer)


def lower_parallel(lw: _Lowerer, s: A.Parallel, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.Parallel` fork of ``s`` and its :class:`ir.Join` (``NID.join``)."""
    join_id = f"{nid}.join"
    if len(s.branches) < 2:
        lw.diags.error(
            "JD105",
            f"a parallel block needs at least two branches, found {len(s.branches)}",
            s.span,
            "add a second `branch { … }`, or write the steps without `parallel`",
        )
    _check(lw, s)
    starts = tuple(lw.lower_steps(b.steps, join_id, scope) or join_id for b in s.branches)
    lw.add(ir.Join(join_id, s.span, nid, s.join, nxt))
    return lw.add(ir.Parallel(nid, s.span, s.join, starts, join_id))


def _check(lw: _Lowerer, s: A.Parallel) -> None:
    writers: dict[str, int] = {}
    for n, b in enumerate(s.branches, 1):
        # With `first`, a branch that sets a variable and then never waits ends at that instant
        # and wins: no other branch can set it after, so only sets a wait may follow can race.
        racing = early_sets(b.steps) if s.join == "first" else None
        for step in _walk(b.steps):
            if isinstance(step, A.Parallel | A.During):
                kind = "parallel" if isinstance(step, A.Parallel) else "during"
                lw.diags.error(
                    "JD804",
                    f"a {kind} block cannot be inside a branch of a parallel block",
                    step.span,
                    "add its branches to the outer block, or run it after the join",
                )
            if isinstance(step, A.Ticket) and step.waits:  # ticket exits
                lw.diags.error(
                    "JD805",
                    "a ticket with `accepted` / `not accepted` exits cannot be inside a branch "
                    "of a parallel block (it waits for its queue's decision)",
                    step.span,
                    "open the ticket before the block or after the join, or drop its exits",
                )
            name = _written(step)
            if name is None or (racing is not None and id(step) not in racing):
                continue
            first = writers.setdefault(name.name, n)
            if first != n:
                lw.diags.error(
                    "JD801",
                    f"variable '{name.name}' is set by branch {first} and branch {n} of this "
                    "parallel block: which value would be kept depends on timing"
                    if isinstance(step, _SETTERS)
                    else f"the round number '{name.name}' is named by branch {first} and branch "
                    f"{n} of this parallel block: their repeats would count the same rounds"
                    if isinstance(step, A.Repeat)
                    else f"the event name '{name.name}' is given by branch {first} and branch {n} "
                    "of this parallel block: one branch's event would replace the other's, and "
                    f"`{name.name}.FIELD` read the wrong one",
                    step.span if isinstance(step, _SETTERS) else name.span,
                    "set it in one branch only, or use one variable per branch"
                    if isinstance(step, _SETTERS)
                    else "give each branch's repeat a round name of its own"
                    if isinstance(step, A.Repeat)
                    else "give each branch's event a name of its own",
                )
                writers[name.name] = n  # (report each further branch once)
    if s.join == "first":
        for n, b in enumerate(s.branches[:-1], 1):
            if not any(isinstance(x, _WAITING) for x in _walk(b.steps)):
                later = s.branches[n]
                lw.diags.error(
                    "JD802",
                    f"branch {n + 1} can never run: branch {n} never waits, so it ends first, at "
                    "once, and the others are cancelled before they start",
                    later.span,
                    f"give branch {n} a wait, or write its steps before the parallel block",
                )
                break
        else:
            last = len(s.branches)
            if last > 1 and not any(isinstance(x, _WAITING) for x in _walk(s.branches[-1].steps)):
                lw.diags.error(
                    "JD802",
                    f"branch {last} never waits: it ends at once and wins, so the branches "
                    "before it are cancelled at their first wait and never get past it",
                    s.branches[-1].span,
                    f"give branch {last} a wait, or write its steps after the parallel block",
                )
    exiting = [n for n, b in enumerate(s.branches, 1) if always_exits(b.steps)]
    if exiting and (s.join == "all" or len(exiting) == len(s.branches)):
        which = "every branch" if len(exiting) == len(s.branches) else f"branch {exiting[0]}"
        lw.diags.error(
            "JD803",
            f"this join can never complete: {which} always ends the journey with `exit`",
            s.span,
            "end the journey after the join instead, or use `parallel first`"
            if s.join == "all"
            else "let one branch end without `exit`",
        )


def always_exits(steps: A.Steps) -> bool:
    """Whether every path through ``steps`` ends with an ``exit``."""
    for step in steps:
        match step:
            case A.Exit() | A.ExitWith():
                return True
            case A.WaitFor() if always_exits(step.then) and (
                step.timeout is None or always_exits(step.on_timeout)
            ):
                return True  # (without a timeout, it goes on only when its event comes)
            case A.WaitFirst() if all(always_exits(b.steps) for b in step.branches) and (
                step.timeout is None or always_exits(step.on_timeout)
            ):
                return True
            case A.Split() if all(always_exits(a.steps) for a in step.arms) and (
                step.holdout is None or always_exits(step.holdout.steps)
            ):
                return True
            case A.Include() if always_exits(step.expanded):
                return True
            case A.If() if always_exits(step.then) and always_exits(step.otherwise):
                return True
            case A.Switch() if all(always_exits(c.steps) for c in step.cases) and always_exits(
                step.otherwise
            ):
                return True
            case A.Ticket() if always_exits(step.accepted or ()) and always_exits(
                step.not_accepted or ()
            ):
                return True
    return False


def _written(step: A.Step) -> A.Ident | None:
    """The name ``step`` gives a value to: the variable of a ``set``, a ``decide`` or a
    ``choose``, the name a ``wait for EVENT as
    NAME`` gives the event (its fields are kept with the instance like variables), or a
    ``repeat as NAME``'s round number (kept likewise)."""
    if isinstance(step, _SETTERS):
        return step.var
    if isinstance(step, A.WaitFor):
        return step.bind
    if isinstance(step, A.Repeat):
        return step.counter  # (the round number, kept with the instance like a variable)
    return None


def early_sets(steps: A.Steps, wait_after: bool = False) -> set[int]:
    """The ``set`` steps of ``steps`` (by ``id``) that a wait may follow on their branch: a wait
    after them in the block or around it (``wait_after``), or in a repeat they are in; and the
    ``wait for EVENT as NAME`` steps a wait may follow after the wake."""
    from journeydsl.compiler.steps import _blocks

    out: set[int] = set()
    waits_later = wait_after
    for step in reversed(steps):
        waits = isinstance(step, _WAITING) or any(isinstance(x, _WAITING) for x in _walk((step,)))
        if isinstance(step, _SETTERS) and waits_later:
            out.add(id(step))
        elif isinstance(step, A.WaitFor) and (
            waits_later or any(isinstance(x, _WAITING) for x in _walk(step.then))
        ):
            out.add(id(step))  # (the block that reads the event may wait after the wake)
        elif isinstance(step, A.Repeat):
            out.add(id(step))  # (its rounds wait: the round number changes while others run)
        inner = waits_later or (isinstance(step, A.Repeat) and waits)
        for block in _blocks(step):
            out |= early_sets(block, inner)
        waits_later = waits_later or waits
    return out


def _walk(steps: A.Steps) -> Iterator[A.Step]:
    """Every step of ``steps``, nested ones too, in written order."""
    from journeydsl.compiler.steps import _walk as walk  # (lower imports this module)

    yield from walk(steps)
