"""JD801 under `parallel first`: a branch that sets a variable and then never waits ends at that
instant and wins, so no other branch can set it after; only sets that a wait may follow race."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.compiler import compile_source

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

JOURNEY = """journey paths
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_approved
set result = "none"
parallel {join} {{
  branch {{ {one} }}
  branch {{ {two} }}
}}
ticket telesales {{ result: result }}
exit done
"""


def _codes(join: str, one: str, two: str) -> list[str]:
    source = JOURNEY.format(join=join, one=one, two=two)
    return [d.code for d in compile_source(source, "p.journey", base_dir=EXAMPLES).diagnostics]


@pytest.mark.parametrize(
    ("one", "two"),
    [
        (
            'wait for card_bound within 14d  set result = "bound"',
            'wait 14d  set result = "timeout"',
        ),
        (
            'wait for card_bound within 14d { set result = "bound" } timeout { wait 1d }',
            'wait 3d  if result == "none" { set result = "late" }',
        ),
        ('wait 1d  set result = "early"  wait 5d', 'wait 2d  set result = "last"'),
    ],
)
def test_first_accepts_sets_that_end_their_branch(one: str, two: str) -> None:
    """The winner's value is the one kept: sets no wait follows in at least one of the two
    branches are accepted under `parallel first`."""
    assert _codes("first", one, two) == []


@pytest.mark.parametrize(
    ("join", "one", "two"),
    [
        ("first", 'wait 1d  set result = "a"  wait 5d', 'wait 2d  set result = "b"  wait 1d'),
        (
            "first",
            'repeat max 3 { wait 1d  set result = "a" }',
            'repeat max 2 { wait 2d  set result = "b" }',
        ),
        ("all", 'wait 1d  set result = "a"', 'wait 2d  set result = "b"'),
    ],
)
def test_sets_that_can_interleave_are_refused(join: str, one: str, two: str) -> None:
    """Two branches that both go on waiting after a set (or any two under `parallel all`) could
    interleave their sets: JD801."""
    assert _codes(join, one, two) == ["JD801"]


BOUND = """journey bound_names
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_approved
parallel {join} {{
  branch {{
    wait for transaction as tx within 5d {{
      wait 1d
      ticket telesales {{ amount: tx.amount, merchant: tx.merchant }}
    }}
  }}
  branch {{
    wait for card_bound as {name} within 5d {{ tag bound }}
  }}
}}
exit done
"""


def test_an_event_name_given_by_two_branches_is_refused() -> None:
    """The fields of a `wait for … as tx` are kept like variables: a second branch's `as tx`
    would replace them while the first still reads `tx.amount` (the ticket went out with
    nulls), so it is JD801 at the second name."""
    source = BOUND.format(join="all", name="tx")
    result = compile_source(source, "b.journey", base_dir=EXAMPLES)
    found = [(d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics]
    assert found == [
        (
            "JD801",
            14,
            28,
            "the event name 'tx' is given by branch 1 and branch 2 of this parallel block: one "
            "branch's event would replace the other's, and `tx.FIELD` read the wrong one",
        )
    ]


@pytest.mark.parametrize(("join", "name"), [("all", "bound"), ("first", "tx")])
def test_event_names_that_cannot_interleave_are_accepted(join: str, name: str) -> None:
    """Names of their own are fine; under `parallel first` a branch whose wake ends it wins, so
    it cannot replace the event the other reads."""
    source = BOUND.format(join=join, name=name)
    assert compile_source(source, "b.journey", base_dir=EXAMPLES).diagnostics == []


def test_a_round_name_given_by_two_branches_is_refused() -> None:
    """Two branches' `repeat as round` counted one round number between them (each ran two of
    its three rounds, the rounds read 1, 2, 3, 4): JD801 at the second name."""
    source = JOURNEY.format(
        join="all",
        one="repeat as round max 3 { wait 1d  tag a }",
        two="repeat as round max 3 { wait 36h  tag b }",
    )
    result = compile_source(source, "p.journey", base_dir=EXAMPLES)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (
            "JD801",
            "the round number 'round' is named by branch 1 and branch 2 of this parallel block: "
            "their repeats would count the same rounds",
        )
    ]
    renamed = source.replace("repeat as round max 3 { wait 36h", "repeat as turn max 3 { wait 36h")
    assert compile_source(renamed, "p.journey", base_dir=EXAMPLES).diagnostics == []


def test_a_decision_answer_given_by_two_branches_is_refused() -> None:
    """A `decide` sets its variable as a `set` does: two branches deciding into one variable,
    one reading it after a wait, could read the other's answer (JD801)."""
    ask = "decide ok = kyc.is_current(customer: customer_id) retry 0"
    source = JOURNEY.format(
        join="all",
        one=f"wait 1d  {ask}  wait 2d  ticket telesales {{ ok: ok }}",
        two=f"wait 2d  {ask}",
    ).replace("ticket telesales { result: result }\n", "")
    result = compile_source(source, "p.journey", base_dir=EXAMPLES)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (
            "JD801",
            "variable 'ok' is set by branch 1 and branch 2 of this parallel block: which value "
            "would be kept depends on timing",
        )
    ]


@pytest.mark.parametrize(
    "one",
    [
        'wait 1d  exit with "done"',
        "wait for card_bound within 1d { exit done } timeout { exit done }",
        "wait for card_bound { exit done }",
        "wait first within 1d { on card_bound { exit done } on cancel_request { exit done } "
        "timeout { exit done } }",
        "wait 1d  split { 50% { exit done } 50% { exit done } }",
    ],
)
def test_a_branch_that_always_exits_another_way_cannot_join(one: str) -> None:
    """`exit with`, a wait whose every outcome exits (without a timeout it goes on only by its
    event) and a split whose every arm exits end the journey as `exit` does: under `parallel
    all` the join can never complete (JD803)."""
    assert "JD803" in _codes("all", one, "wait 2d")


def test_a_last_branch_of_first_that_never_waits_is_refused() -> None:
    """Under `parallel first`, a last branch that never waits ends at the fork and wins, so the
    branches before it never get past their first wait: JD802, as for an earlier one."""
    source = JOURNEY.format(join="first", one="wait 1d  tag reminded", two="tag skipped")
    result = compile_source(source, "p.journey", base_dir=EXAMPLES)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        (
            "JD802",
            "branch 2 never waits: it ends at once and wins, so the branches before it are "
            "cancelled at their first wait and never get past it",
        )
    ]
