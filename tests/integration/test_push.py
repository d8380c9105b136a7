"""Notifications on the owner's and staff's own devices (Web Push), against a stand-in push
service on 127.0.0.1 that checks the VAPID header and decrypts each push as a browser would:
a device is turned on from the page (with CSRF), a customer's text through Twilio's webhook
becomes a push once the worker runs (never inside the webhook), each person chooses texts,
notifications or both, a device its push service says is gone is forgotten, and nothing
crosses from one business to another."""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import timedelta

import pytest
from sqlmodel import Session, select

from app.care import push
from app.db import make_engine
from app.models import Customer, PushNotice, PushSubscription, User, WebPushKey
from app.webpush import from_b64url
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import ALERT_PHONE
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_user,
    csrf_token,
    other_business,
    sign_in,
)
from tests.push_standin import PushStandIn

UNHAPPY = "Honestly it was a 2. The wait was way too long and nobody said sorry."


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def standin(twilio, engine):
    """The stand-in push service; requests to it pass by the faked Twilio."""

    def app_key() -> str | None:
        with Session(engine) as session:
            row = session.get(WebPushKey, push.KEY_NAME)
            return row.public_key if row else None

    with PushStandIn(app_key) as service:
        twilio.add_passthru(service.origin)
        yield service
        assert service.problems == [], service.problems


def page_of(client, path: str = "/settings") -> tuple[str, str]:
    """(CSRF token, the app's public VAPID key) as the notifications card's script has them."""
    page = client.get(path, follow_redirects=True).get_data(as_text=True)
    assert 'data-push-key="/account/push/key"' in page, f"{path} has no notifications card"
    answer = client.get("/account/push/key")
    assert answer.status_code == 200
    return csrf_token(page), answer.json["key"]


def turn_on(client, device, path: str = "/settings", choice: str | None = "both"):
    """What the page's script does: post the browser's subscription, with the CSRF token."""
    token, _key = page_of(client, path)
    response = client.post("/account/push", json=device.subscription(),
                           headers={"X-CSRFToken": token})  # fmt: skip
    assert response.status_code == 201, response.get_data(as_text=True)
    if choice:
        choose(client, choice, path)
    return response.json


def choose(client, choice: str, path: str = "/settings"):
    token, _ = page_of(client, path)
    response = client.post("/account/alerts", data={"csrf_token": token, "alert_by": choice,
                                                    "next": path})  # fmt: skip
    assert response.status_code == 302


def maria_id(engine) -> int:
    with Session(engine) as session:
        return session.exec(select(Customer.id).where(Customer.phone == CUSTOMER_PHONE)).one()


def count(engine, model) -> int:
    with Session(engine) as session:
        return len(session.exec(select(model)).all())


def test_the_page_offers_the_installations_key_made_once(owner, engine, business, session):
    owner.get("/settings/")
    assert count(engine, WebPushKey) == 0  # made when first needed, never by a page view
    _, key = page_of(owner)
    assert len(from_b64url(key)) == 65 and from_b64url(key)[0] == 4  # an uncompressed P-256 point
    assert page_of(owner)[1] == key  # the same every time
    add_user(session, business, STAFF_EMAIL, STAFF_PASSWORD, "staff", name="Ana")
    owner.post("/sign-out", data={"csrf_token": page_of(owner)[0]})
    assert owner.get("/account/push/key").status_code == 302  # signed out: to the sign-in page
    sign_in(owner, STAFF_EMAIL, STAFF_PASSWORD)
    assert page_of(owner, "/account")[1] == key  # staff turn it on from their account page
    assert count(engine, WebPushKey) == 1


def test_the_key_pair_is_made_once_however_many_processes_ask(database_url, clock):
    """Several processes asking for the first time at once: one pair wins, all read it."""
    engines = [make_engine(database_url) for _ in range(4)]
    start, keys = threading.Barrier(len(engines)), []

    def ask(engine):
        with Session(engine) as session:
            start.wait()
            keys.append(push.vapid_keys(session, now=clock.now()).public_key)
            session.commit()

    threads = [threading.Thread(target=ask, args=(e,)) for e in engines]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    with Session(engines[0]) as session:
        rows = session.exec(select(WebPushKey)).all()
    for engine in engines:
        engine.dispose()
    assert len(rows) == 1 and keys == [rows[0].public_key] * 4


