"""The tables. Every row that belongs to a business carries `business_id`."""

from __future__ import annotations

import secrets
from datetime import UTC, date, datetime
from enum import StrEnum

import sqlalchemy as sa
from sqlmodel import Field, SQLModel
from sqlmodel.sql.sqltypes import AutoString


def utcnow() -> datetime:
    return datetime.now(UTC)


# Referral codes: easy to say and to type on a phone, so no look-alikes (0/O, 1/I/l).
CODE_LETTERS = "ABCDEFGHJKMNPQRSTUVWXYZ"
CODE_DIGITS = "23456789"
CODE_LENGTH = 6


def new_referral_code() -> str:
    """Six characters, letters and at least two digits (so no code is an ordinary word)."""
    while True:
        code = "".join(secrets.choice(CODE_LETTERS + CODE_DIGITS) for _ in range(CODE_LENGTH))
        digits = sum(c in CODE_DIGITS for c in code)
        if 2 <= digits <= CODE_LENGTH - 2:
            return code


# Every id is an INTEGER column (32 bits on PostgreSQL): a larger one names no row, and the
# API, its document, the pages' URLs and the webhooks refuse it before any query.
MAX_ID = 2**31 - 1
# `id: int = Field(default=None, ...)`: None only until the row's first flush; every id code
# reads is a stored row's, so the type says int.


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def every_day(start: str = "09:00", end: str = "20:00") -> dict[str, list[dict[str, str]]]:
    """A week of opening hours with the same span every day (a new business's, and what
    every business had before it could set its own: its sending window)."""
    return {day: [{"open": start, "close": end}] for day in WEEKDAYS}


def table_of(model: type[SQLModel]) -> sa.Table:
    """A table model's Core table, for statements built below the ORM."""
    return model.__table__  # type: ignore[attr-defined]  # SQLModel sets it on table models


