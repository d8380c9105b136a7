"""Browser tests: the real app (SQLite file, simulated phone, dispatcher running) served on
127.0.0.1 and driven by Debian's headless Chromium at 390x844 through Playwright.

Chromium comes from the system (/usr/bin/chromium); Playwright never downloads a browser.
Without it the browser tests are skipped locally and fail under CI=true (scripts/test
installs it when it runs as root).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlmodel import select
from werkzeug.serving import make_server

from app import build_services, create_app
from app.care.businesses import create_business
from app.care.dispatcher import Dispatcher
from app.care.inbound import receive_text
from app.care.visits import record_visit
from app.contract.commands import VisitCreate
from app.db import session_scope
from app.migrate import upgrade
from app.models import User
from app.sms.webhooks import inbound_text
from tests.conftest import DAYTIME, FAST_PASSWORD_METHOD
from tests.e2e import audit, axe

CHROMIUM = os.environ.get("REGULARS_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
VIEWPORT = {"width": 390, "height": 844}
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
OWNER_EMAIL = "owner@bloom.example"
OWNER_PASSWORD = "bloom-e2e-password"
BUSINESS_NUMBER = "+12125550100"
MARIA = "+12125550111"
PRIYA = "+13125550113"
LIVE_POLL_MS = 400
WAIT_MS = 15_000  # the longest any browser condition is waited for


def _browser_missing() -> str | None:
    if not os.path.exists(CHROMIUM):
        return f"{CHROMIUM} is missing (apt-get install chromium chromium-driver)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "the playwright package is missing (pip install -e '.[dev]')"
    return None


@pytest.fixture(scope="session")
def _browser_available():
    problem = _browser_missing()
    if problem:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests cannot run in CI: {problem}")
        pytest.skip(f"browser tests skipped: {problem}")


class DaytimeClock:
    """Real time moving forward from a Tuesday, 11:00 in New York, so what the pages show
    (open hours, after-hours answers, the sending-window warning) is the same at any hour."""

    def __init__(self, start: datetime = DAYTIME):
        self.start, self.began = start, time.monotonic()

    def now(self) -> datetime:
        return self.start + timedelta(seconds=time.monotonic() - self.began)


@pytest.fixture(scope="session")
def live_server(_browser_available):
    """The app and its dispatcher on a free port, over a fresh SQLite file with a demo shop."""
    workdir = Path(tempfile.mkdtemp(prefix="regulars-e2e-"))
    services = build_services(
        {
            "ignore_environment": True,
            "env": "development",
            "simulator_page": True,
            "database_url": f"sqlite:///{workdir / 'e2e.db'}",
            "secret_key": "e2e-secret-key-0123456789abcdef",
            "sms_backend": "simulator",
            "pacing": False,
            "worker_poll_seconds": 0.2,
            "extra": {"password_method": FAST_PASSWORD_METHOD},
        },
        clock=DaytimeClock(),
    )
    upgrade(services.engine)
    _seed(services)
    app = create_app(services=services)
    app.config["LIVE_POLL_MS"] = LIVE_POLL_MS
    server = make_server("127.0.0.1", 0, app, threaded=True)
    stop = threading.Event()
    dispatcher = Dispatcher(
        services.engine, services.gateway, services.settings, clock=services.clock
    )
    threads = [
        threading.Thread(target=server.serve_forever, name="e2e-web", daemon=True),
        threading.Thread(
            target=dispatcher.run_forever, args=(stop,), name="e2e-worker", daemon=True
        ),
    ]
    for thread in threads:
        thread.start()
    try:
        yield {"url": f"http://127.0.0.1:{server.server_port}", "services": services}
    finally:
        server.shutdown()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
        services.engine.dispose()
        shutil.rmtree(workdir, ignore_errors=True)


def _seed(services) -> None:
    now = services.clock.now()
    with session_scope(services.engine) as session:
        business, _ = create_business(
            session,
            name="Bloom Hair Studio",
            number=BUSINESS_NUMBER,
            timezone="America/New_York",
            owner_email=OWNER_EMAIL,
            owner_password=OWNER_PASSWORD,
            review_url="https://g.page/r/bloom/review",
            now=now,
            password_method=FAST_PASSWORD_METHOD,
        )
        owner = session.exec(select(User).where(User.email == OWNER_EMAIL)).one()
        owner.name = "Rosa Diaz"
        session.add(owner)
        session.commit()
        for phone, name, staff, hours in (
            (MARIA, "Maria Lopez", "Ana", 3),
            ("+12125550112", "James Carter", "Leo", 5),
        ):
            record_visit(
                session,
                business,
                VisitCreate(
                    phone=phone,
                    name=name,
                    consent=True,
                    staff=staff,
                    occurred_at=now - timedelta(hours=hours),
                ),
                now=now,
                source="demo",
            )
        for n, (phone, body) in enumerate(
            (
                (PRIYA, "Hi! Do you have anything open Saturday morning?"),
                (MARIA, "Thank you! Can I book with Ana again next month?"),
            )
        ):
            form = {"MessageSid": f"SMe2e{n:029d}", "From": phone, "To": BUSINESS_NUMBER,
                    "Body": body}  # fmt: skip
            receive_text(session, inbound_text(form), now=now + timedelta(seconds=n))
        session.commit()


@pytest.fixture(scope="session")
def chromium(_browser_available):
    """One headless Chromium for the run; each test gets its own context (a fresh profile)."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=WAIT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_FLAGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


def phone_context(chromium, **options):
    context = chromium.new_context(
        viewport=VIEWPORT,
        device_scale_factor=1,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
        timezone_id="America/New_York",
        **options,
    )
    context.set_default_timeout(WAIT_MS)
    # axe-core needs the page's timers, which do not run with JavaScript off (tests/e2e/axe.py)
    context.javascript_enabled = options.get("java_script_enabled", True)
    return context


@pytest.fixture
def page(chromium, live_server):
    """A fresh phone-sized tab, signed out; confirmations are accepted, page errors fail."""
    context = phone_context(chromium)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda exc: errors.append(str(exc)))
    tab.on("dialog", lambda dialog: dialog.accept())
    tab.base = live_server["url"]
    yield tab
    context.close()
    assert errors == [], f"JavaScript errors: {errors}"


@pytest.fixture(scope="session", autouse=True)
def _screenshot_folder():
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session")
def axe_script(_browser_available):
    """axe-core's script for the run (installed with npm the first time), or None with the
    reason noted; under CI=true a missing axe-core fails the run."""
    script, problem = axe.install()
    if script is None and axe.required():
        pytest.fail(f"the accessibility check cannot run in CI: {problem}")
    AXE_NOTE["problem"] = problem
    audit.AXE["script"] = script
    return script


@pytest.fixture(autouse=True)
def _axe_in_every_audit(request):
    """Every browser test's audits run axe too (only once a browser test asks for a page)."""
    if "page" in request.fixturenames or "chromium" in request.fixturenames:
        request.getfixturevalue("axe_script")


AXE_NOTE: dict[str, str] = {"problem": ""}


def pytest_terminal_summary(terminalreporter):
    if AXE_NOTE["problem"]:
        terminalreporter.write_line(
            f"note: the axe-core accessibility check was skipped: {AXE_NOTE['problem']}"
        )
