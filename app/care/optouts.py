"""Opted-out numbers: an opt-out belongs to the phone number that asked (per business), not to
a customer row.

A row's phone can be edited, a row re-created through the API, a CSV import, a visit or a new
text; none of that can bring back a number that texted STOP. Only a START from that number
does (app.care.customers.set_consent with `by_customer`). Nothing here commits.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, col

from app.care import states
from app.models import Message, MessageKind, OptedOutNumber, table_of

# The one text a number that just opted out may still get (when the app confirms itself).
CONFIRMATION = MessageKind.OPT_OUT_CONFIRMATION


def is_opted_out(session: Session, business_id: int, phone: str | None) -> bool:
    """Whether this number has opted out of this business's texts (one primary-key read)."""
    if not phone:
        return False
    found = session.execute(
        select(col(OptedOutNumber.phone)).where(
            col(OptedOutNumber.business_id) == business_id, col(OptedOutNumber.phone) == phone
        )
    ).first()
    return found is not None


def remember(session: Session, business_id: int, phone: str, *, source: str, now: datetime) -> int:
    """Record that the number opted out and cancel every scheduled text to it, whoever it was
    queued for (an alert to an owner's phone, a text queued before a customer's phone was
    edited). Returns how many were canceled. A text a worker already claimed is stopped by
    the worker's own check right before it calls the provider (Dispatcher._attempt)."""
    table = table_of(OptedOutNumber)
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(
        insert(table)
        .values(business_id=business_id, phone=phone, opted_out_at=now, source=source[:40])
        .on_conflict_do_nothing(index_elements=[table.c.business_id, table.c.phone])
    )
    return states.cancel_where(
        session,
        col(Message.business_id) == business_id,
        col(Message.to_number) == phone,
        col(Message.direction) == "outbound",
        col(Message.kind) != CONFIRMATION,
        reason="the number opted out",
    )


def forget(session: Session, business_id: int, phone: str) -> None:
    """The number texted START: it may be texted again."""
    session.execute(
        delete(OptedOutNumber).where(
            col(OptedOutNumber.business_id) == business_id, col(OptedOutNumber.phone) == phone
        )
    )
