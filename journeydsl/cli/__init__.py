"""The ``journeydsl`` command line: check, graph, fmt, schema, run, quarantine, db, pause,
resume, drain, audit, status, simulate, explain, preview, test, rule.

Exit codes (:class:`~journeydsl.exitcodes.ExitCode`): 0 success (warnings allowed), 1 a journey
or an input has errors, 2 a usage error.

One module per command or group of commands, each declaring its options and its work as
:class:`~journeydsl.cli.common.Command`\\ s: :mod:`~journeydsl.cli.check`,
:mod:`~journeydsl.cli.graph`, :mod:`~journeydsl.cli.fmt` (``fmt`` and ``schema``),
:mod:`~journeydsl.cli.run`, :mod:`~journeydsl.cli.quarantine`, :mod:`~journeydsl.cli.db`,
:mod:`~journeydsl.cli.simulate` (``simulate`` and ``explain``) and
:mod:`~journeydsl.cli.scenarios` (``test``). This module
assembles the parser and runs the command. A command's module is imported only when that command
runs, or when the whole parser is built to document the CLI, so that ``journeydsl check`` starts
fast: it imports neither the runtime nor the simulator.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TextIO, cast

from journeydsl.cli.common import Command, Parser, UsageError
from journeydsl.exitcodes import ExitCode

__all__ = ["build_parser", "main"]


@dataclass(frozen=True, slots=True)
class _Entry:
    """A command as the top-level help lists it: the module that defines it (under
    ``journeydsl.cli``), its one-line help, and the description its own help opens with."""

    module: str
    help: str
    description: str | None = None


#: Every command, in the order ``journeydsl --help`` lists them.
_COMMANDS: dict[str, _Entry] = {
    "check": _Entry("check", "check journeys; exit 1 when any has an error"),
    "rule": _Entry(
        "check",
        "explain a diagnostic code (journeydsl rule JD205), with an example and the fix",
    ),
    "graph": _Entry("graph", "print the compiled journey graph"),
    "fmt": _Entry("fmt", "print a journey in canonical YAML or DSL form"),
    "schema": _Entry(
        "fmt", "print the JSON Schema of a file kind (journeys, catalogs, policies, tests, ...)"
    ),
    "run": _Entry(
        "run",
        "run journeys durably over an event stream, delivering to a JSON Lines file",
        "Run journeys on a SQLite state file over a JSON Lines event stream; every effect is "
        "appended to the actions file. Re-running the same command after a crash resumes "
        "without duplicates. Customers without a profile have no consent, so a profiles file "
        "is normally given.",
    ),
    "worker": _Entry(
        "worker",
        "run journeys as one of several workers sharing a PostgreSQL database",
        "Run journeys on a PostgreSQL database shared with other workers: each customer is in "
        "one of a fixed number of buckets, each worker leases its share of them, and every "
        "commit is fenced on its leases. Events come from the database's inbox (--events puts a "
        "file's or stdin's there); effects go to the actions file. SIGTERM drains and exits 0; "
        "SIGHUP compiles the journeys again and loads a new version without a restart; "
        "--exit-when-idle exits once the database has nothing left to do.",
    ),
    "quarantine": _Entry(
        "quarantine",
        "list the events a run could not take, or replay them after a fix",
        "The events a `journeydsl run` quarantined (bad JSON, a field the catalog refuses, too "
        "far in the future) are kept in its state file, not marked processed. `list` shows "
        "them; `replay` runs them again through the journeys given (after the catalog or the "
        "data was fixed), or, without journeys, marks them for the next run.",
    ),
    "budgets": _Entry(
        "budgets",
        "print the reward budgets of a state database: total, spent, remaining, draws",
        "Read the reward budgets a run's rewards draw from (`reward … from BUDGET`) in a state "
        "file, a shared budgets file or a PostgreSQL database: each budget's total, what was "
        "spent, what remains, and the draws granted and refused (--format json for tools).",
    ),
    "db": _Entry(
        "db",
        "migrate a state database (PostgreSQL or SQLite) to this journeydsl's schema",
        "`journeydsl db migrate --db DB` brings a PostgreSQL database (postgresql://…) or a "
        "SQLite state file to this journeydsl's schema; running it again does nothing.",
    ),
    "migrate": _Entry(
        "migrate",
        "move the waiting instances of a journey's running version to its new version",
        "Check MAPPING against OLD and NEW as `journeydsl check --migrate` does, then move every "
        "instance of OLD that waits to the mapped step of NEW, in one commit (not the schema: "
        "that is `journeydsl db migrate`). OLD must be the graph the instances started on. A "
        "SQLite state file is migrated between runs; a PostgreSQL database with the journey "
        'paused. See docs/reliability.md, "Live upgrade".',
    ),
    # Control of live journeys (journeydsl/cli/control.py).
    "pause": _Entry(
        "control",
        "pause a live journey: hold its instances, timers and sends, keep its events",
        "Hold every instance of JOURNEY in the state database: no sends (its outbox entries stay "
        "pending), no steps, no timers fired; its events are kept and applied on resume, in "
        "order. Recorded in the audit table with who, when and why. See docs/operations.md.",
    ),
    "resume": _Entry(
        "control",
        "resume a paused or draining journey (--timers extend|fire for a paused one)",
        "Make JOURNEY active again. For a paused journey, --timers decides what happens to the "
        "waits that came due during the pause: extend moves them by the pause's length, fire "
        "fires them now under the stale-timer rules. Held sends are delivered, held events "
        "applied, by the run or the workers.",
    ),
    "drain": _Entry(
        "control",
        "stop new entries into a journey and let its running instances finish",
    ),
    "audit": _Entry("control", "list the control actions (pause, resume, drain) of a database"),
    "status": _Entry(
        "control", "show each journey's control state (active, paused, draining) and instances"
    ),
    "simulate": _Entry(
        "simulate",
        "run a journey on recorded events or a synthetic population, on a virtual clock",
        "Run the journey with the production engine on a virtual clock, over recorded events "
        "(--events) or a synthetic population (--population N --behaviour B.yaml), and report "
        "the funnel, outcomes, messages and tickets (--format text) or the JSON contract "
        "(--format json). See docs/simulate.md.",
    ),
    "explain": _Entry(
        "simulate",
        "print the decision log of one customer's journey instances",
        "Simulate as `journeydsl simulate` does, then print every step one customer's instances "
        "took: conditions with their values, waits, sends and suppressions with reasons. With "
        "--db STATE, print what a live run stored instead (no simulation).",
    ),
    "merge": _Entry(
        "merge",
        "combine the part files of `simulate --part K/N` into the report of the whole run",
        "Merge the N part files of a simulation spread with `journeydsl simulate … --part K/N "
        "-o PART` (on other machines, by any scheduler) into its report: byte for byte the "
        "report of one `simulate` with the same options. See docs/simulate.md.",
    ),
    "preview": _Entry(
        "preview",
        "render a template as one customer would read it, with the params a send gives",
        "Simulate as `journeydsl explain` does, then render every send of TEMPLATE to the "
        "customer: the template's body (or registered text) on that channel with each {param} "
        "filled in, so the [QC] label and the params can be read before launch.",
    ),
    "test": _Entry(
        "scenarios",
        "run *.test.yaml scenario files; exit 1 when a case fails",
        "Run scenario test files (profiles, events, a time range and the expected actions and "
        "outcomes); a failing case prints a diff of expected and actual timelines.",
    ),
}


def _command_of(name: str) -> Command:
    """The command ``name``, its module imported now."""
    module = importlib.import_module(f"journeydsl.cli.{_COMMANDS[name].module}")
    commands: Mapping[str, Command] = module.COMMANDS
    return commands[name]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The argument parser (also used to document the CLI). Given the ``command`` about to run,
    it declares that command's options only: the others' would import modules (the runtime,
    the simulator) that this run does not need."""
    from journeydsl import __version__
    from journeydsl._compiled import build

    parser = Parser(
        prog="journeydsl",
        description="Credit-card customer journeys as code: "
        + ", ".join(_COMMANDS)
        + ". Run `journeydsl COMMAND --help` for a command's options.",
    )
    parser.add_argument(
        "--version", action="version", version=f"journeydsl {__version__} ({build()})"
    )
    sub = parser.add_subparsers(
        dest="command", metavar="COMMAND", parser_class=Parser, help="the command to run"
    )
    for name, entry in _COMMANDS.items():
        each = sub.add_parser(name, help=entry.help, description=entry.description)
        if command is None or command == name:
            _command_of(name).add_arguments(each)
    return parser


