"""`journeydsl explain JOURNEY --customer ID --db STATE [--actions A.jsonl]`: the decision logs a
live run stored, listed as a simulation's `explain` lists them, with no simulation; usage
errors and unknown customers said in one line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from tests.runtime.test_run_cli import (
    EVENTS,
    EXAMPLES,
    JOURNEYS,
    PROFILES,
    event,
    jsonl,
    profile,
    read_actions,
)


def _lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


NOW = "2026-02-20T00:00:00+07:00"
#: The examples' onboarding stream (c-003 earns the fee waiver on 30 January) and t-3, who lets
#: only e-mail through: the app message (zns, then sms) is suppressed once t-3 activates.
ONBOARDING_EVENTS = sorted(
    [
        *_lines(EXAMPLES / "events" / "onboarding.jsonl"),
        event("t-3", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k-3", product="gold"),
        event("t-3", "card_activated", "2026-01-06T10:00:00+07:00", card_id="k-3"),
    ],
    key=lambda e: datetime.fromisoformat(e["at"]),
)
ONBOARDING_PROFILES = [
    *_lines(EXAMPLES / "events" / "onboarding_profiles.jsonl"),
    profile("t-3", False, email=True, sms=False, zns=False, push=False),
]
ONBOARDING_NOW = "2026-03-01T00:00:00+07:00"
SUPPRESSED = "suppressed install_digital_app: no zns consent; no sms consent"
GRANTED = "granted: reward annual_fee_waiver"


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


def _onboarding(tmp_path: Path, *policies: str) -> dict[str, str]:
    """A `journeydsl run` of the onboarding example over ONBOARDING_EVENTS to ONBOARDING_NOW."""
    files = {
        "events": str(jsonl(tmp_path / "events.jsonl", ONBOARDING_EVENTS)),
        "profiles": str(jsonl(tmp_path / "profiles.jsonl", ONBOARDING_PROFILES)),
        "db": str(tmp_path / "state.sqlite"),
        "actions": str(tmp_path / "actions.jsonl"),
    }
    argv = ["run", JOURNEYS[0], "--db", files["db"], "--events", files["events"], *policies]
    argv += ["--actions", files["actions"], "--profiles", files["profiles"]]
    assert main([*argv, "--now", ONBOARDING_NOW]) == 0
    return files


def _listings(
    ran: dict[str, str], customer: str, capsys: pytest.CaptureFixture[str], *policies: str
) -> tuple[str, str]:
    """(the stored listing of ``customer``, the simulation's listing of the same events)."""
    capsys.readouterr()
    argv = ["explain", JOURNEYS[0], "--customer", customer]
    assert main([*argv, "--db", ran["db"], "--actions", ran["actions"]]) == 0
    stored = capsys.readouterr().out
    simulate = ["--events", ran["events"], "--profiles", ran["profiles"], *policies]
    assert main([*argv, *simulate, "--until", ONBOARDING_NOW, "-q"]) == 0
    return stored, capsys.readouterr().out


@pytest.mark.parametrize(("customer", "line"), [("t-3", SUPPRESSED), ("c-003", GRANTED)])
def test_suppressions_and_rewards_read_as_the_simulations(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], customer: str, line: str
) -> None:
    """A message suppressed for want of consent (no contact policies) and a reward granted are
    listed from the run's state and actions file line for line as the simulation lists them."""
    stored, simulated = _listings(_onboarding(tmp_path), customer, capsys)
    assert stored.splitlines() == simulated.splitlines()
    assert stored.count(line) == 1


def test_a_suppression_under_policies_is_listed_once_as_the_simulation_lists_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Under contact policies the stored listing has the policy decisions and the suppressed
    message's own line, once each, as the simulation has."""
    policies = ("--policies", str(EXAMPLES / "policies.yaml"))
    stored, simulated = _listings(_onboarding(tmp_path, *policies), "t-3", capsys, *policies)
    assert stored.splitlines() == simulated.splitlines()
    assert stored.count(SUPPRESSED) == 1
    assert "policies: suppressed: no zns consent; no sms consent" in stored


