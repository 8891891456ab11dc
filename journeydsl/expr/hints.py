"""Hints for type errors (JD301-JD309): what a value of the wanted type looks like, and the
likely fix for the value that was found ("write the amount without quotes, with its currency").

Every type error carries a hint (a test reads the checker's source and fails on one without):
a message says what is wrong, the hint says what to write instead.
"""

from __future__ import annotations

from journeydsl.expr.types import Type

__all__ = ["example_of", "mismatch_hint", "not_bool_hint"]

_EXAMPLES: dict[str, str] = {
    "int": "3",
    "decimal": "1.5",
    "string": '"gold"',
    "bool": "true",
    "duration": "3d",
    "timestamp": "entered_at + 7d",
    "date": "date(now)",
    "time": "09:00",
}


def example_of(t: Type) -> str:
    """A literal or a short expression of type ``t``, to show in a hint."""
    if t.kind == "money":
        return f"1_000_000 {t.currency or 'VND'}"
    if t.kind == "enum" and t.values:
        return f'"{t.values[0]}"'
    if t.kind == "list" and t.item is not None:
        return f"[{example_of(t.item)}]"
    return _EXAMPLES.get(t.kind, "a value of that type")


def _quoted_fix(want: Type) -> str | None:
    """The hint for a string written where ``want`` was meant: the quotes are the mistake."""
    if want.kind == "money":
        return f"write the amount without quotes and with its currency, e.g. {example_of(want)}"
    if want.is_number:
        return f"write the number without quotes, e.g. {example_of(want)}"
    if want.kind in ("duration", "time"):
        return f"write the {want.kind} without quotes, e.g. {example_of(want)}"
    if want.kind == "bool":
        return "write true or false without quotes"
    return None


def mismatch_hint(want: Type, got: Type) -> str:
    """The hint for a value of type ``got`` where ``want`` was expected (or compared with)."""
    if got.is_stringy and not want.is_stringy and (fix := _quoted_fix(want)):
        return fix
    if want.is_stringy and got.is_number:
        if want.kind == "enum" and want.values:
            shown = ", ".join(want.values[:6])
            return f"the value is one of {shown}; quote it, e.g. {example_of(want)}"
        return f'quote the text, e.g. "{example_of(got)}"'
    if want.kind == "duration" and got.is_number:
        return "give the number a unit: s, m, h, d or w (e.g. 3d, 12h)"
    if want.kind == "timestamp" and got.kind == "duration":
        return "a point in time is a timestamp plus a duration, e.g. entered_at + 7d"
    if want.kind == "money" and got.kind == "money":
        return f"amounts are compared and combined in one currency; write {example_of(want)}"
    if want.kind == "bool":
        return not_bool_hint(got)
    return f"use {_a(want)} here, e.g. {example_of(want)}"


def not_bool_hint(got: Type) -> str:
    """The hint for a value of type ``got`` used as a condition."""
    if got.is_number:
        return "compare it to turn it into a condition, e.g. `… > 0`"
    if got.kind in ("money", "duration"):
        return f"compare it to turn it into a condition, e.g. `… >= {example_of(got)}`"
    if got.is_stringy:
        return 'compare it to a value, e.g. `profile.segment == "gold"`'
    return "a condition is a comparison, has(…), a bool field or attribute, or true/false"


def _a(t: Type) -> str:
    text = t.kind if t.kind not in ("enum", "list") else str(t)
    return f"{'an' if text[:1] in 'aeiou' else 'a'} {text}"
