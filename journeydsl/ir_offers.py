"""The graph node of ``choose``, a pick from an offer catalogue (kept apart from
:mod:`journeydsl.ir` for its size; it is an :class:`~journeydsl.ir.Node` like the others)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from journeydsl.expr.types import Type
from journeydsl.ir import CExpr, Node
from journeydsl.money import Money

__all__ = ["Candidate", "ChooseOffer", "plain_value"]


def plain_value(value: Any) -> Any:
    """A payload value as JSON shows it (money as ``{"amount", "currency"}``, decimals as text)."""
    if isinstance(value, Money):
        return value.to_json()
    if isinstance(value, Decimal):
        return format(value, "f")
    return value


@dataclass(frozen=True, slots=True)
class Candidate:
    """One offer as a ``choose`` step weighs it: its compiled rule and rank (None: everyone;
    rank 0), its per-customer cap, its validity window and its payload."""

    id: str
    label: str
    eligible: CExpr | None
    rank: CExpr | None
    cap: int | None
    valid_from: datetime | None
    valid_until: datetime | None
    payload: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The offer as the graph JSON shows it."""
        return {
            "id": self.id,
            "label": self.label,
            "eligible": self.eligible.source if self.eligible is not None else None,
            "rank": self.rank.source if self.rank is not None else None,
            "cap": self.cap,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "payload": {k: plain_value(v) for k, v in self.payload.items()},
        }

    def offer(self) -> dict[str, Any]:
        """The chosen offer as the journey keeps it: its id, label and payload."""
        return {"id": self.id, "label": self.label, **self.payload}


@dataclass(frozen=True, slots=True)
class ChooseOffer(Node):
    """Pick the best eligible offer of ``catalogue`` (``candidates`` in declaration order) and
    keep it in ``var`` (of type ``offer``), then go on to ``next``. When none is eligible: the
    ``fallback`` if the catalogue has one, else ``on_none`` if the step has a ``none`` exit
    (``none_exit``), else ``next`` without a chosen offer (the compiler refuses a read of it
    there, JD208)."""

    var: str
    catalogue: str
    offer: Type
    candidates: tuple[Candidate, ...]
    fallback: Candidate | None
    next: str | None
    on_none: str | None
    none_exit: bool

    kind = "choose"

    def labelled_edges(self) -> list[tuple[str, str | None]]:
        """The ``none`` exit, when the step has one."""
        return [("none", self.on_none)] if self.none_exit else []

    def failure_targets(self) -> frozenset[str | None]:
        """Where the step may go on without a chosen offer."""
        return frozenset(t for _, t in self.labelled_edges())

    def graph_edges(self) -> list[tuple[str, str | None]]:
        """The edges graphs draw: ``chosen``, then ``none``."""
        return [("chosen", self.next), *self.labelled_edges()]

    def describe(self) -> str:
        """What the step does, in a few words."""
        return f"choose {self.var} from {self.catalogue}"

    def to_json(self) -> dict[str, Any]:
        """The node without its span."""
        return {
            "id": self.id,
            "kind": self.kind,
            "var": self.var,
            "catalogue": self.catalogue,
            "offer": str(self.offer),
            "candidates": [c.to_json() for c in self.candidates],
            "fallback": self.fallback.to_json() if self.fallback is not None else None,
            "next": self.next,
            "on_none": self.on_none,
            "none_exit": self.none_exit,
        }
