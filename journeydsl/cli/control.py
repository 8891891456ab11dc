"""``journeydsl pause | resume | drain | audit | status``: control of live journeys in a state
database (see :mod:`journeydsl.runtime.control` and docs/operations.md, "Operating live
journeys").

* ``pause JOURNEY --db DB [--by WHO] [--reason TEXT]``: hold every instance of the journey;
* ``resume JOURNEY --db DB --timers extend|fire``: go on; ``extend`` moves the waits that came
  due during the pause by its length, ``fire`` fires them now under the stale-timer rules;
* ``drain JOURNEY --db DB``: no new entries, the running instances finish;
* ``audit --db DB [--journey J] [--format text|json]``: every control action;
* ``status --db DB [--format text|json]``: each journey's control state and instances.

A SQLite state file has one writer: pause, resume and drain act between runs (a ``journeydsl
run`` holds the file); audit and status read it at any time. A PostgreSQL database is shared:
the workers and ``journeydsl run`` see a change within about a second.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from journeydsl.cli.common import Command, closest, quiet_engine_logs
from journeydsl.exitcodes import ExitCode

__all__ = ["COMMANDS"]

_DB_HELP = "the state file, or the PostgreSQL database (postgresql://…)"


def _add_action(parser: argparse.ArgumentParser, timers: bool = False) -> None:
    parser.add_argument("journey", metavar="JOURNEY", help="the journey's id")
    parser.add_argument("--db", metavar="DB", required=True, help=_DB_HELP)
    parser.add_argument("--by", metavar="WHO", help="who acts (default: the OS user)")
    parser.add_argument("--reason", metavar="TEXT", help="why, for the audit table")
    parser.add_argument(
        "--now",
        metavar="T",
        help="the time of the action (ISO 8601 with an offset; default: this machine's clock)",
    )
    if timers:
        parser.add_argument(
            "--timers",
            choices=("extend", "fire"),
            help="for a paused journey (required then): extend moves the waits that came due "
            "during the pause by its length; fire fires them now (stale-timer rules apply)",
        )


def _add_listing(parser: argparse.ArgumentParser, journey: bool = False) -> None:
    parser.add_argument("--db", metavar="DB", required=True, help=_DB_HELP)
    if journey:
        parser.add_argument("--journey", metavar="JOURNEY", help="this journey's actions only")
    parser.add_argument(
        "--format",
        choices=("text", "json"),
        default="text",
        help="text: one line each (default); json: one JSON document",
    )


def _open(db: str, readonly: bool) -> Any:
    """The store ``db`` names; PostgreSQL without the writer lock (workers share it)."""
    from journeydsl.cli.stores import is_postgres_dsn
    from journeydsl.runtime.stores.sqlite import SQLiteStore

    if is_postgres_dsn(db):
        from journeydsl.runtime.stores.postgres import PostgresStore

        return PostgresStore(db, readonly=readonly, migrate=False)
    return SQLiteStore(db, readonly=readonly)


def _with_store(db: str, readonly: bool, err: TextIO, work: Callable[[Any], int]) -> int:
    """``work(store)``; a database that cannot be used is one line on ``err``."""
    from journeydsl.cli.stores import is_postgres_dsn, told_store_problem
    from journeydsl.runtime.stores.sqlite import DatabaseInUse

    if not is_postgres_dsn(db) and not Path(db).is_file():
        print(f"journeydsl: error: {db}: no such database", file=err)
        return ExitCode.USAGE
    try:
        with quiet_engine_logs(err), _open(db, readonly) as store:
            return work(store)
    except DatabaseInUse as exc:
        print(
            f"journeydsl: error: {exc} (a SQLite state file is controlled between runs; "
            "PostgreSQL databases while workers run)",
            file=err,
        )
        return ExitCode.USAGE
    except Exception as exc:
        if not told_store_problem(db, exc, err):
            raise
        return ExitCode.ERRORS


def _known(store: Any, journey: str, db: str, err: TextIO) -> bool:
    """Whether ``store`` knows ``journey`` (it has instances, a control state or held
    events); else say which it knows."""
    names = set(store.journey_counts()) | set(store.control_states()) | set(store.held_counts())
    if journey in names:
        return True
    from journeydsl.cli.stores import db_label

    near = closest(journey, sorted(names))
    if near is None:  # a short form of a long id (`onboarding`): the one journey it begins
        begun = [n for n in sorted(names) if n.startswith(journey)] if journey else []
        near = begun[0] if len(begun) == 1 else None
    hint = f"; did you mean {near!r}?" if near else ""
    have = f" (it has: {', '.join(sorted(names))})" if names else " (it has no journeys yet)"
    print(f"journeydsl: error: unknown journey {journey!r} in {db_label(db)}{have}{hint}", file=err)
    return False


def _now(args: argparse.Namespace, err: TextIO) -> tuple[bool, datetime | None]:
    if not args.now:
        return True, None
    from journeydsl.runtime.stream import parse_time

    now = parse_time(args.now)
    if now is None:
        print(
            f"journeydsl: error: --now {args.now!r} is not an ISO 8601 time with an offset "
            "(e.g. 2026-03-01T00:00:00+07:00)",
            file=err,
        )
    return now is not None, now


def _before_the_run(store: Any, now: datetime | None, err: TextIO) -> bool:
    """Whether ``now`` is before the time ``journeydsl run`` already reached on ``store`` (said
    on ``err``): an action dated then would hold or fire timers in the run's past (a resume's
    timers fired late, as stale; a pause's length counted wrong), as ``run --now`` refuses."""
    from journeydsl.runtime.stream import RUN_CLOCK

    reached = store.get_meta(RUN_CLOCK)
    if now is None or reached is None or now >= datetime.fromisoformat(reached):
        return False
    print(
        f"journeydsl: error: --now {now.isoformat()} is before {reached}, the time the runs on "
        "this state file already reached: a control action cannot be dated in their past "
        "(give --now at or after it, or leave it out for this machine's clock)",
        file=err,
    )
    return True


