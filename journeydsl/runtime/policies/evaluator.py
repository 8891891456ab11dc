"""The policy engine: every contact policy, evaluated at send time, in one place.

:class:`~journeydsl.runtime.engine.Engine` asks it, for each delivery attempt of a message:
whether the message is withheld altogether (holdout, do-not-contact list), whether a channel of
the fallback chain can be used (consent, reachability), whether the message must wait or be
dropped on that channel (the journey's own quiet hours, the policies' quiet hours, frequency
caps over the durable contact history), and which label it carries. The answers are plain values;
the engine records each decision in the instance's decision log.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

from journeydsl import ir
from journeydsl.runtime.policies.model import (
    Consent,
    FrequencyCap,
    Policies,
    PolicySet,
    QuietHours,
    default_reachability,
    overlay,
    rule_names,
)
from journeydsl.runtime.protocols import Contact, Profile

__all__ = [
    "HOLDOUT_BUCKETS",
    "Miss",
    "PolicyEngine",
    "Verdict",
    "describe_window",
    "holdout_bucket",
    "normalise_phone",
    "quiet_end",
]

#: The global holdout hashes customers into this many buckets (so percentages may have two
#: decimals).
HOLDOUT_BUCKETS = 10_000


def holdout_bucket(salt: str, customer_id: str) -> int:
    """The customer's stable holdout bucket, 0 to :data:`HOLDOUT_BUCKETS` - 1: the same on
    every run, machine, journey and journey version."""
    digest = hashlib.sha256(f"{salt}\x1f{customer_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % HOLDOUT_BUCKETS


_NOT_DIGITS = re.compile(r"\D")


def normalise_phone(number: str) -> str:
    """A phone number as digits in national form: ``+84 912 345 678``, ``0084912345678`` and
    ``0912345678`` are all ``0912345678``."""
    digits = _NOT_DIGITS.sub("", number)
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    return digits


def quiet_end(start: time, end: time, local: datetime) -> datetime | None:
    """When the quiet range ``start``-``end`` (it may run past midnight) that ``local`` falls in
    ends, as a local time; None when ``local`` is outside it. ``start`` is inside, ``end`` is
    not."""
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day: date = local.date() if t < end else local.date() + timedelta(days=1)
    return datetime.combine(day, end, local.tzinfo)


@dataclass(frozen=True, slots=True)
class Verdict:
    """A message is ``deferred`` (until ``until``) or ``suppressed``, by ``policy`` (e.g.
    ``quiet_hours:vn91_marketing_sms_hours``), for ``reason``."""

    decision: Literal["deferred", "suppressed"]
    policy: str
    reason: str
    until: datetime | None = None
    #: Other policies that held the message at the same time (it waits for the latest).
    also: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Miss:
    """A channel of the chain cannot be used: the next one is tried."""

    policy: str
    reason: str


@dataclass(frozen=True, slots=True)
class _Rules:
    """One journey's effective policies, with rule names resolved."""

    policies: PolicySet
    quiet: tuple[tuple[str, QuietHours], ...]
    caps: tuple[tuple[str, FrequencyCap], ...]
    longest_window: timedelta


