"""``journeydsl run``: the durable runtime over a recorded or piped event stream.

The journeys run on a :class:`~journeydsl.runtime.stores.sqlite.SQLiteStore` file (or a
:class:`~journeydsl.runtime.stores.postgres.PostgresStore` database) and deliver every
effect to a JSON Lines :class:`~journeydsl.runtime.file_channel.FileChannel`, fed the stream by a
:class:`~journeydsl.runtime.stream.StreamRunner`: for each event the clock moves to the event's
time, everything due until then fires, and then the event is ingested.

Restarting the same command after a crash resumes where it stopped: events already processed are
skipped by id (the engine's processed markers), outbox entries that were not acknowledged are
delivered again, and the file channel drops the ones it had already written. The actions file ends
up exactly as an uninterrupted run would have left it (line order aside).

Profiles: a customer without a profile has consent for no channel, so every message to them is
suppressed; a profiles file (``--profiles``, the DESIGN.md profile contract) is normally given.

This module is the command: its options, the checks made before anything is opened, the wiring
of engine, store and actions file, and what is printed. ``Engine``, ``SQLiteStore`` and
``FileChannel`` are looked up here when a run starts (the crash campaign substitutes them).
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from pathlib import Path
from typing import IO, TextIO

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.cli.common import (
    Command,
    actions_file_problem,
    add_root_option,
    catalog_roots,
    input_file_problem,
    policy_file_problem,
    quiet_engine_logs,
)
from journeydsl.cli.stores import Store, db_label, is_postgres_dsn, told_store_problem
from journeydsl.exitcodes import ExitCode
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.file_channel import FileChannel
from journeydsl.runtime.pinning import JourneyChangedError, missing_versions, pin_graphs
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.profiles import attribute_types
from journeydsl.runtime.protocols import SinkError
from journeydsl.runtime.stores.postgres import PostgresStore
from journeydsl.runtime.stores.sqlite import DatabaseInUse, SQLiteStore, check_database
from journeydsl.runtime.stream import (
    RUN_CLOCK,
    FutureLimit,
    RunSummary,
    StreamClock,
    StreamRunner,
    parse_time,
)
from journeydsl.zones import zone

__all__ = ["COMMANDS", "add_run_arguments", "check_db_command", "cmd_run", "run", "summary_line"]


#: How far after this machine's clock ``--now`` may be without ``--max-future``.
NOW_AHEAD = timedelta(days=1)


def add_run_arguments(run: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl run``."""
    add_root_option(run)
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
        help="the state file, or a PostgreSQL database (postgresql://user@host:port/db); one "
        "run writes to it at a time (a second is refused, exit 2)",
    )
    run.add_argument(
        "--migrate",
        action="store_true",
        help="bring a PostgreSQL database to this journeydsl's schema first (as `journeydsl db "
        "migrate` does); without it, a database of an older schema is refused. A SQLite file "
        "is always migrated",
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
        "already reached; one before the time the stream reached is told on stderr, and the "
        "run ends there; held to --max-future too)",
    )
    run.add_argument(
        "--max-future",
        metavar="D",
        help="quarantine events dated more than D (e.g. 1d, 12h) after this machine's clock, "
        "and refuse such a --now: they would move the run's clock, and fire every customer's "
        "timers, that far ahead",
    )
    run.add_argument(
        "--allowed-lateness",
        metavar="D",
        default="1d",
        help="how far out of time order events may arrive (default 1d): from a file, each event "
        "is held until the stream is D past it and taken in time order; from a pipe (--events "
        "-) each is taken as it comes, a late one at its own time; one dated more than D before "
        "the latest seen is quarantined as too_late",
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


def cmd_run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl run`` from parsed command-line arguments (``args.check_db`` checks the state
    file instead, see :func:`check_db_command`)."""
    if args.check_db:
        return check_db_command(args.db, out, err)
    roots = catalog_roots(args.journeys, args.root)
    journey_files = list(roots)
    missing = [
        name
        for name, given in (
            ("JOURNEY", journey_files),
            ("--events", args.events),
            ("--actions", args.actions),
        )
        if not given
    ]
    if missing:
        print(
            "journeydsl: error: the following arguments are required: "
            f"{', '.join(missing)} (unless --check-db)",
            file=err,
        )
        return ExitCode.USAGE
    now: datetime | None = None
    if args.now:
        now = parse_time(args.now)
        if now is None:
            print(
                f"journeydsl: error: --now {args.now!r} is not an ISO 8601 time with an offset "
                "(e.g. 2026-03-01T00:00:00+07:00)",
                file=err,
            )
            return ExitCode.USAGE
    lateness = _duration(err, "--allowed-lateness", args.allowed_lateness, zero=True)
    if lateness is None:
        return ExitCode.USAGE
    max_future: timedelta | None = None
    if args.max_future:
        max_future = _duration(err, "--max-future", args.max_future)
        if max_future is None:
            return ExitCode.USAGE
    return run(
        journey_files,
        db=args.db,
        events=args.events,
        actions=args.actions,
        profiles=args.profiles,
        now=now,
        err=err,
        policies=args.policies,
        max_future=max_future,
        only=bool(args.only),
        new_db=bool(args.new_db),
        root=args.root,
        allowed_lateness=lateness,
        migrate=bool(args.migrate),
        roots=roots,
    )


def _duration(err: TextIO, option: str, given: str, *, zero: bool = False) -> timedelta | None:
    """The duration an option gives (``0`` too when ``zero``), or None after saying why not."""
    from journeydsl.expr.checker import duration_value

    # (leading zeros do not lengthen a duration: 0001d is a day)
    plain = re.sub(r"^0+(?=\d)", "", given)
    value = timedelta() if zero and given.strip() == "0" else duration_value(plain)
    if value is None and re.fullmatch(r"\d+[smhdw]", given):
        # Well written, but longer than any duration may be (a journey's waits have this limit).
        from journeydsl.expr.limits import MAX_DURATION

        print(
            f"journeydsl: error: {option} {given!r} is too long: a duration is at most "
            f"{MAX_DURATION.days}d",
            file=err,
        )
    elif value is None:
        print(
            f"journeydsl: error: {option} {given!r} is not a duration "
            f"(a number and s, m, h, d or w, e.g. 1d{', or 0' if zero else ''})",
            file=err,
        )
    return value


def check_db_command(db: str | Path, out: TextIO, err: TextIO) -> int:
    """``journeydsl run --check-db``: SQLite's ``PRAGMA integrity_check`` and the schema version
    of the state file ``db``, read-only (a run may be writing to it meanwhile), without running
    anything. Prints ``<db>: ok`` (exit 0) or one line per problem (exit 1); a missing file is a
    usage error (exit 2)."""
    if is_postgres_dsn(db):
        print(
            "journeydsl: error: --check-db checks SQLite state files; a PostgreSQL database is "
            "checked by its server (journeydsl db migrate tells its schema version)",
            file=err,
        )
        return ExitCode.USAGE
    if not Path(db).is_file():
        print(f"journeydsl: error: {db}: no such file", file=err)
        return ExitCode.USAGE
    problems = check_database(db)
    for problem in problems or ["ok"]:
        print(f"{db}: {problem}", file=out)
    return ExitCode.ERRORS if problems else ExitCode.OK


def summary_line(summary: RunSummary, actions: Path, db: str | None = None) -> str:
    """What one run did, in one line for humans (printed to stderr at the end)."""
    return (
        f"journeydsl run: {summary.read} events read, {summary.processed} processed, "
        f"{summary.skipped} skipped as already done, {summary.quarantined} quarantined; "
        f"{summary.delivered} actions delivered to {actions}"
        + (f" ({summary.deduplicated} already there)" if summary.deduplicated else "")
        + (f"; {summary.replayed} quarantined events replayed" if summary.replayed else "")
        + (
            f"; {summary.in_quarantine} events in quarantine in all "
            f"(journeydsl quarantine list --db {db_label(db)})"
            if summary.in_quarantine and db
            else ""
        )
        + (
            f"; {summary.failed} journey instance{'s' * (summary.failed != 1)} failed "
            "(outcome error; the decision log says why)"
            if summary.failed
            else ""
        )
        + (
            f"; {summary.profile_problems} profile line"
            + ("s" * (summary.profile_problems != 1))
            + " skipped (named above; their customers have no profile)"
            if summary.profile_problems
            else ""
        )
        + (
            f"; {summary.unprofiled} "
            + ("customer has" if summary.unprofiled == 1 else "customers have")
            + " no profile (no consent: every message to them is withheld)"
            if summary.unprofiled
            else ""
        )
    )


def _compile(
    files: Sequence[Path],
    err: TextIO,
    root: str | Path | None,
    roots: Mapping[Path, Path | None] | None = None,
    *,
    to_run: bool = True,
) -> list[ir.Journey] | None:
    """The journeys of ``files`` compiled, or None after their errors were told on ``err``.
    ``to_run``: they are to run together on one engine of the command line, which has no
    decision functions, needs every journey they hand off to, and one declaration of each
    budget; without it (``explain --db`` reads what a run stored) those are not asked."""
    from journeydsl.compiler import compile_file
    from journeydsl.compiler.redefinitions import ADVICE, Definitions, conflict_message
    from journeydsl.diagnostics import render_text

    journeys: list[ir.Journey] = []
    failed = False
    definitions = Definitions()  # (check reports the same conflicts: JD106)
    for path in files:
        result = compile_file(path, root=roots[path] if roots and path in roots else root)
        if not result.ok or result.journey is None:
            print(render_text(result.diagnostics, result.sources), file=err)
            failed = True
            continue
        j = result.journey
        earlier = definitions.add(str(path), j)
        if earlier is not None:
            if earlier.conflicts_with(j):
                print(f"{path}: error: {conflict_message(j, earlier)}; {ADVICE}", file=err)
                failed = True
            continue  # the same journey in its other spelling
        journeys.append(j)
        # decide: a command line has no decision functions to call
        asked = sorted({n.function for n in j.nodes.values() if isinstance(n, ir.Decide)})
        if asked and to_run:
            print(
                f"{path}: error: journey {j.id} asks decision functions ({', '.join(asked)}), "
                "which only a host can answer: run it from Python with Engine(decisions=...) "
                "(docs/embedding.md, section 11), or try it with journeydsl simulate or test",
                file=err,
            )
            failed = True
    if not to_run:
        return None if failed else journeys
    from journeydsl.ir_rewards import budget_conflicts
    from journeydsl.runtime.handoff import missing_targets  # hand-off: targets run alongside

    for missing in missing_targets(journeys, [j.id for j in journeys]):
        print(f"error: {missing}, which is not run: give its file too", file=err)
        failed = True
    for problem in budget_conflicts(journeys):  # reward budgets: one declaration per name
        print(f"error: {problem}", file=err)
        failed = True
    return None if failed else journeys


def _action_handlers(journeys: Sequence[ir.Journey], sink: FileChannel) -> dict[str, FileChannel]:
    handlers: dict[str, FileChannel] = {}
    for journey in journeys:
        for node in journey.nodes.values():
            if isinstance(node, ir.Action) and node.name not in handlers:
                handlers[node.name] = sink.named(node.name, node.action)
    return handlers


def run(
    journey_files: Sequence[str | Path],
    *,
    db: str | Path,
    events: str,
    actions: str | Path,
    profiles: str | Path | None = None,
    now: datetime | None = None,
    err: TextIO | None = None,
    stdin: IO[bytes] | None = None,
    fsync: bool = True,
    policies: str | Path | None = None,
    max_future: timedelta | None = None,
    wall_clock: Callable[[], datetime] | None = None,
    only: bool = False,
    new_db: bool = False,
    root: str | Path | None = None,
    allowed_lateness: timedelta = timedelta(days=1),
    migrate: bool = False,
    roots: Mapping[Path, Path | None] | None = None,
) -> int:
    """Run ``journey_files`` (their catalogs read from inside ``root``, by default each
    journey's folder, or the folder ``roots`` gives for it: a folder named on the command line)
    over the event stream ``events`` (a path, or ``-`` for stdin) on the state file ``db``,
    delivering to the JSON Lines file ``actions``, under the contact-policy file ``policies``
    if given; returns the exit code (0 done, 1 a journey or the policy file
    has errors, or the state file cannot be used, 2 a usage error, or another process is
    writing to the state file).

    A state file that cannot be used (not a database, damaged, of a newer schema, read-only,
    full …), when it is opened or while the run goes on, ends the run with one line naming the
    file and the problem (:func:`~journeydsl.runtime.stores.sqlite.storage_error`); a state file
    that another store holds (one writer per SQLite database) is refused before anything is
    read or written.

    The run's clock follows the stream, in time order: events are held until the stream is
    ``allowed_lateness`` past them and taken sorted by time (one dated further back than that
    is quarantined ``too_late``), so a stream shuffled within it is taken as the sorted one
    would be (:class:`~journeydsl.runtime.reorder.Reorder`). With ``max_future``, an event
    dated more than that after ``wall_clock()`` (this machine's clock) is quarantined instead: a
    mistyped year would otherwise move the clock, and fire every customer's timers, years ahead.

    A state file that holds live instances of journeys not in ``journey_files`` is refused
    (their timers would otherwise wait while their events pass by unseen) unless ``only``: then
    the run takes the stream for these journeys alone, and the others' timers, outbox and events
    stay as they are, for a later run that is given their files. A missing state file next to a
    non-empty actions file is refused too (a mistyped ``--db`` would start from nothing and
    send everything again) unless ``new_db`` says a new state file is meant.

    ``db`` may name a PostgreSQL database (``postgresql://…``): the run is the same, one writer
    is kept by an advisory lock on the database, and the database must have this journeydsl's
    schema unless ``migrate`` (then it is migrated first; a new database counts as new only
    when it had no schema at all)."""
    err = err if err is not None else sys.stderr
    if now is not None and (now.tzinfo is None or now.utcoffset() is None):
        print("journeydsl: error: --now needs a UTC offset, e.g. +07:00", file=err)
        return ExitCode.USAGE
    for path in [*journey_files, *([profiles] if profiles else []), *([events] * (events != "-"))]:
        if (problem := input_file_problem(path)) is not None:
            print(f"journeydsl: error: {problem}", file=err)
            return ExitCode.USAGE
    not_a_file = actions_file_problem(actions)
    if not_a_file is not None:
        print(f"journeydsl: error: {not_a_file}", file=err)
        return ExitCode.USAGE
    postgres = is_postgres_dsn(str(db))
    for path in (actions,) if postgres else (db, actions):
        if not Path(path).resolve().parent.is_dir():
            print(f"journeydsl: error: {path}: no such folder to write into", file=err)
            return ExitCode.USAGE
    if now is not None:
        # A --now far ahead would fire every timer and send every message at once: it is held
        # to --max-future, or to a day ahead of this machine's clock when that is not given.
        ahead = max_future if max_future is not None else NOW_AHEAD
        why = FutureLimit(ahead, wall_clock).refuses(now)
        if why is not None:
            print(f"journeydsl: error: --now is {why}", file=err)
            return ExitCode.USAGE
    if not new_db and not postgres and not Path(db).exists() and _has_lines(Path(actions)):
        print(
            f"journeydsl: error: {db}: no such state file, but {actions} already holds actions "
            "of an earlier run: a run from a new state file would send them again. Give the "
            "state file of that run, or pass --new-db if a new one is meant",
            file=err,
        )
        return ExitCode.USAGE
    journeys = _compile([Path(p) for p in journey_files], err, root, roots)
    if journeys is None:
        return ExitCode.ERRORS
    policy_set = _policy_file(policies, root, err)
    if isinstance(policy_set, ExitCode):
        return policy_set
    # The engine logs every send at info level; a command-line run reports through its actions
    # file and summary, so only errors (failing expressions) go to stderr.
    with quiet_engine_logs(err):
        try:
            with _open_store(str(db), migrate) as store:
                if postgres and not new_db and _new_database(store, Path(actions), err):
                    return ExitCode.USAGE
                limit = FutureLimit(max_future, wall_clock) if max_future is not None else None
                plan = _Plan(
                    journeys,
                    events,
                    Path(actions),
                    profiles,
                    now,
                    stdin,
                    fsync,
                    policy_set,
                    limit,
                    only,
                    allowed_lateness,
                )
                return _run(plan, store, err)
        except DatabaseInUse as exc:
            print(f"journeydsl: error: {exc}", file=err)
            return ExitCode.USAGE
        except Exception as exc:
            if not told_store_problem(str(db), exc, err):
                raise  # not the file's fault (a bug): the traceback is what helps
            return ExitCode.ERRORS


def _open_store(db: str, migrate: bool) -> Store:
    """The store ``db`` names, opened for writing by one run (``SQLiteStore`` is looked up
    here, for the crash campaign)."""
    if is_postgres_dsn(db):
        return PostgresStore(db, migrate=migrate, writer_lock=True)
    return SQLiteStore(db)


def _new_database(store: Store, actions: Path, err: TextIO) -> bool:
    """Whether to refuse a PostgreSQL database that holds nothing yet (no events, no instances)
    while ``actions`` already holds actions of an earlier run; says why."""
    if store.latest_event_time() is not None or store.all_instances() or not _has_lines(actions):
        return False
    print(
        f"journeydsl: error: {store.path} holds no state, but {actions} already holds actions "
        "of an earlier run: a run from an empty database would send them again. Give the "
        "database of that run, or pass --new-db if a new one is meant",
        file=err,
    )
    return True


def _has_lines(path: Path) -> bool:
    """Whether ``path`` exists and holds anything but white space."""
    try:
        with path.open("rb") as f:
            return any(chunk.strip() for chunk in iter(lambda: f.read(65536), b""))
    except FileNotFoundError:
        return False
    except IsADirectoryError:
        return False


@dataclass(frozen=True, slots=True)
class _Plan:
    """What a run was asked to do, checked: the journeys compiled, the stream, where its effects
    go, and the policies and limits it runs under."""

    journeys: list[ir.Journey]
    events: str
    actions: Path
    profiles: str | Path | None
    now: datetime | None
    stdin: IO[bytes] | None
    fsync: bool
    policies: Policies | None
    limit: FutureLimit | None
    #: Just these journeys, though the state file has live instances of others (``--only``).
    only: bool
    #: How far out of time order the stream may be (``--allowed-lateness``).
    lateness: timedelta


def _run(plan: _Plan, store: Store, err: TextIO) -> int:
    """The refusals that need the state file (journeys it has that the run lacks, a ``--now``
    before the time it reached), the profiles, then the run; a failing sink stops it."""
    summary = RunSummary()
    others = _others(plan.journeys, store)
    if plan.only and (versions := missing_versions(store, plan.journeys)):
        print(
            f"journeydsl: error: {store.path} has live instances of other versions of the "
            f"journeys this run was given: {versions}; --only leaves out whole journeys, not "
            "versions (their events would be taken for the journey without reaching them): "
            "give the files of those versions too",
            file=err,
        )
        return ExitCode.USAGE
    if others and not plan.only:
        print(
            f"journeydsl: error: {store.path} has instances of journeys this run was not "
            f"given: {others}; give their files too, or pass --only to run just these and "
            "leave the others as they are",
            file=err,
        )
        return ExitCode.USAGE
    try:  # (the graphs the running instances move on: docs/embedding.md, section 8)
        pin_graphs(store, plan.journeys)
    except JourneyChangedError as exc:
        print(f"journeydsl: error: {store.path}: {exc}", file=err)
        return ExitCode.USAGE
    for problem in _budget_problems(plan.journeys, store):
        print(f"journeydsl: error: {store.path}: {problem}", file=err)
        return ExitCode.USAGE
    reached = store.get_meta(RUN_CLOCK)
    now = plan.now
    if now is not None and reached is not None and now < datetime.fromisoformat(reached):
        print(
            f"journeydsl: error: --now {now.isoformat()} is before {reached}, the time "
            f"{store.path} already reached: a run cannot go back in time (its actions would be "
            "dated before ones already delivered); to replay from an earlier time, start a new "
            "state file",
            file=err,
        )
        return ExitCode.USAGE
    profiled: list[str] = []
    if plan.profiles is not None:
        summary.profiles, problems, customers = store.load_profiles_jsonl(
            plan.profiles, attribute_types(plan.journeys)
        )
        summary.profile_problems = len(problems)
        for problem in problems:
            print(f"{problem} (profile skipped)", file=err)
        if any(j.entry.kind == "when" for j in plan.journeys):
            # (the file may change profiles an `entry when` reads: the run looks at them again)
            profiled = customers
    try:
        return _run_stream(plan, store, summary, err, profiled)
    except SinkError as exc:
        print(
            f"journeydsl: error: {exc}; the run stopped, and what was not delivered stays "
            f"pending in {store.path}: fix the file (free the space), then run the same "
            "command again to deliver it, exactly once",
            file=err,
        )
        print(summary_line(summary, plan.actions), file=err)
        return ExitCode.ERRORS


def _budget_problems(journeys: Sequence[ir.Journey], store: Store) -> list[str]:
    """Why the journeys cannot draw from the store's budgets (a budget they declare in another
    unit than the store keeps it), before anything runs: the engine would refuse their first
    draw, in the middle of the run."""
    from journeydsl.runtime.budgets import BudgetLedger
    from journeydsl.runtime.rewards import ledger_conflicts

    if not isinstance(store, BudgetLedger):
        return []
    return ledger_conflicts(journeys, store)


def _others(journeys: Sequence[ir.Journey], store: Store) -> str:
    """The journeys (and versions) with live instances in ``store`` that ``journeys`` lack,
    for a message; "" when there are none."""
    given = {(j.id, j.version) for j in journeys}
    live = store.live_journeys()
    missing = sorted(k for k in live if k not in given)
    return ", ".join(f"{j} v{v} ({live[(j, v)]} live)" for j, v in missing)


def _run_stream(
    plan: _Plan, store: Store, summary: RunSummary, err: TextIO, profiled: list[str]
) -> int:
    """The engine over the store and the actions file, fed the stream; every quarantined event
    is reported on ``err`` with its line, and the summary at the end."""
    clock = StreamClock()

    def timezone_of(customer_id: str) -> tzinfo | None:
        """The customer's time zone, for the actions file's local times; None when their
        profile names none (the journey's zone, then)."""
        name = store.get(customer_id).timezone
        return zone(name) if name else None

    def quarantined(where: str, reason: str) -> None:
        print(f"{where}: quarantined: {reason}", file=err)

    actions = plan.actions
    zones = {j.id: zone(j.timezone) for j in plan.journeys}
    with FileChannel(
        actions, fsync=plan.fsync, timezone_of=timezone_of, journey_zones=zones
    ) as sink:
        engine = Engine(
            plan.journeys,
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            channels=dict.fromkeys(CHANNELS, sink),
            tickets=sink,
            actions=_action_handlers(plan.journeys, sink),
            policies=plan.policies,
            only=plan.only,
            allowed_lateness=None,  # (the runner holds the stream to its allowed lateness)
        )
        # A file is read in event time; a pipe (`--events -`, a live feed) as it comes, so
        # that nothing waits a day to be taken, and a late event at its own time.
        runner = StreamRunner(
            engine,
            store,
            sink,
            clock,
            summary,
            plan.limit,
            quarantined,
            plan.lateness,
            hold=plan.events != "-",
            profiled=profiled,
        )
        runner(plan.events, plan.stdin, plan.now)
        if plan.now is not None and clock.current is not None and clock.current > plan.now:
            # (the state file's time was checked before: this is the stream's own)
            print(
                f"journeydsl: warning: --now {plan.now.isoformat()} is before "
                f"{clock.current.isoformat()}, the time the stream reached: the run ends "
                "there (a run cannot go back in time)",
                file=err,
            )
        if sink.dropped_torn_line:
            print(f"{actions}: dropped an incomplete last line left by a crash", file=err)
    summary.in_quarantine = len(store.quarantined())
    summary.unprofiled = len(engine.unprofiled)
    summary.failed = engine.failures
    print(summary_line(summary, actions, store.path), file=err)
    if engine.failed:
        # Exit 0 says every effect was delivered or withheld with a reason; a failed instance's
        # later steps never ran, so the run says so in its exit code.
        for instance, reason in engine.failed[:5]:
            print(f"journeydsl: error: instance {instance} failed: {reason}", file=err)
        if engine.failures > 5:
            print(f"journeydsl: error: ... and {engine.failures - 5} more", file=err)
        return ExitCode.ERRORS
    return ExitCode.OK


#: The command this module defines.
COMMANDS = {"run": Command(add_run_arguments, cmd_run)}


def _policy_file(
    policies: str | Path | None, root: str | Path | None, err: TextIO
) -> Policies | ExitCode | None:
    """The contact-policy file ``policies`` loaded (None without one), or the exit code after
    its error was told on ``err``."""
    if policies is None:
        return None
    from journeydsl.runtime.policies import load_policies
    from journeydsl.yamlfile import InputError

    if (problem := policy_file_problem(policies)) is not None:
        print(f"journeydsl: error: {problem}", file=err)
        return ExitCode.USAGE
    try:
        return load_policies(policies, root=root)
    except InputError as exc:
        print(str(exc), file=err)
        return ExitCode.ERRORS
