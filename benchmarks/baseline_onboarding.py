"""Benchmark (issue 6, yardstick 1): the Engine against a hand-written onboarding journey.

    python benchmarks/baseline_onboarding.py [--customers 10000] [--seed 7] [--runs 3] [--smoke]

The baseline is the onboarding journey (O-1 .. O-9, examples/onboarding_new_cardholder.journey)
written out in plain Python: no interpreter, no IR, no expression closures, just the journey's
logic over per-customer state, a timer heap and a small outbox for quiet hours and retries. It is
the practical limit for Python, so ``engine / baseline`` is the interpreter's overhead.

Both run over the same input: a synthetic population (examples/behaviour/onboarding.yaml) is
simulated once to record its event stream (arrivals, everyday life and the reactions to the
messages the journey sent) and what each channel answered to each message. The Engine (over the
in-memory stores) and the baseline then replay that stream with the same channel answers, on the
same virtual-clock loop as ``journeydsl simulate``. The benchmark first checks that both produce
exactly the same actions and outcomes, and fails loudly when they do not; only then does it
report times.

Prints one JSON line and appends it to benchmarks/results/baseline_onboarding.jsonl.
"""

from __future__ import annotations

import argparse
import heapq
import json
import platform
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, tzinfo
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
JOURNEY = ROOT / "examples" / "onboarding_new_cardholder.journey"
BEHAVIOUR = ROOT / "examples" / "behaviour" / "onboarding.yaml"
NAME = "baseline_onboarding"


# --------------------------------------------------------------------------- the input


@dataclass
class Stream:
    """A recorded run's input: profiles, the events in ingest order (with the virtual time each
    was ingested at), and every channel answer, per idempotency key, in attempt order."""

    start: datetime
    until: datetime
    profiles: list[Any]
    events: list[tuple[datetime, dict[str, Any]]]
    answers: dict[str, list[Any]] = field(default_factory=dict)


def record_stream(customers: int, seed: int, days: int = 90) -> Stream:
    """Simulate ``customers`` synthetic customers once and record what the journey saw."""
    from journeydsl.compiler import compile_file
    from journeydsl.simulate.behaviour import load_behaviour
    from journeydsl.simulate.driver import Simulation
    from journeydsl.simulate.population_general import population_for

    journey = compile_file(JOURNEY).journey
    assert journey is not None
    model = load_behaviour(BEHAVIOUR).model
    population = population_for(model, customers, seed)
    start = model.start
    until = start + timedelta(days=days)
    answers: dict[str, list[Any]] = {}

    class Recorder:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def send(self, message: Any) -> Any:
            result = self.inner.send(message)
            answers.setdefault(message.idempotency_key, []).append(result)
            return result

    channels = {name: Recorder(c) for name, c in population.channels().items()}
    sim = Simulation([journey], population.profiles, start=start, until=until, channels=channels)
    population.attach(sim)
    events: list[tuple[datetime, dict[str, Any]]] = []
    sim.engine = _Recording(sim.engine, lambda raw: events.append((sim.clock.now(), dict(raw))))
    sim.run()
    return Stream(start, until, list(population.profiles), events, answers)


class _Recording:
    """The engine, with every event it ingests seen first by ``seen`` (a proxy rather than a
    patched method: the compiled build's engine takes no new attributes)."""

    def __init__(self, engine: Any, seen: Callable[[Any], None]) -> None:
        self._engine, self._seen = engine, seen

    def ingest(self, raw: Any, event_key: str | None = None) -> Any:
        """Engine.ingest, after ``seen``."""
        self._seen(raw)
        return self._engine.ingest(raw, event_key)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)


class ScriptedChannel:
    """Answers each message as the recorded run's channel did (delivered once it runs out of
    recorded answers), and deduplicates on the idempotency key like a real gateway."""

    def __init__(self, answers: Mapping[str, list[Any]]) -> None:
        from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus

        self.answers = answers
        self.tries: dict[str, int] = {}
        self.done: set[str] = set()
        self.ok = DeliveryResult(DeliveryStatus.DELIVERED)

    def send(self, message: Any) -> Any:
        """Channel protocol."""
        key = message.idempotency_key
        if key in self.done:
            return self.ok
        n = self.tries.get(key, 0)
        self.tries[key] = n + 1
        script = self.answers.get(key, ())
        result = script[n] if n < len(script) else self.ok
        if result.status == "delivered":
            self.done.add(key)
        return result


