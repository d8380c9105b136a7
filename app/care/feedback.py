"""Reading replies: ratings the way people write them, and sentiment for the rest.

No reply is ever "invalid": a number we can read is a rating, anything else is words, and
words are scored for sentiment.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from sqlmodel import select
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from app.models import Feedback

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
    "cero": 0, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5, "seis": 6, "siete": 7, "ocho": 8,
    "nueve": 9, "diez": 10,
}  # fmt: skip
NUMBER_WORD = re.compile(rf"\b({'|'.join(NUMBER_WORDS)})\b")
KEYCAP = {f"{d}\ufe0f\u20e3": str(d) for d in range(10)} | {"\U0001f51f": "10"}
STAR_CHARS = "⭐★🌟✪✭✮✯✰"
MAX_RATING_WORDS = 14
UNHAPPY_SENTIMENT = -0.3
# Phrases a general-purpose sentiment lexicon reads as neutral or positive, but an owner would not.
COMPLAINTS = re.compile(
    r"\b(never (coming|going) back|not coming back|won'?t be back|rude|refund|money back|"
    r"disappoint\w*|worst|terrible|horrible|awful|waited (over|for|an|\d+)|overcharg\w*|"
    r"overpriced|rushed|ruin\w*|complain\w*|unprofessional|dirty|burn(ed|t)|botched|"
    r"not happy|unhappy)\b"
)
# A complaint word that is negated is praise: "no complaints", "not disappointed at all".
NEGATED_COMPLAINT = re.compile(
    r"\b(no|not|never|nothing to|can'?t|cannot|couldn'?t|wasn'?t|weren'?t|isn'?t|zero)\s+"
    r"(\w+\s+)?(complain\w*|disappoint\w*|rude|dirty|worst|terrible|horrible|awful)\b"
)
# Praise that a general-purpose lexicon reads as negative.
PRAISE = re.compile(
    r"\b(couldn'?t|could not|can'?t|cannot) (be|have been) (any )?(happier|better)\b"
)

_N = r"(10|[0-9](?:\.5)?)"
# A number that is a time, a duration, an amount or a head count, not a rating:
# "1:30 tomorrow?", "5pm", "it was 10 minutes late", "it was 2 of us", "dos veces" (twice).
_NOT_RATING = (
    r"(?![.:]\d)(?!\s*(?:am|pm|a\.m|p\.m|min\w*|hours?|hrs?|days?|weeks?|months?|years?|"
    r"people|persons?|kids|of us|dollars?|bucks|tickets?|times|blocks?|miles?|inches|more|"
    r"horas?|minutos?|d[ií]as?|semanas?|meses|a[nñ]os|personas?|veces|d[oó]lares|pesos)\b)"
)
# What may follow a bare number at the start: punctuation, an emoji, a word of thanks or praise,
# or the filler people add to a score ("1 bro", "2 tbh", "3 sorry").
_AFTER_BARE = (
    r"(?:\s*[-:!.,)]|\s*$|\s+(?=[^\w\s])|\s+(?:thanks?|thank\s+you|thx|ty|great|good|"
    r"loved?|amazing|awesome|excellent|perfect|bad|poor|terrible|awful|bro|lol|tbh|ngl|"
    r"honestly|sorry|smh|man|dude|imo|fr|at best|tops|max|overall|gracias)\b)"
)
PATTERNS = [
    (re.compile(rf"^{_N}\s*(?:/|out of|outta|of|de)\s*(5|10)\b"), "explicit"),
    (re.compile(rf"\b{_N}\s*(?:/|out of|outta|de)\s*(5|10)\b"), "explicit"),
    (re.compile(rf"^{_N}\s*(?:stars?|\*)"), "stars"),
    (re.compile(rf"\b{_N}\s*(?:stars?)\b"), "stars"),
    (
        re.compile(
            rf"\b(?:give|gave|rate|rated|rating|score|it'?s|its|was|a solid|solid|easy|"
            rf"doy|dar[ií]a|calificaci[oó]n|califico|puntuaci[oó]n|nota)"
            rf"(?:\s*:\s*|\s+)(?:it|you|u|them|y'?all|les?)?\s*(?:an?\s+|una?\s+)?"
            rf"{_N}\b{_NOT_RATING}"
        ),
        "bare",
    ),  # fmt: skip
    # "a 2 at best", "a 1 from me": a score with the word people put after it.
    (
        re.compile(rf"(?:^|\s)an?\s+{_N}\s+(?:at best|at most|tops|max|from me|honestly|tbh)\b"),
        "bare",
    ),
    (re.compile(rf"^{_N}{_NOT_RATING}{_AFTER_BARE}"), "lone"),
]
# Only these forms are read in a long message: a bare number there is a time or a count.
EXPLICIT_FORMS = frozenset({"explicit", "stars"})


@dataclass(frozen=True)
class Rating:
    score: int
    scale: int  # 5 or 10


def _normalise(text: str) -> str:
    for cap, digit in KEYCAP.items():
        text = text.replace(cap, f" {digit} ")
    text = text.lower().replace("’", "'")
    for star in STAR_CHARS:
        text = text.replace(star, " star ")
    # Spanish: "una estrella" is one star, "5 estrellas" are stars; "un"/"una" alone is "a".
    text = re.sub(r"\bunas?\s+(?=estrellas?\b)", "1 ", text)
    text = re.sub(r"\bestrellas?\b", "stars", text)
    text = NUMBER_WORD.sub(lambda match: str(NUMBER_WORDS[match.group(1)]), text)
    return " ".join(text.split())


def parse_rating(text: str, scale: int = 5, *, asked: bool = True) -> Rating | None:
    """The rating in a reply, or None when it holds none.

    "5", "5/5", "4 out of 5", "five stars", "⭐⭐⭐⭐", "10" (read on 0-10), "I'd give it a 4",
    "2 de 5", "una estrella", "le doy un 2". With `asked` (a 1-`scale` question is open) a bare
    number above the scale reads on 0-10; without it a lone "7" is not read (only "10" is), since
    in a reply nobody asked to score it is as likely a time or a count; "a solid 9" still is.
    """
    raw = (text or "").strip()
    if not raw:
        return None
    if re.fullmatch(r"\*{1,5}[!.]*", raw):  # "*****": stars typed on a keyboard
        return Rating(raw.count("*"), 5)
    stars = sum(raw.count(ch) for ch in STAR_CHARS)
    if stars and not re.search(r"\d", _normalise(raw)):
        return Rating(min(stars, 5), 5)
    normal = _normalise(raw)
    long_message = len(normal.split()) > MAX_RATING_WORDS
    for pattern, form in PATTERNS:
        if long_message and form not in EXPLICIT_FORMS:
            continue
        match = pattern.search(normal)
        if not match:
            continue
        value = float(match.group(1))
        if form == "explicit":
            out_of = int(match.group(2))
            if value > out_of:
                continue
            return _fit(value, out_of)
        if form == "stars":
            return _fit(value, 5) if value <= 5 else None
        if form == "lone" and value > scale and not asked and value != 10:
            return None
        return _fit(value, scale if value <= scale else 10)
    return None


def _fit(value: float, scale: int) -> Rating | None:
    if value > scale or (scale == 5 and value < 1 and value != 0):
        return None
    score = int(value + 0.5)  # 4.5 stars reads as 5
    if scale == 5:
        score = max(score, 1)
    return Rating(score, scale)


@lru_cache(maxsize=1)
def _analyzer() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """-1 (very unhappy) .. 1 (delighted): VADER, pulled down by plain complaints."""
    score = _analyzer().polarity_scores(text or "")["compound"]
    lower = (text or "").lower().replace("’", "'")
    if PRAISE.search(lower):
        score = max(score, 0.5)
    if COMPLAINTS.search(NEGATED_COMPLAINT.sub(" ", lower)):
        score = min(score, -0.5)
    return round(score, 3)


def is_unhappy(rating: Rating | None, mood: float | None) -> bool:
    if rating is not None:
        return rating.score <= (2 if rating.scale == 5 else 6)
    return mood is not None and mood <= UNHAPPY_SENTIMENT


def suggest_reply(first_name: str, business_name: str, owner_name: str = "") -> str:
    """A personal first answer the owner can send or edit: own it, apologise, offer to fix it."""
    hello = f"Hi {first_name}" if first_name else "Hi"
    who = f"this is {owner_name} from {business_name}" if owner_name else f"it's {business_name}"
    return (
        f"{hello}, {who}. I'm so sorry your visit wasn't what it should have been. "
        "I'd like to make it right - may I call you today, or is texting easier?"
    )


def latest_unhappy(session, customer_id: int):
    """The customer's most recent unhappy feedback (with its suggested reply), or None."""
    return session.exec(
        select(Feedback)
        .where(Feedback.customer_id == customer_id, Feedback.unhappy.is_(True))
        .order_by(Feedback.id.desc())
    ).first()
