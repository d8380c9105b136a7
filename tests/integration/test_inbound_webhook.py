"""POST /webhooks/twilio/sms: signed, stored exactly once, keywords handled as the law expects."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

import pytest
from sqlmodel import Session, func, select

from app import build_services, create_app
from app.models import Business, ConsentEvent, Customer, Message, StatusCallback
from tests.conftest import (
    AUTH_TOKEN,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    PUBLIC_BASE,
    base_settings,
    inbound_form,
    post_signed,
    sign,
)

SMS = "/webhooks/twilio/sms"
OTHER_PHONE = "+13125550188"  # Chicago
UNOWNED_NUMBER = "+12125550999"
SERVICE_SID = "MG" + "b" * 32


def sid(n: int) -> str:
    return f"SM{n:032d}"


# --- reading the database with short sessions (SQLite takes the write lock on BEGIN) ---


def rows(engine, model, *where) -> list:
    with Session(engine) as s:
        return list(s.exec(select(model).where(*where).order_by(model.id)).all())


def counts(engine) -> dict[str, int]:
    with Session(engine) as s:
        return {
            m.__name__: s.exec(select(func.count()).select_from(m)).one()
            for m in (Customer, Message, ConsentEvent, StatusCallback)
        }


def nothing_written(engine) -> bool:
    return set(counts(engine).values()) == {0}


def the_customer(engine, business, phone: str = CUSTOMER_PHONE) -> Customer:
    [customer] = rows(
        engine, Customer, Customer.business_id == business.id, Customer.phone == phone
    )
    return customer


def outbound(engine, kind: str | None = None, status: str = "scheduled") -> list[Message]:
    where = [Message.direction == "outbound", Message.status == status]
    if kind is not None:
        where.append(Message.kind == kind)
    return rows(engine, Message, *where)


def consent_events(engine, customer_id: int, kind: str = "texts") -> list[ConsentEvent]:
    """The history of one consent (texts, or marketing: STOP ends both, each recorded)."""
    return rows(engine, ConsentEvent, ConsentEvent.customer_id == customer_id,
                ConsentEvent.kind == kind)  # fmt: skip


def update_business(session, business, **fields) -> None:
    for name, value in fields.items():
        setattr(business, name, value)
    session.add(business)
    session.commit()


def assert_twiml_ok(response) -> None:
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "text/xml"
    assert b"<Response>" in response.data and b"</Response>" in response.data


def text_in(client, body: str, n: int, **kw):
    return post_signed(client, SMS, inbound_form(body, sid=sid(n), **kw))


def app_with(database_url, engine, clock, **overrides):
    services = build_services(base_settings(database_url, **overrides), clock=clock, engine=engine)
    app = create_app(services=services)
    app.config["TESTING"] = True
    return app


# --- storing a text ---


def test_valid_text_creates_customer_and_one_inbound_message(client, business, engine, clock):
    response = text_in(client, "Hi, do you have time on Friday?", 1)

    assert_twiml_ok(response)
    customer = the_customer(engine, business)
    assert customer.consent == "unknown"
    assert customer.last_inbound_at == clock.now()
    [message] = rows(engine, Message)
    assert message.direction == "inbound"
    assert message.status == "received"
    assert message.provider_sid == sid(1)
    assert message.body == "Hi, do you have time on Friday?"
    assert message.customer_id == customer.id
    assert message.business_id == business.id
    assert message.from_number == CUSTOMER_PHONE
    assert message.to_number == BUSINESS_NUMBER
    assert message.media_urls is None
    # An ordinary text is no keyword: nothing is queued and consent is untouched.
    assert outbound(engine) == []
    assert consent_events(engine, customer.id) == []


def test_second_text_from_same_number_reuses_customer(client, business, engine):
    assert_twiml_ok(text_in(client, "Hello", 1))
    assert_twiml_ok(text_in(client, "Are you open Sunday?", 2))

    customers = rows(engine, Customer)
    assert len(customers) == 1
    messages = rows(engine, Message)
    assert [m.provider_sid for m in messages] == [sid(1), sid(2)]
    assert {m.customer_id for m in messages} == {customers[0].id}


def test_text_from_another_number_is_another_customer(client, business, engine):
    assert_twiml_ok(text_in(client, "Hello", 1))
    assert_twiml_ok(text_in(client, "Hello too", 2, frm=OTHER_PHONE))
    assert sorted(c.phone for c in rows(engine, Customer)) == sorted([CUSTOMER_PHONE, OTHER_PHONE])


def test_media_urls_are_stored(client, business, engine):
    form = inbound_form("Look at this", sid=sid(1))
    form.update(
        NumMedia="2",
        MediaUrl0="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME0",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1",
        MediaContentType1="image/png",
    )
    assert_twiml_ok(post_signed(client, SMS, form))

    [message] = rows(engine, Message)
    assert message.media_urls == [
        {"url": form["MediaUrl0"], "content_type": "image/jpeg"},
        {"url": form["MediaUrl1"], "content_type": "image/png"},
    ]


def test_unknown_extra_fields_are_ignored(client, business, engine):
    form = inbound_form("Hello", sid=sid(1))
    form.update(
        FromCity="NEW YORK",
        FromState="NY",
        FromZip="10001",
        FromCountry="US",
        ToCity="NEW YORK",
        SmsMessageSid=sid(1),
        SmsStatus="received",
        NumSegments="1",
        ApiVersion="2010-04-01",
        SomeFieldTwilioAddsNextYear="whatever",
    )
    assert_twiml_ok(post_signed(client, SMS, form))
    [message] = rows(engine, Message)
    assert message.body == "Hello"
    assert message.provider_sid == sid(1)


# --- signatures ---


def test_signature_with_wrong_token_is_refused(client, business, engine):
    response = post_signed(client, SMS, inbound_form("Hello", sid=sid(1)), token="not-the-token")
    assert response.status_code == 403
    assert nothing_written(engine)


def test_body_tampered_after_signing_is_refused(client, business, engine):
    form = inbound_form("Hello", sid=sid(1))
    signature = sign(PUBLIC_BASE + SMS, form)
    response = client.post(
        SMS,
        data=urlencode({**form, "Body": "STOP"}),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": signature},
    )
    assert response.status_code == 403
    assert nothing_written(engine)


def test_missing_signature_header_is_refused(client, business, engine):
    response = client.post(
        SMS,
        data=urlencode(inbound_form("Hello", sid=sid(1))),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 403
    assert nothing_written(engine)


def test_signature_for_the_local_url_is_refused_when_public_base_is_set(client, business, engine):
    form = inbound_form("Hello", sid=sid(1))
    response = client.post(
        SMS,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sign("http://localhost" + SMS, form)},
    )
    assert response.status_code == 403
    assert counts(engine)["Message"] == 0


def test_public_base_url_signature_passes_on_a_localhost_request(client, business, engine):
    # The test client talks to http://localhost; the signature is for PUBLIC_BASE.
    response = text_in(client, "Hello", 1)
    assert response.request.host == "localhost"
    assert_twiml_ok(response)
    assert len(rows(engine, Message)) == 1


@pytest.mark.parametrize("signing_token", ["", "anything", AUTH_TOKEN])
def test_no_auth_token_configured_refuses_everything(
    database_url, engine, clock, business, signing_token
):
    app = app_with(database_url, engine, clock, twilio_auth_token="", sms_backend="simulator")
    client = app.test_client()
    form = inbound_form("Hello", sid=sid(1))
    response = client.post(
        SMS,
        data=urlencode(form),
        content_type="application/x-www-form-urlencoded",
        headers={"X-Twilio-Signature": sign(PUBLIC_BASE + SMS, form, signing_token)},
    )
    assert response.status_code == 403
    assert nothing_written(engine)


class TestBehindAProxy:
    """public_base_url="" behind one trusted proxy: the URL comes from X-Forwarded-*."""

    PUBLIC_URL = "https://public.example" + SMS

    @pytest.fixture
    def proxied(self, database_url, engine, clock):
        app = app_with(database_url, engine, clock, public_base_url="", trusted_proxies=1)
        return app.test_client()

    def post(self, client, form, headers):
        return client.post(
            SMS,
            data=urlencode(form),
            content_type="application/x-www-form-urlencoded",
            headers={"X-Twilio-Signature": sign(self.PUBLIC_URL, form), **headers},
        )

    def test_forwarded_proto_and_host_make_the_signed_url(self, proxied, business, engine):
        response = self.post(
            proxied,
            inbound_form("Hello", sid=sid(1)),
            {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "public.example"},
        )
        assert_twiml_ok(response)
        assert len(rows(engine, Message)) == 1

    def test_without_forwarded_headers_the_signature_fails(self, proxied, business, engine):
        response = self.post(proxied, inbound_form("Hello", sid=sid(1)), {})
        assert response.status_code == 403
        assert nothing_written(engine)


# --- idempotency ---


def test_replayed_request_is_stored_once(client, business, engine):
    form = inbound_form("HELP", sid=sid(1))
    first = post_signed(client, SMS, form)
    second = post_signed(client, SMS, form)

    assert_twiml_ok(first)
    assert_twiml_ok(second)
    assert second.data == first.data
    assert len(rows(engine, Message, Message.direction == "inbound")) == 1
    assert len(outbound(engine, "help")) == 1


def test_twilio_retry_with_idempotency_token_is_stored_once(client, business, engine):
    form = inbound_form("HELP", sid=sid(1))
    first = post_signed(client, SMS, form)
    retry = post_signed(
        client,
        SMS,
        form,
        headers={"I-Twilio-Idempotency-Token": "a1b2c3d4-retry"},
    )
    assert_twiml_ok(first)
    assert_twiml_ok(retry)
    assert retry.data == first.data
    assert len(rows(engine, Message, Message.direction == "inbound")) == 1
    assert len(rows(engine, Message, Message.direction == "outbound")) == 1
    assert len(rows(engine, Customer)) == 1


# --- which business ---


def test_business_matched_by_messaging_service_sid(client, business, session, engine):
    update_business(session, business, messaging_service_sid=SERVICE_SID)
    form = inbound_form("Hello", sid=sid(1), to="+18005550100")
    form["MessagingServiceSid"] = SERVICE_SID

    assert_twiml_ok(post_signed(client, SMS, form))
    [message] = rows(engine, Message)
    assert message.business_id == business.id
    assert the_customer(engine, business).id == message.customer_id


def test_number_no_business_owns_is_404_and_writes_nothing(client, business, engine):
    response = text_in(client, "Hello", 1, to=UNOWNED_NUMBER)
    assert response.status_code == 404
    assert nothing_written(engine)


def test_unknown_messaging_service_and_number_is_404(client, business, session, engine):
    update_business(session, business, messaging_service_sid=SERVICE_SID)
    form = inbound_form("Hello", sid=sid(1), to=UNOWNED_NUMBER)
    form["MessagingServiceSid"] = "MG" + "c" * 32
    assert post_signed(client, SMS, form).status_code == 404
    assert nothing_written(engine)


def test_text_goes_to_the_business_that_owns_the_number(client, business, session, engine, clock):
    other = Business(name="Other Garage", number="+13125550100", created_at=clock.now())
    session.add(other)
    session.commit()
    assert_twiml_ok(text_in(client, "Hello", 1, to="+13125550100"))
    [message] = rows(engine, Message)
    assert message.business_id == other.id
    assert rows(engine, Customer, Customer.business_id == business.id) == []


# --- bad input ---


def test_oversized_body_is_413_and_writes_nothing(client, business, engine):
    response = text_in(client, "x" * (64 * 1024 + 10), 1)
    assert response.status_code == 413
    assert nothing_written(engine)


def test_missing_message_sid_is_400(client, business, engine):
    form = inbound_form("Hello", sid="")
    del form["SmsSid"]
    assert post_signed(client, SMS, form).status_code == 400
    assert nothing_written(engine)


def test_unparseable_from_is_400(client, business, engine):
    assert text_in(client, "Hello", 1, frm="not a number").status_code == 400
    assert nothing_written(engine)


# --- keywords: opt-out ---

OPT_OUT_BODIES = [
    "STOP",
    "STOPALL",
    "UNSUBSCRIBE",
    "CANCEL",
    "END",
    "QUIT",
    "REVOKE",
    "OPTOUT",
    "stop",
    "Stop.",
    " stop! ",
    "unsubscribe",
    "opt-out",
    "Stop all",
    "quit!!",
    "end.",
    "cancel",
    "revoke",
]


@pytest.fixture
def known_customer(session, business, clock):
    """A customer who agreed to texts and has a thank-you and a review request scheduled."""
    customer = Customer(
        business_id=business.id,
        phone=CUSTOMER_PHONE,
        name="Maria Lopez",
        consent="granted",
        consent_source="form",
        consent_at=clock.now() - timedelta(days=3),
        introduced_at=clock.now() - timedelta(days=3),
        created_at=clock.now() - timedelta(days=3),
    )
    session.add(customer)
    session.flush()
    for kind, hours in (("thank_you", 1), ("review_request", 24)):
        session.add(
            Message(
                business_id=business.id,
                customer_id=customer.id,
                direction="outbound",
                body=f"{kind} text",
                kind=kind,
                status="scheduled",
                to_number=CUSTOMER_PHONE,
                from_number=BUSINESS_NUMBER,
                cause="visit",
                send_at=clock.now() + timedelta(hours=hours),
                created_at=clock.now(),
            )
        )
    session.commit()
    return customer


@pytest.fixture
def bystander(session, business, clock):
    """Another customer with a scheduled text: nobody else's STOP may touch it."""
    customer = Customer(
        business_id=business.id, phone=OTHER_PHONE, consent="granted", created_at=clock.now()
    )
    session.add(customer)
    session.flush()
    message = Message(
        business_id=business.id,
        customer_id=customer.id,
        direction="outbound",
        body="thank you",
        kind="thank_you",
        status="scheduled",
        to_number=OTHER_PHONE,
        send_at=clock.now() + timedelta(hours=1),
        created_at=clock.now(),
    )
    session.add(message)
    session.commit()
    return message


