"""Aggregates over the customer's past events: ``count``, ``has``, ``sum``, ``min``, ``max``,
``last`` and ``top``, with their ``where``, ``by``, window and ``else`` parts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean, uses_hint
from journeydsl.expr import checker, history, names
from journeydsl.expr.catalog import EventSpec
from journeydsl.expr.codegen import K, Tmp, coded
from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, Fn
from journeydsl.expr.hints import mismatch_hint
from journeydsl.expr.literals import check_enum_literal
from journeydsl.expr.typed import Reads, Scope, Typed, poison
from journeydsl.expr.types import BOOL, DURATION, ERROR, INT, TIMESTAMP, Type, article, assignable
from journeydsl.money import Money

__all__ = ["check_aggregate"]


def _event_of(
    target: A.Expr, scope: Scope, want_field: bool
) -> tuple[EventSpec | None, str | None]:
    """Resolve an aggregate's target to (event spec, field name)."""
    if want_field:
        if not (isinstance(target, A.Attr) and isinstance(target.obj, A.Name)):
            scope.diags.error(
                "JD301",
                "this aggregate needs an event field, e.g. transaction.amount",
                target.span,
                "name the event and its field, e.g. sum(transaction.amount in last 30d)",
            )
            return None, None
        ev_name, field_name = target.obj.name, target.name
        ev_span = target.obj.span
    else:
        if not isinstance(target, A.Name):
            scope.diags.error(
                "JD301",
                "this aggregate needs an event type, e.g. transaction",
                target.span,
                "name the event alone, e.g. count(transaction in last 30d)",
            )
            return None, None
        ev_name, field_name, ev_span = target.name, None, target.span
    spec = scope.catalog.events.get(ev_name)
    if spec is None:
        scope.diags.error(
            "JD201",
            f"undefined event '{ev_name}'",
            ev_span,
            did_you_mean(ev_name, scope.catalog.events)
            if scope.catalog.has_events
            else uses_hint("events", ev_span.file),
        )
        return None, None
    if field_name is not None and names.field_type(spec, field_name, target, scope) is None:
        return spec, None
    return spec, field_name


def _zero(t: Type) -> Any:
    if t.kind == "money":
        return Money(Decimal(0), t.currency or "")
    if t.kind == "int":
        return 0
    if t.kind == "decimal":
        return Decimal(0)
    if t.is_stringy:
        return ""
    if t.kind == "bool":
        return False
    if t.kind == "duration":
        return timedelta(0)
    return None


#: The resolution of event times: a window's open start is one tick after its bound.
_TICK = timedelta(microseconds=1)


