"""Runs split into parts (``--workers N``, chunks of customers): the merged output is the output of
one run, byte for byte."""

from __future__ import annotations

import hashlib
import json
import multiprocessing.pool
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import NoReturn

import pytest

from journeydsl.compiler import compile_file
from journeydsl.simulate import parallel
from journeydsl.simulate.behaviour import load_behaviour
from journeydsl.simulate.driver import Simulation, dumps
from journeydsl.simulate.inputs import read_events, read_profiles, schemas_of
from journeydsl.simulate.parallel import Context, Plan, _groups, partition, run_plan
from journeydsl.simulate.population_general import population_for
from tests.runtime.policies.harness import policies
from tests.simulate.conftest import (
    BEHAVIOUR,
    DORMANT,
    EVENTS,
    ONBOARDING,
    Cli,
    dormant_args,
    onboarding_args,
)

ONBOARDING_MODEL = str(BEHAVIOUR / "onboarding.yaml")
DORMANT_MODEL = str(BEHAVIOUR / "dormant.yaml")


def _synthetic(journey: str, model: str, *extra: str) -> list[str]:
    return ["simulate", journey, "--population", "60", "--behaviour", model, "--seed", "7", *extra]


def test_two_workers_give_the_same_synthetic_json_as_one(cli: Cli) -> None:
    """Synthetic onboarding: --workers 2 prints byte-identical JSON to --workers 1."""
    one = cli(*_synthetic(ONBOARDING, ONBOARDING_MODEL, "--format", "json"))
    two = cli(*_synthetic(ONBOARDING, ONBOARDING_MODEL, "--format", "json", "--workers", "2"))
    assert one[0] == two[0] == 0
    assert json.loads(one[1])["funnel"]["entered"] == 60
    assert two[1] == one[1]


def test_two_workers_give_the_same_segment_entries_as_one(cli: Cli) -> None:
    """Synthetic dormant (daily segment entries, two time zones): --workers 2 gives the same
    JSON and the same text report as --workers 1."""
    for fmt in ("json", "text"):
        one = cli(*_synthetic(DORMANT, DORMANT_MODEL, "--format", fmt))
        two = cli(*_synthetic(DORMANT, DORMANT_MODEL, "--format", fmt, "--workers", "2"))
        assert one[0] == two[0] == 0
        assert two[1] == one[1]


def test_two_workers_give_the_same_recorded_json_as_one(cli: Cli) -> None:
    """Recorded mode on both shipped event files: --workers 2 prints the JSON of --workers 1."""
    for args in (onboarding_args("--format", "json"), dormant_args("--format", "json")):
        one = cli(*args)
        two = cli(*args, "--workers", "2")
        assert one[0] == two[0] == 0
        assert json.loads(one[1])["instances"]
        assert two[1] == one[1]


def test_two_workers_print_the_same_text_report_and_trace(cli: Cli) -> None:
    """The text report and a --trace timeline are the same with --workers 2 (the trace is drawn
    by the worker that simulated the customer)."""
    args = dormant_args("--trace", "d-002")
    one = cli(*args)
    two = cli(*args, "--workers", "2")
    assert "timeline of d-002" in one[1]
    assert two[1] == one[1]


def test_a_trace_of_an_unknown_customer_says_so_with_workers(cli: Cli) -> None:
    """--trace of a customer not in the run is the same error (exit 1, no report) with and
    without workers."""
    one = cli(*onboarding_args("--trace", "nobody"))
    two = cli(*onboarding_args("--trace", "nobody", "--workers", "2"))
    assert one[0] == 1
    assert one[1] == ""
    assert "no customer 'nobody' in this simulation" in one[2]
    assert two == one


def test_chunks_of_a_population_merge_into_the_single_run() -> None:
    """A population run in chunks of 7 customers merges into exactly the JSON of one run."""
    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    model = load_behaviour(ONBOARDING_MODEL).model
    until = model.start + timedelta(days=45)
    population = population_for(model, 30, seed=5)
    sim = Simulation(
        [journey],
        population.profiles,
        start=model.start,
        until=until,
        channels=population.channels(),
    )
    population.attach(sim)
    single = sim.run()
    plan = Plan(
        (ONBOARDING,),
        model.start,
        until,
        behaviour=ONBOARDING_MODEL,
        population=30,
        seed=5,
        chunk=7,
    )
    [merged] = run_plan(plan, context=Context((journey,), model))
    assert dumps(merged.to_json()) == dumps(single.to_json())
    assert merged.channels["email"] == population.stats["email"]


def test_recorded_chunks_merge_into_the_single_run() -> None:
    """Recorded dormant events (history, segment entries) run one customer per part merge into
    the JSON of one run."""
    journey = compile_file(DORMANT).journey
    assert journey is not None
    profiles, _ = read_profiles(EVENTS / "dormant_profiles.jsonl", journey.attribute_types)
    events, _ = read_events(EVENTS / "dormant.jsonl", schemas_of([journey]))
    events.sort(key=lambda e: e.record.at)
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    sim = Simulation([journey], profiles, start=start)
    sim.add_events(events)
    single = sim.run()
    plan = Plan((DORMANT,), start, single.until, chunk=1)
    [merged] = run_plan(plan, context=Context((journey,)), events=events, profiles=profiles)
    assert dumps(merged.to_json()) == dumps(single.to_json())


def test_the_partition_is_a_stable_hash_of_the_customer_id() -> None:
    """partition() is BLAKE2b of the id modulo the parts (never the per-process hash()), and
    spreads customers over the parts."""
    for c in ("c-0001", "c-0002", "d-001"):
        digest = hashlib.blake2b(c.encode(), digest_size=8).digest()
        assert partition(c, 4) == int.from_bytes(digest, "big") % 4
    parts = {partition(f"c-{n:04d}", 2) for n in range(1, 41)}
    assert parts == {0, 1}


