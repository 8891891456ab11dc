"""A synthetic population driven by a behaviour file in the general form
(:mod:`~journeydsl.simulate.behaviour_general`): any event type of the catalog.

As in :mod:`~journeydsl.simulate.population`, each customer draws from their own random streams,
seeded from ``(seed, customer id, purpose)``: the same seed gives byte-identical runs and a
customer's draws do not depend on the others. An event is queued as a producer and decided when
its time comes (its ``after`` event has happened, its ``limit`` is not reached, no ``unless``
event came in between), so that, for example, a card activated by a reminder is not activated
again by the daily rate. Each event that happens starts what follows it: the entries whose
``after`` names it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from journeydsl.ast import CHANNELS
from journeydsl.money import Money
from journeydsl.runtime.protocols import Message, Profile
from journeydsl.simulate.behaviour import Behaviour, pick, sample_count, sample_delay
from journeydsl.simulate.behaviour_general import (
    EventModel,
    FieldSpec,
    GeneralBehaviour,
    HourWindow,
    ReactionRule,
    draw_hour,
    patched,
)
from journeydsl.simulate.driver import Producer, Simulation
from journeydsl.simulate.population import (
    BehaviourChannel,
    Population,
    _local_date,
    _tz,
    before_events,
    customer_ids,
    daily_skip,
    days_left,
)
from journeydsl.simulate.tally import ChannelStats

__all__ = ["GeneralPopulation", "population_for"]


def _rng(seed: int, customer: str, purpose: str) -> random.Random:
    return random.Random(f"{seed}:{customer}:{purpose}")


@dataclass(slots=True)
class _Seen:
    """What a customer did of one event type: how often, when last, with which fields."""

    count: int = 0
    last: datetime | None = None
    data: Mapping[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class _Customer:
    id: str
    seed: int
    tz: tzinfo
    life: random.Random
    segment: int
    attributes: Mapping[str, Any]
    seen: dict[str, _Seen] = field(default_factory=dict)
    started: set[str] = field(default_factory=set)
    favourite: dict[str, int] = field(default_factory=dict)
    responded: set[str] = field(default_factory=set)
    counter: int = 0
    _respond: random.Random | None = None
    _wire: random.Random | None = None

    @property
    def respond(self) -> random.Random:
        """Reactions to delivered messages."""
        if self._respond is None:
            self._respond = _rng(self.seed, self.id, "respond")
        return self._respond

    @property
    def wire(self) -> random.Random:
        """Channel failures of the customer's messages."""
        if self._wire is None:
            self._wire = _rng(self.seed, self.id, "channel")
        return self._wire

    def since(self, e: EventModel) -> datetime | None:
        """Since when ``unless`` events count: the latest ``after`` event (None: ever)."""
        if e.after is None:
            return None
        seen = self.seen.get(e.after)
        return seen.last if seen is not None else None


