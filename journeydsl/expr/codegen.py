"""Expressions compiled to Python code: one generated function per expression.

The checker builds each expression's closure (``Typed.fn``, the reference evaluator) and, for
the kinds of expression this module knows, a :class:`Code` beside it: a Python expression over
``c`` (the :class:`~journeydsl.expr.context.EvalContext`) and ``e`` (the event at hand, or
None), which computes exactly what the closure computes. :func:`function` turns the code of a
whole expression into one Python function (``def _f(c, e): return …``), so that evaluating it
costs one call instead of one closure call per node.

What goes into the source text, and what never does:

* every value is a **constant of the function's namespace** (``_k0``, ``_k1``, …): literals,
  the catalog's defaults, the helpers the closures call (limits, ``Decimal``); no user string is
  ever written into the source;
* names are written as text only when they are ASCII identifiers (``c.variables["score"]``),
  otherwise they too are constants;
* temporaries (``_t0`` …) are locals of the function, bound with ``:=``;
* the namespace holds the constants and two builtins (``bool``, ``type``), nothing else.

**The fallback.** A sub-expression without code (a kind this module does not know, such as the
aggregates or a form added to the language later) is called through its closure: it becomes the
constant ``_kN`` and the text ``_kN(c, e)``. A :class:`Code` also names the closure it was made
for (``of``): a ``Typed`` whose closure was replaced later (``dataclasses.replace(typed,
fn=…)``) without new code is not trusted, and falls back to that closure the same way. So the
generated function of an expression is always at least as right as its closure.

**The switch.** ``JOURNEYDSL_EXPRESSIONS=closures`` (read when a journey is compiled) keeps the
closures everywhere: the reference evaluator, for comparisons and for bisecting a difference.
Generated functions are compiled on their first call (checking a journey compiles none of them),
and the compiled code of identical source text is shared.
"""

from __future__ import annotations

import functools
import itertools
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, TypeVar

from journeydsl.expr.context import Fn

if TYPE_CHECKING:  # (typed imports this module)
    from journeydsl.expr.typed import Typed

__all__ = [
    "ENV",
    "Code",
    "K",
    "Tmp",
    "build",
    "coded",
    "enabled",
    "fragment",
    "function",
    "generated",
    "install",
    "name_text",
]

#: The environment variable that selects the evaluator: ``closures`` for the reference closures,
#: anything else (or unset) for the generated functions.
ENV = "JOURNEYDSL_EXPRESSIONS"

_C = TypeVar("_C")
_names = itertools.count()
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
#: The placeholders of constants and temporaries in a fragment (renamed per function).
_PLACEHOLDER = re.compile(r"\b_([kt])[0-9]+\b")
_BUILTINS = {"bool": bool, "type": type}


@dataclass(frozen=True, slots=True)
class Code:
    """A Python expression over ``c`` and ``e`` (``text``), the constants it names (``consts``,
    each a unique ``_kN``), and the closure whose value it computes (``of``). ``meters``: its
    evaluation may spend the text budget of :func:`~journeydsl.expr.limits.metered` (it
    concatenates text, or calls a closure, which may)."""

    text: str
    consts: tuple[tuple[str, Any], ...]
    of: Fn
    meters: bool = False


@dataclass(frozen=True, slots=True)
class K:
    """A value to put in the generated function's namespace (never into its text)."""

    value: Any


class Tmp:
    """A temporary of the generated function (a local bound with ``:=``)."""

    __slots__ = ("name",)

    def __init__(self) -> None:
        self.name = f"_t{next(_names)}"


def enabled() -> bool:
    """Whether expressions are compiled to generated functions (see :data:`ENV`)."""
    return os.environ.get(ENV, "").strip().lower() != "closures"


def fragment(typed: Typed) -> Code | None:
    """The code of ``typed`` when it is trustworthy: made for its current closure."""
    code = typed.code
    if code is None or code.of is not typed.fn:
        return None
    return code


def name_text(name: str) -> str | K:
    """A name (a variable, a field) as text in the source when it is an ASCII identifier, else
    as a constant (and so is a name that starts with ``_``, the prefix of the placeholders)."""
    if _IDENTIFIER.match(name) and name.isascii() and not name.startswith("_"):
        return repr(name)
    return K(name)


