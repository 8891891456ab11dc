"""simulate's reward-budget forecast: the demand per day and the day the budget runs out (text,
JSON ``budgets``, the HTML burn-down in Chromium), exact at the boundary, the same from merged
``--part`` files as from one run, and ``--compare`` of two budgets."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from journeydsl.compiler import compile_source
from journeydsl.simulate.budgets import forecast, preset_mistakes
from journeydsl.simulate.tally import MILLION, Tally
from tests.simulate.conftest import BEHAVIOUR, EXAMPLES, Cli
from tests.simulate.test_html_report import _chromium, open_in_chromium, problems

MODEL = str(BEHAVIOUR / "onboarding.yaml")


def _small_budget(folder: Path, total: str, name: str = "onboarding_small_budget") -> str:
    """The onboarding journey (renamed ``name``) against a copy of the catalogs whose
    fee_waivers budget is ``total``."""
    folder.mkdir(parents=True, exist_ok=True)
    events = (EXAMPLES / "events.yaml").read_text(encoding="utf-8")
    assert "total: 100_000_000 VND" in events
    (folder / "events.yaml").write_text(events.replace("100_000_000 VND", total), "utf-8")
    shutil.copy(EXAMPLES / "templates.yaml", folder / "templates.yaml")
    source = (EXAMPLES / "onboarding_new_cardholder.journey").read_text(encoding="utf-8")
    path = folder / f"{name}.journey"
    path.write_text(source.replace("journey onboarding_new_cardholder", f"journey {name}"), "utf-8")
    return str(path)


def _run(journey: str, *extra: str) -> list[str]:
    return ["simulate", journey, "--population", "300", "--behaviour", MODEL, "--seed", "7", *extra]


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The onboarding journey with a 20,000,000 VND budget (40 waivers): it runs out."""
    return _small_budget(tmp_path_factory.mktemp("small"), "20_000_000 VND")


def test_the_forecast_plays_the_demand_against_the_budget(cli: Cli, small: str) -> None:
    """Per day the draws and their demand; the budget pays until it runs out, on the first day
    the cumulative demand reaches the total; after it nothing remains and the rest is the
    shortfall. The text report says the same in a line."""
    code, out, err = cli(*_run(small, "--format", "json"), "-q")
    assert code == 0, err
    b = json.loads(out)["budgets"]["fee_waivers"]
    days = b["days"]
    assert sum(d["draws"] for d in days) == b["draws"] > 40
    assert sum(Decimal(d["demand"]) for d in days) == Decimal(b["demand"]) == b["draws"] * 500_000
    assert Decimal(b["spent"]) == Decimal(b["total"]) == 20_000_000
    assert (b["remaining"], b["shortfall"]) == ("0", str(Decimal(b["demand"]) - 20_000_000))
    cumulative, first = Decimal(0), None
    for d in days:
        cumulative += Decimal(d["demand"])
        if first is None and cumulative >= 20_000_000:
            first = d["day"]
    assert b["runs_out"] == first
    assert [d["day"] for d in days] == sorted(d["day"] for d in days)
    code, text, _ = cli(*_run(small), "-q")
    assert f"runs out on {first}, 0 VND left" in text


class _Result:
    """A run's result as the forecast reads it: the journey and its tally."""

    def __init__(self, journey: Any, tally: Tally) -> None:
        self._journey, self._tally = journey, tally

    def journey(self, journey_id: str | None = None) -> Any:
        return self._journey

    def tally(self, journey_id: str | None = None) -> Tally:
        return self._tally


