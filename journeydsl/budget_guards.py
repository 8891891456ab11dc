"""What makes the message budget tight: the guards and deadlines the graph shows.

- **Once-guards**: ``if not FLAG { … set FLAG = true … }`` where every ``set FLAG`` of the
  journey is either ``true`` inside such a guard, on every path through it, or ``false`` outside
  every repeat (its default). The guarded steps run at most once per instance, however many
  rounds a repeat makes.
- **History guards**: ``if sent(WHAT in last D) == 0 [and …] { … send … }`` where ``sent``
  surely counts the send once delivered (``WHAT`` its template, its category or ``any``, or its
  channel when it has no fallback to another) and the send happens at the instant of the check
  (no wait, waiting ticket or parallel block between). Across every instance and journey, such a
  send goes out at most once in any ``D``, unless the journey's own quiet hours or send windows
  may hold it: ``sent`` counts a message from its delivery, so checks made while one is held
  all see none, and every message they let out leaves when the hold ends.
- **Deadlines from entry**: ``until entered_at + C`` (a timeout, or ``wait until``) ends at the
  fixed time ``C`` after entry; with the latest time after entry each step can run
  (:func:`latest_offsets`), the time between two steps has a lower bound.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta

from journeydsl import ir
from journeydsl.ast import CATEGORIES, CHANNELS
from journeydsl.expr.literals import duration_value

__all__ = [
    "HistoryGuard",
    "const_duration",
    "entry_deadline",
    "history_guards",
    "latest_offsets",
    "once_guards",
]

_NOT_FLAG = re.compile(r"^(?:not (\w+)|(\w+) == false)$")
_SENT_ZERO = re.compile(r"\bsent\((\w+) in last (\w+)\) == 0\b")
_FROM_ENTRY = re.compile(r"^entered_at \+ (\w+)$")


def _reach(
    journey: ir.Journey, start: str | None, avoid: frozenset[str], through_waits: bool = True
) -> set[str]:
    """The node ids reachable from ``start`` without entering ``avoid`` (and, unless
    ``through_waits``, without leaving a step after which time may have passed)."""
    seen: set[str] = set()
    stack = [start] if start else []
    while stack:
        nid = stack.pop()
        if nid in seen or nid in avoid or nid not in journey.nodes:
            continue
        seen.add(nid)
        node = journey.nodes[nid]
        if not through_waits and _takes_time(node):
            continue
        stack.extend(node.successors())
    return seen


def _takes_time(node: ir.Node) -> bool:
    """Whether time may pass between ``node`` and the steps after it: a wait, a ticket that
    waits for its queue's decision, or the join of a parallel block (its branches may wait)."""
    if isinstance(node, ir.Ticket):
        return node.waits
    return isinstance(node, ir.Wait | ir.WaitFor | ir.WaitFirst | ir.Join)


def _repeat_bodies(journey: ir.Journey) -> set[str]:
    """Every node inside the body of a repeat."""
    out: set[str] = set()
    for nid, node in journey.nodes.items():
        if isinstance(node, ir.RepeatCheck):
            base = nid.removesuffix(".check")
            out |= _reach(journey, node.body, frozenset({f"{base}.next", nid, node.exit or ""}))
    return out


def once_guards(journey: ir.Journey) -> frozenset[str]:
    """The ids of the ``if`` nodes whose ``then`` side runs at most once per instance."""
    sets: dict[str, list[ir.Set]] = {}
    for node in journey.nodes.values():
        if isinstance(node, ir.Set):
            sets.setdefault(node.var, []).append(node)
    in_loops = _repeat_bodies(journey)
    out: set[str] = set()
    for nid, node in journey.nodes.items():
        if not isinstance(node, ir.Branch) or node.then is None:
            continue
        flag = _flag_of(node.cond.source)
        if flag is None or flag not in sets:
            continue
        trues = frozenset(s.id for s in sets[flag] if s.value.source == "true")
        falses = [s for s in sets[flag] if s.value.source == "false"]
        others = [s for s in sets[flag] if s.value.source not in ("true", "false")]
        if not trues or others or any(s.id in in_loops for s in falses):
            continue
        # Every path from the `then` side sets the flag before it can come back to the check,
        # reach the steps after the `if`, or end.
        leak = _reach(journey, node.then, trues)
        if nid in leak or (node.otherwise is not None and node.otherwise in leak):
            continue
        if any(_ends(journey.nodes[x]) for x in leak):
            continue
        out.add(nid)
    return frozenset(out)


