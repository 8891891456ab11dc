"""A journey version's graph is pinned in the state store: `pin_graphs` (which `journeydsl run`
calls before it builds the engine) refuses a changed graph under the same id and version while
instances of that version run, with a message that says what to do, instead of a run that fails
on a step that is gone; with a new version both run, and with nothing running the change is
taken."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl import ir
from journeydsl.cli import main
from journeydsl.runtime.engine import Engine
from journeydsl.runtime.pinning import JourneyChangedError, VersionMissingError, pin_graphs
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.testing import (
    MemoryEventStore,
    MemoryProfileStore,
    MemoryStateStore,
    RecordingChannel,
    SteppableClock,
)
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, local, profile
from tests.runtime.test_run_cli import jsonl

T0 = local("2026-01-05 10:00")

PATHS = """
journey paths{version}
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
parallel all {{
  branch {{
    wait for card_activated within 3d
  }}
  branch {{
    {wait}
    send zns install_digital_app marketing
  }}
}}
"""


def _paths(wait: str = "wait 1d", version: str = "") -> ir.Journey:
    return compile_journey(PATHS.format(wait=wait, version=version))


def _engine(journeys: list[ir.Journey], state: object) -> Engine:
    """The graphs pinned in ``state``, then an engine of ``journeys`` over it."""
    pin_graphs(state, journeys)  # type: ignore[arg-type]
    return Engine(
        journeys,
        events=MemoryEventStore(),
        profiles=MemoryProfileStore([profile("c1", app=True)]),
        state=state,  # type: ignore[arg-type]
        clock=SteppableClock(T0),
        channels={"zns": RecordingChannel("zns")},
    )


def _issued() -> dict[str, object]:
    return ev("c1", "card_issued", T0, card_id="k1", product="gold")


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_a_changed_graph_under_the_same_version_is_refused_while_instances_run(
    tmp_path: Path, kind: str
) -> None:
    """A waiting instance of paths v1, then paths v1 with its timer step renamed: pinning it is
    refused, naming the journey, the version, how many run and the version to give."""
    state = MemoryStateStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
    _engine([_paths()], state).ingest(_issued())
    with pytest.raises(JourneyChangedError) as refused:
        _engine([_paths("nudge: wait 2d")], state)
    message = str(refused.value)
    assert "journey 'paths' version 1 is not the graph its 1 running instance" in message
    assert "`version 2`" in message
    _engine([_paths()], state)  # the same graph again: fine
    if isinstance(state, SQLiteStore):
        state.close()


def test_a_new_version_runs_beside_the_old_one_and_a_change_with_nothing_running_is_taken() -> None:
    """Version 2 beside version 1 is accepted; once no instance of version 1 runs, a changed
    version 1 is taken (noted anew)."""
    state = MemoryStateStore()
    first = _engine([_paths()], state)
    first.ingest(_issued())
    _engine([_paths(), _paths("nudge: wait 2d", " version 2")], state)
    first.ingest(ev("c1", "card_activated", local("2026-01-05 11:00"), card_id="k1"))
    first.tick(local("2026-01-06 10:00"))
    assert [i["status"] for i in state.instances_of("c1")] == ["ended"]
    _engine([_paths("nudge: wait 2d")], state)


def test_journeydsl_run_refuses_a_changed_journey_with_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The file edited between two runs without a new version: exit 2 and the message, where it
    failed with a KeyError traceback at the first timer of an instance waiting at a step that
    is gone."""
    for name in ("events.yaml", "templates.yaml"):
        (tmp_path / name).write_text((EXAMPLES / name).read_text(encoding="utf-8"), "utf-8")
    journey = tmp_path / "paths.journey"
    journey.write_text(PATHS.format(wait="wait 1d", version=""), encoding="utf-8")
    events = jsonl(tmp_path / "events.jsonl", [_issued()])
    argv = ["run", str(journey), "--db", str(tmp_path / "s.db"), "--events", str(events)]
    argv += ["--actions", str(tmp_path / "actions.jsonl"), "--now", "2026-01-05T12:00:00+07:00"]
    assert main(argv) == 0
    journey.write_text(PATHS.format(wait="nudge: wait 2d", version=""), encoding="utf-8")
    later = [*argv[:-1], "2026-01-09T12:00:00+07:00"]
    capsys.readouterr()
    assert main(later) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"journeydsl: error: {tmp_path / 's.db'}: journey 'paths' version 1")
    assert "`version 2`" in err
    assert err.count("\n") == 1  # (one line, as the worker prints it)
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", ["memory", "sqlite"])
def test_an_event_for_an_instance_of_a_version_not_loaded_is_not_taken(
    tmp_path: Path, kind: str
) -> None:
    """An engine of version 1 only, over a store where another engine entered the customer in
    version 2: their event is refused with VersionMissingError and left unprocessed (it used
    to be marked processed and pass the instance by for good); an engine with version 2 then
    takes it, and the instance moves."""
    state = MemoryStateStore() if kind == "memory" else SQLiteStore(tmp_path / "s.db")
    older = _engine([_paths()], state)
    newer = _engine([_paths(), _paths(version=" version 2")], state)
    newer.ingest(_issued())
    [inst] = state.instances_of("c1")
    assert inst["version"] == 2
    activated = ev("c1", "card_activated", local("2026-01-05 11:00"), card_id="k1")
    activated["id"] = "act-1"
    with pytest.raises(VersionMissingError, match="journey 'paths' version 2, which is not"):
        older.ingest(activated)
    assert not state.processed("act-1")
    assert newer.ingest(activated).resumed == [inst["id"]]
    assert state.processed("act-1")
    if isinstance(state, SQLiteStore):
        state.close()


