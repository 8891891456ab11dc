"""Recorded mode: the `journeydsl simulate --format json` contract on the shipped event files, the
time range, history, quarantine, default profiles, and the text report."""

from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from tests.catalogs import USES, example_catalogs_in
from tests.simulate.conftest import (
    DORMANT,
    EVENTS,
    ONBOARDING,
    Cli,
    dormant_args,
    onboarding_args,
)

GOLDEN = Path(__file__).parent / "golden"
ACTION_KEYS = {
    "send": ["at", "customer_id", "node", "kind", "channel", "template", "params"],
    "ticket": ["at", "customer_id", "node", "kind", "queue", "priority", "payload"],
    "reward": ["at", "customer_id", "node", "kind", "name", "params"],
}


def _json(cli: Cli, args: list[str]) -> tuple[dict[str, Any], str]:
    code, out, err = cli(*args, "--format", "json")
    assert code == 0, err
    return json.loads(out), out


def _golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


def test_onboarding_json_matches_the_golden_file(cli: Cli) -> None:
    """The onboarding run's JSON is byte-for-byte the pinned golden file."""
    _, text = _json(cli, onboarding_args())
    _golden("onboarding.json", text)


def test_dormant_json_matches_the_golden_file(cli: Cli) -> None:
    """The dormant run's JSON (history before --start) is byte-for-byte the pinned golden file."""
    _, text = _json(cli, dormant_args())
    _golden("dormant.json", text)


def test_the_document_has_exactly_the_contract_keys(cli: Cli) -> None:
    """Top level: journey, version, actions, instances, funnel — nothing else, in that order,
    but the forecast of the budgets its rewards draw from (``budgets``)."""
    doc, _ = _json(cli, onboarding_args())
    assert list(doc) == ["journey", "version", "actions", "instances", "funnel", "budgets"]
    assert list(doc["budgets"]) == ["fee_waivers"]
    assert (doc["journey"], doc["version"]) == ("onboarding_new_cardholder", 1)


def test_actions_have_the_contract_fields_per_kind(cli: Cli) -> None:
    """Sends, tickets and rewards carry exactly the fields DESIGN.md lists for them."""
    doc, _ = _json(cli, onboarding_args())
    kinds = {a["kind"] for a in doc["actions"]}
    assert kinds == {"send", "ticket", "reward"}
    for a in doc["actions"]:
        assert list(a) == ACTION_KEYS[a["kind"]], a


def test_actions_are_sorted_by_time_then_customer_then_the_order_they_happened(
    cli: Cli,
) -> None:
    """Actions come in time order (as instants), ties by customer, then in the order the steps
    ran: c-003's reward (written first) before its confirmation email, at one instant, though
    the email's step id sorts first."""
    doc, _ = _json(cli, onboarding_args())
    keys = [(datetime.fromisoformat(a["at"]), a["customer_id"]) for a in doc["actions"]]
    assert keys == sorted(keys)
    same = [
        a["node"]
        for a in doc["actions"]
        if a["customer_id"] == "c-003" and a["at"] == "2026-01-30T19:00:00+07:00"
    ]
    assert same == ["reward_annual_fee_waiver", "email_fee_waiver_granted"]


def test_times_carry_the_customers_local_offset(cli: Cli) -> None:
    """A Shanghai customer's actions and instance times are written with +08:00."""
    doc, _ = _json(cli, onboarding_args())
    shanghai = [a["at"] for a in doc["actions"] if a["customer_id"] == "c-005"]
    assert shanghai == ["2026-01-07T10:00:00+08:00", "2026-01-08T09:00:00+08:00"]
    (inst,) = [i for i in doc["instances"] if i["customer_id"] == "c-005"]
    assert inst["entered_at"] == "2026-01-07T10:00:00+08:00"
    assert inst["ended_at"] == "2026-01-18T09:00:00+08:00"


def test_money_params_are_amount_and_currency_strings(cli: Cli) -> None:
    """The fee-waiver offer's threshold is {"amount": "1000000", "currency": "VND"}."""
    doc, _ = _json(cli, onboarding_args())
    offer = next(a for a in doc["actions"] if a.get("template") == "fee_waiver_offer")
    assert offer == {
        "at": "2026-01-16T18:00:00+07:00",
        "customer_id": "c-004",
        "node": "email_fee_waiver_offer",
        "kind": "send",
        "channel": "email",
        "template": "fee_waiver_offer",
        "params": {
            "threshold": {"amount": "1000000", "currency": "VND"},
            "deadline": "2026-02-05",
        },
    }


