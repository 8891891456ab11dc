"""`entry when CONDITION`: a customer enters the moment the condition becomes true (at an
event, at a profile change the host reports, or when time alone makes it true), once while it
stays true, and again only after it was false, as the re-entry rule allows."""

from __future__ import annotations

from datetime import datetime, timedelta

from journeydsl.compiler import compile_source
from tests.runtime.scenario import (
    EXAMPLES,
    build,
    compile_journey,
    example,
    local,
    profile,
    run,
    txn,
)

T0 = local("2026-03-01 10:00")


def day(n: float) -> datetime:
    """``n`` days after T0."""
    return T0 + timedelta(days=n)


BIG_MONTH = """
journey big_month
uses events "events.yaml"
uses templates "templates.yaml"
entry when sum(transaction.amount in last 30d) >= 5_000_000 VND
  reentry always
send email fee_waiver_granted
"""
BIG_MONTH_YAML = """
journey: big_month
uses: {events: events.yaml, templates: templates.yaml}
entry:
  when: sum(transaction.amount in last 30d) >= 5_000_000 VND
  reentry: always
steps:
  - send: fee_waiver_granted
    channel: email
"""


def test_both_spellings_give_the_same_graph() -> None:
    """`entry when` and YAML `entry: {when: …}` compile cleanly to one graph, entry kind when."""
    dsl = compile_source(BIG_MONTH, "b.journey", base_dir=EXAMPLES)
    yml = compile_source(BIG_MONTH_YAML, "b.yaml", base_dir=EXAMPLES)
    assert dsl.diagnostics == []
    assert yml.diagnostics == []
    assert dsl.journey is not None
    assert yml.journey is not None
    assert dsl.journey.to_json() == yml.journey.to_json()
    assert dsl.journey.to_json()["entry"]["kind"] == "when"


def test_the_trigger_is_not_available_to_an_entry_on_change() -> None:
    """`trigger.…` in such a journey is JD212, saying why."""
    bad = BIG_MONTH.replace("send email fee_waiver_granted", "set x = trigger.card_id")
    result = compile_source(bad, "b.journey", base_dir=EXAMPLES)
    assert [(d.code, "condition becomes true" in d.message) for d in result.diagnostics] == [
        ("JD212", True)
    ]


def test_enters_once_while_true_and_again_only_after_it_was_false() -> None:
    """Crossing at day 5 enters; more spend at day 10 does not; the day-1 and day-5 purchases
    age out (false), and the crossing at day 41 enters again."""
    r = run(
        [compile_journey(BIG_MONTH)],
        [profile("c1")],
        [
            txn("c1", day(1), 3_000_000),
            txn("c1", day(5), 3_000_000),
            txn("c1", day(10), 1_000_000),
            txn("c1", day(40), 2_000_000),
            txn("c1", day(41), 3_000_000),
        ],
        start=T0,
        horizon=day(80),
    )
    assert r.entered("c1") == ["2026-03-06 10:00", "2026-04-11 10:00"]


def test_a_condition_that_turned_false_by_time_alone_enters_again_at_the_next_crossing() -> None:
    """6M on day 1 enters; it leaves the window on day 31 with no event (false); 5.5M on day 35
    is a new crossing, though the condition was true at the last event too."""
    r = run(
        [compile_journey(BIG_MONTH)],
        [profile("c1")],
        [txn("c1", day(1), 6_000_000), txn("c1", day(35), 5_500_000)],
        start=T0,
        horizon=day(80),
    )
    assert r.entered("c1") == ["2026-03-02 10:00", "2026-04-05 10:00"]


def test_reentry_once_enters_at_the_first_crossing_only() -> None:
    """The same two crossings under `reentry once`: one entry."""
    once = BIG_MONTH.replace("reentry always", "reentry once")
    r = run(
        [compile_journey(once)],
        [profile("c1")],
        [txn("c1", day(1), 6_000_000), txn("c1", day(35), 5_500_000)],
        start=T0,
        horizon=day(80),
    )
    assert r.entered("c1") == ["2026-03-02 10:00"]


