"""The hostile-journeys campaign at CI size, and the oracle it judges each input by."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from reliability import hostile_journeys as campaign
from reliability._journey_child import PEAK
from reliability._journey_inputs import JourneyInput, dsl_journey, folder_files

pytestmark = pytest.mark.campaign


def test_hostile_journeys_end_in_a_diagnostic_or_a_counted_failure_in_time_and_memory() -> None:
    """Journeys whose values double and square themselves, catalog paths out of the folder,
    catalog alias bombs and sources at the size limits, each checked and run in a child process:
    every one ends in a diagnostic or a counted instance failure (or a clean run), each command
    within 5 s and 500 MB, with no traceback and no byte of a refused file printed."""
    figures = campaign.run(size=16, seed=20260105, kinds=["growth", "paths", "bombs"])
    sizes = campaign.run(size=5, seed=20260105, kinds=["sizes"])
    for found in (figures, sizes):
        assert found["violations"] == 0, json.dumps(found["violation_samples"], indent=1)
        assert found["max_seconds"] < campaign.WALL_LIMIT
        assert found["max_mb"] < campaign.RSS_LIMIT_MB
    kinds = figures["by_kind"]
    assert [kinds[k]["inputs"] for k in ("growth", "paths", "bombs")] == [16, 16, 16]
    assert sizes["by_kind"]["sizes"]["inputs"] == 5
    # The campaign exercises both ends: limits the checker sees, and limits met while running.
    assert kinds["growth"]["failures"] >= 3
    assert figures["codes"].get("JD308", 0) >= 1
    assert kinds["paths"]["diagnostics"] == 16
    assert figures["codes"]["JD113"] >= 10
    assert figures["codes"]["JD112"] >= 3


def _child(**changes: Any) -> campaign.Child:
    """A ``check`` that exited 1 in 0.4 s and 50 MB, printing nothing, but for ``changes``."""
    return replace(campaign.Child("check", 1, "", "", 0.4, 50.0), **changes)


ITEM = JourneyInput("paths", "test", "j.journey", expect="codes", codes=frozenset({"JD113"}))


@pytest.mark.parametrize(
    ("child", "problem"),
    [
        (_child(code=None, seconds=15.0), "check killed after 15 s"),
        (_child(code=2, stderr="journeydsl: error: x"), "check exited 2"),
        (_child(stderr="Traceback (most recent call last):\n"), "check printed a traceback"),
        (_child(seconds=5.5), "check took 5.5 s"),
        (_child(peak_mb=612.0), "check peaked at 612 MB"),
        (_child(stdout="SECRET in a quoted line"), "check printed the secret of a file"),
        (_child(stdout="/etc/passwd:1:1: error[JD100]: x"), "a diagnostic names a file outside"),
        (_child(stdout="F/j.journey:2:13: error[JD109]: x"), "expected JD113, got ['JD109']"),
        (_child(code=1, stderr="journeydsl: error: x"), "exit 1 without a diagnostic"),
    ],
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_the_oracle_catches_each_way_an_input_can_hurt_the_host(
    child: campaign.Child, problem: str, tmp_path: Path
) -> None:
    """Each way an input breaks the oracle is reported: a killed or crashed process, a
    traceback, too slow, too large, a secret printed, a diagnostic about a file outside the
    folder, the wrong diagnostic, an exit 1 that explains nothing."""
    child = replace(child, stdout=child.stdout.replace("F/", f"{tmp_path}/"))
    result = campaign.judge(ITEM, [child], tmp_path, "SECRET")
    assert any(p.startswith(problem) for p in result.problems), result.problems


def test_a_good_input_passes_the_oracle(tmp_path: Path) -> None:
    """The expected refusal at the journey's line, in time and memory, breaks nothing."""
    child = _child(stdout=f"{tmp_path}/j.journey:2:13: error[JD113]: the catalog is refused")
    result = campaign.judge(ITEM, [child], tmp_path, "SECRET")
    assert (result.outcome, result.codes, result.problems) == ("diagnostic", ("JD113",), ())


def test_a_counted_instance_failure_is_an_outcome_with_its_reason(tmp_path: Path) -> None:
    """A run that exits 1 counting failed instances ends in `failure`, each with the limit that
    ended it."""
    run = _child(
        command="run",
        stderr="journeydsl run: …; 2 journey instances failed (outcome error)\n"
        "journeydsl: error: instance j/c1/1 failed: `s + s` would build … (MAX_STRING_LENGTH)\n"
        "journeydsl: error: instance j/c2/1 failed: OverflowError('date value out of range')\n",
    )
    item = JourneyInput("growth", "test", "j.journey", expect="not_clean")
    result = campaign.judge(item, [_child(code=0), run], tmp_path, "SECRET")
    assert (result.outcome, result.failed, result.problems) == ("failure", 2, ())
    assert result.reasons == ("MAX_STRING_LENGTH", "OverflowError")


def test_a_child_past_its_time_is_killed_and_measured(tmp_path: Path) -> None:
    """The campaign kills a child that runs past its wall limit; a child that finishes reports
    its own peak RSS, not the campaign's (150 MB of which would be in os.wait4's ru_maxrss)."""
    folder = tmp_path / "in"
    item = JourneyInput("growth", "test", "j.journey", folder_files("j.journey", dsl_journey("")))
    campaign.materialize(item, folder, tmp_path, "SECRET")
    killed = campaign.spawn("check", folder, "j.journey", kill_after=0.05)
    assert killed.code is None
    ballast = bytearray(150 * 2**20)
    ballast[:: 2**12] = b"\x01" * len(ballast[:: 2**12])  # touch every page: it is resident
    done = campaign.spawn("check", folder, "j.journey")
    del ballast
    assert (done.code, done.seconds < campaign.WALL_LIMIT) == (0, True)
    assert 10 < done.peak_mb < 120
    assert PEAK not in done.stderr
