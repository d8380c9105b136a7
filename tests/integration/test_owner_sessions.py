"""A page's background requests (live polls, previews) never write the session cookie back:
answered after another tab's page, they would undo it (its CSRF token, its flash message)."""

from __future__ import annotations

import pytest
from sqlmodel import select

from app.models import User
from tests.integration.test_owner_helpers import OVERRIDES, sign_in


@pytest.fixture
def settings_overrides():
    return OVERRIDES


BACKGROUND = {"Sec-Fetch-Mode": "cors", "X-Requested-With": "fetch"}


def test_a_live_poll_leaves_the_cookie_alone_and_a_page_refreshes_it(client, business):
    sign_in(client)
    poll = client.get("/inbox", headers=BACKGROUND)
    assert poll.status_code == 200
    assert "Set-Cookie" not in poll.headers
    page = client.get("/inbox", headers={"Sec-Fetch-Mode": "navigate"})
    assert "session=" in page.headers.get("Set-Cookie", "")  # the sliding expiry moves on
    assert "session=" in client.get("/inbox").headers.get("Set-Cookie", "")  # no header: a page


def test_a_background_request_that_signs_out_still_writes_it(client, business, session):
    sign_in(client)
    owner = session.exec(select(User).where(User.business_id == business.id)).first()
    owner.password_hash = "changed elsewhere"  # a new password signs out everywhere
    session.add(owner)
    session.commit()
    poll = client.get("/inbox", headers=BACKGROUND)
    assert poll.status_code in (302, 401)
    assert "session=;" in poll.headers.get("Set-Cookie", "")  # the cleared session goes back
