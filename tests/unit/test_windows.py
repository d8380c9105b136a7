"""Sending windows (app/care/windows.py): the recipient's local hours, by law and by business."""

from __future__ import annotations

from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from app.care.windows import Window, parse_hhmm, recipient_window

NEW_YORK = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
DENVER = ZoneInfo("America/Denver")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")

PHONES = {
    "NY": "+12125550123",
    "CA": "+14155550123",
    "TX": "+17135550123",  # Houston, Central time
    "FL": "+13055550123",
    "OK": "+14055550123",
    "MD": "+13015550123",
    "MS": "+16015550123",
    "NJ": "+12015550123",
    "CT": "+12035550123",
    "VA": "+17035550123",
}
TOLL_FREE = "+18005550100"  # no zone, no state
EL_PASO = "+19155550123"  # Texas, Mountain time

# March 2026: Sunday the 8th is the spring-forward day in the US; Tuesday the 10th is ordinary.
TUESDAY, SATURDAY, SUNDAY, MONDAY = 10, 14, 15, 16
MON, SAT, SUN = 0, 5, 6


def at(day: int, hour: int, minute: int = 0, zone: ZoneInfo = NEW_YORK, month: int = 3):
    return datetime(2026, month, day, hour, minute, tzinfo=zone)


def default_window(state: str, business_zone: str = "America/New_York") -> Window:
    return recipient_window(PHONES[state], business_zone, "09:00", "20:00")


def wide_window(state: str) -> Window:
    """A business that would text any time: only the law's hours are left."""
    return recipient_window(PHONES[state], "America/New_York", "00:00", "23:59")


# ---- the hours -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("state", "weekday", "hours"),
    [
        ("NY", MON, (time(8), time(21))),  # federal only
        ("NY", SUN, (time(8), time(21))),
        ("CA", MON, (time(8), time(21))),
        ("FL", MON, (time(8), time(20))),
        ("FL", SUN, (time(8), time(20))),
        ("OK", MON, (time(8), time(20))),
        ("MD", MON, (time(8), time(20))),
        ("MS", MON, (time(8), time(20))),
        ("NJ", MON, (time(8), time(20))),
        ("CT", MON, (time(9), time(20))),
        ("CT", SUN, (time(9), time(20))),
        ("TX", MON, (time(9), time(21))),
        ("TX", SAT, (time(9), time(21))),
        ("TX", SUN, (time(12), time(21))),
        ("VA", MON, (time(8), time(21))),
        ("VA", SUN, (time(8), time(21))),
    ],
)
def test_law_hours_when_the_business_allows_any_time(state, weekday, hours):
    assert wide_window(state).hours_on(weekday) == hours


@pytest.mark.parametrize(
    ("state", "weekday", "hours"),
    [
        ("NY", MON, (time(9), time(20))),
        ("CA", SUN, (time(9), time(20))),
        ("FL", MON, (time(9), time(20))),
        ("OK", MON, (time(9), time(20))),
        ("MD", MON, (time(9), time(20))),
        ("MS", MON, (time(9), time(20))),
        ("NJ", MON, (time(9), time(20))),
        ("CT", MON, (time(9), time(20))),
        ("TX", MON, (time(9), time(20))),
        ("TX", SAT, (time(9), time(20))),
        ("TX", SUN, (time(12), time(20))),
        ("VA", MON, (time(9), time(20))),
    ],
)
def test_default_business_window_intersected_with_the_law(state, weekday, hours):
    assert default_window(state).hours_on(weekday) == hours


def test_business_window_wider_than_the_law_is_clipped():
    window = recipient_window(PHONES["NY"], "America/New_York", "07:00", "22:00")
    assert window.hours_on(MON) == (time(8), time(21))
    assert not window.is_open(at(TUESDAY, 7, 30))
    assert window.next_opening(at(TUESDAY, 7, 30)) == at(TUESDAY, 8)
    assert not window.is_open(at(TUESDAY, 21, 0))


def test_business_window_narrower_than_the_law_wins():
    window = recipient_window(PHONES["VA"], "America/New_York", "10:30", "17:15")
    assert window.hours_on(MON) == (time(10, 30), time(17, 15))
    assert window.next_opening(at(TUESDAY, 17, 15)) == at(TUESDAY + 1, 10, 30)


@pytest.mark.parametrize(
    ("local", "is_open"),
    [
        ((8, 59), False),
        ((9, 0), True),
        ((12, 0), True),
        ((19, 55), True),
        ((19, 59), True),
        ((20, 0), False),  # the end is exclusive
        ((23, 30), False),
        ((0, 0), False),
    ],
)
def test_is_open_boundaries_in_recipient_time(local, is_open):
    assert default_window("NY").is_open(at(TUESDAY, *local)) is is_open


