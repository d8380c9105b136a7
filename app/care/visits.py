"""Recording a visit, and the follow-ups it plans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, select

from app.care.automations import plan_after_visit
from app.care.customers import find_or_create, set_consent
from app.care.outbound import cancel_pending
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
    base_url: str = "",
) -> RecordedVisit:
    """Record a visit and plan its follow-ups. Commits. `base_url` is the app's public origin,
    for the tracked review link."""
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
    if customer.last_visit_at is None or visit.occurred_at > customer.last_visit_at:
        customer.last_visit_at = visit.occurred_at
        session.add(customer)
    plan = plan_after_visit(session, business, customer, visit, now=now, base_url=base_url)
    planned, skipped = plan.planned, plan.skipped
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
