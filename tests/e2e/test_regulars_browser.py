"""A regular recognised, in a real phone-sized browser (390x844): Sofia has come every three
weeks and has not been in for six. The inbox line says so, the Overdue list has her with a
personal text to start from, and her conversation opens with it in the composer and her facts
beside it. Screenshots go to artifacts/screenshots/ and each page is audited."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from playwright.sync_api import expect
from sqlmodel import Session, select

from app.care.customers import set_consent
from app.care.inbound import receive_text
from app.care.visits import record_visit
from app.contract.commands import VisitCreate
from app.models import Business, Customer
from app.sms.webhooks import inbound_text
from tests.e2e.conftest import BUSINESS_NUMBER
from tests.e2e.test_owner_browser import shoot, sign_in

pytestmark = pytest.mark.usefixtures("live_server")
SOFIA = "+12125550166"
FACTS = "4th visit · usually every 3 weeks · sees Ana"


def _sofia(services) -> None:
    """Four visits three weeks apart, the last six weeks ago, and a text from her today."""
    now = services.clock.now()
    with Session(services.engine) as session:
        business = session.exec(select(Business)).one()
        for weeks_ago, staff in ((15, "Ana"), (12, "Bo"), (9, "Ana"), (6, "Ana")):
            record_visit(session, business, VisitCreate(
                phone=SOFIA, name="Sofia Reyes", staff=staff, amount=45,
                occurred_at=now - timedelta(weeks=weeks_ago)), now=now, source="demo")  # fmt: skip
        sofia = session.exec(select(Customer).where(Customer.phone == SOFIA)).one()
        # consent after the visits: their follow-ups were never planned, so nothing is sent
        set_consent(session, sofia, "granted", source="in person", now=now)
        sofia.birthday = "03-03"
        session.add(sofia)
        form = {"MessageSid": "SMe2eregular0000000000000000000001", "From": SOFIA,
                "To": BUSINESS_NUMBER, "Body": "Hi! Is Ana in this Friday?"}  # fmt: skip
        receive_text(session, inbound_text(form), now=now)
        session.commit()


def test_a_regular_on_the_inbox_the_overdue_list_and_her_side_panel(page, live_server):
    _sofia(live_server["services"])
    sign_in(page)
    page.goto(page.base + "/inbox")
    line = page.locator(".conversations li", has_text="Sofia Reyes")
    expect(line.get_by_text(FACTS)).to_be_visible()
    expect(line.get_by_text("Regular", exact=True)).to_be_visible()
    expect(line.get_by_text("Overdue", exact=True)).to_be_visible()
    shoot(page, "regulars-inbox")

    page.get_by_role("link", name="Overdue", exact=True).click()
    expect(page.get_by_role("heading", name="Overdue")).to_be_visible()
    card = page.locator(".overdue-list li", has_text="Sofia Reyes")
    expect(card.get_by_text(FACTS)).to_be_visible()
    expect(card.get_by_text("Hi Sofia, we have not seen you at Bloom Hair Studio")).to_be_visible()
    shoot(page, "regulars-overdue-list")

    card.get_by_role("link", name="Text Sofia").click()
    composer = page.get_by_label("Text to Sofia")
    expect(composer).to_have_value(re.compile(
        r"^Hi Sofia, we have not seen you at Bloom Hair Studio since \w+ \d+, 2026 and we "
        r"miss you! Would you like Ana to fit you in\?$"))  # fmt: skip
    shoot(page, "regulars-composer")
    page.get_by_text("About Sofia").click()
    panel = page.locator("#about")
    expect(panel.get_by_text("Every 3 weeks")).to_be_visible()
    expect(panel.get_by_text("March 3")).to_be_visible()
    expect(panel.get_by_text("$180.00")).to_be_visible()
    panel.scroll_into_view_if_needed()
    shoot(page, "regulars-side-panel")
