"""Hand-offs on the command line: `run` and test files need the target named, `simulate` and
`explain` load it from the folder of the journey that hands off; never a traceback."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from journeydsl.cli import main

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
FILES = (
    "activation_handoff.journey",
    "activation_call.journey",
    "activation_handoff.test.yaml",
    "events.yaml",
    "templates.yaml",
)
EVENTS = [
    {"id": "e1", "customer_id": "c-1", "type": "card_issued", "at": "2026-03-02T09:00:00+07:00",
     "data": {"card_id": "k1", "product": "gold"}},
    {"id": "e2", "customer_id": "c-1", "type": "app_installed",
     "at": "2026-03-03T09:00:00+07:00", "data": {}},
]  # fmt: skip


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    for name in FILES:
        shutil.copy(EXAMPLES / name, tmp_path / name)
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in EVENTS))
    (tmp_path / "profiles.jsonl").write_text('{"customer_id": "c-1", "consent": {"sms": true}}\n')
    return tmp_path


def _run(folder: Path, *journeys: str) -> list[str]:
    return [
        "run",
        *(str(folder / j) for j in journeys),
        "--db",
        str(folder / "state.db"),
        "--events",
        str(folder / "events.jsonl"),
        "--actions",
        str(folder / "actions.jsonl"),
        "--profiles",
        str(folder / "profiles.jsonl"),
        "--now",
        "2026-03-20T00:00:00+07:00",
    ]


def test_run_refuses_a_journey_without_its_target_then_runs_the_chain(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`run` of the journey that hands off alone exits 1 naming the target; with both files
    the chain runs on SQLite: the call's ticket and SMS are in the actions file."""
    assert main(_run(folder, "activation_handoff.journey")) == 1
    err = capsys.readouterr().err
    assert "activation_handoff hands off to activation_call, which is not run" in err
    assert "Traceback" not in err
    assert main(_run(folder, "activation_handoff.journey", "activation_call.journey")) == 0
    actions = [json.loads(line) for line in (folder / "actions.jsonl").read_text().splitlines()]
    assert [(a["journey"], a["kind"]) for a in actions] == [
        ("activation_call", "ticket"),
        ("activation_call", "send"),
    ]
    assert actions[0]["payload"] == {"reason": "installed_not_activated", "card_id": "k1"}


def test_a_test_file_without_the_target_is_an_error_at_its_line(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A test file that names only the journey that hands off fails at its `journeys:` line."""
    test_file = folder / "activation_handoff.test.yaml"
    text = test_file.read_text()
    test_file.write_text(text.replace(", activation_call.journey]", "]"))
    assert main(["test", str(test_file)]) != 0
    out = capsys.readouterr()
    both = out.out + out.err
    assert "activation_handoff hands off to activation_call: name the target journey too" in both
    assert f"{test_file}:4:" in both
    assert "Traceback" not in both


def test_explain_loads_the_target_and_shows_the_chain(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`explain` of the journey that hands off runs its target too (found in its folder) and
    shows the hand-off and the target's instance."""
    code = main(
        [
            "explain",
            str(folder / "activation_handoff.journey"),
            "--events",
            str(folder / "events.jsonl"),
            "--profiles",
            str(folder / "profiles.jsonl"),
            "--until",
            "2026-03-20",
            "--customer",
            "c-1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "handed off to activation_call (instance activation_call/c-1/1)" in out
    assert "activation_call/c-1/1 (activation_call v1): ended, outcome called" in out
    assert "entered (trigger: handoff)" in out


def test_simulate_reports_each_journey_of_the_chain(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate` of the journey that hands off reports it and its target, the hand-off step
    with its counts; a flag the chain cannot take is refused with the reason."""
    argv = [
        "simulate",
        str(folder / "activation_handoff.journey"),
        "--events",
        str(folder / "events.jsonl"),
        "--profiles",
        str(folder / "profiles.jsonl"),
        "--until",
        "2026-03-20",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "enter activation_call (handed off 1, not entered 0)" in out
    assert "activation_call v1" in out
    assert main([*argv, "--format", "html"]) == 2
    assert "the journeys it hands off to run with it" in capsys.readouterr().err
