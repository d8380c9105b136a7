"""Every request the dispatcher makes to Twilio, checked against Twilio's own OpenAPI spec.

The spec (twilio-oai, api v2010) lives next to the repository in shared/twilio-oai. The fake
Twilio answers with the spec's own response examples, so the parsing side is checked too.
"""

from __future__ import annotations

import base64
import copy
import random
import re
from datetime import datetime, timedelta
from email.utils import format_datetime
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlsplit

import pytest
import requests

from app.care.customers import find_or_create, set_consent
from app.care.dispatcher import Dispatcher
from app.care.outbound import queue_text
from app.models import Message
from tests.conftest import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    MESSAGES_URL,
    PUBLIC_BASE,
    TWILIO_BASE,
)

yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read Twilio's OpenAPI spec")

SPEC_PATH = Path(__file__).parents[3] / "shared" / "twilio-oai" / "twilio_api_v2010.yaml"
if not SPEC_PATH.exists():
    pytest.skip(f"Twilio's OpenAPI spec is not at {SPEC_PATH}", allow_module_level=True)

MESSAGES_PATH = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
SERVICE_SID = "MG" + "c" * 32
VALIDITY_RANGE = (1, 36000)  # seconds; FACTS.md, Twilio's docs
MAX_BODY = 1600


# ---- the spec -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def spec() -> dict:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with SPEC_PATH.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=loader)


def operation(spec: dict, operation_id: str) -> tuple[str, str, dict]:
    """(path, method, operation) of the operation with this operationId."""
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if isinstance(op, dict) and op.get("operationId") == operation_id:
                return path, method, op
    raise AssertionError(f"{operation_id} is not in the spec")


def resolve(spec: dict, schema: dict) -> dict:
    while "$ref" in schema:
        node = spec
        for part in schema["$ref"].removeprefix("#/").split("/"):
            node = node[part]
        schema = node
    return schema


def path_pattern(spec: dict, path: str, op: dict) -> re.Pattern:
    """A regex for the concrete URL path, each {param} constrained by its schema pattern."""
    params = {p["name"]: p for p in op.get("parameters", []) if p["in"] == "path"}

    def piece(match: re.Match) -> str:
        schema = resolve(spec, params[match.group(1)]["schema"])
        pattern = schema.get("pattern", "^[^/]+$")
        return "(?:" + pattern.removeprefix("^").removesuffix("$") + ")"

    return re.compile("^" + re.sub(r"\\\{(\w+)\\\}", piece, re.escape(path)) + "$")


@pytest.fixture(scope="module")
def create_op(spec) -> dict:
    path, method, op = operation(spec, "CreateMessage")
    assert (path, method) == (MESSAGES_PATH, "post")
    return {"path": path, "op": op, "pattern": path_pattern(spec, path, op)}


@pytest.fixture(scope="module")
def list_op(spec) -> dict:
    path, method, op = operation(spec, "ListMessage")
    assert (path, method) == (MESSAGES_PATH, "get")
    return {"path": path, "op": op, "pattern": path_pattern(spec, path, op)}


def create_example(spec: dict, name: str = "create") -> dict:
    _, _, op = operation(spec, "CreateMessage")
    return copy.deepcopy(op["responses"]["201"]["content"]["application/json"]["examples"][name])[
        "value"
    ]


def list_example(spec: dict, *bodies: str) -> dict:
    """The spec's ListMessage example page, its messages rewritten to carry these bodies."""
    _, _, op = operation(spec, "ListMessage")
    page = copy.deepcopy(
        op["responses"]["200"]["content"]["application/json"]["examples"]["readFullPage1"]["value"]
    )
    template = next(m for m in page["messages"] if m["direction"] != "inbound")
    page["messages"] = [
        {**template, "body": body, "to": CUSTOMER_PHONE, "sid": f"SM{i:032x}"}
        for i, body in enumerate(bodies, start=1)
    ]
    page["next_page_uri"] = None
    return page


# ---- the checks -----------------------------------------------------------------------------


def check_auth(request) -> None:
    """The spec's security scheme is HTTP basic with the account SID and auth token."""
    scheme, _, token = request.headers["Authorization"].partition(" ")
    assert scheme == "Basic"
    assert base64.b64decode(token).decode() == f"{ACCOUNT_SID}:{AUTH_TOKEN}"


