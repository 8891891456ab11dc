"""The ticket step's ``accepted { … }`` / ``not accepted { … }`` exits in both spellings: the
same AST, canonical printing, and a ticket without exits left as it was."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeydsl import compile_source
from journeydsl.ast import Exit, Ident, Name, Param, Tag, Ticket
from journeydsl.syntax.printer import print_dsl, print_yaml
from tests.syntax.test_printer import from_dsl, from_yaml, journey_with

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

DSL = """journey calls version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes called

entry on card_activated
  reentry once

call: ticket telesales priority high { card_id: trigger.card_id } accepted {
  exit called
} not accepted {
  tag missed_call
}
ticket customer_care not accepted {}
"""

YAML = """journey: calls
version: 1
uses:
  events: events.yaml
  templates: templates.yaml
outcomes:
  - called

entry:
  event: card_activated
  reentry: once

steps:
  - id: call
    ticket: telesales
    priority: high
    payload:
      card_id: trigger.card_id
    accepted:
      - exit: called
    not_accepted:
      - tag: missed_call
  - ticket: customer_care
    not_accepted: []
"""


def test_both_spellings_read_to_the_same_ticket_with_exits() -> None:
    """The DSL and the YAML spelling give one AST: both blocks, and an empty block kept apart
    from an absent one."""
    dsl, yaml = from_dsl(DSL), from_yaml(YAML)
    assert dsl == yaml
    first, second = dsl.steps
    assert isinstance(first, Ticket)
    assert isinstance(second, Ticket)
    assert first.accepted == (Exit(Ident("called")),)
    assert first.not_accepted == (Tag(Ident("missed_call")),)
    assert (second.accepted, second.not_accepted) == (None, ())
    assert second.waits
    assert first.waits


def test_fmt_prints_each_spelling_canonically() -> None:
    """Printing either AST gives exactly the canonical text of each spelling."""
    journey = from_dsl(DSL)
    assert print_dsl(journey) == DSL
    assert print_yaml(journey) == YAML
    assert print_dsl(from_yaml(YAML)) == DSL


@pytest.mark.parametrize(
    ("accepted", "not_accepted", "text"),
    [
        ((), None, "ticket telesales accepted {}"),
        (None, (), "ticket telesales not accepted {}"),
        ((), (), "ticket telesales accepted {} not accepted {}"),
    ],
)
def test_empty_exits_print_on_the_ticket_line(
    accepted: tuple[()] | None, not_accepted: tuple[()] | None, text: str
) -> None:
    """An empty exit prints as `{}` on the ticket's line, and reads back the same."""
    journey = journey_with(Ticket(Ident("telesales"), accepted=accepted, not_accepted=not_accepted))
    printed = print_dsl(journey)
    assert printed.splitlines()[-1] == text
    assert from_dsl(printed) == journey
    assert from_yaml(print_yaml(journey)) == journey


def test_a_long_payload_keeps_its_exits_after_the_closing_brace() -> None:
    """A payload too long for one line is printed a field a line, and the exits follow its `}`."""
    payload = tuple(Param(Ident(f"field_{i}"), Name(f"value_{i}")) for i in range(6))
    journey = journey_with(
        Ticket(Ident("telesales"), payload=payload, not_accepted=(Tag(Ident("x")),))
    )
    printed = print_dsl(journey)
    assert "} not accepted {\n  tag x\n}" in printed
    assert from_dsl(printed) == journey


def test_a_ticket_without_exits_prints_and_compiles_as_before() -> None:
    """No exits: no `accepted` in either spelling, and no exit fields in the graph's JSON."""
    text = DSL.split("call:")[0] + "ticket telesales priority high { card_id: trigger.card_id }\n"
    journey = from_dsl(text)
    assert "accepted" not in print_dsl(journey) + print_yaml(journey)
    compiled = compile_source(text, file="calls.journey", base_dir=EXAMPLES).journey
    assert compiled is not None
    (node,) = compiled.to_json()["nodes"]
    assert set(node) == {"id", "kind", "queue", "priority", "payload", "next"}


def test_the_graph_json_is_the_same_from_both_spellings() -> None:
    """Compiled from either spelling, the graph is one JSON: exits as labelled edges."""
    graphs = [
        json.dumps(compile_source(t, file=f, base_dir=EXAMPLES).journey.to_json())  # type: ignore[union-attr]
        for t, f in ((DSL, "calls.journey"), (YAML, "calls.yaml"))
    ]
    assert graphs[0] == graphs[1]
    call = json.loads(graphs[0])["nodes"][0]
    assert (call["waits"], call["next"]) == (True, None)
    assert call["accepted"] == "exit_called"
    assert call["not_accepted"] == "tag_missed_call"


def test_a_misspelt_exit_is_a_parse_error_at_its_word() -> None:
    """`not acepted` is JD101 at the misspelt word, not a traceback."""
    result = compile_source(
        DSL.replace("} not accepted {", "} not acepted {"), file="c.journey", base_dir=EXAMPLES
    )
    (diag,) = [d for d in result.diagnostics if d.code == "JD101"]
    assert (diag.span.line, diag.span.column) == (11, 7)


def test_yaml_exits_must_be_lists_of_steps() -> None:
    """`accepted:` holding a mapping is a shape error (JD105) at its line."""
    result = compile_source(
        YAML.replace("    accepted:\n      - exit: called\n", "    accepted: {exit: called}\n"),
        file="c.yaml",
        base_dir=EXAMPLES,
    )
    codes = [(d.code, d.span.line) for d in result.diagnostics]
    assert ("JD105", 19) in codes, codes