class UTCDateTime(sa.TypeDecorator):
    """Aware UTC datetimes in and out, on SQLite (which has no zones) and PostgreSQL alike."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class MessageStatus(StrEnum):
    """Where a text is. Outbound: scheduled -> sending -> sent -> delivered, or an end state;
    every move goes through app/care/states.py. Inbound texts are `received`."""

    SCHEDULED = "scheduled"
    SENDING = "sending"
    SENT = "sent"  # the provider accepted it
    DELIVERED = "delivered"
    FAILED = "failed"
    UNDELIVERED = "undelivered"
    CANCELED = "canceled"
    RECEIVED = "received"


class MessageKind(StrEnum):
    """What a text is for; automated kinds obey the consent, window and cap rules."""

    MANUAL = "manual"
    THANK_YOU = "thank_you"
    REVIEW_REQUEST = "review_request"
    REVIEW_REMINDER = "review_reminder"
    FEEDBACK_QUESTION = "feedback_question"
    EFFORT_QUESTION = "effort_question"  # "how easy was it to get this sorted?" (1-7)
    REFERRAL_ASK = "referral_ask"
    REFERRAL_REWARD = "referral_reward"
    REFERRAL_CONFIRMATION = "referral_confirmation"  # "Reply YES": a friend's own sign-up
    REFERRAL_WELCOME = "referral_welcome"  # the answer to a friend who texted a code
    AUTO_REPLY = "auto_reply"
    HELP = "help"
    ALERT = "alert"
    OPT_OUT_CONFIRMATION = "opt_out_confirmation"
    OPT_IN_CONFIRMATION = "opt_in_confirmation"
    FEEDBACK_THANKS = "feedback_thanks"
    AFTER_HOURS = "after_hours"
    MISSED_CALL = "missed_call"
    MILESTONE_THANK_YOU = "milestone_thank_you"  # the thank-you of a 5th, 10th, 25th visit
    ANNIVERSARY = "anniversary"  # a year (or more) since their first visit
    BIRTHDAY = "birthday"
    WINBACK = "winback"  # an overdue regular, once per lapse (app.care.moments)
    BROADCAST = "broadcast"  # one recipient's text of a broadcast (app.care.broadcasts)


class VisitStatus(StrEnum):
    COMPLETED = "completed"
    CANCELED = "canceled"
    BOOKED = "booked"  # an appointment still ahead: no follow-ups, not counted as a visit


class StrEnumType(sa.TypeDecorator):
    """A StrEnum kept in a VARCHAR column: plain strings in the database (no migration, no
    native enum type), members in Python."""

    impl = AutoString
    cache_ok = True

    def __init__(self, enum: type[StrEnum], length: int):
        super().__init__(length=length)
        self.enum = enum

    def process_bind_param(self, value, dialect):
        return None if value is None else str(value)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        try:
            return self.enum(value)
        except ValueError:  # a value written by a newer release: still readable
            return value


def enum_column(enum: type[StrEnum], length: int, default=None):
    return Field(default=default, sa_column=sa.Column(StrEnumType(enum, length), nullable=False))


def ts(nullable: bool = True, index: bool = False):
    return Field(default=None, sa_column=sa.Column(UTCDateTime(), nullable=nullable, index=index))


def created_ts():
    return Field(default_factory=utcnow, sa_column=sa.Column(UTCDateTime(), nullable=False))


class Business(SQLModel, table=True):
    __tablename__ = "business"

    id: int = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    number: str | None = Field(default=None, max_length=20, unique=True)
    messaging_service_sid: str | None = Field(default=None, max_length=34, unique=True)
    timezone: str = Field(default="America/New_York", max_length=64)
    window_start: str = Field(default="09:00", max_length=5)
    window_end: str = Field(default="20:00", max_length=5)
    send_rate_per_second: float = Field(default=1.0)
    thank_you_delay_minutes: int = Field(default=30)
    daily_automated_cap: int = Field(default=1)
    # the contact budget (app.care.budget): promotional texts per customer per 30 days at most
    marketing_per_30_days: int = Field(default=4)
    review_url: str | None = Field(default=None, max_length=500)
    alert_phone: str | None = Field(default=None, max_length=20)
    # True when Twilio's own opt-out handling answers STOP/START (long codes, toll-free,
    # Messaging Services); False for setups where the app must confirm itself.
    provider_handles_opt_out: bool = Field(default=True)
    # care automation
    review_mode: str = Field(default="direct", max_length=10)  # direct | ask_first
    rating_scale: int = Field(default=5)  # ask-first question: 5 (1-5 stars) or 10 (0-10, NPS)
    review_cooldown_days: int = Field(default=180)
    review_reminder_days: int = Field(default=3)
    unanswered_alert_minutes: int = Field(default=30)
    after_hours_reply: bool = Field(default=True)
    missed_call_textback: bool = Field(default=True)
    # Missed-call text-back texts mobiles in these ISO countries only (None: the country of the
    # business's own number), at most this many an hour: a text back must not be pumpable.
    missed_call_countries: list[str] | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    missed_call_hourly_limit: int = Field(default=20)
    # an open complaint holds the review request until the owner answers, this long at most
    review_hold_days: int = Field(default=3)
    # referrals: the ask N days after a visit (sooner after a 4-5 rating or an opened review
    # link), once per customer per cooldown; an offer for friends makes the ask promotional
    referral_asks: bool = Field(default=True)
    referral_ask_days: int = Field(default=7)
    referral_cooldown_days: int = Field(default=90)
    referral_offer: str | None = Field(default=None, max_length=160)  # what a friend gets
    referral_reward: str | None = Field(default=None, max_length=160)  # what the referrer gets
    referral_hourly_limit: int = Field(default=30)  # new friends an hour, per business
    # customer effort: when the owner marks a conversation handled, ask the next day how easy
    # it was to get sorted (1-7)
    ces_enabled: bool = Field(default=False)
    # overdue (app.care.facts): a regular (3+ visits) once their usual gap times the factor has
    # passed, at least the floor; someone with fewer visits after the fixed number of days
    overdue_factor: float = Field(default=1.5)
    overdue_floor_days: int = Field(default=30)
    overdue_fixed_days: int = Field(default=90)
    # moments (app.care.moments): the visits whose thank-you is a milestone one (then every
    # `milestone_every`th; 0: none after the list), with an optional reward (promotional); the
    # anniversary of the first visit and the birthday (N days before), each off by default,
    # with an optional offer that makes them promotional
    milestone_visits: list[int] = Field(default_factory=lambda: [5, 10, 25],
                                        sa_column=sa.Column(sa.JSON, nullable=False))  # fmt: skip
    milestone_every: int = Field(default=25)
    milestone_reward: str | None = Field(default=None, max_length=160)
    anniversary_texts: bool = Field(default=False)
    birthday_texts: bool = Field(default=False)
    birthday_days_before: int = Field(default=0)
    moment_offer: str | None = Field(default=None, max_length=160)
    # the automatic win-back text to an overdue customer, off by default; an offer in it
    # makes it promotional
    winback_texts: bool = Field(default=False)
    winback_offer: str | None = Field(default=None, max_length=160)
    # broadcasts: at most this many of their texts per local day from the sending number (the
    # carriers' daily limits: about 2,000 for a young brand, 1,000 for a sole proprietor)
    broadcast_daily_cap: int = Field(default=2000)
    # Opening hours, when someone is there to answer (not the sending window): per weekday
    # its spans {"monday": [{"open": "09:00", "close": "17:00"}], ...}, [] when closed; and
    # closed dates [{"date": "2026-12-25", "name": "Christmas Day"}] (app.care.hours).
    opening_hours: dict = Field(default_factory=every_day,
                                sa_column=sa.Column(sa.JSON, nullable=False))  # fmt: skip
    holidays: list[dict] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    created_at: datetime = created_ts()


class ServiceNumber(SQLModel, table=True):
    """A number inside a business's Messaging Service, as the provider listed it: no other
    business may take it as its own sending number."""

    __tablename__ = "service_number"

    number: str = Field(primary_key=True, max_length=20)
    business_id: int = Field(foreign_key="business.id", index=True)
    messaging_service_sid: str = Field(max_length=34)


class User(SQLModel, table=True):
    __tablename__ = "app_user"

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    email: str = Field(max_length=254, unique=True)
    password_hash: str = Field(max_length=255)
    role: str = Field(default="owner", max_length=10)  # owner | staff
    name: str = Field(default="", max_length=80)
    active: bool = Field(default=True)
    # Bumped by "sign out everywhere": every session cookie carries the version it began in.
    session_version: int = Field(default=0)
    # How alerts reach this person: texts to the business's alert phone, notifications on
    # their own devices (Web Push), or both (app.care.push).
    alert_by: str = Field(
        default="text", sa_column=sa.Column(sa.String(4), nullable=False, server_default="text")
    )
    created_at: datetime = created_ts()


class SignInLock(SQLModel, table=True):
    """An email locked after repeated failed sign-ins; each lockout is longer than the last."""

    __tablename__ = "sign_in_lock"

    email: str = Field(primary_key=True, max_length=254)
    locked_until: datetime = ts(nullable=False)
    lockouts: int = Field(default=1)  # in a row, within LOCKOUT_MEMORY
    last_lockout_at: datetime = ts(nullable=False)


class RateCounter(SQLModel, table=True):
    """A rate limit's fixed-window counter, shared by every web process (the limits
    library's storage when no Redis is configured)."""

    __tablename__ = "rate_counter"

    key: str = Field(primary_key=True, max_length=200)
    count: int = Field(default=0)
    expires_at: float = Field(default=0.0, index=True)  # unix seconds


