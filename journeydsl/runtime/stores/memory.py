"""In-memory stores: for tests and simulation. Commits are atomic (all or nothing), and records are
kept in JSON's data model (checked and normalised as ``json.dumps`` would: tuples become lists,
keys become strings, anything else is refused), so what a test sees is what a durable store would
have kept.

Copies are structural, not JSON round trips (those were most of a simulation's time): a record
handed out is a new dict whose containers one level down (``vars``, ``visits``, ``log`` …) are
new too, while anything deeper (a log entry, an encoded value) is shared with the stored record.
The engine never edits those in place (it appends log entries and replaces encoded values), and
a commit re-checks only what is not shared, so isolation holds at a fraction of the cost.
"""

from __future__ import annotations

import bisect
import dataclasses
import heapq
import json
import operator
from collections import defaultdict
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

from journeydsl._compiled import mypyc_attr
from journeydsl.expr.catalog import BudgetSpec
from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, run_aggregate
from journeydsl.runtime.budgets import BudgetState, DrawRecord, MemoryBudgets
from journeydsl.runtime.control import AuditEntry, ControlState, HeldEvent
from journeydsl.runtime.protocols import Contact, OutboxEntry, Profile, QuarantinedEvent
from journeydsl.runtime.records import InstanceRecord

__all__ = ["MemoryEventStore", "MemoryProfileStore", "MemoryStateStore"]


@mypyc_attr(allow_interpreted_subclasses=True)
class MemoryEventStore:
    """Events per customer and type, kept in time order."""

    def __init__(self) -> None:
        self._ids: set[str] = set()
        self._by: dict[tuple[str, str], list[EventRecord]] = defaultdict(list)
        self._times: dict[tuple[str, str], list[datetime]] = defaultdict(list)

    def append(self, event_id: str, event: EventRecord) -> bool:
        """Store ``event`` once per id, in time order (arrival order breaks ties)."""
        if event_id in self._ids:
            return False
        self._ids.add(event_id)
        key = (event.customer_id, event.type)
        times = self._times[key]
        i = bisect.bisect_right(times, event.at)
        times.insert(i, event.at)
        self._by[key].insert(i, event)
        return True

    def events(
        self, customer_id: str, event_type: str, start: datetime | None, end: datetime | None
    ) -> Sequence[EventRecord]:
        """Events with ``start <= at <= end``, oldest first."""
        key = (customer_id, event_type)
        times = self._times.get(key)
        if not times:
            return ()
        lo = 0 if start is None else bisect.bisect_left(times, start)
        hi = len(times) if end is None else bisect.bisect_right(times, end)
        return self._by[key][lo:hi]

    def aggregate(
        self,
        customer_id: str,
        query: AggregateQuery,
        start: datetime | None,
        end: datetime | None,
        ctx: EvalContext,
    ) -> Any:
        """Evaluate ``query`` in Python over the window."""
        return run_aggregate(query, self.events(customer_id, query.event, start, end), ctx)

    def last_time(self, customer_id: str, event_type: str, before: datetime) -> datetime | None:
        """The latest ``event_type`` time at or before ``before``."""
        times = self._times.get((customer_id, event_type))
        if not times:
            return None
        i = bisect.bisect_right(times, before)
        return times[i - 1] if i else None

    def all(self) -> list[EventRecord]:
        """Every stored event, by time."""
        out = [e for evs in self._by.values() for e in evs]
        out.sort(key=lambda e: e.at)
        return out


@mypyc_attr(allow_interpreted_subclasses=True)
class MemoryProfileStore:
    """Profiles in a dict; unknown customers get a default profile."""

    def __init__(self, profiles: Iterable[Profile] = ()) -> None:
        self._p: dict[str, Profile] = {p.customer_id: p for p in profiles}

    def add(self, profile: Profile) -> None:
        """Add or replace a profile."""
        self._p[profile.customer_id] = profile

    def get(self, customer_id: str) -> Profile:
        """The profile, or a default one."""
        return self._p.get(customer_id) or Profile(customer_id, known=False)

    def update(self, customer_id: str, attribute: str, value: Any) -> None:
        """Set one attribute."""
        p = self.get(customer_id)
        self._p[customer_id] = Profile(
            customer_id, {**p.attributes, attribute: value}, p.consent, p.timezone, p.tags
        )

    def tag(self, customer_id: str, tag: str, remove: bool = False) -> None:
        """Add or remove a tag."""
        p = self.get(customer_id)
        tags = p.tags - {tag} if remove else p.tags | {tag}
        self._p[customer_id] = Profile(customer_id, p.attributes, p.consent, p.timezone, tags)

    def customers(self) -> Iterable[str]:
        """Every known customer."""
        return list(self._p)

    def timezones(self) -> set[str]:
        """The distinct time zones of known customers."""
        return {p.timezone for p in self._p.values()}


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_DICT: dict[str, Any] = {}
_SCALARS = frozenset({str, int, float, bool, type(None)})
_STR = frozenset({str})
_CONTAINERS = frozenset({dict, list})
_last_instant: tuple[datetime | None, int] = (None, 0)
_before_last: tuple[datetime | None, int] = (None, 0)


