"""Quiet hours of the contact policies, pinned to the minute in several time zones."""

from __future__ import annotations

import json
from datetime import UTC, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from journeydsl.runtime.policies import builtin_profile
from journeydsl.runtime.policies.evaluator import quiet_end
from tests.runtime.policies.harness import (
    ONE_SMS,
    ONE_TRANSACTIONAL,
    compile_journey,
    ev,
    harness,
    local,
    policies,
    profile,
)

VN91 = builtin_profile("vn_decree_91")
HCM, SHANGHAI, LONDON = "Asia/Ho_Chi_Minh", "Asia/Shanghai", "Europe/London"


def _sms_at(tz: str, when: str, policy: object = VN91, text: str = ONE_SMS) -> list[str]:
    """Local minute(s) a marketing SMS due at ``when`` (local) reaches a customer in ``tz``."""
    at = local(when, tz)
    h = harness(
        [compile_journey(text)],
        [profile("c1", tz=tz)],
        start=at,
        policy=policy,  # type: ignore[arg-type]
    )
    h.feed([ev("c1", "card_activated", at, card_id="k1")])
    h.advance(local("2026-12-31 00:00", tz))
    return h.times("c1", "sms")


@pytest.mark.parametrize("tz", [HCM, SHANGHAI, LONDON])
@pytest.mark.parametrize(
    ("due", "delivered"),
    [
        ("2026-01-05 06:59", "2026-01-05 07:00"),
        ("2026-01-05 07:00", "2026-01-05 07:00"),
        ("2026-01-05 21:59", "2026-01-05 21:59"),
        ("2026-01-05 22:00", "2026-01-06 07:00"),
        ("2026-01-05 23:59", "2026-01-06 07:00"),
        ("2026-01-06 00:00", "2026-01-06 07:00"),
    ],
)
def test_marketing_sms_waits_for_07_00_local_and_22_00_is_already_quiet(
    tz: str, due: str, delivered: str
) -> None:
    """vn_decree_91: 06:59 waits to 07:00, 07:00 and 21:59 go, 22:00 waits to 07:00 (local)."""
    assert _sms_at(tz, due) == [delivered]


@pytest.mark.parametrize(
    ("due", "delivered", "hours_later"),
    [
        # Spring forward (29 March 2026): the quiet night is an hour shorter in real time.
        ("2026-03-28 22:30", "2026-03-29 07:00", 7.5),
        # Fall back (25 October 2026): it is an hour longer.
        ("2026-10-24 22:30", "2026-10-25 07:00", 9.5),
        # Summer time on an ordinary night.
        ("2026-07-01 22:00", "2026-07-02 07:00", 9.0),
        ("2026-07-01 21:59", "2026-07-01 21:59", 0.0),
    ],
)
def test_quiet_hours_follow_london_across_daylight_saving(
    due: str, delivered: str, hours_later: float
) -> None:
    """Europe/London: the deferred SMS goes at 07:00 wall-clock time on both DST nights."""
    assert _sms_at(LONDON, due) == [delivered]
    start = local(due, LONDON).astimezone(UTC)  # aware arithmetic in one zone is wall-clock
    end = datetime.fromisoformat(delivered).replace(tzinfo=ZoneInfo(LONDON)).astimezone(UTC)
    assert (end - start).total_seconds() / 3600 == hours_later


def test_transactional_sms_is_not_held_by_the_marketing_window() -> None:
    """vn_decree_91 quiet hours cover marketing only: a transactional SMS at 23:00 goes."""
    assert _sms_at(HCM, "2026-01-05 23:00", text=ONE_TRANSACTIONAL) == ["2026-01-05 23:00"]


def test_the_deferral_is_in_the_decision_log_with_its_policy_and_time() -> None:
    """The log says: deferred until 07:00 by quiet_hours:vn91_marketing_sms_hours, then allowed."""
    at = local("2026-01-05 22:30")
    h = harness([compile_journey(ONE_SMS)], [profile("c1")], start=at, policy=VN91)
    h.feed([ev("c1", "card_activated", at, card_id="k1")])
    h.advance(local("2026-01-07 00:00"))
    deferred, allowed = h.decisions("c1")
    assert deferred["decision"] == "deferred"
    assert deferred["policy"] == "quiet_hours:vn91_marketing_sms_hours"
    assert datetime.fromisoformat(deferred["until"]) == local("2026-01-06 07:00")
    assert (allowed["decision"], allowed["channel"], allowed["label"]) == ("allowed", "sms", "[QC]")


def test_drop_action_suppresses_instead_of_waiting() -> None:
    """A quiet-hours rule with action drop suppresses the message, naming the rule."""
    policy = policies(
        """
quiet_hours:
  - {name: no_night_sms, channels: [sms], from: "21:00", to: "08:00", action: drop}
"""
    )
    at = local("2026-01-05 21:00")
    h = harness([compile_journey(ONE_SMS)], [profile("c1")], start=at, policy=policy)
    h.feed([ev("c1", "card_activated", at, card_id="k1")])
    h.advance(local("2026-01-07 00:00"))
    assert h.times("c1") == []
    assert h.suppressed("c1") == ["quiet hours 21:00-08:00 for marketing sms (no_night_sms)"]


def test_a_daytime_range_and_other_channels() -> None:
    """A range that does not cross midnight holds only its channel: sms waits, email goes."""
    policy = policies(
        """
quiet_hours:
  - {channels: [sms], categories: [marketing], from: "12:00", to: "13:30"}
"""
    )
    text = ONE_SMS + "send email new_cardholder_promotions marketing\n"
    at = local("2026-01-05 12:00")
    h = harness([compile_journey(text)], [profile("c1")], start=at, policy=policy)
    h.feed([ev("c1", "card_activated", at, card_id="k1")])
    h.advance(local("2026-01-06 00:00"))
    assert h.times("c1", "sms") == ["2026-01-05 13:30"]
    assert h.times("c1", "email") == ["2026-01-05 12:00"]


