"""The dashboard in a real phone-sized browser (390x844): reached from the tabs, readable, its
charts drawn as SVG, the presets and the date picker, the CSV link. Screenshotted and audited
(tap targets, labels, contrast, width) like every owner page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from app.models import Business, Customer, Feedback
from tests.e2e.conftest import MARIA, SCREENSHOTS
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")


def _ratings(live_server) -> None:
    """A week of answers, so the charts have bars (feedback only: the inbox is unchanged)."""
    services = live_server["services"]
    now = services.clock.now()
    with Session(services.engine) as session:
        if session.exec(select(Feedback.id).where(Feedback.staff == "E2E")).first():
            return
        business = session.exec(select(Business)).first()
        maria = session.exec(select(Customer).where(Customer.phone == MARIA)).one()
        answers = [(5, 5), (4, 5), (2, 5), (9, 10), (10, 10), (3, 10), (6, 7), (7, 7), (2, 7)]
        for n, (score, scale) in enumerate(answers):
            session.add(Feedback(business_id=business.id, customer_id=maria.id, score=score,
                                 scale=scale, staff="E2E" if n == 0 else "Ana",
                                 created_at=now - timedelta(days=n % 6, hours=1)))  # fmt: skip
        session.commit()


def test_the_dashboard_on_a_phone(page, live_server):
    _ratings(live_server)
    sign_in(page)
    page.get_by_role("link", name="Dashboard").click()
    expect(page).to_have_url(re.compile(r"/dashboard$"))
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
    expect(page.locator('[data-figure="csat_answers"]').first).to_have_text("3")
    expect(page.locator('[data-figure="ces_answers"]').first).to_have_text("3")
    expect(page.locator(".chart svg")).to_have_count(3)
    assert page.locator(".chart rect.chart-bar").count() >= 6
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the page is {width} px wide"
    shoot(page, "30-dashboard")
    page.screenshot(path=str(SCREENSHOTS / "30-dashboard-first-screen.png"))  # what a phone shows
    page.evaluate("document.querySelector('.chart').scrollIntoView()")
    page.screenshot(path=str(SCREENSHOTS / "30-dashboard-charts.png"))

    page.get_by_role("link", name="7 days").click()
    expect(page).to_have_url(re.compile(r"days=7"))
    expect(page.get_by_role("link", name="7 days")).to_have_attribute("aria-current", "page")
    page.get_by_text("Choose dates").click()
    page.get_by_label("From", exact=True).fill("2026-03-01")
    page.get_by_label("To", exact=True).fill("2026-03-10")
    page.get_by_role("button", name="Show").click()
    expect(page).to_have_url(re.compile(r"from=2026-03-01&to=2026-03-10"))
    expect(page.locator('[data-figure="range.first_day"]')).to_have_attribute(
        "data-value", "2026-03-01"
    )
    shoot(page, "31-dashboard-dates")
    csv_link = page.get_by_role("link", name="CSV")
    assert csv_link.get_attribute("href") == "/dashboard.csv?from=2026-03-01&to=2026-03-10"
    with page.expect_download() as download:
        csv_link.click()
    assert download.value.suggested_filename == "dashboard-2026-03-01-to-2026-03-10.csv"
