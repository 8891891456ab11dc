"""The DSL grammar: the one Lark parser of the process and the keywords it reserves.

The grammar itself lives in ``journeydsl/grammar.lark`` (package data). The parser, the error
messages and the YAML loader (which refuses keywords as step ids) all read it through here.
"""

from __future__ import annotations

import functools
import importlib.resources
import re
from collections.abc import Iterable
from typing import Final

from lark import Lark

__all__ = [
    "HEADER_KEYWORDS",
    "STEP_KEYWORDS",
    "keyword_values",
    "lark_parser",
    "reserved_words",
    "word_choices",
]

# fmt: off
#: Words that start a step, for "unknown step" hints.
STEP_KEYWORDS: Final = (
    "send", "wait", "if", "switch", "split", "repeat", "ticket", "update", "tag", "untag",
    "reward", "action", "set", "exit", "parallel", "break", "continue", "decide", "during",
    "enter", "include",  # hand-off to another journey, fragments

    "choose",
)
#: Words that start a header line, for "unknown header" hints.
HEADER_KEYWORDS: Final = (
    "version", "title", "uses", "timezone", "outcomes", "entry", "quiet", "fallback", "goal",
    "stale", "param",
)
# fmt: on


@functools.cache
def lark_parser() -> Lark:
    """The one Lark parser of the process, built on first use (lark's cache makes it ~20 ms)."""
    grammar = importlib.resources.files("journeydsl").joinpath("grammar.lark").read_text("utf-8")
    return Lark(
        grammar,
        parser="lalr",
        lexer="contextual",
        propagate_positions=True,
        cache=True,
        start=["start", "expr", "schedule", "fragment_file"],
    )


@functools.cache
def reserved_words() -> frozenset[str]:
    """Every keyword of the DSL grammar (a step id cannot be one: it would read as the keyword)."""
    return frozenset(
        t.pattern.value
        for t in lark_parser().terminals
        if t.pattern.type == "str" and t.pattern.value.isidentifier()
    )


def keyword_values(terminals: Iterable[str]) -> list[str]:
    """The word-like keywords among the named ``terminals``, for did-you-mean hints."""
    out = []
    for name in terminals:
        if name == "$END":
            continue
        try:
            pattern = lark_parser().get_terminal(name).pattern
        except KeyError:
            continue
        if pattern.type == "str" and pattern.value.isidentifier():
            out.append(pattern.value)
        else:
            out.extend(word_choices(pattern.value))
    return out


def word_choices(pattern: str) -> list[str]:
    """The words of a terminal that is a choice of words (``(?:all|first)\\b``), else none."""
    match = re.fullmatch(r"\(\?:([\w|]+)\)(?:\\b)?", pattern)
    if match is None:
        return []
    return [w for w in match.group(1).split("|") if w.isidentifier()]
