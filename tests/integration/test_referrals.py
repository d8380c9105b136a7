"""Consent in two kinds and the referral program, told from outside: visits and customers
through the API, the owner's pages and CSV imports, replies as signed Twilio webhooks, the
friend on the public landing page /r/<code>, and a dispatcher on a held clock with Twilio
faked on the wire. Each story says exactly which texts went out and which did not."""

from __future__ import annotations

import io
import re
from datetime import datetime, timedelta

import pytest
from sqlmodel import Session, select

from app.care.outbound import queue_text
from app.models import Business, ConsentEvent, Customer, Message, Referral
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
    assert "Friends get" not in body  # no offer set: an informational text
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
    assert "Know someone who" in page
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
    assert asks[CUSTOMER_PHONE].endswith("Friends get 15% off their first visit.")
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


# ---- the friend -----------------------------------------------------------------------------


def referrer_code(story) -> str:
    story.visit()  # Maria, a customer with her code
    return story.customer().referral_code


def landing(client, code: str):
    response = client.get(f"/r/{code}")
    assert response.status_code == 200, response.status_code
    return response.get_data(as_text=True)


def sign_up(client, code: str, phone: str = FRIEND_PHONE, name: str = "Jo", **extra):
    page = landing(client, code)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"csrf_token": token, "first_name": name, "phone": phone, "consent": "yes", **extra}
    return client.post(f"/r/{code}", data=form)


def referral_rows(story) -> list[Referral]:
    with Session(story.engine) as s:
        return list(s.exec(select(Referral).order_by(Referral.id)))


def friend_texts(story, sent, phone: str = FRIEND_PHONE) -> list[str]:
    return [body for to, body in sent if to == phone]


def test_a_friend_signs_up_on_the_page_gets_one_text_and_nothing_else_until_yes(story, client):
    story.patch(referral_offer="15% off their first visit")
    code = referrer_code(story)
    story.run_until(ny(10, 12, 0))  # Maria's thank-you
    page = landing(client, code.lower())  # a link typed in lower case works too
    assert "Bloom Hair Studio" in page and "15% off their first visit" in page
    assert 'name="csrf_token"' in page
    for box in ('id="f-consent"', 'id="f-marketing"'):
        tag = page[page.index(box) - 60 : page.index(">", page.index(box))]
        assert "checked" not in tag  # unticked
    response = sign_up(client, code, name="Jo", marketing_consent="yes")
    assert response.status_code == 200 and "reply <strong>YES</strong>" in response.get_data(
        as_text=True
    )
    jo = story.customer(FRIEND_PHONE)
    maria = story.customer()
    assert jo.referred_by == maria.id and jo.name == "Jo"
    assert (jo.consent, jo.marketing_consent) == ("unknown", "unknown")  # not before YES
    [lead] = referral_rows(story)
    assert (lead.state, lead.source, lead.referrer_id) == ("lead", "link", maria.id)
    # The owner sees the new lead at the top of the inbox.
    sign_in(client)
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "New lead sent by Maria Lopez" in inbox

    [confirmation] = friend_texts(story, story.run())
    assert confirmation.startswith("Reply YES to get texts from Bloom Hair Studio")
    assert "Reply STOP to opt out" in confirmation
    # Nothing else, however long: the visit plan of someone else, days pass.
    assert friend_texts(story, story.run_until(ny(20, 12, 0))) == []
    response = story.client.post("/api/v1/messages", headers=story.auth,
                                 json={"phone": FRIEND_PHONE, "body": "Hi Jo!"})  # fmt: skip
    assert response.status_code == 409  # the owner cannot text them either, before YES

    story.reply("YES", phone=FRIEND_PHONE)
    jo = story.customer(FRIEND_PHONE)
    assert (jo.consent, jo.consent_source) == ("granted", "referral page")
    assert jo.marketing_consent == "granted"  # she ticked offers too, and confirmed
    [welcome] = friend_texts(story, story.run())
    assert welcome.startswith("Welcome to Bloom Hair Studio, Jo!")
    assert referral_rows(story)[0].confirmed_at == story.clock.now()


