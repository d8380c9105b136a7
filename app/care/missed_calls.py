"""Missed-call text-back that cannot be pumped.

Anyone can call a business number from any number they like, and each text back costs the
business (a premium-rate or satellite number can cost dollars a text, and the attacker may be
paid for it: "SMS pumping"). So a caller is texted back only when the number is a mobile
(phonenumbers' number type, from its offline metadata: no network call on the webhook) in a
country the business allows, never a non-geographic range (+870, +881, +882, +883, ...), at
most `missed_call_hourly_limit` times an hour per business, and once a day per caller.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import phonenumbers
from phonenumbers import PhoneNumberType
from sqlalchemy import func, literal_column, select
from sqlmodel import Session, col

from app.care.automations import text_back_missed_call
from app.models import Business, Customer, Message, MessageKind
from app.phones import home_region

# NANP numbers (+1) are "fixed line or mobile": the plan does not say which.
MOBILE_TYPES = frozenset({PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE})
# Satellite, international networks, freephone and shared-cost ranges of no country.
NON_GEOGRAPHIC = frozenset(phonenumbers.COUNTRY_CODES_FOR_NON_GEO_REGIONS)
LIMIT_WINDOW = timedelta(hours=1)


def allowed_countries(business: Business) -> frozenset[str]:
    """The ISO countries whose mobiles are texted back: the business's own choice, else the
    country of its own number (the default region when it sends only through a service)."""
    if business.missed_call_countries:
        return frozenset(business.missed_call_countries)
    return frozenset({home_region(business.number)})


def why_not_text(business: Business, caller: str) -> str | None:
    """Why this caller (E.164) must not be texted back, in words; None when they may be."""
    try:
        number = phonenumbers.parse(caller)
    except phonenumbers.NumberParseException:
        return "not a phone number"
    if number.country_code in NON_GEOGRAPHIC:
        return "a satellite or international-network number"
    region = phonenumbers.region_code_for_number(number)
    if region not in allowed_countries(business):
        return f"a number in {region or 'no country'}, outside the countries texted back"
    kind = phonenumbers.number_type(number)
    if kind is PhoneNumberType.PREMIUM_RATE or kind not in MOBILE_TYPES:
        return "not a mobile number"
    return None


def texted_back_lately(session: Session, business_id: int, now: datetime) -> int:
    """Missed-call texts queued for the business in the last hour (a partial index of
    missed-call texts answers it, however many other texts there are)."""
    return session.execute(
        select(func.count(col(Message.id))).where(
            # a literal, so even a prepared statement's generic plan can use the partial index
            col(Message.kind) == literal_column(f"'{MessageKind.MISSED_CALL.value}'"),
            col(Message.business_id) == business_id,
            col(Message.created_at) > now - LIMIT_WINDOW,
        )
    ).scalar_one()


def text_back(
    session: Session, business: Business, customer: Customer, *, now: datetime
) -> Message | None:
    """Queue the text back unless the business's hourly limit is reached. Not committed.

    The business row is locked first (PostgreSQL), so calls arriving together cannot each
    see room for one more; on SQLite the write lock every transaction takes does the same.
    """
    session.get(Business, business.id, with_for_update=True, populate_existing=True)
    if texted_back_lately(session, business.id, now) >= business.missed_call_hourly_limit:
        return None
    return text_back_missed_call(session, business, customer, now=now)