CHANNELS = ("email", "sms", "zns", "push", "inapp")


# --------------------------------------------------------------------------- the Engine


@dataclass
class Outcome:
    """What a replay produced, and how long it took."""

    actions: list[dict[str, Any]]
    outcomes: dict[str, tuple[str, str | None]]
    seconds: float
    cpu_seconds: float = 0.0


def run_engine(stream: Stream, isolated: bool = False) -> Outcome:
    """Replay ``stream`` through the Engine, on the loop ``journeydsl simulate`` uses, over the
    state store it uses (live records; ``isolated``: copies checked as a durable store would)."""
    from journeydsl.compiler import compile_file
    from journeydsl.runtime.engine import Engine
    from journeydsl.testing import (
        MemoryEventStore,
        MemoryProfileStore,
        MemoryStateStore,
        RecordingActions,
        RecordingTickets,
        SteppableClock,
    )

    journey = compile_file(JOURNEY).journey
    assert journey is not None
    clock = SteppableClock(stream.start)
    actions: list[dict[str, Any]] = []
    state = MemoryStateStore(isolated=isolated)
    engine = Engine(
        [journey],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore(stream.profiles),
        state=state,
        clock=clock,
        channels={c: ScriptedChannel(stream.answers) for c in CHANNELS},
        tickets=RecordingTickets(),
        actions={"annual_fee_waiver": RecordingActions()},
        on_action=actions.append,
    )
    events, until = stream.events, stream.until
    n, i = len(events), 0
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        wake = engine.next_wakeup()
        if wake is not None and wake <= until and (i == n or wake <= events[i][0]):
            clock.set(wake)
            engine.tick(wake)
        elif i < n:
            at, raw = events[i]
            i += 1
            clock.set(at)
            engine.ingest(raw)
        else:
            break
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    outcomes = {
        r["customer_id"]: (r["status"] if r["status"] == "ended" else "running", r["outcome"])
        for r in state.all_instances()
    }
    return Outcome(actions, outcomes, seconds, cpu)


# --------------------------------------------------------------------------- the baseline

JOURNEY_ID = "onboarding_new_cardholder"
VERSION = 1
_MIN = timedelta(minutes=1)
_HOUR = timedelta(hours=1)
_DAY = timedelta(days=1)
_MILLION = Decimal(1_000_000)
_QUIET_CHANNELS = frozenset({"sms", "zns", "push"})
_NO_EVENT: tuple[()] = ()
# The reminder of each round (O-3): its node, its channel chain, and the visit of its node.
_REMINDERS = {
    1: ("push_activation_reminder", ("push", "zns", "sms"), 0),
    2: ("zns_activation_reminder", ("zns", "sms"), 0),
    3: ("email_activation_reminder", ("email",), 0),
    4: ("push_activation_reminder", ("push", "zns", "sms"), 1),
    5: ("zns_activation_reminder", ("zns", "sms"), 1),
    6: ("email_activation_reminder", ("email",), 1),
}
_SUPERSEDED = "superseded: the customer's journey moved on while quiet hours held it"

# Where a waiting customer is.
AT_REMINDER, AT_LAST_CALL, AT_DAY7, AT_DAY10, AT_SPEND_GOAL, ENDED = range(6)


class Customer:
    """One customer's journey state and the events the journey reads."""

    __slots__ = (
        "activated_at",
        "activations",
        "app",
        "card_id",
        "consent",
        "due",
        "entered",
        "installs",
        "outcome",
        "product",
        "round",
        "spend",
        "stage",
        "tz",
        "tz_name",
        "wakes",
    )

    def __init__(self, profile: Any) -> None:
        self.consent: Mapping[str, bool] = profile.consent
        self.app = bool(profile.attributes.get("has_digital_app"))
        self.tz_name = profile.timezone or "Asia/Ho_Chi_Minh"
        self.tz: tzinfo = _zone(self.tz_name)
        self.activations: list[datetime] = []
        self.installs: list[datetime] = []
        self.spend: list[tuple[datetime, Decimal]] = []
        self.entered: datetime | None = None
        self.stage = -1
        self.round = 1
        self.due: datetime | None = None
        self.activated_at: datetime | None = None
        self.wakes = 0
        self.outcome: str | None = None
        self.card_id: Any = None
        self.product: Any = None


