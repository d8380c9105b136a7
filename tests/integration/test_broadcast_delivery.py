"""A broadcast that cannot silently stop (issue 12): 2,000 recipients, 5% of them numbers
Twilio refuses, Twilio answering 500 to some requests, a worker killed twice mid-batch (after
Twilio took a text it never heard back about), a restart every round, a pause and a resume.
Every eligible recipient gets exactly one text, none outside their own sending window, and
everyone else is accounted for with a reason. Twilio is faked at the HTTP level; the clock is
held and moved by the test."""

from __future__ import annotations

import itertools
import json
import random
from collections import Counter
from email.utils import format_datetime
from urllib.parse import parse_qs, parse_qsl, urlsplit

from sqlmodel import Session, select

from app.care.dispatcher import Dispatcher
from app.care.windows import recipient_window
from app.models import Broadcast, BroadcastSkip, Customer, Message, MessageStatus
from tests.conftest import MESSAGES_URL, twilio_message
from tests.integration.test_dispatcher import twilio_error, twilio_list

AREAS = ("212", "512", "310", "305")  # New York, Austin, Los Angeles, Miami
RECIPIENTS = 2000


class Killed(BaseException):
    """The worker process dies (not an error any code catches)."""


class DyingGateway:
    """The real Twilio gateway, in a worker that dies right after its `after`-th send went
    out (Twilio took it; the worker never records it)."""

    def __init__(self, gateway, after: int):
        self.gateway, self.left = gateway, after

    def send(self, text):
        accepted = self.gateway.send(text)
        self.left -= 1
        if self.left == 0:
            raise Killed()
        return accepted

    def __getattr__(self, name):
        return getattr(self.gateway, name)


class FakeTwilio:
    """Messages.json: refuses the invalid numbers (21211), answers 500 to every 13th request,
    keeps what it took, and lists it back for reconciliation."""

    def __init__(self, twilio, clock, invalid: set[str]):
        self.clock, self.invalid = clock, invalid
        self.taken: dict[str, list[dict]] = {}
        self.at: list[tuple[str, object]] = []
        self.requests = itertools.count(1)
        self.sids = itertools.count(1)
        twilio.add_callback("POST", MESSAGES_URL, callback=self.create,
                            content_type="application/json")  # fmt: skip
        twilio.add_callback("GET", MESSAGES_URL, callback=self.list,
                            content_type="application/json")  # fmt: skip

    def create(self, request):
        form = dict(parse_qsl(request.body if isinstance(request.body, str) else
                              request.body.decode()))  # fmt: skip
        if next(self.requests) % 13 == 0:
            return 500, {}, json.dumps(twilio_error(20500, "Internal Server Error", 500))
        if form["To"] in self.invalid:
            return 400, {}, json.dumps(twilio_error(21211, "Invalid 'To' Phone Number", 400))
        now = self.clock.now()
        message = twilio_message(f"SM{next(self.sids):032x}", to=form["To"], body=form["Body"],
                                 date_created=format_datetime(now))  # fmt: skip
        self.taken.setdefault(form["To"], []).append(message)
        self.at.append((form["To"], now))
        return 201, {}, json.dumps(message)

    def list(self, request):
        query = parse_qs(urlsplit(request.url).query)
        return 200, {}, json.dumps(twilio_list(*self.taken.get(query["To"][0], [])))


def seed(session: Session, business, clock) -> dict[str, str]:
    """2,000 customers in four time zones: what each one's fate should be, by phone."""
    fates, rows = {}, []
    for i in range(RECIPIENTS):
        phone = f"+1{AREAS[i % 4]}555{i:04d}"
        fate, consent = "text", "granted"
        if i % 20 == 7:
            fate = "invalid"  # 5%: Twilio refuses the number
        elif i % 40 == 3:
            fate, consent = "no consent", "unknown"
        elif i % 50 == 11:
            fate, consent = "opted out", "opted_out"
        fates[phone] = fate
        rows.append(Customer(business_id=business.id, phone=phone, name=f"Guest {i}",
                             consent=consent, consent_source="form", consent_at=clock.now(),
                             created_at=clock.now()))  # fmt: skip
    session.add_all(rows)
    session.commit()
    return fates


