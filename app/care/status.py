"""Delivery status callbacks: late, repeated, out of order; state only ever moves forward."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from sqlmodel import Session, select

from app.care.customers import set_consent
from app.models import TERMINAL_STATES, Customer, Message, StatusCallback
from app.sms.errors import Action, classify

# The provider's word -> our state.
OUR_STATE = {
    "accepted": "sent",
    "scheduled": "sent",
    "queued": "sent",
    "sending": "sent",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "partially_delivered": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "canceled",
}
RANK = {"scheduled": 0, "sending": 1, "sent": 2}  # terminal states rank above all of these
PROVIDER_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "partially_delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4,
    "read": 5,
}  # fmt: skip


FAILED = frozenset({"failed", "undelivered"})
PROVIDER_FINAL = frozenset({"undelivered", "failed", "canceled"})


def _rank(state: str) -> int:
    return 10 if state in TERMINAL_STATES else RANK.get(state, 0)


def advance(message: Message, provider_status: str, now: datetime) -> bool:
    """Move the message forward to what the provider says; never back, never out of a terminal
    state. Returns True when our state changed."""
    provider_status = provider_status.lower()
    known = PROVIDER_RANK.get(message.provider_status or "", -1)
    new = PROVIDER_RANK.get(provider_status, -1)
    settled = message.provider_status in PROVIDER_FINAL
    if not settled and (new > known or (new == known and known < PROVIDER_RANK["delivered"])):
        message.provider_status = provider_status
    target = OUR_STATE.get(provider_status)
    if target is None or message.status in TERMINAL_STATES:
        return False
    if _rank(target) <= _rank(message.status):
        return False
    message.status = target
    if target == "delivered":
        message.delivered_at = now
    if target in {"sent", "delivered"} and message.sent_at is None:
        message.sent_at = now
    return True


def _parse_code(value) -> int | None:
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def flag_customer_for_error(session: Session, customer: Customer, code: int | None, now) -> None:
    """What a permanent provider error says about the customer (opted out, bad number)."""
    action = classify(code).action if code is not None else None
    if action is Action.OPTED_OUT:
        set_consent(session, customer, "opted_out", source="carrier", now=now, detail=str(code))
    elif action is Action.BAD_NUMBER:
        customer.number_status = "invalid"
        session.add(customer)
    elif action is Action.LANDLINE:
        customer.number_status = "landline"
        session.add(customer)


def apply_status_callback(
    session: Session, form: Mapping[str, str], *, now: datetime, message_id: int | None = None
) -> StatusCallback:
    """Log the callback, then apply it to its message if it moves it forward. Commits."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()[:40]
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()[:24]
    code = _parse_code(form.get("ErrorCode"))
    message = None
    if sid:
        message = session.exec(
            select(Message).where(Message.provider_sid == sid).with_for_update()
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
        payload=dict(form.items()),
        received_at=now,
    )
    if message is not None:
        log.applied = advance(message, status, now)
        # A code explains a failure; a late one on a delivered text explains nothing.
        if code is not None and message.error_code is None and message.status in FAILED:
            message.error_code = code
        if message.status == "sent" and message.leased_by is not None:
            message.lease_until = None
            message.leased_by = None
        session.add(message)
        if log.applied and code is not None and message.status in FAILED:
            customer = session.get(Customer, message.customer_id)
            if customer is not None:
                flag_customer_for_error(session, customer, code, now)
    session.add(log)
    session.commit()
    return log
