"""`journeydsl run` refuses a silent fresh start (a missing state file beside a non-empty actions
file) and a run that would leave journeys with live instances behind (unless --only, which then
leaves them untouched); `journeydsl quarantine list | replay` shows and retries kept events."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.runtime.events import event_id
from journeydsl.runtime.intake import scoped_marker
from journeydsl.runtime.stores.sqlite import SQLiteStore
from journeydsl.runtime.stream import RUN_CLOCK
from tests.runtime.test_run_cli import (
    EVENTS,
    EXPECTED,
    JOURNEYS,
    PROFILES,
    event,
    jsonl,
    read_actions,
    run_cli,
    summarise,
)

ONBOARDING, DORMANT = JOURNEYS
LATER = "2026-02-20T00:00:00+07:00"
#: After dormant_reactivation's daily segment took c-003 in and sent the offer: it waits 3 days
#: for the registration, which the rest of the stream (from EVENTS[SPLIT]) brings.
OFFERED = "2025-09-02T09:30:00+07:00"
SPLIT = 3


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    return {
        "events": str(jsonl(tmp_path / "events.jsonl", EVENTS)),
        "profiles": str(jsonl(tmp_path / "profiles.jsonl", PROFILES)),
        "db": str(tmp_path / "state.sqlite"),
        "actions": str(tmp_path / "actions.jsonl"),
    }


def _run(capsys: pytest.CaptureFixture[str], f: dict[str, str], *args: str) -> tuple[int, str]:
    """`journeydsl run` of the given journeys (and options) on the fixture's files."""
    argv = ["run", *args, "--db", f["db"], "--events", f["events"], "--actions", f["actions"]]
    code = main([*argv, "--profiles", f["profiles"]])
    return code, capsys.readouterr().err


def _due(db: str) -> dict[str, str | None]:
    with sqlite3.connect(db) as conn:
        return dict(conn.execute("SELECT id, due_utc FROM instances ORDER BY id").fetchall())


# --------------------------------------------------------------------------- fresh start


def test_a_missing_state_file_beside_a_non_empty_actions_file_is_refused(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """A mistyped --db next to an actions file of an earlier run is exit 2, and creates nothing."""
    run_cli(capsys, files, "--now", LATER)
    before = Path(files["actions"]).read_text(encoding="utf-8")
    moved = {**files, "db": files["db"] + ".typo"}
    code, err = run_cli(capsys, moved, "--now", LATER)
    assert code == 2
    assert f"{moved['db']}: no such state file, but {files['actions']} already holds" in err
    assert "--new-db" in err
    assert not Path(moved["db"]).exists()
    assert Path(files["actions"]).read_text(encoding="utf-8") == before


def test_new_db_starts_afresh_and_the_actions_file_still_deduplicates(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """--new-db is the explicit fresh start; the file sink still appends no key twice."""
    run_cli(capsys, files, "--now", LATER)
    before = Path(files["actions"]).read_text(encoding="utf-8")
    fresh = {**files, "db": files["db"] + ".new"}
    code, err = run_cli(capsys, fresh, "--now", LATER, "--new-db")
    assert code == 0, err
    assert Path(fresh["db"]).exists()
    assert Path(files["actions"]).read_text(encoding="utf-8") == before


def test_an_empty_actions_file_needs_no_new_db(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """An actions file that exists but is empty holds nothing to send twice."""
    Path(files["actions"]).touch()
    code, err = run_cli(capsys, files, "--now", LATER)
    assert code == 0, err
    assert summarise(read_actions(Path(files["actions"]))) == EXPECTED


# --------------------------------------------------------------------------- subsets


def test_a_run_given_some_of_the_journeys_with_live_instances_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str]
) -> None:
    """Running only onboarding on a state file where dormant_reactivation waits is exit 2,
    naming the journey left out, and changes nothing."""
    first = {**files, "events": str(jsonl(tmp_path / "first.jsonl", EVENTS[:SPLIT]))}
    code, _ = _run(capsys, first, *JOURNEYS, "--now", OFFERED)
    assert code == 0
    due = _due(files["db"])
    actions = Path(files["actions"]).read_text(encoding="utf-8")
    code, err = _run(capsys, files, ONBOARDING)
    assert code == 2
    assert "has instances of journeys this run was not given: dormant_reactivation v" in err
    assert "--only" in err
    assert _due(files["db"]) == due
    assert Path(files["actions"]).read_text(encoding="utf-8") == actions


def test_only_leaves_the_other_journeys_untouched_for_a_later_full_run(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str]
) -> None:
    """With --only, a run of onboarding neither fires nor postpones dormant_reactivation's timers
    nor takes its events; a later run given both catches up, and the actions equal one full run."""
    first = {**files, "events": str(jsonl(tmp_path / "first.jsonl", EVENTS[:SPLIT]))}
    rest = {**files, "events": str(jsonl(tmp_path / "rest.jsonl", EVENTS[SPLIT:]))}
    assert _run(capsys, first, *JOURNEYS, "--now", OFFERED)[0] == 0
    offered = len(read_actions(Path(files["actions"])))
    dormant_due = {k: v for k, v in _due(files["db"]).items() if k.startswith("dormant")}
    assert dormant_due
    assert all(v is not None for v in dormant_due.values())

    code, err = _run(capsys, rest, ONBOARDING, "--only", "--now", LATER)
    assert code == 0, err
    after = _due(files["db"])
    assert {k: after[k] for k in dormant_due} == dormant_due  # not fired, not postponed
    only = read_actions(Path(files["actions"]))[offered:]
    assert {a["journey"] for a in only} == {"onboarding_new_cardholder"}

    code, err = _run(capsys, rest, *JOURNEYS, "--now", LATER)
    assert code == 0, err
    actions = read_actions(Path(files["actions"]))
    assert summarise(actions) == EXPECTED
    assert len(actions) == len(EXPECTED)
    # the offer_registered event, taken by onboarding's run, still reached dormant_reactivation
    assert any(a.get("template") == "offer_confirmation" for a in actions)


