"""The check before a broadcast (app/care/broadcast_check.py): its findings and its forecast."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from app.care.broadcast_check import (
    check_body,
    forecast,
    is_promotional,
    promotional_reasons,
    public_shorteners,
    shaft_flags,
)
from app.phones import _locale_of_number, locale_key, locale_of

NEW_YORK = ZoneInfo("America/New_York")
NY, AUSTIN, MIAMI = "+12125550123", "+15125550123", "+13055550123"


@pytest.mark.parametrize(
    ("body", "promotional"),
    [
        ("We're closed Monday for the holiday", False),
        ("Open slots this afternoon, book now", False),
        ("20% off all color this week", True),
        ("Free blowout with any cut", True),
        ("Use code SPRING20", True),
        ("$10 off", True),
        ("Cuts now $25", True),
        ("Welcome our new stylist Ana", False),
        ("Feel free to call us", False),
        ("Gluten-free menu at the cafe next door", False),
        ("Our sugar free snacks are back", False),
        ("BOGO on all shampoo", True),
        ("2-for-1 Tuesdays", True),
        ("Two for one manicures today", True),
        ("Open for 2 hours on Friday", False),
        ("Are you free Saturday? We have a chair", False),
        ("Your first visit is free", True),
        ("Half price highlights", True),
        ("Our big sale starts Friday", True),
        ("Don't miss this deal", True),
        ("We will deal with the parking soon", False),
        ("Limited time: ask about our new keratin treatment", True),
        ("Gift vouchers for the holidays", True),
        ("New hours from Monday: 9 to 7", False),
        ("Free parking behind the salon", False),
        ("Save 15% on retail", True),
        ("Buy one get one on polish", True),
        ("Complimentary scalp massage with every color", True),
        ("Our door code is 4521", False),
        ("We are 100% booked this week, thank you!", False),
    ],
)
def test_promotional_wording(body, promotional):
    assert is_promotional(body) is promotional, promotional_reasons(body)


def test_reasons_say_what_was_found_in_order():
    assert promotional_reasons("20% off and a free blowout, code SAVE20") == [
        'a discount ("20% off")',
        'the word "free"',
        'a coupon code ("code SAVE20")',
    ]
    assert promotional_reasons("Cuts now $25") == ['a price ("$25")']
    assert promotional_reasons("$10 off") == ['a discount ("$10 off")']
    assert promotional_reasons("2 for 1 Tuesdays") == ['an offer ("2 for 1")']


@pytest.mark.parametrize(
    ("body", "found"),
    [
        ("Book: https://bit.ly/abc", ["bit.ly"]),
        ("Book at BIT.LY/abc or www.TinyURL.com/x", ["bit.ly", "tinyurl.com"]),
        ("t.co/x and http://goo.gl/y", ["t.co", "goo.gl"]),
        ("Visit https://anasalon.com/book", []),
        ("Visit our site visit.com", []),  # "t.co" inside another name is not t.co
        ("Email ana@t.co please", []),
    ],
)
def test_public_shorteners(body, found):
    assert public_shorteners(body) == found


@pytest.mark.parametrize(
    ("body", "flags"),
    [
        ("Join our class on braids", []),
        ("Wine and manicures on Friday", ["alcohol"]),
        ("Swine flu season: wash hands", []),
        ("Happy hour pricing 4-6", ["alcohol"]),
        ("Great shot of the new balayage", []),
        ("Gun show parking closed", ["firearms"]),
        ("Our glue gun broke, lashes at 3", []),
        ("No vape in the salon", ["tobacco or vaping"]),
        ("New CBD massage oil", ["cannabis"]),
        ("Call 512-420-1234", []),
        ("Find us at 420 Congress Ave", []),
        ("Alcohol-free toner", []),
        ("Sexy waves for the weekend", ["sex"]),
    ],
)
def test_shaft_flags(body, flags):
    assert shaft_flags(body) == flags


def levels(findings):
    return {f.code: f.level for f in findings}


def test_a_clean_informational_text_is_all_ok():
    body = "Ana's Salon: we're closed Monday for the holiday. Reply STOP to opt out."
    findings = check_body(body, business_name="Ana's Salon", declared_kind="informational",
                          recipients=1000)  # fmt: skip
    assert levels(findings) == {"segments": "ok", "business_name": "ok", "opt_out": "ok",
                                "promotional": "ok"}  # fmt: skip
    assert findings[0].words == "1 part each (plain letters only): about $11.00 for 1,000 texts."


def test_emoji_make_parts_shorter_and_cost_more():
    body = "Ana's Salon: " + "we are open late tonight " * 6 + "😀"
    segments = check_body(body, business_name="Ana's Salon", declared_kind="informational",
                          recipients=1000)[0]  # fmt: skip
    assert segments.code == "segments" and segments.level == "warn"
    assert segments.words.startswith("3 parts each (special characters such as emoji make")
    assert "about $33.00 for 1,000 texts" in segments.words
    assert "in plain letters it would be 2 parts." in segments.words
    assert "GSM" not in segments.words and "UCS" not in segments.words


def test_what_stops_and_what_warns():
    body = "20% off color! Wine too. https://bit.ly/x"
    findings = check_body(body, business_name="Ana's Salon", declared_kind="informational",
                          recipients=10, empty_fields={"first_name": 12, "staff_name": 0,
                                                       "reward": 1})  # fmt: skip
    got = [(f.level, f.code) for f in findings]
    assert ("warn", "business_name") in got and ("warn", "opt_out") in got
    assert ("stop", "shortener") in got and ("warn", "shaft") in got
    assert ("stop", "promotional") in got
    promotional = next(f for f in findings if f.code == "promotional")
    assert promotional.words == (
        'This text has a discount ("20% off"): it can only go as a '
        "promotional text, to customers who agreed to offers."
    )
    empty = [f.words for f in findings if f.code == "empty_field"]
    assert empty == [
        'First name is empty for 12 customers: they will read "there" instead.',
        "Reward is empty for 1 customer: their text will have a gap.",
    ]
    declared = check_body(body, business_name="Ana's Salon", declared_kind="promotional",
                          recipients=10)  # fmt: skip
    assert levels(declared)["promotional"] == "ok"


def test_cannabis_stops_and_own_links_are_fine():
    body = "Ana's Salon: CBD facials. Book https://regulars.app/l/abc Reply STOP to opt out."
    findings = check_body(body, business_name="Ana's Salon", declared_kind="informational",
                          recipients=1, app_hosts=("regulars.app",))  # fmt: skip
    assert levels(findings)["shaft"] == "stop" and levels(findings)["shortener"] == "ok"
    with pytest.raises(ValueError):
        check_body(body, business_name="A", declared_kind="marketing", recipients=1)


# ---- forecast --------------------------------------------------------------------------------

TUESDAY = datetime(2026, 3, 10, 10, 0, tzinfo=NEW_YORK)
SUNDAY_AUSTIN = datetime(2026, 3, 15, 10, 0, tzinfo=ZoneInfo("America/Chicago"))


def plan(phones, start, **kw):
    settings = {"timezone": "America/New_York", "window_start": "09:00", "window_end": "20:00",
                "rate_per_second": 1.0} | kw  # fmt: skip
    return forecast(phones, start=start, **settings)


def test_ten_new_york_numbers_at_one_a_second():
    result = plan([f"+1212555{n:04d}" for n in range(10)], TUESDAY)
    assert result.first_at == TUESDAY.astimezone(UTC)
    assert result.last_at == datetime(2026, 3, 10, 10, 0, 9, tzinfo=NEW_YORK)
    assert result.days == 1 and result.held_by == ["the number's pace (1 text a second)"]


def test_nobody():
    assert plan([], TUESDAY).last_at is None and plan([], TUESDAY).days == 0


def test_an_hourly_limit_spans_days_of_windows():
    # 60 an hour from 10:00 on Tuesday, 11 hours a day (9 to 20): 10 hours on Tuesday, then
    # 11 a day: 3,600 texts are 60 hours, the last at the 60th hour's start.
    result = plan([NY] * 3600, TUESDAY, per_hour=60)
    assert result.held_by == ["at most 60 an hour (your setting)",
                              "sending hours in their time zones"]  # fmt: skip
    # Tue 10 h, Wed-Fri 33 h, Sat 11 h = 54 h; 6 more on Sunday: the last starts 14:59.
    assert result.last_at == datetime(2026, 3, 15, 14, 59, tzinfo=NEW_YORK)
    assert result.days == 6


def test_texas_waits_for_noon_on_sunday_without_holding_up_new_york():
    result = plan([AUSTIN, NY], SUNDAY_AUSTIN)
    assert result.first_at == SUNDAY_AUSTIN.astimezone(UTC)  # New York went at once
    assert result.last_at == datetime(2026, 3, 15, 12, 0, tzinfo=ZoneInfo("America/Chicago"))
    assert "Texas: no texts before noon on Sunday" in result.held_by


def test_a_daily_cap_spreads_over_days():
    result = plan([MIAMI] * 12, TUESDAY, daily_cap=5)
    assert result.days == 3
    assert result.last_at == datetime(2026, 3, 12, 9, 0, 1, tzinfo=NEW_YORK)
    assert "the daily limit of 5 texts for your number" in result.held_by


def test_a_hundred_thousand_recipients():
    phones = [f"+1{code}555{n % 10000:04d}" for n in range(100_000) for code in ("212",)]
    result = plan(phones, TUESDAY, rate_per_second=100.0)
    assert result.last_at == datetime(2026, 3, 10, 10, 16, 39, 990000, tzinfo=NEW_YORK)


def test_a_locale_is_looked_up_once_per_area_code_but_split_area_codes_by_exchange():
    # Idaho's 208 spans Mountain and Pacific time: its exchanges get keys of their own.
    assert locale_key("+12125550123") == locale_key("+12127363100") == "+1212"
    assert len(locale_key("+12088820123")) > len("+1208")
    assert locale_key("+447700900123") == "+447700900123"  # elsewhere, the number itself
    phones = [f"+1{code}{exchange}0123" for code in ("208", "850", "541", "212", "512")
              for exchange in range(200, 1000, 37)]  # fmt: skip
    for phone in phones:  # the key's locale is every one of its numbers' own
        assert locale_of(phone) == _locale_of_number(phone), phone
