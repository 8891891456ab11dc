"""The general form of a behaviour file: any event type of the catalog (docs/simulate.md, "The
general form").

A file in the general form has a top-level ``events:`` section. Each entry is one event type of
the catalog and says how it arises (an arrival over the first days, a delay after another event,
a daily rate, events before the start) and how its fields are drawn (constants, enums by weight,
money amounts, numbers, ids that match an earlier event's field, the message's params).
``reactions`` say how customers answer messages per template and channel; ``segments`` give
groups of customers their own parameters. :mod:`~journeydsl.simulate.population_general` runs it.

Validated with pydantic through :func:`~journeydsl.yamlfile.validate`: every mistake is reported
as ``file:line:col: error: …``; references between entries (``after``, ``same_as``, a
reaction's ``event``) are checked here too, each at its line.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    WithJsonSchema,
    model_validator,
)

from journeydsl.simulate.behaviour import (
    AMOUNT_LIMIT,
    NUMBER_LIMIT,
    Amount,
    Channel,
    ChannelModel,
    Count,
    Days,
    DecisionModel,
    Dist,
    Duration,
    LogNormal,
    Number,
    Probability,
    TimeZone,
    Weight,
    _start,
    drawn_amount,
    pick,
)
from journeydsl.yamlfile import FileError, YamlDocument
from journeydsl.zones import DEFAULT_TIMEZONE

__all__ = [
    "Arrival",
    "Conversion",
    "EventModel",
    "FieldSpec",
    "GeneralBehaviour",
    "History",
    "HourWindow",
    "Patch",
    "Profiles",
    "ReactionRule",
    "Segment",
    "Variant",
    "draw_hour",
    "most_specific",
    "patched",
    "references",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --------------------------------------------------------------------------- field values

_SOURCES = ("value", "choice", "probability", "money", "number", "same_as", "param")
_REF = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\.[A-Za-z_][A-Za-z0-9_]*$")


#: The smallest ``round`` of an amount: six decimals, as a number's ``places``. (With a drawn
#: amount below :data:`~journeydsl.simulate.behaviour.AMOUNT_LIMIT`, the count of steps stays
#: within decimal arithmetic's 28 digits.)
MIN_ROUND = Decimal("0.000001")


def _step(value: Decimal) -> Decimal:
    if value < MIN_ROUND or value >= AMOUNT_LIMIT:
        raise ValueError(
            f"round to a step from {MIN_ROUND} to below 10^18 VND, e.g. 1000, not {value:f}"
        )
    return value


def _ref(raw: Any) -> Any:
    if isinstance(raw, str) and not _REF.match(raw):
        raise ValueError(f"'{raw}' is not EVENT.FIELD, e.g. card_applied.application_id")
    return raw


class FieldSpec(_Model):
    """How one field (of an event or a profile) is drawn: exactly one of ``value`` (a constant; a
    bare value means the same; ``{customer_id}`` and ``{n}`` are replaced in strings),
    ``choice`` (values by weight), ``probability`` (true with that probability), ``money`` (an
    amount distribution, ``currency`` VND by default, rounded to ``round``), ``number`` (a
    number distribution with ``places`` decimals), ``same_as`` (``EVENT.FIELD``: the value of
    that field in the customer's latest such event) or ``param`` (a param of the message a
    reaction answers)."""

    value: str | bool | int | Decimal | None = None
    choice: dict[str, Weight] | None = None
    probability: Probability | None = None
    money: Dist[Amount] | None = None
    currency: Literal["VND"] = "VND"
    round: Annotated[Decimal, Field(gt=0), AfterValidator(_step)] = Decimal(1000)
    number: Dist[Number] | None = None
    places: Annotated[int, Field(ge=0, le=6)] = 0
    same_as: Annotated[str, BeforeValidator(_ref)] | None = None
    param: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, raw: Any) -> Any:
        return raw if isinstance(raw, Mapping) else {"value": raw}

    @model_validator(mode="after")
    def _one(self) -> FieldSpec:
        given = [n for n in _SOURCES if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of "
                + ", ".join(f"'{n}'" for n in _SOURCES)
                + (f" (found {', '.join(given)})" if given else "")
            )
        if self.choice is not None and not self.choice:
            raise ValueError("'choice' needs at least one value")
        return self

    def draw(self, rng: random.Random, names: Mapping[str, Any]) -> Any:
        """A value; ``same_as`` and ``param`` are resolved by the caller (None here)."""
        if self.value is not None:
            v = self.value
            return v.format_map(_Names(names)) if isinstance(v, str) and "{" in v else v
        if self.choice is not None:
            return pick(self.choice, rng)
        if self.probability is not None:
            return rng.random() < self.probability
        if self.money is not None:
            step = self.round
            amount = Decimal(str(drawn_amount(self.money, rng)))
            units = max(Decimal(1), (amount / step).quantize(Decimal(1)))
            return units * step
        if self.number is not None:
            drawn = self.number.draw(rng, float)  # (a log-normal's far tail is cut at the bound)
            n = Decimal(str(max(-NUMBER_LIMIT, min(drawn, NUMBER_LIMIT))))
            return int(n.quantize(Decimal(1))) if self.places == 0 else round(n, self.places)
        return None


class _Names(dict[str, Any]):
    """Placeholders of a constant string; an unknown ``{name}`` stays as written."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"


