"""The JSON API for point-of-sale and booking integrations (bearer API keys)."""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, g, jsonify, request
from sqlmodel import select
from werkzeug.exceptions import HTTPException

from app.care import texts
from app.care.businesses import (
    CARE_NUMBERS,
    CARE_SWITCHES,
    InvalidSetting,
    business_for_key,
    validate_timezone,
    validate_window,
)
from app.care.composer import CONFLICTS, send_template
from app.care.customers import (
    MAX_TAGS,
    find_customer,
    find_or_create,
    get_customer,
    parse_tags,
    set_consent,
)
from app.care.inbox import InboxError
from app.care.metrics import business_metrics
from app.care.outbound import OutboundRefused, queue_text
from app.care.visits import cancel_visit, planned_for, record_visit
from app.models import Business, Customer, Feedback, Message, Visit
from app.phones import InvalidPhone, normalize
from app.sms.encoding import segment_info
from app.sms.errors import reason_for
from app.web.context import db, now, public_base
from app.web.openapi import OPENAPI

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError):
    error: dict[str, Any] = {"code": exc.code, "message": exc.message}
    if exc.field:
        error["field"] = exc.field
    return jsonify({"error": error}), exc.status


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    return jsonify({"error": {"code": code, "message": exc.description}}), exc.code


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _unrouted(exc: HTTPException):
    """Routing errors under /api/ answer in the API's JSON shape too."""
    if request.path.startswith(f"{bp.url_prefix}/"):
        return _http_error(exc)
    return exc


def business() -> Business:
    return g.api_business


def authenticated(view):
    @functools.wraps(view)
    def checked(*args, **kwargs):
        header = request.headers.get("Authorization", "")
        scheme, _, raw = header.partition(" ")
        found = business_for_key(db(), raw.strip()) if scheme.lower() == "bearer" else None
        if found is None:
            raise ApiError(401, "unauthorized", "Send a valid API key: Authorization: Bearer <key>")
        g.api_business = found
        return view(*args, **kwargs)

    return checked


def body_json() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise ApiError(400, "invalid_json", "The request body must be a JSON object.")
    return data


def _unknown(data: dict, allowed: set[str]) -> None:
    extra = sorted(set(data) - allowed)
    if extra:
        raise ApiError(422, "unknown_field", f"Unknown field: {extra[0]}", extra[0])


def _str(data, name, *, required=False, max_len=200) -> str | None:
    value = data.get(name)
    if value is None:
        if required:
            raise ApiError(422, "missing_field", f"{name} is required", name)
        return None
    if not isinstance(value, str) or len(value) > max_len:
        raise ApiError(422, "invalid_field", f"{name} must be text of at most {max_len} characters",
                       name)  # fmt: skip
    return value.strip()


def _phone(data, name="phone", required=True) -> str | None:
    raw = _str(data, name, required=required, max_len=40)
    if raw is None:
        return None
    try:
        return normalize(raw)
    except InvalidPhone as exc:
        raise ApiError(422, "invalid_phone", str(exc), name) from exc


def _bool(data, name) -> bool | None:
    value = data.get(name)
    if value is not None and not isinstance(value, bool):
        raise ApiError(422, "invalid_field", f"{name} must be true or false", name)
    return value


def _int(data, name, low, high) -> int | None:
    value = data.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ApiError(422, "invalid_field", f"{name} must be a whole number {low}..{high}", name)
    return value


def _datetime(data, name, zone: str) -> datetime | None:
    raw = _str(data, name, max_len=40)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ApiError(422, "invalid_field", f"{name} must be an ISO 8601 time", name) from exc
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    try:
        return value.astimezone(UTC)
    except OverflowError as exc:
        raise ApiError(422, "invalid_field", f"{name} is out of range", name) from exc


def iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z") if value else None


# ---- resources ----------------------------------------------------------------------------


def business_json(b: Business) -> dict:
    return {
        "id": b.id,
        "name": b.name,
        "number": b.number,
        "messaging_service_sid": b.messaging_service_sid,
        "timezone": b.timezone,
        "sending_window": {"start": b.window_start, "end": b.window_end},
        "send_rate_per_second": b.send_rate_per_second,
        "thank_you_delay_minutes": b.thank_you_delay_minutes,
        "daily_automated_cap": b.daily_automated_cap,
        "review_url": b.review_url,
        "alert_phone": b.alert_phone,
        "provider_handles_opt_out": b.provider_handles_opt_out,
        "review_mode": b.review_mode,
        "rating_scale": b.rating_scale,
        "review_cooldown_days": b.review_cooldown_days,
        "review_reminder_days": b.review_reminder_days,
        "unanswered_alert_minutes": b.unanswered_alert_minutes,
        "after_hours_reply": b.after_hours_reply,
        "missed_call_textback": b.missed_call_textback,
        "created_at": iso(b.created_at),
    }


