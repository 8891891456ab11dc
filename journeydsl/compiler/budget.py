"""The static message budget: the worst-case number of messages one customer can receive from a
journey, per channel, computed from the graph.

A send counts once on its channel and once on every channel of its fallback chain (it may land on
any of them). Branches take the per-channel maximum, a repeat multiplies its body by ``max``, and
an exit ends the path.
"""

from __future__ import annotations

import sys
from collections import Counter

from journeydsl import ir

__all__ = ["TOTAL", "message_budget"]

#: The key of the budget that counts messages on any channel.
TOTAL = "total"


def _merge_max(parts: list[Counter[str]]) -> Counter[str]:
    out: Counter[str] = Counter()
    for part in parts:
        for key, n in part.items():
            out[key] = max(out[key], n)
    return out


def message_budget(journey: ir.Journey) -> dict[str, int]:
    """Worst-case messages per customer, by channel, plus ``"total"`` (any channel)."""
    memo: dict[tuple[str | None, str | None], Counter[str]] = {}

    def cost(nid: str | None, stop: str | None) -> Counter[str]:
        if nid is None or nid == stop or nid not in journey.nodes:
            return Counter()
        key = (nid, stop)
        if key in memo:
            return memo[key]
        memo[key] = Counter()  # a cycle outside a repeat cannot be built; guard anyway
        node = journey.nodes[nid]
        own: Counter[str] = Counter()
        if isinstance(node, ir.RepeatCheck):
            base = nid.removesuffix(".check")
            body = cost(node.body, f"{base}.next")
            result = Counter({k: v * node.max for k, v in body.items()})
            result.update(cost(node.exit, stop))
            memo[key] = result
            return result
        if isinstance(node, ir.RepeatNext):
            memo[key] = Counter()
            return memo[key]
        if isinstance(node, ir.Send):
            own[TOTAL] = 1
            for channel in dict.fromkeys((node.channel, *node.fallback)):
                own[channel] = 1
        rest = _merge_max([cost(s, stop) for s in node.successors()])
        rest.update(own)
        memo[key] = rest
        return rest

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * len(journey.nodes) + 1000))
    try:
        total = cost(journey.start, None)
    finally:
        sys.setrecursionlimit(limit)
    return {k: total[k] for k in sorted(total, key=lambda c: (c == TOTAL, c))}
