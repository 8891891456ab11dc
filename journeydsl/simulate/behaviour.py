"""The behaviour model of a synthetic population (``journeydsl simulate --behaviour B.yaml``).

A YAML file, validated with pydantic; every mistake is reported as ``file:line:col: error: …``.
It describes who the customers are (profile mix), what they do on their own (daily rates,
amounts by merchant), how they react to the messages a journey sends, how the channels fail and
what each message costs. docs/simulate.md documents every field.

Money is :class:`~decimal.Decimal` (VND, rounded to 1,000); probabilities are plain floats.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, Generic, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from journeydsl.durations import MAX_FILE_DURATION, bounded_duration, parse_duration
from journeydsl.runtime.events import EARLIEST, LATEST
from journeydsl.yamlfile import FileError, YamlDocument, load_document, validate
from journeydsl.zones import DEFAULT_TIMEZONE, zone_problem

if TYPE_CHECKING:
    from journeydsl.expr.types import Type
    from journeydsl.simulate.behaviour_general import GeneralBehaviour

__all__ = [
    "AMOUNT_LIMIT",
    "MAX_COUNT",
    "MAX_DRAWN_DELAY",
    "NUMBER_LIMIT",
    "Behaviour",
    "Dist",
    "LoadedBehaviour",
    "Reaction",
    "Response",
    "check_behaviour",
    "drawn_amount",
    "in_event_range",
    "load_behaviour",
    "sample_amount",
    "sample_count",
    "sample_delay",
]

T = TypeVar("T")

#: What a duration in a behaviour file may be written as.
_DURATION_EXAMPLE = "2h, 30m, 3d or 1d12h"


def _duration(raw: Any) -> Any:
    """``"2h"``, ``"1d12h"``, ``"30m"`` (or a number of seconds) as a timedelta, at most
    :data:`~journeydsl.durations.MAX_FILE_DURATION` (ten years)."""
    if isinstance(raw, timedelta):
        return raw
    if isinstance(raw, bool) or not isinstance(raw, int | str):
        raise ValueError(f"a duration is written like {_DURATION_EXAMPLE}")
    if isinstance(raw, int):
        if raw < 0:
            raise ValueError(f"a duration is not negative, found {raw}")
        return bounded_duration(raw, f"{raw} seconds")
    return parse_duration(raw, units="dhms", example=_DURATION_EXAMPLE)


#: Amounts a behaviour file writes (an amount's distribution, a message's cost) and the amounts
#: drawn from them stay below this (VND, 18 digits): far inside the 28 significant digits of
#: decimal arithmetic and the 30 digits an event's amount may have. A larger one is surely a
#: mistake (a 36-digit median stopped a run with ``decimal.InvalidOperation``).
AMOUNT_LIMIT: Final = Decimal(10**18)
#: The bound of the numbers a behaviour file's number fields are drawn from, and of the draws:
#: strictly between ``-NUMBER_LIMIT`` and ``NUMBER_LIMIT``.
NUMBER_LIMIT: Final = 1e18
#: The most events of one history entry a customer may have (``count``): more is surely a
#: mistake, and would fill the event store before the run starts.
MAX_COUNT: Final = 10_000


def _amount(raw: Any) -> Any:
    """``450000``, ``450_000`` or ``"450_000 VND"`` as a Decimal (VND)."""
    if isinstance(raw, bool | float):
        raise ValueError("write an amount as a whole number of VND, e.g. 450_000")
    if isinstance(raw, int | Decimal):
        return _bounded_amount(Decimal(raw)) if Decimal(raw).is_finite() else Decimal(raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.upper().endswith("VND"):
            text = text[:-3].strip()
        try:
            value = Decimal(text.replace("_", "").replace(",", ""))
        except InvalidOperation:
            value = None
        if value is not None and value.is_finite():
            return _bounded_amount(value)
    raise ValueError(f"{raw!r} is not an amount; write e.g. 450_000 or '450_000 VND'")


def _bounded_amount(value: Decimal) -> Decimal:
    if value >= AMOUNT_LIMIT:
        raise ValueError(
            f"an amount of {value.adjusted() + 1} digits is too large: at most 18 digits "
            "(below 10^18 VND)"
        )
    return value


def _bounded_number(value: float) -> float:
    if not -NUMBER_LIMIT < value < NUMBER_LIMIT:  # (NaN too)
        raise ValueError(f"{value:.6} is out of range: a number is between -10^18 and 10^18")
    return value


Duration = Annotated[timedelta, BeforeValidator(_duration)]
Amount = Annotated[Decimal, BeforeValidator(_amount), Field(ge=0)]
Number = Annotated[float, AfterValidator(_bounded_number)]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT)]
#: A number of days a behaviour file spreads something over (arrivals): at most ten years.
Days = Annotated[int, Field(ge=1, le=MAX_FILE_DURATION.days)]
Probability = Annotated[float, Field(ge=0, le=1)]
Weight = Annotated[float, Field(gt=0)]
Channel = Literal["email", "sms", "zns", "push", "inapp"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class LogNormal(_Model, Generic[T]):
    """A log-normal distribution: half the draws fall below ``median``; ``spread`` is the
    standard deviation of its logarithm (0 = always the median, 1 = wide)."""

    median: T
    spread: Annotated[float, Field(ge=0, le=5)] = 0.5


class Uniform(_Model, Generic[T]):
    """Every value between ``min`` and ``max`` equally likely."""

    min: T
    max: T

    @model_validator(mode="after")
    def _ordered(self) -> Uniform[T]:
        if self.min > self.max:  # type: ignore[operator]
            raise ValueError("'min' is larger than 'max'")
        return self


class Dist(_Model, Generic[T]):
    """A distribution: exactly one of ``fixed``, ``lognormal`` or ``uniform``; a bare value is
    shorthand for ``fixed``."""

    fixed: T | None = None
    lognormal: LogNormal[T] | None = None
    uniform: Uniform[T] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return raw if isinstance(raw, Mapping) else {"fixed": raw}

    @model_validator(mode="after")
    def _one(self) -> Dist[T]:
        given = [n for n in ("fixed", "lognormal", "uniform") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of 'fixed', 'lognormal' or 'uniform'"
                + (f" (found {', '.join(given)})" if given else "")
            )
        return self

    def draw(self, rng: random.Random, to: Callable[[T], float]) -> float:
        """One draw, as a float of ``to``'s unit."""
        if self.fixed is not None:
            return to(self.fixed)
        if self.lognormal is not None:
            return to(self.lognormal.median) * math.exp(self.lognormal.spread * rng.gauss(0, 1))
        assert self.uniform is not None
        return rng.uniform(to(self.uniform.min), to(self.uniform.max))


