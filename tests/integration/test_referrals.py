"""Consent in two kinds and the referral program, told from outside: visits and customers
through the API, the owner's pages and CSV imports, replies as signed Twilio webhooks, the
friend on the public landing page /r/<code>, and a dispatcher on a held clock with Twilio
faked on the wire. Each story says exactly which texts went out and which did not."""

from __future__ import annotations

import io
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.care.outbound import queue_text
from app.models import Business, ConsentEvent, Customer, Message
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import ny
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in

FRIEND_PHONE = "+12125550177"
OTHER_PHONE = "+12125550188"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def events(story, phone: str, kind: str) -> list[tuple[str, str]]:
    with Session(story.engine) as s:
        customer = s.exec(select(Customer).where(Customer.phone == phone)).one()
        rows = s.exec(
            select(ConsentEvent)
            .where(ConsentEvent.customer_id == customer.id, ConsentEvent.kind == kind)
            .order_by(ConsentEvent.id)
        )
        return [(e.consent, e.source) for e in rows]


# ---- marketing consent, apart from consent to texts -----------------------------------------


def test_marketing_consent_is_recorded_apart_with_its_own_history(story):
    story.visit(name="Maria Lopez")  # consent to texts only
    maria = story.customer()
    assert (maria.consent, maria.marketing_consent) == ("granted", "unknown")
    story.visit(phone=OTHER_PHONE, name="Sam Rivera", marketing_consent=True)
    sam = story.api(f"/api/v1/customers?phone={OTHER_PHONE}")["items"][0]
    assert sam["consent"] == "granted" and sam["marketing_consent"] == "granted"
    assert sam["marketing_consent_source"] == "api" and sam["marketing_consent_at"]
    assert events(story, OTHER_PHONE, "marketing") == [("granted", "api")]
    assert events(story, OTHER_PHONE, "texts") == [("granted", "api")]
    # Withdrawn through the API: recorded, and the texts consent stays.
    withdrawn = {"phone": OTHER_PHONE, "marketing_consent": False}
    response = story.client.post("/api/v1/customers", headers=story.auth, json=withdrawn)
    assert response.status_code == 200
    assert response.json["marketing_consent"] == "unknown" and response.json["consent"] == "granted"
    assert events(story, OTHER_PHONE, "marketing") == [("granted", "api"), ("unknown", "api")]


def test_stop_ends_both_and_start_restores_only_what_each_customer_had(story):
    story.visit(name="Maria Lopez", marketing_consent=True)
    story.visit(phone=OTHER_PHONE, name="Sam Rivera")
    for phone in (CUSTOMER_PHONE, OTHER_PHONE):
        story.reply("STOP", phone=phone)
        customer = story.customer(phone)
        assert (customer.consent, customer.marketing_consent) == ("opted_out", "opted_out")
    for phone in (CUSTOMER_PHONE, OTHER_PHONE):
        story.reply("START", phone=phone)
    maria, sam = story.customer(), story.customer(OTHER_PHONE)
    assert (maria.consent, maria.marketing_consent) == ("granted", "granted")  # she had it
    assert (sam.consent, sam.marketing_consent) == ("granted", "unknown")  # he never had it
    # An import cannot bring back offers for someone who opted out of them.
    story.reply("STOP", phone=OTHER_PHONE)
    again = {"phone": OTHER_PHONE, "marketing_consent": True}
    response = story.client.post("/api/v1/customers", headers=story.auth, json=again)
    assert response.json["marketing_consent"] == "opted_out"


def test_a_promotional_text_needs_marketing_consent_when_queued_and_when_sent(story, clock):
    story.visit(name="Maria Lopez", marketing_consent=True)
    story.visit(phone=OTHER_PHONE, name="Sam Rivera")
    story.run_until(clock.now() + timedelta(hours=1))  # the thank-yous
    with Session(story.engine) as s:
        business = s.exec(select(Business)).one()
        maria = s.exec(select(Customer).where(Customer.phone == CUSTOMER_PHONE)).one()
        sam = s.exec(select(Customer).where(Customer.phone == OTHER_PHONE)).one()
        from app.care.outbound import OutboundRefused

        with pytest.raises(OutboundRefused) as refused:
            queue_text(s, business, sam, "20% off this week", "referral_reward", now=clock.now())
        assert refused.value.code == "no_marketing_consent" and refused.value.status == 409
        with pytest.raises(OutboundRefused):  # any kind, when it carries an offer
            queue_text(s, business, sam, "20% off", "thank_you", now=clock.now(), promotional=True)
        queue_text(s, business, maria, "20% off this week", "thank_you", now=clock.now(),
                   send_at=clock.now() + timedelta(days=1), promotional=True)  # fmt: skip
        s.commit()
    # She withdraws before it goes: the dispatcher's one check cancels it.
    story.client.post("/api/v1/customers", headers=story.auth,
                      json={"phone": CUSTOMER_PHONE, "marketing_consent": False})  # fmt: skip
    out = story.run_until(clock.now() + timedelta(days=2))
    assert all("20% off" not in body for _to, body in out)
    with Session(story.engine) as s:
        offer = s.exec(select(Message).where(Message.promotional.is_(True))).one()
        assert offer.status == "canceled"