def test_onboarding_instances_cover_every_outcome(cli: Cli) -> None:
    """Instances show not_activated, spend_goal_met (both ways) and spend_goal_missed."""
    doc, _ = _json(cli, onboarding_args())
    assert doc["instances"] == [
        {
            "customer_id": "c-001",
            "status": "ended",
            "outcome": "not_activated",
            "entered_at": "2026-01-05T10:00:00+07:00",
            "ended_at": "2026-01-25T10:00:00+07:00",
        },
        {
            "customer_id": "c-002",
            "status": "ended",
            "outcome": "spend_goal_met",
            "entered_at": "2026-01-05T11:00:00+07:00",
            "ended_at": "2026-01-16T09:30:00+07:00",
        },
        {
            "customer_id": "c-003",
            "status": "ended",
            "outcome": "spend_goal_met",
            "entered_at": "2026-01-05T14:00:00+07:00",
            "ended_at": "2026-01-30T19:00:00+07:00",
        },
        {
            "customer_id": "c-004",
            "status": "ended",
            "outcome": "spend_goal_missed",
            "entered_at": "2026-01-06T09:00:00+07:00",
            "ended_at": "2026-02-05T18:00:00+07:00",
        },
        {
            "customer_id": "c-005",
            "status": "ended",
            "outcome": "spend_goal_met",
            "entered_at": "2026-01-07T10:00:00+08:00",
            "ended_at": "2026-01-18T09:00:00+08:00",
        },
    ]
    met = {
        a["customer_id"]
        for a in doc["actions"]
        if a["kind"] == "reward" and a["name"] == "annual_fee_waiver"
    }
    assert met == {"c-003"}  # the fee waiver is earned only after the offer


def test_funnel_counts_steps_and_outcomes(cli: Cli) -> None:
    """The funnel counts instances per step (once each, however often) and per outcome."""
    doc, _ = _json(cli, onboarding_args())
    funnel = doc["funnel"]
    assert funnel["entered"] == 5
    assert funnel["running"] == 0
    assert funnel["outcomes"] == {"not_activated": 1, "spend_goal_met": 3, "spend_goal_missed": 1}
    nodes = funnel["nodes"]
    assert nodes["welcome"] == 5
    assert nodes["push_activation_reminder"] == 2  # c-001 twice (rounds 1, 4) and c-003 once
    assert nodes["ticket_telesales"] == 1
    assert nodes["exit_spend_goal_met"] == 2
    assert nodes["exit_spend_goal_met_2"] == 1
    assert "reminders.check" not in nodes  # a repeat's internal nodes are not steps


def test_dormant_instances_cover_every_outcome(cli: Cli) -> None:
    """registered, handed_to_telesales (high and normal priority), no_engagement, reactivated."""
    doc, _ = _json(cli, dormant_args())
    outcomes = {i["customer_id"]: i["outcome"] for i in doc["instances"]}
    assert outcomes == {
        "d-001": "registered",
        "d-002": "handed_to_telesales",
        "d-003": "handed_to_telesales",
        "d-004": "no_engagement",
        "d-005": "reactivated",
        "d-006": "no_engagement",
    }
    tickets = {a["customer_id"]: a["priority"] for a in doc["actions"] if a["kind"] == "ticket"}
    assert tickets == {"d-002": "high", "d-003": "normal"}


def test_history_before_start_triggers_nothing(cli: Cli) -> None:
    """Events before --start feed conditions (the offer) but trigger nothing themselves."""
    doc, _ = _json(cli, dormant_args())
    assert all(a["at"] >= "2026-01-05" for a in doc["actions"])
    (d6,) = [i for i in doc["instances"] if i["customer_id"] == "d-006"]
    assert d6["entered_at"] == "2026-03-21T09:00:00+07:00"
    offers = {
        a["customer_id"]: a["params"]["offer"]
        for a in doc["actions"]
        if a.get("template") == "reactivation_offer"
    }
    assert offers["d-001"] == "tiki_voucher"
    assert offers["d-002"] == "airline_cashback"


