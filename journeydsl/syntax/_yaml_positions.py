"""Where things are in a YAML source: spans from marks, and positions inside scalars.

PyYAML gives a node's start and end marks, but a scalar's *value* is not its source text: plain
and quoted scalars fold their line breaks into spaces and drop each line's indentation, block
scalars (``|``, ``>``) strip the block's indentation, and quoted scalars resolve escapes (``\\"``,
``''``). An expression is parsed from the value, so :meth:`Source.expression_place` maps each of
the value's characters back to its line and column in the source, and the parser's spans go
through that map. A scalar whose value is its source text, the common case, needs no map: the
parser places it with a plain origin.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import itertools
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, TypeVar

from yaml.nodes import MappingNode, Node, ScalarNode

from journeydsl.diagnostics import Span

__all__ = ["LINE_BREAK_RE", "ExprPlace", "Source", "mark_span", "moved", "position", "split_commas"]

#: The line breaks PyYAML's reader counts, so that marks index these lines.
LINE_BREAK_RE: Final = re.compile("\r\n|[\n\r\x85\u2028\u2029]")

_SPACES: Final = " \t"
_BREAKS: Final = "\r\n\x85\u2028\u2029"
_BLANKS: Final = _SPACES + _BREAKS
#: Line breaks for YAML that the expression parser reads as ordinary characters.
_YAML_ONLY_BREAK_RE: Final = re.compile("[\r\x85\u2028\u2029]")
# The escapes of a double-quoted YAML scalar (YAML 1.1, as PyYAML and libyaml read them).
_ESCAPES: Final = {
    "0": "\0", "a": "\x07", "b": "\x08", "t": "\t", "\t": "\t", "n": "\n", "v": "\x0b",
    "f": "\x0c", "r": "\r", "e": "\x1b", " ": " ", '"': '"', "\\": "\\", "/": "/", "N": "\x85",
    "_": "\xa0", "L": "\u2028", "P": "\u2029",
}  # fmt: skip
_HEX_ESCAPES: Final = {"x": 2, "u": 4, "U": 8}

_T = TypeVar("_T")


def position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``."""
    before = LINE_BREAK_RE.split(text[:index])
    return len(before), len(before[-1]) + 1


def mark_span(file: str, node: Node) -> Span:
    """The span between a node's marks (at least one character wide)."""
    s, e = node.start_mark, node.end_mark
    end_column = max(e.column, s.column + 1) if e.line == s.line else e.column
    return Span(file, s.line + 1, s.column + 1, e.line + 1, end_column + 1)


@dataclass(frozen=True, slots=True)
class ExprPlace:
    """Where an expression parsed from (part of) a scalar's value sits in the source.

    Parse the text at ``origin`` (see :func:`~journeydsl.syntax.parser.parse_expression`), then,
    when ``remap`` is given, move every span of the result through it (see :func:`moved`).
    """

    origin: Span
    remap: Callable[[Span], Span] | None = None


#: Where a text that needs a map is parsed: its own coordinates, line 1 column 1.
_TEXT_ORIGIN: Final = Span("", 1, 1, 1, 2)