@pytest.mark.parametrize("body", OPT_OUT_BODIES)
def test_opt_out_keyword(client, business, known_customer, bystander, engine, clock, body):
    assert_twiml_ok(text_in(client, body, 1))

    customer = the_customer(engine, business)
    assert customer.consent == "opted_out"
    assert customer.opted_out_at == clock.now()
    [event] = consent_events(engine, customer.id)
    assert (event.consent, event.source) == ("opted_out", "keyword")
    # Every scheduled text to this customer is canceled; nobody else's.
    mine = rows(engine, Message, Message.customer_id == customer.id, Message.kind != "manual")
    assert {m.kind: m.status for m in mine} == {
        "thank_you": "canceled",
        "review_request": "canceled",
    }
    assert [m.status for m in rows(engine, Message, Message.id == bystander.id)] == ["scheduled"]
    # Twilio confirms its own keywords (provider_handles_opt_out=True): we queue nothing.
    assert [m.id for m in outbound(engine)] == [bystander.id]


def test_opt_out_from_a_new_number_records_consent(client, business, engine, clock):
    assert_twiml_ok(text_in(client, "STOP", 1))
    customer = the_customer(engine, business)
    assert customer.consent == "opted_out"
    assert customer.consent_source == "keyword"
    assert customer.opted_out_at == clock.now()
    assert [e.source for e in consent_events(engine, customer.id)] == ["keyword"]
    assert outbound(engine) == []


