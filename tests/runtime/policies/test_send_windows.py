"""Send windows in a policy file: read with their days, merged and disabled by name across
per-journey overrides, and a word that is not a day refused at its line."""

from __future__ import annotations

import pytest

from journeydsl.runtime.policies import PolicyEngine
from journeydsl.yamlfile import InputError
from tests.runtime.policies.harness import policies

BASE = """
send_windows:
  - name: sms_hours
    channels: [sms]
    days: weekday
    from: "08:00"
    to: "17:30"
  - name: push_hours
    channels: [push]
    days: [sat, sunday]
    from: "09:00"
    to: "12:00"
journeys:
  weekend_sales:
    send_windows:
      - name: sms_hours
        channels: [sms]
        days: weekend
        from: "10:00"
        to: "16:00"
    disable: [push_hours]
"""


def test_send_windows_read_their_days_as_weekday_numbers() -> None:
    """`weekday` is days 1-5, `[sat, sunday]` days 6 and 7, the times are local times."""
    p = policies(BASE)
    sms, push = p.send_windows
    assert (sms.name, sorted(sms.days), sms.start.isoformat(), sms.end.isoformat()) == (
        "sms_hours",
        [1, 2, 3, 4, 5],
        "08:00:00",
        "17:30:00",
    )
    assert sorted(push.days) == [6, 7]
    assert sms.categories == ("marketing",)
    assert sms.action == "defer"


def test_a_journey_override_replaces_a_window_by_name_and_disables_another() -> None:
    """For `weekend_sales`, `sms_hours` is the weekend one and `push_hours` is off; other
    journeys keep both."""
    engine = PolicyEngine(policies(BASE))
    override = engine.rules("weekend_sales").windows
    assert [(n, sorted(w.days)) for n, w in override] == [("sms_hours", [6, 7])]
    assert [n for n, _ in engine.rules("onboarding").windows] == ["sms_hours", "push_hours"]


def test_a_word_that_is_not_a_day_is_refused_at_its_line() -> None:
    """`days: [mondays]` names the file's line and says what a day is."""
    with pytest.raises(InputError) as caught:
        policies('send_windows:\n  - days: [mondays]\n    from: "08:00"\n    to: "17:00"\n')
    text = str(caught.value)
    assert "'mondays' is not a day" in text
    assert ":2:" in text