def coded(typed: Typed, template: str, *args: Typed | K | Tmp | str, meters: bool = False) -> Typed:
    """``typed`` with code: ``template`` with ``{0}``, ``{1}`` … replaced by the code of each
    argument, a ``Typed`` (its code in parentheses, or a call of its closure: the fallback), a
    :class:`K` (a constant), a :class:`Tmp` (a temporary) or a name from :func:`name_text`.
    ``meters``: the template itself spends the text budget (see :attr:`Code.meters`)."""
    consts: list[tuple[str, Any]] = []
    parts: list[str] = []
    for arg in args:
        if isinstance(arg, str):
            if not (arg.startswith("'") and _IDENTIFIER.match(arg[1:-1]) and arg[1] != "_"):
                raise ValueError(f"not a name's text: {arg!r}")  # pragma: no cover
            parts.append(arg)
        elif isinstance(arg, K):
            name = f"_k{next(_names)}"
            consts.append((name, arg.value))
            parts.append(name)
        elif isinstance(arg, Tmp):
            parts.append(arg.name)
        else:
            code = fragment(arg)
            if code is None:  # the fallback: the sub-expression's closure
                name = f"_k{next(_names)}"
                consts.append((name, arg.fn))
                parts.append(f"{name}(c, e)")
                meters = True
            else:
                consts.extend(code.consts)
                parts.append(f"({code.text})")
                meters = meters or code.meters
    code = Code(template.format(*parts), tuple(consts), typed.fn, meters)
    return replace(typed, code=code)


def generated(typed: Typed) -> Code | None:
    """The code to generate ``typed``'s function from, or None when its closure is to be used
    (no trustworthy code, or the switch says closures)."""
    code = fragment(typed)
    return code if code is not None and enabled() else None


def function(typed: Typed) -> Fn:
    """The function to evaluate ``typed`` with: its generated function (compiled on its first
    call) when it has code and the switch allows it, else its closure."""
    code = generated(typed)
    return typed.fn if code is None else _lazy(code, None)


def install(cexpr: _C, typed: Typed, wrap: Callable[[Fn], Fn] | None = None) -> _C:
    """``cexpr`` (a frozen :class:`~journeydsl.ir.CExpr` made from ``typed``) evaluated by the
    generated function of ``typed`` when it has one: ``cexpr.fn`` compiles it on its first call
    and is then replaced by it (``wrap``ped, when given and the code :attr:`~Code.meters`), so
    that the interpreter calls it directly. Without code, ``cexpr`` is left as it is."""
    code = generated(typed)
    if code is not None:
        object.__setattr__(cexpr, "fn", _lazy(code, cexpr, wrap if code.meters else None))
    return cexpr


def _lazy(code: Code, cexpr: Any, wrap: Callable[[Fn], Fn] | None = None) -> Fn:
    built: list[Fn] = []

    def first(c: Any, e: Any) -> Any:
        if not built:
            fn = build(code)
            built.append(fn if wrap is None else wrap(fn))
            if cexpr is not None:
                object.__setattr__(cexpr, "fn", built[0])
        return built[0](c, e)

    return first


def build(code: Code) -> Fn:
    """Compile ``code`` into its function."""
    renames: dict[str, str] = {}
    counts = {"k": 0, "t": 0}

    def rename(m: re.Match[str]) -> str:
        old = m.group(0)
        if old not in renames:
            kind = m.group(1)
            renames[old] = f"_{kind}{counts[kind]}"
            counts[kind] += 1
        return renames[old]

    text = _PLACEHOLDER.sub(rename, code.text)
    namespace: dict[str, Any] = {"__builtins__": _BUILTINS}
    for name, value in code.consts:
        namespace[renames.get(name, name)] = value
    exec(_compiled(text), namespace)  # (our own source: see the docstring)
    fn: Fn = namespace["_f"]
    # The function keeps what its code was made from (the checker's closures) alive with it: in
    # the compiled build a closure and its environment form a cycle, which would otherwise be
    # left to the cyclic collector the moment the first call replaces the stub.
    vars(fn)["journeydsl_code"] = code
    return fn


@functools.lru_cache(maxsize=4096)
def _compiled(text: str) -> Any:
    return compile(f"def _f(c, e):\n    return {text}\n", "<journeydsl expression>", "exec")
