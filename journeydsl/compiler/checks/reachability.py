"""JD501: steps that can never run (after an exit, or after a branch whose every arm exits)."""

from __future__ import annotations

from journeydsl.compiler.checks._graph import is_internal, predecessors, reachable
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Report the first step of each unreachable run of steps."""
    journey = lowered.journey
    live = reachable(journey)
    preds = predecessors(journey)
    for nid, node in journey.nodes.items():
        if nid in live or is_internal(nid):
            continue
        # Only the head of an unreachable region (a step nothing leads to); the steps after it,
        # inside it or behind a repeat it starts are part of the same report.
        if preds.get(nid):
            continue
        diags.error(
            "JD501",
            "this step is never reached: every path before it has already ended the journey",
            node.span,
            "remove it, or move it before the `exit` (or the `break` or `continue`)",
        )
