"""The AST of reuse across journeys: a hand-off, ``enter JOURNEY with { … }``, and fragments,
``include FRAGMENT(name: value, …)`` of a ``fragment NAME(name: type, …) { … }`` (the steps
are re-exported by :mod:`journeydsl.ast`, whose nodes they use)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from journeydsl.diagnostics import Span

if TYPE_CHECKING:
    from journeydsl.ast import Ident, Param, Steps

__all__ = ["Enter", "Fragment", "Include"]

_NO_SPAN = Span("<generated>", 1, 1, 1, 1)


@dataclass(frozen=True, slots=True)
class Enter:
    """Enter the customer into the journey ``journey`` (``enter activation_call with { … }``),
    passing ``args`` to what its ``entry manual with { … }`` expects. ``not_entered`` runs when
    the target's entry rules refuse the customer (None: not given; the journey goes on)."""

    journey: Ident
    args: tuple[Param, ...] = ()
    not_entered: Steps | None = None
    id: Ident | None = None
    span: Span = field(default=_NO_SPAN, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Include:
    """Include the steps of the fragment ``fragment`` here, its params given ``args``
    (``include remind_activation(days: 3d)``). The compiler fills ``expanded`` (the fragment's
    steps, the params replaced by the values, each step with an id of this include site) and
    ``declared`` (the fragment's params); the printers write the include as it was."""

    fragment: Ident
    args: tuple[Param, ...] = ()
    id: Ident | None = None
    span: Span = field(default=_NO_SPAN, compare=False, repr=False)
    expanded: Steps = field(default=(), compare=False, repr=False)
    declared: tuple[Param, ...] = field(default=(), compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class Fragment:
    """A reusable block of steps: ``fragment NAME(name: type, …) { steps }`` in a file of its
    own (``NAME.fragment``, or ``NAME.fragment.yaml``). Each param's value is its type, written as
    an entry input's is (``duration``, ``money(VND)``)."""

    name: Ident
    params: tuple[Param, ...]
    steps: Steps
    span: Span = field(default=_NO_SPAN, compare=False, repr=False)
