"""Hand-offs at engine level: `enter JOURNEY with { … }` creates the target's instance in the
same commit as the step that hands off, with the values passed as its variables, under the
target's entry rules; on the memory and the SQLite stores, and under a crash at every call."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeydsl import ir
from journeydsl.compiler import compile_file, compile_source
from journeydsl.runtime.codec import decode_map
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import Profile, StateStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)
from tests.runtime.crashing import Crash, Fuse, Proxy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=TZ)
HORIZON = T0 + timedelta(days=20)
CUSTOMERS = ("c-activated", "c-engaged", "c-quiet", "c-called", "c-engaged-2")


@cache
def journeys() -> tuple[ir.Journey, ...]:
    out = []
    for name in ("activation_handoff", "activation_call"):
        result = compile_file(EXAMPLES / f"{name}.journey")
        assert result.journey is not None, [str(d) for d in result.diagnostics]
        out.append(result.journey)
    return tuple(out)


def stream() -> list[dict[str, Any]]:
    """card_issued for everyone; app installs for the engaged ones; one activation in time."""
    out: list[dict[str, Any]] = []
    for n, c in enumerate(CUSTOMERS):
        at = T0 + timedelta(minutes=n)
        out.append(
            {"customer_id": c, "type": "card_issued", "at": at.isoformat(),
             "data": {"card_id": f"k-{c}", "product": "gold"}}
        )  # fmt: skip
    for c, day in (("c-engaged", 1), ("c-called", 2), ("c-engaged-2", 3), ("c-activated", 1)):
        at = T0 + timedelta(days=day)
        out.append({"customer_id": c, "type": "app_installed", "at": at.isoformat(), "data": {}})
    at = T0 + timedelta(days=2)
    out.append(
        {"customer_id": "c-activated", "type": "card_activated", "at": at.isoformat(),
         "data": {"card_id": "k-c-activated"}}
    )  # fmt: skip
    at = T0 + timedelta(days=10)  # activated after the call
    out.append(
        {"customer_id": "c-engaged-2", "type": "card_activated", "at": at.isoformat(),
         "data": {"card_id": "k-c-engaged-2"}}
    )  # fmt: skip
    return sorted(out, key=lambda e: str(e["at"]))


def _advance(engine: Engine, clock: SteppableClock, until: datetime) -> None:
    while (w := engine.next_wakeup()) is not None and w <= until:
        clock.set(w)
        engine.tick(w)


def run(engine: Engine, clock: SteppableClock, before: Callable[[], None] | None = None) -> None:
    """The stream, then time to the horizon (``before``: once, before the stream: an enrol)."""
    if before is not None:
        before()
    for ev in stream():
        at = datetime.fromisoformat(ev["at"])
        _advance(engine, clock, at)
        clock.set(at)
        engine.ingest(ev)
    _advance(engine, clock, HORIZON)


def build(
    state: Any, events: Any, sms: Any, tickets: Any, clock: SteppableClock, **kw: Any
) -> Engine:
    profiles = MemoryProfileStore([Profile(c, {}, {"sms": True, "email": True}) for c in CUSTOMERS])
    return Engine(
        kw.pop("journeys", journeys()),
        events=events,
        profiles=profiles,
        state=state,
        clock=clock,
        channels={"sms": sms},
        tickets=tickets,
        **kw,
    )


def call_early(engine: Engine, clock: SteppableClock) -> Callable[[], None]:
    """c-called is enrolled into the call from code first: the hand-off a week later is refused
    by the call's re-entry rule (one call a month)."""

    def enrol() -> None:
        clock.set(T0)
        engine.enroll("c-called", "activation_call", {"card_id": "k-c-called", "reason": "crm"})

    return enrol


def outcomes(state: StateStore, customers: tuple[str, ...] = CUSTOMERS) -> dict[str, list[Any]]:
    return {
        c: sorted((i["journey"], i["outcome"]) for i in state.instances_of(c)) for c in customers
    }


EXPECTED = {
    "c-activated": [("activation_handoff", "activated")],
    "c-engaged": [("activation_call", "called"), ("activation_handoff", "handed_to_call")],
    "c-quiet": [("activation_handoff", "not_engaged")],
    "c-called": [("activation_call", "called"), ("activation_handoff", "recently_called")],
    "c-engaged-2": [("activation_call", "activated"), ("activation_handoff", "handed_to_call")],
}


