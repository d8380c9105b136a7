"""Care that runs itself, walked as whole stories on the real path.

Visits go in through POST /api/v1/visits, replies and calls as signed Twilio webhooks, link
clicks through GET /l/<token>. A Dispatcher sends what is due each time the FixedClock is moved;
Twilio is faked at the HTTP level and every text it was handed (To, Body) is checked, so each
story says exactly what went out and what did not. Nobody sleeps.
"""

from __future__ import annotations

import itertools
import json
import random
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qsl
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from app.care.dispatcher import Dispatcher
from app.models import Customer, Feedback, Message, TrackedLink
from tests.conftest import (
    ACCOUNT_SID,
    BUSINESS_NUMBER,
    CUSTOMER_PHONE,
    MESSAGES_URL,
    PUBLIC_BASE,
    inbound_form,
    post_signed,
    twilio_message,
)

NY = ZoneInfo("America/New_York")
LA_PHONE = "+13105550123"  # Los Angeles: three hours behind the business
ALERT_PHONE = "+12125550199"  # the owner's own phone
REVIEW_URL = "https://g.page/r/bloom/review"
LINK = re.compile(re.escape(PUBLIC_BASE) + r"/l/([A-Za-z0-9_-]+)")
OPT_OUT_LINE = "Reply STOP to opt out."


