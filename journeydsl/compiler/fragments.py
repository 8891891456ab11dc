"""Fragments: ``include NAME(param: value, …)`` expands, at compile time, to the steps of the
fragment ``NAME`` (``fragment NAME(param: type, …) { … }`` in ``NAME.fragment`` or
``NAME.fragment.yaml``, in the journey's folder), each param replaced by its value. There is no
runtime trace of it: the IR holds the steps themselves.

Each include site is checked on its own, in the journey that includes it (its catalogs, its
variables and outcomes). A diagnostic inside a fragment points at the fragment's line and says
which include site it is about: while the journey is compiled, the copy of a site ``n`` has its
spans moved ``n * SITE_LINES`` lines down, and :func:`relocate` moves them back and names
the site. The steps of a copy get ids of their site, ``SITE__STEP`` (the include's label,
or ``include_NAME``, numbered from the second), so the ids of one include site stay the same
whatever another one does (migrations map waiting steps by id).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import fields, is_dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from journeydsl import ast as A
from journeydsl.ast_reuse import Fragment
from journeydsl.compiler.handoff import input_type
from journeydsl.compiler.named_args import check_named_args
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean
from journeydsl.expr.checker import Scope
from journeydsl.syntax.limits import MAX_STEPS, iter_steps

if TYPE_CHECKING:
    from journeydsl.compiler.lower import _Lowerer

__all__ = [
    "SITE_LINES",
    "Expander",
    "fragment_file",
    "lower_include",
    "relocate",
    "relocate_nodes",
]

#: How far down the copy of each include site is moved while it is compiled.
SITE_LINES = 1_000_000
#: How deep fragments may include fragments.
MAX_NESTING = 10
_SUFFIXES = (".fragment", ".fragment.yaml", ".fragment.yml")
_STEPS = tuple(t for t in A.Step.__args__)


def fragment_file(folder: Path, name: str) -> Path | None:
    """The file of the fragment ``name`` in ``folder`` (the DSL spelling first)."""
    for suffix in _SUFFIXES:
        candidate = folder / f"{name}{suffix}"
        if candidate.is_file():
            return candidate
    return None


@functools.lru_cache(maxsize=64)
def _parsed(
    path: str, stamp: tuple[int, int]
) -> tuple[Fragment | None, tuple[Diagnostic, ...], str]:
    from journeydsl.compiler import read_source
    from journeydsl.syntax._fragment import load_fragment

    text, problems = read_source(path)
    if text is None:
        return None, tuple(problems), ""
    found, diags = load_fragment(text, path)
    return found, tuple(diags), text


class Expander:
    """Fills each include of a journey with its fragment's steps (see the module's doc)."""

    def __init__(self, folder: Path, diags: Diagnostics, sources: dict[str, str]) -> None:
        self.folder = folder
        self.diags = diags
        self.sources = sources
        #: Per include site (site n is ``sites[n - 1]``): the include and its fragment's file.
        self.sites: list[tuple[A.Include, str]] = []
        self._stack: list[str] = []
        self._site_ids: dict[str, int] = {}
        self._reported: set[str] = set()
        #: The steps of the journey with its includes expanded so far; past MAX_STEPS (or
        #: MAX_NESTING), no include is expanded any more (fragments that include others several
        #: times each multiply: ten includes a level, six levels deep, are a million steps).
        self._steps = 0
        self._too_many = False

    def journey(self, journey: A.Journey) -> A.Journey:
        """``journey`` with its includes expanded (itself when it has none)."""
        self._steps = _count(journey.steps) + sum(_count(g.steps) for g in journey.goals)
        steps = self._walk(journey.steps)
        goals = self._walk(journey.goals)
        if steps is journey.steps and goals is journey.goals:
            return journey
        return replace(journey, steps=steps, goals=goals)

    def _walk(self, value: Any) -> Any:
        """``value`` with every include inside it expanded (the same object when none is)."""
        if isinstance(value, A.Include):
            return self._include(value)
        if isinstance(value, tuple):
            new = tuple(self._walk(v) for v in value)
            return value if all(a is b for a, b in zip(new, value, strict=True)) else new
        if isinstance(value, _STEPS) or _has_steps(value):
            changes = {}
            for f in fields(value):
                old = getattr(value, f.name)
                new = self._walk(old)
                if new is not old:
                    changes[f.name] = new
            return replace(value, **changes) if changes else value
        return value

    def _include(self, inc: A.Include) -> A.Include:
        name = inc.fragment.name
        path = fragment_file(self.folder, name)
        if path is None:
            self.diags.error(
                "JD214",
                f"no fragment '{name}': a fragment is a file of the journey's folder",
                inc.fragment.span,
                did_you_mean(name, _fragments_in(self.folder))
                or f"write it in {name}.fragment (or {name}.fragment.yaml) next to this journey",
            )
            return inc
        if name in self._stack:
            chain = " → ".join([*self._stack[self._stack.index(name) :], name])
            self.diags.error(
                "JD118",
                f"fragment '{name}' includes itself: {chain}",
                inc.span,
                "a fragment cannot include itself, directly or through another",
            )
            return inc
        if len(self._stack) >= MAX_NESTING:
            if self._too_many:
                return inc
            self._too_many = True  # (once: the other sites that deep would say it again)
            self.diags.error(
                "JD118",
                f"fragments nest more than {MAX_NESTING} deep: " + " → ".join([*self._stack, name]),
                inc.span,
                "include the inner fragments' steps in an outer one, or write them in place",
            )
            return inc
        if self._too_many:
            return inc
        info = path.stat()
        fragment, problems, text = _parsed(str(path), (info.st_mtime_ns, info.st_size))
        if fragment is None:
            if str(path) not in self._reported:
                self._reported.add(str(path))
                self.diags.extend(problems)
                self.sources[str(path)] = text
            return inc
        self.sources[str(path)] = text
        if str(path) not in self._reported:  # (a param's type: once, not once a site)
            self._reported.add(str(path))
            for p in fragment.params:
                input_type(p.value, self.diags)
        self._steps += _count(fragment.steps)
        if self._steps > MAX_STEPS:
            self._too_many = True
            self.diags.error(
                "JD112",
                f"with its fragments included, the journey has more than {MAX_STEPS:,} steps",
                inc.span,
                "include fewer fragments, or fragments that include fewer others: each include "
                "copies its fragment's steps, and those of the fragments it includes",
            )
            return inc
        self.sites.append((replace(inc, declared=fragment.params), str(path)))
        copy = _Copy(
            str(path),
            len(self.sites) * SITE_LINES,
            {p.name.name: p.value for p in inc.args},
            self._site(inc),
        )
        steps = tuple(copy.node(s) for s in fragment.steps)
        self._stack.append(name)
        try:
            steps = self._walk(steps)
        finally:
            self._stack.pop()
        return replace(inc, expanded=steps, declared=fragment.params)

    def _site(self, inc: A.Include) -> str:
        """The include site's id: its label, or ``include_NAME`` (``_2``, ``_3`` for the next)."""
        if inc.id is not None:
            return inc.id.name
        base = f"include_{inc.fragment.name}"
        n = self._site_ids[base] = self._site_ids.get(base, 0) + 1
        return base if n == 1 else f"{base}_{n}"


