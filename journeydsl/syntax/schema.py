"""A JSON Schema (draft 2020-12) of the YAML form, generated from :mod:`journeydsl.syntax.shapes`.

Editors use it for completion and inline errors in journey YAML files. It is derived from the
same tables the loader reads with, so it cannot drift from what the loader accepts; the loader
still checks more than the schema can say (expressions, names, cross-references).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any

from journeydsl.ast import CATEGORIES
from journeydsl.syntax._numbers import MAX_INT_DIGITS
from journeydsl.syntax.shapes import (
    ENTRY_SHAPES,
    FIRST_BRANCH_SHAPES,
    ITEM_SHAPES,
    JOURNEY,
    STEP_SHAPES,
    Key,
    Shape,
    ValueKind,
)

__all__ = ["SCHEMA_ID", "json_schema"]

#: The schema's ``$id``.
SCHEMA_ID = "https://journeydsl.dev/schema/journey.schema.json"

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/$defs/{name}"}


def _def_name(shape: Shape) -> str:
    return shape.name.replace(" ", "_")


def _list(items: Schema, min_items: int = 0) -> Schema:
    out: Schema = {"type": "array", "items": items}
    if min_items:
        out["minItems"] = min_items
    return out


def _value(key: Key) -> Schema:
    """The schema of one key's value, by its value kind."""
    k = key.kind
    if k in (
        ValueKind.CASES,
        ValueKind.ARMS,
        ValueKind.QUIET_HOURS,
        ValueKind.GOALS,
        ValueKind.SEND_WINDOWS,
        ValueKind.PARALLEL_BRANCHES,
        ValueKind.HANDLERS,  # during (interrupting handlers)
    ):
        return _list(_ref(_def_name(ITEM_SHAPES[k])), key.min_items)
    if k is ValueKind.HOLDOUT:
        return {"anyOf": [_ref("weight"), _ref(_def_name(ITEM_SHAPES[k]))]}
    if k is ValueKind.USES:
        return _ref(_def_name(ITEM_SHAPES[k]))
    simple: dict[ValueKind, Schema] = {
        ValueKind.NAME: _ref("name"),
        ValueKind.EXPR: _ref("expr"),
        ValueKind.EXPRS: {"anyOf": [_ref("expr"), _list(_ref("expr"), 1)]},
        ValueKind.INT: {"type": "integer", "minimum": 0, "maximum": 10**MAX_INT_DIGITS - 1},
        ValueKind.STRING: {"type": "string"},
        ValueKind.TIME: _ref("time"),
        ValueKind.CATEGORY: {"enum": list(CATEGORIES)},
        ValueKind.TRUE: {"const": True},
        ValueKind.STEPS: _ref("steps"),
        ValueKind.PARAMS: _ref("params"),
        ValueKind.NAMES: {"anyOf": [_ref("name"), _list(_ref("name"))]},
        ValueKind.FALLBACK: {"anyOf": [{"const": "none"}, _ref("name"), _list(_ref("name"))]},
        ValueKind.CHAINS: {
            "anyOf": [_list(_ref("name"), 2), _list(_list(_ref("name"), 2))],
        },
        ValueKind.WEIGHT: _ref("weight"),
        ValueKind.SCHEDULE: {"type": "string"},
        ValueKind.REENTRY: {"type": "string", "pattern": r"^(once|always|after\s+\S[\s\S]*)$"},
        ValueKind.DRAW: {"enum": ["per_customer", "per_entry"]},
        ValueKind.JOIN: {"enum": ["all", "first"]},
        ValueKind.BRANCHES: _list(
            {"oneOf": [_ref(f"branch_{kind}") for kind in FIRST_BRANCH_SHAPES]}, key.min_items
        ),
        ValueKind.ENTRY: {
            "anyOf": [
                {"const": "manual"},
                {"oneOf": [_ref(f"entry_{kind}") for kind in ENTRY_SHAPES]},
            ]
        },
    }
    return dict(simple[k])


def _object(shape: Shape) -> Schema:
    """A closed object schema for one shape: its keys, their descriptions, what is required."""
    out: Schema = {
        "type": "object",
        "description": shape.doc,
        "properties": {k.name: {**_value(k), "description": k.doc} for k in shape.all_keys},
        "additionalProperties": False,
    }
    required = [k.name for k in shape.all_keys if k.required]
    if required:
        out["required"] = required
    exclusions: list[Schema] = [
        {"not": {"required": list(pair)}}
        for group in shape.exclusive
        for pair in combinations(group, 2)
    ]
    if shape.one_of:
        exclusions.append({"anyOf": [{"required": [k]} for k in shape.one_of]})
    if exclusions:
        out["allOf"] = exclusions
    return out


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a journey YAML document."""
    defs: dict[str, Schema] = {
        "name": {
            "type": "string",
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            "description": "A name: letters, digits and _, not starting with a digit.",
        },
        "expr": {
            "type": ["string", "number", "boolean"],
            "description": "An expression, e.g. `has(card_activated since entry)` or `3d`.",
        },
        "time": {
            "type": "string",
            "pattern": "^[0-9]{1,2}:[0-9]{2}$",
            "description": 'A local time of day, "HH:MM" (quote it).',
        },
        "weight": {
            "anyOf": [
                {"type": "integer", "minimum": 0, "maximum": 100},
                {"type": "string", "pattern": "^[0-9]+[ \t]*%?$"},
            ],
            "description": "A percentage, 45% or 45.",
        },
        "params": {
            "type": "object",
            "propertyNames": _ref("name"),
            "additionalProperties": _ref("expr"),
            "description": "Parameters: name -> expression.",
        },
        "steps": {"type": "array", "items": _ref("step"), "description": "A list of steps."},
        "step": {
            "oneOf": [
                *(_ref(f"step_{kind}") for kind in STEP_SHAPES),
                {
                    "enum": ["break", "continue"],
                    "description": "Leave the innermost repeat, or start its next round.",
                },
            ],
            "description": "One step; its kind is its first key (break and continue are words).",
        },
    }
    for kind, shape in STEP_SHAPES.items():
        defs[f"step_{kind}"] = _object(shape)
    for kind, shape in ENTRY_SHAPES.items():
        defs[f"entry_{kind}"] = _object(shape)
    for kind, shape in FIRST_BRANCH_SHAPES.items():
        defs[f"branch_{kind}"] = _object(shape)
    for shape in ITEM_SHAPES.values():
        defs[_def_name(shape)] = _object(shape)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "journeydsl journey (YAML form)",
        **_object(JOURNEY),
        "$defs": defs,
    }
