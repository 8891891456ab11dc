"""`during { body } on EVENT { handler }`: a handler interrupts the body at the instant its event
arrives (its steps run, the body is cancelled where it waits, the journey goes on after the
block); a body that ends first drops the handlers; at one instant a handler wins over the body;
condition handlers; the checks; the graph in both spellings; migration of an instance waiting
inside the block; the same events always give the same run."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl import ir
from journeydsl.compiler import compile_file, compile_source
from journeydsl.runtime.migrate import StepMapping, check_mapping, load_mapping, migrate
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import MemoryStateStore, SteppableClock
from tests.runtime.scenario import (
    EXAMPLES,
    compile_journey,
    ev,
    example,
    local,
    profile,
    run,
    txn,
)
from tests.runtime.test_migrate import World

APPROVED = local("2026-01-05 10:00")

#: A handler that does not exit: the journey goes on after the block. The body waits for the
#: same event as the second handler, which wins at that instant.
GOES_ON = """
journey goes_on
uses events "events.yaml"
uses templates "templates.yaml"
outcomes bound, interrupted, activated
entry on card_approved
set reason = ""
during {
  wait 3d
  send push wallet_binding_reminder marketing
  wait for card_activated within 30d
  exit bound
} on cancel_request as req {
  set reason = "cancel"
} on card_activated {
  set reason = "activated"
} when profile.segment == "vip" {
  set reason = "vip"
}
if reason == "activated" {
  exit activated
}
send email wallet_binding_benefits marketing
exit interrupted
"""


def _approved(customer: str = "c1") -> dict[str, object]:
    return ev(
        customer,
        "card_approved",
        APPROVED,
        application_id="a1",
        card_id="k1",
        credit_limit=30_000_000,
    )


def _cancel(at: datetime, customer: str = "c1") -> dict[str, object]:
    return ev(customer, "cancel_request", at, card_id="k1", reason="annual_fee")


def _log(r: Any, customer: str) -> list[dict[str, Any]]:
    (inst,) = r.state.instances_of(customer)
    return list(inst["log"])


def test_the_handler_runs_at_its_event_and_the_body_is_cancelled() -> None:
    """A cancel request on day 40 (after the day-30 push): the churn ticket is opened at that
    instant, the body is cancelled where it waits (no day-90 email) and the journey ends."""
    r = run(
        [example("card_lifecycle")],
        [profile("c1", app=True)],
        [_approved(), _cancel(local("2026-02-14 15:00"))],
        start=APPROVED,
        horizon=APPROVED + timedelta(days=200),
    )
    assert r.acts("c1") == [
        ("2026-02-04 10:00", "send", "push", "wallet_binding_reminder", {}),
        ("2026-02-14 15:00", "ticket", "churn", "high", {"card_id": "k1", "reason": "annual_fee"}),
    ]
    assert r.ended("c1") == [("churn_ticket", "2026-02-14 15:00")]
    (inst,) = r.state.instances_of("c1")
    assert "par" not in inst
    assert inst["due"] is None


def test_the_body_ending_first_drops_the_handlers() -> None:
    """Bound on day 10: the body exits, and a later cancel request opens no ticket."""
    r = run(
        [example("card_lifecycle")],
        [profile("c1", app=True)],
        [
            _approved(),
            ev("c1", "card_bound", local("2026-01-15 19:00"), card_id="k1", wallet="momo"),
            _cancel(local("2026-01-20 15:00")),
        ],
        start=APPROVED,
    )
    assert r.acts("c1") == []
    assert r.ended("c1") == [("bound", "2026-01-15 19:00")]


def test_a_handler_without_exit_goes_on_after_the_block_and_explain_names_the_cancel() -> None:
    """A cancel request on day 5 sets the variable, the body (waiting for an activation) is
    cancelled, and the steps after the block send the email at that instant."""
    r = run(
        [compile_journey(GOES_ON)],
        [profile("c1", app=True)],
        [_approved(), _cancel(local("2026-01-10 15:00"))],
        start=APPROVED,
    )
    assert r.acts("c1") == [
        ("2026-01-08 10:00", "send", "push", "wallet_binding_reminder", {}),
        ("2026-01-10 15:00", "send", "email", "wallet_binding_benefits", {}),
    ]
    assert r.ended("c1") == [("interrupted", "2026-01-10 15:00")]
    log = _log(r, "c1")
    cancelled = [(e["branch"], e["at_step"]) for e in log if e["what"] == "cancelled"]
    assert cancelled == [
        (2, "wait_for_card_activated_2"),
        (3, "wait_for_condition"),
        (4, "wait_for_card_activated"),
    ]


def test_at_one_instant_a_handler_wins_over_the_body_waiting_for_the_same_event() -> None:
    """An activation on day 5: the body waits for it too, but the handler is offered the event
    first, so the body never reaches its `exit bound`."""
    r = run(
        [compile_journey(GOES_ON)],
        [profile("c1", app=True)],
        [_approved(), ev("c1", "card_activated", local("2026-01-10 15:00"), card_id="k1")],
        start=APPROVED,
    )
    assert r.ended("c1") == [("activated", "2026-01-10 15:00")]


def test_a_condition_handler_interrupts_when_it_becomes_true() -> None:
    """A VIP from the start: the condition handler passes at once, before the body starts, so
    no push is sent; the email follows the block."""
    r = run(
        [compile_journey(GOES_ON)],
        [profile("c1", app=True, segment="vip")],
        [_approved()],
        start=APPROVED,
    )
    assert r.acts("c1") == [("2026-01-05 10:00", "send", "email", "wallet_binding_benefits", {})]
    assert r.ended("c1") == [("interrupted", "2026-01-05 10:00")]


SPENT = """
journey reminders_until_spent
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
set spent = false
during {
  wait 3d
  send email activation_reminder transactional { round: 1 }
  wait 4d
  send email activation_reminder transactional { round: 2 }
} when sum(transaction.amount since entry) >= 1_000_000 VND {
  set spent = true
}
if spent {
  ticket telesales
}
exit done
"""


def test_a_condition_handler_wakes_at_the_event_that_makes_it_true() -> None:
    """Two purchases (day 2 and day 5) reach a million: at the second, the handler runs, the
    second reminder is never sent, and the ticket follows the block at that instant."""
    issued = ev("c1", "card_issued", APPROVED, card_id="k1", product="gold")
    r = run(
        [compile_journey(SPENT)],
        [profile("c1", app=True)],
        [
            issued,
            txn("c1", local("2026-01-07 12:00"), 600_000, "Tiki", "shopping"),
            txn("c1", local("2026-01-10 12:00"), 600_000, "Tiki", "shopping"),
        ],
        start=APPROVED,
    )
    assert [a[:4] for a in r.acts("c1")] == [
        ("2026-01-08 10:00", "send", "email", "activation_reminder"),
        ("2026-01-10 12:00", "ticket", "telesales", "normal"),
    ]
    assert r.ended("c1") == [("done", "2026-01-10 12:00")]


def test_a_condition_handler_wakes_when_the_body_sets_its_variable() -> None:
    """A `when` handler on a variable the body sets after its first reminder interrupts the
    body at that instant: the second reminder is never sent and the ticket follows at once."""
    text = """
