"""Today's reply reading, frozen: a copy of app/care/feedback.py as of commit eada3b8.

scripts/eval_replies.py runs it beside app/care/reading.py so the two are compared on the same
replies, even after feedback.py changes. `old_is_unhappy` is what handle_reply decided then: a
rating is read only while a rating question is open, otherwise VADER plus a complaint regex.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

NUMBER_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10,
}  # fmt: skip
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
# "1:30 tomorrow?", "5pm", "it was 10 minutes late", "it was 2 of us".
_NOT_RATING = (
    r"(?![.:]\d)(?!\s*(?:am|pm|a\.m|p\.m|min\w*|hours?|hrs?|days?|weeks?|months?|years?|"
    r"people|persons?|kids|of us|dollars?|bucks|tickets?)\b)"
)
# What may follow a bare number at the start: punctuation, an emoji, a word of thanks or praise.
_AFTER_BARE = (
    r"(?:\s*[-:!.,)]|\s*$|\s+(?=[^\w\s])|\s+(?:thanks?|thank\s+you|thx|ty|great|good|"
    r"loved?|amazing|awesome|excellent|perfect|bad|poor|terrible|awful)\b)"
)
PATTERNS = [
    (re.compile(rf"^{_N}\s*(?:/|out of|outta|of)\s*(5|10)\b"), "explicit"),
    (re.compile(rf"\b{_N}\s*(?:/|out of|outta)\s*(5|10)\b"), "explicit"),
    (re.compile(rf"^{_N}\s*(?:stars?|\*)"), "stars"),
    (re.compile(rf"\b{_N}\s*(?:stars?)\b"), "stars"),
    (
        re.compile(
            rf"\b(?:give|gave|rate|rated|rating|score|it'?s|its|was|a solid|solid|easy)"
            rf"(?:\s*:\s*|\s+)(?:it|you|u|them|y'?all)?\s*(?:an?\s+)?{_N}\b{_NOT_RATING}"
        ),
        "bare",
    ),  # fmt: skip
    (re.compile(rf"^{_N}{_NOT_RATING}{_AFTER_BARE}"), "bare"),
]


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
    for word, number in NUMBER_WORDS.items():
        text = re.sub(rf"\b{word}\b", str(number), text)
    return " ".join(text.split())


def parse_rating(text: str, scale: int = 5) -> Rating | None:
    """The rating in a reply to a 1-`scale` question, or None when it holds none.

    "5", "5/5", "4 out of 5", "five stars", "⭐⭐⭐⭐", "10" (read on 0-10), "I'd give it a 4".
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
    if len(normal.split()) > MAX_RATING_WORDS:
        return None
    for pattern, form in PATTERNS:
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


def old_is_unhappy(text: str, scale: int = 5, *, asked_rating: bool = False) -> bool:
    """What handle_reply flagged before the new reader: the rating only when asked, else mood."""
    rating = parse_rating(text, scale) if asked_rating else None
    return is_unhappy(rating, sentiment(text))
