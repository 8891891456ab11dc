"""Behaviour files in the general form: any catalog event, field distributions, ids matching an
earlier event, reactions leading to any event, segments; mistakes at file:line:col."""

from __future__ import annotations

import json
import random
from collections import Counter
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from journeydsl.compiler import compile_file
from journeydsl.simulate.behaviour import (
    AMOUNT_LIMIT,
    MAX_DRAWN_DELAY,
    Dist,
    Duration,
    LogNormal,
    check_behaviour,
    load_behaviour,
    sample_delay,
)
from journeydsl.simulate.behaviour_general import FieldSpec, GeneralBehaviour
from journeydsl.simulate.driver import Simulation, dumps
from journeydsl.simulate.population_general import GeneralPopulation, population_for
from journeydsl.yamlfile import InputError
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, Cli

BINDING = str(EXAMPLES / "card_wallet_binding.journey")
BINDING_MODEL = str(BEHAVIOUR / "card_binding.yaml")


def _errors(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_behaviour(path)
    return [str(e).replace(f"{path}:", "b.yaml:") for e in caught.value.errors]


def _run(size: int, seed: int, model_path: str = BINDING_MODEL) -> Simulation:
    journey = compile_file(BINDING).journey
    assert journey is not None
    model = load_behaviour(model_path).model
    population = population_for(model, size, seed)
    sim = Simulation(
        [journey],
        population.profiles,
        start=model.start,
        channels=population.channels(),
    )
    population.attach(sim)
    sim.play()
    return sim


def test_every_outcome_of_the_binding_example_is_reached(cli: Cli) -> None:
    """300 synthetic applicants reach bound, retained, cancelled and not_bound, each at least
    once."""
    code, out, err = cli(
        "simulate",
        BINDING,
        "--population",
        "300",
        "--behaviour",
        BINDING_MODEL,
        "--seed",
        "1",
        "--format",
        "json",
    )
    assert code == 0, err
    assert "warning" not in err
    outcomes = json.loads(out)["funnel"]["outcomes"]
    assert set(outcomes) == {"bound", "retained", "cancelled", "not_bound"}
    assert all(count > 0 for count in outcomes.values()), outcomes


def test_an_approval_carries_the_id_of_its_application() -> None:
    """Each card_approved has the application_id of the customer's card_applied (same_as)."""
    sim = _run(40, 3)
    applied: dict[str, str] = {}
    approvals = 0
    for e in sim.events.all():
        if e.type == "card_applied":
            applied[e.customer_id] = e.data["application_id"]
        elif e.type == "card_approved":
            approvals += 1
            assert e.data["application_id"] == applied[e.customer_id]
            assert e.data["application_id"].startswith(f"app-{e.customer_id}-")
    assert approvals > 20


def test_money_fields_are_rounded_decimals_and_enums_come_from_their_weights() -> None:
    """Statement balances are whole VND (rounded to 1,000); wallets are the four listed."""
    sim = _run(60, 4)
    balances = [e.data["balance"] for e in sim.events.all() if e.type == "statement"]
    wallets = Counter(e.data["wallet"] for e in sim.events.all() if e.type == "card_bound")
    assert balances
    assert all(b.currency == "VND" and b.amount % 1000 == 0 for b in balances)
    assert set(wallets) <= {"momo", "zalopay", "vnpay", "shopeepay"}
    assert wallets["momo"] > 0


def test_arrivals_keep_their_hours_and_days() -> None:
    """card_applied falls on the first ten days, at local times within [08:00, 20:00)."""
    sim = _run(80, 5)
    for e in sim.events.all():
        if e.type == "card_applied":
            local = e.at.astimezone(ZoneInfo(sim.profiles.get(e.customer_id).timezone))
            assert 8 <= local.hour < 20
            assert local.date() < datetime(2026, 1, 15).date()


SEGMENTS = """\
customer_prefix: s-
segments:
  - {name: eager, share: 1, events: {card_bound: {daily: 1.0}}}
  - {name: never, share: 1, events: {card_bound: {daily: 0.0}}, attributes: {segment: never}}
profiles:
  attributes: {segment: mass}
events:
  card_approved:
    start: {days: 1}
    data:
      application_id: "a-{customer_id}"
      card_id: "k-{customer_id}"
      credit_limit: {money: 10_000_000}
  card_bound:
    after: card_approved
    daily: 0.5
    limit: 1
    data: {card_id: {same_as: card_approved.card_id}, wallet: momo}
"""


def test_segments_change_their_customers_parameters(tmp_path: Path) -> None:
    """Customers of a segment with a daily rate of 1 all bind; those of a rate-0 segment never."""
    path = tmp_path / "segments.yaml"
    path.write_text(SEGMENTS, encoding="utf-8")
    model = load_behaviour(path).model
    assert isinstance(model, GeneralBehaviour)
    sim = _run(40, 2, str(path))
    bound = {e.customer_id for e in sim.events.all() if e.type == "card_bound"}
    segment = {c: sim.profiles.get(c).attributes["segment"] for c in sim.profiles.customers()}
    assert {c for c, s in segment.items() if s == "mass"} == bound
    assert {c for c, s in segment.items() if s == "never"}
    assert bound


def test_a_reference_to_an_undescribed_event_is_an_error_at_its_line(tmp_path: Path) -> None:
    """`after`, `same_as` and a reaction's `event` must name an entry; each error has a hint."""
    text = """\
events:
  card_applied:
    start: {days: 3}
    data: {application_id: "a-{customer_id}"}
  card_approved:
    after: card_aplied
    delay: 1d
    data:
      application_id: {same_as: card_applied.aplication_id}
reactions:
  - events: [{event: card_bound, probability: 0.5}]
"""
    assert _errors(text, tmp_path) == [
        "b.yaml:6:12: error: event 'card_aplied' is not described under 'events' — did you "
        "mean 'card_applied'?",
        "b.yaml:9:33: error: the entry of 'card_applied' draws no field 'aplication_id'",
        "b.yaml:11:22: error: event 'card_bound' is not described under 'events' — did you "
        "mean 'card_approved'?",
    ]


def test_a_reaction_after_a_step_its_rule_never_makes_is_an_error(tmp_path: Path) -> None:
    """An event after `clicked` in a rule without `click:`, or a click after the open in a rule
    without `open:`, could never happen: each is an error at its line (they were silently dead)."""
    text = """\
events:
  card_bound:
    data: {card_id: k-1}
reactions:
  - template: wallet_binding_reminder
    events: [{event: card_bound, probability: 1, after: clicked}]
  - template: retention_offer
    click: {probability: 0.5}
  - open: {probability: 0.3}
    click: {probability: 0.4}
    events: [{event: card_bound, probability: 0.5, after: clicked}]
"""
    assert _errors(text, tmp_path) == [
        "b.yaml:6:57: error: 'card_bound' comes after the message is clicked, and this rule has "
        "no click: it would never happen (give the rule 'click', or another 'after')",
        "b.yaml:8:12: error: 'click' follows the open, and this rule has no 'open': no customer "
        "would click (give 'open', or 'after: delivered')",
    ]


def test_a_when_no_profile_can_meet_is_an_error_with_a_hint(tmp_path: Path) -> None:
    """`when:` naming an attribute no profile draws, or a value its draws never give, is an
    error at its line with a did-you-mean (the event silently never happened)."""
    text = """\
profiles:
  attributes:
    segment: {choice: {mass: 4, affluent: 1}}
    credit_limit: {money: {fixed: 10_000_000}}
events:
  card_applied:
    start: {days: 3}
    when: {segmnt: affluent}
    data: {application_id: a-1}
  card_approved:
    after: card_applied
    when: {segment: afluent, credit_limit: 10000000}
    delay: 1d
    data: {card_id: k-1}
  card_bound:
    after: card_approved
    when: {segment: mass}
    daily: 0.1
    data: {card_id: k-1}
"""
    assert _errors(text, tmp_path) == [
        "b.yaml:8:12: error: 'when' names the attribute 'segmnt', which no profile draws (under "
        "'profiles: attributes:' or a segment's): 'card_applied' would never happen — did you "
        "mean 'segment'?",
        "b.yaml:12:21: error: no profile draws segment = 'afluent' (it is one of affluent, mass): "
        "'card_approved' would never happen — did you mean 'affluent'?",
    ]


def test_a_profile_attribute_cannot_copy_an_event(tmp_path: Path) -> None:
    """`same_as` and `param` draw event fields; in a profile attribute they are an error."""
    text = """\
profiles:
  attributes:
    city: {same_as: card_applied.city}
events:
  card_applied: {start: {days: 1}, data: {city: Hanoi}}
"""
    assert _errors(text, tmp_path) == [
        "b.yaml:3:11: error: a profile attribute is drawn before any event or message: "
        "'same_as' and 'param' are for event fields"
    ]


def test_shape_mistakes_name_their_line_and_column(tmp_path: Path) -> None:
    """A field with two sources, bad hours and a misspelt key are all reported, in file order."""
    text = """\
hours: {"8-25": 1}
events:
  card_applied:
    start: {days: 3}
    data:
      product: {choice: {gold: 1}, value: classic}
    limt: 1
"""
    errors = _errors(text, tmp_path)
    assert errors[0].startswith("b.yaml:1:8: error: hours: ")
    assert "the hours 8-25 are not a window" in errors[0]
    assert errors[1].startswith("b.yaml:6:16: error: events.card_applied.data.product: ")
    assert "give exactly one of" in errors[1]
    assert errors[2] == (
        "b.yaml:7:5: error: unknown field 'limt' in 'events.card_applied' — did you mean 'limit'?"
    )


def test_catalog_mistakes_are_warnings_that_list_the_fields(tmp_path: Path) -> None:
    """Against the catalog: an unknown field lists the event's fields, an enum value outside
    the list and an unknown event are flagged, each at its line."""
    text = """\
events:
  card_bound:
    start: {days: 1}
    data: {card_id: k, walet: momo, wallet: {choice: {momo: 1, paypal: 1}}}
  card_bund:
    start: {days: 1}
"""
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    journey = compile_file(BINDING).journey
    assert journey is not None
    found = [
        str(w).replace(f"{path}:", "b.yaml:")
        for w in check_behaviour(
            load_behaviour(path),
            {},
            None,
            frozenset(journey.event_types),
            event_types=journey.event_types,
            attribute_types=journey.attribute_types,
        )
    ]
    assert found == [
        "b.yaml:4:24: warning: event 'card_bound' has no field 'walet' (it has card_id, wallet)"
        " — did you mean 'wallet'?",
        "b.yaml:4:45: warning: 'card_bound.wallet' is one of momo, zalopay, vnpay, shopeepay; "
        "'paypal' is not",
        "b.yaml:5:3: warning: the event catalog has no event 'card_bund' — did you mean "
        "'card_bound'?",
    ]


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 15))
def test_the_same_seed_gives_the_same_run(seed: int, size: int) -> None:
    """Two runs of the binding example with one seed give byte-identical JSON."""

    def once() -> str:
        from journeydsl.simulate.driver import SimulationResult

        return dumps(SimulationResult(_run(size, seed)).to_json())

    assert once() == once()


