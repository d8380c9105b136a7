"""The owner's inbox and conversations: the queries behind the pages, read and handled state,
notes and tags. Plain functions over a session (the composer is in care.composer).

The inbox never aggregates the message table: each customer row carries its last activity,
a preview, an unread count and whether it needs a reply, kept up to date where texts are
stored (care.inbound, care.outbound). Lists use keyset pagination on indexed columns, so a
page costs the same with a hundred customers or a hundred thousand.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy import and_, or_, update
from sqlmodel import Session, col, select

from app.care import states
from app.care.facts import overdue_clause
from app.care.outbound import TO_OWNER, goes_later
from app.contract import parse
from app.contract.commands import NotesAndTags
from app.models import ConsentEvent, Customer, Message, MessageStatus, User, Visit
from app.search import MIN_MATCH, SEARCH_TABLE, phrase

FILTERS = ("all", "needs_reply", "unread", "unhappy")
MAX_NOTES = 5000
THREAD_PAGE = 50
INBOX_COLUMNS = (
    col(Customer.id),
    col(Customer.name),
    col(Customer.phone),
    col(Customer.last_activity_at),
    col(Customer.last_message_preview),
    col(Customer.unread_count),
    col(Customer.needs_reply),
    col(Customer.handled_at),
    col(Customer.unhappy_at),
    col(Customer.consent),
    col(Customer.visit_count),
    col(Customer.usual_gap_days),
    col(Customer.favourite_staff),
    col(Customer.overdue_at),
    col(Customer.booked_until),
)


# ---- lists --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Conversation:
    """One row of the inbox."""

    id: int
    name: str
    phone: str
    last_activity_at: datetime
    preview: str
    unread_count: int
    needs_reply: bool
    handled_at: datetime | None
    unhappy_at: datetime | None
    consent: str
    visit_count: int = 0  # what the business knows of them (app.care.facts)
    usual_gap_days: float | None = None
    favourite_staff: str | None = None
    overdue_at: datetime | None = None
    booked_until: datetime | None = None
    next_kind: str | None = None  # the conversation's next planned text, if any
    next_at: datetime | None = None


@dataclass
class Page:
    items: list
    next_cursor: str | None


def _search_clause(term: str, dialect: str = ""):
    """Name (any case) or phone digits: on SQLite through the FTS5 table (app.search), on
    PostgreSQL the same LIKE as everywhere, which its trigram indexes answer."""
    term = " ".join(term.split())[:80]
    digits = re.sub(r"\D", "", term)
    if len(digits) >= 3 and len(digits) >= len(re.sub(r"[\s()+.-]", "", term)):
        if dialect == "sqlite":
            return _matching("phone", digits)
        return col(Customer.phone).contains(digits, autoescape=True)
    if dialect == "sqlite" and len(term) >= MIN_MATCH:
        clauses = [_matching("name", term)]
    else:
        clauses = [col(Customer.name).icontains(term, autoescape=True)]
    if "@" in term:
        clauses.append(col(Customer.email).icontains(term, autoescape=True))
    return or_(*clauses)


def _matching(column: str, term: str):
    """Customers whose `column` holds `term`, as the FTS5 trigram table finds them."""
    table = SEARCH_TABLE
    found: sa.Select = (
        sa.select(sa.column("rowid"))
        .select_from(sa.table(table))
        .where(
            sa.text(f"{table} MATCH :search_query").bindparams(
                search_query=f"{{{column}}} : {phrase(term)}"
            )
        )
    )
    return col(Customer.id).in_(found)


def read_time_cursor(raw: str | None) -> tuple[datetime, int] | None:
    """(time, id) from a cursor `time_cursor` wrote; None for anything else."""
    match = re.fullmatch(r"(\d{1,17})\.(\d{1,18})", raw or "")
    if not match:
        return None
    micros, ident = int(match.group(1)), int(match.group(2))
    try:
        when = datetime.fromtimestamp(micros / 1_000_000, UTC)
    except (OverflowError, OSError, ValueError):
        return None
    return when, ident


def past(column, when: datetime, ident: int, *, descending: bool = True):
    """Customers after (when, id) in a list ordered by `column`, then the id."""
    if descending:
        return or_(column < when, and_(column == when, col(Customer.id) < ident))
    return or_(column > when, and_(column == when, col(Customer.id) > ident))


def time_cursor(when: datetime, ident: int) -> str:
    """A keyset cursor for a list ordered by a time, then the id: "<microseconds>.<id>"."""
    return f"{round(when.timestamp() * 1_000_000)}.{ident}"


def inbox_page(
    session: Session,
    business_id: int,
    *,
    filter: str = "all",
    search: str = "",
    cursor: str | None = None,
    limit: int = 25,
) -> Page:
    """Conversations, newest activity first. `cursor` continues where the last page ended."""
    query = sa.select(*INBOX_COLUMNS).where(  # sqlmodel's select types four columns at most
        col(Customer.business_id) == business_id, col(Customer.last_activity_at).is_not(None)
    )
    if filter == "needs_reply":
        query = query.where(col(Customer.needs_reply).is_(True))
    elif filter == "unread":
        query = query.where(col(Customer.unread_count) > 0)
    elif filter == "unhappy":
        query = query.where(col(Customer.unhappy_at).is_not(None))
    if search.strip():
        query = query.where(_search_clause(search, session.get_bind().dialect.name))
    after = read_time_cursor(cursor)
    if after is not None:
        when, ident = after
        query = query.where(past(col(Customer.last_activity_at), when, ident))
    rows = session.execute(
        query.order_by(col(Customer.last_activity_at).desc(), col(Customer.id).desc()).limit(
            limit + 1
        )
    ).all()
    items = _with_next_texts(session, business_id, [Conversation(*row) for row in rows[:limit]])
    next_cursor = None
    if len(rows) > limit and items:
        next_cursor = time_cursor(items[-1].last_activity_at, items[-1].id)
    return Page(items, next_cursor)


def _with_next_texts(
    session: Session, business_id: int, items: list[Conversation]
) -> list[Conversation]:
    """Each conversation with its next planned text (kind and time): one query per page."""
    if not items:
        return items
    upcoming: dict[int, tuple[str, datetime]] = {}
    planned = session.execute(
        sa.select(col(Message.customer_id), col(Message.kind), col(Message.send_at))
        .where(
            col(Message.business_id) == business_id,
            col(Message.customer_id).in_([c.id for c in items]),
            col(Message.status) == MessageStatus.SCHEDULED,
            col(Message.kind).not_in(TO_OWNER),
            col(Message.send_at).is_not(None),  # (held by a paused broadcast: no time yet)
        )
        .order_by(col(Message.send_at))
    )
    for customer_id, kind, send_at in planned:
        upcoming.setdefault(customer_id, (kind, send_at))
    return [
        replace(c, next_kind=upcoming[c.id][0], next_at=upcoming[c.id][1])
        if c.id in upcoming else c
        for c in items
    ]  # fmt: skip


def customers_page(
    session: Session,
    business_id: int,
    *,
    search: str = "",
    cursor: str | None = None,
    limit: int = 25,
) -> Page:
    """Every customer (texted or not), newest first, with search by name, phone or email."""
    query = select(Customer).where(col(Customer.business_id) == business_id)
    if search.strip():
        query = query.where(_search_clause(search, session.get_bind().dialect.name))
    if cursor and re.fullmatch(r"\d{1,18}", cursor):
        query = query.where(col(Customer.id) < int(cursor))
    rows = list(session.exec(query.order_by(col(Customer.id).desc()).limit(limit + 1)))
    items = rows[:limit]
    next_cursor = str(items[-1].id) if len(rows) > limit and items else None
    return Page(items, next_cursor)


def overdue_page(
    session: Session, business_id: int, *, now: datetime, cursor: str | None = None,
    limit: int = 25,
) -> Page:  # fmt: skip
    """Customers overdue now (app.care.facts), the most recent lapse first: the Overdue list.
    Opted-out customers are not on it (nobody may text them). One range of the index on
    (business_id, overdue_at), whatever the number of customers."""
    query = select(Customer).where(
        col(Customer.business_id) == business_id,
        overdue_clause(now),
        col(Customer.consent) != "opted_out",
    )
    after = read_time_cursor(cursor)
    if after is not None:
        when, ident = after
        query = query.where(past(col(Customer.overdue_at), when, ident))
    rows = list(session.exec(
        query.order_by(col(Customer.overdue_at).desc(), col(Customer.id).desc()).limit(limit + 1)
    ))  # fmt: skip
    items = rows[:limit]
    next_cursor = None
    if len(rows) > limit and items:
        last = items[-1]
        if last.overdue_at is not None:
            next_cursor = time_cursor(last.overdue_at, last.id)
    return Page(items, next_cursor)


# ---- one conversation ---------------------------------------------------------------------


@dataclass
class Thread:
    messages: list[Message]  # oldest first
    older_than: int | None  # pass as `before_id` for the page before this one
    scheduled: list[Message] = field(default_factory=list)  # still to go, soonest first


def thread(
    session: Session,
    business_id: int,
    customer_id: int,
    *,
    before_id: int | None = None,
    limit: int = THREAD_PAGE,
) -> Thread:
    """The newest texts of a conversation (both directions), or those before `before_id`; and
    the texts still scheduled, which belong after the newest whenever they were planned."""
    mine = (
        col(Message.business_id) == business_id,
        col(Message.customer_id) == customer_id,
        col(Message.kind) != "alert",  # alerts about this customer went to the owner's phone
    )
    query = select(Message).where(*mine, col(Message.status) != "scheduled")
    if before_id is not None:
        query = query.where(col(Message.id) < before_id)
    rows = list(session.exec(query.order_by(col(Message.id).desc()).limit(limit + 1)))
    older = rows[limit - 1].id if len(rows) > limit else None
    scheduled = []
    if before_id is None:
        scheduled = list(
            session.exec(
                select(Message)
                .where(*mine, col(Message.status) == "scheduled")
                .order_by(col(Message.send_at), col(Message.id))
                .limit(limit)
            )
        )
    messages = rows[:limit][::-1]
    # A text sent now waits only for a worker: it is the newest line of the thread (Sending…),
    # never "Scheduled", which is for texts planned for later.
    messages += [m for m in scheduled if not goes_later(m)]
    return Thread(messages, older, [m for m in scheduled if goes_later(m)])


@dataclass
class CustomerFile:
    """The conversation's side panel."""

    visits: list[Visit]
    consent_events: list[ConsentEvent]


