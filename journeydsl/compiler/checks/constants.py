"""JD504: a branch, loop or wait condition whose value never changes."""

from __future__ import annotations

from journeydsl import ir
from journeydsl.compiler.lower import Lowered
from journeydsl.diagnostics import Diagnostics


def _value(expr: ir.CExpr) -> object:
    try:
        return expr.fn(None, None)  # type: ignore[arg-type]  # constants ignore the context
    except Exception:
        return None


def _warn(diags: Diagnostics, expr: ir.CExpr | None, what: str) -> None:
    if expr is None or not expr.const or expr.type.is_error:
        return
    value = _value(expr)
    shown = "true" if value is True else "false" if value is False else repr(value)
    diags.warning(
        "JD504",
        f"this {what} is always {shown}",
        expr.span,
        "it reads nothing that changes; did you mean to test an event, attribute or variable?",
    )


def check(lowered: Lowered, diags: Diagnostics) -> None:
    """Warn on constant conditions of if, switch, repeat-until and wait-for."""
    for node in lowered.journey.nodes.values():
        if isinstance(node, ir.Branch):
            _warn(diags, node.cond, "condition")
        elif isinstance(node, ir.Switch):
            _warn(diags, node.subject, "switch subject")
        elif isinstance(node, ir.RepeatCheck):
            _warn(diags, node.until, "`until` condition")
        elif isinstance(node, ir.WaitFor):
            _warn(diags, node.condition, "awaited condition")
        elif isinstance(node, ir.WaitFirst):
            for branch in node.branches:
                _warn(diags, branch.condition, "awaited condition")
