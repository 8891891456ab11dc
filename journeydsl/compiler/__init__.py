"""The compiler front door: source text → AST → IR, with every diagnostic collected.

``compile_file`` is what ``journeydsl check`` and the runtime call; each stage can also be called
on its own (``journeydsl.syntax``, :func:`journeydsl.compiler.lower.lower`, the checks).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Final

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.catalog import Catalog, load_events, load_templates, refuse
from journeydsl.confine import FileRefusedError, NotUtf8Error, confine, read_regular, utf8_text
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean

__all__ = [
    "MAX_SOURCE_BYTES",
    "CompileResult",
    "compile_file",
    "compile_source",
    "parse_source",
    "read_source",
]

#: Larger sources are refused before parsing (JD112): a journey file of more bytes is not read,
#: a source text of more characters is not parsed. Real journeys hold a few kilobytes; the
#: generated 1,000-step journey of ``benchmarks/check_large.py`` is well inside.
MAX_SOURCE_BYTES: Final = 5_000_000
JOURNEY_SUFFIXES = (".journey", ".yaml", ".yml")


@dataclass(slots=True)
class CompileResult:
    """What compiling one file gave: the AST, the IR (None when there are errors), the sorted
    diagnostics, and the text of every file read (for caret excerpts)."""

    file: str
    ast: A.Journey | None
    journey: ir.Journey | None
    diagnostics: list[Diagnostic]
    sources: dict[str, str] = field(default_factory=dict)
    budget: dict[str, int] = field(default_factory=dict)
    #: The catalogs the journey was checked against (contact-policy checks read templates).
    catalog: Catalog | None = None

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings allowed)."""
        return not any(d.severity == "error" for d in self.diagnostics)


def parse_source(text: str, file: str) -> tuple[A.Journey | None, list[Diagnostic]]:
    """Parse a journey in either spelling, chosen by the file's suffix."""
    if len(text) > MAX_SOURCE_BYTES:
        span = Span.point(file, 1, 1)
        msg = f"file is larger than {MAX_SOURCE_BYTES:,} characters; split the journey"
        return None, [_one("JD112", msg, span)]
    if file.endswith((".yaml", ".yml")):
        from journeydsl.syntax.yaml_loader import load_yaml_journey

        return load_yaml_journey(text, file)
    from journeydsl.syntax.parser import parse_journey

    return parse_journey(text, file)


def _one(code: str, message: str, span: Span) -> Diagnostic:
    d = Diagnostics()
    d.error(code, message, span)
    return d.items[0]


_NOWHERE = Span("<catalog>", 1, 1, 1, 1)


@functools.lru_cache(maxsize=64)
def _catalog_file(
    kind: str, path: str, stamp: tuple[int, ...]
) -> tuple[Catalog, tuple[Diagnostic, ...], tuple[tuple[str, str], ...]]:
    """One catalog file, read once per process and version of the file (``stamp``).
    Diagnostics that belong to the importing journey (a missing file) carry a placeholder
    span, replaced by the caller."""
    catalog = Catalog()
    diags = Diagnostics()
    sources: dict[str, str] = {}
    loader = load_events if kind == "events" else load_templates
    loader(Path(path), catalog, diags, _NOWHERE, sources)
    return catalog, tuple(diags.items), tuple(sources.items())


def _stamp(real: Path) -> tuple[int, ...]:
    """What tells one version of a file from the next (the file's identity, size and time of
    change); empty when it cannot be looked up (the loader then says why)."""
    try:
        info = real.stat()
    except OSError:
        return ()
    return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns)


def _load_catalogs(
    journey: A.Journey, base: Path, root: Path, diags: Diagnostics, sources: dict[str, str]
) -> tuple[Catalog, dict[str, A.StringLit]]:
    """The journey's catalogs, merged into a fresh :class:`Catalog` it can own, and the ``uses``
    path of each kind of catalog that could not be loaded (refused, missing, unreadable, not
    YAML, not a mapping with its section: the reason is reported already). A catalog whose real
    path is outside ``root`` is refused (JD113) before anything looks at it."""
    merged = Catalog()
    unavailable: dict[str, A.StringLit] = {}
    for kind, ref in (("events", journey.events_catalog), ("templates", journey.templates_catalog)):
        if ref is None:
            continue
        path = base / ref.value
        try:
            real = confine(path, root)
        except FileRefusedError as exc:
            refuse(str(path), exc, diags, ref.span)
            unavailable[kind] = ref
            continue
        part, found, texts = _catalog_file(kind, str(path), _stamp(real))
        diags.extend(replace(d, span=ref.span) if d.span is _NOWHERE else d for d in found)
        sources.update(texts)
        merged.events.update(part.events)
        merged.attributes.update(part.attributes)
        merged.optional |= part.optional
        merged.defaults.update(part.defaults)
        merged.templates.update(part.templates)
        merged.decisions.update(part.decisions)  # decide: the decision functions
        merged.offers.update(part.offers)  # choose: the offer catalogues
        merged.budgets.update(part.budgets)  # reward budgets
        merged.has_events |= part.has_events
        merged.has_templates |= part.has_templates
        if not (part.has_events if kind == "events" else part.has_templates):
            unavailable[kind] = ref
    return merged, unavailable


#: The "undefined" diagnostics that a kind of catalog answers: while it could not be loaded,
#: every name it would define is one of them, so they say nothing but that it is missing.
_ANSWERED_BY: Final = {
    "events": (
        frozenset({"JD201", "JD202", "JD203", "JD215", "JD216"}),
        "events and profile attributes",
    ),
    "templates": (frozenset({"JD205"}), "templates"),
}


