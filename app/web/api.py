"""The JSON API for point-of-sale and booking integrations (bearer API keys).

Each route is declared once with `@route(...)`: its input command, its output view, the
statuses it can answer. That one table registers the Flask view, parses and checks the input
(app.contract), serialises the answer, and generates the OpenAPI document
(app.web.openapi), so the document cannot drift from what the API does.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from flask import Blueprint, Response, g, jsonify, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import not_, or_
from sqlmodel import col, select
from werkzeug.exceptions import HTTPException

from app.care import broadcasts, texts
from app.care.businesses import business_for_key, change_business
from app.care.composer import send_template
from app.care.customers import get_customer, upsert_customer
from app.care.facts import is_overdue, overdue_clause
from app.care.feedback import latest_unhappy
from app.care.inbox import past, read_time_cursor, time_cursor
from app.care.metrics import business_metrics, metrics_range
from app.care.outbound import queue_text
from app.care.referrals import mark_rewarded
from app.care.staff import staff_named
from app.care.visits import cancel_visit, planned_for, record_visit
from app.contract import parse, parse_json
from app.contract import views as v
from app.contract.commands import (
    BroadcastCreate,
    BusinessChanges,
    CustomerUpsert,
    MessageCreate,
    SegmentCount,
    StaffSave,
    TemplateSave,
    VisitCreate,
)
from app.contract.rules import DayOrMoment, OptionalPhone
from app.errors import Invalid, NotFound, Refused
from app.models import MAX_ID, Broadcast, Business, Customer, Message, Referral, StaffMember, Visit
from app.phones import home_region
from app.sms.encoding import segment_info
from app.sms.errors import reason_for
from app.web.context import db, now, public_base, services

bp = Blueprint("api", __name__, url_prefix="/api/v1")
PAGE_SIZE, MAX_PAGE_SIZE = 50, 200


@dataclass(frozen=True)
class Route:
    """One API operation, as the document describes it."""

    method: str
    rule: str
    endpoint: str
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None
    response: type[BaseModel] | None
    status: int
    errors: tuple[int, ...]
    auth: bool
    also: tuple[int, ...] = ()  # other success statuses (200 for an update where 201 creates)
    links: tuple[str, ...] = ()  # operations that take this answer's `id` as their {id}


ROUTES: list[Route] = []


def _error(status: int, code: str, message: str, field: str | None = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if field:
        error["field"] = field
    response = jsonify({"error": error})
    response.status_code = status
    return response


@bp.errorhandler(Invalid)
def _invalid(exc: Invalid):
    return _error(exc.status, exc.code, exc.message, exc.field)


@bp.errorhandler(Refused)
def _refused(exc: Refused):
    return _error(exc.status, exc.code, exc.message, exc.field)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    code = (exc.name or "error").lower().replace(" ", "_")
    response = _error(exc.code or 500, code, exc.description or code)
    for name, value in exc.get_headers():
        # a 405 says which methods the URL takes (RFC 9110); a 429 when to come back
        if name.lower() in {"allow", "retry-after"}:
            response.headers[name] = value
    return response


@bp.app_errorhandler(404)
@bp.app_errorhandler(405)
def _unrouted(exc: HTTPException):
    """Routing errors under /api/ answer in the API's JSON shape too."""
    if request.path.startswith(f"{bp.url_prefix}/"):
        return _http_error(exc)
    return exc


def business() -> Business:
    return g.api_business


def _authenticate() -> Business:
    header = request.headers.get("Authorization", "")
    scheme, _, raw = header.partition(" ")
    found = business_for_key(db(), raw.strip()) if scheme.lower() == "bearer" else None
    if found is None:
        raise Refused("unauthorized", "Send a valid API key: Authorization: Bearer <key>",
                      status=401)  # fmt: skip
    return found


def _json_body(model: type[BaseModel]) -> BaseModel:
    if not request.is_json:
        raise Invalid("body", "Send a JSON object with Content-Type: application/json.",
                      code="invalid_json", status=400)  # fmt: skip
    context = {"now": now()}
    if getattr(g, "api_business", None) is not None:
        context["zone"] = business().timezone
        context["region"] = home_region(business().number)  # a number without +country
    return parse_json(model, request.get_data(), **context)


