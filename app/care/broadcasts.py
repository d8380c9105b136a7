"""Broadcasts: one text to a segment of customers, delivered so that it cannot silently stop.

A broadcast is a row. It advances in batches (`advance`, run by every dispatcher before
each send batch): the next BATCH customers of its segment after its `cursor` are assessed
(consent of the kind it needs, opt-outs, the number, the contact budget, the recipient's
window), and each gets one outbox row or one `BroadcastSkip` with its reason, in the same
transaction that moves the cursor. So no transaction writes 10,000 rows, no process holds
them, a killed worker's batch is simply written again, and a unique index keeps every
recipient to one text. The dispatcher sends the rows like any other text (a bad number
fails that recipient only); a broadcast keeps at most LOOKAHEAD unsent rows in the outbox,
so a pause or a cancel has little to hold back.

Pause holds its unsent rows (no send time: states.hold), resume gives them back, cancel
cancels them and accounts for the recipients not reached yet. A broadcast whose texts the
carrier refuses for the number itself (30007, 30032, 30034), or whose last STALL_FAILURES
attempts all failed, pauses itself with the reason in words (`stalled`).
"""

from __future__ import annotations

import re
import secrets
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from app.care import budget, figures, states
from app.care.merge import fields_for
from app.care.outbound import OutboundRefused, check_allowed, introduction, size_of
from app.care.texts import render_text, sample_fields, validate_source
from app.contract.commands import BroadcastCreate, Segment
from app.db import changed
from app.errors import Invalid, NotFound, Refused
from app.models import (
    AUTOMATED_KINDS,
    Broadcast,
    BroadcastSkip,
    BroadcastState,
    Business,
    Customer,
    Message,
    MessageKind,
    MessageStatus,
    OptedOutNumber,
    TrackedLink,
    Visit,
    VisitStatus,
)

ROUNDS = 4  # batches one dispatcher run may write for one broadcast
BATCH = 500  # recipients assessed and written per transaction
LOOKAHEAD = 1000  # a broadcast writes no more while this many of its texts wait unsent
STALL_FAILURES = 20  # attempts failing in a row (not for the recipient's own number) pause it
BLOCKING_CODES = frozenset({30007, 30032, 30034})  # the carrier refuses the number's texts
ANSWER_DAYS = 7  # a reply this soon after a broadcast's text answers it
FIELDS = ("first_name", "customer_name", "business_name", "business_phone", "staff_name")
URL = re.compile(r"(?:https?://|www\.)[^\s<>\"']+", re.IGNORECASE)
# What a recipient left out is counted as on the owner's page (the reasons' kinds).
CATEGORIES = {
    "opted_out": "opted out",
    "no_consent": "no consent to texts",
    "no_marketing_consent": "no consent to offers",
    "over_budget": "over their contact budget",
    "bad_number": "a number that cannot get texts",
    "no_window": "no sending hours",
    "canceled": "the broadcast was canceled first",
}
CANCELED_WORDS = "the broadcast was canceled before their turn"


# ---- who is in the segment -----------------------------------------------------------------


def _local_midnight(day: date, zone: str) -> datetime:
    return datetime.combine(day, time(0), tzinfo=ZoneInfo(zone))


