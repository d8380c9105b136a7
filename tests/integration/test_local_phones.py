"""Phones on the owner's pages are written the way the owner writes them: the business's own
country in its national format, others with their country code; never raw E.164 (which stays in
the API and the CSV). Numbers typed without a country code are read in the business's country."""

from __future__ import annotations

import io
import re

import pytest
from sqlmodel import select

from app.models import Customer
from tests.conftest import inbound_form, post_signed
from tests.integration.test_owner_helpers import OVERRIDES, post

E164 = re.compile(r"\+\d{8,15}")
UK_NUMBER = "+442079460000"  # a London number (Ofcom's range for drama)


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def owner_pages(owner, customer_id: int, visit_id: int) -> dict[str, str]:
    paths = ["/inbox", "/inbox?filter=needs_reply", f"/conversations/{customer_id}",
             "/customers", f"/customers/{customer_id}", f"/visits/{visit_id}", "/visits/new",
             "/settings", "/settings/team", "/settings/keys", "/templates", "/account",
             "/customers/import"]  # fmt: skip
    pages = {}
    for path in paths:
        response = owner.get(path, follow_redirects=True)
        assert response.status_code == 200, path
        pages[path] = response.get_data(as_text=True)
    return pages


def test_no_owner_page_shows_an_e164_number(owner, client, auth, session, business):
    visit = client.post("/api/v1/visits", json={"phone": "+12125550123", "name": "Maria Lopez",
                        "consent": True}, headers=auth)  # fmt: skip
    assert visit.status_code == 201, visit.json
    post_signed(client, "/webhooks/twilio/sms", inbound_form("hi?", sid="SM" + "1" * 32,
                frm="+447400123456"))  # fmt: skip
    patched = client.patch("/api/v1/business", json={"alert_phone": "+12125550199"}, headers=auth)
    assert patched.status_code == 200, patched.json
    maria = visit.json["customer_id"]
    pages = owner_pages(owner, maria, visit.json["id"])
    for path, page in pages.items():
        assert not E164.findall(page), (path, E164.findall(page))
    assert "(212) 555-0123" in pages[f"/conversations/{maria}"]
    assert "(212) 555-0199" in pages["/settings"] and "(212) 555-0100" in pages["/settings"]
    assert "+44 7400 123456" in pages["/inbox"]  # another country keeps its code
    # The data itself is unchanged: the API and the CSV export still say E.164.
    assert client.get(f"/api/v1/customers/{maria}", headers=auth).json["phone"] == "+12125550123"
    assert "+12125550123" in owner.get("/customers/export.csv").get_data(as_text=True)


def test_a_business_abroad_reads_and_shows_numbers_its_own_way(owner, session, business):
    business.number = UK_NUMBER
    session.add(business)
    session.commit()
    added = post(owner, "/customers/new", {"phone": "07400 123456", "name": "Olivia Hart"},
                 token_path="/customers/new")  # fmt: skip
    assert added.status_code == 302, added.get_data(as_text=True)
    stored = session.exec(
        select(Customer).where(Customer.business_id == business.id).execution_options(
            populate_existing=True)
    ).one()  # fmt: skip
    session.commit()  # end the read: on SQLite the test's transaction holds the write lock
    assert stored.phone == "+447400123456"
    page = owner.get(f"/customers/{stored.id}").get_data(as_text=True)
    assert "07400 123456" in page and "+447400123456" not in page
    visit = post(owner, "/visits/", {"phone": "212 555 0123", "name": "Sam Rivera"},
                 token_path="/visits/new")  # fmt: skip
    assert visit.status_code == 422  # a US number without +1 is not a UK number
    visit = post(owner, "/visits/", {"phone": "+1 212 555 0123", "name": "Sam Rivera"},
                 token_path="/visits/new")  # fmt: skip
    assert visit.status_code == 302
    shown = owner.get(visit.location).get_data(as_text=True)
    assert "+1 212-555-0123" in shown


def test_a_csv_row_without_a_country_code_is_read_in_the_business_country(owner, session, business):
    business.number = UK_NUMBER
    session.add(business)
    session.commit()
    csv = "phone,name,consent\n07400 123457,Olivia Hart,no\n"
    token = re.search(r'name="csrf_token" value="([^"]+)"',
                      owner.get("/customers/import").get_data(as_text=True))[1]  # fmt: skip
    preview = owner.post("/customers/import", data={"csrf_token": token,
                         "file": (io.BytesIO(csv.encode()), "c.csv")},
                         content_type="multipart/form-data")  # fmt: skip
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "07400 123457" in page, page[-2000:]


UTC_TIME = re.compile(r"\b3:00\s?PM\b|\b15:00\b|\bUTC\b|\+00:00|T15:00")


def shown(page: str) -> str:
    """What a page shows: its text, not its tags (a <time datetime> is for machines)."""
    page = re.sub(r"<(script|style)\b.*?</\1>", " ", page, flags=re.S)
    return re.sub(r"<[^>]+>", " ", page)


def test_no_owner_page_shows_a_utc_time(owner, client, auth):
    """Everything here happens at 15:00 UTC, 11:00 AM in New York, the business's zone: the
    pages say 11:00 AM, never 3:00 PM, 15:00 or UTC (the API keeps its UTC moments)."""
    visit = client.post("/api/v1/visits", json={"phone": "+12125550123", "name": "Maria Lopez",
                        "consent": True}, headers=auth)  # fmt: skip
    assert visit.status_code == 201, visit.json
    post_signed(client, "/webhooks/twilio/sms", inbound_form("hi?", sid="SM" + "2" * 32))
    maria = visit.json["customer_id"]
    pages = owner_pages(owner, maria, visit.json["id"])
    pages["/dashboard"] = owner.get("/dashboard").get_data(as_text=True)
    pages["/simulator"] = owner.get("/simulator").get_data(as_text=True)
    for path, page in pages.items():
        assert not UTC_TIME.findall(shown(page)), (path, UTC_TIME.findall(shown(page)))
    assert "11:00 AM" in pages[f"/conversations/{maria}"]
    assert "11:00 AM" in pages["/inbox"]
    assert client.get(f"/api/v1/customers/{maria}", headers=auth).json["created_at"].startswith(
        "2026-03-10T15:00")  # fmt: skip
