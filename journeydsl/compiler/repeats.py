"""Lowering of ``repeat`` and of ``break`` / ``continue`` inside one.

A ``break`` or ``continue`` is not a node of its own: the step before it goes straight to where
the innermost repeat goes on (``break``) or to its next round (``continue``), so the graph, the
budget and the loop check see the jump as an ordinary edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Final

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.diagnostics import Diagnostics
from journeydsl.expr.checker import Scope, check_bool
from journeydsl.expr.types import INT

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["MAX_REPEAT_ROUNDS", "check_jumps", "lower_break", "lower_repeat"]

#: The rounds a repeat may run, times those of the repeats it is in (JD105): a loop whose rounds
#: wait a second each (`repeat max 100000000 { wait 1s }`) would keep the host busy for one
#: customer, or one timer a second for each customer, long after anyone meant it.
MAX_REPEAT_ROUNDS: Final = 10_000


def lower_repeat(lw: _Lowerer, s: A.Repeat, nid: str, nxt: str | None, scope: Scope) -> str:
    """The start, check and next nodes of ``s``, its body lowered between them."""
    counter = s.counter.name if s.counter else f"#{nid}"
    if s.max < 1:
        lw.diags.error("JD105", "a repeat runs at least once: max must be 1 or more", s.span)
    outer = lw.rounds[-1] if lw.rounds else 1
    rounds = outer * max(s.max, 1)
    if rounds > MAX_REPEAT_ROUNDS and outer <= MAX_REPEAT_ROUNDS:  # (reported once, innermost)
        within = f" ({outer:,} of the repeats it is in, times {s.max:,})" if outer > 1 else ""
        lw.diags.error(
            "JD105",
            f"this repeat can run {rounds:,} rounds{within}: a repeat runs at most "
            f"{MAX_REPEAT_ROUNDS:,}, counting the rounds of the repeats it is in",
            s.span,
            "lower max (a daily reminder for a year is max 365), or wait longer in each round",
        )
    inner_vars = {**scope.variables, counter: INT}
    inner = replace(scope, variables=inner_vars)
    check_id, next_id = f"{nid}.check", f"{nid}.next"
    until_t = check_bool(s.until, inner) if s.until is not None else None
    until = lw.cexpr(s.until, until_t) if s.until is not None and until_t else None
    lw.loops.append((nxt, next_id))
    lw.rounds.append(rounds)
    try:
        body = lw.lower_steps(s.steps, next_id, inner)
    finally:
        lw.loops.pop()
        lw.rounds.pop()
    lw.add(ir.RepeatNext(next_id, s.span, counter, check_id))
    lw.add(ir.RepeatCheck(check_id, s.span, counter, s.max, until, body, nxt), until_t)
    lw.out.counters[nid] = counter
    lw.out.sets[nid] = counter
    return lw.add(ir.RepeatStart(nid, s.span, counter, check_id))


def lower_break(lw: _Lowerer, s: A.Break, nxt: str | None) -> str | None:
    """Where ``s`` jumps to: past the innermost repeat, or to its next round."""
    if not lw.loops:
        return nxt  # reported by check_jumps
    past, round_end = lw.loops[-1]
    return past if s.kind == "break" else round_end


def check_jumps(
    steps: A.Steps,
    blocks: Callable[[A.Step], list[A.Steps]],
    diags: Diagnostics,
    in_repeat: bool = False,
    fence: str | None = None,
) -> None:
    """Report a ``break`` or ``continue`` outside a repeat, one that would leave a ``parallel``
    or ``during`` block for a repeat around it (``fence`` names the innermost such block when
    no repeat lies between it and the jump), and one with a label (steps after one in the same
    block are never reached: JD501 reports them)."""
    for s in steps:
        if isinstance(s, A.Break):
            if fence is not None:
                diags.error(
                    "JD105",
                    f"`{s.kind}` cannot leave a {fence} block",
                    s.span,
                    f"set a variable, and {s.kind} after the {fence} block",
                )
            elif not in_repeat:
                diags.error(
                    "JD105",
                    f"`{s.kind}` is only allowed inside a `repeat`",
                    s.span,
                    "to end the journey here use `exit OUTCOME`",
                )
            if s.id is not None:
                diags.error(
                    "JD105",
                    f"`{s.kind}` is not a step of its own and cannot have an id",
                    s.id.span,
                    "remove the label",
                )
        inner_fence = fence
        if isinstance(s, A.Repeat):
            inner_fence = None
        elif isinstance(s, A.Parallel | A.During) and (in_repeat or fence is not None):
            inner_fence = "parallel" if isinstance(s, A.Parallel) else "during"
        for block in blocks(s):
            check_jumps(block, blocks, diags, in_repeat or isinstance(s, A.Repeat), inner_fence)
