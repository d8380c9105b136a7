"""Public links: tracked short links that redirect to the business's page."""

from __future__ import annotations

from flask import Blueprint, abort, redirect

from app.care.links import open_link
from app.web.context import db, now

bp = Blueprint("public", __name__)


@bp.get("/l/<token>")
def tracked_link(token: str):
    session = db()
    target = open_link(session, token, now=now())
    if target is None:
        abort(404)
    session.commit()
    response = redirect(target, code=302)
    response.headers["Cache-Control"] = "no-store"  # every open must reach us to be counted
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
