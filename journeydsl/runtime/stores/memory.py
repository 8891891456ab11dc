"""In-memory stores: for tests and simulation. Commits are atomic (all or nothing) and records are
copied through JSON, so what a test sees is exactly what a durable store would have kept."""

from __future__ import annotations

import bisect
import heapq
import json
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from journeydsl.expr.context import AggregateQuery, EvalContext, EventRecord, run_aggregate
from journeydsl.runtime.protocols import OutboxEntry, Profile

__all__ = ["MemoryEventStore", "MemoryProfileStore", "MemoryStateStore"]


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


class MemoryProfileStore:
    """Profiles in a dict; unknown customers get a default profile."""

    def __init__(self, profiles: Iterable[Profile] = ()) -> None:
        self._p: dict[str, Profile] = {p.customer_id: p for p in profiles}

    def add(self, profile: Profile) -> None:
        """Add or replace a profile."""
        self._p[profile.customer_id] = profile

    def get(self, customer_id: str) -> Profile:
        """The profile, or a default one."""
        return self._p.get(customer_id) or Profile(customer_id)

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


def _copy(record: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(record))
    return result


class MemoryStateStore:
    """Instance records, a due-timer heap, the outbox and processed-event markers."""

    def __init__(self) -> None:
        self._inst: dict[str, dict[str, Any]] = {}
        self._by_customer: dict[str, list[str]] = defaultdict(list)
        # (instant, due text as stored, instance id): ordered by the instant, since due times
        # carry different UTC offsets and their text does not sort by time.
        self._timers: list[tuple[datetime, str, str]] = []
        self._outbox: dict[str, OutboxEntry] = {}
        self._pending: list[tuple[datetime, str]] = []
        self._processed: set[str] = set()
        self._meta: dict[str, str] = {}

    def commit(
        self,
        instances: Sequence[dict[str, Any]],
        outbox: Sequence[OutboxEntry],
        processed_event: str | None = None,
        meta: Mapping[str, str] | None = None,
    ) -> None:
        """Apply everything at once (copies are made first, so a failure applies nothing)."""
        records = [_copy(r) for r in instances]
        entries = [
            OutboxEntry(
                e.key, e.kind, e.customer_id, _copy(e.payload), e.not_before, e.attempts, e.status
            )
            for e in outbox
        ]
        for r in records:
            if r["id"] not in self._inst:
                self._by_customer[r["customer_id"]].append(r["id"])
            self._inst[r["id"]] = r
            if r.get("due") and r["status"] == "waiting":
                heapq.heappush(self._timers, (datetime.fromisoformat(r["due"]), r["due"], r["id"]))
        for e in entries:
            if e.key not in self._outbox:
                self._outbox[e.key] = e
                heapq.heappush(self._pending, (e.not_before, e.key))
        if processed_event is not None:
            self._processed.add(processed_event)
        if meta:
            self._meta.update(meta)

    def instance(self, instance_id: str) -> dict[str, Any] | None:
        """One record (a copy)."""
        r = self._inst.get(instance_id)
        return _copy(r) if r is not None else None

    def instances_of(self, customer_id: str) -> list[dict[str, Any]]:
        """A customer's records (copies), oldest first."""
        return [_copy(self._inst[i]) for i in self._by_customer.get(customer_id, [])]

    def all_instances(self) -> list[dict[str, Any]]:
        """Every record (copies)."""
        return [_copy(r) for r in self._inst.values()]

    def _live_timer(self, due: str, iid: str) -> bool:
        r = self._inst.get(iid)
        return r is not None and r["status"] == "waiting" and r.get("due") == due

    def due(self, now: datetime, limit: int = 1000) -> list[str]:
        """Waiting instances whose timer is at or before ``now``, earliest first."""
        out: list[str] = []
        seen: set[str] = set()
        while self._timers and len(out) < limit:
            when, due, iid = self._timers[0]
            if not self._live_timer(due, iid):
                heapq.heappop(self._timers)
                continue
            if when > now:
                break
            heapq.heappop(self._timers)
            if iid not in seen:
                seen.add(iid)
                out.append(iid)
        # Timers stay in the heap until their instance moves on (a crash must not lose them).
        for iid in out:
            due = self._inst[iid]["due"]
            heapq.heappush(self._timers, (datetime.fromisoformat(due), due, iid))
        return out

    def next_due(self) -> datetime | None:
        """The earliest live timer."""
        while self._timers and not self._live_timer(self._timers[0][1], self._timers[0][2]):
            heapq.heappop(self._timers)
        return self._timers[0][0] if self._timers else None

    def processed(self, event_id: str) -> bool:
        """Whether the event was processed."""
        return event_id in self._processed

    def pending_outbox(self, now: datetime, limit: int = 1000) -> list[OutboxEntry]:
        """Pending entries due at ``now``, by due time then key."""
        out: list[OutboxEntry] = []
        while self._pending:
            nb, key = self._pending[0]
            e = self._outbox[key]
            if e.status != "pending" or e.not_before != nb:
                heapq.heappop(self._pending)
                continue
            break
        listed: set[str] = set()
        for nb, key in sorted(self._pending):
            if len(out) >= limit or nb > now:
                break
            e = self._outbox[key]
            if e.status == "pending" and e.not_before == nb and key not in listed:
                listed.add(key)
                out.append(
                    OutboxEntry(
                        e.key,
                        e.kind,
                        e.customer_id,
                        _copy(e.payload),
                        e.not_before,
                        e.attempts,
                        e.status,
                    )
                )
        return out

    def update_outbox(self, entry: OutboxEntry) -> None:
        """Store a delivery attempt's outcome."""
        stored = OutboxEntry(
            entry.key,
            entry.kind,
            entry.customer_id,
            _copy(entry.payload),
            entry.not_before,
            entry.attempts,
            entry.status,
        )
        self._outbox[entry.key] = stored
        if stored.status == "pending":
            heapq.heappush(self._pending, (stored.not_before, stored.key))

    def outbox(self) -> list[OutboxEntry]:
        """Every outbox entry."""
        return list(self._outbox.values())

    def get_meta(self, key: str) -> str | None:
        """Engine bookkeeping."""
        return self._meta.get(key)