def _flag_of(source: str) -> str | None:
    """FLAG when ``source`` is ``not FLAG`` (or ``FLAG == false``), alone or ``and``-ed."""
    for part in conjuncts(source):
        m = _NOT_FLAG.match(part.strip())
        if m:
            return m.group(1) or m.group(2)
    return None


def _ends(node: ir.Node) -> bool:
    return any(target is None for _, target in ir.edges(node)) and not isinstance(node, ir.Exit)


@dataclass(frozen=True, slots=True)
class HistoryGuard:
    """A send that a ``sent(WHAT in last D) == 0`` check lets out at most once in any ``D``."""

    send: str
    what: str
    within: timedelta


def history_guards(journey: ir.Journey) -> dict[str, HistoryGuard]:
    """The sends (by id) that a history check in front of them guards."""
    out: dict[str, HistoryGuard] = {}
    for nid, node in journey.nodes.items():
        if not isinstance(node, ir.Branch) or node.then is None:
            continue
        for m in _SENT_ZERO.finditer(node.cond.source):
            if not _conjunct(node.cond.source, m.group(0)):
                continue
            within = duration_value(m.group(2))
            if within is None:
                continue
            counts = _sent_counts(journey, m.group(1))
            held = _held_channels(journey)
            for send in _instant_sends(journey, nid, node.then):
                if counts(send) and held.isdisjoint((send.channel, *send.fallback)):
                    out[send.id] = HistoryGuard(send.id, m.group(1), within)
    return out


def _held_channels(journey: ir.Journey) -> frozenset[str]:
    """The channels the journey's own quiet hours or send windows may hold a message on (it
    is then delivered, and counted by ``sent``, only when the hold ends)."""
    rules: list[ir.QuietHours | ir.SendWindow] = [*journey.quiet_hours, *journey.send_windows]
    return frozenset(channel for rule in rules for channel in rule.channels)


def _conjunct(source: str, term: str) -> bool:
    """Whether ``term`` is one of the ``and``-ed parts of ``source``."""
    return term in conjuncts(source)


