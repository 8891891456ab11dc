"""`journeydsl test` for CI: `--format json` (one document: every test with its place, status
and failures, and the totals) and `--junit FILE` (JUnit XML, written whole or not at all), with
the exit codes of the text output."""

from __future__ import annotations

import json
import os
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.cli.scenarios import Outcome, junit_xml
from journeydsl.simulate.scenarios import Failure
from tests.catalogs import EXAMPLES, example_catalogs_in

CASE = """\
  - name: {name}
    until: "2026-01-08T00:00:00+07:00"
    events:
      - customer_id: c-1
        type: card_issued
        at: "2026-01-05T10:00:00+07:00"
        data: {{card_id: k1, product: gold}}
    expect:
      actions:
        - {{at: "2026-01-05 10:00", kind: send, channel: email, template: welcome_activation_guide}}
        - {{at: "2026-01-07 10:00", kind: send, channel: {channel}, template: activation_reminder}}
"""

HEAD = """\
journey: onboarding_new_cardholder.journey
profiles:
  - customer_id: c-1
    attributes: {has_digital_app: true}
    consent: {email: true, sms: true, zns: true, push: true}
cases:
"""


def _files(folder: Path) -> tuple[Path, Path]:
    """A test file with a passing case then a failing one (it expects SMS, the journey pushes),
    and an invalid one (a case without events or start), beside the onboarding journey."""
    example_catalogs_in(folder)
    journey = "onboarding_new_cardholder.journey"
    shutil.copyfile(EXAMPLES / journey, folder / journey)
    mixed = folder / "mixed.test.yaml"
    mixed.write_text(
        HEAD + CASE.format(name="pushes", channel="push") + CASE.format(name="sms", channel="sms"),
        encoding="utf-8",
    )
    invalid = folder / "invalid.test.yaml"
    invalid.write_text(
        HEAD + "  - name: nothing\n    expect: {outcomes: {c-1: running}}\n", encoding="utf-8"
    )
    return mixed, invalid