def test_a_friend_who_never_confirms_gets_nothing_more(story, client):
    code = referrer_code(story)
    sign_up(client, code)
    assert len(friend_texts(story, story.run())) == 1
    story.clock.set(ny(12, 11, 0))
    sign_up(client, code)  # the same number again, days later (perhaps not by its owner)
    assert friend_texts(story, story.run_until(ny(30, 12, 0))) == []
    assert len(referral_rows(story)) == 1
    story.reply("Who is this?", phone=FRIEND_PHONE)  # a reply is no YES
    assert story.customer(FRIEND_PHONE).consent == "unknown"
    assert friend_texts(story, story.run()) == []


def test_the_page_answers_the_same_whoever_the_number_is(story, client):
    code = referrer_code(story)
    story.visit(phone=OTHER_PHONE, name="Sam Rivera")  # a customer already
    story.run_until(ny(10, 12, 0))
    answers = {}
    for label, phone in (("new", FRIEND_PHONE), ("customer", OTHER_PHONE),
                         ("referrer", CUSTOMER_PHONE)):  # fmt: skip
        response = sign_up(client, code, phone=phone, name="Jo")
        assert response.status_code == 200
        answers[label] = response.get_data(as_text=True)
    assert answers["new"] == answers["customer"] == answers["referrer"]
    sent = story.run()
    assert [to for to, _body in sent] == [FRIEND_PHONE]  # only the new number is texted
    # Sam is not counted as new, and Maria cannot refer herself.
    assert [(r.friend_id, r.source) for r in referral_rows(story)] == [
        (story.customer(FRIEND_PHONE).id, "link")
    ]
    assert story.customer(OTHER_PHONE).referred_by is None
    assert story.customer().referred_by is None


def test_a_number_that_opted_out_is_not_texted_and_the_page_says_nothing(story, client):
    code = referrer_code(story)
    story.reply("Hello", phone=FRIEND_PHONE)
    story.reply("STOP", phone=FRIEND_PHONE)
    response = sign_up(client, code)
    assert response.status_code == 200 and "reply <strong>YES</strong>" in response.get_data(
        as_text=True
    )
    assert friend_texts(story, story.run()) == []


def test_the_consent_box_is_required_and_bad_input_changes_nothing(story, client):
    code = referrer_code(story)
    response = sign_up(client, code, consent="")
    assert response.status_code == 422
    assert "Tick the box" in response.get_data(as_text=True)
    assert sign_up(client, code, phone="12").status_code == 422
    assert sign_up(client, code, name="").status_code == 422
    assert referral_rows(story) == []
    with Session(story.engine) as s:
        assert s.exec(select(Customer).where(Customer.phone == FRIEND_PHONE)).first() is None
    # No CSRF token: refused, nothing made.
    refused = client.post(f"/r/{code}", data={"first_name": "Jo", "phone": FRIEND_PHONE,
                                              "consent": "yes"})  # fmt: skip
    assert refused.status_code == 400
    assert client.get("/r/AAAAAA").status_code == 404  # no such code
    assert client.get("/r/" + "x" * 40).status_code == 404
    assert friend_texts(story, story.run()) == []


def test_a_friend_texts_a_code_typed_loosely_and_is_welcomed_once(story):
    code = referrer_code(story)
    story.run_until(ny(10, 12, 0))
    loose = f"hi! maria said to text {code[:3].lower()}-{code[3:].lower()} :)"
    story.reply(loose, phone=FRIEND_PHONE)
    [welcome] = friend_texts(story, story.run())
    assert welcome.startswith("Welcome to Bloom Hair Studio!")
    friend = story.customer(FRIEND_PHONE)
    assert friend.referred_by == story.customer().id
    [lead] = referral_rows(story)
    assert (lead.source, lead.state) == ("text", "lead")
    # Texting it again, or another code: nothing more.
    story.reply(f"my code {code}", phone=FRIEND_PHONE)
    assert friend_texts(story, story.run()) == []
    assert len(referral_rows(story)) == 1


def test_codes_from_existing_customers_or_the_referrer_count_for_nothing(story):
    code = referrer_code(story)
    story.visit(phone=OTHER_PHONE, name="Sam Rivera")
    story.run_until(ny(10, 12, 0))
    story.clock.set(ny(10, 13, 0))
    story.reply(f"My friend's code is {code}", phone=OTHER_PHONE)  # a customer already
    story.reply(f"code {code}", phone=CUSTOMER_PHONE)  # her own code
    story.reply("Is K7PM4R a code?", phone=FRIEND_PHONE)  # nobody's code
    assert story.run() == []
    assert referral_rows(story) == []


