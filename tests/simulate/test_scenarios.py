"""`journeydsl test`: the shipped scenario files pass; a wrong expectation fails with a diff."""

from __future__ import annotations

import os
import re
import shutil
import threading
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from journeydsl.runtime.events import LATEST
from journeydsl.simulate.scenarios import action_matches, run_file
from journeydsl.yamlfile import InputError, load_document
from tests.catalogs import USES, example_catalogs_in
from tests.simulate.conftest import EXAMPLES, Cli

WRONG = """\
journey: {journey}
profiles:
  - customer_id: c-1
    attributes: {{has_digital_app: true}}
    consent: {{email: true, sms: true, zns: true, push: true}}
cases:
  - name: expects SMS where the journey pushes
    until: "2026-01-08T00:00:00+07:00"
    events:
      - customer_id: c-1
        type: card_issued
        at: "2026-01-05T10:00:00+07:00"
        data: {{card_id: k1, product: gold}}
    expect:
      actions:
        - {{at: "2026-01-05 10:00", kind: send, channel: email, template: welcome_activation_guide}}
        - {{at: "2026-01-07 10:00", kind: send, channel: sms, template: activation_reminder}}
      outcomes: {{c-1: not_activated}}
"""


def _write(tmp_path: Path, text: str) -> Path:
    """The test file ``text`` in ``tmp_path``, its journey (the onboarding example) beside it:
    a test file names a journey only inside its own folder (or --root)."""
    path = tmp_path / "wrong.test.yaml"
    journey = "onboarding_new_cardholder.journey"
    shutil.copyfile(EXAMPLES / journey, example_catalogs_in(tmp_path) / journey)
    path.write_text(text.format(journey=journey), encoding="utf-8")
    return path


def test_the_shipped_scenario_files_pass(cli: Cli) -> None:
    """examples/*.test.yaml cover every outcome of the example journeys and all pass (exit 0)."""
    code, out, err = cli("test", str(EXAMPLES))
    assert code == 0, out + err
    assert re.search(r"^(\d+) cases: \1 passed, 0 failed$", out, re.M), out
    for outcome in (
        "not_activated",
        "spend_goal_met",
        "spend_goal_missed",
        "registered",
        "high-priority",
        "normal-priority",
        "no_engagement",
        "reactivated",
        "- bound",
        "- retained",
        "- cancelled",
        "- not_bound",
        "is not accepted",
    ):
        assert outcome in out


def test_a_wrong_expectation_fails_with_a_timeline_diff(cli: Cli, tmp_path: Path) -> None:
    """The failing case names its line, shows - expected / + actual lines, and exits 1."""
    path = _write(tmp_path, WRONG)
    code, out, _ = cli("test", str(path))
    assert code == 1
    assert f"FAIL  {path}:7: expects SMS where the journey pushes" in out
    assert "-2026-01-07 10:00  kind=send channel=sms template=activation_reminder" in out
    assert "+2026-01-07 10:00  kind=send channel=push template=activation_reminder" in out
    assert " 2026-01-05 10:00  kind=send channel=email template=welcome_activation_guide" in out
    assert "outcome of c-1: expected not_activated, got running" in out
    assert "1 case: 0 passed, 1 failed" in out


def test_a_failing_expectation_is_reported_at_its_line_and_column(cli: Cli, tmp_path: Path) -> None:
    """The first expected action not met and a wrong outcome are each named file:line:col."""
    path = _write(tmp_path, WRONG)
    code, out, _ = cli("test", str(path))
    assert code == 1
    assert (
        f"  {path}:17:11: action 2 differs from the one expected in channel (expected 2, got 2):"
        in out
    )
    assert f"  {path}:18:23: outcome of c-1: expected not_activated, got running" in out


def test_actions_beyond_the_expected_ones_are_reported_at_the_actions_key(
    cli: Cli, tmp_path: Path
) -> None:
    """Every expected action met but more happened: the failure points at `actions:`."""
    text = WRONG.replace(
        '        - {{at: "2026-01-07 10:00", kind: send, channel: sms, '
        "template: activation_reminder}}\n",
        "",
    ).replace("c-1: not_activated", "c-1: running")
    path = _write(tmp_path, text)
    code, out, _ = cli("test", str(path))
    assert code == 1
    assert f"  {path}:15:7: 1 action more than expected (expected 1, got 2):" in out