def test_until_ends_the_run_and_leaves_instances_running(cli: Cli) -> None:
    """With --until, later timers do not fire: instances still waiting have no outcome."""
    doc, _ = _json(cli, onboarding_args("--until", "2026-01-06T12:00:00+07:00"))
    assert [i["status"] for i in doc["instances"]] == ["waiting"] * 4
    assert all(i["outcome"] is None and i["ended_at"] is None for i in doc["instances"])
    assert doc["funnel"]["running"] == 4
    assert max(a["at"] for a in doc["actions"]) <= "2026-01-06T12:00:00+07:00"


def test_the_default_end_is_90_days_after_the_first_event(cli: Cli, tmp_path: Path) -> None:
    """Without --until, an event 91 days after the first one is not simulated."""
    events = tmp_path / "e.jsonl"
    lines = [
        {
            "customer_id": "x",
            "type": "card_issued",
            "at": "2026-01-05T10:00:00+07:00",
            "data": {"card_id": "k", "product": "gold"},
        },
        {
            "customer_id": "y",
            "type": "card_issued",
            "at": "2026-04-06T10:00:00+07:00",
            "data": {"card_id": "k", "product": "gold"},
        },
    ]
    events.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
    code, out, _ = cli("simulate", ONBOARDING, "--events", str(events), "--format", "json")
    assert code == 0
    assert [i["customer_id"] for i in json.loads(out)["instances"]] == ["x"]


def test_bad_event_lines_are_quarantined_and_the_run_goes_on(cli: Cli, tmp_path: Path) -> None:
    """Bad lines are reported as file:line: quarantined: reason; the good lines still run."""
    good = (EVENTS / "onboarding.jsonl").read_text(encoding="utf-8").splitlines()
    bad = [
        "{not json",
        json.dumps(
            {
                "customer_id": "c-9",
                "type": "card_issued",
                "at": "2026-01-05T10:00:00",
                "data": {"card_id": "k", "product": "gold"},
            }
        ),
        json.dumps(
            {
                "customer_id": "c-2",
                "type": "transaction",
                "at": "2026-01-09T10:00:00+07:00",
                "data": {"amount": 5, "currency": "VND", "merchant": "M", "category": "toys"},
            }
        ),
    ]
    events = tmp_path / "events.jsonl"
    events.write_text("\n".join([*good[:2], *bad, *good[2:]]) + "\n", encoding="utf-8")
    code, out, err = cli(
        "simulate",
        ONBOARDING,
        "--events",
        str(events),
        "--profiles",
        str(EVENTS / "onboarding_profiles.jsonl"),
        "--format",
        "json",
    )
    assert code == 0
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if "quarantined" in line]
    assert lines[0].startswith(f"{events}:3: quarantined: not valid JSON")
    assert (
        lines[1] == f"{events}:4: quarantined: 'at' has no UTC offset: '2026-01-05T10:00:00' "
        "(write e.g. +07:00)"
    )
    assert lines[2].startswith(f"{events}:5: quarantined: field 'category' is 'toys'")
    assert len(lines) == 3
    assert len(json.loads(out)["instances"]) == 5


def test_customers_without_a_profile_have_no_consent(cli: Cli) -> None:
    """Without --profiles every message is suppressed with the reason 'no email consent' …"""
    code, out, _ = cli(
        "simulate", ONBOARDING, "--events", str(EVENTS / "onboarding.jsonl"), "--format", "json"
    )
    assert code == 0
    actions = json.loads(out)["actions"]
    assert {a["kind"] for a in actions} == {"suppressed", "ticket", "reward"}
    first = actions[0]
    assert (first["kind"], first["reason"]) == ("suppressed", "no email consent")


def test_default_consent_lets_messages_through(cli: Cli) -> None:
    """… and with --default-consent they consent to every channel."""
    code, out, _ = cli(
        "simulate",
        ONBOARDING,
        "--events",
        str(EVENTS / "onboarding.jsonl"),
        "--default-consent",
        "--format",
        "json",
    )
    assert code == 0
    actions = json.loads(out)["actions"]
    assert {a["kind"] for a in actions} == {"send", "ticket", "reward"}
    # push still needs the app: c-001's first reminder falls back to ZNS
    reminder = next(a for a in actions if a["node"] == "push_activation_reminder")
    assert (reminder["customer_id"], reminder["channel"]) == ("c-001", "zns")


