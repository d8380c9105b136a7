"""Abuse and edge cases found in review: each would harm a customer or a business."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app import build_services, create_app
from app.care.dispatcher import Dispatcher
from app.care.texts import TemplateError, validate_source
from app.models import Customer, Message
from app.sms.gateway import Accepted
from app.web.owner.common import safe_next
from tests.conftest import CUSTOMER_PHONE, base_settings, inbound_form, post_signed


def test_no_api_caller_can_undo_a_customers_stop(client, auth, session):
    post_signed(client, "/webhooks/twilio/sms", inbound_form("STOP", sid="SM" + "1" * 32))
    for source in ("keyword", "carrier", "api"):
        response = client.post(
            "/api/v1/customers",
            json={"phone": CUSTOMER_PHONE, "consent": True, "consent_source": source},
            headers=auth,
        )
        assert response.json["consent"] == "opted_out"
        visit = client.post(
            "/api/v1/visits",
            json={"phone": CUSTOMER_PHONE, "consent": True, "consent_source": source},
            headers=auth,
        )
        assert visit.json["planned"] == []
    assert session.exec(select(Customer)).one().consent == "opted_out"


@pytest.mark.parametrize("window", [("06:00", "08:30"), ("20:00", "22:00"), ("21:00", "22:00")])
def test_a_window_that_never_opens_is_refused(client, auth, window):
    start, end = window
    response = client.patch(
        "/api/v1/business", json={"sending_window": {"start": start, "end": end}}, headers=auth
    )
    assert response.status_code == 422
    assert client.get("/api/v1/business", headers=auth).json["sending_window"]["start"] == "09:00"


def test_one_broken_window_fails_its_text_and_spares_the_batch(services, session, business, clock):
    customer = Customer(business_id=business.id, phone="+12035550123", consent="granted")
    session.add(customer)
    session.commit()
    text = Message(business_id=business.id, customer_id=customer.id, direction="outbound",
                   body="Thanks!", kind="thank_you", status="scheduled", send_at=clock.now(),
                   to_number=customer.phone)  # fmt: skip
    business.window_start, business.window_end = "06:00", "08:30"  # stored before the check
    session.add_all([text, business])
    session.commit()
    Dispatcher(services.engine, services.gateway, services.settings, clock=clock).run_once()
    session.expire_all()
    assert session.get(Message, text.id).status == "failed"


@pytest.mark.parametrize("target", ["/\t/evil.example", "/\n/evil.example", "//evil", "/\\evil"])
def test_sign_in_never_redirects_off_site(target):
    assert safe_next(target) is None
    assert safe_next("/inbox?filter=unread") == "/inbox?filter=unread"


@pytest.mark.parametrize(
    "source",
    ["{{ 'x'|center(2000000000) }}", "{{ '%2000000000d'|format(1) }}", "{{ first_name.upper() }}"],
)
def test_templates_that_could_allocate_without_bound_are_refused(source):
    with pytest.raises(TemplateError):
        validate_source("thank_you", source)
    assert validate_source("thank_you", "Hi {{ first_name|title }}!") == "Hi Christopher!"


def test_no_simulated_phone_in_production(database_url, engine, clock):
    settings = base_settings(database_url, sms_backend="simulator", twilio_auth_token="",
                             env="production")  # fmt: skip
    app = create_app(services=build_services(settings, clock=clock, engine=engine))
    assert app.test_client().get("/simulator/").status_code == 404


class RememberingGateway:
    """Answers a lookup with the first text of that body it ever saw, like a naive search."""

    def __init__(self):
        self.sent, self.timeout_next = [], False

    def send(self, text):
        if self.timeout_next:
            from app.sms.gateway import SendFailed

            self.timeout_next = False
            raise SendFailed("read timeout", outcome_unknown=True)
        self.sent.append(text)
        return Accepted(sid=f"SM{len(self.sent):032d}", status="queued")

    def find_sent(self, to, body, since, exclude=frozenset(), from_number=None):
        for number, text in enumerate(self.sent, start=1):
            sid = f"SM{number:032d}"
            if text.to == to and text.body == body and sid not in exclude:
                return Accepted(sid=sid, status="sent")
        return None

    def drain_events(self):
        return []


def test_reconciling_never_takes_an_earlier_identical_text_for_this_one(
    services, session, business, clock
):
    from app.care.customers import find_or_create, set_consent
    from app.care.outbound import queue_text

    customer, _ = find_or_create(session, business, CUSTOMER_PHONE, now=clock.now())
    set_consent(session, customer, "granted", source="api", now=clock.now())
    customer.introduced_at = clock.now()
    first = queue_text(session, business, customer, "See you soon!", "manual", now=clock.now())
    session.commit()
    gateway = RememberingGateway()
    dispatcher = Dispatcher(services.engine, gateway, services.settings, clock=clock)
    dispatcher.run_once()
    second = queue_text(session, business, customer, "See you soon!", "manual", now=clock.now())
    session.commit()
    gateway.timeout_next = True
    dispatcher.run_once()
    clock.advance(hours=1)
    dispatcher.run_once()  # reconciles: the earlier identical text is not this one
    dispatcher.run_once()  # so it goes again, once
    session.expire_all()
    sids = {session.get(Message, m.id).provider_sid for m in (first, second)}
    assert len(sids) == 2 and None not in sids
    assert len(gateway.sent) == 2  # the timed-out one was sent again, exactly once


def test_named_templates_that_need_more_than_a_name_are_422_not_500(client, auth, session):
    client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth)
    for template in ("owner_alert", "after_hours", "opt_out_confirmation", "help"):
        response = client.post(
            "/api/v1/messages", json={"phone": CUSTOMER_PHONE, "template": template}, headers=auth
        )
        assert response.status_code == 422, template
    sent = client.post(
        "/api/v1/messages", json={"phone": CUSTOMER_PHONE, "template": "review_request"},
        headers=auth,
    )  # fmt: skip
    assert sent.status_code == 202
    assert "https://regulars.test/l/" in sent.json["body"]
    far = client.post("/api/v1/visits", json={"phone": CUSTOMER_PHONE,
                      "occurred_at": "0001-01-01T00:00:00+14:00"}, headers=auth)  # fmt: skip
    assert far.status_code == 422
    assert client.get("/api/v1/metrics?to=9999-12-31T23:59:59", headers=auth).status_code == 422
