"""Load the YAML form of a journey into :mod:`journeydsl.ast`.

The document is *composed*, never constructed: PyYAML's safe loader turns the text into a tree
of nodes with marks, and this module reads that tree by walking the tables in
:mod:`journeydsl.syntax.shapes`. Scalars are read as their raw text, so YAML 1.1 coercions never
apply (``on``, ``09:00`` and ``1_000`` stay text) and expressions reach the expression parser as
written. Every problem is collected as a :class:`~journeydsl.diagnostics.Diagnostic`; no input
makes :func:`load_yaml_journey` raise.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean
from journeydsl.syntax.parser import parse_expression, reserved_words
from journeydsl.syntax.shapes import (
    ENTRY_SHAPES,
    ITEM_SHAPES,
    JOURNEY,
    STEP_KINDS,
    STEP_SHAPES,
    Key,
    Shape,
    ValueKind,
)

__all__ = ["MAX_DEPTH", "MAX_NODES", "load_yaml_journey"]

#: Nodes a document may hold with its aliases expanded. Aliases share nodes, so a small text can
#: stand for a huge tree (an "alias bomb"); this bounds the work reading one can cause.
MAX_NODES: Final = 100_000
#: How deeply mappings and lists may nest.
MAX_DEPTH: Final = 200

_NAME_RE: Final = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_INT_RE: Final = re.compile(r"[0-9]+")
_TIME_RE: Final = re.compile(r"[0-9]{1,2}:[0-9]{2}")
_WEIGHT_RE: Final = re.compile(r"([0-9]+)[ \t]*%?")
_AFTER_RE: Final = re.compile(r"after[ \t\n]+(?=\S)")
# The line breaks PyYAML's reader counts, so that marks index these lines.
_LINE_BREAK_RE: Final = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_MERGE_TAG: Final = "tag:yaml.org,2002:merge"
_BRACKET_RE: Final = re.compile(r"[\[\]{}]")

_MINIMAL = "journey: my_journey\nentry: {event: card_issued}\nsteps:\n  - exit: done"

# Friendlier words for PyYAML's commonest complaints, matched on the problem text.
_YAML_HINTS: Final = (
    (
        "could not find expected ':'",
        "a key needs ':' after it; a value that continues on the "
        "next line must be indented under its key",
    ),
    (
        "mapping values are not allowed here",
        "check the indentation; quote a value that contains ': ', e.g. \"a: b\"",
    ),
    ("'\\t' that cannot start any token", "YAML indents with spaces, not tabs"),
    ("that cannot start any token", "quote a value that starts with '@' or '`'"),
    ("expected <block end>", "check this line's indentation against the lines above"),
    ("found undefined alias", "define the anchor with &name before using *name"),
    ("did not find expected key", "check the indentation of this list or mapping"),
    ("did not find expected '-' indicator", "list items must all be indented the same"),
)


class _TooLargeError(Exception):
    """Stops the walk once a document is too large or too deep (never leaves this module)."""


class _ComposeLoader(yaml.SafeLoader):
    """The safe loader, used only to compose node trees (no Python objects are constructed)."""


class _Bad:
    """The result of a value that could not be read (its diagnostic is already recorded)."""


_BAD: Final = _Bad()


@dataclass(slots=True)
class _Fields:
    """The values read from one mapping, by key, with the span of each ``key: value`` pair."""

    values: dict[str, Any]
    pairs: dict[str, Span]
    span: Span

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __contains__(self, name: str) -> bool:
        return name in self.values

    def get(self, name: str, default: Any = None) -> Any:
        return self.values.get(name, default)


def load_yaml_journey(text: str, file: str) -> tuple[ast.Journey | None, list[Diagnostic]]:
    """Load a journey written in YAML.

    Returns the journey (None when there is any error) and every diagnostic found, sorted by
    position. Never raises.
    """
    diags = Diagnostics()
    root = _compose(text, file, diags) if _brackets_ok(text, file, diags) else None
    journey: ast.Journey | None = None
    if root is not None and _size_ok(root, file, diags):
        reader = _Reader(text, file, diags)
        try:
            journey = reader.journey(root)
        except _TooLargeError:
            journey = None
        except RecursionError:
            diags.error("JD112", "the document nests too deeply", Span.point(file, 1, 1))
    if diags.has_errors:
        journey = None
    return journey, diags.sorted()


# --------------------------------------------------------------------------- composing


_FAST_LOADER: Any = getattr(yaml, "CSafeLoader", None)


def _compose_fast(text: str) -> Node | None:
    """libyaml's composer (about 15x faster) for the common case: a single, well-formed
    document. Returns None on anything unusual, so the pure-Python path below reports it with
    its precise messages."""
    if _FAST_LOADER is None:
        return None
    loader = _FAST_LOADER(text)
    try:
        if not loader.check_node():
            return None
        root: Node | None = loader.get_node()
        if loader.check_node():
            return None
        return root
    except Exception:  # any problem: let the precise path explain it
        return None
    finally:
        loader.dispose()


def _compose(text: str, file: str, diags: Diagnostics) -> Node | None:
    """The document's root node, or None after recording why there is none."""
    fast = _compose_fast(text)
    if fast is not None and not (
        isinstance(fast, ScalarNode) and fast.tag == "tag:yaml.org,2002:null"
    ):
        return fast
    loader: _ComposeLoader | None = None
    try:
        loader = _ComposeLoader(text)  # its reader rejects unprintable characters at once
        if not loader.check_node():
            _empty(file, diags)
            return None
        root: Node | None = loader.get_node()
        if loader.check_node():
            extra = loader.get_node()
            diags.error(
                "JD105",
                "a journey file holds one YAML document, but a second one starts here",
                _mark_span(file, extra) if extra is not None else Span.point(file, 1, 1),
                hint="remove the '---' separator, or put each journey in its own file",
            )
    except yaml.MarkedYAMLError as e:
        diags.error("JD100", *_yaml_error(e, file))
        return None
    except yaml.reader.ReaderError as e:
        line, column = _position(text, e.position)
        msg = f"unacceptable character: {e.reason}"
        if isinstance(e.character, int):
            msg = f"unacceptable character #x{e.character:04x}: {e.reason}"
        diags.error("JD100", msg, Span.point(file, line, column))
        return None
    except yaml.YAMLError as e:
        diags.error("JD100", f"YAML error: {e}", Span.point(file, 1, 1))
        return None
    except RecursionError:
        diags.error("JD112", "the document nests too deeply", Span.point(file, 1, 1))
        return None
    finally:
        if loader is not None:
            loader.dispose()
    if root is None or (isinstance(root, ScalarNode) and root.tag == "tag:yaml.org,2002:null"):
        _empty(file, diags)
        return None
    return root


