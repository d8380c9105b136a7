"""What the care is doing for a business: the dashboard's figures, the metrics API and the
CSV download all come from `business_metrics`, so the three can never disagree.

A day is the business's local day (its time zone): the owner's "yesterday" is theirs, not
UTC's. `day_range` turns local days into the moments [start, end) every query uses.
"""

from __future__ import annotations

import statistics
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlalchemy.orm import aliased
from sqlmodel import Session, select

from app.care.automations import opening_hours
from app.care.reading import HIGH_FROM
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
    TrackedLink,
    Visit,
    VisitStatus,
)
from app.sms.errors import failure_reason

REPLY_WITHIN = timedelta(days=7)
DAILY_TREND_UP_TO = 31  # days; longer ranges are drawn week by week
MAX_DAYS = 366
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
        end = day_range(business, last, last)[1] if _is_day(last) else (last or now)
        start = day_range(business, first, first)[0] if _is_day(first) else first
    except OverflowError as exc:
        raise ValueError("out of range") from exc
    start = start or end - timedelta(days=30)
    if start >= end or end - start > timedelta(days=MAX_DAYS, hours=1):
        raise ValueError("from must be before to, at most a year apart")
    return start, end


def dashboard_days(asked: DayRange, *, today: date) -> tuple[date, date]:
    """The local days a DayRange means: from..to when either is given (the other defaults to
    30 days before, or today), else the last `days` (30) up to today. Raises Invalid."""
    if asked.from_ is None and asked.to is None:
        days = asked.days or 30
        return today - timedelta(days=days - 1), today
    last = asked.to or min(asked.from_ + timedelta(days=29), today)
    first = asked.from_ or last - timedelta(days=29)
    if first > last:
        raise Invalid("from", "The first day must be on or before the last day.")
    if (last - first).days + 1 > MAX_DAYS:
        raise Invalid("from", f"Choose at most {MAX_DAYS} days.")
    return first, last


def _is_day(value) -> bool:
    return isinstance(value, date) and not isinstance(value, datetime)


def _days_after(column, days: int, dialect: str):
    """`column` plus whole days, in SQL (the two databases write date arithmetic apart)."""
    if dialect == "postgresql":
        return column + sa.literal_column(f"interval '{int(days)} days'")
    # SQLite keeps 'YYYY-MM-DD HH:MM:SS.ffffff'; strftime gives milliseconds, so pad them.
    return func.strftime("%Y-%m-%d %H:%M:%f", column, f"+{int(days)} days").concat("999")


def _in(column, start: datetime, end: datetime):
    return sa.and_(column >= start, column < end)


