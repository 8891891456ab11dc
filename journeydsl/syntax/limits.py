"""Limits on what a journey source may hold, shared by both spellings, and on what a YAML
document (a journey or a catalog) may hold.

The parser and the compiler already bound the input's size (JD112). This module adds the bounds
that only make sense on the YAML text, the YAML node tree and the AST:

* :func:`check_brackets` and :func:`check_yaml_size`: a YAML document may nest at most
  :data:`MAX_DEPTH` levels and hold at most :data:`MAX_NODES` nodes with its aliases expanded
  (JD112). The journey loader and the catalog loader both apply them, so a catalog cannot be an
  alias bomb either.

* :data:`MAX_STEPS`: a journey of more steps is refused (JD112). Real journeys have tens of steps;
  the generated 1,000-step journey of ``benchmarks/check_large.py`` is well inside. Some checks
  (definite assignment) grow faster than linearly with the size, so the cap bounds the time a
  hostile or runaway generated file can cost.
* :data:`MAX_TOKENS`: the DSL text of a journey (its whole file, or the expressions of its YAML
  spelling together, each counted every time an alias repeats it) may hold at most that many
  tokens (JD112). Parsing and checking take time in proportion to the tokens, not the
  characters: a list literal of 300,000 items in a 900 kB file took 17 s to check, and 4,000 long
  expressions in a 4.9 MB YAML file two minutes and 1.6 GB.
* a ``uses`` path may not hold control characters (a NUL byte makes the operating system refuse
  to even look the file up).
* :data:`SAFE_YAML_TAGS`: a YAML document may only use the tags ``yaml.safe_load`` understands.
  The loader never constructs Python objects (it only composes nodes), so an
  ``!!python/object/apply:os.system`` tag could do no harm; it is still refused (JD100), so that a
  file which would be dangerous to a careless ``yaml.load`` elsewhere never passes ``check``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Final

from yaml.nodes import MappingNode, Node, SequenceNode

from journeydsl import ast
from journeydsl.diagnostics import Diagnostics, Span
from journeydsl.syntax._yaml_positions import mark_span, position

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "MAX_STEPS",
    "MAX_TOKENS",
    "SAFE_YAML_TAGS",
    "check_brackets",
    "check_catalog_paths",
    "check_steps",
    "check_tags",
    "check_yaml_size",
    "count_tokens",
    "iter_steps",
    "too_many_tokens",
]

#: The most steps (nested ones included) one journey may have.
MAX_STEPS: Final = 5_000
#: The most tokens (names, keywords, numbers, strings, operators, brackets) the DSL text of one
#: journey may hold. The generated 1,000-step journey has about 7,000, a journey of
#: :data:`MAX_STEPS` such steps about 35,000 (about 2 s to check): checking takes about 50 µs a
#: token.
MAX_TOKENS: Final = 40_000
#: Nodes a YAML document (a journey or a catalog) may hold with its aliases expanded. Aliases
#: share nodes, so a small text can stand for a huge tree (an "alias bomb"); this bounds the work
#: reading one can cause.
MAX_NODES: Final = 100_000
#: How deeply the mappings and lists of a YAML document may nest.
MAX_DEPTH: Final = 200

_BRACKET_RE: Final = re.compile(r"[\[\]{}]")
#: One token of the DSL, near enough to lark's tokens to count them: a date or timestamp, a word
#: or a number (a name with its dots), a string, a comment (which lark skips, so this over-counts
#: a little), or any other character. (Strings are matched as in grammar.lark, with possessive
#: repeats: ``"(a|b)*"`` makes the regular expression engine keep state to backtrack to for every
#: character, 150 bytes each, so a string literal of a million characters took 300 MB to read.)
_TOKEN_RE: Final = re.compile(
    r"""\d{4}-\d{2}-\d{2}(?:T\d{2}:\d{2}(?::\d{2})?(?:Z|[+-]\d{2}:\d{2}|\[[^\]\s]*\])?)?"""
    r"""|[A-Za-z0-9_.]+|"[^"\\\n]*+(?:\\.[^"\\\n]*+)*+"|'[^'\\\n]*+(?:\\.[^'\\\n]*+)*+'|#[^\n]*|\S"""
)

_CORE: Final = "tag:yaml.org,2002:"
#: The tags of YAML's core schema that ``yaml.safe_load`` constructs (as plain data).
SAFE_YAML_TAGS: Final = frozenset(
    _CORE + name
    for name in (
        "str",
        "int",
        "float",
        "bool",
        "null",
        "seq",
        "map",
        "merge",
        "timestamp",
        "binary",
        "set",
        "omap",
        "pairs",
    )
)


def _children(step: ast.Step) -> Iterator[ast.Steps]:
    match step:
        case ast.Ticket():  # ticket exits (accepted / not accepted)
            yield step.accepted or ()
            yield step.not_accepted or ()
        case ast.WaitFor():
            yield step.then
            yield step.on_timeout
        case ast.WaitFirst():
            for branch in step.branches:
                yield branch.steps
            yield step.on_timeout
        case ast.If():
            yield step.then
            yield step.otherwise
        case ast.Switch():
            for case in step.cases:
                yield case.steps
            yield step.otherwise
        case ast.Split():
            for arm in step.arms:
                yield arm.steps
            if step.holdout is not None:
                yield step.holdout.steps
        case ast.Repeat():
            yield step.steps
        case _:
            return


def iter_steps(steps: ast.Steps) -> Iterator[ast.Step]:
    """Every step of ``steps``, nested ones included, in source order (without recursion, so a
    deeply nested AST cannot exhaust the stack)."""
    stack: list[Iterator[ast.Step]] = [iter(steps)]
    while stack:
        step = next(stack[-1], None)
        if step is None:
            stack.pop()
            continue
        yield step
        stack.extend(iter(block) for block in reversed(list(_children(step))))


def check_steps(journey: ast.Journey, diags: Diagnostics) -> bool:
    """Report a journey of more than :data:`MAX_STEPS` steps (JD112, at the first step past the
    limit); True when the size is within the limit."""
    for n, step in enumerate(iter_steps(journey.steps), 1):
        if n > MAX_STEPS:
            diags.error(
                "JD112",
                f"the journey has more than {MAX_STEPS:,} steps",
                step.span,
                hint="split it into several journeys, e.g. one per stage of the customer's "
                "lifecycle, handing customers on with an event",
            )
            return False
    return True


def count_tokens(text: str, allowed: int) -> tuple[int, int | None]:
    """``(n, at)``: the tokens ``text`` holds, counted up to ``allowed + 1`` (so the cost is
    bounded by ``allowed``, not by the text), and where token ``allowed + 1`` starts (None when
    there are at most ``allowed``)."""
    n = 0
    for match in _TOKEN_RE.finditer(text):
        n += 1
        if n > allowed:
            return n, match.start()
    return n, None


def too_many_tokens(diags: Diagnostics, span: Span) -> None:
    """Report a journey past :data:`MAX_TOKENS` (JD112) at ``span``: the first token too many,
    or in YAML the expression that passes the limit."""
    diags.error(
        "JD112",
        f"the journey has more than {MAX_TOKENS:,} tokens (names, numbers, operators, brackets)",
        span,
        hint="split it into several journeys, and long lists or expressions into `set` steps; "
        "in YAML, each use of an alias (*name) counts its expression again",
    )


def check_catalog_paths(journey: ast.Journey, diags: Diagnostics) -> bool:
    """Report a ``uses`` path holding a control character (JD105): no file has such a name, and
    the operating system refuses to look one up (a NUL byte makes ``stat`` raise). True when the
    paths are fine."""
    ok = True
    for ref in (journey.events_catalog, journey.templates_catalog):
        if ref is None:
            continue
        bad = next((c for c in ref.value if ord(c) < 32 or ord(c) == 127), None)
        if bad is not None:
            ok = False
            diags.error(
                "JD105",
                f"a catalog path cannot hold a control character (found {bad!r})",
                ref.span,
                hint='write the file\'s name, e.g. uses events "events.yaml"',
            )
    return ok


def _spelled(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def check_tags(root: Node, file: str, diags: Diagnostics, what: str = "a journey") -> bool:
    """Report every node whose tag ``yaml.safe_load`` would not accept (JD100) in ``what``'s
    document; True when there is none. Shared nodes (anchors used through aliases) are looked
    at once."""
    seen: set[int] = set()
    stack = [root]
    ok = True
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node.tag not in SAFE_YAML_TAGS:
            ok = False
            mark = node.start_mark
            diags.error(
                "JD100",
                f"the YAML tag '{_spelled(node.tag)}' is not allowed: {what} is plain data",
                Span.point(file, mark.line + 1, mark.column + 1),
                hint="remove the tag; journeydsl reads YAML as yaml.safe_load does and never "
                "builds objects from it",
            )
        if isinstance(node, SequenceNode):
            stack.extend(node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.append(k)
                stack.append(v)
    return ok


def check_brackets(text: str, file: str, diags: Diagnostics) -> bool:
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
                line, column = position(text, m.start())
                diags.error(
                    "JD112",
                    f"the document nests more than {MAX_DEPTH} levels deep",
                    Span.point(file, line, column),
                )
                return False
        else:
            depth = max(0, depth - 1)
    return True


def check_yaml_size(root: Node, file: str, diags: Diagnostics) -> bool:
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
                mark_span(file, node),
                hint="each use of an alias (*name) repeats everything its anchor holds",
            )
            return False
        if depth > MAX_DEPTH:
            diags.error(
                "JD112",
                f"the document nests more than {MAX_DEPTH} levels deep",
                mark_span(file, node),
            )
            return False
        if isinstance(node, SequenceNode):
            stack.extend((child, depth + 1) for child in node.value)
        elif isinstance(node, MappingNode):
            for k, v in node.value:
                stack.append((k, depth + 1))
                stack.append((v, depth + 1))
    return True
