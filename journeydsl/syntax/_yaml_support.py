"""What the YAML reader shares: the patterns of scalar values, the marker of a value that could
not be read, how a node reads in a message, and the hints about step keys."""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection, Iterable, Mapping
from typing import Final

from yaml.nodes import MappingNode, Node, SequenceNode

from journeydsl.diagnostics import did_you_mean
from journeydsl.syntax.shapes import STEP_SHAPES, Shape

__all__ = [
    "JUMPS",
    "MINIMAL_JOURNEY",
    "TooLargeError",
    "scalar_step_hint",
    "unknown_key_hint",
    "unknown_kind_words",
]

_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_RE: Final = re.compile(r"[0-9]+")
_TIME_RE: Final = re.compile(r"[0-9]{1,2}:[0-9]{2}")
#: The form of a split weight; its decimals and its size are checked as the DSL's are.
_WEIGHT_RE: Final = re.compile(r"[0-9]+(?:\.[0-9]+)?[ \t]*%?")
_AFTER_RE: Final = re.compile(r"after[ \t\n]+(?=\S)")
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"

MINIMAL_JOURNEY: Final = "journey: my_journey\nentry: {event: card_issued}\nsteps:\n  - exit: done"


class TooLargeError(Exception):
    """Stops the walk once a document is too large or too deep (the loader catches it)."""


class _Bad:
    """The result of a value that could not be read (its diagnostic is already recorded)."""


_BAD: Final = _Bad()


def _describe(node: Node) -> str:
    """How a node reads in a message: "a mapping", "a list", "nothing" or its quoted text."""
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = str(node.value)
    if not value and not getattr(node, "style", None):  # plain: None, or "" from libyaml
        return "nothing"
    return repr(value if len(value) <= 40 else value[:37] + "...")


def _step_hint(kind_keys: Iterable[str]) -> str:
    return (
        "a step starts with one of: "
        + ", ".join(kind_keys)
        + "; in a repeat, `- break` or `- continue`"
    )


#: The jumps of a repeat, written in YAML as plain list items (`- break`), not as mappings.
JUMPS: Final = ("break", "continue")


def scalar_step_hint(value: str, kind_keys: Collection[str]) -> str:
    """The hint for a step written as plain text: the mapping it meant, or the jump it misspelt."""
    first, _, rest = value.strip().partition(" ")
    if first in kind_keys:
        return f"a step is a mapping: write `{first}: {rest.strip() or '...'}`"
    if jump := did_you_mean(value.strip(), JUMPS):
        return f"{jump} (`- break` and `- continue` are plain list items, in a repeat)"
    if kind := did_you_mean(first, kind_keys):
        return f"{kind} A step is a mapping: `KIND: VALUE`"
    return _step_hint(kind_keys)


def unknown_kind_words(key: str, kind_keys: Collection[str]) -> tuple[str, str]:
    """The message and hint for a step mapping whose kind ``key`` is unknown."""
    if key in JUMPS:
        return f"`{key}` is not a mapping", f"write it as a plain list item: `- {key}`"
    return f"unknown step kind '{key}'", did_you_mean(key, kind_keys) or _step_hint(kind_keys)


def _key_owners() -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for kind, shape in STEP_SHAPES.items():
        for key in shape.keys:
            owners.setdefault(key.name, []).append(kind)
    return owners


#: For each non-head key, the step kinds it belongs to (for "belongs to" hints).
_KEY_OWNERS: Final = _key_owners()


#: Words of the DSL that YAML spells as another key, by shape: a during handler's `on EVENT`
#: is `event: EVENT` (a key `on` reads as true in YAML 1.1 tools).
_DSL_WORDS: Final = {("during handler", "on"): "event"}


def unknown_key_hint(
    name: str, shape: Shape, siblings: Mapping[str, Shape] | None
) -> tuple[list[str], str]:
    """The keys an unknown key ``name`` of ``shape`` looks like a misspelling of, and the hint."""
    if (key := _DSL_WORDS.get((shape.name, name))) is not None:
        return [key], f"write `{key}: …`: the DSL's `{name} EVENT` is `{key}: EVENT` in YAML"
    close = difflib.get_close_matches(name, sorted(set(shape.key_names)), n=1, cutoff=0.6)
    hint = did_you_mean(name, shape.key_names)
    if hint is None and siblings:
        owners = [s.name for s in siblings.values() if s.key(name) is not None]
        if owners:
            hint = f"'{name}' belongs to: {', '.join(owners)}"
    return close, hint or f"{shape.name} keys are: {', '.join(shape.key_names)}"
