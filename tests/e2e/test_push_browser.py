"""Notifications on the owner's phone, in Chromium at 390x844: the settings card with its
toggle, the service worker that shows pushes, and a push carried all the way from a
customer's text through the worker and the stand-in push service to a notification.

Headless Chromium runs in a private profile, where the browser gives no push subscription
(it has no push service to register with): the page must say so in words and store
nothing. If a browser ever gives one, it must be stored as it came. Delivery is proven with
the stand-in push service of the integration tests: a device registered from this very
page (its own session and CSRF token) gets the encrypted push; the payload it decrypts is
handed to this browser's service worker, which shows it."""

from __future__ import annotations

import json
import time

import pytest
from playwright.sync_api import expect
from sqlmodel import select
from werkzeug.security import generate_password_hash

from app.care import push
from app.care.inbound import receive_text
from app.db import session_scope
from app.models import Customer, PushSubscription, User, WebPushKey
from app.sms.webhooks import inbound_text
from tests.conftest import FAST_PASSWORD_METHOD
from tests.e2e.conftest import BUSINESS_NUMBER, OWNER_EMAIL, SCREENSHOTS, WAIT_MS, phone_context
from tests.e2e.test_owner_browser import shoot, sign_in
from tests.push_standin import PushStandIn

CAROL = "+12125550164"
STAFF_EMAIL = "push-staff@bloom.example"
STAFF_PASSWORD = "ana-e2e-password"


def stored_devices(services) -> list[PushSubscription]:
    with session_scope(services.engine) as session:
        return list(session.exec(select(PushSubscription)).all())


def app_key(services) -> str | None:
    with session_scope(services.engine) as session:
        row = session.get(WebPushKey, push.KEY_NAME)
        return row.public_key if row else None


