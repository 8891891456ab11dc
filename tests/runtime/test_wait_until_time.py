"""`wait until HH:MM` always waits for a later instant: reached exactly at HH:MM it waits for the
next day's, so a loop of such waits moves a day per round and never runs its rounds at once."""

from __future__ import annotations

from datetime import UTC, datetime

from tests.runtime.scenario import compile_journey, ev, profile, run

WEEKDAY_GATE = """
journey weekday_gate
uses events "events.yaml"
uses templates "templates.yaml"
timezone "UTC"
entry on card_issued
repeat max 3 until weekday(now) <= 5 {
  wait until 00:00
}
send email welcome_activation_guide transactional { card_id: "k", product: "p" }
"""

SATURDAY = datetime(2026, 3, 7, 10, 0, tzinfo=UTC)


def test_a_loop_of_time_of_day_waits_moves_a_day_per_round() -> None:
    """Entered on Saturday 10:00Z: the first wait ends at Sunday 00:00, the second at Monday
    00:00 (not at once, "already passed"), and the message goes out on Monday."""
    r = run(
        [compile_journey(WEEKDAY_GATE)],
        [profile("c1", tz="UTC")],
        [ev("c1", "card_issued", SATURDAY, card_id="k", product="p")],
        start=SATURDAY,
    )
    (sent,) = r.channels["email"].delivered
    assert sent.at == datetime(2026, 3, 9, 0, 0, tzinfo=UTC)
    waits = [e for e in r.engine.explain("c1")[0]["log"] if e["what"] == "wait"]
    assert [w["due"] for w in waits] == ["2026-03-08T00:00:00+00:00", "2026-03-09T00:00:00+00:00"]
    assert not any(w.get("passed") for w in waits)


def test_a_time_of_day_still_to_come_today_is_waited_for_today() -> None:
    """Entered at 10:00, `wait until 18:00` ends the same day at 18:00."""
    journey = WEEKDAY_GATE.replace(
        "repeat max 3 until weekday(now) <= 5 {\n  wait until 00:00\n}", "wait until 18:00"
    )
    r = run(
        [compile_journey(journey)],
        [profile("c1", tz="UTC")],
        [ev("c1", "card_issued", SATURDAY, card_id="k", product="p")],
        start=SATURDAY,
    )
    (sent,) = r.channels["email"].delivered
    assert sent.at == datetime(2026, 3, 7, 18, 0, tzinfo=UTC)