def test_only_refuses_to_leave_out_a_version_of_a_journey_it_runs(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str]
) -> None:
    """--only given version 2 of a journey whose version-1 instances still run is exit 2, naming
    that version, and takes no event (they would be marked taken without reaching them)."""
    issued = 1 + next(i for i, e in enumerate(EVENTS) if '"card_issued"' in json.dumps(e))
    first = {**files, "events": str(jsonl(tmp_path / "first.jsonl", EVENTS[:issued]))}
    rest = {**files, "events": str(jsonl(tmp_path / "rest.jsonl", EVENTS[issued:]))}
    assert _run(capsys, first, *JOURNEYS, "--now", "2026-01-05T12:00:00+07:00")[0] == 0
    due = _due(files["db"])
    actions = Path(files["actions"]).read_text(encoding="utf-8")
    v2 = Path(ONBOARDING).parent / "upgrade" / "onboarding_new_cardholder_v2.journey"
    root = str(Path(ONBOARDING).parent)
    code, err = _run(capsys, rest, str(v2), DORMANT, "--only", "--root", root, "--now", LATER)
    assert code == 2
    assert "other versions of the journeys this run was given: onboarding_new_cardholder v1" in err
    assert _due(files["db"]) == due
    assert Path(files["actions"]).read_text(encoding="utf-8") == actions
    with SQLiteStore(files["db"]) as store:
        ids = [event_id(e) for e in EVENTS[issued:] if isinstance(e, dict)]
        markers = [*ids, *(scoped_marker(i, "onboarding_new_cardholder") for i in ids)]
        assert not any(store.processed(m) for m in markers)


# --------------------------------------------------------------------------- quarantine


def _catalog_with(tmp_path: Path, journey: str) -> str:
    """A copy of an example journey whose catalog and templates are copied beside it."""
    src = Path(journey)
    for name in ("events.yaml", "templates.yaml"):
        (tmp_path / name).write_text((src.parent / name).read_text(encoding="utf-8"))
    copy = tmp_path / src.name
    copy.write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    return str(copy)


