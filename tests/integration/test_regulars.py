"""Recognising regulars, told as stories on a held clock: what the business knows about each
customer (visit count, usual gap, favourite staff, birthday), shown on the owner's pages and
in the API and CSV, and who is overdue by their own rhythm."""

from __future__ import annotations

import csv
import io
import re
from datetime import timedelta

import pytest

from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_care_stories import ny
from tests.integration.test_owner_helpers import OVERRIDES, csrf_token, post, sign_in

SAM = "+12125550140"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def page(client, path: str) -> str:
    """An owner's page now: signed in again, since the clock may have moved past the last
    sign-in's lifetime."""
    response = client.get(path)
    if response.status_code == 302 and "/sign-in" in response.location:
        sign_in(client)
        response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return response.get_data(as_text=True)


def weeks(n: float) -> timedelta:
    return timedelta(weeks=n)


def visits_every_three_weeks(story, clock, *, count: int = 4, phone: str = CUSTOMER_PHONE,
                             name: str = "Maria Lopez") -> None:  # fmt: skip
    """`count` visits three weeks apart, the last one now (the clock is left there)."""
    start = clock.now()
    for index in range(count):
        clock.set(start + weeks(3 * index))
        story.visit(phone=phone, name=name, staff="Ana" if index % 2 == 0 else "Bo")


def customer_json(story, phone: str = CUSTOMER_PHONE) -> dict:
    [found] = story.api(f"/api/v1/customers?phone={phone}")["items"]
    return found


def overdue_ids(story) -> list[int]:
    return [c["id"] for c in story.api("/api/v1/customers?overdue=true")["items"]]


# ---- the facts ------------------------------------------------------------------------------


def test_a_customers_fifth_visit_shows_5th_visit(story, owner, clock):
    clock.set(ny(30, 11))
    for day in (2, 9, 16, 23):
        story.visit(occurred_at=ny(day, 11).isoformat(), staff="Ana", amount=40)
    story.visit(staff="Bo", amount=55.5)
    maria = customer_json(story)
    assert maria["visit_count"] == 5
    assert maria["usual_gap_days"] == 7.0
    assert maria["favourite_staff"] == "Ana"
    assert maria["total_spent"] == 215.5
    assert maria["first_visit_at"].startswith("2026-03-02T16:00")
    assert maria["overdue"] is False
    inbox = page(owner, "/inbox")
    assert "5th visit · usually every week · sees Ana" in inbox
    assert "Regular" in inbox
    panel = page(owner, f"/conversations/{maria['id']}")
    assert "5th visit · usually every week · sees Ana" in panel
    assert "$215.50" in panel and "Every week" in panel


def test_the_favourite_is_whoever_they_saw_most_a_tie_goes_to_the_latest(story, clock):
    clock.set(ny(20, 11))
    story.visit(occurred_at=ny(2, 11).isoformat(), staff="Ana")
    story.visit(occurred_at=ny(9, 11).isoformat(), staff="Bo")
    assert customer_json(story)["favourite_staff"] == "Bo"
    story.visit(occurred_at=ny(5, 11).isoformat(), staff="Ana")  # recorded late, still counted
    maria = customer_json(story)
    assert maria["favourite_staff"] == "Ana"
    assert maria["last_visit_at"].startswith("2026-03-09")  # the latest, not the last recorded


def test_the_facts_after_a_canceled_visit(story, owner, clock):
    clock.set(ny(30, 11))
    story.visit(occurred_at=ny(2, 11).isoformat(), staff="Ana", amount=40)
    story.visit(occurred_at=ny(9, 11).isoformat(), staff="Bo", amount=40)
    last = story.visit(staff="Bo", amount=100)
    maria = customer_json(story)
    assert (maria["visit_count"], maria["favourite_staff"], maria["total_spent"]) == (3, "Bo", 180)
    assert maria["usual_gap_days"] == pytest.approx(14, abs=0.05)  # (summer time began)
    response = story.client.post(f"/api/v1/visits/{last['id']}/cancel", headers=story.auth)
    assert response.status_code == 200
    maria = customer_json(story)
    assert maria["visit_count"] == 2
    assert maria["last_visit_at"].startswith("2026-03-09")
    assert maria["usual_gap_days"] is None  # fewer than 3 visits: no rhythm yet
    assert maria["favourite_staff"] == "Bo"  # Ana once, Bo once: Bo was the latest
    assert maria["total_spent"] == 80
    assert "2nd visit · sees Bo" in page(owner, "/inbox")


# ---- overdue ----------------------------------------------------------------------------------


