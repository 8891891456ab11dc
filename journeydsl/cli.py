"""The ``journeydsl`` command line: check, graph, fmt, schema.

Exit codes: 0 success (warnings allowed), 1 a journey has errors, 2 a usage error. Heavy modules
are imported inside the commands so that ``journeydsl check`` starts fast.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from journeydsl.exitcodes import EXIT_ERRORS, EXIT_OK, EXIT_USAGE

if TYPE_CHECKING:
    from journeydsl.compiler import CompileResult
    from journeydsl.diagnostics import Diagnostic
    from journeydsl.ir import Journey

__all__ = ["main"]


class UsageError(Exception):
    """A mistake in how the command was called (exit code 2)."""


def _fail_usage(message: str) -> NoReturn:
    raise UsageError(message)


def _looks_like_journey(path: Path) -> bool:
    if path.suffix == ".journey":
        return True
    if path.suffix not in (".yaml", ".yml") or path.name.endswith((".test.yaml", ".test.yml")):
        return False
    try:
        head = path.read_text(encoding="utf-8", errors="replace")[:4096]
    except OSError:
        return False
    return any(line.startswith("journey:") for line in head.splitlines())


def expand_paths(paths: Iterable[str]) -> list[Path]:
    """Files as given; folders expand to the journeys inside them (catalogs are skipped)."""
    out: list[Path] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and _looks_like_journey(f))
            if not found:
                _fail_usage(f"{raw}: no .journey or journey .yaml files in this folder")
            out.extend(found)
        elif p.exists():
            out.append(p)
        else:
            _fail_usage(f"{raw}: no such file or folder")
    return out


def _compile(path: Path, root: Path | None) -> CompileResult:
    from journeydsl.compiler import compile_file

    return compile_file(path, root=root)


# --------------------------------------------------------------------------- check


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
    }


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
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    print("\nworst-case messages per customer (static message budget):", file=out)
    for row in table:
        cells = [
            cell.ljust(widths[i]) if i < 2 else cell.rjust(widths[i]) for i, cell in enumerate(row)
        ]
        print("  " + "  ".join(cells).rstrip(), file=out)


def _apply_policies(
    path: str, results: list[CompileResult], sources: dict[str, str]
) -> list[Diagnostic]:
    """Check each compiled journey against the policy file (adding to its diagnostics); the
    policy file's own mistakes (JD601) are returned."""
    from journeydsl.runtime.policies.checks import check_journey, load_for_check

    if not Path(path).is_file():
        _fail_usage(f"{path}: no such policy file")
    policies, problems, texts = load_for_check(path)
    sources.update(texts)
    if policies is None:
        return problems
    for r in results:
        if r.journey is not None:
            found = check_journey(r.journey, r.catalog, policies)
            r.diagnostics = sorted([*r.diagnostics, *found], key=lambda d: d.sort_key())
    return problems


def cmd_check(args: argparse.Namespace, out: TextIO) -> int:
    from journeydsl.diagnostics import Severity, render_github, render_json, render_text

    files = expand_paths(args.paths)
    results = [_compile(f, args.root) for f in files]
    sources: dict[str, str] = {}
    policy_diags = _apply_policies(args.policies, results, sources) if args.policies else []
    diags = policy_diags + [d for r in results for d in r.diagnostics]
    for r in results:
        sources.update(r.sources)
    if args.migrate:
        diags.extend(_check_migration(args.migrate, files, results, sources))
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
    return EXIT_OK if errors == 0 else EXIT_ERRORS


def _check_migration(
    mapping: str, files: list[Path], results: list[CompileResult], sources: dict[str, str]
) -> list[Diagnostic]:
    """``check --migrate MAPPING OLD NEW``: the mapping's diagnostics (the two journeys' own are
    reported already; a journey with errors cannot be checked against)."""
    from journeydsl.runtime.migrate import check_mapping, read_mapping

    if len(files) != 2:
        _fail_usage(
            f"--migrate needs exactly two journeys, the old version then the new one "
            f"(got {len(files)})"
        )
    if not Path(mapping).is_file():
        _fail_usage(f"{mapping}: no such mapping file")
    parsed, found, text = read_mapping(mapping)
    sources[mapping] = text
    old, new = results[0].journey, results[1].journey
    if parsed is None or old is None or new is None:
        return found
    return [*found, *check_mapping(parsed, old, new)]