class TestRateLimits:
    @pytest.fixture
    def settings_overrides(self):
        return {**OVERRIDES, "referral_signup_limit": "3 per hour"}

    def test_sign_ups_are_limited_per_address(self, story, client):
        code = referrer_code(story)
        for n in range(3):
            assert sign_up(client, code, phone=f"+1212555016{n}").status_code == 200
        refused = sign_up(client, code, phone="+12125550169")
        assert refused.status_code == 429 and "Retry-After" in refused.headers
        assert len(referral_rows(story)) == 3
        assert "+12125550169" not in [to for to, _body in story.run()]

    def test_new_friends_are_limited_per_business_by_page_and_by_text(self, story, client):
        code = referrer_code(story)
        story.patch(referral_hourly_limit=1)
        assert sign_up(client, code).status_code == 200
        refused = sign_up(client, code, phone=OTHER_PHONE)
        assert refused.status_code == 429
        assert "Too many sign-ups right now" in refused.get_data(as_text=True)
        story.reply(f"hi, code {code}", phone="+12125550166")  # by text: no lead either
        sent = story.run()
        assert [to for to, _body in sent] == [FRIEND_PHONE]  # only the first one's confirmation
        assert len(referral_rows(story)) == 1
        # An hour later there is room again.
        story.clock.set(ny(10, 12, 5))
        assert sign_up(client, code, phone=OTHER_PHONE).status_code == 200


# ---- the reward, and the API ----------------------------------------------------------------

ALERT_PHONE = "+12125550199"


def friend_by_link_confirmed(story, client) -> None:
    code = story.customer().referral_code
    sign_up(client, code, name="Jo")
    story.run()
    story.reply("YES", phone=FRIEND_PHONE)
    story.run()


def test_the_friends_first_visit_converts_and_rewards_a_referrer_who_agreed(story, client):
    story.patch(referral_reward="$10 off your next visit")
    story.visit(name="Maria Lopez", marketing_consent=True)
    story.run_until(ny(10, 12, 0))
    friend_by_link_confirmed(story, client)
    story.clock.set(ny(11, 15, 0))
    story.visit(phone=FRIEND_PHONE, name="Jo")  # her first visit
    [lead] = referral_rows(story)
    assert (lead.state, lead.converted_at) == ("converted", ny(11, 15, 0))
    # (one automated text a day: her review request went this morning, so tomorrow)
    out = story.run_until(ny(12, 12, 0))
    [reward] = [body for to, body in out if to == CUSTOMER_PHONE and "your friend" in body]
    assert reward.startswith("Hi Maria, your friend just visited Bloom Hair Studio thanks to you!")
    assert "You've earned $10 off your next visit." in reward and "/l/" not in reward
    with Session(story.engine) as s:
        sent = s.exec(select(Message).where(Message.kind == "referral_reward")).one()
        assert sent.promotional
    # Her next visit is no first visit: no second reward.
    story.clock.set(ny(20, 15, 0))
    story.visit(phone=FRIEND_PHONE, name="Jo")
    assert [body for to, body in story.run() if to == CUSTOMER_PHONE and "earned" in body] == []

    # The owner marks the reward given on Maria's page; the API lists it so.
    sign_in(client)
    maria = story.customer()
    page = client.get(f"/customers/{maria.id}").get_data(as_text=True)
    assert "Mark reward given" in page and maria.referral_code in page
    friend_page = client.get(f"/customers/{story.customer(FRIEND_PHONE).id}").get_data(as_text=True)
    assert "Sent by" in friend_page and "Maria Lopez" in friend_page
    response = post(client, f"/customers/{maria.id}/referrals/{lead.id}/rewarded")
    assert response.status_code == 302
    [item] = story.api("/api/v1/referrals")["items"]
    assert item["state"] == "rewarded" and item["rewarded_at"]
    assert (item["referrer_id"], item["friend_id"], item["source"]) == (
        maria.id, story.customer(FRIEND_PHONE).id, "link")  # fmt: skip
    jo = story.api(f"/api/v1/customers/{item['friend_id']}")
    assert jo["referred_by"] == maria.id and jo["marketing_consent"] == "unknown"