# --------------------------------------------------------------------------- time of day

_RANGE = re.compile(r"^\s*(\d{1,2})\s*-\s*(\d{1,2})\s*$")

#: A window of local hours ``[start, end)`` and its weight.
HourWindow = tuple[int, int, float]


def _hours(raw: Any) -> Any:
    """``[8, 22]`` (one window) or ``{"8-12": 2, "18-22": 3}`` (windows by weight)."""
    if isinstance(raw, list | tuple):
        if len(raw) != 2 or not all(isinstance(h, int) and not isinstance(h, bool) for h in raw):
            raise ValueError("hours are [from, to), e.g. [8, 22], or {'8-12': 2, '18-22': 3}")
        pairs = [(raw[0], raw[1], 1.0)]
    elif isinstance(raw, Mapping):
        pairs = []
        for key, weight in raw.items():
            m = _RANGE.match(str(key))
            if m is None:
                raise ValueError(f"'{key}' is not a range of hours; write e.g. '8-12'")
            if isinstance(weight, bool) or not isinstance(weight, int | float) or weight <= 0:
                raise ValueError(f"the weight of '{key}' must be a number above 0")
            pairs.append((int(m[1]), int(m[2]), float(weight)))
        if not pairs:
            raise ValueError("give at least one range of hours")
    else:
        return raw
    for start, end, _ in pairs:
        if not 0 <= start < end <= 24:
            raise ValueError(f"the hours {start}-{end} are not a window [from, to) within 0-24")
    return tuple(pairs)


#: What a behaviour file writes: ``[from, to)`` or weighted ranges (``{"8-12": 2}``).
_HOURS_SCHEMA: dict[str, Any] = {
    "anyOf": [
        {
            "type": "array",
            "items": {"type": "integer", "minimum": 0, "maximum": 24},
            "minItems": 2,
            "maxItems": 2,
        },
        {
            "type": "object",
            "propertyNames": {"pattern": "^[0-9]{1,2}-[0-9]{1,2}$"},
            "additionalProperties": {"type": "number", "minimum": 0},
        },
    ]
}
Hours = Annotated[
    tuple[tuple[int, int, float], ...],
    BeforeValidator(_hours),
    WithJsonSchema(_HOURS_SCHEMA, mode="validation"),
]


def draw_hour(windows: tuple[HourWindow, ...], rng: random.Random) -> int:
    """Seconds after local midnight, to the minute, inside a window chosen by weight."""
    if len(windows) == 1:
        start, end, _ = windows[0]
    else:
        start, end, _ = windows[int(pick({str(i): w[2] for i, w in enumerate(windows)}, rng))]
    return rng.randrange(start * 3600, end * 3600, 60)


# --------------------------------------------------------------------------- events


class Arrival(_Model):
    """Once per customer, on one of the first ``days`` days of the run (at most ten years)."""

    days: Days = 1


class History(_Model):
    """Events before the start: how likely, how many, and how long before the start (never
    before the event named in ``after``, which must have history too)."""

    probability: Probability = 1.0
    count: Dist[Count] = Field(default_factory=lambda: Dist[Count](fixed=1))
    ago: Dist[Duration]


