"""A number belongs to one business: checked across the number and the Messaging Service,
against the Twilio account itself, and changed only through the operator's door in a host.
The attack first, then what must hold."""

from __future__ import annotations

import json

import pytest
import responses
from sqlmodel import Session, select

from app import build_services, create_app
from app.care.businesses import create_business
from app.models import Business, Message, ServiceNumber
from tests.conftest import (
    ACCOUNT_SID,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    FAST_PASSWORD_METHOD,
    TWILIO_BASE,
    base_settings,
    inbound_form,
    post_signed,
)

NUMBERS_URL = f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/IncomingPhoneNumbers.json"
SERVICE_A = "MG" + "a" * 32
SERVICE_B = "MG" + "b" * 32
IN_SERVICE_A = "+13125550142"  # a number inside business A's Messaging Service


def service_url(sid: str) -> str:
    return f"https://messaging.twilio.com/v1/Services/{sid}/PhoneNumbers"


def owned(twilio, *numbers: str) -> None:
    """The account holds these numbers (IncomingPhoneNumbers answers by ?PhoneNumber=)."""

    def answer(request):
        asked = request.params.get("PhoneNumber")
        found = [{"sid": "PN" + "0" * 32, "phone_number": asked}] if asked in numbers else []
        page = {
            "incoming_phone_numbers": found,
            "next_page_uri": None,
            "page": 0,
            "page_size": 1,
            "uri": "/x",
            "first_page_uri": "/x",
            "previous_page_uri": None,
        }
        return 200, {}, json.dumps(page)  # fmt: skip

    twilio.add_callback(responses.GET, NUMBERS_URL, callback=answer)


def service(twilio, sid: str, *numbers: str, status: int = 200) -> None:
    body = {"phone_numbers": [{"sid": "PN" + str(n) * 32, "phone_number": number,
                               "service_sid": sid} for n, number in enumerate(numbers)],
            "meta": {"page": 0, "page_size": 50, "first_page_url": "x", "previous_page_url": None,
                     "url": "x", "next_page_url": None, "key": "phone_numbers"}}  # fmt: skip
    if status != 200:
        body = {"code": 20404, "message": "not found", "status": status}
    twilio.add(responses.GET, service_url(sid), json=body, status=status)


@pytest.fixture
def business_a(session, clock):
    """A business that sends through a Messaging Service holding IN_SERVICE_A."""
    biz, key = create_business(
        session, name="Alpha Spa", number=None, messaging_service_sid=SERVICE_A,
        timezone="America/Chicago", owner_email="owner@alpha.test",
        owner_password="alpha owner password", now=clock.now(),
        password_method=FAST_PASSWORD_METHOD,
    )  # fmt: skip
    session.add(ServiceNumber(number=IN_SERVICE_A, business_id=biz.id,
                              messaging_service_sid=SERVICE_A))  # fmt: skip
    session.commit()
    return biz, {"Authorization": f"Bearer {key}"}


def stored(engine, business_id: int) -> Business:
    with Session(engine) as s:
        return s.get(Business, business_id)


def test_a_number_inside_another_business_service_cannot_be_taken(
    client, auth, business, business_a, engine, twilio
):
    owned(twilio, IN_SERVICE_A)  # the account does hold it: the check is about who owns it
    response = client.patch("/api/v1/business", json={"number": IN_SERVICE_A}, headers=auth)
    assert response.status_code == 409, response.json
    assert response.json["error"]["field"] == "number"
    assert stored(engine, business.id).number == BUSINESS_NUMBER


def test_another_business_service_sid_cannot_be_taken(client, auth, business, business_a, engine):
    response = client.patch("/api/v1/business", json={"messaging_service_sid": SERVICE_A},
                            headers=auth)  # fmt: skip
    assert response.status_code == 409
    assert stored(engine, business.id).messaging_service_sid is None


def test_a_service_holding_another_business_number_cannot_be_taken(
    client, business, business_a, engine, twilio
):
    """Alpha asks for a service that holds Bloom's own number: refused."""
    _, alpha_auth = business_a
    service(twilio, SERVICE_B, BUSINESS_NUMBER, "+13125550199")
    response = client.patch("/api/v1/business", json={"messaging_service_sid": SERVICE_B},
                            headers=alpha_auth)  # fmt: skip
    assert response.status_code == 409, response.json
    assert "belongs to another business" in response.json["error"]["message"]


