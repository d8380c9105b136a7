"""The JSON API: bearer keys, error shape, business settings, customers, visits, messages."""

from __future__ import annotations

import os
import tempfile
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func
from sqlmodel import Session, select

from app.care.businesses import create_business, issue_api_key
from app.care.customers import find_or_create, set_consent
from app.care.inbound import receive_text
from app.care.outbound import queue_text
from app.care.texts import SMS_TEMPLATES
from app.care.visits import record_visit
from app.contract.commands import VisitCreate
from app.models import ApiKey, Business, ConsentEvent, Customer, Message, Visit
from app.sms.webhooks import inbound_text
from tests.conftest import BUSINESS_NUMBER, CUSTOMER_PHONE, DAYTIME, inbound_form

OTHER_NUMBER = "+13125550100"
OTHER_CUSTOMER = "+13125550177"


def count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def assert_error(response, status: int, code: str | None = None) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    assert response.is_json, response.get_data(as_text=True)
    error = response.json["error"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], str) and error["code"]
    if code is not None:
        assert error["code"] == code, error
    return error


@pytest.fixture
def business_and_key(session, clock):
    """The conftest's business without its owner account: the API never needs the owner, and
    hashing the owner's password is most of a test's set-up time."""
    business = Business(
        name="Bloom Hair Studio",
        number=BUSINESS_NUMBER,
        timezone="America/New_York",
        review_url="https://g.page/r/bloom/review",
        created_at=clock.now(),
    )
    session.add(business)
    session.flush()
    key = issue_api_key(session, business, label="test", now=clock.now())
    session.commit()
    return business, key


@pytest.fixture
def other(session, clock):
    """A second business with a customer, a visit (with a planned thank-you) and a message."""
    biz, key = create_business(
        session,
        name="Other Garage",
        number=OTHER_NUMBER,
        timezone="America/Chicago",
        owner_email="owner@garage.test",
        owner_password="another long password",
        now=clock.now(),
    )
    recorded = record_visit(
        session,
        biz,
        VisitCreate(phone=OTHER_CUSTOMER, name="Olga Other", consent=True),
        now=clock.now(),
    )
    session.commit()
    assert len(recorded.planned) == 1
    return {
        "business": biz,
        "key": key,
        "customer_id": recorded.customer.id,
        "visit_id": recorded.visit.id,
        "message_id": recorded.planned[0].id,
    }


def each(cases, check) -> None:
    """Run `check` on every case (one business set-up for all) and report every failure."""
    failures = []
    for case in cases:
        try:
            check(case)
        except Exception as exc:  # noqa: BLE001 - collected and reported below
            failures.append(f"{case!r}: {type(exc).__name__}: {exc}"[:400])
    assert not failures, "\n".join(failures)


def customer_with(session, business, phone, *, consent=None, now=DAYTIME) -> Customer:
    customer, _ = find_or_create(session, business, phone, name="Casey Client", now=now)
    if consent:
        set_consent(session, customer, consent, source="keyword", now=now)
    session.commit()
    return customer


# ---- authentication ------------------------------------------------------------------------


BAD_AUTH = [
    {},
    {"Authorization": "Bearer"},
    {"Authorization": "Bearer rk_not-a-real-key"},
    {"Authorization": "Bearer not-even-the-prefix"},
    {"Authorization": "Basic dXNlcjpwYXNz"},
]


def test_missing_or_invalid_key_is_401(client, business, engine):
    for headers in BAD_AUTH:
        for path in ["/api/v1/business", "/api/v1/customers", "/api/v1/customers/1"]:
            assert_error(client.get(path, headers=headers), 401)
        response = client.post(
            "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=headers
        )
        assert_error(response, 401)
    assert count(engine, Visit) == 0
    assert count(engine, Customer) == 0


def test_key_works_case_insensitive_scheme(client, business, api_key):
    response = client.get("/api/v1/business", headers={"Authorization": f"bearer {api_key}"})
    assert response.status_code == 200
    assert response.json["id"] == business.id


