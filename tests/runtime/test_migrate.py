"""Migrations: the mapping file, its checks against two versions (JD701-JD705), `journeydsl check
--migrate`, and moving waiting instances in a store in one commit."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from journeydsl import ir
from journeydsl.cli import main
from journeydsl.compiler import compile_file, compile_source
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.migrate import (
    MigrationError,
    StepMapping,
    check_mapping,
    load_mapping,
    migrate,
    read_mapping,
    set_before,
    waiting_steps,
)
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    RecordingTickets,
    SteppableClock,
)
from tests.catalogs import USES, example_catalogs_in
from tests.runtime.scenario import profile

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
V1 = EXAMPLES / "onboarding_new_cardholder.journey"
V2 = EXAMPLES / "upgrade" / "onboarding_new_cardholder_v2.journey"
MAPPING = EXAMPLES / "upgrade" / "onboarding_v1_to_v2.yaml"
ICT = timezone(timedelta(hours=7))


def journey(path: Path) -> ir.Journey:
    # Version 2 (examples/upgrade) uses the catalogs one folder up.
    result = compile_file(path, root=EXAMPLES if path.is_relative_to(EXAMPLES) else None)
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def mapping_of(text: str) -> StepMapping:
    parsed, diags = load_mapping(text, "map.yaml")
    assert parsed is not None, [str(d) for d in diags]
    return parsed


EXAMPLE_MAPPING = MAPPING.read_text(encoding="utf-8")


def codes(text: str, old: Path = V1, new: Path = V2) -> list[tuple[str, int]]:
    return [
        (d.code, d.span.line) for d in check_mapping(mapping_of(text), journey(old), journey(new))
    ]


# --------------------------------------------------------------------------- the file and checks


def test_the_example_mapping_checks_clean_and_maps_every_waiting_step() -> None:
    """examples/upgrade maps each of version 1's five waiting steps, with no diagnostic."""
    parsed, diags, _ = read_mapping(MAPPING)
    assert diags == []
    assert parsed is not None
    assert set(parsed.steps) == set(waiting_steps(journey(V1)))
    assert check_mapping(parsed, journey(V1), journey(V2)) == []


def test_an_unmapped_waiting_step_is_jd701_at_the_steps_key() -> None:
    """Leaving out a waiting step of the old version is an error naming it and its line."""
    text = without("wait_until_2")
    (found,) = check_mapping(mapping_of(text), journey(V1), journey(V2))
    assert found.code == "JD701"
    assert "'wait_until_2'" in found.message
    assert "onboarding_new_cardholder.journey:57" in found.message
    assert found.span.file == "map.yaml"
    assert found.span.line == text.splitlines().index("steps:") + 1


def test_unknown_steps_are_jd702_with_a_suggestion() -> None:
    """A misspelt source or target step is reported at its own place, with did-you-mean."""
    text = EXAMPLE_MAPPING.replace(": remind_wait", ": remind_wiat")
    found = check_mapping(mapping_of(text), journey(V1), journey(V2))
    assert [d.code for d in found] == ["JD702"]
    assert found[0].hint == "did you mean 'remind_wait'?"
    text = EXAMPLE_MAPPING.replace("wait_until:", "wait_untl:")
    assert {c for c, _ in codes(text)} == {"JD701", "JD702"}


def test_a_target_that_waits_differently_is_jd703() -> None:
    """A timer mapped onto a condition wait, or a step that is not a wait, is refused."""
    text = EXAMPLE_MAPPING.replace("wait_until: nudge_wait", "wait_until: goal_wait")
    assert [c for c, _ in codes(text)] == ["JD703"]
    text = EXAMPLE_MAPPING.replace("wait_until: nudge_wait", "wait_until: set_activated_at")
    assert [c for c, _ in codes(text)] == ["JD703"]
    text = EXAMPLE_MAPPING + "  welcome: welcome\n"
    assert [c for c, _ in codes(text)] == ["JD703"]


def test_a_variable_the_new_version_relies_on_is_jd704(tmp_path: Path) -> None:
    """Mapping a wait from before `set x` onto one after it, or retyping a variable, is refused."""
    head = f"journey j version {{v}}\n{USES}outcomes done\nentry on card_issued\n"
    old = example_catalogs_in(tmp_path) / "old.journey"
    old.write_text(head.format(v=1) + "a: wait 1d\nset x = 1\nb: wait 1d\nexit done\n")
    new = tmp_path / "new.journey"
    new.write_text(head.format(v=2) + 'a: wait 1d\nset x = "s"\nb: wait 1d\nexit done\n')
    text = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  a: b\n  b: a\n"
    found = codes(text, old, new)
    assert found == [("JD704", 5)]
    text = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  a: a\n  b: b\n"
    assert codes(text, old, new) == [("JD704", 6)]  # x is an int in 1, a string in 2


