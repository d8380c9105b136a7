"""Phone numbers (app/phones.py): E.164 normalisation and the recipient's zone and state."""

from __future__ import annotations

import pytest

from app.phones import InvalidPhone, Locale, is_e164, locale_of, normalize


@pytest.mark.parametrize(
    "raw",
    [
        "(212) 555-0123",
        "212.555.0123",
        "212-555-0123",
        "212 555 0123",
        "2125550123",
        "+1 212 555 0123",
        "+1 (212) 555-0123",
        "+1-212-555-0123",
        "+12125550123",
        "1-212-555-0123",
        "1 (212) 555-0123",
        "12125550123",
        "  (212) 555-0123\n",
        "\t+1.212.555.0123 ",
    ],
)
def test_us_shapes_normalise_to_e164(raw):
    assert normalize(raw) == "+12125550123"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("(713) 555-0123", "+17135550123"),
        ("305.555.0123", "+13055550123"),
        ("+1 800 555 0100", "+18005550100"),  # toll-free numbers can text
        ("+44 20 7946 0958", "+442079460958"),  # an explicit country code is kept
    ],
)
def test_other_numbers_normalise(raw, expected):
    assert normalize(raw) == expected


def test_region_sets_the_default_country():
    assert normalize("020 7946 0958", region="GB") == "+442079460958"


@pytest.mark.parametrize(
    "raw",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param(None, id="none"),
        pytest.param("abc", id="letters"),
        pytest.param("not a phone", id="words"),
        pytest.param("ABC-DEF-GHIJ", id="all-letter-number"),
        pytest.param("+", id="plus-only"),
        pytest.param("0", id="zero"),
        pytest.param("555-0123", id="seven-digits"),
        pytest.param("212 555 012", id="nine-digits"),
        pytest.param("+1 212 555 01", id="too-short-with-country"),
        pytest.param("212-555-01234", id="eleven-digits-no-country"),
        pytest.param("+1 212 555 0123 0000", id="too-many-digits"),
        pytest.param("1" * 33, id="over-32-chars"),
        pytest.param("+1 " + "2" * 40, id="way-too-long"),
        pytest.param("+1 555 555 0100", id="555-area-code"),
        pytest.param("(555) 555-0100", id="555-area-code-national"),
        pytest.param("+1 011 555 0123", id="area-code-starting-0"),
        pytest.param("+1 112 555 0123", id="area-code-starting-1"),
        pytest.param("+1 212 055 0123", id="exchange-starting-0"),
    ],
)
def test_invalid_numbers_raise(raw):
    with pytest.raises(InvalidPhone) as caught:
        normalize(raw)
    assert str(caught.value)  # a reason a person can read


def test_invalid_phone_is_a_value_error():
    # Callers that catch ValueError (form parsing, CSV import) also catch bad phones.
    with pytest.raises(ValueError):
        normalize("abc")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "required"),
        ("1" * 40, "too long"),
        ("abc", "not a phone number"),
        ("+1 555 555 0100", "not a valid phone number"),
    ],
)
def test_reasons_say_what_is_wrong(raw, message):
    with pytest.raises(InvalidPhone, match=message):
        normalize(raw)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("+12125550123", True),
        ("+442079460958", True),
        ("12125550123", False),
        ("+1 212 555 0123", False),
        ("(212) 555-0123", False),
        ("+15555550100", False),
        ("", False),
    ],
)
def test_is_e164(text, expected):
    assert is_e164(text) is expected


@pytest.mark.parametrize(
    ("phone", "zone", "state"),
    [
        pytest.param("+12125550123", "America/New_York", "NY", id="NY-Manhattan"),
        pytest.param("+17135550123", "America/Chicago", "TX", id="TX-Houston"),
        pytest.param("+12145550123", "America/Chicago", "TX", id="TX-Dallas"),
        pytest.param("+19155550123", "America/Denver", "TX", id="TX-El-Paso-mountain"),
        pytest.param("+13055550123", "America/New_York", "FL", id="FL-Miami"),
        pytest.param("+12035550123", "America/New_York", "CT", id="CT"),
        pytest.param("+17035550123", "America/New_York", "VA", id="VA"),
        pytest.param("+14155550123", "America/Los_Angeles", "CA", id="CA-San-Francisco"),
        pytest.param("+14055550123", "America/Chicago", "OK", id="OK"),
        pytest.param("+13015550123", "America/New_York", "MD", id="MD"),
        pytest.param("+16015550123", "America/Chicago", "MS", id="MS"),
        pytest.param("+12015550123", "America/New_York", "NJ", id="NJ"),
        pytest.param("+16025550123", "America/Phoenix", "AZ", id="AZ-no-dst"),
        pytest.param("+18085550123", "Pacific/Honolulu", "HI", id="HI"),
        pytest.param("+12025550123", "America/New_York", "DC", id="DC"),
    ],
)
def test_locale_from_area_code(phone, zone, state):
    assert locale_of(phone) == Locale(zone, state)


@pytest.mark.parametrize(
    "phone",
    ["+18005550100", "+18885550100", "+18775550100", "+18665550100", "+18555550100"],
)
def test_toll_free_numbers_have_no_zone_or_state(phone):
    assert locale_of(phone) == Locale(None, None)


def test_area_code_spanning_zones_has_a_state_but_no_zone():
    # Alaska's single area code covers two time zones: the caller falls back to the business's.
    assert locale_of("+19075550123") == Locale(None, "AK")


def test_non_us_number_has_no_us_state():
    assert locale_of("+14165550123") == Locale("America/Toronto", None)
    assert locale_of("+442079460958").state is None


@pytest.mark.parametrize("junk", ["", "not a number", "12125550123"])
def test_locale_of_unparseable_is_unknown(junk):
    assert locale_of(junk) == Locale(None, None)
