"""The source-level model of ``choose``, a pick from an offer catalogue (kept apart from
:mod:`journeydsl.ast` for its size; re-exported there as ``ast.ChooseOffer``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from journeydsl.diagnostics import Span

if TYPE_CHECKING:
    from journeydsl.ast import Ident, Steps

__all__ = ["ChooseOffer"]

_NO_SPAN = Span("<generated>", 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class ChooseOffer:
    """Pick the best eligible offer of the catalogue ``catalogue`` and keep it in ``var``
    (``choose best from reactivation``).

    ``none`` runs when no offer is eligible and the catalogue has no fallback (None: not given;
    an empty block goes on after the step without a chosen offer)."""

    var: Ident
    catalogue: Ident
    none: Steps | None = None
    id: Ident | None = None
    span: Span = field(default=_NO_SPAN, compare=False, repr=False)