def ny(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    """A moment in New York; 10 March 2026 (the fixtures' start) is a Tuesday."""
    return datetime(2026, month, day, hour, minute, tzinfo=NY)


def link_in(body: str) -> str:
    match = LINK.search(body)
    assert match, f"no tracked link in {body!r}"
    return match.group(1)


class Story:
    """Drives one business through the API, webhooks and a dispatcher on a held clock."""

    def __init__(self, client, auth, services, clock, twilio):
        self.client, self.auth, self.clock, self.twilio = client, auth, clock, twilio
        self.engine = services.engine
        self.dispatcher = Dispatcher(
            services.engine,
            services.gateway,
            services.settings,
            clock=clock,
            rng=random.Random(0),
        )
        self._seen = 0
        self._inbound = itertools.count(1)
        self._sids = itertools.count(1)

        def accept(request):
            form = dict(parse_qsl(request.body if isinstance(request.body, str) else
                                  request.body.decode()))  # fmt: skip
            sid = f"SM{next(self._sids):032x}"
            answer = twilio_message(sid, to=form["To"], body=form.get("Body", ""))
            return 201, {}, json.dumps(answer)

        twilio.add_callback("POST", MESSAGES_URL, callback=accept, content_type="application/json")

    # ---- what went out -----------------------------------------------------------------

    def sent(self) -> list[tuple[str, str]]:
        """(To, Body) of every text handed to Twilio since the last call, in order."""
        calls = [
            c
            for c in self.twilio.calls
            if c.request.method == "POST" and c.request.url == MESSAGES_URL
        ]  # (not a push service's, passed through)
        new, self._seen = calls[self._seen :], len(calls)
        result = []
        for call in new:
            body = call.request.body
            form = dict(parse_qsl(body if isinstance(body, str) else body.decode()))
            assert form["From"] == BUSINESS_NUMBER
            result.append((form["To"], form.get("Body", "")))
        return result

    def run(self, when: datetime | None = None) -> list[tuple[str, str]]:
        """Move the clock (if given), let the worker send what is due, return what went out."""
        if when is not None:
            assert when.astimezone(NY) >= self.clock.now().astimezone(NY), "time only moves on"
            self.clock.set(when)
        self.dispatcher.run_once()
        return self.sent()

    def run_until(self, until: datetime) -> list[tuple[str, str]]:
        """Run the worker every three hours from now until `until`; everything that went out."""
        out = []
        when = self.clock.now()
        while when < until:
            when = min(when + timedelta(hours=3), until)
            out += self.run(when)
        return out

    # ---- the owner's integration and the customer's phone ------------------------------

    def patch(self, **fields) -> dict:
        response = self.client.patch("/api/v1/business", json=fields, headers=self.auth)
        assert response.status_code == 200, response.json
        return response.json

    def visit(self, phone: str = CUSTOMER_PHONE, name: str = "Maria Lopez", **extra) -> dict:
        payload = {"phone": phone, "name": name, "consent": True, **extra}
        response = self.client.post("/api/v1/visits", json=payload, headers=self.auth)
        assert response.status_code == 201, response.json
        return response.json

    def reply(self, body: str, phone: str = CUSTOMER_PHONE):
        sid = f"SMf{next(self._inbound):031d}"  # never one of the outbound SIDs
        form = inbound_form(body, sid=sid, frm=phone)
        response = post_signed(self.client, "/webhooks/twilio/sms", form)
        assert response.status_code == 200, response.data
        return response

    def call(self, phone: str = CUSTOMER_PHONE):
        form = {"CallSid": "CA" + f"{next(self._inbound):032x}", "AccountSid": ACCOUNT_SID,
                "From": phone, "To": BUSINESS_NUMBER, "CallStatus": "ringing",
                "Direction": "inbound"}  # fmt: skip
        return post_signed(self.client, "/webhooks/twilio/voice", form)

    def customer(self, phone: str = CUSTOMER_PHONE) -> Customer:
        with Session(self.engine) as s:
            return s.exec(select(Customer).where(Customer.phone == phone)).one()

    def statuses(self, phone: str = CUSTOMER_PHONE) -> list[tuple[str, str]]:
        """(kind, status) of every outbound text in the customer's conversation, oldest first."""
        with Session(self.engine) as s:
            customer = s.exec(select(Customer).where(Customer.phone == phone)).one()
            return [
                (m.kind, m.status)
                for m in s.exec(
                    select(Message)
                    .where(Message.customer_id == customer.id, Message.direction == "outbound")
                    .order_by(Message.id)
                )
            ]

    def feedback(self) -> list[Feedback]:
        with Session(self.engine) as s:
            return list(s.exec(select(Feedback).order_by(Feedback.id)))

    def api(self, path: str) -> dict:
        response = self.client.get(path, headers=self.auth)
        assert response.status_code == 200, response.json
        return response.json


def send_at(planned: dict) -> datetime:
    return datetime.fromisoformat(planned["send_at"].replace("Z", "+00:00"))


def kinds(visit: dict) -> list[str]:
    return [m["kind"] for m in visit["planned"]]


# ---- the plan after a visit -----------------------------------------------------------------


def test_visit_at_1955_thank_you_waits_for_the_window_to_open(story, clock):
    clock.set(ny(10, 19, 55))
    visit = story.visit(staff="Ana")
    thank_you = visit["planned"][0]
    assert thank_you["kind"] == "thank_you"
    assert send_at(thank_you) == ny(11, 9, 0)  # 20:25 is past the window: next morning
    assert story.run(ny(10, 20, 25)) == []
    assert story.run(ny(11, 8, 59)) == []
    [(to, body)] = story.run(ny(11, 9, 0))
    assert to == CUSTOMER_PHONE
    assert body.startswith("Hi Maria, thank you for visiting Bloom Hair Studio and seeing Ana")
    assert body.endswith(OPT_OUT_LINE)  # the first text names the business and the opt-out


def test_thank_you_waits_for_the_window_in_the_recipients_own_time_zone(story, clock):
    # 19:55 in Los Angeles is 22:55 at the New York business.
    clock.set(datetime(2026, 3, 10, 19, 55, tzinfo=ZoneInfo("America/Los_Angeles")))
    visit = story.visit(phone=LA_PHONE, name="Sam Rivera")
    assert send_at(visit["planned"][0]) == ny(11, 12, 0)  # 9:00 in Los Angeles
    assert story.run(ny(11, 9, 0)) == []  # the business is open, the customer is asleep
    assert story.run(ny(11, 11, 59)) == []
    [(to, body)] = story.run(ny(11, 12, 0))
    assert to == LA_PHONE and body.startswith("Hi Sam, thank you for visiting")


def test_review_request_no_click_one_reminder_then_silence(story, clock):
    visit = story.visit(staff="Ana")
    assert kinds(visit) == ["thank_you", "review_request", "review_reminder", "referral_ask"]
    request, reminder = visit["planned"][1], visit["planned"][2]
    assert send_at(request) == ny(11, 11, 0)  # the next day, inside the window
    assert send_at(reminder) == ny(14, 11, 0)  # three days after the request
    # Each planned text is in the conversation, with its time, before it goes.
    thread = story.api(f"/api/v1/customers/{visit['customer_id']}/messages")["items"]
    assert [(m["kind"], m["status"], m["send_at"]) for m in thread] == [
        (m["kind"], "scheduled", m["send_at"]) for m in visit["planned"]
    ]

    assert story.run(ny(10, 11, 29)) == []
    [(to, thanks)] = story.run(ny(10, 11, 30))
    assert to == CUSTOMER_PHONE and "thank you for visiting Bloom Hair Studio" in thanks

    assert story.run(ny(11, 10, 59)) == []
    [(to, ask)] = story.run(ny(11, 11, 0))
    assert to == CUSTOMER_PHONE
    assert ask.startswith("Hi Maria, it was a pleasure having you at Bloom Hair Studio.")
    token = link_in(ask)
    assert REVIEW_URL not in ask  # the tracked link, not the bare page
    # Introduced by the thank-you: the ask does not repeat the STOP line (a second segment).
    assert OPT_OUT_LINE not in ask
    assert story.customer().last_review_request_at == ny(11, 11, 0)

    assert story.run_until(ny(14, 10, 59)) == []
    [(to, nudge)] = story.run(ny(14, 11, 0))
    assert to == CUSTOMER_PHONE
    assert nudge.startswith("Hi Maria, one last nudge from Bloom Hair Studio")
    assert link_in(nudge) == token  # the same link: an open of either counts
    assert OPT_OUT_LINE not in nudge

    # No second reminder, ever; a week after the visit, the referral ask with their link.
    [(to, referral)] = story.run_until(ny(14, 11, 0) + timedelta(days=30))
    assert referral.startswith("Hi Maria! Know someone who'd love Bloom Hair Studio?")
    assert f"{PUBLIC_BASE}/r/{story.customer().referral_code}" in referral
    assert story.statuses() == [
        ("thank_you", "sent"),
        ("review_request", "sent"),
        ("review_reminder", "sent"),
        ("referral_ask", "sent"),
    ]


def test_a_click_on_the_review_link_cancels_the_reminder(story, client):
    story.visit()
    story.run(ny(10, 11, 30))
    [(_to, ask)] = story.run(ny(11, 11, 0))
    token = link_in(ask)

    story.clock.set(ny(11, 18, 40))
    response = client.get(f"/l/{token}")
    assert response.status_code == 302
    assert response.headers["Location"] == REVIEW_URL
    assert story.statuses() == [
        ("thank_you", "sent"),
        ("review_request", "sent"),
        ("review_reminder", "canceled"),
        ("referral_ask", "scheduled"),
    ]
    with Session(story.engine) as s:
        link = s.exec(select(TrackedLink).where(TrackedLink.token == token)).one()
        assert link.opened_at == ny(11, 18, 40) and link.open_count == 1

    # No reminder; the referral ask, brought forward by the open, at the next morning.
    [(to, ask)] = story.run_until(ny(25, 12))
    assert "/r/" in ask and story.statuses()[-1] == ("referral_ask", "sent")
    assert client.get(f"/l/{token}").status_code == 302  # the link keeps working


def test_a_refund_cancels_everything_pending(story, client, auth):
    visit = story.visit()
    response = client.post(f"/api/v1/visits/{visit['id']}/cancel", headers=auth)
    assert response.status_code == 200, response.json
    assert response.json["status"] == "canceled"
    assert [(m["kind"], m["status"]) for m in response.json["planned"]] == [
        ("thank_you", "canceled"),
        ("review_request", "canceled"),
        ("review_reminder", "canceled"),
        ("referral_ask", "canceled"),
    ]
    assert story.run_until(ny(20, 12)) == []


def test_a_refund_after_the_thank_you_cancels_the_asks(story, client, auth):
    visit = story.visit()
    assert len(story.run(ny(10, 11, 30))) == 1
    story.clock.set(ny(10, 16, 0))
    assert client.post(f"/api/v1/visits/{visit['id']}/cancel", headers=auth).status_code == 200
    assert story.run_until(ny(20, 12)) == []
    assert story.statuses() == [
        ("thank_you", "sent"),
        ("review_request", "canceled"),
        ("review_reminder", "canceled"),
        ("referral_ask", "canceled"),
    ]


def test_stop_in_the_middle_of_a_plan(story):
    story.visit()
    assert [to for to, _ in story.run(ny(10, 11, 30))] == [CUSTOMER_PHONE]
    story.clock.set(ny(10, 13, 0))
    story.reply("STOP")
    assert story.customer().consent == "opted_out"
    # Twilio confirms STOP itself on this number: no confirmation of ours, and nothing else.
    assert story.run_until(ny(20, 12)) == []
    assert story.statuses() == [
        ("thank_you", "sent"),
        ("review_request", "canceled"),
        ("review_reminder", "canceled"),
        ("referral_ask", "canceled"),
    ]


def test_a_customer_asked_last_month_is_not_asked_again(story, clock):
    clock.set(ny(10, 11, 0, month=2))
    story.visit()
    first = story.run_until(ny(16, 12, month=2))
    assert [body.split(",")[0] for _to, body in first] == ["Hi Maria"] * 3  # thanks, ask, nudge
    assert story.customer().last_review_request_at == ny(11, 11, 0, month=2)

    clock.set(ny(10, 11, 0))  # a month later
    visit = story.visit()
    assert kinds(visit) == ["thank_you"]
    assert any("180 days" in reason for reason in visit["skipped"])
    # (February's referral ask, due while the clock jumped, goes first; no second is planned)
    late_ask, (to, body) = story.run_until(ny(20, 12))
    assert "/r/" in late_ask[1]
    assert to == CUSTOMER_PHONE and "thank you for visiting" in body
    assert LINK.search(body) is None

    # The cooldown is the business's setting: at 20 days the same customer is asked again.
    assert story.patch(review_cooldown_days=20)["review_cooldown_days"] == 20
    visit = story.visit()
    assert kinds(visit) == ["thank_you", "review_request", "review_reminder"]


def test_a_template_with_a_syntax_error_is_refused_at_save_not_at_send(story, client, auth):
    broken = {"body": "Hi {{ first_name }, thanks for visiting {{ business_name }}!"}
    response = client.put("/api/v1/templates/thank_you", json=broken, headers=auth)
    assert response.status_code == 422
    assert response.json["error"]["code"] == "invalid_template"

    visit = story.visit()
    assert visit["planned"][0]["body"].startswith("Hi Maria, thank you for visiting Bloom")
    [(to, body)] = story.run(ny(10, 11, 30))
    assert to == CUSTOMER_PHONE
    assert body.startswith("Hi Maria, thank you for visiting Bloom Hair Studio today!")


def test_an_owner_edited_text_is_used_by_the_next_plan(story, client, auth):
    edit = {"body": "{{ first_name }}, {{ staff_name or 'we' }} loved having you at "
                    "{{ business_name }}!"}  # fmt: skip
    assert client.put("/api/v1/templates/thank_you", json=edit, headers=auth).status_code == 200
    story.visit(staff="Ana")
    [(_to, body)] = story.run(ny(10, 11, 30))
    assert body == f"Maria, Ana loved having you at Bloom Hair Studio! {OPT_OUT_LINE}"


# ---- replies ---------------------------------------------------------------------------------


@pytest.fixture
def ask_first(story) -> Story:
    story.patch(review_mode="ask_first", alert_phone="(212) 555-0199")
    return story


def _asked(story: Story, **visit_fields) -> dict:
    """A visit in ask-first mode, up to the 1-5 question having gone out."""
    visit = story.visit(**visit_fields)
    assert kinds(visit) == ["thank_you", "feedback_question", "referral_ask"]
    assert send_at(visit["planned"][1]) == ny(11, 11, 0)
    assert len(story.run(ny(10, 11, 30))) == 1
    [(to, question)] = story.run(ny(11, 11, 0))
    assert to == CUSTOMER_PHONE
    assert "Reply with a number from 1 (poor) to 5 (great)" in question
    assert LINK.search(question) is None  # asked first: the link comes with the thanks
    return visit


def test_ask_first_a_1_alerts_the_owner_holds_the_next_ask_and_still_offers_the_link(
    ask_first, client
):
    story = ask_first
    story.patch(review_cooldown_days=0)  # so the second visit below plans another question
    first = _asked(story, staff="Ana")
    story.clock.set(ny(11, 12, 0))
    second = story.visit(staff="Ana")
    assert kinds(second) == ["thank_you", "feedback_question"]

    story.clock.set(ny(11, 12, 5))
    story.reply("1")
    out = story.run()
    assert sorted(to for to, _ in out) == sorted([ALERT_PHONE, CUSTOMER_PHONE])
    alert = next(body for to, body in out if to == ALERT_PHONE)
    thanks = next(body for to, body in out if to == CUSTOMER_PHONE)
    assert "Maria Lopez" in alert and "Maria Lopez, (212) 555-0123:" in alert and '"1"' in alert
    assert thanks.startswith("Thank you for telling us, Maria. The owner will reach out")
    token = link_in(thanks)  # no gating: an unhappy customer gets the review link too
    assert client.get(f"/l/{token}").headers["Location"] == REVIEW_URL

    [feedback] = story.feedback()
    assert (feedback.score, feedback.scale, feedback.unhappy) == (1, 5, True)
    assert feedback.visit_id == second["id"] and feedback.staff == "Ana"
    customer = story.api(f"/api/v1/customers/{first['customer_id']}")
    assert customer["unhappy_at"] is not None
    assert customer["suggested_reply"].startswith("Hi Maria, it's Bloom Hair Studio.")
    assert "sorry" in customer["suggested_reply"]

    # No review gating: the second visit's question is held, never canceled, and goes once
    # the owner has had the set number of days (3) to answer; its thank-you goes as planned.
    assert story.statuses()[-4:] == [
        ("thank_you", "scheduled"),
        ("feedback_question", "scheduled"),
        ("feedback_thanks", "sent"),
        ("alert", "sent"),
    ]
    later = story.run_until(ny(20, 12))
    assert [to for to, _body in later] == [CUSTOMER_PHONE, CUSTOMER_PHONE]
    assert "thank you for visiting" in later[0][1]
    assert "Reply with a number from 1 (poor) to 5 (great)" in later[1][1]

    # No review gating: an unhappy customer's next visit is asked like anyone's (the cooldown,
    # zero here, is the only limit).
    visit = story.visit()
    assert kinds(visit) == ["thank_you", "feedback_question", "referral_ask"]


def test_ask_first_a_5_is_thanked_with_the_link_and_alerts_nobody(ask_first):
    story = ask_first
    _asked(story, staff="Ben")
    story.clock.set(ny(11, 11, 20))
    story.reply("5")
    [(to, thanks)] = story.run()
    assert to == CUSTOMER_PHONE
    assert thanks.startswith("Thank you, Maria! If you have a minute, a review would mean a lot")
    link_in(thanks)
    [feedback] = story.feedback()
    assert (feedback.score, feedback.scale, feedback.unhappy) == (5, 5, False)
    assert feedback.staff == "Ben"
    assert story.customer().unhappy_at is None

    # The question is answered: a later message is not thanked a second time.
    story.clock.set(ny(11, 11, 25))
    story.reply("See you next month!")
    assert story.run() == []


def test_ask_first_an_answer_in_words_is_thanked_with_the_link(ask_first):
    story = ask_first
    _asked(story)
    story.clock.set(ny(11, 14, 0))
    story.reply("it was lovely")
    [(to, thanks)] = story.run()
    assert to == CUSTOMER_PHONE
    assert thanks.startswith("Thank you, Maria!") and "invalid" not in thanks.lower()
    link_in(thanks)
    [feedback] = story.feedback()
    assert feedback.score is None and feedback.sentiment > 0 and not feedback.unhappy


def test_ask_first_a_booking_time_is_not_read_as_a_low_score(ask_first):
    # "1:30" answers the question with a time, not a 1: no alarm, no apology, asks go on.
    story = ask_first
    _asked(story)
    story.clock.set(ny(11, 11, 15))
    story.reply("1:30 tomorrow? I'd like to book again")
    [(to, thanks)] = story.run()
    assert to == CUSTOMER_PHONE and thanks.startswith("Thank you, Maria!")
    [feedback] = story.feedback()
    assert feedback.score is None and not feedback.unhappy
    assert story.customer().unhappy_at is None


# ---- the owner in the loop -------------------------------------------------------------------


def test_after_hours_answer_names_the_next_opening_once_per_12_hours(story):
    story.clock.set(ny(10, 21, 0))
    story.reply("Are you open tomorrow morning?")
    [(to, answer)] = story.run()
    assert to == CUSTOMER_PHONE
    assert answer.startswith("Thanks for your text to Bloom Hair Studio! We're closed right now")
    assert "will reply from 9:00 AM tomorrow." in answer
    assert answer.endswith(OPT_OUT_LINE)  # a stranger: the first text says how to stop

    story.clock.set(ny(10, 22, 30))
    story.reply("Also do you do beards?")
    story.clock.set(ny(11, 7, 0))
    story.reply("Hello?")
    assert story.run() == []  # 10 hours later: still answered once
    story.clock.set(ny(11, 10, 0))
    story.reply("Never mind, calling you")
    assert story.run() == []  # open hours: a person answers

    story.clock.set(ny(11, 21, 30))
    story.reply("One more question")
    [(to, again)] = story.run()
    assert to == CUSTOMER_PHONE and "9:00 AM tomorrow" in again
    assert OPT_OUT_LINE not in again  # introduced already

    story.clock.set(ny(12, 2, 0))
    story.reply("Hi, is there parking?", phone="+12125550177")
    [(to, early)] = story.run()
    assert to == "+12125550177" and "will reply from 9:00 AM today." in early


def test_no_after_hours_answer_when_the_business_turns_it_off(story):
    story.patch(after_hours_reply=False)
    story.clock.set(ny(10, 21, 0))
    story.reply("Are you open tomorrow?")
    assert story.run() == []


def test_unanswered_customer_alerts_the_owner_at_most_once_an_hour(story, client, auth):
    story.patch(alert_phone=ALERT_PHONE, unanswered_alert_minutes=45)
    story.reply("Do you have anything Friday afternoon?")
    story.clock.set(ny(10, 11, 44))
    assert story.dispatcher.sweep(force=True) == 0
    story.clock.set(ny(10, 11, 46))
    assert story.dispatcher.sweep(force=True) == 1
    [(to, alert)] = story.run()
    assert to == ALERT_PHONE
    assert alert.startswith("Regulars: no reply yet to (212) 555-0123")
    assert "Do you have anything Friday afternoon?" in alert

    story.clock.set(ny(10, 11, 50))
    story.reply("Hello? Anyone?")
    story.clock.set(ny(10, 12, 40))  # 50 minutes unanswered, but alerted 54 minutes ago
    assert story.dispatcher.sweep(force=True) == 0
    assert story.run() == []
    story.clock.set(ny(10, 12, 47))
    assert story.dispatcher.sweep(force=True) == 1
    [(to, second)] = story.run()
    assert to == ALERT_PHONE and "Hello? Anyone?" in second

    # The owner answers: no more alerts about this conversation.
    customer_id = story.customer().id
    story.clock.set(ny(10, 12, 50))
    answer = {"customer_id": customer_id, "body": "Hi! Friday 3pm is open. Want it?"}
    assert client.post("/api/v1/messages", json=answer, headers=auth).status_code == 202
    assert [to for to, _ in story.run()] == [CUSTOMER_PHONE]
    story.clock.set(ny(10, 16, 0))
    assert story.dispatcher.sweep(force=True) == 0
    assert story.run() == []


def test_missed_call_is_texted_back_once_a_day(story):
    response = story.call()
    assert response.status_code == 200
    assert response.mimetype == "text/xml"
    assert b"<Say>" in response.data and b"<Hangup/>" in response.data
    [(to, text)] = story.run()
    assert to == CUSTOMER_PHONE
    assert text.startswith("Sorry we missed your call at Bloom Hair Studio!")

    story.clock.set(ny(10, 16, 0))
    again = story.call()
    assert again.status_code == 200 and b"<Hangup/>" in again.data
    assert story.run() == []  # once a day

    story.clock.set(ny(11, 11, 5))
    story.call()
    [(to, _text)] = story.run()
    assert to == CUSTOMER_PHONE


def test_missed_call_from_someone_who_opted_out_is_not_texted(story):
    story.reply("STOP")
    story.call()
    assert story.run() == []


def test_missed_call_text_back_can_be_turned_off(story):
    story.patch(missed_call_textback=False)
    assert story.call().status_code == 200
    assert story.run() == []


# ---- measures --------------------------------------------------------------------------------


def test_metrics_after_a_few_ratings(ask_first, client):
    story = ask_first
    story.patch(alert_phone=None)
    answers = {  # phone: (staff, reply)
        "+12125550101": ("Ana", "5"),
        "+12125550102": ("Ana", "4 out of 5"),
        "+12125550103": ("Ben", "2"),
        "+12125550104": ("Ana", "10"),
        "+12125550105": ("Ben", "9/10"),
        "+12125550106": ("Ben", "3 out of 10"),
        "+12125550107": ("Ana", None),  # never answers
    }
    for n, (phone, (staff, _reply)) in enumerate(answers.items()):
        story.visit(phone=phone, name=f"Guest {n}", staff=staff)
    assert len(story.run(ny(10, 11, 30))) == 7  # thank-yous
    assert len(story.run(ny(11, 11, 0))) == 7  # questions
    story.clock.set(ny(11, 13, 0))
    for phone, (_staff, reply) in answers.items():
        if reply is not None:
            story.reply(reply, phone=phone)
    thanks = story.run()
    assert len(thanks) == 6
    for _to, body in thanks[:3]:  # three of the six open their review link
        assert client.get(f"/l/{link_in(body)}").status_code == 302

    metrics = story.api("/api/v1/metrics?from=2026-03-01T00:00:00Z&to=2026-03-31T00:00:00Z")
    assert metrics["csat"] == 66.7 and metrics["csat_answers"] == 3  # 5, 4 of 5, 2
    assert metrics["nps"] == 33.3 and metrics["nps_answers"] == 3  # 10, 9: promoters; 3: not
    assert metrics["unhappy_replies"] == 2  # "2" and "3 out of 10"
    assert metrics["review_links_sent"] == 6 and metrics["review_links_opened"] == 3
    assert metrics["review_link_open_rate"] == 50.0
    assert metrics["automated_texts_sent"] == 14
    assert metrics["reply_rate"] == pytest.approx(100 * 12 / 14, abs=0.1)
    by_staff = {row["staff"]: row for row in metrics["staff"]}
    assert by_staff["Ana"]["csat"] == 100.0 and by_staff["Ana"]["nps"] == 100.0
    assert by_staff["Ben"]["csat"] == 0.0 and by_staff["Ben"]["nps"] == 0.0
    assert (by_staff["Ben"]["csat_answers"], by_staff["Ben"]["nps_answers"]) == (1, 2)

    # Another range sees none of it.
    before = story.api("/api/v1/metrics?from=2026-02-01T00:00:00Z&to=2026-03-01T00:00:00Z")
    assert before["csat"] is None and before["nps"] is None
    assert before["review_link_open_rate"] is None and before["reply_rate"] is None
