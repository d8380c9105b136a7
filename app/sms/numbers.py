"""Which sending numbers and Messaging Services the provider account really holds.

A business may send only from a number (or through a Messaging Service) of the account the
app runs on: otherwise an owner could type in a neighbour's number and read their replies.
Knows nothing about businesses; the domain decides what to do with the answers.
"""

from __future__ import annotations

import re
from typing import Protocol

import requests
from twilio.base.exceptions import TwilioException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client


def _status(exc: TwilioException) -> int | None:
    """The HTTP status of a refused request (a list's page fetch says it only in words)."""
    status = getattr(exc, "status", None)
    if status is None:
        match = re.search(r"HTTP (\d{3})", str(exc))
        status = int(match.group(1)) if match else None
    return status


class SenderCheckFailed(Exception):
    """The provider could not be asked (down, wrong credentials): decide nothing on it."""


class SenderDirectory(Protocol):
    def owns_number(self, number: str) -> bool:
        """True when `number` (E.164) is an incoming number of the account."""
        ...

    def service_numbers(self, service_sid: str) -> list[str] | None:
        """The numbers in a Messaging Service of the account; None when it has no such
        service."""
        ...


class TwilioSenders:
    """IncomingPhoneNumbers (REST 2010) and Messaging Services (Messaging v1)."""

    def __init__(self, account_sid: str, auth_token: str, base_url: str, timeout: float = 10.0):
        http = TwilioHttpClient(timeout=timeout)
        self.client = Client(account_sid, auth_token, http_client=http)
        self.client.api.base_url = base_url.rstrip("/")
        self.account_sid = account_sid

    def owns_number(self, number: str) -> bool:
        try:
            found = self.client.api.v2010.accounts(self.account_sid).incoming_phone_numbers.list(
                phone_number=number, limit=1
            )
        except TwilioException as exc:
            raise SenderCheckFailed(f"Twilio refused the lookup ({_status(exc)})") from exc
        except requests.RequestException as exc:
            raise SenderCheckFailed("Twilio could not be reached") from exc
        return any(item.phone_number == number for item in found)

    def service_numbers(self, service_sid: str) -> list[str] | None:
        try:
            found = self.client.messaging.v1.services(service_sid).phone_numbers.list(limit=400)
        except TwilioException as exc:
            if _status(exc) == 404:
                return None
            raise SenderCheckFailed(f"Twilio refused the lookup ({_status(exc)})") from exc
        except requests.RequestException as exc:
            raise SenderCheckFailed("Twilio could not be reached") from exc
        return [item.phone_number for item in found if item.phone_number]


class AnySenders:
    """The simulated phone: every number is the account's, services hold none."""

    def owns_number(self, number: str) -> bool:
        return True

    def service_numbers(self, service_sid: str) -> list[str] | None:
        return []