def _brackets_ok(text: str, file: str, diags: Diagnostics) -> bool:
    """Refuse deeply nested flow collections before PyYAML sees them.

    PyYAML's scanner is quadratic in flow nesting (thousands of '[' take seconds). This counts
    brackets anywhere, strings and comments included, so it over-estimates, but only a
    pathological file has hundreds of unclosed brackets.
    """
    depth = 0
    for m in _BRACKET_RE.finditer(text):
        if m.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                line, column = _position(text, m.start())
                diags.error(
                    "JD112",
                    f"the document nests more than {MAX_DEPTH} levels deep",
                    Span.point(file, line, column),
                )
                return False
        else:
            depth = max(0, depth - 1)
    return True


def _size_ok(root: Node, file: str, diags: Diagnostics) -> bool:
    """Check the document's size with aliases expanded, and its depth, before reading it.

    Aliases share nodes, so a small text can stand for a huge tree (an "alias bomb", or a
    recursive alias); counting visits stops after :data:`MAX_NODES`, long before any harm.
    """
    visited = 0
    stack: list[tuple[Node, int]] = [(root, 0)]
    while stack:
        node, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES:
            diags.error(
                "JD112",
                f"document expands to too many nodes (is it an alias bomb?): more than "
                f"{MAX_NODES:,} with aliases expanded",
                _mark_span(file, node),
                hint="each use of an alias (*name) repeats everything its anchor holds",
            )
            return False
        if depth > MAX_DEPTH:
            diags.error(
                "JD112",
                f"the document nests more than {MAX_DEPTH} levels deep",
                _mark_span(file, node),
            )
            return False
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
    return True


def _empty(file: str, diags: Diagnostics) -> None:
    diags.error(
        "JD104",
        "the file holds no journey: it needs at least 'journey', 'entry' and 'steps'",
        Span.point(file, 1, 1),
        hint=f"start from:\n{_MINIMAL}",
    )


