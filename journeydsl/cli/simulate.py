"""``journeydsl simulate`` and ``journeydsl explain``: options, input loading and output, over
the simulator of :mod:`journeydsl.simulate`.

Exit codes follow the rest of the CLI: 0 done (quarantined event lines are reported on stderr
and do not fail the run), 1 the journey or an input file has errors, 2 a usage error.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from journeydsl.cli.common import (
    Command,
    UsageError,
    check_input_files,
    policy_file_problem,
    quiet_engine_logs,
)
from journeydsl.cli.customers import PopulationIds, recorded_ids, refuse_unknown_customer
from journeydsl.cli.simulate_args import (
    DEFAULT_DAYS,
    add_explain_arguments,
    add_input_arguments,
    add_simulate_arguments,
)
from journeydsl.cli.variants import Variant, variants
from journeydsl.exitcodes import ExitCode
from journeydsl.zones import local_time, zone

if TYPE_CHECKING:
    from journeydsl import ir
    from journeydsl.runtime.protocols import Profile
    from journeydsl.simulate.behaviour import Behaviour
    from journeydsl.simulate.behaviour_general import GeneralBehaviour
    from journeydsl.simulate.driver import RunResult, Simulation, SimulationResult
    from journeydsl.simulate.inputs import LoadedEnrolment, LoadedEvent
    from journeydsl.simulate.parallel import MergedResult

#: The largest ``--population``: every part of a run lists the ids of the whole population to
#: split them (some 70 bytes an id), so a 20-digit population was a MemoryError.
MAX_POPULATION = 100_000_000

__all__ = [
    "COMMANDS",
    "Run",
    "add_explain_arguments",
    "add_input_arguments",
    "add_simulate_arguments",
    "build",
    "explain_command",
    "simulate_command",
]


@dataclass
class Run:
    """A finished simulation and what the reports need to know about it."""

    journey: ir.Journey
    result: RunResult
    title: str
    costs: dict[str, Decimal] | None = None
    failures: dict[str, tuple[int, int]] | None = None
    #: ``--compare``: the other journey's result and failed attempts per channel.
    other: RunResult | None = None
    other_failures: dict[str, tuple[int, int]] | None = None
    #: ``--trace`` rendered by the worker that simulated the customer (``--workers``).
    trace: str | None = None
    #: Every journey's result and failed attempts per channel (``--sweep``: one per value).
    variants: list[tuple[RunResult, dict[str, tuple[int, int]] | None]] = field(
        default_factory=list
    )


def compile_journey(
    path: str,
    err: TextIO,
    root: Path | None,
    params: tuple[tuple[str, str], ...] = (),
    hashes: list[str] | None = None,
) -> ir.Journey | None:
    """The compiled journey, or None after printing its errors on ``err``; ``hashes`` gets the
    journey's hash (of its sources and ``params``, see :mod:`journeydsl.simulate.parts`)."""
    from journeydsl.compiler import compile_file
    from journeydsl.diagnostics import render_text

    check_input_files(path)
    result = compile_file(path, root=root, params=dict(params) or None)
    if not result.ok or result.journey is None:
        print(render_text(result.diagnostics, result.sources), file=err)
        return None
    if hashes is not None:
        from journeydsl.simulate.parts import sources_hash

        hashes.append(sources_hash(result.sources.values(), params))
    return result.journey


def _time(text: str | None, what: str, tz: str) -> datetime | None:
    """The time an option gives; a usage error when it is not one, or is outside the range a
    run stays in (that of events: from 1900 to 2999)."""
    from journeydsl.simulate.behaviour import in_event_range
    from journeydsl.simulate.inputs import parse_time

    if text is None:
        return None
    try:
        return in_event_range(parse_time(text, tz), f"{what} {text}")
    except ValueError as exc:
        message = str(exc)
        raise UsageError(message if message.startswith(what) else f"{what}: {message}") from None