class SignInAttempt(SQLModel, table=True):
    """Failed sign-ins, shared by every web process, for throttling."""

    __tablename__ = "sign_in_attempt"
    __table_args__ = (
        sa.Index("ix_sign_in_attempt_email_time", "email", "created_at"),
        sa.Index("ix_sign_in_attempt_addr_time", "remote_addr", "created_at"),
    )

    id: int = Field(default=None, primary_key=True)
    email: str = Field(max_length=254)
    remote_addr: str = Field(default="", max_length=64)
    created_at: datetime = created_ts()


class ApiKey(SQLModel, table=True):
    __tablename__ = "api_key"

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    prefix: str = Field(max_length=16)
    key_hash: str = Field(max_length=64, unique=True)
    label: str = Field(default="", max_length=80)
    created_at: datetime = created_ts()
    last_used_at: datetime | None = ts()
    revoked_at: datetime | None = ts()


class Customer(SQLModel, table=True):
    __tablename__ = "customer"
    __table_args__ = (
        sa.UniqueConstraint("business_id", "phone", name="uq_customer_business_phone"),
        sa.Index("ix_customer_business_activity", "business_id", "last_activity_at"),
        sa.Index("ix_customer_needs_reply", "needs_reply", "last_inbound_at"),
        # unique everywhere (so unique in each business): /r/<code> names the business too
        sa.Index("uq_customer_referral_code", "referral_code", unique=True),
        sa.Index("ix_customer_business_created", "business_id", "created_at"),
        # the Overdue list and the API's ?overdue=true / sort=last_visit
        sa.Index("ix_customer_business_overdue", "business_id", "overdue_at"),
        sa.Index("ix_customer_business_last_visit", "business_id", "last_visit_at"),
        # the daily planning run (app.care.moments): birthdays, anniversaries, heads-ups
        sa.Index("ix_customer_business_birthday", "business_id", "birthday"),
        sa.Index("ix_customer_business_first_visit", "business_id", "first_visit_at"),
        sa.Index("ix_customer_milestone_heads_up", "milestone_heads_up_at"),
    )

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    phone: str = Field(max_length=20)
    name: str = Field(default="", max_length=120)
    email: str | None = Field(default=None, max_length=254)
    tags: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    consent: str = Field(default="unknown", max_length=10)  # granted | unknown | opted_out
    consent_source: str | None = Field(default=None, max_length=40)
    consent_at: datetime | None = ts()
    opted_out_at: datetime | None = ts()
    # Consent to promotional texts (offers, rewards): express written consent, kept apart.
    marketing_consent: str = Field(default="unknown", max_length=10)
    marketing_consent_source: str | None = Field(default=None, max_length=40)
    marketing_consent_at: datetime | None = ts()
    # given when the row is made in Python (app.care.customers), or on first need for a row
    # the inbound webhook made: the hot path never retries a code that happened to be taken
    referral_code: str | None = Field(default=None, max_length=12)
    # the customer (of the same business) whose code brought them; no foreign key, so adding
    # it never rebuilds this table (SQLite) under every text and visit that points at it
    referred_by: int | None = Field(default=None)
    number_status: str = Field(default="ok", max_length=12)  # ok | invalid | landline
    introduced_at: datetime | None = ts()  # first text that named the business and opt-out
    last_inbound_at: datetime | None = ts()
    last_activity_at: datetime | None = ts()
    # the inbox: kept on the customer so the list never aggregates the message table
    last_message_preview: str = Field(default="", max_length=160)
    unread_count: int = Field(default=0)
    needs_reply: bool = Field(default=False)
    handled_at: datetime | None = ts()
    notes: str = Field(default="", sa_column=sa.Column(sa.Text, nullable=False, default=""))
    # what the business knows from their visits (app.care.facts, kept where visits are
    # recorded or canceled, so no page aggregates the visit table); completed visits only
    visit_count: int = Field(default=0)
    first_visit_at: datetime | None = ts()
    last_visit_at: datetime | None = ts()
    usual_gap_days: float | None = Field(default=None)  # median gap, from the 3rd visit
    total_spent_cents: int | None = Field(default=None)  # of visits with an amount
    favourite_staff: str | None = Field(default=None, max_length=80)
    booked_until: datetime | None = ts()  # their latest booked visit (overdue waits for it)
    overdue_at: datetime | None = ts()  # last visit + the business's overdue threshold
    birthday: str | None = Field(default=None, max_length=5)  # "MM-DD", no year
    awaiting_birthday_until: datetime | None = ts()  # the owner asked for it: a reply is read
    # moments: when the owner hears the next visit is a milestone, the last one they heard
    # about, and the year each yearly text last went (so never twice a year)
    milestone_heads_up_at: datetime | None = ts()
    milestone_alerted: int | None = Field(default=None)
    anniversary_year: int | None = Field(default=None)
    birthday_year: int | None = Field(default=None)
    winback_for: datetime | None = ts()  # the last visit of the lapse a win-back went for
    # care automation
    awaiting_rating_until: datetime | None = ts()  # a 1-5 question is open until then
    awaiting_effort_until: datetime | None = ts()  # the 1-7 "how easy" question is open
    unhappy_at: datetime | None = ts()
    complaint_answered_at: datetime | None = ts()  # the owner wrote back after unhappy_at
    last_review_request_at: datetime | None = ts()
    last_owner_alert_at: datetime | None = ts()
    last_after_hours_at: datetime | None = ts()
    last_missed_call_at: datetime | None = ts()
    created_at: datetime = created_ts()

    @property
    def first_name(self) -> str:
        return (self.name or "").split(" ")[0]

    @property
    def total_spent(self) -> float | None:
        return self.total_spent_cents / 100 if self.total_spent_cents is not None else None


