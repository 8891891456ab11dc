"""`journeydsl pause | resume | drain | audit | status`: a paused journey's sends and events are
held across `journeydsl run`s and delivered once after `resume`; every error is one line with
exit code 2; the audit and status listings in text and JSON."""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from journeydsl.cli import main
from journeydsl.runtime import control
from journeydsl.runtime.stores.sqlite import SQLiteStore
from tests.runtime.scenario import build, ev, local, profile
from tests.runtime.test_control import NUDGES
from tests.runtime.test_run_cli import EXAMPLES, event, jsonl, read_actions
from tests.runtime.test_run_cli import profile as profile_line

ONBOARDING = str(EXAMPLES / "onboarding_new_cardholder.journey")
JOURNEY = "onboarding_new_cardholder"


def _run(tmp_path: Path, events: list[Any], now: str) -> int:
    files = tmp_path / "events.jsonl"
    jsonl(files, events)
    profiles = jsonl(
        tmp_path / "profiles.jsonl",
        [profile_line(c, False, email=True, sms=True) for c in ("c-002", "c-004")],
    )
    argv = ["run", ONBOARDING, "--db", str(tmp_path / "state.db"), "--events", str(files)]
    argv += ["--actions", str(tmp_path / "actions.jsonl"), "--profiles", str(profiles)]
    return main([*argv, "--now", now])


def _onboarding_actions(tmp_path: Path) -> list[tuple[str, str, str]]:
    return [
        (a["customer_id"], a["at"], a.get("template") or a["kind"])
        for a in read_actions(tmp_path / "actions.jsonl")
        if a.get("journey") == JOURNEY
    ]


