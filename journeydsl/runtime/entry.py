"""Entries: who enters a journey, under which instance key, and when re-entry is allowed; and
segment journeys, whose customers are evaluated on a schedule in each time zone."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from urllib.parse import quote

from journeydsl import ir
from journeydsl.calendars import Schedule, is_anniversary, local_instant
from journeydsl.expr.context import EventRecord
from journeydsl.runtime.changes import ChangeEntries
from journeydsl.runtime.codec import STATE_FORMAT, encode_map
from journeydsl.runtime.decisions import note
from journeydsl.runtime.entry_rate import Backlog, meta_key
from journeydsl.runtime.evaluation import ConditionError, EvalContext, entry_holds, evaluated
from journeydsl.runtime.handoff import Handoffs, enrolled_values
from journeydsl.runtime.hostcalls import StoreError, iso, log
from journeydsl.runtime.interpreter import Interpreter, Late
from journeydsl.runtime.policies.model import EntryRate
from journeydsl.runtime.protocols import (
    Clock,
    OutboxEntry,
    Profile,
    ProfileStore,
    StateStore,
    live_reads,
)
from journeydsl.runtime.records import InstanceRecord
from journeydsl.zones import zone

__all__ = ["Entries"]

#: The calendar of a segment that names none.
DAILY = Schedule("daily")


def _anniversary_today(entry: ir.Entry, ctx: EvalContext) -> bool:
    """For an anniversary schedule, whether today (in the customer's zone) is the anniversary of
    the customer's date; True for every other schedule. A customer without the date has none."""
    if entry.anniversary is None or entry.schedule is None:
        return True
    try:
        value = evaluated(entry.anniversary, ctx, None)
    except StoreError as failure:
        raise failure.original from None
    except ConditionError:  # (a date that cannot be read is no anniversary)
        return False
    if isinstance(value, datetime):
        value = value.astimezone(ctx.tz).date()
    if not isinstance(value, date):
        return False
    today = ctx.now.astimezone(ctx.tz).date()
    return is_anniversary(value, today, entry.schedule.period or "yearly")


class Entries:
    """Enters customers into journeys (on an event, from code, or by a segment's schedule)."""

    def __init__(
        self,
        latest: Mapping[str, ir.Journey],
        interpreter: Interpreter,
        state: StateStore,
        profiles: ProfileStore,
        clock: Clock,
        stale_after: timedelta | None = None,
    ) -> None:
        self.latest = latest
        self.stale_after = stale_after
        self.interpreter = interpreter
        self.events = interpreter.events
        self.state = state
        self._instances_of = live_reads(state)[1]
        self.profiles = profiles
        self.clock = clock
        #: The ``entry when`` journeys: entries on a change of their condition.
        self.changes = ChangeEntries(self)
        #: Entry throttling of segment journeys, by journey id (the policies' ``entry_rates``).
        self.rates: dict[str, EntryRate] = {}
        # Control of live journeys (runtime/control.py): paused or draining journeys take no
        # new entry here (a paused one's entry events are held and taken on resume).
        self.closed: Collection[str] = frozenset()
        #: The paused ones among them: their entry-rate backlog waits for the resume (a draining
        #: journey's backlog is refused, as any new entry).
        self.paused: Collection[str] = frozenset()
        # hand-off: `enter` steps create instances through these entries, committed by the step
        interpreter.handoffs = self.handoffs = Handoffs(self)

    def on_event(
        self,
        ev: EventRecord,
        at: datetime,
        profile: Profile,
        done: Collection[str],
        records: list[InstanceRecord],
        outbox: list[OutboxEntry],
    ) -> tuple[list[str], dict[str, str]]:
        """The entries ``ev`` (as of ``at``) makes, but into the journeys in ``done``: those
        entered on its type, then those entered on a change it made to their condition. New
        instances go to ``records``; returns their ids and the engine meta to commit."""
        entered: list[str] = []
        for journey in self.latest.values():
            entry = journey.entry
            if entry.kind != "event" or entry.event != ev.type or journey.id in done:
                continue
            new = self.enter(journey, ev.customer_id, at, profile, ev)
            if new is not None:
                self.interpreter.run(journey, new, journey.start, at, profile, outbox)
                records.append(new)
                entered.append(new["id"])
        changed: list[InstanceRecord] = []
        meta = self.changes.evaluate(ev.customer_id, at, profile, ev.type, changed, outbox, done)
        records.extend(changed)
        entered.extend(i["id"] for i in changed)
        records.extend(self.handoffs.take())  # hand-off: the step's new instances, committed last
        return entered, meta

    def enter(
        self,
        journey: ir.Journey,
        customer_id: str,
        now: datetime,
        profile: Profile,
        trigger: EventRecord,
    ) -> InstanceRecord | None:
        """A new instance of ``journey`` for ``customer_id``, or None when the entry's
        condition or its re-entry rule refuses, or the journey is paused or draining."""
        if journey.id in self.closed:  # (control of live journeys)
            return None
        probe = {"entered_at": iso(now), "customer_id": customer_id}
        tdata = {**trigger.data, "at": trigger.at}
        entry = journey.entry
        if entry.where is not None:
            ctx = EvalContext(
                self.events, now, probe, journey, profile, {}, tdata, self.interpreter.history
            )
            if not entry_holds(entry.where, ctx, trigger, "where"):
                return None
        key = self._key(journey, customer_id, probe, trigger, profile, now)
        previous = [
            i
            for i in self._instances_of(customer_id)
            if i["journey"] == journey.id and i["key"] == key
        ]
        if any(i["status"] != "ended" for i in previous):
            return None  # one running instance per key, whatever the re-entry rule
        if previous:
            if entry.reentry == "once":
                return None
            if entry.reentry == "after" and entry.reentry_after is not None:
                last = max(datetime.fromisoformat(i["entered_at"]) for i in previous)
                if now < last + entry.reentry_after:
                    return None
        # Instances are a customer's: a key of the journey's own scopes them within the customer
        # (the id ends in "#key", which an id of the default key, ending in its number, never
        # does), so two customers never share an instance or an effect key.
        n = len(previous) + 1
        iid = (
            f"{journey.id}/{key}/{n}"
            if journey.entry.key is None
            else f"{journey.id}/{customer_id}/{n}#{quote(key, safe='')}"
        )
        inst: InstanceRecord = {
            "format": STATE_FORMAT,
            "id": iid,
            "journey": journey.id,
            "version": journey.version,
            "customer_id": customer_id,
            "key": key,
            "status": "active",
            "node": journey.start,
            "wait": None,
            "due": None,
            "entered_at": iso(now),
            "ended_at": None,
            "outcome": None,
            "holdout": False,
            "vars": {},
            "trigger": encode_map(tdata),
            "visits": {},
            "log": [],
        }
        if journey.entry.inputs and trigger.type == "enroll":  # hand-off: enroll's data
            inst["vars"] = encode_map(enrolled_values(journey, trigger.data))
        log.info("enter", journey=journey.id, version=journey.version, customer=customer_id)
        note(inst, now, journey.start or "", "enter", trigger=trigger.type)
        return inst

    def _key(
        self,
        journey: ir.Journey,
        customer_id: str,
        probe: dict[str, Any],
        ev: EventRecord,
        profile: Profile,
        now: datetime,
    ) -> str:
        if journey.entry.key is None:
            return customer_id
        ctx = EvalContext(
            self.events,
            now,
            probe,
            journey,
            profile,
            {},
            {**ev.data, "at": ev.at},
            self.interpreter.history,
        )
        return str(journey.entry.key.fn(ctx, ev))

    # ------------------------------------------------------------------ segments

    def _segment_journeys(self) -> list[ir.Journey]:
        return [j for j in self.latest.values() if j.entry.kind == "segment" and j.entry.at]

    def next_segment_time(self) -> datetime | None:
        """The next scheduled evaluation of any segment journey, in any time zone, or the next
        instant an ``entry when`` condition is to be looked at again."""
        best = self.changes.next_time()
        for journey in self._segment_journeys():
            slot = self._backlog_due(journey) if journey.id not in self.paused else None
            if slot is not None and (best is None or slot < best):
                best = slot
            for zone_name in self._zones(journey):
                t = self._segment_due(journey, zone_name)
                if t is not None and (best is None or t < best):
                    best = t
        return best

    def _zones(self, journey: ir.Journey) -> set[str]:
        """The time zones the journey's customers live in (a profile without one is in the
        journey's)."""
        zones = getattr(self.profiles, "timezones", None)
        if callable(zones):
            found = set(zones())
        else:
            found = {self.profiles.get(c).timezone for c in self.profiles.customers()}
        return {z or journey.timezone for z in found}

    def _segment_due(self, journey: ir.Journey, zone_name: str) -> datetime | None:
        """The next scheduled evaluation of ``journey``'s segment in one time zone (None once
        its schedule has ended): the first day of its calendar after the last evaluation, or
        from today's, at its local time (see :mod:`journeydsl.calendars` for DST)."""
        tz = zone(zone_name)
        at = journey.entry.at or time(9, 0)
        calendar = journey.entry.schedule or DAILY
        last = self.state.get_meta(f"segment:{journey.id}:{zone_name}")
        if last is not None:
            day = calendar.first(datetime.fromisoformat(last).date() + timedelta(days=1))
            return None if day is None else local_instant(day, at, tz)
        now = self.clock.now()
        day = calendar.first(now.astimezone(tz).date())
        if day is not None and local_instant(day, at, tz) < now:
            day = calendar.first(day + timedelta(days=1))
        return None if day is None else local_instant(day, at, tz)

    def segments(self, now: datetime) -> int:
        """Evaluate every segment whose schedule is due at ``now``, and every ``entry when``
        condition to look at again by then; how many customers entered."""
        moved = self.changes.fire(now)
        for journey in self._segment_journeys():
            assert journey.entry.condition is not None
            for zone_name in sorted(self._zones(journey)):
                while (when := self._segment_due(journey, zone_name)) is not None and when <= now:
                    # A schedule evaluated late (the host did not tick) is a stale timer: its
                    # entries happen, but send nothing to the customer.
                    limit = journey.stale_after or self.stale_after
                    late = Late(now - when, limit) if limit and now - when > limit else None
                    moved += self._evaluate_segment(journey, zone_name, when, late)
            if journey.id in self.paused:
                continue  # (its backlog waits: admitted now, it would be refused and lost)
            while (slot := self._backlog_due(journey)) is not None and slot <= now:
                moved += self._admit_backlog(journey, slot, now)
        return moved

    def _evaluate_segment(
        self, journey: ir.Journey, zone_name: str, when: datetime, late: Late | None = None
    ) -> int:
        cond = journey.entry.condition
        assert cond is not None
        records: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        selected: list[str] = []
        for customer in sorted(self.profiles.customers()):
            profile = self.profiles.get(customer)
            if (profile.timezone or journey.timezone) != zone_name:
                continue
            probe = {"entered_at": iso(when), "customer_id": customer}
            ctx = EvalContext(
                self.events, when, probe, journey, profile, {}, {}, self.interpreter.history
            )
            if _anniversary_today(journey.entry, ctx) and entry_holds(cond, ctx, None, "segment"):
                selected.append(customer)
        meta = {f"segment:{journey.id}:{zone_name}": when.isoformat()}
        rate = self.rates.get(journey.id)
        if rate is None:
            entered = sum(
                self._enter_segment(journey, c, when, late, records, outbox) for c in selected
            )
        else:
            backlog = Backlog.load(self.state.get_meta(meta_key(journey.id)))
            backlog.add(selected)
            entered = self._admit(journey, rate, backlog, when, late, records, outbox)
            meta[meta_key(journey.id)] = backlog.dump()
        self.state.commit(records + self.handoffs.take(), outbox, meta=meta)  # (with hand-offs)
        return entered

    def _enter_segment(
        self,
        journey: ir.Journey,
        customer: str,
        when: datetime,
        late: Late | None,
        records: list[InstanceRecord],
        outbox: list[OutboxEntry],
    ) -> bool:
        """Enter ``customer`` into the segment journey at ``when``; whether they entered."""
        profile = self.profiles.get(customer)
        trigger = EventRecord(customer, "segment", when, {})
        inst = self.enter(journey, customer, when, profile, trigger)
        if inst is None:
            return False
        self.interpreter.run(journey, inst, journey.start, when, profile, outbox, late)
        records.append(inst)
        return True

    # ------------------------------------------------------------------ entry throttling

    def _backlog_due(self, journey: ir.Journey) -> datetime | None:
        """When the next slot of a rated journey with a backlog opens."""
        rate = self.rates.get(journey.id)
        if rate is None:
            return None
        return Backlog.load(self.state.get_meta(meta_key(journey.id))).next_slot(rate)

    def _admit(
        self,
        journey: ir.Journey,
        rate: EntryRate,
        backlog: Backlog,
        when: datetime,
        late: Late | None,
        records: list[InstanceRecord],
        outbox: list[OutboxEntry],
    ) -> int:
        """Let the waiting customers in at ``when``, as many as the slot has room for, in
        order; how many entered (a customer the re-entry rule refuses takes no room)."""
        backlog.open(rate, when)
        taken = entered = 0
        while taken < len(backlog.waiting) and backlog.used < rate.max:
            customer = backlog.waiting[taken]
            taken += 1
            if self._enter_segment(journey, customer, when, late, records, outbox):
                backlog.used += 1
                entered += 1
        del backlog.waiting[:taken]
        return entered

    def _admit_backlog(self, journey: ir.Journey, slot: datetime, now: datetime) -> int:
        """The waiting customers' turn at ``slot`` (late when the host did not tick)."""
        rate = self.rates[journey.id]
        backlog = Backlog.load(self.state.get_meta(meta_key(journey.id)))
        limit = journey.stale_after or self.stale_after
        late = Late(now - slot, limit) if limit and now - slot > limit else None
        records: list[InstanceRecord] = []
        outbox: list[OutboxEntry] = []
        entered = self._admit(journey, rate, backlog, slot, late, records, outbox)
        records += self.handoffs.take()  # hand-off: the instances the entries' steps created
        self.state.commit(records, outbox, meta={meta_key(journey.id): backlog.dump()})
        return entered
