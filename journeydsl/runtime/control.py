"""Control of live journeys: pause, resume and drain, every action audited.

A journey's control state is kept in the state store (:class:`ControlStore`), so that every
process running it — ``journeydsl run``, every ``journeydsl worker`` sharing a PostgreSQL
database, a host's :class:`~journeydsl.runtime.engine.Engine` — sees it:

* **paused**: its instances are held in place. No timer fires (the store keeps them), no outbox
  entry is delivered (they stay pending), no instance moves. An event for the journey is still
  taken: it is stored and *held* for the journey (:meth:`ControlStore.hold_event`), in the
  step's transaction, and applied on resume in the order it came, each as of its own time, with
  the journey's timers that came due before it fired first; an event that would enter a customer
  is held the same way, and enters them on resume. Entries from code (``Engine.enroll``) and
  scheduled segment entries are refused while paused (``enroll`` returns None, as for a re-entry
  rule); the segment's customers enter at its next evaluation after resume. Its tickets in a
  queue with a capacity take part in no release, and their wait does not age (see
  :mod:`~journeydsl.runtime.queues`).
* **draining**: no new entry (an entry event enters nobody, ``enroll`` returns None); the
  running instances go on to their end.
* **active**: the default.

Resuming a paused journey takes a policy for its waits that came due during the pause
(``timers=``): ``"extend"`` moves each of them by the pause's length (in the resume's
transaction, noted in the instance's decision log); ``"fire"`` fires them now, under the
stale-timer rules (a timer later than ``stale_after`` sends nothing to the customer).

Every action is recorded in the store's audit table (:class:`AuditEntry`): who (default: the OS
user), when (aware UTC), what, why. The module functions (:func:`pause`, :func:`resume`,
:func:`drain`) act on a store alone (what ``journeydsl pause`` does); ``engine.control``
(:class:`Control`) does the same for an engine's journeys and applies the change at once.
Engines read the state from the store every :attr:`Control.refresh_every` seconds (1 s), so a
worker sees another process's pause within about a second, plus the step it is in.
"""

from __future__ import annotations

import contextlib
import getpass
import json
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

from journeydsl.expr.context import EventRecord
from journeydsl.runtime.codec import decode_map, encode_map
from journeydsl.runtime.decisions import note
from journeydsl.runtime.hostcalls import iso, log
from journeydsl.runtime.intake import IngestResult
from journeydsl.runtime.interpreter import describe_lateness
from journeydsl.runtime.protocols import GroupCommit, StateStore
from journeydsl.runtime.records import wait_of

if TYPE_CHECKING:
    from journeydsl.runtime.engine import Engine

__all__ = [
    "ACTIVE",
    "DRAINING",
    "PAUSED",
    "AuditEntry",
    "Control",
    "ControlError",
    "ControlState",
    "ControlStore",
    "HeldEvent",
    "Resumed",
    "audit",
    "drain",
    "operator",
    "pause",
    "resume",
    "states",
]

ACTIVE, PAUSED, DRAINING = "active", "paused", "draining"
TimerPolicy = Literal["extend", "fire"]


class ControlError(ValueError):
    """A control action that cannot be done (unknown journey, already paused, no policy …)."""


@dataclass(frozen=True, slots=True)
class ControlState:
    """A journey's control state, since when, set by whom and why."""

    journey: str
    state: str
    since: datetime
    by: str
    reason: str | None = None
    #: After the resume of a paused journey: its ``timers`` policy, ``paused_at`` and
    #: ``resumed_at`` (what the events it held are applied under).
    detail: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One control action: who did what to which journey, when (aware UTC) and why;
    ``detail`` says what it did (the timer policy, how many timers moved, events held …)."""

    at: datetime
    journey: str
    action: str
    by: str
    reason: str | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)
    seq: int = 0

    def as_json(self) -> dict[str, Any]:
        """The entry as ``journeydsl audit --format json`` prints it."""
        return {
            "seq": self.seq,
            "at": self.at.isoformat(),
            "journey": self.journey,
            "action": self.action,
            "by": self.by,
            "reason": self.reason,
            "detail": dict(self.detail),
        }


@dataclass(frozen=True, slots=True)
class HeldEvent:
    """An event a paused journey holds: its id and its JSON (:func:`encode_event`)."""

    journey: str
    event_id: str
    customer_id: str
    event: str

    def record(self) -> EventRecord:
        """The event, as it was taken."""
        raw = json.loads(self.event)
        at = datetime.fromisoformat(raw["at"])
        return EventRecord(raw["customer_id"], raw["type"], at, decode_map(raw["data"]))


def encode_event(ev: EventRecord) -> str:
    """An event's exact JSON (money, timestamps kept by :mod:`~journeydsl.runtime.codec`)."""
    body = {"customer_id": ev.customer_id, "type": ev.type, "at": ev.at.isoformat()}
    return json.dumps({**body, "data": encode_map(ev.data)}, ensure_ascii=False)


