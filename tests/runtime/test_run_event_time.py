"""`journeydsl run` takes a stream in event time: a stream shuffled within the allowed lateness
gives the actions and outcomes of the same stream sorted by time; an event dated further back
than that is quarantined too_late and reported; `--allowed-lateness` sets how far."""

from __future__ import annotations

import io
import json
import random
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.cli import main
from journeydsl.cli.run import run
from journeydsl.expr.checker import duration_value
from tests.runtime.test_run_cli import JOURNEYS, event, jsonl, profile, read_actions, tx

PROFILES = [
    profile("a", True, email=True, sms=True, zns=True, push=True),
    profile("b", False, email=True, sms=True, zns=True),
]
#: The issue's stream: a's later event first, then b's issuance and activation.
SHUFFLED = [
    event("a", "app_installed", "2026-01-07T09:00:00+07:00"),
    event("b", "card_issued", "2026-01-05T09:00:00+07:00", card_id="kb", product="classic"),
    event("b", "card_activated", "2026-01-06T09:00:00+07:00", card_id="kb"),
]
NOW = "2026-03-01T00:00:00+07:00"


def _run(tmp: Path, name: str, events: list[Any], lateness: str = "1d") -> tuple[int, str, Path]:
    """One run of both example journeys on a fresh state file (without syncs to disk)."""
    folder = tmp / name
    folder.mkdir()
    actions = folder / "actions.jsonl"
    err = io.StringIO()
    code = run(
        JOURNEYS,
        db=folder / "state.sqlite",
        events=str(jsonl(folder / "events.jsonl", events)),
        actions=actions,
        profiles=jsonl(folder / "profiles.jsonl", PROFILES),
        now=datetime.fromisoformat(NOW),
        err=err,
        fsync=False,
        allowed_lateness=duration_value(lateness) or timedelta(0),
    )
    return code, err.getvalue(), actions


def _outcomes(db: Path) -> list[tuple[str, str, str]]:
    with sqlite3.connect(db) as conn:
        query = "SELECT id, status, json_extract(record, '$.outcome') FROM instances ORDER BY id"
        rows = conn.execute(query).fetchall()
    return [(str(i), str(s), str(o)) for i, s, o in rows]


def _actions(path: Path) -> list[str]:
    """The actions, without the order of their lines."""
    if not path.exists():
        return []
    return sorted(repr(sorted(a.items())) for a in read_actions(path))


def _sorted(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(events, key=lambda e: datetime.fromisoformat(e["at"]))


def test_a_late_issuance_is_quarantined_too_late_by_default(tmp_path: Path) -> None:
    """With the default (1d), b's issuance two days before the latest event is quarantined as
    too_late and reported by line, not entered at the wrong time."""
    code, err, actions = _run(tmp_path, "default", SHUFFLED)
    assert code == 0
    assert "events.jsonl:2: quarantined: too_late: dated 2d before the latest event" in err
    assert "1 quarantined" in err
    assert not any(a["customer_id"] == "b" for a in read_actions(actions))


def test_within_the_allowed_lateness_the_shuffled_stream_gives_the_sorted_ones_actions(
    tmp_path: Path,
) -> None:
    """--allowed-lateness 3d: b enters at 01-05 and its activation on 01-06 ends the reminders,
    exactly as when the stream is sorted (no reminder rounds, no ticket)."""
    code, err, shuffled = _run(tmp_path, "shuffled", SHUFFLED, "3d")
    assert code == 0, err
    code, err, ordered = _run(tmp_path, "sorted", _sorted(SHUFFLED), "3d")
    assert code == 0, err
    assert _actions(shuffled) == _actions(ordered)
    b = [a for a in read_actions(shuffled) if a["customer_id"] == "b"]
    assert b[0]["template"] == "welcome_activation_guide"
    assert "new_cardholder_promotions" in [a.get("template") for a in b]
    assert not [a for a in b if a.get("template") == "activation_reminder" or a["kind"] == "ticket"]
    assert b[0]["at"] == "2026-01-05T09:00:00+07:00"
    assert _outcomes(tmp_path / "shuffled" / "state.sqlite") == _outcomes(
        tmp_path / "sorted" / "state.sqlite"
    )


def test_a_bad_allowed_lateness_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """--allowed-lateness takes a duration or 0."""
    code = main(
        [
            "run",
            *JOURNEYS,
            "--db",
            "x",
            "--events",
            "x",
            "--actions",
            "x",
            "--allowed-lateness",
            "soon",
        ]
    )
    assert code == 2
    assert "--allowed-lateness 'soon' is not a duration" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("option", "given"),
    [
        ("--allowed-lateness", "99999999d"),
        ("--allowed-lateness", "3661d"),
        ("--max-future", "9999999999999999999w"),
    ],
)
def test_a_duration_option_too_long_says_so_and_the_limit(
    capsys: pytest.CaptureFixture[str], option: str, given: str
) -> None:
    """A well-written duration past the limit is refused as too long, naming the limit, not as
    no duration; leading zeros do not lengthen one."""
    argv = ["run", *JOURNEYS, "--db", "x", "--events", "x", "--actions", "x"]
    assert main([*argv, option, given]) == 2
    err = capsys.readouterr().err
    assert f"{option} {given!r} is too long: a duration is at most 3660d" in err
    assert "not a duration" not in err
    assert main([*argv, option, "00000000000000000002d"]) == 2
    assert "no such file" in capsys.readouterr().err  # (the duration itself was taken)


