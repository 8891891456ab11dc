"""The tight message budget (`check --stats`): once-guards in loops count once, deadlines from
entry keep messages apart, history checks cap a window across re-entries, and the figures for
the two programmes of issue 16 (examples/card_campaign, card_lifecycle, lifecycle_low_*) are
within one message of the most a customer really receives, found by running the engine."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from journeydsl import ir
from journeydsl.budget_windows import WINDOWS, window_figures
from journeydsl.compiler import compile_source
from tests.runtime.scenario import EXAMPLES, ev, example, local, profile, run, txn

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "fixtures" / "budget" / "programmes.txt"
PROGRAMMES = (
    "card_campaign",
    "card_lifecycle",
    "lifecycle_low_frequency",
    "lifecycle_low_utilisation",
)

FLAGGED = """
journey flagged
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on card_activated
set reminded = false
repeat max 12 {
  wait 5d
  if not reminded and count(transaction since entry) == 0 {
    send push first_spend_nudge marketing
    {reset}set reminded = true
  }
  send email weekly_spend_digest { spent: 0 VND }
}
exit done
"""


def _compile(text: str) -> Any:
    result = compile_source(text, "inline.journey", base_dir=EXAMPLES)
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result


def test_a_send_behind_a_flag_the_same_path_sets_counts_once_in_a_loop() -> None:
    """`if not reminded { send …; set reminded = true }` in a 12-round repeat: one push, and
    the unguarded digest twelve times."""
    assert _compile(FLAGGED.replace("{reset}", "")).budget == {
        "email": 12,
        "push": 1,
        "total": 13,
    }


def test_a_flag_set_back_inside_the_loop_is_no_once_guard() -> None:
    """Setting the flag to false in the loop lets the guard pass again: twelve pushes."""
    text = FLAGGED.replace("{reset}", "set reminded = false\n    ")
    assert _compile(text).budget["push"] == 12


def test_deadlines_from_entry_keep_the_push_and_the_email_apart() -> None:
    """card_lifecycle's push (day 30) and email (day 90) never fall in one window of 7 days,
    though each has a deadline, not a fixed wait, in front of it."""
    figures = window_figures(example("card_lifecycle"), ["email", "push"])
    assert figures.figures == {
        "24h": {"email": 1, "push": 1, "total": 1},
        "7d": {"email": 1, "push": 1, "total": 1},
    }
    assert figures.loose == []


def test_a_history_check_caps_a_window_across_daily_entries() -> None:
    """Entered every day, the low-frequency nudge goes out at most once in 7 days because of
    its `sent(… in last 14d) == 0` check; without the check it could go out every day."""
    journey = example("lifecycle_low_frequency")
    assert window_figures(journey, ["push"]).figures["7d"] == {"push": 1, "total": 1}
    text = (EXAMPLES / "lifecycle_low_frequency.journey").read_text(encoding="utf-8")
    unguarded = _compile(text.replace("sent(low_frequency_nudge in last 14d) == 0 and ", ""))
    figures = window_figures(unguarded.journey, ["push"])
    assert figures.figures["7d"] == {"push": 7, "total": 7}
    assert figures.loose == []


def test_re_entry_on_every_event_is_reported_per_instance_and_loose() -> None:
    """A journey entered on every transaction has no bound per customer: the figure is per
    instance, and the reason says so."""
    text = """
journey every_purchase
uses events "events.yaml"
uses templates "templates.yaml"
outcomes done
entry on transaction
  reentry always
send push first_spend_nudge marketing
exit done
"""
    figures = window_figures(_compile(text).journey, ["push"])
    assert figures.figures["24h"] == {"push": 1, "total": 1}
    assert figures.loose == ["per instance: re-entry always on event: one instance per entry"]


def test_spaced_entries_with_an_unbounded_send_say_why_the_figure_is_per_instance() -> None:
    """`reentry after 30d` with a send after a loop that waits: the loose reason names the send's
    line and why it has no latest time (it was an empty "per instance: ")."""
    text = """
