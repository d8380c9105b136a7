"""A business's opening hours: when someone is at the shop to answer. One definition, used by
the after-hours reply (and its "9:00 AM Tuesday"), the unanswered alerts and the dashboard's
first-response minutes, which count only the time the shop was open.

They are the business's own hours, per weekday (closed, or one or two spans such as a lunch
break) minus its holidays, in its own zone; they are not the sending window for automated
texts, which follows the law and the recipient's zone (app.care.windows).

`OpeningHours.open_seconds(when)` is cumulative (the open seconds from a fixed epoch to
`when`), so the open time between two moments is a difference. It costs the same for any
moment: whole weeks are a multiplication, holidays before a day are a bisect into a sorted
list, and a change of clocks inside an open span (a shop open at 2 AM on the night the clocks
change) is a correction looked up the same way. The dashboard calls it for each wait's two
moments (app.care.metrics).
"""

from __future__ import annotations

import hashlib
import json
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property, lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from app.models import WEEKDAYS, every_day

DAY = 86400
WEEK = 7 * DAY
BASE_YEAR = 2000  # clock-change corrections count from here (any fixed year would do)
_ORDINAL_1970 = date(1970, 1, 1).toordinal()

Span = tuple[int, int]  # (open, close) in seconds into the local day; close may be 86400


def _seconds(hhmm: str, *, closing: bool = False) -> int:
    hours, minutes = hhmm.split(":")
    seconds = int(hours) * 3600 + int(minutes) * 60
    return DAY if closing and seconds == 0 else seconds  # closing at 00:00 is midnight


@lru_cache(maxsize=4096)
def _transitions(zone_key: str, year: int) -> tuple[tuple[int, int, int], ...]:
    """The zone's changes of UTC offset in a UTC year: (unix second it happens, offset
    before, offset after), found by sampling each week and bisecting to the second."""
    zone = ZoneInfo(zone_key)

    def offset(ts: int) -> int:
        utc_offset = datetime.fromtimestamp(ts, zone).utcoffset()
        return int(utc_offset.total_seconds()) if utc_offset is not None else 0

    start = int(datetime(year, 1, 1, tzinfo=UTC).timestamp())
    end = int(datetime(year + 1, 1, 1, tzinfo=UTC).timestamp())
    found: list[tuple[int, int, int]] = []
    low, before = start, offset(start)
    while low < end:
        high = min(low + WEEK, end)
        after = offset(high)
        if after != before:
            lo, hi = low, high  # offset(lo) == before, offset(hi) != before
            while hi - lo > 1:
                middle = (lo + hi) // 2
                if offset(middle) == before:
                    lo = middle
                else:
                    hi = middle
            changed = offset(hi)
            found.append((hi, before, changed))
            low, before = hi, changed
            continue
        low = high
    return tuple(found)  # a change at the next year's first second is this year's last


