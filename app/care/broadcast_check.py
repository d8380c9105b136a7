"""The check before a broadcast goes: what it costs, what carriers refuse, what the law and
the number's pace make of it, in words for the owner. Pure: no database, no clock."""

from __future__ import annotations

import heapq
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from app.care.budget import clock_words
from app.care.merge import FIELDS
from app.care.outbound import OPT_OUT_LINE, names_business, says_how_to_opt_out
from app.care.windows import Window, recipient_window
from app.phones import locale_key
from app.sms.encoding import cost_cents, is_gsm7, segment_info

STOP, WARN, OK = "stop", "warn", "ok"
KINDS = ("informational", "promotional")


@dataclass(frozen=True)
class Finding:
    level: str  # STOP (cannot send as is), WARN (the owner should look), OK (all good)
    code: str  # stable: shortener, shaft, promotional, segments, opt_out, business_name, ...
    words: str  # one sentence for the owner


# ---- promotional wording -------------------------------------------------------------------

# "free" that offers nothing: an invitation, someone available, an ingredient left out.
_NOT_OFFER_FREE = re.compile(
    r"(?:feel|be|you're|youre|you\s+are|we're|we\s+are|i'm|im|are\s+you|is\s+(?:she|he))"
    r"\s+free\b|\bfree\s+(?:slots?|spots?|time|chairs?|moments?|parking|wi-?fi|to)\b"
    r"|[\w]-free\b|\b(?:gluten|sugar|dairy|nut|fragrance|scent|cruelty|paraben|sulfate|"
    r"ammonia|toxin|latex|stress|hassle|worry|hands|toll|smoke|alcohol)\s+free\b",
    re.IGNORECASE,
)
_WORD_NUMBERS = "one|two|three|four"
# (pattern, how the reason is said): the first pattern to claim a stretch of text names it.
_PROMOTIONAL: list[tuple[re.Pattern[str], str]] = [
    (
        re.compile(
            r"(?:\$\s?\d+(?:\.\d\d)?|\d+\s?(?:%|percent))\s+off\b|\bhalf[\s-](?:price|off)\b"
            r"|\bsave\s+(?:\$\s?\d+|\d+\s?%)|\d+\s?%\s+discount|\bdiscount(?:s|ed)?\b",
            re.IGNORECASE,
        ),
        'a discount ("{}")',
    ),  # fmt: skip
    (
        re.compile(
            r"\b(?:(?:promo|coupon|discount|use|enter|apply)\s+code[:\s]+[A-Za-z0-9]+"
            r"|code[:\s]+(?=[A-Z0-9]*\d)(?=[A-Z0-9]*[A-Z])[A-Z0-9]{4,}\b)"
            r"|\bcoupons?\b"
        ),
        'a coupon code ("{}")',
    ),  # fmt: skip
    (
        re.compile(r"\bbogo\b|\bbuy\s+(?:one|1|two|2)[\s,]+get\s+(?:one|1)\b", re.IGNORECASE),
        'an offer ("{}")',
    ),
    (re.compile(r"\$\s?\d+(?:[.,]\d+)?|\b\d+\s+dollars\b", re.IGNORECASE), 'a price ("{}")'),
    (re.compile(r"\bfree(?:bies?)?\b|\bcomplimentary\b", re.IGNORECASE), 'the word "{}"'),
    (
        re.compile(
            r"\b(?:sale|deals|promos?|vouchers?|giveaway|clearance|specials)\b"
            r"|\bdeal\b(?!\s+with)|\blimited[\s-]time\b|\bwhile\s+supplies\s+last\b",
            re.IGNORECASE,
        ),
        'the words "{}"',
    ),  # fmt: skip
]
_N_FOR_M = re.compile(rf"\b(\d+|{_WORD_NUMBERS})[\s-]+for[\s-]+(\d+|{_WORD_NUMBERS})\b", re.I)
_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4}