class PolicyEngine:
    """Evaluates :class:`~journeydsl.runtime.policies.model.Policies` at send time.

    ``PolicyEngine()`` (no policies) is the engine's behaviour without a policy file: consent per
    channel, push only with the app, the journeys' own quiet hours, nothing else.
    """

    def __init__(self, policies: Policies | None = None) -> None:
        self.configured = policies is not None
        self.policies = policies if policies is not None else _WITHOUT_POLICIES
        self._rules: dict[str, _Rules] = {}
        self._dnc_lists: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str]]] = {}

    # ------------------------------------------------------------------ resolution

    def rules(self, journey_id: str) -> _Rules:
        """The effective policies of ``journey_id`` (its override applied), cached."""
        found = self._rules.get(journey_id)
        if found is None:
            part = self.policies.journeys.get(journey_id)
            effective: PolicySet = (
                self.policies if part is None else overlay(self.policies, part)[0]
            )
            quiet = tuple(
                zip(
                    rule_names("quiet_hours", effective.quiet_hours),
                    effective.quiet_hours,
                    strict=True,
                )
            )
            caps = tuple(
                zip(
                    rule_names("frequency_caps", effective.frequency_caps),
                    effective.frequency_caps,
                    strict=True,
                )
            )
            longest = max((c.window for _, c in caps), default=timedelta(0))
            found = _Rules(effective, quiet, caps, longest)
            self._rules[journey_id] = found
        return found

    def history_horizon(self) -> timedelta | None:
        """How far back any frequency cap looks, over the top-level caps and every journey's
        override; None without caps (then nothing limits how long contacts matter)."""
        windows = [c.window for c in self.policies.frequency_caps]
        windows += [self.rules(j).longest_window for j in self.policies.journeys]
        longest = max(windows, default=timedelta(0))
        return longest if longest > timedelta(0) else None

    def _dnc(self, journey_id: str, policies: PolicySet) -> tuple[frozenset[str], frozenset[str]]:
        """The listed customer ids and phone numbers; a list file is read again when it changes,
        so a long-running engine follows the registry without a restart."""
        dnc = policies.do_not_contact
        entries = _read_list(Path(dnc.file)) if dnc.file is not None else ()
        found = self._dnc_lists.get(journey_id)
        if found is None or found[0] is not entries:
            customers = set(dnc.customers)
            phones = {normalise_phone(p) for p in dnc.phones}
            for entry in entries:
                if _looks_like_phone(entry):
                    phones.add(normalise_phone(entry))
                else:
                    customers.add(entry)
            found = (entries, frozenset(customers), frozenset(phones))
            self._dnc_lists[journey_id] = found
        return found[1], found[2]

    # ------------------------------------------------------------------ the message as a whole

    def in_holdout(self, customer_id: str, journey_id: str | None = None) -> bool:
        """Whether the customer is in the global holdout (as ``journey_id`` sees it: a journey
        override may change the percentage)."""
        holdout = (self.rules(journey_id).policies if journey_id else self.policies).holdout
        if holdout.percent <= 0:
            return False
        return holdout_bucket(holdout.salt, customer_id) < round(holdout.percent * 100)

    def withhold(
        self, journey_id: str, customer_id: str, category: str, profile: Profile
    ) -> Verdict | None:
        """A suppression that holds on every channel: the global holdout, the do-not-contact
        list."""
        policies = self.rules(journey_id).policies
        holdout = policies.holdout
        if category in holdout.categories and self.in_holdout(customer_id, journey_id):
            return Verdict(
                "suppressed",
                "holdout",
                f"global holdout: no {category} messages (control group, {holdout.percent:g}%)",
            )
        dnc = policies.do_not_contact
        if category not in dnc.categories:
            return None
        customers, phones = self._dnc(journey_id, policies)
        listed = customer_id in customers
        if not listed and phones:
            phone = profile.attributes.get(dnc.phone_attribute)
            listed = isinstance(phone, str) and normalise_phone(phone) in phones
        if not listed and dnc.attribute is not None:
            listed = profile.attributes.get(dnc.attribute) is True
        if not listed and dnc.tag is not None:
            listed = dnc.tag in profile.tags
        if listed:
            return Verdict(
                "suppressed", "do_not_contact", f"on the do-not-contact list ({category})"
            )
        return None

    # ------------------------------------------------------------------ one channel

    def unreachable(
        self,
        journey_id: str,
        channel: str,
        category: str,
        profile: Profile,
        since_entry: Callable[[str], bool],
    ) -> Miss | None:
        """Why ``channel`` cannot carry the message (no consent, not reachable), or None.
        ``since_entry(event)`` says whether the customer had ``event`` since entering."""
        policies = self.rules(journey_id).policies
        consent = policies.consent
        decided: bool | None = None
        used = ""
        for key in _consent_keys(consent.keys, channel, category):
            value = profile.consent.get(key)
            if value is not None:
                decided, used = bool(value), key
                break
        if decided is None:
            decided = consent.missing == "granted"
        if not decided:
            detail = "" if used in ("", channel) else f" ({used})"
            return Miss("consent", f"no {channel} consent{detail}")
        reach = policies.reachability.get(channel)  # type: ignore[call-overload]
        if reach is None:
            return None
        if reach.attribute is not None:
            value = profile.attributes.get(reach.attribute)
            ok = reach.missing == "reachable" if value is None else bool(value)
        else:
            ok = reach.event is None
        if not ok and reach.event is not None:
            ok = since_entry(reach.event)
        if ok:
            return None
        what = reach.attribute or reach.event
        return Miss("reachability", reach.reason or f"{channel} unreachable (no {what})")

    def hold(
        self,
        journey: ir.Journey | None,
        journey_id: str,
        channel: str,
        category: str,
        profile: Profile,
        local: datetime,
        contacts: Callable[[datetime], Sequence[Contact]],
    ) -> Verdict | None:
        """Whether the message must wait (or be dropped) on ``channel`` at ``local`` (the
        customer's local now): the journey's quiet hours, the policies' quiet hours and the
        frequency caps over ``contacts(since)``. A drop wins over a deferral; deferrals wait for
        the latest of their ends (the next attempt checks again)."""
        found: list[Verdict] = []
        if journey is not None:
            for q in journey.quiet_hours:
                if channel in q.channels and (end := quiet_end(q.start, q.end, local)):
                    reason = (
                        f"the journey's quiet hours {q.start:%H:%M}-{q.end:%H:%M} for {channel}"
                    )
                    found.append(Verdict("deferred", "journey_quiet_hours", reason, end))
        rules = self.rules(journey_id)
        for name, rule in rules.quiet:
            if channel not in rule.channels or category not in rule.categories:
                continue
            if _waived(profile, rule.waived_by):
                continue
            end = quiet_end(rule.start, rule.end, local)
            if end is None:
                continue
            reason = (
                f"quiet hours {rule.start:%H:%M}-{rule.end:%H:%M} for {category} {channel} ({name})"
            )
            found.append(_verdict(rule.action, f"quiet_hours:{name}", reason, end))
        applicable = [
            (name, cap)
            for name, cap in rules.caps
            if channel in cap.channels
            and category in cap.categories
            and not _waived(profile, cap.waived_by)
        ]
        if applicable:
            # Windows are spans of real time: in UTC, since arithmetic on a local time across a
            # daylight-saving change would be off by the change.
            now = local.astimezone(UTC)
            history = contacts(now - rules.longest_window)
            for name, cap in applicable:
                free = _cap_free_at(cap, history, now)
                free = free.astimezone(local.tzinfo) if free is not None else None
                if free is not None:
                    reason = (
                        f"frequency cap: at most {cap.max} {_cap_what(cap)} in "
                        f"{describe_window(cap.window)} ({name})"
                    )
                    found.append(_verdict(cap.action, f"frequency_cap:{name}", reason, free))
        if not found:
            return None
        drops = [v for v in found if v.decision == "suppressed"]
        if drops:
            return drops[0]
        latest = max(found, key=lambda v: v.until or local)
        others = tuple(v.policy for v in found if v is not latest)
        return replace(latest, also=others) if others else latest

    def label(self, journey_id: str, channel: str, category: str) -> str:
        """The label the message must start with on ``channel`` ("" for none)."""
        for rule in self.rules(journey_id).policies.labels:
            if channel in rule.channels and category in rule.categories:
                return rule.prefix
        return ""


