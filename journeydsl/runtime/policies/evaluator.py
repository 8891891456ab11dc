"""The policy engine: every contact policy, evaluated at send time, in one place.

:class:`~journeydsl.runtime.engine.Engine` asks it, for each delivery attempt of a message:
whether the message is withheld altogether (holdout, do-not-contact list), whether a channel of
the fallback chain can be used (consent, reachability), whether the message must wait or be
dropped on that channel (the journey's own quiet hours, the policies' quiet hours, frequency
caps over the durable contact history), and which label it carries. The answers are plain values;
the engine records each decision in the instance's decision log.

A do-not-contact file that cannot be read fails closed: marketing is withheld, with the reason
``do_not_contact_unavailable: FILE: PROBLEM``, and an error is logged (``structlog``, logger
``journeydsl``), until the file can be read again.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Literal

import structlog

from journeydsl import ir
from journeydsl.calendars import describe_days, local_instant, window_opens
from journeydsl.runtime.policies.dnc_lists import UnreadableListError, read_list
from journeydsl.runtime.policies.model import (
    Consent,
    FrequencyCap,
    Policies,
    PolicySet,
    QuietHours,
    SendWindow,
    default_reachability,
    overlay,
    rule_names,
)
from journeydsl.runtime.protocols import Contact, Profile

_log = structlog.get_logger("journeydsl")

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
    """A phone number as digits in national form: ``+84 912 345 678``, ``0084912345678``,
    ``0912345678`` and ``912345678`` (the leading 0 lost by an export) are all
    ``0912345678``."""
    digits = _NOT_DIGITS.sub("", number)
    if digits.startswith("0084"):
        digits = "0" + digits[4:]
    elif digits.startswith("84") and len(digits) >= 11:
        digits = "0" + digits[2:]
    elif len(digits) in (9, 10) and not digits.startswith("0"):
        # A spreadsheet or CSV export makes 0912345678 the number 912345678.
        digits = "0" + digits
    return digits


def quiet_end(start: time, end: time, local: datetime) -> datetime | None:
    """When the quiet range ``start``-``end`` (it may run past midnight) that ``local`` falls in
    ends, as a local time; None when ``local`` is outside it. ``start`` is inside, ``end`` is
    not. An end the clock skips (02:30 on a spring-forward night) is read as the calendar
    rules read it (03:30), with the offset in force then: never a local time that does not
    exist, which a report would print and a send window would misread. An end the clock shows
    twice (autumn) is the first showing still ahead of ``local``."""
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day: date = local.date() if t < end else local.date() + timedelta(days=1)
    assert local.tzinfo is not None
    until = local_instant(day, end, local.tzinfo)
    if until.astimezone(UTC) <= local.astimezone(UTC):  # (one zone: `<=` would compare clocks)
        # In the hour an autumn change shows twice (01:15 the second time round), the end's
        # first showing (01:30 before the change) has passed: the range ends at its second.
        second = datetime.combine(day, end, local.tzinfo).replace(fold=1)
        until = second.astimezone(UTC).astimezone(local.tzinfo)
    return until


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
    windows: tuple[tuple[str, SendWindow], ...] = ()


@dataclass(frozen=True, slots=True)
class _Listing:
    """One journey's do-not-contact list as read: the listed ids and numbers (from the policies
    and the file), and why the file could not be read (then only the policies' own are in)."""

    entries: tuple[str, ...]
    customers: frozenset[str]
    phones: frozenset[str]
    unavailable: str | None = None


class PolicyEngine:
    """Evaluates :class:`~journeydsl.runtime.policies.model.Policies` at send time.

    ``PolicyEngine()`` (no policies) is the engine's behaviour without a policy file: consent per
    channel, push only with the app, the journeys' own quiet hours, nothing else.
    """

    def __init__(self, policies: Policies | None = None) -> None:
        self.configured = policies is not None
        self.policies = policies if policies is not None else _WITHOUT_POLICIES
        self._rules: dict[str, _Rules] = {}
        self._dnc_lists: dict[str, _Listing] = {}
        #: Do-not-contact files that could not be read, with the problem last logged.
        self._dnc_unreadable: dict[str, str] = {}

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
            windows = tuple(
                zip(
                    rule_names("send_windows", effective.send_windows),
                    effective.send_windows,
                    strict=True,
                )
            )
            found = _Rules(effective, quiet, caps, longest, windows)
            self._rules[journey_id] = found
        return found

    def history_horizon(self) -> timedelta | None:
        """How far back any frequency cap (or throughput limit) looks, over the top-level caps
        and every journey's override; None without caps (then nothing limits how long contacts
        matter)."""
        windows = [c.window for c in self.policies.frequency_caps]
        windows += [t.per for t in self.policies.throughput]
        windows += [self.rules(j).longest_window for j in self.policies.journeys]
        longest = max(windows, default=timedelta(0))
        return longest if longest > timedelta(0) else None

    def _dnc(self, journey_id: str, policies: PolicySet) -> _Listing:
        """The listed customer ids and phone numbers; a list file is read again when it changes,
        so a long-running engine follows the registry without a restart. A file that cannot be
        read is reported in :attr:`_Listing.unavailable` (and logged), never taken as empty."""
        dnc = policies.do_not_contact
        entries: tuple[str, ...] = ()
        unavailable: str | None = None
        if dnc.file is not None:
            try:
                entries = read_list(Path(dnc.file))
            except UnreadableListError as exc:
                unavailable = self._unreadable(journey_id, dnc.file, exc.problem)
            else:
                self._readable(journey_id, dnc.file)
        found = self._dnc_lists.get(journey_id)
        if found is None or found.entries is not entries or found.unavailable != unavailable:
            customers = set(dnc.customers)
            phones = {normalise_phone(p) for p in dnc.phones}
            for entry in entries:
                # A line is one id or number, and a bank's customer ids may be digits too (a
                # CIF number): one that looks like a phone number lists both (fails closed).
                customers.add(entry)
                if _looks_like_phone(entry):
                    phones.add(normalise_phone(entry))
            found = _Listing(entries, frozenset(customers), frozenset(phones), unavailable)
            self._dnc_lists[journey_id] = found
        return found

    def _unreadable(self, journey_id: str, file: str, problem: str) -> str:
        """The suppression reason for a list file that cannot be read; logged as an error once
        per file and problem (not on every message it withholds)."""
        reason = f"do_not_contact_unavailable: {file}: {problem}"
        if self._dnc_unreadable.get(file) != problem:
            self._dnc_unreadable[file] = problem
            _log.error(
                "do_not_contact_unavailable",
                file=file,
                problem=problem,
                journey=journey_id,
                reason=reason,
            )
        return reason

    def _readable(self, journey_id: str, file: str) -> None:
        """A list file that could not be read can be again: say so, once."""
        if self._dnc_unreadable.pop(file, None) is not None:
            _log.info("do_not_contact_restored", file=file, journey=journey_id)

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
        list. While the list's file cannot be read, marketing is withheld (policy
        ``do_not_contact``, reason ``do_not_contact_unavailable: ...``), and transactional
        messages too when the policies say ``transactional_when_unavailable: block``."""
        policies = self.rules(journey_id).policies
        holdout = policies.holdout
        if category in holdout.categories and self.in_holdout(customer_id, journey_id):
            return Verdict(
                "suppressed",
                "holdout",
                f"global holdout: no {category} messages (control group, {holdout.percent:g}%)",
            )
        dnc = policies.do_not_contact
        covered = category in dnc.categories
        fails_closed = dnc.file is not None and (
            category == "marketing" or dnc.transactional_when_unavailable == "block"
        )
        if not covered and not fails_closed:
            return None
        listing = self._dnc(journey_id, policies)
        if listing.unavailable is not None and fails_closed:
            return Verdict("suppressed", "do_not_contact", listing.unavailable)
        if not covered:
            return None
        customers, phones = listing.customers, listing.phones
        listed = customer_id in customers
        if not listed and phones:
            forms = _phone_forms(profile.attributes.get(dnc.phone_attribute))
            listed = any(form in phones for form in forms)
        odd = ""
        if not listed and dnc.attribute is not None:
            # Fails closed: a mark that is not a plain true or false ("true", 1, "yes" from a
            # CSV export) lists the customer, and the reason says what it was.
            marked = profile.attributes.get(dnc.attribute)
            listed = marked is not None and marked is not False
            if listed and marked is not True:
                odd = f"; {dnc.attribute} is {_shown(marked)}, not true or false: taken as listed"
        if not listed and dnc.tag is not None:
            listed = dnc.tag in profile.tags
        if listed:
            return Verdict(
                "suppressed", "do_not_contact", f"on the do-not-contact list ({category}){odd}"
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
        given: object = None
        # (as the data has it: a host's store may give other values than bools, which the
        # compiled build would refuse to read as the declared bools)
        values: Mapping[str, object] = profile.consent
        for key in _consent_keys(consent.keys, channel, category):
            given = values.get(key)
            if given is not None:
                # Only ``true`` is consent: a host's store may hand over "false", "no" or 1, and
                # a value that is not ``true`` must never send (fails closed).
                decided, used = given is True, key
                break
        if decided is None:
            decided = consent.missing == "granted"
        if not decided:
            detail = "" if used in ("", channel) else f" ({used})"
            if given is not None and not isinstance(given, bool):
                detail = f" ({used} is {_shown(given)}, not true)"
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
        tags: tuple[str, ...] = (),
    ) -> Verdict | None:
        """Whether the message must wait (or be dropped) on ``channel`` at ``local`` (the
        customer's local now): the journey's quiet hours, the policies' quiet hours and the
        frequency caps over ``contacts(since)``. A drop wins over a deferral; deferrals wait for
        the latest of their ends (the next attempt checks again)."""
        found, clocks = self._clock_rules(journey, journey_id, channel, category, profile, local)
        if clocks > 1 and found and all(v.decision == "deferred" for v in found):
            never = self._never_open(journey, journey_id, channel, category, profile, found)
            if never is not None:
                return never
        rules = self.rules(journey_id)
        applicable = [
            (name, cap)
            for name, cap in rules.caps
            if channel in cap.channels
            and category in cap.categories
            and cap.counts(journey_id, tags)
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
                    kind = "frequency_cap"
                    if cap.arbitration is not None:
                        kind = "arbitration"
                        reason += self._went_first(cap, history, now, journey_id)
                    found.append(_verdict(cap.action, f"{kind}:{name}", reason, free))
        if not found:
            return None
        drops = [v for v in found if v.decision == "suppressed"]
        if drops:
            return drops[0]
        latest = max(found, key=lambda v: v.until or local)
        others = tuple(v.policy for v in found if v is not latest)
        return replace(latest, also=others) if others else latest

    def _clock_rules(
        self,
        journey: ir.Journey | None,
        journey_id: str,
        channel: str,
        category: str,
        profile: Profile,
        local: datetime,
    ) -> tuple[list[Verdict], int]:
        """What the rules of the clock (quiet hours and send windows, the journey's and the
        policies') say of the message at ``local``, and how many of them apply to it."""
        found: list[Verdict] = []
        clocks = 0
        if journey is not None:
            for q in journey.quiet_hours:
                clocks += channel in q.channels
                if channel in q.channels and (end := quiet_end(q.start, q.end, local)):
                    reason = (
                        f"the journey's quiet hours {q.start:%H:%M}-{q.end:%H:%M} for {channel}"
                    )
                    found.append(Verdict("deferred", "journey_quiet_hours", reason, end))
            for w in journey.send_windows:
                clocks += channel in w.channels
                if channel in w.channels and (
                    opens := window_opens(frozenset(w.days), w.start, w.end, local)
                ):
                    window = _window_text(w.days, w.start, w.end)
                    reason = f"the journey's send window {window} for {channel}"
                    found.append(Verdict("deferred", "journey_send_window", reason, opens))
        rules = self.rules(journey_id)
        for name, win in rules.windows:
            if channel not in win.channels or category not in win.categories:
                continue
            if _waived(profile, win.waived_by):
                continue
            clocks += 1
            opens = window_opens(win.days, win.start, win.end, local)
            if opens is not None:
                reason = (
                    f"send window {_window_text(win.days, win.start, win.end)} "
                    f"for {category} {channel} ({name})"
                )
                found.append(_verdict(win.action, f"send_windows:{name}", reason, opens))
        for name, rule in rules.quiet:
            if channel not in rule.channels or category not in rule.categories:
                continue
            if _waived(profile, rule.waived_by):
                continue
            clocks += 1
            end = quiet_end(rule.start, rule.end, local)
            if end is None:
                continue
            reason = (
                f"quiet hours {rule.start:%H:%M}-{rule.end:%H:%M} for {category} {channel} ({name})"
            )
            found.append(_verdict(rule.action, f"quiet_hours:{name}", reason, end))
        return found, clocks

    def never_open(
        self, journey: ir.Journey, channel: str, category: str, local: datetime
    ) -> Verdict | None:
        """The suppression :meth:`hold` gives ``journey``'s message on ``channel`` when its
        rules of the clock (quiet hours and send windows, the journey's and the policies')
        never leave a time open together, for a customer who waived none of them; None when
        they do (looked for from ``local`` on, over a week and a day)."""
        nobody = Profile("", {}, {}, str(local.tzinfo))
        found, clocks = self._clock_rules(journey, journey.id, channel, category, nobody, local)
        if clocks < 2 or not found or any(v.decision == "suppressed" for v in found):
            return None  # (one rule always opens; open at ``local``; or a rule drops it there)
        return self._never_open(journey, journey.id, channel, category, nobody, found)

    def _never_open(
        self,
        journey: ir.Journey | None,
        journey_id: str,
        channel: str,
        category: str,
        profile: Profile,
        found: list[Verdict],
    ) -> Verdict | None:
        """A suppression when the rules of the clock that hold the message never let it go all
        at once (a journey's weekday window and the policies' weekend window): followed from one
        opening to the next over a week and a day (they repeat every week), none is a time all
        of them leave open. None when one is (the message waits for it), or when a rule there
        drops the message (it says why itself)."""
        held = {v.policy: v.reason for v in found}
        dates = [v.until for v in found if v.until is not None]
        at = max(dates, key=lambda d: d.astimezone(UTC))
        horizon = at.astimezone(UTC) + _NEVER_OPEN_AFTER
        for _ in range(_NEVER_OPEN_STEPS):
            verdicts, _ = self._clock_rules(journey, journey_id, channel, category, profile, at)
            if not verdicts or any(v.decision == "suppressed" for v in verdicts):
                return None
            held.update((v.policy, v.reason) for v in verdicts)
            later = [v.until for v in verdicts if v.until is not None]
            nxt = max(later, key=lambda d: d.astimezone(UTC))
            if nxt.astimezone(UTC) <= at.astimezone(UTC):
                return None  # (no progress: left to the next attempt)
            at = nxt
            if at.astimezone(UTC) > horizon:
                policies = list(held)
                reason = (
                    f"never sent: {'; '.join(held.values())} never leave a time open together "
                    f"for this {category} {channel} message"
                )
                return Verdict("suppressed", policies[0], reason, also=tuple(policies[1:]))
        return None

    # ------------------------------------------------------------------ arbitration

    def priority(self, journey_id: str) -> int:
        """The journey's priority when caps arbitrate (``priority``; the higher goes first)."""
        return self.rules(journey_id).policies.priority

    def arbitration_slot(
        self, journey_id: str, channel: str, category: str, tags: tuple[str, ...], now: datetime
    ) -> tuple[str, datetime] | None:
        """When a cap that arbitrates holds the message: (the cap's name, the end of the
        message's slot, the first slot boundary after ``now``), the latest of them."""
        found: tuple[str, datetime] | None = None
        for name, cap in self.rules(journey_id).caps:
            slot = cap.arbitration
            if (
                slot is None
                or channel not in cap.channels
                or category not in cap.categories
                or not cap.counts(journey_id, tags)
            ):
                continue
            utc = now.astimezone(UTC)
            midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
            end = midnight + ((utc - midnight) // slot + 1) * slot
            if found is None or end > found[1]:
                found = (name, end)
        return found

    def _went_first(
        self, cap: FrequencyCap, history: Sequence[Contact], now: datetime, journey_id: str
    ) -> str:
        """``; went first: offer (priority 20)``: the messages an arbitrating cap counted."""
        since = now - cap.window
        first = sorted(
            {
                c.journey
                for c in history
                if c.at.astimezone(UTC) > since
                and c.channel in cap.channels
                and c.category in cap.categories
                and cap.counts(c.journey, c.tags)
            }
        )
        if not first:
            return ""
        mine = self.priority(journey_id)
        shown = ", ".join(f"{j} (priority {self.priority(j)})" for j in first)
        return f"; went first: {shown}; this journey has priority {mine}"

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


def _window_text(days: Iterable[int], start: time, end: time) -> str:
    """``weekday 09:00-17:00``: a send window in a decision's reason."""
    return f"{describe_days(days)} {start:%H:%M}-{end:%H:%M}"


#: How far ahead :meth:`PolicyEngine._never_open` follows the rules of the clock (they repeat
#: every week; the day more covers a daylight-saving change), and in how many steps at most.
_NEVER_OPEN_AFTER = timedelta(days=8)
_NEVER_OPEN_STEPS = 256


def _verdict(action: str, policy: str, reason: str, until: datetime) -> Verdict:
    if action == "drop":
        return Verdict("suppressed", policy, reason)
    return Verdict("deferred", policy, reason, until)


def _shown(value: object) -> str:
    """A profile value a host gave where true or false was expected, as a reason quotes it
    (cut short: the reason is kept with every message)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "…"


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
        and cap.counts(c.journey, c.tags)
    )
    if len(hits) < cap.max:
        return None
    return hits[len(hits) - cap.max] + cap.window


def _cap_what(cap: FrequencyCap) -> str:
    categories = "/".join(cap.categories)
    channels = "/".join(cap.channels) if len(cap.channels) < 5 else "any channel"
    scope = f" of {', '.join(cap.journeys)}" if cap.journeys else ""
    if cap.tags:
        scope = f" tagged {', '.join(cap.tags)}{scope}"
    return f"{categories} messages{scope} on {channels}"


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


def _phone_forms(value: object) -> tuple[str, ...]:
    """The national form of a profile's phone attribute, to match against the listed numbers:
    text, or a number (a CSV or spreadsheet export makes ``0912345678`` the number 912345678),
    as :func:`normalise_phone` reads it. None for anything else, nor for text without a digit
    ("n/a")."""
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        value = str(value)
    if isinstance(value, str):
        digits = normalise_phone(value)
        return (digits,) if digits else ()
    return ()


@lru_cache(maxsize=1024)
def _consent_keys(patterns: tuple[str, ...], channel: str, category: str) -> tuple[str, ...]:
    """The consent keys to look up for one channel and category, in order (formatted once:
    ``str.format`` per delivery attempt was 6 % of a simulation)."""
    return tuple(p.format(channel=channel, category=category) for p in patterns)