def _count(word: str) -> int:
    return int(word) if word.isdigit() else _COUNTS[word.lower()]


def promotional_reasons(body: str) -> list[str]:
    """Why a text is promotional, in words ('a discount ("20% off")', 'the word "free"'), in
    the order they appear; [] when it only informs."""
    claimed: list[tuple[int, int, str]] = []
    free_not_offer = [m.span() for m in _NOT_OFFER_FREE.finditer(body)]

    def claim(start: int, end: int, words: str) -> None:
        if not any(start < e and s < end for s, e, _ in claimed):
            claimed.append((start, end, words))

    for match in _N_FOR_M.finditer(body):  # "2 for 1", not "open for 2 hours"
        if _count(match[1]) > _count(match[2]):
            claim(*match.span(), f'an offer ("{match[0]}")')
    for pattern, said in _PROMOTIONAL:
        for match in pattern.finditer(body):
            start, end = match.span()
            if match[0].lower() == "free" and any(s <= start < e for s, e in free_not_offer):
                continue
            claim(start, end, said.format(" ".join(match[0].split())).replace('words "', 'word "'))
    reasons: list[str] = []
    for _, _, words in sorted(claimed):
        if words not in reasons:
            reasons.append(words)
    return reasons


def is_promotional(body: str) -> bool:
    return bool(promotional_reasons(body))


# ---- links -----------------------------------------------------------------------------------

SHORTENERS = frozenset({
    "bit.ly", "bitly.com", "tinyurl.com", "t.co", "goo.gl", "ow.ly", "is.gd", "v.gd",
    "buff.ly", "rebrand.ly", "cutt.ly", "shorturl.at", "tiny.cc", "rb.gy", "bl.ink",
    "lnkd.in", "s.id", "t.ly", "bit.do", "adf.ly", "shorte.st", "tr.im", "x.co", "po.st",
    "clck.ru", "qr.net", "su.pr", "cli.gs", "soo.gd", "tiny.one", "shrtco.de", "rebrandly.com",
})  # fmt: skip
_HOST = re.compile(
    r"(?<![\w@.-])(?:https?://)?((?:[a-z0-9-]+\.)+[a-z]{2,24})(?![\w-])(?!\.[a-z0-9])",
    re.IGNORECASE,
)
_LINK = re.compile(r"(?:https?://|www\.)", re.IGNORECASE)


def _hosts(body: str) -> list[str]:
    hosts = []
    for match in _HOST.finditer(body):
        host = match[1].lower().removeprefix("www.")
        if host not in hosts:
            hosts.append(host)
    return hosts


def public_shorteners(body: str) -> list[str]:
    """The public link shorteners the text links to (carriers filter them), as domains."""
    return [host for host in _hosts(body) if host in SHORTENERS]


# ---- what carriers refuse ---------------------------------------------------------------------

# Whole words; "-free" and "non-" compounds say the opposite. Tools in a salon ("glue gun",
# "piercing gun") are not firearms; a number in a phone, a price or an address is not 420.
SHAFT: dict[str, str] = {
    "sex": r"sex|sexy|sexual|porn|porno|xxx|nudes?|nudity|erotic|escorts?|strippers?"
    r"|strip\s+club|fetish|onlyfans|ass",
    "hate": r"nazis?|kkk|white\s+power|white\s+supremacy|sieg\s+heil|heil\s+hitler",
    "alcohol": r"beers?|wines?|cocktails?|happy\s+hours?|mimosas?|margaritas?|sangria|vodka"
    r"|whiske?y|tequila|bourbon|liquor|booze|brewery|open\s+bar|alcohol|alcoholic",
    "firearms": r"(?<!glue\s)(?<!heat\s)(?<!staple\s)(?<!nail\s)(?<!spray\s)(?<!piercing\s)"
    r"(?<!massage\s)guns?|rifles?|ammo|ammunition|firearms?|pistols?|handguns?|shotguns?"
    r"|revolvers?|glocks?|ar-15|concealed\s+carry|shooting\s+range",
    "tobacco or vaping": r"vapes?|vaping|vaper|cigars?|cigarettes?|cigarillos?|hookahs?"
    r"|tobacco|e-cigs?|e-cigarettes?|juul|nicotine|smoke\s+shop",
    "cannabis": r"cbd|thc|weed|dispensary|dispensaries|marijuana|cannabis|edibles|pre-rolls?"
    r"|kush|delta[\s-]8|(?<![\d$.:/-])420(?![\d.:/-])(?!\s+(?:\w+\s+){0,2}(?:st|street|ave"
    r"|avenue|rd|road|blvd|dr|drive|ln|lane|way|suite)\b)",
}
_SHAFT = {
    category: re.compile(rf"(?<![\w-])(?<!non-)(?:{words})(?![\w-])(?![\s-]free\b)", re.I)
    for category, words in SHAFT.items()
}


