"""Several journeys run together (`simulate J1 J2 …`, test files with `journeys:`): one engine,
shared policies and contact history, reported per journey and in total."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.catalogs import example_catalogs_in
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, ONBOARDING, Cli

BINDING = str(EXAMPLES / "card_wallet_binding.journey")
DORMANT = str(EXAMPLES / "dormant_reactivation.journey")
SEVERAL = Path(__file__).parent / "fixtures" / "several"
CAPS = str(SEVERAL / "one_marketing_a_week.yaml")


def _simulate(cli: Cli, *journeys: str, policies: bool = True) -> dict[str, Any]:
    args = [
        "simulate",
        *journeys,
        "--events",
        str(SEVERAL / "events.jsonl"),
        "--profiles",
        str(SEVERAL / "profiles.jsonl"),
        "--days",
        "20",
        "--format",
        "json",
        *(("--policies", CAPS) if policies else ()),
    ]
    code, out, err = cli(*args)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def _capped(actions: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (a["customer_id"], a["template"])
        for a in actions
        if a["kind"] == "suppressed" and "one_marketing_message_a_week" in a["reason"]
    ]


def test_a_cross_journey_cap_changes_the_result_of_running_together(cli: Cli) -> None:
    """Apart, each journey stays under the weekly cap; together, binding's reminder to m-1 (who
    already had onboarding's promotion) is dropped, and m-2 (binding only) still gets it."""
    apart_binding = _simulate(cli, BINDING)
    apart_onboarding = _simulate(cli, ONBOARDING)
    assert _capped(apart_binding["actions"]) == []
    assert ("m-1", "wallet_binding_reminder") not in _capped(apart_onboarding["actions"])
    together = _simulate(cli, ONBOARDING, BINDING)
    capped = _capped(together["actions"])
    assert ("m-1", "wallet_binding_reminder") in capped
    assert ("m-2", "wallet_binding_reminder") not in capped
    reminders = [
        a["customer_id"]
        for a in together["actions"]
        if a["kind"] == "send" and a["template"] == "wallet_binding_reminder"
    ]
    assert reminders == ["m-2"]
    # Without the policies the two journeys do not interfere.
    free = _simulate(cli, ONBOARDING, BINDING, policies=False)
    assert _capped(free["actions"]) == []


def test_the_document_has_each_journey_and_every_row_names_its_journey(cli: Cli) -> None:
    """`journeys` holds journey, version, funnel, outcomes and entries per journey; actions and
    instances are combined, each with its journey; `total` adds them up."""
    doc = _simulate(cli, ONBOARDING, BINDING)
    assert list(doc) == ["journeys", "actions", "instances", "total"]
    assert [j["journey"] for j in doc["journeys"]] == [
        "onboarding_new_cardholder",
        "card_wallet_binding",
    ]
    for part in doc["journeys"]:
        assert list(part) == ["journey", "version", "funnel", "outcomes", "entries", "policies"]
        assert part["outcomes"] == part["funnel"]["outcomes"]
    assert doc["journeys"][1]["entries"] == {"instances": 2, "customers": 2, "reentries": 0}
    assert {a["journey"] for a in doc["actions"]} == {
        "onboarding_new_cardholder",
        "card_wallet_binding",
    }
    assert all(list(a)[:4] == ["at", "customer_id", "journey", "node"] for a in doc["actions"])
    # m-1's card_issued and card_approved come at 10:00: the actions keep the order they
    # happened in (the journeys' order), not the single-journey order by node.
    assert [(a["journey"], a["node"]) for a in doc["actions"][:2]] == [
        ("onboarding_new_cardholder", "welcome"),
        ("card_wallet_binding", "guide"),
    ]
    assert sorted((i["customer_id"], i["journey"]) for i in doc["instances"]) == [
        ("m-1", "card_wallet_binding"),
        ("m-1", "onboarding_new_cardholder"),
        ("m-2", "card_wallet_binding"),
    ]
    total = doc["total"]
    assert total["entered"] == 3
    assert total["customers"] == 2
    sends = sum(1 for a in doc["actions"] if a["kind"] == "send")
    assert sum(total["sent"].values()) == sends


def test_one_journey_keeps_the_single_journey_document(cli: Cli) -> None:
    """With one journey the JSON is the single-journey contract, without `journeys`."""
    doc = _simulate(cli, BINDING)
    assert list(doc) == ["journey", "version", "actions", "instances", "funnel", "policies"]


def test_segment_journeys_report_reentries_apart_from_customers(cli: Cli, tmp_path: Path) -> None:
    """A daily segment journey that re-enters counts its instances, customers and re-entries."""
    text = Path(DORMANT).read_text(encoding="utf-8").replace("reentry after 180d", "reentry always")
    always = example_catalogs_in(tmp_path) / "dormant_always.journey"
    always.write_text(text.replace("journey dormant_reactivation", "journey dormant_always"))
    code, out, err = cli(
        "simulate",
        str(always),
        BINDING,
        "--population",
        "12",
        "--behaviour",
        str(BEHAVIOUR / "dormant.yaml"),
        "--seed",
        "3",
        "--days",
        "20",
        "--format",
        "json",
    )
    assert code == 0, err
    parts = {p["journey"]: p for p in json.loads(out)["journeys"]}
    entries = parts["dormant_always"]["entries"]
    assert entries["customers"] <= 12
    assert entries["reentries"] == entries["instances"] - entries["customers"] > 0
    assert parts["card_wallet_binding"]["entries"]["instances"] == 0


