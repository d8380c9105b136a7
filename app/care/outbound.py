"""Queue a text, and the rules that decide whether and when it may go.

The rules run twice: when a text is queued (so the owner hears "no" at once) and again when
the dispatcher is about to send it (because consent, the clock and the cap may have moved).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import update
from sqlmodel import Session, col, select

from app.care import budget, optouts, referrals, states
from app.care.budget import PROMOTIONAL, draw_of, words
from app.care.links import review_link_opened
from app.db import changed
from app.errors import Refused
from app.models import (
    KINDS,
    Business,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
)
from app.sms.encoding import segment_info

MAX_BODY_CHARS = 1600  # Twilio's limit for one message body
LIVE_STATES = ("scheduled", "sending", "sent", "delivered")
# Answers to a keyword the customer just texted: allowed without marketing consent.
KEYWORD_REPLIES = frozenset({"help", "opt_out_confirmation", "opt_in_confirmation"})
# Answers to the customer's own contact (a text, a call): conversational, no consent needed.
CONVERSATIONAL = frozenset({"auto_reply", "after_hours", "missed_call", "feedback_thanks"})
TO_OWNER = frozenset({"alert"})  # texts to the business's own alert phone
# The one text a number gets because its owner typed it on our page and asked for it ("Reply
# YES to get texts from ..."): nothing else goes to it until they answer.
ASKED_FOR = frozenset({"referral_confirmation"})


# A text that waits (a thank-you after its delay, tomorrow's review request) rather than going
# as soon as a worker takes it: past this, the inbox shows it as next, not as the last line.
LATER = timedelta(minutes=1)


def goes_later(message: Message) -> bool:
    """Was the text planned for later than it was written? (A text held without a time, by
    a paused broadcast, waits too.)"""
    if message.send_at is None:
        return message.status == "scheduled"
    return message.send_at > message.created_at + LATER


# Refusals about the customer's state are conflicts (409); the rest are the input's fault.
CONFLICTS = frozenset({"opted_out", "no_consent", "no_marketing_consent", "bad_number",
                       "recently_asked", "reminded", "over_budget"})  # fmt: skip
# Refusals at send time that mean "never", not "not yet": the text is canceled.
NEVER = frozenset({"opted_out", "no_consent", "no_marketing_consent"})


class OutboundRefused(Refused):
    """This text may not be sent; `code` is stable for the API, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(code, message, status=409 if code in CONFLICTS else 422)


@dataclass(frozen=True)
class Verdict:
    action: str  # send | cancel | reschedule | fail
    send_at: datetime | None = None
    reason: str = ""


def preview(body: str, photos: int = 0) -> str:
    """One line of a text for the inbox list ("Photo · ..." when it carried pictures)."""
    line = " ".join(body.split())
    if photos:
        said = "Photo" if photos == 1 else f"{photos} photos"
        line = f"{said} · {line}" if line else said
    return line[:160]


def size_of(body: str, media: list | None) -> tuple[int, str]:
    """(segments, encoding) a text is counted as: a text with a photo goes as one picture
    message (MMS), priced per message rather than per 160 characters."""
    info = segment_info(body)
    return (1 if media else info.segments), info.encoding


def is_automated(kind: str) -> bool:
    return draw_of(kind) is not None


# How the first text says how to opt out: the instruction, never just the word ("Stop by
# anytime!" is not one). A verb and a keyword ("Reply STOP", "Text STOP to unsubscribe",
# "Responde BAJA"), or a keyword in capitals with what it does ("STOP to end").
_VERBS = (
    r"reply|text|txt|send|respond|responde|responda|contesta|conteste|env[ií]a|env[ií]e"
    r"|escribe|escriba|manda|mande"
)
_KEYWORDS = r"STOPALL|STOP|UNSUBSCRIBE|OPTOUT|BAJA|ALTO|END|QUIT|CANCEL"
_QUOTES = "\"'“”‘’«»"
_REPLY_WITH = re.compile(
    rf"(?<!\w)(?:{_VERBS})\s+(?:with\s+|the\s+word\s+|la\s+palabra\s+|con\s+)?"
    rf"[{_QUOTES}]?(?:STOPALL|STOP|UNSUBSCRIBE|OPTOUT|BAJA|ALTO)(?!\w)",
    re.IGNORECASE,
)
_KEYWORD = re.compile(rf"(?<!\w)(?:{_KEYWORDS})(?!\w)")  # in capitals, as carriers write them
_PURPOSE = re.compile(
    rf"[{_QUOTES}]?\s+(?:to\s+(?:opt[\s-]?out|unsubscribe|end|stop|cancel|quit)"
    r"|para\s+(?:cancelar|darte\s+de\s+baja|darse\s+de\s+baja|no\s+recibir|dejar\s+de"
    r"\s+recibir|salir|terminar))(?!\w)",
    re.IGNORECASE,
)
_APOSTROPHES = str.maketrans("", "", "'’‘ʼ`")
OPT_OUT_LINE = "Reply STOP to opt out."
_ENDS_WITH_LINK = re.compile(r"(?:https?://|www\.)\S+$", re.IGNORECASE)


