"""Type-check an expression and compile it to a closure, in one walk.

:func:`check` returns a :class:`Typed`: the expression's type, a closure that evaluates it
(``fn(ctx, event)``), whether it is constant, and the journey variables it reads. Expressions are
checked once at compile time; the runtime only ever calls the closures.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from journeydsl import ast as A
from journeydsl.diagnostics import Diagnostics, Span, did_you_mean
from journeydsl.expr.catalog import Catalog, EventSpec
from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, Fn
from journeydsl.expr.types import (
    BOOL,
    DATE,
    DECIMAL,
    DURATION,
    ERROR,
    INT,
    STRING,
    TIME,
    TIMESTAMP,
    Type,
    article,
    assignable,
    list_of,
    money,
    unify,
)
from journeydsl.money import Money

__all__ = [
    "BUILTINS",
    "FUNCTIONS",
    "MAX_LITERAL_DIGITS",
    "Scope",
    "Typed",
    "check",
    "check_bool",
    "check_enum_literal",
    "check_type",
    "duration_value",
]

#: Names every expression can read.
BUILTINS: dict[str, Type] = {
    "now": TIMESTAMP,
    "entered_at": TIMESTAMP,
    "customer_id": STRING,
    "journey_id": STRING,
    "journey_version": INT,
}

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


#: The longest duration a journey may use: waits and windows beyond it are surely mistakes, and
#: bounding them keeps timestamp arithmetic far from datetime's limits.
MAX_DURATION = timedelta(days=3660)


def duration_value(text: str) -> timedelta | None:
    """``"2d"`` → two days; None for an unknown unit or a length beyond :data:`MAX_DURATION`."""
    i = 0
    while i < len(text) and text[i].isdigit():
        i += 1
    unit = text[i:]
    if i == 0 or unit not in _UNITS or i > 12:
        return None
    seconds = int(text[:i]) * _UNITS[unit]
    if seconds > MAX_DURATION.total_seconds():
        return None
    return timedelta(seconds=seconds)


@dataclass(frozen=True, slots=True)
class Typed:
    """A checked expression: its type, its closure, constness and the variables it reads."""

    type: Type
    fn: Fn
    const: bool = False
    reads: frozenset[tuple[str, Span]] = frozenset()


@dataclass(slots=True)
class Scope:
    """What names mean where an expression is checked."""

    catalog: Catalog
    diags: Diagnostics
    variables: Mapping[str, Type] = field(default_factory=dict)
    trigger: EventSpec | None = None
    trigger_missing: str = "the journey does not enter on an event"
    event: EventSpec | None = None
    #: The entry event is misspelt (already reported): `trigger.X` is then silently unknown.
    trigger_unknown: bool = False
    constants: Mapping[str, tuple[Type, Any]] = field(default_factory=dict)

    def for_event(self, spec: EventSpec | None) -> Scope:
        """This scope inside an aggregate or ``where`` over ``spec``'s events."""
        return replace(self, event=spec)


def _const(value: Any) -> Fn:
    return lambda ctx, ev: value


def _poison(ctx: EvalContext, ev: EventRecord | None) -> Any:
    raise RuntimeError("expression with a compile error was evaluated")


_ERR = Typed(ERROR, _poison, False)


def _reads(*parts: Typed) -> frozenset[tuple[str, Span]]:
    out: frozenset[tuple[str, Span]] = frozenset()
    for p in parts:
        out |= p.reads
    return out


# --------------------------------------------------------------------------- literals


#: Number and amount literals may have at most this many digits. Larger ones are surely mistakes,
#: and refusing them keeps int() (which refuses more than 4,300 digits) and Decimal arithmetic
#: on the exact path.
MAX_LITERAL_DIGITS = 30


def _too_long(text: str, node: A.NumberLit | A.MoneyLit, scope: Scope) -> bool:
    digits = sum(c.isdigit() for c in text)
    if digits <= MAX_LITERAL_DIGITS:
        return False
    scope.diags.error(
        "JD105",
        f"the number {text[:12]}… has {digits:,} digits; at most {MAX_LITERAL_DIGITS} are allowed",
        node.span,
    )
    return True


