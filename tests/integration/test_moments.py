"""Moments, told as stories on a held clock: the milestone thank-you and the owner's heads-up
before a milestone visit, the anniversary of a first visit and the birthday text (each off by
default), planned by the worker's hourly run, never twice a year."""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, col, select

from app.care.dispatcher import Dispatcher
from app.models import Message
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import ALERT_PHONE, kinds, ny
from tests.integration.test_owner_helpers import OVERRIDES, post
from tests.integration.test_regulars import page

TEXAS_PHONE = "+15125550123"  # Austin: Central time, Texas's Sunday hours
CENTRAL = ZoneInfo("America/Chicago")
NY = ZoneInfo("America/New_York")


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def weekly_visits(story, clock, count: int, **extra) -> dict:
    """`count` visits a week apart, all recorded now (the last one now); the last's answer."""
    now = clock.now()
    visit = {}
    for index in range(count):
        when = now - timedelta(weeks=count - 1 - index)
        visit = story.visit(occurred_at=when.isoformat(), **extra)
    return visit


def texts_of(story, kind: str) -> list[Message]:
    with Session(story.engine) as session:
        return list(session.exec(select(Message).where(col(Message.kind) == kind)))


def alerts(out: list[tuple[str, str]]) -> list[str]:
    """The texts to the owner's alert phone among those that went."""
    return [body for to, body in out if to == ALERT_PHONE]


def plan_again(story, clock) -> None:
    """The planning run once more on this worker and once on another (as after a restart)."""
    story.dispatcher.plan_moments(clock.now(), force=True)
    other = Dispatcher(story.engine, story.dispatcher.gateway, story.dispatcher.settings,
                       clock=clock, rng=random.Random(1))  # fmt: skip
    other.plan_moments(clock.now(), force=True)


# ---- milestones -------------------------------------------------------------------------------


def test_the_fifth_visit_gets_the_milestone_thank_you_the_fourth_the_plain_one(story, clock):
    clock.set(ny(30, 11))
    fourth = weekly_visits(story, clock, 4)
    assert kinds(fourth)[0] == "thank_you"
    [(_, body)] = [sent for sent in story.run_until(ny(30, 18)) if "thank you" in sent[1]]
    assert "thank you for visiting Bloom Hair Studio" in body
    story.run_until(ny(6, 11, month=4))  # the week's asks go meanwhile
    fifth = story.visit(staff="Ana")
    assert kinds(fifth)[0] == "milestone_thank_you"
    out = story.run_until(ny(7, 18, month=4))
    [(to, body)] = [sent for sent in out if "visit to" in sent[1]]
    assert to == CUSTOMER_PHONE
    assert body == ("Hi Maria, that was your 5th visit to Bloom Hair Studio: thank you for "
                    "coming back!")  # fmt: skip
    [milestone] = texts_of(story, "milestone_thank_you")
    assert milestone.promotional is False  # no reward: informational


def test_a_milestone_reward_goes_only_with_consent_to_offers(story, clock):
    story.patch(milestone_reward="Your next blow-dry is on us.", milestone_visits=[2])
    clock.set(ny(30, 11))
    second = weekly_visits(story, clock, 2)
    assert kinds(second)[0] == "thank_you"  # no consent to offers: the plain thank-you
    clock.set(ny(6, 11, month=4))
    third = story.visit(phone="+12125550140", name="Sam Lee", marketing_consent=True,
                        occurred_at=ny(5, 11, month=4).isoformat())  # fmt: skip
    assert kinds(third)[0] == "thank_you"  # their 1st visit
    sams_second = story.visit(phone="+12125550140", name="Sam Lee")
    assert kinds(sams_second)[0] == "milestone_thank_you"
    story.run_until(ny(6, 18, month=4))
    [milestone] = texts_of(story, "milestone_thank_you")
    assert milestone.promotional is True
    assert (
        "that was your 2nd visit to Bloom Hair Studio: thank you for coming back! Your next "
        "blow-dry is on us." in milestone.body
    )


def test_the_owner_hears_before_the_10th_visit_once(story, clock):
    story.patch(alert_phone=ALERT_PHONE)
    clock.set(ny(30, 11))
    weekly_visits(story, clock, 9)
    story.run_until(ny(30, 20))
    # every week: the 10th is likely on 6 April, so the owner hears on the 5th
    assert alerts(story.run_until(ny(5, 10, month=4))) == []
    # the sweep plans the alert after the run's sends: it goes on the next run
    [body] = alerts(story.run_until(ny(5, 13, month=4)) + story.run())
    assert "Maria's 10th visit is coming: anything special?" in body
    assert alerts(story.run_until(ny(9, 13, month=4))) == []  # once per milestone
    plan_again(story, clock)
    assert alerts(story.run()) == []


