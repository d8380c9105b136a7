"""Hear every unhappy customer, without review gating: whole stories on the real path (the
API, signed webhooks, the owner's pages, a dispatcher on a held clock, Twilio faked on the
wire). A complaint reaches the owner at once, with the reason in words; the review request
waits for her answer (three days at most) and then goes as it would for anyone."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from app.care.outbound import HOLD_WORDS
from app.models import Feedback, Message
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import ALERT_PHONE, LINK, Story, ny
from tests.integration.test_owner_helpers import OVERRIDES, other_business, post, sign_in


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def story(client, auth, services, clock, twilio, business) -> Story:
    story = Story(client, auth, services, clock, twilio)
    story.patch(alert_phone=ALERT_PHONE)
    return story


def _complain(story: Story, text: str) -> tuple[str, dict]:
    """A visit on Tuesday, its thank-you, then a complaint at 15:00 nobody asked for."""
    visit = story.visit(staff="Ana")
    [(to, _thanks)] = story.run(ny(10, 11, 30))
    assert to == CUSTOMER_PHONE
    story.clock.set(ny(10, 15, 0))
    story.reply(text)
    [(to, alert)] = story.run()
    assert to == ALERT_PHONE
    return alert, visit


def _review_request(story: Story) -> Message:
    with Session(story.engine) as s:
        return s.exec(select(Message).where(Message.kind == "review_request")).one()


def test_a_complaint_nobody_asked_for_alerts_the_owner_with_the_reason(story):
    alert, visit = _complain(story, "honestly it was pretty bad, my color came out orange")
    assert "mentions the colour" in alert and "Maria Lopez" in alert
    assert "my color came out orange" in alert
    customer = story.api(f"/api/v1/customers/{visit['customer_id']}")
    assert customer["unhappy_at"] is not None
    assert "mentions the colour" in customer["unhappy_reasons"]
    assert customer["suggested_reply"].startswith("Hi Maria")
    [feedback] = story.feedback()
    assert feedback.unhappy and "result" in feedback.topics and feedback.language == "en"


def test_the_alert_carries_a_link_that_opens_the_conversation_after_sign_in(
    story, client, session, clock
):
    alert, visit = _complain(story, "muy mal servicio, nadie me atendió")
    token = LINK.search(alert).group(1)
    opened = client.get(f"/l/{token}")
    assert opened.status_code == 302
    conversation = f"/conversations/{visit['customer_id']}"
    assert opened.headers["Location"] == conversation
    to_sign_in = client.get(conversation)
    assert to_sign_in.status_code == 302 and "/sign-in" in to_sign_in.headers["Location"]
    signed = sign_in(client, query_string={"next": conversation})
    assert signed.headers["Location"].endswith(conversation)
    page = client.get(conversation).get_data(as_text=True)
    assert "Maria is unhappy" in page
    # Another business's owner following the same link sees nothing of it.
    other_business(session, clock)
    stranger = client.application.test_client()
    sign_in(stranger, "owner@garage.test", "garage owner password")
    assert stranger.get(f"/l/{token}").headers["Location"] == conversation
    assert stranger.get(conversation).status_code == 404


def test_the_review_request_waits_for_the_owner_to_answer_then_goes(story, auth):
    _complain(story, "you charged me twice for the same service")
    # Wednesday: the review request was due, but the owner has not answered yet.
    assert story.run_until(ny(11, 18, 0)) == []
    held = _review_request(story)
    assert held.status == "scheduled" and held.reason == HOLD_WORDS
    thread = story.api(f"/api/v1/customers/{held.customer_id}/messages")["items"]
    assert any(m["kind"] == "review_request" and m["reason"] == HOLD_WORDS for m in thread)
    # Thursday morning the owner answers; the ask then goes, as for anyone.
    story.clock.set(ny(12, 10, 0))
    answer = {"customer_id": held.customer_id,
              "body": "So sorry Maria, I've refunded the second charge."}  # fmt: skip
    assert story.client.post("/api/v1/messages", json=answer, headers=auth).status_code == 202
    out = story.run()
    assert [to for to, _ in out] == [CUSTOMER_PHONE, CUSTOMER_PHONE]
    bodies = [body for _, body in out]
    assert any("refunded the second charge" in body for body in bodies)
    assert any(LINK.search(body) for body in bodies)  # the review request, with its link
    assert _review_request(story).status == "sent"


def test_a_complaint_nobody_answers_delays_the_ask_three_days_never_more(story):
    _complain(story, "the filling fell out the same night")
    assert story.run_until(ny(13, 14, 59)) == []  # Friday 14:59: still held
    [(to, ask)] = story.run(ny(13, 15, 0))  # three days after the complaint, in the window
    assert to == CUSTOMER_PHONE and LINK.search(ask)
    assert _review_request(story).reason is None


def test_the_owner_marks_a_false_alarm_and_the_flag_clears(story, client, business, engine):
    _alert, visit = _complain(story, "lol took forever but ok")
    sign_in(client)
    page = client.get(f"/conversations/{visit['customer_id']}").get_data(as_text=True)
    assert "Maria is unhappy" in page and "says the wait was long" in page
    assert "Mark as wrong" in page
    assert "unhappy" in client.get("/inbox?filter=unhappy").get_data(as_text=True).lower()
    response = post(client, f"/conversations/{visit['customer_id']}/unhappy/dismiss")
    assert response.status_code == 302
    customer = story.api(f"/api/v1/customers/{visit['customer_id']}")
    assert customer["unhappy_at"] is None and customer["unhappy_reasons"] == []
    with Session(engine) as s:
        [feedback] = s.exec(select(Feedback)).all()
        assert feedback.dismissed_at is not None and feedback.dismissed_by is not None
    page = client.get(f"/conversations/{visit['customer_id']}").get_data(as_text=True)
    assert "is unhappy" not in page
    assert "Maria" not in client.get("/inbox?filter=unhappy").get_data(as_text=True)
    # The held ask is released at once: the next run sends it (Tuesday 15:00 is in the window,
    # but the day's one automated text, the thank-you, has gone: so Wednesday).
    [(to, ask)] = story.run_until(ny(11, 12, 0))
    assert to == CUSTOMER_PHONE and LINK.search(ask)


def test_a_happy_reply_changes_nothing(story):
    story.visit()
    story.run(ny(10, 11, 30))
    story.clock.set(ny(10, 15, 0))
    story.reply("never had a better cut, thank you!!")
    assert story.run() == []
    [feedback] = story.feedback()
    assert not feedback.unhappy and feedback.reasons == []
