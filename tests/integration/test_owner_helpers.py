"""Helpers for the owner-page tests (no tests here): sign in with CSRF on, read tokens, make a
second business and customers with conversations."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlmodel import Session, select
from werkzeug.security import generate_password_hash

from app.care.businesses import create_business
from app.care.inbound import receive_text
from app.models import Business, Customer, Message, User
from app.sms.webhooks import inbound_text
from tests.conftest import FAST_PASSWORD_METHOD

OWNER_EMAIL = "owner@bloom.test"
OWNER_PASSWORD = "correct horse battery"
STAFF_EMAIL = "ana@bloom.test"
STAFF_PASSWORD = "ana's long password"
OTHER_NUMBER = "+13125550100"
# Settings for every owner-page test: cheap password hashing (production uses scrypt).
OVERRIDES = {"extra": {"password_method": FAST_PASSWORD_METHOD}}


def csrf_token(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no csrf_token field"
    return match.group(1)


def token_for(client, path: str = "/sign-in") -> str:
    response = client.get(path)
    assert response.status_code == 200, (path, response.status_code)
    return csrf_token(response.get_data(as_text=True))


def sign_in(client, email: str = OWNER_EMAIL, password: str = OWNER_PASSWORD, **kwargs):
    token = token_for(client, "/sign-in")
    return client.post(
        "/sign-in", data={"csrf_token": token, "email": email, "password": password}, **kwargs
    )


def post(client, path: str, data: dict | None = None, *, token_path: str | None = None, **kw):
    """POST a form with a valid CSRF token (read from `token_path`, default the account page)."""
    token = token_for(client, token_path or "/account")
    return client.post(path, data={"csrf_token": token, **(data or {})}, **kw)


def add_user(
    session: Session, business: Business, email: str, password: str, role: str, name: str = ""
) -> User:
    user = User(
        business_id=business.id,
        email=email,
        password_hash=generate_password_hash(password, method=FAST_PASSWORD_METHOD),
        role=role,
        name=name,
    )
    session.add(user)
    session.commit()
    return user


def other_business(session: Session, clock) -> Business:
    business, _ = create_business(
        session,
        name="Northside Garage",
        number=OTHER_NUMBER,
        timezone="America/Chicago",
        owner_email="owner@garage.test",
        owner_password="garage owner password",
        now=clock.now(),
        password_method=FAST_PASSWORD_METHOD,
    )
    session.commit()
    return business


def conversation_with(
    session: Session,
    business: Business,
    phone: str,
    body: str,
    *,
    clock,
    sid: str,
    minutes: float = 0,
) -> Customer:
    """An inbound text at clock + minutes; returns the customer."""
    when = clock.now() + timedelta(minutes=minutes)
    form = {"MessageSid": sid, "From": phone, "To": business.number, "Body": body}
    receive_text(session, inbound_text(form), now=when)
    customer = session.exec(
        select(Customer).where(Customer.business_id == business.id, Customer.phone == phone)
    ).one()
    session.commit()  # on SQLite a read holds the write lock until its transaction ends
    return customer


def messages_of(session: Session, customer_id: int) -> list[Message]:
    query = select(Message).where(Message.customer_id == customer_id).order_by(Message.id)
    messages = list(session.exec(query.execution_options(populate_existing=True)))
    session.commit()
    return messages