# --------------------------------------------------------------------------- graph


def _label(node: Any) -> str:
    from journeydsl import ir

    return ir.describe(node, full=True)


def render_mermaid(journey: Journey) -> str:
    """A Mermaid flowchart of the journey graph."""
    from journeydsl import ir

    def mid(nid: str | None) -> str:
        return "END" if nid is None else "n_" + nid.replace(".", "_")

    def esc(text: str) -> str:
        return text.replace('"', "#quot;")

    lines = ["flowchart TD", f'  START(["{esc(journey.id)} v{journey.version}"])']
    lines.append(f"  START --> {mid(journey.start)}")
    for nid, node in journey.nodes.items():
        lines.append(f'  {mid(nid)}["{esc(_label(node))}"]')
    lines.append('  END(["end: completed"])')
    for nid, node in journey.nodes.items():
        for label, target in ir.edges(node):
            arrow = f"-->|{esc(label)}|" if label else "-->"
            lines.append(f"  {mid(nid)} {arrow} {mid(target)}")
    return "\n".join(lines)


def render_dot(journey: Journey) -> str:
    """A Graphviz digraph of the journey graph."""
    from journeydsl import ir

    def q(text: str) -> str:
        return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'

    lines = [f"digraph {q(journey.id)} {{", "  node [shape=box, fontname=Helvetica];"]
    lines.append(f"  __start [shape=oval, label={q(f'{journey.id} v{journey.version}')}];")
    lines.append('  __end [shape=oval, label="end: completed"];')
    lines.append(f"  __start -> {q(journey.start or '__end')};")
    for nid, node in journey.nodes.items():
        lines.append(f"  {q(nid)} [label={q(_label(node))}];")
    for nid, node in journey.nodes.items():
        for label, target in ir.edges(node):
            attrs = f" [label={q(label)}]" if label else ""
            lines.append(f"  {q(nid)} -> {q(target or '__end')}{attrs};")
    lines.append("}")
    return "\n".join(lines)


def _compile_or_report(path: str, err: TextIO, root: Path | None) -> CompileResult | None:
    from journeydsl.diagnostics import render_text

    p = Path(path)
    if not p.is_file():
        _fail_usage(f"{path}: no such file")
    result = _compile(p, root)
    if not result.ok or result.journey is None:
        print(render_text(result.diagnostics, result.sources), file=err)
        return None
    return result


def cmd_graph(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    result = _compile_or_report(args.file, err, args.root)
    if result is None or result.journey is None:
        return EXIT_ERRORS
    journey = result.journey
    if args.format == "json":
        print(json.dumps(journey.to_json(), indent=2, ensure_ascii=False), file=out)
    elif args.format == "dot":
        print(render_dot(journey), file=out)
    else:
        print(render_mermaid(journey), file=out)
    return EXIT_OK


# --------------------------------------------------------------------------- fmt and schema


def cmd_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from journeydsl.compiler import parse_source
    from journeydsl.diagnostics import Diagnostics, render_text
    from journeydsl.syntax.printer import print_dsl, print_yaml

    p = Path(args.file)
    if not p.is_file():
        _fail_usage(f"{args.file}: no such file")
    text = p.read_text(encoding="utf-8")
    tree, found = parse_source(text, args.file)
    bag = Diagnostics(list(found))
    if tree is None or bag.has_errors:
        print(render_text(bag.sorted(), {args.file: text}), file=err)
        return EXIT_ERRORS
    target = args.to or ("dsl" if p.suffix in (".yaml", ".yml") else "yaml")
    rendered = print_yaml(tree) if target == "yaml" else print_dsl(tree)
    if args.output:
        Path(args.output).write_text(rendered, encoding="utf-8")
    else:
        out.write(rendered)
    return EXIT_OK


def cmd_schema(args: argparse.Namespace, out: TextIO) -> int:
    from journeydsl.syntax.schema import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False), file=out)
    return EXIT_OK


# --------------------------------------------------------------------------- run


def cmd_run(args: argparse.Namespace, err: TextIO, out: TextIO | None = None) -> int:
    from journeydsl.runtime.run import run_command

    journeys = [] if args.check_db else expand_paths(args.journeys)
    return run_command(journeys, args, err, out)


