"""Referrals: codes and links, the ask, friends who opt in themselves, and the reward.

FACTS.md's rules shape all of it. Never text a number that someone other than its owner typed
in: a referrer can hand on a code or a link, never a friend's number; a friend leaves their
own number on the landing page (and is texted once, to confirm) or texts the business a code.
Rewards are for a friend's first visit only, never for a review or for what anyone said.
Nothing here commits: the request or job that called it does.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, select

from app.models import (
    CODE_DIGITS,
    CODE_LENGTH,
    CODE_LETTERS,
    Business,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
)

CODE_CHARS = frozenset(CODE_LETTERS + CODE_DIGITS)
_PIECES = re.compile(r"[A-Za-z0-9]+")
_SEPARATORS = re.compile(r"[\s\-_.]+")


def referral_link(base_url: str, customer: Customer) -> str:
    """The customer's link on the app's own domain (carriers filter public shorteners)."""
    return f"{base_url.rstrip('/')}/r/{customer.referral_code}" if base_url else ""


def clean_code(typed: str | None) -> str | None:
    """A code as typed on its own ("k7p-m4r", "K7P M4R") in its stored form, or None."""
    code = _SEPARATORS.sub("", (typed or "").strip()).upper()
    return code if _is_code(code) else None


def _is_code(code: str) -> bool:
    return (
        len(code) == CODE_LENGTH
        and set(code) <= CODE_CHARS
        and any(c in CODE_DIGITS for c in code)
        and any(c in CODE_LETTERS for c in code)
    )


def codes_in(body: str | None) -> list[str]:
    """Every code a text could carry, in any case, split by spaces or dashes, inside a
    sentence ("Hi! Maria gave me k7p-m4r"): runs of whole words that make a code together.
    Cheap on a text that has none (most have no digit at all)."""
    if not body or not any(ch.isdigit() for ch in body):
        return []
    pieces = _PIECES.findall(body[:1600])
    found: list[str] = []
    for start in range(len(pieces)):
        joined = ""
        for piece in pieces[start:]:
            joined += piece.upper()
            if len(joined) >= CODE_LENGTH:
                break
        if _is_code(joined) and joined not in found:
            found.append(joined)
    return found


def find_by_code(session: Session, business_id: int, code: str | None) -> Customer | None:
    """The customer of this business whose code this is (typed loosely), or None."""
    cleaned = clean_code(code)
    if cleaned is None:
        return None
    return session.exec(
        select(Customer).where(
            Customer.business_id == business_id, Customer.referral_code == cleaned
        )
    ).first()


# ---- the ask ------------------------------------------------------------------------------

ASK_SOONER = timedelta(hours=2)  # after a 4-5 rating or an opened review link
LIVE = ("scheduled", "sending", "sent", "delivered")


def asked_recently(
    session: Session, business: Business, customer: Customer, now: datetime,
    *, exclude_id: int | None = None, states=LIVE,
) -> bool:  # fmt: skip
    """A referral ask went to this customer within the cooldown, or one is still to go."""
    query = select(Message.id).where(
        Message.customer_id == customer.id,
        Message.kind == MessageKind.REFERRAL_ASK,
        Message.status.in_(states),
        Message.send_at > now - timedelta(days=business.referral_cooldown_days),
    )
    if exclude_id is not None:
        query = query.where(Message.id != exclude_id)
    return session.exec(query).first() is not None


def why_not_ask(
    session: Session, business: Business, customer: Customer, message: Message, now: datetime
) -> str | None:
    """Right before a referral ask goes: why it must not, in words, or None. Nobody who said
    they were unhappy since it was planned is asked to recommend us; nobody twice within the
    cooldown."""
    if customer.unhappy_at is not None and customer.unhappy_at >= message.created_at:
        return "the customer said they were unhappy"
    if asked_recently(session, business, customer, now, exclude_id=message.id,
                      states=("sending", "sent", "delivered")):  # fmt: skip
        return f"already asked in the last {business.referral_cooldown_days} days"
    return None


def ask_sooner(session: Session, customer_id: int, *, now: datetime, why: str) -> int:
    """A good rating or an opened review link: the planned ask goes in ASK_SOONER instead of
    days later (inside the customer's window, under the caps: the dispatcher checks). Only
    ever sooner. Returns how many were moved."""
    soon = now + ASK_SOONER
    moved = session.execute(
        update(Message)
        .where(
            Message.customer_id == customer_id,
            Message.kind == MessageKind.REFERRAL_ASK,
            Message.status == MessageStatus.SCHEDULED,
            Message.send_at > soon,
        )
        .values(send_at=soon, reason=f"sooner: {why}")
    )
    return moved.rowcount
