"""Recording a visit, and the follow-ups it plans. Nothing here commits: the request, the
import or the command that recorded it does, so a visit and its plan land together or not
at all."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from app.care import referrals
from app.care.automations import plan_after_visit
from app.care.customers import (
    find_or_create,
    give_code,
    record_marketing_answer,
    set_consent,
)
from app.care.facts import refresh_facts
from app.care.outbound import cancel_pending
from app.care.staff import staff_for_visit
from app.contract.commands import VisitCreate
from app.contract.rules import cents
from app.models import Business, Customer, Message, Visit, VisitStatus

BOOKED_SKIP = "a booked visit: its thank-you and review request follow the visit itself"


@dataclass
class RecordedVisit:
    visit: Visit
    customer: Customer
    planned: list[Message]
    skipped: list[str]  # why a follow-up was not planned, in words


def record_visit(
    session: Session,
    business: Business,
    command: VisitCreate,
    *,
    now: datetime,
    source: str = "api",
    base_url: str = "",
) -> RecordedVisit:
    """Record a visit and plan its follow-ups. `source` is the door (api, web, import);
    `base_url` is the app's public origin, for the tracked review link."""
    customer, _ = find_or_create(session, business, command.phone, name=command.name, now=now)
    give_code(session, customer)  # (they may have reached us by text first, without one)
    name = command.name
    if name and customer.name and customer.first_name.lower() == name.lower():
        name = ""  # "Maria" typed for Maria Lopez: keep the full name on file
    if name and customer.name != name:
        customer.name = name
    if command.consent:
        set_consent(session, customer, "granted", source=command.consent_source or source,
                    now=now, detail="recorded with a visit")  # fmt: skip
    record_marketing_answer(session, customer, command.marketing_consent or None,
                            source=command.consent_source or source, now=now,
                            detail="recorded with a visit")  # fmt: skip
    visit = Visit(
        business_id=business.id,
        customer_id=customer.id,
        occurred_at=command.occurred_at or now,
        # "ana" typed anywhere is the list's Ana; a new name joins the list
        staff=staff_for_visit(session, business, command.staff, now=now),
        amount_cents=cents(command.amount),
        status=VisitStatus.BOOKED if command.booked else VisitStatus.COMPLETED,
        source=source,
        created_at=now,
    )
    session.add(visit)
    session.add(customer)
    session.flush()
    refresh_facts(session, business, customer)
    if command.booked:  # the follow-ups wait for the visit itself
        return RecordedVisit(visit, customer, [], [BOOKED_SKIP])
    plan = plan_after_visit(session, business, customer, visit, now=now, base_url=base_url)
    if customer.referred_by is not None:
        referrals.friend_visited(session, business, customer, visit, now=now, base_url=base_url)
    return RecordedVisit(visit, customer, plan.planned, plan.skipped)


def cancel_visit(session: Session, visit: Visit, *, now: datetime) -> int:
    """A cancelled or refunded visit (or booking): its pending follow-ups are canceled and
    the customer's facts counted without it."""
    visit.status = VisitStatus.CANCELED
    session.add(visit)
    business = session.get(Business, visit.business_id)
    customer = session.get(Customer, visit.customer_id)
    if business is not None and customer is not None:
        refresh_facts(session, business, customer)
    return cancel_pending(session, visit_id=visit.id, reason="the visit was cancelled")


def planned_for(session: Session, visit_id: int) -> list[Message]:
    return list(
        session.exec(
            select(Message).where(col(Message.visit_id) == visit_id).order_by(col(Message.id))
        )
    )
