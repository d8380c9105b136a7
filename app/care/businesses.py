"""Businesses, their owners, and API keys (stored only as hashes)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, time
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from app.care.windows import parse_hhmm
from app.models import ApiKey, Business, User
from app.phones import InvalidPhone, normalize

KEY_PREFIX = "rk_"
PASSWORD_METHOD = "scrypt"  # werkzeug's default: memory-hard


class InvalidSetting(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def hash_key(raw: str) -> str:
    # API keys carry 256 bits of randomness, so a fast hash is enough (unlike passwords).
    return hashlib.sha256(raw.encode()).hexdigest()


def issue_api_key(session: Session, business: Business, label: str = "", now=None) -> str:
    """Create a key and return it in full: this is the only time it is ever shown."""
    raw = KEY_PREFIX + secrets.token_urlsafe(32)
    key = ApiKey(business_id=business.id, prefix=raw[:10], key_hash=hash_key(raw), label=label)
    if now is not None:
        key.created_at = now
    session.add(key)
    return raw


def business_for_key(session: Session, raw: str) -> Business | None:
    if not raw.startswith(KEY_PREFIX) or len(raw) > 100:
        return None
    key = session.exec(
        select(ApiKey).where(ApiKey.key_hash == hash_key(raw), ApiKey.revoked_at.is_(None))
    ).first()
    return session.get(Business, key.business_id) if key else None


def validate_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InvalidSetting(
            "timezone", f"{value!r} is not a time zone such as America/Chicago"
        ) from exc
    return value


def validate_window(start: str, end: str) -> tuple[str, str]:
    try:
        start_t, end_t = parse_hhmm(start), parse_hhmm(end)
    except (ValueError, AttributeError) as exc:
        raise InvalidSetting("sending_window", "use HH:MM times, e.g. 09:00 and 20:00") from exc
    if start_t >= end_t:
        raise InvalidSetting("sending_window", "start must be before end")
    if start_t >= time(20) or end_t <= time(9):
        # Anything else never overlaps some state's legal hours, and its texts would never go.
        raise InvalidSetting("sending_window", "the window must overlap 09:00 to 20:00")
    return start_t.strftime("%H:%M"), end_t.strftime("%H:%M")


def create_business(
    session: Session,
    *,
    name: str,
    number: str | None,
    timezone: str,
    owner_email: str,
    owner_password: str,
    review_url: str | None = None,
    messaging_service_sid: str | None = None,
    now: datetime | None = None,
    password_method: str = PASSWORD_METHOD,
) -> tuple[Business, str]:
    """Create a business with its owner and a first API key. Commits; returns (business, key)."""
    name = (name or "").strip()
    if not name or len(name) > 120:
        raise InvalidSetting("name", "a business name of 1 to 120 characters is required")
    if not number and not messaging_service_sid:
        raise InvalidSetting("number", "a sending number or Messaging Service SID is required")
    if number:
        try:
            number = normalize(number)
        except InvalidPhone as exc:
            raise InvalidSetting("number", str(exc)) from exc
        if session.exec(select(Business).where(Business.number == number)).first():
            raise InvalidSetting("number", f"{number} already belongs to a business")
    if messaging_service_sid and not (
        messaging_service_sid.startswith("MG") and len(messaging_service_sid) == 34
    ):
        raise InvalidSetting("messaging_service_sid", "a Messaging Service SID is MG + 32 hex")
    validate_timezone(timezone)
    email = (owner_email or "").strip().lower()
    if "@" not in email or len(email) > 254:
        raise InvalidSetting("owner_email", "a valid email address is required")
    if session.exec(select(User).where(User.email == email)).first():
        raise InvalidSetting("owner_email", f"{email} already has an account")
    if len(owner_password or "") < 10:
        raise InvalidSetting("owner_password", "use at least 10 characters")
    business = Business(
        name=name,
        number=number or None,
        messaging_service_sid=messaging_service_sid or None,
        timezone=timezone,
        review_url=review_url or None,
    )
    if now is not None:
        business.created_at = now
    session.add(business)
    session.flush()
    session.add(
        User(
            business_id=business.id,
            email=email,
            password_hash=generate_password_hash(owner_password, method=password_method),
            role="owner",
        )
    )
    key = issue_api_key(session, business, label="created with the business", now=now)
    session.commit()
    return business, key


# Care settings: name -> (lowest, highest) for whole numbers.
CARE_NUMBERS = {
    "thank_you_delay_minutes": (0, 1440),
    "review_reminder_days": (1, 30),
    "review_cooldown_days": (0, 3650),
    "unanswered_alert_minutes": (5, 1440),
}
CARE_SWITCHES = ("after_hours_reply", "missed_call_textback")
REVIEW_MODES = ("direct", "ask_first")
RATING_SCALES = (5, 10)


def update_care_settings(session: Session, business: Business, values: dict) -> None:
    """Check the care settings from a form (text values), then save all or none. Commits.

    Switches missing from `values` are off, as an unticked checkbox sends nothing.
    """
    mode = values.get("review_mode", business.review_mode)
    if mode not in REVIEW_MODES:
        raise InvalidSetting("review_mode", "Choose how to ask for reviews.")
    try:
        scale = int(values.get("rating_scale", business.rating_scale))
    except (TypeError, ValueError):
        scale = 0
    if scale not in RATING_SCALES:
        raise InvalidSetting("rating_scale", "The question is 1 to 5 or 0 to 10.")
    numbers = {}
    for name, (low, high) in CARE_NUMBERS.items():
        raw = str(values.get(name, getattr(business, name))).strip()
        if not raw.isdigit() or not low <= int(raw) <= high:
            raise InvalidSetting(name, f"Enter a whole number from {low} to {high}.")
        numbers[name] = int(raw)
    business.review_mode, business.rating_scale = mode, scale
    for name, number in numbers.items():
        setattr(business, name, number)
    for name in CARE_SWITCHES:
        setattr(business, name, values.get(name) in ("on", "true", "1", True))
    session.add(business)
    session.commit()
