"""Lowering of ``repeat`` and of ``break`` / ``continue`` inside one.

A ``break`` or ``continue`` is not a node of its own: the step before it goes straight to where
the innermost repeat goes on (``break``) or to its next round (``continue``), so the graph, the
budget and the loop check see the jump as an ordinary edge.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.diagnostics import Diagnostics
from journeydsl.expr.checker import Scope, check_bool
from journeydsl.expr.types import INT

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["check_jumps", "lower_break", "lower_repeat"]


def lower_repeat(lw: _Lowerer, s: A.Repeat, nid: str, nxt: str | None, scope: Scope) -> str:
    """The start, check and next nodes of ``s``, its body lowered between them."""
    counter = s.counter.name if s.counter else f"#{nid}"
    if s.max < 1:
        lw.diags.error("JD105", "a repeat runs at least once: max must be 1 or more", s.span)
    inner_vars = {**scope.variables, counter: INT}
    inner = replace(scope, variables=inner_vars)
    check_id, next_id = f"{nid}.check", f"{nid}.next"
    until_t = check_bool(s.until, inner) if s.until is not None else None
    until = lw.cexpr(s.until, until_t) if s.until is not None and until_t else None
    lw.loops.append((nxt, next_id))
    try:
        body = lw.lower_steps(s.steps, next_id, inner)
    finally:
        lw.loops.pop()
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
) -> None:
    """Report a ``break`` or ``continue`` outside a repeat, and one with a label (steps after one
    in the same block are never reached: JD501 reports them)."""
    for s in steps:
        if isinstance(s, A.Break):
            if not in_repeat:
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
        for block in blocks(s):
            check_jumps(block, blocks, diags, in_repeat or isinstance(s, A.Repeat))
