"""The owner's broadcast pages: compose and check (what a customer reads, the findings, who
gets it and why the others do not, when the last text goes), send or schedule, the live
report with Pause, Resume and Cancel, replies marked in the conversation, and the inbox's
word when a broadcast paused itself."""

from __future__ import annotations

import re
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlmodel import Session, select

from app.care import broadcasts
from app.contract.commands import BroadcastCreate
from app.models import Broadcast, Customer
from tests.conftest import CUSTOMER_PHONE
from tests.integration.test_broadcasts import FRIEND, NO_CONSENT, customer
from tests.integration.test_broadcasts import broadcast as api_broadcast
from tests.integration.test_owner_helpers import OVERRIDES, csrf_token, other_business, post

pytestmark = pytest.mark.usefixtures("twilio")
NY_ZONE = ZoneInfo("America/New_York")


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def three(story):
    """Maria (tagged vip) and Sam agreed to texts; Nora did not."""
    customer(story, CUSTOMER_PHONE, "Maria Lopez", tags=["vip"])
    customer(story, FRIEND, "Sam Lee")
    customer(story, NO_CONSENT, "Nora Nobody", consent=False)
    return story


DRAFT = {"text": "Hi [First name], we are closed Monday for the holiday.",
         "kind": "informational", "who": "all", "when": "now", "title": "Holiday"}  # fmt: skip


def compose(owner, **fields):
    return post(owner, "/broadcasts/new", {**DRAFT, "action": "check", **fields},
                token_path="/broadcasts/new")  # fmt: skip


def text_of(response) -> str:
    return re.sub(r"\s+", " ", response.get_data(as_text=True))


def digest(page: str) -> str:
    match = re.search(r'name="checked" value="([0-9a-f]+)"', page)
    assert match, "the check offers no Send"
    return match.group(1)


def count(session: Session) -> int:
    found = len(session.exec(select(Broadcast)).all())
    session.commit()
    return found


def test_the_check_shows_what_a_customer_reads_who_gets_it_and_when(owner, three, session):
    checked = compose(owner)
    assert checked.status_code == 200
    page = text_of(checked)
    # What a customer reads: their first name in place, the business named, the STOP line.
    assert re.search(r'class="sample">Bloom Hair Studio: Hi \w+, we are closed Monday', page)
    assert "Reply STOP to opt out" in page
    assert "<strong>2 of 3 customers</strong>" in page
    assert re.search(r"No consent to texts</span><strong>1</strong>", page)
    assert "The last text should go by" in page
    assert "Send now to 2 customers" in page
    assert "{{" not in page and "+1212" not in page  # no template code, no E.164 numbers
    assert count(session) == 0  # a check creates nothing


def test_a_segment_narrows_who_gets_it(owner, three):
    page = text_of(compose(owner, who="some", tag="vip"))
    assert "<strong>1 of 1 customer</strong>" in page
    page = text_of(compose(owner, tag="vip"))  # "all customers" ignores the filters
    assert "<strong>2 of 3 customers</strong>" in page


def test_send_creates_the_checked_draft_and_shows_its_report(owner, three, session):
    checked = compose(owner).get_data(as_text=True)
    sent = post(owner, "/broadcasts/new", {**DRAFT, "action": "send", "checked": digest(checked)},
                token_path="/broadcasts/new")  # fmt: skip
    assert sent.status_code == 302
    made = session.exec(select(Broadcast)).one()
    assert sent.headers["Location"].endswith(f"/broadcasts/{made.id}")
    assert made.body == "Hi {{ first_name }}, we are closed Monday for the holiday."
    assert made.title == "Holiday" and made.state == "sending" and not made.promotional
    session.commit()
    report = text_of(owner.get(f"/broadcasts/{made.id}"))
    assert "Sending" in report and "Hi [First name], we are closed" in report
    assert "data-live=" in report  # it refreshes itself while it goes
    listing = text_of(owner.get("/broadcasts/"))
    assert "Holiday" in listing and "Sending" in listing


def test_a_draft_changed_after_its_check_is_checked_again_not_sent(owner, three, session):
    checked = compose(owner).get_data(as_text=True)
    changed = {**DRAFT, "text": "We are closed Tuesday too.", "action": "send",
               "checked": digest(checked)}  # fmt: skip
    again = post(owner, "/broadcasts/new", changed, token_path="/broadcasts/new")
    assert again.status_code == 200
    assert "You changed something since the check" in again.get_data(as_text=True)
    assert count(session) == 0


def test_a_scheduled_broadcast_starts_at_the_local_time_chosen(owner, three, session, clock):
    tomorrow = (clock.now() + timedelta(days=1)).astimezone(NY_ZONE)
    later = {"when": "later", "start_date": tomorrow.date().isoformat(), "start_time": "10:30"}
    checked = compose(owner, **later).get_data(as_text=True)
    assert "Schedule for" in checked and "10:30 AM" in checked
    sent = post(owner, "/broadcasts/new", {**DRAFT, **later, "action": "send",
                                           "checked": digest(checked)},
                token_path="/broadcasts/new")  # fmt: skip
    assert sent.status_code == 302
    made = session.exec(select(Broadcast)).one()
    assert made.state == "scheduled"
    local = made.start_at.astimezone(NY_ZONE)
    assert (local.date(), local.hour, local.minute) == (tomorrow.date(), 10, 30)
    session.commit()
    report = text_of(owner.get(f"/broadcasts/{made.id}"))
    assert "Scheduled</span>" in report and "Starts " in report and "10:30 AM" in report


