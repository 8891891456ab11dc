"""A synthetic population driven by a behaviour model (``journeydsl simulate --population N``).

Each customer has their own random streams, seeded from ``(seed, customer id, purpose)``: the
same seed gives byte-identical runs, and one customer's draws do not shift when another's change.
Customers get a profile from the mix, optional history (events before the start), an arrival
event (e.g. ``card_issued``) spread over the first days, and then live: they activate, install the
app and spend at their daily rates, and react to the messages the journey delivers. Reactions are
scheduled into the simulation's event queue by :class:`BehaviourChannel`, the channel double that
"delivers" a message (or fails it, at the model's failure rates).

An event that depends on the customer's state when its time comes (an activation, a spend) is
queued as a producer, decided when it fires: a card activated by a reminder meanwhile does not
activate twice.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from journeydsl.ast import CHANNELS
from journeydsl.runtime.events import EARLIEST
from journeydsl.runtime.protocols import DeliveryResult, DeliveryStatus, Message, Profile
from journeydsl.simulate.behaviour import (
    Behaviour,
    Merchant,
    Reaction,
    pick,
    sample_amount,
    sample_count,
    sample_delay,
)
from journeydsl.simulate.driver import Simulation
from journeydsl.simulate.tally import ChannelStats

__all__ = [
    "BehaviourChannel",
    "ChannelStats",
    "Population",
    "before_events",
    "customer_ids",
    "daily_skip",
    "days_left",
]

_OK = DeliveryResult(DeliveryStatus.DELIVERED)
_REACTIONS = ("activation", "app_install", "registration", "transaction")


def _rng(seed: int, customer: str, purpose: str) -> random.Random:
    return random.Random(f"{seed}:{customer}:{purpose}")


@dataclass(slots=True)
class _Customer:
    id: str
    seed: int
    tz: tzinfo
    life: random.Random
    card_id: str
    app: bool = False
    issued: bool = False
    activated: bool = False
    favourite: Merchant | None = None
    counter: int = 0
    responded: set[str] = field(default_factory=set)
    # Streams seeded on first use: seeding costs more than most customers' draws from them.
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

    def next_id(self) -> str:
        self.counter += 1
        return f"{self.id}:{self.counter}"


@dataclass(frozen=True, slots=True)
class _Step:
    """One reaction of a response rule: it follows step ``follows`` (``delivered``, ``opened``
    or ``clicked``); an open or a click ``marks`` the step it becomes."""

    name: str
    follows: str
    marks: str | None
    reaction: Reaction


def customer_ids(prefix: str, size: int, members: Iterable[int] | None = None) -> list[str]:
    """The ids of customers ``members`` (numbered from 1; default all) of a population of
    ``size``: the prefix and a number of at least 4 digits, as wide as ``size`` needs."""
    width = max(4, len(str(size)))
    numbers = range(1, size + 1) if members is None else members
    return [f"{prefix}{i:0{width}d}" for i in numbers]


class Population:
    """``size`` synthetic customers following ``model``: pass :attr:`profiles` and
    :meth:`channels` to a :class:`Simulation`, then :meth:`attach` it to write their history and
    queue their arrivals and everyday life.

    ``members`` restricts it to some of the customers (numbered from 1): each customer's draws
    depend only on the seed and their id, so a population run in chunks of members, or over
    several processes, behaves exactly as the whole population run at once."""

    def __init__(
        self, model: Behaviour, size: int, seed: int, members: Iterable[int] | None = None
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
        self._weights = {str(i): m.weight for i, m in enumerate(model.spend.merchants)}
        self._rules: dict[tuple[str, str], tuple[_Step, ...] | None] = {}
        self.profiles = [self._profile(cid) for cid in self.ids]

    # ------------------------------------------------------------------ set-up

    def _profile(self, cid: str) -> Profile:
        rng = _rng(self.seed, cid, "profile")
        mix = self.model.profiles
        tz_name = pick(mix.timezones, rng)
        app = rng.random() < mix.app_share
        rates = {str(k): v for k, v in mix.consent.items()}
        consent = {c: rng.random() < rates.get(c, 0.0) for c in CHANNELS}
        card_id = f"k-{cid}"
        attributes: dict[str, Any] = {
            name: choice.draw(rng, customer_id=cid, card_id=card_id)
            for name, choice in mix.attributes.items()
        }
        attributes["has_digital_app"] = app
        customer = _Customer(
            cid, self.seed, _tz(tz_name), _rng(self.seed, cid, "life"), card_id, app=app
        )
        merchants = self.model.spend.merchants
        if self.model.spend.loyalty > 0:
            customer.favourite = merchants[self._merchant_index(customer.life)]
        self.customers[cid] = customer
        return Profile(cid, attributes, consent, tz_name)

    def channels(self) -> dict[str, BehaviourChannel]:
        """One channel double per channel name."""
        return {c: BehaviourChannel(c, self) for c in CHANNELS}

    def attach(self, sim: Simulation) -> None:
        """Write history and queue arrivals and everyday behaviour into ``sim``."""
        self.sim = sim
        for cid in self.ids:
            c = self.customers[cid]
            self._history(c, sim)
            arrivals = self.model.arrivals
            if arrivals is not None:
                day = c.life.randrange(arrivals.over_days)
                at = self._at_hour(
                    c, _local_date(sim.start, c.tz) + timedelta(days=day), arrivals.hours
                )
                at = max(at, sim.start)
                sim.schedule(at, self._arrival(c))
            if c.activated:
                self._plan_spend(c, sim.start)
            if c.activated and not c.app:
                self._plan_app(c, sim.start)

    def detach(self) -> None:
        """Forget the simulation. It and this population refer to each other (through the
        channels and the queue): detached, a finished run is freed by reference counting at
        once, instead of by a later pass of the cyclic garbage collector."""
        self.sim = None

    def _history(self, c: _Customer, sim: Simulation) -> None:
        history = self.model.history
        if history is None:
            return
        start = sim.start
        activated_ago: timedelta | None = None
        if history.card_activated is not None:
            activated_ago = sample_delay(history.card_activated, c.life)
            c.issued = c.activated = True
            self._past(sim, c, "card_activated", start - activated_ago, {"card_id": c.card_id})
        if history.app_installed_share and c.life.random() < history.app_installed_share:
            c.app = True
            self._past(sim, c, "app_installed", start - timedelta(days=c.life.randint(30, 365)), {})
        if history.transactions is not None:
            for _ in range(sample_count(history.transactions.count, c.life)):
                ago = sample_delay(history.transactions.ago, c.life)
                if activated_ago is not None and ago >= activated_ago:
                    ago = activated_ago - timedelta(hours=1)
                self._past(sim, c, "transaction", start - ago, self._purchase(c))

    def _past(
        self, sim: Simulation, c: _Customer, etype: str, at: datetime, data: Mapping[str, Any]
    ) -> None:
        from journeydsl.runtime.events import coerce_event

        if before_events(at):
            return
        raw = self._event(c, etype, at, data)
        record = coerce_event(raw, sim.engine.schemas)
        sim.add_history(raw, record)

    # ------------------------------------------------------------------ events

    def _event(
        self, c: _Customer, etype: str, at: datetime, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        return {
            "id": c.next_id(),
            "customer_id": c.id,
            "type": etype,
            "at": at.astimezone(c.tz).isoformat(),
            "data": dict(data),
        }

    def _merchant_index(self, rng: random.Random) -> int:
        return int(pick(self._weights, rng))

    def _purchase(self, c: _Customer) -> dict[str, Any]:
        spend = self.model.spend
        if c.favourite is not None and c.life.random() < spend.loyalty:
            m = c.favourite
        else:
            m = spend.merchants[self._merchant_index(c.life)]
        amount = sample_amount(m.amount, c.life)
        return {
            "amount": int(amount),
            "currency": spend.currency,
            "merchant": m.merchant,
            "category": m.category,
        }

    def _at_hour(self, c: _Customer, day: date, hours: tuple[int, int]) -> datetime:
        seconds = c.life.randrange(hours[0] * 3600, hours[1] * 3600, 60)
        return datetime.combine(day, time(0), c.tz) + timedelta(seconds=seconds)

    def _next_daily(self, c: _Customer, after: datetime, p: float) -> datetime | None:
        """The next time a behaviour with daily probability ``p`` happens after ``after``."""
        if p <= 0:
            return None
        u = c.life.random()
        assert self.sim is not None
        skip = daily_skip(u, p, days_left(after, self.sim.until, c.tz))
        hours = self.model.daily.hours
        day = _local_date(after, c.tz) + timedelta(days=skip)
        at = self._at_hour(c, day, hours)
        if at <= after:  # today's window has passed that time: the next day's
            at = self._at_hour(c, day + timedelta(days=1), hours)
        return at

    def _schedule(self, at: datetime | None, producer: Any) -> None:
        if at is not None and self.sim is not None:
            self.sim.schedule(at, producer)

    def _arrival(self, c: _Customer) -> Any:
        arrivals = self.model.arrivals
        assert arrivals is not None

        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            now = self.sim.clock.now()
            c.issued = True
            data = {
                name: choice.draw(c.life, customer_id=c.id, card_id=c.card_id)
                for name, choice in arrivals.data.items()
            }
            self._schedule(self._next_daily(c, now, self.model.daily.activation), self._activate(c))
            if not c.app:
                self._plan_app(c, now)
            return self._event(c, arrivals.event, now, data)

        return produce

    def _activate(self, c: _Customer) -> Any:
        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            if c.activated or not c.issued:
                return None
            c.activated = True
            now = self.sim.clock.now()
            self._plan_spend(c, now)
            return self._event(c, "card_activated", now, {"card_id": c.card_id})

        return produce

    def _plan_spend(self, c: _Customer, after: datetime) -> None:
        self._schedule(self._next_daily(c, after, self.model.daily.spend), self._spend(c, True))

    def _spend(self, c: _Customer, everyday: bool) -> Any:
        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            if not c.activated:
                return None
            now = self.sim.clock.now()
            if everyday:
                self._plan_spend(c, now)
            return self._event(c, "transaction", now, self._purchase(c))

        return produce

    def _plan_app(self, c: _Customer, after: datetime) -> None:
        self._schedule(self._next_daily(c, after, self.model.daily.app_install), self._install(c))

    def _install(self, c: _Customer) -> Any:
        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            if c.app:
                return None
            c.app = True
            return self._event(c, "app_installed", self.sim.clock.now(), {})

        return produce

    def _fixed(self, c: _Customer, etype: str, data: Mapping[str, Any]) -> Any:
        def produce() -> dict[str, Any] | None:
            assert self.sim is not None
            return self._event(c, etype, self.sim.clock.now(), data)

        return produce

    # ------------------------------------------------------------------ reactions

    def _steps(self, template: str, channel: str) -> tuple[_Step, ...] | None:
        """The reactions of the rule for a message (None: no rule), in the order they are
        drawn; looked up once per template and channel."""
        key = (template, channel)
        if key in self._rules:
            return self._rules[key]
        rule = self.model.response(template, channel)
        steps: tuple[_Step, ...] | None = None
        if rule is not None:
            found: list[_Step] = []
            for name, follows, marks in (
                ("open", "delivered", "opened"),
                ("click", rule.after("click"), "clicked"),
                *((name, rule.after(name), None) for name in _REACTIONS),
            ):
                reaction = getattr(rule, name)
                if reaction is not None:
                    found.append(_Step(name, follows, marks, reaction))
            steps = tuple(found)
        self._rules[key] = steps
        return steps

    def react(self, message: Message) -> None:
        """Schedule the customer's reactions to a delivered message."""
        c = self.customers.get(message.customer_id)
        steps = self._steps(message.template, message.channel)
        if c is None or steps is None or message.idempotency_key in c.responded:
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
        for step in steps:
            base = when.get(step.follows)
            if base is None or rng.random() >= step.reaction.probability:
                continue
            at = base + sample_delay(step.reaction.delay, rng)
            if step.marks is not None:  # an open or a click: later reactions may follow it
                when[step.marks] = at
                etype = "message_opened" if step.name == "open" else "message_clicked"
                self._schedule(at, self._fixed(c, etype, info))
            else:
                self._schedule(at, self._reaction(c, step.name, message))

    def _reaction(self, c: _Customer, name: str, message: Message) -> Any:
        if name == "activation":
            return self._activate(c)
        if name == "app_install":
            return self._install(c)
        if name == "transaction":
            return self._spend(c, False)
        offer = message.params.get("offer")
        if not isinstance(offer, str):
            return lambda: None  # nothing to register for in this message
        return self._fixed(c, "offer_registered", {"offer": offer})


