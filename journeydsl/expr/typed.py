"""What every part of the checker shares: :class:`Typed` (a checked expression) and
:class:`Scope` (what names mean where it is checked), with the small helpers that build them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any

from journeydsl.diagnostics import Diagnostics, Span
from journeydsl.expr.catalog import Catalog, EventSpec
from journeydsl.expr.codegen import Code, K, coded
from journeydsl.expr.context import EvalContext, EventRecord, Fn
from journeydsl.expr.types import ERROR, Type

__all__ = ["ERR", "Reads", "Scope", "Typed", "const_fn", "constant", "poison", "reads_of"]

#: The journey variables an expression reads, with where it reads them.
Reads = frozenset[tuple[str, Span]]


@dataclass(frozen=True, slots=True)
class Typed:
    """A checked expression: its type, its closure, constness and the variables it reads.

    ``bound`` is what the checker knows of its size, when it knows it (None otherwise): an upper
    bound of a string's length or a list's items, or of the magnitude of a number or an amount
    (see :mod:`journeydsl.expr.limits`).

    ``absent`` names the profile attribute whose absence the value may be (its closure may then
    return an :class:`~journeydsl.expr.absent.Absent` marker), and ``optional`` says that the
    catalog declares it optional, so that reading it without a fallback is JD309 (see
    :mod:`journeydsl.expr.absent`). ``missing`` says that the closure may return None: a field
    the event did not carry, which reads as absent too (a comparison with it is false, ``!=``
    true).

    ``code`` is the Python code that computes the same value, for the generated function of the
    expression (see :mod:`journeydsl.expr.codegen`); None where the closure is called."""

    type: Type
    fn: Fn
    const: bool = False
    reads: Reads = frozenset()
    bound: int | None = None
    absent: str | None = None
    optional: bool = False
    code: Code | None = None
    missing: bool = False


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
    #: What is known here of each variable's size (see :attr:`Typed.bound`); a variable not
    #: listed, or listed as None, may have any size.
    bounds: Mapping[str, int | None] = field(default_factory=dict)
    #: The windows of the ``sent(…)`` checked so far (shared by the scopes derived from this
    #: one): the journey keeps message history as long as the longest.
    history: list[timedelta] = field(default_factory=list)
    #: ``wait for EVENT as NAME``: each name with its event, and whether it is the event at
    #: hand (in the wait's ``where``) or the one that ended the wait (kept in the variables).
    bound: Mapping[str, tuple[EventSpec, bool]] = field(default_factory=dict)

    def for_event(self, spec: EventSpec | None) -> Scope:
        """This scope inside an aggregate or ``where`` over ``spec``'s events."""
        return replace(self, event=spec)


def const_fn(value: Any) -> Fn:
    """The closure of a constant."""
    return lambda ctx, ev: value


def constant(t: Type, value: Any, bound: int | None = None) -> Typed:
    """A constant of type ``t``: its closure, and its code (the value, as a constant of the
    generated function's namespace)."""
    return coded(Typed(t, const_fn(value), True, bound=bound), "{0}", K(value))


def poison(ctx: EvalContext, ev: EventRecord | None) -> Any:
    """The closure of an expression with a compile error: a journey with one never runs."""
    raise RuntimeError("expression with a compile error was evaluated")


#: An expression whose problem is already reported.
ERR = Typed(ERROR, poison, False)


def reads_of(*parts: Typed) -> Reads:
    """The variables read by all of ``parts``."""
    out: Reads = frozenset()
    for p in parts:
        out |= p.reads
    return out
