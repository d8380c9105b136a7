"""The dispatcher: claim due texts, send them once, record, retry, reconcile.

Twilio is faked at the HTTP level (`twilio` fixture); a few tests pass a fake gateway object
through the Dispatcher's constructor instead. Time only moves through the FixedClock: the
dispatcher's `sleep` is a fake that advances it.
"""

from __future__ import annotations

import itertools
import json
import random
import threading
import time
import uuid
from dataclasses import replace
from datetime import datetime, timedelta
from urllib.parse import parse_qs, parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests
from sqlmodel import select

from app.care.customers import find_or_create, set_consent
from app.care.dispatcher import Dispatcher, RunStats
from app.care.outbound import queue_text
from app.clock import SystemClock
from app.models import Customer, Message, StatusCallback
from app.sms.gateway import Accepted, OutgoingText
from app.sms.webhooks import StatusReport, status_report
from tests.conftest import (
    ACCOUNT_SID,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    MESSAGES_URL,
    PUBLIC_BASE,
    is_postgres,
    twilio_message,
)

NY = ZoneInfo("America/New_York")
OTHER_PHONE = "+12125550188"
SERVICE_SID = "MG" + "b" * 32


# ---- helpers --------------------------------------------------------------------------------


def ny(hour: int, minute: int = 0, day: int = 10) -> datetime:
    """A moment in New York in the week of the fixtures' clock (Tuesday 10 March 2026)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=NY)


class FakeSleep:
    """The dispatcher's `sleep`: records each wait and moves the clock instead of waiting."""

    def __init__(self, clock):
        self.clock = clock
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.clock.advance(seconds=seconds)


def make_dispatcher(services, clock, *, gateway=None, settings=None, worker_id=None, sleep=None):
    return Dispatcher(
        services.engine,
        gateway or services.gateway,
        settings or services.settings,
        clock=clock,
        rng=random.Random(0),
        sleep=sleep or FakeSleep(clock),
        worker_id=worker_id,
    )


def add_customer(session, business, clock, phone=CUSTOMER_PHONE, consent="granted", **fields):
    customer, _ = find_or_create(session, business, phone, name="Maria Lopez", now=clock.now())
    if consent != "unknown":
        set_consent(session, customer, consent, source="api", now=clock.now())
    for name, value in fields.items():
        setattr(customer, name, value)
    session.add(customer)
    session.commit()
    return customer


def queue(session, business, customer, body, kind="manual", *, clock, send_at=None) -> Message:
    message = queue_text(session, business, customer, body, kind, now=clock.now(), send_at=send_at)
    session.commit()
    return message


def fresh(session, model, key):
    """The row as the database has it now. Ends the read transaction at once: on SQLite every
    transaction takes the write lock, and the dispatcher must not wait for the test's."""
    row = session.get(model, key, populate_existing=True)
    session.commit()
    return row


def posts(twilio) -> list:
    return [call for call in twilio.calls if call.request.method == "POST"]


def gets(twilio) -> list:
    return [call for call in twilio.calls if call.request.method == "GET"]


def form_of(call) -> dict[str, str]:
    body = call.request.body
    if isinstance(body, bytes):
        body = body.decode()
    return dict(parse_qsl(body, keep_blank_values=True))


def twilio_error(code: int, status: int, message: str = "error") -> dict:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def twilio_list(*messages: dict) -> dict:
    """A ListMessage page as Twilio answers it (one page, no next page)."""
    uri = f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    return {
        "messages": list(messages),
        "start": 0,
        "end": max(len(messages) - 1, 0),
        "page": 0,
        "page_size": 50,
        "first_page_uri": uri + "?PageSize=50&Page=0",
        "previous_page_uri": None,
        "next_page_uri": None,
        "uri": uri + "?PageSize=50&Page=0",
    }


def sid(n: int) -> str:
    return f"SM{n:032x}"


def abandon(session, message: Message, clock, *, attempted_ago=timedelta(minutes=2)) -> Message:
    """Leave a message as a worker that died after handing it to the provider leaves it."""
    row = fresh(session, Message, message.id)
    row.status = "sending"
    row.attempts = 1
    row.last_attempt_at = clock.now() - attempted_ago
    row.lease_until = clock.now() - timedelta(seconds=1)
    row.leased_by = "dead-worker"
    session.add(row)
    session.commit()
    return row


# ---- sending once ---------------------------------------------------------------------------


def test_due_text_is_sent_exactly_once(client, auth, services, twilio, clock, session):
    created = client.post(
        "/api/v1/customers", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth
    )
    assert created.status_code == 201, created.json
    queued = client.post(
        "/api/v1/messages",
        json={"customer_id": created.json["id"], "body": "Your color is ready for pickup."},
        headers=auth,
    )
    assert queued.status_code == 202, queued.json
    mid = queued.json["id"]
    assert queued.json["status"] == "scheduled"
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(1)), status=201)

    stats = make_dispatcher(services, clock).run_once()

    assert stats.sent == 1
    assert len(posts(twilio)) == 1
    form = form_of(posts(twilio)[0])
    assert form["To"] == CUSTOMER_PHONE
    assert form["From"] == BUSINESS_NUMBER
    assert "MessagingServiceSid" not in form
    assert form["Body"] == queued.json["body"]
    assert form["StatusCallback"] == f"{PUBLIC_BASE}/webhooks/twilio/status?mid={mid}"
    message = fresh(session, Message, mid)
    assert message.status == "sent"
    assert message.provider_sid == sid(1)
    assert message.provider_status == "queued"
    assert message.attempts == 1
    assert message.sent_at == clock.now()
    assert message.lease_until is None and message.leased_by is None

    again = make_dispatcher(services, clock).run_once()
    clock.advance(hours=1)
    later = make_dispatcher(services, clock).run_once()
    assert again.claimed == later.claimed == 0
    assert len(posts(twilio)) == 1
    shown = client.get(f"/api/v1/messages/{mid}", headers=auth).json
    assert (shown["status"], shown["provider_sid"]) == ("sent", sid(1))