def conjuncts(source: str) -> list[str]:
    """The ``and``-ed parts of a condition's canonical text (itself when it has an ``or`` or
    a ``not`` outside brackets, or an ``if … then … else``)."""
    parts, depth, begin, i = [], 0, 0, 0
    quoted = False
    while i < len(source):
        ch = source[i]
        if ch == '"' and (i == 0 or source[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and ch in "([":
            depth += 1
        elif not quoted and ch in ")]":
            depth -= 1
        elif not quoted and depth == 0:
            if source.startswith(" or ", i) or source.startswith("if ", i):
                return [source]
            if source.startswith(" and ", i):
                parts.append(source[begin:i])
                begin = i + 5
                i += 5
                continue
        i += 1
    parts.append(source[begin:])
    return [p.strip() for p in parts]


def _instant_sends(journey: ir.Journey, guard: str, then: str) -> Iterator[ir.Send]:
    """The sends the ``then`` side reaches with no wait between, which no other path reaches."""
    for nid in _reach(journey, then, frozenset(), through_waits=False):
        node = journey.nodes[nid]
        if not isinstance(node, ir.Send):
            continue
        others = _reach_skipping_edge(journey, guard, then)
        if nid not in others:
            yield node


def _reach_skipping_edge(journey: ir.Journey, src: str, dst: str) -> set[str]:
    """The nodes reachable from the journey's start and goals without the edge ``src → dst``."""
    seen: set[str] = set()
    stack = [journey.start, *(g.start for g in journey.goals)]
    while stack:
        nid = stack.pop()
        if nid is None or nid in seen or nid not in journey.nodes:
            continue
        seen.add(nid)
        node = journey.nodes[nid]
        if isinstance(node, ir.Branch) and nid == src:
            stack.append(node.otherwise)
            continue
        stack.extend(node.successors())
    return seen


def _sent_counts(journey: ir.Journey, what: str) -> Callable[[ir.Send], bool]:
    """Which sends ``sent(WHAT …)`` surely counts once delivered. ``WHAT`` is looked up as the
    checker does: ``any``, a template, a channel, a category. A channel counts a send only when
    every channel of its fallback chain is that one: a message that fell back is delivered on
    (and counted by) another. A channel or category name counts nothing when the catalog's
    template names are unknown (a template of that name would come first)."""
    if what == "any":
        return lambda send: True
    known = journey.template_names
    if what in known or not known:
        return lambda send: send.template == what
    if what in CHANNELS:
        return lambda send: {send.channel, *send.fallback} == {what}
    if what in CATEGORIES:
        return lambda send: send.category == what
    return lambda send: False


def entry_deadline(expr: ir.CExpr | None) -> timedelta | None:
    """``C`` for a deadline written ``entered_at + C`` (a constant duration), else None."""
    if expr is None:
        return None
    m = _FROM_ENTRY.match(expr.source)
    return duration_value(m.group(1)) if m else None


def latest_offsets(journey: ir.Journey) -> Mapping[str, timedelta | None]:
    """For each node, the latest time after entry it can run (None: no bound)."""
    hi: dict[str, timedelta | None] = {}
    if journey.start is None:
        return hi
    starts = [journey.start, *(g.start for g in journey.goals if g.start)]
    for s in starts:
        hi[s] = timedelta(0) if s == journey.start else None
    for _ in range(len(journey.nodes) + 2):
        changed = False
        for nid in list(hi):
            for target, at in _later(journey.nodes[nid], hi[nid]):
                if target is None or target not in journey.nodes:
                    continue
                old = hi.get(target, timedelta(0))
                new = None if at is None or old is None else max(old, at)
                if target not in hi or new != old:
                    hi[target], changed = new, True
        if not changed:
            return hi
    return dict.fromkeys(hi)  # (a loop that waits: no bound anywhere)


def _later(node: ir.Node, at: timedelta | None) -> list[tuple[str | None, timedelta | None]]:
    """Each successor of ``node`` with the latest time after entry it can be reached at."""
    if at is None:
        return [(s, None) for s in node.successors()]
    if isinstance(node, ir.Wait):
        if node.mode == "duration":
            d = const_duration(node.value)
            return [(node.next, None if d is None else at + d)]
        c = entry_deadline(node.value) if node.mode == "until" else None
        return [(node.next, None if c is None else max(at, c))]
    if isinstance(node, ir.WaitFor | ir.WaitFirst):
        if node.timeout_mode == "within":
            d = const_duration(node.timeout)
            bound = None if d is None else at + d
        elif node.timeout_mode == "until":
            c = entry_deadline(node.timeout)
            bound = None if c is None else max(at, c)
        else:
            bound = None
        return [(s, bound) for s in node.successors()]
    return [(s, at) for s in node.successors()]


def const_duration(expr: ir.CExpr | None) -> timedelta | None:
    """The value of a constant duration expression, or None."""
    if expr is None or not expr.const:
        return None
    try:
        value = expr.fn(None, None)  # type: ignore[arg-type]  # constants ignore the context
    except Exception:
        return None
    return value if isinstance(value, timedelta) else None