@contextmanager
def _progress(
    args: argparse.Namespace, start: datetime, until: datetime, err: TextIO
) -> Iterator[Callable[[datetime], None] | None]:
    """Progress in simulated days, for a run in one piece (``explain``)."""
    from journeydsl.cli.progress import progress

    total = max((until - start).total_seconds() / 86400, 1e-9)
    asked, quiet = bool(args.progress), bool(getattr(args, "quiet", False))
    with progress(err, "days", asked=asked, quiet=quiet) as tick:
        if tick is None:
            yield None
            return
        report = tick

        def advance(now: datetime) -> None:
            report(min(total, (now - start).total_seconds() / 86400), total)

        yield advance


def _until(args: argparse.Namespace, start: datetime, tz: str) -> datetime:
    """The end of the run: ``--until``, ``--days`` after ``start``, or the default length; a
    usage error naming the range when it is not after the start or is past the end of the range
    of events (a run's end is before 3000-01-01 UTC)."""
    from journeydsl.runtime.events import LATEST

    if args.until and args.days is not None:
        raise UsageError("give --until or --days, not both")
    most = (LATEST - start) // timedelta(days=1)  # (whole days from the start to the range's end)
    if args.days is not None:
        if not 1 <= args.days <= most:
            raise UsageError(
                f"--days must be from 1 to {most:,} (a run ends before 3000-01-01 UTC, the end "
                f"of the range of events; it starts {start.isoformat()}), not {args.days:,}"
            )
        return start + timedelta(days=args.days)
    until = _time(args.until, "--until", tz)
    if until is None:
        if most < DEFAULT_DAYS:
            raise UsageError(
                f"the run would end {DEFAULT_DAYS} days after the start {start.isoformat()}, "
                "past the end of the range of events (3000-01-01 UTC): give --until or --days"
            )
        return start + timedelta(days=DEFAULT_DAYS)
    if until <= start:
        raise UsageError(f"--until {args.until} is not after the start {start.isoformat()}")
    return until


def build(args: argparse.Namespace, err: TextIO) -> Run | int:
    """Compile, load the inputs and run the simulation the options describe; an exit code when
    that is not possible (the reason is on ``err``)."""
    try:
        return _build(args, err)
    except UsageError as exc:
        print(f"journeydsl: error: {exc}", file=err)
        return ExitCode.USAGE


def _check_workers(workers: int) -> None:
    """Refuse a ``--workers`` below 1, or above what this machine can use (a few processes a
    CPU, :func:`~journeydsl.simulate.parallel.max_workers`)."""
    if workers < 1:
        raise UsageError("--workers must be at least 1")
    from journeydsl.simulate.parallel import WORKERS_PER_CPU, max_workers, usable_cpus

    if workers > (most := max_workers()):
        cpus = usable_cpus()
        raise UsageError(
            f"--workers must be from 1 to {most} on this machine ({WORKERS_PER_CPU} per CPU, "
            f"{cpus} CPU{'s' if cpus != 1 else ''}), not {workers:,}: more processes than "
            "cores only slow the run"
        )


def _several(args: argparse.Namespace) -> bool:
    """Whether several journeys run together (``simulate J1 J2 …``)."""
    return len(getattr(args, "journeys", None) or ()) > 1


def _check_several(args: argparse.Namespace) -> None:
    if getattr(args, "compare", None) is not None:
        raise UsageError("--compare takes one journey; several journeys run together without it")
    if getattr(args, "compare_policies", None) is not None:
        raise UsageError("--compare-policies takes one journey; give only that journey")
    if getattr(args, "format", None) == "html":
        raise UsageError("several journeys report as text or json, not html")
    if getattr(args, "workers", 1) != 1:
        raise UsageError("several journeys run together in one process: leave out --workers")
    if getattr(args, "part", None) is not None or getattr(args, "executor", None) == "dask":
        raise UsageError("several journeys run together in one process: they are not spread")
    if getattr(args, "enrol", None):
        raise UsageError("--enrol enters customers into one journey; give only that journey")
    if getattr(args, "sweep", None):
        raise UsageError("--sweep varies one journey; give only that journey")
    if len(set(map(str, args.journeys))) != len(args.journeys):
        raise UsageError("a journey file is given twice")


