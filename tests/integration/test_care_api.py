"""The care surface around the plan: template copies, care settings, tracked links, the voice
webhook and the import-visits command."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import Session, func, select

from app.care import texts
from app.care.businesses import create_business
from app.models import BusinessTemplate, Customer, Message, TrackedLink, Visit
from tests.conftest import (
    ACCOUNT_SID,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    FAST_PASSWORD_METHOD,
    PUBLIC_BASE,
    post_signed,
    sign,
)

LINK = re.compile(re.escape(PUBLIC_BASE) + r"/l/([^\s]+)")


def count(engine, model, *where) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(model).where(*where)).one()


def visit(client, auth, phone=CUSTOMER_PHONE, name="Maria Lopez", **extra) -> dict:
    payload = {"phone": phone, "name": name, "consent": True, **extra}
    response = client.post("/api/v1/visits", json=payload, headers=auth)
    assert response.status_code == 201, response.json
    return response.json


def template_of(client, auth, kind: str) -> dict:
    response = client.get("/api/v1/templates", headers=auth)
    assert response.status_code == 200
    [item] = [t for t in response.json["items"] if t["kind"] == kind]
    return item


# ---- templates ------------------------------------------------------------------------------


def test_templates_list_every_editable_text_with_its_fields(client, auth):
    response = client.get("/api/v1/templates", headers=auth)
    assert response.status_code == 200
    items = {t["kind"]: t for t in response.json["items"]}
    assert set(items) == set(texts.EDITABLE_KINDS)
    assert {"thank_you", "review_request", "review_reminder", "feedback_question",
            "feedback_thanks", "referral_ask", "referral_reward", "after_hours",
            "missed_call", "help", "owner_alert"} <= set(items)  # fmt: skip
    assert items["review_request"]["merge_fields"] == [
        "first_name", "business_name", "staff_name", "review_link",
    ]  # fmt: skip
    assert not any(t["customized"] for t in items.values())
    assert items["thank_you"]["body"] == texts.default_source("thank_you")


def test_a_template_with_a_syntax_error_is_refused_and_nothing_is_saved(client, auth, engine):
    broken = {"body": "Hi {{ first_name }, thanks for coming to {{ business_name }}!"}
    response = client.put("/api/v1/templates/thank_you", json=broken, headers=auth)
    assert response.status_code == 422
    error = response.json["error"]
    assert error["code"] == "invalid_template" and error["field"] == "body"
    assert "Line 1" in error["message"]
    assert count(engine, BusinessTemplate) == 0
    assert template_of(client, auth, "thank_you")["customized"] is False


def test_a_broken_edit_leaves_the_previous_copy_in_place(client, auth):
    good = {"body": "Thanks {{ first_name }}! - {{ business_name }}"}
    assert client.put("/api/v1/templates/thank_you", json=good, headers=auth).status_code == 200
    broken = {"body": "Thanks {% if first_name %}{{ first_name }}!"}  # unclosed block
    assert client.put("/api/v1/templates/thank_you", json=broken, headers=auth).status_code == 422
    assert template_of(client, auth, "thank_you")["body"] == good["body"]


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__ }}",
        "{{ business_name.__class__.__base__.__subclasses__() }}",
        "{{ first_name|attr('__class__') }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ lipsum.__globals__['os'] }}",
        "{{ self.__init__.__globals__ }}",
        "{% set x = [] %}{{ x.append(1) }}",
        "{{ config }}",
        "{{ request.environ }}",
        "{% include '/etc/passwd' %}",
        "{% import 'help.txt' as h %}{{ h }}",
        "{% extends 'base.html' %}",
    ],
)
def test_sandbox_escape_attempts_are_refused_at_save(client, auth, engine, source):
    response = client.put("/api/v1/templates/thank_you", json={"body": source}, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] == "invalid_template"
    assert count(engine, BusinessTemplate) == 0


@pytest.mark.parametrize(
    "source",
    [
        "{{ first_name * 200 }}",  # renders past what one text can carry
        "{% for i in range(300) %}{{ business_name }} {% endfor %}",
        "{{ 'x' * 9999 }}",
    ],
)
def test_a_template_too_long_to_send_is_refused_at_save(client, auth, engine, source):
    # Otherwise it saves, then every planned text of that kind is refused when it is queued.
    response = client.put("/api/v1/templates/thank_you", json={"body": source}, headers=auth)
    assert response.status_code == 422, response.json
    assert count(engine, BusinessTemplate) == 0


def test_a_merge_field_of_another_text_is_refused(client, auth):
    # A thank-you has no review link yet; the owner hears which fields it can use.
    body = {"body": "Thanks {{ first_name }}! Review us: {{ review_link }}"}
    response = client.put("/api/v1/templates/thank_you", json=body, headers=auth)
    assert response.status_code == 422
    assert "{{ first_name }}" in response.json["error"]["message"]


@pytest.mark.parametrize(
    ("kind", "payload", "status"),
    [
        ("no_such_text", {"body": "Hi"}, 404),
        ("opt_out_confirmation", {"body": "Bye"}, 404),  # the law's wording is not editable
        ("thank_you", {}, 422),
        ("thank_you", {"body": ""}, 422),
        ("thank_you", {"body": "   "}, 422),
        ("thank_you", {"body": "x" * (texts.MAX_TEMPLATE_CHARS + 1)}, 422),
        ("thank_you", {"body": 5}, 422),
        ("thank_you", {"body": "Hi", "kind": "help"}, 422),
    ],
)
def test_template_requests_that_are_refused(client, auth, engine, kind, payload, status):
    response = client.put(f"/api/v1/templates/{kind}", json=payload, headers=auth)
    assert response.status_code == status, response.json
    assert "error" in response.json
    assert count(engine, BusinessTemplate) == 0


def test_a_valid_edit_is_used_by_the_next_planned_text_and_delete_resets_it(client, auth):
    source = ("Thanks {{ first_name or 'friend' }} for coming to {{ business_name }}"
              "{% if staff_name %}, {{ staff_name }} says hi{% endif %}!")  # fmt: skip
    response = client.put("/api/v1/templates/thank_you", json={"body": source}, headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["preview"] == (
        "Thanks Christopher for coming to Bloom Hair Studio, Alexandra says hi!"
    )
    assert (response.json["segments"], response.json["encoding"]) == (1, "GSM-7")
    assert template_of(client, auth, "thank_you")["customized"] is True

    planned = visit(client, auth, staff="Ana")["planned"][0]
    assert planned["body"].startswith("Thanks Maria for coming to Bloom Hair Studio, Ana says hi!")
    # Other texts keep their defaults.
    assert template_of(client, auth, "review_request")["customized"] is False

    response = client.delete("/api/v1/templates/thank_you", headers=auth)
    assert response.status_code == 200
    assert response.json == {"kind": "thank_you", "body": texts.default_source("thank_you"),
                             "customized": False}  # fmt: skip
    again = visit(client, auth, phone="+12125550124", name="Sam Rivera")["planned"][0]
    assert again["body"].startswith("Hi Sam, thank you for visiting Bloom Hair Studio today!")
    # Resetting a text that has no copy is fine too.
    assert client.delete("/api/v1/templates/thank_you", headers=auth).status_code == 200
    assert client.delete("/api/v1/templates/nope", headers=auth).status_code == 404


def test_one_business_copy_does_not_change_another_business(client, auth, session, clock):
    _other, other_key = create_business(
        session, name="Corner Garage", number="+12125550111", timezone="America/New_York",
        owner_email="owner@garage.test", owner_password="another long password",
        review_url="https://g.page/r/garage", now=clock.now(),
        password_method=FAST_PASSWORD_METHOD,
    )  # fmt: skip
    session.commit()
    mine = {"body": "Bloom loves you, {{ first_name }}!"}
    assert client.put("/api/v1/templates/thank_you", json=mine, headers=auth).status_code == 200
    other_auth = {"Authorization": f"Bearer {other_key}"}
    assert template_of(client, other_auth, "thank_you")["customized"] is False
    planned = visit(client, other_auth)["planned"][0]
    assert planned["body"].startswith("Hi Maria, thank you for visiting Corner Garage")


def test_templates_need_an_api_key(client):
    assert client.get("/api/v1/templates").status_code == 401
    assert client.put("/api/v1/templates/thank_you", json={"body": "Hi"}).status_code == 401
    assert client.delete("/api/v1/templates/thank_you").status_code == 401


# ---- care settings --------------------------------------------------------------------------

CARE_DEFAULTS = {
    "review_mode": "direct",
    "review_cooldown_days": 180,
    "review_reminder_days": 3,
    "unanswered_alert_minutes": 30,
    "after_hours_reply": True,
    "missed_call_textback": True,
}


def test_care_settings_have_defaults_and_can_be_changed(client, auth):
    business = client.get("/api/v1/business", headers=auth).json
    assert {k: business[k] for k in CARE_DEFAULTS} == CARE_DEFAULTS
    change = {
        "review_mode": "ask_first",
        "review_cooldown_days": 90,
        "review_reminder_days": 5,
        "unanswered_alert_minutes": 60,
        "after_hours_reply": False,
        "missed_call_textback": False,
    }
    response = client.patch("/api/v1/business", json=change, headers=auth)
    assert response.status_code == 200, response.json
    assert {k: response.json[k] for k in change} == change
    again = client.get("/api/v1/business", headers=auth).json
    assert {k: again[k] for k in change} == change


def test_the_reminder_delay_setting_moves_the_reminder(client, auth):
    client.patch("/api/v1/business", json={"review_reminder_days": 5}, headers=auth)
    planned = {m["kind"]: m for m in visit(client, auth)["planned"]}
    request_at = datetime.fromisoformat(planned["review_request"]["send_at"])
    reminder_at = datetime.fromisoformat(planned["review_reminder"]["send_at"])
    assert reminder_at - request_at == timedelta(days=5)


@pytest.mark.parametrize(
    "change",
    [
        {"review_mode": "happy_only"},  # no gating mode exists
        {"review_mode": None},
        {"review_mode": 1},
        {"review_cooldown_days": -1},
        {"review_cooldown_days": 3651},
        {"review_cooldown_days": "30"},
        {"review_cooldown_days": 30.5},
        {"review_cooldown_days": True},
        {"review_cooldown_days": None},
        {"review_reminder_days": 0},
        {"review_reminder_days": 31},
        {"unanswered_alert_minutes": 4},
        {"unanswered_alert_minutes": 1441},
        {"unanswered_alert_minutes": None},
        {"after_hours_reply": "yes"},
        {"after_hours_reply": 1},
        {"after_hours_reply": None},
        {"missed_call_textback": "false"},
        {"missed_call_textback": None},
        {"alert_phone": "call me"},
        # one bad field spoils the whole change: nothing else is applied either
        {"review_mode": "ask_first", "review_reminder_days": 0},
        {"after_hours_reply": False, "review_cooldown_days": -5},
    ],
)
def test_bad_care_settings_are_refused_and_change_nothing(client, auth, change):
    before = client.get("/api/v1/business", headers=auth).json
    response = client.patch("/api/v1/business", json=change, headers=auth)
    assert response.status_code == 422, response.json
    assert response.json["error"]["code"] in ("invalid_field", "invalid_phone")
    assert response.json["error"]["field"] in change
    assert client.get("/api/v1/business", headers=auth).json == before


def test_alert_phone_is_normalised_and_can_be_cleared(client, auth):
    response = client.patch("/api/v1/business", json={"alert_phone": "(212) 555-0199"},
                            headers=auth)  # fmt: skip
    assert response.json["alert_phone"] == "+12125550199"
    response = client.patch("/api/v1/business", json={"alert_phone": None}, headers=auth)
    assert response.status_code == 200 and response.json["alert_phone"] is None


# ---- tracked links --------------------------------------------------------------------------


def test_an_unknown_link_is_404_and_records_nothing(client, auth, engine):
    visit(client, auth)
    for token in ("AAAAAAAAAAAA", "nope", "x" * 40, "..%2F..%2Fetc"):
        assert client.get(f"/l/{token}").status_code == 404
    with Session(engine) as s:
        assert all(link.open_count == 0 for link in s.exec(select(TrackedLink)))


def test_tokens_are_unguessable_url_safe_and_differ_per_link(client, auth):
    tokens = []
    for n in range(5):
        planned = {m["kind"]: m for m in visit(client, auth, phone=f"+1212555{n:04d}")["planned"]}
        [token] = LINK.findall(planned["review_request"]["body"])
        assert LINK.findall(planned["review_reminder"]["body"]) == [token]  # one link per visit
        tokens.append(token)
    assert len(set(tokens)) == len(tokens)
    for token in tokens:
        assert len(token) >= 12
        assert re.fullmatch(r"[A-Za-z0-9_-]+", token), token


def test_an_open_is_recorded_and_redirects_without_caching(client, auth, engine, clock):
    planned = {m["kind"]: m for m in visit(client, auth)["planned"]}
    [token] = LINK.findall(planned["review_request"]["body"])
    clock.advance(hours=30)
    response = client.get(f"/l/{token}")
    assert response.status_code == 302
    assert response.headers["Location"] == "https://g.page/r/bloom/review"
    assert "no-store" in response.headers["Cache-Control"]
    assert response.headers["Referrer-Policy"] == "no-referrer"
    clock.advance(hours=1)
    client.get(f"/l/{token}")
    with Session(engine) as s:
        link = s.exec(select(TrackedLink).where(TrackedLink.token == token)).one()
        assert link.open_count == 2
        assert link.opened_at == datetime(2026, 3, 11, 21, 0, tzinfo=UTC)  # the first open
        reminder = s.get(Message, planned["review_reminder"]["id"])
        assert reminder.status == "canceled"


# ---- the voice webhook ----------------------------------------------------------------------

VOICE = "/webhooks/twilio/voice"
CALL = {"CallSid": "CA" + "1" * 32, "AccountSid": ACCOUNT_SID, "From": CUSTOMER_PHONE,
        "To": BUSINESS_NUMBER, "CallStatus": "ringing", "Direction": "inbound"}  # fmt: skip


def test_voice_webhook_unsigned_or_forged_is_403_and_texts_nobody(client, business, engine):
    assert client.post(VOICE, data=CALL).status_code == 403
    forged = sign(PUBLIC_BASE + VOICE, CALL, token="not-the-auth-token")
    assert client.post(VOICE, data=CALL, headers={"X-Twilio-Signature": forged}).status_code == 403
    tampered = {**CALL, "From": "+12125550177"}
    signature = sign(PUBLIC_BASE + VOICE, CALL)
    response = client.post(VOICE, data=tampered, headers={"X-Twilio-Signature": signature})
    assert response.status_code == 403
    assert count(engine, Customer) == 0 and count(engine, Message) == 0


def test_voice_webhook_for_a_number_nobody_owns_is_404(client, business, engine):
    response = post_signed(client, VOICE, {**CALL, "To": "+12125550999"})
    assert response.status_code == 404
    assert count(engine, Message) == 0


def test_voice_webhook_answers_twiml_and_plans_one_text(client, business, engine):
    response = post_signed(client, VOICE, CALL)
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert response.data.startswith(b'<?xml version="1.0" encoding="UTF-8"?><Response>')
    with Session(engine) as s:
        [text] = s.exec(select(Message)).all()
        assert (text.kind, text.status, text.to_number) == ("missed_call", "scheduled",
                                                            CUSTOMER_PHONE)  # fmt: skip


# ---- import-visits --------------------------------------------------------------------------


def _recent(hours: float) -> str:
    """A time `hours` ago by the command's own (real) clock, as a point-of-sale export has it."""
    return (datetime.now(UTC) - timedelta(hours=hours)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_import_visits_with_a_bad_row_imports_nothing(cli, engine, tmp_path, business):
    path = tmp_path / "visits.csv"
    path.write_text(
        "phone,name,consent,occurred_at,staff,amount\n"
        f"+12125550123,Maria Lopez,yes,{_recent(2)},Ana,45.00\n"
        f'(212) 555-0124,Sam Rivera,yes,{_recent(1)},Ben,"$1,250.50"\n'
        "+12125550125,Priya Shah,yes,yesterday at noon,Ana,30\n",
        encoding="utf-8",
    )
    code, out, err = cli("import-visits", str(path), "--business", str(business.id))
    assert code == 1
    assert out == ""
    assert "row 4" in err and "occurred_at" in err
    assert "row 2" not in err and "row 3" not in err
    assert count(engine, Visit) == 0
    assert count(engine, Customer) == 0
    assert count(engine, Message) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_import_visits_refuses_a_visit_in_the_future(cli, engine, tmp_path, business):
    path = tmp_path / "visits.csv"
    path.write_text(f"phone,occurred_at\n+12125550123,{_recent(-48)}\n", encoding="utf-8")
    code, _out, err = cli("import-visits", str(path), "--business", str(business.id))
    assert code == 1 and "future" in err
    assert count(engine, Visit) == 0


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_import_visits_records_visits_and_plans_follow_ups(cli, engine, tmp_path, business):
    path = tmp_path / "visits.csv"
    path.write_text(
        "Phone,Name,Consent,Occurred_At,Staff,Amount\n"
        f"+12125550123,Maria Lopez,yes,{_recent(2)},Ana,45.00\n"
        '(212) 555-0124,Sam Rivera,yes,,Ben,"$1,250.50"\n'
        f"+12125550125,Priya Shah,no,{_recent(3)},,\n",
        encoding="utf-8",
    )
    code, out, err = cli("import-visits", str(path), "--business", str(business.id))
    assert code == 0, err
    assert json.loads(out) == {"visits": 3}
    with Session(engine) as s:
        visits = {v.customer_id: v for v in s.exec(select(Visit))}
        customers = {c.phone: c for c in s.exec(select(Customer))}
        maria, sam, priya = (customers[p] for p in ("+12125550123", "+12125550124",
                                                    "+12125550125"))  # fmt: skip
        assert visits[maria.id].staff == "Ana" and visits[maria.id].source == "import"
        assert visits[sam.id].amount_cents == 125050
        assert maria.consent == "granted" and maria.consent_source == "import"
        assert priya.consent == "unknown"

        def plan(customer):
            return [m.kind for m in s.exec(select(Message).where(
                Message.customer_id == customer.id).order_by(Message.id))]  # fmt: skip

        assert plan(maria) == ["thank_you", "review_request", "review_reminder", "referral_ask"]
        assert plan(sam) == ["thank_you", "review_request", "review_reminder", "referral_ask"]
        assert plan(priya) == []  # no consent: nothing automated
        request = s.exec(select(Message).where(Message.customer_id == maria.id,
                                               Message.kind == "review_request")).one()  # fmt: skip
        assert LINK.search(request.body)  # a tracked link on the public origin


def test_template_with_loops_is_refused_at_save_without_running_them(client, auth):
    nested = "{% for i in range(100000) %}{% for j in range(100000) %}x{% endfor %}{% endfor %}"
    response = client.put("/api/v1/templates/thank_you", json={"body": nested}, headers=auth)
    assert response.status_code == 422
    assert "loops" in response.json["error"]["message"]


def test_ask_first_on_a_0_to_10_scale_feeds_nps(client, auth, session, business, clock):
    from app.care.automations import handle_reply
    from app.care.customers import find_or_create, set_consent
    from app.care.metrics import business_metrics

    response = client.patch(
        "/api/v1/business", json={"review_mode": "ask_first", "rating_scale": 10}, headers=auth
    )
    assert response.status_code == 200 and response.json["rating_scale"] == 10
    assert (
        client.patch("/api/v1/business", json={"rating_scale": 7}, headers=auth).status_code == 422
    )
    visit = client.post(
        "/api/v1/visits", json={"phone": "+12125550177", "consent": True}, headers=auth
    ).json
    question = [m for m in visit["planned"] if m["kind"] == "feedback_question"][0]
    assert "0 (not at all) to 10" in question["body"]
    session.refresh(business)
    answers = {"+12125550177": "9", "+12125550178": "10", "+12125550179": "3"}
    for phone, answer in answers.items():
        customer, _ = find_or_create(session, business, phone, now=clock.now())
        set_consent(session, customer, "granted", source="api", now=clock.now())
        customer.awaiting_rating_until = clock.now() + timedelta(days=1)
        handle_reply(session, business, customer, None, answer, now=clock.now(), base_url="")
    session.commit()
    metrics = business_metrics(session, business, clock.now() - timedelta(days=1),
                               clock.now() + timedelta(days=1), now=clock.now())  # fmt: skip
    assert metrics.nps_answers == 3
    assert metrics.nps == 33.3  # 2 promoters, 1 detractor