@dataclass(frozen=True)
class OpeningHours:
    """Open spans per weekday (Monday first) and closed dates, in a zone."""

    zone: ZoneInfo
    week: tuple[tuple[Span, ...], ...]  # 7 days, each its sorted spans
    holidays: tuple[date, ...] = ()  # sorted, distinct
    _years: dict[int, float] = field(default_factory=dict, compare=False, repr=False)
    _changes: dict[int, list] = field(default_factory=dict, compare=False, repr=False)

    # ---- derived once ----------------------------------------------------------------------

    @cached_property
    def day_lengths(self) -> tuple[int, ...]:
        return tuple(sum(close - opening for opening, close in spans) for spans in self.week)

    @cached_property
    def week_total(self) -> int:
        return sum(self.day_lengths)

    @cached_property
    def _before_weekday(self) -> tuple[int, ...]:
        totals, running = [], 0
        for length in self.day_lengths:
            totals.append(running)
            running += length
        return tuple(totals)

    @cached_property
    def _holiday_ordinals(self) -> list[int]:
        return [day.toordinal() for day in self.holidays]

    @cached_property
    def _holiday_totals(self) -> list[int]:
        """Open seconds the holidays before the i-th one took away."""
        totals, running = [0], 0
        for day in self.holidays:
            running += self.day_lengths[day.weekday()]
            totals.append(running)
        return totals

    def signature(self) -> str:
        """A short stable hash of what decides open time (zone, spans, closed dates; not the
        holidays' names): stored figures counted in opening hours are stale when it changes."""
        config = {"zone": self.zone.key, "week": [list(map(list, spans)) for spans in self.week],
                  "holidays": [day.isoformat() for day in self.holidays]}  # fmt: skip
        return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()[:16]

    # ---- one moment ------------------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        ordinal = day.toordinal()
        i = bisect_left(self._holiday_ordinals, ordinal)
        return i < len(self._holiday_ordinals) and self._holiday_ordinals[i] == ordinal

    def spans_on(self, day: date) -> tuple[Span, ...]:
        """The open spans of a local date (none on a holiday)."""
        return () if self.is_holiday(day) else self.week[day.weekday()]

    def is_open(self, when: datetime) -> bool:
        local = when.astimezone(self.zone)
        second = local.hour * 3600 + local.minute * 60 + local.second
        return any(opening <= second < close for opening, close in self.spans_on(local.date()))

    def next_opening(self, when: datetime) -> datetime | None:
        """The next moment after `when` at which a span opens (None: never open)."""
        if self.week_total == 0:
            return None
        local = when.astimezone(self.zone)
        into_day = local.hour * 3600 + local.minute * 60 + local.second
        # each holiday can close at most one open day: this many days always hold an opening
        for ahead in range(7 * (len(self.holidays) + 1) + 1):
            day = local.date() + timedelta(days=ahead)
            for opening, _close in self.spans_on(day):
                if ahead == 0 and opening <= into_day:
                    continue  # opened already today
                start = time(opening // 3600, opening % 3600 // 60)
                return datetime.combine(day, start, tzinfo=self.zone)
        return None

    # ---- open time, cumulative -------------------------------------------------------------

    def _within(self, weekday: int, into_day: float) -> float:
        return sum(min(max(into_day - opening, 0.0), float(close - opening))
                   for opening, close in self.week[weekday])  # fmt: skip

    def _wall(self, local: datetime) -> float:
        """Open seconds up to a wall-clock time of the zone (naive), as if the clocks never
        changed: whole weeks, the days before in this week, today, minus holidays."""
        into_day = local.hour * 3600 + local.minute * 60 + local.second + local.microsecond / 1e6
        return self._wall_at(local.toordinal(), into_day)

    def _wall_at(self, ordinal: int, into_day: float) -> float:
        weeks, weekday = divmod(ordinal - 1, 7)  # day 1 of the calendar is a Monday
        i = bisect_left(self._holiday_ordinals, ordinal)
        today = self._within(weekday, into_day)
        if i < len(self._holiday_ordinals) and self._holiday_ordinals[i] == ordinal:
            today = 0.0
        return (weeks * self.week_total + self._before_weekday[weekday] + today
                - self._holiday_totals[i])  # fmt: skip

    def _change(self, at: int, before: int, after: int) -> float:
        """What a change of clocks does to open time: the wall-clock hour it skips was never
        open (minus), the hour it repeats was open twice (plus)."""
        first = datetime.fromtimestamp(at, UTC).replace(tzinfo=None)
        walls = sorted((first + timedelta(seconds=before), first + timedelta(seconds=after)))
        open_on_the_wall = self._wall(walls[1]) - self._wall(walls[0])
        return -open_on_the_wall if after > before else open_on_the_wall

    def _year_changes(self, year: int) -> list[tuple[int, float]]:
        if year not in self._changes:
            self._changes[year] = [(at, self._change(at, before, after))
                                   for at, before, after in _transitions(self.zone.key, year)
                                   if self._change(at, before, after)]  # fmt: skip
        return self._changes[year]

    def _before_year(self, year: int) -> float:
        """The corrections of every change from BASE_YEAR up to (not in) `year`."""
        if year not in self._years:
            if year == BASE_YEAR:
                total = 0.0
            elif year > BASE_YEAR:
                total = self._before_year(year - 1) + sum(
                    delta for _at, delta in self._year_changes(year - 1)
                )
            else:
                total = self._before_year(year + 1) - sum(
                    delta for _at, delta in self._year_changes(year)
                )
            self._years[year] = total
        return self._years[year]

    def _correction(self, ts: float) -> float:
        year = datetime.fromtimestamp(ts, UTC).year
        if not any(self.day_lengths):
            return 0.0
        if year not in self._years:  # fill the cache outwards from BASE_YEAR, no deep recursion
            for y in range(BASE_YEAR, year, 1 if year > BASE_YEAR else -1):
                self._before_year(y)
        return self._before_year(year) + sum(
            delta for at, delta in self._year_changes(year) if at <= ts
        )

    def open_seconds(self, when: datetime) -> float:
        """Seconds of opening hours from a fixed epoch to `when`: the opening hours between
        two moments are the difference (a closed Sunday or a holiday counts nothing)."""
        local = when.astimezone(self.zone)
        return self._wall(local.replace(tzinfo=None)) + self._correction(when.timestamp())

    def open_seconds_at(self, epoch: float, local: float) -> float:
        """`open_seconds` of a moment given as unix seconds and as seconds on the zone's own
        clock since 1970 (as SQL hands them over): the same value, with no datetimes made
        (the dashboard asks it for thousands of waits)."""
        day, into_day = divmod(local, DAY)
        return self._wall_at(int(day) + _ORDINAL_1970, into_day) + self._correction(epoch)

    def open_minutes_between(self, start: datetime, end: datetime) -> float:
        return (self.open_seconds(end) - self.open_seconds(start)) / 60

    def offsets_between(self, start: datetime, end: datetime) -> list[tuple[float, float]]:
        """The zone's UTC offsets over [start, end): [(unix time it ends, offset seconds)],
        the last one open-ended (its time is `end`)."""
        spans: list[tuple[float, float]] = []
        for at, before, _after in self._changes_between(start, end):
            spans.append((float(at), float(before)))
        last = end.astimezone(self.zone).utcoffset()
        spans.append((end.timestamp(), last.total_seconds() if last is not None else 0.0))
        return spans

    def _changes_between(self, start: datetime, end: datetime) -> list[tuple[int, int, int]]:
        first, last = start.timestamp(), end.timestamp()
        return [change for year in range(start.astimezone(UTC).year, end.astimezone(UTC).year + 1)
                for change in _transitions(self.zone.key, year)
                if first < change[0] < last]  # fmt: skip


def _week_of(stored: Any) -> tuple[tuple[Span, ...], ...] | None:
    if not isinstance(stored, Mapping):
        return None
    return tuple(
        tuple(sorted((_seconds(span["open"]), _seconds(span["close"], closing=True))
                     for span in stored.get(day) or ()))
        for day in WEEKDAYS
    )  # fmt: skip


def holiday_dates(stored: Any) -> tuple[date, ...]:
    return tuple(sorted({date.fromisoformat(item["date"]) for item in stored or ()}))


def opening_hours(business: Any) -> OpeningHours:
    """The business's opening hours (a Business, or a row with its columns). A business with
    no week stored yet (rows older than its migration) is open its sending window daily."""
    week = _week_of(getattr(business, "opening_hours", None))
    if week is None:
        week = _week_of(every_day(business.window_start, business.window_end))
    assert week is not None
    return OpeningHours(ZoneInfo(business.timezone), week,
                        holiday_dates(getattr(business, "holidays", None)))  # fmt: skip


def next_opening_words(hours: OpeningHours, now: datetime) -> str:
    """'9:00 AM today', '9:00 AM tomorrow', '9:00 AM Tuesday' (or, more than a week ahead,
    '9:00 AM Tuesday, March 31'): when the business opens next, in its own time."""
    opening = hours.next_opening(now)
    if opening is None:
        return "when we are next open"
    today = now.astimezone(hours.zone).date()
    clock = opening.strftime("%I:%M %p").lstrip("0")
    days = (opening.date() - today).days
    if days == 0:
        return f"{clock} today"
    if days == 1:
        return f"{clock} tomorrow"
    if days < 7:
        return f"{clock} {opening.strftime('%A')}"
    return f"{clock} {opening.strftime('%A, %B')} {opening.day}"