#: The longest delay drawn: the whole range events may fall in (1900 to 2999). A longer draw
#: (a log-normal's far tail) is cut to it, which changes nothing: from any start it lands after
#: the end of any run, or, as history, before 1900 (and is left out); longer, it would not fit
#: in a datetime.
MAX_DRAWN_DELAY: Final = LATEST - EARLIEST


def sample_delay(dist: Dist[timedelta], rng: random.Random) -> timedelta:
    """A delay, to the second (at most :data:`MAX_DRAWN_DELAY`)."""
    seconds = dist.draw(rng, timedelta.total_seconds)
    return timedelta(seconds=round(min(seconds, MAX_DRAWN_DELAY.total_seconds())))


def drawn_amount(dist: Dist[Decimal], rng: random.Random) -> float:
    """A draw of an amount distribution, below :data:`AMOUNT_LIMIT` (a log-normal's far tail is
    cut there)."""
    return min(dist.draw(rng, float), float(AMOUNT_LIMIT) - 1e3)


def sample_amount(dist: Dist[Decimal], rng: random.Random) -> Decimal:
    """An amount in VND, rounded to 1,000 (at least 1,000)."""
    value = drawn_amount(dist, rng)
    return Decimal(max(1, round(value / 1000)) * 1000)


def sample_count(dist: Dist[int], rng: random.Random) -> int:
    """A whole count (at least 0, at most :data:`MAX_COUNT`)."""
    return max(0, round(min(dist.draw(rng, float), MAX_COUNT)))


