"""Profile attributes a customer's profile lacks.

An attribute declared in the catalog may be missing from a profile. What reading it gives:

* the catalog's ``default:`` when it has one (the attribute is then never absent);
* otherwise an :class:`Absent` marker, which the compiled expression deals with where it is used:

  - a comparison with an absent value is false (``!=`` is true), ``x in [...]`` is false, and a
    condition (``if``, ``and``, ``or``, ``not``, a ``where``) takes an absent value as false;
  - a ``switch`` on an absent value runs its ``else``;
  - ``default(profile.x, FALLBACK)`` gives the fallback;
  - a value handed to the host (a send's params, a ticket's payload, an action's or reward's
    params) is null;
  - anywhere else (arithmetic, functions, ``set``, ``update``, a wait's length) the evaluation
    stops with :class:`AbsentAttributeError`, which says how to give a default.

An attribute declared ``optional: true`` is one the bank knows some profiles lack: the checker
then requires a fallback (JD309) wherever the value is needed, i.e. everywhere but in
comparisons, conditions and switch subjects. The marker never leaves an expression: every root
turns it into a value, a bool, null or the error above.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal, NoReturn

from journeydsl import ast as A
from journeydsl.expr.codegen import K, Tmp, coded
from journeydsl.expr.context import EvalContext, EventRecord, Fn
from journeydsl.expr.limits import MAX_AMOUNT, MAX_INT
from journeydsl.expr.literals import duration_value, time_value
from journeydsl.expr.typed import Scope, Typed
from journeydsl.expr.types import Type
from journeydsl.money import Money

__all__ = [
    "Absent",
    "AbsentAttributeError",
    "AbsentUse",
    "as_condition",
    "fallback_text",
    "is_absent",
    "parse_default",
    "settle",
]

#: How a value that may be absent is used: ``"error"`` where a value is needed (JD309 for an
#: optional attribute; :class:`AbsentAttributeError` at run time), ``"null"`` where it is handed
#: to the host (JD309; null at run time), ``"allowed"`` where absence has a meaning (a switch
#: subject: null at run time, no case matches).
AbsentUse = Literal["error", "null", "allowed"]


class Absent:
    """The value of ``profile.ATTRIBUTE`` for a customer whose profile lacks it. It is false
    in a condition and equal to nothing."""

    __slots__ = ("attribute",)

    def __init__(self, attribute: str) -> None:
        self.attribute = attribute

    def __bool__(self) -> bool:
        return False

    def __repr__(self) -> str:
        return f"<absent profile.{self.attribute}>"


def is_absent(value: object) -> bool:
    """Whether ``value`` is an absent attribute's marker (or None, as a missing field is)."""
    return value is None or type(value) is Absent


class AbsentAttributeError(ValueError):
    """An expression needed the value of a profile attribute the customer's profile lacks."""

    def __init__(self, attribute: str, fallback: str) -> None:
        self.attribute = attribute
        super().__init__(
            f"profile attribute '{attribute}' is absent for this customer; give a default: "
            f"default(profile.{attribute}, {fallback}), or `default:` in the events catalog"
        )


def fallback_text(t: Type) -> str:
    """A natural fallback of type ``t``, as DSL text, for hints: ``0 VND``, ``""``, ``false``."""
    match t.kind:
        case "money":
            return f"0 {t.currency}"
        case "int":
            return "0"
        case "decimal":
            return "0.0"
        case "enum" if t.values:
            return f'"{t.values[0]}"'
        case "string" | "enum":
            return '""'
        case "bool":
            return "false"
        case "duration":
            return "0d"
        case "date":
            return "date(entered_at)"
        case "time":
            return "00:00"
    return "entered_at"


