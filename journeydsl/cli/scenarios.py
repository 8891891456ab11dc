"""``journeydsl test PATH...``: run scenario test files (:mod:`journeydsl.simulate.scenarios`)
and print one line per case, with a diff of the timelines for a case that fails."""

from __future__ import annotations

import argparse
from typing import TextIO

from journeydsl.cli.common import Command, add_root_option, quiet_engine_logs
from journeydsl.exitcodes import ExitCode
from journeydsl.simulate.scenarios import discover, run_file
from journeydsl.yamlfile import InputError

__all__ = ["COMMANDS", "add_test_arguments", "test_command"]


def add_test_arguments(test: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl test``."""
    test.add_argument("paths", nargs="+", metavar="PATH", help="test files or folders")
    add_root_option(test)


def test_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl test``: 0 when every case passes, 1 when one fails or a file is invalid,
    2 when a path does not exist or holds no test file."""
    try:
        files = discover(args.paths)
    except FileNotFoundError as exc:
        print(f"journeydsl: error: {exc.args[0]}: no such file or folder", file=err)
        return ExitCode.USAGE
    if not files:
        print("journeydsl: error: no *.test.yaml files found", file=err)
        return ExitCode.USAGE
    passed = failed = invalid = 0
    with quiet_engine_logs(err):
        for f in files:
            try:
                results = run_file(f, root=args.root)
            except InputError as exc:
                print(str(exc), file=err)
                invalid += 1
                continue
            for r in results:
                if r.ok:
                    passed += 1
                    print(f"ok    {r.file}:{r.line}: {r.name}", file=out)
                else:
                    failed += 1
                    print(f"FAIL  {r.file}:{r.line}: {r.name}", file=out)
                    for p in r.problems:
                        print(f"  {p}", file=out)
    total = passed + failed
    summary = f"\n{total} case{'s' * (total != 1)}: {passed} passed, {failed} failed"
    if invalid:
        summary += f"; {invalid} invalid file{'s' * (invalid != 1)}"
    print(summary, file=out)
    return ExitCode.OK if failed == 0 and invalid == 0 else ExitCode.ERRORS


#: The command this module defines.
COMMANDS = {"test": Command(add_test_arguments, test_command)}