def _window(
    node: A.Window, scope: Scope
) -> tuple[
    Callable[[EvalContext, EventRecord | None], tuple[bool, datetime | None, datetime]],
    Reads,
    _Shape | None,
]:
    """Compile a window to ``f(ctx, ev) -> (empty, start, end)``, with its shape for the
    generated functions: its kind, its start (of a ``since``) and its length (None when the
    start has no code)."""
    window_start: Typed | None = None
    reads: Reads = frozenset()
    dur_fn: Fn | None = None
    length: Typed | None = None
    if node.duration is not None:
        d = checker.check(node.duration, scope)
        reads |= d.reads
        if not d.type.is_error and d.type != DURATION:
            scope.diags.error(
                "JD301",
                f"a window length is a duration such as 30d, not {article(d.type)}",
                node.duration.span,
                mismatch_hint(DURATION, d.type),
            )
        dur_fn, length = d.fn, d
    if node.kind == "last":
        f = dur_fn

        def last(
            ctx: EvalContext, ev: EventRecord | None
        ) -> tuple[bool, datetime | None, datetime]:
            # Half-open, (now - d, now]: an event exactly d ago has left the window.
            now = ctx.now
            return False, now - (f(ctx, ev) if f else timedelta(0)) + _TICK, now

        return last, reads, ("last", None, length)
    anchor = node.anchor
    start_fn: Callable[[EvalContext, EventRecord | None], datetime | None]
    if isinstance(anchor, A.Name) and anchor.name == "entry":
        start_fn = lambda ctx, ev: ctx.entered_at  # noqa: E731
        window_start = coded(Typed(TIMESTAMP, start_fn), "c.entered_at")
    elif (
        isinstance(anchor, A.Name)
        and anchor.name in scope.catalog.events
        and anchor.name not in scope.variables
    ):
        ev_name = anchor.name
        start_fn = lambda ctx, ev: ctx.last_time(ev_name)  # noqa: E731
        window_start = coded(Typed(TIMESTAMP, start_fn), "c.last_time({0})", K(ev_name))
    elif anchor is not None:
        a = checker.check(anchor, scope)
        reads |= a.reads
        if not a.type.is_error and a.type != TIMESTAMP:
            scope.diags.error(
                "JD301",
                f"`since` needs entry, an event type or a timestamp, not {article(a.type)}",
                anchor.span,
                "e.g. `since entry`, `since card_activated` or `since entered_at + 7d`",
            )
        start_fn = a.fn
        window_start = a
    else:  # pragma: no cover - the parsers never build this
        start_fn = lambda ctx, ev: None  # noqa: E731
    within = dur_fn

    def since(ctx: EvalContext, ev: EventRecord | None) -> tuple[bool, datetime | None, datetime]:
        start = start_fn(ctx, ev)
        if start is None:
            return True, None, ctx.now
        end = ctx.now
        if within is not None:
            end = min(end, start + within(ctx, ev))
        return False, start, end

    return since, reads, None if window_start is None else ("since", window_start, length)


def check_aggregate(node: A.Aggregate, scope: Scope) -> Typed:
    """``count(…)``, ``sum(…)``, ``top(…)`` and the other aggregates."""
    func = node.func
    if func == "sent":
        return history.check_sent(node, scope)
    want_field = func not in ("count", "has")
    spec, field_name = _event_of(node.target, scope, want_field)
    reads: Reads = frozenset()
    result: Type = ERROR
    field_t: Type | None = spec.field_type(field_name) if spec and field_name else None
    if func == "count":
        result = INT
    elif func == "has":
        result = BOOL
    elif field_t is not None:
        result = field_t
        if func == "sum" and not (field_t.is_number or field_t.kind in ("money", "duration")):
            scope.diags.error(
                "JD301",
                f"cannot sum {article(field_t)} field",
                node.target.span,
                "sum() adds numbers, money or durations; count() counts the events, "
                "e.g. count(transaction in last 30d)",
            )
            result = ERROR
    by_field: str | None = None
    if node.by is not None:
        if func != "top":
            scope.diags.error(
                "JD301",
                f"'by' ranks the values of top(); {func}() has none",
                node.by.span,
                "remove `by …`, or use top(), e.g. "
                "top(transaction.category by sum(transaction.amount) in last 365d)",
            )
        elif node.by.func == "sum" and node.by.field is not None:
            by_spec, by_field = _event_of(node.by.field, scope, True)
            if by_spec is not None and spec is not None and by_spec.name != spec.name:
                scope.diags.error(
                    "JD301",
                    "top() ranks by a field of the same event",
                    node.by.field.span,
                    f"rank by `count` or by sum({spec.name}.FIELD)",
                )
            bt = by_spec.field_type(by_field) if by_spec and by_field else None
            if bt is not None and not (bt.is_number or bt.kind == "money"):
                scope.diags.error(
                    "JD301",
                    f"cannot rank by the sum of {article(bt)}",
                    node.by.field.span,
                    "rank `by count`, or by the sum of a number or money field",
                )
    elif func == "top":
        scope.diags.error(
            "JD104",
            "top() needs a ranking: `by count` or `by sum(E.field)`",
            node.span,
            "e.g. top(transaction.merchant by sum(transaction.amount) in last 365d)",
        )
    where_fn: Fn | None = None
    if node.where is not None:
        w = checker.check_bool(node.where, scope.for_event(spec))
        reads |= w.reads
        where_fn = w.fn
    zero = _zero(result)
    default_fn: Fn | None = None
    if node.default is not None:
        d = checker.check(node.default, scope)
        reads |= d.reads
        if func in ("count", "has", "sum"):
            scope.diags.error(
                "JD301",
                f"{func}() always has a value; 'else' is for min, max, last and top",
                node.default.span,
                "remove the `else …`: with no matching event count() and sum() are 0 and "
                "has() is false",
            )
        elif not assignable(d.type, result):
            scope.diags.error(
                "JD301",
                f"the 'else' value must be {article(result)}, not {article(d.type)}",
                node.default.span,
                mismatch_hint(result, d.type),
            )
        elif d.const:
            check_enum_literal(result, node.default, scope)
            try:
                zero = d.fn(None, None)  # type: ignore[arg-type]  # constants ignore the context
            except (ArithmeticError, ValueError):  # past a limit (JD308): it fails when run
                zero, default_fn = None, d.fn
        else:
            zero, default_fn = None, d.fn
    elif func in ("min", "max", "last", "top") and zero is None and not result.is_error:
        scope.diags.error(
            "JD104",
            f"{func}() of {article(result)} field needs an 'else' value for when no event matches",
            node.span,
            f"e.g. {func}(… else entered_at)",
        )
    window_fn = None
    shape: _Shape | None = None
    if node.window is not None:
        window_fn, wreads, shape = _window(node.window, scope)
        reads |= wreads
    if spec is None or result.is_error:
        return Typed(result if result.is_error else ERROR, poison, False, reads)
    query = AggregateQuery(
        func,
        spec.name,
        field_name,
        node.by.func if node.by else None,
        by_field,
        where_fn,
        zero,
        sliding=node.window is not None and node.window.kind == "last",
    )

    def run(ctx: EvalContext, ev: EventRecord | None) -> Any:
        if window_fn is None:
            empty, start, end = False, None, ctx.now
        else:
            empty, start, end = window_fn(ctx, ev)
        value = query.zero if empty else ctx.aggregate(query, start, end)
        if value is None and default_fn is not None:
            return default_fn(ctx, ev)
        return value

    typed = Typed(result, run, False, reads)
    if node.window is not None and shape is None:
        return typed  # (a window whose start has no code: its closure)
    return _aggregate_code(typed, query, shape, default_fn)


