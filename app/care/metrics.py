"""What the care is doing for a business: the dashboard's figures, the metrics API and the
CSV download all come from `business_metrics`, so the three can never disagree.

A day is the business's local day (its time zone): the owner's "yesterday" is theirs, not
UTC's. `day_range` turns local days into the moments [start, end) every query uses.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session

from app.care.automations import opening_hours
from app.care.reading import HIGH_FROM
from app.care.staff import canonical_names
from app.contract import views as v
from app.contract.commands import DayRange
from app.errors import Invalid
from app.models import (
    AUTOMATED_KINDS,
    Business,
    Customer,
    Feedback,
    Message,
    MessageKind,
    MessageStatus,
    Referral,
    TrackedLink,
    Visit,
    VisitStatus,
    table_of,
)
from app.sms.errors import failure_reason

# The tables' columns, as SQL expressions (the models' attributes are typed as their values).
M, F, V, L, C, R = (
    sa.inspect(table).local_table.c
    for table in (Message, Feedback, Visit, TrackedLink, Customer, Referral)
)
TOP_REFERRERS = 5
REPLY_WITHIN = timedelta(days=7)
DAILY_TREND_UP_TO = 31  # days; longer ranges are drawn week by week
MAX_DAYS = 366
WORK_MEM = "64MB"
NOT_DELIVERED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
REVIEW_ASKS = (MessageKind.REVIEW_REQUEST, MessageKind.FEEDBACK_QUESTION)


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def satisfaction(rows: list[tuple[int | None, int | None]]) -> dict:
    """CSAT (share of 4-5 on the 1-5 question), NPS (promoters - detractors, 0-10) and CES
    (the mean of 1-7 "how easy was it" answers, and the share of easy ones)."""
    five = [score for score, scale in rows if scale == 5 and score is not None]
    ten = [score for score, scale in rows if scale == 10 and score is not None]
    seven = [score for score, scale in rows if scale == 7 and score is not None]
    promoters = sum(1 for s in ten if s >= 9)
    detractors = sum(1 for s in ten if s <= 6)
    return {
        "csat": _share(sum(1 for s in five if s >= 4), len(five)),
        "csat_answers": len(five),
        # Subtract the counts, not two rounded shares (2 of 3 minus 1 of 3 is 33.3, not 33.4).
        "nps": _share(promoters - detractors, len(ten)),
        "nps_answers": len(ten),
        "ces": round(sum(seven) / len(seven), 1) if seven else None,
        "ces_easy": _share(sum(1 for s in seven if s >= HIGH_FROM[7]), len(seven)),
        "ces_answers": len(seven),
    }


def day_range(business: Business, first_day: date, last_day: date) -> tuple[datetime, datetime]:
    """[start, end) in UTC of the business's local days first_day..last_day, both included."""
    zone = ZoneInfo(business.timezone)
    start = datetime.combine(first_day, time(0), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(last_day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return start, end


def local_days(business: Business, start: datetime, end: datetime) -> tuple[date, date]:
    """The local days [start, end) touches."""
    zone = ZoneInfo(business.timezone)
    return start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()


def metrics_range(
    business: Business, first: date | None, last: date | None, *, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) from what a caller asked: dates are whole local days (`last` included),
    datetimes are moments; 30 days up to now by default. ValueError for a range that is
    empty, longer than a year, or out of the calendar."""
    try:
        end = _moment(business, last, end=True) or now
        start = _moment(business, first, end=False) or end - timedelta(days=30)
    except OverflowError as exc:
        raise ValueError("out of range") from exc
    if start >= end or end - start > timedelta(days=MAX_DAYS, hours=1):
        raise ValueError("from must be before to, at most a year apart")
    return start, end


def _moment(business: Business, value: date | None, *, end: bool) -> datetime | None:
    """A moment as it is; a day as its start (or, for the end of a range, the next day's)."""
    if value is None or isinstance(value, datetime):
        return value
    return day_range(business, value, value)[1 if end else 0]


def dashboard_days(asked: DayRange, *, today: date) -> tuple[date, date]:
    """The local days a DayRange means: from..to when either is given (the other defaults to
    30 days before, or today), else the last `days` (30) up to today. Raises Invalid."""
    if asked.from_ is None and asked.to is None:
        days = asked.days or 30
        return today - timedelta(days=days - 1), today
    if asked.to is not None:
        last = asked.to
    else:
        assert asked.from_ is not None
        last = min(asked.from_ + timedelta(days=29), today)
    first = asked.from_ if asked.from_ is not None else last - timedelta(days=29)
    if first > last:
        raise Invalid("from", "The first day must be on or before the last day.")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid("from", f"Choose at most {MAX_DAYS} days.")
    return first, last


def _in(column, start: datetime, end: datetime):
    return sa.and_(column >= start, column < end)


def business_metrics(
    session: Session, business: Business, start: datetime, end: datetime
) -> v.Metrics:
    """Every figure for one business over [start, end) (see `day_range` for local days)."""
    bid = business.id
    first_day, last_day = local_days(business, start, end)
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        # The range's sorts and aggregates in memory, not on disk; for this transaction only.
        session.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))

    # ---- ratings, effort and their trend -------------------------------------------------
    feedback = session.execute(
        sa.select(F.score, F.scale, F.staff, F.unhappy,
               F.created_at)
        .where(F.business_id == bid, _in(F.created_at, start, end))
    ).all()  # fmt: skip
    overall = satisfaction([(score, scale) for score, scale, *_rest in feedback])
    span = (last_day - first_day).days + 1
    step = 1 if span <= DAILY_TREND_UP_TO else 7
    buckets: list[list] = [[] for _ in range((span + step - 1) // step)]
    zone = ZoneInfo(business.timezone)
    for score, scale, _staff, _unhappy, created_at in feedback:
        index = (created_at.astimezone(zone).date() - first_day).days // step
        if 0 <= index < len(buckets):
            buckets[index].append((score, scale))
    trend = [
        v.TrendPoint(first_day=first_day + timedelta(days=i * step),
                     last_day=min(first_day + timedelta(days=i * step + step - 1), last_day),
                     **satisfaction(rows))
        for i, rows in enumerate(buckets)
    ]  # fmt: skip

    # ---- per staff member: visits and what their customers said ---------------------------
    who = canonical_names(session, bid)  # the staff list's spelling: "ana" counts as Ana
    by_staff: dict[str, list] = {}
    for score, scale, staff, _unhappy, _at in feedback:
        by_staff.setdefault(who(staff), []).append((score, scale))
    visits: dict[str, int] = {}
    for name, count in session.execute(
        sa.select(V.staff, func.count(V.id))
        .where(V.business_id == bid, V.status == VisitStatus.COMPLETED,
               _in(V.occurred_at, start, end))
        .group_by(V.staff)
    ).all():  # fmt: skip
        visits[who(name)] = visits.get(who(name), 0) + count
    staff = [
        v.StaffMetrics(staff=name or None, visits=visits.get(name, 0),
                       **satisfaction(by_staff.get(name, [])))
        for name in sorted(set(by_staff) | set(visits))
    ]  # fmt: skip

    # ---- review links -------------------------------------------------------------------
    links = session.execute(
        sa.select(func.count(L.id), func.count(L.opened_at),
               func.coalesce(func.sum(L.open_count), 0))
        .where(L.business_id == bid, L.kind == "review",
               _in(L.created_at, start, end))
    ).one()  # fmt: skip

    # ---- texts that went, by kind and state (alerts went to the owner's own phone) --------
    went = session.execute(
        sa.select(M.kind, M.status, M.error_code, M.error_message,
               func.count())
        .where(M.business_id == bid, _in(M.sent_at, start, end),
               M.direction == "outbound", M.kind != MessageKind.ALERT)
        .group_by(M.kind, M.status, M.error_code, M.error_message)
    ).all()  # fmt: skip
    sent_by_kind: dict[str, int] = {}
    failures: dict[tuple[int | None, str], int] = {}
    sent = delivered = automated = 0
    for kind, status, code, words, count in went:
        sent_by_kind[kind] = sent_by_kind.get(kind, 0) + count
        sent += count
        delivered += count if status == MessageStatus.DELIVERED else 0
        if kind in AUTOMATED_KINDS and status in (MessageStatus.SENT, MessageStatus.DELIVERED):
            automated += count
        if status in NOT_DELIVERED:
            key = (code, failure_reason(code, words))
            failures[key] = failures.get(key, 0) + count

    # ---- every text written in the range, by direction and state --------------------------
    # A failure that never reached the carrier (no sent_at) counts when it was written.
    never_went = sa.and_(M.sent_at.is_(None), M.kind != MessageKind.ALERT)
    written = session.execute(
        sa.select(M.direction, M.status, never_went, M.error_code,
               M.error_message, func.count())
        .where(M.business_id == bid, _in(M.created_at, start, end))
        .group_by(M.direction, M.status, never_went, M.error_code,
                  M.error_message)
    ).all()  # fmt: skip
    texts_by_status: dict[str, int] = {}
    received = 0
    for direction, status, unsent, code, words, count in written:
        if direction == "inbound":
            received += count
            continue
        texts_by_status[status] = texts_by_status.get(status, 0) + count
        if unsent and status in NOT_DELIVERED:
            key = (code, failure_reason(code, words))
            failures[key] = failures.get(key, 0) + count
    failure_list = [
        v.FailureReason(error_code=code, reason=reason, count=count)
        for (code, reason), count in sorted(failures.items(), key=lambda item: (-item[1],
                                                                                 item[0][1]))
    ]  # fmt: skip

    # ---- automated texts answered within REPLY_WITHIN (the reply rate) --------------------
    answered = _answered_within(session, bid, start, end, dialect)

    # ---- how long customers waited for the owner's first answer, in opening hours ---------
    minutes, waits = _first_answers(session, business, start, end, dialect)

    new_customers = session.execute(
        sa.select(func.count(C.id)).where(
            C.business_id == bid, _in(C.created_at, start, end))
    ).scalar_one()  # fmt: skip

    referrals = _referral_figures(session, bid, start, end)
    referrals.asks_sent = sent_by_kind.get(MessageKind.REFERRAL_ASK, 0)

    return v.Metrics(
        from_=start,  # type: ignore[call-arg]  # the field is "from" (populate_by_name)
        to=end,
        timezone=business.timezone,
        first_day=first_day,
        last_day=last_day,
        **overall,
        unhappy_replies=sum(1 for _s, _sc, _st, unhappy, _at in feedback if unhappy),
        review_links_sent=links[0],
        review_links_opened=links[1],
        review_link_open_rate=_share(links[1], links[0]),
        automated_texts_sent=automated,
        reply_rate=_share(answered, automated),
        texts_by_status=texts_by_status,
        texts=v.TextFigures(sent=sent, delivered=delivered,
                            delivery_rate=_share(delivered, sent),
                            failed=sum(failures.values()), failures=failure_list),
        replies=v.ReplyFigures(
            received=received, waits=waits, answered=len(minutes),
            median_first_response_minutes=(round(statistics.median(minutes), 1)
                                           if minutes else None),
        ),
        reviews=v.ReviewFigures(
            requests=sum(sent_by_kind.get(kind, 0) for kind in REVIEW_ASKS),
            reminders=sent_by_kind.get(MessageKind.REVIEW_REMINDER, 0),
            links_sent=links[0], links_opened=links[1], link_opens=links[2],
            open_rate=_share(links[1], links[0]),
        ),
        new_customers=new_customers,
        trend_period="day" if step == 1 else "week",
        trend=trend,
        referrals=referrals,
        staff=staff,
    )  # fmt: skip


def _referral_figures(session: Session, bid: int, start: datetime, end: datetime):
    """Friends who arrived in the range (leads), first visits of friends in it (converted),
    rewards given in it, and the customers who sent the most friends in it."""
    counts = session.execute(
        sa.select(
            func.count(R.id).filter(_in(R.created_at, start, end)),
            func.count(R.id).filter(_in(R.converted_at, start, end)),
            func.count(R.id).filter(_in(R.rewarded_at, start, end)),
        ).where(R.business_id == bid)
    ).one()
    arrived = func.count(R.id)
    top = session.execute(
        sa.select(R.referrer_id, C.name, C.phone, arrived,
                  func.count(R.converted_at).label("converted"))
        .join(table_of(Customer), C.id == R.referrer_id)
        .where(R.business_id == bid, _in(R.created_at, start, end))
        .group_by(R.referrer_id, C.name, C.phone)
        .order_by(arrived.desc(), sa.literal_column("converted").desc(), R.referrer_id)
        .limit(TOP_REFERRERS)
    ).all()  # fmt: skip
    return v.ReferralFigures(
        asks_sent=0, leads=counts[0], converted=counts[1], rewarded=counts[2],
        top_referrers=[v.TopReferrer(customer_id=row[0], name=row[1] or "", phone=row[2],
                                     friends=row[3], converted=row[4]) for row in top],
    )  # fmt: skip


ANSWER_WITHIN = timedelta(days=7)  # an answer later than this after the range is none


def _first_answers(
    session: Session, business: Business, start: datetime, end: datetime, dialect: str
) -> tuple[list[float], int]:
    """(minutes each answered wait lasted, how many waits): a wait is a customer's texts in
    [start, end) up to the owner's next typed text, timed from the first of them, counted
    in opening hours only. One pass over the conversations (a window), so its cost grows
    with the range, not with the number of customers."""
    hours = opening_hours(business)
    horizon = end + ANSWER_WITHIN
    opened = _open_seconds(M.created_at, hours, start, horizon, dialect)
    texts = (
        sa.select(M.customer_id, M.id, M.direction, M.created_at,
               opened.label("opened"))
        .where(M.business_id == business.id, _in(M.created_at, start, horizon),
               sa.or_(M.direction == "inbound", M.kind == MessageKind.MANUAL))
        .subquery()
    )  # fmt: skip
    t = texts.c
    # The next answer of each text: the first owner's text after it, read newest first as a
    # running minimum (one pass; a frame "to the end" would be summed again for every row).
    rows = sa.select(
        t.direction, t.created_at, t.opened,
        func.lag(t.direction).over(partition_by=t.customer_id,
                                   order_by=(t.created_at, t.id)).label("before"),
        func.min(sa.case((t.direction == "outbound", t.opened)))
        .over(partition_by=t.customer_id, order_by=(t.created_at.desc(), t.id.desc()),
              rows=(None, -1)).label("answered"),
    ).subquery()  # fmt: skip
    waits = session.execute(
        sa.select(rows.c.answered - rows.c.opened).where(
            rows.c.direction == "inbound", rows.c.created_at < end,
            sa.or_(rows.c.before.is_(None), rows.c.before == "outbound"))
    ).scalars().all()  # fmt: skip
    return [float(seconds) / 60 for seconds in waits if seconds is not None], len(waits)


def _answered_within(
    session: Session, business_id: int, start: datetime, end: datetime, dialect: str
) -> int:
    """How many automated texts sent in [start, end) their customer answered within
    REPLY_WITHIN: each text's next reply found in one pass over the conversations (a window
    read newest first), not looked up text by text."""
    automated = sa.and_(
        M.direction == "outbound", M.kind.in_(AUTOMATED_KINDS),
        M.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
        _in(M.sent_at, start, end),
    )  # fmt: skip
    inbound = sa.and_(M.direction == "inbound",
                      _in(M.created_at, start, end + REPLY_WITHIN))  # fmt: skip
    at = _epoch(sa.case((M.direction == "inbound", M.created_at),
                        else_=M.sent_at), dialect)  # fmt: skip
    texts = (
        sa.select(M.customer_id, M.id, M.direction, at.label("at"))
        .where(M.business_id == business_id, sa.or_(automated, inbound))
        .subquery()
    )
    t = texts.c
    rows = sa.select(
        t.direction, t.at,
        func.min(sa.case((t.direction == "inbound", t.at)))
        .over(partition_by=t.customer_id, order_by=(t.at.desc(), t.id.desc()),
              rows=(None, -1)).label("reply_at"),
    ).subquery()  # fmt: skip
    return session.execute(
        sa.select(func.count()).where(rows.c.direction == "outbound",
                                   rows.c.reply_at <= rows.c.at + REPLY_WITHIN.total_seconds())
    ).scalar_one()  # fmt: skip


def _epoch(column, dialect: str):
    """Seconds since 1970 of a UTC time column, as a float, in either database."""
    if dialect == "postgresql":
        return sa.cast(func.extract("epoch", column), sa.Float)
    return (func.julianday(column) - 2440587.5) * 86400.0


def _open_seconds(column, hours, start: datetime, end: datetime, dialect: str):
    """OpeningHours.open_seconds in SQL, for moments in [start, end): the zone's offsets in
    that span are constants (a CASE at each change of clock), so both databases can do it."""
    epoch = _epoch(column, dialect)
    floor: Callable[[Any], Any]
    least: Callable[..., Any]
    greatest: Callable[..., Any]
    if dialect == "postgresql":
        floor, least, greatest = func.floor, func.least, func.greatest
    else:
        floor = lambda x: sa.cast(x, sa.Integer)  # noqa: E731 (local seconds are positive)
        least, greatest = func.min, func.max
    offsets = hours.offsets_between(start, end)
    local = (
        epoch
        + sa.case(*[(epoch < at, offset) for at, offset in offsets[:-1]], else_=offsets[-1][1])
        if len(offsets) > 1
        else epoch + offsets[0][1]
    )
    day = floor(local / 86400)
    length = hours.end_seconds - hours.start_seconds
    into_day = local - day * 86400
    return day * length + least(greatest(into_day - hours.start_seconds, 0), length)


# ---- the figures as rows: the CSV download and the page's figures are these ---------------

SATISFACTION_FIGURES = (
    ("csat", "CSAT (%)"), ("csat_answers", "CSAT answers"), ("nps", "NPS"),
    ("nps_answers", "NPS answers"), ("ces", "Customer effort (1-7)"),
    ("ces_easy", "Found it easy (%)"), ("ces_answers", "Effort answers"),
)  # fmt: skip


def figure_value(value) -> str:
    """One way to write a figure: whole numbers as they are, shares and means to one decimal,
    nothing for a figure with nothing to measure yet."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.1f}"
    return str(value)


def figure_rows(metrics: v.Metrics) -> list[tuple[str, str, str]]:
    """(key, what it is, value) for every figure of the dashboard, in the page's order."""
    m = metrics
    rows: list[tuple[str, object, object]] = [
        ("range.first_day", "First day", m.first_day.isoformat()),
        ("range.last_day", "Last day", m.last_day.isoformat()),
        ("range.timezone", "Time zone", m.timezone),
        ("texts.sent", "Texts sent", m.texts.sent),
        ("texts.delivered", "Texts delivered", m.texts.delivered),
        ("texts.delivery_rate", "Delivered (%)", m.texts.delivery_rate),
        ("texts.failed", "Not delivered", m.texts.failed),
    ]
    for failure in m.texts.failures:
        code = failure.error_code if failure.error_code is not None else "none"
        rows.append((f"texts.failures.{code}.{failure.reason}", failure.reason, failure.count))
    rows += [
        ("replies.received", "Replies received", m.replies.received),
        ("replies.waits", "Customers waiting for you", m.replies.waits),
        ("replies.answered", "Answered", m.replies.answered),
        ("replies.median_first_response_minutes", "Median first response (minutes, opening "
         "hours)", m.replies.median_first_response_minutes),
        ("automated_texts_sent", "Automated texts sent", m.automated_texts_sent),
        ("reply_rate", "Automated texts answered (%)", m.reply_rate),
        ("reviews.requests", "Review requests", m.reviews.requests),
        ("reviews.reminders", "Review reminders", m.reviews.reminders),
        ("reviews.links_sent", "Review links sent", m.reviews.links_sent),
        ("reviews.links_opened", "Review links opened", m.reviews.links_opened),
        ("reviews.link_opens", "Review link opens", m.reviews.link_opens),
        ("reviews.open_rate", "Open rate (%)", m.reviews.open_rate),
    ]  # fmt: skip
    rows += [(key, label, getattr(m, key)) for key, label in SATISFACTION_FIGURES]
    rows += [
        ("unhappy_replies", "Unhappy replies", m.unhappy_replies),
        ("new_customers", "New customers", m.new_customers),
        ("referrals.asks_sent", "Referral asks sent", m.referrals.asks_sent),
        ("referrals.leads", "Friends who came (leads)", m.referrals.leads),
        ("referrals.converted", "Friends' first visits", m.referrals.converted),
        ("referrals.rewarded", "Rewards given", m.referrals.rewarded),
    ]
    for place, top in enumerate(m.referrals.top_referrers, start=1):
        who = top.name or top.phone
        key = f"referrals.top.{place}"
        rows += [(f"{key}.friends", f"Friends sent, {who}", top.friends),
                 (f"{key}.converted", f"Friends who visited, {who}", top.converted)]  # fmt: skip
    for point in m.trend:
        day = point.first_day.isoformat()
        rows += [(f"trend.{day}.{key}", f"{label}, {m.trend_period} of {day}", getattr(point, key))
                 for key, label in SATISFACTION_FIGURES]  # fmt: skip
    for row in m.staff:
        who = row.staff or "(no one named)"
        rows.append((f"staff.{who}.visits", f"Visits, {who}", row.visits))
        rows += [(f"staff.{who}.{key}", f"{label}, {who}", getattr(row, key))
                 for key, label in SATISFACTION_FIGURES]  # fmt: skip
    return [(key, str(label), figure_value(value)) for key, label, value in rows]
