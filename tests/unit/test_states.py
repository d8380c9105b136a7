"""The state machine of a text (app/care/states.py): forward only, end states kept, codes kept."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from app.care import states
from app.models import TERMINAL_STATES, Message, MessageStatus

NOW = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
APP = Path(__file__).parents[2] / "app"
S = MessageStatus


def text(status: str = S.SCHEDULED, **extra) -> Message:
    return Message(business_id=1, customer_id=1, direction="outbound", body="Hi", kind="manual",
                   status=status, send_at=NOW, **extra)  # fmt: skip


def snapshot(message: Message) -> dict:
    return {k: v for k, v in vars(message).items() if not k.startswith("_")}


def test_the_happy_path_moves_forward():
    message = text()
    assert states.claim(message, worker_id="w1", lease_until=NOW + timedelta(minutes=1), now=NOW)
    assert (message.status, message.attempts, message.leased_by) == (S.SENDING, 1, "w1")
    assert states.mark_sent(message, "SM1", now=NOW)
    assert (message.status, message.provider_sid, message.leased_by) == (S.SENT, "SM1", None)
    assert states.report(message, "delivered", now=NOW)
    assert (message.status, message.delivered_at) == (S.DELIVERED, NOW)


@pytest.mark.parametrize("end", sorted(TERMINAL_STATES))
def test_an_end_state_is_never_left(end):
    message = text(end, provider_sid="SM1", error_code=30003)
    before = snapshot(message)
    lease = NOW + timedelta(minutes=1)
    assert not states.claim(message, worker_id="w1", lease_until=lease, now=NOW)
    assert not states.reschedule(message, NOW)
    assert not states.cancel(message, "no")
    assert not states.fail(message, "no", code=21610)
    assert not states.report(message, "queued", now=NOW)
    assert not states.report(message, "delivered" if end != S.DELIVERED else "failed", now=NOW)
    states.mark_sent(message, "SM1", now=NOW)
    assert message.status == end
    assert message.error_code == 30003
    assert {k: before[k] for k in ("status", "error_code", "send_at", "attempts")} == {
        k: snapshot(message)[k] for k in ("status", "error_code", "send_at", "attempts")
    }


def test_a_text_the_provider_has_never_goes_back_to_the_outbox():
    message = text(S.SENT, provider_sid="SM1")
    assert not states.reschedule(message, NOW + timedelta(hours=1))
    assert not states.claim(message, worker_id="w2", lease_until=NOW, now=NOW)
    assert not states.cancel(message, "the customer opted out")
    assert not states.report(message, "queued", now=NOW)  # a late, earlier word
    assert message.status == S.SENT


def test_only_an_attempt_that_never_reached_the_provider_goes_back():
    message = text(S.SENDING, attempts=1, leased_by="w1", lease_until=NOW)
    assert states.reschedule(message, NOW + timedelta(seconds=30), reason="HTTP 503")
    assert (message.status, message.leased_by, message.error_message) == (
        S.SCHEDULED,
        None,
        "HTTP 503",
    )


def test_only_a_claimed_text_the_provider_never_saw_is_withdrawn():
    claimed = text(S.SENDING, attempts=1, leased_by="w1", lease_until=NOW)
    assert states.withdraw(claimed, "the number opted out")
    assert (claimed.status, claimed.leased_by, claimed.error_message) == (
        S.CANCELED, None, "the number opted out")  # fmt: skip
    for status in (S.SCHEDULED, S.SENT, *TERMINAL_STATES):
        other = text(status)
        assert not states.withdraw(other, "no") and other.status == status


def test_an_error_code_is_never_erased_or_replaced():
    message = text(S.SENDING)
    assert states.fail(message, "blocked", code=30007)
    assert message.error_code == 30007
    reported = text(S.SENT, provider_sid="SM1")
    assert states.report(reported, "undelivered", now=NOW, error_code=30003)
    assert not states.report(reported, "failed", now=NOW, error_code=30008)
    assert not states.report(reported, "delivered", now=NOW)
    assert (reported.status, reported.error_code) == (S.UNDELIVERED, 30003)


def test_a_code_on_a_delivered_text_explains_nothing():
    message = text(S.DELIVERED, provider_sid="SM1")
    states.report(message, "delivered", now=NOW, error_code=30003)
    assert message.error_code is None


def test_another_sid_is_never_taken_for_ours():
    message = text(S.SENDING, provider_sid="SM1")
    assert not states.mark_sent(message, "SM2", now=NOW)
    assert (message.status, message.provider_sid) == (S.SENDING, "SM1")


def test_a_callback_before_the_send_answer_keeps_the_later_state():
    message = text(S.SENDING)
    message.provider_sid = "SM1"
    assert states.report(message, "delivered", now=NOW)
    assert states.mark_sent(message, "SM1", now=NOW)
    assert message.status == S.DELIVERED


@pytest.mark.parametrize(
    ("current", "target", "allowed"),
    [
        (S.SCHEDULED, S.SENDING, True),
        (S.SCHEDULED, S.SCHEDULED, True),
        (S.SCHEDULED, S.CANCELED, True),
        (S.SENDING, S.SCHEDULED, True),
        (S.SENDING, S.DELIVERED, True),
        (S.SENT, S.SENDING, False),
        (S.SENT, S.SCHEDULED, False),
        (S.DELIVERED, S.SENT, False),
        (S.DELIVERED, S.FAILED, False),
        (S.FAILED, S.DELIVERED, False),
        (S.CANCELED, S.SCHEDULED, False),
        (S.RECEIVED, S.SENT, False),
    ],
)
def test_can_move(current, target, allowed):
    assert states.can_move(current, target) is allowed


def test_statuses_are_str_enums_that_compare_with_plain_strings():
    assert S.SENT == "sent" and "sent" in TERMINAL_STATES | {S.SENT}
    assert f"{S.UNDELIVERED}" == "undelivered"


def _status_writes(path: Path) -> list[str]:
    """Places in a module that assign `<x>.status` or UPDATE ... SET status."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        for target in targets:
            for item in target.elts if isinstance(target, ast.Tuple) else [target]:
                if (
                    isinstance(item, ast.Attribute)
                    and item.attr == "status"
                    # a visit's status and an exception's HTTP status are not a text's
                    and not (
                        isinstance(item.value, ast.Name) and item.value.id in {"visit", "self"}
                    )
                ):
                    found.append(f"{path.name}:{node.lineno}")
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr == "values"
            and any(k.arg == "status" for k in node.keywords)
        ):
            found.append(f"{path.name}:{node.lineno}")
    return found


def test_message_status_is_written_only_by_the_state_module():
    writes = [
        where
        for path in sorted(APP.rglob("*.py"))
        if path != APP / "care" / "states.py" and "migrations" not in path.parts
        for where in _status_writes(path)
    ]
    assert writes == []