def test_a_customer_does_not_depend_on_the_population_size() -> None:
    """w-0001's profile and events are the same in a population of 3 and of 30."""
    model = load_behaviour(BINDING_MODEL).model
    small = population_for(model, 3, seed=8)
    large = population_for(model, 30, seed=8)
    assert isinstance(small, GeneralPopulation)
    assert small.profiles[0] == large.profiles[0]

    def events(sim: Simulation) -> list[tuple[str, datetime, object]]:
        return [(e.type, e.at, e.data) for e in sim.events.all() if e.customer_id == "w-0001"]

    assert events(_run(3, 8)) == events(_run(30, 8))


def test_the_guides_behaviour_example_simulates_the_binding_journey(tmp_path: Path) -> None:
    """Every `yaml behaviour` block of docs/simulate.md loads, and with it 300 customers reach
    every outcome of the binding example."""
    import re

    doc = (EXAMPLES.parent / "docs" / "simulate.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml behaviour\n(.*?)```", doc, re.S)
    assert blocks
    for i, block in enumerate(blocks):
        path = tmp_path / f"guide_{i}.yaml"
        path.write_text(block, encoding="utf-8")
        journey = compile_file(BINDING).journey
        assert journey is not None
        loaded = load_behaviour(path)
        assert isinstance(loaded.model, GeneralBehaviour)
        assert (
            check_behaviour(
                loaded,
                {"wallet_binding_reminder": {"push"}, "retention_offer": {"email"}},
                None,
                frozenset(journey.event_types),
                event_types=journey.event_types,
                attribute_types=journey.attribute_types,
            )
            == []
        )
        sim = _run(300, 1, str(path))
        outcomes = Counter(r["outcome"] for r in sim.state.all_instances())
        assert set(outcomes) == {"bound", "retained", "cancelled", "not_bound"}, outcomes