def test_revoked_key_is_401(client, business, auth, session, clock):
    assert client.get("/api/v1/business", headers=auth).status_code == 200
    key = session.exec(select(ApiKey).where(ApiKey.business_id == business.id)).one()
    key.revoked_at = clock.now()
    session.add(key)
    session.commit()
    assert_error(client.get("/api/v1/business", headers=auth), 401)


def test_other_business_ids_are_404_and_change_nothing(client, auth, other, engine):
    cid, mid, vid = other["customer_id"], other["message_id"], other["visit_id"]
    for path in [
        f"/api/v1/customers/{cid}",
        f"/api/v1/customers/{cid}/messages",
        f"/api/v1/messages/{mid}",
    ]:
        response = client.get(path, headers=auth)
        error = assert_error(response, 404, "not_found")
        assert "Olga" not in response.get_data(as_text=True), path
        assert set(response.json) == {"error"}, error
    response = client.post(f"/api/v1/visits/{vid}/cancel", headers=auth)
    assert_error(response, 404, "not_found")
    response = client.post(
        "/api/v1/messages", json={"customer_id": cid, "body": "hello"}, headers=auth
    )
    assert_error(response, 404, "not_found")
    # Looking the other business's customer up by phone finds nothing here.
    response = client.get("/api/v1/customers", query_string={"phone": OTHER_CUSTOMER}, headers=auth)
    assert response.json == {"items": [], "next_cursor": None}
    with Session(engine) as s:
        assert s.get(Visit, vid).status == "completed"
        assert s.get(Message, mid).status == "scheduled"
    assert count(engine, Message) == 1
    # ... while the other business's own key sees them.
    own = {"Authorization": f"Bearer {other['key']}"}
    assert client.get(f"/api/v1/customers/{cid}", headers=own).json["name"] == "Olga Other"
    assert client.get(f"/api/v1/messages/{mid}", headers=own).json["kind"] == "thank_you"


def test_missing_ids_are_404(client, auth):
    for path in ["/api/v1/customers/999", "/api/v1/messages/999", "/api/v1/customers/999/messages"]:
        assert_error(client.get(path, headers=auth), 404, "not_found")
    assert_error(client.post("/api/v1/visits/999/cancel", headers=auth), 404, "not_found")


def test_unknown_api_route_and_wrong_method_answer_json_errors(client, auth):
    assert_error(client.get("/api/v1/no-such-thing", headers=auth), 404)
    assert_error(client.delete("/api/v1/business", headers=auth), 405)


# ---- business ------------------------------------------------------------------------------


def test_get_business_has_the_designed_fields(client, auth, business):
    response = client.get("/api/v1/business", headers=auth)
    assert response.status_code == 200
    body = response.json
    assert body["id"] == business.id
    assert body["name"] == "Bloom Hair Studio"
    assert body["number"] == BUSINESS_NUMBER
    assert body["messaging_service_sid"] is None
    assert body["timezone"] == "America/New_York"
    assert body["sending_window"] == {"start": "09:00", "end": "20:00"}
    assert body["send_rate_per_second"] == 1
    assert body["thank_you_delay_minutes"] == 30
    assert body["review_url"] == "https://g.page/r/bloom/review"
    assert body["alert_phone"] is None


