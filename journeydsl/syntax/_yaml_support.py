"""What the YAML reader shares: the patterns of scalar values, the marker of a value that could
not be read, how a node reads in a message, and the hints about step keys."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Final

from yaml.nodes import MappingNode, Node, SequenceNode

from journeydsl.syntax.shapes import STEP_SHAPES

__all__ = [
    "MINIMAL_JOURNEY",
    "TooLargeError",
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
    return "a step starts with one of: " + ", ".join(kind_keys)


def _key_owners() -> dict[str, list[str]]:
    owners: dict[str, list[str]] = {}
    for kind, shape in STEP_SHAPES.items():
        for key in shape.keys:
            owners.setdefault(key.name, []).append(kind)
    return owners


#: For each non-head key, the step kinds it belongs to (for "belongs to" hints).
_KEY_OWNERS: Final = _key_owners()
