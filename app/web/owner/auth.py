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
    if not user.name:  # texts are signed with a name: ask for it once signed in
        return redirect(url_for(".name_step", next=target))
    return redirect(target or url_for("inbox.inbox"))


@bp.route("/account/name", methods=["GET", "POST"])
@signed_in
def name_step():
    """ "What should customers call you?": asked after signing in while a user has no name;
    saved, or skipped only with the Skip button."""
    target = safe_next(request.values.get("next")) or url_for("inbox.inbox")
    if request.method == "GET":
        return _name_page(target, g.user.name, None)
    if request.form.get("skip") == "1":
        flash("Skipped for now: texts you send are signed with your role until you add a "
              "name on your account page.", "info")  # fmt: skip
        return redirect(target)
    name = request.form.get("name", "")
    try:
        accounts.update_profile(db(), g.user, name=name, now=now(), required=True)
    except Invalid as exc:
        return _name_page(target, name, exc.message, 422)
    flash(f"Thanks, {g.user.name}. Texts you send are signed with your name.", "info")
    return redirect(target)


def _name_page(target: str, name: str, error: str | None, status: int = 200):
    return render_template("owner/name_step.html", next=target, name=name, error=error,
                           hide_tabs=True), status  # fmt: skip


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
    errors: dict[str, str] = {}
    name = user.name
    if request.method == "POST":
        name = request.form.get("name", user.name)  # the invite's name unless changed
        password = request.form.get("password", "")
        try:
            accounts.accept_invite(db(), user, name=name, password=password,
                                   confirm=request.form.get("confirm", ""), now=now(),
                                   password_method=password_method())  # fmt: skip
        except Invalid as exc:
            errors = dict(exc.errors)
        else:
            sign_in_session(user)
            flash("Welcome! Your password is set.", "info")
            return redirect(url_for("inbox.inbox"))
    status = 422 if errors else 200
    return render_template("owner/invite.html", invited=user, name=name, errors=errors), status


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
        accounts.update_profile(db(), g.user, name=request.form.get("name", ""), now=now())
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
