from app.care.dispatcher import Dispatcher
from app.models import Message
from tests.conftest import CUSTOMER_PHONE, MESSAGES_URL, twilio_message


def test_visit_to_sent_thank_you(client, auth, services, twilio, clock, session):
    response = client.post(
        "/api/v1/visits",
        json={"phone": "(212) 555-0123", "name": "Maria Lopez", "consent": True},
        headers=auth,
    )
    assert response.status_code == 201, response.json
    planned = response.json["planned"]
    kinds = ["thank_you", "review_request", "review_reminder", "referral_ask"]
    assert [m["kind"] for m in planned] == kinds
    twilio.add("POST", MESSAGES_URL, json=twilio_message("SM" + "1" * 32), status=201)
    clock.advance(minutes=31)
    stats = Dispatcher(services.engine, services.gateway, services.settings, clock=clock).run_once()
    assert stats.sent == 1
    message = session.get(Message, planned[0]["id"])
    assert message.status == "sent"
    assert message.provider_sid == "SM" + "1" * 32
    sent_form = twilio.calls[0].request.body
    assert "To=%2B12125550123" in sent_form
    assert message.to_number == CUSTOMER_PHONE
    callback = "StatusCallback=https%3A%2F%2Fregulars.test%2Fwebhooks%2Ftwilio%2Fstatus%3Fmid%3D"
    assert callback in sent_form
