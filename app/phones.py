"""Phone numbers: E.164 normalisation, and the recipient's time zone and state."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import phonenumbers
from phonenumbers import timezone
from phonenumbers.tzdata import TIMEZONE_DATA

DEFAULT_REGION = "US"

US_STATES = {
    "Alabama": "AL", "Alaska": "AK", "Arizona": "AZ", "Arkansas": "AR", "California": "CA",
    "Colorado": "CO", "Connecticut": "CT", "Delaware": "DE", "Florida": "FL", "Georgia": "GA",
    "Hawaii": "HI", "Idaho": "ID", "Illinois": "IL", "Indiana": "IN", "Iowa": "IA",
    "Kansas": "KS", "Kentucky": "KY", "Louisiana": "LA", "Maine": "ME", "Maryland": "MD",
    "Massachusetts": "MA", "Michigan": "MI", "Minnesota": "MN", "Mississippi": "MS",
    "Missouri": "MO", "Montana": "MT", "Nebraska": "NE", "Nevada": "NV", "New Hampshire": "NH",
    "New Jersey": "NJ", "New Mexico": "NM", "New York": "NY", "North Carolina": "NC",
    "North Dakota": "ND", "Ohio": "OH", "Oklahoma": "OK", "Oregon": "OR", "Pennsylvania": "PA",
    "Rhode Island": "RI", "South Carolina": "SC", "South Dakota": "SD", "Tennessee": "TN",
    "Texas": "TX", "Utah": "UT", "Vermont": "VT", "Virginia": "VA", "Washington": "WA",
    "Washington State": "WA", "West Virginia": "WV", "Wisconsin": "WI", "Wyoming": "WY",
    "Washington D.C.": "DC", "District of Columbia": "DC",
}  # fmt: skip
STATE_CODES = frozenset(US_STATES.values())


class InvalidPhone(ValueError):
    """A phone number that cannot be texted."""


@lru_cache(maxsize=65536)
def normalize(raw: str | None, region: str = DEFAULT_REGION) -> str:
    """Return the number in E.164 (`+12125550123`), or raise InvalidPhone with a reason."""
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("a phone number is required")
    if len(text) > 32:
        raise InvalidPhone("that is too long to be a phone number")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException as exc:
        raise InvalidPhone(f"{text!r} is not a phone number") from exc
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


@lru_cache(maxsize=65536)
def region_of(e164: str | None) -> str | None:
    """The ISO country a number belongs to (None for no number or one of no country)."""
    if not e164:
        return None
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return None


def home_region(number: str | None) -> str:
    """A business's own country, from its sending number: numbers typed without a country
    code are read in it, and numbers in it are shown the way people there write them."""
    region = region_of(number)
    return region if region and region != "001" else DEFAULT_REGION


@lru_cache(maxsize=65536)
def display(e164: str | None, home: str = DEFAULT_REGION) -> str:
    """A stored number the way the owner writes it: "(212) 555-0123" at home, "+44 7400
    123456" from abroad. What is not a number is shown as it is."""
    if not e164:
        return ""
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return e164
    if not phonenumbers.is_valid_number(number):
        return e164
    home_here = phonenumbers.region_code_for_number(number) == home
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home_here else (
        phonenumbers.PhoneNumberFormat.INTERNATIONAL
    )  # fmt: skip
    return phonenumbers.format_number(number, style)


def as_written_by(business_number: str | None, e164: str | None) -> str:
    """A number as the people of the business sending from `business_number` write it."""
    return display(e164, home_region(business_number))


def is_e164(text: str) -> bool:
    try:
        return normalize(text) == text
    except InvalidPhone:
        return False


@dataclass(frozen=True)
class Locale:
    time_zone: str | None  # None when the number spans zones or is unknown
    state: str | None  # two-letter US state, when the number says


def locale_key(e164: str) -> str:
    """The part of a number its locale depends on: in North America the area code, or the
    longer prefix a time zone is known by where an area code spans two zones (Idaho's 208);
    elsewhere the whole number. An area code never crosses a state line."""
    if not e164.startswith("+1") or len(e164) < 8:
        return e164
    digits = e164[1:8]
    longest = next((p for p in range(7, 4, -1) if digits[:p] in TIMEZONE_DATA), 4)
    return e164[: longest + 1]


_BY_KEY: dict[str, Locale] = {}  # North American locales by locale_key: a few thousand


def locale_of(e164: str) -> Locale:
    """Where the number's area code puts the recipient; both parts may be unknown. Looked up
    once per area code (a broadcast to 100,000 numbers looks up a few hundred)."""
    key = locale_key(e164)
    if key == e164:
        return _locale_of_number(e164)
    found = _BY_KEY.get(key)
    if found is None:
        found = _BY_KEY[key] = _locale_of_number(e164)
    return found


@lru_cache(maxsize=65536)
def _locale_of_number(e164: str) -> Locale:
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return Locale(None, None)
    zones = [z for z in timezone.time_zones_for_number(number) if z != "Etc/Unknown"]
    zone = zones[0] if len(zones) == 1 else None
    state = None
    if phonenumbers.region_code_for_number(number) == "US":
        # Imported here: the geocoder's data costs ~100 MiB, only worth it once it is needed.
        from phonenumbers import geocoder

        place = geocoder.description_for_number(number, "en")
        if ", " in place and place.rsplit(", ", 1)[1] in STATE_CODES:
            state = place.rsplit(", ", 1)[1]
        else:
            state = US_STATES.get(place)
    return Locale(zone, state)
