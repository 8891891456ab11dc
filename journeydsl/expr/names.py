"""Names and fields: journey variables, the built-in names, profile attributes, the trigger's
fields and the fields of the one event an aggregate or ``where`` looks at."""

from __future__ import annotations

from typing import Any

from journeydsl import ast as A
from journeydsl.diagnostics import did_you_mean, uses_hint
from journeydsl.expr import checker
from journeydsl.expr.absent import Absent
from journeydsl.expr.builtins import BUILTIN_FNS, BUILTINS
from journeydsl.expr.catalog import EventSpec
from journeydsl.expr.codegen import K, Tmp, coded, name_text
from journeydsl.expr.context import EvalContext, EventRecord
from journeydsl.expr.typed import ERR, Scope, Typed, constant
from journeydsl.expr.types import Type, article

__all__ = ["check_attr", "check_name", "field_type"]


def check_name(node: A.Name, scope: Scope) -> Typed:
    """A bare name: a constant, a journey variable or a built-in."""
    name = node.name
    if name in scope.constants:
        t, value = scope.constants[name]
        return constant(t, value)
    if name in scope.variables:
        variable = Typed(
            scope.variables[name],
            lambda ctx, ev: ctx.variables[name],
            False,
            frozenset(((name, node.span),)),
            scope.bounds.get(name),
        )
        return coded(variable, "c.variables[{0}]", name_text(name))
    if name in BUILTINS:
        builtin = Typed(BUILTINS[name], BUILTIN_FNS[name], False)
        return coded(builtin, f"c.{name}") if name.isidentifier() else builtin
    if name in scope.catalog.events:
        scope.diags.error(
            "JD212",
            f"'{name}' is an event, not a value",
            node.span,
            f"test it with has({name} …) or count it with count({name} …)",
        )
        return ERR
    if name == "entry":
        scope.diags.error(
            "JD212",
            "'entry' is a window anchor: use it as `since entry`",
            node.span,
            "the entry time itself is entered_at",
        )
        return ERR
    if name in ("profile", "trigger"):
        scope.diags.error("JD212", f"'{name}' needs a field: {name}.NAME", node.span)
        return ERR
    candidates = [*scope.variables, *BUILTINS, *scope.constants]
    scope.diags.error(
        "JD204",
        f"undefined variable '{name}'",
        node.span,
        _text_hint(name, node.span.file, scope, candidates)
        or did_you_mean(name, candidates)
        or "journey variables are declared by `set NAME = …`",
    )
    return ERR


def _text_hint(name: str, file: str, scope: Scope, names: list[str]) -> str | None:
    """For a bare word that was meant as text (a value of an enum of the catalog, or any word in
    YAML, where the quotes are easily lost): how to quote it."""
    specs = scope.catalog.events.values()
    types = [
        *(t for spec in specs for t in spec.fields.values()),
        *scope.catalog.attributes.values(),
    ]
    is_value = any(t.kind == "enum" and name in (t.values or ()) for t in types)
    in_yaml = file.endswith((".yaml", ".yml"))
    if not (is_value or (in_yaml and did_you_mean(name, names) is None)):
        return None
    said = (
        f"'{name}' is a value of an enum of the catalog, so text"
        if is_value
        else f"if '{name}' is meant as text, it is a string"
    )
    if in_yaml:
        return f"{said}: a string keeps its quotes in YAML, '\"{name}\"' (single quotes around)"
    return f'{said}: write "{name}"'


def _profile(node: A.Attr, scope: Scope) -> Typed:
    fname = node.name
    t = scope.catalog.attributes.get(fname)
    if t is None:
        scope.diags.error(
            "JD203",
            f"undefined profile attribute '{fname}'",
            node.span,
            did_you_mean(fname, scope.catalog.attributes)
            or "declare it under 'attributes:' in the events catalog",
        )
        return ERR
    if fname in scope.catalog.defaults:
        default = scope.catalog.defaults[fname]

        def or_default(ctx: EvalContext, ev: EventRecord | None) -> Any:
            value = ctx.profile.get(fname)
            return default if value is None else value

        typed = Typed(t, or_default, False)
        tmp = Tmp()
        return coded(
            typed,
            "({0} if ({1} := c.profile.get({2})) is None else {1})",
            K(default),
            tmp,
            name_text(fname),
        )
    marker = Absent(fname)

    def read(ctx: EvalContext, ev: EventRecord | None) -> Any:
        value = ctx.profile.get(fname)
        return marker if value is None else value

    typed = Typed(t, read, False, absent=fname, optional=fname in scope.catalog.optional)
    tmp = Tmp()
    return coded(
        typed,
        "({0} if ({1} := c.profile.get({2})) is None else {1})",
        K(marker),
        tmp,
        name_text(fname),
    )


def field_type(spec: EventSpec, name: str, node: A.Expr, scope: Scope) -> Type | None:
    """The type of the field ``name`` of ``spec``'s events, or None after JD202."""
    t = spec.field_type(name)
    if t is None:
        fields = sorted({*spec.fields, "at"})
        scope.diags.error(
            "JD202",
            f"event '{spec.name}' has no field '{name}'; its fields are {_listed(fields)}",
            node.span,
            did_you_mean(name, fields),
        )
    return t


