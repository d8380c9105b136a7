"""Twilio's webhook forms as typed values: the one place that knows Twilio's field names.

An inbound text, a delivery status report and a call each become a frozen value, so the
domain (app/care) speaks only its own words. The inbound text is the hot path: plain slotted
dataclasses, one pass over the form, nothing else.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from app.models import MAX_ID
from app.phones import InvalidPhone, normalize

MAX_MEDIA = 10  # Twilio sends at most 10 attachments with one text
# The columns these values end up in: longer is no Twilio value, and PostgreSQL would refuse it.
SMAX_ID = 40  # Message.provider_sid, StatusCallback.provider_sid
NUMBER_MAX = 20  # Message.to_number / from_number, Customer.phone
SERVICE_SMAX_ID = 34  # Business.messaging_service_sid
STATUS_MAX = 24  # StatusCallback.status
ERROR_CODE_MAX = 2**31 - 1  # an INTEGER column; Twilio's codes have five digits


# An attachment's URL (https, no spaces, short enough to store) and its MIME type.
_MEDIA_URL = re.compile(r"https://[A-Za-z0-9.-]+(?::\d{1,5})?/[\x21-\x7e]{1,480}")
_CONTENT_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,62}/[a-z0-9][a-z0-9!#$&^_.+-]{0,62}")


class MalformedWebhook(ValueError):
    """The form lacks what every webhook of its kind has, or a value cannot be stored."""


@dataclass(frozen=True, slots=True)
class Media:
    url: str
    content_type: str


@dataclass(frozen=True, slots=True)
class InboundText:
    """One text a customer sent to a business number."""

    provider_sid: str
    to: str  # the business number it was sent to ("" when only a Messaging Service is named)
    from_: str  # the sender as the carrier gave it
    sender: str | None  # the sender in E.164; None when it is not a phone number
    body: str
    messaging_service_sid: str = ""
    media: tuple[Media, ...] = ()
    # Twilio's OptOutType (STOP, START, HELP) when its own opt-out handling answered the text.
    provider_opt_out: str | None = None
    sender_error: str | None = None  # why `from_` is not a phone number


@dataclass(frozen=True, slots=True)
class StatusReport:
    """What the provider says happened to a text it was given (a delivery status callback)."""

    provider_sid: str
    status: str  # the provider's word, lower case: queued, sent, delivered, undelivered, ...
    error_code: int | None = None
    message_id: int | None = None  # our own id, from the StatusCallback URL's query (?mid=)
    payload: dict[str, str] = field(default_factory=dict)  # the form as it came, for the log


@dataclass(frozen=True, slots=True)
class IncomingCall:
    """A voice call to a business number (the missed-call text-back)."""

    call_sid: str
    to: str
    from_: str
    caller: str | None  # the caller in E.164; None when it is not a phone number
    status: str = ""  # Twilio's CallStatus: ringing, no-answer, busy, ...
    caller_error: str | None = None


def _media(form: Mapping[str, str], count: str) -> tuple[Media, ...]:
    """The attachments Twilio lists (NumMedia, MediaUrlN, MediaContentTypeN). One whose URL or
    type has no sensible shape is left out (a missing type is kept as ""); the text is kept."""
    count = count.strip()
    if not count.isascii() or not count.isdigit():
        return ()
    media = []
    for i in range(min(int(count), MAX_MEDIA)):
        url = (form.get(f"MediaUrl{i}") or "").strip()
        content_type = (form.get(f"MediaContentType{i}") or "").strip().lower()
        if _MEDIA_URL.fullmatch(url) and (
            not content_type or _CONTENT_TYPE.fullmatch(content_type)
        ):
            media.append(Media(url, content_type))
    return tuple(media)


def _number(form: Mapping[str, str], *names: str) -> str:
    """The first of `names` the form has, stripped; 400 when no phone number is that long."""
    value = ""
    for name in names:
        value = form.get(name) or ""
        if value:
            break
    value = value.strip()
    if len(value) > NUMBER_MAX:
        raise MalformedWebhook(f"{names[0]} is too long to be a phone number")
    return value


def _phone(raw: str, name: str) -> tuple[str | None, str | None]:
    try:
        return normalize(raw), None
    except InvalidPhone as exc:
        return None, f"{name} is not a phone number: {exc}"


def _sid(form: Mapping[str, str]) -> str:
    """The message's SID (MessageSid, or the older SmsSid)."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not sid:
        raise MalformedWebhook("MessageSid is missing")
    if len(sid) > SMAX_ID:
        raise MalformedWebhook("MessageSid is too long")
    return sid


def inbound_text(form: Mapping[str, str]) -> InboundText:
    """Read Twilio's inbound-message webhook. Raises MalformedWebhook (a 400) without a
    MessageSid or with a value longer than its column; a sender that is no phone number is
    kept as `sender_error` (the business is looked up first, and an unknown one is a 404)."""
    get = form.get  # the hot path: one pass, no helper calls for what every text has
    sid = (get("MessageSid") or get("SmsSid") or "").strip()
    if not sid or len(sid) > SMAX_ID:
        raise MalformedWebhook("MessageSid is too long" if sid else "MessageSid is missing")
    to = (get("To") or "").strip()
    if len(to) > NUMBER_MAX:
        raise MalformedWebhook("To is too long to be a phone number")
    service = (get("MessagingServiceSid") or "").strip()
    if len(service) > SERVICE_SMAX_ID:
        raise MalformedWebhook("MessagingServiceSid is too long")
    raw_from = get("From") or ""
    try:
        sender, error = normalize(raw_from), None
    except InvalidPhone as exc:
        sender, error = None, f"From is not a phone number: {exc}"
    count = get("NumMedia")
    media = () if not count or count == "0" else _media(form, count)
    body = get("Body") or ""
    return InboundText(sid, to, raw_from, sender, body, service, media, get("OptOutType") or None,
                       error)  # fmt: skip


def _int_or_none(value: str | None, ceiling: int) -> int | None:
    """A non-negative integer that fits its column, else None: an unusable value is ignored."""
    value = (value or "").strip()
    if not value.isdigit() or not value.isascii():
        return None
    number = int(value)
    return number if number <= ceiling else None


def status_report(form: Mapping[str, str], *, message_id: str | int | None = None) -> StatusReport:
    """Read Twilio's status callback; `message_id` is the `mid` of the callback URL's query.
    Raises MalformedWebhook (a 400) without a MessageSid or with one longer than its column."""
    sid = _sid(form)
    status = (form.get("MessageStatus") or form.get("SmsStatus") or "").strip().lower()
    if isinstance(message_id, str):
        message_id = _int_or_none(message_id, MAX_ID)
    return StatusReport(
        sid,
        status[:STATUS_MAX],
        _int_or_none(form.get("ErrorCode"), ERROR_CODE_MAX),
        message_id,
        dict(form.items()),
    )


def incoming_call(form: Mapping[str, str]) -> IncomingCall:
    """Read Twilio's voice webhook (To or Called, From or Caller). Raises MalformedWebhook (a
    400) for a number longer than its column; a caller that is no phone number is kept as
    `caller_error`."""
    to = _number(form, "To", "Called")
    raw_from = form.get("From") or form.get("Caller") or ""
    caller, error = _phone(raw_from, "From")
    return IncomingCall(
        (form.get("CallSid") or "").strip()[:SMAX_ID],
        to,
        raw_from,
        caller,
        (form.get("CallStatus") or "").strip().lower(),
        error,
    )
