"""The first text really says how to opt out (issue 9, item 7): it looks for the instruction,
not the word, and for the business's name as whole words; through the API, the composer and
the wire to Twilio."""

from __future__ import annotations

import random
from urllib.parse import parse_qs

import pytest

from app.care.businesses import create_business
from app.care.customers import find_or_create, set_consent
from app.care.dispatcher import Dispatcher
from app.models import Message
from tests.conftest import CUSTOMER_PHONE, DAYTIME, FAST_PASSWORD_METHOD, MESSAGES_URL
from tests.conftest import twilio_message as twilio_answer
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def customer(session, business, phone=CUSTOMER_PHONE):
    found, _ = find_or_create(session, business, phone, name="Casey Client", now=DAYTIME)
    set_consent(session, found, "granted", source="form", now=DAYTIME)
    session.commit()
    return found


def send(client, auth, body, phone=CUSTOMER_PHONE) -> dict:
    response = client.post("/api/v1/messages", json={"phone": phone, "body": body}, headers=auth)
    assert response.status_code == 202, response.json
    return response.json


@pytest.mark.parametrize(
    ("body", "sent"),
    [
        ("Stop by anytime!", "Bloom Hair Studio: Stop by anytime! Reply STOP to opt out."),
        ("Don't stop now: Friday works!", "Bloom Hair Studio: Don't stop now: Friday works! "
         "Reply STOP to opt out."),
        ("Bloom Hair Studio here. Text STOP to unsubscribe.",
         "Bloom Hair Studio here. Text STOP to unsubscribe."),
        ("BLOOM HAIR-STUDIO: see you Friday. STOP to end",
         "BLOOM HAIR-STUDIO: see you Friday. STOP to end"),
        ("Hola de Bloom Hair Studio. Responde BAJA para cancelar.",
         "Hola de Bloom Hair Studio. Responde BAJA para cancelar."),
    ],
)  # fmt: skip
def test_the_api_adds_what_the_first_text_lacks(client, auth, session, business, body, sent):
    customer(session, business)
    assert send(client, auth, body)["body"] == sent


def test_a_short_name_inside_another_word_does_not_name_the_business(client, session, clock):
    ace, key = create_business(
        session, name="Ace", number="+13125550100", timezone="America/Chicago",
        owner_email="owner@ace.test", owner_password="correct horse battery",
        now=clock.now(), password_method=FAST_PASSWORD_METHOD,
    )  # fmt: skip
    customer(session, ace, "+13125550123")
    auth = {"Authorization": f"Bearer {key}"}
    assert send(client, auth, "Come see our new place!", "+13125550123")["body"] == (
        "Ace: Come see our new place! Reply STOP to opt out."
    )
    customer(session, ace, "+13125550124")
    assert send(client, auth, "Thanks from ACE, reply STOP to opt out", "+13125550124")["body"] == (
        "Thanks from ACE, reply STOP to opt out"
    )


def test_what_goes_to_twilio_carries_the_line(client, auth, session, business, services, twilio):
    customer(session, business)
    send(client, auth, "Stop by anytime!")
    twilio.add("POST", MESSAGES_URL, json=twilio_answer("SM" + "1" * 32), status=201)
    Dispatcher(services.engine, services.gateway, services.settings, clock=services.clock,
               rng=random.Random(0)).run_once()  # fmt: skip
    [call] = [c for c in twilio.calls if c.request.method == "POST"]
    form = parse_qs(call.request.body)
    assert form["Body"] == ["Bloom Hair Studio: Stop by anytime! Reply STOP to opt out."]


def test_the_composer_uses_the_same_rule(client, session, business):
    maria = customer(session, business)
    sign_in(client)
    page = client.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert 'data-introduce="Bloom Hair Studio"' in page  # the live preview's business name
    response = post(client, f"/conversations/{maria.id}/send", {"body": "Stop by anytime!"})
    assert response.status_code == 302
    sent = session.exec(Message.__table__.select().where(Message.customer_id == maria.id)).all()
    assert [row.body for row in sent] == [
        "Bloom Hair Studio: Stop by anytime! Reply STOP to opt out."
    ]