journey reminders_until_flagged
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
set flagged = false
during {
  wait 3d
  send email activation_reminder transactional { round: 1 }
  set flagged = true
  wait 4d
  send email activation_reminder transactional { round: 2 }
} when flagged {
  ticket telesales
}
exit done
"""
    issued = ev("c1", "card_issued", APPROVED, card_id="k1", product="gold")
    r = run([compile_journey(text)], [profile("c1", app=True)], [issued], start=APPROVED)
    assert [a[:4] for a in r.acts("c1")] == [
        ("2026-01-08 10:00", "send", "email", "activation_reminder"),
        ("2026-01-08 10:00", "ticket", "telesales", "normal"),
    ]
    assert r.ended("c1") == [("done", "2026-01-08 10:00")]


def test_the_block_survives_a_restart_on_sqlite(tmp_path: Path) -> None:
    """The handlers' and the body's waits are durable: the interrupted run ends on a SQLite
    store as on the in-memory stores."""
    store = SQLiteStore(tmp_path / "state.db")
    r = run(
        [example("card_lifecycle")],
        [profile("c1", app=True)],
        [_approved(), _cancel(local("2026-01-20 15:00"))],
        start=APPROVED,
        store=store,
    )
    assert r.ended("c1") == [("churn_ticket", "2026-01-20 15:00")]
    store.close()


@settings(max_examples=20, deadline=None)
@given(
    # (not at day 180 itself: a timer due at an event's instant fires before it is ingested)
    cancel=st.one_of(st.none(), st.integers(1, 200 * 24).filter(lambda h: h != 180 * 24)),
    bound=st.one_of(st.none(), st.integers(1, 200 * 24).filter(lambda h: h != 180 * 24)),
)
def test_same_events_give_the_same_run_and_the_outcome_follows_the_first_to_happen(
    cancel: int | None, bound: int | None
) -> None:
    """Determinism: two runs of the same events act and end alike; and the outcome is whichever
    of a cancel request (the handler) and a binding within 180 days (the body) came first."""
    timeline: list[dict[str, Any]] = [_approved()]
    if cancel is not None:
        timeline.append(_cancel(APPROVED + timedelta(hours=cancel)))
    if bound is not None:
        at = APPROVED + timedelta(hours=bound)
        timeline.append(ev("c1", "card_bound", at, card_id="k1", wallet="momo"))
    runs = [
        run(
            [example("card_lifecycle")],
            [profile("c1", app=True)],
            timeline,
            start=APPROVED,
            horizon=APPROVED + timedelta(days=200),
        )
        for _ in range(2)
    ]
    assert runs[0].acts("c1") == runs[1].acts("c1")
    assert runs[0].ended("c1") == runs[1].ended("c1")
    first = min(  # (at one instant the cancel request, ingested first, is first)
        [(h, 0, "churn_ticket") for h in [cancel] if h is not None and h < 180 * 24]
        + [(h, 1, "bound") for h in [bound] if h is not None and h < 180 * 24],
        default=(0, 0, "not_bound"),
    )
    assert [o for o, _ in runs[0].ended("c1")] == [first[2]]
    tickets = [a for a in runs[0].acts("c1") if a[1] == "ticket"]
    assert len(tickets) == (first[2] == "churn_ticket")


BAD = """
journey bad
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_approved
set flag = false
{steps}
exit done
"""


@pytest.mark.parametrize(
    ("steps", "code"),
    [
        ("during { wait 1d } on cancel_request { wait 1d }", "JD105"),
        ("during { tag seen } on cancel_request { tag churn }", "JD802"),
        ("during { wait 1d } on flag", "JD201"),
        ("during { wait 1d } on cancel_requst", "JD201"),
        ("during { wait 1d } when cancel_request", "JD105"),
        ("during { during { wait 1d } on card_bound } on cancel_request", "JD804"),
        (
            "during { parallel all { branch { wait 1d } branch { wait 2d } } } on cancel_request",
            "JD804",
        ),
        (
            "parallel all { branch { during { wait 1d } on cancel_request } branch { wait 2d } }",
            "JD804",
        ),
        ("repeat max 3 { during { wait 1d } on cancel_request { break } }", "JD105"),
    ],
)
def test_the_checker_refuses_blocks_that_cannot_work(steps: str, code: str) -> None:
    """A handler that waits, a body that never waits, `on` a variable or an unknown event,
    `when` an event, a block nested in another and a `break` out of the block are refused."""
    result = compile_source(BAD.format(steps=steps), "bad.journey", base_dir=EXAMPLES)
    assert result.journey is None
    assert [d.code for d in result.diagnostics if d.severity == "error"] == [code]


def test_a_handler_that_waits_forever_is_not_warned_about() -> None:
    """A handler's wait lasts as long as the body by design: no JD503, though a plain `wait for`
    without a timeout is still warned about."""
    ok = BAD.format(steps="during { wait 1d } on cancel_request")
    assert [d.code for d in compile_source(ok, "ok.journey", base_dir=EXAMPLES).diagnostics] == []
    plain = BAD.format(steps="wait for cancel_request")
    found = compile_source(plain, "ok.journey", base_dir=EXAMPLES).diagnostics
    assert [d.code for d in found] == ["JD503"]


def test_both_spellings_give_the_same_graph_with_the_handlers_then_the_body() -> None:
    """examples/card_lifecycle in YAML and DSL compile to the same graph JSON: a `first` fork
    whose branches are the handler's wait, then the body; edges labelled by the handler."""
    graphs = [compile_file(EXAMPLES / f"card_lifecycle{s}").journey for s in (".journey", ".yaml")]
    assert graphs[0] is not None
    assert graphs[1] is not None
    assert graphs[0].to_json() == graphs[1].to_json()
    node = graphs[0].nodes["binding"]
    assert node.to_json() == {
        "id": "binding",
        "kind": "parallel",
        "join": "first",
        "branches": ["wait_for_cancel_request", "wait_for_card_bound"],
        "done": "binding.join",
        "handlers": ["on cancel_request"],
    }
    assert ir.edges(node) == [
        ("on cancel_request", "wait_for_cancel_request"),
        ("body", "wait_for_card_bound"),
    ]