@lru_cache(maxsize=64)
def _tz(name: str) -> tzinfo:
    return ZoneInfo(name)


def _local_date(t: datetime, tz: tzinfo) -> date:
    return t.astimezone(tz).date()


def days_left(after: datetime, until: datetime, tz: tzinfo) -> int:
    """The days a daily behaviour may skip after ``after``: up to the second local day after
    ``until``, whose every time is past the end of the run."""
    return max(0, (_local_date(until, tz) - _local_date(after, tz)).days) + 2


def daily_skip(u: float, p: float, most: int) -> int:
    """The whole days before a behaviour of daily probability ``p`` next happens (a geometric
    draw from ``u``, uniform in [0, 1)), at most ``most``: a day past the end of the run, so
    the cut changes nothing but keeps the date representable (a daily rate of 1e-12 skips
    some 10^12 days, beyond any date; below 1e-16, ``1 - p`` is 1 and the rate never fires)."""
    if p >= 1:
        return 0
    per_day = math.log(1 - p)
    if per_day == 0.0:
        return most
    return min(int(math.log(1 - u) / per_day), most)


def before_events(at: datetime) -> bool:
    """Whether ``at`` is before the range events may fall in (1900 to 2999): a past event drawn
    that far back (a long ``ago`` from an early start, a log-normal's far tail) is left out,
    as an event after the end of the run is."""
    return at < EARLIEST