def business_metrics(
    session: Session, business: Business, start: datetime, end: datetime
) -> v.Metrics:
    """Every figure for one business over [start, end) (see `day_range` for local days)."""
    bid = business.id
    first_day, last_day = local_days(business, start, end)
    dialect = session.get_bind().dialect.name

    # ---- ratings, effort and their trend -------------------------------------------------
    feedback = session.exec(
        select(Feedback.score, Feedback.scale, Feedback.staff, Feedback.unhappy,
               Feedback.created_at)
        .where(Feedback.business_id == bid, _in(Feedback.created_at, start, end))
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
    by_staff: dict[str, list] = {}
    for score, scale, staff, _unhappy, _at in feedback:
        by_staff.setdefault(staff or "", []).append((score, scale))
    visits: dict[str, int] = {}
    for name, count in session.exec(
        select(Visit.staff, func.count(Visit.id))
        .where(Visit.business_id == bid, Visit.status == VisitStatus.COMPLETED,
               _in(Visit.occurred_at, start, end))
        .group_by(Visit.staff)
    ).all():  # fmt: skip
        visits[name or ""] = visits.get(name or "", 0) + count
    staff = [
        v.StaffMetrics(staff=name or None, visits=visits.get(name, 0),
                       **satisfaction(by_staff.get(name, [])))
        for name in sorted(set(by_staff) | set(visits))
    ]  # fmt: skip

    # ---- review links -------------------------------------------------------------------
    links = session.exec(
        select(func.count(TrackedLink.id), func.count(TrackedLink.opened_at),
               func.coalesce(func.sum(TrackedLink.open_count), 0))
        .where(TrackedLink.business_id == bid, TrackedLink.kind == "review",
               _in(TrackedLink.created_at, start, end))
    ).one()  # fmt: skip

    # ---- texts sent, by kind and state (alerts went to the owner's own phone) -------------
    sent_rows = session.exec(
        select(Message.kind, Message.status, func.count(Message.id))
        .where(Message.business_id == bid, Message.direction == "outbound",
               Message.kind != MessageKind.ALERT, _in(Message.sent_at, start, end))
        .group_by(Message.kind, Message.status)
    ).all()  # fmt: skip
    sent_by_kind: dict[str, int] = {}
    for kind, _status, count in sent_rows:
        sent_by_kind[kind] = sent_by_kind.get(kind, 0) + count
    sent = sum(count for *_key, count in sent_rows)
    delivered = sum(count for _k, status, count in sent_rows if status == MessageStatus.DELIVERED)

    # A failure counts when it was sent, or last tried (some never reach the carrier).
    failed_at = func.coalesce(Message.sent_at, Message.last_attempt_at)
    failures: dict[tuple[int | None, str], int] = {}
    for code, words, count in session.exec(
        select(Message.error_code, Message.error_message, func.count(Message.id))
        .where(Message.business_id == bid, Message.direction == "outbound",
               Message.kind != MessageKind.ALERT, Message.status.in_(NOT_DELIVERED),
               _in(failed_at, start, end))
        .group_by(Message.error_code, Message.error_message)
    ).all():  # fmt: skip
        key = (code, failure_reason(code, words))
        failures[key] = failures.get(key, 0) + count
    failure_list = [
        v.FailureReason(error_code=code, reason=reason, count=count)
        for (code, reason), count in sorted(failures.items(), key=lambda item: -item[1])
    ]

    # ---- automated texts answered within REPLY_WITHIN (the reply rate) --------------------
    reply = aliased(Message)
    answered_exists = (
        select(reply.id)
        .where(reply.business_id == bid, reply.customer_id == Message.customer_id,
               reply.direction == "inbound", reply.created_at > Message.sent_at,
               reply.created_at <= _days_after(Message.sent_at, REPLY_WITHIN.days, dialect))
        .exists()
    )  # fmt: skip
    automated, answered = session.exec(
        select(func.count(Message.id), func.coalesce(func.sum(sa.case((answered_exists, 1),
                                                                      else_=0)), 0))
        .where(Message.business_id == bid, Message.direction == "outbound",
               Message.kind.in_(AUTOMATED_KINDS),
               Message.status.in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
               _in(Message.sent_at, start, end))
    ).one()  # fmt: skip

    texts_by_status = dict(
        session.exec(
            select(Message.status, func.count(Message.id))
            .where(Message.business_id == bid, Message.direction == "outbound",
                   _in(Message.created_at, start, end))
            .group_by(Message.status)
        ).all()
    )  # fmt: skip

    # ---- replies and how fast the owner answered them -------------------------------------
    received = session.exec(
        select(func.count(Message.id)).where(
            Message.business_id == bid, Message.direction == "inbound",
            _in(Message.created_at, start, end))
    ).one()  # fmt: skip
    waits = _waits(session, bid, start, end)
    hours = opening_hours(business)
    minutes = [
        (hours.open_seconds(answered_at) - hours.open_seconds(since)) / 60
        for since, answered_at in waits
        if answered_at is not None
    ]

    new_customers = session.exec(
        select(func.count(Customer.id)).where(
            Customer.business_id == bid, _in(Customer.created_at, start, end))
    ).one()  # fmt: skip

    return v.Metrics(
        from_=start,
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
            received=received, waits=len(waits), answered=len(minutes),
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
        # What the referral program will add (leads, converted, top referrers) goes here.
        referrals=v.ReferralFigures(asks_sent=sent_by_kind.get(MessageKind.REFERRAL_ASK, 0)),
        staff=staff,
    )  # fmt: skip


def _waits(
    session: Session, business_id: int, start: datetime, end: datetime
) -> list[tuple[datetime, datetime | None]]:
    """Each time a customer wrote in [start, end) and waited: (since when, when the owner's
    first typed answer came, or None). The texts a customer sends before the owner answers
    are one wait, from the first of them."""
    answer = aliased(Message)
    first_answer = (
        select(func.min(answer.id))
        .where(answer.business_id == business_id, answer.customer_id == Message.customer_id,
               answer.direction == "outbound", answer.kind == MessageKind.MANUAL,
               answer.id > Message.id)
        .scalar_subquery()
    )  # fmt: skip
    inbound = (
        select(Message.customer_id, Message.created_at.label("at"),
               first_answer.label("answer_id"))
        .where(Message.business_id == business_id, Message.direction == "inbound",
               _in(Message.created_at, start, end))
        .subquery()
    )  # fmt: skip
    answered = aliased(Message)
    since = func.min(inbound.c.at)
    rows = session.exec(
        select(sa.type_coerce(since, Message.__table__.c.created_at.type), answered.created_at)
        .select_from(inbound)
        .outerjoin(answered, answered.id == inbound.c.answer_id)
        .group_by(inbound.c.customer_id, inbound.c.answer_id, answered.created_at)
    ).all()  # fmt: skip
    return [(first, at) for first, at in rows]


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
    ]
    for point in m.trend:
        day = point.first_day.isoformat()
        rows += [(f"trend.{day}.{key}", f"{label}, {m.trend_period} of {day}", getattr(point, key))
                 for key, label in SATISFACTION_FIGURES]  # fmt: skip
    for row in m.staff:
        who = row.staff or "(no one named)"
        rows.append((f"staff.{who}.visits", f"Visits, {who}", row.visits))
        rows += [(f"staff.{who}.{key}", f"{label}, {who}", getattr(row, key))
                 for key, label in SATISFACTION_FIGURES]  # fmt: skip
    return [(key, label, figure_value(value)) for key, label, value in rows]
