"""Twilio's webhook forms as typed values (app/sms/webhooks.py), and a domain that never reads
a Twilio field name."""

from __future__ import annotations

import ast
import dataclasses
from pathlib import Path

import pytest
from werkzeug.datastructures import MultiDict

from app.sms.webhooks import (
    MAX_MEDIA,
    InboundText,
    IncomingCall,
    MalformedWebhook,
    Media,
    StatusReport,
    inbound_text,
    incoming_call,
    status_report,
)

SID = "SM" + "1" * 32
CARE = Path(__file__).parents[2] / "app" / "care"
# Every field name Twilio's messaging and voice webhooks use that a handler might be tempted by.
TWILIO_FIELDS = {
    "MessageSid", "SmsSid", "SmsMessageSid", "AccountSid", "MessagingServiceSid", "From", "To",
    "Body", "NumMedia", "NumSegments", "MessageStatus", "SmsStatus", "ErrorCode",
    "ErrorMessage", "OptOutType", "Called", "Caller", "CallSid", "CallStatus", "Direction",
}  # fmt: skip


def form(**fields) -> MultiDict:
    return MultiDict({"MessageSid": SID, "From": "+12125550123", "To": "+12125550100",
                      "Body": "Hi", **fields})  # fmt: skip


def test_an_inbound_text_in_our_words():
    text = inbound_text(form(MessagingServiceSid="MG" + "b" * 32, OptOutType="STOP"))
    assert text == InboundText(
        provider_sid=SID,
        to="+12125550100",
        from_="+12125550123",
        sender="+12125550123",
        body="Hi",
        messaging_service_sid="MG" + "b" * 32,
        provider_opt_out="STOP",
    )


def test_values_are_frozen_and_slotted():
    text = inbound_text(form())
    with pytest.raises(dataclasses.FrozenInstanceError):
        text.body = "changed"  # type: ignore[misc]
    for value in (text, status_report(form()), incoming_call(form())):
        assert not hasattr(value, "__dict__")


def test_sms_sid_stands_in_for_a_missing_message_sid():
    fields = form()
    del fields["MessageSid"]
    fields["SmsSid"] = SID
    assert inbound_text(fields).provider_sid == SID


def test_media_are_read_in_order_and_capped():
    fields = form(NumMedia="12")
    for i in range(12):
        fields[f"MediaUrl{i}"] = f"https://api.twilio.test/media/{i}"
        fields[f"MediaContentType{i}"] = "image/jpeg"
    media = inbound_text(fields).media
    assert len(media) == MAX_MEDIA
    assert media[0] == Media("https://api.twilio.test/media/0", "image/jpeg")
    assert inbound_text(form(NumMedia="many")).media == ()
    assert inbound_text(form(NumMedia="2", MediaUrl1="https://x.test/1")).media == (
        Media("https://x.test/1", ""),
    )


@pytest.mark.parametrize(
    ("url", "content_type"),
    [
        ("javascript:alert(1)", "image/jpeg"),
        ("http://api.twilio.test/media/0", "image/jpeg"),  # Twilio's media are https
        ("https://api.twilio.test/media/0 with spaces", "image/jpeg"),
        ("https://api.twilio.test/" + "a" * 600, "image/jpeg"),
        ("https://api.twilio.test/media/0", "text/html; <script>"),
        ("https://api.twilio.test/media/0", "not a type"),
    ],
)
def test_an_attachment_of_no_sensible_shape_is_left_out_and_the_text_kept(url, content_type):
    text = inbound_text(form(NumMedia="1", MediaUrl0=url, MediaContentType0=content_type))
    assert text.media == ()
    assert text.body == form()["Body"]


def test_an_attachment_type_is_read_in_lower_case():
    media = inbound_text(form(NumMedia=" 1", MediaUrl0="https://api.twilio.test/m/0",
                              MediaContentType0="Image/JPEG")).media  # fmt: skip
    assert media == (Media("https://api.twilio.test/m/0", "image/jpeg"),)


def test_a_sender_that_is_no_phone_number_is_kept_with_its_reason():
    text = inbound_text(form(From="whatsapp:not-a-number"))
    assert text.sender is None
    assert text.from_ == "whatsapp:not-a-number"
    assert text.sender_error.startswith("From is not a phone number")


@pytest.mark.parametrize(
    ("fields", "words"),
    [
        ({"MessageSid": ""}, "MessageSid is missing"),
        ({"MessageSid": "SM" + "1" * 39}, "MessageSid is too long"),
        ({"To": "+1" + "2" * 19}, "To is too long"),
        ({"MessagingServiceSid": "MG" + "b" * 33}, "MessagingServiceSid is too long"),
    ],
)
def test_what_cannot_be_stored_is_malformed(fields, words):
    with pytest.raises(MalformedWebhook, match=words):
        inbound_text(form(**fields))


def test_a_status_report_in_our_words():
    fields = form(MessageStatus="Undelivered", ErrorCode="30003", ApiVersion="2010-04-01")
    report = status_report(fields, message_id="42")
    assert report == StatusReport(SID, "undelivered", 30003, 42, dict(fields.items()))


@pytest.mark.parametrize(
    ("code", "read"), [("", None), ("abc", None), ("30007", 30007), ("9" * 12, None)]
)
def test_an_error_code_that_fits_no_column_is_ignored(code, read):
    assert status_report(form(MessageStatus="failed", ErrorCode=code)).error_code == read


@pytest.mark.parametrize("mid", ["", "x", "-3", "9" * 30, "٣"])
def test_an_unusable_message_id_is_ignored(mid):
    assert status_report(form(MessageStatus="sent"), message_id=mid).message_id is None


def test_a_status_report_needs_a_sid_that_fits():
    with pytest.raises(MalformedWebhook, match="missing"):
        status_report(MultiDict({"MessageStatus": "sent"}))
    with pytest.raises(MalformedWebhook, match="too long"):
        status_report(form(MessageSid="SM" + "1" * 40))


def test_a_call_falls_back_to_called_and_caller():
    fields = {"CallSid": "CA1", "Called": "+12125550100", "Caller": "+12125550123",
              "CallStatus": "ringing"}  # fmt: skip
    call = incoming_call(MultiDict(fields))
    assert call == IncomingCall("CA1", "+12125550100", "+12125550123", "+12125550123", "ringing")
    with pytest.raises(MalformedWebhook):
        incoming_call(MultiDict({"To": "+1" + "2" * 30, "From": "+12125550123"}))


def _strings(path: Path) -> set[str]:
    return {
        node.value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
    }


def test_the_domain_never_reads_a_twilio_field_name():
    found = {
        f"{path.name}: {value}"
        for path in sorted(CARE.rglob("*.py"))
        for value in _strings(path)
        if value in TWILIO_FIELDS or value.startswith(("MediaUrl", "MediaContentType"))
    }
    assert found == set()
