"""One contact budget every automated text draws on, and why a planned text moved or was
skipped, in plain words.

Every automated text (care, referral and, as they come, milestone, anniversary, birthday,
win-back and broadcasts) asks `draw()` with its kind and whether it is promotional, when it
is queued and again when it is about to go (the budget may be used up in between). The
budget per customer: the recipient's sending window (the business's hours inside the law's:
FACTS.md), the business's daily cap, at most 3 texts in 24 hours (the product's rule, and
the law in Florida, Oklahoma and Maryland), and at most `marketing_per_30_days` promotional
texts in 30 days. Texts the owner types are not automated and never draw on it.

A text that only has to wait (quiet hours, a full day) is moved; a promotional text over its
30 days, or a text that is only worth sending on its day, is skipped. Either way `words()`
says why, the one place those words are written.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta

from sqlalchemy import func
from sqlmodel import Session, col, select

from app.care.windows import STATE_DAILY_CAPS, STATE_NAMES, Window, recipient_window
from app.models import AUTOMATED_KINDS, Business, Customer, Message

INFORMATIONAL, PROMOTIONAL = "texts", "marketing"
WAIT, SKIP = "wait", "skip"
ROLLING_LIMIT = 3  # never more than 3 automated texts in 24 hours (FACTS.md)
MARKETING_DAYS = 30
LIVE = ("scheduled", "sending", "sent", "delivered")
WENT = ("sending", "sent", "delivered")


@dataclass(frozen=True)
class Draw:
    """How one kind of automated text draws on the budget: the consent it needs (CTIA; an
    offer makes any text promotional) and what a full day does to it: WAIT for the next free
    day, or SKIP it (a text that only makes sense on its day, such as a birthday's)."""

    consent: str = INFORMATIONAL
    when_full: str = WAIT


# One line per kind that is not a plain informational text that waits (a milestone
# thank-you, an anniversary or a birthday with a reward or an offer is queued promotional).
DRAWS: dict[str, Draw] = {
    "referral_reward": Draw(PROMOTIONAL),
    "anniversary": Draw(when_full=SKIP),  # on its day or not at all
    "birthday": Draw(when_full=SKIP),
    "broadcast": Draw(when_full=SKIP),  # goes with its broadcast, or not at all
}


def draw_of(kind: str) -> Draw | None:
    """How `kind` draws on the budget, or None when it is no automated text."""
    return DRAWS.get(kind, Draw()) if kind in AUTOMATED_KINDS else None


@dataclass(frozen=True)
class Decision:
    """When a text may go (`send_at`, None when it is skipped) and the rule that moved or
    skipped it, with the facts its words need."""

    send_at: datetime | None
    rule: str | None = None
    facts: dict = field(default_factory=dict)

    @property
    def skipped(self) -> bool:
        return self.send_at is None

    @property
    def reason(self) -> str | None:
        return words(self.rule, **self.facts) if self.rule else None


class NoWindow(ValueError):
    """The recipient's window never opens (the business's hours leave nothing)."""


def window_for(business: Business, customer: Customer) -> Window:
    return recipient_window(
        customer.phone, business.timezone, business.window_start, business.window_end
    )


def _outbound(customer_id: int, start: datetime, end: datetime, statuses, exclude_id):
    query = select(Message).where(
        col(Message.customer_id) == customer_id,
        col(Message.direction) == "outbound",
        col(Message.status).in_(statuses),
        col(Message.send_at) >= start,
        col(Message.send_at) < end,
    )
    if exclude_id is not None:
        query = query.where(col(Message.id) != exclude_id)
    return query


def _count(session: Session, query) -> int:
    return session.exec(select(func.count()).select_from(query.subquery())).one()


def draw(
    session: Session,
    business: Business,
    customer: Customer,
    kind: str,
    *,
    promotional: bool = False,
    at: datetime,
    now: datetime,
    sent_only: bool = False,
    exclude_id: int | None = None,
) -> Decision:
    """The first moment at or after `at` this automated text fits the customer's budget, and
    the rule that moved it there; or that it is skipped, and why. `sent_only`: count only the
    texts that went (at send time the planned ones are checked when their turn comes).
    Raises NoWindow when the recipient's window never opens."""
    kind_draw = draw_of(kind) or Draw()
    statuses = WENT if sent_only else LIVE
    window = window_for(business, customer)
    per_day = max(1, min(business.daily_automated_cap, ROLLING_LIMIT))
    rolling = min(ROLLING_LIMIT, window.daily_cap() or ROLLING_LIMIT)
    candidate, moved_by, pushed = at, None, False
    for _ in range(60):
        try:
            opening = window.next_opening(candidate)
        except ValueError as exc:
            raise NoWindow(str(exc)) from exc
        if opening != candidate and not pushed:
            moved_by = _quiet_hours(window, candidate, opening)
        candidate, pushed = opening, False
        if promotional:
            offers = _outbound(customer.id, candidate - timedelta(days=MARKETING_DAYS),
                               candidate + timedelta(seconds=1), statuses, exclude_id)  # fmt: skip
            offers = offers.where(col(Message.promotional).is_(True))
            if _count(session, offers) >= business.marketing_per_30_days:
                return Decision(None, "marketing_cap", {"limit": business.marketing_per_30_days})
        local = candidate.astimezone(window.zone)
        day_start = local.replace(hour=0, minute=0, second=0, microsecond=0)
        next_day = day_start + timedelta(days=1)
        full = _full_day(session, customer, day_start, next_day, statuses, exclude_id, per_day,
                         now=now)  # fmt: skip
        if full is None:
            around = _outbound(customer.id, candidate - timedelta(hours=24),
                               candidate + timedelta(hours=24), statuses, exclude_id)  # fmt: skip
            around = around.where(col(Message.kind).in_(AUTOMATED_KINDS))
            if _count(session, around) >= rolling:
                state = window.state if window.state in STATE_DAILY_CAPS else None
                full = ("rolling_cap", {"limit": rolling, "state": STATE_NAMES.get(state or "")})
        if full is None:
            return Decision(candidate, *(moved_by or (None, {})))
        if kind_draw.when_full == SKIP:
            return Decision(None, *full)
        moved_by, candidate, pushed = full, next_day, True
    raise NoWindow("No sending slot in the next two months for this customer.")


def _full_day(session, customer, start, end, statuses, exclude_id, per_day, *, now):
    """(rule, facts) when the customer's day already holds `per_day` automated texts."""
    query = _outbound(customer.id, start, end, statuses, exclude_id)
    query = query.where(col(Message.kind).in_(AUTOMATED_KINDS))
    texts = list(session.exec(query.order_by(col(Message.send_at).desc()).limit(per_day)))
    if len(texts) < per_day:
        return None
    latest = texts[0]
    went = latest.status in WENT and latest.send_at is not None and latest.send_at <= now
    return "daily_cap", {"limit": per_day, "kind": latest.kind,
                         "ago": ago(latest.send_at, now) if went else None}  # fmt: skip


def _quiet_hours(window: Window, when: datetime, opening: datetime) -> tuple[str, dict]:
    hours, facts = window.closed_by(when, opening)
    return f"quiet_{hours}", facts


def first_opening(window: Window, at: datetime) -> tuple[datetime, str | None]:
    """The first moment at or after `at` the window is open, and why it waits, in words (None
    when it need not). Raises ValueError when the window never opens."""
    opening = window.next_opening(at)
    if opening == at:
        return at, None
    rule, facts = _quiet_hours(window, at, opening)
    return opening, words(rule, **facts)


# ---- the words ----------------------------------------------------------------------------


def clock_words(moment: time) -> str:
    """9:00 -> "9 AM", 20:30 -> "8:30 PM"."""
    hour = moment.hour % 12 or 12
    minutes = f":{moment.minute:02d}" if moment.minute else ""
    return f"{hour}{minutes} {'AM' if moment.hour < 12 else 'PM'}"


def ago(then: datetime | None, now: datetime) -> str:
    """How long ago, as people say it: "just now", "3 hours ago", "2 days ago"."""
    if then is None:
        return "some time ago"
    seconds = max(0, (now - then).total_seconds())
    for size, unit in ((86400, "day"), (3600, "hour"), (60, "minute")):
        if seconds >= size:
            count = int(seconds // size)
            return f"{count} {unit}{'' if count == 1 else 's'} ago"
    return "just now"


def _kind_words(kind: str) -> str:
    return str(kind).replace("_", " ")


def _texts(count: int, word: str = "text") -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def words(rule: str, **facts) -> str:
    """Why a planned text moved or was skipped, in the owner's words: the one place these
    are written (the conversation, the API and the visit's "skipped" all show these)."""
    if rule == "daily_cap":
        limit = f"{_texts(facts['limit'], 'automated text')} a day"
        if facts.get("ago"):
            return f"texted {facts['ago']} ({_kind_words(facts['kind'])}): {limit}"
        return f"a {_kind_words(facts['kind'])} is planned that day: {limit}"
    if rule == "rolling_cap":
        where = f" in {facts['state']}" if facts.get("state") else ""
        return f"{_texts(facts['limit'])} in 24 hours is the limit{where}"
    if rule == "marketing_cap":
        return f"{_texts(facts['limit'], 'offer')} in {MARKETING_DAYS} days already"
    if rule == "quiet_state":
        if facts.get("day"):
            return f"quiet hours in {facts['state']} on {facts['day']}"
        hours = f"{clock_words(facts['start'])} to {clock_words(facts['end'])}"
        return f"quiet hours in {facts['state']} (texts from {hours})"
    if rule in ("quiet_business", "quiet_federal"):
        hours = f"{clock_words(facts['start'])} to {clock_words(facts['end'])}"
        whose = "your sending hours" if rule == "quiet_business" else "the hours the law allows"
        return f"outside {whose} ({hours})"
    return FIXED_WORDS[rule].format(**facts)


FIXED_WORDS = {
    "opted_out": "opted out",
    "bad_number": "the number cannot get texts",
    "number_opted_out": "the number opted out",
    "no_consent": "no consent to texts",
    "no_marketing_consent": "no marketing consent",
    "complaint_hold": "unresolved complaint: waits for your answer (a few days at most)",
    "unhappy": "they said they were unhappy",
    "asked_recently": "already asked in the last {days} days",
    "review_link_opened": "the review link was opened",
}
