"""Public links: tracked short links that redirect to the business's review page, or (in an
owner's alert) to a conversation, which asks the owner to sign in first; and the referral
landing page where a friend leaves their own name and number."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, redirect, render_template, request

from app import client_address
from app.care import referrals
from app.care.links import CONVERSATION_PATH, open_link
from app.contract import parse
from app.contract.commands import FriendSignUp
from app.contract.rules import is_public_https_url
from app.errors import Invalid, Refused
from app.phones import home_region
from app.web.context import db, now, services
from app.web.owner.common import form_errors

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


def _referral_page(business, *, values=None, errors=None, done=False, status=200):
    response = current_app.make_response((render_template(
        "public/referral.html", business=business, values=values or {}, errors=errors or {},
        done=done, first_name=(values or {}).get("first_name", "")), status))  # fmt: skip
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.route("/r/<code>", methods=["GET", "POST"])
def referral(code: str):
    """A friend's landing page. The answer to a sign-up is the same whatever the number (a
    customer already, the referrer's own, one that opted out): it tells nobody who is whose."""
    if request.method == "POST":
        # Counted first, in its own short transaction (before this request's own).
        limits = current_app.extensions["regulars_limits"]
        limit = services().settings.referral_signup_limit
        limits.hit(limit, "referral-signup", client_address())
    found = referrals.referrer_for_page(db(), code)
    if found is None:
        abort(404)
    business, referrer = found
    if request.method == "GET":
        return _referral_page(business)
    values: dict[str, str | bool] = {name: request.form.get(name, "")
                                     for name in ("first_name", "phone")}  # fmt: skip
    values["consent"] = request.form.get("consent") == "yes"
    values["marketing_consent"] = request.form.get("marketing_consent") == "yes"
    try:
        command = parse(FriendSignUp, values, region=home_region(business.number))
        referrals.friend_signs_up(db(), business, referrer, command, now=now())
    except (Invalid, Refused) as exc:
        return _referral_page(business, values=values, errors=form_errors(exc),
                              status=exc.status)  # fmt: skip
    return _referral_page(business, values={"first_name": command.first_name}, done=True)
