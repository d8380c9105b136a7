"""Milestones, anniversaries and birthdays on a phone (390x844): the owner turns birthday
texts on (a day before), is told plainly when a milestone list is wrong, and sees the new
texts on the Texts page; the shop is left as it was for the other browser tests."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_owner_browser import sign_in

pytestmark = pytest.mark.usefixtures("live_server")


def test_turn_birthday_texts_on_and_see_the_new_texts(page):
    sign_in(page)
    page.get_by_role("link", name="Settings").click()
    moments = page.locator("#moments")
    expect(moments.get_by_role("heading", name="Milestones, anniversaries and birthdays")
           ).to_be_visible()  # fmt: skip
    expect(moments.get_by_label("Milestone visits")).to_have_value("5, 10, 25")
    moments.get_by_label("Milestone visits").fill("5, ten")
    moments.get_by_role("button", name="Save these settings").click()
    expect(page.locator("#moments")).to_contain_text("List the visits by number, e.g. 5, 10, 25.")
    page.goto(page.base + "/settings/")
    moments = page.locator("#moments")
    expect(moments.get_by_label("Milestone visits")).to_have_value("5, 10, 25")  # unchanged
    moments.get_by_label("Text customers on their birthday").check()
    moments.get_by_label("Birthday text how many days before").fill("1")
    moments.get_by_role("button", name="Save these settings").click()
    expect(page.get_by_text("Settings for milestones and birthdays saved.")).to_be_visible()
    moments = page.locator("#moments")
    expect(moments.get_by_label("Text customers on their birthday")).to_be_checked()
    page.evaluate("document.getElementById('moments').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "61-moments-settings.png"))

    page.goto(page.base + "/templates/")
    expect(page.get_by_text("Thank-you for a milestone visit")).to_be_visible()
    expect(page.get_by_text("On their birthday (1 day before), when you know it.")).to_be_visible()
    expect(page.get_by_text("Off: turn anniversary texts on in Settings.")).to_be_visible()
    page.get_by_text("Thank-you for a milestone visit").scroll_into_view_if_needed()
    page.screenshot(path=str(SCREENSHOTS / "62-moments-texts.png"))

    page.goto(page.base + "/settings/")  # as it was, for the other browser tests
    moments = page.locator("#moments")
    moments.get_by_label("Text customers on their birthday").uncheck()
    moments.get_by_label("Birthday text how many days before").fill("0")
    moments.get_by_role("button", name="Save these settings").click()
    expect(page.get_by_text("Settings for milestones and birthdays saved.")).to_be_visible()
