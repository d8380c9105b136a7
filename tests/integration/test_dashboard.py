"""The dashboard's figures, counted by hand on a fixture, read from outside three ways: the
page (/dashboard), its CSV (/dashboard.csv) and the metrics API. A business in Honolulu
(UTC-10) shows that a day is the business's local day: a text at 23:59 on the last day
counts, one at 00:00 the day after does not.

The fixture is written as rows (each with the exact moment it needs); the figures are then
read only through the pages and the API.
"""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from sqlmodel import select

from app.models import (
    Customer,
    DailyFigures,
    Feedback,
    Message,
    Referral,
    TrackedLink,
    Visit,
)
from tests.conftest import ACCOUNT_SID, post_signed
from tests.integration.test_owner_helpers import OVERRIDES, other_business, sign_in

HONOLULU = ZoneInfo("Pacific/Honolulu")
FIRST, LAST = "2026-03-01", "2026-03-07"  # a Sunday to a Saturday


@pytest.fixture
def settings_overrides():
    return OVERRIDES


def hst(day: int, hour: int, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2026, month, day, hour, minute, tzinfo=HONOLULU)


def _customer(session, business, phone, name, created_at) -> Customer:
    customer = Customer(business_id=business.id, phone=phone, name=name, consent="granted",
                        created_at=created_at)  # fmt: skip
    session.add(customer)
    session.flush()
    return customer


def _out(session, business, customer, kind, status, sent_at, *, code=None, words=None,
         tried_at=None, created_at=None):  # fmt: skip
    message = Message(
        business_id=business.id, customer_id=customer.id, direction="outbound",
        body=f"a {kind}", kind=kind, status=status, sent_at=sent_at, error_code=code,
        error_message=words, last_attempt_at=tried_at or sent_at,
        created_at=created_at or sent_at or tried_at, to_number=customer.phone,
    )  # fmt: skip
    session.add(message)
    session.flush()
    return message


def _in(session, business, customer, at):
    session.add(Message(
        business_id=business.id, customer_id=customer.id, direction="inbound", body="a reply",
        kind="manual", status="received", created_at=at,
    ))  # fmt: skip
    session.flush()


def _rating(session, business, customer, score, scale, staff, at, unhappy=False):
    session.add(Feedback(business_id=business.id, customer_id=customer.id, score=score,
                         scale=scale, staff=staff, unhappy=unhappy, created_at=at))  # fmt: skip