def segment_clauses(business: Business, segment: Segment, now: datetime) -> list:
    """The segment as SQL conditions on Customer (its business's customers only)."""
    from app.care.facts import overdue_clause  # facts imports merge, which imports texts

    clauses: list = [col(Customer.business_id) == business.id]
    if segment.tag:
        quoted = '"' + segment.tag.replace("\\", "\\\\").replace('"', '\\"') + '"'
        escaped = quoted.replace("!", "!!").replace("%", "!%").replace("_", "!_")
        clauses.append(sa.cast(Customer.tags, sa.Text).like(f"%{escaped}%", escape="!"))
    if segment.last_visit_before is not None:
        clauses.append(col(Customer.last_visit_at)
                       < _local_midnight(segment.last_visit_before, business.timezone))  # fmt: skip
    if segment.last_visit_after is not None:
        clauses.append(col(Customer.last_visit_at)
                       >= _local_midnight(segment.last_visit_after, business.timezone))  # fmt: skip
    if segment.min_visits is not None:
        clauses.append(col(Customer.visit_count) >= segment.min_visits)
    if segment.max_visits is not None:
        clauses.append(col(Customer.visit_count) <= segment.max_visits)
    if segment.staff:
        clauses.append(
            sa.exists().where(
                col(Visit.business_id) == business.id,
                col(Visit.customer_id) == col(Customer.id),
                col(Visit.status) == VisitStatus.COMPLETED,
                func.lower(col(Visit.staff)) == segment.staff.lower(),
            )
        )
    if segment.overdue is True:
        clauses.append(overdue_clause(now))
    elif segment.overdue is False:
        clauses.append(sa.not_(overdue_clause(now)))
    if segment.birthday_month is not None:
        clauses.append(col(Customer.birthday).like(f"{segment.birthday_month:02d}-%"))
    return clauses


def segment_batches(session: Session, business: Business, segment: Segment, now: datetime,
                    *, after: int = 0, size: int = BATCH) -> Iterable[list[Customer]]:  # fmt: skip
    """The segment's customers in id order, `size` at a time, from after the id `after`."""
    clauses = segment_clauses(business, segment, now)
    while True:
        batch = list(session.exec(
            select(Customer).where(*clauses, col(Customer.id) > after)
            .order_by(col(Customer.id)).limit(size)
        ))  # fmt: skip
        if not batch:
            return
        yield batch
        if len(batch) < size:
            return
        after = batch[-1].id


# ---- who may get it, and when --------------------------------------------------------------


@dataclass(frozen=True)
class Verdict:
    """One customer of the segment: when their text may go, or why they get none."""

    customer: Customer
    send_at: datetime | None
    category: str | None = None  # CATEGORIES' key when they are left out
    reason: str | None = None  # why they are left out, or why their text waits, in words

    @property
    def eligible(self) -> bool:
        return self.send_at is not None


def assess(session: Session, business: Business, customers: Sequence[Customer], *,
           promotional: bool, at: datetime, now: datetime) -> list[Verdict]:  # fmt: skip
    """The verdict on each customer, with the outbound rules' own checks and the one contact
    budget (a broadcast never follows anyone into another day: over budget, it skips them).
    Three queries a batch; budget.draw itself only for those with an automated text near."""
    if not customers:
        return []
    phones = [c.phone for c in customers]
    opted = set(session.exec(select(col(OptedOutNumber.phone)).where(
        col(OptedOutNumber.business_id) == business.id, col(OptedOutNumber.phone).in_(phones),
    )))  # fmt: skip
    since = at - timedelta(days=budget.MARKETING_DAYS if promotional else 2)
    near = set(session.exec(select(col(Message.customer_id)).where(
        col(Message.customer_id).in_([c.id for c in customers]),
        col(Message.direction) == "outbound",
        col(Message.kind).in_(AUTOMATED_KINDS),
        col(Message.status).in_(budget.LIVE),
        col(Message.send_at) >= since,
        col(Message.send_at) < at + timedelta(days=9),  # a week of windows, and a day more
    ).distinct()))  # fmt: skip
    verdicts = []
    for customer in customers:
        try:
            check_allowed(business, customer, MessageKind.BROADCAST, promotional=promotional)
            if customer.phone in opted:
                raise OutboundRefused("opted_out", budget.words("number_opted_out"))
        except OutboundRefused as refused:
            words = budget.FIXED_WORDS.get(refused.code, refused.message)
            verdicts.append(Verdict(customer, None, refused.code, words))
            continue
        try:
            if customer.id in near:
                decision = budget.draw(session, business, customer, MessageKind.BROADCAST,
                                       promotional=promotional, at=at, now=now)  # fmt: skip
                if decision.skipped:
                    verdicts.append(Verdict(customer, None, "over_budget", decision.reason))
                    continue
                verdicts.append(Verdict(customer, decision.send_at, reason=decision.reason))
                continue
            send_at, waits = budget.first_opening(budget.window_for(business, customer), at)
        except (budget.NoWindow, ValueError) as exc:
            verdicts.append(Verdict(customer, None, "no_window", str(exc)[:200]))
            continue
        verdicts.append(Verdict(customer, send_at, reason=waits))
    return verdicts