def test_csv_imports_read_marketing_consent(client, business, session, clock):
    from app.care.imports import import_customers_csv, import_visits_csv

    text = (
        "phone,name,consent,marketing_consent\n+12125550123,Maria,yes,yes\n+12125550124,Ana,yes,\n"
    )
    result = import_customers_csv(session, business, io.StringIO(text), now=clock.now())
    assert result.errors == [] and result.created == 2
    visits = "phone,name,consent,marketing_consent\n+12125550125,Lee,yes,yes\n"
    assert import_visits_csv(session, business, io.StringIO(visits), now=clock.now()).errors == []
    session.commit()
    states = dict(session.exec(select(Customer.phone, Customer.marketing_consent)).all())
    assert states == {"+12125550123": "granted", "+12125550124": "unknown",
                      "+12125550125": "granted"}  # fmt: skip
    bad = "phone,marketing_consent\n+12125550126,perhaps\n"
    assert import_customers_csv(session, business, io.StringIO(bad), now=clock.now()).errors


def test_the_visit_form_and_the_customer_page_have_an_unticked_marketing_box(client, business):
    sign_in(client)
    form = client.get("/visits/new").get_data(as_text=True)
    assert 'name="marketing_consent"' in form and "offers and rewards" in form
    box = form[form.index('id="f-marketing"') - 80 : form.index('id="f-marketing"') + 120]
    assert "checked" not in box
    response = post(client, "/visits/", {"phone": "(212) 555-0123", "name": "Maria",
                                         "consent": "yes", "marketing_consent": "yes"})  # fmt: skip
    assert response.status_code == 302
    with Session(client.application.extensions["regulars"].engine) as s:
        maria = s.exec(select(Customer)).one()
        assert maria.marketing_consent == "granted" and maria.marketing_consent_source == "form"
    page = client.get(f"/customers/{maria.id}").get_data(as_text=True)
    assert 'name="marketing_consent" value="yes" checked' in page
    # Unticked and saved: withdrawn, and recorded.
    post(client, f"/customers/{maria.id}", {"phone": "+12125550123", "name": "Maria",
                                            "consent": "granted"})  # fmt: skip
    with Session(client.application.extensions["regulars"].engine) as s:
        assert s.get(Customer, maria.id).marketing_consent == "unknown"


# ---- the ask --------------------------------------------------------------------------------


def referral_texts(sent) -> list[tuple[str, str]]:
    return [(to, body) for to, body in sent if "/r/" in body]


def test_the_ask_goes_a_week_after_the_visit_with_their_link(story, clock):
    visit = story.visit()
    [ask] = [m for m in visit["planned"] if m["kind"] == "referral_ask"]
    assert send_at_of(ask) == ny(17, 11, 0)  # seven days after the 11:00 visit
    code = story.customer().referral_code
    assert story.api(f"/api/v1/customers/{visit['customer_id']}")["referral_code"] == code
    assert referral_texts(story.run_until(ny(17, 10, 59))) == []
    [(to, body)] = referral_texts(story.run(ny(17, 11, 0)))
    assert to == CUSTOMER_PHONE and body.endswith(f"https://regulars.test/r/{code}")
    assert "Your friends get" not in body  # no offer set: an informational text
    with Session(story.engine) as s:
        sent = s.exec(select(Message).where(Message.kind == "referral_ask")).one()
        assert sent.promotional is False


def test_no_ask_without_consent_and_the_days_are_a_setting(story):
    visit = story.visit(consent=False)
    assert [m["kind"] for m in visit["planned"]] == []
    assert story.patch(referral_ask_days=3)["referral_ask_days"] == 3
    visit = story.visit(phone=OTHER_PHONE, name="Sam Rivera")
    [ask] = [m for m in visit["planned"] if m["kind"] == "referral_ask"]
    assert send_at_of(ask) == ny(13, 11, 0)
    assert story.patch(referral_asks=False)["referral_asks"] is False
    visit = story.visit(phone=FRIEND_PHONE, name="Lee Chan")
    assert "referral_ask" not in [m["kind"] for m in visit["planned"]]


def test_a_good_rating_brings_the_ask_forward(story):
    story.patch(review_mode="ask_first")
    story.visit()
    story.run_until(ny(11, 11, 0))  # the thank-you, then the 1-5 question at 11:00
    story.clock.set(ny(11, 11, 20))
    story.reply("5 stars, loved it")
    assert [body for _to, body in story.run()][0].startswith("Thank you, Maria!")
    # Two hours later would be 13:20, but one automated text a day: the next morning.
    [(to, ask)] = referral_texts(story.run_until(ny(12, 12, 0)))
    assert to == CUSTOMER_PHONE
    with Session(story.engine) as s:
        sent = s.exec(select(Message).where(Message.kind == "referral_ask")).one()
        # the 12th, not the 17th (the worker runs every three hours here)
        assert ny(12, 9, 0) <= sent.sent_at <= ny(12, 12, 0)


