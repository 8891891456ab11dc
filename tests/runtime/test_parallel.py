"""`parallel all|first`: branches that wait side by side in one instance, join when every branch
(or the first) has ended, cancel the rest, in written order at one instant; an exit in a branch
ends the instance; the checks JD801-JD804; the same events always give the same run."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from hypothesis import example as case
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.compiler import compile_source
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, example, local, profile, run, txn

ISSUED = local("2026-03-02 09:00")

RACE = """
journey reminder_race
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
parallel first {
  branch {
    wait for card_activated within 14d
  }
  branch {
    wait 3d
    send email activation_reminder transactional { round: 1 }
    wait 4d
    send email activation_reminder transactional { round: 2 }
    wait 7d
  }
}
exit done
"""

EXITS = """
journey exits_early
uses events "events.yaml"
uses templates "templates.yaml"
outcomes activated, done
entry on card_issued
parallel all {
  branch {
    wait for card_activated within 14d {
      exit activated
    }
  }
  branch {
    wait 3d
    send email activation_reminder transactional { round: 1 }
    wait 4d
    send email activation_reminder transactional { round: 2 }
  }
}
exit done
"""


def _issued(customer: str = "c1") -> dict[str, object]:
    return ev(customer, "card_issued", ISSUED, card_id="k1", product="gold")


def _reminder(at: str, n: int) -> tuple[Any, ...]:
    return (at, "send", "email", "activation_reminder", {"round": n})


def _log(r: Any, customer: str) -> list[dict[str, Any]]:
    (inst,) = r.state.instances_of(customer)
    return list(inst["log"])


def test_parallel_first_goes_on_when_the_first_branch_ends_and_cancels_the_others() -> None:
    """Activation on day 5 ends the first branch: the reminder path, after one reminder, is
    cancelled at its wait, and the journey ends at that instant."""
    r = run(
        [compile_journey(RACE)],
        [profile("c1", app=True)],
        [_issued(), ev("c1", "card_activated", local("2026-03-07 10:00"), card_id="k1")],
        start=ISSUED,
    )
    assert r.acts("c1") == [_reminder("2026-03-05 09:00", 1)]
    assert r.ended("c1") == [("done", "2026-03-07 10:00")]
    cancelled = [e for e in _log(r, "c1") if e["what"] == "cancelled"]
    assert [(e["branch"], e["at_step"]) for e in cancelled] == [(2, "wait_2")]


def test_at_one_instant_the_branch_written_first_wins() -> None:
    """Both branches end on day 14 at 09:00 (the activation wait times out as the reminder path
    ends): branch 1, written first, ends first and branch 2 is cancelled."""
    r = run([compile_journey(RACE)], [profile("c1", app=True)], [_issued()], start=ISSUED)
    assert r.acts("c1") == [_reminder("2026-03-05 09:00", 1), _reminder("2026-03-09 09:00", 2)]
    assert r.ended("c1") == [("done", "2026-03-16 09:00")]
    log = _log(r, "c1")
    assert [e["branch"] for e in log if e["what"] == "branch_done"] == [1]
    assert [e["branch"] for e in log if e["what"] == "cancelled"] == [2]


def test_an_exit_in_a_branch_ends_the_instance_and_every_branch() -> None:
    """An activation on day 4 exits from branch 1: the second reminder is never sent, though
    its branch was waiting, and the steps after the block never run."""
    r = run(
        [compile_journey(EXITS)],
        [profile("c1", app=True)],
        [_issued(), ev("c1", "card_activated", local("2026-03-06 10:00"), card_id="k1")],
        start=ISSUED,
    )
    assert r.acts("c1") == [_reminder("2026-03-05 09:00", 1)]
    assert r.ended("c1") == [("activated", "2026-03-06 10:00")]
    (inst,) = r.state.instances_of("c1")
    assert "par" not in inst
    assert inst["due"] is None


def test_parallel_all_waits_for_every_branch_and_explain_shows_each() -> None:
    """An activation on day 2 ends branch 1; the journey waits on for branch 2 (the spend path)
    and goes on at the purchase on day 6; `explain` lists each branch's steps and the join."""
    r = run(
        [example("welcome_paths")],
        [profile("c1", app=True)],
        [
            _issued(),
            ev("c1", "card_activated", local("2026-03-04 10:00"), card_id="k1"),
            txn("c1", local("2026-03-08 11:00"), 200_000, "Highlands", "dining"),
        ],
        start=ISSUED,
    )
    assert r.ended("c1") == [("activated_and_spent", "2026-03-08 11:00")]
    log = r.engine.explain("c1")[0]["log"]
    steps = [(e["node"], e["what"]) for e in log]
    woke = [(e["node"], e.get("in_branch")) for e in log if e["what"] == "woke"]
    assert woke == [("wait_for_card_activated", 1), ("wait_for_transaction", 2)]
    kinds = {"parallel", "send", "woke", "branch_done", "join"}
    assert [x for x in steps if x[1] in kinds] == [
        ("paths", "parallel"),
        ("zns_install_digital_app", "send"),
        ("wait_for_card_activated", "woke"),
        ("paths.join", "branch_done"),
        ("wait_for_transaction", "woke"),
        ("paths.join", "branch_done"),
        ("paths.join", "join"),
    ]


