"""A broadcast at 390x844, as the owner makes it: find Broadcasts from the Texts tab, write the
text with a name chip, see a stop finding, choose who and when, check (what a customer reads,
who gets it and why the others do not, when the last text goes), schedule, pause and resume,
then watch the report fill in by itself as the texts go. Screenshots go to
artifacts/screenshots/broadcast-*.png and every page is audited.

The shared shop's inbox keeps its order: the recipients are customers of their own (a tag no
one else has) who never texted, and a broadcast's texts leave the inbox alone."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlmodel import select

from app.care import broadcasts
from app.care.customers import find_or_create, set_consent
from app.contract.commands import BroadcastCreate, Segment
from app.db import session_scope
from app.models import Broadcast, Business, Customer
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")
TAG = "holiday-list"
RECIPIENTS = (("+17185550181", "Lena Park", True), ("+17185550182", "Omar Haddad", True),
              ("+17185550183", "Pat Quinn", False))  # fmt: skip


def _seed_recipients(services) -> None:
    now = services.clock.now()
    with session_scope(services.engine) as session:
        business = session.exec(select(Business)).one()
        for phone, name, agreed in RECIPIENTS:
            customer, _ = find_or_create(session, business, phone, name=name, now=now)
            if agreed:
                set_consent(session, customer, "granted", source="api", now=now)
            customer.tags = [TAG]
            session.add(customer)
        session.commit()


def _start_now(services, title: str) -> None:
    """The morning it was scheduled for comes: it starts now (the clock itself runs on)."""
    now = services.clock.now()
    with session_scope(services.engine) as session:
        broadcast = session.exec(select(Broadcast).where(Broadcast.title == title)).one()
        broadcast.start_at = broadcast.next_batch_at = now
        session.add(broadcast)
        session.commit()


def test_compose_check_schedule_and_watch_a_broadcast(page, live_server):
    services = live_server["services"]
    _seed_recipients(services)
    sign_in(page)
    page.get_by_role("link", name="Texts").click()
    page.get_by_role("link", name=re.compile("^Broadcasts")).click()
    expect(page.get_by_role("heading", name="Broadcasts")).to_be_visible()
    page.get_by_role("link", name="New broadcast").click()

    # A public link shortener: the check says it must change, and offers no Send.
    text = page.get_by_label("Text", exact=True)
    text.fill("Book now: https://bit.ly/bloom-hols")
    page.get_by_role("button", name="Check").click()
    expect(page.locator(".finding.stop")).to_contain_text("Must change")
    expect(page.get_by_role("button", name=re.compile("^(Send|Schedule)"))).to_have_count(0)
    page.locator("#check").scroll_into_view_if_needed()
    shoot(page, "broadcast-1-stop-finding")

    # The text with a name chip, to the tagged customers, tomorrow at 10:00 (the shop's time).
    text.fill("Hi ")
    page.get_by_role("button", name="+ First name").click()
    text.press("End")
    text.type(", we are closed Monday for the holiday. See you Tuesday!")
    expect(text).to_have_value("Hi [First name], we are closed Monday for the holiday. "
                               "See you Tuesday!")  # fmt: skip
    page.get_by_label("Only customers who…").check()
    page.get_by_label("Have this tag").fill(TAG)
    page.get_by_label("Later").check()
    tomorrow = (services.clock.now() + timedelta(days=1)).astimezone(ZoneInfo("America/New_York"))
    page.get_by_label("Date", exact=True).fill(tomorrow.date().isoformat())
    page.get_by_label("Time", exact=True).fill("10:00")
    page.get_by_label("Name it (only you see this)").fill("Holiday closing")
    shoot(page, "broadcast-2-compose")

    page.get_by_role("button", name="Check").click()
    check = page.locator("#check")
    expect(check).to_contain_text("Bloom Hair Studio: Hi ")
    expect(check).to_contain_text("we are closed Monday for the holiday")
    expect(check.locator(".audience")).to_have_text("2 of 3 customers in this group.")
    expect(check).to_contain_text("No consent to texts")
    expect(check.locator(".forecast")).to_contain_text("The last text should go by")
    check.scroll_into_view_if_needed()
    shoot(page, "broadcast-3-check")

    day = tomorrow.strftime("%a %b %d").replace(" 0", " ")
    page.get_by_role("button", name=f"Schedule for {day}, 10:00 AM").click()
    expect(page).to_have_url(re.compile(r"/broadcasts/\d+$"))
    state = page.locator(".broadcast-state")
    expect(state).to_contain_text(f"Scheduled Starts {day}, 10:00 AM")
    shoot(page, "broadcast-4-scheduled")

    page.get_by_role("button", name="Pause").click()
    expect(state).to_contain_text("Paused")
    expect(page.get_by_role("status").or_(page.locator(".flash"))).to_contain_text("Paused")
    page.get_by_role("button", name="Resume").click()
    expect(state).to_contain_text(f"Scheduled Starts {day}, 10:00 AM")

    # The report fills in by itself as the texts go: no reload.
    _start_now(services, "Holiday closing")
    expect(state).to_contain_text("Finished")
    figures = page.locator(".stat")
    expect(figures.filter(has_text="Left out")).to_contain_text("1")
    went = figures.filter(has_text=re.compile("^(Sent|Delivered)"))
    assert sum(int(v) for v in went.locator(".figure-value").all_inner_texts()) == 2
    expect(page.locator(".reasons")).to_contain_text("No consent to texts")
    shoot(page, "broadcast-5-report")

    page.get_by_role("link", name="Broadcasts").click()
    expect(page.locator(".broadcasts")).to_contain_text("Holiday closing")
    shoot(page, "broadcast-6-list")

    # In a recipient's conversation, the text says it was the broadcast (and links to it).
    with session_scope(services.engine) as session:
        lena = session.exec(select(Customer).where(Customer.phone == RECIPIENTS[0][0])).one()
    page.goto(f"{page.base}/conversations/{lena.id}")
    line = page.locator(".bubble.mine .broadcast-line")
    expect(line).to_have_text("Sent to many as your broadcast ‘Holiday closing’")
    expect(page.locator(".bubble.mine")).to_contain_text("Hi Lena, we are closed Monday")
    shoot(page, "broadcast-9-in-the-conversation")


def _paused_by_itself(services) -> None:
    now = services.clock.now()
    with session_scope(services.engine) as session:
        business = session.exec(select(Business)).one()
        draft = BroadcastCreate(
            body="New hours from next week: 9 to 7.",
            title="New hours",
            segment=Segment(tag=TAG),
            start_at=now + timedelta(days=2),
        )
        made = broadcasts.create(session, business, draft, now=now)
        broadcasts.pause(session, made, by="system", now=now, reason=(
            "The carrier refused this number's texts (not registered). It paused itself: fix "
            "it with your provider, then resume."))  # fmt: skip
        session.commit()


def test_a_broadcast_that_paused_itself_is_on_the_inbox_until_it_is_dealt_with(page, live_server):
    _seed_recipients(live_server["services"])
    _paused_by_itself(live_server["services"])
    sign_in(page)
    banner = page.locator(".broadcast-stopped")
    expect(banner).to_contain_text("Your broadcast ‘New hours’ paused itself.")
    expect(banner).to_contain_text("The carrier refused this number's texts")
    shoot(page, "broadcast-7-inbox-banner")
    banner.get_by_role("link", name="See it and resume it").click()
    expect(page.locator(".paused-reason")).to_contain_text("The carrier refused")
    expect(page.locator(".broadcast-state .badge")).to_have_text("Paused by itself")
    expect(page.locator(".broadcast-state")).to_contain_text("Starts ")
    shoot(page, "broadcast-8-paused-by-itself")
    page.get_by_role("button", name="Cancel it").click()  # the confirmation is accepted
    expect(page.locator(".broadcast-state .badge")).to_have_text("Canceled")
    page.get_by_role("link", name="Inbox").click()
    expect(page.locator(".conversations")).to_be_visible()
    expect(page.locator(".broadcast-stopped")).to_have_count(0)  # the other tests' inbox
