from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True)
class Finding:
    level: str
    code: str
    words: str


@dataclass(frozen=True)
class Forecast:
    first_at: datetime | None
    last_at: datetime | None
    days: int
    held_by: list = field(default_factory=list)


def check_body(body, *, business_name, declared_kind, recipients, empty_fields=None, app_hosts=()):
    out = []
    if declared_kind == "informational" and ("% off" in body or "free" in body.lower()):
        out.append(Finding("stop", "promotional", "This text has an offer."))
    if "bit.ly" in body:
        out.append(Finding("stop", "shortener", "No public link shorteners."))
    return out


def forecast(
    phones,
    *,
    start,
    timezone,
    window_start,
    window_end,
    rate_per_second,
    per_hour=None,
    daily_cap=None,
):
    return Forecast(start if phones else None, start if phones else None, 1 if phones else 0, [])
