"""Customers and their consent: every change of consent is recorded as an event. Nothing here
commits: the request or job that called it does."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from app.care import optouts
from app.care.outbound import TO_OWNER, cancel_pending
from app.contract import parse
from app.contract.commands import CONSENT_STATES, CustomerEdit, CustomerUpsert
from app.contract.rules import MAX_NAME
from app.db import add_unless_taken
from app.errors import Invalid
from app.models import (
    Business,
    ConsentEvent,
    Customer,
    Message,
    MessageStatus,
    User,
    new_referral_code,
)
from app.phones import home_region, normalize


def find_customer(session: Session, business_id: int, phone: str) -> Customer | None:
    return session.exec(
        select(Customer).where(
            col(Customer.business_id) == business_id, col(Customer.phone) == phone
        )
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
    customer = Customer(business_id=business.id, phone=phone, name=(name or "")[:MAX_NAME],
                        referral_code=free_code(session), created_at=now)  # fmt: skip
    customer, created = add_unless_taken(
        session, customer, lambda: find_customer(session, business.id, phone)
    )
    if created:
        follow_number(session, customer, now=now)
    return customer, created


def free_code(session: Session) -> str:
    """A referral code no customer has (codes are unique everywhere: /r/<code> names the
    business too). A draw is almost never taken; the unique index is the last word."""
    for _ in range(20):
        code = new_referral_code()
        taken = session.exec(select(Customer.id).where(col(Customer.referral_code) == code)).first()
        if taken is None:
            return code
    raise RuntimeError("no free referral code in 20 draws")


def give_code(session: Session, customer: Customer) -> str:
    """The customer's referral code, given now if they have none (a row the inbound webhook
    made, or one from before codes)."""
    if not customer.referral_code:
        customer.referral_code = free_code(session)
        session.add(customer)
    return customer.referral_code


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
    Either way the number is marked too (app.care.optouts), even when the row already was.
    """
    if consent not in CONSENT_STATES:
        raise ValueError(f"unknown consent state {consent!r}")
    if consent == "opted_out":
        optouts.remember(session, customer.business_id, customer.phone, source=source, now=now)
        # STOP ends both consents: no offer either, until the customer says otherwise.
        set_marketing_consent(session, customer, "opted_out", source=source, now=now,
                              detail=f"was {customer.marketing_consent}")  # fmt: skip
    elif consent == "granted" and by_customer:
        optouts.forget(session, customer.business_id, customer.phone)
    if customer.consent == consent:
        return False
    if customer.consent == "opted_out" and not by_customer:
        return False
    if customer.consent == "opted_out":
        # START brings back what they had before STOP, never more: offers only if they had
        # agreed to them in writing before.
        before = _marketing_before_opt_out(session, customer)
        if customer.marketing_consent == "opted_out":
            _move_marketing(session, customer, before, source=source, now=now,
                            detail="as before they opted out")  # fmt: skip
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


def set_marketing_consent(
    session: Session,
    customer: Customer,
    consent: str,
    *,
    source: str,
    now: datetime,
    detail: str = "",
    by_customer: bool = False,
) -> bool:
    """Move the customer's consent to promotional texts (offers, rewards) and record the
    event (kind `marketing`); returns False when nothing changed. Like the other consent, an
    opt-out is undone only by the customer (`by_customer`), and nobody who opted out of texts
    can be given marketing consent."""
    if consent not in CONSENT_STATES:
        raise ValueError(f"unknown consent state {consent!r}")
    if customer.marketing_consent == consent:
        return False
    if consent == "granted" and customer.consent == "opted_out":
        return False
    if customer.marketing_consent == "opted_out" and consent != "opted_out" and not by_customer:
        return False
    _move_marketing(session, customer, consent, source=source, now=now, detail=detail)
    return True