# ---- what each recipient reads -------------------------------------------------------------


def fields_of(session: Session, business: Business, customer: Customer, *, now: datetime
              ) -> dict[str, object]:  # fmt: skip
    """A broadcast's merge fields for one recipient (staff: who they usually see)."""
    every = fields_for(session, business, customer, now=now)
    every["staff_name"] = customer.favourite_staff or ""
    return {name: every[name] for name in FIELDS}


def text_for(body: str, business: Business, fields: dict[str, object]) -> str:
    """What one recipient reads: the body with their fields, the business's name in front and
    the opt-out line at the end unless it says them (every broadcast text, not just a first)."""
    return introduction(render_text(body, fields), business.name, MessageKind.BROADCAST)


def empty_fields(body: str, customers: Iterable[Customer]) -> Counter:
    """How many of `customers` would leave each merge field of `body` empty."""
    from app.care.texts import fields_used

    used = fields_used(body) & {"first_name", "customer_name", "staff_name"}
    empty: Counter = Counter()
    for customer in customers:
        values = {"first_name": customer.first_name, "customer_name": customer.name,
                  "staff_name": customer.favourite_staff}  # fmt: skip
        for name in used:
            if not (values[name] or "").strip():
                empty[name] += 1
    return empty


def _own_host(url: str, base_url: str) -> bool:
    host = re.sub(r"^(?:https?://)?(?:www\.)?", "", url, flags=re.IGNORECASE).split("/")[0]
    own = re.sub(r"^https?://", "", base_url or "").split("/")[0]
    return bool(own) and host.lower() == own.lower()


def _track_links(body: str, *, base_url: str, business_id: int, broadcast_id: int,
                 customer_id: int, now: datetime, links: list[dict]) -> str:  # fmt: skip
    """Each link of the text as a tracked link on the app's own domain (its clicks are the
    report's); the rows go into `links`, to be inserted with the batch."""
    if not base_url:
        return body

    def tracked(match: re.Match) -> str:
        url = match.group(0).rstrip(".,;:!?)")
        rest = match.group(0)[len(url) :]
        if _own_host(url, base_url) or len(url) > 500:
            return match.group(0)
        token = secrets.token_urlsafe(9)
        target = url if url.lower().startswith("http") else f"https://{url}"
        links.append({"token": token, "business_id": business_id, "customer_id": customer_id,
                      "kind": "broadcast", "target_url": target, "open_count": 0,
                      "broadcast_id": broadcast_id, "created_at": now})  # fmt: skip
        return f"{base_url.rstrip('/')}/l/{token}{rest}"

    return URL.sub(tracked, body)


# ---- creating, and the owner's controls -----------------------------------------------------


def create(
    session: Session,
    business: Business,
    data: BroadcastCreate,
    *,
    now: datetime,
    user_id: int | None = None,
    refuse_on: Iterable[str] = ("stop",),
) -> Broadcast:
    """A new broadcast, checked first: a finding at a level in `refuse_on` (a public link
    shortener, cannabis, an offer sent as informational) refuses it with its words."""
    from app.care.broadcast_check import check_body

    validate(data.body, business)
    sample = text_for(data.body, business, _sample_fields(business))
    findings = check_body(sample, business_name=business.name, declared_kind=data.kind,
                          recipients=1)  # fmt: skip
    stops = [f for f in findings if f.level in set(refuse_on)]
    if stops:
        raise Invalid("body", " ".join(f.words for f in stops), code=stops[0].code)
    start = max(data.start_at or now, now)
    broadcast = Broadcast(
        business_id=business.id, title=data.title or _title_of(data.body), body=data.body,
        promotional=data.kind == "promotional",
        segment=data.segment.model_dump(mode="json", exclude_none=True),
        per_hour=data.per_hour,
        state=BroadcastState.SENDING if start <= now else BroadcastState.SCHEDULED,
        start_at=start, next_batch_at=start, user_id=user_id, created_at=now,
    )  # fmt: skip
    session.add(broadcast)
    session.flush()
    return broadcast


