"""`wait for EVENT as NAME`: the event that ended the wait is read as NAME.FIELD in the `where`
(the event being matched) and in the steps the wait runs (the one that matched), typed from the
catalog; a later wake replaces the fields of an earlier one."""

from __future__ import annotations

from journeydsl.compiler import compile_source
from tests.runtime.scenario import EXAMPLES, compile_journey, ev, local, profile, run, txn

ISSUED = local("2026-03-02 09:00")
HORIZON = local("2026-03-20 00:00")

BIG = """
journey big_purchase
uses events "events.yaml"
uses templates "templates.yaml"
outcomes spent, quiet
entry on card_issued
wait for transaction as tx where tx.amount >= 1_000_000 VND within 7d {
  ticket telesales { merchant: tx.merchant, amount: tx.amount, at: tx.at }
  exit spent
}
exit quiet
"""


def _issued() -> dict[str, object]:
    return ev("c1", "card_issued", ISSUED, card_id="k1", product="gold")


def test_the_steps_after_the_wait_read_the_event_that_ended_it() -> None:
    """A small purchase does not match; the 2,000,000 VND one ends the wait and its merchant,
    amount and time are in the ticket."""
    r = run(
        [compile_journey(BIG)],
        [profile("c1", app=True)],
        [
            _issued(),
            txn("c1", local("2026-03-03 08:00"), 50_000, "Circle K", "groceries"),
            txn("c1", local("2026-03-04 10:30"), 2_000_000, "Agoda", "travel"),
        ],
        start=ISSUED,
        horizon=HORIZON,
    )
    [ticket] = r.acts("c1")
    assert ticket[:3] == ("2026-03-04 10:30", "ticket", "telesales")
    payload = ticket[-1]
    assert payload["merchant"] == "Agoda"
    assert payload["amount"] == {"amount": "2000000", "currency": "VND"}
    assert payload["at"].startswith("2026-03-04T10:30")
    assert r.ended("c1") == [("spent", "2026-03-04 10:30")]


LOOP = """
journey merchants
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
repeat max 2 {
  wait for transaction as tx within 5d {
    ticket customer_care { merchant: tx.merchant }
  }
}
exit done
"""


def test_a_later_wake_replaces_the_fields_of_an_earlier_one() -> None:
    """In a repeat, each round's ticket names the merchant of that round's purchase."""
    r = run(
        [compile_journey(LOOP)],
        [profile("c1", app=True)],
        [
            _issued(),
            txn("c1", local("2026-03-03 08:00"), 50_000, "Circle K", "groceries"),
            txn("c1", local("2026-03-05 12:00"), 80_000, "Highlands", "dining"),
        ],
        start=ISSUED,
        horizon=HORIZON,
    )
    assert [a[-1]["merchant"] for a in r.acts("c1")] == ["Circle K", "Highlands"]


def _errors(text: str) -> list[tuple[str, int, int, str]]:
    result = compile_source(text, str(EXAMPLES / "inline.journey"))
    return [(d.code, d.span.line, d.span.column, d.message) for d in result.diagnostics]


def test_the_name_is_typed_from_the_catalog_and_only_where_the_event_is_known() -> None:
    """An unknown field is JD202 with the event's fields; the name read in the timeout block
    (no event ended the wait there) is an undefined name; `as` on a condition wait is JD105."""
    found = _errors(
        """
journey bad
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_issued
wait for transaction as tx within 7d {
  ticket telesales { shop: tx.shop }
} timeout {
  ticket telesales { merchant: tx.merchant }
}
wait for now > entered_at + 1d as late
exit done
"""
    )
    codes = [(c, line, col) for c, line, col, _ in found if c.startswith("JD")]
    assert ("JD202", 8, 28) in codes
    assert ("JD201", 10, 32) in codes
    assert ("JD105", 12, 35) in codes
    jd202 = next(m for c, _, _, m in found if c == "JD202")
    assert "event 'transaction' has no field 'shop'" in jd202
