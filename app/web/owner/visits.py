"""Record a visit: the fastest form in the app. Then show the follow-ups it planned."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from app.care.staff import own_entry, staff_list
from app.care.visits import planned_for, record_visit
from app.contract import parse
from app.contract.commands import VisitCreate
from app.errors import Invalid
from app.models import Customer, Visit
from app.web.context import db, now, public_base
from app.web.owner.common import form_errors, home, owner_blueprint, signed_in

bp = owner_blueprint("visits", __name__, url_prefix="/visits")


def _form(values: dict, errors: dict, status: int = 200):
    names = [member.name for member in staff_list(db(), g.business.id, active_only=True)]
    if values.get("staff") and values["staff"] not in names:
        values = {**values, "staff_new": values["staff"], "staff": ""}  # typed, not picked
    return render_template(
        "owner/visit_new.html", values=values, errors=errors, staff_names=names
    ), status


@bp.get("/new")
@signed_in
def new_visit():
    mine = own_entry(db(), g.user)  # whoever records the visit is picked first
    staff = mine.name if mine is not None and mine.active else ""
    return _form({"staff": staff, "consent": False, "marketing_consent": False}, {})


@bp.post("/")
@signed_in
def create():
    values = {
        "phone": request.form.get("phone", "").strip(),
        "name": request.form.get("name", ""),
        # a name typed for someone not on the list wins over the list's choice
        "staff": request.form.get("staff_new", "").strip() or request.form.get("staff", ""),
        "consent": request.form.get("consent") == "yes",
        "marketing_consent": request.form.get("marketing_consent") == "yes",
    }
    try:
        command = parse(VisitCreate, {**values, "consent_source": "form"}, now=now(),
                        zone=g.business.timezone, region=home())  # fmt: skip
    except Invalid as exc:
        return _form(values, form_errors(exc), 422)
    recorded = record_visit(db(), g.business, command, source="web", now=now(),
                            base_url=public_base())  # fmt: skip
    for reason in recorded.skipped:
        flash(reason.split(": ", 1)[-1], "warning")
    return redirect(url_for(".visit", visit_id=recorded.visit.id))


@bp.get("/<int:visit_id>")
@signed_in
def visit(visit_id: int):
    found = db().get(Visit, visit_id)
    if found is None or found.business_id != g.business.id:
        abort(404)
    customer = db().get(Customer, found.customer_id)
    return render_template(
        "owner/visit.html", visit=found, customer=customer, planned=planned_for(db(), found.id)
    )
