"""A composer that confirms: after Send the page opens on the new text at the bottom of the
thread, which reads "Sending…", then "Sent" and "Delivered" (or why not) as its state moves;
a text sent now is never shown as "Scheduled"; texts are signed with a name, never an email."""

from __future__ import annotations

import re

import pytest
from sqlmodel import select

from app.models import Message, User
from tests.conftest import post_signed
from tests.integration.test_care_stories import Story
from tests.integration.test_owner_helpers import OVERRIDES, OWNER_EMAIL, post


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def bubble(page: str, message_id: int) -> str:
    found = re.search(rf'<div class="bubble[^"]*" id="m{message_id}".*?</div>', page, re.S)
    assert found, f"no bubble m{message_id}"
    return " ".join(re.sub(r"<[^>]+>", " ", found[0]).split())


def test_a_sent_text_is_followed_from_sending_to_delivered(owner, story: Story, session):
    story.visit()
    customer = story.customer()
    sent = post(owner, f"/conversations/{customer.id}/send", {"body": "Your color is ready"})
    assert sent.status_code == 302
    [message] = session.exec(
        select(Message).where(Message.body.contains("Your color is ready"))
    ).all()  # fmt: skip
    session.commit()
    assert sent.location.endswith(f"#m{message.id}")  # the page opens on it
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    thread, _, scheduled = page.partition('<h2 class="scheduled-title">Scheduled</h2>')
    assert f'id="m{message.id}"' in thread and f'id="m{message.id}"' not in scheduled
    shown = bubble(page, message.id)
    assert "Sending…" in shown and "Scheduled" not in shown and "Cancel" not in shown
    # The thank-you planned for later is still under Scheduled, and can be canceled there.
    assert "Thank-you after a visit" in scheduled and "Cancel this text" in scheduled

    story.run()  # a worker hands it to Twilio
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert "Sent" in bubble(page, message.id)
    sid = session.get(Message, message.id, populate_existing=True).provider_sid
    session.commit()
    delivered = post_signed(owner, f"/webhooks/twilio/status?mid={message.id}",
                            {"MessageSid": sid, "MessageStatus": "delivered",
                             "AccountSid": "AC" + "0" * 32})  # fmt: skip
    assert delivered.status_code == 204
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert "Delivered" in bubble(page, message.id)


def test_a_text_is_signed_with_a_name_never_an_email(owner, story: Story, session):
    story.visit()
    customer = story.customer()
    post(owner, f"/conversations/{customer.id}/send", {"body": "See you soon"})
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert OWNER_EMAIL not in page.split("<main", 1)[1].split("customer-file")[0]
    assert "Owner · Sending…" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "add your name" in page
    user = session.exec(select(User).where(User.email == OWNER_EMAIL)).one()
    user.name = "Ana Ruiz"
    session.add(user)
    session.commit()
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert "Ana Ruiz · Sending…" in " ".join(re.sub(r"<[^>]+>", " ", page).split())
    assert "add your name" not in page
