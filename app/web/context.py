"""Per-request access to the wired services and the request's database session."""

from __future__ import annotations

from flask import current_app, g
from sqlmodel import Session

from app import Services


def services() -> Services:
    return current_app.extensions["regulars"]


def db() -> Session:
    """The request's session: one per request, closed at teardown, rolled back unless committed."""
    if "db_session" not in g:
        g.db_session = Session(services().engine, expire_on_commit=False)
    return g.db_session


def now():
    return services().clock.now()


def public_base() -> str:
    """The app's public origin: PUBLIC_BASE_URL, else what this request came in on."""
    from flask import request

    return services().settings.public_base_url.rstrip("/") or request.host_url.rstrip("/")
