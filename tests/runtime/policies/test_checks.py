"""``journeydsl check --policies``: golden fixtures in tests/fixtures/policies (each
``NAME__invalid`` states the diagnostics it must give, as in tests/fixtures/checks), the policy
file's own mistakes at their lines (JD601), and the examples checked clean."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.compiler import compile_file, compile_source
from journeydsl.diagnostics import Severity
from journeydsl.runtime.policies import load_policies
from journeydsl.runtime.policies.checks import check_journey

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "policies"
POLICIES = load_policies(FIXTURES / "policies.yaml")
_EXPECT = re.compile(r"#\s*expect:\s*(\d+):(\d+)\s+(error|warning)\s+(JD\d{3})\s*")
JOURNEYS = sorted(
    p
    for p in FIXTURES.iterdir()
    if p.suffix == ".journey" or (p.suffix == ".yaml" and "__" in p.stem)
)


def _expected(path: Path) -> list[tuple[int, int, str, str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if m := _EXPECT.fullmatch(line.strip()):
            out.append((int(m.group(1)), int(m.group(2)), m.group(3), m.group(4)))
    return sorted(out)


@pytest.mark.parametrize("path", JOURNEYS, ids=[p.name for p in JOURNEYS])
def test_fixture_gives_exactly_its_expected_policy_diagnostics(path: Path) -> None:
    """A fixture compiles cleanly, and the policy checks give exactly its `# expect:` lines."""
    compiled = compile_file(path, root=ROOT)  # the fixtures use the example events catalog
    assert compiled.journey is not None, [d.message for d in compiled.diagnostics]
    assert [d for d in compiled.diagnostics if d.severity is not Severity.INFO] == []
    found = check_journey(compiled.journey, compiled.catalog, POLICIES)
    got = sorted((d.span.line, d.span.column, str(d.severity), d.code) for d in found)
    assert got == _expected(path)
    if "__invalid" not in path.stem:
        assert got == []


def test_every_policy_code_is_pinned_by_a_fixture() -> None:
    """JD602..JD606 and JD608 each appear in some fixture's expectations."""
    pinned = {e[3] for p in JOURNEYS for e in _expected(p)}
    assert pinned >= {"JD602", "JD603", "JD604", "JD605", "JD606", "JD608"}


