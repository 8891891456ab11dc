"""The static message budget: the worst-case number of messages one customer can receive from a
journey, per channel, computed from the graph.

A send counts once on its channel and once on every channel of its fallback chain (it may land on
any of them). Branches take the per-channel maximum, a repeat multiplies its body by ``max`` (a
round that a ``break`` ends counts up to the break), the branches of a parallel block add up
(they all run), and an exit ends the path.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable
from datetime import timedelta

from journeydsl import ir

__all__ = ["TOTAL", "best_timeless", "message_budget", "window_budget"]

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
    memo: dict[tuple[str | None, tuple[str | None, ...]], Counter[str]] = {}

    def cost(nid: str | None, stop: tuple[str | None, ...]) -> Counter[str]:
        if nid is None or nid in stop or nid not in journey.nodes:
            return Counter()
        key = (nid, stop)
        if key in memo:
            return memo[key]
        memo[key] = Counter()  # a cycle outside a repeat cannot be built; guard anyway
        node = journey.nodes[nid]
        own: Counter[str] = Counter()
        if isinstance(node, ir.RepeatCheck):
            base = nid.removesuffix(".check")
            body = cost(node.body, _round_ends(base, node))
            result = Counter({k: v * node.max for k, v in body.items()})
            result.update(cost(node.exit, stop))
            memo[key] = result
            return result
        if isinstance(node, ir.RepeatNext):
            memo[key] = Counter()
            return memo[key]
        if isinstance(node, ir.Parallel):  # every branch runs: their budgets add up
            result = Counter()
            for branch in node.branches:
                result.update(cost(branch, (node.done,)))
            result.update(cost(node.done, stop))
            memo[key] = result
            return result
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
        total = cost(journey.start, ())
        # A goal can end the instance at any time, after any of the sends before it: its
        # steps add to the worst path (the worst goal, as only one is ever reached).
        total.update(_merge_max([cost(g.start, ()) for g in journey.goals if g.start]))
    finally:
        sys.setrecursionlimit(limit)
    return {k: total[k] for k in sorted(total, key=lambda c: (c == TOTAL, c))}


def _round_ends(base: str, check: ir.RepeatCheck) -> tuple[str | None, ...]:
    """Where one round of a repeat ends: its next round, or past the repeat (a `break`)."""
    return (f"{base}.next", check.exit)


def _edge_delays(node: ir.Node) -> list[tuple[str, timedelta]]:
    """Each successor with the least time that can pass on the way to it: a fixed `wait` or a
    fixed `within` timeout, nothing for anything that may be immediate."""
    if isinstance(node, ir.Wait):
        least = _fixed(node.value) if node.mode == "duration" else None
        return [(node.next, least or timedelta(0))] if node.next else []
    if isinstance(node, ir.WaitFirst):
        least = _fixed(node.timeout) if node.timeout_mode == "within" else None
        first = [(b.next, timedelta(0)) for b in node.branches if b.next]
        return first + ([(node.on_timeout, least or timedelta(0))] if node.on_timeout else [])
    if isinstance(node, ir.WaitFor):
        out: list[tuple[str, timedelta]] = []
        if node.then:
            out.append((node.then, timedelta(0)))
        if node.on_timeout:
            least = _fixed(node.timeout) if node.timeout_mode == "within" else None
            out.append((node.on_timeout, least or timedelta(0)))
        return out
    return [(s, timedelta(0)) for s in node.successors()]


def _fixed(expr: ir.CExpr | None) -> timedelta | None:
    if expr is None or not expr.const:
        return None
    try:
        value = expr.fn(None, None)  # type: ignore[arg-type]  # constants ignore the context
    except Exception:
        return None
    return value if isinstance(value, timedelta) and value > timedelta(0) else None


def window_budget(
    journey: ir.Journey,
    counts: Callable[[ir.Send], bool],
    window: timedelta,
    *,
    limit: int = 200_000,
) -> tuple[int, str | None]:
    """The most sends that ``counts`` selects which one instance can make within any ``window``
    on one path, and the send that starts that window (None when nothing counts).

    Time passes only at fixed waits (`wait 3d`, the timeout of `wait for … within 3d`); any
    other wait may end at once, so the figure is a worst case. A repeat runs its block up to
    ``max`` times. Deferrals by quiet hours can bunch messages further; the runtime's caps
    catch those. Past ``limit`` states the path is taken as timeless (the plain budget).
    """
    memo: dict[tuple[str, timedelta, tuple[tuple[str, int], ...]], int] = {}
    states = 0

    def best(nid: str | None, elapsed: timedelta, loops: tuple[tuple[str, int], ...]) -> int:
        nonlocal states
        if nid is None or nid not in journey.nodes or elapsed >= window:
            return 0
        key = (nid, elapsed, loops)
        if key in memo:
            return memo[key]
        states += 1
        if states > limit:
            raise _TooManyStatesError
        memo[key] = 0  # a cycle outside a repeat cannot be built; guard anyway
        node = journey.nodes[nid]
        own = 1 if isinstance(node, ir.Send) and counts(node) else 0
        found = dict(loops)
        if isinstance(node, ir.RepeatStart):
            found[node.next] = 1
            rest = best(node.next, elapsed, _freeze(found))
        elif isinstance(node, ir.RepeatCheck):
            rounds = found.pop(nid, 1)
            rest = best(node.exit, elapsed, _freeze(found))
            if rounds <= node.max:
                rest = max(rest, best(node.body, elapsed, loops))
        elif isinstance(node, ir.RepeatNext):
            found[node.next] = found.get(node.next, 1) + 1
            rest = best(node.next, elapsed, _freeze(found))
        elif isinstance(node, ir.Parallel):  # every branch runs (each counted with the rest)
            rest = sum(best(b, elapsed, loops) for b in node.branches)
        else:
            rest = max(
                (best(s, elapsed + d, loops) for s, d in _edge_delays(node)),
                default=0,
            )
        memo[key] = own + rest
        return own + rest

    starts = [n for n in journey.nodes.values() if isinstance(n, ir.Send) and counts(n)]
    if not starts:
        return 0, None
    limit_before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit_before, 8 * len(journey.nodes) + 1000))
    try:
        scored = [(best(n.id, timedelta(0), ()), n.id) for n in starts]
    except _TooManyStatesError:
        scored = [(best_timeless(journey, counts), starts[0].id)]
    finally:
        sys.setrecursionlimit(limit_before)
    most, first = max(scored, key=lambda s: s[0])
    return most, first


class _TooManyStatesError(Exception):
    pass


def _freeze(loops: dict[str, int]) -> tuple[tuple[str, int], ...]:
    return tuple(sorted(loops.items()))


def best_timeless(journey: ir.Journey, counts: Callable[[ir.Send], bool]) -> int:
    """The most sends ``counts`` selects on one path of one instance, whatever time passes."""
    memo: dict[tuple[str | None, tuple[str | None, ...]], int] = {}

    def cost(nid: str | None, stop: tuple[str | None, ...]) -> int:
        if nid is None or nid in stop or nid not in journey.nodes:
            return 0
        key = (nid, stop)
        if key in memo:
            return memo[key]
        memo[key] = 0
        node = journey.nodes[nid]
        if isinstance(node, ir.RepeatCheck):
            base = nid.removesuffix(".check")
            result = cost(node.body, _round_ends(base, node)) * node.max + cost(node.exit, stop)
        elif isinstance(node, ir.RepeatNext):
            result = 0
        elif isinstance(node, ir.Parallel):
            result = sum(cost(b, (node.done,)) for b in node.branches) + cost(node.done, stop)
        else:
            own = 1 if isinstance(node, ir.Send) and counts(node) else 0
            result = own + max((cost(s, stop) for s in node.successors()), default=0)
        memo[key] = result
        return result

    goals = [cost(g.start, ()) for g in journey.goals if g.start]
    return cost(journey.start, ()) + max(goals, default=0)