class _Wired(Protocol):
    @property
    def wire(self) -> random.Random: ...


class Reacting(Protocol):
    """**Protocol:** what a :class:`BehaviourChannel` needs of a population: channel counts and
    models, customers with a channel-failure stream, and their reactions."""

    @property
    def stats(self) -> Mapping[str, ChannelStats]: ...

    @property
    def channel_models(self) -> Mapping[str, Any]: ...

    @property
    def customers(self) -> Mapping[str, _Wired]: ...

    def react(self, message: Message) -> None: ...


class BehaviourChannel:
    """A channel double: fails an attempt at the model's rates, otherwise records the delivery
    (and its cost) and schedules the customer's reactions. Deduplicates on the idempotency key."""

    def __init__(self, name: str, population: Reacting) -> None:
        self.name = name
        self.population = population
        self._keys: set[str] = set()

    def send(self, message: Message) -> DeliveryResult:
        """Deliver, or fail, one message (Channel protocol)."""
        if message.idempotency_key in self._keys:
            return _OK
        pop = self.population
        stats = pop.stats[self.name]
        model = pop.channel_models.get(self.name)
        c = pop.customers.get(message.customer_id)
        if model is not None and c is not None:
            r = c.wire.random()
            if r < model.permanent:
                stats.permanent += 1
                return DeliveryResult(DeliveryStatus.FAILED_PERMANENT, f"{self.name} rejected")
            if r < model.permanent + model.transient:
                stats.transient += 1
                return DeliveryResult(DeliveryStatus.FAILED_TRANSIENT, f"{self.name} busy")
        self._keys.add(message.idempotency_key)
        stats.delivered += 1
        if model is not None:
            stats.cost += model.cost
        pop.react(message)
        return _OK
