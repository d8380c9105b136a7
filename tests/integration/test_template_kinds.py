"""Template kinds keep their rules on every door (issue 9, item 8): a review request or a rating
question sent by name through POST /api/v1/messages or the composer's picker needs consent,
waits for the recipient's window, counts in the caps, honours the review cooldown, and is
stored as that kind, so the next visit does not ask again."""

from __future__ import annotations

import html
import re
from datetime import UTC

import pytest
from sqlmodel import Session, select

from app.models import Customer, Message
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import LINK, Story, kinds, ny, send_at
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def customer(story: Story, phone=CUSTOMER_PHONE, consent=True) -> dict:
    payload = {"phone": phone, "name": "Maria Lopez"}
    if consent:
        payload["consent"] = True
    response = story.client.post("/api/v1/customers", json=payload, headers=story.auth)
    assert response.status_code in (200, 201), response.json
    return response.json


def send(story: Story, template: str, phone=CUSTOMER_PHONE):
    return story.client.post(
        "/api/v1/messages", json={"phone": phone, "template": template}, headers=story.auth
    )


def outbound(story: Story, phone=CUSTOMER_PHONE) -> list[Message]:
    with Session(story.engine) as s:
        who = s.exec(select(Customer).where(Customer.phone == phone)).one()
        query = select(Message).where(Message.customer_id == who.id, Message.kind != "alert")
        return list(s.exec(query.where(Message.direction == "outbound").order_by(Message.id)))


# ---- the API --------------------------------------------------------------------------------


def test_a_review_request_by_name_is_one_and_the_next_visit_does_not_ask_again(story, clock):
    customer(story)
    sent = send(story, "review_request")
    assert sent.status_code == 202, sent.json
    assert sent.json["kind"] == "review_request" and sent.json["status"] == "scheduled"
    assert LINK.search(sent.json["body"])  # a tracked link, made for this text
    [(to, body)] = story.run()
    assert to == CUSTOMER_PHONE and body == sent.json["body"]
    assert story.customer().last_review_request_at == clock.now()

    clock.advance(days=1)
    visit = story.visit()
    assert kinds(visit) == ["thank_you", "referral_ask"]  # a referral ask is no review ask
    assert any("already asked in the last 180 days" in why for why in visit["skipped"])


