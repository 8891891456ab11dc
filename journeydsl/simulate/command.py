"""``journeydsl simulate`` and ``journeydsl explain``: options, input loading and output.

Exit codes follow the rest of the CLI: 0 done (quarantined event lines are reported on stderr
and do not fail the run), 1 the journey or an input file has errors, 2 a usage error.
"""

from __future__ import annotations

import argparse
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    from journeydsl import ir
    from journeydsl.runtime.protocols import Profile
    from journeydsl.simulate.driver import Simulation, SimulationResult

#: Length of a run without --until or --days (the driver's default, repeated here so that
#: building the CLI parser imports nothing heavy).
DEFAULT_DAYS = 90

__all__ = [
    "EXIT_ERRORS",
    "EXIT_OK",
    "EXIT_USAGE",
    "add_explain_arguments",
    "add_simulate_arguments",
    "explain_command",
    "simulate_command",
]

EXIT_OK, EXIT_ERRORS, EXIT_USAGE = 0, 1, 2


class _UsageError(Exception):
    pass


def _add_inputs(p: argparse.ArgumentParser) -> None:
    p.add_argument("journey", metavar="JOURNEY", help="the journey file (.journey or .yaml)")
    rec = p.add_argument_group("recorded mode")
    rec.add_argument("--events", metavar="E.jsonl", help="recorded events (JSON Lines)")
    rec.add_argument("--profiles", metavar="P.jsonl", help="customer profiles (JSON Lines)")
    rec.add_argument(
        "--default-consent",
        action="store_true",
        help="customers without a profile line consent to every channel (default: to none)",
    )
    syn = p.add_argument_group("synthetic mode")
    syn.add_argument("--population", type=int, metavar="N", help="simulate N synthetic customers")
    syn.add_argument("--behaviour", metavar="B.yaml", help="the behaviour model (YAML)")
    syn.add_argument("--seed", type=int, default=0, metavar="S", help="random seed (default 0)")
    when = p.add_argument_group("time range")
    when.add_argument(
        "--start",
        metavar="T",
        help="start (ISO 8601; default: the first event, or the behaviour file's start); "
        "earlier events are history",
    )
    when.add_argument("--until", metavar="T", help=f"end (default: start + {DEFAULT_DAYS} days)")
    when.add_argument("--days", type=int, metavar="D", help="end D days after the start")
    p.add_argument("--progress", action="store_true", help="show a progress bar on stderr")


