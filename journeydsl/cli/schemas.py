"""JSON Schemas (draft 2020-12) of every file kind journeydsl reads, for editors and CI.

``journeydsl schema --kind KIND`` prints one. The journey's is generated from the YAML loader's
shape tables (:mod:`journeydsl.syntax.schema`); those of contact policies, behaviour models and
scenario tests from the pydantic models that validate them; the catalogs' and the migration
mapping's (read node by node, without a model) are written here, key for key as their loaders
read them. The loaders check more than a schema can say (names, expressions, references); a
schema catches the shape of a file as it is typed.

A pydantic model that takes a shorthand through a *before* validator (``channels: sms`` for
``[sms]``, ``"7d"`` for a duration, a bare value for ``{value: …}``) is widened here to accept it:
pydantic cannot see what such a validator takes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

__all__ = ["KINDS", "MODELINE_URL", "json_schema"]

Schema = dict[str, Any]
#: Where each schema is published; a modeline names it, or a local file ``schema --kind`` wrote.
MODELINE_URL: Final = "https://journeydsl.dev/schema/{kind}.schema.json"

_SCALARS: Final[Schema] = {"type": ["string", "number", "boolean"]}


class _WithShorthands(GenerateJsonSchema):
    """pydantic's schema generator, widened where a before-validator takes a shorthand."""

    def function_before_schema(self, schema: core_schema.BeforeValidatorFunctionSchema) -> Any:
        """A value a before-validator parses: its target, or the text form it parses (and a
        single item where it makes a list)."""
        inner: Schema = dict(self.generate_inner(schema["schema"]))
        if inner.get("type") == "object":  # a model's fields: model_schema widens the model
            return inner
        if inner.get("type") == "array" and isinstance(inner.get("items"), dict):
            return {"anyOf": [inner, inner["items"]]}
        return {"anyOf": [inner, {"type": "string"}]}

    def model_schema(self, schema: core_schema.ModelSchema) -> JsonSchemaValue:
        """A model; one with a before model-validator also takes a scalar (its shorthand)."""
        out: JsonSchemaValue = super().model_schema(schema)
        cls = schema["cls"]
        decorators = getattr(cls, "__pydantic_decorators__", None)
        validators = decorators.model_validators.values() if decorators is not None else ()
        if any(v.info.mode == "before" for v in validators):
            return {"anyOf": [out, _SCALARS]}
        return out


def _from_model(model: type[BaseModel], title: str, kind: str) -> Schema:
    body = model.model_json_schema(mode="validation", schema_generator=_WithShorthands)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": MODELINE_URL.format(kind=kind),
        **body,
        "title": title,
    }


def _header(kind: str, title: str, description: str) -> Schema:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": MODELINE_URL.format(kind=kind),
        "title": title,
        "description": description,
    }


_NAME: Final[Schema] = {"type": "string", "pattern": "^[A-Za-z_][A-Za-z0-9_]*$"}
_CHANNEL: Final[Schema] = {"enum": ["email", "sms", "zns", "push", "inapp"]}
_SIMPLE_TYPES: Final = ["bool", "int", "decimal", "string", "duration", "timestamp", "date", "time"]


def _field_type() -> Schema:
    """A field's type: a simple type's name, or a mapping for money, enums and the rest."""
    return {
        "anyOf": [
            {"enum": _SIMPLE_TYPES},
            {
                "type": "object",
                "properties": {
                    "type": {"enum": [*_SIMPLE_TYPES, "money", "enum"]},
                    "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
                    "values": {"type": "array", "items": _SCALARS, "minItems": 1},
                    "optional": {"type": "boolean"},
                    "default": _SCALARS,
                },
                "required": ["type"],
                "additionalProperties": False,
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": "money"}}},
                        "then": {"required": ["currency"]},
                    },
                    {
                        "if": {"properties": {"type": {"const": "enum"}}},
                        "then": {"required": ["values"]},
                    },
                ],
            },
        ],
        "description": "string, int, decimal, bool, timestamp, date, time, duration, or "
        "{type: money, currency: VND} / {type: enum, values: [...]}",
    }


