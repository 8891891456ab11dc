"""`wait first`: the first of several events or conditions wins, at the same instant the branch
written first; a condition branch is re-checked when time alone can make it true; the timeout
runs when nothing happened; `explain` says which branch won and why."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, example, local, profile, run, txn

ISSUED = local("2026-03-02 09:00")


def _issued(customer: str = "c1") -> dict[str, object]:
    return ev(customer, "card_issued", ISSUED, card_id="k1", product="gold")


def test_the_first_event_wins_and_later_ones_change_nothing() -> None:
    """Activation on day 2 wins; a travel purchase an hour later sends nothing more."""
    r = run(
        [example("first_response")],
        [profile("c1", app=True)],
        [
            _issued(),
            ev("c1", "card_activated", local("2026-03-04 10:00"), card_id="k1"),
            txn("c1", local("2026-03-04 11:00"), 2_000_000, "Agoda", "travel"),
        ],
        start=ISSUED,
        horizon=local("2026-03-20 00:00"),
    )
    assert r.acts("c1") == [("2026-03-04 10:00", "send", "push", "first_spend_nudge", {})]
    assert r.ended("c1") == [("activated", "2026-03-04 10:00")]


def test_an_event_that_satisfies_two_branches_takes_the_one_written_first() -> None:
    """A 2,000,000 VND travel purchase matches the travel branch and makes the spend condition
    true at the same instant: the travel branch, written first, wins."""
    r = run(
        [example("first_response")],
        [profile("c1", app=True)],
        [_issued(), txn("c1", local("2026-03-03 08:30"), 2_000_000, "Agoda", "travel")],
        start=ISSUED,
        horizon=local("2026-03-20 00:00"),
    )
    assert r.ended("c1") == [("traveller", "2026-03-03 08:30")]


SWAPPED = """
journey swapped
uses events "events.yaml"
uses templates "templates.yaml"
outcomes traveller, big_spender, no_response
entry on card_issued
wait first within 7d {
  when sum(transaction.amount since entry) >= 1_000_000 VND { exit big_spender }
  on transaction where transaction.category == "travel" { exit traveller }
  timeout { exit no_response }
}
"""


def test_written_order_decides_a_tie_whichever_kind_comes_first() -> None:
    """The same purchase with the condition written first: the condition branch wins."""
    r = run(
        [compile_journey(SWAPPED)],
        [profile("c1", app=True)],
        [_issued(), txn("c1", local("2026-03-03 08:30"), 2_000_000, "Agoda", "travel")],
        start=ISSUED,
        horizon=local("2026-03-20 00:00"),
    )
    assert r.ended("c1") == [("big_spender", "2026-03-03 08:30")]


def test_a_condition_that_adds_up_over_events_wins_at_the_event_that_makes_it_true() -> None:
    """600,000 then 500,000 VND of groceries: the spend branch wins at the second purchase."""
    r = run(
        [example("first_response")],
        [profile("c1", app=True)],
        [
            _issued(),
            txn("c1", local("2026-03-03 18:00"), 600_000, "Co.opmart", "groceries"),
            txn("c1", local("2026-03-05 19:00"), 500_000, "Co.opmart", "groceries"),
        ],
        start=ISSUED,
        horizon=local("2026-03-20 00:00"),
    )
    assert r.acts("c1") == [("2026-03-05 19:00", "send", "email", "fee_waiver_granted", {})]
    assert r.ended("c1") == [("big_spender", "2026-03-05 19:00")]


def test_nothing_within_the_timeout_runs_the_timeout_branch() -> None:
    """No event for 7 days: the reminder goes out at entry + 7d."""
    r = run(
        [example("first_response")],
        [profile("c1", app=True)],
        [_issued()],
        start=ISSUED,
        horizon=local("2026-03-20 00:00"),
    )
    assert r.acts("c1") == [
        ("2026-03-09 09:00", "send", "email", "activation_reminder", {"round": 1})
    ]
    assert r.ended("c1") == [("no_response", "2026-03-09 09:00")]


QUIET = """
journey quiet
uses events "events.yaml"
uses templates "templates.yaml"
outcomes activated, quiet, no_response
entry on card_issued
wait first within 10d {
  on card_activated { exit activated }
  when not has(transaction in last 2d) { exit quiet }
  timeout { exit no_response }
}
"""


def test_a_condition_branch_is_rechecked_when_time_alone_makes_it_true() -> None:
    """A purchase the day before entry keeps `not has(transaction in last 2d)` false; it turns
    true when the purchase leaves the window, with no event, and wins then."""
    bought = local("2026-03-01 12:00")
    r = run(
        [compile_journey(QUIET)],
        [profile("c1", app=True)],
        [_issued()],
        start=ISSUED,
        history=[txn("c1", bought, 300_000)],
        horizon=local("2026-03-20 00:00"),
    )
    assert r.ended("c1") == [("quiet", "2026-03-03 12:00")]


def test_an_event_before_the_recheck_still_wins() -> None:
    """Activation before the window empties: the event branch wins, the re-check is dropped."""
    r = run(
        [compile_journey(QUIET)],
        [profile("c1", app=True)],
        [_issued(), ev("c1", "card_activated", local("2026-03-02 15:00"), card_id="k1")],
        start=ISSUED,
        history=[txn("c1", local("2026-03-01 12:00"), 300_000)],
        horizon=local("2026-03-20 00:00"),
    )
    assert r.ended("c1") == [("activated", "2026-03-02 15:00")]


def test_explain_says_which_branch_won_and_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`journeydsl explain` names the winning branch, its number, and the event that woke it."""
    events = tmp_path / "events.jsonl"
    events.write_text(
        "\n".join(
            json.dumps(e)
            for e in (
                _issued("c1"),
                txn("c1", local("2026-03-03 08:30"), 2_000_000, "Agoda", "travel"),
            )
        )
        + "\n",
        encoding="utf-8",
    )
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text(
        json.dumps({"customer_id": "c1", "attributes": {"has_digital_app": True}}) + "\n",
        encoding="utf-8",
    )
    code = main(
        [
            "explain",
            str(EXAMPLES / "first_response.journey"),
            "--events",
            str(events),
            "--profiles",
            str(profiles),
            "--customer",
            "c1",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        "wait for the first of: on card_activated, on transaction where "
        'transaction.category == "travel", when sum(transaction.amount since entry) >= '
        "1_000_000 VND; until 2026-03-09 09:00" in out
    )
    assert (
        'woke on transaction: branch 2 (on transaction where transaction.category == "travel") '
        "won, the first to happen" in out
    )


def test_the_graph_draws_one_labelled_edge_per_branch_and_the_timeout(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`graph` (Mermaid) has an edge per branch, labelled as written, then `timeout`; the JSON
    graphs of the DSL and YAML spellings of the example are equal."""
    assert main(["graph", str(EXAMPLES / "first_response.journey")]) == 0
    mermaid = capsys.readouterr().out
    assert "n_race -->|on card_activated| n_push_first_spend_nudge" in mermaid
    assert (
        "n_race -->|when sum(transaction.amount since entry) >= 1_000_000 VND| "
        "n_email_fee_waiver_granted" in mermaid
    )
    assert "n_race -->|timeout| n_email_activation_reminder" in mermaid
    graphs = []
    for spelling in ("journey", "yaml"):
        assert (
            main(["graph", "--format", "json", str(EXAMPLES / f"first_response.{spelling}")]) == 0
        )
        graphs.append(json.loads(capsys.readouterr().out))
    assert graphs[0] == graphs[1]
    race = graphs[0]["nodes"][0]
    assert [b["event"] for b in race["branches"]] == ["card_activated", "transaction", None]
    assert race["timeout_mode"] == "within"
