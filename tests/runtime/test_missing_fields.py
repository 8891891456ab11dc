"""A field the event did not carry reads as absent, in every evaluator: a comparison with it is
false (``!=`` true), never an exception. And a condition that does raise (arithmetic on such a
field) never reaches the host: a wait's or a goal's ends its instance with the outcome
``error``, an entry's refuses the entry; the engine goes on with the next event. (And an event
of a type no catalog declares is quarantined, not taken silently.)"""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.catalogs import example_catalogs_in
from tests.runtime.scenario import compile_journey, ev, local, profile, txn
from tests.runtime.scenario import run as scenario
from tests.runtime.test_run_cli import jsonl

T0 = local("2026-03-01 10:00")

HEAD = """
uses events "events.yaml"
uses templates "templates.yaml"
"""


@pytest.fixture(params=["generated", "closures"])
def evaluator(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both expression evaluators: the generated functions and the closures."""
    if request.param == "closures":
        monkeypatch.setenv("JOURNEYDSL_EXPRESSIONS", "closures")
    else:
        monkeypatch.delenv("JOURNEYDSL_EXPRESSIONS", raising=False)
    return str(request.param)


def _journey(name: str, body: str) -> str:
    return f"journey {name}\n{HEAD}{body}"


def _spend(customer: str, **data: object) -> dict[str, object]:
    return ev(customer, "transaction", T0, currency="VND", **data)


@pytest.mark.parametrize(
    ("condition", "enters"),
    [
        ("transaction.amount >= 100_000 VND", False),
        ("transaction.amount < 100_000 VND", False),
        ("transaction.amount == 100_000 VND", False),
        ("transaction.amount != 100_000 VND", True),
        ("100_000 VND <= transaction.amount", False),
        ('transaction.merchant >= "A"', False),
        ('transaction.merchant != "Shopee"', True),
    ],
)
def test_an_entry_where_on_a_missing_field_compares_as_absent(
    evaluator: str, condition: str, enters: bool
) -> None:
    """An event without the field: ordering and equality are false, `!=` is true; the event
    with the field is judged on its value; nothing raises."""
    journey = compile_journey(
        _journey("big", f"entry on transaction where {condition}\ntag big_spender\n")
    )
    events = [_spend("c1"), txn("c2", T0, 200_000, category="travel")]
    r = scenario([journey], [profile("c1"), profile("c2")], events, start=T0)
    assert (r.entered("c1") != []) is enters
    assert r.engine.failures == 0


def test_a_step_comparing_a_missing_trigger_field_takes_the_else_branch(evaluator: str) -> None:
    """`if trigger.amount >= …` on an entry event without the amount: false, so the else
    block runs and the instance ends normally, not with outcome error."""
    body = (
        "outcomes big, small\nentry on transaction\n"
        "if trigger.amount >= 100_000 VND { exit big } else { exit small }\n"
    )
    r = scenario(
        [compile_journey(_journey("tiers", body))], [profile("c1")], [_spend("c1")], start=T0
    )
    assert r.outcomes("c1") == [("ended", "small")]


WAIT = """
outcomes spent, quiet
entry on card_issued
wait for transaction as t where t.amount + 1 VND > 100_000 VND within 7d {
  exit spent
}
exit quiet
"""


def test_a_wait_where_that_raises_ends_the_instance_with_error_not_the_host(
    evaluator: str,
) -> None:
    """Arithmetic on a field the transaction lacks: that customer's instance ends with outcome
    error (counted, in its log); the next customer's transaction still wakes theirs."""
    journey = compile_journey(_journey("waiting", WAIT))
    issued = [ev(c, "card_issued", T0, card_id=f"k{c}", product="gold") for c in ("c1", "c2")]
    later = T0.replace(hour=12)
    events = [*issued, ev("c1", "transaction", later, currency="VND"), txn("c2", later, 500_000)]
    r = scenario([journey], [profile("c1"), profile("c2")], events, start=T0)
    assert r.outcomes("c1") == [("ended", "error")]
    assert r.outcomes("c2") == [("ended", "spent")]
    assert r.engine.failures == 1
    (error,) = [e for e in r.engine.explain("c1")[0]["log"] if e["what"] == "error"]
    assert "TypeError" in error["reason"]


def test_an_entry_where_that_raises_refuses_the_entry_and_the_engine_goes_on(
    evaluator: str,
) -> None:
    """An entry condition that raises on one event: no instance for it, no exception out of
    ingest; the next event enters."""
    body = "entry on transaction where transaction.amount + 1 VND > 5 VND\ntag spender\n"
    journey = compile_journey(_journey("spender", body))
    events = [_spend("c1"), txn("c2", T0, 200_000)]
    r = scenario([journey], [profile("c1"), profile("c2")], events, start=T0)
    assert (r.entered("c1"), len(r.entered("c2"))) == ([], 1)


def test_run_takes_the_events_after_one_without_the_compared_field(tmp_path: Path) -> None:
    """`journeydsl run`: an event without the amount neither crashes the run nor blocks the
    next one; the run exits 0 and the customer with the amount enters."""
    (tmp_path / "big.journey").write_text(
        _journey(
            "big",
            "entry on transaction where transaction.amount >= 100_000 VND\n"
            "send email welcome_activation_guide transactional "
            '{ card_id: "k", product: "gold" }\n',
        ),
        encoding="utf-8",
    )
    example_catalogs_in(tmp_path)
    events = jsonl(tmp_path / "events.jsonl", [_spend("c1"), txn("c2", T0, 200_000)])
    profiles = jsonl(
        tmp_path / "profiles.jsonl",
        [
            {"customer_id": c, "attributes": {}, "consent": {"email": True}, "timezone": "UTC"}
            for c in ("c1", "c2")
        ],
    )
    code = main(
        [
            "run",
            str(tmp_path / "big.journey"),
            "--db",
            str(tmp_path / "state.db"),
            "--events",
            str(events),
            "--profiles",
            str(profiles),
            "--actions",
            str(tmp_path / "actions.jsonl"),
        ]
    )
    assert code == 0
    lines = (tmp_path / "actions.jsonl").read_text(encoding="utf-8").splitlines()
    assert [line for line in lines if '"c2"' in line]
    assert not [line for line in lines if '"c1"' in line]


def test_an_event_of_a_type_no_catalog_declares_is_quarantined_with_the_close_name() -> None:
    """formats.md: a line that does not match the catalog, an unknown event type included, is
    quarantined with its reason (the close name when there is one); the next event is taken."""
    journey = compile_journey(_journey("big", "entry on card_issued\ntag issued\n"))
    typo = ev("c1", "card_isued", T0, card_id="k1", product="gold")
    issued = ev("c2", "card_issued", T0, card_id="k2", product="gold")
    r = scenario([journey], [profile("c1"), profile("c2")], [typo, issued], start=T0)
    assert r.engine.ingest(typo).quarantined == (
        "unknown event type 'card_isued': the events catalog does not declare it "
        "(did you mean 'card_issued'?)"
    )
    assert (r.entered("c1"), len(r.entered("c2"))) == ([], 1)