def test_a_regular_every_three_weeks_is_overdue_after_five(story, owner, clock):
    clock.set(ny(2, 11))
    visits_every_three_weeks(story, clock)
    last_visit = clock.now()
    maria = customer_json(story)
    assert maria["usual_gap_days"] == 21.0 and maria["overdue"] is False
    clock.set(last_visit + weeks(4.5) - timedelta(minutes=1))  # 1.5 x 3 weeks, nearly
    assert customer_json(story)["overdue"] is False
    assert overdue_ids(story) == []
    assert "Nobody is overdue" in page(owner, "/overdue")
    clock.set(last_visit + weeks(5))
    assert customer_json(story)["overdue"] is True
    assert overdue_ids(story) == [maria["id"]]
    not_overdue = story.api("/api/v1/customers?overdue=false")["items"]
    assert maria["id"] not in [c["id"] for c in not_overdue]
    listed = page(owner, "/overdue")
    assert "Maria Lopez" in listed and "4th visit · usually every 3 weeks · sees Bo" in listed
    assert "Hi Maria, we have not seen you at Bloom Hair Studio since" in listed
    assert f"/conversations/{maria['id']}?use=overdue" in listed
    assert 'class="badge overdue"' in page(owner, "/inbox")
    # The owner starts from the suggestion: prefilled in the composer, nothing sent.
    composer = page(owner, f"/conversations/{maria['id']}?use=overdue")
    assert re.search(r'<textarea id="body"[^>]*>Hi Maria, we have not seen you', composer)
    assert [kind for kind, _ in story.statuses() if kind == "manual"] == []  # nothing queued


def test_a_regular_with_a_booked_visit_is_not_overdue(story, owner, clock):
    clock.set(ny(2, 11))
    visits_every_three_weeks(story, clock)
    last_visit = clock.now()
    booked = story.visit(occurred_at=(last_visit + weeks(6)).isoformat(), booked=True)
    assert booked["status"] == "booked" and booked["planned"] == []
    assert booked["skipped"] and "booked" in booked["skipped"][0]
    clock.set(last_visit + weeks(5))
    maria = customer_json(story)
    assert maria["visit_count"] == 4  # a booking is not a visit
    assert maria["overdue"] is False and overdue_ids(story) == []
    assert "Nobody is overdue" in page(owner, "/overdue")
    # The booked time passes with no visit recorded: overdue again.
    clock.set(last_visit + weeks(6) + timedelta(hours=1))
    assert overdue_ids(story) == [maria["id"]]


def test_a_booked_visit_needs_its_time_and_a_visit_not_booked_cannot_be_ahead(story, clock):
    clock.set(ny(10, 11))
    payload = {"phone": CUSTOMER_PHONE, "name": "Maria", "booked": True}
    missing = story.client.post("/api/v1/visits", json=payload, headers=story.auth)
    assert missing.status_code == 422 and missing.json["error"]["field"] == "occurred_at"
    ahead = {"phone": CUSTOMER_PHONE, "occurred_at": ny(20, 11).isoformat()}
    future = story.client.post("/api/v1/visits", json=ahead, headers=story.auth)
    assert future.status_code == 422 and "future" in future.json["error"]["message"]


def test_fewer_than_three_visits_are_overdue_after_the_fixed_days(story, clock):
    clock.set(ny(2, 11))
    story.visit()
    first = clock.now()
    clock.set(first + timedelta(days=89))
    assert overdue_ids(story) == []
    clock.set(first + timedelta(days=91))
    assert overdue_ids(story) == [customer_json(story)["id"]]


def test_changing_the_overdue_settings_moves_everyone(story, owner, clock):
    clock.set(ny(2, 11))
    visits_every_three_weeks(story, clock)
    story.visit(phone=SAM, name="Sam Rivera")  # one visit: the fixed days
    clock.set(clock.now() + weeks(5))
    maria = customer_json(story)
    assert overdue_ids(story) == [maria["id"]]
    story.patch(overdue_factor=2.0)  # 6 weeks for Maria now
    assert overdue_ids(story) == []
    story.patch(overdue_fixed_days=30, overdue_floor_days=40)  # Sam: 35 days > 30
    assert overdue_ids(story) == [customer_json(story, SAM)["id"]]
    assert story.api("/api/v1/business")["overdue_fixed_days"] == 30
    bad = story.client.patch("/api/v1/business", json={"overdue_factor": 0.5},
                             headers=story.auth)  # fmt: skip
    assert bad.status_code == 422 and bad.json["error"]["field"] == "overdue_factor"
    # the settings page, its care form
    form = {"review_mode": "direct", "rating_scale": "5", "thank_you_delay_minutes": "30",
            "review_reminder_days": "3", "review_cooldown_days": "180", "review_hold_days": "3",
            "unanswered_alert_minutes": "30", "missed_call_hourly_limit": "20",
            "overdue_factor": "1.5", "overdue_floor_days": "30",
            "overdue_fixed_days": "90"}  # fmt: skip
    page(owner, "/settings/")  # signed in again after the clock moved
    saved = post(owner, "/settings/care", form, token_path="/settings/")
    assert saved.status_code == 302
    assert overdue_ids(story) == [maria["id"]]  # back to 1.5 x 3 weeks
    refused = post(owner, "/settings/care", {**form, "overdue_fixed_days": "2"},
                   token_path="/settings/")  # fmt: skip
    assert refused.status_code == 422
    assert "Enter a whole number from 7 to 3650." in refused.get_data(as_text=True)


