"""Runs split into parts of customers: over worker processes (``--workers N``) and in chunks that
bound memory, merged into one result identical to a single run.

Why this is exact: the engine treats customers independently (instances, timers, caps and quiet
hours are per customer; a scheduled segment entry evaluates each customer on their own, at the
same local time every day), and a synthetic customer draws everything from their own random
streams, seeded from ``(seed, customer id, purpose)``. So a part of the customers, run alone over
the same time range, does exactly what those customers do in a run of everyone. The reports are
built from order-free pieces: per-journey :class:`~journeydsl.simulate.tally.Tally` counts (sums),
and actions and instances sorted by the contract's keys.

Customers are assigned to parts by a stable hash of their id (BLAKE2b, the same on every machine
and Python run; never :func:`hash`). Recorded customers that share an event id (only the first
such event is processed, whoever it belongs to) go to the same part, so that the duplicate is
skipped as in a single run.

Each worker process compiles the journeys again from their files: compiled journeys hold
closures, which do not cross process boundaries; the work itself (customer numbers, or recorded
events and profiles) is sent as plain values.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
import heapq
import math
import multiprocessing
import multiprocessing.pool
import operator
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, cast

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import Profile
from journeydsl.simulate.behaviour import Behaviour
from journeydsl.simulate.behaviour_general import GeneralBehaviour
from journeydsl.simulate.budgets import reward_steps
from journeydsl.simulate.capacity import capacity_figures
from journeydsl.simulate.driver import (
    Enrolment,
    RunResult,
    RunStats,
    Simulation,
    SimulationResult,
    action_sort_key,
    contract_action,
    exit_steps,
    holdout_splits,
    instance_sort_key,
    instant,
    step_order,
    ticket_steps,
)
from journeydsl.simulate.inputs import LoadedEnrolment, LoadedEvent, Problem
from journeydsl.simulate.paired import PairTally, reached_outcomes
from journeydsl.simulate.policy_figures import PolicyTally
from journeydsl.simulate.tally import ChannelStats, Tally, merge_channel_stats
from journeydsl.zones import zone as zone_named

__all__ = [
    "DEFAULT_CHUNK",
    "WORKERS_PER_CPU",
    "Context",
    "Executor",
    "MergedResult",
    "Merger",
    "Plan",
    "max_workers",
    "partition",
    "plan_tasks",
    "run_mergers",
    "run_plan",
    "select_part",
    "start_pool",
    "usable_cpus",
]

#: Customers simulated together in one part: enough to amortise setting up a simulation, few
#: enough to keep a part's instances, decision logs and event queue small.
DEFAULT_CHUNK = 1000


def partition(customer_id: str, parts: int) -> int:
    """The part (``0 .. parts-1``) of a customer: a stable hash of the id (BLAKE2b), the same on
    every machine and run."""
    digest = hashlib.blake2b(customer_id.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") % parts


@dataclass(frozen=True)
class Plan:
    """A run to split into parts, as plain values a worker process can receive.

    ``journeys`` are the journey files (each is simulated on its own, on the same customers:
    ``--compare`` gives two). Synthetic mode gives ``behaviour``, ``population`` and ``seed``;
    recorded mode passes its events and profiles to :func:`run_plan`. ``detail`` keeps every
    action and instance (for the JSON report); without it a part returns only counts.
    ``trace`` is a customer whose ``--trace`` timeline the part that has them renders."""

    journeys: tuple[str, ...]
    start: datetime
    until: datetime
    behaviour: str | None = None
    population: int = 0
    seed: int = 0
    default_consent: bool = False
    #: The contact-policy file (``--policies``), loaded again by each worker.
    policies: str | None = None
    detail: bool = True
    trace: str | None = None
    chunk: int = DEFAULT_CHUNK
    #: The folder the journeys' catalogs are read from (``--root``; None: each journey's own).
    root: str | None = None
    #: Per journey, the parameter values it is compiled with (``--param``, ``--sweep``).
    params: tuple[tuple[tuple[str, str], ...], ...] = ()
    #: Per journey, the contact-policy file it runs under (``--compare-policies``: the second
    #: journey's differs); empty: every journey runs under ``policies``.
    policies_per: tuple[str | None, ...] = ()


@dataclass
class Context:
    """What a process needs to run parts of a plan: the compiled journeys (in the plan's order)
    and the behaviour model (synthetic mode)."""

    journeys: tuple[ir.Journey, ...]
    model: Behaviour | GeneralBehaviour | None = None
    policies: Policies | None = None
    #: Per journey, its policies (``Plan.policies_per``); empty: ``policies`` for every one.
    per_journey: tuple[Policies | None, ...] = ()

    def policies_for(self, index: int) -> Policies | None:
        """The policies the plan's ``index``-th journey runs under."""
        return self.per_journey[index] if self.per_journey else self.policies

    @classmethod
    def load(cls, plan: Plan) -> Context:
        """Compile the plan's journeys and load its behaviour file (both were checked by the
        parent process: an error here is a file that changed meanwhile)."""
        from journeydsl.compiler import compile_file
        from journeydsl.runtime.policies import load_policies
        from journeydsl.simulate.behaviour import load_behaviour

        journeys: list[ir.Journey] = []
        for i, path in enumerate(plan.journeys):
            given = dict(plan.params[i]) if i < len(plan.params) else {}
            compiled = compile_file(path, root=plan.root, params=given or None)
            if compiled.journey is None or not compiled.ok:
                raise RuntimeError(f"{path}: the journey no longer compiles")
            journeys.append(compiled.journey)
        model = load_behaviour(plan.behaviour).model if plan.behaviour else None
        policies = load_policies(plan.policies, root=plan.root) if plan.policies else None
        per_journey = tuple(
            load_policies(p, root=plan.root) if p else None for p in plan.policies_per
        )
        return cls(tuple(journeys), model, policies, per_journey)


@dataclass(frozen=True)
class _Task:
    """One part: synthetic customer numbers, or recorded events and profiles."""

    members: tuple[int, ...] = ()
    events: tuple[LoadedEvent, ...] = ()
    profiles: tuple[Profile, ...] = ()
    enrolments: tuple[LoadedEnrolment, ...] = ()

    @property
    def size(self) -> int:
        customers = {p.customer_id for p in self.profiles}
        customers.update(e.record.customer_id for e in self.events)
        customers.update(e.customer_id for e in self.enrolments)
        return len(self.members) + len(customers)


@dataclass
class _Part:
    """What one part did in one journey."""

    tally: Tally
    channels: dict[str, ChannelStats]
    stats: RunStats
    quarantined: list[Problem]
    duplicates: list[Problem]
    actions: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    instances: list[tuple[tuple[Any, ...], dict[str, Any]]] = field(default_factory=list)
    timezones: dict[str, str] = field(default_factory=dict)
    trace: str | None = None
    policy: PolicyTally | None = None
    #: Utilisation per day of the capacity limits (the run is one part when it has any).
    capacity: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: Per customer, the outcomes reached (kept only until the part's pairs are counted).
    reached: dict[str, set[str]] = field(default_factory=dict)
    #: ``--compare``: on the second journey's part, the paired outcomes of both journeys.
    pairs: PairTally | None = None


# --------------------------------------------------------------------------- one part


#: The cyclic garbage collector's first threshold while a part runs (Python's default: 700).
PART_GC_THRESHOLD = 100_000


@contextlib.contextmanager
def collector_for_parts() -> Iterator[None]:
    """Keep the cyclic garbage collector from rescanning what outlives the parts.

    A part allocates millions of small objects (instance records, decision-log entries,
    actions) and frees them by reference counting: the engine makes almost no cycles. With the
    default thresholds the collector still ran every 700 allocations and, in its older
    generations, rescanned the compiled journeys and every result merged so far: 10 to 20 %
    of a simulation's time. Objects alive when a part starts are frozen (never scanned again, still
    freed by reference counting), and collections are rarer while the part runs. Both are
    undone on the way out."""
    thresholds = gc.get_threshold()
    gc.freeze()
    gc.set_threshold(PART_GC_THRESHOLD, *thresholds[1:])
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
        gc.unfreeze()


def _run_part(context: Context, plan: Plan, task: _Task) -> list[_Part]:
    """Simulate one part of the customers in every journey of the plan."""
    with collector_for_parts():
        return _simulate_part(context, plan, task)


def _simulate_part(context: Context, plan: Plan, task: _Task) -> list[_Part]:
    from journeydsl.simulate.decisions import behaviour_functions
    from journeydsl.simulate.population import Population
    from journeydsl.simulate.population_general import GeneralPopulation, population_for

    out: list[_Part] = []
    for index, journey in enumerate(context.journeys):
        policies = context.policies_for(index)
        channels: dict[str, ChannelStats] = {}
        population: Population | GeneralPopulation | None = None
        if context.model is not None:
            population = population_for(context.model, plan.population, plan.seed, task.members)
            sim = Simulation(
                [journey],
                population.profiles,
                start=plan.start,
                until=plan.until,
                channels=population.channels(),
                policies=policies,
                decisions=behaviour_functions(
                    context.model.decisions, [journey], population.profiles, plan.seed
                ),
            )
            population.attach(sim)
            channels = population.stats
        else:
            sim = Simulation(
                [journey],
                task.profiles,
                start=plan.start,
                until=plan.until,
                default_consent=plan.default_consent,
                policies=policies,
            )
            sim.add_events(task.events)
            for e in task.enrolments:
                sim.enrol(e.at, Enrolment(e.customer_id, journey.id, e.data), e.where)
        sim.play()
        out.append(_collect(sim, journey, plan, channels))
        if population is not None:
            population.detach()
    # --compare and --sweep: the same customers under the first journey and each other one
    for part in out[1:]:
        part.pairs = PairTally.of(task.size, out[0].reached, part.reached)
    for part in out:
        part.reached = {}
    return out


def _collect(
    sim: Simulation, journey: ir.Journey, plan: Plan, channels: dict[str, ChannelStats]
) -> _Part:
    # (the reports read the records as the JSON they are)
    records = cast(list[dict[str, Any]], sim.state.all_instances())
    part = _Part(
        Tally.of(
            records,
            sim.actions,
            holdout_splits(journey),
            exit_steps(journey),
            ticket_steps(journey),
            reward_steps(journey),  # reward budgets
            zone_named(journey.timezone),
        ),
        channels,
        sim.stats,
        sim.quarantined,
        sim.duplicates,
    )
    if len(plan.journeys) >= 2:
        part.reached = reached_outcomes(records)
    if sim.policies is not None:  # before the decision logs go
        part.policy = PolicyTally.of(records, sim.engine.policy, journey.id)
        rules = sim.engine.policy.policies
        part.capacity = capacity_figures(
            rules, sim.journeys, sim.actions, records, sim.start.tzinfo or UTC
        )
    if plan.detail:
        zones = part.timezones

        def zone(customer_id: str) -> str:
            found = zones.get(customer_id)
            if found is None:  # (a profile without a zone runs in the journey's)
                own = sim.profiles.get(customer_id).timezone
                found = zones[customer_id] = own or journey.timezone
            return found

        steps = step_order(sim.actions, records)
        part.actions = sorted(
            (
                (action_sort_key(a, step), contract_action(a, zone(a["customer_id"])))
                for a, step in zip(sim.actions, steps, strict=True)
            ),
            key=operator.itemgetter(0),
        )
        for r in records:
            zone(r["customer_id"])
            del r["log"]  # the decision log is for `explain`; it is most of a record's size
        part.instances = sorted(
            ((instance_sort_key(r), r) for r in records), key=operator.itemgetter(0)
        )
    if plan.trace is not None and plan.trace in set(sim.profiles.customers()):
        from journeydsl.simulate.report import render_trace

        part.trace = render_trace(SimulationResult(sim), plan.trace)
    return part


# --------------------------------------------------------------------------- worker processes

_WORKER: tuple[Context, Plan] | BaseException | None = None


def _init_worker(plan: Plan) -> None:
    """Set up a worker process: quiet engine logs, compile the journeys once. A failure is
    kept for the first task to raise: a pool replaces a worker whose set-up raises, forever."""
    import logging
    import sys

    import structlog

    structlog.configure(
        wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
    )
    global _WORKER
    try:
        _WORKER = (Context.load(plan), plan)
    except Exception as exc:  # re-raised by _work, in the parent
        _WORKER = exc


def _work(task: _Task) -> tuple[int, list[_Part]]:
    if isinstance(_WORKER, BaseException):
        raise _WORKER
    assert _WORKER is not None, "the worker was not initialised"
    context, plan = _WORKER
    return task.size, _run_part(context, plan, task)


# --------------------------------------------------------------------------- splitting


def _synthetic_tasks(
    plan: Plan, prefix: str, parts: int, chosen: Sequence[int] | None = None
) -> list[_Task]:
    """The synthetic customers split into ``parts`` tasks, the ``chosen`` ones (indices, in
    that order; default all) kept: what a part costs depends on the customers and the tasks it
    keeps, not on ``parts``."""
    from journeydsl.simulate.population import customer_ids

    slots = {index: i for i, index in enumerate(range(parts) if chosen is None else chosen)}
    members: list[list[int]] = [[] for _ in slots]
    for number, customer in enumerate(customer_ids(prefix, plan.population), 1):
        slot = slots.get(partition(customer, parts))
        if slot is not None:
            members[slot].append(number)
    return [_Task(members=tuple(m)) for m in members]


def _groups(events: Iterable[LoadedEvent]) -> dict[str, str]:
    """Customers that share an event id with another customer, each mapped to the smallest id of
    their group (that customer is not listed; nor are customers on their own)."""
    owner: dict[str, str] = {}
    parent: dict[str, str] = {}

    def root(c: str) -> str:
        while parent.get(c, c) != c:
            c = parent[c]
        return c

    for e in events:
        given = e.raw.get("id")
        if not isinstance(given, str) or not given:
            continue  # a content hash includes the customer: it cannot be shared
        customer = e.record.customer_id
        first = owner.setdefault(given, customer)
        if first != customer:
            a, b = root(first), root(customer)
            if a != b:
                parent[max(a, b)] = min(a, b)
    return {c: root(c) for c in parent}


def _recorded_tasks(
    events: Sequence[LoadedEvent],
    profiles: Sequence[Profile],
    parts: int,
    enrolments: Sequence[LoadedEnrolment] = (),
    chosen: Sequence[int] | None = None,
) -> list[_Task]:
    """The recorded customers split into ``parts`` tasks, the ``chosen`` ones kept (as
    :func:`_synthetic_tasks` does)."""
    group = _groups(events)
    slots = {index: i for i, index in enumerate(range(parts) if chosen is None else chosen)}
    by_events: list[list[LoadedEvent]] = [[] for _ in slots]
    by_profiles: list[list[Profile]] = [[] for _ in slots]
    by_enrolments: list[list[LoadedEnrolment]] = [[] for _ in slots]

    def slot(customer: str) -> int | None:
        return slots.get(partition(group.get(customer, customer), parts))

    for e in events:
        if (i := slot(e.record.customer_id)) is not None:
            by_events[i].append(e)
    for p in profiles:
        if (i := slot(p.customer_id)) is not None:
            by_profiles[i].append(p)
    for n in enrolments:
        if (i := slot(n.customer_id)) is not None:
            by_enrolments[i].append(n)
    return [
        _Task(events=tuple(e), profiles=tuple(p), enrolments=tuple(n))
        for e, p, n in zip(by_events, by_profiles, by_enrolments, strict=True)
    ]


#: Runs the tasks of a plan elsewhere (``simulate --executor``) and yields, as each finishes,
#: its size and what it did in each journey of the plan, in any order.
Executor = Callable[[Plan, Sequence[_Task]], Iterable[tuple[int, list[_Part]]]]


def select_part(count: int, part: tuple[int, int] | None) -> list[int]:
    """The indices of the tasks (of ``count``) that part ``K`` of ``N`` (``part``, 1-based)
    runs: every N-th task from the (K-1)-th, all of them without ``part``."""
    if part is None:
        return list(range(count))
    k, n = part
    if not 1 <= k <= n:
        raise ValueError(f"part {k}/{n}: K must be between 1 and N")
    return list(range(k - 1, count, n))


def plan_tasks(
    plan: Plan,
    context: Context,
    workers: int,
    *,
    part: tuple[int, int] | None = None,
    events: Sequence[LoadedEvent] = (),
    profiles: Sequence[Profile] = (),
    enrolments: Sequence[LoadedEnrolment] = (),
) -> list[_Task]:
    """Split the customers into tasks as a run over ``workers`` processes does (chunks of the
    plan's size, at least one per worker), and keep those of ``part`` (K of N: a part of a run
    spread with ``simulate --part``, see :func:`select_part`). Empty tasks are left out.

    With ``part``, the split is that of a run over N workers whatever ``workers`` is: each part
    may run over its own number of processes, and the parts must still share one split."""
    spread = part[1] if part is not None else workers
    # Throughput limits, ticket queues and entry rates count every customer together: a run
    # under them is one task (one engine), whatever the workers or parts.
    one = any(shared_limits(context.policies_for(i)) for i in range(len(context.journeys)))
    if context.model is not None:
        count = 1 if one else max(spread, math.ceil(plan.population / max(1, plan.chunk)))
        chosen = select_part(count, part)
        tasks = _synthetic_tasks(plan, context.model.customer_prefix, count, chosen)
    else:
        customers = {p.customer_id for p in profiles} | {e.record.customer_id for e in events}
        customers.update(n.customer_id for n in enrolments)
        count = 1 if one else max(spread, math.ceil(len(customers) / max(1, plan.chunk)))
        chosen = select_part(count, part)
        tasks = _recorded_tasks(events, profiles, count, enrolments, chosen)
    return [t for t in tasks if t.size]


def run_plan(
    plan: Plan,
    *,
    workers: int = 1,
    context: Context | None = None,
    events: Sequence[LoadedEvent] = (),
    profiles: Sequence[Profile] = (),
    progress: Callable[[int, int], None] | None = None,
    enrolments: Sequence[LoadedEnrolment] = (),
    executor: Executor | None = None,
) -> list[MergedResult]:
    """Run ``plan`` in parts over ``workers`` processes (1: in this process, with ``context``),
    or over an ``executor``, and merge the parts: one result per journey of the plan.

    Recorded mode passes ``events`` (sorted by time) and ``profiles``. ``progress`` is called
    with (customers done, customers in all) as parts finish."""
    mergers, journeys = run_mergers(
        plan,
        workers=workers,
        context=context,
        events=events,
        profiles=profiles,
        progress=progress,
        enrolments=enrolments,
        executor=executor,
    )
    return [m.result(j, plan) for m, j in zip(mergers, journeys, strict=True)]


def run_mergers(
    plan: Plan,
    *,
    workers: int = 1,
    context: Context | None = None,
    events: Sequence[LoadedEvent] = (),
    profiles: Sequence[Profile] = (),
    progress: Callable[[int, int], None] | None = None,
    enrolments: Sequence[LoadedEnrolment] = (),
    executor: Executor | None = None,
    part: tuple[int, int] | None = None,
) -> tuple[list[Merger], tuple[ir.Journey, ...]]:
    """What :func:`run_plan` merges before it builds the results, per journey of the plan, and
    the compiled journeys; with ``part`` (K of N), only the tasks of that part."""
    if workers < 1:
        raise ValueError("workers must be at least 1")
    if context is None:
        context = Context.load(plan)
    tasks = plan_tasks(
        plan,
        context,
        workers,
        part=part,
        events=events,
        profiles=profiles,
        enrolments=enrolments,
    )
    with contextlib.ExitStack() as stack:
        pool = None
        processes = min(workers, len(tasks))  # (a process more than tasks would idle)
        if processes > 1 and executor is None:
            pool = stack.enter_context(start_pool(processes, plan))
        total = sum(t.size for t in tasks)
        done = 0
        merged = [Merger() for _ in context.journeys]
        if progress is not None:
            progress(0, total)
        results: Iterable[tuple[int, list[_Part]]]
        if executor is not None:
            results = executor(plan, tasks)
        elif pool is None:
            results = ((t.size, _run_part(context, plan, t)) for t in tasks)
        else:
            results = pool.imap_unordered(_work, tasks)
        for size, parts_done in results:
            for m, one in zip(merged, parts_done, strict=True):
                m.add(one)
            done += size
            if progress is not None:
                progress(done, total)
    return merged, context.journeys


def start_pool(processes: int, plan: Plan) -> multiprocessing.pool.Pool:
    """A pool of ``processes`` worker processes, each set up for ``plan``: never more than the
    tasks of the run (:func:`run_mergers`), nor than ``--workers``, which the command line
    bounds by the machine's CPUs (:func:`max_workers`). "spawn": a fresh interpreter per worker,
    safe whatever threads this process runs (a progress bar refreshes from one)."""
    return multiprocessing.get_context("spawn").Pool(processes, _init_worker, (plan,))


#: ``--workers`` is at most this many times the CPUs this process may use: a process per core
#: keeps them busy, a few more cover pauses, and many more only add start-up and memory (99,999
#: processes for three customers took a machine down).
WORKERS_PER_CPU = 4


def max_workers() -> int:
    """The most worker processes a run may ask for on this machine: :data:`WORKERS_PER_CPU`
    times the CPUs this process may use."""
    return WORKERS_PER_CPU * usable_cpus()


def usable_cpus() -> int:
    """The CPUs this process may run on (its affinity where the system tells it), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # (macOS and Windows have no affinity call)
        return max(1, os.cpu_count() or 1)


def shared_limits(policies: Policies | None) -> bool:
    """Whether the policies have limits that count every customer together (channel
    throughput, ticket queue capacities, entry rates)."""
    return policies is not None and bool(
        policies.throughput or policies.queues or policies.entry_rates
    )


# --------------------------------------------------------------------------- merging


_LINE = re.compile(r":(\d+)$")


def _problem_key(p: Problem) -> tuple[int, int, str, str]:
    """The order a single run reports problems in: by time, then by line of the input file
    (a single run queues a file's events in time order, file order breaking ties)."""
    line = _LINE.search(p.where)
    return (
        instant(p.at) if p.at is not None else -(2**62),
        int(line.group(1)) if line else 0,
        p.where,
        p.reason,
    )


class Merger:
    """Accumulates the parts of one journey."""

    def __init__(self) -> None:
        self.tally = Tally()
        self.channels: dict[str, ChannelStats] = {c: ChannelStats() for c in CHANNELS}
        self.stats = RunStats()
        self.quarantined: list[Problem] = []
        self.duplicates: list[Problem] = []
        self.actions: list[list[tuple[tuple[Any, ...], dict[str, Any]]]] = []
        self.instances: list[list[tuple[tuple[Any, ...], dict[str, Any]]]] = []
        self.timezones: dict[str, str] = {}
        self.trace: str | None = None
        self.policy: PolicyTally | None = None
        self.capacity: dict[str, dict[str, Any]] = {}
        self.pairs: PairTally | None = None

    def add(self, part: _Part) -> None:
        if part.pairs is not None:
            self.pairs = (self.pairs or PairTally()).merge(part.pairs)
        if part.policy is not None:
            self.policy = (self.policy or PolicyTally()).merge(part.policy)
        self.capacity = self.capacity or part.capacity  # (one part when there are limits)
        self.tally.merge(part.tally)
        merge_channel_stats(self.channels, part.channels)
        self.stats.merge(part.stats)
        self.quarantined += part.quarantined
        self.duplicates += part.duplicates
        self.actions.append(part.actions)
        self.instances.append(part.instances)
        self.timezones.update(part.timezones)
        if part.trace is not None:
            self.trace = part.trace

    def result(self, journey: ir.Journey, plan: Plan) -> MergedResult:
        def merged(lists: list[list[tuple[tuple[Any, ...], dict[str, Any]]]]) -> Iterator[Any]:
            return (item for _, item in heapq.merge(*lists, key=operator.itemgetter(0)))

        return MergedResult(
            journeys=(journey,),
            start_at=plan.start,
            until_at=plan.until,
            actions=list(merged(self.actions)),
            instances=list(merged(self.instances)),
            timezones=self.timezones,
            tallied=self.tally,
            channels=self.channels,
            stats=self.stats,
            problems=sorted(self.quarantined, key=_problem_key),
            duplicates=sorted(self.duplicates, key=_problem_key),
            trace=self.trace,
            detail=plan.detail,
            policy_tallied=self.policy,
            pairs=self.pairs,
            capacity_figures=self.capacity,
        )


@dataclass
class MergedResult(RunResult):
    """One journey's result merged from the parts of a run. ``actions`` and ``instances`` (the
    records without their decision logs) are kept only with the plan's ``detail``; counts
    always are. ``trace`` is the ``--trace`` timeline, when the plan asked for one and the
    customer was simulated."""

    journeys: tuple[ir.Journey, ...]
    start_at: datetime
    until_at: datetime
    actions: list[dict[str, Any]]
    instances: list[dict[str, Any]]
    timezones: dict[str, str]
    tallied: Tally
    channels: dict[str, ChannelStats]
    stats: RunStats
    problems: list[Problem]
    duplicates: list[Problem]
    trace: str | None = None
    detail: bool = True
    policy_tallied: PolicyTally | None = None
    capacity_figures: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: ``--compare``, on the other journey's result: the paired outcomes of both journeys.
    pairs: PairTally | None = None

    @property
    def start(self) -> datetime:
        """When the run started."""
        return self.start_at

    @property
    def until(self) -> datetime:
        """When the run ended."""
        return self.until_at

    @property
    def quarantined(self) -> list[Problem]:
        """Events the engine refused, in the order a single run reports them."""
        return self.problems

    def timezone(self, customer_id: str) -> str:
        """The customer's time zone name (known for customers with actions or instances)."""
        return self.timezones.get(customer_id, "")

    def tally(self, journey_id: str | None = None) -> Tally:
        """The journey's counts, summed over the parts."""
        self.journey(journey_id)
        return self.tallied

    def capacity(self) -> dict[str, dict[str, Any]]:
        """Utilisation per day of the capacity limits (the run's one part's)."""
        return self.capacity_figures

    def policy_tally(self, journey_id: str | None = None) -> PolicyTally | None:
        """What the contact policies did, summed over the parts (None without policies)."""
        self.journey(journey_id)
        return self.policy_tallied

    def to_json(self, journey_id: str | None = None) -> dict[str, Any]:
        """The ``--format json`` document (needs a plan with ``detail``)."""
        if not self.detail:
            raise ValueError("this run kept counts only (no detail): it has no JSON document")
        return super().to_json(journey_id)