def route(method: str, rule: str, *, summary: str, body: type[BaseModel] | None = None,
          query: type[BaseModel] | None = None, response: type[BaseModel] | None = None,
          status: int = 200, errors: tuple[int, ...] = (), auth: bool = True,
          also: tuple[int, ...] = (), links: tuple[str, ...] = ()) -> Callable:  # fmt: skip
    """Register an API operation: authenticate, build the command, answer the view."""

    def register(view: Callable) -> Callable:
        @functools.wraps(view)
        def handle(**path: Any):
            if auth:
                g.api_business = _authenticate()
            kwargs = dict(path)
            if body is not None:
                kwargs["data"] = _json_body(body)
            if query is not None:
                kwargs["query"] = parse(query, request.args.to_dict(),
                                        zone=business().timezone if auth else None)  # fmt: skip
            result = view(**kwargs)
            if isinstance(result, Response):
                return result
            payload = result.model_dump(mode="json") if isinstance(result, BaseModel) else result
            return jsonify(payload), status

        bp.add_url_rule(rule, view.__name__, handle, methods=[method])
        declared = set(errors) | ({401} if auth else set()) | ({400, 413, 422} if body else set())
        declared.add(429)  # every route is rate limited (per key, or per address)
        if query is not None:
            declared.add(422)
        ROUTES.append(Route(method.lower(), f"{bp.url_prefix}{rule}", view.__name__, summary, body,
                            query, response, status, tuple(sorted(declared)), auth,
                            also, links))  # fmt: skip
        return view

    return register


# ---- lists --------------------------------------------------------------------------------


class PageQuery(BaseModel):
    """Keyset pagination: pass `next_cursor` back as `cursor`."""

    model_config = ConfigDict(extra="ignore")
    cursor: str | None = Field(default=None, max_length=18, pattern=r"^[0-9]{1,18}$")
    limit: int = Field(default=PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)


class CustomerQuery(PageQuery):
    phone: OptionalPhone = None
    overdue: bool | None = Field(
        default=None, description="true: only customers overdue now; false: only those who are not"
    )
    sort: Literal["id", "last_visit", "-last_visit"] = Field(
        default="id", description="last_visit: the longest ago first, -last_visit: the most "
        "recent first; customers with no visit come after the others either way"
    )  # fmt: skip
    # by id: the last id; by last visit: "<microseconds>.<id>", or "n<id>" past the visits
    cursor: str | None = Field(default=None, max_length=40,
                               pattern=r"^(n?[0-9]{1,18}|[0-9]{1,17}\.[0-9]{1,18})$")  # fmt: skip


def page(query, key, serialize, params: PageQuery) -> dict:
    """Keyset pagination on `key` (ascending): {"items": [...], "next_cursor": ...}."""
    if params.cursor:
        query = query.where(key > min(int(params.cursor), MAX_ID))  # past the last id: none
    rows = list(db().exec(query.order_by(key).limit(params.limit + 1)))
    more = len(rows) > params.limit
    rows = rows[: params.limit]
    next_cursor = str(getattr(rows[-1], key.key)) if more and rows else None
    return {"items": [serialize(r).model_dump(mode="json") for r in rows],
            "next_cursor": next_cursor}  # fmt: skip


# ---- views of the tables ------------------------------------------------------------------


def customer_view(customer: Customer) -> v.CustomerPublic:
    view = v.CustomerPublic.model_validate(customer, from_attributes=True)
    return view.model_copy(update={"overdue": is_overdue(customer, now())})


def message_view(m: Message) -> v.MessagePublic:
    failed = m.status in {"failed", "canceled"}
    return v.MessagePublic.model_validate({
        **{name: getattr(m, name) for name in v.MessagePublic.model_fields
           if name not in {"error_reason", "media"}},
        "error_reason": reason_for(m.error_code) or (m.error_message if failed else None),
        "media": m.media_urls or [],
    })  # fmt: skip