def test_a_handoff_chain_of_two_journeys_on_the_memory_store() -> None:
    """Engaged customers are handed to the call journey with their card and the reason (its
    variables), the call's re-entry rule refuses one already called (the `not entered` exit),
    and the call runs on: its ticket, its wait, its SMS."""
    state, clock = MemoryStateStore(), SteppableClock(T0)
    sms, tickets = RecordingChannel("sms"), RecordingTickets()
    engine = build(state, MemoryEventStore(), sms, tickets, clock)
    run(engine, clock, call_early(engine, clock))
    assert outcomes(state) == EXPECTED
    (call,) = [i for i in state.instances_of("c-engaged") if i["journey"] == "activation_call"]
    assert decode_map(call["vars"]) == {
        "card_id": "k-c-engaged",
        "reason": "installed_not_activated",
    }
    assert call["entered_at"] == (T0 + timedelta(days=7, minutes=1)).isoformat()  # (its 7d)
    reasons = sorted((t.customer_id, t.payload["reason"]) for t in tickets.opened)
    assert reasons == [
        ("c-called", "crm"),
        ("c-engaged", "installed_not_activated"),
        ("c-engaged-2", "installed_not_activated"),
    ]
    assert sorted(m.customer_id for m in sms.delivered) == ["c-called", "c-engaged"]
    handoffs = [
        dict(e) for i in state.instances_of("c-called") for e in i["log"] if e["what"] == "handoff"
    ]
    assert [(e["journey"], e["entered"]) for e in handoffs] == [("activation_call", False)]


def test_the_same_chain_on_the_sqlite_store(tmp_path: Path) -> None:
    """On SQLite, the chain gives the same outcomes, and a store opened again holds both
    instances of each hand-off."""
    from journeydsl.runtime.stores.sqlite import SQLiteStore

    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    clock = SteppableClock(T0)
    engine = build(store, store, RecordingChannel("sms"), RecordingTickets(), clock)
    run(engine, clock, call_early(engine, clock))
    assert outcomes(store) == EXPECTED
    store.close()
    again = SQLiteStore(path)
    try:
        assert outcomes(again) == EXPECTED
    finally:
        again.close()


def test_an_engine_refuses_a_journey_whose_target_it_does_not_run() -> None:
    """Without the journey it hands off to, the engine does not start, and says which."""
    with pytest.raises(ValueError, match="activation_handoff hands off to activation_call"):
        build(
            MemoryStateStore(),
            MemoryEventStore(),
            RecordingChannel("sms"),
            RecordingTickets(),
            SteppableClock(T0),
            journeys=journeys()[:1],
        )


CYCLE = {
    "ping": """
journey ping
uses events "events.yaml"
outcomes done
entry manual with { n: int }
  reentry always
enter pong with { n: n + 1 }
exit done
""",
    "pong": """
journey pong
uses events "events.yaml"
outcomes done
entry manual with { n: int }
  reentry always
enter ping with { n: n + 1 }
exit done
""",
}


def test_a_cycle_of_handoffs_stops_in_its_step(tmp_path: Path) -> None:
    """ping hands to pong, which hands back to ping while ping runs: the checker warns of the
    cycle, and at run time the second hand-off is refused in that step (no loop)."""
    for name, text in CYCLE.items():
        (tmp_path / f"{name}.journey").write_text(text)
    (tmp_path / "events.yaml").write_text((EXAMPLES / "events.yaml").read_text())
    compiled = [compile_file(tmp_path / f"{n}.journey") for n in CYCLE]
    assert [d.code for r in compiled for d in r.diagnostics] == ["JD508", "JD508"]
    assert "hand-off cycle: ping → pong → ping" in compiled[0].diagnostics[0].message
    found = [r.journey for r in compiled]
    assert all(j is not None for j in found)
    state, clock = MemoryStateStore(), SteppableClock(T0)
    engine = build(state, MemoryEventStore(), None, None, clock, journeys=found)
    assert engine.enroll("c-quiet", "ping", {"n": 1}) is not None
    got = {i["journey"]: (i["outcome"], decode_map(i["vars"])) for i in state.all_instances()}
    assert got == {"ping": ("done", {"n": 1}), "pong": ("done", {"n": 2})}


# ---------------------------------------------------------------- crash at every call


