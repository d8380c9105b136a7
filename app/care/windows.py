"""When an automated text may reach a recipient: the law's hours and the business's own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.phones import locale_of

# (start, end) local hours by weekday (Mon=0); FACTS.md's table.
FEDERAL = (time(8), time(21))
STATE_WINDOWS: dict[str, dict[int, tuple[time, time]]] = {
    "FL": dict.fromkeys(range(7), (time(8), time(20))),
    "OK": dict.fromkeys(range(7), (time(8), time(20))),
    "MD": dict.fromkeys(range(7), (time(8), time(20))),
    "MS": dict.fromkeys(range(7), (time(8), time(20))),
    "NJ": dict.fromkeys(range(7), (time(8), time(20))),
    "CT": dict.fromkeys(range(7), (time(9), time(20))),
    "TX": {**dict.fromkeys(range(6), (time(9), time(21))), 6: (time(12), time(21))},
    "VA": dict.fromkeys(range(7), (time(8), time(21))),
}


def parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    parsed = time(int(hours), int(minutes))
    return parsed


@dataclass(frozen=True)
class Window:
    zone: ZoneInfo
    state: str | None
    business_start: time
    business_end: time

    def hours_on(self, weekday: int) -> tuple[time, time]:
        start, end = max(self.business_start, FEDERAL[0]), min(self.business_end, FEDERAL[1])
        if self.state in STATE_WINDOWS:
            law_start, law_end = STATE_WINDOWS[self.state][weekday]
            start, end = max(start, law_start), min(end, law_end)
        return start, end

    def is_open(self, when: datetime) -> bool:
        local = when.astimezone(self.zone)
        start, end = self.hours_on(local.weekday())
        return start <= local.time().replace(tzinfo=None) < end

    def next_opening(self, when: datetime) -> datetime:
        """`when` itself if the window is open then, else the next moment it opens."""
        if self.is_open(when):
            return when
        local = when.astimezone(self.zone)
        for day in range(0, 8):
            date = (local + timedelta(days=day)).date()
            start, end = self.hours_on(date.weekday())
            if start >= end:
                continue
            opening = datetime.combine(date, start, tzinfo=self.zone)
            if opening > when:
                return opening.astimezone(when.tzinfo)
        raise ValueError("the sending window never opens: check the business's hours")


def recipient_window(phone: str, business_zone: str, start: str, end: str) -> Window:
    """The window for one recipient: their zone and state from the number, else the business's."""
    locale = locale_of(phone)
    zone = ZoneInfo(locale.time_zone or business_zone)
    return Window(zone, locale.state, parse_hhmm(start), parse_hhmm(end))
