"""The contact budget's words and the window's answer to "which hours held it"."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from app.care.budget import (
    FIXED_WORDS,
    PROMOTIONAL,
    Decision,
    ago,
    clock_words,
    draw_of,
    words,
)
from app.care.windows import Window
from app.models import AUTOMATED_KINDS

CENTRAL = ZoneInfo("America/Chicago")
EASTERN = ZoneInfo("America/New_York")
NOW = datetime(2026, 3, 15, 10, 0, tzinfo=CENTRAL)  # a Sunday


@pytest.mark.parametrize(
    ("rule", "facts", "said"),
    [
        ("daily_cap", {"limit": 1, "kind": "review_request", "ago": "2 days ago"},
         "texted 2 days ago (review request): 1 automated text a day"),
        ("daily_cap", {"limit": 2, "kind": "thank_you", "ago": None},
         "a thank you is planned that day: 2 automated texts a day"),
        ("rolling_cap", {"limit": 3, "state": "Florida"},
         "3 texts in 24 hours is the limit in Florida"),
        ("rolling_cap", {"limit": 3, "state": None}, "3 texts in 24 hours is the limit"),
        ("marketing_cap", {"limit": 4}, "4 offers in 30 days already"),
        ("marketing_cap", {"limit": 1}, "1 offer in 30 days already"),
        ("quiet_state", {"state": "Texas", "day": "Sunday", "start": time(12), "end": time(21)},
         "quiet hours in Texas on Sunday"),
        ("quiet_state", {"state": "Florida", "day": None, "start": time(8), "end": time(20)},
         "quiet hours in Florida (texts from 8 AM to 8 PM)"),
        ("quiet_business", {"start": time(9), "end": time(20, 30)},
         "outside your sending hours (9 AM to 8:30 PM)"),
        ("quiet_federal", {"start": time(8), "end": time(21)},
         "outside the hours the law allows (8 AM to 9 PM)"),
        ("no_marketing_consent", {}, "no marketing consent"),
        ("asked_recently", {"days": 90}, "already asked in the last 90 days"),
    ],
)  # fmt: skip
def test_each_rule_is_said_in_plain_words(rule, facts, said):
    assert words(rule, **facts) == said
    assert Decision(None, rule, facts).reason == said


def test_no_fixed_words_read_like_code():
    for said in FIXED_WORDS.values():
        assert "_" not in said and "{" not in said.replace("{days}", "")


def test_times_and_ages_read_as_people_say_them():
    assert [clock_words(t) for t in (time(0), time(9), time(12), time(20, 30))] == [
        "12 AM", "9 AM", "12 PM", "8:30 PM"]  # fmt: skip
    assert ago(NOW - timedelta(seconds=20), NOW) == "just now"
    assert ago(NOW - timedelta(minutes=1), NOW) == "1 minute ago"
    assert ago(NOW - timedelta(hours=4, minutes=5), NOW) == "4 hours ago"
    assert ago(NOW - timedelta(days=2, hours=3), NOW) == "2 days ago"


def test_every_automated_kind_draws_on_the_budget_and_no_other():
    assert all(draw_of(kind) is not None for kind in AUTOMATED_KINDS)
    assert draw_of("manual") is None and draw_of("auto_reply") is None
    assert draw_of("referral_reward").consent == PROMOTIONAL


def window(state: str | None, zone=EASTERN, start=time(9), end=time(20)) -> Window:
    return Window(zone, state, start, end)


def test_texas_sunday_morning_is_held_by_the_state_and_names_the_day():
    texas = window("TX", CENTRAL)
    opening = texas.next_opening(NOW)
    assert opening == NOW.replace(hour=12)
    sunday = {"state": "Texas", "start": time(12), "end": time(21), "day": "Sunday"}
    assert texas.closed_by(NOW, opening) == ("state", sunday)
    # Saturday night: the business's hours closed it, but Sunday's noon is the state's.
    saturday_night = datetime(2026, 3, 14, 20, 30, tzinfo=CENTRAL)
    rule, facts = texas.closed_by(saturday_night, texas.next_opening(saturday_night))
    assert (rule, facts["day"]) == ("state", "Sunday")


def test_which_hours_closed_the_window():
    monday_late = datetime(2026, 3, 16, 20, 30, tzinfo=EASTERN)
    florida = window("FL", end=time(21))  # the business would send until 9 PM
    assert florida.closed_by(monday_late, florida.next_opening(monday_late))[0] == "state"
    new_york = window(None)
    assert new_york.closed_by(monday_late, new_york.next_opening(monday_late)) == (
        "business", {"start": time(9), "end": time(20)})  # fmt: skip
    early = window(None, start=time(7), end=time(22))
    seven = monday_late.replace(hour=7, minute=30)
    assert early.closed_by(seven, early.next_opening(seven)) == (
        "federal", {"start": time(8), "end": time(21)})  # fmt: skip