def _yaml_error(e: yaml.MarkedYAMLError, file: str) -> tuple[str, Span, str | None]:
    problem = e.problem or "YAML syntax error"
    mark = e.problem_mark or e.context_mark
    span = Span.point(file, mark.line + 1, mark.column + 1) if mark else Span.point(file, 1, 1)
    message = problem
    if e.context:
        where = ""
        cm = e.context_mark
        if cm is not None and (mark is None or (cm.line, cm.column) != (mark.line, mark.column)):
            where = f" at line {cm.line + 1}, column {cm.column + 1}"
        message = f"{problem} ({e.context}{where})"
    hint = next((h for needle, h in _YAML_HINTS if needle in problem), None)
    return message, span, hint


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based line and column of ``text[index]``."""
    before = _LINE_BREAK_RE.split(text[:index])
    return len(before), len(before[-1]) + 1


def _mark_span(file: str, node: Node) -> Span:
    s, e = node.start_mark, node.end_mark
    end_column = max(e.column, s.column + 1) if e.line == s.line else e.column
    return Span(file, s.line + 1, s.column + 1, e.line + 1, end_column + 1)


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = str(node.value)
    if not value and getattr(node, "style", None) is None:
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


# --------------------------------------------------------------------------- reading


class _Reader:
    """Walks a composed document and builds the AST, recording diagnostics as it goes."""

    def __init__(self, text: str, file: str, diags: Diagnostics) -> None:
        self.file = file
        self.lines = _LINE_BREAK_RE.split(text)
        self.diags = diags
        self.visits = 0
        # Expressions by (node identity, offset): aliases revisit the same scalar node, and its
        # expression (and its diagnostics) need parsing only once.
        self.parsed: dict[tuple[int, int], ast.Expr | None] = {}

    # ---------------------------------------------------------------- plumbing

    def visit(self, node: Node, depth: int) -> None:
        """Count a node visit; abort past the node budget or the depth cap.

        A backstop: ``_size_ok`` has already bounded the expanded document, and the walk never
        visits more than it holds.
        """
        self.visits += 1
        if self.visits > MAX_NODES:
            self.diags.error(
                "JD112",
                f"document expands to too many nodes (is it an alias bomb?): more than "
                f"{MAX_NODES:,} visited",
                self.span(node),
                hint="aliases (*name) are expanded each time they are used",
            )
            raise _TooLargeError
        if depth > MAX_DEPTH:
            self.diags.error(
                "JD112", f"the document nests more than {MAX_DEPTH} levels deep", self.span(node)
            )
            raise _TooLargeError

    def span(self, node: Node) -> Span:
        return _mark_span(self.file, node)

    def mapping_span(self, node: MappingNode) -> Span:
        """From the mapping's start to the end of its last value (block mappings' own end mark
        lies on the next token, often a line or more further)."""
        start = node.start_mark
        end = node.value[-1][1].end_mark if node.value and not node.flow_style else node.end_mark
        return Span(self.file, start.line + 1, start.column + 1, end.line + 1, end.column + 1)

    def pair_span(self, key: Node, value: Node) -> Span:
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
        line, column = self.text_start(node)
        e = node.end_mark
        if node.style in ("'", '"'):
            return Span(self.file, line, column, e.line + 1, e.column)
        if node.style is None and e.line + 1 == line:
            return Span(self.file, line, column, line, e.column + 1)
        return Span(self.file, line, column, line, column + len(node.value.split("\n")[0]))

    def wrong(self, node: Node, message: str, hint: str | None = None) -> _Bad:
        self.diags.error("JD105", message, self.span(node), hint)
        return _BAD

    def pairs(self, node: MappingNode, depth: int) -> list[tuple[Node, Node]]:
        """The mapping's key/value pairs, with YAML merge keys (``<<: *base``) applied."""
        own: list[tuple[Node, Node]] = []
        merged: list[tuple[Node, Node]] = []
        for k, v in node.value:
            if isinstance(k, ScalarNode) and k.tag == _MERGE_TAG:
                self.visit(v, depth + 1)
                sources = v.value if isinstance(v, SequenceNode) else [v]
                for src in sources:
                    if isinstance(src, MappingNode):
                        self.visit(src, depth + 2)
                        merged.extend(self.pairs(src, depth + 2))
                    else:
                        self.wrong(src, f"'<<' merges mappings, found {_describe(src)}")
            else:
                own.append((k, v))
        names = {k.value for k, _ in own if isinstance(k, ScalarNode)}
        for k, v in merged:
            if isinstance(k, ScalarNode) and k.value not in names:
                names.add(k.value)
                own.append((k, v))
        return own

    # ---------------------------------------------------------------- mappings

    def fields(
        self,
        node: MappingNode,
        pairs: list[tuple[Node, Node]],
        shape: Shape,
        depth: int,
        siblings: Mapping[str, Shape] | None = None,
    ) -> _Fields | None:
        """Read ``pairs`` as ``shape``; None when anything is wrong (already reported)."""
        out = _Fields({}, {}, self.mapping_span(node))
        seen: dict[str, Node] = {}
        suggested: set[str] = set()  # keys an unknown key looks like a misspelling of
        ok = True
        for k, v in pairs:
            if not isinstance(k, ScalarNode):
                self.wrong(k, f"keys must be plain names, found {_describe(k)}")
                ok = False
                continue
            name = k.value
            if name in seen:
                self.diags.error(
                    "JD106",
                    f"duplicate key '{name}' in {shape.name}",
                    self.span(k),
                    hint=f"'{name}' is first given at line {seen[name].start_mark.line + 1}",
                )
                ok = False
                continue
            seen[name] = k
            key = shape.key(name)
            if key is None:
                suggested.update(self.unknown_key(k, shape, siblings))
                ok = False
                continue
            value = self.value(key, v, depth + 1)
            if value is _BAD:
                ok = False
            else:
                out.values[name] = value
                out.pairs[name] = self.pair_span(k, v)
        for key in shape.all_keys:
            if key.required and key.name not in seen and key.name not in suggested:
                at = node.value[0][0] if node.value else node
                doc = key.doc[:1].lower() + key.doc[1:].rstrip(".")
                self.diags.error(
                    "JD104",
                    f"{shape.name} is missing required key '{key.name}'",
                    self.span(at),
                    hint=f"add {doc}, e.g. `{key.example}`",
                )
                ok = False
        for group in shape.exclusive:
            given = [g for g in group if g in seen]
            if len(given) > 1:
                self.wrong(
                    seen[given[1]],
                    f"{shape.name} takes only one of {' or '.join(map(repr, group))}, "
                    f"found {' and '.join(map(repr, given))}",
                )
                ok = False
        return out if ok else None

    def unknown_key(
        self, k: ScalarNode, shape: Shape, siblings: Mapping[str, Shape] | None
    ) -> list[str]:
        """Report an unknown key; return the keys it looks like a misspelling of."""
        close = difflib.get_close_matches(k.value, sorted(set(shape.key_names)), n=1, cutoff=0.6)
        hint = did_you_mean(k.value, shape.key_names)
        if hint is None and siblings:
            owners = [s.name for s in siblings.values() if s.key(k.value) is not None]
            if owners:
                hint = f"'{k.value}' belongs to: {', '.join(owners)}"
        if hint is None:
            hint = f"{shape.name} keys are: {', '.join(shape.key_names)}"
        self.diags.error("JD103", f"unknown key '{k.value}' in {shape.name}", self.span(k), hint)
        return close

    def variant(
        self,
        node: MappingNode,
        shapes: Mapping[str, Shape],
        what: str,
        depth: int,
        no_head: Callable[[MappingNode, list[ScalarNode]], None],
    ) -> tuple[str, _Fields] | None:
        """Read a mapping whose head key picks its shape among ``shapes`` (steps, the entry).

        ``no_head`` reports a mapping that has no head key; it gets the mapping's keys.
        """
        pairs = self.pairs(node, depth)
        keys = [k for k, _ in pairs if isinstance(k, ScalarNode)]
        heads: dict[str, Node] = {}  # a repeated head is a duplicate key, which fields() reports
        for k in keys:
            if k.value in shapes:
                heads.setdefault(k.value, k)
        if not heads:
            no_head(node, keys)
            return None
        if len(heads) > 1:
            first, second = list(heads)[:2]
            self.wrong(
                heads[second],
                f"{what} has one kind, but this one has both '{first}' and '{second}'",
                hint=(
                    f"put each step in its own list item: `- {first}: ...` and `- {second}: ...`"
                    if what == "a step"
                    else f"give only one of: {', '.join(shapes)}"
                ),
            )
            return None
        kind = next(iter(heads))
        fields = self.fields(node, pairs, shapes[kind], depth, shapes)
        return (kind, fields) if fields is not None else None

    # ---------------------------------------------------------------- the journey

    def journey(self, root: Node) -> ast.Journey | None:
        self.visit(root, 0)
        if not isinstance(root, MappingNode):
            self.wrong(
                root,
                f"a journey file must be a mapping with keys such as 'journey', 'entry' and "
                f"'steps', found {_describe(root)}",
                hint=f"start from:\n{_MINIMAL}",
            )
            return None
        f = self.fields(root, self.pairs(root, 0), JOURNEY, 0)
        if f is None:
            return None
        uses = f.get("uses")
        return ast.Journey(
            name=f["journey"],
            version=f.get("version", 1),
            entry=f["entry"],
            steps=f["steps"],
            title=f["title"].value if "title" in f else None,
            events_catalog=uses.get("events") if uses else None,
            templates_catalog=uses.get("templates") if uses else None,
            timezone=f.get("timezone"),
            outcomes=f.get("outcomes", ()),
            quiet_hours=f.get("quiet_hours", ()),
            fallback=f.get("fallback", ()),
            goals=f.get("goals", ()),
            span=f.span,
        )

    # ---------------------------------------------------------------- steps

    def steps(self, key: Key, node: Node, depth: int) -> ast.Steps | _Bad:
        if not isinstance(node, SequenceNode):
            hint = "write `[]` for no steps"
            if isinstance(node, MappingNode):
                hint = "steps are a list: start each step with '- '"
            return self.wrong(
                node, f"expected a list of steps for '{key.name}', found {_describe(node)}", hint
            )
        out: list[ast.Step] = []
        ok = True
        for item in node.value:
            step = self.step(item, depth + 1)
            if step is None:
                ok = False
            else:
                out.append(step)
        return tuple(out) if ok else _BAD

    def step(self, node: Node, depth: int) -> ast.Step | None:
        self.visit(node, depth)
        if not isinstance(node, MappingNode):
            hint = _step_hint(STEP_KINDS)
            if isinstance(node, ScalarNode):
                first, _, rest = node.value.strip().partition(" ")
                if first in STEP_SHAPES:
                    hint = f"a step is a mapping: write `{first}: {rest.strip() or '...'}`"
            self.wrong(node, f"expected a step (a mapping), found {_describe(node)}", hint)
            return None
        picked = self.variant(node, STEP_SHAPES, "a step", depth, self.unknown_kind)
        if picked is None:
            return None
        kind, f = picked
        return _STEP_BUILDERS[kind](f)

    def unknown_kind(self, node: MappingNode, keys: list[ScalarNode]) -> None:
        """Report a step mapping without a kind key, guessing which key is a misspelt kind."""
        unknown = [k for k in keys if k.value not in _KEY_OWNERS]
        if unknown:
            guess = next((k for k in unknown if did_you_mean(k.value, STEP_KINDS)), unknown[0])
            self.diags.error(
                "JD102",
                f"unknown step kind '{guess.value}'",
                self.span(guess),
                did_you_mean(guess.value, STEP_KINDS) or _step_hint(STEP_KINDS),
            )
            return
        hint = _step_hint(STEP_KINDS)
        if keys:  # all known, so each has owners
            owners = _KEY_OWNERS[keys[0].value]
            hint = (
                f"'{keys[0].value}' belongs to a {' or '.join(owners)} step: indent it under "
                f"that step, or add the kind, e.g. `{owners[0]}: ...`"
            )
        at = keys[0] if keys else node
        self.diags.error("JD102", "this step has no kind", self.span(at), hint)

    # ---------------------------------------------------------------- values

    def value(self, key: Key, node: Node, depth: int) -> Any:
        """Read ``node`` as ``key``'s value kind; :data:`_BAD` when it does not fit."""
        self.visit(node, depth)
        return _VALUE_READERS[key.kind](self, key, node, depth)

    def scalar(self, key: Key, node: Node, expected: str) -> ScalarNode | None:
        if isinstance(node, ScalarNode):
            return node
        hint = None
        if key.kind in (ValueKind.EXPR, ValueKind.EXPRS) and isinstance(node, SequenceNode):
            hint = "to write a list expression, quote it: '[a, b]'"
        elif isinstance(node, MappingNode):
            hint = "to write an expression with ': ' or '{', quote it"
        self.wrong(node, f"expected {expected} for '{key.name}', found {_describe(node)}", hint)
        return None

    def parse(self, text: str, node: ScalarNode, offset: int = 0) -> ast.Expr | None:
        """Parse ``text``, which starts ``offset`` characters into ``node``'s text."""
        cache_key = (id(node), offset)
        if cache_key in self.parsed:
            return self.parsed[cache_key]
        line, column = self.text_start(node)
        before = node.value[:offset]
        if "\n" in before:
            line += before.count("\n")
            column = len(before) - before.rindex("\n")
        else:
            column += offset
        expr, diags = parse_expression(text, Span(self.file, line, column, line, column + 1))
        self.diags.extend(diags)
        self.parsed[cache_key] = expr
        return expr

    def expr(self, key: Key, node: Node, depth: int) -> ast.Expr | _Bad:
        scalar = self.scalar(key, node, "an expression")
        if scalar is None:
            return _BAD
        if not scalar.value.strip():
            return self.wrong(node, f"expected an expression for '{key.name}', found nothing")
        expr = self.parse(scalar.value, scalar)
        return _BAD if expr is None else expr

    def exprs(self, key: Key, node: Node, depth: int) -> tuple[ast.Expr, ...] | _Bad:
        if isinstance(node, SequenceNode) and node.value:
            items = [
                self.value(Key(key.name, ValueKind.EXPR, ""), n, depth + 1) for n in node.value
            ]
            return _BAD if any(i is _BAD for i in items) else tuple(items)
        scalar = self.scalar(key, node, "comma-separated expressions")
        if scalar is None:
            return _BAD
        out: list[ast.Expr] = []
        ok = True
        for offset, piece in _split_commas(scalar.value):
            if not piece:
                self.wrong(node, f"expected an expression in '{key.name}', found an empty one")
                ok = False
                continue
            expr = self.parse(piece, scalar, offset)
            if expr is None:
                ok = False
            else:
                out.append(expr)
        return tuple(out) if ok else _BAD

    def name(self, key: Key, node: Node, depth: int) -> ast.Ident | _Bad:
        scalar = self.scalar(key, node, "a name")
        if scalar is None:
            return _BAD
        if not _NAME_RE.fullmatch(scalar.value):
            hint = None
            if "," in scalar.value and key.kind is ValueKind.NAMES:
                hint = (
                    "write a list: [" + ", ".join(p.strip() for p in scalar.value.split(",")) + "]"
                )
            return self.wrong(
                node,
                f"expected a name for '{key.name}' (letters, digits and '_', not starting with "
                f"a digit), found {_describe(node)}",
                hint,
            )
        if key.name == "id" and scalar.value in reserved_words():
            return self.wrong(
                node,
                f"'{scalar.value}' is a reserved word of the journey language and cannot be "
                "a step id",
                f"choose another id, e.g. '{scalar.value}_step'",
            )
        return ast.Ident(scalar.value, self.text_span(scalar))

    def names(self, key: Key, node: Node, depth: int) -> tuple[ast.Ident, ...] | _Bad:
        """A list of names; a single name is a list of one."""
        if not isinstance(node, SequenceNode):
            one = self.name(key, node, depth)
            return _BAD if isinstance(one, _Bad) else (one,)
        out: list[ast.Ident] = []
        ok = True
        for item in node.value:
            self.visit(item, depth + 1)
            name = self.name(key, item, depth + 1)
            if isinstance(name, _Bad):
                ok = False
            else:
                out.append(name)
        return tuple(out) if ok else _BAD

    def integer(self, key: Key, node: Node, depth: int) -> int | _Bad:
        scalar = self.scalar(key, node, "a whole number")
        if scalar is None:
            return _BAD
        if not _INT_RE.fullmatch(scalar.value):
            return self.wrong(
                node, f"expected a whole number for '{key.name}', found {_describe(node)}"
            )
        return int(scalar.value)

    def string(self, key: Key, node: Node, depth: int) -> ast.StringLit | _Bad:
        scalar = self.scalar(key, node, "a string")
        if scalar is None:
            return _BAD
        return ast.StringLit(scalar.value, self.text_span(scalar))

    def time(self, key: Key, node: Node, depth: int) -> ast.TimeLit | _Bad:
        scalar = self.scalar(key, node, 'a time of day "HH:MM"')
        if scalar is None:
            return _BAD
        if not _TIME_RE.fullmatch(scalar.value):
            self.diags.error(
                "JD108",
                f"expected a time of day \"HH:MM\" for '{key.name}', found {_describe(node)}",
                self.span(node),
                hint=f"e.g. `{key.example}`" if key.example else None,
            )
            return _BAD
        return ast.TimeLit(scalar.value, self.text_span(scalar))

    def category(self, key: Key, node: Node, depth: int) -> ast.Ident | _Bad:
        scalar = self.scalar(key, node, "a category")
        if scalar is None:
            return _BAD
        if scalar.value not in ast.CATEGORIES:
            return self.wrong(
                node,
                f"category must be one of {', '.join(ast.CATEGORIES)}, found {_describe(node)}",
                did_you_mean(scalar.value, ast.CATEGORIES),
            )
        return ast.Ident(scalar.value, self.text_span(scalar))

    def true(self, key: Key, node: Node, depth: int) -> bool | _Bad:
        if isinstance(node, ScalarNode) and node.value in ("true", "True", "TRUE"):
            return True
        return self.wrong(node, f"'{key.name}' takes only `true`, found {_describe(node)}")

    def params(self, key: Key, node: Node, depth: int) -> tuple[ast.Param, ...] | _Bad:
        if not isinstance(node, MappingNode):
            return self.wrong(
                node,
                f"expected a mapping of name: expression for '{key.name}', found {_describe(node)}",
                hint=f"e.g. `{key.example}`" if key.example else None,
            )
        out: list[ast.Param] = []
        seen: set[str] = set()
        ok = True
        for k, v in self.pairs(node, depth):
            name = self.name(Key(key.name, ValueKind.NAME, ""), k, depth)
            label = f"{key.name}.{name.name}" if isinstance(name, ast.Ident) else key.name
            value = self.value(Key(label, ValueKind.EXPR, ""), v, depth + 1)
            if isinstance(name, ast.Ident) and name.name in seen:
                self.diags.error("JD106", f"duplicate key '{label}'", self.span(k))
            if isinstance(name, _Bad) or isinstance(value, _Bad) or name.name in seen:
                ok = False
            else:
                out.append(ast.Param(name, value, self.pair_span(k, v)))
            if isinstance(name, ast.Ident):
                seen.add(name.name)
        return tuple(out) if ok else _BAD

    def fallback(self, key: Key, node: Node, depth: int) -> tuple[ast.Ident, ...] | _Bad:
        if isinstance(node, ScalarNode) and node.value == "none":
            return ()
        return self.names(key, node, depth)

    def chains(self, key: Key, node: Node, depth: int) -> tuple[ast.FallbackChain, ...] | _Bad:
        example = "e.g. `fallback: [push, zns, sms]` or `fallback: [[push, sms], [zns, sms]]`"
        if not isinstance(node, SequenceNode):
            return self.wrong(
                node,
                f"expected a list of channels for '{key.name}', found {_describe(node)}",
                example,
            )
        nested = [isinstance(n, SequenceNode) for n in node.value]
        if any(nested) and not all(nested):
            return self.wrong(
                node,
                f"'{key.name}' is one chain of channels or a list of chains, not a mix",
                example,
            )
        if not node.value:
            return ()
        lists = node.value if all(nested) else [node]
        out: list[ast.FallbackChain] = []
        ok = True
        for chain in lists:
            if chain is not node:
                self.visit(chain, depth + 1)
            channels = self.names(key, chain, depth + 1)
            if isinstance(channels, _Bad):
                ok = False
            elif len(channels) < 2:
                self.wrong(chain, "a fallback chain needs at least two channels", example)
                ok = False
            else:
                out.append(ast.FallbackChain(channels, self.span(chain)))
        return tuple(out) if ok else _BAD

    def weight(self, key: Key, node: Node, depth: int) -> int | _Bad:
        scalar = self.scalar(key, node, "a percentage")
        m = _WEIGHT_RE.fullmatch(scalar.value.strip()) if scalar else None
        if m is None:
            if scalar is not None:
                self.wrong(
                    node,
                    f"expected a whole percentage like 45% for '{key.name}', found "
                    f"{_describe(node)}",
                )
            return _BAD
        return int(m.group(1))

    def records(self, key: Key, node: Node, depth: int) -> tuple[Any, ...] | _Bad:
        """A list of the record shape behind ``key.kind`` (cases, arms, quiet hours, goals)."""
        shape = ITEM_SHAPES[key.kind]
        if not isinstance(node, SequenceNode) or len(node.value) < key.min_items:
            found = "an empty list" if isinstance(node, SequenceNode) else _describe(node)
            return self.wrong(
                node,
                f"expected a list of {shape.name} mappings for '{key.name}', found {found}",
                hint=f"e.g. `{key.example}`" if key.example else None,
            )
        out: list[Any] = []
        for item in node.value:
            self.visit(item, depth + 1)
            out.append(self.record(shape, item, depth + 1))
        return _BAD if any(i is _BAD for i in out) else tuple(out)

    def record(self, shape: Shape, node: Node, depth: int) -> Any:
        if not isinstance(node, MappingNode):
            return self.wrong(node, f"expected a {shape.name} mapping, found {_describe(node)}")
        f = self.fields(node, self.pairs(node, depth), shape, depth)
        return _BAD if f is None else _RECORD_BUILDERS[shape.name](f)

    def holdout(self, key: Key, node: Node, depth: int) -> ast.Arm | _Bad:
        if isinstance(node, MappingNode):
            arm: ast.Arm | _Bad = self.record(ITEM_SHAPES[key.kind], node, depth)
            return arm
        weight = self.weight(key, node, depth)
        return _BAD if isinstance(weight, _Bad) else ast.Arm(weight, (), self.span(node))

    def uses(self, key: Key, node: Node, depth: int) -> _Fields | _Bad:
        shape = ITEM_SHAPES[key.kind]
        if not isinstance(node, MappingNode):
            return self.wrong(
                node,
                f"expected a mapping for '{key.name}', found {_describe(node)}",
                f"e.g. `{key.example}`",
            )
        f = self.fields(node, self.pairs(node, depth), shape, depth)
        return _BAD if f is None else f

    def reentry(self, key: Key, node: Node, depth: int) -> ast.Reentry | _Bad:
        scalar = self.scalar(key, node, "once, always or after DURATION")
        if scalar is None:
            return _BAD
        text = scalar.value.strip()
        if text == "once":
            return ast.Reentry("once", span=self.text_span(scalar))
        if text == "always":
            return ast.Reentry("always", span=self.text_span(scalar))
        m = _AFTER_RE.match(scalar.value)
        if m is None:
            return self.wrong(
                node,
                f"reentry must be once, always or after DURATION, found {_describe(node)}",
                did_you_mean(text.partition(" ")[0], ("once", "always", "after"))
                or "e.g. `reentry: after 180d`",
            )
        after = self.parse(scalar.value[m.end() :], scalar, m.end())
        if after is None:
            return _BAD
        return ast.Reentry("after", after, self.text_span(scalar))

    def entry(self, key: Key, node: Node, depth: int) -> ast.Entry | _Bad:
        if isinstance(node, ScalarNode) and node.value == "manual":
            return ast.Entry("manual", span=self.span(node))
        kinds = ", ".join(f"'{k}'" for k in ENTRY_SHAPES)
        if not isinstance(node, MappingNode):
            return self.wrong(
                node,
                f"expected an entry mapping with one of {kinds}, or `manual`, found "
                f"{_describe(node)}",
                hint=f"e.g. `{key.example}`",
            )

        def no_head(node: MappingNode, keys: list[ScalarNode]) -> None:
            self.diags.error(
                "JD104",
                f"the entry needs one of {kinds}",
                self.span(keys[0] if keys else node),
                hint="e.g. `entry: {event: card_issued}`",
            )

        picked = self.variant(node, ENTRY_SHAPES, "the entry", depth, no_head)
        if picked is None:
            return _BAD
        kind, f = picked
        return ast.Entry(
            _ENTRY_KINDS[kind],
            event=f.get("event"),
            where=f.get("where"),
            condition=f.get("segment"),
            at=f.get("daily_at"),
            reentry=f.get("reentry", ast.Reentry("once")),
            key=f.get("key"),
            span=f.span,
        )


