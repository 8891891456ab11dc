"""Offer choice (`choose … from CATALOGUE`): the highest rank, ties to the offer declared first,
validity windows at their boundaries (aware, Asia/Ho_Chi_Minh), per-customer caps counted from
the durable history of earlier choices, the fallback and the `none` exit; why each offer was or
was not eligible, in the decision log; a crash at every call into the stores and the channel
never changes a choice; and, as a property, the choice is deterministic and always an eligible
offer or the fallback.

The journeys and their catalog are in tests/fixtures/offers/ (their `journeydsl test` files,
offers.test.yaml and fallback.test.yaml, are run here too).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from journeydsl import ir
from journeydsl.cli import main
from journeydsl.compiler import compile_file
from journeydsl.diagnostics import Span
from journeydsl.expr.types import BOOL, INT
from journeydsl.ir import CExpr
from journeydsl.ir_offers import Candidate, ChooseOffer
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.offers import choose, earlier_choices
from journeydsl.runtime.protocols import Profile
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    SteppableClock,
)
from tests.runtime.crashing import Crash, Fuse, Proxy
from tests.runtime.test_decide import _crash_points

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "offers"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 1, 5, 10, 0, tzinfo=TZ)
HORIZON = datetime(2026, 2, 16, tzinfo=TZ)
TET_FROM = datetime(2026, 2, 1, tzinfo=TZ)
TET_UNTIL = datetime(2026, 2, 15, tzinfo=TZ)

#: segment, score
PROFILES: dict[str, tuple[str, int]] = {
    "gold-7": ("gold", 7),  # gold rank 7 beats silver rank 5
    "gold-5": ("gold", 5),  # a tie of 5 and 5: gold, declared first
    "silver": ("silver", 0),
    "basic": ("basic", 0),  # nothing eligible: the none exit
    "capped": ("capped", 0),  # `once` (cap 1), then nothing
}


@cache
def journey(name: str) -> ir.Journey:
    result = compile_file(FIXTURES / f"{name}.journey")
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def activated(customer: str, at: datetime, card: str = "k") -> dict[str, Any]:
    return {
        "customer_id": customer,
        "type": "card_activated",
        "at": at.isoformat(),
        "data": {"card_id": card},
    }


#: Every way a choice goes: rank, tie, window (both ends), cap, none; one event each.
STREAM = [
    activated("gold-7", T0),
    activated("gold-5", T0 + timedelta(minutes=1)),
    activated("basic", T0 + timedelta(minutes=2)),
    activated("capped", T0 + timedelta(minutes=3), "k1"),
    activated("capped", T0 + timedelta(days=1), "k2"),
    activated("silver", TET_FROM - timedelta(seconds=1), "before"),
    activated("silver", TET_FROM, "from"),
    activated("silver", TET_UNTIL - timedelta(seconds=1), "last"),
    activated("silver", TET_UNTIL, "until"),
]


@dataclass
class World:
    """The durable stores and the channel, which survive a crash."""

    events: MemoryEventStore = field(default_factory=MemoryEventStore)
    state: MemoryStateStore = field(default_factory=MemoryStateStore)
    email: RecordingChannel = field(default_factory=lambda: RecordingChannel("email"))

    def engine(self, fuse: Fuse, clock: SteppableClock) -> Engine:
        profiles = MemoryProfileStore(
            [
                Profile(c, {"segment": s, "score": n}, {"email": True})
                for c, (s, n) in PROFILES.items()
            ]
        )
        return Engine(
            [journey("offers")],
            events=Proxy(self.events, fuse),
            profiles=profiles,
            state=Proxy(self.state, fuse),
            clock=clock,
            channels={"email": Proxy(self.email, fuse)},
        )

    def chosen(self) -> dict[str, str | None]:
        """Per instance, the offer its decision log says was chosen."""
        return {
            r["id"]: next(
                cast(str | None, dict(e).get("offer")) for e in r["log"] if e["what"] == "offer"
            )
            for r in self.state.all_instances()
        }

    def outcomes(self) -> dict[str, str | None]:
        return {r["id"]: r["outcome"] for r in self.state.all_instances()}

    def sent(self) -> Counter[tuple[str, str]]:
        return Counter(
            (m.idempotency_key, repr(sorted(m.params.items()))) for m in self.email.delivered
        )


def drive(world: World, fuse: Fuse) -> None:
    """Run the stream to the horizon, restarting after every crash (the fuse blows once)."""
    while True:
        clock = SteppableClock(T0)
        engine = world.engine(fuse, clock)
        try:
            for ev in STREAM:
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


@cache
def reference() -> World:
    world = World()
    drive(world, Fuse())
    return world


def test_ranks_ties_windows_caps_and_none() -> None:
    """The highest rank wins; a tie goes to the offer declared first; the Tet window holds from
    its first instant to the one before `until`; a cap of 1 gives the offer once; with nothing
    eligible and no fallback, the `none` exit runs and nothing is sent."""
    world = reference()
    assert world.chosen() == {
        "offers/gold-7/1": "gold",
        "offers/gold-5/1": "gold",
        "offers/basic/1": None,
        "offers/capped/1": "once",
        "offers/capped/2": None,
        "offers/silver/1": "silver",  # a second before the window
        "offers/silver/2": "tet",  # its first instant
        "offers/silver/3": "tet",  # its last second
        "offers/silver/4": "silver",  # `until` itself is outside it
    }
    outcomes = world.outcomes()
    assert [k for k, v in outcomes.items() if v == "nothing"] == [
        "offers/basic/1",
        "offers/capped/2",
    ]
    codes = sorted(dict(m.params)["code"] for m in world.email.delivered)
    assert codes == ["GOLD", "GOLD", "ONCE", "SILVER", "SILVER", "TET", "TET"]


def test_the_decision_log_says_why_each_offer_was_or_was_not_eligible() -> None:
    """The log entry of a choice has every offer in declaration order: eligible with its rank,
    or the first reason it was not (its rule, its window, its cap)."""
    logs: dict[str, list[dict[str, Any]]] = {
        r["id"]: [dict(e) for e in r["log"]] for r in reference().state.all_instances()
    }
    gold = next(e for e in logs["offers/gold-5/1"] if e["what"] == "offer")
    assert gold["catalogue"] == "promo"
    assert gold["fallback"] is False
    assert gold["weighed"] == [
        {"offer": "gold", "eligible": True, "rank": 5},
        {"offer": "silver", "eligible": True, "rank": 5},
        {"offer": "tet", "eligible": False, "why": "not valid before 2026-02-01T00:00:00+07:00"},
        {"offer": "once", "eligible": False, "why": 'rule false: profile.segment == "capped"'},
    ]
    again = next(e for e in logs["offers/capped/2"] if e["what"] == "offer")
    assert again["offer"] is None
    assert again["weighed"][3] == {
        "offer": "once",
        "eligible": False,
        "why": "cap reached: given 1 of 1 times",
    }
    late = next(e for e in logs["offers/silver/4"] if e["what"] == "offer")
    assert late["weighed"][2]["why"] == "not valid from 2026-02-15T00:00:00+07:00"


def test_the_chosen_offer_is_a_variable_with_its_payload() -> None:
    """The journey keeps the chosen offer as a record: id, label and payload (money typed)."""
    variables = {r["id"]: r["vars"] for r in reference().state.all_instances()}
    best = variables["offers/gold-7/1"]["best"]
    assert (best["id"], best["label"], best["code"]) == ("gold", "Gold offer", "GOLD")
    assert "best" not in variables["offers/basic/1"]


def test_a_crash_at_every_call_changes_no_choice() -> None:
    """For EVERY k, a crash before or after the k-th call into the stores or the channel, and a
    restart, give the same choices, outcomes and messages (the cap's count included)."""
    ref = reference()
    counter = Fuse()
    drive(World(), counter)
    for after in (False, True):
        for k in _crash_points(counter.calls, 10_000):
            world = World()
            drive(world, Fuse(at=k, after=after))
            where = f"crash {'after' if after else 'before'} call {k}"
            assert world.chosen() == ref.chosen(), where
            assert world.outcomes() == ref.outcomes(), where
            assert world.sent() == ref.sent(), where


def test_a_cap_counts_choices_committed_on_the_sqlite_store(tmp_path: Path) -> None:
    """On the SQLite store, closed and opened again between two entries, the capped offer is
    not given a second time: the cap counts the durable history of earlier choices."""
    from journeydsl.runtime.stores.sqlite import SQLiteStore

    def enter(at: datetime, card: str) -> list[str | None]:
        store = SQLiteStore(tmp_path / "state.db")
        store.add(Profile("capped", {"segment": "capped", "score": 0}, {"email": True}))
        clock = SteppableClock(at)
        engine = Engine(
            [journey("offers")],
            events=store,
            profiles=store,
            state=store,
            clock=clock,
            channels={"email": RecordingChannel("email")},
        )
        engine.ingest(activated("capped", at, card))
        _advance(engine, clock, at + timedelta(hours=1))
        found = [r["outcome"] for r in store.instances_of("capped")]
        store.close()
        return found

    assert enter(T0, "k1") == ["chose"]
    assert enter(T0 + timedelta(days=1), "k2") == ["chose", "nothing"]


def test_the_fallback_is_given_when_no_offer_is_eligible() -> None:
    """A catalogue's fallback is chosen, and logged as the fallback, when no offer is eligible;
    an eligible offer wins over it."""
    clock = SteppableClock(T0)
    state, events = MemoryStateStore(), MemoryEventStore()
    engine = Engine(
        [journey("fallback")],
        events=events,
        profiles=MemoryProfileStore([Profile(c, {}, {"email": True}) for c in ("t", "d")]),
        state=state,
        clock=clock,
        channels={"email": RecordingChannel("email")},
    )
    history = T0 - timedelta(hours=12)  # (within the allowed lateness)
    for customer, category in (("t", "travel"), ("d", "dining")):
        engine.ingest(
            {
                "customer_id": customer,
                "type": "transaction",
                "at": history.isoformat(),
                "data": {"amount": 100, "category": category},
            }
        )
    for customer in ("t", "d"):
        engine.ingest(activated(customer, T0))
    entries = {
        r["customer_id"]: next(dict(e) for e in r["log"] if e["what"] == "offer")
        for r in state.all_instances()
    }
    assert (entries["t"]["offer"], entries["t"]["fallback"]) == ("traveller", False)
    assert (entries["d"]["offer"], entries["d"]["fallback"]) == ("basic", True)


def test_explain_prints_the_choice_and_why() -> None:
    """`explain` (the decision log in words) names the offer chosen and each offer's result."""
    from journeydsl.simulate.report import _describe_log

    log = next(r["log"] for r in reference().state.all_instances() if r["id"] == "offers/gold-7/1")
    entry = next(e for e in log if e["what"] == "offer")
    text = _describe_log(entry, "Asia/Ho_Chi_Minh")
    assert text.startswith("chose gold from promo (the best eligible): gold rank 7; silver rank 5;")
    assert "tet not eligible (not valid before 2026-02-01T00:00:00+07:00)" in text


@pytest.mark.parametrize("name", ["offers.test.yaml", "fallback.test.yaml"])
def test_the_scenario_files_pass(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`journeydsl test` runs the offer scenario files (ranks, a tie, the window, the cap, the
    none exit, the fallback) and every case passes."""
    assert main(["test", str(FIXTURES / name)]) == 0, capsys.readouterr().out


def test_earlier_choices_count_other_instances_and_the_running_one_once() -> None:
    """A cap counts the catalogue's choices of every stored instance of the customer, and the
    running instance as it is now (not its stored copy as well)."""

    def inst(iid: str, *offers: str | None) -> Any:
        log = [{"what": "offer", "catalogue": "promo", "offer": o} for o in offers]
        return {"id": iid, "log": [*log, {"what": "offer", "catalogue": "other", "offer": "x"}]}

    running = inst("j/c/2", "once")
    stored = [inst("j/c/1", "once", None), inst("j/c/2"), inst("k/c/1", "gold")]
    assert earlier_choices(stored, running, "promo") == {"once": 2, "gold": 1}


# ---------------------------------------------------------------- the property


def _const(value: Any, t: Any) -> CExpr:
    return CExpr(repr(value), t, lambda ctx, ev: value, True)


_offers = st.lists(
    st.tuples(st.booleans(), st.integers(-3, 3), st.sampled_from([None, 1])), max_size=6
)


@given(_offers, st.booleans(), st.integers(0, 2))
def test_the_choice_is_deterministic_and_an_eligible_offer_or_the_fallback(
    offers: list[tuple[bool, int, int | None]], has_fallback: bool, given_before: int
) -> None:
    """Property: for any offers (rule true or false, a rank, a cap or none) and earlier grants,
    choosing twice gives the same offer; it is the first eligible offer of the highest rank, or,
    when none is eligible, the fallback (or nothing without one)."""
    candidates = tuple(
        Candidate(f"o{i}", f"o{i}", _const(ok, BOOL), _const(rank, INT), cap, None, None, {})
        for i, (ok, rank, cap) in enumerate(offers)
    )
    fallback = Candidate("fb", "fb", None, None, None, None, None, {}) if has_fallback else None
    span = Span("<test>", 1, 1, 1, 1)
    node = ChooseOffer(
        "choose_x", span, "x", "promo", INT, candidates, fallback, None, None, not has_fallback
    )
    counts = {c.id: given_before for c in candidates}
    first, why = choose(node, None, T0, counts)  # type: ignore[arg-type]  # constants need no context
    second, _ = choose(node, None, T0, counts)  # type: ignore[arg-type]
    assert first is second
    eligible = [
        (rank, -i)
        for i, (ok, rank, cap) in enumerate(offers)
        if ok and (cap is None or given_before < cap)
    ]
    assert [w["eligible"] for w in why] == [
        ok and (cap is None or given_before < cap) for ok, _, cap in offers
    ]
    if eligible:
        assert first is candidates[-max(eligible)[1]]
    else:
        assert first is fallback


@pytest.mark.parametrize("store", ["memory", "sqlite"])
def test_a_cap_counts_a_choice_made_in_the_same_step(store: str, tmp_path: Path) -> None:
    """Two journeys choosing from one catalogue, both entered by the same event (one step, one
    commit): the capped offer goes to the first only; the second counts its choice before the
    commit and takes the none exit."""
    from journeydsl.compiler import compile_source
    from journeydsl.runtime.stores.sqlite import SQLiteStore

    text = (FIXTURES / "offers.journey").read_text(encoding="utf-8")
    twins = []
    for name in ("offers", "offers_twin"):
        source = text.replace("journey offers version", f"journey {name} version")
        result = compile_source(source, str(FIXTURES / f"{name}.journey"))
        assert result.journey is not None
        twins.append(result.journey)
    capped = Profile("capped", {"segment": "capped", "score": 0}, {"email": True})
    if store == "sqlite":
        sqlite = SQLiteStore(tmp_path / "state.db")
        sqlite.add(capped)
        events: Any = sqlite
        profiles: Any = sqlite
        state: Any = sqlite
    else:
        events, profiles, state = (
            MemoryEventStore(),
            MemoryProfileStore([capped]),
            MemoryStateStore(),
        )
    engine = Engine(
        twins,
        events=events,
        profiles=profiles,
        state=state,
        clock=SteppableClock(T0),
        channels={"email": RecordingChannel("email")},
    )
    engine.ingest(activated("capped", T0))
    chosen = sorted(
        (r["journey"], next(dict(e).get("offer") for e in r["log"] if e["what"] == "offer"))
        for r in state.instances_of("capped")
    )
    assert chosen == [("offers", "once"), ("offers_twin", None)]


def test_pending_choices_are_forgotten_once_the_store_has_them() -> None:
    """A pending instance stands in for its stored record while the store lacks some of its
    choices, and is forgotten once the store has them all."""
    from journeydsl.runtime.offers import PendingChoices

    def record(*offers: str) -> Any:
        log = [{"what": "offer", "catalogue": "promo", "offer": o} for o in offers]
        return {"id": "j/c/1", "customer_id": "c", "log": log}

    pending = PendingChoices()
    live = record("once", "gold")
    pending.add(live)
    stale = record("once")
    assert pending.merged("c", [stale]) == [live]  # (the store lacks the second choice)
    committed = record("once", "gold")
    assert pending.merged("c", [committed]) == [committed]
    assert pending.merged("c", [stale]) == [stale]  # forgotten
