"""Search by a piece of a name or phone, on SQLite (FTS5, kept in step by triggers) and on
PostgreSQL (trigram indexes): the same answers either way, from the inbox and the customers
page."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import inspect, text

from app.models import Customer
from tests.conftest import inbound_form, post_signed
from tests.integration.test_owner_helpers import OVERRIDES, other_business, sign_in

PEOPLE = {
    "+12125550141": "María José Ortega",
    "+12125550142": "Mariana Lee",
    "+12125550143": "Josh O'Neil",
    "+12125550144": 'Al "Big Al" Green',
    "+13125550145": "Bo",
}


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def people(client, auth, session, clock):
    ids = {}
    for phone, name in PEOPLE.items():
        response = client.post("/api/v1/customers", json={"phone": phone, "name": name},
                               headers=auth)  # fmt: skip
        assert response.status_code == 201
        ids[name] = response.json["id"]
    garage = other_business(session, clock)
    session.add(Customer(business_id=garage.id, phone="+12125550146", name="Mariana Other"))
    session.commit()
    sign_in(client)
    return ids


def found(client, term: str, page: str = "/customers/") -> list[str]:
    html = client.get(page, query_string={"q": term}).get_data(as_text=True)
    return sorted(re.findall(r'<span class="name">([^<]+)</span>', html))


def test_partial_names_any_case_and_phone_digits(people, client):
    assert found(client, "mari") == ["Mariana Lee"]  # í is not i
    assert found(client, "marí") == ["María José Ortega"]
    assert found(client, "ANA") == ["Mariana Lee"]
    assert found(client, "jos") == ["Josh O&#39;Neil", "María José Ortega"]
    assert found(client, "o'ne") == ["Josh O&#39;Neil"]
    assert found(client, '"big al"') == ["Al &#34;Big Al&#34; Green"]  # quotes as they are
    assert found(client, '"big al') == ["Al &#34;Big Al&#34; Green"]
    assert found(client, 'al" green') == ["Al &#34;Big Al&#34; Green"]
    assert found(client, "Bo") == ["Bo"]  # two letters: still found
    assert found(client, "jose ortega") == []  # words apart are not one piece
    assert found(client, "josé ortega") == ["María José Ortega"]
    assert found(client, "555014") == ["Al &#34;Big Al&#34; Green", "Bo", "Josh O&#39;Neil",
                                       "Mariana Lee", "María José Ortega"]  # fmt: skip
    assert found(client, "(312) 555") == ["Bo"]
    assert found(client, "nobody") == []


def test_the_index_follows_renames_and_the_inbox_searches_the_same_way(people, client, auth,
                                                                       session):  # fmt: skip
    mariana = session.get(Customer, people["Mariana Lee"])
    mariana.name = "Mariana Kowalski"
    session.add(mariana)
    bo = session.get(Customer, people["Bo"])
    session.delete(bo)
    session.commit()
    assert found(client, "lee") == []
    assert found(client, "kowal") == ["Mariana Kowalski"]
    assert found(client, "312555") == []
    # The inbox lists only conversations: one with a text.
    text_in = inbound_form("hi", sid="SM" + "7" * 32, frm="+12125550142")
    post_signed(client, "/webhooks/twilio/sms", text_in)
    assert found(client, "kowal", "/inbox") == ["Mariana Kowalski"]
    assert found(client, "ANA", "/inbox") == ["Mariana Kowalski"]
    assert found(client, "ortega", "/inbox") == []  # no texts yet


def test_the_search_index_is_there(engine):
    if engine.dialect.name == "postgresql":
        indexes = {i["name"] for i in inspect(engine).get_indexes("customer")}
        assert {"ix_customer_name_trgm", "ix_customer_phone_trgm"} <= indexes
        with engine.connect() as connection:
            assert (
                connection.execute(
                    text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
                ).scalar()
                == 1
            )
    else:
        assert "customer_search" in inspect(engine).get_table_names()
