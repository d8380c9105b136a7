"""One renderer for merge fields (issue 7, item 6): the composer, its picker, the automations
and the API's template send take a recipient's fields from care.merge and render in the
sandbox, so {{ review_link }} is the same tracked link at every door."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import Session, func, select

from app.care.customers import find_or_create, set_consent
from app.models import Customer, Message, TrackedLink
from tests.conftest import CUSTOMER_PHONE, DAYTIME, PUBLIC_BASE
from tests.integration.test_owner_helpers import OVERRIDES, post, sign_in, token_for

LINK = re.compile(re.escape(PUBLIC_BASE) + r"/l/([A-Za-z0-9_-]{12})(?![A-Za-z0-9_-])")


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def casey(session, business) -> Customer:
    customer, _ = find_or_create(session, business, CUSTOMER_PHONE, name="Casey Client",
                                 now=DAYTIME)  # fmt: skip
    set_consent(session, customer, "granted", source="form", now=DAYTIME)
    session.commit()
    return customer


@pytest.fixture
def owner(client, business):
    sign_in(client)
    return client


def links(engine) -> int:
    with Session(engine) as s:
        return s.exec(select(func.count()).select_from(TrackedLink)).one()


def bodies(session, customer) -> list[str]:
    with Session(session.get_bind()) as fresh:  # a read of its own: the app writes meanwhile
        rows = fresh.exec(
            select(Message.body).where(Message.customer_id == customer.id).order_by(Message.id)
        )
        return list(rows)


def test_the_composers_review_link_is_tracked_like_the_apis(owner, client, casey, session, auth):
    sent = post(owner, f"/conversations/{casey.id}/send", {"body": "Review us: {{ review_link }}"})
    assert sent.status_code == 302
    [typed] = bodies(session, casey)
    token = LINK.search(typed).group(1)  # not the raw review page any more
    assert "g.page" not in typed
    opened = client.get(f"/l/{token}")
    assert opened.status_code == 302 and opened.location == "https://g.page/r/bloom/review"

    api = client.post("/api/v1/messages", json={"customer_id": casey.id,
                      "template": "review_request"}, headers=auth)  # fmt: skip
    assert api.status_code == 202, api.json
    assert LINK.search(api.json["body"]).group(1) != token  # a link per text, tracked alike


def test_an_owners_own_text_reads_the_same_from_every_door(owner, client, auth, casey, session):
    source = "Thanks {{ first_name|upper }} for visiting {{ business_name }}!"
    saved = client.put("/api/v1/templates/thank_you", json={"body": source}, headers=auth)
    assert saved.status_code == 200, saved.json
    expected = "Thanks CASEY for visiting Bloom Hair Studio!"

    page = owner.get(f"/conversations/{casey.id}").get_data(as_text=True)
    assert f'value="thank_you" data-text="{expected}"' in page  # the picker
    api = client.post("/api/v1/messages", json={"customer_id": casey.id,
                      "template": "thank_you"}, headers=auth)  # fmt: skip
    assert api.status_code == 202 and api.json["body"].startswith(expected)
    visit = client.post("/api/v1/visits", json={"phone": "+12125550124", "name": "Casey Two",
                        "consent": True}, headers=auth)  # fmt: skip
    assert visit.json["planned"][0]["body"] == (
        "Thanks CASEY for visiting Bloom Hair Studio! Reply STOP to opt out."
    )


def test_looking_at_the_composer_makes_no_links(owner, casey, engine):
    page = owner.get(f"/conversations/{casey.id}").get_data(as_text=True)
    assert 'value="review_request" data-text="Hi Casey, it was a pleasure' in page
    used = owner.get(f"/conversations/{casey.id}?use=review_request").get_data(as_text=True)
    draft = html.unescape(re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', used)[1])
    assert draft.endswith("would you share how it went? {{ review_link }}")
    assert 'name="kind" value="review_request"' in used
    # The preview shows a link of the real one's length; none is made until a text goes.
    assert f"{PUBLIC_BASE}/l/xxxxxxxxxxxx" in used
    assert links(engine) == 0


def test_the_preview_endpoint_answers_what_the_page_cannot_render(owner, casey):
    token = token_for(owner, f"/conversations/{casey.id}")
    typed = "{% if first_name %}Hi {{ first_name|upper }}{% endif %}, see you"
    answer = owner.post(f"/conversations/{casey.id}/preview",
                        data={"csrf_token": token, "body": typed})  # fmt: skip
    assert answer.get_json() == {
        "ok": True,
        "text": "Bloom Hair Studio: Hi CASEY, see you. Reply STOP to opt out.",
    }
    bad = owner.post(f"/conversations/{casey.id}/preview",
                     data={"csrf_token": token, "body": "{{ nickname }}"})  # fmt: skip
    assert bad.get_json()["ok"] is False
    assert "There is no fill-in called nickname" in bad.get_json()["error"]


def test_typed_line_breaks_are_kept_and_values_never_become_templates(owner, casey, session):
    casey.name = "{{7*7}} Client"
    session.add(casey)
    session.commit()
    page = owner.get(f"/conversations/{casey.id}?use=thank_you").get_data(as_text=True)
    draft = html.unescape(re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', page)[1])
    assert draft.startswith("Hi {{ first_name }}, thank you")  # kept a field, not pasted in
    response = post(owner, f"/conversations/{casey.id}/send",
                    {"body": "Hi {{ first_name }},\r\nsee you Friday"})  # fmt: skip
    assert response.status_code == 302
    [body] = bodies(session, casey)
    assert body == "Bloom Hair Studio: Hi {{7*7}},\nsee you Friday. Reply STOP to opt out."


def test_a_review_link_without_a_review_page_is_explained(owner, casey, business, session):
    business.review_url = None
    session.add(business)
    session.commit()
    response = post(owner, f"/conversations/{casey.id}/send", {"body": "{{ review_link }}"})
    assert response.status_code == 422
    assert "There is no review link yet" in response.get_data(as_text=True)
    assert bodies(session, casey) == []
