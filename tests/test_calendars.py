"""The time rules of journeydsl.calendars: next local times on some days, schedules, anniversaries
and send windows, with daylight saving, month ends and leap days."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from journeydsl.calendars import (
    ALL_DAYS,
    Schedule,
    is_anniversary,
    local_instant,
    month_day,
    next_at,
    weekdays,
    window_opens,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
HCM = ZoneInfo("Asia/Ho_Chi_Minh")
ZONES = st.sampled_from([BERLIN, NEW_YORK, HCM, ZoneInfo("Australia/Lord_Howe")])
INSTANTS = st.datetimes(datetime(2020, 1, 1), datetime(2030, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)
TIMES = st.builds(time, st.integers(0, 23), st.sampled_from([0, 15, 30, 59]))
DAY_SETS = st.frozensets(st.integers(1, 7), min_size=1)


def test_day_names_stand_for_iso_weekdays() -> None:
    """`weekday` is Monday to Friday, `weekend` Saturday and Sunday, names in any case."""
    assert weekdays(["weekday"]) == frozenset({1, 2, 3, 4, 5})
    assert weekdays(["weekend", "Mon"]) == frozenset({1, 6, 7})
    assert weekdays(["thursday"]) == frozenset({4})
    with pytest.raises(KeyError):
        weekdays(["mondays"])


def test_a_skipped_local_time_runs_as_much_later_as_the_gap() -> None:
    """02:30 on the spring-forward night in Berlin is 03:30 CEST (01:30 UTC)."""
    t = local_instant(date(2026, 3, 29), time(2, 30), BERLIN)
    assert t.isoformat() == "2026-03-29T03:30:00+02:00"
    assert t.astimezone(UTC).hour == 1


def test_a_repeated_local_time_is_the_first_of_the_two() -> None:
    """01:30 on the fall-back night in New York is the first one, in daylight time (05:30 UTC)."""
    t = local_instant(date(2026, 11, 1), time(1, 30), NEW_YORK)
    assert t.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)


def test_next_weekday_from_friday_evening_is_monday_morning() -> None:
    """`next weekday 09:00` from Friday 18:00 is Monday 09:00."""
    friday = datetime(2026, 3, 6, 18, 0, tzinfo=HCM)
    assert next_at(friday, time(9), HCM, weekdays(["weekday"])) == datetime(
        2026, 3, 9, 9, 0, tzinfo=HCM
    )


def test_next_at_reached_exactly_waits_for_the_next_day() -> None:
    """Reached on Monday at exactly 09:00, the next weekday 09:00 is Tuesday's: time moves on."""
    monday = datetime(2026, 3, 9, 9, 0, tzinfo=HCM)
    assert next_at(monday, time(9), HCM, weekdays(["weekday"])).day == 10


def test_next_at_keeps_local_time_across_the_spring_change() -> None:
    """From Saturday 28 March in Berlin, Monday 09:00 is 07:00 UTC (CEST), not 08:00."""
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=BERLIN)
    t = next_at(saturday, time(9), BERLIN, weekdays(["mon"]))
    assert t.astimezone(UTC) == datetime(2026, 3, 30, 7, 0, tzinfo=UTC)


@settings(max_examples=300, deadline=None)
@given(INSTANTS, TIMES, ZONES, DAY_SETS)
def test_next_at_is_strictly_later_on_an_allowed_day_within_a_week(
    now: datetime, at: time, tz: ZoneInfo, days: frozenset[int]
) -> None:
    """The next time is after now, at most 8 days away, on one of the days, at the local time
    (or later by a DST gap)."""
    t = next_at(now, at, tz, days)
    assert now < t <= now + timedelta(days=8)
    local = t.astimezone(tz)
    assert local.isoweekday() in days
    assert local.time() == at or local_instant(local.date(), at, tz) == t