def _number(node: A.NumberLit, scope: Scope) -> Typed:
    text = node.text.replace("_", "")
    if _too_long(text, node, scope):
        return _ERR
    if "." in text:
        return Typed(DECIMAL, _const(Decimal(text)), True)
    return Typed(INT, _const(int(text)), True)


def _money(node: A.MoneyLit, scope: Scope) -> Typed:
    if _too_long(node.amount, node, scope):
        return _ERR
    try:
        amount = Decimal(node.amount.replace("_", ""))
    except InvalidOperation:
        scope.diags.error("JD301", f"'{node.amount}' is not an amount", node.span)
        return _ERR
    return Typed(money(node.currency), _const(Money(amount, node.currency)), True)


def _duration(node: A.DurationLit, scope: Scope) -> Typed:
    value = duration_value(node.text)
    if value is None:
        unit = node.text.lstrip("0123456789.")
        if unit in _UNITS:
            scope.diags.error(
                "JD107",
                f"'{node.text}' is longer than a journey can wait (at most {MAX_DURATION.days}d)",
                node.span,
            )
        else:
            scope.diags.error(
                "JD107",
                f"unknown duration unit '{unit}' in '{node.text}'",
                node.span,
                "use s, m, h, d or w (e.g. 30d, 12h)",
            )
        return _ERR
    return Typed(DURATION, _const(value), True)


def time_value(text: str) -> time | None:
    """``"09:00"`` → 09:00; None when out of range or malformed."""
    hh, _, mm = text.partition(":")
    if not (hh.isdigit() and mm.isdigit()):
        return None
    h, m = int(hh), int(mm)
    if not (0 <= h <= 23 and 0 <= m <= 59):
        return None
    return time(h, m)


def _time(node: A.TimeLit, scope: Scope) -> Typed:
    value = time_value(node.text)
    if value is None:
        scope.diags.error(
            "JD108",
            f"'{node.text}' is not a time of day",
            node.span,
            "write HH:MM with hours 00-23 and minutes 00-59",
        )
        return _ERR
    return Typed(TIME, _const(value), True)


# --------------------------------------------------------------------------- names


def _name(node: A.Name, scope: Scope) -> Typed:
    name = node.name
    if name in scope.constants:
        t, value = scope.constants[name]
        return Typed(t, _const(value), True)
    if name in scope.variables:
        return Typed(
            scope.variables[name],
            lambda ctx, ev: ctx.variables[name],
            False,
            frozenset(((name, node.span),)),
        )
    if name in BUILTINS:
        return Typed(BUILTINS[name], _BUILTIN_FNS[name], False)
    if name in scope.catalog.events:
        scope.diags.error(
            "JD212",
            f"'{name}' is an event, not a value",
            node.span,
            f"test it with has({name} …) or count it with count({name} …)",
        )
        return _ERR
    if name == "entry":
        scope.diags.error(
            "JD212",
            "'entry' is a window anchor: use it as `since entry`",
            node.span,
            "the entry time itself is entered_at",
        )
        return _ERR
    if name in ("profile", "trigger"):
        scope.diags.error("JD212", f"'{name}' needs a field: {name}.NAME", node.span)
        return _ERR
    candidates = [*scope.variables, *BUILTINS, *scope.constants]
    scope.diags.error(
        "JD204",
        f"undefined variable '{name}'",
        node.span,
        did_you_mean(name, candidates) or "journey variables are declared by `set NAME = …`",
    )
    return _ERR


_BUILTIN_FNS: dict[str, Fn] = {
    "now": lambda ctx, ev: ctx.now,
    "entered_at": lambda ctx, ev: ctx.entered_at,
    "customer_id": lambda ctx, ev: ctx.customer_id,
    "journey_id": lambda ctx, ev: ctx.journey_id,
    "journey_version": lambda ctx, ev: ctx.journey_version,
}


