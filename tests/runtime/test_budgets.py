"""Reward budgets at run time: a draw exhausts a budget exactly at its boundary on the memory,
SQLite and PostgreSQL stores; two engines racing on one budget (SQLite and PostgreSQL) never
grant more than it holds and grant all of it when demand exceeds it; a crash at every call and a
replay never draw twice; a hypothesis property: never oversubscribed, the grants add up to what
was spent."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import datetime, timedelta
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl import ir
from journeydsl.compiler import compile_source
from journeydsl.expr.catalog import BudgetSpec
from journeydsl.money import Money
from journeydsl.runtime.budgets import BudgetLedger, MemoryBudgets, budget_json, budget_text
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.protocols import Profile
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.runtime.stores.sqlite_budgets import SQLiteBudgets
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingActions,
    SteppableClock,
)

HERE = Path(__file__).resolve().parents[1] / "fixtures" / "budgets"
TZ = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 2, 10, 0, tzinfo=TZ)

GIFTS = """
journey gifts
uses events "events.yaml"
outcomes got, none
entry on card_activated
reward welcome_gift from gifts granted { exit got } exhausted { exit none }
"""
WAIVERS = """
journey waivers
uses events "events.yaml"
outcomes got, none
entry on card_activated
reward fee_waiver { months: 12 } from waivers amount 400_000 VND granted {
  exit got
} exhausted {
  exit none
}
"""
CASHBACK = """
journey cashback
uses events "events.yaml"
outcomes got, none
entry on cashback_due
  reentry always
