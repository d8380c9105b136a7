"""A pretend phone for the embedded default: play the customer, see what they receive."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from flask import Blueprint, flash, redirect, render_template, request, url_for
from sqlalchemy import func
from sqlmodel import col, select

from app.care.inbound import BadInbound, UnknownBusiness, receive_text
from app.models import Business, Customer, Message, MessageStatus, SimulatedText
from app.phones import DEFAULT_REGION, InvalidPhone, display, locale_of, normalize, region_of
from app.sms.webhooks import InboundText
from app.web.context import db, now, public_base, services

bp = Blueprint("simulator", __name__, url_prefix="/simulator")
MAX_BODY = 1600


def _handsets() -> list[str]:
    """Phones that carried texts, then customers with recent activity: 30 at most."""
    session = db()
    carried = session.exec(
        select(col(SimulatedText.handset))
        .group_by(col(SimulatedText.handset))
        .order_by(func.max(col(SimulatedText.id)).desc())
        .limit(30)
    ).all()
    recent = session.exec(
        select(col(Customer.phone)).order_by(col(Customer.last_activity_at).desc()).limit(30)
    ).all()
    return list(dict.fromkeys([*carried, *recent]))[:30]


@bp.get("/")
def phone():
    handsets = _handsets()
    selected = request.args.get("handset") or (handsets[0] if handsets else "")
    thread = []
    if selected:
        thread = list(
            db().exec(
                select(SimulatedText)
                .where(col(SimulatedText.handset) == selected)
                .order_by(col(SimulatedText.id).desc())
                .limit(200)
            )
        )[::-1]
    businesses = list(db().exec(select(Business).order_by(col(Business.id)).limit(100)))
    # The phone shows the time where it is: its number's zone, else the first business's.
    zone = ZoneInfo(
        (locale_of(selected).time_zone if selected else None)
        or (businesses[0].timezone if businesses else "UTC")
    )
    return render_template(
        "simulator.html",
        at=lambda when: _clock(when, zone),
        shown=lambda number: display(number, region_of(selected) or DEFAULT_REGION),
        handsets=handsets,
        selected=selected,
        thread=thread,
        on_the_way=_on_the_way(selected) if selected else [],
        businesses=businesses,
    )


def _clock(when, zone: ZoneInfo) -> str:
    """The phone's own time, as a phone shows it: "Dec 2, 9:00 AM EST"."""
    local = when.astimezone(zone)
    return local.strftime("%b %d, %I:%M %p %Z").replace(" 0", " ")


def _on_the_way(handset: str) -> list[tuple[Message, str]]:
    """Texts queued for this handset that the carrier has not carried yet."""
    rows = (
        db()
        .exec(
            select(Message, col(Business.name))
            .join(Business, col(Business.id) == col(Message.business_id))
            .where(
                col(Message.to_number) == handset,
                col(Message.status).in_((MessageStatus.SCHEDULED, MessageStatus.SENDING)),
            )
            .order_by(col(Message.send_at))
            .limit(20)
        )
        .all()
    )
    return [(message, name) for message, name in rows]


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
    sid = gateway.record_handset_text(db(), handset, to, body)
    text = InboundText(
        provider_sid=sid,
        to=business.number or "",
        from_=handset,
        sender=handset,
        body=body,
        messaging_service_sid=business.messaging_service_sid or "",
    )
    try:
        receive_text(db(), text, now=now(), base_url=public_base())
        db().commit()
    except (UnknownBusiness, BadInbound) as exc:
        flash(str(exc), "error")
    return redirect(url_for(".phone", handset=handset))