def test_the_forecast_runs_out_exactly_at_the_boundary() -> None:
    """1,000,000 VND and a demand of 400,000 then 600,000 then 100,000 a day: it runs out on
    the second day, whose demand reaches the total exactly; the third day is all shortfall."""
    text = (EXAMPLES / "onboarding_new_cardholder.journey").read_text(encoding="utf-8")
    result = compile_source(text, str(EXAMPLES / "onboarding_new_cardholder.journey"))
    assert result.journey is not None
    tally = Tally()
    for day, amount, n in (("2026-01-10", 400_000, 2), ("2026-01-11", 600_000, 3)):
        tally.budget_draws[("fee_waivers", day)] = n
        tally.budget_spend[("fee_waivers", day)] = amount * MILLION
    tally.budget_draws[("fee_waivers", "2026-01-12")] = 1
    tally.budget_spend[("fee_waivers", "2026-01-12")] = 100_000 * MILLION
    journey = result.journey
    node = journey.nodes["reward_annual_fee_waiver"]
    object.__setattr__(node, "total", "1000000")  # (a budget of 1,000,000 VND for the test)
    b = forecast(_Result(journey, tally))["fee_waivers"]  # type: ignore[arg-type]
    assert b["runs_out"] == "2026-01-11"
    assert [d["remaining"] for d in b["days"]] == ["600000", "0", "0"]
    assert [d["spent"] for d in b["days"]] == ["400000", "600000", "0"]
    assert (b["spent"], b["shortfall"], b["draws"]) == ("1000000", "100000", 6)


def test_merged_parts_carry_the_budget_figures(cli: Cli, small: str, tmp_path: Path) -> None:
    """`--part K/3` files merged give the single run's JSON byte for byte, budgets included
    (the demand per day adds up across the parts, so the day it runs out is the same)."""
    args = _run(small, "--format", "json")
    paths = []
    for k in (1, 2, 3):
        path = str(tmp_path / f"part-{k}.json")
        code, _, err = cli(*args, "--part", f"{k}/3", "-o", path, "-q")
        assert code == 0, err
        paths.append(path)
    single = cli(*args, "-q")[1]
    merged = cli("merge", *reversed(paths))[1]
    assert merged == single
    assert json.loads(merged)["budgets"]["fee_waivers"]["runs_out"] is not None


def test_compare_shows_the_difference_between_two_budgets(
    cli: Cli, small: str, tmp_path: Path
) -> None:
    """The same journey against 500,000,000 VND and 20,000,000 VND: both forecasts, the same
    demand, and other minus base (the total, what remains, the shortfall)."""
    ample = _small_budget(tmp_path / "ample", "500_000_000 VND")
    code, out, err = cli(*_run(ample, "--compare", small, "--format", "json"), "-q")
    assert code == 0, err
    row = json.loads(out)["budgets"]["fee_waivers"]
    assert row["base"]["runs_out"] is None
    assert row["other"]["runs_out"] is not None
    assert row["diff"]["total"] == "-480000000"
    assert row["diff"]["demand"] == "0"
    assert Decimal(row["diff"]["shortfall"]) == Decimal(row["other"]["shortfall"]) > 0
    code, text, _ = cli(*_run(ample, "--compare", small), "-q")
    assert "fee_waivers (other - base): total -480,000,000 VND" in text