def test_a_number_the_twilio_account_does_not_hold_is_refused(client, auth, business, twilio,
                                                              engine):  # fmt: skip
    owned(twilio)  # nothing
    response = client.patch("/api/v1/business", json={"number": "+12125550177"}, headers=auth)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "not_your_number"
    assert stored(engine, business.id).number == BUSINESS_NUMBER
    owned(twilio, "+12125550177")
    response = client.patch("/api/v1/business", json={"number": "+12125550177"}, headers=auth)
    assert response.status_code == 200 and response.json["number"] == "+12125550177"


def test_a_service_not_in_the_account_is_refused_and_a_real_one_is_remembered(
    client, auth, business, twilio, engine
):
    service(twilio, SERVICE_B, status=404)
    response = client.patch("/api/v1/business", json={"messaging_service_sid": SERVICE_B},
                            headers=auth)  # fmt: skip
    assert response.status_code == 422 and response.json["error"]["code"] == "not_your_service"
    twilio.reset()
    service(twilio, SERVICE_B, "+16175550100")
    response = client.patch("/api/v1/business", json={"messaging_service_sid": SERVICE_B},
                            headers=auth)  # fmt: skip
    assert response.status_code == 200
    with Session(engine) as s:
        rows = s.exec(select(ServiceNumber)).all()
        assert [(r.number, r.business_id) for r in rows] == [("+16175550100", business.id)]


def test_twilio_unreachable_changes_nothing(client, auth, business, twilio, engine):
    twilio.add(responses.GET, NUMBERS_URL, status=500, json={"code": 20500, "message": "x"})
    response = client.patch("/api/v1/business", json={"number": "+12125550177"}, headers=auth)
    assert response.status_code == 503
    assert stored(engine, business.id).number == BUSINESS_NUMBER


def test_a_text_through_a_known_service_goes_to_that_business_whatever_the_to(
    client, business, business_a, engine
):
    """The To is Bloom's number, but the text came through Alpha's Messaging Service."""
    alpha, _ = business_a
    form = {**inbound_form("Is Alpha open today?", sid="SM" + "7" * 32),
            "MessagingServiceSid": SERVICE_A}  # fmt: skip
    assert post_signed(client, "/webhooks/twilio/sms", form).status_code == 200
    with Session(engine) as s:
        [text] = s.exec(select(Message)).all()
        assert text.business_id == alpha.id


def test_in_a_host_owners_cannot_move_their_number(database_url, engine, clock, business, auth):
    settings = base_settings(database_url, owners_may_change_number=False,
                             extra={"password_method": FAST_PASSWORD_METHOD})  # fmt: skip
    client = create_app(services=build_services(settings, clock=clock, engine=engine)).test_client()
    for change in ({"number": "+12125550177"}, {"messaging_service_sid": SERVICE_B}):
        response = client.patch("/api/v1/business", json=change, headers=auth)
        assert response.status_code == 403, change
        assert response.json["error"]["code"] == "operator_only"
    same = client.patch("/api/v1/business", json={"number": BUSINESS_NUMBER, "name": "Bloom 2"},
                        headers=auth)  # fmt: skip
    assert same.status_code == 200  # sending the unchanged number is not a change
    from tests.integration.test_owner_helpers import sign_in

    sign_in(client)
    page = client.get("/settings/").get_data(as_text=True)
    assert 'name="number"' not in page and "ask them to change it" in page
    assert stored(engine, business.id).number == BUSINESS_NUMBER


def test_the_operator_command_changes_the_number(cli, business, engine):
    """With the simulator there is no account to ask: the command just checks ownership
    between businesses."""
    code, out, err = cli("business", "update", "--business", str(business.id),
                         "--number", "(212) 555-0177")  # fmt: skip
    assert code == 0, err
    assert json.loads(out)["number"] == "+12125550177"
    assert stored(engine, business.id).number == "+12125550177"
    code, _out, err = cli("business", "update", "--business", "999", "--number", CUSTOMER_PHONE)
    assert code == 2 and "no business 999" in err
