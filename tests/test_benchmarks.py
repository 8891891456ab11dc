"""CI-sized smoke runs of the benchmarks: they must keep working. No timing is ever asserted."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("spelling", ["journey", "yaml"])
def test_check_large_runs_and_checks_exactly_the_requested_steps(spelling: str) -> None:
    """check_large generates a valid journey of the requested size that `check` accepts."""
    record = _load("check_large").main(
        ["--steps", "120", "--runs", "1", "--spelling", spelling, "--no-save"]
    )
    assert record["exit_code"] == 0
    assert record["steps"] == 120


@pytest.mark.skipif(
    importlib.util.find_spec("SpiffWorkflow") is None,
    reason="SpiffWorkflow is not installed: it is in the `bench` extra (pip install -e '.[bench]')",
)
def test_spiff_peer_smoke_runs_both_engines_to_the_same_actions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """spiff_peer --smoke runs SpiffWorkflow and journeydsl to the same actions per customer and
    prints one valid JSON line per measurement."""
    records = _load("spiff_peer").main(["--smoke", "--no-save"])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == records
    assert [r["mode"] for r in records] == ["memory", "persisted"]
    for record in records:
        assert record["equivalent"] is True
        assert record["customers"] == 40
        assert record["actions"]["welcome"] == 40
        assert record["actions"]["reminders"] > 0
        assert record["actions"]["tickets"] > 0


def test_spiff_peer_equivalence_check_fails_loudly_on_a_disagreement() -> None:
    """spiff_peer's equivalence check raises, naming the customer, when one engine's actions
    differ from the expected ones."""
    peer = _load("spiff_peer")
    people = peer.population(30, seed=6, activation_rate=0.5)
    ours = {c.customer_id: peer.expected(c) for c in people}
    assert peer.check_equivalence(people, ours.__getitem__, ours, "same")["welcome"] == 30
    wrong = dict(ours)
    victim = people[3].customer_id
    wrong[victim] = (1, (1, 2, 3), 1) if ours[victim] != (1, (1, 2, 3), 1) else (1, (), 0)
    with pytest.raises(peer.EquivalenceError, match=victim):
        peer.check_equivalence(people, wrong.__getitem__, ours, "differ")


def test_simulate_scale_smoke_runs_and_prints_json_lines(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """simulate_scale --smoke simulates a few hundred onboarding customers with 1 and 2 workers
    and prints one valid JSON line per measurement, with the same funnel for both."""
    records = _load("simulate_scale").main(["--smoke", "--no-save"])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == records
    assert [(r["customers"], r["workers"]) for r in records] == [(300, 1), (300, 2)]
    assert records[0]["entered"] == 300
    assert records[0]["outcomes"] == records[1]["outcomes"]
    for record in records:
        assert {"wall_s", "customers_per_s", "peak_rss_mib"} <= set(record)


def test_baseline_onboarding_smoke_is_equivalent_to_the_engine(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """baseline_onboarding --smoke replays one recorded stream through the Engine and the
    hand-written journey, finds the same actions, and prints one valid JSON line."""
    records = _load("baseline_onboarding").main(["--smoke", "--no-save"])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == records
    (record,) = records
    assert record["equivalent"] is True
    assert record["customers"] == 60
    assert record["actions"] > 60  # a welcome each, and more
    assert {"engine_s", "baseline_s", "ratio"} <= set(record)
    assert record["expressions"] == "generated"


def test_the_engine_acts_the_same_with_generated_functions_and_with_closures(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Over a recorded population of the onboarding journey, the Engine whose expressions are
    generated functions and the one on the reference closures (JOURNEYDSL_EXPRESSIONS=closures)
    make exactly the same actions and outcomes."""
    bench = _load("baseline_onboarding")
    stream = bench.record_stream(40, seed=11)
    generated = bench.run_engine(stream)
    monkeypatch.setenv("JOURNEYDSL_EXPRESSIONS", "closures")
    closures = bench.run_engine(stream)
    bench.check_equivalent(generated, closures)
    assert len(generated.actions) > 40


