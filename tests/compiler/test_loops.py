"""The loop check (JD502): a wait counts only when it makes time pass round after round. A zero
duration never does; a fixed instant (``wait until entered_at + 1d``, a timeout ``until`` one)
does in the first round only; durations, times of day and instants that move every round do."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import CompileResult, compile_source
from journeydsl.diagnostics import Diagnostic

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

LOOP = """journey loop
uses events "events.yaml"
uses templates "templates.yaml"
outcomes activated
param gap = {gap}
entry on card_issued
repeat as round max 3 {{
{body}
  send email activation_reminder transactional {{ round: round }}
}}
"""

#: The two loops of the audit's reproduction (/tmp/audit-lang/repro/spin.journey): six emails
#: at one instant, which `check` let through.
SPIN = """journey spin
uses events "events.yaml"
uses templates "templates.yaml"
timezone "UTC"
entry on card_issued
repeat as round max 3 {
  wait until entered_at + 1d
  send email activation_reminder { round: round }
}
repeat as r2 max 3 {
  wait 0s
  send email activation_reminder { round: r2 }
}
"""


def _compile(body: str, gap: str = "1d") -> CompileResult:
    return compile_source(LOOP.format(body=body, gap=gap), "loop.journey", base_dir=EXAMPLES)


def _loops(result: CompileResult) -> list[Diagnostic]:
    return [d for d in result.diagnostics if d.code == "JD502"]


def test_the_spinning_loops_of_the_audit_are_refused() -> None:
    """`wait until entered_at + 1d` and `wait 0s` as a round's only wait are JD502 errors."""
    result = compile_source(SPIN, "spin.journey", base_dir=EXAMPLES)
    assert result.journey is None
    assert [(d.code, d.span.line) for d in result.diagnostics] == [("JD502", 6), ("JD502", 10)]


@pytest.mark.parametrize(
    ("body", "gap"),
    [
        ("  wait 0s", "1d"),
        ("  wait gap", "0s"),
        ("  wait 1d * profile.loyalty_points", "1d"),
        ("  wait 3d * (round - 1)", "1d"),
        ("  wait until now", "1d"),
        ("  wait until now + 0s", "1d"),
        ("  wait for card_activated within 0s {\n    exit activated\n  }", "1d"),
    ],
    ids=["zero", "zero-param", "from-data", "zero-in-round-1", "now", "now-plus-zero", "timeout"],
)
def test_a_wait_that_can_be_zero_makes_no_round_wait(body: str, gap: str) -> None:
    """A duration that is or can be zero (a constant, a param, data, a product that is zero in
    a round) or an instant that can be now does not wait: all rounds happen at once."""
    found = _loops(_compile(body, gap))
    assert [d.message for d in found] == [
        "this repeat can run a round without waiting: its 3 rounds would all happen at once"
    ]
    assert "may end at once" in (found[0].hint or "") or "does not wait" in (found[0].hint or "")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ("  wait until entered_at + 1d", "`wait until entered_at + 1d`"),
        (
            "  wait for card_activated until entered_at + 2d {\n    exit activated\n  }",
            "the timeout of `wait for card_activated until entered_at + 2d`",
        ),
        (
            "  set due = entered_at + 1d\n  wait until due",
            "`wait until due`",
        ),
    ],
    ids=["wait-until", "timeout-until", "variable"],
)
def test_a_fixed_instant_waits_in_the_first_round_only(body: str, named: str) -> None:
    """Once a fixed instant has passed, reaching it again does not wait: the rounds after the
    first happen at once, and the hint names the wait and says why."""
    found = _loops(_compile(body))
    assert [d.message for d in found] == [
        "this repeat can run a round without waiting: after its first round, the other 2 can "
        "all happen at once"
    ]
    assert (found[0].hint or "").startswith(f"{named} is the same instant every round")


@pytest.mark.parametrize(
    "body",
    [
        "  wait 1d",
        "  wait gap",
        "  wait 3d * round",
        "  wait gap * (round + 1)",
        "  wait until 09:00",
        "  wait until next monday 09:00",
        "  wait until now + 12h",
        "  wait until now + gap * round",
        "  wait until entered_at + 1d * round",
        "  set due = now + 1d\n  wait until due",
        "  set due = entered_at + 2d * round\n  wait until due",
        "  wait for card_activated within 3d {\n    exit activated\n  }",
        "  wait for card_activated until entered_at + 2d + 3d * (round - 1) {\n"
        "    exit activated\n  }",
        "  wait for card_activated",
        "  if round > 1 {\n    wait 1d\n  } else {\n    wait until entered_at + 12h\n  }",
        "  if round == 1 {\n    wait until entered_at + 12h\n  } else {\n    wait 1d\n  }",
    ],
)
def test_a_wait_that_moves_every_round_passes(body: str) -> None:
    """Positive durations (with params and round counters), times of day, instants that read
    now or the round, event waits, and a fixed instant taken in the first round only: no JD502."""
    result = _compile(body)
    assert _loops(result) == []


def test_a_round_test_that_differs_between_later_rounds_is_followed_both_ways() -> None:
    """`if round == 2` can be true or false in a later round: its fixed-instant side counts
    as no wait there."""
    body = "  if round == 2 {\n    wait until entered_at + 12h\n  } else {\n    wait 1d\n  }"
    assert [d.code for d in _loops(_compile(body))] == ["JD502"]


def test_a_variable_set_on_one_side_only_does_not_move_the_instant() -> None:
    """`wait until due` where only one side of an `if` sets `due = now + 1d` waits, on the
    other side, for an instant that does not move: no wait there after the first round."""
    body = (
        "  set due = entered_at + 1d\n  if profile.has_digital_app {\n    set due = now + 1d\n"
        "  }\n  wait until due"
    )
    assert [d.code for d in _loops(_compile(body))] == ["JD502"]