def shaft_matches(body: str) -> dict[str, str]:
    """The content carriers refuse or gate, by category, with the first word that says it."""
    return {category: match[0] for category, pattern in _SHAFT.items()
            if (match := pattern.search(body))}  # fmt: skip


def shaft_flags(body: str) -> list[str]:
    """Categories carriers refuse (cannabis) or want an age check for (sex, hate, alcohol,
    firearms, tobacco or vaping), in words."""
    return list(shaft_matches(body))


# ---- the check -------------------------------------------------------------------------------


def _dollars(cents: float) -> str:
    return f"${round(cents) / 100:,.2f}"


def _texts(count: int) -> str:
    return f"{count:,} text{'' if count == 1 else 's'}"


def _segments_finding(body: str, recipients: int) -> Finding:
    info = segment_info(body)
    parts = f"{info.segments} part{'' if info.segments == 1 else 's'} each"
    cost = f"about {_dollars(cost_cents(body) * recipients)} for {_texts(recipients)}"
    if info.encoding == "GSM-7":
        return Finding(OK, "segments", f"{parts} (plain letters only): {cost}.")
    odd = [ch for ch in dict.fromkeys(body) if not is_gsm7(ch) and ch.isprintable()][:3]
    plain = segment_info("".join(ch if is_gsm7(ch) else "?" for ch in body)).segments
    why = f"special characters such as emoji make parts shorter: here {' '.join(odd)}"
    if plain < info.segments:
        return Finding(WARN, "segments", f"{parts} ({why}): {cost}; in plain letters it "
                       f"would be {plain} part{'' if plain == 1 else 's'}.")  # fmt: skip
    return Finding(OK, "segments", f"{parts} ({why}): {cost}.")


def _field_label(name: str) -> tuple[str, str]:
    field = FIELDS.get(name)
    return (field.label, field.fallback) if field else (name.replace("_", " ").capitalize(), "")