def _build(args: argparse.Namespace, err: TextIO) -> Run | int:
    if getattr(args, "journeys", None):
        args.journey = args.journeys[0]
    recorded = args.events is not None
    synthetic = args.population is not None
    if recorded == synthetic:
        raise UsageError(
            "give --events (recorded mode) or --population with --behaviour (synthetic)"
        )
    if synthetic and not args.behaviour:
        raise UsageError("--population needs --behaviour B.yaml")
    if recorded and args.behaviour:
        raise UsageError("--behaviour is for synthetic mode (--population N)")
    if synthetic and args.profiles:
        raise UsageError("--profiles is for recorded mode; the behaviour file describes profiles")
    if getattr(args, "enrol", None) and not recorded:
        raise UsageError("--enrol is for recorded mode (with --events)")
    check_input_files(args.events, args.profiles, args.behaviour, getattr(args, "enrol", None))
    _check_workers(getattr(args, "workers", 1))
    other_path = getattr(args, "compare", None) or getattr(args, "compare_policies", None)
    if other_path is not None and args.trace:
        raise UsageError("--trace does not go with --compare; trace each journey on its own")
    if getattr(args, "sweep", None) and args.trace:
        raise UsageError("--trace does not go with --sweep; trace one value with --param")
    if _several(args):
        _check_several(args)
    if hasattr(args, "part"):
        from journeydsl.cli.spread import check_spread

        check_spread(args)
    root = getattr(args, "root", None)
    args.variants = variants(args)
    args.journey_hashes = []
    journeys = []
    for variant in args.variants:
        journey = compile_journey(variant.path, err, root, variant.params, args.journey_hashes)
        if journey is None:
            return ExitCode.ERRORS
        journeys.append(journey)
    for path in args.journeys[1:] if _several(args) else ():
        more = compile_journey(path, err, root)
        if more is None:
            return ExitCode.ERRORS
        if more.id in {j.id for j in journeys}:
            raise UsageError(f"{path}: a second journey '{more.id}'; journey ids must differ")
        journeys.append(more)
    from journeydsl.cli.handoffs import add_targets  # hand-off: the targets run alongside

    given = getattr(args, "journeys", None) or [args.journey]
    added = add_targets(journeys, given, err, root)
    if added is None:
        return ExitCode.ERRORS
    if added:  # (the chain runs together, on one engine)
        args.journeys = [*given, *added]
        try:
            _check_several(args)
        except UsageError as exc:
            raise UsageError(f"{exc} (the journeys it hands off to run with it)") from None
    from journeydsl.ir_rewards import budget_conflicts  # (a --compare variant runs alone)

    for problem in budget_conflicts(journeys[:1] + journeys[len(args.variants) :]):
        print(f"error: {problem}", file=err)
        return ExitCode.ERRORS
    if not _load_policies(args, err):
        return ExitCode.ERRORS
    with quiet_engine_logs(err):
        if recorded:
            return _recorded(args, journeys, err)
        return _synthetic(args, journeys, err)


def _load_policies(args: argparse.Namespace, err: TextIO) -> bool:
    """Load ``--policies`` into ``args.policy_set`` and ``--compare-policies`` into
    ``args.compare_policy_set`` (None without); False after printing a policy file's mistakes,
    each at its line."""
    from journeydsl.runtime.policies import load_policies
    from journeydsl.yamlfile import InputError

    for option, attr in (("policies", "policy_set"), ("compare_policies", "compare_policy_set")):
        setattr(args, attr, None)
        path = getattr(args, option, None)
        if path is None:
            continue
        if (problem := policy_file_problem(path)) is not None:
            raise UsageError(problem)
        try:
            setattr(args, attr, load_policies(path, root=getattr(args, "root", None)))
        except InputError as exc:
            print(str(exc), file=err)
            return False
    return True


def _split(args: argparse.Namespace) -> bool:
    """Whether the run goes through :mod:`~journeydsl.simulate.parallel`: every ``simulate``
    does (in chunks of customers that bound its memory, over ``--workers`` processes);
    ``explain`` reads the engine's decision log, and several journeys share one engine, so
    those run in one piece."""
    return getattr(args, "workers", None) is not None and not _several(args)


