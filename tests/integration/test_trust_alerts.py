"""An owner alert's fate stays with the alert: an alert phone that cannot be reached (a
landline, an unknown or invalid number, one that texted STOP) never changes the customer the
alert is about, by status callback or at send time. The owner is told instead, on the inbox
and on settings, until the alert phone changes or an alert gets through again. The attack
first, then what must hold."""

from __future__ import annotations

import itertools
import json
from urllib.parse import parse_qsl

import pytest
from sqlmodel import Session, select

from app.models import ConsentEvent, Customer, Message
from tests.conftest import CUSTOMER_PHONE, MESSAGES_URL, post_signed, twilio_message
from tests.integration.test_care_stories import ALERT_PHONE, Story
from tests.integration.test_dispatcher import twilio_error
from tests.integration.test_owner_helpers import OVERRIDES, sign_in
from tests.integration.test_status_webhook import status_form

BANNER = "Your alert phone could not be reached"
NEW_ALERT_PHONE = "+12125550198"
CODES = [30005, 30006, 21211, 21610]


@pytest.fixture
def settings_overrides():
    return OVERRIDES


class AlertStory(Story):
    """A Story whose Twilio refuses texts to the numbers in `refuse` with their code."""

    def __init__(self, client, auth, services, clock, twilio):
        super().__init__(client, auth, services, clock, twilio)
        twilio.reset()
        self.refuse: dict[str, int] = {}
        self.sids: dict[str, list[str]] = {}  # To -> SIDs Twilio gave
        numbers = itertools.count(1)

        def answer(request):
            form = dict(parse_qsl(request.body if isinstance(request.body, str) else
                                  request.body.decode()))  # fmt: skip
            code = self.refuse.get(form["To"])
            if code is not None:
                return 400, {}, json.dumps(twilio_error(code, 400, "refused"))
            sid = f"SMa{next(numbers):031x}"
            self.sids.setdefault(form["To"], []).append(sid)
            return 201, {}, json.dumps(twilio_message(sid, to=form["To"], body=form["Body"]))

        twilio.add_callback("POST", MESSAGES_URL, callback=answer, content_type="application/json")

    def callback(self, to: str, status: str, code: int | None = None) -> None:
        """Twilio's status callback for the latest text to `to`."""
        sid = self.sids[to][-1]
        with Session(self.engine) as s:
            message = s.exec(select(Message).where(Message.provider_sid == sid)).one()
        form = {**status_form(status, sid=sid, error_code=code), "To": to}
        response = post_signed(self.client, f"/webhooks/twilio/status?mid={message.id}", form)
        assert response.status_code == 204

    def complain(self, body: str = "Worst haircut ever, I am so upset") -> None:
        self.reply(body)
        self.run()

    def maria(self) -> Customer:
        return self.customer(CUSTOMER_PHONE)

    def page(self, path: str) -> str:
        response = self.client.get(path)
        assert response.status_code == 200, path
        return response.get_data(as_text=True)


@pytest.fixture
def story(client, auth, services, clock, twilio, business) -> AlertStory:
    story = AlertStory(client, auth, services, clock, twilio)
    story.patch(alert_phone=ALERT_PHONE)
    story.visit()  # Maria, with consent and a plan
    sign_in(client)
    return story


def assert_maria_untouched(story: AlertStory) -> None:
    maria = story.maria()
    assert (maria.consent, maria.number_status) == ("granted", "ok")
    with Session(story.engine) as s:
        events = s.exec(select(ConsentEvent.consent).where(ConsentEvent.customer_id == maria.id))
        assert list(events) == ["granted"]
    # Her plan is hers: nothing canceled because the owner's phone failed.
    # (her referral ask is canceled because she sounded unhappy, not because of the alert)
    assert "canceled" not in {status for kind, status in story.statuses()
                              if kind not in {"alert", "referral_ask"}}  # fmt: skip


@pytest.mark.parametrize("code", CODES)
def test_an_alert_undelivered_by_callback_leaves_the_customer_alone(story, code):
    story.complain()
    story.callback(ALERT_PHONE, "undelivered", code)
    assert_maria_untouched(story)
    # She can still be texted, by the owner and by her plan.
    answer = {"phone": CUSTOMER_PHONE, "body": "So sorry, can we fix it?"}
    response = story.client.post("/api/v1/messages", json=answer, headers=story.auth)
    assert response.status_code == 202, response.json
    assert CUSTOMER_PHONE in [to for to, _ in story.run()]
    assert BANNER in story.page("/inbox")
    assert BANNER in story.page("/settings/")


@pytest.mark.parametrize("code", CODES)
def test_an_alert_refused_at_send_time_leaves_the_customer_alone(story, code):
    story.refuse[ALERT_PHONE] = code
    story.complain()
    with Session(story.engine) as s:
        [alert] = s.exec(select(Message).where(Message.to_number == ALERT_PHONE)).all()
        assert (alert.status, alert.error_code) == ("failed", code)
    assert_maria_untouched(story)
    assert BANNER in story.page("/inbox")


def test_the_banner_says_why_and_goes_when_the_alert_phone_changes(story):
    story.complain()
    story.callback(ALERT_PHONE, "undelivered", 30006)
    inbox = story.page("/inbox")
    assert "it is a landline" in inbox and "(212) 555-0199" in inbox  # as the owner writes it
    story.patch(alert_phone=NEW_ALERT_PHONE)
    assert BANNER not in story.page("/inbox")
    assert BANNER not in story.page("/settings/")


def test_the_banner_goes_when_an_alert_is_delivered_again(story, clock):
    story.complain()
    story.callback(ALERT_PHONE, "undelivered", 30005)
    assert BANNER in story.page("/inbox")
    clock.advance(seconds=2 * 3600)  # alerts about one customer are an hour apart at least
    story.complain("Still waiting for a call back, this is terrible")
    assert BANNER in story.page("/inbox")  # sent, not yet delivered
    story.callback(ALERT_PHONE, "delivered")
    assert BANNER not in story.page("/inbox")
    assert_maria_untouched(story)


def test_a_healthy_alert_phone_shows_no_banner(story):
    story.complain()
    story.callback(ALERT_PHONE, "delivered")
    assert BANNER not in story.page("/inbox")
    assert BANNER not in story.page("/settings/")


def test_an_alert_phone_that_texted_stop_is_named_as_such(story):
    """The owner's own phone opted out of the business number: alerts to it are not even
    tried (they would fail with 21610), and the owner is told how to undo it."""
    story.reply("STOP", phone=ALERT_PHONE)
    story.complain()
    inbox = story.page("/inbox")
    assert BANNER in inbox and "text START" in inbox
    assert_maria_untouched(story)


def test_a_customer_who_complains_then_texts_stop_still_reaches_the_owner(story):
    """Her STOP ends texts to her, not the owner's alert about her complaint."""
    story.reply("Worst haircut ever, I am so upset")
    story.reply("STOP")
    assert [to for to, _ in story.run()] == [ALERT_PHONE]
    assert story.maria().consent == "opted_out"