class Source:
    """The YAML text of one file, by lines, to turn marks and scalar offsets into spans."""

    def __init__(self, text: str, file: str) -> None:
        self.file = file
        self.text = text
        self.lines = LINE_BREAK_RE.split(text)
        # Neither loader counts a byte order mark in the first line's columns.
        self.bom = 1 if text.startswith("\ufeff") else 0
        # The source position of each character of a scalar's value, by node identity (aliases
        # revisit the same node); None when the value is its source text or cannot be mapped.
        self.points: dict[int, list[tuple[int, int]] | None] = {}

    @functools.cached_property
    def starts(self) -> list[int]:
        """The index in the text where each line starts (only needed to map a scalar)."""
        if "\r" in self.text:  # "\r\n" is one break of two characters
            return [0, *(m.end() for m in LINE_BREAK_RE.finditer(self.text))]
        return [0, *itertools.accumulate(len(line) + 1 for line in self.lines[:-1])]

    # ---------------------------------------------------------------- nodes

    def span(self, node: Node) -> Span:
        """The span between the node's marks."""
        return mark_span(self.file, node)

    def mapping_span(self, node: MappingNode) -> Span:
        """From the mapping's start to the end of its last value (block mappings' own end mark
        lies on the next token, often a line or more further)."""
        start = node.start_mark
        end = node.value[-1][1].end_mark if node.value and not node.flow_style else node.end_mark
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def pair_span(self, key: Node, value: Node) -> Span:
        """From a key to the end of its value."""
        s, e = key.start_mark, value.end_mark
        return Span(self.file, s.line + 1, s.column + 1, e.line + 1, e.column + 1)

    def text_start(self, node: ScalarNode) -> tuple[int, int]:
        """1-based line and column of the first character of a scalar's text."""
        m = node.start_mark
        if node.style in ("'", '"'):
            return m.line + 1, m.column + 2
        if node.style in ("|", ">"):
            for i in range(m.line + 1, len(self.lines)):
                content = self.lines[i].lstrip(" ")
                if content:
                    return i + 1, len(self.lines[i]) - len(content) + 1
        return m.line + 1, m.column + 1

    def text_span(self, node: ScalarNode) -> Span:
        """The span of a scalar's text (its first line, for a text over several lines)."""
        line, column = self.text_start(node)
        e = node.end_mark
        if node.style in ("'", '"'):
            return Span(self.file, line, column, e.line + 1, e.column)
        if not node.style and e.line + 1 == line:  # plain: None, or "" from libyaml
            return Span(self.file, line, column, line, e.column + 1)
        return Span(self.file, line, column, line, column + len(node.value.split("\n")[0]))

    # ---------------------------------------------------------------- scalar values

    def expression_place(self, node: ScalarNode, offset: int, text: str) -> ExprPlace:
        """Where ``text``, which is ``node.value[offset:offset + len(text)]``, sits."""
        points = self.value_points(node)
        if points is None:
            return ExprPlace(self._linear_origin(node, offset))
        if not points:  # nothing to map (an empty value): point at the scalar
            line, column = self.text_start(node)
            return ExprPlace(Span(self.file, line, column, line, column + 1))
        # Lark numbers the text's lines and columns; ``index`` turns them into an index in the
        # value, and ``at`` that index into a position in the source.
        starts = [0, *(m.end() for m in re.finditer("\n", text))]
        file = self.file
        last = len(points) - 1

        def index(line: int, column: int) -> int:
            return offset + starts[min(max(line, 1), len(starts)) - 1] + column - 1

        def at(i: int) -> tuple[int, int]:
            if i <= last:
                return points[max(i, 0)]
            line, column = points[last]  # past the end: just after the last character
            return line, column + i - last

        def remap(span: Span) -> Span:
            start = index(span.line, span.column)
            end = index(span.end_line, span.end_column)
            line, column = at(start)
            if end <= start:
                return Span(file, line, column, line, column)
            end_line, end_column = at(end - 1)  # the end is exclusive: just after the last char
            return Span(file, line, column, end_line, end_column + 1)

        return ExprPlace(_TEXT_ORIGIN, remap)

    def _linear_origin(self, node: ScalarNode, offset: int) -> Span:
        """Where ``node.value[offset]`` sits when the value runs on from the text's start (the
        value is its source text, or could not be mapped)."""
        line, column = self.text_start(node)
        before = node.value[:offset]
        if "\n" in before:
            line += before.count("\n")
            column = len(before) - before.rindex("\n")
        else:
            column += offset
        return Span(self.file, line, column, line, column + 1)

    def value_points(self, node: ScalarNode) -> list[tuple[int, int]] | None:
        """The (line, column) of each character of ``node.value`` in the source.

        None when the value is its own source text on one line (a constant shift places it), or,
        as a safety net, when the source does not spell the value as expected.
        """
        key = id(node)
        if key not in self.points:
            self.points[key] = self._value_points(node)
        return self.points[key]

    def _value_points(self, node: ScalarNode) -> list[tuple[int, int]] | None:
        style, value = node.style, node.value
        first, last = node.start_mark, node.end_mark
        if first.line == last.line and style in (None, "", "'", '"'):
            # The common case: a scalar on one line is its source text unless it has escapes.
            skip = self.bom if first.line == 0 else 0
            quoted = 1 if style else 0
            text = self.lines[first.line][
                first.column + skip + quoted : last.column + skip - quoted
            ]
            if text == value:
                return None
        start, end = self._index(first), self._index(last)
        if style in ("'", '"'):
            start, end = start + 1, end - 1
        elif style in ("|", ">"):  # the text starts on the line after the header
            line = bisect.bisect_right(self.starts, start)
            start = self.starts[line] if line < len(self.starts) else end
        if start > end or end > len(self.text):
            return None
        if self.text[start:end] == value and not _YAML_ONLY_BREAK_RE.search(value):
            return None  # the value is its source text, with the same lines
        indices = _align(value, self.text, start, end, style)
        if indices is None:
            return None
        return [self._point(i) for i in indices]

    def _index(self, mark: Any) -> int:
        """The index in the text of a mark (from its line and column: libyaml's own index
        skips a byte order mark)."""
        line = min(int(mark.line), len(self.starts) - 1)
        return self.starts[line] + int(mark.column) + (self.bom if line == 0 else 0)

    def _point(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.starts, index) - 1
        return line + 1, index - self.starts[line] + 1 - (self.bom if line == 0 else 0)