def record_marketing_answer(
    session: Session, customer: Customer, answer: bool | None, *, source: str, now: datetime,
    withdraw: bool = True, detail: str = "",
) -> bool:  # fmt: skip
    """A door's `marketing_consent` answer: true records the consent, false withdraws a
    consent given (`withdraw`; a CSV's empty cell never does), None changes nothing."""
    if answer is True:
        return set_marketing_consent(session, customer, "granted", source=source, now=now,
                                     detail=detail)  # fmt: skip
    if answer is False and withdraw and customer.marketing_consent == "granted":
        return set_marketing_consent(session, customer, "unknown", source=source, now=now,
                                     detail="withdrawn")  # fmt: skip
    return False


def _move_marketing(session, customer, consent, *, source, now, detail) -> None:
    customer.marketing_consent = consent
    customer.marketing_consent_source = source[:40]
    customer.marketing_consent_at = now
    session.add(customer)
    session.add(
        ConsentEvent(business_id=customer.business_id, customer_id=customer.id,
                     kind="marketing", consent=consent, source=source[:40],
                     detail=detail[:200], created_at=now)
    )  # fmt: skip


def _marketing_before_opt_out(session: Session, customer: Customer) -> str:
    """What marketing consent the customer had when they last opted out (recorded then)."""
    last = session.exec(
        select(ConsentEvent.detail)
        .where(col(ConsentEvent.customer_id) == customer.id,
               col(ConsentEvent.kind) == "marketing", col(ConsentEvent.consent) == "opted_out")
        .order_by(col(ConsentEvent.id).desc())
    ).first()  # fmt: skip
    return "granted" if last == "was granted" else "unknown"


def follow_number(session: Session, customer: Customer, *, now: datetime) -> bool:
    """A row that takes a number which opted out (created again, or given it by an edit) is
    opted out too, and its pending texts are canceled: the opt-out is the number's. Returns
    True when the row was changed."""
    if customer.consent == "opted_out":
        return False
    if not optouts.is_opted_out(session, customer.business_id, customer.phone):
        return False
    set_consent(session, customer, "opted_out", source="number", now=now,
                detail="this number opted out before")  # fmt: skip
    cancel_pending(session, customer_id=customer.id, reason="the number opted out")
    return True


def upsert_customer(
    session: Session, business: Business, command: CustomerUpsert, *, now: datetime,
    source: str = "api",
) -> tuple[Customer, bool]:  # fmt: skip
    """Create the customer with this phone or update the one there is; returns (customer,
    created). Consent given is recorded; `consent: false` withdraws a consent, never an
    opt-out (only the customer's START undoes that)."""
    customer, created = find_or_create(session, business, command.phone, now=now)
    give_code(session, customer)
    given = command.model_fields_set
    if command.name is not None:
        customer.name = command.name
    if "email" in given:
        customer.email = command.email
    if "birthday" in given:
        customer.birthday = command.birthday
    if command.tags is not None and source == "import":
        customer.tags = sorted(set(customer.tags or []) | set(command.tags))  # a file adds tags
    elif command.tags is not None:
        customer.tags = command.tags
    how = command.consent_source or source
    if command.consent is True:
        set_consent(session, customer, "granted", source=how, now=now)
    elif command.consent is False and customer.consent == "granted" and source != "import":
        set_consent(session, customer, "unknown", source=how, now=now, detail="withdrawn")
    record_marketing_answer(session, customer, command.marketing_consent, source=how, now=now,
                            withdraw=source != "import")  # fmt: skip
    session.add(customer)
    return customer, created


