"""Customers: list and search, add and edit, CSV import (preview first, then all or nothing)
and CSV export."""

from __future__ import annotations

import csv
import io

from flask import (
    Response,
    flash,
    g,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)

from app.care import inbox as care_inbox
from app.care import referrals
from app.care.customers import existing_phones, export_rows, get_customer, save_customer
from app.care.facts import overdue_now
from app.care.imports import COLUMNS, ImportRefused, RowError, import_customers_csv, parse_rows
from app.contract.rules import birthday_words
from app.errors import Invalid, Refused
from app.web.context import db, now, public_base
from app.web.owner.common import (
    PAGE_SIZE,
    csv_cell,
    customer_or_404,
    form_errors,
    home,
    owner_blueprint,
    owner_only,
    signed_in,
    source_words,
)

bp = owner_blueprint("customers", __name__, url_prefix="/customers")
PREVIEW_ROWS = 50
# The import's columns come first (birthday among them, after the consent states it
# would otherwise split), so an export imports back as it is; the facts come last.
EXPORT_COLUMNS = (
    "phone",
    "name",
    "email",
    "tags",
    "consent",
    "marketing_consent",
    "consent_state",
    "consent_source",
    "consent_at",
    "opted_out_at",
    "created_at",
    "notes",
    "birthday",
    "visit_count",
    "first_visit_at",
    "last_visit_at",
    "usual_gap_days",
    "total_spent",
    "favourite_staff",
    "overdue",
)
SOURCE_SUGGESTIONS = (
    "in person",
    "paper form",
    "website form",
    "booking system",
    "texted us first",
)


@bp.get("/")
@signed_in
def customers():
    search = (request.args.get("q") or "").strip()[:80]
    cursor = request.args.get("after")
    page = care_inbox.customers_page(
        db(), g.business.id, search=search, cursor=cursor, limit=PAGE_SIZE
    )
    return render_template("owner/customers.html", page=page, q=search, after=cursor)


EDIT_FIELDS = ("phone", "name", "email", "tags", "notes", "consent", "consent_source",
               "marketing_consent", "birthday")  # fmt: skip


def _form_values() -> dict:
    values: dict[str, str | bool] = {name: request.form.get(name, "") for name in EDIT_FIELDS}
    values["consent"] = values["consent"] or "unknown"
    values["marketing_consent"] = values["marketing_consent"] == "yes"
    return values


def _form(customer, values, errors, status=200):
    sent_by = None
    if customer is not None and customer.referred_by is not None:
        sent_by = get_customer(db(), g.business.id, customer.referred_by)
    return render_template(
        "owner/customer_form.html",
        customer=customer,
        values=values,
        errors=errors,
        sources=SOURCE_SUGGESTIONS,
        referral_link=referrals.referral_link(public_base(), customer) if customer else "",
        referred=referrals.referrals_of(db(), customer.id) if customer else [],
        sent_by=sent_by,
    ), status


def _values(customer) -> dict:
    return {
        "phone": customer.phone,
        "name": customer.name,
        "email": customer.email or "",
        "tags": ", ".join(customer.tags or []),
        "notes": customer.notes,
        "consent": customer.consent,
        "consent_source": source_words(customer.consent_source, customer.consent),
        "marketing_consent": customer.marketing_consent == "granted",
        "birthday": birthday_words(customer.birthday),
    }


@bp.route("/new", methods=["GET", "POST"])
@signed_in
def new():
    if request.method == "GET":
        return _form(None, {"consent": "unknown"}, {})
    values = _form_values()
    try:
        customer = save_customer(db(), g.business, None, values, by=g.user, now=now())
    except Invalid as exc:
        return _form(None, values, form_errors(exc), 422)
    flash(f"{customer.name or customer.phone} is added.", "info")
    return redirect(url_for(".edit", customer_id=customer.id))


@bp.route("/<int:customer_id>", methods=["GET", "POST"])
@signed_in
def edit(customer_id: int):
    customer = customer_or_404(customer_id)
    if request.method == "GET":
        return _form(customer, _values(customer), {})
    values = _form_values()
    try:
        save_customer(db(), g.business, customer, values, by=g.user, now=now())
    except Invalid as exc:
        return _form(customer, values, form_errors(exc), 422)
    flash("Saved.", "info")
    return redirect(url_for(".edit", customer_id=customer.id))


@bp.post("/<int:customer_id>/referrals/<int:referral_id>/rewarded")
@signed_in
def reward_given(customer_id: int, referral_id: int):
    customer = customer_or_404(customer_id)
    try:
        referrals.mark_rewarded(db(), g.business.id, referral_id, by=g.user, now=now())
    except Refused as exc:
        flash(exc.message, "error")
        return redirect(url_for(".edit", customer_id=customer.id))
    flash("Marked: reward given.", "info")
    return redirect(url_for(".edit", customer_id=customer.id) + "#referrals")


