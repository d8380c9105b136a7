"""Webhooks refuse what they cannot store: a value longer than its column is a 400, never a
5xx, on SQLite and PostgreSQL alike, and changes nothing."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from app.models import Customer, Message, StatusCallback
from tests.conftest import CUSTOMER_PHONE, inbound_form, post_signed

SMS, STATUS, VOICE = "/webhooks/twilio/sms", "/webhooks/twilio/status", "/webhooks/twilio/voice"
SERVICE_SID = "MG" + "b" * 32
SID = "SM" + "4" * 32


def counts(engine) -> tuple[int, int, int]:
    with Session(engine) as s:
        return tuple(
            s.exec(select(func.count()).select_from(model)).one()
            for model in (Customer, Message, StatusCallback)
        )


@pytest.fixture
def through_a_service(session, business):
    """The business also receives through a Messaging Service: a To it does not own still
    reaches it, so the To itself must fit the message row."""
    business.messaging_service_sid = SERVICE_SID
    session.add(business)
    session.commit()
    return business


@pytest.mark.parametrize(
    "fields",
    [
        {"To": "+1" + "2" * 19},  # 21 characters: Message.to_number holds 20
        {"To": "1" * 200},
        {"From": "+1" + "2" * 40},
        {"MessageSid": "SM" + "1" * 39},  # Message.provider_sid holds 40
        {"MessagingServiceSid": SERVICE_SID + "x"},  # Business.messaging_service_sid holds 34
    ],
)
def test_an_inbound_value_longer_than_its_column_is_400(client, through_a_service, engine, fields):
    form = {**inbound_form("Hello", sid=SID), "MessagingServiceSid": SERVICE_SID, **fields}
    response = post_signed(client, SMS, form)
    assert response.status_code == 400, response.get_data(as_text=True)
    assert counts(engine) == (0, 0, 0)


def test_a_to_of_exactly_the_column_width_is_stored(client, through_a_service, engine):
    to = "+1" + "8" * 18  # 20 characters: a number the business does not own, via its service
    form = {**inbound_form("Hello", sid=SID, to=to), "MessagingServiceSid": SERVICE_SID}
    assert post_signed(client, SMS, form).status_code == 200
    with Session(engine) as s:
        assert s.exec(select(Message.to_number)).one() == to


def test_a_status_callback_sid_longer_than_its_column_is_400(client, business, engine):
    form = {"MessageSid": "SM" + "1" * 39, "MessageStatus": "delivered"}
    assert post_signed(client, STATUS, form).status_code == 400
    assert counts(engine) == (0, 0, 0)


@pytest.mark.parametrize(
    ("extra", "query"),
    [({"ErrorCode": "9" * 15}, ""), ({}, "?mid=" + "9" * 30), ({"MessageStatus": "x" * 500}, "")],
)
def test_status_values_that_fit_no_column_are_ignored_not_a_500(
    client, business, engine, extra, query
):
    form = {"MessageSid": SID, "MessageStatus": "failed", **extra}
    assert post_signed(client, STATUS + query, form).status_code == 204
    with Session(engine) as s:
        [logged] = s.exec(select(StatusCallback)).all()
    assert logged.error_code is None and len(logged.status) <= 24


def test_a_call_to_a_number_longer_than_its_column_is_400(client, business, engine):
    call = {"CallSid": "CA" + "1" * 32, "From": CUSTOMER_PHONE, "To": "+1" + "2" * 30}
    assert post_signed(client, VOICE, call).status_code == 400
    assert counts(engine) == (0, 0, 0)


def test_a_call_from_a_number_longer_than_its_column_is_answered_and_ignored(
    client, business, engine
):
    """The caller is a person on the line: they hear TwiML, and nothing is stored."""
    call = {"CallSid": "CA" + "1" * 32, "From": "+1" + "2" * 40, "To": business.number}
    response = post_signed(client, VOICE, call)
    assert response.status_code == 200 and response.mimetype == "text/xml"
    assert counts(engine) == (0, 0, 0)
