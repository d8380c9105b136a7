"""The birthday reader and the facts of a customer's visits, as plain functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest

from app.care.facts import fact_words, facts_of, gap_words, ordinal, overdue_after
from app.contract.rules import birthday_words, parse_birthday

READ = [
    ("march 3rd", "03-03"),
    ("March 3", "03-03"),
    ("3/3", "03-03"),
    ("03-03", "03-03"),
    ("3 March", "03-03"),
    ("it's the 3rd of march", "03-03"),
    ("It’s March 3rd!", "03-03"),
    ("my birthday is on the 3rd of March.", "03-03"),
    ("3 de marzo", "03-03"),
    ("el 3 de marzo", "03-03"),
    ("mi cumpleaños es el 3 de marzo", "03-03"),
    ("Mar. 3", "03-03"),
    ("sept 21st", "09-21"),
    ("21 Sep", "09-21"),
    ("1 dic", "12-01"),
    ("12/25", "12-25"),
    ("25/12", "12-25"),  # the first cannot be a month: day first
    ("12/25/1990", "12-25"),
    ("1990-03-03", "03-03"),
    ("March 3, 1990", "03-03"),
    ("02-29", "02-29"),  # a leap day is a birthday too
    ("  JULY   4TH ", "07-04"),
]

REFUSED = [
    ("02-30", "February has no 30th: check the date."),
    ("2/31", "February has no 31st: check the date."),
    ("april 31", "April has no 31st: check the date."),
    ("13-13", "Enter a birthday such as March 3 or 03-03."),
    ("march", "Enter a birthday such as March 3 or 03-03."),
    ("3", "Enter a birthday such as March 3 or 03-03."),
    ("ma 3", "Enter a birthday such as March 3 or 03-03."),  # May? March? Marzo?
    ("yes please", "Enter a birthday such as March 3 or 03-03."),
    ("1990-03", "Enter a birthday such as March 3 or 03-03."),
    ("", "Enter a birthday such as March 3 or 03-03."),
]


@pytest.mark.parametrize(("written", "birthday"), READ)
def test_a_birthday_is_read_the_ways_people_write_it(written, birthday):
    assert parse_birthday(written) == birthday


@pytest.mark.parametrize(("written", "message"), REFUSED)
def test_a_date_that_is_no_birthday_is_refused_in_words(written, message):
    with pytest.raises(ValueError) as refused:
        parse_birthday(written)
    assert str(refused.value) == message


def test_a_birthday_in_words():
    assert birthday_words("03-03") == "March 3" and birthday_words(None) == ""


START = datetime(2026, 1, 5, 15, tzinfo=UTC)


def visit(days: float, staff: str | None = None, amount: int | None = None):
    return (START + timedelta(days=days), staff, amount)


def test_the_facts_of_visits():
    facts = facts_of([visit(0, "Ana", 1000), visit(14, "Bo"), visit(35, "Bo", 2500),
                      visit(56, "Ana")])  # fmt: skip
    assert facts.visit_count == 4
    assert (facts.first_visit_at, facts.last_visit_at) == (START, START + timedelta(days=56))
    assert facts.usual_gap_days == 21  # gaps 14, 21, 21
    assert facts.total_spent_cents == 3500
    assert facts.favourite_staff == "Ana"  # two each: Ana was seen last


def test_no_usual_gap_before_the_third_visit_and_no_total_without_amounts():
    facts = facts_of([visit(0), visit(10)])
    assert facts.usual_gap_days is None and facts.total_spent_cents is None
    assert facts.favourite_staff is None
    assert facts_of([]).visit_count == 0


def test_the_latest_booking_counts():
    later = START + timedelta(days=90)
    assert facts_of([visit(0)], [START + timedelta(days=30), later]).booked_until == later


SETTINGS = SimpleNamespace(overdue_factor=1.5, overdue_floor_days=30, overdue_fixed_days=90)


@pytest.mark.parametrize(("count", "gap", "days"), [
    (3, 21, 31.5),  # 1.5 x 3 weeks
    (5, 7, 30),  # 10.5 days is under the floor
    (2, None, 90),  # fewer than three visits: the fixed days
    (1, None, 90),
])  # fmt: skip
def test_overdue_after(count, gap, days):
    assert overdue_after(SETTINGS, count, gap) == days  # type: ignore[arg-type]


@pytest.mark.parametrize(("days", "words"), [
    (1, "every day"), (4, "every 4 days"), (7, "every week"), (6.96, "every week"),
    (14, "every 2 weeks"), (21, "every 3 weeks"), (30, "every 4 weeks"), (61, "every 2 months"),
    (365, "every year"),
])  # fmt: skip
def test_gap_words(days, words):
    assert gap_words(days) == words


def test_the_line_the_owner_reads():
    assert [ordinal(n) for n in (1, 2, 3, 4, 11, 12, 13, 21, 22, 101, 111)] == [
        "1st",
        "2nd",
        "3rd",
        "4th",
        "11th",
        "12th",
        "13th",
        "21st",
        "22nd",
        "101st",
        "111th",
    ]
    assert " · ".join(fact_words(9, 21, "Ana")) == "9th visit · usually every 3 weeks · sees Ana"
    assert fact_words(1, None, None) == ["1st visit"] and fact_words(0, None, "Ana") == []
