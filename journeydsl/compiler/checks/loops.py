"""JD502: a repeat that can run a round without waiting, sending a burst of messages at once.

Every path through a round must pass a wait that makes time pass:

- ``wait D`` when ``D`` is more than zero: a constant (``wait 0s`` is not a wait), or a
  product of positive constants and round counters (``wait 3d * round``); a duration read from
  data may be zero;
- ``wait until HH:MM`` and ``wait until next DAYS HH:MM``, which always move forward;
- ``wait until T`` when ``T`` moves every round: ``now + D`` (``D`` as above), or an instant
  that reads the repeat's round counter or a variable every path of the body sets to such a
  value before the wait. Any other instant (``entered_at + 1d``) is fixed: once it has passed,
  reaching it again does not wait, so it counts in the first round only;
- a ``wait for`` or a ``wait first``: its event or condition is a wait (a condition that
  already holds passes at once, which this check does not follow), its timeout is judged as
  the waits above (``within 0s``, ``until entered_at + 1d``).

The diagnostic's hint names the first wait on the way that does not count, and why.

A branch on the round counter compared with a number (``if round > 1``) is followed in the
first round or in the later ones only, as its comparison says.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from journeydsl import ir
from journeydsl.budget_guards import const_duration
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics
from journeydsl.expr.literals import duration_value
from journeydsl.expr.operators import COMPARISONS

#: How a wait (or a wait's timeout) makes time pass, round after round.
_ALWAYS, _ONCE, _NEVER = "always", "once", "never"

_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_NAME = re.compile(r"(?<![\w.])([A-Za-z_]\w*)\b(?!\s*\()")
_FROM_NOW = re.compile(r"^now \+ (.+)$")
_ROUND_TEST = re.compile(r"^(\w+) (==|!=|<=|>=|<|>) (\d+)$")
_HINT = "put a `wait` (or a `wait for … within …`) on every path through the body"
_FIX = (
    "wait a positive duration (`wait 1d`), until a time of day (`wait until 09:00`) or until "
    "an instant that moves every round (`now + 1d`, `entered_at + 1d * round`) on every path "
    "through the body"
)


def _names(source: str) -> set[str]:
    """The names an expression's canonical text reads (not fields, functions or strings)."""
    return set(_NAME.findall(_QUOTED.sub('""', source)))


def _split(text: str, op: str) -> list[str]:
    """``text`` split at each ``op`` outside brackets."""
    parts, depth, begin, i = [], 0, 0, 0
    while i < len(text):
        if text[i] in "([":
            depth += 1
        elif text[i] in ")]":
            depth -= 1
        elif depth == 0 and text.startswith(op, i):
            parts.append(text[begin:i])
            i = begin = i + len(op)
            continue
        i += 1
    return [*parts, text[begin:]]


