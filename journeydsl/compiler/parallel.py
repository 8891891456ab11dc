"""Lowering of ``parallel``: a fork node, each branch lowered to end at the join node, and the
checks that need the block as written: a variable written by two branches (JD801), a branch of
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
            if not isinstance(step, A.Set):
                continue
            first = writers.setdefault(step.var.name, n)
            if first != n:
                lw.diags.error(
                    "JD801",
                    f"variable '{step.var.name}' is set by branch {first} and branch {n} of this "
                    "parallel block: which value would be kept depends on timing",
                    step.span,
                    "set it in one branch only, or use one variable per branch",
                )
                writers[step.var.name] = n  # (report each further branch once)
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
            case A.Exit():
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


def _walk(steps: A.Steps) -> Iterator[A.Step]:
    """Every step of ``steps``, nested ones too, in written order."""
    from journeydsl.compiler.steps import _walk as walk  # (lower imports this module)

    yield from walk(steps)