def test_is_open_converts_to_the_recipients_zone():
    window = default_window("CA")  # Los Angeles
    # 11:30 in New York is 08:30 in California: closed there.
    assert not window.is_open(at(TUESDAY, 11, 30, NEW_YORK))
    # 22:30 in New York is 19:30 in California: open there.
    assert window.is_open(at(TUESDAY, 22, 30, NEW_YORK))


# ---- the next opening ------------------------------------------------------------------------


def test_open_now_returns_the_same_moment():
    when = at(TUESDAY, 11, 0)
    assert default_window("NY").next_opening(when) == when


def test_19_55_is_still_inside_a_window_that_ends_at_20_00():
    when = at(TUESDAY, 19, 55)
    assert default_window("NY").next_opening(when) == when


@pytest.mark.parametrize("local", [(20, 0), (20, 5), (22, 0), (23, 59)])
def test_after_the_window_moves_to_next_day_at_nine(local):
    assert default_window("NY").next_opening(at(TUESDAY, *local)) == at(TUESDAY + 1, 9)


def test_19_55_in_the_business_zone_is_after_hours_for_an_eastern_recipient():
    # A Chicago business at 19:55 its time texting a New York number: 20:55 there.
    window = default_window("NY", business_zone="America/Chicago")
    when = at(TUESDAY, 19, 55, CHICAGO)
    assert not window.is_open(when)
    assert window.next_opening(when) == at(TUESDAY + 1, 9, 0, NEW_YORK)


def test_before_the_window_moves_to_the_same_days_opening():
    assert default_window("NY").next_opening(at(TUESDAY, 6, 30)) == at(TUESDAY, 9)
    assert default_window("NY").next_opening(at(TUESDAY, 0, 0)) == at(TUESDAY, 9)


def test_result_keeps_the_callers_time_zone():
    when = datetime(2026, 3, 11, 1, 0, tzinfo=UTC)  # 21:00 Tuesday in New York
    opening = default_window("NY").next_opening(when)
    assert opening.tzinfo is UTC
    assert opening == datetime(2026, 3, 11, 13, 0, tzinfo=UTC)  # 09:00 EDT Wednesday


def test_texas_saturday_evening_moves_to_sunday_noon():
    window = default_window("TX")
    assert window.next_opening(at(SATURDAY, 20, 30, CHICAGO)) == at(SUNDAY, 12, 0, CHICAGO)


@pytest.mark.parametrize("local", [(0, 5), (9, 0), (10, 0), (11, 59)])
def test_texas_sunday_morning_moves_to_noon(local):
    window = default_window("TX")
    when = at(SUNDAY, *local, CHICAGO)
    assert not window.is_open(when)
    assert window.next_opening(when) == at(SUNDAY, 12, 0, CHICAGO)


def test_texas_sunday_afternoon_is_open_and_monday_opens_at_nine():
    window = default_window("TX")
    assert window.is_open(at(SUNDAY, 12, 0, CHICAGO))
    assert window.next_opening(at(SUNDAY, 20, 0, CHICAGO)) == at(MONDAY, 9, 0, CHICAGO)


def test_new_york_sunday_morning_opens_at_nine():
    assert default_window("NY").next_opening(at(SUNDAY, 8, 0)) == at(SUNDAY, 9)


def test_texas_rule_follows_a_texas_number_into_mountain_time():
    window = recipient_window(EL_PASO, "America/New_York", "09:00", "20:00")
    assert (window.zone, window.state) == (DENVER, "TX")
    # 11:30 Sunday in El Paso is before noon: wait for 12:00 Mountain (14:00 in New York).
    assert window.next_opening(at(SUNDAY, 11, 30, DENVER)) == at(SUNDAY, 14, 0, NEW_YORK)


@pytest.mark.parametrize(
    ("state", "zone", "first_hour"),
    [
        ("FL", NEW_YORK, 8),
        ("OK", CHICAGO, 8),
        ("MD", NEW_YORK, 8),
        ("MS", CHICAGO, 8),
        ("NJ", NEW_YORK, 8),
        ("CT", NEW_YORK, 9),
        ("VA", NEW_YORK, 8),
        ("TX", CHICAGO, 9),
        ("NY", NEW_YORK, 8),
    ],
)
def test_law_window_next_opening_in_each_state(state, zone, first_hour):
    window = wide_window(state)
    assert window.zone == zone
    late = at(TUESDAY, 20, 30, zone)
    expected_open = state in {"TX", "VA", "NY"}  # 21:00 states
    assert window.is_open(late) is expected_open
    assert window.next_opening(at(TUESDAY, 21, 0, zone)) == at(TUESDAY + 1, first_hour, 0, zone)


# ---- unknown zone ----------------------------------------------------------------------------


def test_number_without_a_zone_uses_the_business_zone():
    window = recipient_window(TOLL_FREE, "America/Los_Angeles", "09:00", "20:00")
    assert (window.zone, window.state) == (LOS_ANGELES, None)
    assert window.hours_on(MON) == (time(9), time(20))
    # 10:00 in New York is 07:00 in Los Angeles: wait for 09:00 Pacific.
    when = at(TUESDAY, 10, 0, NEW_YORK)
    assert not window.is_open(when)
    assert window.next_opening(when) == at(TUESDAY, 9, 0, LOS_ANGELES)


