"""Stored status callbacks (Twilio's whole form, phone numbers included) are pruned by the
worker's periodic sweep once past STATUS_PAYLOAD_RETENTION_DAYS, in short batches; what a
callback did stays on its text."""

from __future__ import annotations

import random

import pytest
from sqlmodel import Session, func, select

from app.care.dispatcher import PRUNE_BATCH, Dispatcher
from app.config import ConfigError, load_settings
from app.models import Customer, Message, StatusCallback
from tests.conftest import CUSTOMER_PHONE, base_settings
from tests.integration.test_status_webhook import callback, make_message


@pytest.fixture
def settings_overrides():
    return {"status_payload_retention_days": 7}


@pytest.fixture
def customer(session, business, clock):
    maria = Customer(business_id=business.id, phone=CUSTOMER_PHONE, name="Maria Lopez",
                     consent="granted", created_at=clock.now())  # fmt: skip
    session.add(maria)
    session.commit()
    return maria


def stored(engine) -> list[StatusCallback]:
    with Session(engine) as s:
        return list(s.exec(select(StatusCallback).order_by(StatusCallback.id)))


def worker(services, clock) -> Dispatcher:
    return Dispatcher(services.engine, services.gateway, services.settings, clock=clock,
                      rng=random.Random(0))  # fmt: skip


def test_the_sweep_deletes_callbacks_past_the_retention_and_keeps_the_rest(
    client, services, session, business, customer, clock, engine, twilio
):
    old = make_message(session, business, customer, clock, sid="SM" + "1" * 32)
    callback(client, old.id, "delivered", sid=old.provider_sid)
    clock.advance(days=2)
    recent = make_message(session, business, customer, clock, sid="SM" + "2" * 32)
    callback(client, recent.id, "undelivered", sid=recent.provider_sid, error_code=30006)
    assert [c.payload["MessageStatus"] for c in stored(engine)] == ["delivered", "undelivered"]

    clock.advance(days=6)  # the first is 8 days old, the second 6: retention is 7
    worker(services, clock).run_once()
    [kept] = stored(engine)
    assert kept.provider_sid == recent.provider_sid and kept.payload["ErrorCode"] == "30006"
    with Session(engine) as s:  # the texts keep what the callbacks told them
        assert s.get(Message, old.id).status == "delivered"
        assert (s.get(Message, recent.id).status, s.get(Message, recent.id).error_code) == (
            "undelivered", 30006)  # fmt: skip

    clock.advance(days=2)
    worker(services, clock).run_once()
    assert stored(engine) == []


def test_a_backlog_is_pruned_in_batches(services, session, clock, engine):
    """A backlog (a first run after an upgrade) goes in short transactions, oldest first."""
    total = PRUNE_BATCH * 2 + 7
    then = clock.now()
    session.add_all(StatusCallback(provider_sid=f"SM{n:032x}", status="delivered",
                                   payload={"To": "+12125550123"}, received_at=then)
                    for n in range(total))  # fmt: skip
    session.add(StatusCallback(provider_sid="SM" + "f" * 32, status="sent", payload={},
                               received_at=then.replace(year=then.year + 1)))  # fmt: skip
    session.commit()
    clock.advance(days=8)
    assert worker(services, clock).prune_status_callbacks(clock.now()) == total
    with Session(engine) as s:
        assert s.exec(select(func.count(StatusCallback.id))).one() == 1


def test_the_retention_is_a_checked_setting(database_url):
    with pytest.raises(ConfigError, match="STATUS_PAYLOAD_RETENTION_DAYS"):
        load_settings(base_settings(database_url, status_payload_retention_days=0))
    assert load_settings(base_settings(database_url)).status_payload_retention_days == 30
    environ = {"STATUS_PAYLOAD_RETENTION_DAYS": "90"}
    assert load_settings({"database_url": database_url, "env": "development"},
                         environ=environ).status_payload_retention_days == 90  # fmt: skip