def test_the_earlier_form_still_gives_its_earlier_figures(cli: Cli) -> None:
    """The onboarding file in the earlier form loads as before and 100 customers, seed 7, end
    as they did before the general form (17 / 41 / 42, the figures the guide showed then)."""
    from journeydsl.simulate.behaviour import Behaviour

    path = str(Path(__file__).parent / "fixtures" / "earlier_form_onboarding.yaml")
    assert isinstance(load_behaviour(path).model, Behaviour)
    code, out, err = cli(
        "simulate",
        str(EXAMPLES / "onboarding_new_cardholder.journey"),
        "--population",
        "100",
        "--behaviour",
        path,
        "--seed",
        "7",
        "--format",
        "json",
    )
    assert code == 0, err
    assert json.loads(out)["funnel"]["outcomes"] == {
        "not_activated": 17,
        "spend_goal_met": 41,
        "spend_goal_missed": 42,
    }


# ------------------------------------------------------------------ values past their limits


def test_values_past_their_limits_are_errors_at_their_line(tmp_path: Path) -> None:
    """A start outside 1900-2999, arrivals over more than ten years, a 36-digit amount, a number
    past 10^18, a round below 0.000001, durations past 3660d (a 20-digit median, an ``ago`` of
    100000d, a number of seconds) and a history count past 10,000 are each an error at the
    value that says the limit (they were OverflowError, InvalidOperation or BadEvent)."""
    text = """\
start: 9999-12-31T00:00:00+07:00
events:
  card_applied:
    start: {days: 3661}
    data:
      credit_limit: {money: {lognormal: {median: 999999999999999999999999999999999999, spread: 5}}}
      score: {number: 1e30}
      fee: {money: 1000, round: 0.0000001}
  card_approved:
    after: card_applied
    delay: {lognormal: {median: 99999999999999999999d, spread: 1}}
    history: {ago: 100000d, count: 10001}
  card_bound:
    after: card_approved
    delay: 99999999999999999999
"""
    assert _errors(text, tmp_path) == [
        "b.yaml:1:8: error: start: '9999-12-31T00:00:00+07:00' is out of range: a run starts "
        "and ends within the years 1900 to 2999, the range of events",
        "b.yaml:4:19: error: events.card_applied.start.days: Input should be less than or equal "
        "to 3660, found 3661",
        "b.yaml:6:50: error: events.card_applied.data.credit_limit.money.lognormal.median: an "
        "amount of 36 digits is too large: at most 18 digits (below 10^18 VND)",
        "b.yaml:7:23: error: events.card_applied.data.score.number: 1e+30 is out of range: a "
        "number is between -10^18 and 10^18",
        "b.yaml:8:33: error: events.card_applied.data.fee.round: round to a step from 0.000001 "
        "to below 10^18 VND, e.g. 1000, not 0.0000001",
        "b.yaml:11:33: error: events.card_approved.delay.lognormal.median: "
        "'99999999999999999999d' is longer than 3660d, the longest duration allowed",
        "b.yaml:12:20: error: events.card_approved.history.ago: '100000d' is longer than 3660d, "
        "the longest duration allowed",
        "b.yaml:12:36: error: events.card_approved.history.count: Input should be less than or "
        "equal to 10000, found 10001",
        "b.yaml:15:12: error: events.card_bound.delay: 99999999999999999999 seconds is longer "
        "than 3660d, the longest duration allowed",
    ]


