"""A pretend phone for the embedded default: play the customer, see what they receive."""

from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func
from sqlmodel import select

from app.care.inbound import BadInbound, UnknownBusiness, receive_text
from app.models import Business, SimulatedText
from app.phones import InvalidPhone, normalize
from app.web.context import db, now, services

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
MAX_BODY = 1600


def _handsets() -> list[str]:
    rows = (
        db()
        .exec(
            select(SimulatedText.handset, func.max(SimulatedText.id).label("last"))
            .group_by(SimulatedText.handset)
            .order_by(func.max(SimulatedText.id).desc())
            .limit(50)
        )
        .all()
    )
    return [row[0] for row in rows]


@bp.get("/")
def phone():
    handsets = _handsets()
    selected = request.args.get("handset") or (handsets[0] if handsets else "")
    thread = []
    if selected:
        thread = list(
            db().exec(
                select(SimulatedText)
                .where(SimulatedText.handset == selected)
                .order_by(SimulatedText.id.desc())
                .limit(200)
            )
        )[::-1]
    businesses = list(db().exec(select(Business).order_by(Business.id).limit(100)))
    return render_template(
        "simulator.html",
        handsets=handsets,
        selected=selected,
        thread=thread,
        businesses=businesses,
    )


@bp.post("/send")
def send():
    """Text the business from a simulated handset, through the real inbound path."""
    body = (request.form.get("body") or "").strip()
    business_id = request.form.get("business_id", type=int)
    try:
        handset = normalize(request.form.get("handset"))
    except InvalidPhone as exc:
        flash(f"Handset number: {exc}", "error")
        return redirect(url_for(".phone"))
    business = db().get(Business, business_id) if business_id else None
    if business is None or not body or len(body) > MAX_BODY:
        flash("Choose a business and type a text of at most 1600 characters.", "error")
        return redirect(url_for(".phone", handset=handset))
    to = business.number or business.messaging_service_sid or ""
    gateway = services().gateway
    sid = gateway.record_handset_text(handset, to, body)
    form = {"MessageSid": sid, "SmsSid": sid, "From": handset, "To": business.number or "",
            "MessagingServiceSid": business.messaging_service_sid or "", "Body": body,
            "NumMedia": "0"}  # fmt: skip
    try:
        receive_text(db(), form, now=now())
    except (UnknownBusiness, BadInbound) as exc:
        flash(str(exc), "error")
    return redirect(url_for(".phone", handset=handset))
