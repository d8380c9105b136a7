"""The boundary to browsers' push services (Web Push, RFC 8030/8291/8292); knows nothing about
customers. pywebpush encrypts the payload (aes128gcm) and signs the VAPID header; this module
makes key pairs and turns a push service's answer into what the worker should do."""

from __future__ import annotations

import base64
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid
from pywebpush import WebPushException, webpush

log = logging.getLogger("regulars.webpush")

PUSH_TIMEOUT_SECONDS = 10.0
PUSH_TTL_SECONDS = 24 * 3600  # a phone off for a day still hears about it when it wakes


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def from_b64url(text: str) -> bytes:
    """Base64url with or without its padding; raises ValueError when it is not."""
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (ValueError, TypeError) as exc:
        raise ValueError("not base64url") from exc


@dataclass(frozen=True)
class VapidKeys:
    private_key: str  # the raw 32-byte P-256 private key, base64url
    public_key: str  # the uncompressed point (65 bytes), base64url: applicationServerKey


def new_vapid_keys() -> VapidKeys:
    """A fresh P-256 key pair for VAPID."""
    private = ec.generate_private_key(ec.SECP256R1())
    raw = private.private_numbers().private_value.to_bytes(32, "big")
    point = private.public_key().public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return VapidKeys(b64url(raw), b64url(point))


@dataclass(frozen=True)
class PushTarget:
    """Where one device takes pushes, as its browser's PushSubscription gave it."""

    endpoint: str
    p256dh: str
    auth: str


class PushAction(StrEnum):
    DELIVERED = "delivered"  # the push service took it
    GONE = "gone"  # 404/410: the subscription expired or was withdrawn; forget the device
    RETRY = "retry"  # 429, 5xx, no answer: try again later
    REFUSED = "refused"  # another 4xx: this push will never be taken


@dataclass(frozen=True)
class PushAnswer:
    action: PushAction
    status: int | None = None
    detail: str = ""
    retry_after: float | None = None  # seconds, when the push service said


class PushSender(Protocol):
    def send(self, target: PushTarget, payload: bytes, *, keys: VapidKeys, subject: str,
             urgency: str = "normal", topic: str | None = None) -> PushAnswer: ...  # fmt: skip


def answer_for(status: int, detail: str = "", retry_after: str | None = None) -> PushAnswer:
    """What a push service's HTTP status means for the worker."""
    if 200 <= status < 300:
        return PushAnswer(PushAction.DELIVERED, status)
    if status in (404, 410):
        return PushAnswer(PushAction.GONE, status, detail)
    if status == 429 or status >= 500:
        wait = float(retry_after) if retry_after and retry_after.isdigit() else None
        return PushAnswer(PushAction.RETRY, status, detail, retry_after=wait)
    return PushAnswer(PushAction.REFUSED, status, detail)


class WebPushSender:
    """Sends through pywebpush over `requests` (so tests fake push services on 127.0.0.1)."""

    def __init__(self, timeout: float = PUSH_TIMEOUT_SECONDS, ttl: int = PUSH_TTL_SECONDS):
        self.timeout = timeout
        self.ttl = ttl

    def send(self, target: PushTarget, payload: bytes, *, keys: VapidKeys, subject: str,
             urgency: str = "normal", topic: str | None = None) -> PushAnswer:  # fmt: skip
        headers = {"Urgency": urgency}
        if topic:
            headers["Topic"] = topic  # a newer push with the same topic replaces an undelivered one
        info = {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        try:
            response = webpush(
                info,
                data=payload.decode("utf-8"),
                vapid_private_key=Vapid.from_raw(keys.private_key.encode("ascii")),
                vapid_claims={"sub": subject},  # a new dict each time: webpush fills in aud, exp
                content_encoding="aes128gcm",
                timeout=self.timeout,
                ttl=self.ttl,
                headers=headers,
            )
        except WebPushException as exc:
            response = exc.response
            if response is None:
                return PushAnswer(PushAction.RETRY, None, exc.message[:200])
        except requests.RequestException as exc:  # no connection, a timeout
            return PushAnswer(PushAction.RETRY, None, f"no answer ({type(exc).__name__})")
        except ValueError as exc:  # keys the browser gave that cannot encrypt
            return PushAnswer(PushAction.REFUSED, None, f"bad subscription keys ({exc})"[:200])
        status = int(getattr(response, "status_code", 0) or 0)
        text = getattr(response, "text", "") or ""
        retry_after = getattr(response, "headers", {}).get("Retry-After")
        return answer_for(status, text[:200], retry_after)
