"""``journeydsl test PATH...``: run scenario test files (:mod:`journeydsl.simulate.scenarios`)
and print one line per case, with a diff of the timelines for a case that fails; or, for CI,
one JSON document (``--format json``) and a JUnit XML file (``--junit FILE``).

Every case is a test; a test file that is invalid (it cannot be read, or an expectation no run
could meet) is one test of status ``error``, with its mistakes."""

from __future__ import annotations

import argparse
import json
import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TextIO

from journeydsl.cli.common import (
    Command,
    add_root_option,
    fail_usage,
    output_file_problem,
    quiet_engine_logs,
    write_atomically,
)
from journeydsl.exitcodes import ExitCode
from journeydsl.simulate.scenarios import Failure, discover, run_file
from journeydsl.yamlfile import InputError

__all__ = ["COMMANDS", "Outcome", "add_test_arguments", "junit_xml", "test_command", "test_json"]

Status = Literal["passed", "failed", "error"]


def add_test_arguments(test: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl test``."""
    test.add_argument("paths", nargs="+", metavar="PATH", help="test files or folders")
    add_root_option(test)
    test.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: a line per case, a diff for a failing one (default); json: one JSON "
        "document with every case, its status and failures, and the totals",
    )
    test.add_argument(
        "--junit",
        metavar="FILE",
        help="also write the results as JUnit XML to FILE (for GitLab, Jenkins, GitHub)",
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """One test as the reports show it: a case (passed or failed), or an invalid test file
    (error, at its first mistake, named by its path)."""

    file: str
    line: int
    column: int
    name: str
    status: Status
    #: What failed (the case's failed expectations) or what is wrong (the file's mistakes).
    failures: tuple[Failure, ...] = ()


def _run(files: Sequence[Path], root: Path | None, err: TextIO) -> list[Outcome]:
    """Every test of ``files``: each case's verdict, or an invalid file's mistakes (printed on
    ``err`` too)."""
    found: list[Outcome] = []
    with quiet_engine_logs(err):
        for f in files:
            try:
                results = run_file(f, root=root)
            except InputError as exc:
                print(str(exc), file=err)
                found.append(_invalid(str(f), exc))
                continue
            found.extend(
                Outcome(
                    r.file,
                    r.line,
                    r.column,
                    r.name,
                    "passed" if r.ok else "failed",
                    tuple(r.failures),
                )
                for r in results
            )
    return found


def _invalid(file: str, exc: InputError) -> Outcome:
    """An invalid test file as one test: at its first mistake in the file itself."""
    mistakes = tuple(Failure(e.file, e.line, e.column, e.message) for e in exc.errors)
    first = next((m for m in mistakes if m.file == file), None)
    line, column = (first.line, first.column) if first else (1, 1)
    return Outcome(file, line, column, file, "error", mistakes)


def test_json(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """The document ``journeydsl test --format json`` prints (docs/formats.md, "Scenario test
    results")."""
    totals = _totals(outcomes)
    return {
        "ok": totals["failed"] == 0 and totals["errors"] == 0,
        "totals": totals,
        "tests": [
            {
                "file": o.file,
                "line": o.line,
                "column": o.column,
                "name": o.name,
                "status": o.status,
                "failures": [
                    {
                        "file": f.file,
                        "line": f.line,
                        "column": f.column,
                        "message": f.message,
                        "diff": list(f.diff),
                    }
                    for f in o.failures
                ],
            }
            for o in outcomes
        ],
    }


def _totals(outcomes: Sequence[Outcome]) -> dict[str, int]:
    count = {s: sum(o.status == s for o in outcomes) for s in ("passed", "failed", "error")}
    return {
        "tests": len(outcomes),
        "passed": count["passed"],
        "failed": count["failed"],
        "errors": count["error"],
    }


#: What XML 1.0 cannot hold (control characters other than tab, line feed and carriage return,
#: lone surrogates, U+FFFE and U+FFFF): a case name or a value in a diff may.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _xml(text: str) -> str:
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def _classname(file: str) -> str:
    """A test file as a JUnit class name: ``examples/onboarding.test.yaml`` →
    ``examples.onboarding`` (readers split a class name at its dots, not at slashes)."""
    stem = re.sub(r"\.test\.ya?ml$", "", file.replace("\\", "/"))
    return ".".join(part for part in stem.split("/") if part not in ("", ".", "..")) or file


def junit_xml(outcomes: Sequence[Outcome]) -> str:
    """The results as JUnit XML: a ``testsuite`` per test file, a ``testcase`` per test
    (``file`` and ``line`` attributes), a ``failure`` per failed case and an ``error`` per
    invalid file, whose ``message`` is the first ``FILE:LINE:COL: what`` and whose text is
    every failure with its diff."""
    totals = _totals(outcomes)
    suites = ET.Element(
        "testsuites",
        name="journeydsl test",
        tests=str(totals["tests"]),
        failures=str(totals["failed"]),
        errors=str(totals["errors"]),
    )
    files = list(dict.fromkeys(o.file for o in outcomes))
    for file in files:
        mine = [o for o in outcomes if o.file == file]
        counts = _totals(mine)
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=_xml(file),
            tests=str(counts["tests"]),
            failures=str(counts["failed"]),
            errors=str(counts["errors"]),
            skipped="0",
            file=_xml(file),
        )
        for o in mine:
            case = ET.SubElement(
                suite,
                "testcase",
                name=_xml(o.name),
                classname=_xml(_classname(file)),
                file=_xml(file),
                line=str(o.line),
            )
            if o.status != "passed":
                f = o.failures[0] if o.failures else None
                first = f"{f.file}:{f.line}:{f.column}: {f.message}" if f else o.status
                kind = "failure" if o.status == "failed" else "error"
                detail = ET.SubElement(case, kind, message=_xml(first), type=kind)
                detail.text = _xml("\n".join(line for f in o.failures for line in f.lines()))
    ET.indent(suites)
    body = ET.tostring(suites, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body + "\n"


def _text(outcomes: Sequence[Outcome], out: TextIO) -> None:
    """A line per case, each failure under a failing one, and the summary."""
    for o in outcomes:
        if o.status == "error":
            continue  # (said on stderr, as it was found)
        mark = "ok   " if o.status == "passed" else "FAIL "
        print(f"{mark} {o.file}:{o.line}: {o.name}", file=out)
        for f in o.failures:
            for line in f.lines():
                print(f"  {line}", file=out)
    totals = _totals(outcomes)
    total, passed, failed = totals["passed"] + totals["failed"], totals["passed"], totals["failed"]
    summary = f"\n{total} case{'s' * (total != 1)}: {passed} passed, {failed} failed"
    if invalid := totals["errors"]:
        summary += f"; {invalid} invalid file{'s' * (invalid != 1)}"
    print(summary, file=out)


def test_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl test``: 0 when every case passes, 1 when one fails or a file is invalid,
    2 when a path does not exist or holds no test file, or ``--junit`` cannot be written."""
    if args.junit is not None and (problem := output_file_problem(args.junit)) is not None:
        fail_usage(f"--junit {problem}")
    try:
        files = discover(args.paths)
    except FileNotFoundError as exc:
        print(f"journeydsl: error: {exc.args[0]}: no such file or folder", file=err)
        return ExitCode.USAGE
    if not files:
        print("journeydsl: error: no *.test.yaml files found", file=err)
        return ExitCode.USAGE
    outcomes = _run(files, args.root, err)
    if args.format == "json":
        print(json.dumps(test_json(outcomes), indent=2, ensure_ascii=False), file=out)
    else:
        _text(outcomes, out)
    if args.junit is not None:
        try:
            write_atomically(args.junit, junit_xml(outcomes))
        except OSError as exc:
            print(f"journeydsl: error: --junit {args.junit}: {exc.strerror or exc}", file=err)
            return ExitCode.USAGE
    ok = all(o.status == "passed" for o in outcomes)
    return ExitCode.OK if ok else ExitCode.ERRORS


#: The command this module defines.
COMMANDS = {"test": Command(add_test_arguments, test_command)}