def test_a_missing_action_is_reported_at_its_expectation(cli: Cli, tmp_path: Path) -> None:
    """An expected action past the last one that happened is named at its line and column."""
    text = WRONG.replace('until: "2026-01-08', 'until: "2026-01-06').replace(
        "c-1: not_activated", "c-1: running"
    )
    path = _write(tmp_path, text)
    code, out, _ = cli("test", str(path))
    assert code == 1
    assert f"  {path}:17:11: expected action 2 did not happen (expected 2, got 1):" in out


@pytest.mark.parametrize("expect", ["expect: {}", "expect: {outcomes: {}}"])
def test_a_case_that_expects_nothing_makes_the_file_invalid(
    cli: Cli, tmp_path: Path, expect: str
) -> None:
    """A case with neither actions nor outcomes to check is an error at its `expect`, exit 1."""
    spelt = expect.replace("{", "{{").replace("}", "}}")  # (WRONG is a format string)
    text = WRONG.split("    expect:")[0] + f"    {spelt}\n"
    path = _write(tmp_path, text)
    code, out, err = cli("test", str(path))
    assert code == 1
    assert f"{path}:14:5: error: the case expects nothing, so it passes whatever" in err
    assert "0 cases: 0 passed, 0 failed; 1 invalid file" in out


def test_the_diff_writes_expected_money_as_the_actual_money_is_written() -> None:
    """An expected `1_000_000 VND` shows as `1,000,000 VND`, so only the real difference shows."""
    from journeydsl.simulate.scenarios import timeline_diff

    money = {"amount": "1000000", "currency": "VND"}
    actual = [
        {
            "at": "2026-01-16T10:00:00+07:00",
            "kind": "send",
            "channel": "email",
            "params": {"threshold": money, "deadline": "2026-02-05"},
        }
    ]
    for written, shown in (("1_000_000 VND", "1,000,000 VND"), ("2_000_000 VND", "2,000,000 VND")):
        expected = [
            {
                "at": "2026-01-16 10:00",
                "kind": "send",
                "channel": "sms",
                "params": {"threshold": written},
            }
        ]
        diff = timeline_diff(expected, actual)
        assert f"-2026-01-16 10:00  kind=send channel=sms params={{threshold: {shown}}}" in diff
        assert (
            "+2026-01-16 10:00  kind=send channel=email params={threshold: 1,000,000 VND}" in diff
        )


def test_an_unexpected_error_outcome_says_why_the_instance_failed(cli: Cli, tmp_path: Path) -> None:
    """Expecting `done` of an instance that failed shows `error` with the reason it failed."""
    example_catalogs_in(tmp_path)
    (tmp_path / "failing.journey").write_text(
        f"journey failing version 1\n{USES}outcomes done\nentry on card_issued\n"
        "set doubled = profile.credit_limit * 2\nexit done\n",
        encoding="utf-8",
    )
    path = tmp_path / "failing.test.yaml"
    path.write_text(
        "journey: failing.journey\ncases:\n  - name: fails\n    events:\n"
        '      - {customer_id: c-1, type: card_issued, at: "2026-01-05T10:00:00+07:00", '
        "data: {card_id: k1, product: gold}}\n"
        "    expect: {outcomes: {c-1: done}}\n",
        encoding="utf-8",
    )
    code, out, _ = cli("test", str(path))
    assert code == 1
    assert (
        f"  {path}:6:30: outcome of c-1: expected done, got error (profile attribute "
        "'credit_limit' is absent for this customer" in out
    )


def test_an_invalid_test_file_names_its_line(cli: Cli, tmp_path: Path) -> None:
    """A mistake in the test file itself is reported as file:line:col and exits 1."""
    path = _write(tmp_path, WRONG.replace("    expect:", "    expected:"))
    code, _, err = cli("test", str(path))
    assert code == 1
    assert f"{path}:14:5: error: unknown field 'expected' in 'cases[0]' — did you mean " in err


def test_a_bad_event_in_a_test_file_names_its_line(cli: Cli, tmp_path: Path) -> None:
    """An event that does not match the catalog is reported at its line."""
    path = _write(tmp_path, WRONG.replace("product: gold", "product: 7"))
    code, _, err = cli("test", str(path))
    assert code == 1
    assert f"{path}:10:9: error: bad event: field 'product' must be a string" in err