def _fragments_in(folder: Path) -> list[str]:
    """The names of the fragments in ``folder``."""
    try:
        names = [p.name for p in folder.iterdir()]
    except OSError:
        return []
    return [n.split(".fragment")[0] for n in names if n.endswith(_SUFFIXES)]


def _count(steps: A.Steps) -> int:
    """How many steps ``steps`` holds, nested ones included (an include counts as one)."""
    return sum(1 for _ in iter_steps(steps))


def _has_steps(value: Any) -> bool:
    """Whether ``value`` is an AST record that may hold steps (a case, an arm, a goal …)."""
    return (
        is_dataclass(value)
        and not isinstance(value, type)
        and type(value).__module__ in ("journeydsl.ast", "journeydsl.ast_reuse")
        and not isinstance(value, A.Ident | Span)
    )


class _Copy:
    """One include site's copy of a fragment's steps: spans moved down, params replaced by the
    values, step ids of the site."""

    def __init__(self, file: str, offset: int, values: dict[str, A.Expr], site: str) -> None:
        self.file = file
        self.offset = offset
        self.values = values
        self.site = site
        self._ids: dict[str, int] = {}

    def node(self, value: Any) -> Any:
        if isinstance(value, Span):
            if value.file != self.file:
                return value
            return replace(
                value, line=value.line + self.offset, end_line=value.end_line + self.offset
            )
        if isinstance(value, A.Name) and value.name in self.values:
            return self.values[value.name]
        if isinstance(value, tuple):
            return tuple(self.node(v) for v in value)
        if not is_dataclass(value) or isinstance(value, type):
            return value
        changes = {f.name: self.node(getattr(value, f.name)) for f in fields(value)}
        if isinstance(value, _STEPS) and (not isinstance(value, A.Break) or value.id):
            # (a `break` or `continue` is no step of its own: it takes an id only when written
            # with one, which is then reported)
            changes["id"] = A.Ident(self._id(value), changes["span"])
        return replace(value, **changes)

    def _id(self, step: Any) -> str:
        from journeydsl.compiler.steps import _base_id

        if step.id is not None:
            return f"{self.site}__{step.id.name}"
        base = f"{self.site}__{_base_id(step)}"
        n = self._ids[base] = self._ids.get(base, 0) + 1
        return base if n == 1 else f"{base}_{n}"