def test_number_with_a_zone_ignores_the_business_zone():
    window = recipient_window(PHONES["TX"], "America/Los_Angeles", "09:00", "20:00")
    assert (window.zone, window.state) == (CHICAGO, "TX")


def test_alaska_number_has_a_state_but_uses_the_business_zone():
    window = recipient_window("+19075550123", "America/Anchorage", "09:00", "20:00")
    assert (window.zone, window.state) == (ZoneInfo("America/Anchorage"), "AK")


# ---- daylight saving time --------------------------------------------------------------------


def test_spring_forward_saturday_night_opens_at_nine_daylight_time():
    # 2026-03-08: clocks jump from 02:00 EST to 03:00 EDT. 09:00 EDT is 13:00 UTC, not 14:00.
    window = default_window("NY")
    saturday_night = datetime(2026, 3, 8, 2, 30, tzinfo=UTC)  # 21:30 EST Saturday
    assert window.next_opening(saturday_night) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_spring_forward_day_boundaries():
    window = default_window("NY")
    assert not window.is_open(datetime(2026, 3, 8, 12, 59, tzinfo=UTC))  # 08:59 EDT
    assert window.is_open(datetime(2026, 3, 8, 13, 0, tzinfo=UTC))  # 09:00 EDT
    assert window.is_open(datetime(2026, 3, 8, 23, 59, tzinfo=UTC))  # 19:59 EDT
    assert not window.is_open(datetime(2026, 3, 9, 0, 0, tzinfo=UTC))  # 20:00 EDT


def test_spring_forward_from_a_wall_time_that_does_not_exist():
    window = default_window("NY")
    in_the_gap = at(8, 2, 30)  # 02:30 on 2026-03-08 never happens in New York
    assert not window.is_open(in_the_gap)
    assert window.next_opening(in_the_gap) == datetime(2026, 3, 8, 13, 0, tzinfo=UTC)


def test_spring_forward_sunday_in_texas_opens_at_noon_daylight_time():
    window = default_window("TX")
    before = datetime(2026, 3, 8, 7, 0, tzinfo=UTC)  # 01:00 CST Sunday
    assert window.next_opening(before) == datetime(2026, 3, 8, 17, 0, tzinfo=UTC)  # 12:00 CDT


def test_fall_back_opens_at_nine_standard_time():
    # 2026-11-01: clocks fall back from 02:00 EDT to 01:00 EST. 09:00 EST is 14:00 UTC.
    window = default_window("NY")
    saturday_night = datetime(2026, 11, 1, 0, 30, tzinfo=UTC)  # 20:30 EDT Saturday
    assert window.next_opening(saturday_night) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    repeated_hour = datetime(2026, 11, 1, 6, 30, tzinfo=UTC)  # 01:30 EST, the second time
    assert window.next_opening(repeated_hour) == datetime(2026, 11, 1, 14, 0, tzinfo=UTC)
    assert not window.is_open(datetime(2026, 11, 1, 13, 59, tzinfo=UTC))  # 08:59 EST
    assert window.is_open(datetime(2026, 11, 1, 14, 0, tzinfo=UTC))


def test_arizona_has_no_dst():
    window = recipient_window("+16025550123", "America/New_York", "09:00", "20:00")
    # 16:00 UTC is 09:00 in Phoenix all year round.
    assert window.next_opening(datetime(2026, 3, 10, 15, 0, tzinfo=UTC)) == datetime(
        2026, 3, 10, 16, 0, tzinfo=UTC
    )
    assert window.next_opening(datetime(2026, 12, 10, 15, 0, tzinfo=UTC)) == datetime(
        2026, 12, 10, 16, 0, tzinfo=UTC
    )


# ---- misconfiguration ------------------------------------------------------------------------


def test_window_that_never_opens_raises():
    window = recipient_window(PHONES["NY"], "America/New_York", "21:00", "23:00")
    with pytest.raises(ValueError, match="never opens"):
        window.next_opening(at(TUESDAY, 12, 0))


def test_texas_business_open_only_sunday_mornings_never_opens_on_sunday():
    window = recipient_window(PHONES["TX"], "America/New_York", "09:00", "12:00")
    assert window.hours_on(SUN)[0] >= window.hours_on(SUN)[1]
    # Sunday morning moves to Monday 09:00, skipping the empty Sunday.
    assert window.next_opening(at(SUNDAY, 10, 0, CHICAGO)) == at(MONDAY, 9, 0, CHICAGO)


@pytest.mark.parametrize(("text", "parsed"), [("09:00", time(9)), ("20:30", time(20, 30))])
def test_parse_hhmm(text, parsed):
    assert parse_hhmm(text) == parsed
