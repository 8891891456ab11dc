"""`split per entry`: a draw per entry (and per pass of a loop) instead of per customer, in both
spellings, deterministic (the same events give the same arms), dealt in its proportions."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.compiler import compile_source
from tests.runtime.scenario import EXAMPLES, compile_journey, local, profile, run, txn

PER_ENTRY = """
journey per_entry
uses events "events.yaml"
uses templates "templates.yaml"
outcomes a, b
entry on transaction
  reentry always
pick: split per entry {
  50% { exit a }
  50% { exit b }
}
"""
PER_ENTRY_YAML = """
journey: per_entry
uses: {events: events.yaml, templates: templates.yaml}
outcomes: [a, b]
entry: {event: transaction, reentry: always}
steps:
  - id: pick
    split:
      - {weight: 50%, steps: [exit: a]}
      - {weight: 50%, steps: [exit: b]}
    draw: per_entry
"""
START = local("2026-03-02 08:00")


def _arms(journey_text: str, customers: list[str], entries: int) -> dict[str, list[str]]:
    """Each customer's outcome per entry, for ``entries`` purchases an hour apart."""
    r = run(
        [compile_journey(journey_text)],
        [profile(c) for c in customers],
        [txn(c, START + timedelta(hours=h), 100_000) for c in customers for h in range(entries)],
        start=START,
        horizon=START + timedelta(hours=entries + 1),
    )
    return {c: [str(outcome) for _, outcome in r.outcomes(c)] for c in customers}


def test_both_spellings_give_the_same_graph_with_the_draw_named() -> None:
    """`split per entry` and `draw: per_entry` compile cleanly to one graph, `"draw": "entry"`;
    a split per customer keeps its graph bytes (no `draw` key)."""
    dsl = compile_source(PER_ENTRY, "p.journey", base_dir=EXAMPLES)
    yml = compile_source(PER_ENTRY_YAML, "p.yaml", base_dir=EXAMPLES)
    assert dsl.diagnostics == []
    assert yml.diagnostics == []
    assert dsl.journey is not None
    assert yml.journey is not None
    assert dsl.journey.to_json() == yml.journey.to_json()
    assert dsl.journey.to_json()["nodes"][0]["draw"] == "entry"
    plain = compile_source(PER_ENTRY.replace(" per entry", ""), "p.journey", base_dir=EXAMPLES)
    assert plain.journey is not None
    assert "draw" not in plain.journey.to_json()["nodes"][0]


def test_a_customer_draws_anew_on_each_entry_but_not_per_customer() -> None:
    """Twelve entries of one customer: per entry, both arms come up; per customer, always one."""
    per_entry = _arms(PER_ENTRY, ["c1"], 12)["c1"]
    per_customer = _arms(PER_ENTRY.replace(" per entry", ""), ["c1"], 12)["c1"]
    assert set(per_entry) == {"a", "b"}
    assert len(set(per_customer)) == 1


def test_entries_are_dealt_in_the_given_proportions() -> None:
    """1,000 entries (10 customers, 100 purchases each): each arm gets half, within 6 points
    (the draw is a fixed hash, so this is not flaky)."""
    arms = _arms(PER_ENTRY, [f"c{i}" for i in range(10)], 100)
    counts = Counter(a for outcomes in arms.values() for a in outcomes)
    assert sum(counts.values()) == 1000
    assert all(440 <= n <= 560 for n in counts.values()), counts


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.from_regex(r"[a-z][a-z0-9]{0,8}", fullmatch=True), min_size=1, max_size=3),
    st.integers(1, 6),
)
def test_the_same_events_give_the_same_draws(customers: list[str], entries: int) -> None:
    """Determinism: two runs of the same purchases put every entry in the same arm."""
    customers = sorted(set(customers))
    assert _arms(PER_ENTRY, customers, entries) == _arms(PER_ENTRY, customers, entries)


LOOP = """
journey loop_draws
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
repeat as round max 8 {
  wait 1d
  split per entry {
    50% { tag arm_a }
    50% { untag arm_a }
  }
}
"""


def test_a_split_in_a_loop_draws_anew_on_each_pass() -> None:
    """Eight rounds of one instance: the per-entry split takes both arms across the rounds."""
    r = run(
        [compile_journey(LOOP)],
        [profile("c1")],
        [
            {
                "customer_id": "c1",
                "type": "card_issued",
                "at": START.isoformat(),
                "data": {"card_id": "k", "product": "gold"},
            }
        ],
        start=START,
        horizon=START + timedelta(days=10),
    )
    tags = [a["remove"] for a in r.actions if a["kind"] == "update" and "tag" in a]
    assert len(tags) == 8
    assert set(tags) == {True, False}