def _sample_fields(business: Business) -> dict[str, object]:
    """A recipient's fields at their longest (the Texts page's samples)."""
    samples = sample_fields(business.name)
    return {name: samples[name] for name in FIELDS}


def validate(body: str, business: Business) -> None:
    """A body the sandbox can render with a broadcast's fields, short enough (TemplateError:
    a 422 on `body` that says why)."""
    validate_source(MessageKind.BROADCAST, body, business.name, allowed=FIELDS)


def _title_of(body: str) -> str:
    words = " ".join(body.split())
    return words if len(words) <= 40 else words[:39].rstrip() + "…"


def get(session: Session, business_id: int, broadcast_id: int, *, lock: bool = False
        ) -> Broadcast:  # fmt: skip
    query = select(Broadcast).where(col(Broadcast.id) == broadcast_id,
                                    col(Broadcast.business_id) == business_id)  # fmt: skip
    found = session.exec(query.with_for_update() if lock else query).first()
    if found is None:
        raise NotFound(f"No broadcast {broadcast_id}.")
    return found


ENDED = frozenset({BroadcastState.CANCELED, BroadcastState.DONE})


def pause(session: Session, broadcast: Broadcast, *, reason: str | None = None,
          by: str = "owner", now: datetime) -> int:  # fmt: skip
    """Stop writing and hold its unsent texts; returns how many were held."""
    if broadcast.state in ENDED | {BroadcastState.PAUSED}:
        raise Refused(f"broadcast_{broadcast.state}", f"This broadcast is {broadcast.state}.",
                      status=409)  # fmt: skip
    broadcast.state = BroadcastState.PAUSED
    broadcast.paused_reason = (reason or "You paused it.")[:300]
    broadcast.paused_by = by
    session.add(broadcast)
    session.flush()
    return states.hold(session, broadcast_id=broadcast.id, why="broadcast paused")


def resume(session: Session, broadcast: Broadcast, *, now: datetime) -> int:
    """Go on where it was: its held texts go back to the outbox (each still inside its
    recipient's window: the dispatcher checks), and the writing goes on."""
    if broadcast.state != BroadcastState.PAUSED:
        raise Refused("not_paused", "Only a paused broadcast can be resumed.", status=409)
    broadcast.state = (BroadcastState.SENDING if broadcast.start_at <= now
                       else BroadcastState.SCHEDULED)  # fmt: skip
    broadcast.paused_reason = broadcast.paused_by = None
    broadcast.failed_in_row = 0
    broadcast.next_batch_at = max(broadcast.start_at, now)
    session.add(broadcast)
    session.flush()
    return states.unhold(session, broadcast_id=broadcast.id, send_at=max(broadcast.start_at, now))


def cancel(session: Session, broadcast: Broadcast, *, now: datetime) -> int:
    """End it: its unsent texts are canceled, and everyone not reached yet is accounted for
    (one statement). Returns how many texts were canceled."""
    if broadcast.state in ENDED:
        raise Refused("broadcast_ended", f"This broadcast is {broadcast.state}.", status=409)
    canceled = 0
    waiting = select(Message).where(col(Message.broadcast_id) == broadcast.id,
                                    col(Message.direction) == "outbound",
                                    col(Message.status) == MessageStatus.SCHEDULED)  # fmt: skip
    for message in session.exec(waiting.with_for_update()):
        if states.cancel(message, CANCELED_WORDS):
            session.add(message)
            canceled += 1
    business = session.get_one(Business, broadcast.business_id)
    rest = _account_for_the_rest(session, business, broadcast, now)
    broadcast.state = BroadcastState.CANCELED
    broadcast.skipped += rest
    broadcast.finished_at = now
    broadcast.next_batch_at = None
    session.add(broadcast)
    session.flush()
    return canceled