def test_messaging_service_replaces_from(services, twilio, clock, session, business):
    business.messaging_service_sid = SERVICE_SID
    session.add(business)
    session.commit()
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "See you Friday", clock=clock)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(2), status="accepted"), status=201)

    make_dispatcher(services, clock).run_once()

    form = form_of(posts(twilio)[0])
    assert form["MessagingServiceSid"] == SERVICE_SID
    assert "From" not in form
    assert form["To"] == CUSTOMER_PHONE
    sent = fresh(session, Message, message.id)
    assert (sent.status, sent.provider_status, sent.provider_sid) == ("sent", "accepted", sid(2))


# ---- transient errors -----------------------------------------------------------------------


TRANSIENT = [
    pytest.param({"json": twilio_error(20429, 429, "Too Many Requests"), "status": 429}, id="429"),
    pytest.param(
        {"json": twilio_error(20500, 500, "Internal Server Error"), "status": 500}, id="500"
    ),
    pytest.param({"body": "<html>Bad Gateway</html>", "status": 502}, id="502-html"),
]


@pytest.mark.parametrize("answer", TRANSIENT)
def test_transient_error_backs_off_then_succeeds(
    answer, services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Running 5 minutes late", clock=clock)
    twilio.add("POST", MESSAGES_URL, **answer)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(3)), status=201)
    start = clock.now()

    stats = make_dispatcher(services, clock).run_once()

    assert stats.retried == 1 and stats.sent == 0
    retry = fresh(session, Message, message.id)
    assert retry.status == "scheduled"
    assert retry.attempts == 1
    base = services.settings.backoff_base_seconds
    assert start < retry.send_at <= start + timedelta(seconds=base)
    assert retry.lease_until is None and retry.leased_by is None
    assert retry.provider_sid is None

    # Not due yet: nothing goes.
    assert make_dispatcher(services, clock).run_once().claimed == 0
    assert len(posts(twilio)) == 1

    clock.set(retry.send_at + timedelta(milliseconds=1))
    assert make_dispatcher(services, clock).run_once().sent == 1
    done = fresh(session, Message, message.id)
    assert (done.status, done.provider_sid, done.attempts) == ("sent", sid(3), 2)
    assert len(posts(twilio)) == 2


def test_jitter_differs_between_texts(services, twilio, clock, session, business):
    customer = add_customer(session, business, clock)
    first = queue(session, business, customer, "one", clock=clock)
    second = queue(session, business, customer, "two", clock=clock)
    twilio.add("POST", MESSAGES_URL, json=twilio_error(20429, 429), status=429)

    make_dispatcher(services, clock).run_once()

    a, b = fresh(session, Message, first.id), fresh(session, Message, second.id)
    assert a.status == b.status == "scheduled"
    assert a.send_at != b.send_at  # full jitter: a burst does not come back as a burst


def test_gives_up_after_max_send_attempts(services, twilio, clock, session, business):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello again", clock=clock)
    twilio.add("POST", MESSAGES_URL, json=twilio_error(20500, 500), status=500)
    limit = services.settings.max_send_attempts
    base = services.settings.backoff_base_seconds

    for attempt in range(1, limit + 1):
        before = clock.now()
        make_dispatcher(services, clock).run_once()
        row = fresh(session, Message, message.id)
        assert row.attempts == attempt
        assert len(posts(twilio)) == attempt
        if attempt < limit:
            assert row.status == "scheduled"
            ceiling = base * 2 ** (attempt - 1)  # exponential, with jitter below the ceiling
            assert before + timedelta(seconds=ceiling / 2) <= row.send_at
            assert row.send_at <= before + timedelta(seconds=ceiling)
            clock.set(row.send_at)
    failed = fresh(session, Message, message.id)
    assert failed.status == "failed"
    assert failed.error_code == 20500
    assert failed.lease_until is None

    clock.advance(days=1)
    assert make_dispatcher(services, clock).run_once().claimed == 0
    assert len(posts(twilio)) == limit


# ---- permanent errors -----------------------------------------------------------------------