def test_a_mapping_for_other_versions_is_jd705() -> None:
    """The mapping must name the journey and the two versions given, the new one newer."""
    text = EXAMPLE_MAPPING.replace("from_version: 1", "from_version: 3")
    assert [c for c, _ in codes(text)] == ["JD705"]
    text = EXAMPLE_MAPPING.replace("migrate: onboarding_new_cardholder", "migrate: other")
    assert [c for c, _ in codes(text)] == ["JD705"]
    assert {c for c, _ in codes(EXAMPLE_MAPPING, V2, V1)} >= {"JD705"}


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("migrate: [", "JD100"),
        ("- a\n- b\n", "JD105"),
        ("migrate: j\nfrom_version: 1\nto_version: 2\nstep: {}\n", "JD103"),
        ("migrate: j\nfrom_version: 1\nto_version: 2\n", "JD104"),
        ("migrate: j\nfrom_version: one\nto_version: 2\nsteps: {}\n", "JD105"),
        ("migrate: j\nfrom_version: \u00b2\nto_version: 2\nsteps: {}\n", "JD105"),  # (²)
        ("migrate: j\nfrom_version: 1\nto_version: 2\nsteps: [a, b]\n", "JD105"),
        ("migrate: !!python/object/apply:os.system [x]\nfrom_version: 1\n", "JD100"),
        ("migrate: j\nmigrate: k\nfrom_version: 1\nto_version: 2\nsteps: {}\n", "JD106"),
    ],
)
def test_a_malformed_mapping_file_is_a_diagnostic_not_a_traceback(text: str, code: str) -> None:
    """Bad mapping files end in a diagnostic with the file and a line."""
    parsed, diags = load_mapping(text, "map.yaml")
    assert parsed is None
    assert code in {d.code for d in diags}
    assert all(d.span.file == "map.yaml" and d.span.line >= 1 for d in diags)


def test_set_before_knows_what_every_path_has_set() -> None:
    """The must-analysis: the repeat counter inside the rounds; activated_at only after it."""
    before = set_before(journey(V1))
    assert before["wait_for_card_activated"] == frozenset({"round"})
    assert before["wait_until"] == frozenset({"round", "activated_at"})


# --------------------------------------------------------------------------- the command line


def test_check_migrate_accepts_the_example(capsys: pytest.CaptureFixture[str]) -> None:
    """`journeydsl check --migrate MAPPING OLD NEW` exits 0 on the example upgrade."""
    code = main(["check", "--root", str(EXAMPLES), "--migrate", str(MAPPING), str(V1), str(V2)])
    assert code == 0
    assert "checked 2 journeys: 0 errors" in capsys.readouterr().out