# --------------------------------------------------------------------------- the file


def _choice(raw: Any) -> Any:
    return raw if isinstance(raw, Mapping) else {"value": raw}


class Choice(_Model):
    """A profile attribute or event field: a constant ``value`` or a weighted ``choice``."""

    value: str | int | bool | None = None
    choice: dict[str, Weight] | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return _choice(raw)

    @model_validator(mode="after")
    def _one(self) -> Choice:
        if (self.value is None) == (self.choice is None):
            raise ValueError("give a constant value or 'choice: {value: weight, …}'")
        if self.choice is not None and not self.choice:
            raise ValueError("'choice' needs at least one value")
        return self

    def draw(self, rng: random.Random, **names: str) -> Any:
        """A value (``{customer_id}``, ``{card_id}`` are replaced in strings)."""
        if self.choice is not None:
            value: Any = pick(self.choice, rng)
        else:
            value = self.value
        return value.format(**names) if isinstance(value, str) and "{" in value else value


def pick(weights: Mapping[str, float], rng: random.Random) -> str:
    """A key of ``weights``, drawn in proportion to its weight (file order breaks no ties)."""
    total = sum(weights.values())
    r = rng.random() * total
    upto = 0.0
    for key, w in weights.items():
        upto += w
        if r < upto:
            return key
    return next(reversed(list(weights)))


def _timezone(raw: Any) -> Any:
    if isinstance(raw, str) and (problem := zone_problem(raw)) is not None:
        raise ValueError(problem)
    return raw


TimeZone = Annotated[str, BeforeValidator(_timezone)]


class Profiles(_Model):
    """The profile mix."""

    app_share: Probability = 0.0
    consent: dict[Channel, Probability] = Field(default_factory=dict)
    timezones: dict[TimeZone, Weight] = Field(default_factory=lambda: {DEFAULT_TIMEZONE: 1.0})
    attributes: dict[str, Choice] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _zones(self) -> Profiles:
        if not self.timezones:
            raise ValueError("'timezones' needs at least one time zone")
        return self


Hours = Annotated[int, Field(ge=0, le=24)]


def _window(value: tuple[int, int]) -> tuple[int, int]:
    if value[0] >= value[1]:
        raise ValueError("the hours window is [from, to) with from < to, e.g. [8, 21]")
    return value


class Arrivals(_Model):
    """Each customer starts with one entry event (e.g. ``card_issued``), spread over the first
    ``over_days`` days at a local time within ``hours``."""

    event: str = "card_issued"
    over_days: Days = 7
    hours: tuple[Hours, Hours] = (8, 20)
    data: dict[str, Choice] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _hours(self) -> Arrivals:
        _window(self.hours)
        return self


class HistoryTransactions(_Model):
    """Past transactions: how many, and how long before the start."""

    count: Dist[Count]
    ago: Dist[Duration]


class History(_Model):
    """Events before the start (they fill the event store and trigger nothing)."""

    card_activated: Dist[Duration] | None = None
    app_installed_share: Probability = 0.0
    transactions: HistoryTransactions | None = None


class Daily(_Model):
    """What customers do on their own: the probability, per day, of each behaviour."""

    activation: Probability = 0.0
    app_install: Probability = 0.0
    spend: Probability = 0.0
    hours: tuple[Hours, Hours] = (8, 22)

    @model_validator(mode="after")
    def _hours(self) -> Daily:
        _window(self.hours)
        return self


class Merchant(_Model):
    """Where customers spend, how often (weight) and how much."""

    merchant: str
    category: str
    weight: Weight = 1.0
    amount: Dist[Amount]


class Spend(_Model):
    """The merchant mix. ``loyalty`` is the share of a customer's transactions made at their
    favourite merchant (drawn once per customer from the mix)."""

    currency: Literal["VND"] = "VND"
    loyalty: Probability = 0.0
    merchants: Annotated[list[Merchant], Field(min_length=1)]


Step = Literal["delivered", "opened", "clicked"]