def _fold_unchecked(diags: Diagnostics, unavailable: dict[str, A.StringLit]) -> None:
    """Replace the "undefined event/attribute/template" diagnostics that a catalog which could
    not be loaded would answer with one note (JD114) at its ``uses`` path: with the catalog
    refused (JD113) or missing (JD109), each name of the journey is "undefined", and dozens of
    errors with the hint to add the ``uses`` line the journey has would bury the one that
    matters. Every other diagnostic stays."""
    for kind, ref in unavailable.items():
        codes, what = _ANSWERED_BY[kind]
        unchecked = len({d for d in diags.items if d.code in codes})
        if not unchecked:
            continue
        diags.items = [d for d in diags.items if d.code not in codes]
        uses = "use" if unchecked == 1 else "uses"
        diags.info(
            "JD114",
            f"{unchecked} {uses} of {what} not checked: the {kind} catalog "
            f"'{ref.value}' could not be loaded",
            ref.span,
            "fix the catalog's error and check again; the names are checked against it then",
        )


def _check_timezone(journey: A.Journey, diags: Diagnostics) -> None:
    if journey.timezone is None:
        return
    import zoneinfo

    name = journey.timezone.value
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):  # "Asia" is a folder
        diags.error(
            "JD105",
            f"unknown time zone '{name}'",
            journey.timezone.span,
            did_you_mean(name, zoneinfo.available_timezones())
            or "use an IANA name such as Asia/Ho_Chi_Minh",
        )


def compile_source(
    text: str,
    file: str,
    base_dir: Path | None = None,
    *,
    root: str | Path | None = None,
    params: Mapping[str, str] | None = None,
) -> CompileResult:
    """Compile journey source ``text`` (named ``file``). Its catalogs resolve against
    ``base_dir``, by default the file's folder, and must lie inside ``root``, by default that
    same folder (see :func:`compile_file`). ``params`` gives journey parameters other values
    (source text, ``{"reminder_interval": "2d"}``), of the declared values' types; a name the
    journey does not declare is an error (JD204)."""
    from journeydsl.budget import message_budget
    from journeydsl.compiler.checks import CHECKS
    from journeydsl.compiler.fragments import Expander, relocate, relocate_nodes
    from journeydsl.compiler.lower import lower
    from journeydsl.compiler.params import override
    from journeydsl.syntax.parser import parse_expression

    sources = {file: text}
    diags = Diagnostics()
    tree, found = parse_source(text, file)
    diags.extend(found)
    if tree is None:
        return CompileResult(file, None, None, diags.sorted(), sources)
    declared: dict[str, A.Expr] | None = None
    if params:
        declared = {p.name.name: p.value for p in tree.params if p.name.name in params}
        tree, found, unknown = override(tree, params, parse_expression)
        diags.extend(found)
        for name in unknown:
            diags.error(
                "JD204",
                f"the journey declares no param '{name}'",
                tree.name.span,
                did_you_mean(name, [p.name.name for p in tree.params])
                or "declare it in the journey: `param NAME = VALUE`",
            )
    base = base_dir if base_dir is not None else Path(file).parent
    catalog, unavailable = _load_catalogs(
        tree, base, Path(root) if root is not None else base, diags, sources
    )
    _check_timezone(tree, diags)
    expander = Expander(base, diags, sources)  # fragments: includes expanded, then checked
    lowered = lower(expander.journey(tree), catalog, diags, declared, base)
    for check in CHECKS:
        check(lowered, diags)
    _fold_unchecked(diags, unavailable)
    diags.items = relocate(diags.items, expander.sites)
    relocate_nodes(lowered.journey.nodes, expander.sites)
    result = CompileResult(file, tree, None, diags.sorted(), sources, catalog=catalog)
    if result.ok:
        result.journey = lowered.journey
        result.budget = message_budget(lowered.journey)
    return result


def read_source(path: str | Path) -> tuple[str | None, list[Diagnostic]]:
    """The text of the journey file at ``path``, or None and the diagnostic that says why it is
    not read: JD110 when it is missing, unreadable, not UTF-8 or not a regular file (a FIFO is
    never waited on, a device never opened), JD112 when it holds more than
    :data:`MAX_SOURCE_BYTES` (no more than that and one byte are read)."""
    file = str(path)
    at = Span.point(file, 1, 1)
    try:
        return utf8_text(read_regular(Path(path), MAX_SOURCE_BYTES)), []
    except FileRefusedError as exc:
        if exc.cause == "size":
            message = f"the file {exc.reason}: it is not read; split the journey"
            return None, [_one("JD112", message, at)]
        return None, [_one("JD110", f"the file {exc.reason}: it is not read", at)]
    except FileNotFoundError:
        return None, [_one("JD110", "no such file", at)]
    except NotUtf8Error as exc:
        return None, [_one("JD110", str(exc), Span.point(file, exc.line, exc.column))]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [_one("JD110", f"cannot read the file: {exc}", at)]


def compile_file(
    path: str | Path, *, root: str | Path | None = None, params: Mapping[str, str] | None = None
) -> CompileResult:
    """Read and compile a ``.journey`` or ``.yaml`` file; a file that cannot be read gives JD110
    (a missing file, a folder, a FIFO, a device), one larger than :data:`MAX_SOURCE_BYTES`
    JD112 (:func:`read_source`).

    The catalogs it ``uses`` are read only from inside ``root``, by default the file's own
    folder: a path that leads outside it (absolute, ``..``, a symbolic link), a file that is not
    a regular one, or one over :data:`~journeydsl.confine.MAX_CATALOG_BYTES` is refused (JD113)
    without being read. Give ``root`` to allow catalogs in a folder above the journey's."""
    file = str(path)
    text, problems = read_source(path)
    if text is None:
        return CompileResult(file, None, None, problems)
    return compile_source(text, file, root=root, params=params)
