"""The simulation driver: the production :class:`~journeydsl.runtime.engine.Engine`, over the
in-memory stores, on a virtual clock. There is no second interpreter.

A discrete-event loop: a queue of future events (recorded lines, or a synthetic population's
behaviour, which may add to the queue while the run goes on) and the engine's own wake-ups
(timers, scheduled segment entries, deferred deliveries). Whichever is earlier goes first; a
wake-up and an event at the same instant fire the wake-up first, as a host ticking before it
ingests would. Events dated before ``start`` are history: they go straight into the event store
and trigger nothing. The run ends at ``until`` (default ``start + 90 days``).

The result follows the ``journeydsl simulate --format json`` contract of DESIGN.md.
"""

from __future__ import annotations

import heapq
import itertools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, cast

from journeydsl import ir
from journeydsl.ast import CHANNELS
from journeydsl.expr.context import EventRecord
from journeydsl.ir_offers import ChooseOffer
from journeydsl.runtime.budgets import BudgetLedger
from journeydsl.runtime.decide import DecisionFunction
from journeydsl.runtime.engine import Engine, RetryPolicy
from journeydsl.runtime.events import event_id
from journeydsl.runtime.handoff import enrolled_values
from journeydsl.runtime.policies.model import Policies
from journeydsl.runtime.protocols import Channel, Profile
from journeydsl.runtime.stores.memory import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
)
from journeydsl.runtime.virtual import (
    RecordingActions,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)
from journeydsl.simulate.budgets import DemandBudgets, forecast, reward_steps
from journeydsl.simulate.decisions import unanswered
from journeydsl.simulate.inputs import LoadedEvent, Problem, default_profile
from journeydsl.simulate.policy_figures import PolicyTally
from journeydsl.simulate.tally import Tally, offer_counts
from journeydsl.zones import local_time, zone

__all__ = [
    "DEFAULT_DAYS",
    "Enrolment",
    "Producer",
    "RunResult",
    "RunStats",
    "Simulation",
    "SimulationResult",
    "SimulationStuckError",
    "holdout_splits",
    "instant",
    "local_iso",
]

#: Length of a run without an explicit end.
DEFAULT_DAYS = 90

#: A synthetic event decided when its time comes: None when it no longer applies (e.g. an
#: activation for a card that was activated meanwhile).
Producer = Callable[[], Mapping[str, Any] | None]

_DUPLICATE = (
    "skipped: the same event as an earlier one (same id, or same content when events have no "
    "'id'); give distinct events distinct ids"
)

#: Internal nodes of a repeat loop: not steps a marketer wrote, so not funnel rows.
_INTERNAL = (ir.RepeatCheck, ir.RepeatNext)


class SimulationStuckError(RuntimeError):
    """The engine reported work due at an instant and did none of it when ticked (an engine
    bug: the run would never end)."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
#: Ticks at one instant after the first, for work the first one's deliveries made due then.
_SAME_INSTANT_TICKS = 20
_MICROSECOND = timedelta(microseconds=1)


def instant(t: datetime) -> int:
    """``t`` as whole microseconds since the epoch: a key that orders instants exactly and
    compares much faster than aware datetimes in other time zones."""
    return (t - _EPOCH) // _MICROSECOND


def local_iso(t: datetime | str, timezone: str) -> str:
    """``t`` in ISO 8601 with the local offset of ``timezone``."""
    when = datetime.fromisoformat(t) if isinstance(t, str) else t
    return when.astimezone(zone(timezone)).isoformat()


def _action_names(journeys: Iterable[ir.Journey]) -> list[str]:
    names: list[str] = []
    for j in journeys:
        for node in j.nodes.values():
            if isinstance(node, ir.Action) and node.name not in names:
                names.append(node.name)
    return names


@dataclass(frozen=True, slots=True)
class Enrolment:
    """A customer entered into a journey from code (``Engine.enroll``) at a given time: what a
    journey with ``entry manual`` is fed in a simulation or a scenario test."""

    customer_id: str
    journey: str
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass
class RunStats:
    """Counts of the events a run saw: ingested, skipped as duplicates, written as history, and
    dated after the end (not simulated)."""

    ingested: int = 0
    duplicates: int = 0
    history: int = 0
    after_until: int = 0
    #: Enrolments taken (an instance entered) and refused by the journey's re-entry rules.
    enrolled: int = 0
    enrolment_refused: int = 0

    def merge(self, other: RunStats) -> None:
        """Add ``other``'s counts (another part of the same run) to these."""
        self.ingested += other.ingested
        self.duplicates += other.duplicates
        self.history += other.history
        self.after_until += other.after_until
        self.enrolled += other.enrolled
        self.enrolment_refused += other.enrolment_refused


