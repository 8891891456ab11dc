"""`journeydsl migrate MAPPING OLD NEW --db DB`: a checked mapping moves a run's waiting
instances to the new version in its state file, the next run goes on in that version; a mapping
that does not check, or an OLD file that is not the graph the instances started on, moves
nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.catalogs import USES, example_catalogs_in
from tests.runtime.test_run_cli import event, jsonl, read_actions
from tests.runtime.test_run_cli import profile as profile_line

JOURNEY = """journey live version {v}
{uses}timezone "Asia/Ho_Chi_Minh"
outcomes activated, not_activated
entry on card_issued
{welcome}: send email welcome_activation_guide transactional {{
  card_id: trigger.card_id, product: trigger.product
}}
{first}: wait {days}
{remind}: send push activation_reminder transactional {{ round: {v} }}
{wait}: wait for card_activated until entered_at + 5d timeout {{
  exit not_activated
}}
exit activated
"""
V1 = {"welcome": "welcome", "first": "first_wait", "remind": "remind1", "wait": "act_wait"}
V2 = {"welcome": "hello", "first": "pre_wait", "remind": "nudge", "wait": "activation_wait"}
MAPPING = "migrate: live\nfrom_version: 1\nto_version: 2\nsteps:\n"


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    """v1.journey, v2.journey (steps renamed, a shorter first wait), their catalogs, a run of
    version 1 to 2026-01-06 12:00 with c1 waiting at first_wait, and the run's files."""
    example_catalogs_in(tmp_path)
    for v, ids, days in ((1, V1, "2d"), (2, V2, "1d")):
        text = JOURNEY.format(v=v, uses=USES, days=days, **ids)
        (tmp_path / f"v{v}.journey").write_text(text, encoding="utf-8")
    jsonl(tmp_path / "profiles.jsonl", [profile_line("c1", True, email=True, push=True)])
    issued = event("c1", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k1", product="g")
    assert _run(tmp_path, "v1.journey", [issued], "2026-01-06T12:00:00+07:00") == 0
    return tmp_path


def _run(folder: Path, journey: str, events: list[object], now: str) -> int:
    files = jsonl(folder / "events.jsonl", events)
    argv = ["run", str(folder / journey), "--db", str(folder / "state.db")]
    argv += ["--events", str(files), "--actions", str(folder / "actions.jsonl")]
    return main([*argv, "--profiles", str(folder / "profiles.jsonl"), "--now", now])


def _migrate(folder: Path, mapping: str, old: str = "v1.journey") -> int:
    (folder / "map.yaml").write_text(MAPPING + mapping, encoding="utf-8")
    argv = ["migrate", str(folder / "map.yaml"), str(folder / old), str(folder / "v2.journey")]
    return main([*argv, "--db", str(folder / "state.db"), "--now", "2026-01-06T12:00:00+07:00"])


def _versions(folder: Path) -> list[tuple[str, int]]:
    with SQLiteStore(folder / "state.db", readonly=True) as store:
        return sorted((i["id"], i["version"]) for i in store.all_instances())


def test_migrate_moves_the_waiting_instances_and_the_next_run_goes_on_in_the_new_version(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The mapped instance moves to version 2 (a line says from which step); a run of version 2
    alone then sends version 2's reminder at the timer version 1 set, once; migrating again
    moves nothing."""
    capsys.readouterr()
    assert _migrate(folder, "  first_wait: pre_wait\n  act_wait: activation_wait\n") == 0
    out = capsys.readouterr().out
    assert "live: moved 1 waiting instance from version 1 to version 2" in out
    assert "first_wait → pre_wait: 1" in out
    assert _versions(folder) == [("live/c1/1", 2)]
    assert _run(folder, "v2.journey", [], "2026-01-20T00:00:00+07:00") == 0
    sent = [
        (a["node"], a["at"], a["version"])
        for a in read_actions(folder / "actions.jsonl")
        if a.get("kind") == "send"
    ]
    assert sent == [
        ("welcome", "2026-01-05T10:00:00+07:00", 1),
        ("nudge", "2026-01-07T10:00:00+07:00", 2),
    ]
    assert _migrate(folder, "  first_wait: pre_wait\n  act_wait: activation_wait\n") == 0
    assert "moved 0 waiting instances" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("mapping", "said"),
    [
        ("  first_wait: pre_wait\n", "error[JD701]: step 'act_wait'"),
        ("  first_wait: pre_wait\n  act_wait: activation_wiat\n", "error[JD702]"),
        ("  first_wait: activation_wait\n  act_wait: nudge\n", "error[JD703]"),
    ],
)
def test_a_mapping_that_does_not_check_moves_nothing(
    folder: Path, capsys: pytest.CaptureFixture[str], mapping: str, said: str
) -> None:
    """A waiting step left out, an unknown step, or a target of the wrong kind is exit 1 with
    the diagnostic in the mapping file, and the instances stay on version 1."""
    capsys.readouterr()
    assert _migrate(folder, mapping) == 1
    err = capsys.readouterr().err
    assert said in err
    assert "nothing was moved" in err
    assert _versions(folder) == [("live/c1/1", 1)]


def test_an_old_file_edited_since_the_instances_started_is_refused(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """OLD must be the graph the running instances started on: an edited v1 file (same version,
    another wait) is exit 2 naming it, and nothing moves."""
    edited = (folder / "v1.journey").read_text(encoding="utf-8").replace("wait 2d", "wait 3d")
    (folder / "v1_edited.journey").write_text(edited, encoding="utf-8")
    capsys.readouterr()
    mapping = "  first_wait: pre_wait\n  act_wait: activation_wait\n"
    assert _migrate(folder, mapping, old="v1_edited.journey") == 2
    err = capsys.readouterr().err
    assert "v1_edited.journey is not the graph the running instances of live version 1" in err
    assert _versions(folder) == [("live/c1/1", 1)]


@pytest.mark.postgres
def test_on_postgresql_the_journey_is_paused_first(
    tmp_path: Path, pg_dsn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """On a database shared with workers, migrate refuses an active journey (exit 2, saying to
    pause it) and moves its waiting instances once it is paused."""
    example_catalogs_in(tmp_path)
    for v, ids, days in ((1, V1, "2d"), (2, V2, "1d")):
        text = JOURNEY.format(v=v, uses=USES, days=days, **ids)
        (tmp_path / f"v{v}.journey").write_text(text, encoding="utf-8")
    jsonl(tmp_path / "profiles.jsonl", [profile_line("c1", True, email=True, push=True)])
    issued = event("c1", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k1", product="g")
    files = jsonl(tmp_path / "events.jsonl", [issued])
    argv = ["run", str(tmp_path / "v1.journey"), "--db", pg_dsn, "--migrate"]
    argv += ["--events", str(files), "--actions", str(tmp_path / "actions.jsonl")]
    argv += ["--profiles", str(tmp_path / "profiles.jsonl"), "--now", "2026-01-06T00:00:00+07:00"]
    assert main(argv) == 0
    (tmp_path / "map.yaml").write_text(
        MAPPING + "  first_wait: pre_wait\n  act_wait: activation_wait\n", encoding="utf-8"
    )
    move = ["migrate", str(tmp_path / "map.yaml"), str(tmp_path / "v1.journey")]
    move += [str(tmp_path / "v2.journey"), "--db", pg_dsn]
    capsys.readouterr()
    assert main(move) == 2
    assert "pause the journey first" in capsys.readouterr().err
    assert main(["pause", "live", "--db", pg_dsn, "--now", "2026-01-06T00:00:00+07:00"]) == 0
    assert main(move) == 0
    assert "moved 1 waiting instance" in capsys.readouterr().out
