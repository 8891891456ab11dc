"""JD502: a repeat that can run a round without waiting, sending a burst of messages at once."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def _round_without_wait(journey: ir.Journey, check: ir.RepeatCheck, repeat_id: str) -> bool:
    return _reaches_without_wait(journey, check.body, f"{repeat_id}.next", check.exit)


def _reaches_without_wait(
    journey: ir.Journey, start: str | None, goal: str, past: str | None = None
) -> bool:
    """Whether a path from ``start`` reaches ``goal`` without waiting (a path that goes
    ``past`` the loop, by a `break`, does not). A parallel block waits when one of its branches
    always does (``all``), or every branch does (``first``)."""
    seen: set[str] = set()
    stack = [start] if start else []
    while stack:
        nid = stack.pop()
        if nid == goal:
            return True
        if past is not None and nid == past:  # a `break`: the round ends the loop
            continue
        if nid in seen or nid not in journey.nodes:
            continue
        seen.add(nid)
        node = journey.nodes[nid]
        if isinstance(node, ir.WAITING_KINDS):
            continue
        if isinstance(node, ir.Parallel):
            skips = [_reaches_without_wait(journey, b, node.done, past) for b in node.branches]
            if (all if node.join == "all" else any)(skips):
                stack.append(node.done)
            continue
        stack.extend(node.successors())
    return False


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Report every repeat with a path through its body that passes no wait."""
    journey = lowered.journey
    for nid, node in journey.nodes.items():
        if isinstance(node, ir.RepeatStart):
            head = journey.nodes[node.next]
            if isinstance(head, ir.RepeatCheck) and _round_without_wait(journey, head, nid):
                diags.error(
                    "JD502",
                    f"this repeat can run a round without waiting: its {head.max} rounds "
                    "would all happen at once",
                    node.span,
                    "put a `wait` (or a `wait for … within …`) on every path through the body",
                )