def test_app_confirms_opt_out_once_when_provider_does_not(
    client, business, session, known_customer, engine, clock
):
    update_business(session, business, provider_handles_opt_out=False)

    assert_twiml_ok(text_in(client, "STOP", 1))
    [confirmation] = outbound(engine, "opt_out_confirmation")
    assert confirmation.customer_id == known_customer.id
    assert confirmation.to_number == CUSTOMER_PHONE
    assert "Bloom Hair Studio" in confirmation.body
    assert "START" in confirmation.body
    assert confirmation.send_at == clock.now()

    clock.advance(minutes=1)
    assert_twiml_ok(text_in(client, "stop", 2))
    # No second confirmation, and the first one (not yet sent) is still going out.
    confirmations = rows(engine, Message, Message.kind == "opt_out_confirmation")
    assert [(m.id, m.status) for m in confirmations] == [(confirmation.id, "scheduled")]
    assert len(consent_events(engine, known_customer.id)) == 1


@pytest.mark.parametrize("handled", [True, False])
def test_plain_language_opt_out_is_confirmed_once(
    client, business, session, known_customer, engine, clock, handled
):
    update_business(session, business, provider_handles_opt_out=handled)

    assert_twiml_ok(text_in(client, "please stop texting me", 1))
    customer = the_customer(engine, business)
    assert customer.consent == "opted_out"
    assert customer.opted_out_at == clock.now()
    [event] = consent_events(engine, customer.id)
    assert (event.consent, event.source) == ("opted_out", "keyword")
    assert len(outbound(engine, "opt_out_confirmation")) == 1
    assert outbound(engine, "thank_you") == []

    assert_twiml_ok(text_in(client, "I said stop texting me", 2))
    assert len(rows(engine, Message, Message.kind == "opt_out_confirmation")) == 1