def _listed(names: list[str], most: int = 12) -> str:
    """``a, b and c``; a long list ends in "… and N more"."""
    if len(names) > most:
        return ", ".join(names[:most]) + f", … and {len(names) - most} more"
    if len(names) == 1:
        return names[0]
    return ", ".join(names[:-1]) + " and " + names[-1]


def _trigger(node: A.Attr, obj: A.Name, scope: Scope) -> Typed:
    fname = node.name
    spec = scope.trigger
    if spec is None and scope.trigger_unknown:
        return ERR
    if spec is None:
        scope.diags.error("JD212", f"'trigger' is not available: {scope.trigger_missing}", obj.span)
        return ERR
    t = field_type(spec, fname, node, scope)
    if t is None:
        return ERR
    return coded(
        Typed(t, lambda ctx, ev: ctx.trigger.get(fname), False, missing=True),
        "c.trigger.get({0})",
        name_text(fname),
    )


def _event_field(node: A.Attr, base: str, scope: Scope) -> Typed:
    fname = node.name
    spec = scope.catalog.events[base]
    if scope.event is None or scope.event.name != base:
        scope.diags.error(
            "JD212",
            f"'{base}.{fname}' reads one event's field: use it inside an aggregate "
            f"over {base} or in a `where` on {base}",
            node.span,
            _aggregate_hint(spec, base, fname),
        )
        return ERR
    t = field_type(spec, fname, node, scope)
    if t is None:
        return ERR
    return _at_hand(t, fname)


def _aggregate_hint(spec: EventSpec, base: str, fname: str) -> str | None:
    """An aggregate that reads the field, by its type: a sum of an amount, else the last."""
    t = spec.field_type(fname)
    if t is None:
        return None
    if t.is_number or t.kind in ("money", "duration"):
        return f"e.g. sum({base}.{fname} in last 30d)"
    if t.kind in ("timestamp", "date", "time"):
        return f"e.g. last({base}.{fname} in last 30d else entered_at)" if fname == "at" else None
    return f"e.g. last({base}.{fname} in last 30d), or has({base} where {base}.{fname} == …)"


def _at_hand(t: Type, fname: str) -> Typed:
    """The field ``fname`` of the event at hand (None without one)."""
    return coded(
        Typed(t, lambda ctx, ev: ev.get(fname) if ev is not None else None, False, missing=True),
        "(e.get({0}) if e is not None else None)",
        name_text(fname),
    )


def _bound_field(node: A.Attr, base: str, scope: Scope) -> Typed:
    """``NAME.FIELD`` of ``wait for EVENT as NAME``: the event being matched in the wait's
    ``where``, after it the event that ended the wait (the variable ``NAME.FIELD``)."""
    fname = node.name
    spec, at_hand = scope.bound[base]
    t = field_type(spec, fname, node, scope)
    if t is None:
        return ERR
    if at_hand:
        return _at_hand(t, fname)
    key = f"{base}.{fname}"
    return coded(
        Typed(t, lambda ctx, ev: ctx.variables.get(key), False, missing=True),
        "c.variables.get({0})",
        K(key),
    )


def check_attr(node: A.Attr, scope: Scope) -> Typed:
    """``X.name``: a profile attribute, a trigger field or an event's field."""
    obj = node.obj
    if isinstance(obj, A.Name):
        base = obj.name
        local = base in scope.variables
        if base in scope.bound and not local:
            return _bound_field(node, base, scope)
        if base == "profile" and not local:
            return _profile(node, scope)
        if base == "trigger" and not local:
            return _trigger(node, obj, scope)
        if base in scope.catalog.events and not local:
            return _event_field(node, base, scope)
        if (
            not local
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
            return ERR
        if not local and base not in BUILTINS:
            scope.diags.error(
                "JD201",
                f"undefined event '{base}': the journey has no events catalog",
                obj.span,
                uses_hint("events", obj.span.file),
            )
            return ERR
    inner = checker.check(obj, scope)
    if inner.type.kind == "record":  # decision answers: ANSWER.FIELD
        return _record_field(node, inner, scope)
    if not inner.type.is_error:
        scope.diags.error(
            "JD301",
            f"{article(inner.type)} has no field '{node.name}'",
            node.span,
            "fields are read from profile.NAME, trigger.FIELD, or EVENT.FIELD inside an "
            "aggregate or a `where`",
        )
    return ERR


# ---------------------------------------------------------------- decision answers


def _record_field(node: A.Attr, inner: Typed, scope: Scope) -> Typed:
    """``ANSWER.FIELD`` of a decision's record answer: the field's type and value, the reads of
    the answer (so it is checked as set on every path before)."""
    t, fname = inner.type, node.name
    field = t.field(fname)
    if field is None:
        names = [k for k, _ in t.fields or ()]
        scope.diags.error(
            "JD202",
            f"{'the chosen offer' if t.values == ('offer',) else 'the answer'} has no field "
            f"'{fname}'; its fields are {_listed(names)}",
            node.span,
            did_you_mean(fname, names),
        )
        return ERR
    fn = inner.fn
    typed = Typed(field, lambda ctx, ev: fn(ctx, ev)[fname], False, inner.reads)
    return coded(typed, "{0}[{1}]", inner, name_text(fname))
