"""The rules that decide whether and when a text may go: queue_text and check_before_send."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func
from sqlmodel import select

from app.care.customers import find_or_create, set_consent
from app.care.outbound import MAX_BODY_CHARS, OutboundRefused, check_before_send, queue_text
from app.models import AUTOMATED_KINDS, Message
from tests.conftest import CUSTOMER_PHONE

NY = ZoneInfo("America/New_York")
CHICAGO = ZoneInfo("America/Chicago")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")
TEXAS_PHONE = "+12145550123"  # Dallas
FLORIDA_PHONE = "+13055550123"  # Miami
CALIFORNIA_PHONE = "+13105550123"  # Los Angeles


def local(zone: ZoneInfo, hour: int, minute: int = 0, day: int = 10) -> datetime:
    """A moment in the fixtures' week: Tuesday 10 March 2026 (day=15 is a Sunday)."""
    return datetime(2026, 3, day, hour, minute, tzinfo=zone)


def add_customer(session, business, clock, phone=CUSTOMER_PHONE, consent="granted", **fields):
    customer, _ = find_or_create(session, business, phone, name="Sam Rivera", now=clock.now())
    if consent != "unknown":
        set_consent(session, customer, consent, source="api", now=clock.now())
    for name, value in fields.items():
        setattr(customer, name, value)
    session.add(customer)
    session.commit()
    return customer


def refused(session, business, customer, body, kind, clock, **kwargs) -> str:
    with pytest.raises(OutboundRefused) as caught:
        queue_text(session, business, customer, body, kind, now=clock.now(), **kwargs)
    session.rollback()
    return caught.value.code


def count_messages(session) -> int:
    total = session.exec(select(func.count(Message.id))).one()
    session.commit()
    return total


# ---- who may be texted ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["manual", "thank_you", "review_request", "auto_reply", "after_hours", "missed_call"]
)
def test_opted_out_customer_is_refused(kind, session, business, clock):
    customer = add_customer(session, business, clock, consent="opted_out")
    assert refused(session, business, customer, "Hello", kind, clock) == "opted_out"
    assert count_messages(session) == 0


def test_an_alert_about_a_customer_goes_to_the_owner_alert_phone(session, business, clock):
    customer = add_customer(session, business, clock, consent="opted_out")
    assert refused(session, business, customer, "Unhappy reply", "alert", clock) == (
        "no_alert_phone"
    )
    business.alert_phone = "+13125550199"
    session.add(business)
    alert = queue_text(session, business, customer, "Unhappy reply", "alert", now=clock.now(),
                       to_number=business.alert_phone)  # fmt: skip
    session.commit()
    assert alert.to_number == "+13125550199"
    assert alert.body == "Unhappy reply"  # no introduction: it is the owner's own phone


def test_opted_out_customer_still_gets_the_one_opt_out_confirmation(session, business, clock):
    customer = add_customer(session, business, clock, consent="opted_out")
    message = queue_text(
        session,
        business,
        customer,
        "You are unsubscribed.",
        "opt_out_confirmation",
        now=clock.now(),
    )
    assert message.status == "scheduled"


@pytest.mark.parametrize("provider_handles_opt_out", [True, False])
def test_help_to_an_opted_out_customer_only_when_the_app_answers_keywords(
    provider_handles_opt_out, session, business, clock
):
    business.provider_handles_opt_out = provider_handles_opt_out
    session.add(business)
    session.commit()
    customer = add_customer(session, business, clock, consent="opted_out")
    if provider_handles_opt_out:
        assert refused(session, business, customer, "Help text", "help", clock) == "opted_out"
    else:
        assert queue_text(session, business, customer, "Help text", "help", now=clock.now())


@pytest.mark.parametrize("kind", sorted(AUTOMATED_KINDS))
def test_automated_kinds_need_recorded_consent(kind, session, business, clock):
    customer = add_customer(
        session, business, clock, consent="unknown", last_inbound_at=clock.now()
    )
    assert refused(session, business, customer, "Thanks!", kind, clock) == "no_consent"


def test_manual_text_to_a_stranger_who_never_texted_is_refused(session, business, clock):
    customer = add_customer(session, business, clock, consent="unknown")
    assert refused(session, business, customer, "Hi there", "manual", clock) == "no_consent"


