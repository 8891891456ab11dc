"""Simulations run the engine on live state (a memory store without isolation): the result must
be exactly the one the isolated store, which copies and checks like a durable store, gives."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.compiler import compile_file
from journeydsl.runtime.policies.loader import load_policies
from journeydsl.runtime.protocols import OutboxEntry
from journeydsl.runtime.stores.memory import MemoryStateStore
from journeydsl.simulate.behaviour import load_behaviour
from journeydsl.simulate.driver import Simulation, dumps
from tests.simulate.conftest import (
    BEHAVIOUR,
    DORMANT,
    EXAMPLES,
    ONBOARDING,
    synthetic_simulation,
)


def _run(
    journey_file: str, model_file: str, size: int, seed: int, isolated: bool, policies: bool
) -> tuple[str, list[Any]]:
    """The JSON document and every customer's decision log of one synthetic run."""
    sim, _ = synthetic_simulation(
        journey_file,
        model_file,
        size,
        seed,
        policies=load_policies(EXAMPLES / "policies.yaml") if policies else None,
        isolated=isolated,
    )
    result = sim.run()
    logs = [sim.engine.explain(c) for c in sorted(sim.profiles.customers())]
    return dumps(result.to_json()), logs


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    size=st.integers(1, 25),
    dormant=st.booleans(),
    policies=st.booleans(),
)
def test_live_state_gives_the_isolated_result(
    seed: int, size: int, dormant: bool, policies: bool
) -> None:
    """Any population of either example, with or without contact policies: the live store gives
    the isolated store's JSON and decision logs, byte for byte."""
    journey, model = (
        (DORMANT, str(BEHAVIOUR / "dormant.yaml"))
        if dormant
        else (ONBOARDING, str(BEHAVIOUR / "onboarding.yaml"))
    )
    live = _run(journey, model, size, seed, isolated=False, policies=policies)
    isolated = _run(journey, model, size, seed, isolated=True, policies=policies)
    assert live == isolated


def test_a_200_customer_onboarding_run_is_the_same_on_both_stores() -> None:
    """A larger run under the example policies (holds, fallbacks, caps): same JSON, same logs."""
    model = str(BEHAVIOUR / "onboarding.yaml")
    live = _run(ONBOARDING, model, 200, 7, isolated=False, policies=True)
    assert '"kind": "suppressed"' in live[0]  # the policies did act
    assert live == _run(ONBOARDING, model, 200, 7, isolated=True, policies=True)


def test_simulations_use_live_state_and_isolation_is_the_store_default() -> None:
    """Simulation's store hands out its records themselves; a store built without arguments
    still hands out copies."""
    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    model = load_behaviour(str(BEHAVIOUR / "onboarding.yaml")).model
    sim = Simulation([journey], start=model.start)
    assert sim.state.isolated is False
    assert MemoryStateStore().isolated is True


def test_a_live_store_keeps_and_hands_out_the_very_objects() -> None:
    """Without isolation, a committed record and outbox entry are the objects read back (no
    copy, no check), so the engine's edits are the stored state."""
    store = MemoryStateStore(isolated=False)
    record: Any = {
        "id": "i1",
        "customer_id": "c1",
        "status": "waiting",
        "due": None,
        "log": [],
    }
    entry = OutboxEntry("k1", "send", "c1", {"index": 0}, _at())
    store.commit([record], [entry], processed_event="e1")
    assert store.instance("i1") is record
    [read] = store.instances_of("c1")
    assert read is record
    [pending] = store.pending_outbox(_at())
    assert pending is entry
    entry.status = "done"
    store.update_outbox(entry)
    assert store.pending_outbox(_at()) == []
    # The final listing is still made of copies: reports may trim them.
    listed = store.all_instances()[0]
    listed["log"].append({"what": "x"})
    assert record["log"] == []


def _at() -> datetime:
    return datetime(2026, 1, 5, tzinfo=UTC)
