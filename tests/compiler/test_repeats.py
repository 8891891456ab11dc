"""Where `break` and `continue` may stand: inside a repeat, and never so that they leave a
`parallel` or `during` block for a repeat around it; a repeat inside such a block is a repeat
like any other."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey jumps
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_approved
{steps}
exit done
"""


def _errors(steps: str) -> list[tuple[str, str]]:
    result = compile_source(JOURNEY.format(steps=steps), "jumps.journey", base_dir=EXAMPLES)
    return [(d.code, d.message) for d in result.diagnostics if d.severity == "error"]


@pytest.mark.parametrize(
    "steps",
    [
        "during {\n  repeat max 3 { wait 1d  break }\n  wait 1d\n} on cancel_request",
        "during {\n  repeat as r max 3 { wait 1d  if r == 2 { continue } tag seen }\n"
        "} on cancel_request",
        "during { wait 1d } on cancel_request { repeat max 2 { tag churn  break } }",
        "parallel all {\n  branch { repeat max 3 { wait 1d  break } }\n  branch { wait 2d }\n}",
        "repeat max 2 {\n  wait 1d\n  during { repeat max 2 { wait 1h  continue } } "
        "on cancel_request\n}",
    ],
)
def test_a_jump_inside_a_repeat_inside_a_block_is_accepted(steps: str) -> None:
    """A break or continue whose innermost repeat lies inside a during or parallel block stays
    in the block, so it is accepted."""
    assert _errors(steps) == []


@pytest.mark.parametrize(
    ("steps", "block", "kind"),
    [
        (
            "repeat max 2 {\n  wait 1d\n  parallel all {\n    branch { wait 1d  break }\n"
            "    branch { wait 3d }\n  }\n}",
            "parallel",
            "break",
        ),
        (
            "repeat max 2 {\n  wait 1d\n  parallel first {\n    branch { wait 1d }\n"
            "    branch { wait 2d  if true { continue } }\n  }\n}",
            "parallel",
            "continue",
        ),
        (
            "repeat max 3 { wait 1d  during { wait 1d } on cancel_request { break } }",
            "during",
            "break",
        ),
        (
            "repeat max 3 { wait 1d  during { wait 1d  continue } on cancel_request }",
            "during",
            "continue",
        ),
    ],
)
def test_a_jump_out_of_a_block_to_a_repeat_around_it_is_refused(
    steps: str, block: str, kind: str
) -> None:
    """A break or continue in a parallel branch or a during block whose repeat is around the
    block would leave the block with its other branches still running: JD105."""
    assert ("JD105", f"`{kind}` cannot leave a {block} block") in _errors(steps)


@pytest.mark.parametrize(
    ("steps", "rounds"),
    [
        ("repeat max 100000000 { wait 1s }", "100,000,000 rounds"),
        (
            "repeat max 200 {\n  wait 1d\n"
            "  repeat max 100 { wait 1h  repeat max 3 { wait 1m } }\n}",
            "20,000 rounds (200 of the repeats it is in, times 100)",
        ),
    ],
)
def test_a_repeat_of_more_than_ten_thousand_rounds_is_refused(steps: str, rounds: str) -> None:
    """A repeat whose rounds, times those of the repeats around it, pass 10,000 is JD105, once."""
    assert _errors(steps) == [
        (
            "JD105",
            f"this repeat can run {rounds}: a repeat runs at most 10,000, counting the rounds "
            "of the repeats it is in",
        )
    ]


def test_repeats_one_after_the_other_count_apart() -> None:
    """Two repeats of 10,000 rounds in a row, and 100 by 100 nested, are accepted."""
    steps = (
        "repeat max 10000 { wait 1d }\nrepeat max 100 {\n  wait 1d\n  repeat max 100 { wait 1h }\n}"
    )
    assert _errors(steps) == []