def test_manual_reply_to_someone_who_texted_in_is_allowed(session, business, clock):
    customer = add_customer(
        session,
        business,
        clock,
        consent="unknown",
        last_inbound_at=clock.now() - timedelta(hours=2),
    )
    message = queue_text(
        session, business, customer, "Yes, we open at 9", "manual", now=clock.now()
    )
    session.commit()
    assert (message.status, message.send_at, message.kind) == ("scheduled", clock.now(), "manual")


def test_bad_number_is_refused(session, business, clock):
    customer = add_customer(session, business, clock, number_status="invalid")
    assert refused(session, business, customer, "Hello", "manual", clock) == "bad_number"


def test_api_refusals_change_nothing(client, auth, session, business, clock):
    stranger = client.post("/api/v1/customers", json={"phone": CUSTOMER_PHONE}, headers=auth)
    assert stranger.status_code == 201
    answer = client.post(
        "/api/v1/messages", json={"customer_id": stranger.json["id"], "body": "Hi"}, headers=auth
    )
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "no_consent"

    gone = add_customer(session, business, clock, phone="+12125550177", consent="opted_out")
    answer = client.post("/api/v1/messages", json={"phone": gone.phone, "body": "Hi"}, headers=auth)
    assert answer.status_code == 409
    assert answer.json["error"]["code"] == "opted_out"
    assert count_messages(session) == 0


# ---- what may be sent -----------------------------------------------------------------------


@pytest.mark.parametrize("body", ["", "   ", "\n\t", None])
def test_empty_body_is_refused(body, session, business, clock):
    customer = add_customer(session, business, clock)
    assert refused(session, business, customer, body, "manual", clock) == "empty_body"


def test_body_longer_than_1600_characters_is_refused(session, business, clock):
    customer = add_customer(session, business, clock, introduced_at=clock.now())
    assert MAX_BODY_CHARS == 1600
    too_long = "x" * 1601
    assert refused(session, business, customer, too_long, "manual", clock) == "body_too_long"
    assert count_messages(session) == 0
    message = queue_text(session, business, customer, "x" * 1600, "manual", now=clock.now())
    assert len(message.body) == 1600
    assert message.segments == 11  # 1600 GSM-7 characters in parts of 153


def test_length_limit_counts_the_introduction(session, business, clock):
    """The first text gains the business name and opt-out words; the limit is on what goes."""
    customer = add_customer(session, business, clock)
    assert refused(session, business, customer, "x" * 1595, "manual", clock) == "body_too_long"


def test_unknown_kind_is_a_programming_error(session, business, clock):
    customer = add_customer(session, business, clock)
    with pytest.raises(ValueError):
        queue_text(session, business, customer, "Hello", "marketing_blast", now=clock.now())


def test_first_text_is_introduced_when_queued(session, business, clock):
    customer = add_customer(session, business, clock)
    message = queue_text(session, business, customer, "See you Friday", "manual", now=clock.now())
    assert message.body == "Bloom Hair Studio: See you Friday. Reply STOP to opt out."
    assert message.encoding == "GSM-7"
    customer.introduced_at = clock.now()
    again = queue_text(session, business, customer, "See you Friday", "manual", now=clock.now())
    assert again.body == "See you Friday"


# ---- when it may be sent --------------------------------------------------------------------


def test_automated_text_at_1955_goes_at_1955(session, business, clock):
    clock.set(local(NY, 19, 55))
    customer = add_customer(session, business, clock)
    message = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    assert message.send_at == local(NY, 19, 55)


@pytest.mark.parametrize(
    ("planned", "expected"),
    [
        (local(NY, 20, 0), local(NY, 9, 0, day=11)),  # the window closes at 20:00
        (local(NY, 23, 30), local(NY, 9, 0, day=11)),
        (local(NY, 7, 0), local(NY, 9, 0)),
        (local(NY, 1, 0, day=11), local(NY, 9, 0, day=11)),
    ],
    ids=["20:00", "23:30", "07:00", "01:00"],
)
def test_automated_text_outside_the_window_moves_to_the_next_opening(
    planned, expected, session, business, clock
):
    clock.set(planned)
    customer = add_customer(session, business, clock)
    message = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    assert message.send_at == expected


