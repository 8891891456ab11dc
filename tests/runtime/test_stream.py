"""The stream runner behind `journeydsl run`: a run on a state file goes on from the time the
last one reached, so runs split at any point deliver what one long run does; the profiles a run
is given count from its start, for `entry when`."""

from __future__ import annotations

from pathlib import Path

import pytest

from journeydsl.cli import main
from tests.catalogs import example_catalogs_in
from tests.runtime.test_run_cli import JOURNEYS, event, jsonl, profile, read_actions

ONBOARDING = JOURNEYS[0]
PROFILES = [profile(c, False, email=True, sms=True, zns=True) for c in ("c-1", "c-2")]
ISSUED = [
    event("c-1", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k1", product="gold"),
    event("c-2", "card_issued", "2026-01-05T11:00:00+07:00", card_id="k2", product="gold"),
]
#: A later day's stream: one event, days after the reminders of c-1 and c-2 fell due.
LATER = [event("c-3", "app_installed", "2026-01-20T09:00:00+07:00")]
NOW = "2026-02-20T00:00:00+07:00"


def _run(folder: Path, events: list[dict[str, object]], *now: str) -> list[dict[str, object]]:
    """One `journeydsl run` of the onboarding journey on ``folder``'s state file; the actions
    file's lines so far, without their order."""
    files = {
        "--db": folder / "state.sqlite",
        "--actions": folder / "actions.jsonl",
        "--profiles": jsonl(folder / "profiles.jsonl", PROFILES),
        "--events": jsonl(folder / f"events{len(list(folder.iterdir()))}.jsonl", events),
    }
    args = [x for k, v in files.items() for x in (k, str(v))]
    assert main(["run", ONBOARDING, *args, *(["--now", now[0]] if now else [])]) == 0
    return sorted(read_actions(files["--actions"]), key=repr)


@pytest.mark.parametrize(
    "parts",
    [
        [(ISSUED, ()), (LATER, ()), ([], (NOW,))],
        [(ISSUED, ()), ([], (NOW,))],
        [(ISSUED, ("2026-01-08T00:00:00+07:00",)), (LATER, (NOW,))],
    ],
    ids=["daily-batches", "then-now", "now-then-batch"],
)
def test_runs_split_over_days_deliver_what_one_run_does(
    tmp_path: Path, parts: list[tuple[list[dict[str, object]], tuple[str, ...]]]
) -> None:
    """A run whose first event (or --now) is days after the time the state file reached fires
    what fell due in between at its own time, as one run over the whole stream does, rather
    than all of it at that first event, suppressed as stale."""
    whole = tmp_path / "whole"
    whole.mkdir()
    expected = _run(whole, ISSUED + LATER, NOW)
    assert [a for a in expected if a.get("template") == "activation_reminder"]
    split = tmp_path / "split"
    split.mkdir()
    got: list[dict[str, object]] = []
    for events, now in parts:
        got = _run(split, events, *now)
    assert got == expected


GOLD_WELCOME = """journey gold_welcome
uses events "events.yaml"
uses templates "templates.yaml"
outcomes welcomed
entry when profile.segment == "gold"
  reentry always
send email new_cardholder_promotions
exit welcomed
"""


def test_a_run_given_changed_profiles_enters_where_an_entry_when_turned_true(
    tmp_path: Path,
) -> None:
    """`entry when` on a profile attribute: a later run whose profiles file moves a customer to
    gold enters them at the run's start (the time the state file reached); the same file again
    enters nobody; back to mass and to gold again enters them a second time."""
    journey = example_catalogs_in(tmp_path) / "gold_welcome.journey"
    journey.write_text(GOLD_WELCOME, encoding="utf-8")
    files = {"--db": tmp_path / "s.db", "--actions": tmp_path / "actions.jsonl"}
    common = [str(journey), *(x for k, v in files.items() for x in (k, str(v)))]
    first = [event("c-1", "app_installed", "2026-03-01T10:00:00+07:00")]

    def run(segment: str, events: list[dict[str, object]]) -> list[str]:
        row = profile("c-1", False, email=True)
        row["attributes"]["segment"] = segment
        given = [
            *("--profiles", str(jsonl(tmp_path / f"{segment}.jsonl", [row]))),
            *("--events", str(jsonl(tmp_path / "events.jsonl", events))),
        ]
        assert main(["run", *common, *given]) == 0
        return [a["at"] for a in read_actions(files["--actions"])]

    assert run("mass", first) == []
    assert run("gold", []) == ["2026-03-01T10:00:00+07:00"]
    assert run("gold", []) == ["2026-03-01T10:00:00+07:00"]
    assert run("mass", [event("c-1", "app_installed", "2026-03-05T10:00:00+07:00")]) == [
        "2026-03-01T10:00:00+07:00"
    ]
    assert run("gold", []) == ["2026-03-01T10:00:00+07:00", "2026-03-05T10:00:00+07:00"]


def test_a_byte_order_mark_opening_the_event_and_profile_files_is_not_part_of_a_line(
    tmp_path: Path,
) -> None:
    """Event and profile files saved with a UTF-8 byte-order mark (Notepad, Excel, PowerShell)
    give the run the same actions as without it: their first lines are neither quarantined nor
    skipped."""
    plain = tmp_path / "plain"
    plain.mkdir()
    expected = _run(plain, ISSUED, NOW)
    marked = tmp_path / "marked"
    marked.mkdir()
    files = {
        "--db": marked / "state.sqlite",
        "--actions": marked / "actions.jsonl",
        "--profiles": jsonl(marked / "profiles.jsonl", PROFILES),
        "--events": jsonl(marked / "events.jsonl", ISSUED),
    }
    for name in ("--profiles", "--events"):
        files[name].write_bytes(b"\xef\xbb\xbf" + files[name].read_bytes())
    args = [x for k, v in files.items() for x in (k, str(v))]
    assert main(["run", ONBOARDING, *args, "--now", NOW]) == 0
    assert sorted(read_actions(files["--actions"]), key=repr) == expected
