"""Lowering of ``choose VAR from CATALOGUE``: a pick from an offer catalogue declared in the
events catalog (``offers:``, see journeydsl/catalog_offers.py).

Each offer's eligibility rule and rank are expressions written in the catalog; they are checked
here, in the scope of the step that chooses (profile, history, the journey's variables, a
decision's answer set before it), as an ``if`` condition (JD304) and as a number (JD301). The
chosen offer is a journey variable, a record of ``id``, ``label`` and the catalogue's payload
fields (JD202 for another field), set on the step's ``chosen`` edge only (JD208 after a ``none``
block that goes on without it)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl.catalog import Catalog
from journeydsl.diagnostics import did_you_mean, uses_hint
from journeydsl.expr.catalog import OfferCatalogue, OfferSpec
from journeydsl.expr.checker import Scope, Typed, check, check_bool
from journeydsl.expr.types import ERROR, Type, article
from journeydsl.ir_offers import Candidate, ChooseOffer

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["chosen_type", "lower_choose"]


def chosen_type(catalog: Catalog, s: A.ChooseOffer) -> Type:
    """The type of the offer ``s`` keeps (the poison type when the catalogue is unknown)."""
    found = catalog.offers.get(s.catalogue.name)
    return found.chosen_type() if found is not None else ERROR


def _catalogue(lw: _Lowerer, s: A.ChooseOffer) -> OfferCatalogue | None:
    """The catalogue ``s`` names (JD215 when the events catalog lacks it)."""
    name = s.catalogue.name
    found = lw.catalog.offers.get(name)
    if found is None:
        lw.diags.error(
            "JD215",
            f"undefined offer catalogue '{name}'",
            s.catalogue.span,
            (
                did_you_mean(name, lw.catalog.offers)
                or "declare it under 'offers:' in the events catalog"
            )
            if lw.catalog.has_events
            else uses_hint("events", s.catalogue.span.file),
        )
    return found


def _candidate(lw: _Lowerer, offer: OfferSpec, scope: Scope, typed: list[Typed]) -> Candidate:
    """``offer`` with its rule (a bool, JD304) and rank (a number, JD301) compiled."""
    eligible = rank = None
    if offer.eligible is not None:
        t = check_bool(offer.eligible, scope)
        typed.append(t)
        eligible = lw.cexpr(offer.eligible, t)
    if offer.rank is not None:
        t = check(offer.rank, scope)
        if not t.type.is_error and not t.type.is_number:
            lw.diags.error(
                "JD301",
                f"the rank of offer '{offer.id}' must be a number, this is {article(t.type)}",
                offer.rank.span,
                "rank offers by a number: the highest eligible rank is chosen",
            )
        typed.append(t)
        rank = lw.cexpr(offer.rank, t)
    return Candidate(
        offer.id,
        offer.label,
        eligible,
        rank,
        offer.cap,
        offer.valid_from,
        offer.valid_until,
        offer.payload,
    )


def lower_choose(lw: _Lowerer, s: A.ChooseOffer, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ChooseOffer` node of ``s``."""
    found = _catalogue(lw, s)
    offer = found.chosen_type() if found is not None else ERROR
    var = s.var.name
    declared = lw.var_types.get(var, offer)
    if not offer.is_error and not declared.is_error and declared != offer:
        lw.diags.error(
            "JD301",
            f"variable '{var}' is {article(declared)}, but a choice from '{s.catalogue.name}' is "
            f"{article(offer)}",
            s.var.span,
            "keep the chosen offer in a variable of its own",
        )
    typed: list[Typed] = []
    candidates = tuple(
        _candidate(lw, o, scope, typed) for o in (found.offers if found is not None else ())
    )
    if found is not None and found.fallback is None and s.none is None:
        lw.diags.error(
            "JD104",
            f"offer catalogue '{s.catalogue.name}' has no fallback: say what happens when no "
            "offer is eligible",
            s.span,
            "add `none { … }` to the step (YAML `none: [...]`), or a `fallback:` to the catalogue",
        )
    fallback = None
    if found is not None and found.fallback is not None:
        fallback = _candidate(lw, found.fallback, scope, typed)
    on_none = lw.lower_steps(s.none, nxt, scope) if s.none is not None else None
    lw.out.sets[nid] = var
    node = ChooseOffer(
        nid,
        s.span,
        var,
        s.catalogue.name,
        offer,
        candidates,
        fallback,
        nxt,
        on_none,
        s.none is not None,
    )
    return lw.add(node, *typed)
