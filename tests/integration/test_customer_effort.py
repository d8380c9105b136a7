"""Customer effort (CES), from outside: the owner turns it on, a customer writes in, the owner
marks the conversation handled, one question is planned for the next day inside the window,
it goes, the customer answers 6, and CES is on the dashboard and in the metrics API."""

from __future__ import annotations

import pytest
from sqlmodel import Session, select

from app.models import Message
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import ny
from tests.integration.test_dashboard import csv_figures, page_figures
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in

QUESTION = "How easy was it to get this sorted? 1 (very hard) to 7 (very easy)"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def _customer(story, phone=CUSTOMER_PHONE, consent=True) -> int:
    response = story.client.post("/api/v1/customers", json={"phone": phone, "name": "Maria Lopez",
                                                             "consent": consent},
                                 headers=story.auth)  # fmt: skip
    assert response.status_code == 201, response.json
    return response.json["id"]


def _handled(client, customer_id: int):
    response = post(client, f"/conversations/{customer_id}/handled")
    assert response.status_code == 302
    return response


def _planned(story, customer_id: int) -> list[dict]:
    items = story.api(f"/api/v1/customers/{customer_id}/messages")["items"]
    return [m for m in items if m["kind"] == "effort_question"]


def test_handled_then_asked_the_next_day_then_ces_on_the_dashboard(story, client, clock):
    assert story.api("/api/v1/business")["ces_enabled"] is False  # off by default
    assert story.patch(ces_enabled=True)["ces_enabled"] is True
    customer_id = _customer(story)
    story.clock.set(ny(10, 19, 0))  # Tuesday evening
    story.reply("Hi, can I move my appointment to Friday?")
    sign_in(client)
    _handled(client, customer_id)
    _handled(client, customer_id)  # twice: still one question
    [question] = _planned(story, customer_id)
    assert question["status"] == "scheduled" and QUESTION in question["body"]
    assert question["send_at"].startswith("2026-03-11T23:00:00")  # 19:00 NY the next day
    assert story.run() == []
    conversation = client.get(f"/conversations/{customer_id}").get_data(as_text=True)
    assert QUESTION in conversation  # visible (and cancellable) in the thread

    [(to, body)] = story.run(ny(11, 19, 0))
    assert to == CUSTOMER_PHONE and QUESTION in body
    story.clock.set(ny(11, 19, 30))
    story.reply("6")
    [effort] = [f for f in story.feedback() if f.scale == 7]
    assert (effort.score, effort.unhappy, effort.visit_id) == (6, False, None)
    assert story.customer().needs_reply is False  # a number answered the question
    assert story.run() == []  # no thanks text, nothing else goes

    metrics = story.api("/api/v1/metrics?from=2026-03-01&to=2026-03-31")
    assert (metrics["ces"], metrics["ces_answers"], metrics["ces_easy"]) == (6.0, 1, 100.0)
    assert metrics["csat_answers"] == 0 and metrics["nps_answers"] == 0  # effort is its own
    page = page_figures(client.get("/dashboard?from=2026-03-01&to=2026-03-31").get_data(
        as_text=True))  # fmt: skip
    assert page["ces"] == "6.0" and page["ces_answers"] == "1"
    assert page["trend.2026-03-11.ces"] == "6.0"
    assert csv_figures(client.get("/dashboard.csv?from=2026-03-01&to=2026-03-31").get_data(
        as_text=True))["ces"] == "6.0"  # fmt: skip

    # A later "6" is no answer to a question: the question is closed once answered.
    story.reply("6")
    assert len([f for f in story.feedback() if f.scale == 7]) == 1


def test_a_hard_time_reaches_the_owner(story, client):
    story.patch(ces_enabled=True, alert_phone="+12125550199")
    customer_id = _customer(story)
    story.reply("Where is my order?")
    sign_in(client)
    _handled(client, customer_id)
    [(_to, body)] = story.run(ny(11, 11, 0))
    assert QUESTION in body
    story.reply("2")
    [effort] = [f for f in story.feedback() if f.scale == 7]
    assert effort.unhappy and effort.reasons == ["rated 2 of 7"]
    [(to, alert)] = story.run()
    assert to == "+12125550199" and "2" in alert


def test_off_no_consent_or_canceled_means_no_question(story, client):
    customer_id = _customer(story)
    story.reply("Thanks for fixing it")
    sign_in(client)
    _handled(client, customer_id)  # customer effort is off
    assert _planned(story, customer_id) == []

    story.patch(ces_enabled=True)
    unknown = _customer(story, phone="+12125550124", consent=False)
    story.reply("Hello?", phone="+12125550124")
    _handled(client, unknown)
    assert _planned(story, unknown) == []  # no consent to automated texts

    story.reply("One more thing")
    _handled(client, customer_id)
    [question] = _planned(story, customer_id)
    response = post(client, f"/conversations/{customer_id}/messages/{question['id']}/cancel")
    assert response.status_code == 302
    assert _planned(story, customer_id)[0]["status"] == "canceled"
    assert story.run(ny(11, 19, 0)) == []
    _handled(client, customer_id)  # handled again without a new text: not asked again
    with Session(story.engine) as session:
        asked = session.exec(select(Message).where(Message.kind == "effort_question")).all()
    assert len(asked) == 1


def test_a_customer_who_writes_again_first_is_not_asked(story, client):
    story.patch(ces_enabled=True)
    customer_id = _customer(story)
    story.reply("Can I move my appointment?")
    sign_in(client)
    _handled(client, customer_id)
    [question] = _planned(story, customer_id)
    assert question["status"] == "scheduled"
    story.clock.advance(minutes=5)
    story.reply("Oh and can you do Friday instead?")  # not sorted after all
    [question] = _planned(story, customer_id)
    assert question["status"] == "canceled"
    assert story.run(ny(11, 19, 0)) == []
    _handled(client, customer_id)  # handled again: asked again, about this time
    assert [q["status"] for q in _planned(story, customer_id)] == ["canceled", "scheduled"]


def test_the_setting_on_the_settings_page(story, client):
    sign_in(client)
    page = client.get("/settings/").get_data(as_text=True)
    switch = page.split('name="ces_enabled"')[1][:40]
    assert "checked" not in switch  # off by default
    care = {"review_mode": "direct", "rating_scale": "5", "thank_you_delay_minutes": "30",
            "review_reminder_days": "3", "review_cooldown_days": "180", "review_hold_days": "3",
            "unanswered_alert_minutes": "30", "missed_call_hourly_limit": "20",
            "after_hours_reply": "on", "ces_enabled": "on"}  # fmt: skip
    assert post(client, "/settings/care", care, token_path="/settings/").status_code == 302
    assert story.api("/api/v1/business")["ces_enabled"] is True
    del care["ces_enabled"]  # unticked
    assert post(client, "/settings/care", care, token_path="/settings/").status_code == 302
    assert story.api("/api/v1/business")["ces_enabled"] is False
    bad = story.client.patch("/api/v1/business", json={"ces_enabled": "yes"}, headers=story.auth)
    assert bad.status_code == 422
