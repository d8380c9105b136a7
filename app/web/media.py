"""Photos the owner sent, at their unguessable URL: Twilio fetches a text's MediaUrl from here
without signing in (so no rate limit per address either: the token is the only key)."""

from __future__ import annotations

from flask import Blueprint, abort, make_response

from app.care import photos
from app.web.context import db

bp = Blueprint("media", __name__)


@bp.get(f"{photos.MEDIA_PATH}<token>")
def photo(token: str):
    found = photos.find(db(), token)
    if found is None:
        abort(404)
    response = make_response(found.data)
    response.headers["Content-Type"] = found.content_type
    # The bytes behind a token never change; only the carrier and the owner's browser keep them.
    response.headers["Cache-Control"] = "private, max-age=31536000, immutable"
    response.headers["Content-Disposition"] = "inline"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["X-Robots-Tag"] = "noindex"
    return response
