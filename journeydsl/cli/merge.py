"""``journeydsl merge PART...``: the report of a simulation spread with ``simulate --part K/N``,
from its N part files, byte for byte the report of a single ``simulate`` run with the same
options (docs/simulate.md, "Spreading a simulation").

Exit codes: 0 done; 1 a part file that cannot be used (not a part file, another version, parts
of different runs, a journey changed since the parts ran); 2 a usage error (a part missing or
given twice, a file that does not exist, a report the parts cannot give).
"""

from __future__ import annotations

import argparse
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from journeydsl.cli.common import Command, UsageError
from journeydsl.exitcodes import ExitCode

if TYPE_CHECKING:
    from journeydsl.simulate.parts import PartFile

__all__ = ["COMMANDS", "add_merge_arguments", "merge_command"]


def add_merge_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl merge``."""
    p.add_argument(
        "parts",
        nargs="+",
        metavar="PART",
        help="the part files written by `journeydsl simulate … --part K/N -o PART`, in any order",
    )
    p.add_argument(
        "--format",
        choices=("text", "json", "html"),
        help="report format (default: the --format the parts were simulated with; json and "
        "html need parts simulated with --format json or html)",
    )
    p.add_argument("-o", "--output", metavar="F", help="write the report here instead of stdout")
    p.add_argument("--csv", metavar="DIR", help="also write the report's tables as CSV into DIR")
    p.add_argument(
        "--detail",
        action="store_true",
        help="html: embed every action and instance in the page (as simulate --detail)",
    )


def merge_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl merge``."""
    from journeydsl.simulate.parts import PartError, check_parts, read_part

    try:
        parts = [read_part(path) for path in args.parts]
        check_parts(parts)
    except PartError as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return ExitCode.USAGE if exc.usage else ExitCode.ERRORS
    return _report(args, parts, out, err)


def _report(args: argparse.Namespace, parts: list[PartFile], out: TextIO, err: TextIO) -> int:
    from journeydsl.cli.simulate import compile_journey, finish_parts
    from journeydsl.cli.simulate_output import write_report
    from journeydsl.cli.variants import Variant
    from journeydsl.simulate.parallel import Plan
    from journeydsl.simulate.parts import PartError, merge_parts

    run = parts[0].run
    fmt = args.format or run["report"]
    chosen = [
        Variant(j["path"], tuple((k, v) for k, v in j["params"]), j.get("policies"))
        for j in run["journeys"]
    ]
    if fmt != "text" and len(chosen) == 1 and not run["detail"]:
        raise UsageError(
            f"the parts keep counts only (simulated with --format {run['report']}): merge them "
            f"as text, or simulate them with --format {fmt}"
        )
    root = Path(run["root"]) if run["root"] else None
    journeys = []
    for variant, given in zip(chosen, run["journeys"], strict=True):
        hashes: list[str] = []
        journey = compile_journey(variant.path, err, root, variant.params, hashes)
        if journey is None:
            return ExitCode.ERRORS
        if hashes[0] != given["hash"]:
            print(
                f"journeydsl: error: {variant.path}: the journey or a catalog it reads changed "
                f"since the parts were simulated (hash {given['hash'][:12]} in the parts, "
                f"{hashes[0][:12]} now)",
                file=err,
            )
            return ExitCode.ERRORS
        journeys.append(journey)
    try:
        mergers = merge_parts(parts)
    except PartError as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return ExitCode.ERRORS
    plan = Plan(
        tuple(v.path for v in chosen),
        datetime.fromisoformat(run["start"]),
        datetime.fromisoformat(run["until"]),
        detail=run["detail"],
    )
    results = [m.result(j, plan) for m, j in zip(mergers, journeys, strict=True)]
    report_args = argparse.Namespace(
        journey=chosen[0].path,
        variants=chosen,
        compare=run["compare"],
        compare_policies=run.get("compare_policies"),
        sweep=run["sweep"],
        trace=run["trace"],
        format=fmt,
        output=args.output,
        csv=args.csv,
        detail=args.detail,
    )
    costs = {k: Decimal(v) for k, v in run["costs"].items()} if run["costs"] is not None else None
    finished = finish_parts(report_args, journeys, results, run["title"], costs, err)
    return write_report(report_args, finished, out, err)


#: The commands this module defines.
COMMANDS = {"merge": Command(add_merge_arguments, merge_command)}