def _account_for_the_rest(session, business, broadcast: Broadcast, now: datetime) -> int:
    if broadcast.next_batch_at is None:  # every recipient has a row already
        return 0
    segment = Segment.model_validate(broadcast.segment)
    rest = select(sa.literal(broadcast.id), col(Customer.id), sa.literal(CANCELED_WORDS)).where(
        *segment_clauses(business, segment, now), col(Customer.id) > broadcast.cursor
    )
    table = BroadcastSkip.__table__  # type: ignore[attr-defined]
    result = session.execute(insert(table).from_select(["broadcast_id", "customer_id", "reason"],
                                                        rest))  # fmt: skip
    return max(changed(result), 0)


# ---- advancing ----------------------------------------------------------------------------


def _waiting(session: Session, broadcast_id: int, limit: int) -> int:
    """How many of its texts wait unsent, counted up to `limit`."""
    rows = (select(col(Message.id)).where(
        col(Message.broadcast_id) == broadcast_id,
        col(Message.status).in_((MessageStatus.SCHEDULED, MessageStatus.SENDING)),
    ).limit(limit).subquery())  # fmt: skip
    return session.exec(select(func.count()).select_from(rows)).one()


def _local_day(business: Business, now: datetime) -> tuple[datetime, datetime]:
    zone = ZoneInfo(business.timezone)
    start = datetime.combine(now.astimezone(zone).date(), time(0), tzinfo=zone)
    return start, datetime.combine(start.date() + timedelta(days=1), time(0), tzinfo=zone)


def _written_today(session: Session, business: Business, now: datetime) -> int:
    start, _end = _local_day(business, now)
    return session.exec(select(func.count()).select_from(Message).where(
        col(Message.business_id) == business.id, col(Message.created_at) >= start,
        col(Message.kind) == MessageKind.BROADCAST, col(Message.direction) == "outbound",
    )).one()  # fmt: skip


@dataclass
class Advanced:
    written: int = 0
    skipped: int = 0
    finished: bool = False