def test_output_file_holds_the_same_json(cli: Cli, tmp_path: Path) -> None:
    """--output writes the document to a file instead of stdout."""
    target = tmp_path / "out.json"
    code, out, _ = cli(*onboarding_args("--format", "json", "--output", str(target)))
    assert code == 0
    assert out == ""
    _, direct = _json(cli, onboarding_args())
    assert target.read_text(encoding="utf-8") == direct


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--until", "2026-01-01"], "is not after the start"),
        (["--until", "soon"], "is not an ISO 8601 time"),
        (["--until", "2026-02-01", "--days", "3"], "give --until or --days, not both"),
        (["--population", "5"], "give --events (recorded mode) or --population"),
    ],
)
def test_usage_errors_exit_2(cli: Cli, extra: list[str], message: str) -> None:
    """A bad time range or mixed modes is a usage error (exit 2) with a clear message."""
    code, _, err = cli(*onboarding_args(*extra))
    assert code == 2
    assert message in err


def test_text_report_shows_funnel_outcomes_channels_and_tickets(cli: Cli) -> None:
    """The terminal report has the funnel with bars, outcomes, messages per channel, tickets."""
    code, out, _ = cli(*onboarding_args())
    assert code == 0
    assert "Funnel: instances per step, in graph order" in out
    assert "welcome" in out
    assert "wait until activated_at + 7d" in out  # not the generated id wait_until
    assert "if_2" not in out
    assert "█" in out
    assert "spend_goal_missed" in out
    assert "Messages per channel" in out
    assert "Tickets per queue" in out
    assert "telesales" in out
    assert "Rewards and actions" in out
    assert "annual_fee_waiver" in out


def test_a_repeated_event_line_is_reported_as_skipped(cli: Cli, tmp_path: Path) -> None:
    """Two identical lines are one event to the engine; the second is reported, not hidden."""
    line = (EVENTS / "onboarding.jsonl").read_text(encoding="utf-8").splitlines()[0]
    events = tmp_path / "twice.jsonl"
    events.write_text(f"{line}\n{line}\n", encoding="utf-8")
    code, out, err = cli("simulate", ONBOARDING, "--events", str(events), "--format", "json")
    assert code == 0
    assert f"{events}:2: skipped: the same event as an earlier one" in err
    assert len(json.loads(out)["instances"]) == 1


def test_a_customer_without_a_profile_lives_in_the_journeys_time_zone(
    cli: Cli, tmp_path: Path
) -> None:
    """The default profile takes the journey's `timezone`, so its times carry that offset."""
    source = (Path(ONBOARDING)).read_text(encoding="utf-8")
    journey = tmp_path / "shanghai.journey"
    journey.write_text(
        source.replace('timezone "Asia/Ho_Chi_Minh"', 'timezone "Asia/Shanghai"'), encoding="utf-8"
    )
    example_catalogs_in(tmp_path)
    code, out, err = cli(
        "simulate", str(journey), "--events", str(EVENTS / "onboarding.jsonl"), "--format", "json"
    )
    assert code == 0, err
    assert json.loads(out)["instances"][0]["entered_at"] == "2026-01-05T11:00:00+08:00"


def _spend_events(tmp_path: Path, amount: str) -> Path:
    """c-1 is issued a card, activates it, and 12 days later spends ``amount`` VND, written as
    the JSON number given (after the fee-waiver offer, so a goal met is a reward)."""
    card = {"card_id": "k1", "product": "gold"}
    lines = [
        json.dumps(
            {"customer_id": "c-1", "type": "card_issued", "at": "2026-01-05T10:00:00+07:00"}
            | {"data": card}
        ),
        json.dumps(
            {"customer_id": "c-1", "type": "card_activated", "at": "2026-01-06T09:30:00+07:00"}
            | {"data": {"card_id": "k1"}}
        ),
        '{"customer_id": "c-1", "type": "transaction", "at": "2026-01-18T12:00:00+07:00", '
        f'"data": {{"amount": {amount}, "currency": "VND", "merchant": "Tiki"}}}}',
    ]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_an_amount_a_float_would_round_is_quarantined_not_a_goal(cli: Cli, tmp_path: Path) -> None:
    """999999.99999999999999 VND is read exactly and quarantined with the reason, as
    `journeydsl run` does: the customer misses the goal instead of meeting it."""
    events = _spend_events(tmp_path, "999999.99999999999999")
    code, out, err = cli("simulate", ONBOARDING, "--events", str(events), "--format", "json")
    assert code == 0, err
    assert (
        f"{events}:3: quarantined: transaction.amount: 999999.99999999999999 has 14 decimal "
        "places; VND allows 0"
    ) in err
    document = json.loads(out)
    assert [i["outcome"] for i in document["instances"]] == ["spend_goal_missed"]
    assert not [a for a in document["actions"] if a["kind"] == "reward"]


