"""Recording a visit, and the follow-ups it plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlmodel import Session, select

from app.care import texts
from app.care.customers import find_or_create, set_consent
from app.care.outbound import OutboundRefused, cancel_pending, queue_text
from app.models import Business, Customer, Message, Visit

MAX_STAFF = 80


@dataclass
class RecordedVisit:
    visit: Visit
    customer: Customer
    planned: list[Message]
    skipped: list[str]  # why a follow-up was not planned, in words


def record_visit(
    session: Session,
    business: Business,
    *,
    phone: str,
    now: datetime,
    name: str = "",
    consent: bool | None = None,
    consent_source: str = "api",
    occurred_at: datetime | None = None,
    staff: str | None = None,
    amount_cents: int | None = None,
    source: str = "api",
) -> RecordedVisit:
    """Record a visit and plan its thank-you. Commits."""
    customer, _ = find_or_create(session, business, phone, name=name, now=now)
    if name and customer.name != name:
        customer.name = name[:120]
    if consent:
        set_consent(session, customer, "granted", source=consent_source or source, now=now,
                    detail="recorded with a visit")  # fmt: skip
    visit = Visit(
        business_id=business.id,
        customer_id=customer.id,
        occurred_at=occurred_at or now,
        staff=(staff or None) and staff[:MAX_STAFF],
        amount_cents=amount_cents,
        source=source,
        created_at=now,
    )
    session.add(visit)
    session.add(customer)
    session.flush()
    planned, skipped = [], []
    base = max(visit.occurred_at, now - timedelta(days=1))
    send_at = base + timedelta(minutes=business.thank_you_delay_minutes)
    body = texts.render(
        "thank_you",
        first_name=customer.first_name,
        business_name=business.name,
        staff_name=visit.staff or "",
    )
    if visit.occurred_at < now - timedelta(days=2):
        skipped.append("thank_you: the visit was more than two days ago")
    else:
        try:
            planned.append(
                queue_text(
                    session,
                    business,
                    customer,
                    body,
                    "thank_you",
                    now=now,
                    cause="visit",
                    send_at=send_at,
                    visit_id=visit.id,
                )  # fmt: skip
            )
        except OutboundRefused as refused:
            skipped.append(f"thank_you: {refused.message}")
    session.commit()
    return RecordedVisit(visit, customer, planned, skipped)


def cancel_visit(session: Session, visit: Visit, *, now: datetime) -> int:
    """A cancelled or refunded visit: its pending follow-ups are canceled. Commits."""
    visit.status = "canceled"
    session.add(visit)
    count = cancel_pending(session, visit_id=visit.id, reason="the visit was cancelled")
    session.commit()
    return count


def planned_for(session: Session, visit_id: int) -> list[Message]:
    return list(
        session.exec(select(Message).where(Message.visit_id == visit_id).order_by(Message.id))
    )
