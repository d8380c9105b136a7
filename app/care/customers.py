"""Customers and their consent: every change of consent is recorded as an event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from app.models import Business, ConsentEvent, Customer
from app.phones import normalize

CONSENT_STATES = ("granted", "unknown", "opted_out")
MAX_NAME = 120
MAX_TAGS = 20


def parse_tags(text: str) -> list[str]:
    """Tags from "vip; color, Tuesday" -> ["color", "tuesday", "vip"]: lower case, no repeats."""
    parts = text.replace(";", ",").split(",")
    return sorted({" ".join(p.split()).lower()[:40] for p in parts if p.strip()})


def find_customer(session: Session, business_id: int, phone: str) -> Customer | None:
    return session.exec(
        select(Customer).where(Customer.business_id == business_id, Customer.phone == phone)
    ).first()


def get_customer(session: Session, business_id: int, customer_id: int) -> Customer | None:
    """A customer of this business, or None: another business's id finds nothing."""
    customer = session.get(Customer, customer_id)
    return customer if customer and customer.business_id == business_id else None


def find_or_create(
    session: Session, business: Business, phone: str, *, name: str = "", now: datetime
) -> tuple[Customer, bool]:
    """The customer with this E.164 number, created if new. Returns (customer, created)."""
    phone = normalize(phone)
    customer = find_customer(session, business.id, phone)
    if customer is not None:
        if name and not customer.name:
            customer.name = name[:MAX_NAME]
            session.add(customer)
        return customer, False
    customer = Customer(
        business_id=business.id, phone=phone, name=(name or "")[:MAX_NAME], created_at=now
    )
    try:
        with session.begin_nested():
            session.add(customer)
            session.flush()
    except IntegrityError:
        # Another request created the same customer a moment ago.
        existing = find_customer(session, business.id, phone)
        if existing is None:
            raise
        return existing, False
    return customer, True


def set_consent(
    session: Session,
    customer: Customer,
    consent: str,
    *,
    source: str,
    now: datetime,
    detail: str = "",
    by_customer: bool = False,
) -> bool:
    """Move the customer's consent and record the event; returns False when nothing changed.

    An opt-out is never undone by an import, the API or the owner, whatever source they name:
    only the customer's own START (`by_customer`, from the inbound path) brings them back.
    """
    if consent not in CONSENT_STATES:
        raise ValueError(f"unknown consent state {consent!r}")
    if customer.consent == consent:
        return False
    if customer.consent == "opted_out" and not by_customer:
        return False
    customer.consent = consent
    customer.consent_source = source
    customer.consent_at = now
    if consent == "opted_out":
        customer.opted_out_at = now
    session.add(customer)
    session.add(
        ConsentEvent(
            business_id=customer.business_id,
            customer_id=customer.id,
            consent=consent,
            source=source,
            detail=detail[:200],
            created_at=now,
        )
    )
    return True
