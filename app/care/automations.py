"""Care that runs itself: the plan after a visit, replies that change it, the owner in the loop.

Timing follows FACTS.md: a thank-you after the business's delay; a review request (or, in
ask-first mode, a 1-5 question) the next day inside the recipient's window; one reminder
`review_reminder_days` later only if the link was not opened; nobody asked twice within the
cooldown. Every customer is asked the same way: no review gating.
"""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from app.care import merge, push, referrals, states, texts
from app.care.budget import words
from app.care.facts import is_milestone, ordinal
from app.care.feedback import suggest_reply
from app.care.hours import next_opening_words, opening_hours
from app.care.links import conversation_link
from app.care.outbound import (
    LIVE_STATES,
    OutboundRefused,
    complaint_open,
    end_complaint_hold,
    queue_text,
)
from app.care.reading import Reading, read_reply
from app.db import changed
from app.models import (
    Business,
    Customer,
    Feedback,
    Message,
    MessageKind,
    PushSubscription,
    Visit,
    VisitStatus,
)

REVIEW_ASKS = frozenset({MessageKind.REVIEW_REQUEST, MessageKind.FEEDBACK_QUESTION})
# Held (not canceled) while a complaint is open; everyone is asked for a review.
HELD_FOR_COMPLAINT = frozenset({*REVIEW_ASKS, MessageKind.REVIEW_REMINDER})
NOT_TO_THE_UNHAPPY = frozenset({MessageKind.REFERRAL_ASK})
HAPPY_SCORE = {5: 4, 10: 9}  # a rating of 4-5 stars, or 9-10 on the 0-10 question
RATING_WINDOW = timedelta(days=7)  # how long a 1-5 question stays open
REPLY_CONTEXT = timedelta(days=14)  # replies this soon after a visit are feedback on it
ALERT_EVERY = timedelta(hours=1)
AFTER_HOURS_EVERY = timedelta(hours=12)
MISSED_CALL_EVERY = timedelta(days=1)
EARLIEST_UNANSWERED = timedelta(minutes=5)
# Older silence is the inbox's job, not a page: 24 hours of opening hours at most, looked for
# among texts of the last 8 days (a long weekend and a holiday in between).
UNANSWERED_HORIZON = timedelta(hours=24)
UNANSWERED_LOOKBACK = timedelta(days=8)


@dataclass
class Plan:
    planned: list[Message]
    skipped: list[str]


def _queue(session, business, customer, kind, fields, *, now, visit, send_at, plan,
           promotional: bool = False) -> None:  # fmt: skip
    body = texts.render_for(session, business, kind, **fields)
    try:
        plan.planned.append(
            queue_text(
                session,
                business,
                customer,
                body,
                kind,
                now=now,
                cause="visit",
                send_at=send_at,
                visit_id=visit.id,
                promotional=promotional,
            )  # fmt: skip
        )
    except OutboundRefused as refused:
        plan.skipped.append(f"{kind}: {refused.message}")


def recently_asked(session: Session, business: Business, customer: Customer, now) -> bool:
    """Asked for a review (or a rating) within the cooldown, or such an ask is still to go."""
    cooldown = timedelta(days=business.review_cooldown_days)
    if customer.last_review_request_at and customer.last_review_request_at > now - cooldown:
        return True
    pending = session.exec(
        select(col(Message.id)).where(
            col(Message.customer_id) == customer.id,
            col(Message.kind).in_(REVIEW_ASKS),
            col(Message.status).in_(LIVE_STATES),
            col(Message.created_at) > now - cooldown,
        )
    ).first()
    return pending is not None


def plan_after_visit(
    session: Session, business: Business, customer: Customer, visit: Visit, *, now, base_url: str
) -> Plan:
    """Queue the follow-ups of a visit (not committed); say in words why any was skipped."""
    plan = Plan([], [])
    # One set of fields for the whole plan: the request and its reminder share one link.
    fields = merge.fields_for(session, business, customer, now=now, base_url=base_url, visit=visit)
    if visit.occurred_at < now - timedelta(days=2):
        plan.skipped.append("the visit was more than two days ago: no follow-ups")
        return plan
    _plan_thanks_and_review(session, business, customer, visit, fields, now=now, plan=plan)
    _plan_referral_ask(session, business, customer, visit, fields, now=now, plan=plan)
    return plan


