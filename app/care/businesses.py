"""Businesses, their owners, and API keys (stored only as hashes).

Every door (the CLI, the API's PATCH, the owner's settings forms) builds a
`BusinessCreate` or `BusinessChanges` command; the rules they share live in app.contract.
Nothing here commits: the request or command that called it does.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from pydantic_core import PydanticCustomError
from sqlmodel import Session, col, delete, select
from werkzeug.security import generate_password_hash

from app.care.facts import OVERDUE_SETTINGS, refresh_overdue
from app.contract import parse
from app.contract.commands import BusinessChanges, BusinessCreate
from app.contract.rules import check_window
from app.errors import Invalid, Refused
from app.models import WEEKDAYS, ApiKey, Business, ServiceNumber, User
from app.sms.numbers import SenderCheckFailed, SenderDirectory

KEY_PREFIX = "rk_"
PASSWORD_METHOD = "scrypt"  # werkzeug's default: memory-hard


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
        select(ApiKey).where(
            col(ApiKey.key_hash) == hash_key(raw), col(ApiKey.revoked_at).is_(None)
        )
    ).first()
    return session.get(Business, key.business_id) if key else None


def check_sender_free(
    session: Session, *, number: str | None, service_sid: str | None, business_id: int | None
) -> None:
    """A sending number and a Messaging Service SID each belong to at most one business,
    checked across both: a number inside another business's service is theirs too."""
    others = select(col(Business.id)) if business_id is None else (
        select(col(Business.id)).where(col(Business.id) != business_id)
    )  # fmt: skip
    taken = number and (
        session.exec(others.where(col(Business.number) == number)).first() is not None
        or session.exec(
            select(col(ServiceNumber.business_id)).where(
                col(ServiceNumber.number) == number,
                col(ServiceNumber.business_id) != (business_id or 0),
            )
        ).first() is not None
    )  # fmt: skip
    if taken:
        raise Refused("conflict", f"{number} belongs to another business.", field="number")
    if service_sid and session.exec(
        others.where(col(Business.messaging_service_sid) == service_sid)
    ).first() is not None:  # fmt: skip
        raise Refused("conflict", "That Messaging Service belongs to another business.",
                      field="messaging_service_sid")  # fmt: skip


def check_sender_owned(
    session: Session,
    senders: SenderDirectory | None,
    *,
    number: str | None,
    service_sid: str | None,
    business_id: int | None,
) -> list[str] | None:
    """The provider account holds this number and service; no number of the service is
    another business's. Returns the service's numbers (None when no service is given)."""
    if senders is None:
        return None
    try:
        if number and not senders.owns_number(number):
            raise Refused("not_your_number", f"{number} is not a number of this Twilio "
                          "account.", status=422, field="number")  # fmt: skip
        inside = senders.service_numbers(service_sid) if service_sid else None
    except SenderCheckFailed as exc:
        raise Refused("provider_unavailable", f"Could not check with Twilio: {exc}. Try "
                      "again in a minute.", status=503, field="number") from exc  # fmt: skip
    if service_sid and inside is None:
        raise Refused("not_your_service", "That Messaging Service is not in this Twilio "
                      "account.", status=422, field="messaging_service_sid")  # fmt: skip
    for member in inside or ():
        owner = session.exec(select(col(Business.id)).where(col(Business.number) == member)).first()
        if owner is not None and owner != business_id:
            raise Refused("conflict", f"That Messaging Service holds {member}, which belongs "
                          "to another business.", field="messaging_service_sid")  # fmt: skip
    return inside


def _remember_service(session: Session, business: Business, numbers: list[str] | None) -> None:
    session.exec(delete(ServiceNumber).where(col(ServiceNumber.business_id) == business.id))
    for member in dict.fromkeys(numbers or ()):
        sid = business.messaging_service_sid or ""
        session.add(ServiceNumber(number=member, business_id=business.id,
                                  messaging_service_sid=sid))  # fmt: skip