class ConsentEvent(SQLModel, table=True):
    __tablename__ = "consent_event"

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    customer_id: int = Field(foreign_key="customer.id", index=True)
    kind: str = Field(default="texts", max_length=10)  # texts | marketing
    consent: str = Field(max_length=10)
    source: str = Field(max_length=40)  # form | api | import | keyword | carrier | inbound
    detail: str = Field(default="", max_length=200)
    created_at: datetime = created_ts()


class OptedOutNumber(SQLModel, table=True):
    """A number that opted out of a business's texts. The opt-out stays with the number
    whatever happens to customer rows; only a START from the number removes it."""

    __tablename__ = "opted_out_number"

    business_id: int = Field(foreign_key="business.id", primary_key=True)
    phone: str = Field(primary_key=True, max_length=20)
    opted_out_at: datetime = ts(nullable=False)
    source: str = Field(max_length=40)  # keyword | carrier | owner | import | ...


class Visit(SQLModel, table=True):
    __tablename__ = "visit"
    __table_args__ = (
        sa.Index("ix_visit_business_customer", "business_id", "customer_id"),
        sa.Index("ix_visit_business_time", "business_id", "occurred_at"),
    )

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    customer_id: int = Field(foreign_key="customer.id")
    occurred_at: datetime = ts(nullable=False)
    staff: str | None = Field(default=None, max_length=80)
    amount_cents: int | None = Field(default=None)
    status: VisitStatus = enum_column(VisitStatus, 10, default=VisitStatus.COMPLETED)
    source: str = Field(default="api", max_length=10)
    created_at: datetime = created_ts()