def test_a_stop_finding_blocks_sending(owner, three, session):
    shortened = {"text": "Book your spot: https://bit.ly/bloom-holiday"}
    page = text_of(compose(owner, **shortened))
    assert re.search(r'class="finding stop"><span class="badge stop">Must change', page)
    assert 'name="checked"' in page and 'value="send"' not in page  # no Send button
    # Sending anyway (a form from before) is refused next to the text; nothing is created.
    checked = compose(owner, **shortened).get_data(as_text=True)
    forced = post(owner, "/broadcasts/new", {**DRAFT, **shortened, "action": "send",
                                             "checked": digest(checked)},
                  token_path="/broadcasts/new")  # fmt: skip
    assert forced.status_code == 422
    assert 'id="f-text-error"' in forced.get_data(as_text=True)
    assert count(session) == 0


def test_bad_input_is_shown_next_to_its_field_and_nothing_is_created(owner, three, session):
    answer = compose(owner, who="some", min_visits="5", max_visits="2", per_hour="0")
    assert answer.status_code == 422
    page = text_of(answer)
    assert re.search(r'id="f-min_visits-error">The fewest visits is more than the most', page)
    assert 'id="f-per_hour-error"' in page
    missing = text_of(compose(owner, when="later", start_date=""))
    assert 'id="f-start_date-error">Pick a date and a time' in missing
    unknown = text_of(compose(owner, text="Hi [Nickname] {{ nickname }}"))
    assert 'id="f-text-error"' in unknown
    assert count(session) == 0


def made_by_api(story, body="Closed Monday for the holiday", **fields) -> int:
    return api_broadcast(story, body, title="Holiday", **fields)["id"]


def state_of(session: Session, broadcast_id: int) -> Broadcast:
    found = session.get(Broadcast, broadcast_id, populate_existing=True)
    session.commit()
    return found


def test_pause_resume_and_cancel_need_csrf_and_work(owner, three, session, clock):
    broadcast_id = made_by_api(three, start_at=(clock.now() + timedelta(days=1)).isoformat())
    page = owner.get(f"/broadcasts/{broadcast_id}").get_data(as_text=True)
    assert "Pause" in page and "data-confirm=" in page  # cancel asks first
    forged = owner.post(f"/broadcasts/{broadcast_id}/pause")  # no CSRF token
    assert forged.status_code == 400
    assert state_of(session, broadcast_id).state == "scheduled"
    token = csrf_token(page)
    for action, state in (("pause", "paused"), ("resume", "scheduled"), ("cancel", "canceled")):
        answer = owner.post(f"/broadcasts/{broadcast_id}/{action}", data={"csrf_token": token})
        assert answer.status_code == 302, action
        assert state_of(session, broadcast_id).state == state
    ended = text_of(owner.get(f"/broadcasts/{broadcast_id}"))
    assert "Canceled" in ended and "/pause" not in ended and "data-live=" not in ended
    again = owner.post(f"/broadcasts/{broadcast_id}/resume", data={"csrf_token": token},
                       follow_redirects=True)  # fmt: skip
    assert "Only a paused broadcast can be resumed." in again.get_data(as_text=True)


def test_another_business_broadcast_is_not_found(owner, session, clock):
    garage = other_business(session, clock)
    theirs = broadcasts.create(session, garage, BroadcastCreate(body="Closed Monday"),
                               now=clock.now())  # fmt: skip
    session.commit()
    assert owner.get(f"/broadcasts/{theirs.id}").status_code == 404
    token = csrf_token(owner.get("/broadcasts/new").get_data(as_text=True))
    answer = owner.post(f"/broadcasts/{theirs.id}/cancel", data={"csrf_token": token})
    assert answer.status_code == 404
    assert state_of(session, theirs.id).state == "sending"


def test_the_conversation_marks_the_broadcast_and_its_answer(owner, three, session):
    broadcast_id = made_by_api(three)
    three.run()
    three.reply("Thanks, see you Tuesday!", phone=FRIEND)
    sam = session.exec(select(Customer).where(Customer.phone == FRIEND)).one()
    session.commit()
    page = text_of(owner.get(f"/conversations/{sam.id}"))
    link = f'<a href="/broadcasts/{broadcast_id}">‘Holiday’</a>'
    assert f"Sent to many as your broadcast {link}" in page
    assert f"Answer to your broadcast {link}" in page
    report = text_of(owner.get(f"/broadcasts/{broadcast_id}"))
    assert re.search(r"Replied</span><span class=\"figure-value\">1<", report)


def test_the_inbox_says_when_a_broadcast_paused_itself(owner, three, session, clock, business):
    broadcast_id = made_by_api(three)
    assert "paused itself" not in owner.get("/inbox").get_data(as_text=True)
    found = broadcasts.get(session, business.id, broadcast_id)
    broadcasts.pause(session, found, reason="The carrier refused the texts of this number.",
                     by="system", now=clock.now())  # fmt: skip
    session.commit()
    inbox = text_of(owner.get("/inbox"))
    assert "Your broadcast ‘Holiday’ paused itself." in inbox
    assert "The carrier refused the texts of this number." in inbox
    assert f'href="/broadcasts/{broadcast_id}"' in inbox
    listing = text_of(owner.get("/broadcasts/"))
    assert "Paused by itself" in listing and "The carrier refused" in listing