def customer_file(session: Session, customer: Customer, *, limit: int = 10) -> CustomerFile:
    visits = session.exec(
        select(Visit)
        .where(
            col(Visit.business_id) == customer.business_id, col(Visit.customer_id) == customer.id
        )
        .order_by(col(Visit.occurred_at).desc(), col(Visit.id).desc())
        .limit(limit)
    ).all()
    events = session.exec(
        select(ConsentEvent)
        .where(col(ConsentEvent.customer_id) == customer.id)
        .order_by(col(ConsentEvent.id).desc())
        .limit(limit)
    ).all()
    return CustomerFile(list(visits), list(events))


def mark_read(session: Session, customer: Customer) -> None:
    """The owner opened the conversation."""
    if customer.unread_count:
        # One statement, so a text arriving at this moment is never lost from the count.
        session.exec(
            update(Customer)
            .where(
                col(Customer.id) == customer.id, col(Customer.business_id) == customer.business_id
            )
            .values(unread_count=0)
        )
        customer.unread_count = 0


def mark_handled(session: Session, customer: Customer, *, now: datetime) -> None:
    """Nothing more to do here for now: off the needs-reply list until the next text."""
    customer.handled_at = now
    customer.needs_reply = False
    customer.unread_count = 0
    session.add(customer)


