"""Public links: tracked short links that redirect to the business's review page, or (in an
owner's alert) to a conversation, which asks the owner to sign in first."""

from __future__ import annotations

from flask import Blueprint, abort, redirect

from app.care.links import CONVERSATION_PATH, open_link
from app.contract.rules import is_public_https_url
from app.web.context import db, now

bp = Blueprint("public", __name__)


@bp.get("/l/<token>")
def tracked_link(token: str):
    target = open_link(db(), token, now=now())
    ours = target is not None and CONVERSATION_PATH.fullmatch(target) is not None
    if target is None or not (ours or is_public_https_url(target)):
        abort(404)  # only ever to a checked public page or one of our own, whatever a row says
    response = redirect(target, code=302)
    response.headers["Cache-Control"] = "no-store"  # every open must reach us to be counted
    response.headers["Referrer-Policy"] = "no-referrer"
    return response
