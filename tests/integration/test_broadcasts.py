"""Broadcasts (issue 12), from outside: the API creates, checks, pauses, resumes and cancels;
a Dispatcher on the held clock writes and sends; Twilio is faked at the HTTP level. Who is
in the segment and why the others are not, what each recipient reads, the report, replies
marked as answers, a broadcast that pauses itself."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlmodel import Session, col, select

from app.care.businesses import create_business
from app.models import Broadcast, BroadcastSkip, Customer, Message
from tests.conftest import CUSTOMER_PHONE, FAST_PASSWORD_METHOD, MESSAGES_URL
from tests.integration.test_care_stories import LINK, OPT_OUT_LINE, Story, ny

pytestmark = pytest.mark.usefixtures("twilio")

FRIEND = "+12125550124"
AUSTIN = "+15125550125"  # Texas: its own hours on Sunday
LA = "+13105550126"  # three hours behind
NO_CONSENT = "+12125550127"
STOPPED = "+12125550128"


@pytest.fixture
def story(client, auth, services, clock, twilio) -> Story:
    story = Story(client, auth, services, clock, twilio)
    # A wait for a paced slot moves the held clock instead of sleeping.
    story.dispatcher.sleep = lambda seconds: clock.advance(seconds=seconds)
    return story


def customer(story: Story, phone: str, name: str, *, consent=True, marketing=False, **extra):
    payload = {"phone": phone, "name": name, "consent": consent, **extra}
    if marketing:
        payload["marketing_consent"] = True
    answer = story.client.post("/api/v1/customers", json=payload, headers=story.auth)
    assert answer.status_code in (200, 201), answer.json
    return answer.json


def broadcast(story: Story, body: str, status: int = 201, **fields) -> dict:
    answer = story.client.post("/api/v1/broadcasts", json={"body": body, **fields},
                               headers=story.auth)  # fmt: skip
    assert answer.status_code == status, answer.json
    return answer.json


def control(story: Story, broadcast_id: int, action: str, status: int = 200) -> dict:
    answer = story.client.post(f"/api/v1/broadcasts/{broadcast_id}/{action}", headers=story.auth)
    assert answer.status_code == status, answer.json
    return answer.json


def shown(story: Story, broadcast_id: int) -> dict:
    answer = story.client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=story.auth)
    assert answer.status_code == 200, answer.json
    return answer.json


def a_few(story: Story) -> None:
    customer(story, CUSTOMER_PHONE, "Maria Lopez", marketing=True, tags=["vip"])
    customer(story, FRIEND, "Sam Lee", tags=["color"])
    customer(story, NO_CONSENT, "Nora Nobody", consent=False)
    customer(story, STOPPED, "Stella Stop")
    story.reply("STOP", phone=STOPPED)
    story.sent()  # (the STOP's own answer, if any)


def test_a_broadcast_goes_once_to_each_eligible_customer_named_and_with_the_stop_line(story):
    a_few(story)
    made = broadcast(story, "Hi {{ first_name }}, we are closed Monday for the holiday.",
                     title="Holiday")  # fmt: skip
    assert made["state"] == "sending" and made["kind"] == "informational"
    sent = story.run()
    assert sorted(sent) == sorted([
        (CUSTOMER_PHONE, f"Bloom Hair Studio: Hi Maria, we are closed Monday for the holiday. "
                         f"{OPT_OUT_LINE}"),
        (FRIEND, f"Bloom Hair Studio: Hi Sam, we are closed Monday for the holiday. "
                 f"{OPT_OUT_LINE}"),
    ])  # fmt: skip
    assert story.run(story.clock.now() + timedelta(hours=1)) == []  # once, never again
    report = shown(story, made["id"])
    assert report["state"] == "done"
    assert report["recipients"] == 2 and report["skipped"] == 2
    assert report["report"]["sent"] == 2 and report["report"]["queued"] == 0
    assert report["report"]["skipped"] == {"no consent to texts": 1, "opted out": 1}


def test_the_check_counts_who_would_get_it_and_why_the_others_would_not(story):
    a_few(story)
    customer(story, "+12125550129", "Bad Number")
    with Session(story.engine) as session:
        bad = session.exec(select(Customer).where(Customer.phone == "+12125550129")).one()
        bad.number_status = "invalid"
        session.add(bad)
        session.commit()
    answer = story.client.post(
        "/api/v1/broadcasts/check",
        headers=story.auth,
        json={"body": "20% off color this week", "kind": "promotional"},
    )
    assert answer.status_code == 200, answer.json
    audience = answer.json["audience"]
    assert audience == {"total": 5, "eligible": 1, "left_out": {
        "no consent to offers": 1, "no consent to texts": 1, "opted out": 1,
        "a number that cannot get texts": 1}}  # fmt: skip
    assert answer.json["sample"].startswith("Bloom Hair Studio: 20% off color this week.")
    # nothing was written by a check
    with Session(story.engine) as session:
        assert session.exec(select(Broadcast)).all() == []


def test_the_segment_filters_by_tag_visits_staff_and_birthday_month(story):
    a_few(story)
    story.visit(FRIEND, "Sam Lee", staff="Ana")
    story.visit(FRIEND, "Sam Lee", staff="Ana")
    customer(story, CUSTOMER_PHONE, "Maria Lopez", birthday="04-02")

    def eligible(**segment) -> int:
        answer = story.client.post(
            "/api/v1/broadcasts/check",
            headers=story.auth,
            json={"body": "Open slots today", "segment": segment},
        )
        assert answer.status_code == 200, answer.json
        return answer.json["audience"]["total"]

    assert eligible() == 4
    assert eligible(tag="VIP") == 1
    assert eligible(staff="ana") == 1
    assert eligible(min_visits=2) == 1
    assert eligible(birthday_month=4) == 1
    day = story.clock.now().date()
    assert eligible(last_visit_after=day.isoformat()) == 1
    assert eligible(last_visit_before=day.isoformat()) == 0
    bad = story.client.post(
        "/api/v1/broadcasts/check",
        headers=story.auth,
        json={"body": "x", "segment": {"min_visits": 5, "max_visits": 2}},
    )
    assert bad.status_code == 422


def test_an_offer_sent_as_informational_is_refused_and_nothing_is_written(story):
    a_few(story)
    refused = broadcast(story, "Free blowout with any cut this week!", status=422)
    assert refused["error"]["field"] == "body"
    assert "offer" in refused["error"]["message"].lower()
    with Session(story.engine) as session:
        assert session.exec(select(Broadcast)).all() == []
    # sent as promotional, it goes only to who agreed to offers
    made = broadcast(story, "Free blowout with any cut this week!", kind="promotional")
    assert [to for to, _ in story.run()] == [CUSTOMER_PHONE]
    assert shown(story, made["id"])["report"]["skipped"]["no marketing consent"] == 1


def test_a_recipient_outside_their_window_waits_for_it(story):
    customer(story, LA, "Lena Angeles")
    customer(story, CUSTOMER_PHONE, "Maria Lopez")
    story.clock.set(ny(10, 10))  # 7:00 in Los Angeles
    broadcast(story, "New stylist Ana starts Friday")
    assert [to for to, _ in story.run()] == [CUSTOMER_PHONE]
    with Session(story.engine) as session:
        waiting = session.exec(select(Message).where(Message.to_number == LA)).one()
        assert waiting.reason and "outside" in waiting.reason
    assert story.run(ny(10, 11, 59)) == []
    assert [to for to, _ in story.run(ny(10, 12, 0))] == [LA]  # 9:00 there


def test_pause_holds_resume_goes_on_cancel_accounts_for_the_rest(story):
    for i in range(12):
        customer(story, f"+1212555{1000 + i:04d}", f"Guest {i}")
    made = broadcast(story, "Open slots this afternoon", per_hour=60)
    paused = control(story, made["id"], "pause")
    assert paused["state"] == "paused" and paused["paused_by"] == "owner"
    assert story.run() == []
    assert shown(story, made["id"])["report"]["queued"] == 0  # nothing written while paused
    control(story, made["id"], "pause", status=409)
    control(story, made["id"], "resume")
    assert len(story.run()) >= 1
    canceled = control(story, made["id"], "cancel")
    assert canceled["state"] == "canceled"
    report = canceled["report"]
    assert report["queued"] == 0
    sent = report["sent"] + report["delivered"]
    assert sent + report["canceled"] + sum(report["skipped"].values()) == 12
    assert story.run(story.clock.now() + timedelta(hours=1)) == []
    control(story, made["id"], "resume", status=409)


def test_another_business_cannot_see_or_touch_a_broadcast(story, client, session, clock):
    a_few(story)
    made = broadcast(story, "Closed Monday")
    _other, key = create_business(session, name="Other Shop", number="+12125550999",
                                  timezone="America/New_York", now=clock.now(),
                                  owner_email="owner@other.test",
                                  owner_password="other owner password",
                                  password_method=FAST_PASSWORD_METHOD)  # fmt: skip
    session.commit()
    theirs = {"Authorization": f"Bearer {key}"}
    assert client.get(f"/api/v1/broadcasts/{made['id']}", headers=theirs).status_code == 404
    assert client.post(f"/api/v1/broadcasts/{made['id']}/cancel",
                       headers=theirs).status_code == 404  # fmt: skip
    assert shown(story, made["id"])["state"] == "sending"


def test_replies_are_answers_and_links_are_tracked_on_our_own_domain(story):
    a_few(story)
    made = broadcast(story, "New hours from Monday: see https://bloom.example/hours")
    sent = dict(story.run())
    token = LINK.search(sent[CUSTOMER_PHONE]).group(1)
    assert "bloom.example" not in sent[CUSTOMER_PHONE]
    opened = story.client.get(f"/l/{token}")
    assert opened.status_code in (302, 303) and opened.location == "https://bloom.example/hours"
    story.reply("Great, see you Tuesday", phone=FRIEND)
    with Session(story.engine) as session:
        answer = session.exec(
            select(Message).where(Message.direction == "inbound", Message.from_number == FRIEND)
        ).one()
        assert answer.broadcast_id == made["id"]
    report = shown(story, made["id"])["report"]
    assert (report["replies"], report["clicks"]) == (1, 1)
    story.reply("STOP", phone=CUSTOMER_PHONE)
    assert shown(story, made["id"])["report"]["opted_out_after"] == 1


def test_a_broadcast_whose_number_is_blocked_pauses_itself_and_says_why(story, twilio):
    for i in range(130):  # more than a send batch
        customer(story, f"+1212555{2000 + i:04d}", f"Guest {i}")
    twilio.replace(
        "POST",
        MESSAGES_URL,
        status=400,
        json={"code": 30034, "message": "Message from an unregistered number", "status": 400},
    )
    made = broadcast(story, "Closed Monday")
    story.run()
    paused = shown(story, made["id"])
    assert paused["state"] == "paused" and paused["paused_by"] == "system"
    assert "30034" in paused["paused_reason"] and "resume" in paused["paused_reason"]
    with Session(story.engine) as session:
        waiting = session.exec(
            select(Message).where(
                Message.broadcast_id == made["id"], col(Message.send_at).is_(None)
            )
        ).all()
        assert waiting  # held, not failed one by one through the whole list
        assert session.exec(select(BroadcastSkip)).all() == []


def test_a_scheduled_broadcast_fires_at_its_time_and_not_before(story):
    a_few(story)
    made = broadcast(story, "We open at noon tomorrow", start_at="2026-03-11T13:00:00-04:00")
    assert made["state"] == "scheduled"
    assert story.run(ny(11, 12, 59)) == []
    assert len(story.run(ny(11, 13, 0))) == 2
    story.run()
    assert shown(story, made["id"])["state"] == "done"


def test_at_most_n_an_hour_spreads_the_texts(story):
    for i in range(4):
        customer(story, f"+1212555{3000 + i:04d}", f"Guest {i}")
    made = broadcast(story, "Open slots this afternoon", per_hour=60)
    sent = []
    for _ in range(60):  # a worker polls every 10 seconds
        sent += story.run(story.clock.now() + timedelta(seconds=10))
    assert len(sent) == 4
    with Session(story.engine) as session:
        times = sorted(session.exec(select(Message.sent_at).where(
            Message.broadcast_id == made["id"])).all())  # fmt: skip
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert len(gaps) == 3 and min(gaps) >= 60, gaps  # never faster than the owner asked


def test_the_daily_cap_of_the_number_carries_the_rest_to_the_next_day(story):
    for i in range(5):
        customer(story, f"+1212555{4000 + i:04d}", f"Guest {i}")
    story.patch(broadcast_daily_cap=3)
    made = broadcast(story, "Closed Monday")
    assert len(story.run()) == 3
    assert story.run(ny(10, 19)) == []
    assert len(story.run(ny(11, 9, 30))) == 2
    story.run()
    assert shown(story, made["id"])["state"] == "done"


def test_a_broadcast_whose_every_attempt_fails_pauses_itself(story, twilio):
    for i in range(25):
        customer(story, f"+1212555{5000 + i:04d}", f"Guest {i}")
    twilio.replace(
        "POST",
        MESSAGES_URL,
        status=503,
        json={"code": 20503, "message": "Service unavailable", "status": 503},
    )
    made = broadcast(story, "Closed Monday")
    for minute in range(0, 60, 5):
        story.run(ny(10, 11, minute))
    paused = shown(story, made["id"])
    assert paused["state"] == "paused" and paused["paused_by"] == "system"
    assert "all failed" in paused["paused_reason"]


def test_a_paused_broadcasts_held_texts_read_as_held_and_the_inbox_still_opens(story, owner):
    for i in range(130):  # more than one send batch: some are still waiting when it pauses
        customer(story, f"+1212555{6000 + i:04d}", f"Guest {i}")
    made = broadcast(story, "Closed Monday")
    story.dispatcher.advance_broadcasts()  # its texts are written
    story.dispatcher.run_batch()  # and one send batch (100) goes
    control(story, made["id"], "pause")
    with Session(story.engine) as session:
        held = session.exec(
            select(Message).where(
                Message.broadcast_id == made["id"], col(Message.send_at).is_(None)
            )
        ).first()
        assert held is not None
    page = owner.get(f"/conversations/{held.customer_id}").get_data(as_text=True)
    assert "Held" in page and "broadcast paused" in page and "Sending" not in page
    assert owner.get("/inbox").status_code == 200


def test_the_check_explains_the_text_and_a_public_shortener_is_refused(story):
    a_few(story)
    answer = story.client.post(
        "/api/v1/broadcasts/check",
        headers=story.auth,
        json={"body": "Hi {{ first_name }}! New hours: https://bit.ly/3xYz", "per_hour": 60},
    )
    assert answer.status_code == 200, answer.json
    found = {f["code"]: f for f in answer.json["findings"]}
    assert found["shortener"]["level"] == "stop" and "bit.ly" in found["shortener"]["words"]
    assert found["segments"]["level"] in ("ok", "warn") and "$" in found["segments"]["words"]
    assert found["opt_out"]["level"] == "ok" and found["business_name"]["level"] == "ok"
    forecast = answer.json["forecast"]
    assert forecast["last_at"] is not None and forecast["days"] == 1
    assert any("60 an hour" in words for words in forecast["held_by"])
    refused = broadcast(story, "Hi! New hours: https://bit.ly/3xYz", status=422)
    assert "bit.ly" in refused["error"]["message"]
    cannabis = broadcast(story, "Our new CBD scalp treatment is here", status=422)
    assert cannabis["error"]["code"] == "shaft"
