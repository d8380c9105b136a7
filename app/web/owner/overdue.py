"""The Overdue list: regulars whose usual time has passed, each with a personal text the
owner can start from in the conversation (sent by the owner, one at a time: never a blast)."""

from __future__ import annotations

from flask import g, render_template, request

from app.care import inbox as care_inbox
from app.care.facts import suggested_text
from app.web.context import db, now
from app.web.owner.common import PAGE_SIZE, local, owner_blueprint, signed_in

bp = owner_blueprint("overdue", __name__)


@bp.get("/overdue")
@signed_in
def overdue():
    cursor = request.args.get("after")
    page = care_inbox.overdue_page(db(), g.business.id, now=now(), cursor=cursor,
                                   limit=PAGE_SIZE)  # fmt: skip
    suggestions = {
        customer.id: suggested_text(g.business, customer,
                                    last_visit_words=local(customer.last_visit_at, "date"))
        for customer in page.items
    }  # fmt: skip
    return render_template("owner/overdue.html", page=page, after=cursor, suggestions=suggestions,
                           now=now())  # fmt: skip
