"""What the business knows about each customer, from their visits: how many, the first and
the last, their usual gap (the median of the gaps, from the third visit), what they spent,
who they usually see, and whether they are overdue.

The facts are columns on the customer, refreshed by `refresh_facts` wherever a visit is
recorded, booked or canceled (app.care.visits, which the API, the owner's form and CSV
imports all go through), so no page aggregates the visit table. Overdue is stored as the
moment it begins (`overdue_at`), so the Overdue list is one indexed range.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col

from app.contract.rules import parse_birthday
from app.models import Business, Customer, Visit, VisitStatus

REGULAR_VISITS = 3  # from the third visit a customer has a rhythm of their own
OVERDUE_SETTINGS = ("overdue_factor", "overdue_floor_days", "overdue_fixed_days")
DAY_SECONDS = 86_400


@dataclass(frozen=True)
class Facts:
    visit_count: int = 0
    first_visit_at: datetime | None = None
    last_visit_at: datetime | None = None
    usual_gap_days: float | None = None
    total_spent_cents: int | None = None
    favourite_staff: str | None = None
    booked_until: datetime | None = None


def facts_of(
    visits: list[tuple[datetime, str | None, int | None]], booked: Sequence[datetime] = ()
) -> Facts:
    """The facts of completed visits (occurred_at, staff, amount_cents), oldest first, and
    of the times of booked ones."""
    if not visits:
        return Facts(booked_until=max(booked, default=None))
    times = [when for when, _, _ in visits]
    gaps = [(b - a).total_seconds() / DAY_SECONDS for a, b in zip(times, times[1:], strict=False)]
    amounts = [amount for _, _, amount in visits if amount is not None]
    # most visits; a tie goes to whoever they saw most recently
    seen = Counter(staff for _, staff, _ in visits if staff)
    latest = {staff: index for index, (_, staff, _) in enumerate(visits) if staff}
    favourite = max(seen, key=lambda staff: (seen[staff], latest[staff])) if seen else None
    return Facts(
        visit_count=len(visits),
        first_visit_at=times[0],
        last_visit_at=times[-1],
        usual_gap_days=round(statistics.median(gaps), 2) if len(visits) >= REGULAR_VISITS
        else None,
        total_spent_cents=sum(amounts) if amounts else None,
        favourite_staff=favourite,
        booked_until=max(booked, default=None),
    )  # fmt: skip


def overdue_after(business: Business, visit_count: int, usual_gap_days: float | None) -> float:
    """Days after the last visit when a customer is overdue: a regular's own gap times the
    factor (at least the floor), or the fixed number of days with fewer visits."""
    if visit_count >= REGULAR_VISITS and usual_gap_days is not None:
        return max(usual_gap_days * business.overdue_factor, float(business.overdue_floor_days))
    return float(business.overdue_fixed_days)


def overdue_from(business: Business, facts: Facts) -> datetime | None:
    if facts.last_visit_at is None:
        return None
    days = overdue_after(business, facts.visit_count, facts.usual_gap_days)
    return facts.last_visit_at + timedelta(days=days)


def overdue_now(overdue_at: datetime | None, booked_until: datetime | None, now: datetime
                ) -> bool:  # fmt: skip
    """Past their overdue moment, with no booked visit still ahead."""
    if overdue_at is None or overdue_at > now:
        return False
    return booked_until is None or booked_until <= now


def is_overdue(customer: Customer, now: datetime) -> bool:
    return overdue_now(customer.overdue_at, customer.booked_until, now)


def overdue_clause(now: datetime):
    """`is_overdue` as SQL, for lists (the index on business_id, overdue_at answers it)."""
    return and_(
        col(Customer.overdue_at) <= now,
        or_(col(Customer.booked_until).is_(None), col(Customer.booked_until) <= now),
    )


HEADS_UP_BEFORE = timedelta(days=1)  # the owner hears of a milestone the day before it


def is_milestone(business: Business, visit_count: int) -> bool:
    """Is this visit (the customer's `visit_count`th) one of the business's milestones: one of
    its list (default 5th, 10th, 25th), or beyond it a multiple of `milestone_every`?"""
    listed = business.milestone_visits or []
    if visit_count in listed:
        return True
    every = business.milestone_every
    return every > 0 and visit_count > max(listed, default=0) and visit_count % every == 0


def milestone_words(business: Business) -> str:
    """The milestones as the owner says them: 5th, 10th, 25th, then every 25th."""
    words = [ordinal(number) for number in business.milestone_visits or []]
    if business.milestone_every > 0:
        words.append(f"then every {ordinal(business.milestone_every)}")
    return ", ".join(words)


def heads_up_from(business: Business, facts: Facts, alerted: int | None) -> datetime | None:
    """When the owner hears that the customer's next visit is a milestone: the day before a
    booked visit, else a day before their usual gap is up; None when the next visit is no
    milestone, the owner heard of it already, or there is no telling when it will be."""
    coming = facts.visit_count + 1
    if not is_milestone(business, coming) or (alerted or 0) >= coming:
        return None
    if facts.booked_until is not None and (
        facts.last_visit_at is None or facts.booked_until > facts.last_visit_at
    ):
        return facts.booked_until - HEADS_UP_BEFORE
    if facts.last_visit_at is not None and facts.usual_gap_days is not None:
        return facts.last_visit_at + timedelta(days=facts.usual_gap_days) - HEADS_UP_BEFORE
    return None


def refresh_facts(session: Session, business: Business, customer: Customer) -> Facts:
    """Count the customer's visits again and keep the facts on the row (one indexed read of
    their visits). Call it after any change to their visits."""
    session.flush()
    rows = session.execute(
        sa.select(col(Visit.occurred_at), col(Visit.staff), col(Visit.amount_cents),
                  col(Visit.status))
        .where(col(Visit.business_id) == business.id, col(Visit.customer_id) == customer.id,
               col(Visit.status) != VisitStatus.CANCELED)
        .order_by(col(Visit.occurred_at), col(Visit.id))
    ).all()  # fmt: skip
    done = [(when, staff, amount) for when, staff, amount, status in rows
            if status == VisitStatus.COMPLETED]  # fmt: skip
    booked = [when for when, _, _, status in rows if status == VisitStatus.BOOKED]
    facts = facts_of(done, booked)
    for name, value in facts.__dict__.items():
        setattr(customer, name, value)
    customer.overdue_at = overdue_from(business, facts)
    customer.milestone_heads_up_at = heads_up_from(business, facts, customer.milestone_alerted)
    session.add(customer)
    return facts


def refresh_overdue(session: Session, business: Business) -> None:
    """The business's overdue settings changed: every customer's overdue moment again, in one
    statement (SQLite and PostgreSQL add days to a time differently)."""
    regular = and_(col(Customer.visit_count) >= REGULAR_VISITS,
                   col(Customer.usual_gap_days).is_not(None))  # fmt: skip
    scaled = col(Customer.usual_gap_days) * business.overdue_factor
    floor = float(business.overdue_floor_days)
    days = sa.case(
        (and_(regular, scaled > floor), scaled),
        (regular, sa.literal(floor)),
        else_=sa.literal(float(business.overdue_fixed_days)),
    )
    moment: sa.ColumnElement
    if session.get_bind().dialect.name == "sqlite":
        # the format SQLAlchemy stores (microseconds: %f gives milliseconds, then 000)
        shift = sa.literal("+") + sa.cast(days * DAY_SECONDS, sa.String) + sa.literal(" seconds")
        moment = sa.func.strftime("%Y-%m-%d %H:%M:%f000", col(Customer.last_visit_at), shift)
    else:
        moment = col(Customer.last_visit_at) + days * sa.text("interval '1 day'")
    session.execute(
        update(Customer)
        .where(col(Customer.business_id) == business.id, col(Customer.last_visit_at).is_not(None))
        .values(overdue_at=moment)
        .execution_options(synchronize_session=False)
    )
    session.expire_all()


# ---- birthdays by text ----------------------------------------------------------------------

BIRTHDAY_ANSWER_DAYS = 7  # how long a reply to the owner's question is read as the answer


def birthday_question(business: Business, customer: Customer) -> str:
    """The owner's question, for the composer (the owner sends it, and may change it)."""
    hello = f"Hi {customer.first_name}," if customer.first_name else "Hi,"
    return (f"{hello} when is your birthday? Just the day and month, e.g. March 3, and we "
            f"will remember it at {business.name}.")  # fmt: skip


