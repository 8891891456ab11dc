"""Decision calls (`decide`): every exit (answer, error, timeout, none given) under a crash at
every call into the stores and the decision function, retries through durable timers, answers
kept so that a restart or a replay never asks again, and a real timeout on a blocked function.

A "crash" is a ``BaseException`` raised at the k-th call, before or after the call takes effect:
not an ``Exception``, so neither the decision machinery nor the interpreter mistakes it for a
failed call; it leaves the engine as a killed process would. "Restart" is a new Engine over the
same stores and the same decision function (the world outside), replaying the stream.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from journeydsl import ir
from journeydsl.compiler import compile_source
from journeydsl.expr.types import INT
from journeydsl.money import Money
from journeydsl.runtime.decide import DecisionCall, immediate, typed_answer
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import Profile
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    SteppableClock,
)
from tests.runtime.crashing import Crash, Fuse, Proxy

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=TZ)
HORIZON = T0 + timedelta(days=5)

#: Every exit of a decision: the answer (two ways), a failed call with its own exit, a timeout
#: with its own exit, and (in `bare`) a failure without an exit.
SOURCE = """
journey exits
uses events "events.yaml"
uses templates "templates.yaml"
outcomes high, low, failed, slow, kyc_ok, kyc_stale
entry on card_activated

decide limit = credit.preapproved_limit(customer: customer_id) timeout 2s retry 1 every 10m
  on error { exit failed }
  on timeout { exit slow }
if limit.approved and limit.amount >= 30_000_000 VND {
  send email limit_increase_offer { new_limit: limit.amount }
  exit high
}
exit low
"""
BARE = """
journey bare
uses events "events.yaml"
uses templates "templates.yaml"
outcomes kyc_ok, kyc_stale
entry on app_installed

decide current = kyc.is_current(customer: customer_id) retry 0
if current { exit kyc_ok }
exit kyc_stale
"""


@cache
def journeys() -> tuple[ir.Journey, ...]:
    out = []
    for name, text in (("exits", SOURCE), ("bare", BARE)):
        result = compile_source(text, str(EXAMPLES / f"{name}.journey"))
        assert result.journey is not None, [str(d) for d in result.diagnostics]
        out.append(result.journey)
    return tuple(out)


@dataclass
class AfterAnswerCommitted(Fuse):
    """Blows right after the first commit that follows the first decision call."""

    asked: bool = False

    def hit(self, name: str = "") -> bool:
        self.calls += 1
        if self.at is None and self.calls > 1 and not self.asked:
            return False  # (disarmed after it blew)
        if name == "__call__":
            self.asked = True
        return self.asked and name == "commit" and self.at is not None


#: What each customer's decision service does, attempt after attempt (the last repeats).
SCRIPT: dict[str, tuple[str, ...]] = {
    "c-high": ("answer:50000000",),
    "c-low": ("answer:10000000",),
    "c-retried": ("error", "answer:40000000"),  # one failure, then the answer on the retry
    "c-failed": ("error",),
    "c-slow": ("error", "timeout"),  # the last attempt timed out: the timeout exit
    "c-kyc": ("answer:yes",),
    "c-kyc-down": ("error",),  # `bare` has no exit: the instance ends with outcome error
}


@dataclass
class Service:
    """The bank's decision service: answers by its script, and counts the calls per key."""

    calls: Counter[str] = field(default_factory=Counter)

    def __call__(self, call: DecisionCall) -> Any:
        self.calls[call.key] += 1
        steps = SCRIPT[call.customer_id]
        step = steps[min(call.attempt, len(steps)) - 1]
        if step == "error":
            raise ConnectionError("decision service unavailable")
        if step == "timeout":
            raise TimeoutError("no answer in time")
        value = step.split(":", 1)[1]
        if call.function == "kyc.is_current":
            return value == "yes"
        amount = Money(Decimal(value), "VND")
        return {"approved": True, "amount": amount, "tier": "gold"}


@dataclass
class World:
    """The durable stores and the outside world, which survive a crash."""

    events: MemoryEventStore = field(default_factory=MemoryEventStore)
    state: MemoryStateStore = field(default_factory=MemoryStateStore)
    email: RecordingChannel = field(default_factory=lambda: RecordingChannel("email"))
    service: Service = field(default_factory=Service)

    def engine(self, fuse: Fuse, clock: SteppableClock) -> Engine:
        profiles = MemoryProfileStore(
            [Profile(c, {}, {"email": True, "push": True}) for c in SCRIPT]
        )
        service = immediate(Proxy(self.service, fuse))
        return Engine(
            journeys(),
            events=Proxy(self.events, fuse),
            profiles=profiles,
            state=Proxy(self.state, fuse),
            clock=clock,
            channels={"email": Proxy(self.email, fuse)},
            decisions={"credit.preapproved_limit": service, "kyc.is_current": service},
        )

    def outcomes(self) -> dict[str, tuple[str, str | None]]:
        return {r["id"]: (r["status"], r["outcome"]) for r in self.state.all_instances()}

    def sent(self) -> Counter[tuple[str, str]]:
        return Counter(
            (m.idempotency_key, repr(sorted(m.params.items()))) for m in self.email.delivered
        )

    def answers(self) -> dict[str, list[Any]]:
        """The answers each instance's decision log recorded."""
        return {
            r["id"]: [e.get("value") for e in r["log"] if e["what"] == "decide" and "value" in e]
            for r in self.state.all_instances()
        }