def _run_parts(
    args: argparse.Namespace,
    journeys: list[ir.Journey],
    err: TextIO,
    title: str,
    start: datetime,
    until: datetime,
    *,
    events: list[LoadedEvent] | None = None,
    profiles: list[Profile] | None = None,
    model: Behaviour | GeneralBehaviour | None = None,
    enrolments: list[LoadedEnrolment] | None = None,
) -> Run | int:
    """Run the customers in parts (``--workers``, ``--executor``) and merge them, or run
    ``--compare``; with ``--part K/N``, run part K only and write its part file."""
    from journeydsl.cli.spread import executor_of, write_part
    from journeydsl.simulate.driver import SimulationStuckError
    from journeydsl.simulate.parallel import Context, Plan, run_plan

    chosen: list[Variant] = args.variants
    plan = Plan(
        tuple(v.path for v in chosen),
        start,
        until,
        behaviour=args.behaviour,
        population=args.population or 0,
        seed=args.seed,
        default_consent=args.default_consent,
        policies=getattr(args, "policies", None),
        detail=args.format != "text" and len(chosen) == 1,
        trace=args.trace,
        root=str(args.root) if getattr(args, "root", None) else None,
        params=tuple(v.params for v in chosen),
        policies_per=_policies_per(args, chosen),
    )
    # The journeys compiled already: this process splits the customers with them (and, with
    # one worker, runs them); worker processes compile their own.
    per_journey = tuple(
        args.compare_policy_set if v.policies is not None else args.policy_set for v in chosen
    )
    context = Context(
        tuple(journeys), model, args.policy_set, per_journey if plan.policies_per else ()
    )
    costs = {str(n): c.cost for n, c in model.channels.items()} if model is not None else None
    from journeydsl.cli.progress import progress
    from journeydsl.simulate.executors import ExecutorError

    asked, quiet = bool(args.progress), bool(getattr(args, "quiet", False))
    with progress(err, "customers", asked=asked, quiet=quiet) as tick:
        try:
            if getattr(args, "part", None) is not None:
                return write_part(
                    args,
                    plan,
                    context,
                    title,
                    costs,
                    err,
                    tick,
                    events=events or (),
                    profiles=profiles or (),
                    enrolments=enrolments or (),
                )
            results = run_plan(
                plan,
                workers=args.workers,
                context=context,
                events=events or (),
                profiles=profiles or (),
                progress=tick,
                enrolments=enrolments or (),
                executor=executor_of(args),
            )
        except SimulationStuckError as exc:
            print(f"journeydsl: error: {exc} (an engine bug; please report it)", file=err)
            return ExitCode.ERRORS
        except ExecutorError as exc:
            print(f"journeydsl: error: {exc}", file=err)
            return ExitCode.USAGE
    return finish_parts(args, journeys, results, title, costs, err)


def _policies_per(args: argparse.Namespace, chosen: list[Variant]) -> tuple[str | None, ...]:
    """Per journey, its policy file, when one runs under its own (``--compare-policies``)."""
    if all(v.policies is None for v in chosen):
        return ()
    return tuple(v.policies or getattr(args, "policies", None) for v in chosen)


def finish_parts(
    args: argparse.Namespace,
    journeys: list[ir.Journey],
    results: list[MergedResult],
    title: str,
    costs: dict[str, Decimal] | None,
    err: TextIO,
) -> Run:
    """The run of merged parts (of ``--workers``, or the part files ``merge`` reads): what the
    engine quarantined on ``err``, and what the reports need (``costs``: synthetic mode)."""
    base = results[0]
    for problem in base.quarantined:
        print(f"{problem.where}: quarantined: {problem.reason}", file=err)
    for problem in base.duplicates:
        print(str(problem), file=err)
    if costs is None and base.stats.after_until:
        title += f" ({base.stats.after_until} after the end, not simulated)"

    def failed(r: MergedResult) -> dict[str, tuple[int, int]] | None:
        if costs is None:
            return None
        return {
            name: (s.transient, s.permanent)
            for name, s in r.channels.items()
            if s.delivered or s.transient or s.permanent
        }

    trace = None
    if args.trace:
        trace = base.trace or f"{args.trace}: no events, instances or actions\n"
    return Run(
        journeys[0],
        base,
        title,
        costs,
        failed(base),
        other=results[1] if len(results) > 1 else None,
        other_failures=failed(results[1]) if len(results) > 1 else None,
        trace=trace,
        variants=[(r, failed(r)) for r in results],
    )


