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
from journeydsl.budget_guards import const_duration

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
    """Worst-case messages per instance (one customer's entry into the journey), by channel,
    plus ``"total"`` (any channel).

    The guarded side of a once-guard (``if not FLAG { … set FLAG = true }``, see
    :func:`~journeydsl.budget_guards.once_guards`) runs at most once per instance: in a repeat,
    at most as many rounds as there are such guards in its block take one.
    """
    from journeydsl.budget_guards import once_guards

    guards = once_guards(journey)
    memo: dict[tuple[str | None, tuple[str | None, ...], frozenset[str]], Counter[str]] = {}

    def cost(nid: str | None, stop: tuple[str | None, ...], off: frozenset[str]) -> Counter[str]:
        if nid is None or nid in stop or nid not in journey.nodes:
            return Counter()
        key = (nid, stop, off)
        if key in memo:
            return memo[key]
        memo[key] = Counter()  # a cycle outside a repeat cannot be built; guard anyway
        node = journey.nodes[nid]
        own: Counter[str] = Counter()
        if isinstance(node, ir.RepeatCheck):
            result = _rounds(node, nid, stop, off)
            memo[key] = result
            return result
        if isinstance(node, ir.RepeatNext):
            memo[key] = Counter()
            return memo[key]
        if isinstance(node, ir.Parallel):  # every branch runs: their budgets add up
            result = Counter()
            for branch in node.branches:
                result.update(cost(branch, (node.done,), off))
            result.update(cost(node.done, stop, off))
            memo[key] = result
            return result
        if isinstance(node, ir.Send):
            own[TOTAL] = 1
            for channel in dict.fromkeys((node.channel, *node.fallback)):
                own[channel] = 1
        if nid in off and isinstance(node, ir.Branch):  # (a shut once-guard: never taken)
            nexts = [node.otherwise]
        else:
            nexts = list(node.successors())
        rest = _merge_max([cost(s, stop, off) for s in nexts])
        rest.update(own)
        memo[key] = rest
        return rest

    def _rounds(
        node: ir.RepeatCheck, nid: str, stop: tuple[str | None, ...], off: frozenset[str]
    ) -> Counter[str]:
        """``max`` rounds of the block: the rounds that take a once-guard (at most one per
        guard) cost the block as is; the others cost it with those guards shut."""
        ends = _round_ends(nid.removesuffix(".check"), node)
        body = cost(node.body, ends, off)
        inner = [g for g in guards - off if g in _inside(journey, node.body, ends)]
        taking = min(node.max, len(inner))
        shut = cost(node.body, ends, off | frozenset(inner)) if inner else body
        result = Counter({k: v * taking for k, v in body.items()})
        result.update({k: v * (node.max - taking) for k, v in shut.items()})
        result.update(cost(node.exit, stop, off))
        return result

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 4 * len(journey.nodes) + 1000))
    try:
        total = cost(journey.start, (), frozenset())
        # A goal can end the instance at any time, after any of the sends before it: its
        # steps add to the worst path (the worst goal, as only one is ever reached).
        goals = [cost(g.start, (), frozenset()) for g in journey.goals if g.start]
        total.update(_merge_max(goals))
    finally:
        sys.setrecursionlimit(limit)
    return {k: total[k] for k in sorted(total, key=lambda c: (c == TOTAL, c))}


def _inside(journey: ir.Journey, start: str | None, ends: tuple[str | None, ...]) -> set[str]:
    """The nodes from ``start`` up to (not including) ``ends``."""
    seen: set[str] = set()
    stack = [start]
    while stack:
        nid = stack.pop()
        if nid is None or nid in seen or nid in ends or nid not in journey.nodes:
            continue
        seen.add(nid)
        stack.extend(journey.nodes[nid].successors())
    return seen


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
    """A positive constant duration, or None."""
    value = const_duration(expr)
    return value if value is not None and value > timedelta(0) else None


