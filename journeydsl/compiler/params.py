"""Journey parameters (``param reminder_interval = 3d`` / ``params: {reminder_interval: 3d}``).

A parameter is a named literal: a duration, a number, an amount of money, a string, a bool or a
time of day. Expressions use it by name wherever a literal of its type is allowed, and it is a
constant there (``entered_at + reminder_interval`` is checked as ``entered_at + 3d``).
``simulate --param NAME=VALUE`` and ``--sweep NAME=V1,V2`` replace the value before the journey
is compiled (:func:`override`); the new value must have the declared one's type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from journeydsl import ast as A
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span
from journeydsl.expr.checker import Scope, check
from journeydsl.expr.types import ERROR, Type, article, assignable
from journeydsl.syntax.printer import print_expr

__all__ = ["journey_constants", "override"]


def journey_constants(
    journey: A.Journey,
    scope: Scope,
    diags: Diagnostics,
    declared: Mapping[str, A.Expr] | None = None,
) -> dict[str, tuple[Type, Any]]:
    """The journey's parameters as constants (name → type and value), each checked to be a
    literal (JD105 otherwise); a value given by :func:`override` must have the type of the
    one the journey declares (``declared``; JD301 otherwise)."""
    out: dict[str, tuple[Type, Any]] = {}
    plain = replace(scope, constants={})
    for p in journey.params:
        typed = check(p.value, plain)
        # A parameter in error is still a name: its uses are not reported again as undefined.
        out[p.name.name] = (ERROR, None)
        if typed.type.is_error:
            continue
        original = (declared or {}).get(p.name.name)
        if original is not None:
            want = check(original, replace(plain, diags=Diagnostics())).type
            if not want.is_error and not assignable(typed.type, want):
                diags.error(
                    "JD301",
                    f"param '{p.name.name}' is {article(want)} in the journey, the value "
                    f"given for it is {article(typed.type)}",
                    p.value.span,
                    f"give {article(want)}, like the journey's `{print_expr(original)}`",
                )
                continue
        if not typed.const or typed.reads:
            diags.error(
                "JD105",
                f"param '{p.name.name}' must be a literal, found an expression that "
                "depends on the customer or the time",
                p.value.span,
                "e.g. `param reminder_interval = 3d`, `param threshold = 1_000_000 VND`",
            )
            continue
        out[p.name.name] = (typed.type, typed.fn(None, None))  # type: ignore[arg-type]  # constants ignore context
    return out


def override(
    journey: A.Journey, values: Mapping[str, str], parse: Any
) -> tuple[A.Journey, list[Diagnostic], list[str]]:
    """``journey`` with the given parameters' values replaced by ``values`` (source text,
    parsed by ``parse(text, origin)`` as an expression, whose spans name the override as
    ``<NAME=VALUE>``). Returns the new journey, the diagnostics of values that do not parse,
    and the names ``journey`` does not declare."""
    names = {p.name.name for p in journey.params}
    unknown = [name for name in values if name not in names]
    problems: list[Diagnostic] = []
    params = []
    for p in journey.params:
        text = values.get(p.name.name)
        if text is None:
            params.append(p)
            continue
        origin = Span(f"<{p.name.name}={text}>", 1, 1, 1, len(text) + 1)
        expr, found = parse(text, origin)
        if isinstance(p.value, A.StringLit) and (expr is None or isinstance(expr, A.Name)):
            # A text parameter given as a bare word (`--param tier=gold`) means that text: on
            # a command line, the quotes of `"gold"` are the shell's and are gone.
            expr, found = A.StringLit(text, origin), []
        problems.extend(found)
        # (a value that does not parse leaves the declared one: the journey fails anyway)
        params.append(p if expr is None else replace(p, value=expr))
    return replace(journey, params=tuple(params)), problems, unknown
