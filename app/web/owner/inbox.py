"""The inbox: conversations, newest activity first."""

from __future__ import annotations

from flask import g, render_template, request

from app.care import broadcasts, push
from app.care import inbox as care_inbox
from app.care.alert_phone import alert_phone_problem
from app.web.context import db
from app.web.owner.common import PAGE_SIZE, owner_blueprint, signed_in, wants_fragment
from app.web.owner.live import conditional, embed

bp = owner_blueprint("inbox", __name__)

FILTER_LABELS = {
    "all": "All",
    "needs_reply": "Needs reply",
    "unread": "Unread",
    "unhappy": "Unhappy",
}


def _page():
    chosen = request.args.get("filter", "all")
    chosen = chosen if chosen in care_inbox.FILTERS else "all"
    search = (request.args.get("q") or "").strip()[:80]
    cursor = request.args.get("after")
    page = care_inbox.inbox_page(
        db(), g.business.id, filter=chosen, search=search, cursor=cursor, limit=PAGE_SIZE
    )
    return {"page": page, "filter": chosen, "q": search, "after": cursor, "filters": FILTER_LABELS}


@bp.get("/inbox")
@signed_in
def inbox():
    context = _page()
    html = render_template("owner/_inbox_list.html", **context)
    if wants_fragment():
        return conditional(html)
    problem = alert_phone_problem(db(), g.business)
    return render_template("owner/inbox.html", **context, **embed(html), alert_problem=problem,
                           alerts_by_push=push.has_push(db(), g.business.id),
                           stopped=broadcasts.paused_by_itself(db(), g.business.id))  # fmt: skip
