"""``journeydsl check``: compile journeys and report every diagnostic, optionally against a
contact-policy file (``--policies``), with a mapping between two versions (``--migrate``), and
with each journey's steps and worst-case message budget (``--stats``)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.cli.common import (
    Command,
    add_root_option,
    add_skip_option,
    closest,
    fail_usage,
    journeys_with_roots,
    looks_like_journey,
    policy_file_problem,
)
from journeydsl.cli.config import Config, code_filter, load_config, parse_codes
from journeydsl.exitcodes import ExitCode

if TYPE_CHECKING:
    from journeydsl.compiler import CompileResult
    from journeydsl.diagnostics import Diagnostic
    from journeydsl.yamlfile import YamlDocument

__all__ = ["COMMANDS", "add_check_arguments", "add_rule_arguments", "cmd_check", "cmd_rule"]


def add_check_arguments(check: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl check``."""
    check.add_argument("paths", nargs="+", metavar="PATH", help="journey files or folders")
    check.add_argument(
        "--format",
        choices=("text", "json", "github", "sarif"),
        default="text",
        help="text: file:line:col with the source line and a caret (default); json: one "
        "document; github: workflow commands that annotate a pull request; sarif: SARIF 2.1.0 "
        "for code-scanning tools",
    )
    check.add_argument(
        "--stats", action="store_true", help="also report steps and the worst-case message budget"
    )
    check.add_argument(
        "--policies",
        metavar="FILE",
        help="also check the journeys against this contact-policy file (docs/policies.md)",
    )
    check.add_argument(
        "--migrate",
        metavar="MAPPING",
        help="also check this mapping (YAML) of waiting steps from the first journey given (the "
        "running version) to the second (the new one): check --migrate MAPPING OLD NEW",
    )
    check.add_argument(
        "--select",
        metavar="CODES",
        help="report only these codes or code prefixes, comma-separated (JD2,JD301); "
        "default: [tool.journeydsl] select in pyproject.toml, else every code",
    )
    check.add_argument(
        "--ignore",
        metavar="CODES",
        help="never report these codes or prefixes, comma-separated (JD506), besides "
        "[tool.journeydsl] ignore in pyproject.toml",
    )
    add_root_option(check)
    add_skip_option(check)


def _stats(result: CompileResult) -> dict[str, Any]:
    journey = result.journey
    if journey is None:
        return {}
    from journeydsl import ir

    kinds: dict[str, int] = {}
    for node in journey.nodes.values():
        if isinstance(node, ir.RepeatCheck | ir.RepeatNext):
            continue
        kinds[node.kind] = kinds.get(node.kind, 0) + 1
    return {
        "journey": journey.id,
        "version": journey.version,
        "steps": sum(kinds.values()),
        "steps_by_kind": dict(sorted(kinds.items())),
        "message_budget": result.budget,
        "window_budget": _windows(journey, result.budget),
    }


def _windows(journey: Any, budget: dict[str, int] | None) -> dict[str, Any]:
    """The worst case in any 24 h and 7 d, per channel (journeydsl/budget_windows.py)."""
    from journeydsl.budget_windows import window_figures

    channels = [c for c in (budget or {}) if c != "total"]
    return window_figures(journey, channels).to_json()


def _print_stats_text(
    results: list[CompileResult], stats: list[dict[str, Any]], out: TextIO
) -> None:
    """One row per file: steps and the worst-case messages per channel."""
    from journeydsl.ast import CHANNELS

    if not stats:
        return
    rows = [(r, s) for r, s in zip(results, stats, strict=True) if s]
    if not rows:
        return
    used = {c for _, s in rows for c in s["message_budget"]}
    channels = [c for c in CHANNELS if c in used]
    header = ["file", "journey", "steps", *channels, "total"]
    table = [header]
    for r, s in rows:
        budget = s["message_budget"]
        table.append(
            [
                r.file,
                f"{s['journey']} v{s['version']}",
                str(s["steps"]),
                *(str(budget.get(c, 0)) for c in channels),
                str(budget.get("total", 0)),
            ]
        )
    print("\nworst-case messages per instance (static message budget):", file=out)
    _print_table(table, out)
    _print_windows(rows, channels, out)