def test_automated_text_planned_for_1955_but_claimed_after_closing_waits(session, business, clock):
    """Planned inside the window; by the time the worker gets to it the window has closed."""
    clock.set(local(NY, 19, 55))
    customer = add_customer(session, business, clock)
    message = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    session.commit()
    assert check_before_send(session, message, business, customer, clock.now()).action == "send"

    verdict = check_before_send(session, message, business, customer, local(NY, 20, 1))

    assert verdict.action == "reschedule"
    assert verdict.send_at == local(NY, 9, 0, day=11)


def test_manual_texts_are_not_bound_to_the_window(session, business, clock):
    clock.set(local(NY, 23, 30))
    customer = add_customer(session, business, clock)
    message = queue_text(
        session, business, customer, "Your keys are here", "manual", now=clock.now()
    )
    assert message.send_at == clock.now()
    assert check_before_send(session, message, business, customer, clock.now()).action == "send"


def test_window_is_the_recipients_local_time(session, business, clock):
    """11:00 in New York is 08:00 in Los Angeles: a California customer waits until 09:00."""
    customer = add_customer(session, business, clock, phone=CALIFORNIA_PHONE)
    message = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    assert message.send_at == local(LOS_ANGELES, 9, 0)


def test_texas_sunday_window_opens_at_noon(session, business, clock):
    clock.set(local(CHICAGO, 10, 0, day=15))  # Sunday
    customer = add_customer(session, business, clock, phone=TEXAS_PHONE)
    message = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    assert message.send_at == local(CHICAGO, 12, 0, day=15)


def test_state_law_narrows_a_wide_business_window(session, business, clock):
    business.window_start, business.window_end = "07:00", "21:00"
    session.add(business)
    session.commit()
    clock.set(local(NY, 20, 30))
    new_yorker = add_customer(session, business, clock)
    floridian = add_customer(session, business, clock, phone=FLORIDA_PHONE)

    ny_text = queue_text(session, business, new_yorker, "Thanks!", "thank_you", now=clock.now())
    fl_text = queue_text(session, business, floridian, "Thanks!", "thank_you", now=clock.now())

    assert ny_text.send_at == local(NY, 20, 30)  # federal: until 21:00
    assert fl_text.send_at == local(NY, 8, 0, day=11)  # Florida: 8:00 to 20:00


def test_one_automated_text_per_customer_per_day(session, business, clock):
    customer = add_customer(session, business, clock)
    first = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    second = queue_text(
        session, business, customer, "How was it?", "review_request", now=clock.now()
    )
    manual = queue_text(session, business, customer, "Forgot your scarf", "manual", now=clock.now())
    assert first.send_at == clock.now()
    assert second.send_at == local(NY, 9, 0, day=11)
    assert manual.send_at == clock.now()  # manual texts do not count against the cap


def test_never_more_than_three_automated_texts_in_24_hours(session, business, clock):
    business.daily_automated_cap = 3
    session.add(business)
    session.commit()
    customer = add_customer(session, business, clock)
    times = [
        queue_text(session, business, customer, f"Text {i}", "thank_you", now=clock.now()).send_at
        for i in range(4)
    ]
    assert times[:3] == [clock.now()] * 3
    assert times[3] >= max(times[:3]) + timedelta(hours=24)
    window_hours = times[3].astimezone(NY).hour
    assert 9 <= window_hours < 20


def test_check_before_send_cancels_after_an_opt_out(session, business, clock):
    customer = add_customer(session, business, clock)
    message = queue_text(session, business, customer, "Thanks!", "thank_you", now=clock.now())
    set_consent(session, customer, "opted_out", source="keyword", now=clock.now())
    session.commit()
    verdict = check_before_send(session, message, business, customer, clock.now())
    assert verdict.action == "cancel"


def test_check_before_send_fails_a_bad_number(session, business, clock):
    customer = add_customer(session, business, clock)
    message = queue_text(session, business, customer, "Hello", "manual", now=clock.now())
    customer.number_status = "invalid"
    session.commit()
    assert check_before_send(session, message, business, customer, clock.now()).action == "fail"