def _align(value: str, text: str, start: int, end: int, style: str | None) -> list[int] | None:
    """The index in ``text[start:end]`` that each character of ``value`` comes from.

    A scalar's value is its source with blanks folded or dropped (indentation, trailing spaces,
    line breaks that became a space), escapes resolved (double quotes) and ``''`` read as one
    quote (single quotes). Every other character is copied, in order, so each one of the value
    is matched with the next such character of the source, skipping blanks that the value
    dropped. None when the source does not spell the value that way.
    """
    out: list[int] = []
    i, j = 0, start
    while i < len(value):
        if j >= end:
            return None
        c, r = value[i], text[j]
        if style == '"' and r == "\\":
            if j + 1 < end and text[j + 1] in _BREAKS:  # an escaped line break: nothing
                j = _past_break(text, j + 1)
                while j < end and text[j] in _SPACES:
                    j += 1
                continue
            produced, width = _escape(text, j, end)
            if produced != c:
                return None
            out.append(j)
            i, j = i + 1, j + width
        elif style == "'" and r == "'":
            if c != "'" or text[j + 1 : j + 2] != "'":
                return None
            out.append(j)
            i, j = i + 1, j + 2
        elif r == c:
            out.append(j)
            i, j = i + 1, j + 1
        elif r in _BLANKS:
            if c in _BLANKS:  # a line break folded into a space, or kept as '\n'
                out.append(j)
                i += 1
            j = _past_break(text, j) if r in _BREAKS else j + 1
        else:
            return None
    return out


def _past_break(text: str, j: int) -> int:
    """The index after the line break at ``text[j]`` (``\\r\\n`` is one break)."""
    return j + 2 if text[j : j + 2] == "\r\n" else j + 1


def _escape(text: str, j: int, end: int) -> tuple[str | None, int]:
    """The character the escape at ``text[j]`` (a backslash) stands for, and its width."""
    kind = text[j + 1] if j + 1 < end else ""
    if kind in _ESCAPES:
        return _ESCAPES[kind], 2
    digits = _HEX_ESCAPES.get(kind, 0)
    code = text[j + 2 : j + 2 + digits]
    if digits and len(code) == digits and all(c in "0123456789abcdefABCDEF" for c in code):
        return chr(int(code, 16)), 2 + digits
    return None, 1


# --------------------------------------------------------------------------- moving spans


def moved(node: _T, place: Callable[[Span], Span]) -> _T:
    """``node`` (an AST node, a diagnostic, or a tuple or list of them) with every span in it
    moved by ``place``. AST nodes are frozen, so they are rebuilt."""
    result: _T = _moved(node, place)
    return result


def _moved(value: Any, place: Callable[[Span], Span]) -> Any:
    if isinstance(value, Span):
        return place(value)
    if isinstance(value, tuple):
        return tuple([_moved(v, place) for v in value])
    if isinstance(value, list):
        return [_moved(v, place) for v in value]
    names = _field_names(type(value))
    if not names:  # not a node: a str, a number, None, ...
        return value
    return type(value)(**{n: _moved(getattr(value, n), place) for n in names})


#: The init fields of each dataclass met by :func:`moved` (none for any other class).
_FIELD_NAMES: dict[type, tuple[str, ...]] = {}


def _field_names(cls: type) -> tuple[str, ...]:
    names = _FIELD_NAMES.get(cls)
    if names is None:
        fields = dataclasses.fields(cls) if dataclasses.is_dataclass(cls) else ()
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields if f.init)
    return names


def split_commas(text: str) -> list[tuple[int, str]]:
    """Split at commas outside brackets and quotes: (offset, stripped piece) pairs.

    Only the separators are found here; each piece goes to the expression parser.
    """
    pieces: list[tuple[int, str]] = []
    depth, quote, start, i = 0, "", 0, 0
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\":
                i += 1
            elif ch == quote:
                quote = ""
        elif ch in "\"'":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth = max(0, depth - 1)
        elif ch == "," and depth == 0:
            pieces.append((start, text[start:i]))
            start = i + 1
        i += 1
    pieces.append((start, text[start:]))
    out = []
    for offset, piece in pieces:
        stripped = piece.lstrip()
        out.append((offset + len(piece) - len(stripped), stripped.rstrip()))
    return out