def test_read_events_keeps_the_digits_of_a_whole_amount(tmp_path: Path) -> None:
    """1000000.00 VND is taken as one million with the digits written, never via a float."""
    from decimal import Decimal

    from journeydsl.compiler import compile_file
    from journeydsl.simulate.inputs import read_events, schemas_of

    journey = compile_file(ONBOARDING).journey
    assert journey is not None
    loaded, problems = read_events(_spend_events(tmp_path, "1000000.00"), schemas_of([journey]))
    assert problems == []
    amount = loaded[2].record.data["amount"].amount
    assert amount.as_tuple() == Decimal("1000000.00").as_tuple()
    assert loaded[2].raw["data"]["amount"].as_tuple() == amount.as_tuple()


UTC_NINE = """journey utc_nine
uses events "events.yaml"
uses templates "templates.yaml"
timezone "UTC"
entry on card_issued
wait until 09:00
send email welcome_activation_guide transactional { card_id: "k", product: "p" }
"""


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_profile_without_a_zone_is_shown_in_the_journeys_zone(
    cli: Cli, tmp_path: Path, workers: str
) -> None:
    """A profile line without `timezone` runs in the journey's zone (UTC here), and the report
    shows its times there too: 09:00+00:00, not 16:00+07:00."""
    journey = tmp_path / "utc_nine.journey"
    journey.write_text(UTC_NINE, encoding="utf-8")
    example_catalogs_in(tmp_path)
    event = {
        "customer_id": "c1",
        "type": "card_issued",
        "at": "2026-03-02T01:00:00Z",
        "data": {"card_id": "k", "product": "p"},
    }
    (tmp_path / "e.jsonl").write_text(json.dumps(event) + "\n", encoding="utf-8")
    profile = {"customer_id": "c1", "consent": {"email": True}}
    (tmp_path / "p.jsonl").write_text(json.dumps(profile) + "\n", encoding="utf-8")
    doc, _ = _json(
        cli,
        [
            "simulate",
            str(journey),
            "--events",
            str(tmp_path / "e.jsonl"),
            "--profiles",
            str(tmp_path / "p.jsonl"),
            "--workers",
            workers,
        ],
    )
    assert [a["at"] for a in doc["actions"]] == ["2026-03-02T09:00:00+00:00"]


def test_the_funnel_names_steps_and_splits_each_entry_into_passed_exited_waiting(
    cli: Cli,
) -> None:
    """Per step, entered = passed + exited + waiting; every ended instance exited at exactly one
    step (an exit, or the wait where a goal was met); steps are named by their label or by what
    they do, never by a generated id."""
    doc, _ = _json(cli, dormant_args())
    funnel = doc["funnel"]
    steps = funnel["steps"]
    assert list(steps) == list(funnel["nodes"])
    for nid, step in steps.items():
        assert step["entered"] == funnel["nodes"][nid]
        assert step["entered"] == step["passed"] + step["exited"] + step["waiting"]
    assert sum(s["exited"] for s in steps.values()) == funnel["entered"] - funnel["running"]
    # The goal 'reactivated' ends an instance while it waits for the registration.
    assert funnel["outcomes"]["reactivated"] == 1
    assert steps["wait_for_offer_registered"]["exited"] == 1
    assert steps["choose_chosen"]["name"] == "choose chosen from reactivation"
    assert sum(steps["choose_chosen"]["offers"].values()) == steps["choose_chosen"]["entered"]
    assert steps["exit_no_engagement"]["name"] == "exit no_engagement"