def visit_view(visit: Visit, planned: list[Message], skipped: list[str]) -> v.VisitPublic:
    return v.VisitPublic(
        id=visit.id,
        customer_id=visit.customer_id,
        occurred_at=visit.occurred_at,
        staff=visit.staff,
        amount=visit.amount_cents / 100 if visit.amount_cents is not None else None,
        status=visit.status,
        planned=[message_view(m) for m in planned],
        skipped=skipped,
    )


def _customer_or_404(customer_id: int) -> Customer:
    customer = get_customer(db(), business().id, customer_id)
    if customer is None:
        raise NotFound(f"No customer {customer_id}.")
    return customer


# ---- routes -------------------------------------------------------------------------------


@bp.get("/openapi.json")
def openapi():
    from app.web.openapi import document

    return jsonify(document())


@route("GET", "/business", summary="The business's settings", response=v.BusinessPublic)
def get_business():
    return v.BusinessPublic.of(business())


@route("PATCH", "/business", summary="Change some settings (all or none)",
       body=BusinessChanges, response=v.BusinessPublic, errors=(403, 409, 503))  # fmt: skip
def patch_business(data: BusinessChanges):
    settings = services().settings
    changed = change_business(db(), business(), data, senders=services().senders,
                              may_change_sender=settings.owners_may_change_number)  # fmt: skip
    return v.BusinessPublic.of(changed)


@route("POST", "/customers", summary="Create a customer, or update the one with this phone",
       body=CustomerUpsert, response=v.CustomerPublic, status=201, also=(200,),
       links=("show_customer", "conversation"))  # fmt: skip
def upsert(data: CustomerUpsert):
    customer, created = upsert_customer(db(), business(), data, now=now(), source="api")
    return Response(
        response=customer_view(customer).model_dump_json(),
        status=201 if created else 200,
        mimetype="application/json",
    )


@route("GET", "/customers", summary="Customers, or the one with ?phone=",
       query=CustomerQuery, response=v.Page[v.CustomerPublic])  # fmt: skip
def list_customers(query: CustomerQuery):
    statement = select(Customer).where(col(Customer.business_id) == business().id)
    if query.phone:
        statement = statement.where(col(Customer.phone) == query.phone)
    if query.overdue is True:
        statement = statement.where(overdue_clause(now()))
    elif query.overdue is False:
        statement = statement.where(or_(col(Customer.overdue_at).is_(None),
                                        not_(overdue_clause(now()))))  # fmt: skip
    if query.sort != "id":
        return _by_last_visit(statement, query, descending=query.sort.startswith("-"))
    if query.cursor and not query.cursor.isdigit():
        raise Invalid("cursor", "That cursor belongs to another sort order.")
    return page(statement, col(Customer.id), customer_view, query)


