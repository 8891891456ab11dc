"""Both spellings of ``enter``, a hand-off to another journey: the DSL tree walk, the YAML
builder and the printers (DSL and YAML), kept together so the step's syntax lives in one place.

    enter activation_call with { limit: offer.amount } not entered { exit already_called }

YAML::

    - enter: activation_call
      with: {limit: offer.amount}
      not_entered: [exit: already_called]
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from lark import Token, Tree

from journeydsl import ast
from journeydsl.diagnostics import Span
from journeydsl.syntax._print_expr import print_expr

if TYPE_CHECKING:
    from journeydsl.syntax._dsl_builder import Builder
    from journeydsl.syntax._yaml_builders import Fields

__all__ = ["build_enter", "enter_dsl", "enter_from_fields", "enter_yaml"]


def _sub(t: Tree[Token], name: str) -> Tree[Token] | None:
    for c in t.children:
        if isinstance(c, Tree) and c.data == name:
            return c
    return None


def build_enter(b: Builder, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
    """The :class:`ast.Enter` of an ``enter`` parse tree."""
    args = _sub(t, "enter_with")
    refused = _sub(t, "enter_not_entered")
    return ast.Enter(
        b.ident(t.children[0]),
        b.params(None if args is None else _sub(args, "params")),
        not_entered=None if refused is None else b.block(_sub(refused, "block")),
        id=ident,
        span=s,
    )


def enter_from_fields(f: Fields) -> ast.Step:
    """The :class:`ast.Enter` of a YAML ``enter:`` step."""
    return ast.Enter(
        f["enter"],
        f.get("with", ()),
        not_entered=f.get("not_entered"),
        id=f.get("id"),
        span=f.span,
    )


class _Printer(Protocol):
    def with_params(
        self, head: str, params: tuple[ast.Param, ...], depth: int, tail: str = ""
    ) -> None: ...

    def steps(self, steps: ast.Steps, depth: int) -> None: ...

    def emit(self, depth: int, text: str) -> None: ...


def enter_dsl(printer: _Printer, step: ast.Enter, depth: int, label: str) -> None:
    """``enter J with { … }`` (one param a line when long), then its ``not entered { … }``."""
    head = f"{label}enter {step.journey.name}" + (" with" if step.args else "")
    if step.not_entered is None:
        printer.with_params(head, step.args, depth)
        return
    if not step.not_entered:
        printer.with_params(head, step.args, depth, " not entered {}")
        return
    printer.with_params(head, step.args, depth, " not entered {")
    printer.steps(step.not_entered, depth + 1)
    printer.emit(depth, "}")


def enter_yaml(
    step: ast.Enter, put: Callable[[str, Any], None], steps: Callable[[ast.Steps], Any]
) -> None:
    """The keys of a YAML ``enter:`` step."""
    put("enter", step.journey.name)
    if step.args:
        put("with", {p.name.name: print_expr(p.value) for p in step.args})
    if step.not_entered is not None:
        put("not_entered", steps(step.not_entered))
