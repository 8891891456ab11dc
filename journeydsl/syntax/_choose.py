"""Both spellings of ``choose``, a pick from an offer catalogue: the DSL tree walk, the YAML
builder and the printers, kept together so the step's syntax lives in one place.

    choose best from reactivation none { exit no_offer }

    - choose: best
      from: reactivation
      none: [exit: no_offer]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lark import Token, Tree

from journeydsl import ast
from journeydsl.diagnostics import Span

if TYPE_CHECKING:
    from journeydsl.syntax._dsl_builder import Builder
    from journeydsl.syntax._yaml_builders import Fields

__all__ = ["build_choose", "choose_dsl", "choose_from_fields", "choose_yaml"]


def build_choose(b: Builder, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
    """The :class:`ast.ChooseOffer` of a ``choose`` parse tree."""
    var, catalogue = b.ident(t.children[0]), b.ident(t.children[1])
    none = next((c for c in t.children if isinstance(c, Tree) and c.data == "choose_none"), None)
    steps = None
    if none is not None:
        block = next(c for c in none.children if isinstance(c, Tree) and c.data == "block")
        steps = b.block(block)
    return ast.ChooseOffer(var, catalogue, steps, id=ident, span=s)


def choose_from_fields(f: Fields) -> ast.Step:
    """The :class:`ast.ChooseOffer` of a YAML ``choose:`` step."""
    return ast.ChooseOffer(f["choose"], f["from"], f.get("none"), id=f.get("id"), span=f.span)


def choose_dsl(step: ast.ChooseOffer, label: str) -> str | list[tuple[str, ast.Steps]]:
    """The step as one line, or as the head of its ``none { … }`` block."""
    head = f"{label}choose {step.var.name} from {step.catalogue.name}"
    return head if step.none is None else [(f"{head} none", step.none)]


def choose_yaml(
    step: ast.ChooseOffer, put: Callable[[str, Any], None], steps: Callable[[ast.Steps], Any]
) -> None:
    """The keys of a YAML ``choose:`` step."""
    put("choose", step.var.name)
    put("from", step.catalogue.name)
    if step.none is not None:
        put("none", steps(step.none))