def customer_json(c: Customer) -> dict:
    return {
        "id": c.id,
        "phone": c.phone,
        "name": c.name,
        "email": c.email,
        "tags": c.tags or [],
        "consent": c.consent,
        "consent_source": c.consent_source,
        "consent_at": iso(c.consent_at),
        "opted_out_at": iso(c.opted_out_at),
        "number_status": c.number_status,
        "unhappy_at": iso(c.unhappy_at),
        "needs_reply": c.needs_reply,
        "created_at": iso(c.created_at),
    }


def message_json(m: Message) -> dict:
    return {
        "id": m.id,
        "customer_id": m.customer_id,
        "direction": m.direction,
        "body": m.body,
        "kind": m.kind,
        "status": m.status,
        "provider_status": m.provider_status,
        "segments": m.segments,
        "encoding": m.encoding,
        "error_code": m.error_code,
        "error_reason": reason_for(m.error_code) or (m.error_message if m.status in
                                                      {"failed", "canceled"} else None),
        "provider_sid": m.provider_sid,
        "media": m.media_urls or [],
        "visit_id": m.visit_id,
        "send_at": iso(m.send_at),
        "sent_at": iso(m.sent_at),
        "delivered_at": iso(m.delivered_at),
        "created_at": iso(m.created_at),
    }  # fmt: skip


def visit_json(v: Visit, planned: list[Message], skipped: list[str] | None = None) -> dict:
    result = {
        "id": v.id,
        "customer_id": v.customer_id,
        "occurred_at": iso(v.occurred_at),
        "staff": v.staff,
        "amount": v.amount_cents / 100 if v.amount_cents is not None else None,
        "status": v.status,
        "planned": [message_json(m) for m in planned],
    }
    if skipped is not None:
        result["skipped"] = skipped
    return result