def test_check_migrate_rejects_an_unmapped_waiting_step_with_file_and_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An incomplete mapping fails `check` (exit 1) with file:line:col: error[JD701]."""
    bad = tmp_path / "map.yaml"
    bad.write_text(without("wait_for_condition"))
    code = main(["check", "--root", str(EXAMPLES), "--migrate", str(bad), str(V1), str(V2)])
    out = capsys.readouterr().out
    assert code == 1
    line = EXAMPLE_MAPPING.splitlines().index("steps:") + 1
    assert f"{bad}:{line}:1: error[JD701]: step 'wait_for_condition'" in out


def test_check_migrate_needs_two_journeys_and_an_existing_mapping(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """One journey, or a missing mapping file, is a usage error (exit 2)."""
    assert main(["check", "--migrate", str(MAPPING), str(V1)]) == 2
    assert "exactly two journeys" in capsys.readouterr().err
    assert main(["check", "--migrate", "nope.yaml", str(V1), str(V2)]) == 2
    assert "nope.yaml" in capsys.readouterr().err


# --------------------------------------------------------------------------- migrating a store


class World:
    """The stores and sinks one test's engines share (the state store is the test's)."""

    def __init__(self, state: object) -> None:
        self.state = state
        self.events = MemoryEventStore()
        self.profiles = MemoryProfileStore([profile("c1", app=True), profile("c2", app=False)])
        self.channels = {c: RecordingChannel(c) for c in ("email", "sms", "zns", "push", "inapp")}

    def engine(self, journeys: list[ir.Journey], clock: SteppableClock) -> Engine:
        return Engine(
            journeys,
            events=self.events,
            profiles=self.profiles,
            state=self.state,  # type: ignore[arg-type]
            clock=clock,
            channels=dict(self.channels),
            tickets=RecordingTickets(),
            unhandled="withhold",  # the reward is left unhandled on purpose
        )


def without(step: str) -> str:
    """The example mapping without the line of ``step``."""
    lines = EXAMPLE_MAPPING.splitlines(keepends=True)
    return "".join(x for x in lines if not x.startswith(f"  {step}:"))


def _issued(cid: str, at: datetime) -> dict[str, object]:
    data = {"card_id": f"k-{cid}", "product": "platinum"}
    return {"customer_id": cid, "type": "card_issued", "at": at.isoformat(), "data": data}


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_migrate_moves_waiting_instances_in_one_commit_and_keeps_sent_effects(
    tmp_path: Path, store_kind: str
) -> None:
    """Waiting version-1 instances get version 2, the mapped step, their variables, timer and a
    log entry; effects already sent keep their version-1 keys; a second run changes nothing."""
    v1, v2 = journey(V1), journey(V2)
    start = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
    clock = SteppableClock(start)
    state = MemoryStateStore() if store_kind == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    world = World(state)
    engine = world.engine([v1], clock)
    engine.ingest(_issued("c1", start))
    clock.advance(timedelta(days=2, hours=1))
    engine.tick()  # round 1 reminder sent; waiting in round 2
    before = state.instance("onboarding_new_cardholder/c1/1")
    assert before is not None
    sent = {e.key for e in state.outbox()}
    report = migrate(state, mapping_of(EXAMPLE_MAPPING), v1, v2, at=clock.now())
    assert (report.migrated, dict(report.by_step)) == (1, {"wait_for_card_activated": 1})
    after = state.instance("onboarding_new_cardholder/c1/1")
    assert after is not None
    assert after["wait"] is not None
    assert (after["version"], after["node"], after["wait"]["node"]) == (
        2,
        "remind_wait",
        "remind_wait",
    )
    assert (after["due"], after["vars"], after["trigger"]) == (
        before["due"],
        before["vars"],
        before["trigger"],
    )
    assert after["log"][-1]["what"] == "migrated"
    assert after["visits"]["remind_wait"] == before["visits"]["wait_for_card_activated"]
    assert {e.key for e in state.outbox()} == sent
    again = migrate(state, mapping_of(EXAMPLE_MAPPING), v1, v2, at=clock.now())
    assert (again.migrated, again.already) == (0, 1)
    # The instance goes on in version 2: the next reminder is version 2's, on its channel.
    engine = world.engine([v1, v2], clock)
    clock.advance(timedelta(days=3))
    engine.tick()
    new_keys = {e.key for e in state.outbox()} - sent
    assert new_keys
    assert all(k.startswith("onboarding_new_cardholder:2:") for k in new_keys)
    if isinstance(state, SQLiteStore):
        state.close()


def test_migrate_refuses_a_mapping_that_does_not_check_before_writing() -> None:
    """A mapping with an error raises MigrationError and leaves the store untouched."""
    v1, v2 = journey(V1), journey(V2)
    state = MemoryStateStore()
    clock = SteppableClock(datetime(2026, 1, 5, 10, 0, tzinfo=ICT))
    World(state).engine([v1], clock).ingest(_issued("c2", clock.now()))
    before = state.all_instances()
    bad = mapping_of(without("wait_until"))
    with pytest.raises(MigrationError) as caught:
        migrate(state, bad, v1, v2, at=clock.now())
    assert [d.code for d in caught.value.diagnostics] == ["JD701"]
    assert state.all_instances() == before


def test_a_mapping_is_checked_against_compiled_sources_too() -> None:
    """check_mapping works on journeys compiled from text as well as from files."""
    text = V1.read_text(encoding="utf-8")
    compiled = compile_source(text, str(V1))
    assert compiled.journey is not None
    assert check_mapping(mapping_of(EXAMPLE_MAPPING), compiled.journey, journey(V2)) == []


# --------------------------------------------------------------------------- decisions and tickets

DECIDE = (
    "ask: decide limit = credit.preapproved_limit(customer: customer_id) timeout 3s retry 2 "
    "every 10m\n  on error {{ {on_error} }}\n"
)


def test_a_decisions_answer_counts_as_set_after_its_step_only_on_its_answer_edge(
    tmp_path: Path,
) -> None:
    """A wait after a `decide` may rely on its answer (no JD704 when mapped onto it), but a wait
    on its `on error` path may not."""
    head = f"journey j version {{v}}\n{USES}outcomes done, failed\nentry on card_activated\n"
    old = example_catalogs_in(tmp_path) / "old.journey"
    body = DECIDE.format(on_error="w_err: wait 1d\n exit failed") + "a: wait 1d\n"
    body += "send email limit_increase_offer { new_limit: limit.amount }\nexit done\n"
    old.write_text(head.format(v=1) + body)
    new = tmp_path / "new.journey"
    new.write_text(head.format(v=2) + body)
    steps = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  ask.retry: ask.retry\n"
    same = steps + "  a: a\n  w_err: w_err\n"
    assert codes(same, old, new) == []
    assert "limit" in set_before(journey(old))["a"]
    assert "limit" not in set_before(journey(old))["w_err"]
    crossed = steps + "  a: a\n  w_err: a\n"
    assert [c for c, _ in codes(crossed, old, new)] == ["JD704"]


TICKETED = """journey j version {v}
{uses}outcomes called, not_called
entry on card_activated
{name}: ticket telesales priority normal {{ points: profile.loyalty_points }}
  accepted {{ exit called }}
  not accepted {{ exit not_called }}
