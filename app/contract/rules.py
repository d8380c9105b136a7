"""Each input rule, written once: a phone, an email, a link, a time zone, a sending window, a
Messaging Service SID, a password, a name. The commands (app.contract.commands) are built from
these types, so the API, the owner's pages, CSV rows and the CLI all apply the same rule and
answer in the same words.

A rule raises `PydanticCustomError(code, message)`: the code is the API's error code, the
message is for a person and names no field (the caller knows which field it is).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, BeforeValidator, Field, ValidationInfo, WithJsonSchema
from pydantic_core import PydanticCustomError

from app.models import MAX_ID
from app.phones import DEFAULT_REGION, InvalidPhone, normalize

MAX_NAME = 120
MAX_STAFF = 80
MAX_TAGS = 20
MAX_TAG = 40
MAX_NOTES = 5000
MAX_SOURCE = 40
MAX_OFFER = 160  # a referral offer or reward, in the owner's words
MAX_URL = 500
MAX_EMAIL = 254
MIN_PASSWORD, MAX_PASSWORD = 10, 200
MAX_AMOUNT = 10_000_000
# A visit time a few minutes ahead is a clock that runs fast, not a visit in the future.
CLOCK_SKEW = timedelta(minutes=5)
COMMON_PASSWORDS = frozenset(
    {"1234567890", "0123456789", "password12", "password123", "qwertyuiop", "1111111111",
     "iloveyou12", "letmein123", "welcome123", "abc1234567", "passw0rd12", "qwerty1234"}
)  # fmt: skip
# The legal windows of the strictest states lie inside 09:00-20:00; a business window that
# misses it entirely would hold its texts forever somewhere.
LEGAL_CORE = (time(9), time(20))


# The error codes rules give (the API's `error.code`); anything else pydantic finds is
# "invalid_field", a missing field "missing_field", an unknown one "unknown_field".
RULE_CODES = frozenset(
    {"invalid_phone", "invalid_email", "invalid_url", "invalid_timezone", "invalid_window",
     "invalid_time", "invalid_sid", "weak_password", "missing_field", "too_long",
     "invalid_consent", "invalid_amount", "invalid_field", "invalid_hours",
     "invalid_holidays", "invalid_birthday"}
)  # fmt: skip


def invalid(code: str, message: str, *, field: str | None = None) -> PydanticCustomError:
    """A rule's refusal. `field` names the field when a whole-model check raises it."""
    return PydanticCustomError(code, message, {"_field": field} if field else None)


def _blank_to_none(value: Any) -> Any:
    """An empty form field or JSON "" means 'not given' for optional values."""
    if isinstance(value, str) and not value.strip():
        return None
    return value


def form_number(value: Any, info: ValidationInfo) -> Any:
    """A number typed into a form ("10") where a choice of numbers is expected."""
    if info.mode == "python" and isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return value


def fold(text: str) -> str:
    """Whitespace folded to single spaces, ends trimmed."""
    return " ".join(text.split())


# ---- phones -------------------------------------------------------------------------------


def check_phone(value: str, info: ValidationInfo) -> str:
    """Any common way of writing a number; without a country code it is read in the country
    given as context `region` (the business's own: app.phones.home_region), else the US."""
    try:
        return normalize(value, (info.context or {}).get("region") or DEFAULT_REGION)
    except InvalidPhone as exc:
        raise invalid("invalid_phone", f"Check the number: {exc}.") from exc


Phone = Annotated[
    str,
    Field(max_length=40, description="A phone number in any common format; stored as E.164"),
    AfterValidator(check_phone),
]
OptionalPhone = Annotated[Phone | None, BeforeValidator(_blank_to_none)]

COUNTRIES = sorted(phonenumbers.SUPPORTED_REGIONS)  # ISO 3166 codes phone numbers belong to
MAX_COUNTRIES = 50


