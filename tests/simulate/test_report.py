"""The text report (`journeydsl/simulate/report.py`) and what it says about a run in words."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.simulate.conftest import EVENTS, EXAMPLES, ONBOARDING, Cli

BINDING = str(EXAMPLES / "card_wallet_binding.journey")
CALLBACK = str(EXAMPLES / "telesales_callback.journey")


@pytest.mark.parametrize(
    ("journey", "says"),
    [
        (BINDING, "No customer entered: the journey enters on card_approved events, and none came"),
        (CALLBACK, "No customer entered: the journey enters customers from code (`entry manual`)"),
    ],
)
def test_a_run_nobody_entered_says_so_and_how_the_journey_enters(
    cli: Cli, tmp_path: Path, journey: str, says: str
) -> None:
    """A journey no customer entered gets a sentence saying so and how it enters (the text
    report and the HTML header), not empty tables without a word."""
    events = str(EVENTS / "onboarding.jsonl")
    code, out, err = cli("simulate", journey, "--events", events, "-q")
    assert code == 0, err
    lines = out.splitlines()
    assert ": 0 instances entered, 0 still running" in lines[1]
    assert lines[2].startswith(says)
    page = tmp_path / "report.html"
    code, _, err = cli("simulate", journey, "--events", events, "--format", "html", "-o", str(page))
    assert code == 0, err
    assert says.replace("`", "") in page.read_text(encoding="utf-8").replace("`", "")


def test_a_run_someone_entered_has_no_such_sentence(cli: Cli) -> None:
    """The sentence is only for a run nobody entered."""
    events = str(EVENTS / "onboarding.jsonl")
    code, out, err = cli("simulate", ONBOARDING, "--events", events, "-q")
    assert code == 0, err
    assert "No customer entered" not in out