def _instant(t: datetime) -> int:
    """Whole microseconds since the epoch: orders instants exactly, whatever their UTC offsets,
    and compares far faster than aware datetimes in different zones. (The last two asked are
    remembered: the engine asks for the same ``now`` several times in a row, in turns with the
    far future of ``next_wakeup``.)"""
    global _last_instant, _before_last
    last = _last_instant
    if last[0] is t:
        return last[1]
    if _before_last[0] is t:
        _before_last, _last_instant = last, _before_last
        return _last_instant[1]
    value = (t - _EPOCH) // _MICROSECOND
    _before_last, _last_instant = last, (t, value)
    return value


def _thaw(record: Mapping[str, Any], nested: Sequence[str] | None = None) -> dict[str, Any]:
    """A copy the caller may change: the record and its containers one level down are new;
    anything deeper is shared with the stored record (see the module docstring). ``nested``,
    when known, names the keys that hold containers."""
    if nested is None:
        return {k: v.copy() if type(v) in _CONTAINERS else v for k, v in record.items()}
    out = dict(record)
    for k in nested:
        out[k] = out[k].copy()
    return out


def _json_key(key: Any) -> str:
    """A dict key as JSON writes it (``json.dumps`` accepts these five kinds)."""
    if isinstance(key, str | int | float | bool) or key is None:
        text: str = json.dumps(key) if not isinstance(key, str) else str.__str__(key)
        return text
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")


def _flat(d: dict[Any, Any]) -> bool:
    """A dict of plain values under text keys (a log entry, an encoded value, a wait), which
    needs no deeper look: checked in C."""
    return _SCALARS.issuperset(map(type, d.values())) and _STR.issuperset(map(type, d))


def _keep_dict(value: dict[Any, Any], old: Any, nested: list[str] | None = None) -> dict[str, Any]:
    """:func:`_keep` of a dict; the keys whose values are containers go into ``nested``."""
    before = old if type(old) is dict else _NO_DICT
    out = {}
    for k, v in value.items():
        if type(k) is not str:
            k = _json_key(k)
        was = before.get(k)
        # The common cases are inlined (this loop runs for every committed record): a plain
        # value; a copy of a stored dict, unchanged (the trigger), which is shared; a flat dict
        # or list (a wait, the visits, a fallback chain), copied in C.
        tv = type(v)
        if tv in _SCALARS:
            out[k] = v
            continue
        if v is was:
            out[k] = v
        elif tv is dict:
            if (
                type(was) is dict
                and v.keys() == was.keys()
                and all(map(operator.is_, v.values(), was.values()))
            ):
                out[k] = was
            elif _SCALARS.issuperset(map(type, v.values())) and _STR.issuperset(map(type, v)):
                out[k] = v.copy()
            else:
                out[k] = _keep_dict(v, was)
        elif tv is list and type(was) is not list and _SCALARS.issuperset(map(type, v)):
            out[k] = v.copy()
        else:
            out[k] = _keep(v, was)
        if nested is not None and type(out[k]) in _CONTAINERS:
            nested.append(k)
    return out