def _check(*args: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = main(["check", *args])
    return code, capsys.readouterr().out


def test_examples_are_clean_under_the_example_policies(capsys: pytest.CaptureFixture[str]) -> None:
    """`journeydsl check --policies examples/policies.yaml --root examples examples/` passes with
    no warning."""
    code, out = _check(
        "--policies",
        str(ROOT / "examples" / "policies.yaml"),
        "--root",
        str(ROOT / "examples"),
        str(ROOT / "examples"),
        capsys=capsys,
    )
    assert code == 0, out
    assert "0 errors, 0 warnings" in out


def test_policy_errors_fail_the_check_with_their_lines(capsys: pytest.CaptureFixture[str]) -> None:
    """A fixture folder with errors exits 1 and prints file:line:col: severity[CODE]."""
    code, out = _check(
        "--policies",
        str(FIXTURES / "policies.yaml"),
        "--root",
        str(ROOT),
        str(FIXTURES / "labels__invalid.journey"),
        capsys=capsys,
    )
    assert code == 1
    assert "labels__invalid.journey:8:1: error[JD603]: template 'plain_offer'" in out
    assert "= hint: start its text in the templates catalog with '[QC]'" in out


def test_a_broken_policy_file_is_JD601_at_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Mistakes in the policy file are reported at their own line and column, never raised."""
    bad = tmp_path / "policies.yaml"
    bad.write_text(
        "extends: vn_decree_19\n"
        "frequency_caps:\n"
        "  - {max: 3, windw: 24h}\n"
        "quiet_hours:\n"
        "  - {from: '25:00', to: '07:00'}\n",
        encoding="utf-8",
    )
    code, out = _check(
        "--policies", str(bad), str(FIXTURES / "caps.journey"), "--format", "json", capsys=capsys
    )
    assert code == 1
    found = json.loads(out)["diagnostics"]
    where = [(d["line"], d["column"], d["code"]) for d in found]
    assert (1, 10, "JD601") in where  # unknown profile — did you mean vn_decree_91?
    assert (3, 5, "JD601") in where  # missing field 'window'
    assert (3, 14, "JD601") in where  # unknown field 'windw'
    assert (5, 12, "JD601") in where  # not a time of day
    messages = " ".join(d["message"] for d in found)
    assert "did you mean 'vn_decree_91'?" in messages
    assert "unknown field 'windw'" in messages


def test_an_unknown_queue_time_zone_is_JD601_at_its_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`check --policies` reports a ticket queue's unknown time zone as JD601 at the value."""
    bad = tmp_path / "policies.yaml"
    bad.write_text("queues:\n  - {queue: telesales, capacity: 3, timezone: Mars/X}\n")
    code, out = _check(
        "--policies", str(bad), str(FIXTURES / "caps.journey"), "--format", "json", capsys=capsys
    )
    assert code == 1
    found = [
        (d["line"], d["column"], d["code"], d["message"])
        for d in json.loads(out)["diagnostics"]
        if d["file"] == str(bad)
    ]
    assert found == [
        (2, 47, "JD601", "queues[0].timezone: unknown time zone 'Mars/X' (use an IANA name)")
    ]


def test_a_missing_policy_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """`--policies nowhere.yaml` exits 2."""
    assert main(["check", "--policies", "nowhere.yaml", str(FIXTURES / "caps.journey")]) == 2


# ------------------------------------------------------------ JD607: entry rate times budget


_RATED = """extends: vn_decree_91
throughput:
  - {{name: zns_quota, channels: [zns], max: 100000, per: 1d}}
  - name: sms_gateway
    channels: [sms]
    max: {sms_max}
    per: 1h
entry_rates:
  - {{journey: dormant_reactivation, max: {rate}, per: 1d}}
"""


def _daily(tmp_path: Path, capsys: pytest.CaptureFixture[str], **values: int) -> list[Any]:
    policy = tmp_path / "policies.yaml"
    policy.write_text(_RATED.format(**values), encoding="utf-8")
    journey = str(ROOT / "examples" / "dormant_reactivation.journey")
    code, out = _check("--policies", str(policy), journey, "--format", "json", capsys=capsys)
    assert code == 0, out
    return [d for d in json.loads(out)["diagnostics"] if d["code"] == "JD607"]


def test_JD607_the_entry_rate_times_the_budget_over_a_daily_limit(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """3 SMS per instance (the zns fallbacks and the last reminder) times 10,000 entries a day is
    over a gateway of 1,000 an hour (24,000 a day): a warning at the limit's line and column in
    the policy file, with the figures."""
    (found,) = _daily(tmp_path, capsys, sms_max=1000, rate=10_000)
    assert found["file"].endswith("policies.yaml")
    assert (found["line"], found["column"], found["severity"]) == (4, 5, "warning")
    assert (
        "up to 30,000 a day, over the 24,000 a day throughput limit 'sms_gateway'"
        in (found["message"])
    )


def test_JD607_not_when_the_limit_has_room(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """8,000 entries a day times 3 SMS = 24,000: exactly the limit, no warning; nor for the ZNS
    quota (2 per instance times 8,000 < 100,000)."""
    assert _daily(tmp_path, capsys, sms_max=1000, rate=8_000) == []


def test_JD607_needs_an_entry_rate(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A journey without an entry rate has no expected rate: no warning, however small the
    limit."""
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        "throughput: [{name: tiny, channels: [sms], max: 1, per: 1d}]\n", encoding="utf-8"
    )
    journey = str(ROOT / "examples" / "dormant_reactivation.journey")
    code, out = _check("--policies", str(policy), journey, "--format", "json", capsys=capsys)
    assert code == 0
    assert "JD607" not in out


def test_the_jd604_hint_gives_a_fallback_that_compiles() -> None:
    """JD604's hint suggests `fallback sms` after the send, and the fix it suggests compiles:
    it used to suggest `fallback push -> sms`, which repeats the send's channel (JD106)."""
    path = FIXTURES / "consent__invalid.journey"
    compiled = compile_file(path, root=ROOT)
    assert compiled.journey is not None
    (found,) = check_journey(compiled.journey, compiled.catalog, POLICIES)
    assert found.hint == (
        "add a fallback: `fallback sms` after the send (the channels tried after push), or send "
        "on another channel"
    )
    text = path.read_text(encoding="utf-8").replace("fallback none", "fallback sms")
    again = compile_source(text, str(path), root=ROOT)
    assert [d.message for d in again.diagnostics if d.severity is Severity.ERROR] == []
    assert again.journey is not None
    assert check_journey(again.journey, again.catalog, POLICIES) == []


# ------------------------------------------------------------ JD609: an entry rate never applied


def test_JD609_an_entry_rate_on_an_event_journey_never_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An entry rate naming the onboarding journey (it enters on card_issued) is a warning at
    the rate's line in the policy file; the segment journey's rate beside it is not."""
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        "entry_rates:\n"
        "  - {journey: dormant_reactivation, max: 10000, per: 1d}\n"
        "  - {journey: onboarding_new_cardholder, max: 1000, per: 1h}\n",
        encoding="utf-8",
    )
    journeys = [
        str(ROOT / "examples" / f"{name}.journey")
        for name in ("dormant_reactivation", "onboarding_new_cardholder")
    ]
    code, out = _check("--policies", str(policy), *journeys, "--format", "json", capsys=capsys)
    assert code == 0, out
    (found,) = [d for d in json.loads(out)["diagnostics"] if d["code"] == "JD609"]
    assert found["file"].endswith("policies.yaml")
    assert (found["line"], found["column"], found["severity"]) == (3, 5, "warning")
    assert "'onboarding_new_cardholder' (1,000 per 1h) never applies" in found["message"]


# ------------------------------------------------- JD611: windows that never open together


def test_JD611_a_send_whose_windows_never_open_together_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A journey's weekday SMS window under the policies' weekend SMS window warns at the send
    that falls back to SMS (the runtime suppresses it there), not at the transactional one."""
    policy = tmp_path / "policies.yaml"
    policy.write_text(
        "extends: vn_decree_91\n"
        "send_windows:\n"
        '  - {name: weekends, channels: [sms], days: weekend, from: "09:00", to: "12:00"}\n',
        encoding="utf-8",
    )
    journey = tmp_path / "w.journey"
    journey.write_text(
        "journey w\n"
        f'uses events "{ROOT / "examples" / "events.yaml"}"\n'
        f'uses templates "{ROOT / "examples" / "templates.yaml"}"\n'
        "entry on card_activated\n"
        "send window weekday 09:00 to 10:00 for sms\n"
        "send zns first_spend_nudge marketing fallback sms\n"
        "send sms activation_reminder transactional { round: 1 } fallback none\n",
        encoding="utf-8",
    )
    code, out = _check(
        "--root",
        str(ROOT),
        "--policies",
        str(policy),
        str(journey),
        "--format",
        "json",
        capsys=capsys,
    )
    assert code == 0, out
    (found,) = [d for d in json.loads(out)["diagnostics"] if d["code"] == "JD611"]
    assert (found["line"], found["column"], found["severity"]) == (6, 1, "warning")
    assert found["message"].startswith(
        "this send can never go out on sms: the journey's send window weekday 09:00-10:00 for "
        "sms; send window weekend 09:00-12:00 for marketing sms (weekends)"
    )