def test_a_far_duration_stops_simulate_with_exit_1_at_its_line(tmp_path: Path, cli: Cli) -> None:
    """`simulate` with a behaviour file whose delay is 20 digits of days exits 1 with the one
    line file:line:col, not an OverflowError."""
    path = tmp_path / "b.yaml"
    path.write_text(
        "events:\n"
        "  card_applied: {start: {days: 3}}\n"
        "  card_approved:\n"
        "    after: card_applied\n"
        "    delay: {lognormal: {median: 99999999999999999999d, spread: 1}}\n",
        encoding="utf-8",
    )
    code, out, err = cli("simulate", BINDING, "--population", "3", "--behaviour", str(path))
    assert (code, out) == (1, "")
    assert err == (
        f"{path}:5:33: error: events.card_approved.delay.lognormal.median: "
        "'99999999999999999999d' is longer than 3660d, the longest duration allowed\n"
    )


class _FarTail(random.Random):
    """A random stream whose normal draws are all 8.5: a log-normal's farthest tail."""

    def gauss(self, mu: float = 0.0, sigma: float = 1.0) -> float:
        return 8.5


def test_the_far_tail_of_a_log_normal_is_cut_not_overflowing() -> None:
    """The largest draws the limits allow (3660d and 10^17 VND with spread 5, times e^42.5) are
    cut to the longest delay and the largest amount and number, instead of raising an
    OverflowError or decimal.InvalidOperation."""
    delay = Dist[Duration](lognormal=LogNormal[Duration](median=timedelta(days=3660), spread=5))
    assert sample_delay(delay, _FarTail()) == MAX_DRAWN_DELAY
    money = FieldSpec.model_validate({"money": {"lognormal": {"median": 10**17, "spread": 5}}})
    amount = money.draw(_FarTail(), {})
    assert Decimal(10**17) < amount < AMOUNT_LIMIT
    number = FieldSpec.model_validate({"number": {"lognormal": {"median": 1e17, "spread": 5}}})
    assert number.draw(_FarTail(), {}) == 10**18