def test_an_unhappy_reply_cancels_the_ask_and_the_review_still_goes(story):
    story.visit()
    story.run_until(ny(10, 12, 0))  # the thank-you
    story.reply("Honestly the wait was way too long and nobody said sorry")
    out = story.run_until(ny(20, 12, 0))
    assert referral_texts(out) == []
    assert any("/l/" in body for _to, body in out)  # no review gating: the request went
    assert ("referral_ask", "canceled") in story.statuses()


def test_one_ask_per_customer_per_cooldown(story, clock):
    story.visit()
    assert len(referral_texts(story.run_until(ny(17, 12, 0)))) == 1
    story.clock.set(ny(27, 11, 0))
    visit = story.visit()  # ten days after the first ask
    assert "referral_ask" not in [m["kind"] for m in visit["planned"]]
    assert any("referral: already asked in the last 90 days" in s for s in visit["skipped"])
    story.clock.set(ny(17, 11, 0, month=6))  # three months on
    visit = story.visit()
    assert "referral_ask" in [m["kind"] for m in visit["planned"]]


def test_the_owner_sees_and_cancels_the_planned_ask_in_the_conversation(story, client):
    visit = story.visit()
    [ask] = [m for m in visit["planned"] if m["kind"] == "referral_ask"]
    sign_in(client)
    page = client.get(f"/conversations/{visit['customer_id']}").get_data(as_text=True)
    assert "Share your link" in page
    response = post(client, f"/conversations/{visit['customer_id']}/messages/{ask['id']}/cancel")
    assert response.status_code == 302
    assert referral_texts(story.run_until(ny(20, 12, 0))) == []
    assert ("referral_ask", "canceled") in story.statuses()


def test_with_an_offer_the_ask_is_promotional_only_for_those_who_agreed_to_offers(story):
    story.patch(referral_offer="15% off their first visit")
    story.visit(name="Maria Lopez", marketing_consent=True)
    story.visit(phone=OTHER_PHONE, name="Sam Rivera")  # texts only
    story.visit(phone=FRIEND_PHONE, name="Lee Chan", marketing_consent=True)
    # Lee withdraws consent to offers before his ask goes: checked again, it is canceled.
    story.client.post("/api/v1/customers", headers=story.auth,
                      json={"phone": FRIEND_PHONE, "marketing_consent": False})  # fmt: skip
    asks = dict(referral_texts(story.run_until(ny(17, 12, 0))))
    assert asks[CUSTOMER_PHONE].endswith("Your friends get 15% off their first visit.")
    assert "15%" not in asks[OTHER_PHONE]  # informational: he is still asked, without it
    assert FRIEND_PHONE not in asks
    with Session(story.engine) as s:
        lee = s.exec(select(Customer).where(Customer.phone == FRIEND_PHONE)).one()
        [his] = s.exec(select(Message).where(Message.customer_id == lee.id,
                                             Message.kind == "referral_ask")).all()  # fmt: skip
        assert his.promotional and his.status == "canceled"


def test_the_texts_page_says_when_the_ask_goes(story, client):
    story.patch(referral_ask_days=5)
    sign_in(client)
    page = client.get("/templates/").get_data(as_text=True)
    assert "5 days after a visit (sooner after a 4-5 rating or an opened review link)" in page
    assert "A week after a happy visit" not in page


def send_at_of(message: dict) -> datetime:
    return datetime.fromisoformat(message["send_at"].replace("Z", "+00:00"))


def test_the_owner_sets_the_referral_program_on_the_settings_page(client, business, engine):
    sign_in(client)
    page = client.get("/settings/").get_data(as_text=True)
    assert 'id="referrals"' in page and 'name="referral_offer"' in page
    response = post(client, "/settings/referrals", {
        "referral_asks": "on", "referral_ask_days": "5", "referral_cooldown_days": "120",
        "referral_offer": "15% off their first visit", "referral_reward": "",
        "referral_hourly_limit": "20"})  # fmt: skip
    assert response.status_code == 302
    with Session(engine) as s:
        saved = s.get(Business, business.id)
        assert (saved.referral_ask_days, saved.referral_cooldown_days) == (5, 120)
        assert saved.referral_offer == "15% off their first visit"
        assert saved.referral_reward is None and saved.referral_asks is True
    bad = post(client, "/settings/referrals", {"referral_ask_days": "0"})
    assert bad.status_code == 422
    with Session(engine) as s:
        saved = s.get(Business, business.id)
        assert saved.referral_ask_days == 5 and saved.referral_asks is True  # nothing changed