def _keep(value: Any, old: Any = None) -> Any:
    """``value`` as the store keeps it: in JSON's data model, checked as ``json.dumps`` would,
    sharing every part that is the very object already stored in ``old`` (it was checked when it
    was stored, and nobody changes stored parts in place)."""
    t = type(value)
    if t in _SCALARS or value is old:
        return value
    if t is dict:
        # Small flat dicts (a log entry, an encoded value) are checked and copied in C.
        if len(value) <= 8 and _flat(value):
            return value.copy()
        return _keep_dict(value, old)
    if t is list or t is tuple:
        if type(old) is list and len(value) >= len(old) and all(map(operator.is_, value, old)):
            # An append-only list (a decision log): only the new tail needs checking.
            return old + [_keep(v) for v in value[len(old) :]]
        if _SCALARS.issuperset(map(type, value)):
            return list(value)
        return [_keep(v) for v in value]
    # Subclasses (a StrEnum, an IntEnum, an OrderedDict …) are kept as JSON would write them.
    if isinstance(value, str):
        return str.__str__(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, dict):
        return _keep(dict(value), old)
    if isinstance(value, list | tuple):
        return _keep(list(value), old)
    raise TypeError(f"Object of type {t.__name__} is not JSON serializable")


def _copy(record: Mapping[str, Any]) -> dict[str, Any]:
    """A checked deep copy in JSON's data model (raises TypeError as ``json.dumps`` would)."""
    result: dict[str, Any] = _keep(record)
    return result


