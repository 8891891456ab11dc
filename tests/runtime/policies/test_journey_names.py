"""JD610: ``journeydsl check --policies`` warns about a journey id the policy file names (a
cap's ``journeys``, an override under ``journeys:``, an entry rate) that no checked journey has,
at the name's line, with a "did you mean" when a checked journey's id is close."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.runtime.policies.journey_names import check_journey_names
from journeydsl.yamlfile import load_document

ROOT = Path(__file__).resolve().parents[3]
LAYERS = [
    str(ROOT / "examples" / f"{name}.journey")
    for name in ("lifecycle_low_frequency", "lifecycle_low_utilisation")
]


def _check(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, list[dict[str, Any]]]:
    code = main(["check", *args, "--format", "json"])
    found = json.loads(capsys.readouterr().out)["diagnostics"]
    return code, [d for d in found if d["code"] == "JD610"]


def test_a_misspelt_journey_id_in_a_policy_file_is_a_warning_with_a_did_you_mean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A misspelt id in a cap's journeys, an override and an entry rate each warn at its
    line with the close checked journey: they used to pass silently and never apply."""
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        "frequency_caps:\n"
        "  - name: one_layering_message_a_day\n"
        "    journeys: [lifecycle_low_frequncy, lifecycle_low_utilisation]\n"
        "    max: 1\n"
        "    window: 24h\n"
        "entry_rates:\n"
        "  - {journey: lifecycle_low_utilisaton, max: 100, per: 1h}\n"
        "journeys:\n"
        "  lifecycle_low_frequncy: {priority: 20}\n",
        encoding="utf-8",
    )
    code, found = _check("--policies", str(policy), *LAYERS, capsys=capsys)
    assert code == 0
    got = [(d["line"], d["column"], d["severity"], d["hint"].split("?")[0]) for d in found]
    assert got == [
        (3, 16, "warning", "did you mean 'lifecycle_low_frequency'"),
        (7, 15, "warning", "did you mean 'lifecycle_low_utilisation'"),
        (9, 3, "warning", "did you mean 'lifecycle_low_frequency'"),
    ]
    assert found[0]["file"] == str(policy)
    assert found[0]["message"] == (
        "the policy file names the journey 'lifecycle_low_frequncy' "
        "(frequency_caps[0].journeys), but none of the journeys checked (2) has that id: what "
        "it says for 'lifecycle_low_frequncy' never applies"
    )
    assert found[0]["hint"] == (
        "did you mean 'lifecycle_low_frequency'? Or, if 'lifecycle_low_frequncy' is a journey "
        "not given to this check, check the policy file with every journey the engine runs "
        "(`journeydsl check --policies FILE FOLDER/`)"
    )


def test_a_journey_id_in_an_extended_file_or_an_override_cap_is_checked_too(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A name in a file the policy file extends is reported at that file's line, and so is one
    in a cap of a journey's override; a name with nothing close says how to check it."""
    (tmp_path / "bank.yaml").write_text(
        "frequency_caps:\n  - {name: c, journeys: [lifecycle_low_frequncy], max: 1, window: 1d}\n",
        encoding="utf-8",
    )
    policy = tmp_path / "team.yaml"
    policy.write_text(
        "extends: bank.yaml\n"
        "journeys:\n"
        "  lifecycle_low_frequency:\n"
        "    frequency_caps: [{name: d, journeys: [spring_campaign], max: 1, window: 1d}]\n",
        encoding="utf-8",
    )
    code, found = _check("--policies", str(policy), *LAYERS, capsys=capsys)
    assert code == 0
    got = [(Path(d["file"]).name, d["line"], d["column"]) for d in found]
    assert got == [("bank.yaml", 2, 26), ("team.yaml", 4, 43)]
    assert found[0]["hint"].startswith("did you mean 'lifecycle_low_frequency'? Or, if ")
    assert "journeys.lifecycle_low_frequency.frequency_caps[0].journeys" in found[1]["message"]
    assert found[1]["hint"].startswith("correct the id")


def test_names_of_checked_journeys_and_unreadable_journeys_give_no_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every named id is a checked journey: no JD610; a journey that cannot be read (its id
    unknown) or no journey at all: no JD610 either."""
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        "frequency_caps:\n"
        "  - {journeys: [lifecycle_low_frequency, lifecycle_low_utilisation], max: 1, "
        "window: 1d}\n"
        "journeys:\n  lifecycle_low_frequency: {priority: 2}\n",
        encoding="utf-8",
    )
    assert _check("--policies", str(policy), *LAYERS, capsys=capsys) == (0, [])
    broken = tmp_path / "broken.journey"
    broken.write_text("journey broken\nentry on\n", encoding="utf-8")
    code, found = _check("--policies", str(policy), LAYERS[0], str(broken), capsys=capsys)
    assert (code, found) == (1, [])
    assert check_journey_names([load_document(policy)], ()) == []