def says_how_to_opt_out(body: str) -> bool:
    """The text tells the customer how to opt out (English or Spanish), not just says "stop"."""
    if _REPLY_WITH.search(body):
        return True
    return any(_PURPOSE.match(body, keyword.end()) for keyword in _KEYWORD.finditer(body))


def _words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower().translate(_APOSTROPHES))


def names_business(body: str, name: str) -> bool:
    """The business's name appears as whole words, in any case and with any punctuation
    between them ("Ace" is not named in "place"; "Joe's Garage" is in "JOES GARAGE!")."""
    wanted = _words(name)
    if not wanted:  # a name of signs only: nothing better than the signs themselves
        return name.strip().lower() in body.lower()
    words, size = _words(body), len(wanted)
    return any(words[i : i + size] == wanted for i in range(len(words) - size + 1))


def introduce(body: str, business: Business, customer: Customer, kind: str = "manual") -> str:
    """The first text to a customer names the business and says how to opt out."""
    if customer.introduced_at is not None or kind in TO_OWNER:
        return body
    return introduction(body, business.name, kind)


def introduction(body: str, business_name: str, kind: str = "manual") -> str:
    """`body` as a first text: the business's name in front and the opt-out line at the end,
    each only when the text does not say it already (the composer previews with this too)."""
    if not names_business(body, business_name):
        body = f"{business_name}: {body}"
    if kind != "opt_out_confirmation" and not says_how_to_opt_out(body):
        # (they just opted out: no STOP line for them) A sentence of its own, after a full stop.
        # A link at the very end gets no full stop: some phones would take it into the link
        # (and a token may itself end in "-" or "_", so the rule must not depend on its letters).
        body = body.rstrip()
        if body[-1:].isalnum() and not _ENDS_WITH_LINK.search(body):
            body += "."
        body = f"{body} {OPT_OUT_LINE}"
    return body


def may_reach_opted_out(business: Business, kind: str) -> bool:
    """The answers a number that opted out may still get: the one confirmation, and HELP
    where the provider does not answer keywords itself."""
    return kind == "opt_out_confirmation" or (
        kind == "help" and not business.provider_handles_opt_out
    )


def consent_needed(kind: str, promotional: bool = False) -> str | None:
    """The consent a text needs before it may go automatically: budget.INFORMATIONAL,
    PROMOTIONAL (an offer makes any text promotional), or None for the texts that are not
    automated."""
    if promotional:
        return PROMOTIONAL
    kind_draw = draw_of(kind)
    return kind_draw.consent if kind_draw is not None else None


def check_allowed(
    business: Business, customer: Customer, kind: str, *, promotional: bool = False
) -> None:
    """Raise OutboundRefused when no text of this kind may go to this customer at all."""
    if kind in TO_OWNER:
        if not business.alert_phone:
            raise OutboundRefused("no_alert_phone", "The business has no alert phone.")
        return
    if customer.consent == "opted_out" and not may_reach_opted_out(business, kind):
        raise OutboundRefused("opted_out", "This customer has opted out of texts.")
    if customer.number_status != "ok":
        raise OutboundRefused("bad_number", "This customer's number cannot receive texts.")
    needed = consent_needed(kind, promotional)
    if needed is None and (kind in KEYWORD_REPLIES or kind in CONVERSATIONAL or kind in ASKED_FOR):
        return
    if needed is not None or is_automated(kind):
        if customer.consent != "granted":
            raise OutboundRefused(
                "no_consent", "Automated texts need the customer's recorded consent."
            )
        if needed == PROMOTIONAL and customer.marketing_consent != "granted":
            raise OutboundRefused(
                "no_marketing_consent",
                "Offers and rewards need the customer's written consent to marketing texts.",
            )
    elif customer.consent != "granted" and customer.last_inbound_at is None:
        raise OutboundRefused(
            "no_consent",
            "This customer has not agreed to texts and has not texted you: record consent first.",
        )


