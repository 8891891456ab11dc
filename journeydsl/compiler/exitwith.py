"""Lowering of ``exit with EXPR``: an outcome chosen by an expression, checked at compile time to
be one of the declared outcomes whatever its value (so the expression's values must be
enumerable: string literals, and ``if … then … else`` over them)."""

from __future__ import annotations

from collections.abc import Collection
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.expr.checker import Scope, check_type
from journeydsl.expr.types import STRING

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["bare_outcomes", "lower_exit_with", "outcome_values"]


def outcome_values(expr: A.Expr) -> list[A.StringLit] | None:
    """Every value ``expr`` can take, as the literals that give them, in written order; None
    when they cannot be listed."""
    match expr:
        case A.StringLit():
            return [expr]
        case A.Cond(then=then, otherwise=otherwise):
            a, b = outcome_values(then), outcome_values(otherwise)
            return None if a is None or b is None else a + b
    return None


def bare_outcomes(expr: A.Expr, outcomes: Collection[str], scope: Scope) -> list[A.Name]:
    """The values of ``expr`` written as a bare name that is a declared outcome and no variable
    (`exit with done`): meant as the outcome, which `exit with` takes as a string."""
    match expr:
        case A.Name(name=name) if name in outcomes and name not in scope.variables:
            return [expr]
        case A.Cond(then=then, otherwise=otherwise):
            return bare_outcomes(then, outcomes, scope) + bare_outcomes(otherwise, outcomes, scope)
    return []


def _strings(expr: A.Expr) -> list[str]:
    """The string literals among the values of ``expr``."""
    match expr:
        case A.StringLit():
            return [expr.value]
        case A.Cond(then=then, otherwise=otherwise):
            return _strings(then) + _strings(otherwise)
    return []


def lower_exit_with(lw: _Lowerer, s: A.ExitWith, nid: str, scope: Scope) -> str:
    """The :class:`ir.Exit` of ``s``, each possible value checked against the outcomes."""
    bare = bare_outcomes(s.value, lw.outcomes, scope)
    for name in bare:
        lw.diags.error(
            "JD105",
            f"'{name.name}' is an outcome, but `exit with` takes an expression: write the outcome "
            f'as a string, "{name.name}"',
            name.span,
            f"`exit {name.name}` ends with it too"
            if name is s.value
            else f'e.g. `exit with if … then "{name.name}" else "…"`',
        )
    if bare:  # (not checked further: it reads as intended once quoted)
        named = tuple(dict.fromkeys([*(n.name for n in bare), *_strings(s.value)]))
        return lw.add(ir.Exit(nid, s.span, named[0], None, named))
    typed = check_type(s.value, scope, STRING, "an exit's outcome")
    literals = outcome_values(s.value)
    choices: list[str] = []
    if literals is None:
        if not typed.type.is_error:
            lw.diags.error(
                "JD105",
                f"cannot tell which outcomes `{lw.cexpr(s.value, typed).source}` can give: "
                "`exit with` takes outcomes written as strings, or `if … then … else` over them, "
                "so that each one is checked against the declared outcomes",
                s.value.span,
                'write the outcomes as strings, e.g. `exit with if tier2 then "tier2" else '
                'if tier1 then "tier1" else "none"`',
            )
    else:
        for lit in literals:
            lw.check_outcome(A.Ident(lit.value, lit.span))
            if lit.value not in choices:
                choices.append(lit.value)
    cexpr = lw.cexpr(s.value, typed)
    return lw.add(ir.Exit(nid, s.span, cexpr.source, cexpr, tuple(choices)), typed)
