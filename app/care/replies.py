"""Saved replies: answers the owner's team writes once and picks in the composer. Every
query is scoped to the business; nothing here commits (the request does)."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, col, select

from app.contract.commands import SavedReplySave
from app.errors import Invalid, NotFound
from app.models import Business, SavedReply

MAX_REPLIES = 50  # a picker longer than this is no help on a phone


def saved_replies(session: Session, business_id: int) -> list[SavedReply]:
    query = select(SavedReply).where(col(SavedReply.business_id) == business_id)
    return list(session.exec(query.order_by(col(SavedReply.title), col(SavedReply.id))))


def add_reply(session: Session, business: Business, command: SavedReplySave, *, now: datetime):
    """Save a new reply; refuses a 51st (Invalid) rather than growing the picker forever."""
    if len(saved_replies(session, business.id)) >= MAX_REPLIES:
        raise Invalid("title", f"You have {MAX_REPLIES} saved replies: remove one first.")
    reply = SavedReply(business_id=business.id, title=command.title, body=command.body,
                       created_at=now)  # fmt: skip
    session.add(reply)
    session.flush()
    return reply


def remove_reply(session: Session, business: Business, reply_id: int) -> None:
    """Delete one of this business's saved replies (another business's id is not found)."""
    reply = session.get(SavedReply, reply_id)
    if reply is None or reply.business_id != business.id:
        raise NotFound("No such saved reply.")
    session.delete(reply)