def test_a_customer_asked_ten_days_ago_is_refused_at_both_doors(story, clock, client):
    story.visit()
    asked = story.run_until(ny(11, 12))
    assert any(LINK.search(body) for _to, body in asked)  # the visit's review request went
    clock.set(ny(21, 11))
    before = outbound(story)

    refused = send(story, "review_request")
    assert refused.status_code == 409, refused.json
    assert refused.json["error"]["code"] == "recently_asked"
    assert refused.json["error"]["message"] == (
        "Maria was asked for a review 10 days ago: nobody is asked again within 180 days."
    )
    assert send(story, "feedback_question").status_code == 409  # a rating ask is an ask too

    sign_in(client)
    maria = story.customer()
    page = client.get(f"/conversations/{maria.id}?use=review_request").get_data(as_text=True)
    draft = html.unescape(re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', page)[1])
    picked = post(client, f"/conversations/{maria.id}/send",
                  {"body": draft, "kind": "review_request"})  # fmt: skip
    assert picked.status_code == 409
    assert "was asked for a review 10 days ago" in html.unescape(picked.get_data(as_text=True))
    assert [m.id for m in outbound(story)] == [m.id for m in before]  # nothing new


def test_without_consent_a_saved_ask_is_409_though_a_reply_may_go(story):
    customer(story, consent=False)
    story.reply("Do you have anything on Saturday?")  # they texted first: a reply is fine
    typed = story.client.post("/api/v1/messages", json={"phone": CUSTOMER_PHONE,
                              "body": "Yes, 10am!"}, headers=story.auth)  # fmt: skip
    assert typed.status_code == 202, typed.json
    for template in ("review_request", "feedback_question", "thank_you"):
        refused = send(story, template)
        assert refused.status_code == 409, (template, refused.json)
        assert refused.json["error"]["code"] == "no_consent"
    assert [m.kind for m in outbound(story)] == ["manual"]


def test_at_2300_their_time_a_review_request_waits_for_the_window(story, clock):
    customer(story)
    clock.set(ny(10, 23))
    sent = send(story, "review_request")
    assert sent.status_code == 202, sent.json
    assert send_at(sent.json) == ny(11, 9).astimezone(UTC)  # the window's next opening
    assert story.run() == []  # nothing goes at night
    [(_to, body)] = story.run(ny(11, 9))
    assert body == sent.json["body"]


def test_a_rating_question_by_name_opens_the_rating(story):
    customer(story)
    sent = send(story, "feedback_question")
    assert sent.status_code == 202 and sent.json["kind"] == "feedback_question"
    story.run()
    story.reply("5")
    [feedback] = story.feedback()
    assert feedback.score == 5 and not feedback.unhappy
    assert [m.kind for m in outbound(story)] == ["feedback_question", "feedback_thanks"]


def test_one_reminder_at_most_and_only_after_an_ask(story, clock):
    customer(story)
    refused = send(story, "review_reminder")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "reminded"
    assert send(story, "review_request").status_code == 202
    story.run()
    clock.advance(days=3)
    reminded = send(story, "review_reminder")
    assert reminded.status_code == 202 and reminded.json["kind"] == "review_reminder"
    again = send(story, "review_reminder")
    assert again.status_code == 409 and "one reminder at most" in again.json["error"]["message"]


def test_a_missed_call_text_by_name_needs_what_a_typed_text_needs(story):
    customer(story, consent=False)
    refused = send(story, "missed_call")
    assert refused.status_code == 409 and refused.json["error"]["code"] == "no_consent"
    customer(story)
    sent = send(story, "missed_call")
    assert sent.status_code == 202 and sent.json["kind"] == "missed_call"


# ---- the composer's picker ------------------------------------------------------------------


def test_the_picker_sends_its_kind_even_late_at_night(story, client, clock):
    customer(story)
    sign_in(client)
    maria = story.customer()
    clock.set(ny(10, 23))
    page = client.get(f"/conversations/{maria.id}?use=review_request").get_data(as_text=True)
    assert "Sends as <strong data-kind-label>Review request</strong>" in page
    draft = html.unescape(re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', page)[1])
    edited = draft.replace("it was a pleasure", "it was lovely")
    # No "send anyway" needed: a saved ask waits for their hours by itself.
    response = post(client, f"/conversations/{maria.id}/send",
                    {"body": edited, "kind": "review_request"})  # fmt: skip
    assert response.status_code == 302
    [message] = outbound(story)
    assert message.kind == "review_request" and message.status == "scheduled"
    assert message.send_at == ny(11, 9).astimezone(UTC)
    assert "it was lovely" in message.body and LINK.search(message.body)
    assert message.user_id is not None

    clock.set(ny(12, 11))
    again = post(client, f"/conversations/{maria.id}/send",
                 {"body": edited, "kind": "review_request"})  # fmt: skip
    assert again.status_code == 409
    assert "already has a review request planned" in html.unescape(again.get_data(as_text=True))
    visit = story.visit()
    assert kinds(visit) == ["thank_you", "referral_ask"]  # a referral ask is no review ask


def test_a_typed_text_is_manual_and_an_unknown_kind_is_refused(story, client):
    customer(story)
    sign_in(client)
    maria = story.customer()
    assert post(client, f"/conversations/{maria.id}/send", {"body": "See you!"}).status_code == 302
    bad = post(client, f"/conversations/{maria.id}/send", {"body": "Hi", "kind": "owner_alert"})
    assert bad.status_code == 422
    assert [m.kind for m in outbound(story)] == ["manual"]