class OverBudget(OutboundRefused):
    """An automated text the customer's budget skips: `message` is the canceled row kept so
    the conversation shows it, with its reason."""

    def __init__(self, reason: str, message: Message):
        super().__init__("over_budget", reason)
        self.canceled = message


def budget_slot(
    session: Session,
    business: Business,
    customer: Customer,
    kind: str,
    earliest: datetime,
    *,
    now: datetime,
    promotional: bool = False,
    sent_only: bool = False,
    exclude_id: int | None = None,
) -> budget.Decision:
    """The budget's decision for an automated text (app.care.budget.draw), with a window
    that never opens refused in words."""
    try:
        return budget.draw(session, business, customer, kind, promotional=promotional,
                           at=earliest, now=now, sent_only=sent_only,
                           exclude_id=exclude_id)  # fmt: skip
    except budget.NoWindow as exc:
        raise OutboundRefused("no_window", str(exc)) from exc


def _introduction_pending(session: Session, customer: Customer, send_at: datetime) -> bool:
    """A text to this not-yet-introduced customer goes before `send_at` and introduces them.

    Only that one carries the business name and the STOP line; if it never goes, the
    dispatcher introduces whichever text does go first (Dispatcher._prepare).
    """
    if customer.introduced_at is not None or customer.id is None:
        return False
    earlier = session.exec(
        select(col(Message.id)).where(
            col(Message.customer_id) == customer.id,
            col(Message.direction) == "outbound",
            col(Message.kind).not_in(TO_OWNER),
            col(Message.status).in_(("scheduled", "sending")),
            col(Message.send_at) < send_at,
        )
    ).first()
    return earlier is not None


def queue_text(
    session: Session,
    business: Business,
    customer: Customer,
    body: str,
    kind: str,
    *,
    now: datetime,
    cause: str = "user",
    send_at: datetime | None = None,
    visit_id: int | None = None,
    user_id: int | None = None,
    to_number: str | None = None,
    promotional: bool = False,
    media: list[dict[str, str]] | None = None,
) -> Message:
    """Write an outbound text to the outbox (not committed: the caller's transaction owns it).
    `promotional`: it carries an offer or a reward, so it needs marketing consent. `media`:
    the pictures it carries ({"url", "content_type"}, URLs the carrier can fetch); a text
    with a picture may have no words. The rules are the same for a picture message."""
    if kind not in KINDS:
        raise ValueError(f"unknown message kind {kind!r}")
    body = (body or "").strip()
    if not body and not media:
        raise OutboundRefused("empty_body", "The text is empty.")
    check_allowed(business, customer, kind, promotional=promotional)
    earliest = max(send_at or now, now)
    decision = None
    if is_automated(kind):
        decision = budget_slot(session, business, customer, kind, earliest, now=now,
                               promotional=promotional)  # fmt: skip
        earliest = decision.send_at or earliest
    if not _introduction_pending(session, customer, earliest):
        body = introduce(body, business, customer, kind)
    if len(body) > MAX_BODY_CHARS:
        raise OutboundRefused(
            "body_too_long", f"A text can be at most {MAX_BODY_CHARS} characters."
        )
    segments, encoding = size_of(body, media)
    message = Message(
        business_id=business.id,
        customer_id=customer.id,
        direction="outbound",
        body=body,
        kind=MessageKind(kind),
        status=MessageStatus.SCHEDULED,
        segments=segments,
        encoding=encoding,
        from_number=business.number,
        to_number=to_number or customer.phone,
        media_urls=media or None,
        cause=cause,
        promotional=promotional,
        visit_id=visit_id,
        user_id=user_id,
        send_at=earliest,
        reason=decision.reason if decision is not None else None,
        created_at=now,
    )
    session.add(message)
    if decision is not None and decision.skipped:
        # Skipped, never later by surprise: kept canceled, so the conversation says why.
        states.cancel(message, decision.reason or "")
        session.flush()
        raise OverBudget(decision.reason or "", message)
    if kind not in TO_OWNER:
        customer.last_activity_at = now  # planning a text is activity: the inbox lists it
        if not goes_later(message):
            # The inbox's last line is what happened: a text planned for later takes it when
            # it goes (the dispatcher), and shows meanwhile as the conversation's next text.
            customer.last_message_preview = preview(body, len(media or ()))
    if kind == "manual":
        customer.needs_reply = False  # the owner answered
        if complaint_open(customer):
            end_complaint_hold(session, customer, now=now)
    session.add(customer)
    session.flush()
    return message


