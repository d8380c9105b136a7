"""The inbox and one conversation: order, counts, filters, search, pages, live updates, the
composer's rules and warnings, scheduled texts, handled state, notes and tags."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlmodel import select

from app.care.customers import set_consent
from app.care.outbound import queue_text
from app.care.visits import record_visit
from app.contract.commands import VisitCreate
from app.models import Customer, Message
from app.sms.encoding import segment_info
from app.web.owner import UCS2_NOTE
from tests.integration.test_owner_helpers import (
    OVERRIDES,
    conversation_with,
    messages_of,
    post,
    sign_in,
)


@pytest.fixture
def settings_overrides():
    return OVERRIDES


@pytest.fixture
def owner(client, business):
    sign_in(client)
    return client


def names_in(page: str) -> list[str]:
    return re.findall(r'<span class="name">([^<]+)</span>', page)


def named(session, customer, name):
    customer.name = name
    session.add(customer)
    session.commit()
    return customer


def test_inbox_lists_conversations_newest_first_with_unread_counts(owner, business, session, clock):
    old = named(
        session,
        conversation_with(
            session, business, "+12125550141", "First", clock=clock, sid="SM" + "1" * 32
        ),
        "Olga Old",
    )
    new = named(
        session,
        conversation_with(
            session, business, "+12125550142", "Second", clock=clock, sid="SM" + "2" * 32, minutes=5
        ),
        "Nina New",
    )
    conversation_with(
        session, business, "+12125550142", "Third", clock=clock, sid="SM" + "3" * 32, minutes=6
    )
    page = owner.get("/inbox").get_data(as_text=True)
    assert names_in(page) == ["Nina New", "Olga Old"]
    assert "2 new" in page and "1 new" in page and "Third" in page
    assert old.id != new.id


def test_opening_a_conversation_marks_it_read(owner, business, session, clock):
    customer = conversation_with(
        session, business, "+12125550143", "Hello?", clock=clock, sid="SM" + "4" * 32
    )
    session.commit()
    assert owner.get(f"/conversations/{customer.id}").status_code == 200
    session.refresh(customer)
    assert customer.unread_count == 0 and customer.needs_reply
    session.commit()
    assert "new</span>" not in owner.get("/inbox").get_data(as_text=True)


def test_filters_needs_reply_unread_and_unhappy(owner, business, session, clock):
    waiting = named(
        session,
        conversation_with(
            session, business, "+12125550144", "Any slots?", clock=clock, sid="SM" + "5" * 32
        ),
        "Wanda Waits",
    )
    answered = named(
        session,
        conversation_with(
            session, business, "+12125550145", "Thanks", clock=clock, sid="SM" + "6" * 32
        ),
        "Andy Answered",
    )
    answered.needs_reply = False
    answered.unread_count = 0
    unhappy = named(
        session,
        conversation_with(
            session, business, "+12125550146", "Awful cut", clock=clock, sid="SM" + "7" * 32
        ),
        "Ursula Upset",
    )
    unhappy.unhappy_at = clock.now()
    session.add_all([answered, unhappy])
    session.commit()
    assert names_in(owner.get("/inbox?filter=needs_reply").get_data(as_text=True)) == [
        "Ursula Upset",
        "Wanda Waits",
    ]
    assert "Andy" not in owner.get("/inbox?filter=unread").get_data(as_text=True)
    assert names_in(owner.get("/inbox?filter=unhappy").get_data(as_text=True)) == ["Ursula Upset"]
    assert len(names_in(owner.get("/inbox").get_data(as_text=True))) == 3
    assert waiting.id


def test_search_by_name_or_phone_digits(owner, business, session, clock):
    named(
        session,
        conversation_with(
            session, business, "+12125550147", "Hi", clock=clock, sid="SM" + "8" * 32
        ),
        "Priya Shah",
    )
    named(
        session,
        conversation_with(
            session, business, "+13125550148", "Hi", clock=clock, sid="SM" + "9" * 32
        ),
        "Tom O'Neill",
    )
    assert names_in(owner.get("/inbox?q=priya").get_data(as_text=True)) == ["Priya Shah"]
    assert names_in(owner.get("/inbox?q=(312) 555").get_data(as_text=True)) == ["Tom O&#39;Neill"]
    assert names_in(owner.get("/inbox?q=0147").get_data(as_text=True)) == ["Priya Shah"]
    assert names_in(owner.get("/inbox?q=100%25").get_data(as_text=True)) == []


def test_inbox_pages_with_a_cursor_and_no_overlap(owner, business, session, clock):
    for n in range(30):
        named(
            session,
            conversation_with(
                session,
                business,
                f"+1212555{1000 + n:04d}",
                "Hi",
                clock=clock,
                sid=f"SM{n:032d}",
                minutes=n,
            ),
            f"Customer {n:02d}",
        )
    first = owner.get("/inbox").get_data(as_text=True)
    names = names_in(first)
    assert names == [f"Customer {n:02d}" for n in range(29, 4, -1)]
    older = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    second = owner.get(older).get_data(as_text=True)
    assert names_in(second) == [f"Customer {n:02d}" for n in range(4, -1, -1)]
    assert 'rel="next"' not in second and ">Newest<" in second
    assert owner.get("/inbox?after=garbage").status_code == 200


def test_the_live_fragment_answers_304_until_something_changes(owner, business, session, clock):
    customer = conversation_with(
        session, business, "+12125550149", "First text", clock=clock, sid="SM" + "a" * 32
    )
    session.commit()
    page = owner.get("/inbox").get_data(as_text=True)
    etag = re.search(r'data-etag="([^"]+)"', page).group(1).replace("&#34;", '"')
    live = {"X-Requested-With": "fetch"}
    assert owner.get("/inbox", headers={**live, "If-None-Match": etag}).status_code == 304
    conversation_with(
        session,
        business,
        "+12125550149",
        "A new text arrives",
        clock=clock,
        sid="SM" + "b" * 32,
        minutes=1,
    )
    changed = owner.get("/inbox", headers={**live, "If-None-Match": etag})
    assert changed.status_code == 200 and "A new text arrives" in changed.get_data(as_text=True)
    assert "<html" not in changed.get_data(as_text=True)
    thread = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    tag = re.search(r'data-etag="([^"]+)"', thread).group(1).replace("&#34;", '"')
    assert (
        owner.get(
            f"/conversations/{customer.id}", headers={**live, "If-None-Match": tag}
        ).status_code
        == 304
    )


def test_live_polls_of_a_signed_out_page_get_401(client, business):
    assert client.get("/inbox", headers={"X-Requested-With": "fetch"}).status_code == 401


# ---- the conversation ---------------------------------------------------------------------


@pytest.fixture
def maria(session, business, clock):
    customer = conversation_with(
        session,
        business,
        "+12125550111",
        "Can I book for Friday?",
        clock=clock,
        sid="SM" + "c" * 32,
    )
    customer.name = "Maria Lopez"
    set_consent(session, customer, "granted", source="form", now=clock.now())
    session.add(customer)
    session.commit()
    return customer


def test_a_reply_is_queued_with_merge_fields_and_clears_needs_reply(owner, maria, session):
    response = post(
        owner,
        f"/conversations/{maria.id}/send",
        {"body": "Hi {{ first_name }}, Friday at 3 works!"},
    )
    assert response.status_code == 302
    sent = [m for m in messages_of(session, maria.id) if m.direction == "outbound"]
    assert len(sent) == 1
    assert sent[0].kind == "manual" and sent[0].status == "scheduled" and sent[0].user_id
    assert sent[0].body.startswith("Bloom Hair Studio: Hi Maria, Friday at 3 works!")
    session.refresh(maria)
    assert not maria.needs_reply
    session.commit()
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert "Hi Maria, Friday at 3 works!" in page and "Sending…" in page
    assert "Cancel this text" not in page  # it goes now: nothing to cancel, never "Scheduled"


def test_an_unknown_merge_field_is_refused_with_the_draft_kept(owner, maria, session):
    response = post(owner, f"/conversations/{maria.id}/send", {"body": "Hi {{ nickname }}"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "There is no fill-in called nickname" in page and "Hi {{ nickname }}</textarea>" in page
    assert [m for m in messages_of(session, maria.id) if m.direction == "outbound"] == []


def test_opted_out_customers_are_warned_about_and_refused(owner, maria, session, clock):
    set_consent(session, maria, "opted_out", source="keyword", now=clock.now())
    session.commit()
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert "You cannot text Maria" in page and "opted out" in page
    assert 'name="body"' not in page  # no composer at all
    refused = post(owner, f"/conversations/{maria.id}/send", {"body": "Please come back"})
    assert refused.status_code == 409
    assert [m for m in messages_of(session, maria.id) if m.direction == "outbound"] == []


def test_customers_without_consent_who_never_texted_cannot_be_texted(
    owner, business, session, clock
):
    record_visit(session, business, VisitCreate(phone="+12125550160", name="Cal"), now=clock.now())
    cal = session.exec(select(Customer).where(Customer.phone == "+12125550160")).one()
    session.commit()
    page = owner.get(f"/conversations/{cal.id}").get_data(as_text=True)
    assert "has not agreed to texts" in page and "Record consent" in page
    assert post(owner, f"/conversations/{cal.id}/send", {"body": "Hi"}).status_code == 409
    assert [m for m in messages_of(session, cal.id) if m.direction == "outbound"] == []


def test_a_customer_who_texted_first_may_be_answered_with_a_consent_note(
    owner, business, session, clock
):
    customer = conversation_with(
        session, business, "+12125550161", "Open Sunday?", clock=clock, sid="SM" + "d" * 32
    )
    session.commit()
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert "No consent is recorded" in page and 'name="body"' in page
    assert (
        post(owner, f"/conversations/{customer.id}/send", {"body": "Yes, 10-4"}).status_code == 302
    )


def test_outside_the_window_the_owner_is_warned_and_must_confirm(owner, maria, session, clock):
    clock.set(datetime(2026, 3, 11, 3, 30, tzinfo=UTC))  # 23:30 in New York
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert "It is 11:30 PM for Maria" in page and "outside their usual hours" in page
    assert "Send anyway" in page and 'name="window_ack" value="1"' in page
    unconfirmed = post(owner, f"/conversations/{maria.id}/send", {"body": "Late note"})
    assert unconfirmed.status_code == 409
    assert "Late note</textarea>" in unconfirmed.get_data(as_text=True)
    assert [m for m in messages_of(session, maria.id) if m.direction == "outbound"] == []
    confirmed = post(
        owner, f"/conversations/{maria.id}/send", {"body": "Late note", "window_ack": "1"}
    )
    assert confirmed.status_code == 302
    sent = [m for m in messages_of(session, maria.id) if m.direction == "outbound"]
    assert len(sent) == 1 and sent[0].send_at == clock.now()  # a typed text goes at once


def test_states_show_in_bubbles_with_human_reasons(owner, maria, session, business, clock):
    delivered = queue_text(session, business, maria, "Delivered one", "manual", now=clock.now())
    failed = queue_text(session, business, maria, "Failed one", "manual", now=clock.now())
    later = queue_text(
        session,
        business,
        maria,
        "Later one",
        "manual",
        now=clock.now(),
        send_at=clock.now() + timedelta(days=1),
    )
    delivered.status, failed.status = "delivered", "failed"
    failed.error_code = 30007
    session.add_all([delivered, failed])
    session.commit()
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert "Delivered</span>" in page
    assert 'Not delivered</span><span class="reason">: Filtered by the carrier as spam.' in page
    assert "Scheduled for Wed Mar 11, 11:00 AM" in page
    assert f"/messages/{later.id}/cancel" in page
    assert f"/messages/{failed.id}/cancel" not in page


def test_cancel_a_scheduled_text_but_not_a_sent_one(owner, maria, session, business, clock):
    later = queue_text(
        session,
        business,
        maria,
        "Later one",
        "manual",
        now=clock.now(),
        send_at=clock.now() + timedelta(days=1),
    )
    gone = queue_text(session, business, maria, "Gone one", "manual", now=clock.now())
    gone.status = "sent"
    session.add(gone)
    session.commit()
    assert post(owner, f"/conversations/{maria.id}/messages/{later.id}/cancel").status_code == 302
    assert post(owner, f"/conversations/{maria.id}/messages/{gone.id}/cancel").status_code == 302
    assert "no longer scheduled" in owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    statuses = {m.id: m.status for m in messages_of(session, maria.id)}
    assert statuses[later.id] == "canceled" and statuses[gone.id] == "sent"
    session.commit()
    assert post(owner, f"/conversations/{maria.id}/messages/999999/cancel").status_code == 404


def test_mark_handled_takes_it_off_the_needs_reply_list_and_reopen_puts_it_back(
    owner, maria, session
):
    assert post(owner, f"/conversations/{maria.id}/handled").status_code == 302
    session.refresh(maria)
    assert not maria.needs_reply and maria.handled_at is not None
    session.commit()
    assert names_in(owner.get("/inbox?filter=needs_reply").get_data(as_text=True)) == []
    post(owner, f"/conversations/{maria.id}/handled", {"reopen": "1"})
    page = owner.get("/inbox?filter=needs_reply").get_data(as_text=True)
    assert names_in(page) == ["Maria Lopez"]


def test_notes_and_tags_are_saved_from_the_side_panel(owner, maria, session):
    response = post(
        owner,
        f"/conversations/{maria.id}/notes",
        {"notes": "Prefers Ana.\nAllergic to latex.", "tags": "VIP; color, vip"},
    )
    assert response.status_code == 302
    session.refresh(maria)
    assert maria.notes == "Prefers Ana.\nAllergic to latex." and maria.tags == ["color", "vip"]
    session.commit()
    too_many = post(
        owner,
        f"/conversations/{maria.id}/notes",
        {"notes": "", "tags": ",".join(f"t{n}" for n in range(25))},
    )
    assert too_many.status_code == 422


def test_the_side_panel_shows_visits_and_consent_history(owner, maria, session, business, clock):
    record_visit(session, business, VisitCreate(phone=maria.phone, staff="Ana"), now=clock.now())
    session.commit()
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert "with Ana" in page and "agreed to texts" in page and "(agreed at a visit" in page


def test_the_template_picker_offers_saved_texts_rendered_for_this_customer(owner, maria):
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert 'value="thank_you" data-text="Hi Maria, thank you for visiting Bloom' in page
    used = owner.get(f"/conversations/{maria.id}?use=review_request").get_data(as_text=True)
    assert re.search(r'<textarea id="body"[^>]*>Hi Maria, it was a pleasure', used)


def test_the_counter_after_a_refused_send_counts_like_the_server(owner, maria):
    body = "Hello {{ nickname }} 😀"
    page = post(owner, f"/conversations/{maria.id}/send", {"body": body}).get_data(as_text=True)
    info = segment_info(body)
    assert f"{len(body)} characters · {info.segments} text · {UCS2_NOTE}" in page


def test_long_conversations_page_back(owner, maria, session, business, clock):
    for n in range(60):
        session.add(
            Message(
                business_id=business.id,
                customer_id=maria.id,
                direction="inbound",
                body=f"Text number {n}",
                status="received",
                created_at=clock.now(),
            )
        )
    session.commit()
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert "Text number 59" in page and "Text number 9<" not in page
    earlier = re.search(r'href="([^"]+before=\d+)"', page).group(1).replace("&amp;", "&")
    older = owner.get(earlier).get_data(as_text=True)
    assert "Text number 9<" in older and "Text number 59" not in older


def test_unhappy_customer_conversation_offers_the_suggested_reply(owner, business, session, clock):
    business.review_mode = "ask_first"
    session.add(business)
    session.commit()
    record_visit(
        session,
        business,
        VisitCreate(phone="+12125550166", name="Dana Reyes", consent=True),
        now=clock.now(),
    )
    customer = session.exec(select(Customer).where(Customer.phone == "+12125550166")).one()
    customer.awaiting_rating_until = clock.now() + timedelta(days=7)  # the 1-5 question went
    session.add(customer)
    session.commit()
    conversation_with(session, business, "+12125550166", "1", clock=clock, sid="SM" + "5" * 32)
    page = owner.get(f"/conversations/{customer.id}").get_data(as_text=True)
    assert "Dana is unhappy" in page and "rated 1 of 5" in page
    assert "I&#39;m so sorry your visit" in page
    prefilled = owner.get(f"/conversations/{customer.id}?use=suggested").get_data(as_text=True)
    composer = re.search(r'<textarea id="body"[^>]*>([^<]*)</textarea>', prefilled).group(1)
    assert composer.startswith("Hi Dana, it&#39;s Bloom Hair Studio.")
    inbox = owner.get("/inbox?filter=unhappy").get_data(as_text=True)
    assert "Dana Reyes" in inbox


def test_the_composer_offers_fill_ins_as_chips_and_reads_them(owner, maria, session):
    page = owner.get(f"/conversations/{maria.id}").get_data(as_text=True)
    assert 'data-insert="[First name]"' in page and "{{ first_name }}" not in page
    response = post(owner, f"/conversations/{maria.id}/send", {"body": "Hi [First name]!"})
    assert response.status_code == 302
    sent = [m for m in messages_of(session, maria.id) if m.direction == "outbound"]
    assert [m.body for m in sent] == ["Bloom Hair Studio: Hi Maria! Reply STOP to opt out."]