def _fields(what: str) -> Schema:
    return {
        "type": ["object", "null"],
        "propertyNames": _NAME,
        "additionalProperties": {"$ref": "#/$defs/field_type"},
        "description": what,
    }


def _decisions() -> Schema:
    """``decisions:``: the decision functions ``decide`` steps call, by dotted name."""
    record = {
        "type": "object",
        "properties": {"type": {"const": "record"}, "fields": _fields("the answer's fields")},
        "required": ["type", "fields"],
        "additionalProperties": False,
    }
    return {
        "type": ["object", "null"],
        "propertyNames": {"pattern": r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"},
        "additionalProperties": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "params": _fields("the function's params: name -> type"),
                "answer": {"anyOf": [{"$ref": "#/$defs/field_type"}, record]},
            },
            "required": ["answer"],
            "additionalProperties": False,
        },
        "description": "decision functions the host registers: name -> {params, answer}",
    }


def _offers() -> Schema:
    """``offers:``: the offer catalogues ``choose`` steps pick from, by name."""
    scalar = {"type": ["string", "number", "boolean"]}
    offer = {
        "type": "object",
        "properties": {
            "label": {"type": "string"},
            "eligible": {"type": ["string", "boolean"], "description": "a bool expression"},
            "rank": {"type": ["string", "number"], "description": "a number expression"},
            "cap": {"type": "integer", "minimum": 1, "description": "times one customer"},
            "valid": {
                "type": "object",
                "properties": {"from": {"type": "string"}, "until": {"type": "string"}},
                "additionalProperties": False,
                "description": "aware date-times: from <= now < until",
            },
            "payload": {"type": ["object", "null"], "additionalProperties": scalar},
        },
        "additionalProperties": False,
    }
    return {
        "type": ["object", "null"],
        "propertyNames": _NAME,
        "additionalProperties": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "payload": _fields("the payload fields every offer gives: name -> type"),
                "fallback": {"type": "string", "description": "the offer given when none is"},
                "offers": {
                    "type": "object",
                    "propertyNames": _NAME,
                    "additionalProperties": offer,
                },
            },
            "required": ["offers"],
            "additionalProperties": False,
        },
        "description": "offer catalogues: name -> {payload, fallback, offers}",
    }


def _budgets() -> Schema:
    """``budgets:``: the reward budgets ``reward … from BUDGET`` steps draw from."""
    day = {"type": "string", "format": "date"}
    return {
        "type": ["object", "null"],
        "propertyNames": _NAME,
        "additionalProperties": {
            "type": "object",
            "properties": {
                "label": {"type": "string"},
                "total": {"type": "string", "pattern": r"^\d[\d_]*(\.\d[\d_]*)? [A-Z]{3}$"},
                "quota": {"type": "integer", "minimum": 1},
                "from": day,
                "until": day,
            },
            "oneOf": [{"required": ["total"]}, {"required": ["quota"]}],
            "additionalProperties": False,
        },
        "description": "reward budgets: name -> {total: AMOUNT CUR | quota: N, from, until}",
    }


def events_schema() -> Schema:
    """The events catalog (``uses events``): event types with their fields, and profile
    attributes."""
    return {
        **_header(
            "events",
            "journeydsl events catalog",
            "The events a journey may read (name: fields) and the profile attributes.",
        ),
        "type": "object",
        "properties": {
            "events": {
                "type": ["object", "null"],
                "propertyNames": _NAME,
                "additionalProperties": _fields("the event's fields: name -> type"),
            },
            "attributes": _fields("profile attributes: name -> type"),
            "decisions": _decisions(),
            "offers": _offers(),  # choose: the offer catalogues
            "budgets": _budgets(),  # reward budgets
        },
        "required": ["events"],
        "additionalProperties": False,
        "$defs": {"field_type": _field_type()},
    }


def _texts(what: str) -> Schema:
    return {
        "anyOf": [
            {"type": "string"},
            {
                "type": "object",
                "propertyNames": _CHANNEL,
                "additionalProperties": {"type": "string"},
            },
        ],
        "description": what,
    }