def wait_for(page, condition, what: str) -> None:
    """Wait (at most WAIT_MS) for the live worker or the browser to do something; never a
    timed assertion. The page's own wait lets Playwright deliver the browser's events."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while not condition():
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        page.wait_for_timeout(100)


@pytest.fixture
def phone(chromium, live_server):
    context = phone_context(chromium)
    context.grant_permissions(["notifications"], origin=live_server["url"])
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.base = live_server["url"]
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


def test_turn_on_notifications_and_a_customers_text_arrives_as_one(phone, live_server):
    services = live_server["services"]
    sign_in(phone)
    phone.wait_for_url("**/inbox")
    worker = phone.evaluate("navigator.serviceWorker.ready.then((r) => r.active.scriptURL)")
    assert worker.endswith("/sw.js")  # registered by every page, for the whole site
    phone.goto(phone.base + "/settings/#notifications")
    phone.wait_for_function("navigator.serviceWorker.controller !== null")
    card = phone.locator("#notifications")
    state = card.locator("[data-push-state]")
    expect(state).to_have_text("Notifications are off on this device.")
    expect(card.get_by_label("Texts to the alert phone")).to_be_checked()  # the default
    card.scroll_into_view_if_needed()
    shoot(phone, "40-settings-notifications")
    card.screenshot(path=str(SCREENSHOTS / "41-notifications-card-off.png"))

    # The toggle asks the browser, with the app's key, through the service worker.
    card.get_by_role("button", name="Turn on notifications here").click()
    expect(state).not_to_have_text("Asking this browser…")
    if "would not turn notifications on" in state.inner_text():
        assert stored_devices(services) == []  # nothing stored for a refusal
        card.screenshot(path=str(SCREENSHOTS / "42-notifications-browser-refused.png"))
    else:  # a browser that gave a subscription: stored as it came
        [device] = stored_devices(services)
        assert device.endpoint.startswith("https://")

    with PushStandIn(lambda: app_key(services)) as standin:
        # A device registered from this page (its session, its CSRF token): the stand-in's.
        device = standin.device()
        answer = phone.evaluate(
            """async (subscription) => {
                const token = document.querySelector('#notifications input[name=csrf_token]').value;
                const r = await fetch('/account/push', {method: 'POST',
                  body: JSON.stringify(subscription),
                  headers: {'Content-Type': 'application/json', 'X-CSRFToken': token}});
                return [r.status, await r.json()];
            }""",
            device.subscription(),
        )
        assert answer[0] == 201, answer
        phone.reload()
        card.get_by_label("Notifications on my devices").check()
        card.get_by_role("button", name="Save how I hear").click()
        expect(phone.locator(".flash-info")).to_contain_text("alerts come as notifications")
        expect(card.locator(".devices li")).to_have_count(len(stored_devices(services)))
        card.scroll_into_view_if_needed()
        shoot(phone, "43-settings-notifications-on")
        card.screenshot(path=str(SCREENSHOTS / "44-notifications-card-device.png"))

        # A customer texts; the running worker sends the push to the stand-in.
        with session_scope(services.engine) as session:
            form = {"MessageSid": "SMpush" + "0" * 28, "From": CAROL, "To": BUSINESS_NUMBER,
                    "Body": "Hi! Could I come in at 4 today instead of 5?"}  # fmt: skip
            receive_text(session, inbound_text(form), now=services.clock.now())
            session.commit()
            carol = session.exec(select(Customer.id).where(Customer.phone == CAROL)).one()
        wait_for(phone, lambda: device.received, "the push at the stand-in push service")
        [payload] = device.received
        assert payload["url"] == f"/conversations/{carol}"
        assert payload["title"] == "(212) 555-0164"
        assert payload["body"] == "“Hi! Could I come in at 4 today instead of 5?”"
        assert standin.problems == []

    # What the stand-in decrypted, handed to this browser's service worker as a push.
    cdp = phone.context.new_cdp_session(phone)
    registrations: list[dict] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated",
           lambda event: registrations.extend(event["registrations"]))  # fmt: skip
    cdp.send("ServiceWorker.enable")
    wait_for(phone, lambda: registrations, "the service worker's registration")
    cdp.send("ServiceWorker.deliverPushMessage", {
        "origin": phone.base, "registrationId": registrations[0]["registrationId"],
        "data": json.dumps(payload),
    })  # fmt: skip
    shown: list = []

    def notifications() -> list:
        shown[:] = phone.evaluate(
            """() => navigator.serviceWorker.ready.then((r) => r.getNotifications())
                 .then((list) => list.map((n) => [n.title, n.body, n.tag, n.data.url]))"""
        )
        return shown

    wait_for(phone, notifications, "the notification the service worker shows")
    assert shown == [["(212) 555-0164", payload["body"], f"conversation-{carol}",
                      f"/conversations/{carol}"]]  # fmt: skip

    # A tap opens that conversation, and only ever a page of this app.
    [sw] = phone.context.service_workers
    opens = sw.evaluate(
        """(urls) => urls.map(conversationUrl)""",
        [payload["url"], "https://elsewhere.example/phish", "", "/inbox?f=unhappy"],
    )
    assert opens == [f"/conversations/{carol}", "/inbox", "/inbox", "/inbox?f=unhappy"]

    # Leave the shared shop as it was: the device removed, texts again.
    for _ in range(len(stored_devices(services))):
        card.get_by_role("button", name="Remove").first.click()
        expect(phone.locator(".flash-info")).to_contain_text("no longer gets notifications")
    card.get_by_label("Texts to the alert phone").check()
    card.get_by_role("button", name="Save how I hear").click()
    expect(phone.locator(".flash-info")).to_contain_text("alerts come as texts to the alert phone")
    assert stored_devices(services) == []
    with session_scope(services.engine) as session:
        owner = session.exec(select(User).where(User.email == OWNER_EMAIL)).one()
        assert owner.alert_by == "text"


def test_staff_choose_how_they_hear_on_their_account_page(phone, live_server):
    services = live_server["services"]
    with session_scope(services.engine) as session:
        business_id = session.exec(select(User.business_id).where(User.email == OWNER_EMAIL)).one()
        password = generate_password_hash(STAFF_PASSWORD, method=FAST_PASSWORD_METHOD)
        session.add(User(business_id=business_id, email=STAFF_EMAIL, role="staff", name="Lee",
                         password_hash=password))  # fmt: skip
        session.commit()
    sign_in(phone, STAFF_EMAIL, STAFF_PASSWORD)
    phone.wait_for_url("**/inbox")
    phone.get_by_role("link", name="Account").click()
    card = phone.locator("#notifications")
    expect(card.locator("[data-push-state]")).to_have_text("Notifications are off on this device.")
    expect(card).not_to_contain_text("add an alert phone above")  # staff cannot change it
    card.get_by_label("Both").check()
    card.get_by_role("button", name="Save how I hear").click()
    saved = phone.locator(".flash-info")
    expect(saved).to_contain_text("alerts come as texts and as notifications")
    expect(phone.get_by_label("Both")).to_be_checked()
    shoot(phone, "45-staff-account-notifications")
    with session_scope(services.engine) as session:
        staff = session.exec(select(User).where(User.email == STAFF_EMAIL)).one()
        assert staff.alert_by == "both"
        staff.active = False  # leave the shared shop's team as it was
        session.add(staff)
        session.commit()
