"""Opening hours from outside: set on the settings page or through the API (the same command),
then used by the after-hours reply, the unanswered alerts and the dashboard's median first
response, which count only the hours the shop is open. The week here: Monday to Saturday
9:00 to 17:00, Sunday closed; 10 March 2026 is a Tuesday."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.care.hours import opening_hours
from app.models import WEEKDAYS, Business, Customer, Message
from tests.integration.test_care_stories import ALERT_PHONE, CUSTOMER_PHONE, ny
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in
from tests.integration.test_owner_settings import reload

NINE_TO_FIVE = [{"open": "09:00", "close": "17:00"}]
WEEK = {day: NINE_TO_FIVE for day in WEEKDAYS[:6]} | {"sunday": []}


@pytest.fixture
def settings_overrides():
    return OVERRIDES


# ---- the API -------------------------------------------------------------------------------


def test_the_api_shows_and_changes_opening_hours_and_holidays(client, auth):
    shown = client.get("/api/v1/business", headers=auth).json
    assert shown["opening_hours"] == {day: [{"open": "09:00", "close": "20:00"}]
                                      for day in WEEKDAYS}  # fmt: skip
    assert shown["holidays"] == []
    changed = client.patch("/api/v1/business", headers=auth, json={
        "opening_hours": {"sunday": [], "saturday": [{"open": "9:00", "close": "12:30"},
                                                     {"open": "13:30", "close": "16:00"}]},
        "holidays": [{"date": "2026-12-25", "name": "Christmas Day"}, {"date": "2026-11-26"}],
    })  # fmt: skip
    assert changed.status_code == 200, changed.json
    again = client.get("/api/v1/business", headers=auth).json
    assert again == changed.json
    assert again["opening_hours"]["sunday"] == []
    assert again["opening_hours"]["saturday"] == [
        {"open": "09:00", "close": "12:30"},
        {"open": "13:30", "close": "16:00"},
    ]
    assert again["opening_hours"]["monday"] == [{"open": "09:00", "close": "20:00"}]  # kept
    assert again["holidays"] == [
        {"date": "2026-11-26", "name": ""},
        {"date": "2026-12-25", "name": "Christmas Day"},
    ]  # by date
    assert again["sending_window"] == {"start": "09:00", "end": "20:00"}  # its own setting
    # what GET gives, PATCH takes back unchanged
    round_trip = {"opening_hours": again["opening_hours"], "holidays": again["holidays"]}
    assert client.patch("/api/v1/business", headers=auth, json=round_trip).json == again


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"opening_hours": {"monday": [{"open": "17:00", "close": "09:00"}]}},
         "opening_hours.monday", "Monday: the closing time must be after the opening time."),
        ({"opening_hours": {"friday": [{"open": "09:00", "close": "13:00"},
                                       {"open": "12:00", "close": "17:00"}]}},
         "opening_hours.friday", "second opening time must be after the first closing"),
        ({"opening_hours": {"monday": [{"open": "25:00", "close": "26:00"}]}},
         "opening_hours.monday", "use times such as 09:00"),
        ({"opening_hours": {"monday": [NINE_TO_FIVE[0]] * 3}},
         "opening_hours.monday", "at most 2 opening times"),
        ({"opening_hours": {"funday": []}}, "opening_hours", "Unknown field."),
        ({"opening_hours": {day: [] for day in WEEKDAYS}}, "opening_hours",
         "Open at least one day a week."),
        ({"holidays": [{"date": "2026-12-25"}, {"date": "2026-12-25"}]}, "holidays",
         "Friday 25 December 2026 is already a closed date."),
        ({"holidays": [{"date": "2026-02-30"}]}, "holidays", "Use a date such as"),
        ({"holidays": [{"date": "1826-12-25"}]}, "holidays", "check the year"),
        ({"holidays": [{"date": (datetime(2026, 1, 1) + timedelta(days=n)).date().isoformat()}
                       for n in range(61)]}, "holidays", "At most 60 closed dates"),
    ],
)  # fmt: skip
def test_the_api_refuses_bad_hours_and_changes_nothing(client, auth, change, field, words):
    before = client.get("/api/v1/business", headers=auth).json
    response = client.patch("/api/v1/business", headers=auth,
                            json={**change, "thank_you_delay_minutes": 5})  # fmt: skip
    assert response.status_code == 422
    assert response.json["error"]["field"] == field
    assert words in response.json["error"]["message"]
    assert client.get("/api/v1/business", headers=auth).json == before


def test_the_openapi_document_describes_opening_hours(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert set(schemas["WeekHours"]["properties"]) == set(WEEKDAYS)
    assert "opening_hours" in schemas["BusinessChanges"]["properties"]
    assert "holidays" in schemas["BusinessPublic"]["properties"]
    assert schemas["Holiday"]["properties"]["date"]["format"] == "date"


# ---- the care that uses them ---------------------------------------------------------------


def test_after_hours_on_a_closed_sunday_names_the_next_open_day(story):
    story.patch(opening_hours=WEEK, holidays=[{"date": "2026-03-16", "name": "Staff day"}])
    story.clock.set(ny(15, 11, 0))  # Sunday: closed; Monday: a holiday
    story.reply("Are you open tomorrow?")
    [(to, answer)] = story.run()
    assert to == CUSTOMER_PHONE
    assert "will reply from 9:00 AM Tuesday." in answer

    story.clock.set(ny(17, 10, 0))  # Tuesday, open: a person answers
    story.reply("Great, see you at noon", phone="+12125550177")
    assert story.run() == []
    story.clock.set(ny(17, 17, 30))  # closed for the evening
    story.reply("Running late!", phone="+12125550177")
    [(_to, evening)] = story.run()
    assert "will reply from 9:00 AM tomorrow." in evening


def test_an_unanswered_alert_counts_only_opening_hours(story):
    story.patch(opening_hours=WEEK, alert_phone=ALERT_PHONE, unanswered_alert_minutes=30)
    story.clock.set(ny(14, 16, 50))  # Saturday, ten minutes before closing
    story.reply("Can I come in Monday morning?")
    assert story.run() == []  # open: no after-hours answer
    for closed in (ny(14, 17, 30), ny(15, 12, 0), ny(16, 8, 59)):  # Saturday night, Sunday
        story.clock.set(closed)
        assert story.dispatcher.sweep(force=True) == 0
    story.clock.set(ny(16, 9, 19))  # 10 + 19 open minutes
    assert story.dispatcher.sweep(force=True) == 0
    story.clock.set(ny(16, 9, 21))  # 31 open minutes, 40 hours later
    assert story.dispatcher.sweep(force=True) == 1
    [(to, alert)] = story.run()
    assert to == ALERT_PHONE and "Can I come in Monday morning?" in alert


def _text(session, business, customer, direction, at):
    session.add(Message(business_id=business.id, customer_id=customer.id, direction=direction,
                        body="hi", kind="manual", status="received" if direction == "inbound"
                        else "delivered", created_at=at, sent_at=None if direction == "inbound"
                        else at, to_number=customer.phone))  # fmt: skip


def test_the_median_first_response_counts_only_open_hours(client, auth, session, business):
    """Hand-counted, Monday to Saturday 9-17, Sunday closed, Wednesday 18 March a holiday:
    Friday 16:30 -> Saturday 9:15 is 30 + 15 = 45 minutes; Saturday 16:00 -> Monday 10:00 is
    60 + 0 (Sunday) + 60 = 120; Tuesday 16:45 -> Thursday 9:40 is 15 + 0 (holiday) + 40 = 55.
    The median is 55 (in wall-clock time it would be 16 hours 45 minutes)."""
    assert (
        client.patch(
            "/api/v1/business",
            headers=auth,
            json={"opening_hours": WEEK, "holidays": [{"date": "2026-03-18"}]},
        ).status_code
        == 200
    )
    waits = [(ny(13, 16, 30), ny(14, 9, 15)), (ny(14, 16, 0), ny(16, 10, 0)),
             (ny(17, 16, 45), ny(19, 9, 40))]  # fmt: skip
    for n, (wrote, answered) in enumerate(waits):
        customer = Customer(business_id=business.id, phone=f"+1212555016{n}", name="",
                            consent="granted", created_at=ny(1, 9))  # fmt: skip
        session.add(customer)
        session.flush()
        _text(session, business, customer, "inbound", wrote)
        _text(session, business, customer, "outbound", answered)
    session.commit()
    replies = client.get("/api/v1/metrics?from=2026-03-13&to=2026-03-19", headers=auth).json[
        "replies"]  # fmt: skip
    assert replies["waits"] == 3 and replies["answered"] == 3
    assert replies["median_first_response_minutes"] == 55.0
    hours = opening_hours(reload(session, business))
    assert sorted(hours.open_minutes_between(a, b) for a, b in waits) == [45, 55, 120]


# ---- the settings page ---------------------------------------------------------------------


def _week_form(**days) -> dict:
    form = {}
    for day in WEEKDAYS:
        spans = days.get(day, [("09:00", "17:00")] if day != "sunday" else [])
        if spans:
            form[f"{day}_open"] = "on"
        for i, (opening, close) in enumerate(spans):
            suffix = "2" if i else ""
            form[f"{day}_from{suffix}"], form[f"{day}_until{suffix}"] = opening, close
    return form


def test_the_settings_page_saves_opening_hours(client, session, business):
    sign_in(client)
    page = client.get("/settings/").get_data(as_text=True)
    assert "Opening hours" in page and 'type="time"' in page
    for day in WEEKDAYS:
        assert f'<label for="f-{day}_open">' in page
        assert f'<label for="f-{day}_from">' in page and f'<label for="f-{day}_until2">' in page
    form = _week_form(saturday=[("09:00", "12:00"), ("13:00", "16:00")])
    form["sunday_from"], form["sunday_until"] = "10:00", "14:00"  # times of a closed day: ignored
    response = post(client, "/settings/hours", form)
    assert response.status_code == 302 and response.location.endswith("/settings/#hours")
    saved = reload(session, business)
    assert saved.opening_hours == {
        **WEEK,
        "saturday": [{"open": "09:00", "close": "12:00"}, {"open": "13:00", "close": "16:00"}],
    }
    assert (saved.window_start, saved.window_end) == ("09:00", "20:00")  # untouched
    page = client.get("/settings/").get_data(as_text=True)
    assert 'name="saturday_from2" type="time" value="13:00"' in page
    assert 'id="f-sunday_open" name="sunday_open" type="checkbox" >' in page  # closed


@pytest.mark.parametrize(
    ("form", "words"),
    [
        (_week_form(tuesday=[("17:00", "09:00")]),
         "Tuesday: the closing time must be after the opening time."),
        (_week_form(wednesday=[("09:00", "")]), "Wednesday: enter both the opening and the"),
        ({}, "Open at least one day a week."),
    ],
)  # fmt: skip
def test_the_settings_page_refuses_bad_hours(client, session, business, form, words):
    sign_in(client)
    response = post(client, "/settings/hours", form)
    assert response.status_code == 422
    assert words in response.get_data(as_text=True)
    assert reload(session, business).opening_hours["monday"] == [
        {"open": "09:00", "close": "20:00"}
    ]


def test_the_settings_page_adds_and_removes_closed_dates(client, session, business):
    sign_in(client)
    added = post(client, "/settings/holidays", {"holiday_date": "2026-12-25",
                                                "holiday_name": " Christmas   Day "})  # fmt: skip
    assert added.status_code == 302 and added.location.endswith("#holidays")
    post(client, "/settings/holidays", {"holiday_date": "2026-11-26", "holiday_name": ""})
    assert reload(session, business).holidays == [
        {"date": "2026-11-26", "name": ""},
        {"date": "2026-12-25", "name": "Christmas Day"},
    ]
    page = client.get("/settings/").get_data(as_text=True)
    assert "Fri 25 Dec 2026" in page and "Christmas Day" in page

    for bad, words in (({"holiday_date": "2026-12-25"}, "already a closed date"),
                       ({"holiday_date": ""}, "Choose the date you are closed."),
                       ({"holiday_date": "20261-01-01"}, "Use a date such as 2026-12-25."),
                       ({"holiday_date": "2026-12-31", "holiday_name": "x" * 61},
                        "at most 60 characters")):  # fmt: skip
        refused = post(client, "/settings/holidays", bad)
        assert refused.status_code == 422 and words in refused.get_data(as_text=True), bad
    assert len(reload(session, business).holidays) == 2

    removed = post(client, "/settings/holidays/remove", {"date": "2026-11-26"})
    assert removed.status_code == 302
    assert reload(session, business).holidays == [{"date": "2026-12-25", "name": "Christmas Day"}]


def test_the_hours_forms_need_their_csrf_token(client, session, business):
    sign_in(client)
    assert client.post("/settings/hours", data=_week_form()).status_code == 400
    assert client.post("/settings/holidays", data={"holiday_date": "2026-12-25"}).status_code == 400
    assert reload(session, business).holidays == []


def test_every_business_keeps_its_sending_window_as_its_hours_after_the_migration(tmp_path):
    from alembic import command

    from app.db import make_engine
    from app.migrate import alembic_config
    from tests.integration.test_migrations import insert_shop

    engine = make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    config = alembic_config(engine=engine)
    command.upgrade(config, "0008_saved_replies")
    with engine.begin() as c:
        insert_shop(c, [("+12125550123", "granted")])
        c.execute(sa.text("UPDATE business SET window_start = '08:30', window_end = '18:00'"))
    command.upgrade(config, "head")
    from sqlmodel import Session

    with Session(engine) as s:
        shop = s.exec(select(Business)).one()
        assert shop.opening_hours == {day: [{"open": "08:30", "close": "18:00"}]
                                      for day in WEEKDAYS}  # fmt: skip
        assert shop.holidays == []
        assert opening_hours(shop).is_open(datetime(2026, 3, 15, 12, 45, tzinfo=UTC))  # Sunday
    command.downgrade(config, "0008_saved_replies")
    engine.dispose()


def test_a_refused_day_is_the_only_error_on_the_page(client, session, business):
    sign_in(client)
    response = post(client, "/settings/hours", _week_form(monday=[("09:00", "08:00")]))
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "Monday: the closing time must be after the opening time." in page
    assert "Input should be None" not in page