def _plan_thanks_and_review(session, business, customer, visit, fields, *, now, plan) -> None:
    # The delay counts from the visit, so a visit recorded late is thanked promptly.
    thank_at = max(visit.occurred_at, now - timedelta(days=1))
    thank_at += timedelta(minutes=business.thank_you_delay_minutes)
    kind, extra, promotional = thank_you_kind(business, customer)
    _queue(session, business, customer, kind, {**fields, **extra}, now=now, visit=visit,
           send_at=thank_at, plan=plan, promotional=promotional)  # fmt: skip
    if customer.consent != "granted":
        plan.skipped.append("review: the customer has not agreed to texts")
        return
    if recently_asked(session, business, customer, now):
        days = business.review_cooldown_days
        plan.skipped.append(f"review: {words('asked_recently', days=days)}")
        return
    ask_at = max(visit.occurred_at, now - timedelta(hours=12)) + timedelta(days=1)
    if business.review_mode == "ask_first":
        _queue(session, business, customer, "feedback_question", fields, now=now, visit=visit,
               send_at=ask_at, plan=plan)  # fmt: skip
        return
    if not business.review_url:
        plan.skipped.append("review: the business has no review link yet")
        return
    before = len(plan.planned)
    _queue(session, business, customer, "review_request", fields, now=now, visit=visit,
           send_at=ask_at, plan=plan)  # fmt: skip
    asked_at = plan.planned[-1].send_at if len(plan.planned) > before else None
    if asked_at is not None:
        remind_at = asked_at + timedelta(days=business.review_reminder_days)
        _queue(session, business, customer, "review_reminder", fields, now=now, visit=visit,
               send_at=remind_at, plan=plan)  # fmt: skip


def thank_you_kind(business: Business, customer: Customer) -> tuple[str, dict, bool]:
    """(kind, its own merge fields, promotional) of a visit's thank-you: the milestone
    thank-you, with the count, after the visit that reaches a milestone. Informational, unless
    the business gives a reward with it: then promotional, so only for a customer who agreed
    to offers in writing (anyone else gets the plain thank-you)."""
    if not is_milestone(business, customer.visit_count):
        return "thank_you", {}, False
    reward = business.milestone_reward or ""
    if reward and customer.marketing_consent != "granted":
        return "thank_you", {}, False
    fields = {"visit_count": ordinal(customer.visit_count), "reward": reward}
    return "milestone_thank_you", fields, bool(reward)


def _plan_referral_ask(session, business, customer, visit, fields, *, now, plan) -> None:
    """The referral ask, `referral_ask_days` after the visit (brought forward by a good rating
    or an opened review link), with the business's offer only for a customer who agreed to
    offers in writing (an offer makes it promotional; without one it is informational)."""
    if not business.referral_asks or customer.consent != "granted":
        return  # (without consent the review's line already says why)
    if not fields.get("referral_link"):
        plan.skipped.append("referral: no public address for the link yet (PUBLIC_BASE_URL)")
        return
    if referrals.asked_recently(session, business, customer, now):
        days = business.referral_cooldown_days
        plan.skipped.append(f"referral: {words('asked_recently', days=days)}")
        return
    promotional = bool(business.referral_offer) and customer.marketing_consent == "granted"
    offer = business.referral_offer if promotional else ""
    ask_at = visit.occurred_at + timedelta(days=business.referral_ask_days)
    _queue(session, business, customer, "referral_ask", {**fields, "offer": offer}, now=now,
           visit=visit, send_at=ask_at, plan=plan, promotional=promotional)  # fmt: skip


# ---- replies ------------------------------------------------------------------------------


