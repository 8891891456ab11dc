"""The DSL parser: ``.journey`` text (or one embedded expression) to :mod:`journeydsl.ast`.

Lark does the parsing (LALR, contextual lexer, grammar in ``journeydsl/grammar.lark``, see
:mod:`._grammar`); :mod:`._dsl_builder` turns its tree into AST nodes with spans and checks what
lark cannot, and :mod:`._syntax_errors` translates lark's exceptions into diagnostics that a
marketer can act on. Nothing here raises: every problem, including input that is too deep or too
large, ends up as a :class:`Diagnostic`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Final, TypeVar

from lark import Token, Tree
from lark.exceptions import LarkError, UnexpectedInput

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.syntax._dsl_builder import MAX_DEPTH, Builder, TooDeepError
from journeydsl.syntax._grammar import HEADER_KEYWORDS, STEP_KEYWORDS, lark_parser, reserved_words
from journeydsl.syntax._syntax_errors import report_syntax
from journeydsl.syntax._yaml_positions import position
from journeydsl.syntax.limits import (
    MAX_TOKENS,
    check_catalog_paths,
    check_steps,
    count_tokens,
    too_many_tokens,
)

__all__ = [
    "HEADER_KEYWORDS",
    "STEP_KEYWORDS",
    "parse_expression",
    "parse_journey",
    "parse_schedule",
    "reserved_words",
]

_T = TypeVar("_T")

#: Real journeys are a few kilobytes; this bounds the time spent on pathological input.
_MAX_CHARS: Final = 1_000_000


# --------------------------------------------------------------------------- public API


def parse_journey(text: str, file: str) -> tuple[ast.Journey | None, list[Diagnostic]]:
    """Parse a whole ``.journey`` file.

    Returns the journey (None when the text does not parse) and the diagnostics, sorted by
    position. A journey with header errors (no ``entry``, a duplicated header) is still returned so
    later stages can report their own problems; callers must check the diagnostics for errors.
    """
    diags = Diagnostics()
    builder = Builder(file, 0, 0, diags, "JD101")
    tree = _parse(text, "start", builder)
    journey: ast.Journey | None = None
    if tree is not None:
        root = tree.children[0]
        assert isinstance(root, Tree), root
        journey = _guarded(builder, lambda: builder.journey(root))
    if journey is not None and not (
        check_steps(journey, diags) and check_catalog_paths(journey, diags)
    ):
        journey = None
    return journey, diags.sorted()


def parse_expression(text: str, origin: Span) -> tuple[ast.Expr | None, list[Diagnostic]]:
    """Parse one expression embedded in a file (e.g. a YAML scalar).

    ``origin`` says where ``text[0]`` sits: spans on the text's first line are moved by its line
    and column, spans on later lines by its line only. Syntax errors are JD111.
    """
    diags = Diagnostics()
    builder = Builder(origin.file, origin.line - 1, origin.column - 1, diags, "JD111")
    tree = _parse(text, "expr", builder)
    expr: ast.Expr | None = None
    if tree is not None:
        expr = _guarded(builder, lambda: builder.expr(tree))
    return expr, diags.sorted()


def parse_schedule(
    text: str, origin: Span
) -> tuple[tuple[ast.TimeLit, ast.Schedule | None] | None, list[Diagnostic]]:
    """Parse a segment's schedule embedded in a file (the YAML ``schedule:`` key): ``weekly on
    mon, thu at 09:00 from 2026-01-05``. Placed and reported as :func:`parse_expression`."""
    diags = Diagnostics()
    builder = Builder(origin.file, origin.line - 1, origin.column - 1, diags, "JD111")
    tree = _parse(text, "schedule", builder)
    found: tuple[ast.TimeLit, ast.Schedule | None] | None = None
    if tree is not None:
        found = _guarded(builder, lambda: builder.schedule(tree))
    return found, diags.sorted()


# --------------------------------------------------------------------------- driving lark


def _parse(text: str, start: str, b: Builder) -> Tree[Token] | None:
    """Run lark, turning every failure into a diagnostic."""
    if start in ("start", "fragment_file") and text.startswith("\ufeff"):
        # A byte-order mark (Notepad's "UTF-8 with BOM") says how the file is encoded; it is
        # not part of the journey, and no column counts it, as in YAML files.
        text = text[1:]
    if len(text) > _MAX_CHARS:
        b.diags.error(
            "JD112",
            f"input too large ({len(text):,} characters; the limit is {_MAX_CHARS:,})",
            b.point(1, 1),
        )
        return None
    if len(text) > MAX_TOKENS:  # else it cannot hold too many: a token is a character or more
        _, past = count_tokens(text, MAX_TOKENS)
        if past is not None:
            too_many_tokens(b.diags, b.point(*position(text, past)))
            return None
    try:
        if start == "expr" and len(text) <= 1000:
            return _parse_tree(text, start)
        return lark_parser().parse(text, start=start)
    except UnexpectedInput as e:
        report_syntax(e, text, start, b)
    except RecursionError:
        _report_too_deep(b, b.point(1, 1))
    except LarkError as e:  # a lark bug must still not take the caller down
        b.diags.error(b.syntax_code, f"cannot parse: {e}", b.point(1, 1))
    return None


@functools.lru_cache(maxsize=2048)
def _parse_tree(text: str, start: str) -> Tree[Token]:
    """Lark's tree for ``text``; cached because YAML files repeat the same expressions and the
    trees are never modified (errors raise, so they are not cached)."""
    return lark_parser().parse(text, start=start)


def _guarded(b: Builder, build: Callable[[], _T]) -> _T | None:
    """Run a tree walk, reporting runaway nesting instead of raising."""
    try:
        return build()
    except TooDeepError as exc:
        _report_too_deep(b, exc.span)
        return None
    except RecursionError:
        _report_too_deep(b, b.point(1, 1))
        return None


def _report_too_deep(b: Builder, span: Span) -> None:
    b.diags.error(
        "JD112",
        f"nested too deeply (more than {MAX_DEPTH} levels)",
        span,
        hint="split the condition with `set` steps or flatten the blocks",
    )