def end_complaint_hold(session: Session, customer: Customer, *, now: datetime) -> int:
    """The owner answered a complaint (or said it was none): held review asks go now, as for
    anyone, inside the customer's window (the dispatcher checks it). Returns how many."""
    customer.complaint_answered_at = now
    session.add(customer)
    released = session.execute(
        update(Message)
        .where(
            col(Message.customer_id) == customer.id,
            col(Message.status) == MessageStatus.SCHEDULED,
            col(Message.reason) == HOLD_WORDS,
        )
        .values(send_at=now, reason=None)
    )
    return changed(released)


HELD_KINDS = frozenset({"review_request", "review_reminder", "feedback_question"})
HOLD_WORDS = words("complaint_hold")


def complaint_open(customer: Customer) -> bool:
    """They said they were unhappy and the owner has not written back since."""
    return customer.unhappy_at is not None and (
        customer.complaint_answered_at is None
        or customer.complaint_answered_at < customer.unhappy_at
    )


def complaint_hold(
    business: Business, customer: Customer, kind: str, now: datetime
) -> datetime | None:
    """Until when a review ask waits for the owner to answer an open complaint, or None.

    Timing only, never a verdict: once the owner has answered, or `review_hold_days` have
    passed, the ask goes exactly as it would for anyone (no review gating)."""
    if kind not in HELD_KINDS or customer.unhappy_at is None or not complaint_open(customer):
        return None
    until = customer.unhappy_at + timedelta(days=business.review_hold_days)
    return until if until > now else None


def check_before_send(
    session: Session, message: Message, business: Business, customer: Customer, now: datetime
) -> Verdict:
    """Run the rules again at the moment of sending."""
    try:
        check_allowed(business, customer, message.kind, promotional=message.promotional)
    except OutboundRefused as refused:
        if refused.code in NEVER:
            return Verdict("cancel", reason=words(refused.code))
        return Verdict("fail", reason=refused.message)
    if not may_reach_opted_out(business, message.kind) and optouts.is_opted_out(
        session, business.id, message.to_number
    ):  # the number it goes to, whoever it was queued for (an alert, an edited phone)
        return Verdict("cancel", reason=words("number_opted_out"))
    if message.kind == "referral_ask":
        why = referrals.why_not_ask(session, business, customer, message, now)
        if why is not None:
            return Verdict("cancel", reason=why)
    if message.kind == "review_reminder" and review_link_opened(
        session, customer.id, message.visit_id
    ):
        return Verdict("cancel", reason=words("review_link_opened"))
    if message.kind == "broadcast":
        # Its budget was drawn when its batch was written, just before (app.care.broadcasts);
        # its recipient's window is checked again now.
        try:
            opening, waits = budget.first_opening(budget.window_for(business, customer), now)
        except ValueError as exc:
            return Verdict("fail", reason=str(exc))
        if opening > now:
            return Verdict("reschedule", send_at=opening, reason=waits or "")
        return Verdict("send")
    held = complaint_hold(business, customer, message.kind, now)
    if held is not None:
        return Verdict("reschedule", send_at=held, reason=HOLD_WORDS)
    if is_automated(message.kind):
        try:
            decision = budget_slot(session, business, customer, message.kind, now, now=now,
                                   promotional=message.promotional, sent_only=True,
                                   exclude_id=message.id)  # fmt: skip
        except OutboundRefused as refused:
            return Verdict("fail", reason=refused.message)
        if decision.send_at is None:
            return Verdict("cancel", reason=decision.reason or "")
        if decision.send_at > now:
            return Verdict("reschedule", send_at=decision.send_at, reason=decision.reason or "")
    return Verdict("send")


def cancel_pending(
    session: Session,
    *,
    customer_id: int | None = None,
    visit_id: int | None = None,
    reason: str = "",
    keep_kinds: frozenset[str] = frozenset(),
) -> int:
    """Cancel every scheduled text of a customer or a visit (but `keep_kinds`); returns how many.
    Alerts about the customer to the owner's phone are the owner's and are kept."""
    query = select(Message).where(
        col(Message.status) == MessageStatus.SCHEDULED,
        col(Message.direction) == "outbound",
        col(Message.kind).not_in(TO_OWNER),
    )
    if customer_id is not None:
        query = query.where(col(Message.customer_id) == customer_id)
    if visit_id is not None:
        query = query.where(col(Message.visit_id) == visit_id)
    if keep_kinds:
        query = query.where(col(Message.kind).not_in(keep_kinds))
    count = 0
    for message in session.exec(query.with_for_update()):
        if states.cancel(message, reason):
            session.add(message)
            count += 1
    return count
