"""Both spellings of ``decide``, a decision call: the DSL tree walk, the YAML builder and the
printers (DSL and YAML), kept together so the step's syntax lives in one place.

    decide offer = credit.preapproved_limit(customer: customer_id) timeout 5s retry 2 every 30s
      on error { exit no_answer }
      on timeout { exit no_answer }
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lark import Token, Tree

from journeydsl import ast
from journeydsl.diagnostics import Span
from journeydsl.syntax._print_expr import print_expr

if TYPE_CHECKING:
    from journeydsl.syntax._dsl_builder import Builder
    from journeydsl.syntax._yaml_builders import Fields

__all__ = ["build_decide", "decide_dsl", "decide_from_fields", "decide_yaml"]


def _sub(t: Tree[Token], name: str) -> Tree[Token] | None:
    for c in t.children:
        if isinstance(c, Tree) and c.data == name:
            return c
    return None


def _retry(b: Builder, t: Tree[Token]) -> int:
    """The number of a ``retry N`` clause; one too long to read is reported (JD105) and taken as
    no retry."""
    tok = t.children[0]
    assert isinstance(tok, Token), tok
    return b.int_of(str(tok.value), b.token_span(tok), "retry", 0)


def build_decide(b: Builder, t: Tree[Token], ident: ast.Ident | None, s: Span) -> ast.Step:
    """The :class:`ast.Decide` of a ``decide`` parse tree."""
    var = b.ident(t.children[0])
    fn = _sub(t, "decide_fn")
    assert fn is not None
    parts = [c for c in fn.children if isinstance(c, Token)]
    first, last = b.token_span(parts[0]), b.token_span(parts[-1])
    name = ".".join(str(p) for p in parts)
    where = Span(first.file, first.line, first.column, last.end_line, last.end_column)
    function = ast.Ident(name, where)
    args = tuple(
        ast.Param(b.ident(p.children[0]), b.expr(p.children[1]), b.span(p))
        for p in t.children
        if isinstance(p, Tree) and p.data == "param"
    )
    timeout, every = _sub(t, "decide_timeout"), _sub(t, "decide_every")
    retry = _sub(t, "decide_retry")
    on_error, on_timeout = _sub(t, "decide_on_error"), _sub(t, "decide_on_timeout")
    return ast.Decide(
        var,
        function,
        args,
        timeout=None if timeout is None else b.expr(timeout.children[0]),
        retry=None if retry is None else _retry(b, retry),
        every=None if every is None else b.expr(every.children[0]),
        on_error=None if on_error is None else b.block(_sub(on_error, "block")),
        on_timeout=None if on_timeout is None else b.block(_sub(on_timeout, "block")),
        id=ident,
        span=s,
    )


def decide_from_fields(f: Fields) -> ast.Step:
    """The :class:`ast.Decide` of a YAML ``decide:`` step."""
    call = f["call"]
    function = ast.Ident(call.value, call.span) if isinstance(call, ast.StringLit) else call
    return ast.Decide(
        f["decide"],
        function,
        f.get("args", ()),
        timeout=f.get("timeout"),
        retry=f.get("retry"),
        every=f.get("every"),
        on_error=f.get("on_error"),
        on_timeout=f.get("on_timeout"),
        id=f.get("id"),
        span=f.span,
    )


def decide_dsl(step: ast.Decide, label: str) -> str | list[tuple[str, ast.Steps]]:
    """The step as one line, or as the segments of a chain of blocks (``HEAD on error {…}
    on timeout {…}``)."""
    head = label + _head(step)
    blocks = [
        (name, steps)
        for name, steps in (("on error", step.on_error), ("on timeout", step.on_timeout))
        if steps is not None
    ]
    if not blocks:
        return head
    return [(f"{head} {blocks[0][0]}", blocks[0][1]), *blocks[1:]]


def _head(step: ast.Decide) -> str:
    """``decide VAR = FN(args) [timeout D] [retry N] [every D]`` (without its blocks)."""
    args = ", ".join(f"{p.name.name}: {print_expr(p.value)}" for p in step.args)
    head = f"decide {step.var.name} = {step.function.name}({args})"
    if step.timeout is not None:
        head += f" timeout {print_expr(step.timeout)}"
    if step.retry is not None:
        head += f" retry {step.retry}"
    if step.every is not None:
        head += f" every {print_expr(step.every)}"
    return head


def decide_yaml(
    step: ast.Decide, put: Callable[[str, Any], None], steps: Callable[[ast.Steps], Any]
) -> None:
    """The keys of a YAML ``decide:`` step."""
    put("decide", step.var.name)
    put("call", step.function.name)
    if step.args:
        put("args", {p.name.name: print_expr(p.value) for p in step.args})
    if step.timeout is not None:
        put("timeout", print_expr(step.timeout))
    if step.retry is not None:
        put("retry", step.retry)
    if step.every is not None:
        put("every", print_expr(step.every))
    if step.on_error is not None:
        put("on_error", steps(step.on_error))
    if step.on_timeout is not None:
        put("on_timeout", steps(step.on_timeout))
