"""Record a visit: the fastest form in the app. Then show the follow-ups it planned."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from app.care import accounts
from app.care.customers import find_customer
from app.care.visits import planned_for, record_visit
from app.models import Customer, Visit
from app.phones import InvalidPhone, normalize
from app.web.context import db, now, public_base
from app.web.owner.common import owner_blueprint, signed_in

bp = owner_blueprint("visits", __name__, url_prefix="/visits")
MAX_NAME = 120


def _staff_names() -> list[str]:
    return [u.name for u in accounts.team(db(), g.business.id) if u.active and u.name]


def _form(values: dict, errors: dict, status: int = 200):
    return render_template(
        "owner/visit_new.html", values=values, errors=errors, staff_names=_staff_names()
    ), status


@bp.get("/new")
@signed_in
def new_visit():
    return _form({"staff": g.user.name, "consent": False}, {})


@bp.post("/")
@signed_in
def create():
    values = {
        "phone": request.form.get("phone", "").strip(),
        "name": " ".join(request.form.get("name", "").split()),
        "staff": " ".join(request.form.get("staff", "").split()),
        "consent": request.form.get("consent") == "yes",
    }
    errors = {}
    try:
        phone = normalize(values["phone"])
    except InvalidPhone as exc:
        errors["phone"] = f"Check the number: {exc}."
    if len(values["name"]) > MAX_NAME:
        errors["name"] = f"Use at most {MAX_NAME} characters."
    if len(values["staff"]) > 80:
        errors["staff"] = "Use at most 80 characters."
    if errors:
        return _form(values, errors, 422)
    name = values["name"]
    known = find_customer(db(), g.business.id, phone)
    if known is not None and known.name and known.first_name.lower() == name.lower():
        name = ""  # "Maria" for Maria Lopez: keep the full name on file
    recorded = record_visit(
        db(),
        g.business,
        phone=phone,
        name=name,
        consent=values["consent"] or None,
        consent_source="form",
        staff=values["staff"] or None,
        source="web",
        now=now(),
        base_url=public_base(),
    )
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