def _attr(node: A.Attr, scope: Scope) -> Typed:
    obj = node.obj
    fname = node.name
    if isinstance(obj, A.Name):
        base = obj.name
        if base == "profile" and base not in scope.variables:
            t = scope.catalog.attributes.get(fname)
            if t is None:
                scope.diags.error(
                    "JD203",
                    f"undefined profile attribute '{fname}'",
                    node.span,
                    did_you_mean(fname, scope.catalog.attributes)
                    or "declare it under 'attributes:' in the events catalog",
                )
                return _ERR
            return Typed(t, lambda ctx, ev: ctx.profile.get(fname), False)
        if base == "trigger" and base not in scope.variables:
            spec = scope.trigger
            if spec is None and scope.trigger_unknown:
                return _ERR
            if spec is None:
                scope.diags.error(
                    "JD212", f"'trigger' is not available: {scope.trigger_missing}", obj.span
                )
                return _ERR
            t = spec.field_type(fname)
            if t is None:
                scope.diags.error(
                    "JD202",
                    f"event '{spec.name}' has no field '{fname}'",
                    node.span,
                    did_you_mean(fname, [*spec.fields, "at"]),
                )
                return _ERR
            return Typed(t, lambda ctx, ev: ctx.trigger.get(fname), False)
        if base in scope.catalog.events and base not in scope.variables:
            spec = scope.catalog.events[base]
            if scope.event is None or scope.event.name != base:
                scope.diags.error(
                    "JD212",
                    f"'{base}.{fname}' reads one event's field: use it inside an aggregate "
                    f"over {base} or in a `where` on {base}",
                    node.span,
                    f"e.g. sum({base}.{fname} in last 30d)" if fname != "at" else None,
                )
                return _ERR
            t = spec.field_type(fname)
            if t is None:
                scope.diags.error(
                    "JD202",
                    f"event '{base}' has no field '{fname}'",
                    node.span,
                    did_you_mean(fname, [*spec.fields, "at"]),
                )
                return _ERR
            return Typed(t, lambda ctx, ev: ev.get(fname) if ev is not None else None, False)
        if (
            base not in scope.variables
            and base not in BUILTINS
            and scope.catalog.has_events
            and base not in scope.constants
        ):
            scope.diags.error(
                "JD201",
                f"undefined event '{base}'",
                obj.span,
                did_you_mean(base, [*scope.catalog.events, "profile", "trigger"]),
            )
            return _ERR
        if base not in scope.variables and base not in BUILTINS:
            scope.diags.error(
                "JD201",
                f"undefined event '{base}': the journey has no events catalog",
                obj.span,
                'add `uses events "events.yaml"`',
            )
            return _ERR
    inner = check(obj, scope)
    if not inner.type.is_error:
        scope.diags.error("JD301", f"{article(inner.type)} has no field '{fname}'", node.span)
    return _ERR


# --------------------------------------------------------------------------- operators

_CMP: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_ORDERED = ("int", "decimal", "money", "duration", "timestamp", "date", "time", "string", "enum")


def _comparable(a: Type, b: Type, op: str, node: A.Binary, scope: Scope) -> bool:
    if a.is_error or b.is_error:
        return True
    if a.is_number and b.is_number:
        return True
    if a.kind == "money" and b.kind == "money":
        if a.currency != b.currency:
            scope.diags.error(
                "JD302",
                f"cannot compare {a.currency} with {b.currency}",
                node.span,
                "amounts are compared in one currency; convert one side first",
            )
            return False
        return True
    if (a.kind == "money" and b.is_number) or (a.is_number and b.kind == "money"):
        cur = a.currency or b.currency
        scope.diags.error(
            "JD303",
            f"cannot compare money ({cur}) with a plain number",
            node.span,
            f"write the amount with its currency, e.g. 1_000_000 {cur}",
        )
        return False
    if a.is_stringy and b.is_stringy:
        return True
    if a == b and (op in ("==", "!=") or a.kind in _ORDERED):
        return True
    scope.diags.error("JD305", f"cannot compare {a} with {b} using '{op}'", node.span)
    return False


def check_enum_literal(enum_t: Type, lit: A.Expr, scope: Scope) -> None:
    """Report a string literal (or an if-then-else of them) that is not a value of ``enum_t``."""
    if isinstance(lit, A.Cond):
        check_enum_literal(enum_t, lit.then, scope)
        check_enum_literal(enum_t, lit.otherwise, scope)
        return
    if enum_t.kind != "enum" or not isinstance(lit, A.StringLit) or enum_t.values is None:
        return
    if lit.value not in enum_t.values:
        scope.diags.error(
            "JD306",
            f"'{lit.value}' is not one of the values of this enum",
            lit.span,
            did_you_mean(lit.value, enum_t.values)
            or f"expected one of: {', '.join(enum_t.values)}",
        )