def test_an_unhappy_reply_reaches_the_owners_phone_as_a_push(story, owner, standin, engine):
    story.patch(alert_phone=ALERT_PHONE)
    device = standin.device()
    turn_on(owner, device, choice="both")
    story.visit()
    story.run(story.clock.now() + timedelta(hours=1))  # the thank-you
    response = story.reply(UNHAPPY)
    assert response.status_code == 200
    assert standin.posts == 0  # the webhook answered without waiting for any push service
    out = story.run()
    assert any(to == ALERT_PHONE for to, _ in out)  # "both": the alert text goes too
    [alert] = device.received
    customer = maria_id(engine)
    assert alert["url"] == f"/conversations/{customer}"
    assert alert["kind"] == "alert" and alert["title"] == "Alert: Maria Lopez"
    assert alert["body"].startswith("Unhappy (") and "wait was way too long" in alert["body"]
    assert alert["tag"] == f"conversation-{customer}"
    assert device.headers[0]["urgency"] == "high"
    story.run()
    assert len(device.received) == 1  # sent once
    page = owner.get("/settings/").get_data(as_text=True)
    assert "last one" in page  # the device shows when its last notification went


def test_an_alert_with_no_alert_phone_and_no_device_reaches_nobody_and_says_so(story, engine):
    """Nobody to tell: the alert is not counted as given (so the next one is not held back)."""
    story.visit()
    story.run(story.clock.now() + timedelta(hours=1))
    assert story.reply(UNHAPPY).status_code == 200
    with Session(engine) as s:
        customer = s.get(Customer, maria_id(engine))
        assert customer is not None and customer.last_owner_alert_at is None
        assert s.exec(select(PushNotice)).all() == []


def test_every_new_text_is_a_push_with_the_number_as_the_business_writes_it(
    story, owner, standin, engine
):
    device = standin.device()
    turn_on(owner, device, choice="push")
    story.reply("Hi, do you have anything open Saturday morning?")
    assert story.run() == []  # no alert phone set, and nobody wants texts: nothing texted
    [notice] = device.received
    assert notice == {"title": "(212) 555-0123", "body": "“Hi, do you have anything open "
                      "Saturday morning?”", "url": f"/conversations/{maria_id(engine)}",
                      "tag": f"conversation-{maria_id(engine)}", "kind": "text"}  # fmt: skip


def test_text_only_users_get_no_push_and_the_alert_phone_its_text(story, owner, standin):
    story.patch(alert_phone=ALERT_PHONE)
    device = standin.device()
    turn_on(owner, device, choice="text")
    story.visit()
    story.run(story.clock.now() + timedelta(hours=1))
    story.reply(UNHAPPY)
    out = story.run()
    assert [body for to, body in out if to == ALERT_PHONE]  # texted as before
    assert device.received == [] and standin.posts == 0


def test_push_only_stops_the_alert_text_unless_someone_still_wants_texts(
    story, owner, standin, client, session, business, app
):
    story.patch(alert_phone=ALERT_PHONE)
    turn_on(owner, standin.device(), choice="push")
    story.visit()
    story.run(story.clock.now() + timedelta(hours=1))
    story.reply(UNHAPPY)
    assert [to for to, _ in story.run() if to == ALERT_PHONE] == []  # the owner took push only
    assert [p["kind"] for p in standin.received()] == ["alert"]
    # A colleague who keeps texts (the default) keeps the alert phone texted.
    add_user(session, business, STAFF_EMAIL, STAFF_PASSWORD, "staff", name="Ana")
    story.clock.advance(hours=2)
    story.reply("Still waiting for someone to call me back about it, this is awful.")
    assert [to for to, _ in story.run() if to == ALERT_PHONE] == [ALERT_PHONE]


def test_a_customer_left_waiting_alerts_push_takers_with_no_alert_phone(story, owner, standin):
    device = standin.device()
    turn_on(owner, device, choice="push")
    story.reply("Can I move my appointment to Thursday?")
    story.run()
    story.run(story.clock.now() + timedelta(minutes=45))  # past the 30 minutes, shop open
    kinds = [(p["kind"], p["body"]) for p in device.received]
    asked = "“Can I move my appointment to Thursday?”"
    assert kinds == [("text", asked), ("alert", f"No reply yet to {asked}")]


