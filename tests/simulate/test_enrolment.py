"""Enrolment in scenario tests and simulations: a `test` case's `enrol:` entries enter customers
into the journey from code at their time, as `Engine.enroll` does (re-entry rules apply); a
journey with `entry manual` can be tested without being rewritten as an event entry."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.compiler import compile_source
from journeydsl.simulate.driver import Enrolment, Simulation
from journeydsl.simulate.scenarios import run_file
from tests.catalogs import example_catalogs_in
from tests.runtime.scenario import EXAMPLES, local, profile

CALLBACK = """journey telesales_callback
uses events "events.yaml"
uses templates "templates.yaml"
outcomes handed_over

entry manual
  reentry after 30d

ticket telesales priority high { reason: "crm_list" }
exit handed_over
"""

TESTS = """journey: callback.journey
cases:
  - name: two customers from the CRM list, one of them twice within 30 days
    enrol:
      - {customer_id: c1, at: "2026-02-02T09:00:00+07:00", data: {list: feb}}
      - {customer_id: c2, at: "2026-02-02 10:00", data: {list: feb}}
      - {customer_id: c1, at: "2026-02-20T09:00:00+07:00", data: {list: feb-again}}
    expect:
      actions:
        - {at: "2026-02-02 09:00", customer_id: c1, kind: ticket, payload: {reason: crm_list}}
        - {at: "2026-02-02 10:00", customer_id: c2, kind: ticket, queue: telesales}
      outcomes: {c1: handed_over, c2: handed_over}