def test_monthly_on_31_falls_on_the_last_day_of_shorter_months() -> None:
    """`monthly on 31` runs on 31 January, 28 February, 31 March, 30 April."""
    s = Schedule("monthly", day=31)
    got, d = [], date(2026, 1, 1)
    for _ in range(4):
        found = s.first(d)
        assert found is not None
        got.append(found)
        d = found + timedelta(days=1)
    assert got == [date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31), date(2026, 4, 30)]
    assert month_day(2028, 2, 30) == date(2028, 2, 29)
    assert Schedule("monthly", day=-1).first(date(2028, 2, 1)) == date(2028, 2, 29)


def test_every_n_days_counts_from_the_start_and_stops_after_the_end() -> None:
    """`every 12 days from 2026-01-05 until 2026-02-20` runs on Jan 5, 17, 29, Feb 10."""
    s = Schedule("every", every=12, start=date(2026, 1, 5), end=date(2026, 2, 20))
    assert s.first(date(2025, 12, 1)) == date(2026, 1, 5)
    assert s.first(date(2026, 1, 6)) == date(2026, 1, 17)
    assert s.first(date(2026, 2, 10)) == date(2026, 2, 10)
    assert s.first(date(2026, 2, 11)) is None


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["daily", "weekly", "monthly", "every"]),
    DAY_SETS,
    st.sampled_from([1, 15, 28, 29, 30, 31, -1]),
    st.integers(1, 40),
    st.dates(date(2020, 1, 1), date(2030, 1, 1)),
    st.dates(date(2020, 1, 1), date(2030, 1, 1)),
)
def test_first_is_the_earliest_matching_day(
    kind: str, days: frozenset[int], day: int, every: int, start: date, probe: date
) -> None:
    """`first(d)` matches the schedule, is not before d, and no day between them matches."""
    s = Schedule(kind, days, day, every, start=start, end=start + timedelta(days=400))
    found = s.first(probe)
    if found is None:
        assert not any(s.matches(probe + timedelta(days=i)) for i in range(70))
        return
    assert found >= probe
    assert s.matches(found)
    assert not any(s.matches(probe + timedelta(days=i)) for i in range((found - probe).days))


@pytest.mark.parametrize(
    ("original", "period", "day", "expected"),
    [
        ("2024-02-29", "yearly", "2027-02-28", True),
        ("2024-02-29", "yearly", "2027-03-01", False),
        ("2024-02-29", "yearly", "2028-02-29", True),
        ("2024-02-29", "yearly", "2028-02-28", False),
        ("2025-01-31", "monthly", "2026-02-28", True),
        ("2025-01-31", "monthly", "2026-04-30", True),
        ("2025-01-31", "monthly", "2026-03-30", False),
        ("2025-01-30", "monthly", "2028-02-29", True),
        ("2026-01-15", "monthly", "2026-01-15", False),
        ("2026-01-15", "monthly", "2026-02-15", True),
        ("1990-03-29", "yearly", "2026-03-29", True),
        ("1990-03-29", "yearly", "2026-04-29", False),
    ],
)
def test_anniversaries_at_month_ends_and_leap_days(
    original: str, period: str, day: str, expected: bool
) -> None:
    """29 February → 28 February in years without one; the 29th-31st → a shorter month's last
    day; the original date itself is no anniversary."""
    assert is_anniversary(date.fromisoformat(original), date.fromisoformat(day), period) is expected


@settings(max_examples=200, deadline=None)
@given(st.dates(date(2000, 1, 1), date(2030, 12, 31)), st.integers(2031, 2040))
def test_a_yearly_anniversary_happens_exactly_once_a_year(original: date, year: int) -> None:
    """Whatever the date (29 February too), exactly one day of each later year is its yearly
    anniversary, and exactly one day of each later month its monthly one."""
    days = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    days = [d for d in days if d.year == year]
    assert sum(is_anniversary(original, d, "yearly") for d in days) == 1
    for month in range(1, 13):
        in_month = [d for d in days if d.month == month]
        assert sum(is_anniversary(original, d, "monthly") for d in in_month) == 1