def test_a_device_its_push_service_says_is_gone_is_forgotten(story, owner, standin, engine):
    device = standin.device()
    turn_on(owner, device, choice="push")
    device.answer = 410
    story.reply("Are you open today?")
    story.run()
    assert count(engine, PushSubscription) == 0 and count(engine, PushNotice) == 0
    assert "Your devices with notifications" not in owner.get("/settings/").get_data(as_text=True)
    story.reply("Hello?")
    story.run()
    assert standin.posts == 1  # nothing more is sent to it


def test_a_push_service_that_fails_is_tried_again_later(story, owner, standin, engine):
    device = standin.device()
    turn_on(owner, device, choice="push")
    device.answer = 503
    response = story.reply("Are you open today?")
    assert response.status_code == 200
    story.run()
    with Session(engine) as session:
        [notice] = session.exec(select(PushNotice)).all()
    assert notice.state == "pending" and notice.attempts == 1 and "503" in (notice.error or "")
    assert notice.send_at > story.clock.now()
    story.run()
    assert standin.posts == 1  # not before its time
    device.answer = 201
    story.run(notice.send_at)
    assert [p["body"] for p in device.received] == ["“Are you open today?”"]


def test_a_push_service_that_cannot_be_reached_never_troubles_the_webhook(
    story, owner, standin, engine
):
    device = standin.device()
    token, _ = page_of(owner)
    unreachable = {**device.subscription(), "endpoint": "http://127.0.0.1:9/push/nobody"}
    assert owner.post("/account/push", json=unreachable,
                      headers={"X-CSRFToken": token}).status_code == 201  # fmt: skip
    choose(owner, "push")
    assert story.reply("Are you open today?").status_code == 200
    story.run()  # the worker carries on
    with Session(engine) as session:
        [notice] = session.exec(select(PushNotice)).all()
    assert notice.state == "pending" and notice.error.startswith("no answer")


def test_another_business_gets_nothing(story, owner, standin, session, clock, app, engine):
    mine = standin.device()
    turn_on(owner, mine, choice="push")
    other_business(session, clock)
    theirs = standin.device()
    other = app.test_client()
    sign_in(other, "owner@garage.test", "garage owner password")
    turn_on(other, theirs, choice="push")
    story.reply("Are you open today?")
    story.run()
    assert len(mine.received) == 1 and theirs.received == []
    # Nor can one business's owner remove another's device.
    their_id = subscription_id(engine, theirs.endpoint)
    token, _ = page_of(owner)
    owner.post(f"/account/devices/{their_id}/remove", data={"csrf_token": token})
    assert subscription_id(engine, theirs.endpoint) == their_id


def subscription_id(engine, endpoint: str) -> int | None:
    with Session(engine) as session:
        return session.exec(
            select(PushSubscription.id).where(PushSubscription.endpoint == endpoint)
        ).first()


def test_a_person_removes_a_device_from_the_list_or_from_the_device(owner, standin, engine):
    first, second = standin.device(), standin.device()
    saved = turn_on(owner, first, choice=None)
    turn_on(owner, second, choice=None)
    turn_on(owner, second, choice=None)  # the same browser again: still one device
    assert count(engine, PushSubscription) == 2
    page = owner.get("/settings/").get_data(as_text=True)
    assert "Your devices with notifications" in page and "On since" in page
    # The page's script finds its own device by a digest: nobody's push address is shown.
    assert f'data-device="{hashlib.sha256(first.endpoint.encode()).hexdigest()}"' in page
    assert first.endpoint not in page and second.endpoint not in page
    token, _ = page_of(owner)
    back = "/settings/#notifications"
    response = owner.post(f"/account/devices/{saved['id']}/remove",
                          data={"csrf_token": token, "next": back})  # fmt: skip
    assert response.status_code == 302 and response.location.endswith("/settings/#notifications")
    response = owner.post("/account/push/remove", json={"endpoint": second.endpoint},
                          headers={"X-CSRFToken": token})  # fmt: skip
    assert response.json == {"removed": True}
    assert count(engine, PushSubscription) == 0


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda s: {**s, "endpoint": "http://push.example.com/x"}, "must start with https://"),
        (lambda s: {**s, "endpoint": "https://push.example.com/" + "x" * 1100}, "at most 1024"),
        (lambda s: {**s, "endpoint": "not a url"}, "not a web address"),
        (lambda s: {**s, "keys": {**s["keys"], "p256dh": "AAAA"}}, "not a P-256 public key"),
        (lambda s: {**s, "keys": {**s["keys"], "auth": "c2hvcnQ"}}, "not 16 bytes"),
        (lambda s: {"endpoint": s["endpoint"]}, "This is required"),
        (lambda s: {**s, "extra": 1}, "Unknown field"),
        (lambda s: {**s, "keys": "p256dh"}, "documented fields"),
    ],
)
def test_bad_subscriptions_are_refused_in_words(owner, standin, engine, change, words):
    token, _ = page_of(owner)
    body = change(standin.device().subscription())
    response = owner.post("/account/push", json=body, headers={"X-CSRFToken": token})
    assert 400 <= response.status_code < 500
    assert words in response.json["error"]["message"], response.json
    assert count(engine, PushSubscription) == 0