def latest_visit(session: Session, customer_id: int, since: datetime) -> Visit | None:
    return session.exec(
        select(Visit)
        .where(
            col(Visit.customer_id) == customer_id,
            col(Visit.occurred_at) >= since,
            col(Visit.status) == VisitStatus.COMPLETED,
        )
        .order_by(col(Visit.occurred_at).desc())
    ).first()


def handle_reply(
    session: Session,
    business: Business,
    customer: Customer,
    message_id: int,
    body: str,
    *,
    now: datetime,
    base_url: str,
    reading: Reading | None = None,
) -> Feedback | None:
    """Read a reply as feedback; thank answers; an unhappy one reaches the owner.

    A reply soon after a visit (or to a rating question) is feedback on that visit; any other
    reply is kept only when it is unhappy, so a complaint never goes unheard. `reading` is the
    reply already read on the way in. Not committed. Returns the feedback stored, or None.
    """
    answering = customer.awaiting_rating_until is not None and customer.awaiting_rating_until > now
    recent = customer.last_visit_at is not None and customer.last_visit_at > now - REPLY_CONTEXT
    effort = None
    if not answering and _open(customer.awaiting_effort_until, now):
        # the 1-7 "how easy was it" question is open: a number on its scale answers it
        effort = read_reply(body, scale=7, asked_rating=True)
        if effort.rating is None or effort.rating.scale != 7:
            effort = None
    if effort is not None:
        reading = effort
        customer.awaiting_effort_until = None
        if not reading.unhappy:
            customer.needs_reply = False  # a number answers the question: nothing to answer
    elif reading is None or answering or business.rating_scale != 5:
        # read again as an answer to the open question, on the business's own scale
        reading = read_reply(body, scale=business.rating_scale, asked_rating=answering)
    if not (answering or recent or reading.unhappy or effort):
        return None
    rating, unhappy = reading.rating, reading.unhappy
    # Effort is about the conversation the owner handled, not a visit.
    about_visit = (answering or recent) and effort is None
    visit = latest_visit(session, customer.id, now - REPLY_CONTEXT) if about_visit else None
    feedback = Feedback(
        business_id=business.id,
        customer_id=customer.id,
        visit_id=visit.id if visit else None,
        message_id=message_id,
        staff=visit.staff if visit else None,
        score=rating.score if rating else None,
        scale=rating.scale if rating else None,
        sentiment=reading.sentiment,
        unhappy=unhappy,
        reasons=list(reading.reasons) if unhappy else [],
        topics=list(reading.topics) if unhappy else [],
        language=reading.language,
        created_at=now,
    )
    if answering:
        # Every answer, in numbers or words, is thanked and gets the review link.
        customer.awaiting_rating_until = None
        thanks = merge.fields_for(session, business, customer, now=now, base_url=base_url,
                                  visit=visit, unhappy=unhappy)  # fmt: skip
        body_text = texts.render_for(session, business, "feedback_thanks", **thanks)
        with suppress(OutboundRefused):  # opted out meanwhile: the feedback is still kept
            queue_text(session, business, customer, body_text, "feedback_thanks", now=now,
                       cause="inbound", visit_id=visit.id if visit else None)  # fmt: skip
    if answering and not unhappy:
        customer.needs_reply = False  # a happy answer is thanked for the owner
    if rating is not None and not unhappy and rating.score >= HAPPY_SCORE.get(rating.scale, 99):
        # Asked after a good rating (the timing leaders use); never a condition of anything.
        referrals.ask_sooner(session, customer.id, now=now,
                             why=f"they rated us {rating.score} of {rating.scale}")  # fmt: skip
    if unhappy:
        # No review gating: what they said never cancels a review request. It waits for the
        # owner's answer (held_for_complaint, at send time) and then goes as for anyone. A
        # referral ask is another matter: nobody asks an unhappy customer to recommend us.
        customer.unhappy_at = now
        customer.complaint_answered_at = None
        feedback.suggested_reply = suggest_reply(customer.first_name, business.name)
        states.cancel_where(session, col(Message.customer_id) == customer.id,
                            col(Message.kind).in_(NOT_TO_THE_UNHAPPY),
                            reason=words("unhappy"))  # fmt: skip
        why = "; ".join(reading.reasons) or "sounds unhappy"
        alert_owner(session, business, customer, f"unhappy ({why}):", body, now=now,
                    base_url=base_url, message_id=message_id)  # fmt: skip
    session.add(customer)
    session.add(feedback)
    return feedback


