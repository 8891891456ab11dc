"""Named arguments checked against what their owner declares: a send's params against its
template's (``send email welcome { name: … }``), a decision call's against its function's
(``decide x = credit.limit(customer: …)``). Each is given once (JD106), known (JD402), of the
declared type (JD403), and none that is declared is missing (JD401)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Literal

from journeydsl import ast as A
from journeydsl.diagnostics import Diagnostics, Span, did_you_mean
from journeydsl.expr.checker import Scope, Typed, check, check_type
from journeydsl.expr.types import Type

__all__ = ["check_named_args"]


def check_named_args(
    diags: Diagnostics,
    given: Sequence[A.Param],
    declared: Mapping[str, Type] | None,
    scope: Scope,
    *,
    owner: str,
    owner_span: Span,
    word: str,
    add_hint: Callable[[str], str],
    none_hint: str,
    absent: Literal["null", "error"] = "error",
) -> list[Typed]:
    """The type of each of ``given``, in order. ``declared`` is None when the owner is unknown
    (reported elsewhere): the values are still checked, against nothing. ``owner`` names it in
    messages (``template 'welcome'``), ``word`` names an argument (``param``), ``add_hint(name)``
    says how to add a missing one and ``none_hint`` what to say when it takes none."""
    typed: list[Typed] = []
    seen: set[str] = set()
    for p in given:
        name = p.name.name
        if name in seen:
            diags.error("JD106", f"{word} '{name}' is given twice", p.name.span)
        seen.add(name)
        if declared is None:
            t = check(p.value, scope, absent="null")
        elif name not in declared:
            diags.error(
                "JD402",
                f"{owner} has no param '{name}'",
                p.name.span,
                did_you_mean(name, declared)
                or (f"its params are: {', '.join(declared)}" if declared else none_hint),
            )
            t = check(p.value, scope, absent="null")
        else:
            t = check_type(p.value, scope, declared[name], f"param '{name}'", "JD403", absent)
        typed.append(t)
    for missing in (k for k in declared or {} if k not in seen):
        diags.error(
            "JD401",
            f"{owner} needs param '{missing}' ({(declared or {})[missing]})",
            owner_span,
            add_hint(missing),
        )
    return typed
