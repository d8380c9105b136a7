"""Opening hours: per weekday, closed days, holidays, the next opening in words, and open time
counted as a cumulative function that agrees with counting minute by minute, across the
changes of clocks in New York."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import pytest

from app.care.hours import OpeningHours, next_opening_words, opening_hours
from app.models import WEEKDAYS, every_day

NY = ZoneInfo("America/New_York")
H = 3600


def shop(week: dict | None = None, holidays=(), zone="America/New_York", window=("09:00", "20:00")):
    """A business as opening_hours() reads it."""
    return SimpleNamespace(
        timezone=zone,
        window_start=window[0],
        window_end=window[1],
        opening_hours=week,
        holidays=[{"date": d, "name": ""} for d in holidays],
    )


def week(**days) -> dict:
    """Monday to Saturday 9:00-17:00, Sunday closed, unless a day is given."""
    spans = {day: [{"open": "09:00", "close": "17:00"}] for day in WEEKDAYS[:6]} | {"sunday": []}
    for day, hours in days.items():
        spans[day] = [{"open": a, "close": b} for a, b in hours]
    return spans


def ny(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=NY)  # 2026-03-10 is a Tuesday


def brute_minutes(hours: OpeningHours, start: datetime, end: datetime, step: int = 15) -> float:
    """Open minutes between two moments, counted step by step in real (UTC) time."""
    count, moment = 0, start.astimezone(UTC)
    while moment < end:
        count += step if hours.is_open(moment) else 0
        moment += timedelta(minutes=step)
    return count


def test_the_default_is_every_day_the_sending_window():
    hours = opening_hours(shop(None, window=("08:30", "18:00")))
    assert hours.week == tuple(((8 * H + 1800, 18 * H),) for _ in range(7))
    assert opening_hours(shop(every_day("08:30", "18:00"))) == hours
    assert hours.is_open(ny(15, 8, 30)) and not hours.is_open(ny(15, 18, 0))


def test_a_closed_sunday_and_a_lunch_break():
    hours = opening_hours(shop(week(saturday=[("09:00", "12:00"), ("13:00", "16:00")])))
    assert not hours.is_open(ny(15, 12))  # Sunday
    assert hours.is_open(ny(14, 11, 59)) and not hours.is_open(ny(14, 12, 30))
    assert hours.is_open(ny(14, 13))
    # Saturday 11:00 to Monday 10:00: 1 + 3 hours on Saturday, none on Sunday, 1 on Monday
    assert hours.open_minutes_between(ny(14, 11), ny(16, 10)) == 5 * 60


def test_a_holiday_is_closed_and_counts_no_time():
    hours = opening_hours(shop(week(), holidays=["2026-03-16"]))  # a Monday
    assert not hours.is_open(ny(16, 10))
    assert hours.is_open(ny(17, 10))
    # Saturday 16:00 to Tuesday 9:30: 1 hour on Saturday, 30 minutes on Tuesday
    assert hours.open_minutes_between(ny(14, 16), ny(17, 9, 30)) == 90
    assert hours.open_minutes_between(ny(16, 9), ny(16, 17)) == 0


def test_next_opening_in_words_skips_closed_days_and_holidays():
    hours = opening_hours(shop(week(), holidays=["2026-03-16"]))
    assert next_opening_words(hours, ny(14, 18)) == "9:00 AM Tuesday"  # Sunday, holiday Monday
    assert next_opening_words(hours, ny(13, 18)) == "9:00 AM tomorrow"  # Friday evening
    assert next_opening_words(hours, ny(13, 7)) == "9:00 AM today"
    lunch = opening_hours(shop(week(tuesday=[("09:00", "12:00"), ("13:30", "17:00")])))
    assert next_opening_words(lunch, ny(10, 12, 15)) == "1:30 PM today"
    assert next_opening_words(lunch, ny(10, 17, 0)) == "9:00 AM tomorrow"


def test_next_opening_more_than_a_week_ahead_names_the_date():
    only_monday = {day: [] for day in WEEKDAYS} | {"monday": [{"open": "10:00", "close": "14:00"}]}
    hours = opening_hours(shop(only_monday, holidays=["2026-03-16"]))
    assert next_opening_words(hours, ny(10, 12)) == "10:00 AM Monday, March 23"


def test_never_open_has_no_next_opening():
    hours = opening_hours(shop({day: [] for day in WEEKDAYS}))
    assert hours.next_opening(ny(10, 12)) is None
    assert not hours.is_open(ny(10, 12))


def test_the_week_the_clocks_change_in_new_york():
    """Sunday 8 March 2026, 2:00 becomes 3:00. A shop open 9-17 loses nothing; a shop open
    0:00-6:00 on Sundays is open 5 real hours that night, and 7 on 1 November (2:00 again)."""
    hours = opening_hours(shop(week()))
    assert hours.open_minutes_between(ny(7, 16), ny(9, 10)) == 2 * 60
    night = opening_hours(shop(week(sunday=[("00:00", "06:00")])))
    assert night.open_minutes_between(ny(7, 23), ny(8, 12)) == 5 * 60
    assert brute_minutes(night, ny(7, 23), ny(8, 12)) == 5 * 60
    assert night.open_minutes_between(ny(31, 23, month=10), ny(1, 12, month=11)) == 7 * 60
    # the repeated hour counts twice, and time never runs backwards through it
    first = datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 1:30 EDT
    second = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 1:30 EST
    assert night.open_seconds(second) - night.open_seconds(first) == H


def test_open_all_day_and_closing_at_midnight():
    hours = opening_hours(shop({day: [{"open": "00:00", "close": "00:00"}] for day in WEEKDAYS}))
    assert hours.week_total == 7 * 24 * H
    assert hours.open_minutes_between(ny(7, 12), ny(9, 12)) == 47 * 60  # one hour lost
    assert hours.next_opening(ny(10, 12)) is not None


def test_open_seconds_equal_minute_counting_over_random_intervals():
    """Random weeks (spans at quarter hours, some over 2 AM), holidays and intervals of up
    to nine days around both changes of clocks of 2026: the difference of open_seconds is
    the open time counted step by step, every time."""
    rng = random.Random(20261202)
    quarter = [f"{h:02d}:{m:02d}" for h in range(24) for m in (0, 15, 30, 45)]
    moments = [ny(1, 0), ny(25, 0, month=10), ny(20, 0, month=12)]
    for _case in range(60):
        days = {}
        for day in WEEKDAYS:
            picked = sorted(rng.sample(range(len(quarter)), rng.choice([0, 2, 2, 4])))
            days[day] = [{"open": quarter[picked[i]], "close": quarter[picked[i + 1]]}
                         for i in range(0, len(picked), 2)]  # fmt: skip
        base = rng.choice(moments)
        holidays = sorted({(base + timedelta(days=rng.randrange(14))).date().isoformat()
                           for _ in range(rng.randrange(4))})  # fmt: skip
        hours = opening_hours(shop(days, holidays=holidays))
        start = base + timedelta(minutes=15 * rng.randrange(4 * 24 * 5))
        end = start + timedelta(minutes=15 * rng.randrange(4 * 24 * 9))
        assert hours.open_minutes_between(start, end) == brute_minutes(hours, start, end), (
            days,
            holidays,
            start,
            end,
        )


def test_open_seconds_is_the_same_for_a_year_ago_and_next_year():
    """The cost and the answer do not depend on how far apart the moments are."""
    hours = opening_hours(shop(week(), holidays=["2025-12-25", "2026-12-25"]))
    year = hours.open_minutes_between(ny(1, 0, month=1) - timedelta(days=365), ny(1, 0, month=1))
    # 2025: 52 weeks and a day (Wed 1 Jan 2025 to Wed 31 Dec); 6 days of 8 hours a week
    assert year == (52 * 6 * 8 + 8 - 8) * 60  # Christmas 2025 (a Thursday) was closed


def test_the_signature_changes_with_what_counts():
    a = opening_hours(shop(week()))
    assert a.signature() == opening_hours(shop(week())).signature()
    assert len(a.signature()) == 16
    assert a.signature() != opening_hours(shop(week(sunday=[("10:00", "14:00")]))).signature()
    assert a.signature() != opening_hours(shop(week(), holidays=["2026-12-25"])).signature()
    assert a.signature() != opening_hours(shop(week(), zone="America/Chicago")).signature()
    named = shop(week(), holidays=["2026-12-25"])
    named.holidays[0]["name"] = "Christmas"
    assert opening_hours(named).signature() == opening_hours(
        shop(week(), holidays=["2026-12-25"])).signature()  # fmt: skip


@pytest.mark.parametrize(
    "when", [date(1975, 6, 1), date(1999, 6, 1), date(2001, 6, 1), date(2030, 6, 1)]
)
def test_open_seconds_before_and_after_the_base_year(when):
    night = opening_hours(shop(week(sunday=[("00:00", "06:00")])))
    start = datetime.combine(when, datetime.min.time(), tzinfo=NY)
    end = start + timedelta(days=200)
    assert night.open_minutes_between(start, end) == brute_minutes(night, start, end, step=60)


def test_open_seconds_at_is_open_seconds_without_datetimes():
    """The dashboard's fast path (unix seconds and local seconds, as SQL gives them) agrees
    with open_seconds at random moments, around both changes of clocks too."""
    hours = opening_hours(shop(week(sunday=[("00:00", "06:00")]), holidays=["2026-03-09"]))
    rng = random.Random(5)
    start = ny(1, 0)
    moments = [start + timedelta(seconds=rng.randrange(300 * 86400)) for _ in range(300)]
    moments += [
        datetime(2026, 3, 8, 6, 59, tzinfo=UTC),
        datetime(2026, 3, 8, 7, 1, tzinfo=UTC),
        datetime(2026, 11, 1, 5, 30, tzinfo=UTC),
        datetime(2026, 11, 1, 6, 30, tzinfo=UTC),
    ]
    for moment in moments:
        offset = moment.astimezone(NY).utcoffset()
        assert offset is not None
        epoch = moment.timestamp()
        fast = hours.open_seconds_at(epoch, epoch + offset.total_seconds())
        assert fast == pytest.approx(hours.open_seconds(moment), abs=1e-6), moment