def _run(sim: Simulation, args: argparse.Namespace, err: TextIO) -> SimulationResult | int:
    from journeydsl.simulate.driver import SimulationStuckError

    with _progress(args, sim.start, sim.until, err) as tick:
        sim.progress = tick
        try:
            result = sim.run()
        except SimulationStuckError as exc:
            print(f"journeydsl: error: {exc} (an engine bug; please report it)", file=err)
            return ExitCode.ERRORS
    for problem in result.quarantined:
        print(f"{problem.where}: quarantined: {problem.reason}", file=err)
    for problem in sim.duplicates:
        print(str(problem), file=err)
    return result


def _recorded(args: argparse.Namespace, journeys: list[ir.Journey], err: TextIO) -> Run | int:
    from journeydsl.cli.customers import note_without_profile
    from journeydsl.runtime.profiles import attribute_types
    from journeydsl.simulate.driver import Enrolment, Simulation
    from journeydsl.simulate.inputs import read_enrolments, read_events, read_profiles, schemas_of

    journey = journeys[0]
    profiles: list[Profile] = []
    if args.profiles:  # (checked against the attributes of every journey's catalog)
        profiles, bad = read_profiles(args.profiles, attribute_types(journeys))
        for problem in bad:
            print(f"{problem.where}: profile skipped: {problem.reason}", file=err)
    events, problems = read_events(args.events, schemas_of(journeys))
    for problem in problems:
        print(f"{problem.where}: quarantined: {problem.reason}", file=err)
    enrolments: list[LoadedEnrolment] = []
    if getattr(args, "enrol", None):
        enrolments, refused = read_enrolments(args.enrol, journey.timezone, journey)
        for problem in refused:
            print(f"{problem.where}: enrolment skipped: {problem.reason}", file=err)
    if stop := refuse_unknown_customer(args, recorded_ids(events, profiles, enrolments), err):
        return stop
    note_without_profile(args, events, profiles, enrolments, err)
    start = _time(args.start, "--start", journey.timezone)
    if start is None:
        times = [e.record.at for e in events] + [n.at for n in enrolments]
        if not times:
            raise UsageError(f"{args.events}: no valid event to start from; give --start")
        start = min(times)
    start = start.astimezone(zone(journey.timezone))  # (--days: days of the journey's calendar)
    until = _until(args, start, journey.timezone)
    start, until = local_time(start, journey.timezone), local_time(until, journey.timezone)
    ordered = sorted(events, key=lambda e: e.record.at)
    title = f"recorded: {len(events)} events from {args.events}"
    if _split(args):
        return _run_parts(
            args,
            journeys,
            err,
            title,
            start,
            until,
            events=ordered,
            profiles=profiles,
            enrolments=enrolments,
        )
    sim = Simulation(
        journeys,
        profiles,
        start=start,
        until=until,
        default_consent=args.default_consent,
        policies=args.policy_set,
    )
    sim.add_events(ordered)
    for n in sorted(enrolments, key=lambda n: n.at):
        sim.enrol(n.at, Enrolment(n.customer_id, journey.id, n.data), n.where)
    result = _run(sim, args, err)
    if isinstance(result, int):
        return result
    if sim.stats.after_until:
        title += f" ({sim.stats.after_until} after the end, not simulated)"
    return Run(journey, result, title)


