"""How each signed-in person hears about customers: texts to the alert phone, notifications on
their own devices (Web Push), or both; and the devices where notifications are on."""

from __future__ import annotations

from flask import flash, g, jsonify, redirect, request, url_for

from app.care import push
from app.contract import parse_json
from app.contract.commands import PushSubscriptionSave
from app.errors import Invalid, Refused
from app.web.context import db, now, services
from app.web.owner.common import owner_blueprint, safe_next, signed_in

bp = owner_blueprint("notifications", __name__, url_prefix="/account")
SAVED = {
    "text": "Saved: alerts come as texts to the alert phone.",
    "push": "Saved: alerts come as notifications on your devices.",
    "both": "Saved: alerts come as texts and as notifications on your devices.",
}


def page_context() -> dict:
    """What the notifications card needs, on Settings (owners) and on the account page."""
    devices = [(device, push.device_tag(device.endpoint)) for device in push.devices(db(), g.user)]
    return {"push_devices": devices, "alert_choices": push.ALERT_CHOICES}


def _back():
    return redirect(safe_next(request.form.get("next")) or url_for("owner_auth.account"))


def _error(exc: Invalid | Refused):
    body = {"error": {"code": exc.code, "message": exc.message, "field": exc.field}}
    return jsonify(body), exc.status


@bp.post("/alerts")
@signed_in
def save_choice():
    try:
        push.set_alert_choice(db(), g.user, request.form.get("alert_by", ""))
    except Invalid as exc:
        flash(exc.message, "error")
        return _back()
    flash(SAVED[g.user.alert_by], "info")
    return _back()


@bp.get("/push/key")
@signed_in
def public_key():
    """The installation's public VAPID key, for PushManager.subscribe; made (and committed
    with this answer) the first time anyone asks, never by a page that may fail."""
    return jsonify({"key": push.vapid_keys(db(), now=now()).public_key})


@bp.post("/push")
@signed_in
def subscribe():
    """The page posts what the browser's PushManager.subscribe gave (JSON, with CSRF)."""
    if not request.is_json:
        return _error(Invalid("body", "Send the browser's subscription as JSON.", status=400))
    try:
        subscription = parse_json(PushSubscriptionSave, request.get_data(),
                                  local=not services().settings.is_production)  # fmt: skip
        device = push.save_subscription(
            db(), g.user, subscription, device=push.device_name(request.user_agent.string),
            now=now(),
        )  # fmt: skip
    except (Invalid, Refused) as exc:
        return _error(exc)
    return jsonify({"id": device.id, "device": device.device}), 201


@bp.post("/push/remove")
@signed_in
def unsubscribe():
    """This device turned notifications off: forget it by the endpoint its browser knows."""
    endpoint = (request.get_json(silent=True) or {}).get("endpoint")
    if not isinstance(endpoint, str) or not endpoint or len(endpoint) > 1024:
        return _error(Invalid("endpoint", "Say which device: its push address.", status=400))
    return jsonify({"removed": push.forget_device(db(), g.user, endpoint=endpoint)})


@bp.post("/devices/<int:device_id>/remove")
@signed_in
def remove_device(device_id: int):
    if push.forget_device(db(), g.user, device_id=device_id):
        flash("That device no longer gets notifications.", "info")
    else:
        flash("That device was already removed.", "info")
    return _back()