def _open(until: datetime | None, now: datetime) -> bool:
    return until is not None and until > now


EFFORT_AFTER = timedelta(days=1)  # CES 2.0: about a day after the issue was handled
EFFORT_ASKED = frozenset({"scheduled", "sending"})


def ask_about_effort(
    session: Session, business: Business, customer: Customer, *, now: datetime
) -> Message | None:
    """The owner marked the conversation handled: with customer effort on, plan one question
    for the next day inside the customer's window, "how easy was it to get this sorted?"
    (1-7), under the usual consent, window and cap rules. Once per conversation handled:
    not while one is still to go, nor twice since the customer last wrote. Not committed."""
    if not business.ces_enabled or customer.last_inbound_at is None:
        return None
    asked = session.exec(
        select(Message.id).where(
            col(Message.customer_id) == customer.id,
            col(Message.kind) == MessageKind.EFFORT_QUESTION,
            or_(col(Message.status).in_(EFFORT_ASKED),
                col(Message.created_at) >= customer.last_inbound_at),
        )
    ).first()  # fmt: skip
    if asked is not None:
        return None
    fields = merge.fields_for(session, business, customer, now=now)
    body = texts.render_for(session, business, "effort_question", **fields)
    try:
        return queue_text(session, business, customer, body, MessageKind.EFFORT_QUESTION,
                          now=now, cause="system", send_at=now + EFFORT_AFTER)  # fmt: skip
    except OutboundRefused:
        return None  # no consent, opted out: nobody is asked


def not_sorted_yet(session: Session, business_id: int, customer_id: int) -> int:
    """The customer wrote again before the effort question went: the conversation is not
    sorted yet, so the question is not asked (the owner's next "handled" asks again)."""
    return states.cancel_where(session, col(Message.business_id) == business_id,
                               col(Message.customer_id) == customer_id,
                               col(Message.kind) == MessageKind.EFFORT_QUESTION,
                               reason="they wrote again before it went")  # fmt: skip


def dismiss_unhappy(session: Session, customer: Customer, *, by_user_id: int | None, now) -> int:
    """The owner says the unhappy flag was wrong: the flag is cleared, any held review ask
    goes, and each dismissed reading is kept (and counted) as a false alarm. Not committed."""
    dismissed = changed(session.execute(
        update(Feedback)
        .where(
            col(Feedback.customer_id) == customer.id,
            col(Feedback.unhappy).is_(True),
            col(Feedback.dismissed_at).is_(None),
        )
        .values(dismissed_at=now, dismissed_by=by_user_id)
    ))  # fmt: skip
    if customer.unhappy_at is not None and complaint_open(customer):
        end_complaint_hold(session, customer, now=now)
    customer.unhappy_at = None
    session.add(customer)
    return dismissed


def alert_owner(
    session: Session,
    business: Business,
    customer: Customer,
    reason: str,
    excerpt: str,
    *,
    now,
    base_url: str = "",
    message_id: int | None = None,
) -> bool:
    """Alert the owner about a customer, at most once an hour per conversation: a text to
    the alert phone with a short link that opens the conversation (when the app's public
    origin is known), and a notification on the devices of everyone who takes them
    (app.care.push; `message_id` is the text it is about). True when anyone was alerted."""
    if customer.last_owner_alert_at and customer.last_owner_alert_at > now - ALERT_EVERY:
        return False
    by_text = bool(business.alert_phone) and push.wants_text(session, business.id)
    pushed = push.notify_alert(session, business_id=business.id, customer_id=customer.id,
                               message_id=message_id, reason=reason, excerpt=excerpt,
                               now=now)  # fmt: skip
    if not (by_text or pushed):
        return False
    customer.last_owner_alert_at = now
    session.add(customer)
    if by_text:
        link = ""
        if base_url:
            link = conversation_link(session, business_id=business.id, customer_id=customer.id,
                                     base_url=base_url, now=now)  # fmt: skip
        fields = merge.fields_for(session, business, customer, now=now, reason=reason,
                                  excerpt=" ".join(excerpt.split())[:80], link=link)  # fmt: skip
        body = texts.render_for(session, business, "owner_alert", **fields)
        queue_text(session, business, customer, body, MessageKind.ALERT, now=now,
                   cause="system", to_number=business.alert_phone)  # fmt: skip
    return True


