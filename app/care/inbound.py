"""One inbound text, from the carrier's typed value to the owner's inbox."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, case
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from app.care import facts, missed_calls, push, referrals, texts
from app.care.automations import (
    AFTER_HOURS_EVERY,
    REPLY_CONTEXT,
    answer_after_hours,
    handle_reply,
    is_after_hours,
    not_sorted_yet,
)
from app.care.broadcasts import ANSWER_DAYS
from app.care.customers import find_or_create, set_consent
from app.care.keywords import HELP, OPT_IN, OPT_OUT_PLAIN, OPT_OUTS, bare_word, keyword_of
from app.care.outbound import cancel_pending, preview, queue_text
from app.care.reading import read_reply
from app.models import (
    Business,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
    OptedOutNumber,
    table_of,
)
from app.phones import as_written_by
from app.sms.encoding import segment_info
from app.sms.webhooks import InboundText, IncomingCall, Media


class UnknownBusiness(LookupError):
    """No business owns the number (or Messaging Service) the text was sent to."""


class BadInbound(ValueError):
    """The text or call cannot be taken: its sender is no phone number."""


@dataclass(frozen=True)
class InboundResult:
    message_id: int
    duplicate: bool
    keyword: str | None  # opt_out | opt_out_plain | opt_in | help | None


def _media_rows(media: tuple[Media, ...]) -> list[dict[str, str]] | None:
    """Attachments as the message row stores them."""
    if not media:
        return None
    return [{"url": m.url, "content_type": m.content_type} for m in media]


CUSTOMER_COLUMNS = ("business_id", "phone", "name", "tags", "number_status",
                    "created_at", "last_inbound_at", "last_activity_at", "last_message_preview",
                    "unread_count", "needs_reply", "notes")  # fmt: skip
ANSWER_WINDOW = timedelta(days=ANSWER_DAYS)
MESSAGE_COLUMNS = ("business_id", "customer_id", "direction", "body", "kind", "status",
                   "provider_sid", "segments", "encoding", "from_number", "to_number",
                   "media_urls", "cause", "attempts", "created_at")  # fmt: skip


@lru_cache(maxsize=4)
def _statements(dialect: str) -> dict:
    """The hot path's statements, built once per dialect and reused with parameters."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    customers, messages, businesses = (table_of(m) for m in (Customer, Message, Business))
    numbers = table_of(OptedOutNumber)
    # A new row for a number that opted out is opted out from its first text: one key lookup.
    opted_out_at = (
        select(numbers.c.opted_out_at)
        .where(numbers.c.business_id == bindparam("number_business"),
               numbers.c.phone == bindparam("number_phone"))
        .scalar_subquery()
    )  # fmt: skip
    values: dict[str, Any] = {c: bindparam(c) for c in CUSTOMER_COLUMNS}
    values["consent"] = case((opted_out_at.is_not(None), "opted_out"), else_="unknown")
    values["marketing_consent"] = case((opted_out_at.is_not(None), "opted_out"), else_="unknown")
    values["opted_out_at"] = opted_out_at
    values["consent_source"] = case((opted_out_at.is_not(None), "number"), else_=None)
    new_customer = insert(customers).values(values)
    upsert = new_customer.on_conflict_do_update(
        index_elements=[customers.c.business_id, customers.c.phone],
        set_={
            "last_inbound_at": new_customer.excluded.last_inbound_at,
            "last_activity_at": new_customer.excluded.last_activity_at,
            "last_message_preview": new_customer.excluded.last_message_preview,
            "unread_count": customers.c.unread_count + 1,
            "needs_reply": True,
            "handled_at": None,
        },
    ).returning(
        customers.c.id,
        customers.c.consent,
        customers.c.last_visit_at,
        customers.c.awaiting_rating_until,
        customers.c.awaiting_effort_until,
        customers.c.awaiting_birthday_until,
        customers.c.last_after_hours_at,
        customers.c.created_at,
        customers.c.unread_count,
    )
    # A reply to a broadcast answers it: the last text that went to them was the broadcast's,
    # within ANSWER_DAYS (one step back along the conversation's index).
    earlier = messages.alias("earlier")
    answered = (
        select(earlier.c.broadcast_id)
        .where(earlier.c.business_id == bindparam("business_id"),
               earlier.c.customer_id == bindparam("customer_id"),
               earlier.c.direction == "outbound",
               earlier.c.sent_at >= bindparam("answers_since"))
        .order_by(earlier.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )  # fmt: skip
    store = (
        insert(messages)
        .values({**{c: bindparam(c) for c in MESSAGE_COLUMNS}, "broadcast_id": answered})
        .on_conflict_do_nothing(index_elements=[messages.c.provider_sid])
        .returning(messages.c.id)
    )
    columns = (businesses.c.id, businesses.c.timezone, businesses.c.window_start,
               businesses.c.window_end, businesses.c.after_hours_reply,
               businesses.c.ces_enabled, businesses.c.opening_hours,
               businesses.c.holidays)  # fmt: skip
    return {
        "upsert_customer": upsert,
        "store_message": store,
        "business_by_number": sa.select(*columns).where(businesses.c.number == bindparam("key")),
        "business_by_service": sa.select(*columns).where(
            businesses.c.messaging_service_sid == bindparam("key")
        ),
        "message_by_sid": select(messages.c.id).where(messages.c.provider_sid == bindparam("sid")),
    }


class BusinessDirectory:
    """Who owns a receiving number, remembered for a few seconds per process.

    The webhook's first question on every text; numbers rarely change hands, and a change
    is seen everywhere within `ttl` seconds.
    """

    def __init__(self, ttl: float = 30.0, clock=time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._known: dict[tuple[str, str], tuple[float, object]] = {}

    def lookup(self, connection, statements, to: str, service: str):
        key = (to, service)
        hit = self._known.get(key)
        if hit is not None and hit[0] > self.clock():
            return hit[1]
        business = _find_business(connection, statements, to, service)
        if business is not None:
            if len(self._known) > 10_000:
                self._known.clear()
            self._known[key] = (self.clock() + self.ttl, business)
        return business


def _find_business(connection, statements, to: str, service: str):
    """A text through a Messaging Service is that service's business, whatever the `To`:
    a number can sit in one business's service while another typed it in as its own."""
    business = None
    if service:
        business = connection.execute(statements["business_by_service"], {"key": service}).first()
    if business is None and to:
        business = connection.execute(statements["business_by_number"], {"key": to}).first()
    return business


def receive_text(
    session: Session,
    text: InboundText,
    *,
    now: datetime,
    base_url: str = "",
    directory: BusinessDirectory | None = None,
) -> InboundResult:
    """Store an inbound text exactly once and act on it, in the caller's transaction (the
    caller commits).

    A plain reply costs three statements on one connection: find the business, upsert the
    customer, insert the text. A retry of a text already stored (its provider SID conflicts)
    rolls the transaction back, so the customer's unread count is not bumped twice, and
    returns the stored text with `duplicate` set: call this first in its unit of work.
    Keywords, feedback after a visit and after-hours answers then load the full objects.
    `base_url` is the app's public origin, for tracked links in any answer.
    """
    sid, to, phone, body = text.provider_sid, text.to, text.sender, text.body
    # Python work first: on SQLite the first statement takes the one write lock.
    info, media, keyword = segment_info(body), _media_rows(text.media), keyword_of(body)
    codes = referrals.codes_in(body) if keyword is None else []
    # Every reply is read (about 0.2 ms), so a complaint is heard however long after a visit.
    reading = read_reply(body) if keyword is None else None
    connection = session.connection()
    statements = _statements(connection.dialect.name)
    if directory is not None:
        business = directory.lookup(connection, statements, to, text.messaging_service_sid)
    else:
        business = _find_business(connection, statements, to, text.messaging_service_sid)
    if business is None:
        raise UnknownBusiness(f"no business owns {to or 'that number'}")
    if phone is None:
        raise BadInbound(text.sender_error or "the sender is not a phone number")
    customer = connection.execute(
        statements["upsert_customer"],
        {"business_id": business.id, "phone": phone, "name": "", "tags": [],
         "number_business": business.id, "number_phone": phone, "number_status": "ok",
         "created_at": now, "last_inbound_at": now, "last_activity_at": now,
         "last_message_preview": preview(body, len(text.media)), "unread_count": 1,
         "needs_reply": True, "notes": ""},
    ).one()  # fmt: skip
    message_id = connection.execute(
        statements["store_message"],
        {"business_id": business.id, "customer_id": customer.id, "direction": "inbound",
         "body": body, "kind": MessageKind.MANUAL, "status": MessageStatus.RECEIVED,
         "provider_sid": sid, "segments": info.segments, "encoding": info.encoding,
         "from_number": phone, "to_number": to or None, "media_urls": media,
         "cause": "inbound", "attempts": 0, "created_at": now,
         "answers_since": now - ANSWER_WINDOW},
    ).scalar_one_or_none()  # fmt: skip
    if message_id is None:
        # A retry of a text we already have (perhaps racing us): change nothing, same answer.
        # A rollback, not a savepoint: two more round trips on every text for the rare retry.
        session.rollback()
        existing = session.connection().execute(statements["message_by_sid"], {"sid": sid})
        return InboundResult(existing.scalar_one(), duplicate=True, keyword=None)
    welcomed = False
    if codes and _is_new(customer, now) and customer.consent != "opted_out":
        # A friend texting the code someone gave them: a lead, welcomed once.
        owner = session.get_one(Business, business.id)
        full = session.get_one(Customer, customer.id, populate_existing=True)
        welcomed = referrals.friend_texted_code(session, owner, full, codes, now=now)
    if keyword is None and business.ces_enabled:
        not_sorted_yet(session, business.id, customer.id)
    asked = customer.awaiting_birthday_until
    if keyword is None and asked is not None and asked > now:
        full = session.get_one(Customer, customer.id, populate_existing=True)
        if facts.read_birthday_answer(session, full, body):
            return InboundResult(message_id, duplicate=False, keyword=None)  # no rating in it
    if keyword is not None:
        owner = session.get_one(Business, business.id)
        full = session.get_one(Customer, customer.id, populate_existing=True)
        _act_on_keyword(session, owner, full, keyword, body, text.provider_opt_out, now)
    elif _needs_care(business, customer, now) or (
        reading is not None and reading.unhappy and customer.consent != "opted_out"
    ):
        owner = session.get_one(Business, business.id)
        full = session.get_one(Customer, customer.id, populate_existing=True)
        handle_reply(session, owner, full, message_id, body, now=now, base_url=base_url,
                     reading=reading)  # fmt: skip
        if not welcomed:  # one answer to a friend's first text
            answer_after_hours(session, owner, full, now=now)
    if keyword is None:  # (keywords are answered for the owner)
        # After any alert about this text, which its notice then leaves alone: one statement.
        push.notify_text(session, business_id=business.id, customer_id=customer.id,
                         message_id=message_id, body=body, now=now)  # fmt: skip
    return InboundResult(message_id, duplicate=False, keyword=keyword)


def missed_call_text_back(session: Session, call: IncomingCall, *, now: datetime) -> bool:
    """A call to a business number that nobody answered; True when a text back was queued.
    Only mobiles in the business's countries are texted, within its hourly limit
    (app.care.missed_calls); a caller refused for their number is not even stored. Not
    committed: the caller's unit of work commits."""
    connection = session.connection()
    business = connection.execute(
        _statements(connection.dialect.name)["business_by_number"], {"key": call.to}
    ).first()
    if business is None:
        raise UnknownBusiness(f"no business owns {call.to or 'that number'}")
    if call.caller is None:
        raise BadInbound(call.caller_error or "the caller is not a phone number")
    owner = session.get_one(Business, business.id)
    if not owner.missed_call_textback or missed_calls.why_not_text(owner, call.caller):
        return False
    customer, _ = find_or_create(session, owner, call.caller, now=now)
    if customer.consent == "opted_out":
        return False
    return missed_calls.text_back(session, owner, customer, now=now) is not None


def _is_new(customer, now: datetime) -> bool:
    """This text made the customer (on the columns the upsert returned)."""
    return customer.created_at == now and customer.unread_count == 1


def _needs_care(business, customer, now: datetime) -> bool:
    """Cheap test, on the columns the upsert returned, for whether a reply needs more work."""
    if customer.consent == "opted_out":
        return False
    if customer.awaiting_rating_until is not None and customer.awaiting_rating_until > now:
        return True
    if customer.awaiting_effort_until is not None and customer.awaiting_effort_until > now:
        return True
    if customer.last_visit_at is not None and customer.last_visit_at > now - REPLY_CONTEXT:
        return True
    if not business.after_hours_reply:
        return False
    recent = customer.last_after_hours_at
    if recent is not None and recent > now - AFTER_HOURS_EVERY:
        return False
    return is_after_hours(business, now)


def _act_on_keyword(session, business, customer, keyword, body, provider_opt_out, now) -> None:
    customer.needs_reply = False  # keywords are answered for the owner
    session.add(customer)
    provider_confirmed = business.provider_handles_opt_out or bool(provider_opt_out)
    phone = as_written_by(business.number, business.number) or None
    fields = {"business_name": business.name, "business_phone": phone}
    if keyword in OPT_OUTS:
        changed = set_consent(
            session, customer, "opted_out", source="keyword", now=now, detail=body[:200]
        )
        cancel_pending(
            session,
            customer_id=customer.id,
            reason="the customer opted out",
            keep_kinds=frozenset({MessageKind.OPT_OUT_CONFIRMATION}),
        )
        # Twilio confirms its own keywords; a plain-language opt-out it never saw.
        if changed and (keyword == OPT_OUT_PLAIN or not provider_confirmed):
            _reply(session, business, customer, MessageKind.OPT_OUT_CONFIRMATION, fields, now)
    elif (
        keyword == OPT_IN
        and customer.consent != "opted_out"
        and referrals.confirm_friend(session, business, customer, now=now)
    ):
        return  # a friend's own sign-up on the referral page, confirmed
    elif keyword == OPT_IN:
        was_opted_out = customer.consent == "opted_out"
        if was_opted_out or (bare_word(body) != "YES" and customer.consent == "unknown"):
            set_consent(session, customer, "granted", source="keyword", now=now, detail=body,
                        by_customer=True)  # fmt: skip
            if was_opted_out and not provider_confirmed:
                _reply(session, business, customer, MessageKind.OPT_IN_CONFIRMATION, fields, now)
    elif keyword == HELP and (
        customer.consent != "opted_out" or not business.provider_handles_opt_out
    ):
        _reply(session, business, customer, MessageKind.HELP, fields, now)


def _reply(session, business, customer, kind, fields, now) -> Message:
    return queue_text(
        session, business, customer, texts.render(kind, **fields), kind, now=now, cause="inbound"
    )