def test_a_suppression_is_listed_without_the_actions_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A suppressed message is a decision the state database keeps: it is listed without
    --actions, which adds only what was delivered."""
    ran = _onboarding(tmp_path)
    capsys.readouterr()
    assert main(["explain", JOURNEYS[0], "--customer", "t-3", "--db", ran["db"]]) == 0
    out = capsys.readouterr().out
    assert f"send                             {SUPPRESSED}" in out
    assert "delivered:" not in out


def test_an_older_actions_files_reward_lines_are_listed_by_their_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Reward lines written before they carried journey, version and node are still listed:
    their key names the step."""
    ran = _onboarding(tmp_path)
    rows = read_actions(Path(ran["actions"]))
    for row in rows:
        if row["kind"] == "reward":
            del row["journey"], row["version"], row["node"]
    jsonl(Path(ran["actions"]), rows)
    stored, simulated = _listings(ran, "c-003", capsys)
    assert stored == simulated
    assert GRANTED in stored


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


def test_a_journey_that_asks_a_decision_or_hands_off_is_explained_from_the_db(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A host's run of a journey with a `decide` step, and a run of a hand-off pair, are
    explained from their state file, one journey at a time: the checks of `journeydsl run` (no
    decision functions on the command line, every target run alongside) are not asked of a
    journey that is only read."""
    from datetime import timedelta
    from decimal import Decimal
    from zoneinfo import ZoneInfo

    from journeydsl.compiler import compile_file
    from journeydsl.money import Money
    from journeydsl.runtime.engine import Engine
    from journeydsl.runtime.protocols import Profile
    from journeydsl.runtime.stores.sqlite import SQLiteStore
    from journeydsl.testing import MemoryProfileStore, RecordingChannel, SteppableClock

    decided = compile_file(EXAMPLES / "limit_increase.journey").journey
    assert decided is not None
    start = datetime(2026, 2, 2, 9, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    clock = SteppableClock(start)
    limit = {"credit_limit": Money(Decimal(20_000_000), "VND")}
    answer = {"approved": True, "amount": 50_000_000, "tier": "gold"}
    with SQLiteStore(tmp_path / "host.db") as state:
        engine = Engine(
            [decided],
            events=state,
            profiles=MemoryProfileStore([Profile("c-1", limit, {"email": True})]),
            state=state,
            clock=clock,
            channels={"email": RecordingChannel("email")},
            decisions={"credit.preapproved_limit": lambda call: answer},
        )
        engine.ingest(event("c-1", "card_activated", start.isoformat(), card_id="k-1"))
        clock.advance(timedelta(days=31))
        engine.tick()
    journey = str(EXAMPLES / "limit_increase.journey")
    db = str(tmp_path / "host.db")
    assert main(["explain", journey, "--customer", "c-1", "--db", db]) == 0
    out = capsys.readouterr().out
    assert "asked credit.preapproved_limit: {approved: true" in out
    assert "ended: offered" in out

    pair = [str(EXAMPLES / f"{name}.journey") for name in ("activation_handoff", "activation_call")]
    events = [
        event("c-2", "card_issued", "2026-03-02T09:00:00+07:00", card_id="k-2", product="gold"),
        event("c-2", "app_installed", "2026-03-03T09:00:00+07:00"),
    ]
    files = ["--events", str(jsonl(tmp_path / "events.jsonl", events))]
    files += ["--actions", str(tmp_path / "actions.jsonl"), "--db", str(tmp_path / "pair.db")]
    assert main(["run", *pair, *files, "--now", "2026-03-10T09:00:00+07:00"]) == 0
    capsys.readouterr()
    assert main(["explain", pair[0], "--customer", "c-2", "--db", str(tmp_path / "pair.db")]) == 0
    out = capsys.readouterr().out
    assert "handed off to activation_call (instance activation_call/c-2/1)" in out


def test_stored_explain_of_a_misspelt_customer_names_the_closest(
    ran: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    """--customer c-0003 with --db (the run has c-003): exit 1, with the id it likely meant."""
    argv = ["explain", JOURNEYS[0], "--customer", "c-0003", "--db", ran["db"]]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert (
        err == f"journeydsl: error: no customer 'c-0003' in {ran['db']} — did you mean 'c-003'?\n"
    )