def check_body(
    body: str,
    *,
    business_name: str,
    declared_kind: str,
    recipients: int,
    empty_fields: dict[str, int] | None = None,
    app_hosts: tuple[str, ...] = (),
) -> list[Finding]:
    """Everything the owner should know about a broadcast's text before it goes, in words:
    STOP findings must be fixed, WARN ones looked at, OK ones say what is fine."""
    if declared_kind not in KINDS:
        raise ValueError(f"a broadcast is informational or promotional, not {declared_kind!r}")
    if not body.strip():
        return [Finding(STOP, "empty", "The text is empty.")]
    findings = [_segments_finding(body, recipients)]
    if names_business(body, business_name):
        findings.append(Finding(OK, "business_name", f"The text names {business_name}."))
    else:
        findings.append(
            Finding(
                WARN,
                "business_name",
                f"The text does not name {business_name}: customers may not know who is texting.",
            )
        )
    if says_how_to_opt_out(body):
        findings.append(Finding(OK, "opt_out", "The text says how to opt out."))
    else:
        findings.append(
            Finding(
                WARN,
                "opt_out",
                "The text does not say how to opt out "
                f'(such as "{OPT_OUT_LINE}"): carriers require it.',
            )
        )
    shorteners = public_shorteners(body)
    if shorteners:
        findings.append(Finding(STOP, "shortener", f"Carriers block texts with public link "
                                f"shorteners ({', '.join(shorteners)}): use the full link to "
                                "your own website instead."))  # fmt: skip
    elif _hosts(body) or _LINK.search(body):
        own = [host for host in _hosts(body) if host in app_hosts]
        said = " (links on our own address are tracked: the report counts clicks)" if own else ""
        findings.append(Finding(OK, "shortener", f"The links are full addresses{said}."))
    for category, word in shaft_matches(body).items():
        if category == "cannabis":
            findings.append(Finding(STOP, "shaft", f'The text mentions cannabis ("{word}"): '
                                    "carriers refuse such texts."))  # fmt: skip
        else:
            findings.append(Finding(WARN, "shaft", f'The text touches on {category} ("{word}")'
                                    ": carriers may refuse it, and such texts need an age "
                                    "check of the recipients."))  # fmt: skip
    reasons = promotional_reasons(body)
    if declared_kind == "promotional":
        findings.append(Finding(OK, "promotional", "A promotional text: it goes only to "
                                "customers who agreed to offers."))  # fmt: skip
    elif reasons:
        has = ", ".join(reasons[:-1]) + (" and " if len(reasons) > 1 else "") + reasons[-1]
        findings.append(
            Finding(
                STOP,
                "promotional",
                f"This text has {has}: it can only go as "
                "a promotional text, to customers who agreed to offers.",
            )
        )
    else:
        findings.append(Finding(OK, "promotional", "No offer in the text: it can go to every "
                                "customer who agreed to texts."))  # fmt: skip
    for name, count in (empty_fields or {}).items():
        if count <= 0:
            continue
        label, fallback = _field_label(name)
        whom = f"{count:,} customer{'' if count == 1 else 's'}"
        then = f'they will read "{fallback}" instead' if fallback else "their text will have a gap"
        findings.append(Finding(WARN, "empty_field", f"{label} is empty for {whom}: {then}."))
    return findings


# ---- when the last text goes -----------------------------------------------------------------

_MICRO = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _us(when: datetime) -> int:
    return (when - _EPOCH) // _MICRO