def relocate(items: list[Diagnostic], sites: list[tuple[A.Include, str]]) -> list[Diagnostic]:
    """The diagnostics with every span of an include site's copy moved back to the fragment's
    own lines, and the message naming the site."""
    if not sites:
        return items
    out = []
    for d in items:
        if d.span.line <= SITE_LINES:
            out.append(d)
            continue
        inc = sites[d.span.line // SITE_LINES - 1][0]
        if d.code == "JD204" and any(f"'{p.name.name}'" in d.message for p in inc.declared):
            continue  # (a param the include does not give: JD401 at the include says so)
        span, where = _back(d.span, sites)
        out.append(replace(d, span=span, message=f"{d.message} ({where})"))
    return out


def relocate_nodes(nodes: Mapping[str, Any], sites: list[tuple[A.Include, str]]) -> None:
    """The IR nodes of include sites' copies with their spans at the fragment's own lines (the
    contact-policy and migration checks point at them); ``nodes`` is the lowering's dict."""
    if not sites or not isinstance(nodes, dict):
        return
    for nid, node in list(nodes.items()):
        if node.span.line > SITE_LINES:
            nodes[nid] = replace(node, span=_back(node.span, sites)[0])


def _back(span: Span, sites: list[tuple[A.Include, str]]) -> tuple[Span, str]:
    """``span`` at its fragment's own lines, and the words that name its include site."""
    n = span.line // SITE_LINES
    inc, _ = sites[n - 1]
    at = replace(span, line=span.line - n * SITE_LINES, end_line=span.end_line - n * SITE_LINES)
    site = inc.span
    where = f"{site.file}:{site.line}:{site.column}"
    if site.line > SITE_LINES:  # (an include inside a fragment: name its own site too)
        inner, outer = _back(site, sites)
        where = f"{inner.file}:{inner.line}:{inner.column}, {outer}"
    return at, f"in fragment '{inc.fragment.name}' included at {where}"


def lower_include(lw: _Lowerer, s: A.Include, nxt: str | None, scope: Scope) -> str | None:
    """The include's values checked against the fragment's params (JD401-JD403), then its
    expanded steps lowered in place."""
    declared = {p.name.name: input_type(p.value, None) for p in s.declared}
    name = s.fragment.name
    check_named_args(
        lw.diags,
        s.args,
        None if not s.expanded or None in declared.values() else declared,  # type: ignore[arg-type]
        scope,
        owner=f"fragment '{name}'",
        owner_span=s.fragment.span,
        word="param",
        add_hint=lambda missing: f"give it: `include {name}({missing}: …)`",
        none_hint=f"'{name}' takes none",
    )
    return lw.lower_steps(s.expanded, nxt, scope)