#: The expected actions of WRONG, to be spoilt one field at a time.
SECOND = '{{at: "2026-01-07 10:00", kind: send, channel: sms, template: activation_reminder}}'


@pytest.mark.parametrize(
    ("spoilt", "column", "message"),
    [
        (
            SECOND.replace("2026-01-07 10:00", "not a time"),
            16,
            "'not a time' is not a time: write the local time to the minute (2026-01-05 10:00) "
            "or an instant with its offset (2026-01-05T10:00:00+07:00)",
        ),
        (
            SECOND.replace("kind: send", "kind: sendd"),
            42,
            "'sendd' is not a kind of action (they are send, suppressed, ticket, reward, "
            "action, update) — did you mean 'send'?",
        ),
        (
            SECOND.replace("channel: sms", "channel: smss"),
            57,
            "'smss' is not a channel (they are email, sms, zns, push, inapp) — did you mean 'sms'?",
        ),
        (
            SECOND.replace("activation_reminder", "activation_remainder"),
            72,
            "no journey of this file sends template 'activation_remainder' (they send "
            "activation_reminder, fee_waiver_closed, fee_waiver_granted, fee_waiver_offer, "
            "first_spend_nudge, install_digital_app, new_cardholder_promotions, "
            "welcome_activation_guide) — did you mean 'activation_reminder'?",
        ),
        (
            '{{kind: send, params: {{threshold: "1_000_000 USD"}}}}',
            44,
            "param 'threshold' is an amount in VND, not USD: e.g. \"1_000_000 VND\"",
        ),
        (
            "{{kind: send, params: {{threshold: 1000000}}}}",
            44,
            "param 'threshold' is an amount in VND: write it with its currency, e.g. "
            '"1_000_000 VND"',
        ),
        (
            "{{kind: send, template: activation_reminder, params: {{rnd: 1}}}}",
            64,
            "template 'activation_reminder' has no param 'rnd' (params: round) — did you mean "
            "'round'?",
        ),
        (
            SECOND.replace("channel: sms", "chanel: sms"),
            48,
            "an action has no field 'chanel' (they are at, customer_id, journey, node, kind, "
            "channel, template, queue, priority, name, params, payload, reason, label, tags, "
            "late, attribute, value, tag, remove) — did you mean 'channel'?",
        ),
    ],
    ids=["at", "kind", "channel", "template", "currency", "bare-amount", "param-name", "field"],
)
def test_an_expectation_no_run_can_meet_makes_the_file_invalid(
    cli: Cli, tmp_path: Path, spoilt: str, column: int, message: str
) -> None:
    """An expected action with a field no action has, whose `at` is not a time, whose kind,
    channel or template does not exist, or whose param cannot match the send's (another
    currency, a bare number for an amount, a name the template lacks) is an error at the value,
    and no case runs (exit 1)."""
    path = _write(tmp_path, WRONG.replace(SECOND, spoilt))
    code, out, err = cli("test", str(path))
    assert code == 1
    assert "0 cases: 0 passed, 0 failed; 1 invalid file" in out
    assert err.startswith(f"{path}:17:{column}: error: {message}"), err


@pytest.mark.parametrize(
    ("times", "where", "message"),
    [
        (
            '    start: "2026-01-10T00:00:00+07:00"\n    until: "2026-01-05T00:00:00+07:00"\n',
            "9:12",
            "'until' (2026-01-05T00:00:00+07:00) is not after 'start' "
            "(2026-01-10T00:00:00+07:00): a case runs from its start to its until",
        ),
        (
            '    until: "2026-01-05T09:00:00+07:00"\n',
            "8:12",
            "'until' (2026-01-05T09:00:00+07:00) is not after the case's start, its first "
            "event or enrolment (2026-01-05 10:00:00+07:00)",
        ),
        (
            '    until: "2026-01-08T00:00:00+07:00"\n    days: 3\n',
            "9:5",
            "give 'until' or 'days', not both",
        ),
        ('    start: "next monday"\n', "8:12", "'start': 'next monday' is not an ISO 8601 time"),
    ],
    ids=["until-before-start", "until-before-first-event", "until-and-days", "bad-start"],
)
def test_a_time_range_that_is_not_one_makes_the_file_invalid(
    cli: Cli, tmp_path: Path, times: str, where: str, message: str
) -> None:
    """A case's `until` not after its start (given, or its first event), `until` with `days`,
    or a `start` that is not a time is an error at the value, as `simulate` refuses them."""
    text = WRONG.replace('    until: "2026-01-08T00:00:00+07:00"\n', times)
    code, out, err = cli("test", str(_write(tmp_path, text)))
    assert code == 1
    assert "1 invalid file" in out
    assert f"wrong.test.yaml:{where}: error: {message}" in err