#: A window's shape, for the generated functions: ``last`` or ``since``, the start of a
#: ``since`` and the length (``in last D``, ``since X within D``).
_Shape = tuple[str, Typed | None, Typed | None]


def _aggregate_code(
    typed: Typed, query: AggregateQuery, shape: _Shape | None, default_fn: Fn | None
) -> Typed:
    """``typed`` with the code of its closure (``run`` above, with the window's ``last`` or
    ``since``): ``{0}`` the query, ``{1}`` and ``{3}`` temporaries, ``{2}`` the start, ``{4}``
    the default, ``{5}`` the length, ``{6}`` a helper."""
    kind, start, length = shape or ("all", None, None)
    helper: Any = None
    if kind == "all":
        value = "c.aggregate({0}, None, c.now)"
    elif kind == "last":  # (now - d, now]
        value = "c.aggregate({0}, ({1} := c.now) - {5} + {6}, {1})"
        helper = _TICK
    elif length is None:  # (no start: an empty window)
        value = "{0}.zero if ({1} := {2}) is None else c.aggregate({0}, {1}, c.now)"
    else:
        value = "{0}.zero if ({1} := {2}) is None else c.aggregate({0}, {1}, {6}(c.now, {1} + {5}))"
        helper = min
    if default_fn is not None:
        value = "{4} if ({3} := " + value + ") is None else {3}"
    default = Typed(typed.type, default_fn or poison)
    zero = Typed(DURATION, lambda c, e: timedelta(0))  # (`in last` without a length)
    return coded(
        typed, value, K(query), Tmp(), start or typed, Tmp(), default, length or zero, K(helper)
    )
