"""Tracked short links on the app's own domain: /l/<token> redirects and records the open."""

from __future__ import annotations

import re
import secrets
from datetime import datetime

from sqlmodel import Session, col, select

from app.care import states
from app.models import Message, MessageKind, TrackedLink

TOKEN_BYTES = 9  # 12 URL-safe characters, 72 bits: unguessable, short enough for a text
TOKEN_CHARS = 12  # len(secrets.token_urlsafe(TOKEN_BYTES)): previews count a link this long


def create_link(
    session: Session,
    *,
    business_id: int,
    customer_id: int,
    target_url: str,
    base_url: str,
    now: datetime,
    visit_id: int | None = None,
    kind: str = "review",
) -> tuple[TrackedLink, str]:
    """A new tracked link (not committed) and its public URL."""
    link = TrackedLink(
        token=secrets.token_urlsafe(TOKEN_BYTES),
        business_id=business_id,
        customer_id=customer_id,
        visit_id=visit_id,
        kind=kind,
        target_url=target_url,
        created_at=now,
    )
    session.add(link)
    return link, f"{base_url.rstrip('/')}/l/{link.token}"


CONVERSATION_PATH = re.compile(r"/conversations/[0-9]{1,18}")


def conversation_link(
    session: Session, *, business_id: int, customer_id: int, base_url: str, now: datetime
) -> str:
    """A short link on our own domain that opens this conversation (after sign-in), for the
    owner's alert texts. Not committed."""
    _link, url = create_link(session, business_id=business_id, customer_id=customer_id,
                             target_url=f"/conversations/{customer_id}", base_url=base_url,
                             now=now, kind="conversation")  # fmt: skip
    return url


def open_link(session: Session, token: str, *, now: datetime) -> str | None:
    """Record an open and return where to go; None for an unknown token.

    The first open cancels the pending review reminder: they already went to the page, and
    brings their referral ask forward.
    """
    if not token or len(token) > 32:
        return None
    link = session.exec(select(TrackedLink).where(col(TrackedLink.token) == token)).first()
    if link is None:
        return None
    first_open = link.opened_at is None
    if first_open:
        link.opened_at = now
    link.open_count += 1
    session.add(link)
    if first_open and link.kind == "review":
        mine = [col(Message.customer_id) == link.customer_id]
        if link.visit_id is not None:
            mine.append(col(Message.visit_id) == link.visit_id)
        states.cancel_where(session, col(Message.kind) == MessageKind.REVIEW_REMINDER, *mine,
                            reason="the review link was opened")  # fmt: skip
        # (imported here: referrals queue texts, and the outbound rules use these links)
        from app.care.referrals import ask_sooner

        ask_sooner(session, link.customer_id, now=now, why="they opened the review link")
    return link.target_url


def review_link_opened(session: Session, customer_id: int, visit_id: int | None) -> bool:
    query = select(col(TrackedLink.id)).where(
        col(TrackedLink.customer_id) == customer_id,
        col(TrackedLink.kind) == "review",
        col(TrackedLink.opened_at).is_not(None),
    )
    if visit_id is not None:
        query = query.where(col(TrackedLink.visit_id) == visit_id)
    return session.exec(query).first() is not None