@pytest.mark.parametrize(
    ("old", "new", "where", "message"),
    [
        (
            "credit.preapproved_limit:",
            "credit.preaproved_limit:",
            "10:7",
            "no journey of this file calls decision function 'credit.preaproved_limit' (they "
            "call credit.preapproved_limit): its stubs would never answer — did you mean "
            "'credit.preapproved_limit'?",
        ),
        (
            "tier: gold}",
            "tier: diamond}",
            "11:40",
            "the engine would refuse this answer of credit.preapproved_limit (record {approved: "
            "bool, amount: money (VND), tier: enum (standard, gold, platinum)}): field 'tier': "
            "'diamond' is not one of standard, gold, platinum",
        ),
    ],
    ids=["function", "answer"],
)
def test_a_decision_stub_that_cannot_answer_makes_the_file_invalid(
    cli: Cli, tmp_path: Path, old: str, new: str, where: str, message: str
) -> None:
    """A stub of a function no journey calls, or a stubbed answer the declared answer type
    refuses, is an error at its line, not a case failing on `no_answer`."""
    journey = "limit_increase.journey"
    shutil.copyfile(EXAMPLES / journey, example_catalogs_in(tmp_path) / journey)
    text = (EXAMPLES / "limit_increase.test.yaml").read_text(encoding="utf-8")
    path = tmp_path / "li.test.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    code, out, err = cli("test", str(path))
    assert code == 1
    assert "1 invalid file" in out
    assert err.startswith(f"{path}:{where}: error: {message}\n"), err


def test_a_missing_path_is_a_usage_error(cli: Cli, tmp_path: Path) -> None:
    """A path that does not exist exits 2."""
    code, _, err = cli("test", str(tmp_path / "nope.test.yaml"))
    assert code == 2
    assert "no such file or folder" in err


def test_matching_is_on_named_fields_times_to_the_minute_and_money_shorthand() -> None:
    """Only named fields count; `at` to the minute; money as `1_000_000 VND`; objects by key."""
    actual = {
        "at": "2026-01-16T18:00:42+07:00",
        "customer_id": "c-4",
        "node": "email_fee_waiver_offer",
        "kind": "send",
        "channel": "email",
        "template": "fee_waiver_offer",
        "params": {"threshold": {"amount": "1000000", "currency": "VND"}, "deadline": "2026-02-05"},
    }
    assert action_matches({"at": "2026-01-16 18:00", "channel": "email"}, actual)
    assert action_matches({"at": "2026-01-16T11:00:00+00:00"}, actual)
    assert action_matches({"params": {"threshold": "1_000_000 VND"}}, actual)
    assert not action_matches({"params": {"threshold": "999_000 VND"}}, actual)
    assert not action_matches({"at": "2026-01-16 18:01"}, actual)
    assert not action_matches({"queue": "telesales"}, actual)


SPEND = """\
journey: {journey}
profiles:
  - customer_id: c-1
    attributes: {{has_digital_app: true}}
    consent: {{email: true, sms: true, zns: true, push: true}}
cases:
  - name: spends AMOUNT VND twelve days after activating
    until: "2026-02-20T00:00:00+07:00"
    events:
      - customer_id: c-1
        type: card_issued
        at: "2026-01-05T10:00:00+07:00"
        data: {{card_id: k1, product: gold}}
      - {{customer_id: c-1, type: card_activated, at: "2026-01-06T09:30:00+07:00"}}
      - customer_id: c-1
        type: transaction
        at: "2026-01-18T12:00:00+07:00"
        data: {{amount: AMOUNT, currency: VND, merchant: Tiki, category: shopping}}
    expect:
      outcomes: {{c-1: spend_goal_met}}
"""


