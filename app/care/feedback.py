"""Feedback from replies: ratings, sentiment, and what the owner is offered for an unhappy one.

No reply is ever "invalid": a number we can read is a rating, anything else is words, and
words are scored for sentiment. The rating parser lives in app/care/reading.py (the reply
reader, which must import light) and is re-exported here: there is one parser.
"""

from __future__ import annotations

import re
from functools import lru_cache

from sqlmodel import col, select
from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

from app.care.reading import Rating, is_low, parse_rating
from app.models import Feedback

__all__ = [
    "Rating", "is_unhappy", "latest_unhappy", "parse_rating", "sentiment", "suggest_reply",
]  # fmt: skip

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
        return is_low(rating)
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
        .where(
            col(Feedback.customer_id) == customer_id,
            col(Feedback.unhappy).is_(True),
            col(Feedback.dismissed_at).is_(None),
        )
        .order_by(col(Feedback.id).desc())
    ).first()