def templates_schema() -> Schema:
    """The templates catalog (``uses templates``)."""
    template: Schema = {
        "type": "object",
        "properties": {
            "category": {"enum": ["marketing", "transactional"]},
            "channels": {"type": "array", "items": _CHANNEL, "minItems": 1},
            "params": _fields("the params a send gives: name -> type"),
            "label": {"type": "string", "description": "a label the text must carry"},
            "text": _texts(
                "the text registered with the gateway (one for every channel, or channel: "
                "text); contact policies check its labels, such as [QC]"
            ),
            "body": _texts(
                "the message as the customer reads it, with {param} placeholders (one for "
                "every channel, or channel: body); `journeydsl preview` renders it"
            ),
        },
        "required": ["category", "channels"],
        "additionalProperties": False,
    }
    return {
        **_header("templates", "journeydsl templates catalog", "Message templates by name."),
        "type": "object",
        "properties": {
            "templates": {
                "type": ["object", "null"],
                "propertyNames": _NAME,
                "additionalProperties": {"$ref": "#/$defs/template"},
            }
        },
        "required": ["templates"],
        "additionalProperties": False,
        "$defs": {"field_type": _field_type(), "template": template},
    }


def mapping_schema() -> Schema:
    """The migration mapping of ``check --migrate`` and ``run --migrate``."""
    return {
        **_header(
            "migration",
            "journeydsl migration mapping",
            "Where each waiting step of the running version waits on in the new one.",
        ),
        "type": "object",
        "properties": {
            "migrate": {**_NAME, "description": "the journey's name"},
            "from_version": {"type": "integer", "minimum": 1},
            "to_version": {"type": "integer", "minimum": 1},
            "steps": {
                "type": "object",
                "propertyNames": _NAME,
                "additionalProperties": _NAME,
                "description": "old step id -> new step id",
            },
        },
        "required": ["migrate", "from_version", "to_version", "steps"],
        "additionalProperties": False,
    }


def _journey() -> Schema:
    from journeydsl.syntax.schema import SCHEMA_ID, json_schema

    out = json_schema()
    assert out["$id"] == SCHEMA_ID
    return out


def _policies() -> Schema:
    from journeydsl.runtime.policies.model import Policies

    return _from_model(Policies, "journeydsl contact policies", "policies")


def _behaviour() -> Schema:
    """Either form of a behaviour model: the general one (with ``events:``) or the examples'."""
    from pydantic import TypeAdapter

    from journeydsl.simulate.behaviour import Behaviour
    from journeydsl.simulate.behaviour_general import GeneralBehaviour

    body = TypeAdapter(GeneralBehaviour | Behaviour).json_schema(
        mode="validation", schema_generator=_WithShorthands
    )
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": MODELINE_URL.format(kind="behaviour"),
        **body,
        "title": "journeydsl behaviour model",
    }


def _test() -> Schema:
    from journeydsl.simulate.scenarios import TestFile

    return _from_model(TestFile, "journeydsl scenario test file", "test")


def _fragment() -> Schema:
    """A fragment file in YAML: a name, params and steps, the steps as a journey's."""
    from journeydsl.syntax._fragment import FRAGMENT
    from journeydsl.syntax.schema import _object, json_schema

    journey = json_schema()
    return {
        "$schema": journey["$schema"],
        "$id": MODELINE_URL.format(kind="fragment"),
        "title": "journeydsl fragment (YAML form)",
        **_object(FRAGMENT),
        "$defs": journey["$defs"],
    }


#: Every file kind: its schema builder and the files it describes.
KINDS: Final[dict[str, tuple[Callable[[], Schema], str]]] = {
    "journey": (_journey, "a journey in YAML (*.yaml with `journey:`)"),
    "events": (events_schema, "an events catalog (events.yaml)"),
    "templates": (templates_schema, "a templates catalog (templates.yaml)"),
    "policies": (_policies, "contact policies (policies.yaml)"),
    "behaviour": (_behaviour, "a behaviour model for synthetic simulation"),
    "test": (_test, "scenario tests (*.test.yaml)"),
    "migration": (mapping_schema, "a migration mapping between two versions"),
    "fragment": (_fragment, "a fragment of steps in YAML (*.fragment.yaml)"),
}


def json_schema(kind: str) -> Schema:
    """The JSON Schema of the file kind ``kind`` (a key of :data:`KINDS`)."""
    return KINDS[kind][0]()