def test_a_yaml_amount_a_float_would_round_is_a_bad_event(cli: Cli, tmp_path: Path) -> None:
    """999999.99999999999999 in a test file is read exactly: the event is refused at its line
    with the reason, never taken as 1000000.0 (which met the goal)."""
    path = _write(tmp_path, SPEND.replace("AMOUNT", "999999.99999999999999"))
    code, _, err = cli("test", str(path))
    assert code == 1
    assert (
        f"{path}:15:9: error: bad event: transaction.amount: 999999.99999999999999 has 14 "
        "decimal places; VND allows 0"
    ) in err


def test_a_yaml_amount_with_trailing_zeros_is_whole(cli: Cli, tmp_path: Path) -> None:
    """1000000.00 in a test file is one million VND: the case passes (goal met)."""
    path = _write(tmp_path, SPEND.replace("AMOUNT", "1000000.00"))
    code, out, err = cli("test", str(path))
    assert code == 0, out + err
    assert "1 case: 1 passed, 0 failed" in out


def test_test_files_read_yaml_floats_as_exact_decimals(tmp_path: Path) -> None:
    """Every YAML float spelling becomes the Decimal its text says; .nan is refused at its line
    and column; without exact_numbers (behaviour files) floats stay floats."""
    text = "a: 999999.99999999999999\nb: 1_000.50\nc: 1:30.5\nd: .5\ne: 1.5e+3\nf: 7\n"
    data = load_document(tmp_path / "x.yaml", text, exact_numbers=True).data
    assert data["a"].as_tuple() == Decimal("999999.99999999999999").as_tuple()
    assert data["b"].as_tuple() == Decimal("1000.50").as_tuple()
    assert (data["c"], data["d"], data["e"], data["f"]) == (
        Decimal("90.5"),
        Decimal("0.5"),
        1500,
        7,
    )
    assert type(data["f"]) is int
    assert type(load_document(tmp_path / "x.yaml", text).data["a"]) is float
    with pytest.raises(
        InputError, match=r"x\.yaml:2:4: error: invalid YAML: \.nan is not a number"
    ):
        load_document(tmp_path / "x.yaml", "a: 1\nb: .nan\n", exact_numbers=True)


def test_expected_numbers_match_as_decimals() -> None:
    """An expected 0.10 (a Decimal, from a test file) matches an actual "0.1"; 0.11 does not."""
    actual = {"kind": "send", "params": {"rate": "0.1"}}
    assert action_matches({"params": {"rate": Decimal("0.10")}}, actual)
    assert not action_matches({"params": {"rate": Decimal("0.11")}}, actual)


# ------------------------------------------------------------------------- the journey it names

#: A string that must never reach any output: it is in a file outside the test file's folder.
MARKER = "SECRET_MARKER_c04d91"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A journey-looking YAML file outside the tests' folder whose content must never be shown."""
    path = tmp_path / "secret.yaml"
    path.write_text(f"journey: {MARKER}\n{MARKER}_key: {MARKER}_value\n", encoding="utf-8")
    return path


