"""The compiler front door: source text → AST → IR, with every diagnostic collected.

``compile_file`` is what ``journeydsl check`` and the runtime call; each stage can also be called
on its own (``journeydsl.syntax``, :func:`journeydsl.compiler.lower.lower`, the checks).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

from journeydsl import ast as A
from journeydsl import ir
from journeydsl.catalog import Catalog, load_events, load_templates
from journeydsl.diagnostics import Diagnostic, Diagnostics, Span, did_you_mean

__all__ = ["MAX_SOURCE_BYTES", "CompileResult", "compile_file", "compile_source", "parse_source"]

#: Larger sources are refused before parsing (JD112).
MAX_SOURCE_BYTES = 5_000_000
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


@functools.lru_cache(maxsize=32)
def _catalog(
    events: str | None,
    events_mtime: float,
    templates: str | None,
    templates_mtime: float,
    events_origin: Span | None,
    templates_origin: Span | None,
) -> tuple[Catalog, tuple[Diagnostic, ...], tuple[tuple[str, str], ...]]:
    catalog = Catalog()
    diags = Diagnostics()
    sources: dict[str, str] = {}
    if events is not None and events_origin is not None:
        load_events(Path(events), catalog, diags, events_origin, sources)
    if templates is not None and templates_origin is not None:
        load_templates(Path(templates), catalog, diags, templates_origin, sources)
    return catalog, tuple(diags.items), tuple(sources.items())


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return -1.0


def _load_catalogs(
    journey: A.Journey, base: Path, diags: Diagnostics, sources: dict[str, str]
) -> Catalog:
    ev = base / journey.events_catalog.value if journey.events_catalog else None
    tp = base / journey.templates_catalog.value if journey.templates_catalog else None
    catalog, found, texts = _catalog(
        str(ev) if ev else None,
        _mtime(ev) if ev else 0.0,
        str(tp) if tp else None,
        _mtime(tp) if tp else 0.0,
        journey.events_catalog.span if journey.events_catalog else None,
        journey.templates_catalog.span if journey.templates_catalog else None,
    )
    diags.extend(found)
    sources.update(texts)
    # The cached catalog is shared: hand each journey its own copy to keep compiles independent.
    return Catalog(
        dict(catalog.events),
        dict(catalog.attributes),
        dict(catalog.templates),
        catalog.has_events,
        catalog.has_templates,
    )


def _check_timezone(journey: A.Journey, diags: Diagnostics) -> None:
    if journey.timezone is None:
        return
    import zoneinfo

    name = journey.timezone.value
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        diags.error(
            "JD105",
            f"unknown time zone '{name}'",
            journey.timezone.span,
            did_you_mean(name, zoneinfo.available_timezones())
            or "use an IANA name such as Asia/Ho_Chi_Minh",
        )


def compile_source(text: str, file: str, base_dir: Path | None = None) -> CompileResult:
    """Compile journey source ``text`` (named ``file``; catalogs resolve against ``base_dir``,
    by default the file's folder)."""
    from journeydsl.compiler.budget import message_budget
    from journeydsl.compiler.checks import CHECKS
    from journeydsl.compiler.lower import lower

    sources = {file: text}
    diags = Diagnostics()
    tree, found = parse_source(text, file)
    diags.extend(found)
    if tree is None:
        return CompileResult(file, None, None, diags.sorted(), sources)
    base = base_dir if base_dir is not None else Path(file).parent
    catalog = _load_catalogs(tree, base, diags, sources)
    _check_timezone(tree, diags)
    lowered = lower(tree, catalog, diags)
    for check in CHECKS:
        check(lowered, diags)
    result = CompileResult(file, tree, None, diags.sorted(), sources)
    if result.ok:
        result.journey = lowered.journey
        result.budget = message_budget(lowered.journey)
    return result


def compile_file(path: str | Path) -> CompileResult:
    """Read and compile a ``.journey`` or ``.yaml`` file; unreadable files give JD110."""
    p = Path(path)
    file = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return CompileResult(
            file, None, None, [_one("JD110", "no such file", Span.point(file, 1, 1))]
        )
    except (OSError, UnicodeDecodeError) as exc:
        msg = f"cannot read the file: {exc}"
        return CompileResult(file, None, None, [_one("JD110", msg, Span.point(file, 1, 1))])
    return compile_source(text, file)