def add_simulate_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl simulate``."""
    _add_inputs(p)
    p.add_argument(
        "--format", choices=("text", "json"), default="text", help="report format (default text)"
    )
    p.add_argument("-o", "--output", metavar="F", help="write the report here instead of stdout")
    p.add_argument("--trace", metavar="CUSTOMER_ID", help="also print this customer's timeline")


def add_explain_arguments(p: argparse.ArgumentParser) -> None:
    """The options of ``journeydsl explain``."""
    _add_inputs(p)
    p.add_argument("--customer", required=True, metavar="ID", help="the customer to explain")


@dataclass
class Run:
    """A finished simulation and what the reports need to know about it."""

    journey: ir.Journey
    result: SimulationResult
    title: str
    costs: dict[str, Decimal] | None = None
    failures: dict[str, tuple[int, int]] | None = None


def _compile(path: str, err: TextIO) -> ir.Journey | None:
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import render_text

    if not Path(path).is_file():
        raise _UsageError(f"{path}: no such file")
    result = compile_file(path)
    if not result.ok or result.journey is None:
        print(render_text(result.diagnostics, result.sources), file=err)
        return None
    return result.journey


def _time(text: str | None, what: str, tz: str) -> datetime | None:
    from journeydsl.simulate.inputs import parse_time

    if text is None:
        return None
    try:
        return parse_time(text, tz)
    except ValueError as exc:
        raise _UsageError(f"{what}: {exc}") from None


@contextmanager
def _quiet_engine_logs(err: TextIO) -> Iterator[None]:
    """The engine logs every step; a simulation reports through its own output, so only errors
    (a failing expression) reach stderr."""
    import structlog

    old = structlog.get_config()
    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(file=err),
    )
    try:
        yield
    finally:
        structlog.configure(**old)


@contextmanager
def _progress(
    enabled: bool, start: datetime, until: datetime, err: TextIO
) -> Iterator[Callable[[datetime], None] | None]:
    if not enabled:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    total = max((until - start).total_seconds() / 86400, 1e-9)
    with Progress(
        TextColumn("simulating"),
        BarColumn(),
        TextColumn("day {task.completed:.0f}/{task.total:.0f}"),
        TimeElapsedColumn(),
        console=Console(file=err),
        transient=True,
    ) as bar:
        task = bar.add_task("simulate", total=total)

        def advance(now: datetime) -> None:
            bar.update(task, completed=min(total, (now - start).total_seconds() / 86400))

        yield advance


def _until(args: argparse.Namespace, start: datetime, tz: str) -> datetime:
    if args.until and args.days is not None:
        raise _UsageError("give --until or --days, not both")
    if args.days is not None:
        if args.days < 1:
            raise _UsageError("--days must be at least 1")
        return start + timedelta(days=args.days)
    until = _time(args.until, "--until", tz)
    if until is None:
        return start + timedelta(days=DEFAULT_DAYS)
    if until <= start:
        raise _UsageError(f"--until {args.until} is not after the start {start.isoformat()}")
    return until


def build(args: argparse.Namespace, err: TextIO) -> Run | int:
    """Compile, load the inputs and run the simulation the options describe; an exit code when
    that is not possible (the reason is on ``err``)."""
    try:
        return _build(args, err)
    except _UsageError as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return EXIT_USAGE


def _build(args: argparse.Namespace, err: TextIO) -> Run | int:
    recorded = args.events is not None
    synthetic = args.population is not None
    if recorded == synthetic:
        raise _UsageError(
            "give --events (recorded mode) or --population with --behaviour (synthetic)"
        )
    if synthetic and not args.behaviour:
        raise _UsageError("--population needs --behaviour B.yaml")
    if recorded and args.behaviour:
        raise _UsageError("--behaviour is for synthetic mode (--population N)")
    if synthetic and args.profiles:
        raise _UsageError("--profiles is for recorded mode; the behaviour file describes profiles")
    for path in (args.events, args.profiles, args.behaviour):
        if path is not None and not Path(path).is_file():
            raise _UsageError(f"{path}: no such file")
    journey = _compile(args.journey, err)
    if journey is None:
        return EXIT_ERRORS
    with _quiet_engine_logs(err):
        if recorded:
            return _recorded(args, journey, err)
        return _synthetic(args, journey, err)


def _run(sim: Simulation, args: argparse.Namespace, err: TextIO) -> SimulationResult | int:
    from journeydsl.simulate.driver import SimulationStuckError

    show = bool(args.progress) or err.isatty()
    with _progress(show, sim.start, sim.until, err) as tick:
        sim.progress = tick
        try:
            result = sim.run()
        except SimulationStuckError as exc:
            print(f"journeydsl: error: {exc} (an engine bug; please report it)", file=err)
            return EXIT_ERRORS
    for problem in result.quarantined:
        print(f"{problem.where}: quarantined: {problem.reason}", file=err)
    for problem in sim.duplicates:
        print(str(problem), file=err)
    return result


def _recorded(args: argparse.Namespace, journey: ir.Journey, err: TextIO) -> Run | int:
    from journeydsl.simulate.driver import Simulation
    from journeydsl.simulate.inputs import read_events, read_profiles, schemas_of

    profiles: list[Profile] = []
    if args.profiles:
        profiles, bad = read_profiles(args.profiles, journey.attribute_types)
        for problem in bad:
            print(f"{problem.where}: profile skipped: {problem.reason}", file=err)
    events, problems = read_events(args.events, schemas_of([journey]))
    for problem in problems:
        print(f"{problem.where}: quarantined: {problem.reason}", file=err)
    start = _time(args.start, "--start", journey.timezone)
    if start is None:
        if not events:
            raise _UsageError(f"{args.events}: no valid event to start from; give --start")
        start = min(e.record.at for e in events)
    until = _until(args, start, journey.timezone)
    sim = Simulation(
        [journey],
        profiles,
        start=start,
        until=until,
        default_consent=args.default_consent,
    )
    sim.add_events(sorted(events, key=lambda e: e.record.at))
    result = _run(sim, args, err)
    if isinstance(result, int):
        return result
    title = f"recorded: {len(events)} events from {args.events}"
    if sim.stats.after_until:
        title += f" ({sim.stats.after_until} after the end, not simulated)"
    return Run(journey, result, title)


def _synthetic(args: argparse.Namespace, journey: ir.Journey, err: TextIO) -> Run | int:
    from journeydsl import ir
    from journeydsl.simulate.behaviour import check_behaviour, load_behaviour
    from journeydsl.simulate.driver import Simulation
    from journeydsl.simulate.population import Population
    from journeydsl.simulate.yamlfile import InputError

    if args.population < 1:
        raise _UsageError("--population must be at least 1")
    if args.default_consent:
        raise _UsageError("--default-consent is for recorded mode; the behaviour file sets consent")
    try:
        loaded = load_behaviour(args.behaviour)
    except InputError as exc:
        print(str(exc), file=err)
        return EXIT_ERRORS
    sent: dict[str, set[str]] = {}
    for node in journey.nodes.values():
        if isinstance(node, ir.Send):
            sent.setdefault(node.template, set()).update([node.channel, *node.fallback])
    category = journey.event_types.get("transaction", {}).get("category")
    categories = frozenset(category.values) if category is not None and category.values else None
    warnings = check_behaviour(loaded, sent, categories, frozenset(journey.event_types))
    for w in warnings:
        print(str(w), file=err)
    model = loaded.model
    start = _time(args.start, "--start", journey.timezone) or model.start
    until = _until(args, start, journey.timezone)
    population = Population(model, args.population, args.seed)
    sim = Simulation(
        [journey], population.profiles, start=start, until=until, channels=population.channels()
    )
    population.attach(sim)
    result = _run(sim, args, err)
    if isinstance(result, int):
        return result
    costs = {str(name): c.cost for name, c in model.channels.items()}
    failures = {
        name: (s.transient, s.permanent)
        for name, s in population.stats.items()
        if s.delivered or s.transient or s.permanent
    }
    title = f"synthetic: {args.population} customers from {args.behaviour}, seed {args.seed}"
    return Run(journey, result, title, costs, failures)


def simulate_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl simulate``."""
    from journeydsl.simulate.driver import dumps
    from journeydsl.simulate.report import render_text, render_trace

    run = build(args, err)
    if isinstance(run, int):
        return run
    result = run.result
    try:
        with open(args.output, "w", encoding="utf-8") if args.output else nullcontext(out) as sink:
            if args.format == "json":
                sink.write(dumps(result.to_json()))
            else:
                render_text(
                    result,
                    sink,
                    title=run.title,
                    costs=run.costs,
                    failures=run.failures,
                )
    except OSError as exc:
        print(f"journeydsl: error: {args.output}: {exc.strerror or exc}", file=err)
        return EXIT_USAGE
    if args.trace:
        trace = render_trace(result, args.trace)
        # JSON on stdout must stay parseable: the timeline then goes to stderr.
        (err if args.format == "json" and not args.output else out).write("\n" + trace)
    return EXIT_OK


def explain_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl explain``."""
    from journeydsl.simulate.report import render_explain

    run = build(args, err)
    if isinstance(run, int):
        return run
    out.write(render_explain(run.result, args.customer))
    return EXIT_OK