def test_window_inside_and_outside_on_weekdays() -> None:
    """Mon-Fri 08:00-17:30: inside on Tuesday 10:00; Friday 18:00 waits for Monday 08:00."""
    days = weekdays(["weekday"])
    assert window_opens(days, time(8), time(17, 30), datetime(2026, 3, 10, 10, tzinfo=HCM)) is None
    opens = window_opens(days, time(8), time(17, 30), datetime(2026, 3, 13, 18, tzinfo=HCM))
    assert opens == datetime(2026, 3, 16, 8, 0, tzinfo=HCM)


def test_a_window_past_midnight_belongs_to_the_day_it_opens() -> None:
    """Fri 20:00-02:00 is open on Saturday at 01:00, closed on Saturday at 20:00."""
    days = weekdays(["fri"])
    assert window_opens(days, time(20), time(2), datetime(2026, 3, 14, 1, tzinfo=HCM)) is None
    later = window_opens(days, time(20), time(2), datetime(2026, 3, 14, 20, tzinfo=HCM))
    assert later == datetime(2026, 3, 20, 20, 0, tzinfo=HCM)


def test_a_whole_day_window_is_open_all_day_on_its_days_only() -> None:
    """00:00 to 00:00 on the weekend: open on Sunday 23:59, closed on Monday 00:00."""
    days = weekdays(["weekend"])
    assert window_opens(days, time(0), time(0), datetime(2026, 3, 15, 23, 59, tzinfo=HCM)) is None
    assert window_opens(days, time(0), time(0), datetime(2026, 3, 16, 0, 0, tzinfo=HCM)) == (
        datetime(2026, 3, 21, 0, 0, tzinfo=HCM)
    )


@settings(max_examples=300, deadline=None)
@given(INSTANTS, TIMES, TIMES, ZONES, DAY_SETS)
def test_a_window_opens_later_and_is_then_open(
    now: datetime, start: time, end: time, tz: ZoneInfo, days: frozenset[int]
) -> None:
    """Outside a window, the next opening is later, within 8 days, and inside the window."""
    local = now.astimezone(tz)
    opens = window_opens(days, start, end, local)
    if opens is not None:
        assert local < opens <= local + timedelta(days=8)
        assert window_opens(days, start, end, opens.astimezone(tz)) is None


def test_all_days_is_every_iso_weekday() -> None:
    """ALL_DAYS is Monday (1) to Sunday (7)."""
    assert frozenset(range(1, 8)) == ALL_DAYS


def test_a_window_whose_opening_the_clock_skips_is_open_at_that_opening() -> None:
    """A Sunday 02:30-02:45 window in New York on the spring-forward night opens at 03:30 EDT
    (the skipped time runs later by the gap) and is open then, not deferred a week; by the
    wall clock it is open as always on other Sundays."""
    days = weekdays(["sun"])
    before = datetime(2026, 3, 7, 22, 0, tzinfo=NEW_YORK)
    opens = window_opens(days, time(2, 30), time(2, 45), before)
    assert opens is not None
    assert opens.isoformat() == "2026-03-08T03:30:00-04:00"
    assert window_opens(days, time(2, 30), time(2, 45), opens) is None
    later = opens + timedelta(minutes=15)
    assert window_opens(days, time(2, 30), time(2, 45), later) == local_instant(
        date(2026, 3, 15), time(2, 30), NEW_YORK
    )
    assert window_opens(days, time(2, 30), time(2, 45), local_instant(
        date(2026, 3, 15), time(2, 40), NEW_YORK
    )) is None  # fmt: skip


