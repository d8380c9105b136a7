"""One business never sees another's data, every POST needs a CSRF token, and what
customers type is shown as text."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.care.businesses import issue_api_key
from app.care.outbound import queue_text
from app.care.texts import business_source, default_source
from app.care.visits import record_visit
from app.contract.commands import VisitCreate
from app.models import ApiKey, BusinessTemplate, Customer, Message, Visit
from app.web.owner import BLUEPRINTS
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    add_user,
    conversation_with,
    other_business,
    post,
    sign_in,
)

THEIR_PHONE = "+13125550177"
EVIL = "<script>alert('pwned')</script>"
EVIL_BODY = '<img src=x onerror="alert(1)"> & <b>bold</b>'


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def theirs(session, clock):
    """Another business with a customer, a conversation, a scheduled text, a visit, a key,
    a template and a staff member."""
    garage = other_business(session, clock)
    customer = conversation_with(
        session, garage, THEIR_PHONE, "Is my car ready?", clock=clock, sid="SM" + "e" * 32
    )
    customer.name = "Gina Garage"
    session.add(customer)
    session.commit()
    visit = record_visit(
        session, garage, VisitCreate(phone=THEIR_PHONE, consent=True), now=clock.now()
    )
    scheduled = queue_text(
        session, garage, customer, "See you soon", "manual", now=clock.now(), send_at=clock.now()
    )
    scheduled_id = scheduled.id
    key_raw = issue_api_key(session, garage, label="garage pos")
    session.add(BusinessTemplate(business_id=garage.id, kind="thank_you", body="Garage thanks!"))
    mechanic = add_user(session, garage, "mech@garage.test", "mechanic password", "staff")
    session.commit()
    key = session.exec(select(ApiKey).where(ApiKey.business_id == garage.id)).all()
    result = {
        "business": garage,
        "customer_id": customer.id,
        "visit_id": visit.visit.id,
        "message_id": scheduled_id,
        "key_ids": [k.id for k in key],
        "key_raw": key_raw,
        "user_id": mechanic.id,
    }
    session.commit()
    return result


@pytest.fixture
def owner(client, business):
    sign_in(client)
    return client


def snapshot(session, garage_id):
    session.expire_all()
    customers = session.exec(select(Customer).where(Customer.business_id == garage_id)).all()
    messages = session.exec(select(Message).where(Message.business_id == garage_id)).all()
    keys = session.exec(select(ApiKey).where(ApiKey.business_id == garage_id)).all()
    visits = session.exec(select(Visit).where(Visit.business_id == garage_id)).all()
    state = (
        [
            (
                c.id,
                c.name,
                c.phone,
                c.notes,
                c.tags,
                c.consent,
                c.unread_count,
                c.needs_reply,
                c.handled_at,
            )
            for c in customers
        ],
        [(m.id, m.status, m.body) for m in messages],
        [(k.id, k.revoked_at) for k in keys],
        [(v.id, v.status) for v in visits],
        business_source(session, garage_id, "thank_you"),
    )
    session.commit()
    return state


def test_another_business_ids_give_404_and_change_nothing(owner, theirs, session, business, clock):
    cid, mid = theirs["customer_id"], theirs["message_id"]
    before = snapshot(session, theirs["business"].id)
    for path in (
        f"/conversations/{cid}",
        f"/customers/{cid}",
        f"/visits/{theirs['visit_id']}",
        f"/conversations/{cid}?use=thank_you",
    ):
        response = owner.get(path)
        assert response.status_code == 404, path
        assert "Gina" not in response.get_data(as_text=True)
    for path, data in (
        (f"/conversations/{cid}/send", {"body": "Hello from the wrong shop", "window_ack": "1"}),
        (f"/conversations/{cid}/messages/{mid}/cancel", {}),
        (f"/conversations/{cid}/handled", {}),
        (f"/conversations/{cid}/notes", {"notes": "mine now", "tags": "stolen"}),
        (f"/customers/{cid}", {"phone": THEIR_PHONE, "name": "Renamed", "consent": "unknown"}),
        (f"/settings/keys/{theirs['key_ids'][0]}/revoke", {}),
        (f"/settings/team/{theirs['user_id']}/link", {}),
        (f"/settings/team/{theirs['user_id']}/access", {"active": "0"}),
        (f"/settings/team/{theirs['user_id']}/role", {"role": "owner"}),
    ):
        assert post(owner, path, data).status_code == 404, path
    # Their message id inside one of our conversations is no more reachable.
    ours = conversation_with(
        session, business, "+12125550150", "Hi", clock=clock, sid="SM" + "f" * 32
    )
    session.commit()
    assert post(owner, f"/conversations/{ours.id}/messages/{mid}/cancel").status_code == 404
    assert snapshot(session, theirs["business"].id) == before


def test_their_customers_and_texts_never_show_in_our_lists(owner, theirs, session):
    for path in (
        "/inbox",
        "/inbox?q=Gina",
        "/inbox?q=0177",
        "/customers/",
        "/customers/?q=Gina",
        "/customers/export.csv",
    ):
        page = owner.get(path).get_data(as_text=True)
        assert "Gina Garage" not in page and THEIR_PHONE not in page, path
        assert "car ready" not in page, path


def test_our_template_edits_leave_theirs_alone(owner, theirs, session, business):
    response = post(
        owner,
        "/templates/thank_you",
        {"source": "Ours, {{ first_name }}!", "action": "save_anyway"},
    )
    assert response.status_code == 302
    assert business_source(session, business.id, "thank_you") == "Ours, {{ first_name }}!"
    assert business_source(session, theirs["business"].id, "thank_you") == "Garage thanks!"
    session.commit()  # a read holds SQLite's write lock until the transaction ends
    post(owner, "/templates/thank_you/reset")
    assert business_source(session, business.id, "thank_you") == default_source("thank_you")
    assert business_source(session, theirs["business"].id, "thank_you") == "Garage thanks!"
    session.commit()


def owner_post_rules(app):
    names = {bp.name for bp in BLUEPRINTS}
    for rule in app.url_map.iter_rules():
        if "POST" in rule.methods and rule.endpoint.split(".")[0] in names:
            yield rule


def test_every_owner_post_without_a_csrf_token_is_refused(app, owner, business, session, clock):
    customer = conversation_with(
        session, business, "+12125550131", "Hi", clock=clock, sid="SM" + "1" * 32
    )
    session.commit()
    rules = list(owner_post_rules(app))
    assert len(rules) >= 20  # every form in the app
    before = snapshot(session, business.id)
    for rule in rules:
        values = {arg: 1 for arg in rule.arguments}
        values.update({"customer_id": customer.id, "kind": "thank_you"})
        path = rule.build(values, append_unknown=False)[1]
        data = {
            "body": "Hi",
            "name": "X",
            "label": "k",
            "source": "Hi",
            "email": "a@b.test",
            "role": "staff",
            "phone": "+12125550199",
            "password": "long enough pass",
        }
        missing = owner.post(path, data=data)
        assert missing.status_code == 400, (rule.rule, missing.status_code)
        forged = owner.post(path, data={**data, "csrf_token": "forged.token.value"})
        assert forged.status_code == 400, rule.rule
    assert snapshot(session, business.id) == before
    assert owner.get("/inbox").status_code == 200  # still signed in: nothing was signed out


def test_sign_in_itself_needs_a_csrf_token(client, business):
    response = client.post(
        "/sign-in", data={"email": "owner@bloom.test", "password": "correct horse battery"}
    )
    assert response.status_code == 400
    assert client.get("/inbox").status_code == 302


def test_html_in_names_and_texts_is_shown_as_text(owner, business, session, clock):
    customer = conversation_with(
        session, business, "+12125550132", EVIL_BODY, clock=clock, sid="SM" + "2" * 32
    )
    customer.name = EVIL
    customer.notes = "</textarea><script>alert(2)</script>"
    customer.tags = ["<i>vip</i>"]
    session.add(customer)
    session.commit()
    visit = record_visit(
        session,
        business,
        VisitCreate(phone=customer.phone, consent=True, staff=EVIL),
        now=clock.now(),
    )
    session.commit()
    pages = [
        "/inbox",
        f"/inbox?q={customer.phone[-4:]}",
        f"/conversations/{customer.id}",
        "/customers/",
        f"/customers/{customer.id}",
        f"/visits/{visit.visit.id}",
    ]
    for path in pages:
        response = owner.get(path)
        page = response.get_data(as_text=True)
        assert response.status_code == 200, path
        assert "<script>alert" not in page and "<img src=x" not in page, path
        assert "<i>vip</i>" not in page and "</textarea><script>" not in page, path
    conversation = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert (
        "&lt;img src=x onerror=&#34;alert(1)&#34;&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in conversation
    )
    assert "&lt;script&gt;alert(&#39;pwned&#39;)&lt;/script&gt;" in conversation
    fragment = owner.get(f"/conversations/{customer.id}", headers={"X-Requested-With": "fetch"})
    assert "<img src=x" not in fragment.get_data(as_text=True)


def test_html_in_a_template_preview_is_text(owner, business):
    response = post(
        owner, "/templates/thank_you", {"source": "<b>Hi</b> {{ first_name }}", "action": "preview"}
    )
    page = response.get_data(as_text=True)
    assert "&lt;b&gt;Hi&lt;/b&gt; Christopher" in page and "<b>Hi</b>" not in page
