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
# At most this many texts to one person in 24 hours (FACTS.md: Florida, Oklahoma, Maryland).
STATE_DAILY_CAPS: dict[str, int] = {"FL": 3, "OK": 3, "MD": 3}
STATE_NAMES = {"FL": "Florida", "OK": "Oklahoma", "MD": "Maryland", "MS": "Mississippi",
               "NJ": "New Jersey", "CT": "Connecticut", "TX": "Texas",
               "VA": "Virginia"}  # fmt: skip
WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


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

    def closed_by(self, when: datetime, opening: datetime | None = None) -> tuple[str, dict]:
        """Which hours kept the window shut at `when` (until `opening`): ("state", {state,
        day, start, end}) when the state's law did (it closed, or it opens later than the
        business would on the opening's day: Texas on Sunday), else ("business", ...) for the
        business's own hours, or ("federal", ...) for the law's 8:00 to 21:00."""
        local = when.astimezone(self.zone)
        weekday, moment = local.weekday(), local.time().replace(tzinfo=None)
        business = (max(self.business_start, FEDERAL[0]), min(self.business_end, FEDERAL[1]))
        if opening is not None and self.state in STATE_WINDOWS:
            opens_on = opening.astimezone(self.zone).weekday()
            if STATE_WINDOWS[self.state][opens_on][0] > business[0]:
                return "state", self._state_facts(opens_on)
        if self.state in STATE_WINDOWS and business[0] <= moment < business[1]:
            return "state", self._state_facts(weekday)
        if FEDERAL[0] <= moment < FEDERAL[1] or not (
            self.business_start <= moment < self.business_end
        ):
            return "business", {"start": self.business_start, "end": self.business_end}
        return "federal", {"start": FEDERAL[0], "end": FEDERAL[1]}

    def _state_facts(self, weekday: int) -> dict:
        week = STATE_WINDOWS[self.state or ""]
        start, end = week[weekday]
        special = list(week.values()).count(week[weekday]) < len(week) / 2  # Texas's Sunday
        return {"state": STATE_NAMES.get(self.state or "", self.state), "start": start,
                "end": end, "day": WEEKDAY_NAMES[weekday] if special else None}  # fmt: skip

    def daily_cap(self) -> int | None:
        """The state's limit of texts in 24 hours, where the law sets one."""
        return STATE_DAILY_CAPS.get(self.state or "")

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