def _print_table(table: list[list[str]], out: TextIO) -> None:
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        print("  " + "  ".join(cells).rstrip(), file=out)


def _print_windows(
    rows: list[tuple[CompileResult, dict[str, Any]]], channels: list[str], out: TextIO
) -> None:
    """The worst case in any 24 h / any 7 d per channel, and why a figure may be loose."""
    table = [["file", "journey", *channels, "total"]]
    notes: list[str] = []
    for r, s in rows:
        w = s["window_budget"]
        table.append(
            [
                r.file,
                f"{s['journey']} v{s['version']}",
                *(f"{w['24h'].get(c, 0)}/{w['7d'].get(c, 0)}" for c in [*channels, "total"]),
            ]
        )
        notes.extend(f"  {r.file}: loose: {why}" for why in w["loose"])
    print("\nworst case per instance in any 24 h / any 7 d:", file=out)
    _print_table(table, out)
    for line in notes:
        print(line, file=out)


def _report_redefinitions(results: list[CompileResult]) -> None:
    """Add a JD106 error to each file that defines a journey id and version an earlier file
    defines differently, at its journey's name: ``run`` would refuse the two together."""
    from journeydsl.compiler.redefinitions import redefinitions

    compiled = [
        (r.file, r.journey, r.ast.name.span)
        for r in results
        if r.journey is not None and r.ast is not None
    ]
    by_file = {r.file: r for r in results}
    for d in redefinitions(compiled):
        r = by_file[d.span.file]
        r.diagnostics = sorted([*r.diagnostics, d], key=lambda d: d.sort_key())


def _apply_policies(
    path: str, root: Path | None, results: list[CompileResult], sources: dict[str, str]
) -> list[Diagnostic]:
    """Check each compiled journey against the policy file, the files it names read from inside
    ``root`` (adding to its diagnostics); the policy file's own mistakes (JD601) are returned."""
    from journeydsl.runtime.policies.capacity_checks import limit_spans
    from journeydsl.runtime.policies.checks import check_journey, load_for_check
    from journeydsl.runtime.policies.journey_names import check_journey_names

    if (problem := policy_file_problem(path)) is not None:
        fail_usage(problem)
    read: list[YamlDocument] = []  # (the policy files parsed: where JD610 looks)
    policies, problems, texts = load_for_check(path, root=root, read=read)
    sources.update(texts)
    if policies is None:
        return problems
    spans = limit_spans(path)  # (where the limits are written, for JD607)
    for r in results:
        if r.journey is not None:
            found = check_journey(r.journey, r.catalog, policies, spans)
            r.diagnostics = sorted([*r.diagnostics, *found], key=lambda d: d.sort_key())
    if all(r.ast is not None for r in results):  # (an unreadable journey's id is unknown)
        ids = {r.ast.name.name for r in results if r.ast is not None}
        return [*problems, *check_journey_names(read, ids, sources=sources)]
    return problems


def _settings(args: argparse.Namespace) -> Config:
    """The options of this run: the command line's, else ``[tool.journeydsl]``'s."""
    config = load_config()
    root = args.root or config.root
    if root is not None and not Path(root).is_dir():
        fail_usage(f"{root}: no such folder (root in {config.file})")
    select = parse_codes(args.select.split(","), "--select") if args.select else config.select
    ignore = parse_codes(args.ignore.split(","), "--ignore") if args.ignore else ()
    return Config(
        file=config.file,
        select=select,
        ignore=(*config.ignore, *ignore),
        policies=Path(args.policies) if args.policies else config.policies,
        root=root,
    )


