"""The owner edits a text without code, at 390x844: names put in with a tap where the cursor
is, the preview of what a customer with no name and no staff gets, the warning about the gap
that leaves and its fixes, taken with a tap. Screenshots in artifacts/screenshots/."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")

NOBODY = "A new customer with no name and no staff recorded"


def at_cursor(box, offset: int) -> None:
    box.focus()
    box.evaluate("(el, at) => el.setSelectionRange(at, at)", offset)


def sample(page, label: str):
    return page.locator(".samples li", has_text=label).locator("[data-preview-text]")


def test_names_go_in_with_a_tap_and_a_gap_is_warned_of_and_fixed(page):
    sign_in(page)
    page.goto(page.base + "/templates/thank_you")
    box = page.get_by_label("Text", exact=True)
    expect(box).to_have_value(
        "Hi [First name or there], thank you for visiting [Business name][if Staff name] and "
        "seeing [Staff name][end if] today! Reply here any time if there is anything we can "
        "do for you."
    )
    expect(sample(page, NOBODY)).to_have_text(
        "Hi there, thank you for visiting Bloom Hair Studio today! Reply here any time if "
        "there is anything we can do for you. Reply STOP to opt out."
    )
    shoot(page, "40-text-editor")

    # Names go in where the cursor is, with one tap each.
    box.fill("Hi , loved having you in the chair with .")
    at_cursor(box, 3)
    page.get_by_role("button", name="+ First name").tap()
    expect(box).to_have_value("Hi [First name], loved having you in the chair with .")
    at_cursor(box, len("Hi [First name], loved having you in the chair with "))
    page.get_by_role("button", name="+ Staff name").tap()
    typed = "Hi [First name], loved having you in the chair with [Staff name]."
    expect(box).to_have_value(typed)
    expect(box).to_be_focused()  # the keyboard stays up

    # What each sample customer gets, exactly; the one with no name and no staff shows the gap.
    expect(sample(page, "Maria, a new customer")).to_have_text(
        "Bloom Hair Studio: Hi Maria, loved having you in the chair with Rosa. "
        "Reply STOP to opt out."
    )
    expect(sample(page, NOBODY)).to_have_text(
        "Bloom Hair Studio: Hi , loved having you in the chair with . Reply STOP to opt out."
    )
    warning = page.locator("[data-gap-warning]")
    expect(warning).to_contain_text("A customer with no first name would get:")
    expect(warning).to_contain_text("A customer with no staff name would get:")
    shoot(page, "41-text-gap-live")

    # Saving asks first; saving anyway is a deliberate second tap.
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("button", name="Save it as it is")).to_be_visible()
    expect(page.get_by_label("Text", exact=True)).to_have_value(typed)
    shoot(page, "42-text-gap-on-save")

    # The fixes, one tap each: the text changes in place and reads well for everyone.
    box = page.get_by_label("Text", exact=True)
    only_when_known = "Say “with [Staff name]” only when the staff name is known"
    page.get_by_role("button", name=only_when_known).tap()
    expect(box).to_have_value(
        "Hi [First name], loved having you in the chair[if Staff name] with [Staff name][end if]."
    )
    page.get_by_role("button", name="Say “there” when there is no first name").tap()
    fixed = (
        "Hi [First name or there], loved having you in the chair[if Staff name] with "
        "[Staff name][end if]."
    )
    expect(box).to_have_value(fixed)
    expect(sample(page, NOBODY)).to_have_text(
        "Bloom Hair Studio: Hi there, loved having you in the chair. Reply STOP to opt out."
    )
    expect(warning).to_have_count(0)
    shoot(page, "43-text-gap-fixed")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("is saved")
    expect(page.get_by_label("Text", exact=True)).to_have_value(fixed)
    page.locator("summary", has_text="The code underneath").click()
    expect(page.locator("[data-template-source]")).to_have_text(
        'Hi {{ first_name or "there" }}, loved having you in the chair{% if staff_name %} with '
        "{{ staff_name }}{% endif %}."
    )
    page.set_viewport_size({"width": 375, "height": 844})
    page.screenshot(path=str(SCREENSHOTS / "44-text-saved-375.png"), full_page=True)
    page.set_viewport_size({"width": 390, "height": 844})
    # Back to the default, for the other browser tests' visits.
    page.get_by_role("button", name="Reset to the default text").click()
    expect(page.locator(".badge", has_text="Default text")).to_be_visible()


def test_a_text_with_a_comparison_opens_as_its_code(page):
    sign_in(page)
    page.goto(page.base + "/templates/feedback_question")
    expect(page.get_by_label("Text", exact=True)).to_have_value(
        re.compile(r"^\{% if scale is defined")
    )
    hint = page.locator(".hint", has_text="conditions the simple editor cannot show")
    expect(hint).to_be_visible()
    shoot(page, "45-text-as-code")