def test_a_parallel_block_survives_a_restart_on_sqlite(tmp_path: Any) -> None:
    """The branches' waits are durable: the same run on a SQLite store ends as on the
    in-memory stores."""
    timeline = [_issued(), txn("c1", local("2026-03-04 11:00"), 200_000, "Highlands", "dining")]
    store = SQLiteStore(tmp_path / "state.db")
    r = run(
        [example("welcome_paths")], [profile("c1", app=True)], timeline, start=ISSUED, store=store
    )
    assert r.ended("c1") == [("spent_only", "2026-03-09 09:00")]
    store.close()


@settings(max_examples=25, deadline=None)
@given(
    activated=st.one_of(st.none(), st.integers(1, 20 * 24)),
    spent=st.one_of(st.none(), st.integers(1, 20 * 24)),
)
@case(activated=None, spent=24)
@case(activated=None, spent=15 * 24)
@case(activated=7 * 24, spent=None)
def test_same_events_give_the_same_run_and_the_outcome_follows_the_branches(
    activated: int | None, spent: int | None
) -> None:
    """Determinism: two runs of the same events send and end alike; and the outcome is what
    the two branches saw (an activation within 7 days; a purchase after the day-1 message and
    within 14 days of it)."""
    timeline: list[dict[str, Any]] = [_issued()]
    if activated is not None:
        at = ISSUED + timedelta(hours=activated)
        timeline.append(ev("c1", "card_activated", at, card_id="k1"))
    if spent is not None:
        timeline.append(txn("c1", ISSUED + timedelta(hours=spent), 200_000, "Highlands", "dining"))
    runs = [
        run([example("welcome_paths")], [profile("c1", app=True)], timeline, start=ISSUED)
        for _ in range(2)
    ]
    assert runs[0].acts("c1") == runs[1].acts("c1")
    assert runs[0].ended("c1") == runs[1].ended("c1")
    # (a timer due at an event's instant fires first: an activation at 7 d or a purchase at
    # 15 d comes too late, and a purchase at 1 d comes after the message, so it counts)
    did_activate = activated is not None and activated < 7 * 24
    did_spend = spent is not None and 24 <= spent < 15 * 24
    expected = {
        (True, True): "activated_and_spent",
        (True, False): "activated_only",
        (False, True): "spent_only",
        (False, False): "neither",
    }[(did_activate, did_spend)]
    assert [o for o, _ in runs[0].ended("c1")] == [expected]


BAD = """
journey bad
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
{steps}
exit done
"""


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        (
            "parallel all { branch { wait 1d  set offer = 1 } branch { wait 2d  set offer = 2 } }",
            "JD801",
        ),
        ("parallel first { branch { tag seen } branch { wait 1d } }", "JD802"),
        ("parallel all { branch { wait 1d  exit done } branch { wait 2d } }", "JD803"),
        ("parallel first { branch { wait 1d  exit done } branch { wait 2d  exit done } }", "JD803"),
        (
            "parallel all { branch { parallel all { branch { wait 1d } branch { wait 2d } } }"
            " branch { wait 3d } }",
            "JD804",
        ),
        ("parallel all { branch { wait 1d } }", "JD105"),
        ("repeat max 3 { parallel all { branch { tag vip } branch { tag dormant } } }", "JD502"),
        (
            "repeat max 3 { parallel first { branch { wait 1d } branch { tag dormant  wait 1d }"
            " branch { tag vip  if profile.has_digital_app { wait 1d } } } }",
            "JD502",
        ),
    ],
)
def test_the_checker_refuses_blocks_that_cannot_work(steps: str, code: str) -> None:
    """Two branches setting one variable, an unreachable branch, a join that cannot complete, a
    nested block and a block of one branch are each refused with their code."""
    result = compile_source(BAD.format(steps=steps), "bad.journey", base_dir=EXAMPLES)
    assert result.journey is None
    assert [d.code for d in result.diagnostics if d.severity == "error"] == [code]


def test_a_repeat_around_a_block_that_always_waits_is_no_burst() -> None:
    """A round waits when one branch of `parallel all` always waits, so JD502 stays quiet."""
    steps = "repeat max 3 { parallel all { branch { wait 1d } branch { tag vip } } }"
    result = compile_source(BAD.format(steps=steps), "ok.journey", base_dir=EXAMPLES)
    assert [d.code for d in result.diagnostics] == []


