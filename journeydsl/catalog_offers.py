"""The ``offers:`` section of an events catalog: offer catalogues, each a ranked list of offers
with eligibility rules, per-customer caps, validity windows, payload fields and a fallback.

    offers:
      reactivation:                       # the catalogue a `choose … from reactivation` names
        label: Dormant cardholder reactivation
        payload: {voucher_code: string}   # the fields every offer gives, with their types
        fallback: general_cashback        # given when no other offer is eligible (not ranked)
        offers:
          tiki_voucher:
            label: Tiki voucher
            eligible: top(transaction.merchant by sum(transaction.amount) in last 365d) == "Tiki"
            rank: 3                       # an expression; the highest eligible rank wins
            cap: 2                        # times one customer may get it (default: no cap)
            valid: {from: 2026-01-01T00:00:00+07:00, until: 2027-01-01T00:00:00+07:00}
            payload: {voucher_code: TIKI-REACT}

The expressions are parsed here (JD111 at their place in the catalog) and type-checked at each
``choose`` step that uses the catalogue, in that step's scope (see compiler/lower_offers.py).
Every other mistake is JD109 at its line.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml

from journeydsl import ast as A
from journeydsl.catalog import _IDENT, _fields, _mapping, _span
from journeydsl.diagnostics import Diagnostics, Span, did_you_mean
from journeydsl.expr.catalog import Catalog, OfferCatalogue, OfferSpec
from journeydsl.expr.types import Type
from journeydsl.money import Money, places_beyond
from journeydsl.syntax.parser import parse_expression

__all__ = ["load_offers"]

_CATALOGUE_KEYS = ("label", "payload", "fallback", "offers")
_OFFER_KEYS = ("label", "eligible", "rank", "cap", "valid", "payload")
#: The types a payload field may have.
_PAYLOAD_KINDS = ("string", "int", "decimal", "bool", "money")
_MONEY = re.compile(r"^(-?[0-9][0-9_]*(?:\.[0-9]+)?)\s+([A-Z]{3})$")


def load_offers(file: str, node: yaml.Node, catalog: Catalog, diags: Diagnostics) -> None:
    """Each catalogue of the ``offers:`` section into ``catalog.offers``."""
    for k, v in _mapping(node):
        name = str(k.value)
        if not _IDENT.match(name):
            diags.error(
                "JD109",
                f"'{name}' is not a valid offer catalogue name",
                _span(file, k),
                "a name of letters, digits and _, e.g. reactivation",
            )
            continue
        found = _catalogue(file, name, k, v, diags)
        if found is not None:
            catalog.offers[name] = found


def _keys(
    file: str, node: yaml.MappingNode, allowed: tuple[str, ...], what: str, diags: Diagnostics
) -> dict[str, yaml.Node]:
    """The mapping's values by key; JD109 for a key not ``allowed``."""
    for a, _ in node.value:
        if str(a.value) not in allowed:
            diags.error(
                "JD109",
                f"unknown key '{a.value}' in {what}",
                _span(file, a),
                did_you_mean(str(a.value), allowed) or f"the keys are {', '.join(allowed)}",
            )
    return {str(a.value): b for a, b in node.value}


def _catalogue(
    file: str, name: str, key: yaml.Node, node: yaml.Node, diags: Diagnostics
) -> OfferCatalogue | None:
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            "JD109", f"offer catalogue '{name}' is a mapping with 'offers:'", _span(file, node)
        )
        return None
    spec = _keys(file, node, _CATALOGUE_KEYS, f"offer catalogue '{name}'", diags)
    payload = _payload_types(file, name, spec.get("payload"), diags)
    offers_node = spec.get("offers")
    if not isinstance(offers_node, yaml.MappingNode) or not offers_node.value:
        diags.error(
            "JD109",
            f"offer catalogue '{name}' needs 'offers:', a mapping of offer id: "
            "{label, eligible, rank, …}",
            _span(file, offers_node or key),
        )
        return None
    offers = [
        o
        for k, v in offers_node.value
        if (o := _offer(file, name, k, v, payload, diags)) is not None
    ]
    fallback = None
    if "fallback" in spec:
        fallback = _fallback(file, name, spec["fallback"], offers, offers_node, diags)
        if fallback is None:
            return None
    label = spec.get("label")
    return OfferCatalogue(
        name,
        tuple(o for o in offers if fallback is None or o.id != fallback.id),
        payload,
        fallback,
        str(label.value) if isinstance(label, yaml.ScalarNode) else "",
    )