def advance(session: Session, broadcast: Broadcast, *, now: datetime, base_url: str = "",
            size: int = BATCH) -> Advanced:  # fmt: skip
    """Write its next batch (the caller holds the row and commits). Nothing while it is not
    sending, while LOOKAHEAD texts still wait, or once the sending number's daily cap of
    broadcast texts is used up (then from the business's next local day)."""
    done = Advanced()
    if broadcast.state == BroadcastState.SCHEDULED and broadcast.start_at <= now:
        broadcast.state = BroadcastState.SENDING
    if broadcast.state != BroadcastState.SENDING:
        return done
    if broadcast.next_batch_at is None:  # all written: done once the last text has gone
        if _waiting(session, broadcast.id, 1) == 0:
            broadcast.state, broadcast.finished_at = BroadcastState.DONE, now
            session.add(broadcast)
            done.finished = True
        return done
    if broadcast.next_batch_at > now or _waiting(session, broadcast.id, LOOKAHEAD) >= LOOKAHEAD:
        return done
    business = session.get_one(Business, broadcast.business_id)
    room = business.broadcast_daily_cap - _written_today(session, business, now)
    if room <= 0:
        broadcast.next_batch_at = _local_day(business, now)[1]
        session.add(broadcast)
        return done
    segment = Segment.model_validate(broadcast.segment)
    batch = next(iter(segment_batches(session, business, segment, now, after=broadcast.cursor,
                                      size=min(size, room))), [])  # fmt: skip
    at = max(now, broadcast.start_at)
    rows: list[dict] = []
    skips: list[dict] = []
    links: list[dict] = []
    for verdict in assess(session, business, batch, promotional=broadcast.promotional, at=at,
                          now=now):  # fmt: skip
        customer = verdict.customer
        if not verdict.eligible:
            skips.append({"broadcast_id": broadcast.id, "customer_id": customer.id,
                          "reason": (verdict.reason or "")[:200]})  # fmt: skip
            continue
        try:
            body = text_for(broadcast.body, business, fields_of(session, business, customer,
                                                                now=now))  # fmt: skip
        except Exception as exc:  # a template that cannot render for them: they are told apart
            skips.append(
                {
                    "broadcast_id": broadcast.id,
                    "customer_id": customer.id,
                    "reason": f"the text could not be written for them ({exc})"[:200],
                }
            )
            continue
        body = _track_links(body, base_url=base_url, business_id=business.id,
                            broadcast_id=broadcast.id, customer_id=customer.id, now=now,
                            links=links)  # fmt: skip
        segments, encoding = size_of(body, None)
        rows.append({
            "business_id": business.id, "customer_id": customer.id, "direction": "outbound",
            "body": body, "kind": MessageKind.BROADCAST, "status": MessageStatus.SCHEDULED,
            "segments": segments, "encoding": encoding, "from_number": business.number,
            "to_number": customer.phone, "cause": "system",
            "promotional": broadcast.promotional, "broadcast_id": broadcast.id,
            "send_at": verdict.send_at, "reason": (verdict.reason or None), "attempts": 0,
            "created_at": now,
        })  # fmt: skip
    if links:
        session.execute(insert(TrackedLink.__table__), links)  # type: ignore[attr-defined]
    if rows:
        session.execute(insert(Message.__table__), rows)  # type: ignore[attr-defined]
        figures.touch(session, [(business.id, now)], now=now)
    if skips:
        session.execute(insert(BroadcastSkip.__table__), skips)  # type: ignore[attr-defined]
    done.written, done.skipped = len(rows), len(skips)
    broadcast.eligible += len(rows)
    broadcast.skipped += len(skips)
    if batch:
        broadcast.cursor = batch[-1].id
    if len(batch) < min(size, room):
        broadcast.next_batch_at = None  # the segment is written out
    session.add(broadcast)
    return done


def due(session: Session, *, now: datetime, limit: int = 5, skip_locked: bool = False
        ) -> list[Broadcast]:  # fmt: skip
    """Broadcasts with something to do now, each held by this transaction (others skip them
    on PostgreSQL; SQLite has one writer at a time)."""
    query = (
        select(Broadcast)
        .where(
            col(Broadcast.state).in_((BroadcastState.SENDING, BroadcastState.SCHEDULED)),
            sa.or_(col(Broadcast.next_batch_at).is_(None), col(Broadcast.next_batch_at) <= now),
        )
        .order_by(col(Broadcast.id))
        .limit(limit)
    )
    if skip_locked:
        query = query.with_for_update(skip_locked=True)
    return list(session.exec(query))


# ---- a broadcast that cannot make progress -------------------------------------------------


@dataclass
class Progress:
    """What one send batch did for a broadcast, in order: True for an accepted text, False for
    an attempt that failed (not for a reason of the recipient's own number)."""

    attempts: list[bool] = field(default_factory=list)
    blocked: str | None = None  # the carrier refused the number: why, in words


def stalled(session: Session, progress: dict[int, Progress], *, now: datetime) -> list[int]:
    """Record the batch's progress on each broadcast; pause those that cannot go on, and
    return their ids."""
    paused = []
    for broadcast_id, seen in progress.items():
        if seen.attempts and seen.attempts[-1] and not seen.blocked:
            # Its last attempt went (the usual batch): only a count of failures is reset, and
            # the row is not even locked when there is none (a writer may be holding it).
            session.execute(sa.update(Broadcast).where(
                col(Broadcast.id) == broadcast_id, col(Broadcast.failed_in_row) > 0,
            ).values(failed_in_row=0))  # fmt: skip
            continue
        if not seen.attempts and not seen.blocked:
            continue
        broadcast = session.get(Broadcast, broadcast_id, with_for_update=True)
        if broadcast is None or broadcast.state in ENDED | {BroadcastState.PAUSED}:
            continue
        if True in seen.attempts:
            trailing = seen.attempts[::-1].index(True)
            broadcast.failed_in_row = trailing
        else:
            broadcast.failed_in_row += len(seen.attempts)
        why = None
        if seen.blocked:
            why = f"The carrier refused this number's texts ({seen.blocked}). It paused itself: "
            why += "fix it with your provider, then resume."
        elif broadcast.failed_in_row >= STALL_FAILURES:
            why = (
                f"The last {broadcast.failed_in_row} texts all failed. It paused itself so "
                "your list is not used up: check your texting number, then resume."
            )
        session.add(broadcast)
        if why:
            pause(session, broadcast, reason=why, by="system", now=now)
            paused.append(broadcast_id)
    return paused


