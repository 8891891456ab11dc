"""The types of the expression language.

A :class:`Type` is a value: ``Type("money", currency="VND")``, ``Type("enum", values=(...))``.
``int`` and ``decimal`` together form the *number* family; an ``enum`` is a string whose values
are known, so it compares with string literals (and a literal outside the enum is reported).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "ANY",
    "BOOL",
    "DATE",
    "DECIMAL",
    "DURATION",
    "ERROR",
    "INT",
    "STRING",
    "TIME",
    "TIMESTAMP",
    "Type",
    "article",
    "list_of",
    "money",
    "record",
    "unify",
]


@dataclass(frozen=True, slots=True)
class Type:
    """An expression type. ``error`` is the poison type of an already-reported problem: every
    operation accepts it silently, so one mistake gives one diagnostic, not a cascade."""

    kind: str
    currency: str | None = None
    values: tuple[str, ...] | None = None
    item: Type | None = None
    #: A record's fields (a decision function's answer, see :func:`record`), in declared order.
    fields: tuple[tuple[str, Type], ...] | None = None

    @property
    def is_number(self) -> bool:
        """int or decimal."""
        return self.kind in ("int", "decimal")

    @property
    def is_stringy(self) -> bool:
        """string or enum."""
        return self.kind in ("string", "enum")

    @property
    def is_error(self) -> bool:
        """The poison type (or ``any``): skip further checks."""
        return self.kind in ("error", "any")

    def __str__(self) -> str:
        if self.kind == "money":
            return f"money ({self.currency})"
        if self.kind == "enum" and self.values is not None:
            shown = ", ".join(self.values[:6]) + (", …" if len(self.values) > 6 else "")
            return f"enum ({shown})"
        if self.kind == "list":
            return f"list of {self.item}"
        if self.kind == "record" and self.fields is not None:
            return "record {" + ", ".join(f"{k}: {t}" for k, t in self.fields) + "}"
        return self.kind

    def field(self, name: str) -> Type | None:
        """The type of a record's field ``name`` (None: no such field, or not a record)."""
        return dict(self.fields or ()).get(name)


BOOL = Type("bool")
INT = Type("int")
DECIMAL = Type("decimal")
STRING = Type("string")
DURATION = Type("duration")
TIMESTAMP = Type("timestamp")
DATE = Type("date")
TIME = Type("time")
ERROR = Type("error")
ANY = Type("any")

#: Names a catalog may use for a field or param type.
SIMPLE_TYPES: dict[str, Type] = {
    "bool": BOOL,
    "int": INT,
    "decimal": DECIMAL,
    "string": STRING,
    "duration": DURATION,
    "timestamp": TIMESTAMP,
    "date": DATE,
    "time": TIME,
}


def article(t: Type | str) -> str:
    """``t`` with its indefinite article: "an int", "a money (VND)", "an enum (…)"."""
    text = str(t)
    return f"{'an' if text[:1] in 'aeiou' else 'a'} {text}"


def money(currency: str) -> Type:
    """The type of an amount in ``currency``."""
    return Type("money", currency=currency)


def record(fields: dict[str, Type]) -> Type:
    """The type of a record with ``fields`` (a decision function's answer)."""
    return Type("record", fields=tuple(fields.items()))


def list_of(item: Type) -> Type:
    """The type of a list literal."""
    return Type("list", item=item)


def unify(a: Type, b: Type) -> Type | None:
    """The common type of two branches (of an ``if … then … else``), or None if there is none."""
    if a.is_error:
        return b
    if b.is_error:
        return a
    if a == b:
        return a
    if a.is_number and b.is_number:
        return DECIMAL
    if a.is_stringy and b.is_stringy:
        return STRING
    return None


def assignable(value: Type, target: Type) -> bool:
    """Whether a value of type ``value`` can be used where ``target`` is expected."""
    if value.is_error or target.is_error:
        return True
    if value == target:
        return True
    if target.kind == "decimal" and value.kind == "int":
        return True
    # Strings and enums mix freely; literal values are checked against the enum separately.
    return target.is_stringy and value.is_stringy
