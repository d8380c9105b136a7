"""Live updates without a library: the page asks for its own fragment every few seconds and
gets 304 Not Modified unless what it shows has changed (an ETag over the rendered HTML)."""

from __future__ import annotations

import re

from flask import make_response, request
from markupsafe import Markup
from werkzeug.http import generate_etag, quote_etag

# A CSRF token is signed afresh on every request; the fragment has not changed because of it.
_CSRF_VALUE = re.compile(r'name="csrf_token" value="[^"]*"')


def _etag(html: str) -> str:
    return generate_etag(_CSRF_VALUE.sub("", html).encode())


def embed(html: str) -> dict:
    """Template context for a live region: its first HTML, and the ETag that HTML is served
    with, so the first poll already gets 304 when nothing changed."""
    return {"live_html": Markup(html), "live_etag": quote_etag(_etag(html))}


def conditional(html: str):
    """The fragment, or 304 when the page already shows exactly this."""
    response = make_response(html)
    response.headers["Cache-Control"] = "no-cache, private"
    response.set_etag(_etag(html))
    return response.make_conditional(request)