#: The engine's behaviour without a policy file, exactly as before policies existed: consent is
#: the profile's ``consent[channel]``, and only push has a reachability rule (the app).
_WITHOUT_POLICIES = Policies(
    consent=Consent(keys=("{channel}",)),
    reachability={"push": default_reachability()["push"]},
)


def _verdict(action: str, policy: str, reason: str, until: datetime) -> Verdict:
    if action == "drop":
        return Verdict("suppressed", policy, reason)
    return Verdict("deferred", policy, reason, until)


def _waived(profile: Profile, key: str | None) -> bool:
    if key is None:
        return False
    return profile.consent.get(key) is True or profile.attributes.get(key) is True


def _cap_free_at(cap: FrequencyCap, history: Iterable[Contact], now: datetime) -> datetime | None:
    """None when the cap has room at ``now`` (UTC); otherwise the first instant it has room
    again."""
    since = now - cap.window
    hits = sorted(
        at
        for c in history
        if (at := c.at.astimezone(UTC)) > since
        and c.channel in cap.channels
        and c.category in cap.categories
    )
    if len(hits) < cap.max:
        return None
    return hits[len(hits) - cap.max] + cap.window


def _cap_what(cap: FrequencyCap) -> str:
    categories = "/".join(cap.categories)
    channels = "/".join(cap.channels) if len(cap.channels) < 5 else "any channel"
    return f"{categories} messages on {channels}"


def describe_window(window: timedelta) -> str:
    """``24h``, ``7d``, ``90m``: a window as policy files write it."""
    seconds = int(window.total_seconds())
    if seconds % 86400 == 0 and seconds >= 2 * 86400:
        return f"{seconds // 86400}d"
    for unit, size in (("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


_PHONE = re.compile(r"^\+?[\d .()-]{7,}$")


def _looks_like_phone(entry: str) -> bool:
    return bool(_PHONE.match(entry))


@lru_cache(maxsize=1024)
def _consent_keys(patterns: tuple[str, ...], channel: str, category: str) -> tuple[str, ...]:
    """The consent keys to look up for one channel and category, in order (formatted once:
    ``str.format`` per delivery attempt was 6 % of a simulation)."""
    return tuple(p.format(channel=channel, category=category) for p in patterns)


@lru_cache(maxsize=16)
def _read_list_cached(path: str, mtime: float) -> tuple[str, ...]:
    out: list[str] = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            entry = line.split("#", 1)[0].strip()
            if entry:
                out.append(entry)
    return tuple(out)


def _read_list(path: Path) -> tuple[str, ...]:
    """The entries of a do-not-contact file (one a line, ``#`` comments, blank lines skipped)."""
    try:
        mtime = path.stat().st_mtime
    except OSError:
        return ()
    return _read_list_cached(str(path), mtime)
