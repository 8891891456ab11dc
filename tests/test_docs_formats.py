"""docs/formats.md is run: its events and profile are simulated and run; the action lines and
the simulate document it shows are what journeydsl prints for them; its behaviour model loads and
simulates; the other docs point to it, not to a design file outside the repository."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from journeydsl.cli import main

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "formats.md"
JOURNEY = str(ROOT / "examples" / "onboarding_new_cardholder.journey")
UNTIL = "2026-01-08T00:00:00+07:00"


def block(info: str) -> str:
    """The text of the one fenced block whose info string is ``info``."""
    (found,) = re.findall(rf"^```{re.escape(info)}\n(.*?)^```", DOC.read_text("utf-8"), re.S | re.M)
    return str(found)


@pytest.fixture
def inputs(tmp_path: Path) -> tuple[Path, Path]:
    """The doc's events and profile, written as JSON Lines files."""
    events, profiles = tmp_path / "events.jsonl", tmp_path / "profiles.jsonl"
    events.write_text(block("json event"), encoding="utf-8")
    profiles.write_text(block("json profile"), encoding="utf-8")
    return events, profiles


def test_every_line_of_the_examples_is_one_json_object() -> None:
    """The event, profile and action examples are JSON Lines: one object per line."""
    for info in ("json event", "json profile", "json action"):
        for line in block(info).splitlines():
            assert isinstance(json.loads(line), dict)


def test_the_simulate_document_is_what_simulate_prints(
    inputs: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """Each part of the document the doc shows is exactly that part of simulate's output."""
    events, profiles = inputs
    code = main(
        [
            *("simulate", JOURNEY, "--events", str(events), "--profiles", str(profiles)),
            *("--until", UNTIL, "--format", "json"),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""  # no event was quarantined
    printed = json.loads(captured.out)
    shown = json.loads(block("json simulate"))
    assert set(shown) == {"journey", "version", "actions", "instances"}
    for key, value in shown.items():
        assert printed[key] == value, key
    assert "funnel" in printed


def test_the_action_lines_are_what_run_writes(
    inputs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl run` over the doc's events writes exactly the doc's action lines."""
    events, profiles = inputs
    actions = tmp_path / "actions.jsonl"
    code = main(
        [
            *("run", JOURNEY, "--db", str(tmp_path / "state.db"), "--events", str(events)),
            *("--profiles", str(profiles), "--actions", str(actions), "--now", UNTIL),
        ]
    )
    assert code == 0, capsys.readouterr().err
    written = [json.loads(line) for line in actions.read_text("utf-8").splitlines()]
    shown = [json.loads(line) for line in block("json action").splitlines()]
    assert written == shown


def test_the_behaviour_model_simulates(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The doc's behaviour model is valid and a population simulates with it."""
    behaviour = tmp_path / "b.yaml"
    behaviour.write_text(block("yaml behaviour"), encoding="utf-8")
    code = main(["simulate", JOURNEY, "--population", "20", "--behaviour", str(behaviour)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "20 instances entered" in captured.out


@pytest.mark.parametrize("name", ["embedding.md", "simulate.md", "policies.md", "changelog.md"])
def test_docs_point_to_formats_not_to_a_design_file(name: str) -> None:
    """No doc sends its reader to DESIGN.md, which is not in the repository."""
    assert "DESIGN.md" not in (ROOT / "docs" / name).read_text("utf-8")


def test_embedding_guide_links_the_formats() -> None:
    """The embedding guide names docs/formats.md where it speaks of the event and profile
    contracts."""
    text = (ROOT / "docs" / "embedding.md").read_text("utf-8")
    assert text.count("formats.md") >= 2
