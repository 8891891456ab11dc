"""Migrating an instance that waits inside a `parallel` block: each waiting branch moves to the
mapped step of its own wait, the block keeps its id, and the instance goes on in the new version;
a mapping that moves a step to another branch, or out of its block, is JD703."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from journeydsl import ir
from journeydsl.compiler import compile_source
from journeydsl.runtime.migrate import (
    StepMapping,
    check_mapping,
    load_mapping,
    migrate,
    waiting_steps,
)
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import MemoryStateStore, SteppableClock
from tests.runtime.scenario import EXAMPLES, example
from tests.runtime.test_migrate import World

ICT = timezone(timedelta(hours=7))
START = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)

#: Version 2 of examples/welcome_paths.journey: the steps have labels, and an activation now
#: also nudges the first purchase by push.
V2 = (
    (EXAMPLES / "welcome_paths.journey")
    .read_text(encoding="utf-8")
    .replace("version 1", "version 2")
    .replace(
        """    wait for card_activated within 7d {
      set activated = true""",
        """    activation_wait: wait for card_activated within 7d {
      set activated = true
      send push first_spend_nudge marketing""",
    )
    .replace(
        "    wait for transaction within 14d {", "    spend_wait: wait for transaction within 14d {"
    )
)

MAPPING = """
migrate: welcome_paths
from_version: 1
to_version: 2
steps:
  wait_for_card_activated: activation_wait
  wait: wait
  wait_for_transaction: spend_wait
"""


def _v2() -> ir.Journey:
    result = compile_source(V2, str(EXAMPLES / "welcome_paths_v2.journey"), base_dir=EXAMPLES)
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def _mapping(text: str = MAPPING) -> StepMapping:
    parsed, diags = load_mapping(text, "map.yaml")
    assert parsed is not None, [str(d) for d in diags]
    return parsed


def test_the_mapping_names_every_wait_inside_the_branches() -> None:
    """The waits inside the branches are the waiting steps a mapping must name; it checks."""
    v1 = example("welcome_paths")
    assert set(waiting_steps(v1)) == {"wait_for_card_activated", "wait", "wait_for_transaction"}
    assert check_mapping(_mapping(), v1, _v2()) == []


def test_a_step_mapped_into_another_branch_is_jd703() -> None:
    """The activation wait of branch 1 mapped onto the spend wait of branch 2 is refused."""
    swapped = MAPPING.replace(
        "wait_for_card_activated: activation_wait", "wait_for_card_activated: spend_wait"
    )
    found = [
        (d.code, d.message)
        for d in check_mapping(_mapping(swapped), example("welcome_paths"), _v2())
    ]
    assert (
        "JD703",
        "'wait_for_card_activated' waits in branch 1 of parallel block 'paths', but "
        "'spend_wait' of version 2 is in branch 2 of parallel block 'paths'",
    ) in found


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_an_instance_waiting_in_both_branches_moves_and_goes_on_in_the_new_version(
    tmp_path: Path, store_kind: str
) -> None:
    """Waiting in both branches (the activation, and the purchase after the day-1 message), the
    instance moves: each branch to its mapped step, its timers kept; an activation then runs
    version 2's branch (the push nudge) and a purchase completes the join in version 2."""
    v1, v2 = example("welcome_paths"), _v2()
    clock = SteppableClock(START)
    state = MemoryStateStore() if store_kind == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    world = World(state)
    engine = world.engine([v1], clock)
    engine.ingest(
        {
            "customer_id": "c1",
            "type": "card_issued",
            "at": START.isoformat(),
            "data": {"card_id": "k1", "product": "gold"},
        }
    )
    clock.advance(timedelta(days=1, hours=1))
    engine.tick()  # the day-1 message: branch 2 now waits for a purchase
    before = state.instance("welcome_paths/c1/1")
    assert before is not None
    assert [b["node"] for b in before["par"]["branches"]] == [
        "wait_for_card_activated",
        "wait_for_transaction",
    ]
    report = migrate(state, _mapping(), v1, v2, at=clock.now())
    assert report.migrated == 1
    assert dict(report.by_step) == {"wait_for_card_activated": 1, "wait_for_transaction": 1}
    after = state.instance("welcome_paths/c1/1")
    assert after is not None
    assert (after["version"], after["node"], after["due"]) == (2, "paths", before["due"])
    assert [(b["node"], b["due"]) for b in after["par"]["branches"]] == [
        ("activation_wait", before["par"]["branches"][0]["due"]),
        ("spend_wait", before["par"]["branches"][1]["due"]),
    ]
    engine = world.engine([v1, v2], clock)
    for day, kind, data in (
        (2, "card_activated", {"card_id": "k1"}),
        (
            3,
            "transaction",
            {"amount": 200_000, "currency": "VND", "merchant": "Tiki", "category": "shopping"},
        ),
    ):
        at = START + timedelta(days=day)
        clock.set(at)
        engine.ingest({"customer_id": "c1", "type": kind, "at": at.isoformat(), "data": data})
    engine.deliver()
    done = state.instance("welcome_paths/c1/1")
    assert done is not None
    assert (done["status"], done["outcome"], "par" in done) == (
        "ended",
        "activated_and_spent",
        False,
    )
    assert [m.template for m in world.channels["push"].delivered] == ["first_spend_nudge"]
    if isinstance(state, SQLiteStore):
        state.close()
