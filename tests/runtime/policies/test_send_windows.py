"""Send windows in a policy file: read with their days, merged and disabled by name across
per-journey overrides, a word that is not a day refused at its line, and windows and quiet
hours that never leave a time open together."""

from __future__ import annotations

import pytest

from journeydsl.runtime.policies import PolicyEngine
from journeydsl.yamlfile import InputError
from tests.runtime.policies.harness import compile_journey, ev, harness, local, policies, profile

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


def _window_journey(window: str) -> str:
    return f"""
journey windows
uses events "events.yaml"
uses templates "templates.yaml"
entry on card_activated
{window}
send sms install_digital_app marketing fallback none
"""


def _run(window: str, policy: str, at: str) -> tuple[list[str], list[str], object]:
    """(local delivery times, suppression reasons, next wake-up) a month after ``at``."""
    start = local(at)
    h = harness(
        [compile_journey(_window_journey(window))],
        [profile("c1")],
        start=start,
        policy=policies(policy),
    )
    h.feed([ev("c1", "card_activated", start, card_id="k")])
    h.advance(local("2026-02-05 00:00"))
    return h.times("c1", "sms"), h.suppressed("c1"), h.engine.next_wakeup()


def test_a_journey_window_and_a_policy_window_that_never_meet_suppress_the_message() -> None:
    """A journey's weekday window with the policies' weekend window never opens: the message is
    suppressed with both rules in its reason (it used to wait forever, woken twice a week)."""
    times, suppressed, wake = _run(
        "send window weekday 09:00 to 10:00 for sms",
        'send_windows:\n  - {name: weekends, channels: [sms], days: weekend, from: "09:00", '
        'to: "12:00"}\n',
        "2026-01-05 08:00",
    )
    assert (times, wake) == ([], None)
    assert suppressed == [
        "never sent: the journey's send window weekday 09:00-10:00 for sms; send window "
        "weekend 09:00-12:00 for marketing sms (weekends) never leave a time open together for "
        "this marketing sms message"
    ]


def test_quiet_hours_over_the_whole_send_window_suppress_the_message() -> None:
    """Quiet hours 08:00-18:00 over a 09:00-17:00 send window leave no time: suppressed."""
    times, suppressed, wake = _run(
        "",
        'send_windows:\n  - {name: office, channels: [sms], days: weekday, from: "09:00", '
        'to: "17:00"}\nquiet_hours:\n  - {name: day, channels: [sms], from: "08:00", '
        'to: "18:00"}\n',
        "2026-01-05 08:00",
    )
    assert (times, wake) == ([], None)
    (reason,) = suppressed
    assert reason.startswith("never sent: ")


def test_windows_that_meet_once_a_week_still_send_at_their_meeting() -> None:
    """A Monday 09:00-10:00 journey window and a weekday 09:30-12:00 policy window meet on
    Mondays only: a message due on a Tuesday waits six days for it, it is not suppressed."""
    times, suppressed, _ = _run(
        "send window mon 09:00 to 10:00 for sms",
        'send_windows:\n  - {name: office, channels: [sms], days: weekday, from: "09:30", '
        'to: "12:00"}\n',
        "2026-01-06 11:00",
    )
    assert (times, suppressed) == (["2026-01-12 09:30"], [])
