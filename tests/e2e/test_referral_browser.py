"""The referral landing page in a real phone-sized browser (390x844): a friend opens the
link, leaves their own name and number, ticks the box themselves and gets one text asking for
YES; then the owner sees who came through whom on the referrer's page. Screenshots go to
artifacts/screenshots/ and each page is audited (tap targets, labels, contrast, width)."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from app.models import Business, Customer, SimulatedText
from tests.e2e.conftest import MARIA, WAIT_MS
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")
FRIEND = "+12125550177"


def test_a_friend_signs_up_on_the_landing_page(page, live_server):
    engine = live_server["services"].engine
    with Session(engine) as s:
        business = s.exec(select(Business)).one()
        business.referral_offer = "15% off your first visit"
        s.add(business)
        s.commit()
        code = s.exec(select(Customer).where(Customer.phone == MARIA)).one().referral_code
    page.goto(f"{page.base}/r/{code.lower()}")
    expect(page.get_by_role("heading", name="Bloom Hair Studio")).to_be_visible()
    expect(page.get_by_text("15% off your first visit")).to_be_visible()
    consent = page.get_by_label("Yes, text me at this number about my visits")
    expect(consent).not_to_be_checked()
    expect(page.get_by_label("Also text me offers and rewards")).not_to_be_checked()
    shoot(page, "referral-landing")

    # Without the box: told, nothing sent.
    page.get_by_label("Your first name").fill("Jo")
    page.get_by_label("Your mobile number").fill("(212) 555-0177")
    page.get_by_role("button", name="Send me the text").click()
    expect(page.get_by_text("Tick the box to agree to get texts.")).to_be_visible()
    shoot(page, "referral-landing-error")

    page.get_by_label("Yes, text me at this number about my visits").check()
    page.get_by_role("button", name="Send me the text").click()
    expect(page.get_by_text("Thanks, Jo!")).to_be_visible()
    shoot(page, "referral-thanks")

    with Session(engine) as s:
        jo = s.exec(select(Customer).where(Customer.phone == FRIEND)).one()
        assert jo.referred_by is not None and jo.consent == "unknown"  # until YES
    # The live server's worker sends the one text (it polls every 0.2 s).
    for _ in range(WAIT_MS // 100):
        with Session(engine) as s:
            texts = s.exec(select(SimulatedText.body).where(SimulatedText.handset == FRIEND)).all()
        if texts:
            break
        page.wait_for_timeout(100)
    assert len(texts) == 1 and texts[0].startswith("Reply YES to get texts from Bloom Hair")

    sign_in(page)
    with Session(engine) as s:
        maria = s.exec(select(Customer).where(Customer.phone == MARIA)).one()
    page.goto(f"{page.base}/customers/{maria.id}")
    referrals = page.locator("#referrals")
    expect(referrals.get_by_text("Jo")).to_be_visible()
    expect(referrals.get_by_text(code, exact=True)).to_be_visible()
    shoot(page, "customer-referrals")