BAD_PATCHES = [
    {"timezone": "Mars/Olympus_Mons"},
    {"timezone": None},
    {"sending_window": {"start": "20:00", "end": "09:00"}},
    {"sending_window": {"start": "10:00", "end": "10:00"}},
    {"sending_window": {"start": "9am", "end": "17:00"}},
    {"sending_window": {"start": "25:00", "end": "26:00"}},
    {"sending_window": {"start": "09:00", "end": "20:00", "tz": "x"}},
    {"sending_window": "09:00-20:00"},
    {"send_rate_per_second": 0},
    {"send_rate_per_second": 101},
    {"send_rate_per_second": "2"},
    {"thank_you_delay_minutes": -1},
    {"thank_you_delay_minutes": 100000},
    {"thank_you_delay_minutes": None},
    {"daily_automated_cap": None},
    {"review_url": "http://g.page/r/bloom/review"},
    {"review_url": "javascript:alert(1)"},
    {"alert_phone": "12"},
    {"name": ""},
    {"provider_handles_opt_out": "yes"},
    {"messaging_service_sid": "not-a-sid"},
    {"favourite_colour": "teal"},
    # A valid change next to an invalid one: neither is applied.
    {"name": "Renamed", "timezone": "Nowhere/Land"},
    {"thank_you_delay_minutes": 5, "review_url": "ftp://example.com"},
]


def test_patch_business_rejects_bad_values_and_changes_nothing(client, auth):
    before = client.get("/api/v1/business", headers=auth).json

    def check(patch):
        response = client.patch("/api/v1/business", json=patch, headers=auth)
        assert_error(response, 422)
        assert client.get("/api/v1/business", headers=auth).json == before

    each(BAD_PATCHES, check)


def test_patch_business_persists_valid_changes(client, auth, business, engine):
    patch = {
        "name": "Bloom Hair & Beauty",
        "timezone": "America/Chicago",
        "sending_window": {"start": "10:00", "end": "18:30"},
        "send_rate_per_second": 2.5,
        "thank_you_delay_minutes": 45,
        "review_url": "https://g.page/r/bloom2/review",
        "alert_phone": "(212) 555-0188",
    }
    response = client.patch("/api/v1/business", json=patch, headers=auth)
    assert response.status_code == 200, response.json
    again = client.get("/api/v1/business", headers=auth).json
    assert again == response.json
    for name, value in patch.items():
        if name != "alert_phone":
            assert again[name] == value, name
    assert again["alert_phone"] == "+12125550188"
    with Session(engine) as s:
        stored = s.get(Business, business.id)
        assert (stored.window_start, stored.window_end) == ("10:00", "18:30")
        assert stored.thank_you_delay_minutes == 45
    # Clearing the review link is allowed.
    response = client.patch("/api/v1/business", json={"review_url": None}, headers=auth)
    assert response.status_code == 200
    assert client.get("/api/v1/business", headers=auth).json["review_url"] is None


# ---- customers -----------------------------------------------------------------------------


def test_create_then_update_customer_by_phone(client, auth, engine):
    response = client.post(
        "/api/v1/customers",
        json={"phone": "(212) 555-0123", "name": "Maria Lopez", "email": "maria@example.com"},
        headers=auth,
    )
    assert response.status_code == 201, response.json
    created = response.json
    assert created["phone"] == CUSTOMER_PHONE
    assert created["name"] == "Maria Lopez"
    assert created["consent"] == "unknown"
    assert created["created_at"]
    response = client.post(
        "/api/v1/customers", json={"phone": "+1 212-555-0123", "name": "Maria L."}, headers=auth
    )
    assert response.status_code == 200, response.json
    assert response.json["id"] == created["id"]
    assert response.json["name"] == "Maria L."
    assert response.json["email"] == "maria@example.com"
    assert count(engine, Customer) == 1
    shown = client.get(f"/api/v1/customers/{created['id']}", headers=auth).json
    assert shown["name"] == "Maria L."


def test_malformed_phone_is_422_and_creates_nothing(client, auth, engine):
    def check(phone):
        response = client.post(
            "/api/v1/customers", json={"phone": phone, "name": "X", "consent": True}, headers=auth
        )
        assert_error(response, 422, "invalid_phone")
        assert count(engine, Customer) == 0
        assert count(engine, ConsentEvent) == 0

    each(["12", "555-0123", "+1 212 555 01234567", "+1 999 555 0123", "not a phone", ""], check)


