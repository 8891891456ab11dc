"""The YAML dumper of the printer: lists indented under their key, Unicode line breaks escaped."""

from __future__ import annotations

import yaml

__all__ = ["YamlDumper"]


class YamlDumper(yaml.SafeDumper):
    """The safe dumper, indenting lists under their key as the examples do."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)


_UNICODE_BREAKS = frozenset("\x85\u2028\u2029")


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # PyYAML writes NEL raw inside single quotes and reads it back as a space; the double-quoted
    # style escapes the Unicode line breaks instead.
    style = '"' if _UNICODE_BREAKS.intersection(value) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


YamlDumper.add_representer(str, _represent_str)