def stream() -> list[dict[str, Any]]:
    return [
        {
            "customer_id": c,
            "type": "app_installed" if c.startswith("c-kyc") else "card_activated",
            "at": (T0 + timedelta(minutes=n)).isoformat(),
            "data": {} if c.startswith("c-kyc") else {"card_id": f"k-{c}"},
        }
        for n, c in enumerate(SCRIPT)
    ]


def drive(world: World, fuse: Fuse) -> None:
    """Run the stream to the horizon, restarting after every crash (the fuse blows once)."""
    while True:
        clock = SteppableClock(T0)
        engine = world.engine(fuse, clock)
        try:
            for ev in stream():
                at = datetime.fromisoformat(ev["at"])
                _advance(engine, clock, at)
                clock.set(at)
                engine.ingest(ev)
            _advance(engine, clock, HORIZON)
            return
        except Crash:
            fuse.at = None


def _advance(engine: Engine, clock: SteppableClock, until: datetime) -> None:
    while (w := engine.next_wakeup()) is not None and w <= until:
        clock.set(w)
        engine.tick(w)


def _reference() -> World:
    world = World()
    drive(world, Fuse())
    return world


def test_every_exit_of_a_decision_is_taken() -> None:
    """An answer goes on with it (after a failed attempt, on the retry), a failed last attempt
    takes `on error`, a timed-out one `on timeout`, and a failure without an exit ends the
    instance with outcome error."""
    world = _reference()
    outcomes = {k.split("/")[1]: v[1] for k, v in world.outcomes().items()}
    assert outcomes == {
        "c-high": "high",
        "c-low": "low",
        "c-retried": "high",
        "c-failed": "failed",
        "c-slow": "slow",
        "c-kyc": "kyc_ok",
        "c-kyc-down": "error",
    }
    # each failed attempt but the last was retried once (retry 1), `bare` never (retry 0)
    per_customer = Counter(
        key.split(":")[2].split("/")[1] for key in world.service.calls.elements()
    )
    assert per_customer == {
        "c-high": 1,
        "c-low": 1,
        "c-retried": 2,
        "c-failed": 2,
        "c-slow": 2,
        "c-kyc": 1,
        "c-kyc-down": 1,
    }
    assert sorted(k for k, _ in world.sent()) == [
        "exits:1:exits/c-high/1:email_limit_increase_offer:0:email",
        "exits:1:exits/c-retried/1:email_limit_increase_offer:0:email",
    ]


def _crash_points(total: int, limit: int) -> Iterator[int]:
    if total <= limit:
        yield from range(1, total + 1)
        return
    step = total / limit
    yield from sorted({1, total, *(int(1 + i * step) for i in range(limit))})


def test_a_crash_at_every_call_changes_no_exit_and_no_answer() -> None:
    """For EVERY k, a crash before or after the k-th call (a store, the channel, the decision
    function) and a restart give the same outcomes, messages and recorded answers; an answer
    once committed is never asked for again, so a crash asks at most one question twice."""
    ref = _reference()
    counter = Fuse()
    drive(World(), counter)
    for after in (False, True):
        for k in _crash_points(counter.calls, 10_000):
            world = World()
            drive(world, Fuse(at=k, after=after))
            where = f"crash {'after' if after else 'before'} call {k}"
            assert world.outcomes() == ref.outcomes(), where
            assert world.sent() == ref.sent(), where
            assert world.answers() == ref.answers(), where
            assert set(world.service.calls) == set(ref.service.calls), where
            extra = world.service.calls - ref.service.calls
            assert sum(extra.values()) <= 1, (where, extra)


def test_a_restart_after_the_answer_was_committed_asks_nothing() -> None:
    """A crash right after the commit that recorded the first answer: the restart replays the
    stream and asks nothing twice (every key once, as in an uninterrupted run)."""
    ref = _reference()
    world = World()
    fuse = AfterAnswerCommitted(at=0, after=True)
    drive(world, fuse)
    assert fuse.asked
    assert world.service.calls == ref.service.calls
    assert all(n == 1 for n in world.service.calls.values())
    assert world.outcomes() == ref.outcomes()


