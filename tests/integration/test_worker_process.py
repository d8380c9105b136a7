"""The worker as an operator runs it: a separate process that stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

from sqlmodel import Session

from app.care.customers import find_or_create, set_consent
from app.care.outbound import queue_text
from app.models import Message
from tests.conftest import CUSTOMER_PHONE


def test_worker_sends_then_stops_cleanly_on_sigterm(
    database_url, engine, business, tmp_path, clock
):
    with Session(engine, expire_on_commit=False) as session:
        customer, _ = find_or_create(session, business, CUSTOMER_PHONE, now=clock.now())
        set_consent(session, customer, "granted", source="api", now=clock.now())
        message = queue_text(session, business, customer, "Your order is ready", "manual",
                             now=clock.now())  # fmt: skip
        session.commit()
    env = {
        **{k: v for k, v in os.environ.items() if k not in {"TWILIO_AUTH_TOKEN", "SMS_BACKEND"}},
        "DATABASE_URL": database_url,
        "SMS_BACKEND": "simulator",
        "REGULARS_ENV": "development",
        "WORKER_POLL_SECONDS": "0.2",
        "SEND_PACING": "false",
    }
    with subprocess.Popen(
        [sys.executable, "-m", "app.cli", "worker"],
        cwd=tmp_path,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    ) as worker:
        try:
            assert _delivered_within(worker, engine, message.id, checks=300)
            worker.send_signal(signal.SIGTERM)
            code = worker.wait(timeout=30)
            log = worker.stderr.read()
        finally:
            if worker.poll() is None:
                worker.kill()
    assert code == 0, log
    assert "stopped" in log
    with Session(engine) as session:
        sent = session.get(Message, message.id)
    assert sent.status == "delivered"
    assert sent.provider_sid.startswith("SM")


def _delivered_within(worker, engine, message_id: int, checks: int) -> bool:
    """Check the text's state up to `checks` times, waiting on the worker process in between."""
    for _ in range(checks):
        with Session(engine) as session:
            if session.get(Message, message_id).status == "delivered":
                return True
        try:
            worker.wait(timeout=0.1)
            return False  # the worker exited before delivering
        except subprocess.TimeoutExpired:
            continue
    return False