def test_the_text_report_shows_each_journey_and_the_total(cli: Cli) -> None:
    """The text report has both journeys' reports and the table of all journeys together."""
    code, out, _ = cli(
        "simulate",
        ONBOARDING,
        BINDING,
        "--events",
        str(SEVERAL / "events.jsonl"),
        "--profiles",
        str(SEVERAL / "profiles.jsonl"),
        "--days",
        "20",
        "--policies",
        CAPS,
    )
    assert code == 0
    assert out.index("onboarding_new_cardholder v1") < out.index("card_wallet_binding v1")
    table = out[out.index("All journeys together") :]
    rows = {line.split()[0]: line.split()[1:] for line in table.splitlines()[3:] if line.strip()}
    assert rows["onboarding_new_cardholder"][:3] == ["1", "1", "0"]
    assert rows["card_wallet_binding"][:3] == ["2", "2", "0"]
    assert rows["total"][:2] == ["3", "2"]


def test_several_journeys_refuse_compare_html_and_workers(cli: Cli) -> None:
    """Options that take one journey are usage errors (exit 2) with several."""
    base = ["simulate", ONBOARDING, BINDING, "--events", str(SEVERAL / "events.jsonl")]
    for extra, message in [
        (["--compare", BINDING], "--compare takes one journey"),
        (["--format", "html"], "several journeys report as text or json"),
        (["--workers", "2"], "leave out --workers"),
    ]:
        code, _, err = cli(*base, *extra)
        assert code == 2
        assert message in err
    code, _, err = cli(
        "simulate", ONBOARDING, ONBOARDING, "--events", str(SEVERAL / "events.jsonl")
    )
    assert code == 2
    assert "a journey file is given twice" in err


def _test_folder(tmp_path: Path) -> Path:
    folder = example_catalogs_in(tmp_path)
    for name in ("onboarding_new_cardholder.journey", "card_wallet_binding.journey"):
        shutil.copyfile(EXAMPLES / name, folder / name)
    shutil.copyfile(SEVERAL / "one_marketing_a_week.yaml", folder / "one_marketing_a_week.yaml")
    text = (SEVERAL / "together.test.yaml").read_text(encoding="utf-8")
    path = folder / "together.test.yaml"
    path.write_text(text.replace("../../../../examples/", ""), encoding="utf-8")
    return path


def test_a_test_file_runs_its_journeys_together_under_its_policies(
    cli: Cli, tmp_path: Path
) -> None:
    """together.test.yaml pins the dropped reminder; without its policies, the same case fails
    (the reminder is sent): the cap across journeys is what changes the result."""
    path = _test_folder(tmp_path)
    code, out, _ = cli("test", str(path))
    assert code == 0, out
    assert "1 case: 1 passed, 0 failed" in out
    path.write_text(
        path.read_text(encoding="utf-8").replace("policies: one_marketing_a_week.yaml\n", "")
    )
    code, out, _ = cli("test", str(path))
    assert code == 1
    assert "+2026-01-08 10:00  customer_id=m-1 journey=card_wallet_binding kind=send" in out


def test_a_test_file_names_one_journey_or_several(cli: Cli, tmp_path: Path) -> None:
    """`journey` and `journeys` together, or an enrolment without its journey, are errors at
    their lines."""
    path = _test_folder(tmp_path)
    text = path.read_text(encoding="utf-8")
    path.write_text("journey: card_wallet_binding.journey\n" + text, encoding="utf-8")
    code, _, err = cli("test", str(path))
    assert code == 1
    assert "name the journey ('journey: FILE') or 'journeys: [FILE, …]'" in err
    enrol = "    enrol: [{customer_id: m-3, at: '2026-01-05T10:00:00+07:00'}]\n"
    path.write_text(text.replace("    expect:\n", enrol + "    expect:\n"), encoding="utf-8")
    code, _, err = cli("test", str(path))
    assert code == 1
    assert "name the journey to enrol into: one of onboarding_new_cardholder, card_wallet" in err


def _synthetic(cli: Cli, *journeys: str) -> dict[str, Any]:
    code, out, err = cli(
        "simulate",
        *journeys,
        "--population",
        "30",
        "--behaviour",
        str(SEVERAL / "both.yaml"),
        "--seed",
        "2",
        "--days",
        "20",
        "--policies",
        CAPS,
        "--format",
        "json",
    )
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def test_a_synthetic_population_lives_through_both_journeys(cli: Cli) -> None:
    """One population in both journeys: the weekly cap drops every binding reminder (onboarding's
    promotion came first); run apart, every customer gets it. Cost adds up over both."""
    apart = _synthetic(cli, BINDING)
    assert _capped(apart["actions"]) == []
    assert sum(1 for a in apart["actions"] if a["template"] == "wallet_binding_reminder") == 30
    together = _synthetic(cli, ONBOARDING, BINDING)
    capped = _capped(together["actions"])
    assert [t for _, t in capped].count("wallet_binding_reminder") == 30
    reminders = [a for a in together["actions"] if a["template"] == "wallet_binding_reminder"]
    assert all(a["kind"] == "suppressed" for a in reminders)
    total = together["total"]
    assert total["customers"] == 30
    assert total["entered"] == 60
    assert total["cost_vnd"] == str(20 * total["sent"]["email"])