def test_a_heads_up_within_the_hour_of_another_alert_comes_after_it(story, clock):
    story.patch(alert_phone=ALERT_PHONE)
    clock.set(ny(30, 11))
    weekly_visits(story, clock, 4)
    story.run_until(ny(5, 10, month=4))
    clock.set(ny(5, 10, 50, month=4))
    story.reply("The color came out awful and nobody called me back")
    [unhappy] = alerts(story.run())
    assert "unhappy" in unhappy
    assert alerts(story.run(ny(5, 11, 5, month=4)) + story.run()) == []  # an hour apart at least
    [body] = alerts(story.run(ny(5, 12, 10, month=4)) + story.run())
    assert "Maria's 5th visit is coming: anything special?" in body
    assert alerts(story.run_until(ny(8, 12, month=4))) == []


def test_no_heads_up_once_the_owner_takes_the_milestone_away(story, clock):
    story.patch(alert_phone=ALERT_PHONE)
    clock.set(ny(30, 11))
    weekly_visits(story, clock, 4)
    story.patch(milestone_visits=[10], milestone_every=0)  # the 5th is no milestone now
    assert alerts(story.run_until(ny(8, 12, month=4))) == []


def test_a_booked_milestone_visit_is_announced_the_day_before(story, clock):
    story.patch(alert_phone=ALERT_PHONE)
    clock.set(ny(30, 11))
    weekly_visits(story, clock, 4)
    story.run_until(ny(30, 20))
    story.visit(booked=True, occurred_at=ny(20, 15, month=4).isoformat())
    assert alerts(story.run_until(ny(19, 14, month=4))) == []  # not at the usual gap: booked
    [body] = alerts(story.run_until(ny(19, 16, month=4)) + story.run())
    assert "Maria's 5th visit is coming: anything special?" in body


# ---- anniversaries and birthdays -----------------------------------------------------------


def test_a_first_visit_anniversary_on_a_sunday_in_texas_waits_for_texas_sunday_hours(story, clock):
    story.patch(anniversary_texts=True)
    clock.set(datetime(2026, 3, 14, 11, tzinfo=NY))  # a Saturday
    story.visit(phone=TEXAS_PHONE, name="Sam Rivera")
    story.run_until(datetime(2026, 3, 28, 12, tzinfo=NY))  # the visit's own texts go
    sunday = datetime(2027, 3, 14, 0, 30, tzinfo=NY)
    assert sunday.weekday() == 6
    assert story.run(datetime(2027, 3, 13, 23, 0, tzinfo=NY)) == []  # the day before
    assert story.run(sunday) == []
    [anniversary] = texts_of(story, "anniversary")
    planned_for = anniversary.send_at.astimezone(CENTRAL)
    assert (planned_for.date().isoformat(), planned_for.hour) == ("2027-03-14", 12)
    # 9:00 in Texas is open on a weekday, not on a Sunday: noon is
    assert story.run(datetime(2027, 3, 14, 10, 0, tzinfo=CENTRAL)) == []
    assert story.run(datetime(2027, 3, 14, 11, 59, tzinfo=CENTRAL)) == []
    [(to, body)] = story.run(datetime(2027, 3, 14, 12, 0, tzinfo=CENTRAL))
    assert to == TEXAS_PHONE
    assert body == ("Hi Sam, it is a year since your first visit to Bloom Hair Studio: thank "
                    "you for being with us!")  # fmt: skip
    plan_again(story, clock)
    assert len(texts_of(story, "anniversary")) == 1


def test_a_birthday_given_as_its_march_3rd_is_texted_on_march_3rd_once(story, clock):
    story.patch(birthday_texts=True)
    response = story.client.post("/api/v1/customers", json={
        "phone": CUSTOMER_PHONE, "name": "Maria Lopez", "consent": True,
        "birthday": "it's march 3rd"}, headers=story.auth)  # fmt: skip
    assert response.status_code in (200, 201), response.json
    assert response.json["birthday"] == "03-03"
    assert story.run(datetime(2027, 3, 2, 23, 30, tzinfo=NY)) == []
    assert story.run(datetime(2027, 3, 3, 0, 30, tzinfo=NY)) == []  # planned for 9:00
    [(to, body)] = story.run(datetime(2027, 3, 3, 9, 0, tzinfo=NY))
    assert to == CUSTOMER_PHONE
    assert body == (
        "Happy birthday, Maria! Everyone at Bloom Hair Studio wishes you a wonderful "
        "day. Reply STOP to opt out."
    )  # the first text: with the opt-out line
    plan_again(story, clock)  # the planner twice more, on two workers
    assert story.run(datetime(2027, 3, 3, 15, 0, tzinfo=NY)) == []
    assert len(texts_of(story, "birthday")) == 1
    assert story.run(datetime(2027, 3, 4, 9, 0, tzinfo=NY)) == []