@dataclass(frozen=True, slots=True)
class _Loop:
    """One repeat under check: its counter, the names that change every round, and the round
    counters and params a duration may be a product of."""

    journey: ir.Journey
    check: ir.RepeatCheck
    moving: frozenset[str]
    counters: frozenset[str]
    #: Each variable the body sets to a value that moves, with the steps that set it so.
    sets: Mapping[str, frozenset[str]] = field(default_factory=dict)

    def positive(self, source: str) -> bool:
        """Whether a duration's canonical text is more than zero whatever the round: positive
        constants and round counters, multiplied or added."""
        text = source.strip()
        for op in (" + ", " * "):
            parts = _split(text, op)
            if len(parts) > 1:
                return all(self.positive(p) for p in parts)
        if text.startswith("(") and text.endswith(")"):  # (what is not one group is no number)
            return self.positive(text[1:-1])
        if text in self.counters:  # a round counter is 1 or more
            return True
        if text.isascii() and text.isdigit():
            return int(text) > 0
        value = duration_value(self.journey.params.get(text, text))
        return value is not None and value.total_seconds() > 0

    def duration(self, expr: ir.CExpr | None) -> str:
        """``wait D`` or ``within D``: always when ``D`` is more than zero, else never."""
        if expr is None:
            return _NEVER
        value = const_duration(expr)
        if value is not None:
            return _ALWAYS if value.total_seconds() > 0 else _NEVER
        return _ALWAYS if self.positive(expr.source) else _NEVER

    def instant(self, expr: ir.CExpr | None, at: str | None = None) -> str:
        """``until T`` (at the step ``at``): always when ``T`` moves every round, once when it
        is fixed, never when it may be now or before. A variable moves at ``at`` only when
        every way there in the round sets it."""
        if expr is None:
            return _NEVER
        names = _names(expr.source)
        if "now" in names:
            m = _FROM_NOW.match(expr.source)
            return _ALWAYS if m and self.positive(m.group(1)) else _NEVER
        moving = names & self.moving
        if at is not None:
            moving = {v for v in moving if v == self.check.counter or self._set_before(v, at)}
        return _ALWAYS if moving else _ONCE

    def _set_before(self, var: str, at: str) -> bool:
        """Whether every way from the start of the round to ``at`` sets ``var``."""
        base = self.check.id.removesuffix(".check")
        ends = (*self.sets.get(var, ()), f"{base}.next", self.check.exit)
        return at not in _body(self.journey, self.check.body, ends)

    def waits(self, node: ir.Node) -> str | None:
        """How a wait makes time pass before its next step, or a wait for before its timeout
        (None: it always waits, for an event or a condition, with no timeout)."""
        if isinstance(node, ir.Wait):
            if node.mode == "duration":
                return self.duration(node.value)
            if node.mode == "until":
                return self.instant(node.value, node.id)
            return _ALWAYS  # the next HH:MM (on one of the days) is always ahead
        if isinstance(node, ir.WaitFor | ir.WaitFirst) and node.timeout is not None:
            if node.timeout_mode == "within":
                return self.duration(node.timeout)
            return self.instant(node.timeout, node.id)
        return None

    def round_test(self, cond: ir.CExpr, later: bool) -> bool | None:
        """The value of ``round OP N`` in the first round (``later`` false) or in every later
        one; None when it is not such a test or differs between the later rounds."""
        m = _ROUND_TEST.match(cond.source)
        if m is None or m.group(1) != self.check.counter:
            return None
        test, n = COMPARISONS[m.group(2)], int(m.group(3))
        if not later:
            return test(1, n)
        top = self.check.max
        points = {r for r in (2, top, n - 1, n, n + 1) if 2 <= r <= top}
        values = {test(r, n) for r in points}
        return values.pop() if len(values) == 1 else None

    def quick(self, node: ir.Node, later: bool) -> tuple[list[str], bool]:
        """The successors of ``node`` it may reach with no time passing, in the first round
        (``later`` false) or a later one, and whether it is a wait that does not count."""
        if isinstance(node, ir.Branch):
            taken = self.round_test(node.cond, later)
            if taken is not None:
                target = node.then if taken else node.otherwise
                return ([target] if target is not None else []), False
        if isinstance(node, ir.WAITING_KINDS):
            how = self.waits(node)
            if how is None or how == _ALWAYS or (how == _ONCE and not later):
                return [], False
            after = node.next if isinstance(node, ir.Wait) else node.on_timeout
            return ([after] if after is not None else []), True
        return list(node.successors()), False


def _loop(journey: ir.Journey, check: ir.RepeatCheck, base: str, counters: frozenset[str]) -> _Loop:
    """The repeat with what moves every round: its counter, and each variable the body sets to
    a value that moves (it reads the counter or another such variable, or is ``now`` plus a
    positive duration), with the steps that set it so."""
    body = _body(journey, check.body, (f"{base}.next", check.exit))
    sets = [n for n in map(journey.nodes.__getitem__, sorted(body)) if isinstance(n, ir.Set)]
    movers: dict[str, set[str]] = {}
    loop = _Loop(journey, check, frozenset({check.counter}), counters)
    changed = True
    while changed:
        changed = False
        for node in sets:
            if node.id not in movers.get(node.var, ()) and loop.instant(node.value) == _ALWAYS:
                movers.setdefault(node.var, set()).add(node.id)
                changed = True
        moving = frozenset({check.counter, *movers})
        loop = _Loop(journey, check, moving, counters, {v: frozenset(i) for v, i in movers.items()})
    return loop