def test_raising_a_budget_in_the_catalog_is_no_change_of_the_graph(tmp_path: Path) -> None:
    """A budget raised (or its dates moved) in the events catalog while instances wait before
    the reward: the graph they started on is the same, so `pin_graphs` takes it (it refused it
    as a changed journey: a budget could not be raised while anyone was on the way to it). A
    change of the amount drawn is still one; a graph noted by an earlier journeydsl, whose
    digest took the sizes in, is taken as it was and noted again."""
    from journeydsl.compiler import compile_file
    from journeydsl.runtime.pinning import _digest, _key, graph_digest
    from journeydsl.testing import RecordingActions

    def start(journey: ir.Journey, state: MemoryStateStore) -> None:
        """The graph pinned, then c1 entered: waiting three days before the reward."""
        pin_graphs(state, [journey])
        Engine(
            [journey],
            events=MemoryEventStore(),
            profiles=MemoryProfileStore([profile("c1")]),
            state=state,
            clock=SteppableClock(T0),
            actions={"gift": RecordingActions()},
        ).ingest(ev("c1", "card_activated", T0, card_id="k1"))

    (tmp_path / "w.journey").write_text(
        'journey w\nuses events "events.yaml"\nentry on card_activated\nwait 3d\n'
        "reward gift from gifts amount 400_000 VND\n"
    )

    def waivers(total: str, dates: str = "") -> ir.Journey:
        catalog = "events:\n  card_activated: {card_id: string}\nbudgets:\n"
        (tmp_path / "events.yaml").write_text(f"{catalog}  gifts: {{total: {total}{dates}}}\n")
        journey = compile_file(tmp_path / "w.journey").journey
        assert journey is not None
        return journey

    state = MemoryStateStore()
    small = waivers("1_000_000 VND")
    start(small, state)
    assert [i["status"] for i in state.all_instances()] == ["waiting"]
    pin_graphs(state, [waivers("2_000_000 VND", ", from: 2026-01-01")])  # (no refusal)
    assert graph_digest(waivers("2_000_000 VND")) == graph_digest(small)
    changed = (tmp_path / "w.journey").read_text().replace("400_000", "500_000")
    (tmp_path / "w.journey").write_text(changed)
    with pytest.raises(JourneyChangedError):
        pin_graphs(state, [waivers("2_000_000 VND")])

    legacy = MemoryStateStore()
    start(small, legacy)
    legacy.commit([], [], meta={_key(small): _digest(small.to_json())})  # (as noted before)
    pin_graphs(legacy, [small])
    assert legacy.get_meta(_key(small)) == graph_digest(small)
