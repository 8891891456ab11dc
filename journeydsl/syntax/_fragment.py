"""Both spellings of fragments: the ``include`` step (DSL tree walk, YAML builder, printers) and
fragment files, ``NAME.fragment`` (DSL) and ``NAME.fragment.yaml`` (YAML)::

    fragment remind_activation(days: duration) {
      wait for card_activated within days { exit activated }
      send push activation_reminder transactional { round: 1 }
    }

    fragment: remind_activation
    params: {days: duration}
    steps:
      - wait_for: card_activated
        ...
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lark import Token, Tree

from journeydsl import ast
from journeydsl.ast_reuse import Fragment
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.syntax._print_expr import print_expr
from journeydsl.syntax.shapes import Key, Shape
from journeydsl.syntax.shapes import ValueKind as K

if TYPE_CHECKING:
    from journeydsl.syntax._dsl_builder import Builder
    from journeydsl.syntax._yaml_builders import Fields

__all__ = [
    "FRAGMENT",
    "build_include",
    "include_dsl",
    "include_from_fields",
    "include_yaml",
    "load_fragment",
]

#: The YAML fragment file.
FRAGMENT = Shape(
    "fragment",
    "A reusable block of steps.",
    (
        Key("fragment", K.NAME, "The fragment's name.", True, "fragment: remind_activation"),
        Key("params", K.PARAMS, "Its params, name -> type.", example="params: {days: duration}"),
        Key("steps", K.STEPS, "Its steps.", True, "steps: [wait: days]"),
    ),
)


def _params(b: Builder, t: Tree[Token]) -> tuple[ast.Param, ...]:
    return tuple(
        ast.Param(b.ident(p.children[0]), b.expr(p.children[1]), b.span(p))
        for p in t.children
        if isinstance(p, Tree) and p.data == "param"
    )


def build_include(b: Builder, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
    """The :class:`ast.Include` of an ``include`` parse tree."""
    return ast.Include(b.ident(t.children[0]), _params(b, t), id=ident, span=s)


def include_from_fields(f: Fields) -> ast.Step:
    """The :class:`ast.Include` of a YAML ``include:`` step."""
    return ast.Include(f["include"], f.get("with", ()), id=f.get("id"), span=f.span)


def include_dsl(step: ast.Include, label: str) -> str:
    """``include NAME(a: x, b: y)``."""
    args = ", ".join(f"{p.name.name}: {print_expr(p.value)}" for p in step.args)
    return f"{label}include {step.fragment.name}({args})"


def include_yaml(step: ast.Include, put: Callable[[str, Any], None]) -> None:
    """The keys of a YAML ``include:`` step."""
    put("include", step.fragment.name)
    if step.args:
        put("with", {p.name.name: print_expr(p.value) for p in step.args})


def load_fragment(text: str, file: str) -> tuple[Fragment | None, list[Diagnostic]]:
    """Parse a fragment file in either spelling (``.yaml``/``.yml``: YAML); None on errors."""
    if file.endswith((".yaml", ".yml")):
        return _yaml_fragment(text, file)
    from journeydsl.syntax._dsl_builder import Builder
    from journeydsl.syntax.parser import _guarded, _parse

    diags = Diagnostics()
    builder = Builder(file, 0, 0, diags, "JD101")
    tree = _parse(text, "fragment_file", builder)
    found: Fragment | None = None
    if tree is not None:

        def build() -> Fragment:
            name = builder.ident(tree.children[0])
            block = next(c for c in tree.children if isinstance(c, Tree) and c.data == "block")
            return Fragment(name, _params(builder, tree), builder.block(block), builder.span(tree))

        found = _guarded(builder, build)
    return (None if diags.has_errors else found), diags.sorted()


def _yaml_fragment(text: str, file: str) -> tuple[Fragment | None, list[Diagnostic]]:
    from yaml.nodes import MappingNode

    from journeydsl.syntax._yaml_reader import Reader, TooLargeError
    from journeydsl.syntax.limits import MAX_DEPTH, MAX_NODES
    from journeydsl.syntax.yaml_loader import _compose

    diags = Diagnostics()
    root = _compose(text, file, diags)
    found: Fragment | None = None
    if isinstance(root, MappingNode):
        reader = Reader(text, file, diags, max_nodes=MAX_NODES, max_depth=MAX_DEPTH)
        try:
            reader.visit(root, 0)
            f = reader.fields(root, reader.pairs(root, 0), FRAGMENT, 0)
        except (TooLargeError, RecursionError):
            f = None
        if f is not None:
            found = Fragment(f["fragment"], f.get("params", ()), f["steps"], f.span)
    elif root is not None:
        at = Span.point(file, 1, 1)
        diags.error("JD105", "a fragment file is a mapping: fragment, params, steps", at)
    return (None if diags.has_errors else found), diags.sorted()