@runtime_checkable
class ControlStore(Protocol):
    """**Protocol:** what a state store keeps for the control of live journeys (the memory,
    SQLite and PostgreSQL stores implement it)."""

    def control_states(self) -> dict[str, ControlState]:
        """Every journey's recorded control state (a journey without one is active)."""
        ...

    def set_control(self, state: ControlState, entry: AuditEntry, was: ControlState | None) -> bool:
        """Record ``state`` and its audit ``entry``, in one transaction (or the open one), if
        the journey's recorded state is still ``was`` (None: none); whether it was."""
        ...

    def control_audit(self, journey: str | None = None) -> list[AuditEntry]:
        """The audit entries (of ``journey``), oldest first."""
        ...

    def hold_event(self, journey: str, event_id: str, customer_id: str, event: str) -> None:
        """Keep an event for a paused journey (again: nothing); part of the open transaction."""
        ...

    def held_events(self, journey: str, limit: int) -> list[HeldEvent]:
        """The first ``limit`` events ``journey`` holds, in the order they came."""
        ...

    def release_held(self, journey: str, event_id: str) -> None:
        """Forget a held event (it was applied)."""
        ...

    def held_counts(self) -> dict[str, int]:
        """How many events each journey holds."""
        ...

    def control_timers(self, journey: str, start: datetime, end: datetime) -> list[str]:
        """The waiting instances of ``journey`` whose timer is due in ``[start, end]``."""
        ...

    def journey_counts(self) -> dict[str, tuple[int, int]]:
        """Per journey the store has instances of: (running, ended)."""
        ...


def operator() -> str:
    """Who acts, by default: the OS user."""
    try:
        return getpass.getuser()
    except Exception:  # (no user name in the environment nor the password database)
        return "unknown"


def _store(state: object) -> ControlStore:
    if not isinstance(state, ControlStore):
        raise TypeError(f"{type(state).__name__} keeps no control state (see ControlStore)")
    return state


def _transaction(store: object) -> contextlib.AbstractContextManager[Any]:
    return store.step() if isinstance(store, GroupCommit) else contextlib.nullcontext()


def states(store: object) -> dict[str, ControlState]:
    """Every journey's recorded control state in ``store``."""
    return _store(store).control_states()


def audit(store: object, journey: str | None = None) -> list[AuditEntry]:
    """The audit table of ``store`` (of one journey), oldest first."""
    return _store(store).control_audit(journey)