def _arith(op: str, a: Type, b: Type) -> Type | None:
    k = (a.kind, b.kind)
    if a.is_number and b.is_number:
        if op == "/":
            return DECIMAL
        if op == "%":
            return INT if k == ("int", "int") else None
        return INT if k == ("int", "int") else DECIMAL
    if op in "+-":
        if k == ("money", "money") and a.currency == b.currency:
            return a
        if k in (("timestamp", "duration"), ("date", "duration")):
            return a
        if op == "+" and k == ("duration", "timestamp"):
            return b
        if k == ("duration", "duration"):
            return DURATION
        if op == "-" and k in (("timestamp", "timestamp"), ("date", "date")):
            return DURATION
        if op == "+" and a.is_stringy and b.is_stringy:
            return STRING
    if op == "*":
        if a.kind == "money" and b.is_number:
            return a
        if a.is_number and b.kind == "money":
            return b
        if a.kind == "duration" and b.kind == "int":
            return DURATION
        if a.kind == "int" and b.kind == "duration":
            return DURATION
    if op == "/":
        if a.kind == "money" and b.is_number:
            return a
        if k == ("money", "money") and a.currency == b.currency:
            return DECIMAL
        if a.kind == "duration" and b.kind == "int":
            return DURATION
    return None


def _div(x: Any, y: Any) -> Any:
    if isinstance(x, Money):
        if isinstance(y, Money):
            return x.amount / y.amount
        return Money(x.amount / Decimal(y), x.currency)
    if isinstance(x, timedelta):
        return x / y
    return Decimal(x) / Decimal(y)


_ARITH: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": _div,
    "%": operator.mod,
}


def _binary(node: A.Binary, scope: Scope) -> Typed:
    op = node.op
    left = check(node.left, scope)
    right = check(node.right, scope)
    reads = _reads(left, right)
    const = left.const and right.const
    lt, rt = left.type, right.type
    lf, rf = left.fn, right.fn
    if op in ("and", "or"):
        for side, t in ((node.left, lt), (node.right, rt)):
            if not t.is_error and t != BOOL:
                scope.diags.error(
                    "JD304", f"'{op}' needs bool operands, this is {article(t)}", side.span
                )
        if op == "and":
            return Typed(BOOL, lambda c, e: bool(lf(c, e)) and bool(rf(c, e)), const, reads)
        return Typed(BOOL, lambda c, e: bool(lf(c, e)) or bool(rf(c, e)), const, reads)
    if op in _CMP:
        if not _comparable(lt, rt, op, node, scope):
            return Typed(ERROR, _poison, False, reads)
        check_enum_literal(lt, node.right, scope)
        check_enum_literal(rt, node.left, scope)
        cmp = _CMP[op]
        return Typed(BOOL, lambda c, e: cmp(lf(c, e), rf(c, e)), const, reads)
    if op == "in":
        if rt.is_error or lt.is_error:
            return Typed(BOOL, _poison, False, reads)
        if rt.kind != "list" or rt.item is None:
            scope.diags.error("JD301", f"'in' needs a list on its right, not {rt}", node.right.span)
            return Typed(ERROR, _poison, False, reads)
        if not (unify(lt, rt.item) or rt.item.is_error):
            scope.diags.error(
                "JD305", f"cannot look for {article(lt)} in a list of {rt.item}", node.span
            )
        if isinstance(node.right, A.ListExpr):
            for item in node.right.items:
                check_enum_literal(lt, item, scope)
        return Typed(BOOL, lambda c, e: lf(c, e) in rf(c, e), const, reads)
    if lt.is_error or rt.is_error:
        return Typed(ERROR, _poison, False, reads)
    result = _arith(op, lt, rt)
    if result is None:
        mixes_money = (lt.kind == "money") != (rt.kind == "money")
        if mixes_money and (lt.is_number or rt.is_number) and op in "+-":
            cur = lt.currency or rt.currency
            scope.diags.error(
                "JD303",
                f"cannot {'add' if op == '+' else 'subtract'} a plain number "
                f"{'to' if op == '+' else 'from'} money ({cur})",
                node.span,
                f"write the amount with its currency, e.g. 50_000 {cur}",
            )
            return _ERR
        if lt.kind == "money" and rt.kind == "money":
            if lt.currency == rt.currency:
                scope.diags.error(
                    "JD301",
                    f"cannot apply '{op}' to two amounts of money",
                    node.span,
                    "multiply or divide money by a plain number, e.g. amount * 2",
                )
            else:
                scope.diags.error(
                    "JD302",
                    f"cannot combine {lt.currency} with {rt.currency} using '{op}'",
                    node.span,
                )
            return _ERR
        scope.diags.error("JD301", f"cannot apply '{op}' to {lt} and {rt}", node.span)
        return _ERR
    fn = _ARITH[op]
    if result == DECIMAL and op != "/":
        return Typed(result, lambda c, e: fn(Decimal(lf(c, e)), Decimal(rf(c, e))), const, reads)
    if op == "/" and rt.is_number:

        def safe_div(c: EvalContext, e: EventRecord | None) -> Any:
            return _div(lf(c, e), rf(c, e))

        return Typed(result, safe_div, const, reads)
    return Typed(result, lambda c, e: fn(lf(c, e), rf(c, e)), const, reads)