def test_every_eligible_recipient_gets_exactly_one_text_inside_their_window(
    client, auth, services, clock, twilio, session, business
):
    fates = seed(session, business, clock)
    fake = FakeTwilio(twilio, clock, {p for p, f in fates.items() if f == "invalid"})
    made = client.post("/api/v1/broadcasts", headers=auth,
                       json={"body": "We open at 8 on Saturdays from now on.",
                             "title": "Saturday hours"})  # fmt: skip
    assert made.status_code == 201, made.json
    broadcast_id = made.json["id"]
    rounds, killed, sent_while_paused = 0, 0, None
    kills = {3: 40, 9: 7}  # the round, and the send after which its worker dies
    while rounds < 600:
        rounds += 1
        gateway = services.gateway
        if rounds in kills:
            gateway = DyingGateway(gateway, kills[rounds])
        worker = Dispatcher(services.engine, gateway, services.settings, clock=clock,
                            rng=random.Random(rounds), worker_id=f"worker-{rounds}")  # fmt: skip
        try:
            worker.run_once(max_batches=3)
        except Killed:
            killed += 1  # its claimed texts stay leased to a dead worker
        if rounds == 5:
            paused = client.post(f"/api/v1/broadcasts/{broadcast_id}/pause", headers=auth)
            assert paused.status_code == 200 and paused.json["report"]["queued"] > 0
            sent_while_paused = len(fake.at)
        if rounds == 8:
            assert len(fake.at) == sent_while_paused  # nothing went while it was paused
            assert client.post(f"/api/v1/broadcasts/{broadcast_id}/resume",
                               headers=auth).status_code == 200  # fmt: skip
        clock.advance(seconds=90)
        state = client.get(f"/api/v1/broadcasts/{broadcast_id}", headers=auth).json
        if state["state"] == "done":
            break
    assert state["state"] == "done", (rounds, state)
    assert killed == 2

    # exactly one text for each eligible recipient, never one for anyone else
    taken = Counter({phone: len(texts) for phone, texts in fake.taken.items()})
    wanted = {phone for phone, fate in fates.items() if fate == "text"}
    assert set(taken) == wanted and set(taken.values()) == {1}
    # each inside its recipient's own window
    for phone, at in fake.at:
        window = recipient_window(phone, business.timezone, business.window_start,
                                  business.window_end)  # fmt: skip
        assert window.is_open(at), (phone, at)
    assert any(phone.startswith("+1310") for phone, _ in fake.at)  # Los Angeles waited, then went

    # and everyone else is accounted for, with a reason
    with Session(services.engine) as check:
        texts = {m.to_number: m for m in check.exec(
            select(Message).where(Message.broadcast_id == broadcast_id,
                                  Message.direction == "outbound"))}  # fmt: skip
        skips = {s.customer_id: s.reason for s in check.exec(
            select(BroadcastSkip).where(BroadcastSkip.broadcast_id == broadcast_id))}  # fmt: skip
        phones = dict(check.exec(select(Customer.id, Customer.phone)).all())
        row = check.get(Broadcast, broadcast_id)
    skipped = {phones[cid]: reason for cid, reason in skips.items()}
    assert len(texts) + len(skipped) == RECIPIENTS and not set(texts) & set(skipped)
    for phone, fate in fates.items():
        if fate == "text":
            assert texts[phone].status == MessageStatus.SENT, (phone, texts[phone].status)
        elif fate == "invalid":
            assert texts[phone].status == MessageStatus.FAILED
            assert texts[phone].error_code == 21211
        else:
            assert skipped[phone] == {"no consent": "no consent to texts",
                                      "opted out": "opted out"}[fate]  # fmt: skip
    report = state["report"]
    assert report["sent"] == len(wanted) and report["queued"] == 0
    assert report["failed"] == 100 and report["failures"] == {"Not a valid phone number.": 100}
    assert sum(report["skipped"].values()) == row.skipped == RECIPIENTS - len(texts)