def test_customer_consent_true_records_consent_and_event(client, auth, engine):
    response = client.post(
        "/api/v1/customers",
        json={"phone": CUSTOMER_PHONE, "consent": True, "consent_source": "front desk form"},
        headers=auth,
    )
    assert response.status_code == 201
    assert response.json["consent"] == "granted"
    assert response.json["consent_source"] == "front desk form"
    assert response.json["consent_at"] == "2026-03-10T15:00:00Z"
    with Session(engine) as s:
        events = s.exec(select(ConsentEvent)).all()
        assert [(e.customer_id, e.consent, e.source) for e in events] == [
            (response.json["id"], "granted", "front desk form")
        ]
    # Without a source, the API says where consent came from.
    response = client.post(
        "/api/v1/customers", json={"phone": "+12125550124", "consent": True}, headers=auth
    )
    assert response.json["consent_source"] == "api"


def test_api_consent_does_not_undo_an_opt_out(client, auth, session, business, engine):
    customer = customer_with(session, business, CUSTOMER_PHONE, consent="opted_out")
    response = client.post(
        "/api/v1/customers", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth
    )
    assert response.status_code == 200
    assert response.json["consent"] == "opted_out"
    with Session(engine) as s:
        assert s.get(Customer, customer.id).consent == "opted_out"


def test_lookup_by_phone_in_any_format(client, auth):
    created = client.post(
        "/api/v1/customers", json={"phone": CUSTOMER_PHONE, "name": "Maria"}, headers=auth
    ).json
    client.post("/api/v1/customers", json={"phone": "+12125550124"}, headers=auth)

    def check(query):
        response = client.get("/api/v1/customers", query_string={"phone": query}, headers=auth)
        assert response.status_code == 200
        assert [c["id"] for c in response.json["items"]] == [created["id"]]
        assert response.json["items"][0]["name"] == "Maria"
        assert response.json["next_cursor"] is None

    each(["(212) 555-0123", "212.555.0123", "+12125550123", "2125550123", "+1 212 555 0123"], check)


def test_lookup_of_unknown_phone_is_empty_list(client, auth):
    client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE}, headers=auth)
    response = client.get("/api/v1/customers", query_string={"phone": "+12125550999"}, headers=auth)
    assert response.status_code == 200
    assert response.json == {"items": [], "next_cursor": None}


def test_pagination_walks_every_customer(client, auth):
    phones = [f"+1212555{n:04d}" for n in range(131, 136)]
    for phone in phones:
        assert (
            client.post("/api/v1/customers", json={"phone": phone}, headers=auth).status_code == 201
        )
    seen, cursor, pages = [], None, 0
    while True:
        query = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        response = client.get("/api/v1/customers", query_string=query, headers=auth)
        assert response.status_code == 200, response.json
        pages += 1
        items = response.json["items"]
        assert 1 <= len(items) <= 2
        seen += [c["phone"] for c in items]
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
        assert isinstance(cursor, str)
        assert pages < 10
    assert pages == 3
    assert seen == phones


def test_bad_cursor_is_422(client, auth):
    client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE}, headers=auth)

    def check(cursor):
        response = client.get("/api/v1/customers", query_string={"cursor": cursor}, headers=auth)
        assert_error(response, 422)

    each(["abc", "-1", "1.5", "²", "9" * 30], check)


def test_bad_limit_is_422(client, auth):
    for limit in ["0", "201", "-3"]:
        response = client.get("/api/v1/customers", query_string={"limit": limit}, headers=auth)
        assert_error(response, 422)


# ---- visits --------------------------------------------------------------------------------