def check_create_request(spec: dict, create_op: dict, request) -> dict[str, str]:
    """Assert one POST conforms to CreateMessage; returns its form."""
    url = urlsplit(request.url)
    assert f"{url.scheme}://{url.netloc}" == TWILIO_BASE
    assert create_op["pattern"].match(url.path), url.path
    assert url.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert url.query == ""
    check_auth(request)
    body_spec = create_op["op"]["requestBody"]["content"]
    content_type = request.headers["Content-Type"].split(";")[0].strip()
    assert content_type == "application/x-www-form-urlencoded"
    assert content_type in body_spec
    schema = resolve(spec, body_spec[content_type]["schema"])
    properties = schema["properties"]

    body = request.body.decode() if isinstance(request.body, bytes) else request.body
    pairs = parse_qsl(body, keep_blank_values=True, strict_parsing=True)
    names = [name for name, _ in pairs]
    assert len(names) == len(set(names)), f"a field is repeated: {names}"
    form = dict(pairs)
    unknown = set(form) - set(properties)
    assert not unknown, f"fields CreateMessage does not define: {unknown}"
    for required in schema.get("required", []):
        assert form.get(required), f"{required} is required"

    assert form["To"] == CUSTOMER_PHONE
    assert re.fullmatch(r"\+[1-9]\d{1,14}", form["To"])
    assert ("From" in form) != ("MessagingServiceSid" in form), "exactly one sender"
    if "From" in form:
        assert re.fullmatch(r"\+[1-9]\d{1,14}", form["From"])
    else:
        sid_schema = resolve(spec, properties["MessagingServiceSid"])
        assert re.fullmatch(sid_schema["pattern"].strip("^$"), form["MessagingServiceSid"])
        assert (
            sid_schema["minLength"] <= len(form["MessagingServiceSid"]) <= sid_schema["maxLength"]
        )
    assert 0 < len(form["Body"]) <= MAX_BODY
    assert form["Body"] == form["Body"].strip()

    callback = urlsplit(form["StatusCallback"])
    assert resolve(spec, properties["StatusCallback"])["format"] == "uri"
    assert callback.scheme == "https" and callback.netloc, form["StatusCallback"]
    assert f"{callback.scheme}://{callback.netloc}" == PUBLIC_BASE
    assert callback.path == "/webhooks/twilio/status"
    assert list(parse_qs(callback.query)) == ["mid"]

    if "ValidityPeriod" in form:
        assert resolve(spec, properties["ValidityPeriod"])["type"] == "integer"
        assert form["ValidityPeriod"].isdigit()
        low, high = VALIDITY_RANGE
        assert low <= int(form["ValidityPeriod"]) <= high
    return form


def check_list_request(list_op: dict, request) -> dict[str, list[str]]:
    url = urlsplit(request.url)
    assert f"{url.scheme}://{url.netloc}" == TWILIO_BASE
    assert list_op["pattern"].match(url.path), url.path
    check_auth(request)
    query = parse_qs(url.query, keep_blank_values=True, strict_parsing=True)
    defined = {p["name"]: p for p in list_op["op"]["parameters"] if p["in"] == "query"}
    unknown = set(query) - set(defined)
    assert not unknown, f"query parameters ListMessage does not define: {unknown}"
    if "PageSize" in query:
        size_schema = defined["PageSize"]["schema"]
        assert size_schema["minimum"] <= int(query["PageSize"][0]) <= size_schema["maximum"]
    return query


# ---- scenarios ------------------------------------------------------------------------------


def make_dispatcher(services, clock) -> Dispatcher:
    def sleep(seconds: float) -> None:
        clock.advance(seconds=seconds)

    return Dispatcher(
        services.engine,
        services.gateway,
        services.settings,
        clock=clock,
        rng=random.Random(0),
        sleep=sleep,
    )


def queue(session, business, clock, body: str, kind: str = "manual") -> Message:
    customer, _ = find_or_create(session, business, CUSTOMER_PHONE, now=clock.now())
    set_consent(session, customer, "granted", source="api", now=clock.now())
    message = queue_text(session, business, customer, body, kind, now=clock.now())
    session.commit()
    return message


def fresh(session, message: Message) -> Message:
    row = session.get(Message, message.id, populate_existing=True)
    session.commit()
    return row


def post_calls(twilio) -> list:
    return [c for c in twilio.calls if c.request.method == "POST"]


def test_send_from_a_number_conforms(spec, create_op, services, twilio, clock, session, business):
    message = queue(session, business, clock, "Thanks for visiting today!", "thank_you")
    answer = create_example(spec, "create")
    twilio.add("POST", MESSAGES_URL, json=answer, status=201)

    make_dispatcher(services, clock).run_once()

    (call,) = post_calls(twilio)
    form = check_create_request(spec, create_op, call.request)
    assert form["From"] == BUSINESS_NUMBER
    assert form["StatusCallback"].endswith(f"?mid={message.id}")
    assert int(form["ValidityPeriod"]) == services.settings.validity_period_seconds
    sent = fresh(session, message)
    assert (sent.status, sent.provider_sid) == ("sent", answer["sid"])
    assert sent.provider_status == answer["status"]


def test_send_through_a_messaging_service_conforms(
    spec, create_op, services, twilio, clock, session, business
):
    business.messaging_service_sid = SERVICE_SID
    session.add(business)
    session.commit()
    message = queue(session, business, clock, "Your appointment is tomorrow at 10")
    answer = create_example(spec, "createWithMessagingService")
    twilio.add("POST", MESSAGES_URL, json=answer, status=201)

    make_dispatcher(services, clock).run_once()

    (call,) = post_calls(twilio)
    form = check_create_request(spec, create_op, call.request)
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert fresh(session, message).provider_sid == answer["sid"]