def _subparser(parser: argparse.ArgumentParser, name: str | None) -> Parser:
    """The parser of the command ``name`` (the top-level parser without one)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction) and name in action.choices:
            found: Parser = action.choices[name]
            return found
    assert isinstance(parser, Parser)
    return parser


def _command(argv: Sequence[str]) -> str:
    """The command word of ``argv`` (its first argument that is not an option), or ''."""
    return next((a for a in argv if not a.startswith("-")), "")


def _db_problem(db: object) -> str | None:
    """Why a ``--db`` cannot name a state database, or None: an empty one (an unset shell
    variable) or ``:memory:`` would be a temporary SQLite database, gone when the command
    ends, so a run would lose every waiting instance, timer and pending effect; a folder is
    no database (and was told as a missing one, or as one that cannot be opened)."""
    if not isinstance(db, str):
        return None
    if not db.strip():
        return (
            "--db is empty: name the state file (a path) or a PostgreSQL database (postgresql://…)"
        )
    if os.path.isdir(db):
        return (
            f"--db {db} is a folder: name the state file (a path) or a PostgreSQL database "
            "(postgresql://…)"
        )
    if db == ":memory:":
        return (
            f"--db {db} is a database in memory, gone when the command ends: name the state "
            "file (a path) or a PostgreSQL database (postgresql://…)"
        )
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit code."""
    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser(_command(argv))
    args, extras = parser.parse_known_args(argv)
    if extras:
        _subparser(parser, args.command).unrecognized(extras)
    out, err = cast(TextIO, PipeOut(sys.stdout)), sys.stderr
    if args.command is None:
        parser.print_help(err)
        return ExitCode.USAGE
    if (problem := _db_problem(getattr(args, "db", None))) is not None:
        print(f"journeydsl: error: {problem}", file=err)
        return ExitCode.USAGE
    try:
        return _command_of(args.command).run(args, out, err)
    except UsageError as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return ExitCode.USAGE
    except BrokenPipeError:  # (written past `out`, e.g. to sys.stdout: the work was cut short)
        _to_devnull(sys.stdout)
        return ExitCode.ERRORS


class PipeOut:
    """The standard output, for a reader that may stop reading (``journeydsl check … | head``):
    once the pipe is closed, what is written is dropped and the command goes on, so that its
    exit status is still its own (a journey with errors exits 1 whatever the reader read)."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        """Write ``text``, or drop it once the reader is gone."""
        if not self.closed_by_reader:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._gone()
        return len(text)

    def flush(self) -> None:
        """Flush, unless the reader is gone."""
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._gone()

    def _gone(self) -> None:
        self.closed_by_reader = True
        _to_devnull(self._stream)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _to_devnull(stream: TextIO) -> None:
    """Point ``stream``'s descriptor at /dev/null, so that what is still buffered in it, and the
    interpreter's flush at exit, do not raise again (Python's advice on SIGPIPE)."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # (no descriptor: an in-memory stream)
        pass
