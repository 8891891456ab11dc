"""Lowering of ``wait first``: each branch an event (with its filter) or a condition, checked
like a ``wait for``'s, and a branch that repeats an earlier one (it could never win) refused."""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.checker import Scope, Typed, check_bool, check_type
from journeydsl.expr.types import DURATION, TIMESTAMP
from journeydsl.syntax.printer import print_expr

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["lower_wait_first"]


def lower_wait_first(lw: _Lowerer, s: A.WaitFirst, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.WaitFirst` of ``s``, its branches lowered in written order."""
    typed: list[Typed] = []
    branches: list[ir.FirstBranch] = []
    seen: dict[str, int] = {}
    for n, b in enumerate(s.branches, 1):
        event, where, cond = _branch(lw, b, scope, typed)
        key = (
            f"on {b.event.name} where {print_expr(b.where) if b.where else ''}"
            if b.event is not None
            else f"when {print_expr(b.condition) if b.condition else ''}"
        )
        if key in seen:
            lw.diags.error(
                "JD507",
                f"this branch repeats branch {seen[key]}: the earlier one always wins, so it "
                "can never run",
                b.span,
                "remove it, or give it another event or condition",
            )
        seen.setdefault(key, n)
        branches.append(ir.FirstBranch(event, where, cond, lw.lower_steps(b.steps, nxt, scope)))
    mode: str | None = None
    timeout: ir.CExpr | None = None
    if s.timeout is not None:
        mode = s.timeout.kind
        want = DURATION if mode == "within" else TIMESTAMP
        what = "`within`" if mode == "within" else "`until`"
        tt = check_type(s.timeout.value, scope, want, what)
        typed.append(tt)
        timeout = lw.cexpr(s.timeout.value, tt)
    on_timeout = lw.lower_steps(s.on_timeout, nxt, scope)
    node = ir.WaitFirst(nid, s.span, tuple(branches), mode, timeout, on_timeout)
    return lw.add(node, *typed)


def _branch(
    lw: _Lowerer, b: A.FirstBranch, scope: Scope, typed: list[Typed]
) -> tuple[str | None, ir.CExpr | None, ir.CExpr | None]:
    """(event, where, condition) of one branch, its names and types checked."""
    if b.event is None:
        assert b.condition is not None
        c = check_bool(b.condition, scope)
        typed.append(c)
        return None, None, lw.cexpr(b.condition, c)
    spec = lw.catalog.events.get(b.event.name)
    if spec is None:
        lw.diags.error(
            "JD201",
            f"undefined event '{b.event.name}'",
            b.event.span,
            did_you_mean(b.event.name, lw.catalog.events)
            or (None if lw.catalog.has_events else 'add `uses events "events.yaml"`'),
        )
        return b.event.name, None, None
    where = None
    if b.where is not None:
        w = check_bool(b.where, scope.for_event(spec))
        typed.append(w)
        where = lw.cexpr(b.where, w)
    return b.event.name, where, None
