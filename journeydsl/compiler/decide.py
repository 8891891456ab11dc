"""Lowering of ``decide VAR = FUNCTION(args)``: a call of a host decision function declared in
the catalog (``decisions:`` in the events catalog), its arguments checked against the declared
params, its answer typed, its timeout and retry policy fixed at compile time.

The answer is a journey variable of the declared answer type, set on the step's answer edge
only: a read where a failure exit may lead without it is JD208 (see
``checks/assignment.py``)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.catalog import Catalog
from journeydsl.compiler.named_args import check_named_args
from journeydsl.diagnostics import did_you_mean, uses_hint
from journeydsl.expr.checker import Scope, Typed, check_type
from journeydsl.expr.typed import const_fn
from journeydsl.expr.types import DURATION, ERROR, Type, article

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["DEFAULT_EVERY", "DEFAULT_RETRY", "DEFAULT_TIMEOUT", "MAX_RETRY", "lower_decide"]

#: How long one attempt may take, unless the step says (``timeout 2s``).
DEFAULT_TIMEOUT = timedelta(seconds=5)
#: How many more attempts follow a failed one, unless the step says (``retry 0``).
DEFAULT_RETRY = 2
#: The wait between two attempts, unless the step says (``every 10m``).
DEFAULT_EVERY = timedelta(minutes=1)
#: The most retries a step may ask for.
MAX_RETRY = 10
#: The longest timeout of one attempt: the engine's step of work waits for it.
MAX_TIMEOUT = timedelta(minutes=1)


def answer_type(catalog: Catalog, s: A.Decide) -> Type:
    """The type of the answer ``s`` keeps (the poison type when the function is unknown)."""
    spec = catalog.decisions.get(s.function.name)
    return spec.answer if spec is not None else ERROR


def _duration(
    lw: _Lowerer, expr: A.Expr | None, scope: Scope, what: str, default: timedelta, most: timedelta
) -> tuple[ir.CExpr, timedelta]:
    """A fixed, positive duration of at most ``most`` (JD105 otherwise), or ``default``."""
    if expr is None:
        seconds = int(default.total_seconds())
        text = f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"
        return ir.CExpr(text, DURATION, const_fn(default), True), default
    t = check_type(expr, scope, DURATION, what)
    cexpr = lw.cexpr(expr, t)
    if t.type.is_error:
        return cexpr, default
    value = t.fn(None, None) if t.const else None  # type: ignore[arg-type]  # constants ignore context
    if not isinstance(value, timedelta) or not timedelta(0) < value <= most:
        lw.diags.error(
            "JD105",
            f"{what} must be a fixed, positive duration of at most {_text(most)}",
            expr.span,
            f"e.g. `{what.strip('`').split()[-1]} {_text(default)}`",
        )
        return cexpr, default
    return cexpr, value


def _text(d: timedelta) -> str:
    seconds = int(d.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}d"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}h"
    return f"{seconds // 60}m" if seconds % 60 == 0 else f"{seconds}s"


def _args(
    lw: _Lowerer, s: A.Decide, scope: Scope
) -> tuple[tuple[tuple[str, ir.CExpr], ...], list[Typed]]:
    """The arguments, each checked against the function's declared params (JD401-JD403)."""
    spec = lw.catalog.decisions.get(s.function.name)
    name = s.function.name
    typed = check_named_args(
        lw.diags,
        s.args,
        spec.params if spec is not None else None,
        scope,
        owner=f"decision function '{name}'",
        owner_span=s.function.span,
        word="argument",
        add_hint=lambda missing: f"add it: {name}({missing}: …)",
        none_hint="none",
    )
    args = tuple((p.name.name, lw.cexpr(p.value, t)) for p, t in zip(s.args, typed, strict=True))
    return args, typed


def _function(lw: _Lowerer, s: A.Decide) -> Type:
    """The answer type of the function ``s`` calls (JD209 when the catalog lacks it)."""
    name = s.function.name
    spec = lw.catalog.decisions.get(name)
    if spec is not None:
        return spec.answer
    lw.diags.error(
        "JD209",
        f"undefined decision function '{name}'",
        s.function.span,
        (
            did_you_mean(name, lw.catalog.decisions)
            or "declare it under 'decisions:' in the events catalog"
        )
        if lw.catalog.has_events
        else uses_hint("events", s.function.span.file),
    )
    return ERROR


def lower_decide(lw: _Lowerer, s: A.Decide, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.Decide` of ``s`` (and its retry wait ``ID.retry``)."""
    answer = _function(lw, s)
    var = s.var.name
    declared = lw.var_types.get(var, answer)
    if not answer.is_error and not declared.is_error and declared != answer:
        lw.diags.error(
            "JD301",
            f"variable '{var}' is {article(declared)}, but '{s.function.name}' answers "
            f"{article(answer)}",
            s.var.span,
            "keep the answer in a variable of its own",
        )
    args, typed = _args(lw, s, scope)
    _, timeout = _duration(lw, s.timeout, scope, "`timeout`", DEFAULT_TIMEOUT, MAX_TIMEOUT)
    every_expr, every = _duration(lw, s.every, scope, "`every`", DEFAULT_EVERY, timedelta(days=30))
    retries = DEFAULT_RETRY if s.retry is None else s.retry
    if retries > MAX_RETRY:
        lw.diags.error(
            "JD105",
            f"`retry {retries}` asks too often: at most {MAX_RETRY} retries",
            s.span,
            "a decision that fails that often is down: handle it with `on error { … }`",
        )
        retries = MAX_RETRY
    on_error = lw.lower_steps(s.on_error, nxt, scope) if s.on_error is not None else None
    on_timeout = lw.lower_steps(s.on_timeout, nxt, scope) if s.on_timeout is not None else None
    retry = f"{nid}.retry" if retries > 0 else None
    if retry is not None:
        lw.add(ir.Wait(retry, s.span, "duration", every_expr, nid))
    lw.out.sets[nid] = var
    node = ir.Decide(
        nid,
        s.span,
        var,
        s.function.name,
        args,
        answer,
        timeout,
        retries,
        every,
        nxt,
        retry,
        on_error,
        on_timeout,
        s.on_error is not None,
        s.on_timeout is not None,
    )
    return lw.add(node, *typed)