class Variant(_Model):
    """One alternative of an event's fields (e.g. a merchant with its category and amounts)."""

    weight: Weight = 1.0
    data: dict[str, FieldSpec] = Field(default_factory=dict)


class EventModel(_Model):
    """How one event type arises and how its fields are drawn (docs/simulate.md)."""

    start: Arrival | None = None
    after: str | None = None
    delay: Dist[Duration] | None = None
    probability: Probability = 1.0
    daily: Probability | None = None
    hours: Hours | None = None
    history: History | None = None
    when: dict[str, str | bool | int] = Field(default_factory=dict)
    unless: list[str] = Field(default_factory=list)
    limit: Annotated[int, Field(ge=1)] | None = None
    data: dict[str, FieldSpec] = Field(default_factory=dict)
    variants: list[Variant] = Field(default_factory=list)
    favourite: Probability = 0.0

    @model_validator(mode="after")
    def _process(self) -> EventModel:
        if self.start is not None and (self.after is not None or self.daily is not None):
            raise ValueError("'start' is an arrival on its own: give no 'after' or 'daily' with it")
        if self.delay is not None and (self.after is None or self.daily is not None):
            raise ValueError("'delay' is measured from the 'after' event (without 'daily')")
        if self.after is not None and self.daily is None and self.delay is None:
            raise ValueError("an event 'after' another needs a 'delay' (or a 'daily' rate)")
        if self.favourite and not self.variants:
            raise ValueError("'favourite' picks one of the 'variants': give some")
        return self


class Patch(_Model):
    """A segment's changes to an event: any field of an event entry but ``data``."""

    probability: Probability | None = None
    daily: Probability | None = None
    delay: Dist[Duration] | None = None
    hours: Hours | None = None
    favourite: Probability | None = None
    limit: Annotated[int, Field(ge=1)] | None = None


# --------------------------------------------------------------------------- reactions

Step = Literal["delivered", "opened", "clicked"]


def _default_delay() -> Dist[timedelta]:
    return Dist[Duration](lognormal=LogNormal[Duration](median=timedelta(hours=2), spread=1.0))


class Reaction(_Model):
    """An open or a click: ``probability`` given that step ``after`` happened, ``delay`` after
    it."""

    probability: Probability
    delay: Dist[Duration] = Field(default_factory=_default_delay)
    after: Step | None = None


class Conversion(_Model):
    """An event a message leads to (any event of the catalog), after a step of the message;
    ``data`` adds to or replaces the event entry's fields."""

    event: str
    probability: Probability
    delay: Dist[Duration] = Field(default_factory=_default_delay)
    after: Step = "delivered"
    data: dict[str, FieldSpec] = Field(default_factory=dict)


class ReactionRule(_Model):
    """How customers answer messages of a template and/or channel (the most specific rule
    applies: template and channel, template, channel, neither)."""

    template: str | None = None
    channel: Channel | None = None
    open: Reaction | None = None
    click: Reaction | None = None
    events: list[Conversion] = Field(default_factory=list)

    @model_validator(mode="after")
    def _steps(self) -> ReactionRule:
        if self.open is not None and self.open.after not in (None, "delivered"):
            raise ValueError("'open' can only follow delivery")
        if self.click is not None and self.click.after not in (None, "opened", "delivered"):
            raise ValueError("'click' can follow delivery or the open, not itself")
        return self


def _unique(rules: list[ReactionRule], where: str) -> None:
    seen: dict[tuple[str | None, str | None], int] = {}
    for i, rule in enumerate(rules):
        key = (rule.template, rule.channel)
        if key in seen:
            raise ValueError(f"{where}[{i}] repeats the template/channel of {where}[{seen[key]}]")
        seen[key] = i


def most_specific(rules: list[ReactionRule], template: str, channel: str) -> ReactionRule | None:
    """The rule for a message among ``rules``."""
    for key in ((template, channel), (template, None), (None, channel), (None, None)):
        for rule in rules:
            if (rule.template, rule.channel) == key:
                return rule
    return None


# --------------------------------------------------------------------------- profiles and segments


