"""The dashboard's figures of one local day, kept once the day is over.

Every figure the dashboard shows is a count that adds up over days (texts by state, ratings
by score, visits by staff member, the minutes each wait lasted), so a range's figures are
the sum of its days'. A day's counts are kept `COUNTS_KEPT_AFTER` its end (a day late, when
its delivery reports are in); its replies (automated texts answered, the owner's first
answers) only `REPLIES_KEPT_AFTER` its end, when every reply that can still count for them
has come (app.care.metrics looks a week ahead). Until then they are counted on each request,
over the last week's texts only.

A late change to what a kept day counted (a delivery report days later, a review link opened
weeks later, a visit recorded for last month) empties that day's kept figures and counts a
touch: a count that began before the touch is not kept (see `keep`), so the day is counted
again on the next request. The changes are seen where they are flushed (an ORM hook on every
session) and in the few bulk UPDATEs of texts (app.care.states), so no code path can forget.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event, inspect
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from app.models import Customer, DailyFigures, Feedback, Message, TrackedLink, Visit, table_of

REPLY_WITHIN = timedelta(days=7)  # an automated text's reply counts up to a week after it
ANSWER_WITHIN = timedelta(days=7)  # the owner's answer to a wait counts up to a week after it
COUNTS_KEPT_AFTER = timedelta(days=1)
REPLIES_KEPT_AFTER = max(REPLY_WITHIN, ANSWER_WITHIN)
CLOCK_SLACK = timedelta(hours=1)  # between the hosts' clocks
VERSION = "1"  # of what a day's figures hold: a change counts every kept day again

D = table_of(DailyFigures).c


@dataclass
class DayFigures:
    """One day's counts (or a range's, added up)."""

    feedback: Counter = field(default_factory=Counter)  # (score, scale, staff, unhappy) -> n
    visits: Counter = field(default_factory=Counter)  # staff -> completed visits
    links: list[int] = field(default_factory=lambda: [0, 0, 0])  # [sent, opened, opens]
    went: Counter = field(default_factory=Counter)  # (kind, status, code, words) -> n, by sent
    written: Counter = field(default_factory=Counter)  # (direction, status, unsent, code, words)
    answered: int = 0  # automated texts sent that day their customer answered in REPLY_WITHIN
    waits: int = 0  # customers' waits for the owner that began that day
    minutes: list[float] = field(default_factory=list)  # how long each answered one lasted
    new_customers: int = 0
    replies_final: bool = False  # answered, waits and minutes can no longer change

    def forget_replies(self) -> None:
        self.answered, self.waits, self.minutes = 0, 0, []

    def add(self, other: DayFigures) -> None:
        self.feedback.update(other.feedback)
        self.visits.update(other.visits)
        self.links = [a + b for a, b in zip(self.links, other.links, strict=True)]
        self.went.update(other.went)
        self.written.update(other.written)
        self.answered += other.answered
        self.waits += other.waits
        self.minutes.extend(other.minutes)
        self.new_customers += other.new_customers

    def to_json(self) -> str:
        def rows(counter: Counter) -> list:
            return [[*key, n] for key, n in counter.items()]

        return json.dumps({
            "feedback": rows(self.feedback), "visits": [[k, n] for k, n in self.visits.items()],
            "links": self.links, "went": rows(self.went), "written": rows(self.written),
            "answered": self.answered, "waits": self.waits,
            "minutes": [round(m, 3) for m in self.minutes], "new_customers": self.new_customers,
            "replies_final": self.replies_final,
        }, separators=(",", ":"))  # fmt: skip

    @classmethod
    def from_json(cls, text: str) -> DayFigures:
        data: dict[str, Any] = json.loads(text)

        def counter(rows: list) -> Counter:
            return Counter({tuple(row[:-1]): row[-1] for row in rows})

        return cls(
            feedback=counter(data["feedback"]), visits=Counter(dict(data["visits"])),
            links=data["links"], went=counter(data["went"]), written=counter(data["written"]),
            answered=data["answered"], waits=data["waits"], minutes=data["minutes"],
            new_customers=data["new_customers"], replies_final=data["replies_final"],
        )  # fmt: skip


def counts_kept(day_end: datetime, now: datetime) -> bool:
    """Whether a day that ended at `day_end` is kept: its counts change only by a touch."""
    return day_end + COUNTS_KEPT_AFTER <= now


def replies_final(day_end: datetime, now: datetime) -> bool:
    """Whether its replies are in: no reply or answer to come can count for it."""
    return day_end + REPLIES_KEPT_AFTER <= now


def kept(
    session: Session, business_id: int, first: date, last: date, signature: str
) -> tuple[dict[date, DayFigures], dict[date, int]]:
    """The kept figures of the days first..last counted with `signature`, and every row's
    touches (a count of these days is kept only if no touch came meanwhile)."""
    figures: dict[date, DayFigures] = {}
    touches: dict[date, int] = {}
    for day, signed, text, touched in session.execute(
        sa.select(D.day, D.signature, D.figures, D.touches).where(
            D.business_id == business_id, D.day >= first, D.day <= last
        )
    ):
        touches[day] = touched
        if text is not None and signed == signature:
            figures[day] = DayFigures.from_json(text)
    return figures, touches


def _insert(session: Session):
    dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
    return dialect.insert(table_of(DailyFigures))


def keep(
    session: Session,
    business_id: int,
    days: dict[date, DayFigures],
    signature: str,
    touches: dict[date, int],
) -> None:
    """Keep closed days' figures, each unless it was touched after `touches` was read."""
    if not days:
        return
    statement = _insert(session)
    statement = statement.on_conflict_do_update(
        index_elements=[D.business_id, D.day],
        set_={"figures": statement.excluded.figures, "signature": statement.excluded.signature},
        where=D.touches == statement.excluded.touches,
    )
    session.execute(statement, [
        {"business_id": business_id, "day": day, "signature": signature,
         "figures": figures.to_json(), "touches": touches.get(day, 0)}
        for day, figures in sorted(days.items())
    ])  # fmt: skip