def page(query, key, serialize) -> dict:
    """Keyset pagination on `key` (ascending): {"items": [...], "next_cursor": ...}."""
    limit = request.args.get("limit", PAGE_SIZE, type=int)
    if limit is None or not 1 <= limit <= MAX_PAGE_SIZE:
        raise ApiError(422, "invalid_field", f"limit must be 1..{MAX_PAGE_SIZE}", "limit")
    cursor = request.args.get("cursor")
    if cursor:
        if not re.fullmatch(r"[0-9]{1,18}", cursor):
            raise ApiError(422, "invalid_cursor", "cursor is not one this API gave out", "cursor")
        query = query.where(key > int(cursor))
    rows = list(db().exec(query.order_by(key).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = str(getattr(rows[-1], key.key)) if more and rows else None
    return {"items": [serialize(r) for r in rows], "next_cursor": next_cursor}


def _customer_or_404(customer_id: int) -> Customer:
    customer = get_customer(db(), business().id, customer_id)
    if customer is None:
        raise ApiError(404, "not_found", f"No customer {customer_id}.")
    return customer


def _refused(refused: OutboundRefused) -> ApiError:
    status = 409 if refused.code in CONFLICTS else 422
    return ApiError(status, refused.code, refused.message)


# ---- routes -------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    return jsonify(OPENAPI)


@bp.get("/business")
@authenticated
def get_business():
    return jsonify(business_json(business()))


# name: (low, high) for whole numbers, None for true/false; the owner's page shares the limits.
CARE_FIELDS = {
    **{k: v for k, v in CARE_NUMBERS.items() if k != "thank_you_delay_minutes"},
    **dict.fromkeys(CARE_SWITCHES),
}
# Texts an integration may send by name as a manual text (the rest answer keywords or events).
MANUAL_TEMPLATES = ("thank_you", "review_request", "review_reminder", "feedback_question",
                    "missed_call")  # fmt: skip
BUSINESS_FIELDS = {"review_mode", "rating_scale", *CARE_FIELDS} | {
    "name", "messaging_service_sid", "timezone", "sending_window", "send_rate_per_second",
    "thank_you_delay_minutes", "daily_automated_cap", "review_url", "alert_phone",
    "provider_handles_opt_out",
}  # fmt: skip


@bp.patch("/business")
@authenticated
def patch_business():
    data = body_json()
    _unknown(data, BUSINESS_FIELDS)
    changes: dict[str, Any] = {}
    if "name" in data:
        name = _str(data, "name", max_len=120)
        if not name:
            raise ApiError(422, "invalid_field", "name cannot be empty", "name")
        changes["name"] = name
    if "timezone" in data:
        try:
            changes["timezone"] = validate_timezone(_str(data, "timezone", max_len=64) or "")
        except InvalidSetting as exc:
            raise ApiError(422, "invalid_field", exc.message, "timezone") from exc
    if "sending_window" in data:
        window = data["sending_window"]
        if not isinstance(window, dict) or set(window) - {"start", "end"}:
            raise ApiError(422, "invalid_field", "sending_window is {start, end}", "sending_window")
        try:
            start, end = validate_window(
                str(window.get("start", business().window_start)),
                str(window.get("end", business().window_end)),
            )
        except InvalidSetting as exc:
            raise ApiError(422, "invalid_field", exc.message, "sending_window") from exc
        changes["window_start"], changes["window_end"] = start, end
    if "send_rate_per_second" in data:
        rate = data["send_rate_per_second"]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0.1 <= rate <= 100:
            raise ApiError(422, "invalid_field", "send_rate_per_second must be 0.1..100",
                           "send_rate_per_second")  # fmt: skip
        changes["send_rate_per_second"] = float(rate)
    for name, low, high in (("thank_you_delay_minutes", 0, 1440), ("daily_automated_cap", 1, 3)):
        if name in data:
            if data[name] is None:
                raise ApiError(422, "invalid_field", f"{name} must be a whole number", name)
            changes[name] = _int(data, name, low, high)
    if "review_url" in data:
        url = _str(data, "review_url", max_len=500)
        if url and not url.startswith("https://"):
            raise ApiError(
                422, "invalid_field", "review_url must be an https:// link", "review_url"
            )
        changes["review_url"] = url or None
    if "alert_phone" in data:
        changes["alert_phone"] = _phone(data, "alert_phone", required=False)
    if "messaging_service_sid" in data:
        sid = _str(data, "messaging_service_sid", max_len=34)
        if sid and not (sid.startswith("MG") and len(sid) == 34):
            raise ApiError(422, "invalid_field", "a Messaging Service SID is MG + 32 characters",
                           "messaging_service_sid")  # fmt: skip
        taken = (
            sid
            and db()
            .exec(
                select(Business).where(
                    Business.messaging_service_sid == sid, Business.id != business().id
                )  # fmt: skip
            )
            .first()
        )
        if taken:
            raise ApiError(409, "conflict", "That Messaging Service belongs to another business",
                           "messaging_service_sid")  # fmt: skip
        changes["messaging_service_sid"] = sid or None
    if "provider_handles_opt_out" in data:
        changes["provider_handles_opt_out"] = _bool(data, "provider_handles_opt_out")
        if changes["provider_handles_opt_out"] is None:
            raise ApiError(
                422, "invalid_field", "must be true or false", "provider_handles_opt_out"
            )
    if "rating_scale" in data:
        if data["rating_scale"] not in (5, 10) or isinstance(data["rating_scale"], bool):
            raise ApiError(422, "invalid_field", "rating_scale is 5 or 10", "rating_scale")
        changes["rating_scale"] = data["rating_scale"]
    if "review_mode" in data:
        if data["review_mode"] not in ("direct", "ask_first"):
            raise ApiError(
                422, "invalid_field", "review_mode is direct or ask_first", "review_mode"
            )
        changes["review_mode"] = data["review_mode"]
    for name, bounds in CARE_FIELDS.items():
        if name not in data:
            continue
        value = _bool(data, name) if bounds is None else _int(data, name, *bounds)
        if value is None:
            raise ApiError(422, "invalid_field", f"{name} cannot be null", name)
        changes[name] = value
    target = business()
    for name, value in changes.items():
        setattr(target, name, value)
    db().add(target)
    db().commit()
    return jsonify(business_json(target))


@bp.post("/customers")
@authenticated
def upsert_customer():
    data = body_json()
    _unknown(data, {"phone", "name", "email", "tags", "consent", "consent_source"})
    phone = _phone(data)
    name = _str(data, "name", max_len=120)
    email = _str(data, "email", max_len=254)
    if email and "@" not in email:
        raise ApiError(422, "invalid_field", "email is not an email address", "email")
    tags = data.get("tags")
    if tags is not None:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise ApiError(422, "invalid_field", "tags must be a list of strings", "tags")
        tags = parse_tags(",".join(tags))
        if len(tags) > MAX_TAGS:
            raise ApiError(422, "invalid_field", f"at most {MAX_TAGS} tags", "tags")
    consent = _bool(data, "consent")
    source = _str(data, "consent_source", max_len=40) or "api"
    session = db()
    existed = find_customer(session, business().id, phone) is not None
    customer, _ = find_or_create(session, business(), phone, now=now())
    if name is not None:
        customer.name = name
    if email is not None:
        customer.email = email or None
    if tags is not None:
        customer.tags = tags
    if consent is True:
        set_consent(session, customer, "granted", source=source, now=now())
    elif consent is False and customer.consent == "granted":
        set_consent(session, customer, "unknown", source=source, now=now(), detail="withdrawn")
    session.add(customer)
    session.commit()
    return jsonify(customer_json(customer)), 200 if existed else 201


@bp.get("/customers")
@authenticated
def list_customers():
    query = select(Customer).where(Customer.business_id == business().id)
    if "phone" in request.args:
        try:
            query = query.where(Customer.phone == normalize(request.args["phone"]))
        except InvalidPhone as exc:
            raise ApiError(422, "invalid_phone", str(exc), "phone") from exc
    return jsonify(page(query, Customer.id, customer_json))


@bp.get("/customers/<int:customer_id>")
@authenticated
def show_customer(customer_id: int):
    customer = _customer_or_404(customer_id)
    result = customer_json(customer)
    if customer.unhappy_at is not None:
        # The owner is offered a personal first answer to an unhappy customer.
        result["suggested_reply"] = (
            db()
            .exec(
                select(Feedback.suggested_reply)
                .where(Feedback.customer_id == customer.id, Feedback.unhappy.is_(True))
                .order_by(Feedback.id.desc())
            )
            .first()
        )
    return jsonify(result)


@bp.get("/customers/<int:customer_id>/messages")
@authenticated
def conversation(customer_id: int):
    customer = _customer_or_404(customer_id)
    query = select(Message).where(
        Message.business_id == business().id,
        Message.customer_id == customer.id,
        Message.kind != "alert",  # alerts about this customer went to the owner's phone
    )
    return jsonify(page(query, Message.id, message_json))


@bp.post("/visits")
@authenticated
def create_visit():
    data = body_json()
    _unknown(data, {"phone", "name", "consent", "consent_source", "occurred_at", "staff",
                    "amount"})  # fmt: skip
    phone = _phone(data)
    name = _str(data, "name", max_len=120) or ""
    consent = _bool(data, "consent")
    source = _str(data, "consent_source", max_len=40) or "api"
    occurred_at = _datetime(data, "occurred_at", business().timezone)
    if occurred_at and occurred_at > now() + timedelta(minutes=5):
        raise ApiError(422, "invalid_field", "occurred_at is in the future", "occurred_at")
    staff = _str(data, "staff", max_len=80)
    amount = data.get("amount")
    if amount is not None and (
        isinstance(amount, bool) or not isinstance(amount, int | float) or not 0 <= amount < 1e7
    ):
        raise ApiError(422, "invalid_field", "amount must be a non-negative number", "amount")
    recorded = record_visit(
        db(),
        business(),
        phone=phone,
        now=now(),
        name=name,
        consent=consent,
        consent_source=source,
        occurred_at=occurred_at,
        staff=staff,
        amount_cents=round(amount * 100) if amount is not None else None,
        base_url=public_base(),
    )
    return jsonify(visit_json(recorded.visit, recorded.planned, recorded.skipped)), 201


@bp.post("/visits/<int:visit_id>/cancel")
@authenticated
def cancel(visit_id: int):
    visit = db().get(Visit, visit_id)
    if visit is None or visit.business_id != business().id:
        raise ApiError(404, "not_found", f"No visit {visit_id}.")
    cancel_visit(db(), visit, now=now())
    return jsonify(visit_json(visit, planned_for(db(), visit.id)))


@bp.post("/messages")
@authenticated
def send_message():
    data = body_json()
    _unknown(data, {"customer_id", "phone", "body", "template"})
    session = db()
    if data.get("customer_id") is not None:
        customer_id = _int(data, "customer_id", 1, 2**62)
        customer = _customer_or_404(customer_id)
    else:
        phone = _phone(data, required=False)
        if phone is None:
            raise ApiError(422, "missing_field", "customer_id or phone is required", "phone")
        customer = find_customer(session, business().id, phone)
        if customer is None:
            raise ApiError(404, "not_found", "No customer with that phone: record them first.")
    body = _str(data, "body", max_len=1600)
    template = _str(data, "template", max_len=40)
    if bool(body) == bool(template):
        raise ApiError(422, "missing_field", "send exactly one of body or template", "body")
    if template and template not in MANUAL_TEMPLATES:
        names = ", ".join(MANUAL_TEMPLATES)
        raise ApiError(422, "invalid_field", f"template must be one of {names}", "template")
    if template:
        # A saved text keeps its kind's rules (consent, window, caps, review cooldown) and kind.
        try:
            message = send_template(session, business(), customer, template, now=now(),
                                    base_url=public_base())  # fmt: skip
        except OutboundRefused as refused:
            session.rollback()
            raise _refused(refused) from refused
        except InboxError as exc:
            session.rollback()
            raise ApiError(422, "invalid_field", exc.message, "template") from exc
        session.commit()
        return jsonify(message_json(message)), 202
    try:
        message = queue_text(session, business(), customer, body, "manual", now=now(),
                             cause="user")  # fmt: skip
    except OutboundRefused as refused:
        session.rollback()
        raise _refused(refused) from refused
    session.commit()
    return jsonify(message_json(message)), 202


@bp.get("/messages/<int:message_id>")
@authenticated
def show_message(message_id: int):
    message = db().get(Message, message_id)
    if message is None or message.business_id != business().id:
        raise ApiError(404, "not_found", f"No message {message_id}.")
    return jsonify(message_json(message))


@bp.post("/segments")
def count_segments():
    """The composer's live counter asks the server's own counting (no auth: pure function)."""
    data = body_json()
    text = data.get("body")
    if not isinstance(text, str) or len(text) > 1600:
        raise ApiError(422, "invalid_field", "body must be text of at most 1600 characters", "body")
    info = segment_info(text)
    return jsonify({"segments": info.segments, "encoding": info.encoding, "units": info.units,
                    "per_segment": info.per_segment})  # fmt: skip


@bp.get("/metrics")
@authenticated
def metrics():
    """CSAT, NPS, review-link opens and reply rate over ?from=&to= (default: last 30 days)."""
    end = _query_time("to") or now()
    start = _query_time("from") or end - timedelta(days=30)
    if start >= end or end - start > timedelta(days=366):
        raise ApiError(422, "invalid_field", "from must be before to, at most a year apart", "from")
    result = business_metrics(db(), business().id, start, end)
    result["from"], result["to"] = iso(start), iso(end)
    return jsonify(result)


def _query_time(name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    return _datetime({name: raw}, name, business().timezone)


@bp.get("/templates")
@authenticated
def list_templates():
    items = []
    for kind in texts.EDITABLE_KINDS:
        source = texts.business_source(db(), business().id, kind)
        items.append({"kind": kind, "body": source, "default": texts.default_source(kind),
                      "customized": source != texts.default_source(kind),
                      "merge_fields": list(texts.MERGE_FIELDS[kind])})  # fmt: skip
    return jsonify({"items": items, "next_cursor": None})


@bp.put("/templates/<kind>")
@authenticated
def put_template(kind: str):
    if kind not in texts.MERGE_FIELDS:
        raise ApiError(404, "not_found", f"No text called {kind!r}.")
    data = body_json()
    _unknown(data, {"body"})
    source = _str(data, "body", required=True, max_len=texts.MAX_TEMPLATE_CHARS)
    try:
        texts.save_template(db(), business(), kind, source, now=now())
    except texts.TemplateError as exc:
        db().rollback()
        raise ApiError(422, "invalid_template", str(exc), "body") from exc
    db().commit()
    preview = texts.validate_source(kind, source, business().name)
    info = segment_info(preview)
    return jsonify({"kind": kind, "body": source, "preview": preview, "segments": info.segments,
                    "encoding": info.encoding})  # fmt: skip


@bp.delete("/templates/<kind>")
@authenticated
def reset_template(kind: str):
    if kind not in texts.MERGE_FIELDS:
        raise ApiError(404, "not_found", f"No text called {kind!r}.")
    texts.reset_template(db(), business(), kind)
    db().commit()
    return jsonify({"kind": kind, "body": texts.default_source(kind), "customized": False})