# ---- CSV ----------------------------------------------------------------------------------


def _uploaded_text() -> tuple[str | None, str | None]:
    """The CSV as text, from the file field or the confirm step's hidden field."""
    upload = request.files.get("file")
    if upload is not None and upload.filename:
        raw = upload.read()
    else:
        raw = (request.form.get("csv_text") or "").encode()
    if not raw.strip():
        return None, "Choose a CSV file first."
    try:
        return raw.decode("utf-8-sig"), None
    except UnicodeDecodeError:
        return None, "The file is not UTF-8 text. Save it as “CSV UTF-8” and try again."


def _parse(text: str):
    try:
        return parse_rows(io.StringIO(text, newline=""), home())
    except csv.Error as exc:
        return [], [RowError(0, f"not a readable CSV file: {exc}")]


def _refused_preview(text: str, errors: list[RowError]):
    rows, _ = _parse(text)
    preview = {"rows": rows[:PREVIEW_ROWS], "count": len(rows), "new": 0, "known": set(),
               "errors": errors, "text": text}  # fmt: skip
    return render_template("owner/import.html", columns=COLUMNS, preview=preview), 422


@bp.get("/import")
@owner_only  # every customer's number, and consent in bulk: owners only
def import_form():
    return render_template("owner/import.html", columns=COLUMNS, preview=None)


@bp.post("/import")
@owner_only  # every customer's number, and consent in bulk: owners only
def import_preview():
    text, problem = _uploaded_text()
    if problem:
        return render_template(
            "owner/import.html", columns=COLUMNS, preview=None, problem=problem
        ), 422
    rows, errors = _parse(text)
    known = existing_phones(db(), g.business.id, [r.phone for r in rows])
    preview = {
        "rows": rows[:PREVIEW_ROWS],
        "count": len(rows),
        "new": sum(1 for r in rows if r.phone not in known),
        "known": known,
        "errors": errors,
        "text": text,
    }
    status = 422 if errors else 200
    return render_template("owner/import.html", columns=COLUMNS, preview=preview), status


@bp.post("/import/confirm")
@owner_only  # every customer's number, and consent in bulk: owners only
def import_confirm():
    text, problem = _uploaded_text()
    if problem:
        return render_template(
            "owner/import.html", columns=COLUMNS, preview=None, problem=problem
        ), 422
    try:
        result = import_customers_csv(db(), g.business, io.StringIO(text, newline=""), now=now())
    except ImportRefused as refused:
        return _refused_preview(text, [refused.row_error])
    if result.errors:
        return _refused_preview(text, result.errors)
    flash(f"Imported: {result.created} new, {result.updated} updated.", "info")
    return redirect(url_for(".customers"))


def _iso(when) -> str:
    return when.isoformat() if when else ""


@bp.get("/export.csv")
@owner_only  # every customer's number, and consent in bulk: owners only
def export():
    business_id = g.business.id
    session = db()
    moment = now()

    def lines():
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(EXPORT_COLUMNS)
        for customer in export_rows(session, business_id):
            writer.writerow(
                [
                    customer.phone,  # E.164 from us: a leading + is safe and re-imports as is
                    csv_cell(customer.name),
                    csv_cell(customer.email),
                    csv_cell(", ".join(customer.tags or [])),
                    "yes" if customer.consent == "granted" else "no",
                    "yes" if customer.marketing_consent == "granted" else "no",
                    customer.consent,
                    csv_cell(customer.consent_source),
                    customer.consent_at.isoformat() if customer.consent_at else "",
                    customer.opted_out_at.isoformat() if customer.opted_out_at else "",
                    customer.created_at.isoformat(),
                    csv_cell(customer.notes),
                    customer.birthday or "",
                    customer.visit_count,
                    _iso(customer.first_visit_at),
                    _iso(customer.last_visit_at),
                    "" if customer.usual_gap_days is None else customer.usual_gap_days,
                    ""
                    if customer.total_spent_cents is None
                    else f"{customer.total_spent_cents / 100:.2f}",
                    csv_cell(customer.favourite_staff),
                    "yes"
                    if overdue_now(customer.overdue_at, customer.booked_until, moment)
                    else "no",
                ]
            )
            if buffer.tell() > 16384:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    filename = f"customers-{now().date().isoformat()}.csv"
    return Response(
        stream_with_context(lines()),
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="{filename}"',
            "Cache-Control": "no-store",
        },
    )
