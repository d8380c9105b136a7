"""Opening hours on a phone (390x844): the owner closes Sundays, shortens Saturday with a
break, adds a closed date and removes it, on the settings page with the native time and date
inputs. Tuesday (the clock's day) keeps its hours, so the other browser tests see the same
shop."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")


def test_edit_opening_hours_and_add_a_closed_date(page):
    sign_in(page)
    page.get_by_role("link", name="Settings").click()
    hours = page.locator("#hours")
    expect(hours.get_by_role("heading", name="Opening hours")).to_be_visible()

    monday = hours.locator("fieldset", has=page.get_by_label("Open on Monday"))
    monday.get_by_label("Closes").first.fill("08:00")  # before it opens
    hours.get_by_role("button", name="Save opening hours").click()
    expect(page.locator("#hours")).to_contain_text(
        "Monday: the closing time must be after the opening time."
    )
    page.evaluate("document.getElementById('hours').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "41-opening-hours-refused.png"))
    page.goto(page.base + "/settings/")  # nothing was saved: the form as it is stored
    hours = page.locator("#hours")
    expect(
        hours.locator("fieldset", has=page.get_by_label("Open on Monday"))
        .get_by_label("Closes")
        .first
    ).to_have_value("20:00")

    sunday = hours.get_by_label("Open on Sunday")
    expect(sunday).to_be_checked()
    sunday.uncheck()
    sunday_times = hours.locator("fieldset", has=sunday).get_by_label("Opens", exact=True)
    expect(sunday_times).to_be_hidden()  # a closed day hides its times
    saturday = hours.locator("fieldset", has=page.get_by_label("Open on Saturday"))
    saturday.get_by_label("Opens", exact=True).fill("10:00")
    saturday.get_by_label("Closes").first.fill("13:00")
    saturday.locator("summary", has_text="Add a break").click()
    saturday.get_by_label("Opens again").fill("14:00")
    saturday.get_by_label("Closes").nth(1).fill("18:00")
    hours.get_by_role("button", name="Save opening hours").click()
    expect(page.get_by_text("Opening hours saved.")).to_be_visible()
    expect(page.get_by_label("Open on Sunday")).not_to_be_checked()
    saturday = page.locator("#hours fieldset", has=page.get_by_label("Open on Saturday"))
    expect(saturday.get_by_label("Opens again")).to_have_value("14:00")  # its break is shown

    page.get_by_label("Closed on").fill("2026-12-25")
    page.get_by_label("Name (optional)").fill("Christmas Day")
    page.get_by_role("button", name="Add closed date").click()
    expect(page.get_by_text("Closed date added.")).to_be_visible()
    listed = page.locator(".holidays li", has_text="Fri 25 Dec 2026")
    expect(listed).to_contain_text("Christmas Day")

    page.get_by_label("Closed on").fill("2026-12-25")
    page.get_by_role("button", name="Add closed date").click()
    expect(page.get_by_role("alert").first).to_be_visible()
    expect(page.locator("#hours")).to_contain_text("is already a closed date")
    page.goto(page.base + "/settings/#hours")
    shoot(page, "40-opening-hours")
    page.locator("#hours").screenshot(path=str(SCREENSHOTS / "40-opening-hours-section.png"))
    page.evaluate("document.getElementById('hours').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "40-opening-hours-first-screen.png"))
    page.evaluate("document.getElementById('holidays').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "40-opening-hours-closed-dates.png"))

    christmas = page.locator(".holidays li", has_text="Fri 25 Dec 2026")
    christmas.get_by_role("button", name="Remove").click()
    expect(page.get_by_text("Closed date removed.")).to_be_visible()
    expect(page.locator(".holidays li")).to_have_count(0)