def test_a_variable_set_in_one_branch_and_read_after_the_join_is_fine() -> None:
    """One branch per variable, defaults before the block: the example checks clean."""
    assert example("welcome_paths").nodes["paths"].kind == "parallel"


def test_the_message_budget_adds_up_the_branches() -> None:
    """Every branch runs, so their sends add up: an email and a ZNS message in two branches are
    two messages, and the reminder path of the race two emails."""
    paths = compile_source(
        (EXAMPLES / "welcome_paths.journey").read_text(encoding="utf-8"),
        str(EXAMPLES / "welcome_paths.journey"),
    )
    race = compile_source(RACE, "race.journey", base_dir=EXAMPLES)
    assert paths.budget == {"email": 1, "zns": 1, "total": 2}
    assert race.budget == {"email": 2, "total": 2}


def test_both_spellings_give_the_same_graph_with_the_fork_and_the_join() -> None:
    """examples/welcome_paths in YAML and DSL compile to the same graph JSON, where the fork
    lists its branches and the join leads on."""
    from journeydsl.compiler import compile_file

    graphs = [compile_file(EXAMPLES / f"welcome_paths{s}").journey for s in (".journey", ".yaml")]
    assert graphs[0] is not None
    assert graphs[1] is not None
    assert graphs[0].to_json() == graphs[1].to_json()
    nodes = {n["id"]: n for n in graphs[0].to_json()["nodes"]}
    assert nodes["paths"] == {
        "id": "paths",
        "kind": "parallel",
        "join": "all",
        "branches": ["wait_for_card_activated", "wait"],
        "done": "paths.join",
    }
    assert nodes["paths.join"] == {
        "id": "paths.join",
        "kind": "join",
        "fork": "paths",
        "join": "all",
        "next": "if",
    }


SIGNAL = """
journey signal
uses events "events.yaml"
uses templates "templates.yaml"
outcomes seen, missed
entry on card_issued
set ready = false
set seen = false
parallel all {{
  branch {{
    wait for ready within 5d {{
      set seen = true
      send zns install_digital_app marketing
    }}
  }}
  branch {{
    {setter}
  }}
}}
if seen {{ exit seen }}
exit missed
"""


@pytest.mark.parametrize(
    ("setter", "at", "ended"),
    [
        ("wait 1d\n    set ready = true", "2026-03-03 09:00", "2026-03-03 09:00"),
        (
            "wait for card_activated within 5d {\n      set ready = true\n    }",
            "2026-03-04 10:00",
            "2026-03-04 10:00",
        ),
        ("set ready = true\n    wait 1d", "2026-03-02 09:00", "2026-03-03 09:00"),
    ],
    ids=["after-a-timer", "at-an-event", "at-the-fork"],
)
def test_a_condition_wait_goes_on_when_another_branch_sets_its_variable(
    setter: str, at: str, ended: str
) -> None:
    """A branch waiting for a variable goes on at the instant another branch (written after it)
    sets it, by a timer, an event or at once, not at the next event or at its timeout."""
    r = run(
        [compile_journey(SIGNAL.format(setter=setter))],
        [profile("c1", app=True)],
        [_issued(), ev("c1", "card_activated", local("2026-03-04 10:00"), card_id="k1")],
        start=ISSUED,
    )
    assert r.acts("c1") == [(at, "send", "zns", "install_digital_app", {})]
    assert r.ended("c1") == [("seen", ended)]
    log = _log(r, "c1")
    assert [e.get("in_branch") for e in log if e["what"] == "condition"] == [1]


def test_branches_that_wake_each_other_for_ever_stop_within_one_pass_per_branch() -> None:
    """Two branches whose rounds wake each other at one instant stop there (at most one
    re-check pass per branch) and wait on for the next event or timer, instead of spinning."""
    text = """
journey ping
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
set go = false
set a = 0
set b = 0
parallel first {
  branch {
    repeat max 1000 {
      wait for go and a >= b within 2d {
        set b = a + 1
      }
    }
  }
  branch {
    repeat max 1000 {
      wait for go and b > a within 2d {
        set a = b + 1
      }
    }
  }
  branch {
    wait 1d
    set go = true
    wait 1d
  }
}
exit done
"""
    r = run([compile_journey(text)], [profile("c1", app=True)], [_issued()], start=ISSUED)
    assert r.ended("c1") == [("done", "2026-03-04 09:00")]
    rounds = [e for e in _log(r, "c1") if e["what"] == "condition"]
    assert {e["at"][:10] for e in rounds} == {"2026-03-03"}
    assert 2 <= len(rounds) <= 6
