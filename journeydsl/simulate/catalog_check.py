"""Warnings about a behaviour file in the general form that only show against the journeys'
catalogs: an event, a field, an enum value or a profile attribute the catalog does not know,
a catalog field an event entry never draws, a reaction rule for a template no journey sends.
Each names its line and column; the run goes on (the events would be quarantined, or the rule
would never apply)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from journeydsl.diagnostics import did_you_mean
from journeydsl.expr.types import Type
from journeydsl.simulate.behaviour_general import FieldSpec, GeneralBehaviour, ReactionRule
from journeydsl.yamlfile import FileError, YamlDocument

__all__ = ["check_general"]

Loc = tuple[str | int, ...]

#: Events the reactions write themselves: their fields are the message's.
_MESSAGE_EVENTS = frozenset({"message_opened", "message_clicked", "message_delivered"})


def _hint(name: str, candidates: Mapping[str, object]) -> str:
    found = did_you_mean(name, candidates)
    return f" — {found}" if found else ""


def check_general(
    model: GeneralBehaviour,
    doc: YamlDocument,
    templates: Mapping[str, set[str]],
    event_types: Mapping[str, Mapping[str, Type]],
    attribute_types: Mapping[str, Type] | None,
) -> list[FileError]:
    """The warnings of the module docstring, in file order."""
    found: list[FileError] = []

    def fields(etype: str, data: Mapping[str, FieldSpec], loc: Loc) -> None:
        schema = event_types.get(etype)
        if schema is None:
            return
        for name, spec in data.items():
            t = schema.get(name)
            if t is None:
                listed = ", ".join(sorted(schema)) or "no fields"
                found.append(
                    doc.error(
                        (*loc, name),
                        f"event '{etype}' has no field '{name}' (it has {listed})"
                        + _hint(name, schema),
                        key=True,
                    )
                )
            else:
                found.extend(_values(doc, spec, t, (*loc, name), f"'{etype}.{name}'"))

    for etype, e in model.events.items():
        loc: Loc = ("events", etype)
        if etype not in event_types:
            found.append(
                doc.error(
                    loc,
                    f"the event catalog has no event '{etype}'" + _hint(etype, event_types),
                    key=True,
                )
            )
            continue
        fields(etype, e.data, (*loc, "data"))
        for i, v in enumerate(e.variants):
            fields(etype, v.data, (*loc, "variants", i, "data"))
        drawn = set(e.data).union(*(v.data for v in e.variants))
        missing = [f for f in event_types[etype] if f not in drawn]
        if missing and etype not in _MESSAGE_EVENTS:
            found.append(
                doc.error(
                    loc,
                    f"'{etype}' draws no {', '.join(repr(m) for m in missing)}: the events "
                    "will lack what the catalog declares",
                    key=True,
                )
            )
    rule_sets: list[tuple[Loc, list[ReactionRule]]] = [(("reactions",), model.reactions)]
    rule_sets += [(("segments", i, "reactions"), s.reactions) for i, s in enumerate(model.segments)]
    for where, rules in rule_sets:
        for i, rule in enumerate(rules):
            if rule.template is not None and rule.template not in templates:
                found.append(
                    doc.error(
                        (*where, i, "template"),
                        f"no journey sends template '{rule.template}'"
                        + _hint(rule.template, templates),
                    )
                )
            for j, conv in enumerate(rule.events):
                fields(conv.event, conv.data, (*where, i, "events", j, "data"))
    if attribute_types is not None:
        specs: list[tuple[Loc, Mapping[str, FieldSpec]]] = [
            (("profiles", "attributes"), model.profiles.attributes)
        ]
        specs += [
            (("segments", i, "attributes"), s.attributes) for i, s in enumerate(model.segments)
        ]
        for where, attrs in specs:
            for name, spec in attrs.items():
                t = attribute_types.get(name)
                if t is None:
                    found.append(
                        doc.error(
                            (*where, name),
                            f"the attribute catalog has no attribute '{name}'"
                            + _hint(name, attribute_types),
                            key=True,
                        )
                    )
                else:
                    found.extend(_values(doc, spec, t, (*where, name), f"attribute '{name}'"))
    return [replace(f, severity="warning") for f in found]


def _values(doc: YamlDocument, spec: FieldSpec, t: Type, loc: Loc, what: str) -> list[FileError]:
    """A drawn value the field's type refuses: an enum value outside the list, money for a
    field that is not money (or the reverse)."""
    out: list[FileError] = []
    if t.kind == "enum" and t.values:
        given = list(spec.choice or {}) + ([spec.value] if isinstance(spec.value, str) else [])
        for v in given:
            if v not in t.values:
                out.append(
                    doc.error(
                        loc,
                        f"{what} is one of {', '.join(t.values)}; '{v}' is not"
                        + _hint(v, dict.fromkeys(t.values)),
                    )
                )
    if spec.money is not None and t.kind != "money":
        out.append(doc.error(loc, f"{what} is {t.kind}, not money"))
    if spec.money is not None and t.kind == "money" and t.currency not in (None, spec.currency):
        out.append(doc.error(loc, f"{what} is in {t.currency}, not {spec.currency}"))
    return out
