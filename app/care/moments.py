"""Moments worth a word: the owner's heads-up before a milestone visit, the anniversary of a
customer's first visit, their birthday, and a word to a regular who is overdue (win-back).

One planning run (the worker's sweep calls `plan_moments` every hour, so each business's day
is planned soon after its midnight) finds what is due with indexed reads only: heads-ups by
their stored moment, birthdays by their "MM-DD", anniversaries by first-visit ranges. Each is
claimed with one conditional UPDATE before anything is queued (the customer's
`milestone_alerted`, `anniversary_year`, `birthday_year`), in the same transaction as the text,
so the run may go again, or on two workers at once, and nobody hears twice. The texts are
queued as automated kinds: the consent, window and cap rules (and the contact budget) apply.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import and_, or_, update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from app.care import merge, texts
from app.care.automations import ALERT_EVERY, alert_owner
from app.care.facts import is_milestone, ordinal
from app.care.outbound import OutboundRefused, complaint_open, queue_text
from app.db import changed
from app.models import Business, Customer, MessageKind

BATCH = 500  # customers read at a time


@dataclass
class Planned:
    heads_ups: int = 0
    anniversaries: int = 0
    birthdays: int = 0
    winbacks: int = 0


def plan_moments(session: Session, *, now: datetime, base_url: str = "") -> Planned:
    """Everything due now: heads-ups, anniversaries and birthdays. Idempotent. Not committed
    (the worker's sweep commits)."""
    planned = Planned()
    planned.heads_ups = heads_ups(session, now=now, base_url=base_url)
    businesses = session.exec(
        select(Business).where(
            or_(
                col(Business.anniversary_texts).is_(True),
                col(Business.birthday_texts).is_(True),
                col(Business.winback_texts).is_(True),
            )
        )  # fmt: skip
    ).all()
    for business in businesses:
        today = now.astimezone(ZoneInfo(business.timezone)).date()
        if business.anniversary_texts:
            planned.anniversaries += anniversaries(session, business, today, now=now)
        if business.birthday_texts:
            planned.birthdays += birthdays(session, business, today, now=now)
        if business.winback_texts:
            planned.winbacks += winbacks(session, business, now=now)
    return planned


def _claim(session: Session, customer: Customer, column, value: int, **values) -> bool:
    """Set `column` to `value` on the customer if it is still below it: True for the one run
    that did (another run, or worker, finds it done)."""
    claimed = changed(session.execute(
        update(Customer)
        .where(col(Customer.id) == customer.id,
               or_(column.is_(None), column < value))
        .values({column.key: value, **values})
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
    if claimed:  # the row in memory as it now is in the database
        set_committed_value(customer, column.key, value)
        for name, new in values.items():
            set_committed_value(customer, name, new)
    return bool(claimed)


# ---- milestones: the owner's heads-up ----------------------------------------------------


def heads_up_words(customer: Customer, visit_number: int) -> str:
    """ "Sam's 10th visit is coming: anything special?" """
    whose = f"{customer.first_name}'s" if customer.first_name else "Their"
    return f"{whose} {ordinal(visit_number)} visit is coming: anything special?"


def heads_ups(session: Session, *, now: datetime, base_url: str = "") -> int:
    """Tell owners about customers whose next visit is a milestone, once per milestone."""
    due = session.exec(
        select(Customer, Business)
        .join(Business, col(Business.id) == col(Customer.business_id))
        .where(col(Customer.milestone_heads_up_at) <= now,
               col(Customer.consent) != "opted_out")
        .order_by(col(Customer.milestone_heads_up_at))
        .limit(BATCH)
    ).all()  # fmt: skip
    told = 0
    for customer, business in due:
        coming, before = customer.visit_count + 1, customer.milestone_alerted
        if not is_milestone(business, coming):  # the milestones changed since: none due
            customer.milestone_heads_up_at = None
            session.add(customer)
            continue
        if not _claim(session, customer, col(Customer.milestone_alerted), coming,
                      milestone_heads_up_at=None):  # fmt: skip
            continue
        if alert_owner(session, business, customer, "heads-up about",
                       heads_up_words(customer, coming), now=now, base_url=base_url):  # fmt: skip
            told += 1
        elif customer.last_owner_alert_at and customer.last_owner_alert_at > now - ALERT_EVERY:
            # alerted about them within the hour (at most one an hour): this one after it
            customer.milestone_alerted = before
            customer.milestone_heads_up_at = customer.last_owner_alert_at + ALERT_EVERY
            session.add(customer)
    return told


# ---- anniversaries and birthdays ----------------------------------------------------------


def _day_range(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time(), tzinfo=zone)
    return start, datetime.combine(day + timedelta(days=1), time(), tzinfo=zone)


def _same_day_in(year: int, today: date) -> list[date]:
    """The days in `year` whose anniversary is `today`: the same date, and Feb 29 of a leap
    year when today is Feb 28 of a year without one."""
    days = []
    try:
        days.append(today.replace(year=year))
    except ValueError:  # Feb 29 in a year without one: they were remembered on the 28th
        return []
    leap_day_missing = today.month == 2 and today.day == 28 and not _is_leap(today.year)
    if leap_day_missing and _is_leap(year):
        days.append(date(year, 2, 29))
    return days


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def years_words(years: int) -> str:
    return "a year" if years == 1 else f"{years} years"


def anniversaries(session: Session, business: Business, today: date, *, now: datetime) -> int:
    """The yearly text on the anniversary of each customer's first visit (in the business's
    calendar), from the first year on. Returns how many were queued."""
    zone = ZoneInfo(business.timezone)
    first = session.exec(
        select(sa.func.min(col(Customer.first_visit_at)))
        .where(col(Customer.business_id) == business.id)
    ).one()  # fmt: skip
    if first is None:
        return 0
    ranges = []
    for year in range(first.astimezone(zone).year, today.year):
        for day in _same_day_in(year, today):
            start, end = _day_range(day, zone)
            ranges.append(and_(col(Customer.first_visit_at) >= start,
                               col(Customer.first_visit_at) < end))  # fmt: skip
    if not ranges:
        return 0
    due = or_(*ranges)
    return _send_yearly(session, business, due, col(Customer.anniversary_year), today.year,
                        MessageKind.ANNIVERSARY, now=now, today=today)  # fmt: skip


def birthdays(session: Session, business: Business, today: date, *, now: datetime) -> int:
    """The birthday text, on the day or `birthday_days_before` it, once a year; a Feb 29
    birthday on Feb 28 in a year without one. Returns how many were queued."""
    day = today + timedelta(days=business.birthday_days_before)
    wanted = [f"{day.month:02d}-{day.day:02d}"]
    if day.month == 2 and day.day == 28 and not _is_leap(day.year):
        wanted.append("02-29")
    due = col(Customer.birthday).in_(wanted)
    return _send_yearly(session, business, due, col(Customer.birthday_year), day.year,
                        MessageKind.BIRTHDAY, now=now, today=today)  # fmt: skip


def _send_yearly(session, business, due, year_column, year: int, kind: MessageKind, *,
                 now: datetime, today: date) -> int:  # fmt: skip
    """Claim this year's text for every customer `due` who has not had it, and queue it."""
    sent = 0
    while True:
        customers = session.exec(
            select(Customer)
            .where(col(Customer.business_id) == business.id, due,
                   col(Customer.consent) == "granted",
                   or_(year_column.is_(None), year_column < year))
            .order_by(col(Customer.id))
            .limit(BATCH)
        ).all()  # fmt: skip
        for customer in customers:
            if _claim(session, customer, year_column, year) and _queue_moment(
                session, business, customer, kind, now=now, today=today
            ):
                sent += 1
        if len(customers) < BATCH:
            return sent


def _queue_moment(session, business, customer, kind: MessageKind, *, now: datetime,
                  today: date) -> bool:  # fmt: skip
    """Queue one anniversary or birthday text: with the business's offer (promotional) only
    for a customer who agreed to offers in writing, informational without it."""
    promotional = bool(business.moment_offer) and customer.marketing_consent == "granted"
    extra: dict[str, object] = {"offer": business.moment_offer if promotional else ""}
    if kind == MessageKind.ANNIVERSARY and customer.first_visit_at is not None:
        first = customer.first_visit_at.astimezone(ZoneInfo(business.timezone)).date()
        extra["years"] = years_words(today.year - first.year)
    fields = {**merge.fields_for(session, business, customer, now=now), **extra}
    body = texts.render_for(session, business, kind, **fields)
    try:
        queue_text(session, business, customer, body, kind, now=now, cause="system",
                   promotional=promotional)  # fmt: skip
    except OutboundRefused:
        return False  # no slot, a bad number: this year's goes no more
    return True


# ---- win-back: an overdue customer, once per lapse -----------------------------------------


# Only a lapse that began this recently: turning win-back on texts the customers who fall
# overdue from then on, never every customer who lapsed years ago at once (a broadcast).
WINBACK_WITHIN = timedelta(days=7)


def winbacks(session: Session, business: Business, *, now: datetime) -> int:
    """A "we have missed you" text to each customer who fell overdue in the last
    WINBACK_WITHIN (app.care.facts), once per lapse (a visit since starts a new one), never
    with a visit booked ahead or a complaint the owner has not answered. Read by the overdue
    index; claimed like the yearly texts."""
    sent = 0
    last_id = 0
    while True:
        customers = session.exec(
            select(Customer)
            .where(col(Customer.business_id) == business.id,
                   col(Customer.overdue_at) <= now,
                   col(Customer.overdue_at) > now - WINBACK_WITHIN,
                   col(Customer.id) > last_id,
                   col(Customer.consent) == "granted",
                   or_(col(Customer.booked_until).is_(None), col(Customer.booked_until) <= now),
                   or_(col(Customer.winback_for).is_(None),
                       col(Customer.winback_for) < col(Customer.last_visit_at)))
            .order_by(col(Customer.id))
            .limit(BATCH)
        ).all()  # fmt: skip
        for customer in customers:
            last_id = customer.id
            if complaint_open(customer) or customer.last_visit_at is None:
                continue  # the owner answers them first; the next run looks again
            if _claim_lapse(session, customer) and _queue_winback(session, business, customer,
                                                                  now=now):  # fmt: skip
                sent += 1
        if len(customers) < BATCH:
            return sent


def _claim_lapse(session: Session, customer: Customer) -> bool:
    """This lapse's win-back, for the one run that sets it (another finds it done)."""
    last_visit = customer.last_visit_at
    claimed = changed(session.execute(
        update(Customer)
        .where(col(Customer.id) == customer.id,
               or_(col(Customer.winback_for).is_(None),
                   col(Customer.winback_for) < col(Customer.last_visit_at)))
        .values(winback_for=col(Customer.last_visit_at))
        .execution_options(synchronize_session=False)
    ))  # fmt: skip
    if claimed:
        set_committed_value(customer, "winback_for", last_visit)
    return bool(claimed)


def _queue_winback(session, business, customer, *, now: datetime) -> bool:
    promotional = bool(business.winback_offer) and customer.marketing_consent == "granted"
    fields = {**merge.fields_for(session, business, customer, now=now),
              "offer": business.winback_offer if promotional else ""}  # fmt: skip
    body = texts.render_for(session, business, MessageKind.WINBACK, **fields)
    try:
        queue_text(session, business, customer, body, MessageKind.WINBACK, now=now,
                   cause="system", promotional=promotional)  # fmt: skip
    except OutboundRefused:
        return False
    return True