@pytest.fixture
def counted(session, business, client, auth):
    """The hand-counted week, 1 to 7 March 2026 in Honolulu."""
    response = client.patch("/api/v1/business", json={"timezone": "Pacific/Honolulu"},
                            headers=auth)  # fmt: skip
    assert response.status_code == 200
    a = _customer(session, business, "+18085550101", "Ana Alvarez", hst(20, 9, month=2))
    b = _customer(session, business, "+18085550102", "Ben Brown", hst(1, 0))  # new: first moment
    c = _customer(session, business, "+18085550103", "Cleo Chen", hst(7, 23, 59))  # new: last
    d = _customer(session, business, "+18085550104", "Dan Diaz", hst(8, 0))  # the day after
    # Texts to customers (alerts to the owner's phone are not theirs).
    _out(session, business, a, "thank_you", "delivered", hst(28, 23, 59, month=2))  # before
    _out(session, business, a, "thank_you", "delivered", hst(1, 0))  # 1
    _out(session, business, a, "review_request", "delivered", hst(2, 10))  # 2
    _out(session, business, b, "review_request", "sent", hst(7, 23, 58))  # 3: last day
    _out(session, business, b, "thank_you", "delivered", hst(8, 0))  # the day after
    _out(session, business, c, "thank_you", "failed", None, code=30007, tried_at=hst(3, 12))
    _out(session, business, c, "manual", "undelivered", hst(4, 12), code=30003)  # 4
    _out(session, business, a, "review_reminder", "delivered", hst(5, 10))  # 5
    _out(session, business, a, "referral_ask", "delivered", hst(6, 10))  # 6
    _out(session, business, a, "alert", "delivered", hst(3, 9))  # the owner's phone
    _out(session, business, a, "manual", "undelivered", hst(5, 15))  # 7: no reason given
    # Replies: Ana writes Monday 19:00 and 19:30, the owner answers Tuesday 9:30 (1 h before
    # closing at 20:00 + 30 min after opening at 9:00 = 90 open minutes); Ben writes at 23:59
    # on the last day, answered at 9:10 the day after (10 open minutes); Cleo is not answered.
    _in(session, business, a, hst(2, 19))
    _in(session, business, a, hst(2, 19, 30))
    _out(session, business, a, "manual", "delivered", hst(3, 9, 30))  # 8
    _in(session, business, c, hst(4, 13))
    _in(session, business, b, hst(7, 23, 59))
    _out(session, business, b, "manual", "delivered", hst(8, 9, 10))  # after the range
    _in(session, business, c, hst(8, 0))  # the day after
    # Ratings: CSAT 5 and 2 (1 of 2 happy), NPS 9 and 3 (0), effort 6 and 2 (mean 4.0).
    _rating(session, business, a, 5, 5, "Ana", hst(1, 0))
    _rating(session, business, b, 2, 5, "Ben", hst(3, 12), unhappy=True)
    _rating(session, business, a, 9, 10, "Ana", hst(3, 13))
    _rating(session, business, b, 3, 10, "Ben", hst(7, 23, 59), unhappy=True)
    _rating(session, business, a, 6, 7, "Ana", hst(5, 12))
    _rating(session, business, b, 2, 7, "Ben", hst(6, 12), unhappy=True)
    _rating(session, business, a, 5, 5, "Ana", hst(8, 0))  # the day after
    _rating(session, business, a, 1, 5, None, hst(28, 23, 59, month=2))  # the day before
    # Visits: Ana 2, Ben 1 (and a canceled one), one with nobody named.
    for staff, at, status in (
        ("Ana", hst(1, 10), "completed"),
        ("Ana", hst(7, 23, 59), "completed"),
        ("Ben", hst(4, 11), "completed"),
        ("Ben", hst(5, 11), "canceled"),
        (None, hst(2, 11), "completed"),
        ("Ana", hst(8, 0), "completed"),
    ):
        session.add(Visit(business_id=business.id, customer_id=a.id, occurred_at=at, staff=staff,
                          status=status))  # fmt: skip
    # Review links: two made in the range, one opened three times.
    for token, customer, at, opens, kind in (
        ("tok-a", a, hst(2, 10), 3, "review"), ("tok-b", b, hst(7, 23, 58), 0, "review"),
        ("tok-c", d, hst(8, 0), 1, "review"), ("tok-d", a, hst(3, 9), 1, "conversation"),
    ):  # fmt: skip
        session.add(TrackedLink(token=token, business_id=business.id, customer_id=customer.id,
                                kind=kind, target_url="https://g.page/r/bloom/review",
                                opened_at=at + timedelta(hours=1) if opens else None,
                                open_count=opens, created_at=at))  # fmt: skip
    # Referrals: Ana sent Ben (arrived at the first moment, first visit at the last minute,
    # rewarded the day after), Cleo (arrived at the last minute) and Dan (the day after); Eve
    # arrived through Ben the day before, visited on the 2nd and was rewarded on the 3rd.
    e = _customer(session, business, "+18085550105", "Eve Evans", hst(20, 9, month=2))
    for referrer, friend, arrived, converted, rewarded in (
        (a, b, hst(1, 0), hst(7, 23, 59), hst(8, 0)),
        (a, c, hst(7, 23, 59), None, None),
        (a, d, hst(8, 0), hst(8, 1), None),
        (b, e, hst(28, 23, 59, month=2), hst(2, 10), hst(3, 10)),
    ):
        state = "rewarded" if rewarded else "converted" if converted else "lead"
        session.add(Referral(business_id=business.id, referrer_id=referrer.id,
                             friend_id=friend.id, state=state, source="link", created_at=arrived,
                             converted_at=converted, rewarded_at=rewarded))  # fmt: skip
    session.commit()
    return business


