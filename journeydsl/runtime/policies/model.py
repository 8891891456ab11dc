"""The policy file's model (``policies.yaml``), validated with pydantic.

A policy file holds the contact policies every journey an engine runs is subject to: consent and
the do-not-contact list, quiet hours, frequency caps across journeys, channel reachability, the
global holdout, message labels, and what counts as marketing content. ``extends`` builds on a
built-in profile (``vn_decree_91``) or another file; ``journeys`` overrides parts per journey.

Overlaying (``extends`` and per-journey overrides) follows one rule: a section written in the
upper layer replaces the same fields of the lower one, except the rule lists (``quiet_hours``,
``send_windows``, ``frequency_caps``, ``labels``), which merge by rule ``name`` (a rule with the
name of an inherited rule replaces it, others are added), and ``disable``, which switches inherited
rules off by name.
docs/policies.md documents every field.
"""

from __future__ import annotations

import re
import string
from collections.abc import Iterable
from datetime import time, timedelta
from typing import Annotated, Any, Final, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
)

from journeydsl.calendars import DAY_NAMES, weekdays
from journeydsl.durations import parse_duration
from journeydsl.zones import zone_problem

__all__ = [
    "ALL_CHANNELS",
    "MAX_DO_NOT_CONTACT_BYTES",
    "RULE_SECTIONS",
    "Category",
    "Channel",
    "Consent",
    "DoNotContact",
    "EntryRate",
    "FrequencyCap",
    "Holdout",
    "Label",
    "MarketingContent",
    "Policies",
    "PolicySet",
    "QuietHours",
    "Reach",
    "SendWindow",
    "Throughput",
    "TicketQueue",
    "default_reachability",
    "overlay",
    "rule_names",
]

Channel = Literal["email", "sms", "zns", "push", "inapp"]
Category = Literal["marketing", "transactional"]
ALL_CHANNELS: tuple[Channel, ...] = ("email", "sms", "zns", "push", "inapp")

#: The largest do-not-contact file read (64 MiB, some five million phone numbers). A larger one is
#: refused when the policies are loaded, and withholds marketing (fails closed) if it grows past
#: the limit later: the bound keeps a wrong path (``/dev/zero``, a log file) from filling memory.
MAX_DO_NOT_CONTACT_BYTES: Final = 64 << 20

#: The sections that hold named rules; they merge by name when policies are overlaid.
RULE_SECTIONS = ("quiet_hours", "send_windows", "frequency_caps", "labels")

_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
#: A phone number as a do-not-contact list gives it: digits (at least 7), spaces, dots, dashes
#: and brackets, after an optional ``+``.
_PHONE_NUMBER = re.compile(r"^\+?[ .()-]*(?:\d[ .()-]*){7,}$")


def _time_of_day(raw: Any) -> Any:
    """``"22:00"``; also the integer YAML 1.1 makes of an unquoted ``22:00`` (minutes, base 60)."""
    if isinstance(raw, time):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw < 24 * 60:
        return time(*divmod(raw, 60))
    if isinstance(raw, str) and (m := _CLOCK.match(raw.strip())):
        return time(int(m.group(1)), int(m.group(2)))
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 0:
        raw = "{}:{:02}".format(*divmod(raw, 60))  # (as written: YAML read `25:00` as 1500)
    raise ValueError(f'{raw!r} is not a time of day; write it as HH:MM, e.g. "22:00"')


def _duration(raw: Any) -> Any:
    """``"24h"``, ``"7d"``, ``"1w"``, ``"1d12h"``; at most
    :data:`~journeydsl.durations.MAX_FILE_DURATION` (ten years)."""
    if isinstance(raw, timedelta):
        return raw
    example = "24h, 7d, 1w or 1d12h"
    if not isinstance(raw, str):
        raise ValueError(f"{raw!r} is not a duration; write e.g. {example}")
    return parse_duration(raw, example=example)


def _timezone(raw: Any) -> Any:
    """An IANA time zone name (``Asia/Ho_Chi_Minh``); an unknown one is refused, not replaced
    by the default zone at run time."""
    if isinstance(raw, str) and (problem := zone_problem(raw)) is not None:
        raise ValueError(problem)
    return raw