def _by_last_visit(statement, query: CustomerQuery, *, descending: bool) -> dict:
    """Keyset pages by (last visit, id), then customers who never visited by id."""
    last_visit, ident = col(Customer.last_visit_at), col(Customer.id)
    raw = query.cursor or ""
    after = read_time_cursor(raw)
    if raw and after is None and not raw.startswith("n"):
        raise Invalid("cursor", "That cursor belongs to another sort order.")
    rows: list[Customer] = []
    if not raw.startswith("n"):
        visited = statement.where(last_visit.is_not(None))
        if after is not None:
            visited = visited.where(past(last_visit, *after, descending=descending))
        order = (last_visit.desc(), ident.desc()) if descending else (last_visit, ident)
        rows = list(db().exec(visited.order_by(*order).limit(query.limit + 1)))
    if len(rows) <= query.limit:
        never = statement.where(last_visit.is_(None))
        if raw.startswith("n"):
            never = never.where(ident > min(int(raw[1:]), MAX_ID))
        rows += list(db().exec(never.order_by(ident).limit(query.limit + 1 - len(rows))))
    more, rows = len(rows) > query.limit, rows[: query.limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = (time_cursor(last.last_visit_at, last.id) if last.last_visit_at
                       else f"n{last.id}")  # fmt: skip
    return {"items": [customer_view(r).model_dump(mode="json") for r in rows],
            "next_cursor": next_cursor}  # fmt: skip


@route("GET", "/customers/<int:id>", summary="One customer", response=v.CustomerDetail,
       errors=(404,))  # fmt: skip
def show_customer(id: int):
    customer = _customer_or_404(id)
    flagged = latest_unhappy(db(), customer.id) if customer.unhappy_at is not None else None
    # The owner is offered a personal first answer to an unhappy customer, and why.
    return v.CustomerDetail.model_validate({
        **customer_view(customer).model_dump(),
        "suggested_reply": flagged.suggested_reply if flagged else None,
        "unhappy_reasons": list(flagged.reasons) if flagged else [],
    })  # fmt: skip


@route("GET", "/customers/<int:id>/messages", summary="The conversation, oldest first",
       query=PageQuery, response=v.Page[v.MessagePublic], errors=(404,))  # fmt: skip
def conversation(id: int, query: PageQuery):
    customer = _customer_or_404(id)
    statement = select(Message).where(
        col(Message.business_id) == business().id,
        col(Message.customer_id) == customer.id,
        col(Message.kind) != "alert",  # alerts about this customer went to the owner's phone
    )
    return page(statement, col(Message.id), message_view, query)


@route("POST", "/visits", summary="Record a visit; plans its follow-ups and returns them",
       body=VisitCreate, response=v.VisitPublic, status=201, links=("cancel",))  # fmt: skip
def create_visit(data: VisitCreate):
    recorded = record_visit(db(), business(), data, now=now(), source="api",
                            base_url=public_base())  # fmt: skip
    return visit_view(recorded.visit, recorded.planned, recorded.skipped)


@route("POST", "/visits/<int:id>/cancel",
       summary="The visit was cancelled or refunded: pending follow-ups are canceled",
       response=v.VisitPublic, errors=(404,))  # fmt: skip
def cancel(id: int):
    visit = db().get(Visit, id)
    if visit is None or visit.business_id != business().id:
        raise NotFound(f"No visit {id}.")
    cancel_visit(db(), visit, now=now())
    return visit_view(visit, planned_for(db(), visit.id), [])


@route("POST", "/messages", summary="Send a text now", body=MessageCreate,
       response=v.MessagePublic, status=202, errors=(404, 409),
       links=("show_message",))  # fmt: skip
def send_message(data: MessageCreate):
    session = db()
    customer: Customer | None
    if data.customer_id is not None:
        customer = _customer_or_404(data.customer_id)
    else:
        customer = session.exec(
            select(Customer).where(col(Customer.business_id) == business().id,
                                   col(Customer.phone) == data.phone)
        ).first()  # fmt: skip
        if customer is None:
            raise NotFound("No customer with that phone: record them first.")
    if data.template:
        # A saved text keeps its kind's rules (consent, window, caps, review cooldown) and kind.
        message = send_template(session, business(), customer, data.template, now=now(),
                                base_url=public_base())  # fmt: skip
    else:
        message = queue_text(session, business(), customer, data.body or "", "manual", now=now(),
                             cause="user")  # fmt: skip
    return message_view(message)


@route("GET", "/messages/<int:id>", summary="One message with its current status",
       response=v.MessagePublic, errors=(404,))  # fmt: skip
def show_message(id: int):
    message = db().get(Message, id)
    if message is None or message.business_id != business().id:
        raise NotFound(f"No message {id}.")
    return message_view(message)


@route("POST", "/segments", summary="Count a text's segments the way the server does",
       body=SegmentCount, response=v.SegmentInfo, auth=False)  # fmt: skip
def count_segments(data: SegmentCount):
    """The composer's live counter asks the server's own counting (no auth: pure function)."""
    info = segment_info(data.body)
    return v.SegmentInfo(segments=info.segments, encoding=info.encoding, units=info.units,
                         per_segment=info.per_segment)  # fmt: skip


class ReferralQuery(PageQuery):
    state: Literal["lead", "converted", "rewarded"] | None = None


@route("GET", "/referrals", summary="Referrals with their state (lead, converted, rewarded)",
       query=ReferralQuery, response=v.Page[v.ReferralPublic])  # fmt: skip
def list_referrals(query: ReferralQuery):
    statement = select(Referral).where(Referral.business_id == business().id)
    if query.state:
        statement = statement.where(Referral.state == query.state)
    return page(statement, Referral.id, v.ReferralPublic.model_validate, query)


@route("POST", "/referrals/<int:id>/reward", summary="The referrer's reward was given (a "
       "referral whose friend has visited)", response=v.ReferralPublic,
       errors=(404, 409))  # fmt: skip
def reward_referral(id: int):
    referral = mark_rewarded(db(), business().id, id, by=None, now=now())
    return v.ReferralPublic.model_validate(referral)


def broadcast_view(broadcast: Broadcast) -> v.BroadcastPublic:
    report = broadcasts.report(db(), broadcast)
    return v.BroadcastPublic.model_validate({
        "id": broadcast.id, "title": broadcast.title, "body": broadcast.body,
        "kind": "promotional" if broadcast.promotional else "informational",
        "segment": broadcast.segment, "per_hour": broadcast.per_hour, "state": broadcast.state,
        "start_at": broadcast.start_at, "paused_reason": broadcast.paused_reason,
        "paused_by": broadcast.paused_by, "recipients": broadcast.eligible,
        "skipped": broadcast.skipped, "created_at": broadcast.created_at,
        "finished_at": broadcast.finished_at, "report": v.BroadcastReport.model_validate(report),
    })  # fmt: skip


def check_view(checked: broadcasts.Check) -> v.BroadcastCheck:
    who = checked.audience
    return v.BroadcastCheck(
        sample=checked.sample, segments=checked.segments,
        findings=[v.FindingView.model_validate(f) for f in checked.findings],
        audience=v.AudienceView(total=who.total, eligible=who.eligible, left_out=who.left_out),
        forecast=v.ForecastView.model_validate(checked.forecast),
    )  # fmt: skip


@route("POST", "/broadcasts/check", summary="What a broadcast would be, before it is sent: a "
       "recipient's text, the check's findings, who would get it (and why the others would "
       "not), and when the last text would go", body=BroadcastCreate,
       response=v.BroadcastCheck)  # fmt: skip
def check_broadcast(data: BroadcastCreate):
    return check_view(broadcasts.check(db(), business(), data, now=now(), base_url=public_base()))


@route("POST", "/broadcasts", summary="Send a text to a segment, now or from start_at, each "
       "recipient inside their window; refused when the check finds what cannot go",
       body=BroadcastCreate, response=v.BroadcastPublic, status=201,
       links=("show_broadcast", "pause_broadcast", "resume_broadcast",
              "cancel_broadcast"))  # fmt: skip
def create_broadcast(data: BroadcastCreate):
    return broadcast_view(broadcasts.create(db(), business(), data, now=now()))


@route("GET", "/broadcasts", summary="The business's broadcasts, oldest first, with their "
       "reports", query=PageQuery, response=v.Page[v.BroadcastPublic])  # fmt: skip
def list_broadcasts(query: PageQuery):
    statement = select(Broadcast).where(col(Broadcast.business_id) == business().id)
    return page(statement, col(Broadcast.id), broadcast_view, query)


@route("GET", "/broadcasts/<int:id>", summary="One broadcast with its live report",
       response=v.BroadcastPublic, errors=(404,))  # fmt: skip
def show_broadcast(id: int):
    return broadcast_view(broadcasts.get(db(), business().id, id))


@route("POST", "/broadcasts/<int:id>/pause", summary="Pause a broadcast: nothing more goes "
       "until it is resumed", response=v.BroadcastPublic, errors=(404, 409))  # fmt: skip
def pause_broadcast(id: int):
    broadcast = broadcasts.get(db(), business().id, id, lock=True)
    broadcasts.pause(db(), broadcast, now=now())
    return broadcast_view(broadcast)


@route("POST", "/broadcasts/<int:id>/resume", summary="Resume a paused broadcast where it was",
       response=v.BroadcastPublic, errors=(404, 409))  # fmt: skip
def resume_broadcast(id: int):
    broadcast = broadcasts.get(db(), business().id, id, lock=True)
    broadcasts.resume(db(), broadcast, now=now())
    return broadcast_view(broadcast)


@route("POST", "/broadcasts/<int:id>/cancel", summary="Cancel a broadcast: its unsent texts "
       "never go", response=v.BroadcastPublic, errors=(404, 409))  # fmt: skip
def cancel_broadcast(id: int):
    broadcast = broadcasts.get(db(), business().id, id, lock=True)
    broadcasts.cancel(db(), broadcast, now=now())
    return broadcast_view(broadcast)


def staff_view(member: StaffMember) -> v.StaffPublic:
    return v.StaffPublic(id=member.id, name=member.name, active=member.active,
                         signs_in=member.user_id is not None,
                         created_at=member.created_at)  # fmt: skip


class StaffQuery(PageQuery):
    active: bool | None = None


@route("GET", "/staff", summary="The staff list: names offered in the visit form and counted "
       "per staff in the metrics", query=StaffQuery, response=v.Page[v.StaffPublic])  # fmt: skip
def list_staff(query: StaffQuery):
    statement = select(StaffMember).where(col(StaffMember.business_id) == business().id)
    if query.active is not None:
        statement = statement.where(col(StaffMember.active).is_(query.active))
    return page(statement, col(StaffMember.id), staff_view, query)


@route("POST", "/staff", summary="Add a name to the staff list, or find it there in any case",
       body=StaffSave, response=v.StaffPublic, status=201, also=(200,))  # fmt: skip
def add_staff(data: StaffSave):
    member, added = staff_named(db(), business(), data.name, now=now())
    return Response(response=staff_view(member).model_dump_json(),
                    status=201 if added else 200, mimetype="application/json")  # fmt: skip


class MetricsQuery(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)
    from_: DayOrMoment | None = Field(default=None, alias="from")
    to: DayOrMoment | None = Field(default=None, description="a date here includes that day")


@route("GET", "/metrics", summary="The dashboard's figures: texts, replies, reviews, CSAT, NPS, "
       "CES, per staff (default: 30 days)", query=MetricsQuery, response=v.Metrics)  # fmt: skip
def metrics(query: MetricsQuery):
    try:
        start, end = metrics_range(business(), query.from_, query.to, now=now())
    except ValueError:
        raise Invalid("from", "from must be before to, at most a year apart") from None
    return business_metrics(db(), business(), start, end, now=now())


@route("GET", "/templates", summary="The business's texts, with their defaults",
       response=v.Page[v.TemplatePublic])  # fmt: skip
def list_templates():
    items = []
    for kind in texts.EDITABLE_KINDS:
        source = texts.business_source(db(), business().id, kind)
        items.append(v.TemplatePublic(kind=kind, body=source, default=texts.default_source(kind),
                                      customized=source != texts.default_source(kind),
                                      merge_fields=list(texts.MERGE_FIELDS[kind])))  # fmt: skip
    return v.Page[v.TemplatePublic](items=items, next_cursor=None)


def _kind_or_404(kind: str) -> str:
    if kind not in texts.MERGE_FIELDS:
        raise NotFound(f"No text called {kind[:40]!r}.")
    return kind


@route("PUT", "/templates/<kind>", summary="Save the business's own copy of a text",
       body=TemplateSave, response=v.TemplateSaved, errors=(404,))  # fmt: skip
def put_template(kind: str, data: TemplateSave):
    _kind_or_404(kind)
    texts.save_template(db(), business(), kind, data.body, now=now())  # Invalid if it cannot be
    preview = texts.validate_source(kind, data.body, business().name)
    info = segment_info(preview)
    return v.TemplateSaved(kind=kind, body=data.body, preview=preview, segments=info.segments,
                           encoding=info.encoding)  # fmt: skip


@route("DELETE", "/templates/<kind>", summary="Go back to the default text",
       response=v.TemplateReset, errors=(404,))  # fmt: skip
def reset_template(kind: str):
    texts.reset_template(db(), business(), _kind_or_404(kind))
    return v.TemplateReset(kind=kind, body=texts.default_source(kind), customized=False)
