"""What the care is doing for a business: the dashboard's figures, the metrics API and the
CSV download all come from `business_metrics`, so the three can never disagree.

A day is the business's local day (its time zone): the owner's "yesterday" is theirs, not
UTC's. `day_range` turns local days into the moments [start, end) every query uses.
"""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy import func
from sqlmodel import Session

from app.care import figures
from app.care.automations import opening_hours
from app.care.figures import ANSWER_WITHIN, REPLY_WITHIN
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
DAILY_TREND_UP_TO = 31  # days; longer ranges are drawn week by week
MAX_DAYS = 366
WORK_MEM = "64MB"
NOT_DELIVERED = (MessageStatus.FAILED, MessageStatus.UNDELIVERED)
REVIEW_ASKS = (MessageKind.REVIEW_REQUEST, MessageKind.FEEDBACK_QUESTION)


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def satisfaction(rows: Counter) -> dict:
    """CSAT (share of 4-5 on the 1-5 question), NPS (promoters - detractors, 0-10) and CES
    (the mean of 1-7 "how easy was it" answers, and the share of easy ones), from how many
    answers gave each (score, scale, ...)."""
    by_scale: dict[int, Counter] = {5: Counter(), 10: Counter(), 7: Counter()}
    for (score, scale, *_rest), count in rows.items():
        if score is not None and scale in by_scale:
            by_scale[scale][score] += count
    five, ten, seven = by_scale[5], by_scale[10], by_scale[7]

    def among(answers: Counter, keep) -> int:
        return sum(n for score, n in answers.items() if keep(score))

    fives, tens, sevens = five.total(), ten.total(), seven.total()
    promoters, detractors = among(ten, lambda s: s >= 9), among(ten, lambda s: s <= 6)
    return {
        "csat": _share(among(five, lambda s: s >= 4), fives),
        "csat_answers": fives,
        # Subtract the counts, not two rounded shares (2 of 3 minus 1 of 3 is 33.3, not 33.4).
        "nps": _share(promoters - detractors, tens),
        "nps_answers": tens,
        "ces": round(sum(s * n for s, n in seven.items()) / sevens, 1) if sevens else None,
        "ces_easy": _share(among(seven, lambda s: s >= HIGH_FROM[7]), sevens),
        "ces_answers": sevens,
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


def figures_signature(business: Business) -> str:
    """What a business's kept day figures were counted with: a change of time zone or of
    opening hours (or of what a day holds) counts them all again."""
    return f"{figures.VERSION}|{business.timezone}|{opening_hours(business).signature()}"


def business_metrics(
    session: Session, business: Business, start: datetime, end: datetime, *, now: datetime
) -> v.Metrics:
    """Every figure for one business over [start, end) (see `day_range` for local days)."""
    first_day, last_day = local_days(business, start, end)
    days = day_figures(session, business, start, end, now=now)
    total = figures.DayFigures()
    for one in days.values():
        total.add(one)

    # ---- ratings, effort and their trend -------------------------------------------------
    overall = satisfaction(total.feedback)
    span = (last_day - first_day).days + 1
    step = 1 if span <= DAILY_TREND_UP_TO else 7
    buckets: list[Counter] = [Counter() for _ in range((span + step - 1) // step)]
    for day, one in days.items():
        buckets[(day - first_day).days // step].update(one.feedback)
    trend = [
        v.TrendPoint(first_day=first_day + timedelta(days=i * step),
                     last_day=min(first_day + timedelta(days=i * step + step - 1), last_day),
                     **satisfaction(rows))
        for i, rows in enumerate(buckets)
    ]  # fmt: skip

    # ---- per staff member: visits and what their customers said ---------------------------
    who = canonical_names(session, business.id)  # the staff list's spelling: "ana" counts as Ana
    by_staff: dict[str, Counter] = {}
    for (score, scale, staff, unhappy), count in total.feedback.items():
        by_staff.setdefault(who(staff), Counter())[(score, scale, staff, unhappy)] += count
    visits: Counter = Counter()
    for name, count in total.visits.items():
        visits[who(name)] += count
    staff = [
        v.StaffMetrics(staff=name or None, visits=visits.get(name, 0),
                       **satisfaction(by_staff.get(name, Counter())))
        for name in sorted(set(by_staff) | set(visits))
    ]  # fmt: skip

    # ---- texts that went, by kind and state (alerts went to the owner's own phone) --------
    sent_by_kind: Counter = Counter()
    failures: Counter = Counter()
    sent = delivered = automated = 0
    for (kind, status, code, words), count in total.went.items():
        sent_by_kind[kind] += count
        sent += count
        delivered += count if status == MessageStatus.DELIVERED else 0
        if kind in AUTOMATED_KINDS and status in (MessageStatus.SENT, MessageStatus.DELIVERED):
            automated += count
        if status in NOT_DELIVERED:
            failures[(code, failure_reason(code, words))] += count

    # ---- every text written in the range, by direction and state --------------------------
    texts_by_status: Counter = Counter()
    received = 0
    for (direction, status, unsent, code, words), count in total.written.items():
        if direction == "inbound":
            received += count
            continue
        texts_by_status[status] += count
        if unsent and status in NOT_DELIVERED:
            failures[(code, failure_reason(code, words))] += count
    failure_list = [
        v.FailureReason(error_code=code, reason=reason, count=count)
        for (code, reason), count in sorted(failures.items(), key=lambda item: (-item[1],
                                                                                item[0][1]))
    ]  # fmt: skip

    referrals = _referral_figures(session, business.id, start, end)
    referrals.asks_sent = sent_by_kind.get(MessageKind.REFERRAL_ASK, 0)
    links, minutes = total.links, total.minutes
    return v.Metrics(
        from_=start,  # type: ignore[call-arg]  # the field is "from" (populate_by_name)
        to=end,
        timezone=business.timezone,
        first_day=first_day,
        last_day=last_day,
        **overall,
        unhappy_replies=sum(n for (_s, _sc, _st, unhappy), n in total.feedback.items()
                            if unhappy),
        review_links_sent=links[0],
        review_links_opened=links[1],
        review_link_open_rate=_share(links[1], links[0]),
        automated_texts_sent=automated,
        reply_rate=_share(total.answered, automated),
        texts_by_status=dict(texts_by_status),
        texts=v.TextFigures(sent=sent, delivered=delivered,
                            delivery_rate=_share(delivered, sent),
                            failed=sum(failures.values()), failures=failure_list),
        replies=v.ReplyFigures(
            received=received, waits=total.waits, answered=len(minutes),
            median_first_response_minutes=(round(statistics.median(minutes), 1)
                                           if minutes else None),
        ),
        reviews=v.ReviewFigures(
            requests=sum(sent_by_kind.get(kind, 0) for kind in REVIEW_ASKS),
            reminders=sent_by_kind.get(MessageKind.REVIEW_REMINDER, 0),
            links_sent=links[0], links_opened=links[1], link_opens=links[2],
            open_rate=_share(links[1], links[0]),
        ),
        new_customers=total.new_customers,
        trend_period="day" if step == 1 else "week",
        trend=trend,
        referrals=referrals,
        staff=staff,
    )  # fmt: skip


def day_figures(
    session: Session, business: Business, start: datetime, end: datetime, *, now: datetime
) -> dict[date, figures.DayFigures]:
    """The figures of each local day [start, end) touches: a kept day's as kept; the others
    (and the parts of days a range of moments cuts) counted now, and kept once over."""
    first_day, last_day = local_days(business, start, end)
    whole = (start, end) == day_range(business, first_day, last_day)
    signature = figures_signature(business)
    found: dict[date, figures.DayFigures] = {}
    touches: dict[date, int] = {}
    if whole:
        found, touches = figures.kept(session, business.id, first_day, last_day, signature)
    every = [first_day + timedelta(days=i) for i in range((last_day - first_day).days + 1)]
    counted = [day for day in every if day not in found]
    recount = [day for day in every if day not in found or not found[day].replies_final]
    for day in recount:
        found.setdefault(day, figures.DayFigures()).forget_replies()
    for days, count, join_within in (
        (counted, _count_days, COUNT_RUNS_JOIN_WITHIN),
        (recount, _count_replies, REPLY_RUNS_JOIN_WITHIN),
    ):
        for run_first, run_last in _runs(days, join_within):
            run_start, run_end = day_range(business, run_first, run_last)
            run_start, run_end = max(start, run_start), min(end, run_end)
            count(_Tally(session, business, run_start, run_end, found, set(days)), business,
                  run_start, run_end)  # fmt: skip
    to_keep: dict[date, figures.DayFigures] = {}
    for day in recount if whole else ():
        day_end = day_range(business, day, day)[1]
        if figures.counts_kept(day_end, now) and (
            day in counted or figures.replies_final(day_end, now)
        ):
            found[day].replies_final = figures.replies_final(day_end, now)
            to_keep[day] = found[day]
    figures.keep(session, business.id, to_keep, signature, touches)
    return dict(sorted(found.items()))


COUNT_RUNS_JOIN_WITHIN = 3  # days: runs of days to count closer than this are counted as one
REPLY_RUNS_JOIN_WITHIN = 14  # (the replies of a run look a week back and ahead)


def _runs(days: list[date], join_within: int) -> list[tuple[date, date]]:
    """Days to count as (first, last) runs, those less than `join_within` days apart as one
    (each run costs its queries; the replies' look a week back and ahead)."""
    runs: list[tuple[date, date]] = []
    for day in days:
        if runs and (day - runs[-1][1]).days <= join_within:
            runs[-1] = (runs[-1][0], day)
        else:
            runs.append((day, day))
    return runs


class _Tally:
    """Rows grouped by local day, added to the days being counted (and to no other: a run
    of days to count can span a kept one)."""

    def __init__(self, session: Session, business: Business, start: datetime, end: datetime,
                 into: dict[date, figures.DayFigures], wanted: set[date]):  # fmt: skip
        self.session, self.into, self.wanted = session, into, wanted
        self.dialect = session.get_bind().dialect.name
        if self.dialect == "postgresql":
            # The range's sorts and aggregates in memory, not on disk; for this transaction.
            session.execute(sa.text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        offsets = opening_hours(business).offsets_between(start - WAIT_RESTARTS_AFTER,
                                                          end + ANSWER_WITHIN)  # fmt: skip
        self.clock = _LocalClock(offsets, self.dialect)
        self.spare = figures.DayFigures()  # where rows of other days go
        self._days: dict[int, figures.DayFigures] = {}

    def of(self, number) -> figures.DayFigures:
        found = self._days.get(number)
        if found is None:
            day = date.fromordinal(EPOCH_ORDINAL + int(number))
            found = self.spare
            if day in self.wanted:
                found = self.into.get(day) or self.into.setdefault(day, figures.DayFigures())
            self._days[number] = found
        return found

    def grouped(self, column, *columns, where, counts=None):
        day = self.clock.day(_epoch(column, self.dialect))
        query = sa.select(day, *columns, *(counts or (func.count(),))).where(*where)
        return self.session.execute(query.group_by(day, *columns)).all()


def _count_days(tally: _Tally, business: Business, start: datetime, end: datetime) -> None:
    """Count the figures of [start, end) but their replies, local day by local day, in a
    few queries: each groups its rows by the local day of their moment."""
    bid = business.id
    grouped, of = tally.grouped, tally.of
    for number, *key, count in grouped(
        F.created_at, F.score, F.scale, F.staff, F.unhappy,
        where=(F.business_id == bid, _in(F.created_at, start, end)),
    ):  # fmt: skip
        of(number).feedback[tuple(key)] += count
    for number, staff, count in grouped(
        V.occurred_at, V.staff,
        where=(V.business_id == bid, V.status == VisitStatus.COMPLETED,
               _in(V.occurred_at, start, end)),
    ):  # fmt: skip
        of(number).visits[staff] += count
    for number, sent, opened, opens in grouped(
        L.created_at,
        where=(L.business_id == bid, L.kind == "review", _in(L.created_at, start, end)),
        counts=(func.count(L.id), func.count(L.opened_at),
                func.coalesce(func.sum(L.open_count), 0)),
    ):  # fmt: skip
        of(number).links = [sent, opened, int(opens)]
    for number, *key, count in grouped(
        M.sent_at, M.kind, M.status, M.error_code, M.error_message,
        where=(M.business_id == bid, _in(M.sent_at, start, end), M.direction == "outbound",
               M.kind != MessageKind.ALERT),
    ):  # fmt: skip
        of(number).went[tuple(key)] += count
    # A failure that never reached the carrier (no sent_at) counts when it was written.
    never_went = sa.and_(M.sent_at.is_(None), M.kind != MessageKind.ALERT)
    for number, *key, count in grouped(
        M.created_at, M.direction, M.status, never_went, M.error_code, M.error_message,
        where=(M.business_id == bid, _in(M.created_at, start, end)),
    ):  # fmt: skip
        key[2] = bool(key[2])
        of(number).written[tuple(key)] += count
    for number, count in grouped(
        C.created_at, where=(C.business_id == bid, _in(C.created_at, start, end))
    ):
        of(number).new_customers += count


def _count_replies(tally: _Tally, business: Business, start: datetime, end: datetime) -> None:
    """Count the replies of [start, end): the automated texts answered and the customers'
    waits for the owner."""
    session, clock, dialect, of = tally.session, tally.clock, tally.dialect, tally.of
    for number, count in _answered_within(session, business.id, start, end, clock, dialect):
        of(number).answered += count
    for number, minutes in _first_answers(session, business, start, end, clock, dialect):
        day = of(number)
        day.waits += 1
        if minutes is not None:
            day.minutes.append(minutes)


EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


class _LocalClock:
    """Local time in SQL for moments in a span: the zone's offsets in it are constants (a CASE
    at each change of clock), written into the statement as numbers, so both databases can
    do it and a GROUP BY on a local day is the same expression as its SELECT."""

    def __init__(self, offsets: list[tuple[float, float]], dialect: str):
        self.offsets = offsets
        self.postgres = dialect == "postgresql"

    def seconds(self, epoch):
        """Seconds since 1970 on the local clock."""

        def number(value: float):
            return sa.literal_column(repr(float(value)), sa.Float)

        if len(self.offsets) == 1:
            return epoch + number(self.offsets[0][1])
        return epoch + sa.case(
            *[(epoch < number(at), number(offset)) for at, offset in self.offsets[:-1]],
            else_=number(self.offsets[-1][1]),
        )

    def floor(self, value):
        if self.postgres:
            return sa.cast(func.floor(value), sa.Integer)
        return sa.cast(value, sa.Integer)  # local seconds since 1970 are positive

    def day(self, epoch):
        """The local day, as days since 1970-01-01."""
        return self.floor(self.seconds(epoch) / sa.literal_column("86400.0", sa.Float))


WAIT_RESTARTS_AFTER = ANSWER_WITHIN  # a customer's text this long after their last one


def _first_answers(
    session: Session, business: Business, start: datetime, end: datetime, clock, dialect: str
) -> list[tuple[int, float | None]]:
    """(local day, minutes in opening hours or None) of every wait that began in
    [start, end): a wait is a customer's texts up to the owner's next typed text, timed from
    the first of them, answered when that text came within ANSWER_WITHIN. A customer's text
    begins a wait after an answer, or when the conversation's text before it is more than
    WAIT_RESTARTS_AFTER older, so a day's waits are the same counted alone or in any range.
    One pass over the conversations (a window), so its cost grows with the range, not with
    the number of customers."""
    epoch = _epoch(M.created_at, dialect)
    texts = (
        sa.select(M.customer_id, M.id, M.direction, M.created_at, epoch.label("at"))
        .where(M.business_id == business.id,
               _in(M.created_at, start - WAIT_RESTARTS_AFTER, end + ANSWER_WITHIN),
               sa.or_(M.direction == "inbound", M.kind == MessageKind.MANUAL))
        .subquery()
    )  # fmt: skip
    t = texts.c
    # One order for every window: the text before each one, and its next answer (the first
    # owner's text after it; a conversation's texts in a fortnight are few, so a frame to
    # the end costs little).
    forward: dict[str, Any] = {"partition_by": t.customer_id, "order_by": (t.created_at, t.id)}
    rows = sa.select(
        t.direction, t.created_at, t.at,
        func.lag(t.direction).over(**forward).label("before"),
        func.lag(t.at).over(**forward).label("before_at"),
        func.min(sa.case((t.direction == "outbound", t.at)))
        .over(**forward, rows=(1, None)).label("answered_at"),
    ).subquery()  # fmt: skip
    r = rows.c
    within = r.answered_at <= r.at + ANSWER_WITHIN.total_seconds()
    waits = session.execute(
        sa.select(clock.day(r.at), r.at, clock.seconds(r.at),
                  sa.case((within, r.answered_at)),
                  sa.case((within, clock.seconds(r.answered_at)))).where(
            r.direction == "inbound", _in(r.created_at, start, end),
            sa.or_(r.before.is_(None), r.before == "outbound",
                   r.before_at < r.at - WAIT_RESTARTS_AFTER.total_seconds()))
    ).all()  # fmt: skip
    # The minutes in opening hours, here rather than in SQL: a wait's two moments each.
    opened = opening_hours(business).open_seconds_at
    return [(day, None if answered is None else
             (opened(answered, answered_local) - opened(at, at_local)) / 60)
            for day, at, at_local, answered, answered_local in waits]  # fmt: skip


def _answered_within(
    session: Session, business_id: int, start: datetime, end: datetime, clock, dialect: str
) -> list[tuple[int, int]]:
    """(local day, how many) of the automated texts sent in [start, end) their customer
    answered within REPLY_WITHIN: each text's next reply found in one pass over the
    conversations (a window read newest first), not looked up text by text."""
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
        .over(partition_by=t.customer_id, order_by=(t.at, t.id),
              rows=(1, None)).label("reply_at"),
    ).subquery()  # fmt: skip
    day = clock.day(rows.c.at)
    return [
        (number, count)
        for number, count in session.execute(
            sa.select(day, func.count())
            .where(rows.c.direction == "outbound",
                   rows.c.reply_at <= rows.c.at + REPLY_WITHIN.total_seconds())
            .group_by(day)
        ).all()
    ]  # fmt: skip


def _referral_figures(session: Session, bid: int, start: datetime, end: datetime):
    """Friends who arrived in the range (leads), first visits of friends in it (converted),
    rewards given in it, and the customers who sent the most friends in it. Counted on each
    request: a friend's first visit or reward comes any time after they arrived."""
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


def _epoch(column, dialect: str):
    """Seconds since 1970 of a UTC time column, as a float, in either database."""
    if dialect == "postgresql":
        return sa.cast(func.extract("epoch", column), sa.Float)
    # julianday's float is a few microseconds off: midnight must not fall on the day before.
    return func.round((func.julianday(column) - 2440587.5) * 86400.0, 3)


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
