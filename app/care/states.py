"""How a text moves from state to state: the one place that writes `Message.status`.

Outbound texts go scheduled -> sending -> sent -> delivered, or end failed, undelivered or
canceled (DESIGN.md, "The life of a text"). A state never moves backwards, an end state is
never left, and a stored error code is never erased or replaced. The one step back is
sending -> scheduled, for an attempt that surely never reached the provider (it refused the
request, pacing gave the slot back, reconciliation found nothing), so another try cannot text
anyone twice.

A new outbound text is created `scheduled` (care.outbound.queue_text) and an inbound one
`received`; those are starting points, not moves. Every function here returns False and
changes nothing when the move is not allowed from the message's current state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import update
from sqlmodel import Session, col

from app.care import figures
from app.db import changed
from app.models import TERMINAL_STATES, Message, MessageStatus

SCHEDULED = MessageStatus.SCHEDULED
SENDING = MessageStatus.SENDING
SENT = MessageStatus.SENT
DELIVERED = MessageStatus.DELIVERED
FAILED = MessageStatus.FAILED
UNDELIVERED = MessageStatus.UNDELIVERED
CANCELED = MessageStatus.CANCELED

_RANK: dict[str, int] = {SCHEDULED: 0, SENDING: 1, SENT: 2}  # every end state ranks above these
FAILURES = frozenset({FAILED, UNDELIVERED})  # end states an error code explains

# The provider's word (Twilio's MessageStatus) -> our state.
OUR_STATE = {
    "accepted": SENT,
    "scheduled": SENT,
    "queued": SENT,
    "sending": SENT,
    "sent": SENT,
    "delivered": DELIVERED,
    "read": DELIVERED,
    "partially_delivered": DELIVERED,
    "undelivered": UNDELIVERED,
    "failed": FAILED,
    "canceled": CANCELED,
}
# How far along the provider's own words are: `provider_status` only ever moves up this.
PROVIDER_RANK = {
    "accepted": 0, "scheduled": 0, "queued": 1, "sending": 2, "sent": 3,
    "delivered": 4, "partially_delivered": 4, "undelivered": 4, "failed": 4, "canceled": 4,
    "read": 5,
}  # fmt: skip
PROVIDER_FINAL = frozenset({"undelivered", "failed", "canceled"})


def _rank(state: str) -> int:
    return 10 if state in TERMINAL_STATES else _RANK.get(state, -1)


def can_move(current: str, target: str) -> bool:
    """Whether the state machine allows `current` -> `target` at all."""
    if current in TERMINAL_STATES or current not in _RANK:
        return False  # an end state (or an inbound text) stays what it is
    if target == SCHEDULED:
        return current in (SCHEDULED, SENDING)
    return _rank(target) > _rank(current)


def _move(message: Message, target: MessageStatus, sources: frozenset[str]) -> bool:
    current = message.status
    if current not in sources or not can_move(current, target):
        return False
    message.status = target
    return True


def _release(message: Message) -> None:
    message.lease_until = None
    message.leased_by = None


_FROM_OUTBOX = frozenset({SCHEDULED})
_NOT_ENDED = frozenset(_RANK)
_FROM_OURS = frozenset({SCHEDULED, SENDING})
_FROM_SENDING = frozenset({SENDING})


def claim(message: Message, *, worker_id: str, lease_until: datetime, now: datetime) -> bool:
    """A worker takes a due text to send it: scheduled -> sending, one more attempt, leased."""
    if not _move(message, SENDING, _FROM_OUTBOX):
        return False
    message.attempts += 1
    message.last_attempt_at = now
    message.lease_until = lease_until
    message.leased_by = worker_id
    message.reason = None  # it waits no longer
    return True


def reschedule(
    message: Message, send_at: datetime, *, reason: str | None = None, why: str | None = None
) -> bool:
    """Wait in the outbox until `send_at`: a later slot for a scheduled text, or another try of
    an attempt that surely never reached the provider (sending -> scheduled). `reason` is a
    failed attempt's error; `why` says in plain words why a planned text moved (shown to the
    owner)."""
    if not _move(message, SCHEDULED, _FROM_OURS):
        return False
    message.send_at = send_at
    _release(message)
    if reason is not None:
        message.error_message = reason[:300]
    if why is not None:
        message.reason = why[:200]
    return True


def mark_sent(message: Message, sid: str, *, now: datetime) -> bool:
    """The provider accepted the text as `sid`: sending -> sent. False (and nothing changed)
    when another SID is already tied to the text; a text a callback has already moved on
    keeps its state and gets the SID."""
    if message.provider_sid not in (None, sid):
        return False
    message.provider_sid = sid
    if _move(message, SENT, _FROM_SENDING):
        message.sent_at = now
    _release(message)
    message.error_message = None
    return True


def report(
    message: Message, provider_status: str, *, now: datetime, error_code: int | None = None
) -> bool:
    """What the provider says about a text it has (a status callback, a send's answer, a
    reconciliation). Moves forward only, never out of an end state; an error code explains a
    failure and is kept once stored. True when our state changed."""
    provider_status = provider_status.lower()
    known = PROVIDER_RANK.get(message.provider_status or "", -1)
    new = PROVIDER_RANK.get(provider_status, -1)
    settled = message.provider_status in PROVIDER_FINAL
    if not settled and (new > known or (new == known and known < PROVIDER_RANK["delivered"])):
        message.provider_status = provider_status
    target = OUR_STATE.get(provider_status)
    moved = target is not None and _move(message, target, _NOT_ENDED)
    if moved:
        if target == DELIVERED:
            message.delivered_at = now
        if target in (SENT, DELIVERED) and message.sent_at is None:
            message.sent_at = now
    # A code explains a failure; a late one on a delivered text explains nothing.
    if error_code is not None and message.error_code is None and message.status in FAILURES:
        message.error_code = error_code
    if message.status != SENDING:
        _release(message)  # the provider has it: no worker holds it any more
    return moved


def fail(message: Message, reason: str, *, code: int | None = None) -> bool:
    """We give up on a text we still hold (a permanent refusal, a rule at send time, too many
    tries): scheduled or sending -> failed, with the provider's code when there is one."""
    if not _move(message, FAILED, _FROM_OURS):
        return False
    if code is not None and message.error_code is None:
        message.error_code = code
    message.error_message = reason[:300]
    _release(message)
    return True