@pytest.mark.browser
def test_chromium_draws_the_burn_down(cli: Cli, small: str, tmp_path: Path) -> None:
    """In headless Chromium the report runs cleanly and shows the budgets section with one
    burn-down chart: a line of one point a day of the run, never rising, down to 0."""
    _chromium()
    page_path = tmp_path / "report.html"
    code, _, err = cli(*_run(small, "--format", "html", "--output", str(page_path)), "-q")
    assert code == 0, err
    page, console = open_in_chromium(page_path, tmp_path / "profile")
    assert problems(page, console) == []
    assert {"budgets", "budget", "burn-down"} <= page.testids
    dom = subprocess.run(
        [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom",
         f"--user-data-dir={tmp_path / 'profile2'}", page_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=90, check=True,
    ).stdout  # fmt: skip
    chart = re.search(r'data-testid="burn-down".*?</svg>', dom, re.S)
    assert chart is not None
    (points,) = re.findall(r'<polyline[^>]* points="([^"]+)"', chart.group(0))
    ys = [float(p.split(",")[1]) for p in points.split()]
    assert len(ys) == 91  # (the default 90 days: a point a day, the first day to the last)
    assert ys == sorted(ys)  # what remains never grows (y grows downwards)
    assert ys[-1] > ys[0]  # it ran out: the line ends lower than it started
    assert 'data-runs-out="2026-' in dom


def test_a_preset_must_fit_its_budget_every_mistake_named() -> None:
    """Presets above the total, finer than the currency or a fractional quota: one each."""
    source = """
journey gifts
uses events "events.yaml"
entry on card_activated
reward welcome_gift from welcome_gifts
reward annual_fee_waiver from fee_waivers amount 500_000 VND
"""
    journey = compile_source(source, str(EXAMPLES / "gifts.journey")).journey
    assert journey is not None
    presets = {
        "fee_waivers": {"remaining": "100_000_001 VND"},
        "welcome_gifts": {"remaining": Decimal("2.5")},
    }
    assert preset_mistakes([journey], presets) == [
        (
            ("fee_waivers", "remaining"),
            "budget 'fee_waivers': 'remaining' 100_000_001 VND is more than the budget's "
            "total, 100_000_000 VND",
        ),
        (
            ("welcome_gifts", "remaining"),
            "budget 'welcome_gifts': 'remaining' must be a whole number of rewards, not 2.5",
        ),
    ]
    fine = {"fee_waivers": {"remaining": "100_000_000 VND"}, "welcome_gifts": {"remaining": 0}}
    assert preset_mistakes([journey], fine) == []


def _in_utc(source: Path, target: Path, moved: dict[str, str] | None = None) -> None:
    """``source``'s events, each ``at`` first replaced as ``moved`` says, written in UTC."""
    from datetime import UTC, datetime

    lines = []
    for line in source.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        at = (moved or {}).get(event["at"], event["at"])
        event["at"] = datetime.fromisoformat(at).astimezone(UTC).isoformat()
        lines.append(json.dumps(event))
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_budget_days_are_the_journeys_days_whatever_offset_the_events_carry(
    cli: Cli, tmp_path: Path
) -> None:
    """A draw at 02:00 local falls on its local day, also when the events are written in UTC."""
    recorded = EXAMPLES / "events"
    moved = {"2026-01-30T19:00:00+07:00": "2026-01-30T02:00:00+07:00"}  # c-003's last spend
    local = tmp_path / "local.jsonl"
    local.write_text(
        (recorded / "onboarding.jsonl")
        .read_text(encoding="utf-8")
        .replace(*next(iter(moved.items()))),
        encoding="utf-8",
    )
    utc = tmp_path / "utc.jsonl"
    _in_utc(recorded / "onboarding.jsonl", utc, moved)
    documents = []
    for events in (local, utc):
        code, out, err = cli(
            "simulate",
            str(EXAMPLES / "onboarding_new_cardholder.journey"),
            "--events",
            str(events),
            "--profiles",
            str(recorded / "onboarding_profiles.jsonl"),
            "--format",
            "json",
        )
        assert code == 0, err
        documents.append(out)
    days = json.loads(documents[1])["budgets"]["fee_waivers"]["days"]
    assert [d["day"] for d in days] == ["2026-01-30"]
    assert documents[0] == documents[1]


def test_tally_counts_a_draw_on_its_day_in_the_zone_given() -> None:
    """Tally.of with a zone counts a draw logged in UTC on that zone's calendar day."""
    from zoneinfo import ZoneInfo

    record = {
        "visits": {"reward": 1},
        "status": "ended",
        "outcome": "done",
        "log": [
            {
                "what": "budget",
                "granted": True,
                "name": "fee_waivers",
                "at": "2026-01-29T19:00:00+00:00",
                "drawn": "500000",
            }
        ],
    }
    tally = Tally.of([record], [], rewards=frozenset({"reward"}), zone=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert dict(tally.budget_draws) == {("fee_waivers", "2026-01-30"): 1}


def test_one_draw_is_said_in_the_singular() -> None:
    """The text line says `1 draw asks`, and `2 draws ask`."""
    from journeydsl.simulate.budgets import budget_lines

    def line(draws: int) -> str:
        b = {
            "kind": "money",
            "currency": "VND",
            "total": "100000000",
            "draws": draws,
            "demand": str(500_000 * draws),
            "remaining": str(100_000_000 - 500_000 * draws),
            "shortfall": "0",
            "runs_out": None,
        }
        (only,) = budget_lines({"fee_waivers": b})
        return only

    assert "; 1 draw asks 500,000 VND;" in line(1)
    assert "; 2 draws ask 1,000,000 VND;" in line(2)


def _waivers_tally(draws: list[tuple[str, int]]) -> Tally:
    """A tally of fee-waiver draws, each ``(day, amount in VND)``, as a run counts them."""
    records = [
        {
            "visits": {"reward": 1},
            "status": "ended",
            "outcome": "done",
            "log": [
                {
                    "what": "budget",
                    "granted": True,
                    "name": "fee_waivers",
                    "at": f"{day}T10:00:00+07:00",
                    "drawn": str(amount),
                }
            ],
        }
        for day, amount in draws
    ]
    return Tally.of(records, [], rewards=frozenset({"reward"}))


def test_the_forecast_pays_whole_draws_as_the_ledger_does() -> None:
    """1,000,000 VND and four draws of 400,000 on one day: the ledger pays two and refuses two,
    so the forecast spends 800,000, keeps 200,000, runs out that day with 800,000 of demand
    beyond it (not 1,000,000 spent and 600,000 short); a smaller draw the next day still fits,
    and the figures survive a part file's round trip."""
    from journeydsl.simulate.parts import _counts, _typed

    text = (EXAMPLES / "onboarding_new_cardholder.journey").read_text(encoding="utf-8")
    result = compile_source(text, str(EXAMPLES / "onboarding_new_cardholder.journey"))
    assert result.journey is not None
    node = result.journey.nodes["reward_annual_fee_waiver"]
    object.__setattr__(node, "total", "1000000")  # (a budget of 1,000,000 VND for the test)
    tally = _waivers_tally([("2026-01-10", 400_000)] * 4 + [("2026-01-11", 150_000)])
    tally = _typed(Tally, json.loads(json.dumps(_counts(tally))))
    b = forecast(_Result(result.journey, tally))["fee_waivers"]  # type: ignore[arg-type]
    assert [(d["spent"], d["remaining"]) for d in b["days"]] == [
        ("800000", "200000"),
        ("150000", "50000"),
    ]
    assert (b["spent"], b["remaining"], b["shortfall"]) == ("950000", "50000", "800000")
    assert (b["runs_out"], b["demand"], b["draws"]) == ("2026-01-10", "1750000", 5)


def test_the_html_budget_heading_writes_amounts_as_the_text_report() -> None:
    """The HTML report's budget heading says 100,000,000 VND, as the text report's line does."""
    from datetime import datetime

    from journeydsl.simulate.budgets import budget_lines, budgets_section

    b = {
        "kind": "money",
        "currency": "VND",
        "total": "100000000",
        "draws": 1,
        "demand": "500000",
        "remaining": "99500000",
        "shortfall": "0",
        "runs_out": None,
        "days": [{"day": "2026-01-30", "remaining": "99500000"}],
    }
    start = datetime.fromisoformat("2026-01-05T00:00:00+07:00")
    until = datetime.fromisoformat("2026-02-05T00:00:00+07:00")
    assert "(100,000,000 VND; lasts the whole run)" in budgets_section({"w": b}, start, until)
    assert budget_lines({"w": b}) == [
        "w: 100,000,000 VND; 1 draw asks 500,000 VND; lasts the whole run, 99,500,000 VND left"
    ]


def test_parts_written_before_the_amounts_were_kept_still_merge(
    cli: Cli, small: str, tmp_path: Path
) -> None:
    """Part files of the layout without `budget_amounts` (written by an earlier journeydsl)
    merge, the forecast paying each day's demand up to what is left: with draws of one amount
    that fit the total exactly, the same report as the single run."""
    args = _run(small, "--format", "json")
    paths = []
    for k in (1, 2):
        path = tmp_path / f"part-{k}.json"
        code, _, err = cli(*args, "--part", f"{k}/2", "-o", str(path), "-q")
        assert code == 0, err
        doc = json.loads(path.read_text(encoding="utf-8"))
        for result in doc["results"]:
            del result["tally"]["budget_amounts"]
        path.write_text(json.dumps(doc), encoding="utf-8")
        paths.append(str(path))
    code, merged, err = cli("merge", *paths)
    assert code == 0, err
    assert merged == cli(*args, "-q")[1]