def test_waived_by_lets_a_customer_who_agreed_receive_at_night() -> None:
    """A rule's waived_by consent key, true in the profile, lifts the rule for that customer."""
    policy = policies(
        """
quiet_hours:
  - {channels: [sms], from: "22:00", to: "07:00", waived_by: night_sms_agreed}
"""
    )
    at = local("2026-01-05 23:00")
    agreed = profile("c1", consent={"sms": True, "night_sms_agreed": True})
    h = harness([compile_journey(ONE_SMS)], [agreed, profile("c2")], start=at, policy=policy)
    h.feed(
        [
            ev("c1", "card_activated", at, card_id="k1"),
            ev("c2", "card_activated", at, card_id="k2"),
        ]
    )
    h.advance(local("2026-01-07 00:00"))
    assert h.times("c1") == ["2026-01-05 23:00"]
    assert h.times("c2") == ["2026-01-06 07:00"]


def test_the_journeys_own_quiet_hours_still_apply_with_policies() -> None:
    """A journey's `quiet hours` line holds every category, policies or not."""
    text = ONE_TRANSACTIONAL.replace(
        "entry on card_activated", "quiet hours 21:00 to 08:00 for sms\nentry on card_activated"
    )
    assert _sms_at(HCM, "2026-01-05 21:30", text=text) == ["2026-01-06 08:00"]


def test_a_quiet_end_the_clock_skips_is_a_local_time_that_exists() -> None:
    """Quiet hours 21:00-02:30 in New York end, on the spring-forward night, at 03:30 EDT: an
    instant written with the offset then in force, never 02:30-05:00 (a local time that does not
    exist, which reports printed and send windows misread)."""
    start = datetime(2026, 3, 7, 22, 0, tzinfo=ZoneInfo("America/New_York"))
    end = quiet_end(time(21, 0), time(2, 30), start)
    assert end is not None
    assert end.isoformat() == "2026-03-08T03:30:00-04:00"
    assert end == datetime(2026, 3, 8, 7, 30, tzinfo=UTC)


def test_a_quiet_end_in_the_hour_shown_twice_is_still_ahead() -> None:
    """At 01:15 EST, the second time New York's clock shows 01:15 (the autumn change), quiet
    hours 23:00-01:30 end at 01:30 EST, a quarter of an hour on: not at 01:30 EDT, an hour
    before now, which had the message deferred to the past again and again."""
    now = datetime(2026, 11, 1, 6, 15, tzinfo=UTC).astimezone(ZoneInfo("America/New_York"))
    assert now.isoformat() == "2026-11-01T01:15:00-05:00"
    end = quiet_end(time(23, 0), time(1, 30), now)
    assert end is not None
    assert end.isoformat() == "2026-11-01T01:30:00-05:00"
    assert end.astimezone(UTC) == datetime(2026, 11, 1, 6, 30, tzinfo=UTC)
    first = datetime(2026, 11, 1, 5, 15, tzinfo=UTC)  # (01:15 EDT, the first time round)
    first_end = quiet_end(time(23, 0), time(1, 30), first.astimezone(now.tzinfo))
    assert first_end is not None
    assert first_end.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_simulate_and_run_agree_on_a_window_after_quiet_hours_across_the_clock_change(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A New York journey quiet for email until 02:30 and sending sms only on Sundays
    02:30-02:45: a card issued on Saturday 7 March 2026 at 22:00 gets both at 03:30 EDT on the
    spring-forward Sunday, as `simulate` and as `run` (simulate printed 02:30-05:00 and sent the
    sms, run deferred the sms a week)."""
    from journeydsl.cli import main
    from tests.catalogs import example_catalogs_in

    journey = example_catalogs_in(tmp_path) / "qh.journey"
    journey.write_text(QUIET_ACROSS_DST, encoding="utf-8")
    events = tmp_path / "events.jsonl"
    issued = {"card_id": "k1", "product": "gold"}
    line = {"customer_id": "a", "type": "card_issued", "at": "2026-03-07T22:00:00-05:00"}
    events.write_text(json.dumps({**line, "data": issued}) + "\n", encoding="utf-8")
    profiles = tmp_path / "profiles.jsonl"
    consent = {"email": True, "sms": True}
    profiles.write_text(json.dumps({"customer_id": "a", "consent": consent}) + "\n")
    expected = [("email", "2026-03-08T03:30:00-04:00"), ("sms", "2026-03-08T03:30:00-04:00")]
    argv = ["simulate", str(journey), "--events", str(events), "--profiles", str(profiles)]
    assert main([*argv, "--format", "json"]) == 0
    simulated = json.loads(capsys.readouterr().out)["actions"]
    assert sorted((a["channel"], a["at"]) for a in simulated) == expected
    actions = tmp_path / "actions.jsonl"
    run = ["run", str(journey), "--db", str(tmp_path / "s.db"), "--actions", str(actions)]
    more = ["--events", str(events), "--profiles", str(profiles)]
    assert main([*run, *more, "--now", "2026-03-20T00:00:00-04:00"]) == 0
    lines = [json.loads(line) for line in actions.read_text().splitlines()]
    assert sorted((a["channel"], a["at"]) for a in lines) == expected


QUIET_ACROSS_DST = """journey qh
uses events "events.yaml"
uses templates "templates.yaml"
timezone "America/New_York"
outcomes done
entry on card_issued
quiet hours 21:00 to 02:30 for email
send window sun 02:30 to 02:45 for sms
send email new_cardholder_promotions
send sms activation_reminder transactional { round: 1 }
exit done
"""