def _payload_types(
    file: str, name: str, node: yaml.Node | None, diags: Diagnostics
) -> dict[str, Type]:
    if node is None:
        return {}
    fields = _fields(file, node, diags, f"the payload of offer catalogue '{name}'")
    for field_name, t in list(fields.items()):
        if t.kind not in _PAYLOAD_KINDS or field_name in ("id", "label"):
            diags.error(
                "JD109",
                f"payload field '{field_name}' of offer catalogue '{name}' is {t}: a payload field "
                f"is one of {', '.join(_PAYLOAD_KINDS)}, named other than id and label",
                _span(file, node),
            )
            del fields[field_name]
    return fields


def _fallback(
    file: str,
    name: str,
    node: yaml.Node,
    offers: list[OfferSpec],
    offers_node: yaml.MappingNode,
    diags: Diagnostics,
) -> OfferSpec | None:
    """The fallback offer: one of the catalogue's offers, without rules (it is given whenever no
    other offer is eligible)."""
    wanted = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    ids = [str(k.value) for k, _ in offers_node.value]
    found = next((o for o in offers if o.id == wanted), None)
    if found is None:
        if wanted not in ids:
            diags.error(
                "JD109",
                f"the fallback '{wanted}' of offer catalogue '{name}' names no offer of it",
                _span(file, node),
                did_you_mean(wanted, ids) or f"its offers are {', '.join(ids)}",
            )
        return None
    rules = [
        k for k in ("eligible", "rank", "cap", "valid") if getattr(found, _FIELD[k]) is not None
    ]
    if rules:
        diags.error(
            "JD109",
            f"the fallback '{wanted}' of offer catalogue '{name}' has {', '.join(rules)}: a "
            "fallback is given whenever no other offer is eligible, so it takes no rules",
            _span(file, node),
            "drop them, or declare another offer without rules as the fallback",
        )
        return None
    return found


_FIELD = {"eligible": "eligible", "rank": "rank", "cap": "cap", "valid": "valid_from"}


def _offer(
    file: str,
    catalogue: str,
    key: yaml.Node,
    node: yaml.Node,
    payload: dict[str, Type],
    diags: Diagnostics,
) -> OfferSpec | None:
    oid = str(key.value)
    what = f"offer '{oid}' of '{catalogue}'"
    if not _IDENT.match(oid):
        diags.error(
            "JD109", f"'{oid}' is not a valid offer id", _span(file, key), "e.g. tiki_voucher"
        )
        return None
    if not isinstance(node, yaml.MappingNode):
        diags.error("JD109", f"{what} is a mapping with 'label:'", _span(file, node))
        return None
    spec = _keys(file, node, _OFFER_KEYS, what, diags)
    label = spec.get("label")
    valid = _window(file, what, spec.get("valid"), diags)
    cap = _cap(file, what, spec.get("cap"), diags)
    values = _payload_values(file, what, spec.get("payload"), payload, key, diags)
    if valid is None or cap is False or values is None:
        return None
    return OfferSpec(
        oid,
        str(label.value) if isinstance(label, yaml.ScalarNode) else oid,
        _expr(file, spec.get("eligible"), diags),
        _expr(file, spec.get("rank"), diags),
        cap if isinstance(cap, int) and not isinstance(cap, bool) else None,
        valid[0],
        valid[1],
        values,
        _span(file, key),
    )


def _expr(file: str, node: yaml.Node | None, diags: Diagnostics) -> A.Expr | None:
    """An expression written in the catalog, parsed where it stands (JD111 if it does not)."""
    if node is None:
        return None
    if not isinstance(node, yaml.ScalarNode):
        diags.error("JD109", "expected an expression, written as text", _span(file, node))
        return None
    s = node.start_mark
    quoted = 1 if node.style in ("'", '"') else 0
    expr, found = parse_expression(
        str(node.value),
        Span(file, s.line + 1, s.column + 1 + quoted, s.line + 1, s.column + 1 + quoted),
    )
    diags.extend(found)
    return expr


