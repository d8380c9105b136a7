"""The boundary to the carrier: send a text, find one already sent, hear what happened.

Knows nothing about customers or businesses beyond numbers and bodies.
"""

from __future__ import annotations

import threading
import uuid
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

import requests
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from twilio.base.exceptions import TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from app.models import SimulatedText, utcnow
from app.sms.webhooks import StatusReport


@dataclass(frozen=True)
class OutgoingText:
    message_id: int
    to: str
    body: str
    from_number: str | None = None
    messaging_service_sid: str | None = None
    status_callback: str | None = None
    validity_period: int | None = None
    media_urls: tuple[str, ...] = ()  # pictures the provider fetches and sends (MMS)


@dataclass(frozen=True)
class Accepted:
    sid: str
    status: str  # the provider's word: queued, accepted, ...
    segments: int | None = None


class SendFailed(Exception):
    """The provider did not take the text.

    `outcome_unknown` means the request may have reached the provider (a timeout while
    waiting for the answer): the text must be reconciled before it is tried again.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        outcome_unknown: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.outcome_unknown = outcome_unknown


class SmsGateway(Protocol):
    def send(self, text: OutgoingText) -> Accepted:
        """Hand one text to the provider; raise SendFailed when it was not taken."""

    def find_sent(
        self,
        to: str,
        body: str,
        since: datetime,
        exclude: frozenset[str] = frozenset(),
        from_number: str | None = None,
    ) -> Accepted | None:
        """Look for a text with this body that the provider took for `to` (from `from_number`
        when known) since `since`, sent yet or not, whose SID is not one of `exclude` (texts
        we already know about): reconciliation."""

    def drain_events(self) -> list[StatusReport]:
        """Status reports the gateway itself produced (the simulator); Twilio posts its own."""

    def fetch_media(self, url: str) -> FetchedMedia | None:
        """A picture a customer sent (an inbound text's media URL), fetched with the account's
        credentials; None when it is not the provider's, not a picture, or not there."""


@dataclass(frozen=True)
class FetchedMedia:
    content_type: str
    data: bytes


# Pictures a browser shows: only these are passed on from the provider (nothing that could run).
SHOWN_MEDIA_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})
MAX_MEDIA_BYTES = 5 * 1024 * 1024  # Twilio's own limit for a picture

RECONCILE_SLACK = timedelta(minutes=5)  # clocks differ; an attempt is no older than this
RECONCILE_PAGE = 50  # texts to one number (from one sender) looked at in one request