def _naming(folder: Path, journey: str) -> Path:
    """A test file in ``folder`` whose `journey:` is ``journey`` (its one case is never run)."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "x.test.yaml"
    text = WRONG.replace("journey: {journey}", f"journey: {journey}").replace("{{", "{")
    path.write_text(text.replace("}}", "}"), encoding="utf-8")
    return path


@pytest.mark.parametrize("how", ["absolute", "dotdot", "symlink"])
def test_a_journey_outside_the_test_files_folder_is_refused(
    how: str, cli: Cli, tmp_path: Path, secret: Path
) -> None:
    """`journey:` leading out of the test file's folder is an error at its line that names the
    root (exit 1); the file is not read, so none of it is shown."""
    folder = tmp_path / "tests"
    folder.mkdir()
    name = {"absolute": str(secret), "dotdot": "../secret.yaml", "symlink": "j.yaml"}[how]
    if how == "symlink":
        (folder / "j.yaml").symlink_to(secret)
    path = _naming(folder, name)
    code, out, err = cli("test", str(path))
    assert code == 1
    assert f"{path}:1:10: error: journey file '{name}' " in err
    assert f"outside the root folder '{folder}': it is not read" in err
    assert MARKER not in out + err


def _mkdir(folder: Path) -> Path:
    folder.mkdir(parents=True)
    return folder


def test_root_allows_a_journey_in_a_parent_folder(cli: Cli, tmp_path: Path) -> None:
    """tests/x.test.yaml naming ../journeys/J is refused by default and runs with --root the
    project folder (which also holds the journey's catalogs)."""
    journeys = example_catalogs_in(_mkdir(tmp_path / "journeys"))
    journey = "onboarding_new_cardholder.journey"
    shutil.copyfile(EXAMPLES / journey, journeys / journey)
    path = _naming(tmp_path / "tests", f"../journeys/{journey}")
    code, _, err = cli("test", str(path))
    assert code == 1
    assert "is outside the root folder" in err
    code, out, err = cli("test", "--root", str(tmp_path), str(path))
    assert code == 1, err  # the case itself fails (it expects SMS where the journey pushes)
    assert "1 case: 0 passed, 1 failed" in out


@pytest.mark.parametrize("kind", ["folder", "fifo"])
def test_a_journey_that_is_a_fifo_or_a_folder_is_refused(
    kind: str, cli: Cli, tmp_path: Path
) -> None:
    """A FIFO or a folder as the journey is an error at the `journey:` line; `test` does not
    wait for a writer."""
    journey = tmp_path / "j.journey"
    if kind == "folder":
        journey.mkdir()
    elif hasattr(os, "mkfifo"):
        os.mkfifo(journey)
    else:
        pytest.skip("no FIFOs here")
    path = _naming(tmp_path, "j.journey")
    results: list[tuple[int, str, str]] = []
    worker = threading.Thread(target=lambda: results.append(cli("test", str(path))), daemon=True)
    worker.start()
    worker.join(timeout=60)  # a guard against hanging the suite, not a timing assertion
    assert results, "`journeydsl test` blocked on the FIFO"
    code, _, err = results[0]
    assert code == 1
    reason = "is a folder" if kind == "folder" else "is a FIFO (named pipe)"
    assert f"{path}:1:10: error: journey file 'j.journey' {reason}, not a regular file" in err


@pytest.mark.parametrize(
    ("until", "end"),
    [
        ('    until: "2026-01-08T00:00:00+07:00"\n', "2026-01-08 00:00:00+07:00, its 'until'"),
        ("    days: 2\n", "2026-01-07 10:00:00+07:00, its start + 'days'"),
        ("", "2026-04-05 10:00:00+07:00, start + 90 days"),
    ],
    ids=["until", "days", "default"],
)
def test_an_event_after_the_cases_end_makes_the_file_invalid(
    cli: Cli, tmp_path: Path, until: str, end: str
) -> None:
    """An event dated after the case's end (its `until`, its start + `days`, or start + 90
    days) is an error at the event: the run never reaches it, and the case passed as though
    it were not written."""
    late = (
        "      - customer_id: c-2\n"
        "        type: card_issued\n"
        '        at: "2026-07-01T10:00:00+07:00"\n'
        "        data: {{card_id: k2, product: gold}}\n"
    )
    text = WRONG.replace('    until: "2026-01-08T00:00:00+07:00"\n', until).replace(
        "    expect:\n", late + "    expect:\n"
    )
    line = 1 + text.splitlines().index("      - customer_id: c-2")
    code, out, err = cli("test", str(_write(tmp_path, text)))
    assert code == 1
    assert "1 invalid file" in out
    assert (
        f"wrong.test.yaml:{line}:9: error: dated 2026-07-01 10:00:00+07:00, after the case's end "
        f"({end}): the run never reaches it" in err
    )


ISSUED = datetime.fromisoformat("2026-01-05T10:00:00+07:00")


@pytest.mark.parametrize(
    ("times", "where", "message"),
    [
        (
            "    days: 99999999\n",
            "8:11",
            f"'days' must be at most {(LATEST - ISSUED) // timedelta(days=1):,} from the case's "
            "start (2026-01-05 10:00:00+07:00), not 99,999,999: a case ends before 3000-01-01 UTC",
        ),
        (
            '    until: "9999-12-31T00:00:00+00:00"\n',
            "8:12",
            "'until' is out of range: 9999-12-31 00:00:00+00:00 (a case runs within the years "
            "1900 to 2999)",
        ),
        (
            '    start: "0001-01-01"\n',
            "8:12",
            "'start' is out of range: 0001-01-01 00:00:00",
        ),
    ],
    ids=["days", "until", "start"],
)
def test_a_case_time_beyond_the_range_of_events_is_an_error_at_the_value(
    cli: Cli, tmp_path: Path, times: str, where: str, message: str
) -> None:
    """A case's `days` that ends past 3000-01-01, or a `start` or `until` outside the years 1900
    to 2999, is an error at the value, as `simulate --days/--until` refuses them (`days:
    99999999` was an OverflowError traceback)."""
    text = WRONG.replace('    until: "2026-01-08T00:00:00+07:00"\n', times)
    code, out, err = cli("test", str(_write(tmp_path, text)))
    assert code == 1
    assert "Traceback" not in err
    assert "1 invalid file" in out
    assert f"wrong.test.yaml:{where}: error: {message}" in err


def test_every_budget_mistake_is_reported_at_its_line_and_column(cli: Cli, tmp_path: Path) -> None:
    """Budget presets above the total, finer than VND, or of no budget: each one at its place."""
    text = WRONG.replace(
        "cases:\n",
        "budgets:\n  fee_waivers: {{remaining: 200_000_000 VND}}\ncases:\n",
    ).replace(
        "    until:",
        "    budgets: {{fee_waivers: {{remaining: 499_999.5 VND}}, nope: {{remaining: 1 VND}}}}\n"
        "    until:",
    )
    path = _write(tmp_path, text)
    code, _, err = cli("test", str(path))
    assert code == 1
    assert [line for line in err.splitlines() if ": error: " in line] == [
        f"{path}:7:28: error: budget 'fee_waivers': 'remaining' 200_000_000 VND is more than "
        "the budget's total, 100_000_000 VND",
        f"{path}:10:40: error: budget 'fee_waivers': 'remaining' 499_999.5 VND has 1 decimal "
        "place and VND has none",
        f"{path}:10:56: error: budget 'nope': the journeys draw from no such budget (fee_waivers)",
    ]


def test_an_expected_text_matches_however_its_tone_marks_were_typed() -> None:
    """An expectation written with combining tone marks (NFD) matches the composed text the
    journey delivers (events, profiles and literals are read composed), and the other way."""
    import unicodedata

    actual = {"kind": "send", "params": {"merchant": "Phở Thìn"}}
    decomposed = unicodedata.normalize("NFD", "Phở Thìn")
    assert action_matches({"params": {"merchant": decomposed}}, actual)
    assert action_matches(
        {"params": {"merchant": "Phở Thìn"}}, {"params": {"merchant": decomposed}}
    )
    assert not action_matches({"params": {"merchant": "Pho Thin"}}, actual)


def test_journeys_that_declare_one_budget_two_ways_are_an_error_not_a_traceback(
    cli: Cli, tmp_path: Path
) -> None:
    """A test file, and `simulate`, of two journeys whose catalogs declare `waivers` at
    different sizes: an error naming the budget and both journeys (the engine they share would
    draw from whichever declaration came first), exit 1."""
    budgets = Path(__file__).resolve().parents[1] / "fixtures" / "budgets"
    (tmp_path / "other").mkdir()
    for folder in ("", "other"):
        shutil.copyfile(budgets / folder / "events.yaml", tmp_path / folder / "events.yaml")
    waivers = (
        'journey waivers\nuses events "events.yaml"\noutcomes got, none\nentry on card_activated\n'
        "reward fee_waiver from waivers amount 400_000 VND granted { exit got } "
        "exhausted { exit none }\n"
    )
    (tmp_path / "waivers.journey").write_text(waivers)
    other = waivers.replace("journey waivers", "journey other_waivers")
    (tmp_path / "other" / "other_waivers.journey").write_text(other)
    (tmp_path / "two.test.yaml").write_text(
        "journeys: [waivers.journey, other/other_waivers.journey]\n"
        "cases:\n  - name: one\n    events: []\n    expect: {actions: []}\n"
    )
    code, _, err = cli("test", str(tmp_path / "two.test.yaml"))
    assert code == 1
    assert "Traceback" not in err
    assert "two.test.yaml:1:12: error: budget 'waivers' is declared as 1_000_000 VND for " in err
    (tmp_path / "none.jsonl").write_text("")
    files = [str(tmp_path / "waivers.journey"), str(tmp_path / "other" / "other_waivers.journey")]
    code, _, err = cli("simulate", *files, "--events", str(tmp_path / "none.jsonl"))
    assert code == 1
    assert "Traceback" not in err
    assert "budget 'waivers' is declared as 1_000_000 VND for journey 'waivers' but as " in err


ZONED = """journey {id}
uses events "events.yaml"
uses templates "templates.yaml"
timezone "{zone}"
outcomes handed_over
entry manual
ticket telesales priority high {{ reason: "crm_list" }}
exit handed_over
"""


def test_an_enrolment_time_without_offset_is_read_in_the_zone_of_its_journey(
    tmp_path: Path,
) -> None:
    """With journeys in New York and Shanghai, `at: "2026-03-09 08:00"` into the Shanghai one is
    08:00 in Shanghai (it was read in the first journey's zone, New York: 12 hours off)."""
    example_catalogs_in(tmp_path)
    for name, zone in (("ny", "America/New_York"), ("sh", "Asia/Shanghai")):
        text = ZONED.format(id=f"{name}_callback", zone=zone)
        (tmp_path / f"{name}.journey").write_text(text, encoding="utf-8")
    (tmp_path / "zones.test.yaml").write_text(
        "journeys: [ny.journey, sh.journey]\n"
        "cases:\n"
        "  - name: enrolled at 08:00 Shanghai time\n"
        "    enrol:\n"
        '      - {customer_id: c1, at: "2026-03-09 08:00", journey: sh_callback}\n'
        "    expect:\n"
        "      actions:\n"
        '        - {at: "2026-03-09T08:00:00+08:00", kind: ticket, journey: sh_callback}\n'
        "      outcomes: {c1: {sh_callback: handed_over}}\n",
        encoding="utf-8",
    )
    (result,) = run_file(tmp_path / "zones.test.yaml")
    assert result.problems == []
    assert result.ok


def test_an_enrolment_into_an_unknown_journey_says_so_with_a_did_you_mean(tmp_path: Path) -> None:
    """`enrol:` naming a misspelt journey says it is unknown, at its `journey:`, with a hint."""
    from tests.simulate.test_enrolment import CALLBACK, TESTS

    (tmp_path / "callback.journey").write_text(CALLBACK, encoding="utf-8")
    text = TESTS.replace("{customer_id: c2,", "{customer_id: c2, journey: telesales_calback,")
    (tmp_path / "callback.test.yaml").write_text(text, encoding="utf-8")
    example_catalogs_in(tmp_path)
    with pytest.raises(InputError) as found:
        run_file(tmp_path / "callback.test.yaml")
    message = str(found.value)
    column = text.splitlines()[5].index("telesales_calback") + 1
    assert f"callback.test.yaml:6:{column}: error: no journey 'telesales_calback'" in message
    assert "did you mean 'telesales_callback'?" in message
    assert "name the journey to enrol into" not in message


def test_a_test_files_profile_attribute_of_the_wrong_type_is_an_error_at_its_line(
    tmp_path: Path,
) -> None:
    """A profile whose attribute the catalog types otherwise (`credit_limit: lots`) makes the file
    invalid at that profile's line, as `--profiles` skips it (the case ran, ending in error)."""
    example_catalogs_in(tmp_path)
    (tmp_path / "limit.journey").write_text(
        f"journey high_limit version 1\n{USES}outcomes high, low\n\nentry on card_issued\n\n"
        "if profile.credit_limit >= 20_000_000 VND {\n  exit high\n}\nexit low\n",
        encoding="utf-8",
    )
    test_file = tmp_path / "limit.test.yaml"
    test_file.write_text(
        "journey: limit.journey\n"
        "profiles:\n"
        "  - {customer_id: c-1, attributes: {credit_limit: 50000000}}\n"
        "  - {customer_id: c-2, attributes: {credit_limit: lots}}\n"
        "cases:\n"
        "  - name: high limit\n"
        "    events:\n"
        '      - {customer_id: c-2, type: card_issued, at: "2026-01-05T10:00:00+07:00",'
        " data: {card_id: k-2, product: gold}}\n"
        "    expect:\n"
        "      outcomes: {c-2: high}\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as found:
        run_file(test_file)
    message = str(found.value)
    assert "limit.test.yaml:4:5: error: bad profile: attribute 'credit_limit' must be" in message
    assert ":3:" not in message