_ZONES: dict[str, tzinfo] = {}


def _zone(name: str) -> tzinfo:
    if name not in _ZONES:
        _ZONES[name] = ZoneInfo(name)
    return _ZONES[name]


@dataclass
class _Delivery:
    """A message (or ticket, or reward) waiting for its time: quiet hours or a retry."""

    key: str
    customer: str
    node: str
    template: str
    chain: tuple[str, ...]
    params: dict[str, Any]
    entered: datetime
    wakes: int
    not_before: datetime
    index: int = 0
    attempts: int = 0
    deferred: bool = False
    reasons: list[str] = field(default_factory=list)
    category: str = "transactional"


class Baseline:
    """The onboarding journey, hand-written (see the module docstring)."""

    def __init__(self, stream: Stream, channels: Mapping[str, Any], tickets: Any, reward: Any):
        from journeydsl.money import Money
        from journeydsl.runtime.protocols import DeliveryStatus, Message, Ticket

        #: O-8's fee waiver, drawn from the fee_waivers budget: what the reward carries.
        self.waiver = Money(Decimal(500_000), "VND")
        self.Message = Message
        self.Ticket = Ticket
        self.transient = DeliveryStatus.FAILED_TRANSIENT
        self.delivered = DeliveryStatus.DELIVERED
        self.customers = {p.customer_id: Customer(p) for p in stream.profiles}
        self.channels = channels
        self.tickets = tickets
        self.reward = reward
        self.seen: set[str] = set()
        self.timers: list[tuple[datetime, int, str]] = []  # (due, sequence, customer)
        self.outbox: list[tuple[datetime, str, _Delivery]] = []
        self.actions: list[dict[str, Any]] = []
        self.seq = 0

    # ------------------------------------------------------------------ the clock

    def next_wakeup(self) -> datetime | None:
        """The earliest timer or delivery still due."""
        timers, outbox = self.timers, self.outbox
        while timers and self.customers[timers[0][2]].due != timers[0][0]:
            heapq.heappop(timers)
        best = timers[0][0] if timers else None
        if outbox and (best is None or outbox[0][0] < best):
            best = outbox[0][0]
        return best

    def tick(self, now: datetime) -> None:
        """Fire the timers due at ``now``, then deliver."""
        timers = self.timers
        while timers and timers[0][0] <= now:
            due, _, cid = heapq.heappop(timers)
            c = self.customers[cid]
            if c.due != due:
                continue
            c.due = None
            self._timeout(cid, c, due)
        self._deliver(now)

    def _park(self, cid: str, c: Customer, stage: int, due: datetime) -> None:
        c.stage, c.due = stage, due
        self.seq += 1
        heapq.heappush(self.timers, (due, self.seq, cid))

    # ------------------------------------------------------------------ events

    def ingest(self, raw: Mapping[str, Any], now: datetime) -> None:
        """One event of the recorded stream, at the virtual time ``now``."""
        eid = raw["id"]
        if eid in self.seen:
            return
        self.seen.add(eid)
        cid = raw["customer_id"]
        etype = raw["type"]
        at = datetime.fromisoformat(raw["at"])
        now = max(now, at)
        c = self.customers[cid]
        if etype == "card_activated":
            c.activations.append(at)
            if c.stage in (AT_REMINDER, AT_LAST_CALL):  # the awaited event
                c.wakes += 1
                c.due = None
                if c.stage == AT_REMINDER:
                    self._next_round(cid, c, now)
                else:
                    self._activated(cid, c, now)
        elif etype == "transaction":
            amount = raw["data"]["amount"]
            if raw["data"].get("currency", "VND") != "VND":
                raise ValueError("the onboarding journey counts VND only")
            c.spend.append((at, Decimal(str(amount))))
            if c.stage == AT_SPEND_GOAL and self._spent(c, now) >= _MILLION:
                c.wakes += 1
                c.due = None
                self._goal_met(cid, c, now)
        elif etype == "app_installed":
            c.installs.append(at)
        elif etype == "card_issued" and c.stage == -1:  # O-1: once ever
            data = raw["data"]
            c.entered, c.card_id, c.product = now, data.get("card_id"), data.get("product")
            self._send(
                cid,
                c,
                "welcome",
                "welcome_activation_guide",
                ("email",),
                now,
                {"card_id": c.card_id, "product": c.product},
            )
            c.round = 1
            self._check_round(cid, c, now)
        self._deliver(now)

    # ------------------------------------------------------------------ the journey

    def _since(self, times: Sequence[datetime], start: datetime, now: datetime) -> bool:
        return any(start <= t <= now for t in times)

    def _spent(self, c: Customer, now: datetime) -> Decimal:
        start = c.activated_at
        assert start is not None
        return sum((a for t, a in c.spend if start <= t <= now), Decimal(0))

    def _check_round(self, cid: str, c: Customer, now: datetime) -> None:
        """O-3: the head of the reminder loop."""
        assert c.entered is not None
        if c.round > 6 or self._since(c.activations, c.entered, now):
            self._after_reminders(cid, c, now)
            return
        due = c.entered + 2 * _DAY + 3 * _DAY * (c.round - 1)
        if due <= now:
            self._remind(cid, c, now)
        else:
            self._park(cid, c, AT_REMINDER, due)

    def _remind(self, cid: str, c: Customer, now: datetime) -> None:
        node, chain, visit = _REMINDERS[c.round]
        self._send(cid, c, node, "activation_reminder", chain, now, {"round": c.round}, visit)
        self._next_round(cid, c, now)

    def _next_round(self, cid: str, c: Customer, now: datetime) -> None:
        c.round += 1
        self._check_round(cid, c, now)

    def _after_reminders(self, cid: str, c: Customer, now: datetime) -> None:
        """O-4: one last wait for the activation, then a telesales call."""
        assert c.entered is not None
        if self._since(c.activations, c.entered, now):
            self._activated(cid, c, now)
            return
        due = c.entered + 20 * _DAY
        if due <= now:
            self._last_call(cid, c, now)
        else:
            self._park(cid, c, AT_LAST_CALL, due)

    def _last_call(self, cid: str, c: Customer, now: datetime) -> None:
        payload = {"reason": "activation_call", "card_id": c.card_id}
        key = f"{JOURNEY_ID}:{VERSION}:{JOURNEY_ID}/{cid}/1:ticket_telesales:0"
        ticket = self.Ticket(
            key, cid, "telesales", "normal", payload, JOURNEY_ID, VERSION, "ticket_telesales", now
        )
        if self.tickets.open(ticket).status == self.delivered:
            self._act(
                now,
                cid,
                "ticket_telesales",
                "ticket",
                queue="telesales",
                priority="normal",
                payload=dict(payload),
            )
        self._end(c, "not_activated")

    def _activated(self, cid: str, c: Customer, now: datetime) -> None:
        """O-5."""
        assert c.entered is not None
        c.activated_at = now
        self._send(
            cid,
            c,
            "email_new_cardholder_promotions",
            "new_cardholder_promotions",
            ("email",),
            now,
            {},
            category="marketing",
        )
        if not (c.app or self._since(c.installs, c.entered, now)):
            self._send(
                cid,
                c,
                "zns_install_digital_app",
                "install_digital_app",
                ("zns", "sms"),
                now,
                {},
                category="marketing",
            )
        self._wait_until(cid, c, AT_DAY7, now + 7 * _DAY, now)

    def _wait_until(self, cid: str, c: Customer, stage: int, due: datetime, now: datetime) -> None:
        if due <= now:
            self._timeout(cid, c, now, stage)
        else:
            self._park(cid, c, stage, due)

    def _timeout(self, cid: str, c: Customer, now: datetime, stage: int | None = None) -> None:
        """A timer fired (or a wait had already passed)."""
        stage = c.stage if stage is None else stage
        if stage == AT_REMINDER:
            self._remind(cid, c, now)
        elif stage == AT_LAST_CALL:
            self._last_call(cid, c, now)
        elif stage == AT_DAY7:  # O-6
            assert c.activated_at is not None
            if not any(c.activated_at <= t <= now for t, _ in c.spend):
                self._send(
                    cid,
                    c,
                    "push_first_spend_nudge",
                    "first_spend_nudge",
                    ("push", "zns", "sms"),
                    now,
                    {},
                    category="marketing",
                )
            self._wait_until(cid, c, AT_DAY10, c.activated_at + 10 * _DAY, now)
        elif stage == AT_DAY10:  # O-7
            assert c.activated_at is not None
            if self._spent(c, now) >= _MILLION:
                self._end(c, "spend_goal_met")
                return
            deadline = (c.activated_at + 30 * _DAY).astimezone(c.tz).date()
            for node, chain in (
                ("email_fee_waiver_offer", ("email",)),
                ("zns_fee_waiver_offer", ("zns", "sms")),
            ):
                params = {
                    "threshold": {"amount": "1000000", "currency": "VND"},
                    "deadline": deadline,
                }
                self._send(
                    cid, c, node, "fee_waiver_offer", chain, now, params, category="marketing"
                )
            due = c.activated_at + 30 * _DAY
            if due <= now:
                self._end(c, "spend_goal_missed")
            else:
                self._park(cid, c, AT_SPEND_GOAL, due)
        elif stage == AT_SPEND_GOAL:  # O-9
            self._end(c, "spend_goal_missed")

    def _goal_met(self, cid: str, c: Customer, now: datetime) -> None:
        """O-8."""
        key = f"{JOURNEY_ID}:{VERSION}:{JOURNEY_ID}/{cid}/1:reward_annual_fee_waiver:0"
        if self.reward(key, cid, {"amount": self.waiver}, now).status == self.delivered:
            drawn = {"amount": {"amount": "500000", "currency": "VND"}}
            self._act(
                now,
                cid,
                "reward_annual_fee_waiver",
                "reward",
                name="annual_fee_waiver",
                params=drawn,
            )
        self._send(cid, c, "email_fee_waiver_granted", "fee_waiver_granted", ("email",), now, {})
        self._end(c, "spend_goal_met")

    def _end(self, c: Customer, outcome: str) -> None:
        c.stage, c.due, c.outcome = ENDED, None, outcome

    # ------------------------------------------------------------------ delivery

    def _act(self, now: datetime, cid: str, node: str, kind: str, **fields: Any) -> None:
        self.actions.append(
            {
                "at": now,
                "customer_id": cid,
                "journey": JOURNEY_ID,
                "node": node,
                "kind": kind,
                **fields,
            }
        )

    def _send(
        self,
        cid: str,
        c: Customer,
        node: str,
        template: str,
        chain: tuple[str, ...],
        now: datetime,
        params: dict[str, Any],
        visit: int = 0,
        category: str = "transactional",
    ) -> None:
        assert c.entered is not None
        key = f"{JOURNEY_ID}:{VERSION}:{JOURNEY_ID}/{cid}/1:{node}:{visit}"
        heapq.heappush(
            self.outbox,
            (
                now,
                key,
                _Delivery(
                    key,
                    cid,
                    node,
                    template,
                    chain,
                    params,
                    c.entered,
                    c.wakes,
                    now,
                    category=category,
                ),
            ),
        )

    def _deliver(self, now: datetime) -> None:
        outbox = self.outbox
        later = []
        while outbox and outbox[0][0] <= now:
            d = heapq.heappop(outbox)[2]
            if not self._deliver_one(d, now):
                later.append(d)
        for d in later:
            heapq.heappush(outbox, (d.not_before, d.key, d))

    def _deliver_one(self, d: _Delivery, now: datetime) -> bool:
        """True when the message is settled (sent or suppressed), False to try again later."""
        c = self.customers[d.customer]
        params = d.params
        shown = {k: v.isoformat() if isinstance(v, date) else v for k, v in params.items()}
        if d.deferred and c.wakes > d.wakes:
            self._act(
                now,
                d.customer,
                d.node,
                "suppressed",
                channel=d.chain[d.index],
                template=d.template,
                params=shown,
                reason=_SUPERSEDED,
            )
            return True
        chain = d.chain
        while d.index < len(chain):
            channel = chain[d.index]
            why = None
            if not c.consent.get(channel, False):
                why = f"no {channel} consent"
            elif channel == "push" and not c.app:
                installed = [t for t in c.installs if t <= now]
                if not installed or installed[-1] < d.entered:
                    why = "no app for push"
            if why is not None:
                d.reasons.append(why)
                d.index += 1
                d.attempts = 0
                continue
            if channel in _QUIET_CHANNELS:
                local = now.astimezone(c.tz)
                t = local.time()
                if t.hour >= 21 or t.hour < 8:
                    day = local.date() if t.hour < 8 else local.date() + _DAY
                    d.not_before = datetime(day.year, day.month, day.day, 8, tzinfo=local.tzinfo)
                    d.deferred = True
                    return False
            message = self.Message(
                f"{d.key}:{channel}",
                d.customer,
                channel,
                d.template,
                d.category,
                params,
                JOURNEY_ID,
                VERSION,
                d.node,
                now,
            )
            result = self.channels[channel].send(message)
            if result.status == self.delivered:
                self._act(
                    now,
                    d.customer,
                    d.node,
                    "send",
                    channel=channel,
                    template=d.template,
                    params=shown,
                )
                return True
            if result.status == self.transient and d.attempts + 1 < 8:
                d.attempts += 1
                d.not_before = now + min(_MIN * (2 ** (d.attempts - 1)), _HOUR)
                return False
            d.reasons.append(f"{channel} failed: {result.detail or result.status.value}")
            d.index += 1
            d.attempts = 0
        self._act(
            now,
            d.customer,
            d.node,
            "suppressed",
            channel=chain[0],
            template=d.template,
            params=shown,
            reason="; ".join(d.reasons) or "no channel",
        )
        return True


