"""JD502: a repeat that can run a round without waiting, sending a burst of messages at once."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def _round_without_wait(journey: ir.Journey, check: ir.RepeatCheck, repeat_id: str) -> bool:
    goal = f"{repeat_id}.next"
    seen: set[str] = set()
    stack = [check.body] if check.body else []
    while stack:
        nid = stack.pop()
        if nid == goal:
            return True
        if nid == check.exit:  # a `break`: the round ends the loop, it does not run another
            continue
        if nid in seen or nid not in journey.nodes:
            continue
        seen.add(nid)
        node = journey.nodes[nid]
        if isinstance(node, ir.WAITING_KINDS):
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
