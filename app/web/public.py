"""Public links: tracked short links that redirect to the business's page."""

from __future__ import annotations

from flask import Blueprint, abort, redirect

from app.care.links import open_link
from app.contract.rules import is_public_https_url
from app.web.context import db, now

bp = Blueprint("public", __name__)


@bp.get("/l/<token>")
def tracked_link(token: str):
    target = open_link(db(), token, now=now())
    if target is None or not is_public_https_url(target):
        abort(404)  # only ever to a checked public page, whatever a row says
    response = redirect(target, code=302)
    response.headers["Cache-Control"] = "no-store"  # every open must reach us to be counted
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
