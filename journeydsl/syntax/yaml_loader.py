"""Load the YAML form of a journey into :mod:`journeydsl.ast`.

The document is *composed*, never constructed: PyYAML's safe loader (libyaml's when it is there)
turns the text into a tree of nodes with marks, and :mod:`._yaml_reader` reads that tree by
walking the tables in :mod:`journeydsl.syntax.shapes`. Scalars are read as their raw text, so
YAML 1.1 coercions never apply (``on``, ``09:00`` and ``1_000`` stay text) and expressions reach
the expression parser as written, with their spans mapped back into the source by
:mod:`._yaml_positions`. This module composes the document and bounds it (size, depth, aliases,
tags that ``yaml.safe_load`` would refuse, the number of steps: see :mod:`.limits`) around the
read. Every problem is collected as a
:class:`~journeydsl.diagnostics.Diagnostic`; no input makes :func:`load_yaml_journey` raise.
"""

from __future__ import annotations

from typing import Any, Final

import yaml
from yaml.nodes import Node, ScalarNode

from journeydsl import ast
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.syntax._yaml_positions import mark_span, position
from journeydsl.syntax._yaml_reader import MINIMAL_JOURNEY, Reader, TooLargeError
from journeydsl.syntax.limits import (
    MAX_DEPTH,
    MAX_NODES,
    check_brackets,
    check_catalog_paths,
    check_steps,
    check_tags,
    check_yaml_size,
)

__all__ = ["MAX_DEPTH", "MAX_NODES", "load_yaml_journey"]

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


class _ComposeLoader(yaml.SafeLoader):
    """The safe loader, used only to compose node trees (no Python objects are constructed)."""


def load_yaml_journey(text: str, file: str) -> tuple[ast.Journey | None, list[Diagnostic]]:
    """Load a journey written in YAML.

    Returns the journey (None when there is any error) and every diagnostic found, sorted by
    position. Never raises.
    """
    diags = Diagnostics()
    root = _compose(text, file, diags) if check_brackets(text, file, diags) else None
    journey: ast.Journey | None = None
    if root is not None and check_yaml_size(root, file, diags):
        check_tags(root, file, diags)
        reader = Reader(text, file, diags, max_nodes=MAX_NODES, max_depth=MAX_DEPTH)
        try:
            journey = reader.journey(root)
        except TooLargeError:
            journey = None
        except RecursionError:
            diags.error("JD112", "the document nests too deeply", Span.point(file, 1, 1))
    if journey is not None and check_steps(journey, diags):
        check_catalog_paths(journey, diags)
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
                mark_span(file, extra) if extra is not None else Span.point(file, 1, 1),
                hint="remove the '---' separator, or put each journey in its own file",
            )
    except yaml.MarkedYAMLError as e:
        diags.error("JD100", *_yaml_error(e, file))
        return None
    except yaml.reader.ReaderError as e:
        line, column = position(text, e.position)
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


def _empty(file: str, diags: Diagnostics) -> None:
    diags.error(
        "JD104",
        "the file holds no journey: it needs at least 'journey', 'entry' and 'steps'",
        Span.point(file, 1, 1),
        hint=f"start from:\n{MINIMAL_JOURNEY}",
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
