"""One contact budget for every automated text, and the reasons in plain words, told from
outside: customers, visits and texts through the API, replies and codes as signed Twilio
webhooks, the owner's conversation and settings pages, and a dispatcher on a held clock with
Twilio faked on the wire. Each story says which texts went, which waited and which were
skipped, and checks that the owner and the API are told why in the same words."""

from __future__ import annotations

import html
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from app.care import budget
from app.care.outbound import HOLD_WORDS
from app.models import Business
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import Story, ny
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in

CENTRAL = ZoneInfo("America/Chicago")
TEXAS_PHONE = "+12145550123"  # Dallas
FLORIDA_PHONE = "+13055550123"  # Miami
FRIENDS = [f"+1212555{n:04d}" for n in range(170, 180)]


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def tx(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment in Dallas in March 2026 (the 15th is a Sunday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=CENTRAL)


def customer_with_consent(story: Story, phone: str, name: str = "Sam Rivera", **extra) -> int:
    payload = {"phone": phone, "name": name, "consent": True, **extra}
    response = story.client.post("/api/v1/customers", json=payload, headers=story.auth)
    assert response.status_code in (200, 201), response.json
    return response.json["id"]


def send_template(story: Story, phone: str, template: str = "thank_you") -> dict:
    response = story.client.post("/api/v1/messages", json={"phone": phone, "template": template},
                                 headers=story.auth)  # fmt: skip
    assert response.status_code == 202, response.json
    return response.json


def thread(story: Story, customer_id: int) -> list[dict]:
    return story.api(f"/api/v1/customers/{customer_id}/messages")["items"]


def of_kind(story: Story, customer_id: int, kind: str) -> list[dict]:
    return [m for m in thread(story, customer_id) if m["kind"] == kind]


def conversation(client, customer_id: int) -> str:
    """The owner's conversation page (signed in the first time)."""
    response = client.get(f"/conversations/{customer_id}")
    if response.status_code == 302:
        sign_in(client)
        response = client.get(f"/conversations/{customer_id}")
    assert response.status_code == 200
    return html.unescape(response.get_data(as_text=True))


def at(value: str) -> datetime:
    return datetime.fromisoformat(value)


def friend_comes_in(story: Story, code: str, phone: str) -> None:
    """A friend texts the referrer's code, then their first visit is recorded."""
    story.reply(f"hi, Maria sent me: {code}", phone=phone)
    story.run()
    story.visit(phone=phone, name="Jo Friend")


# ---- the day's budget, and marketing consent checked again at send time ----------------------


def test_a_reward_waits_a_day_because_a_review_request_went_that_morning_then_is_skipped(
    story, client
):
    """The issue's "a birthday text skipped because a review request went out that morning",
    with a kind that exists: the referral reward draws on the same day's budget."""
    story.patch(referral_reward="$10 off your next visit", referral_asks=False,
                review_url="https://g.page/r/bloom/review")  # fmt: skip
    maria_id = story.visit(name="Maria Lopez", marketing_consent=True)["customer_id"]
    code = story.customer().referral_code
    story.run_until(ny(11, 14, 0))  # the thank-you, and the review request on Wednesday morning
    [review] = of_kind(story, maria_id, "review_request")
    assert review["status"] == "sent" and at(review["send_at"]) == ny(11, 11, 0)

    story.clock.set(ny(11, 15, 0))
    friend_comes_in(story, code, FRIENDS[0])
    [reward] = of_kind(story, maria_id, "referral_reward")
    assert reward["status"] == "scheduled" and at(reward["send_at"]) == ny(12, 9, 0)
    words = "texted 4 hours ago (review request): 1 automated text a day"
    assert reward["reason"] == words
    page = conversation(client, maria_id)
    assert f'Scheduled for Thu Mar 12, 9:00 AM</span><span class="reason">: {words}' in page

    # She withdraws her consent to offers before it goes: checked again, it is skipped.
    withdrawn = {"phone": CUSTOMER_PHONE, "marketing_consent": False}
    assert story.client.post("/api/v1/customers", json=withdrawn,
                             headers=story.auth).status_code == 200  # fmt: skip
    out = story.run_until(ny(13, 12, 0))
    assert [body for to, body in out if to == CUSTOMER_PHONE and "earned" in body] == []
    [reward] = of_kind(story, maria_id, "referral_reward")
    assert (reward["status"], reward["reason"]) == ("canceled", "no marketing consent")
    assert 'Canceled</span><span class="reason">: no marketing consent' in conversation(
        client, maria_id
    )


# ---- at most N offers per customer in 30 days --------------------------------------------------


def test_a_fifth_reward_in_30_days_is_skipped_and_says_so(story, client):
    story.patch(referral_reward="$10 off your next visit", referral_asks=False)
    assert story.api("/api/v1/business")["marketing_per_30_days"] == 4  # the default
    maria_id = story.visit(name="Maria Lopez", marketing_consent=True)["customer_id"]
    code = story.customer().referral_code
    for day, phone in zip(range(11, 16), FRIENDS, strict=False):  # a friend a day, five
        story.run_until(ny(day, 12, 0))
        friend_comes_in(story, code, phone)
    # The owner is told at once to thank her in person, and why.
    sign_in(client)
    inbox = html.unescape(client.get("/inbox").get_data(as_text=True))
    assert "thank Maria in person (4 offers in 30 days already)" in inbox
    out = story.run_until(ny(20, 12, 0))
    rewards = of_kind(story, maria_id, "referral_reward")
    assert [r["status"] for r in rewards] == ["sent"] * 4 + ["canceled"]
    assert rewards[-1]["reason"] == "4 offers in 30 days already"
    assert rewards[-1]["send_at"] is not None  # when it would have gone
    assert len([body for to, body in out if to == CUSTOMER_PHONE and "earned" in body]) >= 1
    page = conversation(client, maria_id)
    assert 'Canceled</span><span class="reason">: 4 offers in 30 days already' in page
    # Thirty days on, offers may go again.
    story.run_until(ny(14, 12, 0, month=4))
    friend_comes_in(story, code, FRIENDS[6])
    out = story.run_until(ny(16, 12, 0, month=4))
    assert [to for to, body in out if "earned" in body] == [CUSTOMER_PHONE]


def test_the_offer_limit_is_a_setting_and_texts_the_owner_types_are_never_limited(story):
    story.patch(referral_reward="$10 off your next visit", referral_asks=False,
                marketing_per_30_days=1)  # fmt: skip
    maria_id = story.visit(name="Maria Lopez", marketing_consent=True)["customer_id"]
    code = story.customer().referral_code
    story.run_until(ny(11, 12, 0))
    friend_comes_in(story, code, FRIENDS[0])
    story.run_until(ny(13, 12, 0))
    friend_comes_in(story, code, FRIENDS[1])
    rewards = of_kind(story, maria_id, "referral_reward")
    assert [(r["status"], r["reason"]) for r in rewards] == [
        ("sent", None), ("canceled", "1 offer in 30 days already")]  # fmt: skip
    typed = {"customer_id": maria_id, "body": "20% off colour this week, Maria!"}
    for _ in range(3):  # the owner's own texts: no budget, no window
        response = story.client.post("/api/v1/messages", json=typed, headers=story.auth)
        assert response.status_code == 202 and response.json["reason"] is None
    assert len([to for to, _ in story.run()]) == 3


# ---- the state rules ---------------------------------------------------------------------------


def test_three_texts_in_24_hours_is_the_limit_in_florida_and_it_says_so(story, client):
    story.patch(daily_automated_cap=3)
    floridian = customer_with_consent(story, FLORIDA_PHONE)
    new_yorker = customer_with_consent(story, CUSTOMER_PHONE, name="Maria Lopez")
    for when in (ny(10, 18, 0), ny(10, 19, 0), ny(11, 9, 0)):
        story.clock.set(when)
        for phone in (FLORIDA_PHONE, CUSTOMER_PHONE):
            assert at(send_template(story, phone)["send_at"]) == when
        assert len(story.run()) == 2
    story.clock.set(ny(11, 10, 0))
    fourth = send_template(story, FLORIDA_PHONE)
    assert at(fourth["send_at"]) == ny(12, 9, 0)  # 24 hours after the first, in her window
    assert fourth["reason"] == "3 texts in 24 hours is the limit in Florida"
    elsewhere = send_template(story, CUSTOMER_PHONE)  # the product's own rule, everywhere
    assert elsewhere["reason"] == "3 texts in 24 hours is the limit"
    page = conversation(client, floridian)
    assert "3 texts in 24 hours is the limit in Florida" in page
    assert story.run_until(ny(12, 8, 59)) == []
    assert [to for to, _ in story.run(ny(12, 9, 0))] == [FLORIDA_PHONE, CUSTOMER_PHONE]
    assert of_kind(story, new_yorker, "thank_you")[-1]["status"] == "sent"


def test_texas_sunday_quiet_hours_move_a_text_when_queued_and_when_sent(story, client):
    story.patch(review_url="https://g.page/r/bloom/review", referral_asks=False)
    # Queued on a Sunday morning in Dallas: it waits for noon, and says why.
    sam = customer_with_consent(story, TEXAS_PHONE)
    story.clock.set(tx(15, 10, 0))
    thanks = send_template(story, TEXAS_PHONE)
    assert at(thanks["send_at"]) == tx(15, 12, 0)
    assert thanks["reason"] == "quiet hours in Texas on Sunday"
    page = conversation(client, sam)
    assert "Scheduled for" in page and "quiet hours in Texas on Sunday" in page
    assert story.run(tx(15, 11, 59)) == []
    assert story.run(tx(15, 12, 0)) == [(TEXAS_PHONE, thanks["body"])]


def test_a_held_review_ask_released_on_a_texas_sunday_morning_waits_for_noon(story, client):
    """At send time: the review request waited for the owner's answer to a complaint
    ("unresolved complaint"); she answers on Sunday at 10, so it may go, but not before noon
    in Texas."""
    story.patch(review_url="https://g.page/r/bloom/review", referral_asks=False)
    story.clock.set(tx(13, 10, 0))  # Friday
    sam = story.visit(phone=TEXAS_PHONE, name="Sam Rivera")["customer_id"]
    story.run(tx(13, 10, 30))  # the thank-you
    story.clock.set(tx(13, 12, 0))
    story.reply("you charged me twice for the same service", phone=TEXAS_PHONE)
    assert story.run_until(tx(14, 18, 0)) == []  # Saturday: the ask was due, it is held
    [held] = of_kind(story, sam, "review_request")
    assert held["status"] == "scheduled" and held["reason"] == HOLD_WORDS
    assert HOLD_WORDS.startswith("unresolved complaint")
    story.clock.set(tx(15, 10, 0))  # Sunday 10:00: the owner answers
    answer = {"customer_id": sam, "body": "So sorry Sam, I've refunded the second charge."}
    assert story.client.post("/api/v1/messages", json=answer,
                             headers=story.auth).status_code == 202  # fmt: skip
    assert [body for _, body in story.run()] == [answer["body"]]  # the ask is not among them
    [moved] = of_kind(story, sam, "review_request")
    assert moved["status"] == "scheduled" and at(moved["send_at"]) == tx(15, 12, 0)
    assert moved["reason"] == "quiet hours in Texas on Sunday"
    assert "quiet hours in Texas on Sunday" in conversation(client, sam)
    [(to, _ask)] = story.run(tx(15, 12, 0))
    assert to == TEXAS_PHONE
    assert of_kind(story, sam, "review_request")[0]["reason"] is None  # it waits no longer


# ---- the setting -------------------------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, 31, "four", None, 2.5])
def test_the_api_refuses_a_bad_offer_limit_and_changes_nothing(story, value):
    response = story.client.patch("/api/v1/business", json={"marketing_per_30_days": value},
                                  headers=story.auth)  # fmt: skip
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] in ("invalid_field", "missing_field")
    assert story.api("/api/v1/business")["marketing_per_30_days"] == 4


