"""A planned text the contact budget moved, as the owner sees it at 390x844: its time in the
business's zone and the reason in plain words, under "Scheduled" in the conversation.
Screenshots go to artifacts/screenshots/ and the page is audited."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app.care.customers import find_or_create, set_consent
from app.care.outbound import queue_text
from app.db import session_scope
from app.models import Business
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")
TEXAS_PHONE = "+12145550123"  # Dallas
SUNDAY_MORNING = datetime(2026, 3, 15, 10, 0, tzinfo=ZoneInfo("America/Chicago"))


def test_a_text_moved_by_texas_sunday_quiet_hours_says_so(page, live_server):
    services = live_server["services"]
    now = services.clock.now()
    with session_scope(services.engine) as session:
        business = session.exec(select(Business)).one()
        sam, _ = find_or_create(session, business, TEXAS_PHONE, name="Sam Rivera", now=now)
        set_consent(session, sam, "granted", source="api", now=now)
        planned = queue_text(session, business, sam, "Thanks for coming in, Sam!", "thank_you",
                             now=now, send_at=SUNDAY_MORNING)  # fmt: skip
        # The shared shop's inbox keeps its order for the other browser tests: Sam's
        # conversation is an old one.
        sam.last_activity_at = now - timedelta(days=365)
        session.add(sam)
        session.commit()
        customer_id = sam.id
    assert planned.reason == "quiet hours in Texas on Sunday"
    sign_in(page)
    page.goto(f"{page.base}/conversations/{customer_id}")
    bubble = page.locator(".bubble.scheduled").last
    expect(bubble).to_contain_text("Scheduled for Sun Mar 15, 1:00 PM")  # noon in Dallas
    expect(bubble).to_contain_text("quiet hours in Texas on Sunday")
    bubble.scroll_into_view_if_needed()
    shoot(page, "budget-quiet-hours-reason")