def check_countries(value: Any, info: ValidationInfo) -> list[str] | None:
    """Countries as ISO codes, from a list or a form's "US, CA"; none given means the default."""
    if isinstance(value, str) and info.mode == "python":
        value = value.replace(";", ",").replace(" ", ",").split(",")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(c, str) for c in value):
        raise invalid("invalid_field", "List countries by their two-letter codes, e.g. US, CA.")
    codes = sorted({c.strip().upper() for c in value if c.strip()})
    unknown = [c for c in codes if c not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise invalid("invalid_field", f"{', '.join(unknown)[:60]}: not a country code. Use two "
                      "letters, e.g. US, CA.")  # fmt: skip
    if len(codes) > MAX_COUNTRIES:
        raise invalid("invalid_field", f"List at most {MAX_COUNTRIES} countries.")
    return codes or None


Countries = Annotated[
    list[str] | None,
    BeforeValidator(check_countries),
    WithJsonSchema({"anyOf": [{"type": "array", "items": {"enum": COUNTRIES},
                               "maxItems": MAX_COUNTRIES}, {"type": "null"}]}),
]  # fmt: skip


MAX_MILESTONES = 10


def check_milestones(value: Any, info: ValidationInfo) -> list[int]:
    """Milestone visits, from a list or a form's "5, 10, 25": whole numbers from 2 to 1000,
    sorted, no repeats; an empty list means none."""
    if isinstance(value, str) and info.mode == "python":
        value = [part for part in value.replace(";", ",").replace(" ", ",").split(",") if part]
    if not isinstance(value, list):
        raise invalid("invalid_field", "List the visits by number, e.g. 5, 10, 25.")
    visits = set()
    for part in value:
        number = part.strip().removesuffix("th") if isinstance(part, str) else part
        try:
            number = int(number)
        except (TypeError, ValueError):
            raise invalid("invalid_field", "List the visits by number, e.g. 5, 10, 25.") from None
        if isinstance(part, bool) or not 2 <= number <= 1000:
            raise invalid("invalid_field", "Each milestone is a visit from the 2nd to the 1000th.")
        visits.add(number)
    if len(visits) > MAX_MILESTONES:
        raise invalid("invalid_field", f"List at most {MAX_MILESTONES} milestones.")
    return sorted(visits)


Milestones = Annotated[
    list[int],
    BeforeValidator(check_milestones),
    WithJsonSchema({"type": "array", "items": {"type": "integer", "minimum": 2, "maximum": 1000},
                    "maxItems": MAX_MILESTONES}),
]  # fmt: skip


# ---- email --------------------------------------------------------------------------------


def check_email(value: str) -> str:
    text = value.strip()
    if len(text) > MAX_EMAIL:
        raise invalid("invalid_email", "Enter an email address such as sam@example.com.")
    try:
        # No DNS lookups (we never mail anyone from a form); `test_environment` lets the
        # reserved .test names through, which the app's own examples and tests use.
        checked = validate_email(text, check_deliverability=False, test_environment=True)
    except EmailNotValidError as exc:
        raise invalid("invalid_email", "Enter an email address such as sam@example.com.") from exc
    return checked.normalized.lower()


Email = Annotated[str, Field(max_length=MAX_EMAIL, json_schema_extra={"format": "email"}),
                  AfterValidator(check_email)]  # fmt: skip
OptionalEmail = Annotated[Email | None, BeforeValidator(_blank_to_none)]


# ---- links --------------------------------------------------------------------------------

_INTERNAL_SUFFIXES = (".local", ".localhost", ".internal", ".lan", ".home", ".corp", ".intranet")


def check_public_https_url(value: str) -> str:
    """An https link to a public host: no credentials, no internal hosts, no spaces or CR/LF
    (a link we redirect customers to must not be turned against them or against us)."""
    text = value.strip()
    message = "Use the https:// link of your review page."
    if len(text) > MAX_URL or re.search(r"[\s\x00-\x1f\x7f]", text):
        raise invalid("invalid_url", message)
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise invalid("invalid_url", message) from exc
    host = (parts.hostname or "").rstrip(".").lower()
    if parts.scheme != "https" or not host or parts.username or parts.password:
        raise invalid("invalid_url", message)
    if port not in (None, 443):
        raise invalid("invalid_url", message)
    if host == "localhost" or host.endswith(_INTERNAL_SUFFIXES) or "." not in host:
        raise invalid("invalid_url", "That link points to a private address; use a public page.")
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        address = None
    if address is not None and not address.is_global:
        raise invalid("invalid_url", "That link points to a private address; use a public page.")
    return text


def is_public_https_url(value: str) -> bool:
    try:
        check_public_https_url(value)
    except PydanticCustomError:
        return False
    return True


ReviewUrl = Annotated[str, Field(max_length=MAX_URL, json_schema_extra={"format": "uri"}),
                      AfterValidator(check_public_https_url)]  # fmt: skip
OptionalReviewUrl = Annotated[ReviewUrl | None, BeforeValidator(_blank_to_none)]


# ---- time ---------------------------------------------------------------------------------


def check_timezone(value: str) -> str:
    text = value.strip()
    try:
        if not text or len(text) > 64:
            raise ValueError(text)
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise invalid("invalid_timezone",
                      f"{text!r} is not a time zone such as America/Chicago.") from exc  # fmt: skip
    return text


TimeZone = Annotated[str, Field(max_length=64, examples=["America/Chicago"]),
                     AfterValidator(check_timezone)]  # fmt: skip


def parse_hhmm(value: str) -> time:
    match = re.fullmatch(r"([01]?\d|2[0-3]):([0-5]\d)", (value or "").strip())
    if not match:
        raise ValueError(f"{value!r} is not HH:MM")
    return time(int(match.group(1)), int(match.group(2)))


def check_hhmm(value: str) -> str:
    try:
        return parse_hhmm(value).strftime("%H:%M")
    except ValueError as exc:
        raise invalid("invalid_window", "Use HH:MM times, e.g. 09:00 and 20:00.") from exc


RowId = Annotated[int, Field(ge=1, le=MAX_ID)]  # a row named by its id
HHMM = Annotated[str, Field(max_length=5, pattern=r"^([01]?\d|2[0-3]):[0-5]\d$"),
                 AfterValidator(check_hhmm)]  # fmt: skip


def check_window(start: str, end: str) -> tuple[str, str]:
    """A business's sending window: start before end, overlapping 09:00-20:00."""
    start_t, end_t = parse_hhmm(start), parse_hhmm(end)
    if start_t >= end_t:
        raise invalid("invalid_window", "The window's start must be before its end.")
    if start_t >= LEGAL_CORE[1] or end_t <= LEGAL_CORE[0]:
        raise invalid("invalid_window", "The window must overlap 09:00 to 20:00.")
    return start_t.strftime("%H:%M"), end_t.strftime("%H:%M")


DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


# ---- opening hours -------------------------------------------------------------------------

WEEKDAY_NAMES = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
MAX_DAY_SPANS = 2  # open all day, or two spans around a break
MAX_HOLIDAYS = 60
MAX_HOLIDAY_NAME = 60
FIRST_HOLIDAY, LAST_HOLIDAY = date(2000, 1, 1), date(2099, 12, 31)


def _minutes(value: str, *, closing: bool) -> int:
    moment = parse_hhmm(value)
    minutes = moment.hour * 60 + moment.minute
    return 24 * 60 if closing and minutes == 0 else minutes  # closing at 00:00 is midnight


def check_day_hours(day: str, value: Any) -> list[dict[str, str]]:
    """One weekday's opening hours: [] (closed) or one or two {"open", "close"} spans, each
    closing after it opens, the second after the first. Messages name the day."""
    name = day.capitalize()
    if not isinstance(value, list) or not all(isinstance(span, dict) for span in value):
        raise invalid("invalid_hours", f"{name}: give a list of opening and closing times.",
                      field=f"opening_hours.{day}")  # fmt: skip
    if len(value) > MAX_DAY_SPANS:
        raise invalid("invalid_hours", f"{name}: at most {MAX_DAY_SPANS} opening times a day.",
                      field=f"opening_hours.{day}")  # fmt: skip
    spans, last_close = [], -1
    for span in value:
        opening, close = span.get("open"), span.get("close")
        if set(span) - {"open", "close"}:
            raise invalid("invalid_hours", f"{name}: only open and close times, please.",
                          field=f"opening_hours.{day}")  # fmt: skip
        if not opening or not close:
            raise invalid("invalid_hours", f"{name}: enter both the opening and the closing "
                          "time, or mark the day closed.",
                          field=f"opening_hours.{day}")  # fmt: skip
        try:
            if not isinstance(opening, str) or not isinstance(close, str):
                raise ValueError(opening)
            start, end = _minutes(opening, closing=False), _minutes(close, closing=True)
        except ValueError as exc:
            raise invalid("invalid_hours", f"{name}: use times such as 09:00 and 17:30.",
                          field=f"opening_hours.{day}") from exc  # fmt: skip
        if end <= start:
            raise invalid("invalid_hours", f"{name}: the closing time must be after the "
                          "opening time.", field=f"opening_hours.{day}")  # fmt: skip
        if start < last_close:
            raise invalid("invalid_hours", f"{name}: the second opening time must be after the "
                          "first closing time.", field=f"opening_hours.{day}")  # fmt: skip
        last_close = end
        spans.append({"open": f"{start // 60:02d}:{start % 60:02d}",
                      "close": parse_hhmm(close).strftime("%H:%M")})  # fmt: skip
    return spans


def check_holidays(value: list, info: ValidationInfo) -> list:
    """Closed dates: at most MAX_HOLIDAYS, each once, in this century; sorted by date."""
    if len(value) > MAX_HOLIDAYS:
        raise invalid("invalid_holidays", f"At most {MAX_HOLIDAYS} closed dates: remove some "
                      "that have passed first.")  # fmt: skip
    seen: set[date] = set()
    for holiday in value:
        if not FIRST_HOLIDAY <= holiday.date <= LAST_HOLIDAY:
            raise invalid("invalid_holidays", f"{holiday.date.isoformat()}: check the year.")
        if holiday.date in seen:
            raise invalid("invalid_holidays", f"{_day_words(holiday.date)} is already a closed "
                          "date.")  # fmt: skip
        seen.add(holiday.date)
    return sorted(value, key=lambda holiday: holiday.date)


def _day_words(day: date) -> str:
    return f"{day.strftime('%A')} {day.day} {day.strftime('%B %Y')}"


def check_holiday_date(value: Any) -> Any:
    """A closed date as a date input or JSON sends it: 2026-12-25."""
    if isinstance(value, str):
        if not value.strip():
            raise invalid("invalid_holidays", "Choose the date you are closed.")
        try:
            if not DAY.fullmatch(value.strip()):
                raise ValueError(value)
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise invalid("invalid_holidays", "Use a date such as 2026-12-25.") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise invalid("invalid_holidays", "Use a date such as 2026-12-25.")


HolidayDate = Annotated[date, BeforeValidator(check_holiday_date),
                        WithJsonSchema({"type": "string", "format": "date",
                                        "examples": ["2026-12-25"]})]  # fmt: skip


def check_moment(value: Any, info: ValidationInfo) -> Any:
    """An ISO 8601 time; without a zone it is the business's local time (context `zone`)."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and len(value) <= 40:
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as exc:
            raise invalid("invalid_time", "Use an ISO 8601 time such as 2026-03-10T14:30.") from exc
    else:
        raise invalid("invalid_time", "Use an ISO 8601 time such as 2026-03-10T14:30.")
    if moment.tzinfo is None:
        zone = (info.context or {}).get("zone") or "UTC"
        moment = moment.replace(tzinfo=ZoneInfo(zone))
    try:
        return moment.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise invalid("invalid_time", "That time is out of range.") from exc


def not_in_future(value: datetime | None, info: ValidationInfo, *, field: str | None = None
                  ) -> datetime | None:  # fmt: skip
    now = (info.context or {}).get("now")
    if value is not None and now is not None and value > now + CLOCK_SKEW:
        raise invalid("invalid_time", "That time is in the future.", field=field)
    return value


Moment = Annotated[
    datetime,
    BeforeValidator(check_moment),
    WithJsonSchema({"type": "string", "format": "date-time"}),
]


def check_day_or_moment(value: Any, info: ValidationInfo) -> Any:
    """A date alone ("2026-03-10") is a whole local day of the business; else a moment."""
    if isinstance(value, str) and DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError as exc:
            raise invalid("invalid_time", "Use a date such as 2026-03-10.") from exc
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    return check_moment(value, info)


OptionalDay = Annotated[date | None, BeforeValidator(_blank_to_none)]


def check_optional_date(value: Any, info: ValidationInfo) -> Any:
    """A day as JSON, a form's date input or a CSV cell sends it (2026-12-25); a form's blank
    is none (JSON says null)."""
    if value is None or (info.mode == "python" and isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, str) and DAY.fullmatch(value.strip()):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    raise invalid("invalid_field", "Use a date such as 2026-12-25.")


OptionalDate = Annotated[date | None, BeforeValidator(check_optional_date),
                         WithJsonSchema({"type": ["string", "null"], "format": "date",
                                         "examples": ["2026-12-25"]})]  # fmt: skip
DayOrMoment = Annotated[
    datetime | date,
    BeforeValidator(check_day_or_moment),
    WithJsonSchema(
        {
            "type": "string",
            "description": "a date (the business's whole local day) or an ISO 8601 time",
            "examples": ["2026-03-10"],
        }
    ),
]
OptionalMoment = Annotated[Moment | None, BeforeValidator(_blank_to_none)]
PastMoment = Annotated[OptionalMoment, AfterValidator(not_in_future)]


# ---- Twilio identifiers --------------------------------------------------------------------


def check_messaging_service_sid(value: str) -> str:
    text = value.strip()
    if not re.fullmatch(r"MG[0-9a-fA-F]{32}", text):
        raise invalid("invalid_sid", "A Messaging Service SID is MG and 32 more characters.")
    return text


MessagingServiceSid = Annotated[str, Field(max_length=34, examples=["MG" + "0" * 32]),
                                AfterValidator(check_messaging_service_sid)]  # fmt: skip
OptionalMessagingServiceSid = Annotated[MessagingServiceSid | None,
                                        BeforeValidator(_blank_to_none)]  # fmt: skip


# ---- people and words ---------------------------------------------------------------------


def check_password(value: str) -> str:
    """A new password; that it differs from the email is checked by the command holding both."""
    if len(value) < MIN_PASSWORD:
        raise invalid("weak_password", f"Use at least {MIN_PASSWORD} characters.")
    if len(value) > MAX_PASSWORD:
        raise invalid("weak_password", f"Use at most {MAX_PASSWORD} characters.")
    if value.lower() in COMMON_PASSWORDS or len(set(value)) < 4:
        raise invalid("weak_password", "That password is too easy to guess.")
    return value


Password = Annotated[str, Field(max_length=MAX_PASSWORD * 4), AfterValidator(check_password)]


def _folded(limit: int, *, required: bool = False, what: str = "") -> AfterValidator:
    def check(value: str) -> str:
        text = fold(value)
        if required and not text:
            raise invalid("missing_field", f"Enter {what}." if what else "This is required.")
        if len(text) > limit:
            raise invalid("too_long", f"Use at most {limit} characters.")
        return text

    return AfterValidator(check)


BusinessName = Annotated[str, Field(max_length=MAX_NAME * 2),
                         _folded(MAX_NAME, required=True, what="a business name")]  # fmt: skip
PersonName = Annotated[str, Field(max_length=MAX_NAME * 2), _folded(MAX_NAME)]
ReplyTitle = Annotated[str, Field(max_length=120), _folded(60, required=True, what="a title")]
StaffName = Annotated[str, Field(max_length=MAX_STAFF * 2), _folded(MAX_STAFF)]
OptionalStaffName = Annotated[StaffName | None, BeforeValidator(_blank_to_none)]
RequiredStaffName = Annotated[str, Field(max_length=MAX_STAFF * 2),
                              _folded(MAX_STAFF, required=True,
                                      what=f"a name of 1 to {MAX_STAFF} characters")]  # fmt: skip
ConsentSource = Annotated[str, Field(max_length=MAX_SOURCE * 2), _folded(MAX_SOURCE)]
Offer = Annotated[str, Field(max_length=MAX_OFFER * 2), _folded(MAX_OFFER)]
HolidayName = Annotated[str, Field(max_length=MAX_HOLIDAY_NAME * 2), _folded(MAX_HOLIDAY_NAME)]
OptionalOffer = Annotated[Offer | None, BeforeValidator(_blank_to_none)]


def parse_tags(text: str) -> list[str]:
    """Tags from "vip; color, Tuesday" -> ["color", "tuesday", "vip"]: lower case, no repeats."""
    parts = text.replace(";", ",").split(",")
    return sorted({fold(p).lower()[:MAX_TAG] for p in parts if p.strip()})


def check_tags(value: Any, info: ValidationInfo) -> list[str]:
    if isinstance(value, str) and info.mode == "python":  # a form field or a CSV cell
        tags = parse_tags(value)
    elif isinstance(value, list) and all(isinstance(t, str) for t in value):
        tags = parse_tags(",".join(value))
    else:
        raise invalid("invalid_field", "Tags are a list of words.")
    if len(tags) > MAX_TAGS:
        raise invalid("invalid_field", f"Use at most {MAX_TAGS} tags.")
    return tags


def check_tag(value: str) -> str:
    """One tag, written as tags are kept ("VIP " -> "vip")."""
    tags = parse_tags(value)
    if len(tags) != 1:
        raise invalid("invalid_field", "Name one tag.")
    return tags[0]


Tag = Annotated[str, Field(max_length=MAX_TAG * 2), AfterValidator(check_tag)]
Tags = Annotated[
    list[str],
    BeforeValidator(check_tags),
    WithJsonSchema({"type": "array", "items": {"type": "string", "maxLength": 200},
                    "maxItems": 200}),
]  # fmt: skip


def check_notes(value: str) -> str:
    text = value.replace("\r\n", "\n").strip()
    if len(text) > MAX_NOTES:
        raise invalid("too_long", f"Keep notes under {MAX_NOTES} characters.")
    return text


Notes = Annotated[str, Field(max_length=MAX_NOTES * 2), AfterValidator(check_notes)]


def check_amount(value: float | None) -> float | None:
    if value is not None and not 0 <= value < MAX_AMOUNT:
        raise invalid("invalid_amount", "The amount must be a number from 0 up.")
    return value


def _amount_text(value: Any, info: ValidationInfo) -> Any:
    """'$1,234.50' from a till export or a form is 1234.5; JSON must send a number."""
    if info.mode != "python":
        return value
    value = _blank_to_none(value)
    if isinstance(value, str):
        try:
            return float(value.strip().lstrip("$").replace(",", ""))
        except ValueError as exc:
            raise invalid("invalid_amount", f"{value!r} is not an amount.") from exc
    return value


Amount = Annotated[float | None, BeforeValidator(_amount_text), AfterValidator(check_amount)]


def cents(amount: float | None) -> int | None:
    return round(amount * 100) if amount is not None else None


# ---- birthdays ----------------------------------------------------------------------------
# A birthday is a month and a day ("MM-DD"), read the ways people write one: "March 3rd",
# "3 March", "3/3", "03-03", "it's the 3rd of march", "3 de marzo", "1990-03-03". Numbers
# are month first (as in the US) unless the first cannot be a month ("14/3").

MONTHS = {
    **{name: number for number, name in enumerate(
        ("january", "february", "march", "april", "may", "june", "july", "august",
         "september", "october", "november", "december"), start=1)},
    **{name: number for number, name in enumerate(
        ("enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
         "septiembre", "octubre", "noviembre", "diciembre"), start=1)},
    "sept": 9, "setiembre": 9,
}  # fmt: skip
DAYS_IN_MONTH = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # a birthday may be 02-29
_MONTH_WORD = r"[a-záéíóúñ]+"
_DAY = r"(\d{1,2})(?:st|nd|rd|th|ro|º|°)?"
# Words around a date that say nothing about it ("it's the 3rd of march", "el 3 de marzo").
_FILLER = re.compile(
    r"\b(?:it'?s|it is|its|my|birthday|bday|b-day|is|on|the|of|de|del|el|mi|cumpleaños|"
    r"cumple|es)\b"
)
_WORD_FIRST = re.compile(rf"({_MONTH_WORD})\s+{_DAY}(?:\s+\d{{4}})?")
_DAY_FIRST = re.compile(rf"{_DAY}\s+({_MONTH_WORD})(?:\s+\d{{4}})?")
_NUMBERS = re.compile(r"(\d{1,4})\s*[/.-]\s*(\d{1,2})(?:\s*[/.-]\s*(\d{2,4}))?")
BIRTHDAY_EXAMPLE = "Enter a birthday such as March 3 or 03-03."


def _month(word: str) -> int | None:
    if word in MONTHS:
        return MONTHS[word]
    if len(word) >= 3:  # "mar", "sep", "dic": the first letters of one month only
        found = {n for name, n in MONTHS.items() if name.startswith(word)}
        if len(found) == 1:
            return found.pop()
    return None


def parse_birthday(text: str) -> str:
    """ "MM-DD" from a birthday as a person writes it; ValueError with a message for them."""
    words = fold(str(text).lower().replace("’", "'"))
    words = re.sub(r"(?<=[a-záéíóúñ])\.|[,!?]", " ", words)  # "mar. 3", "3 march!"
    words = fold(_FILLER.sub(" ", words)).rstrip(".")
    month = day = None
    if match := _WORD_FIRST.fullmatch(words):
        month, day = _month(match.group(1)), int(match.group(2))
    elif match := _DAY_FIRST.fullmatch(words):
        day, month = int(match.group(1)), _month(match.group(2))
    elif match := _NUMBERS.fullmatch(words):
        first, second, third = match.group(1), int(match.group(2)), match.group(3)
        if len(first) == 4:  # 1990-03-03: a year first, then month and day
            if third is None:
                raise ValueError(BIRTHDAY_EXAMPLE)
            month, day = second, int(third)
        elif int(first) > 12 >= second:
            day, month = int(first), second
        else:
            month, day = int(first), second
    if month is None or day is None:
        raise ValueError(BIRTHDAY_EXAMPLE)
    if not 1 <= month <= 12:
        raise ValueError(BIRTHDAY_EXAMPLE)
    if not 1 <= day <= DAYS_IN_MONTH[month - 1]:
        name = date(2000, month, 1).strftime("%B")
        raise ValueError(f"{name} has no {day}{_suffix(day)}: check the date.")
    return f"{month:02d}-{day:02d}"


def _suffix(day: int) -> str:
    if 10 <= day % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")


def birthday_words(value: str | None) -> str:
    """ "03-03" as "March 3", for pages."""
    if not value:
        return ""
    month, day = (int(part) for part in value.split("-"))
    return f"{date(2000, month, 1).strftime('%B')} {day}"


def check_birthday(value: Any) -> Any:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 60:
        raise invalid("invalid_birthday", BIRTHDAY_EXAMPLE)
    if not value.strip():
        return None
    try:
        return parse_birthday(value)
    except ValueError as exc:
        raise invalid("invalid_birthday", str(exc)) from exc


OptionalBirthday = Annotated[
    str | None,
    BeforeValidator(check_birthday),
    WithJsonSchema({"anyOf": [{"type": "string", "maxLength": 60, "examples": ["03-14"],
                               "description": 'month and day: "03-14", "March 14", "14 March"'},
                              {"type": "null"}]}),
]  # fmt: skip