# ---- the report ---------------------------------------------------------------------------


@dataclass
class Report:
    queued: int = 0  # waiting to go (scheduled, sending, or held while paused)
    sent: int = 0  # with the carrier, not yet delivered
    delivered: int = 0
    failed: int = 0
    canceled: int = 0
    failures: dict[str, int] = field(default_factory=dict)  # by reason
    skipped: dict[str, int] = field(default_factory=dict)  # recipients left out, by reason
    opted_out_after: int = 0
    replies: int = 0  # customers who answered it
    clicks: int = 0  # recipients who opened one of its links


def report(session: Session, broadcast: Broadcast) -> Report:
    """Its live figures, from its own rows (a handful of grouped counts)."""
    out = Report()
    mine = (col(Message.broadcast_id) == broadcast.id, col(Message.direction) == "outbound")
    for status, count in session.exec(
        select(col(Message.status), func.count()).where(*mine).group_by(col(Message.status))
    ):
        if status in (MessageStatus.SCHEDULED, MessageStatus.SENDING):
            out.queued += count
        elif status == MessageStatus.SENT:
            out.sent += count
        elif status == MessageStatus.DELIVERED:
            out.delivered += count
        elif status in (MessageStatus.FAILED, MessageStatus.UNDELIVERED):
            out.failed += count
        elif status == MessageStatus.CANCELED:
            out.canceled += count
    ended = (MessageStatus.FAILED, MessageStatus.UNDELIVERED, MessageStatus.CANCELED)
    for reason, count in session.exec(
        select(col(Message.error_message), func.count())
        .where(*mine, col(Message.status).in_(ended))
        .group_by(col(Message.error_message))
    ):
        key = reason or "no reason given"
        out.failures[key] = out.failures.get(key, 0) + count
    for reason, count in session.exec(
        select(col(BroadcastSkip.reason), func.count())
        .where(col(BroadcastSkip.broadcast_id) == broadcast.id)
        .group_by(col(BroadcastSkip.reason))
    ):
        out.skipped[reason] = count
    went = (MessageStatus.SENT, MessageStatus.DELIVERED, MessageStatus.UNDELIVERED)
    out.opted_out_after = session.exec(
        select(func.count()).select_from(Message).join(
            OptedOutNumber,
            sa.and_(col(OptedOutNumber.business_id) == col(Message.business_id),
                    col(OptedOutNumber.phone) == col(Message.to_number)),
        ).where(*mine, col(Message.status).in_(went),
                col(OptedOutNumber.opted_out_at) >= col(Message.sent_at))
    ).one()  # fmt: skip
    out.replies = session.exec(
        select(func.count(func.distinct(col(Message.customer_id)))).where(
            col(Message.broadcast_id) == broadcast.id, col(Message.direction) == "inbound"
        )
    ).one()
    out.clicks = session.exec(
        select(func.count(func.distinct(col(TrackedLink.customer_id)))).where(
            col(TrackedLink.broadcast_id) == broadcast.id, col(TrackedLink.open_count) > 0
        )
    ).one()
    return out


# ---- before sending: who, what and when ----------------------------------------------------