"""


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    (tmp_path / "callback.journey").write_text(CALLBACK, encoding="utf-8")
    (tmp_path / "callback.test.yaml").write_text(TESTS, encoding="utf-8")
    example_catalogs_in(tmp_path)
    return tmp_path


def test_a_test_case_enrols_customers_at_their_times(folder: Path) -> None:
    """The case passes: each enrolment opens its ticket at its own time (local time without an
    offset is the journey's zone), and re-entry within 30 days is refused."""
    (result,) = run_file(folder / "callback.test.yaml")
    assert result.problems == []
    assert result.ok


def test_journeydsl_test_reports_a_wrong_expectation_about_an_enrolment(
    folder: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Expecting c1's second enrolment to open a ticket fails the case, with the diff."""
    text = TESTS.replace(
        "outcomes: {c1: handed_over, c2: handed_over}", "outcomes: {c1: [handed_over, handed_over]}"
    )
    (folder / "callback.test.yaml").write_text(text, encoding="utf-8")
    assert main(["test", str(folder / "callback.test.yaml")]) == 1
    assert (
        "outcome of c1: expected handed_over, handed_over, got handed_over"
        in capsys.readouterr().out
    )


def test_a_bad_enrolment_time_is_reported_at_its_line(folder: Path) -> None:
    """An enrolment time that is not a time names the file and the entry's line."""
    from journeydsl.yamlfile import InputError

    text = TESTS.replace('"2026-02-02 10:00"', "soon")
    (folder / "callback.test.yaml").write_text(text, encoding="utf-8")
    with pytest.raises(InputError) as found:
        run_file(folder / "callback.test.yaml")
    assert "callback.test.yaml:6" in str(found.value)


def test_a_simulation_takes_enrolments_and_counts_refusals() -> None:
    """Simulation.enrol: enrolled and refused (re-entry) are counted; an unknown journey is a
    clear error."""
    journey = compile_source(CALLBACK, "callback.journey", base_dir=EXAMPLES).journey
    assert journey is not None
    start = local("2026-02-01 00:00")
    sim = Simulation([journey], [profile("c1")], start=start, until=start + timedelta(days=40))
    for day in (1, 10, 35):
        sim.enrol(start + timedelta(days=day), Enrolment("c1", journey.id, {"list": str(day)}))
    result = sim.run()
    assert (sim.stats.enrolled, sim.stats.enrolment_refused) == (2, 1)
    tickets = [a["at"][:10] for a in result.actions_json(journey.id)]
    assert tickets == ["2026-02-02", "2026-03-08"]
    with pytest.raises(ValueError, match="no journey 'other'"):
        sim.enrol(start, Enrolment("c1", "other"))
    assert isinstance(start, datetime)


def test_a_test_file_whose_journey_does_not_compile_names_the_first_error(folder: Path) -> None:
    """The refusal shows the journey's first error as check writes it, not an object dump."""
    from journeydsl.yamlfile import InputError

    (folder / "callback.journey").write_text(
        CALLBACK.replace("ticket telesales", "ticket"), encoding="utf-8"
    )
    with pytest.raises(InputError) as found:
        run_file(folder / "callback.test.yaml")
    text = str(found.value)
    assert "the journey does not compile: " in text
    assert "callback.journey:9:" in text
    assert "Diagnostic(" not in text


@pytest.mark.parametrize("workers", ["1", "2"])
def test_simulate_enrols_from_a_file(
    folder: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    """`simulate --events … --enrol FILE`: each line enters its customer at its time (with one
    worker or several), a bad line is reported by line and skipped."""
    import json

    (folder / "events.jsonl").write_text("", encoding="utf-8")
    lines = [
        {"customer_id": "c1", "at": "2026-02-02T09:00:00+07:00"},
        {"customer_id": "c2", "at": "2026-02-03 09:00", "data": {"list": "feb"}},
        {"at": "2026-02-03 09:00"},
    ]
    (folder / "enrol.jsonl").write_text(
        "".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8"
    )
    code = main(
        [
            "simulate",
            str(folder / "callback.journey"),
            "--events",
            str(folder / "events.jsonl"),
            "--enrol",
            str(folder / "enrol.jsonl"),
            "--days",
            "5",
            "--workers",
            workers,
            "--format",
            "json",
        ]
    )
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "enrol.jsonl:3: enrolment skipped: expected" in err
    doc = json.loads(out)
    tickets = [(a["customer_id"], a["at"]) for a in doc["actions"] if a["kind"] == "ticket"]
    assert tickets == [("c1", "2026-02-02T09:00:00+07:00"), ("c2", "2026-02-03T09:00:00+07:00")]


def test_enrol_is_for_recorded_mode(capsys: pytest.CaptureFixture[str], folder: Path) -> None:
    """--enrol with a synthetic population is a usage error."""
    code = main(
        [
            "simulate",
            str(folder / "callback.journey"),
            "--population",
            "10",
            "--behaviour",
            str(EXAMPLES / "behaviour" / "onboarding.yaml"),
            "--enrol",
            str(folder / "callback.test.yaml"),
        ]
    )
    assert code == 2
    assert "--enrol is for recorded mode" in capsys.readouterr().err


def test_simulate_skips_an_enrolment_whose_data_the_entry_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`simulate --enrol`: a line whose data lacks what the journey's entry expects is skipped
    with its line and the reason (it raised a ValueError out of the run); the others enter."""
    import json

    events = tmp_path / "events.jsonl"
    events.write_text("", encoding="utf-8")
    lines = [
        {"customer_id": "c1", "at": "2026-02-02T09:00:00+07:00", "data": {}},
        {
            "customer_id": "c2",
            "at": "2026-02-02T09:00:00+07:00",
            "data": {"card_id": "k2", "reason": "dormant"},
        },
    ]
    enrol = tmp_path / "enrol.jsonl"
    enrol.write_text("".join(json.dumps(x) + "\n" for x in lines), encoding="utf-8")
    journey = Path(__file__).resolve().parents[2] / "examples" / "activation_call.journey"
    argv = ["simulate", str(journey), "--events", str(events), "--enrol", str(enrol)]
    code = main([*argv, "--days", "5", "--format", "json"])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"{enrol}:1: enrolment skipped: journey 'activation_call' expects" in err
    assert "Traceback" not in err
    entered = {i["customer_id"] for i in json.loads(out)["instances"]}
    assert entered == {"c2"}


DATED = """journey dated_call
uses events "events.yaml"
uses templates "templates.yaml"
outcomes handed_over

entry manual with { limit: money(VND), due: date }
  reentry always

ticket telesales priority high { reason: "crm_list", due: due }
exit handed_over
"""

DATED_TESTS = """journey: dated.journey
cases:
  - name: the CRM list gives a limit and a date
    enrol:
      - {customer_id: c1, at: "2026-02-02 09:00", data: {limit: "5_000_000 VND", due: "2026-02-28"}}
      - {customer_id: c2, at: "2026-02-02 10:00", data: {limit: 7000000, due: "2026-03-31"}}
    expect:
      actions:
        - {at: "2026-02-02 09:00", customer_id: c1, kind: ticket, payload: {due: "2026-02-28"}}
        - {at: "2026-02-02 10:00", customer_id: c2, kind: ticket, payload: {due: "2026-03-31"}}
      outcomes: {c1: handed_over, c2: handed_over}
"""


def test_a_test_case_enrols_with_an_amount_and_a_date(tmp_path: Path) -> None:
    """`enrol:` data gives a manual entry's declared amount (written as in the rest of the file)
    and date; the case runs and passes."""
    (tmp_path / "dated.journey").write_text(DATED, encoding="utf-8")
    (tmp_path / "dated.test.yaml").write_text(DATED_TESTS, encoding="utf-8")
    example_catalogs_in(tmp_path)
    (result,) = run_file(tmp_path / "dated.test.yaml")
    assert result.problems == []
    assert result.ok


@pytest.mark.parametrize(
    ("old", "new", "says"),
    [
        ('due: "2026-03-31"}}', 'due: "2026-02-30"}}', "field 'due': '2026-02-30' is not a date"),
        ("limit: 7000000, ", "", "field 'limit' is missing"),
        ("limit: 7000000", 'limit: "7 USD"', "field 'limit'"),
    ],
)
def test_enrolment_data_the_entry_refuses_makes_the_file_invalid_at_the_data(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], old: str, new: str, says: str
) -> None:
    """`journeydsl test`: an `enrol:` entry whose data the journey's entry refuses is an error at
    the data's line and column (it raised a ValueError out of the run, a traceback)."""
    (tmp_path / "dated.journey").write_text(DATED, encoding="utf-8")
    test_file = tmp_path / "dated.test.yaml"
    text = DATED_TESTS.replace(old, new)
    test_file.write_text(text, encoding="utf-8")
    example_catalogs_in(tmp_path)
    code = main(["test", str(test_file)])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    column = text.splitlines()[5].index("data: ") + len("data: ") + 1
    assert f"{test_file}:6:{column}: error: journey 'dated_call' expects" in err
    assert says in err


def test_simulation_enrol_refuses_data_the_entry_refuses_at_once(tmp_path: Path) -> None:
    """`Simulation.enrol` with data the journey's entry refuses is a ValueError naming where it
    came from, at the call (it was raised out of `run()`, halfway through the simulation)."""
    example_catalogs_in(tmp_path)
    journey = compile_source(DATED, "dated.journey", base_dir=tmp_path).journey
    assert journey is not None
    start = local("2026-02-01 00:00")
    sim = Simulation([journey], [profile("c1")], start=start, until=start + timedelta(days=5))
    bad = Enrolment("c1", journey.id, {"limit": 5_000_000, "due": "31/03/2026"})
    with pytest.raises(ValueError, match=r"crm\.csv:7: .*field 'due': '31/03/2026' is not a date"):
        sim.enrol(start + timedelta(days=1), bad, "crm.csv:7")
    sim.enrol(
        start + timedelta(days=1), Enrolment("c1", journey.id, {**bad.data, "due": "2026-03-31"})
    )
    assert [a["kind"] for a in sim.run().actions_json(journey.id)] == ["ticket"]
