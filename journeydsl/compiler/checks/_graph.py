"""Graph helpers shared by the checks."""

from __future__ import annotations

from journeydsl import ir


def predecessors(journey: ir.Journey) -> dict[str, list[str]]:
    """For each node id, the ids of the nodes that continue to it."""
    preds: dict[str, list[str]] = {nid: [] for nid in journey.nodes}
    for node in journey.nodes.values():
        for succ in node.successors():
            preds.setdefault(succ, []).append(node.id)
    return preds


def reachable(journey: ir.Journey) -> set[str]:
    """The ids reachable from the journey's first step, or from the first of a goal's steps."""
    return ir.reachable_from(journey, [journey.start, *(g.start for g in journey.goals)])


def is_internal(node_id: str) -> bool:
    """Nodes the lowering adds (a repeat's check and next) that have no source step of their own."""
    return node_id.endswith((".check", ".next", ".join", ".retry"))
