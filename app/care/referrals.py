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

from sqlalchemy import func, update
from sqlmodel import Session, col, select

from app.care import automations, customers, merge, outbound, texts
from app.care.budget import words
from app.contract.commands import FriendSignUp
from app.db import changed
from app.errors import NotFound, Refused
from app.models import (
    CODE_DIGITS,
    CODE_LENGTH,
    CODE_LETTERS,
    Business,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
    Referral,
    ReferralState,
    User,
)
from app.phones import as_written_by

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
        col(Message.customer_id) == customer.id,
        col(Message.kind) == MessageKind.REFERRAL_ASK,
        col(Message.status).in_(states),
        col(Message.send_at) > now - timedelta(days=business.referral_cooldown_days),
    )
    if exclude_id is not None:
        query = query.where(col(Message.id) != exclude_id)
    return session.exec(query).first() is not None


def why_not_ask(
    session: Session, business: Business, customer: Customer, message: Message, now: datetime
) -> str | None:
    """Right before a referral ask goes: why it must not, in words, or None. Nobody who said
    they were unhappy since it was planned is asked to recommend us; nobody twice within the
    cooldown."""
    if customer.unhappy_at is not None and customer.unhappy_at >= message.created_at:
        return words("unhappy")
    if asked_recently(session, business, customer, now, exclude_id=message.id,
                      states=("sending", "sent", "delivered")):  # fmt: skip
        return words("asked_recently", days=business.referral_cooldown_days)
    return None


def ask_sooner(session: Session, customer_id: int, *, now: datetime, why: str) -> int:
    """A good rating or an opened review link: the planned ask goes in ASK_SOONER instead of
    days later (inside the customer's window, under the caps: the dispatcher checks). Only
    ever sooner. Returns how many were moved."""
    soon = now + ASK_SOONER
    moved = session.execute(
        update(Message)
        .where(
            col(Message.customer_id) == customer_id,
            col(Message.kind) == MessageKind.REFERRAL_ASK,
            col(Message.status) == MessageStatus.SCHEDULED,
            col(Message.send_at) > soon,
        )
        .values(send_at=soon, reason=f"sooner: {why}")
    )
    return changed(moved)


# ---- the friend arrives and opts in themselves ---------------------------------------------

ONE_DAY = timedelta(days=1)


def referrer_for_page(session: Session, code: str | None) -> tuple[Business, Customer] | None:
    """The business and the customer behind a link's code (typed loosely), or None. Codes
    are unique everywhere, so the link names its business too."""
    cleaned = clean_code(code)
    if cleaned is None:
        return None
    referrer = session.exec(select(Customer).where(col(Customer.referral_code) == cleaned)).first()
    if referrer is None:
        return None
    return session.get_one(Business, referrer.business_id), referrer


def too_many_new_friends(session: Session, business: Business, now: datetime) -> bool:
    """The business's hourly limit of new friends is reached (a page or a code being abused)."""
    count = session.exec(
        select(func.count(col(Referral.id))).where(
            col(Referral.business_id) == business.id,
            col(Referral.created_at) > now - timedelta(hours=1),
        )
    ).one()
    return count >= business.referral_hourly_limit


def friend_signs_up(
    session: Session, business: Business, referrer: Customer, command: FriendSignUp, *, now
) -> None:
    """A friend left their own first name and number on the landing page and ticked the box.

    A new number becomes a customer attached to the referrer, a lead in the owner's inbox, and
    gets ONE text, ever: "Reply YES to get texts from ...". Nothing else goes to it until YES
    (its consent stays unknown until then). Whatever the number is (the referrer's own, a customer
    already, one that opted out, one texted today) the caller answers the page the same way,
    so the page never tells anyone whether a number is a customer. Raises Refused (429) when
    the business's hourly limit of new friends is reached. Not committed."""
    if too_many_new_friends(session, business, now):
        raise Refused("rate_limited", "Too many sign-ups right now. Please try again later.",
                      status=429)  # fmt: skip
    if command.phone == referrer.phone:
        return  # a customer cannot refer themselves
    if customers.find_customer(session, business.id, command.phone) is not None:
        # Someone who was a customer already is not counted as new, and a number that signed
        # up before and never answered YES is not texted again (it may not be theirs).
        return
    friend, created = customers.find_or_create(session, business, command.phone,
                                               name=command.first_name, now=now)  # fmt: skip
    if not created:
        return  # made a moment ago by another request (the same form sent twice)
    lead = _attach(session, business, referrer, friend, source="link", now=now,
                   wants_marketing=bool(command.marketing_consent))  # fmt: skip
    _ask_to_confirm(session, business, friend, lead, now=now)
    _show_lead(business, friend, referrer, now, waiting=True)