def test_quarantine_list_shows_the_kept_events_as_text_and_json(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """`quarantine list` shows each kept event with its reason; --format json is machine-readable;
    the run itself reports how many are kept in all."""
    code, err = run_cli(capsys, files, "--now", LATER)
    assert code == 0
    assert "; 3 events in quarantine in all" in err
    assert main(["quarantine", "list", "--db", files["db"]]) == 0
    text = capsys.readouterr().out
    assert "not valid JSON" in text
    assert "'at' has no UTC offset" in text
    assert "3 quarantined events in" in text
    assert main(["quarantine", "list", "--db", files["db"], "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3
    assert {r["count"] for r in rows} == {1}
    assert {"id", "reason", "count", "first_seen", "last_seen", "replay", "event"} <= set(rows[0])
    assert any(r["event"] == "this is not json" for r in rows)


def test_quarantine_commands_name_a_missing_database_or_event(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """A missing state file is exit 2; an --id that is not kept is exit 1; both say so."""
    assert main(["quarantine", "list", "--db", files["db"]]) == 2
    assert "no such database" in capsys.readouterr().err
    run_cli(capsys, files, "--now", LATER)
    assert main(["quarantine", "list", "--db", files["db"], "--id", "nope"]) == 1
    assert "no quarantined event with id 'nope'" in capsys.readouterr().err
    assert main(["quarantine", "replay", "--db", files["db"], "--id", "nope"]) == 1
    assert main(["quarantine", "replay", ONBOARDING, "--db", files["db"]]) == 2
    assert "needs --actions" in capsys.readouterr().err


def test_quarantine_replay_on_a_state_file_in_use_is_a_usage_error(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """`quarantine replay` on a SQLite state file another writer holds is refused with one line
    and exit 2, as `journeydsl run` is (with or without journeys)."""
    assert _run(capsys, files, *JOURNEYS)[0] == 0
    replay = ["quarantine", "replay", "--db", files["db"]]
    with SQLiteStore(files["db"]):
        for argv in (replay, [*replay, *JOURNEYS, "--actions", files["actions"]]):
            assert main(argv) == 2
            err = capsys.readouterr().err
            assert err.count("\n") == 1
            assert f"journeydsl: error: {files['db']} is in use by another SQLiteStore" in err


def _spend(cid: str, at: str, category: str) -> dict[str, Any]:
    row = event(cid, "transaction", at, amount=1_200_000, currency="VND", merchant="Tiki")
    row["data"]["category"] = category
    row["id"] = f"tx-{cid}"
    return row


def test_replay_after_a_catalog_fix_delivers_what_the_event_was_kept_back_from(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, files: dict[str, str]
) -> None:
    """A spend whose category the catalog refused is kept; after the catalog is fixed,
    `quarantine replay JOURNEY --actions` takes it and the goal it meets is reached, once."""
    journey = _catalog_with(tmp_path, ONBOARDING)
    catalog = tmp_path / "events.yaml"
    stream = [
        event("c-001", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k1", product="gold"),
        event("c-001", "card_activated", "2026-01-06T09:30:00+07:00", card_id="k1"),
        _spend("c-001", "2026-01-07T12:00:00+07:00", "crypto_exchange"),
    ]
    f = {**files, "events": str(jsonl(tmp_path / "events.jsonl", stream))}
    text = catalog.read_text(encoding="utf-8")
    if "crypto_exchange" in text:
        pytest.skip("the example catalog already lists the category")
    assert "shopping" in text
    code, err = _run(capsys, f, journey)
    assert code == 0, err
    assert "quarantined" in err
    assert main(["quarantine", "list", "--db", f["db"], "--id", "tx-c-001"]) == 0
    assert "crypto_exchange" in capsys.readouterr().out

    catalog.write_text(text.replace("shopping", "shopping, crypto_exchange", 1), encoding="utf-8")
    argv = ["quarantine", "replay", journey, "--db", f["db"], "--actions", f["actions"]]
    code = main([*argv, "--profiles", f["profiles"]])
    err = capsys.readouterr().err
    assert code == 0, err
    assert main(["quarantine", "list", "--db", f["db"]]) == 0
    assert "no quarantined events" in capsys.readouterr().out
    # a second replay has nothing left to do
    assert main([*argv, "--profiles", f["profiles"]]) == 0
    capsys.readouterr()

    # on to day 30: the spend counts, so neither the nudge nor the fee-waiver offer goes out
    empty = {**f, "events": str(jsonl(tmp_path / "none.jsonl", []))}
    code, err = _run(capsys, empty, journey, "--now", LATER)
    assert code == 0, err
    after = read_actions(Path(f["actions"]))
    assert len({a["key"] for a in after}) == len(after)
    sent = {a["template"] for a in after}
    assert "new_cardholder_promotions" in sent
    assert not sent & {"first_spend_nudge", "fee_waiver_offer"}
    with sqlite3.connect(f["db"]) as conn:
        (record,) = conn.execute("SELECT record FROM instances").fetchone()
    assert json.loads(record)["outcome"] == "spend_goal_met"


def test_replay_without_journeys_marks_the_events_for_the_next_run(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """`quarantine replay --db DB` marks the kept events; the next run retries them first and
    says so; the still-bad ones stay, counted again."""
    run_cli(capsys, files, "--now", LATER)
    assert main(["quarantine", "replay", "--db", files["db"]]) == 0
    assert "3 quarantined events marked" in capsys.readouterr().out
    assert main(["quarantine", "list", "--db", files["db"], "--format", "json"]) == 0
    assert all(r["replay"] for r in json.loads(capsys.readouterr().out))
    code, err = run_cli(capsys, files, "--now", LATER)
    assert code == 0
    assert "quarantine:" in err
    assert main(["quarantine", "list", "--db", files["db"], "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert len(rows) == 3
    assert not any(r["replay"] for r in rows)
    assert all(r["count"] >= 2 for r in rows)


def test_stdout_as_the_actions_file_is_refused(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    files: dict[str, str],
    tmp_path: Path,
) -> None:
    """`--actions -` is a usage error (exit 2, one line) that opens nothing and writes no file
    named `-`: the actions file is read back on a rerun to deduplicate."""
    monkeypatch.chdir(tmp_path)
    code, err = _run(capsys, {**files, "actions": "-"}, *JOURNEYS)
    assert code == 2
    assert err.count("\n") == 1
    assert "--actions must name a file, not - (stdout)" in err
    assert not (tmp_path / "-").exists()
    assert not Path(files["db"]).exists()


# --------------------------------------------------------------------------- the run's clock


def test_now_is_bounded_by_max_future_like_events(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """`--now 2099-…` with --max-future is refused before anything is opened: it would fire
    every timer and send every message decades early."""
    code, err = run_cli(capsys, files, "--now", "2099-01-01T00:00:00+07:00", "--max-future", "1d")
    assert code == 2
    assert "--now is dated 2099-01-01T00:00:00+07:00, more than 24h after this machine's" in err
    assert not Path(files["db"]).exists()
    assert not Path(files["actions"]).exists()


def test_now_more_than_a_day_ahead_is_refused_without_max_future_too(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """Without --max-future, `--now` is held to a day after this machine's clock; a larger
    --max-future lets it further."""
    code, err = run_cli(capsys, files, "--now", "2099-01-01T00:00:00+07:00")
    assert code == 2
    assert "more than 24h after this machine's clock" in err
    assert not Path(files["db"]).exists()
    far = run_cli(capsys, files, "--now", "2030-01-01T00:00:00+07:00", "--max-future", "3650d")
    assert far[0] == 0


def test_now_before_the_time_the_state_file_reached_is_refused(
    capsys: pytest.CaptureFixture[str], files: dict[str, str]
) -> None:
    """A run cannot go back in time: a --now before the clock an earlier run reached is exit 2
    and changes nothing; the same --now again, or a later one, is fine."""
    assert run_cli(capsys, files, "--now", LATER)[0] == 0
    before = Path(files["actions"]).read_text(encoding="utf-8")
    code, err = run_cli(capsys, files, "--now", "2026-01-10T00:00:00+07:00")
    assert code == 2
    assert f"is before {LATER}, the time {files['db']} already reached" in err
    assert Path(files["actions"]).read_text(encoding="utf-8") == before
    assert run_cli(capsys, files, "--now", LATER)[0] == 0
    assert run_cli(capsys, files, "--now", "2026-03-01T00:00:00+07:00")[0] == 0
    code, err = run_cli(capsys, files, "--now", LATER)
    assert code == 2
    assert "is before 2026-03-01T00:00:00+07:00" in err


def test_now_before_the_time_the_stream_reached_is_warned_of(
    capsys: pytest.CaptureFixture[str], files: dict[str, str], tmp_path: Path
) -> None:
    """A --now before the time this run's stream reached cannot move the clock back: the run
    says so on stderr, naming both times, and ends as without --now, exit 0; a later --now
    is not warned of."""
    early = "2025-01-01T00:00:00+07:00"
    code, err = run_cli(capsys, files, "--now", early)
    assert code == 0
    with SQLiteStore(files["db"]) as store:
        reached = store.get_meta(RUN_CLOCK)
    assert reached is not None
    assert (
        f"journeydsl: warning: --now {early} is before {reached}, the time the stream reached"
    ) in err
    plain = {**files, "db": str(tmp_path / "plain.sqlite")}
    plain["actions"] = str(tmp_path / "plain.jsonl")
    code, err = run_cli(capsys, plain)
    assert code == 0
    assert read_actions(Path(plain["actions"])) == read_actions(Path(files["actions"]))
    later = {**plain, "db": str(tmp_path / "later.sqlite"), "actions": str(tmp_path / "l.jsonl")}
    code, err = run_cli(capsys, later, "--now", LATER)
    assert code == 0
    assert "warning" not in err
