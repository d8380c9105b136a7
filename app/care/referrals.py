"""Referrals: codes and links, the ask, friends who opt in themselves, and the reward.

FACTS.md's rules shape all of it. Never text a number that someone other than its owner typed
in: a referrer can hand on a code or a link, never a friend's number; a friend leaves their
own number on the landing page (and is texted once, to confirm) or texts the business a code.
Rewards are for a friend's first visit only, never for a review or for what anyone said.
Nothing here commits: the request or job that called it does.
"""

from __future__ import annotations

import re

from sqlmodel import Session, select

from app.models import CODE_DIGITS, CODE_LENGTH, CODE_LETTERS, Customer

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
