"""The AST of a hand-off, ``enter JOURNEY with { … }`` (re-exported by :mod:`journeydsl.ast`,
whose nodes it uses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from journeydsl.diagnostics import Span

if TYPE_CHECKING:
    from journeydsl.ast import Ident, Param, Steps

__all__ = ["Enter"]


@dataclass(frozen=True, slots=True)
class Enter:
    """Enter the customer into the journey ``journey`` (``enter activation_call with { … }``),
    passing ``args`` to what its ``entry manual with { … }`` expects. ``not_entered`` runs when
    the target's entry rules refuse the customer (None: not given; the journey goes on)."""

    journey: Ident
    args: tuple[Param, ...] = ()
    not_entered: Steps | None = None
    id: Ident | None = None
    span: Span = field(default=Span("<generated>", 1, 1, 1, 1), compare=False, repr=False)