GONE_QUIET = """
journey gone_quiet
uses events "events.yaml"
uses templates "templates.yaml"
entry when has(transaction in last 60d) and not has(transaction in last 7d)
  reentry always
send email reactivation_offer marketing { offer: "come_back" }
"""


def test_time_alone_makes_it_true_and_it_enters_at_that_instant() -> None:
    """Last purchase on day 1 at 10:00: the customer enters on day 8 at 10:00 (and a second
    after, when the purchase has left the 7-day window), not at a daily evaluation; a purchase
    on day 10 makes it false, and day 17 true again."""
    r = run(
        [compile_journey(GONE_QUIET)],
        [profile("c1"), profile("c2")],
        [txn("c1", day(1), 100_000), txn("c1", day(10), 100_000)],
        start=T0,
        horizon=day(20),
    )
    assert r.entered("c1") == ["2026-03-09 10:00", "2026-03-18 10:00"]
    assert r.entered("c2") == []  # (no purchase in 60 days: false from the start)


VIP = """
journey vip_welcome
uses events "events.yaml"
uses templates "templates.yaml"
entry when profile.segment == "vip"
  reentry always
send email new_cardholder_promotions marketing
"""


def test_a_profile_change_the_host_reports_enters_at_once() -> None:
    """`Engine.profile_changed`: becoming vip enters; staying vip does not; mass then vip again
    enters again. A customer already vip when the engine starts enters then."""
    r = build(
        [compile_journey(VIP)],
        [profile("c1", segment="mass"), profile("c2", segment="vip")],
        start=T0,
    )
    r.advance(T0)  # the first evaluation of every customer
    assert r.entered("c2") == ["2026-03-01 10:00"]
    steps = [("vip", 1), ("vip", 0), ("mass", 0), ("vip", 1)]
    for n, (segment, entered) in enumerate(steps, 1):
        r.clock.set(day(n))
        r.profiles.update("c1", "segment", segment)
        assert len(r.engine.profile_changed("c1")) == entered, (n, segment)
    assert r.entered("c1") == ["2026-03-02 10:00", "2026-03-05 10:00"]


def test_the_instant_to_look_again_survives_a_restart() -> None:
    """An engine that stops after day 1's purchase and a new one over the same stores: the
    customer still enters on day 8 at 10:00 (the instant is kept in the store)."""
    journey = compile_journey(GONE_QUIET)
    first = build([journey], [profile("c1")], start=T0)
    first.feed([txn("c1", day(1), 100_000)])
    second = build(
        [journey],
        (),
        start=day(2),
        state=first.state,
        events=first.events,
        profile_store=first.profiles,
    )
    second.advance(day(20))
    assert second.entered("c1") == ["2026-03-09 10:00"]


def test_the_example_enters_at_the_crossing_purchase() -> None:
    """examples/big_spender_month: 3M then 3M: entered at the second purchase, one e-mail."""
    r = run(
        [example("big_spender_month")],
        [profile("c1")],
        [txn("c1", day(1), 3_000_000), txn("c1", day(4), 3_000_000)],
        start=T0,
        horizon=day(20),
    )
    assert r.acts("c1") == [("2026-03-05 10:00", "send", "email", "fee_waiver_granted", {})]


def test_fmt_round_trips_between_the_spellings() -> None:
    """DSL → YAML → DSL gives back the canonical text, and both parse to one AST."""
    from journeydsl.syntax.parser import parse_journey
    from journeydsl.syntax.printer import print_dsl, print_yaml
    from journeydsl.syntax.yaml_loader import load_yaml_journey

    dsl, _ = parse_journey(BIG_MONTH, "b.journey")
    assert dsl is not None
    yml, diags = load_yaml_journey(print_yaml(dsl), "b.yaml")
    assert diags == []
    assert yml == dsl
    assert yml is not None
    assert print_dsl(yml) == print_dsl(dsl)
    assert "entry when sum(transaction.amount in last 30d) >= 5_000_000 VND" in print_dsl(dsl)