def test_customers_sorted_by_last_visit_page_through_everyone(story, clock):
    clock.set(ny(20, 11))
    phones = [f"+1212555016{i}" for i in range(4)]
    for day, phone in zip((5, 3, 9, 1), phones, strict=True):
        story.visit(phone=phone, name="", occurred_at=ny(day, 11).isoformat())
    story.client.post("/api/v1/customers", json={"phone": "+12125550170"}, headers=story.auth)
    seen, cursor = [], None
    while True:
        page = story.api("/api/v1/customers?sort=last_visit&limit=2"
                         + (f"&cursor={cursor}" if cursor else ""))  # fmt: skip
        seen += [c["phone"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [phones[3], phones[1], phones[0], phones[2], "+12125550170"]
    newest = story.api("/api/v1/customers?sort=-last_visit&limit=3")
    assert [c["phone"] for c in newest["items"]] == [phones[2], phones[0], phones[1]]
    wrong = story.client.get(f"/api/v1/customers?cursor={newest['next_cursor']}",
                             headers=story.auth)  # fmt: skip
    assert wrong.status_code == 422


# ---- birthdays --------------------------------------------------------------------------------


def test_a_birthday_through_the_api_in_the_ways_people_write_it(story):
    def upsert(birthday):
        return story.client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE,
                                 "birthday": birthday}, headers=story.auth)  # fmt: skip

    assert upsert("march 3rd").json["birthday"] == "03-03"
    assert upsert("3 de marzo").json["birthday"] == "03-03"
    assert upsert("12/25").json["birthday"] == "12-25"
    refused = upsert("02-30")
    assert refused.status_code == 422
    assert refused.json["error"] == {
        "code": "invalid_birthday",
        "field": "birthday",
        "message": "February has no 30th: check the date.",
    }
    assert customer_json(story)["birthday"] == "12-25"  # unchanged
    assert upsert(None).json["birthday"] is None  # forgotten


def test_a_birthday_from_the_customer_page(owner, story, business):
    story.client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE, "name": "Maria"},
                      headers=story.auth)  # fmt: skip
    maria = customer_json(story)
    values = {"phone": CUSTOMER_PHONE, "name": "Maria", "consent": "unknown"}
    refused = post(owner, f"/customers/{maria['id']}", {**values, "birthday": "02-30"})
    assert refused.status_code == 422
    assert "February has no 30th: check the date." in refused.get_data(as_text=True)
    assert customer_json(story)["birthday"] is None
    spoken = {**values, "birthday": "it's the 3rd of march"}
    saved = post(owner, f"/customers/{maria['id']}", spoken)
    assert saved.status_code == 302
    assert customer_json(story)["birthday"] == "03-03"
    form = page(owner, f"/customers/{maria['id']}")
    assert 'value="March 3"' in form
    assert "March 3" in page(owner, f"/conversations/{maria['id']}")


def test_a_birthday_from_a_csv_import_and_the_facts_in_the_export(owner, story, clock):
    clock.set(ny(20, 11))
    story.visit(occurred_at=ny(2, 11).isoformat(), staff="Ana", amount=30)
    bad = "phone,name,birthday\n+12125550150,Ann Able,3/14\n+12125550151,Ben Baker,02-30\n"
    token = csrf_token(page(owner, "/customers/import"))
    refused = owner.post("/customers/import/confirm", data={"csrf_token": token, "csv_text": bad})
    assert refused.status_code == 422
    assert "February has no 30th" in refused.get_data(as_text=True)
    assert story.api("/api/v1/customers?phone=+12125550150")["items"] == []  # none imported
    good = "phone,name,birthday\n+12125550150,Ann Able,3/14\n+12125550123,,March 3rd\n"
    done = owner.post("/customers/import/confirm", data={"csrf_token": token, "csv_text": good})
    assert done.status_code == 302
    assert customer_json(story, "+12125550150")["birthday"] == "03-14"
    assert customer_json(story)["birthday"] == "03-03"
    exported = owner.get("/customers/export.csv").get_data(as_text=True)
    rows = {row["phone"]: row for row in csv.DictReader(io.StringIO(exported))}
    maria = rows[CUSTOMER_PHONE]
    facts = ("birthday", "visit_count", "total_spent", "favourite_staff", "overdue")
    assert [maria[name] for name in facts] == ["03-03", "1", "30.00", "Ana", "no"]
    assert maria["last_visit_at"].startswith("2026-03-02T16:00")
    assert rows["+12125550150"]["visit_count"] == "0"


