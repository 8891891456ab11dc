"""JSON Schemas for every file kind: `journeydsl schema --kind KIND` prints a valid draft 2020-12
schema; every YAML file in examples/ validates against the schema of its kind, as an editor
reads it (YAML 1.2: timestamps and 21:00 stay text); and a broken copy of each fails."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from journeydsl.cli import main
from journeydsl.cli.fmt import SCHEMA_KINDS
from journeydsl.cli.schemas import KINDS, json_schema

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


class _Yaml12Loader(yaml.SafeLoader):
    """YAML as editors read it (1.2 core schema): no timestamps, no base-60 numbers."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
for _first in "0123456789":
    _Yaml12Loader.yaml_implicit_resolvers[_first] = [
        (tag, rx)
        for tag, rx in _Yaml12Loader.yaml_implicit_resolvers.get(_first, [])
        if tag != "tag:yaml.org,2002:int"
    ]
    _Yaml12Loader.yaml_implicit_resolvers[_first].append(
        ("tag:yaml.org,2002:int", re.compile(r"^[-+]?[0-9_]+$"))
    )


def load(path: Path) -> Any:
    """The file's data as an editor's YAML 1.2 reader sees it."""
    return yaml.load(path.read_text(encoding="utf-8"), Loader=_Yaml12Loader)


def kind_of(path: Path, data: Any) -> str | None:
    """The file kind of an example file, from its name and its first keys."""
    if path.name.endswith(".test.yaml"):
        return "test"
    if path.parent.name == "behaviour":
        return "behaviour"
    keys = set(data) if isinstance(data, dict) else set()
    for key, kind in (
        ("journey", "journey"),
        ("migrate", "migration"),
        ("fragment", "fragment"),
        ("templates", "templates"),
        ("events", "events"),
    ):
        if key in keys:
            return kind
    if path.name == "policies.yaml" or path.name.endswith(".policies.yaml"):
        return "policies"
    return None


EXAMPLE_FILES = sorted(EXAMPLES.rglob("*.yaml"))


def validator(kind: str) -> jsonschema.Draft202012Validator:
    schema = json_schema(kind)
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_the_cli_knows_every_kind() -> None:
    """`schema --kind` offers exactly the kinds there are schemas for."""
    assert set(SCHEMA_KINDS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_schema_command_prints_a_valid_schema(
    kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl schema --kind KIND` prints a draft 2020-12 schema with its own $id."""
    assert main(["schema", "--kind", kind]) == 0
    schema = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{kind}.schema.json")


def test_every_example_has_a_kind() -> None:
    """Each YAML file in examples/ is of a known kind, and every kind but none has one."""
    kinds = {kind_of(p, load(p)) for p in EXAMPLE_FILES}
    assert None not in kinds
    assert kinds == set(KINDS)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_example_validates_against_its_schema(path: Path) -> None:
    """The example file has no schema error."""
    data = load(path)
    kind = kind_of(path, data)
    assert kind is not None
    errors = [f"{list(e.path)}: {e.message[:200]}" for e in validator(kind).iter_errors(data)]
    assert not errors, errors


def _break(data: Any) -> Any:
    """A copy of the document with a key no file kind knows at the top."""
    broken = copy.deepcopy(data)
    broken["no_such_key"] = 1
    return broken


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=lambda p: str(p.relative_to(EXAMPLES)))
def test_a_broken_example_fails_its_schema(path: Path) -> None:
    """An unknown top-level key, or a list where the file is a mapping, is a schema error."""
    data = load(path)
    kind = kind_of(path, data)
    assert kind is not None
    check = validator(kind)
    assert not check.is_valid(_break(data))
    assert not check.is_valid([data])


@pytest.mark.parametrize(
    ("kind", "text", "where"),
    [
        ("journey", "journey: j\nversion: one\nentry: manual\nsteps: []\n", ["version"]),
        ("events", "events:\n  e:\n    amount: {type: money}\n", ["events", "e", "amount"]),
        ("templates", "templates:\n  t: {category: promo, channels: [sms]}\n", ["templates", "t"]),
        ("policies", "quiet_hours:\n  - {from: '21:00', to: '08:00', channels: fax}\n", None),
        ("migration", "migrate: j\nfrom_version: 1\nto_version: 2\n", []),
        (
            "test",
            "journey: j.journey\ncases:\n  - name: c\n    expect:\n"
            "      actions: [{kind: sendd, channel: sms}]\n",
            ["cases", 0, "expect", "actions"],
        ),
    ],
)
def test_a_mistake_is_a_schema_error_where_it_is(
    kind: str, text: str, where: list[str | int] | None
) -> None:
    """A typical mistake in each hand-written or generated schema is caught, at its path."""
    data = yaml.load(text, Loader=_Yaml12Loader)
    errors = list(validator(kind).iter_errors(data))
    assert errors
    if where is not None:
        assert any(list(e.absolute_path)[: len(where)] == where for e in errors), [
            (list(e.absolute_path), e.message) for e in errors
        ]


def test_shorthands_the_loaders_take_are_valid() -> None:
    """A single channel where a list is expected, and a duration as text, pass the policies
    schema, as the loader takes them."""
    data = yaml.load(
        "quiet_hours:\n  - {from: '21:00', to: '08:00', channels: sms}\n",
        Loader=_Yaml12Loader,
    )
    assert validator("policies").is_valid(data)
