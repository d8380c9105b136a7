"""An opt-out stays with the phone number, not with a customer row: tried from outside (the
SMS webhook, the API, the owner's pages, a CSV import, the worker), the attack first, then
what must hold."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

import pytest
from sqlalchemy import delete
from sqlmodel import Session, select

from app.models import ConsentEvent, Customer, Message, OptedOutNumber
from tests.conftest import CUSTOMER_PHONE, MESSAGES_URL, inbound_form, post_signed, twilio_message
from tests.integration.test_care_stories import ALERT_PHONE, Story, ny
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in

NEW_PHONE = "+12125550177"  # where the owner "moves" the customer who texted STOP
OTHER_PHONE = "+12125550155"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def customer_with(engine, phone: str) -> Customer | None:
    with Session(engine) as s:
        return s.exec(select(Customer).where(Customer.phone == phone)).first()


def edit_phone(client, customer: Customer, phone: str, consent: str | None = None):
    form = {"phone": phone, "name": customer.name, "consent": consent or customer.consent}
    return post(client, f"/customers/{customer.id}", form)


def opted_out_then_moved(story, client) -> Customer:
    """Maria texts STOP; the owner then gives her row another number, freeing hers."""
    story.visit()
    story.reply("STOP")
    maria = story.customer()
    assert maria.consent == "opted_out"
    sign_in(client)
    assert edit_phone(client, maria, NEW_PHONE).status_code == 302
    assert customer_with(story.engine, CUSTOMER_PHONE) is None  # no row holds her number now
    return maria


# ---- re-created rows ------------------------------------------------------------------------


def test_a_number_freed_by_a_phone_edit_comes_back_opted_out_through_the_api(story, client):
    opted_out_then_moved(story, client)
    # The attack: the number has no row any more, so "create it with consent" through the API.
    response = client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE, "consent": True},
                           headers=story.auth)  # fmt: skip
    assert response.status_code in (200, 201), response.json
    assert response.json["consent"] == "opted_out"
    sent = client.post("/api/v1/messages", json={"phone": CUSTOMER_PHONE, "body": "Hi!"},
                       headers=story.auth)  # fmt: skip
    assert sent.status_code == 409 and sent.json["error"]["code"] == "opted_out"
    assert story.run() == []


def test_a_visit_for_a_freed_number_plans_nothing(story, client):
    opted_out_then_moved(story, client)
    visit = story.visit(name="Maria Lopez")  # consent: true
    assert visit["planned"] == []
    assert customer_with(story.engine, CUSTOMER_PHONE).consent == "opted_out"
    assert story.run_until(ny(20, 12)) == []


def test_a_csv_import_cannot_grant_a_number_that_texted_stop(
    story, client, cli, tmp_path, business
):
    opted_out_then_moved(story, client)
    path = tmp_path / "customers.csv"
    path.write_text(f"phone,name,consent\n{CUSTOMER_PHONE},Maria Lopez,yes\n", encoding="utf-8")
    code, _out, err = cli("import-customers", str(path), "--business", str(business.id))
    assert code == 0, err
    assert customer_with(story.engine, CUSTOMER_PHONE).consent == "opted_out"


def test_the_owner_cannot_add_the_number_again_with_consent(story, client):
    opted_out_then_moved(story, client)
    form = {"phone": CUSTOMER_PHONE, "name": "Maria again", "consent": "granted"}
    response = post(client, "/customers/new", form)
    assert response.status_code == 422
    assert "texted STOP" in response.get_data(as_text=True)
    assert customer_with(story.engine, CUSTOMER_PHONE) is None
    # Without consent the row can be added, and it is opted out from the start.
    added = post(client, "/customers/new", {"phone": CUSTOMER_PHONE, "name": "Maria again"})
    assert added.status_code == 302
    assert customer_with(story.engine, CUSTOMER_PHONE).consent == "opted_out"


def test_a_text_from_a_freed_number_makes_an_opted_out_row(story, client):
    opted_out_then_moved(story, client)
    story.reply("Hi, is Tuesday open?")
    again = customer_with(story.engine, CUSTOMER_PHONE)
    assert again.consent == "opted_out" and again.opted_out_at is not None
    sent = client.post("/api/v1/messages", json={"customer_id": again.id, "body": "Yes!"},
                       headers=story.auth)  # fmt: skip
    assert sent.status_code == 409


def test_a_deleted_row_does_not_take_the_opt_out_with_it(story, engine):
    """Rows can go (an operator's clean-up, a future merge): the number's opt-out stays."""
    story.reply("STOP")
    with Session(engine) as s:
        maria = story.customer()
        s.execute(delete(ConsentEvent).where(ConsentEvent.customer_id == maria.id))
        s.execute(delete(Message).where(Message.customer_id == maria.id))
        s.execute(delete(Customer).where(Customer.id == maria.id))
        s.commit()
    visit = story.visit()
    assert visit["planned"] == [] and customer_with(engine, CUSTOMER_PHONE).consent == "opted_out"


def test_moving_the_opted_out_row_does_not_free_the_person(story, client):
    """The person who said STOP is not texted at the row's new number either: only a START
    from a number brings anyone back."""
    maria = opted_out_then_moved(story, client)
    assert customer_with(story.engine, NEW_PHONE).consent == "opted_out"
    refused = edit_phone(client, maria, NEW_PHONE, consent="granted")
    assert refused.status_code == 422
    story.reply("START", phone=NEW_PHONE)  # her new phone asks to be texted
    assert customer_with(story.engine, NEW_PHONE).consent == "granted"
    # ... which says nothing about the number that texted STOP.
    response = story.client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE,
                                 "consent": True}, headers=story.auth)  # fmt: skip
    assert response.json["consent"] == "opted_out"


def test_only_a_start_from_the_number_brings_it_back(story, client, engine):
    opted_out_then_moved(story, client)
    story.reply("START")
    assert customer_with(engine, CUSTOMER_PHONE).consent == "granted"
    with Session(engine) as s:
        assert s.exec(select(OptedOutNumber)).all() == []
    visit = story.visit()
    assert [m["kind"] for m in visit["planned"]][:1] == ["thank_you"]


# ---- texts already scheduled ----------------------------------------------------------------


def test_moving_a_customer_onto_a_number_that_texted_stop_cancels_their_plan(story, client):
    opted_out_then_moved(story, client)
    sam = story.visit(phone=OTHER_PHONE, name="Sam Rivera")
    assert len(sam["planned"]) == 4  # thanks, review request and reminder, referral ask
    row = customer_with(story.engine, OTHER_PHONE)
    # The attack: "correct" Sam's number to the one that opted out, keeping his consent.
    refused = edit_phone(client, row, CUSTOMER_PHONE)
    assert refused.status_code == 422 and "texted STOP" in refused.get_data(as_text=True)
    assert customer_with(story.engine, OTHER_PHONE).consent == "granted"
    # Without claiming consent the edit goes through, and the number's opt-out comes with it.
    assert edit_phone(client, row, CUSTOMER_PHONE, consent="unknown").status_code == 302
    assert customer_with(story.engine, CUSTOMER_PHONE).consent == "opted_out"
    assert story.run_until(ny(20, 12)) == []
    assert {status for _kind, status in story.statuses(CUSTOMER_PHONE)} == {"canceled"}


def test_a_corrected_phone_takes_the_scheduled_texts_with_it(story, client):
    """A phone edit re-points the plan, so nothing goes to the old (wrong) number."""
    sam = story.visit(phone=NEW_PHONE, name="Sam Rivera")
    sign_in(client)
    row = customer_with(story.engine, NEW_PHONE)
    assert edit_phone(client, row, OTHER_PHONE).status_code == 302
    sent = story.run(ny(10, 11, 30))
    assert [to for to, _ in sent] == [OTHER_PHONE]
    assert sam["planned"][0]["kind"] == "thank_you"


def test_a_stop_cancels_every_pending_text_to_the_number_whoever_it_was_for(story, engine):
    """An alert about Maria waits for the owner's phone; the owner's phone texts STOP."""
    story.patch(alert_phone=ALERT_PHONE)
    story.visit()
    story.reply("That was the worst haircut of my life")  # alerts the owner
    with Session(engine) as s:
        [alert] = s.exec(select(Message).where(Message.to_number == ALERT_PHONE)).all()
        assert alert.status == "scheduled"
    story.reply("STOP", phone=ALERT_PHONE)
    with Session(engine) as s:
        assert s.get(Message, alert.id).status == "canceled"
    assert ALERT_PHONE not in [to for to, _ in story.run()]
    # Maria's own plan is hers: held for the complaint, not canceled by the owner's STOP.
    assert ("review_request", "scheduled") in story.statuses()


def test_a_text_to_a_number_that_opted_out_is_canceled_when_it_would_go(story, engine):
    """Queued after the STOP for someone else (an alert to an owner phone that opted out):
    checked against the number it goes to, at send time."""
    story.reply("STOP", phone=ALERT_PHONE)
    story.patch(alert_phone=ALERT_PHONE)
    story.visit()
    story.reply("Really disappointed, the colour is wrong")
    assert [to for to, _ in story.run()] == []
    with Session(engine) as s:
        [alert] = s.exec(select(Message).where(Message.to_number == ALERT_PHONE)).all()
        assert (alert.status, alert.error_message) == ("canceled", "the number opted out")


# ---- a STOP while a worker holds the text -----------------------------------------------------


def test_a_stop_after_the_claim_and_before_the_send_stops_the_text(
    client, auth, services, clock, twilio, business, engine
):
    """Two texts in one batch: while Twilio takes the first, the second's number texts STOP.
    The worker has claimed the second already; it checks the number right before calling
    Twilio and never sends it."""
    story = Story(client, auth, services, clock, twilio)
    twilio.reset()
    sent: list[str] = []

    def accept(request):
        form = dict(parse_qsl(request.body if isinstance(request.body, str) else
                              request.body.decode()))  # fmt: skip
        sent.append(form["To"])
        if form["To"] == CUSTOMER_PHONE:
            stop = inbound_form("STOP", sid="SM" + "e" * 32, frm=OTHER_PHONE)
            assert post_signed(client, "/webhooks/twilio/sms", stop).status_code == 200
        answer = twilio_message(f"SM{len(sent):032x}", to=form["To"], body=form["Body"])
        return 201, {}, json.dumps(answer)

    twilio.add_callback("POST", MESSAGES_URL, callback=accept, content_type="application/json")
    for phone in (CUSTOMER_PHONE, OTHER_PHONE):
        client.post("/api/v1/customers", json={"phone": phone, "consent": True}, headers=auth)
        response = client.post("/api/v1/messages", json={"phone": phone, "body": "We are open"},
                               headers=auth)  # fmt: skip
        assert response.status_code == 202, response.json
    stats = story.dispatcher.run_once()
    assert sent == [CUSTOMER_PHONE]
    assert stats.claimed == 2 and stats.sent == 1 and stats.canceled == 1
    assert story.statuses(OTHER_PHONE) == [("manual", "canceled")]
