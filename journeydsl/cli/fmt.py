"""``journeydsl fmt`` and ``journeydsl schema``: a journey in its canonical YAML or DSL spelling,
and the JSON Schema of the YAML spelling."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TextIO

from journeydsl.cli.common import Command, fail_usage
from journeydsl.exitcodes import ExitCode

__all__ = ["COMMANDS", "add_fmt_arguments", "cmd_fmt", "cmd_schema"]


def add_fmt_arguments(fmt: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl fmt``."""
    fmt.add_argument("file", metavar="FILE")
    fmt.add_argument(
        "--to", choices=("yaml", "dsl"), help="target spelling (default: the other one)"
    )
    fmt.add_argument("-o", "--output", metavar="OUT", help="write here instead of stdout")


def cmd_fmt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl fmt``: exit 1 when the journey does not parse (the reasons on ``err``)."""
    from journeydsl.compiler import parse_source, read_source
    from journeydsl.diagnostics import Diagnostics, render_text
    from journeydsl.syntax.printer import print_dsl, print_yaml

    p = Path(args.file)
    if not p.exists():
        fail_usage(f"{args.file}: no such file")
    text, refused = read_source(p)
    if text is None:  # a folder, a FIFO, a device, a file too large
        print(render_text(refused, {}), file=err)
        return ExitCode.ERRORS
    tree, found = parse_source(text, args.file)
    bag = Diagnostics(list(found))
    if tree is None or bag.has_errors:
        print(render_text(bag.sorted(), {args.file: text}), file=err)
        return ExitCode.ERRORS
    target = args.to or ("dsl" if p.suffix in (".yaml", ".yml") else "yaml")
    rendered = print_yaml(tree) if target == "yaml" else print_dsl(tree)
    if args.output:
        Path(args.output).write_text(rendered, encoding="utf-8")
    else:
        out.write(rendered)
    return ExitCode.OK


def _no_arguments(parser: argparse.ArgumentParser) -> None:
    """``journeydsl schema`` takes no options."""


def cmd_schema(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl schema``: the JSON Schema of a journey's YAML spelling."""
    from journeydsl.syntax.schema import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False), file=out)
    return ExitCode.OK


#: The commands this module defines.
COMMANDS = {
    "fmt": Command(add_fmt_arguments, cmd_fmt),
    "schema": Command(_no_arguments, cmd_schema),
}