def _body(journey: ir.Journey, start: str | None, ends: Iterable[str | None]) -> set[str]:
    """The nodes of a repeat's body, from ``start`` up to (not including) ``ends``."""
    stop = set(ends)
    seen: set[str] = set()
    stack = [start]
    while stack:
        nid = stack.pop()
        if nid is None or nid in seen or nid in stop or nid not in journey.nodes:
            continue
        seen.add(nid)
        stack.extend(journey.nodes[nid].successors())
    return seen


def _path_without_wait(
    loop: _Loop, start: str | None, goal: str, past: str | None, later: bool
) -> list[str] | None:
    """A path from ``start`` to ``goal`` with no time passing, in the first round or a later
    one, as the waits on it that do not count (None: every path waits; a path that goes
    ``past`` the loop, by a `break`, does not count). A parallel block waits when one of its
    branches always does (``all``), or every branch does (``first``)."""
    journey = loop.journey
    came: dict[str, str | None] = {}
    weak: dict[str, list[str]] = {}
    stack: list[tuple[str | None, str | None]] = [(start, None)]
    while stack:
        nid, parent = stack.pop()
        if nid is None or nid in came or (past is not None and nid == past):
            continue  # (past the loop: a `break` ends the round and the loop)
        came[nid] = parent
        if nid == goal:
            return _weak_on_path(came, weak, goal)
        if nid not in journey.nodes:
            continue
        node = journey.nodes[nid]
        if isinstance(node, ir.Parallel):
            paths = [_path_without_wait(loop, b, node.done, past, later) for b in node.branches]
            skips = [p for p in paths if p is not None]
            if skips and (len(skips) == len(paths) or node.join == "first"):
                weak[nid] = [w for p in skips for w in p]
                stack.append((node.done, nid))
            continue
        after, passed = loop.quick(node, later)
        stack.extend((s, nid) for s in after)
        if passed:
            weak[nid] = [nid]
    return None


def _weak_on_path(came: dict[str, str | None], weak: dict[str, list[str]], goal: str) -> list[str]:
    """The waits that do not count on the way to ``goal``, first to last."""
    out: list[str] = []
    at: str | None = goal
    while at is not None:
        out[:0] = weak.get(at, [])
        at = came[at]
    return out


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Report every repeat with a path through its body that passes no wait making time pass:
    in its first round, or in a later one."""
    journey = lowered.journey
    counters = frozenset(lowered.counters.values())
    for nid, node in journey.nodes.items():
        if not isinstance(node, ir.RepeatStart):
            continue
        head = journey.nodes[node.next]
        if not isinstance(head, ir.RepeatCheck):
            continue
        loop = _loop(journey, head, nid, counters)
        goal = f"{nid}.next"
        weak = _path_without_wait(loop, head.body, goal, head.exit, False)
        if weak is not None:
            message = f"its {head.max} rounds would all happen at once"
        elif head.max > 1:
            weak = _path_without_wait(loop, head.body, goal, head.exit, True)
            message = (
                "its second round can follow the first at once"
                if head.max == 2
                else f"after its first round, the other {head.max - 1} can all happen at once"
            )
        if weak is None:
            continue
        diags.error(
            "JD502",
            f"this repeat can run a round without waiting: {message}",
            node.span,
            _hint(journey, weak[0]) if weak else _HINT,
        )


def _hint(journey: ir.Journey, wait: str) -> str:
    """Why the wait ``wait`` on the way does not make time pass, and what to do."""
    node = journey.nodes[wait]
    what = ir.describe(node, full=True)
    expr: ir.CExpr | None = None
    mode: str | None = None
    subject = f"the timeout of `{what}`"
    if isinstance(node, ir.Wait):
        expr, mode, subject = node.value, node.mode, f"`{what}`"
    elif isinstance(node, ir.WaitFor | ir.WaitFirst):
        expr, mode = node.timeout, node.timeout_mode
    if mode in ("duration", "within") and const_duration(expr) is not None:
        why = "does not wait: its duration is zero"
    elif mode in ("duration", "within"):
        why = "may end at once: its duration can be zero"
    elif expr is not None and "now" in _names(expr.source):
        why = "may end at once: its instant can be now"
    else:
        why = "is the same instant every round: once it has passed, it no longer waits"
    return f"{subject} {why}; {_FIX}"
