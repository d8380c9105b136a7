"""Signing in and out, throttling, sessions that end, invites, and what staff may not reach."""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from sqlmodel import select

from app.models import SignInAttempt, User
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    STAFF_EMAIL,
    STAFF_PASSWORD,
    add_user,
    csrf_token,
    post,
    sign_in,
    token_for,
)


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def staff(session, business):
    return add_user(session, business, STAFF_EMAIL, STAFF_PASSWORD, "staff", "Ana Ruiz")


def test_pages_need_sign_in(client, business):
    for path in (
        "/inbox",
        "/conversations/1",
        "/visits/new",
        "/customers/",
        "/templates/",
        "/settings/",
        "/account",
    ):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/sign-in?next="), path


@pytest.fixture
def named_owner(session, business):
    """The owner has given their name, so signing in goes straight where it was going."""
    owner = session.exec(select(User).where(User.email == OWNER_EMAIL)).one()
    owner.name = "Rosa Diaz"
    session.add(owner)
    session.commit()
    return owner


@pytest.mark.usefixtures("named_owner")
def test_sign_in_sets_a_safe_session_cookie_and_returns_to_the_page(client, business):
    response = sign_in(client, OWNER_EMAIL, OWNER_PASSWORD, query_string={"next": "/customers/"})
    assert response.status_code == 302
    assert response.headers["Location"] == "/customers/"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" in cookie
    assert client.get("/inbox").status_code == 200


def test_sign_in_is_case_insensitive_on_email(client, business):
    assert sign_in(client, "  Owner@Bloom.TEST ", OWNER_PASSWORD).status_code == 302


@pytest.mark.usefixtures("named_owner")
def test_sign_in_never_redirects_off_site(client, business):
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        token = token_for(client)
        response = client.post(
            "/sign-in",
            data={
                "csrf_token": token,
                "email": OWNER_EMAIL,
                "password": OWNER_PASSWORD,
                "next": target,
            },
        )
        assert response.headers["Location"] == "/inbox", target
        client.post("/sign-out", data={"csrf_token": token_for(client, "/account")})