LONDON = ZoneInfo("Europe/London")
#: The instants the clocks change in 2026, with their zones: spring and autumn.
CHANGES = [
    (NEW_YORK, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),
    (NEW_YORK, datetime(2026, 11, 1, 6, 0, tzinfo=UTC)),
    (LONDON, datetime(2026, 3, 29, 1, 0, tzinfo=UTC)),
    (LONDON, datetime(2026, 10, 25, 1, 0, tzinfo=UTC)),
    (HCM, datetime(2026, 3, 8, 7, 0, tzinfo=UTC)),  # (no daylight saving)
]
NIGHT_TIMES = st.builds(time, st.integers(0, 3), st.sampled_from([0, 10, 30, 45, 59]))


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(CHANGES),
    st.integers(-3 * 60, 3 * 60),
    NIGHT_TIMES,
    st.one_of(NIGHT_TIMES, TIMES),
    DAY_SETS,
)
def test_a_window_opening_near_a_clock_change_is_later_and_open(
    change: tuple[ZoneInfo, datetime], minutes: int, start: time, end: time, days: frozenset[int]
) -> None:
    """Around the clock changes, the opening returned is after the given instant (compared as
    instants, not by the wall clock) and the window is open then."""
    tz, at = change
    now = at + timedelta(minutes=minutes)
    local = now.astimezone(tz)
    opens = window_opens(days, start, end, local)
    if opens is not None:
        assert now < opens.astimezone(UTC) <= now + timedelta(days=8)
        assert window_opens(days, start, end, opens) is None


@pytest.mark.parametrize(
    ("tz", "local", "expected"),
    [
        (NEW_YORK, "2026-11-01T01:05:00-05:00", "2026-11-01T01:10:00-05:00"),
        (LONDON, "2026-10-25T01:05:00+00:00", "2026-10-25T01:10:00+00:00"),
    ],
)
def test_a_window_in_the_repeated_autumn_hour_opens_at_its_second_reading(
    tz: ZoneInfo, local: str, expected: str
) -> None:
    """At 01:05 of the second, repeated 01:00 hour, a Sunday 01:10-01:15 window opens at the
    second 01:10, not at the first one, an hour past."""
    at = datetime.fromisoformat(local).astimezone(tz)
    assert at.fold == 1
    opens = window_opens(weekdays(["sun"]), time(1, 10), time(1, 15), at)
    assert opens is not None
    assert opens.isoformat() == expected
    assert window_opens(weekdays(["sun"]), time(1, 10), time(1, 15), opens) is None


def test_a_window_open_since_the_first_autumn_reading_is_open_in_the_second() -> None:
    """A Sunday window from 01:10 to midnight opened at the first 01:10 (EDT), so at 01:00 EST,
    an hour later, it is open, though the wall clock shows a time before 01:10."""
    at = datetime(2026, 11, 1, 6, 0, tzinfo=UTC).astimezone(NEW_YORK)
    assert window_opens(weekdays(["sun"]), time(1, 10), time(0, 0), at) is None


@pytest.mark.parametrize(
    ("tz", "before", "start", "end", "opening", "closing"),
    [
        (NEW_YORK, "2026-03-07T22:00", time(2), time(3), "03:00:00-04:00", "04:00:00-04:00"),
        (NEW_YORK, "2026-03-07T22:00", time(2, 10), time(3), "03:10:00-04:00", "04:00:00-04:00"),
        (
            NEW_YORK,
            "2026-03-07T22:00",
            time(2, 30),
            time(3, 30),
            "03:00:00-04:00",
            "03:30:00-04:00",
        ),
        (LONDON, "2026-03-28T22:00", time(1), time(2), "02:00:00+01:00", "03:00:00+01:00"),
    ],
)
def test_a_window_the_spring_gap_skips_opens_where_it_is_open(
    tz: ZoneInfo, before: str, start: time, end: time, opening: str, closing: str
) -> None:
    """A Sunday window the spring-forward gap skips whole moves with its opening and keeps its
    length; one it skips in part opens when the clock jumps into it. It is open at the opening
    returned, and until the closing."""
    days = weekdays(["sun"])
    opens = window_opens(days, start, end, datetime.fromisoformat(before).replace(tzinfo=tz))
    assert opens is not None
    assert opens.isoformat().split("T")[1] == opening
    assert window_opens(days, start, end, opens) is None
    closes = datetime.fromisoformat(opens.date().isoformat() + "T" + closing)
    last = (closes - timedelta(minutes=1)).astimezone(tz)
    assert window_opens(days, start, end, last) is None
    assert window_opens(days, start, end, closes.astimezone(tz)) is not None