def test_csv_writes_each_journeys_tables_and_the_total(cli: Cli, tmp_path: Path) -> None:
    """--csv DIR with several journeys writes each journey's tables in DIR/JOURNEY_ID/, as one
    journey's run writes them, and journeys.csv with the table of all journeys together (it
    was ignored: exit 0 and nothing written)."""
    folder = tmp_path / "csv"
    args = [
        "--events",
        str(SEVERAL / "events.jsonl"),
        "--profiles",
        str(SEVERAL / "profiles.jsonl"),
    ]
    args += ["--days", "20", "--policies", CAPS, "--csv"]
    code, _, err = cli("simulate", ONBOARDING, BINDING, *args, str(folder))
    assert code == 0, err
    tables = {"funnel", "outcomes", "messages", "suppression_reasons", "tickets", "rewards"}
    for journey in ("onboarding_new_cardholder", "card_wallet_binding"):
        assert {p.stem for p in (folder / journey).iterdir()} == tables
    assert (folder / "journeys.csv").read_text(encoding="utf-8").splitlines() == [
        "journey,instances,customers,reentries,sent,suppressed",
        "onboarding_new_cardholder,1,1,0,3,2",
        "card_wallet_binding,2,2,0,3,1",
        "total,3,2,,6,3",
    ]
    alone = tmp_path / "alone"
    code, _, err = cli("simulate", BINDING, *args, str(alone))
    assert code == 0, err
    # Run together, m-1's binding reminder is capped; run alone, it is sent.
    ours = (folder / "card_wallet_binding" / "messages.csv").read_text(encoding="utf-8")
    theirs = (alone / "messages.csv").read_text(encoding="utf-8")
    assert ours.splitlines()[1:] == ["email,2,0,0", "push,1,1,0"]
    assert theirs.splitlines()[1:] == ["email,2,0,0", "push,2,0,0"]


_PLAIN = """journey plain_welcome version 1
uses events "events_plain.yaml"
uses templates "templates.yaml"
outcomes done

entry on card_issued

send email welcome_activation_guide { card_id: trigger.card_id, product: trigger.product }
exit done
"""

_LIMIT = """journey high_limit version 1
uses events "events.yaml"
uses templates "templates.yaml"
outcomes high, low

entry on card_issued

if profile.credit_limit >= 20_000_000 VND {
  send email new_cardholder_promotions
  exit high
}
exit low
"""


def _two_catalogs(folder: Path) -> tuple[str, str]:
    """Two journeys whose catalogs differ: only the second declares `credit_limit`."""
    example_catalogs_in(folder)
    lines = (folder / "events.yaml").read_text(encoding="utf-8").splitlines()
    plain = [line for line in lines if line != "  credit_limit: {type: money, currency: VND}"]
    assert len(plain) == len(lines) - 1
    (folder / "events_plain.yaml").write_text("\n".join(plain) + "\n", encoding="utf-8")
    (folder / "plain.journey").write_text(_PLAIN, encoding="utf-8")
    (folder / "limit.journey").write_text(_LIMIT, encoding="utf-8")
    return str(folder / "plain.journey"), str(folder / "limit.journey")


def test_profiles_are_checked_against_every_journeys_attributes(cli: Cli, tmp_path: Path) -> None:
    """A profile attribute of the wrong type for the second journey's catalog is refused with its
    line, as when that journey runs alone (it was let through, and the instance ended in error)."""
    plain, limit = _two_catalogs(tmp_path)
    events = tmp_path / "events.jsonl"
    events.write_text(
        '{"customer_id": "c-1", "type": "card_issued", "at": "2026-01-05T10:00:00+07:00", '
        '"data": {"card_id": "k-1", "product": "gold"}}\n',
        encoding="utf-8",
    )
    profiles = tmp_path / "profiles.jsonl"
    profiles.write_text(
        '{"customer_id": "c-1", "attributes": {"credit_limit": "lots"}, '
        '"consent": {"email": true}}\n',
        encoding="utf-8",
    )
    for journeys in ([limit], [plain, limit]):
        args = ["--events", str(events), "--profiles", str(profiles), "--format", "json"]
        code, out, err = cli("simulate", *journeys, *args)
        assert code == 0, err
        assert f"{profiles}:1: profile skipped: attribute 'credit_limit' must be an amount" in err
        doc = json.loads(out)
        rows = doc.get("journeys", [doc])
        outcomes = {r["journey"]: r["funnel"]["outcomes"] for r in rows}
        assert outcomes["high_limit"] == {"high": 0, "low": 1}