def _far_run(tmp_path: Path, text: str) -> Simulation:
    path = tmp_path / "b.yaml"
    path.write_text(text, encoding="utf-8")
    journey = compile_file(BINDING).journey
    assert journey is not None
    model = load_behaviour(path).model
    population = population_for(model, 20, 1)
    sim = Simulation(
        [journey],
        population.profiles,
        start=model.start,
        until=model.start + timedelta(days=30),
        channels=population.channels(),
    )
    population.attach(sim)
    sim.play()
    return sim


def test_history_drawn_before_1900_is_left_out(tmp_path: Path) -> None:
    """From a start in 1901, history 1000 to 3000 days back reaches before 1900: those events
    are left out (they stopped the run with BadEvent), the later ones kept."""
    sim = _far_run(
        tmp_path,
        "start: 1901-01-01T00:00:00+07:00\n"
        "events:\n"
        "  card_applied:\n"
        "    history: {count: 4, ago: {uniform: {min: 1d, max: 3000d}}}\n"
        "    data: {application_id: a}\n",
    )
    past = [e.at for e in sim.events.all() if e.type == "card_applied"]
    assert past
    assert min(past) >= datetime(1900, 1, 1, tzinfo=ZoneInfo("UTC"))
    assert sim.stats.history == len(past) < 4 * 20


@pytest.mark.parametrize("rate", ["1.0e-12", "1.0e-17"])
def test_a_daily_rate_too_rare_to_happen_runs_without_overflow(tmp_path: Path, rate: str) -> None:
    """A daily rate so small that the next day is past any date (1e-12: OverflowError) or that
    1 - rate is 1 (1e-17: ZeroDivisionError) never fires within the run."""
    sim = _far_run(
        tmp_path,
        f"events:\n  card_applied:\n    daily: {rate}\n    data: {{application_id: a}}\n",
    )
    assert [e for e in sim.events.all() if e.type == "card_applied"] == []
