"""Keywords and opt-outs: which word a whole text is, and plain-language requests to stop.

FACTS.md lists the words. The FCC (order 24-24) lets people revoke consent "in any reasonable
manner", so short sentences that plainly ask us to stop count as opt-outs too.
"""

from __future__ import annotations

import re

OPT_OUT_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
OPT_IN_WORDS = frozenset({"START", "YES", "UNSTOP"})
HELP_WORDS = frozenset({"HELP", "INFO"})

OPT_OUT = "opt_out"  # a bare keyword, which Twilio confirms itself
OPT_OUT_PLAIN = "opt_out_plain"  # a sentence Twilio never recognised
OPT_IN = "opt_in"
HELP = "help"
OPT_OUTS = frozenset({OPT_OUT, OPT_OUT_PLAIN})

# "Any reasonable manner" (FCC 24-24): short messages that plainly ask us to stop.
_PLAIN_OPT_OUT = [
    re.compile(p)
    for p in (
        r"\b(stop|quit|cease)\b(?!\s+by\b)[\w\s']{0,20}"
        r"\b(text\w*|messag\w*|sms|contact\w*|send\w*|spam\w*)",
        r"\bunsubscribe\b",
        r"\bopt\s*(me\s+)?out\b",
        r"\b(remove|take)\s+(me|my\s+(number|phone))\b[\w\s']{0,20}\b(list|off|from)\b",
        r"\b(don'?t|do\s+not|never)\s+(text|message|contact|sms)\s+(me|this\s+number)\b",
        r"\bno\s+more\s+(texts|messages)\b",
        r"\blose\s+my\s+number\b",
    )
]
_NEGATED = re.compile(r"\b(don'?t|do\s+not|never)\s+stop\b")
# Unmistakable at any length: "... Stop texting me or I will report you."
_DIRECT_OPT_OUT = re.compile(
    r"\b(stop|quit|cease)\s+(texting|messaging|contacting)\s+(me|this\s+number)\b"
    r"|\bunsubscribe\s+me\b|\bopt\s+me\s+out\b"
)
# An opt-out word with only politeness or repetition around it: "STOP please", "stop stop".
_FILLER = r"(?:please|pls|plz|now|thanks|thank\s+you|thx|already|just|ok|okay|i\s+said)"
_WORD = r"(?:stop|stopall|unsubscribe|quit|revoke|opt\s*out)"
_BARE_OPT_OUT = re.compile(rf"^(?:{_FILLER}\s+)*{_WORD}(?:\s+(?:{_WORD}|{_FILLER}))*$")
PLAIN_OPT_OUT_MAX_WORDS = 12
_NOT_LETTERS = re.compile(r"[^A-Za-z]")


def bare_word(body: str | None) -> str:
    """The text's letters only, upper-cased: how a one-word keyword is compared."""
    return _NOT_LETTERS.sub("", body or "").upper()


def keyword_of(body: str | None) -> str | None:
    """Which keyword the whole message is (opt_out, opt_in, help), or opt_out_plain for a
    plain-language opt-out; else None."""
    word = bare_word(body)
    if word in OPT_OUT_WORDS:
        return OPT_OUT
    if word in OPT_IN_WORDS:
        return OPT_IN
    if word in HELP_WORDS:
        return HELP
    if is_plain_opt_out(body):
        return OPT_OUT_PLAIN
    return None


def is_plain_opt_out(body: str | None) -> bool:
    """True when a short text plainly asks us to stop ("please stop texting me")."""
    text = " ".join((body or "").lower().replace("’", "'").split())
    if not text or _NEGATED.search(text):
        return False
    words = " ".join(re.sub(r"[^\w\s']", " ", text).split())  # punctuation and emoji dropped
    if _BARE_OPT_OUT.match(words) or _DIRECT_OPT_OUT.search(words):
        return True
    if len(text.split()) > PLAIN_OPT_OUT_MAX_WORDS:
        return False
    return any(pattern.search(text) for pattern in _PLAIN_OPT_OUT)
