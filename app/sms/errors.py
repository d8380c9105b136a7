"""Provider error codes, and what the dispatcher should do about each."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class Action(Enum):
    RETRY = "retry"  # transient: back off with jitter and try again
    SLOW_DOWN = "slow_down"  # the sender's queue is full: back off and pace the number slower
    OPTED_OUT = "opted_out"  # permanent: the recipient texted STOP
    BAD_NUMBER = "bad_number"  # permanent: not a valid, SMS-capable number
    LANDLINE = "landline"  # permanent: unknown handset or landline
    BLOCKED = "blocked"  # permanent: carrier blocked or filtered it; tell the owner
    CONFIGURATION = "configuration"  # the sender is not registered; stop and tell the owner
    UNREACHABLE = "unreachable"  # handset unreachable: carrier gave up, do not resend blindly
    FAIL = "fail"  # any other permanent error


@dataclass(frozen=True)
class ErrorRule:
    action: Action
    reason: str  # shown to the owner


ERRORS: dict[int, ErrorRule] = {
    21610: ErrorRule(Action.OPTED_OUT, "The customer has opted out (texted STOP)."),
    21211: ErrorRule(Action.BAD_NUMBER, "Not a valid phone number."),
    21614: ErrorRule(Action.BAD_NUMBER, "This number cannot receive texts."),
    21611: ErrorRule(Action.SLOW_DOWN, "The sending number's queue is full."),
    30001: ErrorRule(Action.SLOW_DOWN, "The sending number's queue overflowed."),
    20429: ErrorRule(Action.RETRY, "Too many requests to the provider."),
    30003: ErrorRule(Action.UNREACHABLE, "The phone was unreachable."),
    30005: ErrorRule(Action.LANDLINE, "Unknown phone number."),
    30006: ErrorRule(Action.LANDLINE, "Landline or unreachable carrier."),
    30004: ErrorRule(Action.BLOCKED, "Blocked by the recipient or carrier."),
    30007: ErrorRule(Action.BLOCKED, "Filtered by the carrier as spam."),
    30032: ErrorRule(Action.CONFIGURATION, "The sending number is not verified (toll-free)."),
    30034: ErrorRule(Action.CONFIGURATION, "The sending number is not registered (10DLC)."),
}

TRANSIENT_HTTP = frozenset({408, 429, 500, 502, 503, 504})


def classify(code: int | None, http_status: int | None = None) -> ErrorRule:
    """What to do about a provider error, by its code first and its HTTP status second."""
    if code is not None and code in ERRORS:
        return ERRORS[code]
    if code is None and http_status is None:
        # No answer at all (connect timeout, refused): the request never reached the provider.
        return ErrorRule(Action.RETRY, "Could not reach the provider.")
    if http_status is not None and (http_status in TRANSIENT_HTTP or http_status >= 500):
        return ErrorRule(Action.RETRY, f"The provider was unavailable (HTTP {http_status}).")
    label = f"error {code}" if code is not None else f"HTTP {http_status}"
    return ErrorRule(Action.FAIL, f"The provider refused the text ({label}).")


def reason_for(code: int | None) -> str | None:
    """A human reason for a stored error code, for the owner's pages and the API."""
    if code is None:
        return None
    rule = ERRORS.get(code)
    return rule.reason if rule else f"Provider error {code}."


def failure_reason(code: int | None, message: str | None = None) -> str:
    """Why a text was not delivered, for the owner: the code's reason, else the provider's
    words, else that the carrier did not deliver it."""
    return reason_for(code) or message or "The carrier did not deliver it."
