"""Regulars: text-message customer care for small businesses."""

from __future__ import annotations

import functools
import hashlib
import logging
import threading
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, current_app, g, request
from flask_wtf.csrf import CSRFProtect
from limits.storage import Storage, storage_from_string
from sqlalchemy import Engine
from sqlmodel import Session
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from app.care.inbound import BusinessDirectory
from app.care.photos import MAX_PHOTO_BYTES
from app.clock import Clock, SystemClock
from app.config import Settings, load_settings
from app.db import make_engine
from app.models import MAX_ID
from app.ratelimit import DatabaseStorage, RequestLimits
from app.sms.gateway import SimulatorGateway, SmsGateway, TwilioGateway
from app.sms.numbers import AnySenders, SenderDirectory, TwilioSenders

csrf = CSRFProtect()
UPLOAD_ENDPOINTS = frozenset({"conversation.send"})  # forms that may carry a photo


@dataclass
class Services:
    """Everything outside the domain, wired once: the web app and the worker share it."""

    settings: Settings
    engine: Engine
    gateway: SmsGateway
    clock: Clock
    directory: BusinessDirectory = field(default_factory=BusinessDirectory)
    senders: SenderDirectory = field(default_factory=AnySenders)
    # SQLite takes one writer at a time: threads of one process queue here, in order, instead
    # of sleeping in SQLite's busy handler (whose back-off is what makes the slow tail).
    write_gate: AbstractContextManager = field(default_factory=nullcontext)


def build_services(
    config: dict[str, Any] | None = None,
    *,
    gateway: SmsGateway | None = None,
    clock: Clock | None = None,
    engine: Engine | None = None,
) -> Services:
    settings = load_settings(config)
    if settings.sms_backend == "twilio" and not settings.public_base_url:
        # Without a public origin the worker cannot ask Twilio for delivery callbacks.
        logging.getLogger("regulars").warning(
            "PUBLIC_BASE_URL is not set: texts are sent without status callbacks, so they "
            "stay 'sent' and are never marked delivered or failed"
        )
    engine = engine or make_engine(settings.database_url)
    if gateway is None:
        if settings.sms_backend == "twilio":
            gateway = TwilioGateway(
                settings.twilio_account_sid,
                settings.twilio_auth_token,
                settings.twilio_api_base_url,
                timeout=settings.twilio_timeout_seconds,
            )
        else:
            gateway = SimulatorGateway(engine)
    gate = threading.Lock() if engine.dialect.name == "sqlite" else nullcontext()
    senders: SenderDirectory = AnySenders()
    if settings.sms_backend == "twilio":
        senders = TwilioSenders(settings.twilio_account_sid, settings.twilio_auth_token,
                                settings.twilio_api_base_url,
                                timeout=settings.twilio_timeout_seconds)  # fmt: skip
    return Services(settings, engine, gateway, clock or SystemClock(), write_gate=gate,
                    senders=senders)  # fmt: skip


def unit_of_work(view):
    """A request commits once, at its edge: when its answer is a success (below 400); an
    error answer or an exception rolls back everything it wrote. Nothing in app.care commits.
    """

    @functools.wraps(view)
    def run(*args, **kwargs):
        try:
            response = current_app.make_response(view(*args, **kwargs))
        except BaseException:
            session = g.get("db_session")
            if session is not None:
                session.rollback()
            raise
        session = g.get("db_session")
        if session is not None and session.in_transaction():
            if response.status_code < 400:
                session.commit()
            else:
                session.rollback()
        return response

    return run


CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; "
    "object-src 'none'"
)


def security_headers(response, settings: Settings):
    """Pages cannot be framed or fed scripts from elsewhere; https is remembered."""
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("X-Frame-Options", "DENY")
    if request.is_secure or settings.public_base_url.startswith("https://"):
        response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
    return response


def client_address() -> str:
    return request.remote_addr or "unknown"


def api_client() -> str:
    """API limits count per key (hashed: the key itself never reaches the counter table)."""
    scheme, _, raw = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and raw.strip():
        return "key:" + hashlib.sha256(raw.strip().encode()).hexdigest()[:32]
    return "addr:" + client_address()


def _limits(services: Services) -> RequestLimits:
    storage = services.settings.rate_limit_storage
    if storage == "database":
        return RequestLimits(DatabaseStorage(engine=services.engine))
    shared = storage_from_string(storage)
    if not isinstance(shared, Storage):
        raise ValueError("RATE_LIMIT_STORAGE must name a synchronous storage (redis://...)")
    return RequestLimits(shared)


class RowIdConverter(IntegerConverter):
    """`<int:...>` in every URL: an id no row can have finds no route (404) rather than
    overflowing the query on PostgreSQL (500)."""

    def __init__(self, map, *args, **kwargs) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def create_app(
    config: dict[str, Any] | None = None,
    *,
    gateway: SmsGateway | None = None,
    clock: Clock | None = None,
    services: Services | None = None,
) -> Flask:
    """Build the web app. Nothing connects or reads secrets before this is called."""
    services = services or build_services(config, gateway=gateway, clock=clock)
    settings = services.settings
    app = Flask(__name__, template_folder="templates/web", static_folder="static")
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=not settings.is_development,
        WTF_CSRF_TIME_LIMIT=None,
        JSON_SORT_KEYS=False,
    )
    app.extensions["regulars"] = services
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        if settings.public_base_url:
            # The public origin is known; from the proxy we need only each client's address.
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=0, x_host=0, x_port=0)  # type: ignore[method-assign]
        else:
            # The URL Twilio signed is the public one: take it from the proxy's headers.
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n)  # type: ignore[method-assign]

    @app.before_request
    def _upload_limit():
        # The composer takes a photo: room for one over the limit, so that it is refused with
        # the reason rather than a bare "too large". Before the CSRF check reads the form.
        if request.endpoint in UPLOAD_ENDPOINTS:
            request.max_content_length = 2 * MAX_PHOTO_BYTES + settings.max_body_bytes

    csrf.init_app(app)
    app.url_map.converters["int"] = RowIdConverter  # before any route is added
    limits = _limits(services)
    app.extensions["regulars_limits"] = limits  # views with limits of their own use it

    from app.web import api, media, pages, public, webhooks

    app.register_blueprint(webhooks.bp)
    app.register_blueprint(media.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    app.register_blueprint(public.bp)
    from app.web import owner

    owner.register(app)
    csrf.exempt(webhooks.bp)
    csrf.exempt(api.bp)
    # Only these are limited: Twilio's webhooks are never answered 429 (it would retry, then
    # drop texts), and they pay nothing for the limits of the others.
    limits.install(app, {api.bp.name: (settings.api_rate_limit, api_client),
                         public.bp.name: (settings.public_rate_limit, client_address)})  # fmt: skip
    # The simulated phone shows every business's texts and needs no sign-in: only when asked
    # for, in development (Settings refuses SIMULATOR_PAGE anywhere else).
    if settings.simulator_page:
        from app.web import simulator

        app.register_blueprint(simulator.bp)

    for endpoint, view in list(app.view_functions.items()):
        if endpoint != "static":
            app.view_functions[endpoint] = unit_of_work(view)

    @app.context_processor
    def _navigation():
        return {"simulator_on": "simulator" in app.blueprints}

    @app.after_request
    def _security_headers(response):
        return security_headers(response, settings)

    @app.teardown_appcontext
    def _close_session(_exc):
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            session.close()

    return app