journey spaced
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated reentry after 30d
repeat max 3 until has(transaction since entry) {
  wait 1d
  send email weekly_spend_digest { spent: 0 VND }
}
"""
    figures = window_figures(_compile(text).journey, ["email"])
    assert figures.figures["7d"] == {"email": 3, "total": 3}
    assert figures.loose == [
        "per instance: instances can overlap, and the send at line 8 has no latest time after "
        "entry (a wait of no fixed length, or a loop that waits, comes before it)"
    ]


def test_check_stats_prints_the_golden_figures_of_the_two_programmes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`journeydsl check --stats` on the programmes' journeys prints the golden table (in both
    spellings the same figures)."""
    from journeydsl.cli import main

    files = [f"examples/{n}{s}" for n in PROGRAMMES for s in (".journey", ".yaml")]
    import os

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        code = main(["check", "--stats", *files])
    finally:
        os.chdir(cwd)
    out = capsys.readouterr().out
    assert code == 0
    if os.environ.get("UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(out, encoding="utf-8")
    assert out == GOLDEN.read_text(encoding="utf-8")


# ---------------------------------------------------------------- the true maximum, by running


def _most(sends: Sequence[tuple[datetime, str]], channel: str, window: timedelta | None) -> int:
    """The most of ``sends`` on ``channel`` (or any) in a window (None: ever)."""
    times = sorted(t for t, c in sends if channel in ("total", c))
    if window is None:
        return len(times)
    return max((sum(1 for u in times if t <= u < t + window) for t in times), default=0)


def _sends(r: Any, customer: str) -> list[tuple[datetime, str]]:
    return [
        (a["at"], a["channel"])
        for a in r.actions
        if a["kind"] == "send" and a["customer_id"] == customer
    ]


def _compare(
    journey: ir.Journey, runs: list[list[tuple[datetime, str]]], *, one_entry: bool = True
) -> None:
    """Every figure is at least the most seen in the runs, and at most one above it (the
    budget of a whole instance only when the runs enter the customer once)."""
    budget = compile_source(
        (EXAMPLES / f"{journey.id}.journey").read_text(encoding="utf-8"),
        str(EXAMPLES / f"{journey.id}.journey"),
    ).budget
    assert budget is not None
    channels = [c for c in budget if c != "total"]
    figures = window_figures(journey, channels).figures
    for channel in [*channels, "total"]:
        seen = max(_most(s, channel, None) for s in runs)
        if one_entry:
            assert seen <= budget[channel] <= seen + 1, (channel, "ever", seen, budget[channel])
        for label, window in WINDOWS.items():
            seen = max(_most(s, channel, window) for s in runs)
            figure = figures[label][channel]
            assert seen <= figure <= seen + 1, (channel, label, seen, figure)


APPLIED = local("2026-03-02 09:00")
AMOUNTS = (150_000, 5_000_000, 15_000_000)
DAYS = (4, 8, 11)


def test_the_card_campaign_figures_are_within_one_message_of_what_customers_receive() -> None:
    """Every timeline of one or two purchases (three amounts, three days after the approval)
    and with or without redeeming: the most messages seen per channel, ever and in any 24 h
    and 7 d, is at most the reported figure and at least one less."""
    journey = example("card_campaign")
    base = [
        ev("c1", "card_applied", APPLIED, application_id="a1", product="gold", source="app"),
        ev(
            "c1",
            "card_approved",
            APPLIED + timedelta(days=3),
            application_id="a1",
            card_id="k1",
            credit_limit=30_000_000,
        ),
    ]
    purchases = [(amount, day) for amount in AMOUNTS for day in DAYS]
    timelines: list[list[dict[str, Any]]] = []
    for n in (1, 2):
        for combo in itertools.combinations(purchases, n):
            buys = [
                txn("c1", APPLIED + timedelta(days=d, hours=3), a, "Nguyen Kim", "shopping")
                for a, d in combo
            ]
            timelines.append(sorted([*base, *buys], key=lambda e: e["at"]))
    runs = [
        _sends(
            run(
                [journey],
                [profile("c1", app=True)],
                t,
                start=APPLIED,
                horizon=APPLIED + timedelta(days=80),
            ),
            "c1",
        )
        for t in timelines
    ]
    assert max(len(s) for s in runs) == 4  # the bonus, the invitation, the reminder, tier 2
    _compare(journey, runs)


def test_the_lifecycle_figures_are_within_one_message_of_what_customers_receive() -> None:
    """The binding journey for a customer who never binds, and each daily layer over 35 days
    for a customer in its segment: the figures match what the runs send."""
    approved = local("2026-01-05 10:00")
    binding = run(
        [example("card_lifecycle")],
        [profile("c1", app=True)],
        [ev("c1", "card_approved", approved, application_id="a1", card_id="k1", credit_limit=1)],
        start=approved,
        horizon=approved + timedelta(days=200),
    )
    _compare(example("card_lifecycle"), [_sends(binding, "c1")])
    start = local("2026-01-01 00:00")
    history = [ev("c1", "card_activated", local("2025-06-01 10:00"), card_id="k1")]
    for name in ("lifecycle_low_frequency", "lifecycle_low_utilisation"):
        r = run(
            [example(name)],
            [profile("c1", app=True)],
            start=start,
            history=history,
            horizon=start + timedelta(days=35),
        )
        sends = _sends(r, "c1")
        assert len(sends) >= 2  # the per-message cap lets it out again within the 35 days
        _compare(example(name), [sends], one_entry=False)


# ---------------------------------------------------------------- what a history check caps

DAILY_NUDGE = """
journey daily_nudge
uses events "events.yaml"
uses templates "{templates}"
timezone "UTC"
entry segment has(card_activated)
  daily at 10:00
  reentry always
fallback push -> zns
if sent({what} in last 7d) == 0 {{
  {steps}send push {template} marketing{fallback}
}}
"""


def _nudge(
    what: str = "push",
    *,
    template: str = "first_spend_nudge",
    fallback: str = "",
    steps: str = "",
    templates: str = "templates.yaml",
    base: Path = EXAMPLES,
) -> ir.Journey:
    text = DAILY_NUDGE.format(
        what=what, template=template, fallback=fallback, steps=steps, templates=templates
    )
    result = compile_source(text, str(base / "daily_nudge.journey"), base_dir=base)
    assert result.journey is not None, [str(d) for d in result.diagnostics]
    return result.journey


def test_a_channel_history_check_caps_no_send_that_can_fall_back_to_another_channel() -> None:
    """`sent(push …) == 0` does not cap a push that may be delivered on ZNS (its fallback):
    ZNS deliveries leave `sent(push)` at 0, so each daily entry can send (audit 1a)."""
    figures = window_figures(_nudge(), ["zns", "push"]).figures
    assert figures["7d"] == {"zns": 7, "push": 7, "total": 7}
    capped = window_figures(_nudge(fallback=" fallback none"), ["push"]).figures
    assert capped["7d"] == {"push": 1, "total": 1}


def test_a_history_check_on_a_template_named_like_a_channel_counts_that_template(
    tmp_path: Path,
) -> None:
    """`sent(push …)` counts the template 'push' when the catalog has one (templates come
    first), so it caps no push of another template."""
    (tmp_path / "events.yaml").write_text(
        (EXAMPLES / "events.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    templates = (EXAMPLES / "templates.yaml").read_text(encoding="utf-8")
    (tmp_path / "templates.yaml").write_text(
        templates + "  push:\n    category: marketing\n    channels: [email]\n", encoding="utf-8"
    )
    shadowed = _nudge(template="app_promo", fallback=" fallback none", base=tmp_path)
    assert window_figures(shadowed, ["push"]).figures["7d"] == {"push": 7, "total": 7}
    own = _nudge("app_promo", template="app_promo", fallback=" fallback none", base=tmp_path)
    assert window_figures(own, ["push"]).figures["7d"] == {"push": 1, "total": 1}


@pytest.mark.parametrize(
    "steps",
    [
        "parallel all {\n    branch { wait 3d }\n    branch { tag seen }\n  }\n  ",
        "ticket telesales accepted {}\n  ",
    ],
    ids=["parallel", "waiting-ticket"],
)
def test_a_history_check_caps_no_send_that_time_can_separate_from_it(steps: str) -> None:
    """A send after a parallel block or a ticket that waits for its queue is not at the
    instant of the check: other entries can pass the check meanwhile."""
    journey = _nudge("first_spend_nudge", fallback=" fallback none", steps=steps)
    assert window_figures(journey, ["push"]).figures["7d"]["push"] > 1


def test_the_engine_sends_twice_in_7_days_what_a_check_before_a_parallel_block_guards() -> None:
    """Run daily for three weeks, the journey with a 3-day parallel block between the check and
    the push sends more than once in some 7 days, and the figure is at least that."""
    steps = "parallel all {\n    branch { wait 3d }\n    branch { tag seen }\n  }\n  "
    journey = _nudge("first_spend_nudge", fallback=" fallback none", steps=steps)
    start = local("2026-03-01 00:00")
    r = run(
        [journey],
        [profile("c1", app=True)],
        start=start,
        history=[ev("c1", "card_activated", local("2026-02-01 10:00"), card_id="k1")],
        horizon=start + timedelta(days=21),
    )
    seen = _most(_sends(r, "c1"), "push", WINDOWS["7d"])
    assert seen >= 2
    assert window_figures(journey, ["push"]).figures["7d"]["push"] >= seen


KEYED = """
journey keyed_welcome
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
  key trigger.card_id
  reentry {reentry}
{guard}send email welcome_activation_guide {{ card_id: trigger.card_id, product: trigger.product }}
"""


@pytest.mark.parametrize("reentry", ["once", "after 30d"])
def test_a_keyed_entry_is_reported_per_instance_and_loose(reentry: str) -> None:
    """With `key trigger.card_id` a customer has one instance per card, however many cards:
    the figure is per instance, and the reason says so (audit 1b)."""
    figures = window_figures(_compile(KEYED.format(reentry=reentry, guard="")).journey, ["email"])
    assert figures.figures["24h"] == {"email": 1, "total": 1}
    assert figures.loose == [
        f"per instance: key trigger.card_id: re-entry {reentry.split()[0]} per key, and a "
        "customer can have any number of keys at once"
    ]


def test_a_history_check_caps_a_keyed_entry_across_its_instances() -> None:
    """A `sent(… in last 7d) == 0` check in front of the send caps it across every instance of
    every key: one email in any 7 days per customer, no longer a figure per instance."""
    guard = "if sent(welcome_activation_guide in last 7d) == 0 {\n"
    text = KEYED.format(reentry="always", guard=guard) + "}\n"
    figures = window_figures(_compile(text).journey, ["email"])
    assert figures.figures["7d"] == {"email": 1, "total": 1}
    assert figures.loose == []


def test_three_cards_in_one_hour_exceed_the_keyed_figure_which_says_it_is_per_instance() -> None:
    """The engine sends one welcome email per card (three in one hour), more than the figure of
    one: the figure must say it is per instance (audit 1b)."""
    journey = _compile(KEYED.format(reentry="once", guard="")).journey
    at = local("2026-03-01 10:00")
    r = run(
        [journey],
        [profile("c1")],
        [
            ev("c1", "card_issued", at + timedelta(minutes=10 * n), card_id=f"k{n}", product="gold")
            for n in range(3)
        ],
        start=at,
    )
    assert _most(_sends(r, "c1"), "email", WINDOWS["24h"]) == 3
    figures = window_figures(journey, ["email"])
    assert figures.figures["24h"]["email"] == 1
    assert [why.split(":")[0] for why in figures.loose] == ["per instance"]


HELD = """
journey hourly_promo
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_issued
{quiet}repeat max 12 {{
  wait 1h
  if sent(app_promo in last 1d) == 0 {{
    send push app_promo marketing fallback none
  }}
}}
"""


def test_a_history_check_caps_no_send_the_journeys_quiet_hours_can_hold() -> None:
    """Checked hourly from 20:30, every check in the quiet hours sees no delivered promo, so the
    held pushes all leave at 08:00: the 24 h figure is at least what the engine sends, while
    without quiet hours the check still caps it at one."""
    quiet = "quiet hours 21:00 to 08:00 for push\n"
    held = _compile(HELD.format(quiet=quiet)).journey
    issued = ev("c1", "card_issued", local("2026-03-02 20:30"), card_id="k1", product="gold")
    r = run([held], [profile("c1", app=True)], [issued], start=local("2026-03-02 20:00"))
    seen = _most(_sends(r, "c1"), "push", WINDOWS["24h"])
    assert seen > 1
    assert window_figures(held, ["push"]).figures["24h"]["push"] >= seen
    free = _compile(HELD.format(quiet="")).journey
    assert window_figures(free, ["push"]).figures["24h"] == {"push": 1, "total": 1}