def test_baseline_instructions_records_and_profiles_a_stream(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """baseline_instructions records a stream to a file and replays it, on either side, and
    its profile splits the Engine's time into the named components."""
    bench = _load("baseline_instructions")
    stream = tmp_path / "stream.pickle"
    bench.main(["record", "--customers", "12", "--stream", str(stream)])
    bench.main(["replay", "--side", "baseline", "--stream", str(stream)])
    capsys.readouterr()
    bench.main(["replay", "--side", "engine", "--profile", "--stream", str(stream)])
    out = capsys.readouterr().out
    assert "interpreter and dispatch" in out
    assert "expressions" in out


def test_baseline_onboarding_equivalence_check_fails_loudly_on_a_difference() -> None:
    """The baseline benchmark refuses to report a ratio when the two runs disagree: one
    action more, one missing, or one outcome changed is named in the error."""
    bench = _load("baseline_onboarding")
    stream = bench.record_stream(15, seed=3)
    engine = bench.run_engine(stream)
    baseline = bench.run_baseline(stream)
    bench.check_equivalent(engine, baseline)
    dropped = bench.Outcome(baseline.actions[1:], baseline.outcomes, baseline.seconds)
    with pytest.raises(bench.NotEquivalentError, match="actions differ"):
        bench.check_equivalent(engine, dropped)
    customer, (status, _) = next(iter(baseline.outcomes.items()))
    changed = bench.Outcome(
        baseline.actions, {**baseline.outcomes, customer: (status, "other")}, baseline.seconds
    )
    with pytest.raises(bench.NotEquivalentError, match=customer):
        bench.check_equivalent(engine, changed)


def test_ingest_sqlite_smoke_runs_with_durable_group_commits(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """ingest_sqlite --smoke ingests its generated stream into a SQLite store, every event of
    it, and prints one valid JSON line with throughput and latency."""
    record = _load("ingest_sqlite").main(["--smoke", "--no-save"])
    assert json.loads(capsys.readouterr().out) == record
    assert record["events"] == 200 * 10
    assert record["instances"] == 200  # every customer's card_issued entered the journey
    assert record["effects_delivered"] > 200
    assert {"events_per_s", "latency_ms_p50", "latency_ms_p99"} <= set(record)


def test_ingest_sqlite_counts_statements_syncs_and_pages_and_runs_over_memory(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """--count adds statements, syncs and WAL pages per event (a group commit syncs far less
    than once an event); --memory runs the same stream over the in-memory stores."""
    counted = _load("ingest_sqlite").main(["--customers", "30", "--no-save", "--count"])
    assert counted["statements_per_event"] > 1
    assert 0 < counted["commits_per_event"] < 0.5
    assert counted["wal_pages_per_event"] > 0
    capsys.readouterr()
    memory = _load("ingest_sqlite").main(["--customers", "30", "--memory"])
    printed = json.loads(capsys.readouterr().out)
    assert printed["events"] == counted["events"] == 300
    assert printed["engine_cpu_us_per_event"] > 0
    assert printed["effects_delivered"] > 30  # (every customer was welcomed, at least)
    assert memory["benchmark"] == "ingest_sqlite_memory"


def test_a_hosts_batch_boundaries_do_not_change_what_is_delivered(tmp_path: Path) -> None:
    """The ingest stream of 30 customers, committed one event at a time, 7 at a time and all
    at once (deliveries then run after the batch, when later events have moved instances on),
    delivers the same effects as the engine over memory stores: a message held by quiet hours
    is superseded by what moved its instance by its delivery time, not by later events."""
    bench = _load("ingest_sqlite")
    delivered: list[set[str]] = []
    real = bench.CountingChannel.__init__

    def kept(self: Any) -> None:
        real(self)
        delivered.append(self.keys)

    bench.CountingChannel.__init__ = kept
    try:
        for size in (1, 7, 1000):
            bench.run(30, 7, size, tmp_path / f"{size}.sqlite", batch_ms=1e9)
        bench.run_memory(30, 7)
    finally:
        bench.CountingChannel.__init__ = real
    assert len(delivered) == 4
    assert all(keys == delivered[-1] for keys in delivered)


def test_check_latency_smoke_checks_every_case_cleanly(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """check_latency --smoke runs `journeydsl check` on each case once, every run exits 0, and
    it prints one valid JSON line per case."""
    records = _load("check_latency").main(["--smoke", "--no-save"])
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line) for line in lines] == records
    assert [r["case"] for r in records] == [
        "python",
        "onboarding",
        "dormant",
        "examples",
        "generated_60_steps",
        "onboarding_from_source",
    ]
    assert all(r["exit_code"] == 0 for r in records)


def test_simulate_spread_smoke_measures_parts_and_projects(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """simulate_spread --smoke times each part, writes and merges part files, runs 1 and 2
    workers, and prints one valid JSON line with a projection for 1M customers on 16 cores."""
    record = _load("simulate_spread").main(["--smoke", "--no-save", "--no-dask"])
    assert json.loads(capsys.readouterr().out.splitlines()[-1]) == record
    assert record["part"]["parts"] == 3
    assert record["part_file"]["bytes"]["min"] > 0
    assert set(record["workers"]) == {"1", "2", "efficiency"}
    assert set(record["projection_1m_16_cores_s"]) == {
        f"{cost}_{e}" for cost in ("wall", "cpu") for e in ("measured_efficiency", "efficiency_1")
    }
    assert record["dask"] is None


@pytest.mark.postgres
def test_ingest_postgres_smoke_runs_a_worker_to_the_end(pg_server: Any) -> None:
    """ingest_postgres --smoke starts one `journeydsl worker`, takes the whole stream through the
    inbox, measures latency on a second load, and drains the worker (exit 0); no timing is
    asserted."""
    records = _load("ingest_postgres").main(
        ["--smoke", "--no-save", "--no-sqlite", "--dsn", pg_server.dsn]
    )
    (record,) = records
    assert record["workers"] == 1
    assert record["events"] == 400
    assert record["exit_codes"] == [0]
    assert record["latency_events"] > 0
    assert record["latency_lost"] == 0
    assert record["fenced"] == 0
