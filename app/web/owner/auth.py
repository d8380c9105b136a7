"""Signing in and out, accepting an invite, and your own account."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, session, url_for

from app.care import accounts
from app.errors import Invalid
from app.web.context import db, now, services
from app.web.owner import notifications
from app.web.owner.common import (
    owner_blueprint,
    password_method,
    safe_next,
    sign_in_session,
    signed_in,
)

bp = owner_blueprint("owner_auth", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
def sign_in():
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if g.user is not None:
            return redirect(target or url_for("inbox.inbox"))
        return render_template("owner/sign_in.html", next=target, email="")
    email = request.form.get("email", "")
    try:
        user = accounts.authenticate(
            db(),
            email,
            request.form.get("password", ""),
            remote_addr=request.remote_addr or "",
            now=now(),
            password_method=password_method(),
        )
    except accounts.SignInThrottled as exc:
        return render_template(
            "owner/sign_in.html", next=target, email=email, error=exc.message
        ), 429
    except accounts.SignInFailed as exc:
        db().commit()  # the failure is kept for throttling, though this answer is an error
        return render_template(
            "owner/sign_in.html", next=target, email=email, error=exc.message
        ), 401
    sign_in_session(user)
    return redirect(target or url_for("inbox.inbox"))


@bp.post("/sign-out")
def sign_out():
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("owner_auth.sign_in"))


@bp.post("/account/sign-out-everywhere")
@signed_in
def sign_out_everywhere():
    accounts.sign_out_everywhere(db(), g.user)
    session.clear()
    flash("You are signed out on every device.", "info")
    return redirect(url_for("owner_auth.sign_in"))


@bp.route("/invite/<token>", methods=["GET", "POST"])
def accept_invite(token: str):
    """A new team member (or one whose access was reset) chooses a password."""
    user = accounts.user_for_invite(db(), services().settings.secret_key, token)
    if user is None:
        return render_template("owner/invite_invalid.html"), 404
    error = None
    if request.method == "POST":
        password = request.form.get("password", "")
        if password != request.form.get("confirm", ""):
            error = "The two passwords are not the same."
        else:
            try:
                accounts.set_password(db(), user, password, password_method=password_method())
            except Invalid as exc:
                error = exc.message
            else:
                sign_in_session(user)
                flash("Welcome! Your password is set.", "info")
                return redirect(url_for("inbox.inbox"))
    status = 422 if error else 200
    return render_template("owner/invite.html", invited=user, error=error), status


@bp.get("/account")
@signed_in
def account():
    return _account_page({})


def _account_page(errors: dict, status: int = 200):
    return render_template("owner/account.html", errors=errors,
                           **notifications.page_context()), status  # fmt: skip


@bp.post("/account/profile")
@signed_in
def save_profile():
    try:
        accounts.update_profile(db(), g.user, name=request.form.get("name", ""))
    except Invalid as exc:
        return _account_page({exc.field: exc.message}, 422)
    flash("Your name is saved.", "info")
    return redirect(url_for(".account"))


@bp.post("/account/password")
@signed_in
def change_password():
    new = request.form.get("new_password", "")
    errors = {}
    if new != request.form.get("confirm", ""):
        errors["confirm"] = "The two new passwords are not the same."
    else:
        try:
            accounts.change_password(
                db(),
                g.user,
                request.form.get("current_password", ""),
                new,
                password_method=password_method(),
            )
        except Invalid as exc:
            errors[exc.field if exc.field != "password" else "new_password"] = exc.message
    if errors:
        return _account_page(errors, 422)
    sign_in_session(g.user)  # this device stays signed in; every other one is signed out
    flash("Your password is changed. Other devices are signed out.", "info")
    return redirect(url_for(".account"))
