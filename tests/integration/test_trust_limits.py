"""Trust, tried from outside: sign-in throttling that counts each client by its own address
behind the documented proxy and cannot be renewed forever, request limits shared by every
web process, webhooks never answered 429, security headers, sign out everywhere, staff kept
out of bulk customer data, invites that reveal nothing about other businesses, and tracked
links that only ever go to a checked page."""

from __future__ import annotations

import socket

import pytest
from sqlmodel import select

from app import build_services, create_app
from app.care.customers import find_or_create
from app.models import RateCounter, TrackedLink
from tests.conftest import (
    CUSTOMER_PHONE,
    base_settings,
    inbound_form,
    post_signed,
)
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    OWNER_EMAIL,
    OWNER_PASSWORD,
    add_user,
    other_business,
    post,
    sign_in,
    token_for,
)

PROXY = {"REMOTE_ADDR": "10.0.0.2"}  # the one proxy in front, as the README sets it up


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def app_for(database_url, engine, clock, **overrides):
    settings = base_settings(database_url, **{**OVERRIDES, **overrides})
    app = create_app(services=build_services(settings, clock=clock, engine=engine))
    app.config["TESTING"] = True
    return app


def through_proxy(client, client_ip: str, email: str, password: str):
    """A sign-in as it reaches the app behind one proxy: the proxy adds the client's address."""
    return sign_in(client, email, password, environ_base=PROXY,
                   headers={"X-Forwarded-For": client_ip})  # fmt: skip


# ---- sign-in throttling ---------------------------------------------------------------------


def test_behind_the_documented_proxy_strangers_never_lock_out_another_user(
    database_url, engine, clock, business
):
    app = app_for(database_url, engine, clock, trusted_proxies=1)
    attacker = app.test_client()
    for n in range(30):  # enough to lock one address
        assert (
            through_proxy(attacker, "203.0.113.9", f"guess{n}@x.test", "guess").status_code == 401
        )
    assert through_proxy(attacker, "203.0.113.9", OWNER_EMAIL, OWNER_PASSWORD).status_code == 429
    owner = app.test_client()
    assert through_proxy(owner, "198.51.100.7", OWNER_EMAIL, OWNER_PASSWORD).status_code == 302


def test_with_no_proxy_configured_a_forwarded_address_is_not_believed(client, business):
    """TRUSTED_PROXIES defaults to 0: a client cannot dodge the address throttle by claiming
    a new X-Forwarded-For on every try."""
    for n in range(30):
        response = sign_in(client, f"guess{n}@x.test", "guess", environ_base=PROXY,
                           headers={"X-Forwarded-For": f"203.0.113.{n}"})  # fmt: skip
        assert response.status_code == 401
    locked = sign_in(client, OWNER_EMAIL, OWNER_PASSWORD, environ_base=PROXY,
                     headers={"X-Forwarded-For": "198.51.100.250"})  # fmt: skip
    assert locked.status_code == 429


def test_each_lockout_lasts_longer_and_hammering_it_counts_nothing(client, business, clock):
    for _ in range(5):
        assert sign_in(client, OWNER_EMAIL, "wrong guess").status_code == 401
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 429  # 15 minutes
    for _ in range(20):  # during the lockout nothing is checked or counted
        assert sign_in(client, OWNER_EMAIL, "wrong guess").status_code == 429
    clock.advance(minutes=15, seconds=1)
    for _ in range(5):
        assert sign_in(client, OWNER_EMAIL, "wrong guess").status_code == 401
    second = sign_in(client, OWNER_EMAIL, OWNER_PASSWORD)
    assert second.status_code == 429 and "60 minutes" in second.get_data(as_text=True)
    clock.advance(minutes=59)
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 429
    clock.advance(minutes=1, seconds=1)
    assert sign_in(client, OWNER_EMAIL, OWNER_PASSWORD).status_code == 302  # and it is cleared
    later = client.application.test_client()
    assert sign_in(later, OWNER_EMAIL, "one slip").status_code == 401


# ---- request limits -------------------------------------------------------------------------


def test_api_limit_counts_per_key_across_web_processes(database_url, engine, clock, api_key):
    """Two app instances (two web processes) share one counter in the database."""
    first = app_for(database_url, engine, clock, api_rate_limit="5 per minute").test_client()
    second = app_for(database_url, engine, clock, api_rate_limit="5 per minute").test_client()
    auth = {"Authorization": f"Bearer {api_key}"}
    answers = [(first if n % 2 else second).get("/api/v1/business", headers=auth)
               for n in range(6)]  # fmt: skip
    assert [a.status_code for a in answers] == [200] * 5 + [429]
    error = answers[-1].get_json()["error"]
    assert error["code"] == "too_many_requests" and error["message"]
    # Another key (another integration) is not held up by this one.
    other = {"Authorization": "Bearer rk_someone-else"}
    assert first.get("/api/v1/business", headers=other).status_code == 401


def test_the_limit_is_documented_in_the_api_document(client):
    document = client.get("/api/v1/openapi.json").get_json()
    assert "429" in document["paths"]["/api/v1/visits"]["post"]["responses"]


