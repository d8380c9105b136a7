"""The simulated phone page: text the business as a customer, see what the business sends."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import Session, select

from app import build_services, create_app
from app.care.dispatcher import Dispatcher
from app.config import ConfigError
from app.models import Customer, Message, SimulatedText
from tests.conftest import base_settings

HANDSET = "+12125550142"


@pytest.fixture
def sim_services(database_url, engine, clock):
    return build_services(
        base_settings(
            database_url,
            sms_backend="simulator",
            twilio_auth_token="",
            env="development",
            simulator_page=True,
        ),  # fmt: skip
        clock=clock,
        engine=engine,
    )


@pytest.fixture
def sim_client(sim_services):
    app = create_app(services=sim_services)
    app.config["TESTING"] = True  # CSRF stays on: Flask-WTF only turns it off when told to
    return app.test_client()


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token"\s+value="([^"]+)"', page)
    assert match, "the page has no csrf_token field"
    return match.group(1)


def text_business(client, business, body: str, handset: str = HANDSET):
    token = csrf_token(client.get("/simulator/").get_data(as_text=True))
    return client.post(
        "/simulator/send",
        data={"csrf_token": token, "handset": handset, "business_id": business.id, "body": body},
    )


def thread_of(client, handset: str = HANDSET) -> str:
    response = client.get("/simulator/", query_string={"handset": handset})
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_page_renders(sim_client, business):
    response = sim_client.get("/simulator/")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert "Simulated phone" in page
    assert f'value="{business.id}"' in page and "(212) 555-0100" in page  # as people write it
    assert csrf_token(page)


def test_send_without_csrf_token_is_refused(sim_client, business, engine):
    response = sim_client.post(
        "/simulator/send",
        data={"handset": HANDSET, "business_id": business.id, "body": "Hello"},
    )
    assert response.status_code == 400
    bad = sim_client.post(
        "/simulator/send",
        data={"csrf_token": "forged", "handset": HANDSET, "business_id": business.id,
              "body": "Hello"},
    )  # fmt: skip
    assert bad.status_code == 400
    with Session(engine) as s:
        assert s.exec(select(Message)).all() == []
        assert s.exec(select(SimulatedText)).all() == []


def test_text_from_the_handset_goes_through_the_inbound_path(sim_client, business, engine):
    response = text_business(sim_client, business, "Hi, can I book for Friday?", "(212) 555-0142")
    assert response.status_code == 302
    with Session(engine) as s:
        [message] = s.exec(select(Message)).all()
        assert message.direction == "inbound"
        assert message.status == "received"
        assert message.body == "Hi, can I book for Friday?"
        assert message.business_id == business.id
        customer = s.get(Customer, message.customer_id)
        assert customer.phone == HANDSET  # normalised
        assert customer.last_inbound_at is not None
        [carried] = s.exec(select(SimulatedText)).all()
        assert carried.direction == "from_handset"
        assert carried.handset == HANDSET
        assert message.provider_sid == carried.sid
    page = thread_of(sim_client)
    assert "Hi, can I book for Friday?" in page
    assert "sent from this phone" in page


def test_help_from_the_handset_is_answered(sim_client, sim_services, business, engine, clock):
    text_business(sim_client, business, "HELP")
    with Session(engine) as s:
        [reply] = s.exec(select(Message).where(Message.direction == "outbound")).all()
        assert reply.kind == "help"
        assert reply.status == "scheduled"
        assert reply.to_number == HANDSET
        help_body = reply.body
    assert "Bloom Hair Studio" in help_body and "STOP" in help_body
    assert html.escape(help_body) not in thread_of(sim_client)  # not carried yet

    stats = Dispatcher(
        sim_services.engine, sim_services.gateway, sim_services.settings, clock=clock
    ).run_once()
    assert stats.sent == 1
    with Session(engine) as s:
        assert s.get(Message, reply.id).status == "delivered"
        carried = s.exec(select(SimulatedText).where(SimulatedText.direction == "to_handset")).one()
        assert carried.handset == HANDSET
        assert carried.body == help_body
    page = thread_of(sim_client)
    assert html.escape(help_body) in page
    assert "from (212) 555-0100" in page
    assert re.search(r"\d:\d\d [AP]M E[SD]T", page) and "UTC" not in page  # the phone's own time


def test_text_body_is_escaped_on_the_page(sim_client, business):
    body = '<script>alert("x")</script><b>bold</b> & more'
    text_business(sim_client, business, body)
    page = thread_of(sim_client)
    assert "<script>alert" not in page
    assert "<b>bold</b>" not in page
    assert "&lt;script&gt;" in page
    assert "&lt;b&gt;bold&lt;/b&gt; &amp; more" in page


def test_bad_handset_number_changes_nothing(sim_client, business, engine):
    response = text_business(sim_client, business, "Hello", handset="12")
    assert response.status_code == 302
    with Session(engine) as s:
        assert s.exec(select(Message)).all() == []
        assert s.exec(select(Customer)).all() == []
    assert "Handset number" in sim_client.get("/simulator/").get_data(as_text=True)


def test_no_simulator_with_the_twilio_backend(client, business):
    assert client.get("/simulator/").status_code == 404
    assert client.post("/simulator/send", data={"body": "x"}).status_code == 404


@pytest.mark.parametrize("env", ["test", "staging", "prod", "Development"])
def test_the_simulator_page_is_only_for_development(database_url, env):
    """Another word for the environment never turns on a page that needs no sign-in."""
    settings = base_settings(database_url, sms_backend="simulator", twilio_auth_token="",
                             env=env, simulator_page=True)  # fmt: skip
    with pytest.raises(ConfigError):
        build_services(settings)


def test_development_without_the_switch_has_no_simulator(database_url, engine, clock):
    settings = base_settings(database_url, sms_backend="simulator", twilio_auth_token="",
                             env="development")  # fmt: skip
    app = create_app(services=build_services(settings, clock=clock, engine=engine))
    assert app.test_client().get("/simulator/").status_code == 404