"""


def _ticketed(tmp_path: Path, v: int, name: str) -> Path:
    path = example_catalogs_in(tmp_path) / f"v{v}.journey"
    path.write_text(TICKETED.format(v=v, uses=USES, name=name))
    return path


def test_an_instance_waiting_for_its_tickets_decision_is_a_waiting_step_to_map(
    tmp_path: Path,
) -> None:
    """A ticket with exits is where instances wait: unmapped it is JD701; mapped onto a wait of
    another kind it is JD703; onto the new version's ticket with exits it checks clean."""
    v1, v2 = _ticketed(tmp_path, 1, "call"), _ticketed(tmp_path, 2, "call_v2")
    assert "call" in waiting_steps(journey(v1))
    empty = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps: {}\n"
    assert [c for c, _ in codes(empty, v1, v2)] == ["JD701"]
    good = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  call: call_v2\n"
    assert codes(good, v1, v2) == []


def test_a_migrated_ticket_wait_takes_the_new_versions_exit(tmp_path: Path) -> None:
    """Waiting at a queued ticket, an instance moves to version 2's ticket step; at the queue's
    release it takes version 2's `accepted` exit, and its ticket opens once."""
    from tests.runtime.policies.harness import harness, local, policies
    from tests.runtime.policies.harness import profile as make_profile

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    v1 = journey(_ticketed(tmp_path / "a", 1, "call"))
    v2 = journey(_ticketed(tmp_path / "b", 2, "call_v2"))
    queue = policies("queues: [{queue: telesales, capacity: 10, rank: points}]")
    day = local("2026-01-05 10:00")
    h = harness([v1], [make_profile("c1", loyalty_points=5)], start=day, policy=queue)
    h.feed(
        [
            {
                "customer_id": "c1",
                "type": "card_activated",
                "at": day.isoformat(),
                "data": {"card_id": "k1"},
            }
        ]
    )
    mapping = mapping_of("migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  call: call_v2\n")
    assert migrate(h.state, mapping, v1, v2, at=day).migrated == 1
    later = harness([v1, v2], [], start=day, policy=queue, state=h.state, profile_store=h.profiles)
    later.advance(local("2026-01-06 09:00"))
    record = h.state.instance("j/c1/1")
    assert record is not None
    assert (record["version"], record["status"], record["outcome"]) == (2, "ended", "called")
    assert [t.customer_id for t in later.tickets.opened] == ["c1"]