def _synthetic(args: argparse.Namespace, journeys: list[ir.Journey], err: TextIO) -> Run | int:
    from journeydsl import ir
    from journeydsl.simulate.behaviour import check_behaviour, load_behaviour
    from journeydsl.simulate.decisions import behaviour_functions
    from journeydsl.simulate.decisions_check import check_decisions
    from journeydsl.simulate.driver import Simulation
    from journeydsl.simulate.population_general import population_for
    from journeydsl.yamlfile import InputError

    if not 1 <= args.population <= MAX_POPULATION:
        raise UsageError(
            f"--population must be from 1 to {MAX_POPULATION:,}, not {args.population:,} (every "
            "part of a run lists the population's ids to split them)"
        )
    if args.default_consent:
        raise UsageError("--default-consent is for recorded mode; the behaviour file sets consent")
    try:
        loaded = load_behaviour(args.behaviour)
    except InputError as exc:
        print(str(exc), file=err)
        return ExitCode.ERRORS
    shown: set[str] = set()
    # Run together, the journeys are checked as one: a rule for a template any of them sends
    # applies. A --compare variant is checked on its own.
    for group in [journeys] if _several(args) else [[j] for j in journeys]:
        sent: dict[str, set[str]] = {}
        event_types: dict[str, Any] = {}
        attribute_types: dict[str, Any] = {}
        for journey in group:
            for node in journey.nodes.values():
                if isinstance(node, ir.Send):
                    sent.setdefault(node.template, set()).update([node.channel, *node.fallback])
            event_types.update(journey.event_types)
            attribute_types.update(journey.attribute_types)
        category = event_types.get("transaction", {}).get("category")
        categories = (
            frozenset(category.values) if category is not None and category.values else None
        )
        for w in check_behaviour(
            loaded,
            sent,
            categories,
            frozenset(event_types),
            event_types=event_types,
            attribute_types=attribute_types,
        ):
            if str(w) not in shown:  # a --compare variant repeats most of the base's
                shown.add(str(w))
                print(str(w), file=err)
    decisions = check_decisions(loaded, journeys)  # against every journey of the run at once
    for problem in decisions:
        print(str(problem), file=err)
    if any(problem.severity == "error" for problem in decisions):
        return ExitCode.ERRORS
    journey = journeys[0]
    model = loaded.model
    if stop := refuse_unknown_customer(args, PopulationIds(model, args.population), err):
        return stop
    start = _time(args.start, "--start", journey.timezone) or model.start
    start = start.astimezone(zone(journey.timezone))  # (--days: days of the journey's calendar)
    until = _until(args, start, journey.timezone)
    start, until = local_time(start, journey.timezone), local_time(until, journey.timezone)
    title = f"synthetic: {args.population} customers from {args.behaviour}, seed {args.seed}"
    if _split(args):
        return _run_parts(args, journeys, err, title, start, until, model=model)
    population = population_for(model, args.population, args.seed)
    sim = Simulation(
        journeys,
        population.profiles,
        start=start,
        until=until,
        channels=population.channels(),
        policies=args.policy_set,
        decisions=behaviour_functions(model.decisions, journeys, population.profiles, args.seed),
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
    return Run(journey, result, title, costs, failures)


def simulate_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl simulate``."""
    from journeydsl.cli.simulate_output import write_report

    if isinstance(run := build(args, err), int):
        return run
    return write_report(args, run, out, err)


def explain_command(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """``journeydsl explain`` (with ``--db``: :mod:`journeydsl.cli.explain_db`)."""
    from journeydsl.simulate.driver import SimulationResult
    from journeydsl.simulate.report import render_explain

    if args.db is not None:
        from journeydsl.cli.explain_db import explain_stored

        return explain_stored(args, out, err)
    if args.actions is not None:
        print("journeydsl: error: --actions goes with --db (a run's state)", file=err)
        return ExitCode.USAGE

    run = build(args, err)
    if isinstance(run, int):
        return run
    assert isinstance(run.result, SimulationResult)  # explain has no --workers or --compare
    if stop := refuse_unknown_customer(args, run.result.customers(), err):
        return stop
    out.write(render_explain(run.result, args.customer))
    return ExitCode.OK


#: The commands this module defines.
COMMANDS = {
    "simulate": Command(add_simulate_arguments, simulate_command),
    "explain": Command(add_explain_arguments, explain_command),
}
