"""Whether the owner's alert phone can be reached: an alert's fate stays with the alert.

A failed alert says something about the alert phone, never about the customer it is about
(app.care.status and the dispatcher leave that customer alone). The owner is told instead,
for as long as the latest alert to the current alert phone that reached an end failed (or
the phone has opted out of the business's texts): a new alert phone, or an alert delivered
again, ends it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlmodel import Session, col, select

from app.care.optouts import is_opted_out
from app.models import Business, Message, MessageKind, MessageStatus

SETTLED = (MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.UNDELIVERED)
# What a provider error code says about the alert phone, in the owner's words.
WHY = {
    21610: "it has opted out of texts from your business number (text START from it to undo)",
    21211: "it is not a valid phone number",
    21614: "it cannot receive texts",
    30003: "it was switched off or out of reach",
    30004: "texts to it are blocked",
    30005: "the carrier does not know it",
    30006: "it is a landline, or its carrier cannot take texts",
    30007: "the carrier filtered the alert as spam",
}


@dataclass(frozen=True)
class AlertPhoneProblem:
    phone: str
    why: str  # in words: "it is a landline, or its carrier cannot take texts"
    error_code: int | None


def alert_phone_problem(session: Session, business: Business) -> AlertPhoneProblem | None:
    """Why the alert phone cannot be reached (it texted STOP to the business number, or the
    last alert to it that settled failed), or None. Two indexed reads."""
    if not business.alert_phone:
        return None
    if is_opted_out(session, business.id, business.alert_phone):  # alerts to it are canceled
        return AlertPhoneProblem(business.alert_phone, WHY[21610], 21610)
    last = session.exec(
        select(col(Message.status), col(Message.error_code), col(Message.error_message))
        .where(
            col(Message.to_number) == business.alert_phone,
            col(Message.business_id) == business.id,
            col(Message.kind) == MessageKind.ALERT,
            col(Message.status).in_(SETTLED),
        )
        .order_by(col(Message.id).desc())
        .limit(1)
    ).first()
    if last is None:
        return None
    status, code, words = last
    if status == MessageStatus.DELIVERED:
        return None
    why = WHY.get(code) if code is not None else None
    if why is None:
        why = (words or "the last alert was not delivered").rstrip(".")
    return AlertPhoneProblem(business.alert_phone, why, code)