reward cashback { amount: trigger.amount } from cashback amount trigger.amount granted {
  exit got
} exhausted {
  exit none
}
"""
SPRING = """
journey spring
uses events "events.yaml"
outcomes got, none
entry on card_activated
reward spring_gift from spring granted { exit got } exhausted { exit none }
"""


@cache
def journey(name: str) -> ir.Journey:
    text = {"gifts": GIFTS, "waivers": WAIVERS, "cashback": CASHBACK, "spring": SPRING}[name]
    result = compile_source(text, str(HERE / f"{name}.journey"))
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def activated(customer: str, at: datetime = T0) -> dict[str, Any]:
    data = {"card_id": f"k-{customer}"}
    return {"customer_id": customer, "type": "card_activated", "at": at.isoformat(), "data": data}


def cashback(customer: str, n: int, amount: int) -> dict[str, Any]:
    return {
        "id": f"cb-{customer}-{n}",
        "customer_id": customer,
        "type": "cashback_due",
        "at": (T0 + timedelta(minutes=n)).isoformat(),
        "data": {"amount": amount},
    }


def _profiles(n: int, prefix: str = "c") -> MemoryProfileStore:
    return MemoryProfileStore([Profile(f"{prefix}-{i}", {}, {}) for i in range(n)])


# ---------------------------------------------------------------- the three stores

StoreFactory = Callable[[], AbstractContextManager[Any]]


@contextmanager
def _memory() -> Iterator[Any]:
    yield MemoryStateStore()


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> StoreFactory:
    """A factory of the state store under test (each call opens the same database again)."""
    if request.param == "memory":
        return _memory
    if request.param == "sqlite":
        return lambda: SQLiteStore(tmp_path / "state.db")
    request.applymarker(pytest.mark.postgres)
    dsn = request.getfixturevalue("pg_dsn")
    from journeydsl.runtime.stores.postgres import PostgresStore

    return lambda: PostgresStore(dsn)


def _engine(journeys: list[ir.Journey], state: Any, n: int, **kw: Any) -> tuple[Engine, Any]:
    actions = RecordingActions()
    engine = Engine(
        journeys,
        events=MemoryEventStore(),
        profiles=_profiles(n),
        state=state,
        clock=SteppableClock(T0),
        actions=dict.fromkeys(("welcome_gift", "fee_waiver", "cashback", "spring_gift"), actions),
        **kw,
    )
    return engine, actions


def _outcomes(state: Any, customers: list[str]) -> list[str | None]:
    return [i["outcome"] for c in customers for i in state.instances_of(c)]


def test_a_quota_is_granted_to_the_first_and_exhausted_for_the_rest(
    open_store: StoreFactory,
) -> None:
    """A quota of 3, five customers: the first three get the reward (granted exit), the other two
    take the exhausted exit and get nothing; the ledger says 3 spent, 3 granted, 2 refused."""
    customers = [f"c-{i}" for i in range(5)]
    with open_store() as state:
        engine, actions = _engine([journey("gifts")], state, 5)
        for c in customers:
            engine.ingest(activated(c))
        engine.deliver()
        assert _outcomes(state, customers) == ["got", "got", "got", "none", "none"]
        assert [c for _, c, _ in actions.calls] == customers[:3]
        (gifts,) = state.budget_states()
        assert (gifts.total, gifts.spent, gifts.remaining) == (3, 3, 0)
        assert (gifts.granted, gifts.refused) == (3, 2)
        assert budget_json(gifts)["kind"] == "quota"


def test_a_money_budget_is_exhausted_exactly_at_its_boundary(open_store: StoreFactory) -> None:
    """1,000,000 VND, draws of 400,000 then of exact remainders: a draw that would pass the total
    is refused, one that reaches it exactly is granted, and nothing is left after it."""
    with open_store() as state:
        engine, actions = _engine([journey("cashback")], state, 1)
        amounts = [400_000, 400_000, 400_000, 200_000, 1]
        for n, amount in enumerate(amounts):
            engine.ingest(cashback("c-0", n, amount))
        engine.deliver()
        outcomes = [i["outcome"] for i in state.instances_of("c-0")]
        assert outcomes == ["got", "got", "none", "got", "none"]
        (budget,) = state.budget_states()
        assert budget.spent == budget.total == Decimal(1_000_000)
        assert budget.remaining == 0
        granted = [d.amount for d in state.budget_draws("cashback") if d.granted]
        assert sum(granted) == budget.spent
        assert len(actions.calls) == 3
        assert budget_text([budget]) == [
            "cashback: total 1,000,000 VND, spent 1,000,000 VND, remaining 0 VND; "
            "3 granted, 2 refused"
        ]


def test_what_was_spent_survives_a_restart(open_store: StoreFactory) -> None:
    """The budget is durable: a new engine over the same database (the journeys declared again)
    keeps what was spent, and refuses what is no longer there."""
    with open_store() as state:
        engine, _ = _engine([journey("waivers")], state, 3)
        engine.ingest(activated("c-0"))
        engine.ingest(activated("c-1"))
        if isinstance(state, MemoryStateStore):
            spent = state.budget_states()[0].spent
            assert spent == 800_000
            return  # (memory keeps nothing across processes: the rest is for the databases)
    with open_store() as state:
        engine, _ = _engine([journey("waivers")], state, 3)
        engine.ingest(activated("c-2"))
        assert _outcomes(state, ["c-0", "c-1", "c-2"]) == ["got", "got", "none"]
        (waivers,) = state.budget_states()
        assert (waivers.spent, waivers.granted, waivers.refused) == (800_000, 2, 1)


def test_outside_its_window_a_budget_grants_nothing() -> None:
    """`from` / `until` dates (in the journey's zone): a draw before the budget opens or after it
    closes takes the exhausted exit without touching the ledger."""
    state = MemoryStateStore()
    engine, _ = _engine([journey("spring")], state, 3, allowed_lateness=None)
    engine.ingest(activated("c-0", datetime(2026, 2, 28, 23, 0, tzinfo=TZ)))
    engine.ingest(activated("c-1", datetime(2026, 3, 1, 0, 30, tzinfo=TZ)))
    engine.ingest(activated("c-2", datetime(2026, 4, 1, 0, 30, tzinfo=TZ)))
    assert _outcomes(state, ["c-0", "c-1", "c-2"]) == ["none", "got", "none"]
    (inst,) = state.instances_of("c-2")
    (entry,) = [e for e in inst["log"] if e["what"] == "budget"]
    assert entry["reason"] == "spring closed on 2026-03-31"
    assert state.budget_states()[0].granted == 1


def test_a_budget_kept_in_another_unit_is_refused(tmp_path: Path) -> None:
    """A ledger that keeps a budget as a quota refuses journeys that declare it in money (and
    says why) rather than mixing units: the first draw raises to the host, nothing is drawn or
    committed. Building the engine writes nothing to the ledger. `ledger_conflicts` says the
    same before anything runs (what `journeydsl run` asks)."""
    from journeydsl.runtime.rewards import ledger_conflicts

    ledger = MemoryBudgets()
    ledger.declare_budgets([BudgetSpec("waivers", Decimal(5), None)])
    assert ledger_conflicts([journey("waivers")], ledger) == [
        "budget 'waivers' is kept in a quota by the ledger (spent 0), but the journeys declare "
        "it in VND: a budget keeps its unit (give the new one another name)"
    ]
    assert ledger_conflicts([journey("gifts")], ledger) == []
    state = MemoryStateStore()
    engine, _ = _engine([journey("waivers")], state, 1, budgets=ledger)
    with pytest.raises(ValueError, match="keeps its unit"):
        engine.ingest(activated("c-0"))
    assert ledger.budget_draws() == []
    assert state.instances_of("c-0") == []
    assert state.budget_states() == []  # (the store's own ledger was not the one used)


def _other_waivers() -> ir.Journey:
    """``waivers`` compiled against a catalog that declares its budget at 2,000,000 VND."""
    text = WAIVERS.replace("journey waivers", "journey other_waivers")
    result = compile_source(text, str(HERE / "other" / "other_waivers.journey"))
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def test_journeys_that_declare_one_budget_two_ways_are_refused() -> None:
    """Two journeys of one engine whose catalogs declare `waivers` at different sizes: the
    engine refuses to start, naming both, whatever their order (it would otherwise draw from
    whichever declaration came first)."""
    for journeys in (
        [journey("waivers"), _other_waivers()],
        [_other_waivers(), journey("waivers")],
    ):
        with pytest.raises(ValueError, match=r"budget 'waivers' is declared as .* but as"):
            _engine(journeys, MemoryStateStore(), 1)


def test_run_refuses_a_budget_in_another_unit_or_declared_two_ways(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl run` of journeys that declare one budget two ways exits 1 with one line per
    conflict; of a journey whose budget the state file keeps in another unit, exit 2 with one
    line naming the budget and both units: never a traceback, nothing delivered."""
    from journeydsl.cli import main

    (tmp_path / "events.yaml").write_text((HERE / "events.yaml").read_text())
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "events.yaml").write_text((HERE / "other" / "events.yaml").read_text())
    (tmp_path / "waivers.journey").write_text(WAIVERS)
    other = WAIVERS.replace("journey waivers", "journey other_waivers")
    (tmp_path / "other" / "other_waivers.journey").write_text(other)
    (tmp_path / "events.jsonl").write_text(json.dumps(activated("c-0")) + "\n")

    def run(*journeys: str) -> int:
        files = [str(tmp_path / j) for j in journeys]
        args = ["--events", str(tmp_path / "events.jsonl"), "--actions", str(tmp_path / "a.jsonl")]
        return main(["run", *files, "--db", str(tmp_path / "state.db"), *args])

    assert run("waivers.journey", "other/other_waivers.journey") == 1
    assert "budget 'waivers' is declared as 1_000_000 VND" in capsys.readouterr().err
    with SQLiteStore(tmp_path / "state.db") as state:
        state.declare_budgets([BudgetSpec("waivers", Decimal(5), None)])
    assert run("waivers.journey") == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "budget 'waivers' is kept in a quota by the ledger" in err
    assert not (tmp_path / "a.jsonl").exists() or (tmp_path / "a.jsonl").read_text() == ""