def run_baseline(stream: Stream) -> Outcome:
    """Replay ``stream`` through the hand-written journey, on the same loop as the Engine."""
    from journeydsl.testing import RecordingActions, RecordingTickets

    channels = {c: ScriptedChannel(stream.answers) for c in CHANNELS}
    base = Baseline(stream, channels, RecordingTickets(), RecordingActions())
    events, until = stream.events, stream.until
    n, i = len(events), 0
    t0, c0 = time.perf_counter(), time.process_time()
    while True:
        wake = base.next_wakeup()
        if wake is not None and wake <= until and (i == n or wake <= events[i][0]):
            base.tick(wake)
        elif i < n:
            at, raw = events[i]
            i += 1
            base.ingest(raw, at)
        else:
            break
    seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    outcomes = {
        cid: ("ended" if c.stage == ENDED else "running", c.outcome)
        for cid, c in base.customers.items()
        if c.stage != -1
    }
    return Outcome(base.actions, outcomes, seconds, cpu)


# --------------------------------------------------------------------------- equivalence


def _canonical(actions: Sequence[Mapping[str, Any]]) -> list[str]:
    rows = []
    for a in actions:
        at = a["at"]
        row = {**a, "at": at.astimezone(UTC).isoformat()}
        rows.append(json.dumps(row, sort_keys=True, default=str, ensure_ascii=False))
    rows.sort()
    return rows