def test_a_replay_keeps_an_answer_that_would_change() -> None:
    """Determinism: a service that would now answer differently is not asked on a replay; the
    recorded answer, and what the journey did with it, stay."""
    world = _reference()
    before = (world.outcomes(), world.answers(), world.sent())
    calls = sum(world.service.calls.values())
    kept = dict(SCRIPT)
    try:
        for c in SCRIPT:
            SCRIPT[c] = ("answer:1",)
        drive(world, Fuse())
    finally:
        SCRIPT.update(kept)
    assert sum(world.service.calls.values()) == calls
    assert (world.outcomes(), world.answers(), world.sent()) == before


def test_the_idempotency_key_differs_per_attempt_and_repeats_after_a_crash() -> None:
    """Each attempt has its own key (journey:version:instance:step:visit); the one a crash
    interrupted is asked again with the same key."""
    world = World()
    fuse = Fuse()
    drive(world, fuse)
    keys = sorted(k for k in world.service.calls if "c-retried" in k)
    assert keys == [
        "exits:1:exits/c-retried/1:decide_limit:0",
        "exits:1:exits/c-retried/1:decide_limit:1",
    ]
    assert all(n == 1 for n in world.service.calls.values())


def test_a_blocked_function_times_out_on_its_own_thread() -> None:
    """A function still running after the step's timeout timed out: the timeout exit is taken
    and its late answer is dropped."""
    release = threading.Event()

    def blocked(call: DecisionCall) -> Any:
        release.wait(30)
        return {"approved": True, "amount": Money(Decimal(1), "VND"), "tier": "gold"}

    text = SOURCE.replace("timeout 2s retry 1 every 10m", "timeout 1s retry 0")
    journey = compile_source(text, str(EXAMPLES / "t.journey")).journey
    assert journey is not None
    state = MemoryStateStore()
    engine = Engine(
        [journey],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([Profile("c-1", {}, {"email": True})]),
        state=state,
        clock=SteppableClock(T0),
        channels={"email": RecordingChannel("email")},
        decisions={"credit.preapproved_limit": blocked},
    )
    try:
        engine.ingest(
            {
                "customer_id": "c-1",
                "type": "card_activated",
                "at": T0.isoformat(),
                "data": {"card_id": "k"},
            }
        )
    finally:
        release.set()
    (inst,) = state.all_instances()
    assert inst["outcome"] == "slow"


def test_an_engine_refuses_journeys_whose_decisions_have_no_function() -> None:
    """Without the decision functions the journeys ask, the engine does not start; with
    unhandled="withhold" it does, lists them, and each call fails as an error."""
    kwargs: dict[str, Any] = {
        "events": MemoryEventStore(),
        "profiles": MemoryProfileStore([Profile("c-1", {}, {"email": True})]),
        "clock": SteppableClock(T0),
        "channels": {"email": RecordingChannel("email")},
    }
    with pytest.raises(ValueError, match=r"credit\.preapproved_limit"):
        Engine(journeys()[:1], state=MemoryStateStore(), **kwargs)
    state = MemoryStateStore()
    engine = Engine(journeys()[:1], state=state, unhandled="withhold", **kwargs)
    assert any("credit.preapproved_limit" in u for u in engine.unhandled)
    engine.ingest(
        {
            "customer_id": "c-1",
            "type": "card_activated",
            "at": T0.isoformat(),
            "data": {"card_id": "k"},
        }
    )
    (inst,) = state.all_instances()
    assert inst["status"] == "waiting"  # on its retry timer, after a failed first attempt


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        ({"approved": True, "amount": 5}, "field 'tier' is missing"),
        ({"approved": "yes", "amount": 5, "tier": "gold"}, "field 'approved'"),
        ({"approved": True, "amount": Money(Decimal(5), "USD"), "tier": "gold"}, "USD"),
        ({"approved": True, "amount": 5, "tier": "diamond"}, "not one of"),
        ([True, 5, "gold"], "mapping"),
    ],
)
def test_an_answer_of_the_wrong_shape_is_refused(raw: Any, why: str) -> None:
    """An answer that is not of the declared type fails the attempt, saying why."""
    answer = journeys()[0].nodes["decide_limit"]
    assert isinstance(answer, ir.Decide)
    with pytest.raises(ValueError, match=why):
        typed_answer(raw, answer.answer)


