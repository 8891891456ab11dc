"""``sent(…)``: how many messages reached the customer in a recent window, across every
journey, read from the contact history the engine keeps (see docs/language.md, "Message
history").

``sent(app_promo in last 60d)`` counts one template, ``sent(push in last 1d)`` one channel,
``sent(marketing in last 7d)`` one template category and ``sent(any in last 1d)`` every message.
The window is a constant ``in last D``: the compiler records the longest one of each journey
(:attr:`Scope.history`), and the engine keeps contacts that long and no longer."""

from __future__ import annotations

from datetime import timedelta

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean, uses_hint
from journeydsl.expr import checker
from journeydsl.expr.context import EvalContext, EventRecord, SentQuery
from journeydsl.expr.typed import Scope, Typed, poison
from journeydsl.expr.types import DURATION, ERROR, INT

__all__ = ["check_sent"]

_EXAMPLE = "e.g. sent(app_promo in last 60d), sent(push in last 1d) or sent(any in last 1d)"


def _what(target: A.Expr, scope: Scope) -> tuple[str, str] | None:
    """Resolve what ``sent`` counts: (kind, name), or None when reported."""
    if not isinstance(target, A.Name):
        scope.diags.error(
            "JD301",
            "sent() counts a template, a channel, a category or `any`",
            target.span,
            _EXAMPLE,
        )
        return None
    name = target.name
    templates = scope.catalog.templates
    categories = {t.category for t in templates.values()}
    if name == "any":
        return "any", ""
    if name in templates:
        return "template", name
    if name in A.CHANNELS:
        return "channel", name
    if name in categories:
        return "category", name
    hint = did_you_mean(name, [*templates, *A.CHANNELS, *categories, "any"])
    if hint is None and not scope.catalog.has_templates:
        hint = uses_hint("templates", target.span.file)
    scope.diags.error(
        "JD205",
        f"sent() counts a template, a channel, a category or `any`; '{name}' is none of them",
        target.span,
        hint or f"channels are {', '.join(A.CHANNELS)}; {_EXAMPLE}",
    )
    return None


def _window(node: A.Aggregate, scope: Scope) -> timedelta | None:
    """The constant ``in last D`` window, or None when reported."""
    window = node.window
    if window is None or window.kind != "last" or window.duration is None:
        scope.diags.error(
            "JD104",
            "sent() needs a window `in last D` with a constant duration",
            node.span,
            "the engine keeps the message history as long as the longest window; " + _EXAMPLE,
        )
        return None
    d = checker.check(window.duration, scope)
    if d.type.is_error:
        return None
    if d.type != DURATION or not d.const:
        scope.diags.error(
            "JD301",
            "the window of sent() is a constant duration such as 60d",
            window.duration.span,
            "the engine keeps the message history as long as the longest window, so it must "
            "be known when the journey is compiled",
        )
        return None
    try:
        value = d.fn(None, None)  # type: ignore[arg-type]  # constants ignore the context
    except (ArithmeticError, ValueError):
        value = None
    if not isinstance(value, timedelta) or value <= timedelta(0):
        scope.diags.error(
            "JD301",
            "the window of sent() must be longer than zero",
            window.duration.span,
            _EXAMPLE,
        )
        return None
    return value


def check_sent(node: A.Aggregate, scope: Scope) -> Typed:
    """``sent(TEMPLATE | CHANNEL | CATEGORY | any in last D)``: an int."""
    for part, label in ((node.where, "where"), (node.by, "by"), (node.default, "else")):
        if part is not None:
            scope.diags.error(
                "JD301",
                f"sent() takes no '{label}'",
                part.span,
                _EXAMPLE,
            )
    what = _what(node.target, scope)
    window = _window(node, scope)
    if what is None or window is None:
        return Typed(ERROR, poison, False)
    scope.history.append(window)
    query = SentQuery(what[0], what[1], window)
    tick = timedelta(microseconds=1)

    def run(ctx: EvalContext, ev: EventRecord | None) -> int:
        # Half-open like every `in last` window: a message sent exactly D ago has left it.
        return ctx.sent(query, ctx.now - window + tick)

    return Typed(INT, run, False)
