"""Goals that run steps: ``goal NAME when … then { … }``. The steps are lowered as a path of
their own that ends at an exit with the goal's outcome; the runtime runs it when the goal is
reached, at that instant, so the steps cannot wait."""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from journeydsl.compiler.lower import _Lowerer

__all__ = ["goal_steps", "lower_goal_steps"]

_WAITS = (A.Wait, A.WaitUntil, A.WaitFor, A.WaitFirst)


def goal_steps(journey: A.Journey) -> A.Steps:
    """The top-level steps of every goal, in written order."""
    return tuple(s for g in journey.goals for s in g.steps)


def lower_goal_steps(
    lw: _Lowerer, goal: A.Goal, walk: Callable[[A.Steps], Iterator[A.Step]]
) -> str | None:
    """The first node of ``goal``'s steps (None when it has none), which end at a new exit."""
    if not goal.steps:
        return None
    from journeydsl.compiler.during import hidden_wait

    for s in walk(goal.steps):
        why = hidden_wait(s)
        if isinstance(s, _WAITS) or why:
            lw.diags.error(
                "JD105",
                "a goal's steps run at the instant the goal is reached: they cannot wait"
                + (f" ({why})" if why else ""),
                s.span,
                "move the wait into the journey's steps, or drop it"
                if not isinstance(s, A.Decide)
                else "ask once in a goal's steps (`retry 0`), or decide before the goal",
            )
    taken = set(lw.ids.values()) | set(lw.nodes)
    end, n = f"goal_{goal.outcome.name}", 1
    while end in taken:
        n += 1
        end = f"goal_{goal.outcome.name}_{n}"
    lw.add(ir.Exit(end, goal.span, goal.outcome.name))
    start = lw.lower_steps(goal.steps, end, lw.scope)
    if _reaches(lw.nodes, start, end):
        lw.goal_exits.append(end)
    else:  # the steps always end with an exit of their own: the goal's is never used
        del lw.nodes[end]
    return start


def _reaches(nodes: dict[str, ir.Node], start: str | None, end: str) -> bool:
    seen: set[str] = set()
    stack = [start] if start else []
    while stack:
        nid = stack.pop()
        if nid == end:
            return True
        if nid in seen or nid not in nodes:
            continue
        seen.add(nid)
        stack.extend(nodes[nid].successors())
    return False