def test_ordinary_sentence_with_stop_is_no_opt_out(client, business, known_customer, engine):
    assert_twiml_ok(text_in(client, "Don't stop the great work, loved the cut!", 1))
    assert the_customer(engine, business).consent == "granted"
    assert len(outbound(engine)) == 2  # the scheduled texts still stand


# --- keywords: opt-in ---


@pytest.mark.parametrize("word", ["START", "unstop", "Start."])
def test_start_after_stop_restores_consent(client, business, known_customer, engine, word):
    assert_twiml_ok(text_in(client, "STOP", 1))
    assert_twiml_ok(text_in(client, word, 2))

    customer = the_customer(engine, business)
    assert customer.consent == "granted"
    assert customer.consent_source == "keyword"
    events = consent_events(engine, customer.id)
    assert [(e.consent, e.source) for e in events] == [
        ("opted_out", "keyword"),
        ("granted", "keyword"),
    ]
    # Twilio confirms START itself: nothing queued.
    assert outbound(engine, "opt_in_confirmation") == []


def test_start_after_stop_is_confirmed_when_provider_does_not(
    client, business, session, known_customer, engine
):
    update_business(session, business, provider_handles_opt_out=False)
    assert_twiml_ok(text_in(client, "STOP", 1))
    assert_twiml_ok(text_in(client, "START", 2))
    assert the_customer(engine, business).consent == "granted"
    [confirmation] = outbound(engine, "opt_in_confirmation")
    assert "Bloom Hair Studio" in confirmation.body