def touch(session: Session, changes: Iterable[tuple[int, datetime | None]], *, now=None) -> None:
    """(business, moment) pairs whose figures changed: empty the kept figures of the closed
    days around each moment. A moment of a day still open touches nothing (and costs nothing):
    its day is not kept yet."""
    now = now or datetime.now(UTC)
    horizon = now - COUNTS_KEPT_AFTER + CLOCK_SLACK
    days: set[tuple[int, date]] = set()
    for business_id, moment in changes:
        if moment is None or business_id is None or moment >= horizon:
            continue
        # The moment's local day is within a day of its UTC one, whatever the zone.
        for shift in (-1, 0, 1):
            days.add((business_id, (moment + timedelta(days=shift)).astimezone(UTC).date()))
    if not days:
        return
    statement = _insert(session)
    statement = statement.on_conflict_do_update(
        index_elements=[D.business_id, D.day], set_={"figures": None, "touches": D.touches + 1}
    )
    session.execute(statement, [
        {"business_id": business_id, "day": day, "signature": "", "figures": None, "touches": 1}
        for business_id, day in sorted(days)
    ])  # fmt: skip


def touch_all(session: Session, business_id: int) -> None:
    """Every kept day of a business counts again (a staff member renamed: their old visits
    and ratings carry the new name now)."""
    session.execute(
        sa.update(table_of(DailyFigures))
        .where(D.business_id == business_id)
        .values(figures=None, touches=D.touches + 1)
    )


# What each kept figure is counted from: the moments that place a row on a day, and the
# attributes whose change changes a count.
WATCHED: dict[type, tuple[tuple[str, ...], tuple[str, ...]]] = {
    Message: (("created_at", "sent_at"), ("status", "sent_at", "error_code", "error_message")),
    TrackedLink: (("created_at",), ("opened_at", "open_count")),
    Visit: (("occurred_at",), ("occurred_at", "status", "staff")),
    Feedback: (("created_at",), ("score", "scale", "staff", "unhappy", "created_at")),
    Customer: (("created_at",), ("created_at",)),
}


def _changes(session: Session) -> list[tuple[int, datetime | None]]:
    found: list[tuple[int, datetime | None]] = []
    for obj in list(session.new) + list(session.dirty):
        watched = WATCHED.get(type(obj))
        if watched is None:
            continue
        moments, attributes = watched
        state = inspect(obj)
        if obj not in session.new:
            histories = [state.attrs[name].history for name in attributes]
            if not any(history.has_changes() for history in histories):
                continue
            for name in moments:  # a moved row leaves a day too
                found += [(obj.business_id, old) for old in state.attrs[name].history.deleted]
        found += [(obj.business_id, getattr(obj, name)) for name in moments]
    return found


@event.listens_for(Session, "before_flush")
def _touch_flushed(session: Session, _context, _instances) -> None:
    changes = _changes(session)
    if changes:
        touch(session, changes)