def test_the_message_budget_adds_the_handler_to_the_body() -> None:
    """The body's push and email, and the handler's ticket (no message): two messages."""
    result = compile_file(EXAMPLES / "card_lifecycle.journey")
    assert result.budget == {"email": 1, "push": 1, "total": 2}


# ---------------------------------------------------------------- migration

ICT = timezone(timedelta(hours=7))
START = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)

#: Version 2 of examples/card_lifecycle: the 30-day wait has a label, and the handler also
#: sends the retention offer.
V2 = (
    (EXAMPLES / "card_lifecycle.journey")
    .read_text(encoding="utf-8")
    .replace("version 1", "version 2")
    .replace(
        "  wait for card_bound until entered_at + 30d {",
        "  first: wait for card_bound until entered_at + 30d {",
    )
    .replace(
        "  exit churn_ticket",
        '  send email retention_offer marketing { offer: "fee_waiver" }\n  exit churn_ticket',
    )
)

MAPPING = """
migrate: card_lifecycle
from_version: 1
to_version: 2
steps:
  wait_for_card_bound: first
  wait_for_card_bound_2: wait_for_card_bound
  wait_for_card_bound_3: wait_for_card_bound_2
  wait_for_cancel_request: wait_for_cancel_request
"""


def _v2() -> ir.Journey:
    result = compile_source(V2, str(EXAMPLES / "card_lifecycle_v2.journey"), base_dir=EXAMPLES)
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def _mapping(text: str = MAPPING) -> StepMapping:
    parsed, diags = load_mapping(text, "map.yaml")
    assert parsed is not None, [str(d) for d in diags]
    return parsed