def test_the_settings_page_sets_the_offer_limit_and_refuses_bad_values(owner, engine):
    page = owner.get("/settings/").get_data(as_text=True)
    assert 'name="marketing_per_30_days"' in page and 'value="4"' in page
    refused = post(owner, "/settings/care", {"marketing_per_30_days": "0"},
                   token_path="/settings/")  # fmt: skip
    assert refused.status_code == 422
    shown = refused.get_data(as_text=True)
    assert 'id="f-marketing_per_30_days-error">Enter a whole number from 1 to 30.' in shown
    with Session(engine) as s:
        assert s.exec(select(Business)).one().marketing_per_30_days == 4
    saved = post(owner, "/settings/care", {"marketing_per_30_days": "2"}, token_path="/settings/")
    assert saved.status_code == 302
    with Session(engine) as s:
        assert s.exec(select(Business)).one().marketing_per_30_days == 2


def test_the_api_documents_the_limit_and_the_reason(client):
    document = client.get("/api/v1/openapi.json").json
    schemas = document["components"]["schemas"]
    assert "marketing_per_30_days" in schemas["BusinessPublic"]["properties"]
    reason = schemas["MessagePublic"]["properties"]["reason"]
    assert "skipped" in reason["description"] and "moved" in reason["description"]


def test_a_thank_you_after_hours_waits_for_the_morning_and_says_why(story):
    story.clock.set(ny(10, 20, 30))  # after the business's sending hours
    planned = story.visit(name="Maria Lopez")["planned"]
    [thanks] = [m for m in planned if m["kind"] == "thank_you"]
    assert at(thanks["send_at"]) == ny(11, 9, 0)
    assert thanks["reason"] == "outside your sending hours (9 AM to 8 PM)"