def test_21610_opts_the_customer_out_and_cancels_their_plan(
    services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    other = add_customer(session, business, clock, phone=OTHER_PHONE)
    message = queue(session, business, customer, "Your appointment is confirmed", clock=clock)
    later = queue(
        session,
        business,
        customer,
        "Thanks!",
        "thank_you",
        clock=clock,
        send_at=clock.now() + timedelta(days=1),
    )
    others = queue(
        session,
        business,
        other,
        "Thanks!",
        "thank_you",
        clock=clock,
        send_at=clock.now() + timedelta(days=1),
    )
    twilio.add(
        "POST",
        MESSAGES_URL,
        json=twilio_error(21610, 400, "Attempt to send to unsubscribed recipient"),
        status=400,
    )

    stats = make_dispatcher(services, clock).run_once()

    assert stats.failed == 1
    failed = fresh(session, Message, message.id)
    assert (failed.status, failed.error_code) == ("failed", 21610)
    assert failed.provider_sid is None
    assert fresh(session, Customer, customer.id).consent == "opted_out"
    assert fresh(session, Message, later.id).status == "canceled"
    assert fresh(session, Message, others.id).status == "scheduled"
    assert fresh(session, Customer, other.id).consent == "granted"
    assert len(posts(twilio)) == 1
    clock.advance(days=2)
    make_dispatcher(services, clock).run_once()
    assert len(posts(twilio)) == 2  # only the other customer's text
    assert form_of(posts(twilio)[1])["To"] == OTHER_PHONE


@pytest.mark.parametrize("code", [21211, 21614])
def test_bad_number_fails_and_flags_the_customer(code, services, twilio, clock, session, business):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    later = queue(
        session,
        business,
        customer,
        "Thanks!",
        "thank_you",
        clock=clock,
        send_at=clock.now() + timedelta(days=1),
    )
    twilio.add("POST", MESSAGES_URL, json=twilio_error(code, 400, "Invalid 'To'"), status=400)

    make_dispatcher(services, clock).run_once()

    failed = fresh(session, Message, message.id)
    assert (failed.status, failed.error_code) == ("failed", code)
    flagged = fresh(session, Customer, customer.id)
    assert flagged.number_status == "invalid"
    assert flagged.consent == "granted"
    assert fresh(session, Message, later.id).status == "canceled"
    assert len(posts(twilio)) == 1


# ---- timeouts and reconciliation ------------------------------------------------------------


def test_connect_timeout_is_retried(services, twilio, clock, session, business):
    """The request never left: safe to retry with backoff like any transient error."""
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    twilio.add("POST", MESSAGES_URL, body=requests.exceptions.ConnectTimeout("connect timeout"))
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(4)), status=201)

    make_dispatcher(services, clock).run_once()

    retry = fresh(session, Message, message.id)
    assert retry.status == "scheduled", retry.error_message
    assert retry.attempts == 1
    assert retry.send_at > clock.now()
    assert retry.error_code is None
    clock.set(retry.send_at)
    make_dispatcher(services, clock).run_once()
    done = fresh(session, Message, message.id)
    assert (done.status, done.provider_sid) == ("sent", sid(4))
    assert len(posts(twilio)) == 2
    assert gets(twilio) == []  # the first request never left: nothing to reconcile


def _timed_out_send(services, twilio, clock, session, business) -> Message:
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Your car is ready", clock=clock)
    twilio.add("POST", MESSAGES_URL, body=requests.exceptions.ReadTimeout("read timeout"))
    stats = make_dispatcher(services, clock).run_once()
    assert stats.unknown == 1
    row = fresh(session, Message, message.id)
    assert row.status == "sending"
    assert row.provider_sid is None
    assert row.lease_until > clock.now()
    return row


def test_read_timeout_is_not_resent_before_the_lease_expires(
    services, twilio, clock, session, business
):
    row = _timed_out_send(services, twilio, clock, session, business)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(5)), status=201)
    twilio.add("GET", MESSAGES_URL, json=twilio_list(), status=200)

    clock.set(row.lease_until - timedelta(seconds=1))
    stats = make_dispatcher(services, clock).run_once()

    assert stats.claimed == 0
    assert len(twilio.calls) == 1  # only the first, timed-out POST
    assert fresh(session, Message, row.id).status == "sending"


def test_read_timeout_then_found_at_provider_is_marked_sent_without_a_second_post(
    services, twilio, clock, session, business
):
    row = _timed_out_send(services, twilio, clock, session, business)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(6)), status=201)
    found = twilio_message(sid(7), status="sent", body=row.body, to=CUSTOMER_PHONE)
    twilio.add("GET", MESSAGES_URL, json=twilio_list(found), status=200)

    clock.set(row.lease_until + timedelta(seconds=1))
    stats = make_dispatcher(services, clock).run_once()

    assert stats.reconciled == 1 and stats.sent == 1
    assert len(posts(twilio)) == 1
    assert len(gets(twilio)) == 1
    query = parse_qs(urlsplit(gets(twilio)[0].request.url).query)
    assert (query["To"], query["From"]) == ([CUSTOMER_PHONE], [BUSINESS_NUMBER])
    assert "DateSent>" not in query  # a text Twilio has queued has no DateSent yet
    sent = fresh(session, Message, row.id)
    assert (sent.status, sent.provider_sid) == ("sent", sid(7))
    assert sent.attempts == 1
    assert sent.lease_until is None and sent.leased_by is None

    clock.advance(hours=1)
    make_dispatcher(services, clock).run_once()
    assert len(posts(twilio)) == 1