def open_business(
    session: Session,
    command: BusinessCreate,
    *,
    now: datetime | None = None,
    password_method: str = PASSWORD_METHOD,
    senders: SenderDirectory | None = None,
) -> tuple[Business, str]:
    """Create a business with its owner and a first API key; returns (business, key).
    With `senders`, the number and service must be the provider account's."""
    check_sender_free(session, number=command.number, service_sid=command.messaging_service_sid,
                      business_id=None)  # fmt: skip
    inside = check_sender_owned(
        session, senders, number=command.number, service_sid=command.messaging_service_sid,
        business_id=None,
    )  # fmt: skip
    if session.exec(select(col(User.id)).where(col(User.email) == command.owner_email)).first():
        raise Refused("conflict", f"{command.owner_email} already has an account.",
                      field="owner_email")  # fmt: skip
    business = Business(
        name=command.name,
        number=command.number,
        messaging_service_sid=command.messaging_service_sid,
        timezone=command.timezone,
        review_url=command.review_url,
        alert_phone=command.alert_phone,
    )
    if now is not None:
        business.created_at = now
    session.add(business)
    session.flush()
    if command.messaging_service_sid:
        _remember_service(session, business, inside)
    session.add(
        User(
            business_id=business.id,
            email=command.owner_email,
            password_hash=generate_password_hash(command.owner_password, method=password_method),
            role="owner",
        )
    )
    key = issue_api_key(session, business, label="created with the business", now=now)
    session.flush()
    return business, key


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
    alert_phone: str | None = None,
    now: datetime | None = None,
    password_method: str = PASSWORD_METHOD,
    senders: SenderDirectory | None = None,
) -> tuple[Business, str]:
    """`open_business` from plain values (the CLI's arguments). Raises Invalid."""
    command = parse(
        BusinessCreate,
        {"name": name, "number": number, "timezone": timezone, "owner_email": owner_email,
         "owner_password": owner_password, "review_url": review_url,
         "messaging_service_sid": messaging_service_sid, "alert_phone": alert_phone},
    )  # fmt: skip
    return open_business(session, command, now=now, password_method=password_method,
                         senders=senders)  # fmt: skip


def change_business(
    session: Session,
    business: Business,
    changes: BusinessChanges,
    *,
    senders: SenderDirectory | None = None,
    may_change_sender: bool = True,
) -> Business:
    """Apply the fields the command carries, all or none. Raises Invalid or Refused.

    A new sending number or Messaging Service is refused unless `may_change_sender` (the
    operator's door, or a host that lets owners), and with `senders` must be the provider
    account's own."""
    given = changes.given()
    hours = _opening_hours(business, given.pop("opening_hours", None))
    holidays = given.pop("holidays", None)
    for name in ("number", "messaging_service_sid"):
        if name in given and given[name] == getattr(business, name):
            del given[name]  # unchanged: a form sends every field
    number = given.get("number", business.number)
    service_sid = given.get("messaging_service_sid", business.messaging_service_sid)
    moving = "number" in given or "messaging_service_sid" in given
    if moving and not may_change_sender:
        raise Refused("operator_only", "The sending number is set by whoever runs Regulars "
                      "for you: ask them to change it.", status=403,
                      field="number" if "number" in given else "messaging_service_sid")  # fmt: skip
    if moving and not (number or service_sid):
        raise Invalid("number", "Enter a sending number or a Messaging Service SID.")
    new_number = number if "number" in given else None
    new_service = service_sid if "messaging_service_sid" in given else None
    check_sender_free(session, number=new_number, service_sid=new_service,
                      business_id=business.id)  # fmt: skip
    inside = check_sender_owned(session, senders, number=new_number, service_sid=new_service,
                                business_id=business.id)  # fmt: skip
    window = given.pop("sending_window", None)
    if window is not None:
        business.window_start, business.window_end = _window(business, window)
    for name, value in given.items():
        setattr(business, name, value)
    if hours is not None:
        business.opening_hours = hours
    if holidays is not None:
        business.holidays = [{"date": day.date.isoformat(), "name": day.name} for day in holidays]
    session.add(business)
    if "messaging_service_sid" in given:
        _remember_service(session, business, inside)
    if any(name in given for name in OVERDUE_SETTINGS):
        session.flush()
        refresh_overdue(session, business)  # every customer's overdue moment moves with them
    return business


def _opening_hours(business: Business, change) -> dict | None:
    """The week with the days the change sends replaced; at least one day must be open."""
    if change is None:
        return None
    week = {**business.opening_hours}
    for day, spans in change.given().items():
        week[day] = [span.model_dump() for span in spans]
    if not any(week.get(day) for day in WEEKDAYS):
        raise Invalid("opening_hours", "Open at least one day a week.", code="invalid_hours")
    return week


def _window(business: Business, change) -> tuple[str, str]:
    start = change.start or business.window_start
    end = change.end or business.window_end
    try:
        return check_window(start, end)
    except PydanticCustomError as exc:  # the rule's refusal, said as this field's
        raise Invalid("sending_window", str(exc), code="invalid_window") from exc