class GeneralPopulation:
    """``size`` synthetic customers following a general-form ``model`` (the same interface as
    :class:`~journeydsl.simulate.population.Population`)."""

    def __init__(
        self,
        model: GeneralBehaviour,
        size: int,
        seed: int,
        members: Iterable[int] | None = None,
    ) -> None:
        if size < 1:
            raise ValueError("a population needs at least one customer")
        self.model = model
        self.size = size
        self.seed = seed
        self.ids = customer_ids(model.customer_prefix, size, members)
        self.customers: dict[str, _Customer] = {}
        self.stats: dict[str, ChannelStats] = {c: ChannelStats() for c in CHANNELS}
        self.sim: Simulation | None = None
        self.channel_models = {str(k): v for k, v in model.channels.items()}
        # Per segment (index, -1 without segments): each event's entry with the segment's
        # changes, and the entries that follow each event type.
        segments = range(len(model.segments)) if model.segments else [-1]
        self._plans: dict[int, dict[str, EventModel]] = {
            s: {
                name: patched(e, model.segments[s].events.get(name) if s >= 0 else None)
                for name, e in model.events.items()
            }
            for s in segments
        }
        self._follow: dict[str, list[str]] = {}
        for name, e in model.events.items():
            if e.after is not None:
                self._follow.setdefault(e.after, []).append(name)
        self._order = sorted(model.events, key=self._depth)
        self.profiles = [self._profile(cid) for cid in self.ids]

    def _depth(self, name: str) -> int:
        depth, step = 0, self.model.events[name].after
        while step is not None and step in self.model.events and depth < len(self.model.events):
            depth += 1
            step = self.model.events[step].after
        return depth

    # ------------------------------------------------------------------ set-up

    def _profile(self, cid: str) -> Profile:
        rng = _rng(self.seed, cid, "profile")
        model = self.model
        segment = -1
        if model.segments:
            segment = int(pick({str(i): s.share for i, s in enumerate(model.segments)}, rng))
        tz_name = pick(model.profiles.timezones, rng)
        rates = {str(k): v for k, v in model.profiles.consent.items()}
        specs: dict[str, FieldSpec] = dict(model.profiles.attributes)
        if segment >= 0:
            rates.update({str(k): v for k, v in model.segments[segment].consent.items()})
            specs.update(model.segments[segment].attributes)
        consent = {c: rng.random() < rates.get(c, 0.0) for c in CHANNELS}
        attributes: dict[str, Any] = {}
        for name, spec in specs.items():
            value = spec.draw(rng, {"customer_id": cid, "n": 1})
            if spec.money is not None:
                value = Money(value, spec.currency)
            attributes[name] = value
        if segment >= 0:
            attributes.setdefault("behaviour_segment", model.segments[segment].name)
        life = _rng(self.seed, cid, "life")
        self.customers[cid] = _Customer(cid, self.seed, _tz(tz_name), life, segment, attributes)
        return Profile(cid, attributes, consent, tz_name)

    def channels(self) -> dict[str, BehaviourChannel]:
        """One channel double per channel name."""
        return {c: BehaviourChannel(c, self) for c in CHANNELS}

    def attach(self, sim: Simulation) -> None:
        """Write history and queue arrivals and everyday behaviour into ``sim``."""
        self.sim = sim
        for cid in self.ids:
            c = self.customers[cid]
            plan = self._plans[c.segment]
            for name in self._order:
                self._history(c, name, plan[name], sim)
            for name in self._order:
                e = plan[name]
                if not self._fits(c, e):
                    continue
                if e.start is not None and c.life.random() < e.probability:
                    days = timedelta(days=c.life.randrange(e.start.days))
                    day = _local_date(sim.start, c.tz) + days
                    at = max(self._at(c, day, e), sim.start)
                    self._schedule(at, self._producer(c, name))
                elif e.daily is not None and (e.after is None or e.after in c.seen):
                    c.started.add(name)
                    self._plan_daily(c, name, sim.start)

    def detach(self) -> None:
        """Forget the simulation (see :meth:`Population.detach`)."""
        self.sim = None

    def _fits(self, c: _Customer, e: EventModel) -> bool:
        return all(c.attributes.get(k) == v for k, v in e.when.items())

    def _history(self, c: _Customer, name: str, e: EventModel, sim: Simulation) -> None:
        h = e.history
        if h is None or not self._fits(c, e) or c.life.random() >= h.probability:
            return
        floor: datetime | None = None
        if e.after is not None:
            before = c.seen.get(e.after)
            if before is None or before.last is None:
                return
            floor = before.last + timedelta(hours=1)
        times = sorted(
            sim.start - sample_delay(h.ago, c.life) for _ in range(sample_count(h.count, c.life))
        )
        for at in times:
            at = max(at, floor) if floor is not None else at
            if at >= sim.start or before_events(at):
                continue
            data = self._data(c, name, e, {}, None)
            if data is None:
                continue
            self._happened(c, name, at, data, live=False)
            from journeydsl.runtime.events import coerce_event

            raw = self._event(c, name, at, data)
            sim.add_history(raw, coerce_event(raw, sim.engine.schemas))

    # ------------------------------------------------------------------ events

    def _event(
        self, c: _Customer, etype: str, at: datetime, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        c.counter += 1
        return {
            "id": f"{c.id}:{c.counter}",
            "customer_id": c.id,
            "type": etype,
            "at": at.astimezone(c.tz).isoformat(),
            "data": dict(data),
        }

    def _schedule(self, at: datetime, producer: Producer) -> None:
        if self.sim is not None:
            self.sim.schedule(at, producer)

    def _at(self, c: _Customer, day: date, e: EventModel) -> datetime:
        windows: tuple[HourWindow, ...] = e.hours or self.model.hours
        seconds = draw_hour(windows, c.life)
        return datetime.combine(day, time(0), c.tz) + timedelta(seconds=seconds)

    def _plan_daily(self, c: _Customer, name: str, after: datetime) -> None:
        e = self._plans[c.segment][name]
        p = e.daily or 0.0
        if p <= 0:
            return
        assert self.sim is not None
        most = days_left(after, self.sim.until, c.tz)
        skip = 0 if p >= 1 else daily_skip(c.life.random(), p, most)  # (no draw at p = 1)
        day = _local_date(after, c.tz) + timedelta(days=skip)
        at = self._at(c, day, e)
        if at <= after:  # today's window has passed that time: the next day's
            at = self._at(c, day + timedelta(days=1), e)
        self._schedule(at, self._producer(c, name, daily=True))

    def _allowed(self, c: _Customer, e: EventModel, name: str) -> bool:
        if not self._fits(c, e):
            return False
        if e.after is not None and e.after not in c.seen:
            return False
        seen = c.seen.get(name)
        if e.limit is not None and seen is not None and seen.count >= e.limit:
            return False
        since = c.since(e)
        for other in e.unless:
            o = c.seen.get(other)
            if o is not None and o.last is not None and (since is None or o.last >= since):
                return False
        return True

    def _producer(
        self,
        c: _Customer,
        name: str,
        *,
        daily: bool = False,
        extra: Mapping[str, FieldSpec] | None = None,
        message: Message | None = None,
    ) -> Producer:
        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            e = self._plans[c.segment][name]
            if not self._allowed(c, e, name):
                return None  # (a daily process stops here)
            now = self.sim.clock.now()
            if daily:
                self._plan_daily(c, name, now)
            data = self._data(c, name, e, extra or {}, message)
            if data is None:
                return None
            self._happened(c, name, now, data, live=True)
            return self._event(c, name, now, data)

        return produce

    def _happened(
        self, c: _Customer, name: str, at: datetime, data: Mapping[str, Any], *, live: bool
    ) -> None:
        seen = c.seen.setdefault(name, _Seen())
        seen.count += 1
        seen.last = at
        seen.data = data
        if not live:
            return
        plan = self._plans[c.segment]
        for follower in self._follow.get(name, ()):
            e = plan[follower]
            if e.daily is not None:
                if follower not in c.started:
                    c.started.add(follower)
                    self._plan_daily(c, follower, at)
            elif e.delay is not None and c.life.random() < e.probability:
                self._schedule(at + sample_delay(e.delay, c.life), self._producer(c, follower))

    def _data(
        self,
        c: _Customer,
        name: str,
        e: EventModel,
        extra: Mapping[str, FieldSpec],
        message: Message | None,
    ) -> dict[str, Any] | None:
        specs: dict[str, FieldSpec] = dict(e.data)
        if e.variants:
            index = c.favourite.get(name)
            weights = {str(i): v.weight for i, v in enumerate(e.variants)}
            if e.favourite and index is None:
                index = c.favourite[name] = int(pick(weights, c.life))
            if not (e.favourite and index is not None and c.life.random() < e.favourite):
                index = int(pick(weights, c.life))
            specs = {**e.variants[index].data, **specs, **e.variants[index].data}
        specs.update(extra)
        seen = c.seen.get(name)
        names = {"customer_id": c.id, "n": (seen.count if seen else 0) + 1}
        out: dict[str, Any] = {}
        for fname, spec in specs.items():
            if spec.same_as is not None:
                etype, ref = spec.same_as.split(".")
                earlier = c.seen.get(etype)
                value = earlier.data.get(ref) if earlier is not None else None
            elif spec.param is not None:
                params = message.params if message is not None else {}
                if spec.param not in params:
                    return None  # nothing to answer with in this message
                value = params[spec.param]
            else:
                value = spec.draw(c.life, names)
            if isinstance(value, Decimal) and value == value.to_integral_value():
                value = int(value)
            out[fname] = value
        return out

    # ------------------------------------------------------------------ reactions

    def react(self, message: Message) -> None:
        """Schedule the customer's reactions to a delivered message."""
        c = self.customers.get(message.customer_id)
        if c is None or message.idempotency_key in c.responded:
            return
        rule = self.model.rule(c.segment, message.template, message.channel)
        if rule is None:
            return
        c.responded.add(message.idempotency_key)
        rng = c.respond
        info = {
            "message_id": message.idempotency_key,
            "journey": message.journey,
            "node": message.node,
            "template": message.template,
            "channel": message.channel,
        }
        when: dict[str, datetime] = {"delivered": message.at}
        for step, follows, marks, reaction in _marks(rule):
            base = when.get(follows)
            if base is None or rng.random() >= reaction.probability:
                continue
            at = when[marks] = base + sample_delay(reaction.delay, rng)
            self._schedule(at, self._fixed(c, step, info))
        for conv in rule.events:
            base = when.get(conv.after)
            if base is None or rng.random() >= conv.probability:
                continue
            at = base + sample_delay(conv.delay, rng)
            if conv.event in self.model.events:
                self._schedule(at, self._producer(c, conv.event, extra=conv.data, message=message))

    def _fixed(self, c: _Customer, etype: str, data: Mapping[str, Any]) -> Producer:
        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            now = self.sim.clock.now()
            self._happened(c, etype, now, data, live=True)
            return self._event(c, etype, now, data)

        return produce


def _marks(rule: ReactionRule) -> list[tuple[str, str, str, Any]]:
    """The open and the click of a rule: (event, the step it follows, the step it becomes,
    the reaction)."""
    out: list[tuple[str, str, str, Any]] = []
    if rule.open is not None:
        out.append(("message_opened", "delivered", "opened", rule.open))
    if rule.click is not None:
        follows = rule.click.after or "opened"
        out.append(("message_clicked", follows, "clicked", rule.click))
    return out


def population_for(
    model: Behaviour | GeneralBehaviour,
    size: int,
    seed: int,
    members: Iterable[int] | None = None,
) -> Population | GeneralPopulation:
    """The population a behaviour file describes, in either form."""
    if isinstance(model, GeneralBehaviour):
        return GeneralPopulation(model, size, seed, members)
    return Population(model, size, seed, members)