@pytest.mark.parametrize("policies", [(), ("--policies", str(EVENTS.parent / "policies.yaml"))])
def test_a_goal_met_while_waiting_is_an_exit_at_the_wait_whatever_was_delivered(
    cli: Cli, tmp_path: Path, policies: tuple[str, ...]
) -> None:
    """A dormant customer without consent (their offers suppressed; under policies, every
    delivery decision noted) spends while waiting for the registration: the funnel counts the
    exit at the wait, not at a send whose delivery was logged after the wait began."""
    events = tmp_path / "events.jsonl"
    spend = {"amount": 100_000, "currency": "VND", "merchant": "Tiki", "category": "shopping"}
    rows: list[dict[str, Any]] = [
        {"customer_id": "d-x", "type": "card_activated", "at": "2025-01-02T10:00:00+07:00"},
        {"customer_id": "d-x", "type": "transaction", "at": "2025-01-03T10:00:00+07:00"},
        {"customer_id": "d-x", "type": "transaction", "at": "2025-04-04T12:00:00+07:00"},
    ]
    for row in rows:
        row["data"] = {"card_id": "k"} if row["type"] == "card_activated" else spend
    events.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    argv = ["simulate", DORMANT, "--events", str(events), *policies]
    doc, _ = _json(cli, [*argv, "--until", "2025-05-01T00:00:00+07:00"])
    assert doc["funnel"]["outcomes"]["reactivated"] == 1
    exited = {nid: s["exited"] for nid, s in doc["funnel"]["steps"].items() if s["exited"]}
    assert exited == {"wait_for_offer_registered": 1}
    assert any(a["kind"] == "suppressed" for a in doc["actions"])


def test_the_time_range_is_shown_in_the_journeys_zone(cli: Cli) -> None:
    """A --start and --until written in UTC are shown in the journey's zone, in text and HTML."""
    args = onboarding_args("--start", "2026-01-04T17:00:00Z", "--until", "2026-01-20T03:00:00Z")
    code, out, err = cli(*args)
    assert code == 0, err
    shown = "2026-01-05 00:00 +07:00 → 2026-01-20 10:00 +07:00"
    assert shown in out.splitlines()[1]
    code, page, err = cli(*args, "--format", "html")
    assert code == 0, err
    assert shown in page


def test_vietnamese_text_matches_whichever_way_its_tone_marks_were_typed(
    cli: Cli, tmp_path: Path
) -> None:
    """A journey's literal and the profiles and events it is compared with may spell a
    Vietnamese letter composed (NFC) or with combining marks (NFD): "Hà Nội" is one city and
    "Phở Thìn" one merchant for `==`, `in` and `switch`, in every mix of the two."""
    import unicodedata

    def nfd(text: str) -> str:
        return unicodedata.normalize("NFD", text)

    example_catalogs_in(tmp_path)
    (tmp_path / "j.journey").write_text(
        "journey city version 1\n"
        'uses events "events.yaml"\n'
        "outcomes hanoi, pho, other\n"
        "entry on transaction\n"
        'if profile.city == "Hà Nội" { exit hanoi }\n'
        f'if trigger.merchant in ["{nfd("Phở Thìn")}"] {{ exit pho }}\n'
        "switch trigger.merchant {\n"
        '  case "Phở Thìn" { exit pho }\n'
        "  else { exit other }\n"
        "}\n",
        encoding="utf-8",
    )
    rows = [
        ("c-1", "Hà Nội", "x"),
        ("c-2", nfd("Hà Nội"), "x"),
        ("c-3", "Huế", "Phở Thìn"),
        ("c-4", "Huế", nfd("Phở Thìn")),
        ("c-5", "Huế", "Bún chả"),
    ]
    events = tmp_path / "events.jsonl"
    profiles = tmp_path / "profiles.jsonl"
    at = "2026-01-05T10:00:00+07:00"
    events.write_text(
        "".join(
            json.dumps(
                {
                    "customer_id": c,
                    "type": "transaction",
                    "at": at,
                    "data": {
                        "amount": 1000,
                        "currency": "VND",
                        "merchant": m,
                        "category": "dining",
                    },
                },
                ensure_ascii=False,
            )
            + "\n"
            for c, _, m in rows
        ),
        encoding="utf-8",
    )
    profiles.write_text(
        "".join(
            json.dumps({"customer_id": c, "attributes": {"city": city}}, ensure_ascii=False) + "\n"
            for c, city, _ in rows
        ),
        encoding="utf-8",
    )
    doc, _ = _json(
        cli,
        [
            "simulate",
            str(tmp_path / "j.journey"),
            "--events",
            str(events),
            "--profiles",
            str(profiles),
        ],
    )
    outcomes = {i["customer_id"]: i["outcome"] for i in doc["instances"]}
    assert outcomes == {"c-1": "hanoi", "c-2": "hanoi", "c-3": "pho", "c-4": "pho", "c-5": "other"}