def _attach(session, business, referrer, friend, *, source: str, now, wants_marketing=False):
    friend.referred_by = referrer.id
    session.add(friend)
    lead = Referral(business_id=business.id, referrer_id=referrer.id, friend_id=friend.id,
                    source=source, wants_marketing=wants_marketing, created_at=now,
                    confirmed_at=now if source == "text" else None)  # fmt: skip
    session.add(lead)
    session.flush()
    return lead


def _show_lead(business, friend: Customer, referrer: Customer, now, *, waiting: bool) -> None:
    """The owner sees the new lead at the top of the inbox."""
    who = referrer.name or as_written_by(business.number, referrer.phone)
    friend.last_activity_at = now
    friend.last_message_preview = (
        f"New lead sent by {who}: waiting for them to reply YES" if waiting
        else f"New lead sent by {who}"
    )  # fmt: skip
    friend.unread_count = max(friend.unread_count or 0, 1)


def _unconfirmed_lead(session: Session, friend: Customer) -> Referral | None:
    return session.exec(
        select(Referral).where(
            col(Referral.friend_id) == friend.id,
            col(Referral.source) == "link",
            col(Referral.confirmed_at).is_(None),
        )
    ).first()


def _ask_to_confirm(session, business, friend, lead, *, now) -> Message | None:
    """The one confirmation text, at most once a day to a number; None when none may go (it
    opted out, it was texted today)."""
    recent = session.exec(
        select(Message.id).where(
            Message.business_id == business.id,
            Message.to_number == friend.phone,
            Message.kind == MessageKind.REFERRAL_CONFIRMATION,
            Message.created_at > now - ONE_DAY,
        )
    ).first()
    if recent is not None:
        return None
    body = texts.render("referral_confirmation", business_name=business.name,
                        offers=lead.wants_marketing)  # fmt: skip
    try:
        return outbound.queue_text(session, business, friend, body,
                                   MessageKind.REFERRAL_CONFIRMATION, now=now,
                                   cause="system")  # fmt: skip
    except outbound.OutboundRefused:
        return None


def confirm_friend(session: Session, business: Business, friend: Customer, *, now) -> bool:
    """A friend who signed up on the page answered YES: their consent is recorded (and their
    consent to offers, when they ticked that box too), and they are welcomed once. False when
    they have no sign-up waiting for an answer. Not committed."""
    lead = _unconfirmed_lead(session, friend)
    if lead is None:
        return False
    lead.confirmed_at = now
    session.add(lead)
    customers.set_consent(session, friend, "granted", source="referral page", now=now,
                          detail="signed up themselves, confirmed by YES",
                          by_customer=True)  # fmt: skip
    if lead.wants_marketing:
        customers.set_marketing_consent(session, friend, "granted", source="referral page",
                                        now=now, detail="ticked on the page, confirmed by YES",
                                        by_customer=True)  # fmt: skip
    _welcome(session, business, friend, now=now)
    return True


def _welcome(session, business, friend, *, now) -> Message | None:
    body = texts.render_for(session, business, "referral_welcome", business_name=business.name,
                            first_name=friend.first_name)  # fmt: skip
    try:
        return outbound.queue_text(session, business, friend, body, MessageKind.REFERRAL_WELCOME,
                                   now=now, cause="inbound")  # fmt: skip
    except outbound.OutboundRefused:
        return None


