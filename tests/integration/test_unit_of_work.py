"""The carrier's ways in commit once, at their edge: care/ leaves the transaction to its caller,
so a request or a job is all or nothing, and a retried text changes nothing."""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, func, select

from app.care.automations import alert_unanswered
from app.care.inbound import missed_call_text_back, receive_text
from app.care.status import apply_status_callback
from app.models import Customer, Message, StatusCallback
from app.sms.webhooks import inbound_text, incoming_call, status_report
from tests.conftest import BUSINESS_NUMBER, CUSTOMER_PHONE, inbound_form, post_signed

SMS = "/webhooks/twilio/sms"


def counts(engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return tuple(
            s.exec(select(func.count()).select_from(model)).one()
            for model in (Customer, Message, StatusCallback)
        )


def test_an_inbound_text_is_not_committed_by_the_domain(engine, business, clock):
    with Session(engine) as session:
        result = receive_text(session, inbound_text(inbound_form("HELP", sid="SM" + "1" * 32)),
                              now=clock.now())  # fmt: skip
        assert result.keyword == "help" and not result.duplicate
        session.rollback()  # the edge failed after the domain's work: nothing may remain
    assert counts(engine) == (0, 0, 0)


def test_a_missed_call_is_not_committed_by_the_domain(engine, business, clock):
    call = incoming_call({"CallSid": "CA1", "From": CUSTOMER_PHONE, "To": BUSINESS_NUMBER})
    with Session(engine) as session:
        assert missed_call_text_back(session, call, now=clock.now()) is True
        session.rollback()
    assert counts(engine) == (0, 0, 0)


def test_a_status_report_is_not_committed_by_the_domain(engine, business, clock):
    report = status_report({"MessageSid": "SM" + "2" * 32, "MessageStatus": "delivered"})
    with Session(engine) as session:
        apply_status_callback(session, report, now=clock.now())
        session.rollback()
    assert counts(engine) == (0, 0, 0)


def test_the_unanswered_sweep_is_not_committed_by_the_domain(engine, session, business, clock):
    business.alert_phone = "+12125550177"
    session.add(business)
    session.commit()
    receive_text(session, inbound_text(inbound_form("Are you open?", sid="SM" + "3" * 32)),
                 now=clock.now())  # fmt: skip
    session.commit()
    later = clock.now() + timedelta(hours=1)
    with Session(engine) as sweep:
        assert alert_unanswered(sweep, now=later) == 1
        sweep.rollback()
    with Session(engine) as s:
        assert s.exec(select(Message).where(Message.kind == "alert")).all() == []


def test_a_retried_text_changes_nothing_and_gets_the_same_answer(client, business, engine):
    form = inbound_form("Are you open Sunday?", sid="SM" + "4" * 32)
    first = post_signed(client, SMS, form)
    retry = post_signed(client, SMS, form)
    assert (first.status_code, retry.status_code) == (200, 200)
    assert retry.data == first.data
    with Session(engine) as s:
        [customer] = s.exec(select(Customer)).all()
        assert customer.unread_count == 1  # the retry's upsert was rolled back
    assert counts(engine) == (1, 1, 0)


def test_a_retry_in_the_domain_reports_the_stored_text(engine, business, clock):
    text = inbound_text(inbound_form("Thanks", sid="SM" + "5" * 32))
    with Session(engine) as session:
        first = receive_text(session, text, now=clock.now())
        session.commit()
        again = receive_text(session, text, now=clock.now())
        session.commit()
    assert again.duplicate and again.message_id == first.message_id
    assert counts(engine) == (1, 1, 0)
