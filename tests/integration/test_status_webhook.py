"""POST /webhooks/twilio/status: late, repeated, out-of-order callbacks only move texts forward."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, func, select

from app.models import ConsentEvent, Customer, Message, StatusCallback
from tests.conftest import (
    ACCOUNT_SID,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    PUBLIC_BASE,
    post_signed,
    sign,
)

SID = "SM" + "5" * 32
OTHER_SID = "SM" + "6" * 32


def rows(engine, model, *where) -> list:
    with Session(engine) as s:
        return list(s.exec(select(model).where(*where).order_by(model.id)).all())


def count(engine, model) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model)).one()


def reload(engine, model, id_):
    with Session(engine) as s:
        return s.get(model, id_)


@pytest.fixture
def customer(session, business, clock):
    customer = Customer(
        business_id=business.id,
        phone=CUSTOMER_PHONE,
        name="Maria Lopez",
        consent="granted",
        consent_source="form",
        consent_at=clock.now() - timedelta(days=1),
        introduced_at=clock.now() - timedelta(days=1),
        created_at=clock.now() - timedelta(days=1),
    )
    session.add(customer)
    session.commit()
    return customer


def make_message(session, business, customer, clock, *, status="sent", sid=SID, **extra):
    message = Message(
        business_id=business.id,
        customer_id=customer.id,
        direction="outbound",
        body="Thank you for visiting Bloom Hair Studio!",
        kind="thank_you",
        status=status,
        provider_status="queued" if sid else None,
        provider_sid=sid,
        from_number=BUSINESS_NUMBER,
        to_number=customer.phone,
        cause="visit",
        send_at=clock.now() - timedelta(minutes=5),
        sent_at=clock.now() - timedelta(minutes=5) if status == "sent" else None,
        attempts=1,
        created_at=clock.now() - timedelta(minutes=10),
        **extra,
    )
    session.add(message)
    session.commit()
    return message


@pytest.fixture
def message(session, business, customer, clock):
    return make_message(session, business, customer, clock)


def status_form(status: str, *, sid: str = SID, error_code: int | str | None = None) -> dict:
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": BUSINESS_NUMBER,
        "To": CUSTOMER_PHONE,
        "MessageStatus": status,
        "SmsStatus": status,
        "ApiVersion": "2010-04-01",
    }
    if error_code is not None:
        form["ErrorCode"] = str(error_code)
    return form


def callback(client, message_id, status, *, sid=SID, error_code=None, extra=None):
    form = {**status_form(status, sid=sid, error_code=error_code), **(extra or {})}
    response = post_signed(client, f"/webhooks/twilio/status?mid={message_id}", form)
    assert response.status_code in (200, 204), response.get_data(as_text=True)
    return response


def play(client, message, *steps):
    for step in steps:
        status, code = step if isinstance(step, tuple) else (step, None)
        callback(client, message.id, status, error_code=code)
    return reload(client.application.extensions["regulars"].engine, Message, message.id)


# --- forward only ---


def test_sent_then_delivered(client, message, engine, clock):
    clock.advance(seconds=20)
    final = play(client, message, "sent", "delivered")
    assert final.status == "delivered"
    assert final.provider_status == "delivered"
    assert final.delivered_at == clock.now()
    assert final.error_code is None
    logged = rows(engine, StatusCallback)
    assert [(c.status, c.message_id, c.provider_sid) for c in logged] == [
        ("sent", message.id, SID),
        ("delivered", message.id, SID),
    ]
    assert [c.applied for c in logged] == [False, True]  # "sent" was already our state


@pytest.mark.parametrize("late", ["sent", "queued", "sending", "accepted"])
def test_delivered_is_not_moved_back_by_a_late_callback(client, message, engine, late):
    final = play(client, message, "delivered", late)
    assert final.status == "delivered"
    assert final.provider_status == "delivered"
    assert count(engine, StatusCallback) == 2
    assert rows(engine, StatusCallback)[-1].applied is False


@pytest.mark.parametrize("terminal", ["undelivered", "failed"])
def test_undelivered_and_failed_are_terminal(client, message, engine, terminal):
    final = play(client, message, (terminal, 30003), "delivered", "sent")
    assert final.status == terminal
    assert final.provider_status == terminal
    assert final.error_code == 30003
    assert final.delivered_at is None
    assert count(engine, StatusCallback) == 3


def test_error_code_is_never_erased(client, message):
    final = play(client, message, ("undelivered", 30003), "undelivered", "delivered")
    assert final.error_code == 30003


def test_error_code_is_never_replaced(client, message):
    final = play(client, message, ("failed", 30007), ("failed", 30008))
    assert final.status == "failed"
    assert final.error_code == 30007


def test_error_code_arriving_first_on_an_early_status_is_kept(client, message):
    # A code on a non-final callback still sticks, and the final state still lands.
    final = play(client, message, ("sent", 30003), ("undelivered", 30003))
    assert final.status == "undelivered"
    assert final.error_code == 30003


@pytest.mark.parametrize(
    ("sequence", "status", "provider_status"),
    [
        (["delivered", "sent"], "delivered", "delivered"),
        (["delivered", "queued", "sending", "sent"], "delivered", "delivered"),
        (["sent", "queued", "delivered"], "delivered", "delivered"),
        (["read", "delivered", "sent"], "delivered", "read"),
        ([("undelivered", 30005), "sending", "sent"], "undelivered", "undelivered"),
        (["sending", ("failed", 30004), "queued"], "failed", "failed"),
        (["delivered", "delivered"], "delivered", "delivered"),
    ],
)
def test_out_of_order_sequences_end_in_the_right_state(
    client, message, engine, sequence, status, provider_status
):
    final = play(client, message, *sequence)
    assert final.status == status
    assert final.provider_status == provider_status
    assert count(engine, StatusCallback) == len(sequence)


def test_every_callback_is_logged_including_unmatched_sids(client, message, engine):
    play(client, message, "sent", "delivered")
    callback(client, 999999, "delivered", sid=OTHER_SID)
    callback(client, 999999, "failed", sid=OTHER_SID, error_code=30003)

    logged = rows(engine, StatusCallback)
    assert len(logged) == 4
    unmatched = [c for c in logged if c.provider_sid == OTHER_SID]
    assert [(c.status, c.message_id, c.applied) for c in unmatched] == [
        ("delivered", None, False),
        ("failed", None, False),
    ]
    assert unmatched[1].error_code == 30003
    assert unmatched[1].payload["MessageSid"] == OTHER_SID
    # The unmatched callbacks changed nobody's message.
    assert reload(engine, Message, message.id).status == "delivered"


def test_callback_for_another_message_sid_does_not_touch_ours(client, message, engine):
    callback(client, message.id, "failed", sid=OTHER_SID, error_code=30003)
    ours = reload(engine, Message, message.id)
    assert ours.status == "sent"
    assert ours.provider_sid == SID
    assert ours.error_code is None
    assert rows(engine, StatusCallback)[0].message_id is None


# --- matching by our own id (?mid=) ---


def test_mid_ties_the_sid_to_a_message_whose_send_outcome_was_unknown(
    session, business, customer, client, engine, clock
):
    unknown = make_message(
        session,
        business,
        customer,
        clock,
        status="sending",
        sid=None,
        leased_by="worker-1",
        lease_until=clock.now() + timedelta(seconds=30),
    )
    callback(client, unknown.id, "sent", sid=OTHER_SID)

    tied = reload(engine, Message, unknown.id)
    assert tied.provider_sid == OTHER_SID
    assert tied.status == "sent"
    assert tied.sent_at == clock.now()
    assert tied.leased_by is None and tied.lease_until is None
    [logged] = rows(engine, StatusCallback)
    assert logged.message_id == unknown.id
    assert logged.applied is True

    clock.advance(seconds=5)
    callback(client, unknown.id, "delivered", sid=OTHER_SID)
    assert reload(engine, Message, unknown.id).status == "delivered"


def test_mid_straight_to_delivered(session, business, customer, client, engine, clock):
    unknown = make_message(session, business, customer, clock, status="sending", sid=None)
    callback(client, unknown.id, "delivered", sid=OTHER_SID)
    tied = reload(engine, Message, unknown.id)
    assert (tied.provider_sid, tied.status) == (OTHER_SID, "delivered")
    assert tied.delivered_at == clock.now()


def test_mid_does_not_steal_a_message_that_already_has_a_sid(client, message, engine):
    callback(client, message.id, "failed", sid=OTHER_SID, error_code=30003)
    ours = reload(engine, Message, message.id)
    assert (ours.provider_sid, ours.status, ours.error_code) == (SID, "sent", None)


# --- what error codes say about the customer ---


def test_21610_failed_marks_the_customer_opted_out(client, message, customer, engine, clock):
    final = play(client, message, ("failed", 21610))
    assert final.status == "failed"
    assert final.error_code == 21610
    flagged = reload(engine, Customer, customer.id)
    assert flagged.consent == "opted_out"
    assert flagged.consent_source == "carrier"
    assert flagged.opted_out_at == clock.now()
    [event] = rows(
        engine, ConsentEvent, ConsentEvent.customer_id == customer.id, ConsentEvent.kind == "texts"
    )
    assert (event.consent, event.source) == ("opted_out", "carrier")


@pytest.mark.parametrize(("code", "number_status"), [(30005, "landline"), (21211, "invalid")])
def test_error_codes_flag_the_number(client, message, customer, engine, code, number_status):
    final = play(client, message, ("undelivered" if code == 30005 else "failed", code))
    assert final.error_code == code
    flagged = reload(engine, Customer, customer.id)
    assert flagged.number_status == number_status
    assert flagged.consent == "granted"


def test_error_code_on_a_delivered_callback_does_not_flag_the_customer(
    client, message, customer, engine
):
    play(client, message, "delivered", ("failed", 21610))
    flagged = reload(engine, Customer, customer.id)
    assert flagged.consent == "granted"
    assert reload(engine, Message, message.id).status == "delivered"


# --- bad callbacks ---


def test_forged_status_callback_is_refused_and_not_logged(client, message, engine):
    path = f"/webhooks/twilio/status?mid={message.id}"
    response = post_signed(client, path, status_form("failed", error_code=21610), token="wrong")
    assert response.status_code == 403
    assert count(engine, StatusCallback) == 0
    assert reload(engine, Message, message.id).status == "sent"


def test_signature_must_cover_the_query_string(client, message, engine):
    form = status_form("delivered")
    signature = sign(f"{PUBLIC_BASE}/webhooks/twilio/status", form)  # without ?mid=
    response = client.post(
        f"/webhooks/twilio/status?mid={message.id}",
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403
    assert count(engine, StatusCallback) == 0
    assert reload(engine, Message, message.id).status == "sent"


def test_unsigned_status_callback_is_refused(client, message, engine):
    response = client.post(
        f"/webhooks/twilio/status?mid={message.id}",
        data=urlencode(status_form("delivered")),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    assert count(engine, StatusCallback) == 0


def test_missing_message_sid_is_400(client, message, engine):
    form = status_form("delivered")
    del form["MessageSid"], form["SmsSid"]
    response = post_signed(client, f"/webhooks/twilio/status?mid={message.id}", form)
    assert response.status_code == 400
    assert count(engine, StatusCallback) == 0
    assert reload(engine, Message, message.id).status == "sent"


def test_unknown_extra_fields_are_ignored(client, message, engine):
    callback(
        client,
        message.id,
        "delivered",
        extra={"RawDlrDoneDate": "2603101500", "ChannelPrefix": "sms", "NewField": "x"},
    )
    assert reload(engine, Message, message.id).status == "delivered"
