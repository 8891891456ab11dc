"""The checks of a `during` block's handlers: one that repeats an earlier one (the same event and
filter, or the same condition) can never run, as a repeated branch of `wait first` cannot."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey handlers
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_approved
during {{ wait 7d }} {handlers}
exit done
"""


@pytest.mark.parametrize(
    ("handlers", "repeated"),
    [
        ("on transaction { tag a } on transaction { tag b }", "handler 1 (`on transaction`)"),
        (
            "on cancel_request { } when has(card_bound since entry) { } "
            "when has(card_bound since entry) { tag b }",
            "handler 2 (`when has(card_bound since entry)`)",
        ),
        (
            'on cancel_request where cancel_request.reason == "other" { } '
            'on cancel_request where cancel_request.reason == "other" { }',
            'handler 1 (`on cancel_request where cancel_request.reason == "other"`)',
        ),
    ],
)
def test_a_repeated_handler_is_refused(handlers: str, repeated: str) -> None:
    """JD507 at the later handler, naming the earlier one it repeats."""
    result = compile_source(JOURNEY.format(handlers=handlers), "h.journey", base_dir=EXAMPLES)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (
            "JD507",
            f"this handler repeats {repeated}: the earlier one always wins, so it can never run",
        )
    ]


def test_handlers_of_one_event_with_other_filters_are_accepted() -> None:
    """Handlers of one event that differ in their `where` can each win: no diagnostic."""
    handlers = (
        'on cancel_request where cancel_request.reason == "annual_fee" { } on cancel_request { }'
    )
    result = compile_source(JOURNEY.format(handlers=handlers), "h.journey", base_dir=EXAMPLES)
    assert result.diagnostics == []


@pytest.mark.parametrize(
    ("handlers", "code", "why"),
    [
        (
            "on transaction { decide ok = kyc.is_current(customer: customer_id) "
            "on error { tag no_answer } }",
            "JD105",
            "a `decide` that may retry waits between its attempts",
        ),
        (
            "on transaction { ticket telesales not accepted { tag full } }",
            "JD105",
            "a ticket with `accepted` / `not accepted` exits waits for its queue's decision",
        ),
    ],
)
def test_a_handler_step_that_waits_in_place_is_refused(handlers: str, code: str, why: str) -> None:
    """A decision that may retry, or a ticket with exits, waits inside the handler: the body
    would go on meanwhile and could end first, cancelling a handler whose event came first."""
    result = compile_source(JOURNEY.format(handlers=handlers), "h.journey", base_dir=EXAMPLES)
    ((d,),) = [[d for d in result.diagnostics if d.severity == "error"]]
    assert d.code == code
    assert d.message.startswith("a handler's steps run at the instant its event arrives")
    assert why in d.message


def test_a_handler_may_ask_a_decision_once() -> None:
    """`retry 0` asks once, at the instant: accepted in a handler."""
    handlers = (
        "on transaction { decide ok = kyc.is_current(customer: customer_id) retry 0 "
        "on error { tag no_answer } }"
    )
    result = compile_source(JOURNEY.format(handlers=handlers), "h.journey", base_dir=EXAMPLES)
    assert [d.code for d in result.diagnostics] == []


def test_a_ticket_with_exits_in_the_body_is_refused() -> None:
    """A ticket waiting for its queue's decision in the body would still reach the queue after
    a handler cancelled the body: JD805, as in a parallel branch."""
    source = JOURNEY.replace(
        "during {{ wait 7d }}",
        "during {{ wait 1h  ticket telesales not accepted {{ tag full }}  wait 7d }}",
    ).format(handlers="on cancel_request { }")
    result = compile_source(source, "h.journey", base_dir=EXAMPLES)
    assert [d.code for d in result.diagnostics] == ["JD805"]