def test_read_timeout_then_not_found_is_sent_again_exactly_once(
    services, twilio, clock, session, business
):
    row = _timed_out_send(services, twilio, clock, session, business)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(8)), status=201)
    # The provider has other texts to that number, and an inbound one with the same words.
    unrelated = twilio_message(sid(9), status="delivered", body="Something else", to=CUSTOMER_PHONE)
    inbound = twilio_message(
        sid(10),
        status="received",
        body=row.body,
        direction="inbound",
        to=BUSINESS_NUMBER,
        **{"from": CUSTOMER_PHONE},
    )
    twilio.add("GET", MESSAGES_URL, json=twilio_list(unrelated, inbound), status=200)

    clock.set(row.lease_until + timedelta(seconds=1))
    for _ in range(3):
        make_dispatcher(services, clock).run_once()
        clock.advance(seconds=1)

    assert len(gets(twilio)) == 1
    assert len(posts(twilio)) == 2  # the timed-out one, and exactly one resend
    assert twilio.calls.index(gets(twilio)[0]) < twilio.calls.index(posts(twilio)[1])
    assert form_of(posts(twilio)[1])["Body"] == row.body
    sent = fresh(session, Message, row.id)
    assert (sent.status, sent.provider_sid) == ("sent", sid(8))
    assert sent.attempts == 2


@pytest.mark.parametrize("at_provider", [True, False], ids=["found", "not-found"])
def test_worker_killed_mid_send_is_reconciled_before_any_send(
    at_provider, services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Your order shipped", clock=clock)
    row = abandon(session, message, clock)
    listed = [twilio_message(sid(11), status="delivered", body=row.body)] if at_provider else []
    twilio.add("GET", MESSAGES_URL, json=twilio_list(*listed), status=200)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(12)), status=201)

    for _ in range(3):
        make_dispatcher(services, clock, worker_id="new-worker").run_once()
        clock.advance(seconds=1)

    assert twilio.calls[0].request.method == "GET"
    assert len(gets(twilio)) == 1
    done = fresh(session, Message, message.id)
    if at_provider:
        assert len(posts(twilio)) == 0
        assert done.provider_sid == sid(11)
        assert done.status == "delivered"  # the provider's word moved it forward
    else:
        assert len(posts(twilio)) == 1
        assert form_of(posts(twilio)[0])["Body"] == row.body
        assert (done.status, done.provider_sid) == ("sent", sid(12))
    assert done.leased_by is None


def test_live_lease_of_another_worker_is_left_alone(services, twilio, clock, session, business):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    row = fresh(session, Message, message.id)
    row.status, row.attempts, row.leased_by = "sending", 1, "busy-worker"
    row.lease_until = clock.now() + timedelta(seconds=30)
    session.add(row)
    session.commit()

    assert make_dispatcher(services, clock).run_once().claimed == 0
    assert len(twilio.calls) == 0
    assert fresh(session, Message, message.id).leased_by == "busy-worker"


# ---- rules at send time ---------------------------------------------------------------------


def test_texts_to_a_customer_who_opted_out_since_are_canceled(
    services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    manual = queue(session, business, customer, "Hello", clock=clock)
    thanks = queue(session, business, customer, "Thanks for coming in", "thank_you", clock=clock)
    set_consent(
        session,
        fresh(session, Customer, customer.id),
        "opted_out",
        source="keyword",
        now=clock.now(),
    )
    session.commit()

    # Canceled with the opt-out itself (every scheduled text to the number), before any claim.
    assert fresh(session, Message, manual.id).status == "canceled"
    stats = make_dispatcher(services, clock).run_once()

    assert stats.claimed == 0
    assert fresh(session, Message, manual.id).status == "canceled"
    assert fresh(session, Message, thanks.id).status == "canceled"
    assert len(twilio.calls) == 0


def test_automated_text_outside_the_window_waits_for_the_morning(
    services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    thanks = queue(session, business, customer, "Thanks for coming in", "thank_you", clock=clock)
    assert thanks.send_at == clock.now()
    clock.set(ny(23))  # the worker was down all evening

    stats = make_dispatcher(services, clock).run_once()

    assert stats.rescheduled == 1
    assert len(twilio.calls) == 0
    held = fresh(session, Message, thanks.id)
    assert held.status == "scheduled"
    assert held.send_at == ny(9, day=11)
    assert held.attempts == 0

    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(13)), status=201)
    clock.set(ny(8, 59, day=11))
    assert make_dispatcher(services, clock).run_once().claimed == 0
    clock.set(ny(9, day=11))
    assert make_dispatcher(services, clock).run_once().sent == 1
    assert fresh(session, Message, thanks.id).status == "sent"


def test_manual_text_goes_even_at_night(services, twilio, clock, session, business):
    customer = add_customer(session, business, clock)
    clock.set(ny(23))
    message = queue(session, business, customer, "Your phone was left at the salon", clock=clock)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(14)), status=201)

    assert make_dispatcher(services, clock).run_once().sent == 1

    assert fresh(session, Message, message.id).status == "sent"
    assert len(posts(twilio)) == 1


def test_first_text_names_the_business_and_the_second_does_not(
    client, auth, services, twilio, clock, session
):
    customer = client.post(
        "/api/v1/customers", json={"phone": CUSTOMER_PHONE, "consent": True}, headers=auth
    ).json
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(15)), status=201)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(16)), status=201)

    first = client.post(
        "/api/v1/messages",
        headers=auth,
        json={"customer_id": customer["id"], "body": "See you Friday!"},
    )
    make_dispatcher(services, clock).run_once()
    clock.advance(minutes=5)
    second = client.post(
        "/api/v1/messages",
        headers=auth,
        json={"customer_id": customer["id"], "body": "Running late"},
    )
    make_dispatcher(services, clock).run_once()

    assert first.status_code == second.status_code == 202
    bodies = [form_of(call)["Body"] for call in posts(twilio)]
    assert bodies[0].startswith("Bloom Hair Studio")
    assert "See you Friday!" in bodies[0]
    assert "Reply STOP" in bodies[0]
    assert bodies[1] == "Running late"
    assert fresh(session, Customer, customer["id"]).introduced_at is not None


