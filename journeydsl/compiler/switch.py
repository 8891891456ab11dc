"""Lowering of ``switch``: the subject and every case value checked, each value of the
subject's family (numbers with numbers, text with text)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.expr.checker import Scope, check, check_enum_literal
from journeydsl.expr.hints import mismatch_hint
from journeydsl.expr.types import Type, article
from journeydsl.syntax._print_expr import print_expr

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["lower_switch"]

#: Case values whose written form is their value (so two that read alike are equal).
_LITERALS = (A.StringLit, A.NumberLit)


def lower_switch(lw: _Lowerer, s: A.Switch, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.Switch` of ``s``: every case value of the subject's family."""
    subj = check(s.subject, scope, absent="allowed")
    cases = []
    typed = [subj]
    seen: set[str] = set()
    for n, case in enumerate(s.cases, 1):
        literals = [print_expr(v) for v in case.values if isinstance(v, _LITERALS)]
        if case.values and len(literals) == len(case.values) and seen.issuperset(literals):
            lw.diags.error(
                "JD501",
                f"case {n} can never run: the cases before it take all its values",
                case.span,
                "remove it, or give it values of its own",
            )
        seen.update(literals)
        values = []
        for v in case.values:
            vt = check(v, scope)
            typed.append(vt)
            if not (subj.type.is_error or vt.type.is_error) and not _same_family(
                subj.type, vt.type
            ):
                lw.diags.error(
                    "JD305",
                    f"case value is {article(vt.type)} but the switch is on {article(subj.type)}",
                    v.span,
                    mismatch_hint(subj.type, vt.type),
                )
            check_enum_literal(subj.type, v, scope)
            values.append(lw.cexpr(v, vt))
        cases.append((tuple(values), lw.lower_steps(case.steps, nxt, scope)))
    other = lw.lower_steps(s.otherwise, nxt, scope)
    node = ir.Switch(nid, s.span, lw.cexpr(s.subject, subj), tuple(cases), other)
    return lw.add(node, *typed)


def _same_family(a: Type, b: Type) -> bool:
    if a.is_number and b.is_number:
        return True
    if a.is_stringy and b.is_stringy:
        return True
    return a == b