def is_after_hours(business: Business, now: datetime) -> bool:
    return not opening_hours(business).is_open(now)


def answer_after_hours(session: Session, business: Business, customer: Customer, *, now) -> bool:
    """An automatic answer with the next opening, once per customer per 12 hours."""
    if not business.after_hours_reply or not is_after_hours(business, now):
        return False
    if customer.last_after_hours_at and customer.last_after_hours_at > now - AFTER_HOURS_EVERY:
        return False
    next_opening = next_opening_words(opening_hours(business), now)
    body = texts.render_for(session, business, "after_hours", next_opening=next_opening)
    try:
        queue_text(session, business, customer, body, "after_hours", now=now, cause="inbound")
    except OutboundRefused:
        return False
    customer.last_after_hours_at = now
    session.add(customer)
    return True


def text_back_missed_call(
    session: Session, business: Business, customer: Customer, *, now
) -> Message | None:
    """Text a caller we missed, at most once a day. Not committed."""
    if not business.missed_call_textback:
        return None
    if customer.last_missed_call_at and customer.last_missed_call_at > now - MISSED_CALL_EVERY:
        return None
    body = texts.render_for(session, business, "missed_call")
    try:
        message = queue_text(session, business, customer, body, "missed_call", now=now,
                             cause="inbound")  # fmt: skip
    except OutboundRefused:
        return None
    customer.last_missed_call_at = now
    session.add(customer)
    return message


def alert_unanswered(session: Session, *, now: datetime, base_url: str = "") -> int:
    """Alert owners about customers who wrote and got no answer in time; returns how many.
    `base_url` is the app's public origin, for the link in each alert. Not committed: the
    worker's sweep commits."""
    push_takers = sa.exists().where(col(PushSubscription.business_id) == col(Business.id))
    candidates = session.exec(
        select(Customer, Business)
        .join(Business, col(Business.id) == col(Customer.business_id))
        .where(
            col(Customer.needs_reply).is_(True),
            col(Customer.last_inbound_at) < now - EARLIEST_UNANSWERED,
            col(Customer.last_inbound_at) > now - UNANSWERED_LOOKBACK,
            col(Customer.consent) != "opted_out",
            or_(
                col(Customer.last_owner_alert_at).is_(None),
                col(Customer.last_owner_alert_at) < col(Customer.last_inbound_at),
            ),
            or_(col(Business.alert_phone).is_not(None), push_takers),
        )
        .limit(500)
    ).all()
    sent = 0
    for customer, business in candidates:
        hours, wrote_at = opening_hours(business), customer.last_inbound_at
        if wrote_at is None or not hours.is_open(now):
            continue  # the shop is closed: the owner hears about it once open
        # Only opening hours count: a text on Saturday night has waited nothing by Monday 9:00.
        waited = timedelta(minutes=hours.open_minutes_between(wrote_at, now))
        if waited < timedelta(minutes=business.unanswered_alert_minutes):
            continue
        if waited > UNANSWERED_HORIZON:
            continue
        last = session.exec(
            select(col(Message.id), col(Message.body))
            .where(col(Message.customer_id) == customer.id, col(Message.direction) == "inbound")
            .order_by(col(Message.id).desc())
        ).first()
        message_id, excerpt = last if last else (None, "")
        if alert_owner(session, business, customer, "no reply yet to", excerpt, now=now,
                       base_url=base_url, message_id=message_id):  # fmt: skip
            sent += 1
    return sent
