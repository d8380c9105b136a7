"""Plain words on the owner's pages: no developer words (SID, OpenAPI, GSM-7, keyword) outside
the "For developers" corner of Settings, consent sources said as the owner would, plurals."""

from __future__ import annotations

import re

import pytest

from tests.integration.test_care_stories import Story
from tests.integration.test_local_phones import owner_pages
from tests.integration.test_owner_helpers import OVERRIDES, post

DEVELOPER_WORDS = re.compile(r"\b(SID|OpenAPI|openapi|GSM-7|UCS-2|keyword|E\.164)\b")


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def visible(page: str) -> str:
    """The page's text and attribute values a person can meet (no scripts, no developer corner)."""
    page = re.sub(r'<details class="panel developers".*?</details>', "", page, flags=re.S)
    return re.sub(r"<script.*?</script>", "", page, flags=re.S)


def test_no_developer_words_on_the_owner_pages(owner, story: Story, client, auth):
    visit = story.visit(staff="Ana")
    story.reply("STOP")
    story.reply("START")
    pages = owner_pages(owner, visit["customer_id"], visit["id"])
    for path, page in pages.items():
        assert not DEVELOPER_WORDS.findall(visible(page)), (path, DEVELOPER_WORDS.findall(page))
    settings = pages["/settings"]
    assert "For developers" in settings and "Messaging Service SID" in settings  # its corner
    conversation = pages[f"/conversations/{visit['customer_id']}"]
    assert "texted STOP" in conversation and "texted START" in conversation
    assert "agreed at a visit" in conversation or "from your booking system" in conversation


def test_a_text_with_emoji_says_so_in_words(owner, story: Story):
    visit = story.visit()
    sent = post(owner, f"/conversations/{visit['customer_id']}/send",
                {"body": "x" * 2000})  # fmt: skip
    assert sent.status_code == 422
    refused = post(owner, f"/conversations/{visit['customer_id']}/send",
                   {"body": "Thanks 💇 " * 30, "kind": "nope"})  # fmt: skip
    page = refused.get_data(as_text=True)
    assert "emoji or special letters: shorter texts" in page and "UCS-2" not in page


def test_one_minute_is_one_minute(owner, story: Story):
    story.patch(thank_you_delay_minutes=1)
    page = owner.get("/visits/new").get_data(as_text=True)
    assert "goes out 1 minute later" in page
    story.patch(thank_you_delay_minutes=30)
    assert "goes out 30 minutes later" in owner.get("/visits/new").get_data(as_text=True)
