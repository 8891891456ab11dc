"""`journeydsl explain JOURNEY --customer ID --db STATE [--actions A.jsonl]`: the decision logs a
live run stored, listed as a simulation's `explain` lists them, with no simulation; usage
errors and unknown customers said in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.runtime.test_run_cli import EVENTS, JOURNEYS, PROFILES, jsonl

NOW = "2026-02-20T00:00:00+07:00"


@pytest.fixture
def ran(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, str]:
    """A `journeydsl run` of both examples over the small stream, to NOW."""
    files = {
        "events": str(jsonl(tmp_path / "events.jsonl", EVENTS)),
        "profiles": str(jsonl(tmp_path / "profiles.jsonl", PROFILES)),
        "db": str(tmp_path / "state.sqlite"),
        "actions": str(tmp_path / "actions.jsonl"),
    }
    argv = ["run", *JOURNEYS, "--db", files["db"], "--events", files["events"]]
    argv += ["--actions", files["actions"], "--profiles", files["profiles"], "--now", NOW]
    assert main(argv) == 0
    capsys.readouterr()
    return files


def test_a_stored_log_reads_as_the_simulations(
    ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """The run's stored log of a customer, with its actions file, lists the same lines, in the
    same order, as `explain` of a simulation of the same events to the same instant."""
    journey = JOURNEYS[0]
    argv = ["explain", journey, "--customer", "c-002"]
    assert main([*argv, "--db", ran["db"], "--actions", ran["actions"]]) == 0
    stored = capsys.readouterr().out
    simulate = ["--events", ran["events"], "--profiles", ran["profiles"], "--until", NOW, "-q"]
    assert main([*argv, *simulate]) == 0
    simulated = capsys.readouterr().out
    assert stored == simulated
    assert "delivered: send sms activation_reminder" in stored
    assert "ticket telesales" in stored


def test_without_the_actions_file_the_log_alone_is_listed(
    ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """Without --actions the listing has the decisions (queued sends included) but no
    delivered lines; a customer of another journey is pointed at it."""
    assert main(["explain", JOURNEYS[0], "--customer", "c-002", "--db", ran["db"]]) == 0
    out = capsys.readouterr().out
    assert "send push activation_reminder (queued for delivery)" in out
    assert "delivered:" not in out
    assert main(["explain", JOURNEYS[1], "--customer", "c-002", "--db", ran["db"]]) == 0
    out = capsys.readouterr().out
    assert "no journey instance" in out
    assert "c-002 is in onboarding_new_cardholder too" in out


@pytest.mark.parametrize(
    ("extra", "code", "says"),
    [
        (["--events", "e.jsonl"], 2, "--events describe a simulation"),
        (["--actions", "missing.jsonl"], 2, "missing.jsonl"),
        (["--customer", "nobody"], 1, "no customer 'nobody'"),
    ],
)
def test_stored_explain_mistakes_are_one_line(
    ran: dict[str, str], capsys: pytest.CaptureFixture[str], extra: list[str], code: int, says: str
) -> None:
    """A simulation option beside --db, an actions file that cannot be read, an unknown
    customer: the exit code and one line saying so, no traceback."""
    argv = ["explain", JOURNEYS[0], "--customer", "c-002", "--db", ran["db"], *extra]
    assert main(argv) == code
    err = capsys.readouterr().err
    assert says in err
    assert "Traceback" not in err


def test_actions_without_a_database_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--actions belongs to --db: alone, exit 2 saying so."""
    argv = ["explain", JOURNEYS[0], "--customer", "c-002", "--actions", "a.jsonl"]
    assert main(argv) == 2
    assert "--actions goes with --db" in capsys.readouterr().err


@pytest.mark.postgres
def test_a_postgresql_runs_log_reads_as_the_sqlite_runs(
    ran: dict[str, str], capsys: pytest.CaptureFixture[str], pg_dsn: str, tmp_path: Path
) -> None:
    """`explain --db postgresql://…` lists what a run on PostgreSQL stored, as it lists the SQLite
    run of the same events."""
    actions = str(tmp_path / "pg.jsonl")
    argv = ["run", *JOURNEYS, "--db", pg_dsn, "--migrate", "--events", ran["events"]]
    assert main([*argv, "--actions", actions, "--profiles", ran["profiles"], "--now", NOW]) == 0
    explain = ["explain", JOURNEYS[0], "--customer", "c-002"]
    capsys.readouterr()
    assert main([*explain, "--db", ran["db"], "--actions", ran["actions"]]) == 0
    on_sqlite = capsys.readouterr().out
    assert main([*explain, "--db", pg_dsn, "--actions", actions]) == 0
    assert capsys.readouterr().out == on_sqlite