@dataclass
class World:
    """What survives a crash: the stores, the channel and the ticket sink."""

    events: MemoryEventStore = field(default_factory=MemoryEventStore)
    state: MemoryStateStore = field(default_factory=MemoryStateStore)
    sms: RecordingChannel = field(default_factory=lambda: RecordingChannel("sms"))
    tickets: RecordingTickets = field(default_factory=RecordingTickets)

    def drive(self, fuse: Fuse) -> None:
        """Run the stream to the horizon, restarting after every crash (the fuse blows once)."""
        while True:
            clock = SteppableClock(T0)
            p = Proxy
            engine = build(
                p(self.state, fuse), p(self.events, fuse), p(self.sms, fuse),
                p(self.tickets, fuse), clock,
            )  # fmt: skip
            try:
                run(engine, clock)
                return
            except Crash:
                fuse.at = None

    def effects(self) -> tuple[Counter[str], Counter[str]]:
        return (
            Counter(m.idempotency_key for m in self.sms.delivered),
            Counter(t.idempotency_key for t in self.tickets.opened),
        )


def _points(total: int, limit: int) -> Iterator[int]:
    if total <= limit:
        yield from range(1, total + 1)
        return
    step = total / limit
    yield from sorted({1, total, *(int(1 + i * step) for i in range(limit))})


def test_a_crash_at_every_call_changes_no_handoff() -> None:
    """For every k, a crash before or after the k-th call into a store, the channel or the
    ticket sink, and a restart, give the same instances (both journeys of each chain, never
    one without the other), outcomes, variables, tickets and messages, each once."""
    ref = World()
    counter = Fuse()
    ref.drive(counter)
    expected = {i["id"]: (i["outcome"], i["vars"]) for i in ref.state.all_instances()}
    assert len([k for k in expected if k.startswith("activation_call/")]) == 3
    for after in (False, True):
        for k in _points(counter.calls, 3_000):
            world = World()
            world.drive(Fuse(at=k, after=after))
            where = f"crash {'after' if after else 'before'} call {k}"
            got = {i["id"]: (i["outcome"], i["vars"]) for i in world.state.all_instances()}
            assert got == expected, where
            assert world.effects() == ref.effects(), where


def test_a_handoff_without_the_target_loaded_in_a_test_compile_is_reported() -> None:
    """Compiled from a folder without the target, a hand-off names what is missing (JD213)."""
    text = (EXAMPLES / "activation_handoff.journey").read_text()
    result = compile_source(text, "elsewhere/activation_handoff.journey", base_dir=EXAMPLES)
    assert result.ok  # (the catalogs' folder holds the target too)
    lone = compile_source(
        text.replace("enter activation_call", "enter activation_cal"),
        "x.journey",
        base_dir=EXAMPLES,
    )
    assert [d.code for d in lone.diagnostics] == ["JD213"]


def test_enroll_gives_the_declared_values_and_refuses_wrong_ones() -> None:
    """`Engine.enroll` sets a journey's declared inputs from its data; one missing or of another
    type is a ValueError, and nobody enters."""
    state, clock = MemoryStateStore(), SteppableClock(T0)
    engine = build(state, MemoryEventStore(), RecordingChannel("sms"), RecordingTickets(), clock)
    with pytest.raises(ValueError, match=r"expects .*field 'reason' is missing"):
        engine.enroll("c-quiet", "activation_call", {"card_id": "k"})
    with pytest.raises(ValueError, match="field 'card_id'"):
        engine.enroll("c-quiet", "activation_call", {"card_id": 7, "reason": "crm"})
    assert state.instances_of("c-quiet") == []
    assert engine.enroll("c-quiet", "activation_call", {"card_id": "k", "reason": "crm"})
    (inst,) = state.instances_of("c-quiet")
    assert decode_map(inst["vars"]) == {"card_id": "k", "reason": "crm"}


TEMPORAL = """
journey dated_callback
uses events "events.yaml"
outcomes done
entry manual with { due: date, call_at: timestamp, slot: time, grace: duration }
  reentry always
wait until call_at + grace
exit done
"""