class Simulation:
    """One run of ``journeys`` over a queue of events, on a virtual clock from ``start`` to
    ``until``.

    ``channels`` replaces the default recording channels (a synthetic population passes its
    behaviour-driven doubles). Customers who appear in events without a profile get
    :func:`~journeydsl.simulate.inputs.default_profile` (``default_consent`` gives them consent
    for every channel) and, with one journey, the journey's time zone. ``progress`` is called
    with the virtual time as the run advances.

    The engine's state lives in a :class:`MemoryStateStore` without isolation (the engine works
    on live records: a run stops at its first error, so nothing needs rolling back).
    ``isolated=True`` gives it the checked copies of a durable store instead: slower, and the
    same result for every journey whose state a durable store accepts (the tests compare both).
    """

    def __init__(
        self,
        journeys: Sequence[ir.Journey],
        profiles: Iterable[Profile] = (),
        *,
        start: datetime,
        until: datetime | None = None,
        channels: Mapping[str, Channel] | None = None,
        default_consent: bool = False,
        retry: RetryPolicy | None = None,
        progress: Callable[[datetime], None] | None = None,
        policies: Policies | None = None,
        isolated: bool = False,
        decisions: Mapping[str, DecisionFunction] | None = None,
        budgets: BudgetLedger | None = None,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("the simulation start needs a UTC offset")
        self.journeys = tuple(journeys)
        self.start = start
        self.until = until if until is not None else start + timedelta(days=DEFAULT_DAYS)
        if self.until.tzinfo is None:
            raise ValueError("the simulation end needs a UTC offset")
        if self.journeys:  # (the run's times and days read in its first journey's zone)
            self.start = local_time(self.start, self.journeys[0].timezone)
            self.until = local_time(self.until, self.journeys[0].timezone)
            start = self.start
        self.default_consent = default_consent
        self.progress = progress
        self.clock = SteppableClock(start)
        self.events = MemoryEventStore()
        self.profiles = MemoryProfileStore(profiles)
        self.state = MemoryStateStore(isolated=isolated)
        self.channels: dict[str, Channel] = (
            dict(channels) if channels is not None else {c: RecordingChannel(c) for c in CHANNELS}
        )
        self.tickets = RecordingTickets()
        self.handlers = {name: RecordingActions() for name in _action_names(self.journeys)}
        self.actions: list[dict[str, Any]] = []
        self.quarantined: list[Problem] = []
        #: Events skipped because an earlier one had the same id (or, without ids, the same
        #: content): the engine processes an event once.
        self.duplicates: list[Problem] = []
        self.stats = RunStats()
        self.engine = Engine(
            self.journeys,
            events=self.events,
            profiles=self.profiles,
            state=self.state,
            clock=self.clock,
            channels=self.channels,
            tickets=self.tickets,
            actions=dict(self.handlers),
            retry=retry,
            on_action=self.actions.append,
            policies=policies,
            # decide steps: the functions given (from the behaviour model or a test's stubs),
            # and one that fails for each decision without them
            decisions={**unanswered(self.journeys, decisions or {}), **(decisions or {})},
            # reward budgets: every draw granted, the demand measured (simulate/budgets.py)
            budgets=budgets if budgets is not None else DemandBudgets(),
        )
        #: The contact policies the run is under (``--policies``), or None.
        self.policies = policies
        # (instant, sequence, time, where, event): the instant orders, the sequence keeps queue
        # order among equal instants (and is unique, so the rest is never compared).
        self._queue: list[
            tuple[int, int, datetime, str, Mapping[str, Any] | Producer | Enrolment]
        ] = []
        self._seq = itertools.count()
        self._known: set[str] = set(self.profiles.customers())

    # ------------------------------------------------------------------ inputs

    def _ensure_profile(self, customer_id: str) -> None:
        if customer_id not in self._known:
            self._known.add(customer_id)
            profile = default_profile(customer_id, consent=self.default_consent)
            if len(self.journeys) == 1:  # the journey's time zone is its customers' default
                profile = replace(profile, timezone=self.journeys[0].timezone)
            self.profiles.add(profile)

    def add_history(
        self, raw: Mapping[str, Any], record: EventRecord, where: str = "history"
    ) -> None:
        """Put a past event straight into the event store (it triggers nothing)."""
        self._ensure_profile(record.customer_id)
        if self.events.append(event_id(raw), record):
            self.stats.history += 1
        else:
            self.duplicates.append(Problem(where, _DUPLICATE, record.at))

    def add_events(self, events: Iterable[LoadedEvent]) -> None:
        """Recorded events: those before ``start`` become history, the rest are queued."""
        for e in events:
            if e.record.at < self.start:
                self.add_history(e.raw, e.record, e.where)
            else:
                self._ensure_profile(e.record.customer_id)
                self.schedule(e.record.at, e.raw, e.where)

    def enrol(self, at: datetime, enrolment: Enrolment, where: str = "enrolment") -> None:
        """Enter a customer into a journey from code at ``at`` (as ``Engine.enroll`` does); a
        customer without a profile gets the default one, as for events. Data the journey's
        entry refuses (a value it expects missing, or of another type) is a ValueError now, not
        in the middle of the run."""
        journey = next((j for j in self.journeys if j.id == enrolment.journey), None)
        if journey is None:
            raise ValueError(f"{where}: no journey '{enrolment.journey}' in this simulation")
        try:
            enrolled_values(journey, enrolment.data)
        except ValueError as exc:
            raise ValueError(f"{where}: {exc}") from None
        self._ensure_profile(enrolment.customer_id)
        self.schedule(at, enrolment, where)

    def schedule(
        self,
        at: datetime,
        event: Mapping[str, Any] | Producer | Enrolment,
        where: str = "generated",
    ) -> None:
        """Queue an event (or a :data:`Producer` of one, or an enrolment) for ``at``; ties keep
        queue order."""
        if at > self.until:
            self.stats.after_until += 1
            return
        heapq.heappush(self._queue, (instant(at), next(self._seq), at, where, event))

    # ------------------------------------------------------------------ the loop

    def _ingest(
        self, at: datetime, where: str, item: Mapping[str, Any] | Producer | Enrolment
    ) -> bool:
        """Ingest one queued event; False when a producer decided there is none (the engine
        was not called)."""
        self.clock.set(at)
        if isinstance(item, Enrolment):
            entered = self.engine.enroll(item.customer_id, item.journey, item.data)
            if entered is None:
                self.stats.enrolment_refused += 1
            else:
                self.stats.enrolled += 1
            return True
        event = item() if callable(item) else item
        if event is None:
            return False
        customer = event.get("customer_id")
        if isinstance(customer, str) and customer:
            self._ensure_profile(customer)
        result = self.engine.ingest(event)
        if result.duplicate:
            self.stats.duplicates += 1
            self.duplicates.append(Problem(where, _DUPLICATE, at))
        elif result.quarantined is not None:
            self.quarantined.append(Problem(where, result.quarantined, at))
        else:
            self.stats.ingested += 1
        return True

    def _tick(self, wake: datetime) -> None:
        self.clock.set(wake)
        self.engine.tick(wake)
        after = self.engine.next_wakeup()
        # A tick's deliveries may make work due at the same instant (a ticket queue decided: the
        # instances waiting for it go on), which the next tick does; a few rounds, never more.
        for _ in range(_SAME_INSTANT_TICKS):
            if after is None or after > wake:
                return
            self.engine.tick(wake)
            after = self.engine.next_wakeup()
        raise SimulationStuckError(
            f"the engine has work due at {wake.isoformat()} but did none of it when ticked"
        )

    def run(self) -> SimulationResult:
        """Run to ``until`` and return what happened."""
        self.play()
        return SimulationResult(self)

    def play(self) -> None:
        """Run to ``until`` (the discrete-event loop of the module docstring) without building
        a :class:`SimulationResult`: callers that only count read :attr:`actions` and
        :attr:`state` themselves."""
        self.clock.set(self.start)
        queue = self._queue
        start, until = self.start, self.until
        start_key, until_key = instant(start), instant(until)
        progress = self.progress
        # The engine's next wake-up only changes when the engine is called: it is asked again
        # after a tick or an ingest, not after a producer that decided on no event.
        stale = True
        wake: datetime | None = None
        wake_key = 0
        while True:
            if stale:
                wake = self.engine.next_wakeup()
                if wake is not None:
                    wake_key = instant(wake)
                    if wake_key < start_key:
                        wake, wake_key = start, start_key
                stale = False
            if (
                wake is not None
                and wake_key <= until_key
                and (not queue or wake_key <= queue[0][0])
            ):
                self._tick(wake)
                stale = True
                now = wake
            elif queue:
                key, _, at, where, item = heapq.heappop(queue)
                stale = self._ingest(at if key >= start_key else start, where, item)
                now = at
            else:
                break
            if progress is not None:
                progress(now)
        self.clock.set(until)
        if progress is not None:
            progress(until)


# --------------------------------------------------------------------------- results


def action_sort_key(a: Mapping[str, Any], step: tuple[str, int] = ("", 0)) -> tuple[Any, ...]:
    """The order of actions in the JSON contract: by instant, then customer, then the order
    the steps ran in (``step``: the instance and the place of the step in its decision log, see
    :func:`step_order`), then node, kind and the rest of the action (``a`` is the engine's
    record, with a datetime ``at``)."""
    rest = {k: v for k, v in a.items() if k not in ("at", "customer_id", "node", "kind")}
    return (
        a["at"].timestamp(),
        a["customer_id"],
        step,
        a["node"],
        a["kind"],
        json.dumps(rest, sort_keys=True, ensure_ascii=False, default=str),
    )


def step_order(
    actions: Sequence[Mapping[str, Any]], records: Iterable[Mapping[str, Any]]
) -> list[tuple[str, int]]:
    """For each action, the instance that took its step and the step's place in that instance's
    decision log (the order the steps ran in; ``("", 0)`` when the log does not have it): so
    actions at one instant are listed in the order they happened, not by step id."""
    steps: dict[tuple[str, str, str], list[tuple[str, str, int]]] = {}
    for r in records:
        for i, e in enumerate(r.get("log") or ()):
            if e.get("what") in _ACTION_STEPS:
                key = (r["customer_id"], r["journey"], e["node"])
                steps.setdefault(key, []).append((e["at"], r["id"], i))
    out: list[tuple[str, int]] = []
    for a in actions:
        found = steps.get((a["customer_id"], a["journey"], a["node"]), [])
        at = a["at"].timestamp()
        before = [s for s in found if datetime.fromisoformat(s[0]).timestamp() <= at]
        out.append(max(before)[1:] if before else ("", 0))
    return out


#: The decision-log entries of the steps that make actions.
_ACTION_STEPS = frozenset({"send", "ticket", "reward", "action", "update", "tag", "untag"})


def instance_sort_key(r: Mapping[str, Any]) -> tuple[float, str, str]:
    """The order of instances in the JSON contract: by entry instant, then customer and id."""
    return (datetime.fromisoformat(r["entered_at"]).timestamp(), r["customer_id"], r["id"])


def contract_action(a: Mapping[str, Any], timezone: str) -> dict[str, Any]:
    """An engine action record in its report form: ``at`` in the customer's local offset, the
    leading keys in contract order."""
    out = {
        "at": local_iso(a["at"], timezone),
        "customer_id": a["customer_id"],
        "journey": a["journey"],
        "node": a["node"],
        "kind": a["kind"],
    }
    out.update((k, v) for k, v in a.items() if k not in out)
    return out


def holdout_splits(journey: ir.Journey) -> frozenset[str]:
    """The ids of the journey's random splits that have a holdout (control) group."""
    return frozenset(
        nid
        for nid, node in journey.nodes.items()
        if isinstance(node, ir.Split) and node.holdout is not None
    )


def exit_steps(journey: ir.Journey) -> frozenset[str]:
    """The ids of the journey's exit steps."""
    return frozenset(nid for nid, node in journey.nodes.items() if isinstance(node, ir.Exit))


def ticket_steps(journey: ir.Journey) -> frozenset[str]:
    """The ids of the journey's ticket steps with ``accepted`` / ``not accepted`` exits, of its
    hand-offs (``enter``: entered / not entered) and of its choose steps (the steps whose
    outcome the tally reads from the decision log)."""
    return frozenset(
        nid
        for nid, node in journey.nodes.items()
        if (isinstance(node, ir.Ticket) and node.waits) or isinstance(node, ir.Enter | ChooseOffer)
    )


class RunResult:
    """What a run did, as the reports see it: the journeys, the time range, the actions (report
    form, sorted) and instance records (sorted), per-journey tallies and the customers' time
    zones.

    :class:`SimulationResult` is one in-process run; a run split over processes or chunks of
    customers (:mod:`~journeydsl.simulate.parallel`) merges into another subclass with the same
    reports.
    """

    journeys: tuple[ir.Journey, ...]
    actions: list[dict[str, Any]]
    instances: list[dict[str, Any]]

    @property
    def start(self) -> datetime:
        """When the run started."""
        raise NotImplementedError

    @property
    def until(self) -> datetime:
        """When the run ended."""
        raise NotImplementedError

    @property
    def quarantined(self) -> list[Problem]:
        """Events the engine refused."""
        raise NotImplementedError

    def timezone(self, customer_id: str) -> str:
        """The customer's time zone name."""
        raise NotImplementedError

    def tally(self, journey_id: str | None = None) -> Tally:
        """The journey's counts (instances per step and outcome, actions per kind)."""
        raise NotImplementedError

    def journey(self, journey_id: str | None = None) -> ir.Journey:
        """One of the simulated journeys (the only one when ``journey_id`` is None)."""
        journeys = self.journeys
        if journey_id is None:
            if len(journeys) != 1:
                raise ValueError("several journeys were simulated; name one")
            return journeys[0]
        for j in journeys:
            if j.id == journey_id:
                return j
        raise KeyError(journey_id)

    # ------------------------------------------------------------------ the JSON contract

    def actions_json(self, journey_id: str) -> list[dict[str, Any]]:
        """The journey's actions in the contract form (without ``journey``: it is the
        document's)."""
        return [
            {k: v for k, v in a.items() if k != "journey"}
            for a in self.actions
            if a["journey"] == journey_id
        ]

    def instances_json(self, journey_id: str) -> list[dict[str, Any]]:
        """The journey's instances in the contract form, times in local offsets."""
        out: list[dict[str, Any]] = []
        for r in self.instances:
            if r["journey"] != journey_id:
                continue
            tz = self.timezone(r["customer_id"])
            out.append(
                {
                    "customer_id": r["customer_id"],
                    "status": r["status"],
                    "outcome": r["outcome"],
                    "entered_at": local_iso(r["entered_at"], tz),
                    "ended_at": local_iso(r["ended_at"], tz) if r["ended_at"] else None,
                }
            )
        return out

    def funnel(self, journey_id: str | None = None) -> dict[str, Any]:
        """Instances that reached each step (graph order) and that ended with each outcome
        (declared order, then others); ``running`` counts instances that have not ended.
        ``steps`` has per step (graph order) its readable ``name`` and the instances that
        ``entered`` it, ``passed`` it (went on), ``exited`` there (an exit, or a goal met while
        waiting there) and are still ``waiting`` there; a ticket step with exits adds how many
        took each (``accepted``, ``not_accepted``), a choose step how often each offer was
        chosen (``offers``: by offer id in the catalogue's order, the fallback, ``none``)."""
        journey = self.journey(journey_id)
        tally = self.tally(journey.id)
        nodes = {
            nid: tally.nodes.get(nid, 0)
            for nid, node in journey.nodes.items()
            if not isinstance(node, _INTERNAL)
        }
        declared = {k: tally.outcomes.get(k, 0) for k in journey.outcomes}
        others = {k: v for k, v in sorted(tally.outcomes.items()) if k not in declared}
        steps = {}
        for nid, n in nodes.items():
            exited, waiting = tally.ended_at.get(nid, 0), tally.waiting_at.get(nid, 0)
            steps[nid] = {
                "name": journey.step_name(nid),
                "entered": n,
                "passed": n - exited - waiting,
                "exited": exited,
                "waiting": waiting,
            }
            if (node := journey.nodes[nid]) and isinstance(node, ir.Ticket) and node.waits:
                for way in ("accepted", "not_accepted"):  # the ticket's exits, each counted
                    steps[nid][way] = tally.ticket_exits.get((nid, way), 0)
            if isinstance(node, ir.Enter):  # hand-off: the customers the target took, or not
                for way in ("handed_off", "not_entered"):
                    steps[nid][way] = tally.ticket_exits.get((nid, way), 0)

            if isinstance(node, ChooseOffer):  # choose: how often each offer was chosen
                steps[nid]["offers"] = offer_counts(node, tally.offers)
        return {
            "entered": tally.entered,
            "nodes": nodes,
            "steps": steps,
            "outcomes": {**declared, **others},
            "running": tally.running,
        }

    def policy_tally(self, journey_id: str | None = None) -> PolicyTally | None:
        """What the contact policies did in the journey (None without ``--policies``)."""
        return None

    def to_json(self, journey_id: str | None = None) -> dict[str, Any]:
        """The ``journeydsl simulate --format json`` document of one journey (with
        ``policies`` when the run was under contact policies)."""
        journey = self.journey(journey_id)
        doc: dict[str, Any] = {
            "journey": journey.id,
            "version": journey.version,
            "actions": self.actions_json(journey.id),
            "instances": self.instances_json(journey.id),
            "funnel": self.funnel(journey.id),
        }
        if budgets := forecast(self, journey.id):  # reward budgets: the forecast
            doc["budgets"] = budgets
        figures = self.policy_tally(journey.id)
        if figures is not None:
            doc["policies"] = figures.to_json(journey)
            if capacity := self.capacity():  # (utilisation per day of the capacity limits)
                doc["policies"]["capacity"] = capacity
        return doc

    def capacity(self) -> dict[str, dict[str, Any]]:
        """Utilisation per day of the policies' throughput limits and ticket queues, over the
        whole run (see :mod:`~journeydsl.simulate.capacity`); empty without them."""
        return {}


@dataclass
class SimulationResult(RunResult):
    """What one in-process run did: actions, instances and the stores, ready for reports."""

    simulation: Simulation
    actions: list[dict[str, Any]] = field(init=False)
    instances: list[dict[str, Any]] = field(init=False)
    _tallies: dict[str, Tally] = field(init=False, default_factory=dict, repr=False)
    _capacity: dict[str, dict[str, Any]] | None = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        sim = self.simulation
        self.journeys = sim.journeys
        # (the reports read the records as the JSON they are)
        records = cast(list[dict[str, Any]], sim.state.all_instances())
        steps = step_order(sim.actions, records)
        keyed = sorted(
            (
                (action_sort_key(a, step), n)
                for n, (a, step) in enumerate(zip(sim.actions, steps, strict=True))
            ),
        )
        ordered = [sim.actions[n] for _, n in keyed]
        self.actions = [contract_action(a, self.timezone(a["customer_id"])) for a in ordered]
        records.sort(key=instance_sort_key)
        self.instances = records

    @property
    def start(self) -> datetime:
        """When the run started."""
        return self.simulation.start

    @property
    def until(self) -> datetime:
        """When the run ended."""
        return self.simulation.until

    @property
    def quarantined(self) -> list[Problem]:
        """Events the engine refused."""
        return self.simulation.quarantined

    @property
    def engine(self) -> Engine:
        """The engine (for :meth:`Engine.explain`)."""
        return self.simulation.engine

    def timezone(self, customer_id: str) -> str:
        """The customer's time zone name: their profile's, or, as the engine runs them without
        one, the journey's."""
        found = self.simulation.profiles.get(customer_id).timezone
        return found or (self.journeys[0].timezone if self.journeys else "")

    def tally(self, journey_id: str | None = None) -> Tally:
        """The journey's counts, from this run's instances and actions."""
        journey = self.journey(journey_id)
        found = self._tallies.get(journey.id)
        if found is None:
            found = self._tallies[journey.id] = Tally.of(
                (r for r in self.instances if r["journey"] == journey.id),
                (a for a in self.actions if a["journey"] == journey.id),
                holdout_splits(journey),
                exit_steps(journey),
                ticket_steps(journey),
                reward_steps(journey),  # reward budgets
                zone(journey.timezone),
            )
        return found

    def capacity(self) -> dict[str, dict[str, Any]]:
        """Utilisation per day of the policies' capacity limits (empty without any)."""
        sim = self.simulation
        if sim.policies is None:
            return {}
        if self._capacity is None:
            from journeydsl.simulate.capacity import capacity_figures

            rules = sim.engine.policy.policies
            tz = self.start.tzinfo or UTC
            self._capacity = capacity_figures(
                rules, self.journeys, self.actions, self.instances, tz
            )
        return self._capacity

    def policy_tally(self, journey_id: str | None = None) -> PolicyTally | None:
        """What the contact policies did in the journey, from the decision logs."""
        sim = self.simulation
        if sim.policies is None:
            return None
        journey = self.journey(journey_id)
        records = (r for r in self.instances if r["journey"] == journey.id)
        return PolicyTally.of(records, sim.engine.policy, journey.id)

    def customers(self) -> list[str]:
        """Every customer with a profile, an event or an instance, sorted."""
        sim = self.simulation
        found = set(sim.profiles.customers())
        found |= {i["customer_id"] for i in self.instances}
        return sorted(found)

    def events_of(self, customer_id: str) -> list[EventRecord]:
        """The customer's stored events (history included), by time."""
        return [e for e in self.simulation.events.all() if e.customer_id == customer_id]


def dumps(document: Mapping[str, Any]) -> str:
    """The JSON text of a result document (stable: same input, same bytes)."""
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