EXPECTED = {
    "range.first_day": FIRST,
    "range.last_day": LAST,
    "range.timezone": "Pacific/Honolulu",
    "texts.sent": "8",  # 1-8 above
    "texts.delivered": "5",  # 1, 2, 5, 6, 8
    "texts.delivery_rate": "62.5",
    "texts.failed": "3",
    "texts.failures.30007.Filtered by the carrier as spam.": "1",
    "texts.failures.30003.The phone was unreachable.": "1",
    "texts.failures.none.The carrier did not deliver it.": "1",
    "replies.received": "4",
    "replies.waits": "3",
    "replies.answered": "2",
    "replies.median_first_response_minutes": "50.0",  # (90 + 10) / 2
    "automated_texts_sent": "5",  # 1, 2, 3, 5, 6
    "reply_rate": "60.0",  # 1 and 2 (Ana wrote on the 2nd), 3 (Ben at 23:59)
    "reviews.requests": "2",
    "reviews.reminders": "1",
    "reviews.links_sent": "2",
    "reviews.links_opened": "1",
    "reviews.link_opens": "3",
    "reviews.open_rate": "50.0",
    "csat": "50.0",
    "csat_answers": "2",
    "nps": "0.0",
    "nps_answers": "2",
    "ces": "4.0",
    "ces_easy": "50.0",
    "ces_answers": "2",
    "unhappy_replies": "3",
    "new_customers": "2",  # Ben at 00:00 on the 1st, Cleo at 23:59 on the 7th
    "referrals.asks_sent": "1",
    "referrals.leads": "2",  # Ben at 00:00 on the 1st, Cleo at 23:59 on the 7th
    "referrals.converted": "2",  # Eve on the 2nd, Ben at 23:59 on the 7th
    "referrals.rewarded": "1",  # Eve's (Ben's came the day after)
    "referrals.top.1.friends": "2",  # Ana: Ben and Cleo arrived in the range
    "referrals.top.1.converted": "1",
    "staff.(no one named).visits": "1",
    "staff.Ana.visits": "2",
    "staff.Ana.csat": "100.0",
    "staff.Ana.nps": "100.0",
    "staff.Ana.ces": "6.0",
    "staff.Ben.visits": "1",
    "staff.Ben.csat": "0.0",
    "staff.Ben.nps": "-100.0",
    "staff.Ben.ces": "2.0",
    "staff.Ben.ces_easy": "0.0",
    "trend.2026-03-01.csat": "100.0",
    "trend.2026-03-02.csat": "",
    "trend.2026-03-03.csat": "0.0",
    "trend.2026-03-03.nps": "100.0",
    "trend.2026-03-05.ces": "6.0",
    "trend.2026-03-06.ces": "2.0",
    "trend.2026-03-07.nps": "-100.0",
    "trend.2026-03-07.nps_answers": "1",
}