def _tuple(raw: Any) -> Any:
    """A single name where a list is expected: ``channels: sms`` is ``channels: [sms]``."""
    return (raw,) if isinstance(raw, str) else raw


def _days(raw: Any) -> Any:
    """``weekday``, ``[mon, wed]``: the ISO weekdays (Monday = 1) day names stand for."""
    names = (raw,) if isinstance(raw, str) else raw
    if not isinstance(names, list | tuple) or not names:
        raise ValueError("write day names: mon … sun (or full names), weekday or weekend")
    unknown = [n for n in names if not isinstance(n, str) or n.lower() not in DAY_NAMES]
    if unknown:
        raise ValueError(
            f"{unknown[0]!r} is not a day; write mon … sun (or full names), weekday or weekend"
        )
    return weekdays(names)


TimeOfDay = Annotated[time, BeforeValidator(_time_of_day)]
Days = Annotated[frozenset[int], BeforeValidator(_days)]
Duration = Annotated[timedelta, BeforeValidator(_duration)]
TimeZone = Annotated[str, BeforeValidator(_timezone)]


def _some(what: str) -> Any:
    """A list that must name at least one ``what``: an empty one would make its rule apply to
    nothing (a do-not-contact list that holds back no category) without a word."""

    def check(names: tuple[str, ...]) -> tuple[str, ...]:
        if not names:
            raise ValueError(
                f"an empty list of {what} makes the rule apply to nothing: name at least one, "
                "or leave the field out for its default"
            )
        return names

    return AfterValidator(check)


Channels = Annotated[tuple[Channel, ...], BeforeValidator(_tuple), _some("channels")]
Categories = Annotated[tuple[Category, ...], BeforeValidator(_tuple), _some("categories")]
Names = Annotated[tuple[str, ...], BeforeValidator(_tuple)]


def _phone_number(phone: str) -> str:
    """A listed phone number: digits (a text without them would match every profile whose
    phone has none, "n/a")."""
    if not _PHONE_NUMBER.match(phone.strip()):
        raise ValueError(
            f"{phone!r} is not a phone number: write its digits, e.g. '+84 912 345 678' or "
            "'0912345678'"
        )
    return phone