class TwilioGateway:
    """Twilio's REST API through the official library, pointed at `base_url`."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str, timeout: float = 10.0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._local = threading.local()

    def _client(self) -> Client:
        # One client (and connection pool) per thread: the dispatcher sends from a pool.
        client = getattr(self._local, "client", None)
        if client is None:
            http = TwilioHttpClient(pool_connections=True, timeout=self.timeout)
            client = Client(self.account_sid, self.auth_token, http_client=http)
            client.api.base_url = self.base_url
            self._local.client = client
        return client

    def send(self, text: OutgoingText) -> Accepted:
        params: dict = {"to": text.to, "body": text.body}
        if text.messaging_service_sid:
            params["messaging_service_sid"] = text.messaging_service_sid
        else:
            params["from_"] = text.from_number
        if text.status_callback:
            params["status_callback"] = text.status_callback
        if text.validity_period:
            params["validity_period"] = text.validity_period
        if text.media_urls:
            params["media_url"] = list(text.media_urls)  # MediaUrl, once per picture
        try:
            created = self._client().messages.create(**params)
        except TwilioRestException as exc:
            raise SendFailed(str(exc.msg), code=exc.code, http_status=exc.status) from exc
        except TwilioServiceException as exc:  # the newer problem-details error format
            raise SendFailed(str(exc), code=exc.code, http_status=exc.status) from exc
        except requests.exceptions.RequestException as exc:
            raise SendFailed(
                f"{type(exc).__name__} talking to the provider",
                outcome_unknown=not _request_never_left(exc),
            ) from exc
        except ValueError as exc:  # a 2xx answer that is not JSON: the provider may have taken it
            raise SendFailed(
                f"unreadable answer: {exc}", http_status=502, outcome_unknown=True
            ) from exc
        segments = int(created.num_segments) if created.num_segments else None
        return Accepted(sid=created.sid, status=created.status or "queued", segments=segments)

    def find_sent(
        self,
        to: str,
        body: str,
        since: datetime,
        exclude: frozenset[str] = frozenset(),
        from_number: str | None = None,
    ) -> Accepted | None:
        """Reconciliation through ListMessage. First without a DateSent filter: a text Twilio
        accepted but has not sent yet (queued behind the sender's rate) has no DateSent, and
        any DateSent filter leaves it out. Only when that page is full, again among the texts
        sent since the attempt."""
        filters: dict = {"to": to}
        if from_number:
            filters["from_"] = from_number
        client = self._client()
        try:
            listed = client.messages.list(**filters, limit=RECONCILE_PAGE)
            found = _matching(listed, body, since, exclude)
            if found is None and len(listed) >= RECONCILE_PAGE:
                recent = client.messages.list(
                    **filters, date_sent_after=since - timedelta(days=1), limit=RECONCILE_PAGE
                )
                found = _matching(recent, body, since, exclude)
        except (TwilioRestException, requests.exceptions.RequestException) as exc:
            raise SendFailed(
                f"could not reconcile: {exc}", http_status=getattr(exc, "status", None)
            ) from exc
        return found

    def drain_events(self) -> list[StatusReport]:
        return []

    def fetch_media(self, url: str) -> FetchedMedia | None:
        # The account's credentials go only to the account's own media on the API's host.
        if not url.startswith(f"{self.base_url}/2010-04-01/Accounts/{self.account_sid}/"):
            return None
        try:
            with requests.get(url, auth=(self.account_sid, self.auth_token),
                              timeout=self.timeout, stream=True) as answer:  # fmt: skip
                kind = answer.headers.get("Content-Type", "").split(";")[0].strip().lower()
                if answer.status_code != 200 or kind not in SHOWN_MEDIA_TYPES:
                    return None
                data = bytearray()
                for chunk in answer.iter_content(64 * 1024):
                    data += chunk
                    if len(data) > MAX_MEDIA_BYTES:
                        return None
        except requests.exceptions.RequestException:
            return None
        return FetchedMedia(kind, bytes(data))


def _matching(listed, body: str, since: datetime, exclude: frozenset[str]) -> Accepted | None:
    """Our attempt among listed messages: the same words, outbound, created since the attempt,
    and not a text we already know."""
    wanted = _loose(body)
    earliest = since - RECONCILE_SLACK
    for message in listed:
        created = message.date_created
        if created is not None and created < earliest:
            continue  # an older text with the same words, not this attempt
        if message.sid in exclude or message.direction == "inbound":
            continue
        if _loose(message.body or "") == wanted:
            return Accepted(sid=message.sid, status=message.status or "sent")
    return None


def _loose(body: str) -> str:
    """Letters and digits only: Smart Encoding may have swapped quotes or dashes in transit."""
    return "".join(ch.lower() for ch in body if ch.isalnum() and ch.isascii())


def _request_never_left(exc: requests.exceptions.RequestException) -> bool:
    """True when the request surely did not reach the provider, so a retry cannot double it."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = repr(exc)
        return "NewConnectionError" in text or "Connection refused" in text
    return isinstance(exc, requests.exceptions.InvalidURL | requests.exceptions.MissingSchema)


class SimulatorGateway:
    """A pretend carrier for the embedded default: texts land on the simulated phone page.

    Delivery callbacks are produced here and played through the same status handling that
    Twilio's callbacks reach.
    """

    def __init__(self, engine: Engine):
        self.engine = engine
        self._events: deque[StatusReport] = deque()

    def send(self, text: OutgoingText) -> Accepted:
        sid = "SM" + uuid.uuid4().hex
        sender = text.from_number or text.messaging_service_sid or ""
        with Session(self.engine) as session:
            session.add(
                SimulatedText(
                    sid=sid,
                    handset=text.to,
                    business_number=sender,
                    direction="to_handset",
                    body=text.body,
                    media_urls=list(text.media_urls) or None,
                )
            )
            session.commit()
        for status in ("sent", "delivered"):
            payload = {"MessageSid": sid, "MessageStatus": status, "To": text.to, "From": sender}
            self._events.append(StatusReport(sid, status, None, text.message_id, payload))
        return Accepted(sid=sid, status="queued")

    def find_sent(
        self,
        to: str,
        body: str,
        since: datetime,
        exclude: frozenset[str] = frozenset(),
        from_number: str | None = None,
    ) -> Accepted | None:
        with Session(self.engine) as session:
            row = session.exec(
                select(SimulatedText).where(
                    col(SimulatedText.handset) == to,
                    col(SimulatedText.direction) == "to_handset",
                    col(SimulatedText.body) == body,
                    col(SimulatedText.created_at) >= since - RECONCILE_SLACK,
                    col(SimulatedText.sid).not_in(exclude),
                )
            ).first()
        return Accepted(sid=row.sid, status="sent") if row else None

    def fetch_media(self, url: str) -> FetchedMedia | None:
        return None  # the simulated phone sends words only

    def drain_events(self) -> list[StatusReport]:
        drained = []
        while self._events:
            drained.append(self._events.popleft())
        return drained

    def record_handset_text(
        self, session: Session, handset: str, business_number: str, body: str
    ) -> str:
        """A text typed on a simulated handset, added to the caller's transaction; returns the
        SID that the inbound path will see."""
        sid = "SM" + uuid.uuid4().hex
        session.add(
            SimulatedText(
                sid=sid,
                handset=handset,
                business_number=business_number,
                direction="from_handset",
                body=body,
                created_at=utcnow(),
            )
        )
        return sid