#: A journey whose title and condition hold text that reads as rich markup.
BRACKETS = (
    'journey brackets version 1\ntitle "Plan [/] [bold]B"\n'
    f"{USES}outcomes gold, other\nentry on card_issued\n"
    'if trigger.product == "[/bold] [red]x" {\n  exit gold\n}\nexit other\n'
)


@pytest.mark.parametrize("compare", [False, True])
def test_text_that_reads_as_markup_is_printed_as_written(
    cli: Cli, tmp_path: Path, compare: bool
) -> None:
    """Text that reads as rich markup (a condition's string, a folder's name) prints as written."""
    folder = tmp_path / "[bold]plans"
    folder.mkdir()
    journey = example_catalogs_in(folder) / "brackets.journey"
    journey.write_text(BRACKETS, encoding="utf-8")
    args = ["simulate", str(journey), "--events", str(EVENTS / "onboarding.jsonl")]
    code, out, err = cli(*args, *(["--compare", str(journey)] if compare else []))
    assert code == 0, err
    if compare:
        assert f"  base   brackets v1  {journey}" in out
    else:
        assert 'if trigger.product == "[/bold] [red]x"' in out


#: A journey whose first step fails for every customer (no profile has a credit limit).
FAILING = (
    f"journey failing version 1\n{USES}outcomes done\nentry on card_issued\n"
    "set doubled = profile.credit_limit * 2\nexit done\n"
)


def test_an_instance_that_fails_at_a_step_exits_there_in_the_funnel(
    cli: Cli, tmp_path: Path
) -> None:
    """The step an instance failed at counts it as entered and exited: the exits add up."""
    journey = example_catalogs_in(tmp_path) / "failing.journey"
    journey.write_text(FAILING, encoding="utf-8")
    doc, _ = _json(cli, ["simulate", str(journey), "--events", str(EVENTS / "onboarding.jsonl")])
    funnel = doc["funnel"]
    assert funnel["outcomes"] == {"done": 0, "error": 5}
    assert funnel["steps"]["set_doubled"] == {
        "name": "set doubled",
        "entered": 5,
        "passed": 0,
        "exited": 5,
        "waiting": 0,
    }
    assert funnel["nodes"]["set_doubled"] == 5
    assert sum(s["exited"] for s in funnel["steps"].values()) == funnel["entered"]


def test_a_run_across_a_change_of_the_clocks_shows_its_local_times_and_days(
    cli: Cli, tmp_path: Path
) -> None:
    """A Berlin journey's 60 days from 1 March end at midnight summer time, shown as 60 days."""
    source = Path(ONBOARDING).read_text(encoding="utf-8")
    berlin = source.replace('timezone "Asia/Ho_Chi_Minh"', 'timezone "Europe/Berlin"')
    assert berlin != source
    journey = example_catalogs_in(tmp_path) / "berlin.journey"
    journey.write_text(berlin, encoding="utf-8")
    args = ["simulate", str(journey), "--events", str(EVENTS / "onboarding.jsonl")]
    code, out, err = cli(*args, "--start", "2026-03-01", "--days", "60")
    assert code == 0, err
    assert "2026-03-01 00:00 +01:00 → 2026-04-30 00:00 +02:00 (60 days)" in out.splitlines()[1]


def test_days_are_the_journeys_calendar_days_whatever_offset_the_events_carry(
    cli: Cli, tmp_path: Path
) -> None:
    """Events written in UTC, a Berlin journey: the run starts at the first event's local time
    and --days 30 ends 30 days later on the Berlin clock, across the change of the clocks."""
    source = Path(ONBOARDING).read_text(encoding="utf-8")
    journey = example_catalogs_in(tmp_path) / "berlin.journey"
    journey.write_text(source.replace("Asia/Ho_Chi_Minh", "Europe/Berlin"), encoding="utf-8")
    events = tmp_path / "march.jsonl"
    events.write_text(
        '{"customer_id": "c-1", "type": "card_issued", "at": "2026-03-05T03:00:00Z", '
        '"data": {"card_id": "k-1", "product": "gold"}}\n',
        encoding="utf-8",
    )
    code, out, err = cli("simulate", str(journey), "--events", str(events), "--days", "30")
    assert code == 0, err
    assert "2026-03-05 04:00 +01:00 → 2026-04-04 04:00 +02:00 (30 days)" in out.splitlines()[1]