Phones = Annotated[
    tuple[Annotated[str, AfterValidator(_phone_number)], ...], BeforeValidator(_tuple)
]
Share = Annotated[float, Field(ge=0, le=1)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class QuietHours(_Strict):
    """Local times (the customer's own time zone) when ``channels`` stay quiet for
    ``categories``. A message due inside is deferred to the end (``defer``) or dropped."""

    name: str | None = None
    channels: Channels = ALL_CHANNELS
    categories: Categories = ("marketing",)
    start: TimeOfDay = Field(alias="from")
    end: TimeOfDay = Field(alias="to")
    action: Literal["defer", "drop"] = "defer"
    #: A profile consent key (or boolean attribute) that, when true, lifts the rule: the
    #: customer agreed to messages at these times.
    waived_by: str | None = None
    source: str | None = None

    @field_validator("end")
    @classmethod
    def _not_empty(cls, end: time, info: Any) -> time:
        if info.data.get("start") == end:
            raise ValueError("'from' and 'to' are the same time: the range would be empty")
        return end


class SendWindow(_Strict):
    """Days and local times (the customer's own time zone) when ``channels`` may send
    ``categories``: a window opens at ``from`` on each of ``days`` and closes at ``to`` (the next
    day when ``to`` is not after ``from``). A message due outside waits for the next opening
    (``defer``) or is dropped."""

    name: str | None = None
    channels: Channels = ALL_CHANNELS
    categories: Categories = ("marketing",)
    days: Days
    start: TimeOfDay = Field(alias="from")
    end: TimeOfDay = Field(alias="to")
    action: Literal["defer", "drop"] = "defer"
    #: A profile consent key (or boolean attribute) that, when true, lifts the rule.
    waived_by: str | None = None
    source: str | None = None


class FrequencyCap(_Strict):
    """At most ``max`` messages on ``channels`` of ``categories`` to one customer within any
    rolling ``window``, across every journey. The message over the cap is deferred until the
    window has room (``defer``) or dropped."""

    name: str | None = None
    channels: Channels = ALL_CHANNELS
    categories: Categories = ("marketing",)
    max: int = Field(ge=1)
    window: Duration
    action: Literal["defer", "drop"] = "defer"
    #: A profile consent key (or boolean attribute) that, when true, lifts the cap: the customer
    #: agreed to more messages.
    waived_by: str | None = None
    #: The journeys (ids) whose messages the cap counts and holds, e.g. one campaign's; None:
    #: every journey's.
    journeys: tuple[str, ...] | None = Field(default=None, min_length=1)
    #: The message tags (``send … tags [lapsed]``) whose messages the cap counts and holds: a
    #: message with any of them; None: every message.
    tags: tuple[str, ...] | None = Field(default=None, min_length=1)
    #: Arbitration between journeys: the messages the cap holds wait for the end of their slot
    #: of this length (slots are aligned to midnight UTC), so that every message wanting the
    #: customer in one slot is decided together, the highest journey ``priority`` first; the
    #: others are deferred or dropped by ``action``. None: first come, first served.
    arbitration: Duration | None = None
    source: str | None = None

    def counts(self, journey_id: str, tags: Iterable[str] = ()) -> bool:
        """Whether the cap counts (and holds) a message of ``journey_id`` tagged ``tags``."""
        if self.journeys is not None and journey_id not in self.journeys:
            return False
        return self.tags is None or any(t in self.tags for t in tags)

    @field_validator("window")
    @classmethod
    def _positive(cls, window: timedelta) -> timedelta:
        if window <= timedelta(0):
            raise ValueError("a cap's window must be longer than zero")
        return window

    @field_validator("arbitration")
    @classmethod
    def _slot(cls, slot: timedelta | None) -> timedelta | None:
        if slot is not None and (slot <= timedelta(0) or timedelta(days=1) % slot):
            raise ValueError(
                "an arbitration slot is longer than zero and divides a day, e.g. 1m, 5m or 1h"
            )
        return slot


# ---------------------------------------------------------------- throughput (channel capacity)


class Throughput(_Strict):
    """At most ``max`` messages on ``channels`` (together) of ``categories`` within any rolling
    ``per``, over every customer and journey: what a gateway accepts (an SMS brandname gateway's
    messages per second, a ZNS account's daily quota). A message over the limit is not dropped:
    it waits for its turn (it is deferred to the first time the limit has room for it)."""

    name: str | None = None
    channels: Channels = ALL_CHANNELS
    categories: Categories = ("marketing", "transactional")
    max: int = Field(ge=1)
    per: Duration
    source: str | None = None

    def counts(self, channel: str, category: str) -> bool:
        """Whether the limit counts (and holds) a message on ``channel`` of ``category``."""
        return channel in self.channels and category in self.categories

    @field_validator("per")
    @classmethod
    def _positive(cls, per: timedelta) -> timedelta:
        if per <= timedelta(0):
            raise ValueError("a throughput limit's 'per' must be longer than zero")
        return per


class EntryRate(_Strict):
    """At most ``max`` customers enter the segment journey ``journey`` in each ``per``; the
    others selected by its segment wait for later slots, in a deterministic order (the order of
    their selection: by customer id within an evaluation, earlier evaluations first)."""

    journey: str = Field(min_length=1)
    max: int = Field(ge=1)
    per: Duration
    source: str | None = None

    @field_validator("per")
    @classmethod
    def _positive(cls, per: timedelta) -> timedelta:
        if per <= timedelta(0):
            raise ValueError("an entry rate's 'per' must be longer than zero")
        return per


class TicketQueue(_Strict):
    """A ticket queue's daily capacity (a telesales team's calls a day): each day at ``at``
    (local time in ``timezone``) the queue receives the best-ranked tickets made before, up to
    ``capacity``, in rank order. ``rank`` names a field of the ticket's payload (a number or an
    amount of money; higher first, a ticket without it last), ties broken by priority (urgent
    first), then by age (oldest first), then by key; without ``rank``, by priority. The rest wait
    for the next day, ranked again with the new ones (``overflow: next_day``; dropped once they
    waited ``max_age``, when given), or are dropped at once (``overflow: drop``), with the reason
    ``queue_full``. ``max_open`` caps the tickets open at once: a release accepts no more than
    the room left, and a ticket stays open until a ``ticket_closed`` event names it (its
    ``ticket_id`` is the ticket's idempotency key)."""

    queue: str = Field(min_length=1)
    capacity: int = Field(ge=0)
    at: TimeOfDay = time(8, 0)
    timezone: TimeZone = "Asia/Ho_Chi_Minh"
    rank: str | None = None
    overflow: Literal["next_day", "drop"] = "next_day"
    max_age: Duration | None = None
    max_open: int | None = Field(default=None, ge=1)
    source: str | None = None


class Label(_Strict):
    """Text a message must start with, e.g. ``[QC]`` on marketing SMS. The runtime hands it to
    the channel (``Message.label``); ``check`` verifies the catalog's template text has it."""

    name: str | None = None
    channels: Channels = ALL_CHANNELS
    categories: Categories = ("marketing",)
    prefix: str = Field(min_length=1)
    source: str | None = None


class Reach(_Strict):
    """What makes a channel able to reach a customer: a profile attribute that is true (or
    non-empty), or an event since the customer entered the journey (e.g. ``app_installed``)."""

    attribute: str | None = None
    event: str | None = None
    #: A profile without the attribute: ``reachable`` (the gateway will tell, and a permanent
    #: failure falls back) or ``unreachable``.
    missing: Literal["reachable", "unreachable"] = "reachable"
    reason: str | None = None


def default_reachability() -> dict[Channel, Reach]:
    """Push needs the app (``has_digital_app``, or ``app_installed`` since entry); ZNS needs a
    phone with Zalo (``zalo_reachable``), SMS a phone (``phone``), both assumed when the profile
    does not say."""
    return {
        "push": Reach(
            attribute="has_digital_app",
            event="app_installed",
            missing="unreachable",
            reason="no app for push",
        ),
        "zns": Reach(attribute="zalo_reachable", reason="no Zalo account for zns"),
        "sms": Reach(attribute="phone", reason="no phone number for sms"),
    }


class Consent(_Strict):
    """Consent is read from the profile's ``consent`` map: the first of ``keys`` (with
    ``{channel}`` and ``{category}`` filled in) that the profile has decides."""

    keys: Names = ("{channel}.{category}", "{channel}")
    #: When the profile has none of the keys: no consent (``denied``), as the law requires for
    #: marketing, or ``granted``.
    missing: Literal["denied", "granted"] = "denied"
    #: The share of customers expected to consent to each channel (for ``check``).
    expected: dict[Channel, Share] = Field(default_factory=dict)
    #: A channel whose expected share is below this is "commonly absent": a send on it with no
    #: fallback is a warning (JD604).
    commonly_absent_below: Share = 0.5

    @field_validator("keys")
    @classmethod
    def _placeholders(cls, keys: tuple[str, ...]) -> tuple[str, ...]:
        for key in keys:
            try:
                fields = [f for _, f, _, _ in string.Formatter().parse(key) if f is not None]
            except ValueError as exc:
                raise ValueError(f"consent key {key!r}: {exc}") from None
            bad = [f for f in fields if f not in ("channel", "category")]
            if bad:
                raise ValueError(
                    f"consent key {key!r} uses {{{bad[0]}}}; only {{channel}} and {{category}} "
                    "are filled in"
                )
        if not keys:
            raise ValueError("give at least one consent key, e.g. '{channel}'")
        return keys


class DoNotContact(_Strict):
    """Customers who must not receive ``categories`` (by default marketing): listed by customer
    id or phone number, in a file (one id or number a line, ``#`` comments), or marked in the
    profile by an attribute or a tag.

    The list fails closed: while ``file`` cannot be read (gone, a directory, unreadable, not
    UTF-8 text, or a line that is not one id or number), every marketing message is withheld
    (reason ``do_not_contact_unavailable: FILE: PROBLEM``); it never reads as empty."""

    customers: Names = ()
    phones: Phones = ()
    file: str | None = None
    attribute: str | None = None
    tag: str | None = None
    #: The profile attribute holding the customer's phone number (matched against ``phones``).
    phone_attribute: str = "phone"
    categories: Categories = ("marketing",)
    #: Transactional messages while ``file`` cannot be read: delivered (``allow``: they are the
    #: service messages a bank owes its customers) or withheld like marketing (``block``).
    transactional_when_unavailable: Literal["allow", "block"] = "allow"


class Holdout(_Strict):
    """The global control group: ``percent`` of customers, chosen by a stable hash of their id
    and ``salt`` (not of the journey or its version), receive no ``categories`` messages. Their
    instances run, so reports compare their outcomes with everyone else's."""

    percent: float = Field(default=0, ge=0, le=100)
    salt: str = "journeydsl-holdout"
    categories: Categories = ("marketing",)

    @field_validator("percent")
    @classmethod
    def _two_decimals(cls, percent: float) -> float:
        # Customers fall in 10,000 buckets: a third decimal would be rounded without a word.
        if abs(percent * 100 - round(percent * 100)) > 1e-6:
            raise ValueError(
                f"{percent:g} has more than two decimals; the holdout is drawn in hundredths of "
                f"a percent: write e.g. {round(percent, 2):g}"
            )
        return percent


class MarketingContent(_Strict):
    """What counts as marketing content whatever the template's category says: template name
    patterns (``fnmatch``, e.g. ``*_offer``). A transactional send matching one is an error
    (JD605): it would bypass marketing consent, caps, quiet hours and the holdout."""

    templates: Names = ()


R = TypeVar("R", QuietHours, SendWindow, FrequencyCap, Label, Throughput)


def _unique(rules: tuple[R, ...], section: str) -> tuple[R, ...]:
    seen: set[str] = set()
    for rule in rules:
        if rule.name is not None:
            if rule.name in seen:
                raise ValueError(f"two {section} rules are named '{rule.name}'")
            seen.add(rule.name)
    return rules


class PolicySet(_Strict):
    """The policies themselves: the top level of a policy file, and each per-journey override."""

    consent: Consent = Field(default_factory=Consent)
    do_not_contact: DoNotContact = Field(default_factory=DoNotContact)
    quiet_hours: tuple[QuietHours, ...] = ()
    send_windows: tuple[SendWindow, ...] = ()
    frequency_caps: tuple[FrequencyCap, ...] = ()
    reachability: dict[Channel, Reach] = Field(default_factory=default_reachability)
    holdout: Holdout = Field(default_factory=Holdout)
    labels: tuple[Label, ...] = ()
    marketing_content: MarketingContent = Field(default_factory=MarketingContent)
    #: Names of inherited rules (from ``extends``, or the file's own for a journey) to switch off.
    disable: Names = ()
    #: The journey's priority when frequency caps arbitrate between journeys (``arbitration``):
    #: the higher goes first. Set per journey under ``journeys``; the top level sets the default.
    priority: int = 0

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_names(cls, rules: tuple[QuietHours, ...]) -> tuple[QuietHours, ...]:
        return _unique(rules, "quiet_hours")

    @field_validator("send_windows")
    @classmethod
    def _window_names(cls, rules: tuple[SendWindow, ...]) -> tuple[SendWindow, ...]:
        return _unique(rules, "send_windows")

    @field_validator("frequency_caps")
    @classmethod
    def _cap_names(cls, rules: tuple[FrequencyCap, ...]) -> tuple[FrequencyCap, ...]:
        return _unique(rules, "frequency_caps")

    @field_validator("labels")
    @classmethod
    def _label_names(cls, rules: tuple[Label, ...]) -> tuple[Label, ...]:
        return _unique(rules, "labels")


class Policies(PolicySet):
    """A policy file: the policies, what they extend, and per-journey overrides."""

    #: Channel throughput limits: global (every journey's messages share them), so a journey's
    #: override cannot have its own; they merge by name over ``extends`` like the rule lists.
    throughput: tuple[Throughput, ...] = ()

    #: Entry throttling of segment journeys, one rate per journey (global, like ``throughput``).
    entry_rates: tuple[EntryRate, ...] = ()

    #: Daily capacities of ticket queues, one per queue (global, like ``throughput``).
    queues: tuple[TicketQueue, ...] = ()

    @field_validator("queues")
    @classmethod
    def _one_per_queue(cls, queues: tuple[TicketQueue, ...]) -> tuple[TicketQueue, ...]:
        seen: set[str] = set()
        for queue in queues:
            if queue.queue in seen:
                raise ValueError(f"two queue rules name the queue '{queue.queue}'")
            seen.add(queue.queue)
        return queues

    @field_validator("entry_rates")
    @classmethod
    def _one_rate_per_journey(cls, rates: tuple[EntryRate, ...]) -> tuple[EntryRate, ...]:
        seen: set[str] = set()
        for rate in rates:
            if rate.journey in seen:
                raise ValueError(f"two entry rates name the journey '{rate.journey}'")
            seen.add(rate.journey)
        return rates

    @field_validator("throughput")
    @classmethod
    def _throughput_names(cls, rules: tuple[Throughput, ...]) -> tuple[Throughput, ...]:
        return _unique(rules, "throughput")

    #: Built-in profiles (``vn_decree_91``) or policy files (relative to this one), applied in
    #: order below this file.
    extends: Names = ()
    description: str | None = None
    journeys: dict[str, PolicySet] = Field(default_factory=dict)


def rule_names(
    section: str, rules: Iterable[QuietHours | SendWindow | FrequencyCap | Label | Throughput]
) -> list[str]:
    """Each rule's name: its own, or ``section[N]`` (1-based) for an unnamed one."""
    return [r.name or f"{section}[{i}]" for i, r in enumerate(rules, 1)]


S = TypeVar("S", bound=PolicySet)


def _merge_rules(base: tuple[Any, ...], top: tuple[Any, ...]) -> tuple[Any, ...]:
    out = list(base)
    index = {r.name: i for i, r in enumerate(out) if r.name is not None}
    for rule in top:
        if rule.name is not None and rule.name in index:
            out[index[rule.name]] = rule
        else:
            out.append(rule)
    return tuple(out)


def _overlay_fields(base: BaseModel, top: BaseModel) -> BaseModel:
    update: dict[str, Any] = {}
    for name in top.model_fields_set:
        value = getattr(top, name)
        old = getattr(base, name)
        update[name] = {**old, **value} if isinstance(value, dict) else value
    return base.model_copy(update=update)


def overlay(base: S, top: PolicySet) -> tuple[S, list[str]]:
    """``top`` written over ``base`` (see the module docstring), and the names in
    ``top.disable`` that matched no rule (the caller reports them)."""
    update: dict[str, Any] = {}
    for name in top.model_fields_set:
        if name in ("extends", "journeys", "disable", "description"):
            continue
        value = getattr(top, name)
        old = getattr(base, name)
        if name in RULE_SECTIONS or name == "throughput":
            update[name] = _merge_rules(old, value)
        elif name == "reachability":
            update[name] = {**old, **value}
        elif isinstance(value, BaseModel):
            update[name] = _overlay_fields(old, value)
        else:
            update[name] = value
    merged = base.model_copy(update=update)
    unknown: list[str] = []
    if top.disable:
        found: set[str] = set()
        sections: dict[str, Any] = {}
        for section in RULE_SECTIONS + (("throughput",) if isinstance(top, Policies) else ()):
            rules = getattr(merged, section)
            kept = tuple(r for r in rules if r.name not in top.disable)
            found |= {r.name for r in rules if r.name in top.disable}
            sections[section] = kept
        merged = merged.model_copy(update=sections)
        unknown = [n for n in top.disable if n not in found]
    return merged, unknown