#: One customer's life, each event at a distinct time (ties would keep arrival order).
LIFE = [
    event("c", "card_issued", "2026-01-05T09:00:00+07:00", card_id="kc", product="gold"),
    event("c", "app_installed", "2026-01-05T18:00:00+07:00"),
    event("c", "card_activated", "2026-01-06T08:00:00+07:00", card_id="kc"),
    tx("c", "2026-01-06T12:00:00+07:00", 300_000),
    tx("c", "2026-01-06T20:00:00+07:00", 800_000),
    event(
        "c",
        "message_opened",
        "2026-01-07T07:00:00+07:00",
        message_id="m1",
        journey="onboarding_new_cardholder",
        node="welcome",
        template="welcome_activation_guide",
        channel="email",
    ),
]


@settings(max_examples=8, deadline=None)
@given(st.integers(0, 2**32 - 1), st.integers(1, len(LIFE)))
def test_any_shuffle_within_the_allowed_lateness_gives_the_time_ordered_result(
    seed: int, size: int
) -> None:
    """A customer's events in any order (all within 2 days, the allowed lateness): the same
    actions and outcomes as the time-ordered stream."""
    import tempfile

    events = LIFE[:size]
    shuffled = list(events)
    random.Random(seed).shuffle(shuffled)
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        assert _run(base, "shuffled", shuffled, "2d")[0] == 0
        assert _run(base, "sorted", events, "2d")[0] == 0
        assert _actions(base / "shuffled" / "actions.jsonl") == _actions(
            base / "sorted" / "actions.jsonl"
        )
        assert _outcomes(base / "shuffled" / "state.sqlite") == _outcomes(
            base / "sorted" / "state.sqlite"
        )


def test_a_pipe_is_taken_as_it_comes_with_late_events_at_their_own_time(tmp_path: Path) -> None:
    """From stdin (a live feed) nothing is held: b's issuance, 11 hours behind a's event, enters
    at its own time; an event two days behind is quarantined too_late."""
    lines = [
        event("a", "app_installed", "2026-01-05T20:00:00+07:00"),
        event("b", "card_issued", "2026-01-05T09:00:00+07:00", card_id="kb", product="x"),
        event("c", "card_issued", "2026-01-03T09:00:00+07:00", card_id="kc", product="x"),
    ]
    stdin = io.BytesIO("".join(json.dumps(x) + "\n" for x in lines).encode())
    err = io.StringIO()
    code = run(
        JOURNEYS,
        db=tmp_path / "state.sqlite",
        events="-",
        stdin=stdin,
        actions=tmp_path / "actions.jsonl",
        profiles=jsonl(tmp_path / "profiles.jsonl", PROFILES),
        err=err,
        fsync=False,
    )
    assert code == 0, err.getvalue()
    assert (
        "<stdin>:3: quarantined: too_late: dated 2d 11h before the latest event" in err.getvalue()
    )
    welcome = [a for a in read_actions(tmp_path / "actions.jsonl") if a["customer_id"] == "b"]
    assert [a["template"] for a in welcome] == ["welcome_activation_guide"]
    with sqlite3.connect(tmp_path / "state.sqlite") as conn:
        (entered,) = conn.execute(
            "SELECT json_extract(record, '$.entered_at') FROM instances WHERE customer_id = 'b'"
        ).fetchone()
    assert entered == "2026-01-05T09:00:00+07:00"


def test_a_replayed_late_events_overdue_timers_fire_late_not_backdated(tmp_path: Path) -> None:
    """t-1's card_issued comes 5 days after t-2's (quarantined too_late), is replayed, and a
    later run goes on to 12:00: t-1's first reminder, due days before the time the run had
    reached (10:00), fires then, as stale (sends nothing), and the second, due at 10:00, is
    sent at 10:00; the actions file never goes back in time."""
    onboarding = JOURNEYS[0]
    profiles = jsonl(
        tmp_path / "profiles.jsonl",
        [profile(c, False, email=True, sms=True, zns=True) for c in ("t-1", "t-2")],
    )
    late = [
        event("t-2", "card_issued", "2026-01-10T10:00:00+07:00", card_id="k2", product="gold"),
        event("t-1", "card_issued", "2026-01-05T10:00:00+07:00", card_id="k1", product="gold"),
    ]
    files = {"--db": tmp_path / "s.db", "--actions": tmp_path / "actions.jsonl"}
    common = [x for k, v in files.items() for x in (k, str(v))]
    events = jsonl(tmp_path / "late.jsonl", late)
    assert (
        main(["run", onboarding, "--events", str(events), "--profiles", str(profiles), *common])
        == 0
    )
    assert main(["quarantine", "replay", onboarding, *common]) == 0
    empty = jsonl(tmp_path / "empty.jsonl", [])
    more = ["--events", str(empty), "--now", "2026-01-10T12:00:00+07:00"]
    assert main(["run", onboarding, *more, *common]) == 0
    actions = read_actions(files["--actions"])
    times = [datetime.fromisoformat(a["at"]) for a in actions]
    assert times == sorted(times)
    reminders = [a for a in actions if a["customer_id"] == "t-1"]
    assert [(a["template"], a["at"]) for a in reminders] == [
        ("activation_reminder", "2026-01-10T10:00:00+07:00")
    ]