def test_introduction_waits_for_a_text_the_provider_accepted(
    services, twilio, clock, session, business
):
    """A first text that failed introduced nobody: the next one still names the business."""
    customer = add_customer(session, business, clock)
    queue(session, business, customer, "First", clock=clock)
    twilio.add("POST", MESSAGES_URL, json=twilio_error(30007, 400, "Filtered"), status=400)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(17)), status=201)
    make_dispatcher(services, clock).run_once()
    assert fresh(session, Customer, customer.id).introduced_at is None

    queue(session, business, fresh(session, Customer, customer.id), "Second", clock=clock)
    make_dispatcher(services, clock).run_once()

    body = form_of(posts(twilio)[1])["Body"]
    assert "Bloom Hair Studio" in body and "Reply STOP" in body


def test_second_automated_text_of_the_day_is_moved_to_the_next_day(
    services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    first = queue(session, business, customer, "Thanks for coming in", "thank_you", clock=clock)
    second = queue(session, business, customer, "Thanks again", "thank_you", clock=clock)
    assert first.send_at == clock.now()
    assert second.send_at == ny(9, day=11)  # moved when queued


def test_cap_is_checked_again_at_send_time(services, twilio, clock, session, business):
    """Two automated texts that both became due today: one goes, the other waits a day."""
    customer = add_customer(session, business, clock)
    rows = []
    for body in ("Thanks for coming in", "Thanks for your purchase"):
        row = Message(
            business_id=business.id,
            customer_id=customer.id,
            direction="outbound",
            body=f"Bloom Hair Studio: {body} Reply STOP to opt out.",
            kind="thank_you",
            status="scheduled",
            from_number=BUSINESS_NUMBER,
            to_number=CUSTOMER_PHONE,
            cause="visit",
            send_at=clock.now(),
            created_at=clock.now(),
        )
        session.add(row)
        rows.append(row)
    session.commit()
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(18)), status=201)

    stats = make_dispatcher(services, clock).run_once()

    assert (stats.sent, stats.rescheduled) == (1, 1)
    assert len(posts(twilio)) == 1
    sent, moved = (fresh(session, Message, r.id) for r in rows)
    assert sent.status == "sent"
    assert moved.status == "scheduled"
    assert moved.send_at == ny(9, day=11)


# ---- pacing ---------------------------------------------------------------------------------


def _queue_many(session, business, clock, count) -> list[Message]:
    messages = []
    for i in range(count):
        customer = add_customer(session, business, clock, phone=f"+1212555{200 + i:04d}")
        messages.append(queue(session, business, customer, f"Text {i}", clock=clock))
    return messages


def _timed_replies(twilio, clock):
    """Answer every POST with a fresh SID; return the list of clock readings at each POST."""
    seen: list[datetime] = []
    counter = itertools.count(100)

    def reply(request):
        seen.append(clock.now())
        return 201, {}, json.dumps(twilio_message(sid(next(counter))))

    twilio.add_callback("POST", MESSAGES_URL, callback=reply, content_type="application/json")
    return seen


@pytest.mark.parametrize("settings_overrides", [{"pacing": True}])
def test_pacing_spaces_one_numbers_texts_a_second_apart(
    settings_overrides, services, twilio, clock, session, business
):
    assert business.send_rate_per_second == 1
    messages = _queue_many(session, business, clock, 5)
    seen = _timed_replies(twilio, clock)
    start = clock.now()
    sleep = FakeSleep(clock)

    stats = make_dispatcher(services, clock, sleep=sleep).run_once()

    assert stats.sent == 5
    assert [(t - start).total_seconds() for t in seen] == pytest.approx([0, 1, 2, 3, 4])
    assert sleep.waits == pytest.approx([1, 1, 1, 1])
    assert all(fresh(session, Message, m.id).status == "sent" for m in messages)


@pytest.mark.parametrize("settings_overrides", [{"pacing": True}])
def test_pacing_returns_texts_beyond_the_horizon_to_the_outbox(
    settings_overrides, services, twilio, clock, session, business
):
    messages = _queue_many(session, business, clock, 8)
    seen = _timed_replies(twilio, clock)
    start = clock.now()

    stats = make_dispatcher(services, clock).run_once()

    assert stats.sent == 6 and stats.rescheduled == 2
    assert [(t - start).total_seconds() for t in seen] == pytest.approx([0, 1, 2, 3, 4, 5])
    later = [fresh(session, Message, m.id) for m in messages[6:]]
    for row in later:
        assert row.status == "scheduled"
        assert row.attempts == 0
        assert row.leased_by is None
        assert row.send_at == start + timedelta(seconds=6)

    clock.set(start + timedelta(seconds=6))
    assert make_dispatcher(services, clock).run_once().sent == 2
    assert [(t - start).total_seconds() for t in seen[6:]] == pytest.approx([6, 7])
    assert len(posts(twilio)) == 8
    assert len({form_of(c)["To"] for c in posts(twilio)}) == 8