def test_a_chosen_offer_counts_as_set_after_its_step_but_not_on_its_none_exit(
    tmp_path: Path,
) -> None:
    """A wait after a `choose` may rely on the offer chosen, a wait in its `none` block may not
    (mapping one onto the other is JD704)."""
    head = f"journey j version {{v}}\n{USES}outcomes done, nothing\nentry on card_activated\n"
    body = (
        "ask: decide scores = offers.propensity(customer: customer_id)\n"
        "  on error { exit nothing }\n"
        "choose best from next_best none {\n  w_none: wait 1d\n  exit nothing\n}\n"
        "a: wait 1d\nset picked = best.template\nexit done\n"
    )
    old = example_catalogs_in(tmp_path) / "old.journey"
    old.write_text(head.format(v=1) + body)
    new = tmp_path / "new.journey"
    new.write_text(head.format(v=2) + body)
    before = set_before(journey(old))
    assert "best" in before["a"]
    assert "best" not in before["w_none"]
    steps = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  ask.retry: ask.retry\n"
    assert codes(steps + "  a: a\n  w_none: w_none\n", old, new) == []
    assert [c for c, _ in codes(steps + "  a: a\n  w_none: a\n", old, new)] == ["JD704"]


WOKEN = """journey j version {v}
{uses}timezone "Asia/Ho_Chi_Minh"
outcomes done, missed
entry on card_issued
aw: wait for card_activated until entered_at + 10d timeout {{
  exit missed
}}
after: wait 2d
thanks: send push activation_reminder transactional {{ round: {v} }}
exit done
"""


@pytest.mark.parametrize("store_kind", ["memory", "sqlite"])
def test_an_event_dated_before_a_migration_is_taken_as_of_its_own_time(
    tmp_path: Path, store_kind: str
) -> None:
    """The migration's log entry is no step: an event dated before it wakes the instance as of
    the event's time, so the waits after it count from then, not from the migration."""
    folder = example_catalogs_in(tmp_path)
    for v in (1, 2):
        (folder / f"v{v}.journey").write_text(WOKEN.format(v=v, uses=USES), encoding="utf-8")
    v1, v2 = journey(folder / "v1.journey"), journey(folder / "v2.journey")
    start = datetime(2026, 1, 5, 10, 0, tzinfo=ICT)
    clock = SteppableClock(start)
    state = MemoryStateStore() if store_kind == "memory" else SQLiteStore(tmp_path / "s.sqlite")
    world = World(state)
    world.engine([v1], clock).ingest(_issued("c1", start))
    text = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n  aw: aw\n  after: after\n"
    mapping = mapping_of(text)
    # Migrated (an operator's wall clock) long after the stream's time.
    assert migrate(state, mapping, v1, v2, at=start + timedelta(days=300)).migrated == 1
    engine = world.engine([v1, v2], clock)
    activated = start + timedelta(days=1)
    clock.set(activated)
    engine.ingest(
        {
            "customer_id": "c1",
            "type": "card_activated",
            "at": activated.isoformat(),
            "data": {"card_id": "k-c1"},
        }
    )
    record = state.instance("j/c1/1")
    assert record is not None
    assert record["due"] is not None
    assert datetime.fromisoformat(record["due"]) == activated + timedelta(days=2)
    clock.set(activated + timedelta(days=2))
    engine.tick()
    pushed = world.channels["push"].delivered
    assert [(m.template, m.params) for m in pushed] == [("activation_reminder", {"round": 2})]
    if isinstance(state, SQLiteStore):
        state.close()


def test_a_wait_mapped_back_before_a_send_it_passed_is_jd706(tmp_path: Path) -> None:
    """Mapping a later wait onto an earlier one, before a send the instance already made, is a
    JD706 warning at the target (the send would come twice, under new keys); in order, none."""
    head = f"journey j version {{v}}\n{USES}outcomes done\nentry on card_issued\n"
    body = "t1: wait 1d\nb: send push activation_reminder transactional { round: 1 }\n"
    body += "t2: wait 3d\nexit done\n"
    old = example_catalogs_in(tmp_path) / "old.journey"
    old.write_text(head.format(v=1) + body)
    new = tmp_path / "new.journey"
    new.write_text(head.format(v=2) + body)
    steps = "migrate: j\nfrom_version: 1\nto_version: 2\nsteps:\n"
    assert codes(steps + "  t1: t1\n  t2: t2\n", old, new) == []
    found = check_mapping(mapping_of(steps + "  t1: t2\n  t2: t1\n"), journey(old), journey(new))
    assert [(d.code, d.severity, d.span.line) for d in found] == [("JD706", "warning", 6)]
    assert "'b'" in found[0].message