def _act(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """pause, resume or drain."""
    from journeydsl.runtime import control

    ok, now = _now(args, err)
    if not ok:
        return ExitCode.USAGE

    def work(store: Any) -> int:
        if not _known(store, args.journey, args.db, err) or _before_the_run(store, now, err):
            return ExitCode.USAGE
        common = {"by": args.by, "reason": args.reason, "now": now}
        try:
            if args.command == "pause":
                control.pause(store, args.journey, **common)
                held = "its instances are held, its events kept for the resume"
                print(f"{args.journey}: paused ({held})", file=out)
            elif args.command == "drain":
                control.drain(store, args.journey, **common)
                print(f"{args.journey}: draining (no new entries; running ones finish)", file=out)
            else:
                done = control.resume(store, args.journey, timers=args.timers, **common)
                detail = done.entry.detail
                what = (
                    f"timers {detail['timers']}: {done.moved} moved by {detail['paused_for']}, "
                    f"{done.held} held events to apply"
                    if "timers" in detail
                    else "open to new entries"
                )
                print(f"{args.journey}: active ({what})", file=out)
        except control.ControlError as exc:
            print(f"journeydsl: error: {exc}", file=err)
            return ExitCode.USAGE
        return ExitCode.OK

    return _with_store(args.db, False, err, work)


def _audit(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    def work(store: Any) -> int:
        if args.journey is not None and not _known(store, args.journey, args.db, err):
            return ExitCode.USAGE
        rows = store.control_audit(args.journey)
        if args.format == "json":
            json.dump([e.as_json() for e in rows], out, ensure_ascii=False, indent=2)
            out.write("\n")
            return ExitCode.OK
        if not rows:
            from journeydsl.cli.stores import db_label

            print(f"{db_label(args.db)}: no control actions", file=out)
        for e in rows:
            why = f" ({e.reason})" if e.reason else ""
            detail = ", ".join(f"{k}={v}" for k, v in sorted(e.detail.items()))
            print(f"{e.at.isoformat()}  {e.action:<6} {e.journey}  by {e.by}{why}", file=out)
            if detail:
                print(f"    {detail}", file=out)
        return ExitCode.OK

    return _with_store(args.db, True, err, work)


def _status(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    def work(store: Any) -> int:
        counts, states = store.journey_counts(), store.control_states()
        held = store.held_counts()
        rows = []
        for journey in sorted(set(counts) | set(states) | set(held)):
            found = states.get(journey)
            running, ended = counts.get(journey, (0, 0))
            rows.append(
                {
                    "journey": journey,
                    "state": found.state if found else "active",
                    "since": found.since.isoformat() if found else None,
                    "by": found.by if found else None,
                    "reason": found.reason if found else None,
                    "running": running,
                    "ended": ended,
                    "held_events": held.get(journey, 0),
                    # (a draining journey with nothing left running: it can be retired)
                    "drained": (found.state if found else "active") == "draining" and not running,
                }
            )
        if args.format == "json":
            json.dump(rows, out, ensure_ascii=False, indent=2)
            out.write("\n")
            return ExitCode.OK
        if not rows:
            from journeydsl.cli.stores import db_label

            print(f"{db_label(args.db)}: no journeys yet", file=out)
        for r in rows:
            since = f" since {r['since']} by {r['by']}" if r["since"] else ""
            held_text = f", {r['held_events']} held events" if r["held_events"] else ""
            drained = "; drained" if r["drained"] else ""
            print(
                f"{r['journey']}: {r['state']}{since} "
                f"({r['running']} running, {r['ended']} ended{held_text}){drained}",
                file=out,
            )
        return ExitCode.OK

    return _with_store(args.db, True, err, work)


#: The commands this module defines.
COMMANDS = {
    "pause": Command(_add_action, _act),
    "resume": Command(lambda p: _add_action(p, timers=True), _act),
    "drain": Command(_add_action, _act),
    "audit": Command(lambda p: _add_listing(p, journey=True), _audit),
    "status": Command(_add_listing, _status),
}