def _split_commas(text: str) -> list[tuple[int, str]]:
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


_Reader_fn = Callable[[_Reader, Key, Node, int], Any]

_VALUE_READERS: Final[dict[ValueKind, _Reader_fn]] = {
    ValueKind.NAME: _Reader.name,
    ValueKind.EXPR: _Reader.expr,
    ValueKind.EXPRS: _Reader.exprs,
    ValueKind.INT: _Reader.integer,
    ValueKind.STRING: _Reader.string,
    ValueKind.TIME: _Reader.time,
    ValueKind.CATEGORY: _Reader.category,
    ValueKind.TRUE: _Reader.true,
    ValueKind.STEPS: _Reader.steps,
    ValueKind.PARAMS: _Reader.params,
    ValueKind.NAMES: _Reader.names,
    ValueKind.FALLBACK: _Reader.fallback,
    ValueKind.CHAINS: _Reader.chains,
    ValueKind.WEIGHT: _Reader.weight,
    ValueKind.CASES: _Reader.records,
    ValueKind.ARMS: _Reader.records,
    ValueKind.HOLDOUT: _Reader.holdout,
    ValueKind.REENTRY: _Reader.reentry,
    ValueKind.USES: _Reader.uses,
    ValueKind.ENTRY: _Reader.entry,
    ValueKind.QUIET_HOURS: _Reader.records,
    ValueKind.GOALS: _Reader.records,
}