class Profiles(_Model):
    """The profile mix: consent per channel, time zones by weight, and each attribute of the
    attribute catalog drawn like an event field (``has_digital_app: {probability: 0.55}``)."""

    consent: dict[Channel, Probability] = Field(default_factory=dict)
    timezones: dict[TimeZone, Weight] = Field(default_factory=lambda: {DEFAULT_TIMEZONE: 1.0})
    attributes: dict[str, FieldSpec] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _zones(self) -> Profiles:
        if not self.timezones:
            raise ValueError("'timezones' needs at least one time zone")
        return self


class Segment(_Model):
    """A group of customers (``share``, relative to the other segments) with its own profile
    attributes and consent, changes to events, and reaction rules tried before the file's."""

    name: str
    share: Weight
    attributes: dict[str, FieldSpec] = Field(default_factory=dict)
    consent: dict[Channel, Probability] = Field(default_factory=dict)
    events: dict[str, Patch] = Field(default_factory=dict)
    reactions: list[ReactionRule] = Field(default_factory=list)

    @model_validator(mode="after")
    def _rules(self) -> Segment:
        _unique(self.reactions, "reactions")
        return self


class GeneralBehaviour(_Model):
    """A behaviour file in the general form."""

    start: Annotated[datetime, BeforeValidator(_start)] = datetime.fromisoformat(
        "2026-01-05T00:00:00+07:00"
    )
    customer_prefix: str = "c-"
    hours: Hours = ((8, 22, 1.0),)
    profiles: Profiles = Field(default_factory=Profiles)
    segments: list[Segment] = Field(default_factory=list)
    events: dict[str, EventModel]
    reactions: list[ReactionRule] = Field(default_factory=list)
    channels: dict[Channel, ChannelModel] = Field(default_factory=dict)
    decisions: dict[str, DecisionModel] = Field(default_factory=dict)  # decide steps

    @model_validator(mode="after")
    def _checks(self) -> GeneralBehaviour:
        _unique(self.reactions, "reactions")
        names = [s.name for s in self.segments]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"two segments are named '{name}'")
        return self

    def rule(self, segment: int, template: str, channel: str) -> ReactionRule | None:
        """The reaction rule for a message to a customer of ``segment`` (an index, -1: none)."""
        if segment >= 0:
            found = most_specific(self.segments[segment].reactions, template, channel)
            if found is not None:
                return found
        return most_specific(self.reactions, template, channel)


Loc = tuple[str | int, ...]


def references(model: GeneralBehaviour, doc: YamlDocument) -> list[FileError]:
    """Mistakes between entries, each at its line: an ``after``/``unless``/``same_as``/reaction
    event or a segment's event that no entry describes, a ``same_as`` field the entry does not
    draw, an ``after`` chain that loops."""
    found: list[FileError] = []
    events = model.events

    def known(name: str, loc: Loc, what: str) -> None:
        if name not in events:
            from journeydsl.diagnostics import did_you_mean

            hint = did_you_mean(name, events)
            found.append(
                doc.error(
                    loc,
                    f"{what} '{name}' is not described under 'events'"
                    + (f" — {hint}" if hint else ""),
                )
            )

    def fields(data: Mapping[str, FieldSpec], loc: Loc) -> None:
        for fname, spec in data.items():
            if spec.same_as is None:
                continue
            etype, field = spec.same_as.split(".")
            if etype not in events:
                known(etype, (*loc, fname, "same_as"), "event")
            elif not _draws(events[etype], field):
                found.append(
                    doc.error(
                        (*loc, fname, "same_as"),
                        f"the entry of '{etype}' draws no field '{field}'",
                    )
                )

    for name, e in events.items():
        if e.after is not None:
            known(e.after, ("events", name, "after"), "event")
        for i, other in enumerate(e.unless):
            known(other, ("events", name, "unless", i), "event")
        fields(e.data, ("events", name, "data"))
        for i, v in enumerate(e.variants):
            fields(v.data, ("events", name, "variants", i, "data"))
        if _loops(events, name):
            found.append(doc.error(("events", name, "after"), f"'{name}' comes after itself"))
    for where, rules in [
        (("reactions",), model.reactions),
        *((("segments", i, "reactions"), s.reactions) for i, s in enumerate(model.segments)),
    ]:
        for i, rule in enumerate(rules):
            found.extend(_dead_steps(rule, (*where, i), doc))
            for j, conv in enumerate(rule.events):
                known(conv.event, (*where, i, "events", j, "event"), "event")
                fields(conv.data, (*where, i, "events", j, "data"))
    for i, seg in enumerate(model.segments):
        for name in seg.events:
            known(name, ("segments", i, "events", name), "event")
    attributes: list[tuple[Loc, Mapping[str, FieldSpec]]] = [
        (("profiles", "attributes"), model.profiles.attributes)
    ]
    attributes += [
        (("segments", i, "attributes"), s.attributes) for i, s in enumerate(model.segments)
    ]
    found.extend(_unmet_when(model, attributes, doc))
    for where, specs in attributes:
        for name, spec in specs.items():
            if spec.same_as is not None or spec.param is not None:
                found.append(
                    doc.error(
                        (*where, name),
                        "a profile attribute is drawn before any event or message: "
                        "'same_as' and 'param' are for event fields",
                    )
                )
    return found