def settle(typed: Typed, expr: A.Expr, scope: Scope, use: AbsentUse) -> Typed:
    """``typed``, which may be absent, where it is used as ``use`` says: JD309 for an optional
    attribute read without a fallback, and a closure that never returns the marker."""
    name = typed.absent
    if name is None:
        return typed
    fallback = fallback_text(typed.type)
    if typed.optional and use != "allowed":
        scope.diags.error(
            "JD309",
            f"profile attribute '{name}' is optional (a customer's profile may lack it), "
            "so this value needs a fallback",
            expr.span,
            f"write default(profile.{name}, {fallback}), or give the attribute a `default:` "
            "in the events catalog",
        )
    fn = typed.fn
    if use == "error":

        def present(c: EvalContext, e: EventRecord | None) -> Any:
            value = fn(c, e)
            if type(value) is Absent:
                raise AbsentAttributeError(value.attribute, fallback)
            return value

        needed = replace(typed, fn=present, absent=None, optional=False)
        template = "{2}({0}, {3}) if type({0} := {1}) is {4} else {0}"
        return coded(needed, template, Tmp(), typed, K(_missing), K(fallback), K(Absent))

    def or_null(c: EvalContext, e: EventRecord | None) -> Any:
        value = fn(c, e)
        return None if type(value) is Absent else value

    nullable = replace(typed, fn=or_null, absent=None, optional=False)
    return coded(nullable, "None if type({0} := {1}) is {2} else {0}", Tmp(), typed, K(Absent))


def _missing(value: Absent, fallback: str) -> NoReturn:
    """Raise the error of a needed value that is absent (for the generated functions)."""
    raise AbsentAttributeError(value.attribute, fallback)


def as_condition(typed: Typed) -> Typed:
    """A condition that may read an absent value: the marker counts as false."""
    if typed.absent is None:
        return typed
    fn: Fn = typed.fn
    condition = replace(typed, fn=lambda c, e: bool(fn(c, e)), absent=None, optional=False)
    return coded(condition, "bool({0})", typed)


# --------------------------------------------------------------------------- catalog defaults


def parse_default(text: str, t: Type) -> Any:
    """The value a catalog's ``default: TEXT`` gives an attribute of type ``t``, written as data
    (``0``, ``0 VND``, ``mass``, ``false``, ``30d``, ``09:00``, ``2026-01-01``, an ISO timestamp
    with its offset). Raises ValueError with a message for the catalog's JD109."""
    match t.kind:
        case "bool":
            if text not in ("true", "false"):
                raise ValueError(f"'{text}' is not a bool: write true or false")
            return text == "true"
        case "int":
            digits = text.replace("_", "")
            if not digits.lstrip("-").isdigit() or len(digits) > 30:
                raise ValueError(f"'{text}' is not a whole number")
            n = int(digits)
            if abs(n) >= MAX_INT:
                raise ValueError(f"'{text}' is past the limit of whole numbers (2^63)")
            return n
        case "decimal":
            return _decimal(text)
        case "money":
            amount, _, currency = text.partition(" ")
            if currency.strip() not in ("", t.currency):
                raise ValueError(f"'{text}' is not in {t.currency}")
            value = _decimal(amount)
            if value.copy_abs() >= MAX_AMOUNT:
                raise ValueError(f"'{text}' is past the limit of amounts (10^30)")
            return Money(value, t.currency or "")
        case "string":
            return text
        case "enum":
            if t.values is not None and text not in t.values:
                raise ValueError(f"'{text}' is not one of the values: {', '.join(t.values)}")
            return text
        case "duration":
            return _parsed(duration_value(text), text, "a duration such as 30d")
        case "time":
            return _parsed(time_value(text), text, "a time of day such as 09:00")
        case "date":
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise ValueError(f"'{text}' is not a date such as 2026-01-31") from None
        case "timestamp":
            try:
                at = datetime.fromisoformat(text)
            except ValueError:
                at = None
            if at is None or at.tzinfo is None:
                raise ValueError(f"'{text}' is not a timestamp such as 2026-01-31T09:00:00+07:00")
            return at
    raise ValueError(f"an attribute of type {t} cannot have a default")


def _decimal(text: str) -> Decimal:
    try:
        value = Decimal(text.replace("_", ""))
    except InvalidOperation:
        raise ValueError(f"'{text}' is not a number") from None
    if not value.is_finite() or len(value.as_tuple().digits) > 30:
        raise ValueError(f"'{text}' is not a number of at most 30 digits")
    return value


def _parsed(value: Any, text: str, what: str) -> Any:
    if value is None:
        raise ValueError(f"'{text}' is not {what}")
    return value