def reopen(session: Session, customer: Customer) -> None:
    """Back on the needs-reply list."""
    customer.handled_at = None
    customer.needs_reply = True
    session.add(customer)


def save_notes_and_tags(session: Session, customer: Customer, *, notes: str, tags: str) -> None:
    """Raises Invalid naming the field."""
    edit = parse(NotesAndTags, {"notes": notes or "", "tags": tags or ""})
    customer.notes = edit.notes
    customer.tags = edit.tags
    session.add(customer)


def find_message(
    session: Session, business_id: int, customer_id: int, message_id: int
) -> Message | None:
    """A text of this conversation, or None: another business's id finds nothing."""
    message = session.get(Message, message_id)
    if message is None or (message.business_id, message.customer_id) != (business_id, customer_id):
        return None
    return message


def cancel_scheduled(
    session: Session, business_id: int, customer_id: int, message_id: int, *, by: User
) -> bool:
    """Cancel one scheduled text of this conversation; False when it is not (or no longer)
    scheduled. One conditional update, so it never races the dispatcher's claim."""
    canceled = states.cancel_where(
        session,
        col(Message.id) == message_id,
        col(Message.business_id) == business_id,
        col(Message.customer_id) == customer_id,
        col(Message.direction) == "outbound",
        reason=f"Canceled by {by.name or by.email}.",
    )
    return canceled == 1
