"""Status and kind as enums over plain VARCHAR columns; the state module's bulk moves."""

from __future__ import annotations

from sqlalchemy import text
from sqlmodel import Session

from app.care import states
from app.care.customers import find_or_create, set_consent
from app.care.outbound import queue_text
from app.models import Message, MessageKind, MessageStatus
from tests.conftest import CUSTOMER_PHONE


def queued(session, business, clock, body="Your order is ready") -> Message:
    customer, _ = find_or_create(session, business, CUSTOMER_PHONE, now=clock.now())
    set_consent(session, customer, "granted", source="api", now=clock.now())
    message = queue_text(session, business, customer, body, "manual", now=clock.now())
    session.commit()
    return message


def test_enums_are_stored_as_plain_strings_and_read_back_as_members(
    session, business, clock, engine
):
    message = queued(session, business, clock)
    with engine.connect() as conn:
        raw = conn.execute(
            text("SELECT status, kind FROM message WHERE id = :id"), {"id": message.id}
        ).one()
    assert tuple(raw) == ("scheduled", "manual")
    assert type(raw[0]) is str
    with Session(engine) as fresh:
        loaded = fresh.get(Message, message.id)
        assert loaded.status is MessageStatus.SCHEDULED
        assert loaded.kind is MessageKind.MANUAL


def test_cancel_where_leaves_texts_that_already_left_the_outbox(session, business, clock):
    waiting = queued(session, business, clock, "One")
    claimed = queued(session, business, clock, "Two")
    assert states.claim(claimed, worker_id="w1", lease_until=clock.now(), now=clock.now())
    session.add(claimed)
    session.commit()
    ids = [waiting.id, claimed.id]
    assert states.cancel_where(session, Message.id.in_(ids), reason="closed today") == 1
    session.commit()
    session.expire_all()
    assert session.get(Message, waiting.id).status == MessageStatus.CANCELED
    assert session.get(Message, waiting.id).error_message == "closed today"
    assert session.get(Message, claimed.id).status == MessageStatus.SENDING


def test_release_claims_gives_back_only_claimed_texts(session, business, clock):
    claimed = queued(session, business, clock, "One")
    assert states.claim(claimed, worker_id="w1", lease_until=clock.now(), now=clock.now())
    session.add(claimed)
    session.commit()
    later = clock.now().replace(hour=16)
    assert states.release_claims(session, [claimed.id], send_at=later) == 1
    session.commit()
    session.expire_all()
    back = session.get(Message, claimed.id)
    assert (back.status, back.attempts, back.leased_by, back.send_at) == (
        MessageStatus.SCHEDULED,
        0,
        None,
        later,
    )
