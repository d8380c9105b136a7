"""A stand-in push service on 127.0.0.1 (no test reaches the internet): it takes the POST a
browser's push service would get (RFC 8030), checks the VAPID Authorization header (RFC 8292)
against the app's public key, and decrypts the aes128gcm payload (RFC 8291) with the device's
own private key, as the browser would. Each device answers 201 unless a test says otherwise."""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import http_ece
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Device:
    """One browser's subscription: its keys stay here, only the public half is given out."""

    def __init__(self, origin: str, token: str):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)
        self.endpoint = f"{origin}/push/{token}"
        self.answer = 201  # what the push service says to the next POST
        self.received: list[dict] = []  # the decrypted payloads it accepted
        self.headers: list[dict] = []

    def subscription(self) -> dict:
        """What PushSubscription.toJSON() gives a page."""
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {"endpoint": self.endpoint, "expirationTime": None,
                "keys": {"p256dh": b64url(point), "auth": b64url(self.auth_secret)}}  # fmt: skip


class PushStandIn:
    def __init__(self, app_public_key: Callable[[], str | None]):
        self.app_public_key = app_public_key  # read when a push arrives (made lazily)
        self.devices: dict[str, Device] = {}
        self.problems: list[str] = []  # every check a request failed
        self.posts = 0
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.origin = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> PushStandIn:
        self._thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def device(self) -> Device:
        device = Device(self.origin, f"d{len(self.devices) + 1}-{os.urandom(6).hex()}")
        self.devices[device.endpoint.rsplit("/", 1)[1]] = device
        return device

    def received(self) -> list[dict]:
        return [payload for device in self.devices.values() for payload in device.received]

    # ---- the checks a push service makes --------------------------------------------------

    def check_vapid(self, authorization: str) -> list[str]:
        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            return [f"Authorization is not VAPID: {authorization[:40]!r}"]
        parts = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        token, key = parts.get("t", ""), parts.get("k", "")
        problems = []
        if key != self.app_public_key():
            problems.append("the VAPID key is not the app's public key")
        try:
            head, claims, signature = token.split(".")
            public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), unb64url(key))
            raw = unb64url(signature)
            der = encode_dss_signature(int.from_bytes(raw[:32]), int.from_bytes(raw[32:]))
            public.verify(der, f"{head}.{claims}".encode(), ec.ECDSA(hashes.SHA256()))
        except (ValueError, InvalidSignature) as exc:
            return [*problems, f"the VAPID token does not verify ({exc!r})"]
        header, body = json.loads(unb64url(head)), json.loads(unb64url(claims))
        if header.get("alg") != "ES256":
            problems.append(f"VAPID alg {header.get('alg')!r}")
        if body.get("aud") != self.origin:
            problems.append(f"VAPID aud {body.get('aud')!r} is not {self.origin}")
        if not time.time() < body.get("exp", 0) <= time.time() + 24 * 3600:
            problems.append("VAPID exp is not within the next 24 hours")
        if not str(body.get("sub", "")).startswith(("mailto:", "https://")):
            problems.append(f"VAPID sub {body.get('sub')!r}")
        return problems

    def _handler(self):
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args) -> None:  # quiet
                pass

            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                service.posts += 1
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                device = service.devices.get(self.path.rsplit("/", 1)[-1])
                if device is None or not self.path.startswith("/push/"):
                    return self._answer(404)
                problems = service.check_vapid(self.headers.get("Authorization", ""))
                if self.headers.get("Content-Encoding") != "aes128gcm":
                    problems.append(f"Content-Encoding {self.headers.get('Content-Encoding')!r}")
                if not (self.headers.get("TTL") or "").isdigit():
                    problems.append("no TTL header")
                try:
                    plain = http_ece.decrypt(
                        body, private_key=device.private_key, auth_secret=device.auth_secret,
                        version="aes128gcm",
                    )  # fmt: skip
                    payload = json.loads(plain)
                except Exception as exc:  # noqa: BLE001 - any failure is the test's finding
                    problems.append(f"the payload does not decrypt ({exc!r})")
                if problems:
                    service.problems += problems
                    return self._answer(400)
                if device.answer == 201:
                    device.received.append(payload)
                    device.headers.append({k.lower(): v for k, v in self.headers.items()})
                return self._answer(device.answer)

            def _answer(self, status: int) -> None:
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        return Handler
