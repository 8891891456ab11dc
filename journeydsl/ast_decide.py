"""The source-level model of ``decide``, a call of a host decision function (kept apart from
:mod:`journeydsl.ast` for its size; re-exported there as ``ast.Decide``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from journeydsl.diagnostics import Span

if TYPE_CHECKING:
    from journeydsl.ast import Expr, Ident, Param, Steps

__all__ = ["Decide"]

_NO_SPAN = Span("<generated>", 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Decide:
    """Call the host's decision function ``function`` with ``args`` and keep its typed answer in
    the variable ``var`` (``decide offer = credit.preapproved_limit(customer: customer_id)``).

    ``timeout`` (a duration) bounds each attempt, ``retry`` more attempts follow a failed one,
    ``every`` apart. ``on_error`` / ``on_timeout`` run when the last attempt failed (None: not
    given; an empty block goes on after the step without the answer)."""

    var: Ident
    function: Ident
    args: tuple[Param, ...] = ()
    timeout: Expr | None = None
    retry: int | None = None
    every: Expr | None = None
    on_error: Steps | None = None
    on_timeout: Steps | None = None
    id: Ident | None = None
    span: Span = field(default=_NO_SPAN, compare=False, repr=False)
