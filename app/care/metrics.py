"""What the care is doing for a business: CSAT, NPS, review-link opens, reply rate."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.models import AUTOMATED_KINDS, Feedback, Message, MessageStatus, TrackedLink

REPLY_WITHIN = timedelta(days=7)


def _share(part: int, whole: int) -> float | None:
    return round(100.0 * part / whole, 1) if whole else None


def satisfaction(rows: list[tuple[int | None, int | None]]) -> dict:
    """CSAT (share of 4-5 on the 1-5 question) and NPS (promoters - detractors, 0-10)."""
    five = [score for score, scale in rows if scale == 5 and score is not None]
    ten = [score for score, scale in rows if scale == 10 and score is not None]
    promoters = sum(1 for s in ten if s >= 9)
    detractors = sum(1 for s in ten if s <= 6)
    return {
        "csat": _share(sum(1 for s in five if s >= 4), len(five)),
        "csat_answers": len(five),
        # Subtract the counts, not two rounded shares (2 of 3 minus 1 of 3 is 33.3, not 33.4).
        "nps": _share(promoters - detractors, len(ten)),
        "nps_answers": len(ten),
    }


def business_metrics(session: Session, business_id: int, start: datetime, end: datetime) -> dict:
    """Every measure for one business over [start, end)."""
    feedback = session.exec(
        select(
            col(Feedback.score), col(Feedback.scale), col(Feedback.staff), col(Feedback.unhappy)
        ).where(
            col(Feedback.business_id) == business_id,
            col(Feedback.created_at) >= start,
            col(Feedback.created_at) < end,
        )
    ).all()
    overall = satisfaction([(score, scale) for score, scale, _staff, _u in feedback])
    by_staff: dict[str, list] = {}
    for score, scale, staff, _unhappy in feedback:
        by_staff.setdefault(staff or "", []).append((score, scale))
    staff_rows = [
        {"staff": name or None, **satisfaction(rows)} for name, rows in sorted(by_staff.items())
    ]
    links = session.exec(
        select(func.count(col(TrackedLink.id)), func.count(col(TrackedLink.opened_at))).where(
            col(TrackedLink.business_id) == business_id,
            col(TrackedLink.kind) == "review",
            col(TrackedLink.created_at) >= start,
            col(TrackedLink.created_at) < end,
        )
    ).one()
    # A text counts as answered when its customer wrote back within REPLY_WITHIN. Date
    # arithmetic differs between SQLite and PostgreSQL, so the window is checked here.
    automated = session.exec(
        select(col(Message.customer_id), col(Message.sent_at)).where(
            col(Message.business_id) == business_id,
            col(Message.direction) == "outbound",
            col(Message.kind).in_(AUTOMATED_KINDS),
            col(Message.status).in_((MessageStatus.SENT, MessageStatus.DELIVERED)),
            col(Message.sent_at) >= start,
            col(Message.sent_at) < end,
        )
    ).all()
    replies: dict[int, list[datetime]] = {}
    for customer_id, created_at in session.exec(
        select(col(Message.customer_id), col(Message.created_at)).where(
            col(Message.business_id) == business_id,
            col(Message.direction) == "inbound",
            col(Message.created_at) > start,
            col(Message.created_at) <= end + REPLY_WITHIN,
        )
    ):
        replies.setdefault(customer_id, []).append(created_at)
    sent = len(automated)
    answered = sum(
        any(sent_at < at <= sent_at + REPLY_WITHIN for at in replies.get(customer_id, ()))
        for customer_id, sent_at in automated
        if sent_at is not None
    )
    texts = dict(
        session.exec(
            select(col(Message.status), func.count(col(Message.id)))
            .where(
                col(Message.business_id) == business_id,
                col(Message.direction) == "outbound",
                col(Message.created_at) >= start,
                col(Message.created_at) < end,
            )
            .group_by(col(Message.status))
        ).all()
    )
    return {
        "from": start,
        "to": end,
        **overall,
        "unhappy_replies": sum(1 for *_rest, unhappy in feedback if unhappy),
        "review_links_sent": links[0],
        "review_links_opened": links[1],
        "review_link_open_rate": _share(links[1], links[0]),
        "automated_texts_sent": sent,
        "reply_rate": _share(answered, sent),
        "texts_by_status": texts,
        "staff": staff_rows,
    }