def test_a_referrer_without_marketing_consent_gets_no_reward_text_and_the_owner_is_told(
    story, client
):
    story.patch(referral_reward="$10 off your next visit", alert_phone=ALERT_PHONE)
    story.visit(name="Maria Lopez")  # consent to texts, not to offers
    story.run_until(ny(10, 12, 0))
    code = story.customer().referral_code
    story.reply(f"Maria told me to text {code}", phone=FRIEND_PHONE)
    story.run()
    story.run_until(ny(11, 15, 0))  # Maria's review request goes in the morning
    story.visit(phone=FRIEND_PHONE, name="Jo")
    out = story.run_until(ny(13, 12, 0))
    assert [b for to, b in out if to == CUSTOMER_PHONE and "friend" in b] == []  # no reward
    [alert] = [body for to, body in out if to == ALERT_PHONE]
    assert "thank Maria in person" in alert
    assert referral_rows(story)[0].state == "converted"
    assert story.customer().needs_reply  # until the owner has seen to it
    sign_in(client)
    inbox = client.get("/inbox").get_data(as_text=True)
    assert "just visited: thank Maria in person" in inbox


def test_rewards_wait_for_a_visit_only(story, client):
    story.patch(referral_reward="$10 off your next visit")
    story.visit(name="Maria Lopez", marketing_consent=True)
    story.run_until(ny(10, 12, 0))
    friend_by_link_confirmed(story, client)
    # Nothing anyone says earns a reward: only the friend's visit.
    story.reply("5 stars, Bloom is amazing", phone=FRIEND_PHONE)
    story.reply("I left you a great review!")
    assert [b for _to, b in story.run_until(ny(13, 12, 0)) if "earned" in b] == []
    sign_in(client)
    lead = referral_rows(story)[0]
    refused = post(client, f"/customers/{story.customer().id}/referrals/{lead.id}/rewarded")
    assert refused.status_code == 302 and referral_rows(story)[0].state == "lead"


def test_the_referrals_api_is_paginated_filtered_and_scoped(story, client, session, clock):
    code = referrer_code(story)
    for n in range(3):
        story.reply(f"code {code}", phone=f"+1212555014{n}")
    story.visit(phone="+12125550140", name="Ana")
    page = story.api("/api/v1/referrals?limit=2")
    assert [i["state"] for i in page["items"]] == ["converted", "lead"]
    assert page["next_cursor"]
    rest = story.api(f"/api/v1/referrals?limit=2&cursor={page['next_cursor']}")
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert len(story.api("/api/v1/referrals?state=lead")["items"]) == 2
    bad = story.client.get("/api/v1/referrals?state=maybe", headers=story.auth)
    assert bad.status_code == 422
    assert story.client.get("/api/v1/referrals").status_code == 401
    # Another business sees none of them.
    from tests.integration.test_owner_helpers import other_business

    other = other_business(session, clock)
    from app.care.businesses import issue_api_key

    key = issue_api_key(session, other)
    session.commit()
    theirs = story.client.get("/api/v1/referrals", headers={"Authorization": f"Bearer {key}"})
    assert theirs.json == {"items": [], "next_cursor": None}
    document = story.client.get("/api/v1/openapi.json").json
    assert "/api/v1/referrals" in document["paths"]
    customer = document["components"]["schemas"]["CustomerPublic"]["properties"]
    assert {"referral_code", "referred_by", "marketing_consent"} <= set(customer)


def test_a_reward_is_marked_given_through_the_api_once_the_friend_visited(story, session,
                                                                         clock):  # fmt: skip
    code = referrer_code(story)
    story.reply(f"code {code}", phone="+12125550140")
    story.reply(f"code {code}", phone="+12125550141")
    story.visit(phone="+12125550140", name="Ana")
    items = {i["friend_id"]: i for i in story.api("/api/v1/referrals")["items"]}
    converted = next(i for i in items.values() if i["state"] == "converted")
    lead = next(i for i in items.values() if i["state"] == "lead")

    def reward(referral_id, headers=story.auth):
        return story.client.post(f"/api/v1/referrals/{referral_id}/reward", headers=headers)

    given = reward(converted["id"])
    assert given.status_code == 200, given.json
    assert given.json["state"] == "rewarded" and given.json["rewarded_at"]
    assert story.api("/api/v1/referrals?state=rewarded")["items"][0]["id"] == converted["id"]
    again = reward(converted["id"])
    assert again.status_code == 409 and again.json["error"]["code"] == "not_converted"
    assert reward(lead["id"]).status_code == 409  # the friend has not visited yet
    assert reward(10**6).status_code == 404
    assert reward(converted["id"], headers={}).status_code == 401
    from app.care.businesses import issue_api_key
    from tests.integration.test_owner_helpers import other_business

    key = issue_api_key(session, other_business(session, clock))
    session.commit()
    assert reward(lead["id"], headers={"Authorization": f"Bearer {key}"}).status_code == 404
    assert story.api("/api/v1/referrals?state=lead")["items"][0]["state"] == "lead"
    document = story.client.get("/api/v1/openapi.json").json
    assert "post" in document["paths"]["/api/v1/referrals/{id}/reward"]