def test_a_wrong_password_or_unknown_email_says_the_same_and_is_recorded(client, business, session):
    wrong = sign_in(client, OWNER_EMAIL, "not the password")
    unknown = sign_in(client, "nobody@bloom.test", OWNER_PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    message = "That email and password do not match an account."
    assert message in wrong.get_data(as_text=True) and message in unknown.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302
    emails = sorted(a.email for a in session.exec(select(SignInAttempt)))
    assert emails == ["nobody@bloom.test", OWNER_EMAIL]


def test_five_failures_lock_the_email_for_fifteen_minutes(client, business, clock):
    for _ in range(5):
        assert sign_in(client, OWNER_EMAIL, "guess").status_code == 401
    locked = sign_in(client, OWNER_EMAIL, OWNER_PASSWORD)
    assert locked.status_code == 429
    assert "Too many failed sign-ins for this email" in locked.get_data(as_text=True)
    assert client.get("/inbox").status_code == 302
    clock.advance(minutes=15, seconds=1)
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302


def test_many_failures_from_one_address_lock_that_address(client, business, app):
    for n in range(30):
        response = sign_in(
            client, f"guess{n}@bloom.test", "guess", environ_base={"REMOTE_ADDR": "203.0.113.9"}
        )
        assert response.status_code == 401
    locked = sign_in(
        client, OWNER_EMAIL, OWNER_PASSWORD, environ_base={"REMOTE_ADDR": "203.0.113.9"}
    )
    assert locked.status_code == 429
    assert "from this network" in locked.get_data(as_text=True)
    other = app.test_client()
    assert (
        sign_in(
            other, OWNER_EMAIL, OWNER_PASSWORD, environ_base={"REMOTE_ADDR": "198.51.100.7"}
        ).status_code
        == 302
    )


def test_a_success_clears_earlier_failures(client, business, session):
    for _ in range(4):
        sign_in(client, OWNER_EMAIL, "guess")
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302
    assert session.exec(select(SignInAttempt).where(SignInAttempt.email == OWNER_EMAIL)).all() == []


def test_sign_out_ends_the_session(client, business):
    sign_in(client)
    response = client.post("/sign-out", data={"csrf_token": token_for(client, "/account")})
    assert response.status_code == 302
    assert client.get("/inbox").status_code == 302


def test_a_password_change_signs_out_every_other_device(client, app, business):
    sign_in(client)
    laptop = app.test_client()
    sign_in(laptop)
    response = post(
        client,
        "/account/password",
        {
            "current_password": OWNER_PASSWORD,
            "new_password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    )
    assert response.status_code == 302
    assert client.get("/inbox").status_code == 200  # this device stays in
    assert laptop.get("/inbox").status_code == 302  # the other one is out
    assert sign_in(app.test_client(), OWNER_EMAIL, "a brand new passphrase").status_code == 302


def test_password_change_checks_the_current_one_and_the_new_one(client, business):
    sign_in(client)
    wrong = post(
        client,
        "/account/password",
        {
            "current_password": "nope",
            "new_password": "a brand new passphrase",
            "confirm": "a brand new passphrase",
        },
    )
    assert wrong.status_code == 422
    assert "current password is not right" in wrong.get_data(as_text=True)
    short = post(
        client,
        "/account/password",
        {"current_password": OWNER_PASSWORD, "new_password": "short", "confirm": "short"},
    )
    assert short.status_code == 422 and "at least 10" in short.get_data(as_text=True)


def test_a_deactivated_member_is_signed_out_at_once_and_cannot_sign_in(
    app, client, business, staff
):
    ana = app.test_client()
    assert sign_in(ana, STAFF_EMAIL, STAFF_PASSWORD).status_code == 302
    sign_in(client)
    response = post(client, f"/settings/team/{staff.id}/access", {"active": "0"})
    assert response.status_code == 302
    assert ana.get("/inbox").status_code == 302
    assert sign_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 401


def test_staff_cannot_reach_settings_keys_or_team(client, business, staff, session):
    sign_in(client, STAFF_EMAIL, STAFF_PASSWORD)
    for path in ("/settings/", "/settings/keys", "/settings/team"):
        assert client.get(path).status_code == 403, path
    assert "Owners only" in client.get("/settings/").get_data(as_text=True)
    for path, data in (
        ("/settings/", {"name": "Taken over"}),
        ("/settings/keys", {"label": "mine"}),
        ("/settings/team", {"email": "x@y.test", "name": "X", "role": "owner"}),
        ("/templates/thank_you", {"source": "Hi", "action": "save"}),
        ("/templates/thank_you/reset", {}),
        (f"/settings/team/{staff.id}/role", {"role": "owner"}),
    ):
        assert post(client, path, data).status_code == 403, path
    session.refresh(business)
    session.refresh(staff)
    assert business.name == "Bloom Hair Studio" and staff.role == "staff"
    session.commit()  # a read holds SQLite's write lock until the transaction ends
    for path in (
        "/inbox",
        "/customers/",
        "/visits/new",
        "/templates/",
        "/templates/thank_you",
        "/account",
    ):
        assert client.get(path).status_code == 200, path
    nav = client.get("/inbox").get_data(as_text=True)
    assert 'href="/settings/"' not in nav and 'href="/account"' in nav


def test_an_invite_link_lets_a_new_member_choose_a_password_once(app, client, business, session):
    sign_in(client)
    response = post(
        client, "/settings/team", {"email": "Leo@Bloom.test", "name": "Leo", "role": "staff"}
    )
    assert response.status_code == 200
    link = re.search(
        r'id="invite-link"[^>]*>([^<]+)</textarea>', response.get_data(as_text=True)
    ).group(1)
    assert link.startswith("https://regulars.test/invite/")  # PUBLIC_BASE_URL
    path = urlsplit(link).path
    leo = app.test_client()
    assert sign_in(leo, "leo@bloom.test", "anything at all").status_code == 401
    page = leo.get(path)
    assert page.status_code == 200 and "leo@bloom.test" in page.get_data(as_text=True)
    token = csrf_token(page.get_data(as_text=True))
    mismatch = leo.post(
        path,
        data={"csrf_token": token, "password": "leo's new password", "confirm": "something else"},
    )
    assert mismatch.status_code == 422
    done = leo.post(
        path,
        data={
            "csrf_token": token,
            "password": "leo's new password",
            "confirm": "leo's new password",
        },
    )
    assert done.status_code == 302 and leo.get("/inbox").status_code == 200
    assert app.test_client().get(path).status_code == 404  # used once
    user = session.exec(select(User).where(User.email == "leo@bloom.test")).one()
    assert user.role == "staff" and user.business_id == business.id
    session.commit()
    assert sign_in(app.test_client(), "leo@bloom.test", "leo's new password").status_code == 302


def test_a_new_sign_in_link_replaces_the_old_password(app, client, business, staff):
    sign_in(client)
    response = post(client, f"/settings/team/{staff.id}/link", token_path="/settings/team")
    assert response.status_code == 200 and "/invite/" in response.get_data(as_text=True)
    assert sign_in(app.test_client(), STAFF_EMAIL, STAFF_PASSWORD).status_code == 401


def test_a_forged_or_expired_invite_link_does_nothing(client, business, staff, clock):
    assert client.get("/invite/not-a-token").status_code == 404


def test_the_team_keeps_an_owner(client, business, session):
    sign_in(client)
    owner = session.exec(select(User).where(User.email == OWNER_EMAIL)).one()
    session.commit()
    out = post(client, f"/settings/team/{owner.id}/access", {"active": "0"})
    assert out.status_code == 302
    assert "cannot remove yourself" in client.get("/settings/team").get_data(as_text=True)
    demote = post(client, f"/settings/team/{owner.id}/role", {"role": "staff"})
    assert demote.status_code == 302
    session.refresh(owner)
    assert owner.active and owner.role == "owner"


def test_an_owner_can_promote_staff(client, business, staff, session):
    sign_in(client)
    post(client, f"/settings/team/{staff.id}/role", {"role": "owner"})
    session.refresh(staff)
    assert staff.role == "owner"


def test_invites_are_checked(client, business, staff):
    sign_in(client)
    taken = post(client, "/settings/team", {"email": STAFF_EMAIL, "name": "Ana", "role": "staff"})
    assert taken.status_code == 422 and "already on your team" in taken.get_data(as_text=True)
    bad = post(client, "/settings/team", {"email": "not-an-email", "name": "X", "role": "staff"})
    assert bad.status_code == 422
    role = post(client, "/settings/team", {"email": "z@bloom.test", "name": "Z", "role": "admin"})
    assert role.status_code == 422


def test_sessions_expire_after_two_weeks(client, business, clock):
    sign_in(client)
    clock.advance(days=14, seconds=1)
    assert client.get("/inbox").status_code == 302


def test_the_front_page_links_to_sign_in_and_then_the_inbox(client, business):
    assert 'href="/sign-in"' in client.get("/").get_data(as_text=True)
    sign_in(client)
    assert 'href="/inbox"' in client.get("/").get_data(as_text=True)


def test_renamed_account(client, business, session):
    sign_in(client)
    assert post(client, "/account/profile", {"name": "Rosa Diaz"}).status_code == 302
    owner = session.exec(select(User).where(User.email == OWNER_EMAIL)).one()
    assert owner.name == "Rosa Diaz"


def test_attempts_older_than_a_day_are_forgotten(client, business, session, clock):
    sign_in(client, OWNER_EMAIL, "guess")
    clock.advance(days=1, minutes=1)
    sign_in(client, OWNER_EMAIL, "guess again")
    session.expire_all()
    assert len(session.exec(select(SignInAttempt)).all()) == 1


@pytest.mark.parametrize("delta", [timedelta(minutes=14)])
def test_throttle_counts_only_the_window(client, business, clock, delta):
    for _ in range(4):
        sign_in(client, OWNER_EMAIL, "guess")
    clock.advance(seconds=delta.total_seconds())
    sign_in(client, OWNER_EMAIL, "guess")
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 429