class NotEquivalentError(AssertionError):
    """The baseline and the Engine disagree: the ratio would be meaningless."""


def check_equivalent(engine: Outcome, baseline: Outcome) -> None:
    """Raise :class:`NotEquivalentError`, with the first differences, unless the two runs gave
    exactly the same actions and outcomes."""
    a, b = _canonical(engine.actions), _canonical(baseline.actions)
    problems: list[str] = []
    if a != b:
        only_a = sorted(set(a) - set(b))[:5]
        only_b = sorted(set(b) - set(a))[:5]
        problems.append(
            f"actions differ: engine {len(a)}, baseline {len(b)}\n"
            f"  only the engine: {only_a}\n  only the baseline: {only_b}"
        )
    if engine.outcomes != baseline.outcomes:
        diff = [
            (cid, engine.outcomes.get(cid), baseline.outcomes.get(cid))
            for cid in sorted(set(engine.outcomes) | set(baseline.outcomes))
            if engine.outcomes.get(cid) != baseline.outcomes.get(cid)
        ]
        problems.append(f"outcomes differ for {len(diff)} customers, e.g. {diff[:5]}")
    if problems:
        raise NotEquivalentError("\n".join(problems))


# --------------------------------------------------------------------------- main


def quiet_logs() -> None:
    """Engine logs at WARNING and above, as ``journeydsl simulate`` and a quiet service run
    (structlog's default prints every debug line, which would time the terminal)."""
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def _emit(record: dict[str, Any], save: bool) -> None:
    print(json.dumps(record), flush=True)
    if save:
        results = ROOT / "benchmarks" / "results"
        results.mkdir(parents=True, exist_ok=True)
        with (results / f"{NAME}.jsonl").open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(record) + "\n")