def friend_texted_code(
    session: Session, business: Business, friend: Customer, codes: list[str], *, now
) -> bool:
    """A new number texted the business a message with a valid code: the friend is attached
    to the referrer, shows as a new lead, and gets one welcome reply (an answer to their own
    text). A customer's own code, an unknown code or the business's hourly limit: nothing
    happens (their text is in the inbox as any other). Not committed."""
    if not codes or friend.referred_by is not None or too_many_new_friends(session, business, now):
        return False
    referrer = session.exec(
        select(Customer).where(
            col(Customer.business_id) == business.id,
            col(Customer.referral_code).in_(codes),
            col(Customer.id) != friend.id,
        )
    ).first()
    if referrer is None:
        return False
    _attach(session, business, referrer, friend, source="text", now=now)
    _welcome(session, business, friend, now=now)
    _show_lead(business, friend, referrer, now, waiting=False)
    session.add(friend)
    return True


# ---- the reward ---------------------------------------------------------------------------


def friend_visited(
    session: Session, business: Business, friend: Customer, visit, *, now, base_url: str = ""
) -> Referral | None:
    """The friend's first visit after arriving through a code: the referral is converted and
    the referrer gets the reward text, a promotional one, so only with their written consent
    to offers; without it the owner is told to thank them in person. Only the visit counts:
    never a review or anything anyone said. Returns the referral converted, or None. Not
    committed."""
    lead = session.exec(
        select(Referral).where(
            col(Referral.friend_id) == friend.id, col(Referral.state) == ReferralState.LEAD
        )
    ).first()
    if lead is None:
        return None
    lead.state, lead.converted_at, lead.visit_id = ReferralState.CONVERTED, now, visit.id
    session.add(lead)
    referrer = session.get_one(Customer, lead.referrer_id)
    reward = f"You've earned {business.referral_reward}." if business.referral_reward else ""
    fields = merge.fields_for(session, business, referrer, now=now, base_url=base_url,
                              reward=reward)  # fmt: skip
    body = texts.render_for(session, business, "referral_reward", **fields)
    try:
        outbound.queue_text(session, business, referrer, body, MessageKind.REFERRAL_REWARD,
                            now=now, cause="system", promotional=True)  # fmt: skip
    except outbound.OverBudget as skipped:  # kept canceled in her conversation, with why
        _thank_in_person(session, business, referrer, friend, now=now, base_url=base_url,
                         why=skipped.message)  # fmt: skip
    except outbound.OutboundRefused:
        _thank_in_person(session, business, referrer, friend, now=now, base_url=base_url)
    return lead


def _thank_in_person(session, business, referrer, friend, *, now, base_url,
                     why: str = "no consent to reward texts") -> None:  # fmt: skip
    """No reward text may go: the owner hears it in the inbox (and on the alert phone)."""
    who = referrer.first_name or as_written_by(business.number, referrer.phone)
    note = f"{friend.name or 'A friend'}, sent by {who}, just visited: thank {who} in person"
    note += f" ({why})"
    referrer.last_activity_at = now
    referrer.last_message_preview = note[:160]
    referrer.unread_count = (referrer.unread_count or 0) + 1
    referrer.needs_reply = True
    session.add(referrer)
    automations.alert_owner(session, business, referrer, "a friend they sent visited:",
                            f"thank {who} in person ({why})", now=now,
                            base_url=base_url)  # fmt: skip


def mark_rewarded(
    session: Session, business_id: int, referral_id: int, *, by: User | None, now: datetime
) -> Referral:
    """The owner gave the referrer their reward (`by` the one signed in; None through the
    API). Raises NotFound or Refused. Not committed."""
    referral = session.get(Referral, referral_id)
    if referral is None or referral.business_id != business_id:
        raise NotFound(f"No referral {referral_id}.")
    if referral.state != ReferralState.CONVERTED:
        raise Refused("not_converted", "A reward is given once the friend has visited.")
    referral.state, referral.rewarded_at = ReferralState.REWARDED, now
    referral.rewarded_by = by.id if by is not None else None
    session.add(referral)
    return referral


def referrals_of(session: Session, referrer_id: int) -> list[tuple[Referral, Customer]]:
    """Everyone a customer sent, newest first, with the friend."""
    return list(
        session.exec(
            select(Referral, Customer)
            .join(Customer, col(Customer.id) == col(Referral.friend_id))
            .where(col(Referral.referrer_id) == referrer_id)
            .order_by(col(Referral.id).desc())
        )
    )
