"""Names and staff in a real phone-sized browser (390x844): a new team member without a name
is asked for it after signing in; the owner keeps a staff list on the team page (someone
without a sign-in added, renamed, no longer offered); the visit form offers the list and takes
a name not on it. Screenshotted and audited (tap targets, labels, contrast, width, axe-core)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from app.models import Business, StaffMember, User, Visit
from tests.conftest import FAST_PASSWORD_METHOD
from tests.e2e.conftest import SCREENSHOTS
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")
KAI_EMAIL = "kai@bloom.example"
KAI_PASSWORD = "kai's own password"


def staff_names(live_server) -> dict[str, bool]:
    with Session(live_server["services"].engine) as s:
        return {m.name: m.active for m in s.exec(select(StaffMember))}


def test_a_member_without_a_name_is_asked_for_it(page, live_server):
    with Session(live_server["services"].engine) as s:
        business = s.exec(select(Business)).first()
        if s.exec(select(User).where(User.email == KAI_EMAIL)).first() is None:
            hashed = generate_password_hash(KAI_PASSWORD, method=FAST_PASSWORD_METHOD)
            s.add(User(business_id=business.id, email=KAI_EMAIL, role="staff", name="",
                       password_hash=hashed))  # fmt: skip
            s.commit()
    sign_in(page, KAI_EMAIL, KAI_PASSWORD)
    expect(page).to_have_url(re.compile(r"/account/name"))
    expect(page.get_by_role("heading", name="What should customers call you?")).to_be_visible()
    expect(page.get_by_role("navigation", name="Main")).to_have_count(0)  # save or skip
    shoot(page, "40-name-step")
    page.get_by_role("button", name="Save my name").click()
    expect(page.locator("#f-name-error")).to_contain_text("Enter a name")
    shoot(page, "41-name-step-error")
    page.get_by_label("Your name").fill("Kai")
    page.get_by_role("button", name="Save my name").click()
    expect(page).to_have_url(re.compile(r"/inbox$"))
    expect(page.locator(".flash-info")).to_contain_text("Thanks, Kai.")
    assert "Kai" in staff_names(live_server)


def test_the_owner_keeps_the_staff_list_on_the_team_page(page, live_server):
    sign_in(page)
    page.goto(page.base + "/settings/team")
    staff = page.locator(".staff-list")
    expect(staff).to_contain_text("Ana")  # from the seeded visits: no sign-in
    expect(staff).to_contain_text("Rosa Diaz")  # the owner, who signs in
    page.get_by_label("Add someone who does not sign in").fill("noor")
    page.get_by_role("button", name="Add to the staff list").click()
    expect(page.locator(".flash-info")).to_contain_text("noor is on the staff list.")
    page.get_by_label("Add someone who does not sign in").fill("NOOR")
    page.get_by_role("button", name="Add to the staff list").click()
    expect(page.locator("#f-new-staff-error")).to_have_text("noor is already on the list.")
    shoot(page, "42-team-staff-error")
    card = staff.locator("li", has_text="noor")
    card.locator("summary", has_text="Rename noor").click()
    card.get_by_label("New name").fill("Noor")
    card.get_by_role("button", name="Save name").click()
    expect(page.locator(".flash-info")).to_contain_text("Renamed to Noor.")
    leo = staff.locator("li", has_text="Leo")
    leo.get_by_role("button", name="Stop offering").click()
    expect(staff.locator("li", has_text="Leo")).to_contain_text("Not offered")
    shoot(page, "43-team-staff")
    page.evaluate("document.querySelector('#staff').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "43-team-staff-first-screen.png"))
    assert staff_names(live_server)["Noor"] is True and staff_names(live_server)["Leo"] is False
    page.goto(page.base + "/visits/new")
    choice = page.get_by_label("Staff member")
    expect(choice.locator("option", has_text="Noor")).to_have_count(1)
    expect(choice.locator("option", has_text="Leo")).to_have_count(0)  # no longer offered
    expect(choice).to_have_value("Rosa Diaz")  # whoever records the visit, first


def test_the_visit_form_offers_the_staff_list_and_takes_a_new_name(page, live_server):
    sign_in(page)
    page.get_by_role("link", name="Visit").first.click()
    page.get_by_label("Phone").fill("(212) 555-0190")
    page.get_by_label("First name").fill("Dana")
    page.get_by_label("Staff member").select_option("Ana")
    shoot(page, "44-visit-staff-choice")
    page.get_by_role("button", name="Save visit").click()
    expect(page.get_by_role("heading", name="Visit saved")).to_be_visible()
    expect(page.locator("main")).to_contain_text("with Ana")
    page.get_by_role("link", name="Record another visit").click()
    page.get_by_label("Phone").fill("(212) 555-0191")
    page.locator("summary", has_text="Someone not on the list?").click()
    page.get_by_label("Their name").fill("  jules ")
    shoot(page, "45-visit-new-staff")
    page.get_by_role("button", name="Save visit").click()
    expect(page.locator("main")).to_contain_text("with jules")
    assert "jules" in staff_names(live_server)
    page.get_by_role("link", name="Record another visit").click()
    page.locator("summary", has_text="Someone not on the list?").click()
    page.get_by_label("Phone").fill("(212) 555-0192")
    page.get_by_label("Their name").fill("JULES")  # the list's spelling is kept
    page.get_by_role("button", name="Save visit").click()
    expect(page.locator("main")).to_contain_text("with jules")
    with Session(live_server["services"].engine) as s:
        assert [v.staff for v in s.exec(select(Visit).order_by(Visit.id))][-2:] == ["jules"] * 2