def main(argv: list[str] | None = None) -> list[dict[str, Any]]:
    """Run the benchmark; return the records it printed."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--customers", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--runs", type=int, default=3, help="timed replays of each side")
    parser.add_argument("--smoke", action="store_true", help="CI size: 60 customers, one run")
    parser.add_argument(
        "--isolated",
        action="store_true",
        help="the engine's state store copies and checks records as a durable store does "
        "(default: live records, as journeydsl simulate runs)",
    )
    parser.add_argument("--no-save", action="store_true", help="do not append to results/")
    args = parser.parse_args(argv)
    if args.smoke:
        args.customers, args.runs = 60, 1
    quiet_logs()
    t0 = time.perf_counter()
    stream = record_stream(args.customers, args.seed)
    recorded_s = time.perf_counter() - t0
    # Interleaved, so that both sides see the same load on a shared machine.
    engine_runs: list[Outcome] = []
    baseline_runs: list[Outcome] = []
    # Both sides run under the garbage-collector settings of a simulation's parts.
    from journeydsl.expr import codegen
    from journeydsl.simulate.parallel import collector_for_parts

    for _ in range(args.runs):
        with collector_for_parts():
            engine_runs.append(run_engine(stream, args.isolated))
        with collector_for_parts():
            baseline_runs.append(run_baseline(stream))
        check_equivalent(engine_runs[-1], baseline_runs[-1])
    engine_s = statistics.median(r.seconds for r in engine_runs)
    baseline_s = statistics.median(r.seconds for r in baseline_runs)
    engine_cpu = statistics.median(r.cpu_seconds for r in engine_runs)
    baseline_cpu = statistics.median(r.cpu_seconds for r in baseline_runs)
    per_customer = 1e6 / args.customers
    record: dict[str, Any] = {
        "benchmark": NAME,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "customers": args.customers,
        "seed": args.seed,
        "events": len(stream.events),
        "actions": len(engine_runs[0].actions),
        "equivalent": True,
        "state_store": "isolated" if args.isolated else "live",
        # How the journey's expressions ran: generated functions, or the reference closures
        # (JOURNEYDSL_EXPRESSIONS=closures).
        "expressions": "generated" if codegen.enabled() else "closures",
        "runs": args.runs,
        "engine_s": round(engine_s, 4),
        "baseline_s": round(baseline_s, 4),
        "engine_us_per_customer": round(engine_s * per_customer, 1),
        "baseline_us_per_customer": round(baseline_s * per_customer, 1),
        "engine_us_per_customer_min": round(min(r.seconds for r in engine_runs) * per_customer, 1),
        "baseline_us_per_customer_min": round(
            min(r.seconds for r in baseline_runs) * per_customer, 1
        ),
        "engine_cpu_us_per_customer": round(engine_cpu * per_customer, 1),
        "baseline_cpu_us_per_customer": round(baseline_cpu * per_customer, 1),
        "ratio": round(engine_s / baseline_s, 2),
        "ratio_cpu": round(engine_cpu / baseline_cpu, 2),
        "target_ratio": 2.0,
        "record_s": round(recorded_s, 2),
        "smoke": args.smoke,
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {platform.system()}",
    }
    _emit(record, not args.no_save)
    return [record]


if __name__ == "__main__":
    try:
        main()
    except NotEquivalentError as exc:
        print(f"baseline_onboarding: NOT EQUIVALENT: {exc}", file=sys.stderr)
        sys.exit(1)