def _issued(event_id: str, customer: str, hour: int) -> dict[str, object]:
    return {
        "id": event_id,
        "customer_id": customer,
        "type": "card_issued",
        "at": f"2026-01-05T{hour:02d}:00:00+07:00",
        "data": {"card_id": f"k-{customer}", "product": "gold"},
    }


def test_customers_sharing_an_event_id_stay_in_one_part(tmp_path: Path, cli: Cli) -> None:
    """Two customers whose events share an id are grouped (the second is a duplicate in any
    run), and --workers 2 reports the same duplicate and output as one worker."""
    lines = [_issued("e1", "a-1", 10), _issued("e1", "b-2", 11), _issued("e2", "c-3", 12)]
    path = tmp_path / "shared.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    events, _ = read_events(path, {})
    assert _groups(events) == {"b-2": "a-1"}
    args = ["simulate", ONBOARDING, "--events", str(path), "--format", "json", "--default-consent"]
    one = cli(*args)
    two = cli(*args, "--workers", "2")
    assert one[0] == two[0] == 0
    assert [i["customer_id"] for i in json.loads(one[1])["instances"]] == ["a-1", "c-3"]
    assert f"{path}:2: skipped: the same event as an earlier one" in one[2]
    assert two[1:] == one[1:]


def test_workers_must_be_at_least_one(cli: Cli) -> None:
    """--workers 0 is a usage error (exit 2)."""
    code, _, err = cli(*onboarding_args("--workers", "0"))
    assert code == 2
    assert "--workers must be at least 1" in err


def test_workers_past_what_the_machine_can_use_are_a_usage_error(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--workers above 4 per CPU (here 2 CPUs: 8) is refused with the accepted range (exit 2)
    before any process starts; 8 itself is taken."""
    monkeypatch.setattr(parallel, "usable_cpus", lambda: 2)
    monkeypatch.setattr(parallel, "start_pool", _no_pool)
    for given in ("9", "99999"):
        code, out, err = cli(*_synthetic(ONBOARDING, ONBOARDING_MODEL, "--workers", given))
        assert (code, out) == (2, "")
        assert err == (
            f"journeydsl: error: --workers must be from 1 to 8 on this machine (4 per CPU, 2 "
            f"CPUs), not {int(given):,}: more processes than cores only slow the run\n"
        )
    args = ["simulate", ONBOARDING, "--population", "1", "--behaviour", ONBOARDING_MODEL]
    assert cli(*args, "--workers", "8", "-q")[0] == 0


def _no_pool(processes: int, plan: Plan) -> NoReturn:
    raise AssertionError(f"a pool of {processes} processes was started")


def test_no_more_processes_start_than_there_are_tasks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Three customers over 8 workers start a process per task that has customers (two: the
    hash puts two of them in one task), not 8 (--workers 99999 started 99,999 processes for
    three customers); one customer, or a run under a ticket queue's capacity (one task), starts
    none."""
    started: list[int] = []
    real = parallel.start_pool

    def counted(processes: int, plan: Plan) -> multiprocessing.pool.Pool:
        started.append(processes)
        return real(processes, plan)

    monkeypatch.setattr(parallel, "start_pool", counted)
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    plan = Plan((ONBOARDING,), start, start + timedelta(days=12), ONBOARDING_MODEL, population=3)
    three = run_plan(plan, workers=8)
    tasks = parallel.plan_tasks(plan, Context.load(plan), 8)
    assert started == [len(tasks)] == [2]
    assert three[0].tally().entered == 3

    monkeypatch.setattr(parallel, "start_pool", _no_pool)
    one = replace(plan, population=1)
    assert run_plan(one, workers=8)[0].tally().entered == 1
    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    queued = Context(
        (journey,),
        load_behaviour(ONBOARDING_MODEL).model,
        policies("queues:\n  - {queue: telesales, capacity: 3}\n"),
    )
    assert run_plan(plan, workers=8, context=queued)[0].tally().entered == 3


def test_a_customers_actions_do_not_depend_on_the_population_size() -> None:
    """Customer c-0003 receives the same actions, at the same times, in populations of 5 and 40:
    every draw comes from the customer's own seeded streams."""
    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    model = load_behaviour(ONBOARDING_MODEL).model

    def actions_of(size: int) -> list[dict[str, object]]:
        population = population_for(model, size, seed=9)
        sim = Simulation(
            [journey],
            population.profiles,
            start=model.start,
            until=model.start + timedelta(days=40),
            channels=population.channels(),
        )
        population.attach(sim)
        return [a for a in sim.run().actions if a["customer_id"] == "c-0003"]

    small = actions_of(5)
    assert small
    assert actions_of(40) == small


def test_a_finished_part_is_freed_without_the_cycle_collector() -> None:
    """After a part of a synthetic run, nothing of it is left for the cyclic garbage collector:
    reference counting frees the simulation at once (the population forgets it), so memory stays
    flat however rarely the collector runs."""
    import gc

    from journeydsl.simulate.parallel import _run_part, _Task

    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    model = load_behaviour(ONBOARDING_MODEL).model
    plan = Plan(
        (ONBOARDING,),
        model.start,
        model.start + timedelta(days=30),
        behaviour=ONBOARDING_MODEL,
        population=20,
        seed=3,
    )
    gc.collect()
    gc.disable()
    try:
        [part] = _run_part(Context((journey,), model), plan, _Task(members=tuple(range(1, 21))))
        assert part.tally.entered == 20
        assert gc.collect() == 0
    finally:
        gc.enable()
