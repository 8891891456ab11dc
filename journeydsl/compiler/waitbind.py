"""``wait for EVENT as NAME``: the event that ends the wait gets a name, read as ``NAME.FIELD``
in the wait's ``where`` (the event being matched) and in its ``then`` block (the event that
matched, kept in the instance's variables), typed from the events catalog."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl.expr.builtins import BUILTINS
from journeydsl.expr.checker import Scope

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["bound_scopes"]


def bound_scopes(
    lw: _Lowerer, s: A.WaitFor, event: str | None, scope: Scope
) -> tuple[Scope, Scope]:
    """The scopes of the wait's ``where`` and of its ``then`` block, with ``s.bind`` in them."""
    bind = s.bind
    if bind is None:
        return scope, scope
    name = bind.name
    if event is None:
        lw.diags.error(
            "JD105",
            "`as` names the event that ends a wait; this waits for a condition",
            bind.span,
            "write `wait for EVENT as NAME`, e.g. `wait for transaction as tx`",
        )
        return scope, scope
    clash = (
        "a journey variable"
        if name in scope.variables
        else "an event in the catalog"
        if name in lw.catalog.events
        else "a built-in name"
        if name in BUILTINS or name in ("profile", "trigger")
        else "the name of an enclosing wait's event"
        if name in scope.bound
        else None
    )
    if clash is not None:
        lw.diags.error(
            "JD105",
            f"'{name}' is already {clash}: the event needs a name of its own",
            bind.span,
            "pick another name, e.g. `wait for transaction as tx`",
        )
        return scope, scope
    spec = lw.catalog.events[event]
    where = replace(scope, bound={**scope.bound, name: (spec, True)})
    then = replace(scope, bound={**scope.bound, name: (spec, False)})
    return where, then
