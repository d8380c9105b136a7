"""Settings from the environment (and `.env`), validated once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values
from limits import parse_many

INSTANCE_DIR = Path(os.environ.get("REGULARS_INSTANCE_DIR", Path.cwd() / "instance"))
ENVIRONMENTS = ("production", "development", "test")
# What push services accept as a VAPID subject (py_vapid checks the same before signing).
VAPID_SUBJECT = re.compile(
    r"^(mailto:[^@\s]+@(localhost|[\w-]+(\.[\w-]+)+)|https://[\w-]+(\.[\w-]+)+)$", re.IGNORECASE
)
PLACEHOLDER_SECRETS = {"", "changeme", "change-me", "secret", "dev", "development"}


class ConfigError(RuntimeError):
    """The configuration cannot run: the message says what to set."""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"1", "true", "yes", "on"}:
        return True
    if text in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{value!r} is not true or false")


@dataclass(frozen=True)
class Settings:
    env: str = "production"  # "development" relaxes the secret-key rule only
    database_url: str = ""
    secret_key: str = ""
    sms_backend: str = "simulator"
    twilio_account_sid: str = ""
    twilio_auth_token: str = ""
    twilio_api_base_url: str = "https://api.twilio.com"
    public_base_url: str = ""
    # Proxies in front whose X-Forwarded-* headers are believed. 0 (no proxy) is the safe
    # default: otherwise any client could claim any address and dodge or cause throttling.
    trusted_proxies: int = 0
    max_body_bytes: int = 64 * 1024
    # where request limits count: "database" (shared through the app's database) or Redis
    rate_limit_storage: str = "database"
    api_rate_limit: str = "600 per minute"  # per API key
    public_rate_limit: str = "60 per minute"  # per address, on /l/<token> and the like
    # sign-ups on the referral landing page, per address (each business has its own limit too)
    referral_signup_limit: str = "5 per hour"
    # dispatcher
    embedded_worker: bool = False
    worker_batch_size: int = 100
    worker_concurrency: int = 8
    worker_poll_seconds: float = 1.0
    # How long past the provider timeout a claimed text stays with a worker that stopped
    # renewing it (a heartbeat renews it every third of this while the worker lives).
    lease_seconds: int = 3
    max_send_attempts: int = 5
    backoff_base_seconds: float = 5.0
    reconcile_grace_seconds: int = 120
    pacing: bool = True
    simulator_page: bool = False  # the pretend phone at /simulator (development only)
    # In a host for many businesses, a business's sending number is the operator's to set.
    owners_may_change_number: bool = False
    # Twilio answers in well under a second; a send's lease must outlive this, so a longer
    # wait only slows the recovery of a killed worker's texts.
    twilio_timeout_seconds: float = 5.0
    validity_period_seconds: int = 14400
    # Status callbacks (Twilio's whole form, phone numbers included) are kept this long.
    status_payload_retention_days: int = 30
    # Who push services may contact about this installation's notifications (VAPID `sub`):
    # a mailto: address or an https origin; empty means PUBLIC_BASE_URL.
    vapid_subject: str = ""
    extra: dict = field(default_factory=dict)

    @property
    def is_development(self) -> bool:
        return self.env == "development"

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def push_subject(self) -> str:
        """The VAPID `sub`: VAPID_SUBJECT, else the public https origin, else a local address
        (development: push services that check it want a real one)."""
        if self.vapid_subject:
            return self.vapid_subject
        origin = self.public_base_url.rstrip("/")
        return origin if VAPID_SUBJECT.match(origin) else "mailto:webpush@localhost"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def validate(self) -> Settings:
        problems = []
        if self.sms_backend not in {"simulator", "twilio"}:
            problems.append(
                f"SMS_BACKEND must be 'simulator' or 'twilio', not {self.sms_backend!r}"
            )
        if self.sms_backend == "twilio":
            if not self.twilio_account_sid.startswith("AC"):
                problems.append("SMS_BACKEND=twilio needs TWILIO_ACCOUNT_SID (starts with AC)")
            if not self.twilio_auth_token:
                problems.append("SMS_BACKEND=twilio needs TWILIO_AUTH_TOKEN")
        if not self.is_development and self.secret_key.lower() in PLACEHOLDER_SECRETS:
            problems.append("SECRET_KEY must be set to a long random value outside development")
        if not self.is_development and 0 < len(self.secret_key) < 16:
            problems.append("SECRET_KEY is too short: use at least 16 random characters")
        for env_name, value in (
            ("WORKER_BATCH_SIZE", self.worker_batch_size),
            ("LEASE_SECONDS", self.lease_seconds),
            ("MAX_SEND_ATTEMPTS", self.max_send_attempts),
            ("MAX_BODY_BYTES", self.max_body_bytes),
            ("STATUS_PAYLOAD_RETENTION_DAYS", self.status_payload_retention_days),
        ):
            if value < 1:
                problems.append(f"{env_name} must be a positive number, not {value}")
        if self.env not in ENVIRONMENTS:
            problems.append(f"REGULARS_ENV must be one of {', '.join(ENVIRONMENTS)}, not "
                            f"{self.env!r}")  # fmt: skip
        if self.simulator_page and (not self.is_development or self.sms_backend != "simulator"):
            problems.append("SIMULATOR_PAGE needs REGULARS_ENV=development and "
                            "SMS_BACKEND=simulator: the pretend phone has no sign-in")  # fmt: skip
        storage = self.rate_limit_storage
        if (
            storage != "database"
            and not storage.startswith(("redis://", "rediss://"))
            and not (storage == "memory://" and not self.is_production)
        ):
            problems.append(
                "RATE_LIMIT_STORAGE must be 'database' or a redis:// URL (counters must be "
                "shared by every web process)"
            )
        for env_name, limit in (("API_RATE_LIMIT", self.api_rate_limit),
                                ("PUBLIC_RATE_LIMIT", self.public_rate_limit),
                                ("REFERRAL_SIGNUP_LIMIT", self.referral_signup_limit)):  # fmt: skip
            try:
                parse_many(limit)
            except ValueError:
                problems.append(f"{env_name} must look like '600 per minute', not {limit!r}")
        if self.twilio_timeout_seconds <= 0:
            problems.append("TWILIO_TIMEOUT_SECONDS must be a positive number of seconds")
        if self.public_base_url and not self.public_base_url.startswith(("https://", "http://")):
            problems.append("PUBLIC_BASE_URL must be an origin such as https://regulars.example")
        if self.vapid_subject and not VAPID_SUBJECT.match(self.vapid_subject):
            problems.append("VAPID_SUBJECT must be mailto:someone@example.com or an https origin "
                            "such as https://regulars.example")  # fmt: skip
        if problems:
            raise ConfigError("Regulars cannot start:\n  - " + "\n  - ".join(problems))
        return self


ENV_NAMES = {
    "REGULARS_ENV": "env",
    "DATABASE_URL": "database_url",
    "SECRET_KEY": "secret_key",
    "SMS_BACKEND": "sms_backend",
    "TWILIO_ACCOUNT_SID": "twilio_account_sid",
    "TWILIO_AUTH_TOKEN": "twilio_auth_token",
    "TWILIO_API_BASE_URL": "twilio_api_base_url",
    "PUBLIC_BASE_URL": "public_base_url",
    "TRUSTED_PROXIES": "trusted_proxies",
    "MAX_BODY_BYTES": "max_body_bytes",
    "EMBEDDED_WORKER": "embedded_worker",
    "WORKER_BATCH_SIZE": "worker_batch_size",
    "WORKER_CONCURRENCY": "worker_concurrency",
    "WORKER_POLL_SECONDS": "worker_poll_seconds",
    "LEASE_SECONDS": "lease_seconds",
    "TWILIO_TIMEOUT_SECONDS": "twilio_timeout_seconds",
    "MAX_SEND_ATTEMPTS": "max_send_attempts",
    "SEND_PACING": "pacing",
    "SIMULATOR_PAGE": "simulator_page",
    "OWNERS_MAY_CHANGE_NUMBER": "owners_may_change_number",
    "RATE_LIMIT_STORAGE": "rate_limit_storage",
    "API_RATE_LIMIT": "api_rate_limit",
    "PUBLIC_RATE_LIMIT": "public_rate_limit",
    "REFERRAL_SIGNUP_LIMIT": "referral_signup_limit",
    "STATUS_PAYLOAD_RETENTION_DAYS": "status_payload_retention_days",
    "VAPID_SUBJECT": "vapid_subject",
}


def _coerce(name: str, value: Any) -> Any:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if kind == "bool":
        return _bool(value)
    if kind == "int":
        return int(value)
    if kind == "float":
        return float(value)
    return value if not isinstance(value, str) else value.strip()


def load_settings(overrides: Mapping[str, Any] | None = None, *, environ=None) -> Settings:
    """Read settings from `.env`, then the environment, then `overrides`; validate them."""
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {}
    source = {**{k: v for k, v in dotenv_values(".env").items() if v is not None}, **environ}
    if overrides is None or not overrides.get("ignore_environment"):
        for env_name, attr in ENV_NAMES.items():
            if env_name in source and source[env_name] != "":
                values[attr] = source[env_name]
    for key, value in (overrides or {}).items():
        if key == "ignore_environment":
            continue
        attr = ENV_NAMES.get(key, key.lower())
        if attr not in {f.name for f in fields(Settings)}:
            raise ConfigError(f"unknown setting {key!r}")
        values[attr] = value
    names = {attr: env for env, attr in ENV_NAMES.items()}
    coerced = {}
    for key, value in values.items():
        try:
            coerced[key] = _coerce(key, value)
        except ValueError as exc:
            label = names.get(key, key)
            raise ConfigError(f"Regulars cannot start: {label} is invalid ({exc})") from exc
    settings = Settings(**coerced)
    if not settings.database_url:
        INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
        settings = replace(settings, database_url=f"sqlite:///{INSTANCE_DIR / 'regulars.db'}")
    if settings.is_development and not settings.secret_key:
        settings = replace(settings, secret_key=os.urandom(24).hex())
    return settings.validate()
