"""Shared fixtures: a migrated database per test (SQLite file or PostgreSQL), a held clock,
Twilio faked at the HTTP level with `responses`, and a signed-webhook helper."""

from __future__ import annotations

import gc
import os
import shutil
from datetime import UTC, datetime
from urllib.parse import urlencode

import pytest
import responses
from sqlalchemy import text
from sqlmodel import Session, SQLModel
from twilio.request_validator import RequestValidator

from app import build_services, create_app
from app.care.businesses import create_business
from app.clock import FixedClock
from app.db import make_engine
from app.migrate import upgrade

TEST_PG = os.environ.get("TEST_DATABASE_URL", "")
ACCOUNT_SID = "AC" + "a" * 32
AUTH_TOKEN = "test-auth-token-0123456789"
TWILIO_BASE = "https://api.twilio.test"
PUBLIC_BASE = "https://regulars.test"
MESSAGES_URL = f"{TWILIO_BASE}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
BUSINESS_NUMBER = "+12125550100"
CUSTOMER_PHONE = "+12125550123"  # New York
# Cheap hashing keeps a test's setup fast; production uses scrypt (PASSWORD_METHOD).
FAST_PASSWORD_METHOD = "pbkdf2:sha256:1000"
# A Tuesday, 11:00 in New York: inside every sending window.
DAYTIME = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def is_postgres() -> bool:
    return bool(TEST_PG)


def base_settings(database_url: str, **overrides) -> dict:
    settings = {
        "ignore_environment": True,
        "env": "test",
        "database_url": database_url,
        "secret_key": "test-secret-key-0123456789abcdef",
        "sms_backend": "twilio",
        "twilio_account_sid": ACCOUNT_SID,
        "twilio_auth_token": AUTH_TOKEN,
        "twilio_api_base_url": TWILIO_BASE,
        "public_base_url": PUBLIC_BASE,
        "pacing": False,
        "worker_concurrency": 1,
        "owners_may_change_number": True,
        "backoff_base_seconds": 5.0,
    }
    settings.update(overrides)
    return settings


@pytest.fixture(scope="session")
def _template_db(tmp_path_factory):
    """Migrate once per session: a SQLite file to copy, or the PostgreSQL schema."""
    if is_postgres():
        engine = make_engine(TEST_PG)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    yield path


@pytest.fixture
def database_url(_template_db, tmp_path) -> str:
    if is_postgres():
        tables = ", ".join(t.name for t in reversed(SQLModel.metadata.sorted_tables))
        with _template_db.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        return TEST_PG
    path = tmp_path / "regulars.db"
    shutil.copyfile(_template_db, path)
    return f"sqlite:///{path}"


@pytest.fixture
def engine(database_url):
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(DAYTIME)


@pytest.fixture
def settings_overrides() -> dict:
    """Override in a test module to change settings for every test there."""
    return {}


@pytest.fixture
def services(database_url, engine, clock, settings_overrides):
    return build_services(
        base_settings(database_url, **settings_overrides), clock=clock, engine=engine
    )


@pytest.fixture
def app(services):
    app = create_app(services=services)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def session(engine):
    with Session(engine, expire_on_commit=False) as session:
        yield session


@pytest.fixture
def business_and_key(session, clock):
    created = create_business(
        session,
        name="Bloom Hair Studio",
        number=BUSINESS_NUMBER,
        timezone="America/New_York",
        owner_email="owner@bloom.test",
        owner_password="correct horse battery",
        review_url="https://g.page/r/bloom/review",
        now=clock.now(),
        password_method=FAST_PASSWORD_METHOD,
    )
    session.commit()
    return created


@pytest.fixture
def business(business_and_key):
    return business_and_key[0]


@pytest.fixture
def api_key(business_and_key):
    return business_and_key[1]


@pytest.fixture
def auth(api_key) -> dict:
    return {"Authorization": f"Bearer {api_key}"}


@pytest.fixture
def twilio():
    """Twilio's REST API faked at the HTTP level; any unregistered request fails the test."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        yield mock


def twilio_message(sid: str = "SM" + "0" * 32, status: str = "queued", **extra) -> dict:
    """A CreateMessage answer as Twilio gives it (201 JSON)."""
    body = {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "status": status,
        "num_segments": "1",
        "error_code": None,
        "error_message": None,
        "direction": "outbound-api",
        "body": "",
        "to": CUSTOMER_PHONE,
        "from": BUSINESS_NUMBER,
        "date_created": "Tue, 10 Mar 2026 15:00:00 +0000",
        "date_sent": None,
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }
    body.update(extra)
    return body


def sign(url: str, form: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, form)


def post_signed(client, path: str, form: dict, *, token: str = AUTH_TOKEN, headers=None):
    """POST a form to the app as Twilio would, signed for PUBLIC_BASE + path."""
    signature = sign(PUBLIC_BASE + path, form, token)
    return client.post(
        path,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature, **(headers or {})},
    )


def inbound_form(body: str, *, sid: str, frm: str = CUSTOMER_PHONE, to: str = BUSINESS_NUMBER):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": ACCOUNT_SID,
        "From": frm,
        "To": to,
        "Body": body,
        "NumMedia": "0",
    }


@pytest.fixture
def cli_environment(database_url) -> dict:
    """The environment a `cli` command sees; override in a module to change it."""
    return {"DATABASE_URL": database_url, "SMS_BACKEND": "simulator",
            "REGULARS_ENV": "development", "PUBLIC_BASE_URL": PUBLIC_BASE}  # fmt: skip


@pytest.fixture
def cli(monkeypatch, tmp_path, cli_environment, capsys):
    """Run `regulars ...` in-process with a clean environment; returns (code, stdout, stderr)."""
    from app.cli import main
    from app.config import ENV_NAMES

    for name in ENV_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)  # no stray .env is read
    for name, value in cli_environment.items():
        monkeypatch.setenv(name, value)

    def run(*argv: str) -> tuple[int, str, str]:
        capsys.readouterr()
        gc.freeze()  # what existed before the command is left alone by the collection below
        try:
            code = main(list(argv))
            gc.collect()  # a connection the command leaked is reported here, not later
        finally:
            gc.unfreeze()
        out, err = capsys.readouterr()
        return code, out, err

    return run
