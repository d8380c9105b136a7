"""Delivery status callbacks: late, repeated, out of order; state only ever moves forward."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.care import states
from app.care.customers import set_consent
from app.care.optouts import remember
from app.care.outbound import TO_OWNER
from app.models import Customer, Message, StatusCallback
from app.sms.errors import Action, classify
from app.sms.webhooks import StatusReport


def flag_customer_for_error(
    session: Session, customer: Customer, code: int | None, now, *, number: str | None = None
) -> bool:
    """What a permanent provider error on a text to `number` (the customer's phone unless
    given) says about the customer (opted out, bad number). An opt-out is the number's; a
    text that went to a number the customer no longer has says nothing about them. True when
    the customer was flagged."""
    action = classify(code).action if code is not None else None
    number = number or customer.phone
    if action is Action.OPTED_OUT and number != customer.phone:
        remember(session, customer.business_id, number, source="carrier", now=now)
    if number != customer.phone:
        return False
    if action is Action.OPTED_OUT:
        set_consent(session, customer, "opted_out", source="carrier", now=now, detail=str(code))
    elif action is Action.BAD_NUMBER:
        customer.number_status = "invalid"
        session.add(customer)
    elif action is Action.LANDLINE:
        customer.number_status = "landline"
        session.add(customer)
    else:
        return False
    return True


def apply_status_callback(
    session: Session, report: StatusReport, *, now: datetime
) -> StatusCallback:
    """Log the report, then apply it to its message if it moves it forward. Not committed:
    the caller's unit of work (the webhook, the worker's job) commits."""
    sid, status, code, message_id = (
        report.provider_sid, report.status, report.error_code, report.message_id
    )  # fmt: skip
    message = None
    if sid:
        message = session.exec(
            select(Message).where(col(Message.provider_sid) == sid).with_for_update()
        ).first()
    if message is None and message_id is not None:
        # Our own id rides in the callback URL: it matches a text whose send we never heard
        # back from (a timeout after the request went out).
        candidate = session.get(Message, message_id, with_for_update=True)
        if candidate is not None and candidate.provider_sid is None and sid:
            candidate.provider_sid = sid
            message = candidate
    log = StatusCallback(
        message_id=message.id if message else None,
        provider_sid=sid,
        status=status,
        error_code=code,
        payload=dict(report.payload),
        received_at=now,
    )
    if message is not None:
        log.applied = states.report(message, status, now=now, error_code=code)
        session.add(message)
        # A failed alert is about the owner's alert phone (app.care.alert_phone shows it),
        # never about the customer it concerns.
        if (
            log.applied
            and code is not None
            and message.status in states.FAILURES
            and message.kind not in TO_OWNER
        ):
            customer = session.get(Customer, message.customer_id)
            if customer is not None:
                flag_customer_for_error(session, customer, code, now, number=message.to_number)
    session.add(log)
    return log