def test_visit_with_consent_plans_the_care_sequence(client, auth, engine):
    response = client.post(
        "/api/v1/visits",
        json={"phone": "(212) 555-0123", "name": "Maria Lopez", "consent": True, "staff": "Ana",
              "amount": 42.5},
        headers=auth,
    )  # fmt: skip
    assert response.status_code == 201, response.json
    visit = response.json
    assert visit["occurred_at"] == "2026-03-10T15:00:00Z"
    assert visit["staff"] == "Ana"
    assert visit["amount"] == 42.5
    assert visit["status"] == "completed"
    planned, review, reminder, ask = visit["planned"]
    assert [review["kind"], reminder["kind"]] == ["review_request", "review_reminder"]
    assert ask["kind"] == "referral_ask" and ask["send_at"] == "2026-03-17T15:00:00Z"  # a week
    assert review["send_at"] == "2026-03-11T15:00:00Z"  # the next day, inside the window
    assert reminder["send_at"] == "2026-03-14T15:00:00Z"  # three days after the request
    assert "https://regulars.test/l/" in review["body"]  # a tracked link on our own domain
    assert planned["kind"] == "thank_you"
    assert planned["status"] == "scheduled"
    assert planned["direction"] == "outbound"
    assert planned["customer_id"] == visit["customer_id"]
    assert planned["send_at"] == "2026-03-10T15:30:00Z"  # 30 minutes, 11:30 in New York
    assert "Bloom Hair Studio" in planned["body"] and "STOP" in planned["body"]
    assert visit.get("skipped", []) == []
    with Session(engine) as s:
        messages = s.exec(select(Message)).all()
        assert {m.visit_id for m in messages} == {visit["id"]}
        customer = s.get(Customer, visit["customer_id"])
        assert customer.consent == "granted"
        assert customer.phone == CUSTOMER_PHONE


def thank_yous(response) -> list[dict]:
    return [m for m in response.json["planned"] if m["kind"] == "thank_you"]


def test_visit_uses_the_business_delay(client, auth):
    client.patch("/api/v1/business", json={"thank_you_delay_minutes": 90}, headers=auth)
    response = client.post(
        "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth
    )
    assert [m["send_at"] for m in thank_yous(response)] == ["2026-03-10T16:30:00Z"]


def test_evening_visit_thank_you_waits_for_the_window(client, auth, clock):
    clock.set(datetime(2026, 3, 10, 23, 50, tzinfo=UTC))  # 19:50 in New York
    response = client.post(
        "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth
    )
    [planned] = thank_yous(response)
    # 20:20 is past the business's 20:00 end: the next opening is 09:00 the next morning.
    assert planned["send_at"] == "2026-03-11T13:00:00Z"


def test_visit_without_consent_plans_nothing_and_says_why(client, auth, engine):
    response = client.post(
        "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "name": "Sam"}, headers=auth
    )
    assert response.status_code == 201, response.json
    assert response.json["planned"] == []
    reasons = response.json["skipped"]
    assert any("thank_you" in reason and "consent" in reason for reason in reasons)
    assert count(engine, Message) == 0
    assert count(engine, Visit) == 1


def test_visit_occurred_at_formats(client, auth):
    cases = [
        # (occurred_at, stored as, thank-you at); naive times are the business's (New York)
        ("2026-03-10T10:50:00", "2026-03-10T14:50:00Z", "2026-03-10T15:20:00Z"),
        ("2026-03-10T14:40:00Z", "2026-03-10T14:40:00Z", "2026-03-10T15:10:00Z"),
        ("2026-03-10T09:45:00-05:00", "2026-03-10T14:45:00Z", "2026-03-10T15:15:00Z"),
    ]

    def check(case):
        occurred_at, expected, send_at = case
        # A fresh customer each time: the daily cap allows one automated text per customer.
        phone = f"+1212555{cases.index(case) + 140:04d}"
        response = client.post(
            "/api/v1/visits",
            json={"phone": phone, "consent": True, "occurred_at": occurred_at},
            headers=auth,
        )
        assert response.status_code == 201, response.json
        assert response.json["occurred_at"] == expected
        assert [m["send_at"] for m in thank_yous(response)] == [send_at]

    each(cases, check)