def test_yes_from_a_customer_who_never_opted_out_changes_nothing(client, business, engine):
    assert_twiml_ok(text_in(client, "Hello", 1))
    assert_twiml_ok(text_in(client, "YES", 2))
    customer = the_customer(engine, business)
    assert customer.consent == "unknown"
    assert consent_events(engine, customer.id) == []
    assert outbound(engine) == []


# --- keywords: help ---


@pytest.mark.parametrize("word", ["HELP", "info", "Help?"])
def test_help_queues_a_help_text(client, business, engine, clock, word):
    assert_twiml_ok(text_in(client, word, 1))

    customer = the_customer(engine, business)
    [reply] = outbound(engine)
    assert reply.kind == "help"
    assert reply.customer_id == customer.id
    assert reply.to_number == CUSTOMER_PHONE
    assert reply.send_at == clock.now()
    assert "Bloom Hair Studio" in reply.body
    assert "STOP" in reply.body
    assert "Msg & data rates may apply" in reply.body
    assert customer.consent == "unknown"


def test_help_from_opted_out_customer_queues_nothing_when_provider_answers(
    client, business, engine
):
    assert_twiml_ok(text_in(client, "STOP", 1))
    assert_twiml_ok(text_in(client, "HELP", 2))
    assert outbound(engine) == []
    assert len(rows(engine, Message, Message.direction == "inbound")) == 2


def test_help_from_opted_out_customer_is_answered_when_provider_does_not(
    client, business, session, engine
):
    update_business(session, business, provider_handles_opt_out=False)
    assert_twiml_ok(text_in(client, "STOP", 1))
    assert_twiml_ok(text_in(client, "HELP", 2))
    assert [m.kind for m in outbound(engine)] == ["opt_out_confirmation", "help"]


def test_inbound_texts_keep_the_inbox_state_on_the_customer(client, business, session, clock):
    from app.care.outbound import queue_text

    for n, body in enumerate(["Are you open Sunday?", "Also   can I\nbring my son?"]):
        response = post_signed(
            client, "/webhooks/twilio/sms", inbound_form(body, sid=f"SM{n:032d}")
        )
        assert response.status_code == 200
    customer = session.exec(select(Customer)).one()
    assert customer.unread_count == 2
    assert customer.needs_reply is True
    assert customer.last_message_preview == "Also can I bring my son?"
    customer.handled_at = clock.now()
    session.add(customer)
    session.commit()
    queue_text(session, business, customer, "Yes, 10 to 4!", "manual", now=clock.now())
    session.commit()
    session.refresh(customer)
    assert customer.needs_reply is False
    assert "Yes, 10 to 4!" in customer.last_message_preview
    session.rollback()  # end the read: SQLite lets one writer at a time
    post_signed(client, "/webhooks/twilio/sms", inbound_form("Great", sid="SM" + "7" * 32))
    session.expire_all()
    customer = session.exec(select(Customer)).one()
    assert (customer.unread_count, customer.needs_reply, customer.handled_at) == (3, True, None)


def test_business_directory_remembers_owners_for_its_ttl_only(session, business, engine):
    from app.care.inbound import BusinessDirectory, _statements

    ticks = [0.0]
    directory = BusinessDirectory(ttl=30, clock=lambda: ticks[0])
    with engine.connect() as conn:
        statements = _statements(conn.dialect.name)
        assert directory.lookup(conn, statements, BUSINESS_NUMBER, "").id == business.id
        conn.rollback()
    business.number = "+13125550177"  # the number moves to a new line
    session.add(business)
    session.commit()
    with engine.connect() as conn:
        assert directory.lookup(conn, statements, BUSINESS_NUMBER, "").id == business.id
        ticks[0] = 31.0
        assert directory.lookup(conn, statements, BUSINESS_NUMBER, "") is None
        assert directory.lookup(conn, statements, "+13125550177", "").id == business.id
        conn.rollback()