@mypyc_attr(allow_interpreted_subclasses=True)
class MemoryStateStore:
    """Instance records, a due-timer heap, the outbox and processed-event markers.

    ``isolated=False`` gives up the isolation a durable store has, for a host that runs the
    engine from start to end in one process and stops at its first error (``journeydsl
    simulate``): reads hand out the stored records and outbox entries themselves, and commits
    keep what they are given, unchecked and uncopied, so the engine works on live records as a
    hand-written loop would. A step that raised halfway would then leave its changes behind,
    and a value a durable store refuses would be kept: the isolated default is for everything
    else, tests included.
    """

    def __init__(self, *, isolated: bool = True) -> None:
        self.isolated = isolated
        self._inst: dict[str, InstanceRecord] = {}
        # Per record, the keys that hold containers (what a copy must copy, see _thaw).
        self._nested: dict[str, list[str]] = {}
        self._by_customer: dict[str, list[str]] = defaultdict(list)
        # (instant, due text as stored, instance id, due time), a heap with lazy deletion: an
        # entry is live while its instance waits with that due text. Ordered by the instant,
        # since due times carry different UTC offsets and their text does not sort by time.
        self._timers: list[tuple[int, str, str, datetime]] = []
        self._outbox: dict[str, OutboxEntry] = {}
        # (instant of not_before, key), a heap with lazy deletion: an entry is live while the
        # outbox entry is pending with that instant (``_pending_at``).
        self._pending: list[tuple[int, str]] = []
        self._pending_at: dict[str, int] = {}
        self._processed: set[str] = set()
        self._meta: dict[str, str] = {}
        self._quarantine: dict[str, QuarantinedEvent] = {}
        # The contact history: each customer's contacts, by time, and the keys recorded.
        self._contacts_by_customer: defaultdict[str, list[Contact]] = defaultdict(list)
        self._contact_keys: set[str] = set()
        # Control of live journeys (runtime/control.py): states, audit, held events.
        self._control_states: dict[str, ControlState] = {}
        self._audit: list[AuditEntry] = []
        self._held: dict[tuple[str, str], HeldEvent] = {}

        #: The reward budgets' ledger (runtime/budgets.py): the methods below hand over to it.
        self.budgets = MemoryBudgets()

    # ------------------------------------------------------------------ reward budgets

    def declare_budgets(self, specs: Sequence[BudgetSpec]) -> None:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        self.budgets.declare_budgets(specs)

    def draw(self, budget: str, amount: Decimal, key: str, at: datetime) -> bool:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        return self.budgets.draw(budget, amount, key, at)

    def budget_states(self) -> list[BudgetState]:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        return self.budgets.budget_states()

    def budget_draws(self, budget: str | None = None) -> list[DrawRecord]:
        """See :class:`~journeydsl.runtime.budgets.BudgetLedger`."""
        return self.budgets.budget_draws(budget)

    def commit(
        self,
        instances: Sequence[InstanceRecord],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Apply everything at once (copies are made first, so a failure applies nothing)."""
        stored = self._inst
        records: Sequence[InstanceRecord] = instances
        entries: Sequence[OutboxEntry] = outbox
        # Per record, the keys holding containers (what _thaw copies): only an isolated store
        # hands out copies, so only it needs them.
        nested: list[list[str]] = []
        if self.isolated:
            nested = [[] for _ in instances]
            records = [
                cast(InstanceRecord, _keep_dict(cast(dict[str, Any], r), stored.get(r["id"]), keys))
                for r, keys in zip(instances, nested, strict=True)
            ]
            entries = [
                OutboxEntry(
                    e.key,
                    e.kind,
                    e.customer_id,
                    _keep(e.payload),
                    e.not_before,
                    e.attempts,
                    e.status,
                )
                for e in outbox
            ]
        timers = [
            (_instant(when), due, r["id"], when)
            for r in records
            if (due := r["due"]) and r["status"] == "waiting"
            for when in (datetime.fromisoformat(due),)
        ]
        for r in records:
            if r["id"] not in stored:
                self._by_customer[r["customer_id"]].append(r["id"])
            stored[r["id"]] = r
        if nested:
            self._nested.update(zip((r["id"] for r in records), nested, strict=True))
        for timer in timers:
            heapq.heappush(self._timers, timer)
        for e in entries:
            if e.key not in self._outbox:
                self._outbox[e.key] = e
                self._queue(e)
        if processed_event is not None:
            self._processed.add(processed_event)
        if meta:
            self._meta.update(meta)

    def _queue(self, e: OutboxEntry) -> None:
        if e.status == "pending":
            at = _instant(e.not_before)
            if self._pending_at.get(e.key) != at:
                self._pending_at[e.key] = at
                heapq.heappush(self._pending, (at, e.key))
        else:
            self._pending_at.pop(e.key, None)

    def instance(self, instance_id: str) -> InstanceRecord | None:
        """One record (a copy, when isolated)."""
        r = self._inst.get(instance_id)
        if r is None or not self.isolated:
            return r
        return cast(InstanceRecord, _thaw(r, self._nested.get(instance_id)))

    def instances_of(self, customer_id: str) -> list[InstanceRecord]:
        """A customer's records (copies, when isolated), oldest first."""
        ids = self._by_customer.get(customer_id)
        if not ids:
            return []
        if not self.isolated:
            return [self._inst[i] for i in ids]
        nested = self._nested
        return [cast(InstanceRecord, _thaw(self._inst[i], nested.get(i))) for i in ids]

    def all_instances(self) -> list[InstanceRecord]:
        """Every record (copies)."""
        return [cast(InstanceRecord, _thaw(r)) for r in self._inst.values()]

    def _live_timer(self, due: str, iid: str) -> bool:
        r = self._inst.get(iid)
        return r is not None and r["status"] == "waiting" and r.get("due") == due

    def _scoped_timers(self, journeys: Collection[tuple[str, int]]) -> list[tuple[int, str, str]]:
        """The timers of the instances of ``journeys``, earliest first: (instant, id, due)."""
        return sorted(
            (_instant(datetime.fromisoformat(due)), iid, due)
            for iid, r in self._inst.items()
            if r["status"] == "waiting"
            and (due := r["due"])
            and (r["journey"], r["version"]) in journeys
        )

    def due(
        self,
        now: datetime,
        limit: int = 1000,
        *,
        journeys: Collection[tuple[str, int]] | None = None,
    ) -> list[str]:
        """Waiting instances whose timer is at or before ``now``, earliest first (of
        ``journeys``' instances only, ``(id, version)`` pairs, when given)."""
        if journeys is not None:
            at = _instant(now)
            return [iid for t, iid, _ in self._scoped_timers(journeys) if t <= at][:limit]
        out: list[str] = []
        kept: list[tuple[int, str, str, datetime]] = []
        seen: set[str] = set()
        timers = self._timers
        at_most = _instant(now)
        while timers and len(out) < limit:
            timer = timers[0]
            if not self._live_timer(timer[1], timer[2]):
                heapq.heappop(timers)
                continue
            if timer[0] > at_most:
                break
            heapq.heappop(timers)
            if timer[2] not in seen:
                seen.add(timer[2])
                out.append(timer[2])
                kept.append(timer)
        # Timers stay in the heap until their instance moves on (a crash must not lose them).
        for timer in kept:
            heapq.heappush(timers, timer)
        return out

    def next_due(self, *, journeys: Collection[tuple[str, int]] | None = None) -> datetime | None:
        """The earliest live timer (of ``journeys``' instances only, when given)."""
        if journeys is not None:
            scoped = self._scoped_timers(journeys)
            return datetime.fromisoformat(scoped[0][2]) if scoped else None
        timers = self._timers
        while timers and not self._live_timer(timers[0][1], timers[0][2]):
            heapq.heappop(timers)
        return timers[0][3] if timers else None

    def processed(self, event_id: str) -> bool:
        """Whether the event was processed."""
        return event_id in self._processed

    def pending_outbox(
        self,
        now: datetime,
        limit: int = 1000,
        *,
        journeys: Collection[tuple[str, int]] | None = None,
    ) -> list[OutboxEntry]:
        """Pending entries due at ``now``, by due time then key (of ``journeys`` only, when
        given)."""
        if journeys is not None:
            at = _instant(now)
            scoped = sorted(
                (self._pending_at[key], key)
                for key, e in self._outbox.items()
                if e.status == "pending"
                and self._pending_at.get(key, at + 1) <= at
                and (e.payload.get("journey"), e.payload.get("version")) in journeys
            )
            return [self._hand(self._outbox[key]) for _, key in scoped[:limit]]
        heap = self._pending
        if not heap:
            return []
        out: list[OutboxEntry] = []
        kept: list[tuple[int, str]] = []
        live = self._pending_at
        at_most = _instant(now)
        while heap and len(out) < limit:
            at, key = heap[0]
            if live.get(key) != at or (kept and kept[-1] == (at, key)):
                heapq.heappop(heap)  # superseded, delivered, or listed twice
                continue
            if at > at_most:
                break
            if len(out) + 1 < limit:  # (the last one wanted can stay where it is)
                heapq.heappop(heap)
                kept.append((at, key))
            out.append(self._hand(self._outbox[key]))
        for item in kept:  # still pending until update_outbox says otherwise
            heapq.heappush(heap, item)
        return out

    def _hand(self, e: OutboxEntry) -> OutboxEntry:
        """An outbox entry as handed out: itself (live), or a copy (isolated)."""
        if not self.isolated:
            return e
        return OutboxEntry(
            e.key, e.kind, e.customer_id, _thaw(e.payload), e.not_before, e.attempts, e.status
        )

    def update_outbox(self, entry: OutboxEntry) -> None:
        """Store a delivery attempt's outcome."""
        if not self.isolated:
            self._outbox[entry.key] = entry
            self._queue(entry)
            return
        before = self._outbox.get(entry.key)
        stored = OutboxEntry(
            entry.key,
            entry.kind,
            entry.customer_id,
            _keep(entry.payload, before.payload if before is not None else None),
            entry.not_before,
            entry.attempts,
            entry.status,
        )
        self._outbox[entry.key] = stored
        self._queue(stored)

    def outbox(self) -> list[OutboxEntry]:
        """Every outbox entry."""
        return list(self._outbox.values())

    def get_meta(self, key: str) -> str | None:
        """Engine bookkeeping."""
        return self._meta.get(key)

    # ------------------------------------------------------------------ quarantine

    def quarantine(self, event_id: str, event: str, reason: str, seen: datetime) -> None:
        """Keep a quarantined event (:class:`~journeydsl.runtime.protocols.Quarantine`)."""
        found = self._quarantine.get(event_id)
        if found is None:
            self._quarantine[event_id] = QuarantinedEvent(event_id, event, reason, seen, seen)
        else:
            self._quarantine[event_id] = QuarantinedEvent(
                event_id, event, reason, found.first_seen, seen, found.count + 1
            )

    def quarantined(self, event_id: str | None = None) -> list[QuarantinedEvent]:
        """The quarantined events (or one), first seen first."""
        if event_id is not None:
            found = self._quarantine.get(event_id)
            return [found] if found is not None else []
        return list(self._quarantine.values())

    def release(self, event_id: str) -> bool:
        """Forget a quarantined event that was processed."""
        return self._quarantine.pop(event_id, None) is not None

    def request_replay(self, event_id: str | None = None) -> int:
        """Mark quarantined events for the next run."""
        marked = 0
        for found in self.quarantined(event_id):
            self._quarantine[found.event_id] = dataclasses.replace(found, replay=True)
            marked += 1
        return marked

    # ------------------------------------------------------------------ contact history

    def _contact_log(self) -> defaultdict[str, list[Contact]]:
        return self._contacts_by_customer

    def contacts(self, customer_id: str, since: datetime) -> list[Contact]:
        """The customer's contacts at or after ``since``, oldest first."""
        found = self._contact_log().get(customer_id, [])
        return [c for c in found if c.at >= since]

    def channel_contacts(
        self, channels: Sequence[str], categories: Sequence[str], since: datetime
    ) -> list[datetime]:
        """When the contacts on ``channels`` of ``categories`` at or after ``since`` were made
        (over every customer: what channel throughput limits count), oldest first."""
        return sorted(
            c.at
            for found in self._contact_log().values()
            for c in found
            if c.at >= since and c.channel in channels and c.category in categories
        )

    def prune_contacts(self, before: datetime) -> int:
        """Forget the contacts made before ``before``; returns how many."""
        history = self._contact_log()
        keys = self._contact_keys
        pruned = 0
        for customer in list(history):
            found = history[customer]
            old = bisect.bisect_left(found, _instant(before), key=lambda c: _instant(c.at))
            if old:
                keys.difference_update(c.key for c in found[:old])
                pruned += old
                if old == len(found):
                    del history[customer]
                else:
                    del found[:old]
        return pruned

    def record_delivery(
        self,
        entry: OutboxEntry,
        contact: Contact | None = None,
        instance: InstanceRecord | None = None,
    ) -> None:
        """The outbox update, the contact and the instance record, all or nothing (everything is
        copied through JSON before anything is applied)."""
        if self.isolated:
            _copy(entry.payload)
            if instance is not None:
                _copy(instance)
        history = self._contact_log()
        if instance is not None:
            self.commit([instance], [])
        self.update_outbox(entry)
        keys = self._contact_keys
        if contact is not None and contact.key not in keys:
            keys.add(contact.key)
            found = history[contact.customer_id]
            bisect.insort(found, contact, key=lambda c: c.at)

    # ------------------------------------------------------------------ control of live journeys

    def control_states(self) -> dict[str, ControlState]:
        """Every journey's recorded control state (the ``ControlStore`` protocol)."""
        return dict(self._control_states)

    def set_control(self, state: ControlState, entry: AuditEntry, was: ControlState | None) -> bool:
        """Record ``state`` and its audit ``entry`` if the journey's state is still ``was``."""
        if self._control_states.get(state.journey) != was:
            return False
        self._control_states[state.journey] = state
        self._audit.append(dataclasses.replace(entry, seq=len(self._audit) + 1))
        return True

    def control_audit(self, journey: str | None = None) -> list[AuditEntry]:
        """The audit entries (of ``journey``), oldest first."""
        return [e for e in self._audit if journey is None or e.journey == journey]

    def hold_event(self, journey: str, event_id: str, customer_id: str, event: str) -> None:
        """Keep an event for a paused journey (once)."""
        held = HeldEvent(journey, event_id, customer_id, event)
        self._held.setdefault((journey, event_id), held)

    def held_events(self, journey: str, limit: int) -> list[HeldEvent]:
        """The first ``limit`` events ``journey`` holds, in the order they came."""
        return [h for h in self._held.values() if h.journey == journey][:limit]

    def release_held(self, journey: str, event_id: str) -> None:
        """Forget a held event."""
        self._held.pop((journey, event_id), None)

    def held_counts(self) -> dict[str, int]:
        """How many events each journey holds."""
        counts: dict[str, int] = {}
        for h in self._held.values():
            counts[h.journey] = counts.get(h.journey, 0) + 1
        return counts

    def control_timers(self, journey: str, start: datetime, end: datetime) -> list[str]:
        """The waiting instances of ``journey`` whose timer is due in ``[start, end]``."""
        found = []
        for iid, r in self._inst.items():
            due = r.get("due")
            mine = r["journey"] == journey and r["status"] == "waiting"
            if mine and due and start <= datetime.fromisoformat(due) <= end:
                found.append(iid)
        return sorted(found)

    def journey_counts(self) -> dict[str, tuple[int, int]]:
        """Per journey: (running, ended) instances."""
        counts: dict[str, tuple[int, int]] = {}
        for r in self._inst.values():
            running, ended = counts.get(r["journey"], (0, 0))
            if r["status"] == "ended":
                counts[r["journey"]] = (running, ended + 1)
            else:
                counts[r["journey"]] = (running + 1, ended)
        return counts
