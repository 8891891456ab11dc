"""What PyYAML's node graph does not say by itself, for the readers of YAML files with positions:
the keys a mapping gives twice. A ground-floor module (PyYAML only), so that the readers that
must start fast (the catalog's, for ``journeydsl check``) need not import the heavier ones."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import yaml

__all__ = ["MERGE_TAG", "duplicate_keys", "nodes"]

#: The tag of a merge key (``<<: *base``).
MERGE_TAG: Final = "tag:yaml.org,2002:merge"


def nodes(root: yaml.Node) -> Iterator[yaml.Node]:
    """Every node under ``root`` (itself included), each once however often it is shared
    (anchors and aliases). A mapping's pairs are read after the caller has seen it, so that it
    may change them first (a merge applied) and the nodes it brought are visited too."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        yield node
        if isinstance(node, yaml.MappingNode):
            stack.extend(part for pair in node.value for part in pair)
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)


def duplicate_keys(root: yaml.Node) -> list[tuple[yaml.ScalarNode, yaml.ScalarNode]]:
    """Each key written twice in one mapping of the document under ``root``, with the first
    one, in document order. PyYAML keeps the last value without a word (``max: 6`` then
    ``max: 60`` is a cap of 60); a key a merge (``<<: *base``) brings is not written, so the
    mapping's own key overrides it, as YAML says."""
    found: list[tuple[yaml.ScalarNode, yaml.ScalarNode]] = []
    for node in nodes(root):
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], yaml.ScalarNode] = {}
            for k, _ in node.value:
                if isinstance(k, yaml.ScalarNode) and k.tag != MERGE_TAG:
                    given = first.setdefault((k.tag, k.value), k)
                    if given is not k:
                        found.append((k, given))
    return sorted(found, key=lambda pair: (pair[0].start_mark.line, pair[0].start_mark.column))