def test_tracked_links_are_limited_per_address(database_url, engine, clock, session, business):
    app = app_for(database_url, engine, clock, public_rate_limit="3 per minute")
    visitor = app.test_client()
    statuses = [visitor.get("/l/nosuchtoken0001").status_code for _ in range(4)]
    assert statuses == [404, 404, 404, 429]
    neighbour = app.test_client()
    other = neighbour.get("/l/nosuchtoken0001", environ_base={"REMOTE_ADDR": "198.51.100.3"})
    assert other.status_code == 404
    assert session.exec(select(RateCounter)).all()  # counted in the shared table


def test_twilio_webhooks_are_never_answered_429(database_url, engine, clock, business):
    app = app_for(database_url, engine, clock, api_rate_limit="1 per minute",
                  public_rate_limit="1 per minute")  # fmt: skip
    client = app.test_client()
    for n in range(5):
        response = post_signed(client, "/webhooks/twilio/sms",
                               inbound_form(f"text {n}", sid=f"SM{n:032d}"))  # fmt: skip
        assert response.status_code == 200


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="no Redis on 127.0.0.1:6379")
def test_redis_can_hold_the_counters(database_url, engine, clock, api_key):
    import redis

    redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()
    url = "redis://127.0.0.1:6379/15"
    apps = [app_for(database_url, engine, clock, rate_limit_storage=url,
                    api_rate_limit="3 per minute").test_client() for _ in range(2)]  # fmt: skip
    auth = {"Authorization": f"Bearer {api_key}"}
    statuses = [apps[n % 2].get("/api/v1/business", headers=auth).status_code for n in range(4)]
    assert statuses == [200, 200, 200, 429]
    redis.Redis(host="127.0.0.1", port=6379, db=15).flushdb()


# ---- headers, sessions, roles, invites, links -----------------------------------------------


def test_owner_pages_cannot_be_framed_or_fed_scripts(database_url, engine, clock, business):
    client = app_for(database_url, engine, clock).test_client()
    sign_in(client)
    page = client.get("/inbox")
    assert page.status_code == 200
    assert "frame-ancestors 'none'" in page.headers["Content-Security-Policy"]
    assert "script-src 'self'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Strict-Transport-Security"].startswith("max-age=")  # https origin
    plain = app_for(database_url, engine, clock, public_base_url="").test_client()
    assert "Strict-Transport-Security" not in plain.get("/sign-in").headers


def test_sign_out_everywhere_ends_every_session(app, business):
    phone, laptop = app.test_client(), app.test_client()
    sign_in(phone)
    sign_in(laptop)
    assert laptop.get("/inbox").status_code == 200
    response = post(phone, "/account/sign-out-everywhere")
    assert response.status_code == 302
    assert phone.get("/inbox").status_code == 302
    assert laptop.get("/inbox").status_code == 302
    assert sign_in(app.test_client()).status_code == 302  # the password still works


def test_staff_cannot_export_or_import_customers(client, session, business):
    add_user(session, business, "ana@bloom.test", "ana's long password", "staff", "Ana")
    sign_in(client, "ana@bloom.test", "ana's long password")
    assert client.get("/customers/export.csv").status_code == 403
    assert client.get("/customers/import").status_code == 403
    token = token_for(client, "/account")
    data = {"csrf_token": token, "csv_text": f"phone,consent\n{CUSTOMER_PHONE},yes\n"}
    assert client.post("/customers/import/confirm", data=data).status_code == 403
    assert client.get("/customers/").status_code == 200  # the list itself is theirs to use


def test_an_invite_does_not_say_whether_another_business_has_that_email(
    client, session, business, clock
):
    other_business(session, clock)  # owner@garage.test is its owner
    sign_in(client)
    taken = post(client, "/settings/team", {"email": "owner@garage.test", "name": "Olga",
                                            "role": "staff"})  # fmt: skip
    page = taken.get_data(as_text=True)
    assert taken.status_code == 422
    assert "garage" not in page.lower().replace("owner@garage.test", "")
    assert "already has an account" not in page and "another business" not in page


def test_a_tracked_link_goes_only_to_a_checked_page(client, session, business, clock):
    """Whatever a row says (an old link, a row written by hand), /l/ goes only to a public
    https page."""
    customer, _ = find_or_create(session, business, CUSTOMER_PHONE, now=clock.now())
    for n, target in enumerate(["https://g.page/r/bloom/review", "https://127.0.0.1/admin",
                                "javascript:alert(1)", "https://user:pw@g.page/x"]):  # fmt: skip
        session.add(TrackedLink(token=f"tok{n:08d}", business_id=business.id,
                                customer_id=customer.id, target_url=target,
                                created_at=clock.now()))  # fmt: skip
    session.commit()
    assert client.get("/l/tok00000000").status_code == 302
    for n in (1, 2, 3):
        assert client.get(f"/l/tok{n:08d}").status_code == 404


def test_review_url_with_a_line_break_or_internal_host_is_refused(client, auth):
    for url in [
        "https://g.page/r/x\r\nSet-Cookie: a=b",
        "https://localhost/review",
        "https://10.1.2.3/r",
        "https://intranet.corp/r",
        "https://a:b@g.page/r",
    ]:
        response = client.patch("/api/v1/business", json={"review_url": url}, headers=auth)
        assert response.status_code == 422, url
        assert response.get_json()["error"]["field"] == "review_url"