def _now(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        raise ValueError(f"naive datetime {now.isoformat()} (give an aware one)")
    return now


def _in_order(found: ControlState | None, journey: str, now: datetime) -> None:
    """``ControlError`` for an action dated before the journey's last one (``--now`` in the
    past): a resume before its pause would undo nothing and leave the audit out of order."""
    if found is not None and now < found.since:
        raise ControlError(
            f"the action's time {now.isoformat()} is before journey {journey!r} became "
            f"{found.state} ({_said(found)}): control actions go forward in time"
        )


def state_of(store: ControlStore, journey: str) -> ControlState | None:
    """The recorded control state of ``journey`` (None: active, never controlled)."""
    return store.control_states().get(journey)


def _record(
    store: ControlStore,
    journey: str,
    new: str,
    action: str,
    by: str | None,
    reason: str | None,
    now: datetime,
    detail: Mapping[str, Any],
    was: ControlState | None,
    window: Mapping[str, Any] | None = None,
) -> AuditEntry:
    who = by or operator()
    entry = AuditEntry(now.astimezone(UTC), journey, action, who, reason, dict(detail))
    state = ControlState(journey, new, now, who, reason, dict(window or {}))
    if not store.set_control(state, entry, was):  # (another operator acted meanwhile)
        raise ControlError(f"the control state of journey {journey!r} changed meanwhile; retry")
    log.info("control", journey=journey, action=action, by=who, **detail)
    return entry


def pause(
    store: object,
    journey: str,
    *,
    by: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Pause ``journey`` in ``store`` (see the module docstring); ``ControlError`` when it is
    paused already."""
    found, now = state_of(_store(store), journey), _now(now)
    if found is not None and found.state == PAUSED:
        raise ControlError(f"journey {journey!r} is already paused (since {_said(found)})")
    _in_order(found, journey, now)
    was = found.state if found is not None else ACTIVE
    with _transaction(store):
        return _record(
            _store(store), journey, PAUSED, "pause", by, reason, now, {"was": was}, found
        )


def drain(
    store: object,
    journey: str,
    *,
    by: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> AuditEntry:
    """Stop new entries into ``journey``; its running instances go on to their end."""
    found, now = state_of(_store(store), journey), _now(now)
    if found is not None and found.state != ACTIVE:
        raise ControlError(
            f"journey {journey!r} is {found.state} (since {_said(found)}); "
            + ("resume it first" if found.state == PAUSED else "it is draining already")
        )
    _in_order(found, journey, now)
    with _transaction(store):
        return _record(_store(store), journey, DRAINING, "drain", by, reason, now, {}, found)


@dataclass(frozen=True, slots=True)
class Resumed:
    """What a resume did: its audit entry, the timers it moved (``extend``) and the events the
    journey holds, applied by the engines that run it, at their next step."""

    entry: AuditEntry
    moved: int
    held: int


def resume(
    store: object,
    journey: str,
    *,
    timers: str | None = None,
    by: str | None = None,
    reason: str | None = None,
    now: datetime | None = None,
) -> Resumed:
    """Make ``journey`` active again. A paused one needs ``timers``: ``"extend"`` moves its
    waits that came due during the pause by the pause's length; ``"fire"`` leaves them due, to
    fire now under the stale-timer rules. A draining one opens to entries again."""
    control, now = _store(store), _now(now)
    found = state_of(control, journey)
    if found is None or found.state == ACTIVE:
        raise ControlError(f"journey {journey!r} is not paused nor draining")
    if found.state == PAUSED and timers not in ("extend", "fire"):
        raise ControlError(
            f"resuming the paused journey {journey!r} needs a timer policy: extend (move its "
            "waits that came due during the pause by the pause's length) or fire (fire them "
            "now, under the stale-timer rules)"
        )
    _in_order(found, journey, now)
    held = control.held_counts().get(journey, 0)
    with _transaction(store):
        moved = 0
        detail: dict[str, Any] = {"was": found.state}
        window: dict[str, Any] = {}
        if found.state == PAUSED:
            length = max(now - found.since, timedelta(0))
            if timers == "extend":
                moved = _extend(control, journey, found.since, now, length)
            paused_for = describe_lateness(length)
            detail |= {"timers": timers, "paused_for": paused_for, "moved": moved, "held": held}
            window = {"timers": timers, "paused_at": iso(found.since), "resumed_at": iso(now)}
        entry = _record(control, journey, ACTIVE, "resume", by, reason, now, detail, found, window)
    return Resumed(entry, moved, held)


def _extend(
    store: ControlStore, journey: str, start: datetime, end: datetime, length: timedelta
) -> int:
    """Move the timers of ``journey`` due in ``[start, end]`` by ``length``; how many."""
    state: StateStore = store  # type: ignore[assignment]  # (a ControlStore is a state store)
    moved = 0
    for iid in store.control_timers(journey, start, end):
        inst = state.instance(iid)
        if inst is None or inst["status"] != "waiting" or inst.get("due") is None:
            continue
        due = datetime.fromisoformat(inst["due"] or "")
        later = due + length
        inst["due"] = iso(later)
        node = wait_of(inst)["node"] if inst.get("wait") else inst["node"] or ""
        # (noted as of the pause: the held events, applied next, are decided as of their time)
        by = describe_lateness(length)
        note(inst, start, node, "extended", by=by, was=iso(due), due=iso(later))
        state.commit([inst], [])
        moved += 1
    return moved


def _said(found: ControlState) -> str:
    why = f": {found.reason}" if found.reason else ""
    return f"{found.since.isoformat()}, by {found.by}{why}"


# --------------------------------------------------------------------------- engine.control


class Control:
    """``engine.control``: pause, resume and drain the engine's journeys, and what the engine
    does about the control state (reads it from the store every :attr:`refresh_every`
    seconds; holds the events of paused journeys; applies them after a resume, at its next
    step). It keeps the engine's parts, not the engine (which holds it): the engine's hooks
    hand themselves in, so an engine is freed without the cycle collector."""

    def __init__(self, engine: Engine, refresh_every: float = 1.0) -> None:
        self._state = engine.state
        self._store = engine.state if isinstance(engine.state, ControlStore) else None
        self._clock = engine.clock
        self._latest = engine.latest
        self._versions = engine.versions
        self._entries = engine._entries
        self._scoped = engine._scoped_to
        #: Seconds between two reads of the control state from the store (0: every step).
        self.refresh_every = refresh_every
        self._read_at: float | None = None
        self._base = engine._scoped_to.get("journeys")
        #: The journeys' recorded control states.
        self.states: dict[str, ControlState] = {}
        self._paused: frozenset[str] = frozenset()
        self._held: set[str] = set()  # active journeys that may still hold events

    # ------------------------------------------------------------------ host calls

    def state(self, journey: str) -> str:
        """``"active"``, ``"paused"`` or ``"draining"``."""
        self._known(journey)
        self._refresh(force=True)
        found = self.states.get(journey)
        return ACTIVE if found is None else found.state

    def pause(self, journey: str, *, by: str | None = None, reason: str | None = None) -> None:
        """Pause ``journey`` now (see the module docstring)."""
        self._known(journey)
        pause(self._need(), journey, by=by, reason=reason, now=self._clock.now())
        self._refresh(force=True)

    def drain(self, journey: str, *, by: str | None = None, reason: str | None = None) -> None:
        """Stop new entries into ``journey``; its running instances finish."""
        self._known(journey)
        drain(self._need(), journey, by=by, reason=reason, now=self._clock.now())
        self._refresh(force=True)

    def resume(
        self,
        journey: str,
        *,
        timers: str | None = None,
        by: str | None = None,
        reason: str | None = None,
    ) -> Resumed:
        """Resume ``journey`` (``timers``: ``"extend"`` or ``"fire"`` for a paused one). The
        engine's next ``tick`` (or ``ingest``) applies the events it held, then fires and
        delivers what is due."""
        self._known(journey)
        now = self._clock.now()
        done = resume(self._need(), journey, timers=timers, by=by, reason=reason, now=now)
        self._refresh(force=True)
        return done

    def audit(self, journey: str | None = None) -> list[AuditEntry]:
        """The store's audit entries (of ``journey``), oldest first."""
        return self._need().control_audit(journey)

    # ------------------------------------------------------------------ engine hooks

    def admit(
        self, engine: Engine, eid: str, ev: EventRecord, done: frozenset[str]
    ) -> frozenset[str]:
        """Before ``engine`` takes ``ev``: apply what resumed journeys hold, then hold ``ev``
        for the paused journeys; the journeys that do not take it now (``done`` and those)."""
        self._refresh()
        if self._held:
            self._catch_up(engine, max(self._clock.now(), ev.at))
        paused = self._paused.difference(done)
        if not paused:
            return done
        assert self._store is not None  # (only a control store has paused journeys)
        body = encode_event(ev)
        for journey in sorted(paused):
            self._store.hold_event(journey, eid, ev.customer_id, body)
        return done | paused

    def check(self, engine: Engine, now: datetime) -> datetime:
        """Before ``engine`` ticks at ``now``: read the state when due, apply what resumed
        journeys hold. A ``now`` without a UTC offset (``datetime.now()``) is a ValueError: the
        engine's times are instants, and a local time of no zone names none."""
        if now.utcoffset() is None:
            raise ValueError(
                f"the engine needs an aware time (with a UTC offset), not {now.isoformat()}: "
                "write e.g. datetime.now(UTC)"
            )
        self._refresh()
        if self._held:
            self._catch_up(engine, now)
        return now

    # ------------------------------------------------------------------ inside

    def _need(self) -> ControlStore:
        return _store(self._state)

    def _known(self, journey: str) -> None:
        if journey not in self._latest:
            names = ", ".join(sorted(self._latest))
            raise ControlError(f"unknown journey {journey!r}; this engine runs: {names}")

    def _refresh(self, force: bool = False) -> None:
        if self._store is None:
            return
        clock = time.monotonic()
        if not force and self._read_at is not None and clock - self._read_at < self.refresh_every:
            return
        self._read_at = clock
        self.states = self._store.control_states()
        mine = self._latest
        paused = frozenset(j for j, s in self.states.items() if s.state == PAUSED and j in mine)
        closed = {j for j, s in self.states.items() if s.state != ACTIVE}
        held = self._store.held_counts() if self.states else {}
        self._held = {j for j, n in held.items() if n and j in mine and j not in paused}
        self._entries.closed = closed
        self._entries.paused = paused
        if paused != self._paused:
            self._paused = paused
            self._scope(paused)

    def _scope(self, paused: Collection[str]) -> None:
        """Narrow the timers and the outbox the engine sees to the journeys not paused."""
        scoped = self._scoped
        base = self._base if self._base is not None else frozenset(self._versions)
        if paused:
            scoped["journeys"] = frozenset(k for k in base if k[0] not in paused)
        elif self._base is not None:
            scoped["journeys"] = self._base
        else:
            scoped.pop("journeys", None)

    def _catch_up(self, engine: Engine, now: datetime) -> None:
        """Apply the events the resumed journeys held, in order (each journey's timers due
        before an event fire first, as they would have)."""
        assert self._store is not None
        scoped = getattr(self._store, "scope", None) is not None  # (a worker's bucket)
        for journey in sorted(self._held):
            while held := self._store.held_events(journey, 100):
                for one in held:
                    self._apply(engine, one, now)
            if not scoped:
                self._held.discard(journey)

    def _apply(self, engine: Engine, held: HeldEvent, now: datetime) -> None:
        ev = held.record()
        others = frozenset(engine.latest) - {held.journey}
        store = self._store
        assert store is not None
        window = self.states[held.journey].detail if held.journey in self.states else {}
        with engine._group():
            _fire_before(engine, held.journey, ev.at, now)
            engine._take(ev, held.event_id, IngestResult(held.event_id), others)
            if window.get("timers") == "extend":  # its waits due during the pause: extended too
                start = datetime.fromisoformat(window["paused_at"])
                end = datetime.fromisoformat(window["resumed_at"])
                _extend(store, held.journey, start, end, end - start)
            store.release_held(held.journey, held.event_id)
        log.info("held_event_applied", journey=held.journey, event_id=held.event_id)


def _fire_before(engine: Engine, journey: str, at: datetime, now: datetime) -> None:
    """Fire the timers of ``journey`` due by ``at`` (late by ``now``: the stale rules)."""
    mine = frozenset(k for k in engine.versions if k[0] == journey)
    fired: set[tuple[str, str]] = set()  # (instance, due): an instance may wait again
    read: Callable[[str], Any] = engine._waits._instance
    while True:
        todo = []
        for iid in engine.state.due(at, 100, journeys=mine):  # type: ignore[call-arg]
            inst = read(iid)
            if inst is None or inst["status"] != "waiting" or not inst.get("due"):
                continue
            if (iid, inst["due"]) not in fired:
                fired.add((iid, inst["due"]))
                todo.append(inst)
        if not todo:
            return
        for inst in todo:
            engine._waits._fire_one(inst, now)
