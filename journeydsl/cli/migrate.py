"""``journeydsl migrate MAPPING OLD NEW --db DB``: move the instances of a journey's running
version that wait to its new version, through a declared mapping (docs/reliability.md, "Live
upgrade"). Not the database's schema: that is ``journeydsl db migrate``.

The mapping is checked against both files as ``journeydsl check --migrate MAPPING OLD NEW``
checks it (JD701-JD705: exit 1 with the diagnostics, nothing written; a JD706 warning is
printed). OLD must be the graph the running instances started on (the one pinned in the
database, docs/embedding.md, section 8), and NEW the graph any instance of its version runs on:
another is refused (exit 2), since the mapping would be checked against steps the instances do
not have. Then NEW's graph is pinned, every waiting instance of OLD moves in one commit
(:func:`journeydsl.runtime.migrate.migrate`), and a line says how many moved, from which step.

A SQLite state file has one writer, so this runs between runs (during one it is refused, exit
2). On PostgreSQL, where workers share the database, the journey must be paused first
(``journeydsl pause``): its instances are then still, and ``journeydsl resume`` lets them go on
in the new version.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TextIO

from journeydsl.cli.common import Command, add_root_option
from journeydsl.cli.control import _now, _with_store
from journeydsl.exitcodes import ExitCode

__all__ = ["COMMANDS"]


def _add(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "mapping",
        metavar="MAPPING",
        help="the mapping file: each step of OLD where instances wait, and the step of NEW "
        "where they wait on (journeydsl schema --kind migration)",
    )
    parser.add_argument("old", metavar="OLD", help="the journey file of the running version")
    parser.add_argument("new", metavar="NEW", help="the journey file of the new version")
    parser.add_argument(
        "--db",
        metavar="DB",
        required=True,
        help="the state file, or the PostgreSQL database (postgresql://…; the journey paused)",
    )
    add_root_option(parser)
    parser.add_argument(
        "--now",
        metavar="T",
        help="the time written in each moved instance's decision log (ISO 8601 with an "
        "offset; default: this machine's clock)",
    )


def _checked(args: argparse.Namespace, err: TextIO) -> tuple[Any, Any, Any] | int:
    """(mapping, old, new) checked, or the exit code after saying what is wrong."""
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import Diagnostic, render_text
    from journeydsl.runtime.migrate import check_mapping, read_mapping

    for path in (args.mapping, args.old, args.new):
        if not Path(path).is_file():
            print(f"journeydsl: error: {path}: no such file", file=err)
            return ExitCode.USAGE
    mapping, found, text = read_mapping(args.mapping)
    sources: dict[str, str] = {args.mapping: text}
    diagnostics: list[Diagnostic] = list(found)
    journeys = []
    for path in (args.old, args.new):
        result = compile_file(path, root=args.root)
        sources.update(result.sources)
        diagnostics.extend(result.diagnostics)
        journeys.append(result.journey if result.ok else None)
    old, new = journeys
    if mapping is not None and old is not None and new is not None:
        diagnostics.extend(check_mapping(mapping, old, new))
    errors: Sequence[Diagnostic] = [d for d in diagnostics if d.severity == "error"]
    if not errors and (warnings := [d for d in diagnostics if d.severity == "warning"]):
        print(render_text(warnings, sources), file=err)  # (JD706: effects run a second time)
    if errors or mapping is None or old is None or new is None:
        print(render_text(errors, sources), file=err)
        print(
            f"journeydsl: error: the mapping does not check ({len(errors)} "
            f"error{'s' * (len(errors) != 1)}); nothing was moved",
            file=err,
        )
        return ExitCode.ERRORS
    return mapping, old, new


def _migrate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Check, then move the waiting instances in one commit."""
    from journeydsl.cli.stores import db_label, is_postgres_dsn
    from journeydsl.runtime import control
    from journeydsl.runtime.migrate import migrate
    from journeydsl.runtime.pinning import changed_versions, pin_graphs

    checked = _checked(args, err)
    if isinstance(checked, int):
        return checked
    mapping, old, new = checked
    ok, now = _now(args, err)
    if not ok:
        return ExitCode.USAGE
    at = now or datetime.now(UTC)

    def work(store: Any) -> int:
        where = db_label(args.db)
        for path, journey in ((args.old, old), (args.new, new)):
            if changed_versions(store, {(journey.id, journey.version): journey})[0]:
                print(
                    f"journeydsl: error: {where}: {path} is not the graph the running instances "
                    f"of {journey.id} version {journey.version} started on (the file was "
                    "changed since, but not its version): give the file they started on; the "
                    "mapping is checked against its steps",
                    file=err,
                )
                return ExitCode.USAGE
        if is_postgres_dsn(args.db):
            found = control.states(store).get(old.id)
            if found is None or found.state != control.PAUSED:
                print(
                    f"journeydsl: error: {where} is shared with workers: pause the journey "
                    f"first (journeydsl pause {old.id} --db …), migrate, then resume it",
                    file=err,
                )
                return ExitCode.USAGE
        pin_graphs(store, [old, new])
        report = migrate(store, mapping, old, new, at=at)
        steps = ", ".join(
            f"{step} → {mapping.steps[step]}: {n}" for step, n in sorted(report.by_step.items())
        )
        print(
            f"{old.id}: moved {report.migrated} waiting instance"
            f"{'s' * (report.migrated != 1)} from version {old.version} to version "
            f"{new.version}" + (f" ({steps})" if steps else "") + f"; {report.already} "
            f"already on version {new.version}, {report.ended} ended",
            file=out,
        )
        return ExitCode.OK

    return _with_store(args.db, False, err, work)


COMMANDS = {"migrate": Command(_add, _migrate)}
