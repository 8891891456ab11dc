"""``journeydsl quarantine list | replay``: the events a run could not take, kept in its state file.

A quarantined event (not JSON, a field the catalog refuses, an amount with more decimal places
than its currency has, a date too far ahead) is kept in the store's ``quarantine`` table with the
reason, when it was first and last seen and how often, and it is *not* marked processed:

* the same event id arriving later with a valid payload is processed, and leaves the quarantine;
* ``journeydsl quarantine replay JOURNEY... --db DB --actions FILE [--id ID]`` runs the kept
  events through the journeys now (after the catalog was fixed), delivering to the actions file
  as ``journeydsl run`` does: those now valid are processed, the others stay, counted again;
* ``journeydsl quarantine replay --db DB [--id ID]`` without journeys marks them, and the next
  ``journeydsl run`` on the database replays them before it reads its stream.
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import Any, TextIO

from journeydsl.cli.common import Command, Parser, add_root_option, catalog_roots
from journeydsl.cli.stores import db_label, is_postgres_dsn, open_store, store_exit
from journeydsl.exitcodes import ExitCode
from journeydsl.runtime.protocols import QuarantinedEvent

__all__ = [
    "COMMANDS",
    "add_quarantine_arguments",
    "cmd_quarantine",
    "list_command",
    "replay_command",
]


def add_quarantine_arguments(quarantine: argparse.ArgumentParser) -> None:
    """The actions of ``journeydsl quarantine`` (``list``, ``replay``) and their options."""
    qsub = quarantine.add_subparsers(
        dest="action", metavar="ACTION", parser_class=Parser, help="what to do with them"
    )
    qsub.required = True
    qlist = qsub.add_parser("list", help="print the quarantined events of a state file")
    qreplay = qsub.add_parser(
        "replay", help="replay quarantined events now (journeys given) or at the next run"
    )
    for p in (qlist, qreplay):
        p.add_argument(
            "--db",
            metavar="STATE.db",
            required=True,
            help="the run's state file, or its PostgreSQL database (postgresql://…)",
        )
        p.add_argument("--id", metavar="EVENT_ID", help="just this event")
    qlist.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line per event with its reason (default); json: one JSON document",
    )
    qreplay.add_argument(
        "journeys", nargs="*", metavar="JOURNEY", help="journey files or folders to replay through"
    )
    qreplay.add_argument(
        "--actions", metavar="OUT.jsonl", help="delivered effects (needed with journeys)"
    )
    qreplay.add_argument("--profiles", metavar="P.jsonl", help="customer profiles (JSON Lines)")
    add_root_option(qreplay)
    qreplay.add_argument("--policies", metavar="FILE", help="the contact-policy file of the run")
    qreplay.add_argument(
        "--only", action="store_true", help="as for run: the state file has other journeys too"
    )


def cmd_quarantine(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl quarantine ACTION`` from parsed arguments."""
    if getattr(args, "journeys", None):
        args.roots = catalog_roots(args.journeys, getattr(args, "root", None))
        args.journeys = list(args.roots)
    if not is_postgres_dsn(args.db) and not Path(args.db).is_file():
        print(f"journeydsl: error: {args.db}: no such database", file=err)
        return ExitCode.USAGE
    if args.action == "list":
        return list_command(args.db, args.id, args.format, out, err)
    return replay_command(args, out, err)


def _as_json(q: QuarantinedEvent) -> dict[str, Any]:
    return {
        "id": q.event_id,
        "reason": q.reason,
        "count": q.count,
        "first_seen": q.first_seen.isoformat(),
        "last_seen": q.last_seen.isoformat(),
        "replay": q.replay,
        "event": q.event,
    }


def list_command(db: str, event_id: str | None, fmt: str, out: TextIO, err: TextIO) -> int:
    """Print the quarantined events of ``db`` (read-only: a run may be writing meanwhile)."""
    try:
        with open_store(db, readonly=True) as store:
            found = store.quarantined(event_id)
    except Exception as exc:
        code = store_exit(db, exc, err)
        if code is None:
            raise
        return code
    if event_id is not None and not found:
        print(
            f"journeydsl: error: no quarantined event with id {event_id!r} in {db_label(db)}",
            file=err,
        )
        return ExitCode.ERRORS
    if fmt == "json":
        json.dump([_as_json(q) for q in found], out, ensure_ascii=False, indent=2)
        out.write("\n")
        return ExitCode.OK
    if not found:
        print(f"{db_label(db)}: no quarantined events", file=out)
        return ExitCode.OK
    for q in found:
        seen = f"seen {q.count}x, first {q.first_seen:%Y-%m-%d %H:%M:%S %Z}".rstrip()
        mark = " (replay requested)" if q.replay else ""
        print(f"{q.event_id}: {q.reason} [{seen}]{mark}", file=out)
        event = q.event if len(q.event) <= 200 else q.event[:200] + "…"
        print(f"    {event}", file=out)
    print(f"{len(found)} quarantined events in {db_label(db)}", file=out)
    return ExitCode.OK


def replay_command(args: Any, out: TextIO, err: TextIO) -> int:
    """Replay now through the given journeys, or mark for the next run without them."""
    if args.journeys and not args.actions:
        print(
            "journeydsl: error: replaying through journeys needs --actions FILE (where the "
            "effects are delivered, as for journeydsl run)",
            file=err,
        )
        return ExitCode.USAGE
    try:
        with open_store(args.db, migrate=False) as store:
            marked = store.request_replay(args.id)
    except Exception as exc:
        code = store_exit(args.db, exc, err)
        if code is None:
            raise
        return code
    if args.id is not None and not marked:
        print(
            f"journeydsl: error: no quarantined event with id {args.id!r} in {db_label(args.db)}",
            file=err,
        )
        return ExitCode.ERRORS
    if not args.journeys:
        print(
            f"{db_label(args.db)}: {marked} quarantined events marked; the next "
            "`journeydsl run` on this database replays them first"
            + (", as do its workers, each for its buckets" if is_postgres_dsn(args.db) else "")
            + " (or give the journeys and --actions to replay now)",
            file=out,
        )
        return ExitCode.OK
    # Imported here: listing and marking need neither the engine nor the compiler.
    from journeydsl.cli.run import run

    return run(
        args.journeys,
        db=args.db,
        events="-",
        stdin=io.BytesIO(b""),
        actions=args.actions,
        profiles=args.profiles,
        err=err,
        policies=args.policies,
        only=args.only,
        root=getattr(args, "root", None),
        roots=getattr(args, "roots", None),
    )


#: The command this module defines.
COMMANDS = {"quarantine": Command(add_quarantine_arguments, cmd_quarantine)}