def test_a_kind_that_only_makes_sense_on_its_day_is_skipped_not_moved(story, client, monkeypatch):
    """The one line a birthday text will add (`when_full=SKIP`), tried on the thank-you: with
    the day's budget used, it is canceled with its reason instead of going tomorrow."""
    monkeypatch.setitem(budget.DRAWS, "thank_you", budget.Draw(when_full=budget.SKIP))
    story.patch(referral_asks=False)
    story.visit(name="Maria Lopez")
    story.run(ny(10, 11, 30))  # the first visit's thank-you
    story.clock.set(ny(10, 16, 0))
    second = story.visit(name="Maria Lopez")
    assert second["planned"] == []  # (and the review request: the first visit's is to go)
    said = "texted 4 hours ago (thank you): 1 automated text a day"
    assert f"thank_you: {said}" in second["skipped"]
    thanks = of_kind(story, second["customer_id"], "thank_you")
    assert [(m["status"], m["reason"]) for m in thanks] == [("sent", None), ("canceled", said)]
    assert f'Canceled</span><span class="reason">: {said}' in conversation(
        client, second["customer_id"]
    )
    story.run_until(ny(12, 12, 0))  # it never goes later by surprise
    assert [m["status"] for m in of_kind(story, second["customer_id"], "thank_you")] == [
        "sent", "canceled"]  # fmt: skip