class Reaction(_Model):
    """One reaction to a message: ``probability`` given that step ``after`` happened, and the
    ``delay`` after it."""

    probability: Probability
    delay: Dist[Duration] = Field(
        default_factory=lambda: Dist[Duration](
            lognormal=LogNormal[Duration](median=timedelta(hours=2), spread=1.0)
        )
    )
    after: Step | None = None


class Response(_Model):
    """How customers react to a template and/or channel. The most specific rule applies:
    template and channel, then template, then channel, then a rule naming neither."""

    template: str | None = None
    channel: Channel | None = None
    open: Reaction | None = None
    click: Reaction | None = None
    activation: Reaction | None = None
    app_install: Reaction | None = None
    registration: Reaction | None = None
    transaction: Reaction | None = None

    @model_validator(mode="after")
    def _steps(self) -> Response:
        if self.open is not None and self.open.after not in (None, "delivered"):
            raise ValueError("'open' can only follow delivery")
        if self.click is not None and self.click.after not in (None, "opened", "delivered"):
            raise ValueError("'click' can follow delivery or the open, not itself")
        return self

    def after(self, name: str) -> str:
        """The step a reaction follows: clicks follow opens, everything else delivery."""
        reaction: Reaction | None = getattr(self, name)
        if reaction is not None and reaction.after is not None:
            return reaction.after
        return "opened" if name == "click" else "delivered"


class ChannelModel(_Model):
    """A channel's failure rates per attempt and its cost per delivered message (VND)."""

    cost: Amount = Decimal(0)
    transient: Probability = 0.0
    permanent: Probability = 0.0

    @model_validator(mode="after")
    def _rates(self) -> ChannelModel:
        if self.transient + self.permanent > 1:
            raise ValueError("'transient' + 'permanent' is more than 1")
        return self


def _start(raw: Any) -> Any:
    if isinstance(raw, str):
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            raise ValueError(f"'{raw}' is not an ISO 8601 time") from None
        if value.tzinfo is None:
            raise ValueError(f"'{raw}' has no UTC offset; write e.g. 2026-01-05T00:00:00+07:00")
        return in_event_range(value, f"'{raw}'")
    if isinstance(raw, datetime) and raw.tzinfo is not None:
        return in_event_range(raw, f"'{raw.isoformat()}'")
    return raw


def in_event_range(value: datetime, written: str) -> datetime:
    """``value``, a start or an end of a run; a :class:`ValueError` naming ``written`` when it is
    outside the range of events (from 1900 to 2999), which a run must stay inside."""
    try:
        inside = EARLIEST <= value < LATEST
    except OverflowError:  # year 1 or 9999 with an offset: beyond datetime's range in UTC
        inside = False
    if not inside:
        raise ValueError(
            f"{written} is out of range: a run starts and ends within the years 1900 to 2999, "
            "the range of events"
        )
    return value


# --------------------------------------------------------------------------- decision functions


class DecisionModel(_Model):
    """How a decision function answers in a simulation (``decisions:``): the share of attempts
    that fail (``errors``) or time out (``timeouts``), and the answer: ``answer`` (a value, or
    one per field of a record, each a constant or a weighted ``choice``), or a ``table`` keyed
    by the profile attributes ``by`` names (their values joined by ", "), ``answer`` for the
    rest. See :mod:`journeydsl.simulate.decisions`."""

    errors: Probability = 0.0
    timeouts: Probability = 0.0
    answer: dict[str, Any] | str | int | bool | None = None
    by: list[str] = Field(default_factory=list)
    table: dict[str, dict[str, Any] | str | int | bool] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _rates(self) -> DecisionModel:
        if self.errors + self.timeouts > 1:
            raise ValueError("errors and timeouts add up to more than 1")
        if self.table and not self.by:
            raise ValueError("a table needs 'by:', the profile attributes that key it")
        return self


