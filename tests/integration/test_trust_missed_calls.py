"""Missed-call text-back cannot be pumped: calls from premium, satellite and foreign numbers,
landlines and floods of callers, tried through the signed voice webhook. The attack first,
then what must hold: only mobiles in the business's countries, at most the hourly limit, once
a caller a day, and the caller always hears TwiML at once."""

from __future__ import annotations

import pytest
from sqlmodel import Session, func, select

from app.models import Customer, Message
from tests.conftest import ACCOUNT_SID, BUSINESS_NUMBER, CUSTOMER_PHONE, post_signed
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in

VOICE = "/webhooks/twilio/voice"
HANGUP = b"<Hangup/>"
PUMPED = [
    "+881612345678",  # Iridium, satellite (a "mobile" of no country)
    "+870773111632",  # Inmarsat
    "+88216123456",  # an international network
    "+883510012345",
    "+19005550123",  # US premium rate
    "+18005550123",  # US toll-free
    "+18765550123",  # a Jamaican mobile: +1, but another country
    "+447400123456",  # a UK mobile: not one of this business's countries
]
UK_MOBILE, UK_LANDLINE = "+447400123456", "+441212345678"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def ring(client, caller: str, n: int = 1):
    form = {"CallSid": f"CA{n:032x}", "AccountSid": ACCOUNT_SID, "From": caller,
            "To": BUSINESS_NUMBER, "CallStatus": "ringing", "Direction": "inbound"}  # fmt: skip
    response = post_signed(client, VOICE, form)
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml" and HANGUP in response.data
    return response


def texts_back(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count(Message.id)).where(Message.kind == "missed_call")).one()


def callers(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count(Customer.id))).one()


@pytest.mark.parametrize("caller", PUMPED)
def test_premium_satellite_and_foreign_callers_are_not_texted(story, client, engine, caller):
    ring(client, caller)
    assert story.run() == []
    assert texts_back(engine) == 0
    assert callers(engine) == 0  # nothing stored for a number we would never text


def test_a_withheld_caller_id_still_hears_twiml(story, client, engine):
    for caller in ("anonymous", "+266696687", "Restricted", ""):
        ring(client, caller)
    assert texts_back(engine) == 0


def test_a_flood_of_callers_gets_at_most_the_hourly_limit(story, client, engine, clock):
    floods = [f"+1212555{n:04d}" for n in range(200, 226)]
    for n, caller in enumerate(floods):
        ring(client, caller, n)
        clock.advance(seconds=60)
    assert texts_back(engine) == 20  # the default limit, per business per hour
    sent = story.run()
    assert [to for to, _ in sent] == floods[:20]
    clock.advance(seconds=3600)
    ring(client, "+12125550300", 99)
    assert [to for to, _ in story.run()] == ["+12125550300"]  # a new hour has room again


def test_once_a_day_per_caller_even_under_the_limit(story, client):
    ring(client, CUSTOMER_PHONE)
    ring(client, CUSTOMER_PHONE, 2)
    assert [to for to, _ in story.run()] == [CUSTOMER_PHONE]


def test_the_limit_and_the_countries_are_settings(story, client, engine, auth):
    business = story.patch(missed_call_hourly_limit=2, missed_call_countries=["US", "GB"])
    assert business["missed_call_hourly_limit"] == 2
    assert business["missed_call_countries"] == ["GB", "US"]
    ring(client, UK_LANDLINE, 1)  # a landline: never
    ring(client, UK_MOBILE, 2)
    ring(client, "+12125550301", 3)
    ring(client, "+12125550302", 4)  # over the limit of 2
    assert [to for to, _ in story.run()] == [UK_MOBILE, "+12125550301"]
    bad = client.patch("/api/v1/business", json={"missed_call_countries": ["XX"]}, headers=auth)
    assert bad.status_code == 422 and bad.json["error"]["field"] == "missed_call_countries"
    back = story.patch(missed_call_countries=None)
    assert back["missed_call_countries"] is None  # the business number's own country


def test_the_owner_sets_them_on_the_care_form(story, client, engine):
    sign_in(client)
    page = client.get("/settings/").get_data(as_text=True)
    assert 'name="missed_call_countries"' in page and "Empty: US" in page
    form = {"review_mode": "direct", "rating_scale": "5", "thank_you_delay_minutes": "30",
            "review_reminder_days": "3", "review_cooldown_days": "180", "review_hold_days": "3",
            "unanswered_alert_minutes": "30", "missed_call_textback": "on",
            "missed_call_countries": "us, ca", "missed_call_hourly_limit": "5"}  # fmt: skip
    assert post(client, "/settings/care", form, token_path="/settings/").status_code == 302
    business = story.api("/api/v1/business")
    assert (business["missed_call_countries"], business["missed_call_hourly_limit"]) == (
        ["CA", "US"], 5)  # fmt: skip
    refused = post(client, "/settings/care", {**form, "missed_call_countries": "Narnia"},
                   token_path="/settings/")  # fmt: skip
    assert refused.status_code == 422 and "not a country code" in refused.get_data(as_text=True)


def test_a_business_sending_from_a_uk_number_texts_uk_mobiles_by_default(
    story, client, engine, session, business
):
    business.number = "+441212345000"
    session.add(business)
    session.commit()
    form = {"CallSid": "CA" + "7" * 32, "From": UK_MOBILE, "To": business.number}
    assert HANGUP in post_signed(client, VOICE, form).data
    form = {"CallSid": "CA" + "8" * 32, "From": CUSTOMER_PHONE, "To": business.number}
    assert HANGUP in post_signed(client, VOICE, form).data
    with Session(engine) as s:
        assert s.exec(select(Message.to_number).where(Message.kind == "missed_call")).all() == [
            UK_MOBILE
        ]


def test_the_hour_is_a_sliding_one(story, client, engine, clock):
    """Twenty at 10:59 and twenty more at 11:01 would be forty in two minutes."""
    story.patch(missed_call_hourly_limit=3)
    for n in range(3):
        ring(client, f"+1212555{400 + n:04d}", n)
    clock.advance(seconds=45 * 60)
    for n in range(3):
        ring(client, f"+1212555{500 + n:04d}", 10 + n)
    assert texts_back(engine) == 3
    clock.advance(minutes=16)
    ring(client, "+12125550600", 20)
    assert texts_back(engine) == 4
