"""The inbox tells the truth: a conversation's last line is the last text that happened, and a
text still waiting for its time shows as the conversation's next one ("Next: ...")."""

from __future__ import annotations

import html
import re
from datetime import timedelta

import pytest

from tests.integration.test_care_stories import Story
from tests.integration.test_owner_helpers import OVERRIDES, post


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def row(owner, name: str = "Maria Lopez") -> str:
    """The inbox's row for one conversation, as text."""
    page = owner.get("/inbox").get_data(as_text=True)
    rows = re.findall(r"<li>(.*?)</li>", page, re.S)
    [found] = [r for r in rows if name in r]
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", found)).split())


def test_a_planned_thank_you_is_next_until_it_goes_then_it_is_the_last_line(owner, story: Story):
    story.visit(staff="Ana")
    planned = row(owner)
    assert "Next: thank-you after a visit, Tue Mar 10, 11:30 AM" in planned
    assert "thank you for visiting" not in planned.lower()  # it has not gone yet
    story.run(story.clock.now() + timedelta(minutes=31))  # the thank-you's delay passes
    went = row(owner)
    assert "thank you for visiting" in went.lower()
    assert "Next: review request" in went  # tomorrow's ask is the next one now


def test_a_reminder_booked_for_later_never_shows_as_the_latest_line(owner, story: Story):
    story.visit()
    story.run(story.clock.now() + timedelta(minutes=31))
    story.reply("Thanks! See you next month")
    latest = row(owner)
    assert "See you next month" in latest and "Next: review request" in latest


def test_a_text_the_owner_sends_now_is_the_last_line_at_once(owner, story: Story):
    story.visit()
    customer = story.customer()
    sent = post(owner, f"/conversations/{customer.id}/send", {"body": "Your color is ready"})
    assert sent.status_code == 302
    assert "Your color is ready" in row(owner)
