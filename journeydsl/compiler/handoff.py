"""Lowering of hand-offs: ``enter JOURNEY with { name: value, … }`` in the journey that hands
off, and ``entry manual with { name: type, … }`` in the journey it enters.

The target is found among the journeys compiled together: the journeys of the same folder, in
a file named after the journey (``activation_call.journey``, ``.yaml`` or ``.yml``). Its entry
must be manual, and the values passed are checked against the types it declares (JD401-JD403,
as a send's params against its template's). A chain of hand-offs that leads back to the journey
is a warning (JD508): only the journeys' re-entry rules stop a customer going round it."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.compiler.named_args import check_named_args
from journeydsl.diagnostics import Diagnostics, did_you_mean
from journeydsl.expr.checker import Scope
from journeydsl.expr.types import SIMPLE_TYPES, Type, money

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = ["declare_inputs", "input_type", "lower_enter", "target_file"]

_SUFFIXES = (".journey", ".yaml", ".yml")
_TYPE_WORDS = (*SIMPLE_TYPES, "money(CUR)", "enum(a, b, …)")


def input_type(value: A.Expr, diags: Diagnostics | None) -> Type | None:
    """The type an entry input declares: a type name (``string``), ``money(VND)`` or
    ``enum(gold, silver)``; None (and JD105 to ``diags``) for anything else."""
    if isinstance(value, A.Name) and value.name in SIMPLE_TYPES:
        return SIMPLE_TYPES[value.name]
    if isinstance(value, A.Call) and value.args and all(isinstance(a, A.Name) for a in value.args):
        words = [a.name for a in value.args if isinstance(a, A.Name)]
        if value.func == "money" and len(words) == 1 and words[0].isupper() and len(words[0]) == 3:
            return money(words[0])
        if value.func == "enum":
            return Type("enum", values=tuple(words))
    if diags is not None:
        found = value.name if isinstance(value, A.Name) else ""
        diags.error(
            "JD105",
            "an entry's input is declared with a type: "
            "bool, int, decimal, string, duration, timestamp, date, time, money(CUR) or enum(…)",
            value.span,
            did_you_mean(found, _TYPE_WORDS) if found else "e.g. `limit: money(VND)`",
        )
    return None


def declare_inputs(lw: _Lowerer) -> tuple[tuple[str, Type], ...]:
    """The inputs of the journey's ``entry manual with { … }``: each a variable of its declared
    type, set from the start (JD106 for one given twice)."""
    out: dict[str, Type] = {}
    for p in lw.src.entry.inputs:
        name = p.name.name
        if name in out:
            lw.diags.error("JD106", f"input '{name}' is declared twice", p.name.span)
            continue
        t = input_type(p.value, lw.diags)
        out[name] = t if t is not None else Type("error")
        lw.var_types[name] = out[name]
        lw.var_spans[name] = p.name.span
    return tuple(out.items())


def target_file(source: str, name: str, folder: Path | None = None) -> Path | None:
    """The file of the journey ``name`` that ``source`` hands off to: in the same folder (or
    ``folder``), named after the journey, in the same spelling first."""
    here = Path(source)
    suffixes = sorted(_SUFFIXES, key=lambda s: s != here.suffix)
    for suffix in suffixes:
        candidate = (folder or here.parent) / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=64)
def _parsed(path: str, stamp: tuple[int, int]) -> A.Journey | None:
    """The AST of the journey at ``path`` (None when it does not parse; its own check says
    why), read once per version of the file."""
    from journeydsl.compiler import parse_source, read_source

    text, _ = read_source(path)
    if text is None:
        return None
    tree, _ = parse_source(text, path)
    return tree


def _target(path: Path) -> A.Journey | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return _parsed(str(path), (info.st_mtime_ns, info.st_size))


def _walk(steps: A.Steps) -> list[A.Enter]:
    from journeydsl.compiler.steps import _walk as walk_all

    return [s for s in walk_all(steps) if isinstance(s, A.Enter)]


def _cycle(source: str, folder: Path | None, start: str, first: str) -> list[str] | None:
    """A chain of hand-offs from ``first`` back to ``start`` (the journeys' names), if any."""
    paths: dict[str, list[str]] = {first: [start, first]}
    todo = [first]
    while todo:
        name = todo.pop(0)
        if name == start:
            return paths[name]
        found = target_file(source, name, folder)
        tree = _target(found) if found is not None else None
        if tree is None:
            continue
        for step in _walk(tree.steps):
            nxt = step.journey.name
            if nxt not in paths:
                paths[nxt] = [*paths[name], nxt]
                todo.append(nxt)
    return None


def _declared(lw: _Lowerer, s: A.Enter) -> dict[str, Type] | None:
    """What the target expects, or None (reported) when it cannot be known."""
    name = s.journey.name
    span = s.journey.span
    found = target_file(span.file, name, lw.folder)
    if found is None:
        lw.diags.error(
            "JD213",
            f"no journey '{name}' to hand off to: a hand-off enters a journey of the same folder",
            span,
            f"write it in {name}.journey or {name}.yaml next to this journey",
        )
        return None
    tree = _target(found)
    if tree is None:
        return None  # (its own check reports why it does not parse)
    if tree.name.name != name:
        lw.diags.error(
            "JD213",
            f"{found.name} holds journey '{tree.name.name}', not '{name}'",
            span,
            "name the file after the journey it holds",
        )
        return None
    if tree.entry.kind != "manual":
        lw.diags.error(
            "JD213",
            f"journey '{name}' is entered {_how(tree.entry)}: a hand-off enters only a journey "
            "with `entry manual`",
            span,
            f"write `entry manual with {{ … }}` in {found.name}",
        )
        return None
    declared = {p.name.name: input_type(p.value, None) for p in tree.entry.inputs}
    if any(t is None for t in declared.values()):
        return None  # (its own check reports the bad type)
    return {k: v for k, v in declared.items() if v is not None}


def _how(entry: A.Entry) -> str:
    if entry.kind == "event" and entry.event is not None:
        return f"on {entry.event.name}"
    return {"segment": "on a segment", "when": "on a change"}.get(entry.kind, "")


def lower_enter(lw: _Lowerer, s: A.Enter, nid: str, nxt: str | None, scope: Scope) -> str:
    """The :class:`ir.Enter` of ``s``: its target found and its values checked."""
    name = s.journey.name
    declared = _declared(lw, s)
    typed = check_named_args(
        lw.diags,
        s.args,
        declared,
        scope,
        owner=f"journey '{name}'",
        owner_span=s.journey.span,
        word="value",
        add_hint=lambda missing: f"pass it: `enter {name} with {{ {missing}: … }}`",
        none_hint=f"'{name}' expects none; declare them there: `entry manual with {{ … }}`",
    )
    args = tuple((p.name.name, lw.cexpr(p.value, t)) for p, t in zip(s.args, typed, strict=True))
    if declared is not None:
        chain = _cycle(s.journey.span.file, lw.folder, lw.src.name.name, name)
        if chain is not None:
            lw.diags.warning(
                "JD508",
                f"hand-off cycle: {' → '.join(chain)}",
                s.journey.span,
                "only the journeys' re-entry rules stop a customer going round it; "
                "make sure one of them is `reentry once` or `reentry after …`",
            )
    refused = lw.lower_steps(s.not_entered, nxt, scope) if s.not_entered is not None else nxt
    node = ir.Enter(nid, s.span, name, args, nxt, refused, s.not_entered is not None)
    return lw.add(node, *typed)