def _unary(node: A.Unary, scope: Scope) -> Typed:
    inner = check(node.operand, scope)
    f = inner.fn
    t = inner.type
    if node.op == "not":
        if not t.is_error and t != BOOL:
            scope.diags.error(
                "JD304", f"'not' needs a bool, this is {article(t)}", node.operand.span
            )
        return Typed(BOOL, lambda c, e: not f(c, e), inner.const, inner.reads)
    if not t.is_error and not (t.is_number or t.kind in ("money", "duration")):
        scope.diags.error("JD301", f"cannot negate {article(t)}", node.span)
        return _ERR
    return Typed(t, lambda c, e: -f(c, e), inner.const, inner.reads)


def _cond(node: A.Cond, scope: Scope) -> Typed:
    test = check_bool(node.test, scope)
    a = check(node.then, scope)
    b = check(node.otherwise, scope)
    t = unify(a.type, b.type)
    if t is None:
        scope.diags.error(
            "JD301",
            f"the branches of this if have different types: {a.type} and {b.type}",
            node.span,
        )
        t = ERROR
    tf, af, bf = test.fn, a.fn, b.fn
    return Typed(
        t,
        lambda c, e: af(c, e) if tf(c, e) else bf(c, e),
        test.const and a.const and b.const,
        _reads(test, a, b),
    )


def _list(node: A.ListExpr, scope: Scope) -> Typed:
    items = [check(i, scope) for i in node.items]
    item_t: Type = ERROR
    for i, typed in zip(node.items, items, strict=True):
        u = unify(item_t, typed.type)
        if u is None:
            scope.diags.error(
                "JD301", f"list items must have one type: {item_t} and {typed.type}", i.span
            )
        else:
            item_t = u
    fns = [i.fn for i in items]
    return Typed(
        list_of(item_t),
        lambda c, e: [f(c, e) for f in fns],
        all(i.const for i in items),
        _reads(*items),
    )


# --------------------------------------------------------------------------- functions


def _local_date(ctx: EvalContext, ts: datetime) -> Any:
    return ts.astimezone(ctx.tz).date()


#: Plain functions: name → (argument types, result type, implementation taking ctx first).
FUNCTIONS: dict[str, tuple[tuple[Type, ...], Type, Callable[..., Any]]] = {
    "date": ((TIMESTAMP,), DATE, _local_date),
    "hour": ((TIMESTAMP,), INT, lambda ctx, ts: ts.astimezone(ctx.tz).hour),
    "weekday": ((TIMESTAMP,), INT, lambda ctx, ts: ts.astimezone(ctx.tz).isoweekday()),
    "lower": ((STRING,), STRING, lambda ctx, s: s.lower()),
    "upper": ((STRING,), STRING, lambda ctx, s: s.upper()),
    "days": ((INT,), DURATION, lambda ctx, n: timedelta(days=n)),
}
_AGG_NAMES = ("count", "has", "sum", "min", "max", "last", "top")