@pytest.mark.parametrize("settings_overrides", [{"pacing": True}])
def test_pacing_never_turns_a_reconciliation_into_a_blind_resend(
    settings_overrides, services, twilio, clock, session, business
):
    """More abandoned sends than fit in the pacing horizon: each one is still only looked up."""
    customer = add_customer(session, business, clock)
    rows = [
        abandon(
            session, queue(session, business, customer, f"Order {i} shipped", clock=clock), clock
        )
        for i in range(8)
    ]
    listed = [twilio_message(sid(200 + i), status="sent", body=r.body) for i, r in enumerate(rows)]
    twilio.add("GET", MESSAGES_URL, json=twilio_list(*listed), status=200)
    _timed_replies(twilio, clock)

    for _ in range(4):
        make_dispatcher(services, clock, worker_id="new-worker").run_once()
        clock.advance(seconds=10)

    assert len(posts(twilio)) == 0
    for i, row in enumerate(rows):
        done = fresh(session, Message, row.id)
        assert (done.status, done.provider_sid) == ("sent", sid(200 + i))


# ---- callbacks a gateway produces itself ----------------------------------------------------


class FakeGateway:
    """An SmsGateway that accepts everything and plays back the status events it is given."""

    def __init__(self):
        self.sent: list[OutgoingText] = []
        self.events: list[dict[str, str]] = []
        self.lookups: list[tuple[str, str, datetime]] = []
        self.fail_with: Exception | None = None
        self.known: dict[str, Accepted] = {}

    def send(self, text: OutgoingText) -> Accepted:
        if self.fail_with is not None:
            raise self.fail_with
        self.sent.append(text)
        accepted = Accepted(sid="SM" + uuid.uuid4().hex, status="queued", segments=1)
        self.known.setdefault(text.body, accepted)  # what the provider would list later
        return accepted

    def find_sent(
        self, to: str, body: str, since: datetime, exclude=frozenset(), from_number=None
    ) -> Accepted | None:
        self.lookups.append((to, body, since))
        found = self.known.get(body)
        return None if found is None or found.sid in exclude else found

    def drain_events(self) -> list[StatusReport]:
        # The events are written as Twilio's callback forms, with our id as "mid".
        drained, self.events = self.events, []
        drained = [status_report(event, message_id=event.get("mid")) for event in drained]
        return drained


def test_gateway_status_events_are_applied(services, clock, session, business):
    gateway = FakeGateway()
    customer = add_customer(session, business, clock)
    landline = add_customer(session, business, clock, phone=OTHER_PHONE)
    good = queue(session, business, customer, "Hello", clock=clock)
    bad = queue(session, business, landline, "Hello", clock=clock)
    dispatcher = make_dispatcher(services, clock, gateway=gateway)
    dispatcher.run_once()
    sids = {m.id: fresh(session, Message, m.id).provider_sid for m in (good, bad)}
    assert all(sids.values()) and len(gateway.sent) == 2

    gateway.events = [
        {"MessageSid": sids[good.id], "MessageStatus": "delivered", "mid": str(good.id)},
        {"MessageSid": sids[good.id], "MessageStatus": "sent", "mid": str(good.id)},  # late
        {
            "MessageSid": sids[bad.id],
            "MessageStatus": "undelivered",
            "ErrorCode": "30006",
            "mid": str(bad.id),
        },
    ]
    clock.advance(seconds=5)
    stats = dispatcher.run_once()

    assert stats.callbacks == 3
    delivered = fresh(session, Message, good.id)
    assert (delivered.status, delivered.provider_status) == ("delivered", "delivered")
    assert delivered.delivered_at == clock.now()
    undelivered = fresh(session, Message, bad.id)
    assert (undelivered.status, undelivered.error_code) == ("undelivered", 30006)
    assert fresh(session, Customer, landline.id).number_status == "landline"
    logged = session.exec(select(StatusCallback)).all()
    assert len(logged) == 3
    assert gateway.drain_events() == []


def test_gateway_event_settles_a_text_whose_send_timed_out(services, clock, session, business):
    """The send's answer was lost, but the callback (matched by our id) tells us its SID."""
    gateway = FakeGateway()
    gateway.fail_with = RuntimeError("connection reset while reading the answer")
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    dispatcher = make_dispatcher(services, clock, gateway=gateway)
    stats = dispatcher.run_once()
    assert stats.unknown == 1
    assert fresh(session, Message, message.id).status == "sending"

    gateway.events = [{"MessageSid": sid(300), "MessageStatus": "sent", "mid": str(message.id)}]
    dispatcher.run_once()

    settled = fresh(session, Message, message.id)
    assert (settled.status, settled.provider_sid) == ("sent", sid(300))
    assert settled.leased_by is None
    clock.advance(hours=1)
    dispatcher.run_once()
    assert gateway.lookups == []  # nothing left to reconcile
    assert gateway.sent == []


def test_unexpected_gateway_error_is_reconciled_not_resent(services, clock, session, business):
    gateway = FakeGateway()
    gateway.fail_with = RuntimeError("boom")
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    dispatcher = make_dispatcher(services, clock, gateway=gateway)
    dispatcher.run_once()
    row = fresh(session, Message, message.id)
    assert row.status == "sending"

    gateway.fail_with = None
    gateway.known[row.body] = Accepted(sid=sid(301), status="sent")
    clock.set(row.lease_until + timedelta(seconds=1))
    dispatcher.run_once()

    assert gateway.sent == []
    assert [(to, body) for to, body, _ in gateway.lookups] == [(CUSTOMER_PHONE, row.body)]
    assert fresh(session, Message, message.id).provider_sid == sid(301)