def test_a_birthday_given_by_text_in_answer_to_the_owners_question(story, owner, clock):
    clock.set(ny(10, 11))
    story.visit()
    story.run()
    maria = customer_json(story)
    story.reply("my birthday is march 3rd")  # nobody asked: just a text
    assert customer_json(story)["birthday"] is None
    asking = page(owner, f"/conversations/{maria['id']}?use=birthday")
    question = re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', asking).group(1)
    assert question.startswith("Hi Maria, when is your birthday?")
    assert 'name="asks" value="birthday"' in asking
    sent = post(owner, f"/conversations/{maria['id']}/send",
                {"body": question, "asks": "birthday"},
                token_path=f"/conversations/{maria['id']}")  # fmt: skip
    assert sent.status_code == 302
    [(to, body)] = story.run()
    assert to == CUSTOMER_PHONE and body.startswith("Hi Maria, when is your birthday?")
    assert "asked: their answer is read" in page(owner, f"/conversations/{maria['id']}")
    story.reply("sure! hang on")  # not a date: the question stays open
    assert customer_json(story)["birthday"] is None
    clock.set(ny(11, 10))
    story.reply("it's the 3rd of march")
    assert customer_json(story)["birthday"] == "03-03"
    story.reply("12/25")  # answered already: the question is closed
    assert customer_json(story)["birthday"] == "03-03"
    assert "March 3" in page(owner, f"/conversations/{maria['id']}")


# ---- win-back: the automatic text, once per lapse ----------------------------------------------


def winbacks_sent(out) -> list[str]:
    return [body for _to, body in out if "we have missed you" in body]


def run_at(story, when) -> list:
    """The worker at `when` and ten minutes later: what its planning queued has gone."""
    return story.run(when) + story.run(when + timedelta(minutes=10))


def test_an_overdue_regular_gets_one_win_back_text_per_lapse(story, owner, clock):
    assert story.api("/api/v1/business")["winback_texts"] is False  # off by default
    story.patch(winback_texts=True, winback_offer="10% off this week.")
    clock.set(ny(2, 11))
    visits_every_three_weeks(story, clock)
    last_visit = clock.now()
    assert winbacks_sent(run_at(story, last_visit + weeks(4.5) - timedelta(hours=2))) == []
    [text] = winbacks_sent(run_at(story, last_visit + weeks(5)))
    assert text.startswith("Hi Maria, we have missed you at Bloom Hair Studio!")
    assert "10% off" not in text  # no written consent to offers: the text without it
    assert winbacks_sent(run_at(story, last_visit + weeks(6))) == []  # once per lapse
    # She comes back, lapses again: one more, and again only one.
    clock.set(last_visit + weeks(7))
    story.visit(phone=CUSTOMER_PHONE, name="Maria Lopez")
    back = clock.now()
    assert len(winbacks_sent(run_at(story, back + weeks(5)))) == 1
    assert winbacks_sent(run_at(story, back + weeks(6))) == []
    reasons = [m for m in story.api(f"/api/v1/customers/{customer_json(story)['id']}/messages")[
        "items"] if m["kind"] == "winback"]  # fmt: skip
    assert len(reasons) == 2
    assert story.patch(winback_offer=None)["winback_offer"] is None  # an offer can be taken away


def test_no_win_back_with_a_visit_booked_or_a_complaint_unanswered(story, owner, clock):
    story.patch(winback_texts=True)
    clock.set(ny(2, 11))
    visits_every_three_weeks(story, clock)
    visits_every_three_weeks(story, clock, phone="+12125550177", name="James Carter")
    last_visit = clock.now()
    story.visit(occurred_at=(last_visit + weeks(8)).isoformat(), booked=True)  # Maria's
    clock.set(last_visit + weeks(1))
    story.reply(
        "The color was wrong and nobody called me back. Very disappointed.", phone="+12125550177"
    )
    out = run_at(story, last_visit + weeks(5))
    assert winbacks_sent(out) == []
    assert overdue_ids(story)  # James is overdue, but his complaint waits for the owner


def test_turning_win_back_on_texts_no_one_who_lapsed_long_ago(story, clock):
    """Win-back is for a lapse as it happens, not a broadcast to everyone who ever left."""
    clock.set(ny(2, 11))
    visits_every_three_weeks(story, clock)
    last_visit = clock.now()
    clock.set(last_visit + weeks(20))
    assert customer_json(story)["overdue"] is True
    story.patch(winback_texts=True)
    assert winbacks_sent(run_at(story, last_visit + weeks(20) + timedelta(hours=1))) == []
