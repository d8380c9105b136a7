"""Saved replies: the team writes an answer once, picks it in any conversation, and it goes as
a typed text; each business sees and removes only its own."""

from __future__ import annotations

import html
import re

import pytest
from sqlmodel import select

from app.models import Message, SavedReply
from tests.integration.test_care_stories import Story
from tests.integration.test_owner_helpers import OVERRIDES, other_business, post, sign_in

HOURS = "We are open {{ business_name }}-style: Tue-Sat 9 to 7. See you, {{ first_name }}!"


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def draft(page: str) -> str:
    return html.unescape(re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', page)[1])


def test_a_saved_reply_is_picked_in_a_conversation_and_sent_as_typed(owner, story: Story,
                                                                     session):  # fmt: skip
    saved = post(owner, "/replies/", {"title": "Opening hours", "body": HOURS},
                 token_path="/replies/")  # fmt: skip
    assert saved.status_code == 302
    assert "Opening hours" in owner.get("/replies/").get_data(as_text=True)
    story.visit()
    customer = story.customer()
    reply = session.exec(select(SavedReply)).one()
    session.commit()
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert f'<option value="saved:{reply.id}"' in page and "Opening hours" in page
    used = owner.get(f"/conversations/{customer.id}?use=saved:{reply.id}").get_data(as_text=True)
    assert draft(used) == HOURS and 'name="kind" value=""' in used
    sent = post(owner, f"/conversations/{customer.id}/send", {"body": draft(used)})
    assert sent.status_code == 302
    [text] = session.exec(select(Message).where(Message.body.contains("Tue-Sat"))).all()
    assert text.kind == "manual" and "See you, Maria!" in text.body


@pytest.mark.parametrize("title, body, why", [
    ("", "Some text", "Enter a title."),
    ("Hours", "   ", "Write the reply."),
    ("x" * 61, "Some text", "at most 60"),
    ("Hours", "y" * 1601, "1600"),
])  # fmt: skip
def test_a_bad_reply_is_refused_and_nothing_is_saved(owner, session, title, body, why):
    refused = post(owner, "/replies/", {"title": title, "body": body}, token_path="/replies/")
    assert refused.status_code == 422 and why in refused.get_data(as_text=True)
    assert session.exec(select(SavedReply)).all() == []


def test_another_business_cannot_remove_it_and_never_sees_it(owner, session, clock, app):
    post(owner, "/replies/", {"title": "Parking", "body": "Park behind the shop."},
         token_path="/replies/")  # fmt: skip
    [reply] = session.exec(select(SavedReply)).all()
    other_business(session, clock)  # commits: the test's read ends (SQLite's write lock)
    garage = app.test_client()
    sign_in(garage, "owner@garage.test", "garage owner password")
    assert "Parking" not in garage.get("/replies/").get_data(as_text=True)
    refused = post(garage, f"/replies/{reply.id}/delete", token_path="/replies/")
    assert refused.status_code == 404
    assert session.exec(select(SavedReply)).all() != []  # still there
    session.commit()
    removed = post(owner, f"/replies/{reply.id}/delete", token_path="/replies/")
    assert removed.status_code == 302
    session.expire_all()
    assert session.exec(select(SavedReply)).all() == []