def asked_birthday(customer: Customer, *, now: datetime) -> None:
    """The owner texted the question: their replies for a week are read as the answer."""
    customer.awaiting_birthday_until = now + timedelta(days=BIRTHDAY_ANSWER_DAYS)


def read_birthday_answer(session: Session, customer: Customer, body: str) -> bool:
    """A reply to the open birthday question: True when it was a birthday (kept, and the
    question closed); anything else leaves the question open and is read as usual."""
    try:
        customer.birthday = parse_birthday(body)
    except ValueError:
        return False
    customer.awaiting_birthday_until = None
    session.add(customer)
    return True


# ---- in words -----------------------------------------------------------------------------


def ordinal(number: int) -> str:
    """1st, 2nd, 3rd, 4th, 11th, 21st."""
    if 10 <= number % 100 <= 20:
        return f"{number}th"
    return f"{number}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(number % 10, 'th') }"


def gap_words(days: float | None) -> str:
    """A usual gap the way the owner says it: every 5 days, every 3 weeks, every 2 months."""
    if days is None:
        return ""
    if days < 1.5:
        return "every day"
    if days < 6.5:
        return f"every {round(days)} days"
    if days < 60:
        weeks = round(days / 7)
        return "every week" if weeks == 1 else f"every {weeks} weeks"
    months = round(days / 30.44)
    if months >= 12:
        years = round(days / 365.25)
        return "every year" if years == 1 else f"every {years} years"
    return "every month" if months == 1 else f"every {months} months"


def fact_words(visit_count: int, usual_gap_days: float | None, favourite_staff: str | None
               ) -> list[str]:  # fmt: skip
    """The line the inbox and the side panel show: 9th visit · usually every 3 weeks · sees Ana."""
    if not visit_count:
        return []
    words = [f"{ordinal(visit_count)} visit"]
    if usual_gap_days is not None:
        words.append(f"usually {gap_words(usual_gap_days)}")
    if favourite_staff:
        words.append(f"sees {favourite_staff}")
    return words


def is_regular(visit_count: int) -> bool:
    return visit_count >= REGULAR_VISITS


def suggested_text(business: Business, customer: Customer, *, last_visit_words: str) -> str:
    """A personal text for an overdue customer, for the owner to change and send themselves
    (no offer in it: a text the owner types is a conversation, not a promotion)."""
    hello = f"Hi {customer.first_name}," if customer.first_name else "Hi,"
    seeing = f" Would you like {customer.favourite_staff} to fit you in?" if (
        customer.favourite_staff) else " Would you like us to fit you in?"  # fmt: skip
    text = (f"{hello} we have not seen you at {business.name} since {last_visit_words} and "
            f"we miss you!{seeing}")  # fmt: skip
    return re.sub(r"\s+", " ", text)