def cancel(message: Message, reason: str) -> bool:
    """A scheduled text will not go: scheduled -> canceled. A text already handed to the
    provider cannot be called back here."""
    if not _move(message, CANCELED, _FROM_OUTBOX):
        return False
    message.error_message = reason[:300] or None
    message.reason = reason[:200] or None  # why the planned text will not go, in words
    return True


def withdraw(message: Message, reason: str) -> bool:
    """A claimed text its worker decided not to hand to the provider after all (its number
    opted out after the claim): sending -> canceled. Only before the provider was called."""
    if not _move(message, CANCELED, _FROM_SENDING):
        return False
    message.error_message = reason[:300] or None
    message.reason = reason[:200] or None
    _release(message)
    return True


def cancel_where(session: Session, *criteria, reason: str) -> int:
    """Cancel, in one conditional UPDATE, every scheduled text matching `criteria`; returns how
    many. Never races a worker's claim: a claimed text is no longer scheduled."""
    rows = session.execute(
        update(Message)
        .where(col(Message.status) == SCHEDULED, *criteria)
        .values(status=CANCELED, error_message=reason[:300] or None, reason=reason[:200] or None)
        .returning(col(Message.business_id), col(Message.created_at))
        .execution_options(synchronize_session=False)
    ).all()
    figures.touch(session, [(business_id, created) for business_id, created in rows])
    return len(rows)


def release_claims(session: Session, message_ids: Iterable[int], *, send_at: datetime) -> int:
    """Give claimed texts back to the outbox unsent (sending -> scheduled), undoing the
    claim's attempt: pacing found no slot for them in this batch."""
    rows = session.execute(
        update(Message)
        .where(col(Message.id).in_(list(message_ids)), col(Message.status) == SENDING)
        .values(
            status=SCHEDULED,
            send_at=send_at,
            lease_until=None,
            leased_by=None,
            attempts=col(Message.attempts) - 1,
        )
        .returning(col(Message.business_id), col(Message.created_at))
        .execution_options(synchronize_session=False)
    ).all()
    figures.touch(session, [(business_id, created) for business_id, created in rows])
    return len(rows)


def hold(session: Session, *, broadcast_id: int, why: str) -> int:
    """A paused broadcast's unsent texts stay in the outbox without a send time (no claim
    takes a text without one); returns how many."""
    held = session.execute(
        update(Message)
        .where(
            col(Message.broadcast_id) == broadcast_id,
            col(Message.status) == SCHEDULED,
            col(Message.direction) == "outbound",
        )  # fmt: skip
        .values(send_at=None, reason=why[:200])
        .execution_options(synchronize_session=False)
    )
    return changed(held)


def unhold(session: Session, *, broadcast_id: int, send_at: datetime) -> int:
    """A resumed broadcast's held texts are due again from `send_at`; returns how many."""
    released = session.execute(
        update(Message)
        .where(
            col(Message.broadcast_id) == broadcast_id,
            col(Message.status) == SCHEDULED,
            col(Message.send_at).is_(None),
        )  # fmt: skip
        .values(send_at=send_at, reason=None)
        .execution_options(synchronize_session=False)
    )
    return changed(released)