# --------------------------------------------------------------------------- building


_ENTRY_KINDS: Final[dict[str, Literal["event", "segment", "manual"]]] = {
    "event": "event",
    "segment": "segment",
    "manual": "manual",
}
assert set(_ENTRY_KINDS) == set(ENTRY_SHAPES), "every entry shape needs a kind"


def _wait_for(f: _Fields) -> ast.WaitFor:
    timeout = None
    if "within" in f:
        timeout = ast.Timeout("within", f["within"], f.pairs["within"])
    elif "until" in f:
        timeout = ast.Timeout("until", f["until"], f.pairs["until"])
    return ast.WaitFor(
        f["wait_for"],
        where=f.get("where"),
        timeout=timeout,
        then=f.get("then", ()),
        on_timeout=f.get("timeout", ()),
        id=f.get("id"),
        span=f.span,
    )


def _action(kind: Literal["reward", "action"]) -> Callable[[_Fields], ast.Step]:
    return lambda f: ast.Action(
        kind,
        f[kind],
        params=f.get("params", ()),
        id=f.get("id"),
        span=f.span,
    )


def _tag(kind: str) -> Callable[[_Fields], ast.Step]:
    return lambda f: ast.Tag(f[kind], remove=kind == "untag", id=f.get("id"), span=f.span)