def test_a_step_mapped_from_the_body_into_the_handler_is_jd703() -> None:
    """The body's first wait mapped onto the handler's wait is refused (another branch)."""
    bad = MAPPING.replace(
        "wait_for_card_bound: first", "wait_for_card_bound: wait_for_cancel_request"
    )
    found = [d.code for d in check_mapping(_mapping(bad), example("card_lifecycle"), _v2())]
    assert "JD703" in found


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_an_instance_waiting_inside_the_block_moves_and_its_handler_runs_version_2(
    tmp_path: Path, store_kind: str
) -> None:
    """Waiting in the body (day 10) and in the handler, the instance moves branch by branch with
    its timer; a cancel request then runs version 2's handler (the offer, and the outcome)."""
    v1, v2 = example("card_lifecycle"), _v2()
    assert check_mapping(_mapping(), v1, v2) == []
    clock = SteppableClock(START)
    state = MemoryStateStore() if store_kind == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    world = World(state)
    engine = world.engine([v1], clock)
    data = {"application_id": "a1", "card_id": "k1", "credit_limit": 30_000_000}
    engine.ingest(
        {"customer_id": "c1", "type": "card_approved", "at": START.isoformat(), "data": data}
    )
    clock.advance(timedelta(days=10))
    engine.tick()
    before = state.instance("card_lifecycle/c1/1")
    assert before is not None
    branches = before["par"]["branches"]
    assert [b["node"] for b in branches] == ["wait_for_cancel_request", "wait_for_card_bound"]
    report = migrate(state, _mapping(), v1, v2, at=clock.now())
    assert report.migrated == 1
    after = state.instance("card_lifecycle/c1/1")
    assert after is not None
    assert (after["version"], after["node"], after["due"]) == (2, "binding", before["due"])
    assert [(b["node"], b["due"]) for b in after["par"]["branches"]] == [
        ("wait_for_cancel_request", None),
        ("first", branches[1]["due"]),
    ]
    engine = world.engine([v1, v2], clock)
    at = START + timedelta(days=12)
    clock.set(at)
    cancel = {"card_id": "k1", "reason": "not_used"}
    engine.ingest(
        {"customer_id": "c1", "type": "cancel_request", "at": at.isoformat(), "data": cancel}
    )
    engine.deliver()
    done = state.instance("card_lifecycle/c1/1")
    assert done is not None
    assert (done["status"], done["outcome"], "par" in done) == ("ended", "churn_ticket", False)
    assert [m.template for m in world.channels["email"].delivered] == ["retention_offer"]
    if isinstance(state, SQLiteStore):
        state.close()