@dataclass
class Audience:
    """A segment for one kind of broadcast: who would get it and why the others would not."""

    total: int = 0
    eligible: int = 0
    left_out: dict[str, int] = field(default_factory=dict)  # CATEGORIES' words -> how many
    phones: list[str] = field(default_factory=list)  # the eligible, in sending order
    empty: Counter = field(default_factory=Counter)  # merge field -> eligible who leave it empty


def audience(session: Session, business: Business, segment: Segment, *, body: str,
             promotional: bool, now: datetime, at: datetime | None = None) -> Audience:  # fmt: skip
    """Assess the whole segment as the broadcast itself would (the same `assess`), a batch at
    a time; nothing is written."""
    out = Audience()
    at = max(at or now, now)
    for batch in segment_batches(session, business, segment, now):
        verdicts = assess(session, business, batch, promotional=promotional, at=at, now=now)
        out.total += len(verdicts)
        eligible = [v.customer for v in verdicts if v.eligible]
        out.eligible += len(eligible)
        out.phones.extend(c.phone for c in eligible)
        out.empty.update(empty_fields(body, eligible))
        for verdict in verdicts:
            if verdict.category:
                words = CATEGORIES.get(verdict.category, verdict.category)
                out.left_out[words] = out.left_out.get(words, 0) + 1
        for customer in batch:  # a big segment is read, not kept
            session.expunge(customer)
    return out


@dataclass
class Check:
    """A draft as it would go: a recipient's text, the check's findings, who and when."""

    sample: str
    segments: int
    findings: list
    audience: Audience
    forecast: object


def check(session: Session, business: Business, data: BroadcastCreate, *, now: datetime,
          base_url: str = "") -> Check:  # fmt: skip
    """Everything the owner should know before sending (app.care.broadcast_check's findings
    on the text a recipient reads, for the segment as the broadcast would assess it)."""
    from app.care.broadcast_check import check_body, forecast

    validate(data.body, business)
    at = max(data.start_at or now, now)
    who = audience(session, business, data.segment, body=data.body,
                   promotional=data.kind == "promotional", now=now, at=at)  # fmt: skip
    sample = text_for(data.body, business, _sample_fields(business))
    own = re.sub(r"^https?://", "", base_url).split("/")[0]
    findings = check_body(sample, business_name=business.name, declared_kind=data.kind,
                          recipients=who.eligible, empty_fields=dict(who.empty),
                          app_hosts=(own,) if own else ())  # fmt: skip
    when = forecast(who.phones, start=at, timezone=business.timezone,
                    window_start=business.window_start, window_end=business.window_end,
                    rate_per_second=business.send_rate_per_second, per_hour=data.per_hour,
                    daily_cap=business.broadcast_daily_cap)  # fmt: skip
    return Check(sample, size_of(sample, None)[0], findings, who, when)


# ---- for the owner's pages -----------------------------------------------------------------


def recent(session: Session, business_id: int, *, before_id: int | None = None,
           limit: int = 25) -> list[Broadcast]:  # fmt: skip
    """The business's broadcasts, newest first, `limit` at a time from before `before_id`."""
    query = select(Broadcast).where(col(Broadcast.business_id) == business_id)
    if before_id is not None:
        query = query.where(col(Broadcast.id) < before_id)
    return list(session.exec(query.order_by(col(Broadcast.id).desc()).limit(limit)))


def paused_by_itself(session: Session, business_id: int) -> Broadcast | None:
    """The business's latest broadcast that paused itself and waits for the owner."""
    return session.exec(
        select(Broadcast)
        .where(col(Broadcast.business_id) == business_id,
               col(Broadcast.state) == BroadcastState.PAUSED,
               col(Broadcast.paused_by) == "system")
        .order_by(col(Broadcast.id).desc())
    ).first()  # fmt: skip


def titles(session: Session, business_id: int, ids: Iterable[int | None]) -> dict[int, str]:
    """The titles of these broadcasts of the business, by id (a thread's texts and answers)."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = session.exec(select(col(Broadcast.id), col(Broadcast.title)).where(
        col(Broadcast.business_id) == business_id, col(Broadcast.id).in_(wanted)))  # fmt: skip
    return dict(rows.all())