def _test(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["test", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_json_lists_every_test_with_its_place_status_and_failures(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--format json: one document with each case (passed, failed) and the invalid file (error),
    each at its file, line and column, the failures at theirs with the diff, and the totals."""
    mixed, invalid = _files(tmp_path)
    code, out, err = _test(capsys, str(mixed), str(invalid), "--format", "json")
    assert code == 1
    doc: dict[str, Any] = json.loads(out)  # (the whole of stdout is the document)
    assert doc["ok"] is False
    assert doc["totals"] == {"tests": 3, "passed": 1, "failed": 1, "errors": 1}
    passed, failed, error = doc["tests"]
    assert passed == {
        "file": str(mixed),
        "line": 7,
        "column": 5,
        "name": "pushes",
        "status": "passed",
        "failures": [],
    }
    assert (failed["line"], failed["column"], failed["name"]) == (18, 5, "sms")
    assert failed["status"] == "failed"
    (failure,) = failed["failures"]
    assert (failure["file"], failure["line"], failure["column"]) == (str(mixed), 28, 11)
    assert failure["message"] == (
        "action 2 differs from the one expected in channel (expected 2, got 2)"
    )
    assert failure["diff"][:2] == ["--- expected", "+++ actual"]
    assert (
        "+2026-01-07 10:00  kind=send channel=push template=activation_reminder"
        in (failure["diff"])
    )
    assert error["status"] == "error"
    assert (error["file"], error["name"], error["line"], error["column"]) == (
        str(invalid),
        str(invalid),
        7,
        5,
    )
    assert error["failures"][0]["message"] == "a case without events or enrolments needs 'start'"
    assert f"{invalid}:7:5: error: a case without events" in err  # (said on stderr too)


def test_json_of_passing_tests_is_ok_and_exits_0(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every case passing: ok is true, the exit code 0, as in the text output."""
    mixed, _ = _files(tmp_path)
    mixed.write_text(HEAD + CASE.format(name="pushes", channel="push"), encoding="utf-8")
    code, out, _ = _test(capsys, str(mixed), "--format", "json")
    assert code == 0
    doc = json.loads(out)
    assert doc["ok"] is True
    assert doc["totals"] == {"tests": 1, "passed": 1, "failed": 0, "errors": 0}


def test_junit_has_a_testcase_per_test_with_failure_and_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--junit FILE: a testsuite per file, a testcase per test with file and line, a failure
    whose message is FILE:LINE:COL, an error for the invalid file; the text output and exit code
    are as without it."""
    mixed, invalid = _files(tmp_path)
    report = tmp_path / "junit.xml"
    code, out, _ = _test(capsys, str(mixed), str(invalid), "--junit", str(report))
    assert code == 1
    assert out.startswith(f"ok    {mixed}:7: pushes\nFAIL  {mixed}:18: sms\n")
    root = ET.parse(report).getroot()
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("errors")) == ("3", "1", "1")
    first, second = root.findall("testsuite")
    assert first.get("name") == str(mixed)
    assert (first.get("tests"), first.get("failures"), first.get("errors")) == ("2", "1", "0")
    ok, bad = first.findall("testcase")
    assert (ok.get("name"), ok.get("file"), ok.get("line")) == ("pushes", str(mixed), "7")
    assert list(ok) == []
    failure = bad.find("failure")
    assert failure is not None
    assert failure.get("message") == (
        f"{mixed}:28:11: action 2 differs from the one expected in channel (expected 2, got 2)"
    )
    assert failure.text is not None
    assert "--- expected" in failure.text
    (broken,) = second.findall("testcase")
    error = broken.find("error")
    assert error is not None
    assert error.get("message") == (
        f"{invalid}:7:5: a case without events or enrolments needs 'start'"
    )
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_junit_holds_any_case_name_as_valid_xml() -> None:
    """A name with markup characters or a control character (which XML 1.0 cannot hold) is
    written so that the file still parses, and reads back as written, the control character
    escaped."""
    outcome = Outcome(
        "a b/c.test.yaml",
        3,
        5,
        'spend < 1,000,000 VND & "more" \x01',
        "failed",
        (Failure("a b/c.test.yaml", 9, 7, "outcome of c-1: expected x, got \x1b y"),),
    )
    root = ET.fromstring(junit_xml([outcome]))
    case = root.find("testsuite/testcase")
    assert case is not None
    assert case.get("name") == 'spend < 1,000,000 VND & "more" \\x01'
    assert case.get("classname") == "a b.c"
    failure = case.find("failure")
    assert failure is not None
    assert failure.get("message") == "a b/c.test.yaml:9:7: outcome of c-1: expected x, got \\x1b y"


def test_a_junit_file_that_cannot_be_written_leaves_the_old_one_whole(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A write that fails keeps the previous report as it was, leaves no temporary file, and
    says why (exit 2)."""
    mixed, _ = _files(tmp_path)
    report = tmp_path / "junit.xml"
    report.write_text("<previous/>", encoding="utf-8")

    def full(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    code, _, err = _test(capsys, str(mixed), "--junit", str(report))
    assert code == 2
    assert f"journeydsl: error: --junit {report}: No space left on device" in err
    assert report.read_text(encoding="utf-8") == "<previous/>"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".junit")) == []


def test_a_junit_path_in_no_folder_is_refused_before_any_case_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """--junit in a folder that does not exist is a usage error (exit 2), said at once."""
    mixed, _ = _files(tmp_path)
    code, out, err = _test(capsys, str(mixed), "--junit", str(tmp_path / "no" / "junit.xml"))
    assert code == 2
    assert out == ""
    assert f"--junit {tmp_path / 'no' / 'junit.xml'}: no such folder" in err


def test_a_test_file_named_twice_runs_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The folder and a file in it (or the same file twice): each case is one test, not two."""
    mixed, _ = _files(tmp_path)
    mixed.write_text(HEAD + CASE.format(name="pushes", channel="push"), encoding="utf-8")
    (tmp_path / "invalid.test.yaml").unlink()
    code, out, _ = _test(capsys, str(mixed), str(tmp_path), str(mixed), "--format", "json")
    assert code == 0
    assert json.loads(out)["totals"] == {"tests": 1, "passed": 1, "failed": 0, "errors": 0}