def page_figures(html: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for key, value in re.findall(r'data-figure="([^"]*)" data-value="([^"]*)"', html):
        key, value = _unescape(key), _unescape(value)
        assert found.setdefault(key, value) == value, f"{key} shows two values"
    return found


def _unescape(text: str) -> str:
    return html.unescape(text)


def csv_figures(raw: str) -> dict[str, str]:
    rows = list(csv.reader(io.StringIO(raw)))
    assert rows[0] == ["figure", "value", "key"]
    return {key: value for _label, value, key in rows[1:]}


def test_every_figure_matches_the_hand_count_on_page_csv_and_api(counted, client, auth):
    sign_in(client)
    page = client.get(f"/dashboard?from={FIRST}&to={LAST}")
    assert page.status_code == 200
    shown = page_figures(page.get_data(as_text=True))
    download = client.get(f"/dashboard.csv?from={FIRST}&to={LAST}")
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert "attachment" in download.headers["Content-Disposition"]
    written = csv_figures(download.get_data(as_text=True))

    assert shown == written  # the page and the CSV are the same figures
    for key, value in EXPECTED.items():
        assert written[key] == value, key
    assert len([k for k in written if k.startswith("trend.") and k.endswith(".csat")]) == 7

    api = client.get(f"/api/v1/metrics?from={FIRST}&to={LAST}", headers=auth).json
    assert api["first_day"] == FIRST and api["last_day"] == LAST
    assert api["from"].startswith("2026-03-01T10:00:00") and api["to"].startswith("2026-03-08T10")
    assert (api["texts"]["sent"], api["texts"]["delivered"], api["texts"]["failed"]) == (8, 5, 3)
    assert api["texts"]["delivery_rate"] == 62.5
    assert {f["error_code"]: f["count"] for f in api["texts"]["failures"]} == {
        30007: 1, 30003: 1, None: 1}  # fmt: skip
    assert api["replies"] == {"received": 4, "waits": 3, "answered": 2,
                              "median_first_response_minutes": 50.0}  # fmt: skip
    assert api["reviews"] == {"requests": 2, "reminders": 1, "links_sent": 2, "links_opened": 1,
                              "link_opens": 3, "open_rate": 50.0}  # fmt: skip
    assert (api["csat"], api["nps"], api["ces"], api["ces_easy"]) == (50.0, 0.0, 4.0, 50.0)
    assert api["new_customers"] == 2
    assert {k: v for k, v in api["referrals"].items() if k != "top_referrers"} == {
        "asks_sent": 1, "leads": 2, "converted": 2, "rewarded": 1}  # fmt: skip
    [top] = api["referrals"]["top_referrers"]  # Ben's friend arrived before the range
    assert (top["name"], top["friends"], top["converted"]) == ("Ana Alvarez", 2, 1)
    assert api["automated_texts_sent"] == 5 and api["reply_rate"] == 60.0
    assert api["review_links_sent"] == 2 and api["review_link_open_rate"] == 50.0
    assert api["texts_by_status"] == {"delivered": 6, "sent": 1, "failed": 1, "undelivered": 2}
    assert api["trend_period"] == "day" and len(api["trend"]) == 7
    assert [p["csat"] for p in api["trend"]] == [100.0, None, 0.0, None, None, None, None]
    staff = {row["staff"]: row for row in api["staff"]}
    assert staff[None]["visits"] == 1 and staff["Ana"]["visits"] == 2
    assert (staff["Ben"]["csat"], staff["Ben"]["nps"], staff["Ben"]["ces"]) == (0.0, -100.0, 2.0)
    # The API's figures are the page's: every one the CSV writes, compared.
    assert written["texts.sent"] == str(api["texts"]["sent"])
    assert written["replies.median_first_response_minutes"] == "50.0"

    # The same days asked as moments answer the same.
    moments = client.get("/api/v1/metrics?from=2026-03-01T00:00:00&to=2026-03-08T00:00:00",
                         headers=auth).json  # fmt: skip
    assert moments == api


RANGE_FIELDS = ("from", "to", "first_day", "last_day", "trend", "trend_period")


def _counted_now(client, auth, zone="-10:00"):
    """The hand-counted days' figures, asked from half a minute before the first day (when
    nothing happened): a range that cuts a day is always counted, never read from kept
    days, so it is what the kept figures must be."""
    moments = client.get(f"/api/v1/metrics?from=2026-02-28T23:59:30{zone}&"
                         f"to=2026-03-08T00:00:00{zone}", headers=auth)  # fmt: skip
    return _figures_only(moments.json)


def _figures_only(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if key not in RANGE_FIELDS}


def test_closed_days_are_kept_and_late_news_counts_them_again(counted, client, auth, clock,
                                                              session):  # fmt: skip
    """A day is counted once a week after it ends and kept; a delivery report, a review link
    opened and a visit recorded weeks later count their day again. Read from outside."""
    ask = f"/api/v1/metrics?from={FIRST}&to={LAST}"
    before = client.get(ask, headers=auth).json  # on the 10th: the 1st and 2nd are closed
    clock.set(hst(30, 12))
    assert client.get(ask, headers=auth).json == before
    assert _figures_only(before) == _counted_now(client, auth)
    kept = session.exec(select(DailyFigures).where(DailyFigures.business_id == counted.id)).all()
    assert sorted(str(row.day) for row in kept if row.figures) == [
        f"2026-03-0{day}" for day in range(1, 8)]  # fmt: skip
    # Kept, not counted again: a rating removed behind the app's back still counts.
    session.execute(sa.text("DELETE FROM feedback WHERE score = 9"))
    session.commit()
    assert client.get(ask, headers=auth).json["nps_answers"] == 2
    assert _counted_now(client, auth)["nps_answers"] == 1

    # Ben's review request of the 7th, delivered (Twilio says) on the 30th.
    text = session.exec(select(Message).where(Message.kind == "review_request",
                                              Message.status == "sent")).one()  # fmt: skip
    text.provider_sid = "SM" + "7" * 32
    session.commit()
    form = {"MessageSid": text.provider_sid, "SmsSid": text.provider_sid,
            "AccountSid": ACCOUNT_SID, "From": "+12125550100", "To": text.to_number,
            "MessageStatus": "delivered", "SmsStatus": "delivered"}  # fmt: skip
    assert post_signed(client, f"/webhooks/twilio/status?mid={text.id}", form).status_code in (
        200, 204)  # fmt: skip
    # Ben opens his review link of the 7th; a visit of the 4th is recorded.
    assert client.get("/l/tok-b").status_code == 302
    visit = client.post(
        "/api/v1/visits",
        headers=auth,
        json={"phone": "+18085550102", "staff": "Ana", "occurred_at": "2026-03-04T12:00:00-10:00"},
    )
    assert visit.status_code == 201, visit.json
    after = client.get(ask, headers=auth).json
    assert after["texts"]["delivered"] == before["texts"]["delivered"] + 1
    assert after["reviews"]["links_opened"] == 2 and after["reviews"]["link_opens"] == 4
    staff = {row["staff"]: row["visits"] for row in after["staff"]}
    assert staff["Ana"] == 3
    assert _figures_only(after) == _counted_now(client, auth)


def test_a_kept_days_replies_are_counted_until_a_week_has_passed(counted, client, auth, clock):
    """On the 10th the 4th's counts are kept, but the owner can still answer Cleo, who wrote
    on the 4th: her wait counts as answered, and stays so once the 4th's replies are kept."""
    ask = f"/api/v1/metrics?from={FIRST}&to={LAST}"
    assert client.get(ask, headers=auth).json["replies"]["answered"] == 2
    answer = client.post(
        "/api/v1/messages",
        headers=auth,
        json={"phone": "+18085550103", "body": "So sorry, Cleo: call me?"},
    )
    assert answer.status_code in (200, 201, 202), answer.json
    replies = client.get(ask, headers=auth).json["replies"]
    assert (replies["waits"], replies["answered"]) == (3, 3)
    clock.set(hst(30, 12))
    assert client.get(ask, headers=auth).json["replies"] == replies
    assert _counted_now(client, auth)["replies"] == replies


def test_a_new_time_zone_counts_the_kept_days_again(counted, client, auth, clock):
    ask = f"/api/v1/metrics?from={FIRST}&to={LAST}"
    clock.set(hst(30, 12))
    assert client.get(ask, headers=auth).json["texts"]["sent"] == 8
    assert client.patch("/api/v1/business", json={"timezone": "America/New_York"},
                        headers=auth).status_code == 200  # fmt: skip
    new_york = client.get(ask, headers=auth).json
    assert new_york["timezone"] == "America/New_York"
    # New York is 5 hours ahead: Ben's review link at 23:58 on the 7th in Honolulu is the 8th
    assert new_york["reviews"]["links_sent"] == 1
    assert _figures_only(new_york) == _counted_now(client, auth, zone="-05:00")


def test_a_minute_either_side_of_the_range(counted, client, auth):
    """One day more on either side takes in the texts at 23:59 before and 00:00 after."""
    wider = client.get("/api/v1/metrics?from=2026-02-28&to=2026-03-08", headers=auth).json
    assert wider["texts"]["sent"] == 8 + 3  # the thank-yous at 23:59 before, 00:00 and 9:10 after
    assert wider["new_customers"] == 3 and wider["csat_answers"] == 4
    only_last = client.get(f"/api/v1/metrics?from={LAST}&to={LAST}", headers=auth).json
    assert only_last["texts"]["sent"] == 1 and only_last["replies"]["received"] == 1
    assert only_last["new_customers"] == 1 and only_last["nps_answers"] == 1


def test_presets_and_a_long_range_draw_weeks(counted, client, clock):
    sign_in(client)
    clock.set(hst(7, 12))
    week = page_figures(client.get("/dashboard?days=7").get_data(as_text=True))
    assert (week["range.first_day"], week["range.last_day"]) == (FIRST, LAST)
    assert week["texts.sent"] == "8"  # today is a whole day, as the others
    assert page_figures(client.get("/dashboard").get_data(as_text=True))["range.first_day"] == (
        "2026-02-06"
    )  # 30 days by default
    quarter = client.get("/dashboard?days=90")
    assert quarter.status_code == 200
    written = csv_figures(client.get("/dashboard.csv?from=2026-01-01&to=2026-03-31").get_data(
        as_text=True))  # fmt: skip
    assert written["csat_answers"] == "4"
    weeks = [k for k in written if k.startswith("trend.") and k.endswith(".csat")]
    assert len(weeks) == 13  # 90 days drawn as 13 weeks
    assert "<svg" in quarter.get_data(as_text=True)


@pytest.mark.parametrize(
    "query", ["from=2026-03-08&to=2026-03-01", "from=2025-01-01&to=2026-03-01", "days=12",
              "from=2026-02-30"],
)  # fmt: skip
def test_bad_ranges_are_refused_clearly(counted, client, query):
    sign_in(client)
    page = client.get(f"/dashboard?{query}")
    assert page.status_code == 422
    assert 'role="alert"' in page.get_data(as_text=True)
    assert client.get(f"/dashboard.csv?{query}").status_code == 422


def test_the_dashboard_needs_sign_in_and_shows_only_this_business(counted, client, session,
                                                                    clock):  # fmt: skip
    assert client.get("/dashboard").status_code == 302
    assert client.get("/dashboard.csv").status_code == 302
    other_business(session, clock)
    sign_in(client, "owner@garage.test", "garage owner password")
    figures = csv_figures(client.get(f"/dashboard.csv?from={FIRST}&to={LAST}").get_data(
        as_text=True))  # fmt: skip
    assert figures["texts.sent"] == "0" and figures["csat_answers"] == "0"
    assert figures["range.timezone"] == "America/Chicago"


def test_the_page_loads_nothing_from_elsewhere_and_has_no_inline_script(counted, client):
    sign_in(client)
    response = client.get(f"/dashboard?from={FIRST}&to={LAST}")
    page = response.get_data(as_text=True)
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    assert not re.search(r"<script(?![^>]*\bsrc=)", page)
    assert " style=" not in page and "http://" not in page.replace("http://www.w3.org", "")
    assert 'href="/dashboard"' in page  # in the tabs


def test_a_wait_over_the_change_of_clocks_counts_only_opening_hours(session, business, auth,
                                                                    client):  # fmt: skip
    """New York moves its clocks on Sunday 8 March 2026: Saturday 19:00 to Monday 9:30 is
    60 + 660 + 30 open minutes (9:00 to 20:00 each day), the lost hour at night changes none."""
    ny = ZoneInfo("America/New_York")
    maria = _customer(session, business, "+12125550161", "Maria Lopez",
                      datetime(2026, 3, 1, 9, tzinfo=ny))  # fmt: skip
    _in(session, business, maria, datetime(2026, 3, 7, 19, tzinfo=ny))
    _out(session, business, maria, "manual", "delivered", datetime(2026, 3, 9, 9, 30, tzinfo=ny))
    session.commit()
    api = client.get("/api/v1/metrics?from=2026-03-07&to=2026-03-07", headers=auth).json
    assert api["replies"]["median_first_response_minutes"] == 750.0
    from app.care.automations import opening_hours

    hours = opening_hours(business)
    waited = hours.open_seconds(datetime(2026, 3, 9, 9, 30, tzinfo=ny)) - hours.open_seconds(
        datetime(2026, 3, 7, 19, tzinfo=ny))  # fmt: skip
    assert waited == 750 * 60  # the same rule in Python