@pytest.mark.parametrize(
    ("amount", "why"),
    [
        (Decimal("50000000.123"), "50000000.123 has 3 decimal places; VND allows 0"),
        (Money(Decimal("0.5"), "VND"), "0.5 has 1 decimal place; VND allows 0"),
        ("1" + "0" * 40, "more than 30 digits before the point"),
    ],
)
def test_an_amount_no_event_could_hold_is_refused(amount: object, why: str) -> None:
    """An answered amount with more decimal places than its currency has, or over the amount
    limit, fails the attempt as an event's or a profile's would, never reaching a message."""
    answer = journeys()[0].nodes["decide_limit"]
    assert isinstance(answer, ir.Decide)
    with pytest.raises(ValueError, match=why):
        typed_answer({"approved": True, "amount": amount, "tier": "gold"}, answer.answer)


def test_an_answered_whole_number_over_63_bits_is_refused() -> None:
    """An int answer beyond what expressions may hold fails the attempt."""
    with pytest.raises(ValueError, match="63 bits"):
        typed_answer(2**63, INT)
    assert typed_answer(2**63 - 1, INT) == 2**63 - 1


def test_an_answer_in_plain_numbers_is_typed() -> None:
    """Money given as a number or its text, in the declared currency, becomes Money."""
    answer = journeys()[0].nodes["decide_limit"]
    assert isinstance(answer, ir.Decide)
    typed = typed_answer({"approved": True, "amount": "20000000", "tier": "gold"}, answer.answer)
    assert typed["amount"] == Money(Decimal(20_000_000), "VND")


def test_journeydsl_run_refuses_a_journey_that_asks_decisions(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A command line has no decision functions: `run` refuses the journey with a message (exit
    code 1), not a traceback."""
    from journeydsl.cli import main

    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    argv = ["run", str(EXAMPLES / "limit_increase.journey"), "--db", str(tmp_path / "s.db")]
    code = main([*argv, "--events", str(events), "--actions", str(tmp_path / "a.jsonl")])
    err = capsys.readouterr().err
    assert code == 1
    assert "asks decision functions (credit.preapproved_limit)" in err
    assert "Traceback" not in err


PARALLEL = """
journey par
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_activated
parallel all {
  branch {
    decide kyc = kyc.is_current(customer: customer_id) retry 1 every 5m
      on error { tag kyc_unknown }
  }
  branch { wait 1h }
}
exit done
"""


def test_an_answer_survives_a_restart_of_the_sqlite_store(tmp_path: Path) -> None:
    """On the SQLite store, a decision in a parallel branch retries on its durable timer and
    answers; after the store is closed and opened again, replaying the stream asks nothing."""
    from journeydsl.runtime.stores.sqlite import SQLiteStore

    journey = compile_source(PARALLEL, str(EXAMPLES / "par.journey")).journey
    assert journey is not None
    asked: list[str] = []

    @immediate
    def kyc(call: DecisionCall) -> Any:
        asked.append(call.key)
        if call.attempt == 1:
            raise ConnectionError("KYC service unavailable")
        return True

    event = {
        "customer_id": "c-1",
        "type": "card_activated",
        "at": T0.isoformat(),
        "data": {"card_id": "k"},
    }

    def run(store: SQLiteStore) -> list[tuple[str, str | None]]:
        clock = SteppableClock(T0)
        engine = Engine(
            [journey],
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            decisions={"kyc.is_current": kyc},
        )
        engine.ingest(event)
        _advance(engine, clock, HORIZON)
        return [(i["status"], i["outcome"]) for i in store.instances_of("c-1")]

    path = tmp_path / "state.db"
    store = SQLiteStore(path)
    assert run(store) == [("ended", "done")]
    assert asked == ["par:1:par/c-1/1:decide_kyc:0", "par:1:par/c-1/1:decide_kyc:1"]
    store.close()
    store = SQLiteStore(path)
    try:
        assert run(store) == [("ended", "done")]
        (inst,) = store.instances_of("c-1")
    finally:
        store.close()
    assert len(asked) == 2
    answered = [e for e in inst["log"] if e["what"] == "decide" and "value" in e]
    assert [(e["value"], e.get("in_branch")) for e in answered] == [(True, 1)]


def test_explain_shows_each_attempt_and_the_exit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl explain` of a recorded run (no answers given): each failed attempt with its
    reason, the retries, then the error exit."""
    from journeydsl.cli import main

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"customer_id": "c-1", "type": "card_activated", "at": "2026-02-02T09:00:00+07:00", '
        '"data": {"card_id": "k"}}\n',
        encoding="utf-8",
    )
    journey = str(EXAMPLES / "limit_increase.journey")
    code = main(["explain", journey, "--events", str(events), "--customer", "c-1"])
    out = capsys.readouterr().out
    assert code == 0
    assert out.count("asked credit.preapproved_limit: attempt") == 3
    assert "attempt 3 failed (DecisionFailedError: no answer for credit.preapproved_limit" in out
    assert "ended: no_answer" in out
