"""Saved replies: the team's own answers, written once and picked in the composer."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from app.care.replies import MAX_REPLIES, add_reply, remove_reply, saved_replies
from app.contract import parse
from app.contract.commands import SavedReplySave
from app.errors import Invalid, NotFound
from app.web.context import db, now
from app.web.owner.common import form_errors, owner_blueprint, signed_in

bp = owner_blueprint("replies", __name__, url_prefix="/replies")


def _page(values: dict, errors: dict, status: int = 200):
    replies = saved_replies(db(), g.business.id)
    return render_template("owner/replies.html", replies=replies, values=values, errors=errors,
                           limit=MAX_REPLIES), status  # fmt: skip


@bp.get("/")
@signed_in
def replies():
    return _page({"title": "", "body": ""}, {})


@bp.post("/")
@signed_in
def add():
    values = {"title": request.form.get("title", ""), "body": request.form.get("body", "")}
    try:
        add_reply(db(), g.business, parse(SavedReplySave, values), now=now())
    except Invalid as exc:
        return _page(values, form_errors(exc), 422)
    flash("Reply saved: pick it in any conversation.", "info")
    return redirect(url_for(".replies"))


@bp.post("/<int:reply_id>/delete")
@signed_in
def delete(reply_id: int):
    try:
        remove_reply(db(), g.business, reply_id)
    except NotFound:
        abort(404)  # another business's reply is no reply of this one
    flash("Reply removed.", "info")
    return redirect(url_for(".replies"))