@pytest.mark.parametrize(
    "data",
    [
        {"due": "2026-03-31", "call_at": "2026-03-05T09:00:00+07:00", "slot": "09:30",
         "grace": "1d12h"},
        {"due": date(2026, 3, 31), "call_at": datetime(2026, 3, 5, 9, tzinfo=TZ),
         "slot": time(9, 30), "grace": timedelta(hours=36)},
    ],
    ids=["texts", "values"],
)  # fmt: skip
def test_enroll_takes_dates_timestamps_times_and_durations(
    tmp_path: Path, data: dict[str, Any]
) -> None:
    """A manual entry's declared date, timestamp, time and duration values are taken from
    `Engine.enroll`'s data, as Python values or as the ISO texts a JSON or YAML file writes."""
    (tmp_path / "events.yaml").write_text((EXAMPLES / "events.yaml").read_text())
    compiled = compile_source(TEMPORAL, "dated_callback.journey", base_dir=tmp_path)
    assert compiled.journey is not None, [str(d) for d in compiled.diagnostics]
    state, clock = MemoryStateStore(), SteppableClock(T0)
    engine = build(state, MemoryEventStore(), None, None, clock, journeys=[compiled.journey])
    assert engine.enroll("c-quiet", "dated_callback", data)
    (inst,) = state.instances_of("c-quiet")
    assert decode_map(inst["vars"]) == {
        "due": date(2026, 3, 31),
        "call_at": datetime(2026, 3, 5, 9, tzinfo=TZ),
        "slot": time(9, 30),
        "grace": timedelta(hours=36),
    }
    assert inst["due"] == datetime(2026, 3, 6, 21, tzinfo=TZ).isoformat()


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("due", "2026-02-30", "is not a date"),
        ("call_at", "2026-03-05T09:00:00", "has no UTC offset"),
        ("call_at", "0001-01-01T00:00:00+07:00", "out of range"),
        ("slot", "25:00", "is not a time of day"),
        ("grace", "3 days", "is not a duration"),
        ("grace", "99999d", "longest duration"),
    ],
)
def test_enroll_refuses_a_temporal_value_it_cannot_read(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    """A declared date, timestamp, time or duration given as a text that is not one is a
    ValueError naming the field, and nobody enters."""
    (tmp_path / "events.yaml").write_text((EXAMPLES / "events.yaml").read_text())
    compiled = compile_source(TEMPORAL, "dated_callback.journey", base_dir=tmp_path)
    assert compiled.journey is not None
    state = MemoryStateStore()
    engine = build(
        state, MemoryEventStore(), None, None, SteppableClock(T0), journeys=[compiled.journey]
    )
    data = {"due": "2026-03-31", "call_at": "2026-03-05T09:00:00+07:00", "slot": "09:30",
            "grace": "1d"} | {name: value}  # fmt: skip
    with pytest.raises(ValueError, match=f"field '{name}': .*{says}"):
        engine.enroll("c-quiet", "dated_callback", data)
    assert state.instances_of("c-quiet") == []


def test_a_draining_target_refuses_the_handoff_which_takes_not_entered() -> None:
    """While the call journey is drained (docs/operations.md), a hand-off to it enters nobody:
    every engaged customer takes the `not entered` exit, and no call is made."""
    state, clock = MemoryStateStore(), SteppableClock(T0)
    sms, tickets = RecordingChannel("sms"), RecordingTickets()
    engine = build(state, MemoryEventStore(), sms, tickets, clock)
    engine.control.refresh_every = 0
    engine.control.drain("activation_call", by="ops")
    run(engine, clock)
    handed = {c: o for c, o in outcomes(state).items() if ("activation_call", "called") in o}
    assert handed == {}
    assert ("activation_handoff", "recently_called") in outcomes(state)["c-engaged"]
    assert tickets.opened == []


def test_a_refused_handoff_logs_why_it_was_refused() -> None:
    """The decision log of a refused hand-off says why, and `explain` prints it: the target's
    re-entry rule (c-called was called from code a week before), or the target paused or
    draining (which the log used to put down to its entry rules)."""
    from journeydsl.simulate.report import _describe_entry

    def refusals(state: MemoryStateStore) -> dict[str, object]:
        handoffs = [
            (i["customer_id"], dict(e))
            for i in state.all_instances()
            for e in i["log"]
            if e["what"] == "handoff"
        ]
        return {c: e["why"] for c, e in handoffs if not e["entered"]}

    state, clock = MemoryStateStore(), SteppableClock(T0)
    engine = build(state, MemoryEventStore(), RecordingChannel("sms"), RecordingTickets(), clock)
    run(engine, clock, call_early(engine, clock))
    assert refusals(state) == {"c-called": "its entry rules refused"}

    state, clock = MemoryStateStore(), SteppableClock(T0)
    engine = build(state, MemoryEventStore(), RecordingChannel("sms"), RecordingTickets(), clock)
    engine.control.refresh_every = 0
    engine.control.drain("activation_call", by="ops")
    run(engine, clock)
    drained = refusals(state)
    assert set(drained.values()) == {"it is paused or draining"}
    (entry,) = [
        e for i in state.instances_of("c-engaged") for e in i["log"] if e["what"] == "handoff"
    ]
    assert _describe_entry(entry, "Asia/Ho_Chi_Minh") == (
        "not entered into activation_call: it is paused or draining"
    )