def cmd_check(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl check``: exit 0 when no journey has an error (warnings allowed), else 1."""
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import (
        Severity,
        render_github,
        render_json,
        render_sarif,
        render_text,
    )

    settings = _settings(args)
    paths = args.paths
    if args.skip_other_files:
        paths = [p for p in paths if Path(p).is_dir() or looks_like_journey(Path(p))]
    found = journeys_with_roots(paths, settings.root) if paths else []
    files = [f for f, _ in found]
    results = [compile_file(f, root=root) for f, root in found]
    _report_redefinitions(results)
    sources: dict[str, str] = {}
    policies = str(settings.policies) if settings.policies else None
    policy_diags = _apply_policies(policies, settings.root, results, sources) if policies else []
    diags = policy_diags + [d for r in results for d in r.diagnostics]
    for r in results:
        sources.update(r.sources)
    if args.migrate:
        diags.extend(_check_migration(args.migrate, files, results, sources))
    keep = code_filter(settings.select, settings.ignore)
    diags = [d for d in diags if keep(d.code)]
    for r in results:
        r.diagnostics = [d for d in r.diagnostics if keep(d.code)]
    errors = sum(d.severity is Severity.ERROR for d in diags)
    warnings = sum(d.severity is Severity.WARNING for d in diags)
    stats = [_stats(r) for r in results] if args.stats else []
    if args.format == "json":
        payload: dict[str, Any] = {
            "ok": errors == 0,
            "errors": errors,
            "warnings": warnings,
            "files": [
                {
                    "file": r.file,
                    "journey": r.journey.id if r.journey else None,
                    "ok": r.ok,
                    **({"stats": _stats(r)} if args.stats else {}),
                }
                for r in results
            ],
            "diagnostics": json.loads(render_json(diags)),
        }
        print(json.dumps(payload, indent=2, ensure_ascii=False), file=out)
    elif args.format == "github":
        if diags:
            print(render_github(diags), file=out)
    elif args.format == "sarif":
        from journeydsl import __version__

        print(render_sarif(diags, __version__), file=out)
    else:
        if diags:
            print(render_text(diags, sources), file=out)
        _print_stats_text(results, stats, out)
        n = len(results)
        noun = "journey" if n == 1 else "journeys"
        verdict = "ok" if errors == 0 else "failed"
        print(
            f"{'' if not diags and not stats else chr(10)}checked {n} {noun}: "
            f"{errors} error{'s' * (errors != 1)}, {warnings} warning{'s' * (warnings != 1)} "
            f"— {verdict}",
            file=out,
        )
    return ExitCode.OK if errors == 0 else ExitCode.ERRORS


def _check_migration(
    mapping: str, files: list[Path], results: list[CompileResult], sources: dict[str, str]
) -> list[Diagnostic]:
    """``check --migrate MAPPING OLD NEW``: the mapping's diagnostics (the two journeys' own are
    reported already; a journey with errors cannot be checked against)."""
    from journeydsl.runtime.migrate import check_mapping, read_mapping

    if len(files) != 2:
        fail_usage(
            f"--migrate needs exactly two journeys, the old version then the new one "
            f"(got {len(files)})"
        )
    if not Path(mapping).is_file():
        fail_usage(f"{mapping}: no such mapping file")
    parsed, found, text = read_mapping(mapping)
    sources[mapping] = text
    old, new = results[0].journey, results[1].journey
    if parsed is None or old is None or new is None:
        return found
    return [*found, *check_mapping(parsed, old, new)]


def add_rule_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl rule``."""
    parser.add_argument(
        "code",
        nargs="?",
        metavar="CODE",
        help="a diagnostic code such as JD205; without one, every code with its meaning",
    )


def cmd_rule(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl rule [CODE]``: what a diagnostic code means, with an example and the fix."""
    from journeydsl.diagnostics import CODES
    from journeydsl.rules import explain

    if args.code is None:
        for code, meaning in CODES.items():
            print(f"{code}  {meaning}", file=out)
        return ExitCode.OK
    code = args.code.strip().upper()
    if code not in CODES:
        best = closest(code, CODES)
        fail_usage(
            f"no diagnostic code '{args.code}'"
            + (f" — did you mean '{best}'?" if best else "; `journeydsl rule` lists them")
        )
    out.write(explain(code))
    return ExitCode.OK


#: The commands this module defines.
COMMANDS = {
    "check": Command(add_check_arguments, cmd_check),
    "rule": Command(add_rule_arguments, cmd_rule),
}
