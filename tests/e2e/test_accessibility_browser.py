"""axe-core on every owner page at 390x844: no serious or critical violation anywhere, signed
out (sign-in, the referral landing page, the offline page, an invite) and signed in (inbox,
conversation, dashboard, visits, customers, texts, saved replies, broadcasts, settings, team
and staff, API keys, account, the name step, error pages). The other browser tests run the
same check on every page they screenshot (tests/e2e/audit.py); this one makes sure none is
left out."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from app.models import Business, Customer, User, Visit
from tests.conftest import FAST_PASSWORD_METHOD
from tests.e2e import axe
from tests.e2e.conftest import MARIA, SCREENSHOTS
from tests.e2e.test_owner_browser import sign_in

pytestmark = pytest.mark.usefixtures("live_server")
JAMES = "+12125550112"
NEWCOMER_EMAIL = "newcomer@bloom.example"
NEWCOMER_PASSWORD = "newcomer's own password"


def ids(live_server) -> dict:
    with Session(live_server["services"].engine) as s:
        business = s.exec(select(Business)).first()
        maria = s.exec(select(Customer).where(Customer.phone == MARIA)).one()
        # James has no new texts: opening his conversation marks nothing read for other tests
        james = s.exec(select(Customer).where(Customer.phone == JAMES)).one()
        visit = s.exec(select(Visit).where(Visit.customer_id == james.id)).first()
        if s.exec(select(User).where(User.email == NEWCOMER_EMAIL)).first() is None:
            hashed = generate_password_hash(NEWCOMER_PASSWORD, method=FAST_PASSWORD_METHOD)
            s.add(User(business_id=business.id, email=NEWCOMER_EMAIL, role="staff", name="",
                       password_hash=hashed))  # fmt: skip
            s.commit()
        return {"james": james.id, "code": maria.referral_code, "visit": visit.id}


def check(page, name: str, problems: dict) -> None:
    """axe on the page as it is now; its violations kept under the page's name."""
    page.wait_for_load_state("load")
    page.screenshot(path=str(SCREENSHOTS / f"axe-{name}.png"), full_page=True)
    found = axe.violations(page, page.axe_script)
    if found:
        problems[name] = found


@pytest.fixture
def axe_page(page, axe_script):
    if axe_script is None:
        pytest.skip("axe-core is not installed here (see the note at the end of the run)")
    page.axe_script = axe_script
    return page


def test_no_owner_page_has_a_serious_accessibility_violation(axe_page, live_server):
    page, found = axe_page, ids(live_server)
    problems: dict[str, list[str]] = {}
    base = page.base
    for name, path in (("front-page", "/"), ("sign-in", "/sign-in"), ("offline", "/offline"),
                       ("referral-landing", f"/r/{found['code']}")):  # fmt: skip
        page.goto(base + path)
        check(page, name, problems)
    page.goto(base + "/sign-in")
    page.get_by_label("Email").fill("nobody@bloom.example")
    page.get_by_label("Password").fill("not a password at all")
    page.get_by_role("button", name="Sign in").click()
    check(page, "sign-in-error", problems)

    sign_in(page)
    expect(page).to_have_url(re.compile(r"/inbox$"))
    owner_pages = (
        ("inbox", "/inbox"),
        ("inbox-needs-reply", "/inbox?filter=needs_reply"),
        ("conversation", f"/conversations/{found['james']}"),
        ("dashboard", "/dashboard"),
        ("visit-form", "/visits/new"),
        ("visit-saved", f"/visits/{found['visit']}"),
        ("customers", "/customers/"),
        ("customer", f"/customers/{found['james']}"),
        ("customer-new", "/customers/new"),
        ("import", "/customers/import"),
        ("texts", "/templates/"),
        ("text-editor", "/templates/thank_you"),
        ("saved-replies", "/replies/"),
        ("broadcasts", "/broadcasts/"),
        ("broadcast-new", "/broadcasts/new"),
        ("settings", "/settings/"),
        ("team", "/settings/team"),
        ("api-keys", "/settings/keys"),
        ("account", "/account"),
        ("not-found", "/customers/999999"),
    )
    for name, path in owner_pages:
        page.goto(base + path)
        check(page, name, problems)
    page.goto(base + "/visits/new")
    page.get_by_role("button", name="Save visit").click()  # a form showing its errors
    check(page, "visit-form-errors", problems)
    page.goto(base + "/broadcasts/new")
    page.get_by_role("button", name="Check").click()  # no text yet: the composer's errors
    check(page, "broadcast-form-errors", problems)
    page.goto(base + "/settings/team")
    page.get_by_label("Name", exact=True).fill("Kim Lee")
    page.get_by_label("Email").fill("kim@bloom.example")
    page.get_by_role("button", name="Create invite link").click()
    check(page, "invite-link", problems)
    link = page.get_by_label("Sign-in link").input_value()
    page.context.clear_cookies()
    page.goto(link)
    check(page, "invite-accept", problems)

    page.context.clear_cookies()
    sign_in(page, NEWCOMER_EMAIL, NEWCOMER_PASSWORD)
    expect(page.get_by_role("heading", name="What should customers call you?")).to_be_visible()
    check(page, "name-step", problems)
    page.goto(base + "/settings/")  # staff: an error page
    check(page, "owners-only", problems)
    assert problems == {}, "\n".join(
        f"{name}: {line}" for name, lines in problems.items() for line in lines
    )
