"""The customer a simulation command names (`simulate --trace`, `explain --customer`,
`preview --customer`) must be in the run: otherwise an error (exit 1, no report) that says so,
with the closest ids."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.cli import main
from journeydsl.cli.customers import PopulationIds, customer_problem
from journeydsl.simulate.behaviour import Behaviour

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
ONBOARDING = str(EXAMPLES / "onboarding_new_cardholder.journey")
DORMANT = str(EXAMPLES / "dormant_reactivation.journey")
RECORDED = (
    *("--events", str(EXAMPLES / "events" / "onboarding.jsonl")),
    *("--profiles", str(EXAMPLES / "events" / "onboarding_profiles.jsonl")),
)
SYNTHETIC = (
    *("--population", "50", "--seed", "1"),
    *("--behaviour", str(EXAMPLES / "behaviour" / "onboarding.yaml")),
)


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.mark.parametrize(
    "extra",
    [(), ("--workers", "2"), ("--format", "json"), ("--part", "1/2", "-o", "PART")],
    ids=["one", "workers", "json", "part"],
)
def test_simulate_trace_of_a_customer_not_in_the_run_is_an_error(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, extra: tuple[str, ...]
) -> None:
    """--trace c-0003 (the events have c-003): exit 1, nothing on stdout and no part file, and
    the error names the closest id, however the run is spread."""
    extra = tuple(str(tmp_path / "part.json") if e == "PART" else e for e in extra)
    code, out, err = _run(capsys, "simulate", ONBOARDING, *RECORDED, "--trace", "c-0003", *extra)
    assert code == 1
    assert out == ""
    assert err == (
        "journeydsl: error: no customer 'c-0003' in this simulation (not in the events, the "
        "profiles or the enrolments) — did you mean 'c-003'?\n"
    )
    assert not (tmp_path / "part.json").exists()


def test_simulate_trace_of_several_journeys_checks_the_customer(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Several journeys run together check the traced customer too."""
    code, out, err = _run(capsys, "simulate", ONBOARDING, DORMANT, *RECORDED, "--trace", "c-0003")
    assert code == 1
    assert out == ""
    assert "did you mean 'c-003'?" in err


def test_simulate_trace_of_a_known_customer_still_prints_the_timeline(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A customer of the run is traced as before (exit 0)."""
    code, out, _ = _run(capsys, "simulate", ONBOARDING, *RECORDED, "--trace", "c-003")
    assert code == 0
    assert "exit     onboarding_new_cardholder: spend_goal_met" in out


def test_a_synthetic_trace_suggests_the_id_with_that_number(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """In a population, c-42 (written without the zeros) is refused with the id it means and the
    range of the population's ids; c-0042 is traced."""
    code, out, err = _run(capsys, "simulate", ONBOARDING, *SYNTHETIC, "--trace", "c-42")
    assert code == 1
    assert out == ""
    assert err == (
        "journeydsl: error: no customer 'c-42' in this simulation (not in the population of "
        "50: c-0001 to c-0050) — did you mean 'c-0042'?\n"
    )
    code, out, _ = _run(capsys, "simulate", ONBOARDING, *SYNTHETIC, "--trace", "c-0042")
    assert code == 0
    assert "timeline of c-0042" in out


def test_explain_and_preview_of_a_synthetic_customer_not_in_the_population(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """explain and preview --customer of an id past the population's end are refused alike."""
    for command in (("explain",), ("preview", "welcome_activation_guide")):
        code, out, err = _run(
            capsys, command[0], ONBOARDING, *command[1:], *SYNTHETIC, "--customer", "c-0051"
        )
        assert code == 1
        assert out == ""
        assert "no customer 'c-0051' in this simulation (not in the population of 50" in err


def test_equally_close_ids_are_all_suggested_in_order() -> None:
    """Ids as close as the closest are suggested together, sorted; none close gives the count."""
    known = ["c-010", "c-001", "c-100", "d-777"]
    assert customer_problem("c-001", known) is None
    assert customer_problem("c-01", known) == (
        "no customer 'c-01' in this simulation (not in the events, the profiles or the "
        "enrolments) — did you mean 'c-001' or 'c-010'?"
    )
    assert customer_problem("zzzzzz", known) == (
        "no customer 'zzzzzz' in this simulation (not in the events, the profiles or the "
        "enrolments); it has 4 customers"
    )


def test_population_ids_are_known_without_listing_them() -> None:
    """A population's ids are its prefix and a number of the population's width, 1 to size."""
    ids = PopulationIds(Behaviour.model_construct(customer_prefix="c-"), 100_000_000)
    assert "c-000000042" in ids
    assert "c-100000000" in ids
    assert "c-42" not in ids
    assert "c-100000001" not in ids
    assert "x-000000042" not in ids
    assert "c-٤٢٠٠٠٠٠٠٠" not in ids  # (other digits than ASCII ones)
    assert ids.near("C-42") == ["c-000000042"]


def test_customers_without_a_profile_line_are_named_on_stderr(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A recorded run names the customers its profiles miss (they consent to no channel), and
    says nothing when every customer has one or with --default-consent."""
    lines = (EXAMPLES / "events" / "onboarding_profiles.jsonl").read_text(encoding="utf-8")
    two = tmp_path / "two.jsonl"
    two.write_text("".join(lines.splitlines(keepends=True)[:2]), encoding="utf-8")
    events = ("--events", str(EXAMPLES / "events" / "onboarding.jsonl"))
    out = ("-q", "-o", str(tmp_path / "r.txt"))
    code, _, err = _run(capsys, "simulate", ONBOARDING, *events, "--profiles", str(two), *out)
    assert code == 0
    assert f"note: 3 of 5 customers have no line in {two}: c-003, c-004, c-005; they consent" in err
    code, _, err = _run(capsys, "simulate", ONBOARDING, *events, *out)
    assert code == 0
    assert "note: 5 of 5 customers have no profile (no --profiles given): c-001, c-002" in err
    assert "c-003 and 2 more; they consent to no channel" in err
    assert _run(capsys, "simulate", ONBOARDING, *RECORDED, *out)[2] == ""
    assert _run(capsys, "simulate", ONBOARDING, *events, "--default-consent", *out)[2] == ""
