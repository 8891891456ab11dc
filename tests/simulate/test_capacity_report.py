"""The utilisation per day of throughput limits and ticket queues in simulate's reports: the
JSON document's ``policies.capacity``, and the HTML report's capacity section (read as text and
rendered in headless Chromium)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from tests.simulate.conftest import BEHAVIOUR, DORMANT, EXAMPLES
from tests.simulate.test_html_report import open_in_chromium, problems, read_page

#: The example bank's policies with an SMS/ZNS gateway of 20 an hour and 10 calls a day.
LIMITS = """extends: {policies}
throughput:
  - {{name: sms_gateway, channels: [sms, zns], max: 20, per: 1h}}
queues:
  - {{queue: telesales, capacity: 10, rank: spend_365d, overflow: next_day, max_age: 1d}}
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], str, Path]:
    """A dormant run of 300 customers under the limits: its JSON document and HTML page."""
    folder = tmp_path_factory.mktemp("capacity")
    policy = folder / "policies.yaml"
    policy.write_text(LIMITS.format(policies=EXAMPLES / "policies.yaml"), encoding="utf-8")
    args = [
        "simulate",
        DORMANT,
        "--population",
        "300",
        "--behaviour",
        str(BEHAVIOUR / "dormant.yaml"),
        "--seed",
        "7",
        "--policies",
        str(policy),
        "--root",
        "/",
    ]
    doc, page = folder / "run.json", folder / "run.html"
    assert main([*args, "--format", "json", "--output", str(doc)]) == 0
    assert main([*args, "--format", "html", "--output", str(page)]) == 0
    return json.loads(doc.read_text(encoding="utf-8")), page.read_text(encoding="utf-8"), page


def test_a_queue_takes_at_most_its_capacity_and_accounts_for_every_ticket(
    run: tuple[dict[str, Any], str, Path],
) -> None:
    """Each day the queue opens at most 10; made = opened + not accepted + still waiting; the
    figures match the tickets and suppressions of the actions."""
    doc = run[0]
    queue = doc["policies"]["capacity"]["queue:telesales"]
    days = queue["days"]
    assert queue["capacity"] == 10
    assert all(d["taken"] <= d["capacity"] == 10 for d in days)
    assert any(d["taken"] == 10 for d in days)
    made = sum(d["made"] for d in days)
    taken = sum(d["taken"] for d in days)
    dropped = sum(d["dropped"] for d in days)
    assert made == taken + dropped + days[-1]["backlog"]
    actions = doc["actions"]
    assert taken == sum(a["kind"] == "ticket" for a in actions)
    assert dropped == sum(
        a["kind"] == "suppressed" and a.get("queue") == "telesales" for a in actions
    )
    assert all(d["utilisation"] == round(d["taken"] / 10, 4) for d in days)


def test_a_throughput_limit_shows_what_it_delivered_and_made_wait(
    run: tuple[dict[str, Any], str, Path],
) -> None:
    """The gateway's days: never more than 480 (20 an hour) delivered, the messages it
    deferred, and the longest wait; delivered adds up to the SMS and ZNS sends of the
    actions."""
    doc = run[0]
    limit = doc["policies"]["capacity"]["throughput:sms_gateway"]
    assert limit["capacity"] == 480
    assert all(d["taken"] <= 480 for d in limit["days"])
    assert sum(d["deferred"] for d in limit["days"]) > 0
    assert max(d["longest_wait"] for d in limit["days"]) >= 3600
    sent = sum(a["kind"] == "send" and a["channel"] in ("sms", "zns") for a in doc["actions"])
    assert sum(d["taken"] for d in limit["days"]) == sent


def test_the_page_shows_one_row_per_limit_and_day(run: tuple[dict[str, Any], str, Path]) -> None:
    """The capacity section has a row per day of each limit, with the JSON's figures, and the
    page embeds the same figures."""
    doc, text, _ = run
    page = read_page(text)
    expected = [
        (name, str(d["taken"]), str(d["capacity"]))
        for name, limit in doc["policies"]["capacity"].items()
        for d in limit["days"]
    ]
    assert page.capacity == expected
    assert json.loads(page.report_data)["policies"]["capacity"] == doc["policies"]["capacity"]


def test_without_capacity_limits_there_is_no_section(tmp_path: Path) -> None:
    """Under policies without throughput limits or queues, no capacity figures or section."""
    page = tmp_path / "p.html"
    args = [
        "simulate",
        DORMANT,
        "--population",
        "20",
        "--behaviour",
        str(BEHAVIOUR / "dormant.yaml"),
    ]
    policy = tmp_path / "policies.yaml"
    policy.write_text("holdout: {percent: 5}\n", encoding="utf-8")
    assert main([*args, "--policies", str(policy), "--format", "html", "--output", str(page)]) == 0
    found = read_page(page.read_text(encoding="utf-8"))
    assert "capacity" not in found.testids
    assert "capacity" not in json.loads(found.report_data)["policies"]


@pytest.mark.browser
def test_chromium_renders_the_capacity_section(
    run: tuple[dict[str, Any], str, Path], tmp_path: Path
) -> None:
    """In headless Chromium the page runs cleanly and shows every capacity row with the day's
    taken and capacity."""
    doc, _, path = run
    page, console = open_in_chromium(path, tmp_path / "profile")
    assert problems(page, console) == []
    rows = {
        (n, d["day"]) for n, limit in doc["policies"]["capacity"].items() for d in limit["days"]
    }
    assert len(page.capacity) == len(rows)
    assert {"capacity", "capacity-limit", "capacity-day"} <= page.testids