@pytest.mark.postgres
def test_a_worker_refuses_a_budget_its_database_keeps_in_another_unit(
    pg_dsn: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl worker` of a journey that declares `waivers` in VND, on a database whose
    ledger keeps it as a quota: exit 2 with one line naming the budget, before any work (it
    was the first draw's error, mid-run)."""
    from journeydsl.cli import main
    from journeydsl.runtime.stores.postgres import PostgresStore

    (tmp_path / "events.yaml").write_text((HERE / "events.yaml").read_text())
    (tmp_path / "waivers.journey").write_text(WAIVERS)
    with PostgresStore(pg_dsn, migrate=True) as state:
        state.declare_budgets([BudgetSpec("waivers", Decimal(5), None)])
    argv = ["worker", str(tmp_path / "waivers.journey"), "--db", pg_dsn, "--exit-when-idle"]
    assert main([*argv, "--actions", str(tmp_path / "a.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert "budget 'waivers' is kept in a quota by the ledger" in err


# ---------------------------------------------------------------- two runners, one budget


def _race(run: Callable[[int], None]) -> None:
    errors: list[BaseException] = []

    def guarded(i: int) -> None:
        try:
            run(i)
        except BaseException as exc:  # (handed to the test's thread)
            errors.append(exc)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors


def _runner(state: Any, i: int, n: int, ledger: BudgetLedger | None = None) -> list[str | None]:
    customers = [f"r{i}-{k}" for k in range(n)]
    actions = RecordingActions()
    engine = Engine(
        [_big_quota()],
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([Profile(c, {}, {}) for c in customers]),
        state=state,
        clock=SteppableClock(T0),
        actions={"welcome_gift": actions},
        budgets=ledger,
    )
    for c in customers:
        engine.ingest(activated(c))
    engine.deliver()
    return _outcomes(state, customers)


@cache
def _big_quota() -> ir.Journey:
    """`gifts` with the quota of the race: 25 rewards for 2 x 20 customers."""
    root = Path(__file__).resolve().parents[1] / "fixtures" / "budgets" / "race"
    result = compile_source(GIFTS, str(root / "gifts.journey"))
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


@pytest.mark.postgres
def test_two_workers_on_postgresql_never_oversubscribe(pg_dsn: str) -> None:
    """Two engines on their own connections to one database draw concurrently from a quota of 25
    for 40 customers: exactly 25 are granted (every reward the budget holds, none more), each
    draw once, and the ledger's spent equals the grants."""
    from journeydsl.runtime.stores.postgres import PostgresStore

    outcomes: dict[int, list[str | None]] = {}
    PostgresStore(dsn=pg_dsn).close()  # (the schema, before the race)

    def run(i: int) -> None:
        with PostgresStore(pg_dsn) as state:
            outcomes[i] = _runner(state, i, 20)

    _race(run)
    every = outcomes[0] + outcomes[1]
    assert every.count("got") == 25
    assert every.count("none") == 15
    with PostgresStore(pg_dsn) as state:
        (gifts,) = state.budget_states()
        draws = state.budget_draws()
    assert (gifts.spent, gifts.granted, gifts.refused) == (Decimal(25), 25, 15)
    assert len({d.key for d in draws}) == 40
    assert sum(d.amount for d in draws if d.granted) == gifts.spent


def test_two_engines_sharing_a_sqlite_budgets_file_never_oversubscribe(tmp_path: Path) -> None:
    """Two engines, each over its own SQLite store, draw concurrently from one budgets file (a
    connection each): exactly 25 of 40 granted, the spent equals the grants."""
    outcomes: dict[int, list[str | None]] = {}
    budgets = tmp_path / "budgets.db"

    def run(i: int) -> None:
        with SQLiteStore(tmp_path / f"state-{i}.db") as state, SQLiteBudgets(budgets) as ledger:
            outcomes[i] = _runner(state, i, 20, ledger)

    _race(run)
    every = outcomes[0] + outcomes[1]
    assert every.count("got") == 25
    assert every.count("none") == 15
    with SQLiteBudgets(budgets, readonly=True) as ledger:
        (gifts,) = ledger.budget_states()
        draws = ledger.budget_draws()
    assert (gifts.spent, gifts.granted, gifts.refused) == (Decimal(25), 25, 15)
    assert sum(d.amount for d in draws if d.granted) == gifts.spent


# ---------------------------------------------------------------- the ledgers' property


@contextmanager
def _ledger(kind: str, where: Path) -> Iterator[Any]:
    if kind == "memory":
        yield MemoryBudgets()
        return
    with SQLiteBudgets(where) as ledger:
        yield ledger


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["memory", "sqlite"]),
    total=st.integers(1, 50),
    draws=st.lists(st.tuples(st.integers(0, 12), st.integers(1, 15)), max_size=40),
)
def test_a_ledger_is_never_oversubscribed(
    tmp_path_factory: pytest.TempPathFactory, kind: str, total: int, draws: list[tuple[int, int]]
) -> None:
    """Any sequence of draws (keys repeating, as replays do): spent never passes the total, the
    granted amounts add up to spent, a key answers the same every time, and a draw is refused
    only when it would pass the total."""
    where = tmp_path_factory.mktemp("ledger") / "budgets.db"
    with _ledger(kind, where) as ledger:
        ledger.declare_budgets([BudgetSpec("b", Decimal(total), "VND")])
        answers: dict[str, bool] = {}
        for key_n, amount in draws:
            key = f"k{key_n}"
            before = ledger.budget_states()[0].spent
            granted = ledger.draw("b", Decimal(amount), key, T0)
            if key in answers:
                assert granted == answers[key]
                assert ledger.budget_states()[0].spent == before
            else:
                assert granted == (before + amount <= total)
            answers[key] = granted
            state = ledger.budget_states()[0]
            assert 0 <= state.spent <= total
        recorded = ledger.budget_draws("b")
        assert sum(d.amount for d in recorded if d.granted) == ledger.budget_states()[0].spent
        assert len(recorded) == len(answers)


# ---------------------------------------------------------------- crash at every call


class Crash(BaseException):
    """The injected crash (not an Exception: nothing takes it for a failed call)."""


class Fuse:
    """Counts the calls into the stores and the reward handler; blows at call number ``at``,
    before the call or after it took effect."""

    def __init__(self, at: int | None = None, after: bool = False) -> None:
        self.at, self.after, self.calls = at, after, 0

    def wrap(self, inner: Any) -> Any:
        return _Fused(inner, self)


class _Fused:
    def __init__(self, inner: Any, fuse: Fuse) -> None:
        self._inner, self._fuse = inner, fuse

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name.startswith("_") or not callable(attr):
            return attr
        return lambda *a, **kw: self._call(attr, *a, **kw)

    def __call__(self, *a: Any, **kw: Any) -> Any:
        return self._call(self._inner, *a, **kw)

    def _call(self, fn: Callable[..., Any], *a: Any, **kw: Any) -> Any:
        fuse = self._fuse
        fuse.calls += 1
        blow = fuse.at is not None and fuse.calls == fuse.at
        if blow and not fuse.after:
            raise Crash
        result = fn(*a, **kw)
        if blow:
            raise Crash
        return result


class Calls:
    """The reward handler of the outside world: every call, duplicates included."""

    def __init__(self) -> None:
        self.keys: list[str] = []

    def __call__(self, key: str, customer: str, params: Any, at: datetime) -> Any:
        self.keys.append(key)
        return RecordingActions()(key, customer, params, at)


def _drive(state: Any, fuse: Fuse, calls: Calls) -> None:
    """Ingest the stream and deliver, restarting (a new engine, the same stores) after a crash."""
    customers = [f"c-{i}" for i in range(5)]
    events = MemoryEventStore()
    while True:
        handler = fuse.wrap(calls)
        try:
            engine = Engine(
                [journey("gifts"), journey("waivers")],
                events=fuse.wrap(events),
                profiles=_profiles(5),
                state=fuse.wrap(state),
                clock=SteppableClock(T0),
                actions={"welcome_gift": handler, "fee_waiver": handler},
            )
            for c in customers:
                engine.ingest(activated(c))
            engine.deliver()
            return
        except Crash:
            fuse.at = None


def _summary(state: Any) -> tuple[Any, ...]:
    outcomes = sorted((i["journey"], i["customer_id"], i["outcome"]) for i in state.all_instances())
    budgets = [(b.name, b.spent, b.granted, b.refused) for b in state.budget_states()]
    draws = sorted((d.key, d.granted) for d in state.budget_draws())
    return outcomes, budgets, draws


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_crash_at_every_call_never_draws_twice(kind: str, tmp_path: Path) -> None:
    """For every k, a crash before or after the k-th call into the stores or the reward handler,
    then a restart: the same outcomes, the same draws (each key once, the same answers), the
    same spent, and every granted reward handed over under its key (again only under the same
    key, when the crash fell between the handler's answer and the commit of its outcome)."""

    def fresh(n: int) -> Any:
        return MemoryStateStore() if kind == "memory" else SQLiteStore(tmp_path / f"s{n}.db")

    reference, counter, calls = fresh(0), Fuse(), Calls()
    _drive(reference, counter, calls)
    expected = _summary(reference)
    assert expected[1] == [("gifts", 3, 3, 2), ("waivers", 800_000, 2, 3)]
    runs = 0
    for after in (False, True):
        for k in range(1, counter.calls + 1):
            runs += 1
            state, seen = fresh(runs), Calls()
            _drive(state, Fuse(k, after), seen)
            where = f"crash {'after' if after else 'before'} call {k}"
            assert _summary(state) == expected, where
            assert set(seen.keys) == set(calls.keys), where
            if kind == "sqlite":
                state.close()


# ---------------------------------------------------------------- journeydsl budgets


EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def test_budgets_prints_what_a_run_spent(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl run` of the onboarding example draws its fee waiver from the state file's
    ledger; `journeydsl budgets --db` prints total, spent, remaining and draws, as text and as
    JSON, and says so when a file has no budgets."""
    from journeydsl.cli import main

    db, actions = tmp_path / "state.db", tmp_path / "actions.jsonl"
    code = main(
        [
            "run",
            str(EXAMPLES / "onboarding_new_cardholder.journey"),
            "--events",
            str(EXAMPLES / "events" / "onboarding.jsonl"),
            "--profiles",
            str(EXAMPLES / "events" / "onboarding_profiles.jsonl"),
            "--db",
            str(db),
            "--actions",
            str(actions),
        ]
    )
    assert code == 0
    capsys.readouterr()
    assert main(["budgets", "--db", str(db)]) == 0
    assert capsys.readouterr().out == (
        "fee_waivers: total 100,000,000 VND, spent 500,000 VND, remaining 99,500,000 VND; "
        "1 granted, 0 refused\n"
    )
    assert main(["budgets", "--db", str(db), "--format", "json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["budgets"]
    assert (doc["spent"], doc["remaining"], doc["granted"]) == ("500000", "99500000", 1)
    SQLiteStore(tmp_path / "empty.db").close()
    assert main(["budgets", "--db", str(tmp_path / "empty.db")]) == 0
    assert "no budgets" in capsys.readouterr().out
    assert main(["budgets", "--db", str(tmp_path / "missing.db")]) == 2


@pytest.mark.postgres
def test_budgets_reads_a_postgresql_database(
    pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl budgets --db postgresql://…` reads the ledger of the PostgreSQL store."""
    from journeydsl.cli import main
    from journeydsl.runtime.stores.postgres import PostgresStore

    with PostgresStore(pg_dsn) as state:
        engine, _ = _engine([journey("gifts")], state, 4)
        for c in ("c-0", "c-1", "c-2", "c-3"):
            engine.ingest(activated(c))
    assert main(["budgets", "--db", pg_dsn, "--format", "json"]) == 0
    (doc,) = json.loads(capsys.readouterr().out)["budgets"]
    assert (doc["kind"], doc["spent"], doc["granted"], doc["refused"]) == ("quota", "3", 3, 1)


def test_a_test_case_that_sets_a_budget_wrongly_is_refused_at_its_line(tmp_path: Path) -> None:
    """`budgets: {fee_waivers: {remaining: 5 USD}}` in a test file: an error naming the file,
    the line and what a remaining amount must be, not a traceback."""
    from journeydsl.simulate.scenarios import run_file
    from journeydsl.yamlfile import InputError

    for name in ("events.yaml", "templates.yaml", "onboarding_new_cardholder.journey"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text("utf-8"), "utf-8")
    test = tmp_path / "wrong.test.yaml"
    test.write_text(
        "journey: onboarding_new_cardholder.journey\n"
        "cases:\n"
        "  - name: a budget in the wrong currency\n"
        "    budgets: {fee_waivers: {remaining: 5 USD}}\n"
        "    events:\n"
        "      - {customer_id: c-1, type: card_issued, at: '2026-01-05T10:00:00+07:00',"
        " data: {card_id: k, product: classic}}\n"
        "    expect: {outcomes: {c-1: running}}\n",
        "utf-8",
    )
    with pytest.raises(InputError) as caught:
        run_file(test)
    text = str(caught.value)
    assert "wrong.test.yaml:4" in text
    assert "'remaining' must be an amount in VND" in text


# ---------------------------------------------------------------- the amount drawn

PERCENT = """
journey percent
uses events "events.yaml"
outcomes got, none
entry on cashback_due
  reentry always
reward cashback from cashback amount trigger.amount * 0.05 granted {
  exit got
} exhausted {
  exit none
}
"""


def test_a_computed_amount_finer_than_its_currency_fails_and_draws_nothing() -> None:
    """5% of 1,234,567 VND (61,728.35) is not drawn nor rounded: the instance fails, saying why."""
    journey = compile_source(PERCENT, str(HERE / "percent.journey")).journey
    assert journey is not None
    state = MemoryStateStore()
    engine, actions = _engine([journey], state, 1)
    engine.ingest(cashback("c-0", 0, 1_234_567))
    engine.deliver()
    (inst,) = state.instances_of("c-0")
    assert inst["outcome"] == "error"
    (entry,) = [e for e in inst["log"] if e["what"] == "error"]
    assert entry["reason"] == (
        "reward 'cashback' would draw 61_728.35 VND from cashback: it has 2 decimal places and "
        "VND has none (an amount drawn is never rounded)"
    )
    assert state.budget_states() == []  # (nothing drawn: the budget was not even declared)
    assert actions.calls == []


def test_a_reward_carries_the_amount_it_drew() -> None:
    """A granted reward of a money budget has the amount drawn in its params (`amount`)."""
    state = MemoryStateStore()
    engine, actions = _engine([journey("waivers")], state, 1)
    engine.ingest(activated("c-0"))
    engine.deliver()
    [(_, _, params)] = actions.calls
    assert params == {"months": 12, "amount": Money(Decimal(400_000), "VND")}
