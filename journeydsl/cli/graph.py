"""``journeydsl graph``: the compiled journey graph as Mermaid, Graphviz DOT or JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.cli.common import Command, add_root_option, fail_usage
from journeydsl.exitcodes import ExitCode

if TYPE_CHECKING:
    from journeydsl.compiler import CompileResult
    from journeydsl.ir import Goal, Journey

__all__ = ["COMMANDS", "add_graph_arguments", "cmd_graph", "render_dot", "render_mermaid"]


def add_graph_arguments(graph: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl graph``."""
    graph.add_argument("file", metavar="FILE", help="the journey file (.journey or .yaml)")
    graph.add_argument(
        "--format",
        choices=("mermaid", "dot", "json"),
        default="mermaid",
        help="mermaid: a flowchart for Markdown (default); dot: Graphviz; json: the graph's "
        "nodes and edges",
    )
    add_root_option(graph)


def _label(node: Any) -> str:
    from journeydsl import ir

    return ir.describe(node, full=True)


def _ends(journey: Journey) -> bool:
    """Whether any path reaches the end without an outcome (an edge to no node): only then is
    the ``end: completed`` node drawn."""
    from journeydsl import ir

    if journey.start is None:
        return True
    return any(target is None for node in journey.nodes.values() for _, target in ir.edges(node))


def _goals_with_steps(journey: Journey) -> list[tuple[int, Goal]]:
    return [(n, g) for n, g in enumerate(journey.goals, 1) if g.start is not None]


def render_mermaid(journey: Journey) -> str:
    """A Mermaid flowchart of the journey graph."""
    from journeydsl import ir

    def mid(nid: str | None) -> str:
        return "END" if nid is None else "n_" + nid.replace(".", "_")

    def esc(text: str) -> str:
        return text.replace('"', "#quot;")

    lines = ["flowchart TD", f'  START(["{esc(journey.id)} v{journey.version}"])']
    lines.append(f"  START --> {mid(journey.start)}")
    for n, goal in _goals_with_steps(journey):  # goal … then { … }: its steps start here
        lines.append(f'  GOAL_{n}(["goal {esc(goal.outcome)}"])')
        lines.append(f"  GOAL_{n} --> {mid(goal.start)}")
    for nid, node in journey.nodes.items():
        lines.append(f'  {mid(nid)}["{esc(_label(node))}"]')
    if _ends(journey):
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
    if _ends(journey):
        lines.append('  __end [shape=oval, label="end: completed"];')
    lines.append(f"  __start -> {q(journey.start or '__end')};")
    for n, goal in _goals_with_steps(journey):  # goal … then { … }: its steps start here
        lines.append(f"  __goal_{n} [shape=oval, label={q(f'goal {goal.outcome}')}];")
        lines.append(f"  __goal_{n} -> {q(goal.start or '__end')};")
    for nid, node in journey.nodes.items():
        lines.append(f"  {q(nid)} [label={q(_label(node))}];")
    for nid, node in journey.nodes.items():
        for label, target in ir.edges(node):
            attrs = f" [label={q(label)}]" if label else ""
            lines.append(f"  {q(nid)} -> {q(target or '__end')}{attrs};")
    lines.append("}")
    return "\n".join(lines)


def _compile_or_report(path: str, err: TextIO, root: Path | None) -> CompileResult | None:
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import render_text

    p = Path(path)
    if not p.is_file():
        fail_usage(f"{path}: no such file")
    result = compile_file(p, root=root)
    if not result.ok or result.journey is None:
        print(render_text(result.diagnostics, result.sources), file=err)
        return None
    return result


def cmd_graph(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl graph``: exit 1 when the journey has errors (printed to ``err``)."""
    result = _compile_or_report(args.file, err, args.root)
    if result is None or result.journey is None:
        return ExitCode.ERRORS
    journey = result.journey
    if args.format == "json":
        print(json.dumps(journey.to_json(), indent=2, ensure_ascii=False), file=out)
    elif args.format == "dot":
        print(render_dot(journey), file=out)
    else:
        print(render_mermaid(journey), file=out)
    return ExitCode.OK


#: The command this module defines.
COMMANDS = {"graph": Command(add_graph_arguments, cmd_graph)}
