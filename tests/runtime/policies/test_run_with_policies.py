"""``journeydsl run --policies``: the durable runner applies the policies, the labelled message
reaches the actions file, and cap state carries over between runs on the same state file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.catalogs import USES, example_catalogs_in

JOURNEY = f"""
journey offers
{USES}entry on transaction
  reentry always
send sms reactivation_offer marketing {{ offer: "cashback" }} fallback none
"""


def _txn(at: str) -> str:
    return json.dumps(
        {
            "customer_id": "c1",
            "type": "transaction",
            "at": at,
            "data": {"amount": 100000, "currency": "VND", "merchant": "Tiki", "category": "other"},
        }
    )


def _run(tmp: Path, *events: str, now: str) -> list[dict[str, object]]:
    (tmp / "events.jsonl").write_text("\n".join(_txn(e) for e in events) + "\n")
    code = main(
        [
            "run",
            str(tmp / "offers.journey"),
            "--db",
            str(tmp / "state.sqlite"),
            "--events",
            str(tmp / "events.jsonl"),
            "--actions",
            str(tmp / "actions.jsonl"),
            "--profiles",
            str(tmp / "profiles.jsonl"),
            "--policies",
            str(tmp / "policies.yaml"),
            "--now",
            now,
        ]
    )
    assert code == 0
    lines = (tmp / "actions.jsonl").read_text().splitlines()
    return [json.loads(line) for line in lines]


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    """A folder with the journey, a profile and a policy file extending vn_decree_91."""
    (example_catalogs_in(tmp_path) / "offers.journey").write_text(JOURNEY)
    (tmp_path / "profiles.jsonl").write_text(
        json.dumps({"customer_id": "c1", "consent": {"sms": True}, "timezone": "Asia/Ho_Chi_Minh"})
        + "\n"
    )
    (tmp_path / "policies.yaml").write_text("extends: vn_decree_91\n")
    return tmp_path


def test_run_defers_caps_across_runs_and_labels_the_sms(tmp: Path) -> None:
    """A 4th SMS in a second run on the same state file waits for the window; all carry [QC]."""
    first = _run(
        tmp,
        "2026-01-05T09:00:00+07:00",
        "2026-01-05T10:00:00+07:00",
        "2026-01-05T11:00:00+07:00",
        now="2026-01-05T12:00:00+07:00",
    )
    assert [a["at"] for a in first] == [
        "2026-01-05T09:00:00+07:00",
        "2026-01-05T10:00:00+07:00",
        "2026-01-05T11:00:00+07:00",
    ]
    both = _run(tmp, "2026-01-05T13:00:00+07:00", now="2026-01-07T00:00:00+07:00")
    assert both[-1]["at"] == "2026-01-06T09:00:00+07:00"
    assert {a["label"] for a in both} == {"[QC]"}


def test_run_reports_a_broken_policy_file(tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A mistake in the policy file stops the run with exit 1 and its line on stderr."""
    (tmp / "policies.yaml").write_text("extends: vn_decree_19\n")
    (tmp / "events.jsonl").write_text(_txn("2026-01-05T09:00:00+07:00") + "\n")
    code = main(
        [
            "run",
            str(tmp / "offers.journey"),
            "--db",
            str(tmp / "state.sqlite"),
            "--events",
            str(tmp / "events.jsonl"),
            "--actions",
            str(tmp / "actions.jsonl"),
            "--policies",
            str(tmp / "policies.yaml"),
        ]
    )
    assert code == 1
    assert "policies.yaml:1:10: error: unknown profile 'vn_decree_19'" in capsys.readouterr().err