BAD_VISITS = [
    ({"phone": CUSTOMER_PHONE, "occurred_at": "2026-03-11T15:00:00Z"}, None),  # tomorrow
    ({"phone": CUSTOMER_PHONE, "occurred_at": "yesterday"}, None),
    ({"phone": "555", "consent": True}, "invalid_phone"),
    ({"phone": "+1 999 555 0123", "consent": True}, "invalid_phone"),
    ({"name": "No Phone", "consent": True}, None),
    ({"phone": CUSTOMER_PHONE, "consent": "yes"}, None),
    ({"phone": CUSTOMER_PHONE, "amount": -5}, None),
    ({"phone": CUSTOMER_PHONE, "coupon": "X"}, "unknown_field"),
]


def test_bad_visit_is_422_and_records_nothing(client, auth, engine):
    def check(case):
        payload, code = case
        response = client.post("/api/v1/visits", json=payload, headers=auth)
        assert_error(response, 422, code)
        assert count(engine, Customer) == 0
        assert count(engine, Visit) == 0
        assert count(engine, Message) == 0
        assert count(engine, ConsentEvent) == 0

    each(BAD_VISITS, check)


def test_cancel_visit_cancels_pending_follow_ups(client, auth, engine):
    visit = client.post(
        "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth
    ).json
    response = client.post(f"/api/v1/visits/{visit['id']}/cancel", headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "canceled"
    assert [(m["kind"], m["status"]) for m in response.json["planned"]] == [
        ("thank_you", "canceled"),
        ("review_request", "canceled"),
        ("review_reminder", "canceled"),
        ("referral_ask", "canceled"),
    ]
    with Session(engine) as s:
        assert s.get(Visit, visit["id"]).status == "canceled"
        assert s.get(Message, visit["planned"][0]["id"]).status == "canceled"
    shown = client.get(f"/api/v1/messages/{visit['planned'][0]['id']}", headers=auth)
    assert shown.json["status"] == "canceled"


# ---- messages ------------------------------------------------------------------------------


def test_send_text_to_consenting_customer(client, auth, session, business):
    customer = customer_with(session, business, CUSTOMER_PHONE, consent="granted")
    response = client.post(
        "/api/v1/messages", json={"customer_id": customer.id, "body": "Your coat is here."},
        headers=auth,
    )  # fmt: skip
    assert response.status_code == 202, response.json
    message = response.json
    assert message["status"] == "scheduled"
    assert message["direction"] == "outbound"
    assert message["kind"] == "manual"
    assert message["customer_id"] == customer.id
    assert message["segments"] == 1
    assert message["encoding"] == "GSM-7"
    assert message["error_code"] is None and message["provider_sid"] is None
    assert message["send_at"] == "2026-03-10T15:00:00Z"
    assert "Your coat is here." in message["body"]
    assert "Bloom Hair Studio" in message["body"] and "STOP" in message["body"]  # first text

    shown = client.get(f"/api/v1/messages/{message['id']}", headers=auth)
    assert shown.status_code == 200
    assert shown.json == message
    thread = client.get(f"/api/v1/customers/{customer.id}/messages", headers=auth)
    assert thread.status_code == 200
    assert thread.json == {"items": [message], "next_cursor": None}


def test_send_text_by_phone_and_template_and_unicode(client, auth, session, business):
    customer_with(session, business, CUSTOMER_PHONE, consent="granted")
    response = client.post(
        "/api/v1/messages", json={"phone": "212-555-0123", "template": "thank_you"}, headers=auth
    )
    assert response.status_code == 202, response.json
    assert response.json["body"].startswith("Hi Casey, thank you for visiting Bloom Hair Studio")
    response = client.post(
        "/api/v1/messages", json={"phone": CUSTOMER_PHONE, "body": "See you soon 💇"}, headers=auth
    )
    assert response.status_code == 202
    assert response.json["encoding"] == "UCS-2"
    assert response.json["segments"] == 1


def test_text_to_opted_out_customer_is_409(client, auth, session, business, engine):
    customer = customer_with(session, business, CUSTOMER_PHONE, consent="opted_out")
    response = client.post(
        "/api/v1/messages", json={"customer_id": customer.id, "body": "Hello?"}, headers=auth
    )
    assert_error(response, 409, "opted_out")
    response = client.post(
        "/api/v1/messages", json={"phone": CUSTOMER_PHONE, "template": "thank_you"}, headers=auth
    )
    assert_error(response, 409, "opted_out")
    assert count(engine, Message) == 0


def test_text_without_consent_is_409(client, auth, session, business, engine):
    customer = customer_with(session, business, CUSTOMER_PHONE)
    response = client.post(
        "/api/v1/messages", json={"customer_id": customer.id, "body": "Hello"}, headers=auth
    )
    assert_error(response, 409, "no_consent")
    assert count(engine, Message) == 0


def test_text_to_customer_who_texted_first_is_allowed(client, auth, session, business, clock):
    customer = customer_with(session, business, CUSTOMER_PHONE)
    customer.last_inbound_at = clock.now()
    session.add(customer)
    session.commit()
    response = client.post(
        "/api/v1/messages", json={"customer_id": customer.id, "body": "Sure, 3pm works."},
        headers=auth,
    )  # fmt: skip
    assert response.status_code == 202, response.json


BAD_MESSAGES = [
    {"body": "Hi", "template": "thank_you"},
    {},
    {"body": ""},
    {"template": "no_such_template"},
    {"template": "../web/base"},
    {"body": "x" * 1601},
    {"body": 5},
    {"body": "Hi", "priority": "high"},
    {"body": "Hi", "customer_id": "one"},
]


def test_bad_message_is_422_and_queues_nothing(client, auth, session, business, engine):
    customer = customer_with(session, business, CUSTOMER_PHONE, consent="granted")

    def check(payload):
        response = client.post(
            "/api/v1/messages", json={"customer_id": customer.id, **payload}, headers=auth
        )
        assert_error(response, 422)
        assert count(engine, Message) == 0

    each(BAD_MESSAGES, check)


def test_template_name_cannot_read_files_outside_the_templates(client, auth, session, business):
    """A template is one of the named texts, not a path: no other file is read and sent."""
    customer = customer_with(session, business, CUSTOMER_PHONE, consent="granted")
    with tempfile.NamedTemporaryFile("w", suffix=".txt", dir=tempfile.gettempdir()) as handle:
        handle.write("server secret 8c1f")
        handle.flush()
        stem = handle.name.removesuffix(".txt")
        names = [stem, os.path.relpath(stem, SMS_TEMPLATES)]  # absolute and relative paths
        names = [name for name in names if len(name) <= 40]  # the field's length limit
        if not names:
            pytest.skip("the temporary directory's path is too long for the template field")

        def check(name):
            response = client.post(
                "/api/v1/messages", json={"customer_id": customer.id, "template": name},
                headers=auth,
            )  # fmt: skip
            assert "8c1f" not in response.get_data(as_text=True)
            assert_error(response, 422)

        each(names, check)
    assert count(session.get_bind(), Message) == 0


def test_message_to_unknown_phone_is_404(client, auth):
    response = client.post(
        "/api/v1/messages", json={"phone": "+12125550999", "body": "Hi"}, headers=auth
    )
    assert_error(response, 404, "not_found")


def test_conversation_lists_inbound_and_outbound_in_order(client, auth, session, business, clock):
    customer = customer_with(session, business, CUSTOMER_PHONE, consent="granted")
    first = queue_text(session, business, customer, "One", "manual", now=clock.now())
    session.commit()
    reply = receive_text(
        session, inbound_text(inbound_form("Thanks!", sid="SM" + "9" * 32)), now=clock.now()
    )
    second = queue_text(session, business, customer, "Two", "manual", now=clock.now())
    session.commit()
    path = f"/api/v1/customers/{customer.id}/messages"
    response = client.get(path, query_string={"limit": 2}, headers=auth)
    items = response.json["items"]
    assert [m["id"] for m in items] == [first.id, reply.message_id]
    assert [m["direction"] for m in items] == ["outbound", "inbound"]
    assert items[1]["status"] == "received" and items[1]["body"] == "Thanks!"
    cursor = response.json["next_cursor"]
    response = client.get(path, query_string={"limit": 2, "cursor": cursor}, headers=auth)
    assert [m["id"] for m in response.json["items"]] == [second.id]
    assert response.json["next_cursor"] is None


# ---- request bodies ------------------------------------------------------------------------


def test_non_json_body_is_400(client, auth, engine):
    before = client.get("/api/v1/business", headers=auth).json

    def check(case):
        data, content_type = case
        for path in ["/api/v1/customers", "/api/v1/visits", "/api/v1/messages"]:
            response = client.post(path, data=data, content_type=content_type, headers=auth)
            assert_error(response, 400, "invalid_json")
        response = client.patch(
            "/api/v1/business", data=data, content_type=content_type, headers=auth
        )
        assert_error(response, 400, "invalid_json")

    each(
        [
            ("phone=%2B12125550123", "application/x-www-form-urlencoded"),
            ('{"phone": "+12125550123"}', "text/plain"),
            ("{not json", "application/json"),
            ('["a", "list"]', "application/json"),
            ("", "application/json"),
        ],
        check,
    )
    assert count(engine, Customer) == 0
    assert count(engine, Visit) == 0
    assert client.get("/api/v1/business", headers=auth).json == before


def test_oversized_body_is_413_json(client, auth, engine):
    payload = '{"phone": "+12125550123", "name": "' + "x" * (64 * 1024) + '"}'
    response = client.post(
        "/api/v1/customers", data=payload, content_type="application/json", headers=auth
    )
    assert_error(response, 413)
    assert count(engine, Customer) == 0


# ---- openapi and segments ------------------------------------------------------------------

DESIGN_ROUTES = {
    "/api/v1/openapi.json": {"get"},
    "/api/v1/business": {"get", "patch"},
    "/api/v1/customers": {"get", "post"},
    "/api/v1/customers/{id}": {"get"},
    "/api/v1/visits": {"post"},
    "/api/v1/visits/{id}/cancel": {"post"},
    "/api/v1/messages": {"post"},
    "/api/v1/messages/{id}": {"get"},
    "/api/v1/customers/{id}/messages": {"get"},
}


def test_openapi_document_describes_every_route(client):
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    document = response.get_json()
    assert document["openapi"].startswith("3.")
    paths = document["paths"]
    missing = {
        f"{method.upper()} {path}"
        for path, methods in DESIGN_ROUTES.items()
        for method in methods
        if method not in paths.get(path, {})
    }
    assert not missing, sorted(missing)


@pytest.mark.parametrize(
    "body, segments, encoding",
    [
        ("Hello there", 1, "GSM-7"),
        ("x" * 160, 1, "GSM-7"),
        ("x" * 161, 2, "GSM-7"),
        ("Thanks 😊", 1, "UCS-2"),
        ("é" * 10 + "😊" * 40, 2, "UCS-2"),
    ],
)
def test_segments_endpoint_counts(client, body, segments, encoding):
    response = client.post("/api/v1/segments", json={"body": body})
    assert response.status_code == 200
    assert response.json["segments"] == segments
    assert response.json["encoding"] == encoding


def test_segments_endpoint_rejects_bad_bodies(client):
    assert_error(client.post("/api/v1/segments", json={"body": None}), 422)
    assert_error(client.post("/api/v1/segments", json={"body": "x" * 1601}), 422)
    assert_error(client.post("/api/v1/segments", data="nope", content_type="text/plain"), 400)


def test_visit_older_than_two_days_plans_nothing(client, auth, clock):
    old = (clock.now() - timedelta(days=3)).isoformat()
    response = client.post(
        "/api/v1/visits", json={"phone": CUSTOMER_PHONE, "consent": True, "occurred_at": old},
        headers=auth,
    )  # fmt: skip
    assert response.status_code == 201
    assert response.json["planned"] == []
    assert "two days" in response.json["skipped"][0]