def _call(node: A.Call, scope: Scope) -> Typed:
    spec = FUNCTIONS.get(node.func)
    args = [check(a, scope) for a in node.args]
    reads = _reads(*args)
    if spec is None:
        scope.diags.error(
            "JD209",
            f"unknown function '{node.func}'",
            node.span,
            did_you_mean(node.func, [*FUNCTIONS, *_AGG_NAMES]),
        )
        return Typed(ERROR, _poison, False, reads)
    params, result, impl = spec
    if len(args) != len(params):
        scope.diags.error(
            "JD301",
            f"{node.func}() takes {len(params)} argument(s), got {len(args)}",
            node.span,
        )
        return Typed(ERROR, _poison, False, reads)
    for arg_node, arg, want in zip(node.args, args, params, strict=True):
        if not assignable(arg.type, want):
            scope.diags.error(
                "JD301",
                f"{node.func}() expects {article(want)}, got {article(arg.type)}",
                arg_node.span,
            )
    fns = [a.fn for a in args]
    return Typed(
        result,
        lambda c, e: impl(c, *[f(c, e) for f in fns]),
        False,  # date()/hour() depend on the customer's time zone: never folded
        reads,
    )


# --------------------------------------------------------------------------- aggregates


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
            )
            return None, None
        ev_name, field_name = target.obj.name, target.name
        ev_span = target.obj.span
    else:
        if not isinstance(target, A.Name):
            scope.diags.error(
                "JD301", "this aggregate needs an event type, e.g. transaction", target.span
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
            or (None if scope.catalog.has_events else 'add `uses events "events.yaml"`'),
        )
        return None, None
    if field_name is not None and spec.field_type(field_name) is None:
        scope.diags.error(
            "JD202",
            f"event '{ev_name}' has no field '{field_name}'",
            target.span,
            did_you_mean(field_name, [*spec.fields, "at"]),
        )
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
    frozenset[tuple[str, Span]],
]:
    """Compile a window to ``f(ctx, ev) -> (empty, start, end)``."""
    reads: frozenset[tuple[str, Span]] = frozenset()
    dur_fn: Fn | None = None
    if node.duration is not None:
        d = check(node.duration, scope)
        reads |= d.reads
        if not d.type.is_error and d.type != DURATION:
            scope.diags.error(
                "JD301",
                f"a window length is a duration such as 30d, not {article(d.type)}",
                node.duration.span,
            )
        dur_fn = d.fn
    if node.kind == "last":
        f = dur_fn

        def last(
            ctx: EvalContext, ev: EventRecord | None
        ) -> tuple[bool, datetime | None, datetime]:
            # Half-open, (now - d, now]: an event exactly d ago has left the window.
            now = ctx.now
            return False, now - (f(ctx, ev) if f else timedelta(0)) + _TICK, now

        return last, reads
    anchor = node.anchor
    start_fn: Callable[[EvalContext, EventRecord | None], datetime | None]
    if isinstance(anchor, A.Name) and anchor.name == "entry":
        start_fn = lambda ctx, ev: ctx.entered_at  # noqa: E731
    elif (
        isinstance(anchor, A.Name)
        and anchor.name in scope.catalog.events
        and anchor.name not in scope.variables
    ):
        ev_name = anchor.name
        start_fn = lambda ctx, ev: ctx.last_time(ev_name)  # noqa: E731
    elif anchor is not None:
        a = check(anchor, scope)
        reads |= a.reads
        if not a.type.is_error and a.type != TIMESTAMP:
            scope.diags.error(
                "JD301",
                f"`since` needs entry, an event type or a timestamp, not {article(a.type)}",
                anchor.span,
            )
        start_fn = a.fn
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

    return since, reads