def window_budget(
    journey: ir.Journey,
    counts: Callable[[ir.Send], bool],
    window: timedelta,
    *,
    limit: int = 200_000,
    instant_deadlines: bool = True,
) -> tuple[int, str | None]:
    """The most sends that ``counts`` selects which one instance can make within any ``window``
    on one path, and the node that starts that window (None when nothing counts).

    Time passes at fixed waits (`wait 3d`, the timeout of `wait for … within 3d`) and at
    deadlines from entry (`until entered_at + 30d`, given the latest time after entry the window
    can start); any other wait may end at once, so the figure is a worst case (with
    ``instant_deadlines=False`` such a deadline ends the window instead: a best case, to tell a
    tight figure from a loose one). A repeat runs its block up to ``max`` times; the guarded
    side of a once-guard (:func:`~journeydsl.budget_guards.once_guards`) runs once per path.
    The branches of a parallel block add up, each with its own worst window (their timing
    against each other is not followed). Deferrals by quiet hours can bunch messages further;
    the runtime's caps catch those. Past ``limit`` states the path is taken as timeless.
    """
    from journeydsl.budget_guards import entry_deadline, latest_offsets, once_guards

    guards = once_guards(journey)
    latest = latest_offsets(journey)
    inside = _block_members(journey)
    memo: dict[tuple[object, ...], int] = {}
    states = 0

    def delays(node: ir.Node, base: timedelta | None) -> list[tuple[str, timedelta]]:
        out = _edge_delays(node)
        if not isinstance(node, ir.WaitFor | ir.WaitFirst | ir.Wait):
            return out
        limit_expr = node.value if isinstance(node, ir.Wait) else node.timeout
        mode = node.mode if isinstance(node, ir.Wait) else node.timeout_mode
        deadline = entry_deadline(limit_expr) if mode == "until" else None
        late = isinstance(node, ir.Wait) or mode == "until"
        target = node.next if isinstance(node, ir.Wait) else node.on_timeout
        if not late or target is None:
            return out
        if deadline is not None and base is not None:
            least = max(deadline - base, timedelta(0))
        elif mode == "until" and deadline is None and not instant_deadlines:
            least = window
        else:
            return out
        return [(s, max(d, least) if s == target else d) for s, d in out]

    def best(
        nid: str | None,
        elapsed: timedelta,
        loops: tuple[tuple[str, int], ...],
        fired: frozenset[str],
        stop: str | None,
        base: timedelta | None,
    ) -> int:
        nonlocal states
        if nid is None or nid == stop or nid not in journey.nodes or elapsed >= window:
            return 0
        key = (nid, elapsed, loops, fired, stop, base)
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
            rest = best(node.next, elapsed, _freeze(found), fired, stop, base)
        elif isinstance(node, ir.RepeatCheck):
            rounds = found.pop(nid, 1)
            rest = best(node.exit, elapsed, _freeze(found), fired, stop, base)
            if rounds <= node.max:
                rest = max(rest, best(node.body, elapsed, loops, fired, stop, base))
        elif isinstance(node, ir.RepeatNext):
            found[node.next] = found.get(node.next, 1) + 1
            rest = best(node.next, elapsed, _freeze(found), fired, stop, base)
        elif isinstance(node, ir.Parallel):  # every branch runs, each with its worst window
            rest = sum(branch_window(node, b) for b in node.branches)
            rest += best(node.done, elapsed, loops, fired, stop, base)
        elif isinstance(node, ir.Branch) and nid in guards:
            rest = best(node.otherwise, elapsed, loops, fired, stop, base)
            if nid not in fired:
                then = best(node.then, elapsed, loops, fired | {nid}, stop, base)
                rest = max(rest, then)
        else:
            rest = max(
                (best(s, elapsed + d, loops, fired, stop, base) for s, d in delays(node, base)),
                default=0,
            )
        memo[key] = own + rest
        return own + rest

    def branch_window(fork: ir.Parallel, start: str) -> int:
        """The worst window of one branch, starting at its start or at any of its sends."""
        members = _branch_nodes(journey, start, fork.done)
        starts = [start, *(n for n in members if isinstance(journey.nodes[n], ir.Send))]
        return max(best(s, timedelta(0), (), frozenset(), fork.done, latest.get(s)) for s in starts)

    starts = [
        n
        for n in journey.nodes.values()
        if (isinstance(n, ir.Send) and counts(n) and n.id not in inside)
        or isinstance(n, ir.Parallel)
    ]
    if not any(isinstance(n, ir.Send) and counts(n) for n in journey.nodes.values()):
        return 0, None
    limit_before = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit_before, 8 * len(journey.nodes) + 1000))
    try:
        scored = [
            (best(n.id, timedelta(0), (), frozenset(), None, latest.get(n.id)), n.id)
            for n in starts
        ]
    except _TooManyStatesError:
        scored = [(best_timeless(journey, counts), starts[0].id)]
    finally:
        sys.setrecursionlimit(limit_before)
    most, first = max(scored, key=lambda s: s[0])
    return min(most, best_timeless(journey, counts)), first


def _branch_nodes(journey: ir.Journey, start: str, done: str) -> list[str]:
    """The nodes of one branch, from its start to the join ``done``."""
    seen: list[str] = []
    stack = [start]
    while stack:
        nid = stack.pop()
        if nid in seen or nid == done or nid not in journey.nodes:
            continue
        seen.append(nid)
        stack.extend(journey.nodes[nid].successors())
    return seen


def _block_members(journey: ir.Journey) -> dict[str, str]:
    """Each node inside a branch of a parallel block, with the block's fork id."""
    out: dict[str, str] = {}
    for fork in journey.nodes.values():
        if not isinstance(fork, ir.Parallel):
            continue
        stack = list(fork.branches)
        while stack:
            nid = stack.pop()
            if nid in out or nid == fork.done or nid not in journey.nodes:
                continue
            out[nid] = fork.id
            stack.extend(journey.nodes[nid].successors())
    return out


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