def test_a_subscription_needs_the_pages_csrf_token_and_a_sign_in(owner, client, standin, engine):
    device = standin.device()
    assert owner.post("/account/push", json=device.subscription()).status_code == 400
    response = owner.post("/account/push", data="endpoint=x",
                          headers={"X-CSRFToken": page_of(owner)[0]})  # fmt: skip
    assert response.status_code == 400 and "JSON" in response.json["error"]["message"]
    owner.post("/sign-out", data={"csrf_token": page_of(owner)[0]})
    signed_out = owner.post("/account/push", json=device.subscription(),
                            headers={"X-Requested-With": "fetch"})  # fmt: skip
    assert signed_out.status_code in (400, 401)
    assert count(engine, PushSubscription) == 0


def test_a_choice_that_is_not_one_changes_nothing(owner, engine):
    choose(owner, "push")
    token, _ = page_of(owner)
    owner.post("/account/alerts", data={"csrf_token": token, "alert_by": "pigeon"})
    with Session(engine) as session:
        assert session.exec(select(User.alert_by)).first() == "push"
    assert 'value="push" checked' in owner.get("/settings/").get_data(as_text=True)


def test_the_notification_names_the_customer_and_shows_plain_words(story, owner, standin):
    device = standin.device()
    turn_on(owner, device, choice="push")
    story.visit(name="Maria Lopez")
    story.reply("Thanks so much, see you next month!")
    story.run()
    [notice] = device.received
    assert notice["title"] == "Maria Lopez" and json.dumps(notice).count("+1") == 0


def test_the_no_alert_phone_warning_goes_once_someone_takes_notifications(owner, standin):
    assert "No alert phone yet" in owner.get("/inbox").get_data(as_text=True)
    turn_on(owner, standin.device(), choice="push")
    assert "No alert phone yet" not in owner.get("/inbox").get_data(as_text=True)
    card = owner.get("/settings/").get_data(as_text=True)
    assert "There is no alert phone yet, so texts have nowhere to go" in card


def test_signing_out_everywhere_turns_notifications_off_on_every_device(owner, standin, engine):
    turn_on(owner, standin.device(), choice="push")
    turn_on(owner, standin.device(), choice=None)
    token, _ = page_of(owner)
    owner.post("/account/sign-out-everywhere", data={"csrf_token": token})
    assert count(engine, PushSubscription) == 0  # a lost phone shows no more customers' texts


def test_a_new_sign_in_link_for_a_member_turns_their_notifications_off(
    owner, standin, engine, session, business, app
):
    ana = add_user(session, business, STAFF_EMAIL, STAFF_PASSWORD, "staff", name="Ana")
    staff = app.test_client()
    sign_in(staff, STAFF_EMAIL, STAFF_PASSWORD)
    turn_on(staff, standin.device(), path="/account", choice="push")
    turn_on(owner, standin.device(), choice="push")
    token, _ = page_of(owner)
    assert (
        owner.post(f"/settings/team/{ana.id}/link", data={"csrf_token": token}).status_code == 200
    )
    with Session(engine) as s:
        assert [d.user_id for d in s.exec(select(PushSubscription)).all()] != [ana.id]
        assert ana.id not in [d.user_id for d in s.exec(select(PushSubscription)).all()]