class Behaviour(_Model):
    """A behaviour model file (docs/simulate.md, "The behaviour model")."""

    start: Annotated[datetime, BeforeValidator(_start)] = datetime.fromisoformat(
        "2026-01-05T00:00:00+07:00"
    )
    customer_prefix: str = "c-"
    profiles: Profiles = Field(default_factory=Profiles)
    arrivals: Arrivals | None = None
    history: History | None = None
    daily: Daily = Field(default_factory=Daily)
    spend: Spend
    responses: list[Response] = Field(default_factory=list)
    channels: dict[Channel, ChannelModel] = Field(default_factory=dict)
    decisions: dict[str, DecisionModel] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _unique_rules(self) -> Behaviour:
        seen: dict[tuple[str | None, str | None], int] = {}
        for i, rule in enumerate(self.responses):
            key = (rule.template, rule.channel)
            if key in seen:
                raise ValueError(
                    f"responses[{i}] repeats the template/channel of responses[{seen[key]}]"
                )
            seen[key] = i
        return self

    def response(self, template: str, channel: str) -> Response | None:
        """The most specific rule for a message."""
        for key in ((template, channel), (template, None), (None, channel), (None, None)):
            for rule in self.responses:
                if (rule.template, rule.channel) == key:
                    return rule
        return None


class LoadedBehaviour:
    """A validated behaviour file and its document (to place later warnings on lines)."""

    def __init__(self, model: Behaviour | GeneralBehaviour, doc: YamlDocument) -> None:
        self.model = model
        self.doc = doc


def load_behaviour(path: str | Path, text: str | None = None) -> LoadedBehaviour:
    """Read and validate a behaviour file, in the general form (a top-level ``events:``
    section) or the earlier card-lifecycle form; raises
    :class:`~journeydsl.yamlfile.InputError` listing every mistake with its line."""
    doc = load_document(path, text)
    if isinstance(doc.data, Mapping) and "events" in doc.data:
        from journeydsl.simulate.behaviour_general import GeneralBehaviour, references
        from journeydsl.yamlfile import InputError

        general = validate(GeneralBehaviour, doc)
        problems = references(general, doc)
        if problems:
            raise InputError(problems)
        return LoadedBehaviour(general, doc)
    return LoadedBehaviour(validate(Behaviour, doc), doc)


def check_behaviour(
    loaded: LoadedBehaviour,
    templates: Mapping[str, set[str]],
    categories: frozenset[str] | None,
    events: frozenset[str],
    *,
    event_types: Mapping[str, Mapping[str, Type]] | None = None,
    attribute_types: Mapping[str, Type] | None = None,
) -> list[FileError]:
    """Warnings that only show against the journey: a response rule for a template the journey
    never sends (the rule would never apply), a category the catalog does not allow (those
    transactions would be quarantined), an arrival event the catalog does not know.
    ``templates`` maps each sent template to its channels. A file in the general form is
    checked against the catalog's ``event_types`` and ``attribute_types`` (see
    :func:`~journeydsl.simulate.catalog_check.check_general`)."""
    found: list[FileError] = []
    doc, model = loaded.doc, loaded.model
    if not isinstance(model, Behaviour):
        from journeydsl.simulate.catalog_check import check_general

        return check_general(
            model, doc, templates, event_types or {e: {} for e in events}, attribute_types
        )
    for i, rule in enumerate(model.responses):
        if rule.template is not None and rule.template not in templates:
            from journeydsl.diagnostics import did_you_mean

            hint = did_you_mean(rule.template, templates)
            found.append(
                doc.error(
                    ("responses", i, "template"),
                    f"the journey never sends template '{rule.template}'"
                    + (f" — {hint}" if hint else ""),
                )
            )
    if categories is not None:
        for i, m in enumerate(model.spend.merchants):
            if m.category not in categories:
                found.append(
                    doc.error(
                        ("spend", "merchants", i, "category"),
                        f"category '{m.category}' is not one of {', '.join(sorted(categories))}",
                    )
                )
    if model.arrivals is not None and model.arrivals.event not in events:
        found.append(
            doc.error(
                ("arrivals", "event"),
                f"the event catalog has no event '{model.arrivals.event}'",
            )
        )
    return [replace(f, severity="warning") for f in found]
