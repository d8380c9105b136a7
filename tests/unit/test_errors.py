"""Provider errors (app/sms/errors.py): FACTS.md's table, code first, HTTP status second."""

from __future__ import annotations

import pytest

from app.sms.errors import ERRORS, Action, classify, reason_for

FACTS_TABLE = [
    pytest.param(21610, Action.OPTED_OUT, id="21610-opted-out"),
    pytest.param(21211, Action.BAD_NUMBER, id="21211-invalid-number"),
    pytest.param(21614, Action.BAD_NUMBER, id="21614-not-sms-capable"),
    pytest.param(21611, Action.SLOW_DOWN, id="21611-queue-full"),
    pytest.param(30001, Action.SLOW_DOWN, id="30001-queue-overflow"),
    pytest.param(20429, Action.RETRY, id="20429-too-many-requests"),
    pytest.param(30003, Action.UNREACHABLE, id="30003-unreachable"),
    pytest.param(30005, Action.LANDLINE, id="30005-unknown-handset"),
    pytest.param(30006, Action.LANDLINE, id="30006-landline"),
    pytest.param(30004, Action.BLOCKED, id="30004-blocked"),
    pytest.param(30007, Action.BLOCKED, id="30007-filtered"),
    pytest.param(30032, Action.CONFIGURATION, id="30032-toll-free-unverified"),
    pytest.param(30034, Action.CONFIGURATION, id="30034-10dlc-unregistered"),
]


@pytest.mark.parametrize(("code", "action"), FACTS_TABLE)
def test_facts_table_codes(code, action):
    rule = classify(code)
    assert rule.action is action
    assert rule.reason and rule.reason == reason_for(code)


@pytest.mark.parametrize(("code", "action"), FACTS_TABLE)
def test_code_wins_over_the_http_status(code, action):
    # Twilio answers 400 for refused texts and 429 for 20429; the code decides either way.
    assert classify(code, 400).action is action
    assert classify(code, 429).action is action


def test_every_code_in_the_table_is_covered_above():
    assert set(ERRORS) == {p.values[0] for p in FACTS_TABLE}


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, 599])
def test_transient_http_statuses_retry(status):
    rule = classify(None, status)
    assert rule.action is Action.RETRY
    assert str(status) in rule.reason


def test_request_timeout_retries():
    assert classify(None, 408).action is Action.RETRY


def test_no_answer_at_all_retries():
    # A connect error or timeout before the request reached Twilio: no code, no status.
    rule = classify(None, None)
    assert rule.action is Action.RETRY
    assert rule.reason


def test_5xx_with_an_unknown_code_retries():
    assert classify(20500, 500).action is Action.RETRY
    assert classify(99999, 503).action is Action.RETRY


@pytest.mark.parametrize(
    ("code", "status"),
    [
        (21999, 400),  # unknown Twilio 4xx code
        (21606, 400),  # 'From' is not a valid, SMS-capable number: not in the table
        (20003, 401),  # authentication failed
        (20404, 404),
        (None, 400),
        (None, 401),
        (None, 403),
        (None, 404),
        (None, 422),
        (30008, None),  # unknown error reported by a status callback
    ],
)
def test_unknown_4xx_and_unknown_codes_fail(code, status):
    rule = classify(code, status)
    assert rule.action is Action.FAIL
    assert (str(code) if code is not None else str(status)) in rule.reason


def test_actions_that_must_never_resend():
    # Permanent or ambiguous outcomes: the dispatcher must not blindly try again.
    for code in (21610, 21211, 21614, 30003, 30004, 30005, 30006, 30007, 30032, 30034):
        assert classify(code).action not in {Action.RETRY, Action.SLOW_DOWN}


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        (None, None),
        (21610, "The customer has opted out (texted STOP)."),
        (12345, "Provider error 12345."),
    ],
)
def test_reason_for(code, expected):
    assert reason_for(code) == expected