class SlowProvider(FakeGateway):
    """Every answer takes `delay` seconds; `during` runs once, right after the Nth send."""

    def __init__(self, clock, delay: float, at_send: int, during):
        super().__init__()
        self.clock, self.delay, self.at_send, self.during = clock, delay, at_send, during

    def send(self, text: OutgoingText) -> Accepted:
        self.clock.advance(seconds=self.delay)
        accepted = super().send(text)
        if len(self.sent) == self.at_send and self.during is not None:
            during, self.during = self.during, None
            during()
        return accepted


def test_slow_provider_does_not_let_another_worker_resend_a_batch(
    services, clock, session, business
):
    """Twilio answers each request just before the client's timeout. The batch takes longer
    than the lease taken when it was claimed; a second worker polling meanwhile must not treat
    the texts still waiting in that batch as abandoned and send them too."""
    customer = add_customer(session, business, clock)
    texts = [queue(session, business, customer, f"Text {i}", clock=clock) for i in range(8)]
    settings = services.settings
    slow_batch = len(texts) * settings.twilio_timeout_seconds
    assert slow_batch > settings.lease_seconds  # the situation under test

    def second_worker_polls():
        other = make_dispatcher(services, clock, gateway=provider, worker_id="worker-2")
        other.run_once()
        other.run_once()

    provider = SlowProvider(clock, settings.twilio_timeout_seconds, 7, second_worker_polls)
    make_dispatcher(services, clock, gateway=provider, worker_id="worker-1").run_once()
    clock.advance(minutes=10)
    make_dispatcher(services, clock, gateway=provider, worker_id="worker-1").run_once()

    bodies = [text.body for text in provider.sent]
    assert sorted(bodies) == sorted(fresh(session, Message, t.id).body for t in texts)
    assert {fresh(session, Message, t.id).status for t in texts} == {"sent"}


def test_unreadable_success_answer_is_reconciled_not_resent(
    services, twilio, clock, session, business
):
    """A 2xx answer means the provider took the request; if its body cannot be read, the
    outcome is unknown, so the text is looked up rather than sent a second time."""
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Your car is ready", clock=clock)
    twilio.add("POST", MESSAGES_URL, body="<html>OK</html>", status=201)
    make_dispatcher(services, clock).run_once()
    row = fresh(session, Message, message.id)
    assert row.status == "sending", (row.status, row.error_message)

    found = twilio_message(sid(400), status="sent", body=row.body)
    twilio.add("GET", MESSAGES_URL, json=twilio_list(found), status=200)
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(401)), status=201)
    clock.set(row.lease_until + timedelta(seconds=1))
    make_dispatcher(services, clock).run_once()

    assert len(posts(twilio)) == 1
    done = fresh(session, Message, message.id)
    assert (done.status, done.provider_sid) == ("sent", sid(400))


# ---- several workers (PostgreSQL) -----------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.skipif(not is_postgres(), reason="needs PostgreSQL (TEST_DATABASE_URL)")
def test_two_workers_send_every_text_exactly_once(services, twilio, clock, session, business):
    total = 200
    customers = [
        add_customer(session, business, clock, phone=f"+1212555{1000 + i:04d}") for i in range(20)
    ]
    for i in range(total):
        queue_text(
            session, business, customers[i % 20], f"Text number {i}", "manual", now=clock.now()
        )
    session.commit()
    lock = threading.Lock()
    counter = itertools.count(1000)
    seen: list[tuple[str, str]] = []

    def reply(request):
        form = dict(parse_qsl(request.body))
        with lock:
            n = next(counter)
            seen.append((form["To"], form["Body"]))
        return 201, {}, json.dumps(twilio_message(sid(n)))

    twilio.add_callback("POST", MESSAGES_URL, callback=reply, content_type="application/json")
    settings = replace(services.settings, worker_batch_size=20)
    workers = [
        make_dispatcher(services, clock, settings=settings, worker_id=f"worker-{n}") for n in (1, 2)
    ]
    claimed = {w.worker_id: 0 for w in workers}
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def work(dispatcher):
        try:
            start.wait()
            while True:
                stats = dispatcher.run_once(max_batches=1)
                claimed[dispatcher.worker_id] += stats.claimed
                if stats.claimed == 0:
                    return
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert not errors, errors
    assert len(posts(twilio)) == total
    assert len(seen) == len(set(seen)) == total
    assert all(count > 0 for count in claimed.values()), claimed  # they really shared the work
    session.expire_all()
    rows = session.exec(select(Message).where(Message.direction == "outbound")).all()
    assert len(rows) == total
    assert {r.status for r in rows} == {"sent"}
    assert len({r.provider_sid for r in rows}) == total
    assert {r.attempts for r in rows} == {1}


# ---- leases that live with their worker -----------------------------------------------------


def twilio_lists_like_twilio(*messages: dict):
    """A ListMessage callback that filters as Twilio does: any DateSent filter leaves out a
    text that has no DateSent yet (accepted or queued, not sent)."""

    def answer(request):
        query = parse_qs(urlsplit(request.url).query)
        listed = [m for m in messages if m["to"] == query["To"][0]]
        if "From" in query:
            listed = [m for m in listed if m["from"] == query["From"][0]]
        if {"DateSent", "DateSent>", "DateSent<"} & set(query):
            listed = [m for m in listed if m["date_sent"] is not None]
        return 200, {}, json.dumps(twilio_list(*listed))

    return answer