def cmd_quarantine(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from journeydsl.runtime.quarantine import quarantine_command

    if getattr(args, "journeys", None):
        args.journeys = expand_paths(args.journeys)
    return quarantine_command(args, out, err)


# ---------------------------------------------------------------------- simulate, explain, test


def cmd_simulate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from journeydsl.simulate.command import simulate_command

    return simulate_command(args, out, err)


def cmd_explain(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from journeydsl.simulate.command import explain_command

    return explain_command(args, out, err)


def cmd_test(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from journeydsl.simulate.scenarios import test_command

    return test_command(args.paths, out, err, root=args.root)


def _add_simulation_commands(sub: Any, detailed: bool = True) -> None:
    """The simulation commands; their options only when ``detailed`` (defining them imports the
    simulator, which a `check` run should not pay for)."""
    from journeydsl.confine import add_root_option

    simulate = sub.add_parser(
        "simulate",
        help="run a journey on recorded events or a synthetic population, on a virtual clock",
        description="Run the journey with the production engine on a virtual clock, over recorded "
        "events (--events) or a synthetic population (--population N --behaviour B.yaml), and "
        "report the funnel, outcomes, messages and tickets (--format text) or the JSON contract "
        "(--format json). See docs/simulate.md.",
    )
    explain = sub.add_parser(
        "explain",
        help="print the decision log of one customer's journey instances",
        description="Simulate as `journeydsl simulate` does, then print every step one customer's "
        "instances took: conditions with their values, waits, sends and suppressions with reasons.",
    )
    if detailed:
        from journeydsl.simulate.command import add_explain_arguments, add_simulate_arguments

        add_simulate_arguments(simulate)
        add_explain_arguments(explain)
    test = sub.add_parser(
        "test",
        help="run *.test.yaml scenario files; exit 1 when a case fails",
        description="Run scenario test files (profiles, events, a time range and the expected "
        "actions and outcomes); a failing case prints a diff of expected and actual timelines.",
    )
    test.add_argument("paths", nargs="+", metavar="PATH", help="test files or folders")
    add_root_option(test)


# --------------------------------------------------------------------------- main


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n")


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI). Given the ``command`` about to run,
    it leaves out the options of the simulation commands unless that command is one of them."""
    from journeydsl import __version__
    from journeydsl.confine import add_root_option

    parser = _Parser(
        prog="journeydsl",
        description="Credit-card customer journeys as code: check, graph, format.",
    )
    parser.add_argument("--version", action="version", version=f"journeydsl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    check = sub.add_parser("check", help="check journeys; exit 1 when any has an error")
    check.add_argument("paths", nargs="+", metavar="PATH", help="journey files or folders")
    check.add_argument("--format", choices=("text", "json", "github"), default="text")
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
    add_root_option(check)

    graph = sub.add_parser("graph", help="print the compiled journey graph")
    graph.add_argument("file", metavar="FILE")
    graph.add_argument("--format", choices=("mermaid", "dot", "json"), default="mermaid")
    add_root_option(graph)

    fmt = sub.add_parser("fmt", help="print a journey in canonical YAML or DSL form")
    fmt.add_argument("file", metavar="FILE")
    fmt.add_argument(
        "--to", choices=("yaml", "dsl"), help="target spelling (default: the other one)"
    )
    fmt.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")

    sub.add_parser("schema", help="print the JSON Schema of the YAML form")

    run = sub.add_parser(
        "run",
        help="run journeys durably over an event stream, delivering to a JSON Lines file",
        description="Run journeys on a SQLite state file over a JSON Lines event stream; every "
        "effect is appended to the actions file. Re-running the same command after a crash "
        "resumes without duplicates. Customers without a profile have no consent, so a "
        "profiles file is normally given.",
    )
    run.add_argument(
        "journeys",
        nargs="*",
        metavar="JOURNEY",
        help="journey files or folders (required unless --check-db)",
    )
    run.add_argument(
        "--db",
        required=True,
        metavar="STATE.sqlite",
        help="the state file; one run writes to it at a time (a second is refused, exit 2)",
    )
    run.add_argument(
        "--events", metavar="FILE", help="JSON Lines events, or - (required unless --check-db)"
    )
    run.add_argument(
        "--actions", metavar="OUT.jsonl", help="delivered effects (required unless --check-db)"
    )
    run.add_argument(
        "--check-db",
        action="store_true",
        help="only check the state file (SQLite's integrity check and the schema version, "
        "read-only, safe while a run writes to it), print 'ok' or its problems and exit 0 or 1; "
        "journeys, --events and the other options are then not needed, and ignored if given",
    )
    run.add_argument("--profiles", metavar="P.jsonl", help="customer profiles (JSON Lines)")
    run.add_argument(
        "--now",
        metavar="T",
        help="after the stream, run on until this time (never before the time the state file "
        "already reached; held to --max-future too)",
    )
    run.add_argument(
        "--max-future",
        metavar="D",
        help="quarantine events dated more than D (e.g. 1d, 12h) after this machine's clock, "
        "and refuse such a --now: they would move the run's clock, and fire every customer's "
        "timers, that far ahead",
    )
    run.add_argument(
        "--policies", metavar="FILE", help="run under this contact-policy file (docs/policies.md)"
    )
    run.add_argument(
        "--only",
        action="store_true",
        help="run just the journeys given, though the state file has live instances of others "
        "(their timers, outbox and events are left for a run given their files)",
    )
    run.add_argument(
        "--new-db",
        action="store_true",
        help="start a new state file though the actions file already holds actions (without "
        "it, a missing --db next to a non-empty actions file is refused)",
    )
    add_root_option(run)

    quarantine = sub.add_parser(
        "quarantine",
        help="list the events a run could not take, or replay them after a fix",
        description="The events a `journeydsl run` quarantined (bad JSON, a field the catalog "
        "refuses, too far in the future) are kept in its state file, not marked processed. "
        "`list` shows them; `replay` runs them again through the journeys given (after the "
        "catalog or the data was fixed), or, without journeys, marks them for the next run.",
    )
    qsub = quarantine.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser)
    qsub.required = True
    qlist = qsub.add_parser("list", help="print the quarantined events of a state file")
    qreplay = qsub.add_parser(
        "replay", help="replay quarantined events now (journeys given) or at the next run"
    )
    for p in (qlist, qreplay):
        p.add_argument("--db", metavar="STATE.db", required=True, help="the run's state file")
        p.add_argument("--id", metavar="EVENT_ID", help="just this event")
    qlist.add_argument("--format", choices=("text", "json"), default="text")
    qreplay.add_argument(
        "journeys", nargs="*", metavar="JOURNEY", help="journey files or folders to replay through"
    )
    qreplay.add_argument(
        "--actions", metavar="OUT.jsonl", help="delivered effects (needed with journeys)"
    )
    qreplay.add_argument("--profiles", metavar="P.jsonl", help="customer profiles (JSON Lines)")
    qreplay.add_argument("--policies", metavar="FILE", help="the contact-policy file of the run")
    qreplay.add_argument(
        "--only", action="store_true", help="as for run: the state file has other journeys too"
    )
    add_root_option(qreplay)
    _add_simulation_commands(sub, command is None or command in _SIMULATION_COMMANDS)
    return parser


_SIMULATION_COMMANDS = ("simulate", "explain")


def _command(argv: Sequence[str]) -> str:
    """The command word of ``argv`` (its first argument that is not an option), or ''."""
    return next((a for a in argv if not a.startswith("-")), "")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    args = parser.parse_args(argv)
    out, err = sys.stdout, sys.stderr
    try:
        if args.command == "check":
            return cmd_check(args, out)
        if args.command == "graph":
            return cmd_graph(args, out, err)
        if args.command == "fmt":
            return cmd_fmt(args, out, err)
        if args.command == "schema":
            return cmd_schema(args, out)
        if args.command == "run":
            return cmd_run(args, err, out)
        if args.command == "quarantine":
            return cmd_quarantine(args, out, err)
        if args.command == "simulate":
            return cmd_simulate(args, out, err)
        if args.command == "explain":
            return cmd_explain(args, out, err)
        if args.command == "test":
            return cmd_test(args, out, err)
        parser.print_help(err)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. `journeydsl graph x | head`
        return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