def _at(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


@dataclass(frozen=True)
class Forecast:
    first_at: datetime | None
    last_at: datetime | None  # when the last text is expected to go (UTC), None if nobody
    days: int  # business-local calendar days it spans
    held_by: list[str]  # plain words of what slowed it


def _period(window: Window, when: datetime) -> tuple[int, int]:
    """The open stretch of `window` at `when`, or the next one: (opens, closes) in µs."""
    opening = window.next_opening(when)
    local = opening.astimezone(window.zone)
    closes = datetime.combine(local.date(), window.hours_on(local.weekday())[1], window.zone)
    return _us(opening), _us(closes)


def _pace_words(rate_per_second: float) -> str:
    if rate_per_second >= 1:
        count = f"{rate_per_second:g}"
        return f"the number's pace ({count} text{'' if count == '1' else 's'} a second)"
    return f"the number's pace (1 text every {1 / rate_per_second:g} seconds)"


def _noon(moment: time) -> str:
    return "noon" if moment == time(12) else clock_words(moment)


def _held_words(window: Window, when: datetime) -> str:
    opening = window.next_opening(when)
    rule, facts = window.closed_by(when, opening)
    if rule != "state":
        return "sending hours in their time zones"
    if facts.get("day"):
        return f"{facts['state']}: no texts before {_noon(facts['start'])} on {facts['day']}"
    return f"{facts['state']}: texts only from {_noon(facts['start'])} to {_noon(facts['end'])}"


def forecast(
    phones: Sequence[str],
    *,
    start: datetime,
    timezone: str,
    window_start: str,
    window_end: str,
    rate_per_second: float,
    per_hour: int | None = None,
    daily_cap: int | None = None,
) -> Forecast:
    """When the texts of a broadcast will go, simulated in the recipients' order: each takes
    the number's next slot (its pace, or `per_hour`'s when slower); a recipient whose window
    is shut waits for it to open without holding up the others; at most `daily_cap` a day
    (the business's day), then the next day's windows."""
    if not phones:
        return Forecast(None, None, 0, [])
    pace = round(1_000_000 / rate_per_second)
    step = max(pace, round(3_600_000_000 / per_hour) if per_hour else 0)
    business_zone = ZoneInfo(timezone)
    # Recipients grouped by window, in their order. A window depends on the area code (or a
    # longer prefix, at most "+1" and 6 digits), so each prefix is looked up once.
    windows: list[Window] = []
    numbers: dict[Window, int] = {}
    by_prefix: dict[str, int] = {}
    by_key: dict[str, int] = {}
    queues: list[list[int]] = []
    for index, phone in enumerate(phones):
        prefix = phone[:8] if phone.startswith("+1") else phone
        number = by_prefix.get(prefix)
        if number is None:
            key = locale_key(phone)
            number = by_key.get(key)
            if number is None:
                window = recipient_window(phone, timezone, window_start, window_end)
                number = numbers.setdefault(window, len(windows))
                if number == len(windows):
                    windows.append(window)
                    queues.append([])
                by_key[key] = number
            by_prefix[prefix] = number
        queues[number].append(index)
    heads = [0] * len(windows)
    held: list[str] = []

    def hold(reason: str) -> None:
        if reason not in held:
            held.append(reason)

    now = _us(start)
    periods = [_period(window, start) for window in windows]
    ready: list[tuple[int, int]] = []  # (first waiting recipient, window) of open windows
    waiting: list[tuple[int, int]] = []  # (opening, window) of shut ones
    for number, window in enumerate(windows):
        if periods[number][0] <= now:
            heapq.heappush(ready, (queues[number][0], number))
        else:
            hold(_held_words(window, start))
            heapq.heappush(waiting, (periods[number][0], number))

    def local_day_end(us: int) -> int:
        local = _at(us).astimezone(business_zone)
        return _us(datetime.combine(local.date() + timedelta(days=1), time(0), business_zone))

    first = last = None
    day_end, sent_today = local_day_end(now), 0
    while ready or waiting:
        if now >= day_end:
            day_end, sent_today = local_day_end(now), 0
        while waiting and waiting[0][0] <= now:
            _, number = heapq.heappop(waiting)
            heapq.heappush(ready, (queues[number][heads[number]], number))
        if not ready:
            now = waiting[0][0]
            continue
        _, number = ready[0]
        if periods[number][1] <= now:  # its window shut since: wait for the next opening
            heapq.heappop(ready)
            window = windows[number]
            hold(_held_words(window, _at(now)))
            periods[number] = _period(window, _at(now))
            heapq.heappush(waiting, (periods[number][0], number))
            continue
        first = now if first is None else first
        last = now
        heads[number] += 1
        queue = queues[number]
        if heads[number] < len(queue):
            heapq.heapreplace(ready, (queue[heads[number]], number))
        else:
            heapq.heappop(ready)
        sent_today += 1
        now += step
        if daily_cap is not None and sent_today >= daily_cap and (ready or waiting):
            hold(f"the daily limit of {_texts(daily_cap)} for your number")
            now = max(now, day_end)
    if len(phones) > 1:
        if step > pace:
            held.insert(0, f"at most {per_hour:,} an hour (your setting)")
        else:
            held.insert(0, _pace_words(rate_per_second))
    assert first is not None and last is not None
    first_at, last_at = _at(first), _at(last)
    days = last_at.astimezone(business_zone).date() - first_at.astimezone(business_zone).date()
    return Forecast(first_at, last_at, days.days + 1, held)