@pytest.mark.parametrize(
    "body",
    ["ok", "Café déjà vu ☕ " * 40, "{[~]} | € ^ \\ " * 20, "x" * 1500],
    ids=["short", "ucs2-long", "gsm-extended", "near-limit"],
)
def test_bodies_of_every_shape_conform(
    body, spec, create_op, services, twilio, clock, session, business
):
    message = queue(session, business, clock, body)
    twilio.add("POST", MESSAGES_URL, json=create_example(spec), status=201)

    make_dispatcher(services, clock).run_once()

    (call,) = post_calls(twilio)
    form = check_create_request(spec, create_op, call.request)
    assert form["Body"] == fresh(session, message).body


def test_retried_requests_conform_too(spec, create_op, services, twilio, clock, session, business):
    message = queue(session, business, clock, "Hello")
    twilio.add(
        "POST",
        MESSAGES_URL,
        json={"code": 20429, "message": "Too Many Requests", "status": 429},
        status=429,
    )
    twilio.add("POST", MESSAGES_URL, json=create_example(spec), status=201)

    make_dispatcher(services, clock).run_once()
    clock.set(fresh(session, message).send_at)
    make_dispatcher(services, clock).run_once()

    calls = post_calls(twilio)
    assert len(calls) == 2
    forms = [check_create_request(spec, create_op, c.request) for c in calls]
    assert forms[0] == forms[1]  # the same text, not a changed one
    assert fresh(session, message).status == "sent"


@pytest.mark.parametrize("found", [True, False], ids=["found", "not-found"])
def test_reconciliation_lists_messages_with_defined_parameters(
    found, spec, create_op, list_op, services, twilio, clock, session, business
):
    message = queue(session, business, clock, "Your car is ready")
    twilio.add("POST", MESSAGES_URL, body=requests.exceptions.ReadTimeout("read timeout"))
    make_dispatcher(services, clock).run_once()
    row = fresh(session, message)
    assert row.status == "sending"
    attempted = row.last_attempt_at
    page = list_example(spec, row.body) if found else list_example(spec, "something else")
    for listed in page["messages"]:  # Twilio created it when our timed-out request arrived
        listed["date_created"] = format_datetime(attempted, usegmt=True)
    twilio.add("GET", MESSAGES_URL, json=page, status=200)
    twilio.add("POST", MESSAGES_URL, json=create_example(spec), status=201)

    clock.set(row.lease_until + timedelta(seconds=1))
    make_dispatcher(services, clock).run_once()
    make_dispatcher(services, clock).run_once()

    lists = [c for c in twilio.calls if c.request.method == "GET"]
    assert len(lists) == 1
    query = check_list_request(list_op, lists[0].request)
    assert (query["To"], query["From"]) == ([CUSTOMER_PHONE], [BUSINESS_NUMBER])
    # No DateSent filter: a text Twilio accepted but has not sent yet has no DateSent.
    assert not {"DateSent", "DateSent<", "DateSent>"} & set(query)
    for call in post_calls(twilio):
        check_create_request(spec, create_op, call.request)
    assert len(post_calls(twilio)) == (1 if found else 2)
    done = fresh(session, message)
    assert done.status == "sent"
    expected_sid = page["messages"][0]["sid"] if found else create_example(spec)["sid"]
    assert done.provider_sid == expected_sid


def test_a_full_first_page_is_followed_by_a_look_at_what_was_sent_since(
    spec, list_op, services, twilio, clock, session, business
):
    message = queue(session, business, clock, "Your car is ready")
    twilio.add("POST", MESSAGES_URL, body=requests.exceptions.ReadTimeout("read timeout"))
    make_dispatcher(services, clock).run_once()
    row = fresh(session, message)
    crowded = list_example(spec, *[f"Reminder {i}" for i in range(50)])  # a long history
    recent = list_example(spec, row.body)
    for listed in crowded["messages"] + recent["messages"]:
        listed["date_created"] = format_datetime(row.last_attempt_at, usegmt=True)
    twilio.add("GET", MESSAGES_URL, json=crowded, status=200)
    twilio.add("GET", MESSAGES_URL, json=recent, status=200)

    clock.set(row.lease_until + timedelta(seconds=1))
    make_dispatcher(services, clock).run_once()

    lists = [
        check_list_request(list_op, c.request) for c in twilio.calls if c.request.method == "GET"
    ]
    assert len(lists) == 2
    assert "DateSent>" not in lists[0]
    (since,) = lists[1]["DateSent>"]
    assert datetime.fromisoformat(since.replace("Z", "+00:00")) <= row.last_attempt_at
    assert len(post_calls(twilio)) == 1  # only the timed-out one: found, not resent
    assert fresh(session, message).provider_sid == recent["messages"][0]["sid"]