def test_a_leap_day_birthday_days_before_and_an_offer_only_with_consent(story, clock):
    story.patch(birthday_texts=True, birthday_days_before=2, moment_offer="20% off this week.")
    for phone, name, offers in (("+12125550141", "Lee Park", True),
                                ("+12125550142", "Ana Ruiz", False)):  # fmt: skip
        story.client.post("/api/v1/customers", json={
            "phone": phone, "name": name, "consent": True, "marketing_consent": offers,
            "birthday": "02-29"}, headers=story.auth)  # fmt: skip
    # 2027 has no 29 February: the 28th is their day, and the text goes two days before it
    assert story.run(datetime(2027, 2, 25, 9, 0, tzinfo=NY)) == []
    assert story.run(datetime(2027, 2, 26, 0, 30, tzinfo=NY)) == []
    out = dict(story.run(datetime(2027, 2, 26, 9, 0, tzinfo=NY)))
    assert "20% off this week." in out["+12125550141"]
    assert "Happy birthday, Ana!" in out["+12125550142"]
    assert "20% off" not in out["+12125550142"]
    promotional = {m.to_number: m.promotional for m in texts_of(story, "birthday")}
    assert promotional == {"+12125550141": True, "+12125550142": False}


def test_off_by_default_nothing_goes(story, clock):
    clock.set(datetime(2026, 3, 14, 11, tzinfo=NY))
    story.visit()
    story.client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE, "birthday": "03-14"},
                      headers=story.auth)  # fmt: skip
    story.run_until(datetime(2026, 3, 28, 12, tzinfo=NY))  # the visit's own texts go
    story.run(datetime(2027, 3, 14, 0, 30, tzinfo=NY))
    plan_again(story, clock)
    assert story.run(datetime(2027, 3, 14, 15, 0, tzinfo=NY)) == []
    assert texts_of(story, "anniversary") == [] and texts_of(story, "birthday") == []


# ---- settings and the Texts page ------------------------------------------------------------


def test_the_settings_page_and_the_api_carry_the_moments(story, owner):
    before = story.api("/api/v1/business")
    assert before["milestone_visits"] == [5, 10, 25] and before["milestone_every"] == 25
    assert before["anniversary_texts"] is False and before["birthday_texts"] is False
    refused = post(owner, "/settings/moments", {"milestone_visits": "5, ten", "milestone_every":
                   "25", "birthday_days_before": "0", "birthday_texts": "on"},
                   token_path="/settings/")  # fmt: skip
    assert refused.status_code == 422
    assert "List the visits by number, e.g. 5, 10, 25." in refused.get_data(as_text=True)
    assert story.api("/api/v1/business")["birthday_texts"] is False  # nothing changed
    saved = post(owner, "/settings/moments", {"milestone_visits": "3, 10th", "milestone_every":
                 "0", "birthday_days_before": "1", "birthday_texts": "on",
                 "moment_offer": ""}, token_path="/settings/")  # fmt: skip
    assert saved.status_code == 302
    after = story.api("/api/v1/business")
    assert after["milestone_visits"] == [3, 10] and after["milestone_every"] == 0
    assert after["birthday_texts"] is True and after["birthday_days_before"] == 1
    assert after["anniversary_texts"] is False and after["moment_offer"] is None
    settings = page(owner, "/settings/")
    assert 'value="3, 10"' in settings
    listed = page(owner, "/templates/")
    assert "Thank-you for a milestone visit" in listed
    assert "Instead of the thank-you, after a milestone visit (3rd, 10th)." in listed
    assert "On their birthday (1 day before), when you know it." in listed
    assert "Off: turn anniversary texts on in Settings." in listed


def test_a_milestone_setting_that_is_not_a_visit_is_refused_by_the_api(story):
    response = story.client.patch("/api/v1/business", json={"milestone_visits": [1]},
                                  headers=story.auth)  # fmt: skip
    assert response.status_code == 422
    assert response.json["error"]["field"] == "milestone_visits"


def test_the_budget_skips_a_birthday_text_on_a_review_request_day_and_says_so(story, clock):
    """One automated text a day: the day after her visit, Maria's review request went out
    that morning, so her birthday text is skipped (a birthday is on its day or not at all),
    and the API says why."""
    story.patch(birthday_texts=True)
    clock.set(datetime(2027, 3, 2, 9, 30, tzinfo=NY))
    created = story.client.post("/api/v1/customers", json={
        "phone": CUSTOMER_PHONE, "name": "Maria Lopez", "consent": True, "birthday": "03-03"},
        headers=story.auth)  # fmt: skip
    customer_id = created.json["id"]
    assert (
        story.client.post(
            "/api/v1/visits",
            headers=story.auth,
            json={"phone": CUSTOMER_PHONE, "name": "Maria Lopez", "consent": True},
        ).status_code
        == 201
    )
    sent = story.run(datetime(2027, 3, 3, 19, 0, tzinfo=NY))
    assert not any("birthday" in body for _to, body in sent)
    items = story.api(f"/api/v1/customers/{customer_id}/messages")["items"]
    [birthday] = [m for m in items if m["kind"] == "birthday"]
    assert birthday["status"] == "canceled"
    assert birthday["reason"] == "texted 9 hours ago (review request): 1 automated text a day"
    [review] = [m for m in items if m["kind"] == "review_request"]
    assert review["status"] in ("sent", "delivered")  # it went that morning
    assert story.run(datetime(2027, 3, 4, 19, 0, tzinfo=NY)) == []
    assert len(texts_of(story, "birthday")) == 1  # and the birthday is not tried again