def test_a_text_twilio_accepted_but_has_not_sent_yet_is_found_not_resent(
    services, twilio, clock, session, business
):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Your table is ready", clock=clock)
    row = abandon(session, message, clock, attempted_ago=timedelta(seconds=20))
    queued = twilio_message(sid(400), status="queued", body=row.body, date_sent=None)
    twilio.add_callback("GET", MESSAGES_URL, callback=twilio_lists_like_twilio(queued))
    twilio.add("POST", MESSAGES_URL, json=twilio_message(sid(401)), status=201)

    for _ in range(3):
        make_dispatcher(services, clock, worker_id="new-worker").run_once()
        clock.advance(seconds=1)

    assert posts(twilio) == []
    done = fresh(session, Message, message.id)
    assert (done.status, done.provider_sid, done.provider_status) == ("sent", sid(400), "queued")


def test_a_claimed_batch_has_a_short_lease_that_outlives_a_send(services, clock, session, business):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    seen = []

    class Watching(FakeGateway):
        def send(self, text):
            seen.append(fresh(session, Message, text.message_id).lease_until)
            return super().send(text)

    make_dispatcher(services, clock, gateway=Watching()).run_once()
    settings = services.settings
    assert seen == [clock.now() + timedelta(
        seconds=settings.twilio_timeout_seconds + settings.lease_seconds
    )]  # fmt: skip
    assert fresh(session, Message, message.id).status == "sent"


def test_renewing_extends_only_the_leases_this_worker_still_holds(
    services, clock, session, business
):
    customer = add_customer(session, business, clock)
    mine = queue(session, business, customer, "One", clock=clock)
    taken = queue(session, business, customer, "Two", clock=clock)
    dispatcher = make_dispatcher(services, clock, worker_id="worker-1")
    jobs = dispatcher._claim(RunStats())
    assert {job.message_id for job in jobs} == {mine.id, taken.id}
    row = fresh(session, Message, taken.id)
    row.leased_by = "worker-2"  # its lease ran out and another worker took it over
    session.add(row)
    session.commit()

    clock.advance(seconds=2)
    assert dispatcher.renew_leases(jobs) == 1
    lease = fresh(session, Message, mine.id).lease_until
    assert lease == clock.now() + dispatcher._lease
    by_id = {job.message_id: job for job in jobs}
    assert by_id[mine.id].lease_until == lease.timestamp()
    assert by_id[taken.id].lease_until < lease.timestamp()  # it may not be sent from here


def test_a_send_that_would_outlive_its_lease_is_left_to_reconciliation(
    services, clock, session, business
):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    gateway = FakeGateway()
    dispatcher = make_dispatcher(services, clock, gateway=gateway, worker_id="worker-1")
    [job] = dispatcher._claim(RunStats())
    row = fresh(session, Message, message.id)
    row.leased_by = "worker-2"
    session.add(row)
    session.commit()
    clock.advance(seconds=services.settings.lease_seconds + 1)  # no heartbeat came meanwhile

    outcome = dispatcher._attempt(job)

    assert outcome.skipped and gateway.sent == []


def test_a_late_heartbeat_is_made_up_for_before_a_send(services, clock, session, business):
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    gateway = FakeGateway()
    dispatcher = make_dispatcher(services, clock, gateway=gateway, worker_id="worker-1")
    [job] = dispatcher._claim(RunStats())
    clock.advance(seconds=services.settings.lease_seconds + 1)

    outcome = dispatcher._attempt(job)

    assert outcome.accepted is not None and len(gateway.sent) == 1
    lease = fresh(session, Message, message.id).lease_until
    assert lease >= clock.now() + timedelta(seconds=services.settings.twilio_timeout_seconds)


def test_a_live_worker_keeps_its_batch_while_a_send_is_slow(services, session, business, clock):
    """Real time: the heartbeat renews the lease while one send hangs for several leases; a
    second worker polling meanwhile finds nothing to take over."""
    settings = replace(services.settings, twilio_timeout_seconds=0.6, lease_seconds=1)
    customer = add_customer(session, business, clock)
    message = queue(session, business, customer, "Hello", clock=clock)
    release, started = threading.Event(), threading.Event()

    class Hanging(FakeGateway):
        def send(self, text):
            started.set()
            release.wait(10)
            return super().send(text)

    gateway = Hanging()
    live = SystemClock()
    # The queued text is due at the test clock's time, which is in the past for a real clock.
    first = Dispatcher(services.engine, gateway, settings, clock=live, worker_id="worker-1")
    worker = threading.Thread(target=first.run_once)
    worker.start()
    try:
        assert started.wait(10)
        second = Dispatcher(services.engine, gateway, settings, clock=live, worker_id="worker-2")
        claimed = []
        deadline = time.monotonic() + 3 * (settings.twilio_timeout_seconds + 1)
        while time.monotonic() < deadline:
            claimed.append(second.run_once().claimed)
            time.sleep(0.2)
    finally:
        release.set()
        worker.join(10)
    assert set(claimed) == {0}
    assert len(gateway.sent) == 1
    assert fresh(session, Message, message.id).status == "sent"
