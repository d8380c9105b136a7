"""Twilio's webhooks: signed, idempotent, fast."""

from __future__ import annotations

import functools
import logging

from flask import Blueprint, Response, abort, request
from twilio.request_validator import RequestValidator

from app.care.inbound import BadInbound, UnknownBusiness, missed_call_text_back, receive_text
from app.care.status import apply_status_callback
from app.sms.webhooks import MalformedWebhook, inbound_text, incoming_call, status_report
from app.web.context import db, now, public_base, services

bp = Blueprint("webhooks", __name__, url_prefix="/webhooks/twilio")
log = logging.getLogger("regulars.webhooks")
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def signed_url() -> str:
    """The URL Twilio signed: the public origin when configured, else what the proxy says."""
    base = services().settings.public_base_url
    if not base:
        return request.url
    query = request.query_string.decode("latin-1")
    return base.rstrip("/") + request.path + (f"?{query}" if query else "")


def twilio_signed(view):
    """Refuse (403) anything without a valid X-Twilio-Signature; no auth token refuses all."""

    @functools.wraps(view)
    def checked(*args, **kwargs):
        token = services().settings.twilio_auth_token
        signature = request.headers.get("X-Twilio-Signature", "")
        if not token or not signature:
            abort(403)
        if not RequestValidator(token).validate(signed_url(), request.form, signature):
            log.warning("forged or mis-signed webhook to %s", request.path)
            abort(403)
        return view(*args, **kwargs)

    return checked


def twiml(body: str = EMPTY_TWIML, status: int = 200) -> Response:
    return Response(body, status=status, mimetype="text/xml")


@bp.post("/sms")
@twilio_signed
def inbound_sms():
    try:
        text = inbound_text(request.form)
        session = db()
        with services().write_gate:  # the commit too: SQLite's write lock is held until then
            receive_text(
                session, text, now=now(), base_url=public_base(), directory=services().directory
            )
            session.commit()
    except UnknownBusiness as exc:
        return Response(str(exc), status=404, mimetype="text/plain")
    except (MalformedWebhook, BadInbound) as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    # Replies (HELP and confirmations) go through the outbox, never inline TwiML.
    return twiml()


@bp.post("/status")
@twilio_signed
def delivery_status():
    try:
        report = status_report(request.form, message_id=request.args.get("mid"))
    except MalformedWebhook as exc:
        return Response(str(exc), status=400, mimetype="text/plain")
    session = db()
    apply_status_callback(session, report, now=now())
    session.commit()
    return Response(status=204)


CALLBACK_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Sorry we missed your call. '
    "We will text you right back.</Say><Hangup/></Response>"
)
MISSED_TWIML = (
    '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Sorry we missed your call. '
    "Please try again later.</Say><Hangup/></Response>"
)


@bp.post("/voice")
@twilio_signed
def missed_call():
    """A call nobody could take: short TwiML whatever happens (a caller never hears an
    application error), and a text back when the caller may be texted."""
    session = db()
    try:
        call = incoming_call(request.form)
    except MalformedWebhook as exc:  # a number longer than any column: not a call of ours
        return Response(str(exc), status=400, mimetype="text/plain")
    try:
        texted = missed_call_text_back(session, call, now=now())
        session.commit()
    except UnknownBusiness as exc:
        return Response(str(exc), status=404, mimetype="text/plain")
    except BadInbound:  # a withheld or unusable caller ID: nobody to text back
        session.rollback()
        texted = False
    except Exception:  # noqa: BLE001 - the database, a bug: the caller still gets an answer
        log.exception("missed-call text-back failed for call %s", call.call_sid)
        session.rollback()
        texted = False
    return twiml(CALLBACK_TWIML if texted else MISSED_TWIML)