class Feedback(SQLModel, table=True):
    """A rating or a sentiment read from a customer's reply."""

    __tablename__ = "feedback"
    __table_args__ = (sa.Index("ix_feedback_business_time", "business_id", "created_at"),)

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    customer_id: int = Field(foreign_key="customer.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visit.id", index=True)
    message_id: int | None = Field(default=None, foreign_key="message.id")
    staff: str | None = Field(default=None, max_length=80)
    score: int | None = Field(default=None)  # on `scale`
    scale: int | None = Field(default=None)  # 5 (CSAT stars) or 10 (NPS, 0-10)
    sentiment: float | None = Field(default=None)  # -1 .. 1
    unhappy: bool = Field(default=False)
    # why the reply reads as unhappy, in the owner's words ("rated 2 of 5", "says the wait was
    # long"), and the kinds of complaint (result, wait, price, ...)
    reasons: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    topics: list[str] = Field(default_factory=list, sa_column=sa.Column(sa.JSON, nullable=False))
    language: str = Field(default="en", max_length=5)
    suggested_reply: str | None = Field(default=None, max_length=320)
    # the owner said the unhappy flag was wrong: counted, and the flag cleared
    dismissed_at: datetime | None = ts()
    dismissed_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_ts()


class TrackedLink(SQLModel, table=True):
    """A short link on our own domain that records who opened it."""

    __tablename__ = "tracked_link"
    __table_args__ = (sa.Index("ix_tracked_link_business_time", "business_id", "created_at"),)

    id: int = Field(default=None, primary_key=True)
    token: str = Field(max_length=32, unique=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    customer_id: int = Field(foreign_key="customer.id", index=True)
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    kind: str = Field(default="review", max_length=16)
    target_url: str = Field(max_length=500)
    broadcast_id: int | None = Field(default=None, foreign_key="broadcast.id", index=True)
    opened_at: datetime | None = ts()
    open_count: int = Field(default=0)
    created_at: datetime = created_ts()


class BusinessTemplate(SQLModel, table=True):
    """A business's own copy of a default text."""

    __tablename__ = "business_template"
    __table_args__ = (sa.UniqueConstraint("business_id", "kind", name="uq_template_kind"),)

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    kind: str = Field(max_length=32)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    updated_at: datetime = created_ts()


class StaffMember(SQLModel, table=True):
    """A name on the business's staff list: offered in the visit form and counted on the
    dashboard. Names are unique per business whatever their case (`name_key`); a team member
    who signs in is linked through `user_id`, someone who never signs in has none."""

    __tablename__ = "staff_member"
    __table_args__ = (sa.UniqueConstraint("business_id", "name_key"),)

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    name: str = Field(max_length=80)
    name_key: str = Field(max_length=160)  # the name folded and case-folded
    user_id: int | None = Field(default=None, foreign_key="app_user.id", unique=True)
    active: bool = Field(default=True)
    created_at: datetime = created_ts()


class SavedReply(SQLModel, table=True):
    """An answer the owner's team writes once and picks in the composer."""

    __tablename__ = "saved_reply"

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    title: str = Field(max_length=60)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    created_at: datetime = created_ts()


class Photo(SQLModel, table=True):
    """A photo the owner attached to a text: the bytes live here, so every web process can
    serve them to the carrier at /media/<token> (a long random token, nothing lists them)."""

    __tablename__ = "photo"

    id: int = Field(default=None, primary_key=True)
    token: str = Field(max_length=64, unique=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    customer_id: int = Field(foreign_key="customer.id")
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    content_type: str = Field(max_length=32)
    size: int
    width: int
    height: int
    data: bytes = Field(sa_column=sa.Column(sa.LargeBinary, nullable=False))
    created_at: datetime = created_ts()


class Message(SQLModel, table=True):
    """One text, either direction. Outbound rows move forward through the state machine."""

    __tablename__ = "message"
    __table_args__ = (
        sa.Index("ix_message_conversation", "business_id", "customer_id", "id"),
        sa.Index("ix_message_due", "status", "send_at"),
        sa.Index("ix_message_visit", "visit_id"),
        # the dashboard: a business's texts by when they were written and when they went
        sa.Index("ix_message_business_time", "business_id", "created_at"),
        sa.Index("ix_message_business_sent", "business_id", "sent_at"),
        # texts to one number: a STOP cancels them all, the alert phone's last outcome
        sa.Index("ix_message_recipient", "to_number", "id"),
        # missed-call text-backs per business and hour, without indexing every other text
        # a broadcast's texts (its report, pause and resume) and each recipient's one text
        sa.Index("ix_message_broadcast", "broadcast_id", "status"),
        sa.Index(
            "uq_message_broadcast_recipient",
            "broadcast_id",
            "customer_id",
            unique=True,
            sqlite_where=sa.text("direction = 'outbound'"),
            postgresql_where=sa.text("direction = 'outbound'"),
        ),
        sa.Index(
            "ix_message_missed_call",
            "business_id",
            "created_at",
            sqlite_where=sa.text("kind = 'missed_call'"),
            postgresql_where=sa.text("kind = 'missed_call'"),
        ),
    )

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    customer_id: int = Field(foreign_key="customer.id")
    direction: str = Field(max_length=8)  # inbound | outbound
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    kind: MessageKind = enum_column(MessageKind, 24, default=MessageKind.MANUAL)
    status: MessageStatus = enum_column(MessageStatus, 12)
    provider_status: str | None = Field(default=None, max_length=24)
    provider_sid: str | None = Field(default=None, max_length=40, unique=True)
    error_code: int | None = Field(default=None)
    error_message: str | None = Field(default=None, max_length=300)
    segments: int = Field(default=1)
    encoding: str = Field(default="GSM-7", max_length=6)
    from_number: str | None = Field(default=None, max_length=20)
    to_number: str | None = Field(default=None, max_length=20)
    media_urls: list | None = Field(
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    cause: str = Field(default="user", max_length=10)  # visit | user | inbound | system
    # carries an offer or a reward: needs marketing consent, whatever its kind
    promotional: bool = Field(default=False)
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    # a broadcast's text to this customer, or a reply that answers one
    broadcast_id: int | None = Field(default=None, foreign_key="broadcast.id")
    send_at: datetime | None = ts()
    # why a planned text was held, moved or skipped, in plain words (shown in the thread)
    reason: str | None = Field(default=None, max_length=200)
    attempts: int = Field(default=0)
    lease_until: datetime | None = ts()
    leased_by: str | None = Field(default=None, max_length=64)
    last_attempt_at: datetime | None = ts()
    sent_at: datetime | None = ts()
    delivered_at: datetime | None = ts()
    created_at: datetime = created_ts()


class BroadcastState(StrEnum):
    SCHEDULED = "scheduled"  # waits for its start
    SENDING = "sending"  # its texts are being written and sent
    PAUSED = "paused"  # by the owner, or by itself when it could not make progress
    CANCELED = "canceled"
    DONE = "done"  # every recipient has a text or a reason


class Broadcast(SQLModel, table=True):
    """One text to a segment of customers (app.care.broadcasts). Its recipients' texts are
    written into the outbox in batches as it advances, from `cursor` (the last customer id it
    considered), so no transaction and no process ever holds them all."""

    __tablename__ = "broadcast"
    __table_args__ = (
        sa.Index("ix_broadcast_business", "business_id", "id"),
        sa.Index("ix_broadcast_due", "state", "next_batch_at"),
    )

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    title: str = Field(max_length=80)
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    promotional: bool = Field(default=False)  # an offer: marketing consent needed
    segment: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    per_hour: int | None = Field(default=None)  # at most this many texts an hour
    state: BroadcastState = enum_column(BroadcastState, 10)
    start_at: datetime = ts(nullable=False)
    next_batch_at: datetime | None = ts()  # when its next batch may be written
    cursor: int = Field(default=0)
    eligible: int = Field(default=0)  # texts written
    skipped: int = Field(default=0)  # recipients left out, each with its reason
    failed_in_row: int = Field(default=0)  # failures since its last accepted text
    paused_reason: str | None = Field(default=None, max_length=300)
    paused_by: str | None = Field(default=None, max_length=10)  # owner | system
    user_id: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_ts()
    finished_at: datetime | None = ts()


class BroadcastSkip(SQLModel, table=True):
    """A customer of a broadcast's segment who gets no text, and why (in plain words)."""

    __tablename__ = "broadcast_skip"

    broadcast_id: int = Field(foreign_key="broadcast.id", primary_key=True)
    customer_id: int = Field(foreign_key="customer.id", primary_key=True)
    reason: str = Field(max_length=200)


class ReferralState(StrEnum):
    LEAD = "lead"  # the friend arrived (a link sign-up, or a text with a code)
    CONVERTED = "converted"  # the friend's first visit was recorded
    REWARDED = "rewarded"  # the owner gave the referrer their reward


class Referral(SQLModel, table=True):
    """A friend who arrived through a customer's code: one per friend."""

    __tablename__ = "referral"
    __table_args__ = (
        sa.UniqueConstraint("business_id", "friend_id", name="uq_referral_friend"),
        sa.Index("ix_referral_business_time", "business_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    referrer_id: int = Field(foreign_key="customer.id", index=True)
    friend_id: int = Field(foreign_key="customer.id")
    state: ReferralState = enum_column(ReferralState, 10, default=ReferralState.LEAD)
    source: str = Field(max_length=10)  # link | text
    wants_marketing: bool = Field(default=False)  # ticked the offers box on the page
    confirmed_at: datetime | None = ts()  # a link sign-up answered YES
    converted_at: datetime | None = ts()
    visit_id: int | None = Field(default=None, foreign_key="visit.id")
    rewarded_at: datetime | None = ts()
    rewarded_by: int | None = Field(default=None, foreign_key="app_user.id")
    created_at: datetime = created_ts()


class DailyFigures(SQLModel, table=True):
    """One local day's dashboard figures, kept once the day can no longer change on its own
    (app.care.metrics): the counts add up over any range of days. `figures` is empty while
    the day is still to be counted again: a late change to one of its texts, links or
    visits empties it and counts a touch, so a count that began before the change is not kept.
    `signature` names what the figures were counted with (time zone, opening hours)."""

    __tablename__ = "daily_figures"

    business_id: int = Field(foreign_key="business.id", primary_key=True)
    day: date = Field(primary_key=True)
    signature: str = Field(default="", max_length=200)
    figures: str | None = Field(default=None, sa_type=sa.Text)  # JSON
    touches: int = Field(default=0)


class StatusCallback(SQLModel, table=True):
    """Every delivery callback as it arrived, matched or not."""

    __tablename__ = "status_callback"
    __table_args__ = (sa.Index("ix_status_callback_received_at", "received_at"),)

    id: int = Field(default=None, primary_key=True)
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    provider_sid: str = Field(max_length=40, index=True)
    status: str = Field(max_length=24)
    error_code: int | None = Field(default=None)
    applied: bool = Field(default=False)
    payload: dict = Field(default_factory=dict, sa_column=sa.Column(sa.JSON, nullable=False))
    received_at: datetime = created_ts()


class SenderPace(SQLModel, table=True):
    """The next free sending slot of one sending number, shared by every worker."""

    __tablename__ = "sender_pace"

    sender: str = Field(primary_key=True, max_length=40)
    next_slot_at: float = Field(default=0.0)  # unix seconds


class WebPushKey(SQLModel, table=True):
    """The installation's VAPID key pair for Web Push, made the first time push is needed
    (app.care.push.vapid_keys): one row, whatever the number of businesses."""

    __tablename__ = "web_push_key"

    name: str = Field(primary_key=True, max_length=16)  # "vapid"
    private_key: str = Field(max_length=100)  # the raw P-256 private key, base64url
    public_key: str = Field(max_length=100)  # the browser's applicationServerKey, base64url
    created_at: datetime = created_ts()


class PushSubscription(SQLModel, table=True):
    """One device of one user that takes notifications: what its browser's PushManager gave."""

    __tablename__ = "push_subscription"
    __table_args__ = (sa.UniqueConstraint("user_id", "endpoint", name="uq_push_user_endpoint"),)

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id", index=True)
    user_id: int = Field(foreign_key="app_user.id", index=True)
    endpoint: str = Field(max_length=1024)
    p256dh: str = Field(max_length=100)  # the browser's public key, base64url
    auth: str = Field(max_length=32)  # its 16-byte secret, base64url
    device: str = Field(default="", max_length=80)  # "Chrome on Android", from its browser
    created_at: datetime = created_ts()
    last_sent_at: datetime | None = ts()


class PushNotice(SQLModel, table=True):
    """A notification for one device, written in the same transaction as what caused it (a
    text in, an alert); the worker sends it. One per device and text: an alert about a text
    takes over the plain notice of that text."""

    __tablename__ = "push_notice"
    __table_args__ = (
        sa.UniqueConstraint("subscription_id", "message_id", name="uq_push_notice_text"),
        sa.Index("ix_push_notice_due", "state", "send_at"),
        sa.Index("ix_push_notice_created", "created_at"),
    )

    id: int = Field(default=None, primary_key=True)
    business_id: int = Field(foreign_key="business.id")
    subscription_id: int = Field(
        sa_column=sa.Column(
            sa.Integer, sa.ForeignKey("push_subscription.id", ondelete="CASCADE"),
            nullable=False,
        )
    )  # fmt: skip
    customer_id: int = Field(foreign_key="customer.id")
    message_id: int | None = Field(default=None, foreign_key="message.id")
    kind: str = Field(max_length=8)  # text | alert
    reason: str = Field(default="", max_length=200)  # an alert's why, in words
    excerpt: str = Field(default="", max_length=200)
    state: str = Field(default="pending", max_length=8)  # pending | sending | sent | failed
    attempts: int = Field(default=0)
    send_at: datetime = ts(nullable=False)
    lease_until: datetime | None = ts()
    error: str | None = Field(default=None, max_length=200)
    sent_at: datetime | None = ts()
    created_at: datetime = created_ts()


class SimulatedText(SQLModel, table=True):
    """What the simulated carrier carried: the simulated phone page reads this."""

    __tablename__ = "simulated_text"
    __table_args__ = (sa.Index("ix_simulated_text_handset", "handset", "id"),)

    id: int = Field(default=None, primary_key=True)
    sid: str = Field(max_length=40, unique=True)
    handset: str = Field(max_length=20)  # the customer's phone
    business_number: str = Field(max_length=40)
    direction: str = Field(max_length=12)  # to_handset | from_handset
    body: str = Field(sa_column=sa.Column(sa.Text, nullable=False))
    media_urls: list | None = Field(  # the pictures it carried (their URLs)
        default=None, sa_column=sa.Column(sa.JSON(none_as_null=True), nullable=True)
    )
    created_at: datetime = created_ts()


OUTBOUND_STATES = tuple(state for state in MessageStatus if state is not MessageStatus.RECEIVED)
TERMINAL_STATES = frozenset(
    {MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.UNDELIVERED,
     MessageStatus.CANCELED}
)  # fmt: skip
AUTOMATED_KINDS = frozenset(
    {MessageKind.THANK_YOU, MessageKind.REVIEW_REQUEST, MessageKind.REVIEW_REMINDER,
     MessageKind.FEEDBACK_QUESTION, MessageKind.EFFORT_QUESTION, MessageKind.REFERRAL_ASK,
     MessageKind.REFERRAL_REWARD, MessageKind.MILESTONE_THANK_YOU, MessageKind.ANNIVERSARY,
     MessageKind.BIRTHDAY, MessageKind.WINBACK, MessageKind.BROADCAST}
)  # fmt: skip
KINDS = frozenset(MessageKind)