def _unmet_when(
    model: GeneralBehaviour,
    attributes: list[tuple[Loc, Mapping[str, FieldSpec]]],
    doc: YamlDocument,
) -> list[FileError]:
    """An event's ``when`` that no customer can meet: an attribute no profile draws, or a value
    none of its draws gives (a choice, a constant or a probability), so it would never happen."""
    from journeydsl.diagnostics import did_you_mean

    drawn: dict[str, list[FieldSpec]] = {}
    for _, specs in attributes:
        for name, spec in specs.items():
            drawn.setdefault(name, []).append(spec)
    found: list[FileError] = []
    for event, e in model.events.items():
        for key, wanted in e.when.items():
            loc: Loc = ("events", event, "when", key)
            if key not in drawn:
                hint = did_you_mean(key, drawn)
                found.append(
                    doc.error(
                        loc,
                        f"'when' names the attribute '{key}', which no profile draws (under "
                        f"'profiles: attributes:' or a segment's): '{event}' would never happen"
                        + (f" — {hint}" if hint else ""),
                        key=True,
                    )
                )
                continue
            values: set[object] = set()
            for spec in drawn[key]:
                if spec.choice is not None:
                    values.update(spec.choice)
                elif spec.probability is not None:
                    values.update((True, False))
                elif spec.value is not None:
                    values.add(spec.value)
                else:  # (an amount or a number: any value may come)
                    break
            else:
                if wanted not in values:
                    shown = ", ".join(sorted(map(str, values)))
                    hint = did_you_mean(str(wanted), map(str, values))
                    found.append(
                        doc.error(
                            loc,
                            f"no profile draws {key} = {wanted!r} (it is one of {shown}): "
                            f"'{event}' would never happen" + (f" — {hint}" if hint else ""),
                        )
                    )
    return found


def _dead_steps(rule: ReactionRule, loc: Loc, doc: YamlDocument) -> list[FileError]:
    """A click or an event of ``rule`` that follows a step the rule never makes (an open
    without ``open:``, a click without ``click:``), so it would never happen."""
    found: list[FileError] = []
    made = {"delivered"} | ({"opened"} if rule.open is not None else set())
    if rule.click is not None:
        follows = rule.click.after or "opened"
        if follows in made:
            made.add("clicked")
        else:
            found.append(
                doc.error(
                    (*loc, "click"),
                    "'click' follows the open, and this rule has no 'open': no customer would "
                    "click (give 'open', or 'after: delivered')",
                )
            )
    for j, conv in enumerate(rule.events):
        step = "click" if conv.after == "clicked" else "open"
        if conv.after not in made and getattr(rule, step) is None:  # (a dead click: said above)
            found.append(
                doc.error(
                    (*loc, "events", j, "after"),
                    f"'{conv.event}' comes after the message is {conv.after}, and this rule "
                    f"has no {step}: it would never happen (give the rule '{step}', or "
                    "another 'after')",
                )
            )
    return found


def _draws(e: EventModel, field: str) -> bool:
    return field in e.data or any(field in v.data for v in e.variants)


def _loops(events: Mapping[str, EventModel], name: str) -> bool:
    seen = {name}
    step = events[name].after
    while step is not None and step in events:
        if step in seen:
            return step == name
        seen.add(step)
        step = events[step].after
    return False


def patched(e: EventModel, patch: Patch | None) -> EventModel:
    """``e`` with a segment's changes."""
    if patch is None:
        return e
    return e.model_copy(update={k: getattr(patch, k) for k in patch.model_fields_set})