def test_explain_names_the_during_block_and_the_handlers_branch(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl explain` says the body starts while the handler waits, then shows the
    handler's wake and ticket in its branch (1) and the body's push in its own (2)."""
    from journeydsl.cli import main

    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"customer_id": "l-1", "type": "card_approved", "at": "2026-01-05T10:00:00+07:00", '
        '"data": {"application_id": "a", "card_id": "k1", "credit_limit": 30000000}}\n'
        '{"customer_id": "l-1", "type": "cancel_request", "at": "2026-02-20T15:00:00+07:00", '
        '"data": {"card_id": "k1", "reason": "annual_fee"}}\n',
        encoding="utf-8",
    )
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text(
        '{"customer_id": "l-1", "attributes": {"has_digital_app": true}, '
        '"consent": {"email": true, "push": true}}\n',
        encoding="utf-8",
    )
    journey = str(EXAMPLES / "card_lifecycle.journey")
    args = ["explain", journey, "--events", str(events), "--profiles", str(profiles)]
    assert main([*args, "--customer", "l-1", "--days", "200"]) == 0
    out = capsys.readouterr().out
    assert "during: the body starts, handlers wait (on cancel_request)" in out
    assert "[branch 2] send push wallet_binding_reminder" in out
    assert "[branch 1] woke on cancel_request" in out
    assert "ended: churn_ticket" in out


def test_explain_says_when_the_body_is_cancelled_and_when_a_handler_is_dropped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A cancel request while the body waits: `body cancelled (it waited at …)`; an activation
    (the second handler wins): the handlers that did not run are dropped, by name."""
    import shutil

    from journeydsl.cli import main

    for name in ("events.yaml", "templates.yaml"):
        shutil.copy(EXAMPLES / name, tmp_path / name)
    (tmp_path / "goes_on.journey").write_text(GOES_ON, encoding="utf-8")
    approved = (
        '{"customer_id": "%s", "type": "card_approved", "at": "2026-01-05T10:00:00+07:00", '
        '"data": {"application_id": "a", "card_id": "k1", "credit_limit": 30000000}}\n'
    )
    later = (
        '{"customer_id": "c1", "type": "cancel_request", "at": "2026-01-10T15:00:00+07:00", '
        '"data": {"card_id": "k1", "reason": "annual_fee"}}\n'
        '{"customer_id": "c2", "type": "card_activated", "at": "2026-01-10T15:00:00+07:00", '
        '"data": {"card_id": "k1"}}\n'
    )
    (tmp_path / "events.jsonl").write_text(approved % "c1" + approved % "c2" + later, "utf-8")
    seen = {}
    for customer in ("c1", "c2"):
        args = ["explain", str(tmp_path / "goes_on.journey"), "--default-consent"]
        args += ["--events", str(tmp_path / "events.jsonl"), "--customer", customer]
        assert main([*args, "--days", "40"]) == 0
        seen[customer] = capsys.readouterr().out
    assert "body cancelled (it waited at wait_for_card_activated)" in seen["c1"]
    assert 'handler 3 (when profile.segment == "vip") dropped' in seen["c2"]
