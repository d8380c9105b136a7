"""A browser's push subscription, as the page posts it: in production only a push service on
the internet (https, no address of this machine or a private network); elsewhere also a
stand-in on 127.0.0.1 or localhost. Keys the browser gave must be a P-256 key and 16 bytes."""

from __future__ import annotations

import json

import pytest

from app.care.push import device_name
from app.contract import parse_json
from app.contract.commands import PushSubscriptionSave
from app.errors import Invalid

# RFC 8291's example keys
KEYS = {
    "p256dh": "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcx"
    "aOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4",
    "auth": "BTBZMqHH6r4Tts7J_aSIgg",
}


def parse(endpoint: str, *, local: bool) -> PushSubscriptionSave:
    body = json.dumps({"endpoint": endpoint, "expirationTime": None, "keys": KEYS})
    return parse_json(PushSubscriptionSave, body, local=local)


@pytest.mark.parametrize("endpoint", [
    "https://fcm.googleapis.com/fcm/send/abc:APA91b",
    "https://updates.push.services.mozilla.com/wpush/v2/gAAAA",
    "https://web.push.apple.com/QGuQyavXutnMH",
])  # fmt: skip
def test_real_push_services_are_taken_everywhere(endpoint):
    assert parse(endpoint, local=False).endpoint == endpoint


@pytest.mark.parametrize("endpoint", [
    "http://127.0.0.1:8080/push/1", "https://127.0.0.1/push/1", "https://localhost/push",
    "https://10.0.0.5/push", "https://[::1]/push", "https://192.168.1.2/x",
    "https://redis.internal/x", "https://user:pw@push.example.com/x", "ftp://push.example.com/x",
])  # fmt: skip
def test_in_production_no_address_of_this_machine_or_a_private_network(endpoint):
    with pytest.raises(Invalid) as refused:
        parse(endpoint, local=False)
    assert refused.value.field == "endpoint"


def test_a_stand_in_on_this_machine_is_taken_outside_production():
    assert parse("http://127.0.0.1:8080/push/1", local=True).endpoint.startswith("http://127")
    assert parse("http://localhost:8080/push/1", local=True)
    with pytest.raises(Invalid):
        parse("http://10.0.0.5/push/1", local=True)  # only this machine, and only http to it


def test_devices_are_named_in_words():
    android = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
               "Chrome/126.0 Mobile Safari/537.36")  # fmt: skip
    iphone = ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
              "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1")  # fmt: skip
    assert device_name(android) == "Chrome on Android"
    assert device_name(iphone) == "Safari on iPhone"
    assert device_name("") == "A browser"