def test_a_paused_journey_holds_its_sends_and_events_across_runs_until_resumed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Paused at 09:00, a card issued at 10:00 and a reminder due at 11:00 wait through a run
    to 18:00; resumed then with fire, the next run sends both at 18:00, in that order, once."""
    db = str(tmp_path / "state.db")
    issued = event(
        "c-002", "card_issued", "2026-01-05T11:00:00+07:00", card_id="k2", product="gold"
    )
    assert _run(tmp_path, [issued], "2026-01-06T00:00:00+07:00") == 0
    assert main(["pause", JOURNEY, "--db", db, "--by", "ops", "--reason", "wrong copy", "--now",
                 "2026-01-07T09:00:00+07:00"]) == 0  # fmt: skip
    new = event("c-004", "card_issued", "2026-01-07T10:00:00+07:00", card_id="k4", product="gold")
    assert _run(tmp_path, [new], "2026-01-07T18:00:00+07:00") == 0
    assert _onboarding_actions(tmp_path) == [
        ("c-002", "2026-01-05T11:00:00+07:00", "welcome_activation_guide")
    ]
    capsys.readouterr()
    assert main(["status", "--db", db]) == 0
    assert (
        f"{JOURNEY}: paused since 2026-01-07T09:00:00+07:00 by ops (1 running, 0 ended, "
        "1 held events)" in capsys.readouterr().out
    )
    now = ["--now", "2026-01-07T18:00:00+07:00"]
    assert main(["resume", JOURNEY, "--db", db, "--timers", "fire", *now]) == 0
    assert "1 held events to apply" in capsys.readouterr().out
    assert _run(tmp_path, [], "2026-01-07T18:00:00+07:00") == 0
    # (in the order they happened, each sent when the resumed run fired it: `fire` fires now,
    # and nothing is dated before the time the run had reached)
    assert _onboarding_actions(tmp_path)[1:] == [
        ("c-004", "2026-01-07T18:00:00+07:00", "welcome_activation_guide"),
        ("c-002", "2026-01-07T18:00:00+07:00", "activation_reminder"),
    ]
    keys = [a["key"] for a in read_actions(tmp_path / "actions.jsonl")]
    assert [k for k, n in Counter(keys).items() if n > 1] == []
    capsys.readouterr()
    assert main(["status", "--db", db, "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert (row["journey"], row["state"], row["held_events"]) == (JOURNEY, "active", 0)
    assert row["drained"] is False


def _db(tmp_path: Path) -> str:
    """A state file where the nudges journey has one running instance."""
    path = tmp_path / "s.db"
    with SQLiteStore(path) as store:
        store.add(profile("c1"))
        r = build([NUDGES], [], start=local("2026-01-05 10:00"), state=store, events=store,
                  profile_store=store)  # fmt: skip
        r.engine.ingest(
            ev("c1", "card_issued", local("2026-01-05 10:00"), card_id="K", product="x")
        )
    return str(path)


def test_drain_audit_and_status_in_text_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Drain then resume are listed by `audit` (text and JSON, with who, when and why) and the
    state by `status`, which says when a draining journey has drained."""
    db = _db(tmp_path)
    at = "2026-01-05T12:00:00+07:00"
    assert main(["drain", "nudges", "--db", db, "--by", "lan", "--reason", "v2", "--now", at]) == 0
    assert "nudges: draining" in capsys.readouterr().out
    assert main(["status", "--db", db]) == 0
    assert "nudges: draining since 2026-01-05T12:00:00+07:00 by lan (1 running, 0 ended)" in (
        capsys.readouterr().out
    )
    with SQLiteStore(db) as store:  # the running instance times out and ends
        r = build([NUDGES], [], start=local("2026-01-05 12:00"), state=store, events=store,
                  profile_store=store)  # fmt: skip
        r.advance(local("2026-01-08 12:00"))
    assert main(["status", "--db", db]) == 0
    assert "(0 running, 1 ended); drained" in capsys.readouterr().out
    assert main(["status", "--db", db, "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)  # (the JSON says it too)
    assert (row["state"], row["running"], row["drained"]) == ("draining", 0, True)
    assert main(["resume", "nudges", "--db", db]) == 0
    assert "nudges: active (open to new entries)" in capsys.readouterr().out
    assert main(["audit", "--db", db]) == 0
    text = capsys.readouterr().out
    assert "2026-01-05T05:00:00+00:00  drain  nudges  by lan (v2)" in text
    assert f"resume nudges  by {control.operator()}" in text
    assert main(["audit", "--db", db, "--journey", "nudges", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [(r["seq"], r["action"], r["by"], r["reason"]) for r in rows] == [
        (1, "drain", "lan", "v2"),
        (2, "resume", control.operator(), None),
    ]
    assert datetime.fromisoformat(rows[0]["at"]).utcoffset() is not None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["pause", "nudge"], "unknown journey 'nudge' in {db} (it has: nudges); did you mean"),
        (["drain", "other"], "unknown journey 'other' in {db} (it has: nudges)"),
        (["resume", "nudges", "--timers", "fire"], "journey 'nudges' is not paused nor draining"),
        (["audit", "--journey", "x"], "unknown journey 'x'"),
        (["pause", "nudges", "--now", "2026-01-05T10:00"], "is not an ISO 8601 time with an"),
    ],
)
def test_errors_are_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    """Unknown journeys (with a did-you-mean), a resume of an active journey and a naive --now
    are one line on stderr, exit code 2, no traceback."""
    db = _db(tmp_path)
    assert main([*argv, "--db", db]) == 2
    err = capsys.readouterr().err
    assert message.format(db=db) in err
    assert "Traceback" not in err


def test_an_unknown_journey_that_begins_a_known_one_gets_it_as_the_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pause onboarding` on a database of onboarding_new_cardholder (too short for a
    close spelling) is told the journey it begins, as docs/cli.md shows."""
    issued = event("c-002", "card_issued", "2026-01-05T11:00:00+07:00", card_id="k", product="x")
    assert _run(tmp_path, [issued], "2026-01-06T00:00:00+07:00") == 0
    capsys.readouterr()
    assert main(["pause", "onboarding", "--db", str(tmp_path / "state.db")]) == 2
    last = capsys.readouterr().err.splitlines()[-1]
    assert f"(it has: {JOURNEY}); did you mean '{JOURNEY}'?" in last


def test_pause_twice_resume_without_policy_and_a_missing_or_busy_database(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A second pause names who paused and when; a paused journey's resume needs --timers; a
    missing file and a file a run holds are exit 2 with why."""
    db = _db(tmp_path)
    assert main(["pause", "nudges", "--db", db, "--by", "ops"]) == 0
    assert main(["pause", "nudges", "--db", db]) == 2
    assert "is already paused (since" in capsys.readouterr().err
    assert main(["resume", "nudges", "--db", db]) == 2
    assert "needs a timer policy: extend" in capsys.readouterr().err
    assert main(["status", "--db", str(tmp_path / "none.db")]) == 2
    assert "none.db: no such database" in capsys.readouterr().err
    with SQLiteStore(db):
        assert main(["resume", "nudges", "--db", db, "--timers", "fire"]) == 2
        err = capsys.readouterr().err
        assert "controlled between runs" in err
        assert "Traceback" not in err
        assert main(["status", "--db", db]) == 0  # (a reader, beside the writer)
    assert main(["resume", "nudges", "--db", db, "--timers", "extend"]) == 0


@pytest.mark.parametrize("action", ["pause", "drain", "resume"])
def test_an_action_dated_before_the_time_the_runs_reached_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], action: str
) -> None:
    """pause, drain and resume with a --now before the time a run already reached on the state
    file exit 2 with one line naming both times, and change nothing."""
    db = str(tmp_path / "state.db")
    issued = event(
        "c-002", "card_issued", "2026-01-05T11:00:00+07:00", card_id="k2", product="gold"
    )
    assert _run(tmp_path, [issued], "2026-01-10T00:00:00+07:00") == 0
    if action == "resume":
        pause = ["pause", JOURNEY, "--db", db, "--now", "2026-01-10T00:00:00+07:00"]
        assert main(pause) == 0
    capsys.readouterr()
    extra = ["--timers", "fire"] if action == "resume" else []
    argv = [action, JOURNEY, "--db", db, "--now", "2026-01-08T09:00:00+07:00", *extra]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "--now 2026-01-08T09:00:00+07:00 is before 2026-01-10T00:00:00+07:00" in err
    with SQLiteStore(db, readonly=True) as store:
        audit = [e.action for e in store.control_audit(JOURNEY)]
    assert audit == (["pause"] if action == "resume" else [])