def test_a_new_number_with_a_code_and_a_complaint_is_still_heard(story):
    story.patch(alert_phone=ALERT_PHONE)
    code = referrer_code(story)
    story.run_until(ny(10, 12, 0))
    story.reply(f"Maria gave me {code} but nobody answers your phone, terrible service",
                phone=FRIEND_PHONE)  # fmt: skip
    out = story.run()
    assert any(to == ALERT_PHONE and "unhappy" in body for to, body in out)
    assert [b for to, b in out if to == FRIEND_PHONE][0].startswith("Welcome to Bloom")
    assert story.customer(FRIEND_PHONE).referred_by == story.customer().id
    # A new number whose text only looks like it has a code: an ordinary new conversation.
    story.reply("Order AB23CD arrived broken, awful", phone="+12125550166")
    recipients = [to for to, _b in story.run()]
    assert ALERT_PHONE in recipients and "+12125550166" not in recipients
    assert len(referral_rows(story)) == 1


def test_the_migration_gives_existing_customers_codes_and_keeps_opt_outs(tmp_path):
    """0007 on a database with customers in it (SQLite, foreign keys on): nothing rebuilt
    under the rows that point at customers, every customer a code of their own, and an
    opt-out from before is an opt-out from offers too; and back down again."""
    import sqlalchemy as sa
    from alembic import command

    from app.db import make_engine
    from app.migrate import alembic_config
    from tests.integration.test_migrations import insert_shop

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = alembic_config(engine=engine)
    command.upgrade(config, "0006_search")
    with engine.begin() as c:
        insert_shop(c, [(f"+1212555{i:04d}", "opted_out" if i % 7 == 0 else "granted")
                        for i in range(200)])  # fmt: skip
    command.upgrade(config, "head")
    with engine.connect() as c:
        rows = c.execute(sa.text("SELECT referral_code, consent, marketing_consent "
                                 "FROM customer")).all()  # fmt: skip
    assert len({code for code, _c, _m in rows}) == 200 and all(code for code, _c, _m in rows)
    assert all((c == "opted_out") == (m == "opted_out") for _code, c, m in rows)
    command.downgrade(config, "0006_search")
    engine.dispose()


def test_the_demo_shows_word_of_mouth(engine, clock, client):
    """The demo salon has a referral to show: Maria's friend texted her code and came in;
    Maria, who agreed to offers, has her reward text on its way."""
    from app.care.demo import DEMO_CUSTOMERS, DEMO_FRIEND, load_demo

    with Session(engine) as s:
        key = load_demo(s, now=clock.now())["api_key"]
        s.commit()
    auth = {"Authorization": f"Bearer {key}"}
    [referral] = client.get("/api/v1/referrals", headers=auth).json["items"]
    assert referral["state"] == "converted" and referral["source"] == "text"
    friend = client.get(f"/api/v1/customers/{referral['friend_id']}", headers=auth).json
    maria = client.get(f"/api/v1/customers/{referral['referrer_id']}", headers=auth).json
    assert (friend["phone"], maria["phone"]) == (DEMO_FRIEND[0], DEMO_CUSTOMERS[0][0])
    texts = client.get(f"/api/v1/customers/{maria['id']}/messages", headers=auth).json["items"]
    [reward] = [t for t in texts if t["kind"] == "referral_reward"]
    assert "$10 off" in reward["body"] and reward["status"] == "scheduled"
    clock.advance(minutes=1)
    metrics = client.get("/api/v1/metrics", headers=auth).json["referrals"]
    assert (metrics["leads"], metrics["converted"]) == (1, 1)
