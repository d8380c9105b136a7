"""What every owner page shares: who is signed in, their business, and the guards."""

from __future__ import annotations

import functools
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError

from app.care.accounts import session_fingerprint, user_for_session
from app.care.businesses import PASSWORD_METHOD
from app.care.customers import get_customer
from app.errors import Invalid, Refused
from app.models import Business, Customer, User
from app.phones import home_region
from app.web.context import db, now, services

SESSION_LIFETIME = timedelta(days=14)
PAGE_SIZE = 25


class PageSessions(SecureCookieSessionInterface):
    """The signed session cookie, refreshed by pages but never by a page's background requests
    (live polls, previews): answered after another tab's page, such a request would write back
    the session it started with and undo that page's changes (its CSRF token, its message)."""

    def should_set_cookie(self, app, session) -> bool:
        background = request.headers.get("Sec-Fetch-Mode", "navigate") != "navigate"
        if background and not session.modified:
            return False
        return super().should_set_cookie(app, session)


def password_method() -> str:
    # Tests pass a cheap method through settings.extra; production uses scrypt.
    return services().settings.extra.get("password_method", PASSWORD_METHOD)


def sign_in_session(user: User) -> None:
    session.clear()  # a fresh session: nothing from before sign-in carries over
    session.permanent = True
    session["uid"] = user.id
    session["fp"] = session_fingerprint(user)
    session["at"] = int(now().timestamp())


def load_user() -> None:
    """Before every owner page: the signed-in user and their business, or None."""
    g.user, g.business = None, None
    uid, fingerprint, at = session.get("uid"), session.get("fp"), session.get("at")
    if uid is None:
        return
    fresh = isinstance(at, int) and now().timestamp() - at < SESSION_LIFETIME.total_seconds()
    user = user_for_session(db(), uid, fingerprint) if fresh else None
    if user is None:
        session.clear()
        return
    g.user = user
    g.business = db().get(Business, user.business_id)


def current_user() -> User:
    return g.user


def current_business() -> Business:
    return g.business


def wants_fragment() -> bool:
    return request.headers.get("X-Requested-With") == "fetch"


def signed_in(view):
    """The page needs a signed-in user; others go to the sign-in page and come back."""

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if g.get("user") is None:
            if wants_fragment():
                abort(401)
            target = request.full_path if request.method == "GET" else None
            return redirect(url_for("owner_auth.sign_in", next=target))
        return view(*args, **kwargs)

    return guarded


def owner_only(view):
    """Settings, keys and the team: owners only; staff get 403."""

    @functools.wraps(view)
    @signed_in
    def guarded(*args, **kwargs):
        if g.user.role != "owner":
            abort(403)
        return view(*args, **kwargs)

    return guarded


def customer_or_404(customer_id: int) -> Customer:
    customer = get_customer(db(), g.business.id, customer_id)
    if customer is None:
        abort(404)
    return customer


def zone() -> ZoneInfo:
    try:
        return ZoneInfo(g.business.timezone)
    except Exception:  # noqa: BLE001 - a bad stored zone must not break every page
        return ZoneInfo("UTC")


# How a consent moved, in words; an owner's own words (a paper form, ...) are shown as typed.
SOURCE_WORDS = {
    "form": "agreed at a visit",
    "web": "changed on the customer page",
    "api": "from your booking system",
    "import": "from a spreadsheet import",
    "carrier": "the carrier reported the number opted out",
    "number": "this number had texted STOP",
    "demo": "demo data",
    "owner": "recorded by the team",
}


def source_words(source: str | None, consent: str | None = None) -> str:
    """Where a consent (or its end) came from, as the owner would say it."""
    if source == "keyword":
        return {"opted_out": "texted STOP", "granted": "texted START"}.get(
            consent or "", "texted a keyword"
        )
    return SOURCE_WORDS.get(source or "", source or "")


def home() -> str:
    """The signed-in business's country (the default region on a page with no business):
    numbers typed without +country are read in it, and numbers in it are shown nationally."""
    business = g.get("business")
    return home_region(business.number if business else None)


def local(value: datetime | None, style: str = "short") -> str:
    """A time in the business's zone, the way a person reads it on a phone."""
    if value is None:
        return ""
    when = value.astimezone(zone())
    today = now().astimezone(zone()).date()
    clock = when.strftime("%I:%M %p").lstrip("0")
    if style == "date":
        return when.strftime("%b %d, %Y").replace(" 0", " ")
    if style == "full":
        return f"{when.strftime('%a %b %d').replace(' 0', ' ')}, {clock}"
    if when.date() == today:
        return clock
    if when.date() == today - timedelta(days=1):
        return f"Yesterday {clock}"
    if abs((when.date() - today).days) < 7:
        return f"{when.strftime('%a')} {clock}"
    if when.year == today.year:
        return when.strftime("%b %d").replace(" 0", " ")
    return when.strftime("%b %d, %Y").replace(" 0", " ")


def csv_cell(value) -> str:
    """A cell a spreadsheet will not run as a formula."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def safe_next(target: str | None) -> str | None:
    """Only a path on this site: never an open redirect."""
    if (
        not target
        or not target.startswith("/")
        or target.startswith("//")
        or "\\" in target
        or any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in target)  # tabs, newlines: browsers
    ):  # drop them, so "/\t/evil" would become "//evil"
        return None
    return target


ERROR_PAGES = {
    403: (
        "Owners only",
        "Only an owner of this business can change settings, API keys and the team.",
    ),
    404: ("Not found", "There is nothing here. It may have been removed, or the link is wrong."),
    413: (
        "Too large",
        "That is more than this page accepts: a photo can be at most 5 MB, and a CSV file can "
        "be split into smaller files.",
    ),
}
CSRF_PAGE = (
    "Please try again",
    "This form was open too long or came from somewhere else. "
    "Go back, reload the page and send it again.",
)


def form_errors(exc: Invalid | Refused, aliases: dict[str, str] | None = None) -> dict[str, str]:
    """A refusal from app.care as the form's field errors (the one place pages read them)."""
    aliases = aliases or {}
    return {aliases.get(name, name): message for name, message in exc.errors.items()} or {
        aliases.get(exc.field or "", exc.field or "form"): exc.message
    }


def _error_page(status: int, title: str, text: str):
    return render_template("owner/error.html", title=title, text=text), status


def owner_blueprint(name: str, import_name: str, **options) -> Blueprint:
    """A blueprint of owner pages: loads the signed-in user first, answers errors in HTML."""
    blueprint = Blueprint(name, import_name, **options)
    blueprint.before_request(load_user)
    for status, (title, text) in ERROR_PAGES.items():
        blueprint.register_error_handler(
            status, lambda _e, s=status, t=title, x=text: _error_page(s, t, x)
        )
    blueprint.register_error_handler(CSRFError, lambda _e: _error_page(400, *CSRF_PAGE))
    return blueprint