#: How each step kind's fields become its AST node.
_STEP_BUILDERS: Final[dict[str, Callable[[_Fields], ast.Step]]] = {
    "send": lambda f: ast.Send(
        f["send"],
        f["channel"],
        category=f.get("category"),
        params=f.get("params", ()),
        fallback=f.get("fallback"),
        id=f.get("id"),
        span=f.span,
    ),
    "wait": lambda f: ast.Wait(f["wait"], id=f.get("id"), span=f.span),
    "wait_until": lambda f: ast.WaitUntil(f["wait_until"], id=f.get("id"), span=f.span),
    "wait_for": _wait_for,
    "if": lambda f: ast.If(
        f["if"], f.get("then", ()), f.get("else", ()), id=f.get("id"), span=f.span
    ),
    "switch": lambda f: ast.Switch(
        f["switch"], f["cases"], f.get("else", ()), id=f.get("id"), span=f.span
    ),
    "split": lambda f: ast.Split(f["split"], f.get("holdout"), id=f.get("id"), span=f.span),
    "repeat": lambda f: ast.Repeat(
        f["repeat"],
        f["steps"],
        counter=f.get("as"),
        until=f.get("until"),
        id=f.get("id"),
        span=f.span,
    ),
    "ticket": lambda f: ast.Ticket(
        f["ticket"],
        priority=f.get("priority"),
        payload=f.get("payload", ()),
        id=f.get("id"),
        span=f.span,
    ),
    "update": lambda f: ast.Update(f["update"], f["value"], id=f.get("id"), span=f.span),
    "tag": _tag("tag"),
    "untag": _tag("untag"),
    "reward": _action("reward"),
    "action": _action("action"),
    "set": lambda f: ast.Set(f["set"], f["value"], id=f.get("id"), span=f.span),
    "exit": lambda f: ast.Exit(f["exit"], id=f.get("id"), span=f.span),
}
assert set(_STEP_BUILDERS) == set(STEP_SHAPES), "every step shape needs a builder"

#: How each record shape's fields become a value.
_RECORD_BUILDERS: Final[dict[str, Callable[[_Fields], Any]]] = {
    "case": lambda f: ast.Case(f["case"], f["steps"], f.span),
    "split arm": lambda f: ast.Arm(f["weight"], f["steps"], f.span),
    "holdout": lambda f: ast.Arm(f["weight"], f.get("steps", ()), f.span),
    "quiet_hours item": lambda f: ast.QuietHours(f["channels"], f["from"], f["to"], f.span),
    "goal": lambda f: ast.Goal(f["outcome"], f["when"], f.get("where"), f.span),
}
