"""Settings, API keys (created, shown once, revoked) and the business's texts (edited in the
sandbox with a live preview, reset to default)."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import select

from app.care.texts import business_source, default_source
from app.models import ApiKey, Business, BusinessTemplate
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_user,
    other_business,
    post,
    sign_in,
    token_for,
)


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def owner(client, business):
    sign_in(client)
    return client


def reload(session, business) -> Business:
    session.expire_all()
    fresh = session.get(Business, business.id)
    session.commit()
    return fresh


SETTINGS = {
    "name": "Bloom Hair & Color",
    "number": "(212) 555-0100",
    "messaging_service_sid": "",
    "timezone": "America/Chicago",
    "window_start": "10:00",
    "window_end": "19:30",
    "review_url": "https://g.page/r/bloom/review",
    "alert_phone": "212 555 0199",
}


def test_settings_are_saved(owner, session, business):
    page = owner.get("/settings/").get_data(as_text=True)
    for name in SETTINGS:
        assert f'<label for="f-{name}">' in page  # a label on every input
    response = post(owner, "/settings/", SETTINGS)
    assert response.status_code == 302
    saved = reload(session, business)
    assert (
        saved.name,
        saved.number,
        saved.timezone,
        saved.window_start,
        saved.window_end,
        saved.review_url,
        saved.alert_phone,
    ) == (
        "Bloom Hair & Color",
        "+12125550100",
        "America/Chicago",
        "10:00",
        "19:30",
        "https://g.page/r/bloom/review",
        "+12125550199",
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("timezone", "Mars/Olympus", "is not a time zone"),
        ("window_end", "08:00", "start must be before its end"),
        ("review_url", "http://example.com", "https://"),
        ("alert_phone", "555", "not a valid phone number"),
        ("messaging_service_sid", "XX123", "MG"),
        ("name", "   ", "business name"),
        ("number", "", "sending number or a Messaging Service SID"),
    ],
)
def test_a_bad_setting_saves_nothing(owner, session, business, field, value, message):
    response = post(owner, "/settings/", {**SETTINGS, field: value})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True)
    saved = reload(session, business)
    assert saved.name == "Bloom Hair Studio" and saved.timezone == "America/New_York"


def test_another_business_number_cannot_be_taken(owner, session, business, clock):
    garage = other_business(session, clock)
    session.commit()
    response = post(owner, "/settings/", {**SETTINGS, "number": garage.number})
    assert response.status_code == 422 and "belongs to another business" in response.get_data(
        as_text=True
    )


def test_an_api_key_is_shown_once_works_and_stops_when_revoked(owner, client, session, business):
    created = post(
        owner, "/settings/keys", {"label": "Booking system"}, token_path="/settings/keys"
    )
    assert created.status_code == 200
    assert created.headers["Cache-Control"] == "no-store"
    raw = re.search(
        r'id="new-key"[^>]*>(rk_[^<]+)</textarea>', created.get_data(as_text=True)
    ).group(1)
    listing = owner.get("/settings/keys").get_data(as_text=True)
    assert raw not in listing and raw[:10] in listing and "Booking system" in listing
    auth = {"Authorization": f"Bearer {raw}"}
    assert client.get("/api/v1/business", headers=auth).status_code == 200
    key = session.exec(select(ApiKey).where(ApiKey.label == "Booking system")).one()
    session.commit()
    assert post(owner, f"/settings/keys/{key.id}/revoke").status_code == 302
    assert client.get("/api/v1/business", headers=auth).status_code == 401
    assert "Revoked" in owner.get("/settings/keys").get_data(as_text=True)


def test_a_key_needs_a_name(owner, session):
    response = post(owner, "/settings/keys", {"label": ""}, token_path="/settings/keys")
    assert response.status_code == 422 and "Name the key" in response.get_data(as_text=True)


# ---- texts --------------------------------------------------------------------------------


def test_texts_list_every_editable_kind(owner):
    page = owner.get("/templates/").get_data(as_text=True)
    assert "Thank-you after a visit" in page and "Review request" in page
    # Each shows what a new customer gets first, STOP line and all.
    assert "Hi Maria, thank you for visiting Bloom Hair Studio" in page
    assert "anything we can do for you. Reply STOP to opt out." in page
    assert owner.get("/templates/not_a_kind").status_code == 404


def test_a_template_is_saved_previewed_and_reset(owner, session, business):
    source = (
        'Thanks {{ first_name or "friend" }}! Love, {{ business_name }}'
        " {% if staff_name %}& {{ staff_name }}{% endif %}"
    )
    preview = post(owner, "/templates/thank_you", {"source": source, "action": "preview"})
    assert "Thanks Christopher! Love, Bloom Hair Studio &amp; Alexandra" in preview.get_data(
        as_text=True
    )
    assert business_source(session, business.id, "thank_you") == default_source("thank_you")
    session.commit()
    saved = post(owner, "/templates/thank_you", {"source": source, "action": "save"})
    assert saved.status_code == 302
    assert business_source(session, business.id, "thank_you") == source
    session.commit()
    page = owner.get("/templates/thank_you").get_data(as_text=True)
    assert "Your version" in page and "Reset to the default text" in page
    assert post(owner, "/templates/thank_you/reset").status_code == 302
    assert business_source(session, business.id, "thank_you") == default_source("thank_you")
    session.commit()


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ ''.__class__.__mro__[1].__subclasses__() }}", "only use merge fields"),
        ("{{ config.SECRET_KEY }}", "only use merge fields"),  # no attributes at all
        ("{{ request.environ }}", "only use merge fields"),
        ("{{ config }}", "is undefined"),
        ("{{ review_link }}", "is undefined"),  # not a field of this kind
        ("Hi {% if %}", "Line 1"),
        ("", "empty"),
    ],
)
def test_templates_reach_nothing_but_their_merge_fields(owner, session, business, source, message):
    response = post(owner, "/templates/thank_you", {"source": source, "action": "save"})
    assert response.status_code == 422
    assert message in response.get_data(as_text=True).replace("&#39;", "'")
    assert session.exec(select(BusinessTemplate)).all() == []
    session.commit()


def test_the_live_preview_answers_json(owner):
    token = token_for(owner, "/templates/review_request")
    good = owner.post(
        "/templates/review_request/preview",
        data={"csrf_token": token, "text": "Review us: [Review link]"},
    )
    answer = good.get_json()
    assert answer["ok"] is True and answer["error"] is None
    assert answer["source"] == "Review us: {{ review_link }}"  # the plain form, read back
    # What the page puts in place: each sample's text as it goes, with its count and cost.
    link = "https://regulars.test/l/xxxxxxxxxxxx"  # a tracked link's length, none made
    first = f"Bloom Hair Studio: Review us: {link} Reply STOP to opt out."
    assert first in html.unescape(answer["html"])
    assert f"{len(first)} characters · 1 text · about 1.1¢" in answer["html"]
    bad = owner.post(
        "/templates/review_request/preview", data={"csrf_token": token, "source": "{{ nope }}"}
    )
    assert bad.get_json()["ok"] is False and "nope" in bad.get_json()["error"]
    headers = owner.post("/templates/review_request/preview", data={"source": "x"})
    assert headers.status_code == 400  # no token, no preview


def test_staff_may_read_texts_but_not_change_them(app, session, business):
    add_user(session, business, STAFF_EMAIL, STAFF_PASSWORD, "staff")
    staff = app.test_client()
    sign_in(staff, STAFF_EMAIL, STAFF_PASSWORD)
    page = staff.get("/templates/thank_you").get_data(as_text=True)
    assert "readonly" in page and "Only an owner can change texts." in page
    token = token_for(staff, "/templates/thank_you")
    response = staff.post("/templates/thank_you/preview", data={"csrf_token": token, "source": "x"})
    assert response.status_code == 403


def test_owner_sets_care_after_a_visit_and_bad_values_change_nothing(owner, business, session):
    page = owner.get("/settings/").get_data(as_text=True)
    assert 'action="/settings/care"' in page
    bad = post(owner, "/settings/care", {"review_mode": "ask_first", "rating_scale": "10",
               "thank_you_delay_minutes": "-5", "review_reminder_days": "3",
               "review_cooldown_days": "180", "unanswered_alert_minutes": "30"},
               token_path="/settings/")  # fmt: skip
    assert bad.status_code == 422
    assert "0 to 1440" in bad.get_data(as_text=True)
    session.refresh(business)
    assert (business.review_mode, business.thank_you_delay_minutes) == ("direct", 30)
    session.rollback()  # end the read: SQLite lets one writer at a time
    good = post(owner, "/settings/care", {"review_mode": "ask_first", "rating_scale": "10",
                "thank_you_delay_minutes": "15", "review_reminder_days": "4",
                "review_cooldown_days": "90", "unanswered_alert_minutes": "20",
                "missed_call_textback": "on"}, token_path="/settings/")  # fmt: skip
    assert good.status_code == 302
    session.refresh(business)
    assert (business.review_mode, business.rating_scale) == ("ask_first", 10)
    assert (business.thank_you_delay_minutes, business.review_reminder_days) == (15, 4)
    assert (business.review_cooldown_days, business.unanswered_alert_minutes) == (90, 20)
    assert business.missed_call_textback is True
    assert business.after_hours_reply is False  # an unticked box is off
