"""Split weights with two decimals: accepted in both spellings, adding up to 100 without a
bogus JD505, and dealt in their proportions; a split of whole percentages deals every customer
to the same arm as the whole-percent draw always did."""

from __future__ import annotations

import hashlib
from collections import Counter
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from journeydsl.compiler import compile_source
from journeydsl.runtime.interpreter import fine_bucket
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, local, profile, run

THIRDS = """
journey thirds
uses events "events.yaml"
uses templates "templates.yaml"
outcomes a, b, c
entry on card_issued
test: split {
  33.33% { exit a }
  33.33% { exit b }
  33.34% { exit c }
}
"""
THIRDS_YAML = """
journey: thirds
uses: {events: events.yaml, templates: templates.yaml}
outcomes: [a, b, c]
entry: {event: card_issued}
steps:
  - id: test
    split:
      - weight: 33.33%
        steps: [{exit: a}]
      - weight: 33.33%
        steps: [{exit: b}]
      - weight: 33.34%
        steps: [{exit: c}]
"""


def test_two_decimal_weights_compile_cleanly_in_both_spellings() -> None:
    """33.33 / 33.33 / 33.34 is no error in DSL or YAML, and both give the same graph."""
    dsl = compile_source(THIRDS, "thirds.journey", base_dir=EXAMPLES)
    yml = compile_source(THIRDS_YAML, "thirds.yaml", base_dir=EXAMPLES)
    assert [d.code for d in dsl.diagnostics] == []
    assert [d.code for d in yml.diagnostics] == []
    assert dsl.journey is not None
    assert yml.journey is not None
    assert dsl.journey.to_json() == yml.journey.to_json()
    arms = dsl.journey.to_json()["nodes"][0]["arms"]
    assert [a["weight"] for a in arms] == [33.33, 33.33, 33.34]


def test_weights_that_miss_100_by_a_hundredth_are_jd505() -> None:
    """33.33 * 3 = 99.99: JD505 says so exactly."""
    bad = THIRDS.replace("33.34%", "33.33%")
    result = compile_source(bad, "bad.journey", base_dir=EXAMPLES)
    assert [(d.code, d.message) for d in result.diagnostics] == [
        ("JD505", "split percentages add up to 99.99%, not 100%")
    ]


def test_customers_are_dealt_in_the_given_proportions() -> None:
    """3,000 customers through thirds: each arm gets a third, give or take 5 points."""
    start = local("2026-01-05 09:00")
    people = [f"c{i}" for i in range(3000)]
    r = run(
        [compile_journey(THIRDS)],
        [profile(c) for c in people],
        [ev(c, "card_issued", start, card_id="k", product="p") for c in people],
        start=start,
    )
    counts = Counter(outcome for c in people for _, outcome in r.outcomes(c))
    assert set(counts) == {"a", "b", "c"}
    assert all(850 <= n <= 1150 for n in counts.values()), counts


@given(st.text(min_size=1, max_size=20), st.lists(st.integers(1, 97), min_size=1, max_size=3))
def test_whole_percent_splits_deal_as_the_whole_percent_draw(customer: str, raw: list[int]) -> None:
    """For whole-percent weights, the finer draw picks the arm the 0-99 draw picks."""
    weights = [w for w in raw if w]
    total = sum(weights)
    if total > 100:
        return
    weights.append(100 - total)
    number = int.from_bytes(hashlib.sha256(f"j\x1fn\x1f{customer}".encode()).digest()[:8], "big")
    old = number % 100
    whole, fine = fine_bucket("j", "n", customer)
    assert whole == old

    def arm(x: int, scale: int) -> int:
        upto = 0
        for i, w in enumerate(weights):
            upto += int(Decimal(w) * scale)
            if x < upto:
                return i
        return -1

    assert arm(fine, 100) == arm(old, 1)