def _aggregate(node: A.Aggregate, scope: Scope) -> Typed:
    func = node.func
    want_field = func not in ("count", "has")
    spec, field_name = _event_of(node.target, scope, want_field)
    reads: frozenset[tuple[str, Span]] = frozenset()
    result: Type = ERROR
    field_t: Type | None = spec.field_type(field_name) if spec and field_name else None
    if func == "count":
        result = INT
    elif func == "has":
        result = BOOL
    elif field_t is not None:
        result = field_t
        if func == "sum" and not (field_t.is_number or field_t.kind in ("money", "duration")):
            scope.diags.error("JD301", f"cannot sum {article(field_t)} field", node.target.span)
            result = ERROR
    by_field: str | None = None
    if node.by is not None:
        if func != "top":
            scope.diags.error(
                "JD301", f"'by' ranks the values of top(); {func}() has none", node.by.span
            )
        elif node.by.func == "sum" and node.by.field is not None:
            by_spec, by_field = _event_of(node.by.field, scope, True)
            if by_spec is not None and spec is not None and by_spec.name != spec.name:
                scope.diags.error(
                    "JD301", "top() ranks by a field of the same event", node.by.field.span
                )
            bt = by_spec.field_type(by_field) if by_spec and by_field else None
            if bt is not None and not (bt.is_number or bt.kind == "money"):
                scope.diags.error(
                    "JD301", f"cannot rank by the sum of {article(bt)}", node.by.field.span
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
        w = check_bool(node.where, scope.for_event(spec))
        reads |= w.reads
        where_fn = w.fn
    zero = _zero(result)
    default_fn: Fn | None = None
    if node.default is not None:
        d = check(node.default, scope)
        reads |= d.reads
        if func in ("count", "has", "sum"):
            scope.diags.error(
                "JD301",
                f"{func}() always has a value; 'else' is for min, max, last and top",
                node.default.span,
            )
        elif not assignable(d.type, result):
            scope.diags.error(
                "JD301",
                f"the 'else' value must be {article(result)}, not {article(d.type)}",
                node.default.span,
            )
        elif d.const:
            check_enum_literal(result, node.default, scope)
            zero = d.fn(None, None)  # type: ignore[arg-type]  # constants ignore the context
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
    if node.window is not None:
        window_fn, wreads = _window(node.window, scope)
        reads |= wreads
    if spec is None or result.is_error:
        return Typed(result if result.is_error else ERROR, _poison, False, reads)
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

    return Typed(result, run, False, reads)


# --------------------------------------------------------------------------- entry points


def check(expr: A.Expr, scope: Scope) -> Typed:
    """Type-check ``expr`` in ``scope``, reporting problems to ``scope.diags``."""
    match expr:
        case A.BoolLit(value=v):
            return Typed(BOOL, _const(v), True)
        case A.NumberLit():
            return _number(expr, scope)
        case A.StringLit(value=v):
            return Typed(STRING, _const(v), True)
        case A.MoneyLit():
            return _money(expr, scope)
        case A.DurationLit():
            return _duration(expr, scope)
        case A.TimeLit():
            return _time(expr, scope)
        case A.Name():
            return _name(expr, scope)
        case A.Attr():
            return _attr(expr, scope)
        case A.Unary():
            return _unary(expr, scope)
        case A.Binary():
            return _binary(expr, scope)
        case A.Cond():
            return _cond(expr, scope)
        case A.ListExpr():
            return _list(expr, scope)
        case A.Call():
            return _call(expr, scope)
        case A.Aggregate():
            return _aggregate(expr, scope)
    raise TypeError(f"not an expression: {expr!r}")  # pragma: no cover


def check_bool(expr: A.Expr, scope: Scope) -> Typed:
    """Check a condition: it must be a bool."""
    typed = check(expr, scope)
    if not typed.type.is_error and typed.type != BOOL:
        scope.diags.error(
            "JD304", f"a condition must be true or false, this is {article(typed.type)}", expr.span
        )
        return Typed(ERROR, _poison, False, typed.reads)
    return typed


def check_type(expr: A.Expr, scope: Scope, want: Type, what: str, code: str = "JD301") -> Typed:
    """Check ``expr`` and require a value assignable to ``want`` (``what`` names the slot;
    ``code`` is the diagnostic for a plain type mismatch)."""
    typed = check(expr, scope)
    if not assignable(typed.type, want):
        if want.kind == "money" and typed.type.is_number:
            scope.diags.error(
                "JD303",
                f"{what} is money ({want.currency}), not a plain number",
                expr.span,
                f"write the amount with its currency, e.g. 1_000_000 {want.currency}",
            )
        elif want.kind == "money" and typed.type.kind == "money":
            scope.diags.error(
                "JD302", f"{what} is in {want.currency}, not {typed.type.currency}", expr.span
            )
        else:
            scope.diags.error(
                code, f"{what} must be {article(want)}, not {article(typed.type)}", expr.span
            )
        return Typed(ERROR, _poison, False, typed.reads)
    if want.kind == "enum":
        check_enum_literal(want, expr, scope)
    return typed
