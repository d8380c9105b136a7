"""Merge fields: what {{ first_name }} and friends say for one recipient.

One place computes them for every door (the composer, its picker, the automations, the API's
template send); care.texts renders any text with them in its sandbox. A tracked review link
is a database row, so it is made only when a text uses it, once per set of fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session

from app.care.links import TOKEN_CHARS, create_link
from app.care.referrals import referral_link
from app.care.texts import Deferred
from app.models import Business, Customer, User, Visit
from app.phones import as_written_by


@dataclass(frozen=True)
class Field:
    """How the owner's Texts page names a merge field (its chip) and what it knows of it."""

    label: str  # the chip's plain name: "First name"
    says: str  # what it stands for, in words
    optional: bool = False  # empty for some customers: the editor looks for the gap it leaves
    fallback: str = ""  # what to say instead when it is empty (the fix the editor offers)


# The one list of merge fields' names: the owner's editor shows these (the page carries them
# to its JavaScript as data), and reads them back into {{ field }}s.
FIELDS: dict[str, Field] = {
    "first_name": Field("First name", "the customer's first name", optional=True,
                        fallback="there"),
    "name": Field("Full name", "the customer's full name", optional=True),
    "customer_name": Field("Customer name", "the customer's full name", optional=True),
    "customer_phone": Field("Customer phone", "the customer's phone"),
    "business_name": Field("Business name", "your business's name"),
    "business_phone": Field("Business phone", "your texting number", optional=True),
    "staff_name": Field("Staff name", "who they saw", optional=True, fallback="our team"),
    "review_link": Field("Review link", "your review link"),
    "referral_link": Field("Referral link", "their referral link"),
    "reward": Field("Reward", "the reward they earned", optional=True),
    "offer": Field("Offer", "what their friends get (with consent to offers)", optional=True),
    "next_opening": Field("Next opening", "when you open next"),
    "reason": Field("Reason", "why you are alerted"),
    "excerpt": Field("Their text", "the start of their text"),
    "link": Field("Conversation link", "opens the conversation"),
    "unhappy": Field("Unhappy", "yes when the reply was unhappy"),
    "scale": Field("Rating scale", "5 or 10, as set in Settings"),
    "visit_count": Field("Visit count", "which visit it was: 5th, 10th"),
    "years": Field("Years", "how long since their first visit: a year, 2 years"),
}  # fmt: skip


def review_link(
    session: Session,
    business: Business,
    customer: Customer,
    visit: Visit | None,
    *,
    base_url: str,
    now: datetime,
) -> str:
    """A tracked link to the review page; the bare page when no public origin is known."""
    if not base_url or not business.review_url:
        return business.review_url or ""
    _link, url = create_link(session, business_id=business.id, customer_id=customer.id,
                             target_url=business.review_url, base_url=base_url, now=now,
                             visit_id=visit.id if visit else None)  # fmt: skip
    return url


def link_stand_in(base_url: str) -> str:
    """What a tracked link not made yet looks like on a page: its real length; "" without a
    public origin."""
    return f"{base_url.rstrip('/')}/l/{'x' * TOKEN_CHARS}" if base_url else ""


def staff_first_name(user: User | None) -> str:
    """How a text signs for the person writing it: their first name, or nothing."""
    return (user.name or "").split(" ")[0] if user is not None else ""


def fields_for(
    session: Session,
    business: Business,
    customer: Customer,
    *,
    now: datetime,
    base_url: str = "",
    visit: Visit | None = None,
    user: User | None = None,
    **extra: object,
) -> dict[str, object]:
    """Every merge field of one recipient. `staff_name` is who they saw at `visit`, else the
    first name of the `user` writing. `review_link` is a tracked link when `base_url` (the
    app's public origin) is known, made only if a text uses it and shared by every text
    rendered with these fields; "" when the business has no review page. `extra` adds the
    fields of one occasion (reason, excerpt, unhappy, offer, reward). `referral_link` is the
    customer's /r/<code> link on `base_url`.
    """
    staff = (visit.staff or "") if visit is not None else staff_first_name(user)
    link: object = ""
    if business.review_url:
        placeholder = link_stand_in(base_url)
        link = Deferred(
            lambda: review_link(session, business, customer, visit, base_url=base_url, now=now),
            preview=placeholder or business.review_url,
        )
    return {
        "first_name": customer.first_name,
        "name": customer.name or "",
        "customer_name": customer.name or "",
        # written out only if a text uses it (a broadcast's batch has no use for it)
        "customer_phone": Deferred(
            lambda: as_written_by(business.number, customer.phone), preview=None
        ),
        "business_name": business.name,
        "business_phone": as_written_by(business.number, business.number) or None,
        "staff_name": staff,
        "scale": business.rating_scale,
        "review_link": link,
        "referral_link": referral_link(base_url, customer),
        "offer": "",  # an occasion's own: the ask's offer, for those who agreed to offers
        "reward": "",
        **extra,
    }
