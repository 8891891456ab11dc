"""Tests for journeydsl.syntax.schema: the JSON Schema generated from the shapes table."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from journeydsl.syntax.schema import json_schema
from journeydsl.syntax.shapes import ENTRY_SHAPES, STEP_SHAPES

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
NAMES = ["onboarding_new_cardholder", "dormant_reactivation"]

_TYPES: dict[str, Any] = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def _is_type(value: object, name: str) -> bool:
    if name == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if name == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def _same(a: object, b: object) -> bool:
    return type(a) is type(b) and a == b


def errors(schema: dict[str, Any], value: object, root: dict[str, Any], at: str = "$") -> list[str]:
    """A tiny JSON Schema validator: just the keywords json_schema() uses (no jsonschema dep)."""
    out: list[str] = []
    if "$ref" in schema:
        out += errors(root["$defs"][schema["$ref"].rsplit("/", 1)[1]], value, root, at)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        if not any(_is_type(value, t) for t in types):
            return [f"{at}: {value!r} is not {types}"]
    if "const" in schema and not _same(value, schema["const"]):
        out.append(f"{at}: {value!r} is not {schema['const']!r}")
    if "enum" in schema and not any(_same(value, e) for e in schema["enum"]):
        out.append(f"{at}: {value!r} not in {schema['enum']}")
    if "pattern" in schema and isinstance(value, str) and not re.search(schema["pattern"], value):
        out.append(f"{at}: {value!r} does not match {schema['pattern']}")
    if (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and not schema.get("minimum", value) <= value <= schema.get("maximum", value)
    ):
        out.append(f"{at}: {value} out of range")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            out.append(f"{at}: too few items")
        for i, item in enumerate(value):
            if "items" in schema:
                out += errors(schema["items"], item, root, f"{at}[{i}]")
    if isinstance(value, dict):
        props = schema.get("properties", {})
        out += [f"{at}: missing {k!r}" for k in schema.get("required", []) if k not in value]
        for k, v in value.items():
            if "propertyNames" in schema:
                out += errors(schema["propertyNames"], k, root, f"{at}.{k}")
            if k in props:
                out += errors(props[k], v, root, f"{at}.{k}")
            elif schema.get("additionalProperties") is False:
                out.append(f"{at}: unexpected key {k!r}")
            elif isinstance(schema.get("additionalProperties"), dict):
                out += errors(schema["additionalProperties"], v, root, f"{at}.{k}")
    for sub in schema.get("allOf", []):
        out += errors(sub, value, root, at)
    if "anyOf" in schema and all(errors(s, value, root, at) for s in schema["anyOf"]):
        out.append(f"{at}: matches none of anyOf")
    if "oneOf" in schema:
        matched = sum(not errors(s, value, root, at) for s in schema["oneOf"])
        if matched != 1:
            out.append(f"{at}: matches {matched} of oneOf")
    if "not" in schema and not errors(schema["not"], value, root, at):
        out.append(f"{at}: matches a forbidden schema")
    return out


def check(document: str) -> list[str]:
    schema = json_schema()
    return errors(schema, yaml.safe_load(document), schema)


HEAD = "journey: j\nentry: {event: card_issued}\nsteps:\n"


def test_schema_is_plain_json_of_draft_2020_12() -> None:
    """The schema is JSON-serialisable and declares draft 2020-12."""
    schema = json_schema()
    assert json.loads(json.dumps(schema)) == schema
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["required"] == ["journey", "entry", "steps"]


def test_every_step_kind_is_a_closed_object_from_the_table() -> None:
    """Each step kind has a $defs entry with additionalProperties false and the table's docs;
    the words `break` and `continue` are the one step that is not a mapping."""
    defs = json_schema()["$defs"]
    *refs, words = defs["step"]["oneOf"]
    assert [r["$ref"] for r in refs] == [f"#/$defs/step_{k}" for k in STEP_SHAPES]
    assert words["enum"] == ["break", "continue"]
    for kind, shape in STEP_SHAPES.items():
        d = defs[f"step_{kind}"]
        assert d["additionalProperties"] is False
        assert kind in d["required"]
        assert set(d["properties"]) == set(shape.key_names)
        for key in shape.all_keys:
            assert d["properties"][key.name]["description"] == key.doc
    for kind in ENTRY_SHAPES:
        assert defs[f"entry_{kind}"]["required"][0] == kind


@pytest.mark.parametrize("name", NAMES)
def test_examples_validate(name: str) -> None:
    """Both example YAML files validate against the schema."""
    assert check((EXAMPLES / f"{name}.yaml").read_text()) == []


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        pytest.param(HEAD + "  - send: w\n    chanel: email\n", "0 of oneOf", id="key"),
        pytest.param(HEAD + "  - sned: w\n", "matches 0 of oneOf", id="kind"),
        pytest.param(HEAD + "  - {send: w, channel: email, exit: x}\n", "0 of oneOf", id="2kinds"),
        pytest.param(HEAD + "  - send: w\n", "matches 0 of oneOf", id="missing"),
        pytest.param(HEAD + "  - {wait_for: x, within: 1d, until: now}\n", "0 of oneOf", id="w+u"),
        pytest.param("journey: j\nentry: {segment: x}\nsteps: []\n", "anyOf", id="entry"),
        pytest.param("journey: j\nsteps: []\n", "missing 'entry'", id="header"),
    ],
)
def test_schema_rejects_mistakes(document: str, expected: str) -> None:
    """Misspelt keys and kinds, two kinds, missing or exclusive keys fail validation."""
    problems = check(document)
    assert any(expected in p for p in problems), problems


def test_unknown_key_in_a_record_is_named() -> None:
    """Outside oneOf, a misspelt key is reported by name."""
    assert check("journey: j\nentry: manual\nsteps: []\ntitel: x\n") == [
        "$: unexpected key 'titel'"
    ]


def test_schema_accepts_other_forms() -> None:
    """Weights, holdouts, `fallback: none`, manual entry and chains of chains validate."""
    assert (
        check(
            "journey: j\nentry: manual\nfallback: [[push, sms], [zns, sms]]\nsteps:\n"
            "  - split: [{weight: 45%, steps: []}, {weight: 45, steps: []}]\n"
            "    holdout: {weight: 10%}\n"
            "  - {send: t, channel: push, fallback: none, category: marketing}\n"
        )
        == []
    )