def save_customer(
    session: Session,
    business: Business,
    customer: Customer | None,
    values: Mapping[str, Any],
    *,
    by: User,
    now: datetime,
) -> Customer:
    """Add a customer (`customer` None) or change one from the owner's form (a
    `CustomerEdit`). Raises Invalid with every field's problem at once and changes nothing,
    or saves everything. Consent moves are recorded as events; an opt-out stays until the
    customer texts START."""
    errors: dict[str, str] = {}
    edit = None
    try:
        edit = parse(CustomerEdit, values, region=home_region(business.number))
    except Invalid as exc:
        errors = dict(exc.errors)
    phone = edit.phone if edit else None
    if phone is None and "phone" not in errors:
        phone = normalize(str(values.get("phone")), home_region(business.number))
    other = find_customer(session, business.id, phone) if phone else None
    if other is not None and (customer is None or other.id != customer.id):
        errors["phone"] = f"{phone} is already a customer: {other.name or 'no name'}."
    wanted = edit.consent if edit else None
    if (
        customer is not None
        and customer.consent == "opted_out"
        and wanted not in (None, "opted_out")
    ):
        errors["consent"] = "They opted out: only they can opt back in, by texting START."
    elif wanted == "granted" and phone and optouts.is_opted_out(session, business.id, phone):
        errors["consent"] = (f"{phone} texted STOP: only they can opt back in, by texting "
                             "START.")  # fmt: skip
    if errors or edit is None:
        raise Invalid.many(errors)
    if customer is None:
        customer = Customer(business_id=business.id, phone=edit.phone,
                            referral_code=free_code(session), created_at=now)  # fmt: skip
        try:
            with session.begin_nested():
                session.add(customer)
                session.flush()
        except IntegrityError as exc:  # added by someone else a moment ago
            raise Invalid("phone", f"{edit.phone} is already a customer.") from exc
    give_code(session, customer)
    moved = customer.phone != edit.phone
    customer.phone, customer.name, customer.email = edit.phone, edit.name, edit.email
    customer.tags, customer.notes = edit.tags, edit.notes
    customer.birthday = edit.birthday
    if moved:
        # Texts waiting for them go to the corrected number, checked against it when they go.
        session.execute(
            update(Message)
            .where(
                col(Message.customer_id) == customer.id,
                col(Message.status) == MessageStatus.SCHEDULED,
                col(Message.kind).not_in(TO_OWNER),
            )
            .values(to_number=edit.phone)
        )
    follow_number(session, customer, now=now)
    who = f"by {by.name or by.email}"[:200]
    source = edit.consent_source or "owner"
    if edit.consent != customer.consent:
        detail = {"granted": who, "unknown": f"withdrawn, recorded {who}"}.get(
            edit.consent, f"recorded {who}"
        )
        set_consent(session, customer, edit.consent, source=source, now=now, detail=detail)
        if edit.consent == "opted_out":
            cancel_pending(session, customer_id=customer.id, reason="the customer opted out")
    record_marketing_answer(session, customer, edit.marketing_consent, source=source, now=now,
                            detail=who)  # fmt: skip
    session.add(customer)
    return customer


def existing_phones(session: Session, business_id: int, phones: list[str]) -> set[str]:
    """Which of these numbers are customers already (for an import's preview)."""
    found: set[str] = set()
    for start in range(0, len(phones), 500):
        chunk = phones[start : start + 500]
        found.update(
            session.exec(
                select(col(Customer.phone)).where(
                    col(Customer.business_id) == business_id, col(Customer.phone).in_(chunk)
                )
            ).all()
        )
    return found


EXPORT_COLUMNS = tuple(col(column) for column in (
    Customer.id, Customer.phone, Customer.name, Customer.email, Customer.tags, Customer.consent,
    Customer.marketing_consent,
    Customer.consent_source, Customer.consent_at, Customer.opted_out_at, Customer.created_at,
    Customer.notes, Customer.birthday, Customer.visit_count, Customer.first_visit_at,
    Customer.last_visit_at, Customer.usual_gap_days, Customer.total_spent_cents,
    Customer.favourite_staff, Customer.overdue_at, Customer.booked_until,
))  # fmt: skip


def export_rows(session: Session, business_id: int, *, batch: int = 1000):
    """Every customer of the business as rows of EXPORT_COLUMNS, in batches by id. Each batch
    is its own short read, so a long export never holds up the texts being stored."""
    after = 0
    while True:
        query = sa.select(*EXPORT_COLUMNS).where(
            col(Customer.business_id) == business_id, col(Customer.id) > after
        )
        rows = session.execute(query.order_by(col(Customer.id)).limit(batch)).all()
        session.rollback()  # end the read: on SQLite it would hold the write lock
        if not rows:
            return
        yield from rows
        after = rows[-1][0]  # EXPORT_COLUMNS begin with the id