def _cap(file: str, what: str, node: yaml.Node | None, diags: Diagnostics) -> int | bool | None:
    """The per-customer cap (None: no cap; False: a mistake, reported)."""
    if node is None:
        return None
    text = str(node.value) if isinstance(node, yaml.ScalarNode) else ""
    if not re.fullmatch(r"[0-9]+", text) or int(text) < 1:  # (ASCII digits: `²` is no number)
        diags.error(
            "JD109",
            f"the cap of {what} is how many times one customer may get it: a whole number of "
            "at least 1",
            _span(file, node),
            "e.g. cap: 1",
        )
        return False
    return int(text)


def _window(
    file: str, what: str, node: yaml.Node | None, diags: Diagnostics
) -> tuple[datetime | None, datetime | None] | None:
    """The validity window ``{from, until}`` (either may be left out), aware; None: a mistake."""
    if node is None:
        return None, None
    if not isinstance(node, yaml.MappingNode):
        diags.error(
            "JD109", f"the validity of {what} is a mapping {{from: …, until: …}}", _span(file, node)
        )
        return None
    spec = _keys(file, node, ("from", "until"), f"the validity of {what}", diags)
    ends: list[datetime | None] = []
    for end in ("from", "until"):
        value = spec.get(end)
        if value is None:
            ends.append(None)
            continue
        text = str(value.value) if isinstance(value, yaml.ScalarNode) else ""
        try:
            at = datetime.fromisoformat(text)
        except ValueError:
            at = None
        if at is None or at.tzinfo is None:
            diags.error(
                "JD109",
                f"'{end}' of the validity of {what} is a date and time with its UTC offset",
                _span(file, value),
                "e.g. 2026-01-01T00:00:00+07:00",
            )
            return None
        ends.append(at)
    start, until = ends
    if start is not None and until is not None and start >= until:
        diags.error(
            "JD109",
            f"the validity of {what} ends before it starts "
            f"({start.isoformat()} to {until.isoformat()})",
            _span(file, node),
            "'from' is the first instant it may be given, 'until' the first it may not",
        )
        return None
    return start, until


def _payload_values(
    file: str,
    what: str,
    node: yaml.Node | None,
    types: dict[str, Type],
    key: yaml.Node,
    diags: Diagnostics,
) -> dict[str, Any] | None:
    """The offer's payload: a value of its declared type for every declared field."""
    given = {str(a.value): (a, b) for a, b in _mapping(node)}
    if node is not None and not isinstance(node, yaml.MappingNode):
        diags.error("JD109", f"the payload of {what} is a mapping field: value", _span(file, node))
        return None
    out: dict[str, Any] = {}
    ok = True
    for name, (a, _) in given.items():
        if name not in types:
            diags.error(
                "JD109",
                f"the payload of {what} has a field '{name}' the catalogue does not declare",
                _span(file, a),
                did_you_mean(name, types) or "declare it under the catalogue's payload:",
            )
            ok = False
    for name, t in types.items():
        if name not in given:
            diags.error(
                "JD109", f"{what} lacks the payload field '{name}' ({t})", _span(file, node or key)
            )
            ok = False
            continue
        value_node = given[name][1]
        value = _value(value_node, t)
        if value is None:
            diags.error(
                "JD109",
                f"payload field '{name}' of {what} is not {t}",
                _span(file, value_node),
            )
            ok = False
        elif isinstance(value, Money) and (beyond := places_beyond(value.amount, value.currency)):
            used, allowed = beyond
            diags.error(
                "JD109",
                f"payload field '{name}' of {what} is {value_node.value}: it has {used} decimal "
                f"place{'' if used == 1 else 's'} and {value.currency} has {allowed or 'none'}",
                _span(file, value_node),
                f"give it in whole {value.currency} units"
                if not allowed
                else f"give it with at most {allowed} decimal places",
            )
            ok = False
        out[name] = value
    return out if ok else None


def _value(node: yaml.Node, t: Type) -> Any:
    """A payload value of type ``t`` (None: not one)."""
    if not isinstance(node, yaml.ScalarNode):
        return None
    text = str(node.value)
    if t.kind == "string":
        return text
    if t.kind == "bool":
        return {"true": True, "false": False}.get(text)
    if t.kind == "int":
        return int(text.replace("_", "")) if re.fullmatch(r"-?[0-9][0-9_]*", text) else None
    if t.kind == "decimal":
        try:
            number = Decimal(text.replace("_", ""))
        except InvalidOperation:
            return None
        return number if number.is_finite() else None
    match = _MONEY.match(text)
    if match is None or match.group(2) != t.currency:
        return None
    return Money(Decimal(match.group(1).replace("_", "")), match.group(2))
